/*
 * The guest-side control socket, console log and exit record (see guestctl.h). One
 * event-loop thread serves the socket, drains the console output pipe into the ring and
 * to attached clients, and writes clients' input into the console input pipe (holding it
 * back, and not reading the client, while the pipe is full).
 */
#include "cli/guestctl.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "api/http.h"
#include "api/json.h"
#include "api/server.h"
#include "core/alloc.h"
#include "core/clock.h"
#include "core/evloop.h"
#include "core/log.h"
#include "core/logring.h"
#include "machine/replicate.h"

#define MAX_CLIENTS    8
#define CLIENT_BACKLOG (256u << 10) /* output a slow console client may lag behind */
#define CONSOLE_CHUNK  4096

struct ctl_client {
	struct guestctl *g;
	int fd;
	struct evloop_watch *watch;
	uint8_t *out; /* output not yet written to the client: [out_off, out_len) of
		       * CLIENT_BACKLOG bytes, allocated once (no reallocation per chunk) */
	size_t out_off, out_len;
	uint8_t in[CONSOLE_CHUNK]; /* input not yet written to the guest */
	size_t in_off, in_len;
};

struct guestctl {
	const struct guestctl_ops *ops;
	void *opaque;
	struct evloop *loop;
	struct api_server *srv;
	struct logring *ring;
	char *exit_file;
	int ready_fd;	 /* --ready-file, open for writing until guestctl_ready; or -1 */
	int out_pipe[2]; /* guest writes [1], we read [0] */
	int in_pipe[2];	 /* we write [1], guest reads [0] */
	struct evloop_watch *out_watch, *in_watch;
	struct ctl_client *clients[MAX_CLIENTS];
	int statm_fd; /* /proc/self/statm, opened before any sandboxing */
	uint64_t start_ns;
	/* One operation at a time runs on a worker thread (pausing waits for the harts,
	 * which may themselves wait for this thread to drain their console output). */
	struct evloop_notifier *op_done;
	pthread_t op_thread;
	bool op_busy;
	struct api_conn *op_conn; /* NULL once the client went away */
	int (*op_fn)(void *opaque);
	const char *op_what;
	int op_result;
	/* A snapshot or (op_migrate) migration request's arguments and error text (op_fn
	 * is then NULL); op_path is the snapshot's path or the destination. */
	bool op_migrate;
	struct guestctl_migrate op_mig; /* its options */
	bool op_replicate; /* PUT /replicate: op_path is the standby, op_interval its period */
	unsigned op_interval;
	int op_sock; /* POST /migrate/send: the hijacked connection the socket comes on */
	struct guestctl_snapshot op_snap;
	char op_path[4096];
	char op_err[512];
	/* --incoming through the control socket (POST /migrate/receive): the hijacked
	 * connection, watched until the stream's socket arrives on it; then both wait for
	 * the main thread (guestctl_incoming). */
	bool incoming;
	pthread_mutex_t in_lock;
	pthread_cond_t in_cond;
	int in_conn, in_fd;
	struct evloop_watch *in_conn_watch;
	char in_peer[256];
};

#define HANDOFF_TIMEOUT_MS 10000

/* Receives one message carrying exactly one descriptor (SCM_RIGHTS) and, as its bytes,
 * the peer's name (HOST:PORT). Returns 0 with *fd, -EAGAIN when nothing is there yet, or
 * -errno (-EPROTO: no descriptor, or more than one: all are closed). */
