"""Continuous replication and failover of system VMs (docs/SNAPSHOT.md "Replication").

  failover        three rounds: a primary (the default guest with a raw disk whose
                  sector 0 is marked so /init neither formats nor mounts it) is
                  replicated every 50 ms to `lodge run --standby tcp:127.0.0.1:PORT` (its
                  own copy of the disk, copied before the primary started); in the guest
                  diskrec.c writes record n to sector n of /dev/vda, fsyncs, prints
                  "ack n", and memcheck (tests/migrate) rewrites and checks 8 MiB; the
                  primary is killed with SIGKILL at a random time, PUT /failover on the
                  standby; every n whose ack the primary's console showed is on the
                  standby's disk, the standby's guest goes on (acks after the last one
                  seen, never one seen again; memcheck counts on, never BAD)
  failover_auto   the same once with --failover auto:1000 (no PUT /failover)
  corrupt         a proxy between primary and standby flips one byte of checkpoint 3:
                  the standby refuses it and takes over from checkpoint 2, whose guest
                  runs; the primary says the standby is gone and runs on
  incomplete      the proxy drops one section of checkpoint 3 (every section's own CRC
                  is right, COMMIT's count is not): taken over from checkpoint 2
  truncated       the proxy ends the stream inside checkpoint 3: taken over from 2
  slow_apply      the standby (test build, LODGE_TEST_HOOK=slow-apply) takes 15 s to apply
                  the first checkpoint, sending progress frames: the primary waits past
                  the stream's 10 s timeout (first_checkpoint_us > 10 s), replication goes
                  on (20 more checkpoints, Replicating, no error); then the standby is
                  stopped (SIGSTOP): the primary still gives it up within 60 s
  standby_gone    the standby is killed: the primary logs that it runs on unprotected,
                  GET /replicate says Stopped with the reason, its output flows again
  bad_stream      a stream of another version, and a live-migration stream, sent to
                  --standby: exit 125 with one line; nothing committed, nothing run
  daemon          two daemons: lodge create stby --standby --disk COPY (state incoming;
                  lodge failover refused before any stream), lodge replicate prim (with
                  its disk) to a closed port (one line, fails) then to stby; memcheck and
                  diskrec under replication; lodge kill prim, lodge failover stby:
                  running, memcheck counts on, never a count seen before, never BAD;
                  diskrec writes on, every record acknowledged on the primary is on COPY
  api             interval_ms out of range and a destination that is no HOST:PORT: 400;
                  PUT /failover on a guest that is no standby: 409; GET /replicate
                  before any: 404; a port nobody listens on: 502, the guest runs on
"""
import json
import os
import random
import re
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
import zlib

TOP = os.environ.get("LODGE_TOP") or os.path.abspath(os.path.join(os.path.dirname(__file__), "../.."))
sys.path.insert(0, os.path.join(TOP, "tests/snapshot"))
from lib import Guest, api, drop_daemon_cgroups  # noqa: E402

sys.path.insert(0, os.path.join(TOP, "tests/migrate"))
import initrd as initrd_mod  # noqa: E402

OUT = os.path.join(TOP, "guest-cache/out")
LODGE = os.environ.get("LODGE") or os.path.join(TOP, "build/asan/lodge")
REL = os.environ.get("REPLICATE_LODGE") or os.path.join(TOP, "build/release/lodge")
if not os.access(REL, os.X_OK):
    REL = LODGE
CC = os.environ.get("GUEST_CC", "riscv64-linux-gnu-gcc")
DISK_MB = 64
SEC_COMMIT = 0x108

tmp = tempfile.mkdtemp(prefix="lodge-replicate-suite.")
guests = []


def result(name, why):
    if why:
        print("FAIL: replicate.%s: %s" % (name, why.strip("; ")), flush=True)
    else:
        print("PASS: replicate.%s" % name, flush=True)


