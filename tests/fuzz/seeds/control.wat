;; Seed: multi-value blocks, br_table, globals, a start function, unreachable.
(module
  (global $g (mut i32) (i32.const 0))
  (global $c i64 (i64.const 7))
  (func $start (global.set $g (i32.const 3)))
  (start $start)
  (func (export "swap") (param i32 i32) (result i32 i32)
    (local.get 1) (local.get 0))
  (func (export "table") (param i32) (result i32)
    (block $a
      (block $b
        (block $c
          (br_table $a $b $c (local.get 0)))
        (return (i32.const 1)))
      (return (i32.const 2)))
    (i32.const 3))
  (func (export "multi") (result i32)
    (i32.const 1) (i32.const 2)
    (block (param i32 i32) (result i32)
      (i32.add)
      (i32.const 1) (i32.add)))
  (func (export "glob") (result i64)
    (global.set $g (i32.add (global.get $g) (i32.const 1)))
    (i64.add (global.get $c) (i64.extend_i32_s (global.get $g))))
  (func (export "trap") (unreachable)))
