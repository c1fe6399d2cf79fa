#!/usr/bin/env python3
"""Terminal tests for `lodge run`: runs LODGE on a pseudo-terminal (stdin and stdout the
pty's slave side, as on a user's terminal) with the bare program SPIN, which prints
"spin: ready" and loops, and checks the console's terminal handling:

  raw_mode       the terminal is raw while lodge runs
  ctrl_a_keys    Ctrl-A H lists the keys, Ctrl-C goes to the guest (no signal), Ctrl-A X
                 quits with status 0
  SIG<NAME>      a termination signal stops lodge with status 128 + its number
  fatal_SIG<N>   a fatal signal (a bug) ends lodge through the signal
and after each that the terminal settings are exactly what they were before.

Usage: pty.py LODGE SPIN PREFIX CASE...   (prints PASS/FAIL lines named PREFIX.CASE)
Waits are bounded (30 s) and only wait for something that must happen.
"""
import os
import select
import signal
import subprocess
import sys
import termios
import time

LIMIT = 30.0


class Case:
    def __init__(self, lodge, spin):
        self.master, self.slave = os.openpty()
        self.before = termios.tcgetattr(self.slave)
        self.out = b""
        # A session of its own: the pty is not lodge's controlling terminal, and no
        # signal meant for the test runner reaches it.
        self.proc = subprocess.Popen(
            [lodge, "run", "--bare", spin, "--timeout", "120"],
            stdin=self.slave, stdout=self.slave, stderr=subprocess.PIPE,
            start_new_session=True)

    def read_until(self, text):
        end = time.monotonic() + LIMIT
        while text not in self.out and time.monotonic() < end:
            r, _, _ = select.select([self.master], [], [], 0.2)
            if r:
                try:
                    self.out += os.read(self.master, 4096)
                except OSError:
                    break
        return text in self.out

    def wait(self):
        try:
            self.proc.wait(timeout=LIMIT)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            return None
        return self.proc.returncode

    def restored(self):
        return termios.tcgetattr(self.slave) == self.before

    def close(self):
        err = self.proc.stderr.read().decode(errors="replace") if self.proc.stderr else ""
        os.close(self.master)
        os.close(self.slave)
        return err


def raw_now(c):
    lflag = termios.tcgetattr(c.slave)[3]
    return not (lflag & (termios.ICANON | termios.ECHO | termios.ISIG))


def case_raw_mode(c):
    if not c.read_until(b"spin: ready"):
        return "the program's output did not arrive"
    if not raw_now(c):
        return "the terminal is not in raw mode while lodge runs"
    os.write(c.master, b"\x01x")
    st = c.wait()
    return None if st == 0 else f"C-a x: status {st}, want 0"


def case_ctrl_a_keys(c):
    if not c.read_until(b"spin: ready"):
        return "the program's output did not arrive"
    os.write(c.master, b"\x01h")
    if not c.read_until(b"C-a x"):
        return "C-a h printed no help"
    os.write(c.master, b"\x03")  # Ctrl-C: a byte for the guest, not SIGINT
    # Ctrl-A X must be what ends it: anything ending it sooner is a failure.
    os.write(c.master, b"\x01x")
    st = c.wait()
    if st != 0:
        return f"status {st} after Ctrl-C then C-a x, want 0"
    if b"terminated by C-a x" not in c.out and not c.read_until(b"terminated by C-a x"):
        return "no 'terminated by C-a x' message"
    return None


def term_signal(sig):
    def run(c):
        if not c.read_until(b"spin: ready"):
            return "the program's output did not arrive"
        os.kill(c.proc.pid, sig)
        st = c.wait()
        want = 128 + sig
        return None if st == want else f"status {st}, want {want}"
    return run


def fatal_signal(sig):
    def run(c):
        if not c.read_until(b"spin: ready"):
            return "the program's output did not arrive"
        os.kill(c.proc.pid, sig)
        st = c.wait()
        # Killed by the signal (-sig), or a sanitizer's report and exit (non-zero).
        if st is None or st == 0:
            return f"status {st}: the signal did not end lodge"
        return None
    return run


CASES = {
    "raw_mode": case_raw_mode,
    "ctrl_a_keys": case_ctrl_a_keys,
    "sigterm": term_signal(signal.SIGTERM),
    "sighup": term_signal(signal.SIGHUP),
    "sigint": term_signal(signal.SIGINT),
    "sigquit": term_signal(signal.SIGQUIT),
    "fatal_sigsegv": fatal_signal(signal.SIGSEGV),
    "fatal_sigabrt": fatal_signal(signal.SIGABRT),
    "fatal_sigbus": fatal_signal(signal.SIGBUS),
    # signals lodge does not use, whose default action still ends it
    "fatal_sigusr1": fatal_signal(signal.SIGUSR1),
    "fatal_sigalrm": fatal_signal(signal.SIGALRM),
    "fatal_sigxcpu": fatal_signal(signal.SIGXCPU),
    "fatal_sigtrap": fatal_signal(signal.SIGTRAP),
    "fatal_sigrtmin": fatal_signal(signal.SIGRTMIN),
}


def main():
    lodge, spin, prefix = sys.argv[1:4]
    for name in sys.argv[4:]:
        c = Case(lodge, spin)
        why = CASES[name](c)
        if c.proc.poll() is None:
            c.proc.kill()
            c.proc.wait()
        if why is None and not c.restored():
            why = "the terminal settings were not restored"
        err = c.close()
        if why is None and ("runtime error" in err or "ThreadSanitizer" in err or
                            ("AddressSanitizer" in err and not name.startswith("fatal"))):
            why = "sanitizer report: " + err.strip().splitlines()[0]
        if why is None:
            print(f"PASS: {prefix}.{name}", flush=True)
        else:
            print(f"FAIL: {prefix}.{name}: {why} (stderr: {err.strip()[:200]!r})", flush=True)


if __name__ == "__main__":
    main()
