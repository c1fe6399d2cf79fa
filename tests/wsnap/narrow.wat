;; 32-bit slots that held 64-bit values before (tests/wsnap/suite.py, case_narrow_slots):
;; _start computes three i64s into its operand slots 1 to 3 and drops them, then leaves
;; an i32 in slot 1 and calls $spin with an i32 and an f32 in slots 2 and 3 (its
;; parameters). The interpreter writes a 32-bit value's low half only, so the upper
;; halves still hold the i64s' bits; $spin spins, and a pause parks at its loop's start:
;; a snapshot saves those slots zero-extended.
(module
  (func $spin (param $n i32) (param $f f32) (result i32)
    (local $k i32)
    (loop $l
      (local.set $k (i32.add (local.get $k) (i32.const 1)))
      (br_if $l (i32.ne (local.get $k) (i32.const 0x7fffffff))))
    (i32.add (local.get $n) (i32.trunc_f32_s (local.get $f))))
  (func (export "_start")
    (local $x i64)
    (local.set $x (i64.const 0x5a5a5a5a5a5a5a5a))
    (i64.or (local.get $x) (i64.const 0x0100000000000000))
    (i64.or (local.get $x) (i64.const 0x0200000000000000))
    (i64.or (local.get $x) (i64.const 0x0400000000000000))
    drop
    drop
    drop
    (i32.add (i32.wrap_i64 (local.get $x)) (i32.const 1))
    (call $spin (i32.add (i32.wrap_i64 (local.get $x)) (i32.const 7))
                (f32.convert_i32_s (i32.wrap_i64 (local.get $x))))
    i32.add
    drop))
