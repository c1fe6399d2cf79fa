/*
 * Network backends: where a virtual NIC's Ethernet frames go on the host. A backend is
 * opened from its options on the machine's I/O thread's event loop, takes frames from
 * the guest (send), and hands frames for the guest to its peer, the NIC (struct
 * net_peer), from callbacks on that loop. Two kinds: "user" (libslirp: a NAT'ed network
 * with DHCP, DNS and host port forwards, no privileges needed) and "tap" (an existing
 * host tap interface).
 *
 * Frames are plain Ethernet frames, or, when the backend says so (vnet_hdr), preceded by
 * a 12-byte virtio_net_hdr (virtio 1.2, 5.1.6) that carries checksum and segmentation
 * offload information (a tap opened with IFF_VNET_HDR).
 *
 * Flow control: when the guest has no receive buffers, the peer's receive() returns
 * -EAGAIN; the backend then keeps that frame (and a bounded number behind it, or stops
 * reading its fd) until the peer calls rx_ready(). Likewise send() returns -EAGAIN when
 * the host cannot take a frame now, and the backend calls the peer's send_ready() later.
 *
 * Threads: everything runs on the loop thread, except open/close (main thread, loop not
 * running) and set_offloads (any thread). Nothing here blocks.
 */
#ifndef LODGE_NET_NET_H
#define LODGE_NET_NET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct evloop;
struct sbuf;
struct sreader;

/* The largest frame a backend or NIC handles: 64 KiB of IP (a segmentation-offload
 * super-frame) plus an Ethernet header with a VLAN tag. */
#define NET_MAX_FRAME (65536 + 18)
/* struct virtio_net_hdr with VIRTIO_F_VERSION_1 (num_buffers included). */
#define NET_VNET_HDR_LEN 12

/* Offloads the guest accepts in frames it receives (set_offloads): the host may then hand
 * over partially checksummed frames and TCP super-frames instead of finishing them. */
#define NET_OFFLOAD_CSUM 1u
#define NET_OFFLOAD_TSO4 2u
#define NET_OFFLOAD_TSO6 4u
#define NET_OFFLOAD_ECN	 8u

/* The NIC side of a backend. Callbacks run on the loop thread. */
struct net_peer {
	/* A frame for the guest ([vnet header] Ethernet frame, `len` bytes in all).
	 * Returns 0 when the frame was delivered or dropped, -EAGAIN when the guest has no
	 * room now: the backend keeps the frame and waits for rx_ready(). */
	int (*receive)(void *opaque, const uint8_t *buf, size_t len);
	/* After one or more receive() calls: the end of a batch (interrupt the guest). */
	void (*receive_flush)(void *opaque);
	/* A send() that returned -EAGAIN may be retried now. */
	void (*send_ready)(void *opaque);
	void *opaque;
};

struct net_backend;

struct net_backend_ops {
	/* Loop thread: a frame from the guest ([vnet header] Ethernet frame, `len` bytes).
	 * Returns 0 when it was sent or dropped, -EAGAIN when the host cannot take it now
	 * (the peer keeps it and retries after send_ready). */
	int (*send)(struct net_backend *nb, const uint8_t *buf, size_t len);
	/* Loop thread: the guest posted receive buffers; deliver held frames, read again. */
	void (*rx_ready)(struct net_backend *nb);
	/* Optional, any thread: the NET_OFFLOAD_* the guest accepts (0 after a reset). Only
	 * backends with vnet_hdr see a use for it. */
	void (*set_offloads)(struct net_backend *nb, unsigned offloads);
	/* Optional, loop thread (or the loop not running): the backend's own state for a
	 * snapshot; load restores it into a backend opened with the same options. Return 0
	 * or -errno (-EINVAL for a record it does not understand). */
	int (*save)(struct net_backend *nb, struct sbuf *out);
	int (*load)(struct net_backend *nb, struct sreader *in);
	/* Main thread, loop not running or the backend idle: frees everything. */
	void (*close)(struct net_backend *nb);
};

struct net_backend {
	const struct net_backend_ops *ops;
	const char *kind;      /* "user", "tap": in messages and saved state */
	struct net_peer peer;  /* set by the NIC right after open, before the loop runs */
	bool vnet_hdr;	       /* frames both ways start with a virtio_net_hdr */
	bool rx_csum_valid;    /* its frames for the guest carry correct checksums (it made
				  them), so the NIC may tell the driver not to check them */
	bool big_segments;     /* without vnet_hdr: it takes TCP/IPv4 packets of up to 64 KiB
				  (it is a TCP endpoint, not a wire), so a TSO super-frame
				  goes over whole instead of cut at the guest's MSS */
	struct net_hold *hold; /* replication: frames from the guest held back (below) */
};

/*
 * Holding the guest's frames back (Remus-style replication, machine/replicate.c): while
 * a hold is on, a backend's send() keeps each frame from the guest (at most
 * NET_HOLD_MAX bytes; more are dropped, as a wire may) instead of sending it. seal marks
 * the frames so far (a checkpoint covers them); release sends those, in order; stop
 * sends everything and ends the hold. Loop thread (or the loop not running).
 */
#define NET_HOLD_MAX (32u << 20)
int net_hold_start(struct net_backend *nb) __attribute__((warn_unused_result));
void net_hold_seal(struct net_backend *nb);
void net_hold_release(struct net_backend *nb);
void net_hold_stop(struct net_backend *nb);
/* Backends' send(): keeps the frame when holding (returns true). */
bool net_hold_frame(struct net_backend *nb, const uint8_t *buf, size_t len);

/* What a backend is opened from: the kind and its options as the user wrote them. */
#define NET_MAX_HOSTFWD 8

struct net_options {
	const char *kind; /* "user" or "tap" */
	/* user */
	const char *hostfwd[NET_MAX_HOSTFWD]; /* "[tcp|udp]:[ADDR]:PORT-[GADDR]:GPORT" */
	unsigned nhostfwd;
	const char *net;  /* "10.0.2.0/24" (NULL = default) */
	const char *host; /* "10.0.2.2": the host as the guest sees it */
	const char *dns;  /* "10.0.2.3": the DNS forwarder */
	/* tap */
	const char *ifname;
};

/* Opens a backend on `loop` (main thread, before the loop runs). On a bad option or a
 * host failure (no such tap, a port forward that cannot listen), returns -EINVAL or
 * -errno and writes one line into `err` that says what and why, starting with
 * "--net KIND: ". The caller sets (*out)->peer before the loop runs. */
int net_backend_open(struct evloop *loop, const struct net_options *opt, struct net_backend **out,
		     char *err, size_t errlen) __attribute__((warn_unused_result));

/* Closes a backend (NULL is a no-op). */
void net_backend_close(struct net_backend *nb);

/* The backends, for net_backend_open. */
int net_user_open(struct evloop *loop, const struct net_options *opt, struct net_backend **out,
		  char *err, size_t errlen) __attribute__((warn_unused_result));
/* Loads libslirp (which user networking loads on demand) now, while the host's libraries
 * are reachable: before a sandbox hides them or a seccomp filter forbids mapping them.
 * Returns 0, or a negative errno with one line in `err` naming the package to install. */
int net_user_preload(char *err, size_t errlen) __attribute__((warn_unused_result));
int net_tap_open(struct evloop *loop, const struct net_options *opt, struct net_backend **out,
		 char *err, size_t errlen) __attribute__((warn_unused_result));

#endif