static int recv_fd(int sock, int *fd, char *peer, size_t cap)
{
	union {
		struct cmsghdr h;
		char buf[CMSG_SPACE(4 * sizeof(int))];
	} cm;
	struct iovec iov = {.iov_base = peer, .iov_len = cap - 1};
	struct msghdr msg = {.msg_iov = &iov,
			     .msg_iovlen = 1,
			     .msg_control = cm.buf,
			     .msg_controllen = sizeof(cm)};
	int got = -1, r = 0;
	ssize_t n;

	do
		n = recvmsg(sock, &msg, MSG_CMSG_CLOEXEC | MSG_DONTWAIT);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return errno == EWOULDBLOCK ? -EAGAIN : -errno;
	peer[n] = 0;
	for (struct cmsghdr *c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
			continue;
		size_t k = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		for (size_t i = 0; i < k; i++) {
			int f;
			memcpy(&f, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
			if (got < 0 && r == 0)
				got = f;
			else {
				close(f);
				r = -EPROTO;
			}
		}
	}
	if (r || got < 0 || n == 0 || (msg.msg_flags & MSG_CTRUNC)) {
		if (got >= 0)
			close(got);
		return r ?: n == 0 && got < 0 ? -ECONNRESET : -EPROTO;
	}
	*fd = got;
	return 0;
}

/* Writes the outcome of a handed-over migration as one JSON line: {"ok": true|false,
 * "error": CODE, "message": TEXT}. */
static void write_outcome(int sock, int r, const char *code, const char *msg)
{
	cJSON *o = cJSON_CreateObject();
	char *text;

	cJSON_AddBoolToObject(o, "ok", r == 0);
	if (r)
		cJSON_AddStringToObject(o, "error", code);
	cJSON_AddStringToObject(o, "message", msg);
	text = cJSON_PrintUnformatted(o);
	cJSON_Delete(o);
	if (text) {
		size_t len = strlen(text), off = 0;
		text[len++] = '\n'; /* replaces the NUL: the line is sent by length */
		while (off < len) {
			ssize_t n = send(sock, text + off, len - off, MSG_NOSIGNAL);
			if (n < 0 && errno == EINTR)
				continue;
			if (n <= 0)
				break;
			off += (size_t)n;
		}
		free(text);
	}
}

/* ---- console ---- */

static void client_drop(struct ctl_client *c)
{
	struct guestctl *g = c->g;

	for (unsigned i = 0; i < MAX_CLIENTS; i++)
		if (g->clients[i] == c)
			g->clients[i] = NULL;
	evloop_watch_del(c->watch);
	close(c->fd);
	core_free(c->out);
	core_free(c);
}

static void client_watch(struct ctl_client *c)
{
	short ev = c->in_len > c->in_off ? 0 : POLLIN; /* hold input back while it waits */

	if (c->out_len > c->out_off)
		ev |= POLLOUT;
	evloop_watch_set(c->watch, ev);
}

/* Writes what the client has pending; false when the client was dropped. */
static bool client_flush(struct ctl_client *c)
{
	while (c->out_len > c->out_off) {
		ssize_t n = write(c->fd, c->out + c->out_off, c->out_len - c->out_off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			break;
		if (n <= 0) {
			client_drop(c);
			return false;
		}
		c->out_off += (size_t)n;
	}
	if (c->out_off == c->out_len)
		c->out_off = c->out_len = 0;
	client_watch(c);
	return true;
}

static void client_send(struct ctl_client *c, const uint8_t *buf, size_t len)
{
	if (c->out_len - c->out_off + len > CLIENT_BACKLOG) {
		client_drop(c); /* a client that does not read must not hold the guest back */
		return;
	}
	if (!c->out && !(c->out = core_alloc(CLIENT_BACKLOG))) {
		client_drop(c);
		return;
	}
	if (c->out_len + len > CLIENT_BACKLOG) { /* what is left to the front */
		memmove(c->out, c->out + c->out_off, c->out_len - c->out_off);
		c->out_len -= c->out_off;
		c->out_off = 0;
	}
	memcpy(c->out + c->out_len, buf, len);
	c->out_len += len;
	client_flush(c);
}

/* Writes a client's pending input into the guest's input pipe. */
static void feed_guest(struct guestctl *g)
{
	bool blocked = false;

	for (unsigned i = 0; i < MAX_CLIENTS && !blocked; i++) {
		struct ctl_client *c = g->clients[i];
		while (c && c->in_off < c->in_len) {
			ssize_t n = write(g->in_pipe[1], c->in + c->in_off, c->in_len - c->in_off);
			if (n < 0 && errno == EINTR)
				continue;
			if (n <= 0) {
				blocked = true; /* full: wait for POLLOUT on the pipe */
				break;
			}
			c->in_off += (size_t)n;
		}
		if (c && c->in_off == c->in_len) {
			c->in_off = c->in_len = 0;
			client_watch(c);
		}
	}
	evloop_watch_set(g->in_watch, blocked ? POLLOUT : 0);
}

static void on_in_pipe(void *opaque, int fd, unsigned revents)
{
	(void)fd;
	(void)revents;
	feed_guest(opaque);
}

static void on_client(void *opaque, int fd, unsigned revents)
{
	struct ctl_client *c = opaque;
	ssize_t n;

	if ((revents & POLLOUT) && !client_flush(c))
		return;
	if ((revents & (POLLHUP | POLLERR)) && !(revents & POLLIN)) {
		client_drop(c);
		return;
	}
	if (!(revents & POLLIN) || c->in_len)
		return;
	n = read(fd, c->in, sizeof(c->in));
	if (n < 0 && (errno == EINTR || errno == EAGAIN))
		return;
	if (n <= 0) {
		client_drop(c); /* detached: the guest goes on */
		return;
	}
	c->in_off = 0;
	c->in_len = (size_t)n;
	feed_guest(c->g);
	client_watch(c);
}

/* Console output: into the ring and to every attached client. */
static void drain_output(struct guestctl *g)
{
	uint8_t buf[CONSOLE_CHUNK];

	for (;;) {
		ssize_t n = read(g->out_pipe[0], buf, sizeof(buf));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return;
		if (g->ring && logring_append(g->ring, buf, (size_t)n))
			log_warn("console log: write failed: %s", strerror(errno));
		for (unsigned i = 0; i < MAX_CLIENTS; i++)
			if (g->clients[i])
				client_send(g->clients[i], buf, (size_t)n);
	}
}

static void on_out_pipe(void *opaque, int fd, unsigned revents)
{
	(void)fd;
	(void)revents;
	drain_output(opaque);
}

/* ---- the control API ---- */

static uint64_t rss_bytes(const struct guestctl *g)
{
	char buf[128];
	unsigned long long size, res;
	ssize_t n;

	if (g->statm_fd < 0)
		return 0;
	n = pread(g->statm_fd, buf, sizeof(buf) - 1, 0);
	if (n <= 0)
		return 0;
	buf[n] = 0;
	if (sscanf(buf, "%llu %llu", &size, &res) != 2)
		return 0;
	return (uint64_t)res * (uint64_t)sysconf(_SC_PAGESIZE);
}

static void h_get_vm(struct api_conn *c, const struct api_request *r)
{
	struct guestctl *g = r->ctx;
	cJSON *o = cJSON_CreateObject(), *st = cJSON_CreateObject();

	if (o && st) {
		cJSON_AddStringToObject(o, "kind", g->ops->kind);
		cJSON_AddStringToObject(o, "state",
					g->ops->paused(g->opaque) ? "Paused" : "Running");
		json_add_uint(st, "instret", g->ops->instret(g->opaque));
		json_add_uint(st, "cpu_time_ns", core_clock_ns(CLOCK_PROCESS_CPUTIME_ID));
		json_add_uint(st, "rss_bytes", rss_bytes(g));
		json_add_uint(st, "ram_resident_bytes", g->ops->ram_resident(g->opaque));
		json_add_uint(st, "uptime_ns", core_clock_ns(CLOCK_MONOTONIC) - g->start_ns);
		if (g->ops->io) {
			struct guestctl_io io = {0};
			g->ops->io(g->opaque, &io);
			json_add_uint(st, "net_rx_bytes", io.net_rx);
			json_add_uint(st, "net_tx_bytes", io.net_tx);
			json_add_uint(st, "disk_read_bytes", io.disk_read);
			json_add_uint(st, "disk_write_bytes", io.disk_write);
		}
		cJSON_AddItemToObject(o, "stats", st);
		st = NULL;
	}
	cJSON_Delete(st);
	api_reply_json(c, 200, o);
}

static int reply_result(struct api_conn *c, int r, const char *what, const char *err)
{
	if (r == 0)
		return api_reply(c, 204, NULL, NULL, 0);
	if (r == -EBUSY)
		return api_reply_error(c, 409, "not_paused",
				       "%s: the guest must be paused first (PATCH /vm {\"state\": "
				       "\"Paused\"})",
				       what);
	if (r == -ECHILD) /* a Diff snapshot with no earlier one */
		return api_reply_error(c, 409, "no_parent", "%s: %s", what, err);
	if (err[0] && (r == -ENOTSUP || r == -EAGAIN)) /* e.g. a Wasm program's state */
		return api_reply_error(c, 409, r == -EAGAIN ? "busy" : "not_supported", "%s: %s",
				       what, err);
	if (err[0] && (r == -ENOENT || r == -EACCES || r == -ENOTDIR || r == -EISDIR ||
		       r == -EROFS || r == -ENAMETOOLONG || r == -EEXIST))
		return api_reply_error(c, 400, "bad_path", "%s: %s", what, err);
	if (err[0])
		return api_reply_error(c, 500, "internal", "%s: %s", what, err);
	if (r == -ENODEV)
		return api_reply_error(c, 409, "not_supported", "%s: the guest has no way to do it",
				       what);
	if (r == -EAGAIN || r == -ESHUTDOWN)
		return api_reply_error(c, 409, "busy", "%s: not possible now (%s)", what,
				       r == -EAGAIN ? "rebooting" : "stopping");
	return api_reply_error(c, 500, "internal", "%s: %s", what, strerror(-r));
}

static void *op_main(void *opaque)
{
	struct guestctl *g = opaque;

	g->op_err[0] = 0;
	if (g->op_fn) {
		g->op_result = g->op_fn(g->opaque);
	} else if (g->op_replicate && g->op_sock >= 0) {
		/* POST /replicate/send: "HOST:PORT INTERVAL_MS" comes with the socket. */
		struct pollfd p = {.fd = g->op_sock, .events = POLLIN};
		int fd = -1, r = poll(&p, 1, HANDOFF_TIMEOUT_MS) == 1
					 ? recv_fd(g->op_sock, &fd, g->op_path, 256)
					 : -ETIMEDOUT;
		char *sp = r ? NULL : strchr(g->op_path, ' ');
		unsigned long ms = sp ? strtoul(sp + 1, NULL, 10) : 0;
		if (r) {
			snprintf(g->op_err, sizeof(g->op_err),
				 "no connection was handed over on the control socket: %s",
				 strerror(-r));
		} else if (!sp || ms < VM_REPL_MIN_INTERVAL_MS || ms > VM_REPL_MAX_INTERVAL_MS) {
			snprintf(g->op_err, sizeof(g->op_err),
				 "the hand-over must name \"HOST:PORT INTERVAL_MS\" (%d-%d ms)",
				 VM_REPL_MIN_INTERVAL_MS, VM_REPL_MAX_INTERVAL_MS);
			close(fd);
			r = -EINVAL;
		} else {
			*sp = 0;
			r = g->ops->replicate(g->opaque, g->op_path, (unsigned)ms, fd, g->op_err,
					      sizeof(g->op_err));
		}
		g->op_result = r;
		write_outcome(g->op_sock, r,
			      r == -EOPNOTSUPP ? "not_supported"
			      : r == -EALREADY ? "busy"
					       : "replication_failed",
			      r ? (g->op_err[0] ? g->op_err : strerror(-r)) : "replicating");
		close(g->op_sock);
		g->op_sock = -1;
	} else if (g->op_replicate) {
		g->op_result = g->ops->replicate(g->opaque, g->op_path, g->op_interval, -1,
						 g->op_err, sizeof(g->op_err));
	} else if (g->op_migrate && g->op_sock >= 0) {
		/* The daemon sends the connected socket once it has the 101 answer. */
		struct pollfd p = {.fd = g->op_sock, .events = POLLIN};
		int fd = -1, r = poll(&p, 1, HANDOFF_TIMEOUT_MS) == 1
					 ? recv_fd(g->op_sock, &fd, g->op_path, 256)
					 : -ETIMEDOUT;
		if (r)
			snprintf(g->op_err, sizeof(g->op_err),
				 "no connection was handed over on the control socket: %s",
				 strerror(-r));
		else
			r = g->ops->migrate(g->opaque, g->op_path, &g->op_mig, fd, g->op_err,
					    sizeof(g->op_err));
		g->op_result = r;
		write_outcome(g->op_sock, r,
			      r == -EOPNOTSUPP	      ? "not_supported"
			      : r == -ENOTRECOVERABLE ? "migration_lost"
						      : "migration_failed",
			      r ? (g->op_err[0] ? g->op_err : strerror(-r)) : "migrated");
		close(g->op_sock);
		g->op_sock = -1;
	} else if (g->op_migrate) {
		g->op_result = g->ops->migrate(g->opaque, g->op_path, &g->op_mig, -1, g->op_err,
					       sizeof(g->op_err));
	} else {
		g->op_result =
			g->ops->snapshot(g->opaque, &g->op_snap, g->op_err, sizeof(g->op_err));
		if (g->op_snap.resume && g->ops->resume) /* saved or not, it runs on */
			g->ops->resume(g->opaque);
	}
#ifdef LODGE_TEST_HOOKS
	/* LODGE_TEST_HOOK=slow-answer: this thread is late to report (as when a loaded
	 * host does not run it for a while), so the guest has ended by then (tests/wsnap). */
	const char *hook = getenv("LODGE_TEST_HOOK");
	if (hook && !strcmp(hook, "slow-answer"))
		usleep(300 * 1000);
#endif
	evloop_notify(g->op_done);
	return NULL;
}

static void op_conn_gone(void *opaque)
{
	struct guestctl *g = opaque;

	g->op_conn = NULL;
}

/* Loop thread: the worker finished; answer its client. */
static void on_op_done(void *opaque)
{
	struct guestctl *g = opaque;

	if (!g->op_busy)
		return;
	pthread_join(g->op_thread, NULL);
	g->op_busy = false;
	if (g->op_conn) {
		api_conn_on_close(g->op_conn, NULL, NULL);
		if (g->op_replicate && g->op_result == -EALREADY)
			api_reply_error(g->op_conn, 409, "busy", "replicate: %s", g->op_err);
		else if (g->op_replicate && g->op_result == -EOPNOTSUPP)
			api_reply_error(g->op_conn, 409, "not_supported", "replicate: %s",
					g->op_err);
		else if (g->op_replicate && g->op_result)
			api_reply_error(g->op_conn, 502, "replication_failed", "replicate: %s",
					g->op_err[0] ? g->op_err : strerror(-g->op_result));
		else if (g->op_migrate && g->op_result == -EOPNOTSUPP)
			api_reply_error(g->op_conn, 409, "not_supported", "migrate: %s", g->op_err);
		else if (g->op_migrate && g->op_result)
			api_reply_error(g->op_conn, 502,
					g->op_result == -ENOTRECOVERABLE ? "migration_lost"
									 : "migration_failed",
					"migrate: %s",
					g->op_err[0] ? g->op_err : strerror(-g->op_result));
		else
			reply_result(g->op_conn, g->op_result, g->op_what, g->op_err);
	}
	g->op_conn = NULL;
	if (g->op_migrate && (!g->op_result || g->op_result == -ENOTRECOVERABLE))
		g->ops->migrated(g->opaque, g->op_result != 0);
	g->op_migrate = false;
	g->op_replicate = false;
}

static void start_op(struct api_conn *c, struct guestctl *g, int (*fn)(void *), const char *what)
{
	if (g->op_busy) {
		api_reply_error(c, 409, "busy", "%s: another request is in progress", what);
		return;
	}
	g->op_fn = fn;
	g->op_what = what;
	g->op_conn = c;
	g->op_busy = true;
	if (pthread_create(&g->op_thread, NULL, op_main, g)) {
		g->op_busy = false;
		g->op_conn = NULL;
		api_reply_error(c, 503, "unavailable", "%s: cannot start a thread", what);
		return;
	}
	api_conn_on_close(c, op_conn_gone, g);
}

static void h_patch_vm(struct api_conn *c, const struct api_request *r)
{
	static const struct json_field f[] = {{"state", JSON_STRING, true, NULL}};
	static const struct json_schema schema = {f, 1};
	struct guestctl *g = r->ctx;
	char err[200];
	cJSON *o;
	const char *st;

	if (json_parse_object(r->body, r->body_len, &schema, &o, err, sizeof(err))) {
		api_reply_error(c, 400, "bad_body", "%s", err);
		return;
	}
	st = json_str(o, "state", "");
	if (!strcmp(st, "Paused"))
		start_op(c, g, g->ops->pause, "pause");
	else if (!strcmp(st, "Resumed"))
		start_op(c, g, g->ops->resume, "resume");
	else
		api_reply_error(c, 400, "bad_body",
				"state '%.40s': must be \"Paused\" or \"Resumed\"", st);
	cJSON_Delete(o);
}

static void h_snapshot_create(struct api_conn *c, const struct api_request *r)
{
	static const struct json_field f[] = {{"snapshot_path", JSON_STRING, true, NULL},
					      {"snapshot_type", JSON_STRING, false, NULL},
					      {"ram_format", JSON_STRING, false, NULL},
					      {"disks", JSON_STRING, false, NULL},
					      {"resume", JSON_BOOL, false, NULL}};
	static const struct json_schema schema = {f, 5};
	struct guestctl *g = r->ctx;
	const char *path, *type, *ram, *disks;
	char err[200];
	cJSON *o;

	if (json_parse_object(r->body, r->body_len, &schema, &o, err, sizeof(err))) {
		api_reply_error(c, 400, "bad_body", "%s", err);
		return;
	}
	path = json_str(o, "snapshot_path", "");
	type = json_str(o, "snapshot_type", "Full");
	ram = json_str(o, "ram_format", "zstd");
	disks = json_str(o, "disks", "overlay");
	if (path[0] != '/' || strlen(path) >= sizeof(g->op_path))
		api_reply_error(c, 400, "bad_body",
				"snapshot_path '%.80s': must be an absolute path", path);
	else if (strcmp(type, "Full") && strcmp(type, "Diff"))
		api_reply_error(c, 400, "bad_body",
				"snapshot_type '%.40s': must be \"Full\" or \"Diff\"", type);
	else if (!strcmp(type, "Diff") && !strcmp(ram, "raw"))
		api_reply_error(c, 400, "bad_body",
				"ram_format \"raw\" is for Full snapshots (a Diff is compressed)");
	else if (strcmp(ram, "zstd") && strcmp(ram, "raw"))
		api_reply_error(c, 400, "bad_body",
				"ram_format '%.40s': must be \"zstd\" or \"raw\"", ram);
	else if (strcmp(disks, "overlay") && strcmp(disks, "copy"))
		api_reply_error(c, 400, "bad_body",
				"disks '%.40s': must be \"overlay\" or \"copy\"", disks);
	else if (!g->ops->snapshot)
		api_reply_error(c, 409, "not_supported", "snapshot: not supported for %s guests",
				g->ops->kind);
	else if (g->op_busy)
		api_reply_error(c, 409, "busy", "snapshot: another request is in progress");
	else {
		strcpy(g->op_path, path);
		g->op_snap = (struct guestctl_snapshot){.path = g->op_path,
							.raw_ram = !strcmp(ram, "raw"),
							.diff = !strcmp(type, "Diff"),
							.copy_disks = !strcmp(disks, "copy"),
							.resume = json_bool(o, "resume", false)};
		start_op(c, g, NULL, "snapshot");
	}
	cJSON_Delete(o);
}

static void h_migrate(struct api_conn *c, const struct api_request *r)
{
	static const struct json_field f[] = {{"destination", JSON_STRING, true, NULL},
					      {"post_copy", JSON_BOOL, false, NULL},
					      {"precopy_rounds", JSON_UINT, false, NULL},
					      {"max_bandwidth", JSON_UINT, false, NULL},
					      {"stop_and_copy", JSON_BOOL, false, NULL}};
	static const struct json_schema schema = {f, 5};
	struct guestctl *g = r->ctx;
	const char *dest;
	char err[200];
	cJSON *o;

	if (json_parse_object(r->body, r->body_len, &schema, &o, err, sizeof(err))) {
		api_reply_error(c, 400, "bad_body", "%s", err);
		return;
	}
	dest = json_str(o, "destination", "");
	if (!strchr(dest, ':') || strlen(dest) >= 256)
		api_reply_error(c, 400, "bad_body", "destination '%.80s': must be HOST:PORT", dest);
	else if (!g->ops->migrate)
		api_reply_error(c, 409, "not_supported", "migrate: not supported for %s guests",
				g->ops->kind);
	else if (g->op_busy)
		api_reply_error(c, 409, "busy", "migrate: another request is in progress");
	else if (json_uint(o, "precopy_rounds", 1) > 30)
		api_reply_error(c, 400, "bad_body", "precopy_rounds: at most 30");
	else {
		strcpy(g->op_path, dest);
		g->op_mig = (struct guestctl_migrate){
			.post_copy = json_bool(o, "post_copy", false),
			.stop_copy = json_bool(o, "stop_and_copy", false),
			.precopy_rounds = (unsigned)json_uint(o, "precopy_rounds", 1),
			.max_bandwidth = json_uint(o, "max_bandwidth", 0)};
		g->op_migrate = true;
		start_op(c, g, NULL, "migrate");
		if (!g->op_busy)
			g->op_migrate = false;
	}
	cJSON_Delete(o);
}

/* PUT /replicate {"destination": "HOST:PORT", "interval_ms": N}: continuous
 * replication to a standby (lodge run --standby); answers once it has the first
 * checkpoint. */
static void h_replicate(struct api_conn *c, const struct api_request *r)
{
	static const struct json_field f[] = {{"destination", JSON_STRING, true, NULL},
					      {"interval_ms", JSON_UINT, false, NULL}};
	static const struct json_schema schema = {f, 2};
	struct guestctl *g = r->ctx;
	const char *dest;
	uint64_t ms;
	char err[200];
	cJSON *o;

	if (json_parse_object(r->body, r->body_len, &schema, &o, err, sizeof(err))) {
		api_reply_error(c, 400, "bad_body", "%s", err);
		return;
	}
	dest = json_str(o, "destination", "");
	ms = json_uint(o, "interval_ms", 100);
	if (!strchr(dest, ':') || strlen(dest) >= 256)
		api_reply_error(c, 400, "bad_body", "destination '%.80s': must be HOST:PORT", dest);
	else if (ms < VM_REPL_MIN_INTERVAL_MS || ms > VM_REPL_MAX_INTERVAL_MS)
		api_reply_error(c, 400, "bad_body", "interval_ms %llu: must be %d-%d",
				(unsigned long long)ms, VM_REPL_MIN_INTERVAL_MS,
				VM_REPL_MAX_INTERVAL_MS);
	else if (!g->ops->replicate)
		api_reply_error(c, 409, "not_supported", "replicate: not supported for %s guests",
				g->ops->kind);
	else if (g->op_busy)
		api_reply_error(c, 409, "busy", "replicate: another request is in progress");
	else {
		strcpy(g->op_path, dest);
		g->op_interval = (unsigned)ms;
		g->op_replicate = true;
		start_op(c, g, NULL, "replicate");
		if (!g->op_busy)
			g->op_replicate = false;
	}
	cJSON_Delete(o);
}

static void h_get_replicate(struct api_conn *c, const struct api_request *r)
{
	struct guestctl *g = r->ctx;
	struct vm_repl_stats st;
	char dest[256];
	cJSON *o;
	uint64_t n;

	if (!g->ops->replication || g->ops->replication(g->opaque, &st, dest, sizeof(dest))) {
		api_reply_error(c, 404, "not_replicating", "this guest was never replicated");
		return;
	}
	o = cJSON_CreateObject();
	n = st.checkpoints;
	cJSON_AddStringToObject(o, "destination", dest);
	cJSON_AddStringToObject(o, "state", st.active ? "Replicating" : "Stopped");
	json_add_uint(o, "checkpoints", n);
	json_add_uint(o, "first_checkpoint_us", st.first_ns / 1000);
	json_add_uint(o, "pause_last_us", st.pause_last_ns / 1000);
	json_add_uint(o, "pause_max_us", st.pause_max_ns / 1000);
	json_add_uint(o, "pause_avg_us", n > 1 ? st.pause_total_ns / (n - 1) / 1000 : 0);
	json_add_uint(o, "first_pause_us", st.first_pause_ns / 1000);
	json_add_uint(o, "rpo_last_us", st.rpo_last_ns / 1000);
	json_add_uint(o, "rpo_max_us", st.rpo_max_ns / 1000);
	json_add_uint(o, "rpo_avg_us", n > 1 ? st.rpo_total_ns / (n - 1) / 1000 : 0);
	json_add_uint(o, "bytes", st.bytes);
	if (st.error[0])
		cJSON_AddStringToObject(o, "error", st.error);
	api_reply_json(c, 200, o);
}

/* POST /replicate/send (upgrade): the daemon hands over a socket connected to the
 * standby, with "HOST:PORT INTERVAL_MS" as the message's bytes, and reads the outcome as
 * one JSON line once the standby has the first checkpoint. */
static void h_replicate_send(struct api_conn *c, const struct api_request *r)
{
	struct guestctl *g = r->ctx;
	uint8_t extra[16];
	size_t n;
	int fd;

	if (!r->http->upgrade)
		api_reply_error(c, 400, "upgrade_required",
				"the replication's socket is handed over on a raw stream: ask for "
				"Connection: Upgrade");
	else if (!g->ops->replicate)
		api_reply_error(c, 409, "not_supported", "replicate: not supported for %s guests",
				g->ops->kind);
	else if (g->op_busy)
		api_reply_error(c, 409, "busy", "replicate: another request is in progress");
	else if (api_hijack(c, &fd, extra, sizeof(extra), &n) == 0) {
		if (n || fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK) < 0) {
			close(fd);
			return;
		}
		g->op_fn = NULL;
		g->op_what = "replicate";
		g->op_conn = NULL;
		g->op_replicate = true;
		g->op_sock = fd;
		g->op_busy = true;
		if (pthread_create(&g->op_thread, NULL, op_main, g)) {
			g->op_busy = g->op_replicate = false;
			g->op_sock = -1;
			close(fd);
		}
	}
}

/* PUT /failover: a standby (lodge run --standby) takes over now. */
static void h_failover(struct api_conn *c, const struct api_request *r)
{
	struct guestctl *g = r->ctx;

	if (!g->ops->failover || g->ops->failover(g->opaque))
		api_reply_error(c, 409, "not_standby",
				"failover: this guest is not a standby (lodge run --standby)");
	else
		api_reply(c, 204, NULL, NULL, 0);
}

/* POST /migrate/send's query: post_copy=0|1, stop_and_copy=0|1, precopy_rounds=N (at most 30),
 * max_bandwidth=BYTES_PER_S. Returns 0 or -EINVAL with err. */
static int migrate_query(const char *q, struct guestctl_migrate *o, char *err, size_t errlen)
{
	char k[32], v[32], *end;
	int n;

	*o = (struct guestctl_migrate){.precopy_rounds = 1};
	while ((n = http_query_next(&q, k, sizeof(k), v, sizeof(v))) == 1) {
		unsigned long long x = strtoull(v, &end, 10);
		if (!v[0] || *end ||
		    ((!strcmp(k, "post_copy") || !strcmp(k, "stop_and_copy")) && x > 1) ||
		    (!strcmp(k, "precopy_rounds") && x > 30)) {
			snprintf(err, errlen, "%s=%s: not a valid value", k, v);
			return -EINVAL;
		}
		if (!strcmp(k, "post_copy"))
			o->post_copy = x;
		else if (!strcmp(k, "stop_and_copy"))
			o->stop_copy = x;
		else if (!strcmp(k, "precopy_rounds"))
			o->precopy_rounds = (unsigned)x;
		else if (!strcmp(k, "max_bandwidth"))
			o->max_bandwidth = x;
		else {
			snprintf(err, errlen, "unknown parameter %s", k);
			return -EINVAL;
		}
	}
	if (n < 0)
		snprintf(err, errlen, "a malformed query");
	return n < 0 ? -EINVAL : 0;
}

/* POST /migrate/send (upgrade): the daemon hands over a socket connected to the
 * destination (it runs in the host's network, this process maybe in an empty one) and
 * reads the outcome as one JSON line; then this guest ends as after PUT /migrate. */
static void h_migrate_send(struct api_conn *c, const struct api_request *r)
{
	struct guestctl_migrate mig;
	char err[200];
	struct guestctl *g = r->ctx;
	uint8_t extra[16];
	size_t n;
	int fd;

	if (!r->http->upgrade)
		api_reply_error(c, 400, "upgrade_required",
				"the migration's socket is handed over on a raw stream: ask for "
				"Connection: Upgrade");
	else if (!g->ops->migrate)
		api_reply_error(c, 409, "not_supported", "migrate: not supported for %s guests",
				g->ops->kind);
	else if (g->op_busy)
		api_reply_error(c, 409, "busy", "migrate: another request is in progress");
	else if (migrate_query(r->query, &mig, err, sizeof(err)))
		api_reply_error(c, 400, "bad_query", "migrate/send: %s", err);
	else if (api_hijack(c, &fd, extra, sizeof(extra), &n) == 0) {
		if (n || fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK) < 0) {
			close(fd); /* bytes before the 101: the descriptor would be lost */
			return;
		}
		g->op_fn = NULL;
		g->op_what = "migrate";
		g->op_conn = NULL;
		g->op_migrate = true;
		g->op_mig = mig;
		g->op_sock = fd;
		g->op_busy = true;
		if (pthread_create(&g->op_thread, NULL, op_main, g)) {
			g->op_busy = g->op_migrate = false;
			g->op_sock = -1;
			close(fd);
		}
	}
}

