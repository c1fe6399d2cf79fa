/*
 * virtio-vsock (virtio 1.2, 5.10) with a host side in the style of Firecracker: guest
 * AF_VSOCK stream sockets are relayed to AF_UNIX stream sockets on the host.
 *   - Host-initiated: the device listens on the unix socket PATH. A host program connects,
 *     writes "CONNECT <port>\n", and the device opens a connection to guest port <port>;
 *     when the guest accepts, the device answers "OK <host port>\n" and relays bytes both
 *     ways (the host port is allocated from 2^30 upwards).
 *   - Guest-initiated: a guest connection to host CID 2, port P is relayed to the unix
 *     socket "PATH_P"; if nothing accepts there, the guest gets a reset.
 * Device type "virtio-vsock", option `--vsock CID,PATH`.
 */
#ifndef LODGE_DEVICES_VIRTIO_VSOCK_H
#define LODGE_DEVICES_VIRTIO_VSOCK_H

#include <stddef.h>
#include <stdint.h>

struct board;
struct device;

/* Packet header fields and values (virtio 1.2, 5.10.6). */
#define VSOCK_HOST_CID		    2u
#define VSOCK_HDR_SIZE		    44u
#define VSOCK_TYPE_STREAM	    1u
#define VSOCK_OP_REQUEST	    1u
#define VSOCK_OP_RESPONSE	    2u
#define VSOCK_OP_RST		    3u
#define VSOCK_OP_SHUTDOWN	    4u
#define VSOCK_OP_RW		    5u
#define VSOCK_OP_CREDIT_UPD	    6u
#define VSOCK_OP_CREDIT_REQ	    7u
#define VSOCK_SHUTDOWN_RCV	    1u
#define VSOCK_SHUTDOWN_SEND	    2u
#define VSOCK_EVENT_TRANSPORT_RESET 0u

/* What the device advertises per connection (buf_alloc), the largest packet payload it
 * takes or makes, how many connections it keeps, and where host ports start. */
#define VSOCK_BUF_ALLOC	      (256u << 10)
#define VSOCK_MAX_PKT	      (64u << 10)
#define VSOCK_MAX_CONNS	      64u
#define VSOCK_LOCAL_PORT_BASE (1u << 30)

/* Adds a virtio-vsock with guest CID `cid` (3 <= cid < 2^32 - 1) whose host side is the
 * unix socket `path` (created here; a stale socket left there is removed; anything else
 * there is an error). Call on the main thread before the I/O loop runs. On a
 * configuration error fills `err` with one line and returns -EINVAL; also -ENOSPC (no
 * virtio slot), -ENOMEM, or -errno of socket/bind/listen. */
int vsock_create(struct board *b, uint64_t cid, const char *path, struct device **out, char *err,
		 size_t errlen) __attribute__((warn_unused_result));

#endif
