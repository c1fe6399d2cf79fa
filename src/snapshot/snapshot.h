/*
 * Snapshot files (docs/SNAPSHOT.md): a header (magic, version), then sections, each with
 * its type, length and a CRC-32 of its payload, ending with an END section. What the
 * sections hold is the caller's (machine/snapshot.c); this module owns the container and
 * the RAM section: guest RAM in 2 MiB chunks, all-zero pages left out (a bitmap per
 * chunk), the rest compressed with zstd; or stored uncompressed and page-aligned, so that
 * a restore can map it from the file and bring pages in on first touch.
 *
 * A snapshot file is untrusted input: every length and index read from it is checked,
 * and a truncated, corrupt or unknown-version file is refused with one line in `err`.
 * No host pointers and fixed little-endian fields: a file restores on any host.
 */
#ifndef LODGE_SNAPSHOT_SNAPSHOT_H
#define LODGE_SNAPSHOT_SNAPSHOT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* 2 added the ID and PARENT sections and Diff RAM, 3 the DISKS section; 1 and 2 still read */
#define SNAP_VERSION	 3
#define SNAP_CHUNK_PAGES 512 /* 2 MiB of 4 KiB pages per RAM chunk */
#define SNAP_PAGE_SIZE	 4096u
#define SNAP_MAX_SECTION (64u << 20) /* sections other than RAM are read into memory */

enum snap_section_type {
	SNAP_SEC_MACHINE = 1, /* configuration and clock (machine/snapshot.c) */
	SNAP_SEC_HART = 2,    /* one per hart, in hart order (cpu/state.h) */
	SNAP_SEC_DEVICE = 3,  /* one per device, in creation order */
	SNAP_SEC_RAM = 4,     /* guest RAM (below) */
	SNAP_SEC_ID = 5,      /* this file's identity: 16 random bytes (machine/snapshot.c) */
	SNAP_SEC_PARENT = 6,  /* a Diff's parent: its identity and path */
	SNAP_SEC_DISKS = 7,   /* after RAM: the identity of each writable disk's frozen image */
	SNAP_WASM_SEC_MODULE = 0x10, /* the first section of a WebAssembly program's snapshot
				      * (wasm/snapshot.h: WASM_SNAP_SEC_MODULE): told apart */
	SNAP_SEC_END = 0x444e45,     /* "END": the last section, empty */
};

enum snap_ram_encoding {
	SNAP_RAM_ZSTD = 1, /* chunks: nonzero-page bitmap, then one zstd frame of those pages */
	SNAP_RAM_RAW = 2,  /* the whole RAM, page-aligned in the file; zero pages are holes */
	SNAP_RAM_DIFF = 3, /* as ZSTD, but the bitmaps name the pages written since the parent
			    * (zero or not); the others keep the parent's content */
};

struct snap_writer;
struct snap_reader;

/* What to say of snap_writer_open's error r (-EEXIST: the path is not a regular file). */
const char *snap_path_error(int r);
/* Writes to a temporary file next to `path`, renamed over it by snap_writer_commit, so a
 * failed snapshot never leaves a half-written file under its name. An existing path must
 * be a regular file (-EISDIR, -EEXIST). Returns 0 or -errno. */
int snap_writer_open(const char *path, struct snap_writer **out)
	__attribute__((warn_unused_result));
/* Appends one section. Returns 0 or -errno. */
int snap_write_section(struct snap_writer *w, uint32_t type, const void *data, size_t len)
	__attribute__((warn_unused_result));
/* Appends the RAM section for `size` bytes of RAM at `ram` (guest physical `base`).
 * Returns 0 or -errno. Pages are read with plain loads: the machine must be paused. */
int snap_write_ram(struct snap_writer *w, const uint8_t *ram, uint64_t base, uint64_t size,
		   enum snap_ram_encoding enc) __attribute__((warn_unused_result));
/* Appends a SNAP_RAM_DIFF section holding the pages whose bit is set in `pages` (one bit
 * per page, page 0 in bit 0 of word 0). Returns 0 or -errno. Machine paused. */