def build_initrd():
    """The default initramfs with /bin/memcheck and /bin/diskrec added."""
    path, why = initrd_mod.build(tmp)
    if not path:
        return None, why
    exe = os.path.join(tmp, "diskrec")
    r = subprocess.run([CC, "-O2", "-static", "-o", exe,
                        os.path.join(TOP, "tests/replicate/diskrec.c")],
                       capture_output=True, text=True)
    if r.returncode:
        return None, "cannot build diskrec.c: " + r.stderr[-300:]
    base = open(path, "rb").read()
    extra = initrd_mod.newc("bin/diskrec", open(exe, "rb").read(), 0o100755)
    extra += initrd_mod.newc("TRAILER!!!", b"", 0)
    with open(path, "wb") as f:
        f.write(base + b"\0" * (-len(base) % 4) + extra)
    return path, ""


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def start(args, sock, lodge=None, env=None):
    g = Guest(lodge or REL, args, os.path.join(tmp, sock), env=env)
    guests.append(g)
    return g


def boot_args(initrd, disk):
    return ["--kernel", OUT + "/Image", "--initrd", initrd, "--firmware",
            OUT + "/fw_dynamic.bin", "--timeout", "900", "--disk", disk + ",format=raw"]


# Sector 0 of the disks (diskrec writes from sector 1). A blank /dev/vda is formatted
# (mke2fs, 1 KiB blocks) and mounted on /mnt by the default guest's /init: the file
# system's own later writes (ext4lazyinit setting a group descriptor's INODE_ZEROED flag in
# block 2, that is record 4's sector) then landed on diskrec's records, which looked like
# Lodge corrupting the disk. A non-blank, non-ext4 first sector keeps /init off the disk.
DISK_MARK = b"lodge tests/replicate: raw records, no file system\n"


def new_disks(name):
    """The primary's image and the standby's copy of it, both as the primary starts."""
    p, s = os.path.join(tmp, name + "-p.img"), os.path.join(tmp, name + "-s.img")
    with open(p, "wb") as f:
        f.truncate(DISK_MB << 20)
        f.write(DISK_MARK)
    shutil.copyfile(p, s)
    return p, s


def acks(text):
    # (terminal escapes first: the prompt's cursor query, ESC [6n, ends in a letter)
    text = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", text)
    return [int(n) for n in re.findall(r"(?<![A-Za-z])ack (\d+)$", text, re.M)]


# A repeat shows in the first number the standby's guest prints after taking over (its
# programs count up from where the checkpoint left them), not in the smallest one: a
# kernel message printed in the middle of a line cuts it, e.g. "ack 13" + message + "5",
# which reads as an "ack 13".
def first(numbers):
    return numbers[0] if numbers else None


def counts(text):
    text = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", text)
    return [int(n) for n in re.findall(r"(?<![A-Za-z])CNT (\d+) OK$", text, re.M)]


# count_on: the standby's guest goes on from its last committed checkpoint, which is past
# what the primary's console showed by the output of up to a checkpoint or two (the
# primary died before it had the standby's acknowledgement and released that output).
# On a loaded host a checkpoint takes longer, so memcheck and diskrec print dozens of
# lines between two: the standby's first count can be past "the last one seen + 10", a
# line the standby never prints. So the standby counts (and writes) on when it printed
# so many of its own; that none of them was seen before is checked apart.


def record_ok(img, n):
    with open(img, "rb") as f:
        f.seek(n * 512)
        rec = f.read(512)
    want = ("REC %d" % n).encode()
    want = want + b"\0" * (32 - len(want)) + bytes((n * 31 + i) & 0xff for i in range(32, 512))
    return rec == want


def boot_primary(name, initrd, disk, interval, port, extra=()):
    """Boots the primary, replicates it to 127.0.0.1:port, starts the workload."""
    g = start(boot_args(initrd, disk) + list(extra), name + "-p.sock")
    if not g.wait_api(30):
        return g, "no control socket: " + g.errtext()[-300:]
    if not g.wait_for(r"Leaving this shell", 300):
        return g, "no shell prompt: " + g.text()[-300:]
    if re.search(r"EXT\d-fs \(vda\): mounted", g.text()):
        return g, "the guest mounted /dev/vda (its file system would write over the records)"
    end = time.time() + 60
    while True:
        st, body = api(g.api_sock, "PUT", "/replicate",
                       {"destination": "127.0.0.1:%d" % port, "interval_ms": interval},
                       timeout=300)
        if st == 204:
            break
        if time.time() > end or g.p.poll() is not None:
            return g, "PUT /replicate: %s %s (%s)" % (st, body, g.errtext()[-300:])
        time.sleep(0.5)  # the standby may not listen yet
    g.send("memcheck 8 64 & diskrec /dev/vda &\n")
    if not g.wait_for(r"^ack 20$", 120) or not g.wait_for(r"^CNT 3 OK$", 120):
        return g, "the workload did not run: " + g.text()[-300:]
    return g, ""


