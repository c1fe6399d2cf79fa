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
)
