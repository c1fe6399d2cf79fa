;; GC objects and exceptions under one collector (tests/wasm/suite.sh runs it with a small
;; --max-memory): a cell (a struct) whose exnref field holds the exception that carries
;; the cell is a cycle through both heaps, garbage once nothing else refers to it; a loop
;; making a million of them must run in bounded memory. Live ones must survive: an
;; exception held only by a struct field, only by a global, only by a local of a function
;; the JIT translates (no GC op, no handler of its own), rethrown and caught after the
;; collections the churn causes, with its payload intact.
(module
  (type $cell (struct (field $v (mut i64)) (field $e (mut exnref))))
  (type $bytes (array (mut i8)))
  (tag $t (param (ref null $cell)))
  (global $g (mut exnref) (ref.null exn))

  ;; one cycle: a cell of v whose field holds the exception carrying the cell
  (func $cycle (export "cycle") (param $v i64) (result (ref null $cell))
    (local $c (ref null $cell)) (local $x exnref)
    (block $h (result (ref null $cell) exnref)
      (try_table (catch_ref $t $h)
        (throw $t (struct.new $cell (local.get $v) (ref.null exn))))
      (unreachable))
    (local.set $x)
    (local.set $c)
    (struct.set $cell $e (local.get $c) (local.get $x))
    ;; garbage beside it, so allocation pressure as well as throws trigger collections
    (drop (array.new_default $bytes (i32.const 40)))
    (local.get $c))

  ;; the cell an exception carries, by rethrowing it and catching it again
  (func $payload (param $x exnref) (result (ref null $cell))
    (block $h (result (ref null $cell))
      (try_table (catch $t $h) (throw_ref (local.get $x)))
      (unreachable)))

  ;; n garbage cycles: the sum of 0..n-1, plus 1 when the last cycle is intact (its
  ;; exception, rethrown, carries the same cell)
  (func $cycles (export "cycles") (param $n i32) (result i64)
    (local $i i32) (local $s i64) (local $c (ref null $cell))
    (block $done
      (loop $l
        (br_if $done (i32.ge_u (local.get $i) (local.get $n)))
        (local.set $c (call $cycle (i64.extend_i32_u (local.get $i))))
        (local.set $s (i64.add (local.get $s) (struct.get $cell $v (local.get $c))))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $l)))
    (i64.add (local.get $s)
      (i64.extend_i32_u
        (ref.eq (call $payload (struct.get $cell $e (local.get $c))) (local.get $c)))))

  ;; an exception held only by a cell's field (the cell by a local), another only by a
  ;; global (its cell only by the exception), across n cycles of churn; then both rethrown
  ;; and caught: 7 + 35, plus 100 when the first still carries its own cell
  (func (export "held") (param $n i32) (result i64)
    (local $c (ref null $cell)) (local $t i64)
    (local.set $c (call $cycle (i64.const 7)))
    (global.set $g (struct.get $cell $e (call $cycle (i64.const 35))))
    (local.set $t (call $cycles (local.get $n)))
    (i64.add
      (i64.add (struct.get $cell $v (call $payload (struct.get $cell $e (local.get $c))))
        (struct.get $cell $v (call $payload (global.get $g))))
      (i64.add (i64.sub (local.get $t) (local.get $t))
        (i64.mul (i64.const 100)
          (i64.extend_i32_u
            (ref.eq (call $payload (struct.get $cell $e (local.get $c))) (local.get $c)))))))

  (func $exn_of (param $v i64) (result exnref)
    (struct.get $cell $e (call $cycle (local.get $v))))
  (func $value_of (param $x exnref) (result i64)
    (struct.get $cell $v (call $payload (local.get $x))))

  ;; no GC op and no handler: translated with --jit-hot 1; the exception (and through it
  ;; its cell) lives only in this frame across the churn
  (func (export "held_plain") (param $n i32) (result i64)
    (local $x exnref) (local $t i64)
    (local.set $x (call $exn_of (i64.const 42)))
    (local.set $t (call $cycles (local.get $n)))
    (i64.add (call $value_of (local.get $x)) (i64.sub (local.get $t) (local.get $t)))))
