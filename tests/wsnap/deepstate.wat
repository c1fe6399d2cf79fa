;; Deoptimisation keeps every value (tests/wsnap/suite.py, case_deep_state): paused and
;; resumed many times while it runs, the program must print what an uninterrupted
;; interpreted run prints. Every level below $round holds state a wrong frame walk or
;; deopt would lose or misplace: locals the JIT caches in registers, operand values below
;; a call, a multi-value result pending, calls through call_indirect and call_ref, and a
;; return_call chain ($tail -> $leaf takes $tail's frame), recursion 12 levels deep.
;; Prints "round N H" for N = 0..199 (H: a hash of every level's values; each round
;; recomputes it for 10 ms and traps if it comes out different), then "round 200 H" (H: all
;; of them).
(module
  (import "wasi_snapshot_preview1" "fd_write"
    (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "clock_time_get"
    (func $clock (param i32 i64 i32) (result i32)))
  (memory (export "memory") 1)
  (type $leaf_t (func (param i32 i64) (result i64)))
  (table 2 funcref)
  (elem (i32.const 0) $leaf $tail)
  (elem declare func $leaf)
  (data (i32.const 256) "round ")

  ;; k rounds of mixing: where a pause usually lands (a loop back-edge)
  (func $leaf (type $leaf_t) (param $k i32) (param $x i64) (result i64)
    (local $i i32)
    (loop $l
      (local.set $x (i64.add (i64.mul (local.get $x) (i64.const 6364136223846793005))
                             (i64.extend_i32_u (local.get $i))))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br_if $l (i32.lt_u (local.get $i) (local.get $k))))
    (local.get $x))

  ;; a tail call: $leaf runs in this frame, returning to $two's caller
  (func $tail (type $leaf_t) (param $k i32) (param $x i64) (result i64)
    (return_call $leaf (local.get $k) (i64.xor (local.get $x) (i64.const 0x5555))))

  ;; two results, one computed before a call and pending across it
  (func $two (param $k i32) (param $x i64) (result i64 i32)
    (local $a i64)
    (local.set $a (i64.rotl (local.get $x) (i64.const 13)))
    (local.get $a)
    (call_indirect (type $leaf_t) (local.get $k) (local.get $a)
      (i32.and (local.get $k) (i32.const 1)))
    (i64.add)
    (i32.wrap_i64 (local.get $a))
    (call $small (local.get $k))
    (return (i32.add)))

  (func $small (param $k i32) (result i32)
    (i32.mul (local.get $k) (i32.const 3)))

  ;; d levels of recursion, each with a cached local and an operand below the call
  (func $rec (param $d i32) (param $k i32) (param $acc i64) (result i64)
    (local $x i64) (local $y i32) (local $r i64)
    (local.set $x (i64.add (local.get $acc) (i64.extend_i32_u (local.get $d))))
    (local.set $y (i32.mul (local.get $d) (i32.const 2654435761)))
    (if (i32.eqz (local.get $d))
      (then
        (call $two (local.get $k) (local.get $x))
        (local.set $y)
        (local.set $r)
        (return (i64.add (local.get $r) (i64.extend_i32_u (local.get $y))))))
    (i64.mul (local.get $x) (i64.const 3))
    (call $rec (i32.sub (local.get $d) (i32.const 1)) (local.get $k)
      (i64.xor (local.get $x) (i64.extend_i32_u (local.get $y))))
    (i64.add)
    (call_ref $leaf_t (local.get $k) (i64.extend_i32_u (local.get $y)) (ref.func $leaf))
    (i64.xor)
    (i64.add (i64.extend_i32_u (local.get $y))))

  ;; "round N H\n" (H in hex) to stdout
  (func $line (param $n i32) (param $h i64)
    (local $p i32) (local $i i32)
    (local.set $p (i32.const 262))
    (local.set $p (call $dec (local.get $p) (local.get $n)))
    (i32.store8 (local.get $p) (i32.const 32))
    (local.set $p (i32.add (local.get $p) (i32.const 1)))
    (local.set $i (i32.const 60))
    (loop $hex
      (i32.store8 (local.get $p)
        (i32.load8_u offset=240
          (i32.wrap_i64 (i64.and (i64.shr_u (local.get $h) (i64.extend_i32_u (local.get $i)))
                                 (i64.const 15)))))
      (local.set $p (i32.add (local.get $p) (i32.const 1)))
      (local.set $i (i32.sub (local.get $i) (i32.const 4)))
      (br_if $hex (i32.ge_s (local.get $i) (i32.const 0))))
    (i32.store8 (local.get $p) (i32.const 10))
    (i32.store (i32.const 0) (i32.const 256))
    (i32.store (i32.const 4) (i32.sub (i32.add (local.get $p) (i32.const 1)) (i32.const 256)))
    (drop (call $fd_write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 8))))
  (data (i32.const 240) "0123456789abcdef")

  ;; n in decimal at p; returns the end
  (func $dec (param $p i32) (param $n i32) (result i32)
    (local $len i32) (local $m i32) (local $i i32)
    (local.set $m (local.get $n))
    (local.set $len (i32.const 1))
    (block $done
      (loop $count
        (br_if $done (i32.lt_u (local.get $m) (i32.const 10)))
        (local.set $m (i32.div_u (local.get $m) (i32.const 10)))
        (local.set $len (i32.add (local.get $len) (i32.const 1)))
        (br $count)))
    (local.set $i (local.get $len))
    (local.set $m (local.get $n))
    (loop $digit
      (local.set $i (i32.sub (local.get $i) (i32.const 1)))
      (i32.store8 (i32.add (local.get $p) (local.get $i))
        (i32.add (i32.const 48) (i32.rem_u (local.get $m) (i32.const 10))))
      (local.set $m (i32.div_u (local.get $m) (i32.const 10)))
      (br_if $digit (local.get $i)))
    (i32.add (local.get $p) (local.get $len)))

;; one chain: 6 recursions 12 levels deep, each result hashed
  (func $chain (param $n i32) (result i64)
    (local $h i64) (local $j i32)
    (local.set $h (i64.extend_i32_u (local.get $n)))
    (loop $again
      (local.set $h
        (i64.add (i64.rotl (local.get $h) (i64.const 7))
                 (call $rec (i32.const 12) (i32.add (i32.const 1000) (local.get $j))
                   (local.get $h))))
      (local.set $j (i32.add (local.get $j) (i32.const 1)))
      (br_if $again (i32.lt_u (local.get $j) (i32.const 6))))
    (local.get $h))

  (func $now (result i64)
    (drop (call $clock (i32.const 1) (i64.const 1000) (i32.const 16)))
    (i64.load (i32.const 16)))

  ;; one round: the chain again and again for 10 ms, every time with the same result
  ;; (else unreachable traps), so that a pause lands in one whose result is checked
  (func $round (param $n i32) (result i64)
    (local $h i64) (local $t0 i64)
    (local.set $h (call $chain (local.get $n)))
    (local.set $t0 (call $now))
    (loop $again
      (if (i64.ne (call $chain (local.get $n)) (local.get $h)) (then (unreachable)))
      (br_if $again (i64.lt_u (i64.sub (call $now) (local.get $t0)) (i64.const 10000000))))
    (local.get $h))

  (func (export "_start")
    (local $n i32) (local $h i64) (local $r i64)
    (loop $l
      (local.set $r (call $round (local.get $n)))
      (local.set $h (i64.xor (i64.rotl (local.get $h) (i64.const 1)) (local.get $r)))
      (call $line (local.get $n) (local.get $r))
      (local.set $n (i32.add (local.get $n) (i32.const 1)))
      (br_if $l (i32.lt_u (local.get $n) (i32.const 200))))
    (call $line (local.get $n) (local.get $h))))
