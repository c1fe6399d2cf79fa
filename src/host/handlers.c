/*
 * The daemon's REST API (docs/API.md, docs/openapi.yaml): the route table and its
 * handlers. Handlers check their input (path parameters, query strings, JSON bodies),
 * call the supervisor, and answer in JSON; errors are {"error": CODE, "message": WHY}
 * with a 4xx status for the client's mistakes (400 malformed, 404 unknown guest, 409 a
 * guest in the wrong state or a name taken) and 5xx for the host's.
 */
#include "host/daemon.h"
#include "host/procstat.h"
#include "wasm/wasm.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "api/client.h"
#include "api/json.h"
#include "api/server.h"
#include "core/evloop.h"
#include "core/log.h"
#include "core/logring.h"

#define LOG_CHUNK	 65536
#define FOLLOW_POLL_NS	 100000000ull
#define FOLLOW_BACKLOG	 (256u << 10)
#define MAX_TAIL_LINES	 100000
#define MAX_STOP_TIMEOUT 3600
#define RELAY_BUF	 16384

/* ---- small helpers ---- */

static void iso_time(int64_t ms, char *out, size_t len)
{
	time_t s = (time_t)(ms / 1000);
	struct tm tm;

	gmtime_r(&s, &tm);
	if (snprintf(out, len, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
		     tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
		     (int)(ms % 1000)) >= (int)len)
		out[0] = 0;
}

static void add_time(cJSON *o, const char *name, int64_t ms)
{
	char buf[40];

	if (!ms) {
		cJSON_AddNullToObject(o, name);
		return;
	}
	iso_time(ms, buf, sizeof(buf));
	cJSON_AddStringToObject(o, name, buf);
}

static int errno_status(int r)
{
	switch (r) {
	case -EINVAL:
		return 400;
	case -ENOENT:
		return 404;
	case -EBUSY:
	case -EEXIST:
	case -ENOTSUP:
		return 409;
	case -ECOMM:
	case -ECONNABORTED:
	case -ECANCELED:
		return 502;
	default:
		return 500;
	}
}

static const char *errno_code(int r)
{
	switch (r) {
	case -EINVAL:
		return "invalid";
	case -ENOENT:
		return "not_found";
	case -EBUSY:
		return "wrong_state";
	case -EEXIST:
		return "name_taken";
	case -ENOTSUP:
		return "not_supported";
	case -ECOMM:
		return "guest_unreachable";
	case -ECONNABORTED:
		return "migration_failed";
	case -ECANCELED:
		return "start_failed";
	default:
		return "internal";
	}
}

void daemon_reply_errno(struct api_conn *c, int r, const char *msg)
{
	api_reply_error(c, errno_status(r), errno_code(r), "%s", msg);
}

/* Parses the query string: every key must be in `keys`, at most once; values into vals
 * ("" when absent, "1" for a bare key such as "?follow"); *given (may be NULL) gets a bit
 * per key present. Answers 400 and returns false otherwise. */
static bool query_given(struct api_conn *c, const struct api_request *r, const char *const *keys,
			unsigned nkeys, char vals[][64], unsigned *given)
{
	const char *q = r->query;
	char k[64], v[64];
	unsigned seen = 0;
	int n;

	for (unsigned i = 0; vals && i < nkeys; i++)
		vals[i][0] = 0;
	for (;;) {
		const char *start = q;
		unsigned i;
		n = http_query_next(&q, k, sizeof(k), v, sizeof(v));
		if (n != 1)
			break;
		for (i = 0; i < nkeys && strcmp(keys[i], k); i++)
			;
		if (i == nkeys || !vals) {
			api_reply_error(c, 400, "bad_query", "unknown query parameter '%s'", k);
			return false;
		}
		if (seen & (1u << i)) {
			api_reply_error(c, 400, "bad_query",
					"query parameter '%s' given more than once", k);
			return false;
		}
		seen |= 1u << i;
		/* "k" alone is "k=1"; "k=" is an empty value */
		snprintf(vals[i], 64, "%s", memchr(start, '=', (size_t)(q - start)) ? v : "1");
	}
	if (n == -2) {
		api_reply_error(c, 400, "bad_query",
				"a query parameter's name or value is longer than %zu bytes",
				sizeof(v) - 1);
		return false;
	}
	if (n < 0) {
		api_reply_error(c, 400, "bad_query", "malformed query string");
		return false;
	}
	if (given)
		*given = seen;
	return true;
}

static bool query(struct api_conn *c, const struct api_request *r, const char *const *keys,
		  unsigned nkeys, char vals[][64])
{
	return query_given(c, r, keys, nkeys, vals, NULL);
}

/* A boolean query value into *out: 1, true, yes or 0, false, no ("?follow" alone is
 * true). Answers 400 naming the parameter and the values otherwise. */
static bool boolean(struct api_conn *c, const char *key, const char *v, bool *out)
{
	static const char *const yes[] = {"1", "true", "yes"}, *const no[] = {"0", "false", "no"};

	for (unsigned i = 0; i < 3; i++) {
		if (!strcasecmp(v, yes[i]) || !strcasecmp(v, no[i])) {
			*out = !strcasecmp(v, yes[i]);
			return true;
		}
	}
	api_reply_error(c, 400, "bad_query", "%s '%s': must be 1, true or yes, or 0, false or no",
			key, v);
	return false;
}

/* A non-negative integer query value no larger than max; -1 if malformed. */
static long number(const char *v, long max)
{
	char *end;
	long n;

	if (!v[0])
		return -1;
	n = strtol(v, &end, 10);
	return *end || n < 0 || n > max ? -1 : n;
}

static struct guest *find_or_404(struct api_conn *c, const struct api_request *r)
{
	struct daemon *d = r->ctx;
	struct guest *g = guest_find(d, r->params[0]);

	if (!g)
		api_reply_error(c, 404, "not_found", "no guest named '%.80s'", r->params[0]);
	return g;
}

/* ---- guests ---- */

