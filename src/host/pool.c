/*
 * The warm pool of Wasm guest processes (daemon.h, sandbox.h). Most of a Wasm guest's
 * start was its new process's (exec, dynamic loading, page faults), not Lodge's work, so
 * the daemon keeps cfg.wasm_pool processes made ahead of time: each is spawned as a guest
 * is, into its own namespaces (user, with an id slot of its own, mount, pid, ipc, uts; the
 * shared empty network namespace) and has executed `lodge wasm --pool-wait`, where it
 * waits on its socket. A start adopts a ready one (pool_adopt): the guest's process is
 * then that one, pid and all, and goes on from its sandbox's set-up. The pool refills
 * 30 ms after the last start (REFILL_AFTER_START_NS), never on a start's path.
 *
 * On cgroup v1 each pool process joins a group of its own (".pool.N", no limits) before it
 * executes, and adoption renames that group the guest's and writes the guest's limits into
 * it (cgroup_rename): the guest never moves between groups on its start's path, where a
 * move into the cpu controller's group waited 2-30 ms (an RCU grace period, on a loaded
 * host). On v2 (no renames) it stays in the daemon's groups and joins the guest's.
 *
 * Every pool process is the daemon's child, watched through its pidfd and reaped here; one
 * that dies is replaced (after a back-off when they die before they are ready: a broken
 * binary must not make the daemon spin). pool_close kills them; if the daemon itself dies
 * their socket closes and they exit.
 */
#include "host/daemon.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/evloop.h"
#include "core/log.h"

#define REFILL_BACKOFF_NS 100000000ull	 /* after the first that died unready: 0.1 s */
#define REFILL_MAX_NS	  60000000000ull /* doubling up to a minute */
/* After a start: a new process's exec and loading take a core for some ms, which the guest
 * just started needs more (on 2 cores under load its start took 19 -> 10-13 ms p50 with
 * this delay, bench/host/start.py); starts closer together than this put it off. */
#define REFILL_AFTER_START_NS 30000000ull

static const char *const pool_argv[] = {"lodge", "wasm", "--pool-wait", NULL};

/* Arms the refill `after` ns from now, or later while pool processes keep dying before
 * they are ready. */
static void schedule_refill(struct daemon *d, uint64_t after)
{
	uint64_t delay = after;

	if (!d->pool_timer)
		return;
	if (d->pool_failures) {
		unsigned shift = d->pool_failures - 1 < 10 ? d->pool_failures - 1 : 10;
		delay = REFILL_BACKOFF_NS << shift;
		if (delay > REFILL_MAX_NS)
			delay = REFILL_MAX_NS;
	}
	evloop_timer_arm(d->pool_timer, evloop_now_ns() + delay);
}

static void unlink_proc(struct pool_proc *pp)
{
	struct daemon *d = pp->d;

	for (struct pool_proc **p = &d->pool; *p; p = &(*p)->next)
		if (*p == pp) {
			*p = pp->next;
			d->pool_count--;
			break;
		}
	evloop_watch_del(pp->exit_watch);
	evloop_watch_del(pp->sock_watch);
	pp->exit_watch = pp->sock_watch = NULL;
}

/* Kills (unless it ended) and reaps a pool process, and frees it. */
static void reap(struct pool_proc *pp, bool kill_it)
{
	siginfo_t si;

	unlink_proc(pp);
	if (kill_it)
		syscall(SYS_pidfd_send_signal, pp->ch.pidfd, SIGKILL, NULL, 0);
	/* Ended, or killed (SIGKILL is not ignored): this does not wait long. */
	if (waitid((idtype_t)P_PIDFD, (id_t)pp->ch.pidfd, &si, WEXITED) < 0)
		log_warn("pool: cannot reap process %d: %s", (int)pp->pid, strerror(errno));
	close(pp->ch.pidfd);
	sandbox_slot_release(&pp->d->ids, pp->slot, pp->pid);
	if (pp->ch.gofd >= 0)
		close(pp->ch.gofd);
	if (pp->cg[0] && cgroup_destroy(&pp->d->cg, pp->cg))
		log_warn("pool: cannot remove cgroup %s", pp->cg);
	sandbox_child_free(&pp->ch);
	free(pp);
}

