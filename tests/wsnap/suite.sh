#!/bin/sh
# Snapshots of WebAssembly programs (issue 11): tests/wsnap/suite.py runs counter.wat
# under `lodge wasm --api`, pauses and snapshots it through the control socket, kills
# it and restores it in new processes (--no-jit and with the JIT), and feeds --restore
# truncated, corrupt and hostile files. Its migration, post-copy and replication cases
# are the suites wsnap-migrate, wsnap-postcopy and wsnap-replicate (the same file,
# WSNAP_PART), so that make test's lanes run the four side by side.
set -u
top=${LODGE_TOP:-$(cd "$(dirname "$0")/../.." && pwd)}
WSNAP_PART=core exec python3 "$top/tests/wsnap/suite.py"
