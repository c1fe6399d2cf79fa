/*
 * Test driver for tests/disk/suite.sh: drives images through the disk API (src/disk) the
 * way a virtio-blk device would, next to a raw reference file kept with plain pwrite, so
 * the suite can hold the result against qemu-img check and qemu-img compare. Not a user
 * tool: it is built into build/<mode>/disk/ and used only by the suite.
 *
 *   disktool workload IMG REF SEED OPS [MAXLEN]
 *       OPS random requests (writes with several iovecs at byte, sector and cluster
 *       granularity, reads checked against REF, discards, write-zeroes, flushes),
 *       submitted in batches of up to 16 non-overlapping requests in flight at once;
 *       each is applied to REF too. Ends by reading all of IMG and comparing with REF.
 *   disktool seqwrite IMG REF MIB    sequential 1 MiB writes of 256 scattered 4 KiB pieces
 *                                    over the first MIB MiB, 8 in flight, submitted
 *                                    plugged (as virtio-blk passes a guest's fio or dd):
 *                                    fresh clusters, a flush, then the first half again
 *                                    in place; one host write per request (counters);
 *                                    ends comparing all of IMG with REF
 *   disktool compare IMG REF         read all of IMG through Lodge, compare with REF
 *   disktool crashloop IMG           forever: write block i, flush, print "flushed i",
 *                                    then start unflushed writes elsewhere
 *   disktool crashcheck IMG N        blocks 0..N hold what crashloop wrote
 *   disktool hold IMG SECONDS        open IMG for writing, print "locked", sleep
 *   disktool open-rw IMG             open IMG for writing (prints the error line)
 *   disktool ops IMG OP OFF LEN ...  single requests: write:BYTE, discard, zeroes, flush
 * Exit status 0 when everything matched, 1 on a mismatch or failed request, 125 when
 * the image cannot be opened, 2 on bad arguments.
 */
#include "disk/disk.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define BATCH	  16
#define CHUNK	  (1u << 20)
#define CRASH_BLK 65536u

static uint64_t rng_state;

static uint64_t rnd(void)
{
	/* xorshift64*: deterministic per seed, so a failing seed can be replayed */
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * 0x2545f4914f6cdd1dull;
}

static uint64_t below(uint64_t n)
{
	return n ? rnd() % n : 0;
}

static struct disk *open_img(const char *path, bool readonly)
{
	struct disk_options o = {.format = DISK_FMT_AUTO, .readonly = readonly};
	char err[DISK_ERR_LEN];
	struct disk *d;

	if (disk_open(path, &o, &d, err, sizeof(err))) {
		fprintf(stderr, "disktool: %s\n", err);
		exit(125);
	}
	return d;
}

static int ref_pread(int fd, void *buf, size_t len, uint64_t off)
{
	ssize_t n = pread(fd, buf, len, (off_t)off);

	if (n < 0)
		return -1;
	memset((uint8_t *)buf + n, 0, len - (size_t)n); /* past the end: zeroes */
	return 0;
}

static int ref_pwrite(int fd, const void *buf, size_t len, uint64_t off)
{
	return pwrite(fd, buf, len, (off_t)off) == (ssize_t)len ? 0 : -1;
}

static int ref_zero(int fd, uint64_t off, uint64_t len)
{
	static uint8_t z[CHUNK];

	while (len) {
		size_t n = len < CHUNK ? (size_t)len : CHUNK;
		if (ref_pwrite(fd, z, n, off))
			return -1;
		off += n;
		len -= n;
	}
	return 0;
}

