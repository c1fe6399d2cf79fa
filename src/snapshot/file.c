/*
 * The snapshot container (see snapshot.h and docs/SNAPSHOT.md): header, sections with
 * their checksums, END. The RAM section's encodings are in ram.c.
 */
#include "snapshot/snapshot.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "core/alloc.h"
#include "snapshot/internal.h"

static const uint8_t magic[8] = {'L', 'O', 'D', 'G', 'E', 'S', 'N', 'P'};

#define MAX_SECTIONS 4096

void snap_errf(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (!err || !errlen)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

uint32_t snap_crc(uint32_t crc, const void *p, size_t n)
{
	const uint8_t *b = p;

	/* zlib takes uInt lengths */
	while (n) {
		uInt k = n > (1u << 30) ? (1u << 30) : (uInt)n;
		crc = (uint32_t)crc32(crc, b, k);
		b += k;
		n -= k;
	}
	return crc;
}

void snap_le32(uint8_t *p, uint32_t v)
{
	for (unsigned i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

void snap_le64(uint8_t *p, uint64_t v)
{
	for (unsigned i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

uint32_t snap_get32(const uint8_t *p)
{
	uint32_t v = 0;

	for (unsigned i = 0; i < 4; i++)
		v |= (uint32_t)p[i] << (8 * i);
	return v;
}

uint64_t snap_get64(const uint8_t *p)
{
	uint64_t v = 0;

	for (unsigned i = 0; i < 8; i++)
		v |= (uint64_t)p[i] << (8 * i);
	return v;
}

/* ---- writing ---- */

int snap_put(struct snap_writer *w, const void *p, size_t n)
{
	const uint8_t *b = p;

	w->crc = snap_crc(w->crc, p, n);
	while (n) {
		ssize_t k = pwrite(w->fd, b, n, (off_t)w->off);
		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			return k < 0 ? -errno : -EIO;
		b += k;
		n -= (size_t)k;
		w->off += (uint64_t)k;
	}
	return 0;
}

void snap_section_begin(struct snap_writer *w, uint32_t type)
{
	w->sec_type = type;
	w->sec_start = w->off;
	w->off += SNAP_SECTION_HDR;
	w->crc = 0;
}

int snap_section_end(struct snap_writer *w, uint32_t crc)
{
	uint8_t h[SNAP_SECTION_HDR];
	uint64_t len = w->off - w->sec_start - SNAP_SECTION_HDR, end = w->off;
	int r;

	snap_le32(h, w->sec_type);
	snap_le32(h + 4, 0);
	snap_le64(h + 8, len);
	snap_le32(h + 16, crc);
	snap_le32(h + 20, snap_crc(0, h, 20));
	w->off = w->sec_start;
	r = snap_put(w, h, sizeof(h));
	w->off = end;
	return r;
}

const char *snap_path_error(int r)
{
	return r == -EEXIST ? "it exists and is not a regular file (a device, a FIFO or a symbolic "
			      "link), which a snapshot does not replace: name another path"
			    : strerror(-r);
}

int snap_writer_open(const char *path, struct snap_writer **out)
{
	struct snap_writer *w;
	uint8_t h[SNAP_HEADER];
	struct stat st;
	int r;

	/* An earlier snapshot there is replaced (renamed over at the commit); anything else
	 * is not the snapshot's to replace: /dev/null, a FIFO, a directory, a link. */
	if (lstat(path, &st) == 0 && !S_ISREG(st.st_mode))
		return S_ISDIR(st.st_mode) ? -EISDIR : -EEXIST;
	w = core_calloc(1, sizeof(*w));
	if (!w)
		return -ENOMEM;
	w->fd = -1;
	w->path = core_alloc(strlen(path) + 1);
	w->tmp = core_alloc(strlen(path) + sizeof(".tmpXXXXXX"));
	if (!w->path || !w->tmp) {
		snap_writer_abort(w);
		return -ENOMEM;
	}
	strcpy(w->path, path);
	sprintf(w->tmp, "%s.tmpXXXXXX", path);
	w->fd = mkostemp(w->tmp, O_CLOEXEC);
	if (w->fd < 0) {
		r = -errno;
		w->tmp[0] = 0;
		snap_writer_abort(w);
		return r;
	}
	memcpy(h, magic, 8);
	snap_le32(h + 8, SNAP_VERSION);
	snap_le32(h + 12, SNAP_HEADER);
	snap_le64(h + 16, 0); /* flags: none defined */
	snap_le32(h + 24, 0);
	snap_le32(h + 28, snap_crc(0, h, 28));
	r = snap_put(w, h, sizeof(h));
	if (r) {
		snap_writer_abort(w);
		return r;
	}
	*out = w;
	return 0;
}

int snap_write_section(struct snap_writer *w, uint32_t type, const void *data, size_t len)
{
	int r;

	snap_section_begin(w, type);
	r = snap_put(w, data, len);
	return r ?: snap_section_end(w, w->crc);
}

int snap_writer_commit(struct snap_writer *w)
{
	int r = snap_write_section(w, SNAP_SEC_END, NULL, 0);

	if (!r && ftruncate(w->fd, (off_t)w->off) < 0)
		r = -errno;
	if (!r && fsync(w->fd) < 0)
		r = -errno;
	if (!r && rename(w->tmp, w->path) < 0)
		r = -errno;
	if (!r)
		w->tmp[0] = 0; /* nothing to remove */
	snap_writer_abort(w);
	return r;
}

void snap_writer_abort(struct snap_writer *w)
{
	if (!w)
		return;
	if (w->fd >= 0)
		close(w->fd);
	if (w->tmp && w->tmp[0])
		unlink(w->tmp);
	core_free(w->tmp);
	core_free(w->path);
	core_free(w);
}

/* ---- reading ---- */

int snap_pread(struct snap_reader *r, void *p, size_t n, uint64_t off)
{
	uint8_t *b = p;

	if (off > r->size || n > r->size - off)
		return -EINVAL;
	while (n) {
		ssize_t k = pread(r->fd, b, n, (off_t)off);
		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			return k < 0 ? -errno : -EIO;
		b += k;
		n -= (size_t)k;
		off += (uint64_t)k;
	}
	return 0;
}

static int read_header(struct snap_reader *r, char *err, size_t errlen)
{
	uint8_t h[SNAP_HEADER];
	uint32_t version;

	if (snap_pread(r, h, sizeof(h), 0)) {
		snap_errf(err, errlen, "too short to be a Lodge snapshot (%llu bytes)",
			  (unsigned long long)r->size);
		return -EINVAL;
	}
	if (memcmp(h, magic, 8)) {
		snap_errf(err, errlen, "not a Lodge snapshot (no LODGESNP magic)");
		return -EINVAL;
	}
	if (snap_get32(h + 28) != snap_crc(0, h, 28)) {
		snap_errf(err, errlen, "corrupt: the file header fails its checksum");
		return -EINVAL;
	}
	version = snap_get32(h + 8);
	if (version < 1 || version > SNAP_VERSION || snap_get32(h + 12) != SNAP_HEADER ||
	    snap_get64(h + 16)) {
		snap_errf(err, errlen,
			  "snapshot format version %u is not supported (this Lodge reads version "
			  "1 to %d; take the snapshot again with this version)",
			  version, SNAP_VERSION);
		return -EINVAL;
	}
	return 0;
}

/* Reads the section headers up to END, checking each one. */
static int read_table(struct snap_reader *r, char *err, size_t errlen)
{
	uint64_t off = SNAP_HEADER;

	for (;;) {
		uint8_t h[SNAP_SECTION_HDR];
		struct snap_section s;

		if (snap_pread(r, h, sizeof(h), off)) {
			snap_errf(err, errlen,
				  "truncated: the file ends at byte %llu without its END section",
				  (unsigned long long)r->size);
			return -EINVAL;
		}
		if (snap_get32(h + 20) != snap_crc(0, h, 20)) {
			snap_errf(err, errlen,
				  "corrupt: the section header at byte %llu fails its "
				  "checksum",
				  (unsigned long long)off);
			return -EINVAL;
		}
		s = (struct snap_section){.type = snap_get32(h),
					  .offset = off + SNAP_SECTION_HDR,
					  .len = snap_get64(h + 8),
					  .crc = snap_get32(h + 16)};
		if (s.len > r->size - s.offset) {
			snap_errf(err, errlen,
				  "truncated: the section at byte %llu needs %llu bytes, the file "
				  "ends at %llu",
				  (unsigned long long)off, (unsigned long long)s.len,
				  (unsigned long long)r->size);
			return -EINVAL;
		}
		if (s.type == SNAP_SEC_END) {
			if (s.len || s.offset != r->size) {
				snap_errf(err, errlen, "corrupt: data after the END section");
				return -EINVAL;
			}
			return 0;
		}
		if (r->nsec == MAX_SECTIONS) {
			snap_errf(err, errlen, "corrupt: more than %d sections", MAX_SECTIONS);
			return -EINVAL;
		}
		r->sec[r->nsec++] = s;
		off = s.offset + s.len;
	}
}

/* Checks every section but RAM (checked as it loads) before anything is built from the
 * file. */
static int verify(struct snap_reader *r, char *err, size_t errlen)
{
	for (unsigned i = 0; i < r->nsec; i++) {
		uint8_t *p;
		int ret;
		if (r->sec[i].type == SNAP_SEC_RAM)
			continue;
		ret = snap_read_section(r, &r->sec[i], &p, err, errlen);
		if (ret)
			return ret;
		core_free(p);
	}
	return 0;
}

int snap_reader_open(const char *path, struct snap_reader **out, char *err, size_t errlen)
{
	struct snap_reader *rd = core_calloc(1, sizeof(*rd));
	struct stat st;
	int r;

	if (!rd)
		return -ENOMEM;
	rd->sec = core_calloc(MAX_SECTIONS, sizeof(*rd->sec));
	rd->fd = open(path, O_RDONLY | O_CLOEXEC);
	if (!rd->sec || rd->fd < 0 || fstat(rd->fd, &st) < 0) {
		r = rd->sec ? -errno : -ENOMEM;
		snap_errf(err, errlen, "cannot open it: %s", strerror(-r));
		snap_reader_close(rd);
		return r;
	}
	if (!S_ISREG(st.st_mode)) {
		snap_errf(err, errlen, "not a regular file");
		snap_reader_close(rd);
		return -EINVAL;
	}
	rd->size = (uint64_t)st.st_size;
	r = read_header(rd, err, errlen);
	r = r ?: read_table(rd, err, errlen);
	r = r ?: verify(rd, err, errlen);
	if (r) {
		snap_reader_close(rd);
		return r;
	}
	*out = rd;
	return 0;
}

void snap_reader_close(struct snap_reader *r)
{
	if (!r)
		return;
	if (r->fd >= 0)
		close(r->fd);
	core_free(r->sec);
	core_free(r);
}

const struct snap_section *snap_sections(const struct snap_reader *r, unsigned *n)
{
	*n = r->nsec;
	return r->sec;
}

int snap_read_section(struct snap_reader *r, const struct snap_section *s, uint8_t **out, char *err,
		      size_t errlen)
{
	uint8_t *b;
	int ret;

	if (s->len > SNAP_MAX_SECTION) {
		snap_errf(err, errlen, "corrupt: a section of type %u is %llu bytes long", s->type,
			  (unsigned long long)s->len);
		return -EINVAL;
	}
	b = core_alloc(s->len ? (size_t)s->len : 1);
	if (!b)
		return -ENOMEM;
	ret = snap_pread(r, b, (size_t)s->len, s->offset);
	if (!ret && snap_crc(0, b, (size_t)s->len) != s->crc) {
		snap_errf(err, errlen, "corrupt: the section at byte %llu fails its checksum",
			  (unsigned long long)(s->offset - SNAP_SECTION_HDR));
		ret = -EINVAL;
	} else if (ret) {
		snap_errf(err, errlen, "cannot read it: %s", strerror(-ret));
	}
	if (ret) {
		core_free(b);
		return ret;
	}
	*out = b;
	return 0;
}
