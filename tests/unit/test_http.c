/*
 * Unit tests for api/http.c (request parser, response parser, chunked decoding, targets)
 * and api/router.c: well-formed requests in every framing, fed whole and byte by byte,
 * and the malformed ones each refused with the right status.
 */
#include "api/http.h"
#include "api/server.h"

#include <stdlib.h>

#include "harness.h"

/* Parses `text` fed in pieces of `step` bytes (0: all at once). Returns the final result
 * and leaves the parser in *p; the buffer in *bufp (caller frees). */
static int feed(struct http_parser *p, const char *text, size_t step, uint8_t **bufp,
		size_t *consumed)
{
	size_t len = strlen(text), have = 0;
	uint8_t *buf = malloc(len + 1);
	int r = 0;

	http_parser_init(p, 64);
	*bufp = buf;
	if (!step)
		step = len;
	while (have < len) {
		size_t n = len - have < step ? len - have : step;
		memcpy(buf + have, text + have, n);
		have += n;
		r = http_request_parse(p, buf, have, consumed);
		if (r)
			return r;
	}
	return r;
}

static int status_of(const char *text)
{
	struct http_parser p;
	uint8_t *buf;
	size_t used;
	int r = feed(&p, text, 0, &buf, &used);

	free(buf);
	return r < 0 ? p.err.status : r;
}

static int test_simple_get(void)
{
	struct http_parser p;
	uint8_t *buf;
	size_t used = 0;
	const char *t = "GET /v1/guests?all=1 HTTP/1.1\r\nHost: x\r\nX-A:  b c \r\n\r\nNEXT";

	for (size_t step = 0; step < 4; step++) {
		CHECK_EQ(feed(&p, t, step, &buf, &used), 1);
		CHECK_EQ(p.req.method, HTTP_GET);
		CHECK(!strcmp(p.req.path, "/v1/guests"));
		CHECK(!strcmp(p.req.query, "all=1"));
		CHECK(!strcmp(http_header_get(&p.req, "x-a"), "b c"));
		CHECK(p.req.keep_alive);
		CHECK(!p.req.body);
		CHECK_EQ(used, strlen(t) - 4);
		free(buf);
	}
	return 0;
}

static int test_content_length(void)
{
	struct http_parser p;
	uint8_t *buf;
	size_t used;
	const char *t = "POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n"
			"Connection: close\r\n\r\nhelloGET";

	CHECK_EQ(feed(&p, t, 1, &buf, &used), 1);
	CHECK_EQ(p.req.body_len, 5);
	CHECK(!memcmp(p.req.body, "hello", 5));
	CHECK(!p.req.keep_alive);
	CHECK_EQ(used, strlen(t) - 3);
	free(buf);
	return 0;
}

static int test_chunked(void)
{
	struct http_parser p;
	uint8_t *buf;
	size_t used;
	const char *t = "PUT /a HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
			"3;ext=1\r\nabc\r\n A\r\n";
	const char *ok = "PUT /a HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: Chunked\r\n\r\n"
			 "3;ext=1\r\nabc\r\nA\r\n0123456789\r\n0\r\nTrailer: x\r\n\r\nZ";

	for (size_t step = 0; step < 3; step++) {
		CHECK_EQ(feed(&p, ok, step, &buf, &used), 1);
		CHECK_EQ(p.req.body_len, 13);
		CHECK(!memcmp(p.req.body, "abc0123456789", 13));
		CHECK_EQ(used, strlen(ok) - 1);
		free(buf);
	}
	CHECK_EQ(status_of(t), 400); /* whitespace before the chunk size */
	return 0;
}

static int test_limits(void)
{
	char *big = malloc(HTTP_MAX_HEAD + 64);
	int st;

	/* parser limit of 64 bytes (feed) */
	CHECK_EQ(status_of("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 65\r\n\r\n"), 413);
	CHECK_EQ(status_of("POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
			   "41\r\n"),
		 413);
	CHECK_EQ(status_of("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999999999999999"
			   "\r\n\r\n"),
		 400);
	strcpy(big, "GET / HTTP/1.1\r\nHost: x\r\nX: ");
	memset(big + strlen(big), 'a', HTTP_MAX_HEAD);
	big[HTTP_MAX_HEAD + 20] = 0;
	st = status_of(big);
	free(big);
	CHECK_EQ(st, 431);
	{
		char many[HTTP_MAX_HEADERS * 8 + 64];
		size_t n = (size_t)sprintf(many, "GET / HTTP/1.1\r\n");
		for (int i = 0; i <= HTTP_MAX_HEADERS; i++)
			n += (size_t)sprintf(many + n, "A%d: b\r\n", i);
		sprintf(many + n, "\r\n");
		CHECK_EQ(status_of(many), 431);
	}
	return 0;
}

