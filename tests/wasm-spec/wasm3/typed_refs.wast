;; Lodge's own tests of typed function references (WebAssembly 3.0) beyond the 3.0
;; suite's, run by the wasm3-spec suite as "wasm3-spec.lodge.typed_refs": types compared
;; across modules (recursion groups, long chains), typed tables and globals at link time,
;; table initialisers, local initialisation, the embedding API's checks of typed
;; arguments, tail calls through references, and hostile binaries.

;; A chain of 60 types, each naming the two before it. Comparing two such chains across
;; modules costs one comparison per pair of types; a plain recursive comparison would take
;; about 2^40 steps.
(module $chainA
  (type $t0 (func (result i32)))
  (type $t1 (func (param (ref $t0)) (result i32)))
  (type $t2 (func (param (ref $t1) (ref $t0)) (result i32)))
  (type $t3 (func (param (ref $t2) (ref $t1)) (result i32)))
  (type $t4 (func (param (ref $t3) (ref $t2)) (result i32)))
  (type $t5 (func (param (ref $t4) (ref $t3)) (result i32)))
  (type $t6 (func (param (ref $t5) (ref $t4)) (result i32)))
  (type $t7 (func (param (ref $t6) (ref $t5)) (result i32)))
  (type $t8 (func (param (ref $t7) (ref $t6)) (result i32)))
  (type $t9 (func (param (ref $t8) (ref $t7)) (result i32)))
  (type $t10 (func (param (ref $t9) (ref $t8)) (result i32)))
  (type $t11 (func (param (ref $t10) (ref $t9)) (result i32)))
  (type $t12 (func (param (ref $t11) (ref $t10)) (result i32)))
  (type $t13 (func (param (ref $t12) (ref $t11)) (result i32)))
  (type $t14 (func (param (ref $t13) (ref $t12)) (result i32)))
  (type $t15 (func (param (ref $t14) (ref $t13)) (result i32)))
  (type $t16 (func (param (ref $t15) (ref $t14)) (result i32)))
  (type $t17 (func (param (ref $t16) (ref $t15)) (result i32)))
  (type $t18 (func (param (ref $t17) (ref $t16)) (result i32)))
  (type $t19 (func (param (ref $t18) (ref $t17)) (result i32)))
  (type $t20 (func (param (ref $t19) (ref $t18)) (result i32)))
  (type $t21 (func (param (ref $t20) (ref $t19)) (result i32)))
  (type $t22 (func (param (ref $t21) (ref $t20)) (result i32)))
  (type $t23 (func (param (ref $t22) (ref $t21)) (result i32)))
  (type $t24 (func (param (ref $t23) (ref $t22)) (result i32)))
  (type $t25 (func (param (ref $t24) (ref $t23)) (result i32)))
  (type $t26 (func (param (ref $t25) (ref $t24)) (result i32)))
  (type $t27 (func (param (ref $t26) (ref $t25)) (result i32)))
  (type $t28 (func (param (ref $t27) (ref $t26)) (result i32)))
  (type $t29 (func (param (ref $t28) (ref $t27)) (result i32)))
  (type $t30 (func (param (ref $t29) (ref $t28)) (result i32)))
  (type $t31 (func (param (ref $t30) (ref $t29)) (result i32)))
  (type $t32 (func (param (ref $t31) (ref $t30)) (result i32)))
  (type $t33 (func (param (ref $t32) (ref $t31)) (result i32)))
  (type $t34 (func (param (ref $t33) (ref $t32)) (result i32)))
  (type $t35 (func (param (ref $t34) (ref $t33)) (result i32)))
  (type $t36 (func (param (ref $t35) (ref $t34)) (result i32)))
  (type $t37 (func (param (ref $t36) (ref $t35)) (result i32)))
  (type $t38 (func (param (ref $t37) (ref $t36)) (result i32)))
  (type $t39 (func (param (ref $t38) (ref $t37)) (result i32)))
  (type $t40 (func (param (ref $t39) (ref $t38)) (result i32)))
  (type $t41 (func (param (ref $t40) (ref $t39)) (result i32)))
  (type $t42 (func (param (ref $t41) (ref $t40)) (result i32)))
  (type $t43 (func (param (ref $t42) (ref $t41)) (result i32)))
  (type $t44 (func (param (ref $t43) (ref $t42)) (result i32)))
  (type $t45 (func (param (ref $t44) (ref $t43)) (result i32)))
  (type $t46 (func (param (ref $t45) (ref $t44)) (result i32)))
  (type $t47 (func (param (ref $t46) (ref $t45)) (result i32)))
  (type $t48 (func (param (ref $t47) (ref $t46)) (result i32)))
  (type $t49 (func (param (ref $t48) (ref $t47)) (result i32)))
  (type $t50 (func (param (ref $t49) (ref $t48)) (result i32)))
  (type $t51 (func (param (ref $t50) (ref $t49)) (result i32)))
  (type $t52 (func (param (ref $t51) (ref $t50)) (result i32)))
  (type $t53 (func (param (ref $t52) (ref $t51)) (result i32)))
  (type $t54 (func (param (ref $t53) (ref $t52)) (result i32)))
  (type $t55 (func (param (ref $t54) (ref $t53)) (result i32)))
  (type $t56 (func (param (ref $t55) (ref $t54)) (result i32)))
  (type $t57 (func (param (ref $t56) (ref $t55)) (result i32)))
  (type $t58 (func (param (ref $t57) (ref $t56)) (result i32)))
  (type $t59 (func (param (ref $t58) (ref $t57)) (result i32)))
  (type $t60 (func (param (ref $t59) (ref $t58)) (result i32)))
  (func $f (export "f") (type $t60) (i32.const 60))
)
(register "chainA" $chainA)
(module
  (type $u0 (func (result i32)))
  (type $u1 (func (param (ref $u0)) (result i32)))
  (type $u2 (func (param (ref $u1) (ref $u0)) (result i32)))
  (type $u3 (func (param (ref $u2) (ref $u1)) (result i32)))
  (type $u4 (func (param (ref $u3) (ref $u2)) (result i32)))
  (type $u5 (func (param (ref $u4) (ref $u3)) (result i32)))
  (type $u6 (func (param (ref $u5) (ref $u4)) (result i32)))
  (type $u7 (func (param (ref $u6) (ref $u5)) (result i32)))
  (type $u8 (func (param (ref $u7) (ref $u6)) (result i32)))
  (type $u9 (func (param (ref $u8) (ref $u7)) (result i32)))
  (type $u10 (func (param (ref $u9) (ref $u8)) (result i32)))
  (type $u11 (func (param (ref $u10) (ref $u9)) (result i32)))
  (type $u12 (func (param (ref $u11) (ref $u10)) (result i32)))
  (type $u13 (func (param (ref $u12) (ref $u11)) (result i32)))
  (type $u14 (func (param (ref $u13) (ref $u12)) (result i32)))
  (type $u15 (func (param (ref $u14) (ref $u13)) (result i32)))
  (type $u16 (func (param (ref $u15) (ref $u14)) (result i32)))
  (type $u17 (func (param (ref $u16) (ref $u15)) (result i32)))
  (type $u18 (func (param (ref $u17) (ref $u16)) (result i32)))
  (type $u19 (func (param (ref $u18) (ref $u17)) (result i32)))
  (type $u20 (func (param (ref $u19) (ref $u18)) (result i32)))
  (type $u21 (func (param (ref $u20) (ref $u19)) (result i32)))
  (type $u22 (func (param (ref $u21) (ref $u20)) (result i32)))
  (type $u23 (func (param (ref $u22) (ref $u21)) (result i32)))
  (type $u24 (func (param (ref $u23) (ref $u22)) (result i32)))
  (type $u25 (func (param (ref $u24) (ref $u23)) (result i32)))
  (type $u26 (func (param (ref $u25) (ref $u24)) (result i32)))
  (type $u27 (func (param (ref $u26) (ref $u25)) (result i32)))
  (type $u28 (func (param (ref $u27) (ref $u26)) (result i32)))
  (type $u29 (func (param (ref $u28) (ref $u27)) (result i32)))
  (type $u30 (func (param (ref $u29) (ref $u28)) (result i32)))
  (type $u31 (func (param (ref $u30) (ref $u29)) (result i32)))
  (type $u32 (func (param (ref $u31) (ref $u30)) (result i32)))
  (type $u33 (func (param (ref $u32) (ref $u31)) (result i32)))
  (type $u34 (func (param (ref $u33) (ref $u32)) (result i32)))
  (type $u35 (func (param (ref $u34) (ref $u33)) (result i32)))
  (type $u36 (func (param (ref $u35) (ref $u34)) (result i32)))
  (type $u37 (func (param (ref $u36) (ref $u35)) (result i32)))
  (type $u38 (func (param (ref $u37) (ref $u36)) (result i32)))
  (type $u39 (func (param (ref $u38) (ref $u37)) (result i32)))
  (type $u40 (func (param (ref $u39) (ref $u38)) (result i32)))
  (type $u41 (func (param (ref $u40) (ref $u39)) (result i32)))
  (type $u42 (func (param (ref $u41) (ref $u40)) (result i32)))
  (type $u43 (func (param (ref $u42) (ref $u41)) (result i32)))
  (type $u44 (func (param (ref $u43) (ref $u42)) (result i32)))
  (type $u45 (func (param (ref $u44) (ref $u43)) (result i32)))
  (type $u46 (func (param (ref $u45) (ref $u44)) (result i32)))
  (type $u47 (func (param (ref $u46) (ref $u45)) (result i32)))
  (type $u48 (func (param (ref $u47) (ref $u46)) (result i32)))
  (type $u49 (func (param (ref $u48) (ref $u47)) (result i32)))
  (type $u50 (func (param (ref $u49) (ref $u48)) (result i32)))
  (type $u51 (func (param (ref $u50) (ref $u49)) (result i32)))
  (type $u52 (func (param (ref $u51) (ref $u50)) (result i32)))
  (type $u53 (func (param (ref $u52) (ref $u51)) (result i32)))
  (type $u54 (func (param (ref $u53) (ref $u52)) (result i32)))
  (type $u55 (func (param (ref $u54) (ref $u53)) (result i32)))
  (type $u56 (func (param (ref $u55) (ref $u54)) (result i32)))
  (type $u57 (func (param (ref $u56) (ref $u55)) (result i32)))
  (type $u58 (func (param (ref $u57) (ref $u56)) (result i32)))
  (type $u59 (func (param (ref $u58) (ref $u57)) (result i32)))
  (type $u60 (func (param (ref $u59) (ref $u58)) (result i32)))
  (import "chainA" "f" (func $f (type $u60)))
  (func (export "ok") (result i32) (i32.const 1))
)
(assert_return (invoke "ok") (i32.const 1))

