"""Live migration of guests with a writable disk (tests/migrate/suite.py runs these).

In each, the guest (the default one with memcheck and tests/replicate/diskrec.c) has a
raw 64 MiB disk whose sector 0 is marked so that /init leaves it alone; diskrec writes
record n (its number, then bytes derived from it) to sector n, fsyncs, prints "ack n".

  disk_copy       no shared storage: `--incoming-disk DST,format=raw` (an image of the
                  same size, its first MiB garbage): the blocks go with the RAM; after
                  the migration every record acknowledged on either side is whole on
                  DST, the garbage is gone (zero blocks are written too), the mark is
                  there, and the acks go on with no gap and no repeat
  disk_copy_postcopy  the same with "post_copy": true: the blocks go before the switch,
                  the pages the destination touches on demand after it
  disk_shared     shared storage: the destination names no disk (it allows the image's
                  directory: --incoming-allow) and opens the source's image once the
                  source closed it (the image is locked for writing by
                  one process at a time: had the destination opened it early, its open
                  would have failed); afterwards the destination holds the lock and the
                  records are all there
  ack_lines       the tests' reading of acks from logs that end inside a line, as a
                  source's does when its guest paused there (acks(), which says why)
  daemon_chain    through two daemons on shared storage, the guest's disk a qcow2
                  overlay whose backing file is a raw image named relatively: the
                  incoming guest's sandbox has the backing file (recorded at create, as
                  a created guest's chain is), so the destination opens the overlay at
                  the switch-over and writes on; every record is whole on the overlay
                  (read through qemu-img), the base image is untouched, `qemu-img
                  check` finds no error (before: the destination could not open the
                  backing file and the migration failed)
  disk_bad        refused, the source running on with its disk, every record it
                  acknowledged whole on its image: a destination image of the wrong
                  size, one that cannot be opened, one given for a machine whose disk
                  count differs; a proxy that cuts the stream inside the disk blocks,
                  and one that flips a byte of a block (its section's CRC fails); on
                  shared storage a proxy that cuts the stream right after the source
                  closed its image (it opens it again and runs on)
"""
import os
import re
import socket
import struct
import subprocess
import threading
import time

DISK_MB = 64
DISK_MARK = b"lodge tests/migrate: raw records, no file system\n"
SEC_BLOCKS, SEC_SWITCH = 0x107, 0x10a


def acks(text):
    """The records a console's text acknowledges, from whole lines only. A source's log
    ends where its guest paused, which may be inside a line: "ack 5" of "ack 556", the
    destination printing "56". Read as a line, that cut was an ack far below the last one
    (the last ack the tests took), and the test waited for an ack the destination had
    passed long before: migrate.daemon_disk's "back did not write on from ack 55" while
    the guest acknowledged 27,000 more. Joined logs (source's, then destination's) make
    the cut line whole again. A line may begin with the shell's prompt (busybox prints
    it, with a cursor query, after starting the background writers), so "ack" is looked
    for anywhere in it (tests/snapshot's counts() missed counts that way). Terminal
    escapes go first: the prompt's cursor query, ESC [6n, ends in a letter, and an ack
    right after it was not read (migrate.disk_copy_postcopy: "missing [3]")."""
    text = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", text)
    return [int(n) for n in re.findall(r"(?<![A-Za-z])ack (\d+)\n", text, re.M)]


def record(n):
    r = ("REC %d" % n).encode()
    return r + b"\0" * (32 - len(r)) + bytes((n * 31 + i) & 0xff for i in range(32, 512))


def bad_records(img, ns):
    with open(img, "rb") as f:
        data = f.read()
    return [n for n in ns if data[n * 512:(n + 1) * 512] != record(n)]


class Ctx:
    """What suite.py gives: start(args, sock), api, free_port, result, tmp, boot_args."""

    def __init__(self, **kw):
        self.__dict__.update(kw)


