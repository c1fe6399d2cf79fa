;; Tail calls (WebAssembly 3.0) for tests/wasm/suite.sh, run as text (wat2wasm 1.0.32 needs
;; flags for them): return_call and return_call_indirect in constant stack space, into
;; functions of any frame size, into a host function, with traps and fuel.
(module
  (import "wasi_snapshot_preview1" "proc_exit" (func $exit (param i32)))
  (memory (export "memory") 1)
  (type $ii (func (param i64) (result i64)))
  (table 2 funcref)
  (elem (i32.const 0) $even_i $odd_i)

  ;; even(n) and odd(n) by mutual tail recursion: n levels deep, 3 slots a level
  (func $even (export "even") (param i64) (result i64)
    (if (result i64) (i64.eqz (local.get 0))
      (then (i64.const 1))
      (else (return_call $odd (i64.sub (local.get 0) (i64.const 1))))))
  (func $odd (param i64) (result i64)
    (if (result i64) (i64.eqz (local.get 0))
      (then (i64.const 0))
      (else (return_call $even (i64.sub (local.get 0) (i64.const 1))))))

  ;; the same through the table
  (func $even_i (export "even_indirect") (param i64) (result i64)
    (if (result i64) (i64.eqz (local.get 0))
      (then (i64.const 1))
      (else (return_call_indirect (type $ii) (i64.sub (local.get 0) (i64.const 1)) (i32.const 1)))))
  (func $odd_i (param i64) (result i64)
    (if (result i64) (i64.eqz (local.get 0))
      (then (i64.const 0))
      (else (return_call_indirect (type $ii) (i64.sub (local.get 0) (i64.const 1)) (i32.const 0)))))

  ;; sum(n, acc): a callee with a larger frame than its caller (locals zeroed on entry)
  (func $sum (export "sum") (param i64 i64) (result i64)
    (if (result i64) (i64.eqz (local.get 0))
      (then (local.get 1))
      (else (return_call $sum_big (local.get 0) (local.get 1)))))
  (func $sum_big (param i64 i64) (result i64)
    (local i64 i64 i64 i64 i64 i64 i64 i64)
    (local.set 2 (i64.add (local.get 2) (local.get 0)))
    (return_call $sum (i64.sub (local.get 0) (i64.const 1)) (i64.add (local.get 1) (local.get 2))))

  ;; a translated caller (no tail calls of its own) of a function that makes them
  (func (export "calls_even") (param i64) (result i64)
    (i64.add (call $even (local.get 0)) (i64.const 100)))

  ;; tail call into a host function: proc_exit(n)
  (func (export "exit_tail") (param i32) (return_call $exit (local.get 0)))

  ;; the trap is reported in the function that was tail-called
  (func $boom (param i64) (result i64) (unreachable))
  (func (export "trap_tail") (param i64) (result i64) (return_call $boom (local.get 0)))
  (func (export "bad_indirect") (param i32) (result i64)
    (return_call_indirect (type $ii) (i64.const 0) (local.get 0)))

  (func (export "_start"))
)