def standby(name, disk, port, extra=(), lodge=None, env=None):
    s = start(["--standby", "tcp:127.0.0.1:%d" % port, "--standby-disk", disk] + list(extra),
              name + "-s.sock", lodge, env)
    if not s.wait_api(30):
        return s, "the standby has no control socket: " + s.errtext()[-300:]
    return s, ""


def check_takeover(p, s, simg, seen_acks, seen_cnt, expect_ckpt=None):
    """After the primary is gone and failover was asked for (or is automatic)."""
    why = ""
    m = s.wait_for(r"^ack \d+$", 120)
    if not m:
        return "the standby's guest printed no ack after taking over: %s %s" % (
            s.text()[-300:], s.errtext()[-400:])
    last = max(seen_acks)
    if not wait_until(lambda: len(acks(s.text())) >= 30, 120):  # see count_on
        why += "; the standby's guest did not write on: %s %s" % (s.text()[-200:],
                                                                s.errtext()[-300:])
    if not s.wait_for(r"^CNT \d+ OK$", 120):
        why += "; memcheck did not go on at the standby"
    took = re.search(r"taking over from checkpoint (\d+)", s.errtext())
    if not took:
        why += "; the standby did not say which checkpoint it took over from: " + \
            s.errtext()[-300:]
    elif expect_ckpt is not None and int(took.group(1)) != expect_ckpt:
        why += "; took over from checkpoint %s, not %d" % (took.group(1), expect_ckpt)
    s.kill()
    st_acks = acks(s.text())
    if st_acks and first(st_acks) <= last:
        why += "; ack %d, seen from the primary, came again from the standby (primary: %s; " \
            "standby: %s)" % (first(st_acks), p.errtext()[-300:], s.errtext()[-300:])
    if "BAD" in s.text():
        why += "; memcheck found a bad page at the standby: %s" % \
            re.findall(r"CNT \d+ BAD.*", s.text())[:2]
    st_cnt = counts(s.text())
    if seen_cnt and st_cnt and first(st_cnt) <= max(seen_cnt):
        why += "; CNT %d came again from the standby" % first(st_cnt)
    missing = [n for n in seen_acks if not record_ok(simg, n)]
    if missing:
        pimg = simg.replace("-s.img", "-p.img")
        why += "; %d acknowledged records are not on the standby's disk: %s (on the " \
            "primary's: %s)" % (len(missing), missing[:10],
                                [n for n in missing[:10] if record_ok(pimg, n)])
        with open(simg, "rb") as f:
            f.seek(missing[0] * 512)
            got = f.read(512)
        n = missing[0]
        want = ("REC %d" % n).encode()
        want = want + b"\0" * (32 - len(want)) + bytes((n * 31 + i) & 0xff for i in range(32, 512))
        diff = [i for i in range(512) if i >= len(got) or got[i] != want[i]]
        why += " (there: %r..., %d bytes differ from %d to %d: %r)" % (
            got[:12], len(diff), diff[0], diff[-1], got[diff[0]:diff[0] + 16])
    return why


def round_(name, initrd, auto):
    pimg, simg = new_disks(name)
    port = free_port()
    s, why = standby(name, simg, port, ["--failover", "auto:1000"] if auto else [])
    if why:
        return why
    p, why = boot_primary(name, initrd, pimg, 50, port)
    if why:
        return why + "; standby: " + s.errtext()[-300:]
    time.sleep(random.uniform(0.2, 3.0))
    os.kill(p.p.pid, signal.SIGKILL)
    p.kill()
    seen = acks(p.text())
    seen_cnt = counts(p.text())
    if not auto:
        time.sleep(random.uniform(0, 0.5))
        st, body = api(s.api_sock, "PUT", "/failover")
        if st != 204:
            return "PUT /failover: %s %s" % (st, body)
    why = check_takeover(p, s, simg, seen, seen_cnt)
    print("# %s: %d acks seen from the primary (last %d); %s" % (
        name, len(seen), max(seen), (re.findall(r"taking over from checkpoint \d+",
                                                s.errtext()) or ["?"])[0]), flush=True)
    return why


