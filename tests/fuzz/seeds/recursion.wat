;; Fuzz seed: self-recursive functions whose callee returns at once for some arguments
;; (the JIT takes those returns in line at the self-call: translate.c, leaf_of), with
;; base cases of every shape it takes (the argument, a parameter plus a constant, a
;; constant, no result; a compare, an eqz, i32 and i64) and the exports calling them
;; without arguments, so the differential target runs the recursion both ways.
(module
  (global $hits (mut i32) (i32.const 0))
  (func $fib (param $n i32) (result i32)
    (if (result i32) (i32.lt_u (local.get $n) (i32.const 2))
      (then (local.get $n))
      (else (i32.add (call $fib (i32.sub (local.get $n) (i32.const 1)))
                     (call $fib (i32.sub (local.get $n) (i32.const 2)))))))
  (func $down (param $n i64) (param $k i64) (result i64)
    (if (result i64) (i64.gt_s (local.get $n) (i64.const 0))
      (then (call $down (i64.sub (local.get $n) (i64.const 1))
                        (i64.add (local.get $k) (local.get $n))))
      (else (i64.add (local.get $k) (i64.const 0x123456789)))))
  (func $konst (param $n i32) (result i32)
    (if (result i32) (i32.le_s (local.get $n) (i32.const 0))
      (then (i32.const -7))
      (else (i32.add (call $konst (i32.sub (local.get $n) (i32.const 3)))
                     (local.get $n)))))
  (func $walk (param $n i32)
    (if (i32.eqz (local.get $n)) (then (return)))
    (global.set $hits (i32.add (global.get $hits) (i32.const 1)))
    (call $walk (i32.sub (local.get $n) (i32.const 1)))
    (call $walk (i32.shr_u (local.get $n) (i32.const 1))))
  (func (export "fib") (result i32) (call $fib (i32.const 18)))
  (func (export "down") (result i64) (call $down (i64.const 300) (i64.const -9)))
  (func (export "konst") (result i32) (call $konst (i32.const 100)))
  (func (export "walk") (result i32)
    (call $walk (i32.const 14))
    (global.get $hits)))
