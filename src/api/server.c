/*
 * The HTTP server (see server.h). A connection is in one of four states: reading a
 * request, waiting for its handler's answer, streaming an answer, or closing (flushing
 * its last answer). Input is read only while reading (or, while streaming, to notice the
 * peer going away); output is written at once and the rest when the socket drains.
 * Requests that arrive back to back (pipelining) are parsed one at a time, each after the
 * previous answer was queued; a connection freed while its handler runs is only marked,
 * and freed once the handler returns.
 */
#include "api/server.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "api/client.h"
#include "core/alloc.h"
#include "core/evloop.h"
#include "core/log.h"

#define READ_CHUNK	   65536
#define MAX_STREAM_BACKLOG (4u << 20) /* a stream's peer that reads nothing is dropped */
#define SWEEP_NS	   1000000000ull

enum conn_state { C_READING, C_HANDLING, C_STREAMING, C_CLOSING };

struct api_conn {
	struct api_conn *next;
	struct api_server *srv;
	int fd;
	struct evloop_watch *watch;
	struct api_peer peer;
	enum conn_state state;
	uint8_t *in;
	size_t in_len, in_cap, in_max;
	uint8_t *out;
	size_t out_off, out_len, out_cap;
	struct http_parser parser;
	size_t consumed; /* bytes of the request being answered */
	bool keep_alive; /* of the request being answered */
	bool sent_continue;
	bool rd_eof;   /* the peer sent all it will (shutdown(SHUT_WR)): answer, then close */
	unsigned busy; /* frames on the stack that use it: do not free yet */
	bool dead;     /* closed; freed when the last user lets go */
	bool pending;  /* buffered input waits to be parsed (srv->kick) */
	uint64_t deadline;
	void (*on_close)(void *opaque);
	void *on_close_opaque;
};

#define REFUSED_LINGER	  64			 /* refused connections kept open */
#define REFUSED_LINGER_NS (2ull * 1000000000ull) /* at most this long */

struct api_server {
	struct evloop *loop;
	struct api_server_config cfg;
	char *path;
	int fd;
	struct evloop_watch *watch;
	struct evloop_timer *sweep, *kick;
	struct api_conn *conns;
	unsigned nconns;
	/* Refused connections, answered and shut for writing, open for reading a while:
	 * a client that sends its request before it reads (most do) would find its write
	 * refused (EPIPE) and never see the answer. The oldest goes for a new one. */
	struct {
		int fd;
		uint64_t until;
	} refused[REFUSED_LINGER];
	unsigned next_refused;
	uint64_t sweep_at; /* when the sweep timer fires, 0: not armed */
};

static void conn_close(struct api_conn *c);
static void process(struct api_conn *c);

static void update_watch(struct api_conn *c)
{
	short ev = 0;

	if (c->dead)
		return;
	if ((c->state == C_READING && !c->rd_eof) || c->state == C_STREAMING)
		ev |= POLLIN;
	if (c->out_len > c->out_off)
		ev |= POLLOUT;
	evloop_watch_set(c->watch, ev);
}

static void conn_free(struct api_conn *c)
{
	core_free(c->in);
	core_free(c->out);
	core_free(c);
}

/* hold/release bracket code that may close the connection and then still looks at it
 * (c->dead tells): the memory stays until the outermost release. */
static void hold(struct api_conn *c)
{
	c->busy++;
}

static void release(struct api_conn *c)
{
	if (--c->busy == 0 && c->dead)
		conn_free(c);
}

/* Unlinks the connection, closes its socket and tells its holder. */
static void conn_close(struct api_conn *c)
{
	struct api_server *s = c->srv;
	void (*cb)(void *) = c->on_close;

	if (c->dead)
		return;
	c->dead = true;
	for (struct api_conn **pp = &s->conns; *pp; pp = &(*pp)->next)
		if (*pp == c) {
			*pp = c->next;
			break;
		}
	s->nconns--;
	evloop_watch_del(c->watch);
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
	c->on_close = NULL;
	if (cb)
		cb(c->on_close_opaque);
	if (!c->busy)
		conn_free(c);
}

