"""Seeds for fuzz_wsnap: real WebAssembly snapshot files. Each program of tests/wsnap/ named
below runs under `lodge wasm --no-jit --api SOCK --dir D::.` (D holds in.txt, as the wsnap
suite gives it), is paused and saved with PATCH /vm + PUT /snapshot/create after a moment,
and killed; its file becomes OUT/NAME.snap. A program whose snapshot is refused (threads,
a socket) is left out with a line saying why.
    python3 tests/fuzz/seeds/wsnap.py LODGE OUT"""
import os
import shutil
import string
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.join(HERE, "..", "..", "..")
sys.path.insert(0, os.path.join(TOP, "tests", "snapshot"))
from lib import api  # noqa: E402

# (program, its arguments)
PROGRAMS = [("counter", []), ("counter", ["spin"]), ("gcheap", []),
            ("gcfunc", []), ("gcglobal", []), ("gcnonnull", []), ("gcdeep", []),
            ("funcref", []), ("exnglobal", []), ("calls", []), ("tailcalls", []),
            ("callind", []), ("deep", []), ("narrow", []), ("deadslot", []),
            ("reflocal", []), ("fsappend", [])]


def main():
    lodge, out = os.path.abspath(sys.argv[1]), sys.argv[2]
    os.makedirs(out, exist_ok=True)
    for prog, args in PROGRAMS:
        name = prog + ("-" + "-".join(args) if args else "")
        d = tempfile.mkdtemp(prefix="wsnap-seed.")
        sock = os.path.join(d, "api.sock")
        snap = os.path.join(d, "s.snap")
        with open(os.path.join(d, "in.txt"), "w") as f:
            f.write((string.ascii_letters + string.digits) * 5)
        p = subprocess.Popen([lodge, "wasm", "--no-jit", "--api", sock, "--dir", d + "::.",
                              os.path.join(TOP, "tests", "wsnap", prog + ".wat")] + args,
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, cwd=d)
        try:
            end = time.time() + 30
            while time.time() < end and not os.path.exists(sock) and p.poll() is None:
                time.sleep(0.02)
            time.sleep(0.5)
            st, body = api(sock, "PATCH", "/vm", {"state": "Paused"})
            st2, body2 = api(sock, "PUT", "/snapshot/create", {"snapshot_path": snap})
            if st == 204 and st2 == 204:
                shutil.copy(snap, os.path.join(out, name + ".snap"))
                print("seed %s: %d bytes" % (name, os.path.getsize(snap)))
            else:
                print("no seed %s: %s %s, %s %s" % (name, st, body, st2, body2))
        except OSError as e:
            print("no seed %s: %s" % (name, e))
        finally:
            p.kill()
            p.wait()
            shutil.rmtree(d, ignore_errors=True)


main()
