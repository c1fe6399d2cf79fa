#!/usr/bin/env python3
"""Seed inputs for tests/fuzz/fuzz_virtq.c: small driver programs in its operation
format (the OP_* list there), from a correct virtio-rng request to the classic hostile
chains, and some regression inputs. Writes one file per input into the directories given
(default tests/fuzz/corpus/fuzz_virtq and tests/fuzz/regressions/virtq).
"""
import os
import struct
import sys

(DEVICE, WRITE32, WRITE, READ, RAM, DESC, IND_DESC, QUEUE, HANDSHAKE, OFFER, AVAIL_IDX,
 NOTIFY, RESET, ACK, RESET_MID, CONFIG, SNAPSHOT) = range(17)
F_NEXT, F_WRITE, F_INDIRECT = 1, 2, 4
SIZE8 = 3  # index of 8 in the target's queue size table


def addr(off):  # RAM_BASE + off
    return struct.pack('<BH', 0, off)


def odd_addr(i):  # one of the target's odd addresses
    return struct.pack('<BB', 6, i)


def length(n):
    return struct.pack('<BH', 0, n) if n < 4096 else struct.pack('<BI', 7, n)


def desc(q, i, buf, n, flags, nxt=0):
    return bytes([DESC, q]) + struct.pack('<H', i) + buf + length(n) + \
        bytes([flags]) + struct.pack('<H', nxt)


def ind_desc(table, i, buf, n, flags, nxt=0):
    return bytes([IND_DESC]) + table + struct.pack('<H', i) + buf + length(n) + \
        bytes([flags]) + struct.pack('<H', nxt)


def queue(q, size=SIZE8, d=addr(0x1000), a=addr(0x2000), u=addr(0x3000), ready=0):
    return bytes([QUEUE, q, size]) + d + a + u + bytes([ready])


def handshake(steps, feat=~0 & (2**64 - 1)):
    return bytes([HANDSHAKE, steps]) + struct.pack('<Q', feat)


def offer(q, head, count=1):
    return bytes([OFFER, q]) + struct.pack('<H', head) + bytes([count])


def notify(q):
    return bytes([NOTIFY, q])


def hostile(patches, cut=None):
    """A hostile restore: the device's saved state with bytes set ((offset, value) each)
    and maybe cut to `cut` bytes, loaded after a reset."""
    b = bytes([SNAPSHOT, 0xf0, len(patches)])
    for off, val in patches:
        b += struct.pack('<HB', off, val)
    return b + (bytes([1]) + struct.pack('<H', cut) if cut is not None else bytes([0]))


# reset, ACK, DRIVER, features (offered ones), FEATURES_OK; then a queue; then DRIVER_OK
START = handshake(0x20 | 0x40 | 1 | 2 | 4 | 8)
RNG_START = bytes([DEVICE, 4]) + START
GO = handshake(1 | 2 | 8 | 16)


def setup(**kw):  # virtio-rng
    return RNG_START + queue(0, **kw) + GO


RNG, BLK, BALLOON, VSOCK = 4, 2, 5, 19  # device IDs: OP_DEVICE picks by ID


def device(i):
    return bytes([DEVICE, i])


def ram(off, data):
    return bytes([RAM]) + addr(off) + bytes([len(data)]) + data


def vsock_hdr(op):  # guest CID 3 (the target's --vsock 3,...) to the host, port 5678
    return struct.pack('<QQIIIHHIII', 3, 2, 1234, 5678, 0, 1, op, 0, 65536, 0)


def setup_q(q, base):
    return queue(q, d=addr(base), a=addr(base + 0x400), u=addr(base + 0x800))


