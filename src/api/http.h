/*
 * HTTP/1.1 message syntax (RFC 9112) for Lodge's unix-socket APIs: a bounded, incremental
 * request parser, a response-head parser for the client side, a chunked-body decoder, and
 * helpers for targets (percent-decoding, query strings). No I/O and no allocation: the
 * parser works in place on the caller's buffer, NUL-terminating fields as it goes, so the
 * strings it returns point into that buffer.
 *
 * Strict on purpose (the input is untrusted): lines end in CRLF (a bare LF is an error),
 * no obsolete line folding, no whitespace before a header's colon, at most one
 * Content-Length and never with Transfer-Encoding, only the "chunked" coding, origin-form
 * targets only, Host required on HTTP/1.1. Every failure carries the status to answer and
 * a one-line reason.
 */
#ifndef LODGE_API_HTTP_H
#define LODGE_API_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define HTTP_MAX_HEADERS    64
#define HTTP_MAX_HEAD	    16384      /* request line and headers, CRLFs included */
#define HTTP_MAX_BODY	    (1u << 20) /* default body limit */
#define HTTP_MAX_CHUNK_LINE 256	       /* chunk-size line, extensions included */
#define HTTP_MAX_TRAILER    4096       /* trailer section after the last chunk */

enum http_method {
	HTTP_OTHER = 0, /* a syntactically valid method we do not serve: 501 */
	HTTP_GET,
	HTTP_HEAD,
	HTTP_POST,
	HTTP_PUT,
	HTTP_PATCH,
	HTTP_DELETE,
};

struct http_header {
	const char *name;  /* as sent; compare with strcasecmp */
	const char *value; /* surrounding whitespace removed */
};

struct http_request {
	enum http_method method;
	const char *method_name;
	const char *path;  /* raw path (no query), still encoded */
	const char *query; /* raw query after '?', or "" */
	unsigned minor;	   /* HTTP/1.minor */
	struct http_header headers[HTTP_MAX_HEADERS];
	unsigned nheaders;
	bool keep_alive;      /* the connection may carry another request */
	bool upgrade;	      /* "Connection: upgrade" with "Upgrade: tcp" */
	bool expect_continue; /* "Expect: 100-continue" */
	uint8_t *body;	      /* the decoded body (not NUL-terminated), or NULL */
	size_t body_len;
};

/* Where a failed parse leaves the caller: answer `status` with `reason`, then close. */
struct http_error {
	int status;	  /* 400, 413, 414, 417, 431, 501 or 505 */
	char reason[160]; /* "header line 3: no colon" */
};

enum http_parse_state {
	HTTP_PS_HEAD = 0,
	HTTP_PS_BODY,	    /* Content-Length body */
	HTTP_PS_CHUNK_SIZE, /* chunked body: at a chunk-size line */
	HTTP_PS_CHUNK_DATA,
	HTTP_PS_CHUNK_CRLF, /* the CRLF after a chunk's data */
	HTTP_PS_TRAILER,    /* after the last chunk, until an empty line */
	HTTP_PS_DONE,
	HTTP_PS_ERROR,
};

/* Internal to the parser: where the head's fields are, as offsets, while the caller's
 * buffer may still move. */
struct http_head_offsets {
	size_t method, path, query;
	size_t name[HTTP_MAX_HEADERS], value[HTTP_MAX_HEADERS];
};

/* An incremental request parser. The caller keeps every byte received so far in one
 * buffer (buf[0..len)) and calls http_request_parse() after each read; the parser
 * remembers how far it got, so no byte is examined twice. */
struct http_parser {
	enum http_parse_state state;
	size_t max_body;   /* 0: HTTP_MAX_BODY */
	size_t scan;	   /* where the search for the end of the head resumes */
	size_t head_len;   /* bytes of request line + headers + the empty line */
	size_t body_start; /* == head_len */
	size_t content_length;
	size_t rd;	   /* chunked: next raw byte to decode */
	size_t wr;	   /* chunked: end of the decoded body */
	size_t chunk_left; /* chunked: data bytes left in the current chunk */
	size_t trailer;	   /* chunked: trailer bytes seen */
	struct http_head_offsets off;
	struct http_request req;
	struct http_error err;
};

