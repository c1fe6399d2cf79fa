/*
 * Unit tests for core/tcp.c: what tcp_resolve takes as HOST:PORT. A port is 1..65535 in
 * decimal (getaddrinfo took 99999 as 34463, and 0 as "any port", which nobody was told).
 */
#include "core/tcp.h"

#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>

#include "harness.h"

static int port_of(const char *addr, bool passive)
{
	struct addrinfo *ai;
	int port;

	if (tcp_resolve(addr, passive, &ai))
		return -1;
	port = ntohs(((struct sockaddr_in *)(void *)ai->ai_addr)->sin_port);
	freeaddrinfo(ai);
	return port;
}

static int test_ports(void)
{
	CHECK_EQ(port_of("127.0.0.1:1", false), 1);
	CHECK_EQ(port_of("127.0.0.1:65535", false), 65535);
	CHECK_EQ(port_of(":4444", true), 4444);
	CHECK_EQ(port_of("127.0.0.1:0", true), -1);
	CHECK_EQ(port_of("127.0.0.1:65536", false), -1);
	CHECK_EQ(port_of("127.0.0.1:99999", false), -1);
	CHECK_EQ(port_of("127.0.0.1:99999999999999999999", false), -1);
	CHECK_EQ(port_of("127.0.0.1:-1", false), -1);
	CHECK_EQ(port_of("127.0.0.1:4x", false), -1);
	CHECK_EQ(port_of("127.0.0.1:", false), -1);
	CHECK_EQ(port_of("127.0.0.1", false), -1);
	return 0;
}

static const struct unit_test tests[] = {
	{"ports", test_ports},
};

UNIT_MAIN("tcp", tests)
