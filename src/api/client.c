/*
 * The blocking HTTP client (see client.h). A receive buffer holds what was read past the
 * current answer's head; bodies are read with Content-Length, chunked, or until the
 * peer closes (an answer with neither, which then ends the connection). A request has
 * one deadline (the timeout from its start), so a peer that trickles bytes or sends
 * interim answers for ever cannot hold the caller longer than that.
 */
#include "api/client.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "api/http.h"

#include "core/clock.h"

#define BUF_SIZE    65536
#define MAX_INTERIM 4 /* 1xx answers before the real one: more is a peer stalling */

enum body_mode { BODY_NONE, BODY_LENGTH, BODY_CHUNKED, BODY_CLOSE };

struct api_client {
	int fd;
	int timeout_ms;
	uint64_t deadline; /* of the request under way (CLOCK_MONOTONIC ns), 0: none */
	bool fresh;	   /* the deadline set at open is the first request's */
	enum body_mode mode;
	uint64_t left; /* BODY_LENGTH: bytes left */
	struct http_chunked ch;
	bool eof;
	size_t off, len;
	uint8_t buf[BUF_SIZE];
};

/* The deadline `ms` from now, or 0 (none) for ms < 0. */
static uint64_t deadline_in(int ms)
{
	if (ms < 0)
		return 0;
	return core_now_ns() + (uint64_t)ms * 1000000u;
}

int api_unix_addr(const char *path, struct sockaddr_un *sa, int *dirfd_out)
{
	const char *slash = strrchr(path, '/');
	size_t len = strlen(path);
	int dfd;

	memset(sa, 0, sizeof(*sa));
	sa->sun_family = AF_UNIX;
	*dirfd_out = -1;
	if (len < sizeof(sa->sun_path)) {
		memcpy(sa->sun_path, path, len + 1);
		return 0;
	}
	/* Too long for sun_path: reach it through its directory's descriptor. */
	if (!slash || slash == path || strlen(slash) > 64 || len >= PATH_MAX)
		return -ENAMETOOLONG;
	char dir[PATH_MAX];
	memcpy(dir, path, (size_t)(slash - path));
	dir[slash - path] = 0;
	dfd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		return -errno;
	snprintf(sa->sun_path, sizeof(sa->sun_path), "/proc/self/fd/%d%s", dfd, slash);
	*dirfd_out = dfd;
	return 0;
}

int api_client_open(const char *path, int timeout_ms, struct api_client **out)
{
	struct sockaddr_un sa;
	struct api_client *c;
	uint64_t deadline = deadline_in(timeout_ms);
	int fd, dfd, r;

	r = api_unix_addr(path, &sa, &dfd);
	if (r)
		return r;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		r = -errno;
		goto err_close_dir;
	}
	/* A listener whose backlog is full blocks connect: SO_SNDTIMEO bounds that wait. */
	if (timeout_ms >= 0) {
		struct timeval tv = {.tv_sec = timeout_ms / 1000,
				     .tv_usec = (timeout_ms % 1000) * 1000};
		if (!timeout_ms)
			tv.tv_usec = 1;
		setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	}
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		r = errno == EAGAIN || errno == EINPROGRESS ? -ETIMEDOUT : -errno;
		goto err_close_fd;
	}
	if (timeout_ms >= 0) { /* the socket may leave us (console relays): as it was */
		struct timeval none = {0};
		setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &none, sizeof(none));
	}
	c = calloc(1, sizeof(*c));
	if (!c) {
		r = -ENOMEM;
		goto err_close_fd;
	}
	if (dfd >= 0)
		close(dfd);
	c->fd = fd;
	c->timeout_ms = timeout_ms;
	c->deadline = deadline;
	c->fresh = true;
	*out = c;
	return 0;

err_close_fd:
	close(fd);
err_close_dir:
	if (dfd >= 0)
		close(dfd);
	return r;
}

void api_client_close(struct api_client *c)
{
	if (!c)
		return;
	close(c->fd);
	free(c);
}

int api_client_fd(const struct api_client *c)
{
	return c->fd;
}

size_t api_client_buffered(const struct api_client *c)
{
	return c->len - c->off;
}

