/*
 * /init of a Lodge OCI container VM (built static for riscv64 into
 * guest-cache/out/oci-initrd.img; `lodge oci` appends the container's archive: /rootfs,
 * /oci/container, /oci/volumes/N). As PID 1 it loads the vsock modules, mounts what the
 * container file lists under /rootfs (bind mounts from /oci/volumes, proc, sysfs, tmpfs,
 * devpts; /dev is the kernel's devtmpfs), makes /rootfs the root (switch_root's MS_MOVE +
 * chroot), connects to host port OCI_PORT_MAIN and serves sessions (src/host/oci_proto.h):
 * each runs one process with its user, cwd, environment and rlimits, relays its stdio and
 * the host's signals, and reports its wait status. exec sessions arrive on OCI_PORT_EXEC.
 * When the container's own process ends, every other process is killed (as when a pid
 * namespace's init dies), its output is drained, EXIT is sent and the machine powers off.
 * Messages for debugging go to the console (the host keeps it in console.log).
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/reboot.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include <linux/vm_sockets.h>

#include "host/oci_proto.h"

#define MAX_SESSIONS 32
#define MAX_RECS     4096
#define HOST_CID     2

extern char **environ;

struct field {
	const char *p;
	uint32_t len;
};

struct rec {
	char tag;
	int n;
	char *f[OCI_FIELDS_MAX]; /* NUL-terminated copies */
};

struct recs {
	int n;
	struct rec r[MAX_RECS];
};

struct session {
	bool used, main;
	int sock;
	pid_t pid;
	bool started, exited;
	int ws;
	int in_fd;	   /* pipe to the process's stdin, or the pty master; -1 when closed */
	int out_fd, err_fd; /* pipes from its stdout/stderr, or the pty master (out only) */
	bool terminal, in_eof;
	uint8_t *pend; /* stdin bytes not yet written */
	size_t npend;
	uint8_t *buf; /* frames from the host */
	size_t have;
};

/* A read-write directory volume to send back: its files as they were at boot. */
struct snap {
	char *path;
	ino_t ino;
	struct timespec ctime;
};

struct wbvol {
	int idx, fd; /* /oci/volumes/N, opened before the root moves */
	struct snap *snap;
	size_t n, cap;
};

#define MAX_WB 16

struct init {
	struct wbvol wb[MAX_WB];
	int nwb;
	struct session s[MAX_SESSIONS];
	int lfd, sigfd, cgroup_procs;
	bool main_done;
	int main_sock;
};

static void say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void say(const char *fmt, ...)
{
	va_list ap;
	char buf[512];
	int n = snprintf(buf, sizeof(buf), "oci-init: ");

	va_start(ap, fmt);
	vsnprintf(buf + n, sizeof(buf) - (size_t)n, fmt, ap);
	va_end(ap);
	strcat(buf, "\n");
	if (write(2, buf, strlen(buf)) < 0)
		return;
}

static void power_off(void)
{
	sync();
	reboot(RB_POWER_OFF);
	for (;;)
		pause();
}

/* ----- launch records ----- */

static uint32_t le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static void free_recs(struct recs *rs)
{
	for (int i = 0; i < rs->n; i++)
		for (int k = 0; k < rs->r[i].n; k++)
			free(rs->r[i].f[k]);
	rs->n = 0;
}

static int parse_recs(const uint8_t *p, size_t len, struct recs *rs)
{
	size_t off = 0;

	rs->n = 0;
	while (off < len) {
		struct rec *r;
		if (rs->n == MAX_RECS || len - off < 2)
			return -EINVAL;
		r = &rs->r[rs->n];
		r->tag = (char)p[off];
		r->n = p[off + 1];
		off += 2;
		if (r->n > OCI_FIELDS_MAX)
			return -EINVAL;
		for (int k = 0; k < r->n; k++) {
			uint32_t l;
			if (len - off < 4)
				return -EINVAL;
			l = le32(p + off);
			off += 4;
			if (len - off < l)
				return -EINVAL;
			r->f[k] = strndup((const char *)p + off, l);
			if (!r->f[k])
				return -ENOMEM;
			off += l;
		}
		rs->n++;
	}
	return 0;
}

static uint8_t *read_file(const char *path, size_t *len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	struct stat sb;
	uint8_t *b = NULL;

	if (fd < 0 || fstat(fd, &sb))
		goto out;
	b = malloc((size_t)sb.st_size + 1);
	if (b && read(fd, b, (size_t)sb.st_size) != sb.st_size) {
		free(b);
		b = NULL;
	}
	*len = (size_t)sb.st_size;
out:
	if (fd >= 0)
		close(fd);
	return b;
}

/* ----- modules ----- */

static void load_modules(void)
{
	char name[256], path[300];
	FILE *f = fopen("/lib/modules/oci.load", "re");

	while (f && fgets(name, sizeof(name), f)) {
		name[strcspn(name, "\n")] = 0;
		if (!name[0])
			continue;
		snprintf(path, sizeof(path), "/lib/modules/%s", name);
		int fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd < 0 || (syscall(SYS_finit_module, fd, "", 0) && errno != EEXIST))
			say("cannot load %s: %s", name, strerror(errno));
		if (fd >= 0)
			close(fd);
	}
	if (f)
		fclose(f);
}

