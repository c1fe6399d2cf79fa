"""Snapshot and restore of system VMs, end to end (docs/SNAPSHOT.md).

  counter        a shell loop in the guest prints an increasing count with the uptime;
                 after pause, snapshot, kill -9 and `lodge run --restore` in a new
                 process the count goes on where it stopped (no restart from 1) and the
                 uptime does not jump
  restore_twice  the same snapshot restored again in a third process goes on the same way
  raw_lazy       a snapshot with "ram_format": "raw" (RAM mapped from the file on restore)
  api_errors     snapshot of a running guest: 409; bad bodies and paths: 400
  bad_files      truncated, corrupt (a byte flipped in a hart, a device and the RAM
                 section), unknown-version and non-snapshot files: exit 125, one line
  diff_chain     the guest fills a 24 MiB file in its RAM (tmpfs) with random data and
                 checksums it; Full snapshot; it rewrites 2 MiB, Diff; 1 MiB more, Diff
                 (each a fraction of the Full one's size); each file of the chain is
                 restored in a new process, whose guest computes the checksum of that
                 moment; a Diff before any snapshot answers 409, a chain with its Full
                 file replaced or missing is refused (exit 125, one line)
  smp_disk_net   2 harts, a qcow2 virtio-blk and user networking: the guest writes a
                 file, is snapshotted, writes it again; each of two restores sees the
                 file as it was at the snapshot, and the image the snapshot refers to is
                 not changed by the running guest or the restores
  disk_copy      "disks": "copy" with a raw disk: the running guest stays on its image
                 (and writes it on), the copy next to the snapshot is the disk at the
                 snapshot; a restore from the file alone and one from the copy moved
                 elsewhere (--restore-disk, --overlay-dir) read back from the disk, page
                 cache dropped, the file as it was; a bad "disks" value answers 400 and
                 a wrong number of --restore-disk exits 125 with one line
  disk_reflink   the same on XFS (a loop mount the test makes; needs root and xfsprogs):
                 the copy is a reflink (filefrag: every extent shared) with the disk's
                 bytes; the snapshot's time is printed beside ext4's (a real copy)
  answer.*       a stop or kill that ends the guest is answered first (answers.py)
Guests run on the release build when there is one (speed); the bad files go to the
ASan+UBSan build.
"""
import array
import fcntl
import hashlib
import os
import re
import shutil
import struct
import subprocess
import sys
import tempfile
import termios
import time
import zlib

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from lib import Guest, api  # noqa: E402
import answers  # noqa: E402

TOP = os.environ.get("LODGE_TOP") or os.path.abspath(os.path.join(os.path.dirname(__file__), "../.."))
OUT = os.path.join(TOP, "guest-cache/out")
ASAN = os.environ.get("LODGE") or os.path.join(TOP, "build/asan/lodge")
REL = os.path.join(TOP, "build/release/lodge")
if not os.access(REL, os.X_OK):
    REL = ASAN
BOOT = ["--kernel", OUT + "/Image", "--initrd", OUT + "/initrd.img",
        "--firmware", OUT + "/fw_dynamic.bin", "--timeout", "600"]
COUNTER = ("i=0; while true; do i=$((i+1)); "
           "echo \"CNT $i $(cut -d' ' -f1 /proc/uptime)\"; sleep 0.2; done &\n")

tmp = tempfile.mkdtemp(prefix="lodge-snap-suite.")
guests = []


def result(name, why):
    if why:
        print("FAIL: snapshot.%s: %s" % (name, why.strip("; ")), flush=True)
    else:
        print("PASS: snapshot.%s" % name, flush=True)


def start(args, sock, lodge=REL):
    g = Guest(lodge, args, os.path.join(tmp, sock))
    guests.append(g)
    return g


def counts(text):
    return [(int(a), float(b)) for a, b in re.findall(r"^CNT (\d+) ([\d.]+)$", text, re.M)]


