#!/usr/bin/env python3
"""CPU of an idle system guest (issue 10 scale): this build against a reference build.

Boots the default guest (busybox shell, --mem MiB) with both binaries at once, so both see
the same host load, waits --settle seconds at the shell, then over --secs seconds reads:
  - the CPU time of every thread of the guest process (/proc/PID/task/*/schedstat) and
    its context switches (voluntary + involuntary: the host wakes);
  - the guest's own timer interrupts (the riscv-timer line of /proc/interrupts, read
    through its console before and after the window).
Repeats --rounds times, alternating which binary starts first, and prints JSON lines:
one per run, then the medians of each binary and this/reference ratios, with the host's
load average before and after. An idle guest should cost next to nothing: what it costs
is the guest kernel's housekeeping timers (docs/INTERNALS.md, "Where they come from").

usage: idle.py LODGE REF_LODGE GUEST_DIR [--mem MIB] [--secs S] [--settle S] [--rounds N]
                [--setup 'guest shell command run before the window']
"""
import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import time


def emit(**kv):
    print(json.dumps(kv), flush=True)


def loadavg():
    with open("/proc/loadavg") as f:
        return [float(x) for x in f.read().split()[:3]]


class Guest:
    """One `lodge run` of the default guest with its console on pipes."""

    def __init__(self, lodge, guest_dir, mem):
        self.out = b""
        self.p = subprocess.Popen(
            [lodge, "run", "--kernel", os.path.join(guest_dir, "Image"),
             "--initrd", os.path.join(guest_dir, "initrd.img"),
             "--firmware", os.path.join(guest_dir, "fw_dynamic.bin"),
             "--mem", "%dM" % mem, "--timeout", "1800"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        os.set_blocking(self.p.stdout.fileno(), False)

    def read(self):
        try:
            b = self.p.stdout.read()
        except BlockingIOError:
            b = None
        if b:
            self.out += b
        return self.out

    def wait_for(self, pattern, timeout, start=0):
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            m = re.search(pattern, self.read()[start:])
            if m:
                return m
            if self.p.poll() is not None:
                break
            time.sleep(0.2)
        return None

    def send(self, line):
        self.p.stdin.write(line.encode() + b"\n")
        self.p.stdin.flush()

    def timer_irqs(self, tag):
        """The guest's riscv-timer interrupt count, printed after a unique tag."""
        mark = len(self.read())
        self.send("echo %s-$(grep riscv-timer /proc/interrupts | tr -s ' ' | cut -d' ' -f3)"
                  % tag)
        m = self.wait_for((r"\n%s-(\d+)" % tag).encode(), 60, mark)
        return int(m.group(1)) if m else None

    def threads(self):
        """{tid: (comm, cpu ns, context switches)} of the guest process."""
        res = {}
        base = "/proc/%d/task" % self.p.pid
        for tid in os.listdir(base):
            try:
                with open("%s/%s/comm" % (base, tid)) as f:
                    comm = f.read().strip()
                with open("%s/%s/schedstat" % (base, tid)) as f:
                    ns = int(f.read().split()[0])
                cs = 0
                with open("%s/%s/status" % (base, tid)) as f:
                    for line in f:
                        if line.startswith(("voluntary_ctxt", "nonvoluntary_ctxt")):
                            cs += int(line.split()[1])
                res[tid] = (comm, ns, cs)
            except OSError:
                pass
        return res

    def stop(self):
        try:
            self.send("poweroff -f")
            self.p.wait(timeout=60)
        except (OSError, subprocess.TimeoutExpired):
            self.p.kill()
            self.p.wait()


def run_round(bins, args, order):
    guests = {}
    for name in order:
        guests[name] = Guest(bins[name], args.guest_dir, args.mem)
    res = {}
    try:
        for name, g in guests.items():
            if not g.wait_for(rb"lodge:~# ", 600):
                sys.exit("idle.py: the %s guest did not reach its shell in 600 s" % name)
            if args.setup:
                g.send(args.setup)
        time.sleep(args.settle)
        before = {n: (g.timer_irqs("A"), g.threads(), time.monotonic())
                  for n, g in guests.items()}
        time.sleep(args.secs)
        for n, g in guests.items():
            t1 = g.threads()
            irq1 = g.timer_irqs("B")
            irq0, t0, m0 = before[n]
            secs = time.monotonic() - m0
            cpu = sum(t1[t][1] - t0[t][1] for t in t1 if t in t0) / 1e6 / args.secs
            wakes = sum(t1[t][2] - t0[t][2] for t in t1 if t in t0) / args.secs
            irqs = (irq1 - irq0) / secs if irq0 is not None and irq1 is not None else None
            res[n] = {"cpu_ms_per_s": round(cpu, 3), "host_wakes_per_s": round(wakes, 2),
                      "guest_timer_irqs_per_s": None if irqs is None else round(irqs, 2)}
    finally:
        for g in guests.values():
            g.stop()
    return res


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("lodge")
    ap.add_argument("ref")
    ap.add_argument("guest_dir")
    ap.add_argument("--mem", type=int, default=96, help="guest RAM, MiB (96: the scale "
                    "benchmark's; Debian's kernel cannot boot in 64, docs/INTERNALS.md)")
    ap.add_argument("--secs", type=float, default=30)
    ap.add_argument("--settle", type=float, default=20)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--setup", default="")
    args = ap.parse_args()
    for f in ("Image", "initrd.img", "fw_dynamic.bin"):
        if not os.path.isfile(os.path.join(args.guest_dir, f)):
            sys.exit("idle.py: %s missing in %s (make guest)" % (f, args.guest_dir))
    bins = {"this": args.lodge, "ref": args.ref}
    emit(machine=os.uname().nodename, cpus=os.cpu_count(), load=loadavg(), mem_mib=args.mem,
         secs=args.secs, rounds=args.rounds, setup=args.setup)
    runs = {"this": [], "ref": []}
    for r in range(args.rounds):
        order = ["this", "ref"] if r % 2 == 0 else ["ref", "this"]
        res = run_round(bins, args, order)
        for n, v in res.items():
            runs[n].append(v)
            emit(round=r, binary=n, load=loadavg(), **v)
    med = {}
    for n, vs in runs.items():
        med[n] = {k: statistics.median([v[k] for v in vs if v[k] is not None] or [0])
                  for k in vs[0]}
        emit(median=n, **med[n])
    emit(ratio="this/ref", load=loadavg(),
         **{k: round(med["this"][k] / med["ref"][k], 3) if med["ref"][k] else None
            for k in med["this"]})


if __name__ == "__main__":
    main()
