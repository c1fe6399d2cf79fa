;; 64-bit memories (WebAssembly 3.0 memory64) for tests/wasm/suite.sh, run as text: i64
;; addresses and offsets checked without overflow, size and grow in i64, bulk ops, data
;; at an i64 offset, and --max-memory.
(module
  (memory $m i64 1 4)
  (memory $n i64 0)
  (data (memory $m) (i64.const 65532) "\01\02\03\04")
  (func (export "load") (param i64) (result i32) (i32.load (local.get 0)))
  (func (export "load_off") (param i64) (result i32)
    (i32.load offset=0xfffffffffffffff0 (local.get 0)))
  (func (export "store_load") (param i64 i64) (result i64)
    (i64.store (local.get 0) (local.get 1))
    (i64.load (local.get 0)))
  (func (export "size") (result i64) (memory.size))
  (func (export "grow") (param i64) (result i64) (memory.grow (local.get 0)))
  (func (export "grow_n") (param i64) (result i64) (memory.grow $n (local.get 0)))
  (func (export "fill") (param i64 i64) (result i32)
    (memory.fill (local.get 0) (i32.const 7) (local.get 1))
    (i32.load8_u (local.get 0)))
  (func (export "copy") (param i64 i64 i64) (result i32)
    (memory.copy (local.get 0) (local.get 1) (local.get 2))
    (i32.load (local.get 0)))
  (func (export "_start"))
)
