/* Unit tests for live migration (machine/migrate.h): a small bare machine migrated over
 * 127.0.0.1 arrives with the same RAM, harts and clock; the recorded stream, truncated
 * anywhere or with any byte changed, is refused by the receiving side without harm. */
#include "machine/migrate.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "cpu/hart.h"
#include "harness.h"
#include "machine/machine.h"

static struct vm *new_vm(void)
{
	struct vm_config cfg = {.ram_size = 4u << 20, .nharts = 1, .bare = true};
	struct vm *vm = NULL;

	if (vm_create(&cfg, &vm) < 0)
		return NULL;
	return vm;
}

/* A destination that records the stream and answers "OK" after DONE; post-copy: "PC"
 * yes to POSTCOPY, "OK" after the first DONE (switch at `switched`), "PE" after the
 * second. */
struct recorder {
	int lfd;
	uint8_t *data;
	size_t len, cap, switched;
	bool post_copy;
	uint8_t ok[10]; /* "OK" and the stream's nonce (bytes 12..19 of its header) */
};

static int get_all(int fd, uint8_t *p, size_t n)
{
	while (n) {
		ssize_t k = read(fd, p, n);
		if (k <= 0)
			return -1;
		p += k;
		n -= (size_t)k;
	}
	return 0;
}

static int keep(struct recorder *r, int fd, size_t n)
{
	if (r->len + n > r->cap) {
		r->cap = (r->len + n) * 2;
		r->data = realloc(r->data, r->cap);
	}
	if (!r->data || get_all(fd, r->data + r->len, n))
		return -1;
	r->len += n;
	return 0;
}

static void *record(void *opaque)
{
	struct recorder *r = opaque;
	int fd = accept(r->lfd, NULL, NULL);

	if (fd < 0 || keep(r, fd, 24)) /* the header: magic, version, nonce, CRC */
		goto out;
	memcpy(r->ok, "OK", 2);
	memcpy(r->ok + 2, r->data + 12, 8);
	for (;;) {
		uint32_t type;
		uint64_t len;
		if (keep(r, fd, 24))
			break;
		memcpy(&type, r->data + r->len - 24, 4);
		memcpy(&len, r->data + r->len - 16, 8);
		if (len > (64u << 20) || keep(r, fd, (size_t)len))
			break;
		if (type == 0x103 && write(fd, "SY", 2) != 2) /* SYNC */
			break;
		if (type == 0x10b) { /* POSTCOPY */
			r->post_copy = true;
			if (write(fd, "PC\1", 3) != 3)
				break;
			continue;
		}
		if (type == 0x102 && r->post_copy && !r->switched) {
			r->switched = r->len;
			if (write(fd, r->ok, sizeof(r->ok)) != (ssize_t)sizeof(r->ok))
				break;
			continue;
		}
		if (type == 0x102 && r->post_copy) {
			if (write(fd, "PE", 2) != 2)
				break;
			break;
		}
		if (type == 0x102) { /* DONE */
			if (write(fd, r->ok, sizeof(r->ok)) != (ssize_t)sizeof(r->ok))
				break;
			break;
		}
	}
out:
	if (fd >= 0)
		close(fd);
	return NULL;
}

static int listen_any(int *port)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t al = sizeof(a);
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof(a)) || listen(fd, 1) ||
	    getsockname(fd, (struct sockaddr *)&a, &al))
		return -1;
	*port = ntohs(a.sin_port);
	return fd;
}

struct feeder {
	int fd;
	const uint8_t *data;
	size_t len;
};

static void *feed(void *opaque)
{
	struct feeder *f = opaque;
	size_t off = 0;

	while (off < f->len) {
		ssize_t k = send(f->fd, f->data + off, f->len - off, MSG_NOSIGNAL);
		if (k <= 0)
			break;
		off += (size_t)k;
	}
	shutdown(f->fd, SHUT_WR);
	return NULL;
}