def t_failover(initrd):
    why = ""
    for i in range(3):
        w = round_("round%d" % i, initrd, False)
        if w:
            why += "; round %d: %s" % (i, w)
    result("failover", why)


def t_failover_auto(initrd):
    result("failover_auto", round_("auto", initrd, True))


class Proxy:
    """Forwards the replication stream, section by section; once armed, damages the next
    checkpoint in the way `how` says ("flip" a byte, "drop" a section, "truncate" the
    stream inside it); the standby's answers go back unchanged."""

    def __init__(self, to_port, how):
        self.ls = socket.socket()
        self.ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.ls.bind(("127.0.0.1", 0))
        self.ls.listen(1)
        self.port = self.ls.getsockname()[1]
        self.to_port, self.how = to_port, how
        self.armed = False
        self.damaged = None  # the number of the checkpoint damaged
        threading.Thread(target=self.run, daemon=True).start()

    def run(self):
        a, _ = self.ls.accept()
        b = socket.create_connection(("127.0.0.1", self.to_port))
        threading.Thread(target=self.back, args=(b, a), daemon=True).start()

        def read(n):
            buf = b""
            while len(buf) < n:
                k = a.recv(n - len(buf))
                if not k:
                    raise EOFError
                buf += k
            return buf
        try:
            b.sendall(read(24))  # the stream header (version 3: with its nonce)
            epoch, in_ckpt, target = None, 0, None
            while True:
                h = read(24)
                typ, _, ln = struct.unpack("<IIQ", h[:16])
                data = read(ln)
                if typ == 0x106:
                    epoch, in_ckpt = struct.unpack("<Q", data)[0], 0
                    if self.armed and target is None:
                        target = epoch
                in_ckpt += 1
                if epoch is not None and epoch == target and in_ckpt == 3:
                    self.damaged = epoch
                    mid = len(data) // 2
                    if self.how == "flip":
                        data = data[:mid] + bytes([data[mid] ^ 1]) + data[mid + 1:]
                    elif self.how == "drop":
                        continue
                    elif self.how == "truncate":
                        b.sendall(h + data[:mid])
                        b.shutdown(socket.SHUT_RDWR)
                        a.close()
                        return
                b.sendall(h + data)
        except (EOFError, OSError):
            pass

    def back(self, b, a):
        try:
            while True:
                k = b.recv(65536)
                if not k:
                    break
                a.sendall(k)
        except OSError:
            pass
        try:
            a.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass


def t_damaged(initrd, name, how):
    pimg, simg = new_disks(name)
    port = free_port()
    s, why = standby(name, simg, port)
    if why:
        return result(name, why)
    px = Proxy(port, how)
    p, why = boot_primary(name, initrd, pimg, 50, px.port)
    if why:
        return result(name, why + "; standby: " + s.errtext()[-300:])
    # What the primary showed so far, its standby acknowledged: it must survive.
    covered, covered_cnt = acks(p.text()), counts(p.text())
    px.armed = True
    if not wait_err(s, r"waiting for PUT /failover", 60):
        return result(name, "the standby did not notice the damage: " + s.errtext()[-400:])
    # "drop" takes the checkpoint's third section away: a PAGES section when the guest
    # wrote enough in that interval (the checkpoint is then incomplete), else its first
    # hart's (the harts and devices are then out of order); either way it is not committed
    want = {"flip": r"fails its checksum",
            "drop": r"incomplete or fails its checksum: not committed|"
                    r"hart or device state out of order",
            "truncate": r"the stream ended inside a section"}[how]
    if not re.search(want, s.errtext()):
        why += "; the standby did not say why (%s): %s" % (want, s.errtext()[-300:])
    # The primary runs on, unprotected, once its standby is gone.
    if not wait_err(p, r"replication to \S+ failed: .*runs on unprotected", 60):
        why += "; the primary did not say that it runs on unprotected: " + p.errtext()[-300:]
    last = max(acks(p.text()))
    if not p.wait_for(r"^ack %d$" % (last + 20), 60):
        why += "; the primary's guest did not go on (or its output stays held)"
    os.kill(p.p.pid, signal.SIGKILL)
    p.kill()
    st, body = api(s.api_sock, "PUT", "/failover")
    if st != 204:
        return result(name, why + "; PUT /failover: %s %s" % (st, body))
    if px.damaged is None:
        return result(name, why + "; the proxy damaged nothing")
    why += check_takeover(p, s, simg, covered, covered_cnt, expect_ckpt=px.damaged - 1)
    print("# %s: checkpoint %d damaged, %d acks covered" % (name, px.damaged, len(covered)),
          flush=True)
    result(name, why)


