/*
 * A blocking HTTP/1.1 client for unix sockets: the CLI talking to the daemon, and the
 * daemon talking to each guest's control socket. One request at a time on a kept-alive
 * connection; whole answers (api_client_call), streamed answers (chunked or until close:
 * logs, events), and upgraded connections that become a raw byte stream (console).
 * Answers are treated as untrusted (a guest process answers the daemon): bounded head
 * and body, strict framing. One thread per client object.
 */
#ifndef LODGE_API_CLIENT_H
#define LODGE_API_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>
#include <sys/un.h>

#include <cjson/cJSON.h>

#define API_CLIENT_MAX_BODY (64u << 20)

struct api_client;

/* The address of the unix socket at `path`. A path too long for sun_path is reached
 * through its directory: *dirfd_out is then an O_PATH descriptor of it, and the address
 * /proc/self/fd/N/NAME, valid while it stays open (the caller closes it after its
 * connect or bind); else -1. Returns 0, -ENAMETOOLONG or open's -errno. */
int api_unix_addr(const char *path, struct sockaddr_un *sa, int *dirfd_out)
	__attribute__((warn_unused_result));

struct api_result {
	int status;
	char *body; /* NUL-terminated (malloc'd), or NULL when empty */
	size_t len;
	cJSON *json; /* parsed body when it is JSON, else NULL */
};

/* Connects to the socket at `path` (one longer than sun_path is reached through its
 * directory: see api_unix_addr). timeout_ms bounds each request, from its start to the
 * end of its answer (the first request's from the connect): a whole answer
 * (api_client_call), or the head of a stream or an upgrade, after which each wait for
 * more has timeout_ms (-1: no bound). Returns 0, or -errno from socket/connect (-ENOENT:
 * no socket there; -ECONNREFUSED: nobody listens; -EACCES: no permission; -ETIMEDOUT:
 * its backlog stayed full), -ENAMETOOLONG, -ENOMEM. */
int api_client_open(const char *path, int timeout_ms, struct api_client **out)
	__attribute__((warn_unused_result));
void api_client_close(struct api_client *c);

/* Sends METHOD target with an optional JSON body and reads the whole answer. Returns 0
 * (any HTTP status: see r->status), -ETIMEDOUT, -EPIPE/-ECONNRESET (the peer went away),
 * -EPROTO (a malformed answer, or more than a few 1xx interim answers), -E2BIG (a body
 * over API_CLIENT_MAX_BODY) or -ENOMEM. */
int api_client_call(struct api_client *c, const char *method, const char *target,
		    const char *json_body, struct api_result *r)
	__attribute__((warn_unused_result));
void api_result_fini(struct api_result *r);

/* api_client_call in two halves, for a caller that waits for the answer in its own event
 * loop (the daemon during a guest's snapshot): api_client_send sends the request (0 or
 * the errors of api_client_call); once the socket is readable, api_client_recv reads the
 * whole answer, waiting at most timeout_ms for the rest of it. */
int api_client_send(struct api_client *c, const char *method, const char *target,
		    const char *json_body) __attribute__((warn_unused_result));
int api_client_recv(struct api_client *c, int timeout_ms, struct api_result *r)
	__attribute__((warn_unused_result));

/* Sends the request and reads the answer's head. For a 2xx answer the body is then read
 * with api_client_stream_read; for any other the whole body is read into r (as
 * api_client_call). Returns 0 or the errors of api_client_call. */
int api_client_stream(struct api_client *c, const char *method, const char *target,
		      const char *json_body, struct api_result *r)
	__attribute__((warn_unused_result));

/* The next bytes of a streamed body: > 0 bytes, 0 at its end, or -errno. */
ssize_t api_client_stream_read(struct api_client *c, void *buf, size_t cap);

/* The socket, for poll() between stream reads (data may also be buffered: see
 * api_client_buffered). */
int api_client_fd(const struct api_client *c);
size_t api_client_buffered(const struct api_client *c);

/* Asks for an upgrade to a raw stream (Connection: Upgrade, Upgrade: tcp). On "101
 * Switching Protocols" returns 0 with r->status 101: from then on the socket carries raw
 * bytes both ways (api_client_raw_read, or the fd, after draining api_client_raw_read's
 * buffered bytes). Any other answer is read into r. */
int api_client_upgrade(struct api_client *c, const char *method, const char *target,
		       struct api_result *r) __attribute__((warn_unused_result));

/* After an upgrade: takes bytes buffered beyond the 101 answer (at most cap); returns how
 * many. */
size_t api_client_take_buffered(struct api_client *c, void *buf, size_t cap);

#endif
