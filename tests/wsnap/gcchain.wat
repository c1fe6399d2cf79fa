;; A list of 1000000 GC structs (tests/wsnap/suite.py, case_gc_chain): each node's $next
;; field refers to the next, so the heap is a chain as deep as it is long, of a type and
;; its subtype in turn. The list is held in a global and its middle in a local while the
;; program prints "built" and spins for 8 s (a pause parks in the loop); then it walks the
;; list from both, checks each node's type and fields and prints "sum S half H" (S
;; 500000500000, H 375000750000: the nodes from the 500000th on).
(module
  (import "wasi_snapshot_preview1" "fd_write"
    (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "clock_time_get"
    (func $clock (param i32 i64 i32) (result i32)))
  (rec
    (type $node (sub (struct (field $v i64) (field $next (mut (ref null $node))))))
    (type $odd (sub final $node (struct (field $v i64) (field $next (mut (ref null $node)))
                                        (field $b i8) (field $peer (mut (ref null $odd)))))))
  (memory (export "memory") 1)
  (global $head (mut (ref null $node)) (ref.null $node))
  (data (i32.const 256) "built\n")
  (data (i32.const 272) "sum ")
  (data (i32.const 288) " half ")

  (func $now (result i64)
    (drop (call $clock (i32.const 1) (i64.const 1000) (i32.const 24)))
    (i64.load (i32.const 24)))

  (func $write (param $at i32) (param $len i32)
    (i32.store (i32.const 0) (local.get $at))
    (i32.store (i32.const 4) (local.get $len))
    (drop (call $fd_write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 8))))

  ;; v's digits written at 512.., then printed
  (func $num (param $v i64)
    (local $i i32) (local $m i64)
    (local.set $i (i32.const 40))
    (local.set $m (local.get $v))
    (loop $d
      (local.set $i (i32.sub (local.get $i) (i32.const 1)))
      (i32.store8 (i32.add (i32.const 512) (local.get $i))
        (i32.wrap_i64 (i64.add (i64.const 48) (i64.rem_u (local.get $m) (i64.const 10)))))
      (local.set $m (i64.div_u (local.get $m) (i64.const 10)))
      (br_if $d (i64.ne (local.get $m) (i64.const 0))))
    (call $write (i32.add (i32.const 512) (local.get $i)) (i32.sub (i32.const 40) (local.get $i))))

  ;; the sum of v over the list from n on; -1 when a node is not of its type (odd v: $odd
  ;; with b = v & 255)
  (func $sum (param $n (ref null $node)) (result i64)
    (local $s i64) (local $v i64)
    (block $end
      (loop $l
        (br_if $end (ref.is_null (local.get $n)))
        (local.set $v (struct.get $node $v (local.get $n)))
        (if (i32.ne (ref.test (ref $odd) (local.get $n))
                    (i32.wrap_i64 (i64.and (local.get $v) (i64.const 1))))
          (then (return (i64.const -1))))
        (if (ref.test (ref $odd) (local.get $n))
          (then
            (if (i32.ne (struct.get_u $odd $b (ref.cast (ref $odd) (local.get $n)))
                        (i32.wrap_i64 (i64.and (local.get $v) (i64.const 255))))
              (then (return (i64.const -2))))
            (if (i32.eqz (ref.is_null (struct.get $odd $peer
                                        (ref.cast (ref $odd) (local.get $n)))))
              (then (return (i64.const -3))))))
        (local.set $s (i64.add (local.get $s) (local.get $v)))
        (local.set $n (struct.get $node $next (local.get $n)))
        (br $l)))
    (local.get $s))

  (func (export "_start")
    (local $i i64) (local $n (ref null $node)) (local $mid (ref null $node)) (local $t0 i64)
    (local.set $i (i64.const 1000000))
    (loop $build
      (if (i64.eqz (i64.and (local.get $i) (i64.const 1)))
        (then (local.set $n (struct.new $node (local.get $i) (local.get $n))))
        (else (local.set $n (struct.new $odd (local.get $i) (local.get $n)
                                        (i32.wrap_i64 (local.get $i)) (ref.null $odd)))))
      (if (i64.eq (local.get $i) (i64.const 500000))
        (then (local.set $mid (local.get $n))))
      (local.set $i (i64.sub (local.get $i) (i64.const 1)))
      (br_if $build (i64.ne (local.get $i) (i64.const 0))))
    (global.set $head (local.get $n))
    (local.set $n (ref.null $node))
    (call $write (i32.const 256) (i32.const 6))
    (local.set $t0 (call $now))
    (loop $spin
      (br_if $spin (i64.lt_u (i64.sub (call $now) (local.get $t0)) (i64.const 8000000000))))
    (call $write (i32.const 272) (i32.const 4))
    (call $num (call $sum (global.get $head)))
    (call $write (i32.const 288) (i32.const 6))
    (call $num (call $sum (local.get $mid)))
    (i32.store8 (i32.const 600) (i32.const 10))
    (call $write (i32.const 600) (i32.const 1))))