struct session;
static void send_frame(struct session *s, int type, const void *p, size_t n);
static void send_u32(struct session *s, int type, uint32_t v);

/* ----- read-write volumes: a snapshot at boot, the changes at the end ----- */

typedef void (*walk_fn)(void *ctx, int dfd, const char *name, const char *rel,
			const struct stat *sb);

/* Calls fn for every entry below directory dfd, parents before children, never following
 * symlinks. */
static void walk(int dfd, const char *rel, walk_fn fn, void *ctx, int depth)
{
	int fd = dup(dfd);
	DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
	struct dirent *e;
	char path[4096];

	if (!d) {
		if (fd >= 0)
			close(fd);
		return;
	}
	rewinddir(d);
	while ((e = readdir(d))) {
		struct stat sb;
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		if (snprintf(path, sizeof(path), "%s%s%s", rel, *rel ? "/" : "", e->d_name) >=
			    (int)sizeof(path) ||
		    fstatat(dirfd(d), e->d_name, &sb, AT_SYMLINK_NOFOLLOW))
			continue;
		fn(ctx, dirfd(d), e->d_name, path, &sb);
		if (S_ISDIR(sb.st_mode) && depth < 128) {
			int sub = openat(dirfd(d), e->d_name,
					 O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
			if (sub >= 0) {
				walk(sub, path, fn, ctx, depth + 1);
				close(sub);
			}
		}
	}
	closedir(d);
}

static void snap_one(void *ctx, int dfd, const char *name, const char *rel, const struct stat *sb)
{
	struct wbvol *v = ctx;

	(void)dfd;
	(void)name;
	if (v->n == v->cap) {
		struct snap *m = realloc(v->snap, (v->cap = v->cap * 2 + 64) * sizeof(*m));
		if (!m)
			return;
		v->snap = m;
	}
	v->snap[v->n].path = strdup(rel);
	if (!v->snap[v->n].path)
		return;
	v->snap[v->n].ino = sb->st_ino;
	v->snap[v->n++].ctime = sb->st_ctim;
}

static int snap_cmp(const void *a, const void *b)
{
	return strcmp(((const struct snap *)a)->path, ((const struct snap *)b)->path);
}

static void wb_open(struct init *in, const char *idx)
{
	char path[64];
	struct wbvol *v;

	if (in->nwb == MAX_WB)
		return;
	v = &in->wb[in->nwb];
	v->idx = atoi(idx);
	snprintf(path, sizeof(path), "/oci/volumes/%d", v->idx);
	v->fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (v->fd < 0) {
		say("volume %s: %s (not sent back)", path, strerror(errno));
		return;
	}
	walk(v->fd, "", snap_one, v, 0);
	if (v->n > 1)
		qsort(v->snap, v->n, sizeof(*v->snap), snap_cmp);
	in->nwb++;
}

struct wbsend {
	struct session *s;
	struct wbvol *v;
};

static void put_le(uint8_t *p, uint64_t v, int n)
{
	for (int i = 0; i < n; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static void send_one(void *ctx, int dfd, const char *name, const char *rel, const struct stat *sb)
{
	struct wbsend *w = ctx;
	struct snap key = {.path = (char *)rel}, *old;
	uint8_t *f;
	size_t plen = strlen(rel), tlen = 0;
	char kind, target[4096];

	old = bsearch(&key, w->v->snap, w->v->n, sizeof(key), snap_cmp);
	if (old && old->ino == sb->st_ino && old->ctime.tv_sec == sb->st_ctim.tv_sec &&
	    old->ctime.tv_nsec == sb->st_ctim.tv_nsec)
		kind = 's';
	else if (S_ISREG(sb->st_mode))
		kind = 'f';
	else if (S_ISDIR(sb->st_mode))
		kind = 'd';
	else if (S_ISLNK(sb->st_mode))
		kind = 'l';
	else
		return; /* devices, fifos, sockets: not volume content */
	if (kind == 'l') {
		ssize_t n = readlinkat(dfd, name, target, sizeof(target));
		if (n < 0 || n == (ssize_t)sizeof(target))
			return;
		tlen = (size_t)n;
	}
	if (OCI_WB_ENTRY_SIZE + plen + tlen > OCI_FRAME_MAX)
		return;
	f = calloc(1, OCI_WB_ENTRY_SIZE + plen + tlen);
	if (!f)
		return;
	f[0] = (uint8_t)kind;
	put_le(f + 4, sb->st_mode & 07777, 4);
	put_le(f + 8, sb->st_uid, 4);
	put_le(f + 12, sb->st_gid, 4);
	put_le(f + 16, (uint64_t)sb->st_mtim.tv_sec, 8);
	put_le(f + 24, kind == 'f' ? (uint64_t)sb->st_size : tlen, 8);
	put_le(f + 32, (uint64_t)sb->st_mtim.tv_nsec, 4);
	put_le(f + 36, plen, 4);
	memcpy(f + OCI_WB_ENTRY_SIZE, rel, plen);
	memcpy(f + OCI_WB_ENTRY_SIZE + plen, target, tlen);
	send_frame(w->s, OCI_F_WB_ENTRY, f, OCI_WB_ENTRY_SIZE + plen + tlen);
	free(f);
	if (kind != 'f')
		return;
	/* Exactly st_size bytes follow, whatever happens to the file (nothing runs now). */
	int fd = openat(dfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	uint64_t left = (uint64_t)sb->st_size;
	static uint8_t buf[OCI_FRAME_MAX];
	while (left) {
		size_t want = left < sizeof(buf) ? (size_t)left : sizeof(buf);
		ssize_t n = fd >= 0 ? read(fd, buf, want) : -1;
		if (n <= 0) {
			memset(buf, 0, want);
			n = (ssize_t)want;
		}
		send_frame(w->s, OCI_F_WB_DATA, buf, (size_t)n);
		left -= (uint64_t)n;
	}
	if (fd >= 0)
		close(fd);
}

/* The volumes' final state, once nothing else runs. */
static void send_volumes(struct init *in, struct session *s)
{
	for (int i = 0; i < in->nwb; i++) {
		struct wbsend w = {s, &in->wb[i]};
		send_u32(s, OCI_F_WB_BEGIN, (uint32_t)in->wb[i].idx);
		walk(in->wb[i].fd, "", send_one, &w, 0);
		send_frame(s, OCI_F_WB_END, NULL, 0);
	}
}

/* ----- the container's file system ----- */

static int mkdirs(const char *path, mode_t mode)
{
	char p[4096];

	snprintf(p, sizeof(p), "%s", path);
	for (char *s = p + 1; *s; s++) {
		if (*s != '/')
			continue;
		*s = 0;
		if (mkdir(p, mode) && errno != EEXIST)
			return -errno;
		*s = '/';
	}
	if (mkdir(p, mode) && errno != EEXIST)
		return -errno;
	return 0;
}

/* Mount options as mount(2) flags, the rest as the data string. */
static unsigned long parse_options(const char *opts, char *data, size_t dlen)
{
	static const struct {
		const char *name;
		unsigned long set, clear;
	} flags[] = {
		{"ro", MS_RDONLY, 0},	    {"rw", 0, MS_RDONLY},	  {"nosuid", MS_NOSUID, 0},
		{"suid", 0, MS_NOSUID},	    {"nodev", MS_NODEV, 0},	  {"dev", 0, MS_NODEV},
		{"noexec", MS_NOEXEC, 0},   {"exec", 0, MS_NOEXEC},	  {"sync", MS_SYNCHRONOUS, 0},
		{"async", 0, MS_SYNCHRONOUS}, {"dirsync", MS_DIRSYNC, 0}, {"noatime", MS_NOATIME, 0},
		{"atime", 0, MS_NOATIME},   {"relatime", MS_RELATIME, 0}, {"norelatime", 0, MS_RELATIME},
		{"strictatime", MS_STRICTATIME, 0}, {"nodiratime", MS_NODIRATIME, 0},
		{"bind", 0, 0}, {"rbind", 0, 0}, {"private", 0, 0}, {"rprivate", 0, 0},
		{"slave", 0, 0}, {"rslave", 0, 0}, {"shared", 0, 0}, {"rshared", 0, 0},
	};
	char copy[1024], *save, *tok;
	unsigned long fl = 0;

	data[0] = 0;
	snprintf(copy, sizeof(copy), "%s", opts);
	for (tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		size_t k;
		for (k = 0; k < sizeof(flags) / sizeof(flags[0]); k++)
			if (!strcmp(tok, flags[k].name))
				break;
		if (k < sizeof(flags) / sizeof(flags[0])) {
			fl = (fl | flags[k].set) & ~flags[k].clear;
			continue;
		}
		if (strlen(data) + strlen(tok) + 2 < dlen) {
			if (data[0])
				strcat(data, ",");
			strcat(data, tok);
		}
	}
	return fl;
}

static int bind_volume(const char *src, const char *dst, unsigned long fl)
{
	struct stat sb;
	int r;

	if (stat(src, &sb))
		return -errno;
	if (S_ISDIR(sb.st_mode)) {
		r = mkdirs(dst, 0755);
	} else {
		char parent[4096];
		snprintf(parent, sizeof(parent), "%s", dst);
		*strrchr(parent, '/') = 0;
		r = mkdirs(parent, 0755);
		if (!r && access(dst, F_OK)) {
			int fd = open(dst, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
			if (fd < 0)
				r = -errno;
			else
				close(fd);
		}
	}
	if (r)
		return r;
	if (mount(src, dst, NULL, MS_BIND | MS_REC, NULL))
		return -errno;
	/* Flags on a bind mount take a remount (the first mount ignores them). */
	if ((fl & ~MS_REC) && mount(NULL, dst, NULL, MS_REMOUNT | MS_BIND | fl, NULL))
		return -errno;
	return 0;
}

/* One mount record: destination (symlink-free, below the root), type, source, options. */
static int do_mount(const struct rec *r, bool *have_dev, bool *have_pts)
{
	char dst[4096], data[1024];
	const char *type = r->f[1];
	unsigned long fl = parse_options(r->f[3], data, sizeof(data));

	snprintf(dst, sizeof(dst), "/rootfs%s", strcmp(r->f[0], "/") ? r->f[0] : "");
	if (!strcmp(type, "bind"))
		return bind_volume(r->f[2], dst, fl);
	if (mkdirs(dst, 0755))
		return -errno;
	if (!strcmp(r->f[0], "/dev")) {
		/* The VM's own devices: the container's /dev is the guest kernel's devtmpfs. */
		*have_dev = true;
		return mount("devtmpfs", dst, "devtmpfs", fl & ~MS_NODEV, NULL) ? -errno : 0;
	}
	if (!strcmp(r->f[0], "/dev/pts"))
		*have_pts = true;
	if (!strcmp(type, "cgroup") || !strcmp(type, "cgroup2"))
		return mount("cgroup2", dst, "cgroup2", fl, NULL) ? -errno : 0;
	if (!strcmp(type, "devpts") && !strstr(data, "ptmxmode"))
		strcat(data, data[0] ? ",ptmxmode=0666" : "ptmxmode=0666");
	return mount(r->f[2], dst, type, fl, data[0] ? data : NULL) ? -errno : 0;
}

/* The container's pids limit, in a cgroup of the guest. Returns an fd of its cgroup.procs
 * (writing "0" there moves the writer in) or -1. */
static int pids_cgroup(const char *limit)
{
	int fd;

	if (mkdirs("/oci/cg", 0755) || mount("cgroup2", "/oci/cg", "cgroup2", 0, NULL)) {
		say("cgroup2: %s (no pids limit)", strerror(errno));
		return -1;
	}
	fd = open("/oci/cg/cgroup.subtree_control", O_WRONLY | O_CLOEXEC);
	if (fd < 0 || write(fd, "+pids", 5) != 5)
		say("cannot enable the pids controller: %s", strerror(errno));
	if (fd >= 0)
		close(fd);
	mkdir("/oci/cg/ctr", 0755);
	fd = open("/oci/cg/ctr/pids.max", O_WRONLY | O_CLOEXEC);
	if (fd < 0 || write(fd, limit, strlen(limit)) != (ssize_t)strlen(limit))
		say("cannot set pids.max to %s: %s", limit, strerror(errno));
	if (fd >= 0)
		close(fd);
	return open("/oci/cg/ctr/cgroup.procs", O_WRONLY | O_CLOEXEC);
}

static void set_sysctl(const char *key, const char *val)
{
	char path[512];
	int fd;

	snprintf(path, sizeof(path), "/proc/sys/%s", key);
	for (char *p = path + 10; *p; p++)
		if (*p == '.')
			*p = '/';
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0 || write(fd, val, strlen(val)) < 0)
		say("sysctl %s: %s", key, strerror(errno));
	if (fd >= 0)
		close(fd);
}

/* Builds the container's root. Returns 0 or -errno with why in msg. */
static int setup_root(struct init *in, char *msg, size_t mlen)
{
	struct recs *rs = calloc(1, sizeof(*rs));
	size_t len = 0;
	uint8_t *b = read_file("/oci/container", &len);
	bool ro = false, have_dev = false, have_pts = false;
	int r = 0;

	in->cgroup_procs = -1;
	if (!rs || !b || parse_recs(b, len, rs)) {
		snprintf(msg, mlen, "cannot read /oci/container");
		r = -EINVAL;
		goto out;
	}
	if (mount("/rootfs", "/rootfs", NULL, MS_BIND | MS_REC, NULL)) {
		r = -errno;
		snprintf(msg, mlen, "cannot bind the rootfs: %s", strerror(-r));
		goto out;
	}
	/* The pids cgroup first: a read-only cgroup2 mount among the container's would make
	 * the shared superblock read-only for the mkdir this needs. */
	for (int i = 0; i < rs->n; i++)
		if (rs->r[i].tag == OCI_R_PIDS && rs->r[i].n == 1)
			in->cgroup_procs = pids_cgroup(rs->r[i].f[0]);
	for (int i = 0; i < rs->n && !r; i++) {
		const struct rec *c = &rs->r[i];
		if (c->tag == OCI_R_MOUNT && c->n == 4) {
			r = do_mount(c, &have_dev, &have_pts);
			if (r && strcmp(c->f[1], "bind") && strcmp(c->f[1], "tmpfs") &&
			    strcmp(c->f[1], "proc")) {
				say("mount %s (%s): %s: left out", c->f[0], c->f[1], strerror(-r));
				r = 0;
			} else if (r) {
				snprintf(msg, mlen, "mount %s (%s) failed: %s", c->f[0], c->f[1],
					 strerror(-r));
			}
		} else if (c->tag == OCI_R_WRITEBACK && c->n == 1) {
			wb_open(in, c->f[0]);
		} else if (c->tag == OCI_R_READONLY) {
			ro = true;
		} else if (c->tag == OCI_R_HOSTNAME && c->n == 1) {
			if (sethostname(c->f[0], strlen(c->f[0])))
				say("hostname %s: %s", c->f[0], strerror(errno));
		}
	}
	/* Terminals and /dev/null need a /dev even when config.json mounts none. */
	if (!r && !have_dev && !mkdirs("/rootfs/dev", 0755))
		mount("devtmpfs", "/rootfs/dev", "devtmpfs", MS_NOSUID, NULL);
	if (!r && !have_pts && !mkdirs("/rootfs/dev/pts", 0755))
		mount("devpts", "/rootfs/dev/pts", "devpts", MS_NOSUID | MS_NOEXEC,
		      "newinstance,ptmxmode=0666");
	if (!r && (chdir("/rootfs") || mount(".", "/", NULL, MS_MOVE, NULL) || chroot(".") ||
		   chdir("/"))) {
		r = -errno;
		snprintf(msg, mlen, "cannot make /rootfs the root: %s", strerror(-r));
	}
	if (!r && ro && mount(NULL, "/", NULL, MS_REMOUNT | MS_BIND | MS_RDONLY, NULL))
		say("cannot make the root read-only: %s", strerror(errno));
	for (int i = 0; i < rs->n && !r; i++)
		if (rs->r[i].tag == OCI_R_SYSCTL && rs->r[i].n == 2)
			set_sysctl(rs->r[i].f[0], rs->r[i].f[1]);
out:
	if (rs)
		free_recs(rs);
	free(rs);
	free(b);
	return r;
}

/* ----- sessions ----- */

static void write_all(int fd, const void *p, size_t n)
{
	while (n) {
		ssize_t w = write(fd, p, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return; /* the host went away: nothing to tell */
		p = (const char *)p + w;
		n -= (size_t)w;
	}
}

static void send_frame(struct session *s, int type, const void *p, size_t n)
{
	struct oci_frame_hdr h = {.type = (uint8_t)type, .len = (uint32_t)n};

	if (s->sock < 0)
		return;
	write_all(s->sock, &h, sizeof(h));
	write_all(s->sock, p, n);
}

static void send_u32(struct session *s, int type, uint32_t v)
{
	uint8_t b[4] = {(uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16), (uint8_t)(v >> 24)};

	send_frame(s, type, b, 4);
}

struct launch {
	char **args, **env;
	int nargs, nenv;
	const char *cwd;
	uid_t uid;
	gid_t gid;
	gid_t groups[64];
	int ngroups;
	long umask;
	bool terminal, nnp;
	struct {
		int res;
		struct rlimit lim;
	} rl[32];
	int nrl;
};

static int parse_launch(struct recs *rs, struct launch *l)
{
	memset(l, 0, sizeof(*l));
	l->umask = 022;
	l->cwd = "/";
	l->args = calloc((size_t)rs->n + 1, sizeof(char *));
	l->env = calloc((size_t)rs->n + 1, sizeof(char *));
	if (!l->args || !l->env)
		return -ENOMEM;
	for (int i = 0; i < rs->n; i++) {
		struct rec *r = &rs->r[i];
		const char *f = r->n ? r->f[0] : "";
		switch (r->tag) {
		case OCI_R_ARG:
			l->args[l->nargs++] = r->f[0];
			break;
		case OCI_R_ENV:
			l->env[l->nenv++] = r->f[0];
			break;
		case OCI_R_CWD:
			l->cwd = f;
			break;
		case OCI_R_UID:
			l->uid = (uid_t)strtoul(f, NULL, 10);
			break;
		case OCI_R_GID:
			l->gid = (gid_t)strtoul(f, NULL, 10);
			break;
		case OCI_R_GROUP:
			if (l->ngroups < 64)
				l->groups[l->ngroups++] = (gid_t)strtoul(f, NULL, 10);
			break;
		case OCI_R_UMASK:
			l->umask = strtol(f, NULL, 8);
			break;
		case OCI_R_TERMINAL:
			l->terminal = true;
			break;
		case OCI_R_NNP:
			l->nnp = true;
			break;
		case OCI_R_RLIMIT:
			if (r->n == 3 && l->nrl < 32) {
				long long soft = strtoll(r->f[1], NULL, 10);
				long long hard = strtoll(r->f[2], NULL, 10);
				l->rl[l->nrl].res = atoi(r->f[0]);
				l->rl[l->nrl].lim.rlim_cur = soft < 0 ? RLIM_INFINITY : (rlim_t)soft;
				l->rl[l->nrl].lim.rlim_max = hard < 0 ? RLIM_INFINITY : (rlim_t)hard;
				l->nrl++;
			}
			break;
		default:
			break;
		}
	}
	return l->nargs ? 0 : -EINVAL;
}

/* In the child: becomes the process. Writes the failing step and errno to errfd. */
static void child(const struct launch *l, int cg, int errfd)
{
	int e, step = 0;
	sigset_t none;

	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	for (int s = 1; s < NSIG; s++)
		signal(s, SIG_DFL);
	if (cg >= 0 && write(cg, "0", 1) < 0)
		say("cannot join the pids cgroup: %s", strerror(errno));
	if (chdir(l->cwd))
		goto fail;
	step = 1;
	for (int i = 0; i < l->nrl; i++)
		if (setrlimit(l->rl[i].res, &l->rl[i].lim))
			goto fail;
	step = 2;
	if (setgroups((size_t)l->ngroups, l->groups) || setgid(l->gid) || setuid(l->uid))
		goto fail;
	umask((mode_t)l->umask);
	if (l->nnp)
		prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
	step = 3;
	environ = l->env;
	execvp(l->args[0], l->args);
fail:
	e = errno;
	if (write(errfd, &step, sizeof(step)) < 0 || write(errfd, &e, sizeof(e)) < 0)
		_exit(127);
	_exit(127);
}

static void set_nonblock(int fd)
{
	fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
}

/* Starts the process of session s from its SPEC payload. */
static void spawn(struct init *in, struct session *s, const uint8_t *p, size_t len)
{
	static struct recs rs;
	struct launch l = {0};
	int io[3][2] = {{-1, -1}, {-1, -1}, {-1, -1}}, ep[2], pty = -1, step = 0, e = 0;
	char msg[600], name[64];
	pid_t pid;

	if (parse_recs(p, len, &rs) || parse_launch(&rs, &l)) {
		send_frame(s, OCI_F_ERROR, "malformed process", 17);
		s->exited = true;
		s->ws = 125 << 8;
		goto out;
	}
	s->terminal = l.terminal;
	if (l.terminal) {
		pty = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
		if (pty < 0 || grantpt(pty) || unlockpt(pty) || ptsname_r(pty, name, sizeof(name))) {
			snprintf(msg, sizeof(msg), "cannot allocate a terminal: %s", strerror(errno));
			send_frame(s, OCI_F_ERROR, msg, strlen(msg));
			s->exited = true;
			s->ws = 125 << 8;
			goto out;
		}
	} else if (pipe2(io[0], O_CLOEXEC) || pipe2(io[1], O_CLOEXEC) || pipe2(io[2], O_CLOEXEC)) {
		say("pipe: %s", strerror(errno));
	}
	if (pipe2(ep, O_CLOEXEC))
		ep[0] = ep[1] = -1;
	pid = fork();
	if (pid == 0) {
		setsid();
		if (l.terminal) {
			int t = open(name, O_RDWR);
			ioctl(t, TIOCSCTTY, 0);
			dup2(t, 0);
			dup2(t, 1);
			dup2(t, 2);
		} else {
			dup2(io[0][0], 0);
			dup2(io[1][1], 1);
			dup2(io[2][1], 2);
		}
		child(&l, in->cgroup_procs, ep[1]);
	}
	close(ep[1]);
	if (pid > 0 && read(ep[0], &step, sizeof(step)) == sizeof(step)) {
		if (read(ep[0], &e, sizeof(e)) != sizeof(e))
			e = EIO;
		waitpid(pid, NULL, 0);
		pid = -1;
	}
	close(ep[0]);
	if (pid <= 0) {
		static const char *const what[] = {"chdir to cwd (\"%s\") set in config.json failed",
						   "setrlimit failed (%s)", "cannot set user (%s)",
						   "exec"};
		char head[300];
		snprintf(head, sizeof(head), what[step], step == 0 ? l.cwd : "");
		if (step == 3 && e == ENOENT)
			snprintf(msg, sizeof(msg), "exec: \"%s\": executable file not found in $PATH",
				 l.args[0]);
		else if (step == 3)
			snprintf(msg, sizeof(msg), "exec: \"%s\": %s", l.args[0],
				 strerror(e ? e : errno));
		else
			snprintf(msg, sizeof(msg), "%s: %s", head, strerror(e));
		send_frame(s, OCI_F_ERROR, msg, strlen(msg));
		s->exited = true;
		s->ws = (step == 3 && e != ENOENT ? 126 : 127) << 8;
		if (pty >= 0)
			close(pty);
		for (int k = 0; k < 3; k++) {
			if (io[k][0] >= 0)
				close(io[k][0]);
			if (io[k][1] >= 0)
				close(io[k][1]);
		}
		goto out;
	}
	s->pid = pid;
	s->started = true;
	if (l.terminal) {
		s->in_fd = pty;
		s->out_fd = fcntl(pty, F_DUPFD_CLOEXEC, 0);
		s->err_fd = -1;
	} else {
		close(io[0][0]);
		close(io[1][1]);
		close(io[2][1]);
		s->in_fd = io[0][1];
		s->out_fd = io[1][0];
		s->err_fd = io[2][0];
	}
	set_nonblock(s->in_fd);
	set_nonblock(s->out_fd);
	if (s->err_fd >= 0)
		set_nonblock(s->err_fd);
	send_u32(s, OCI_F_STARTED, (uint32_t)pid);
out:
	free(l.args);
	free(l.env);
	free_recs(&rs);
}

static void close_fd(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

/* Relays what the process wrote; returns false at its end of file. */
static bool drain(struct session *s, int *fd, int type)
{
	uint8_t buf[32768];

	for (;;) {
		ssize_t n = read(*fd, buf, sizeof(buf));
		if (n > 0) {
			send_frame(s, type, buf, (size_t)n);
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			return true;
		close_fd(fd); /* EOF, or EIO from a pty whose other side closed */
		return false;
	}
}

static void flush_stdin(struct session *s)
{
	while (s->npend && s->in_fd >= 0) {
		ssize_t n = write(s->in_fd, s->pend, s->npend);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			return;
		if (n < 0) { /* the process closed its stdin: drop the rest */
			s->npend = 0;
			break;
		}
		memmove(s->pend, s->pend + n, s->npend - (size_t)n);
		s->npend -= (size_t)n;
	}
	if (!s->npend && s->in_eof && !s->terminal)
		close_fd(&s->in_fd);
}

static void finish(struct init *in, struct session *s)
{
	if (s->out_fd >= 0)
		drain(s, &s->out_fd, OCI_F_STDOUT);
	if (s->err_fd >= 0)
		drain(s, &s->err_fd, OCI_F_STDERR);
	if (s->main && in->nwb) {
		/* Everything else was killed: once it is all gone, the volumes hold still. */
		int ws;
		pid_t pid;
		while ((pid = waitpid(-1, &ws, 0)) > 0)
			for (int i = 0; i < MAX_SESSIONS; i++)
				if (in->s[i].used && in->s[i].pid == pid) {
					in->s[i].exited = true;
					in->s[i].ws = ws;
				}
		send_volumes(in, s);
	}
	send_u32(s, OCI_F_EXIT, (uint32_t)s->ws);
	if (s->main) { /* kept open until the host has it all (see main) */
		in->main_done = true;
		in->main_sock = s->sock;
		s->sock = -1;
	}
	close_fd(&s->sock);
	close_fd(&s->in_fd);
	close_fd(&s->out_fd);
	close_fd(&s->err_fd);
	free(s->pend);
	free(s->buf);
	memset(s, 0, sizeof(*s));
	s->sock = s->in_fd = s->out_fd = s->err_fd = -1;
}

static void host_frame(struct init *in, struct session *s, int type, const uint8_t *p, uint32_t n)
{
	switch (type) {
	case OCI_F_SPEC:
		if (!s->started && !s->exited)
			spawn(in, s, p, n);
		break;
	case OCI_F_STDIN: {
		uint8_t *m = realloc(s->pend, s->npend + n);
		if (!m || s->in_fd < 0)
			break;
		memcpy(m + s->npend, p, n);
		s->pend = m;
		s->npend += n;
		flush_stdin(s);
		break;
	}
	case OCI_F_STDIN_EOF:
		s->in_eof = true;
		flush_stdin(s);
		break;
	case OCI_F_SIGNAL:
		if (n == 4 && s->pid > 0 && !s->exited)
			kill(s->pid, (int)le32(p));
		break;
	case OCI_F_RESIZE:
		if (n == 4 && s->terminal && s->in_fd >= 0) {
			struct winsize ws = {.ws_row = (unsigned short)(p[0] | p[1] << 8),
					     .ws_col = (unsigned short)(p[2] | p[3] << 8)};
			ioctl(s->in_fd, TIOCSWINSZ, &ws);
		}
		break;
	default:
		break;
	}
}

/* Frames from the host on s; a closed connection ends the process (host gone). */
static void from_host(struct init *in, struct session *s)
{
	ssize_t n = read(s->sock, s->buf + s->have, sizeof(struct oci_frame_hdr) + OCI_FRAME_MAX -
							     s->have);
	size_t off = 0;

	if (n <= 0) {
		if (n < 0 && (errno == EINTR || errno == EAGAIN))
			return;
		close_fd(&s->sock);
		if (s->pid > 0 && !s->exited)
			kill(s->pid, SIGKILL);
		return;
	}
	s->have += (size_t)n;
	while (s->have - off >= sizeof(struct oci_frame_hdr)) {
		uint32_t len = le32(s->buf + off + 4);
		if (len > OCI_FRAME_MAX) {
			close_fd(&s->sock);
			return;
		}
		if (s->have - off - sizeof(struct oci_frame_hdr) < len)
			break;
		host_frame(in, s, s->buf[off], s->buf + off + sizeof(struct oci_frame_hdr), len);
		off += sizeof(struct oci_frame_hdr) + len;
	}
	memmove(s->buf, s->buf + off, s->have - off);
	s->have -= off;
}

static struct session *new_session(struct init *in, int sock)
{
	for (int i = 0; i < MAX_SESSIONS; i++) {
		struct session *s = &in->s[i];
		if (s->used)
			continue;
		memset(s, 0, sizeof(*s));
		s->used = true;
		s->sock = sock;
		s->in_fd = s->out_fd = s->err_fd = -1;
		s->buf = malloc(sizeof(struct oci_frame_hdr) + OCI_FRAME_MAX);
		if (!s->buf)
			break;
		return s;
	}
	close(sock);
	return NULL;
}

static void reap(struct init *in)
{
	int ws;
	pid_t pid;

	while ((pid = waitpid(-1, &ws, WNOHANG)) > 0) {
		for (int i = 0; i < MAX_SESSIONS; i++) {
			struct session *s = &in->s[i];
			if (!s->used || s->pid != pid)
				continue;
			s->exited = true;
			s->ws = ws;
			if (s->main) /* the container ends with its process: end the rest too */
				kill(-1, SIGKILL);
		}
	}
}

static void serve(struct init *in)
{
	for (;;) {
		struct pollfd p[2 + MAX_SESSIONS * 4];
		struct session *who[2 + MAX_SESSIONS * 4];
		int n = 0, live = 0;

		for (int i = 0; i < MAX_SESSIONS; i++) {
			struct session *s = &in->s[i];
			if (!s->used)
				continue;
			if (s->sock < 0 && s->pid <= 0) /* the host left before starting one */
				s->exited = true;
			if (s->exited) {
				finish(in, s);
				continue;
			}
			live++;
			if (s->sock >= 0 && !s->npend)
				who[n] = s, p[n++] = (struct pollfd){s->sock, POLLIN, 0};
			if (s->out_fd >= 0)
				who[n] = s, p[n++] = (struct pollfd){s->out_fd, POLLIN, 0};
			if (s->err_fd >= 0)
				who[n] = s, p[n++] = (struct pollfd){s->err_fd, POLLIN, 0};
			if (s->npend && s->in_fd >= 0)
				who[n] = s, p[n++] = (struct pollfd){s->in_fd, POLLOUT, 0};
		}
		/* Once the container's process is gone, the others (killed) finish too. */
		if (in->main_done && !live)
			return;
		who[n] = NULL, p[n++] = (struct pollfd){in->sigfd, POLLIN, 0};
		who[n] = NULL, p[n++] = (struct pollfd){in->lfd, POLLIN, 0};
		if (poll(p, (nfds_t)n, -1) < 0)
			continue;
		for (int k = 0; k < n; k++) {
			struct session *s = who[k];
			if (!p[k].revents)
				continue;
			if (!s && p[k].fd == in->sigfd) {
				struct signalfd_siginfo si;
				if (read(in->sigfd, &si, sizeof(si)) > 0)
					reap(in);
			} else if (!s) {
				int c = accept4(in->lfd, NULL, NULL, SOCK_CLOEXEC);
				if (c >= 0)
					new_session(in, c);
			} else if (p[k].fd == s->sock) {
				from_host(in, s);
			} else if (p[k].fd == s->out_fd) {
				drain(s, &s->out_fd, OCI_F_STDOUT);
			} else if (p[k].fd == s->err_fd) {
				drain(s, &s->err_fd, OCI_F_STDERR);
			} else if (p[k].fd == s->in_fd) {
				flush_stdin(s);
			}
		}
	}
}

static int vsock_listen(unsigned port)
{
	struct sockaddr_vm sa = {.svm_family = AF_VSOCK, .svm_cid = VMADDR_CID_ANY, .svm_port = port};
	int fd = socket(AF_VSOCK, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) || listen(fd, 8)) {
		say("vsock listen %u: %s", port, strerror(errno));
		return -1;
	}
	return fd;
}

static int vsock_connect(unsigned port)
{
	struct sockaddr_vm sa = {.svm_family = AF_VSOCK, .svm_cid = HOST_CID, .svm_port = port};

	for (int tries = 0; tries < 50; tries++) {
		int fd = socket(AF_VSOCK, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (fd >= 0 && !connect(fd, (struct sockaddr *)&sa, sizeof(sa)))
			return fd;
		say("vsock connect to host port %u: %s", port, strerror(errno));
		if (fd >= 0)
			close(fd);
		usleep(100000);
	}
	return -1;
}

int main(void)
{
	static struct init in = {.main_sock = -1};
	char msg[512];
	sigset_t set;
	int sock, r;

	mkdir("/proc", 0555);
	mkdir("/sys", 0555);
	mkdir("/dev", 0755);
	mount("proc", "/proc", "proc", 0, NULL);
	mount("sysfs", "/sys", "sysfs", 0, NULL);
	mount("devtmpfs", "/dev", "devtmpfs", 0, NULL);
	/* The archive has no /dev/console node: open the console now that /dev exists. */
	int con = open("/dev/console", O_RDWR | O_NOCTTY);
	if (con >= 0) {
		dup2(con, 0);
		dup2(con, 1);
		dup2(con, 2);
		if (con > 2)
			close(con);
	}
	signal(SIGPIPE, SIG_IGN);
	load_modules();
	r = setup_root(&in, msg, sizeof(msg));
	sigemptyset(&set);
	sigaddset(&set, SIGCHLD);
	sigprocmask(SIG_BLOCK, &set, NULL);
	in.sigfd = signalfd(-1, &set, SFD_CLOEXEC);
	in.lfd = vsock_listen(OCI_PORT_EXEC);
	sock = vsock_connect(OCI_PORT_MAIN);
	if (sock < 0) {
		say("cannot reach the host: powering off");
		power_off();
	}
	struct session *s = new_session(&in, sock);
	if (!s)
		power_off();
	s->main = true;
	if (r) {
		say("%s", msg);
		send_frame(s, OCI_F_ERROR, msg, strlen(msg));
		s->exited = true;
		s->ws = 125 << 8;
	}
	serve(&in);
	/* Powering off at once could lose EXIT in the virtqueue: wait for the host to close the
	 * session (it stops the VM once it has the status). */
	if (in.main_sock >= 0) {
		char b[256];
		struct pollfd p = {in.main_sock, POLLIN, 0};
		shutdown(in.main_sock, SHUT_WR);
		while (poll(&p, 1, 10000) > 0 && read(in.main_sock, b, sizeof(b)) > 0)
			;
	}
	power_off();
}
