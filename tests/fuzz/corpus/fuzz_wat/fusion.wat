;; Test program for tests/wasm/suite.sh: code the compiler fuses into superinstructions
;; (an address add folded into a load's offset, indexed loads, an operation reading its
;; operand straight from memory) must keep Wasm's exact address arithmetic, including
;; 32-bit wraparound and the bounds check of the offset.
(module
  (memory 1)
  (data (i32.const 0) "\01\02\03\04\05\06\07\08")
  (data (i32.const 8) "\2a\00\00\00")                     ;; i32 42 at 8
  (data (i32.const 24) "\00\00\00\00\00\00\f8\3f")        ;; f64 1.5 at 24
  ;; folded: x + 16, wraps to 8 for x = -8
  (func (export "wrap_load") (param $x i32) (result i32)
    (i32.load (i32.add (local.get $x) (i32.const 16))))
  ;; folded with an offset: (x + 4) mod 2^32, then + 4 without wrapping
  (func (export "wrap_off") (param $x i32) (result i32)
    (i32.load offset=4 (i32.add (local.get $x) (i32.const 4))))
  ;; f64.add reading its operand from memory at a folded, wrapping address
  (func (export "wrap_fused") (param $x i32) (param $y f64) (result f64)
    (f64.add (local.get $y) (f64.load (i32.add (local.get $x) (i32.const 32)))))
  ;; base + (i << 2): indexed load, the shift and the add both wrap
  (func (export "idx_load") (param $base i32) (param $i i32) (result i32)
    (i32.load (i32.add (local.get $base) (i32.shl (local.get $i) (i32.const 2)))))
  ;; base + i with a byte load and an offset
  (func (export "idx_byte") (param $base i32) (param $i i32) (result i32)
    (i32.load8_u offset=1 (i32.add (local.get $base) (local.get $i))))
  ;; i32.sub with its second operand loaded (not commutative)
  (func (export "sub_load") (param $a i32) (param $p i32) (result i32)
    (i32.sub (local.get $a) (i32.load (local.get $p))))
  ;; the loaded value as the first operand of a commutative op
  (func (export "mul_load") (param $p i32) (param $b i64) (result i64)
    (i64.mul (i64.load (local.get $p)) (local.get $b)))
  ;; rotate/shift then combine (FUSE_IMM): sigma0 of SHA-256, and xorshift64
  (func (export "sigma0") (param $x i32) (result i32)
    (i32.xor (i32.xor (i32.rotl (local.get $x) (i32.const 25))
                      (i32.rotl (local.get $x) (i32.const 14)))
             (i32.shr_u (local.get $x) (i32.const 3))))
  (func (export "xorshift") (param $x i64) (result i64)
    (local.set $x (i64.xor (local.get $x) (i64.shr_u (local.get $x) (i64.const 12))))
    (local.set $x (i64.xor (local.get $x) (i64.shl (local.get $x) (i64.const 25))))
    (i64.xor (local.get $x) (i64.shr_u (local.get $x) (i64.const 27))))
  (func (export "andn") (param $a i32) (param $x i32) (result i32)
    (i32.and (local.get $a) (i32.xor (local.get $x) (i32.const -1))))
  ;; chains (FUSE_BIN): multiply-accumulate, sums, majority
  (func (export "mac") (param $a i32) (param $b i32) (param $c i32) (result i32)
    (i32.add (i32.mul (local.get $b) (local.get $c)) (local.get $a)))
  (func (export "mac64") (param $a i64) (param $b i64) (param $c i64) (result i64)
    (i64.add (local.get $a) (i64.mul (local.get $b) (local.get $c))))
  (func (export "maj") (param $a i32) (param $b i32) (param $c i32) (result i32)
    (i32.xor (i32.xor (i32.and (local.get $a) (local.get $b)) (i32.and (local.get $a) (local.get $c)))
             (i32.and (local.get $b) (local.get $c))))
  ;; a store through base + (i << 2), read back through a different expression
  (func (export "store_idx") (param $i i32) (param $v i32) (result i32)
    (i32.store (i32.add (i32.const 64) (i32.shl (local.get $i) (i32.const 2))) (local.get $v))
    (i32.load offset=64 (i32.mul (local.get $i) (i32.const 4))))
  ;; local-to-local copies (MOVE2): rotate three values
  (func (export "rot3") (param $a i32) (param $b i32) (param $c i32) (result i32) (local $t i32)
    (local.set $t (local.get $a))
    (local.set $a (local.get $b))
    (local.set $b (local.get $c))
    (local.set $c (local.get $t))
    (i32.add (local.get $a) (i32.add (i32.mul (local.get $b) (i32.const 10))
                                     (i32.mul (local.get $c) (i32.const 100)))))
  ;; two induction variables stepped together (I32_ADD_I2), one read by the other
  (func (export "steps") (param $n i32) (result i32) (local $i i32) (local $j i32) (local $s i32)
    (block $done
      (loop $l
        (br_if $done (i32.ge_u (local.get $i) (local.get $n)))
        (local.set $s (i32.add (local.get $s) (i32.mul (local.get $i) (local.get $j))))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (local.set $j (i32.add (local.get $i) (i32.const 3)))
        (br $l)))
    (local.get $s))
  ;; an index copied into a local, then loaded through (COPY_I32_LOAD_IDX)
  (func (export "copy_idx") (param $base i32) (param $i i32) (result i32) (local $j i32) (local $v i32)
    (local.set $j (local.get $i))
    (local.set $v (i32.load (i32.add (local.get $base) (i32.shl (local.get $j) (i32.const 2)))))
    (i32.add (local.get $v) (local.get $j)))
  ;; branch-free counting: adding a comparison (FUSE_BIN with a compare inside)
  (func (export "count_ge") (param $a i32) (param $b i32) (param $n i32) (result i32)
    (i32.add (local.get $n) (i32.ge_u (local.get $a) (local.get $b))))
  ;; zero stores the compiler may drop only while the local is known to hold zero
  (func (export "zeros") (param $n i32) (result i32) (local $z i32) (local $s i32)
    (local.set $z (i32.const 0))
    (block $done
      (loop $l
        (br_if $done (i32.eqz (local.get $n)))
        (local.set $s (i32.add (local.get $s) (local.get $z)))
        (local.set $z (i32.const 7))
        (local.set $z (i32.const 0))
        (local.set $s (i32.add (local.get $s) (local.get $z)))
        (local.set $z (i32.const 3))
        (local.set $n (i32.sub (local.get $n) (i32.const 1)))
        (br $l)))
    (local.get $s)))