def new_disk(c, name, size_mb=DISK_MB, garbage=False):
    p = os.path.join(c.tmp, name)
    with open(p, "wb") as f:
        f.truncate(size_mb << 20)
        if garbage:
            f.write(b"\xee" * (1 << 20))
        else:
            f.write(DISK_MARK)
    return p


def boot_writer(c, name, img):
    """Boots the guest on img and starts memcheck and diskrec."""
    g = c.start(c.boot_args + ["--disk", img + ",format=raw"], name + ".sock")
    if not g.wait_api(30):
        return g, "no control socket: " + g.errtext()[-300:]
    if not g.wait_for(r"Leaving this shell", 300):
        return g, "no shell prompt: " + g.text()[-300:]
    g.send("memcheck 8 64 & diskrec /dev/vda &\n")
    if not g.wait_for(r"^ack 20$", 120) or not g.wait_for(r"^CNT 3 OK$", 120):
        return g, "the workload did not run: " + g.text()[-300:]
    return g, ""


def incoming(c, name, port, extra=()):
    d = c.start(["--incoming", "tcp:127.0.0.1:%d" % port] + list(extra), name + ".sock")
    end = time.time() + 60
    while time.time() < end and d.p.poll() is None and not listening(port):
        time.sleep(0.1)
    return d


def listening(port):
    """Whether something listens on 127.0.0.1:port (without connecting: the destination
    takes one connection)."""
    with open("/proc/net/tcp") as f:
        for line in f.readlines()[1:]:
            loc, st = line.split()[1], line.split()[3]
            if st == "0A" and int(loc.split(":")[1], 16) == port:
                return True
    return False


def migrate(c, src, port, extra=None):
    t0 = time.time()
    req = {"destination": "127.0.0.1:%d" % port}
    req.update(extra or {})
    try:
        st, body = c.api(src.api_sock, "PUT", "/migrate", req, timeout=600)
    except OSError as e:
        st, body = e, src.errtext()[-1500:]
    return st, body, time.time() - t0


def check_after(c, name, src, dst, img_dst, took):
    """The source gone, the destination writing on: the records of both."""
    why = ""
    try:
        src.p.wait(30)
    except subprocess.TimeoutExpired:
        return "the source did not exit after the migration"
    src.drain()  # its last lines read (the process may end before its readers)
    info = re.search(r"migrated to \S+: .*", src.errtext())
    print("# %s: PUT /migrate %.0f ms; %s" % (name, took * 1000, info.group(0) if info else "?"),
          flush=True)
    seen = acks(src.text())
    if not seen:
        return "no ack on the source"
    if not dst.wait_for(r"^ack %d$" % (seen[-1] + 50), 120):
        return "the destination's guest did not write on from ack %d: %s %s" % (
            seen[-1], dst.text()[-300:], dst.errtext()[-300:])
    dst.kill()
    both = acks(src.text() + dst.text())
    if sorted(set(both)) != list(range(min(both), max(both) + 1)) or len(set(both)) != len(both):
        span = range(min(both), max(both) + 1)
        why += "; the acks have a gap or a repeat around %d (the source's last): missing %s, " \
               "repeated %s" % (seen[-1], [n for n in span if n not in both][:10],
                                sorted({n for n in both if both.count(n) > 1})[:10])
    bad = bad_records(img_dst, both)
    if bad:
        why += "; %d acknowledged records are not whole on the destination's disk: %s" % (
            len(bad), bad[:10])
    with open(img_dst, "rb") as f:
        head = f.read(1 << 20)
    if not head.startswith(DISK_MARK):
        why += "; sector 0 of the destination's disk is not the source's"
    last = max(both) + 1  # diskrec may have written the next one, not acknowledged yet
    if head[(last + 1) * 512:].strip(b"\0"):
        why += "; the destination's disk has bytes the source's had not (past record %d)" % last
    if "BAD" in dst.text():
        why += "; memcheck found a bad page at the destination"
    return why