;; The same chain with another bottom type: not the same type.
(assert_unlinkable
  (module
    (type $v0 (func (result i64)))
    (type $v1 (func (param (ref $v0)) (result i32)))
    (type $v2 (func (param (ref $v1) (ref $v0)) (result i32)))
    (type $v3 (func (param (ref $v2) (ref $v1)) (result i32)))
    (type $v4 (func (param (ref $v3) (ref $v2)) (result i32)))
    (type $v5 (func (param (ref $v4) (ref $v3)) (result i32)))
    (type $v6 (func (param (ref $v5) (ref $v4)) (result i32)))
    (type $v7 (func (param (ref $v6) (ref $v5)) (result i32)))
    (type $v8 (func (param (ref $v7) (ref $v6)) (result i32)))
    (type $v9 (func (param (ref $v8) (ref $v7)) (result i32)))
    (type $v10 (func (param (ref $v9) (ref $v8)) (result i32)))
    (type $v11 (func (param (ref $v10) (ref $v9)) (result i32)))
    (type $v12 (func (param (ref $v11) (ref $v10)) (result i32)))
    (type $v13 (func (param (ref $v12) (ref $v11)) (result i32)))
    (type $v14 (func (param (ref $v13) (ref $v12)) (result i32)))
    (type $v15 (func (param (ref $v14) (ref $v13)) (result i32)))
    (type $v16 (func (param (ref $v15) (ref $v14)) (result i32)))
    (type $v17 (func (param (ref $v16) (ref $v15)) (result i32)))
    (type $v18 (func (param (ref $v17) (ref $v16)) (result i32)))
    (type $v19 (func (param (ref $v18) (ref $v17)) (result i32)))
    (type $v20 (func (param (ref $v19) (ref $v18)) (result i32)))
    (type $v21 (func (param (ref $v20) (ref $v19)) (result i32)))
    (type $v22 (func (param (ref $v21) (ref $v20)) (result i32)))
    (type $v23 (func (param (ref $v22) (ref $v21)) (result i32)))
    (type $v24 (func (param (ref $v23) (ref $v22)) (result i32)))
    (type $v25 (func (param (ref $v24) (ref $v23)) (result i32)))
    (type $v26 (func (param (ref $v25) (ref $v24)) (result i32)))
    (type $v27 (func (param (ref $v26) (ref $v25)) (result i32)))
    (type $v28 (func (param (ref $v27) (ref $v26)) (result i32)))
    (type $v29 (func (param (ref $v28) (ref $v27)) (result i32)))
    (type $v30 (func (param (ref $v29) (ref $v28)) (result i32)))
    (type $v31 (func (param (ref $v30) (ref $v29)) (result i32)))
    (type $v32 (func (param (ref $v31) (ref $v30)) (result i32)))
    (type $v33 (func (param (ref $v32) (ref $v31)) (result i32)))
    (type $v34 (func (param (ref $v33) (ref $v32)) (result i32)))
    (type $v35 (func (param (ref $v34) (ref $v33)) (result i32)))
    (type $v36 (func (param (ref $v35) (ref $v34)) (result i32)))
    (type $v37 (func (param (ref $v36) (ref $v35)) (result i32)))
    (type $v38 (func (param (ref $v37) (ref $v36)) (result i32)))
    (type $v39 (func (param (ref $v38) (ref $v37)) (result i32)))
    (type $v40 (func (param (ref $v39) (ref $v38)) (result i32)))
    (type $v41 (func (param (ref $v40) (ref $v39)) (result i32)))
    (type $v42 (func (param (ref $v41) (ref $v40)) (result i32)))
    (type $v43 (func (param (ref $v42) (ref $v41)) (result i32)))
    (type $v44 (func (param (ref $v43) (ref $v42)) (result i32)))
    (type $v45 (func (param (ref $v44) (ref $v43)) (result i32)))
    (type $v46 (func (param (ref $v45) (ref $v44)) (result i32)))
    (type $v47 (func (param (ref $v46) (ref $v45)) (result i32)))
    (type $v48 (func (param (ref $v47) (ref $v46)) (result i32)))
    (type $v49 (func (param (ref $v48) (ref $v47)) (result i32)))
    (type $v50 (func (param (ref $v49) (ref $v48)) (result i32)))
    (type $v51 (func (param (ref $v50) (ref $v49)) (result i32)))
    (type $v52 (func (param (ref $v51) (ref $v50)) (result i32)))
    (type $v53 (func (param (ref $v52) (ref $v51)) (result i32)))
    (type $v54 (func (param (ref $v53) (ref $v52)) (result i32)))
    (type $v55 (func (param (ref $v54) (ref $v53)) (result i32)))
    (type $v56 (func (param (ref $v55) (ref $v54)) (result i32)))
    (type $v57 (func (param (ref $v56) (ref $v55)) (result i32)))
    (type $v58 (func (param (ref $v57) (ref $v56)) (result i32)))
    (type $v59 (func (param (ref $v58) (ref $v57)) (result i32)))
    (type $v60 (func (param (ref $v59) (ref $v58)) (result i32)))
    (import "chainA" "f" (func (type $v60)))
  )
  "incompatible import type"
)
;; Recursion groups: the same group links; the same types in another order, or alone,
;; do not.
(module $recA
  (rec
    (type $a (func (param (ref null $b)) (result i32)))
    (type $b (func (param (ref null $a)) (result i32))))
  (func $fa (export "fa") (type $a) (i32.const 10))
  (func $fb (export "fb") (type $b) (i32.const 20))
)
(register "recA" $recA)
(module
  (rec
    (type $x (func (param (ref null $y)) (result i32)))
    (type $y (func (param (ref null $x)) (result i32))))
  (import "recA" "fa" (func $fa (type $x)))
  (import "recA" "fb" (func $fb (type $y)))
  (elem declare func $fa $fb)
  (func (export "run") (result i32)
    (i32.add (call_ref $x (ref.null $y) (ref.func $fa))
             (call_ref $y (ref.null $x) (ref.func $fb))))
)
(assert_return (invoke "run") (i32.const 30))
(assert_unlinkable
  (module
    (rec
      (type $y (func (param (ref null $x)) (result i32)))
      (type $x (func (param (ref null $y)) (result i32))))
    (import "recA" "fa" (func (type $x))))
  "incompatible import type"
)
(assert_unlinkable
  (module
    (type $x (func (param (ref null $x)) (result i32)))
    (import "recA" "fa" (func (type $x))))
  "incompatible import type"
)
;; call_indirect compares the types at run time the same way.
(module
  (rec
    (type $x (func (param (ref null $y)) (result i32)))
    (type $y (func (param (ref null $x)) (result i32))))
  (type $z (func (param (ref null $x)) (result i32)))
  (import "recA" "fa" (func $fa (type $x)))
  (import "recA" "fb" (func $fb (type $y)))
  (table funcref (elem $fa $fb))
  (func (export "as-y") (param i32) (result i32)
    (call_indirect (type $y) (ref.null $x) (local.get 0)))
  (func (export "as-z") (param i32) (result i32)
    (call_indirect (type $z) (ref.null $x) (local.get 0)))
)
(assert_return (invoke "as-y" (i32.const 1)) (i32.const 20))
(assert_trap (invoke "as-y" (i32.const 0)) "indirect call type mismatch")
(assert_trap (invoke "as-z" (i32.const 1)) "indirect call type mismatch")

