;; Lodge's own tests of the threads proposal's atomics, beyond its suite files: hostile
;; addresses and operands, wait/notify answers a single thread can see, shared memories
;; with multiple memories and memory64, and the text and binary forms.
(module
  (memory 1 2 shared)
  (memory $u 1)
  (memory $m64 i64 1 1 shared)
  (func (export "load32") (param i32) (result i32) (i32.atomic.load offset=4 (local.get 0)))
  (func (export "load64") (param i32) (result i64) (i64.atomic.load (local.get 0)))
  (func (export "store16") (param i32 i32) (i32.atomic.store16 (local.get 0) (local.get 1)))
  (func (export "load8") (param i32) (result i32) (i32.atomic.load8_u (local.get 0)))
  (func (export "rmw8_add") (param i32 i32) (result i32)
    (i32.atomic.rmw8.add_u (local.get 0) (local.get 1)))
  (func (export "rmw32_sub") (param i32 i64) (result i64)
    (i64.atomic.rmw32.sub_u (local.get 0) (local.get 1)))
  (func (export "cmpxchg8") (param i32 i32 i32) (result i32)
    (i32.atomic.rmw8.cmpxchg_u (local.get 0) (local.get 1) (local.get 2)))
  (func (export "cmpxchg64") (param i32 i64 i64) (result i64)
    (i64.atomic.rmw.cmpxchg (local.get 0) (local.get 1) (local.get 2)))
  (func (export "xchg16") (param i32 i64) (result i64)
    (i64.atomic.rmw16.xchg_u (local.get 0) (local.get 1)))
  (func (export "wait32") (param i32 i32 i64) (result i32)
    (memory.atomic.wait32 (local.get 0) (local.get 1) (local.get 2)))
  (func (export "wait64") (param i32 i64 i64) (result i32)
    (memory.atomic.wait64 (local.get 0) (local.get 1) (local.get 2)))
  (func (export "notify") (param i32 i32) (result i32)
    (memory.atomic.notify (local.get 0) (local.get 1)))
  (func (export "fence") (atomic.fence))
  ;; an unshared memory: atomics work, notify wakes nobody, wait traps
  (func (export "u_rmw_or") (param i32 i32) (result i32)
    (i32.atomic.rmw.or $u (local.get 0) (local.get 1)))
  (func (export "u_notify") (param i32 i32) (result i32)
    (memory.atomic.notify $u (local.get 0) (local.get 1)))
  (func (export "u_wait32") (param i32 i32 i64) (result i32)
    (memory.atomic.wait32 $u (local.get 0) (local.get 1) (local.get 2)))
  ;; memory64: i64 addresses, 64-bit offsets
  (func (export "m64_rmw_add") (param i64 i64) (result i64)
    (i64.atomic.rmw.add $m64 offset=8 (local.get 0) (local.get 1)))
  (func (export "m64_wait64") (param i64 i64 i64) (result i32)
    (memory.atomic.wait64 $m64 (local.get 0) (local.get 1) (local.get 2)))
  (func (export "grow") (param i32) (result i32) (memory.grow (local.get 0)))
  (func (export "size") (result i32) (memory.size))
  ;; in a loop: a JIT forced at the first loop leaves the function to the interpreter
  (func (export "count") (param i32 i32) (result i32)
    (loop $l
      (drop (i32.atomic.rmw.add (i32.const 64) (i32.const 1)))
      (br_if $l (local.tee 1 (i32.sub (local.get 1) (i32.const 1)))))
    (i32.atomic.load (i32.const 64)))
)

