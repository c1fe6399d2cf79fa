# Scale benchmark of the host daemon (bench/host/scale.py): idle system guests and Wasm
# services under one daemon; memory per guest, start-to-first-line, API latency, daemon
# RSS. The release build; needs root and the default guest.
#   make bench-host SCALE_VMS=200 SCALE_WASM=1000     the issue's sizes (long)
#   SCALE_VM_START=restore: one guest boots, the others start from its idle snapshot;
#   SCALE_VM_BATCH=B: with boot, B guests boot at a time (each batch to its shell).
SCALE_VMS	?= 20
SCALE_WASM	?= 100
SCALE_VM_START	?= boot
SCALE_VM_BATCH	?= 4

.PHONY: bench-host

build/bench/apiload: bench/host/apiload.c
	@mkdir -p $(dir $@)
	$(CC) -O2 -Wall -Wextra -Werror -D_GNU_SOURCE -pthread -o $@ $<

bench-host: guest build/bench/apiload
	$(MAKE) MODE=release lodge build/release/daemon/service.wasm
	python3 bench/host/scale.py build/release/lodge build/release/daemon/service.wasm \
		guest-cache/out --vms $(SCALE_VMS) --wasm $(SCALE_WASM) --apiload build/bench/apiload \
		--vm-start $(SCALE_VM_START) --vm-batch $(SCALE_VM_BATCH)

# Wasm start latency with the daemon's warm pool against a daemon without one
# (bench/host/start.py): p50/p99 of start to first console line, and their ratio.
#   make bench-host-start START_REF=/path/to/main/build/release/lodge: both daemons pooled,
#   this build's starts against START_REF's (an A/B of two builds)
START_N		?= 40
START_REF	?=

.PHONY: bench-host-start

bench-host-start:
	$(MAKE) MODE=release lodge build/release/daemon/service.wasm
	python3 bench/host/start.py build/release/lodge build/release/daemon/service.wasm \
		--starts $(START_N) $(if $(START_REF),--ref $(START_REF))

# CPU of an idle default guest at its shell, this build against a reference binary
# (bench/host/idle.py): both boot side by side, then CPU, host wakes and the guest's
# timer interrupts over IDLE_SECS, IDLE_ROUNDS times; medians and this/reference ratios.
#   make bench-host-idle IDLE_REF=/path/to/main/build/release/lodge
IDLE_SECS	?= 30
IDLE_ROUNDS	?= 3
IDLE_MEM	?= 96

.PHONY: bench-host-idle

bench-host-idle:
	@test -n "$(IDLE_REF)" || { echo "bench-host-idle: set IDLE_REF to the reference lodge binary"; exit 2; }
	$(MAKE) MODE=release lodge
	python3 bench/host/idle.py build/release/lodge $(IDLE_REF) guest-cache/out \
		--secs $(IDLE_SECS) --rounds $(IDLE_ROUNDS) --mem $(IDLE_MEM)
