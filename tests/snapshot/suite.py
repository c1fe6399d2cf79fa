"""Snapshot and restore of system VMs, end to end (docs/SNAPSHOT.md).

  counter        a shell loop in the guest prints an increasing count with the uptime;
                 after pause, snapshot, kill -9 and `lodge run --restore` in a new
                 process the count goes on where it stopped (no restart from 1) and the
                 uptime does not jump
  restore_twice  the same snapshot restored again in a third process goes on the same way
  raw_lazy       a snapshot with "ram_format": "raw" (RAM mapped from the file on restore)
  raw_cut        a copy of that file, restored, is cut to 4 KiB (and then written) while the
                 guest runs from it: the cut waits while the process moves its memory off the
                 file (it says so on stderr), the guest counts on, and /bin/busybox in its
                 RAM (pages not touched since the restore) still sums as the host's copy
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
  disk_leftovers a snapshot that fails loses no file there before it: a live overlay
                 or an overlay at its paths (it fails, saying so; the guest runs on and
                 writes its disk), nor an earlier snapshot's copy at the same path (a
                 second snapshot there onto a full file system)
  disk_background  "disks": "copy" with "resume": true on a guest whose qcow2 disk holds
                 768 MiB of data, a shell loop writing its disk throughout: the guest runs
                 while the image is copied (the pause the process reports and a copy's
                 made while paused, on the same guest, are printed), the blocks written
                 meanwhile are merged back; the image then holds every write, the copy
                 the disk at the snapshot (sums the guest took before and after), a
                 restore reads the disk at the snapshot; a copy onto a full file system
                 fails cleanly (no file left, the guest runs on and writes its disk), a
                 kill -9 during a copy leaves the image as it was and the overlay
                 sound (qemu-img commit takes it back in); qemu-img check is clean on the image, the copy and the
                 restore's overlay; GET /vm is answered while the image is copied
  disk_replaced.{raw,qcow2}  the image a snapshot froze is replaced by another file of the
                 same size (overwritten in place with other bytes; a new qcow2 image padded
                 to its size): --restore is refused (exit 125, one line naming the disk, the
                 path, that it changed since the snapshot, and what to do), no file is
                 removed or added; so is --restore-disk of it with verify=on, and a
                 misspelt key; --restore-disk without verify takes it (the user's choice),
                 but not an image of another size (one line saying so);
                 the original put back (a copy: other times) restores, the guest reading
                 the file it wrote; the same file as the Lodge before the DISKS section
                 wrote it (the section cut out, version 2) restores without a word, and
                 so does the file with version 1 of the DISKS section (no device, inode
                 or mtime) and version 2 (no inode generation). raw also writes one block of the image in place between
                 two of the fingerprint's samples: refused ("was modified after the
                 snapshot"), and still with the block's old bytes put back, the message
                 then giving the recorded time to set back (touch -m -d @S.N), with
                 which it restores. qcow2
                 also takes a Diff after the Full snapshot: its base image (below the
                 overlay the Diff froze) replaced is refused, naming it
  answer.*       a stop or kill that ends the guest is answered first (answers.py)
Guests run on the release build when there is one (speed); the bad files go to the
ASan+UBSan build. SNAPSHOT_ONLY=disk_leftovers,disk_background runs those tests alone
(disk_replaced runs both of its cases).
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
import threading
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
    """The counter's (count, uptime) lines. A line may begin with the echo of a command
    typed meanwhile (the guest's tty echoes input between the counter's writes), so CNT
    is looked for anywhere in it: one such line in each of three commands typed before a
    snapshot hid counts 11-13, and the restored guest's 14 looked like a jump."""
    return [(int(a), float(b)) for a, b in re.findall(r"CNT (\d+) ([\d.]+)$", text, re.M)]


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


def small_fs(name, sub, mib, why):
    """A tmpfs of `mib` MiB at tmp/sub, for a snapshot onto a full file system; returns
    (its path, whether it is mounted). Not tried when the case failed already (why)."""
    small = os.path.join(tmp, sub)
    os.makedirs(small)
    mounted = not why and subprocess.run(["mount", "-t", "tmpfs", "-o", "size=%dm" % mib,
                                          "tmpfs", small], capture_output=True).returncode == 0
    if not why and not mounted:
        print("# %s: no tmpfs mount (not root?): the full file system is not tried" % name,
              flush=True)
    return small, mounted


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
    result("raw_cut", t_raw_cut(raw) if not raw_why else "no raw snapshot: " + raw_why)
    return snap