def wait_err(g, pattern, timeout):
    end = time.time() + timeout
    rx = re.compile(pattern)
    while time.time() < end:
        if rx.search(g.errtext()):
            return True
        time.sleep(0.1)
    return False


def t_standby_gone(initrd):
    pimg, simg = new_disks("gone")
    port = free_port()
    s, why = standby("gone", simg, port)
    if why:
        return result("standby_gone", why)
    p, why = boot_primary("gone", initrd, pimg, 50, port)
    if why:
        p.kill()
        return result("standby_gone", why)
    os.kill(s.p.pid, signal.SIGKILL)
    s.kill()
    if not wait_err(p, r"replication to 127\.0\.0\.1:\d+ failed: .*runs on unprotected", 60):
        why += "; no log line that the primary runs on unprotected: " + p.errtext()[-300:]
    last = max(acks(p.text()))
    if not p.wait_for(r"^ack %d$" % (last + 50), 60):
        why += "; the guest's output did not flow again"
    st, body = api(p.api_sock, "GET", "/replicate")
    if st != 200 or body.get("state") != "Stopped" or "gone" not in body.get("error", ""):
        why += "; GET /replicate: %s %s" % (st, body)
    p.kill()
    result("standby_gone", why)


def t_slow_apply(initrd):
    """A standby slower than the stream's 10 s timeout that works on is not dead."""
    pimg, simg = new_disks("slow")
    port = free_port()
    env = dict(os.environ, LODGE_TEST_HOOK="slow-apply")  # only the test build has it
    s, why = standby("slow", simg, port, lodge=LODGE, env=env)
    if why:
        return result("slow_apply", why)
    t0 = time.time()
    p, why = boot_primary("slow", initrd, pimg, 50, port)
    if why:
        p.kill()
        return result("slow_apply", why + "; standby: " + s.errtext()[-300:])
    st, body = api(p.api_sock, "GET", "/replicate")
    first = body.get("first_checkpoint_us", 0) if st == 200 else 0
    if first < 10_000_000:
        why += "; the first checkpoint took %d us, not over the 10 s timeout (hook not " \
            "in this build? %s): %s %s" % (first, LODGE, st, body)
    n = body.get("checkpoints", 0) if st == 200 else 0
    if not wait_until(lambda: api(p.api_sock, "GET", "/replicate")[1].get("checkpoints", 0)
                      >= n + 20, 120):
        why += "; replication did not go on: %s" % (api(p.api_sock, "GET", "/replicate"),)
    st, body = api(p.api_sock, "GET", "/replicate")
    if st != 200 or body.get("state") != "Replicating" or body.get("error"):
        why += "; GET /replicate: %s %s (primary: %s)" % (st, body, p.errtext()[-300:])
    if re.search(r"failed|gone", p.errtext()):
        why += "; the primary gave up on the standby: " + p.errtext()[-300:]
    print("# slow_apply: first checkpoint %.1f s (%.1f s after the standby started)" % (
        first / 1e6, time.time() - t0), flush=True)
    # a standby that stops altogether (no progress either) is still found out in time
    os.kill(s.p.pid, signal.SIGSTOP)
    t1 = time.time()
    if not wait_err(p, r"replication to 127\.0\.0\.1:\d+ failed: .*runs on unprotected", 60):
        why += "; a stopped standby was not given up on within 60 s: " + p.errtext()[-300:]
    else:
        print("# slow_apply: a stopped standby given up on after %.1f s" % (time.time() - t1),
              flush=True)
    os.kill(s.p.pid, signal.SIGCONT)
    p.kill()
    s.kill()
    result("slow_apply", why)


