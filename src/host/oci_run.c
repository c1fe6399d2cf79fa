/*
 * The runtime-spec operations (runtime.md "Operations" and "Lifecycle") with runc's
 * command-line behaviour. `create` forks the container's process (the "monitor"): it joins
 * the cgroup, prepares the VM's initramfs or checks the module, then waits on exec.fifo as
 * runc's init does; `start` writes the fifo and the process runs the module in Lodge's
 * Wasm engine or boots the VM and relays to it. That process's pid is the container's pid
 * in `state`; `kill` signals it and it forwards signals to the guest; it exits like the
 * container's process (same status, or killed by the same signal), which is what an
 * engine's monitor (conmon, containerd's shim: subreapers) sees when it reaps it.
 */
#include "host/oci_internal.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <grp.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "core/alloc.h"

#define KILL_WAIT_MS 10000 /* delete --force: how long the process may take to die */

/* ----- small helpers ----- */

static void sleep_ms(int ms)
{
	nanosleep(&(struct timespec){ms / 1000, (ms % 1000) * 1000000L}, NULL);
}

static int write_pid_file(const struct oci_ctx *c, const char *path, pid_t pid)
{
	char buf[32];
	int r;

	if (!path)
		return 0;
	snprintf(buf, sizeof(buf), "%d", (int)pid);
	r = oci_write_file(path, buf, strlen(buf), 0644);
	if (r)
		oci_err(c, "cannot write pid file %s: %s", path, strerror(-r));
	return r;
}

static int copy_file(const char *from, const char *to)
{
	char buf[65536];
	int in = open(from, O_RDONLY | O_CLOEXEC), out, r = 0;
	ssize_t n;

	if (in < 0)
		return -errno;
	out = open(to, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (out < 0) {
		r = -errno;
		close(in);
		return r;
	}
	while ((n = read(in, buf, sizeof(buf))) > 0)
		if (write(out, buf, (size_t)n) != n) {
			r = -EIO;
			break;
		}
	if (n < 0)
		r = -errno;
	close(in);
	if (close(out) && !r)
		r = -errno;
	return r;
}

/* ----- terminals: a pty whose master goes to the engine over --console-socket ----- */

/* Sends fd over the unix socket at path with SCM_RIGHTS, as runc does (the payload is the
 * terminal's name). */
static int send_console(const struct oci_ctx *c, const char *path, int fd, const char *name)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	char cbuf[CMSG_SPACE(sizeof(int))];
	struct iovec iov = {(void *)name, strlen(name)};
	struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1};
	struct cmsghdr *cm;
	int s, r = 0;

	if (strlen(path) >= sizeof(sa.sun_path)) {
		oci_err(c, "console socket path %s is too long", path);
		return -ENAMETOOLONG;
	}
	strcpy(sa.sun_path, path);
	s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (s < 0 || connect(s, (struct sockaddr *)&sa, sizeof(sa))) {
		r = -errno;
		oci_err(c, "cannot connect to console socket %s: %s", path, strerror(-r));
		goto out;
	}
	memset(cbuf, 0, sizeof(cbuf));
	msg.msg_control = cbuf;
	msg.msg_controllen = sizeof(cbuf);
	cm = CMSG_FIRSTHDR(&msg);
	cm->cmsg_level = SOL_SOCKET;
	cm->cmsg_type = SCM_RIGHTS;
	cm->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(cm), &fd, sizeof(int));
	if (sendmsg(s, &msg, 0) < 0) {
		r = -errno;
		oci_err(c, "cannot send the terminal over %s: %s", path, strerror(-r));
	}
out:
	if (s >= 0)
		close(s);
	return r;
}

/* Opens a pty; the master goes over the console socket, the slave is returned. */
static int make_terminal(const struct oci_ctx *c, const char *sock, unsigned rows, unsigned cols)
{
	int m = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC), s = -1, r;
	char name[64];

	if (m < 0 || grantpt(m) || unlockpt(m) || ptsname_r(m, name, sizeof(name)) ||
	    (s = open(name, O_RDWR | O_NOCTTY | O_CLOEXEC)) < 0) {
		oci_err(c, "cannot allocate a terminal: %s", strerror(errno));
		if (m >= 0)
			close(m);
		return -1;
	}
	if (rows && cols) {
		struct winsize ws = {.ws_row = (unsigned short)rows,
				     .ws_col = (unsigned short)cols};
		ioctl(m, TIOCSWINSZ, &ws);
	}
	r = send_console(c, sock, m, name);
	close(m);
	if (r) {
		close(s);
		return -1;
	}
	return s;
}

