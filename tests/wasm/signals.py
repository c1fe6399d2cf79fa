#!/usr/bin/env python3
"""SIGTERM and SIGINT to a plain `lodge wasm` run (no --api, --exit-file or --seccomp),
whose signals a handler serves without a thread of its own (cmd_wasm.c sig_light): the
program stops cleanly at its next loop or call, interpreted and translated (128 + the
signal, "the program stops"), also when the signal reaches another thread (a wasi-threads
thread: the handler hands it to the main thread); one blocked in a host call that cannot
give up (opening a FIFO nobody writes) gets SIG_GRACE_S (5 s), then the process ends; a
second signal ends it at once; one that comes while the module still loads ends the
process at once ("stopping"). A program sleeping in poll_oneoff (a thread of it too), or
blocked in fd_read of a quiet pipe or fd_write to a full one, stops at once, as a running
one.
While such a program runs, the process has one thread (the signal thread's two are gone).
The same with --exit-file (the signal thread, sig_stopper) is tests/wsnap's
second-signal case.

usage: signals.py LODGE THREADS_WAT TMPDIR   (prints PASS:/FAIL: lines)
"""
import ctypes
import fcntl
import os
import signal
import struct
import subprocess
import sys
import termios
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "snapshot"))
from lib import wait_caught, wait_opening, wait_reading  # noqa: E402

LODGE, THREADS, TMP = sys.argv[1], sys.argv[2], sys.argv[3]


def go_module(imports="", before="", after=""):
    """A module whose _start writes "go\\n" to stdout (iovec at 0, the text at 16), with
    `before` and `after` it; it imports fd_write, and `imports` too."""
    return """(module
  (import "wasi_snapshot_preview1" "fd_write"
    (func $fd_write (param i32 i32 i32 i32) (result i32)))
  %s
  (memory (export "memory") 1)
  (data (i32.const 16) "go\\n")
  (func (export "_start")
    %s
    (i32.store (i32.const 0) (i32.const 16))
    (i32.store (i32.const 4) (i32.const 3))
    (drop (call $fd_write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 8)))
    %s))
""" % (imports, before, after)


# writes "go\n", then spins (a loop with no call)
SPIN_WAT = go_module(after="(loop $l (br $l))")

# writes "go\n", then loops calling a leaf function: with --jit-hot 7 the loop and the
# leaf get translated at different times and the run crosses between the interpreter and
# translated code at every iteration, which used to restart the tick budget each time: no
# refill ever came, so the signal waited its 5 s grace (a black-box check's finding)
CROSSING_WAT = go_module(
    imports="(func $leaf (param i32) (result i32) (i32.add (local.get 0) (i32.const 1)))",
    after="""(drop (call $leaf (i32.const 0)))
    (loop $l
      (i32.store (i32.const 200) (call $leaf (i32.load (i32.const 200))))
      (br $l))""")

# reads stdin (a pipe nobody writes): blocked in a host call
READER_WAT = """(module
  (import "wasi_snapshot_preview1" "fd_read"
    (func $fd_read (param i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  (func (export "_start")
    (i32.store (i32.const 0) (i32.const 64))
    (i32.store (i32.const 4) (i32.const 16))
    (drop (call $fd_read (i32.const 0) (i32.const 0) (i32.const 1) (i32.const 8)))))
"""


# writes "go\n", then sleeps in poll_oneoff (a relative clock of 60 s) for ever: a service
# between its ticks
SLEEPER_WAT = go_module(
    imports="""(import "wasi_snapshot_preview1" "poll_oneoff"
    (func $poll (param i32 i32 i32 i32) (result i32)))""",
    after=""";; the subscription at 64: a clock (type 0 at 72), monotonic (id 1 at 80), 60 s
    (i32.store (i32.const 80) (i32.const 1))
    (i64.store (i32.const 88) (i64.const 60000000000))
    (loop $l
      (drop (call $poll (i32.const 64) (i32.const 128) (i32.const 1) (i32.const 192)))
      (br $l))""")

