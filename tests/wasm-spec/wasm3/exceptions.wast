;; Exception handling (WebAssembly 3.0): cases the spec suite lacks. Deep unwinding
;; through many frames, rethrow with throw_ref in nested handlers, exceptions through
;; call_indirect, call_ref and return_call, payloads of every value type, exnrefs in
;; locals, params, globals and tables, tags across instances, and hostile modules.

(module $M
  (tag $e (export "e") (param i32))
  (func (export "throw") (param i32) (throw $e (local.get 0)))
)
(register "M")

(module
  (type $v (func))
  (type $ii (func (param i32) (result i32)))
  (import "M" "e" (tag $e (param i32)))
  (import "M" "throw" (func $throw_m (param i32)))
  (tag $local (param i32))
  (tag $all (param i32 i64 f32 f64 v128 funcref externref))
  (tag $x (param exnref))
  (table $t 2 funcref)
  (elem (table $t) (i32.const 0) func $boom $tail_boom)
  (table $xt 1 exnref)
  (global $g (mut exnref) (ref.null exn))

  ;; n frames deep, then a throw; each frame adds one to the payload on the way down
  (func $deep (param i32)
    (if (i32.eqz (local.get 0)) (then (throw $local (i32.const 7))))
    (call $deep (i32.sub (local.get 0) (i32.const 1))))
  (func (export "deep") (param i32) (result i32)
    (block $h (result i32)
      (try_table (catch $local $h) (call $deep (local.get 0)))
      (i32.const -1)))

  ;; deep recursion with a try_table at every level: only the innermost catches
  (func $nested (param i32) (result i32)
    (if (result i32) (i32.eqz (local.get 0))
      (then (throw $local (i32.const 100)))
      (else
        (block $h (result i32)
          (try_table (result i32) (catch $local $h)
            (call $nested (i32.sub (local.get 0) (i32.const 1))))
          (return))
        (i32.add (local.get 0)))))
  (func (export "nested") (param i32) (result i32) (call $nested (local.get 0)))

  ;; an exception of another instance's tag, imported: the same tag
  (func (export "imported") (result i32)
    (block $h (result i32)
      (try_table (catch $e $h) (call $throw_m (i32.const 42)))
      (i32.const -1)))
  ;; a tag of the same type defined here is a different tag
  (func (export "other-tag") (result i32)
    (block $h (result i32)
      (try_table (result i32) (catch $local $h) (call $throw_m (i32.const 42)) (i32.const -1))
      (drop) (i32.const -2)))

  ;; rethrow from nested handlers: the inner catch_ref rethrows, the outer catches
  ;; the same exception (its payload unchanged)
  (func (export "rethrow") (param i32) (result i32)
    (block $outer (result i32)
      (try_table (result i32) (catch $local $outer)
        (block $inner (result i32 exnref)
          (try_table (result i32) (catch_ref $local $inner)
            (throw $local (local.get 0)))
          (return))
        (throw_ref)))
    (i32.const 1000) (i32.add))
  ;; catch_all_ref, keep the exnref in a global and a table, rethrow it later
  (func (export "keep") (param i32)
    (block $h (result exnref)
      (try_table (catch_all_ref $h) (throw $local (local.get 0)))
      (unreachable))
    (global.set $g)
    (table.set $xt (i32.const 0) (global.get $g)))
  (func (export "rethrow-global") (result i32)
    (block $h (result i32)
      (try_table (catch $local $h) (throw_ref (global.get $g)))
      (i32.const -1)))
  (func (export "rethrow-table") (result i32)
    (block $h (result i32)
      (try_table (catch $local $h) (throw_ref (table.get $xt (i32.const 0))))
      (i32.const -1)))
  (func (export "throw-null") (throw_ref (ref.null exn)))
  ;; an exnref as a payload and a param
  (func $pass (param exnref) (result exnref) (local.get 0))
  (func (export "exn-payload") (result i32)
    (block $h2 (result exnref)
      (try_table (catch $x $h2)
        (block $h1 (result exnref)
          (try_table (catch_all_ref $h1) (throw $local (i32.const 5)))
          (unreachable))
        (throw $x (call $pass)))
      (unreachable))
    (block $h3 (param exnref) (result i32)
      (try_table (param exnref) (catch $local $h3) (throw_ref)) (i32.const -1)))

  ;; through call_indirect, call_ref and return_call
  (func $boom (param i32) (result i32) (throw $local (i32.add (local.get 0) (i32.const 1))))
  (func $tail_boom (param i32) (result i32) (return_call $boom (local.get 0)))
  (func (export "indirect") (param i32 i32) (result i32)
    (block $h (result i32)
      (try_table (result i32) (catch $local $h)
        (call_indirect $t (type $ii) (local.get 1) (local.get 0)))))
  (func (export "call-ref") (param i32) (result i32)
    (block $h (result i32)
      (try_table (result i32) (catch $local $h)
        (call_ref $ii (local.get 0) (ref.func $boom)))))
  (func $tail_out (param i32) (result i32)
    ;; the try_table is left by the tail call: it does not catch
    (block $h (result i32)
      (try_table (result i32) (catch $local $h) (return_call $boom (local.get 0)))))
  (func (export "tail") (param i32) (result i32)
    (block $h
      (try_table (result i32) (catch_all $h) (call $tail_out (local.get 0)))
      (return))
    (i32.const -5))
  (func (export "tail-uncaught") (param i32) (result i32) (call $tail_out (local.get 0)))

  ;; every value type as a payload
  (func (export "all") (result i32 i64 f32 f64 i32 i32 i32)
    (local $v v128)
    (block $h (result i32 i64 f32 f64 v128 funcref externref)
      (try_table (catch $all $h)
        (throw $all (i32.const -1) (i64.const 0x123456789abcdef0) (f32.const -1.5)
          (f64.const 2.25) (v128.const i32x4 1 2 3 4) (ref.func $boom)
          (ref.null extern)))
      (unreachable))
    (drop (ref.is_null))
    (drop (ref.is_null))
    (local.set $v)
    (i32x4.extract_lane 0 (local.get $v))
    (i32x4.extract_lane 3 (local.get $v))
    (i32.const 1))

  ;; the stack height after a catch is the label's: values below the try_table survive
  (func (export "height") (result i32)
    (i32.const 10)
    (i32.const 20)
    (block $h (param i32) (result i32)
      (try_table (param i32) (result i32) (catch $local $h)
        (drop) (i32.const 1) (i32.const 2) (throw $local (i32.const 3))))
    (i32.add))
  ;; a catch to a loop's label: throw three times, count
  (func (export "loop") (result i32)
    (local $n i32)
    (i32.const 0)
    (loop $l (param i32)
      (drop)
      (local.set $n (i32.add (local.get $n) (i32.const 1)))
      (if (i32.lt_u (local.get $n) (i32.const 3))
        (then (try_table (catch $local $l) (throw $local (local.get $n))))))
    (local.get $n))
  ;; a catch to the function's own label returns its values
  (func (export "to-func") (result i32)
    (try_table (catch $local 0) (throw $local (i32.const 77)))
    (i32.const -1))
  ;; a catch clause after catch_all is never reached; duplicates take the first
  (func (export "first-clause") (result i32)
    (block $a
      (block $b (result i32)
        (try_table (result i32) (catch_all $a) (catch $local $b)
          (throw $local (i32.const 1))))
      (return))
    (i32.const 2))
  ;; a trap is no exception: catch_all does not catch it
  (func (export "trap") (result i32)
    (block $h
      (try_table (catch_all $h) (unreachable)))
    (i32.const 1))
;; through frames of functions without try_table or throw (the JIT translates them, and
  ;; the exception leaves their translated code as a trap does)
  (func $relay (param i32) (result i32)
    (if (result i32) (i32.eqz (local.get 0))
      (then (call $boom (i32.const 40)))
      (else (i32.add (call $relay (i32.sub (local.get 0) (i32.const 1))) (i32.const 1)))))
  (func (export "relay") (param i32) (result i32)
    (block $h (result i32)
      (try_table (result i32) (catch $local $h) (call $relay (local.get 0)))))
  ;; an exnref held in a translated frame across calls that throw (and collect) a lot
  (func $churn (param i32)
    (loop $l
      (block $h (result i32)
        (try_table (result i32) (catch $local $h) (throw $local (local.get 0))))
      (drop)
      (br_if $l (local.tee 0 (i32.sub (local.get 0) (i32.const 1))))))
  (func $hold (param exnref i32) (result exnref)
    (call $churn (local.get 1))
    (local.get 0))
  (func (export "hold") (result i32)
    (block $h1 (result exnref)
      (try_table (catch_all_ref $h1) (throw $local (i32.const 31)))
      (unreachable))
    (i32.const 5000)
    (call $hold)
    (block $h2 (param exnref) (result i32)
      (try_table (param exnref) (catch $local $h2) (throw_ref))
      (i32.const -1)))
  ;; a million throws and catches: exceptions are freed as they become garbage
  (func (export "many") (param i32) (result i32)
    (local $s i32)
    (loop $l
      (block $h (result i32)
        (try_table (result i32) (catch $local $h) (throw $local (local.get 0))))
      (local.set $s (i32.add (local.get $s)))
      (br_if $l (local.tee 0 (i32.sub (local.get 0) (i32.const 1)))))
    (local.get $s))
)

