#!/usr/bin/env python3
"""Small WASI reads and writes (issue 11: blocked calls give up for a pause or a stop,
without adding system calls to a regular file's path), in one invocation: a module
makes N fd_read or fd_write calls of 16 bytes each on its stdin or stdout, which is a
regular file (read, going back to its start with fd_seek at its end), a pipe fed by
`cat` (read), /dev/null or a pipe drained by `cat` (write). Each case runs LODGE and
REF (another build, e.g. main's) alternately, RUNS times each, interpreted (--no-jit:
the host call's cost is most of each iteration), and takes the CPU time (user + system)
of the lodge process alone (wait4), not wall time: the load of a shared host weighs
less on it.

Prints JSON lines: the machine (load average), one line per case (median and best CPU
ms of each build, the ratio LODGE/REF of the medians; with --strace, for the regular
file and /dev/null, the system calls per WASI call from strace -c), and a summary.

usage: wasi-io.py LODGE REF [--runs N] [--calls N] [--strace]
"""
import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile

# _start: `calls` fd_read (what "read") or fd_write calls of 16 bytes on fd 0 or 1; a
# read that returns 0 (end of file) seeks back to the start (fd_seek), and a short count
# is no error. The iovec is at 0, the count at 8, the buffer at 64.
WAT = """(module
  (import "wasi_snapshot_preview1" "fd_read"
    (func $fd_read (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_write"
    (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_seek"
    (func $fd_seek (param i32 i64 i32 i32) (result i32)))
  (memory 1)
  (func (export "_start")
    (local $i i32)
    (i32.store (i32.const 0) (i32.const 64))
    (i32.store (i32.const 4) (i32.const 16))
    (loop $l
      %s
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br_if $l (i32.lt_u (local.get $i) (i32.const %d))))))
"""
READ = """(if (call $fd_read (i32.const 0) (i32.const 0) (i32.const 1) (i32.const 8))
        (then (unreachable)))
      (if (i32.eqz (i32.load (i32.const 8)))
        (then (drop (call $fd_seek (i32.const 0) (i64.const 0) (i32.const 0)
                                   (i32.const 16)))))"""
WRITE = """(if (call $fd_write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 8))
        (then (unreachable)))"""


def run_one(lodge, prog, case, data):
    """CPU ms (user + system) of one run of lodge on prog for case."""
    feeder = sink = None
    stdin, stdout = subprocess.DEVNULL, subprocess.DEVNULL
    if case == "file-read":
        stdin = open(data, "rb")
    elif case == "pipe-read":
        feeder = subprocess.Popen(["cat", data], stdout=subprocess.PIPE)
        stdin = feeder.stdout
    elif case == "null-write":
        stdout = open(os.devnull, "wb")
    elif case == "pipe-write":
        sink = subprocess.Popen(["cat"], stdin=subprocess.PIPE, stdout=subprocess.DEVNULL)
        stdout = sink.stdin
    p = subprocess.Popen([lodge, "wasm", "--no-jit", prog], stdin=stdin, stdout=stdout,
                         stderr=subprocess.PIPE)
    for f in (stdin, stdout):
        if not isinstance(f, int):
            f.close()
    err = p.stderr.read()
    _, status, ru = os.wait4(p.pid, 0)
    p.returncode = os.waitstatus_to_exitcode(status)
    for q in (feeder, sink):
        if q:
            q.wait()
    if p.returncode != 0:
        sys.exit("wasi-io.py: %s %s: exit %d: %s" % (lodge, case, p.returncode,
                                                     err.decode(errors="replace")))
    return (ru.ru_utime + ru.ru_stime) * 1e3


def syscalls(lodge, prog, case, data, calls):
    """System calls per WASI call of one run under strace -c (its total, less a run
    with no calls' at all: start-up)."""
    def total(program):
        out = tempfile.mktemp()
        stdin = open(data if case.endswith("read") else os.devnull, "rb")
        stdout = open(os.devnull, "wb")
        subprocess.run(["strace", "-f", "-c", "-o", out, lodge, "wasm", "--no-jit", program],
                       stdin=stdin, stdout=stdout, stderr=subprocess.DEVNULL, check=True)
        with open(out) as f:
            last = [ln for ln in f.read().splitlines() if ln.strip().endswith("total")]
        os.unlink(out)
        return int(last[0].split()[3]) if last else 0
    empty = prog + ".empty.wat"
    with open(empty, "w") as f:
        f.write(WAT % (READ if case.endswith("read") else WRITE, 1))
    return round((total(prog) - total(empty)) / (calls - 1), 2)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("lodge")
    ap.add_argument("ref")
    ap.add_argument("--runs", type=int, default=7)
    ap.add_argument("--calls", type=int, default=400000)
    ap.add_argument("--strace", action="store_true")
    a = ap.parse_args()
    d = tempfile.mkdtemp(prefix="wasi-io.")
    print(json.dumps({"machine": platform.node(), "loadavg": os.getloadavg(),
                      "calls": a.calls, "runs": a.runs}))
    ratios = {}
    try:
        small, big = os.path.join(d, "small"), os.path.join(d, "big")
        with open(small, "wb") as f:
            f.write(os.urandom(4096))
        with open(big, "wb") as f:  # a pipe-read run reads all of it
            f.write(os.urandom(16 * a.calls))
        for case in ("file-read", "pipe-read", "null-write", "pipe-write"):
            prog = os.path.join(d, case + ".wat")
            with open(prog, "w") as f:
                f.write(WAT % (READ if case.endswith("read") else WRITE, a.calls))
            data = small if case == "file-read" else big
            cpu = {a.lodge: [], a.ref: []}
            for _ in range(a.runs):
                for lodge in (a.lodge, a.ref):
                    cpu[lodge].append(run_one(lodge, prog, case, data))
            med = {k: statistics.median(v) for k, v in cpu.items()}
            line = {"case": case, "cpu_median_ms": round(med[a.lodge], 1),
                    "cpu_best_ms": round(min(cpu[a.lodge]), 1),
                    "ref_cpu_median_ms": round(med[a.ref], 1),
                    "ref_cpu_best_ms": round(min(cpu[a.ref]), 1),
                    "ratio": round(med[a.lodge] / med[a.ref], 3)}
            if a.strace and shutil.which("strace") and case in ("file-read", "null-write"):
                line["syscalls_per_call"] = syscalls(a.lodge, prog, case, data, a.calls)
                line["ref_syscalls_per_call"] = syscalls(a.ref, prog, case, data, a.calls)
            ratios[case] = line["ratio"]
            print(json.dumps(line))
            sys.stdout.flush()
    finally:
        shutil.rmtree(d, ignore_errors=True)
    print(json.dumps({"summary": "CPU time, LODGE/REF medians", "ratios": ratios,
                      "loadavg": os.getloadavg()}))


if __name__ == "__main__":
    main()
