;; Lodge's own tests of the GC proposal's i31 references and ref.eq (3.0): an i31 is a
;; tagged word, never allocated; constant expressions may build one; ref.eq compares
;; identity; the 0xFB prefix's bounds.

(module
  (global $g (ref i31) (ref.i31 (i32.add (i32.const 40) (i32.const 2))))
  (global $big i31ref (ref.i31 (i32.const -1)))
  (table $t 4 i31ref (ref.i31 (i32.const 7)))
  (func (export "g") (result i32) (i31.get_s (global.get $g)))
  (func (export "big_u") (result i32) (i31.get_u (global.get $big)))
  (func (export "tab") (param i32) (result i32) (i31.get_u (table.get $t (local.get 0))))
  (func (export "round_s") (param i32) (result i32) (i31.get_s (ref.i31 (local.get 0))))
  (func (export "round_u") (param i32) (result i32) (i31.get_u (ref.i31 (local.get 0))))
  (func (export "eq") (param i32 i32) (result i32)
    (ref.eq (ref.i31 (local.get 0)) (ref.i31 (local.get 1))))
  (func (export "eq_null") (param i32) (result i32)
    (ref.eq (ref.null none) (if (result eqref) (local.get 0)
      (then (ref.i31 (i32.const 0))) (else (ref.null eq)))))
  (func (export "null_get") (result i32)
    (i31.get_u (ref.null i31)))
  ;; in a loop, so the JIT tier (which leaves such functions to the interpreter) sees it
  (func (export "sum") (param $n i32) (result i32) (local $acc i31ref)
    (local.set $acc (ref.i31 (i32.const 0)))
    (block $done
      (loop $l
        (br_if $done (i32.eqz (local.get $n)))
        (local.set $acc (ref.i31 (i32.add (i31.get_s (local.get $acc)) (local.get $n))))
        (local.set $n (i32.sub (local.get $n) (i32.const 1)))
        (br $l)))
    (i31.get_s (local.get $acc)))
)
(assert_return (invoke "g") (i32.const 42))
(assert_return (invoke "big_u") (i32.const 0x7fff_ffff))
(assert_return (invoke "tab" (i32.const 3)) (i32.const 7))
(assert_return (invoke "round_s" (i32.const 0x4000_0000)) (i32.const -0x4000_0000))
(assert_return (invoke "round_s" (i32.const 0x8000_0001)) (i32.const 1))
(assert_return (invoke "round_u" (i32.const 0xffff_fffe)) (i32.const 0x7fff_fffe))
(assert_return (invoke "eq" (i32.const 5) (i32.const 5)) (i32.const 1))
(assert_return (invoke "eq" (i32.const 5) (i32.const 6)) (i32.const 0))
;; the bit above the 31 is dropped: these are the same i31
(assert_return (invoke "eq" (i32.const 0x8000_0005) (i32.const 5)) (i32.const 1))
(assert_return (invoke "eq" (i32.const 0) (i32.const 0x8000_0000)) (i32.const 1))
(assert_return (invoke "eq_null" (i32.const 0)) (i32.const 1))
(assert_return (invoke "eq_null" (i32.const 1)) (i32.const 0))
(assert_trap (invoke "null_get") "null i31 reference")
(assert_return (invoke "sum" (i32.const 1000)) (i32.const 500500))

;; ref.i31 of 0 is not null
(module
  (func (export "is_null0") (result i32) (ref.is_null (ref.i31 (i32.const 0))))
  (func (export "new") (param i32) (result i31ref) (ref.i31 (local.get 0)))
)
(assert_return (invoke "is_null0") (i32.const 0))
(assert_return (invoke "new" (i32.const 0)) (ref.i31))

;; typing
(assert_invalid
  (module (func (param anyref) (result i32) (i31.get_u (local.get 0))))
  "type mismatch")
(assert_invalid
  (module (func (param i64) (result i31ref) (ref.i31 (local.get 0))))
  "type mismatch")
(assert_invalid
  (module (func (param funcref funcref) (result i32) (ref.eq (local.get 0) (local.get 1))))
  "type mismatch")
(assert_invalid
  (module (func (param anyref eqref) (result i32) (ref.eq (local.get 0) (local.get 1))))
  "type mismatch")
(assert_invalid
  (module (func (result (ref i31)) (ref.i31 (i32.const 0)) (drop) (ref.null i31)))
  "type mismatch")
(assert_invalid
  (module (global i31ref (ref.i31 (i64.const 0))))
  "type mismatch")
(assert_invalid
  (module (global i31ref (ref.i31)))
  "type mismatch")
(assert_invalid
  (module (global (ref i31) (ref.i31 (i32.const 1)) (ref.i31 (i32.const 2))))
  "type mismatch")

;; a constant expression may hold ref.i31 with a long (non-minimal) opcode LEB
(module binary
  "\00asm" "\01\00\00\00"
  "\06\0a\01"                          ;; global section, 1 global
  "\64\6c\00"                          ;; (ref i31), immutable
  "\41\05" "\fb\9c\00" "\0b"           ;; i32.const 5, ref.i31 (0x1c as two bytes), end
  "\07\05\01\01\67\03\00"              ;; export "g" global 0
)
(register "long")
(module
  (global $g (import "long" "g") (ref i31))
  (func (export "get") (result i32) (i31.get_u (global.get $g))))
(assert_return (invoke "get") (i32.const 5))
;; 0xFB codes stop below 0x20; a GC code this engine lacks is malformed, not accepted
(assert_malformed
  (module binary
    "\00asm" "\01\00\00\00"
    "\01\04\01\60\00\00"               ;; type 0: [] -> []
    "\03\02\01\00"                     ;; func 0: type 0
    "\0a\06\01\04\00\fb\20\0b"         ;; body: 0xFB 0x20
  )
  "illegal opcode")
;; i31.get_s is not constant
(assert_invalid
  (module (global i32 (i31.get_s (ref.i31 (i32.const 1)))))
  "constant expression required")
