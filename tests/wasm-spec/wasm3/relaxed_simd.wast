;; Lodge's deterministic choices for the relaxed SIMD instructions (WebAssembly 3.0), where
;; the spec suite accepts several answers (its "either" results): the interpreter and the
;; JIT (this file runs both ways) must give exactly these. See opcodes.def's relaxed block.
(module
  (func (export "swizzle") (param v128 v128) (result v128)
    (i8x16.relaxed_swizzle (local.get 0) (local.get 1)))
  (func (export "trunc_s") (param v128) (result v128) (i32x4.relaxed_trunc_f32x4_s (local.get 0)))
  (func (export "trunc_u") (param v128) (result v128) (i32x4.relaxed_trunc_f32x4_u (local.get 0)))
  (func (export "trunc_s_zero") (param v128) (result v128)
    (i32x4.relaxed_trunc_f64x2_s_zero (local.get 0)))
  (func (export "trunc_u_zero") (param v128) (result v128)
    (i32x4.relaxed_trunc_f64x2_u_zero (local.get 0)))
  (func (export "madd32") (param v128 v128 v128) (result v128)
    (f32x4.relaxed_madd (local.get 0) (local.get 1) (local.get 2)))
  (func (export "nmadd32") (param v128 v128 v128) (result v128)
    (f32x4.relaxed_nmadd (local.get 0) (local.get 1) (local.get 2)))
  (func (export "madd64") (param v128 v128 v128) (result v128)
    (f64x2.relaxed_madd (local.get 0) (local.get 1) (local.get 2)))
  (func (export "nmadd64") (param v128 v128 v128) (result v128)
    (f64x2.relaxed_nmadd (local.get 0) (local.get 1) (local.get 2)))
  (func (export "laneselect8") (param v128 v128 v128) (result v128)
    (i8x16.relaxed_laneselect (local.get 0) (local.get 1) (local.get 2)))
  (func (export "laneselect64") (param v128 v128 v128) (result v128)
    (i64x2.relaxed_laneselect (local.get 0) (local.get 1) (local.get 2)))
  (func (export "min32") (param v128 v128) (result v128) (f32x4.relaxed_min (local.get 0) (local.get 1)))
  (func (export "max32") (param v128 v128) (result v128) (f32x4.relaxed_max (local.get 0) (local.get 1)))
  (func (export "min64") (param v128 v128) (result v128) (f64x2.relaxed_min (local.get 0) (local.get 1)))
  (func (export "max64") (param v128 v128) (result v128) (f64x2.relaxed_max (local.get 0) (local.get 1)))
  (func (export "q15") (param v128 v128) (result v128) (i16x8.relaxed_q15mulr_s (local.get 0) (local.get 1)))
  (func (export "dot") (param v128 v128) (result v128)
    (i16x8.relaxed_dot_i8x16_i7x16_s (local.get 0) (local.get 1)))
  (func (export "dot_add") (param v128 v128 v128) (result v128)
    (i32x4.relaxed_dot_i8x16_i7x16_add_s (local.get 0) (local.get 1) (local.get 2)))
  ;; in a loop, so a JIT forced at the first loop runs the translated body too
  (func (export "madd32_loop") (param v128 v128 v128 i32) (result v128)
    (local v128)
    (loop $l
      (local.set 4 (f32x4.relaxed_madd (local.get 0) (local.get 1) (local.get 2)))
      (br_if $l (local.tee 3 (i32.sub (local.get 3) (i32.const 1)))))
    (local.get 4))
)

;; swizzle: an index of 16 or more gives 0 (as i8x16.swizzle), whatever its top bit
(assert_return (invoke "swizzle"
    (v128.const i8x16 10 11 12 13 14 15 16 17 18 19 20 21 22 23 24 25)
    (v128.const i8x16 0 15 16 17 127 128 255 -1 1 2 3 31 32 64 -128 14))
  (v128.const i8x16 10 25 0 0 0 0 0 0 11 12 13 0 0 0 0 24))

;; truncations saturate, NaN -> 0 (as the trunc_sat instructions)
(assert_return (invoke "trunc_s" (v128.const f32x4 nan -nan 3e9 -3e9))
  (v128.const i32x4 0 0 2147483647 -2147483648))
(assert_return (invoke "trunc_u" (v128.const f32x4 nan -1.5 5e9 7.9))
  (v128.const i32x4 0 0 4294967295 7))
(assert_return (invoke "trunc_s_zero" (v128.const f64x2 nan -3e10))
  (v128.const i32x4 0 -2147483648 0 0))
(assert_return (invoke "trunc_u_zero" (v128.const f64x2 -nan 5e10))
  (v128.const i32x4 0 4294967295 0 0))

;; madd/nmadd are fused: one rounding (the unfused answer here would be 0 and inf)
(assert_return (invoke "madd32"
    (v128.const f32x4 0x1.000004p+0 0x1.fffffep+127 1 2)
    (v128.const f32x4 0x1.0002p+0 2.0 1 3)
    (v128.const f32x4 -0x1.000204p+0 -0x1.fffffep+127 1 4))
  (v128.const f32x4 0x1p-37 0x1.fffffep+127 2 10))