def boot_counter(name, extra=()):
    """Boots a guest and starts the counter; returns (guest, why)."""
    g = start(BOOT + list(extra), name + ".sock")
    if not g.wait_api(30):
        return g, "no control socket: " + g.errtext()[-300:]
    if not g.wait_for(r"Leaving this shell", 240):
        return g, "no shell prompt: " + g.text()[-300:]
    g.send(COUNTER)
    if not g.wait_for(r"^CNT 10 ", 60):
        return g, "the counter did not run: " + g.text()[-300:]
    return g, ""


def unread(f):
    """Bytes waiting in pipe f (FIONREAD)."""
    n = array.array("i", [0])
    fcntl.ioctl(f.fileno(), termios.FIONREAD, n)
    return n[0]


def pause_snapshot(g, path, **extra):
    st, body = api(g.api_sock, "PATCH", "/vm", {"state": "Paused"})
    if st != 204:
        return "pause: %s %s" % (st, body)
    # the output written before the pause reaches our reader: until the pipe is empty
    # and nothing more came for half a second (a loaded host delays the reader thread:
    # the quiet half second alone once let two lines wait in the pipe, at load 20)
    seen, quiet_since, end = len(g.text()), time.time(), time.time() + 30
    while (time.time() - quiet_since < 0.5 or unread(g.p.stdout)) and time.time() < end:
        time.sleep(0.1)
        if len(g.text()) != seen:
            seen, quiet_since = len(g.text()), time.time()
    t0 = time.time()
    st, body = api(g.api_sock, "PUT", "/snapshot/create", dict(snapshot_path=path, **extra))
    took = time.time() - t0
    if st != 204:
        return "snapshot/create: %s %s" % (st, body)
    print("# snapshot %s: %.0f ms, %d KiB" % (os.path.basename(path), took * 1000,
                                              os.path.getsize(path) >> 10), flush=True)
    return ""


def check_restore(snap, last, sock, lodge=REL):
    """Restores `snap` and checks the counter goes on after `last` = (count, uptime)."""
    t0 = time.time()
    g = start(["--restore", snap], sock, lodge)
    m = g.wait_for(r"^CNT \d+ [\d.]+$", 60)
    took = time.time() - t0
    why = ""
    if not m:
        why = "no count after the restore (status %s): %s %s" % (
            g.p.poll(), g.text()[-200:], g.errtext()[-300:])
    else:
        g.wait_for(r"^CNT %d " % (last[0] + 5), 30)
        c = counts(g.text())
        if c[0][0] <= last[0] or c[0][0] > last[0] + 2:
            why += "; the count went on at %d after %d" % (c[0][0], last[0])
        if not 0 <= c[0][1] - last[1] < 3:
            why += "; uptime went from %.2f to %.2f" % (last[1], c[0][1])
        if len(c) < 5 or any(b[0] != a[0] + 1 for a, b in zip(c, c[1:])):
            why += "; the count does not go on steadily: %s" % c[:8]
        print("# restore %s: first count after %.0f ms" % (os.path.basename(snap), took * 1000),
              flush=True)
    g.kill()
    return g, why


def t_counter():
    g, why = boot_counter("a")
    if why:
        result("counter", why)
        return None
    # a running guest cannot be snapshotted (Firecracker's rule)
    st, body = api(g.api_sock, "PUT", "/snapshot/create",
                   {"snapshot_path": os.path.join(tmp, "no")})
    api_why = "" if st == 409 and body.get("error") == "not_paused" else \
        "snapshot of a running guest: %s %s" % (st, body)
    snap = os.path.join(tmp, "a.snap")
    why = pause_snapshot(g, snap)
    for body, want in [({"snapshot_path": "rel/path"}, 400),
                       ({"snapshot_path": "/nonexistent-dir/x"}, 400),
                       ({"snapshot_path": snap, "snapshot_type": "Incremental"}, 400),
                       ({"snapshot_path": snap, "snapshot_type": "Diff",
                         "ram_format": "raw"}, 400),
                       ({"snapshot_path": snap, "colour": 1}, 400),
                       ({"snapshot_path": snap, "ram_format": "lz4"}, 400),
                       ("{", 400)]:
        st, b = api(g.api_sock, "PUT", "/snapshot/create", body)
        if st != want or not isinstance(b, dict) or "error" not in b:
            api_why += "; %s -> %s %s" % (body, st, b)
    raw = os.path.join(tmp, "a-raw.snap")
    raw_why = pause_snapshot(g, raw, ram_format="raw")
    last = counts(g.text())[-1]
    g.kill()  # kill -9: nothing is written at exit
    result("api_errors", api_why)
    if why:
        result("counter", why)
        return None
    _, why = check_restore(snap, last, "b.sock")
    result("counter", why)
    _, why = check_restore(snap, last, "c.sock")
    result("restore_twice", why)
    if not raw_why:
        _, raw_why = check_restore(raw, last, "d.sock")
    result("raw_lazy", raw_why)
    return snap


