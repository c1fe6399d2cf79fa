/*
 * Unit tests for api/server.c, api/client.c and api/json.c together: a server on a
 * temporary unix socket, served by an event-loop thread, and clients that talk to it
 * through the client API and through raw sockets (pipelining, malformed input, oversized
 * bodies, slow or vanished peers), plus the JSON schema rules.
 */
#include "api/client.h"
#include "api/json.h"
#include "api/server.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "core/evloop.h"
#include "harness.h"

struct fixture {
	struct evloop *loop;
	struct api_server *srv;
	char path[108];
	bool refuse; /* authorize() answers false */
	struct evloop_timer *defer_timer;
	struct api_conn *deferred;
	int stream_closed;
	int echo_fd;
	struct evloop_watch *echo_watch;
};

static struct fixture fx;

static const struct json_field limits_fields[] = {
	{"cpus", JSON_UINT, false, NULL},
};
static const struct json_schema limits_schema = {limits_fields, 1};
static const struct json_field body_fields[] = {
	{"name", JSON_STRING, true, NULL},
	{"args", JSON_STRING_ARRAY, false, NULL},
	{"on", JSON_BOOL, false, NULL},
	{"limits", JSON_OBJECT, false, &limits_schema},
};
static const struct json_schema body_schema = {body_fields, 4};

static void h_echo(struct api_conn *c, const struct api_request *r)
{
	cJSON *o = cJSON_CreateObject();

	cJSON_AddStringToObject(o, "query", r->query);
	cJSON_AddStringToObject(o, "param", r->nparams ? r->params[0] : "");
	api_reply_json(c, 200, o);
}

static void h_json(struct api_conn *c, const struct api_request *r)
{
	char err[200];
	cJSON *o;

	if (json_parse_object(r->body, r->body_len, &body_schema, &o, err, sizeof(err))) {
		api_reply_error(c, 400, "bad_body", "%s", err);
		return;
	}
	api_reply_json(c, 201, o);
}

static void on_defer(void *opaque)
{
	(void)opaque;
	api_reply(fx.deferred, 200, "text/plain", "late", 4);
	fx.deferred = NULL;
}

static void h_defer(struct api_conn *c, const struct api_request *r)
{
	(void)r;
	fx.deferred = c;
	evloop_timer_arm(fx.defer_timer, evloop_now_ns() + 20000000ull);
}

static void stream_gone(void *opaque)
{
	(void)opaque;
	fx.stream_closed++;
}

static void h_stream(struct api_conn *c, const struct api_request *r)
{
	if (!strcmp(r->query, "forever")) {
		api_stream_start(c, 200, "text/plain");
		api_stream_write(c, "x", 1);
		api_conn_on_close(c, stream_gone, NULL);
		return;
	}
	api_stream_start(c, 200, "text/plain");
	api_stream_write(c, "one,", 4);
	api_stream_write(c, "two,", 4);
	api_stream_write(c, "three", 5);
	api_stream_end(c);
}

static void on_echo(void *opaque, int fd, unsigned revents)
{
	char buf[256];
	ssize_t n = read(fd, buf, sizeof(buf));

	(void)opaque;
	(void)revents;
	if (n <= 0) {
		evloop_watch_del(fx.echo_watch);
		close(fd);
		return;
	}
	if (write(fd, buf, (size_t)n) < 0)
		return;
}

static void h_hijack(struct api_conn *c, const struct api_request *r)
{
	uint8_t extra[64];
	size_t n;
	int fd;

	(void)r;
	if (api_hijack(c, &fd, extra, sizeof(extra), &n))
		return;
	if (n && write(fd, extra, n) < 0)
		return;
	fx.echo_fd = fd;
	if (evloop_watch_add(fx.loop, fd, POLLIN, on_echo, NULL, &fx.echo_watch))
		close(fd);
}

/* A JSON answer larger than the client's receive buffer (200 KB). */
static void h_big(struct api_conn *c, const struct api_request *r)
{
	cJSON *a = cJSON_CreateArray();

	(void)r;
	for (int i = 0; i < 4000; i++)
		cJSON_AddItemToArray(
			a, cJSON_CreateString("0123456789012345678901234567890123456789"));
	api_reply_json(c, 200, a);
}