int snap_write_ram_diff(struct snap_writer *w, const uint8_t *ram, uint64_t base, uint64_t size,
			const uint64_t *pages) __attribute__((warn_unused_result));
/* Writes the END section, syncs the file and renames it into place. Frees `w` whether or
 * not it succeeds. Returns 0 or -errno. */
int snap_writer_commit(struct snap_writer *w) __attribute__((warn_unused_result));
/* Discards the temporary file and frees `w`. NULL is a no-op. */
void snap_writer_abort(struct snap_writer *w);

struct snap_section {
	uint32_t type;
	uint64_t offset; /* of the payload in the file */
	uint64_t len;
	uint32_t crc;
};

/* Opens a snapshot and reads its section table: checks the magic, the version, every
 * section header's own checksum and length (inside the file), that the file ends with
 * END, and the checksum of every section but RAM's (checked by snap_read_ram). Returns 0, or
 * -EINVAL / -errno with one line in err. */
int snap_reader_open(const char *path, struct snap_reader **out, char *err, size_t errlen)
	__attribute__((warn_unused_result));
void snap_reader_close(struct snap_reader *r);

/* The sections in file order (END excluded). */
const struct snap_section *snap_sections(const struct snap_reader *r, unsigned *n);

/* Reads a section (at most SNAP_MAX_SECTION bytes) into a new buffer (core_free it) and
 * checks its CRC. Returns 0, -EINVAL (corrupt, err filled), -ENOMEM or -EIO. */
int snap_read_section(struct snap_reader *r, const struct snap_section *s, uint8_t **out, char *err,
		      size_t errlen) __attribute__((warn_unused_result));

/* Fills `size` bytes of RAM at `ram` (guest physical `base`, zeroed memory) from a RAM
 * section, which must describe exactly that RAM. A SNAP_RAM_DIFF section overwrites only
 * the pages it holds (`ram` then holds its parent's RAM); `diff` says whether one is
 * expected, and a section of the other kind is refused. A SNAP_RAM_RAW section with `lazy` set
 * is mapped from the file (MAP_PRIVATE | MAP_FIXED over `ram`, which must be page-aligned
 * anonymous memory): pages are read on first touch and its content is not checksummed;
 * a read lease on the file tells when another process writes or cuts it (see
 * snap_ram_lease_eventfd; where no lease can be had, the section is read at once);
 * otherwise everything is read and checked now. Returns 0, or -EINVAL / -errno with err. */
int snap_read_ram(struct snap_reader *r, const struct snap_section *s, uint8_t *ram, uint64_t base,
		  uint64_t size, bool lazy, bool diff, char *err, size_t errlen)
	__attribute__((warn_unused_result));

/* A lazy snap_read_ram holds a read lease on the snapshot file while RAM at `ram` is
 * mapped from it (ram.c says why). When another process opens the file for writing or
 * cuts it, the kernel holds that process back and the eventfd snap_ram_lease_eventfd
 * returns becomes readable (-1: no lease for this RAM). The machine's owner then pauses
 * the machine (no hart, device or I/O in flight touches RAM) and calls
 * snap_ram_lease_detach, which copies RAM into anonymous memory at the same address
 * (MADV_HUGEPAGE with `hugepages`) and gives the lease up: 0, or -errno (RAM and the lease
 * as they were). snap_ram_lease_end gives it up without copying, before RAM is unmapped. */
int snap_ram_lease_eventfd(const void *ram);
/* The lease's signal goes to the calling thread only (the kernel's default is any thread
 * of the process, whose system calls it would interrupt): 0 or -errno. */
int snap_ram_lease_signal_here(const void *ram);
int snap_ram_lease_detach(void *ram, bool hugepages) __attribute__((warn_unused_result));
void snap_ram_lease_end(const void *ram);

/* A userfaultfd (O_CLOEXEC | O_NONBLOCK) for migration's tracking of guest memory, set up
 * with `api` (UFFDIO_API: the features asked for, and those the kernel has, on return):
 * one that serves the kernel's accesses too where the process may have that, else (or
 * with user_only) one for user-mode accesses alone. Returns the descriptor, or -errno. */
