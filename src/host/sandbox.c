/*
 * Guest isolation (see sandbox.h): the daemon's plan and spawn, the guest's entry into
 * its sandbox, and the seccomp allow lists.
 */
#include "host/sandbox.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <linux/capability.h>
#include <linux/sched.h>
#include <seccomp.h>

#include "api/json.h"
#include "core/log.h"
#include "host/daemon.h"

#define NOFILE_LIMIT 4096

static const char *const firmware_defaults[] = {
	"/usr/lib/riscv64-linux-gnu/opensbi/generic/fw_dynamic.bin",
};

/* ---- the plan (daemon) ---- */

static int add_bind(struct sandbox_plan *p, const char *src, const char *dst, bool rw, bool dir)
{
	struct sandbox_bind *b;

	if (p->nbinds == SANDBOX_MAX_BINDS)
		return -E2BIG;
	b = &p->binds[p->nbinds++];
	b->src = src;
	if (snprintf(b->dst, sizeof(b->dst), "%s", dst) >= (int)sizeof(b->dst))
		return -ENAMETOOLONG;
	b->rw = rw;
	b->dir = dir;
	return 0;
}

/* The firmware a system guest gets when its request names none: the default guest's,
 * next to the lodge binary's build tree (build/MODE/lodge), then Debian's opensbi. */
static void default_firmware(const struct daemon *d, char *out, size_t len)
{
	char top[PATH_MAX];
	char *s;

	snprintf(top, sizeof(top), "%s", d->binary);
	for (int i = 0; i < 3 && (s = strrchr(top, '/')); i++)
		*s = 0;
	if (snprintf(out, len, "%s/guest-cache/out/fw_dynamic.bin", top) < (int)len &&
	    access(out, R_OK) == 0)
		return;
	for (size_t i = 0; i < sizeof(firmware_defaults) / sizeof(firmware_defaults[0]); i++)
		if (access(firmware_defaults[i], R_OK) == 0) {
			snprintf(out, len, "%s", firmware_defaults[i]);
			return;
		}
	out[0] = 0;
}

static bool uses_host_network(const cJSON *cfg)
{
	return cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(cfg, "nets")) > 0;
}

static int plan_binds(struct sandbox_plan *p, const struct guest *g, const char *firmware)
{
	const cJSON *c = g->config, *e;
	unsigned i = 0;
	char dst[64];
	int r = add_bind(p, p->run_dir, "/run", true, true);

	if (json_str(c, "restore", NULL)) /* a snapshot: read only, the rest comes from it */
		r = r ?: add_bind(p, json_str(c, "restore", ""), "/files/restore", false, false);
	if (json_str(c, "restore", NULL) && g->kind == GUEST_VM)
		return r;
	if (g->kind == GUEST_VM) {
		r = r ?: add_bind(p, json_str(c, "kernel", ""), "/files/kernel", false, false);
		if (json_str(c, "initrd", NULL))
			r = r
				    ?: add_bind(p, json_str(c, "initrd", ""), "/files/initrd",
						false, false);
		if (firmware[0])
			r = r ?: add_bind(p, firmware, "/files/firmware", false, false);
		cJSON_ArrayForEach(e, cJSON_GetObjectItemCaseSensitive(c, "disks"))
		{
			snprintf(dst, sizeof(dst), "/files/disk%u", i++);
			r = r ?: add_bind(p, e->valuestring, dst, true, false);
		}
		return r;
	}
	if (!json_str(c, "restore", NULL))
		r = r ?: add_bind(p, json_str(c, "wasm", ""), "/files/module.wasm", false, false);
	cJSON_ArrayForEach(e, cJSON_GetObjectItemCaseSensitive(c, "dirs"))
	{
		/* "HOST::GUEST": the host part, copied into the plan's arena */
		const char *sep = strstr(e->valuestring, "::");
		size_t n = sep ? (size_t)(sep - e->valuestring) : strlen(e->valuestring);
		char *host = p->arena + p->arena_used;
		if (p->arena_used + n + 1 > sizeof(p->arena))
			return -E2BIG;
		memcpy(host, e->valuestring, n);
		host[n] = 0;
		p->arena_used += n + 1;
		snprintf(dst, sizeof(dst), "/dirs/%u", i++);
		r = r ?: add_bind(p, host, dst, true, true);
	}
	return r;
}

