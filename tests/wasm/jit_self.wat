;; Self-calls in the JIT tier (tests/wasm/suite.sh runs each export both ways): a function
;; calling itself passes its parameters cached in registers there and takes the result
;; from slot 0's register; the recursion deeper than the host stack lets translated calls
;; nest runs interpreted from the floor on, and its results come back through memory.
(module
  ;; sum(n) = n + sum(n - 1): $n and $acc used in a loop, so both live in registers
  (func $sum (export "sum") (param $n i32) (result i32)
    (local $i i32) (local $acc i32)
    (if (result i32) (i32.eqz (local.get $n))
      (then (i32.const 0))
      (else
        (loop $l
          (local.set $acc (i32.add (local.get $acc) (local.get $n)))
          (local.set $i (i32.add (local.get $i) (i32.const 1)))
          (br_if $l (i32.lt_u (local.get $i) (i32.const 2))))
        (i32.add (call $sum (i32.sub (local.get $n) (i32.const 1)))
                 (i32.sub (local.get $acc) (local.get $n))))))
  ;; more than 16 local slots (zeroed with rep stosq, which takes rdi) and the parameters
  ;; in registers, rdi among them: wide(n, m) = m + n(n + 1)
  (func $wide (export "wide") (param $n i32) (param $m i32) (result i32)
    (local i64 i64 i64 i64 i64 i64 i64 i64 i64 i64 i64 i64 i64 i64 i64 i64 i64)
    (local $i i32)
    (if (result i32) (i32.eqz (local.get $n))
      (then (local.get $m))
      (else
        (loop $l
          (local.set $m (i32.add (local.get $m) (local.get $n)))
          (local.set $i (i32.add (local.get $i) (i32.const 1)))
          (br_if $l (i32.lt_u (local.get $i) (i32.const 2))))
        (call $wide (i32.sub (local.get $n) (i32.const 1)) (local.get $m)))))
  ;; two i64 parameters and an f64 one, all passed again, and two results
  (func $mix (export "mix") (param $n i64) (param $k i64) (param $x f64) (result i64 f64)
    (local $i i64)
    (if (result i64 f64) (i64.eqz (local.get $n))
      (then (local.get $k) (local.get $x))
      (else
        (loop $l
          (local.set $k (i64.add (local.get $k) (local.get $n)))
          (local.set $i (i64.add (local.get $i) (i64.const 1)))
          (br_if $l (i64.lt_u (local.get $i) (i64.const 3))))
        (call $mix (i64.sub (local.get $n) (i64.const 1)) (local.get $k)
                   (f64.add (local.get $x) (f64.const 0.5))))))
  ;; Early returns taken in line (translate.c, leaf_of): at a self-call whose callee
  ;; returns at once for some arguments, the caller tests the argument and makes the
  ;; result itself, with the call's checks and its unit of fuel, and calls otherwise.
  ;; fib: the base case n < 2 returns n (the argument itself)
  (func $fib (export "fib") (param $n i32) (result i32)
    (if (result i32) (i32.lt_u (local.get $n) (i32.const 2))
      (then (local.get $n))
      (else (i32.add (call $fib (i32.sub (local.get $n) (i32.const 1)))
                     (call $fib (i32.sub (local.get $n) (i32.const 2)))))))
  ;; i64, a signed compare, and a parameter plus a constant past 32 bits as the result:
  ;; down(n, k) = n > 0 ? down(n - 1, k + n) : k + 0x123456789
  (func $down (export "down") (param $n i64) (param $k i64) (result i64)
    (if (result i64) (i64.gt_s (local.get $n) (i64.const 0))
      (then (call $down (i64.sub (local.get $n) (i64.const 1))
                        (i64.add (local.get $k) (local.get $n))))
      (else (i64.add (local.get $k) (i64.const 0x123456789)))))
  ;; an i32 sum that wraps, and a constant result on the other path: wrap(n, m) =
  ;; n == 0 ? m + 0x7fffffff : (n == 1 ? -7 : wrap(n - 2, m + 1) + wrap(1, m))
  (func $wrap (export "wrap") (param $n i32) (param $m i32) (result i32)
    (if (result i32) (i32.eqz (local.get $n))
      (then (i32.add (local.get $m) (i32.const 0x7fffffff)))
      (else
        (if (result i32) (i32.eq (local.get $n) (i32.const 1))
          (then (i32.const -7))
          (else (i32.add (call $wrap (i32.sub (local.get $n) (i32.const 2))
                                     (i32.add (local.get $m) (i32.const 1)))
                         (call $wrap (i32.const 1) (local.get $m))))))))
  ;; no result, the early return on the branch's fall-through side
  (global $hits (mut i32) (i32.const 0))
  (func $walk (param $n i32)
    (if (i32.eqz (local.get $n)) (then (return)))
    (global.set $hits (i32.add (global.get $hits) (i32.const 1)))
    (call $walk (i32.sub (local.get $n) (i32.const 1)))
    (call $walk (i32.shr_u (local.get $n) (i32.const 1))))
  (func (export "walk") (param $n i32) (result i32)
    (global.set $hits (i32.const 0))
    (call $walk (local.get $n))
    (global.get $hits))
  ;; a constant result, 64 bits wide: konst(n) = n <= 0 ? 0x100000005 : konst(n - 1) + n
  (func $konst (export "konst") (param $n i64) (result i64)
    (if (result i64) (i64.le_s (local.get $n) (i64.const 0))
      (then (i64.const 0x100000005))
      (else (i64.add (call $konst (i64.sub (local.get $n) (i64.const 1)))
                     (local.get $n))))))
