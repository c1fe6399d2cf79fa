/*
 * WASI state in snapshots (docs/SNAPSHOT.md, "WebAssembly"): arguments, environment,
 * the preopened directories (host path and guest name), and the fd table. A file or
 * directory the program opened is saved as the preopen it was opened below and the path
 * path_open was given (relative to that), its host access flags and its offset; a
 * restore opens it again the same way, confined below the preopen (path.c), without
 * creating or truncating anything, and seeks to the offset. stdio stays the caller's
 * (the restoring process's own fds 0-2). Sockets and fds whose path is unknown cannot be
 * saved.
 */
#include "wasm/wasi/wasi.h"

#include "core/alloc.h"
#include "core/pathallow.h"
#include "core/sbuf.h"
#include "wasm/wasi/host.h"
#include "wasm/wasi/path.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define WASI_SNAP_VERSION 3	     /* 2: the poll_oneoff given up for the pause; 3: the clock */
#define STR_MAX		  (1u << 20) /* one argument, variable or path */
#define LIST_MAX	  65536u     /* arguments, variables or preopens */

enum { K_FREE, K_STDIO, K_PREOPEN, K_PATH };

#define KEEP_FLAGS (O_ACCMODE | O_APPEND | O_NONBLOCK | O_SYNC | O_DSYNC | O_DIRECTORY)