static int write_spec(const struct sandbox_plan *p, char *err, size_t errlen)
{
	cJSON *o = cJSON_CreateObject(), *binds = cJSON_AddArrayToObject(o, "binds");
	char *text;
	FILE *f;
	int r = 0;

	cJSON_AddStringToObject(o, "root", p->root);
	cJSON_AddStringToObject(o, "hostname", p->hostname);
	for (unsigned i = 0; i < p->nbinds && binds; i++) {
		cJSON *b = cJSON_CreateObject();
		cJSON_AddStringToObject(b, "src", p->binds[i].src);
		cJSON_AddStringToObject(b, "dst", p->binds[i].dst);
		cJSON_AddBoolToObject(b, "rw", p->binds[i].rw);
		cJSON_AddBoolToObject(b, "dir", p->binds[i].dir);
		cJSON_AddItemToArray(binds, b);
	}
	text = cJSON_PrintUnformatted(o);
	cJSON_Delete(o);
	f = text ? fopen(p->spec_path, "we") : NULL;
	if (!f || fputs(text, f) < 0 || fclose(f) != 0) {
		r = -errno ?: -ENOMEM;
		snprintf(err, errlen, "cannot write %s: %s", p->spec_path, strerror(-r));
	}
	free(text);
	return r;
}

int sandbox_plan_make(struct daemon *d, struct guest *g, struct sandbox_plan *p, char *err,
		      size_t errlen)
{
	char *firmware = p->firmware;
	int r;

	/* No memset: the plan is large and its arrays are filled as far as they are used. */
	p->spec_path[0] = p->firmware[0] = 0;
	p->nbinds = p->next_inside = 0;
	p->arena_used = 0;
	p->enabled = !d->cfg.no_sandbox;
	p->seccomp = p->enabled;
	p->userns = p->enabled && d->userns_ok && !d->cfg.no_userns;
	p->netns = p->enabled && !uses_host_network(g->config);
	snprintf(p->hostname, sizeof(p->hostname), "%s", g->rec.name);
	guest_path(g, "root", p->root, sizeof(p->root));
	guest_path(g, "run", p->run_dir, sizeof(p->run_dir));
	guest_path(g, "run/api.sock", p->sock_path, sizeof(p->sock_path));
	guest_path(g, "run/console.log", p->log_path, sizeof(p->log_path));
	guest_path(g, "run/exit.json", p->exit_path, sizeof(p->exit_path));
	if (g->kind == GUEST_VM) {
		const char *fw = json_str(g->config, "firmware", NULL);
		if (fw)
			snprintf(firmware, sizeof(p->firmware), "%s", fw);
		else
			default_firmware(d, firmware, sizeof(p->firmware));
	}
	r = plan_binds(p, g, firmware);
	if (r) {
		snprintf(err, errlen, "too many files to share with the guest");
		return r;
	}
	if (!p->enabled)
		return 0;
	guest_path(g, "sandbox.json", p->spec_path, sizeof(p->spec_path));
	return write_spec(p, err, errlen);
}

void sandbox_plan_fini(struct sandbox_plan *p)
{
	(void)p; /* nothing allocated; the spec file stays for inspection */
}

const char *sandbox_inside(struct sandbox_plan *p, const char *what, unsigned i, const char *host)
{
	char *out = p->inside[p->next_inside++ % 4];
	const size_t cap = sizeof(p->inside[0]);
	const char *sep;

	if (!strcmp(what, "run")) {
		if (!p->enabled) /* the host path: the run directory may be long */
			return strcmp(host, "api.sock")
				       ? strcmp(host, "console.log") ? p->exit_path : p->log_path
				       : p->sock_path;
		snprintf(out, cap, "/run/%s", host);
		return out;
	}
	if (!strcmp(what, "firmware")) {
		for (unsigned k = 0; k < p->nbinds; k++)
			if (!strcmp(p->binds[k].dst, "/files/firmware"))
				return p->enabled ? "/files/firmware" : p->binds[k].src;
		return host;
	}
	if (!p->enabled)
		return host;
	if (!strcmp(what, "dir")) {
		sep = strstr(host, "::");
		if (snprintf(out, cap, "/dirs/%u::%s", i, sep ? sep + 2 : host) >= (int)cap)
			out[0] = 0; /* an over-long guest path: the guest reports it */
	} else if (!strcmp(what, "disk")) {
		snprintf(out, cap, "/files/disk%u", i);
	} else if (!strcmp(what, "wasm")) {
		snprintf(out, cap, "/files/module.wasm");
	} else {
		snprintf(out, cap, "/files/%.32s", what);
	}
	return out;
}