/* Reads all of d and compares with the raw file at fd. */
static int compare_all(struct disk *d, int fd, const char *what)
{
	uint8_t *a = malloc(CHUNK), *b = malloc(CHUNK);
	uint64_t size = disk_size(d);
	int rc = 0;

	for (uint64_t off = 0; off < size && !rc; off += CHUNK) {
		size_t n = size - off < CHUNK ? (size_t)(size - off) : CHUNK;
		int r = disk_pread(d, a, n, off);
		if (r) {
			fprintf(stderr, "disktool: %s: read at %" PRIu64 ": %s\n", what, off,
				strerror(-r));
			rc = 1;
		} else if (ref_pread(fd, b, n, off) || memcmp(a, b, n)) {
			size_t i = 0;
			while (i < n && a[i] == b[i])
				i++;
			fprintf(stderr,
				"disktool: %s: differs from the reference at byte %" PRIu64
				" (0x%02x, want 0x%02x)\n",
				what, off + i, i < n ? a[i] : 0, i < n ? b[i] : 0);
			rc = 1;
		}
	}
	free(a);
	free(b);
	return rc;
}

struct op {
	struct disk_req req;
	struct iovec iov[4];
	uint8_t *buf, *want; /* read: what REF holds */
	uint64_t len;
	bool done;
	int res;
};

static void op_done(struct disk_req *q, int res)
{
	struct op *o = q->opaque;

	o->done = true;
	o->res = res;
}

static bool overlaps(const struct op *ops, int n, uint64_t off, uint64_t len)
{
	for (int i = 0; i < n; i++) {
		const struct op *o = &ops[i];
		if (o->req.op == DISK_OP_FLUSH)
			continue;
		if (off < o->req.offset + o->len && o->req.offset < off + len)
			return true;
	}
	return false;
}

/* Picks a range: whole clusters, 512-byte sectors or any bytes. */
static void pick_range(uint64_t size, uint64_t maxlen, uint64_t *off, uint64_t *len)
{
	uint64_t gran = (uint64_t[]){1, 512, 65536, 4096}[below(4)];

	*len = 1 + below(maxlen);
	*off = below(size);
	if (gran > 1) {
		*off -= *off % gran;
		*len = (*len + gran - 1) / gran * gran;
	}
	if (*len > size - *off)
		*len = size - *off;
	if (!*len)
		*len = 1, *off = size - 1;
}

/* Builds one random request into o and applies it to the reference. */
static int make_op(struct op *o, const struct op *batch, int n, int ref, uint64_t size,
		   uint64_t maxlen)
{
	uint64_t off, len, kind = below(100);
	int tries = 0;

	memset(o, 0, sizeof(*o));
	if (kind >= 96) {
		o->req.op = DISK_OP_FLUSH;
		return 0;
	}
	do {
		pick_range(size, maxlen, &off, &len);
	} while (overlaps(batch, n, off, len) && ++tries < 100);
	if (tries == 100) {
		o->req.op = DISK_OP_FLUSH;
		return 0;
	}
	o->req.offset = off;
	o->len = len;
	if (kind < 80) {
		size_t cut = (size_t)len;
		unsigned cnt = 0;
		o->buf = malloc(len);
		for (uint64_t i = 0; i < len; i++)
			o->buf[i] = (uint8_t)rnd();
		if (kind < 20) {
			o->req.op = DISK_OP_READ;
			o->want = malloc(len);
			if (ref_pread(ref, o->want, (size_t)len, off))
				return -1;
		} else {
			o->req.op = DISK_OP_WRITE;
			if (ref_pwrite(ref, o->buf, (size_t)len, off))
				return -1;
		}
		/* the same bytes as up to 4 iovecs of random sizes */
		for (size_t at = 0; at < len; cnt++) {
			size_t piece = cnt == 3 ? cut : 1 + (size_t)below(cut);
			o->iov[cnt].iov_base = o->buf + at;
			o->iov[cnt].iov_len = piece;
			at += piece;
			cut -= piece;
		}
		o->req.iov = o->iov;
		o->req.iovcnt = cnt;
		return 0;
	}
	o->req.op = kind < 88 ? DISK_OP_DISCARD : DISK_OP_WRITE_ZEROES;
	o->req.len = len;
	return ref_zero(ref, off, len);
}

