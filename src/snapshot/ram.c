/*
 * The RAM section (see snapshot.h). Its payload starts with a descriptor: u64 base,
 * u64 size, u32 chunk pages (512), u32 encoding. Then, for SNAP_RAM_ZSTD, one record per
 * 2 MiB chunk: a 64-byte bitmap of the chunk's pages that are not all zero, u32 length,
 * and that many bytes of one zstd frame holding exactly those pages in order (no frame
 * when no page is set). SNAP_RAM_DIFF is the same, its bitmaps naming the pages written
 * since the parent snapshot (zero or not). For SNAP_RAM_RAW: zero padding to the next 4 KiB
 * boundary of the file, then the RAM image byte for byte, zero pages left as holes; its CRC covers
 * only the descriptor, so that a restore can map it without reading it.
 */
#include "snapshot/snapshot.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/userfaultfd.h>
#include <signal.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <zstd.h>

#include "core/alloc.h"
#include "snapshot/internal.h"

#define CHUNK_BYTES ((size_t)SNAP_CHUNK_PAGES * SNAP_PAGE_SIZE)
#define BITMAP	    (SNAP_CHUNK_PAGES / 8)
#define ZSTD_LEVEL  1 /* snapshot time matters more than size: ~4x on a busybox guest */

static bool page_zero(const uint8_t *p)
{
	const uint64_t *w = (const uint64_t *)(const void *)p;
	uint64_t acc = 0;

	for (unsigned i = 0; i < SNAP_PAGE_SIZE / 8; i += 8)
		acc |= w[i] | w[i + 1] | w[i + 2] | w[i + 3] | w[i + 4] | w[i + 5] | w[i + 6] |
		       w[i + 7];
	return acc == 0;
}

static void put_desc(uint8_t *d, uint64_t base, uint64_t size, enum snap_ram_encoding enc)
{
	snap_le64(d, base);
	snap_le64(d + 8, size);
	snap_le32(d + 16, SNAP_CHUNK_PAGES);
	snap_le32(d + 20, enc);
}

/* One chunk: bitmap, length, frame. `stage` and `cbuf` are scratch buffers. With `dirty`
 * (the chunk's first page is bit 0 of dirty[0]), exactly the pages set there go in;
 * otherwise the pages that are not zero. */
static int write_chunk(struct snap_writer *w, ZSTD_CCtx *cc, const uint8_t *ram, size_t pages,
		       const uint64_t *dirty, uint8_t *stage, uint8_t *cbuf, size_t cap)
{
	uint8_t bitmap[BITMAP] = {0}, len[4];
	size_t n = 0, clen = 0;
	int r;

	for (size_t p = 0; p < pages; p++) {
		if (dirty ? !(dirty[p / 64] & (1ull << (p % 64)))
			  : page_zero(ram + p * SNAP_PAGE_SIZE))
			continue;
		bitmap[p / 8] |= (uint8_t)(1u << (p % 8));
		memcpy(stage + n * SNAP_PAGE_SIZE, ram + p * SNAP_PAGE_SIZE, SNAP_PAGE_SIZE);
		n++;
	}
	if (n) {
		clen = ZSTD_compressCCtx(cc, cbuf, cap, stage, n * SNAP_PAGE_SIZE, ZSTD_LEVEL);
		if (ZSTD_isError(clen))
			return -EIO;
	}
	snap_le32(len, (uint32_t)clen);
	r = snap_put(w, bitmap, sizeof(bitmap));
	r = r ?: snap_put(w, len, sizeof(len));
	return r ?: snap_put(w, cbuf, clen);
}

static int write_zstd(struct snap_writer *w, const uint8_t *ram, uint64_t size,
		      const uint64_t *dirty)
{
	size_t cap = ZSTD_compressBound(CHUNK_BYTES);
	uint8_t *stage = core_alloc(CHUNK_BYTES), *cbuf = core_alloc(cap);
	ZSTD_CCtx *cc = ZSTD_createCCtx();
	int r = stage && cbuf && cc ? 0 : -ENOMEM;

	for (uint64_t off = 0; off < size && !r; off += CHUNK_BYTES) {
		uint64_t left = (size - off) / SNAP_PAGE_SIZE;
		size_t pages = left < SNAP_CHUNK_PAGES ? (size_t)left : SNAP_CHUNK_PAGES;
		r = write_chunk(w, cc, ram + off, pages,
				dirty ? dirty + off / SNAP_PAGE_SIZE / 64 : NULL, stage, cbuf, cap);
	}
	ZSTD_freeCCtx(cc);
	core_free(stage);
	core_free(cbuf);
	return r;
}