;; Typed tables and globals at link time: tables must have the same element type,
;; an immutable global's type may be a subtype, a mutable one's must be the same.
(module $tabs
  (type $f (func (result i32)))
  (func $k (type $f) (i32.const 7))
  (table (export "t") 2 (ref null $f))
  (global (export "g") (ref $f) (ref.func $k))
  (global (export "gm") (mut (ref null $f)) (ref.null $f))
  (elem declare func $k)
)
(register "tabs" $tabs)
(module
  (type $f (func (result i32)))
  (import "tabs" "t" (table 2 (ref null $f)))
  (import "tabs" "g" (global (ref null $f)))
  (import "tabs" "g" (global funcref))
  (import "tabs" "gm" (global (mut (ref null $f))))
)
(assert_unlinkable
  (module (import "tabs" "t" (table 2 funcref)))
  "incompatible import type"
)
(assert_unlinkable
  (module (type $f (func (result i32))) (import "tabs" "t" (table 2 (ref $f))))
  "incompatible import type"
)
(assert_unlinkable
  (module (import "tabs" "gm" (global (mut funcref))))
  "incompatible import type"
)
(assert_unlinkable
  (module (type $f (func (result i64))) (import "tabs" "g" (global (ref $f))))
  "incompatible import type"
)

;; A table of a non-nullable type with an initialiser; table.grow takes a value of it.
;; The initialiser sees imported globals only (the table section comes first).
(assert_invalid
  (module (type $f (func)) (func $k (type $f))
    (global $g (ref $f) (ref.func $k))
    (table 1 (ref $f) (global.get $g)))
  "unknown global"
)
(module
  (type $f (func (result i32)))
  (func $k (type $f) (i32.const 7))
  (func $m (type $f) (i32.const 9))
  (table $t 3 10 (ref $f) (ref.func $k))
  (elem declare func $m)
  (func (export "get") (param i32) (result i32)
    (call_ref $f (table.get $t (local.get 0))))
  (func (export "grow") (result i32)
    (table.grow $t (ref.func $m) (i32.const 2)))
  (func (export "size") (result i32) (table.size $t))
)
(assert_return (invoke "get" (i32.const 2)) (i32.const 7))
(assert_return (invoke "grow") (i32.const 3))
(assert_return (invoke "get" (i32.const 4)) (i32.const 9))
(assert_return (invoke "size") (i32.const 5))
(assert_trap (invoke "get" (i32.const 5)) "out of bounds table access")
(assert_invalid
  (module (type $f (func)) (table 1 (ref $f)))
  "type mismatch"
)
(assert_invalid
  (module (type $f (func)) (type $g (func (result i32))) (func $k (type $g) (i32.const 0))
    (table 1 (ref $f) (ref.func $k)))
  "type mismatch"
)

