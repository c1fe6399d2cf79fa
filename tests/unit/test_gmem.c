/*
 * core/gmem.c's copies between guest RAM and host memory: every alignment of either side
 * copies exactly the bytes asked for, and a copy whose two sides are not aligned alike
 * (a frame behind virtio-net's 12-byte header) runs at the speed of an aligned one,
 * not byte by byte. During a post-copy migration gmem_ptr faults a device's buffer in, so
 * that the kernel writing into it (a disk read) meets no page a user-mode-only
 * userfaultfd would leave missing, with transparent huge pages asked for or not. RAM
 * asked for with huge pages gets them.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdbool.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <linux/userfaultfd.h>

#include "core/gmem.h"
#include "harness.h"

#define AREA 256

static uint8_t pattern(size_t i)
{
	return (uint8_t)(i * 37 + 11);
}

/* Both directions, guest and host offsets 0..15, lengths 0..100: exactly [off, off + len)
 * changes, and to the right bytes. */
static int test_copy_alignments(void)
{
	static uint8_t src[AREA] __attribute__((aligned(16)));
	static uint8_t dst[AREA] __attribute__((aligned(16)));

	for (size_t i = 0; i < AREA; i++)
		src[i] = pattern(i);
	for (int dir = 0; dir < 2; dir++)
		for (size_t so = 0; so < 16; so++)
			for (size_t doff = 0; doff < 16; doff++)
				for (size_t len = 0; len <= 100; len++) {
					memset(dst, 0xee, sizeof(dst));
					if (dir == 0)
						gmem_copy_from(dst + doff, src + so, len);
					else
						gmem_copy_to(dst + doff, src + so, len);
					for (size_t i = 0; i < AREA; i++) {
						uint8_t want = i >= doff && i < doff + len
								       ? pattern(i - doff + so)
								       : 0xee;
						CHECK_EQ(dst[i], want);
					}
				}
	return 0;
}

