#!/bin/sh
# The WebAssembly 3.0 spec suite (../shared/wasm-testsuite-3): tests/wasm-spec/suite.sh 3
# says which files run strictly and why.
top=${LODGE_TOP:-$(cd "$(dirname "$0")/../.." && pwd)}
exec sh "$top/tests/wasm-spec/suite.sh" 3