# wasi-threads: a thread writes "go\n" and sleeps in poll_oneoff (60 s, for ever) while
# the main thread waits for ever in memory.atomic.wait32
THREAD_SLEEPER_WAT = """(module
  (import "env" "memory" (memory 1 1 shared))
  (import "wasi" "thread-spawn" (func $spawn (param i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_write"
    (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "poll_oneoff"
    (func $poll (param i32 i32 i32 i32) (result i32)))
  (func (export "wasi_thread_start") (param $tid i32) (param $arg i32)
    (i32.store8 (i32.const 16) (i32.const 103))
    (i32.store8 (i32.const 17) (i32.const 111))
    (i32.store8 (i32.const 18) (i32.const 10))
    (i32.store (i32.const 0) (i32.const 16))
    (i32.store (i32.const 4) (i32.const 3))
    (drop (call $fd_write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 8)))
    (i32.store (i32.const 80) (i32.const 1))
    (i64.store (i32.const 88) (i64.const 60000000000))
    (loop $l
      (drop (call $poll (i32.const 64) (i32.const 128) (i32.const 1) (i32.const 192)))
      (br $l)))
  (func (export "_start")
    (drop (call $spawn (i32.const 0)))
    (loop $l
      (drop (memory.atomic.wait32 (i32.const 12) (i32.const 0) (i64.const -1)))
      (br $l))))
"""


# opens "fifo" in its preopen (fd 3) for reading: blocked in path_open while nobody opens
# it for writing
FIFO_WAT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fifoopen.wat")

# writes "go\n" to stderr, then 64 KiB at a time to stdout for ever (a pipe nobody
# reads: blocked once it holds 64 KiB)
WRITER_WAT = """(module
  (import "wasi_snapshot_preview1" "fd_write"
    (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 2)
  (data (i32.const 16) "go\\n")
  (func (export "_start")
    (i32.store (i32.const 0) (i32.const 16))
    (i32.store (i32.const 4) (i32.const 3))
    (drop (call $fd_write (i32.const 2) (i32.const 0) (i32.const 1) (i32.const 8)))
    (i32.store (i32.const 0) (i32.const 0))
    (i32.store (i32.const 4) (i32.const 65536))
    (loop $l
      (drop (call $fd_write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 8)))
      (br $l))))
"""


def result(ok, name, why=""):
    print("%s: wasm-cli.signal-%s%s" % ("PASS" if ok else "FAIL", name,
                                        "" if ok else ": " + why))


def write(name, text):
    path = os.path.join(TMP, name)
    with open(path, "w") as f:
        f.write(text)
    return path


