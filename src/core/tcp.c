/* TCP connections by "HOST:PORT": see tcp.h. */
#include "core/tcp.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

int tcp_resolve(const char *addr, bool passive, struct addrinfo **out)
{
	char host[256];
	const char *colon = strrchr(addr, ':');
	struct addrinfo hints = {.ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICSERV};
	size_t n;

	if (!colon || !colon[1] || (size_t)(colon - addr) >= sizeof(host))
		return -EINVAL;
	/* a port is 1..65535 in decimal: getaddrinfo takes 99999 as 34463 (modulo 65536), and
	 * 0 would listen on a port nobody is told */
	unsigned long port = 0;
	for (const char *c = colon + 1; *c; c++) {
		if (*c < '0' || *c > '9' || port > 65535)
			return -EINVAL;
		port = port * 10 + (unsigned long)(*c - '0');
	}
	if (port < 1 || port > 65535)
		return -EINVAL;
	n = (size_t)(colon - addr);
	if (n >= 2 && addr[0] == '[' && addr[n - 1] == ']') {
		memcpy(host, addr + 1, n - 2);
		host[n - 2] = 0;
	} else {
		memcpy(host, addr, n);
		host[n] = 0;
	}
	if (passive)
		hints.ai_flags |= AI_PASSIVE;
	return getaddrinfo(host[0] ? host : NULL, colon + 1, &hints, out) ? -EINVAL : 0;
}

void tcp_stream_opts(int fd, int timeout_s)
{
	struct timeval tv = {.tv_sec = timeout_s};
	int one = 1;

	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
}

int tcp_dial(const char *dest, int connect_ms, int timeout_s)
{
	struct addrinfo *ai, *a;
	int fd = -1, r = tcp_resolve(dest, false, &ai);

	if (r)
		return r;
	r = -ECONNREFUSED;
	for (a = ai; a && fd < 0; a = a->ai_next) {
		struct pollfd p;
		int e = 0;
		socklen_t el = sizeof(e);
		fd = socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK,
			    a->ai_protocol);
		if (fd < 0) {
			r = -errno;
			continue;
		}
		if (connect(fd, a->ai_addr, a->ai_addrlen) < 0 && errno != EINPROGRESS) {
			e = errno;
		} else {
			p = (struct pollfd){.fd = fd, .events = POLLOUT};
			if (poll(&p, 1, connect_ms) != 1)
				e = ETIMEDOUT;
			else if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &e, &el) < 0)
				e = errno;
		}
		r = -e;
		if (r || fcntl(fd, F_SETFL, 0) < 0) { /* blocking, with time-outs */
			r = r ?: -errno;
			close(fd);
			fd = -1;
		}
	}
	freeaddrinfo(ai);
	if (fd < 0)
		return r;
	tcp_stream_opts(fd, timeout_s);
	return fd;
}