;; plain accesses, results zero-extended, operands wrapped to the width
(invoke "store16" (i32.const 0) (i32.const 0x12345))
(assert_return (invoke "load8" (i32.const 0)) (i32.const 0x45))
(assert_return (invoke "load8" (i32.const 1)) (i32.const 0x23))
(assert_return (invoke "rmw8_add" (i32.const 0) (i32.const 0x1c0)) (i32.const 0x45))
(assert_return (invoke "load8" (i32.const 0)) (i32.const 0x05))
(assert_return (invoke "load8" (i32.const 1)) (i32.const 0x23))
(assert_return (invoke "rmw32_sub" (i32.const 0) (i64.const 0x100002306)) (i64.const 0x2305))
(assert_return (invoke "load64" (i32.const 0)) (i64.const 0xffffffff))
;; cmpxchg compares with the expected value wrapped to the width
(assert_return (invoke "cmpxchg8" (i32.const 0) (i32.const 0x1ff) (i32.const 0x77)) (i32.const 0xff))
(assert_return (invoke "load8" (i32.const 0)) (i32.const 0x77))
(assert_return (invoke "cmpxchg8" (i32.const 0) (i32.const 0x78) (i32.const 0x11)) (i32.const 0x77))
(assert_return (invoke "load8" (i32.const 0)) (i32.const 0x77))
(assert_return (invoke "cmpxchg64" (i32.const 8) (i64.const 0) (i64.const -1)) (i64.const 0))
(assert_return (invoke "cmpxchg64" (i32.const 8) (i64.const 0) (i64.const 5)) (i64.const -1))
(assert_return (invoke "xchg16" (i32.const 8) (i64.const 0x1234567)) (i64.const 0xffff))
(assert_return (invoke "load64" (i32.const 8)) (i64.const 0xffffffffffff4567))
(invoke "fence")
(assert_return (invoke "count" (i32.const 0) (i32.const 1000)) (i32.const 1000))

;; misaligned: the effective address (address + offset) decides; alignment before bounds
(assert_trap (invoke "load32" (i32.const 2)) "unaligned atomic")
(assert_return (invoke "load32" (i32.const 4)) (i32.const 0xffff4567))
(assert_trap (invoke "load64" (i32.const 4)) "unaligned atomic")
(assert_trap (invoke "load64" (i32.const 0xfffffff9)) "unaligned atomic")
(assert_trap (invoke "store16" (i32.const 0xffff) (i32.const 0)) "unaligned atomic")
(assert_trap (invoke "cmpxchg64" (i32.const 12) (i64.const 0) (i64.const 0)) "unaligned atomic")
(assert_trap (invoke "wait64" (i32.const 4) (i64.const 0) (i64.const 0)) "unaligned atomic")
(assert_trap (invoke "notify" (i32.const 2) (i32.const 1)) "unaligned atomic")
;; out of bounds, aligned
(assert_trap (invoke "load32" (i32.const 65532)) "out of bounds memory access")
(assert_trap (invoke "load64" (i32.const 65536)) "out of bounds memory access")
(assert_trap (invoke "load32" (i32.const 0xfffffffc)) "out of bounds memory access")
(assert_trap (invoke "rmw8_add" (i32.const 65536) (i32.const 1)) "out of bounds memory access")
(assert_trap (invoke "wait32" (i32.const 65536) (i32.const 0) (i64.const 0)) "out of bounds memory access")
(assert_trap (invoke "notify" (i32.const 65536) (i32.const 1)) "out of bounds memory access")

;; wait: 1 when the value differs (even with no timeout), 2 after the timeout
(assert_return (invoke "wait32" (i32.const 0) (i32.const 0) (i64.const -1)) (i32.const 1))
(assert_return (invoke "wait64" (i32.const 8) (i64.const 0) (i64.const 0x7fffffffffffffff)) (i32.const 1))
(assert_return (invoke "wait32" (i32.const 16) (i32.const 0) (i64.const 0)) (i32.const 2))
(assert_return (invoke "wait32" (i32.const 16) (i32.const 0) (i64.const 1000000)) (i32.const 2))
(assert_return (invoke "wait64" (i32.const 16) (i64.const 0) (i64.const 1)) (i32.const 2))
;; wait32 compares 32 bits only
(assert_return (invoke "wait32" (i32.const 8) (i32.const 0xffff4567) (i64.const 0)) (i32.const 2))
;; notify: nobody waits here; any count, even 0 or 2**32-1
(assert_return (invoke "notify" (i32.const 16) (i32.const 0)) (i32.const 0))
(assert_return (invoke "notify" (i32.const 16) (i32.const -1)) (i32.const 0))

