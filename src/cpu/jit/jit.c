/*
 * The JIT's code buffer: the shared W^X buffer of src/jit/codebuf.h (a memfd mapped once,
 * read-execute, written with pwrite only), one per hart, used by its own thread only;
 * code is assembled in a private staging buffer first. Translation itself is per host
 * architecture (arch.h).
 */
#include "cpu/jit/jit.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/alloc.h"
#include "core/log.h"
#include "cpu/block.h"
#include "cpu/hart.h"
#include "cpu/jit/arch.h"

#if JIT_ARCH_SUPPORTED

int jit_create(size_t size, struct block_cache *bc, struct hart *h, struct jit **out)
{
	struct jit *j;
	long n;
	int err;

	if (size < 4 * JIT_WINDOW)
		size = 4 * JIT_WINDOW;
	j = core_calloc(1, sizeof(*j));
	if (!j)
		return -ENOMEM;
	j->staging = core_calloc(1, JIT_WINDOW);
	if (!j->staging) {
		core_free(j);
		return -ENOMEM;
	}
	err = jitbuf_init(&j->buf, size, "lodge-jit");
	if (err)
		goto fail;
	j->bc = bc;
	j->hart = h;
	n = jit_arch_stubs(j, j->staging, JIT_WINDOW, (uintptr_t)j->buf.rx);
	err = n < 0 ? -ENOSPC : jitbuf_write(&j->buf, 0, j->staging, (size_t)n);
	if (err)
		goto fail;
	j->buf.used = j->reset_used = ((size_t)n + 63) & ~(size_t)63;
	if (getenv("LODGE_PERF_MAP")) {
		/* perf's convention for JIT symbols: /tmp/perf-PID.map, "start size name" */
		char path[64];
		snprintf(path, sizeof(path), "/tmp/perf-%d.map", (int)getpid());
		j->perf_map = fopen(path, "a");
		if (j->perf_map) {
			setvbuf(j->perf_map, NULL, _IOLBF, 0);
			fprintf(j->perf_map, "%lx %lx lodge-jit-stubs\n",
				(unsigned long)(uintptr_t)j->buf.rx, (unsigned long)n);
		}
	}
	*out = j;
	return 0;

fail:
	jit_destroy(j);
	return err;
}

void jit_destroy(struct jit *j)
{
	if (!j)
		return;
	jitbuf_fini(&j->buf);
	if (j->perf_map)
		fclose(j->perf_map);
	core_free(j->staging);
	core_free(j);
}

void jit_reset(struct jit *j)
{
	j->buf.used = j->reset_used;
}

void jit_release(struct jit *j)
{
	jit_reset(j);
	(void)jitbuf_release(&j->buf, j->reset_used); /* only memory is at stake */
}

int jit_translate(struct jit *j, struct block *b, const struct block *home, bool *uses_ops)
{
	long n;

	const void *at;
	int err;

	*uses_ops = false;
	if (jitbuf_room(&j->buf, 16) < JIT_WINDOW)
		return -ENOSPC;
	n = jit_arch_translate(j, b, home ? home : b, uses_ops, j->staging, JIT_WINDOW,
			       jitbuf_next(&j->buf, 16));
	if (n <= 0) /* nothing to translate, or more code than a window: interpret it */
		return -ENOTSUP;
	err = jitbuf_append(&j->buf, j->staging, (size_t)n, 16, &at);
	if (err) { /* cannot happen for our memfd */
		log_err("jit: writing code failed: %s; translating no more", strerror(-err));
		j->buf.used = j->buf.size;
		return -ENOTSUP;
	}
	b->jit = at;
	if (j->perf_map)
		fprintf(j->perf_map, "%lx %lx rv@%llx.p%u\n", (unsigned long)(uintptr_t)b->jit,
			(unsigned long)n, (unsigned long long)b->vpc, b->priv);
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

int jit_create(size_t size, struct block_cache *bc, struct hart *h, struct jit **out)
{
	(void)size, (void)bc, (void)h;
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

void jit_release(struct jit *j)
{
	(void)j;
}

int jit_translate(struct jit *j, struct block *b, const struct block *home, bool *uses_ops)
{
	(void)j, (void)b, (void)home;
	*uses_ops = false;
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
	return j ? j->buf.used : 0;
}

size_t jit_capacity(const struct jit *j)
{
	return j ? j->buf.size : 0;
}

uint64_t jit_blocks(const struct jit *j)
{
	return j ? j->blocks : 0;
}