static const struct api_route routes[] = {
	{HTTP_GET, "/big", h_big},	  {HTTP_GET, "/echo", h_echo},
	{HTTP_GET, "/echo/{x}", h_echo},  {HTTP_POST, "/json", h_json},
	{HTTP_GET, "/defer", h_defer},	  {HTTP_GET, "/stream", h_stream},
	{HTTP_POST, "/hijack", h_hijack},
};

static bool authorize(void *ctx, const struct api_peer *peer)
{
	(void)ctx;
	(void)peer;
	return !__atomic_load_n(&fx.refuse, __ATOMIC_ACQUIRE);
}

static void open_server(void *opaque)
{
	struct api_server_config cfg = {.path = fx.path,
					.mode = 0600,
					.gid = (gid_t)-1,
					.max_body = 4096,
					.max_conns = 8,
					.routes = routes,
					.nroutes = sizeof(routes) / sizeof(routes[0]),
					.authorize = authorize};
	int *r = opaque;

	*r = api_server_open(fx.loop, &cfg, &fx.srv);
	*r = *r ?: evloop_timer_add(fx.loop, on_defer, NULL, &fx.defer_timer);
}

static void close_server(void *opaque)
{
	(void)opaque;
	api_server_close(fx.srv);
	evloop_timer_del(fx.defer_timer);
}

static int setup(void)
{
	int r = 0;

	memset(&fx, 0, sizeof(fx));
	snprintf(fx.path, sizeof(fx.path), "/tmp/lodge-test-api-%d.sock", (int)getpid());
	if (evloop_create(&fx.loop) || evloop_start(fx.loop, "api-test"))
		return -1;
	evloop_call(fx.loop, open_server, &r);
	return r;
}

static void teardown(void)
{
	evloop_call(fx.loop, close_server, NULL);
	evloop_destroy(fx.loop);
}

