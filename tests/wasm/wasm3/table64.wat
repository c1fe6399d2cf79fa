;; Tables with i64 indices (WebAssembly 3.0 memory64) for tests/wasm/suite.sh, run as
;; text: call_indirect, get/set/size/grow/fill with i64 operands; an index past 2^32-1
;; traps as an out-of-range one does; --max-memory covers the table's growth.
(module
  (type $r (func (result i64)))
  (table $t i64 4 funcref)
  (elem (table $t) (i64.const 1) func $seven $eight)
  (func $seven (type $r) (i64.const 7))
  (func $eight (type $r) (i64.const 8))
  (func (export "call") (param i64) (result i64) (call_indirect $t (type $r) (local.get 0)))
  (func (export "is_null") (param i64) (result i32) (ref.is_null (table.get $t (local.get 0))))
  (func (export "size") (result i64) (table.size $t))
  (func (export "grow") (param i64) (result i64) (table.grow $t (ref.null func) (local.get 0)))
  (func (export "fill") (param i64 i64) (result i64)
    (table.fill $t (local.get 0) (ref.func $eight) (local.get 1))
    (call_indirect $t (type $r) (local.get 0)))
  (func (export "_start"))
)
