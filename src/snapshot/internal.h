/* What file.c and ram.c share: the writer's and reader's state and byte helpers. */
#ifndef LODGE_SNAPSHOT_INTERNAL_H
#define LODGE_SNAPSHOT_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "snapshot/snapshot.h"

#define SNAP_HEADER	 32 /* magic, version, header length, flags, reserved, CRC */
#define SNAP_SECTION_HDR 24 /* type, reserved, length, payload CRC, header CRC */
#define SNAP_RAM_DESC	 24 /* base, size, chunk pages, encoding */

struct snap_writer {
	int fd;
	char *path, *tmp;
	uint64_t off; /* where the next byte goes */
	uint32_t crc; /* of the current section's payload so far */
	uint32_t sec_type;
	uint64_t sec_start; /* offset of the current section's header */
};

struct snap_reader {
	int fd;
	uint64_t size;
	struct snap_section *sec;
	unsigned nsec;
};

void snap_errf(char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
uint32_t snap_crc(uint32_t crc, const void *p, size_t n);
void snap_le32(uint8_t *p, uint32_t v);
void snap_le64(uint8_t *p, uint64_t v);
uint32_t snap_get32(const uint8_t *p);
uint64_t snap_get64(const uint8_t *p);

/* Writes n bytes at the writer's offset, adding them to the section's CRC. */
int snap_put(struct snap_writer *w, const void *p, size_t n);
/* Reserves a section header; snap_section_end fills it in with the payload's length. */
void snap_section_begin(struct snap_writer *w, uint32_t type);
int snap_section_end(struct snap_writer *w, uint32_t crc);
/* Reads exactly n bytes at off; -EINVAL when that is past the end of the file. */
int snap_pread(struct snap_reader *r, void *p, size_t n, uint64_t off);

#endif
