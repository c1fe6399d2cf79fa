;; The JIT tier against the interpreter (tests/wasm/suite.sh runs each export both ways and
;; wants the same output): exact fuel at calls and loop back-edges, the call-depth and
;; value-stack limits, recursion deeper than translated code may nest on the host stack,
;; memory growing under running code (in the function itself and in a callee), traps and
;; their offsets, loops entered in the interpreter and finished in translated code (OSR),
;; NaN payloads, and cached locals around calls.
(module
  (memory 1)
  (table 4 funcref)
  (elem (i32.const 0) $leaf $three $leaf2)
  (type $i_i (func (param i32) (result i32)))
  (type $ii_i (func (param i32 i32) (result i32)))

  (func $leaf (param i32) (result i32) (i32.add (local.get 0) (i32.const 1)))
  (func $leaf2 (param i32) (result i32) (i32.mul (local.get 0) (i32.const 2)))
  (func $three (param i32 i32) (result i32) (i32.add (local.get 0) (local.get 1)))

  ;; n iterations, a call in each: 1 + n calls and n back-edges of fuel
  (func (export "count") (param $n i32) (result i32)
    (local $i i32) (local $s i32)
    (block $out
      (loop $top
        (br_if $out (i32.ge_u (local.get $i) (local.get $n)))
        (local.set $s (call $leaf (local.get $s)))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $top)))
    (local.get $s))

  ;; recursion n deep: small frames (the frame count binds) and large ones (the slots)
  (func $small (export "small") (param $n i32) (result i32)
    (if (result i32) (i32.eqz (local.get $n))
      (then (i32.const 0))
      (else (i32.add (call $small (i32.sub (local.get $n) (i32.const 1))) (i32.const 1)))))
  (func $big (export "big") (param $n i32) (result i32)
    (local f64 f64 f64 f64 f64 f64 f64 f64 f64 f64 f64 f64 f64 f64 f64 f64)
    (if (result i32) (i32.eqz (local.get $n))
      (then (i32.const 0))
      (else (i32.add (call $big (i32.sub (local.get $n) (i32.const 1))) (i32.const 1)))))

  ;; grows memory page by page, storing into each new page; the sum of what it reads back
  (func $grow1 (result i32) (memory.grow (i32.const 1)))
  (func (export "grow_write") (param $n i32) (result i32)
    (local $p i32) (local $s i32) (local $i i32)
    (loop $l
      (local.set $p (i32.mul (memory.grow (i32.const 1)) (i32.const 65536)))
      (i32.store offset=100 (local.get $p) (i32.add (local.get $i) (i32.const 7)))
      ;; a callee grows it too: the base may move under this function
      (local.set $p (i32.mul (call $grow1) (i32.const 65536)))
      (i32.store offset=200 (local.get $p) (local.get $i))
      (local.set $s (i32.add (local.get $s) (i32.load offset=100 (i32.sub (local.get $p) (i32.const 65536)))))
      (local.set $s (i32.add (local.get $s) (i32.load offset=200 (local.get $p))))
      (br_if $l (i32.lt_u (local.tee $i (i32.add (local.get $i) (i32.const 1))) (local.get $n))))
    (i32.add (local.get $s) (memory.size)))

  ;; call_indirect: a type mismatch, an index past the table, a null entry
  (func (export "indirect") (param $k i32) (result i32)
    (call_indirect (type $i_i) (i32.const 5) (local.get $k)))

  ;; a loop that runs long enough to be translated while it runs (OSR); its result depends
  ;; on every iteration and on locals kept in registers across calls
  (func (export "osr") (param $n i32) (result i64)
    (local $i i32) (local $a i64) (local $b i64) (local $c i32)
    (local.set $a (i64.const 1))
    (loop $l
      (local.set $b (i64.add (i64.mul (local.get $a) (i64.const 6364136223846793005))
                             (i64.extend_i32_u (local.get $i))))
      (local.set $c (i32.add (local.get $c) (call $leaf2 (i32.wrap_i64 (local.get $b)))))
      (local.set $a (i64.xor (local.get $b) (i64.shr_u (local.get $b) (i64.const 29))))
      (br_if $l (i32.ne (local.tee $i (i32.add (local.get $i) (i32.const 1))) (local.get $n))))
    (i64.add (local.get $a) (i64.extend_i32_u (local.get $c))))

  ;; NaN payloads: arithmetic keeps the first operand's, bit ops keep them exactly
  (func (export "nan_add") (result i32)
    (i32.reinterpret_f32 (f32.add (f32.reinterpret_i32 (i32.const 0x7fa00001))
                                  (f32.reinterpret_i32 (i32.const 0x7fb00002)))))
  (func (export "nan_sub") (result i64)
    (i64.reinterpret_f64 (f64.sub (f64.reinterpret_i64 (i64.const 0x7ff4000000000001))
                                  (f64.reinterpret_i64 (i64.const 0xfff8000000000002)))))
  (func (export "nan_bits") (result i32)
    (i32.xor (i32.reinterpret_f32 (f32.neg (f32.reinterpret_i32 (i32.const 0x7f800001))))
             (i32.reinterpret_f32 (f32.abs (f32.copysign (f32.reinterpret_i32 (i32.const 0xffc00003))
                                                         (f32.const -1))))))
  (func (export "nan_store") (result i64)
    (f64.store (i32.const 64) (f64.reinterpret_i64 (i64.const 0x7ff0000000000005)))
    (i64.load (i32.const 64)))
  (func (export "nan_ceil") (result i32)
    (i32.reinterpret_f32 (f32.ceil (f32.reinterpret_i32 (i32.const 0x7fa00001)))))
  (func (export "nan_demote") (result i32)
    (i32.reinterpret_f32 (f32.demote_f64 (f64.reinterpret_i64 (i64.const 0x7ff4000000000123)))))

  ;; traps inside translated code, with their offsets: bounds (a folded address add that
  ;; wraps is in bounds), division, conversion
  (func (export "load_at") (param $a i32) (result i32)
    (i32.load offset=8 (i32.add (local.get $a) (i32.const 16))))
  (func (export "divs") (param i32 i32) (result i32) (i32.div_s (local.get 0) (local.get 1)))
  (func (export "rems") (param i64 i64) (result i64) (i64.rem_s (local.get 0) (local.get 1)))
  (func (export "trunc") (param f64) (result i32) (i32.trunc_f64_s (local.get 0)))
)