;; Local initialisation: a non-defaultable local set in a block is unset after it; set
;; before a block it is set in every arm.
(module
  (type $f (func (result i32)))
  (func $k (type $f) (i32.const 5))
  (elem declare func $k)
  (func (export "arms") (param i32) (result i32)
    (local $r (ref $f))
    (local.set $r (ref.func $k))
    (if (result i32) (local.get 0)
      (then (call_ref $f (local.get $r)))
      (else (block (result i32) (call_ref $f (local.get $r))))))
)
(assert_return (invoke "arms" (i32.const 0)) (i32.const 5))
(assert_return (invoke "arms" (i32.const 1)) (i32.const 5))
(assert_invalid
  (module (type $f (func))
    (func $k (type $f)) (elem declare func $k)
    (func (local $r (ref $f))
      (block (local.set $r (ref.func $k)))
      (call_ref $f (local.get $r))))
  "uninitialized local"
)
(assert_invalid
  (module (type $f (func))
    (func $k (type $f)) (elem declare func $k)
    (func (param i32) (local $r (ref $f))
      (if (local.get 0) (then (local.set $r (ref.func $k))) (else (local.set $r (ref.func $k))))
      (call_ref $f (local.get $r))))
  "uninitialized local"
)
(assert_invalid
  (module (type $f (func))
    (func $k (type $f)) (elem declare func $k)
    (func (local $r (ref $f))
      (loop (local.set $r (ref.func $k)))
      (call_ref $f (local.get $r))))
  "uninitialized local"
)

