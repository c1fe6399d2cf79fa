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
#   DIFF_MUTANT_SEEDS=A-B  seeds for the mutation check (default 1-16), which builds
#                  build/MODE/mutant/lodge (a wrong sraw) and needs one to differ
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

# Mutation check: the same comparison against a lodge whose interpreter computes sraw
# wrongly (LODGE_MUTANT_SRAW, built from this lodge's objects: tests/diff/diff.mk) must
# report differences, or the suite could not catch a wrong instruction.
build=$(dirname "$(readlink -f "$lodge")")
mode=$(basename "$build")
if [ -n "${DIFF_SEED:-}" ]; then
	exit 0 # a run of chosen seeds, not the suite
fi
case $mode in
release | asan | tsan | debug | coverage) ;;
*)
	echo "SKIP: diff.mutant_caught: $lodge is not in build/MODE/ (cannot build its mutant)"
	exit 0
	;;
esac
if ! MAKEFLAGS= make -s -C "$top" MODE="$mode" "build/$mode/mutant/lodge" \
	>"$out/mutant-build.log" 2>&1; then
	echo "FAIL: diff.mutant_caught: building the mutant failed: $(tail -n 1 "$out/mutant-build.log")"
	exit 0
fi
# One program whose registers or memory differ is enough: the seeds run one at a time
# and the first that fails ends the check, so it costs a program or two instead of 16.
# Only a difference the comparison found counts: a mutant that hangs, traps or prints
# nothing (as one linked without its devices did) says nothing about the comparison.
DIFF_JOBS=1 $gen run --first-fail --seeds "${DIFF_MUTANT_SEEDS:-1-16}" --insns "$insns" \
	--lodge "$build/mutant/lodge" --out "$out/mutant" ${DIFF_MODE:+--mode "$DIFF_MODE"} \
	>"$out/mutant.log" 2>&1
caught=$(sed -n 's/^FAIL: diff\.\([^:]*\): first difference: .*/\1/p' "$out/mutant.log")
if [ -n "$caught" ]; then
	echo "PASS: diff.mutant_caught ($caught differs, after $(grep -c '^PASS: ' "$out/mutant.log") that did not)"
elif grep -q '^FAIL: ' "$out/mutant.log"; then
	echo "FAIL: diff.mutant_caught: the mutant failed otherwise, not by a difference:" \
		"$(grep -m 1 '^FAIL: ' "$out/mutant.log" | cut -c 1-300)"
else
	echo "FAIL: diff.mutant_caught: no program differed on a lodge with a wrong sraw" \
		"(the generator no longer exercises sraw? see $out/mutant.log)"
fi
exit 0
