#!/bin/sh
# Live migration of WebAssembly programs (issue 11): stop and copy and pre-copy between
# `lodge wasm --api` and `lodge wasm --incoming`, with slow, silent, vanishing and hostile
# peers (tests/wsnap/suite.py, WSNAP_PART=migrate). Post-copy is the suite wsnap-postcopy.
set -u
top=${LODGE_TOP:-$(cd "$(dirname "$0")/../.." && pwd)}
WSNAP_PART=migrate exec python3 "$top/tests/wsnap/suite.py"