/* A socket connected to the test server, or -1. */
static int raw_connect(void)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", fx.path);
	if (fd >= 0 && connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

/* Raw exchange: sends `req`, reads until the peer closes or `want` bytes arrived. */
static int raw(const char *req, char *out, size_t cap, bool *closed)
{
	int fd = raw_connect();
	size_t got = 0;

	if (fd < 0)
		return -1;
	if (write(fd, req, strlen(req)) < 0)
		return -1;
	*closed = false;
	for (;;) {
		struct pollfd p = {.fd = fd, .events = POLLIN};
		ssize_t n;
		if (poll(&p, 1, 500) <= 0)
			break;
		n = read(fd, out + got, cap - 1 - got);
		if (n <= 0) {
			*closed = true;
			break;
		}
		got += (size_t)n;
	}
	out[got] = 0;
	close(fd);
	return (int)got;
}

static int test_call_keepalive(void)
{
	struct api_client *c;
	struct api_result r;

	CHECK_EQ(setup(), 0);
	CHECK_EQ(api_client_open(fx.path, 2000, &c), 0);
	for (int i = 0; i < 3; i++) {
		CHECK_EQ(api_client_call(c, "GET", "/echo/a%20b?k=v", NULL, &r), 0);
		CHECK_EQ(r.status, 200);
		CHECK(r.json);
		CHECK(!strcmp(json_str(r.json, "param", ""), "a b"));
		CHECK(!strcmp(json_str(r.json, "query", ""), "k=v"));
		api_result_fini(&r);
	}
	/* bodies larger than the client's buffer, twice on one connection */
	for (int i = 0; i < 2; i++) {
		CHECK_EQ(api_client_call(c, "GET", "/big", NULL, &r), 0);
		CHECK_EQ(r.status, 200);
		CHECK(r.len > 150000);
		CHECK(r.json && cJSON_GetArraySize(r.json) == 4000);
		api_result_fini(&r);
	}
	CHECK_EQ(api_client_call(c, "GET", "/nope", NULL, &r), 0);
	CHECK_EQ(r.status, 404);
	CHECK(!strcmp(json_str(r.json, "error", ""), "not_found"));
	api_result_fini(&r);
	CHECK_EQ(api_client_call(c, "DELETE", "/echo", NULL, &r), 0);
	CHECK_EQ(r.status, 405);
	api_result_fini(&r);
	CHECK_EQ(api_client_call(c, "GET", "/defer", NULL, &r), 0);
	CHECK_EQ(r.status, 200);
	CHECK(r.len == 4 && !memcmp(r.body, "late", 4));
	api_result_fini(&r);
	api_client_close(c);
	teardown();
	return 0;
}

static void count_armed(void *opaque)
{
	*(unsigned *)opaque = evloop_armed_timers(fx.loop);
}

/* A server without connections arms no timer (its loop sleeps: an idle guest's control
 * thread does not wake every second); a connection arms the sweep of idle connections,
 * and once the last one is gone the sweep stops re-arming itself. */
static int test_idle_no_timer(void)
{
	struct api_client *c;
	struct api_result r;
	unsigned armed = 99;

	CHECK_EQ(setup(), 0);
	evloop_call(fx.loop, count_armed, &armed);
	CHECK_EQ(armed, 0u);
	CHECK_EQ(api_client_open(fx.path, 2000, &c), 0);
	CHECK_EQ(api_client_call(c, "GET", "/echo/x", NULL, &r), 0);
	CHECK_EQ(r.status, 200);
	api_result_fini(&r);
	evloop_call(fx.loop, count_armed, &armed);
	CHECK_EQ(armed, 1u);
	api_client_close(c);
	/* the server sees the close at once; the sweep armed for it fires within a second */
	for (int i = 0; i < 100 && armed; i++) {
		usleep(50000);
		evloop_call(fx.loop, count_armed, &armed);
	}
	CHECK_EQ(armed, 0u);
	teardown();
	return 0;
}

static int test_json_rules(void)
{
	static const struct {
		const char *body;
		int status;
	} cases[] = {
		{"{\"name\":\"a\",\"args\":[\"x\"],\"on\":true,\"limits\":{\"cpus\":2}}", 201},
		{"{\"name\":\"a\",\"bogus\":1}", 400},
		{"{\"name\":\"a\",\"name\":\"b\"}", 400},
		{"{\"name\":3}", 400},
		{"{\"args\":[]}", 400},
		{"{\"name\":\"a\\u0000b\"}", 400},
		{"{\"name\":\"a\\\\u0000b\"}", 201},
		{"{\"name\":\"a\",\"limits\":{\"cpus\":1.5}}", 400},
		{"{\"name\":\"a\",\"limits\":{\"cpus\":-1}}", 400},
		{"{\"name\":\"a\",\"limits\":{\"x\":1}}", 400},
		{"{\"name\":\"a\",\"args\":[1]}", 400},
		{"{\"name\":\"a\"} trailing", 400},
		{"[1]", 400},
		{"{\"name\":", 400},
		{"", 400},
	};
	struct api_client *c;
	struct api_result r;

	CHECK_EQ(setup(), 0);
	CHECK_EQ(api_client_open(fx.path, 2000, &c), 0);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		CHECK_EQ(api_client_call(c, "POST", "/json", cases[i].body, &r), 0);
		if (r.status != cases[i].status) {
			snprintf(unit_why, sizeof(unit_why), "case %zu: status %d: %s", i, r.status,
				 r.body ? r.body : "");
			return 1;
		}
		if (r.status == 400)
			CHECK(json_str(r.json, "message", NULL));
		api_result_fini(&r);
	}
	api_client_close(c);
	teardown();
	return 0;
}

