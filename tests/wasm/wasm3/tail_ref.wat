;; Tail calls through references (return_call_ref, WebAssembly 3.0) for tests/wasm/suite.sh,
;; run as text: even and odd by mutual tail recursion in constant stack space, a null
;; reference's trap, and the tail call's tick of fuel; the JIT translates them (suite.sh
;; checks with LODGE_PERF_MAP).
(module
  (type $ii (func (param i64) (result i64)))
  (func $even (export "even") (param i64) (result i64)
    (if (result i64) (i64.eqz (local.get 0))
      (then (i64.const 1))
      (else (return_call_ref $ii (i64.sub (local.get 0) (i64.const 1)) (ref.func $odd)))))
  (func $odd (export "odd") (param i64) (result i64)
    (if (result i64) (i64.eqz (local.get 0))
      (then (i64.const 0))
      (else (return_call_ref $ii (i64.sub (local.get 0) (i64.const 1)) (ref.func $even)))))
  (func (export "null") (param i64) (result i64)
    (return_call_ref $ii (local.get 0) (ref.null $ii)))
  (func (export "_start"))
)
