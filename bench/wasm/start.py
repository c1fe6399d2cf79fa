#!/usr/bin/env python3
"""Start-up of `lodge wasm` (issue 12: hello <= 3 ms; native hello 2.1 ms), in one
invocation: the wall time from exec to exit of hello.wasm (a WASI hello world), and the CPU
time it used (user + system, from the children's rusage), with the default (--compile
auto: eager for a module this small) and with --compile lazy, next to the native hello, to
Node.js running the same module through its WASI (bench/wasm/node-wasi.mjs; skipped
without node or with --no-node), and to `lodge --version` (exec and dynamic linking alone:
the floor under any subcommand). With --ref OTHER_LODGE, OTHER_LODGE's hello runs too (an
A/B of two builds, e.g. main's against a branch's). The runs alternate between the
variants, so the load of a shared machine weighs on all alike. Then, from
LODGE_WASM_TIMES=1, the CPU time of each start-up phase of hello (with --ref, the other
build's too, alternating, as many runs as the wall times), and of loading the bigger
modules found beside it (lua.wasm, sqlite.wasm: decode, validate and compile) lazily and
eagerly.

Prints JSON lines: the machine (load average), one line per variant (median, p90, best
wall ms; median and best CPU ms; both as ratios to native), one line per module and mode
(median CPU ms of each phase, functions compiled), and a summary.

usage: start.py LODGE BENCH_DIR [--runs N] [--ref LODGE2] [--no-node]
       (BENCH_DIR holds hello.wasm, hello.native)
"""
import argparse
import json
import os
import platform
import resource
import shutil
import re
import statistics
import subprocess
import sys
import time


_children = [0.0]


def wall(argv):
    """(wall ms, CPU ms) of one run from exec to exit. The CPU time is the user + system
    time of the child: the growth of RUSAGE_CHILDREN across the run (one at a time)."""
    start = time.perf_counter()
    proc = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True)
    took = (time.perf_counter() - start) * 1e3
    if proc.returncode != 0:
        sys.exit("start.py: %s: exit %d: %s" % (" ".join(argv), proc.returncode,
                                                proc.stderr.decode(errors="replace")))
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    total = (ru.ru_utime + ru.ru_stime) * 1e3
    cpu, _children[0] = total - _children[0], total
    return took, cpu


def summary(walls, cpus):
    xs, cs = sorted(walls), sorted(cpus)
    return {"median_ms": round(statistics.median(xs), 3),
            "p90_ms": round(xs[int(len(xs) * 0.9)], 3), "best_ms": round(xs[0], 3),
            "cpu_median_ms": round(statistics.median(cs), 3), "cpu_best_ms": round(cs[0], 3)}