static int test_raw_protocol(void)
{
	char out[4096];
	bool closed;

	CHECK_EQ(setup(), 0);
	/* two pipelined requests, answered in order */
	CHECK(raw("GET /echo?a HTTP/1.1\r\nHost: x\r\n\r\nGET /echo?b HTTP/1.1\r\nHost: x\r\n"
		  "Connection: close\r\n\r\n",
		  out, sizeof(out), &closed) > 0);
	CHECK(strstr(out, "\"query\":\"a\"") && strstr(out, "\"query\":\"b\""));
	CHECK(strstr(out, "\"query\":\"a\"") < strstr(out, "\"query\":\"b\""));
	CHECK(closed);
	/* malformed: 400 with a JSON reason, then closed */
	CHECK(raw("GET / HTTP/1.1\nHost: x\n\n", out, sizeof(out), &closed) > 0);
	CHECK(!strncmp(out, "HTTP/1.1 400 ", 13) && strstr(out, "bare LF") && closed);
	/* oversized body (limit 4096) */
	CHECK(raw("POST /json HTTP/1.1\r\nHost: x\r\nContent-Length: 5000\r\n\r\n", out,
		  sizeof(out), &closed) > 0);
	CHECK(!strncmp(out, "HTTP/1.1 413 ", 13) && closed);
	/* unknown method */
	CHECK(raw("BREW /echo HTTP/1.1\r\nHost: x\r\n\r\n", out, sizeof(out), &closed) > 0);
	CHECK(!strncmp(out, "HTTP/1.1 501 ", 13) && closed);
	/* 405 names what is allowed */
	CHECK(raw("PUT /json HTTP/1.1\r\nHost: x\r\n\r\n", out, sizeof(out), &closed) > 0);
	CHECK(!strncmp(out, "HTTP/1.1 405 ", 13) && strstr(out, "Allow: POST\r\n"));
	/* Expect: 100-continue: the interim answer comes before the body is sent */
	{
		struct sockaddr_un sa = {.sun_family = AF_UNIX};
		const char *head = "POST /json HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\n"
				   "Content-Length: 12\r\nConnection: close\r\n\r\n";
		struct pollfd p;
		int fd = socket(AF_UNIX, SOCK_STREAM, 0);
		ssize_t n;

		strcpy(sa.sun_path, fx.path);
		CHECK(connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0);
		CHECK(write(fd, head, strlen(head)) == (ssize_t)strlen(head));
		p = (struct pollfd){.fd = fd, .events = POLLIN};
		CHECK(poll(&p, 1, 2000) == 1);
		n = read(fd, out, sizeof(out) - 1);
		CHECK(n == 25 && !memcmp(out, "HTTP/1.1 100 Continue\r\n\r\n", 25));
		CHECK(write(fd, "{\"name\":\"z\"}", 12) == 12);
		CHECK(poll(&p, 1, 2000) == 1);
		n = read(fd, out, sizeof(out) - 1);
		CHECK(n > 13 && !memcmp(out, "HTTP/1.1 201 ", 13));
		close(fd);
	}
	teardown();
	return 0;
}

static int test_stream(void)
{
	struct api_client *c;
	struct api_result r;
	char buf[64];
	size_t got = 0;
	ssize_t n;

	CHECK_EQ(setup(), 0);
	CHECK_EQ(api_client_open(fx.path, 2000, &c), 0);
	CHECK_EQ(api_client_stream(c, "GET", "/stream", NULL, &r), 0);
	CHECK_EQ(r.status, 200);
	while ((n = api_client_stream_read(c, buf + got, sizeof(buf) - 1 - got)) > 0)
		got += (size_t)n;
	CHECK_EQ(n, 0);
	buf[got] = 0;
	CHECK(!strcmp(buf, "one,two,three"));
	/* the connection serves the next request after the stream */
	CHECK_EQ(api_client_call(c, "GET", "/echo", NULL, &r), 0);
	CHECK_EQ(r.status, 200);
	api_result_fini(&r);
	/* a stream whose reader leaves: its producer hears of it */
	CHECK_EQ(api_client_stream(c, "GET", "/stream?forever", NULL, &r), 0);
	CHECK_EQ(api_client_stream_read(c, buf, sizeof(buf)), 1);
	api_client_close(c);
	for (int i = 0; i < 100 && !__atomic_load_n(&fx.stream_closed, __ATOMIC_ACQUIRE); i++)
		usleep(10000);
	CHECK_EQ(__atomic_load_n(&fx.stream_closed, __ATOMIC_ACQUIRE), 1);
	teardown();
	return 0;
}

static int test_hijack(void)
{
	struct api_client *c;
	struct api_result r;
	char buf[16];
	int fd;
	ssize_t n;

	CHECK_EQ(setup(), 0);
	CHECK_EQ(api_client_open(fx.path, 2000, &c), 0);
	CHECK_EQ(api_client_upgrade(c, "POST", "/hijack", &r), 0);
	CHECK_EQ(r.status, 101);
	fd = api_client_fd(c);
	CHECK_EQ(write(fd, "ping", 4), 4);
	n = 0;
	while (n < 4) {
		struct pollfd p = {.fd = fd, .events = POLLIN};
		ssize_t k;
		CHECK(poll(&p, 1, 2000) == 1);
		k = read(fd, buf + n, sizeof(buf) - (size_t)n);
		CHECK(k > 0);
		n += k;
	}
	CHECK(!memcmp(buf, "ping", 4));
	api_client_close(c);
	/* upgrading a path that does not upgrade is refused like any request */
	CHECK_EQ(api_client_open(fx.path, 2000, &c), 0);
	CHECK_EQ(api_client_upgrade(c, "GET", "/nope", &r), 0);
	CHECK_EQ(r.status, 404);
	api_result_fini(&r);
	api_client_close(c);
	teardown();
	return 0;
}