def t_ack_lines(c):
    """acks() on the logs of a guest that moved while printing "ack 556": the source's
    log ends with "ack 5", the destination's begins with "56". Each alone gives its whole
    lines only; together they give 556, with no gap."""
    src = "CNT 7 OK\nack 554\nack 555\nack 5"
    dst = "56\nCNT 8 OK\nack 557\n"
    why = ""
    for what, got, want in (("the source's log", acks(src), [554, 555]),
                            ("the destination's log", acks(dst), [557]),
                            ("the two logs joined", acks(src + dst), [554, 555, 556, 557])):
        if got != want:
            why += "; %s read as acks %s, not %s" % (what, got, want)
    c.result("ack_lines", why)


def t_disk_copy(c, post_copy=False):
    name = "disk_copy_postcopy" if post_copy else "disk_copy"
    src_img = new_disk(c, name + "-src.img")
    dst_img = new_disk(c, name + "-dst.img", garbage=True)
    src, why = boot_writer(c, name + "-src", src_img)
    if why:
        return c.result(name, why)
    port = c.free_port()
    dst = incoming(c, name + "-dst", port, ["--incoming-disk", dst_img + ",format=raw"])
    st, body, took = migrate(c, src, port,
                             {"post_copy": True, "precopy_rounds": 1} if post_copy else None)
    if st != 204:
        return c.result(name, "PUT /migrate: %s %s (source: %s; destination: %s)" % (
            st, body, src.errtext()[-300:], dst.errtext()[-300:]))
    why = check_after(c, name, src, dst, dst_img, took)
    blocks = re.search(r"(\d+) disk blocks", src.errtext())
    if not blocks or int(blocks.group(1)) < DISK_MB * 16:
        why += "; the source sent %s disk blocks, fewer than the disk has" % (
            blocks.group(1) if blocks else "no")
    if post_copy and not re.search(r"post-copy \d+ pages", src.errtext()):
        why += "; the source's figures name no post-copy: %s" % src.errtext()[-300:]
    c.result(name, why)


def t_disk_copy_postcopy(c):
    """disk_copy with post_copy (one round first): the disk's blocks all go before the
    switch (the machine then runs at the destination on its own image), its RAM after;
    the same checks."""
    t_disk_copy(c, post_copy=True)


def ofd_write_locked(path):
    """Whether some process holds qemu's "write" byte (101) of path (an OFD lock)."""
    import fcntl
    fd = os.open(path, os.O_RDONLY)
    try:
        lk = struct.pack("hhqqi", fcntl.F_WRLCK, os.SEEK_SET, 101, 1, 0) + b"\0" * 4
        got = fcntl.fcntl(fd, getattr(fcntl, "F_OFD_GETLK", 36), lk)
        return struct.unpack("hhqqi", got[:28])[0] != fcntl.F_UNLCK
    finally:
        os.close(fd)


def t_disk_shared(c):
    img = new_disk(c, "shared.img")
    src, why = boot_writer(c, "shared-src", img)
    if why:
        return c.result("disk_shared", why)
    if not ofd_write_locked(img):
        why += "; the source holds no write lock on its image"
    port = c.free_port()
    dst = incoming(c, "shared-dst", port, ["--incoming-allow", c.tmp])  # the image's dir
    st, body, took = migrate(c, src, port)
    if st != 204:
        return c.result("disk_shared", "PUT /migrate: %s %s (source: %s; destination: %s)" % (
            st, body, src.errtext()[-300:], dst.errtext()[-300:]))
    try:
        src.p.wait(30)
    except subprocess.TimeoutExpired:
        pass
    if not ofd_write_locked(img):
        why += "; the destination holds no write lock on the image"
    why += check_after(c, "disk_shared", src, dst, img, took)
    c.result("disk_shared", why)


