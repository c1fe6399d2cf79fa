#!/bin/sh
# Snapshots of WebAssembly programs (issue 11): tests/wsnap/suite.py runs counter.wat
# under `lodge wasm --api`, pauses and snapshots it through the control socket, kills
# it and restores it in new processes (--no-jit and with the JIT), and feeds --restore
# truncated, corrupt and hostile files.
set -u
top=${LODGE_TOP:-$(cd "$(dirname "$0")/../.." && pwd)}
exec python3 "$top/tests/wsnap/suite.py"