def t_bad_stream():
    why = ""
    for what, data, want in (
            ("version 99", b"LODGEMIG" + struct.pack("<I", 99), r"version 99 is not supported"),
            ("a migration stream", None, r"not a replication stream")):
        port = free_port()
        s = start(["--standby", "tcp:127.0.0.1:%d" % port], "bad.sock")
        if not s.wait_api(30):
            return result("bad_stream", "the standby did not start: " + s.errtext())
        if data is None:  # a real machine section, then what a migration sends next
            hdr = b"LODGEMIG" + struct.pack("<I", 3) + os.urandom(8)  # version 3: the nonce
            hdr += struct.pack("<I", zlib.crc32(hdr))
            data = hdr + section(1, machine_section()) + section(0x103, b"")
        else:
            data += struct.pack("<I", zlib.crc32(data))
        c = connect_retry(port)
        c.sendall(data)
        try:
            code = s.p.wait(30)
        except subprocess.TimeoutExpired:
            code = None
        c.close()
        s.kill()
        if code != 125 or not re.search(want, s.errtext()):
            why += "; %s: status %s, %s" % (what, code, s.errtext()[-300:])
    result("bad_stream", why)


def section(typ, payload):
    h = struct.pack("<IIQI", typ, 0, len(payload), zlib.crc32(payload))
    return h + struct.pack("<I", zlib.crc32(h)) + payload


def machine_section():
    """A MACHINE payload (docs/SNAPSHOT.md): 16 MiB, one hart, no device options."""
    return (struct.pack("<IQQIB", 1, 0x80000000, 16 << 20, 1, 1) + struct.pack("<QQQI", 0, 0, 0, 0))


def connect_retry(port):
    end = time.time() + 30
    while True:
        try:
            return socket.create_connection(("127.0.0.1", port))
        except OSError:
            if time.time() > end:
                raise
            time.sleep(0.1)


def t_api(initrd):
    pimg, _ = new_disks("api")
    g = start(boot_args(initrd, pimg), "api.sock")
    why = ""
    if not g.wait_api(30):
        return result("api", "no control socket")
    for body, code in (({"destination": "127.0.0.1:1", "interval_ms": 1}, 400),
                       ({"destination": "127.0.0.1:1", "interval_ms": 100000}, 400),
                       ({"destination": "nohostport"}, 400),
                       ({"destination": "127.0.0.1:1", "bogus": 1}, 400)):
        st, b = api(g.api_sock, "PUT", "/replicate", body)
        if st != code:
            why += "; PUT /replicate %s: %s %s (want %d)" % (body, st, b, code)
    st, b = api(g.api_sock, "GET", "/replicate")
    if st != 404:
        why += "; GET /replicate before any: %s %s" % (st, b)
    st, b = api(g.api_sock, "PUT", "/failover")
    if st != 409:
        why += "; PUT /failover on a primary: %s %s" % (st, b)
    if not g.wait_for(r"Leaving this shell", 300):
        return result("api", why + "; no shell prompt")
    st, b = api(g.api_sock, "PUT", "/replicate", {"destination": "127.0.0.1:%d" % free_port()})
    if st != 502:
        why += "; PUT /replicate to a closed port: %s %s" % (st, b)
    g.send("echo still-$((40+2))\n")
    if not g.wait_for(r"^still-42$", 60):
        why += "; the guest did not run on (or its output stays held): " + g.text()[-200:]
    g.kill()
    result("api", why)