/* Waits for `ev` until the request's deadline (or, with none, for timeout_ms). */
static int wait_for(struct api_client *c, short ev)
{
	struct pollfd p = {.fd = c->fd, .events = ev};
	int r;

	do {
		int ms = c->timeout_ms;
		if (c->deadline) {
			uint64_t now = core_now_ns();
			if (now >= c->deadline)
				return -ETIMEDOUT;
			ms = (int)((c->deadline - now + 999999) / 1000000);
		}
		r = poll(&p, 1, ms);
	} while (r < 0 && errno == EINTR);
	if (r < 0)
		return -errno;
	return r == 0 ? -ETIMEDOUT : 0;
}

/* A request starts: its deadline is the timeout from now (the first request's from the
 * connect, which it continues). */
static void start_request(struct api_client *c)
{
	if (!c->fresh)
		c->deadline = deadline_in(c->timeout_ms);
	c->fresh = false;
}

static int send_all(struct api_client *c, const void *data, size_t len)
{
	const uint8_t *p = data;

	while (len) {
		ssize_t n;
		int r = wait_for(c, POLLOUT);
		if (r)
			return r;
		n = send(c->fd, p, len, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (n < 0)
			return -errno;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Reads more into the buffer (compacting it first). Returns bytes read, 0 at EOF. */
static ssize_t fill(struct api_client *c)
{
	ssize_t n;
	int r;

	if (c->off) {
		memmove(c->buf, c->buf + c->off, c->len - c->off);
		c->len -= c->off;
		c->off = 0;
	}
	if (c->len == sizeof(c->buf))
		return -ENOBUFS;
	for (;;) {
		r = wait_for(c, POLLIN);
		if (r)
			return r;
		n = recv(c->fd, c->buf + c->len, sizeof(c->buf) - c->len, MSG_DONTWAIT);
		if (n < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			c->eof = true;
		c->len += (size_t)n;
		return n;
	}
}

static int send_request(struct api_client *c, const char *method, const char *target,
			const char *body, const char *extra)
{
	char head[1024 + 512];
	size_t blen = body ? strlen(body) : 0;
	int n;

	start_request(c);
	if (strlen(target) > 1024)
		return -ENAMETOOLONG;
	n = snprintf(head, sizeof(head), "%s %s HTTP/1.1\r\nHost: lodge\r\n%s", method, target,
		     extra ? extra : "");
	if (body)
		n += snprintf(head + n, sizeof(head) - (size_t)n,
			      "Content-Type: application/json\r\nContent-Length: %zu\r\n", blen);
	n += snprintf(head + n, sizeof(head) - (size_t)n, "\r\n");
	int r = send_all(c, head, (size_t)n);
	r = r ?: send_all(c, body, blen);
	/* A server that refuses a connection (403, 503) answers and closes before reading:
	 * its answer is still there to read. */
	return r == -EPIPE || r == -ECONNRESET ? 0 : r;
}

/* Reads the answer's head (skipping up to MAX_INTERIM 1xx interim answers other than
 * 101). */
static int read_head(struct api_client *c, struct http_response *h)
{
	struct http_error err;
	unsigned interim = 0;

	for (;;) {
		int r = http_response_parse(c->buf + c->off, c->len - c->off, h, &err);
		if (r < 0)
			return -EPROTO;
		if (r == 0) {
			ssize_t n = fill(c);
			if (n < 0)
				return n == -ENOBUFS ? -EPROTO : (int)n;
			if (n == 0)
				return -ECONNRESET;
			continue;
		}
		c->off += h->head_len;
		if (h->status >= 100 && h->status < 200 && h->status != 101) {
			if (++interim > MAX_INTERIM)
				return -EPROTO;
			continue;
		}
		break;
	}
	c->eof = false;
	if (h->status == 101 || h->status == 204 || h->status == 304)
		c->mode = BODY_NONE;
	else if (h->chunked)
		c->mode = BODY_CHUNKED;
	else if (h->has_length)
		c->mode = BODY_LENGTH;
	else
		c->mode = BODY_CLOSE;
	c->left = h->content_length;
	memset(&c->ch, 0, sizeof(c->ch));
	return 0;
}

ssize_t api_client_stream_read(struct api_client *c, void *buf, size_t cap)
{
	for (;;) {
		size_t avail = c->len - c->off;
		if (c->mode == BODY_NONE)
			return 0;
		if (avail) {
			size_t used = 0, got = 0;
			struct http_error err;
			if (c->mode == BODY_CHUNKED) {
				int r = http_chunked_decode(&c->ch, c->buf + c->off, avail, buf,
							    cap, &used, &got, &err);
				c->off += used;
				if (r < 0)
					return -EPROTO;
				if (r == 1)
					c->mode = BODY_NONE;
				if (got || r == 1)
					return (ssize_t)got;
				continue;
			}
			got = avail < cap ? avail : cap;
			if (c->mode == BODY_LENGTH && got > c->left)
				got = (size_t)c->left;
			memcpy(buf, c->buf + c->off, got);
			c->off += got;
			if (c->mode == BODY_LENGTH && !(c->left -= got))
				c->mode = BODY_NONE;
			return (ssize_t)got;
		}
		if (c->mode == BODY_LENGTH && !c->left) {
			c->mode = BODY_NONE;
			return 0;
		}
		ssize_t n = fill(c);
		if (n < 0)
			return n;
		if (n == 0) {
			if (c->mode == BODY_CLOSE) {
				c->mode = BODY_NONE;
				return 0;
			}
			return -ECONNRESET;
		}
	}
}

/* Reads the body after read_head. The head's strings point into the receive buffer,
 * which reading the body reuses: what is needed of them is taken first. */
static int read_body(struct api_client *c, struct api_result *r, const struct http_response *h)
{
	const char *type = http_response_header(h, "content-type");
	bool json = type && !strncasecmp(type, "application/json", 16);
	size_t cap = 0;

	for (;;) {
		uint8_t tmp[16384];
		ssize_t n = api_client_stream_read(c, tmp, sizeof(tmp));
		if (n < 0)
			return (int)n;
		if (n == 0)
			break;
		if (r->len + (size_t)n > API_CLIENT_MAX_BODY)
			return -E2BIG;
		if (r->len + (size_t)n + 1 > cap) {
			size_t ncap = cap ? cap * 2 : 4096;
			while (ncap < r->len + (size_t)n + 1)
				ncap *= 2;
			char *p = realloc(r->body, ncap);
			if (!p)
				return -ENOMEM;
			r->body = p;
			cap = ncap;
		}
		memcpy(r->body + r->len, tmp, (size_t)n);
		r->len += (size_t)n;
		r->body[r->len] = 0;
	}
	if (r->body && json)
		r->json = cJSON_ParseWithLength(r->body, r->len);
	return 0;
}

int api_client_call(struct api_client *c, const char *method, const char *target,
		    const char *json_body, struct api_result *r)
{
	struct http_response h;
	int e;

	memset(r, 0, sizeof(*r));
	e = send_request(c, method, target, json_body, NULL);
	e = e ?: read_head(c, &h);
	if (e)
		return e;
	r->status = h.status;
	return read_body(c, r, &h);
}

int api_client_send(struct api_client *c, const char *method, const char *target,
		    const char *json_body)
{
	return send_request(c, method, target, json_body, NULL);
}

int api_client_recv(struct api_client *c, int timeout_ms, struct api_result *r)
{
	struct http_response h;
	int e;

	memset(r, 0, sizeof(*r));
	c->deadline = deadline_in(timeout_ms);
	e = read_head(c, &h);
	if (e)
		return e;
	r->status = h.status;
	return read_body(c, r, &h);
}

int api_client_stream(struct api_client *c, const char *method, const char *target,
		      const char *json_body, struct api_result *r)
{
	struct http_response h;
	int e;

	memset(r, 0, sizeof(*r));
	e = send_request(c, method, target, json_body, NULL);
	e = e ?: read_head(c, &h);
	if (e)
		return e;
	r->status = h.status;
	if (h.status >= 200 && h.status < 300) {
		c->deadline = 0; /* a stream lasts: each wait for it has the timeout */
		return 0;
	}
	return read_body(c, r, &h);
}

int api_client_upgrade(struct api_client *c, const char *method, const char *target,
		       struct api_result *r)
{
	struct http_response h;
	int e;

	memset(r, 0, sizeof(*r));
	e = send_request(c, method, target, NULL, "Connection: Upgrade\r\nUpgrade: tcp\r\n");
	e = e ?: read_head(c, &h);
	if (e)
		return e;
	r->status = h.status;
	if (h.status == 101) {
		c->deadline = 0;
		return 0;
	}
	return read_body(c, r, &h);
}

size_t api_client_take_buffered(struct api_client *c, void *buf, size_t cap)
{
	size_t n = c->len - c->off;

	if (n > cap)
		n = cap;
	memcpy(buf, c->buf + c->off, n);
	c->off += n;
	return n;
}

void api_result_fini(struct api_result *r)
{
	free(r->body);
	cJSON_Delete(r->json);
	memset(r, 0, sizeof(*r));
}
