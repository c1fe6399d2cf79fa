/* TCP connections by "HOST:PORT" (live migration: snapshot/stream.c and the daemon's
 * hand-over in host/supervisor.c). */
#ifndef LODGE_CORE_TCP_H
#define LODGE_CORE_TCP_H

#include <stdbool.h>

struct addrinfo;

/* "HOST:PORT" (the last colon splits; [v6] brackets allowed; an empty HOST with
 * `passive` is every address) resolved for TCP. Returns 0 or -EINVAL; freeaddrinfo(*out). */
int tcp_resolve(const char *addr, bool passive, struct addrinfo **out)
	__attribute__((warn_unused_result));

/* A stream socket's options: send and receive time-outs of timeout_s, no Nagle delay. */
void tcp_stream_opts(int fd, int timeout_s);

/* Connects to "HOST:PORT" within connect_ms; the socket blocks, with tcp_stream_opts'
 * time-outs of timeout_s. Returns the fd (close-on-exec) or -errno (-EINVAL: not
 * HOST:PORT). */
int tcp_dial(const char *dest, int connect_ms, int timeout_s) __attribute__((warn_unused_result));

#endif