/* A group of the pool process's own, which it joins before it executes (v1 only: a group
 * is renamed the guest's on adoption, which v2 cannot do). No limits until then: it is
 * the daemon's work, as it was in the daemon's groups. On failure the process stays in
 * the daemon's groups (pp->cg ""), and joins the guest's when adopted. */
static void pool_cgroup(struct daemon *d, struct pool_proc *pp)
{
	static const struct cgroup_limits none;

	pp->cg[0] = 0;
	if (!d->have_cgroups || d->cg.version != 1)
		return;
	snprintf(pp->cg, sizeof(pp->cg), ".pool.%u", d->pool_seq++);
	if (cgroup_create(&d->cg, pp->cg, &none, NULL, 0, NULL, 0) ||
	    cgroup_open_join(&d->cg, pp->cg, pp->ch.cgfds, &pp->ch.ncgfds)) {
		log_warn("pool: cannot make cgroup %s: its guest will join its own", pp->cg);
		cgroup_destroy(&d->cg, pp->cg);
		pp->cg[0] = 0;
	}
}

static void on_exit_fd(void *opaque, int fd, unsigned revents)
{
	struct pool_proc *pp = opaque;
	struct daemon *d = pp->d;

	(void)fd;
	(void)revents;
	if (!pp->ready)
		d->pool_failures++;
	log_warn("pool: process %d ended %s: replacing it%s", (int)pp->pid,
		 pp->ready ? "while it waited" : "before it was ready",
		 pp->ready ? "" : " (see pool.log in the state directory)");
	reap(pp, false);
	schedule_refill(d, 0);
}

/* Its ready byte (or the end of its socket: its pidfd then tells). */
static void on_sock(void *opaque, int fd, unsigned revents)
{
	struct pool_proc *pp = opaque;
	char c;

	if ((revents & POLLIN) && read(fd, &c, 1) == 1 && c == SANDBOX_POOL_READY) {
		pp->ready = true;
		pp->d->pool_failures = 0;
	}
	/* Nothing more comes this way: the watch goes (and a hung-up socket stops waking us). */
	evloop_watch_del(pp->sock_watch);
	pp->sock_watch = NULL;
}

