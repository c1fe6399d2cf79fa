;; Test program for tests/wasm/suite.sh: the JIT's translation of the threads proposal's
;; atomics and of typed function references. Each export runs interpreted and with every
;; function translated (the suite also checks, through LODGE_PERF_MAP, that these
;; functions were translated rather than left to the interpreter): every width of every
;; read-modify-write with operands whose high bits are set (wrapped to the width, results
;; zero-extended), compare-exchange that succeeds and fails, loops with the operands in
;; cached registers, misaligned and out-of-bounds accesses trapping at their offsets,
;; call_ref to translated, interpreted-only and host functions, null references trapping.
(module
  (import "wasi_snapshot_preview1" "proc_exit" (func $exit (param i32)))
  (memory 1 1 shared)
  (type $op (func (param i64 i64) (result i64)))
  (type $ex (func (param i32)))
  (func $add (type $op) (i64.add (local.get 0) (local.get 1)))
  (func $mul (type $op) (i64.mul (local.get 0) (local.get 1)))
  (table $ops 2 (ref $op) (ref.func $add))
  (elem (table $ops) (i32.const 1) (ref $op) (ref.func $mul))
  (elem declare func $exit)
  (global $none (mut (ref null $op)) (ref.null $op))

  ;; h = h * 31 + x
  (func $h (param $h i64) (param $x i64) (result i64)
    (i64.add (i64.mul (local.get $h) (i64.const 31)) (local.get $x)))

  ;; every access kind at a (8-aligned) with v: a hash of the old values and of memory
  (func (export "mix") (param $a i32) (param $v i64) (result i64)
    (local $h i64)
    (i64.atomic.store (local.get $a) (i64.const 0x0123456789abcdef))
    (local.set $h (call $h (local.get $h) (i64.atomic.rmw.add (local.get $a) (local.get $v))))
    (local.set $h (call $h (local.get $h) (i64.atomic.rmw8.add_u (local.get $a) (local.get $v))))
    (local.set $h (call $h (local.get $h) (i64.atomic.rmw16.sub_u offset=2 (local.get $a) (local.get $v))))
    (local.set $h (call $h (local.get $h) (i64.atomic.rmw32.and_u offset=4 (local.get $a) (local.get $v))))
    (local.set $h (call $h (local.get $h) (i64.atomic.rmw.or (local.get $a) (local.get $v))))
    (local.set $h (call $h (local.get $h) (i64.atomic.rmw8.xor_u offset=7 (local.get $a) (local.get $v))))
    (local.set $h (call $h (local.get $h) (i64.atomic.rmw16.xchg_u (local.get $a) (local.get $v))))
    (local.set $h (call $h (local.get $h) (i64.atomic.rmw.sub (local.get $a) (local.get $v))))
    (local.set $h (call $h (local.get $h) (i64.atomic.rmw.xor (local.get $a) (local.get $v))))
    (local.set $h (call $h (local.get $h) (i64.atomic.rmw.xchg (local.get $a) (local.get $v))))
    (local.set $h (call $h (local.get $h) (i64.atomic.rmw32.xchg_u (local.get $a) (i64.const 77))))
    ;; compare-exchange: the expected value wrapped to the width (succeeds), then not
    (local.set $h (call $h (local.get $h)
      (i64.atomic.rmw32.cmpxchg_u (local.get $a) (i64.const 0x7700000000000077) (local.get $v))))
    (local.set $h (call $h (local.get $h)
      (i64.atomic.rmw8.cmpxchg_u offset=1 (local.get $a) (i64.const 5) (local.get $v))))
    (local.set $h (call $h (local.get $h)
      (i64.atomic.rmw16.cmpxchg_u offset=6 (local.get $a) (local.get $v) (i64.const 9))))
    (local.set $h (call $h (local.get $h)
      (i64.atomic.rmw.cmpxchg (local.get $a) (i64.atomic.load (local.get $a)) (i64.const -2))))
    ;; i32 forms
    (local.set $h (call $h (local.get $h) (i64.extend_i32_u
      (i32.atomic.rmw.add offset=8 (local.get $a) (i32.wrap_i64 (local.get $v))))))
    (local.set $h (call $h (local.get $h) (i64.extend_i32_u
      (i32.atomic.rmw8.or_u offset=9 (local.get $a) (i32.const -1)))))
    (local.set $h (call $h (local.get $h) (i64.extend_i32_u
      (i32.atomic.rmw16.and_u offset=10 (local.get $a) (i32.const 0xf0f0f0f)))))
    (local.set $h (call $h (local.get $h) (i64.extend_i32_u
      (i32.atomic.rmw16.sub_u offset=8 (local.get $a) (i32.const 0x10001)))))
    (local.set $h (call $h (local.get $h) (i64.extend_i32_u
      (i32.atomic.rmw.cmpxchg offset=8 (local.get $a) (i32.const 1) (i32.const 2)))))
    (local.set $h (call $h (local.get $h) (i64.extend_i32_u
      (i32.atomic.rmw8.xchg_u offset=11 (local.get $a) (i32.const 0x1ff)))))
    ;; stores of every width, loads of every width
    (i32.atomic.store8 offset=12 (local.get $a) (i32.const 0x1234))
    (i32.atomic.store16 offset=14 (local.get $a) (i32.const 0x56789))
    (i64.atomic.store8 offset=16 (local.get $a) (local.get $v))
    (i64.atomic.store16 offset=18 (local.get $a) (local.get $v))
    (i64.atomic.store32 offset=20 (local.get $a) (local.get $v))
    (i32.atomic.store offset=24 (local.get $a) (i32.wrap_i64 (local.get $v)))
    (local.set $h (call $h (local.get $h) (i64.atomic.load8_u offset=12 (local.get $a))))
    (local.set $h (call $h (local.get $h) (i64.atomic.load16_u offset=14 (local.get $a))))
    (local.set $h (call $h (local.get $h) (i64.atomic.load32_u offset=16 (local.get $a))))
    (local.set $h (call $h (local.get $h) (i64.atomic.load offset=16 (local.get $a))))
    (local.set $h (call $h (local.get $h) (i64.extend_i32_u (i32.atomic.load8_u offset=19 (local.get $a)))))
    (local.set $h (call $h (local.get $h) (i64.extend_i32_u (i32.atomic.load16_u offset=22 (local.get $a)))))
    (local.set $h (call $h (local.get $h) (i64.extend_i32_u (i32.atomic.load offset=24 (local.get $a)))))
    (atomic.fence)
    (local.set $h (call $h (local.get $h) (i64.load (local.get $a))))
    (local.set $h (call $h (local.get $h) (i64.load offset=8 (local.get $a))))
    (call $h (local.get $h) (i64.load offset=24 (local.get $a))))

  ;; n rounds of read-modify-writes with their operands in the loop's cached locals
  (func (export "loop") (param $n i32) (result i64)
    (local $i i32) (local $x i64) (local $h i64)
    (local.set $x (i64.const 0x5555aaaa3333cccc))
    (loop $l
      (local.set $h (i64.xor (local.get $h) (i64.atomic.rmw.and (i32.const 64) (local.get $x))))
      (local.set $h (i64.add (local.get $h) (i64.atomic.rmw.or (i32.const 64) (local.get $h))))
      (local.set $h (i64.add (local.get $h)
        (i64.extend_i32_u (i32.atomic.rmw16.xor_u (i32.const 72) (local.get $i)))))
      (local.set $h (i64.add (local.get $h)
        (i64.extend_i32_u (i32.atomic.rmw8.and_u (i32.const 75) (i32.wrap_i64 (local.get $h))))))
      (local.set $x (i64.rotl (local.get $x) (i64.const 7)))
      (br_if $l (i32.lt_u (local.tee $i (i32.add (local.get $i) (i32.const 1))) (local.get $n))))
    (i64.add (local.get $h) (i64.load (i32.const 64))))

  ;; one access of each shape at a, for the traps
  (func (export "rmw16") (param $a i32) (result i32)
    (i32.atomic.rmw16.add_u offset=2 (local.get $a) (i32.const 1)))
  (func (export "cmpxchg64") (param $a i32) (result i64)
    (i64.atomic.rmw.cmpxchg (local.get $a) (i64.const 0) (i64.const 1)))
  (func (export "and32") (param $a i32) (result i32)
    (i32.atomic.rmw.and offset=4 (local.get $a) (i32.const 1)))
  (func (export "store8") (param $a i32)
    (i32.atomic.store8 offset=65535 (local.get $a) (i32.const 1)))
  (func (export "notify") (param $a i32) (result i32)
    (memory.atomic.notify offset=4 (local.get $a) (i32.const 1)))
  (func (export "wait") (param $a i32) (result i32)
    (memory.atomic.wait32 (local.get $a) (i32.const 1) (i64.const 0)))

  ;; typed function references
  (func (export "apply") (param i32 i64 i64) (result i64)
    (call_ref $op (local.get 1) (local.get 2) (table.get $ops (local.get 0))))
  (func (export "apply_sum") (param $n i32) (result i64)
    (local $i i32) (local $s i64)
    (loop $l
      (local.set $s (call_ref $op (local.get $s) (i64.extend_i32_u (local.get $i))
        (table.get $ops (i32.and (local.get $i) (i32.const 1)))))
      (br_if $l (i32.lt_u (local.tee $i (i32.add (local.get $i) (i32.const 1))) (local.get $n))))
    (local.get $s))
  (func (export "call_null") (param i64) (result i64)
    (call_ref $op (local.get 0) (local.get 0) (global.get $none)))
  (func (export "as_non_null") (param $k i32) (result i32)
    (if (local.get $k) (then (global.set $none (table.get $ops (i32.const 0)))))
    (ref.is_null (ref.as_non_null (global.get $none))))
  (func (export "exit_ref") (param i32)
    (call_ref $ex (local.get 0) (ref.func $exit)))
)
