/*
 * The migration stream (see snapshot.h, docs/SNAPSHOT.md "Live migration"): the snapshot
 * file's sections sent over a socket. A 16-byte header ("LODGEMIG", u32 version, u32
 * CRC-32 of the first 12 bytes), then sections with the file's 24-byte section header
 * (type, reserved, length, payload CRC, header CRC) followed by their payload. The
 * receiving side checks every header, length and checksum before it uses a byte.
 */
#include "snapshot/snapshot.h"

#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/alloc.h"
#include "snapshot/internal.h"

static const uint8_t stream_magic[8] = {'L', 'O', 'D', 'G', 'E', 'M', 'I', 'G'};

#define STREAM_HEADER 16

static int put_all(int fd, const void *p, size_t n)
{
	const uint8_t *b = p;

	while (n) {
		ssize_t k =
			send(fd, b, n, MSG_NOSIGNAL); /* a peer gone is an error, not a signal */
		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0)
			return errno == EAGAIN ? -ETIMEDOUT : -errno;
		if (k == 0)
			return -EPIPE;
		b += k;
		n -= (size_t)k;
	}
	return 0;
}

static int get_all(int fd, void *p, size_t n)
{
	uint8_t *b = p;

	while (n) {
		ssize_t k = read(fd, b, n);
		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0)
			return errno == EAGAIN ? -ETIMEDOUT : -errno;
		if (k == 0)
			return -ECONNRESET; /* the other side closed mid-stream */
		b += k;
		n -= (size_t)k;
	}
	return 0;
}

int snap_stream_put_header(int fd)
{
	uint8_t h[STREAM_HEADER];

	memcpy(h, stream_magic, 8);
	snap_le32(h + 8, SNAP_STREAM_VERSION);
	snap_le32(h + 12, snap_crc(0, h, 12));
	return put_all(fd, h, sizeof(h));
}

int snap_stream_get_header(int fd, char *err, size_t errlen)
{
	uint8_t h[STREAM_HEADER];
	int r = get_all(fd, h, sizeof(h));

	if (r) {
		snap_errf(err, errlen, "no stream header: %s", strerror(-r));
		return r;
	}
	if (memcmp(h, stream_magic, 8) || snap_get32(h + 12) != snap_crc(0, h, 12)) {
		snap_errf(err, errlen, "not a Lodge migration stream (bad header)");
		return -EINVAL;
	}
	if (snap_get32(h + 8) != SNAP_STREAM_VERSION) {
		snap_errf(err, errlen,
			  "migration stream version %u is not supported (this Lodge speaks "
			  "version %d)",
			  snap_get32(h + 8), SNAP_STREAM_VERSION);
		return -EINVAL;
	}
	return 0;
}

int snap_stream_put(int fd, uint32_t type, const void *data, size_t len)
{
	uint8_t h[SNAP_SECTION_HDR];
	int r;

	snap_le32(h, type);
	snap_le32(h + 4, 0);
	snap_le64(h + 8, len);
	snap_le32(h + 16, snap_crc(0, data, len));
	snap_le32(h + 20, snap_crc(0, h, 20));
	r = put_all(fd, h, sizeof(h));
	return r ?: put_all(fd, data, len);
}

int snap_stream_get(int fd, uint32_t *type, uint8_t **out, size_t *len, size_t max, char *err,
		    size_t errlen)
{
	uint8_t h[SNAP_SECTION_HDR], *p;
	uint64_t n;
	int r = get_all(fd, h, sizeof(h));

	if (r) {
		snap_errf(err, errlen, "the stream ended: %s", strerror(-r));
		return r;
	}
	n = snap_get64(h + 8);
	if (snap_get32(h + 20) != snap_crc(0, h, 20) || snap_get32(h + 4)) {
		snap_errf(err, errlen, "corrupt: a section header fails its checksum");
		return -EINVAL;
	}
	if (n > max) {
		snap_errf(err, errlen,
			  "corrupt: a section of type 0x%x claims %llu bytes (at most %zu)",
			  snap_get32(h), (unsigned long long)n, max);
		return -EINVAL;
	}
	p = core_alloc(n ? (size_t)n : 1);
	if (!p)
		return -ENOMEM;
	r = get_all(fd, p, (size_t)n);
	if (r) {
		snap_errf(err, errlen, "the stream ended inside a section: %s", strerror(-r));
		core_free(p);
		return r;
	}
	if (snap_crc(0, p, (size_t)n) != snap_get32(h + 16)) {
		snap_errf(err, errlen, "corrupt: a section of type 0x%x fails its checksum",
			  snap_get32(h));
		core_free(p);
		return -EINVAL;
	}
	*type = snap_get32(h);
	*out = p;
	*len = (size_t)n;
	return 0;
}
