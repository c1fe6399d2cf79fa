;; Test program for tests/wasm/suite.sh (run as text: wat2wasm would refuse it): the
;; second function is ill-typed and never called. Lazy compilation still validates it at
;; load, so the module is refused before anything runs.
(module
  (func (export "_start"))
  (func $never_called (result i32)
    (i64.const 1))
)
