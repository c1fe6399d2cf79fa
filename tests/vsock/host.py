#!/usr/bin/env python3
"""Host side of the vsock and balloon tests (tests/vsock/suite.sh), over the unix sockets
of Lodge's vsock device (Firecracker's protocol).

  host.py serve PATH PID      serve guest connections to host ports, until killed:
                              PATH_5000 and PATH_5001 echo what they get until EOF,
                              PATH_7000 answers with Lodge's (PID) resident memory in kB
  host.py connect PATH PORT BYTES
                              "CONNECT PORT" on PATH (retrying while the guest is not
                              listening yet), send BYTES of a pattern while reading the
                              echo; print "HOST OK <assigned port>" when all came back
Every socket operation has a generous time-out; errors print one line and exit 1."""
import os
import socket
import sys
import threading
import time

TIMEOUT = 120


def rss_kb(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return -1


def echo(conn):
    with conn:
        conn.settimeout(TIMEOUT)
        while True:
            data = conn.recv(65536)
            if not data:
                return
            conn.sendall(data)


def rss(conn, pid):
    with conn:
        conn.settimeout(TIMEOUT)
        conn.recv(64)
        conn.sendall(str(rss_kb(pid)).encode())


def listen(path):
    if os.path.exists(path):
        os.unlink(path)
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.bind(path)
    s.listen(8)
    return s


def serve(path, pid):
    def loop(s, fn):
        while True:
            conn, _ = s.accept()
            threading.Thread(target=fn, args=(conn,), daemon=True).start()

    servers = [(listen(f"{path}_5000"), echo), (listen(f"{path}_5001"), echo),
               (listen(f"{path}_7000"), lambda c: rss(c, pid))]
    print("SERVING", flush=True)
    for s, fn in servers:
        threading.Thread(target=loop, args=(s, fn), daemon=True).start()
    while True:
        time.sleep(1)


def pattern(n):
    return bytes((i * 13 + (i >> 10)) & 0xFF for i in range(n))


def connect(path, port, nbytes):
    deadline = time.time() + TIMEOUT
    while True:
        if time.time() > deadline:
            sys.exit("host.py: the guest never accepted")
        try:
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            s.settimeout(TIMEOUT)
            s.connect(path)
            s.sendall(f"CONNECT {port}\n".encode())
            line = b""
            while not line.endswith(b"\n"):
                c = s.recv(1)
                if not c:
                    break
                line += c
            if line.startswith(b"OK "):
                break
        except OSError:
            pass
        s.close()
        time.sleep(0.5)
    data = pattern(nbytes)
    got = []

    def reader():
        while True:
            d = s.recv(65536)
            if not d:
                return
            got.append(d)

    t = threading.Thread(target=reader)
    t.start()
    s.sendall(data)
    s.shutdown(socket.SHUT_WR)
    t.join(TIMEOUT)
    back = b"".join(got)
    if back != data:
        sys.exit(f"host.py: {len(back)} of {nbytes} bytes came back"
                 + (" (different)" if len(back) == nbytes else ""))
    print(f"HOST OK {int(line.split()[1])}", flush=True)


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "serve":
        serve(sys.argv[2], int(sys.argv[3]))
    elif len(sys.argv) == 5 and sys.argv[1] == "connect":
        connect(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]))
    else:
        sys.exit(__doc__)
