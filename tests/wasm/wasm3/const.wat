;; Extended constant expressions (WebAssembly 3.0) for tests/wasm/suite.sh, run as text.
(module
  (memory 1)
  (global $base i32 (i32.const 1000))
  (global $g i64 (i64.sub (i64.mul (i64.const 1000000) (i64.const 1000000)) (i64.const 1)))
  (data (i32.add (i32.mul (i32.const 4) (i32.const 25)) (i32.const 1)) "\07")
  (func (export "g") (result i64) (global.get $g))
  (func (export "byte") (param i32) (result i32) (i32.load8_u (local.get 0)))
)