SEEDS = {
    'rng_ok': setup() + desc(0, 0, addr(0x8000), 64, F_WRITE) + offer(0, 0) + notify(0),
    'rng_two': setup() + desc(0, 0, addr(0x8000), 16, F_NEXT, 1) +
    desc(0, 1, addr(0x8100), 64, F_WRITE) + offer(0, 0) + notify(0) +
    bytes([ACK]) + struct.pack('<I', 3),
    'loop': setup() + desc(0, 0, addr(0x8000), 8, F_WRITE | F_NEXT, 1) +
    desc(0, 1, addr(0x8000), 8, F_WRITE | F_NEXT, 0) + offer(0, 0) + notify(0) +
    bytes([RESET]) + setup() + desc(0, 0, addr(0x8000), 64, F_WRITE) + offer(0, 0) +
    notify(0),
    'huge_len': setup() + desc(0, 0, addr(0x8000), 0xffffffff, F_WRITE) + offer(0, 0) +
    notify(0),
    'mmio_buf': setup() + desc(0, 0, odd_addr(4), 64, F_WRITE) + offer(0, 0) + notify(0),
    'indirect': setup() + desc(0, 0, addr(0x4000), 32, F_INDIRECT) +
    ind_desc(addr(0x4000), 0, addr(0x8000), 8, F_NEXT, 1) +
    ind_desc(addr(0x4000), 1, addr(0x8100), 64, F_WRITE) + offer(0, 0) + notify(0),
    'indirect_nested': setup() + desc(0, 0, addr(0x4000), 32, F_INDIRECT) +
    ind_desc(addr(0x4000), 0, addr(0x4000), 32, F_INDIRECT) + offer(0, 0) + notify(0),
    'end_of_ram': setup(u=struct.pack('<BB', 5, 40)) + desc(0, 0, addr(0x8000), 64, F_WRITE) +
    offer(0, 0) + notify(0),
    'jump': setup() + desc(0, 0, addr(0x8000), 64, F_WRITE) + offer(0, 0, 200) + notify(0),
    'reset_mid': setup() + desc(0, 0, addr(0x8000), 64, F_WRITE) + offer(0, 0) +
    bytes([RESET_MID, 0]) + setup() + desc(0, 0, addr(0x8000), 64, F_WRITE) +
    offer(0, 0) + notify(0),
    'no_features_ok': device(RNG) + handshake(0x20 | 1 | 2) + queue(0) + handshake(1 | 2 | 16) +
    desc(0, 0, addr(0x8000), 64, F_WRITE) + offer(0, 0) + notify(0),
    # virtio-balloon: inflate two RAM pages (page numbers of RAM_BASE + 0xc000..)
    'balloon_inflate': device(BALLOON) + START + queue(0) + GO +
    ram(0x8000, struct.pack('<II', 0x8000c, 0x8000d)) +
    desc(0, 0, addr(0x8000), 8, 0) + offer(0, 0) + notify(0),
    # virtio-vsock: a connection request nobody accepts; the RST comes on the rx queue
    'vsock_request': device(VSOCK) + START + setup_q(0, 0x1000) + setup_q(1, 0x2000) + GO +
    desc(0, 0, addr(0x9000), 256, F_WRITE) + offer(0, 0) + notify(0) +
    ram(0x8000, vsock_hdr(1)) + desc(1, 0, addr(0x8000), 44, 0) + offer(1, 0) + notify(1),
    # virtio-blk: write sector 1 from a buffer, read it back, flush
    'blk_rw': device(BLK) + START + queue(0) + GO +
    ram(0x8000, struct.pack('<IIQ', 1, 0, 1)) + ram(0x8100, struct.pack('<IIQ', 0, 0, 1)) +
    ram(0x8200, struct.pack('<IIQ', 4, 0, 0)) +
    desc(0, 0, addr(0x8000), 16, F_NEXT, 1) + desc(0, 1, addr(0xa000), 512, F_NEXT, 2) +
    desc(0, 2, addr(0x8800), 1, F_WRITE) +
    desc(0, 3, addr(0x8100), 16, F_NEXT, 4) + desc(0, 4, addr(0xb000), 512, F_WRITE | F_NEXT, 5) +
    desc(0, 5, addr(0x8801), 1, F_WRITE) +
    desc(0, 6, addr(0x8200), 16, F_NEXT, 7) + desc(0, 7, addr(0x8802), 1, F_WRITE) +
    offer(0, 0) + offer(0, 3) + offer(0, 6) + notify(0) + notify(0),
    'widths': device(RNG) + bytes([WRITE]) + struct.pack('<HBQ', 0x70, 0, 1) +
    bytes([WRITE]) + struct.pack('<HBQ', 0x70, 3, 3) +
    bytes([READ]) + struct.pack('<HB', 0x02, 1) + bytes([CONFIG]) +
    struct.pack('<HBBQ', 0x10, 3, 1, 0xdeadbeef),
}


