# Differential tests against qemu-riscv64 (tests/diff/). Included by the top Makefile.
#   make diff-test                       the suite: seeds 1..40 against build/lodge
#   make diff-test DIFF_SEEDS=500        a longer soak (seeds 1..500)
#   make diff-test DIFF_SEED=17          one seed (or 100-200, or 1,5,9); programs kept
#   make diff-min DIFF_SEED=17           shrink a failing seed to the units that matter
# Programs are written to build/diff/; failing ones stay there.

.PHONY: diff-test diff-min

diff-test: build/lodge
	@LODGE=$(CURDIR)/build/lodge LODGE_TOP=$(CURDIR) sh tests/diff/suite.sh | awk \
		'{ print } /^PASS: /{ p++ } /^FAIL: /{ f++ } /^SKIP: /{ s++ } \
		END { printf "%d passed, %d failed, %d skipped\n", p, f, s; exit f > 0 }'

diff-min: build/lodge
	@test -n "$(DIFF_SEED)" || { echo "diff-min: set DIFF_SEED=N"; exit 2; }
	@python3 tests/diff/gen.py minimize --seed $(DIFF_SEED) --lodge build/lodge \
		$(if $(DIFF_INSNS),--insns $(DIFF_INSNS)) $(if $(DIFF_MODE),--mode $(DIFF_MODE))

# The mutation check (tests/diff/suite.sh): this mode's lodge with one deliberately wrong
# instruction (exec.c under -DLODGE_MUTANT_SRAW), linked from the mode's own objects, so it
# costs one compile. The differential suite must fail against it. Every object is linked
# as lodge's --whole-archive does: devices register themselves from constructors, and a
# lodge linked from the archive without them has no UART or finisher (every program ran
# to its timeout with no output, which passed the check whatever the comparison did).
$(BUILD)/mutant/lodge: $(BUILD)/mutant/exec.o $(BUILD)/src/cli/main.o \
		$(filter-out $(BUILD)/src/cpu/exec.o,$(LIB_OBJS)) tests/diff/diff.mk
	@echo "  LD      $@"
	@$(CC) $(LDFLAGS) -o $@ $(filter %.o,$^) $(LIBS)

$(BUILD)/mutant/exec.o: src/cpu/exec.c
	@mkdir -p $(dir $@)
	@echo "  CC      $@"
	@$(CC) $(CFLAGS) -DLODGE_MUTANT_SRAW -c -o $@ $<
