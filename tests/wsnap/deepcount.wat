;; A pause below translated frames (tests/wsnap/suite.py, case_deep): prints "count N"
;; for N = 0..599 to stdout, one every 5 ms or more (spinning in $spin, reading the
;; monotonic clock between spins). $outer warms up first (its
;; loop gets hot, so the JIT takes it over), then calls $work once: with the JIT, $work
;; and $spin run below a translated frame ($outer's), in a nested interpreter run that
;; translated code started (default threshold) or all translated (--jit-eager). A pause
;; must still park (every translated frame left for the interpreter) and a restore or a
;; migration go on with the next line.
(module
  (import "wasi_snapshot_preview1" "fd_write"
    (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "clock_time_get"
    (func $clock (param i32 i64 i32) (result i32)))
  (memory (export "memory") 1)
  (data (i32.const 256) "count ")

  ;; k rounds of arithmetic: the loop a pause usually lands in
  (func $spin (param $k i32) (result i32)
    (local $i i32) (local $x i32)
    (loop $l
      (local.set $x (i32.add (i32.mul (local.get $x) (i32.const 31)) (local.get $i)))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br_if $l (i32.lt_u (local.get $i) (local.get $k))))
    (local.get $x))

  ;; "count N\n" to stdout
  (func $line (param $n i32)
    (local $len i32) (local $i i32) (local $m i32)
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
      (i32.store8 (i32.add (i32.const 262) (local.get $i))
        (i32.add (i32.const 48) (i32.rem_u (local.get $m) (i32.const 10))))
      (local.set $m (i32.div_u (local.get $m) (i32.const 10)))
      (br_if $digit (local.get $i)))
    (i32.store8 (i32.add (i32.const 262) (local.get $len)) (i32.const 10))
    (i32.store (i32.const 0) (i32.const 256))
    (i32.store (i32.const 4) (i32.add (local.get $len) (i32.const 7)))
    (drop (call $fd_write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 8))))

  ;; the monotonic clock in ns
  (func $now (result i64)
    (drop (call $clock (i32.const 1) (i64.const 1000) (i32.const 16)))
    (i64.load (i32.const 16)))

  ;; the lines, 5 ms of spinning before each; returns only at the end
  (func $work (param $limit i32)
    (local $n i32) (local $t0 i64)
    (loop $l
      (local.set $t0 (call $now))
      (loop $s
        (drop (call $spin (i32.const 20000)))
        (br_if $s (i64.lt_u (i64.sub (call $now) (local.get $t0)) (i64.const 5000000))))
      (call $line (local.get $n))
      (local.set $n (i32.add (local.get $n) (i32.const 1)))
      (br_if $l (i32.lt_u (local.get $n) (local.get $limit)))))

  (func $outer
    (local $i i32)
    (loop $w
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br_if $w (i32.lt_u (local.get $i) (i32.const 100000))))
    (call $work (i32.const 600)))

  (func (export "_start") (call $outer)))
