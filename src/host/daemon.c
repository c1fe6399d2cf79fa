/*
 * `lodge daemon`: set-up (state directory, registry, cgroups, the API socket), the event
 * loop, and shutdown on SIGTERM/SIGINT, which leaves every guest running for the next
 * daemon to find.
 */
#include "host/daemon.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <linux/sched.h>

#include "api/server.h"
#include "core/evloop.h"
#include "core/log.h"

void daemon_event(struct daemon *d, const char *guest, const char *type, const char *fmt, ...)
{
	char detail[600];
	int64_t id;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(detail, sizeof(detail), fmt, ap);
	va_end(ap);
	log_info("guest %s: %s%s%s", guest, type, detail[0] ? ": " : "", detail);
	if (registry_event(d->reg, guest, type, detail, &id) == 0)
		event_followers_push(d, id);
}

static int mkdir_p(const char *path, mode_t mode)
{
	char tmp[600];

	snprintf(tmp, sizeof(tmp), "%s", path);
	for (char *p = tmp + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = 0;
		if (mkdir(tmp, 0755) < 0 && errno != EEXIST)
			return -errno;
		*p = '/';
	}
	if (mkdir(tmp, mode) < 0 && errno != EEXIST)
		return -errno;
	return 0;
}

/* Whether this host lets us give a guest its own user namespace: try it on a child that
 * exits at once. */
static bool probe_userns(void)
{
	struct clone_args ca = {.flags = CLONE_NEWUSER, .exit_signal = SIGCHLD};
	long pid = syscall(SYS_clone3, &ca, sizeof(ca));

	if (pid == 0)
		_exit(0);
	if (pid < 0)
		return false;
	waitpid((pid_t)pid, NULL, 0);
	return true;
}

static bool authorize(void *ctx, const struct api_peer *peer)
{
	struct daemon *d = ctx;

	/* The socket's mode (0660) already keeps others out; this also holds if someone
	 * loosened it. */
	if (peer->uid == 0 || peer->uid == getuid() || peer->gid == d->sock_gid)
		return true;
	/* a member of the socket's group through a supplementary group */
	for (unsigned i = 0; i < peer->ngroups; i++)
		if (peer->groups[i] == d->sock_gid)
			return true;
	return false;
}

static void on_signal(void *opaque, int fd, unsigned revents)
{
	struct daemon *d = opaque;
	struct signalfd_siginfo si;

	(void)revents;
	if (read(fd, &si, sizeof(si)) != (ssize_t)sizeof(si))
		return;
	log_info("daemon: %s: shutting down (guests keep running)", strsignal((int)si.ssi_signo));
	d->quit = 1;
	evloop_quit(d->loop);
}

static int setup_paths(struct daemon *d)
{
	char p[700];
	int r;

	snprintf(d->state, sizeof(d->state), "%s",
		 d->cfg.state_dir ? d->cfg.state_dir : DAEMON_DEFAULT_STATE);
	snprintf(p, sizeof(p), "%s/guests", d->state);
	r = mkdir_p(p, 0711);
	if (r) {
		log_err("daemon: cannot make the state directory %s: %s", p, strerror(-r));
		return r;
	}
	chmod(d->state, 0711);
	{
		/* This daemon's cgroups are named after its state directory (host/cgroup.h). */
		char real[PATH_MAX];
		uint32_t h = 2166136261u; /* FNV-1a */
		const char *s = realpath(d->state, real) ? real : d->state;
		for (; *s; s++)
			h = (h ^ (uint8_t)*s) * 16777619u;
		snprintf(d->cg_instance, sizeof(d->cg_instance), "lodge.%08x", h);
	}
	snprintf(p, sizeof(p), "%s", d->cfg.socket ? d->cfg.socket : DAEMON_DEFAULT_SOCKET);
	char *slash = strrchr(p, '/');
	if (slash && slash != p) {
		*slash = 0;
		r = mkdir_p(p, 0755);
		if (r) {
			log_err("daemon: cannot make %s for the socket: %s", p, strerror(-r));
			return r;
		}
	}
	if (d->cfg.lodge_binary)
		snprintf(d->binary, sizeof(d->binary), "%s", d->cfg.lodge_binary);
	else if (readlink("/proc/self/exe", d->binary, sizeof(d->binary) - 1) < 0) {
		log_err("daemon: cannot find its own binary: %s", strerror(errno));
		return -errno;
	}
	return 0;
}

