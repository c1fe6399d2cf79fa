#!/usr/bin/env python3
"""Host-side helpers for tests/oci/suite.sh.

  helper.py state FILE ID STATUS BUNDLE
      checks `lodge oci state` output against the runtime-spec (runtime.md "State"):
      ociVersion, id, status, pid (> 0 while created/running), bundle; prints "ok" or why.
  helper.py console SOCKET OUT SECONDS
      listens on the unix socket SOCKET as an engine's --console-socket does, takes the
      terminal master sent with SCM_RIGHTS and copies what it reads to OUT until the
      other side closes it or SECONDS pass. Prints "got fd NAME" when it has it.
  helper.py json FILE KEY...
      prints "ok" when FILE is JSON (one object per line allowed) holding every KEY.
"""
import array
import json
import os
import select
import socket
import sys
import time


def check_state(path, cid, status, bundle):
    with open(path) as f:
        st = json.load(f)
    why = []
    if not isinstance(st.get("ociVersion"), str) or not st["ociVersion"].startswith("1."):
        why.append("ociVersion %r" % st.get("ociVersion"))
    if st.get("id") != cid:
        why.append("id %r" % st.get("id"))
    if st.get("status") != status:
        why.append("status %r, want %r" % (st.get("status"), status))
    pid = st.get("pid")
    if not isinstance(pid, int):
        why.append("pid %r is not a number" % pid)
    elif status in ("created", "running") and pid <= 0:
        why.append("pid %d while %s" % (pid, status))
    elif status in ("created", "running"):
        try:
            os.kill(pid, 0)
        except OSError:
            why.append("pid %d is not alive" % pid)
    if st.get("bundle") != bundle:
        why.append("bundle %r, want %r" % (st.get("bundle"), bundle))
    print("ok" if not why else "; ".join(why))


def console(path, out, seconds):
    srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    srv.bind(path)
    srv.listen(1)
    deadline = time.time() + float(seconds)
    srv.settimeout(float(seconds))
    conn, _ = srv.accept()
    fds = array.array("i")
    msg, anc, _, _ = conn.recvmsg(256, socket.CMSG_SPACE(fds.itemsize))
    for level, kind, data in anc:
        if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
            fds.frombytes(data[: len(data) - (len(data) % fds.itemsize)])
    if not fds:
        print("no fd received")
        return
    master = fds[0]
    print("got fd " + msg.decode(errors="replace"), flush=True)
    with open(out, "wb") as f:
        while time.time() < deadline:
            r, _, _ = select.select([master], [], [], 0.2)
            if not r:
                continue
            try:
                data = os.read(master, 4096)
            except OSError:  # EIO: every slave side is closed
                break
            if not data:
                break
            f.write(data)
            f.flush()


def check_json(path, keys):
    with open(path) as f:
        text = f.read()
    try:
        objs = [json.loads(text)]
    except ValueError:
        objs = [json.loads(line) for line in text.splitlines() if line.strip()]
    for obj in objs:
        line = json.dumps(obj)[:200]
        missing = [k for k in keys if k not in obj]
        if missing:
            print("missing %s in %s" % (missing, line))
            return
    print("ok")


def main():
    cmd = sys.argv[1]
    if cmd == "state":
        check_state(*sys.argv[2:6])
    elif cmd == "console":
        console(*sys.argv[2:5])
    elif cmd == "json":
        check_json(sys.argv[2], sys.argv[3:])
    else:
        sys.exit("unknown command " + cmd)


if __name__ == "__main__":
    main()