static int fail(char *err, size_t errlen, int rc, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static int fail(char *err, size_t errlen, int rc, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return rc;
}

/* A path from the file, safe to show on a terminal (escaped, cut), in one of two buffers. */
static const char *shown(const char *s)
{
	static _Thread_local char buf[2][300];
	static _Thread_local unsigned k;
	char *out = buf[k++ % 2];

	return wasm_name_escape(s, strlen(s), out, sizeof(buf[0]));
}

static void put_str(struct sbuf *b, const char *s)
{
	size_t n = strlen(s);

	sbuf_put_u32(b, (uint32_t)n);
	sbuf_put(b, s, n);
}

static void put_strs(struct sbuf *b, char **v, int n)
{
	sbuf_put_u32(b, (uint32_t)n);
	for (int i = 0; i < n; i++)
		put_str(b, v[i]);
}

int wasi_save(const struct wasi *w, struct sbuf *b, char *err, size_t errlen)
{
	sbuf_put_u32(b, WASI_SNAP_VERSION);
	put_strs(b, w->argv, w->argc);
	put_strs(b, w->env, w->nenv);
	sbuf_put_u32(b, (uint32_t)w->npre);
	for (int i = 0; i < w->npre; i++) {
		put_str(b, w->pre_host[i]);
		put_str(b, w->pre_guest[i]);
	}
	sbuf_put_u32(b, (uint32_t)w->nfds);
	for (int i = 0; i < w->nfds; i++) {
		const struct wasi_fd *f = &w->fds[i];
		int fl;
		off_t off = 0;

		if (f->host < 0) {
			sbuf_put_u8(b, K_FREE);
			continue;
		}
		if (!f->own) {
			sbuf_put_u8(b, K_STDIO);
		} else if (f->preopen) {
			sbuf_put_u8(b, K_PREOPEN);
		} else if (f->path && f->type != FT_STREAM && f->type != FT_DGRAM) {
			sbuf_put_u8(b, K_PATH);
		} else {
			return fail(err, errlen, -ENOTSUP,
				    "fd %d is a socket or its path is unknown: it cannot be saved",
				    i);
		}
		sbuf_put_u8(b, f->type);
		sbuf_put_u16(b, f->flags);
		sbuf_put_u64(b, f->base);
		sbuf_put_u64(b, f->inh);
		sbuf_put_u32(b, (uint32_t)f->root);
		if (!f->own || f->preopen)
			continue;
		fl = fcntl(f->host, F_GETFL);
		if (fl < 0)
			return fail(err, errlen, -errno, "fd %d: %s", i, strerror(errno));
		if (f->type != FT_DIR) {
			off = lseek(f->host, 0, SEEK_CUR);
			if (off < 0)
				off = 0; /* not seekable (a FIFO): nothing to keep */
		}
		put_str(b, f->path);
		sbuf_put_u32(b,
			     (uint32_t)(fl & KEEP_FLAGS) | (f->type == FT_DIR ? O_DIRECTORY : 0));
		sbuf_put_u64(b, (uint64_t)off);
	}
	/* a poll_oneoff given up for the pause, made again by the restore: how long it has
	 * waited so far, which the restore's clock goes on from */
	sbuf_put_u8(b, w->held.on);
	if (w->held.on) {
		uint64_t now = wasm_store_clock(w->store);
		sbuf_put_u32(b, w->held.subs);
		sbuf_put_u32(b, w->held.evs);
		sbuf_put_u32(b, w->held.n);
		sbuf_put_u32(b, w->held.nevents);
		sbuf_put_u64(b, now > w->held.start ? now - w->held.start : 0);
	}
	sbuf_put_u64(b, wasm_store_clock(w->store)); /* the restore's clock goes on from it */
	if (b->err)
		return fail(err, errlen, b->err, "out of memory");
	return 0;
}

/* A string of at most STR_MAX bytes, without NULs, into a new buffer (NULL: malformed or
 * out of memory, r->err says which when malformed). */
static char *get_str(struct sreader *r)
{
	uint32_t n = sread_u32(r);
	char *s;

	if (r->err || n > STR_MAX || n > r->len - r->off) {
		sreader_fail(r);
		return NULL;
	}
	if (memchr(r->data + r->off, 0, n)) {
		sreader_fail(r);
		return NULL;
	}
	s = core_alloc((size_t)n + 1);
	if (!s)
		return NULL;
	sread(r, s, n);
	s[n] = 0;
	return s;
}

static void free_list(char **v, uint32_t n)
{
	if (!v)
		return;
	for (uint32_t i = 0; i < n; i++)
		core_free(v[i]);
	core_free(v);
}

/* A list of strings (count, then each); NULL and *n 0 when malformed or out of memory. */
static char **get_list(struct sreader *r, uint32_t *n)
{
	uint32_t k = sread_u32(r);
	char **v;

	*n = 0;
	if (r->err || k > LIST_MAX || k > (r->len - r->off) / 4) {
		sreader_fail(r);
		return NULL;
	}
	v = core_calloc((size_t)k + 1, sizeof(char *));
	if (!v)
		return NULL;
	for (uint32_t i = 0; i < k; i++) {
		v[i] = get_str(r);
		if (!v[i]) {
			free_list(v, i);
			return NULL;
		}
	}
	*n = k;
	return v;
}

/* Rebuilds fd i from its record. Returns 0, or -errno with err filled. */
static int load_fd(struct wasi *w, struct sreader *r, int i, char *err, size_t errlen)
{
	struct wasi_fd *f = &w->fds[i];
	uint8_t kind = sread_u8(r), type;
	uint16_t flags;
	uint64_t base, inh, off;
	uint32_t root, fl;
	struct stat st;
	char *path;
	int fd, dir = -1;

	if (kind == K_FREE)
		return r->err ? -EINVAL : 0;
	type = sread_u8(r);
	flags = sread_u16(r);
	base = sread_u64(r);
	inh = sread_u64(r);
	root = sread_u32(r);
	if (r->err || kind > K_PATH || type > FT_SYMLINK || (flags & ~FDFLAGS_ALL))
		return fail(err, errlen, -EINVAL, "fd %d: a bad record", i);
	if (kind == K_STDIO) {
		if (root > 2)
			return fail(err, errlen, -EINVAL, "fd %d: stdio %u", i, root);
		f->host = w->stdio[root];
		f->own = false;
	} else if (kind == K_PREOPEN) {
		if (root >= (uint32_t)w->npre)
			return fail(err, errlen, -EINVAL, "fd %d: preopen %u of %d", i, root,
				    w->npre);
		fd = open(w->pre_host[root], O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (fd < 0)
			return fail(err, errlen, -errno, "preopen %s: %s", shown(w->pre_host[root]),
				    strerror(errno));
		f->host = fd;
		f->own = true;
		f->preopen = core_alloc(strlen(w->pre_guest[root]) + 1);
		if (!f->preopen)
			return fail(err, errlen, -ENOMEM, "out of memory");
		strcpy(f->preopen, w->pre_guest[root]);
	} else {
		if (root >= (uint32_t)w->npre)
			return fail(err, errlen, -EINVAL, "fd %d: preopen %u of %d", i, root,
				    w->npre);
		path = get_str(r);
		fl = sread_u32(r);
		off = sread_u64(r);
		if (!path || r->err || (fl & ~(uint32_t)KEEP_FLAGS) || off > INT64_MAX) {
			core_free(path);
			return fail(err, errlen, -EINVAL, "fd %d: a bad path record", i);
		}
		dir = open(w->pre_host[root], O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		/* as it was opened, confined below the preopen; never created or truncated */
		fd = dir < 0 ? -errno : wasi_path_open(&w->res, dir, path, (int)fl, 0);
		if (dir >= 0)
			close(dir);
		if (fd < 0) {
			fail(err, errlen, fd, "fd %d: %s/%s: %s", i, shown(w->pre_host[root]),
			     shown(path), strerror(-fd));
			core_free(path);
			return fd;
		}
		f->host = fd; /* from here on wasi_destroy frees the path with the fd */
		f->path = path;
		f->own = true;
		if (fstat(fd, &st) || (type == FT_DIR) != S_ISDIR(st.st_mode))
			return fail(err, errlen, -EINVAL, "fd %d: %s/%s is no longer a %s", i,
				    shown(w->pre_host[root]), shown(path),
				    type == FT_DIR ? "directory" : "file");
		if (off && lseek(fd, (off_t)off, SEEK_SET) < 0)
			return fail(err, errlen, -errno, "fd %d: seek to %llu: %s", i,
				    (unsigned long long)off, strerror(errno));
	}
	f->type = type;
	f->flags = flags;
	f->base = base;
	f->inh = inh;
	f->root = (int)root;
	return 0;
}

static int restore_ndirs = -1;
static const char *const *restore_dirs;
static bool restore_check; /* the saved preopens must be allowed ones */
static unsigned restore_nallow;
static const char *const *restore_allow;

void wasi_restore_dirs(int n, const char *const *host)
{
	restore_ndirs = n;
	restore_dirs = host;
}

void wasi_restore_allow(unsigned n, const char *const *paths)
{
	restore_check = true;
	restore_nallow = n;
	restore_allow = paths;
}

/* A saved preopen the restore would open: one this host allowed (wasi_restore_allow)? */
static int check_preopen(const char *host, char *err, size_t errlen)
{
	char resolved[PATH_MAX];
	int r = pathallow_resolve(host, false, resolved);

	if (!r && pathallow_within(resolved, restore_allow, restore_nallow))
		return 0;
	return fail(err, errlen, -EPERM,
		    "the stream's preopened directory %s (%s) is no path this host allowed: give "
		    "--incoming-allow DIR with a directory that holds it, or --dir HOST::GUEST "
		    "for each of the program's directories, in its order",
		    shown(host), r ? strerror(-r) : resolved);
}

int wasi_restore(struct wasm_store *s, const uint8_t *data, size_t len, const int stdio[3],
		 struct wasi **out, char *err, size_t errlen)
{
	struct sreader r;
	char **argv = NULL, **env = NULL, **host = NULL, **guest = NULL;
	uint32_t argc = 0, nenv = 0, npre = 0, nfds = 0, version, held;
	struct wasi_preopen *po = NULL;
	struct wasi *w = NULL;
	int rc = -ENOMEM;

	sreader_init(&r, data, len);
	version = sread_u32(&r);
	if (version < 1 || version > WASI_SNAP_VERSION)
		return fail(err, errlen, -EINVAL, "WASI state: unknown version");
	argv = get_list(&r, &argc);
	env = argv ? get_list(&r, &nenv) : NULL;
	if (env) {
		npre = sread_u32(&r);
		if (r.err || npre > MAX_FDS || npre > (r.len - r.off) / 8)
			sreader_fail(&r);
	}
	if (!env || r.err)
		goto bad;
	host = core_calloc((size_t)npre + 1, sizeof(char *));
	guest = core_calloc((size_t)npre + 1, sizeof(char *));
	po = core_calloc((size_t)npre + 1, sizeof(*po));
	if (!host || !guest || !po)
		goto bad;
	for (uint32_t i = 0; i < npre; i++) {
		host[i] = get_str(&r);
		guest[i] = host[i] ? get_str(&r) : NULL;
		if (!guest[i])
			goto bad;
		po[i] = (struct wasi_preopen){host[i], guest[i]};
	}
	if (restore_ndirs >= 0 && npre != (uint32_t)restore_ndirs) {
		rc = fail(err, errlen, -EINVAL,
			  "the program has %u preopened directories, %d --dir were given", npre,
			  restore_ndirs);
		goto out;
	}
	for (uint32_t i = 0; restore_ndirs >= 0 && i < npre; i++)
		po[i].host = restore_dirs[i];
	for (uint32_t i = 0; restore_ndirs < 0 && restore_check && i < npre; i++) {
		rc = check_preopen(po[i].host, err, errlen);
		if (rc)
			goto out;
	}
	{
		struct wasi_config cfg = {(int)argc, argv,     (int)nenv, env,	   (int)npre,
					  po,	     stdio[0], stdio[1],  stdio[2]};
		int bad_pre = -1;
		rc = wasi_create(s, &cfg, &w, &bad_pre);
		if (rc) {
			if (bad_pre >= 0)
				fail(err, errlen, rc, "preopened directory %s: %s",
				     shown(po[bad_pre].host), strerror(-rc));
			else
				fail(err, errlen, rc, "WASI set-up: %s", strerror(-rc));
			goto out;
		}
	}
	/* the fd table as saved, in place of the one wasi_create made */
	nfds = sread_u32(&r);
	if (r.err || nfds < 3 || nfds > MAX_FDS) {
		rc = fail(err, errlen, -EINVAL, "WASI state: %u fds", nfds);
		goto out;
	}
	for (int i = 0; i < w->nfds; i++) {
		if (w->fds[i].dir)
			closedir(w->fds[i].dir);
		if (w->fds[i].own && w->fds[i].host >= 0)
			close(w->fds[i].host);
		core_free(w->fds[i].preopen);
		core_free(w->fds[i].path);
	}
	memset(w->fds, 0, sizeof(w->fds));
	for (int i = 0; i < MAX_FDS; i++)
		w->fds[i].host = -1;
	w->nfds = (int)nfds;
	for (uint32_t i = 0; i < nfds; i++) {
		rc = load_fd(w, &r, (int)i, err, errlen);
		if (rc)
			goto out;
	}
	held = version >= 2 ? sread_u8(&r) : 0;
	if (held > 1) {
		rc = fail(err, errlen, -EINVAL, "WASI state: corrupt (given-up call flag %u)",
			  held);
		goto out;
	}
	uint64_t waited = 0;
	if (held) { /* (any values: only compared with the call's) */
		w->held.subs = sread_u32(&r);
		w->held.evs = sread_u32(&r);
		w->held.n = sread_u32(&r);
		w->held.nevents = sread_u32(&r);
		waited = sread_u64(&r);
	}
	if (version >= 3) /* the program's clock goes on from the snapshot's reading */
		wasm_store_set_clock(s, sread_u64(&r));
	if (held) {
		uint64_t now = wasm_store_clock(s);
		w->held.start = waited < now ? now - waited : 0;
		w->held.on = !r.err;
	}
	if (r.err) {
		rc = fail(err, errlen, -EINVAL, "WASI state: cut short");
		goto out;
	}
	if (r.off != r.len) {
		rc = fail(err, errlen, -EINVAL, "WASI state: %zu bytes left over", r.len - r.off);
		goto out;
	}
	*out = w;
	w = NULL;
	rc = 0;
	goto out;
bad:
	rc = r.err ? -EINVAL : -ENOMEM;
	fail(err, errlen, rc, "WASI state: %s",
	     r.err ? "a bad argument, variable or preopen record" : "out of memory");
out:
	wasi_destroy(w);
	free_list(argv, argc);
	free_list(env, nenv);
	free_list(host, npre);
	free_list(guest, npre);
	core_free(po);
	return rc;
}