/* Resets the parser for a new request with the given body limit (0: HTTP_MAX_BODY). */
void http_parser_init(struct http_parser *p, size_t max_body);

/* Parses buf[0..len), which must start with the request and may hold more (pipelined
 * requests). Modifies the buffer in place (NULs, decoded chunked body). Returns:
 *   1   a whole request: p->req is filled, and *consumed (when non-NULL) is how many bytes
 *       of buf it took; the rest belongs to the next request;
 *   0   more bytes are needed (the head is not complete, or the body is short);
 *  -1   a malformed or unacceptable request: p->err says what to answer. The connection
 *       must be closed after the answer, since the stream cannot be resynchronised.
 * After 1 or -1 the parser stays in that state until http_parser_init. Any thread (the
 * parser is the caller's). `len` must not shrink between calls. */
int http_request_parse(struct http_parser *p, uint8_t *buf, size_t len, size_t *consumed)
	__attribute__((warn_unused_result));

/* The header's value (case-insensitive name), or NULL. */
const char *http_header_get(const struct http_request *req, const char *name);

/* ---- responses (client side) ---- */

struct http_response {
	int status;
	unsigned minor;
	const char *reason;
	struct http_header headers[HTTP_MAX_HEADERS];
	unsigned nheaders;
	bool chunked;
	bool has_length;
	uint64_t content_length;
	bool close; /* "Connection: close" */
	size_t head_len;
};

/* Parses a response head in buf[0..len) (in place). Returns 1 with *r filled, 0 if more
 * bytes are needed, -1 if malformed (reason in err). */
int http_response_parse(uint8_t *buf, size_t len, struct http_response *r, struct http_error *err)
	__attribute__((warn_unused_result));

const char *http_response_header(const struct http_response *r, const char *name);

/* ---- chunked decoding (client side, streaming) ---- */

struct http_chunked {
	enum { HTTP_CH_SIZE, HTTP_CH_DATA, HTTP_CH_CRLF, HTTP_CH_TRAILER, HTTP_CH_DONE } state;
	uint64_t left;	/* data bytes left in the current chunk */
	size_t linelen; /* bytes of the current size/trailer line seen */
	uint64_t size;	/* size being parsed */
	bool in_ext;	/* after ';' in a size line */
	int cr;		/* previous byte was CR */
	bool line_empty;
};

/* Decodes in[0..len): copies chunk data to out (at most outcap bytes). Sets *used to the
 * input bytes taken and *produced to the data bytes written. Returns 1 after the last
 * chunk and trailer, 0 to continue, -1 on malformed input (reason in err). */
int http_chunked_decode(struct http_chunked *c, const uint8_t *in, size_t len, uint8_t *out,
			size_t outcap, size_t *used, size_t *produced, struct http_error *err)
	__attribute__((warn_unused_result));

/* ---- targets ---- */

/* Percent-decodes src[0..len) into out (NUL-terminated, at most outcap bytes with the NUL).
 * Rejects malformed escapes and %00. Returns the decoded length, -1 for a malformed
 * escape, or -2 when the decoded text does not fit in outcap. `plus_space`
 * turns '+' into ' ' (query strings). */
long http_unescape(const char *src, size_t len, char *out, size_t outcap, bool plus_space);

/* Iterates over "k=v&k2=v2": on each call decodes the next pair into key/val and advances
 * *q. Returns 1 for a pair, 0 at the end, -1 for a malformed pair, -2 for a key or value
 * that does not fit. */
int http_query_next(const char **q, char *key, size_t keycap, char *val, size_t valcap);

/* The reason phrase of a status code ("Not Found"), "" for unknown codes. */
const char *http_status_text(int status);

#endif
