#!/usr/bin/env python3
"""Wasm start latency of the Lodge host (issue 10: <= 10 ms p50): the time from the start
request to the guest's first console line, with the daemon's warm pool of Wasm guest
processes (--wasm-pool K) against a reference daemon without one (--wasm-pool 0), in the
same invocation. Both daemons run side by side and the starts alternate between them, so
that the load of a shared machine weighs on both alike.

With --ref OTHER_LODGE, both daemons have the warm pool and the second runs OTHER_LODGE
(an A/B of two builds, e.g. main's against a branch's: the same alternation, the ratio of
this build's p50 to the reference build's).

Each start is of a new idle service (tests/daemon/service.c "idle"); between two starts
the benchmark waits --gap seconds (a pool refills in the background meanwhile: a start
every 0.2 s is the steady case; --gap 0 measures bursts, which drain the pool). Prints JSON
lines: the machine, one line per daemon (p50, p99, mean, best; the guest process's CPU
until idle), and the ratio of the pool's p50 to the reference's.

usage: start.py LODGE SERVICE.wasm [--starts N] [--pool K] [--gap S] [--ref OTHER_LODGE]
"""
import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from scale import Conn, cpu_ns, emit, pct, start_and_time  # noqa: E402


class Daemon:
    def __init__(self, lodge, tmp, name, pool):
        self.name, self.pool = name, pool
        self.sock = os.path.join(tmp, name + ".sock")
        self.state = os.path.join(tmp, name)
        self.log = open(os.path.join(tmp, name + ".log"), "wb")
        self.proc = subprocess.Popen([lodge, "daemon", "--state", self.state, "--socket",
                                      self.sock, "--wasm-pool", str(pool)],
                                     stdout=self.log, stderr=self.log)
        while not os.path.exists(self.sock):
            if self.proc.poll() is not None:
                raise SystemExit("daemon %s exited: see %s.log" % (name, self.state))
            time.sleep(0.05)
        time.sleep(0.5)  # its pool fills
        self.c = Conn(self.sock)
        self.ms, self.cpu = [], []

    def start_one(self, service, i):
        name = "w%d" % i
        st, body = self.c.call("POST", "/v1/guests", {"name": name, "wasm": service,
                                                       "args": ["idle"]})
        if st != 201:
            raise SystemExit("create %s: %d %s" % (name, st, body[:200]))
        self.ms.append(start_and_time(self.c, self.state, name))
        return name

    def guest_cpu(self):
        for g in json.loads(self.c.call("GET", "/v1/guests")[1]):
            if g.get("pid"):
                self.cpu.append(cpu_ns(g["pid"]) / 1e6)

    def close(self):
        try:
            c = Conn(self.sock)
            for g in json.loads(c.call("GET", "/v1/guests")[1]):
                c.call("DELETE", "/v1/guests/%s?force=1" % g["name"])
        except Exception as e:  # still stop the daemon
            print("clean-up of %s: %s" % (self.name, e), file=sys.stderr)
        self.proc.terminate()
        self.proc.wait()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("lodge")
    ap.add_argument("service")
    ap.add_argument("--starts", type=int, default=40, help="starts per daemon")
    ap.add_argument("--pool", type=int, default=2)
    ap.add_argument("--gap", type=float, default=0.2, help="seconds between starts")
    ap.add_argument("--ref", help="another lodge binary: both daemons pooled, A/B of builds")
    a = ap.parse_args()
    service = os.path.abspath(a.service)
    tmp = tempfile.mkdtemp(prefix="lodge-start-")
    os.chmod(tmp, 0o755)
    emit(bench="host-wasm-start", machine=platform.machine(), cpus=os.cpu_count(),
         kernel=platform.release(), starts=a.starts, pool=a.pool, gap_s=a.gap,
         loadavg=os.getloadavg()[0], ref=a.ref)
    ds = []
    try:
        if a.ref:
            ds = [Daemon(a.ref, tmp, "reference", a.pool), Daemon(a.lodge, tmp, "this", a.pool)]
        else:
            ds = [Daemon(a.lodge, tmp, "reference", 0), Daemon(a.lodge, tmp, "pool", a.pool)]
        for i in range(a.starts):
            for d in ds if i % 2 == 0 else reversed(ds):
                time.sleep(a.gap)
                d.start_one(service, i)
        time.sleep(1)  # the services went idle: what their start cost them
        for d in ds:
            d.guest_cpu()
            emit(figure="wasm_start_to_first_line_ms", daemon=d.name, wasm_pool=d.pool,
                 p50=round(pct(d.ms, 50), 2), p99=round(pct(d.ms, 99), 2),
                 mean=round(sum(d.ms) / len(d.ms), 2), best=round(min(d.ms), 2),
                 n=len(d.ms), guest_cpu_ms_p50=round(pct(d.cpu, 50), 2), target_p50=10)
        ratio = round(pct(ds[1].ms, 50) / pct(ds[0].ms, 50), 3)
        cpu = round(pct(ds[1].cpu, 50) / pct(ds[0].cpu, 50), 3) if ds[0].cpu and ds[1].cpu else None
        if a.ref:
            emit(figure="wasm_start_p50_ratio", this_over_reference_build=ratio,
                 guest_cpu_p50_ratio=cpu, loadavg=os.getloadavg()[0])
        else:
            emit(figure="wasm_start_p50_ratio", pool_over_reference=ratio,
                 loadavg=os.getloadavg()[0])
    finally:
        for d in ds:
            d.close()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