/* ---- spawning (daemon) ---- */

static int write_map(pid_t pid, const char *file, const char *map)
{
	char path[64];
	int fd, r = 0;

	snprintf(path, sizeof(path), "/proc/%d/%s", (int)pid, file);
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (write(fd, map, strlen(map)) < 0)
		r = -errno;
	close(fd);
	return r;
}

#define CHILD_STACK (64u << 10)

/* What the child reads, kept at the top of its stack. */
struct child_args {
	const struct sandbox_child *ch;
	int go, devnull;
};

/* The child, between the clone and the exec, sharing the daemon's memory: it touches only
 * its own stack and what the daemon keeps for it (sandbox_spawn). Waits for the daemon,
 * then becomes the guest. */
static int child_main(void *opaque)
{
	const struct child_args *a = opaque;
	sigset_t none;
	char c;

	if (read(a->go, &c, 1) != 1)
		_exit(125); /* the daemon went away before it recorded us */
	/* The daemon's signal mask and ignored SIGPIPE are not the guest's. */
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	signal(SIGPIPE, SIG_DFL);
	setsid();
	if (dup2(a->devnull, 0) < 0 || dup2(a->devnull, 1) < 0 || dup2(a->ch->logfd, 2) < 0)
		_exit(125);
	syscall(SYS_close_range, 3, ~0u, 0);
	execve(a->ch->binary, a->ch->argv, a->ch->envp);
	_exit(127);
}