static cJSON *summary(const struct guest *g)
{
	cJSON *o = cJSON_CreateObject(), *e;

	if (!o)
		return NULL;
	cJSON_AddStringToObject(o, "name", g->rec.name);
	cJSON_AddStringToObject(o, "kind", g->rec.kind);
	cJSON_AddStringToObject(o, "state", g->rec.state);
	if (g->rec.pid)
		json_add_uint(o, "pid", (uint64_t)g->rec.pid);
	else
		cJSON_AddNullToObject(o, "pid");
	json_add_uint(o, "restarts", g->rec.restarts);
	add_time(o, "created", g->rec.created_ms);
	/* a standby waits in state "incoming" too: the list tells it from a migration's */
	cJSON_AddBoolToObject(o, "standby",
			      cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(g->config, "standby")));
	if (!g->rec.has_exit) {
		cJSON_AddNullToObject(o, "exit");
		return o;
	}
	e = cJSON_AddObjectToObject(o, "exit");
	if (e) {
		cJSON_AddNumberToObject(e, "status", g->rec.exit_status);
		cJSON_AddStringToObject(e, "reason", g->rec.exit_reason ? g->rec.exit_reason : "");
	}
	return o;
}

static cJSON *inspect(const struct guest *g)
{
	const struct daemon *d = g->d;
	const cJSON *c = g->config;
	cJSON *o = summary(g), *l, *cg, *p;
	char path[700];

	if (!o)
		return NULL;
	cJSON_AddStringToObject(o, "restart_policy", json_str(c, "restart", "no"));
	add_time(o, "started", g->rec.started_ms);
	add_time(o, "finished", g->rec.finished_ms);
	l = cJSON_AddObjectToObject(o, "limits");
	if (l) {
		json_add_uint(l, "cpus", json_uint(c, "cpus", 1));
		if (json_uint(c, "memory", 0))
			json_add_uint(l, "memory", json_uint(c, "memory", 0));
		else if (g->kind == GUEST_VM && json_str(c, "kernel", NULL))
			json_add_uint(l, "memory", DAEMON_DEFAULT_VM_MEMORY); /* what it gets */
		else if (json_str(c, "wasm", NULL)) /* the engine's default budget */
			json_add_uint(l, "memory", WASM_DEFAULT_MAX_MEMORY);
		else
			cJSON_AddNullToObject(l, "memory");
		if (cJSON_GetObjectItemCaseSensitive(c, "cpu_quota"))
			cJSON_AddNumberToObject(l, "cpu_quota", json_num(c, "cpu_quota", 0));
		else
			cJSON_AddNullToObject(l, "cpu_quota");
		json_add_uint(l, "disk_bps", json_uint(c, "disk_bps", 0));
		json_add_uint(l, "disk_iops", json_uint(c, "disk_iops", 0));
		json_add_uint(l, "net_bps", json_uint(c, "net_bps", 0));
		json_add_uint(l, "net_pps", json_uint(c, "net_pps", 0));
	}
	cg = cJSON_AddObjectToObject(o, "cgroup");
	if (cg) {
		cJSON_AddNumberToObject(cg, "version", d->have_cgroups ? d->cg.version : 0);
		if (d->have_cgroups)
			cgroup_path(&d->cg, g->rec.name, path, sizeof(path));
		else
			path[0] = 0;
		cJSON_AddStringToObject(cg, "path", path);
		cJSON_AddStringToObject(cg, "applied", g->cg_applied);
		cJSON_AddStringToObject(cg, "skipped", g->cg_skipped);
	}
	p = cJSON_AddObjectToObject(o, "paths");
	if (p) {
		cJSON_AddStringToObject(p, "dir", g->dir);
		guest_path(g, "run/console.log", path, sizeof(path));
		cJSON_AddStringToObject(p, "console_log", path);
		guest_path(g, "run/api.sock", path, sizeof(path));
		cJSON_AddStringToObject(p, "control_socket", path);
	}
	cJSON_AddItemToObject(o, "config", cJSON_Duplicate(c, 1));
	return o;
}

static int by_name(const void *a, const void *b)
{
	const struct guest *x = *(const struct guest *const *)a,
			   *y = *(const struct guest *const *)b;

	return strcmp(x->rec.name, y->rec.name);
}

/* How long listing or inspecting waits for a guest whose state is unsure (its control
 * socket timed out on a pause or resume) to say whether it is paused. */
#define SYNC_WAIT_MS 250

static void h_list(struct api_conn *c, const struct api_request *r)
{
	struct daemon *d = r->ctx;
	cJSON *a;
	struct guest **sorted;
	size_t n = 0, i = 0;

	if (!query(c, r, NULL, 0, NULL))
		return;
	for (struct guest *g = d->guests; g; g = g->next)
		n++;
	sorted = malloc((n ? n : 1) * sizeof(*sorted));
	a = cJSON_CreateArray();
	if (!sorted || !a) {
		free(sorted);
		cJSON_Delete(a);
		api_reply_error(c, 500, "internal", "out of memory");
		return;
	}
	for (struct guest *g = d->guests; g; g = g->next) {
		(void)guest_sync_state(g, false, SYNC_WAIT_MS);
		sorted[i++] = g;
	}
	qsort(sorted, n, sizeof(*sorted), by_name); /* stable output for people and tests */
	for (i = 0; i < n; i++)
		cJSON_AddItemToArray(a, summary(sorted[i]));
	free(sorted);
	api_reply_json(c, 200, a);
}

static const struct json_field create_fields[] = {
	{"name", JSON_STRING, true, NULL},
	{"kind", JSON_STRING, false, NULL},
	{"kernel", JSON_STRING, false, NULL},
	{"initrd", JSON_STRING, false, NULL},
	{"append", JSON_STRING, false, NULL},
	{"firmware", JSON_STRING, false, NULL},
	{"disks", JSON_STRING_ARRAY, false, NULL},
	{"nets", JSON_STRING_ARRAY, false, NULL},
	{"wasm", JSON_STRING, false, NULL},
	{"args", JSON_STRING_ARRAY, false, NULL},
	{"env", JSON_STRING_ARRAY, false, NULL},
	{"dirs", JSON_STRING_ARRAY, false, NULL},
	{"cpus", JSON_UINT, false, NULL},
	{"memory", JSON_UINT, false, NULL},
	{"cpu_quota", JSON_NUMBER, false, NULL},
	{"disk_bps", JSON_UINT, false, NULL},
	{"net_bps", JSON_UINT, false, NULL},
	{"disk_iops", JSON_UINT, false, NULL},
	{"net_pps", JSON_UINT, false, NULL},
	{"restart", JSON_STRING, false, NULL},
	{"restore", JSON_STRING, false, NULL},
	{"incoming", JSON_STRING, false, NULL},
	{"standby", JSON_BOOL, false, NULL},
	{"failover", JSON_STRING, false, NULL},
	{"shared_disks", JSON_BOOL, false, NULL},
	{"hugepages", JSON_BOOL, false, NULL},
	{"jit_cache", JSON_UINT, false, NULL},
	{"backing_files", JSON_STRING_ARRAY, false, NULL},
};
static const struct json_schema create_schema = {create_fields,
						 sizeof(create_fields) / sizeof(create_fields[0])};

