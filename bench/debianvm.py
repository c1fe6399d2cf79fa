"""The Debian disk (make debian) under Lodge or qemu-system-riscv64, for the benchmarks
bench/boot-debian, bench/disk and bench/net/iperf3.

Both emulators get the same machine: -M virt, the default guest's OpenSBI fw_dynamic.bin
and kernel Image, the Debian disk's initramfs (guest/debian/init), the same RAM and harts,
the disks as virtio-blk and the NICs as virtio-net on virtio-mmio (QEMU: -device
virtio-blk-device / virtio-net-device, its default cache and AIO settings). The root disk
is a fresh copy-on-write overlay of an image per boot (found by its label, root=LABEL=);
data disks are named by their serial (/dev/disk/by-id/virtio-SERIAL in the guest).

Commands run in the guest over ssh (root, the key from make debian) through a port
forward of the user-networking NIC. Guest RAM accounting for "RSS beyond touched guest
pages" is bench/boot's (MemSampler)."""

import importlib.machinery
import importlib.util
import os
import re
import select
import shlex
import socket
import subprocess
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MiB = 1024 * 1024


def load_boot_module():
    """bench/boot as a module (its guest-RAM accounting and table helpers)."""
    path = os.path.join(ROOT, "bench", "boot")
    loader = importlib.machinery.SourceFileLoader("lodge_bench_boot", path)
    spec = importlib.util.spec_from_loader("lodge_bench_boot", loader)
    mod = importlib.util.module_from_spec(spec)
    loader.exec_module(mod)
    return mod


def env(name, default):
    value = os.environ.get(name)
    return value if value else default


def config():
    """Paths and settings shared by the Debian benchmarks (environment overrides)."""
    guest = env("BENCH_GUEST", os.path.join(ROOT, "guest-cache", "out"))
    ddir = env("BENCH_DEBIAN_DIR", os.path.join(ROOT, "guest-cache", "debian"))
    return {
        "lodge": env("BENCH_LODGE", os.path.join(ROOT, "build", "release", "lodge")),
        # more `lodge run` options, e.g. "--jit-hot 64" (shell words)
        "lodge_args": shlex.split(env("BENCH_LODGE_ARGS", "")),
        "qemu": env("BENCH_QEMU", "qemu-system-riscv64"),
        "guest": guest, "ddir": ddir,
        "kernel": guest + "/Image", "firmware": guest + "/fw_dynamic.bin",
        "initrd": ddir + "/initrd.img", "key": ddir + "/id_ed25519",
        "image": ddir + "/debian.qcow2", "bench_image": ddir + "/bench.qcow2",
        "mem": env("BENCH_MEM", "1G"),
        "timeout": int(env("BENCH_TIMEOUT", "900")),
    }


def machine_info(boot, cfg):
    """bench/boot's machine_info for the two emulators, with BENCH_LODGE_ARGS after
    Lodge's binary (what a figure was measured with)."""
    info = boot.machine_info(cfg["lodge"], cfg["qemu"])
    info["lodge"] += "".join(" " + a for a in cfg["lodge_args"])
    return info


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def overlay(lodge, base, path):
    """A new qcow2 overlay at path over base (read-only backing)."""
    if os.path.exists(path):
        os.unlink(path)
    subprocess.run([lodge, "disk", "create", path, "--backing", os.path.abspath(base)],
                   check=True, stdout=subprocess.DEVNULL)