static int run_batch(struct disk *d, struct op *ops, int n)
{
	int rc = 0, left = n;

	for (int i = 0; i < n; i++) {
		ops[i].req.done = op_done;
		ops[i].req.opaque = &ops[i];
		if (disk_submit(d, &ops[i].req)) {
			fprintf(stderr, "disktool: submit refused\n");
			return 1;
		}
	}
	while (left) {
		disk_complete(d);
		left = 0;
		for (int i = 0; i < n; i++)
			left += !ops[i].done;
		if (left)
			usleep(100);
	}
	for (int i = 0; i < n; i++) {
		struct op *o = &ops[i];
		if (o->res) {
			fprintf(stderr, "disktool: request %d at %" PRIu64 " failed: %s\n",
				o->req.op, o->req.offset, strerror(-o->res));
			rc = 1;
		} else if (o->want && memcmp(o->buf, o->want, (size_t)o->len)) {
			fprintf(stderr,
				"disktool: read at %" PRIu64 " (%" PRIu64
				" bytes) differs from the reference\n",
				o->req.offset, o->len);
			rc = 1;
		}
		free(o->buf);
		free(o->want);
	}
	return rc;
}

static int workload(const char *img, const char *refp, uint64_t seed, long nops, uint64_t maxlen)
{
	struct disk *d = open_img(img, false);
	int ref = open(refp, O_RDWR);
	uint64_t size = disk_size(d);
	struct op ops[BATCH];
	int rc = 0;

	if (ref < 0) {
		perror(refp);
		return 2;
	}
	rng_state = seed * 0x9e3779b97f4a7c15ull + 1;
	for (long done = 0; done < nops && !rc;) {
		int n = 1 + (int)below(BATCH);
		for (int i = 0; i < n; i++)
			if (make_op(&ops[i], ops, i, ref, size, maxlen))
				return 2;
		rc = run_batch(d, ops, n);
		done += n;
	}
	if (!rc)
		rc = compare_all(d, ref, img);
	disk_close(d);
	close(ref);
	return rc;
}

struct seqw {
	struct disk_req req;
	struct iovec iov[256];
	bool done;
	int res;
};

static void seqw_done(struct disk_req *q, int res)
{
	struct seqw *w = q->opaque;

	w->done = true;
	w->res = res;
}

/* Writes MiB [first, first + n) eight at a time, each request's pages out of order. */
static int seq_pass(struct disk *d, int ref, uint8_t *ram, uint8_t *flat, struct seqw *w,
		    uint64_t first, uint64_t n)
{
	for (uint64_t m = first; m < first + n; m += 8) {
		unsigned k = first + n - m < 8 ? (unsigned)(first + n - m) : 8;
		disk_plug(d);
		for (unsigned i = 0; i < k; i++) {
			uint8_t *base = ram + (size_t)i * CHUNK;
			for (unsigned p = 0; p < CHUNK; p += 8) {
				uint64_t v = rnd();
				memcpy(base + p, &v, 8);
			}
			w[i] = (struct seqw){.req = {.op = DISK_OP_WRITE,
						     .offset = (m + i) * CHUNK,
						     .iov = w[i].iov,
						     .iovcnt = 256,
						     .done = seqw_done,
						     .opaque = &w[i]}};
			for (unsigned j = 0; j < 256; j++) {
				w[i].iov[j].iov_base = base + (size_t)(j * 37 % 256) * 4096;
				w[i].iov[j].iov_len = 4096;
				memcpy(flat + (size_t)j * 4096, w[i].iov[j].iov_base, 4096);
			}
			if (ref_pwrite(ref, flat, CHUNK, (m + i) * CHUNK) ||
			    disk_submit(d, &w[i].req)) {
				fprintf(stderr, "disktool: seqwrite: cannot start a write\n");
				return 1;
			}
		}
		disk_unplug(d);
		for (unsigned i = 0; i < k; i++) {
			while (!w[i].done) {
				struct pollfd pf = {.fd = disk_event_fd(d), .events = POLLIN};
				poll(&pf, 1, 1000);
				disk_complete(d);
			}
			if (w[i].res) {
				fprintf(stderr, "disktool: seqwrite: write failed: %s\n",
					strerror(-w[i].res));
				return 1;
			}
		}
	}
	return 0;
}