static void h_create(struct api_conn *c, const struct api_request *r)
{
	struct daemon *d = r->ctx;
	struct guest *g;
	char err[512];
	cJSON *body;
	int e;

	if (!query(c, r, NULL, 0, NULL))
		return;
	if (json_parse_object(r->body, r->body_len, &create_schema, &body, err, sizeof(err))) {
		api_reply_error(c, 400, "bad_body", "%s", err);
		return;
	}
	e = guest_create(d, body, &g, err, sizeof(err));
	cJSON_Delete(body);
	if (e) {
		daemon_reply_errno(c, e, err);
		return;
	}
	api_reply_json(c, 201, inspect(g));
}

static void h_inspect(struct api_conn *c, const struct api_request *r)
{
	struct guest *g;

	if (!query(c, r, NULL, 0, NULL) || !(g = find_or_404(c, r)))
		return;
	(void)guest_sync_state(g, false, SYNC_WAIT_MS);
	api_reply_json(c, 200, inspect(g));
}

static void h_delete(struct api_conn *c, const struct api_request *r)
{
	static const char *const keys[] = {"force"};
	char v[1][64], err[512];
	unsigned given;
	bool force = false;
	struct guest *g;
	int e;

	if (!query_given(c, r, keys, 1, v, &given) ||
	    ((given & 1) && !boolean(c, "force", v[0], &force)) || !(g = find_or_404(c, r)))
		return;
	e = guest_remove(g, force, c, err, sizeof(err));
	if (e)
		daemon_reply_errno(c, e, err);
}

/* pause, resume: answered at once. */
static void simple_action(struct api_conn *c, const struct api_request *r,
			  int (*fn)(struct guest *, char *, size_t))
{
	char err[512];
	struct guest *g;
	int e;

	if (!query(c, r, NULL, 0, NULL) || !(g = find_or_404(c, r)))
		return;
	e = fn(g, err, sizeof(err));
	if (e)
		daemon_reply_errno(c, e, err);
	else
		api_reply(c, 204, NULL, NULL, 0);
}

/* start: answered once the guest is set up, or failed to be (guest_start_wait). */
static void h_start(struct api_conn *c, const struct api_request *r)
{
	char err[512];
	struct guest *g;
	int e;

	if (!query(c, r, NULL, 0, NULL) || !(g = find_or_404(c, r)))
		return;
	e = guest_start(g, err, sizeof(err));
	if (e == -ECANCELED) /* it could not be set up (its cgroup) */
		api_reply_error(c, 502, "start_failed", "guest %s: its start failed: %s",
				g->rec.name, err);
	else if (e)
		daemon_reply_errno(c, e, err);
	else if (guest_start_wait(g, c))
		api_reply(c, 204, NULL, NULL, 0);
}

static void h_pause(struct api_conn *c, const struct api_request *r)
{
	simple_action(c, r, guest_pause);
}

static void h_resume(struct api_conn *c, const struct api_request *r)
{
	simple_action(c, r, guest_resume);
}

static const struct json_field snapshot_fields[] = {
	{"path", JSON_STRING, true, NULL},
	{"leave_paused", JSON_BOOL, false, NULL},
};
static const struct json_schema snapshot_schema = {
	snapshot_fields, sizeof(snapshot_fields) / sizeof(snapshot_fields[0])};

/* PUT /v1/guests/{name}/snapshot: answered once the file is written (guest_snapshot: the
 * daemon serves other requests while the guest writes it). */
static void h_snapshot(struct api_conn *c, const struct api_request *r)
{
	char err[512];
	struct guest *g;
	cJSON *body;
	int e;

	if (!query(c, r, NULL, 0, NULL) || !(g = find_or_404(c, r)))
		return;
	if (json_parse_object(r->body, r->body_len, &snapshot_schema, &body, err, sizeof(err))) {
		api_reply_error(c, 400, "bad_body", "%s", err);
		return;
	}
	e = guest_snapshot(g, json_str(body, "path", ""),
			   cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(body, "leave_paused")), c,
			   err, sizeof(err));
	cJSON_Delete(body);
	if (e)
		daemon_reply_errno(c, e, err);
}

static const struct json_field migrate_fields[] = {
	{"destination", JSON_STRING, true, NULL},   {"post_copy", JSON_BOOL, false, NULL},
	{"precopy_rounds", JSON_UINT, false, NULL}, {"max_bandwidth", JSON_UINT, false, NULL},
	{"stop_and_copy", JSON_BOOL, false, NULL},
};
static const struct json_schema migrate_schema = {migrate_fields, 5};

/* POST /v1/guests/{name}/migrate: answered once the guest runs at the destination and
 * has ended here, or with the error that left it running here (guest_migrate). */
static void h_migrate(struct api_conn *c, const struct api_request *r)
{
	char err[512], opts[96] = "";
	struct guest *g;
	cJSON *body;
	int e;

	if (!query(c, r, NULL, 0, NULL) || !(g = find_or_404(c, r)))
		return;
	if (json_parse_object(r->body, r->body_len, &migrate_schema, &body, err, sizeof(err))) {
		api_reply_error(c, 400, "bad_body", "%s", err);
		return;
	}
	if (json_uint(body, "precopy_rounds", 1) > 30) {
		api_reply_error(c, 400, "bad_body", "precopy_rounds: at most 30");
		cJSON_Delete(body);
		return;
	}
	if (json_bool(body, "post_copy", false))
		snprintf(opts, sizeof(opts), "post_copy=1&precopy_rounds=%llu&",
			 (unsigned long long)json_uint(body, "precopy_rounds", 1));
	if (json_bool(body, "stop_and_copy", false))
		snprintf(opts + strlen(opts), sizeof(opts) - strlen(opts), "stop_and_copy=1&");
	if (json_uint(body, "max_bandwidth", 0))
		snprintf(opts + strlen(opts), sizeof(opts) - strlen(opts), "max_bandwidth=%llu",
			 (unsigned long long)json_uint(body, "max_bandwidth", 0));
	if (opts[0] && opts[strlen(opts) - 1] == '&')
		opts[strlen(opts) - 1] = 0;
	e = guest_migrate(g, json_str(body, "destination", ""), opts, c, err, sizeof(err));
	cJSON_Delete(body);
	if (e)
		daemon_reply_errno(c, e, err);
}

