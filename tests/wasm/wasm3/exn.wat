;; Exception handling (WebAssembly 3.0) for tests/wasm/suite.sh, run as text: an uncaught
;; exception is reported like a trap (where it was thrown), and a loop that throws and
;; catches a million times runs within a small --max-memory (exceptions are collected), and
;; a chain of exceptions each holding the one before outgrows it: the throw that does not
;; fit traps, saying an exception ran out of the budget.
(module
  (tag $e (param i32))
  (tag $link (param exnref))
  (func $thrower (param i32) (throw $e (local.get 0)))
  (func $relay (export "uncaught") (param i32) (result i32)
    (call $thrower (local.get 0))
    (i32.const 0))
  (func (export "caught") (param i32) (result i32)
    (block $h (result i32)
      (try_table (result i32) (catch $e $h) (call $relay (local.get 0)))))
  (func (export "many") (param i32) (result i32)
    (local $s i32)
    (loop $l
      (block $h (result i32)
        (try_table (result i32) (catch $e $h) (call $thrower (local.get 0)) (i32.const 0)))
      (local.set $s (i32.add (local.get $s)))
      (br_if $l (local.tee 0 (i32.sub (local.get 0) (i32.const 1)))))
    (local.get $s))
  (func (export "hoard") (param i32) (result i32)
    (local $x exnref)
    (loop $l
      (block $h (result exnref exnref)
        (try_table (catch_ref $link $h) (throw $link (local.get $x)))
        (unreachable))
      (local.set $x)
      (drop)
      (br_if $l (local.tee 0 (i32.sub (local.get 0) (i32.const 1)))))
    (i32.const 0)))
