;; Lodge's own tests of extended constant expressions (WebAssembly 3.0), run by the
;; wasm3-spec suite as "wasm3-spec.lodge.extended_const": the 3.0 suite's own cases sit in
;; files that also need GC (global.wast, data.wast), which Lodge does not run strictly yet.

(module
  (global $base (import "spectest" "global_i32") i32)   ;; 666
  (global $base64 (import "spectest" "global_i64") i64) ;; 666
  (global $a (export "a") i32 (i32.add (global.get $base) (i32.const 1)))
  (global $b (export "b") i32 (i32.sub (i32.const 0) (global.get $base)))
  (global $c (export "c") i32 (i32.mul (i32.const 0x10000) (i32.const 0x10000)))
  (global $d (export "d") i32 (i32.sub (i32.const 0x80000000) (i32.const 1)))
  (global $e (export "e") i64 (i64.mul (global.get $base64) (i64.const 0x100000000)))
  (global $f (export "f") i64 (i64.sub (i64.const 0) (i64.const 1)))
  ;; nested: ((2 * 3) + (10 - 4)) * 7 - 666 = 84 - 666
  (global $g (export "g") i32
    (i32.sub
      (i32.mul (i32.add (i32.mul (i32.const 2) (i32.const 3))
                        (i32.sub (i32.const 10) (i32.const 4)))
               (i32.const 7))
      (global.get $base)))
  ;; a single instruction is still one
  (global $h (export "h") i64 (i64.const 5))
  (memory 1)
  ;; data at 666 - 600 + 2 = 68
  (data (i32.add (i32.sub (global.get $base) (i32.const 600)) (i32.const 2)) "\2a\2b")
  (func (export "load") (param i32) (result i32) (i32.load8_u (local.get 0)))
  (table 10 funcref)
  (elem (i32.sub (global.get $base) (i32.const 660)) $seven)   ;; at 6
  (func $seven (result i32) (i32.const 7))
  (type $t (func (result i32)))
  (func (export "call") (param i32) (result i32) (call_indirect (type $t) (local.get 0)))
)

(assert_return (get "a") (i32.const 667))
(assert_return (get "b") (i32.const -666))
(assert_return (get "c") (i32.const 0))
(assert_return (get "d") (i32.const 0x7fffffff))
(assert_return (get "e") (i64.const 0x29a00000000))
(assert_return (get "f") (i64.const -1))
(assert_return (get "g") (i32.const -582))
(assert_return (get "h") (i64.const 5))
(assert_return (invoke "load" (i32.const 67)) (i32.const 0))
(assert_return (invoke "load" (i32.const 68)) (i32.const 0x2a))
(assert_return (invoke "load" (i32.const 69)) (i32.const 0x2b))
(assert_return (invoke "call" (i32.const 6)) (i32.const 7))
(assert_trap (invoke "call" (i32.const 5)) "uninitialized element")

;; an offset computed out of range still fails instantiation
(assert_trap
  (module (memory 1) (data (i32.mul (i32.const 0x8000) (i32.const 2)) "x"))
  "out of bounds memory access")

;; the operators must have operands of their type, and leave one value
(assert_invalid
  (module (global i32 (i32.add (i32.const 1))))
  "type mismatch")
(assert_invalid
  (module (global i32 (i32.add (i64.const 1) (i64.const 2))))
  "type mismatch")
(assert_invalid
  (module (global i64 (i32.add (i32.const 1) (i32.const 2))))
  "type mismatch")
(assert_invalid
  (module (global i32 (i32.const 1) (i32.const 2) (i32.const 3) (i32.add)))
  "type mismatch")
(assert_invalid
  (module (global i64 (i64.add (i64.const 1) (i64.const 2)) (i64.const 3)))
  "type mismatch")
;; other arithmetic is not constant
(assert_invalid
  (module (global i32 (i32.div_u (i32.const 1) (i32.const 2))))
  "constant expression required")
(assert_invalid
  (module (global i32 (i32.and (i32.const 1) (i32.const 2))))
  "constant expression required")
(assert_invalid
  (module (global i64 (i64.add (i64.const 1) (i64.extend_i32_u (i32.const 2)))))
  "constant expression required")
(assert_invalid
  (module (memory 1) (data (i32.add (i32.const 0) (i32.load (i32.const 0)))))
  "constant expression required")
;; a mutable global is not constant inside one either
(assert_invalid
  (module (global $m (import "spectest" "global_mut") (mut i32))
          (global i32 (i32.add (global.get $m) (i32.const 1))))
  "constant expression required")

;; the same in the binary format: i32.const 3, i32.const 4, i32.mul, end
(module binary
  "\00asm" "\01\00\00\00"
  "\06\09\01"                    ;; global section, 1 global
  "\7f\00"                       ;; i32, immutable
  "\41\03\41\04\6c\0b"           ;; (i32.mul (i32.const 3) (i32.const 4))
  "\07\05\01\01\78\03\00"        ;; export "x" global 0
)
(assert_return (get "x") (i32.const 12))
;; i32.mul with one operand on the stack
(assert_invalid
  (module binary
    "\00asm" "\01\00\00\00"
    "\06\07\01\7f\00\41\03\6c\0b"
  )
  "type mismatch")
;; a body that ends inside the expression
(assert_malformed
  (module binary
    "\00asm" "\01\00\00\00"
    "\06\07\01\7f\00\41\03\41\04"
  )
  "unexpected end")