/* The image, page-aligned in the file, with holes for zero pages. */
static int write_raw(struct snap_writer *w, const uint8_t *ram, uint64_t size)
{
	static const uint8_t zeros[SNAP_PAGE_SIZE];
	uint64_t pad = (SNAP_PAGE_SIZE - w->off % SNAP_PAGE_SIZE) % SNAP_PAGE_SIZE;
	uint32_t crc = w->crc; /* the descriptor's: the image is not checksummed */
	int r = snap_put(w, zeros, (size_t)pad);

	for (uint64_t off = 0; off < size && !r; off += SNAP_PAGE_SIZE) {
		if (page_zero(ram + off))
			w->off += SNAP_PAGE_SIZE;
		else
			r = snap_put(w, ram + off, SNAP_PAGE_SIZE);
	}
	w->crc = crc;
	return r;
}

int snap_write_ram(struct snap_writer *w, const uint8_t *ram, uint64_t base, uint64_t size,
		   enum snap_ram_encoding enc)
{
	uint8_t d[SNAP_RAM_DESC];
	int r;

	if (size % SNAP_PAGE_SIZE || (enc != SNAP_RAM_ZSTD && enc != SNAP_RAM_RAW))
		return -EINVAL;
	put_desc(d, base, size, enc);
	snap_section_begin(w, SNAP_SEC_RAM);
	r = snap_put(w, d, sizeof(d));
	if (!r)
		r = enc == SNAP_RAM_ZSTD ? write_zstd(w, ram, size, NULL) : write_raw(w, ram, size);
	return r ?: snap_section_end(w, w->crc);
}

int snap_write_ram_diff(struct snap_writer *w, const uint8_t *ram, uint64_t base, uint64_t size,
			const uint64_t *pages)
{
	uint8_t d[SNAP_RAM_DESC];
	int r;

	/* A chunk's bits start on a word boundary: 512 pages are 8 words. */
	_Static_assert(SNAP_CHUNK_PAGES % 64 == 0, "chunks must cover whole bitmap words");
	if (size % SNAP_PAGE_SIZE)
		return -EINVAL;
	put_desc(d, base, size, SNAP_RAM_DIFF);
	snap_section_begin(w, SNAP_SEC_RAM);
	r = snap_put(w, d, sizeof(d));
	r = r ?: write_zstd(w, ram, size, pages);
	return r ?: snap_section_end(w, w->crc);
}

/* ---- reading ---- */

struct ram_in {
	struct snap_reader *r;
	uint64_t off, end; /* within the section */
	uint32_t crc;
};

static int take(struct ram_in *in, void *p, size_t n)
{
	if (n > in->end - in->off)
		return -EINVAL;
	if (snap_pread(in->r, p, n, in->off))
		return -EIO;
	in->off += n;
	in->crc = snap_crc(in->crc, p, n);
	return 0;
}

static int read_chunk(struct ram_in *in, ZSTD_DCtx *dc, uint8_t *ram, size_t pages, uint8_t *stage,
		      uint8_t *cbuf, size_t cap)
{
	uint8_t bitmap[BITMAP], len[4];
	size_t n = 0, clen, got;
	int r = take(in, bitmap, sizeof(bitmap));

	r = r ?: take(in, len, sizeof(len));
	if (r)
		return r;
	for (size_t p = 0; p < SNAP_CHUNK_PAGES; p++)
		if (bitmap[p / 8] & (1u << (p % 8))) {
			if (p >= pages)
				return -EINVAL; /* a page past the end of RAM */
			n++;
		}
	clen = snap_get32(len);
	if (!n)
		return clen ? -EINVAL : 0;
	if (clen > cap || take(in, cbuf, clen))
		return -EINVAL;
	got = ZSTD_decompressDCtx(dc, stage, n * SNAP_PAGE_SIZE, cbuf, clen);
	if (ZSTD_isError(got) || got != n * SNAP_PAGE_SIZE)
		return -EINVAL;
	n = 0;
	for (size_t p = 0; p < pages; p++)
		if (bitmap[p / 8] & (1u << (p % 8)))
			memcpy(ram + p * SNAP_PAGE_SIZE, stage + n++ * SNAP_PAGE_SIZE,
			       SNAP_PAGE_SIZE);
	return 0;
}