def t_raw_cut(raw):
    """A lazily restored guest whose snapshot file is cut under it (the process died of
    SIGBUS at the guest's next touch of a page it had not written since the restore)."""
    cut = os.path.join(tmp, "cut.snap")
    shutil.copy(raw, cut)
    g = start(["--restore", cut], "cut.sock")
    if not g.wait_for(r"^CNT \d+ [\d.]+$", 60):
        return "no count after the restore: %s" % g.errtext()[-300:]
    t0 = time.time()
    os.truncate(cut, 4096)
    took = time.time() - t0
    with open(cut, "r+b") as f:  # a writer after the cut finds no lease in its way
        f.write(b"\xff" * 4096)
    print("# raw_cut: the truncate waited %.0f ms" % (took * 1000), flush=True)
    n = len(g.text())
    try:
        g.send("md5sum /bin/busybox\n")
    except OSError:  # it died: said below
        pass
    m = g.wait_for(r"^([0-9a-f]{32})\s+/bin/busybox", 60, n)
    why = ""
    if g.p.poll() is not None:
        why = "the process ended (status %s): %s" % (g.p.poll(), g.errtext()[-300:])
    elif not m:
        why = "no sum: %s" % g.text()[n:][-200:]
    else:
        with open(os.path.join(OUT, "busybox"), "rb") as f:
            want = hashlib.md5(f.read()).hexdigest()
        if m.group(1) != want:
            why += "; /bin/busybox sums %s in the guest, %s on the host" % (m.group(1), want)
        c = counts(g.text())
        if not c or not g.wait_for(r"^CNT %d " % (c[-1][0] + 3), 30, n):
            why += "; the count stopped after the cut"
    if "copied out of it first" not in g.errtext():
        why += "; no line on stderr says the memory was copied off the file: %r" % (
            g.errtext()[-300:])
    g.kill()
    return why


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
    # the first section named a Wasm program's MODULE (0x10): a snapshot of the other kind
    blob = bytearray(data)
    _, off, n = secs[0]
    struct.pack_into("<I", blob, off - 24, 0x10)
    struct.pack_into("<I", blob, off - 4, zlib.crc32(bytes(blob[off - 24:off - 4])))
    why += variant("wasm-kind", bytes(blob), "a WebAssembly program's snapshot, not a system "
                   "VM's: restore it with lodge wasm --restore")
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
        p = subprocess.run([ASAN, "run", "--restore", snap, "--restore-disk",
                            os.path.join(tmp, "nothere.raw")], stdin=subprocess.DEVNULL,
                           capture_output=True, text=True, timeout=120)
        lines = p.stderr.strip().splitlines()
        if (p.returncode != 125 or len(lines) != 1 or "--restore-disk" not in lines[0] or
                "No such file" not in lines[0] or ".restore-" in lines[0]):
            why += "; a --restore-disk that does not exist: status %d, %r" % (
                p.returncode, p.stderr[-300:])
    # the snapshot and its copy moved together to another directory: the copy beside it
    # is taken where the recorded one is not (and checked as that one would be)
    if not why:
        together = os.path.join(tmp, "together")
        os.makedirs(together)
        tsnap = os.path.join(together, "c.snap")
        os.rename(snap, tsnap)
        os.rename(moved, tsnap + ".disk0.saved.raw")
        h = start(["--restore", tsnap], "c3.sock")
        if not h.wait_for(r"^CNT \d+ [\d.]+$", 60):
            why += "; moved together: the restored guest does not run: %s" % (
                h.errtext()[-300:])
        out = run_cmd(h, "sync; echo 3 > /proc/sys/vm/drop_caches; cat /mnt/f", "R3")
        if out is None or "before" not in out or "after" in out:
            why += "; moved together: the restored guest reads %r" % ((out or "")[-80:])
        h.kill()
        if "the copy beside the snapshot" not in h.errtext():
            why += "; moved together: no word of the copy taken: %r" % h.errtext()[-300:]
    result("disk_copy", why)


