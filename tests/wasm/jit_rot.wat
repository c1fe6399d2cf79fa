;; Rotates by constants in the JIT (tests/wasm/suite.sh runs it interpreted and with the
;; JIT forced): one rorx where the host has BMI2, else a move and rol/ror.
(module
  ;; rotates by constants (rorx where the host has BMI2): plain, fused into xor/add, the
  ;; rotl-xor-rotl superinstruction, counts past the width and of 0
  (func (export "rotates") (param $n i32) (result i64)
    (local $x i32) (local $y i32) (local $z i64) (local $i i32)
    (local.set $x (i32.const 0x12345678))
    (local.set $y (i32.const 0x9abcdef1))
    (local.set $z (i64.const 0x0123456789abcdef))
    (loop $l
      (local.set $x (i32.add (i32.rotl (local.get $x) (i32.const 7)) (local.get $i)))
      (local.set $y (i32.xor (local.get $y) (i32.rotr (local.get $x) (i32.const 45))))
      (local.set $x (i32.xor (i32.rotl (local.get $y) (i32.const 26))
                             (i32.rotl (local.get $x) (i32.const 21))))
      (local.set $z (i64.xor (local.get $z) (i64.rotl (local.get $z) (i64.const 29))))
      (local.set $z (i64.add (i64.rotr (local.get $z) (i64.const 63))
                             (i64.extend_i32_u (i32.rotl (local.get $y) (i32.const 0)))))
      (local.set $y (i32.add (local.get $y) (i32.rotl (local.get $x) (i32.const 3))))
      (br_if $l (i32.lt_u (local.tee $i (i32.add (local.get $i) (i32.const 1))) (local.get $n))))
    (i64.xor (local.get $z) (i64.shl (i64.extend_i32_u (i32.xor (local.get $x) (local.get $y)))
                                     (i64.const 17))))
)
