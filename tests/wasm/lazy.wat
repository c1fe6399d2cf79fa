;; Test program for tests/wasm/suite.sh: lazy compilation (--compile lazy). _start calls $used only, so
;; $unused (which would trap) and $never are never compiled (LODGE_WASM_TIMES=1 counts the
;; functions compiled); "trap" traps in $deep, two lazily compiled calls down, and its
;; location must be the one eager compilation gives.
(module
  (memory (export "memory") 1)
  (func $used (result i32) (i32.const 7))
  (func $unused (result i32) (i32.div_s (i32.const 1) (i32.const 0)))
  (func $never (loop (br 0)))
  (func $mid (param i32) (result i32) (call $deep (local.get 0)))
  (func $deep (param i32) (result i32)
    (i32.add (i32.const 1) (i32.div_u (i32.const 10) (local.get 0))))
  (func (export "trap") (param i32) (result i32) (call $mid (local.get 0)))
  (func (export "_start") (drop (call $used)))
)
