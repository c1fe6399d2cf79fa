/*
 * An HTTP/1.1 server on a unix stream socket, run by an event loop (core/evloop.h): the
 * daemon's REST API and each guest's control socket. It accepts connections, parses
 * requests (api/http.h, bounded), routes them (a table of METHOD + "/v1/guests/{name}"
 * patterns) and gives each to its handler, which answers through the api_reply_* calls
 * at once or later (the connection waits; requests on it are served in order). A handler
 * may also answer with a stream (chunked, until api_stream_end) or take the socket over
 * after a "101 Switching Protocols" (api_hijack: the raw byte stream of an interactive
 * console, as docker's attach does).
 *
 * Protections: a connection must send a whole request head within API_HEAD_TIMEOUT_MS and
 * is closed after API_IDLE_TIMEOUT_MS idle between requests; at most `max_conns`
 * connections; the peer's credentials (SO_PEERCRED) go through `authorize`. Every
 * malformed request gets a 4xx/5xx JSON answer {"error": CODE, "message": WHY} and the
 * connection is closed.
 *
 * Threading: everything runs on the loop's thread (handlers too); api_server_open and
 * api_server_close are called on that thread or before the loop runs.
 */
#ifndef LODGE_API_SERVER_H
#define LODGE_API_SERVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>

#include <cjson/cJSON.h>

#include "api/http.h"

struct evloop;
struct api_server;
struct api_conn;

#define API_MAX_PARAMS	    4
#define API_PARAM_MAX	    256 /* bytes of a decoded path parameter, NUL included */
#define API_HEAD_TIMEOUT_MS 10000
#define API_IDLE_TIMEOUT_MS 60000

/* Who is on the other end of a connection (SO_PEERCRED). */
struct api_peer {
	pid_t pid;
	uid_t uid;
	gid_t gid;
	/* its supplementary groups (SO_PEERGROUPS): set only while the server's authorize
	 * callback runs (NULL and 0 otherwise, and when the kernel does not say) */
	const gid_t *groups;
	unsigned ngroups;
};

struct api_request {
	const struct http_request *http;
	const char *params[API_MAX_PARAMS]; /* decoded "{...}" path segments, in order */
	unsigned nparams;
	const char *query; /* raw (still encoded) query string, "" when none */
	const uint8_t *body;
	size_t body_len;
	struct api_peer peer;
	void *ctx; /* api_server_config.ctx */
};

typedef void (*api_handler_fn)(struct api_conn *c, const struct api_request *req);

struct api_route {
	enum http_method method;
	const char *pattern; /* literal segments and "{name}" parameters */
	api_handler_fn fn;
};

struct api_server_config {
	const char *path;   /* socket path; an existing socket there is replaced */
	mode_t mode;	    /* e.g. 0660 */
	gid_t gid;	    /* group of the socket, or (gid_t)-1 to leave it */
	size_t max_body;    /* 0: HTTP_MAX_BODY */
	unsigned max_conns; /* 0: 256 */
	const struct api_route *routes;
	unsigned nroutes;
	void *ctx;
	/* Return true to serve this peer; NULL serves everyone who can open the socket. */
	bool (*authorize)(void *ctx, const struct api_peer *peer);
};

/* Binds and listens on cfg->path and serves it from `loop`. The route table and ctx must
 * outlive the server. Returns 0, or -errno from socket/bind/listen/chmod, or -ENAMETOOLONG
 * for a path that does not fit a sockaddr_un, or -ENOMEM. */
int api_server_open(struct evloop *loop, const struct api_server_config *cfg,
		    struct api_server **out) __attribute__((warn_unused_result));

/* Closes every connection (stream and close callbacks run), the listening socket, and
 * unlinks the socket path. NULL is a no-op. */
void api_server_close(struct api_server *s);

/* The number of open connections (tests, metrics). */
unsigned api_server_conns(const struct api_server *s);

/* ---- answering (loop thread) ---- */

/* Sends a whole response. `body` is copied. Returns 0 or -ENOMEM (the connection is then
 * closed). A connection answers each request exactly once. */
int api_reply(struct api_conn *c, int status, const char *content_type, const void *body,
	      size_t len);
/* JSON answer; takes ownership of `obj` (NULL: a 500 "out of memory" answer). */
int api_reply_json(struct api_conn *c, int status, cJSON *obj);
/* {"error": code, "message": formatted text} with `status`. */
int api_reply_error(struct api_conn *c, int status, const char *code, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

/* Starts a chunked response; further output goes through api_stream_write and ends with
 * api_stream_end (after which the connection serves its next request). */
int api_stream_start(struct api_conn *c, int status, const char *content_type);
int api_stream_write(struct api_conn *c, const void *data, size_t len);
void api_stream_end(struct api_conn *c);
/* Bytes queued but not yet written to the peer (a stream's producer waits while high). */
size_t api_conn_backlog(const struct api_conn *c);

/* Called once when the connection goes away (peer closed, error, server closed) while a
 * handler still holds it (a deferred answer or a stream). After it runs, `c` is invalid.
 * fn = NULL removes it. */
void api_conn_on_close(struct api_conn *c, void (*fn)(void *opaque), void *opaque);

/* Answers "101 Switching Protocols" (Upgrade: tcp) and hands the socket to the caller,
 * who owns and closes *fd from then on; bytes the peer sent after the request are copied
 * to extra (up to extracap) and their number stored in *extra_len. The connection object
 * is gone afterwards. Only for requests with req->http->upgrade. Returns 0 or -errno. */
int api_hijack(struct api_conn *c, int *fd, uint8_t *extra, size_t extracap, size_t *extra_len)
	__attribute__((warn_unused_result));

/* ---- routing (router.c) ---- */

struct api_match {
	const struct api_route *route;
	char params[API_MAX_PARAMS][API_PARAM_MAX];
	unsigned nparams;
	int status;	/* when route is NULL: 404, 405 or 400 (a malformed parameter) */
	bool too_long;	/* 400: a parameter longer than API_PARAM_MAX - 1 bytes */
	char allow[64]; /* 405: the methods the path has, "GET, DELETE" */
};

/* Finds the route for (method, raw path). Returns 0 with m->route set, or -1 with
 * m->status set. */
int api_route_match(const struct api_route *routes, unsigned n, enum http_method method,
		    const char *path, struct api_match *m);

#endif