/* Writes what is queued; returns -1 when the connection had to be closed. */
static int flush(struct api_conn *c)
{
	while (c->out_off < c->out_len) {
		ssize_t n = send(c->fd, c->out + c->out_off, c->out_len - c->out_off,
				 MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			break;
		if (n <= 0) {
			conn_close(c);
			return -1;
		}
		c->out_off += (size_t)n;
	}
	if (c->out_off == c->out_len) {
		c->out_off = c->out_len = 0;
		if (c->state == C_CLOSING) {
			conn_close(c);
			return -1;
		}
	}
	update_watch(c);
	return 0;
}

static int out_reserve(struct api_conn *c, size_t n)
{
	size_t need;

	if (c->out_off && c->out_off == c->out_len)
		c->out_off = c->out_len = 0;
	need = c->out_len + n;
	if (need <= c->out_cap)
		return 0;
	if (c->out_off) { /* compact first */
		memmove(c->out, c->out + c->out_off, c->out_len - c->out_off);
		c->out_len -= c->out_off;
		c->out_off = 0;
		need = c->out_len + n;
		if (need <= c->out_cap)
			return 0;
	}
	size_t cap = c->out_cap ? c->out_cap : 4096;
	while (cap < need)
		cap *= 2;
	uint8_t *p = core_realloc(c->out, cap);
	if (!p)
		return -ENOMEM;
	c->out = p;
	c->out_cap = cap;
	return 0;
}

static int out_put(struct api_conn *c, const void *data, size_t n)
{
	if (out_reserve(c, n))
		return -ENOMEM;
	if (n)
		memcpy(c->out + c->out_len, data, n);
	c->out_len += n;
	return 0;
}

static int out_printf(struct api_conn *c, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static int out_printf(struct api_conn *c, const char *fmt, ...)
{
	char buf[512];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(buf))
		return -EINVAL;
	return out_put(c, buf, (size_t)n);
}

static uint64_t idle_deadline(void)
{
	return evloop_now_ns() + API_IDLE_TIMEOUT_MS * 1000000ull;
}

/* The answer to the current request is queued: move on to the next request. */
static void request_done(struct api_conn *c)
{
	struct api_server *s = c->srv;

	if (!c->keep_alive) {
		c->state = C_CLOSING;
		flush(c);
		return;
	}
	memmove(c->in, c->in + c->consumed, c->in_len - c->consumed);
	c->in_len -= c->consumed;
	c->consumed = 0;
	http_parser_init(&c->parser, s->cfg.max_body);
	c->sent_continue = false;
	c->state = C_READING;
	c->deadline =
		c->in_len ? evloop_now_ns() + API_HEAD_TIMEOUT_MS * 1000000ull : idle_deadline();
	if (flush(c))
		return;
	if (c->in_len && !c->busy) {
		/* Pipelined input: parse it from the loop, not from inside whoever answered. */
		c->pending = true;
		evloop_timer_arm(s->kick, evloop_now_ns());
	}
}

static const char *error_code(int status)
{
	switch (status) {
	case 400:
		return "bad_request";
	case 403:
		return "forbidden";
	case 404:
		return "not_found";
	case 405:
		return "method_not_allowed";
	case 408:
		return "request_timeout";
	case 413:
		return "body_too_large";
	case 414:
		return "target_too_long";
	case 417:
		return "expectation_failed";
	case 431:
		return "headers_too_large";
	case 501:
		return "not_implemented";
	case 503:
		return "unavailable";
	case 505:
		return "http_version";
	default:
		return status >= 500 ? "internal" : "error";
	}
}

static int queue_response(struct api_conn *c, int status, const char *type, const void *body,
			  size_t len, const char *extra_headers)
{
	int r = out_printf(c, "HTTP/1.1 %d %s\r\n", status, http_status_text(status));

	if (!r && type)
		r = out_printf(c, "Content-Type: %s\r\n", type);
	if (!r && extra_headers)
		r = out_put(c, extra_headers, strlen(extra_headers));
	if (!r)
		r = out_printf(c, "Content-Length: %zu\r\n%s\r\n", len,
			       c->keep_alive ? "" : "Connection: close\r\n");
	if (!r)
		r = out_put(c, body, len);
	return r;
}

int api_reply(struct api_conn *c, int status, const char *content_type, const void *body,
	      size_t len)
{
	if (c->dead || c->state != C_HANDLING)
		return -EINVAL;
	if (queue_response(c, status, content_type, body, len, NULL)) {
		conn_close(c);
		return -ENOMEM;
	}
	request_done(c);
	return 0;
}

int api_reply_json(struct api_conn *c, int status, cJSON *obj)
{
	char *text = obj ? cJSON_PrintUnformatted(obj) : NULL;
	int r;

	cJSON_Delete(obj);
	if (!text)
		return api_reply_error(c, 500, "internal", "out of memory");
	r = api_reply(c, status, "application/json", text, strlen(text));
	free(text);
	return r;
}

/* Escapes a message for a JSON string (quotes, backslashes, control bytes). */
static void json_escape(const char *in, char *out, size_t cap)
{
	size_t o = 0;

	for (; *in && o + 7 < cap; in++) {
		unsigned char ch = (unsigned char)*in;
		if (ch == '"' || ch == '\\') {
			out[o++] = '\\';
			out[o++] = (char)ch;
		} else if (ch < 0x20) {
			o += (size_t)snprintf(out + o, cap - o, "\\u%04x", ch);
		} else {
			out[o++] = (char)ch;
		}
	}
	out[o] = 0;
}

static int error_body(char *buf, size_t cap, const char *code, const char *msg)
{
	char esc[1024];

	json_escape(msg, esc, sizeof(esc));
	return snprintf(buf, cap, "{\"error\":\"%s\",\"message\":\"%s\"}", code, esc);
}

int api_reply_error(struct api_conn *c, int status, const char *code, const char *fmt, ...)
{
	char msg[512], body[1200];
	va_list ap;
	int n;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	n = error_body(body, sizeof(body), code ? code : error_code(status), msg);
	return api_reply(c, status, "application/json", body, (size_t)n);
}

/* A protocol-level failure: answer and close (the stream cannot be trusted any more). */
static void fail(struct api_conn *c, int status, const char *extra, const char *msg)
{
	char body[1200];
	int n = error_body(body, sizeof(body), error_code(status), msg);

	c->keep_alive = false;
	if (queue_response(c, status, "application/json", body, (size_t)n, extra)) {
		conn_close(c);
		return;
	}
	c->state = C_CLOSING;
	flush(c);
}

int api_stream_start(struct api_conn *c, int status, const char *content_type)
{
	int r;

	if (c->dead || c->state != C_HANDLING)
		return -EINVAL;
	r = out_printf(c,
		       "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nTransfer-Encoding: chunked\r\n"
		       "%s\r\n",
		       status, http_status_text(status), content_type,
		       c->keep_alive ? "" : "Connection: close\r\n");
	if (r) {
		conn_close(c);
		return r;
	}
	c->state = C_STREAMING;
	return flush(c) ? -EPIPE : 0;
}

int api_stream_write(struct api_conn *c, const void *data, size_t len)
{
	if (c->dead || c->state != C_STREAMING)
		return -EINVAL;
	if (!len)
		return 0;
	if (c->out_len - c->out_off > MAX_STREAM_BACKLOG) {
		conn_close(c); /* the peer stopped reading */
		return -EPIPE;
	}
	if (out_printf(c, "%zx\r\n", len) || out_put(c, data, len) || out_put(c, "\r\n", 2)) {
		conn_close(c);
		return -ENOMEM;
	}
	return flush(c) ? -EPIPE : 0;
}

void api_stream_end(struct api_conn *c)
{
	if (c->dead || c->state != C_STREAMING)
		return;
	c->on_close = NULL;
	if (out_put(c, "0\r\n\r\n", 5)) {
		conn_close(c);
		return;
	}
	c->state = C_HANDLING;
	request_done(c);
}

size_t api_conn_backlog(const struct api_conn *c)
{
	return c->out_len - c->out_off;
}

void api_conn_on_close(struct api_conn *c, void (*fn)(void *opaque), void *opaque)
{
	c->on_close = fn;
	c->on_close_opaque = opaque;
}

int api_hijack(struct api_conn *c, int *fd, uint8_t *extra, size_t extracap, size_t *extra_len)
{
	static const char head[] = "HTTP/1.1 101 Switching Protocols\r\n"
				   "Connection: Upgrade\r\nUpgrade: tcp\r\n\r\n";
	size_t rest;

	if (c->dead || c->state != C_HANDLING || !c->parser.req.upgrade)
		return -EINVAL;
	rest = c->in_len - c->consumed;
	if (rest > extracap)
		return -E2BIG;
	if (out_put(c, head, sizeof(head) - 1))
		return -ENOMEM;
	/* Blocking from here: the socket changes hands with everything queued written. */
	while (c->out_off < c->out_len) {
		ssize_t n = send(c->fd, c->out + c->out_off, c->out_len - c->out_off, MSG_NOSIGNAL);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			struct pollfd p = {.fd = c->fd, .events = POLLOUT};
			if (poll(&p, 1, 5000) > 0)
				continue;
		}
		if (n <= 0) {
			conn_close(c);
			return -EPIPE;
		}
		c->out_off += (size_t)n;
	}
	memcpy(extra, c->in + c->consumed, rest);
	*extra_len = rest;
	*fd = c->fd;
	c->fd = -1; /* conn_close must not close it */
	c->on_close = NULL;
	conn_close(c);
	return 0;
}

