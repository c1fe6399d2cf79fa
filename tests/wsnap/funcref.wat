;; Function references in frame slots across a pause (tests/wsnap/suite.py, case_funcref):
;; each of 60 steps prints "step N ACC" and sleeps twice 10 ms, while
;; - _start's first local $f ((ref null $op), from a typed table) holds step N's function,
;; - _start's operand stack holds a (ref $op) below the call to $io (the caller's frame),
;; - $io's parameter $h holds a funcref, its local $sleep a reference to the imported
;;   poll_oneoff, which it calls by call_ref (a pause parks in that host call: the
;;   innermost frame stands at the call_ref op or after it), with another reference on
;;   its operand stack below the call,
;; - $io's spin loop carries a (ref $op) as its parameter (a pause may park at its start).
;; ACC goes through the functions so referenced, so a reference restored to the wrong
;; function changes every later line. Functions: 0 fd_write, 1 poll_oneoff, 2 $add3,
;; 3 $mul5, 4 $rot, 5 $io, 6 $twice, 7 $num, 8 _start.
(module
  (type $op (func (param i64) (result i64)))
  (type $pollt (func (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_write"
    (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "poll_oneoff" (func $poll (type $pollt)))
  (memory 1)
  (table $t 3 3 (ref null $op))
  (elem (table $t) (i32.const 0) (ref null $op) (ref.func $add3) (ref.func $mul5)
    (ref.func $rot))
  (elem declare func $poll $add3 $mul5 $rot)
  (func $add3 (type $op) (i64.and (i64.add (local.get 0) (i64.const 3))
    (i64.const 0xffffffff)))
  (func $mul5 (type $op) (i64.and (i64.mul (local.get 0) (i64.const 5))
    (i64.const 0xffffffff)))
  (func $rot (type $op) (i64.and (i64.xor (i64.rotl (local.get 0) (i64.const 7))
    (i64.const 0x9e37)) (i64.const 0xffffffff)))
  ;; prints "step N ACC", sleeps 10 ms through a reference to poll_oneoff, spins a while
  ;; with a reference as its loop's parameter, and returns $h(ACC)
  (func $io (param $n i32) (param $acc i64) (param $h (ref null $op)) (result i64)
    (local $sleep (ref null $pollt)) (local $p i32) (local $v i64) (local $i i32)
    (local.set $sleep (ref.func $poll))
    ;; "step " at 200, then N, " ", ACC and "\n"
    (i64.store (i32.const 200) (i64.const 0x20706574_73))
    (local.set $p (call $num (i32.const 205) (i64.extend_i32_u (local.get $n))))
    (i32.store8 (local.get $p) (i32.const 32))
    (local.set $p (call $num (i32.add (local.get $p) (i32.const 1)) (local.get $acc)))
    (i32.store8 (local.get $p) (i32.const 10))
    (i32.store (i32.const 0) (i32.const 200))
    (i32.store (i32.const 4) (i32.sub (i32.add (local.get $p) (i32.const 1)) (i32.const 200)))
    (drop (call $fd_write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 8)))
    ;; a relative clock subscription of 10 ms at 32, its event at 96
    (i64.store (i32.const 32) (i64.const 0))
    (i32.store8 (i32.const 40) (i32.const 0))
    (i32.store (i32.const 48) (i32.const 1))
    (i64.store (i32.const 56) (i64.const 10000000))
    (i64.store (i32.const 64) (i64.const 0))
    (i32.store16 (i32.const 72) (i32.const 0))
    ;; a reference on the operand stack below the sleep (its home slot), the sleep
    ;; called through a local and through a fresh reference
    (local.set $v
      (call $twice
        (ref.func $mul5)
        (i64.add (local.get $acc)
          (i64.extend_i32_u
            (call_ref $pollt (i32.const 32) (i32.const 96) (i32.const 1) (i32.const 128)
              (local.get $sleep))))))
    (drop (call_ref $pollt (i32.const 32) (i32.const 96) (i32.const 1) (i32.const 128)
      (ref.func $poll)))
    (local.set $v (i64.and (local.get $v) (i64.const 0xffffffff)))
    ;; spin with a reference carried by the loop, then call it
    local.get $v
    local.get $h
    ref.as_non_null
    loop $spin (param (ref $op)) (result (ref $op))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br_if $spin (i32.lt_u (local.get $i) (i32.const 200000)))
    end
    call_ref $op)
  ;; $g applied twice
  (func $twice (param $g (ref $op)) (param $x i64) (result i64)
    (call_ref $op (call_ref $op (local.get $x) (local.get $g)) (local.get $g)))
  ;; writes v in decimal at p, returns the end
  (func $num (param $p i32) (param $v i64) (result i32)
    (local $len i32) (local $m i64)
    (local.set $m (local.get $v))
    (loop $c
      (local.set $len (i32.add (local.get $len) (i32.const 1)))
      (local.set $m (i64.div_u (local.get $m) (i64.const 10)))
      (br_if $c (i64.ne (local.get $m) (i64.const 0))))
    (local.set $m (local.get $v))
    (local.set $p (i32.add (local.get $p) (local.get $len)))
    (loop $d
      (local.set $p (i32.sub (local.get $p) (i32.const 1)))
      (i32.store8 (local.get $p)
        (i32.add (i32.const 48) (i32.wrap_i64 (i64.rem_u (local.get $m) (i64.const 10)))))
      (local.set $m (i64.div_u (local.get $m) (i64.const 10)))
      (br_if $d (i64.ne (local.get $m) (i64.const 0))))
    (i32.add (local.get $p) (local.get $len)))
  (func (export "_start")
    (local $f (ref null $op)) (local $n i32) (local $acc i64)
    (local.set $acc (i64.const 7))
    (loop $step
      (local.set $f (table.get $t (i32.rem_u (local.get $n) (i32.const 3))))
      (local.set $acc
        (call $twice
          ;; a (ref $op) on _start's operand stack while $io runs
          (select (result (ref $op)) (ref.func $rot) (ref.func $add3)
            (i32.and (local.get $n) (i32.const 1)))
          (call_ref $op
            (call $io (local.get $n) (local.get $acc) (local.get $f))
            (ref.as_non_null (local.get $f)))))
      (local.set $n (i32.add (local.get $n) (i32.const 1)))
      (br_if $step (i32.lt_u (local.get $n) (i32.const 60))))))
