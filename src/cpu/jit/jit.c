/*
 * The JIT's code buffer. Code lives in a memfd mapped once, read-execute; it is assembled
 * in a private staging buffer and written into the memfd with pwrite, so the process never
 * has a writable mapping of code at all (W^X without mprotect calls, and each code page is
 * counted once in the RSS). Each hart has its own buffer, used by its own thread only.
 * Translation itself is per host architecture (arch.h).
 */
#include "cpu/jit/jit.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "core/alloc.h"
#include "core/log.h"
#include "cpu/block.h"
#include "cpu/hart.h"
#include "cpu/jit/arch.h"

#if JIT_ARCH_SUPPORTED

/* Copies n staged bytes to offset `at` of the buffer. */
static int install(struct jit *j, size_t at, size_t n)
{
	size_t done = 0;

	while (done < n) {
		ssize_t w = pwrite(j->fd, j->staging + done, n - done, (off_t)(at + done));
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		done += (size_t)w;
	}
	return 0;
}

int jit_create(size_t size, struct block_cache *bc, struct jit **out)
{
	struct jit *j;
	void *rx;
	long n;
	int err;

	size = (size + 4095) & ~(size_t)4095;
	if (size < 4 * JIT_WINDOW)
		size = 4 * JIT_WINDOW;
	j = core_calloc(1, sizeof(*j));
	if (!j)
		return -ENOMEM;
	j->fd = -1;
	j->staging = core_calloc(1, JIT_WINDOW);
	if (!j->staging)
		goto fail_nomem;
	j->fd = memfd_create("lodge-jit", MFD_CLOEXEC);
	if (j->fd < 0 || ftruncate(j->fd, (off_t)size) < 0)
		goto fail_errno;
	rx = mmap(NULL, size, PROT_READ | PROT_EXEC, MAP_SHARED, j->fd, 0);
	if (rx == MAP_FAILED)
		goto fail_errno;
	j->rx = rx;
	j->size = size;
	j->bc = bc;
	n = jit_arch_stubs(j, j->staging, JIT_WINDOW, (uintptr_t)j->rx);
	if (n < 0 || install(j, 0, (size_t)n) < 0)
		goto fail_errno;
	j->used = j->reset_used = ((size_t)n + 63) & ~(size_t)63;
	if (getenv("LODGE_PERF_MAP")) {
		/* perf's convention for JIT symbols: /tmp/perf-PID.map, "start size name" */
		char path[64];
		snprintf(path, sizeof(path), "/tmp/perf-%d.map", (int)getpid());
		j->perf_map = fopen(path, "a");
		if (j->perf_map) {
			setvbuf(j->perf_map, NULL, _IOLBF, 0);
			fprintf(j->perf_map, "%lx %lx lodge-jit-stubs\n",
				(unsigned long)(uintptr_t)j->rx, (unsigned long)n);
		}
	}
	*out = j;
	return 0;

fail_errno:
	err = errno ? -errno : -ENOMEM;
	jit_destroy(j);
	return err;
fail_nomem:
	jit_destroy(j);
	return -ENOMEM;
}

void jit_destroy(struct jit *j)
{
	if (!j)
		return;
	if (j->rx)
		munmap((void *)(uintptr_t)j->rx, j->size);
	if (j->fd >= 0)
		close(j->fd);
	if (j->perf_map)
		fclose(j->perf_map);
	core_free(j->staging);
	core_free(j);
}

void jit_reset(struct jit *j)
{
	j->used = j->reset_used;
}

int jit_translate(struct jit *j, struct block *b)
{
	long n;

	if (j->size - j->used < JIT_WINDOW)
		return -ENOSPC;
	n = jit_arch_translate(j, b, j->staging, JIT_WINDOW, (uintptr_t)(j->rx + j->used));
	if (n <= 0) /* nothing to translate, or more code than a window: interpret it */
		return -ENOTSUP;
	if (install(j, j->used, (size_t)n) < 0) { /* cannot happen for our memfd */
		log_err("jit: writing code failed: %s; translating no more", strerror(errno));
		j->used = j->size;
		return -ENOTSUP;
	}
	b->jit = j->rx + j->used;
	if (j->perf_map)
		fprintf(j->perf_map, "%lx %lx rv@%llx.p%u\n", (unsigned long)(uintptr_t)b->jit,
			(unsigned long)n, (unsigned long long)b->vpc, b->priv);
	j->used += ((size_t)n + 15) & ~(size_t)15;
	j->blocks++;
	return 0;
}

int jit_run(struct jit *j, struct hart *h, const void *code, uint64_t *icount)
{
	int (*enter)(struct hart *, const void *, uint64_t) =
		(int (*)(struct hart *, const void *, uint64_t))j->stub[0];
	int r = enter(h, code, *icount);

	*icount = h->jit_icount;
	return r;
}

#else /* no translator for this host: the interpreter runs everything */

int jit_create(size_t size, struct block_cache *bc, struct jit **out)
{
	(void)size, (void)bc;
	*out = NULL;
	return -ENOTSUP;
}

void jit_destroy(struct jit *j)
{
	(void)j;
}

void jit_reset(struct jit *j)
{
	(void)j;
}

int jit_translate(struct jit *j, struct block *b)
{
	(void)j, (void)b;
	return -ENOTSUP;
}

int jit_run(struct jit *j, struct hart *h, const void *code, uint64_t *icount)
{
	(void)j, (void)h, (void)code, (void)icount;
	return JIT_EXIT_PC;
}

#endif

size_t jit_bytes(const struct jit *j)
{
	return j ? j->used : 0;
}

uint64_t jit_blocks(const struct jit *j)
{
	return j ? j->blocks : 0;
}