/* Makes fd (a terminal slave) this new session's controlling terminal and stdio. */
static void use_terminal(int fd)
{
	setsid();
	ioctl(fd, TIOCSCTTY, 0);
	dup2(fd, 0);
	dup2(fd, 1);
	dup2(fd, 2);
	if (fd > 2)
		close(fd);
}

/* ----- hooks (config.md "POSIX-platform Hooks"): host programs fed the state ----- */

static int run_hook(const struct oci_ctx *c, const struct oci_hook *h, const char *state)
{
	int pfd[2], ws = 0, waited = 0;
	pid_t pid;

	if (pipe2(pfd, O_CLOEXEC))
		return -errno;
	pid = fork();
	if (pid == 0) {
		char *def[] = {(char *)h->path, NULL};
		char *noenv[] = {NULL};
		dup2(pfd[0], 0);
		execve(h->path, h->nargs ? h->args : def, h->nenv ? h->env : noenv);
		_exit(127);
	}
	close(pfd[0]);
	if (pid < 0) {
		close(pfd[1]);
		return -errno;
	}
	signal(SIGPIPE, SIG_IGN);
	if (write(pfd[1], state, strlen(state)) < 0)
		oci_debug(c, "hook %s did not read the state", h->path);
	close(pfd[1]);
	while (waitpid(pid, &ws, WNOHANG) == 0) {
		if (h->timeout && waited >= h->timeout * 1000) {
			kill(pid, SIGKILL);
			waitpid(pid, &ws, 0);
			oci_err(c, "hook %s timed out after %d seconds", h->path, h->timeout);
			return -ETIMEDOUT;
		}
		sleep_ms(5);
		waited += 5;
	}
	if (!WIFEXITED(ws) || WEXITSTATUS(ws)) {
		oci_err(c, "hook %s failed: %s %d", h->path,
			WIFEXITED(ws) ? "exit status" : "signal",
			WIFEXITED(ws) ? WEXITSTATUS(ws) : WTERMSIG(ws));
		return -EIO;
	}
	return 0;
}

static int run_hooks(const struct oci_ctx *c, const struct oci_spec *spec, enum oci_hook_kind k,
		     const struct oci_state *st)
{
	char *state;
	int r = 0;

	if (!spec->nhooks[k])
		return 0;
	state = oci_state_json(st, false);
	if (!state)
		return -ENOMEM;
	for (int i = 0; i < spec->nhooks[k] && !r; i++)
		r = run_hook(c, &spec->hooks[k][i], state);
	cJSON_free(state);
	return r;
}

/* Loads the configuration saved in the state directory (for exec, start and delete: the
 * bundle may be gone by then, and its rootfs unmounted). */
static int saved_spec(const struct oci_ctx *c, const struct oci_state *st, struct oci_spec *spec)
{
	char path[PATH_MAX + 16];

	snprintf(path, sizeof(path), "%s/config.json", st->dir);
	return oci_spec_read(c, path, st->bundle, false, spec);
}

/* ----- the container's process ----- */

/* rlimits for a process running on the host (the Wasm engine): a hard limit above what
 * this process may raise to is clamped, with a warning (hosts with low hard limits). */
static void apply_rlimits(const struct oci_ctx *c, const struct oci_process *p)
{
	for (int i = 0; i < p->nrlimits; i++) {
		struct rlimit rl = {p->rlimits[i].soft, p->rlimits[i].hard}, cur;
		if (!setrlimit(p->rlimits[i].resource, &rl))
			continue;
		if (getrlimit(p->rlimits[i].resource, &cur))
			continue;
		if (rl.rlim_max > cur.rlim_max)
			rl.rlim_max = cur.rlim_max;
		if (rl.rlim_cur > rl.rlim_max)
			rl.rlim_cur = rl.rlim_max;
		if (setrlimit(p->rlimits[i].resource, &rl))
			oci_warn(c, "rlimit %d: %s", p->rlimits[i].resource, strerror(errno));
		else /* not a failure: the engine's defaults exceed many hosts' limits */
			oci_debug(c,
				  "rlimit %d: the hard limit %llu is above this host's; using %llu",
				  p->rlimits[i].resource, (unsigned long long)p->rlimits[i].hard,
				  (unsigned long long)rl.rlim_max);
	}
}

static int become_user(const struct oci_ctx *c, const struct oci_process *p)
{
	gid_t gids[256];
	int n = p->ngids < 256 ? p->ngids : 256;

	for (int i = 0; i < n; i++)
		gids[i] = p->gids[i];
	if ((getuid() == 0 && setgroups((size_t)n, gids)) || setgid(p->gid) || setuid(p->uid)) {
		oci_err(c, "cannot run as uid %u gid %u: %s", p->uid, p->gid, strerror(errno));
		return -errno;
	}
	if (p->no_new_privs)
		prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
	if (p->umask >= 0)
		umask((mode_t)p->umask);
	return 0;
}

