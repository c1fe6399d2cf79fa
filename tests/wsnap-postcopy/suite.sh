#!/bin/sh
# Post-copy live migration of WebAssembly programs (issue 11): the program runs at the
# destination at once while its memory's pages fault in through userfaultfd, with
# growing memory, vanishing peers and hostile sources (tests/wsnap/suite.py,
# WSNAP_PART=postcopy). Its own suite so that make test's lanes run it beside
# wsnap-migrate.
set -u
top=${LODGE_TOP:-$(cd "$(dirname "$0")/../.." && pwd)}
WSNAP_PART=postcopy exec python3 "$top/tests/wsnap/suite.py"