class Daemon:
    """`lodge daemon` on a private state directory and socket."""

    def __init__(self, name):
        self.dir = os.path.join(tmp, name)
        os.makedirs(self.dir, mode=0o755, exist_ok=True)
        self.sock = os.path.join(self.dir, "lodge.sock")
        self.env = dict(os.environ, LODGE_SOCKET=self.sock)
        self.log = open(os.path.join(self.dir, "daemon.log"), "ab")
        self.p = subprocess.Popen([REL, "daemon", "--state", os.path.join(self.dir, "state"),
                                   "--socket", self.sock], stdout=self.log, stderr=self.log)
        end = time.time() + 30
        while time.time() < end and not os.path.exists(self.sock):
            time.sleep(0.1)

    def cli(self, *args, timeout=300):
        p = subprocess.run([REL] + list(args), capture_output=True, text=True,
                           timeout=timeout, env=self.env)
        return p.returncode, p.stdout + p.stderr

    def state(self, name):
        rc, out = self.cli("inspect", name)
        try:
            return json.loads(out)[0].get("state") if rc == 0 else None
        except (ValueError, IndexError):
            return None

    def logs(self, name):
        return self.cli("logs", name, timeout=60)[1]

    def console_send(self, name, text):
        """Types text on the guest's console (POST .../console, upgraded)."""
        s = socket.socket(socket.AF_UNIX)
        s.settimeout(10)
        s.connect(self.sock)
        s.sendall(("POST /v1/guests/%s/console HTTP/1.1\r\nHost: lodge\r\n"
                   "Connection: Upgrade\r\nUpgrade: tcp\r\nContent-Length: 0\r\n\r\n"
                   % name).encode())
        head = b""
        while b"\r\n\r\n" not in head:
            k = s.recv(4096)
            if not k:
                break
            head += k
        if b" 101 " in head.split(b"\r\n")[0]:
            s.sendall(text.encode())
            time.sleep(0.5)
        s.close()

    def stop(self):
        if self.p.poll() is None:
            self.p.kill()
            self.p.wait()
        drop_daemon_cgroups(os.path.join(self.dir, "state"))


def wait_until(fn, timeout):
    end = time.time() + timeout
    while time.time() < end:
        if fn():
            return True
        time.sleep(0.3)
    return False