/* ---- input ---- */

static void dispatch(struct api_conn *c)
{
	struct api_server *s = c->srv;
	const struct http_request *hr = &c->parser.req;
	struct api_match m;
	struct api_request req = {.http = hr,
				  .query = hr->query,
				  .body = hr->body,
				  .body_len = hr->body_len,
				  .peer = c->peer,
				  .ctx = s->cfg.ctx};
	char extra[96];

	/* After the peer's end of input, the last buffered request's answer ends the
	 * connection. */
	c->keep_alive = hr->keep_alive && !hr->upgrade && !(c->rd_eof && c->consumed == c->in_len);
	c->state = C_HANDLING;
	if (hr->method == HTTP_OTHER) {
		snprintf(extra, sizeof(extra), "method %s is not supported", hr->method_name);
		fail(c, 501, NULL, extra);
		return;
	}
	if (api_route_match(s->cfg.routes, s->cfg.nroutes, hr->method, hr->path, &m)) {
		if (m.status == 405) {
			char body[256];
			int n = snprintf(body, sizeof(body),
					 "{\"error\":\"method_not_allowed\",\"message\":\"%s is "
					 "not allowed on this path (allowed: %s)\"}",
					 hr->method_name, m.allow);
			snprintf(extra, sizeof(extra), "Allow: %s\r\n", m.allow);
			if (queue_response(c, 405, "application/json", body, (size_t)n, extra))
				conn_close(c);
			else
				request_done(c);
		} else if (m.status == 404) {
			api_reply_error(c, 404, "not_found", "no such endpoint: %s", hr->path);
		} else if (m.too_long) {
			api_reply_error(c, 400, "bad_request",
					"a name in the path is too long: at most %d bytes",
					API_PARAM_MAX - 1);
		} else {
			api_reply_error(c, 400, "bad_request", "malformed escape in the path");
		}
		return;
	}
	for (unsigned i = 0; i < m.nparams; i++)
		req.params[i] = m.params[i];
	req.nparams = m.nparams;
	hold(c);
	m.route->fn(c, &req);
	release(c);
}