static void on_incoming_conn(void *opaque, int fd, unsigned revents)
{
	struct guestctl *g = opaque;
	int sock = -1, r = recv_fd(fd, &sock, g->in_peer, sizeof(g->in_peer));

	(void)revents;
	if (r == -EAGAIN)
		return;
	evloop_watch_del(g->in_conn_watch);
	g->in_conn_watch = NULL;
	pthread_mutex_lock(&g->in_lock);
	if (r) {
		close(fd);
		g->in_conn = -1; /* the daemon may try again */
	} else {
		g->in_fd = sock;
		pthread_cond_signal(&g->in_cond);
	}
	pthread_mutex_unlock(&g->in_lock);
}

/* POST /migrate/receive (upgrade): with --incoming control, the daemon hands over the
 * connection it accepted from the source; the outcome goes back as one JSON line. */
static void h_migrate_receive(struct api_conn *c, const struct api_request *r)
{
	struct guestctl *g = r->ctx;
	uint8_t extra[16];
	size_t n;
	int fd;

	if (!r->http->upgrade) {
		api_reply_error(c, 400, "upgrade_required",
				"the migration's socket is handed over on a raw stream: ask for "
				"Connection: Upgrade");
		return;
	}
	pthread_mutex_lock(&g->in_lock);
	if (!g->incoming)
		api_reply_error(c, 409, "not_incoming",
				"this guest does not wait for a migration (--incoming control)");
	else if (g->in_conn >= 0)
		api_reply_error(c, 409, "busy", "a migration stream was handed over already");
	else if (api_hijack(c, &fd, extra, sizeof(extra), &n) == 0) {
		if (n ||
		    evloop_watch_add(g->loop, fd, POLLIN, on_incoming_conn, g, &g->in_conn_watch))
			close(fd);
		else
			g->in_conn = fd;
	}
	pthread_mutex_unlock(&g->in_lock);
}

