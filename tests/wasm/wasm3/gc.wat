;; WebAssembly 3.0 GC under allocation pressure (tests/wasm/suite.sh runs it with a small
;; --max-memory): short-lived structs by the million, a deep linked list that must survive
;; the collections its own building causes, garbage cycles, objects reachable only from a
;; global or a table, a list kept in a local of a function without GC instructions (the
;; JIT translates it; the collector must find the list in its frame), references of
;; every kind in fields and array elements across collections (an externalized struct in
;; an externref field, i31s and structs in an anyref array), and a heap that really does
;; not fit.
(module
  (type $node (struct (field $v (mut i64)) (field $next (mut (ref null $node)))))
  (type $bytes (array (mut i8)))
  (type $box (struct (field $e (mut externref)) (field $a (mut anyref))))
  (type $anys (array (mut anyref)))
  (global $keep (mut (ref null $node)) (ref.null $node))
  (table $tab 4 (ref null $node))

  ;; n structs, each garbage right away: the sum of 0..n-1
  (func $churn (export "churn") (param $n i32) (result i64)
    (local $i i32) (local $s i64) (local $x (ref null $node))
    (block $done
      (loop $l
        (br_if $done (i32.ge_u (local.get $i) (local.get $n)))
        (local.set $x (struct.new $node (i64.extend_i32_u (local.get $i)) (ref.null $node)))
        (local.set $s (i64.add (local.get $s) (struct.get $node $v (local.get $x))))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $l)))
    (local.get $s))

  ;; a list of n nodes holding 1..n, the newest first
  (func $list (export "list") (param $n i32) (result (ref null $node))
    (local $head (ref null $node)) (local $i i32)
    (block $done
      (loop $l
        (br_if $done (i32.ge_u (local.get $i) (local.get $n)))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (local.set $head (struct.new $node (i64.extend_i32_u (local.get $i)) (local.get $head)))
        ;; garbage between the nodes, so collections run while the list grows
        (drop (array.new_default $bytes (i32.const 200)))
        (br $l)))
    (local.get $head))

  (func $sum (export "sum") (param $p (ref null $node)) (result i64)
    (local $s i64)
    (block $done
      (loop $l
        (br_if $done (ref.is_null (local.get $p)))
        (local.set $s (i64.add (local.get $s) (struct.get $node $v (local.get $p))))
        (local.set $p (struct.get $node $next (local.get $p)))
        (br $l)))
    (local.get $s))

  ;; build a list of n, churn m structs, then sum the list: n(n+1)/2
  (func (export "deep") (param $n i32) (param $m i32) (result i64)
    (local $l (ref null $node))
    (local.set $l (call $list (local.get $n)))
    (drop (call $churn (local.get $m)))
    (call $sum (local.get $l)))

  ;; the same with no GC instruction of its own: translated by the JIT, the list lives in
  ;; its frame (or a register written back before each call)
  (func (export "deep_plain") (param $n i32) (param $m i32) (result i64)
    (local $l (ref null $node)) (local $t i64)
    (local.set $l (call $list (local.get $n)))
    (local.set $t (call $churn (local.get $m)))
    (i64.add (call $sum (local.get $l)) (i64.sub (local.get $t) (local.get $t))))

  ;; n garbage cycles of two nodes each
  (func (export "cycles") (param $n i32) (result i32)
    (local $i i32) (local $a (ref null $node)) (local $b (ref null $node))
    (block $done
      (loop $l
        (br_if $done (i32.ge_u (local.get $i) (local.get $n)))
        (local.set $a (struct.new $node (i64.const 1) (ref.null $node)))
        (local.set $b (struct.new $node (i64.const 2) (local.get $a)))
        (struct.set $node $next (local.get $a) (local.get $b))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $l)))
    ;; the last cycle is intact: a -> b -> a
    (ref.eq (struct.get $node $next (struct.get $node $next (local.get $a))) (local.get $a)))

  ;; lists reachable only from the global and a table slot, across m structs of churn
  (func (export "rooted") (param $n i32) (param $m i32) (result i64)
    (global.set $keep (call $list (local.get $n)))
    (table.set $tab (i32.const 2) (call $list (local.get $n)))
    (drop (call $churn (local.get $m)))
    (i64.add (call $sum (global.get $keep)) (call $sum (table.get $tab (i32.const 2)))))

  ;; a list of n nodes kept in the global: past the budget this traps
  (func (export "hoard") (param $n i32) (result i64)
    (global.set $keep (call $list (local.get $n)))
    (call $sum (global.get $keep)))

  ;; an anyref array holding an i31, a box (an externalized struct in its externref
  ;; field, an i31 in its anyref one) and a struct, kept only in a local across n structs
  ;; of churn: 7 + 40 + 5 + 1
  (func (export "mixed") (param $n i32) (result i32)
    (local $arr (ref $anys)) (local $b (ref $box))
    (local.set $arr (array.new_default $anys (i32.const 4)))
    (array.set $anys (local.get $arr) (i32.const 0) (ref.i31 (i32.const 7)))
    (array.set $anys (local.get $arr) (i32.const 1)
      (struct.new $box (extern.convert_any (struct.new $node (i64.const 40) (ref.null $node)))
                       (ref.i31 (i32.const 5))))
    (array.set $anys (local.get $arr) (i32.const 2) (struct.new $node (i64.const 1) (ref.null $node)))
    (drop (call $churn (local.get $n)))
    (local.set $b (ref.cast (ref $box) (array.get $anys (local.get $arr) (i32.const 1))))
    (i32.add
      (i32.add (i31.get_u (ref.cast (ref i31) (array.get $anys (local.get $arr) (i32.const 0))))
               (i32.wrap_i64 (struct.get $node $v
                 (ref.cast (ref $node) (any.convert_extern (struct.get $box $e (local.get $b)))))))
      (i32.add (i31.get_u (ref.cast (ref i31) (struct.get $box $a (local.get $b))))
               (i32.wrap_i64 (struct.get $node $v
                 (ref.cast (ref $node) (array.get $anys (local.get $arr) (i32.const 2))))))))
)
