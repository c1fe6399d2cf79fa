/*
 * Transmit offloads done in software, for backends that only take finished frames
 * (libslirp): completing a partial checksum (virtio-net's NEEDS_CSUM) and cutting a TCP
 * over IPv4 super-frame (GSO_TCPV4) into MSS-sized frames with their own IP and TCP
 * headers and checksums, as a NIC with TSO would. The emulated guest then spends its
 * (slow) cycles neither on checksums nor on per-segment work; the host does it at native
 * speed.
 *
 * Frames are Ethernet frames (an 802.1Q tag allowed) in host memory the caller owns; the
 * functions check every offset against the frame's length. Threads: any; no state.
 */
#ifndef LODGE_NET_OFFLOAD_H
#define LODGE_NET_OFFLOAD_H

#include <stddef.h>
#include <stdint.h>

/* The smallest segment size accepted (Linux's TCP_MIN_MSS): bounds the segments one
 * super-frame makes. */
#define NET_TSO_MIN_MSS 88

/* Internet checksum helpers: the one's complement sum of `len` bytes as big-endian
 * 16-bit words, added to `sum`; and its folded complement. */
uint32_t net_csum_add(const uint8_t *p, size_t len, uint32_t sum);
uint16_t net_csum_fold(uint32_t sum);

/* NEEDS_CSUM: sums frame[start, len) (the driver left the pseudo-header sum in the
 * checksum field) and stores the complement at start + offset. Returns 0, or -EINVAL when
 * the field lies outside the frame. */
int net_csum_complete(uint8_t *frame, size_t len, size_t start, size_t offset);

/* GSO_TCPV4: calls emit() with each segment of `frame` (payload at most `mss` bytes;
 * NET_TSO_WHOLE: as much as an IPv4 packet holds, so normally the whole super-frame as
 * one packet), built in `scratch` (at least NET_TSO_SCRATCH bytes). IP ids count up from
 * the super-frame's, sequence numbers advance, FIN and PSH stay on the last segment, CWR
 * on the first, and every IP and TCP checksum is computed. Returns 0, or -EINVAL when the
 * frame is not TCP over IPv4 with sane header lengths or mss is below NET_TSO_MIN_MSS
 * (nothing is emitted then). emit's result is not looked at. */
#define NET_TSO_WHOLE	0xffffffffu
#define NET_TSO_SCRATCH (18 + 60 + 60 + 65536)
int net_tso_segment(const uint8_t *frame, size_t len, unsigned mss, uint8_t *scratch,
		    void (*emit)(void *opaque, const uint8_t *seg, size_t seglen), void *opaque);

#endif