static int setup_group(struct daemon *d)
{
	d->sock_gid = getgid();
	if (d->cfg.group) {
		struct group *gr = getgrnam(d->cfg.group);
		if (!gr) {
			log_err("daemon: --group %s: no such group", d->cfg.group);
			return -ENOENT;
		}
		d->sock_gid = gr->gr_gid;
	}
	return 0;
}

/* Whether the write lock on the state directory's lock file fd is held by a process other
 * than the daemon whose pid the file holds: that daemon's reaper, which takes the lock
 * only after the daemon is gone. */
static bool held_by_reaper(int fd)
{
	struct flock lk = {.l_type = F_WRLCK, .l_whence = SEEK_SET};
	char pid[32];
	ssize_t n;

	if (fcntl(fd, F_GETLK, &lk) < 0 || lk.l_type == F_UNLCK)
		return false;
	n = pread(fd, pid, sizeof(pid) - 1, 0);
	pid[n > 0 ? n : 0] = 0;
	return n > 0 && strtol(pid, NULL, 10) != (long)lk.l_pid;
}

/* One daemon a state directory: <state>/daemon.lock is write-locked while this daemon
 * runs and holds its pid. The lock goes with the process, so a killed daemon's file does
 * not block the next one. A process-associated (POSIX) lock, not flock: a guest or pool
 * process cloned by the daemon holds a copy of the descriptor until it executes, and a
 * flock (on the open file) would outlive a killed daemon for that long, refusing the next
 * daemon. A second daemon stops here, before it touches the registry, the cgroups or the
 * socket. */
static int lock_state(struct daemon *d)
{
	char p[700], pid[32];
	int fd, n;

	snprintf(p, sizeof(p), "%s/daemon.lock", d->state);
	fd = open(p, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0) {
		int e = errno;
		log_err("daemon: cannot open %s: %s: fix the state directory's permissions or "
			"give another --state DIR",
			p, strerror(e));
		return -e;
	}
	struct flock lk = {.l_type = F_WRLCK, .l_whence = SEEK_SET};
	/* A previous daemon's reaper (start_reaper) holds the lock for the moment it
	 * clears what that daemon left: wait for it, not for a daemon. */
	for (int tries = 0; tries < 500 && fcntl(fd, F_SETLK, &lk) < 0 &&
			    (errno == EACCES || errno == EAGAIN) && held_by_reaper(fd);
	     tries++)
		usleep(10000);
	if (fcntl(fd, F_SETLK, &lk) < 0) {
		int e = errno == EACCES ? EWOULDBLOCK : errno;
		n = e == EWOULDBLOCK ? (int)pread(fd, pid, sizeof(pid) - 1, 0) : -1;
		pid[n > 0 ? n : 0] = 0;
		pid[strcspn(pid, "\n")] = 0;
		if (e == EWOULDBLOCK)
			log_err("daemon: another daemon (pid %s) already uses the state directory "
				"%s: stop it first (kill -TERM %s), or give this one its own "
				"--state DIR",
				pid[0] ? pid : "unknown", d->state, pid[0] ? pid : "<pid>");
		else
			log_err("daemon: cannot lock %s: %s", p, strerror(e));
		close(fd);
		return e == EWOULDBLOCK ? -EBUSY : -e;
	}
	n = snprintf(pid, sizeof(pid), "%ld\n", (long)getpid());
	if (ftruncate(fd, 0) < 0 || pwrite(fd, pid, (size_t)n, 0) != n)
		log_warn("daemon: cannot write the pid to %s: %s", p, strerror(errno));
	d->state_lock = fd;
	return 0;
}

/* Removes what a daemon of this state directory left when it was killed (kill -9 runs no
 * clean-up): its empty guest groups, and its warm pool's groups with whatever is still in
 * them (".pool.": no guest's name starts with a dot; its pool processes exit when their
 * socket closes but need not have yet, and the names need not be this pool's: pool_seq
 * went on with every adoption). A group with a guest in it (one that outlived that
 * daemon) stays. Only while holding the state directory's lock (lock_state): an empty
 * group of a running daemon may be one just made for a guest about to join it. Returns
 * how many groups went. */
