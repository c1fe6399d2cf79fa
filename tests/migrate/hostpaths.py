"""The host resources a stream names (tests/migrate/suite.py runs these): its destination
creates devices only from those it allowed (docs/SNAPSHOT.md "Host resources a stream
names"). The guest is a bare program (build/guests/loop.elf, `make guests`): no boot.
Each refusal: the destination exits 125 with one line naming the resource, the device
option that carried it and the option that would allow it; PUT /migrate (or /replicate)
answers 502 and the source runs on (its harts go on retiring instructions).

  host_paths      a read-only disk in another directory than the destination's
                  --incoming-allow, or with none: refused; with its directory allowed:
                  migrated. A directory inside the allowed one replaced by a symlink to
                  another (the source holds its image open): refused, naming where the
                  path leads. A writable disk on shared storage without an allowance:
                  refused, the hint naming --incoming-disk; allowed: migrated. A vsock
                  socket outside: refused; inside (the source's socket renamed away
                  first: one host): migrated. A user-networking port forward: refused
                  without --incoming-allow-hostfwd. A qcow2 image inside whose backing
                  file is outside, read-only and writable on shared storage (opened
                  after the source let go of it): refused.
  host_paths_standby  `lodge run --standby` likewise refuses a primary's read-only disk
                  outside its allowance (the primary runs on, unreplicated) and takes it
                  inside.
"""
import os
import socket
import struct
import subprocess
import time
import zlib


def loop_elf(c):
    return os.path.join(c.top, "build/guests/loop.elf")


def source(c, name, devs):
    g = c.start(["--bare", loop_elf(c), "--timeout", "600"] + devs, name + "-src.sock")
    if not g.wait_api(60):
        return g, "%s: no control socket: %s" % (name, g.errtext()[-300:])
    return g, ""


def instret(c, g):
    try:
        st, body = c.api(g.api_sock, "GET", "/vm", timeout=30)
    except OSError as e:
        return None, "GET /vm: %s" % e
    if st != 200 or body.get("state") != "Running":
        return None, "GET /vm: %s %s" % (st, body)
    return body.get("stats", {}).get("instret", 0), ""


def runs_on(c, g, what):
    a, why = instret(c, g)
    if why:
        return "; %s: the source does not run on: %s (%s)" % (what, why, g.errtext()[-300:])
    time.sleep(0.3)
    b, why = instret(c, g)
    if why or not b > a:
        return "; %s: the source's harts stopped (%s, %s): %s" % (what, a, b, why)
    return ""


def where(pid):
    """Where a process that does not end waits: each thread's name, state and system
    call (/proc/.../syscall: its number first), and how many sockets it has open (an
    accepted connection or only the listening one)."""
    out, socks = [], 0
    try:
        for t in sorted(os.listdir("/proc/%d/task" % pid)):
            d = "/proc/%d/task/%s/" % (pid, t)
            with open(d + "stat") as f:
                state = f.read().rsplit(")", 1)[1].split()[0]
            with open(d + "comm") as f, open(d + "syscall") as g:
                out.append("%s:%s:%s" % (f.read().strip(), state, g.read().split(" ")[0]))
        for fd in os.listdir("/proc/%d/fd" % pid):
            try:
                socks += os.readlink("/proc/%d/fd/%s" % (pid, fd)).startswith("socket:")
            except OSError:
                pass
    except OSError as e:
        out.append(str(e))
    return "threads %s, %d sockets" % (" ".join(out), socks)


def ended(p, secs=60):
    try:
        return p.p.wait(secs)
    except subprocess.TimeoutExpired:
        p.stuck = where(p.p.pid)
        p.kill()
        return None


def migrate_to(c, src, name, allow):
    """A destination with `allow` (its options), and PUT /migrate to it: (dst, status,
    body), dst None when it did not listen."""
    port = c.free_port()
    dst = c.start(["--incoming", "tcp:127.0.0.1:%d" % port, "--timeout", "600"] + allow,
                  name + ".sock")
    if not dst.wait_listen(port):
        return None, 0, "the destination does not listen: " + dst.errtext()[-300:]
    try:
        st, body = c.api(src.api_sock, "PUT", "/migrate",
                         {"destination": "127.0.0.1:%d" % port}, timeout=120)
    except OSError as e:  # the source is gone
        return dst, 0, "PUT /migrate: %s (source: %s)" % (e, src.errtext()[-200:])
    return dst, st, body


