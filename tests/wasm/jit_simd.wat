;; v128 ops the JIT tier runs as single SSE instructions, against the interpreter
;; (tests/wasm/suite.sh runs each export both ways and wants the same output).
(module
  ;; v128 float arithmetic lane by lane (inline SSE): a's payload, else b's, else the
  ;; default NaN of an invalid op; andnot is a & ~b (the x86 instruction swaps them)
  (func (export "nan_simd32") (param $k i32) (result i64)
    (local $v v128)
    (local.set $v (f32x4.sub (v128.const i32x4 0x7fa00001 0x3f800000 0x7f800000 0x40000000)
                             (v128.const i32x4 0x7fb00002 0xff800010 0x7f800000 0x40400000)))
    (if (result i64) (local.get $k)
      (then (i64x2.extract_lane 1 (local.get $v)))
      (else (i64x2.extract_lane 0 (local.get $v)))))
  (func (export "nan_simd64") (param $k i32) (result i64)
    (local $v v128)
    (local.set $v (f64x2.div (v128.const i64x2 0x3ff0000000000000 0x7ff4000000000007)
                             (v128.const i64x2 0xfff0000000000009 0x7ff8000000000003)))
    (local.set $v (f64x2.mul (local.get $v) (v128.const i64x2 0x7ff8000000000005 0x4000000000000000)))
    (if (result i64) (local.get $k)
      (then (i64x2.extract_lane 1 (local.get $v)))
      (else (i64x2.extract_lane 0 (local.get $v)))))
  (func (export "andnot") (result i64)
    (i64x2.extract_lane 0 (v128.andnot (v128.const i64x2 0x00ff00ff00ff00ff 0)
                                       (v128.const i64x2 0x0f0f0f0f0f0f0f0f 0)))))
