#!/usr/bin/env python3
"""For tests/wasm/suite.sh: runs a command with stdin inherited and stdout and stderr
into OUT, then prints its exit status (minus the signal number if a signal ended it),
its wall time in milliseconds (monotonic clock) and its peak resident memory in KiB:
    measure.py OUT COMMAND [ARGS...]"""
import os
import sys
import time

fd = os.open(sys.argv[1], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
start = time.monotonic()
pid = os.fork()
if pid == 0:
    try:
        os.dup2(fd, 1)
        os.dup2(fd, 2)
        os.execvp(sys.argv[2], sys.argv[2:])
    finally:
        os._exit(127)
_, status, usage = os.wait4(pid, 0)
ms = int((time.monotonic() - start) * 1000)
print(os.waitstatus_to_exitcode(status), ms, usage.ru_maxrss)