def t_disk_leftovers():
    """A snapshot that fails loses no file that was there before it: a live overlay
    (what a guest killed during an earlier snapshot's copy wrote) or an overlay at the
    paths it would create, nor an earlier snapshot's copies at the same path."""
    name = "disk_leftovers"
    disk = os.path.join(tmp, "left.raw")
    with open(disk, "wb") as f:  # zeros: the guest's init makes ext4 on it
        f.truncate(64 << 20)
    g, why = boot_counter("left", ["--disk", disk])
    if not why and run_cmd(g, "grep -q ' /mnt ' /proc/mounts && echo one > /mnt/f && sync",
                           "L0") is None:
        why = "the guest did not mount and write its disk"
    snap = os.path.join(tmp, "left.snap")
    mark = b"what a guest wrote\n"
    for f, extra in ((snap + ".disk0.live.qcow2", {"disks": "copy", "resume": True}),
                     (snap + ".disk0.qcow2", {})):
        if why:
            break
        with open(f, "wb") as fh:
            fh.write(mark)
        api(g.api_sock, "PATCH", "/vm", {"state": "Paused"})
        st, body = api(g.api_sock, "PUT", "/snapshot/create", dict(snapshot_path=snap, **extra))
        msg = str(body.get("message", body) if isinstance(body, dict) else body)
        print("# %s: %s there already: %s %s" % (name, os.path.basename(f), st, msg),
              flush=True)
        if st != 400 or "already exists" not in msg:  # the user's to resolve
            why += "; %s there already: %s %r" % (os.path.basename(f), st, msg)
        if not os.path.exists(f) or open(f, "rb").read() != mark:
            why += "; the snapshot removed or changed %s, which was there before it" % (
                os.path.basename(f))
        if os.path.exists(snap):
            why += "; the failed snapshot left its file"
        api(g.api_sock, "PATCH", "/vm", {"state": "Resumed"})  # (done already with resume)
        if run_cmd(g, "echo two > /mnt/f && sync", "L1") is None:
            why += "; the guest cannot write its disk after the failed snapshot"
        if os.path.exists(f):
            os.remove(f)
    # a snapshot onto the machine's own disk (its path, or a copy's name that is the
    # disk: a hard link) would take the disk's name: refused, the disk as it was
    link = os.path.join(tmp, "onto.snap")
    if not why:
        os.link(disk, link + ".disk0.saved.raw")
        link2 = os.path.join(tmp, "onto2.snap")  # the name the copy is written under
        os.link(disk, link2 + ".disk0.saved.raw.tmp")
        before = os.stat(disk).st_ino  # a snapshot renamed onto it is another file
        for path, extra in ((disk, {}), (link, {"disks": "copy"}), (link2, {"disks": "copy"})):
            api(g.api_sock, "PATCH", "/vm", {"state": "Paused"})
            st, body = api(g.api_sock, "PUT", "/snapshot/create",
                           dict(snapshot_path=path, **extra))
            msg = str(body.get("message", body) if isinstance(body, dict) else body)
            print("# %s: onto %s: %s %s" % (name, os.path.basename(path), st, msg), flush=True)
            api(g.api_sock, "PATCH", "/vm", {"state": "Resumed"})
            if st != 400 or "would replace" not in msg or "virtio-blk" not in msg:
                why += "; a snapshot onto %s: %s %r" % (os.path.basename(path), st, msg)
            if os.stat(disk).st_ino != before or os.path.exists(path if path != disk else link):
                why += "; the snapshot onto %s changed the disk or made a file" % (
                    os.path.basename(path))
        os.remove(link + ".disk0.saved.raw")
        os.remove(link2 + ".disk0.saved.raw.tmp")
    # a snapshot that fails (its file system full) at the path of an earlier one keeps
    # the earlier one whole, its disk's copy too
    small, mounted = small_fs(name, "left-small", 256, why)
    if mounted:
        try:
            s2 = os.path.join(small, "s.snap")
            copy = s2 + ".disk0.saved.raw"
            why = pause_snapshot(g, s2, disks="copy", resume=True)
            kept = sha(copy) if not why and os.path.exists(copy) else None
            if not why and not kept:
                why = "no copy: %r" % os.listdir(small)
            if not why and run_cmd(g, "dd if=/dev/urandom of=/mnt/g bs=1M count=4 2>/dev/null"
                                   " && sync", "L2") is None:
                why = "the guest cannot write its disk after the snapshot"
            if not why:
                # full but for 4 MiB: the snapshot's file is made, then the RAM or
                # the copy finds no room
                fill = os.path.join(small, "fill")
                with open(fill, "wb") as f:
                    try:
                        while True:
                            f.write(b"\xff" * (1 << 20))
                            f.flush()
                    except OSError:
                        pass
                os.truncate(fill, max(0, os.path.getsize(fill) - (4 << 20)))
                api(g.api_sock, "PATCH", "/vm", {"state": "Paused"})
                st, body = api(g.api_sock, "PUT", "/snapshot/create",
                               {"snapshot_path": s2, "disks": "copy", "resume": True})
                print("# %s: again at that path onto a full file system: %s %s" % (
                    name, st, body), flush=True)
                if st < 400:
                    why += "; the snapshot onto a full file system: %s" % st
                if not os.path.exists(s2):
                    why += "; the earlier snapshot's file is gone"
                if not os.path.exists(copy) or sha(copy) != kept:
                    why += "; the earlier snapshot's copy of its disk was removed or changed"
                left = [f for f in os.listdir(small) if f not in ("s.snap", "fill",
                                                                  os.path.basename(copy))]
                if left:
                    why += "; left behind: %r" % left
                if api(g.api_sock, "GET", "/vm")[1].get("state") != "Running":
                    why += "; the guest is not running after the failed snapshot"
        finally:
            subprocess.run(["umount", "-l", small], capture_output=True)
    g.kill()
    result(name, why)


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


BG_MIB = 1024                # the disk's virtual size
BG_DATA = 768                # MiB of random data written before the guest starts
BG_X, BG_W = 16000, 16100    # 64 KiB blocks: a 1 MiB region X, and the writer's 4 MiB W