class Proxy(threading.Thread):
    """Between a source and a destination: `how` is "cut_blocks" (the stream ends inside
    the 20th disk block section), "flip_block" (a byte of the 20th one's payload flipped)
    or "cut_switch" (the stream ends right after the disk switch section). Answers flow
    back untouched. When it cuts it closes the destination's side first and waits for it
    to go (as a destination that fails does: it closes the images, then the socket)."""

    def __init__(self, to_port, how):
        super().__init__(daemon=True)
        self.ls = socket.socket()
        self.ls.bind(("127.0.0.1", 0))
        self.ls.listen(1)
        self.port = self.ls.getsockname()[1]
        self.to_port, self.how = to_port, how
        self.did = False

    def run(self):
        a, _ = self.ls.accept()
        b = socket.create_connection(("127.0.0.1", self.to_port))
        threading.Thread(target=self.back, args=(b, a), daemon=True).start()

        def read(n):
            d = b""
            while len(d) < n:
                x = a.recv(n - len(d))
                if not x:
                    raise EOFError
                d += x
            return d
        nblocks = 0
        try:
            b.sendall(read(24))  # the stream header (version 3: with its nonce)
            while True:
                h = read(24)
                typ, _, ln = struct.unpack("<IIQ", h[:16])
                payload = read(ln)
                if typ == SEC_BLOCKS:
                    nblocks += 1
                if typ == SEC_BLOCKS and nblocks == 20 and self.how == "cut_blocks":
                    b.sendall(h + payload[:len(payload) // 2])
                    self.did = True
                    break
                if typ == SEC_BLOCKS and nblocks == 20 and self.how == "flip_block":
                    payload = payload[:-5] + bytes([payload[-5] ^ 0x40]) + payload[-4:]
                    self.did = True
                b.sendall(h + payload)
                if typ == SEC_SWITCH and self.how == "cut_switch":
                    self.did = True
                    break
        except (EOFError, OSError):
            pass
        try:
            b.shutdown(socket.SHUT_WR)
            b.settimeout(30)
            while b.recv(65536):
                pass
        except OSError:
            pass
        b.close()
        a.close()

    def back(self, b, a):
        try:
            while True:
                x = b.recv(65536)
                if not x:
                    break
                a.sendall(x)
        except OSError:
            pass


def still_runs(c, src, img, what):
    """After a refused migration: 502 was answered; the source writes on, its records
    whole on its image."""
    seen = acks(src.text())
    if src.p.poll() is not None:
        return "; after %s the source exited: %s" % (what, src.errtext()[-300:])
    st, body = c.api(src.api_sock, "GET", "/vm")
    if st != 200 or body.get("state") != "Running":
        return "; after %s the source's GET /vm: %s %s" % (what, st, body)
    if not src.wait_for(r"^ack %d$" % (seen[-1] + 20), 120):
        return "; after %s the source's guest stopped writing: %s %s" % (
            what, src.text()[-200:], src.errtext()[-300:])
    bad = bad_records(img, acks(src.text()))
    if bad:
        return "; after %s records %s are not whole on the source's image" % (what, bad[:5])
    return ""


def refused(c, src, img, port, what, dst=None):
    st, body, _ = migrate(c, src, port)
    why = ""
    if st != 502:
        why += "; %s: PUT /migrate answered %s %s" % (what, st, body)
    if dst is not None:
        try:
            dst.p.wait(30)
        except subprocess.TimeoutExpired:
            dst.kill()
            why += "; %s: the destination did not give up" % what
        dst.drain()  # its last lines read (the process may end before its readers)
        lines = dst.errtext().strip().splitlines()
        if dst.p.returncode != 125 or not lines or "--incoming" not in lines[-1]:
            why += "; %s: the destination ended with %s: %r" % (what, dst.p.returncode,
                                                               dst.errtext()[-300:])
        else:
            print("# disk_bad: %s: %s" % (what, lines[-1][:200]), flush=True)
    return why + still_runs(c, src, img, what)


def t_disk_bad(c):
    img = new_disk(c, "bad-src.img")
    src, why = boot_writer(c, "bad-src", img)
    if why:
        return c.result("disk_bad", why)
    small = new_disk(c, "bad-small.img", DISK_MB // 2)
    for what, extra in (("a destination image of another size",
                         ["--incoming-disk", small + ",format=raw"]),
                        ("a destination image that does not exist",
                         ["--incoming-disk", os.path.join(c.tmp, "no/such.img")]),
                        ("two destination images for one disk",
                         ["--incoming-disk", small, "--incoming-disk", small])):
        port = c.free_port()
        dst = incoming(c, "bad-dst", port, extra)
        why += refused(c, src, img, port, what, dst)
    for how in ("cut_blocks", "flip_block"):
        port = c.free_port()
        dst_img = new_disk(c, "bad-dst.img", garbage=True)
        dst = incoming(c, "bad-dst-" + how, port, ["--incoming-disk", dst_img + ",format=raw"])
        px = Proxy(port, how)
        px.start()
        why += refused(c, src, img, px.port, how, dst)
        if not px.did:
            why += "; %s: the proxy never saw its disk block" % how
    port = c.free_port()
    dst = incoming(c, "bad-dst-switch", port, ["--incoming-allow", c.tmp])
    px = Proxy(port, "cut_switch")
    px.start()
    why += refused(c, src, img, px.port, "cut_switch", dst)
    if not px.did:
        why += "; cut_switch: the proxy never saw the disk switch"
    # a peer that is no Lodge destination answers "OK" to whatever comes (the disks' offer)
    ls = socket.socket()
    ls.bind(("127.0.0.1", 0))
    ls.listen(1)

    def say_ok():
        s, _ = ls.accept()
        s.sendall(b"OK")
        s.settimeout(30)
        try:
            while s.recv(65536):
                pass
        except OSError:
            pass
        s.close()
    threading.Thread(target=say_ok, daemon=True).start()
    st, body, _ = migrate(c, src, ls.getsockname()[1])
    ls.close()
    if st != 502 or "not a Lodge destination" not in str(body):
        why += "; a peer that answers OK to the disks' offer: %s %s" % (st, body)
    why += still_runs(c, src, img, "a peer that answers OK")
    src.kill()
    c.result("disk_bad", why)


def daemon_writer(c, d, img):
    """Creates and starts guest "src" under daemon d on img, and starts memcheck and
    diskrec in it. Returns "" or what went wrong."""
    rc, out = d.cli("create", "src", "--kernel", c.out + "/Image", "--initrd", c.initrd,
                    "--firmware", c.out + "/fw_dynamic.bin", "--disk", img)
    rc2, out2 = d.cli("start", "src")
    if rc or rc2:
        return "create/start src: %s %s" % (out, out2)
    if not c.wait_until(lambda: "Leaving this shell" in d.logs("src"), 300):
        return "src: no shell prompt: " + d.logs("src")[-300:]
    d.console_send("src", "memcheck 8 64 & diskrec /dev/vda &\n")
    if not c.wait_until(lambda: re.search(r"^ack 20$", d.logs("src"), re.M), 120):
        return "diskrec did not run: " + d.logs("src")[-300:]
    return ""


def t_daemon_disk(c):
    """Through two daemons: `lodge create dst --incoming HOST:PORT --disk DST` receives
    the blocks (one of another size first: refused, the source runs on), then the guest
    goes back to the first daemon with `--disk DST --shared-disks` (shared storage) by
    post-copy with no pre-copy round: the sandboxed guest's userfaultfd serves user-mode
    faults only, and its disk writes (io_uring reading guest memory) must not meet a
    missing page."""
    a, b = c.Daemon("dda"), c.Daemon("ddb")
    why = ""
    try:
        for d in (a, b):
            if not os.path.exists(d.sock):
                return c.result("daemon_disk", "a daemon did not start")
        src_img = new_disk(c, "dd-src.img")
        dst_img = new_disk(c, "dd-dst.img", garbage=True)
        small = new_disk(c, "dd-small.img", DISK_MB // 2)
        why = daemon_writer(c, a, src_img)
        if why:
            return c.result("daemon_disk", why)
        port = c.free_port()
        rc, out = b.cli("create", "bad", "--incoming", "127.0.0.1:%d" % port, "--disk", small)
        rc2, out2 = b.cli("start", "bad")
        if rc or rc2:
            return c.result("daemon_disk", "create/start bad: %s %s" % (out, out2))
        rc, out = a.cli("migrate", "src", "127.0.0.1:%d" % port, timeout=600)
        if rc == 0 or "runs on here" not in out or len(out.strip().splitlines()) != 1:
            why += "; migrate to a destination image of another size: %d %r" % (rc, out)
        n = acks(a.logs("src"))[-1]
        if not c.wait_until(lambda: re.search(r"^ack %d$" % (n + 10), a.logs("src"), re.M),
                            120) or a.inspect("src").get("state") != "running":
            why += "; the source did not run on after the refusal: %s" % a.inspect("src")
        b.cli("rm", "--force", "bad", timeout=60)
        port = c.free_port()
        rc, out = b.cli("create", "dst", "--incoming", "127.0.0.1:%d" % port, "--disk", dst_img)
        rc2, out2 = b.cli("start", "dst")
        if rc or rc2:
            return c.result("daemon_disk", why + "; create/start dst: %s %s" % (out, out2))
        t0 = time.time()
        rc, out = a.cli("migrate", "src", "127.0.0.1:%d" % port, timeout=600)
        print("# daemon_disk: lodge migrate (copy) %.0f ms" % ((time.time() - t0) * 1000),
              flush=True)
        if rc:
            return c.result("daemon_disk", why + "; lodge migrate: %d %s; dst: %s" % (
                rc, out, b.inspect("dst")))
        last = acks(a.logs("src"))[-1]
        if not c.wait_until(lambda: re.search(r"^ack %d$" % (last + 30), b.logs("dst"), re.M),
                            120):
            return c.result("daemon_disk", why + "; dst did not write on from ack %d: %s" % (
                last, b.silent("dst")))
        # and back, on shared storage: the same image under the first daemon
        port = c.free_port()
        rc, out = a.cli("create", "back", "--incoming", "127.0.0.1:%d" % port, "--disk",
                        dst_img, "--shared-disks")
        rc2, out2 = a.cli("start", "back")
        if rc or rc2:
            return c.result("daemon_disk", why + "; create/start back: %s %s" % (out, out2))
        t0 = time.time()
        rc, out = b.cli("migrate", "dst", "127.0.0.1:%d" % port, "--post-copy",
                        "--precopy-rounds", "0", timeout=600)
        print("# daemon_disk: lodge migrate (shared, post-copy) %.0f ms" % (
            (time.time() - t0) * 1000), flush=True)
        if rc:
            return c.result("daemon_disk", why + "; lodge migrate back: %d %s; back: %s" % (
                rc, out, a.inspect("back")))
        last = acks(b.logs("dst"))[-1]
        if not c.wait_until(lambda: re.search(r"^ack %d$" % (last + 30), a.logs("back"), re.M),
                            120):
            return c.result("daemon_disk", why + "; back did not write on from ack %d: %s; "
                            "the source: %s" % (last, a.silent("back"), b.silent("dst")))
        a.cli("rm", "--force", "back", timeout=60)
        text = a.logs("src") + b.logs("dst") + a.logs("back")
        seen = acks(text)
        if sorted(set(seen)) != list(range(min(seen), max(seen) + 1)) or \
                len(set(seen)) != len(seen):
            gaps = sorted(set(range(min(seen), max(seen) + 1)) - set(seen))
            reps = sorted({x for x in seen if seen.count(x) > 1})
            ends = [acks(t)[-1:] + acks(t)[:1] for t in (a.logs("src"), b.logs("dst"),
                                                          a.logs("back"))]
            why += "; the acks have a gap or a repeat: missing %s, repeated %s (src, dst, " \
                   "back: last and first %s)" % (gaps[:10], reps[:10], ends)
        bad = bad_records(dst_img, seen)
        if bad:
            why += "; %d acknowledged records are not whole on the last image: %s" % (
                len(bad), bad[:10])
        if "BAD" in text:
            why += "; memcheck found a bad page"
    finally:
        for d, names in ((a, ("back",)), (b, ("bad", "dst"))):
            for n in names:
                d.cli("rm", "--force", n, timeout=60)
        a.stop()
        b.stop()
    c.result("daemon_disk", why)


def t_daemon_chain(c):
    """Shared storage through two daemons, the disk a qcow2 overlay on a raw base."""
    a, b = c.Daemon("dca"), c.Daemon("dcb")
    why = ""
    try:
        for d in (a, b):
            if not os.path.exists(d.sock):
                return c.result("daemon_chain", "a daemon did not start")
        base = new_disk(c, "dc-base.img")
        with open(base, "rb") as f:
            base_bytes = f.read()
        top = os.path.join(c.tmp, "dc-top.qcow2")
        p = subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", "-b", "dc-base.img",
                            "-F", "raw", top], cwd=c.tmp, capture_output=True, text=True)
        if p.returncode:
            return c.result("daemon_chain", "qemu-img create: " + p.stderr)
        why = daemon_writer(c, a, top)
        if why:
            return c.result("daemon_chain", why)
        port = c.free_port()
        rc, out = b.cli("create", "dst", "--incoming", "127.0.0.1:%d" % port, "--disk", top,
                        "--shared-disks")
        rc2, out2 = b.cli("start", "dst")
        if rc or rc2:
            return c.result("daemon_chain", "create/start dst: %s %s" % (out, out2))
        rc, out = a.cli("migrate", "src", "127.0.0.1:%d" % port, timeout=600)
        if rc:
            return c.result("daemon_chain", "lodge migrate: %d %s; dst: %s" % (
                rc, out.strip(), b.silent("dst")))
        last = acks(a.logs("src"))[-1]
        if not c.wait_until(lambda: re.search(r"^ack %d$" % (last + 30), b.logs("dst"), re.M),
                            120):
            return c.result("daemon_chain", "dst did not write on from ack %d: %s" % (
                last, b.silent("dst")))
        b.cli("rm", "--force", "dst", timeout=60)
        seen = acks(a.logs("src") + b.logs("dst"))
        if sorted(set(seen)) != list(range(min(seen), max(seen) + 1)):
            why += "; the acks have a gap: missing %s" % sorted(
                set(range(min(seen), max(seen) + 1)) - set(seen))[:10]
        flat = os.path.join(c.tmp, "dc-flat.img")
        p = subprocess.run(["qemu-img", "convert", "-O", "raw", top, flat],
                           capture_output=True, text=True)
        if p.returncode:
            why += "; qemu-img convert: " + p.stderr.strip()
        else:
            bad = bad_records(flat, seen)
            if bad:
                why += "; %d acknowledged records are not whole: %s" % (len(bad), bad[:10])
            os.unlink(flat)
        p = subprocess.run(["qemu-img", "check", "-q", top], capture_output=True, text=True)
        if p.returncode:
            why += "; qemu-img check: " + (p.stdout + p.stderr).strip()[:300]
        with open(base, "rb") as f:
            if f.read() != base_bytes:
                why += "; the base image changed"
    finally:
        a.cli("rm", "--force", "src", timeout=60)
        b.cli("rm", "--force", "dst", timeout=60)
        a.stop()
        b.stop()
    c.result("daemon_chain", why)
