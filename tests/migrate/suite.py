"""Live migration of system VMs, end to end (docs/SNAPSHOT.md "Live migration").

  loopback        memcheck (memcheck.c: rewrites and checks 16 MiB continuously, prints
                  "CNT n OK") runs in the guest; PUT /migrate to `lodge run --incoming
                  tcp:127.0.0.1:PORT` answers 204, the source exits 0 with reason
                  "migrated" (--exit-file), the destination goes on counting: together
                  the counts have no gap and no check failed
  netns           the same between two network namespaces joined by a veth pair the test
                  creates (and removes)
  dest_gone       a destination that reads part of the stream and closes it, one that
                  closes it after the header (as another stream version does), and a
                  port nobody listens on: 502 (the second saying it closed the
                  connection), the source runs on (counts go on, GET /vm)
  daemon          the same through two daemons with their own state directories and
                  sockets: `lodge create dst --incoming 127.0.0.1:PORT` + `lodge start` on
                  one (state "incoming", then "running"), `lodge migrate src HOST:PORT` on
                  the other (the source ends "stopped", reason "migrated"); before it, a
                  port nobody listens on and a destination that takes 1 MiB, holds the
                  stream (lodge ps answers meanwhile: the daemon is not blocked) and
                  hangs up: the command fails with one line, the source runs on
  postcopy, postcopy_fast_writer, postcopy_source_gone, postcopy_dest_gone, daemon_postcopy
                  post-copy (docs/SNAPSHOT.md "Post-copy"; the tests' docstrings say what)
  daemon_netns    the daemons' migration between the two network namespaces (each
                  daemon runs in one: the daemon, not the sandboxed guest, listens and
                  connects)
  daemon_wasm     a WebAssembly guest (ticker.wat: "TICK n" every 20 ms, checking its
                  memory) moved between two daemons the same way (stop and copy of its
                  snapshot): the ticks go on at the destination with no gap or repeat
  daemon_wasm_postcopy
                  the same by post-copy (memsum.wat's 64 MiB; the test's docstring)
  slow_dest       a destination slower than the stream's 10 s timeout (the test build's
                  LODGE_TEST_HOOK=slow-apply: 15 s between DONE and its "OK") that sends
                  progress frames is waited for: the migration completes, paused over
                  10 s, the count has no gap; the same by post-copy; then one stopped
                  (SIGSTOP) as the DONE reaches it is given up on: 502 saying it was
                  silent, the source counts on
  bad_stream      garbage, and a valid header followed by a section claiming 1 TiB, sent
                  to --incoming: exit 125, one line; a version-1 stream: refused saying
                  so; --incoming with --seccomp: exit 2
  ack_lines, disk_copy, disk_shared, disk_bad, daemon_disk
                  guests with a writable disk: tests/migrate/disks.py
  host_paths, host_paths_standby
                  the host files, sockets and ports a stream names, refused unless the
                  destination allowed them: tests/migrate/hostpaths.py
"""
import glob
import json
import os
import random
import re
import select
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
from lib import Guest, StreamProxy, api, drop_daemon_cgroups  # noqa: E402

sys.path.insert(0, os.path.join(TOP, "tests/migrate"))
import initrd as initrd_mod  # noqa: E402
import disks  # noqa: E402
import hostpaths  # noqa: E402

OUT = os.path.join(TOP, "guest-cache/out")
ASAN = os.environ.get("LODGE") or os.path.join(TOP, "build/asan/lodge")
REL = os.path.join(TOP, "build/release/lodge")
if not os.access(REL, os.X_OK):
    REL = ASAN
NS_A, NS_B = "lodge-mig-a%d" % os.getpid(), "lodge-mig-b%d" % os.getpid()

tmp = tempfile.mkdtemp(prefix="lodge-migrate-suite.")
os.chmod(tmp, 0o755)  # the daemons' sandboxed guests read the initramfs from here
guests = []


def result(name, why):
    if why:
        print("FAIL: migrate.%s: %s" % (name, why.strip("; ")), flush=True)
    else:
        print("PASS: migrate.%s" % name, flush=True)


