"""Helpers for tests/snapshot/suite.py (and tests/wsnap, tests/wasm/signals.py): a Lodge guest process with its console on pipes,
and its control socket (docs/API.md) spoken over HTTP/1.1 on a unix socket."""
import http.client
import json
import os
import platform
import re
import socket
import subprocess
import signal
import threading
import time


def caught(pid, sig):
    """Whether process pid has a handler for sig (its SigCgt mask in /proc)."""
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith("SigCgt:"):
                    return bool(int(line.split()[1], 16) >> (sig - 1) & 1)
    except OSError:
        pass
    return False


def wait_caught(p, sig, secs=120):
    """Waits until lodge handles sig (before, the default action would end it: a sanitizer
    build on a loaded host takes long to reach main)."""
    end = time.time() + secs
    while time.time() < end and p.poll() is None and not caught(p.pid, sig):
        time.sleep(0.005)
    return caught(p.pid, sig)


def wait_syscall(p, blocked, secs=120):
    """Waits until p's main thread is in a system call blocked(fields) says it waits in
    (the fields of /proc/PID/syscall: the number, then the arguments; elsewhere than
    x86-64, until SIGTERM is handled, and a second more). False if p ends first. A
    program that prints nothing before it blocks has its signal handling set up by
    then."""
    if platform.machine() != "x86_64":
        ok = wait_caught(p, signal.SIGTERM, secs)
        time.sleep(1.0)
        return ok and p.poll() is None
    end = time.time() + secs
    while time.time() < end and p.poll() is None:
        try:
            with open("/proc/%d/syscall" % p.pid) as f:
                if blocked(f.read().split()):
                    return True
        except OSError:
            pass
        time.sleep(0.01)
    return False


def wait_reading(p, secs=120):
    """Waits until the main thread blocks reading fd 0: in read or readv of it, or (a
    read that waits for its fd and the store's wake-up eventfd, wasi.c io_wait) in
    poll."""
    return wait_syscall(p, lambda f: (f[:1] in (["0"], ["19"]) and f[1:2] == ["0x0"]) or
                        f[:1] == ["7"], secs)


def wait_opening(p, secs=120):
    """Waits until the main thread blocks in openat or openat2 (path_open of a FIFO nobody
    opened for writing: a WASI call that still holds a stop and a pause back)."""
    return wait_syscall(p, lambda f: f[:1] in (["257"], ["437"]), secs)

class UnixHTTP(http.client.HTTPConnection):
    def __init__(self, path, timeout=120):
        super().__init__("lodge", timeout=timeout)
        self.path = path

    def connect(self):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(self.timeout)
        self.sock.connect(self.path)


def api(sock, method, path, body=None, timeout=120):
    """Returns (status, parsed JSON or None)."""
    c = UnixHTTP(sock, timeout)
    data = json.dumps(body) if isinstance(body, (dict, list)) else body
    hdrs = {"Content-Type": "application/json"} if data is not None else {}
    c.request(method, path, body=data, headers=hdrs)
    r = c.getresponse()
    raw = r.read()
    c.close()
    try:
        return r.status, json.loads(raw) if raw else None
    except ValueError:
        return r.status, raw


