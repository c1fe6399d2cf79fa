/*
 * Machine snapshots (see snapshot.h). The MACHINE section, version 1, little-endian:
 *   u32 version, u64 RAM base, u64 RAM size, u32 harts, u8 bare, u64 time (10 MHz ticks
 *   at the snapshot), u64 HTIF tohost, u64 fromhost, u32 device options, and per option:
 *   string option, u8 has arguments, string arguments (a string is u16 length + bytes).
 * Then one HART section per hart (cpu/state.h), one DEVICE section per device in creation
 * order (string name, then the device's own record), and the RAM section.
 */
#include "machine/snapshot.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "core/alloc.h"
#include "core/evloop.h"
#include "core/sbuf.h"
#include "cpu/hart.h"
#include "cpu/state.h"
#include "machine/machine.h"
#include "snapshot/snapshot.h"

#define MACHINE_VERSION 1
#define MAX_STR		4096

struct vm_restore {
	struct snap_reader *rd;
	uint8_t *machine; /* the MACHINE section */
	struct vm_device_arg devs[VM_MAX_DEVICE_ARGS];
	char *strings; /* the options' text */
	uint64_t time, tohost, fromhost;
};

static void errf(char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void errf(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (!err || !errlen)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

static void put_str(struct sbuf *b, const char *s)
{
	size_t n = strlen(s);

	if (n > MAX_STR) {
		b->err = b->err ?: -E2BIG;
		return;
	}
	sbuf_put_u16(b, (uint16_t)n);
	sbuf_put(b, s, n);
}

static void save_machine(struct vm *vm, struct sbuf *b)
{
	sbuf_put_u32(b, MACHINE_VERSION);
	sbuf_put_u64(b, vm->mem.base);
	sbuf_put_u64(b, vm->mem.size);
	sbuf_put_u32(b, vm->nharts);
	sbuf_put_u8(b, vm->bare);
	sbuf_put_u64(b, vm_time(vm));
	sbuf_put_u64(b, vm->tohost_pa);
	sbuf_put_u64(b, vm->fromhost_pa);
	sbuf_put_u32(b, vm->ndev_args);
	for (unsigned i = 0; i < vm->ndev_args; i++) {
		put_str(b, vm->dev_args[i].option);
		sbuf_put_u8(b, vm->dev_args[i].args != NULL);
		put_str(b, vm->dev_args[i].args ? vm->dev_args[i].args : "");
	}
}

struct save_job {
	struct vm *vm;
	struct snap_writer *w;
	const struct vm_snapshot_opts *o;
	char *err;
	size_t errlen;
	int r;
};

static int write_devices(struct vm *vm, struct snap_writer *w, char *err, size_t errlen)
{
	int r = 0;

	for (struct device *d = vm->devices; d && !r; d = d->next) {
		struct sbuf b = {0};
		put_str(&b, d->name);
		r = d->ops->save(d, &b) ?: b.err;
		if (r)
			errf(err, errlen, "%s: cannot save its state: %s", d->name, strerror(-r));
		else
			r = snap_write_section(w, SNAP_SEC_DEVICE, b.data, b.len);
		sbuf_fini(&b);
	}
	return r;
}

/* On the I/O thread, so that no device callback runs while the state is written. */
static void save_on_loop(void *opaque)
{
	struct save_job *j = opaque;
	struct vm *vm = j->vm;
	struct sbuf b = {0};
	int r;

	save_machine(vm, &b);
	r = b.err ?: snap_write_section(j->w, SNAP_SEC_MACHINE, b.data, b.len);
	for (unsigned i = 0; i < vm->nharts && !r; i++) {
		b.len = 0;
		r = hart_save(vm->harts[i], &b)
			    ?: snap_write_section(j->w, SNAP_SEC_HART, b.data, b.len);
	}
	sbuf_fini(&b);
	if (!r)
		r = write_devices(vm, j->w, j->err, j->errlen);
	if (!r)
		r = snap_write_ram(j->w, vm->mem.ram, vm->mem.base, vm->mem.size,
				   j->o->raw_ram ? SNAP_RAM_RAW : SNAP_RAM_ZSTD);
	j->r = r;
}

int vm_snapshot(struct vm *vm, const char *path, const struct vm_snapshot_opts *o, char *err,
		size_t errlen)
{
	struct save_job j = {.vm = vm, .o = o, .err = err, .errlen = errlen};
	int r;

	if (err && errlen)
		err[0] = 0;
	if (!vm_paused(vm))
		return -EBUSY;
	r = snap_writer_open(path, &j.w);
	if (r) {
		errf(err, errlen, "%s: cannot create it: %s", path, strerror(-r));
		return r;
	}
	for (struct device *d = vm->devices; d; d = d->next)
		if (d->ops->quiesce)
			d->ops->quiesce(d);
	evloop_call(vm->loop, save_on_loop, &j);
	for (struct device *d = vm->devices; d; d = d->next)
		if (d->ops->resume)
			d->ops->resume(d);
	r = j.r;
	if (r) {
		snap_writer_abort(j.w);
	} else {
		r = snap_writer_commit(j.w);
	}
	if (r && err && errlen && !err[0])
		errf(err, errlen, "%s: cannot write it: %s", path, strerror(-r));
	return r;
}

/* ---- restore ---- */

/* A string from the MACHINE section, copied to *strp (NUL-terminated). */
static const char *get_str(struct sreader *in, char **strp, const char *end)
{
	uint16_t n = sread_u16(in);
	char *s = *strp;

	if (n > MAX_STR || (size_t)(end - s) < (size_t)n + 1) {
		sreader_fail(in);
		return NULL;
	}
	sread(in, s, n);
	s[n] = 0;
	*strp += n + 1;
	return memchr(s, 0, n) ? NULL : s; /* an embedded NUL is malformed */
}

static int parse_machine(struct vm_restore *rs, const uint8_t *p, size_t len, struct vm_config *cfg)
{
	struct sreader in;
	char *s = rs->strings, *end = rs->strings + len;
	uint32_t ndev;

	sreader_init(&in, p, len);
	if (sread_u32(&in) != MACHINE_VERSION || sread_u64(&in) != VM_RAM_BASE)
		return -EINVAL;
	cfg->ram_size = sread_u64(&in);
	cfg->nharts = sread_u32(&in);
	cfg->bare = sread_u8(&in) != 0;
	rs->time = sread_u64(&in);
	rs->tohost = sread_u64(&in);
	rs->fromhost = sread_u64(&in);
	ndev = sread_u32(&in);
	if (in.err || ndev > VM_MAX_DEVICE_ARGS || cfg->nharts < 1 || cfg->nharts > VM_MAX_HARTS)
		return -EINVAL;
	for (uint32_t i = 0; i < ndev; i++) {
		bool has;
		rs->devs[i].option = get_str(&in, &s, end);
		has = sread_u8(&in) != 0;
		rs->devs[i].args = get_str(&in, &s, end);
		if (!rs->devs[i].option || !rs->devs[i].args)
			return -EINVAL;
		if (!has)
			rs->devs[i].args = NULL;
	}
	if (in.err || in.off != len)
		return -EINVAL;
	cfg->devices = rs->devs;
	cfg->ndevices = ndev;
	return 0;
}

int vm_restore_open(const char *path, struct vm_config *cfg, struct vm_restore **out, char *err,
		    size_t errlen)
{
	struct vm_restore *rs = core_calloc(1, sizeof(*rs));
	const struct snap_section *sec;
	unsigned n;
	int r;

	if (!rs)
		return -ENOMEM;
	r = snap_reader_open(path, &rs->rd, err, errlen);
	if (r)
		goto fail;
	sec = snap_sections(rs->rd, &n);
	if (!n || sec[0].type != SNAP_SEC_MACHINE) {
		errf(err, errlen, "corrupt: the first section is not the machine's");
		r = -EINVAL;
		goto fail;
	}
	r = snap_read_section(rs->rd, &sec[0], &rs->machine, err, errlen);
	if (r)
		goto fail;
	rs->strings = core_alloc((size_t)sec[0].len + 1);
	if (!rs->strings) {
		r = -ENOMEM;
		goto fail;
	}
	r = parse_machine(rs, rs->machine, (size_t)sec[0].len, cfg);
	if (r) {
		errf(err, errlen, "corrupt: the machine section is malformed");
		goto fail;
	}
	*out = rs;
	return 0;
fail:
	vm_restore_close(rs);
	return r;
}

void vm_restore_close(struct vm_restore *rs)
{
	if (!rs)
		return;
	snap_reader_close(rs->rd);
	core_free(rs->machine);
	core_free(rs->strings);
	core_free(rs);
}

static int load_hart(struct vm *vm, struct vm_restore *rs, const struct snap_section *s, unsigned i,
		     char *err, size_t errlen)
{
	uint8_t *p;
	struct sreader in;
	int r = snap_read_section(rs->rd, s, &p, err, errlen);

	if (r)
		return r;
	sreader_init(&in, p, (size_t)s->len);
	r = hart_load(vm->harts[i], &in);
	if (!r && in.off != s->len)
		r = -EINVAL;
	if (r)
		errf(err, errlen, "corrupt: the state of hart %u does not load", i);
	core_free(p);
	return r;
}

static int load_device(struct device *d, struct vm_restore *rs, const struct snap_section *s,
		       char *err, size_t errlen)
{
	uint8_t *p;
	char name[MAX_STR + 1], *np = name;
	const char *got;
	struct sreader in;
	int r = snap_read_section(rs->rd, s, &p, err, errlen);

	if (r)
		return r;
	sreader_init(&in, p, (size_t)s->len);
	got = get_str(&in, &np, name + sizeof(name));
	if (!got || strcmp(got, d->name)) {
		errf(err, errlen, "the snapshot's device '%.64s' is not this machine's '%s'",
		     got ? got : "?", d->name);
		r = -EINVAL;
	} else {
		r = d->ops->load(d, &in);
		if (!r && in.off != s->len)
			r = -EINVAL;
		if (r)
			errf(err, errlen, "%s: its saved state does not load (%s)", d->name,
			     strerror(-r));
	}
	core_free(p);
	return r;
}

/* The sections after MACHINE: harts, devices, RAM, in that order and number. RAM is
 * loaded first: a device's load may write to guest memory (vsock tells the guest its
 * connections were reset). */
static int load_sections(struct vm *vm, struct vm_restore *rs, bool lazy, char *err, size_t errlen)
{
	unsigned n, ndev = 0, k = 1;
	const struct snap_section *sec = snap_sections(rs->rd, &n);
	int r;

	for (struct device *d = vm->devices; d; d = d->next)
		ndev++;
	for (unsigned i = 1; i < n; i++) {
		uint32_t want = i <= vm->nharts		 ? SNAP_SEC_HART
				: i <= vm->nharts + ndev ? SNAP_SEC_DEVICE
							 : SNAP_SEC_RAM;
		if (sec[i].type != want || n != vm->nharts + ndev + 2) {
			errf(err, errlen,
			     "corrupt: sections missing or out of order (section %u of %u; this "
			     "machine has %u harts and %u devices)",
			     i, n, vm->nharts, ndev);
			return -EINVAL;
		}
	}
	if (n != vm->nharts + ndev + 2) {
		errf(err, errlen, "corrupt: %u sections where %u were expected", n,
		     vm->nharts + ndev + 2);
		return -EINVAL;
	}
	r = snap_read_ram(rs->rd, &sec[n - 1], vm->mem.ram, vm->mem.base, vm->mem.size, lazy, err,
			  errlen);
	for (unsigned i = 0; i < vm->nharts && !r; i++)
		r = load_hart(vm, rs, &sec[k++], i, err, errlen);
	for (struct device *d = vm->devices; d && !r; d = d->next)
		r = load_device(d, rs, &sec[k++], err, errlen);
	return r;
}

int vm_restore(struct vm *vm, struct vm_restore *rs, bool lazy, char *err, size_t errlen)
{
	int r;

	if (err && errlen)
		err[0] = 0;
	r = load_sections(vm, rs, lazy, err, errlen);
	if (r)
		return r;
	vm->tohost_pa = rs->tohost;
	vm->fromhost_pa = rs->fromhost;
	if (vm->tohost_pa && vm_ram_ptr(vm, vm->tohost_pa, 8) && !(vm->tohost_pa & 7))
		vm->mem.page_flags[(vm->tohost_pa - vm->mem.base) >> 12] |= PAGE_WATCH;
	else
		vm->tohost_pa = 0;
	/* The clock goes on from the saved time: `time` = (now - start) / 100. Unsigned
	 * arithmetic keeps that right even when the host has been up for less time. */
	hart_env_clock_set(&vm->env, vm_now_ns() - rs->time * 100, 0);
	return 0;
}