def region_md5(path, block, count):
    """md5 of count 64 KiB blocks from `block` of the qcow2 image at path (its virtual
    disk, read through qemu-img)."""
    raw = path + ".raw-view"
    subprocess.run(["qemu-img", "convert", "-O", "raw", path, raw], check=True)
    try:
        with open(raw, "rb") as f:
            f.seek(block << 16)
            return hashlib.md5(f.read(count << 16)).hexdigest()
    finally:
        os.remove(raw)


def guest_md5(g, block, count, marker):
    out = run_cmd(g, "sync; echo 3 > /proc/sys/vm/drop_caches; dd if=/dev/vda bs=65536 "
                  "skip=%d count=%d 2>/dev/null | md5sum" % (block, count), marker, 120) or ""
    m = re.search(r"^([0-9a-f]{32})  -$", out, re.M)
    return m.group(1) if m else None


def qcheck(path):
    r = subprocess.run(["qemu-img", "check", path], capture_output=True, text=True)
    return "" if r.returncode == 0 else "; qemu-img check %s: %d %s" % (
        os.path.basename(path), r.returncode, (r.stdout + r.stderr)[-300:])


def t_disk_background():
    name = "disk_background"
    if not shutil.which("qemu-img"):
        print("SKIP: snapshot.%s: needs qemu-img" % name, flush=True)
        return
    raw, disk = os.path.join(tmp, "bg-src.raw"), os.path.join(tmp, "bg.qcow2")
    data = hashlib.sha256()
    with open(raw, "wb") as f:
        for _ in range(BG_DATA // 16):
            b = os.urandom(16 << 20)
            data.update(b)
            f.write(b)
        f.truncate(BG_MIB << 20)
    subprocess.run(["qemu-img", "convert", "-O", "qcow2", raw, disk], check=True)
    os.remove(raw)
    g, why = boot_counter("bg", ["--disk", disk + ",format=qcow2"])
    h_before = None if why else guest_md5(g, BG_X, 16, "B0")
    if not why and run_cmd(g, "dd if=/dev/urandom of=/dev/vda bs=65536 seek=%d count=16 "
                           "conv=fsync 2>/dev/null" % BG_X, "B1") is None:
        why = "the guest cannot write its disk"
    h_before = None if why else guest_md5(g, BG_X, 16, "B2")
    if not why and not h_before:
        why = "no md5 from the guest"
    # a writer that rewrites W's blocks one at a time, synced, until told to stop. The
    # snapshot waits until it runs: a command still in the console's input when the
    # guest pauses reaches only the guest that runs on, not the one restored (on a
    # loaded host the restored guest then had no writer, and never said WDONE)
    if not why:
        n0 = len(g.text())
        g.send("(i=0; while [ ! -e /tmp/stop ]; do dd if=/dev/urandom of=/dev/vda bs=65536 "
               "seek=$((%d+i%%64)) count=1 conv=fsync 2>/dev/null; i=$((i+1)); "
               "[ $i = 2 ] && echo W''RUNS; done; echo WDONE $i) &\n" % BG_W)
        if not g.wait_for(r"WRUNS", 120, n0):  # (after the prompt)
            why = "the writer did not start: %r" % g.text()[-300:]
    snap = os.path.join(tmp, "bg.snap")
    paused_bg = None
    if not why:
        st, body = api(g.api_sock, "PATCH", "/vm", {"state": "Paused"})
        t0 = time.time()
        answer = []
        th = threading.Thread(target=lambda: answer.append(api(
            g.api_sock, "PUT", "/snapshot/create",
            {"snapshot_path": snap, "disks": "copy", "resume": True}, timeout=600)))
        th.start()
        # the control socket answers while the image is copied (the guest runs then)
        tmpcopy = snap + ".disk0.saved.qcow2.tmp"
        while th.is_alive() and not os.path.exists(tmpcopy):
            time.sleep(0.005)
        if os.path.exists(tmpcopy):
            t1 = time.time()
            vst = api(g.api_sock, "GET", "/vm")[1]
            copying = os.path.exists(tmpcopy)
            print("# %s: GET /vm during the copy: %s in %.0f ms, the copy %s" % (
                name, vst.get("state"), (time.time() - t1) * 1000,
                "still under way" if copying else "done by then"), flush=True)
            if vst.get("state") != "Running" or not copying:
                why = "GET /vm was not answered while the image was copied (%s, %.0f ms)" % (
                    vst.get("state"), (time.time() - t1) * 1000)
        th.join()
        took = time.time() - t0
        st, body = answer[0] if answer else (None, "no answer")
        rx = (r"snapshot %s: paused ([\d.]+) ms; disk images copied \(([\d.]+) MiB\) in (\d+) "
              r"ms while it ran; paused ([\d.]+) ms to merge (\d+) blocks" % re.escape(snap))
        end = time.time() + 30  # the line comes before the answer; our reader may lag
        while not re.search(rx, g.errtext()) and time.time() < end and st == 204:
            time.sleep(0.1)
        m = re.search(rx, g.errtext())
        if why:
            pass
        elif st != 204 or not m:
            why = "snapshot/create with resume: %s %s; %s" % (st, body, g.errtext()[-300:])
        else:
            paused_bg, mib, copy_ms, merge_ms, blocks = (float(m.group(1)), float(m.group(2)),
                                                         int(m.group(3)), float(m.group(4)),
                                                         int(m.group(5)))
            print("# %s: answered in %.0f ms: paused %.1f ms, %.0f MiB copied in %d ms "
                  "while running, paused %.1f ms to merge %d blocks" % (
                      name, took * 1000, paused_bg, mib, copy_ms, merge_ms, blocks), flush=True)
            if api(g.api_sock, "GET", "/vm")[1].get("state") != "Running":
                why += "; the guest is not running after the snapshot"
            if blocks < 1:
                why += "; no block written during the copy was merged (the writer ran)"
            if mib < BG_DATA * 0.9:
                why += "; the copy holds %.0f MiB, not the image's %d" % (mib, BG_DATA)
            for f in (snap + ".disk0.live.qcow2", snap + ".disk0.saved.qcow2.tmp"):
                if os.path.exists(f):
                    why += "; %s left behind" % os.path.basename(f)
    if not why:
        g.send("touch /tmp/stop\n")
        if not g.wait_for(r"WDONE \d+", 120):  # (after the prompt)
            why = "the writer did not stop: %r" % g.text()[-300:]
    if not why and run_cmd(g, "dd if=/dev/urandom of=/dev/vda bs=65536 seek=%d count=16 "
                           "conv=fsync 2>/dev/null" % BG_X, "A1") is None:
        why = "the guest cannot write its disk after the snapshot"
    h_after = None if why else guest_md5(g, BG_X, 16, "A2")
    h_w = None if why else guest_md5(g, BG_W, 64, "A3")
    if not why and (not h_after or not h_w or h_after == h_before):
        why = "md5s after the snapshot: %s %s" % (h_after, h_w)
    # the same copy made while paused (the old way), for the pause it takes
    if not why:
        old = os.path.join(tmp, "bg-old.snap")
        st, body = api(g.api_sock, "PATCH", "/vm", {"state": "Paused"})
        t0 = time.time()
        st, body = api(g.api_sock, "PUT", "/snapshot/create",
                       {"snapshot_path": old, "disks": "copy"})
        paused_old = (time.time() - t0) * 1000
        api(g.api_sock, "PATCH", "/vm", {"state": "Resumed"})
        print("# %s: the same copy made while paused: paused %.0f ms (at least)" % (
            name, paused_old), flush=True)
        # (the two pauses are figures, not a check: on a loaded host saving the RAM
        # alone can take longer than copying the image from the page cache;
        # bench/snapshot/disk measures them. That the guest ran during the copy is
        # checked above: it wrote blocks that were merged.)
        if st != 204:
            why = "snapshot/create without resume: %s %s" % (st, body)
        for f in (old, old + ".disk0.saved.qcow2"):
            if os.path.exists(f):
                os.remove(f)
    # onto a full file system: the copy fails, nothing is left, the guest runs on
    small, mounted = small_fs(name, "small", 96, why)
    if mounted:
        try:
            st, body = api(g.api_sock, "PATCH", "/vm", {"state": "Paused"})
            st, body = api(g.api_sock, "PUT", "/snapshot/create",
                           {"snapshot_path": os.path.join(small, "full.snap"), "disks": "copy",
                            "resume": True})
            msg = str((body or {}).get("message", body)) if isinstance(body, dict) else str(body)
            print("# %s: onto a full file system: %s %s" % (name, st, msg), flush=True)
            if st < 400 or "No space left on device" not in msg or "cannot copy" not in msg:
                why += "; onto a full file system: %s %r" % (st, msg)
            if os.listdir(small):
                why += "; left on the full file system: %r" % os.listdir(small)
            if api(g.api_sock, "GET", "/vm")[1].get("state") != "Running":
                why += "; the guest is not running after the failed snapshot"
            n = len(counts(g.text()))
            if not g.wait_for(r"^CNT %d " % (counts(g.text())[-1][0] + 3), 30):
                why += "; the counter stopped after the failed snapshot (%d counts)" % n
            if run_cmd(g, "dd if=/dev/urandom of=/dev/vda bs=65536 seek=%d count=16 "
                       "conv=fsync 2>/dev/null" % BG_X, "F1") is None:
                why += "; the guest cannot write its disk after the failed snapshot"
            h_after = guest_md5(g, BG_X, 16, "F2")
        finally:
            subprocess.run(["umount", "-l", small], capture_output=True)
    # kill -9 while the image is copied: the image is as the snapshot left it
    if not why:
        dead = os.path.join(tmp, "dead.snap")
        api(g.api_sock, "PATCH", "/vm", {"state": "Paused"})
        def ask():
            try:  # never answered: the process is killed
                api(g.api_sock, "PUT", "/snapshot/create",
                    {"snapshot_path": dead, "disks": "copy", "resume": True})
            except Exception:
                pass
        th = threading.Thread(target=ask, daemon=True)
        th.start()
        end = time.time() + 60
        while time.time() < end and not os.path.exists(dead + ".disk0.saved.qcow2.tmp"):
            time.sleep(0.005)
        g.kill()
        live = dead + ".disk0.live.qcow2"
        if not os.path.exists(live):
            why += "; the kill did not come during the copy"
        else:  # the overlay the guest wrote meanwhile: sound (leaked clusters at most)
            r = subprocess.run(["qemu-img", "check", live], capture_output=True, text=True)
            if r.returncode not in (0, 3):
                why += "; qemu-img check of the live overlay: %d %s" % (r.returncode,
                                                                       r.stdout[-300:])
            r = subprocess.run(["qemu-img", "commit", live], capture_output=True, text=True)
            if r.returncode:  # what docs/SNAPSHOT.md tells a user to do with it
                why += "; qemu-img commit of the live overlay: %s" % r.stderr[-300:]
    else:
        g.kill()
    if not why:
        why += qcheck(disk)
        copy = snap + ".disk0.saved.qcow2"
        why += qcheck(copy)
        if region_md5(disk, BG_X, 16) != h_after:
            why += "; the image does not hold the last write the guest made"
        if region_md5(disk, BG_W, 64) != h_w:
            why += "; the image does not hold what the guest wrote during the copy"
        if region_md5(copy, BG_X, 16) != h_before:
            why += "; the copy is not the disk at the snapshot"
        cdata = hashlib.sha256()
        view = copy + ".raw-view"
        subprocess.run(["qemu-img", "convert", "-O", "raw", copy, view], check=True)
        with open(view, "rb") as f:
            for _ in range(BG_DATA // 16):
                cdata.update(f.read(16 << 20))
        os.remove(view)
        if cdata.hexdigest() != data.hexdigest():
            why += "; the copy's first %d MiB are not the data written before" % BG_DATA
    if not why:
        h = start(["--restore", snap, "--overlay-dir", tmp], "bg-r.sock")
        if not h.wait_for(r"^CNT \d+ [\d.]+$", 60):
            why += "; the restored guest does not run: %s" % h.errtext()[-300:]
        else:
            # its writer runs on from the snapshot (no /tmp/stop there yet): stop it first,
            # so the read below does not queue behind its fsynced writes on a loaded host
            h.send("touch /tmp/stop\n")
            if not h.wait_for(r"WDONE \d+", 120):
                why += "; the restored guest's writer did not stop: %r" % h.text()[-300:]
            else:
                got = guest_md5(h, BG_X, 16, "R1")
                if got is None:
                    why += "; the restored guest did not read its disk within 120 s: %r" % (
                        h.text()[-300:],)
                elif got != h_before:
                    why += "; the restored guest does not read the disk at the snapshot"
        h.kill()
        ovs = [f for f in os.listdir(tmp) if f.startswith("bg.snap.disk0.restore-")]
        for f in ovs:
            why += qcheck(os.path.join(tmp, f))
        if not ovs:
            why += "; no restore overlay"
    result(name, why)


SEC_DISKS = 7


def old_format(src, dst):
    """`src` as a Lodge before the DISKS section wrote it: that section cut out, the
    header's version 2 (every section keeps its own checksum)."""
    data = open(src, "rb").read()
    out = bytearray(data[:32])
    struct.pack_into("<I", out, 8, 2)
    struct.pack_into("<I", out, 28, zlib.crc32(bytes(out[:28])))
    kinds = [t for t, _, _ in section_offsets(data)]
    for t, off, n in section_offsets(data):
        if t != SEC_DISKS:
            out += data[off - 24:off + n]
    with open(dst, "wb") as f:
        f.write(out)
    return kinds


def disks_old(src, dst, version):
    """`src` with its DISKS section as an earlier Lodge wrote it: version 1, per file only
    the length and the fingerprint; version 2, also the device, inode and modification
    time, but not the inode generation."""
    data = open(src, "rb").read()
    out = bytearray(data[:32])
    for t, off, n in section_offsets(data):
        payload = data[off:off + n]
        if t == SEC_DISKS:
            ver, ndisks = struct.unpack_from("<II", payload, 0)
            if ver != 3:
                raise ValueError("DISKS version %d, not 3" % ver)
            body, at = bytearray(struct.pack("<II", version, ndisks)), 8
            for _ in range(ndisks):
                (nf,) = struct.unpack_from("<I", payload, at)
                body += struct.pack("<I", nf)
                at += 4
                for _ in range(nf):  # size, hash, dev, ino, gen, mtime
                    body += payload[at:at + 16]
                    if version == 2:
                        body += payload[at + 16:at + 32] + payload[at + 40:at + 48]
                    at += 48
            payload = bytes(body)
        hdr = bytearray(struct.pack("<IIQI", t, 0, len(payload), zlib.crc32(payload)))
        hdr += struct.pack("<I", zlib.crc32(bytes(hdr)))
        out += hdr + payload
    with open(dst, "wb") as f:
        f.write(out)


def refused_text(args):
    """The one stderr line of a refused `lodge run --restore ...args` ("" if not refused)."""
    p = subprocess.run([ASAN, "run", "--restore"] + args, stdin=subprocess.DEVNULL,
                       capture_output=True, text=True, timeout=120)
    return p.stderr.strip() if p.returncode == 125 else ""


def refused(args, want, not_want=()):
    """`lodge run --restore ...args` must exit 125 with one line holding every string of
    want (and none of not_want), and leave the files in tmp as they were."""
    before = sorted(os.listdir(tmp))
    try:
        p = subprocess.run([ASAN, "run", "--restore"] + args, stdin=subprocess.DEVNULL,
                           capture_output=True, text=True, timeout=120)
    except subprocess.TimeoutExpired:  # (subprocess.run killed it)
        for f in os.listdir(tmp):  # its overlays: not the check's business below
            if ".restore-" in f and f not in before:
                os.remove(os.path.join(tmp, f))
        return "; %s: not refused: the guest ran (killed after 120 s)" % " ".join(args)
    lines = p.stderr.strip().splitlines()
    why = ""
    if p.returncode != 125 or len(lines) != 1 or any(w not in lines[0] for w in want) or \
            any(w in lines[0] for w in not_want):
        why = "; %s: status %d, %r (wanted %r)" % (" ".join(args), p.returncode,
                                                   p.stderr[-400:], want)
    else:
        print("# refused: %s" % lines[0], flush=True)
    after = sorted(os.listdir(tmp))
    if after != before:
        why += "; the refused restore changed the files: %r -> %r" % (
            sorted(set(before) - set(after)), sorted(set(after) - set(before)))
    return why


def restored_reads(snap, sock, want, extra=()):
    """Restores snap; the guest's counter must go on and /mnt/f read `want`. Returns
    (why, the process's stderr)."""
    h = start(["--restore", snap] + list(extra), sock)
    why = ""
    if not h.wait_for(r"^CNT \d+ [\d.]+$", 60):
        why = "; %s: the restored guest does not run (status %s): %s" % (
            os.path.basename(snap), h.p.poll(), h.errtext()[-300:])
    else:
        out = run_cmd(h, "cat /mnt/f", "R" + sock.split(".")[0]) or ""
        if want not in out:
            why = "; %s: the restored guest reads %r, not %r" % (os.path.basename(snap),
                                                                 out[-80:], want)
    h.kill()
    return why, h.errtext()


def t_disk_replaced():
    for kind in ("raw", "qcow2"):
        result("disk_replaced." + kind, disk_replaced(kind))


def disk_replaced(kind):
    """A snapshot's frozen image replaced by another file of the same size."""
    disk = os.path.join(tmp, "rep." + kind)
    if kind == "raw":
        with open(disk, "wb") as f:  # zeros: the guest's init makes ext4 on it
            f.truncate(64 << 20)
    else:
        r = subprocess.run([REL, "disk", "create", "--format", "qcow2", disk, "64M"],
                           capture_output=True, text=True)
        if r.returncode:
            return "cannot create the disk: " + r.stderr
    g, why = boot_counter("rep-" + kind, ["--disk", disk])
    if not why and run_cmd(g, "grep -q ' /mnt ' /proc/mounts && echo before > /mnt/f && "
                           "sync", "W1") is None:
        why = "the guest did not mount and write its disk"
    snap = os.path.join(tmp, "rep-%s.snap" % kind)
    diff = os.path.join(tmp, "rep-%s-diff.snap" % kind)
    why = why or pause_snapshot(g, snap)
    if not why and kind == "qcow2":  # a Diff: its image is the Full one's overlay
        api(g.api_sock, "PATCH", "/vm", {"state": "Resumed"})
        if run_cmd(g, "echo after > /mnt/f && sync", "W2") is None:
            why = "the guest could not write after the snapshot"
        why = why or pause_snapshot(g, diff, snapshot_type="Diff")
    g.kill()
    if why:
        return why
    old = os.path.join(tmp, "rep-%s-old.snap" % kind)
    kinds = old_format(snap, old)
    if kinds[-2:] != [SEC_DISKS, 0x444e45]:
        return "the snapshot's last sections are %r, not DISKS and END" % kinds[-3:]
    v1 = os.path.join(tmp, "rep-%s-v1.snap" % kind)
    disks_old(snap, v1, 1)
    v2 = os.path.join(tmp, "rep-%s-v2.snap" % kind)
    disks_old(snap, v2, 2)
    size = os.path.getsize(disk)
    if kind == "raw":
        # one block written in place between two of the fingerprint's samples (the head
        # is 1 MiB, then a sample every ~1 MiB): the same file, a later mtime
        at = (1 << 20) + (512 << 10)
        with open(disk, "r+b") as f:
            f.seek(at)
            orig = f.read(4096)
            f.seek(at)
            f.write(bytes(b ^ 0x5a for b in orig))
        why += refused([snap], ["its disk 0: %s was modified after the snapshot (the same "
                                "file, its modification time is not the one recorded)" % disk,
                                "put back the file the snapshot was taken with"])
        with open(disk, "r+b") as f:  # the bytes back (the mtime stays the new one)
            f.seek(at)
            f.write(orig)
        err = refused_text([snap])
        m = re.search(r"set its time back: touch -m -d @(\d+)\.(\d{9}) '([^']+)'", err)
        if not m or m.group(3) != disk:
            why += "; the same bytes written back: no time to set back in %r" % err[-300:]
        else:  # the user vouches for the bytes as the message says: it restores
            ns = int(m.group(1)) * 10**9 + int(m.group(2))
            os.utime(disk, ns=(ns, ns))
            w, _ = restored_reads(snap, "rep-touched.sock", "before")
            why += w
    os.rename(disk, disk + ".orig")
    if kind == "raw":  # cp other.img disk.img: other bytes, the same length
        shutil.copyfile(disk + ".orig", disk)
        with open(disk, "r+b") as f:
            f.write(b"another image, not the one the snapshot saw\n" + bytes(4096))
    else:  # a new image of the same size
        subprocess.run([REL, "disk", "create", "--format", "qcow2", disk, "64M"], check=True)
        os.truncate(disk, size)
    if os.path.getsize(disk) != size:
        return "the replacement is %d bytes, the image %d" % (os.path.getsize(disk), size)
    hint = "pass --restore-disk PATH to restore onto another image on purpose"
    why += refused([snap], ["its disk 0: the image %s changed since the snapshot (the same "
                            "size, other content)" % disk, "put back the image", hint])
    why += refused([snap, "--restore-disk", disk + ",verify=on"],
                   ["its disk 0: the image %s changed since the snapshot" % disk],
                   ["--restore-disk PATH"])
    why += refused([snap, "--restore-disk", disk + ",verfy=on"], ["unknown option 'verfy'"])
    if kind == "raw":  # --restore-disk is the user's choice: only its size is checked
        small = os.path.join(tmp, "rep-small.raw")
        with open(small, "wb") as f:
            f.truncate(size // 2)
        why += refused([snap, "--restore-disk", small],
                       ["its image is not the size of the disk saved with it"])
        os.remove(small)
    if kind == "qcow2":
        why += refused([diff], ["its disk 0: %s, below its image %s.disk0.qcow2, changed "
                                "since the snapshot" % (disk, snap), hint])
    if not os.path.exists(snap + ".disk0.qcow2"):
        why += "; the snapshot's overlay is gone"
    # the user's choice: --restore-disk without verify takes the image it is given
    if not why and kind == "raw":
        h = start(["--restore", snap, "--restore-disk", disk], "rep-chosen.sock")
        if not h.wait_for(r"^CNT \d+ [\d.]+$", 60):
            why += "; --restore-disk of another image of the size: no count: %s" % (
                h.errtext()[-300:])
        h.kill()
    # the original back (a copy of it: other times, the same bytes)
    os.remove(disk)
    shutil.copyfile(disk + ".orig", disk)
    if not why:
        w, _ = restored_reads(snap, "rep-back.sock", "before")
        why += w
    if not why and kind == "qcow2":
        w, _ = restored_reads(diff, "rep-diff.sock", "after")
        why += w
    if not why:
        w, err = restored_reads(old, "rep-old.sock", "before")
        why += w
        if "disk" in err:
            why += "; the old file's restore said something of its disks: %r" % err[-300:]
    if not why:  # version 1 of the DISKS section: the copy's bytes are what it recorded
        w, _ = restored_reads(v1, "rep-v1.sock", "before")
        why += w
    if not why:  # version 2 (no inode generations): the same
        w, _ = restored_reads(v2, "rep-v2.sock", "before")
        why += w
    return why


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
    only = os.environ.get("SNAPSHOT_ONLY")  # e.g. disk_leftovers,disk_background: those alone
    if only:
        try:
            for n in only.split(","):
                globals()["t_" + n]()
        finally:
            for g in guests:
                g.close()
            shutil.rmtree(tmp, ignore_errors=True)
        return
    try:
        t_diff_chain()
        snap = t_counter()
        if snap:
            t_bad_files(snap)
        else:
            result("bad_files", "no snapshot to damage")
        t_smp_disk_net()
        t_disk_copy()
        t_disk_replaced()
        t_disk_leftovers()
        t_disk_background()
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
