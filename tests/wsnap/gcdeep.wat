;; A pause while GC objects are live in translated frames below the outermost run
;; (tests/wsnap/suite.py, case_deep_gc): $hold (no GC instruction: translated) keeps a
;; list of 1000 nodes in a local while it prints "count N" lines, spinning and churning
;; garbage (in $churn, interpreted) between them, so collections run while only $hold's
;; frame holds the list. A pause parks there (every frame left for the interpreter); the
;; snapshot saves the list with the frames; after a resume the program goes on
;; in the interpreter, the JIT taking over again, and prints "sum 500500" at the end.
(module
  (import "wasi_snapshot_preview1" "fd_write"
    (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "clock_time_get"
    (func $clock (param i32 i64 i32) (result i32)))
  (type $node (struct (field $v i64) (field $next (ref null $node))))
  (memory (export "memory") 1)
  (data (i32.const 256) "count ")
  (data (i32.const 300) "sum ")

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

  (func $now (result i64)
    (drop (call $clock (i32.const 1) (i64.const 1000) (i32.const 16)))
    (i64.load (i32.const 16)))

  (func $list (param $n i32) (result (ref null $node))
    (local $head (ref null $node)) (local $i i32)
    (block $done
      (loop $l
        (br_if $done (i32.ge_u (local.get $i) (local.get $n)))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (local.set $head (struct.new $node (i64.extend_i32_u (local.get $i)) (local.get $head)))
        (br $l)))
    (local.get $head))

  (func $sum (param $p (ref null $node)) (result i64)
    (local $s i64)
    (block $done
      (loop $l
        (br_if $done (ref.is_null (local.get $p)))
        (local.set $s (i64.add (local.get $s) (struct.get $node $v (local.get $p))))
        (local.set $p (struct.get $node $next (local.get $p)))
        (br $l)))
    (local.get $s))

  ;; garbage: n nodes dropped at once
  (func $churn (param $n i32)
    (local $i i32)
    (loop $l
      (drop (struct.new $node (i64.const 0) (ref.null $node)))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br_if $l (i32.lt_u (local.get $i) (local.get $n)))))

  ;; lines 0..limit-1, 5 ms of spinning and churning before each; p only in a local
  (func $hold (param $p (ref null $node)) (param $limit i32) (result (ref null $node))
    (local $n i32) (local $t0 i64)
    (loop $l
      (local.set $t0 (call $now))
      (loop $s
        (drop (call $spin (i32.const 20000)))
        (call $churn (i32.const 2000))
        (br_if $s (i64.lt_u (i64.sub (call $now) (local.get $t0)) (i64.const 5000000))))
      (call $line (local.get $n))
      (local.set $n (i32.add (local.get $n) (i32.const 1)))
      (br_if $l (i32.lt_u (local.get $n) (local.get $limit))))
    (local.get $p))

  ;; "sum S\n" for S < 10^7 (7 digits at most)
  (func $print_sum (param $s i64)
    (local $i i32) (local $m i64) (local $len i32)
    (local.set $m (local.get $s))
    (local.set $len (i32.const 1))
    (block $done
      (loop $count
        (br_if $done (i64.lt_u (local.get $m) (i64.const 10)))
        (local.set $m (i64.div_u (local.get $m) (i64.const 10)))
        (local.set $len (i32.add (local.get $len) (i32.const 1)))
        (br $count)))
    (local.set $i (local.get $len))
    (local.set $m (local.get $s))
    (loop $digit
      (local.set $i (i32.sub (local.get $i) (i32.const 1)))
      (i32.store8 (i32.add (i32.const 304) (local.get $i))
        (i32.wrap_i64 (i64.add (i64.const 48) (i64.rem_u (local.get $m) (i64.const 10)))))
      (local.set $m (i64.div_u (local.get $m) (i64.const 10)))
      (br_if $digit (local.get $i)))
    (i32.store8 (i32.add (i32.const 304) (local.get $len)) (i32.const 10))
    (i32.store (i32.const 0) (i32.const 300))
    (i32.store (i32.const 4) (i32.add (local.get $len) (i32.const 5)))
    (drop (call $fd_write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 8))))

  ;; the list is built, then only held by $hold's frame (called from translated code
  ;; with the JIT: $outer warms up first) until its lines are done
  (func $outer
    (local $i i32)
    (loop $w
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br_if $w (i32.lt_u (local.get $i) (i32.const 100000))))
    (call $print_sum (call $sum (call $hold (call $list (i32.const 1000)) (i32.const 200)))))

  (func (export "_start") (call $outer)))