/* Parses and serves what is buffered, as long as answers come at once. Caller holds c. */
static void process(struct api_conn *c)
{
	while (!c->dead && c->state == C_READING && c->in_len) {
		int r = http_request_parse(&c->parser, c->in, c->in_len, &c->consumed);
		if (r < 0) {
			c->state = C_HANDLING;
			fail(c, c->parser.err.status, NULL, c->parser.err.reason);
			return;
		}
		if (r == 0) {
			if (c->parser.state != HTTP_PS_HEAD && c->parser.req.expect_continue &&
			    !c->sent_continue) {
				c->sent_continue = true;
				if (out_put(c, "HTTP/1.1 100 Continue\r\n\r\n", 25) == 0)
					flush(c);
			}
			if (!c->dead && c->in_len >= c->in_max) {
				c->state = C_HANDLING;
				fail(c, 413, NULL, "request larger than the server accepts");
			}
			break;
		}
		dispatch(c);
	}
	/* What is left of the input after its end can never make a request. */
	if (!c->dead && c->rd_eof && c->state == C_READING)
		conn_close(c);
}

static void read_input(struct api_conn *c);

static void on_conn_event(void *opaque, int fd, unsigned revents)
{
	struct api_conn *c = opaque;

	(void)fd;
	hold(c);
	if (revents & POLLOUT)
		flush(c);
	if (!c->dead && (revents & (POLLIN | POLLHUP | POLLERR))) {
		if (c->state == C_READING || c->state == C_STREAMING)
			read_input(c);
		else
			update_watch(c);
	}
	if (!c->dead)
		process(c);
	release(c);
}