struct uffdio_api;
int snap_userfaultfd(bool user_only, struct uffdio_api *api) __attribute__((warn_unused_result));

/* ---- the migration stream (stream.c) ----
 * A header, then sections as in a file (the same 24-byte section header, each payload
 * checked against its CRC), sent over a connected socket. Migration adds these types: */
/* 2: progress frames may come before every answer; 3: the header has the source's nonce,
 * which the destination's "OK" repeats */
#define SNAP_STREAM_VERSION 3
#define SNAP_STREAM_NONCE   8
enum snap_stream_type {
	SNAP_SEC_PAGES = 0x100, /* u32 count, then count pages: u64 index (bit 63: all zero,
				 * no data), 4096 bytes unless zero */
	SNAP_SEC_CLOCK = 0x101, /* u64 the machine's time (10 MHz ticks) at the switch */
	SNAP_SEC_DONE = 0x102,	/* empty: the state is complete; the receiver answers */
	SNAP_SEC_SYNC = 0x103,	/* empty: the receiver answers once it has taken all before */
	SNAP_SEC_FILE = 0x104,	/* the next bytes (at most 1 MiB) of a whole snapshot file:
				 * a Wasm program's stop-and-copy, then DONE */
	/* Continuous replication (machine/replicate.c, docs/SNAPSHOT.md "Replication"): */
	SNAP_SEC_REPLICATE = 0x105, /* after MACHINE: u32 version 2, u32 interval (ms), u32
				     * writable disks */
	SNAP_SEC_EPOCH = 0x106,	    /* u64 checkpoint number: a checkpoint begins */
	SNAP_SEC_BLOCKS = 0x107,    /* u32 disk, u64 byte offset, then the block's bytes */
	SNAP_SEC_COMMIT = 0x108,    /* u64 checkpoint, u32 sections since EPOCH, u32 CRC-32
				     * of their payloads one after the other */
	/* Live migration of writable disks (machine/migrate.c, docs/SNAPSHOT.md): */
	SNAP_SEC_MIG_DISKS = 0x109,  /* after MACHINE: u32 version 1, u32 writable disks, u64
				      * each one's size; answered with SNAP_STREAM_DISKS */
	SNAP_SEC_MIG_SWITCH = 0x10a, /* empty: shared storage: the source closed its images */
	/* Post-copy (machine/migrate.c, docs/SNAPSHOT.md "Post-copy"): */
	SNAP_SEC_POSTCOPY = 0x10b, /* empty, after MACHINE (and MIG_DISKS): the machine will run
				    * there before all its pages are; answered with
				    * SNAP_STREAM_POSTCOPY */
	SNAP_SEC_DISCARD = 0x10c,  /* u64 pages, then one bit per page (u64 words): the pages
				    * still to come, sent at the pause before the harts */
	SNAP_SEC_FSJ = 0x10d,	   /* Wasm replication: the next bytes of a checkpoint's directory
				    * records (wasm/wasi/journal.c) */
};
#define SNAP_STREAM_COMMITTED 0x4b43 /* "CK", u16, then u64 checkpoint: the standby has it */
#define SNAP_STREAM_ACK                                                                            \
	0x4b4f /* "OK", u16, then the header's nonce: the destination                              \
		* runs the machine (a peer that only says OK is no Lodge) */
#define SNAP_STREAM_ACK_LEN (2 + SNAP_STREAM_NONCE)
#define SNAP_STREAM_SYNC    0x5953 /* "SY", u16: the answer to SYNC */
/* Post-copy: "PC", u16, then u8: 1 ready, 0 refused (its log says why); "RQ", u16, then
 * u64 page: the machine there needs it; "PE", u16: every page arrived (after the second
 * DONE, and only after "OK"). */
#define SNAP_STREAM_POSTCOPY 0x4350
#define SNAP_STREAM_REQUEST  0x5152
#define SNAP_STREAM_PC_END   0x4550
/* "PG", u16, then u64 (what the sender works on: a checkpoint's number, or 0): sent, at
 * most about once a SNAP_STREAM_PROGRESS_NS, by a side that is busy (a standby applying a
 * checkpoint, a migration's destination taking sections or loading the state) while the
 * other waits for its answer. The waiting side reads past any number of them
 * (snap_stream_get_answer): a peer is dead when nothing at all came for
 * SNAP_STREAM_TIMEOUT_S, not when its answer takes longer. Stream version 2. */