def phases(lodges, args, runs):
    """Median CPU ms per phase from LODGE_WASM_TIMES=1, and the functions compiled, for
    each binary in lodges, their runs alternating (a shared machine's load weighs on all
    alike)."""
    accs, compiled = [{} for _ in lodges], [None] * len(lodges)
    env = dict(os.environ, LODGE_WASM_TIMES="1")
    for _ in range(runs):
        for i, lodge in enumerate(lodges):
            proc = subprocess.run([lodge, "wasm"] + args, stdin=subprocess.DEVNULL,
                                  capture_output=True, text=True, env=env)
            m = re.search(r"times \(ms wall/cpu\): (.*)", proc.stderr)
            if not m:
                sys.exit("start.py: no LODGE_WASM_TIMES line from %s %s: %s" % (
                    lodge, args, proc.stderr))
            for part in m.group(1).split(", "):
                name, v = part.rsplit(" ", 1)
                accs[i].setdefault(name, []).append(float(v.split("/")[1]))
            c = re.search(r"functions compiled: (\d+) of (\d+)", proc.stderr)
            compiled[i] = "%s of %s" % (c.group(1), c.group(2)) if c else None
    outs = []
    for acc, comp in zip(accs, compiled):
        out = {k: round(statistics.median(v), 3) for k, v in acc.items()}
        out["functions_compiled"] = comp
        outs.append(out)
    return outs


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("lodge")
    ap.add_argument("bdir")
    ap.add_argument("--runs", type=int, default=100)
    ap.add_argument("--ref", help="another lodge binary whose hello runs alongside")
    ap.add_argument("--no-node", action="store_true")
    a = ap.parse_args()
    hello = os.path.join(a.bdir, "hello.wasm")
    variants = {
        "native": [os.path.join(a.bdir, "hello.native")],
        "lodge --version": [a.lodge, "--version"],
        "lodge wasm": [a.lodge, "wasm", hello],
        "lodge wasm --compile lazy": [a.lodge, "wasm", "--compile", "lazy", hello],
    }
    if a.ref:
        variants["ref lodge wasm"] = [a.ref, "wasm", hello]
    node = None if a.no_node else shutil.which("node")
    if node:
        variants["node"] = [node, "--no-warnings",
                            os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                         "node-wasi.mjs"), hello]
    print(json.dumps({"machine": platform.node(), "cpus": os.cpu_count(),
                      "loadavg_before": [round(x, 2) for x in os.getloadavg()],
                      "runs": a.runs, "ref": a.ref, "node": node}))
    for argv in variants.values():  # warm the page cache
        wall(argv)
    walls = {k: [] for k in variants}
    cpus = {k: [] for k in variants}
    for _ in range(a.runs):
        for k, argv in variants.items():
            w, c = wall(argv)
            walls[k].append(w)
            cpus[k].append(c)
    res = {k: summary(walls[k], cpus[k]) for k in variants}
    nat, natc = res["native"]["median_ms"], res["native"]["cpu_median_ms"]
    for k, v in res.items():
        v = dict(v, run=k, vs_native=round(v["median_ms"] / nat, 2),
                 cpu_vs_native=round(v["cpu_median_ms"] / natc, 2) if natc else None)
        print(json.dumps(v))
    print(json.dumps({"loadavg_after": [round(x, 2) for x in os.getloadavg()]}))
    lw, lz = res["lodge wasm"], res["lodge wasm --compile lazy"]
    print("\nhello start-to-exit, median of %d, wall / CPU ms: lodge %.2f / %.2f "
          "(%.2fx / %.2fx native; --compile lazy %.2f / %.2f), native %.2f / %.2f, "
          "lodge --version %.2f / %.2f" % (
              a.runs, lw["median_ms"], lw["cpu_median_ms"], lw["median_ms"] / nat,
              lw["cpu_median_ms"] / natc if natc else 0, lz["median_ms"],
              lz["cpu_median_ms"], nat, natc, res["lodge --version"]["median_ms"],
              res["lodge --version"]["cpu_median_ms"]))
    if node:
        nd = res["node"]
        print("node: %.2f / %.2f (lodge's wall %.3fx node's)" % (
            nd["median_ms"], nd["cpu_median_ms"], lw["median_ms"] / nd["median_ms"]))
    if a.ref:
        rf = res["ref lodge wasm"]
        print("ref %s: %.2f / %.2f (this lodge: wall %.3fx, CPU %.3fx the ref's)" % (
            a.ref, rf["median_ms"], rf["cpu_median_ms"], lw["median_ms"] / rf["median_ms"],
            lw["cpu_median_ms"] / rf["cpu_median_ms"] if rf["cpu_median_ms"] else 0))
    for mod in ("hello", "lua", "sqlite"):
        path = os.path.join(a.bdir, mod + ".wasm")
        if not os.path.exists(path):
            continue
        # the big ones: load and instantiate only (no such export: nothing runs)
        extra = [] if mod == "hello" else ["--invoke", "no-such-export"]
        for mode in ("lazy", "eager"):
            # hello's phases against the ref's too (as many runs as the wall times)
            both = a.ref and mod == "hello" and mode == "eager"
            ps = phases([a.lodge, a.ref] if both else [a.lodge],
                        ["--compile", mode] + extra + [path],
                        max(a.runs, 21) if both else 21 if mod == "hello" else 7)
            print(json.dumps(dict(module=mod, compile=mode, cpu_ms=ps[0])))
            if both:
                print(json.dumps(dict(module=mod, compile=mode, ref=a.ref, cpu_ms=ps[1])))
                print("hello's phases, median CPU ms, this lodge against the ref: " +
                      ", ".join("%s %.3f/%.3f" % (k, ps[0][k], ps[1][k])
                                for k in ps[0] if k in ps[1] and k != "functions_compiled"))


if __name__ == "__main__":
    main()