def build_initrd():
    """The default initramfs with /bin/memcheck and /bin/diskrec (tests/replicate)."""
    path, why = initrd_mod.build(tmp)
    if not path:
        return None, why
    exe = os.path.join(tmp, "diskrec")
    r = subprocess.run([initrd_mod.CC, "-O2", "-static", "-o", exe,
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


def host_path_tests():
    c = disks.Ctx(start=lambda args, sock, wrap=(): start(args, sock, wrap, lodge=ASAN),
                  api=api, free_port=free_port, result=result, tmp=tmp, top=TOP, lodge=ASAN)
    only = os.environ.get("MIGRATE_ONLY", "")
    for name, fn in (("host_paths", hostpaths.t_host_paths),
                     ("host_paths_standby", hostpaths.t_host_paths_standby),
                     ("migrate_at_start", hostpaths.t_migrate_at_start)):
        if not only or name in only.split(","):
            fn(c)


def disk_tests(initrd):
    c = disks.Ctx(start=lambda args, sock: start(args, sock), api=api, free_port=free_port,
                  result=result, tmp=tmp, boot_args=boot_args(initrd), Daemon=Daemon,
                  wait_until=wait_until, out=OUT, initrd=initrd)
    only = os.environ.get("MIGRATE_ONLY", "")
    for name, fn in (("ack_lines", disks.t_ack_lines), ("disk_copy", disks.t_disk_copy),
                     ("disk_copy_postcopy", disks.t_disk_copy_postcopy),
                     ("disk_shared", disks.t_disk_shared),
                     ("disk_bad", disks.t_disk_bad), ("daemon_disk", disks.t_daemon_disk),
                     ("daemon_chain", disks.t_daemon_chain)):
        if not only or name in only.split(","):
            fn(c)


def boot_args(initrd):
    return ["--kernel", OUT + "/Image", "--initrd", initrd, "--firmware",
            OUT + "/fw_dynamic.bin", "--timeout", "900"]


def start(args, sock, wrap=(), lodge=REL):
    g = WrappedGuest(list(wrap), lodge, args, os.path.join(tmp, sock))
    guests.append(g)
    return g


class WrappedGuest(Guest):
    """lib.Guest, run under a wrapper command (ip netns exec NS)."""

    def __init__(self, wrap, lodge, args, api_sock):
        self.api_sock = api_sock
        cmd = wrap + [lodge, "run"] + args + ["--api", api_sock]
        self.p = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE)
        self.out = b""
        self.err = b""
        self.lock = threading.Lock()
        self.t = threading.Thread(target=self._read, args=(self.p.stdout, "out"), daemon=True)
        self.t.start()
        self.te = threading.Thread(target=self._read, args=(self.p.stderr, "err"), daemon=True)
        self.te.start()


def counts(text):
    # (terminal escapes first: the prompt's cursor query, ESC [6n, ends in a letter)
    text = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", text)
    return [int(n) for n in re.findall(r"(?<![A-Za-z])CNT (\d+) OK$", text, re.M)]


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def boot_memcheck(initrd, sock, wrap=(), extra=(), memcheck="16 64"):
    g = start(boot_args(initrd) + list(extra), sock, wrap)
    if not g.wait_api(30):
        return g, "no control socket: " + g.errtext()[-300:]
    if not g.wait_for(r"Leaving this shell", 300):
        return g, "no shell prompt: " + g.text()[-300:]
    g.send("memcheck %s &\n" % memcheck)
    if not g.wait_for(r"^CNT 5 OK$", 120):
        return g, "memcheck did not run: " + g.text()[-300:]
    return g, ""


def migrate_and_check(name, initrd, listen, connect, wrap_src=(), wrap_dst=(), opts=None,
                      memcheck="16 64", src=None, stats=None, dst_lodge=REL):
    """Migrates a memcheck guest (booted here, or `src`) to a new destination; returns
    why it failed, or "". opts: more of PUT /migrate's body; stats: a list that gets the
    source's "migrated to" line's figures (a dict) and the destination."""
    exit_file = os.path.join(tmp, name + ".exit")
    if src is None:
        src, why = boot_memcheck(initrd, name + "-src.sock", wrap_src,
                                 ["--exit-file", exit_file], memcheck)
        if why:
            return why
    else:
        exit_file = src.exit_file
    dst = start(["--incoming", "tcp:" + listen, "--exit-file", exit_file + "2"],
                name + "-dst.sock", wrap_dst, dst_lodge)
    dst.exit_file = exit_file + "2"
    if not dst.wait_listen(int(listen.rsplit(":", 1)[1])):
        return "the destination does not listen: " + dst.errtext()[-300:]
    t0 = time.time()
    req = {"destination": connect}
    req.update(opts or {})
    st, body = api(src.api_sock, "PUT", "/migrate", req, timeout=600)
    took = time.time() - t0
    if st != 204:
        return "PUT /migrate: %s %s (source: %s; destination: %s)" % (
            st, body, src.errtext()[-300:], dst.errtext()[-300:])
    try:
        code = src.p.wait(30)
    except subprocess.TimeoutExpired:
        return "the source did not exit after the migration"
    src.drain()  # its last lines read (the process may end before its readers)
    info = re.search(r"migrated to \S+: .*", src.errtext())
    print("# %s: PUT /migrate %.0f ms; %s" % (name, took * 1000, info.group(0) if info else "?"),
          flush=True)
    if info and stats is not None:
        m = re.search(r"(\d+) rounds, .* in ([\d.]+) ms, paused ([\d.]+) ms"
                      r"(?:, post-copy (\d+) pages \((\d+) asked for\))?", info.group(0))
        stats.append({"rounds": int(m.group(1)), "total_ms": float(m.group(2)),
                      "paused_ms": float(m.group(3)),
                      "post_pages": int(m.group(4) or 0), "asked": int(m.group(5) or 0)}
                     if m else {})
        stats.append(dst)
    why = ""
    try:
        reason = json.load(open(exit_file)).get("reason")
    except (OSError, ValueError):
        reason = None
    if code != 0 or not info or reason != "migrated":
        why += "; the source ended with status %s, reason %s: %s" % (
            code, reason, src.errtext()[-300:])
    last_src = counts(src.text())
    if not last_src:
        return why + "; no count on the source"
    if not dst.wait_for(r"^CNT %d OK$" % (last_src[-1] + 20), 120):
        why += "; the destination did not count on from %d: %s %s" % (
            last_src[-1], dst.text()[-300:], dst.errtext()[-300:])
    # The console output of both ends, one after the other, is one stream: a line the
    # source began may end on the destination, but no byte is lost or repeated.
    both = counts(src.text() + dst.text())
    got = sorted(set(both))
    if len(both) != len(got):
        why += "; a count was printed twice"
    if "BAD" in src.text() + dst.text():
        why += "; memcheck found a bad page: %s" % re.findall(r"CNT \d+ BAD.*", dst.text())[:3]
    if got != list(range(got[0], got[-1] + 1)):
        gaps = [(a, b) for a, b in zip(got, got[1:]) if b != a + 1]
        why += "; the count has gaps: %s" % gaps[:5]
    try:
        st, body = api(dst.api_sock, "GET", "/vm")
    except OSError as e:
        st, body = e, {}
    if st != 200 or body.get("state") != "Running":
        why += "; the destination's GET /vm: %s %s (status %s: %s)" % (
            st, body, dst.p.poll(), dst.errtext()[-200:])
    if stats is None:
        dst.kill()
    return why


def t_loopback(initrd):
    port = free_port()
    result("loopback", migrate_and_check("lo", initrd, "127.0.0.1:%d" % port,
                                         "127.0.0.1:%d" % port))


def t_postcopy(initrd):
    """Post-copy with no pre-copy round: the guest runs at the destination at once and
    every page it touches comes on demand."""
    port = free_port()
    stats = []
    why = migrate_and_check("pc", initrd, "127.0.0.1:%d" % port, "127.0.0.1:%d" % port,
                            opts={"post_copy": True, "precopy_rounds": 0}, stats=stats)
    if stats:
        s, dst = stats
        if s.get("rounds") != 0 or not s.get("post_pages") or not s.get("asked"):
            why += "; expected 0 rounds and pages sent after the switch, some asked for: %s" % s
        dst.kill()
    result("postcopy", why)


def t_postcopy_fast_writer(initrd):
    """A guest that rewrites its 8 MiB faster than an 8 MiB/s link: pre-copy does not
    converge (30 rounds, then a long pause); post-copy moves it on with a short pause."""
    rate = 8 << 20
    port = free_port()
    stats = []
    why = migrate_and_check("pcw1", initrd, "127.0.0.1:%d" % port, "127.0.0.1:%d" % port,
                            opts={"max_bandwidth": rate}, memcheck="8 2048", stats=stats)
    if not stats:
        return result("postcopy_fast_writer", why or "no figures from the pre-copy")
    pre, mid = stats
    if pre.get("rounds", 0) < 30:
        why += "; pre-copy converged: the guest did not outrun the link: %s" % pre
    port = free_port()
    stats = []
    why += migrate_and_check("pcw2", initrd, "127.0.0.1:%d" % port, "127.0.0.1:%d" % port,
                             opts={"max_bandwidth": rate, "post_copy": True,
                                   "precopy_rounds": 1}, src=mid, stats=stats)
    if stats:
        post, dst = stats
        print("# postcopy_fast_writer: pre-copy paused %.0f ms after %d rounds; post-copy "
              "paused %.0f ms, %d pages after the switch (%d asked for)" % (
                  pre.get("paused_ms", 0), pre.get("rounds", 0), post.get("paused_ms", 0),
                  post.get("post_pages", 0), post.get("asked", 0)), flush=True)
        if not post.get("asked") or post.get("paused_ms", 1e9) * 4 > pre.get("paused_ms", 0):
            why += ("; post-copy did not pause much less than pre-copy, or no page was "
                    "asked for: %s vs %s" % (post, pre))
        dst.kill()
    result("postcopy_fast_writer", why)


def t_postcopy_source_gone(initrd):
    """The source killed after the switch: the destination cannot go on (its memory is
    incomplete): it stops with an error, and says why."""
    src, why = boot_memcheck(initrd, "pcg-src.sock")
    if why:
        return result("postcopy_source_gone", why)
    port = free_port()
    dst = start(["--incoming", "tcp:127.0.0.1:%d" % port], "pcg-dst.sock")
    if not dst.wait_listen(port):
        return result("postcopy_source_gone", "the destination does not listen: " +
                      dst.errtext()[-300:])
    def put():  # it gets no answer: the source is killed
        try:
            api(src.api_sock, "PUT", "/migrate", {"destination": "127.0.0.1:%d" % port,
                                                  "post_copy": True, "precopy_rounds": 0,
                                                  "max_bandwidth": 1 << 20}, timeout=300)
        except OSError:
            pass
    t = threading.Thread(target=put, daemon=True)
    t.start()
    # it runs there (its pages coming on demand over a 1 MiB/s link): it counts on
    if not dst.wait_for(r"^CNT \d+ OK$", 120):
        why += "; the destination did not run: " + dst.errtext()[-300:]
    src.p.kill()
    try:
        code = dst.p.wait(60)
    except subprocess.TimeoutExpired:
        code = None
    dst.drain()  # its last lines read (the process may end before its readers)
    if code in (None, 0) or "post-copy" not in dst.errtext() or "missing" not in dst.errtext():
        why += "; the destination: status %s, %r" % (code, dst.errtext()[-300:])
    result("postcopy_source_gone", why)


def t_postcopy_dest_gone(initrd):
    """The other way round: the destination killed after the switch. The source's PUT
    /migrate answers 502 migration_lost, then the source ends (reason "error": its guest
    ran at the destination, it cannot run on here). The source is the ASan build with
    LODGE_TEST_HOOK=slow-answer (the migration's end reported 300 ms late, as on a
    loaded host): the answer must still come before the process ends (status 125)."""
    exit_file = os.path.join(tmp, "pcd.exit")
    src = start(boot_args(initrd) + ["--exit-file", exit_file], "pcd-src.sock",
                ["env", "LODGE_TEST_HOOK=slow-answer"], lodge=ASAN)
    why = ""
    if not src.wait_api(60):
        return result("postcopy_dest_gone", "no control socket: " + src.errtext()[-300:])
    if not src.wait_for(r"Leaving this shell", 300):
        return result("postcopy_dest_gone", "no shell prompt: " + src.text()[-300:])
    src.send("memcheck 16 64 &\n")
    if not src.wait_for(r"^CNT 5 OK$", 120):
        return result("postcopy_dest_gone", "memcheck did not run: " + src.text()[-300:])
    port = free_port()
    dst = start(["--incoming", "tcp:127.0.0.1:%d" % port], "pcd-dst.sock")
    if not dst.wait_listen(port):
        return result("postcopy_dest_gone", "the destination does not listen: " +
                      dst.errtext()[-300:])
    res = {}

    def put():
        try:
            res["st"] = api(src.api_sock, "PUT", "/migrate", {
                "destination": "127.0.0.1:%d" % port, "post_copy": True, "precopy_rounds": 0,
                "max_bandwidth": 1 << 20}, timeout=300)
        except OSError as e:
            res["st"] = (None, "%s: %s" % (type(e).__name__, e))
    t = threading.Thread(target=put, daemon=True)
    t.start()
    if not wait_until(lambda: dst.p.poll() is not None or
                      re.search(r"^CNT \d+ OK$", dst.text(), re.M), 120):
        why += "; the destination did not run: " + dst.errtext()[-300:]
    dst.p.kill()
    t.join(120)
    st = res.get("st", (None, "no answer in 120 s"))
    if st[0] != 502 or "migration_lost" not in str(st[1]):
        why += "; PUT /migrate: %r" % (st,)
    try:
        code = src.p.wait(60)
    except subprocess.TimeoutExpired:
        code = None
    try:
        reason = json.load(open(exit_file)).get("reason")
    except (OSError, ValueError):
        reason = None
    if code != 125 or reason != "error":
        why += "; the source: status %s, reason %s (125, error wanted)" % (code, reason)
    result("postcopy_dest_gone", why)


def pc_section(typ, payload):
    h = struct.pack("<IIQI", typ, 0, len(payload), zlib.crc32(payload))
    return h + struct.pack("<I", zlib.crc32(h)) + payload


def recv_exact(s, n):
    b = b""
    while len(b) < n:
        k = s.recv(n - len(b))
        if not k:
            raise OSError("the peer hung up after %d of %d bytes" % (len(b), n))
        b += k
    return b


PC_HOSTILE = {  # after the switch, instead of the source: (what it sends, what --incoming says)
    "page_past_memory": (lambda miss, n: pc_section(0x100, struct.pack(
        "<IQ", 1, n) + b"\x55" * 4096), "not missing"),
    "page_twice": (lambda miss, n: pc_section(0x100, struct.pack(
        "<IQ", 2, miss[0]) + b"\x55" * 4096 + struct.pack("<Q", miss[0]) + b"\x55" * 4096),
        "not missing"),
    "done_early": (lambda miss, n: pc_section(0x102, b""), "pages missing"),
}


def t_postcopy_hostile(initrd, what):
    """A hostile post-copy source against `lodge run --incoming` (the shared post-copy
    core, snapshot/postcopy.c): a proxy passes a real source's stream up to the switch
    ("OK"), then the source is killed and the proxy sends PC_HOSTILE[what]. The
    destination stops within a minute, non-zero, saying why; no sanitizer report."""
    name = "postcopy_hostile_" + what
    src, why = boot_memcheck(initrd, "pch-%s-src.sock" % what)
    if why:
        return result(name, why)
    port = free_port()
    dst = start(["--incoming", "tcp:127.0.0.1:%d" % port], "pch-%s-dst.sock" % what,
                lodge=ASAN)
    ls = socket.socket()
    ls.bind(("127.0.0.1", 0))
    ls.listen(1)
    ls.settimeout(120)
    socks = [ls]
    try:
        if not dst.wait_listen(port):
            return result(name, "the destination does not listen: " + dst.errtext()[-300:])

        def put():
            try:
                api(src.api_sock, "PUT", "/migrate", {
                    "destination": "127.0.0.1:%d" % ls.getsockname()[1], "post_copy": True,
                    "precopy_rounds": 0}, timeout=300)
            except OSError:
                pass
        threading.Thread(target=put, daemon=True).start()
        s, _ = ls.accept()
        socks.append(s)
        s.settimeout(120)
        c = socket.create_connection(("127.0.0.1", port), timeout=120)
        socks.append(c)
        c.sendall(recv_exact(s, 24))  # the stream's header (version 3: with its nonce)
        miss, npages = [], 0
        back = [True]

        def relay_back():  # the destination's answers and progress frames, as they come
            while back[0]:
                if not select.select([c], [], [], 0.1)[0]:
                    continue
                k = c.recv(65536)
                if not k:
                    break
                s.sendall(k)
        t = threading.Thread(target=relay_back, daemon=True)
        t.start()
        while True:  # the source's sections up to its DONE
            h = recv_exact(s, 24)
            typ, _, ln = struct.unpack_from("<IIQ", h)
            body = recv_exact(s, ln)
            if typ == 0x102:  # the answer to DONE ("OK") is the proxy's
                back[0] = False
                t.join()
            c.sendall(h + body)
            if typ == 0x10c:  # DISCARD: the pages still at the source
                npages = struct.unpack_from("<Q", body)[0]
                for w in range((npages + 63) // 64):
                    bits = struct.unpack_from("<Q", body, 8 + 8 * w)[0]
                    miss += [w * 64 + i for i in range(64) if bits >> i & 1]
            elif typ == 0x102:
                break
        # up to "OK": progress frames, and the pages loading the harts and devices asks
        # for ("RQ"), which the real source serves (whole sections passed on)
        ok = b""
        while ok != b"OK":
            rd = select.select([s, c], [], [], 120)[0]
            if not rd:
                raise OSError("no \"OK\" in 120 s")
            if c in rd:
                ok = recv_exact(c, 2)
                if ok in (b"PG", b"RQ"):
                    s.sendall(ok + recv_exact(c, 8))
                elif ok == b"OK":
                    recv_exact(c, 8)  # the stream's nonce
                else:
                    break
            elif s in rd:
                h = recv_exact(s, 24)
                typ, _, ln = struct.unpack_from("<IIQ", h)
                body = recv_exact(s, ln)
                c.sendall(h + body)
                off = 4
                for _ in range(struct.unpack_from("<I", body)[0] if typ == 0x100 else 0):
                    q = struct.unpack_from("<Q", body, off)[0]
                    off += 8 + (0 if q >> 63 else 4096)
                    if q & ~(1 << 63) in miss:
                        miss.remove(q & ~(1 << 63))
        if ok != b"OK" or not miss:
            return result(name, "the switch: %r, %d pages missing" % (ok, len(miss)))
        s.close()
        src.p.kill()  # from here the proxy is the source
        c.sendall(PC_HOSTILE[what][0](miss, npages))
        try:
            code = dst.p.wait(60)
        except subprocess.TimeoutExpired:
            code = None
        dst.drain()  # its last lines read (the process may end before its readers)
        err = dst.errtext()
        if code in (None, 0) or PC_HOSTILE[what][1] not in err or "missing" not in err:
            why += "; the destination: status %s, %r" % (code, err[-400:])
        if "Sanitizer" in err or "runtime error" in err:
            why += "; a sanitizer report: %r" % err[-600:]
    except OSError as e:
        why += "; the stream up to the switch: %s: %r" % (e, dst.errtext()[-300:])
    finally:
        for x in socks:
            x.close()
    result(name, why)


def t_slow_dest(initrd):
    """A destination slower than the stream's 10 s timeout that says it works on is not a
    dead one; one that falls silent still is. The test build's LODGE_TEST_HOOK=slow-apply
    makes `lodge run --incoming` take 15 s between the DONE and its "OK" (its busy thread
    sends progress frames meanwhile)."""
    hook = ["env", "LODGE_TEST_HOOK=slow-apply"]  # only the test build (ASAN) has it
    port = free_port()
    stats = []
    why = migrate_and_check("slow", initrd, "127.0.0.1:%d" % port, "127.0.0.1:%d" % port,
                            wrap_dst=hook, dst_lodge=ASAN, stats=stats)
    if not stats:
        return result("slow_dest", why or "no figures from the migration")
    s, src = stats
    if s.get("paused_ms", 0) < 10000:
        why += ("; paused %s ms: the destination was not slower than the 10 s timeout "
                "(no hook in %s?)" % (s.get("paused_ms"), ASAN))
    if why:
        src.kill()
        return result("slow_dest", why)
    # Post-copy: the source reads the progress among the destination's requests.
    port = free_port()
    stats = []
    why = migrate_and_check("slowpc", initrd, "127.0.0.1:%d" % port, "127.0.0.1:%d" % port,
                            wrap_dst=hook, dst_lodge=ASAN, src=src, stats=stats,
                            opts={"post_copy": True, "precopy_rounds": 1})
    if not stats:
        return result("slow_dest", "post-copy: " + (why or "no figures"))
    pc, src = stats
    if pc.get("paused_ms", 0) < 10000 or why:
        src.kill()
        return result("slow_dest", why + "; post-copy paused %s ms (over 10 s wanted)" %
                      pc.get("paused_ms"))
    # The migrated guest moves on, to a destination stopped as the DONE reaches it.
    port = free_port()
    dst = start(["--incoming", "tcp:127.0.0.1:%d" % port], "slow2-dst.sock", hook, ASAN)
    if not dst.wait_listen(port):
        why += "; the second destination does not listen: " + dst.errtext()[-300:]
    stopped = []

    def stop():
        stopped.append(time.time())
        os.kill(dst.p.pid, signal.SIGSTOP)  # env execs lodge: the same process
    proxy = StreamProxy(port, stop)
    st, body = api(src.api_sock, "PUT", "/migrate",
                   {"destination": "127.0.0.1:%d" % proxy.port}, timeout=300)
    waited = time.time() - stopped[0] if stopped else None
    print("# slow_dest: paused %.0f ms (pre-copy), %.0f ms (post-copy) for the slow "
          "destinations; a stopped one given up on after %s s" % (
              s.get("paused_ms", 0), pc.get("paused_ms", 0),
              "%.1f" % waited if waited else "?"), flush=True)
    if st != 502 or body.get("error") != "migration_failed" or "silent" not in str(body):
        why += "; a stopped destination: %s %s" % (st, body)
    if waited is None or not 5 <= waited <= 40:
        why += "; a stopped destination given up on after %s s (10 s wanted)" % waited
    os.kill(dst.p.pid, signal.SIGCONT)
    dst.kill()
    proxy.close()
    st, body = api(src.api_sock, "GET", "/vm")
    if st != 200 or body.get("state") != "Running":
        why += "; the source's GET /vm after the failure: %s %s" % (st, body)
    last = counts(src.text())
    if not last or not src.wait_for(r"^CNT %d OK$" % (last[-1] + 10), 120):
        why += "; the source stopped counting: " + src.text()[-200:]
    if "BAD" in src.text():
        why += "; memcheck found a bad page on the source"
    src.kill()
    result("slow_dest", why)


def sh(*cmd):
    return subprocess.run(list(cmd), capture_output=True, text=True)


def t_netns(initrd):
    if os.geteuid() != 0 or not shutil.which("ip"):
        result("netns", "needs root and iproute2 to create network namespaces")
        return
    veth_a, veth_b = "vmiga%d" % (os.getpid() % 10000), "vmigb%d" % (os.getpid() % 10000)
    why = ""
    try:
        for cmd in (["ip", "netns", "add", NS_A], ["ip", "netns", "add", NS_B],
                    ["ip", "link", "add", veth_a, "type", "veth", "peer", "name", veth_b],
                    ["ip", "link", "set", veth_a, "netns", NS_A],
                    ["ip", "link", "set", veth_b, "netns", NS_B],
                    ["ip", "-n", NS_A, "addr", "add", "10.213.7.1/24", "dev", veth_a],
                    ["ip", "-n", NS_B, "addr", "add", "10.213.7.2/24", "dev", veth_b],
                    ["ip", "-n", NS_A, "link", "set", veth_a, "up"],
                    ["ip", "-n", NS_B, "link", "set", veth_b, "up"],
                    ["ip", "-n", NS_A, "link", "set", "lo", "up"],
                    ["ip", "-n", NS_B, "link", "set", "lo", "up"]):
            r = sh(*cmd)
            if r.returncode:
                why = "%s: %s" % (" ".join(cmd), r.stderr.strip())
                break
        if not why:
            why = migrate_and_check("ns", initrd, "10.213.7.2:47123", "10.213.7.2:47123",
                                    ["ip", "netns", "exec", NS_A],
                                    ["ip", "netns", "exec", NS_B])
    finally:
        sh("ip", "netns", "del", NS_A)
        sh("ip", "netns", "del", NS_B)
    left = sh("ip", "netns", "list").stdout
    if NS_A in left or NS_B in left:
        why += "; the namespaces were not removed"
    result("netns", why)


def t_dest_gone(initrd):
    src, why = boot_memcheck(initrd, "gone-src.sock")
    if why:
        result("dest_gone", why)
        return
    # a destination that takes 1 MiB of the stream and hangs up
    ls = socket.socket()
    ls.bind(("127.0.0.1", 0))
    ls.listen(1)
    port = ls.getsockname()[1]

    def half():
        c, _ = ls.accept()
        got = 0
        while got < (1 << 20):
            b = c.recv(65536)
            if not b:
                break
            got += len(b)
        c.close()
    t = threading.Thread(target=half, daemon=True)
    t.start()
    st, body = api(src.api_sock, "PUT", "/migrate", {"destination": "127.0.0.1:%d" % port})
    ls.close()
    if st != 502 or body.get("error") != "migration_failed":
        why += "; a destination gone mid-stream: %s %s" % (st, body)
    st, body = api(src.api_sock, "PUT", "/migrate", {"destination": "127.0.0.1:%d" % free_port()})
    if st != 502:
        why += "; a port nobody listens on: %s %s" % (st, body)
    # a Lodge of another stream version reads the header, refuses it and closes
    ls = socket.socket()
    ls.bind(("127.0.0.1", 0))
    ls.listen(1)
    port = ls.getsockname()[1]

    def refuse():
        c, _ = ls.accept()
        c.recv(16, socket.MSG_WAITALL)
        c.close()
    t = threading.Thread(target=refuse, daemon=True)
    t.start()
    st, body = api(src.api_sock, "PUT", "/migrate", {"destination": "127.0.0.1:%d" % port})
    ls.close()
    if st != 502 or "closed the connection" not in str(body) or "version" not in str(body):
        why += "; a destination that refuses the stream's version: %s %s" % (st, body)
    # post-copy: the same destination that hangs up before the switch
    ls = socket.socket()
    ls.bind(("127.0.0.1", 0))
    ls.listen(1)
    port = ls.getsockname()[1]
    t = threading.Thread(target=half, daemon=True)
    t.start()
    st, body = api(src.api_sock, "PUT", "/migrate", {"destination": "127.0.0.1:%d" % port,
                                                     "post_copy": True, "precopy_rounds": 0})
    ls.close()
    if st != 502 or body.get("error") != "migration_failed":
        why += "; post-copy to a destination gone before the switch: %s %s" % (st, body)
    for body, want in [({"destination": "nowhere"}, 400), ({"dest": "x:1"}, 400)]:
        st, b = api(src.api_sock, "PUT", "/migrate", body)
        if st != want:
            why += "; %s -> %s %s" % (body, st, b)
    n = len(counts(src.text()))
    st, body = api(src.api_sock, "GET", "/vm")
    if st != 200 or body.get("state") != "Running":
        why += "; the source's GET /vm after the failures: %s %s" % (st, body)
    if not src.wait_for(r"^CNT %d OK$" % (counts(src.text())[-1] + 10), 120):
        why += "; the source stopped counting: " + src.text()[-200:]
    if "BAD" in src.text():
        why += "; memcheck found a bad page on the source"
    if src.p.poll() is not None:
        why += "; the source exited: " + src.errtext()[-200:]
    del n
    src.kill()
    result("dest_gone", why)


def send_to_incoming(payload, want=None, trickle=b""):
    """payload to `lodge run --incoming`, then trickle a byte every 2 s (for at most
    90 s): it gives up within a minute with status 125 and one line (matching want)."""
    port = free_port()
    p = subprocess.Popen([ASAN, "run", "--incoming", "tcp:127.0.0.1:%d" % port],
                         stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True)
    for _ in range(100):
        try:
            s = socket.create_connection(("127.0.0.1", port), 1)
            break
        except OSError:
            time.sleep(0.1)
    else:
        p.kill()
        return "--incoming did not listen: " + p.communicate()[1][-200:]
    t0 = time.time()
    try:
        s.sendall(payload)
        for i in range(len(trickle)):
            if p.poll() is not None or time.time() - t0 > 90:
                break
            time.sleep(2)
            s.sendall(trickle[i:i + 1])
    except OSError:
        pass
    s.close()
    try:
        _, err = p.communicate(timeout=max(1, 60 - (time.time() - t0)))
    except subprocess.TimeoutExpired:
        p.kill()
        return "--incoming did not give up on a bad stream"
    if time.time() - t0 > 60:
        return "--incoming gave up on a bad stream only after %.0f s" % (time.time() - t0)
    lines = err.strip().splitlines()
    if p.returncode != 125 or len(lines) != 1 or "--incoming" not in lines[0] or \
            (want and not re.search(want, lines[0])):
        return "status %s, %r" % (p.returncode, err[-300:])
    return ""


def listening(port):
    """Whether a TCP socket listens on port (IPv4), without connecting to it."""
    with open("/proc/net/tcp") as f:
        return any(x.split()[1].endswith(":%04X" % port) and x.split()[3] == "0A"
                   for x in f.readlines()[1:])


def t_waiting_ends():
    """`lodge run --incoming tcp:` and `--standby tcp:` waiting for their stream end on a
    termination signal (128 + its number: they were blocked in accept for good) and on
    --timeout (124, a line saying no stream came); a port out of 1..65535 is refused, not
    taken modulo 65536."""
    why = ""
    for what, sig, want in (("--incoming", signal.SIGTERM, 143),
                            ("--standby", signal.SIGINT, 130)):
        port = free_port()
        p = subprocess.Popen([ASAN, "run", what, "tcp:127.0.0.1:%d" % port],
                             stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
        end = time.time() + 60  # listening: its signal handling is in place by then
        while time.time() < end and p.poll() is None and not listening(port):
            time.sleep(0.1)
        p.send_signal(sig)
        try:
            rc = p.wait(30)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()
            rc = None
        if rc != want:
            why += "; %s and signal %d: status %s (%d wanted)" % (what, sig, rc, want)
    t0 = time.time()
    r = subprocess.run([ASAN, "run", "--incoming", "tcp:127.0.0.1:%d" % free_port(),
                        "--timeout", "2"], stdin=subprocess.DEVNULL, capture_output=True,
                       text=True, timeout=60)
    if r.returncode != 124 or "no stream came" not in r.stderr or time.time() - t0 > 30:
        why += "; --timeout 2 while waiting: status %d after %.1f s: %r" % (
            r.returncode, time.time() - t0, r.stderr[-200:])
    r = subprocess.run([ASAN, "run", "--incoming", "tcp:127.0.0.1:99999"],
                       stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=60)
    if r.returncode != 125 or "1 to 65535" not in r.stderr:
        why += "; port 99999: status %d, %r" % (r.returncode, r.stderr[-200:])
    result("waiting_ends", why)


def t_bad_stream():
    why = send_to_incoming(b"GET / HTTP/1.0\r\n\r\n" + os.urandom(4096))
    head = b"LODGEMIG" + struct.pack("<I", 3) + os.urandom(8)  # version 3: the nonce
    head += struct.pack("<I", zlib.crc32(head))
    sec = struct.pack("<IIQI", 1, 0, 1 << 40, 0)
    sec += struct.pack("<I", zlib.crc32(sec))
    why += send_to_incoming(head + sec + b"x" * 100)
    why += send_to_incoming(head)  # and then nothing
    # a length near 2^64 (the deadline's per-byte allowance must not wrap): refused
    huge = struct.pack("<IIQI", 1, 0, (1 << 64) - 1, 0)
    huge += struct.pack("<I", zlib.crc32(huge))
    why += send_to_incoming(head + huge + b"x" * 100, r"claims 18446744073709551615 bytes")
    # the machine's section a byte every 2 s: each read comes within the stream's 10 s,
    # the section's own deadline ends it
    mach = struct.pack("<IIQI", 1, 0, 4096, zlib.crc32(b"\0" * 4096))
    mach += struct.pack("<I", zlib.crc32(mach))
    why += send_to_incoming(head, r"did not come in time", trickle=mach + b"\0" * 4096)
    # a Lodge of stream version 1 (no progress frames) is refused, saying so
    v1 = b"LODGEMIG" + struct.pack("<I", 1)
    v1 += struct.pack("<I", zlib.crc32(v1))
    why += send_to_incoming(v1 + sec + b"x" * 100,
                            r"version 1 is not supported \(this Lodge speaks version 3\)")
    # --seccomp's allow list would kill the process at the first migration call: refused
    p = subprocess.run([ASAN, "run", "--incoming", "tcp:127.0.0.1:1", "--seccomp"],
                       stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=60)
    if p.returncode != 2 or "--seccomp" not in p.stderr:
        why += "; --incoming --seccomp: status %d, %r" % (p.returncode, p.stderr[-200:])
    # the daemon's way needs the control socket the stream comes on
    p = subprocess.run([ASAN, "run", "--incoming", "control"], stdin=subprocess.DEVNULL,
                       capture_output=True, text=True, timeout=60)
    if p.returncode != 2 or "--api" not in p.stderr:
        why += "; --incoming control without --api: status %d, %r" % (p.returncode,
                                                                      p.stderr[-200:])
    result("bad_stream", why)


class Daemon:
    """`lodge daemon` on a private state directory and socket (optionally in a netns)."""

    def __init__(self, name, wrap=()):
        self.dir = os.path.join(tmp, name)
        os.makedirs(self.dir, mode=0o755, exist_ok=True)
        self.sock = os.path.join(self.dir, "lodge.sock")
        self.env = dict(os.environ, LODGE_SOCKET=self.sock)
        self.log = open(os.path.join(self.dir, "daemon.log"), "ab")
        self.p = subprocess.Popen(list(wrap) + [REL, "daemon", "--state",
                                                os.path.join(self.dir, "state"), "--socket",
                                                self.sock], stdout=self.log, stderr=self.log)
        DAEMONS.append(self)
        end = time.time() + 30
        while time.time() < end and not os.path.exists(self.sock):
            time.sleep(0.1)

    def cli(self, *args, timeout=300):
        p = subprocess.run([REL] + list(args), capture_output=True, text=True,
                           timeout=timeout, env=self.env)
        return p.returncode, p.stdout + p.stderr

    def inspect(self, name):
        rc, out = self.cli("inspect", name)
        try:
            return json.loads(out)[0] if rc == 0 else {}
        except (ValueError, IndexError):
            return {}

    def logs(self, name):
        return subprocess.run([REL, "logs", name], capture_output=True, text=True,
                              env=self.env, timeout=60).stdout

    def silent(self, name):
        """What to say of a guest that printed nothing: its log, state and exit, and the
        ends of its lodge.log and the daemon's log."""
        i = self.inspect(name)
        logs = "".join(open(f, errors="replace").read()[-300:] for f in glob.glob(
            os.path.join(self.dir, "state", "**", "lodge.log"), recursive=True))
        with open(os.path.join(self.dir, "daemon.log"), errors="replace") as f:
            dlog = f.read()[-300:]
        return "%r; state %s, exit %s, pid %s; lodge.log %r; daemon.log %r" % (
            self.logs(name)[-200:], i.get("state"), i.get("exit"), i.get("pid"), logs, dlog)

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
        for g in ("src", "dst"):
            self.cli("rm", "--force", g, timeout=60)
        if self.p.poll() is None:
            self.p.terminate()
            try:
                self.p.wait(20)
            except subprocess.TimeoutExpired:
                self.p.kill()
                self.p.wait()
        drop_daemon_cgroups(os.path.join(self.dir, "state"))


DAEMONS = []


def wait_until(pred, timeout):
    end = time.time() + timeout
    while time.time() < end:
        v = pred()
        if v:
            return v
        time.sleep(0.2)
    return None


def through_daemons(initrd, wrap_a=(), wrap_b=(), addr="127.0.0.1", failures=True,
                    migrate_opts=()):
    """Returns why it failed, or ""."""
    tag = ("n" if wrap_a else "l") + ("p" if migrate_opts else "")
    a, b = Daemon("da" + tag, wrap_a), Daemon("db" + tag, wrap_b)
    why = ""
    try:
        for d in (a, b):
            if not os.path.exists(d.sock):
                return "a daemon did not start: " + open(
                    os.path.join(d.dir, "daemon.log"), errors="replace").read()[-300:]
        rc, out = a.cli("create", "src", "--kernel", OUT + "/Image", "--initrd", initrd,
                        "--firmware", OUT + "/fw_dynamic.bin")
        rc2, out2 = a.cli("start", "src")
        if rc or rc2:
            return "create/start src: %s %s" % (out, out2)
        if not wait_until(lambda: "Leaving this shell" in a.logs("src"), 300):
            return "src: no shell prompt: " + a.logs("src")[-300:]
        a.console_send("src", "memcheck 16 64 &\n")
        if not wait_until(lambda: re.search(r"^CNT 5 OK$", a.logs("src"), re.M), 120):
            return "memcheck did not run: " + a.logs("src")[-300:]
        if failures:
            # nobody listens there; then a destination that takes 1 MiB and hangs up
            rc, out = a.cli("migrate", "src", "%s:%d" % (addr, free_port()))
            if rc == 0 or "runs on here" not in out or len(out.strip().splitlines()) != 1:
                why += "; migrate to a closed port: %d %r" % (rc, out)
            # it takes 1 MiB, then holds the stream (the daemon must serve meanwhile:
            # lodge ps answers) until told, and hangs up
            ls = socket.socket()
            ls.bind((addr, 0))
            ls.listen(1)
            took, hang_up = threading.Event(), threading.Event()

            def half():
                c, _ = ls.accept()
                got = 0
                while got < (1 << 20):
                    k = c.recv(65536)
                    if not k:
                        break
                    got += len(k)
                took.set()
                hang_up.wait(30)
                c.close()
            t = threading.Thread(target=half, daemon=True)
            t.start()
            mp = subprocess.Popen([REL, "migrate", "src", "%s:%d" % (addr, ls.getsockname()[1])],
                                  stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                  env=a.env)
            if not took.wait(60):
                why += "; the migration did not start"
            t0 = time.time()
            rc, out = a.cli("ps", "-a")
            if rc or time.time() - t0 > 5 or "src" not in out:
                why += "; lodge ps during a migration: %d after %.1f s" % (rc, time.time() - t0)
            hang_up.set()
            out = mp.communicate(timeout=120)[0]
            rc = mp.returncode
            ls.close()
            if rc == 0 or "runs on here" not in out or len(out.strip().splitlines()) != 1:
                why += "; migrate to a destination that hangs up: %d %r" % (rc, out)
            n = counts(a.logs("src"))[-1]
            if a.inspect("src").get("state") != "running":
                why += "; the source after the failures: %s" % a.inspect("src")
            if not wait_until(lambda: re.search(r"^CNT %d OK$" % (n + 10), a.logs("src"), re.M),
                              120):
                why += "; the source stopped counting after the failures"
        port = free_port()
        rc, out = b.cli("create", "dst", "--incoming", "%s:%d" % (addr, port))
        rc2, out2 = b.cli("start", "dst")
        if rc or rc2:
            return why + "; create/start dst: %s %s" % (out, out2)
        if b.inspect("dst").get("state") != "incoming":
            why += "; dst is %s before the migration" % b.inspect("dst").get("state")
        t0 = time.time()
        rc, out = a.cli("migrate", "src", "%s:%d" % (addr, port), *migrate_opts, timeout=600)
        print("# daemon%s: lodge migrate %.0f ms" % (tag, (time.time() - t0) * 1000), flush=True)
        if rc:
            return why + "; lodge migrate: %d %s; dst: %s" % (rc, out, b.inspect("dst"))
        si = a.inspect("src")
        if si.get("state") != "stopped" or (si.get("exit") or {}).get("reason") != "migrated":
            why += "; the source after the migration: %s %s" % (si.get("state"), si.get("exit"))
        if not wait_until(lambda: b.inspect("dst").get("state") == "running", 30):
            why += "; dst did not become running: %s" % b.inspect("dst")
        last = counts(a.logs("src"))
        if not last:
            return why + "; no count on the source"
        if not wait_until(lambda: re.search(r"^CNT %d OK$" % (last[-1] + 20), b.logs("dst"),
                                            re.M), 120):
            why += "; dst did not count on from %d: %s" % (last[-1], b.logs("dst")[-300:])
        text = a.logs("src") + b.logs("dst")
        both = counts(text)
        got = sorted(set(both))
        if len(both) != len(got):
            why += "; a count was printed twice"
        if "BAD" in text:
            why += "; memcheck found a bad page"
        if got != list(range(got[0], got[-1] + 1)):
            why += "; the count has gaps: %s" % [(x, y) for x, y in zip(got, got[1:])
                                                  if y != x + 1][:5]
    finally:
        a.stop()
        b.stop()
    return why


def ticks(text):
    return [int(n) for n in re.findall(r"^TICK (\d+)$", text, re.M)]


def t_daemon_wasm():
    a, b = Daemon("daw"), Daemon("dbw")
    why = ""
    ticker = os.path.join(tmp, "ticker.wasm")  # the daemon binds it as module.wasm
    if not shutil.which("wat2wasm"):
        a.stop()
        b.stop()
        return print("SKIP: migrate.daemon_wasm: wat2wasm missing (apt-get install wabt)",
                     flush=True)
    try:
        r = sh("wat2wasm", os.path.join(TOP, "tests/migrate/ticker.wat"), "-o", ticker)
        if r.returncode:
            return result("daemon_wasm", "wat2wasm (wabt): " + r.stderr[-200:])
        rc, out = a.cli("create", "src", "--wasm", ticker)
        rc2, out2 = a.cli("start", "src")
        if rc or rc2:
            return result("daemon_wasm", "create/start src: %s %s" % (out, out2))
        if not wait_until(lambda: re.search(r"^TICK 20$", a.logs("src"), re.M), 60):
            return result("daemon_wasm", "no ticks: " + a.silent("src"))
        rc, out = a.cli("migrate", "src", "127.0.0.1:%d" % free_port())
        if rc == 0 or "runs on here" not in out:
            why += "; migrate to a closed port: %d %r" % (rc, out)
        # a destination that refuses: it waits for a system VM
        port = free_port()
        rc, out = b.cli("create", "vmdst", "--incoming", "127.0.0.1:%d" % port)
        rc2, out2 = b.cli("start", "vmdst")
        if rc or rc2:
            why += "; create/start vmdst: %s %s" % (out, out2)
        else:
            rc, out = a.cli("migrate", "src", "127.0.0.1:%d" % port)
            if rc == 0 or "runs on here" not in out or len(out.strip().splitlines()) != 1:
                why += "; migrate to a destination that refuses: %d %r" % (rc, out)
            if not wait_until(lambda: b.inspect("vmdst").get("state") == "crashed", 30):
                why += "; the refusing destination: %s" % b.inspect("vmdst")
            n = ticks(a.logs("src"))[-1]
            if a.inspect("src").get("state") != "running" or not wait_until(
                    lambda: re.search(r"^TICK %d$" % (n + 10), a.logs("src"), re.M), 60):
                why += "; the source does not run on after the refusal"
            b.cli("rm", "--force", "vmdst")
        # a destination whose --mem (its cap on what the stream brings) is below the
        # program's two pages: it refuses, the source runs on
        port = free_port()
        rc, out = b.cli("create", "capdst", "--incoming", "127.0.0.1:%d" % port, "--kind",
                        "wasm", "--mem", "64K")
        rc2, out2 = b.cli("start", "capdst")
        if rc or rc2:
            why += "; create/start capdst: %s %s" % (out, out2)
        else:
            rc, out = a.cli("migrate", "src", "127.0.0.1:%d" % port)
            if rc == 0 or "runs on here" not in out:
                why += "; migrate to a destination capped at 64K: %d %r" % (rc, out)
            n = ticks(a.logs("src"))[-1]
            if a.inspect("src").get("state") != "running" or not wait_until(
                    lambda: re.search(r"^TICK %d$" % (n + 10), a.logs("src"), re.M), 60):
                why += "; the source does not run on after the capped refusal"
            b.cli("rm", "--force", "capdst")
        port = free_port()
        rc, out = b.cli("create", "dst", "--incoming", "127.0.0.1:%d" % port, "--kind", "wasm")
        rc2, out2 = b.cli("start", "dst")
        if rc or rc2:
            return result("daemon_wasm", why + "; create/start dst: %s %s" % (out, out2))
        if b.inspect("dst").get("state") != "incoming":
            why += "; dst is %s before the migration" % b.inspect("dst").get("state")
        if "Waiting for a migration" not in b.cli("ps")[1]:
            why += "; lodge ps: %r" % b.cli("ps")[1]
        t0 = time.time()
        rc, out = a.cli("migrate", "src", "127.0.0.1:%d" % port)
        print("# daemon_wasm: lodge migrate %.0f ms" % ((time.time() - t0) * 1000), flush=True)
        if rc:
            return result("daemon_wasm", why + "; lodge migrate: %d %s; dst: %s" % (
                rc, out, b.inspect("dst")))
        si = a.inspect("src")
        if si.get("state") != "stopped" or (si.get("exit") or {}).get("reason") != "migrated":
            why += "; the source after the migration: %s %s" % (si.get("state"), si.get("exit"))
        if not wait_until(lambda: b.inspect("dst").get("state") == "running", 30):
            why += "; dst did not become running: %s" % b.inspect("dst")
        last = ticks(a.logs("src"))[-1]
        if not wait_until(lambda: re.search(r"^TICK %d$" % (last + 20), b.logs("dst"), re.M),
                          60):
            why += "; dst did not tick on from %d: %s" % (last, b.logs("dst")[-300:])
        text = a.logs("src") + b.logs("dst")
        both = ticks(text)
        if both != list(range(1, len(both) + 1)):
            why += "; the ticks have a gap or a repeat around %d" % last
        if "BAD" in text:
            why += "; the program's memory changed"
        # pre-copy by default, inside the guest's sandbox and seccomp filter (the
        # guest's stderr: lodge.log in its directory)
        logs = "".join(open(f, errors="replace").read() for f in glob.glob(
            os.path.join(a.dir, "**", "lodge.log"), recursive=True))
        if not re.search(r"migrated to .*: pre-copy, \d+ rounds", logs):
            why += "; no pre-copy in the source's lodge.log: %r" % logs[-300:]
    finally:
        a.stop()
        b.stop()
    result("daemon_wasm", why)


def t_daemon_wasm_postcopy():
    """lodge migrate --post-copy --precopy-rounds 0 of a WebAssembly guest between two
    daemons (tests/wsnap/memsum.wat: 64 MiB it rewrites and checksums, "tick N" a line),
    in the guests' sandbox and seccomp filter (a userfaultfd for user-mode faults only):
    the source ends "stopped", reason "migrated", its log saying pages were asked for;
    the destination runs on with no gap, repeat or checksum failure."""
    a, b = Daemon("dap"), Daemon("dbp")
    why = ""
    prog = os.path.join(tmp, "memsum.wasm")
    if not shutil.which("wat2wasm"):
        a.stop()
        b.stop()
        return print("SKIP: migrate.daemon_wasm_postcopy: wat2wasm missing (apt-get install "
                     "wabt)", flush=True)

    def tk(text):
        return [int(n) for n in re.findall(r"^tick (\d+)$", text, re.M)]
    try:
        r = sh("wat2wasm", os.path.join(TOP, "tests/wsnap/memsum.wat"), "-o", prog)
        if r.returncode:
            return result("daemon_wasm_postcopy", "wat2wasm (wabt): " + r.stderr[-200:])
        rc, out = a.cli("create", "src", "--wasm", prog, "--mem", "256M")
        rc2, out2 = a.cli("start", "src")
        if rc or rc2:
            return result("daemon_wasm_postcopy", "create/start src: %s %s" % (out, out2))
        if not wait_until(lambda: len(tk(a.logs("src"))) > 3, 120):
            return result("daemon_wasm_postcopy", "no ticks: " + a.silent("src"))
        port = free_port()
        rc, out = b.cli("create", "dst", "--incoming", "127.0.0.1:%d" % port, "--kind", "wasm",
                        "--mem", "256M")
        rc2, out2 = b.cli("start", "dst")
        if rc or rc2:
            return result("daemon_wasm_postcopy", "create/start dst: %s %s" % (out, out2))
        t0 = time.time()
        # 32 MiB/s: the 64 MiB still arrive for 2 s after the switch, so the destination's
        # first passes over its memory ask for pages however late a loaded host runs it
        # (unlimited, every page had come in 214 ms once, before it ran: none asked for)
        rc, out = a.cli("migrate", "src", "127.0.0.1:%d" % port, "--post-copy",
                        "--precopy-rounds", "0", "--max-bandwidth", "32", timeout=600)
        print("# daemon_wasm_postcopy: lodge migrate %.0f ms" % ((time.time() - t0) * 1000),
              flush=True)
        if rc:
            return result("daemon_wasm_postcopy", "lodge migrate: %d %s; dst: %s %s" % (
                rc, out, b.inspect("dst"), b.logs("dst")[-300:]))
        si = a.inspect("src")
        if si.get("state") != "stopped" or (si.get("exit") or {}).get("reason") != "migrated":
            why += "; the source after the migration: %s %s" % (si.get("state"), si.get("exit"))
        if not wait_until(lambda: b.inspect("dst").get("state") == "running", 30):
            why += "; dst did not become running: %s" % b.inspect("dst")
        last = tk(a.logs("src"))[-1]
        if not wait_until(lambda: last + 3 in tk(b.logs("dst")), 120):
            why += "; dst did not tick on from %d: %s" % (last, b.logs("dst")[-300:])
        text = a.logs("src") + b.logs("dst")
        both = tk(text)
        if both != list(range(len(both))):
            why += "; the ticks have a gap or a repeat around %d" % last
        if "BAD" in text:
            why += "; the checksum failed"
        logs = "".join(open(f, errors="replace").read() for f in glob.glob(
            os.path.join(a.dir, "**", "lodge.log"), recursive=True))
        m = re.search(r"migrated to .*: post-copy, 0 rounds, .* \((\d+) asked for\)", logs)
        if not m or int(m.group(1)) == 0:
            why += "; no post-copy with pages asked for in the source's lodge.log: %r" % (
                logs[-300:])
        # back to the first daemon at 1 MiB/s, that destination killed once it runs:
        # the migration is lost (it says so, not that the guest runs on) and dst ends
        port = free_port()
        rc, out = a.cli("create", "dst", "--incoming", "127.0.0.1:%d" % port, "--kind", "wasm",
                        "--mem", "256M")
        rc2, out2 = a.cli("start", "dst")
        if rc or rc2:
            return result("daemon_wasm_postcopy", why + "; create/start the way back: %s %s" % (
                out, out2))
        mp = subprocess.Popen([REL, "migrate", "dst", "127.0.0.1:%d" % port, "--post-copy",
                               "--precopy-rounds", "0", "--max-bandwidth", "1"],
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                              env=b.env)
        if not wait_until(lambda: a.inspect("dst").get("state") == "running", 120):
            why += "; the way back did not run: %s" % a.inspect("dst")
        a.cli("kill", "dst")
        try:
            out = mp.communicate(timeout=120)[0]
        except subprocess.TimeoutExpired:
            mp.kill()
            out = "(no answer in 120 s) " + mp.communicate()[0]
        if mp.returncode == 0 or "is lost" not in out or "runs on here" in out:
            why += "; lodge migrate whose destination died after the switch: %d %r" % (
                mp.returncode, out)
        if not wait_until(lambda: b.inspect("dst").get("state") != "running", 60):
            why += "; the lost source still runs: %s" % b.inspect("dst")
    except Exception as e:  # a timeout of the CLI or the harness: a result line all the same
        why += "; %s: %s" % (type(e).__name__, e)
    finally:
        for d in (a, b):
            try:
                d.stop()
            except Exception as e:
                why += "; stopping the daemon %s: %s: %s" % (d.dir, type(e).__name__, e)
    result("daemon_wasm_postcopy", why)


def t_daemon_wasm_replicate():
    """lodge replicate of a WebAssembly guest between two daemons (tests/wsnap/
    fastticks.wat: "tick N" a millisecond, its memory checked each line): lodge create
    stby --standby HOST:PORT --kind wasm (state incoming; lodge failover refused before
    any stream), lodge replicate src to a closed port (fails, src runs on) then to stby
    every 50 ms; lodge kill src (SIGKILL), lodge failover stby: running, its ticks go on
    after the last one src's log showed (that output waited for its checkpoint), never
    one seen again, never BAD."""
    a, b = Daemon("dar"), Daemon("dbr")
    why = ""
    prog = os.path.join(tmp, "fastticks.wasm")
    if not shutil.which("wat2wasm"):
        a.stop()
        b.stop()
        return print("SKIP: migrate.daemon_wasm_replicate: wat2wasm missing (apt-get install "
                     "wabt)", flush=True)

    def tk(text):
        return [int(n) for n in re.findall(r"^tick (\d+)$", text, re.M)]
    try:
        r = sh("wat2wasm", os.path.join(TOP, "tests/wsnap/fastticks.wat"), "-o", prog)
        if r.returncode:
            return result("daemon_wasm_replicate", "wat2wasm (wabt): " + r.stderr[-200:])
        rc, out = a.cli("create", "src", "--wasm", prog)
        rc2, out2 = a.cli("start", "src")
        if rc or rc2:
            return result("daemon_wasm_replicate", "create/start src: %s %s" % (out, out2))
        if not wait_until(lambda: len(tk(a.logs("src"))) > 20, 60):
            return result("daemon_wasm_replicate", "no ticks: " + a.silent("src"))
        port = free_port()
        rc, out = b.cli("create", "stby", "--standby", "127.0.0.1:%d" % port, "--kind", "wasm")
        rc2, out2 = b.cli("start", "stby")
        if rc or rc2:
            return result("daemon_wasm_replicate", "create/start stby: %s %s" % (out, out2))
        if b.inspect("stby").get("state") != "incoming":
            why += "; stby is %s before the stream" % b.inspect("stby").get("state")
        rc, out = b.cli("failover", "stby")
        if rc == 0:
            why += "; lodge failover before any stream: %r" % out
        rc, out = a.cli("replicate", "src", "127.0.0.1:%d" % free_port())
        if rc == 0:
            why += "; lodge replicate to a closed port: %r" % out
        rc, out = a.cli("replicate", "src", "127.0.0.1:%d" % port, "--interval", "50")
        if rc:
            return result("daemon_wasm_replicate", why + "; lodge replicate: %s; stby: %s" % (
                out, b.inspect("stby")))
        time.sleep(random.uniform(1.0, 2.0))
        rc, out = a.cli("kill", "src")
        if rc:
            why += "; lodge kill src: %s" % out
        seen = tk(a.logs("src"))
        rc, out = b.cli("failover", "stby")
        if rc:
            why += "; lodge failover: %s" % out
        if not wait_until(lambda: b.inspect("stby").get("state") == "running", 60):
            why += "; stby did not become running: %s" % b.inspect("stby")
        if not wait_until(lambda: len(tk(b.logs("stby"))) > 20, 60):
            return result("daemon_wasm_replicate", why + "; stby does not tick: %s" %
                          b.logs("stby")[-300:])
        rest = tk(b.logs("stby"))
        if seen != list(range(len(seen))) or rest != list(range(rest[0], rest[0] + len(rest))):
            why += "; the ticks are not one by one: %s / %s" % (seen[-3:], rest[:3])
        elif rest[0] <= seen[-1]:
            why += "; ticks src showed came again on stby: ..%d, %d.." % (seen[-1], rest[0])
        elif rest[0] - seen[-1] - 1 > 50:
            why += "; %d ticks missing between %d and %d" % (rest[0] - seen[-1] - 1,
                                                             seen[-1], rest[0])
        if "BAD" in a.logs("src") + b.logs("stby"):
            why += "; the program's memory changed"
    finally:
        b.cli("rm", "--force", "stby", timeout=60)
        a.stop()
        b.stop()
    result("daemon_wasm_replicate", why)


def t_daemon_wasm_replicate_dir():
    """lodge replicate of a WebAssembly guest with a directory (tests/wsnap/fsappend.wat:
    a record appended to log.txt in its --dir, fd_sync'd, then printed; files renamed
    over and unlinked, a directory made and removed): the standby is created with
    --standby and a --dir of its own (empty); lodge kill src (SIGKILL), lodge failover
    stby: the standby's copy of log.txt holds every record src's log showed, in order,
    none torn or twice, and stby goes on appending from the next one (no FAIL: its files
    match its memory)."""
    name = "daemon_wasm_replicate_dir"
    a, b = Daemon("dad"), Daemon("dbd")
    why = ""
    prog = os.path.join(tmp, "fsappend.wasm")
    pd, sd = os.path.join(tmp, "repl-dir-src"), os.path.join(tmp, "repl-dir-stby")
    if not shutil.which("wat2wasm"):
        a.stop()
        b.stop()
        return print("SKIP: migrate.%s: wat2wasm missing (apt-get install wabt)" % name,
                     flush=True)

    def recs(text):
        return [int(n) for n in re.findall(r"^rec (\d{9})$", text, re.M)]
    try:
        for x in (pd, sd):
            shutil.rmtree(x, ignore_errors=True)
            os.makedirs(x)
        r = sh("wat2wasm", os.path.join(TOP, "tests/wsnap/fsappend.wat"), "-o", prog)
        if r.returncode:
            return result(name, "wat2wasm (wabt): " + r.stderr[-200:])
        rc, out = a.cli("create", "src", "--wasm", prog, "--dir", pd + "::/data")
        rc2, out2 = a.cli("start", "src")
        if rc or rc2:
            return result(name, "create/start src: %s %s" % (out, out2))
        if not wait_until(lambda: len(recs(a.logs("src"))) > 20, 60):
            return result(name, "no records: " + a.silent("src"))
        port = free_port()
        rc, out = b.cli("create", "stby", "--standby", "127.0.0.1:%d" % port, "--kind", "wasm",
                        "--dir", sd + "::/data")
        rc2, out2 = b.cli("start", "stby")
        if rc or rc2:
            return result(name, "create/start stby: %s %s" % (out, out2))
        rc, out = a.cli("replicate", "src", "127.0.0.1:%d" % port, "--interval", "50")
        if rc:
            return result(name, "lodge replicate: %s; stby: %s %s" % (
                out, b.inspect("stby"), b.logs("stby")[-300:]))
        time.sleep(random.uniform(1.0, 2.0))
        rc, out = a.cli("kill", "src")
        if rc:
            why += "; lodge kill src: %s" % out
        seen = recs(a.logs("src"))
        rc, out = b.cli("failover", "stby")
        if rc:
            why += "; lodge failover: %s" % out
        if not wait_until(lambda: len(recs(b.logs("stby"))) > 20, 60):
            return result(name, why + "; stby does not append: %s" % b.logs("stby")[-300:])
        rest = recs(b.logs("stby"))
        with open(os.path.join(sd, "log.txt"), "rb") as f:
            data = f.read()
        n = len(data) // 14
        good = len(data) % 14 == 0 and all(
            data[14 * i:14 * i + 14] == b"rec %09d\n" % i for i in range(n))
        if seen != list(range(len(seen))) or rest != list(range(rest[0], rest[0] + len(rest))):
            why += "; the records are not one by one: %s / %s" % (seen[-3:], rest[:3])
        elif rest[0] <= seen[-1]:
            why += "; records src showed came again on stby: ..%d, %d.." % (seen[-1], rest[0])
        elif not good or n - 1 < rest[-1]:
            why += "; stby's log.txt (%d bytes) does not hold records 0..%d in order" % (
                len(data), rest[-1])
        if "FAIL" in b.logs("stby"):
            why += "; stby's files did not match its memory: %s" % b.logs("stby")[-200:]
    finally:
        b.cli("rm", "--force", "stby", timeout=60)
        a.stop()
        b.stop()
    result(name, why)


def t_daemon(initrd):
    result("daemon", through_daemons(initrd))


def t_daemon_postcopy(initrd):
    """`lodge migrate --post-copy --precopy-rounds 0` between two daemons: the guests run
    sandboxed (seccomp, no capabilities: a userfaultfd for user-mode faults only, device
    buffers faulted in first)."""
    result("daemon_postcopy", through_daemons(initrd, failures=False,
                                              migrate_opts=("--post-copy", "--precopy-rounds",
                                                            "0")))


def t_daemon_netns(initrd):
    if os.geteuid() != 0 or not shutil.which("ip"):
        result("daemon_netns", "needs root and iproute2 to create network namespaces")
        return
    na, nb = NS_A + "d", NS_B + "d"
    veth_a, veth_b = "vdmga%d" % (os.getpid() % 10000), "vdmgb%d" % (os.getpid() % 10000)
    why = ""
    try:
        for cmd in (["ip", "netns", "add", na], ["ip", "netns", "add", nb],
                    ["ip", "link", "add", veth_a, "type", "veth", "peer", "name", veth_b],
                    ["ip", "link", "set", veth_a, "netns", na],
                    ["ip", "link", "set", veth_b, "netns", nb],
                    ["ip", "-n", na, "addr", "add", "10.213.8.1/24", "dev", veth_a],
                    ["ip", "-n", nb, "addr", "add", "10.213.8.2/24", "dev", veth_b],
                    ["ip", "-n", na, "link", "set", veth_a, "up"],
                    ["ip", "-n", nb, "link", "set", veth_b, "up"],
                    ["ip", "-n", na, "link", "set", "lo", "up"],
                    ["ip", "-n", nb, "link", "set", "lo", "up"]):
            r = sh(*cmd)
            if r.returncode:
                why = "%s: %s" % (" ".join(cmd), r.stderr.strip())
                break
        if not why:
            why = through_daemons(initrd, ["ip", "netns", "exec", na],
                                  ["ip", "netns", "exec", nb], "10.213.8.2", failures=False)
    finally:
        sh("ip", "netns", "del", na)
        sh("ip", "netns", "del", nb)
    left = sh("ip", "netns", "list").stdout
    if na in left or nb in left:
        why += "; the namespaces were not removed"
    result("daemon_netns", why)


def main():
    try:
        initrd, why = build_initrd()
        if not initrd:
            for t in ("loopback", "netns", "dest_gone", "postcopy", "postcopy_fast_writer",
                      "postcopy_source_gone", "postcopy_dest_gone", "daemon", "daemon_postcopy", "daemon_netns",
                      "postcopy_hostile_page_past_memory", "postcopy_hostile_page_twice",
                      "postcopy_hostile_done_early",
                      "slow_dest", "ack_lines", "disk_copy",
                      "disk_shared", "disk_bad", "daemon_disk"):
                print("SKIP: migrate.%s: %s" % (t, why), flush=True)
        else:
            only = os.environ.get("MIGRATE_ONLY", "")
            for name, fn in (("loopback", t_loopback), ("netns", t_netns),
                             ("dest_gone", t_dest_gone), ("postcopy", t_postcopy),
                             ("postcopy_fast_writer", t_postcopy_fast_writer),
                             ("postcopy_source_gone", t_postcopy_source_gone),
                             ("postcopy_dest_gone", t_postcopy_dest_gone),
                             ("postcopy_hostile",
                              lambda i: [t_postcopy_hostile(i, w) for w in PC_HOSTILE]),
                             ("daemon", t_daemon), ("daemon_postcopy", t_daemon_postcopy),
                             ("daemon_netns", t_daemon_netns), ("slow_dest", t_slow_dest)):
                if not only or name in only.split(","):
                    fn(initrd)
            disk_tests(initrd)
        if not os.environ.get("MIGRATE_ONLY") or "daemon_wasm" in os.environ["MIGRATE_ONLY"]:
            t_daemon_wasm()
            t_daemon_wasm_replicate()
            t_daemon_wasm_replicate_dir()
            t_daemon_wasm_postcopy()
        host_path_tests()
        t_bad_stream()
        t_waiting_ends()
    finally:
        for d in DAEMONS:
            if d.p.poll() is None:
                d.p.kill()
                d.p.wait()
            drop_daemon_cgroups(os.path.join(d.dir, "state"))
        for g in guests:
            g.close()
            err = g.errtext()
            if "AddressSanitizer" in err or "runtime error" in err:
                print("FAIL: migrate.sanitizer: %s" % err[-500:], flush=True)
        shutil.rmtree(tmp, ignore_errors=True)


main()