def restore_fails(path, want):
    p = subprocess.run([ASAN, "run", "--restore", path], stdin=subprocess.DEVNULL,
                       capture_output=True, text=True, timeout=120)
    lines = p.stderr.strip().splitlines()
    if p.returncode != 125 or len(lines) != 1 or want not in lines[0]:
        return "%s: status %d, %r" % (os.path.basename(path), p.returncode, p.stderr[-300:])
    return ""


def section_offsets(data):
    """(type, payload offset, length) of each section."""
    off, out = 32, []
    while off + 24 <= len(data):
        t, _, n = struct.unpack_from("<IIQ", data, off)
        out.append((t, off + 24, n))
        off += 24 + n
    return out


def t_bad_files(snap):
    why = ""
    data = open(snap, "rb").read()
    secs = section_offsets(data)

    def variant(name, blob, want):
        p = os.path.join(tmp, name)
        with open(p, "wb") as f:
            f.write(blob)
        return restore_fails(p, want)

    why += variant("trunc-half", data[:len(data) // 2], "truncated")
    why += variant("trunc-end", data[:-24], "truncated")
    why += variant("trunc-head", data[:20], "too short")
    why += variant("not-snap", b"\x7fELF" + bytes(100), "not a Lodge snapshot")
    hdr = bytearray(data[:32])
    struct.pack_into("<I", hdr, 8, 99)
    struct.pack_into("<I", hdr, 28, zlib.crc32(bytes(hdr[:28])))
    why += variant("version", bytes(hdr) + data[32:], "version 99 is not supported")
    for t, name in [(2, "hart"), (3, "device"), (4, "ram")]:
        s = [x for x in secs if x[0] == t]
        if not s:
            why += "; no section of type %d" % t
            continue
        _, off, n = s[0]
        blob = bytearray(data)
        blob[off + n // 2] ^= 0x55
        why += variant("corrupt-" + name, bytes(blob), "corrupt")
    blob = bytearray(data)
    blob[33] ^= 1  # a section header
    why += variant("corrupt-header", bytes(blob), "corrupt")
    leftovers = [f for f in os.listdir(tmp) if ".restore-" in f]
    if leftovers:
        why += "; failed restores left files: %s" % leftovers
    result("bad_files", why)


def sha(path):
    return hashlib.sha256(open(path, "rb").read()).hexdigest()


def run_cmd(g, cmd, marker, timeout=60):
    start_at = len(g.text())
    g.send(cmd + "; echo %s-$?\n" % marker)
    m = g.wait_for(r"^%s-(\d+)$" % marker, timeout, start_at)
    return g.text()[start_at:m.start()] if m and m.group(1) == "0" else None


def t_smp_disk_net():
    disk = os.path.join(tmp, "disk.qcow2")
    r = subprocess.run([REL, "disk", "create", "--format", "qcow2", disk, "64M"],
                       capture_output=True, text=True)
    if r.returncode:
        r = subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", disk, "64M"],
                           capture_output=True, text=True)
    if r.returncode:
        result("smp_disk_net", "cannot create the disk: " + r.stderr)
        return
    g, why = boot_counter("e", ["--cpus", "2", "--disk", disk, "--net", "user"])
    if not why and run_cmd(g, "grep -q ' /mnt ' /proc/mounts", "M") is None:
        why = "the guest did not mount its disk"
    if not why and "eth0" not in (run_cmd(g, "ip -o link show eth0", "NET") or ""):
        why = "the guest has no eth0"
    if not why and run_cmd(g, "echo before > /mnt/f && sync && nproc", "W1") is None:
        why = "write before the snapshot failed"
    snap = os.path.join(tmp, "e.snap")
    why = why or pause_snapshot(g, snap)
    if why:
        g.kill()
        result("smp_disk_net", why)
        return
    frozen = sha(disk)
    last = counts(g.text())[-1]
    api(g.api_sock, "PATCH", "/vm", {"state": "Resumed"})
    if run_cmd(g, "echo after > /mnt/f && sync && cat /mnt/f", "W2") is None:
        why += "; the guest could not write after the snapshot"
    g.kill()
    if sha(disk) != frozen:
        why += "; the running guest changed the image the snapshot refers to"
    if not os.path.exists(snap + ".disk0.qcow2"):
        why += "; no overlay %s.disk0.qcow2" % snap
    for sock in ("f.sock", "g.sock"):
        h = start(["--restore", snap], sock)
        m = h.wait_for(r"^CNT \d+ [\d.]+$", 60)
        c = counts(h.text())
        if not m or not c or c[0][0] <= last[0] or c[0][0] > last[0] + 2:
            # the source's counts after its resume tell a late reader (the counts
            # between are there) from output lost at the pause (they are not)
            why += "; %s: the count did not go on from %d: %s (the source then: %s)" % (
                sock, last[0], c[:3], [n for n, _ in counts(g.text())
                                       if last[0] - 2 <= n <= last[0] + 6])
        out = run_cmd(h, "cat /mnt/f", "R") or ""
        if "before" not in out or "after" in out:
            why += "; %s: the restored guest reads %r" % (sock, out[-80:])
        if "2" not in (run_cmd(h, "nproc", "N") or ""):
            why += "; %s: not 2 harts" % sock
        if run_cmd(h, "echo restored > /mnt/f && sync", "W3") is None:
            why += "; %s: the restored guest cannot write its disk" % sock
        h.kill()
    if sha(disk) != frozen:
        why += "; a restore changed the image the snapshot refers to"
    result("smp_disk_net", why)


def t_disk_copy():
    disk = os.path.join(tmp, "copy.raw")
    with open(disk, "wb") as f:  # zeros: the guest's init makes ext4 on it
        f.truncate(64 << 20)
    g, why = boot_counter("c", ["--disk", disk])
    if not why and run_cmd(g, "grep -q ' /mnt ' /proc/mounts", "M") is None:
        why = "the guest did not mount its disk"
    if not why and run_cmd(g, "echo before > /mnt/f && sync", "W1") is None:
        why = "write before the snapshot failed"
    snap = os.path.join(tmp, "c.snap")
    if not why:
        st, body = api(g.api_sock, "PATCH", "/vm", {"state": "Paused"})
        st, body = api(g.api_sock, "PUT", "/snapshot/create",
                       {"snapshot_path": snap, "disks": "copies"})
        if st != 400 or "disks" not in str(body):
            why = "\"disks\": \"copies\": %s %s" % (st, body)
        api(g.api_sock, "PATCH", "/vm", {"state": "Resumed"})
    why = why or pause_snapshot(g, snap, disks="copy")
    if why:
        g.kill()
        result("disk_copy", why)
        return
    copy = snap + ".disk0.saved.raw"
    if not os.path.exists(copy) or os.path.exists(snap + ".disk0.qcow2"):
        why += "; files next to the snapshot: %r" % sorted(
            f for f in os.listdir(tmp) if f.startswith("c.snap"))
    frozen = sha(copy) if os.path.exists(copy) else None
    api(g.api_sock, "PATCH", "/vm", {"state": "Resumed"})
    if run_cmd(g, "echo after > /mnt/f && sync", "W2") is None:
        why += "; the guest could not write after the snapshot"
    g.kill()
    if frozen and sha(disk) == frozen:
        why += "; the guest did not write on its own image"
    moved = os.path.join(tmp, "moved", "c.raw")
    ovd = os.path.join(tmp, "ovd")
    for sock, extra in (("c1.sock", []),
                        ("c2.sock", ["--restore-disk", moved + ",format=raw",
                                     "--overlay-dir", ovd])):
        if why:
            break
        if extra:
            os.makedirs(os.path.dirname(moved))
            os.makedirs(ovd)
            os.rename(copy, moved)
        h = start(["--restore", snap] + extra, sock)
        if not h.wait_for(r"^CNT \d+ [\d.]+$", 60):
            why += "; %s: the restored guest does not run: %s" % (sock, h.errtext()[-300:])
        out = run_cmd(h, "sync; echo 3 > /proc/sys/vm/drop_caches; cat /mnt/f", "R" + sock[1])
        if out is None or "before" not in out or "after" in out:
            why += "; %s: the restored guest reads %r" % (sock, (out or "")[-80:])
        h.kill()
        if extra and not [f for f in os.listdir(ovd) if ".disk0.restore-" in f]:
            why += "; no overlay in --overlay-dir: %r" % os.listdir(ovd)
    if not why and sha(moved) != frozen:
        why += "; a restore changed the copy"
    if not why:
        p = subprocess.run([ASAN, "run", "--restore", snap, "--restore-disk", moved,
                            "--restore-disk", moved], stdin=subprocess.DEVNULL,
                           capture_output=True, text=True, timeout=120)
        lines = p.stderr.strip().splitlines()
        if p.returncode != 125 or len(lines) != 1 or "one per writable disk" not in lines[0]:
            why += "; two --restore-disk for one disk: status %d, %r" % (p.returncode,
                                                                         p.stderr[-300:])
    result("disk_copy", why)


def t_disk_reflink():
    """ "disks": "copy" where the file system shares extents (XFS on a loop device the
    test makes): the copy is a reflink (filefrag: every extent shared), the same bytes
    as the disk, and the snapshot takes about as long as one without a disk."""
    name = "disk_reflink"
    if os.geteuid() != 0 or not shutil.which("mkfs.xfs") or not shutil.which("filefrag"):
        print("SKIP: snapshot.%s: needs root, mkfs.xfs (xfsprogs) and filefrag" % name,
              flush=True)
        return
    img, mnt = os.path.join(tmp, "xfs.img"), os.path.join(tmp, "xfs")
    with open(img, "wb") as f:
        f.truncate(1 << 30)
    os.makedirs(mnt)
    r = subprocess.run(["mkfs.xfs", "-q", "-m", "reflink=1", img], capture_output=True,
                       text=True)
    r = r if r.returncode else subprocess.run(["mount", "-o", "loop", img, mnt],
                                              capture_output=True, text=True)
    if r.returncode:
        print("SKIP: snapshot.%s: cannot make an XFS loop mount: %s" % (name, r.stderr[-200:]),
              flush=True)
        return
    why = ""
    try:
        for where in ("ext4", "xfs"):
            d = mnt if where == "xfs" else tmp
            disk = os.path.join(d, "big.raw")
            with open(disk, "wb") as f:  # 192 MiB of data: a copy takes a while
                f.write(b"lodge tests/snapshot: raw, no file system\n")
                f.write(os.urandom((192 << 20) - 42))
            g, why = boot_counter("rl-" + where, ["--disk", disk + ",format=raw"])
            snap = os.path.join(d, "rl-%s.snap" % where)
            why = why or pause_snapshot(g, snap, disks="copy")
            if why:
                g.kill()
                break
            copy = snap + ".disk0.saved.raw"
            if not os.path.exists(copy) or sha(copy) != sha(disk):
                why += "; %s: the copy is not the disk" % where
            g.kill()
            if where == "xfs":
                ff = subprocess.run(["filefrag", "-v", copy], capture_output=True, text=True)
                ext = [ln for ln in ff.stdout.splitlines() if re.match(r"\s*\d+:", ln)]
                if not ext or any("shared" not in ln for ln in ext):
                    why += "; the copy on XFS is not a reflink: %s" % ff.stdout[-400:]
            os.remove(copy)
            os.remove(disk)
    finally:
        subprocess.run(["umount", mnt], capture_output=True)
    result(name, why)


def md5_of(g, marker):
    out = run_cmd(g, "md5sum /tmp/buf", marker, 120) or ""
    m = re.search(r"^([0-9a-f]{32})  /tmp/buf$", out, re.M)
    return m.group(1) if m else None


def t_diff_chain():
    g = start(BOOT, "diff.sock")
    why = ""
    if not g.wait_api(30):
        why = "no control socket: " + g.errtext()[-300:]
    elif not g.wait_for(r"Leaving this shell", 240):
        why = "no shell prompt: " + g.text()[-300:]
    if not why:
        st, body = api(g.api_sock, "PATCH", "/vm", {"state": "Paused"})
        st, body = api(g.api_sock, "PUT", "/snapshot/create",
                       {"snapshot_path": os.path.join(tmp, "early"), "snapshot_type": "Diff"})
        if st != 409 or body.get("error") != "no_parent":
            why = "a Diff before any snapshot: %s %s" % (st, body)
        api(g.api_sock, "PATCH", "/vm", {"state": "Resumed"})
    steps = [("full", "dd if=/dev/urandom of=/tmp/buf bs=1M count=24 2>/dev/null", "Full"),
             ("d1", "dd if=/dev/urandom of=/tmp/buf bs=1M count=2 seek=5 conv=notrunc "
              "2>/dev/null", "Diff"),
             ("d2", "dd if=/dev/urandom of=/tmp/buf bs=1M count=1 seek=20 conv=notrunc "
              "2>/dev/null", "Diff")]
    sums = {}
    for name, cmd, kind in steps:
        if why:
            break
        if run_cmd(g, cmd, "DD" + name, 120) is None:
            why = "%s: the guest's dd failed" % name
            break
        sums[name] = md5_of(g, "S" + name)
        if not sums[name]:
            why = "%s: no checksum" % name
            break
        why = pause_snapshot(g, os.path.join(tmp, name + ".snap"), snapshot_type=kind)
        api(g.api_sock, "PATCH", "/vm", {"state": "Resumed"})
    g.kill()
    if not why:
        if len(set(sums.values())) != 3:
            why = "the guest's writes did not change the checksum: %s" % sums
        full = os.path.getsize(os.path.join(tmp, "full.snap"))
        for name in ("d1", "d2"):
            n = os.path.getsize(os.path.join(tmp, name + ".snap"))
            if n * 3 > full:
                why += "; %s is %d KiB, the Full one %d KiB" % (name, n >> 10, full >> 10)
    for name, _, _ in steps:
        if why:
            break
        h = start(["--restore", os.path.join(tmp, name + ".snap")], "r-%s.sock" % name)
        time.sleep(0.5)
        got = md5_of(h, "R" + name)
        h.kill()
        if got != sums[name]:
            why = "%s restored: the guest's checksum is %s, at the snapshot it was %s (%s)" % (
                name, got, sums[name], h.errtext()[-200:])
    if not why:
        # the chain's Full file replaced by another snapshot, then missing
        full = os.path.join(tmp, "full.snap")
        os.rename(full, full + ".orig")
        shutil.copy(os.path.join(tmp, "a.snap") if os.path.exists(os.path.join(tmp, "a.snap"))
                    else os.path.join(tmp, "d1.snap"), full)
        why = restore_fails(os.path.join(tmp, "d2.snap"), "not the one")
        os.unlink(full)
        why = why or restore_fails(os.path.join(tmp, "d2.snap"), "No such file")
    result("diff_chain", why)


def main():
    try:
        t_diff_chain()
        snap = t_counter()
        if snap:
            t_bad_files(snap)
        else:
            result("bad_files", "no snapshot to damage")
        t_smp_disk_net()
        t_disk_copy()
        t_disk_reflink()
        answers.run(ASAN, TOP, result)  # the ASan build: its test hook
    finally:
        for g in guests:
            g.close()
            err = g.errtext()
            if "AddressSanitizer" in err or "runtime error" in err:
                print("FAIL: snapshot.sanitizer: %s" % err[-500:], flush=True)
        shutil.rmtree(tmp, ignore_errors=True)


main()
