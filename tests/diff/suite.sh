#!/bin/sh
# Differential tests: random RV64GC instruction sequences from gen.py run on qemu-riscv64
# (Linux user mode, the reference) and on `$LODGE run --bare`; registers, fcsr and memory
# must match. One line per program. Environment:
#   LODGE          lodge binary (set by tests/run.sh; default build/lodge)
#   DIFF_SEEDS=N   run seeds 1..N (default 40)
#   DIFF_SEED=S    run exactly these seeds instead, and keep their programs: 17, 100-200
#   DIFF_INSNS=N   instructions per program (default 400)
#   DIFF_MODE=M    bare side always in mode M (0 M-mode, 1 U Sv39, 2 S Sv39, 3 U Sv48)
#   DIFF_OUT=DIR   where programs go (default build/diff); failing ones are kept there
top=${LODGE_TOP:-$(cd "$(dirname "$0")/../.." && pwd)}
lodge=${LODGE:-$top/build/lodge}
out=${DIFF_OUT:-$top/build/diff}
cross=${DIFF_CROSS:-riscv64-linux-gnu-}
qemu=${DIFF_QEMU:-qemu-riscv64}
seeds=${DIFF_SEED:-1-${DIFF_SEEDS:-40}}
insns=${DIFF_INSNS:-400}

for tool in python3 "${cross}gcc" "$qemu"; do
	if ! command -v "$tool" >/dev/null 2>&1; then
		echo "SKIP: diff: $tool not found (scripts/install-deps.sh installs it)"
		exit 0
	fi
done

gen="python3 $top/tests/diff/gen.py"
$gen selftest --out "$out" --insns "$insns"
if [ ! -x "$lodge" ]; then
	echo "SKIP: diff: no lodge binary at $lodge (run make)"
	exit 0
fi
$gen run --seeds "$seeds" --insns "$insns" --lodge "$lodge" --out "$out" \
	${DIFF_MODE:+--mode "$DIFF_MODE"} ${DIFF_SEED:+--keep}
exit 0
