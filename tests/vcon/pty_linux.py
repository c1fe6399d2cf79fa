#!/usr/bin/env python3
"""The default guest with --virtio-console on a pseudo-terminal, as a user runs it: stdin
and stdout are the pty's slave side, the guest's shell is on hvc0.

  ctrl_c_and_quit  a command typed at the prompt runs; Ctrl-C interrupts a foreground
                   `sleep` in the guest (it goes to the guest, not to lodge); Ctrl-A X
                   quits with status 0; the terminal settings are as they were before

Usage: pty_linux.py LODGE GUEST_OUT PREFIX CASE...   (prints PASS/FAIL lines PREFIX.CASE)
Waits are bounded and only wait for something that must happen (the boot: 240 s).
"""
import os
import select
import subprocess
import sys
import termios
import time

BOOT_LIMIT = 240.0
LIMIT = 60.0
PROMPT = b"lodge:~# "


class Case:
    def __init__(self, lodge, out):
        self.master, self.slave = os.openpty()
        self.before = termios.tcgetattr(self.slave)
        self.out = b""
        self.proc = subprocess.Popen(
            [lodge, "run", "--kernel", out + "/Image", "--initrd", out + "/initrd.img",
             "--firmware", out + "/fw_dynamic.bin", "--virtio-console",
             "--append", "console=hvc0 quiet", "--timeout", "400"],
            stdin=self.slave, stdout=self.slave, stderr=subprocess.PIPE,
            start_new_session=True)

    def read_until(self, text, limit=LIMIT, start=0):
        """Waits for `text` in the output after offset `start`; returns its end or -1."""
        end = time.monotonic() + limit
        while self.out.find(text, start) < 0 and time.monotonic() < end:
            r, _, _ = select.select([self.master], [], [], 0.2)
            if r:
                try:
                    self.out += os.read(self.master, 4096)
                except OSError:
                    break
        i = self.out.find(text, start)
        return -1 if i < 0 else i + len(text)

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


def case_ctrl_c_and_quit(c):
    at = c.read_until(PROMPT, BOOT_LIMIT)
    if at < 0:
        return "no shell prompt on hvc0"
    os.write(c.master, b"echo typed-$((6*7))\r")
    at = c.read_until(b"typed-42", start=at)
    if at < 0:
        return "a typed command did not run"
    # A long sleep in the foreground, then Ctrl-C: the shell comes back with its status.
    os.write(c.master, b"sleep 1000; echo after-sleep\r")
    at = c.read_until(b"after-sleep", start=at)  # the shell's echo: sleep runs
    if at < 0:
        return "the sleep command was not echoed"
    time.sleep(2)
    os.write(c.master, b"\x03")
    at = c.read_until(PROMPT, start=at)
    if at < 0:
        return "Ctrl-C did not interrupt the guest's sleep"
    if c.proc.poll() is not None:
        return f"lodge ended on Ctrl-C (status {c.proc.returncode})"
    os.write(c.master, b"echo still-$((6*7))\r")
    if c.read_until(b"still-42", start=at) < 0:
        return "the shell did not run a command after Ctrl-C"
    os.write(c.master, b"\x01x")
    st = c.wait()
    if st != 0:
        return f"C-a x: status {st}, want 0"
    return None


CASES = {"ctrl_c_and_quit": case_ctrl_c_and_quit}


def main():
    lodge, out, prefix = sys.argv[1:4]
    for name in sys.argv[4:]:
        c = Case(lodge, out)
        why = CASES[name](c)
        if c.proc.poll() is None:
            c.proc.kill()
            c.proc.wait()
        if why is None and not c.restored():
            why = "the terminal settings were not restored"
        err = c.close()
        if why is None and ("runtime error" in err or "Sanitizer" in err):
            why = "sanitizer report: " + err.strip().splitlines()[0]
        if why is None:
            print(f"PASS: {prefix}.{name}", flush=True)
        else:
            tail = c.out[-300:].decode(errors="replace")
            print(f"FAIL: {prefix}.{name}: {why} (output: {tail!r}; stderr: {err.strip()[:200]!r})",
                  flush=True)


if __name__ == "__main__":
    main()