/* Reads what the socket has (caller holds c). */
static void read_input(struct api_conn *c)
{
	for (;;) {
		ssize_t n;
		if (c->in_len == c->in_cap) {
			size_t cap = c->in_cap * 2 > c->in_max ? c->in_max : c->in_cap * 2;
			uint8_t *p;
			if (c->in_cap >= c->in_max) {
				if (c->state == C_STREAMING)
					c->in_len = 0; /* nothing is expected while streaming */
				else
					break;
			} else {
				p = core_realloc(c->in, cap);
				if (!p) {
					conn_close(c);
					return;
				}
				c->in = p;
				c->in_cap = cap;
			}
		}
		n = recv(c->fd, c->in + c->in_len, c->in_cap - c->in_len, MSG_DONTWAIT);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			break;
		if (n == 0 && c->state == C_READING && c->in_len) {
			/* The peer half-closed after its requests: process() answers them. */
			c->rd_eof = true;
			update_watch(c);
			return;
		}
		if (n <= 0) {
			conn_close(c); /* the peer closed (or failed) */
			return;
		}
		if (c->state == C_READING && c->in_len == 0)
			c->deadline = evloop_now_ns() + API_HEAD_TIMEOUT_MS * 1000000ull;
		c->in_len += (size_t)n;
		if (c->state == C_STREAMING)
			c->in_len = 0;
	}
}

/* Every second while there are connections: requests that take too long to arrive, idle
 * connections. A server without connections has no timer armed (an idle guest's control
 * thread would otherwise wake every second for nothing); the next accept arms it. */
/* The sweep runs by `when` at the latest: a timer armed earlier is left (re-arming it
 * later at each new connection or refusal would put the deadlines off for good). */
static void sweep_by(struct api_server *s, uint64_t when)
{
	if (s->sweep_at && s->sweep_at <= when)
		return;
	s->sweep_at = when;
	evloop_timer_arm(s->sweep, when);
}

/* Closes the refused connections kept past their time (all with `all`). */
static void refused_sweep(struct api_server *s, uint64_t now, bool all)
{
	for (unsigned i = 0; i < REFUSED_LINGER; i++)
		if (s->refused[i].fd >= 0 && (all || now >= s->refused[i].until)) {
			close(s->refused[i].fd);
			s->refused[i].fd = -1;
		}
}

static void on_sweep(void *opaque)
{
	struct api_server *s = opaque;
	uint64_t now = evloop_now_ns();
	bool again_refused = false;

	s->sweep_at = 0;
	for (struct api_conn *c = s->conns, *next; c; c = next) {
		next = c->next;
		if (c->state != C_READING || now < c->deadline)
			continue;
		if (c->in_len) {
			c->state = C_HANDLING;
			fail(c, 408, NULL, "the request did not arrive in time");
		} else {
			conn_close(c);
		}
	}
	refused_sweep(s, now, false);
	for (unsigned i = 0; i < REFUSED_LINGER && !again_refused; i++)
		again_refused = s->refused[i].fd >= 0;
	if (s->conns || again_refused)
		sweep_by(s, now + SWEEP_NS);
}

static void on_kick(void *opaque)
{
	struct api_server *s = opaque;
	bool again = true;

	while (again) {
		again = false;
		for (struct api_conn *c = s->conns; c; c = c->next) {
			if (!c->pending)
				continue;
			c->pending = false;
			hold(c);
			process(c);
			release(c);
			again = true; /* the list may have changed */
			break;
		}
	}
}

