;; Seed: imported function, memory, table and global (the run target stubs them).
(module
  (import "env" "f" (func $f (param i32 i64) (result f64)))
  (import "env" "mem" (memory 1 2))
  (import "env" "tab" (table 1 funcref))
  (import "env" "g" (global $g (mut i32)))
  (func (export "run") (result f64)
    (global.set $g (i32.const 5))
    (i32.store (i32.const 0) (global.get $g))
    (call $f (i32.load (i32.const 0)) (i64.const 9))))
