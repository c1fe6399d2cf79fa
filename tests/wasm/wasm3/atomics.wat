;; Test program for tests/wasm/suite.sh: the threads proposal's atomics from the command
;; line: traps with their text position, memory.atomic.wait blocking until its timeout
;; or until --timeout ends it.
(module
  (memory 1 1 shared)
  (memory $u 1)
  (func (export "add") (param $a i32) (param $v i32) (result i32)
    (i32.atomic.rmw.add (local.get $a) (local.get $v)))
  (func (export "load64") (param $a i32) (result i64)
    (i64.atomic.load offset=8 (local.get $a)))
  ;; waits for ns nanoseconds (the value stays 0): 2
  (func (export "wait") (param $ns i64) (result i32)
    (memory.atomic.wait64 (i32.const 64) (i64.const 0) (local.get $ns)))
  ;; waits with no timeout: only --timeout ends it
  (func (export "wait_forever") (result i32)
    (memory.atomic.wait32 (i32.const 64) (i32.const 0) (i64.const -1)))
  (func (export "wait_unshared") (result i32)
    (memory.atomic.wait32 $u (i32.const 0) (i32.const 0) (i64.const -1)))
  (func (export "notify") (param $n i32) (result i32)
    (memory.atomic.notify (i32.const 64) (local.get $n)))
)