static const struct json_field replicate_fields[] = {
	{"destination", JSON_STRING, true, NULL},
	{"interval_ms", JSON_UINT, false, NULL},
};
static const struct json_schema replicate_schema = {replicate_fields, 2};

/* POST /v1/guests/{name}/replicate: answered once the standby has the first checkpoint
 * (guest_replicate). */
static void h_replicate(struct api_conn *c, const struct api_request *r)
{
	char err[512];
	struct guest *g;
	cJSON *body;
	uint64_t ms;
	int e;

	if (!query(c, r, NULL, 0, NULL) || !(g = find_or_404(c, r)))
		return;
	if (json_parse_object(r->body, r->body_len, &replicate_schema, &body, err, sizeof(err))) {
		api_reply_error(c, 400, "bad_body", "%s", err);
		return;
	}
	ms = json_uint(body, "interval_ms", 100);
	if (ms < 5 || ms > 60000) {
		api_reply_error(c, 400, "bad_body", "interval_ms %llu: must be 5-60000",
				(unsigned long long)ms);
		cJSON_Delete(body);
		return;
	}
	e = guest_replicate(g, json_str(body, "destination", ""), (unsigned)ms, c, err,
			    sizeof(err));
	cJSON_Delete(body);
	if (e)
		daemon_reply_errno(c, e, err);
}

/* POST /v1/guests/{name}/failover: a standby takes over. */
static void h_failover(struct api_conn *c, const struct api_request *r)
{
	char err[512];
	struct guest *g;
	int e;

	if (!query(c, r, NULL, 0, NULL) || !(g = find_or_404(c, r)))
		return;
	e = guest_failover(g, err, sizeof(err));
	if (e)
		daemon_reply_errno(c, e, err);
	else
		api_reply(c, 204, NULL, NULL, 0);
}

static void h_stop(struct api_conn *c, const struct api_request *r)
{
	static const char *const keys[] = {"timeout"};
	struct daemon *d = r->ctx;
	char v[1][64], err[512];
	struct guest *g;
	long t;
	int e;

	if (!query(c, r, keys, 1, v) || !(g = find_or_404(c, r)))
		return;
	t = v[0][0] ? number(v[0], MAX_STOP_TIMEOUT) : (long)d->cfg.stop_timeout;
	if (t < 0) {
		api_reply_error(c, 400, "bad_query", "timeout '%s': seconds from 0 to %d", v[0],
				MAX_STOP_TIMEOUT);
		return;
	}
	e = guest_stop(g, (unsigned)t, c, err, sizeof(err));
	if (e == -EALREADY)
		api_reply(c, 304, NULL, NULL, 0); /* not running: as docker, nothing to do */
	else if (e)
		daemon_reply_errno(c, e, err);
	else if (!guest_active(g))
		api_reply(c, 204, NULL, NULL, 0); /* a pending restart was cancelled */
}

static void h_kill(struct api_conn *c, const struct api_request *r)
{
	char err[512];
	struct guest *g;
	int e;

	if (!query(c, r, NULL, 0, NULL) || !(g = find_or_404(c, r)))
		return;
	e = guest_kill(g, c, err, sizeof(err));
	if (e)
		daemon_reply_errno(c, e, err);
}

/* ---- logs ---- */

static void follower_free(struct follower *f)
{
	struct guest *g = f->g;

	for (struct follower **pp = &g->followers; *pp; pp = &(*pp)->next)
		if (*pp == f) {
			*pp = f->next;
			break;
		}
	evloop_timer_del(f->timer);
	logring_close(f->ring);
	free(f);
}

static void follower_gone(void *opaque)
{
	follower_free(opaque);
}

static bool open_ring(struct follower *f)
{
	char p[700];

	if (f->ring)
		return true;
	guest_path(f->g, "run/console.log", p, sizeof(p));
	return logring_open(p, false, LOGRING_DEFAULT_CAPACITY, &f->ring) == 0;
}

/* Sends what the ring has past f->pos. A follower goes at its client's pace (at most
 * FOLLOW_BACKLOG unsent); the end of a stream (a request without follow, or the guest
 * stopped) sends all the ring holds up to its head, at most its capacity, however much
 * is unsent (api_stream_write bounds that): stopping at the backlog there ended `lodge
 * logs` with the oldest half of a full ring, never its newest lines. f is gone when the
 * stream ended. */
static void pump(struct follower *f, bool follow)
{
	static uint8_t buf[LOG_CHUNK];
	bool last = !follow || !guest_active(f->g);
	uint64_t end = open_ring(f) ? logring_head(f->ring) : 0;

	while (open_ring(f) && (last ? f->pos < end : api_conn_backlog(f->conn) < FOLLOW_BACKLOG)) {
		ssize_t n = logring_read(f->ring, &f->pos, buf, sizeof(buf), NULL);
		if (n <= 0)
			break;
		if (api_stream_write(f->conn, buf, (size_t)n))
			return; /* the connection closed: follower_gone ran */
	}
	if (last) {
		api_conn_on_close(f->conn, NULL, NULL);
		api_stream_end(f->conn);
		follower_free(f);
		return;
	}
	evloop_timer_arm(f->timer, evloop_now_ns() + FOLLOW_POLL_NS);
}

static void on_follow_timer(void *opaque)
{
	pump(opaque, true);
}

void followers_guest_stopped(struct guest *g)
{
	while (g->followers) /* send the rest, then end each stream */
		pump(g->followers, false);
}

/* Where the last `lines` lines of the ring begin. */
static uint64_t tail_start(struct logring *ring, long lines)
{
	static uint8_t buf[LOGRING_DEFAULT_CAPACITY];
	uint64_t pos = logring_tail(ring), start = pos;
	ssize_t n = logring_read(ring, &pos, buf, sizeof(buf), NULL);
	long seen = 0;

	if (n <= 0 || lines == 0) /* tail=0: only what comes next */
		return logring_head(ring);
	start = pos - (uint64_t)n;
	for (ssize_t i = n - 1; i >= 0; i--)
		if (buf[i] == '\n' && i != n - 1 && ++seen == lines)
			return start + (uint64_t)i + 1;
	return start;
}

