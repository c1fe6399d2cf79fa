#!/usr/bin/env python3
"""Start-up of `lodge wasm` (issue 12: hello <= 3 ms; native hello 2.1 ms), in one
invocation: the wall time from exec to exit of hello.wasm (a WASI hello world) with the
default (--compile auto: eager for a module this small) and with --compile lazy, next
to the native hello and to
`lodge --version` (exec and dynamic linking alone: the floor under any subcommand). The
runs alternate between the four, so the load of a shared machine weighs on all alike.
Then, from LODGE_WASM_TIMES=1, the CPU time of each start-up phase of hello, and of
loading the bigger modules found beside it (lua.wasm, sqlite.wasm: decode, validate and
compile) lazily and eagerly.

Prints JSON lines: the machine (load average), one line per hello variant (median, p90,
best in ms), the ratios to native, one line per module and mode (median CPU ms of each
phase, functions compiled).

usage: start.py LODGE BENCH_DIR [--runs N]     (BENCH_DIR holds hello.wasm, hello.native)
"""
import argparse
import json
import os
import platform
import re
import statistics
import subprocess
import sys
import time


def wall(argv):
    start = time.perf_counter()
    proc = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True)
    took = (time.perf_counter() - start) * 1e3
    if proc.returncode != 0:
        sys.exit("start.py: %s: exit %d: %s" % (" ".join(argv), proc.returncode,
                                                proc.stderr.decode(errors="replace")))
    return took


def summary(xs):
    xs = sorted(xs)
    return {"median_ms": round(statistics.median(xs), 3),
            "p90_ms": round(xs[int(len(xs) * 0.9)], 3), "best_ms": round(xs[0], 3)}


def phases(lodge, args, runs):
    """Median CPU ms per phase from LODGE_WASM_TIMES=1, and the functions compiled."""
    acc, compiled = {}, None
    env = dict(os.environ, LODGE_WASM_TIMES="1")
    for _ in range(runs):
        proc = subprocess.run([lodge, "wasm"] + args, stdin=subprocess.DEVNULL,
                              capture_output=True, text=True, env=env)
        m = re.search(r"times \(ms wall/cpu\): (.*)", proc.stderr)
        if not m:
            sys.exit("start.py: no LODGE_WASM_TIMES line from %s: %s" % (args, proc.stderr))
        for part in m.group(1).split(", "):
            name, v = part.rsplit(" ", 1)
            acc.setdefault(name, []).append(float(v.split("/")[1]))
        c = re.search(r"functions compiled: (\d+) of (\d+)", proc.stderr)
        compiled = "%s of %s" % (c.group(1), c.group(2)) if c else None
    out = {k: round(statistics.median(v), 3) for k, v in acc.items()}
    out["functions_compiled"] = compiled
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("lodge")
    ap.add_argument("bdir")
    ap.add_argument("--runs", type=int, default=100)
    a = ap.parse_args()
    hello = os.path.join(a.bdir, "hello.wasm")
    variants = {
        "native": [os.path.join(a.bdir, "hello.native")],
        "lodge --version": [a.lodge, "--version"],
        "lodge wasm": [a.lodge, "wasm", hello],
        "lodge wasm --compile lazy": [a.lodge, "wasm", "--compile", "lazy", hello],
    }
    load = os.getloadavg()
    print(json.dumps({"machine": platform.node(), "cpus": os.cpu_count(),
                      "loadavg_before": [round(x, 2) for x in load], "runs": a.runs}))
    for argv in variants.values():  # warm the page cache
        wall(argv)
    times = {k: [] for k in variants}
    for _ in range(a.runs):
        for k, argv in variants.items():
            times[k].append(wall(argv))
    res = {k: summary(v) for k, v in times.items()}
    nat = res["native"]["median_ms"]
    for k, v in res.items():
        v = dict(v, run=k, vs_native=round(v["median_ms"] / nat, 2))
        print(json.dumps(v))
    print(json.dumps({"loadavg_after": [round(x, 2) for x in os.getloadavg()]}))
    print("\nhello start-to-exit (median of %d): lodge %.2f ms (%.2fx native; --compile lazy "
          "%.2f ms), native %.2f ms; lodge --version %.2f ms" % (
              a.runs, res["lodge wasm"]["median_ms"], res["lodge wasm"]["median_ms"] / nat,
              res["lodge wasm --compile lazy"]["median_ms"], nat,
              res["lodge --version"]["median_ms"]))
    for mod in ("hello", "lua", "sqlite"):
        path = os.path.join(a.bdir, mod + ".wasm")
        if not os.path.exists(path):
            continue
        # the big ones: load and instantiate only (no such export: nothing runs)
        extra = [] if mod == "hello" else ["--invoke", "no-such-export"]
        for mode in ("lazy", "eager"):
            p = phases(a.lodge, ["--compile", mode] + extra + [path],
                       21 if mod == "hello" else 7)
            print(json.dumps(dict(module=mod, compile=mode, cpu_ms=p)))


if __name__ == "__main__":
    main()
