"""The default initramfs with /bin/memcheck (memcheck.c, built with the RISC-V cross
compiler) appended as a second cpio archive: tests/migrate and bench/migrate."""
import os
import subprocess

TOP = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "../.."))
CC = os.environ.get("GUEST_CC", "riscv64-linux-gnu-gcc")


def newc(name, data, mode):
    """One cpio "newc" record."""
    hdr = "070701" + "".join("%08x" % v for v in (
        0, mode, 0, 0, 1, 0, len(data), 0, 0, 0, 0, len(name) + 1, 0))
    rec = hdr.encode() + name.encode() + b"\0"
    rec += b"\0" * (-len(rec) % 4) + data
    return rec + b"\0" * (-len(rec) % 4)


def build(tmp):
    """Returns (path of the initramfs in tmp, "") or (None, why)."""
    exe = os.path.join(tmp, "memcheck")
    try:
        r = subprocess.run([CC, "-O2", "-static", "-o", exe,
                            os.path.join(TOP, "tests/migrate/memcheck.c")],
                           capture_output=True, text=True)
    except OSError as e:
        return None, "cannot run %s: %s" % (CC, e)
    if r.returncode:
        return None, "cannot build memcheck.c with %s: %s" % (CC, r.stderr[-300:])
    base = open(os.path.join(TOP, "guest-cache/out/initrd.img"), "rb").read()
    extra = newc("bin/memcheck", open(exe, "rb").read(), 0o100755)
    extra += newc("TRAILER!!!", b"", 0)
    path = os.path.join(tmp, "initrd.img")
    with open(path, "wb") as f:
        f.write(base + b"\0" * (-len(base) % 4) + extra)
    return path, ""