static void h_logs(struct api_conn *c, const struct api_request *r)
{
	static const char *const keys[] = {"follow", "tail"};
	struct daemon *d = r->ctx;
	char v[2][64];
	struct follower *f;
	struct guest *g;
	long tail = -1;
	bool follow = false;
	unsigned given;

	if (!query_given(c, r, keys, 2, v, &given) ||
	    ((given & 1) && !boolean(c, "follow", v[0], &follow)) || !(g = find_or_404(c, r)))
		return;
	if (v[1][0] && strcmp(v[1], "all") && (tail = number(v[1], MAX_TAIL_LINES)) < 0) {
		api_reply_error(c, 400, "bad_query", "tail '%s': a number of lines or 'all'", v[1]);
		return;
	}
	f = calloc(1, sizeof(*f));
	if (!f || evloop_timer_add(d->loop, on_follow_timer, f, &f->timer)) {
		free(f);
		api_reply_error(c, 500, "internal", "out of memory");
		return;
	}
	f->g = g;
	f->conn = c;
	f->next = g->followers;
	g->followers = f;
	if (open_ring(f))
		f->pos = tail >= 0 ? tail_start(f->ring, tail) : logring_tail(f->ring);
	if (api_stream_start(c, 200, "text/plain; charset=utf-8")) {
		follower_free(f);
		return;
	}
	api_conn_on_close(c, follower_gone, f);
	pump(f, follow);
}

/* ---- console: relay bytes between the client and the guest's control socket ---- */

struct relay_side {
	int fd;
	struct evloop_watch *w;
	uint8_t buf[RELAY_BUF]; /* read from this side, to be written to the other */
	size_t off, len;
};

struct relay {
	struct relay_side s[2];
};

static void relay_close(struct relay *rl)
{
	for (int i = 0; i < 2; i++) {
		evloop_watch_del(rl->s[i].w);
		close(rl->s[i].fd);
	}
	free(rl);
}

static void relay_watch(struct relay *rl)
{
	for (int i = 0; i < 2; i++) {
		struct relay_side *me = &rl->s[i], *other = &rl->s[1 - i];
		short ev = me->len ? 0 : POLLIN; /* read only what the other side can take */
		if (other->len)
			ev |= POLLOUT;
		evloop_watch_set(me->w, ev);
	}
}

static void on_relay(void *opaque, int fd, unsigned revents)
{
	struct relay *rl = opaque;
	int i = rl->s[0].fd == fd ? 0 : 1;
	struct relay_side *me = &rl->s[i], *other = &rl->s[1 - i];

	if (revents & POLLOUT) {
		while (other->off < other->len) {
			ssize_t n = write(fd, other->buf + other->off, other->len - other->off);
			if (n < 0 && errno == EAGAIN)
				break;
			if (n <= 0) {
				relay_close(rl);
				return;
			}
			other->off += (size_t)n;
		}
		if (other->off == other->len)
			other->off = other->len = 0;
	}
	if ((revents & (POLLIN | POLLHUP | POLLERR)) && !me->len) {
		ssize_t n = read(fd, me->buf, sizeof(me->buf));
		if (n < 0 && errno == EAGAIN) {
			relay_watch(rl);
			return;
		}
		if (n <= 0) {
			relay_close(rl); /* either side leaving ends the attachment */
			return;
		}
		me->len = (size_t)n;
		me->off = 0;
		/* try at once */
		while (me->off < me->len) {
			ssize_t k = write(other->fd, me->buf + me->off, me->len - me->off);
			if (k < 0 && errno == EAGAIN)
				break;
			if (k <= 0) {
				relay_close(rl);
				return;
			}
			me->off += (size_t)k;
		}
		if (me->off == me->len)
			me->off = me->len = 0;
	}
	relay_watch(rl);
}

static void h_console(struct api_conn *c, const struct api_request *r)
{
	struct daemon *d = r->ctx;
	char sock[700];
	struct api_client *cl = NULL; /* (a failed open leaves it unset) */
	struct api_result res = {0};
	struct relay *rl;
	struct guest *g;
	uint8_t extra[RELAY_BUF];
	size_t extra_len = 0, gbuf;
	int cfd, gfd;

	if (!query(c, r, NULL, 0, NULL) || !(g = find_or_404(c, r)))
		return;
	if (!r->http->upgrade) {
		api_reply_error(
			c, 400, "upgrade_required",
			"the console is a raw stream: send Connection: Upgrade, Upgrade: tcp");
		return;
	}
	if (!guest_active(g)) {
		api_reply_error(c, 409, "wrong_state", "guest %s is not running (it is %s)",
				g->rec.name, g->rec.state);
		return;
	}
	guest_path(g, "run/api.sock", sock, sizeof(sock));
	if (api_client_open(sock, 5000, &cl) || api_client_upgrade(cl, "POST", "/console", &res) ||
	    res.status != 101) {
		api_reply_error(c, 502, "guest_unreachable",
				"guest %s: its console cannot be reached (starting?)", g->rec.name);
		api_result_fini(&res);
		api_client_close(cl);
		return;
	}
	rl = calloc(1, sizeof(*rl));
	gfd = rl ? dup(api_client_fd(cl)) : -1;
	gbuf = rl ? api_client_take_buffered(cl, rl->s[1].buf, sizeof(rl->s[1].buf)) : 0;
	api_client_close(cl);
	if (!rl || gfd < 0 || api_hijack(c, &cfd, extra, sizeof(extra), &extra_len)) {
		if (gfd >= 0)
			close(gfd);
		free(rl);
		return;
	}
	rl->s[0].fd = cfd;
	rl->s[1].fd = gfd;
	rl->s[1].len = gbuf; /* guest output that came with the 101: for the client */
	memcpy(rl->s[0].buf, extra, extra_len);
	rl->s[0].len = extra_len; /* client input that came with the request: for the guest */
	fcntl(cfd, F_SETFL, O_NONBLOCK);
	fcntl(gfd, F_SETFL, O_NONBLOCK);
	if (evloop_watch_add(d->loop, cfd, POLLOUT, on_relay, rl, &rl->s[0].w) ||
	    evloop_watch_add(d->loop, gfd, POLLOUT, on_relay, rl, &rl->s[1].w)) {
		relay_close(rl);
		return;
	}
	relay_watch(rl);
}

