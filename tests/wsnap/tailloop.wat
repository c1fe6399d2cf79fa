;; For tests/wsnap: a loop made only of tail calls. _start calls $chain once a line;
;; $chain(k, x) runs k steps of an LCG on x, each step three tail calls with no loop and
;; no other call between them: $chain return_calls $mix, which return_call_indirects
;; $odd or $even (by k's low bit), which return_call_ref $chain. At k = 0 it returns x,
;; and _start prints "count N X" (X: x's 16 hex digits). Nearly all the time is spent in
;; the chain, so a pause parks at one of its tail calls. Prints "ready" first; ends after
;; 60 lines (the 64-bit state carries every step since the start: a restore that lost or
;; repeated one prints other digits).
(module
  (import "wasi_snapshot_preview1" "fd_write"
    (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (type $step (func (param i32 i64) (result i64)))
  (memory 1)
  (table 2 funcref)
  (elem (i32.const 0) $even $odd)
  (elem declare func $chain)
  (data (i32.const 256) "ready\0a")
  (data (i32.const 272) "count ")
  (func $write (param $ptr i32) (param $len i32)
    (i32.store (i32.const 0) (local.get $ptr))
    (i32.store (i32.const 4) (local.get $len))
    (drop (call $fd_write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 8))))
  ;; "count N XXXXXXXXXXXXXXXX\n" at 272 (N below 100)
  (func $line (param $n i32) (param $x i64)
    (local $i i32) (local $d i32)
    (i32.store8 (i32.const 278) (i32.add (i32.const 48) (i32.div_u (local.get $n) (i32.const 10))))
    (i32.store8 (i32.const 279) (i32.add (i32.const 48) (i32.rem_u (local.get $n) (i32.const 10))))
    (i32.store8 (i32.const 280) (i32.const 32))
    (local.set $i (i32.const 16))
    (loop $digit
      (local.set $i (i32.sub (local.get $i) (i32.const 1)))
      (local.set $d (i32.wrap_i64 (i64.and (local.get $x) (i64.const 15))))
      (i32.store8 (i32.add (i32.const 281) (local.get $i))
        (i32.add (local.get $d)
          (select (i32.const 87) (i32.const 48) (i32.ge_u (local.get $d) (i32.const 10)))))
      (local.set $x (i64.shr_u (local.get $x) (i64.const 4)))
      (br_if $digit (local.get $i)))
    (i32.store8 (i32.const 297) (i32.const 10))
    (call $write (i32.const 272) (i32.const 26)))
  (func $chain (type $step)
    (if (i32.eqz (local.get 0)) (then (return (local.get 1))))
    (return_call $mix
      (i32.sub (local.get 0) (i32.const 1))
      (i64.add (i64.mul (local.get 1) (i64.const 6364136223846793005))
               (i64.const 1442695040888963407))))
  (func $mix (type $step)
    (return_call_indirect (type $step)
      (local.get 0) (i64.rotl (local.get 1) (i64.const 7))
      (i32.and (local.get 0) (i32.const 1))))
  (func $even (type $step)
    (return_call_ref $step (local.get 0) (i64.xor (local.get 1) (i64.const 0x5bd1e995))
      (ref.func $chain)))
  (func $odd (type $step)
    (return_call_ref $step (local.get 0) (i64.sub (local.get 1) (i64.const 0x27d4eb2f))
      (ref.func $chain)))
  (func (export "_start")
    (local $n i32) (local $x i64)
    (call $write (i32.const 256) (i32.const 6))
    (loop $forever
      (local.set $x (call $chain (i32.const 300000) (local.get $x)))
      (call $line (local.get $n) (local.get $x))
      (local.set $n (i32.add (local.get $n) (i32.const 1)))
      (br_if $forever (i32.lt_u (local.get $n) (i32.const 60))))))