def one_line(what, g, code, want):
    """The process ended with `code` and its last stderr line holds every string of
    want."""
    if ended(g) != code:
        return "; %s: it ended with %s: %r%s" % (
            what, g.p.returncode, g.errtext()[-300:],
            " (it did not end in 60 s: %s)" % g.stuck if getattr(g, "stuck", None) else "")
    g.drain()
    lines = g.errtext().strip().splitlines()
    missing = [w for w in want if w not in (lines[-1] if lines else "")]
    if missing:
        return "; %s: its last line lacks %s: %r" % (what, missing, lines[-3:])
    print("# %s: %s" % (what, lines[-1][:300]), flush=True)
    return ""


def refused(c, src, name, allow, want):
    dst, st, body = migrate_to(c, src, name, allow)
    if dst is None:
        return "; %s: %s" % (name, body)
    why = ""
    if st != 502:
        why += "; %s: PUT /migrate answered %s %s" % (name, st, body)
    w = one_line(name, dst, 125, want)
    if w and st == 502:  # what the source saw
        w += " (PUT /migrate answered 502 %s)" % (body,)
    why += w
    lines = dst.errtext().strip().splitlines()
    if len(lines) != 1:
        why += "; %s: the destination said more than one line: %r" % (name, lines[-4:])
    return why + runs_on(c, src, name)


def migrated(c, src, name, allow):
    dst, st, body = migrate_to(c, src, name, allow)
    if dst is None:
        return "; %s: %s" % (name, body)
    if st != 204:
        return "; %s: PUT /migrate answered %s %s (destination: %s)" % (
            name, st, body, dst.errtext()[-300:])
    why = ""
    if ended(src, 30) != 0:
        why += "; %s: the source ended with %s" % (name, src.p.returncode)
    _, w = instret(c, dst)
    if w:
        why += "; %s: the destination: %s (%s)" % (name, w, dst.errtext()[-300:])
    dst.kill()
    return why


def section(kind, p):
    sec = struct.pack("<IIQI", kind, 0, len(p), zlib.crc32(p))
    return sec + struct.pack("<I", zlib.crc32(sec)) + p


def stream(devs, disk_sizes=None):
    """A migration stream's header and MACHINE section (a bare machine, 16 MiB) with the
    device options devs, (option, args) each: as docs/SNAPSHOT.md gives them; with
    disk_sizes, the DISKS section that follows for its writable disks."""
    head = b"LODGEMIG" + struct.pack("<I", 3) + os.urandom(8)
    head += struct.pack("<I", zlib.crc32(head))
    p = struct.pack("<IQQIBQQQI", 1, 0x80000000, 16 << 20, 1, 1, 0, 0, 0, len(devs))
    for opt, args in devs:
        p += struct.pack("<H", len(opt)) + opt.encode() + b"\x01"
        p += struct.pack("<H", len(args)) + args.encode()
    out = head + section(1, p)
    if disk_sizes is not None:
        out += section(0x109, struct.pack("<II", 1, len(disk_sizes)) +
                       b"".join(struct.pack("<Q", n) for n in disk_sizes))
    return out


def forged(c, what, devs, allow, want, allowed_ok=False, disk_sizes=None):
    """stream(devs, disk_sizes) to `lodge run --incoming` with `allow`: refused (125, one
    line with every string of want, saying nothing was allowed), or with allowed_ok
    refused later for the stream's end, not for a path."""
    port = c.free_port()
    g = c.start(["--incoming", "tcp:127.0.0.1:%d" % port, "--timeout", "120"] + allow,
                "hp-forged.sock")
    if not g.wait_listen(port):
        return "; %s: the destination does not listen: %s" % (what, g.errtext()[-300:])
    try:
        s = socket.create_connection(("127.0.0.1", port), 10)
        s.sendall(stream(devs, disk_sizes))
        s.shutdown(socket.SHUT_WR)
    except OSError as e:
        return "; %s: %s" % (what, e)
    why = one_line("forged: " + what, g, 125, want + ([] if allowed_ok else
                                                       ["allowed no such path"]))
    s.close()
    if allowed_ok and "allowed no such path" in g.errtext():
        why += "; %s: refused for its path: %s" % (what, g.errtext()[-300:])
    elif not allowed_ok and len(g.errtext().strip().splitlines()) != 1:
        why += "; %s: more than one line: %r" % (what, g.errtext()[-300:])
    return why


def image(path, mb=1):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.truncate(mb << 20)
    return path


