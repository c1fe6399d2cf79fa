#!/usr/bin/env python3
"""Scale benchmark of the Lodge host (issue 10): many idle guests under one daemon.

Starts a daemon on a private socket, creates and starts N idle busybox system guests
(the default guest, --vm-mem MiB each: 96 by default, as Debian's kernel cannot boot in
the issue's 64) and M idle Wasm services (tests/daemon/service.c with
"idle"), then measures:
  - per system guest: host memory beyond its touched guest RAM (process RSS minus the
    RSS of the guest-RAM mapping, from /proc/PID/smaps), and per Wasm service its RSS;
  - time from the start request to the guest's first console line (p50, p99), read from
    the guest's console ring as the daemon writes it;
  - API latency with 50 concurrent clients on kept-alive connections (p50, p99);
  - the daemon's RSS.
Prints JSON lines: the machine, then one line per figure. Targets (issue 10): idle system
guest <= 12 MiB beyond its touched RAM; Wasm start <= 10 ms p50; API p99 <= 20 ms.

System guests cannot all boot Linux at once on a small host (200 boots on 2 cores: none
had finished after 8.5 min). Two ways to start them, chosen with --vm-start:
  - boot (the default): each guest boots Linux; --vm-batch B starts B at a time and waits
    for the batch's shells (the default guest's "Lodge default guest" line) before the
    next batch. Start time: the request to the first console line (OpenSBI's banner).
  - restore: the first guest boots to its shell and idles, the daemon snapshots it
    (PUT .../snapshot), and every other guest is created from that file (`lodge create
    NAME --restore FILE`) and started: a booted, idle guest without a boot. Start time:
    the request to the guest's control socket answering (a restored idle guest prints
    nothing until it gets input).
Then, with all guests idle, the CPU each system guest uses over --idle-secs (ticks and
wfi sleeps: an idle guest should cost next to nothing).

usage: scale.py LODGE SERVICE.wasm GUEST_DIR [--vms N] [--wasm M] [--clients C] [--secs S]
                [--vm-start boot|restore] [--vm-batch B] [--idle-secs S] [--min-free-mib M]
"""
import argparse
import json
import os
import platform
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time


def emit(**kv):
    print(json.dumps(kv), flush=True)


def pct(xs, p):
    xs = sorted(xs)
    if not xs:
        return None
    return xs[min(len(xs) - 1, int(round(p / 100.0 * (len(xs) - 1))))]


class Conn:
    """A kept-alive HTTP/1.1 connection to the daemon."""

    def __init__(self, path):
        self.s = socket.socket(socket.AF_UNIX)
        self.s.connect(path)
        self.buf = b""

    def recv(self):
        b = self.s.recv(65536)
        if not b:
            raise ConnectionError("the peer closed the connection")
        return b

    def call(self, method, target, body=None):
        data = json.dumps(body).encode() if body is not None else b""
        self.s.sendall(("%s %s HTTP/1.1\r\nHost: lodge\r\nContent-Length: %d\r\n\r\n" %
                        (method, target, len(data))).encode() + data)
        while b"\r\n\r\n" not in self.buf:
            self.buf += self.recv()
        head, _, self.buf = self.buf.partition(b"\r\n\r\n")
        status = int(head[9:12])
        n = 0
        for line in head.split(b"\r\n"):
            if line.lower().startswith(b"content-length:"):
                n = int(line.split(b":")[1])
        while len(self.buf) < n:
            self.buf += self.recv()
        body, self.buf = self.buf[:n], self.buf[n:]
        return status, body


def ring_has_line(path):
    """True once the console ring (core/logring.h) holds a whole line."""
    try:
        with open(path, "rb") as f:
            hdr = f.read(32)
            if len(hdr) < 32:
                return False
            head = int.from_bytes(hdr[24:32], "little")
            if head == 0:
                return False
            f.seek(4096)
            return b"\n" in f.read(min(head, 4096))
    except OSError:
        return False


READY = b"Lodge default guest"  # guest/init, once the shell is about to start


def ring_contains(path, marker):
    """True once the console ring holds `marker` (boot output stays well under the ring's
    size, so it has not wrapped)."""
    try:
        with open(path, "rb") as f:
            hdr = f.read(32)
            if len(hdr) < 32:
                return False
            head = int.from_bytes(hdr[24:32], "little")
            f.seek(4096)
            return marker in f.read(min(head, 1 << 20))
    except OSError:
        return False


