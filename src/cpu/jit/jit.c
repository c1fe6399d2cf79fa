/*
 * The JIT's code buffer: one memfd mapped twice, read-write for the translator and
 * read-execute for running, so the process never holds a writable and executable page.
 * Translation itself is per host architecture (arch.h).
 */
#include "cpu/jit/jit.h"

#include <errno.h>
#include <sys/mman.h>
#include <unistd.h>

#include "core/alloc.h"
#include "cpu/block.h"
#include "cpu/hart.h"
#include "cpu/jit/arch.h"

#if JIT_ARCH_SUPPORTED

int jit_create(size_t size, struct jit **out)
{
	struct jit *j;
	void *rw, *rx;
	int fd, err;

	j = core_calloc(1, sizeof(*j));
	if (!j)
		return -ENOMEM;
	fd = memfd_create("lodge-jit", MFD_CLOEXEC);
	if (fd < 0) {
		err = -errno;
		core_free(j);
		return err;
	}
	if (ftruncate(fd, (off_t)size) < 0) {
		err = -errno;
		close(fd);
		core_free(j);
		return err;
	}
	rw = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	rx = rw == MAP_FAILED ? MAP_FAILED
			      : mmap(NULL, size, PROT_READ | PROT_EXEC, MAP_SHARED, fd, 0);
	err = -errno;
	close(fd);
	if (rx == MAP_FAILED) {
		if (rw != MAP_FAILED)
			munmap(rw, size);
		core_free(j);
		return err ? err : -ENOMEM;
	}
	j->rw = rw;
	j->rx = rx;
	j->size = size;
	if (!jit_arch_trampoline(j)) {
		jit_destroy(j);
		return -ENOMEM;
	}
	j->reset_used = j->used;
	*out = j;
	return 0;
}

void jit_destroy(struct jit *j)
{
	if (!j)
		return;
	munmap(j->rw, j->size);
	munmap((void *)(uintptr_t)j->rx, j->size);
	core_free(j);
}

void jit_reset(struct jit *j)
{
	j->used = j->reset_used;
}

int jit_translate(struct jit *j, struct hart *h, struct block_cache *bc, struct block *b)
{
	long n = jit_arch_translate(j, h, bc, b);

	if (n < 0)
		return -ENOSPC;
	if (n == 0)
		return -ENOTSUP;
	b->jit = j->rx + j->used;
	j->used += ((size_t)n + 15) & ~(size_t)15;
	j->blocks++;
	return 0;
}

int jit_run(struct jit *j, struct hart *h, const void *code, uint64_t *icount)
{
	int r = j->enter(h, code, *icount);

	*icount = h->jit_icount;
	return r;
}

#else /* no translator for this host: the interpreter runs everything */

int jit_create(size_t size, struct jit **out)
{
	(void)size;
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

int jit_translate(struct jit *j, struct hart *h, struct block_cache *bc, struct block *b)
{
	(void)j, (void)h, (void)bc, (void)b;
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