int sandbox_spawn(const struct sandbox_plan *p, struct sandbox_child *ch, pid_t *pid, char *err,
		  size_t errlen)
{
	struct child_args *args;
	int go[2], devnull, pidfd = -1, flags = CLONE_VM | CLONE_PIDFD | SIGCHLD;
	uint8_t *stack;
	long r;

	stack = mmap(NULL, CHILD_STACK, PROT_READ | PROT_WRITE,
		     MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
	if (stack == MAP_FAILED)
		return -ENOMEM;
	if (pipe2(go, O_CLOEXEC) < 0) {
		r = -errno;
		goto err_stack;
	}
	devnull = open("/dev/null", O_RDWR | O_CLOEXEC);
	if (devnull < 0) {
		r = -errno;
		goto err_pipe;
	}
	if (p->enabled)
		flags |= CLONE_NEWPID | CLONE_NEWNS | CLONE_NEWIPC | CLONE_NEWUTS |
			 (p->netns ? CLONE_NEWNET : 0) | (p->userns ? CLONE_NEWUSER : 0);
	args = (struct child_args *)(void *)(stack + CHILD_STACK - 256);
	*args = (struct child_args){.ch = ch, .go = go[0], .devnull = devnull};
	ch->stack = stack;
	r = clone(child_main, args, flags, args, (pid_t *)&pidfd, NULL, NULL);
	if (r < 0) {
		r = -errno;
		snprintf(err, errlen, "cannot create the guest process: %s", strerror(errno));
		ch->stack = NULL;
		goto err_null;
	}
	/* The child has its own copy of the file table (no CLONE_FILES). */
	close(go[0]);
	close(devnull);
	if (p->userns) {
		/* The guest's root is the host's root, without capabilities (see README). */
		int e = write_map((pid_t)r, "uid_map", "0 0 1");
		e = e ?: write_map((pid_t)r, "gid_map", "0 0 1");
		if (e) {
			snprintf(err, errlen, "cannot map the guest's user namespace: %s",
				 strerror(-e));
			kill((pid_t)r, SIGKILL);
			close(go[1]);
			close(pidfd);
			return e; /* the stack stays with ch until the process is reaped */
		}
	}
	ch->pidfd = pidfd;
	ch->gofd = go[1];
	*pid = (pid_t)r;
	return 0;
err_null:
	close(devnull);
err_pipe:
	close(go[0]);
	close(go[1]);
err_stack:
	munmap(stack, CHILD_STACK);
	return (int)r;
}

void sandbox_child_free(struct sandbox_child *ch)
{
	if (ch->stack)
		munmap(ch->stack, CHILD_STACK);
	ch->stack = NULL;
}

int sandbox_release(struct sandbox_child *ch)
{
	int r = write(ch->gofd, "g", 1) == 1 ? 0 : -errno;

	close(ch->gofd);
	ch->gofd = -1;
	return r;
}

/* ---- entering the sandbox (guest) ---- */

static char *read_spec(const char *path)
{
	FILE *f = fopen(path, "re");
	char *buf = NULL;
	long n;

	if (!f)
		return NULL;
	if (fseek(f, 0, SEEK_END) == 0 && (n = ftell(f)) > 0 && n < (1 << 20) &&
	    fseek(f, 0, SEEK_SET) == 0 && (buf = calloc(1, (size_t)n + 1)) &&
	    fread(buf, 1, (size_t)n, f) != (size_t)n) {
		free(buf);
		buf = NULL;
	}
	fclose(f);
	return buf;
}

/* Creates the mount point for a bind under the new root: a directory or an empty file. */
static int make_point(const char *root, const char *dst, bool dir)
{
	char path[PATH_MAX];
	int fd;

	if (snprintf(path, sizeof(path), "%s%s", root, dst) >= (int)sizeof(path))
		return -ENAMETOOLONG;
	for (char *s = path + strlen(root) + 1; *s; s++) {
		if (*s != '/')
			continue;
		*s = 0;
		if (mkdir(path, 0755) < 0 && errno != EEXIST)
			return -errno;
		*s = '/';
	}
	if (dir)
		return mkdir(path, 0755) < 0 && errno != EEXIST ? -errno : 0;
	fd = open(path, O_CREAT | O_WRONLY | O_CLOEXEC, 0644);
	if (fd < 0)
		return -errno;
	close(fd);
	return 0;
}

/* Bind-mounts src at root+dst; read-only unless rw; never suid or device files. The
 * flags a mount inherited and cannot lose in a user namespace are kept. */
static int bind_one(const char *root, const char *src, const char *dst, bool rw, bool dir)
{
	char path[PATH_MAX];
	unsigned long flags = MS_BIND | MS_REMOUNT | MS_NOSUID | MS_NODEV;
	struct statvfs sv;
	int r = make_point(root, dst, dir);

	if (r)
		return r;
	snprintf(path, sizeof(path), "%s%s", root, dst);
	if (mount(src, path, NULL, MS_BIND | MS_REC, NULL) < 0)
		return -errno;
	if (statvfs(path, &sv) == 0 && (sv.f_flag & ST_NOEXEC))
		flags |= MS_NOEXEC;
	if (!rw || (statvfs(path, &sv) == 0 && (sv.f_flag & ST_RDONLY)))
		flags |= MS_RDONLY;
	if (mount(NULL, path, NULL, flags, NULL) < 0)
		return -errno;
	return 0;
}

static int build_root(const cJSON *spec)
{
	const char *root = json_str(spec, "root", NULL);
	const cJSON *b;
	int r;

	if (!root || root[0] != '/')
		return -EINVAL;
	/* Nothing we mount may propagate back to the host. */
	if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
		return -errno;
	if (mount("lodge-root", root, "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755,size=1m") < 0)
		return -errno;
	cJSON_ArrayForEach(b, cJSON_GetObjectItemCaseSensitive(spec, "binds"))
	{
		r = bind_one(root, json_str(b, "src", ""), json_str(b, "dst", "/x"),
			     json_bool(b, "rw", false), json_bool(b, "dir", false));
		if (r) {
			log_err("sandbox: cannot share %s as %s: %s", json_str(b, "src", ""),
				json_str(b, "dst", ""), strerror(-r));
			return r;
		}
	}
	return 0;
}

static int pivot(const char *root)
{
	char old[PATH_MAX];

	snprintf(old, sizeof(old), "%s/.old", root);
	if (mkdir(old, 0700) < 0 && errno != EEXIST)
		return -errno;
	if (syscall(SYS_pivot_root, root, old) < 0 || chdir("/") < 0)
		return -errno;
	if (umount2("/.old", MNT_DETACH) < 0 || rmdir("/.old") < 0)
		return -errno;
	/* The root itself holds only mount points: make it read-only. */
	if (mount(NULL, "/", NULL, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV, NULL) <
	    0)
		return -errno;
	return 0;
}

static int drop_privileges(void)
{
	struct __user_cap_header_struct h = {.version = _LINUX_CAPABILITY_VERSION_3};
	struct __user_cap_data_struct data[2];
	struct rlimit nofile = {NOFILE_LIMIT, NOFILE_LIMIT}, core = {0, 0};

	if (setrlimit(RLIMIT_NOFILE, &nofile) < 0 || setrlimit(RLIMIT_CORE, &core) < 0)
		return -errno;
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		return -errno;
	for (int cap = 0; cap <= 63; cap++)
		if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) < 0 && errno != EINVAL)
			return -errno;
	if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0 && errno != EINVAL)
		return -errno;
	memset(data, 0, sizeof(data));
	if (syscall(SYS_capset, &h, data) < 0)
		return -errno;
	return 0;
}