def wait_ready(conn, state, names, limit):
    """Waits until every guest in `names` has printed READY; returns the seconds taken."""
    t0 = time.time()
    left = list(names)
    while left:
        left = [n for n in left
                if not ring_contains(os.path.join(state, "guests", n, "run", "console.log"), READY)]
        if not left:
            break
        if time.time() - t0 > limit:
            raise SystemExit("%s: no shell after %d s" % (", ".join(left[:5]), limit))
        for n in left[:1]:
            g = json.loads(conn.call("GET", "/v1/guests/" + n)[1])
            if g["state"] not in ("running", "paused"):
                raise SystemExit("%s is %s: %r" % (n, g["state"], g["exit"]))
        time.sleep(0.5)
    return time.time() - t0


def start_restored(conn, name):
    """Starts a guest made from a snapshot; ms until its control socket answers."""
    t0 = time.perf_counter()
    st, body = conn.call("POST", "/v1/guests/%s/start" % name)
    if st != 204:
        raise SystemExit("start %s: %d %s" % (name, st, body[:200]))
    full = json.loads(conn.call("GET", "/v1/guests/" + name)[1])
    ctl = full["paths"]["control_socket"]
    while True:
        try:
            Conn(ctl).call("GET", "/vm")
            return (time.perf_counter() - t0) * 1000.0
        except (OSError, ConnectionError, ValueError):
            pass
        if time.perf_counter() - t0 > 120:
            raise SystemExit("%s: its control socket did not answer in 120 s" % name)
        time.sleep(0.0005)


def start_and_time(conn, state, name):
    ring = os.path.join(state, "guests", name, "run", "console.log")
    t0 = time.perf_counter()
    st, body = conn.call("POST", "/v1/guests/%s/start" % name)
    if st != 204:
        raise SystemExit("start %s: %d %s" % (name, st, body[:200]))
    checked = t0
    while not ring_has_line(ring):
        now = time.perf_counter()
        if now - t0 > 120:
            raise SystemExit("%s: no console line after 120 s" % name)
        if now - checked > 2:  # it may have ended without a word
            checked = now
            g = json.loads(conn.call("GET", "/v1/guests/" + name)[1])
            if g["state"] not in ("running", "paused"):
                raise SystemExit("%s is %s: %r" % (name, g["state"], g["exit"]))
        time.sleep(0.0005)
    return (time.perf_counter() - t0) * 1000.0


def progress(n, total, since):
    """Every 10th system guest (and the last): how far, how long, the load (stderr), so
    a run that slows down shows where."""
    if n % 10 == 0 or n == total:
        print("scale: %d/%d system guests started, %.0f s, load %.1f, %d MiB free" %
              (n, total, time.time() - since, os.getloadavg()[0], mem_free_mib()),
              file=sys.stderr, flush=True)


def mem_free_mib():
    for line in open("/proc/meminfo"):
        if line.startswith("MemAvailable:"):
            return int(line.split()[1]) // 1024
    return -1


def cpu_ns(pid):
    """Time the process (all its threads) has been on a CPU, in ns (schedstat)."""
    total = 0
    for t in os.listdir("/proc/%d/task" % pid):
        try:
            total += int(open("/proc/%d/task/%s/schedstat" % (pid, t)).read().split()[0])
        except OSError:
            pass
    return total


def rss_kb(pid):
    for line in open("/proc/%d/status" % pid):
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def ram_resident_kb(control_socket):
    """Guest RAM the host backs, as the guest process counts it (mincore): GET /vm."""
    c = Conn(control_socket)
    st, body = c.call("GET", "/vm")
    return json.loads(body)["stats"]["ram_resident_bytes"] // 1024


