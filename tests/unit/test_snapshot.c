/* Unit tests for snapshots: hart state records (cpu/state.h), and whole machines
 * written to a file and read back (machine/snapshot.h, snapshot/snapshot.h), including
 * every truncation and byte flip of a small snapshot file being refused. */
#include "cpu/state.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "machine/snapshot.h"

#include "core/gmem.h"
#include "core/sbuf.h"
#include "cpu/hart.h"
#include "cpu/mmu.h"
#include "harness.h"
#include "machine/machine.h"

static struct vm *new_vm(unsigned nharts)
{
	struct vm_config cfg = {.ram_size = 4u << 20, .nharts = nharts, .bare = true};
	struct vm *vm = NULL;

	if (vm_create(&cfg, &vm) < 0)
		return NULL;
	return vm;
}

/* Fills every saved field with a distinct legal value. */
static void scribble(struct hart *h)
{
	for (unsigned i = 1; i < 32; i++)
		h->x[i] = 0x1111111111111111ull * i + h->mhartid;
	for (unsigned i = 0; i < 32; i++)
		h->f[i] = 0xffffffff00000000ull | (i * 77u);
	h->pc = 0x80201234;
	h->priv = PRV_S;
	h->wfi = true;
	h->fflags = 0x15;
	h->frm = 3;
	h->mstatus |= MSTATUS_SUM | MSTATUS_FS | (1ull << 11) | MSTATUS_SIE;
	h->medeleg = 0xb1ff;
	h->mideleg = MIP_SSIP | MIP_STIP | MIP_SEIP;
	h->mie = MIP_SEIP | MIP_STIP;
	h->mtvec = 0x80000101;
	h->mscratch = 0x8002a000;
	h->mepc = 0xffffffff80001000ull;
	h->mcause = 9;
	h->mtval = 0x1234;
	h->mcounteren = 7;
	h->menvcfg = 1ull << 63;
	h->stvec = 0xffffffff80002000ull;
	h->sscratch = 42;
	h->sepc = 0x10074;
	h->scause = 8;
	h->stval = 0xdead;
	h->satp = (8ull << 60) | 0x80123;
	h->scounteren = 2;
	h->stimecmp = 123456789;
	h->mip_sw = MIP_SSIP;
	h->instret = 987654321;
	for (unsigned i = 0; i < 8; i++)
		h->pmpcfg[i] = 0x1f << i;
	for (unsigned i = 0; i < 64; i++)
		h->pmpaddr[i] = 0x20000000ull + i;
	h->tcontrol = 8;
	/* an armed execute trigger: mcontrol, S and U, execute, at 0x10080 */
	h->trig[1].tdata1 = (2ull << 60) | (1u << 4) | (1u << 3) | (1u << 2);
	h->trig[1].tdata2 = 0x10080;
	h->tselect = 1;
}

static int t_roundtrip(void)
{
	struct vm *a = new_vm(2), *b = new_vm(2);
	struct sbuf s1 = {0}, s2 = {0};
	struct sreader r;

	CHECK(a && b);
	scribble(a->harts[1]);
	CHECK_EQ(hart_save(a->harts[1], &s1), 0);
	sreader_init(&r, s1.data, s1.len);
	CHECK_EQ(hart_load(b->harts[1], &r), 0);
	CHECK_EQ(r.off, s1.len);
	CHECK_EQ(hart_save(b->harts[1], &s2), 0);
	CHECK_EQ(s1.len, s2.len);
	CHECK(!memcmp(s1.data, s2.data, s1.len));
	CHECK_EQ(b->harts[1]->x[31], a->harts[1]->x[31]);
	CHECK_EQ(b->harts[1]->satp, a->harts[1]->satp);
	CHECK_EQ(b->harts[1]->priv, PRV_S);
	CHECK(b->harts[1]->trig_exec); /* the trigger is armed again, not just stored */
	CHECK(b->harts[1]->resv_ptr == NULL);
	/* a record goes only to the hart it came from */
	sreader_init(&r, s1.data, s1.len);
	CHECK_EQ(hart_load(b->harts[0], &r), -EINVAL);
	sbuf_fini(&s1);
	sbuf_fini(&s2);
	vm_destroy(a);
	vm_destroy(b);
	return 0;
}