static int test_malformed(void)
{
	static const struct {
		const char *text;
		int status;
	} cases[] = {
		{"GET / HTTP/1.1\nHost: x\r\n\r\n", 400},	       /* bare LF */
		{"GET / HTTP/1.1\r\nHost: x\rY: z\r\n\r\n", 400},      /* bare CR */
		{"GET  / HTTP/1.1\r\nHost: x\r\n\r\n", 400},	       /* two spaces */
		{"GET http://a/ HTTP/1.1\r\nHost: x\r\n\r\n", 400},    /* absolute form */
		{"GET / HTTP/2.0\r\nHost: x\r\n\r\n", 505},	       /* version */
		{"GET / HTTX/1.1\r\nHost: x\r\n\r\n", 400},	       /* version */
		{"GET / HTTP/1.1\r\n\r\n", 400},		       /* no Host */
		{"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400}, /* two Hosts */
		{"GET / HTTP/1.1\r\nHost : x\r\n\r\n", 400},	       /* space before colon */
		{"GET / HTTP/1.1\r\nHost: x\r\n folded\r\n\r\n", 400}, /* obs-fold */
		{"GET / HTTP/1.1\r\nHost: x\r\nNoColon\r\n\r\n", 400}, /* no colon */
		{"GET / HTTP/1.1\r\nHost: x\x01\r\n\r\n", 400},	       /* control byte */
		{"G\x01T / HTTP/1.1\r\nHost: x\r\n\r\n", 400},	       /* method token */
		{"GET /a b HTTP/1.1\r\nHost: x\r\n\r\n", 400},	       /* space in target */
		{"GET /#f HTTP/1.1\r\nHost: x\r\n\r\n", 400},	       /* fragment */
		{"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\n",
		 400},
		{"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n", 400},
		{"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nTransfer-Encoding: "
		 "chunked\r\n\r\n",
		 400},
		{"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\n", 501},
		{"POST / HTTP/1.1\r\nHost: x\r\nExpect: magic\r\n\r\n", 417},
		{"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", 400},
		{"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n1\r\naXY", 400},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int st = status_of(cases[i].text);
		if (st != cases[i].status) {
			snprintf(unit_why, sizeof(unit_why), "case %zu: status %d, expected %d", i,
				 st, cases[i].status);
			return 1;
		}
	}
	return 0;
}

static int test_http10_and_upgrade(void)
{
	struct http_parser p;
	uint8_t *buf;
	size_t used;

	CHECK_EQ(feed(&p, "GET / HTTP/1.0\r\n\r\n", 0, &buf, &used), 1);
	CHECK(!p.req.keep_alive);
	free(buf);
	CHECK_EQ(feed(&p, "GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", 0, &buf, &used), 1);
	CHECK(p.req.keep_alive);
	free(buf);
	CHECK_EQ(feed(&p,
		      "POST /c HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n\r\n",
		      0, &buf, &used),
		 1);
	CHECK(p.req.upgrade);
	free(buf);
	CHECK_EQ(feed(&p, "\r\n\r\nGET / HTTP/1.1\r\nHost: x\r\n\r\n", 1, &buf, &used), 1);
	CHECK_EQ(p.req.method, HTTP_GET);
	free(buf);
	CHECK_EQ(feed(&p, "BREW / HTTP/1.1\r\nHost: x\r\n\r\n", 0, &buf, &used), 1);
	CHECK_EQ(p.req.method, HTTP_OTHER);
	free(buf);
	return 0;
}

static int test_response(void)
{
	char text[] = "HTTP/1.1 404 Not Found\r\nContent-Type: application/json\r\n"
		      "Content-Length: 2\r\n\r\n{}";
	char chunked[] = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n";
	char bad[] = "HTTP/1.1 2x0 OK\r\n\r\n";
	struct http_response r;
	struct http_error e;
	size_t len = strlen(text);

	CHECK_EQ(http_response_parse((uint8_t *)text, len, &r, &e), 1);
	CHECK_EQ(r.status, 404);
	CHECK(r.has_length && r.content_length == 2);
	CHECK_EQ(r.head_len, len - 2);
	CHECK_EQ(http_response_parse((uint8_t *)chunked, strlen(chunked), &r, &e), 1);
	CHECK(r.chunked);
	CHECK_EQ(http_response_parse((uint8_t *)bad, strlen(bad), &r, &e), -1);
	CHECK_EQ(http_response_parse((uint8_t *)chunked, 10, &r, &e), 0);
	return 0;
}

static int test_chunked_decode(void)
{
	const char *in = "4\r\nWiki\r\n5;x\r\npedia\r\n0\r\nT: 1\r\n\r\n";
	struct http_chunked c;
	struct http_error e;
	uint8_t out[32];
	size_t used, got, total = 0;
	int r = 0;

	memset(&c, 0, sizeof(c));
	for (size_t i = 0; i < strlen(in) && r == 0; i += used) {
		r = http_chunked_decode(&c, (const uint8_t *)in + i, 1, out + total,
					sizeof(out) - total, &used, &got, &e);
		total += got;
		if (!used && r == 0)
			break;
	}
	CHECK_EQ(r, 1);
	CHECK_EQ(total, 9);
	CHECK(!memcmp(out, "Wikipedia", 9));
	memset(&c, 0, sizeof(c));
	CHECK_EQ(http_chunked_decode(&c, (const uint8_t *)"\r\n", 2, out, sizeof(out), &used, &got,
				     &e),
		 -1);
	memset(&c, 0, sizeof(c));
	CHECK_EQ(http_chunked_decode(&c, (const uint8_t *)"3\r\nabcX", 7, out, sizeof(out), &used,
				     &got, &e),
		 -1);
	return 0;
}

static int test_unescape_query(void)
{
	char out[16], k[16], v[16];
	const char *q = "follow=1&tail=a%20b&&x";

	CHECK_EQ(http_unescape("a%2Fb", 5, out, sizeof(out), false), 3);
	CHECK(!strcmp(out, "a/b"));
	CHECK_EQ(http_unescape("a%00", 4, out, sizeof(out), false), -1);
	CHECK_EQ(http_unescape("a%2", 3, out, sizeof(out), false), -1);
	CHECK_EQ(http_unescape("a%zz", 4, out, sizeof(out), false), -1);
	CHECK_EQ(http_unescape("0123456789abcdef", 16, out, sizeof(out), false), -2);
	CHECK_EQ(http_query_next(&q, k, sizeof(k), v, sizeof(v)), 1);
	CHECK(!strcmp(k, "follow") && !strcmp(v, "1"));
	CHECK_EQ(http_query_next(&q, k, sizeof(k), v, sizeof(v)), 1);
	CHECK(!strcmp(k, "tail") && !strcmp(v, "a b"));
	CHECK_EQ(http_query_next(&q, k, sizeof(k), v, sizeof(v)), 1);
	CHECK(!strcmp(k, "x") && !strcmp(v, ""));
	CHECK_EQ(http_query_next(&q, k, sizeof(k), v, sizeof(v)), 0);
	q = "=1";
	CHECK_EQ(http_query_next(&q, k, sizeof(k), v, sizeof(v)), -1);
	q = "k=0123456789abcdef";
	CHECK_EQ(http_query_next(&q, k, sizeof(k), v, sizeof(v)), -2); /* too long, not malformed */
	return 0;
}

static void h_dummy(struct api_conn *c, const struct api_request *r)
{
	(void)c;
	(void)r;
}

static int test_router(void)
{
	static const struct api_route routes[] = {
		{HTTP_GET, "/v1/guests", h_dummy},
		{HTTP_POST, "/v1/guests", h_dummy},
		{HTTP_GET, "/v1/guests/{name}", h_dummy},
		{HTTP_DELETE, "/v1/guests/{name}", h_dummy},
		{HTTP_POST, "/v1/guests/{name}/start", h_dummy},
	};
	struct api_match m;
	unsigned n = sizeof(routes) / sizeof(routes[0]);

	CHECK_EQ(api_route_match(routes, n, HTTP_POST, "/v1/guests", &m), 0);
	CHECK(m.route == &routes[1]);
	CHECK_EQ(api_route_match(routes, n, HTTP_GET, "/v1/guests/a%2Fb", &m), 0);
	CHECK(m.route == &routes[2] && !strcmp(m.params[0], "a/b"));
	CHECK_EQ(api_route_match(routes, n, HTTP_POST, "/v1/guests/x/start", &m), 0);
	CHECK(m.route == &routes[4] && !strcmp(m.params[0], "x"));
	CHECK_EQ(api_route_match(routes, n, HTTP_PUT, "/v1/guests/x", &m), -1);
	CHECK_EQ(m.status, 405);
	CHECK(!strcmp(m.allow, "GET, DELETE"));
	CHECK_EQ(api_route_match(routes, n, HTTP_GET, "/v1/guests/", &m), -1);
	CHECK_EQ(m.status, 404);
	CHECK_EQ(api_route_match(routes, n, HTTP_GET, "/v1/guests/x/", &m), -1);
	CHECK_EQ(m.status, 404);
	CHECK_EQ(api_route_match(routes, n, HTTP_GET, "/v1/guests/%zz", &m), -1);
	CHECK_EQ(m.status, 400);
	CHECK_EQ(api_route_match(routes, n, HTTP_GET, "/v1/guests/..", &m), 0);
	CHECK(!strcmp(m.params[0], ".."));
	return 0;
}

static const struct unit_test tests[] = {
	{"simple_get", test_simple_get},
	{"content_length", test_content_length},
	{"chunked", test_chunked},
	{"limits", test_limits},
	{"malformed", test_malformed},
	{"http10_and_upgrade", test_http10_and_upgrade},
	{"response", test_response},
	{"chunked_decode", test_chunked_decode},
	{"unescape_query", test_unescape_query},
	{"router", test_router},
};

UNIT_MAIN("http", tests)