int sandbox_enter(const char *spec_path, int *statm_fd)
{
	char *text = read_spec(spec_path);
	cJSON *spec = text ? cJSON_Parse(text) : NULL;
	const char *host;
	int r;

	free(text);
	*statm_fd = open("/proc/self/statm", O_RDONLY | O_CLOEXEC);
	if (!spec) {
		log_err("sandbox: cannot read the spec %s: %s", spec_path,
			errno ? strerror(errno) : "malformed");
		return -EINVAL;
	}
	r = build_root(spec);
	if (!r) {
		r = pivot(json_str(spec, "root", ""));
		if (r)
			log_err("sandbox: cannot pivot into %s: %s", json_str(spec, "root", ""),
				strerror(-r));
	} else if (r != -EINVAL) {
		log_err("sandbox: cannot build the root %s: %s", json_str(spec, "root", ""),
			strerror(-r));
	}
	host = json_str(spec, "hostname", "guest");
	if (!r && sethostname(host, strlen(host)) < 0) {
		r = -errno;
		log_err("sandbox: cannot set the host name: %s", strerror(errno));
	}
	if (!r) {
		r = drop_privileges();
		if (r)
			log_err("sandbox: cannot drop privileges: %s", strerror(-r));
	}
	cJSON_Delete(spec);
	return r;
}

/* ---- seccomp ---- */

/* What both kinds of guest need once running: memory, threads (clone with CLONE_THREAD
 * only: no new processes), synchronisation, time, the control socket and pipes, signals
 * for the runtime itself. */
static const int common_calls[] = {
	SCMP_SYS(read),
	SCMP_SYS(write),
	SCMP_SYS(readv),
	SCMP_SYS(writev),
	SCMP_SYS(pread64),
	SCMP_SYS(pwrite64),
	SCMP_SYS(lseek),
	SCMP_SYS(close),
	SCMP_SYS(fstat),
	SCMP_SYS(newfstatat),
	SCMP_SYS(statx),
	SCMP_SYS(fcntl),
	SCMP_SYS(poll),
	SCMP_SYS(ppoll),
	SCMP_SYS(futex),
	SCMP_SYS(nanosleep),
	SCMP_SYS(clock_nanosleep),
	SCMP_SYS(clock_gettime),
	SCMP_SYS(clock_getres),
	SCMP_SYS(gettimeofday),
	SCMP_SYS(mmap),
	SCMP_SYS(munmap),
	SCMP_SYS(mremap),
	SCMP_SYS(mprotect),
	SCMP_SYS(madvise),
	SCMP_SYS(brk),
	SCMP_SYS(rt_sigaction),
	SCMP_SYS(rt_sigprocmask),
	SCMP_SYS(rt_sigreturn),
	SCMP_SYS(sigaltstack),
	SCMP_SYS(set_robust_list),
	SCMP_SYS(rseq),
	SCMP_SYS(exit),
	SCMP_SYS(exit_group),
	SCMP_SYS(gettid),
	SCMP_SYS(getpid),
	SCMP_SYS(tgkill),
	SCMP_SYS(sched_yield),
	SCMP_SYS(sched_getaffinity),
	SCMP_SYS(getrandom),
	SCMP_SYS(accept4),
	SCMP_SYS(recvfrom),
	SCMP_SYS(recvmsg),
	SCMP_SYS(sendto),
	SCMP_SYS(sendmsg),
	SCMP_SYS(getsockopt),
	SCMP_SYS(shutdown),
	SCMP_SYS(eventfd2),
	SCMP_SYS(pipe2),
	SCMP_SYS(unlink),
	SCMP_SYS(rename),
	SCMP_SYS(openat),
	SCMP_SYS(getrusage),
	SCMP_SYS(prlimit64),
	SCMP_SYS(sysinfo),
	SCMP_SYS(readlink),
	SCMP_SYS(getcwd),
	SCMP_SYS(mincore),	   /* the control socket's ram_resident_bytes */
	SCMP_SYS(restart_syscall), /* a system call resumed after a stop (SIGSTOP, freezer) */
};