# Each running device restored from a state made hostile (a queue's fields, its indexes,
# the device's own record), then notified: the load refuses it or the device runs on it.
# Offsets are into the device's record: virtio.c's transport record (u32 version, u64
# features, u32 status, isr, config generation, two feature selectors, queue selector,
# u32 queues, then per queue u32 size, u64 desc, avail and used addresses, u8 flags,
# u16 last_avail, used_idx, signalled) after blk's u32 version and u64 capacity.
for name, patches in (('rng_ok', [(40, 0x80)]), ('rng_ok', [(69, 0xff), (70, 0x7f)]),
                      ('loop', [(44, 0xf8)]), ('blk_rw', [(41 + 12, 0xff)]),
                      ('blk_rw', [(81 + 12, 0x05)]), ('vsock_request', [(53, 0xff)]),
                      ('balloon_inflate', [(61, 0x01)])):
    SEEDS['%s_hostile_%d' % (name, patches[0][0])] = SEEDS[name] + hostile(patches) + \
        notify(0) + notify(1)
SEEDS['rng_ok_hostile_cut'] = SEEDS['rng_ok'] + hostile([], cut=50) + notify(0)

# Inputs that found bugs (tests/fuzz/regressions/README says which), written by hand from
# what the fuzzer's inputs did.
REGRESSIONS = {
    # virtio-blk: the queue disabled while a read is at the disk, then a notify elsewhere
    'blk_disable_inflight': device(BLK) + START + queue(0) + GO +
    ram(0x8100, struct.pack('<IIQ', 0, 0, 1)) +
    desc(0, 0, addr(0x8100), 16, F_NEXT, 1) + desc(0, 1, addr(0xb000), 512, F_WRITE | F_NEXT, 2) +
    desc(0, 2, addr(0x8801), 1, F_WRITE) + offer(0, 0) + bytes([NOTIFY, 0x40]) +
    bytes([WRITE32, 0x44 // 4]) + struct.pack('<I', 0) + bytes([NOTIFY, 5]),
    # ... and set up again with new rings before the read completes
    'blk_reenable_inflight': device(BLK) + START + queue(0) + GO +
    ram(0x8100, struct.pack('<IIQ', 0, 0, 1)) +
    desc(0, 0, addr(0x8100), 16, F_NEXT, 1) + desc(0, 1, addr(0xb000), 512, F_WRITE | F_NEXT, 2) +
    desc(0, 2, addr(0x8801), 1, F_WRITE) + offer(0, 0) + bytes([NOTIFY, 0x40]) +
    bytes([WRITE32, 0x44 // 4]) + struct.pack('<I', 0) +
    queue(0, d=addr(0x4000), a=addr(0x5000), u=addr(0x6000)) + bytes([NOTIFY, 0]),
    # virtio-rng restored from a state whose InterruptStatus holds 0x1f00
    'hostile-load-isr': setup() + hostile([(17, 0x1f)]),
}


def write(out, inputs):
    os.makedirs(out, exist_ok=True)
    for name, data in inputs.items():
        with open(os.path.join(out, name), 'wb') as f:
            f.write(data)


def main():
    write(sys.argv[1] if len(sys.argv) > 1 else 'tests/fuzz/corpus/fuzz_virtq', SEEDS)
    write(sys.argv[2] if len(sys.argv) > 2 else 'tests/fuzz/regressions/virtq', REGRESSIONS)


if __name__ == '__main__':
    main()