static void h_put_actions(struct api_conn *c, const struct api_request *r)
{
	static const struct json_field f[] = {{"action_type", JSON_STRING, true, NULL}};
	static const struct json_schema schema = {f, 1};
	struct guestctl *g = r->ctx;
	char err[200];
	cJSON *o;
	const char *a;

	if (json_parse_object(r->body, r->body_len, &schema, &o, err, sizeof(err))) {
		api_reply_error(c, 400, "bad_body", "%s", err);
		return;
	}
	a = json_str(o, "action_type", "");
	if ((!strcmp(a, "Stop") || !strcmp(a, "Kill")) && g->op_busy && !g->op_fn &&
	    !g->op_migrate && !g->op_replicate && g->ops->end_beside_snapshot)
		/* a snapshot is being written: the guest ends once it is (the op asks only) */
		reply_result(c, (!strcmp(a, "Stop") ? g->ops->stop : g->ops->kill)(g->opaque),
			     a[0] == 'S' ? "stop" : "kill", "");
	else if (!strcmp(a, "Stop"))
		start_op(c, g, g->ops->stop, "stop");
	else if (!strcmp(a, "Kill"))
		start_op(c, g, g->ops->kill, "kill");
	else
		api_reply_error(c, 400, "bad_body",
				"action_type '%.40s': must be \"Stop\" or \"Kill\"", a);
	cJSON_Delete(o);
}