def t_daemon(initrd):
    """Two daemons: lodge create stby --standby --disk COPY on one, lodge replicate prim
    (with its disk) on the other, the primary killed, lodge failover stby: memcheck counts
    on at the standby, every record diskrec acknowledged is on the standby's copy."""
    a, b = Daemon("da"), Daemon("db")
    why = ""
    pimg, simg = new_disks("daemon")
    try:
        port = free_port()
        rc, out = b.cli("create", "stby", "--standby", "127.0.0.1:%d" % port, "--disk", simg)
        rc2, out2 = b.cli("start", "stby")
        if rc or rc2 or b.state("stby") != "incoming":
            return result("daemon", "create/start stby: %s %s (%s)" % (out, out2,
                                                                        b.state("stby")))
        rc, out = b.cli("failover", "stby")
        if rc == 0:
            why += "; lodge failover before any checkpoint succeeded: " + out
        rc, out = a.cli("create", "prim", "--kernel", OUT + "/Image", "--initrd", initrd,
                        "--firmware", OUT + "/fw_dynamic.bin", "--disk", pimg)
        rc2, out2 = a.cli("start", "prim")
        if rc or rc2:
            return result("daemon", "create/start prim: %s %s" % (out, out2))
        if not wait_until(lambda: "Leaving this shell" in a.logs("prim"), 300):
            return result("daemon", "prim: no shell prompt: " + a.logs("prim")[-300:])
        rc, out = a.cli("replicate", "prim", "127.0.0.1:%d" % free_port())
        if rc == 0 or len(out.strip().splitlines()) != 1:
            why += "; replicate to a closed port: %d %r" % (rc, out)
        rc, out = a.cli("replicate", "prim", "127.0.0.1:%d" % port, "--interval", "50")
        if rc:
            return result("daemon", why + "; lodge replicate: " + out)
        a.console_send("prim", "memcheck 8 64 & diskrec /dev/vda &\n")
        t1 = time.time()
        if not wait_until(lambda: re.search(r"^CNT 20 OK$", a.logs("prim"), re.M), 120) or \
                not wait_until(lambda: re.search(r"^ack 50$", a.logs("prim"), re.M), 120):
            return result("daemon", why + "; memcheck and diskrec did not run under "
                          "replication: " + a.logs("prim")[-300:])
        print("# daemon: the primary's CNT 20 and ack 50 took %.1f s" % (time.time() - t1),
              flush=True)
        rc, out = a.cli("kill", "prim")
        seen = counts(a.logs("prim"))
        seen_acks = acks(a.logs("prim"))
        rc, out = b.cli("failover", "stby")
        if rc:
            return result("daemon", why + "; lodge failover: " + out)
        if not wait_until(lambda: b.state("stby") == "running", 60):
            why += "; stby is %s after the failover" % b.state("stby")
        t0 = time.time()
        if not wait_until(lambda: len(counts(b.logs("stby"))) >= 10, 120):  # see count_on
            why += "; memcheck did not count on at the standby: %s (state %s)" % (
                b.logs("stby")[-300:], b.state("stby"))
        got = counts(b.logs("stby"))
        print("# daemon: the primary showed CNT %d and ack %d, the standby went on from "
              "CNT %s and ack %s; its 10 counts took %.1f s (bound 120 s)" % (
                  max(seen), max(seen_acks), first(got), first(acks(b.logs("stby"))),
                  time.time() - t0), flush=True)
        if got and first(got) <= max(seen):
            why += "; CNT %d came again from the standby" % first(got)
        if "BAD" in b.logs("stby"):
            why += "; memcheck found a bad page at the standby"
        if not wait_until(lambda: len(acks(b.logs("stby"))) >= 10, 120):
            why += "; diskrec did not write on at the standby: " + b.logs("stby")[-300:]
        st_acks = acks(b.logs("stby"))
        if st_acks and first(st_acks) <= max(seen_acks):
            why += "; ack %d, seen from the primary, came again from the standby" % first(st_acks)
        torn = [n for a, n in zip(st_acks, st_acks[1:]) if n <= a]
        if torn:
            print("# daemon: out-of-order acks at the standby (lines cut by kernel messages?): "
                  "%s; %r" % (torn[:3], [x for x in b.logs("stby").splitlines()
                                         if re.match(r"ack %d$" % torn[0], x) or "] " in x][:6]),
                  flush=True)
        b.cli("kill", "stby", timeout=60)
        missing = [n for n in seen_acks if not record_ok(simg, n)]
        if missing:
            why += "; %d acknowledged records are not on the standby's disk: %s" % (
                len(missing), missing[:10])
    finally:  # the guests outlive their daemon: kill them first
        a.cli("kill", "prim", timeout=60)
        b.cli("kill", "stby", timeout=60)
        for d in (a, b):
            d.stop()
    result("daemon", why)


def main():
    for tool in (CC,):
        if not shutil.which(tool):
            print("SKIP: replicate.all: %s is not installed" % tool)
            return
    initrd, why = build_initrd()
    if not initrd:
        print("FAIL: replicate.all: %s" % why)
        return
    only = os.environ.get("REPLICATE_ONLY", "")
    tests = [("api", lambda: t_api(initrd)), ("bad_stream", t_bad_stream),
             ("failover", lambda: t_failover(initrd)),
             ("daemon", lambda: t_daemon(initrd)),
             ("failover_auto", lambda: t_failover_auto(initrd)),
             ("standby_gone", lambda: t_standby_gone(initrd)),
             ("slow_apply", lambda: t_slow_apply(initrd)),
             ("corrupt", lambda: t_damaged(initrd, "corrupt", "flip")),
             ("incomplete", lambda: t_damaged(initrd, "incomplete", "drop")),
             ("truncated", lambda: t_damaged(initrd, "truncated", "truncate"))]
    for name, fn in tests:
        if only and name not in only.split(","):
            continue
        try:
            fn()
        except Exception as e:  # a test that broke is a failure, not a crash
            result(name, "%s: %s" % (type(e).__name__, e))
        finally:
            for g in guests:
                g.kill()
                err = g.errtext()
                if "AddressSanitizer" in err or "runtime error" in err:
                    print("FAIL: replicate.sanitizer: %s: %s" % (name, err[-500:]), flush=True)
            guests.clear()


try:
    main()
finally:
    for g in guests:
        g.kill()
    shutil.rmtree(tmp, ignore_errors=True)