def api_load(path, names, clients, secs):
    lat = []
    lock = threading.Lock()
    stop = time.perf_counter() + secs

    def worker(i):
        c = Conn(path)
        mine = []
        k = i
        while time.perf_counter() < stop:
            name = names[k % len(names)]
            k += clients
            t = time.perf_counter()
            st, _ = c.call("GET", "/v1/guests/%s" % name)
            mine.append((time.perf_counter() - t) * 1000.0)
            if st != 200:
                raise SystemExit("inspect %s: %d" % (name, st))
        with lock:
            lat.extend(mine)

    ts = [threading.Thread(target=worker, args=(i,)) for i in range(clients)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    return lat


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("lodge")
    ap.add_argument("service")
    ap.add_argument("guest_dir")
    ap.add_argument("--vms", type=int, default=20)
    ap.add_argument("--wasm", type=int, default=100)
    ap.add_argument("--clients", type=int, default=50)
    ap.add_argument("--secs", type=float, default=10)
    ap.add_argument("--settle", type=float, default=30, help="seconds for VMs to go idle")
    ap.add_argument("--apiload", help="the C load generator (bench/host/apiload.c)")
    ap.add_argument("--vm-mem", type=int, default=96,
                    help="MiB of RAM per system guest (96: the least in which Debian's "
                         "6.12 kernel reaches its shell; it reserves ~72 MiB at boot, 32 "
                         "for its memory map: docs/INTERNALS.md, 'Small guests')")
    ap.add_argument("--vm-start", choices=("boot", "restore"), default="boot")
    ap.add_argument("--hugepages", choices=("on", "off"),
                    help="the system guests' \"hugepages\" (default: the daemon's default)")
    ap.add_argument("--vm-batch", type=int, default=0,
                    help="boot: start this many at a time, each batch to its shell (0: all)")
    ap.add_argument("--idle-secs", type=float, default=10,
                    help="seconds over which the idle system guests' CPU is measured")
    ap.add_argument("--min-free-mib", type=int, default=2048,
                    help="start no more system guests once the host has less available")
    a = ap.parse_args()

    tmp = tempfile.mkdtemp(prefix="lodge-scale-")
    os.chmod(tmp, 0o755)
    sock, state = os.path.join(tmp, "lodge.sock"), os.path.join(tmp, "state")
    log = open(os.path.join(tmp, "daemon.log"), "wb")
    d = subprocess.Popen([a.lodge, "daemon", "--state", state, "--socket", sock], stdout=log,
                         stderr=log)
    while not os.path.exists(sock):
        time.sleep(0.05)
    time.sleep(0.2)
    emit(bench="host-scale", machine=platform.machine(), cpus=os.cpu_count(),
         kernel=platform.release(), vms=a.vms, vm_mem_mib=a.vm_mem, vm_start=a.vm_start,
         wasm=a.wasm, clients=a.clients,
         mem_total_gib=round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1))
    c = Conn(sock)
    try:
        vm_ms, wasm_ms = [], []
        g = os.path.abspath(a.guest_dir)
        d0 = cpu_ns(d.pid)
        for i in range(a.wasm):
            name = "w%d" % i
            st, body = c.call("POST", "/v1/guests", {"name": name, "wasm": os.path.abspath(a.service),
                                                      "args": ["idle"]})
            assert st == 201, body
            wasm_ms.append(start_and_time(c, state, name))
        daemon_ms = (cpu_ns(d.pid) - d0) / 1e6 / max(1, a.wasm)
        guest_cpu = [cpu_ns(gu["pid"]) / 1e6 for gu in json.loads(c.call("GET", "/v1/guests")[1])
                     if gu["kind"] == "wasm"]
        vm0 = time.time()
        batch, booted, snap = [], [], os.path.join(tmp, "idle.snap")
        hp = {"hugepages": a.hugepages == "on"} if a.hugepages else {}
        for i in range(a.vms):
            name = "vm%d" % i
            if mem_free_mib() < a.min_free_mib:  # a shared host: never drive it into the OOM killer
                emit(figure="vms_stopped_low_memory", started=i, mem_available_mib=mem_free_mib(),
                     min_free_mib=a.min_free_mib)
                break
            if a.vm_start == "restore" and i > 0:
                if i == 1:  # the first one booted: save it, idle
                    wait_ready(c, state, ["vm0"], 900)
                    time.sleep(3)
                    st, body = c.call("PUT", "/v1/guests/vm0/snapshot", {"path": snap})
                    assert st == 204, body
                    emit(figure="vm_snapshot", bytes=os.path.getsize(snap),
                         boot_s=round(time.time() - vm0, 1))
                st, body = c.call("POST", "/v1/guests", dict(hp, name=name, restore=snap,
                                                             memory=a.vm_mem << 20))
                assert st == 201, body
                vm_ms.append(start_restored(c, name))
                progress(i + 1, a.vms, vm0)
                continue
            st, body = c.call("POST", "/v1/guests", dict(hp, **{
                "name": name, "kernel": g + "/Image", "initrd": g + "/initrd.img",
                "firmware": g + "/fw_dynamic.bin", "memory": a.vm_mem << 20}))
            assert st == 201, body
            t = start_and_time(c, state, name)
            (booted if a.vm_start == "boot" or i == 0 else vm_ms).append(t)
            progress(i + 1, a.vms, vm0)
            batch.append(name)
            if a.vm_start == "boot" and a.vm_batch and len(batch) >= a.vm_batch:
                wait_ready(c, state, batch, 900)
                batch = []
        if a.vm_start == "boot" and a.vm_batch and batch:
            wait_ready(c, state, batch, 900)
        if booted:
            emit(figure="vm_start_to_first_line_ms", p50=round(pct(booted, 50), 2),
                 p99=round(pct(booted, 99), 2), n=len(booted), batch=a.vm_batch)
        if vm_ms:
            emit(figure="vm_restore_start_to_control_ms", p50=round(pct(vm_ms, 50), 2),
                 p99=round(pct(vm_ms, 99), 2), n=len(vm_ms))
        if a.vms:
            emit(figure="vms_all_started_s", value=round(time.time() - vm0, 1),
                 how=a.vm_start, loadavg=os.getloadavg()[0])
        if wasm_ms:
            emit(figure="wasm_start_to_first_line_ms", p50=round(pct(wasm_ms, 50), 2),
                 p99=round(pct(wasm_ms, 99), 2), n=len(wasm_ms), target_p50=10,
                 loadavg=os.getloadavg()[0])
            emit(figure="wasm_start_cpu_ms", daemon_per_start=round(daemon_ms, 3),
                 guest_p50=round(pct(guest_cpu, 50), 3), guest_p99=round(pct(guest_cpu, 99), 3),
                 note="CPU time to start one Wasm guest: the daemon's share, and the guest "
                      "process's until it went idle (the latency floor on an idle host)")
        # let the system guests finish booting and go idle
        deadline = time.time() + a.settle
        while a.vms and time.time() < deadline:
            time.sleep(1)
        c = Conn(sock)  # the idle one may have been closed while guests settled
        guests = json.loads(c.call("GET", "/v1/guests")[1])
        over, touched, wrss, vrss = [], [], [], []
        for gu in guests:
            if gu["state"] != "running":
                raise SystemExit("%s is %s: %r" % (gu["name"], gu["state"], gu["exit"]))
            pid = gu["pid"]
            if gu["kind"] == "vm":
                full = json.loads(c.call("GET", "/v1/guests/" + gu["name"])[1])
                r, ram = rss_kb(pid), ram_resident_kb(full["paths"]["control_socket"])
                over.append((r - ram) / 1024.0)
                vrss.append(r / 1024.0)
                touched.append(ram / 1024.0)
            else:
                wrss.append(rss_kb(pid) / 1024.0)
        vpids = [gu["pid"] for gu in guests if gu["kind"] == "vm"]
        if vpids:
            c0, t0 = [cpu_ns(p) for p in vpids], time.time()
            time.sleep(a.idle_secs)
            c1, t1 = [cpu_ns(p) for p in vpids], time.time()
            pcts = [(y - x) / 1e9 / (t1 - t0) * 100.0 for x, y in zip(c0, c1)]
            emit(figure="vm_idle_cpu_percent", p50=round(pct(pcts, 50), 3),
                 max=round(max(pcts), 3), all_vms=round(sum(pcts), 2), secs=a.idle_secs,
                 loadavg=os.getloadavg()[0],
                 note="CPU of one idle system guest's process, % of one core")
        if over:
            emit(figure="vm_idle_mib_beyond_touched_ram", p50=round(pct(over, 50), 2),
                 max=round(max(over), 2), touched_ram_mib_p50=round(pct(touched, 50), 2),
                 target_max=12)
            emit(figure="vm_idle_rss_mib", p50=round(pct(vrss, 50), 2), max=round(max(vrss), 2),
                 hugepages=a.hugepages or "daemon default",
                 note="host memory of one idle system guest's process: its touched RAM "
                      "(whole 2 MiB pages with hugepages) plus Lodge's own")
        if wrss:
            emit(figure="wasm_idle_rss_mib", p50=round(pct(wrss, 50), 2), max=round(max(wrss), 2))
        names = [gu["name"] for gu in guests]
        if a.apiload:
            out = subprocess.run([a.apiload, sock, str(a.clients), str(a.secs)] + names,
                                 capture_output=True, check=True).stdout.decode()
            print(out.strip(), flush=True)
        else:
            lat = api_load(sock, names, a.clients, a.secs)
            emit(figure="api_inspect_latency_ms", p50=round(pct(lat, 50), 3),
                 p99=round(pct(lat, 99), 3), requests=len(lat), clients=a.clients,
                 target_p99=20, client="python")
        emit(figure="daemon_rss_mib", value=round(rss_kb(d.pid) / 1024.0, 2), guests=len(names))
    finally:
        try:
            c = Conn(sock)  # a fresh connection: the old one may have timed out
            for gu in json.loads(c.call("GET", "/v1/guests")[1]):
                c.call("DELETE", "/v1/guests/%s?force=1" % gu["name"])
        except Exception as e:
            print("scale: clean-up failed (%s): see %s" % (e, tmp), file=sys.stderr)
            d.terminate()
            d.wait()
            raise
        d.terminate()
        d.wait()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