static int seqwrite(const char *img, const char *refp, uint64_t mib)
{
	struct disk *d = open_img(img, false);
	int ref = open(refp, O_RDWR | O_CREAT | O_TRUNC, 0644), rc;
	uint8_t *ram = malloc(8 * CHUNK), *flat = malloc(CHUNK);
	struct seqw *w = calloc(8, sizeof(*w));
	struct disk_stats s;

	if (ref < 0 || !ram || !flat || !w || mib * CHUNK > disk_size(d) ||
	    ftruncate(ref, (off_t)disk_size(d))) {
		fprintf(stderr, "disktool: seqwrite: bad arguments or out of memory\n");
		return 2;
	}
	rc = seq_pass(d, ref, ram, flat, w, 0, mib);
	if (!rc && disk_flush(d))
		rc = 1;
	if (!rc)
		rc = seq_pass(d, ref, ram, flat, w, 0, mib / 2);
	disk_get_stats(d, &s);
	if (!rc && s.host_writes != mib + mib / 2) {
		fprintf(stderr,
			"disktool: seqwrite: %" PRIu64 " requests became %" PRIu64
			" host writes (want one each)\n",
			mib + mib / 2, s.host_writes);
		rc = 1;
	}
	if (!rc)
		rc = compare_all(d, ref, img);
	disk_close(d);
	close(ref);
	free(ram);
	free(flat);
	free(w);
	return rc;
}

static int compare(const char *img, const char *refp)
{
	struct disk *d = open_img(img, true);
	int ref = open(refp, O_RDONLY), rc;

	if (ref < 0) {
		perror(refp);
		return 2;
	}
	rc = compare_all(d, ref, img);
	disk_close(d);
	close(ref);
	return rc;
}

static void crash_pattern(uint8_t *b, uint64_t i)
{
	for (unsigned k = 0; k < CRASH_BLK; k += 8)
		memcpy(b + k, &(uint64_t){i * 0x100000001ull + k}, 8);
}

/* Writes and flushes block i (lower half of the disk), reports it, then leaves writes
 * to the upper half in flight, until killed. */
static int crashloop(const char *img)
{
	struct disk *d = open_img(img, false);
	uint64_t half = disk_size(d) / 2, blocks = half / CRASH_BLK;
	uint8_t *b = malloc(CRASH_BLK), *junk = malloc(CRASH_BLK);
	struct op ops[BATCH];
	int r;

	memset(junk, 0x5a, CRASH_BLK);
	rng_state = 42;
	for (uint64_t i = 0; i < blocks; i++) {
		crash_pattern(b, i);
		/* a partial write too, so clusters are copied-on-write */
		r = disk_pwrite(d, b, CRASH_BLK / 2, i * CRASH_BLK);
		if (!r)
			r = disk_pwrite(d, b + CRASH_BLK / 2, CRASH_BLK / 2,
					i * CRASH_BLK + CRASH_BLK / 2);
		if (!r)
			r = disk_flush(d);
		if (r) {
			fprintf(stderr, "disktool: crashloop: %s\n", strerror(-r));
			return 1;
		}
		printf("flushed %" PRIu64 "\n", i);
		fflush(stdout);
		for (int k = 0; k < BATCH; k++) {
			memset(&ops[k], 0, sizeof(ops[k]));
			ops[k].iov[0].iov_base = junk;
			ops[k].iov[0].iov_len = 512 + (size_t)below(CRASH_BLK - 512);
			ops[k].req.op = DISK_OP_WRITE;
			ops[k].req.offset = half + below(half - CRASH_BLK);
			ops[k].req.iov = ops[k].iov;
			ops[k].req.iovcnt = 1;
			ops[k].req.done = op_done;
			ops[k].req.opaque = &ops[k];
		}
		for (int k = 0; k < BATCH; k++)
			if (disk_submit(d, &ops[k].req))
				return 1;
		/* most are still in flight when the next flush waits for them */
		disk_complete(d);
	}
	disk_close(d);
	free(b);
	free(junk);
	return 0;
}