(assert_return (invoke "nmadd32"
    (v128.const f32x4 -0x1.000004p+0 0x1.fffffep+127 1 2)
    (v128.const f32x4 0x1.0002p+0 -2.0 1 3)
    (v128.const f32x4 -0x1.000204p+0 -0x1.fffffep+127 1 4))
  (v128.const f32x4 0x1p-37 0x1.fffffep+127 0 -2))
(assert_return (invoke "madd64"
    (v128.const f64x2 0x1.00000004p+0 0x1.fffffffffffffp+1023)
    (v128.const f64x2 0x1.00000004p+0 2.0)
    (v128.const f64x2 -0x1.00000008p+0 -0x1.fffffffffffffp+1023))
  (v128.const f64x2 0x1p-60 0x1.fffffffffffffp+1023))
(assert_return (invoke "nmadd64"
    (v128.const f64x2 0x1.00000004p+0 0x1.fffffffffffffp+1023)
    (v128.const f64x2 -0x1.00000004p+0 -2.0)
    (v128.const f64x2 -0x1.00000008p+0 -0x1.fffffffffffffp+1023))
  (v128.const f64x2 0x1p-60 0x1.fffffffffffffp+1023))
(assert_return (invoke "madd32_loop"
    (v128.const f32x4 0x1.000004p+0 0x1.000004p+0 0x1.000004p+0 0x1.000004p+0)
    (v128.const f32x4 0x1.0002p+0 0x1.0002p+0 0x1.0002p+0 0x1.0002p+0)
    (v128.const f32x4 -0x1.000204p+0 -0x1.000204p+0 -0x1.000204p+0 -0x1.000204p+0)
    (i32.const 3))
  (v128.const f32x4 0x1p-37 0x1p-37 0x1p-37 0x1p-37))
(assert_return (invoke "madd32" (v128.const f32x4 nan 1 inf 0) (v128.const f32x4 1 nan 0 inf)
    (v128.const f32x4 1 1 1 1))
  (v128.const f32x4 nan:arithmetic nan:arithmetic nan:arithmetic nan:arithmetic))

;; laneselect: every bit of the mask (as v128.bitselect), not only each lane's top bit
(assert_return (invoke "laneselect8"
    (v128.const i8x16 0xff 0xff 0xff 0xff 0 0 0 0 0xaa 0xaa 0xaa 0xaa 1 2 3 4)
    (v128.const i8x16 0 0 0 0 0xff 0xff 0xff 0xff 0x55 0x55 0x55 0x55 5 6 7 8)
    (v128.const i8x16 0x80 0x7f 0x0f 0xff 0x80 0x7f 0x0f 0xff 0xf0 0xf0 0 0xff 0 0 0 0))
  (v128.const i8x16 0x80 0x7f 0x0f 0xff 0x7f 0x80 0xf0 0 0xa5 0xa5 0x55 0xaa 5 6 7 8))
(assert_return (invoke "laneselect64"
    (v128.const i64x2 -1 0x1234)
    (v128.const i64x2 0 0x5678)
    (v128.const i64x2 0x8000000000000001 0))
  (v128.const i64x2 0x8000000000000001 0x5678))

;; min/max: as f32x4.min/max (a NaN operand gives NaN, -0 < +0), in either order
(assert_return (invoke "min32" (v128.const f32x4 nan 1 -0 0) (v128.const f32x4 1 nan 0 -0))
  (v128.const f32x4 nan:canonical nan:canonical -0 -0))
(assert_return (invoke "max32" (v128.const f32x4 nan 1 -0 0) (v128.const f32x4 1 nan 0 -0))
  (v128.const f32x4 nan:canonical nan:canonical 0 0))
(assert_return (invoke "min64" (v128.const f64x2 -0 0) (v128.const f64x2 0 -0))
  (v128.const f64x2 -0 -0))
(assert_return (invoke "max64" (v128.const f64x2 nan -0) (v128.const f64x2 1 0))
  (v128.const f64x2 nan:canonical 0))

;; q15mulr saturates: -32768 * -32768 gives 32767, not -32768
(assert_return (invoke "q15"
    (v128.const i16x8 -32768 -32768 16384 -1 32767 0 1 -32767)
    (v128.const i16x8 -32768 32767 16384 1 32767 5 1 -32767))
  (v128.const i16x8 32767 -32767 8192 0 32766 0 0 32766))

;; dot products take b's lanes as signed too; the 16-bit sums wrap
(assert_return (invoke "dot"
    (v128.const i8x16 -128 -128 -128 -127 127 127 1 2 0 0 0 0 0 0 0 0)
    (v128.const i8x16 -128 -128 -127 -127 -1 -1 -128 -128 0 0 0 0 0 0 0 0))
  (v128.const i16x8 -32768 32385 -254 -384 0 0 0 0))
(assert_return (invoke "dot_add"
    (v128.const i8x16 -128 -128 -128 -128 127 127 127 127 1 2 3 4 0 0 0 0)
    (v128.const i8x16 -127 -127 -127 -127 -1 -1 -1 -1 -128 -128 -128 -128 0 0 0 0)
    (v128.const i32x4 1 2 3 -2147483648))
  (v128.const i32x4 65025 -506 -1277 -2147483648))
