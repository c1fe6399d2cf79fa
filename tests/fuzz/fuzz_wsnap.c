/*
 * libFuzzer target: restoring a WebAssembly snapshot (`lodge wasm --restore FILE`) from
 * hostile bytes. The input is a snapshot file (the seeds are real ones, made by `lodge
 * wasm --api` and PUT /snapshot/create); before it is restored its container is repaired
 * so that the checksums never stop a mutation: the file header is rewritten, each section
 * keeps its type and payload (a length past the input's end is cut to it) and gets its
 * payload's and its header's CRC-32 again, and an END section closes the file. So every
 * byte of the MODULE, STATE, WASI and RAM payloads reaches the loaders, as an attacker who
 * recomputes the checksums would have it. The file goes through wasm_snapshot_open and
 * wasm_snapshot_restore, the calls `lodge wasm --restore` makes (with a 64 MiB memory cap
 * and the preopened directories all mapped to one scratch directory, as `--dir` does for a
 * standby, so that nothing outside it is opened), and a restored program runs on for a
 * little fuel with stdio on /dev/null (a timer interrupts one that blocks). Refusals are
 * expected outcomes; crashes, hangs, leaks and sanitizer reports are bugs.
 */
#include "wasm/internal.h"
#include "wasm/snapshot.h"
#include "wasm/wasi/wasi.h"

#include <fcntl.h>
#include <ftw.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

#define FUEL	20000
#define MEM_CAP (64ull << 20)
#define MAX_PRE 64
#define RUN_MS	100 /* a program that blocks longer is interrupted */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const uint8_t magic[8] = {'L', 'O', 'D', 'G', 'E', 'S', 'N', 'P'};

static int file_fd = -1, null_fd = -1;
static char file_path[64];
static char scratch[64];
static const char *pre_dirs[MAX_PRE];

/* the watchdog: interrupts the running store once its deadline passed */
static pthread_mutex_t dog_lock = PTHREAD_MUTEX_INITIALIZER;
static struct wasm_store *dog_store;
static uint64_t dog_deadline; /* CLOCK_MONOTONIC ms */

static uint64_t now_ms(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (uint64_t)t.tv_sec * 1000 + (uint64_t)t.tv_nsec / 1000000;
}

static void *dog(void *arg)
{
	(void)arg;
	for (;;) {
		uint64_t now;
		usleep(20 * 1000);
		now = now_ms();
		pthread_mutex_lock(&dog_lock);
		if (dog_store && now >= dog_deadline)
			wasm_store_interrupt(dog_store);
		pthread_mutex_unlock(&dog_lock);
	}
	return NULL;
}