#define SNAP_STREAM_PROGRESS	 0x4750
#define SNAP_STREAM_PROGRESS_LEN 10
#define SNAP_STREAM_PROGRESS_NS	 1000000000ull
#define SNAP_STREAM_DISKS                                                                          \
	0x4b44 /* "DK", u16, then u8: 0 shared storage, 1 copy the                                 \
		* blocks, 2 refused (the destination says why) */

/* Each returns 0 or -errno (-ETIMEDOUT when the socket's timeout expired, -EPIPE /
 * -ECONNRESET when the peer went away); the receiving ones refuse anything malformed
 * with -EINVAL and one line in err. snap_stream_get allocates *out (core_free it) and
 * refuses a section longer than `max`. */
/* put_header draws the stream's nonce into `nonce`; get_header hands it over (nonce may be
 * NULL: a stream that gets no "OK", replication's). */
int snap_stream_put_header(int fd, uint8_t nonce[SNAP_STREAM_NONCE])
	__attribute__((warn_unused_result));
int snap_stream_get_header(int fd, uint8_t nonce[SNAP_STREAM_NONCE], char *err, size_t errlen)
	__attribute__((warn_unused_result));
int snap_stream_put(int fd, uint32_t type, const void *data, size_t len)
	__attribute__((warn_unused_result));
int snap_stream_get(int fd, uint32_t *type, uint8_t **out, size_t *len, size_t max, char *err,
		    size_t errlen) __attribute__((warn_unused_result));

#define SNAP_STREAM_TIMEOUT_S 10 /* a peer that neither reads nor writes this long is gone */
/* Once a section's (or an answer's) first byte came, the rest must come within
 * SNAP_STREAM_TIMEOUT_S, plus a second per SNAP_STREAM_MIN_RATE bytes of its payload: a
 * peer trickling a byte every few seconds is given up on (-ETIMEDOUT) as a silent one. */
#define SNAP_STREAM_MIN_RATE   (64u << 10)
#define SNAP_STREAM_CONNECT_MS 5000

/* Connects to "HOST:PORT" within SNAP_STREAM_CONNECT_MS; the socket blocks, with
 * snap_stream_sockopts' timeouts. Returns the fd or -errno (-EINVAL: not HOST:PORT). */
int snap_stream_dial(const char *dest) __attribute__((warn_unused_result));
/* Listens on "HOST:PORT" and takes one connection (set up as by snap_stream_dial).
 * Returns the fd, or -errno with one line in err. */
int snap_stream_accept(const char *addr, char *err, size_t errlen)
	__attribute__((warn_unused_result));
/* The same, asking stop(ctx) every 200 ms while it waits: true gives up (-ECANCELED), so
 * that a signal or a deadline ends a process waiting for its stream. */
int snap_stream_accept_until(const char *addr, bool (*stop)(void *ctx), void *ctx, char *err,
			     size_t errlen) __attribute__((warn_unused_result));
/* The stream's socket options: SNAP_STREAM_TIMEOUT_S both ways, no Nagle delay. */
void snap_stream_sockopts(int fd);

/* Stop and copy of a whole snapshot file, after the header (snap_stream_put_header) and
 * any other sections (a Wasm pre-copy's PAGES): FILE sections, DONE. *sent counts the
 * bytes. Returns 0 or -errno. */
int snap_stream_send_file_body(int fd, const char *path, uint64_t *sent)
	__attribute__((warn_unused_result));
/* Receives such a stream (its header first: *nonce gets the stream's nonce unless NULL)
 * into `path` (created, or truncated: the caller's own file), at most `max` bytes. Sections
 * of other types before the first FILE go to `other` (each at most SNAP_STREAM_PAGES_MAX
 * bytes; its nonzero return, with err, ends the stream); without `other` they are refused.
 * Anything else (another section type, too long, truncated) is refused with -EINVAL /
 * -errno and one line in err; the file is then removed. */