;; The embedding API checks typed reference arguments: null for a non-nullable
;; parameter traps (validated code relies on the type).
(module
  (type $f (func (result i32)))
  (func (export "take") (param (ref $f)) (result i32) (call_ref $f (local.get 0)))
  (func (export "take-null") (param (ref null $f)) (result i32) (call_ref $f (local.get 0)))
)
(assert_trap (invoke "take" (ref.null func)) "null reference")
(assert_trap (invoke "take-null" (ref.null func)) "null function reference")

;; return_call_ref runs in constant stack space.
(module
  (type $c (func (param i64) (result i64)))
  (func $count (export "count") (type $c)
    (if (result i64) (i64.eqz (local.get 0))
      (then (i64.const 42))
      (else (return_call_ref $c (i64.sub (local.get 0) (i64.const 1)) (ref.func $count)))))
  (elem declare func $count)
)
(assert_return (invoke "count" (i64.const 1000000)) (i64.const 42))

;; br_on_non_null in a loop: walks a table of references until the first null.
(module
  (type $f (func (result i32)))
  (func $one (type $f) (i32.const 1))
  (table $t 8 (ref null $f))
  (elem (table $t) (i32.const 0) (ref null $f) (ref.func $one) (ref.func $one) (ref.func $one))
  (func (export "walk") (result i32)
    (local $i i32) (local $sum i32)
    (block $done
      (loop $next
        (block $nonnull (result (ref $f))
          (br_on_non_null $nonnull (table.get $t (local.get $i)))
          (br $done))
        (call_ref $f)
        (local.set $sum (i32.add (local.get $sum)))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $next)))
    (local.get $sum))
)
(assert_return (invoke "walk") (i32.const 3))