/* ---- events ---- */

static cJSON *event_json(const struct guest_event *e)
{
	cJSON *o = cJSON_CreateObject();
	char t[40];

	if (!o)
		return NULL;
	cJSON_AddNumberToObject(o, "id", (double)e->id);
	iso_time(e->time_ms, t, sizeof(t));
	cJSON_AddStringToObject(o, "time", t);
	cJSON_AddStringToObject(o, "guest", e->guest);
	cJSON_AddStringToObject(o, "type", e->type);
	cJSON_AddStringToObject(o, "detail", e->detail);
	return o;
}

struct event_sink {
	struct api_conn *conn;
	const char *guest;
	bool failed;
};

static void send_event(void *opaque, const struct guest_event *e)
{
	struct event_sink *s = opaque;
	cJSON *o;
	char *text;

	if (s->failed || (s->guest[0] && strcmp(s->guest, e->guest)))
		return;
	o = event_json(e);
	text = o ? cJSON_PrintUnformatted(o) : NULL;
	cJSON_Delete(o);
	if (!text) {
		s->failed = true;
		return;
	}
	size_t n = strlen(text);
	text[n] = '\n'; /* one JSON object per line; the NUL is not sent */
	if (api_stream_write(s->conn, text, n + 1))
		s->failed = true;
	free(text);
}

static void event_follower_free(struct event_follower *f)
{
	for (struct event_follower **pp = &f->d->event_followers; *pp; pp = &(*pp)->next)
		if (*pp == f) {
			*pp = f->next;
			break;
		}
	free(f);
}

static void event_follower_gone(void *opaque)
{
	event_follower_free(opaque);
}

void event_followers_push(struct daemon *d, int64_t id)
{
	for (struct event_follower *f = d->event_followers, *next; f; f = next) {
		struct event_sink s = {.conn = f->conn, .guest = f->guest};
		next = f->next;
		if (id <= f->since)
			continue;
		if (registry_events(d->reg, id - 1, 1, send_event, &s))
			s.failed = true;
		(void)s.failed; /* a closed connection removed f through its callback */
	}
}

static void h_events(struct api_conn *c, const struct api_request *r)
{
	static const char *const keys[] = {"since", "follow", "guest"};
	struct daemon *d = r->ctx;
	char v[3][64];
	struct event_sink s = {.conn = c};
	long since = 0;
	struct event_follower *f;
	bool follow = false;
	unsigned given;

	if (!query_given(c, r, keys, 3, v, &given) ||
	    ((given & 2) && !boolean(c, "follow", v[1], &follow)))
		return;
	if (v[0][0] && (since = number(v[0], 0x7fffffffL)) < 0) {
		api_reply_error(c, 400, "bad_query", "since '%s': an event id", v[0]);
		return;
	}
	s.guest = v[2];
	if (api_stream_start(c, 200, "application/x-ndjson"))
		return;
	if (registry_events(d->reg, since, REGISTRY_MAX_EVENTS, send_event, &s) || s.failed)
		return;
	if (!follow) {
		api_stream_end(c);
		return;
	}
	f = calloc(1, sizeof(*f));
	if (!f) {
		api_stream_end(c);
		return;
	}
	f->d = d;
	f->conn = c;
	snprintf(f->guest, sizeof(f->guest), "%s", v[2]);
	f->since = since;
	f->next = d->event_followers;
	d->event_followers = f;
	api_conn_on_close(c, event_follower_gone, f);
}

/* ---- info and metrics ---- */

static void h_info(struct api_conn *c, const struct api_request *r)
{
	struct daemon *d = r->ctx;
	cJSON *o = cJSON_CreateObject(), *sb;
	unsigned n = 0;

	if (!query(c, r, NULL, 0, NULL))
		return;
	for (struct guest *g = d->guests; g; g = g->next)
		n++;
	cJSON_AddStringToObject(o, "version", "0.1");
	cJSON_AddStringToObject(o, "state_dir", d->state);
	cJSON_AddNumberToObject(o, "guests", n);
	cJSON_AddNumberToObject(o, "cgroup_version", d->have_cgroups ? d->cg.version : 0);
	sb = cJSON_AddObjectToObject(o, "sandbox");
	if (sb) {
		cJSON_AddBoolToObject(sb, "enabled", !d->cfg.no_sandbox);
		cJSON_AddBoolToObject(sb, "user_namespace",
				      !d->cfg.no_sandbox && d->userns_ok && !d->cfg.no_userns);
		cJSON_AddBoolToObject(sb, "seccomp", !d->cfg.no_sandbox);
	}
	api_reply_json(c, 200, o);
}

struct guest_metrics {
	const struct guest *g;
	double cpu_s;
	uint64_t instret, rss, cg_mem, rd, wr, net_rx, net_tx;
	bool stale; /* a system guest whose control socket did not answer in time */
};

static uint64_t proc_field(pid_t pid, const char *file, const char *key)
{
	char path[64], line[256];
	unsigned long long v = 0;
	size_t kl = strlen(key);
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/%s", (int)pid, file);
	f = fopen(path, "re");
	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, key, kl) && sscanf(line + kl, " %llu", &v) == 1)
			break;
	fclose(f);
	return v;
}

static double proc_cpu_seconds(pid_t pid)
{
	char buf[1024];
	const char *p = procstat_read(pid, buf, sizeof(buf));
	unsigned long long ut, st;

	if (!p || sscanf(p, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut, &st) != 2)
		return 0;
	return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}

/* The system guests' own figures (instructions, network, disk: GET /vm on their control
 * sockets) for one scrape are asked in parallel, one short-lived thread per guest, all
 * within one deadline: N stalled guests hold the scrape METRICS_WAIT_MS, not N control
 * timeouts. A guest that did not answer in time has those figures left out (and
 * lodge_guest_control_up 0). The threads touch nothing of the daemon's: each has a copy
 * of its socket's path and writes its own slot; the last of the scrape and its threads
 * to let go of the slots frees them (a thread the scrape stopped waiting for ends at its
 * client's timeout, the same deadline). */
#define METRICS_WAIT_MS 2000

struct vm_ask {
	struct vm_asks *all;
	char sock[600];
	bool done, ok, has_disk;
	uint64_t instret, net_rx, net_tx, rd, wr;
};