(assert_return (invoke "deep" (i32.const 0)) (i32.const 7))
(assert_return (invoke "deep" (i32.const 5000)) (i32.const 7))
(assert_return (invoke "nested" (i32.const 1)) (i32.const 101))
(assert_return (invoke "nested" (i32.const 3000)) (i32.const 101))
(assert_return (invoke "imported") (i32.const 42))
(assert_exception (invoke "other-tag"))
(assert_exception (invoke $M "throw" (i32.const 1)))
(assert_return (invoke "rethrow" (i32.const 5)) (i32.const 1005))
(assert_return (invoke "keep" (i32.const 9)))
(assert_return (invoke "rethrow-global") (i32.const 9))
(assert_return (invoke "rethrow-table") (i32.const 9))
(assert_trap (invoke "throw-null") "null exception reference")
(assert_return (invoke "exn-payload") (i32.const 5))
(assert_return (invoke "indirect" (i32.const 0) (i32.const 4)) (i32.const 5))
(assert_return (invoke "indirect" (i32.const 1) (i32.const 8)) (i32.const 9))
(assert_trap (invoke "indirect" (i32.const 2) (i32.const 8)) "undefined element")
(assert_return (invoke "call-ref" (i32.const 1)) (i32.const 2))
(assert_return (invoke "tail" (i32.const 1)) (i32.const -5))
(assert_exception (invoke "tail-uncaught" (i32.const 1)))
(assert_return (invoke "all")
  (i32.const -1) (i64.const 0x123456789abcdef0) (f32.const -1.5) (f64.const 2.25)
  (i32.const 1) (i32.const 4) (i32.const 1))