;; Hostile binaries.
;; A value type naming a type index past the types.
(assert_invalid
  (module binary
    "\00asm" "\01\00\00\00"
    "\01\06\01\60\01\63\05\00"      ;; type 0: (func (param (ref null 5)))
  )
  "unknown type"
)
;; A heap type whose s33 is far out of range.
(assert_invalid
  (module binary
    "\00asm" "\01\00\00\00"
    "\01\0a\01\60\01\64\ff\ff\ff\ff\07\00" ;; (ref 2^31-1)
  )
  "unknown type"
)
;; A recursion group declaring 2^32-1 members in a 5-byte section.
(assert_malformed
  (module binary
    "\00asm" "\01\00\00\00"
    "\01\07\01\4e\ff\ff\ff\ff\0f"
  )
  "unexpected end"
)
;; call_ref with a type index out of range.
(assert_invalid
  (module binary
    "\00asm" "\01\00\00\00"
    "\01\04\01\60\00\00"              ;; type 0: (func)
    "\03\02\01\00"                      ;; func 0: type 0
    "\0a\07\01\05\00\d0\00\14\07\0b" ;; ref.null 0, call_ref 7
  )
  "unknown type"
)
;; br_on_null to a label out of range.
(assert_invalid
  (module binary
    "\00asm" "\01\00\00\00"
    "\01\04\01\60\00\00"
    "\03\02\01\00"
    "\0a\09\01\07\00\d0\70\d5\05\1a\0b" ;; ref.null func, br_on_null 5, drop
  )
  "unknown label"
)
