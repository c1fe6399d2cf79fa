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
                   (f64.add (local.get $x) (f64.const 0.5)))))))