static void h_console(struct api_conn *c, const struct api_request *r)
{
	struct guestctl *g = r->ctx;
	struct ctl_client *cl;
	unsigned slot = MAX_CLIENTS;
	int fd;
	size_t extra;

	if (!r->http->upgrade) {
		api_reply_error(c, 400, "upgrade_required",
				"the console is a raw stream: ask for Connection: Upgrade");
		return;
	}
	if (g->out_pipe[0] < 0) {
		api_reply_error(c, 409, "no_console", "the guest's console is not redirected");
		return;
	}
	for (unsigned i = 0; i < MAX_CLIENTS; i++)
		if (!g->clients[i]) {
			slot = i;
			break;
		}
	cl = slot < MAX_CLIENTS ? core_calloc(1, sizeof(*cl)) : NULL;
	if (!cl) {
		api_reply_error(c, 503, "too_many", "at most %d consoles may be attached",
				MAX_CLIENTS);
		return;
	}
	if (api_hijack(c, &fd, cl->in, sizeof(cl->in), &extra)) {
		core_free(cl);
		return;
	}
	fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
	cl->g = g;
	cl->fd = fd;
	cl->in_len = extra;
	if (evloop_watch_add(g->loop, fd, POLLIN, on_client, cl, &cl->watch)) {
		close(fd);
		core_free(cl);
		return;
	}
	g->clients[slot] = cl;
	if (extra)
		feed_guest(g);
	client_watch(cl);
}