def threads(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("Threads:"):
                return int(line.split()[1])
    return -1


def wait_out(p, path, want, secs=120):
    end = time.time() + secs
    while time.time() < end and p.poll() is None:
        with open(path) as f:
            if want in f.read():
                return True
        time.sleep(0.01)
    return False


def finish(p, secs=60):
    try:
        return p.wait(secs)
    except subprocess.TimeoutExpired:
        p.kill()
        p.wait()
        return None


def sanitizer(err):
    return "Sanitizer" in err or "runtime error" in err


def case_running(mode, args, sig, what="running", wat=SPIN_WAT):
    name = "%s-%s-%s" % (what, mode, sig.name)
    spin = write("spin.wat", wat)
    out, errp = os.path.join(TMP, "spin.out"), os.path.join(TMP, "spin.err")
    with open(out, "w") as fo, open(errp, "w") as fe:
        p = subprocess.Popen([LODGE, "wasm"] + args + [spin], stdin=subprocess.DEVNULL,
                             stdout=fo, stderr=fe)
    if not wait_out(p, out, "go"):
        p.kill()
        p.wait()
        return result(False, name, "no output: %r" % open(errp).read()[-300:])
    n = threads(p.pid)
    p.send_signal(sig)
    rc = finish(p)
    err = open(errp).read()
    want = "lodge wasm: %s: the program stops\n" % signal.strsignal(sig)
    why = ""
    if n != 1:
        why += "; %d threads while it ran (1 wanted: no signal thread)" % n
    if rc != 128 + sig or err != want:
        why += "; status %s (%d wanted), stderr %r (%r wanted)" % (rc, 128 + sig, err, want)
    result(not why, name, why.strip("; "))


def fifo_box():
    """A directory holding a FIFO "fifo", for FIFO_WAT's preopen."""
    box = os.path.join(TMP, "fifobox")
    if not os.path.exists(box):
        os.mkdir(box)
        os.mkfifo(os.path.join(box, "fifo"))
    return box


def start_opener(preexec_fn=None):
    """FIFO_WAT started and blocked opening the FIFO, or None (killed)."""
    prog = FIFO_WAT
    p = subprocess.Popen([LODGE, "wasm", "--dir", fifo_box(), prog], stdin=subprocess.PIPE,
                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                         preexec_fn=preexec_fn)
    if wait_opening(p):
        return p
    p.kill()
    p.wait()
    return None


def case_blocked(second):
    """Opening a FIFO nobody writes, a host call that cannot give up: SIGTERM, then
    (second) SIGINT 0.5 s later."""
    name = "blocked-second" if second else "blocked-grace"
    p = start_opener()
    if p is None:
        return result(False, name, "it never blocked opening the FIFO")
    p.send_signal(signal.SIGTERM)
    t0 = time.time()
    if second:
        time.sleep(0.5)
        t0 = time.time()
        p.send_signal(signal.SIGINT)
    rc = finish(p)
    took = time.time() - t0
    err = p.stderr.read().decode()
    p.stdin.close()
    why = ""
    if second:
        if rc != 128 + signal.SIGINT or took > 3 or \
                "lodge wasm: Interrupt: a second signal: the process ends at once\n" not in err:
            why = "status %s %.1f s after the second signal (130 at once wanted): %r" % (
                rc, took, err)
    else:
        want = ("lodge wasm: Terminated: the program stops\n"
                "lodge wasm: the program did not stop within 5 s of Terminated (a host call "
                "blocks it): the process ends without it\n"
                "lodge wasm: Terminated: the process ends\n")
        if rc != 143 or took < 4.5 or err != want:
            why = "status %s after %.1f s (143 after 5 s wanted): %r" % (rc, took, err)
    if sanitizer(err):
        why += "; a sanitizer report"
    result(not why, name, why)


def case_sleeping(name, wat, args, thread=False):
    """A program sleeping in poll_oneoff stops at once on SIGTERM, as a running one does:
    143, "the program stops", well within the 5 s a blocked host call gets (before,
    poll_oneoff slept on: the grace, then the end). thread: a wasi-threads thread sleeps
    in it: the stop wakes it too, so the run ends its ordinary way, its threads joined
    (LODGE_WASM_TIMES's report is printed then; before, the thread was left blocked, and
    the process ended at once without it, a second after the stop)."""
    name = "sleeping-" + name
    prog = write(name + ".wat", wat)
    out, errp = os.path.join(TMP, name + ".out"), os.path.join(TMP, name + ".err")
    env = dict(os.environ, LODGE_WASM_TIMES="1") if thread else None
    with open(out, "w") as fo, open(errp, "w") as fe:
        p = subprocess.Popen([LODGE, "wasm"] + args + [prog], stdin=subprocess.DEVNULL,
                             stdout=fo, stderr=fe, env=env)
    if not wait_out(p, out, "go") or not wait_caught(p, signal.SIGTERM):
        p.kill()
        p.wait()
        return result(False, name, "no output: %r" % open(errp).read()[-300:])
    time.sleep(0.3)  # in its poll_oneoff
    t0 = time.time()
    p.send_signal(signal.SIGTERM)
    rc = finish(p)
    took = time.time() - t0
    err = open(errp).read()
    want = "lodge wasm: Terminated: the program stops\n"
    why = ""
    if rc != 143 or took > 4.5 or not (err.startswith(want) if thread else err == want):
        why = "status %s %.1f s after SIGTERM (143 at once wanted), stderr %r" % (rc, took, err)
    elif thread and "lodge wasm: times" not in err:
        why = "the thread was left blocked (no times report): %r" % err
    if sanitizer(err):
        why += "; a sanitizer report"
    result(not why, name, why)


def case_blocked_io(mode, args, what):
    """Blocked in fd_read of a quiet stdin pipe (what "read") or in fd_write to a full
    stdout pipe nobody reads ("write"): SIGTERM stops the program at once, as a running
    one (143, "the program stops"): the call gives up (before: it blocked on, 5 s of
    grace, then the process ended without it)."""
    name = "blocked-%s-%s" % (what, mode)
    if what == "read":
        prog = write("reader.wat", READER_WAT)
        p = subprocess.Popen([LODGE, "wasm"] + args + [prog], stdin=subprocess.PIPE,
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        ok = wait_reading(p)
    else:
        prog = write("writer.wat", WRITER_WAT)
        p = subprocess.Popen([LODGE, "wasm"] + args + [prog], stdin=subprocess.DEVNULL,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        ok = wait_caught(p, signal.SIGTERM) and p.stderr.readline() == b"go\n"
        size, end = fcntl.fcntl(p.stdout.fileno(), 1032), time.time() + 120  # F_GETPIPE_SZ
        while ok and time.time() < end and p.poll() is None and struct.unpack(
                "i", fcntl.ioctl(p.stdout.fileno(), termios.FIONREAD, b"\0\0\0\0"))[0] < size:
            time.sleep(0.01)
        time.sleep(0.3)  # in its write
        ok = ok and p.poll() is None
    if not ok:
        p.kill()
        p.wait()
        return result(False, name, "it never blocked: %s %r" % (p.returncode,
                                                               p.stderr.read()[-300:]))
    t0 = time.time()
    p.send_signal(signal.SIGTERM)
    rc = finish(p, 30)
    took = time.time() - t0
    err = p.stderr.read().decode()
    if p.stdin:
        p.stdin.close()
    want = "lodge wasm: Terminated: the program stops\n"
    why = ""
    if rc != 143 or took > 4.5 or err != want:
        why = "status %s %.1f s after SIGTERM (143 at once wanted), stderr %r" % (rc, took, err)
    if sanitizer(err):
        why += "; a sanitizer report"
    result(not why, name, why)


def case_loading():
    """SIGTERM while a 14 MB text module (200,000 functions) is still being loaded."""
    name = "loading"
    big = os.path.join(TMP, "big.wat")
    with open(big, "w") as f:
        f.write('(module (memory (export "memory") 1)\n')
        f.write("".join("(func (result i32) (i32.add (i32.const %d) (i32.const 1)))\n" % i
                        for i in range(200000)))
        f.write('(func (export "_start") (loop $l (br $l))))\n')
    p = subprocess.Popen([LODGE, "wasm", big], stdin=subprocess.DEVNULL,
                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    if not wait_caught(p, signal.SIGTERM):
        p.kill()
        p.wait()
        return result(False, name, "no SIGTERM handler: %r" % p.stderr.read())
    p.send_signal(signal.SIGTERM)
    rc = finish(p)
    err = p.stderr.read().decode()
    os.unlink(big)
    if rc != 143 or err != "lodge wasm: Terminated: stopping\n":
        return result(False, name, "status %s, stderr %r (143, stopping wanted)" % (rc, err))
    result(True, name)


def case_other_thread(mode, args):
    """threads.wat w: a thread and the main thread wait for ever; SIGTERM sent to the
    spawned thread (tgkill) reaches the main thread's handler, the program stops."""
    name = "other-thread-%s" % mode
    errp = os.path.join(TMP, "thr.err")
    with open(errp, "w") as fe:
        p = subprocess.Popen([LODGE, "wasm"] + args + [THREADS, "w"],
                             stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=fe)
    tid, end = None, time.time() + 120
    while time.time() < end and p.poll() is None and tid is None:
        try:
            others = [int(t) for t in os.listdir("/proc/%d/task" % p.pid) if int(t) != p.pid]
        except OSError:
            others = []
        tid = others[0] if others else None
        time.sleep(0.01)
    if tid is None:
        p.kill()
        p.wait()
        return result(False, name, "no thread started: %r" % open(errp).read()[-300:])
    time.sleep(0.2)
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.syscall(234, p.pid, tid, int(signal.SIGTERM)):  # tgkill
        p.kill()
        p.wait()
        return result(False, name, "tgkill: %s" % os.strerror(ctypes.get_errno()))
    rc = finish(p)
    err = open(errp).read()
    if rc != 143 or err != "lodge wasm: Terminated: the program stops\n":
        return result(False, name, "status %s, stderr %r (143 wanted)" % (rc, err))
    result(True, name)


# writes 64 KiB (16 iovecs of 4 KiB) to stderr, "go\n" to stdout, then spins
FULL_ERR_WAT = go_module(
    before="\n    ".join("(i32.store (i32.const %d) (i32.const 4096)) "
                        "(i32.store (i32.const %d) (i32.const 4096))" % (256 + 8 * i, 260 + 8 * i)
                        for i in range(16)),
    after="""(drop (call $fd_write (i32.const 2) (i32.const 256) (i32.const 16) (i32.const 8)))
    (loop $l (br $l))""")


def case_full_stderr(args):
    """stderr a pipe the program filled and nobody reads (a parent that reads it after
    the exit): SIGTERM still stops the program (the handler's line, which would block the
    main thread for good, is dropped); the same with --exit-file, whose signal thread
    blocked in its line holding stdio's lock, so the main thread's end blocked too."""
    name = "full-stderr" + ("-exit-file" if args else "")
    prog = write("fullerr.wat", FULL_ERR_WAT)
    p = subprocess.Popen([LODGE, "wasm"] + args + [prog], stdin=subprocess.DEVNULL,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    full, end = False, time.time() + 120
    # (the signal thread blocks SIGTERM before the program starts: no handler to wait for)
    if (args or wait_caught(p, signal.SIGTERM)) and p.stdout.readline() == b"go\n":
        size = fcntl.fcntl(p.stderr.fileno(), 1032)  # F_GETPIPE_SZ
        while not full and time.time() < end and p.poll() is None:
            n = struct.unpack("i", fcntl.ioctl(p.stderr.fileno(), termios.FIONREAD,
                                               b"\0\0\0\0"))[0]
            full = n >= size
            time.sleep(0.01)
    if not full:
        p.kill()
        p.wait()
        return result(False, name, "its stderr never filled: %s" % p.returncode)
    p.send_signal(signal.SIGTERM)
    rc = finish(p, 30)
    err = p.stderr.read().decode(errors="replace")
    if rc != 143:
        return result(False, name, "status %s (143 wanted; None: still running 30 s on)"
                      % rc)
    if sanitizer(err):
        return result(False, name, "a sanitizer report: %r" % err[-300:])
    result(True, name)


def block_signals(sigs):
    """For preexec_fn: the child starts with sigs blocked (a mask survives execve)."""
    return lambda: signal.pthread_sigmask(signal.SIG_BLOCK, sigs)


def case_inherited_mask():
    """Started with SIGTERM, SIGINT and SIGALRM blocked (a parent's mask): SIGTERM still
    stops a spinning program, and a blocked read still gets its 5 s of grace, as with the
    signal thread (whose sigwait takes them blocked or not)."""
    name = "inherited-mask-running"
    spin = write("spin.wat", SPIN_WAT)
    out, errp = os.path.join(TMP, "mask.out"), os.path.join(TMP, "mask.err")
    sigs = {signal.SIGTERM, signal.SIGINT, signal.SIGALRM}
    with open(out, "w") as fo, open(errp, "w") as fe:
        p = subprocess.Popen([LODGE, "wasm", spin], stdin=subprocess.DEVNULL, stdout=fo,
                             stderr=fe, preexec_fn=block_signals(sigs))
    if not wait_out(p, out, "go"):
        p.kill()
        p.wait()
        return result(False, name, "no output: %r" % open(errp).read()[-300:])
    p.send_signal(signal.SIGTERM)
    rc = finish(p, 30)
    err = open(errp).read()
    if rc != 143 or err != "lodge wasm: Terminated: the program stops\n":
        result(False, name, "status %s (143 wanted; None: still running 30 s on), "
               "stderr %r" % (rc, err))
    else:
        result(True, name)
    name = "inherited-mask-blocked"
    p = start_opener(block_signals(sigs))
    if p is None:
        return result(False, name, "it never blocked opening the FIFO")
    p.send_signal(signal.SIGTERM)
    rc = finish(p, 30)
    err = p.stderr.read().decode()
    p.stdin.close()
    if rc != 143 or "the process ends without it" not in err:
        return result(False, name, "status %s (143 after 5 s wanted; None: still running "
                      "30 s on), stderr %r" % (rc, err))
    result(True, name)


for mode, args in (("interp", ["--no-jit"]), ("jit", ["--jit-hot", "1"])):
    case_running(mode, args, signal.SIGTERM)
    case_running(mode, args, signal.SIGINT)
    case_other_thread(mode, args)
    case_sleeping(mode, SLEEPER_WAT, args)
    case_sleeping("thread-" + mode, THREAD_SLEEPER_WAT, args, thread=True)
    case_blocked_io(mode, args, "read")
    case_blocked_io(mode, args, "write")
for hot in ("3", "7"):
    case_running("jit-hot-" + hot, ["--jit-hot", hot], signal.SIGTERM, "crossing", CROSSING_WAT)
case_blocked(False)
case_blocked(True)
case_loading()
case_inherited_mask()
case_full_stderr([])
case_full_stderr(["--exit-file", os.path.join(TMP, "fullerr.exit")])
