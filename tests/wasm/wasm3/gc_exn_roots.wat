;; Where an exception (and the struct it carries) may be the only thing keeping the other
;; alive while collections run (tests/wasm/suite.sh runs each with a small --max-memory
;; and with a collection at every allocation and throw): a slot of an exnref table, an
;; operand left below a call by catch_ref, a caller's local, an operand below a call in a
;; frame the JIT translates, the values of a throw that collects, a struct.new's or
;; array.new_fixed's exnref operands, an array of exnrefs made by array.new, and an
;; exception rethrown through frames whose handlers catch other tags, a chain of
;; exceptions each held only by the next one's values. Every export
;; returns a checksum that only the intact payloads give.
(module
  (type $cell (struct (field $v (mut i64))))
  (type $box (struct (field $e exnref) (field $w i64)))
  (type $exns (array (mut exnref)))
  (type $bytes (array (mut i8)))
  (tag $t (param (ref null $cell) i64))
  (tag $other (param i32))
  (table $tab 4 exnref)

  ;; garbage: n arrays of 40 bytes and n thrown-and-dropped exceptions
  (func $churn (param $n i32) (result i64)
    (local $i i32)
    (block $done
      (loop $l
        (br_if $done (i32.ge_u (local.get $i) (local.get $n)))
        (drop (array.new_default $bytes (i32.const 40)))
        (block $h
          (try_table (catch_all $h)
            (throw $t (struct.new $cell (i64.const -1)) (i64.const -1))))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $l)))
    (i64.const 0))

  ;; a new exception of tag $t carrying a new cell of v (and v again beside it)
  (func $mk (param $v i64) (result exnref)
    (block $h (result (ref null $cell) i64 exnref)
      (try_table (catch_ref $t $h)
        (throw $t (struct.new $cell (local.get $v)) (local.get $v)))
      (unreachable))
    (return))

  ;; v + the cell's v of an exception of tag $t, by rethrowing and catching it; a cell
  ;; freed and reused gives another sum
  (func $val (param $x exnref) (result i64)
    (local $w i64)
    (block $h (result (ref null $cell) i64)
      (try_table (catch $t $h) (throw_ref (local.get $x)))
      (unreachable))
    (local.set $w)
    (i64.add (struct.get $cell $v) (local.get $w)))

  ;; a table slot: 2*(5+6)
  (func (export "table") (param $n i32) (result i64)
    (table.set $tab (i32.const 1) (call $mk (i64.const 5)))
    (table.set $tab (i32.const 3) (call $mk (i64.const 6)))
    (drop (call $churn (local.get $n)))
    (i64.add (call $val (table.get $tab (i32.const 1)))
      (call $val (table.get $tab (i32.const 3)))))

  (func $val2 (param $x exnref) (param $z i64) (result i64)
    (i64.add (call $val (local.get $x)) (local.get $z)))

  ;; the exnref catch_ref leaves is an operand below the churn's call: 2*9
  (func (export "operand") (param $n i32) (result i64)
    (local $r i64)
    (block $h (result (ref null $cell) i64 exnref)
      (try_table (catch_ref $t $h)
        (throw $t (struct.new $cell (i64.const 9)) (i64.const 9)))
      (unreachable))
    (call $churn (local.get $n))
    (call $val2)
    (local.set $r)
    (drop)
    (drop)
    (local.get $r))

  ;; a caller's local (the callee churns): 2*13
  (func $use_after (param $x exnref) (param $n i32) (result i64)
    (drop (call $churn (local.get $n)))
    (call $val (local.get $x)))
  (func (export "caller") (param $n i32) (result i64)
    (local $x exnref)
    (local.set $x (call $mk (i64.const 13)))
    (i64.add (call $use_after (local.get $x) (local.get $n))
      (i64.sub (call $val (local.get $x)) (call $val (local.get $x)))))

  ;; no GC op and no handler (translated with --jit-hot 1): the exnref $mk returns is an
  ;; operand of this frame below the churn's call: 2*17
  (func (export "plain_operand") (param $n i32) (result i64)
    (call $val2 (call $mk (i64.const 17)) (call $churn (local.get $n))))

  ;; the cell a throw carries exists only in the throw's values when the throw collects;
  ;; caught three frames up past handlers of another tag: 2*21
  (func $thrower (param $n i32)
    (drop (call $churn (local.get $n)))
    (throw $t (struct.new $cell (i64.const 21)) (i64.const 21)))
  (func $mid (param $n i32)
    (block $h (result i32)
      (try_table (catch $other $h) (call $thrower (local.get $n)))
      (return))
    (drop))
  (func $mid2 (param $n i32)
    (block $h (result i32)
      (try_table (catch $other $h) (call $mid (local.get $n)))
      (return))
    (drop))
  (func (export "unwind") (param $n i32) (result i64)
    (local $w i64)
    (block $h (result (ref null $cell) i64)
      (try_table (catch $t $h) (call $mid2 (local.get $n)))
      (unreachable))
    (local.set $w)
    (i64.add (struct.get $cell $v) (local.get $w)))

  ;; exnrefs only on the operand stack of a struct.new and an array.new_fixed, each of
  ;; which may collect: (2*25 + 25) + 2*(27+29) + 2*31
  (func (export "alloc_operands") (param $n i32) (result i64)
    (local $b (ref null $box)) (local $a (ref null $exns)) (local $e (ref null $exns))
    (local.set $b (struct.new $box (call $mk (i64.const 25)) (i64.const 25)))
    (local.set $a (array.new_fixed $exns 2 (call $mk (i64.const 27)) (call $mk (i64.const 29))))
    ;; array.new: one exception in every element
    (local.set $e (array.new $exns (call $mk (i64.const 31)) (i32.const 3)))
    (drop (call $churn (local.get $n)))
    (i64.add
      (i64.add (call $val (struct.get $box $e (local.get $b))) (struct.get $box $w (local.get $b)))
      (i64.add
        (i64.add (call $val (array.get $exns (local.get $a) (i32.const 0)))
          (call $val (array.get $exns (local.get $a) (i32.const 1))))
        (i64.add (call $val (array.get $exns (local.get $e) (i32.const 2)))
          (i64.sub (call $val (array.get $exns (local.get $e) (i32.const 0)))
            (call $val (array.get $exns (local.get $e) (i32.const 1))))))))

  ;; array.new_default of exnrefs, then filled and churned: 2*(33+34+35+36)
  (func (export "array_default") (param $n i32) (result i64)
    (local $a (ref null $exns)) (local $i i32) (local $s i64)
    (local.set $a (array.new_default $exns (i32.const 4)))
    (block $done
      (loop $l
        (br_if $done (i32.ge_u (local.get $i) (i32.const 4)))
        (array.set $exns (local.get $a) (local.get $i)
          (call $mk (i64.extend_i32_u (i32.add (local.get $i) (i32.const 33)))))
        (drop (call $churn (local.get $n)))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $l)))
    (local.set $i (i32.const 0))
    (block $done
      (loop $l
        (br_if $done (i32.ge_u (local.get $i) (i32.const 4)))
        (local.set $s (i64.add (local.get $s)
          (call $val (array.get $exns (local.get $a) (local.get $i)))))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $l)))
    (local.get $s))

  ;; a throw_ref of an exception held only by the table slot it is cleared from: the
  ;; exception in flight, caught by catch_all_ref, then churned from its slot: 2*37
  (func (export "inflight") (param $n i32) (result i64)
    (local $x exnref)
    (table.set $tab (i32.const 0) (call $mk (i64.const 37)))
    (block $h (result exnref)
      (try_table (catch_all_ref $h)
        (local.set $x (table.get $tab (i32.const 0)))
        (table.set $tab (i32.const 0) (ref.null exn))
        (throw_ref (local.get $x)))
      (unreachable))
    (local.set $x (ref.null exn))
    (drop (call $churn (local.get $n)))
    (call $val))

  ;; a payload whose references sit after a v128 (two slots) and a funcref: the values
  ;; are traced at their own slots, as held at the throw and as an exception's;
  ;; 2 + 41 + 41 + 42 + 41 (the funcref called), twice
  (tag $tm (param v128 funcref (ref null $cell) i64 (ref null $cell)))
  (elem declare func $ident)
  (func $ident (param i64) (result i64) (local.get 0))
  (func $mkm (param $v i64) (result exnref)
    (block $h (result v128 funcref (ref null $cell) i64 (ref null $cell) exnref)
      (try_table (catch_ref $tm $h)
        (throw $tm (v128.const i64x2 1 2) (ref.func $ident)
          (struct.new $cell (local.get $v)) (local.get $v)
          (struct.new $cell (i64.add (local.get $v) (i64.const 1)))))
      (unreachable))
    (return))
  (func $valm (param $x exnref) (result i64)
    (local $f funcref) (local $a (ref null $cell)) (local $w i64) (local $b (ref null $cell))
    (block $h (result v128 funcref (ref null $cell) i64 (ref null $cell))
      (try_table (catch $tm $h) (throw_ref (local.get $x)))
      (unreachable))
    (local.set $b) (local.set $w) (local.set $a) (local.set $f)
    (i64x2.extract_lane 1)
    (i64.add (struct.get $cell $v (local.get $a)))
    (i64.add (local.get $w))
    (i64.add (struct.get $cell $v (local.get $b)))
    (i64.add (call_ref $idt (local.get $w) (ref.cast (ref $idt) (local.get $f)))))
  (type $idt (func (param i64) (result i64)))
  (func (export "mixed") (param $n i32) (result i64)
    (local $x exnref)
    (local.set $x (call $mkm (i64.const 41)))
    (drop (call $churn (local.get $n)))
    (i64.add (call $valm (local.get $x)) (call $valm (local.get $x))))

  ;; uncaught at the top: the trap names the exception's tag after the collections
  (func (export "uncaught") (param $n i32) (result i64)
    (call $thrower (local.get $n))
    (i64.const 0))

  ;; exceptions held only by exceptions: a chain of 2n, each thrown with the previous one
  ;; (an exnref in the throw's values) and a cell of i, built and unwrapped amid churn:
  ;; the sum of 0..2n-1
  (tag $w (param exnref (ref null $cell)))
  (func $wrap (param $prev exnref) (param $i i64) (result exnref)
    (block $h (result exnref)
      (try_table (catch_all_ref $h)
        (throw $w (local.get $prev) (struct.new $cell (local.get $i))))
      (unreachable)))
  (func (export "chain") (param $n i32) (result i64)
    (local $x exnref) (local $i i32) (local $s i64) (local $c (ref null $cell))
    (local.set $n (i32.shl (local.get $n) (i32.const 1)))
    (block $done
      (loop $l
        (br_if $done (i32.ge_u (local.get $i) (local.get $n)))
        (drop (array.new_default $bytes (i32.const 64)))
        (local.set $x (call $wrap (local.get $x) (i64.extend_i32_u (local.get $i))))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $l)))
    (block $end
      (loop $u
        (br_if $end (ref.is_null (local.get $x)))
        (block $h (result exnref (ref null $cell))
          (try_table (catch $w $h) (throw_ref (local.get $x)))
          (unreachable))
        (local.set $c)
        (local.set $x)
        (drop (array.new_default $bytes (i32.const 64)))
        (local.set $s (i64.add (local.get $s) (struct.get $cell $v (local.get $c))))
        (br $u)))
    (local.get $s)))
