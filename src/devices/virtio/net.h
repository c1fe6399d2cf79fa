/*
 * virtio-net (virtio 1.2, 5.1): a NIC with one receive queue (0) and one transmit queue
 * (1) in front of a network backend (net/net.h: user-mode networking or a tap). The
 * device type "virtio-net" is added by `--net user|tap[,OPTIONS]`, once per NIC.
 */
#ifndef LODGE_DEVICES_VIRTIO_NET_H
#define LODGE_DEVICES_VIRTIO_NET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct board;
struct device;
struct net_backend;
struct ratelimiter_cfg;

/* Feature bits (5.1.3). */
#define VIRTIO_NET_F_CSUM	0  /* the device completes partial checksums (tx) */
#define VIRTIO_NET_F_GUEST_CSUM 1  /* the driver takes partially checksummed frames (rx) */
#define VIRTIO_NET_F_MAC	5  /* config.mac is the NIC's address */
#define VIRTIO_NET_F_GUEST_TSO4 7  /* the driver takes TCPv4 super-frames */
#define VIRTIO_NET_F_GUEST_TSO6 8  /* ... TCPv6 */
#define VIRTIO_NET_F_GUEST_ECN	9  /* ... with ECN */
#define VIRTIO_NET_F_HOST_TSO4	11 /* the device segments TCPv4 super-frames (tx) */
#define VIRTIO_NET_F_HOST_TSO6	12
#define VIRTIO_NET_F_HOST_ECN	13
#define VIRTIO_NET_F_MRG_RXBUF	15 /* a received frame may span several buffers */
#define VIRTIO_NET_F_STATUS	16 /* config.status holds the link state */

/* struct virtio_net_hdr (5.1.6), little-endian, 12 bytes with VERSION_1. */
#define VIRTIO_NET_HDR_F_NEEDS_CSUM 1
#define VIRTIO_NET_HDR_F_DATA_VALID 2
#define VIRTIO_NET_HDR_GSO_NONE	    0
#define VIRTIO_NET_HDR_GSO_TCPV4    1
#define VIRTIO_NET_HDR_GSO_TCPV6    4
#define VIRTIO_NET_HDR_GSO_ECN	    0x80

#define VIRTIO_NET_S_LINK_UP 1

#define VNET_QUEUE_SIZE	 256
#define VNET_CONFIG_SIZE 10 /* mac[6], status, max_virtqueue_pairs */

/* Adds a NIC to board `b` with address `mac`, in front of backend `nb` (ownership passes:
 * on failure nb is closed too). Its name is "virtio-netN", N counting the NICs already on
 * the board. Main thread, before the board's loop runs. Returns 0, -ENOSPC (no virtio
 * slot left), -ENOMEM. */
int vnet_create(struct board *b, const uint8_t mac[6], struct net_backend *nb, struct device **out)
	__attribute__((warn_unused_result));

/* Rate limits for each direction (core/tbucket.h; all zero: none). Main thread, after
 * vnet_create and before the board's loop runs. Returns 0 or -ENOMEM. */
int vnet_set_limits(struct device *dev, const struct ratelimiter_cfg *rx,
		    const struct ratelimiter_cfg *tx) __attribute__((warn_unused_result));

/* The backend of a virtio-net device (NULL for another device): replication holds its
 * frames back (net/net.h net_hold_*). */
struct net_backend *vnet_backend(struct device *dev);

/* The bytes of the Ethernet frames (no virtio header) the NIC gave the guest and the guest
 * sent since it was made (GET /vm's stats); false when dev is no virtio-net device. Any
 * thread. */
bool vnet_io_bytes(const struct device *dev, uint64_t *rx_out, uint64_t *tx_out);

/* Parses "52:54:00:12:34:56" (six hex bytes, ':' between). False for anything else,
 * and for multicast or all-zero addresses, which no NIC may have. */
bool vnet_parse_mac(const char *s, uint8_t mac[6]);

/* Checks the options of one --net (as `lodge run` takes them, "user,hostfwd=..." or
 * "tap,ifname=NAME") without opening anything: 0, or -EINVAL with err saying why. */
int vnet_check_args(const char *args, char *err, size_t errlen);

#endif