/* Answers `status` and ends the connection: the answer and the end of the stream go now;
 * what the client sends meanwhile is taken (not refused) for REFUSED_LINGER_NS, or
 * until REFUSED_LINGER later refusals. */
static void refuse(struct api_server *s, int fd, int status, const char *msg)
{
	char buf[512], body[300];
	int n = snprintf(body, sizeof(body), "{\"error\":\"%s\",\"message\":\"%s\"}",
			 error_code(status), msg);
	int m = snprintf(buf, sizeof(buf),
			 "HTTP/1.1 %d %s\r\nContent-Type: application/json\r\nContent-Length: "
			 "%d\r\nConnection: close\r\n\r\n%s",
			 status, http_status_text(status), n, body);
	unsigned k = s->next_refused++ % REFUSED_LINGER;
	uint64_t now = evloop_now_ns();

	if (send(fd, buf, (size_t)m, MSG_NOSIGNAL | MSG_DONTWAIT) < 0)
		log_debug("api: could not send the refusal: %s", strerror(errno));
	shutdown(fd, SHUT_WR);
	refused_sweep(s, now, false);
	if (s->refused[k].fd >= 0)
		close(s->refused[k].fd);
	s->refused[k].fd = fd;
	s->refused[k].until = now + REFUSED_LINGER_NS;
	sweep_by(s, now + SWEEP_NS);
}

/* The peer's supplementary groups into *out (core_alloc'd, the caller frees), or NULL
 * and 0 when the kernel does not say (before Linux 4.13) or memory runs out. */
static unsigned peer_groups(int fd, gid_t **out)
{
	socklen_t len = 64 * sizeof(gid_t);

	*out = NULL;
	for (int tries = 0; tries < 2; tries++) {
		gid_t *g = core_alloc(len ? len : sizeof(gid_t));
		socklen_t want = len;
		if (!g)
			return 0;
		if (getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, g, &want) == 0) {
			*out = g;
			return (unsigned)(want / sizeof(gid_t));
		}
		core_free(g);
		if (errno != ERANGE || want <= len)
			return 0;
		len = want; /* the kernel says how much it needs */
	}
	return 0;
}

static void on_accept(void *opaque, int lfd, unsigned revents)
{
	struct api_server *s = opaque;

	(void)revents;
	for (int k = 0; k < 64; k++) {
		struct ucred cred = {0};
		struct api_peer peer;
		socklen_t plen = sizeof(cred);
		struct api_conn *c;
		int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

		if (fd < 0 && (errno == EMFILE || errno == ENFILE) && k == 0) {
			refused_sweep(s, 0, true); /* their descriptors first */
			fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		}
		if (fd < 0) {
			if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
				log_warn("api %s: accept failed: %s", s->path, strerror(errno));
			return;
		}
		if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &plen) < 0) {
			close(fd);
			continue;
		}
		peer = (struct api_peer){.pid = cred.pid, .uid = cred.uid, .gid = cred.gid};
		if (s->cfg.authorize) {
			gid_t *groups;
			bool ok;
			peer.ngroups = peer_groups(fd, &groups);
			peer.groups = groups;
			ok = s->cfg.authorize(s->cfg.ctx, &peer);
			core_free(groups);
			peer.groups = NULL;
			peer.ngroups = 0;
			if (!ok) {
				refuse(s, fd, 403, "this user may not use the API");
				continue;
			}
		}
		if (s->nconns >= s->cfg.max_conns) {
			refuse(s, fd, 503, "too many connections");
			continue;
		}
		c = core_calloc(1, sizeof(*c));
		if (c)
			c->in = core_alloc(4096);
		if (!c || !c->in ||
		    evloop_watch_add(s->loop, fd, POLLIN, on_conn_event, c, &c->watch)) {
			if (c)
				core_free(c->in);
			core_free(c);
			refuse(s, fd, 503, "out of memory");
			continue;
		}
		c->srv = s;
		c->fd = fd;
		c->peer = peer;
		c->in_cap = 4096;
		c->in_max = HTTP_MAX_HEAD + 2 * s->cfg.max_body + 65536;
		c->state = C_READING;
		c->deadline = idle_deadline();
		http_parser_init(&c->parser, s->cfg.max_body);
		sweep_by(s, evloop_now_ns() + SWEEP_NS);
		c->next = s->conns;
		s->conns = c;
		s->nconns++;
	}
}