static const struct api_route routes[] = {
	{HTTP_GET, "/vm", h_get_vm},
	{HTTP_PATCH, "/vm", h_patch_vm},
	{HTTP_PUT, "/actions", h_put_actions},
	{HTTP_PUT, "/snapshot/create", h_snapshot_create},
	{HTTP_PUT, "/migrate", h_migrate},
	{HTTP_PUT, "/replicate", h_replicate},
	{HTTP_GET, "/replicate", h_get_replicate},
	{HTTP_PUT, "/failover", h_failover},
	{HTTP_POST, "/replicate/send", h_replicate_send},
	{HTTP_POST, "/console", h_console},
	{HTTP_POST, "/migrate/send", h_migrate_send},
	{HTTP_POST, "/migrate/receive", h_migrate_receive},
};

/* ---- set-up ---- */

static int make_pipes(struct guestctl *g)
{
	if (pipe2(g->out_pipe, O_CLOEXEC) < 0 || pipe2(g->in_pipe, O_CLOEXEC) < 0)
		return -errno;
	/* Our ends never block; the guest's ends do (a UART write waits for us). */
	if (fcntl(g->out_pipe[0], F_SETFL, O_NONBLOCK) < 0 ||
	    fcntl(g->in_pipe[1], F_SETFL, O_NONBLOCK) < 0)
		return -errno;
	return 0;
}