/* Offsets in the record (state.c's layout). */
#define OFF_PRIV    (8 + 31 * 8 + 32 * 8)
#define OFF_CSRS    (OFF_PRIV + 4)
#define OFF_MSTATUS (OFF_CSRS + 8)
#define OFF_SATP    (OFF_CSRS + 18 * 8)

static int load_patched(struct vm *b, const struct sbuf *s, size_t off, uint8_t v, size_t len)
{
	uint8_t *copy = malloc(s->len);
	struct sreader r;
	int ret;

	memcpy(copy, s->data, s->len);
	copy[off] = v;
	sreader_init(&r, copy, len);
	ret = hart_load(b->harts[0], &r);
	free(copy);
	return ret;
}

static int t_refuses_bad_records(void)
{
	struct vm *a = new_vm(1), *b = new_vm(1);
	struct sbuf s = {0};

	CHECK(a && b);
	scribble(a->harts[0]);
	CHECK_EQ(hart_save(a->harts[0], &s), 0);
	CHECK_EQ(load_patched(b, &s, OFF_PRIV, PRV_S, s.len), 0);	   /* the unpatched value */
	CHECK_EQ(load_patched(b, &s, 0, 2, s.len), -EINVAL);		   /* version */
	CHECK_EQ(load_patched(b, &s, OFF_PRIV, 2, s.len), -EINVAL);	   /* reserved privilege */
	CHECK_EQ(b->harts[0]->priv, PRV_M);				   /* left safe */
	CHECK_EQ(load_patched(b, &s, OFF_SATP + 7, 0x50, s.len), -EINVAL); /* satp mode 5 */
	CHECK_EQ(load_patched(b, &s, OFF_MSTATUS + 1, 0x10, s.len), -EINVAL); /* MPP = 2 */
	for (size_t cut = 0; cut < s.len; cut += 37)
		CHECK_EQ(load_patched(b, &s, 0, 1, cut), -EINVAL); /* truncated */
	sbuf_fini(&s);
	vm_destroy(a);
	vm_destroy(b);
	return 0;
}

/* RAM with zero pages, a pattern, and a page at the very end. */
static void fill_ram(struct vm *vm)
{
	uint8_t *ram = vm->mem.ram;

	for (uint64_t i = 0; i < vm->mem.size; i += 4096)
		if ((i / 4096) % 3 == 1)
			for (unsigned k = 0; k < 4096; k += 8)
				ram[i + k] = (uint8_t)(i / 4096 + k);
	memset(ram + vm->mem.size - 4096, 0xa5, 4096);
}

static char path[64];

static int snapshot_to_file(struct vm *vm, bool raw)
{
	struct vm_snapshot_opts o = {.raw_ram = raw};
	char err[256];
	int fd;

	strcpy(path, "/tmp/lodge-test-snap.XXXXXX");
	fd = mkstemp(path);
	if (fd < 0)
		return -1;
	close(fd);
	if (vm_snapshot(vm, path, &o, err, sizeof(err)) != -EBUSY) /* running: refused */
		return -1;
	if (vm_pause(vm) < 0 || vm_snapshot(vm, path, &o, err, sizeof(err)) < 0)
		return -1;
	return 0; /* left paused: its clock stands at the saved time */
}

/* Restores `file` into a new machine; returns it, or NULL with the error in err. */
static struct vm *restore_file(const char *file, bool lazy, char *err, size_t errlen)
{
	struct vm_config cfg = {0};
	struct vm_restore *rs = NULL;
	struct vm *vm = NULL;

	err[0] = 0;
	if (vm_restore_open(file, NULL, &cfg, &rs, err, errlen) < 0)
		return NULL;
	if (vm_create(&cfg, &vm) < 0 || vm_restore(vm, rs, lazy, err, errlen) < 0) {
		vm_destroy(vm);
		vm = NULL;
	}
	vm_restore_close(rs);
	return vm;
}