struct vm_asks {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	unsigned pending, refs;
	struct vm_ask ask[];
};

static void asks_unref(struct vm_asks *a)
{
	bool last;

	pthread_mutex_lock(&a->lock);
	last = --a->refs == 0;
	pthread_mutex_unlock(&a->lock);
	if (last) {
		pthread_mutex_destroy(&a->lock);
		pthread_cond_destroy(&a->cond);
		free(a);
	}
}

static void *ask_vm(void *opaque)
{
	struct vm_ask *q = opaque, got = {0};
	struct vm_asks *a = q->all;
	struct api_client *c;
	struct api_result res;

	if (api_client_open(q->sock, METRICS_WAIT_MS, &c) == 0) {
		if (api_client_call(c, "GET", "/vm", NULL, &res) == 0) {
			const cJSON *st = cJSON_GetObjectItemCaseSensitive(res.json, "stats");
			got.ok = res.status == 200 && cJSON_IsObject(st);
			got.instret = json_uint(st, "instret", 0);
			got.net_rx = json_uint(st, "net_rx_bytes", 0);
			got.net_tx = json_uint(st, "net_tx_bytes", 0);
			got.has_disk = cJSON_GetObjectItemCaseSensitive(st, "disk_read_bytes");
			got.rd = json_uint(st, "disk_read_bytes", 0);
			got.wr = json_uint(st, "disk_write_bytes", 0);
			api_result_fini(&res);
		}
		api_client_close(c);
	}
	pthread_mutex_lock(&a->lock);
	q->ok = got.ok;
	q->has_disk = got.has_disk;
	q->instret = got.instret;
	q->net_rx = got.net_rx;
	q->net_tx = got.net_tx;
	q->rd = got.rd;
	q->wr = got.wr;
	q->done = true;
	if (--a->pending == 0)
		pthread_cond_signal(&a->cond);
	pthread_mutex_unlock(&a->lock);
	asks_unref(a);
	return NULL;
}

static bool asked(const struct guest *g)
{
	return g->kind == GUEST_VM && guest_active(g) && g->rec.pid > 0;
}

/* Asks every running system guest among m[0..n) at once; fills what came back in time and
 * marks the rest stale. */
static void ask_vms(struct guest_metrics *m, unsigned n)
{
	unsigned k = 0, i, j;
	struct vm_asks *a;
	pthread_condattr_t ca;
	pthread_attr_t ta;
	struct timespec until;

	for (i = 0; i < n; i++)
		k += asked(m[i].g);
	if (!k)
		return;
	a = calloc(1, sizeof(*a) + k * sizeof(a->ask[0]));
	if (!a) {
		for (i = 0; i < n; i++)
			m[i].stale = asked(m[i].g);
		return;
	}
	pthread_mutex_init(&a->lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&a->cond, &ca);
	pthread_condattr_destroy(&ca);
	pthread_attr_init(&ta);
	pthread_attr_setdetachstate(&ta, PTHREAD_CREATE_DETACHED);
	pthread_attr_setstacksize(&ta, 256u << 10);
	a->pending = k;
	a->refs = k + 1;
	for (i = 0, j = 0; i < n; i++) {
		pthread_t t;
		if (!asked(m[i].g))
			continue;
		struct vm_ask *q = &a->ask[j++];
		q->all = a;
		guest_path(m[i].g, "run/api.sock", q->sock, sizeof(q->sock));
		if (pthread_create(&t, &ta, ask_vm, q)) {
			pthread_mutex_lock(&a->lock);
			q->done = true;
			a->pending--;
			a->refs--;
			pthread_mutex_unlock(&a->lock);
		}
	}
	pthread_attr_destroy(&ta);
	clock_gettime(CLOCK_MONOTONIC, &until);
	until.tv_sec += METRICS_WAIT_MS / 1000;
	until.tv_nsec += (METRICS_WAIT_MS % 1000) * 1000000L;
	if (until.tv_nsec >= 1000000000L) {
		until.tv_sec++;
		until.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&a->lock);
	while (a->pending && pthread_cond_timedwait(&a->cond, &a->lock, &until) == 0)
		;
	for (i = 0, j = 0; i < n; i++) {
		if (!asked(m[i].g))
			continue;
		const struct vm_ask *q = &a->ask[j++];
		m[i].stale = !q->done || !q->ok;
		if (m[i].stale)
			continue;
		m[i].instret = q->instret;
		m[i].net_rx = q->net_rx;
		m[i].net_tx = q->net_tx;
		if (q->has_disk) {
			m[i].rd = q->rd;
			m[i].wr = q->wr;
		}
	}
	pthread_mutex_unlock(&a->lock);
	asks_unref(a);
}

static void collect(struct guest *g, struct guest_metrics *m)
{
	pid_t pid = (pid_t)g->rec.pid;

	memset(m, 0, sizeof(*m));
	m->g = g;
	if (!guest_active(g) || pid <= 0)
		return;
	m->cpu_s = proc_cpu_seconds(pid);
	m->rss = proc_field(pid, "status", "VmRSS:") * 1024;
	if (g->kind != GUEST_VM) { /* a system guest's own disks: its control socket says */
		m->rd = proc_field(pid, "io", "read_bytes:");
		m->wr = proc_field(pid, "io", "write_bytes:");
	}
	if (g->d->have_cgroups) {
		struct cgroup_stats cs;
		if (cgroup_stats(&g->d->cg, g->rec.name, &cs) == 0) {
			m->cg_mem = cs.memory_bytes;
			if (cs.cpu_ns)
				m->cpu_s = (double)cs.cpu_ns / 1e9;
		}
	}
}

struct textbuf {
	char *p;
	size_t len, cap;
	bool oom;
};