static int read_zstd(struct ram_in *in, uint8_t *ram, uint64_t size)
{
	size_t cap = ZSTD_compressBound(CHUNK_BYTES);
	uint8_t *stage = core_alloc(CHUNK_BYTES), *cbuf = core_alloc(cap);
	ZSTD_DCtx *dc = ZSTD_createDCtx();
	int r = stage && cbuf && dc ? 0 : -ENOMEM;

	for (uint64_t off = 0; off < size && !r; off += CHUNK_BYTES) {
		uint64_t left = (size - off) / SNAP_PAGE_SIZE;
		size_t pages = left < SNAP_CHUNK_PAGES ? (size_t)left : SNAP_CHUNK_PAGES;
		r = read_chunk(in, dc, ram + off, pages, stage, cbuf, cap);
	}
	ZSTD_freeDCtx(dc);
	core_free(stage);
	core_free(cbuf);
	return r;
}

/*
 * A lazily restored RAM is a MAP_PRIVATE mapping of the snapshot file: a page the guest
 * has not written yet is still the file's page. Were the file written or cut while the
 * guest runs (a user's `truncate`, a copy over it), the guest would read other memory, or
 * the process die of SIGBUS at its next touch past the new end: truncation takes away even
 * the pages the guest wrote (their private copies), as POSIX asks. So the restore holds a
 * read lease on the file (F_SETLEASE): the kernel makes whoever opens it for writing or
 * cuts it wait (up to fs.lease-break-time, 45 s) and signals us. The handler only wakes
 * the machine's owner (an eventfd); it pauses the machine and calls snap_ram_lease_detach,
 * which moves RAM into anonymous memory at the same address and gives the lease up; then
 * the writer goes on. Where no lease can be had (a file of another owner without
 * CAP_LEASE, a network file system), RAM is read at once instead. One lease per process
 * (a process runs one machine at a time).
 */
#define LEASE_SIGNAL (SIGRTMIN + 3)

static struct {
	volatile sig_atomic_t fd; /* the lease's descriptor (our own dup), -1: none */
	/* eventfd the handler writes: once made, open for the process's life (a handler
	 * running late on another thread, or the owner's poll, never meets a closed or
	 * reused descriptor), drained when the lease ends */
	int efd;
	void *ram;
	size_t size;
} lease = {.fd = -1, .efd = -1};

/* The lease is broken: another process opens the file for writing or truncates it. */
static void lease_broken(int sig, siginfo_t *si, void *uc)
{
	int fd = lease.fd, saved = errno;
	uint64_t one = 1;

	(void)sig;
	(void)uc;
	if (fd >= 0 && si->si_fd == fd && write(lease.efd, &one, sizeof(one)) < 0)
		(void)0; /* the counter is full: a wake-up is pending anyway */
	errno = saved;
}

static void lease_close(void)
{
	int fd = lease.fd;

	lease.fd = -1;
	if (fd >= 0) {
		(void)fcntl(fd, F_SETLEASE, F_UNLCK);
		close(fd);
	}
	if (lease.efd >= 0) {
		uint64_t n;
		(void)!read(lease.efd, &n, sizeof(n)); /* (non-blocking) */
	}
}

/* Takes the lease on `fd`'s file for `size` bytes of RAM at `ram`: 0, or -errno (no lease
 * held, nothing changed). */
static int lease_take(int fd, void *ram, size_t size)
{
	struct sigaction sa;
	int d, e;

	if (lease.fd >= 0)
		return -EBUSY;
	if (lease.efd < 0)
		lease.efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (lease.efd < 0)
		return -errno;
	d = fcntl(fd, F_DUPFD_CLOEXEC, 0);
	if (d < 0) {
		e = errno;
		lease_close();
		return -e;
	}
	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = lease_broken;
	sa.sa_flags = SA_SIGINFO | SA_RESTART;
	sigemptyset(&sa.sa_mask);
	lease.ram = ram;
	lease.size = size;
	lease.fd = d;
	if (sigaction(LEASE_SIGNAL, &sa, NULL) < 0 || fcntl(d, F_SETSIG, LEASE_SIGNAL) < 0 ||
	    fcntl(d, F_SETLEASE, F_RDLCK) < 0) {
		e = errno;
		lease_close();
		return -e;
	}
	return 0;
}

int snap_ram_lease_eventfd(const void *ram)
{
	return lease.fd >= 0 && ram == lease.ram ? lease.efd : -1;
}

int snap_ram_lease_signal_here(const void *ram)
{
	struct f_owner_ex own = {.type = F_OWNER_TID, .pid = (pid_t)syscall(SYS_gettid)};

	if (lease.fd < 0 || ram != lease.ram)
		return 0;
	return fcntl(lease.fd, F_SETOWN_EX, &own) < 0 ? -errno : 0;
}

