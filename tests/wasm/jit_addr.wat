;; Addresses in cache registers (tests/wasm/suite.sh runs it interpreted and with the JIT
;; forced). With a guard region a load or store through an address slot cached in a
;; general-purpose register indexes memory with that register, zero-extended in place
;; once on a straight path: these put 0xdeadbeef in the upper half of such registers
;; (i32.wrap_i64 of a wider value, a slot that held an i64 before, reloads after calls)
;; and use them as addresses, plain, with offsets, fused into arithmetic and after
;; folded address adds, in loops; not zero-extended, the access would fault outside the
;; guard region and crash.
(module
  (memory 1)
  (func $id (param i64) (result i64) (local.get 0))
  (func $id32 (param i32) (result i32) (local.get 0))
  (func (export "wrapped") (param $n i32) (result i64)
    (local $big i64) (local $a i32) (local $b i32) (local $i i32) (local $s i64) (local $f f64)
    (local.set $big (i64.or (i64.const 0xdeadbeef00000000) (i64.extend_i32_u (local.get $n))))
    (local.set $a (i32.wrap_i64 (local.get $big)))
    (loop $l
      (i64.store offset=8 (local.get $a)
        (i64.add (i64.load offset=8 (local.get $a)) (local.get $big)))
      (local.set $s (i64.add (local.get $s) (i64.load offset=8 (local.get $a))))
      (local.set $b (i32.wrap_i64 (i64.add (local.get $big) (i64.extend_i32_u (local.get $i)))))
      (local.set $s (i64.xor (local.get $s) (i64.load16_u offset=3 (local.get $b))))
      (i32.store8 (local.get $b) (i32.add (local.get $i) (i32.load8_u (local.get $b))))
      (local.set $f (f64.add (local.get $f) (f64.load offset=24 (local.get $b))))
      (f64.store offset=24 (local.get $b) (f64.add (local.get $f) (f64.const 0.5)))
      (local.set $i (i32.add (local.get $i) (i32.load (i32.add (local.get $b) (i32.const 40)))))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (local.set $big (call $id (i64.add (local.get $big) (i64.const 8))))
      (local.set $a (call $id32 (i32.wrap_i64 (local.get $big))))
      (local.set $s (i64.add (local.get $s) (i64.load offset=1 (local.get $a))))
      (br_if $l (i32.lt_u (local.get $i) (i32.const 200))))
    (i64.add (local.get $s) (i64.reinterpret_f64 (local.get $f))))
  ;; operand-stack slots that held i64s, then i32 addresses
  (func (export "stack") (param $n i32) (result i64)
    (local $i i32) (local $s i64)
    (loop $l
      (local.set $s (i64.add (local.get $s)
        (i64.add (i64.const 0x7700000000000000) (i64.extend_i32_u (local.get $i)))))
      (i64.store (i32.wrap_i64 (i64.add (i64.const 0xdeadbeef00000000)
                                         (i64.extend_i32_u (i32.shl (local.get $i) (i32.const 3)))))
                 (local.get $s))
      (local.set $s (i64.xor (local.get $s)
        (i64.load (i32.wrap_i64 (i64.or (i64.const 0xdeadbeef00000000)
                                        (i64.extend_i32_u (i32.shl (local.get $i) (i32.const 2))))))))
      (br_if $l (i32.lt_u (local.tee $i (i32.add (local.get $i) (i32.const 1))) (local.get $n))))
    (local.get $s))
  ;; a wrapped address past the end still traps, at its op
  (func (export "wrapped_oob") (param $hi i64) (result i32)
    (i32.load offset=4 (i32.wrap_i64 (i64.or (i64.const 0xdeadbeef00000000) (local.get $hi)))))
)
