;; Precise stack roots under allocation pressure (tests/wasm/suite.sh runs it with a small
;; --max-memory, interpreted and with the JIT): a list held only as an operand below a
;; call (the caller's stack map at that call must name its slot), only as the
;; argument of a call whose callee collects while it runs, and only in a translated frame.
(module
  (type $node (struct (field $v (mut i64)) (field $next (mut (ref null $node)))))

  ;; n structs, each garbage at once; returns n
  (func $churn (param $n i32) (result i64)
    (local $i i32)
    (block $done
      (loop $l
        (br_if $done (i32.ge_u (local.get $i) (local.get $n)))
        (drop (struct.new $node (i64.extend_i32_u (local.get $i)) (ref.null $node)))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $l)))
    (i64.extend_i32_u (local.get $n)))

  ;; a list of n nodes holding 1..n
  (func $list (param $n i32) (result (ref null $node))
    (local $head (ref null $node)) (local $i i32)
    (block $done
      (loop $l
        (br_if $done (i32.ge_u (local.get $i) (local.get $n)))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (local.set $head (struct.new $node (i64.extend_i32_u (local.get $i)) (local.get $head)))
        (br $l)))
    (local.get $head))

  ;; the sum of list p, plus t - t
  (func $sum (param $p (ref null $node)) (param $t i64) (result i64)
    (local $s i64)
    (block $done
      (loop $l
        (br_if $done (ref.is_null (local.get $p)))
        (local.set $s (i64.add (local.get $s) (struct.get $node $v (local.get $p))))
        (local.set $p (struct.get $node $next (local.get $p)))
        (br $l)))
    (i64.add (local.get $s) (i64.sub (local.get $t) (local.get $t))))

  ;; the list is only an operand entry while churn runs: n(n+1)/2
  (func (export "operand") (param $n i32) (param $m i32) (result i64)
    (call $sum (call $list (local.get $n)) (call $churn (local.get $m))))

  ;; the list is only the argument (a local) of keep, which churns: n(n+1)/2
  (func $keep (param $p (ref null $node)) (param $m i32) (result i64)
    (call $sum (local.get $p) (call $churn (local.get $m))))
  (func (export "argument") (param $n i32) (param $m i32) (result i64)
    (call $keep (call $list (local.get $n)) (local.get $m)))

  ;; translated frames (no GC instruction: the JIT takes $pass, $hold and "translated"):
  ;; the list is only a local of $hold while $churn, called through $pass, collects; the
  ;; frame walk must find $hold's frame two calls up and scan it with its stack map
  (func $pass (param $m i32) (result i64) (call $churn (local.get $m)))
  (func $hold (param $p (ref null $node)) (param $m i32) (result (ref null $node))
    (drop (call $pass (local.get $m)))
    (local.get $p))
  (func (export "translated") (param $n i32) (param $m i32) (result i64)
    (call $sum (call $hold (call $list (local.get $n)) (local.get $m)) (i64.const 0)))
;; more ways translated code reaches the collector (review r-wjit): every function
  ;; below without a GC instruction is translated; each holds a list only in its frame
  ;; while an interpreted callee collects.
  (type $pass_t (func (param i32) (result i64)))
  (table $t 2 funcref)
  (elem (table $t) (i32.const 0) func $pass $churn)
  (elem declare func $churn)
  ;; an operand below a call_indirect, then below a call_ref
  (func $hold_ind (param $p (ref null $node)) (param $m i32) (result (ref null $node))
    (local.get $p)
    (drop (call_indirect $t (type $pass_t) (local.get $m) (i32.const 1)))
    (drop (call_ref $pass_t (local.get $m) (ref.func $churn))))
  (func (export "indirect") (param $n i32) (param $m i32) (result i64)
    (call $sum (call $hold_ind (call $list (local.get $n)) (local.get $m)) (i64.const 0)))
  ;; a return_call chain: $tail's frame becomes $churn's (interpreted, entered from the
  ;; jump), the list two levels up in $hold_tail's frame
  (func $tail (param $m i32) (result i64) (return_call $churn (local.get $m)))
  (func $tail_ind (param $m i32) (result i64)
    (return_call_indirect $t (type $pass_t) (local.get $m) (i32.const 0)))
  (func $hold_tail (param $p (ref null $node)) (param $m i32) (result (ref null $node))
    (drop (call $tail (local.get $m)))
    (drop (call $tail_ind (local.get $m)))
    (local.get $p))
  (func (export "tail") (param $n i32) (param $m i32) (result i64)
    (call $sum (call $hold_tail (call $list (local.get $n)) (local.get $m)) (i64.const 0)))
  ;; a list used in a hot loop (a slot the JIT may keep in a register) across calls
  (func $hold_loop (param $p (ref null $node)) (param $m i32) (result (ref null $node))
    (local $i i32) (local $q (ref null $node))
    (loop $l
      (local.set $q (local.get $p))
      (if (ref.is_null (local.get $q)) (then (unreachable)))
      (drop (call $pass (local.get $m)))
      (local.set $p (local.get $q))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br_if $l (i32.lt_u (local.get $i) (i32.const 4))))
    (local.get $p))
  (func (export "loop") (param $n i32) (param $m i32) (result i64)
    (call $sum (call $hold_loop (call $list (local.get $n)) (local.get $m)) (i64.const 0)))
  ;; recursion d deep, every level holding the list, the innermost churning
  (func $hold_rec (param $p (ref null $node)) (param $m i32) (param $d i32)
    (result (ref null $node))
    (if (i32.eqz (local.get $d))
      (then (drop (call $pass (local.get $m))) (return (local.get $p))))
    (drop (call $hold_rec (ref.null $node) (local.get $m) (i32.sub (local.get $d) (i32.const 1))))
    (local.get $p))
  (func (export "recursive") (param $n i32) (param $m i32) (result i64)
    (call $sum (call $hold_rec (call $list (local.get $n)) (local.get $m) (i32.const 40))
      (i64.const 0)))
  ;; translated, interpreted, translated: a list in each translated stretch and one in
  ;; the interpreted frame between them (it allocates, so it is not translated)
  (func $mid (param $p (ref null $node)) (param $n i32) (param $m i32) (result i64)
    (local $q (ref null $node))
    (local.set $q (call $list (local.get $n)))
    (drop (struct.new $node (i64.const 0) (ref.null $node)))
    (i64.add (call $sum (call $hold (local.get $q) (local.get $m)) (i64.const 0))
             (call $sum (local.get $p) (i64.const 0))))
  (func $outer (param $p (ref null $node)) (param $n i32) (param $m i32) (result i64)
    (i64.add (call $mid (local.get $p) (local.get $n) (local.get $m))
             (call $sum (local.get $p) (i64.const 0))))
  (func (export "nested") (param $n i32) (param $m i32) (result i64)
    (call $outer (call $list (local.get $n)) (local.get $n) (local.get $m)))
;; translated code entered from the interpreter ($t_entry, translated at its first call)
  ;; tail-calls an interpreted function ($t_holder allocates, so it is never translated):
  ;; the interpreter run that runs it must start at $t_entry's call depth (it started
  ;; 2^60 frames off, so a collection scanned none of its frames and freed the list)
  (func $t_holder (param $n i32) (param $m i32) (result i64)
    (local $l (ref null $node))
    (drop (struct.new $node (i64.const 0) (ref.null $node)))
    (local.set $l (call $list (local.get $n)))
    (drop (call $churn (local.get $m)))
    (call $sum (local.get $l) (i64.const 0)))
  (func $t_entry (param $n i32) (param $m i32) (result i64)
    (return_call $t_holder (local.get $n) (local.get $m)))
  (func (export "tailentry") (param $n i32) (param $m i32) (result i64)
    (drop (struct.new $node (i64.const 0) (ref.null $node)))
    (call $t_entry (local.get $n) (local.get $m)))
)