static double now_s(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

#define BIG   (64u << 10)
#define ROUND 64

/* The fastest of several rounds of ROUND copies of BIG bytes (the fastest, so that other
 * processes on the host do not count). */
static double best_time(int dir, uint8_t *guest, uint8_t *host)
{
	double best = 1e9;

	for (int r = 0; r < 9; r++) {
		double t0 = now_s();
		for (int i = 0; i < ROUND; i++) {
			if (dir == 0)
				gmem_copy_from(host, guest, BIG);
			else
				gmem_copy_to(guest, host, BIG);
			__asm__ volatile("" ::: "memory");
		}
		double t = now_s() - t0;
		if (t < best)
			best = t;
	}
	return best;
}

/* Host side 12 bytes off alignment (a frame behind the virtio-net header in the transmit
 * buffer) against both sides aligned: word copies make them alike; the byte loop the
 * misaligned case used to take is several times slower (a generous 3x bound). */
static int test_copy_misaligned_speed(void)
{
	uint8_t *guest = aligned_alloc(64, BIG + 64), *host = aligned_alloc(64, BIG + 64);
	double aligned, skewed;

	CHECK(guest && host);
	memset(guest, 0x5a, BIG + 64);
	memset(host, 0xa5, BIG + 64);
	for (int dir = 0; dir < 2; dir++) {
		aligned = best_time(dir, guest, host);
		skewed = best_time(dir, guest, host + 12);
		if (skewed > 3 * aligned) {
			snprintf(unit_why, sizeof(unit_why),
				 "%s: 64 KiB with the host side misaligned took %.1f us, aligned "
				 "%.1f us",
				 dir ? "gmem_copy_to" : "gmem_copy_from", skewed / ROUND * 1e6,
				 aligned / ROUND * 1e6);
			free(guest);
			free(host);
			return 1;
		}
	}
	free(guest);
	free(host);
	return 0;
}

struct zero_server {
	int uffd, stop[2];
	unsigned faults;
};

/* Serves every missing-page fault with a zero page. */
static void *serve_zero(void *opaque)
{
	struct zero_server *z = opaque;

	for (;;) {
		struct pollfd p[2] = {{.fd = z->uffd, .events = POLLIN},
				      {.fd = z->stop[0], .events = POLLIN}};
		struct uffd_msg msg;
		if (poll(p, 2, 10000) <= 0 || p[1].revents)
			return NULL;
		while (read(z->uffd, &msg, sizeof(msg)) == (ssize_t)sizeof(msg)) {
			struct uffdio_zeropage zp = {
				.range = {msg.arg.pagefault.address & ~(GMEM_PAGE_SIZE - 1),
					  GMEM_PAGE_SIZE}};
			/* counted before the zero page wakes the faulting thread */
			__atomic_fetch_add(&z->faults, 1, __ATOMIC_SEQ_CST);
			ioctl(z->uffd, UFFDIO_ZEROPAGE, &zp);
		}
	}
}

/* Also with huge pages advised (the default for lodge run): the userfaultfd still gets
 * each missing 4 KiB page. */
static int postcopy_fault_in(bool huge)
{
	struct gmem m;
	struct zero_server z = {0};
	struct uffdio_api api = {.api = UFFD_API};
	struct uffdio_register reg = {.mode = UFFDIO_REGISTER_MODE_MISSING};
	char path[] = "/tmp/lodge-test-gmem.XXXXXX";
	uint8_t data[3 * 4096], *p;
	pthread_t t;
	int fd;

	CHECK_EQ(
		gmem_init(&m, 0x80000000ull, huge ? 2 * GMEM_HUGE_SIZE : 64 * GMEM_PAGE_SIZE, huge),
		0);
	/* What the sandbox gets (no CAP_SYS_PTRACE): user-mode faults only. */
	z.uffd = (int)syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK | UFFD_USER_MODE_ONLY);
	if (z.uffd < 0) {
		printf("SKIP: gmem.postcopy_fault_in: no userfaultfd: %s\n", strerror(errno));
		gmem_fini(&m);
		return 0;
	}
	CHECK_EQ(ioctl(z.uffd, UFFDIO_API, &api), 0);
	reg.range.start = (uintptr_t)m.ram;
	reg.range.len = m.size;
	CHECK_EQ(ioctl(z.uffd, UFFDIO_REGISTER, &reg), 0);
	CHECK_EQ(pipe(z.stop), 0);
	CHECK_EQ(pthread_create(&t, NULL, serve_zero, &z), 0);
	memset(data, 0xab, sizeof(data));
	fd = mkstemp(path);
	CHECK(fd >= 0);
	unlink(path);
	CHECK_EQ(write(fd, data, sizeof(data)), (ssize_t)sizeof(data));

	/* A buffer across three missing pages, from its middle: the kernel's write into it
	 * (pread) succeeds because gmem_ptr faulted its pages in first. */
	__atomic_store_n(&m.postcopy, true, __ATOMIC_RELAXED);
	p = gmem_ptr(&m, m.base + 5 * GMEM_PAGE_SIZE + 100, 2 * GMEM_PAGE_SIZE + 50);
	CHECK(p);
	CHECK_EQ(__atomic_load_n(&z.faults, __ATOMIC_SEQ_CST), 3u);
	CHECK_EQ(pread(fd, p, 2 * GMEM_PAGE_SIZE + 50, 0), (ssize_t)(2 * GMEM_PAGE_SIZE + 50));
	CHECK(!memcmp(p, data, 2 * GMEM_PAGE_SIZE + 50));
	/* Without post-copy nothing is touched: the kernel meets the hole. */
	__atomic_store_n(&m.postcopy, false, __ATOMIC_RELAXED);
	p = gmem_ptr(&m, m.base + 20 * GMEM_PAGE_SIZE, GMEM_PAGE_SIZE);
	CHECK_EQ(__atomic_load_n(&z.faults, __ATOMIC_SEQ_CST), 3u);
	CHECK_EQ(pread(fd, p, GMEM_PAGE_SIZE, 0), -1);
	CHECK_EQ(errno, EFAULT);

	CHECK_EQ(write(z.stop[1], "x", 1), 1);
	pthread_join(t, NULL);
	close(fd);
	close(z.uffd);
	close(z.stop[0]);
	close(z.stop[1]);
	gmem_fini(&m);
	return 0;
}

