;; The module embedded in tests/unit/test_wasm.c (regenerate with wat2wasm + xxd -i).
(module
  (import "env" "h" (func $h (param i32) (result i32)))
  (memory (export "memory") 1 2)
  (global $g (mut i32) (i32.const 5))
  (table 2 funcref)
  (elem (i32.const 0) $add)
  (func $add (export "add") (param i32 i32) (result i32) (i32.add (local.get 0) (local.get 1)))
  (func (export "spin") (loop $l (br $l)))
  (func (export "callh") (param i32) (result i32) (i32.mul (call $h (local.get 0)) (global.get $g)))
  (func (export "store") (param i32 i32) (i32.store (local.get 0) (local.get 1)))
)