static void tb_printf(struct textbuf *t, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void tb_printf(struct textbuf *t, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (t->oom)
		return;
	for (;;) {
		va_start(ap, fmt);
		n = vsnprintf(t->p ? t->p + t->len : NULL, t->p ? t->cap - t->len : 0, fmt, ap);
		va_end(ap);
		if (n < 0) {
			t->oom = true;
			return;
		}
		if (t->p && t->len + (size_t)n < t->cap) {
			t->len += (size_t)n;
			return;
		}
		size_t cap = t->cap ? t->cap * 2 : 65536;
		while (cap < t->len + (size_t)n + 1)
			cap *= 2;
		char *q = realloc(t->p, cap);
		if (!q) {
			t->oom = true;
			return;
		}
		t->p = q;
		t->cap = cap;
	}
}

enum metric_field { M_CPU, M_INSTRET, M_RSS, M_CGMEM, M_RD, M_WR, M_RX, M_TX, M_RESTARTS };

static const struct {
	const char *name, *type, *help;
} metric_info[] = {
	{"lodge_guest_cpu_seconds_total", "counter", "CPU time used by the guest's process."},
	{"lodge_guest_instructions_retired_total", "counter",
	 "Instructions retired by a system guest's harts (0 for WebAssembly guests)."},
	{"lodge_guest_memory_rss_bytes", "gauge", "Resident memory of the guest's process."},
	{"lodge_guest_memory_cgroup_bytes", "gauge", "Memory charged to the guest's cgroup."},
	{"lodge_guest_disk_read_bytes_total", "counter", "Bytes the guest read from storage."},
	{"lodge_guest_disk_written_bytes_total", "counter", "Bytes the guest wrote to storage."},
	{"lodge_guest_network_receive_bytes_total", "counter",
	 "Bytes the guest's network devices received."},
	{"lodge_guest_network_transmit_bytes_total", "counter",
	 "Bytes the guest's network devices sent."},
	{"lodge_guest_restarts_total", "counter", "Restarts by the guest's restart policy."},
};

static void metric_value(struct textbuf *t, const struct guest_metrics *m, int f)
{
	const char *name = metric_info[f].name, *gn = m->g->rec.name, *k = m->g->rec.kind;

	if (f == M_CPU) {
		tb_printf(t, "%s{guest=\"%s\",kind=\"%s\"} %.3f\n", name, gn, k, m->cpu_s);
		return;
	}
	if (m->stale && (f == M_INSTRET || f == M_RX || f == M_TX || f == M_RD || f == M_WR))
		return; /* only its control socket knows: absent this time */
	const uint64_t v[] = {0,     m->instret, m->rss,    m->cg_mem,	       m->rd,
			      m->wr, m->net_rx,	 m->net_tx, m->g->rec.restarts};
	tb_printf(t, "%s{guest=\"%s\",kind=\"%s\"} %llu\n", name, gn, k, (unsigned long long)v[f]);
}

static void h_metrics(struct api_conn *c, const struct api_request *r)
{
	static const char *const states[] = {"created", "incoming", "running",
					     "paused",	"stopped",  "crashed"};
	struct daemon *d = r->ctx;
	struct guest_metrics *m;
	struct textbuf t = {0};
	unsigned n = 0, i = 0;

	if (!query(c, r, NULL, 0, NULL))
		return;
	for (struct guest *g = d->guests; g; g = g->next)
		n++;
	m = calloc(n ? n : 1, sizeof(*m));
	if (!m) {
		api_reply_error(c, 500, "internal", "out of memory");
		return;
	}
	for (struct guest *g = d->guests; g; g = g->next)
		collect(g, &m[i++]);
	ask_vms(m, n);
	tb_printf(&t, "# HELP lodge_guests Guests by state.\n# TYPE lodge_guests gauge\n");
	for (size_t s = 0; s < sizeof(states) / sizeof(states[0]); s++) {
		unsigned k = 0;
		for (i = 0; i < n; i++)
			k += !strcmp(m[i].g->rec.state, states[s]);
		tb_printf(&t, "lodge_guests{state=\"%s\"} %u\n", states[s], k);
	}
	tb_printf(&t, "# HELP lodge_guest_up Whether the guest has a running process.\n"
		      "# TYPE lodge_guest_up gauge\n");
	for (i = 0; i < n; i++)
		tb_printf(&t, "lodge_guest_up{guest=\"%s\",kind=\"%s\",state=\"%s\"} %d\n",
			  m[i].g->rec.name, m[i].g->rec.kind, m[i].g->rec.state,
			  guest_active(m[i].g));
	tb_printf(&t, "# HELP lodge_guest_control_up Whether a running system guest's control "
		      "socket answered this scrape in time (its instructions and network bytes "
		      "are absent when not).\n"
		      "# TYPE lodge_guest_control_up gauge\n");
	for (i = 0; i < n; i++)
		if (asked(m[i].g))
			tb_printf(&t, "lodge_guest_control_up{guest=\"%s\",kind=\"%s\"} %d\n",
				  m[i].g->rec.name, m[i].g->rec.kind, !m[i].stale);
	for (int f = 0; f <= M_RESTARTS; f++) {
		tb_printf(&t, "# HELP %s %s\n# TYPE %s %s\n", metric_info[f].name,
			  metric_info[f].help, metric_info[f].name, metric_info[f].type);
		for (i = 0; i < n; i++)
			metric_value(&t, &m[i], f);
	}
	free(m);
	if (t.oom)
		api_reply_error(c, 500, "internal", "out of memory");
	else
		api_reply(c, 200, "text/plain; version=0.0.4", t.p, t.len);
	free(t.p);
}

const struct api_route daemon_routes[] = {
	{HTTP_GET, "/v1/info", h_info},
	{HTTP_GET, "/v1/guests", h_list},
	{HTTP_POST, "/v1/guests", h_create},
	{HTTP_GET, "/v1/guests/{name}", h_inspect},
	{HTTP_DELETE, "/v1/guests/{name}", h_delete},
	{HTTP_POST, "/v1/guests/{name}/start", h_start},
	{HTTP_POST, "/v1/guests/{name}/stop", h_stop},
	{HTTP_POST, "/v1/guests/{name}/kill", h_kill},
	{HTTP_POST, "/v1/guests/{name}/pause", h_pause},
	{HTTP_PUT, "/v1/guests/{name}/snapshot", h_snapshot},
	{HTTP_POST, "/v1/guests/{name}/migrate", h_migrate},
	{HTTP_POST, "/v1/guests/{name}/replicate", h_replicate},
	{HTTP_POST, "/v1/guests/{name}/failover", h_failover},
	{HTTP_POST, "/v1/guests/{name}/resume", h_resume},
	{HTTP_GET, "/v1/guests/{name}/logs", h_logs},
	{HTTP_POST, "/v1/guests/{name}/console", h_console},
	{HTTP_GET, "/v1/events", h_events},
	{HTTP_GET, "/metrics", h_metrics},
};
const unsigned daemon_nroutes = sizeof(daemon_routes) / sizeof(daemon_routes[0]);
