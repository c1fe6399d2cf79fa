#!/bin/sh
# Continuous replication of WebAssembly programs to `lodge wasm --standby` and failover
# (issue 11), with damaged streams and a slow standby (tests/wsnap/suite.py,
# WSNAP_PART=replicate).
set -u
top=${LODGE_TOP:-$(cd "$(dirname "$0")/../.." && pwd)}
WSNAP_PART=replicate exec python3 "$top/tests/wsnap/suite.py"
