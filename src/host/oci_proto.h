/*
 * The wire protocol between `lodge oci` on the host and the guest init of a system-VM
 * container (guest/oci/oci-init.c), over virtio-vsock. Shared by both sides, so it holds
 * only constants and byte layouts (little endian on both: x86-64 and riscv64).
 *
 * A session is one stream connection carrying one process: the host sends a SPEC frame
 * (the process's launch records), then STDIN/STDIN_EOF/SIGNAL/RESIZE frames; the guest
 * answers STARTED or ERROR, streams STDOUT/STDERR, and ends with EXIT (the process's wait
 * status) once its output is drained. The container's own process uses the session the
 * guest opens to host port OCI_PORT_MAIN; `exec` sessions are connections the host makes
 * to guest port OCI_PORT_EXEC.
 *
 * Launch records (the SPEC payload, and the container file /oci/container in the
 * initramfs) are: u8 tag, u8 field count, then per field a u32 length and its bytes.
 */
#ifndef LODGE_HOST_OCI_PROTO_H
#define LODGE_HOST_OCI_PROTO_H

#include <stdint.h>

#define OCI_VSOCK_CID  3    /* the guest's CID */
#define OCI_PORT_MAIN  1024 /* host port: the container process's session */
#define OCI_PORT_EXEC  1025 /* guest port: exec sessions */
#define OCI_FRAME_MAX  65536
#define OCI_FIELDS_MAX 8

/* A frame: this header, then len bytes of payload (len <= OCI_FRAME_MAX). */
struct oci_frame_hdr {
	uint8_t type; /* enum oci_frame */
	uint8_t pad[3];
	uint32_t len;
};

enum oci_frame {
	/* host -> guest */
	OCI_F_SPEC = 1,	 /* launch records of the process to start */
	OCI_F_STDIN,	 /* bytes for the process's stdin (or its terminal) */
	OCI_F_STDIN_EOF, /* the host's stdin ended: close the process's stdin */
	OCI_F_SIGNAL,	 /* u32 signal number, delivered to the process */
	OCI_F_RESIZE,	 /* u16 rows, u16 columns of the process's terminal */
	/* guest -> host */
	OCI_F_STARTED, /* u32 the process's pid in the guest */
	OCI_F_STDOUT,  /* bytes the process wrote to stdout (or its terminal) */
	OCI_F_STDERR,  /* bytes it wrote to stderr */
	OCI_F_EXIT,    /* u32 wait status (exit code << 8, or the signal number) */
	OCI_F_ERROR,   /* text: why the process did not start; EXIT follows */
	/* guest -> host, main session only, before EXIT: the final state of read-write
	 * directory volumes (OCI_R_WRITEBACK), for the host to write back. */
	OCI_F_WB_BEGIN, /* u32 volume index N (/oci/volumes/N) */
	OCI_F_WB_ENTRY, /* struct oci_wb_entry, the path, then a symlink's target */
	OCI_F_WB_DATA,	/* the content of the last 'f' entry, in order, size bytes in all */
	OCI_F_WB_END,	/* the volume is complete: what was not listed was deleted */
	OCI_F_COUNT
};

/* One entry of a volume, parents before children. 's' entries are unchanged since the
 * guest booted (same inode, same ctime): only their path follows. */
struct oci_wb_entry {
	uint8_t kind; /* 's' same, 'f' file, 'd' directory, 'l' symlink */
	uint8_t pad[3];
	uint32_t mode, uid, gid;
	uint64_t mtime_sec;
	uint64_t size; /* file size, or the symlink target's length */
	uint32_t mtime_nsec;
	uint32_t pathlen; /* relative path, no leading '/', no "." or ".." */
};
#define OCI_WB_ENTRY_SIZE 40 /* no padding: offsets 0 4 8 12 16 24 32 36 */

/* Launch record tags. Process records (in SPEC): */
#define OCI_R_ARG      'a' /* 1 field: one argument, in order */
#define OCI_R_ENV      'e' /* 1 field: KEY=VALUE */
#define OCI_R_CWD      'c' /* 1 field: absolute path in the container */
#define OCI_R_UID      'u' /* 1 field: decimal */
#define OCI_R_GID      'g' /* 1 field: decimal */
#define OCI_R_GROUP    'G' /* 1 field: decimal supplementary group */
#define OCI_R_UMASK    'k' /* 1 field: octal */
#define OCI_R_TERMINAL 't' /* 0 fields: give the process a terminal */
#define OCI_R_NNP      'n' /* 0 fields: no_new_privs */
#define OCI_R_RLIMIT   'l' /* 3 fields: resource number, soft, hard (decimal; "-1" = infinity) */
/* Container records (in /oci/container): */
#define OCI_R_HOSTNAME	'H' /* 1 field */
#define OCI_R_MOUNT	'm' /* 4 fields: destination, type, source, options (comma list) */
#define OCI_R_READONLY	'r' /* 0 fields: remount the root read-only after the mounts */
#define OCI_R_PIDS	'p' /* 1 field: decimal pids limit for the container's processes */
#define OCI_R_SYSCTL	's' /* 2 fields: key (dotted), value */
#define OCI_R_WRITEBACK 'w' /* 1 field: N of a read-write /oci/volumes/N to send back */

#endif