static int test_authorize_and_limits(void)
{
	struct api_client *c[9];
	struct api_result r;

	CHECK_EQ(setup(), 0);
	__atomic_store_n(&fx.refuse, true, __ATOMIC_RELEASE);
	CHECK_EQ(api_client_open(fx.path, 2000, &c[0]), 0);
	CHECK_EQ(api_client_call(c[0], "GET", "/echo", NULL, &r), 0);
	CHECK_EQ(r.status, 403);
	api_result_fini(&r);
	api_client_close(c[0]);
	__atomic_store_n(&fx.refuse, false, __ATOMIC_RELEASE);
	/* max_conns = 8: the ninth is answered 503 */
	for (int i = 0; i < 8; i++) {
		CHECK_EQ(api_client_open(fx.path, 2000, &c[i]), 0);
		CHECK_EQ(api_client_call(c[i], "GET", "/echo", NULL, &r), 0);
		CHECK_EQ(r.status, 200);
		api_result_fini(&r);
	}
	CHECK_EQ(api_client_open(fx.path, 2000, &c[8]), 0);
	CHECK_EQ(api_client_call(c[8], "GET", "/echo", NULL, &r), 0);
	CHECK_EQ(r.status, 503);
	api_result_fini(&r);
	/* a client that sends its request after the server refused it (and read nothing of
	 * the answer yet): its write is taken, and it reads the 503, then the end */
	{
		static const char req[] = "GET /echo HTTP/1.1\r\nHost: x\r\n\r\n";
		char buf[512];
		ssize_t n, got = 0;
		int fd = raw_connect();
		CHECK(fd >= 0);
		usleep(300 * 1000); /* the server has answered and shut its side */
		CHECK_EQ(send(fd, req, sizeof(req) - 1, MSG_NOSIGNAL), (ssize_t)sizeof(req) - 1);
		while ((n = recv(fd, buf + got, sizeof(buf) - 1 - (size_t)got, 0)) > 0)
			got += n;
		CHECK_EQ(n, 0); /* the end, not a reset */
		buf[got] = 0;
		CHECK(!strncmp(buf, "HTTP/1.1 503 ", 13));
		close(fd);
	}
	for (int i = 0; i < 9; i++)
		api_client_close(c[i]);
	/* a second server cannot take over a live socket */
	{
		struct api_server_config cfg = {.path = fx.path, .mode = 0600, .gid = (gid_t)-1};
		struct api_server *s2;
		CHECK_EQ(api_server_open(fx.loop, &cfg, &s2), -EADDRINUSE);
	}
	teardown();
	return 0;
}

/* A peer that answers slowly: `pre` at once, then `drip` a byte every 50 ms. */
struct slow_peer {
	int fd;
	const char *pre, *drip;
};

static void *slow_peer_run(void *opaque)
{
	struct slow_peer *p = opaque;
	int fd = accept(p->fd, NULL, NULL);

	if (fd < 0)
		return NULL;
	if (send(fd, p->pre, strlen(p->pre), MSG_NOSIGNAL) < 0)
		goto out;
	for (const char *d = p->drip; *d; d++) {
		struct timespec ts = {0, 50000000};
		nanosleep(&ts, NULL);
		if (send(fd, d, 1, MSG_NOSIGNAL) < 0)
			break;
	}
out:
	close(fd);
	return NULL;
}

static double mono_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* The client's bounds against a hostile peer, on a socket path longer than sun_path
 * (reached through its directory, both to bind and to connect): one deadline for the
 * whole answer however the peer trickles it, and a few interim answers at most. */
