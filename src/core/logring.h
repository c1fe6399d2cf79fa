/*
 * A ring file: the last `capacity` bytes of a byte stream (a guest's console output),
 * kept in a file that one process appends to and others read while it grows, across
 * restarts of either. Layout: a 4 KiB header page (magic, version, capacity, and `head`,
 * the number of bytes ever written), then the data area, where byte number n of the
 * stream lives at offset n % capacity. The writer writes the data first and then
 * publishes the new head (through a shared mapping of the header), so a reader that saw
 * a head can read every byte below it; bytes a reader was copying while the writer
 * overwrote them are detected by reading the head again, and skipped.
 *
 * Positions are absolute stream offsets (uint64_t), so a follower keeps its place while
 * the ring wraps, and learns how much it missed when it falls behind.
 */
#ifndef LODGE_CORE_LOGRING_H
#define LODGE_CORE_LOGRING_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define LOGRING_DEFAULT_CAPACITY (1u << 20)

struct logring;

/* Opens the ring file at `path`. A writer creates it (mode 0640) with `capacity` when it
 * does not exist or is not a ring file, and continues an existing ring otherwise; a
 * reader (writer = false) needs an existing ring. Returns 0, -EINVAL (not a ring file),
 * -ENOMEM, or -errno from open/mmap. */
int logring_open(const char *path, bool writer, uint64_t capacity, struct logring **out)
	__attribute__((warn_unused_result));
void logring_close(struct logring *r);

/* Writer: appends len bytes (only the last `capacity` of a larger write are kept).
 * Returns 0 or -errno from pwrite. One writer thread at a time. */
int logring_append(struct logring *r, const void *data, size_t len)
	__attribute__((warn_unused_result));

/* The stream position after the last byte written. Any thread, any process. */
uint64_t logring_head(const struct logring *r);

/* The oldest position still held (head - capacity, or 0). */
uint64_t logring_tail(const struct logring *r);

/* Reads bytes from stream position *pos on (at most cap). If *pos is older than what the
 * ring still holds, it first moves forward to the oldest byte held (*lost gets how many
 * bytes were skipped; may be NULL). Advances *pos past what it returns. Returns the bytes
 * read (0: nothing new), or -errno from pread. */
ssize_t logring_read(struct logring *r, uint64_t *pos, void *buf, size_t cap, uint64_t *lost);

#endif
