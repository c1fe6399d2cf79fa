/*
 * bench/disk-writes: the host side of a guest's sequential disk writes, without a guest.
 * 1 MiB writes of 256 scattered 4 KiB pieces (what virtio-blk hands the disk layer for
 * fio's 1 MiB O_DIRECT writes), QD in flight, looping over the first SIZE MiB of a file on
 * the file system of DIR, SECS seconds per mode. Before each mode's turn an untimed pass
 * of plain pwrite fills the range into the page cache, as fio --time_based's earlier passes
 * leave it in the guest benchmark (O_DIRECT drops those pages, and a first write into
 * uncached pages costs several times an overwrite). Modes take turns for ROUNDS rounds:
 *   uring-async  io_uring writev with IOSQE_ASYNC (Lodge's way for >= 128 KiB: the
 *                reference the ratios are against)
 *   uring-inline io_uring writev tried inline first
 *   pool         QD threads each calling pwritev (QEMU's aio=threads with cache=writeback)
 *   direct       io_uring writev on an O_DIRECT descriptor (cache=none)
 * Prints each mode's median MB/s and CPU per MiB (the whole process: io_uring's workers
 * are its threads) with min-max, and the ratios against uring-async.
 * Usage: disk-writes [DIR [SIZE_MIB [SECS [ROUNDS [QD]]]]] (/tmp 256 2 5 8).
 * Build: make bench-disk-writes (build/bench/disk-writes).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <liburing.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#define BS	  (1u << 20)
#define PIECE	  4096u
#define NPIECE	  (BS / PIECE)
#define MAXQD	  64
#define MAXROUNDS 50

enum mode { M_ASYNC, M_INLINE, M_POOL, M_DIRECT, NMODES };
static const char *const names[NMODES] = {"uring-async", "uring-inline", "pool", "direct"};

struct run {
	int fd;
	unsigned qd;
	uint64_t nblk;
	double end;
	uint8_t *bufs;
	pthread_mutex_t mu;
	uint64_t next, done;
	int err;
};

static double now(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static double cpu_now(void)
{
	struct rusage u;

	getrusage(RUSAGE_SELF, &u);
	return (double)(u.ru_utime.tv_sec + u.ru_stime.tv_sec) +
	       (double)(u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
}

/* Slot s's iovec array: its 1 MiB buffer's pages out of order. */
static void fill_iov(struct run *r, unsigned s, struct iovec *iov)
{
	for (unsigned j = 0; j < NPIECE; j++) {
		iov[j].iov_base = r->bufs + (size_t)s * BS + (size_t)(j * 37 % NPIECE) * PIECE;
		iov[j].iov_len = PIECE;
	}
}

static void *pool_worker(void *arg)
{
	struct run *r = arg;
	struct iovec iov[NPIECE];
	unsigned slot;

	pthread_mutex_lock(&r->mu);
	slot = (unsigned)(r->done++ % r->qd); /* done counts threads started here */
	pthread_mutex_unlock(&r->mu);
	fill_iov(r, slot, iov);
	for (;;) {
		uint64_t b;
		pthread_mutex_lock(&r->mu);
		if (now() >= r->end || r->err) {
			pthread_mutex_unlock(&r->mu);
			return NULL;
		}
		b = r->next++ % r->nblk;
		pthread_mutex_unlock(&r->mu);
		if (pwritev(r->fd, iov, NPIECE, (off_t)(b * BS)) != (ssize_t)BS) {
			r->err = errno ? errno : EIO;
			return NULL;
		}
	}
}

static uint64_t run_pool(struct run *r)
{
	pthread_t th[MAXQD];

	r->done = 0;
	for (unsigned i = 0; i < r->qd; i++)
		if (pthread_create(&th[i], NULL, pool_worker, r))
			return 0;
	for (unsigned i = 0; i < r->qd; i++)
		pthread_join(th[i], NULL);
	return r->next;
}

static uint64_t run_uring(struct run *r, bool async)
{
	static struct iovec iov[MAXQD][NPIECE];
	struct io_uring ring;
	unsigned inflight = 0, free_slots[MAXQD], nfree = r->qd;
	uint64_t n = 0;

	if (io_uring_queue_init(MAXQD, &ring, 0) < 0)
		return 0;
	for (unsigned s = 0; s < r->qd; s++) {
		fill_iov(r, s, iov[s]);
		free_slots[s] = s;
	}
	for (;;) {
		struct io_uring_cqe *cqe;
		while (nfree && now() < r->end) {
			struct io_uring_sqe *sqe = io_uring_get_sqe(&ring);
			unsigned s = free_slots[--nfree];
			io_uring_prep_writev(sqe, r->fd, iov[s], NPIECE,
					     (r->next++ % r->nblk) * BS);
			if (async)
				io_uring_sqe_set_flags(sqe, IOSQE_ASYNC);
			io_uring_sqe_set_data(sqe, (void *)(uintptr_t)s);
			inflight++;
		}
		if (!inflight)
			break;
		if (io_uring_submit_and_wait(&ring, 1) < 0 && errno != EINTR)
			break;
		while (io_uring_peek_cqe(&ring, &cqe) == 0) {
			if (cqe->res != (int)BS)
				r->err = cqe->res < 0 ? -cqe->res : EIO;
			free_slots[nfree++] = (unsigned)(uintptr_t)io_uring_cqe_get_data(cqe);
			io_uring_cqe_seen(&ring, cqe);
			inflight--;
			n++;
		}
	}
	io_uring_queue_exit(&ring);
	return n;
}

