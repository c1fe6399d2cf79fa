/*
 * Software transmit offloads (see offload.h): RFC 1071 checksums and TCP segmentation
 * of IPv4 super-frames.
 */
#include "net/offload.h"

#include <errno.h>
#include <stdbool.h>
#include <string.h>

#define ETH_HLEN     14
#define VLAN_HLEN    4
#define ETH_P_IP     0x0800
#define ETH_P_8021Q  0x8100
#define IPPROTO_TCP_ 6
#define TCP_FIN	     0x01
#define TCP_PSH	     0x08
#define TCP_CWR	     0x80

static uint16_t get16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static void put32(uint8_t *p, uint32_t v)
{
	put16(p, (uint16_t)(v >> 16));
	put16(p + 2, (uint16_t)v);
}

uint32_t net_csum_add(const uint8_t *p, size_t len, uint32_t sum)
{
	uint64_t s = sum;
	size_t i = 0;

	/* Four bytes at a time into a 64-bit accumulator; the carries fold at the end. */
	for (; i + 4 <= len; i += 4)
		s += get32(p + i);
	for (; i + 2 <= len; i += 2)
		s += get16(p + i);
	if (i < len)
		s += (uint32_t)p[i] << 8;
	while (s >> 32)
		s = (s & 0xffffffffu) + (s >> 32);
	s = (s & 0xffff) + (s >> 16);
	s = (s & 0xffff) + (s >> 16);
	return (uint32_t)s;
}

uint16_t net_csum_fold(uint32_t sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

int net_csum_complete(uint8_t *frame, size_t len, size_t start, size_t offset)
{
	if (start > len || offset > len - start || len - start - offset < 2)
		return -EINVAL;
	put16(frame + start + offset, net_csum_fold(net_csum_add(frame + start, len - start, 0)));
	return 0;
}

/* Where the IPv4 header starts (after an optional VLAN tag), or 0 if not IPv4. */
static size_t ipv4_offset(const uint8_t *frame, size_t len)
{
	size_t off = ETH_HLEN;
	uint16_t type;

	if (len < ETH_HLEN)
		return 0;
	type = get16(frame + 12);
	if (type == ETH_P_8021Q) {
		if (len < ETH_HLEN + VLAN_HLEN)
			return 0;
		type = get16(frame + 16);
		off += VLAN_HLEN;
	}
	return type == ETH_P_IP ? off : 0;
}

int net_tso_segment(const uint8_t *frame, size_t len, unsigned mss, uint8_t *scratch,
		    void (*emit)(void *opaque, const uint8_t *seg, size_t seglen), void *opaque)
{
	size_t l3 = ipv4_offset(frame, len), ihl, l4, doff, hdrs, payload;
	uint16_t id;
	uint32_t seq;
	uint8_t flags;

	if (!l3 || mss < NET_TSO_MIN_MSS || len < l3 + 20)
		return -EINVAL;
	ihl = (size_t)(frame[l3] & 0xf) * 4;
	if ((frame[l3] >> 4) != 4 || ihl < 20 || frame[l3 + 9] != IPPROTO_TCP_ ||
	    len < l3 + ihl + 20)
		return -EINVAL;
	l4 = l3 + ihl;
	doff = (size_t)(frame[l4 + 12] >> 4) * 4;
	if (doff < 20 || len < l4 + doff)
		return -EINVAL;
	hdrs = l4 + doff;
	payload = len - hdrs;
	/* hdrs <= 18 + 60 + 60 by construction; segments must fit scratch and the IP
	 * length field. */
	if (payload > 65536)
		return -EINVAL;
	if (mss > 0xffff - ihl - doff)
		mss = (unsigned)(0xffff - ihl - doff);
	id = get16(frame + l3 + 4);
	seq = get32(frame + l4 + 4);
	flags = frame[l4 + 13];
	for (size_t off = 0, i = 0;; i++) {
		size_t n = payload - off < mss ? payload - off : mss;
		bool last = off + n >= payload;
		uint8_t *ip = scratch + l3, *tcp = scratch + l4, f = flags;
		uint8_t ph[12];
		uint32_t sum;

		memcpy(scratch, frame, hdrs);
		memcpy(scratch + hdrs, frame + hdrs + off, n);
		put16(ip + 2, (uint16_t)(ihl + doff + n));
		put16(ip + 4, (uint16_t)(id + i));
		put16(ip + 10, 0);
		put16(ip + 10, net_csum_fold(net_csum_add(ip, ihl, 0)));
		put32(tcp + 4, seq + (uint32_t)off);
		if (!last)
			f &= (uint8_t) ~(TCP_FIN | TCP_PSH);
		if (i)
			f &= (uint8_t)~TCP_CWR;
		tcp[13] = f;
		put16(tcp + 16, 0);
		memcpy(ph, ip + 12, 8); /* source and destination */
		ph[8] = 0;
		ph[9] = IPPROTO_TCP_;
		put16(ph + 10, (uint16_t)(doff + n));
		sum = net_csum_add(ph, sizeof(ph), 0);
		put16(tcp + 16, net_csum_fold(net_csum_add(tcp, doff + n, sum)));
		emit(opaque, scratch, hdrs + n);
		off += n;
		if (last)
			break;
	}
	return 0;
}
