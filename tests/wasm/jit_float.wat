;; f32/f64 values in the JIT's xmm cache registers against the interpreter
;; (tests/wasm/suite.sh runs each export both ways and wants the same output). Every value
;; here lives in a loop, so the translator keeps it in an xmm register: NaN payloads kept
;; exactly through locals, moves, selects, memory and calls (a callee uses the same
;; registers for its own floats, a helper runs C that may use any xmm register), -0.0, min
;; and max of NaNs and zeros (C helpers between register operands), conversions that trap
;; at their own offsets, and float slots that integer ops reuse (operand-stack slots hold
;; values of any type).
(module
  (memory 1)
  (global $g (mut f64) (f64.const 0))

  ;; floats of its own in the same registers; a float result
  (func $clobber (param $x f64) (result f64)
    (local $i i32) (local $a f64) (local $b f64)
    (loop $l
      (local.set $a (f64.add (local.get $a) (f64.mul (local.get $x) (f64.const 1.5))))
      (local.set $b (f64.sub (local.get $b) (local.get $a)))
      (br_if $l (i32.lt_u (local.tee $i (i32.add (local.get $i) (i32.const 1))) (i32.const 4))))
    (f64.add (local.get $a) (local.get $b)))
  (func $clobber32 (param $x f32) (result f32)
    (local $i i32) (local $a f32)
    (loop $l
      (local.set $a (f32.add (local.get $a) (f32.mul (local.get $x) (f32.const -2.25))))
      (br_if $l (i32.lt_u (local.tee $i (i32.add (local.get $i) (i32.const 1))) (i32.const 3))))
    (local.get $a))

  ;; a signalling NaN's bits in a local, through bit ops, moves and calls
  (func (export "nan_call64") (param $n i32) (result i64)
    (local $v f64) (local $w f64) (local $acc f64) (local $i i32)
    (local.set $v (f64.reinterpret_i64 (i64.const 0x7ff0000000000123)))
    (loop $l
      (local.set $acc (f64.add (local.get $acc) (call $clobber (f64.convert_i32_u (local.get $i)))))
      (local.set $w (f64.neg (f64.abs (local.get $v))))
      (local.set $v (f64.neg (local.get $w)))
      (br_if $l (i32.lt_u (local.tee $i (i32.add (local.get $i) (i32.const 1))) (local.get $n))))
    (i64.xor (i64.reinterpret_f64 (local.get $v))
             (i64.shl (i64.trunc_f64_s (local.get $acc)) (i64.const 32))))

  ;; the same in f32: the upper half of an f32's slot is never looked at
  (func (export "nan_call32") (param $n i32) (result i32)
    (local $v f32) (local $acc f32) (local $i i32)
    (local.set $v (f32.reinterpret_i32 (i32.const 0x7f800321)))
    (loop $l
      (local.set $acc (f32.add (local.get $acc) (call $clobber32 (f32.convert_i32_s (local.get $i)))))
      (local.set $v (f32.copysign (local.get $v) (f32.const 1)))
      (br_if $l (i32.lt_u (local.tee $i (i32.add (local.get $i) (i32.const 1))) (local.get $n))))
    (i32.xor (i32.reinterpret_f32 (local.get $v)) (i32.trunc_f32_s (local.get $acc))))

  ;; arithmetic on a signalling NaN in registers: quieted, the first operand's payload
  (func (export "nan_arith") (param $n i32) (result i64)
    (local $v f64) (local $r f64) (local $q f32) (local $i i32)
    (local.set $v (f64.reinterpret_i64 (i64.const 0xfff0000000000777)))
    (local.set $q (f32.reinterpret_i32 (i32.const 0x7fa00005)))
    (loop $l
      (local.set $r (f64.mul (local.get $v) (f64.reinterpret_i64 (i64.const 0x7ff8000000000999))))
      (local.set $q (f32.add (local.get $q) (f32.const 1)))
      (br_if $l (i32.lt_u (local.tee $i (i32.add (local.get $i) (i32.const 1))) (local.get $n))))
    (i64.add (i64.reinterpret_f64 (local.get $r))
             (i64.extend_i32_u (i32.reinterpret_f32 (local.get $q)))))

  ;; -0.0 through add, mul, min, max, sqrt and nearest in registers
  (func (export "neg_zero") (param $n i32) (result i64)
    (local $z f64) (local $m f64) (local $x f64) (local $s f64) (local $i i32) (local $bits i64)
    (local.set $z (f64.const -0))
    (loop $l
      (local.set $z (f64.add (local.get $z) (f64.const -0)))
      (local.set $m (f64.min (f64.const 0) (local.get $z)))
      (local.set $x (f64.max (local.get $z) (f64.const 0)))
      (local.set $s (f64.nearest (f64.mul (f64.sqrt (local.get $m)) (f64.const 0.25))))
      (local.set $bits (i64.add (i64.rotl (local.get $bits) (i64.const 1))
                                (i64.add (i64.reinterpret_f64 (local.get $s))
                                         (i64.reinterpret_f64 (local.get $x)))))
      (br_if $l (i32.lt_u (local.tee $i (i32.add (local.get $i) (i32.const 1))) (local.get $n))))
    (local.get $bits))

  ;; min and max with NaN operands (payloads in both), f32 and f64
  (func (export "minmax_nan") (param $n i32) (result i64)
    (local $a f64) (local $b f64) (local $c f32) (local $d f32) (local $i i32) (local $h i64)
    (local.set $a (f64.reinterpret_i64 (i64.const 0x7ff0000000000042)))
    (local.set $b (f64.const 1.5))
    (local.set $c (f32.const -3))
    (local.set $d (f32.reinterpret_i32 (i32.const 0xffc00011)))
    (loop $l
      (local.set $h (i64.xor (i64.rotl (local.get $h) (i64.const 7))
        (i64.add (i64.reinterpret_f64 (f64.min (local.get $a) (local.get $b)))
                 (i64.reinterpret_f64 (f64.max (local.get $b) (local.get $a))))))
      (local.set $h (i64.add (local.get $h)
        (i64.extend_i32_u (i32.xor (i32.reinterpret_f32 (f32.min (local.get $c) (local.get $d)))
                                   (i32.reinterpret_f32 (f32.max (local.get $d) (local.get $c)))))))
      (local.set $b (f64.add (local.get $b) (f64.const 1)))
      (br_if $l (i32.lt_u (local.tee $i (i32.add (local.get $i) (i32.const 1))) (local.get $n))))
    (local.get $h))

  ;; doubles until i32.trunc_f64_s overflows: a trap at the conversion's offset
  (func (export "trunc_trap") (param $n i32) (result i32)
    (local $x f64) (local $s i32) (local $i i32)
    (local.set $x (f64.const 1))
    (loop $l
      (local.set $x (f64.mul (local.get $x) (f64.const 2)))
      (local.set $s (i32.add (local.get $s) (i32.trunc_f64_s (local.get $x))))
      (br_if $l (i32.lt_u (local.tee $i (i32.add (local.get $i) (i32.const 1))) (local.get $n))))
    (local.get $s))
  ;; a NaN reached in registers: invalid conversion; the saturating form gives 0
  (func (export "trunc_nan") (param $n i32) (param $sat i32) (result i64)
    (local $x f32) (local $s i64) (local $i i32)
    (local.set $x (f32.const 3))
    (loop $l
      (local.set $x (f32.sub (local.get $x) (f32.const 1)))
      (local.set $x (f32.div (local.get $x) (local.get $x)))
      (local.set $x (f32.sub (local.get $x) (f32.const 1)))
      (local.set $s (i64.add (local.get $s)
        (if (result i64) (local.get $sat)
          (then (i64.trunc_sat_f32_u (f32.div (f32.const 0) (local.get $x))))
          (else (i64.trunc_f32_u (f32.div (f32.const 0) (local.get $x)))))))
      (br_if $l (i32.lt_u (local.tee $i (i32.add (local.get $i) (i32.const 1))) (local.get $n))))
    (local.get $s))

  ;; NaNs through memory, select, a global, bulk memory ops done in C
  (func (export "nan_mem") (param $n i32) (result i64)
    (local $a f64) (local $b f64) (local $f f32) (local $i i32) (local $h i64)
    (i64.store (i32.const 8) (i64.const 0x7ff4000000000abc))
    (i32.store (i32.const 16) (i32.const 0xff800def))
    (loop $l
      (local.set $a (f64.load (i32.const 8)))
      (local.set $b (select (local.get $a) (f64.const 2.5) (i32.and (local.get $i) (i32.const 1))))
      (f64.store (i32.const 24) (local.get $b))
      (global.set $g (local.get $b))
      (local.set $f (f32.load (i32.const 16)))
      ;; C code that may use any xmm register (memmove, memset) with $a, $b, $f live
      (memory.copy (i32.const 4096) (i32.const 8192) (i32.const 20000))
      (memory.fill (i32.const 30000) (local.get $i) (i32.const 9000))
      (f32.store (i32.const 32) (f32.neg (local.get $f)))
      (local.set $h (i64.add (i64.rotl (local.get $h) (i64.const 3))
        (i64.add (i64.load (i32.const 24))
                 (i64.add (i64.reinterpret_f64 (global.get $g))
                          (i64.load32_u (i32.const 32))))))
      (br_if $l (i32.lt_u (local.tee $i (i32.add (local.get $i) (i32.const 1))) (local.get $n))))
    (local.get $h))
)