class VM:
    """One boot. disks: [(path, format, serial or None)], the first is the root disk;
    nets: ["user"] (ssh forward added) and/or "tap:IFNAME:MAC"."""

    def __init__(self, cfg, emu, harts, disks, nets=("user",), append="console=ttyS0",
                 ns=None, key=None):
        self.cfg, self.emu, self.harts = cfg, emu, harts
        self.disks, self.nets, self.append, self.ns = disks, list(nets), append, ns
        self.key = key
        self.port = free_port() if "user" in self.nets else None
        self.proc = None
        self.lines = []  # (seconds since start, line)
        self.cond = threading.Condition()
        self.start_time = None
        self.eof = False
        self.status = None
        self.usage = None

    def argv(self):
        c = self.cfg
        append = "root=LABEL=lodge-root " + self.append
        if self.emu == "lodge":
            a = [c["lodge"], "run", "--kernel", c["kernel"], "--firmware", c["firmware"],
                 "--initrd", c["initrd"], "--cpus", str(self.harts), "--mem", c["mem"],
                 "--timeout", str(c["timeout"] + 600), "--append", append] + c["lodge_args"]
            for path, fmt, serial in self.disks:
                a += ["--disk", "%s,format=%s%s" % (path, fmt,
                                                    ",serial=" + serial if serial else "")]
            for n in self.nets:
                if n == "user":
                    a += ["--net", "user,hostfwd=tcp:127.0.0.1:%d-:22" % self.port]
                else:
                    _, ifname, mac = n.split(":", 2)
                    a += ["--net", "tap,ifname=%s,mac=%s" % (ifname, mac)]
        else:
            a = [c["qemu"], "-M", "virt", "-m", c["mem"], "-smp", str(self.harts),
                 "-nographic", "-bios", c["firmware"], "-kernel", c["kernel"],
                 "-initrd", c["initrd"], "-append", append]
            for i, (path, fmt, serial) in enumerate(self.disks):
                a += ["-drive", "file=%s,format=%s,if=none,id=d%d" % (path, fmt, i),
                      "-device", "virtio-blk-device,drive=d%d%s" % (
                          i, ",serial=" + serial if serial else "")]
            for i, n in enumerate(self.nets):
                if n == "user":
                    nd = "user,id=n%d,hostfwd=tcp:127.0.0.1:%d-:22" % (i, self.port)
                    dev = "virtio-net-device,netdev=n%d" % i
                else:
                    _, ifname, mac = n.split(":", 2)
                    nd = "tap,id=n%d,ifname=%s,script=no,downscript=no,vhost=off" % (i, ifname)
                    dev = "virtio-net-device,netdev=n%d,mac=%s" % (i, mac)
                a += ["-netdev", nd, "-device", dev]
        if self.ns:
            a = ["ip", "netns", "exec", self.ns] + a
        return a

    def start(self):
        self.start_time = time.perf_counter()
        self.proc = subprocess.Popen(self.argv(), stdin=subprocess.DEVNULL,
                                     stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        threading.Thread(target=self._reader, daemon=True).start()
        return self

    def _reader(self):
        buf = b""
        fd = self.proc.stdout.fileno()
        while True:
            chunk = os.read(fd, 65536)
            stamp = time.perf_counter() - self.start_time
            if not chunk:
                break
            buf += chunk
            # The login prompt ends without a newline: take every piece as it comes.
            parts = buf.split(b"\n")
            buf = parts.pop()
            with self.cond:
                for p in parts:
                    self.lines.append((stamp, p.decode("utf-8", "replace").rstrip("\r")))
                if buf:
                    self.partial = (stamp, buf.decode("utf-8", "replace"))
                self.cond.notify_all()
        with self.cond:
            if buf:
                self.lines.append((stamp, buf.decode("utf-8", "replace")))
            self.eof = True
            self.cond.notify_all()

    def wait_line(self, pattern, timeout, tick=None):
        """Seconds since start of the first console line (or trailing piece) matching
        pattern, or None (timeout or exit). tick() is called about every 2 s."""
        rx = re.compile(pattern)
        deadline = time.perf_counter() + timeout
        seen = 0
        while True:
            with self.cond:
                for stamp, line in self.lines[seen:]:
                    if rx.search(line):
                        return stamp
                seen = len(self.lines)
                part = getattr(self, "partial", None)
                if part and rx.search(part[1]):
                    return part[0]
                if self.eof or time.perf_counter() > deadline:
                    return None
                self.cond.wait(2.0)
            if tick:
                tick()

    def tail(self, n=8):
        with self.cond:
            return " | ".join(l for _, l in self.lines[-n:] if l.strip())

    def ssh_argv(self, cmd):
        return (["ip", "netns", "exec", self.ns] if self.ns else []) + [
            "ssh", "-i", self.key or self.cfg["key"], "-p", str(self.port),
            "-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=no",
            "-o", "UserKnownHostsFile=/dev/null", "-o", "LogLevel=ERROR",
            "-o", "ConnectTimeout=20", "-o", "ServerAliveInterval=15",
            "-o", "ServerAliveCountMax=8", "root@127.0.0.1", cmd]

    def ssh(self, cmd, timeout=600):
        """(exit status, stdout+stderr text) of cmd in the guest."""
        try:
            r = subprocess.run(self.ssh_argv(cmd), stdin=subprocess.DEVNULL,
                               capture_output=True, timeout=timeout)
        except subprocess.TimeoutExpired:
            return 124, "timed out after %d s" % timeout
        return r.returncode, (r.stdout + r.stderr).decode("utf-8", "replace")

    def wait_ssh(self, timeout):
        """Seconds since start when ssh first ran a command, or None."""
        deadline = time.perf_counter() + timeout
        while time.perf_counter() < deadline:
            if self.proc.poll() is not None:
                return None
            rc, _ = self.ssh("true", timeout=60)
            if rc == 0:
                return time.perf_counter() - self.start_time
            time.sleep(2)
        return None

    def wait_exit(self, timeout):
        """Exit status (None if it had to be killed); sets self.usage (wait4)."""
        deadline = time.perf_counter() + timeout
        while time.perf_counter() < deadline:
            pid, status, usage = os.wait4(self.proc.pid, os.WNOHANG)
            if pid:
                self._reaped(status, usage)
                return self.status
            time.sleep(0.2)
        self.kill()
        return None

    def _reaped(self, status, usage):
        self.status = os.waitstatus_to_exitcode(status)
        self.proc.returncode = self.status
        self.usage = usage

    def poweroff(self, timeout=300):
        self.ssh("poweroff", timeout=60)
        return self.wait_exit(timeout)

    def kill(self):
        if self.proc and self.proc.returncode is None:
            self.proc.kill()
            _, status, usage = os.wait4(self.proc.pid, 0)
            self._reaped(status, usage)
        return self.status


def check_inputs(cfg, image_key):
    need = [cfg["lodge"], cfg["kernel"], cfg["firmware"], cfg["initrd"], cfg["key"],
            cfg[image_key]]
    return [p for p in need if not os.path.exists(p)]


def make_bench_image(cfg, log=print):
    """guest-cache/debian/bench.qcow2: a full copy of the Debian disk with fio and iperf3
    installed by apt-get inside the guest (under Lodge, over user networking). Made once;
    delete it to make it again (e.g. after make debian rebuilt the image)."""
    out = cfg["bench_image"]
    if os.path.exists(out) and os.path.getmtime(out) >= os.path.getmtime(cfg["image"]):
        return 0
    tmp = out + ".tmp"
    subprocess.run(["qemu-img", "convert", "-O", "qcow2", cfg["image"], tmp], check=True)
    log("bench image: installing fio and iperf3 into a copy of %s (apt-get in the guest)"
        % cfg["image"])
    t0 = time.perf_counter()
    vm = VM(cfg, "lodge", 2, [(tmp, "qcow2", None)]).start()
    try:
        if vm.wait_ssh(cfg["timeout"]) is None:
            log("bench image: no ssh: %s" % vm.tail())
            return 1
        rc, text = vm.ssh("apt-get -q update && DEBIAN_FRONTEND=noninteractive apt-get -q "
                          "install -y --no-install-recommends fio iperf3 && apt-get clean",
                          timeout=3600)
        if rc != 0:
            log("bench image: apt-get failed (%d): %s" % (rc, text[-600:]))
            return 1
        if vm.poweroff() != 0:
            log("bench image: poweroff failed: %s" % vm.tail())
            return 1
    finally:
        vm.kill()
    os.rename(tmp, out)
    log("bench image: %s made in %.0f s" % (out, time.perf_counter() - t0))
    return 0