/* Runs the receiving side on `len` bytes of `data`; returns its result and machine. */
static int incoming(const uint8_t *data, size_t len, struct vm **out, char *err, size_t errlen)
{
	struct vm_config tmpl = {0};
	struct feeder f = {.data = data, .len = len};
	pthread_t t;
	int sv[2], r;

	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv))
		return -errno;
	f.fd = sv[1];
	pthread_create(&t, NULL, feed, &f);
	r = vm_incoming_fd(sv[0], &tmpl, out, err, errlen);
	close(sv[0]); /* a feeder still writing gets EPIPE */
	pthread_join(t, NULL);
	close(sv[1]);
	return r;
}

static int t_migrate_and_damage(void)
{
	struct vm *a = new_vm(), *b = NULL;
	struct recorder rec = {0};
	struct vm_migrate_stats st;
	char dest[64], err[256];
	pthread_t t;
	int port;

	CHECK(a);
	for (uint64_t i = 0; i < a->mem.size; i += 4096)
		if ((i / 4096) % 3 == 1)
			memset(a->mem.ram + i, (int)(i / 4096), 4096);
	a->harts[0]->x[7] = 0x123456789ull;
	a->harts[0]->pc = 0x80001234;
	rec.lfd = listen_any(&port);
	CHECK(rec.lfd >= 0);
	snprintf(dest, sizeof(dest), "127.0.0.1:%d", port);
	pthread_create(&t, NULL, record, &rec);
	CHECK_EQ(vm_migrate(a, dest, NULL, &st, err, sizeof(err)), 0);
	pthread_join(t, NULL);
	close(rec.lfd);
	CHECK(st.rounds >= 1 && st.pages >= a->mem.size / 4096);
	CHECK(vm_paused(a)); /* the source stays paused: its caller ends it */

	/* The recorded stream brings the machine. */
	CHECK_EQ(incoming(rec.data, rec.len, &b, err, sizeof(err)), 0);
	CHECK(b);
	CHECK_EQ(b->mem.size, a->mem.size);
	CHECK(!memcmp(a->mem.ram, b->mem.ram, a->mem.size));
	CHECK_EQ(b->harts[0]->x[7], 0x123456789ull);
	CHECK_EQ(b->harts[0]->pc, 0x80001234);
	CHECK(vm_time(b) >= vm_time(a) && vm_time(b) < vm_time(a) + 100000000);
	vm_destroy(b);

	/* Every truncation and changed byte is refused. */
	for (size_t cut = 0; cut < rec.len; cut += cut < 300 ? 7 : rec.len / 30 + 1) {
		b = NULL;
		CHECK(incoming(rec.data, cut, &b, err, sizeof(err)) < 0);
		CHECK(!b && err[0]);
	}
	for (size_t i = 0; i < rec.len; i += i < 300 ? 5 : rec.len / 30 + 1) {
		rec.data[i] ^= 0x20;
		b = NULL;
		if (incoming(rec.data, rec.len, &b, err, sizeof(err)) >= 0)
			fprintf(stderr, "byte %zu changed, the stream was taken\n", i);
		rec.data[i] ^= 0x20;
		CHECK(!b && err[0]);
	}

	/* Nobody listening: refused, the source runs on (here: as it was). */
	snprintf(dest, sizeof(dest), "127.0.0.1:%d", port);
	CHECK(vm_migrate(a, dest, NULL, &st, err, sizeof(err)) < 0);
	CHECK(strstr(err, "connect"));
	CHECK(vm_migrate(a, "no-port", NULL, &st, err, sizeof(err)) < 0);
	free(rec.data);
	vm_destroy(a);
	return 0;
}

/* Post-copy with no pre-copy round: the recorded stream brings a machine that runs at
 * once, its pages arriving behind; damage before the switch is refused. */