static int test_client_bounds(void)
{
	static const char *interims = "HTTP/1.1 102 Processing\r\n\r\n"
				      "HTTP/1.1 102 Processing\r\n\r\n"
				      "HTTP/1.1 102 Processing\r\n\r\n"
				      "HTTP/1.1 102 Processing\r\n\r\n"
				      "HTTP/1.1 102 Processing\r\n\r\n";
	char dir[256], path[300], body[64];
	struct sockaddr_un sa;
	struct api_result r;
	struct api_client *c;
	struct slow_peer peer;
	pthread_t t;
	int lfd, dfd;
	double t0;

	memset(body, 'x', 40);
	body[40] = 0;
	snprintf(dir, sizeof(dir), "/tmp/lodge-test-api-%d-%0120d", (int)getpid(), 0);
	CHECK_EQ(mkdir(dir, 0700), 0);
	snprintf(path, sizeof(path), "%s/api.sock", dir);
	CHECK(strlen(path) >= sizeof(sa.sun_path));
	CHECK_EQ(api_unix_addr(path, &sa, &dfd), 0);
	CHECK(dfd >= 0);
	lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	CHECK_EQ(bind(lfd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	close(dfd);
	CHECK_EQ(listen(lfd, 4), 0);
	peer.fd = lfd;

	/* a body of 40 bytes, one per 50 ms (2 s): each wait is short, the whole is not */
	peer.pre = "HTTP/1.1 200 OK\r\nContent-Length: 40\r\n\r\n";
	peer.drip = body;
	CHECK_EQ(pthread_create(&t, NULL, slow_peer_run, &peer), 0);
	CHECK_EQ(api_client_open(path, 400, &c), 0);
	t0 = mono_s();
	CHECK_EQ(api_client_call(c, "GET", "/", NULL, &r), -ETIMEDOUT);
	CHECK(mono_s() - t0 < 1.0);
	api_result_fini(&r);
	api_client_close(c);
	pthread_join(t, NULL);

	/* interim answers, more than a few: refused at once */
	peer.pre = interims;
	peer.drip = "";
	CHECK_EQ(pthread_create(&t, NULL, slow_peer_run, &peer), 0);
	CHECK_EQ(api_client_open(path, 2000, &c), 0);
	CHECK_EQ(api_client_call(c, "GET", "/", NULL, &r), -EPROTO);
	api_result_fini(&r);
	api_client_close(c);
	pthread_join(t, NULL);

	/* a few, then the answer: fine */
	peer.pre = "HTTP/1.1 102 Processing\r\n\r\nHTTP/1.1 102 Processing\r\n\r\n"
		   "HTTP/1.1 204 No Content\r\n\r\n";
	CHECK_EQ(pthread_create(&t, NULL, slow_peer_run, &peer), 0);
	CHECK_EQ(api_client_open(path, 2000, &c), 0);
	CHECK_EQ(api_client_call(c, "GET", "/", NULL, &r), 0);
	CHECK_EQ(r.status, 204);
	api_result_fini(&r);
	api_client_close(c);
	pthread_join(t, NULL);

	close(lfd);
	unlink(path);
	rmdir(dir);
	return 0;
}

/* Refusals coming faster than the sweep's period do not put it off: a request head that
 * stalls is still answered 408 once API_HEAD_TIMEOUT_MS is over. */
static int test_refusals_keep_sweeping(void)
{
	int fds[8], slow;
	char buf[256];
	struct pollfd p;
	ssize_t n;

	CHECK_EQ(setup(), 0);
	for (int i = 0; i < 8; i++)
		CHECK((fds[i] = raw_connect()) >= 0);
	slow = fds[0];
	CHECK_EQ(send(slow, "GET /ec", 7, MSG_NOSIGNAL), 7); /* a head that never ends */
	/* the server is full: every new connection is refused, one each 300 ms, until the
	 * stalled head is answered 408 (the sweep ran): by API_HEAD_TIMEOUT_MS + 3 s */
	p = (struct pollfd){.fd = slow, .events = POLLIN};
	for (int t = 0; t < (API_HEAD_TIMEOUT_MS + 3000) / 300 && poll(&p, 1, 0) == 0; t++) {
		int fd = raw_connect();
		CHECK(fd >= 0);
		n = recv(fd, buf, sizeof(buf) - 1, 0);
		CHECK(n > 12 && !strncmp(buf, "HTTP/1.1 503", 12));
		close(fd);
		usleep(300 * 1000);
	}
	CHECK_EQ(poll(&p, 1, 0), 1);
	n = recv(slow, buf, sizeof(buf) - 1, 0);
	CHECK(n > 12);
	buf[n] = 0;
	CHECK(!strncmp(buf, "HTTP/1.1 408", 12));
	for (int i = 0; i < 8; i++)
		close(fds[i]);
	teardown();
	return 0;
}

static const struct unit_test tests[] = {
	{"call_keepalive", test_call_keepalive},
	{"refusals_keep_sweeping", test_refusals_keep_sweeping},
	{"idle_no_timer", test_idle_no_timer},
	{"json_rules", test_json_rules},
	{"raw_protocol", test_raw_protocol},
	{"stream", test_stream},
	{"hijack", test_hijack},
	{"authorize_and_limits", test_authorize_and_limits},
	{"client_bounds", test_client_bounds},
};

UNIT_MAIN("api", tests)