(assert_return (invoke "height") (i32.const 13))
(assert_return (invoke "loop") (i32.const 3))
(assert_return (invoke "to-func") (i32.const 77))
(assert_return (invoke "first-clause") (i32.const 2))
(assert_trap (invoke "trap") "unreachable")
(assert_return (invoke "many" (i32.const 1000000)) (i32.const 1784293664))
(assert_return (invoke "relay" (i32.const 0)) (i32.const 41))
(assert_return (invoke "relay" (i32.const 2000)) (i32.const 41))
(assert_return (invoke "hold") (i32.const 31))

;; hostile modules
(assert_invalid (module (func (throw 0))) "unknown tag 0")
(assert_invalid (module (tag) (func (throw 1))) "unknown tag 1")
(assert_invalid (module (func (block (try_table (catch_all 2))))) "unknown label")
(assert_invalid (module (tag (param i64)) (func (throw 0 (i32.const 1))))
  "type mismatch: instruction requires [i64] but stack has [i32]")
(assert_invalid (module (tag (param i32)) (func (block (try_table (catch 0 0)))))
  "type mismatch")
(assert_invalid (module (func (result exnref) (try_table (catch_all 0)) (unreachable)))
  "type mismatch")
(assert_invalid (module (func (block (result i32) (try_table (catch_all_ref 0)) (unreachable))))
  "type mismatch")
(assert_invalid (module (func (throw_ref (ref.null func)))) "type mismatch")
(assert_invalid (module (table 1 exnref) (func (call_indirect (i32.const 0))))
  "type mismatch")
(assert_invalid (module (global exnref (ref.null func))) "type mismatch")
(assert_invalid (module (func (param exnref) (result funcref) (local.get 0))) "type mismatch")
(assert_invalid (module (tag (result i32))) "non-empty tag result type")
(assert_malformed (module binary
  "\00asm" "\01\00\00\00"
  "\01\04\01\60\00\00"      ;; type section: (func)
  "\0d\03\01\01\00"         ;; tag section: attribute 1
) "malformed tag attribute")
(assert_malformed (module binary
  "\00asm" "\01\00\00\00"
  "\01\04\01\60\00\00"      ;; type section: (func)
  "\0d\03\01\00\00"         ;; tag section
  "\05\03\01\00\01"         ;; memory section after it
) "unexpected content after last section")
(assert_invalid (module binary
  "\00asm" "\01\00\00\00"
  "\01\04\01\60\00\00"      ;; type section: (func)
  "\0d\03\01\00\01"         ;; tag section: type 1
) "unknown type")
(assert_malformed (module binary
  "\00asm" "\01\00\00\00"
  "\01\04\01\60\00\00"      ;; type section: (func)
  "\03\02\01\00"          ;; function section
  "\0a\08\01\06\00\1f\40\01\04\00"  ;; try_table with catch kind 4
) "malformed catch clause")