static int t_postcopy(void)
{
	struct vm *a = new_vm(), *b = NULL;
	struct vm_migrate_opts o = {.post_copy = true, .precopy_rounds = 0};
	struct recorder rec = {0};
	struct vm_migrate_stats st;
	char dest[64], err[256];
	pthread_t t;
	int port;

	CHECK(a);
	for (uint64_t i = 0; i < a->mem.size; i += 4096)
		if ((i / 4096) % 3 != 2)
			memset(a->mem.ram + i, (int)(i / 4096) | 1, 4096);
	a->harts[0]->x[5] = 0xfeedull;
	rec.lfd = listen_any(&port);
	CHECK(rec.lfd >= 0);
	snprintf(dest, sizeof(dest), "127.0.0.1:%d", port);
	pthread_create(&t, NULL, record, &rec);
	CHECK_EQ(vm_migrate(a, dest, &o, &st, err, sizeof(err)), 0);
	pthread_join(t, NULL);
	close(rec.lfd);
	CHECK_EQ(st.rounds, 0);
	CHECK_EQ(st.post_pages, a->mem.size / 4096); /* every page went after the switch */
	CHECK(rec.switched > 0 && rec.switched < rec.len);

	CHECK_EQ(incoming(rec.data, rec.len, &b, err, sizeof(err)), 0);
	CHECK(b);
	CHECK_EQ(b->harts[0]->x[5], 0xfeedull);
	/* Reading the pages waits for each (nobody asks: they stream in order). */
	CHECK(!memcmp(a->mem.ram, b->mem.ram, a->mem.size));
	for (int i = 0; i < 500 && vm_postcopy_active(b); i++)
		usleep(10000);
	CHECK(!vm_postcopy_active(b));
	vm_destroy(b);

	/* Before the switch, every truncation and changed byte is refused. */
	for (size_t cut = 0; cut < rec.switched; cut += rec.switched / 40 + 1) {
		b = NULL;
		CHECK(incoming(rec.data, cut, &b, err, sizeof(err)) < 0);
		CHECK(!b && err[0]);
	}
	for (size_t i = 0; i < rec.switched; i += rec.switched / 40 + 1) {
		rec.data[i] ^= 0x20;
		b = NULL;
		if (incoming(rec.data, rec.len, &b, err, sizeof(err)) >= 0)
			fprintf(stderr, "byte %zu changed, the stream was taken\n", i);
		rec.data[i] ^= 0x20;
		CHECK(!b && err[0]);
	}
	free(rec.data);
	vm_destroy(a);
	return 0;
}

/* vm_pause_hold (RAM moved off a lazily restored snapshot file): a vm_resume from another
 * user of pause meanwhile (replication's checkpoint, a snapshot's background copy) waits
 * for the release; the release resumes the machine only if it ran at the hold or such a
 * resume came, and leaves a pause of the user's alone. */
static int t_pause_hold(void)
{
	struct vm *vm = new_vm();
	bool was;

	CHECK(vm);
	/* running at the hold; a checkpoint pauses and resumes meanwhile */
	CHECK_EQ(vm_pause_hold(vm, &was), 0);
	CHECK(!was && vm_paused(vm));
	CHECK_EQ(vm_pause(vm), 0);
	CHECK_EQ(vm_resume(vm), 0);
	CHECK(vm_paused(vm));
	vm_pause_release(vm, was);
	CHECK(!vm_paused(vm));
	/* a checkpoint paused first and resumes during the hold: it runs at the release */
	CHECK_EQ(vm_pause(vm), 0);
	CHECK_EQ(vm_pause_hold(vm, &was), 0);
	CHECK(was);
	CHECK_EQ(vm_resume(vm), 0);
	CHECK(vm_paused(vm));
	vm_pause_release(vm, was);
	CHECK(!vm_paused(vm));
	/* paused by the user: it stays so */
	CHECK_EQ(vm_pause(vm), 0);
	CHECK_EQ(vm_pause_hold(vm, &was), 0);
	vm_pause_release(vm, was);
	CHECK(vm_paused(vm));
	CHECK_EQ(vm_resume(vm), 0);
	CHECK(!vm_paused(vm));
	CHECK_EQ(vm_resume(vm), -EALREADY);
	vm_destroy(vm);
	return 0;
}

static const struct unit_test tests[] = {
	{"pause_hold", t_pause_hold},
	{"migrate_and_damage", t_migrate_and_damage},
	{"postcopy", t_postcopy},
};

UNIT_MAIN("migrate", tests)