static int crashcheck(const char *img, uint64_t last)
{
	struct disk *d = open_img(img, true);
	uint8_t *b = malloc(CRASH_BLK), *want = malloc(CRASH_BLK);
	int rc = 0;

	for (uint64_t i = 0; i <= last && !rc; i++) {
		crash_pattern(want, i);
		if (disk_pread(d, b, CRASH_BLK, i * CRASH_BLK) || memcmp(b, want, CRASH_BLK)) {
			fprintf(stderr, "disktool: block %" PRIu64 " lost after the crash\n", i);
			rc = 1;
		}
	}
	disk_close(d);
	free(b);
	free(want);
	return rc;
}

static int single_ops(const char *img, int argc, char **argv)
{
	struct disk *d = open_img(img, false);
	int rc = 0;

	for (int i = 0; i + 2 < argc && !rc; i += 3) {
		uint64_t off = strtoull(argv[i + 1], NULL, 0), len = strtoull(argv[i + 2], NULL, 0);
		int r;
		if (!strncmp(argv[i], "write:", 6)) {
			uint8_t *b = malloc(len);
			memset(b, (int)strtol(argv[i] + 6, NULL, 0), len);
			r = disk_pwrite(d, b, len, off);
			free(b);
		} else if (!strcmp(argv[i], "discard")) {
			r = disk_zero(d, DISK_OP_DISCARD, off, len);
		} else if (!strcmp(argv[i], "zeroes")) {
			r = disk_zero(d, DISK_OP_WRITE_ZEROES, off, len);
		} else if (!strcmp(argv[i], "flush")) {
			r = disk_flush(d);
		} else {
			fprintf(stderr, "disktool: unknown op %s\n", argv[i]);
			return 2;
		}
		if (r) {
			fprintf(stderr, "disktool: %s at %" PRIu64 ": %s\n", argv[i], off,
				strerror(-r));
			rc = 1;
		}
	}
	disk_close(d);
	return rc;
}

int main(int argc, char **argv)
{
	const char *cmd = argc > 2 ? argv[1] : "";

	if (!strcmp(cmd, "workload") && argc >= 6)
		return workload(argv[2], argv[3], strtoull(argv[4], NULL, 0), atol(argv[5]),
				argc > 6 ? strtoull(argv[6], NULL, 0) : 256 * 1024);
	if (!strcmp(cmd, "seqwrite") && argc == 5)
		return seqwrite(argv[2], argv[3], strtoull(argv[4], NULL, 0));
	if (!strcmp(cmd, "compare") && argc == 4)
		return compare(argv[2], argv[3]);
	if (!strcmp(cmd, "crashloop"))
		return crashloop(argv[2]);
	if (!strcmp(cmd, "crashcheck") && argc == 4)
		return crashcheck(argv[2], strtoull(argv[3], NULL, 0));
	if (!strcmp(cmd, "hold") && argc == 4) {
		struct disk *d = open_img(argv[2], false);
		printf("locked\n");
		fflush(stdout);
		sleep((unsigned)atoi(argv[3]));
		disk_close(d);
		return 0;
	}
	if (!strcmp(cmd, "open-rw")) {
		disk_close(open_img(argv[2], false));
		return 0;
	}
	if (!strcmp(cmd, "ops"))
		return single_ops(argv[2], argc - 3, argv + 3);
	fprintf(stderr,
		"usage: disktool workload|seqwrite|compare|crashloop|crashcheck|hold|open-rw|ops "
		"... (see the source)\n");
	return 2;
}