/* WASI sees the rootfs as "/", each directory bind mount at its destination and the
 * working directory as ".". Returns the count; paths are stored in store. */
static int wasm_preopens(const struct oci_spec *spec, const struct oci_process *p,
			 struct wasi_preopen *dirs, int max, char (*store)[PATH_MAX])
{
	struct stat sb;
	int n = 0;

	dirs[n].host = spec->rootfs;
	dirs[n++].guest = "/";
	for (int i = 0; i < spec->nmounts && n < max - 1; i++) {
		const struct oci_mount *m = &spec->mounts[i];
		if (strcmp(m->type, "bind") || stat(m->source, &sb) || !S_ISDIR(sb.st_mode))
			continue;
		dirs[n].host = m->source;
		dirs[n++].guest = m->dest;
	}
	if (strcmp(p->cwd, "/") && !oci_path_in_root(spec->rootfs, p->cwd, store[0], PATH_MAX)) {
		dirs[n].host = store[0];
		dirs[n++].guest = ".";
	}
	return n;
}

static int run_wasm(const struct oci_ctx *c, const struct oci_spec *spec,
		    const struct oci_process *p)
{
	struct wasi_preopen dirs[64];
	char store[1][PATH_MAX], module[PATH_MAX];
	struct oci_wasm_job job = {0};
	int code;

	if (oci_find_exec(spec, p, module, sizeof(module))) {
		oci_err(c, "exec: \"%s\": executable file not found in $PATH", p->args[0]);
		return 127 << 8;
	}
	job.file = module;
	job.argc = p->nargs;
	job.argv = p->args;
	job.nenv = p->nenv;
	job.env = p->env;
	job.ndirs = wasm_preopens(spec, p, dirs, 64, store);
	job.dirs = dirs;
	job.max_memory = spec->res.mem_limit > 0 ? (uint64_t)spec->res.mem_limit : 0;
	apply_rlimits(c, p);
	if (become_user(c, p))
		return 126 << 8;
	code = c->run_wasm(&job);
	return (code & 0xff) << 8;
}

/* A sandbox container's process, as Kubernetes' pause: waits until SIGINT, SIGTERM or
 * SIGHUP and exits 0 (SIGKILL ends it the usual way), reaping nothing: it has no
 * children. */
static int run_pause(void)
{
	sigset_t set;
	int sig = 0;

	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGHUP);
	sigprocmask(SIG_BLOCK, &set, NULL);
	while (sigwait(&set, &sig))
		;
	return 0;
}

/* What the container's process does once `start` has written the fifo. Returns a wait
 * status. */
static int run_container(const struct oci_ctx *c, const struct oci_state *st,
			 const struct oci_spec *spec, struct oci_wb *wb)
{
	int ws;

	if (st->mode == OCI_MODE_WASM)
		return run_wasm(c, spec, &spec->proc);
	if (st->mode == OCI_MODE_PAUSE)
		return run_pause();
	ws = oci_vm_run(c, st, spec, wb);
	return ws < 0 ? 125 << 8 : ws;
}

/* Waits for `start` on the fifo (opened before create returned, so start never finds it
 * without a reader). Signals keep their default actions meanwhile, as for runc's init. */
static int wait_start(int fifo)
{
	char b;

	for (;;) {
		struct pollfd p = {fifo, POLLIN, 0};
		ssize_t n;
		if (poll(&p, 1, -1) < 0 && errno != EINTR)
			return -errno;
		n = read(fifo, &b, 1);
		if (n == 1)
			return 0;
		if (n < 0 && errno != EAGAIN && errno != EINTR)
			return -errno;
		if (n == 0) /* a writer came and went without a byte: wait for the next */
			sleep_ms(10);
	}
}

/* In the forked container process: set up, report to create through sync, wait for
 * start, run. Returns the container's wait status. */
