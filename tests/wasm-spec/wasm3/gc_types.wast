;; Lodge's own tests of the GC proposal's type system (3.0): recursion groups, sub and
;; final declarations, struct and array types, abstract heap types, subtyping and
;; iso-recursive canonicalization within and across modules, and hostile type sections.

;; struct and array types with packed fields and mutability, abstract heap types
(module
  (type $s (struct (field $a i8) (field (mut i16)) (field $c (mut anyref)) (field eqref i31ref)))
  (type $a (array (mut i8)))
  (type $b (array (ref null $s)))
  (type $n (struct (field structref arrayref nullref (ref none) (ref $a) (ref null any))))
  (global (export "g") (ref null eq) (ref.null none))
  (func (export "f") (param (ref null $s)) (result (ref null struct)) (local.get 0))
)

;; a declared subtype is below its supertype and the abstract types above it
(module
  (type $t (sub (struct (field i32))))
  (type $u (sub $t (struct (field i32) (field i64))))
  (type $v (sub final $u (struct (field i32) (field i64) (field f32))))
  (func (param (ref $v)) (result (ref $t)) (local.get 0))
  (func (param (ref null $v)) (result structref) (local.get 0))
  (func (param (ref $v)) (result (ref eq)) (local.get 0))
  (func (param (ref null $u)) (result anyref) (local.get 0))
  (func (param nullref) (result (ref null $v)) (local.get 0))
  (func (param (ref i31)) (result (ref eq)) (local.get 0))
)
(assert_invalid
  (module
    (type $t (sub (struct (field i32))))
    (type $u (sub $t (struct (field i32) (field i64))))
    (func (param (ref $t)) (result (ref $u)) (local.get 0))
  )
  "type mismatch"
)
(assert_invalid
  (module (func (param (ref struct)) (result (ref array)) (local.get 0)))
  "type mismatch"
)
(assert_invalid
  (module (func (param anyref) (result eqref) (local.get 0)))
  "type mismatch"
)
(assert_invalid
  (module (func (param funcref) (result anyref) (local.get 0)))
  "type mismatch"
)
(assert_invalid
  (module (func (param externref) (result anyref) (local.get 0)))
  "type mismatch"
)
(assert_invalid
  (module (type $f (func)) (func (param (ref $f)) (result structref) (local.get 0)))
  "type mismatch"
)
(assert_invalid
  (module (type $s (struct)) (func (param (ref $s)) (result funcref) (local.get 0)))
  "type mismatch"
)
(assert_invalid
  (module (type $s (struct)) (func (param nullfuncref) (result (ref null $s)) (local.get 0)))
  "type mismatch"
)

;; mutable fields are invariant, immutable ones covariant, packed types only themselves
(module
  (type $t (sub (struct (field anyref))))
  (type $u (sub $t (struct (field eqref))))
)
(assert_invalid
  (module
    (type $t (sub (struct (field (mut anyref)))))
    (type $u (sub $t (struct (field (mut eqref)))))
  )
  "sub type"
)
(assert_invalid
  (module
    (type $t (sub (struct (field i32))))
    (type $u (sub $t (struct (field (mut i32)))))
  )
  "sub type"
)
(assert_invalid
  (module
    (type $t (sub (array i16)))
    (type $u (sub $t (array i8)))
  )
  "sub type"
)
(assert_invalid
  (module
    (type $t (sub (struct (field i32) (field i32))))
    (type $u (sub $t (struct (field i32))))
  )
  "sub type"
)

;; a struct or array type is no function type
(assert_invalid
  (module (type $s (struct)) (func (type $s)))
  "type mismatch"
)
(assert_invalid
  (module (type $a (array i8)) (func (block (type $a))))
  "type mismatch"
)
(assert_invalid
  (module (type $a (array i8)) (table 1 funcref)
    (func (call_indirect (type $a) (i32.const 0))))
  "type mismatch"
)

