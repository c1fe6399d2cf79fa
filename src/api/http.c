/*
 * HTTP/1.1 message parsing (see http.h). The request parser finds the end of the head
 * first (scanning each byte once across calls), then validates and splits the head in
 * place, then collects the body: Content-Length bytes, or chunks decoded in place (each
 * chunk's data is moved down to follow the previous one, so the decoded body is one
 * contiguous run that starts where the head ended). Positions are kept as offsets until
 * the request is complete, so the caller may grow (move) its buffer between calls.
 */
#include "api/http.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#define ERR(p_, status_, ...)                                                                      \
	(set_error(&(p_)->err, status_),                                                           \
	 snprintf((p_)->err.reason, sizeof((p_)->err.reason), __VA_ARGS__),                        \
	 (p_)->state = HTTP_PS_ERROR, -1)

static void set_error(struct http_error *e, int status)
{
	e->status = status;
	e->reason[0] = 0;
}

/* RFC 9110 token characters. */
static bool is_tchar(uint8_t c)
{
	if (c >= '0' && c <= '9')
		return true;
	if ((c | 0x20) >= 'a' && (c | 0x20) <= 'z')
		return true;
	return c != 0 && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

/* Field-value characters: VCHAR, obs-text, SP, HTAB. */
static bool is_vchar_ws(uint8_t c)
{
	return c == '\t' || (c >= 0x20 && c != 0x7f);
}

static bool is_ows(uint8_t c)
{
	return c == ' ' || c == '\t';
}

void http_parser_init(struct http_parser *p, size_t max_body)
{
	memset(p, 0, sizeof(*p));
	p->max_body = max_body ? max_body : HTTP_MAX_BODY;
}

const char *http_header_get(const struct http_request *req, const char *name)
{
	for (unsigned i = 0; i < req->nheaders; i++)
		if (!strcasecmp(req->headers[i].name, name))
			return req->headers[i].value;
	return NULL;
}

/* True if the comma-separated list `v` holds `token` (case-insensitive). */
static bool list_has(const char *v, const char *token)
{
	size_t n = strlen(token);

	while (*v) {
		while (*v == ' ' || *v == '\t' || *v == ',')
			v++;
		if (!strncasecmp(v, token, n)) {
			const char *e = v + n;
			while (*e == ' ' || *e == '\t')
				e++;
			if (*e == 0 || *e == ',')
				return true;
		}
		while (*v && *v != ',')
			v++;
	}
	return false;
}

/* Finds the end of the head: an empty line. Leading empty lines (RFC 9112 2.2) are
 * allowed. Returns 1 when found (p->head_len set), 0 for more, -1 on error. */
static int find_head_end(struct http_parser *p, const uint8_t *buf, size_t len)
{
	size_t i = p->scan;

	for (; i < len && i < HTTP_MAX_HEAD; i++) {
		if (buf[i] != '\n')
			continue;
		if (i == 0 || buf[i - 1] != '\r')
			return ERR(p, 400, "line %s ends in a bare LF (lines end in CRLF)",
				   i == 0 ? "1" : "of the request head");
		/* An empty line: CRLF right after the previous line's LF, or at the start. */
		if (i == 1 || (i >= 3 && buf[i - 2] == '\n')) {
			p->head_len = i + 1;
			p->scan = i + 1;
			return 1;
		}
	}
	p->scan = i;
	if (i >= HTTP_MAX_HEAD)
		return ERR(p, 431, "request head larger than %d bytes", HTTP_MAX_HEAD);
	return 0;
}

static enum http_method method_of(const char *m)
{
	static const struct {
		const char *name;
		enum http_method m;
	} tab[] = {{"GET", HTTP_GET}, {"HEAD", HTTP_HEAD},   {"POST", HTTP_POST},
		   {"PUT", HTTP_PUT}, {"PATCH", HTTP_PATCH}, {"DELETE", HTTP_DELETE}};

	for (size_t i = 0; i < sizeof(tab) / sizeof(tab[0]); i++)
		if (!strcmp(m, tab[i].name))
			return tab[i].m;
	return HTTP_OTHER;
}

/* Splits and checks the request line buf[s..e) (e at the CR). */
static int parse_request_line(struct http_parser *p, uint8_t *buf, size_t s, size_t e,
			      struct http_head_offsets *o)
{
	size_t i = s, t;

	while (i < e && is_tchar(buf[i]))
		i++;
	if (i == s || i == e || buf[i] != ' ')
		return ERR(p, 400, "malformed request line: expected METHOD SP TARGET SP VERSION");
	buf[i] = 0;
	o->method = s;
	t = ++i;
	while (i < e && buf[i] > 0x20 && buf[i] < 0x7f && buf[i] != '#')
		i++;
	if (i == t || i == e || buf[i] != ' ')
		return ERR(p, 400, "malformed request target (visible ASCII without '#', then SP)");
	if (buf[t] != '/')
		return ERR(p, 400, "request target must start with '/' (origin form)");
	if (i - t > 4096)
		return ERR(p, 414, "request target longer than 4096 bytes");
	buf[i] = 0;
	o->path = t;
	o->query = i; /* the NUL: an empty query */
	for (size_t q = t; q < i; q++)
		if (buf[q] == '?') {
			buf[q] = 0;
			o->query = q + 1;
			break;
		}
	i++;
	if (e - i != 8 || memcmp(buf + i, "HTTP/", 5) || buf[i + 6] != '.' || buf[i + 5] < '0' ||
	    buf[i + 5] > '9' || buf[i + 7] < '0' || buf[i + 7] > '9')
		return ERR(p, 400, "malformed HTTP version (expected HTTP/1.1)");
	if (buf[i + 5] != '1')
		return ERR(p, 505, "HTTP/%c.%c is not supported (use HTTP/1.1)", buf[i + 5],
			   buf[i + 7]);
	p->req.minor = (unsigned)(buf[i + 7] - '0');
	return 0;
}

/* Splits and checks one header line buf[s..e) (e at the CR). */
static int parse_header_line(struct http_parser *p, uint8_t *buf, size_t s, size_t e,
			     struct http_head_offsets *o, unsigned lineno)
{
	size_t i = s, vs, ve;
	unsigned n = p->req.nheaders;

	if (is_ows(buf[s]))
		return ERR(p, 400, "header line %u: folded lines are not allowed", lineno);
	while (i < e && is_tchar(buf[i]))
		i++;
	if (i == s || i == e || buf[i] != ':')
		return ERR(p, 400, "header line %u: expected NAME: VALUE", lineno);
	if (n == HTTP_MAX_HEADERS)
		return ERR(p, 431, "more than %d header fields", HTTP_MAX_HEADERS);
	buf[i] = 0;
	vs = i + 1;
	while (vs < e && is_ows(buf[vs]))
		vs++;
	ve = e;
	while (ve > vs && is_ows(buf[ve - 1]))
		ve--;
	for (size_t k = vs; k < ve; k++)
		if (!is_vchar_ws(buf[k]))
			return ERR(p, 400, "header line %u: control character in the value",
				   lineno);
	buf[ve] = 0;
	o->name[n] = s;
	o->value[n] = vs;
	p->req.nheaders = n + 1;
	return 0;
}

/* Points the request's strings into buf (after the buffer may have moved). */
static void fix_pointers(struct http_parser *p, uint8_t *buf, const struct http_head_offsets *o)
{
	struct http_request *r = &p->req;

	r->method_name = (const char *)buf + o->method;
	r->path = (const char *)buf + o->path;
	r->query = (const char *)buf + o->query;
	for (unsigned i = 0; i < r->nheaders; i++) {
		r->headers[i].name = (const char *)buf + o->name[i];
		r->headers[i].value = (const char *)buf + o->value[i];
	}
}

/* Parses a decimal Content-Length; returns -1 unless it is all digits and fits. */
static int parse_length(const char *v, size_t *out)
{
	uint64_t n = 0;

	if (!*v)
		return -1;
	for (; *v; v++) {
		if (*v < '0' || *v > '9' || n > (UINT64_MAX - 9) / 10)
			return -1;
		n = n * 10 + (uint64_t)(*v - '0');
	}
	if (n > SIZE_MAX)
		return -1;
	*out = (size_t)n;
	return 0;
}

/* The framing and connection headers, once the head is split. */
static int check_headers(struct http_parser *p)
{
	struct http_request *r = &p->req;
	const char *cl = NULL, *te = NULL, *conn = NULL, *upg = NULL;
	unsigned hosts = 0;

	for (unsigned i = 0; i < r->nheaders; i++) {
		const char *n = r->headers[i].name, *v = r->headers[i].value;
		if (!strcasecmp(n, "content-length")) {
			if (cl)
				return ERR(p, 400, "more than one Content-Length");
			cl = v;
		} else if (!strcasecmp(n, "transfer-encoding")) {
			if (te)
				return ERR(p, 400, "more than one Transfer-Encoding");
			te = v;
		} else if (!strcasecmp(n, "connection")) {
			conn = v;
		} else if (!strcasecmp(n, "upgrade")) {
			upg = v;
		} else if (!strcasecmp(n, "host")) {
			hosts++;
		} else if (!strcasecmp(n, "expect")) {
			if (strcasecmp(v, "100-continue"))
				return ERR(p, 417, "Expect: only 100-continue is supported");
			r->expect_continue = true;
		}
	}
	if (r->minor >= 1 && hosts != 1)
		return ERR(p, 400, "HTTP/1.1 needs exactly one Host header");
	if (cl && te)
		return ERR(p, 400, "both Content-Length and Transfer-Encoding");
	if (te && strcasecmp(te, "chunked"))
		return ERR(p, 501, "Transfer-Encoding '%.40s' is not supported (only chunked)", te);
	if (cl) {
		if (parse_length(cl, &p->content_length))
			return ERR(p, 400, "Content-Length is not a decimal number");
		if (p->content_length > p->max_body)
			return ERR(p, 413, "body of %zu bytes is larger than the limit of %zu",
				   p->content_length, p->max_body);
	}
	r->keep_alive = r->minor >= 1 ? !(conn && list_has(conn, "close"))
				      : (conn && list_has(conn, "keep-alive"));
	/* the one protocol Lodge switches to is a raw byte stream: Upgrade: tcp */
	r->upgrade = conn && upg && list_has(conn, "upgrade") && list_has(upg, "tcp");
	p->state = te ? HTTP_PS_CHUNK_SIZE : HTTP_PS_BODY;
	if (!te && !cl)
		p->content_length = 0;
	return 0;
}

/* Validates and splits the head buf[0..head_len). */
static int parse_head(struct http_parser *p, uint8_t *buf, struct http_head_offsets *o)
{
	size_t s = 0, e;
	unsigned lineno = 1;
	bool first = true;

	while (s + 1 < p->head_len) {
		e = s;
		while (buf[e] != '\r')
			e++; /* find_head_end saw a CRLF at the end of every line */
		if (e == s && !first)
			break; /* the empty line that ends the head */
		if (e == s) {
			s = e + 2; /* an empty line before the request line */
			continue;
		}
		if (memchr(buf + s, 0, e - s))
			return ERR(p, 400, "NUL byte in line %u", lineno);
		if (memchr(buf + s, '\r', e - s) || (e + 1 < p->head_len && buf[e + 1] != '\n'))
			return ERR(p, 400, "bare CR in line %u", lineno);
		if (first ? parse_request_line(p, buf, s, e, o)
			  : parse_header_line(p, buf, s, e, o, lineno))
			return -1;
		first = false;
		lineno++;
		s = e + 2;
	}
	if (first)
		return 0; /* only empty lines so far: keep reading (bounded by HTTP_MAX_HEAD) */
	p->req.method = method_of((const char *)buf + o->method);
	fix_pointers(p, buf, o); /* valid for now: the buffer does not move during this call */
	return check_headers(p);
}

/* Reads a line starting at buf[*pos] that ends in CRLF within `max` bytes. Returns the
 * line length (without CRLF) and advances *pos past it, 0..: ok; -2: incomplete; -1: bad. */
static long take_line(const uint8_t *buf, size_t len, size_t *pos, size_t max)
{
	size_t i = *pos;

	while (i < len && buf[i] != '\n' && i - *pos <= max)
		i++;
	if (i - *pos > max)
		return -1;
	if (i == len)
		return -2;
	if (i == *pos || buf[i - 1] != '\r')
		return -1;
	long n = (long)(i - 1 - *pos);
	*pos = i + 1;
	return n;
}

static int hexval(uint8_t c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c |= 0x20;
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/* chunk-size [ ";" ext ] : returns 0 and the size, or -1. */
static int chunk_size(const uint8_t *s, size_t n, uint64_t *out)
{
	uint64_t v = 0;
	size_t i = 0;

	for (; i < n && hexval(s[i]) >= 0; i++) {
		if (v >> 60)
			return -1;
		v = v << 4 | (uint64_t)hexval(s[i]);
	}
	if (i == 0)
		return -1;
	while (i < n && is_ows(s[i]))
		i++;
	if (i < n && s[i] != ';')
		return -1;
	for (; i < n; i++)
		if (!is_vchar_ws(s[i]))
			return -1;
	*out = v;
	return 0;
}

/* The chunked body: decodes from p->rd to p->wr in place. */
static int parse_chunked(struct http_parser *p, uint8_t *buf, size_t len)
{
	for (;;) {
		switch (p->state) {
		case HTTP_PS_CHUNK_SIZE: {
			size_t pos = p->rd;
			uint64_t sz;
			long n = take_line(buf, len, &pos, HTTP_MAX_CHUNK_LINE);
			if (n == -2)
				return 0;
			if (n < 0 || chunk_size(buf + p->rd, (size_t)n, &sz))
				return ERR(p, 400, "malformed chunk-size line");
			if (sz > p->max_body - (p->wr - p->body_start))
				return ERR(p, 413, "chunked body larger than the limit of %zu",
					   p->max_body);
			p->rd = pos;
			p->chunk_left = (size_t)sz;
			p->state = sz ? HTTP_PS_CHUNK_DATA : HTTP_PS_TRAILER;
			break;
		}
		case HTTP_PS_CHUNK_DATA: {
			size_t n = len - p->rd < p->chunk_left ? len - p->rd : p->chunk_left;
			if (!n)
				return 0;
			memmove(buf + p->wr, buf + p->rd, n);
			p->wr += n;
			p->rd += n;
			p->chunk_left -= n;
			if (!p->chunk_left)
				p->state = HTTP_PS_CHUNK_CRLF;
			break;
		}
		case HTTP_PS_CHUNK_CRLF:
			if (len - p->rd < 2)
				return 0;
			if (buf[p->rd] != '\r' || buf[p->rd + 1] != '\n')
				return ERR(p, 400, "chunk data not followed by CRLF");
			p->rd += 2;
			p->state = HTTP_PS_CHUNK_SIZE;
			break;
		case HTTP_PS_TRAILER: {
			size_t pos = p->rd;
			long n = take_line(buf, len, &pos, HTTP_MAX_TRAILER);
			if (n == -2)
				return len - p->rd > HTTP_MAX_TRAILER
					       ? ERR(p, 431, "trailer section too large")
					       : 0;
			if (n < 0 || (p->trailer += pos - p->rd) > HTTP_MAX_TRAILER)
				return ERR(p, 400, "malformed or oversized trailer section");
			p->rd = pos;
			if (n == 0) {
				p->state = HTTP_PS_DONE;
				return 1;
			}
			break;
		}
		default:
			return -1;
		}
	}
}

int http_request_parse(struct http_parser *p, uint8_t *buf, size_t len, size_t *consumed)
{
	int r;

	if (p->state == HTTP_PS_ERROR)
		return -1;
	if (p->state == HTTP_PS_HEAD) {
		r = find_head_end(p, buf, len);
		if (r <= 0)
			return r;
		memset(&p->off, 0, sizeof(p->off));
		memset(&p->req, 0, sizeof(p->req));
		if (parse_head(p, buf, &p->off))
			return -1;
		if (p->state == HTTP_PS_HEAD)
			return 0; /* empty lines only */
		p->body_start = p->rd = p->wr = p->head_len;
	}
	if (p->state == HTTP_PS_BODY) {
		if (len - p->body_start < p->content_length)
			return 0;
		p->rd = p->wr = p->body_start + p->content_length;
		p->state = HTTP_PS_DONE;
	} else if (p->state != HTTP_PS_DONE) {
		r = parse_chunked(p, buf, len);
		if (r <= 0)
			return r;
	}
	fix_pointers(p, buf, &p->off);
	p->req.body_len = p->wr - p->body_start;
	p->req.body = p->req.body_len ? buf + p->body_start : NULL;
	if (consumed)
		*consumed = p->rd;
	return 1;
}

/* ---- responses ---- */

const char *http_response_header(const struct http_response *r, const char *name)
{
	for (unsigned i = 0; i < r->nheaders; i++)
		if (!strcasecmp(r->headers[i].name, name))
			return r->headers[i].value;
	return NULL;
}

static int resp_err(struct http_error *err, const char *why)
{
	set_error(err, 502);
	snprintf(err->reason, sizeof(err->reason), "malformed response: %s", why);
	return -1;
}

/* One header line of a response buf[s..e). */
static int resp_header(uint8_t *buf, size_t s, size_t e, struct http_response *r,
		       struct http_error *err)
{
	size_t i = s, vs, ve;

	while (i < e && is_tchar(buf[i]))
		i++;
	if (i == s || i == e || buf[i] != ':')
		return resp_err(err, "bad header line");
	if (r->nheaders == HTTP_MAX_HEADERS)
		return resp_err(err, "too many headers");
	buf[i] = 0;
	for (vs = i + 1; vs < e && is_ows(buf[vs]); vs++)
		;
	for (ve = e; ve > vs && is_ows(buf[ve - 1]); ve--)
		;
	buf[ve] = 0;
	r->headers[r->nheaders].name = (const char *)buf + s;
	r->headers[r->nheaders++].value = (const char *)buf + vs;
	return 0;
}

static int resp_framing(struct http_response *r, struct http_error *err)
{
	const char *te = http_response_header(r, "transfer-encoding");
	const char *cl = http_response_header(r, "content-length");
	const char *conn = http_response_header(r, "connection");
	size_t n;

	if (te) {
		if (strcasecmp(te, "chunked"))
			return resp_err(err, "unsupported transfer coding");
		r->chunked = true;
	} else if (cl) {
		if (parse_length(cl, &n))
			return resp_err(err, "bad Content-Length");
		r->has_length = true;
		r->content_length = n;
	}
	r->close = (conn && list_has(conn, "close")) || r->minor == 0;
	return 0;
}

int http_response_parse(uint8_t *buf, size_t len, struct http_response *r, struct http_error *err)
{
	size_t end = 0, s, e;

	for (size_t i = 3; i < len && i < HTTP_MAX_HEAD; i++)
		if (buf[i] == '\n' && buf[i - 1] == '\r' && buf[i - 2] == '\n' &&
		    buf[i - 3] == '\r') {
			end = i + 1;
			break;
		}
	if (!end)
		return len >= HTTP_MAX_HEAD ? resp_err(err, "head too large") : 0;
	memset(r, 0, sizeof(*r));
	r->head_len = end;
	if (end < 17 || memcmp(buf, "HTTP/1.", 7) || buf[7] < '0' || buf[7] > '9' || buf[8] != ' ')
		return resp_err(err, "bad status line");
	r->minor = (unsigned)(buf[7] - '0');
	for (int k = 9; k < 12; k++)
		if (buf[k] < '0' || buf[k] > '9')
			return resp_err(err, "bad status code");
	r->status = (buf[9] - '0') * 100 + (buf[10] - '0') * 10 + (buf[11] - '0');
	for (e = 12; buf[e] != '\r'; e++)
		;
	buf[e] = 0;
	r->reason = (const char *)buf + (buf[12] == ' ' ? 13 : 12);
	for (s = e + 2; s + 2 < end; s = e + 2) {
		for (e = s; buf[e] != '\r'; e++)
			;
		if (buf[e + 1] != '\n' || resp_header(buf, s, e, r, err))
			return resp_err(err, "bad header line");
	}
	return resp_framing(r, err) ? -1 : 1;
}

/* ---- chunked decoding, streaming ---- */

static int ch_err(struct http_error *err, const char *why)
{
	set_error(err, 502);
	snprintf(err->reason, sizeof(err->reason), "malformed chunked body: %s", why);
	return -1;
}

/* One byte of a size or trailer line. Returns 1 at the end of the line, 0, or -1. */
static int ch_line_byte(struct http_chunked *c, uint8_t b, struct http_error *err)
{
	if (c->cr) {
		c->cr = 0;
		return b == '\n' ? 1 : ch_err(err, "CR without LF");
	}
	if (b == '\r') {
		c->cr = 1;
		return 0;
	}
	if (++c->linelen > HTTP_MAX_CHUNK_LINE)
		return ch_err(err, "line too long");
	c->line_empty = false;
	if (c->state == HTTP_CH_TRAILER)
		return is_vchar_ws(b) ? 0 : ch_err(err, "bad trailer byte");
	if (c->in_ext)
		return is_vchar_ws(b) ? 0 : ch_err(err, "bad extension byte");
	if (b == ';') {
		c->in_ext = true;
		return c->linelen > 1 ? 0 : ch_err(err, "no chunk size");
	}
	if (hexval(b) < 0 || (c->size >> 60))
		return ch_err(err, "bad chunk size");
	c->size = c->size << 4 | (uint64_t)hexval(b);
	return 0;
}

static void ch_new_line(struct http_chunked *c)
{
	c->linelen = 0;
	c->size = 0;
	c->in_ext = false;
	c->line_empty = true;
}

int http_chunked_decode(struct http_chunked *c, const uint8_t *in, size_t len, uint8_t *out,
			size_t outcap, size_t *used, size_t *produced, struct http_error *err)
{
	size_t i = 0, o = 0;
	int r;

	if (c->state == HTTP_CH_SIZE && c->linelen == 0 && !c->cr)
		c->line_empty = true;
	while (i < len && c->state != HTTP_CH_DONE) {
		switch (c->state) {
		case HTTP_CH_SIZE:
			r = ch_line_byte(c, in[i++], err);
			if (r < 0)
				return -1;
			if (r == 1) {
				if (c->line_empty)
					return ch_err(err, "empty chunk-size line");
				c->left = c->size;
				c->state = c->size ? HTTP_CH_DATA : HTTP_CH_TRAILER;
				ch_new_line(c);
			}
			break;
		case HTTP_CH_DATA: {
			size_t n = len - i;
			if (n > c->left)
				n = (size_t)c->left;
			if (n > outcap - o)
				n = outcap - o;
			if (!n)
				goto out; /* output full */
			memcpy(out + o, in + i, n);
			o += n;
			i += n;
			c->left -= n;
			if (!c->left) {
				c->state = HTTP_CH_CRLF;
				c->linelen = 0;
			}
			break;
		}
		case HTTP_CH_CRLF:
			if (in[i] != (c->linelen ? '\n' : '\r'))
				return ch_err(err, "chunk data not followed by CRLF");
			i++;
			if (c->linelen++) {
				c->state = HTTP_CH_SIZE;
				ch_new_line(c);
			}
			break;
		case HTTP_CH_TRAILER:
			r = ch_line_byte(c, in[i++], err);
			if (r < 0)
				return -1;
			if (r == 1) {
				if (c->line_empty)
					c->state = HTTP_CH_DONE;
				ch_new_line(c);
			}
			break;
		default:
			break;
		}
	}
out:
	*used = i;
	*produced = o;
	return c->state == HTTP_CH_DONE ? 1 : 0;
}

/* ---- targets ---- */

long http_unescape(const char *src, size_t len, char *out, size_t outcap, bool plus_space)
{
	size_t o = 0;

	for (size_t i = 0; i < len; i++) {
		char c = src[i];
		if (c == '%') {
			int hi, lo;
			if (len - i < 3)
				return -1;
			hi = hexval((uint8_t)src[i + 1]);
			lo = hexval((uint8_t)src[i + 2]);
			if (hi < 0 || lo < 0 || (hi == 0 && lo == 0))
				return -1;
			c = (char)(hi << 4 | lo);
			i += 2;
		} else if (c == '+' && plus_space) {
			c = ' ';
		}
		if (o + 1 >= outcap)
			return -2;
		out[o++] = c;
	}
	if (outcap == 0)
		return -2;
	out[o] = 0;
	return (long)o;
}

int http_query_next(const char **q, char *key, size_t keycap, char *val, size_t valcap)
{
	const char *s = *q, *amp, *eq;
	size_t n;

	while (*s == '&')
		s++;
	if (!*s) {
		*q = s;
		return 0;
	}
	amp = strchr(s, '&');
	n = amp ? (size_t)(amp - s) : strlen(s);
	eq = memchr(s, '=', n);
	if (eq == s)
		return -1;
	long r = http_unescape(s, eq ? (size_t)(eq - s) : n, key, keycap, true);
	if (r < 0)
		return (int)r;
	r = http_unescape(eq ? eq + 1 : s + n, eq ? n - (size_t)(eq + 1 - s) : 0, val, valcap,
			  true);
	if (r < 0)
		return (int)r;
	*q = s + n;
	return 1;
}

const char *http_status_text(int status)
{
	switch (status) {
	case 100:
		return "Continue";
	case 101:
		return "Switching Protocols";
	case 200:
		return "OK";
	case 201:
		return "Created";
	case 202:
		return "Accepted";
	case 204:
		return "No Content";
	case 304:
		return "Not Modified";
	case 400:
		return "Bad Request";
	case 403:
		return "Forbidden";
	case 404:
		return "Not Found";
	case 405:
		return "Method Not Allowed";
	case 408:
		return "Request Timeout";
	case 409:
		return "Conflict";
	case 411:
		return "Length Required";
	case 413:
		return "Content Too Large";
	case 414:
		return "URI Too Long";
	case 415:
		return "Unsupported Media Type";
	case 417:
		return "Expectation Failed";
	case 422:
		return "Unprocessable Content";
	case 429:
		return "Too Many Requests";
	case 431:
		return "Request Header Fields Too Large";
	case 500:
		return "Internal Server Error";
	case 501:
		return "Not Implemented";
	case 502:
		return "Bad Gateway";
	case 503:
		return "Service Unavailable";
	case 504:
		return "Gateway Timeout";
	case 505:
		return "HTTP Version Not Supported";
	default:
		return "";
	}
}