typedef int (*snap_stream_other_fn)(void *opaque, uint32_t type, const uint8_t *p, size_t len,
				    char *err, size_t errlen);
#define SNAP_STREAM_PAGES_MAX (4u + 256u * (8u + SNAP_PAGE_SIZE)) /* 256 pages a section */
int snap_stream_recv_file_cb(int fd, const char *path, uint64_t max, snap_stream_other_fn other,
			     void *opaque, uint8_t nonce[SNAP_STREAM_NONCE], char *err,
			     size_t errlen) __attribute__((warn_unused_result));
/* Reads an answer of `len` (>= 2) bytes, its u16 tag first, into ans, skipping the
 * progress frames before it; each read waits at most the socket's timeout. Returns 0 or
 * -errno (-ETIMEDOUT: neither progress nor the answer came in time; -ECONNRESET: the
 * peer closed). The tag is the caller's to check. */
int snap_stream_get_answer(int fd, uint8_t *ans, size_t len) __attribute__((warn_unused_result));
/* The rest of an answer whose tag (snap_stream_get_answer with len 2) the caller has
 * checked: exactly `len` bytes, each read waiting at most the socket's timeout. Returns 0 or
 * -errno as snap_stream_get_answer. */
int snap_stream_get_rest(int fd, void *p, size_t len) __attribute__((warn_unused_result));
/* A busy side's keep-alive: sends a progress frame if SNAP_STREAM_PROGRESS_NS passed since
 * *last_ns (a CLOCK_MONOTONIC time; 0 at first), and updates it. Returns 0 or -errno. */
int snap_stream_progress(int fd, uint64_t what, uint64_t *last_ns)
	__attribute__((warn_unused_result));
/* A step that runs long in one go (loading a machine's or a program's state, a disk's
 * flush) while the peer waits for the answer that follows it: between begin and end a
 * thread sends a progress frame (`what`) on fd about once a SNAP_STREAM_PROGRESS_NS, so
 * the peer waits as long as this process lives and runs. Nothing else may send on fd
 * meanwhile. begin returns NULL when no thread could start (the step then runs without
 * progress); end stops and joins it (NULL: nothing). A failure to send shows at the
 * next write or answer. */
struct snap_stream_busy;
struct snap_stream_busy *snap_stream_busy_begin(int fd, uint64_t what);
void snap_stream_busy_end(struct snap_stream_busy *b);
#ifdef LODGE_TEST_HOOKS
/* The test build's LODGE_TEST_HOOK=slow-apply: a standby's checkpoint 0 takes longer to
 * apply than the stream's timeout, sending progress frames all along (a starved standby).
 * Does nothing for any other epoch or hook. */
void snap_stream_test_slow_apply(int fd, uint64_t epoch, uint64_t *last_ns);
/* The same hook for a migration's destination: its busy step (between
 * snap_stream_busy_begin and _end, which sends the progress) takes longer than the
 * stream's timeout. */
void snap_stream_test_slow_step(void);
#endif
/* The destination's "OK" with the stream's nonce (it runs the guest), and the source's
 * wait for it: progress frames are read past; 0, -ECONNABORTED (another answer), -EPROTO
 * (an "OK" without the nonce: a peer that is no Lodge destination) or -errno (-ETIMEDOUT:
 * nothing at all came for the socket's timeout). ack_frame builds the frame. */
void snap_stream_ack_frame(uint8_t f[SNAP_STREAM_ACK_LEN], const uint8_t nonce[SNAP_STREAM_NONCE]);
int snap_stream_ack(int fd, const uint8_t nonce[SNAP_STREAM_NONCE])
	__attribute__((warn_unused_result));
int snap_stream_wait_ack(int fd, const uint8_t nonce[SNAP_STREAM_NONCE])
	__attribute__((warn_unused_result));
/* Before DONE: whether the destination kept quiet but for progress frames (consumed).
 * A Lodge destination answers only after DONE; a peer that already sent something else
 * (an early "OK") is not one, and its answer must not count. 0 or -EPROTO. */
int snap_stream_quiet(int fd) __attribute__((warn_unused_result));

#endif
