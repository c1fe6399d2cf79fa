#!/usr/bin/env python3
"""Host side of the network tests (tests/net/suite.sh).

  helper.py serve ADDR DIR      HTTP server for DIR and an upload sink, both on ADDR with
                                ports the kernel picks; prints "http=PORT up=PORT" once both
                                listen, then serves until killed. The sink reads 1 MiB
                                from each connection (after a second's pause, so that the guest's
                                sender queues data) and answers its md5sum.
  helper.py freeport            prints a TCP port on 127.0.0.1 that was free just now
  helper.py fetch URL           prints the body of URL (60 s timeout)
  helper.py send ADDR PORT MSG  connects, sends MSG, closes
  helper.py capture IFACE       counts the frames IFACE receives (from the guest) until
                                SIGTERM, then prints "frames=N super=M max=L": M frames were
                                longer than a 1514-byte Ethernet frame (TSO super-frames)
"""
import functools
import hashlib
import http.server
import os
import signal
import socket
import sys
import threading
import time
import urllib.request

UPLOAD_SIZE = 1 << 20


def sink(ls):
    while True:
        c, _ = ls.accept()
        with c:
            c.settimeout(120)
            h, n = hashlib.md5(), 0
            # Read nothing for a second: the guest fills the window and queues the rest,
            # which then leaves in as large frames as the guest's offloads allow.
            time.sleep(1)
            try:
                while n < UPLOAD_SIZE:
                    b = c.recv(min(65536, UPLOAD_SIZE - n))
                    if not b:
                        break
                    h.update(b)
                    n += len(b)
                c.sendall((h.hexdigest() if n == UPLOAD_SIZE else "short-%d" % n).encode() + b"\n")
            except OSError:
                pass


class Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


def serve(addr, root):
    handler = functools.partial(Quiet, directory=root)
    hs = http.server.ThreadingHTTPServer((addr, 0), handler)
    ls = socket.socket()
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind((addr, 0))
    ls.listen(4)
    threading.Thread(target=sink, args=(ls,), daemon=True).start()
    print("http=%d up=%d" % (hs.server_address[1], ls.getsockname()[1]), flush=True)
    hs.serve_forever()


def capture(iface):
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(0x0003))
    s.bind((iface, 0))
    stats = {"frames": 0, "super": 0, "max": 0}

    def done(*_):
        print("frames=%d super=%d max=%d" % (stats["frames"], stats["super"], stats["max"]),
              flush=True)
        os._exit(0)

    signal.signal(signal.SIGTERM, done)
    buf = bytearray(2048)
    print("capturing", flush=True)
    while True:
        b, a = s.recvfrom_into(buf, len(buf), socket.MSG_TRUNC)
        if a[2] == socket.PACKET_OUTGOING:
            continue
        stats["frames"] += 1
        stats["super"] += b > 1514
        stats["max"] = max(stats["max"], b)


def main():
    cmd = sys.argv[1]
    if cmd == "serve":
        serve(sys.argv[2], sys.argv[3])
    elif cmd == "capture":
        capture(sys.argv[2])
    elif cmd == "freeport":
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        print(s.getsockname()[1])
        s.close()
    elif cmd == "fetch":
        with urllib.request.urlopen(sys.argv[2], timeout=60) as r:
            sys.stdout.write(r.read().decode())
    elif cmd == "send":
        with socket.create_connection((sys.argv[2], int(sys.argv[3])), timeout=60) as s:
            s.sendall(sys.argv[4].encode())
    else:
        sys.exit("helper.py: unknown command " + cmd)


if __name__ == "__main__":
    try:
        main()
    except OSError as e:
        sys.exit("helper.py: %s" % e)