static int open_pool_log(const struct daemon *d)
{
	char p[600];

	snprintf(p, sizeof(p), "%s/pool.log", d->state);
	return open(p, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
}

/* One new pool process. Returns 0 or -errno (logged). */
static int spawn_one(struct daemon *d)
{
	struct sandbox_plan *plan = calloc(1, sizeof(*plan));
	struct pool_proc *pp = calloc(1, sizeof(*pp));
	char err[PATH_MAX + 128] = "out of memory";
	int r = -ENOMEM, logfd = -1;

	if (!plan || !pp)
		goto out;
	plan->enabled = true;
	/* where it mounts its root, in its own mount namespace (sandbox.h) */
	snprintf(plan->root, sizeof(plan->root), "%s/pool-root", d->state);
	if (mkdir(plan->root, 0700) < 0 && errno != EEXIST) {
		r = -errno;
		snprintf(err, sizeof(err), "cannot make %s: %s", plan->root, strerror(errno));
		goto out;
	}
	plan->userns = d->userns_ok && !d->cfg.no_userns;
	plan->netns = true;
	plan->shared_net = d->netns.empty >= 0 ? &d->netns : NULL;
	pp->slot = -1;
	if (plan->userns) {
		pp->slot = sandbox_pick_slot(d, NULL);
		if (pp->slot < 0) {
			r = -EAGAIN;
			snprintf(err, sizeof(err), "all host ids for guests are in use");
			goto out;
		}
		plan->host_uid = d->ids.uid + (unsigned)pp->slot;
		plan->host_gid = d->ids.gid + (unsigned)pp->slot;
	}
	logfd = open_pool_log(d);
	if (logfd < 0) {
		r = -errno;
		snprintf(err, sizeof(err), "cannot open pool.log: %s", strerror(errno));
		goto out;
	}
	pp->d = d;
	pp->ch = (struct sandbox_child){.binary = d->binary,
					.argv = (char *const *)pool_argv,
					.envp = d->pool_env,
					.logfd = logfd,
					.pool = true,
					.gofd = -1};
	pool_cgroup(d, pp);
	r = sandbox_spawn(plan, &pp->ch, &pp->pid, err, sizeof(err));
	/* The child has its own copies, and reads their number from pp->ch (kept: it may not
	 * have joined yet; a pool process is adopted only once it said it is ready). */
	for (unsigned i = 0; i < pp->ch.ncgfds; i++)
		close(pp->ch.cgfds[i]);
	if (r) {
		if (pp->cg[0])
			cgroup_destroy(&d->cg, pp->cg);
		goto out;
	}
	if (sandbox_slot_own(&d->ids, pp->slot, pp->pid, getpid()))
		log_warn("pool: another process claimed host id %u",
			 (unsigned)(d->ids.uid + (unsigned)pp->slot));
	r = sandbox_release(&pp->ch); /* its id map is written: let it execute */
	r = r ?: evloop_watch_add(d->loop, pp->ch.pidfd, POLLIN, on_exit_fd, pp, &pp->exit_watch);
	r = r ?: evloop_watch_add(d->loop, pp->ch.gofd, POLLIN, on_sock, pp, &pp->sock_watch);
	pp->next = d->pool;
	d->pool = pp;
	d->pool_count++;
	if (r) {
		snprintf(err, sizeof(err), "cannot start or watch it: %s", strerror(-r));
		reap(pp, true);
	}
	pp = NULL;
out:
	if (r && pp)
		sandbox_slot_release(&d->ids, pp->slot, getpid());
	if (r)
		log_warn("pool: cannot make a Wasm guest process: %s", err);
	if (logfd >= 0)
		close(logfd);
	free(pp);
	free(plan);
	return r;
}

static void refill(void *opaque)
{
	struct daemon *d = opaque;

	while (d->pool_count < d->cfg.wasm_pool)
		if (spawn_one(d)) {
			d->pool_failures++;
			schedule_refill(d, 0);
			return;
		}
}

int pool_open(struct daemon *d)
{
	int r;

	/* (a killed daemon's pool groups went at start: clear_left in daemon.c) */
	if (!d->cfg.wasm_pool || d->cfg.no_sandbox)
		return 0;
	d->pool_env = guest_env_create(true);
	if (!d->pool_env)
		return -ENOMEM;
	r = evloop_timer_add(d->loop, refill, d, &d->pool_timer);
	if (r)
		return r;
	schedule_refill(d, 0);
	return 0;
}

void pool_close(struct daemon *d)
{
	while (d->pool)
		reap(d->pool, true);
	if (d->pool_timer)
		evloop_timer_del(d->pool_timer);
	d->pool_timer = NULL;
	guest_env_free(d->pool_env);
	d->pool_env = NULL;
}

/* The pool process's group becomes guest g's: setup_cgroup's empty group for g goes, the
 * pool process's takes its name and g's limits. ch holds the join files setup made, which
 * the process then does not need (it is in the group already): they are closed and
 * ch->ncgfds is 0. Returns 0; -EAGAIN when the rename is refused (the process is reaped,
 * g's group made again and ch's join files opened on it: a new process joins it); or
 * -ECANCELED with err set when g's group or limits cannot be made (the process is
 * reaped: the guest must not run without its limits). */
static int adopt_cgroup(struct guest *g, struct pool_proc *pp, struct sandbox_child *ch, char *err,
			size_t errlen)
{
	struct daemon *d = g->d;
	int r;

	cgroup_destroy(&d->cg, g->rec.name);
	r = cgroup_rename(&d->cg, pp->cg, g->rec.name);
	if (r) {
		log_warn("pool: cannot rename cgroup %s to %s: %s", pp->cg, g->rec.name,
			 strerror(-r));
		/* ch's join files were opened on the group removed above */
		for (unsigned i = 0; i < ch->ncgfds; i++)
			close(ch->cgfds[i]);
		ch->ncgfds = 0;
		reap(pp, true);
		schedule_refill(d, REFILL_AFTER_START_NS); /* as after an adoption */
		r = cgroup_create(&d->cg, g->rec.name, &g->cg_lim, g->cg_applied,
				  sizeof(g->cg_applied), g->cg_skipped, sizeof(g->cg_skipped));
		if (!r)
			r = cgroup_open_join(&d->cg, g->rec.name, ch->cgfds, &ch->ncgfds);
		if (r) {
			snprintf(err, errlen, "cannot set up its cgroup: %s", strerror(-r));
			return -ECANCELED;
		}
		return -EAGAIN;
	}
	pp->cg[0] = 0; /* the guest's now: removed with the guest */
	r = cgroup_create(&d->cg, g->rec.name, &g->cg_lim, g->cg_applied, sizeof(g->cg_applied),
			  g->cg_skipped, sizeof(g->cg_skipped));
	if (r) {
		/* it must not run without its limits: it goes, and its group (g's now) */
		snprintf(err, errlen, "cannot apply its cgroup limits: %s", strerror(-r));
		reap(pp, true);
		cgroup_destroy(&d->cg, g->rec.name);
		schedule_refill(d, REFILL_AFTER_START_NS);
		return -ECANCELED;
	}
	for (unsigned i = 0; i < ch->ncgfds; i++)
		close(ch->cgfds[i]);
	ch->ncgfds = 0;
	return 0;
}

int pool_adopt(struct guest *g, const struct sandbox_plan *p, struct sandbox_child *ch, pid_t *pid,
	       char *err, size_t errlen)
{
	struct daemon *d = g->d;
	struct pool_proc *pp = d->pool;
	struct sandbox_child mine;
	int r;

	while (pp && !pp->ready)
		pp = pp->next;
	if (!pp || !p->enabled || p->userns != (pp->slot >= 0))
		return -EAGAIN;
	if (pp->cg[0] && (r = adopt_cgroup(g, pp, ch, err, errlen)))
		return r; /* -EAGAIN: spawn one instead; -ECANCELED: the start fails */
	mine = *ch;
	unlink_proc(pp);
	schedule_refill(d, REFILL_AFTER_START_NS);
	/* The process is the guest's now: its stack, pidfd and socket go with ch. */
	*ch = pp->ch;
	ch->binary = mine.binary;
	ch->argv = mine.argv;
	ch->envp = mine.envp;
	ch->logfd = mine.logfd;
	memcpy(ch->cgfds, mine.cgfds, sizeof(ch->cgfds));
	ch->ncgfds = mine.ncgfds;
	if (g->id_slot != pp->slot) /* sandbox_plan_make's claim: the process has its own */
		sandbox_slot_release(&d->ids, g->id_slot, getpid());
	g->id_slot = pp->slot;
	*pid = pp->pid;
	r = sandbox_adopt(p, ch, pp->pid, err, errlen);
	if (r) {
		/* it is gone, and its ch with it */
		pp->ch = *ch;
		pp->ch.nbindfds = pp->ch.nhandfds = 0;
		reap(pp, true);
		ch->stack = NULL;
		ch->pidfd = ch->gofd = -1;
		return r;
	}
	free(pp);
	return 0;
}
