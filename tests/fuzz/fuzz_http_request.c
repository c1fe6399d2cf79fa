/*
 * libFuzzer target for everything the daemon parses from an API client before a handler
 * runs: the HTTP/1.1 request parser (fed in pieces whose sizes come from the input, with
 * pipelined requests parsed one after another), the router and query-string decoder on
 * each parsed path, and the JSON schema check on each body. The same input also goes
 * through the client-side response parser and chunked decoder, which read what guest
 * processes answer. Nothing may crash, hang or read out of bounds; results are checked
 * for internal consistency (a parsed request never claims more bytes than it was given).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "api/http.h"
#include "api/json.h"
#include "api/server.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void h_none(struct api_conn *c, const struct api_request *r)
{
	(void)c;
	(void)r;
}

static const struct api_route routes[] = {
	{HTTP_GET, "/v1/guests", h_none},
	{HTTP_POST, "/v1/guests", h_none},
	{HTTP_GET, "/v1/guests/{name}", h_none},
	{HTTP_DELETE, "/v1/guests/{name}", h_none},
	{HTTP_POST, "/v1/guests/{name}/{action}", h_none},
	{HTTP_GET, "/v1/guests/{name}/logs", h_none},
};

static const struct json_field lim_fields[] = {
	{"cpus", JSON_UINT, false, NULL},
	{"cpu_quota", JSON_NUMBER, false, NULL},
};
static const struct json_schema lim_schema = {lim_fields, 2};
static const struct json_field fields[] = {
	{"name", JSON_STRING, true, NULL},
	{"args", JSON_STRING_ARRAY, false, NULL},
	{"limits", JSON_OBJECT, false, &lim_schema},
	{"disks", JSON_OBJECT_ARRAY, false, &lim_schema},
	{"tty", JSON_BOOL, false, NULL},
};
static const struct json_schema schema = {fields, 5};

static void use_request(const struct http_request *req)
{
	struct api_match m;
	const char *q = req->query;
	char k[64], v[256];
	char err[200];
	cJSON *obj;

	if (api_route_match(routes, sizeof(routes) / sizeof(routes[0]), req->method, req->path,
			    &m) == 0 &&
	    m.nparams > API_MAX_PARAMS)
		abort();
	for (int i = 0; i < 64 && http_query_next(&q, k, sizeof(k), v, sizeof(v)) == 1; i++)
		;
	if (json_parse_object(req->body, req->body_len, &schema, &obj, err, sizeof(err)) == 0)
		cJSON_Delete(obj);
}

/* Requests, pipelined, fed in steps of 1..16 bytes chosen by the input's first byte. */
static void requests(const uint8_t *data, size_t size)
{
	size_t step = size ? (size_t)(data[0] & 15) + 1 : 1, have = 0, off = 0;
	uint8_t *buf = malloc(size + 1);
	struct http_parser p;

	if (!buf)
		return;
	memcpy(buf, data, size);
	http_parser_init(&p, 4096);
	while (off < size) {
		size_t used = 0;
		int r;
		have = have + step > size - off ? size - off : have + step;
		r = http_request_parse(&p, buf + off, have, &used);
		if (r < 0)
			break;
		if (r == 0) {
			if (have == size - off)
				break;
			continue;
		}
		if (used == 0 || used > have || p.req.body_len > 4096)
			abort();
		use_request(&p.req);
		off += used;
		have = 0;
		http_parser_init(&p, 4096);
	}
	free(buf);
}

static void responses(const uint8_t *data, size_t size)
{
	uint8_t *buf = malloc(size + 1), out[512];
	struct http_response r;
	struct http_error e;
	struct http_chunked ch;

	if (!buf)
		return;
	memcpy(buf, data, size);
	if (http_response_parse(buf, size, &r, &e) == 1) {
		size_t off = r.head_len;
		if (off > size)
			abort();
		memset(&ch, 0, sizeof(ch));
		while (off < size) {
			size_t used = 0, got = 0;
			int k = http_chunked_decode(&ch, buf + off, size - off, out, sizeof(out),
						    &used, &got, &e);
			if (got > sizeof(out) || used > size - off)
				abort();
			if (k != 0 || (!used && !got))
				break;
			off += used;
		}
	}
	free(buf);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	requests(data, size);
	responses(data, size);
	return 0;
}