;; a supertype must come first: no forward references, no cycles
(assert_invalid
  (module
    (rec
      (type $a (sub $b (struct)))
      (type $b (sub (struct)))
    )
  )
  "unknown type"
)
(assert_invalid
  (module (rec (type $a (sub $a (struct)))))
  "unknown type"
)
(assert_invalid
  (module binary
    "\00asm" "\01\00\00\00"
    "\01\09\02"                    ;; type section, 2 types
    "\50\00\5f\00"                ;; (sub (struct))
    "\50\02\00\00\5f\00"        ;; (sub 0 0 (struct)): two supertypes
  )
  "multiple supertypes"
)
(assert_malformed
  (module binary
    "\00asm" "\01\00\00\00"
    "\01\05\01"                    ;; type section, 1 type
    "\5f\01\76\00"                ;; (struct (field <0x76>))
  )
  "malformed value type"
)
;; subtype chains: at most 63 supertypes above a type (an implementation limit)
(module
    (type $t0 (sub (struct)))
    (type $t1 (sub $t0 (struct)))
    (type $t2 (sub $t1 (struct)))
    (type $t3 (sub $t2 (struct)))
    (type $t4 (sub $t3 (struct)))
    (type $t5 (sub $t4 (struct)))
    (type $t6 (sub $t5 (struct)))
    (type $t7 (sub $t6 (struct)))
    (type $t8 (sub $t7 (struct)))
    (type $t9 (sub $t8 (struct)))
    (type $t10 (sub $t9 (struct)))
    (type $t11 (sub $t10 (struct)))
    (type $t12 (sub $t11 (struct)))
    (type $t13 (sub $t12 (struct)))
    (type $t14 (sub $t13 (struct)))
    (type $t15 (sub $t14 (struct)))
    (type $t16 (sub $t15 (struct)))
    (type $t17 (sub $t16 (struct)))
    (type $t18 (sub $t17 (struct)))
    (type $t19 (sub $t18 (struct)))
    (type $t20 (sub $t19 (struct)))
    (type $t21 (sub $t20 (struct)))
    (type $t22 (sub $t21 (struct)))
    (type $t23 (sub $t22 (struct)))
    (type $t24 (sub $t23 (struct)))
    (type $t25 (sub $t24 (struct)))
    (type $t26 (sub $t25 (struct)))
    (type $t27 (sub $t26 (struct)))
    (type $t28 (sub $t27 (struct)))
    (type $t29 (sub $t28 (struct)))
    (type $t30 (sub $t29 (struct)))
    (type $t31 (sub $t30 (struct)))
    (type $t32 (sub $t31 (struct)))
    (type $t33 (sub $t32 (struct)))
    (type $t34 (sub $t33 (struct)))
    (type $t35 (sub $t34 (struct)))
    (type $t36 (sub $t35 (struct)))
    (type $t37 (sub $t36 (struct)))
    (type $t38 (sub $t37 (struct)))
    (type $t39 (sub $t38 (struct)))
    (type $t40 (sub $t39 (struct)))
    (type $t41 (sub $t40 (struct)))
    (type $t42 (sub $t41 (struct)))
    (type $t43 (sub $t42 (struct)))
    (type $t44 (sub $t43 (struct)))
    (type $t45 (sub $t44 (struct)))
    (type $t46 (sub $t45 (struct)))
    (type $t47 (sub $t46 (struct)))
    (type $t48 (sub $t47 (struct)))
    (type $t49 (sub $t48 (struct)))
    (type $t50 (sub $t49 (struct)))
    (type $t51 (sub $t50 (struct)))
    (type $t52 (sub $t51 (struct)))
    (type $t53 (sub $t52 (struct)))
    (type $t54 (sub $t53 (struct)))
    (type $t55 (sub $t54 (struct)))
    (type $t56 (sub $t55 (struct)))
    (type $t57 (sub $t56 (struct)))
    (type $t58 (sub $t57 (struct)))
    (type $t59 (sub $t58 (struct)))
    (type $t60 (sub $t59 (struct)))
    (type $t61 (sub $t60 (struct)))
    (type $t62 (sub $t61 (struct)))
    (type $t63 (sub $t62 (struct)))
)
(assert_invalid
  (module
    (type $t0 (sub (struct)))
    (type $t1 (sub $t0 (struct)))
    (type $t2 (sub $t1 (struct)))
    (type $t3 (sub $t2 (struct)))
    (type $t4 (sub $t3 (struct)))
    (type $t5 (sub $t4 (struct)))
    (type $t6 (sub $t5 (struct)))
    (type $t7 (sub $t6 (struct)))
    (type $t8 (sub $t7 (struct)))
    (type $t9 (sub $t8 (struct)))
    (type $t10 (sub $t9 (struct)))
    (type $t11 (sub $t10 (struct)))
    (type $t12 (sub $t11 (struct)))
    (type $t13 (sub $t12 (struct)))
    (type $t14 (sub $t13 (struct)))
    (type $t15 (sub $t14 (struct)))
    (type $t16 (sub $t15 (struct)))
    (type $t17 (sub $t16 (struct)))
    (type $t18 (sub $t17 (struct)))
    (type $t19 (sub $t18 (struct)))
    (type $t20 (sub $t19 (struct)))
    (type $t21 (sub $t20 (struct)))
    (type $t22 (sub $t21 (struct)))
    (type $t23 (sub $t22 (struct)))
    (type $t24 (sub $t23 (struct)))
    (type $t25 (sub $t24 (struct)))
    (type $t26 (sub $t25 (struct)))
    (type $t27 (sub $t26 (struct)))
    (type $t28 (sub $t27 (struct)))
    (type $t29 (sub $t28 (struct)))
    (type $t30 (sub $t29 (struct)))
    (type $t31 (sub $t30 (struct)))
    (type $t32 (sub $t31 (struct)))
    (type $t33 (sub $t32 (struct)))
    (type $t34 (sub $t33 (struct)))
    (type $t35 (sub $t34 (struct)))
    (type $t36 (sub $t35 (struct)))
    (type $t37 (sub $t36 (struct)))
    (type $t38 (sub $t37 (struct)))
    (type $t39 (sub $t38 (struct)))
    (type $t40 (sub $t39 (struct)))
    (type $t41 (sub $t40 (struct)))
    (type $t42 (sub $t41 (struct)))
    (type $t43 (sub $t42 (struct)))
    (type $t44 (sub $t43 (struct)))
    (type $t45 (sub $t44 (struct)))
    (type $t46 (sub $t45 (struct)))
    (type $t47 (sub $t46 (struct)))
    (type $t48 (sub $t47 (struct)))
    (type $t49 (sub $t48 (struct)))
    (type $t50 (sub $t49 (struct)))
    (type $t51 (sub $t50 (struct)))
    (type $t52 (sub $t51 (struct)))
    (type $t53 (sub $t52 (struct)))
    (type $t54 (sub $t53 (struct)))
    (type $t55 (sub $t54 (struct)))
    (type $t56 (sub $t55 (struct)))
    (type $t57 (sub $t56 (struct)))
    (type $t58 (sub $t57 (struct)))
    (type $t59 (sub $t58 (struct)))
    (type $t60 (sub $t59 (struct)))
    (type $t61 (sub $t60 (struct)))
    (type $t62 (sub $t61 (struct)))
    (type $t63 (sub $t62 (struct)))
    (type $t64 (sub $t63 (struct)))
  )
  "subtype depth limit"
)
;; canonicalization across modules: sub, final and supertypes are part of the type
(module $M
  (rec (type $f (sub (func))) (type $s (sub (struct (field (ref null $f))))))
  (type $g (sub $f (func)))
  (func (export "f") (type $f))
  (func (export "g") (type $g))
  (func (export "h"))
)
(register "M" $M)
(module
  (rec (type $f (sub (func))) (type $s (sub (struct (field (ref null $f))))))
  (type $g (sub $f (func)))
  (func (import "M" "f") (type $f))
  (func (import "M" "g") (type $g))
  (func (import "M" "g") (type $f))  ;; a subtype where its supertype is asked
  (func (import "M" "h") (type 3))
  (type (func))
)
(assert_unlinkable
  (module (type $f (sub (func))) (func (import "M" "f") (type $f)))
  "incompatible import type"
)
(assert_unlinkable
  (module (type $f (func)) (func (import "M" "f") (type $f)))
  "incompatible import type"
)
(assert_unlinkable
  (module
    (rec (type $f (sub (func))) (type $s (sub (struct (field (ref null $f))))))
    (func (import "M" "f") (type $g))
    (type $g (sub final $f (func)))
  )
  "incompatible import type"
)
(assert_unlinkable
  (module (type $f (sub (func))) (func (import "M" "h") (type $f)))
  "incompatible import type"
)

;; call_indirect accepts a function whose type declares the expected one
(module
  (type $t (sub (func (result i32))))
  (type $u (sub $t (func (result i32))))
  (type $v (func (result i32)))
  (table funcref (elem $f))
  (func $f (type $u) (i32.const 7))
  (func (export "as-t") (result i32) (call_indirect (type $t) (i32.const 0)))
  (func (export "as-u") (result i32) (call_indirect (type $u) (i32.const 0)))
  (func (export "as-v") (result i32) (call_indirect (type $v) (i32.const 0)))
)
(assert_return (invoke "as-t") (i32.const 7))
(assert_return (invoke "as-u") (i32.const 7))
(assert_trap (invoke "as-v") "indirect call type mismatch")
