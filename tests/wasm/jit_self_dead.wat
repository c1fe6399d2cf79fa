;; A self-call in dead code (tests/wasm/suite.sh runs it both ways): the function returns
;; before any branch, whatever its argument, and the call after the block that returns
;; is never reached. The JIT's search for a self-call's early return (translate.c,
;; leaf_of) found that return with no compare to make and read an unset parameter index:
;; the translation crashed Lodge (SIGSEGV) where the interpreter prints 7.
(module
  (func $g (export "g") (param $n i32) (result i32)
    (block $b (return (i32.const 7)))
    (call $g (local.get $n)))
  ;; no result, i64
  (func $v (param $n i64)
    (block (return))
    (call $v (local.get $n)))
  ;; hot: translated at its default threshold from a loop
  (func (export "run") (param $n i32) (result i32)
    (local $i i32) (local $sum i32)
    (loop $l
      (call $v (i64.extend_i32_u (local.get $i)))
      (local.set $sum (i32.add (local.get $sum) (call $g (local.get $i))))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br_if $l (i32.lt_u (local.get $i) (local.get $n))))
    (local.get $sum)))