class Guest:
    """`lodge run ARGS...` with stdin/stdout on pipes; output collected by a thread."""

    def __init__(self, lodge, args, api_sock=None, env=None):
        self.api_sock = api_sock
        cmd = [lodge, "run"] + args + (["--api", api_sock] if api_sock else [])
        self.p = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, env=env)
        self.out = b""
        self.err = b""
        self.lock = threading.Lock()
        self.t = threading.Thread(target=self._read, args=(self.p.stdout, "out"), daemon=True)
        self.t.start()
        self.te = threading.Thread(target=self._read, args=(self.p.stderr, "err"), daemon=True)
        self.te.start()

    def _read(self, f, which):
        while True:
            b = os.read(f.fileno(), 65536)
            if not b:
                return
            with self.lock:
                setattr(self, which, getattr(self, which) + b)

    def text(self):
        with self.lock:
            return self.out.decode("utf-8", "replace").replace("\r", "")

    def errtext(self):
        with self.lock:
            return self.err.decode("utf-8", "replace")

    def send(self, s):
        self.p.stdin.write(s.encode())
        self.p.stdin.flush()

    def wait_for(self, pattern, timeout, start=0):
        """Waits until `pattern` (a regex) appears in the output after offset `start`;
        returns the match or None (also when the process ended)."""
        end = time.time() + timeout
        rx = re.compile(pattern, re.M)
        while time.time() < end:
            m = rx.search(self.text(), start)
            if m:
                return m
            if self.p.poll() is not None:
                time.sleep(0.2)
                return rx.search(self.text(), start)
            time.sleep(0.1)
        return None

    def wait_api(self, timeout=30):
        end = time.time() + timeout
        while time.time() < end:
            if os.path.exists(self.api_sock):
                try:
                    return api(self.api_sock, "GET", "/vm")
                except OSError:
                    pass
            if self.p.poll() is not None:
                return None
            time.sleep(0.05)
        return None

    def wait_listen(self, port, timeout=60):
        """Whether the process (`lodge run --incoming tcp:...:port`) listens on port
        within timeout s: read from /proc/PID/net/tcp (its own network namespace; a probe
        connection would be the one an --incoming destination takes). A fixed sleep
        instead races a loaded host (the migration then finds the port closed)."""
        end = time.time() + timeout
        while time.time() < end and self.p.poll() is None:
            for f in ("tcp", "tcp6"):
                try:
                    with open("/proc/%d/net/%s" % (self.p.pid, f)) as t:
                        rows = [r.split() for r in t.readlines()[1:]]
                except OSError:
                    rows = []
                if any(r[3] == "0A" and int(r[1].rsplit(":", 1)[1], 16) == port for r in rows):
                    return True
            time.sleep(0.05)
        return False

    def drain(self, timeout=5):
        """Waits (at most `timeout` s each) until both readers have read to the end of
        an exited process's output: text() read just after wait() may miss its last
        lines (a migration source's last console lines, its figures on stderr)."""
        self.t.join(timeout)
        self.te.join(timeout)

    def kill(self):
        if self.p.poll() is None:
            self.p.kill()
        self.p.wait()
        self.drain()

    def close(self):
        try:
            self.p.stdin.close()
        except OSError:
            pass
        self.kill()


def drop_daemon_cgroups(state):
    """Removes the cgroups of the daemon of state directory `state` once it is gone: a
    daemon ended by SIGKILL leaves its parent groups (lodge.<FNV-1a of the state
    directory's real path>, one per hierarchy) and its guests' groups. Groups with a
    process in them stay (rmdir refuses them)."""
    h = 2166136261
    for b in os.path.realpath(state).encode():
        h = ((h ^ b) * 16777619) & 0xffffffff
    want = "lodge.%08x" % h
    for root, dirs, _ in os.walk("/sys/fs/cgroup"):
        for x in [x for x in dirs if x == want]:
            top = os.path.join(root, x)
            try:
                subs = os.listdir(top)
            except FileNotFoundError:  # the daemon removed it meanwhile
                continue
            for sub in subs:
                if os.path.isdir(os.path.join(top, sub)):
                    try:
                        os.rmdir(os.path.join(top, sub))
                    except OSError:
                        pass
            try:
                os.rmdir(top)
            except OSError:
                pass
        dirs[:] = [] if root.count("/") > 8 else [x for x in dirs if x != want]


class StreamProxy:
    """Forwards one migration stream from a source to 127.0.0.1:to_port, section by
    section, and the destination's answers back unchanged. on_done() is called once the
    first DONE section (0x102) has been passed on: a test stops the destination there
    (SIGSTOP), so that it falls silent while the source waits for its answer."""

    def __init__(self, to_port, on_done):
        self.ls = socket.socket()
        self.ls.bind(("127.0.0.1", 0))
        self.ls.listen(1)
        self.port = self.ls.getsockname()[1]
        self.to_port, self.on_done = to_port, on_done
        self.done = threading.Event()
        self.socks = []
        threading.Thread(target=self.run, daemon=True).start()

    def run(self):
        a, _ = self.ls.accept()
        b = socket.create_connection(("127.0.0.1", self.to_port))
        self.socks += [a, b]
        threading.Thread(target=self.back, args=(b, a), daemon=True).start()

        def read(n):
            buf = b""
            while len(buf) < n:
                k = a.recv(min(n - len(buf), 1 << 20))
                if not k:
                    raise EOFError
                buf += k
            return buf
        try:
            b.sendall(read(24))  # the stream header (version 3: with its nonce)
            while True:
                h = read(24)
                typ = int.from_bytes(h[:4], "little")
                left = int.from_bytes(h[8:16], "little")
                b.sendall(h)
                while left:
                    k = read(min(left, 1 << 20))
                    b.sendall(k)
                    left -= len(k)
                if typ == 0x102 and not self.done.is_set():
                    self.done.set()
                    self.on_done()
        except (EOFError, OSError):
            pass

    @staticmethod
    def back(b, a):
        try:
            while True:
                k = b.recv(65536)
                if not k:
                    break
                a.sendall(k)
        except OSError:
            pass
        try:
            a.shutdown(socket.SHUT_WR)
        except OSError:
            pass

    def close(self):
        for s in self.socks + [self.ls]:
            s.close()
