"""The answer to a control request that ends the guest goes out before the process ends.

PUT /actions Stop or Kill on `lodge run --api` (a bare guest that loops) and `lodge wasm
--api` (tests/migrate/ticker.wat) ends the guest while the request's worker thread is
still to report; the process used to close the control socket as it ended, and the
client got a closed connection instead of 204 whenever that thread ran late (a loaded
host). The ASan build's LODGE_TEST_HOOK=slow-answer makes it late every time (300 ms),
so each case here answers 204 only if the process waits for the answer before it closes
the socket; the process still ends with the action's status.

  answer.vm.kill, answer.wasm.stop, answer.wasm.kill    three rounds each
"""
import os
import shutil
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from lib import api  # noqa: E402

ROUNDS = 3


def wait_sock(sock, p, timeout=60):
    end = time.time() + timeout
    while time.time() < end and p.poll() is None:
        if os.path.exists(sock):
            return True
        time.sleep(0.02)
    return False


def one(lodge, argv, action, status, d):
    """Runs argv with --api, asks for action: "" or why it failed."""
    sock = os.path.join(d, "api.sock")
    if os.path.exists(sock):
        os.unlink(sock)
    env = dict(os.environ, LODGE_TEST_HOOK="slow-answer")
    p = subprocess.Popen([lodge, argv[0], "--api", sock] + argv[1:], stdin=subprocess.DEVNULL,
                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
    try:
        if not wait_sock(sock, p):
            return "no control socket: " + p.stderr.read().decode(errors="replace")[-300:] \
                if p.poll() is not None else "no control socket in 60 s"
        time.sleep(0.2)  # running, not starting
        try:
            st, body = api(sock, "PUT", "/actions", {"action_type": action}, timeout=60)
        except OSError as e:  # http.client's RemoteDisconnected is one
            st, body = None, "%s: %s" % (type(e).__name__, e)
        try:
            rc = p.wait(60)
        except subprocess.TimeoutExpired:
            return "PUT /actions %s: %s %s; the process did not end" % (action, st, body)
        if st != 204:
            return "PUT /actions %s: %s %s (the process ended with %s first)" % (
                action, st, body, rc)
        if rc != status:
            return "PUT /actions %s: 204, but the process ended with %s, not %s: %s" % (
                action, rc, status, p.stderr.read().decode(errors="replace")[-300:])
        return ""
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
        p.stderr.close()


def run(lodge, top, result):
    """result(name, why) reports one case ("" passes)."""
    d = tempfile.mkdtemp(prefix="lodge-answers.")
    try:
        loop = os.path.join(top, "build/guests/loop.elf")
        ticker = os.path.join(d, "ticker.wasm")
        cases = []
        if os.path.exists(loop):
            cases.append(("answer.vm.kill", ["run", "--bare", loop, "--timeout", "120"],
                          "Kill", 137))
        else:
            result("answer.vm.kill", "%s is missing (make guests)" % loop)
        r = subprocess.run(["wat2wasm", os.path.join(top, "tests/migrate/ticker.wat"), "-o",
                            ticker], capture_output=True, text=True) \
            if shutil.which("wat2wasm") else None
        if r is None or r.returncode:
            for n in ("answer.wasm.stop", "answer.wasm.kill"):
                result(n, "wat2wasm (wabt): %s" % (r.stderr[-200:] if r else "not installed"))
        else:
            cases += [("answer.wasm.stop", ["wasm", ticker], "Stop", 0),
                      ("answer.wasm.kill", ["wasm", ticker], "Kill", 137)]
        for name, argv, action, status in cases:
            why = ""
            for i in range(ROUNDS):
                why = one(lodge, argv, action, status, d)
                if why:
                    why = "round %d of %d: %s" % (i + 1, ROUNDS, why)
                    break
            result(name, why)
    finally:
        shutil.rmtree(d, ignore_errors=True)