def t_host_paths(c):
    base = os.path.join(c.tmp, "hp")
    allowed, other = os.path.join(base, "allowed"), os.path.join(base, "other")
    ro = image(os.path.join(other, "ro.img"))
    os.makedirs(allowed, exist_ok=True)
    why = ""

    # a read-only disk: refused outside the allowance (or without one), migrated inside
    src, w = source(c, "hp-ro", ["--disk", ro + ",readonly=on"])
    if w:
        return c.result("host_paths", w)
    why += refused(c, src, "hp-ro-none", [], [ro, "--disk", "--incoming-allow DIR"])
    why += refused(c, src, "hp-ro-outside", ["--incoming-allow", allowed],
                   [ro, "--disk", "--incoming-allow DIR"])
    why += migrated(c, src, "hp-ro-inside", ["--incoming-allow", allowed,
                                             "--incoming-allow", other])

    # paths that lead out of the allowed directory: a source resolves its own (at the
    # migration), so these come in streams written here
    link = os.path.join(allowed, "link")
    os.symlink(other, link)
    inside = image(os.path.join(allowed, "in.img"))
    for what, dev, want in (
            ("a symlink", ("disk", "path=%s/ro.img,readonly=on" % link), [link, ro]),
            ("..", ("disk", "%s/../other/ro.img,readonly=on" % allowed), ["/../other/", ro]),
            ("a socket's symlinked directory", ("vsock", "3,%s/v.sock" % link),
             [link + "/v.sock", other + "/v.sock", "--vsock"]),
            ("a socket named ..", ("vsock", "3,%s/.." % allowed), ["--vsock"])):
        why += forged(c, what, [dev], ["--incoming-allow", allowed], want)
    # the check itself lets an allowed path through (the stream ends after its machine)
    why += forged(c, "an allowed path", [("disk", inside + ",readonly=on")],
                  ["--incoming-allow", allowed], [], allowed_ok=True)

    # a writable disk on shared storage: pinned with --incoming-disk, or allowed
    rw = image(os.path.join(other, "rw.img"))
    src, w = source(c, "hp-rw", ["--disk", rw + ",format=raw"])
    if w:
        return c.result("host_paths", why + "; " + w)
    why += refused(c, src, "hp-rw-none", [], [rw, "--disk", "--incoming-disk PATH"])
    why += migrated(c, src, "hp-rw-allowed", ["--incoming-allow", other])

    # a qcow2 image inside names a backing file outside: read-only (checked once the
    # machine is made), and writable on shared storage (checked once it is opened, after
    # the source let go: it takes its image back and runs on)
    base = image(os.path.join(other, "base.img"))
    for what, devs in (("hp-backing-ro", ",readonly=on"), ("hp-backing-rw", "")):
        q = os.path.join(allowed, what + ".qcow2")
        r = subprocess.run([c.lodge, "disk", "create", q, "--backing", base,
                            "--backing-format", "raw"], capture_output=True, text=True)
        if r.returncode:
            return c.result("host_paths", why + "; lodge disk create: " + r.stderr)
        src, w = source(c, what, ["--disk", q + devs])
        if w:
            return c.result("host_paths", why + "; " + w)
        why += refused(c, src, what, ["--incoming-allow", allowed],
                       [base, "backing file", "--disk", "--incoming-allow DIR"])
        src.kill()

    # forged: a read-only qcow2 inside over a backing file outside is refused for that
    # file, unopened (the refusal was lost without writable disks: "the stream ended");
    # one over a FIFO is refused without opening it (the open blocked for good)
    fq = os.path.join(allowed, "hp-fifo.qcow2")
    fifo = image(os.path.join(other, "fifo"))
    for q, b in ((os.path.join(allowed, "hp-backing-ro.qcow2"), None), (fq, fifo)):
        if b and subprocess.run([c.lodge, "disk", "create", q, "--backing", b,
                                 "--backing-format", "raw"], capture_output=True).returncode:
            return c.result("host_paths", why + "; lodge disk create " + q)
    os.unlink(fifo)
    os.mkfifo(fifo)
    why += forged(c, "a backing file outside", [("disk", os.path.join(
        allowed, "hp-backing-ro.qcow2") + ",readonly=on")], ["--incoming-allow", allowed],
        [base, "backing file"])
    # outside the allowance a backing file is refused before it opens (a FIFO there was
    # opened, then refused for its type); inside, a FIFO is refused for its type
    why += forged(c, "a FIFO outside as backing file", [("disk", fq + ",readonly=on")],
                  ["--incoming-allow", allowed], [fifo, "backing file"])
    why += forged(c, "a FIFO as backing file", [("disk", fq + ",readonly=on")],
                  ["--incoming-allow", allowed, "--incoming-allow", other],
                  [fifo, "not a regular file or block device"], allowed_ok=True)
    # a read-only disk named as the destination's own --incoming-disk: its chain is the
    # stream's, held to the allowance (it was let be as the pinned image's, and opened)
    why += forged(c, "a read-only disk named as the pinned image",
                  [("disk", fq + ",readonly=on"), ("disk", "/elsewhere/src.img,format=raw")],
                  ["--incoming-allow", allowed, "--incoming-disk", fq + ",format=raw"],
                  [fifo, "backing file"], disk_sizes=[1 << 20])

    # a vsock's socket
    out_sock = os.path.join(other, "v.sock")
    src, w = source(c, "hp-vsock-out", ["--vsock", "3," + out_sock])
    if w:
        return c.result("host_paths", why + "; " + w)
    why += refused(c, src, "hp-vsock-out", ["--incoming-allow", allowed],
                   [out_sock, "--vsock", "--incoming-allow DIR"])
    src.kill()
    in_sock = os.path.join(allowed, "v.sock")
    src, w = source(c, "hp-vsock-in", ["--vsock", "3," + in_sock])
    if w:
        return c.result("host_paths", why + "; " + w)
    end = time.time() + 60  # the control socket answers before the machine is made
    while time.time() < end and not os.path.exists(in_sock):
        time.sleep(0.05)
    os.rename(in_sock, in_sock + ".src")  # one host: the destination makes its own
    why += migrated(c, src, "hp-vsock-in", ["--incoming-allow", allowed])

    # a port forward binds a port of this host
    fwd = "tcp:127.0.0.1:%d-:80" % c.free_port()
    src, w = source(c, "hp-fwd", ["--net", "user,hostfwd=" + fwd])
    if w:
        return c.result("host_paths", why + "; " + w)
    why += refused(c, src, "hp-fwd", ["--incoming-allow", allowed],
                   ["hostfwd=" + fwd, "--net", "--incoming-allow-hostfwd"])
    src.kill()
    c.result("host_paths", why)