/* System guests also re-create the machine on a guest reboot (memfd for JIT code); their
 * machine, made after the filter is in, opens its disks' io_uring rings, and user
 * networking (libslirp) makes the host sockets of the guest's connections and port
 * forwards (socket() itself only for IPv4 and IPv6: see sandbox_seccomp); glib, under
 * libslirp, seeds its random numbers with getppid() where /dev/urandom is missing, as
 * in the guest's root. */
static const int vm_calls[] = {
	SCMP_SYS(memfd_create),
	SCMP_SYS(ftruncate),
	SCMP_SYS(io_uring_setup),
	SCMP_SYS(io_uring_enter),
	SCMP_SYS(io_uring_register),
	SCMP_SYS(connect),
	SCMP_SYS(bind),
	SCMP_SYS(listen),
	SCMP_SYS(setsockopt),
	SCMP_SYS(getsockname),
	SCMP_SYS(getpeername),
	SCMP_SYS(getppid),
	SCMP_SYS(fsync), /* a snapshot's file (snapshot/file.c) before its rename */
};

/* WebAssembly guests run WASI, whose file calls stay below the preopened directories. */
static const int wasm_calls[] = {
	SCMP_SYS(openat2),    SCMP_SYS(mkdirat),   SCMP_SYS(unlinkat),	 SCMP_SYS(renameat),
	SCMP_SYS(renameat2),  SCMP_SYS(linkat),	   SCMP_SYS(symlinkat),	 SCMP_SYS(readlinkat),
	SCMP_SYS(getdents64), SCMP_SYS(fsync),	   SCMP_SYS(fdatasync),	 SCMP_SYS(ftruncate),
	SCMP_SYS(fallocate),  SCMP_SYS(utimensat), SCMP_SYS(futimesat),	 SCMP_SYS(fadvise64),
	SCMP_SYS(dup),	      SCMP_SYS(faccessat), SCMP_SYS(faccessat2),
};

static int allow_all(scmp_filter_ctx ctx, const int *calls, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		int r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, calls[i], 0);
		if (r)
			return r;
	}
	return 0;
}

int sandbox_seccomp(enum sandbox_kind kind)
{
	scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_KILL_PROCESS);
	int r;

	if (!ctx) {
		log_err("seccomp: cannot make a filter");
		return -ENOMEM;
	}
	r = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_TSYNC, 1);
	r = r ?: allow_all(ctx, common_calls, sizeof(common_calls) / sizeof(common_calls[0]));
	r = r
		    ?: (kind == SANDBOX_VM
				? allow_all(ctx, vm_calls, sizeof(vm_calls) / sizeof(vm_calls[0]))
				: allow_all(ctx, wasm_calls,
					    sizeof(wasm_calls) / sizeof(wasm_calls[0])));
	/* Threads yes, processes no: clone only with CLONE_THREAD; clone3 (whose flags a
	 * filter cannot see) answers ENOSYS, and the C library falls back to clone. */
	r = r
		    ?: seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(clone), 1,
					SCMP_A0(SCMP_CMP_MASKED_EQ, CLONE_THREAD, CLONE_THREAD));
	r = r ?: seccomp_rule_add(ctx, SCMP_ACT_ERRNO(ENOSYS), SCMP_SYS(clone3), 0);
	if (kind == SANDBOX_VM) /* libslirp's sockets; never netlink, packet or unix ones */
		r = r
			    ?: seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(socket), 1,
						SCMP_A0(SCMP_CMP_EQ, AF_INET))
			    ?: seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(socket), 1,
						SCMP_A0(SCMP_CMP_EQ, AF_INET6));
	/* isatty() on the console: TCGETS only. */
	r = r
		    ?: seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(ioctl), 1,
					SCMP_A1(SCMP_CMP_EQ, 0x5401 /* TCGETS */));
	r = r
		    ?: seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(prctl), 1,
					SCMP_A0(SCMP_CMP_EQ, PR_SET_NAME));
	r = r ?: seccomp_load(ctx);
	seccomp_release(ctx);
	if (r)
		log_err("seccomp: cannot install the filter: %s", strerror(-r));
	return r;
}

void sandbox_test_hook(void)
{
#ifdef LODGE_TEST_HOOKS
	const char *h = getenv("LODGE_TEST_HOOK");

	if (h && !strcmp(h, "forbidden-syscall")) {
		log_warn("test hook: calling ptrace, which the seccomp filter forbids");
		syscall(SYS_ptrace, 0 /* PTRACE_TRACEME */, 0, 0, 0);
		log_err("test hook: the forbidden system call returned");
	}
#endif
}