struct open_args {
	struct guestctl *g;
	const struct guestctl_config *cfg;
	int r;
};

static void open_on_loop(void *opaque)
{
	struct open_args *a = opaque;
	struct guestctl *g = a->g;
	struct api_server_config sc = {.path = a->cfg->api_path,
				       .mode = 0600,
				       .gid = (gid_t)-1,
				       .max_body = 4096,
				       .max_conns = 32,
				       .routes = routes,
				       .nroutes = sizeof(routes) / sizeof(routes[0]),
				       .ctx = g};
	int r = evloop_notifier_add(g->loop, on_op_done, g, &g->op_done);

	if (!r && g->out_pipe[0] >= 0) {
		r = evloop_watch_add(g->loop, g->out_pipe[0], POLLIN, on_out_pipe, g,
				     &g->out_watch);
		r = r ?: evloop_watch_add(g->loop, g->in_pipe[1], 0, on_in_pipe, g, &g->in_watch);
	}
	if (!r && a->cfg->api_path) {
		r = api_server_open(g->loop, &sc, &g->srv);
		if (r)
			log_err("--api %s: cannot serve the control socket: %s", a->cfg->api_path,
				strerror(-r));
	}
	a->r = r;
}

int guestctl_open(const struct guestctl_config *cfg, const struct guestctl_ops *ops, void *opaque,
		  struct guestctl **out)
{
	struct guestctl *g = core_calloc(1, sizeof(*g));
	struct open_args a = {.g = g, .cfg = cfg};
	int r;

	if (!g)
		return -ENOMEM;
	g->ops = ops;
	g->opaque = opaque;
	g->op_sock = g->in_conn = g->in_fd = -1;
	/* Opened now, before a sandbox's seccomp filter. Read and write: a FIFO with a reader
	 * (this one) never fails a write with EPIPE nor raises SIGPIPE, also when the daemon
	 * that made it is gone (killed, restarting); nor does the open wait for one. */
	g->ready_fd = cfg->ready_file
			      ? open(cfg->ready_file, O_RDWR | O_NONBLOCK | O_CLOEXEC | O_NOFOLLOW)
			      : -1;
	if (cfg->ready_file && g->ready_fd < 0)
		log_debug("--ready-file %s: %s", cfg->ready_file, strerror(errno));
	g->incoming = cfg->incoming;
	pthread_mutex_init(&g->in_lock, NULL);
	pthread_cond_init(&g->in_cond, NULL);
	g->out_pipe[0] = g->out_pipe[1] = g->in_pipe[0] = g->in_pipe[1] = -1;
	g->statm_fd =
		cfg->statm_fd >= 0 ? cfg->statm_fd : open("/proc/self/statm", O_RDONLY | O_CLOEXEC);
	g->start_ns = core_clock_ns(CLOCK_MONOTONIC);
	r = cfg->exit_file && !(g->exit_file = strdup(cfg->exit_file)) ? -ENOMEM : 0;
	if (!r && cfg->console_log) {
		r = logring_open(cfg->console_log, true, LOGRING_DEFAULT_CAPACITY, &g->ring);
		if (r)
			log_err("--console-log %s: %s", cfg->console_log, strerror(-r));
		r = r ?: make_pipes(g);
	}
	r = r ?: evloop_create(&g->loop);
	if (!r) {
		evloop_call(g->loop, open_on_loop, &a); /* runs here: the loop is not started */
		r = a.r ?: evloop_start(g->loop, "lodge-ctl");
	}
	if (r) {
		guestctl_close(g);
		return r;
	}
	*out = g;
	return 0;
}