static int roundtrip(bool raw)
{
	struct vm *a = new_vm(2), *b;
	char err[256];

	CHECK(a);
	fill_ram(a);
	scribble(a->harts[1]);
	CHECK_EQ(snapshot_to_file(a, raw), 0);
	b = restore_file(path, raw, err, sizeof(err));
	unlink(path);
	CHECK(b);
	CHECK_EQ(b->nharts, 2);
	CHECK_EQ(b->mem.size, a->mem.size);
	CHECK(!memcmp(a->mem.ram, b->mem.ram, a->mem.size));
	CHECK_EQ(b->harts[1]->pc, a->harts[1]->pc);
	CHECK_EQ(b->harts[1]->x[7], a->harts[1]->x[7]);
	/* the clock goes on from where it stood (10 MHz ticks), not from zero */
	CHECK(vm_time(a) > 0);
	CHECK(vm_time(b) >= vm_time(a));
	CHECK(vm_time(b) < vm_time(a) + 100000000);
	vm_destroy(a);
	vm_destroy(b);
	return 0;
}

static int t_file_roundtrip(void)
{
	return roundtrip(false);
}

static int t_file_roundtrip_raw(void)
{
	return roundtrip(true);
}

static int write_file(const char *file, const uint8_t *data, size_t len)
{
	FILE *f = fopen(file, "wb");

	if (!f)
		return -1;
	if (len && fwrite(data, 1, len, f) != len) {
		fclose(f);
		return -1;
	}
	return fclose(f);
}

/* Every truncation and every single-byte change of a compressed snapshot is refused. */
static int t_file_damage(void)
{
	struct vm *a = new_vm(1), *b;
	char err[256], bad[] = "/tmp/lodge-test-snap-bad.XXXXXX";
	uint8_t *data;
	long len;
	FILE *f;
	int fd = mkstemp(bad); /* its own name: unit runs of other trees share /tmp */

	CHECK(fd >= 0);
	close(fd);
	CHECK(a);
	fill_ram(a);
	CHECK_EQ(snapshot_to_file(a, false), 0);
	vm_destroy(a);
	f = fopen(path, "rb");
	CHECK(f);
	fseek(f, 0, SEEK_END);
	len = ftell(f);
	rewind(f);
	data = malloc((size_t)len);
	CHECK(data && fread(data, 1, (size_t)len, f) == (size_t)len);
	fclose(f);
	unlink(path);
	for (long cut = 0; cut < len; cut += cut < 200 ? 1 : len / 40 + 1) {
		CHECK_EQ(write_file(bad, data, (size_t)cut), 0);
		b = restore_file(bad, false, err, sizeof(err));
		CHECK(!b);
		CHECK(err[0]);
	}
	for (long i = 0; i < len; i += i < 200 ? 1 : len / 40 + 1) {
		data[i] ^= 0x10;
		CHECK_EQ(write_file(bad, data, (size_t)len), 0);
		data[i] ^= 0x10;
		b = restore_file(bad, false, err, sizeof(err));
		if (b)
			fprintf(stderr, "byte %ld changed, restore succeeded\n", i);
		CHECK(!b);
		CHECK(err[0]);
	}
	CHECK_EQ(write_file(bad, data, (size_t)len), 0);
	b = restore_file(bad, false, err, sizeof(err)); /* undamaged: loads */
	CHECK(b);
	vm_destroy(b);
	unlink(bad);
	free(data);
	return 0;
}

static int snap_to(struct vm *vm, const char *file, bool diff, char *err, size_t errlen)
{
	struct vm_snapshot_opts o = {.diff = diff};

	return vm_snapshot(vm, file, &o, err, errlen);
}

static long file_size(const char *file)
{
	FILE *f = fopen(file, "rb");
	long n;

	if (!f)
		return -1;
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	fclose(f);
	return n;
}

/* Restores `file` and compares its RAM and hart 0's x5 with what they were. */
static int restored_equals(const char *file, const uint8_t *ram, uint64_t x5)
{
	char err[256];
	struct vm *b = restore_file(file, false, err, sizeof(err));
	int same;

	if (!b) {
		fprintf(stderr, "restore %s: %s\n", file, err);
		return 0;
	}
	same = !memcmp(b->mem.ram, ram, b->mem.size) && b->harts[0]->x[5] == x5;
	vm_destroy(b);
	return same;
}

/* Full, then two Diffs: each holds only the pages written since the one before (by hart
 * stores through the store hook and by device writes, a page zeroed included), and each
 * file of the chain restores exactly the RAM of its moment. A chain whose parent is
 * missing or was replaced is refused; a Diff with no earlier snapshot too. */