static int clear_left(const struct daemon *d)
{
	int n = cgroup_env_sweep(&d->cg);

	if (d->cg.version == 1)
		n += cgroup_destroy_prefixed(&d->cg, ".pool.");
	return n;
}

/* The reaper: a process of the daemon's that outlives it. A daemon that exits removes its
 * warm pool's groups and its parent groups itself (pool_close, cgroup_env_fini); a killed
 * one (kill -9, the OOM killer) cannot, and they would stay until the next daemon of the
 * state directory starts, which may be never. The reaper waits for the daemon's end (a
 * pidfd), takes the state directory's lock so that no new daemon runs meanwhile (one that
 * starts waits for it: lock_state), does what a new daemon does first (empty guest groups
 * go, the pool's groups go with whatever is still in them, the parent groups go if
 * nothing else is in them) and exits. Running guests keep their groups. A new daemon that
 * got the lock first does all that itself: the reaper then leaves at once. */
static void reaper_main(const struct daemon *d, pid_t daemon_pid)
{
	struct flock lk = {.l_type = F_WRLCK, .l_whence = SEEK_SET};
	struct pollfd pfd = {.events = POLLIN};
	char p[700];
	int fd, n;

	prctl(PR_SET_NAME, "lodge-reaper");
	signal(SIGINT, SIG_IGN); /* a terminal's ^C: the daemon clears up itself */
	signal(SIGHUP, SIG_IGN);
	syscall(SYS_close_range, 3u, ~0u, 0u); /* the registry, the lock: not the reaper's */
	pfd.fd = (int)syscall(SYS_pidfd_open, daemon_pid, 0);
	if (pfd.fd >= 0 && getppid() == daemon_pid)
		while (poll(&pfd, 1, -1) < 0 && errno == EINTR)
			;
	snprintf(p, sizeof(p), "%s/daemon.lock", d->state);
	fd = open(p, O_RDWR | O_CLOEXEC);
	if (fd < 0 || fcntl(fd, F_SETLK, &lk) < 0)
		_exit(0);
	n = clear_left(d);
	cgroup_env_fini(&d->cg);
	if (n > 0)
		log_info("daemon: the reaper removed %d cgroup%s daemon %ld left", n,
			 n == 1 ? "" : "s", (long)daemon_pid);
	_exit(0);
}

/* Starts the reaper (above); without it a killed daemon's groups wait for the next one. */
static void start_reaper(const struct daemon *d)
{
	pid_t self = getpid(), pid = fork();

	if (pid == 0)
		reaper_main(d, self);
	if (pid < 0)
		log_warn("daemon: cannot start the reaper (%s): a killed daemon's cgroups stay "
			 "until the next daemon of %s starts",
			 strerror(errno), d->state);
}