static void put32(uint8_t *p, uint32_t v)
{
	for (unsigned i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static void put64(uint8_t *p, uint64_t v)
{
	for (unsigned i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t get64(const uint8_t *p)
{
	return (uint64_t)get32(p) | (uint64_t)get32(p + 4) << 32;
}

static uint32_t crc(const uint8_t *p, size_t n)
{
	return (uint32_t)crc32(0, p, (uInt)n);
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	remove(path);
	return 0;
}

static void cleanup(void)
{
	nftw(scratch, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

static void init(void)
{
	/* the files the seeds' programs opened (tests/wsnap/counter.wat, fsappend.wat) */
	char path[128];
	pthread_t t;

	if (file_fd >= 0)
		return;
	file_fd = memfd_create("fuzz_wsnap", 0);
	null_fd = open("/dev/null", O_RDWR | O_CLOEXEC);
	if (file_fd < 0 || null_fd < 0)
		abort();
	snprintf(file_path, sizeof(file_path), "/proc/self/fd/%d", file_fd);
	/* the scratch directory every preopen maps to: a file and a directory in it */
	snprintf(scratch, sizeof(scratch), "/tmp/fuzz_wsnap.XXXXXX");
	if (!mkdtemp(scratch))
		abort();
	snprintf(path, sizeof(path), "%s/sub", scratch);
	mkdir(path, 0700);
	for (int i = 0; i < MAX_PRE; i++)
		pre_dirs[i] = scratch;
	if (pthread_create(&t, NULL, dog, NULL))
		abort();
	pthread_detach(t);
	atexit(cleanup);
}

/* The scratch directory's files as at the start (a program run before may have written). */
static void reset_files(void)
{
	/* the files the seeds' programs open (tests/wsnap/counter.wat, fsappend.wat) */
	static const char *const files[] = {"in.txt", "out.txt", "log.txt", "data.txt"};
	char path[128];
	int fd;

	for (unsigned i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s", scratch, files[i]);
		fd = open(path, O_CREAT | O_TRUNC | O_WRONLY | O_CLOEXEC, 0600);
		if (fd < 0 || write(fd, "0123456789abcdef\n", 17) != 17)
			abort();
		close(fd);
	}
}

/* The snapshot of the input with its container repaired (see the top). */
static uint8_t *repair(const uint8_t *in, size_t n, size_t *out_len, const uint8_t **wasi,
		       size_t *wasi_len)
{
	uint8_t *out = malloc(n + 64 + 24);
	size_t off = 32, o = 32;

	*wasi = NULL;
	*wasi_len = 0;
	if (!out)
		abort();
	memcpy(out, magic, 8);
	put32(out + 8, n > 8 && (in[8] & 1) ? 1 : 2); /* version 1 or 2 */
	put32(out + 12, 32);
	put64(out + 16, 0);
	put32(out + 24, 0);
	put32(out + 28, crc(out, 28));
	while (off + 24 <= n) {
		uint32_t type = get32(in + off);
		uint64_t len = get64(in + off + 8);
		if (type == 0x444e45)
			break;
		off += 24;
		if (len > n - off)
			len = n - off;
		put32(out + o, type);
		put32(out + o + 4, 0);
		put64(out + o + 8, len);
		put32(out + o + 16, crc(in + off, (size_t)len));
		put32(out + o + 20, crc(out + o, 20));
		memcpy(out + o + 24, in + off, (size_t)len);
		if (type == WASM_SNAP_SEC_WASI && !*wasi) {
			*wasi = out + o + 24;
			*wasi_len = (size_t)len;
		}
		o += 24 + (size_t)len;
		off += (size_t)len;
	}
	put32(out + o, 0x444e45);
	put32(out + o + 4, 0);
	put64(out + o + 8, 0);
	put32(out + o + 16, crc(out + o, 0));
	put32(out + o + 20, crc(out + o, 20));
	*out_len = o + 24;
	return out;
}

/* The number of preopens the WASI state names (-1: it does not parse that far). */
static long wasi_npre(const uint8_t *p, size_t n)
{
	size_t off = 4;

	if (!p || n < 4)
		return -1;
	for (int list = 0; list < 2; list++) {
		uint32_t k;
		if (n - off < 4)
			return -1;
		k = get32(p + off);
		off += 4;
		for (uint32_t i = 0; i < k; i++) {
			uint32_t len;
			if (n - off < 4)
				return -1;
			len = get32(p + off);
			off += 4;
			if (len > n - off)
				return -1;
			off += len;
		}
	}
	if (n - off < 4)
		return -1;
	return get32(p + off);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *wasi;
	size_t len, wasi_len;
	uint8_t *file;
	struct wasm_snapshot *snap = NULL;
	char err[512];
	int stdio[3];
	long npre;
	bool verbose;

	init();
	reset_files();
	verbose = getenv("FUZZ_WSNAP_VERBOSE") != NULL;
	file = repair(data, size, &len, &wasi, &wasi_len);
	if (ftruncate(file_fd, 0) || pwrite(file_fd, file, len, 0) != (ssize_t)len)
		abort();
	npre = wasi_npre(wasi, wasi_len);
	free(file);
	/* every preopen is the scratch directory; a count this cannot give is refused */
	wasi_restore_dirs(npre >= 0 && npre <= MAX_PRE ? (int)npre : 0, pre_dirs);
	err[0] = 0;
	if (wasm_snapshot_open(file_path, MEM_CAP, &snap, err, sizeof(err))) {
		if (verbose)
			fprintf(stderr, "fuzz_wsnap: refused: %s\n", err);
		return 0;
	}
	stdio[0] = stdio[1] = stdio[2] = null_fd;
	if (wasm_snapshot_restore(snap, stdio, err, sizeof(err))) {
		if (verbose)
			fprintf(stderr, "fuzz_wsnap: not restored: %s\n", err);
	} else {
		struct wasm_store *s = snap->store;
		struct wasm_trap_info info;
		/* a little fuel, whatever the state said */
		s->lim.fuel = FUEL;
		s->fuel = FUEL;
		pthread_mutex_lock(&dog_lock);
		dog_deadline = now_ms() + RUN_MS;
		dog_store = s;
		pthread_mutex_unlock(&dog_lock);
		wasm_snapshot_run(snap, &info);
		if (verbose)
			fprintf(stderr, "fuzz_wsnap: restored, ran: trap %d\n", info.trap);
		pthread_mutex_lock(&dog_lock);
		dog_store = NULL;
		pthread_mutex_unlock(&dog_lock);
	}
	wasm_snapshot_close(snap);
	return 0;
}