def t_host_paths_standby(c):
    other = os.path.join(c.tmp, "hps-other")
    ro = image(os.path.join(other, "ro.img"))
    src, why = source(c, "hps-primary", ["--disk", ro + ",readonly=on"])
    if why:
        return c.result("host_paths_standby", why)
    for allow, ok in (([], False), (["--incoming-allow", other], True)):
        port = c.free_port()
        name = "hps-standby-%s" % ("allowed" if ok else "none")
        sb = c.start(["--standby", "tcp:127.0.0.1:%d" % port, "--timeout", "600"] + allow,
                     name + ".sock")
        if not sb.wait_listen(port):
            why += "; %s: the standby does not listen: %s" % (name, sb.errtext()[-300:])
            continue
        try:
            st, body = c.api(src.api_sock, "PUT", "/replicate",
                             {"destination": "127.0.0.1:%d" % port, "interval_ms": 50},
                             timeout=120)
        except OSError as e:
            st, body = 0, "%s (primary: %s)" % (e, src.errtext()[-200:])
        if ok:
            if st != 204:
                why += "; %s: PUT /replicate answered %s %s (standby: %s)" % (
                    name, st, body, sb.errtext()[-300:])
            time.sleep(0.5)
            if sb.p.poll() is not None:
                why += "; %s: the standby ended: %s" % (name, sb.errtext()[-300:])
            sb.kill()
        else:
            if st != 502:
                why += "; %s: PUT /replicate answered %s %s" % (name, st, body)
            why += one_line(name, sb, 125, [ro, "--disk", "--incoming-allow DIR"])
        why += runs_on(c, src, name)
    src.kill()
    c.result("host_paths_standby", why)


def t_migrate_at_start(c):
    """PUT /migrate as soon as the control socket answers, while the machine is still
    being made (LODGE_TEST_HOOK=slow-start hands it over 2 s late, as a loaded host
    may): the request waits for it and the machine migrates. It was answered 502 at
    once ("Resource temporarily unavailable") and the destination waited for a stream
    that never came (migrate.host_paths' hp-rw-none failed so in CI)."""
    g = c.start(["--bare", loop_elf(c), "--timeout", "600"], "mas-src.sock",
                ["env", "LODGE_TEST_HOOK=slow-start"])
    if not g.wait_api(60):
        return c.result("migrate_at_start", "no control socket: %s" % g.errtext()[-300:])
    c.result("migrate_at_start", migrated(c, g, "mas", []))