int snap_ram_lease_detach(void *ram, bool hugepages)
{
	size_t size = lease.size, huge = 2u << 20;
	size_t lead, skew = (uintptr_t)ram & (huge - 1);
	uint8_t *map, *copy;

	if (lease.fd < 0 || ram != lease.ram)
		return 0;
	/* The copy lies as RAM does modulo 2 MiB: mremap moves its huge pages whole (at
	 * another offset it splits them, and the guest would run on 4 KiB mappings). */
	map = mmap(NULL, size + huge, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (map == MAP_FAILED)
		return -errno;
	lead = (skew - ((uintptr_t)map & (huge - 1))) & (huge - 1);
	copy = map + lead;
	if (lead)
		munmap(map, lead);
	munmap(copy + size, huge - lead);
	(void)madvise(copy, size, hugepages ? MADV_HUGEPAGE : MADV_NOHUGEPAGE);
	/* Zero pages stay untouched in the copy: a guest mostly empty stays small. */
	for (size_t off = 0; off < size; off += SNAP_PAGE_SIZE)
		if (!page_zero((const uint8_t *)ram + off))
			memcpy(copy + off, (const uint8_t *)ram + off, SNAP_PAGE_SIZE);
	if (mremap(copy, size, size, MREMAP_MAYMOVE | MREMAP_FIXED, ram) == MAP_FAILED) {
		int e = errno;
		munmap(copy, size);
		return -e;
	}
	lease_close();
	return 0;
}

void snap_ram_lease_end(const void *ram)
{
	if (lease.fd >= 0 && ram == lease.ram)
		lease_close();
}

static int read_raw(struct ram_in *in, uint8_t *ram, uint64_t size, bool lazy)
{
	uint64_t data = (in->off + SNAP_PAGE_SIZE - 1) / SNAP_PAGE_SIZE * SNAP_PAGE_SIZE;
	struct stat st;

	if (data > in->end || size != in->end - data)
		return -EINVAL;
	in->off = in->end;
	if (lazy && lease_take(in->r->fd, ram, (size_t)size) < 0)
		lazy = false;
	/* The file was measured when it was opened: cut since, before the lease, its
	 * mapping would end in SIGBUS at the guest's first touch past the new end. */
	if (lazy && (fstat(in->r->fd, &st) < 0 || (uint64_t)st.st_size < data + size)) {
		snap_ram_lease_end(ram);
		return -EIO;
	}
	if (!lazy)
		return snap_pread(in->r, ram, (size_t)size, data) ? -EIO : 0;
	if (mmap(ram, (size_t)size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_FIXED, in->r->fd,
		 (off_t)data) == MAP_FAILED) {
		int e = errno;
		snap_ram_lease_end(ram);
		return -e;
	}
	return 0;
}

int snap_read_ram(struct snap_reader *r, const struct snap_section *s, uint8_t *ram, uint64_t base,
		  uint64_t size, bool lazy, bool diff, char *err, size_t errlen)
{
	struct ram_in in = {.r = r, .off = s->offset, .end = s->offset + s->len};
	uint8_t d[SNAP_RAM_DESC];
	uint32_t enc;
	int ret;

	if (take(&in, d, sizeof(d)) || snap_get64(d) != base || snap_get64(d + 8) != size ||
	    snap_get32(d + 16) != SNAP_CHUNK_PAGES) {
		snap_errf(err, errlen,
			  "corrupt: the RAM section does not describe %llu MiB at "
			  "0x%llx",
			  (unsigned long long)(size >> 20), (unsigned long long)base);
		return -EINVAL;
	}
	enc = snap_get32(d + 20);
	if ((enc == SNAP_RAM_DIFF) != diff)
		ret = -EINVAL;
	else if (enc == SNAP_RAM_ZSTD || enc == SNAP_RAM_DIFF)
		ret = read_zstd(&in, ram, size);
	else if (enc == SNAP_RAM_RAW)
		ret = read_raw(&in, ram, size, lazy);
	else
		ret = -EINVAL;
	if (!ret && (in.off != in.end || in.crc != s->crc))
		ret = -EINVAL;
	if (ret == -EINVAL)
		snap_errf(err, errlen,
			  "corrupt: the RAM section fails its checks (checksum, "
			  "lengths or compressed data)");
	else if (ret)
		snap_errf(err, errlen, "cannot read the RAM section: %s", strerror(-ret));
	return ret;
}

int snap_userfaultfd(bool user_only, struct uffdio_api *api)
{
	int u = -1, r;

	errno = EPERM;
	if (!user_only)
		u = (int)syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK);
	if (u < 0 && (errno == EPERM || errno == EACCES))
		u = (int)syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK | UFFD_USER_MODE_ONLY);
	if (u < 0)
		return -errno;
	if (ioctl(u, UFFDIO_API, api) < 0) {
		r = -errno;
		close(u);
		return r;
	}
	return u;
}
