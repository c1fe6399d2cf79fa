;; Seed: fixed-width SIMD: constants, lanes, arithmetic, loads and stores.
(module
  (memory 1)
  (func (export "simd") (result i32)
    (v128.store (i32.const 16)
      (i32x4.add (v128.const i32x4 1 2 3 4) (v128.load (i32.const 0))))
    (v128.store8_lane 3 (i32.const 40) (v128.load (i32.const 16)))
    (i32x4.extract_lane 2
      (i8x16.shuffle 0 1 2 3 16 17 18 19 4 5 6 7 20 21 22 23
        (f32x4.mul (v128.const f32x4 1.5 2 3 4) (f32x4.splat (f32.const 2)))
        (i16x8.replace_lane 1 (v128.const i64x2 0 -1) (i32.const 9))))))
