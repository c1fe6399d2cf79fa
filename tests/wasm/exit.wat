;; Test program for tests/wasm/suite.sh: proc_exit with any 32-bit code (--invoke exit CODE),
;; and from the start function (start_exit.wat is made from this with the code filled in).
(module
  (import "wasi_snapshot_preview1" "proc_exit" (func $exit (param i32)))
  (memory (export "memory") 1)
  (func (export "exit") (param i32) (call $exit (local.get 0)))
  (func (export "_start"))
)