static int test_postcopy_fault_in(void)
{
	return postcopy_fault_in(false);
}

static int test_postcopy_fault_in_huge(void)
{
	return postcopy_fault_in(true);
}

/* The host's transparent huge page mode: "always", "madvise", "never" or "" (no THP). */
static const char *thp_mode(void)
{
	static char mode[16];
	char line[128], *a, *b;
	FILE *f = fopen("/sys/kernel/mm/transparent_hugepage/enabled", "r");

	mode[0] = 0;
	if (!f)
		return mode;
	if (fgets(line, sizeof(line), f) && (a = strchr(line, '[')) && (b = strchr(a, ']')) &&
	    b - a - 1 < (long)sizeof(mode)) {
		memcpy(mode, a + 1, (size_t)(b - a - 1));
		mode[b - a - 1] = 0;
	}
	fclose(f);
	return mode;
}

/* AnonHugePages (KiB) of this process's mapping that holds p, or -1. */
static long anon_huge_kib(const void *p)
{
	char line[256];
	unsigned long lo, hi;
	long kib = -1;
	bool in = false;
	FILE *f = fopen("/proc/self/smaps", "r");

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "%lx-%lx ", &lo, &hi) == 2) /* a mapping's first line */
			in = lo <= (uintptr_t)p && (uintptr_t)p < hi;
		else if (in && sscanf(line, "AnonHugePages: %ld kB", &kib) == 1)
			break;
	}
	fclose(f);
	return kib;
}

/* RAM asked for with huge pages starts on a 2 MiB boundary and, touched, is backed by
 * huge pages (smaps' AnonHugePages), where THP honours madvise; without, by 4 KiB pages
 * even where the THP mode is "always". */
static int test_hugepages(void)
{
	const char *mode = thp_mode();
	struct gmem m;
	long kib;

	CHECK_EQ(gmem_init(&m, 0x80000000ull, 4 * GMEM_HUGE_SIZE, true), 0);
	CHECK_EQ((uintptr_t)m.ram % GMEM_HUGE_SIZE, 0u);
	CHECK(m.hugepages || !mode[0]);
	for (uint64_t off = 0; off < m.size; off += GMEM_HUGE_SIZE)
		m.ram[off + 100] = 1;
	kib = anon_huge_kib(m.ram);
	if (!strcmp(mode, "always") || !strcmp(mode, "madvise")) {
		/* one huge page at least: the kernel may find no free 2 MiB for some */
		CHECK(kib >= (long)(GMEM_HUGE_SIZE >> 10));
	}
	gmem_fini(&m);

	CHECK_EQ(gmem_init(&m, 0x80000000ull, 4 * GMEM_HUGE_SIZE, false), 0);
	CHECK(!m.hugepages);
	for (uint64_t off = 0; off < m.size; off += GMEM_HUGE_SIZE)
		m.ram[off + 100] = 1;
	CHECK_EQ(anon_huge_kib(m.ram), 0);
	gmem_fini(&m);
	if (!mode[0] || !strcmp(mode, "never"))
		printf("SKIP: gmem.hugepages_backed: the host's THP mode is '%s'\n", mode);
	return 0;
}

static const struct unit_test tests[] = {
	{"postcopy_fault_in", test_postcopy_fault_in},
	{"postcopy_fault_in_huge", test_postcopy_fault_in_huge},
	{"hugepages", test_hugepages},
	{"copy_alignments", test_copy_alignments},
	{"copy_misaligned_speed", test_copy_misaligned_speed},
};

UNIT_MAIN("gmem", tests)