int guestctl_console_in(const struct guestctl *g)
{
	return g->in_pipe[0];
}

int guestctl_console_out(const struct guestctl *g)
{
	return g->out_pipe[1];
}

int guestctl_incoming(struct guestctl *g, int *fd, char *peer, size_t cap)
{
	pthread_mutex_lock(&g->in_lock);
	while (g->in_fd < 0)
		pthread_cond_wait(&g->in_cond, &g->in_lock);
	*fd = g->in_fd;
	g->in_fd = -1;
	snprintf(peer, cap, "%s", g->in_peer);
	pthread_mutex_unlock(&g->in_lock);
	return 0;
}

void guestctl_incoming_done(struct guestctl *g, int r, const char *msg)
{
	pthread_mutex_lock(&g->in_lock);
	if (g->in_conn >= 0) {
		write_outcome(g->in_conn, r, "migration_failed", msg);
		close(g->in_conn);
		g->in_conn = -1;
	}
	g->incoming = false;
	pthread_mutex_unlock(&g->in_lock);
}

static void drain_on_loop(void *opaque)
{
	struct guestctl *g = opaque;

	if (g->out_pipe[0] >= 0)
		drain_output(g);
	for (unsigned i = 0; i < MAX_CLIENTS; i++)
		if (g->clients[i])
			client_flush(g->clients[i]);
}

/* The record is written to a temporary file and renamed, so a reader sees all or none;
 * one writer at a time (a signal's end may race the main thread's). */
void guestctl_exit_record(const char *path, int status, const char *reason)
{
	static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
	char tmp[4096], esc[512];
	size_t o = 0;
	FILE *f;

	for (const char *s = reason; *s && o + 2 < sizeof(esc); s++) {
		if (*s == '"' || *s == '\\')
			esc[o++] = '\\';
		esc[o++] = (unsigned char)*s < 0x20 ? ' ' : *s;
	}
	esc[o] = 0;
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	pthread_mutex_lock(&lock);
	f = fopen(tmp, "we");
	if (!f) {
		log_warn("--exit-file %s: %s", path, strerror(errno));
		pthread_mutex_unlock(&lock);
		return;
	}
	fprintf(f, "{\"status\":%d,\"reason\":\"%s\"}\n", status, esc);
	if (fclose(f) != 0 || rename(tmp, path) < 0)
		log_warn("--exit-file %s: %s", path, strerror(errno));
	pthread_mutex_unlock(&lock);
}

/* An operation still running when the guest ended (a stop or kill whose worker had not
 * reported yet: the guest ended first) is answered before the socket closes, so that its
 * client hears the outcome rather than a closed connection. Waits up to OP_SETTLE_MS: an
 * operation that takes longer is joined (unanswered) by guestctl_close. */
#define OP_SETTLE_MS 10000

struct op_query {
	struct guestctl *g;
	bool busy;
};

static void op_busy_on_loop(void *opaque)
{
	struct op_query *q = opaque;

	q->busy = q->g->op_busy;
}

static void op_settle(struct guestctl *g)
{
	struct op_query q = {.g = g};

	for (unsigned i = 0; i < OP_SETTLE_MS / 5; i++) {
		evloop_call(g->loop, op_busy_on_loop, &q);
		if (!q.busy)
			return;
		usleep(5000);
	}
}

void guestctl_ready(struct guestctl *g)
{
	static const char byte = 'r';

	if (!g || g->ready_fd < 0)
		return;
	if (write(g->ready_fd, &byte, 1) != 1)
		log_debug("--ready-file: %s", strerror(errno));
	close(g->ready_fd);
	g->ready_fd = -1;
}

void guestctl_exit(struct guestctl *g, int status, const char *reason)
{
	op_settle(g);
	fflush(stdout);
	evloop_call(g->loop, drain_on_loop, g);
	if (g->exit_file)
		guestctl_exit_record(g->exit_file, status, reason);
}

static void close_on_loop(void *opaque)
{
	struct guestctl *g = opaque;

	api_server_close(g->srv);
	g->srv = NULL;
	for (unsigned i = 0; i < MAX_CLIENTS; i++)
		if (g->clients[i])
			client_drop(g->clients[i]);
}

void guestctl_close(struct guestctl *g)
{
	if (!g)
		return;
	if (g->loop) {
		/* an operation that finished (a snapshot the program's stop waited for)
		 * answers its client before the socket closes */
		evloop_call(g->loop, on_op_done, g);
		evloop_call(g->loop, close_on_loop, g);
		evloop_stop(g->loop);
		if (g->op_busy) /* its notification can no longer run: join it here */
			pthread_join(g->op_thread, NULL);
		evloop_destroy(g->loop);
	}
	logring_close(g->ring);
	for (int i = 0; i < 2; i++) {
		if (g->out_pipe[i] >= 0)
			close(g->out_pipe[i]);
		if (g->in_pipe[i] >= 0)
			close(g->in_pipe[i]);
	}
	if (g->statm_fd >= 0)
		close(g->statm_fd);
	if (g->ready_fd >= 0)
		close(g->ready_fd);
	if (g->in_conn >= 0)
		close(g->in_conn);
	if (g->in_fd >= 0)
		close(g->in_fd);
	pthread_mutex_destroy(&g->in_lock);
	pthread_cond_destroy(&g->in_cond);
	free(g->exit_file);
	core_free(g);
}