/* Refuses to take over a socket path some live server still answers on. */
static int claim_path(const char *path, const struct sockaddr_un *sa)
{
	struct stat st;
	int fd, r;

	if (lstat(path, &st) < 0)
		return errno == ENOENT ? 0 : -errno;
	if (!S_ISSOCK(st.st_mode))
		return -EEXIST;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	r = connect(fd, (const struct sockaddr *)sa, sizeof(*sa));
	close(fd);
	if (r == 0)
		return -EADDRINUSE;
	return unlink(path) < 0 && errno != ENOENT ? -errno : 0;
}

/* The socket appears at its path already listening, with its owner and mode: it is
 * bound under a temporary name beside it and renamed into place, so a client that
 * waits for the path to exist (as scripts do) is never refused. A path too long for
 * the temporary name is bound directly; one too long for sun_path, through its
 * directory (api_unix_addr). */
static int listen_on(const struct api_server_config *cfg, int *out)
{
	struct sockaddr_un sa;
	char tmp[sizeof(sa.sun_path)];
	const char *bound = cfg->path;
	int fd, dfd, r, n;

	r = api_unix_addr(cfg->path, &sa, &dfd);
	if (r)
		return r;
	r = claim_path(cfg->path, &sa);
	if (r)
		goto err_close_dir;
	n = snprintf(tmp, sizeof(tmp), "%s.%d~", cfg->path, (int)getpid());
	if (dfd < 0 && n > 0 && (size_t)n < sizeof(tmp)) {
		unlink(tmp);
		strcpy(sa.sun_path, tmp);
		bound = tmp;
	}
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		r = -errno;
		goto err_close_dir;
	}
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		r = -errno;
		goto err_close_fd;
	}
	if (listen(fd, 128) < 0 ||
	    (cfg->gid != (gid_t)-1 && chown(bound, (uid_t)-1, cfg->gid) < 0) ||
	    chmod(bound, cfg->mode) < 0 || (bound != cfg->path && rename(bound, cfg->path) < 0)) {
		r = -errno;
		unlink(bound);
		goto err_close_fd;
	}
	if (dfd >= 0)
		close(dfd);
	*out = fd;
	return 0;

err_close_fd:
	close(fd);
err_close_dir:
	if (dfd >= 0)
		close(dfd);
	return r;
}

int api_server_open(struct evloop *loop, const struct api_server_config *cfg,
		    struct api_server **out)
{
	struct api_server *s = core_calloc(1, sizeof(*s));
	int r;

	if (!s)
		return -ENOMEM;
	s->loop = loop;
	s->cfg = *cfg;
	for (unsigned i = 0; i < REFUSED_LINGER; i++)
		s->refused[i].fd = -1;
	if (!s->cfg.max_body)
		s->cfg.max_body = HTTP_MAX_BODY;
	if (!s->cfg.max_conns)
		s->cfg.max_conns = 256;
	s->fd = -1;
	s->path = strdup(cfg->path);
	r = s->path ? 0 : -ENOMEM;
	r = r ?: listen_on(cfg, &s->fd);
	r = r ?: evloop_watch_add(loop, s->fd, POLLIN, on_accept, s, &s->watch);
	r = r ?: evloop_timer_add(loop, on_sweep, s, &s->sweep);
	r = r ?: evloop_timer_add(loop, on_kick, s, &s->kick);
	if (r) {
		api_server_close(s);
		return r;
	}
	*out = s;
	return 0;
}

void api_server_close(struct api_server *s)
{
	if (!s)
		return;
	while (s->conns)
		conn_close(s->conns);
	refused_sweep(s, 0, true);
	evloop_watch_del(s->watch);
	evloop_timer_del(s->sweep);
	evloop_timer_del(s->kick);
	if (s->fd >= 0) {
		close(s->fd);
		unlink(s->path);
	}
	free(s->path);
	core_free(s);
}

unsigned api_server_conns(const struct api_server *s)
{
	return s->nconns;
}