;; the unshared memory
(assert_return (invoke "u_rmw_or" (i32.const 0) (i32.const 6)) (i32.const 0))
(assert_return (invoke "u_rmw_or" (i32.const 0) (i32.const 1)) (i32.const 6))
(assert_return (invoke "u_notify" (i32.const 0) (i32.const 5)) (i32.const 0))
(assert_trap (invoke "u_wait32" (i32.const 0) (i32.const 7) (i64.const 0)) "expected shared memory")
(assert_trap (invoke "u_wait32" (i32.const 0) (i32.const 0) (i64.const 0)) "expected shared memory")

;; memory64: the address and offset as i64
(assert_return (invoke "m64_rmw_add" (i64.const 0) (i64.const 3)) (i64.const 0))
(assert_return (invoke "m64_rmw_add" (i64.const 0) (i64.const 3)) (i64.const 3))
(assert_trap (invoke "m64_rmw_add" (i64.const 4) (i64.const 3)) "unaligned atomic")
(assert_trap (invoke "m64_rmw_add" (i64.const 65528) (i64.const 3)) "out of bounds memory access")
(assert_trap (invoke "m64_rmw_add" (i64.const 0xfffffffffffffff8) (i64.const 3)) "out of bounds memory access")
(assert_return (invoke "m64_wait64" (i64.const 8) (i64.const 6) (i64.const 0)) (i32.const 2))

;; a shared memory grows in place up to its maximum
(assert_return (invoke "grow" (i32.const 1)) (i32.const 1))
(assert_return (invoke "load32" (i32.const 65532)) (i32.const 0))
(assert_return (invoke "grow" (i32.const 1)) (i32.const -1))
(assert_return (invoke "size") (i32.const 2))
(assert_return (invoke "load8" (i32.const 0)) (i32.const 0x77))

;; validation: alignment exactly natural, a memory, operand types
(assert_invalid (module (memory 1 1 shared)
  (func (drop (i32.atomic.load align=2 (i32.const 0))))) "atomic alignment must be natural")
(assert_invalid (module (memory 1 1 shared)
  (func (drop (i64.atomic.rmw16.add_u align=1 (i32.const 0) (i64.const 0))))) "atomic alignment")
(assert_invalid (module (memory 1 1 shared)
  (func (drop (i32.atomic.rmw.add (i32.const 0) (i64.const 0))))) "type mismatch")
(assert_invalid (module (memory 1 1 shared)
  (func (drop (memory.atomic.wait32 (i32.const 0) (i32.const 0) (i32.const 0))))) "type mismatch")
(assert_invalid (module (memory 1 1 shared)
  (func (drop (memory.atomic.notify (i32.const 0) (i64.const 0))))) "type mismatch")
(assert_invalid (module (memory 1 shared)) "shared memory must have maximum")
(assert_invalid (module (memory i64 1 shared)) "shared memory must have maximum")
;; binary: limits flag 3 (shared, maximum) and 2 (shared, none); fence's reserved byte
(module binary "\00asm\01\00\00\00" "\05\04\01\03\01\02")
(assert_invalid (module binary "\00asm\01\00\00\00" "\05\03\01\02\01") "shared memory must have maximum")
(assert_malformed (module binary "\00asm\01\00\00\00" "\05\03\01\08\01") "malformed limits flags")
(module binary "\00asm\01\00\00\00" "\01\04\01\60\00\00" "\03\02\01\00"
  "\0a\07\01\05\00\fe\03\00\0b")
(assert_malformed (module binary "\00asm\01\00\00\00" "\01\04\01\60\00\00" "\03\02\01\00"
  "\0a\07\01\05\00\fe\03\01\0b") "malformed atomic.fence")
(assert_malformed (module binary "\00asm\01\00\00\00" "\01\04\01\60\00\00" "\03\02\01\00"
  "\0a\07\01\05\00\fe\4f\00\0b") "illegal opcode")
(assert_malformed (module binary "\00asm\01\00\00\00" "\01\04\01\60\00\00" "\03\02\01\00"
  "\0a\07\01\05\00\fe\04\00\0b") "illegal opcode")

;; linking: shared must match exactly
(module $sh (memory (export "m") 1 2 shared) (memory (export "u") 1 2))
(register "sh" $sh)
(module (import "sh" "m" (memory 1 2 shared)))
(assert_unlinkable (module (import "sh" "m" (memory 1 2))) "incompatible import type")
(assert_unlinkable (module (import "sh" "u" (memory 1 2 shared))) "incompatible import type")