/* One pass of pwrite over the range: its pages in the page cache, dirty. */
static int prefill(const char *path, const uint8_t *buf, uint64_t nblk)
{
	int fd = open(path, O_RDWR);

	if (fd < 0)
		return -1;
	for (uint64_t b = 0; b < nblk; b++)
		if (pwrite(fd, buf, BS, (off_t)(b * BS)) != (ssize_t)BS) {
			fprintf(stderr, "disk-writes: prefill: %s\n", strerror(errno));
			close(fd);
			return -1;
		}
	close(fd);
	return 0;
}

static double load(void)
{
	double l[1] = {0};

	return getloadavg(l, 1) == 1 ? l[0] : 0;
}

static int cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static double median(double *v, int n)
{
	qsort(v, (size_t)n, sizeof(*v), cmp);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

int main(int argc, char **argv)
{
	const char *dir = argc > 1 ? argv[1] : "/tmp";
	uint64_t size = argc > 2 ? strtoull(argv[2], NULL, 0) : 256;
	double secs = argc > 3 ? atof(argv[3]) : 2;
	int rounds = argc > 4 ? atoi(argv[4]) : 5;
	unsigned qd = argc > 5 ? (unsigned)atoi(argv[5]) : 8;
	static double mbs[NMODES][MAXROUNDS], cpu[NMODES][MAXROUNDS];
	double med_mbs[NMODES], med_cpu[NMODES];
	bool no_direct = false;
	char path[4096];
	uint8_t *bufs;
	int fd;

	if (!size || secs <= 0 || rounds < 1 || rounds > MAXROUNDS || !qd || qd > MAXQD) {
		fprintf(stderr, "usage: disk-writes [DIR [SIZE_MIB [SECS [ROUNDS [QD (1-%d)]]]]]\n",
			MAXQD);
		return 2;
	}
	snprintf(path, sizeof(path), "%s/disk-writes.XXXXXX", dir);
	fd = mkstemp(path);
	if (fd < 0 || ftruncate(fd, (off_t)(size * BS * 4))) {
		fprintf(stderr, "disk-writes: cannot make a file in %s: %s\n", dir,
			strerror(errno));
		if (fd >= 0)
			unlink(path);
		return 2;
	}
	close(fd);
	bufs = aligned_alloc(PIECE, (size_t)BS * qd);
	if (!bufs) {
		unlink(path);
		return 2;
	}
	memset(bufs, 0x5a, (size_t)BS * qd);
	printf("disk-writes: 1 MiB writes of %u scattered 4 KiB pieces, %u in flight, over %llu "
	       "MiB of a file in %s, %.1f s a mode, %d rounds; load average %.2f\n",
	       NPIECE, qd, (unsigned long long)size, dir, secs, rounds, load());
	for (int i = 0; i < rounds; i++) {
		for (int m = 0; m < NMODES; m++) {
			struct run r = {.qd = qd, .nblk = size, .bufs = bufs};
			double t0, c0, t;
			uint64_t n;
			pthread_mutex_init(&r.mu, NULL);
			r.fd = open(path, O_RDWR | (m == M_DIRECT ? O_DIRECT : 0));
			if (r.fd < 0 && m == M_DIRECT && errno == EINVAL) {
				if (!i)
					printf("  %s: the file system has no O_DIRECT: left out\n",
					       names[m]);
				no_direct = true;
				continue;
			}
			if (r.fd < 0) {
				fprintf(stderr, "disk-writes: %s: open: %s\n", names[m],
					strerror(errno));
				unlink(path);
				return 1;
			}
			if (prefill(path, bufs, size)) {
				unlink(path);
				return 1;
			}
			t0 = now();
			c0 = cpu_now();
			r.end = t0 + secs;
			n = m == M_POOL ? run_pool(&r) : run_uring(&r, m == M_ASYNC);
			t = now() - t0;
			close(r.fd);
			if (r.err || !n) {
				fprintf(stderr, "disk-writes: %s: %s\n", names[m],
					strerror(r.err ? r.err : EIO));
				unlink(path);
				return 1;
			}
			mbs[m][i] = (double)n * BS / 1e6 / t;
			cpu[m][i] = (cpu_now() - c0) * 1e6 / (double)n;
			printf("  round %d %-12s %7.0f MB/s %5.0f us CPU/MiB\n", i + 1, names[m],
			       mbs[m][i], cpu[m][i]);
		}
	}
	unlink(path);
	printf("\n%-12s %-22s %-10s %-22s %-10s\n", "mode", "MB/s median (min-max)", "vs async",
	       "CPU us/MiB (min-max)", "vs async");
	for (int m = 0; m < NMODES; m++) {
		if (m == M_DIRECT && no_direct)
			break;
		med_mbs[m] = median(mbs[m], rounds);
		med_cpu[m] = median(cpu[m], rounds);
		printf("%-12s %6.0f (%5.0f-%5.0f)   %5.2fx     %5.0f (%4.0f-%4.0f)     %5.2fx\n",
		       names[m], med_mbs[m], mbs[m][0], mbs[m][rounds - 1], med_mbs[m] / med_mbs[0],
		       med_cpu[m], cpu[m][0], cpu[m][rounds - 1], med_cpu[m] / med_cpu[0]);
	}
	printf("load average %.2f at end\n", load());
	return 0;
}