static int setup(struct daemon *d, struct evloop_watch **sigw, int *sigfd)
{
	struct api_server_config sc = {.mode = 0660,
				       .max_body = 1u << 20,
				       .max_conns = 1024,
				       .routes = daemon_routes,
				       .nroutes = daemon_nroutes,
				       .ctx = d,
				       .authorize = authorize};
	char db[700], err[512];
	sigset_t set;
	int r;

	struct rlimit nofile;

	/* A pidfd and a socket or two per guest: take all the open files we may. */
	if (getrlimit(RLIMIT_NOFILE, &nofile) == 0 && nofile.rlim_cur < nofile.rlim_max) {
		nofile.rlim_cur = nofile.rlim_max;
		setrlimit(RLIMIT_NOFILE, &nofile);
	}
	r = setup_paths(d);
	r = r ?: lock_state(d);
	r = r ?: setup_group(d);
	if (r)
		return r;
	snprintf(db, sizeof(db), "%s/lodge.db", d->state);
	if (registry_open(db, &d->reg, err, sizeof(err))) {
		log_err("daemon: cannot open the registry %s", err);
		return -EIO;
	}
	r = cgroup_env_init(&d->cg, d->cfg.cgroup_version, d->cfg.cgroup_root, d->cg_instance);
	d->have_cgroups = r == 0;
	if (r)
		log_warn("daemon: no usable cgroup hierarchy (%s): guests run without limits",
			 strerror(-r));
	if (d->have_cgroups && (r = clear_left(d)))
		log_info("daemon: removed %d cgroup%s a previous daemon left", r,
			 r == 1 ? "" : "s");
	if (d->have_cgroups)
		start_reaper(d);
	d->userns_ok = probe_userns();
	for (int k = SANDBOX_VM; k <= SANDBOX_WASM && !d->cfg.no_sandbox; k++)
		if ((r = sandbox_seccomp_export(k, &d->seccomp_hex[k])))
			log_warn("daemon: cannot compile the guests' seccomp filters (%s): each "
				 "guest compiles its own",
				 strerror(-r));
	d->netns.host = d->netns.empty = -1;
	if (!d->cfg.no_sandbox && (r = sandbox_netns_open(&d->netns)))
		log_warn("daemon: no shared network namespace for guests (%s): each gets its own",
			 strerror(-r));
	r = sandbox_ids_init(&d->ids, NULL, NULL);
	if (r) {
		log_err("daemon: the range of host ids for guests (the user lodge in /etc/subuid "
			"and /etc/subgid) is malformed: fix or remove it");
		return r;
	}
	if (!d->cfg.no_sandbox && (r = sandbox_ids_open(&d->ids, SANDBOX_IDS_DIR)))
		log_warn("daemon: cannot open %s (%s): guests' host ids are this daemon's alone, "
			 "another daemon on the host may hand out the same",
			 SANDBOX_IDS_DIR, strerror(-r));
	r = evloop_create(&d->loop);
	if (r)
		return r;
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	sigprocmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);
	*sigfd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
	if (*sigfd < 0 || evloop_watch_add(d->loop, *sigfd, POLLIN, on_signal, d, sigw))
		return -errno ?: -ENOMEM;
	r = supervisor_load(d);
	if (r)
		return r;
	sc.path = d->cfg.socket ? d->cfg.socket : DAEMON_DEFAULT_SOCKET;
	sc.gid = d->sock_gid;
	r = api_server_open(d->loop, &sc, &d->srv);
	if (r) {
		log_err("daemon: cannot serve %s: %s%s", sc.path, strerror(-r),
			r == -EADDRINUSE ? " (another daemon answers there)" : "");
		return r;
	}
	r = pool_open(d);
	if (r)
		log_warn("daemon: no warm pool of Wasm guest processes (%s): each start makes "
			 "its own",
			 strerror(-r));
	return 0;
}

int daemon_main(const struct daemon_config *cfg)
{
	struct daemon d = {.cfg = *cfg, .state_lock = -1, .ids = {.dirfd = -1, .lockfd = -1}};
	struct evloop_watch *sigw = NULL;
	int sigfd = -1, r;

	if (!d.cfg.stop_timeout)
		d.cfg.stop_timeout = 10;
	r = setup(&d, &sigw, &sigfd);
	if (!r) {
		log_info("daemon: serving %s (state %s, cgroup v%d, user namespaces %s, Wasm "
			 "pool %u)",
			 cfg->socket ? cfg->socket : DAEMON_DEFAULT_SOCKET, d.state,
			 d.have_cgroups ? d.cg.version : 0, d.userns_ok ? "yes" : "no",
			 d.pool_timer ? d.cfg.wasm_pool : 0);
		evloop_run(d.loop);
	}
	api_server_close(d.srv);
	pool_close(&d);
	supervisor_unload(&d);
	if (d.have_cgroups)
		cgroup_env_fini(&d.cg);
	evloop_watch_del(sigw);
	evloop_destroy(d.loop);
	if (sigfd >= 0)
		close(sigfd);
	registry_close(d.reg);
	if (d.state_lock >= 0)
		close(d.state_lock);
	sandbox_netns_close(&d.netns);
	sandbox_ids_close(&d.ids);
	free(d.seccomp_hex[SANDBOX_VM]);
	free(d.seccomp_hex[SANDBOX_WASM]);
	return r ? 1 : 0;
}
