;; Typed function references (WebAssembly 3.0) through the CLI: call_ref through a table
;; of a non-nullable type, a null function reference trapping at its line and column,
;; ref.as_non_null and br_on_null.
(module
  (type $op (func (param i64 i64) (result i64)))
  (func $add (type $op) (i64.add (local.get 0) (local.get 1)))
  (func $mul (type $op) (i64.mul (local.get 0) (local.get 1)))
  (table $ops 2 (ref $op) (ref.func $add))
  (elem (table $ops) (i32.const 1) (ref $op) (ref.func $mul))
  (global $none (mut (ref null $op)) (ref.null $op))
  (func (export "apply") (param i32 i64 i64) (result i64)
    (call_ref $op (local.get 1) (local.get 2) (table.get $ops (local.get 0))))
  (func (export "call_null") (param i64) (result i64)
    (call_ref $op (local.get 0) (local.get 0) (global.get $none)))
  (func (export "as_non_null") (result i32)
    (ref.is_null (ref.as_non_null (global.get $none))))
  (func (export "or_default") (param i64) (result i64)
    (block $null
      (return (call_ref $op (local.get 0) (local.get 0)
        (br_on_null $null (global.get $none)))))
    (i64.const -1))
)