static int monitor(const struct oci_ctx *c, struct oci_state *st, const struct oci_spec *spec,
		   int tty, int sync)
{
	char fifo[PATH_MAX + 16];
	struct oci_wb *wb = NULL;
	int ffd, r, ws = 125 << 8;

	oci_state_unlock(st); /* create's copy stays locked until it returns */
	if (tty >= 0)
		use_terminal(tty);
	else
		setsid();
	if (chdir(st->dir))
		return 125 << 8;
	r = oci_cgroup_enter(c, st->cgroup, &spec->res, OCI_OVERHEAD_MEM, getpid());
	if (!r && st->mode == OCI_MODE_VM)
		r = oci_vm_prepare(c, st, spec, &wb);
	snprintf(fifo, sizeof(fifo), "%s/exec.fifo", st->dir);
	ffd = r ? -1 : open(fifo, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	if (!r && ffd < 0) {
		r = -errno;
		oci_err(c, "cannot open %s: %s", fifo, strerror(-r));
	}
	/* A failure closes the sync pipe without "ok": create reports it. */
	if (!r && write(sync, "ok", 2) == 2) {
		close(sync);
		if (!wait_start(ffd))
			ws = run_container(c, st, spec, wb);
	}
	if (ffd >= 0)
		close(ffd);
	oci_wb_destroy(wb);
	return ws;
}

struct created {
	struct oci_state st;
	struct oci_spec spec;
	pid_t pid;
};

static void undo_create(const struct oci_ctx *c, struct created *cr)
{
	if (cr->pid > 0) {
		kill(cr->pid, SIGKILL);
		waitpid(cr->pid, NULL, 0);
	}
	oci_cgroup_remove(c, cr->st.cgroup);
	oci_remove_tree(cr->st.dir);
	oci_state_unlock(&cr->st);
}

/* create's work. Returns 0 in the caller (cr->pid is the container's process),
 * OCI_EXIT_LIKE in that process when it is done, or a negative errno. */
static int do_create(const struct oci_ctx *c, const struct oci_create_opts *o, struct created *cr,
		     int *ws_out)
{
	char path[PATH_MAX + 32], from[PATH_MAX + 32], ok[2];
	int sync[2], tty = -1, r;
	enum oci_mode mode;

	memset(cr, 0, sizeof(*cr));
	if (!oci_id_valid(o->id)) {
		oci_err(c, "invalid container id format: %s", o->id);
		return -EINVAL;
	}
	r = oci_spec_load(c, o->bundle, &cr->spec);
	if (r)
		return r;
	if (cr->spec.proc.terminal && !o->console_socket && o->detach) {
		oci_err(c, "cannot allocate tty if lodge-oci will detach without setting console "
			   "socket");
		goto err_spec;
	}
	if (!cr->spec.proc.terminal && o->console_socket) {
		oci_err(c,
			"cannot use console socket if lodge-oci will not detach or allocate tty");
		goto err_spec;
	}
	if (o->preserve_fds > 0)
		oci_warn(c, "--preserve-fds %d: extra file descriptors do not reach the container",
			 o->preserve_fds);
	r = oci_choose_mode(c, &cr->spec, &cr->spec.proc, &mode);
	if (r)
		goto err_spec;
	r = oci_state_new(c, o->id, &cr->st);
	if (r)
		goto err_spec;
	cr->st.mode = mode;
	snprintf(cr->st.bundle, sizeof(cr->st.bundle), "%s", cr->spec.bundle);
	snprintf(cr->st.rootfs, sizeof(cr->st.rootfs), "%s", cr->spec.rootfs);
	r = oci_cgroup_path(c, &cr->spec, o->id, cr->st.cgroup, sizeof(cr->st.cgroup));
	snprintf(from, sizeof(from), "%s/config.json", cr->spec.bundle);
	snprintf(path, sizeof(path), "%s/config.json", cr->st.dir);
	if (!r && (r = copy_file(from, path)))
		oci_err(c, "cannot copy config.json into %s: %s", cr->st.dir, strerror(-r));
	snprintf(path, sizeof(path), "%s/exec.fifo", cr->st.dir);
	if (!r && mkfifo(path, 0622)) {
		r = -errno;
		oci_err(c, "cannot create %s: %s", path, strerror(-r));
	}
	if (!r)
		r = oci_state_save(c, &cr->st); /* status "creating" */
	if (!r && cr->spec.proc.terminal && o->console_socket) {
		tty = make_terminal(c, o->console_socket, cr->spec.proc.rows, cr->spec.proc.cols);
		if (tty < 0)
			r = -EIO;
	}
	if (!r && pipe2(sync, O_CLOEXEC))
		r = -errno;
	if (r)
		goto err_state;
	fflush(NULL);
	cr->pid = fork();
	if (cr->pid == 0) {
		close(sync[0]);
		*ws_out = monitor(c, &cr->st, &cr->spec, tty, sync[1]);
		oci_spec_fini(&cr->spec);
		return OCI_EXIT_LIKE;
	}
	close(sync[1]);
	if (tty >= 0)
		close(tty);
	if (cr->pid < 0) {
		r = -errno;
		oci_err(c, "cannot start the container's process: %s", strerror(-r));
		close(sync[0]);
		goto err_state;
	}
	r = read(sync[0], ok, 2) == 2 ? 0 : -EIO; /* the process reported why, if it failed */
	close(sync[0]);
	cr->st.pid = cr->pid;
	if (!r && (r = oci_pid_start_time(cr->pid, &cr->st.pid_start)))
		oci_err(c, "the container's process %d vanished", (int)cr->pid);
	if (r)
		goto err_state;
	cr->st.status = OCI_CREATED;
	r = oci_state_save(c, &cr->st);
	if (!r)
		r = write_pid_file(c, o->pid_file, cr->pid);
	for (int k = OCI_HOOK_PRESTART; !r && k <= OCI_HOOK_CREATE_CONTAINER; k++)
		r = run_hooks(c, &cr->spec, (enum oci_hook_kind)k, &cr->st);
	if (r)
		goto err_state;
	return 0;
err_state:
	undo_create(c, cr);
err_spec:
	oci_spec_fini(&cr->spec);
	return r ? r : -EINVAL;
}

int oci_create(const struct oci_ctx *c, const struct oci_create_opts *o, int *ws_out)
{
	struct created *cr = core_calloc(1, sizeof(*cr));
	int r;

	if (!cr)
		return -ENOMEM;
	r = do_create(c, o, cr, ws_out);
	if (r == 0) {
		oci_state_unlock(&cr->st);
		oci_spec_fini(&cr->spec);
	}
	core_free(cr);
	return r;
}

/* ----- start, state, kill, delete ----- */

static int start_locked(const struct oci_ctx *c, struct oci_state *st)
{
	char fifo[PATH_MAX + 16];
	struct oci_spec spec;
	int fd;

	if (st->status == OCI_STOPPED) {
		oci_err(c, "cannot start a container that has stopped");
		return -EINVAL;
	}
	if (st->status != OCI_CREATED) {
		oci_err(c, "cannot start an already running container");
		return -EINVAL;
	}
	snprintf(fifo, sizeof(fifo), "%s/exec.fifo", st->dir);
	fd = open(fifo, O_WRONLY | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0 || write(fd, "0", 1) != 1) {
		oci_err(c, "cannot start container %s: its process does not wait for start (%s)",
			st->id, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -ESRCH;
	}
	close(fd);
	unlink(fifo);
	st->status = OCI_RUNNING;
	if (saved_spec(c, st, &spec) == 0) {
		if (spec.nhooks[OCI_HOOK_START_CONTAINER])
			oci_warn(c, "startContainer hooks do not run: the container's processes "
				    "run in a VM (or the Wasm engine), not in host namespaces");
		if (run_hooks(c, &spec, OCI_HOOK_POSTSTART, st))
			oci_warn(c, "a poststart hook failed (the container keeps running)");
		oci_spec_fini(&spec);
	}
	return 0;
}

int oci_start(const struct oci_ctx *c, const char *id)
{
	struct oci_state st;
	int r = oci_state_load(c, id, &st);

	if (r)
		return r;
	r = start_locked(c, &st);
	oci_state_unlock(&st);
	return r;
}

int oci_state(const struct oci_ctx *c, const char *id)
{
	struct oci_state st;
	int r = oci_state_load(c, id, &st);

	if (r)
		return r;
	r = oci_state_print(&st);
	oci_state_unlock(&st);
	return r;
}

/* Signals every process of the container (its cgroup), and its own process. */
static void signal_all(const struct oci_state *st, int sig)
{
	pid_t *pids = NULL;
	size_t n = 0;

	if (oci_pid_alive(st->pid, st->pid_start))
		kill(st->pid, sig);
	if (oci_cgroup_pids(st->cgroup, &pids, &n) == 0)
		for (size_t i = 0; i < n; i++)
			if (pids[i] != st->pid)
				kill(pids[i], sig);
	core_free(pids);
}

int oci_kill(const struct oci_ctx *c, const char *id, const char *signal, bool all)
{
	struct oci_state st;
	int sig = oci_parse_signal(signal ? signal : "TERM"), r;

	if (sig < 0) {
		oci_err(c, "invalid signal \"%s\"", signal);
		return -EINVAL;
	}
	r = oci_state_load(c, id, &st);
	if (r)
		return r;
	if (st.status != OCI_CREATED && st.status != OCI_RUNNING) {
		oci_err(c, "container not running");
		r = -ESRCH;
	} else if (all) {
		signal_all(&st, sig);
	} else if (kill(st.pid, sig)) {
		r = -errno;
		oci_err(c, "cannot signal process %d: %s", (int)st.pid, strerror(-r));
	}
	oci_state_unlock(&st);
	return r;
}

/* Kills the container's processes and waits until its own is gone. */
static int kill_and_wait(const struct oci_ctx *c, const struct oci_state *st)
{
	for (int waited = 0; waited < KILL_WAIT_MS; waited += 10) {
		signal_all(st, SIGKILL);
		if (!oci_pid_alive(st->pid, st->pid_start))
			return 0;
		sleep_ms(10);
	}
	oci_err(c, "container %s: process %d did not die", st->id, (int)st->pid);
	return -EBUSY;
}

int oci_delete(const struct oci_ctx *c, const char *id, bool force)
{
	struct oci_state st;
	struct oci_spec spec;
	char dir[PATH_MAX + 256];
	int r;

	snprintf(dir, sizeof(dir), "%s/%s", c->root, id);
	if (oci_id_valid(id) && access(dir, F_OK) == 0) {
		snprintf(dir, sizeof(dir), "%s/%s/state.json", c->root, id);
		if (access(dir, F_OK)) { /* an aborted create: nothing but the directory */
			snprintf(dir, sizeof(dir), "%s/%s", c->root, id);
			oci_remove_tree(dir);
			if (force)
				return 0;
		}
	} else if (force && oci_id_valid(id)) {
		return 0;
	}
	r = oci_state_load(c, id, &st);
	if (r)
		return r;
	if (st.status == OCI_RUNNING && !force) {
		oci_err(c, "cannot delete container %s that is not stopped: %s", id,
			oci_status_name(st.status));
		oci_state_unlock(&st);
		return -EBUSY;
	}
	if (st.status != OCI_STOPPED) {
		r = kill_and_wait(c, &st);
		if (r) {
			oci_state_unlock(&st);
			return r;
		}
		st.status = OCI_STOPPED;
	}
	oci_cgroup_remove(c, st.cgroup);
	if (saved_spec(c, &st, &spec) == 0) {
		if (run_hooks(c, &spec, OCI_HOOK_POSTSTOP, &st))
			oci_warn(c, "a poststop hook failed");
		oci_spec_fini(&spec);
	}
	r = oci_remove_tree(st.dir);
	if (r)
		oci_err(c, "cannot remove %s: %s", st.dir, strerror(-r));
	oci_state_unlock(&st);
	return r;
}

/* ----- run: create, start, wait ----- */

/* Waits for child pid, forwarding the signals this process gets to it. Returns its wait
 * status. */
static int wait_forwarding(pid_t pid)
{
	sigset_t set, old;
	int ws = 0, sfd;

	sigfillset(&set);
	sigdelset(&set, SIGKILL);
	sigdelset(&set, SIGSTOP);
	sigdelset(&set, SIGSEGV);
	sigdelset(&set, SIGBUS);
	sigdelset(&set, SIGILL);
	sigdelset(&set, SIGFPE);
	sigdelset(&set, SIGABRT);
	sigprocmask(SIG_BLOCK, &set, &old);
	sfd = signalfd(-1, &set, SFD_CLOEXEC);
	for (;;) {
		struct signalfd_siginfo si;
		pid_t w = waitpid(pid, &ws, WNOHANG);
		if (w == pid || (w < 0 && errno != EINTR))
			break;
		if (sfd < 0) {
			waitpid(pid, &ws, 0);
			break;
		}
		if (read(sfd, &si, sizeof(si)) == sizeof(si) && si.ssi_signo != SIGCHLD)
			kill(pid, (int)si.ssi_signo);
	}
	if (sfd >= 0)
		close(sfd);
	sigprocmask(SIG_SETMASK, &old, NULL);
	return ws;
}

int oci_run(const struct oci_ctx *c, const struct oci_create_opts *o, int *ws_out)
{
	struct created *cr = core_calloc(1, sizeof(*cr));
	struct oci_create_opts co = *o;
	int r;

	if (!cr)
		return -ENOMEM;
	co.detach = o->detach;
	r = do_create(c, &co, cr, ws_out);
	if (r) {
		core_free(cr);
		return r;
	}
	cr->st.status = OCI_CREATED;
	r = start_locked(c, &cr->st);
	oci_state_unlock(&cr->st);
	oci_spec_fini(&cr->spec);
	if (r == 0 && !o->detach) {
		*ws_out = wait_forwarding(cr->pid);
		r = oci_delete(c, o->id, true);
	}
	core_free(cr);
	return r;
}

/* ----- ps ----- */

int oci_ps(const struct oci_ctx *c, const char *id, bool json, char **ps_args, int nps_args)
{
	struct oci_state st;
	pid_t *pids = NULL;
	size_t n = 0;
	int r = oci_state_load(c, id, &st);

	if (r)
		return r;
	oci_state_unlock(&st);
	if (st.status == OCI_STOPPED) {
		oci_err(c, "container not running");
		return -ESRCH;
	}
	r = oci_cgroup_pids(st.cgroup, &pids, &n);
	if ((r || n == 0) && (pids = core_calloc(1, sizeof(pid_t)))) {
		pids[0] = st.pid;
		n = 1;
	}
	if (json) {
		printf("[");
		for (size_t i = 0; i < n; i++)
			printf("%s%d", i ? "," : "", (int)pids[i]);
		printf("]\n");
	} else {
		char cmd[4096] = "ps";
		char line[4096];
		int pidcol = -1;
		FILE *f;

		for (int i = 0; i < nps_args; i++) {
			if (strchr(ps_args[i], '\'')) {
				oci_err(c, "ps argument %s: quotes are not allowed", ps_args[i]);
				core_free(pids);
				return -EINVAL;
			}
			snprintf(cmd + strlen(cmd), sizeof(cmd) - strlen(cmd), " '%s'", ps_args[i]);
		}
		if (!nps_args)
			snprintf(cmd, sizeof(cmd), "ps -ef");
		f = popen(cmd, "r");
		if (!f) {
			oci_err(c, "cannot run %s: %s", cmd, strerror(errno));
			core_free(pids);
			return -errno;
		}
		while (fgets(line, sizeof(line), f)) {
			char copy[4096], *tok, *save;
			int col = 0, pid = -1;
			bool header = false;
			snprintf(copy, sizeof(copy), "%s", line);
			for (tok = strtok_r(copy, " \t\n", &save); tok;
			     tok = strtok_r(NULL, " \t\n", &save), col++) {
				if (pidcol < 0 && !strcmp(tok, "PID")) {
					pidcol = col;
					header = true;
				}
				if (col == pidcol && !header)
					pid = atoi(tok);
			}
			if (header || pid < 0) { /* the header, as runc prints it */
				fputs(line, stdout);
				continue;
			}
			for (size_t i = 0; i < n; i++)
				if (pids[i] == pid)
					fputs(line, stdout);
		}
		pclose(f);
	}
	core_free(pids);
	return 0;
}

/* ----- exec ----- */

static int parse_user(const char *u, struct oci_process *p)
{
	char *end;
	unsigned long v = strtoul(u, &end, 10);

	if (end == u || (*end && *end != ':'))
		return -EINVAL;
	p->uid = (uint32_t)v;
	if (*end == ':') {
		v = strtoul(end + 1, &end, 10);
		if (*end)
			return -EINVAL;
		p->gid = (uint32_t)v;
	}
	return 0;
}

/* The exec'd process: --process, or the command line on top of the container's. */
static int exec_process(const struct oci_ctx *c, const struct oci_exec_opts *o,
			const struct oci_spec *spec, struct oci_process *p, cJSON **json)
{
	*json = NULL;
	if (o->process)
		return oci_process_load(c, o->process, p, json);
	if (o->nargs == 0) {
		oci_err(c, "exec: no command given (use --process FILE or COMMAND [ARGS...])");
		return -EINVAL;
	}
	memset(p, 0, sizeof(*p));
	p->umask = -1;
	p->args = core_calloc((size_t)o->nargs + 1, sizeof(char *));
	p->env = core_calloc((size_t)(spec->proc.nenv + o->nenv) + 1, sizeof(char *));
	if (!p->args || !p->env) {
		oci_process_fini(p);
		return -ENOMEM;
	}
	memcpy(p->args, o->args, (size_t)o->nargs * sizeof(char *));
	p->nargs = o->nargs;
	memcpy(p->env, spec->proc.env, (size_t)spec->proc.nenv * sizeof(char *));
	memcpy(p->env + spec->proc.nenv, o->env, (size_t)o->nenv * sizeof(char *));
	p->nenv = spec->proc.nenv + o->nenv;
	p->cwd = o->cwd ? o->cwd : spec->proc.cwd;
	p->uid = spec->proc.uid;
	p->gid = spec->proc.gid;
	p->terminal = o->tty;
	if (o->user && parse_user(o->user, p)) {
		oci_err(c, "exec: --user %s: want UID[:GID]", o->user);
		oci_process_fini(p);
		return -EINVAL;
	}
	return 0;
}

struct exec_sync {
	int fd;
};

static void exec_started(void *arg, int err)
{
	struct exec_sync *s = arg;

	if (s->fd < 0)
		return;
	if (err == 0 && write(s->fd, "ok", 2) != 2)
		err = -EIO;
	close(s->fd);
	s->fd = -1;
}

/* The exec'd process's host side (a child of `exec`). Returns its wait status. */
static int exec_monitor(const struct oci_ctx *c, const struct oci_state *st,
			const struct oci_spec *spec, const struct oci_process *p, int tty, int sync)
{
	struct exec_sync es = {sync};
	struct oci_resources none = {-1, 0, -1, 0, NULL, -1};
	int ws;

	if (tty >= 0)
		use_terminal(tty);
	oci_cgroup_enter(c, st->cgroup, &none, 0, getpid());
	if (st->mode == OCI_MODE_PAUSE) {
		oci_err(c, "cannot exec in a pod's sandbox container: it runs no image");
		exec_started(&es, -EINVAL);
		return 126 << 8;
	}
	if (st->mode == OCI_MODE_WASM) {
		exec_started(&es, 0);
		return run_wasm(c, spec, p);
	}
	ws = oci_vm_exec(c, st, p, exec_started, &es);
	exec_started(&es, -EIO);
	return ws < 0 ? 125 << 8 : ws;
}

int oci_exec(const struct oci_ctx *c, const struct oci_exec_opts *o, int *ws_out)
{
	struct oci_state st;
	struct oci_spec spec;
	struct oci_process p;
	cJSON *pj = NULL;
	int sync[2] = {-1, -1}, tty = -1, r;
	char ok[2];
	pid_t pid;

	r = oci_state_load(c, o->id, &st);
	if (r)
		return r;
	oci_state_unlock(&st);
	if (st.status != OCI_RUNNING) {
		oci_err(c, st.status == OCI_STOPPED ? "cannot exec in a stopped container"
						    : "cannot exec in a container that has not "
						      "started");
		return -EINVAL;
	}
	r = saved_spec(c, &st, &spec);
	if (r)
		return r;
	r = exec_process(c, o, &spec, &p, &pj);
	if (r)
		goto out_spec;
	if (p.terminal && !o->console_socket && o->detach) {
		oci_err(c, "cannot allocate tty if lodge-oci will detach without setting console "
			   "socket");
		r = -EINVAL;
		goto out_proc;
	}
	if (p.terminal && o->console_socket) {
		tty = make_terminal(c, o->console_socket, p.rows, p.cols);
		if (tty < 0) {
			r = -EIO;
			goto out_proc;
		}
	}
	if (pipe2(sync, O_CLOEXEC)) {
		r = -errno;
		goto out_proc;
	}
	fflush(NULL);
	pid = fork();
	if (pid == 0) {
		close(sync[0]);
		*ws_out = exec_monitor(c, &st, &spec, &p, tty, sync[1]);
		r = OCI_EXIT_LIKE;
		goto out_proc;
	}
	close(sync[1]);
	if (tty >= 0)
		close(tty);
	r = pid < 0 ? -errno : read(sync[0], ok, 2) == 2 ? 0 : -EIO;
	close(sync[0]);
	if (r == 0)
		r = write_pid_file(c, o->pid_file, pid);
	if (r == 0 && !o->detach)
		*ws_out = wait_forwarding(pid);
	else if (r && pid > 0)
		waitpid(pid, NULL, 0);
out_proc:
	if (!o->process) {
		core_free(p.args);
		core_free(p.env);
	} else {
		oci_process_fini(&p);
	}
	cJSON_Delete(pj);
out_spec:
	oci_spec_fini(&spec);
	return r;
}

/* ----- features (runtime-spec features.md) ----- */

int oci_features(const struct oci_ctx *c)
{
	(void)c;
	printf("{\n"
	       "  \"ociVersionMin\": \"1.0.0\",\n"
	       "  \"ociVersionMax\": \"%s\",\n"
	       "  \"hooks\": [\"prestart\", \"createRuntime\", \"createContainer\", "
	       "\"poststart\", \"poststop\"],\n"
	       "  \"mountOptions\": [\"ro\", \"rw\", \"bind\", \"rbind\", \"nosuid\", \"nodev\", "
	       "\"noexec\", \"relatime\", \"norelatime\", \"strictatime\", \"noatime\", "
	       "\"sync\", \"dirsync\"],\n"
	       "  \"linux\": {\n"
	       "    \"cgroup\": {\"v1\": true, \"v2\": true, \"systemd\": false, "
	       "\"systemdUser\": false},\n"
	       "    \"seccomp\": {\"enabled\": false},\n"
	       "    \"apparmor\": {\"enabled\": false},\n"
	       "    \"selinux\": {\"enabled\": false}\n"
	       "  },\n"
	       "  \"annotations\": {\n"
	       "    \"io.github.lodge.isolation\": \"riscv64 system VM or WebAssembly engine\",\n"
	       "    \"module.wasm.image/variant\": \"compat\"\n"
	       "  }\n"
	       "}\n",
	       "1.1.0");
	return 0;
}