static int t_diff_chain(void)
{
	char p0[] = "/tmp/lodge-test-diff0.XXXXXX", p1[64], p2[64], err[256];
	struct vm *a = new_vm(1), *c = new_vm(1), *b;
	struct hart *h;
	uint64_t base;
	uint8_t *at0, *at1, *at2, zero[4096] = {0};
	int fd;

	CHECK(a && c);
	h = a->harts[0];
	base = a->mem.base;
	fd = mkstemp(p0);
	CHECK(fd >= 0);
	close(fd);
	snprintf(p1, sizeof(p1), "%s.d1", p0);
	snprintf(p2, sizeof(p2), "%s.d2", p0);
	at0 = malloc(a->mem.size);
	at1 = malloc(a->mem.size);
	at2 = malloc(a->mem.size);
	CHECK(at0 && at1 && at2);

	fill_ram(a);
	CHECK_EQ(vm_pause(a), 0);
	CHECK_EQ(snap_to(a, p1, true, err, sizeof(err)), -ECHILD); /* no parent yet */
	CHECK(err[0]);
	h->x[5] = 1;
	CHECK_EQ(snap_to(a, p0, false, err, sizeof(err)), 0);
	memcpy(at0, a->mem.ram, a->mem.size);

	CHECK_EQ(mmu_store(h, base + 0x3008, 8, 0x1122334455667788ull), 0);  /* a hart store */
	CHECK_EQ(mmu_store(h, base + 0x5ffe, 4, 0xabcdef01), 0);	     /* across two pages */
	CHECK_EQ(gmem_write(&a->mem, base + 0x10000, "dma", 3), 0);	     /* a device */
	CHECK_EQ(gmem_write(&a->mem, base + 0x4000, zero, sizeof(zero)), 0); /* zeroed */
	h->x[5] = 2;
	CHECK_EQ(snap_to(a, p1, true, err, sizeof(err)), 0);
	memcpy(at1, a->mem.ram, a->mem.size);

	CHECK_EQ(mmu_store(h, base + 0x3010, 1, 0x5a), 0); /* the same page again */
	CHECK_EQ(mmu_store(h, base + 0x20000, 2, 0x7777), 0);
	h->x[5] = 3;
	CHECK_EQ(snap_to(a, p2, true, err, sizeof(err)), 0);
	memcpy(at2, a->mem.ram, a->mem.size);

	CHECK(memcmp(at0, at1, a->mem.size) && memcmp(at1, at2, a->mem.size));
	CHECK(file_size(p1) > 0 && file_size(p1) < file_size(p0) / 4);
	CHECK(file_size(p2) > 0 && file_size(p2) < file_size(p0) / 4);
	CHECK(restored_equals(p0, at0, 1));
	CHECK(restored_equals(p1, at1, 2));
	CHECK(restored_equals(p2, at2, 3));

	/* A Diff of a restored machine: what changed since the restore, over that file. */
	b = restore_file(p1, false, err, sizeof(err));
	CHECK(b);
	CHECK_EQ(vm_pause(b), 0);
	CHECK_EQ(mmu_store(b->harts[0], base + 0x30000, 8, 42), 0);
	b->harts[0]->x[5] = 4;
	CHECK_EQ(snap_to(b, p2, true, err, sizeof(err)), 0);
	memcpy(at2, b->mem.ram, b->mem.size);
	vm_destroy(b);
	CHECK(restored_equals(p2, at2, 4));

	/* The parent replaced by another snapshot: refused, naming it. */
	CHECK_EQ(vm_pause(c), 0);
	CHECK_EQ(snap_to(c, p0, false, err, sizeof(err)), 0);
	CHECK(!restore_file(p2, false, err, sizeof(err)));
	CHECK(strstr(err, "not the one"));
	/* ...and missing. */
	unlink(p0);
	CHECK(!restore_file(p2, false, err, sizeof(err)));
	CHECK(strstr(err, p0) && strstr(err, "No such file"));

	unlink(p1);
	unlink(p2);
	free(at0);
	free(at1);
	free(at2);
	vm_destroy(a);
	vm_destroy(c);
	return 0;
}

static const struct unit_test tests[] = {
	{"diff_chain", t_diff_chain},
	{"file_roundtrip", t_file_roundtrip},
	{"file_roundtrip_raw_lazy", t_file_roundtrip_raw},
	{"file_damage", t_file_damage},
	{"hart_roundtrip", t_roundtrip},
	{"hart_refuses_bad_records", t_refuses_bad_records},
};

UNIT_MAIN("snapshot", tests)
