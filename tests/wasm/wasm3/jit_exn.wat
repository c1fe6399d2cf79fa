;; Exceptions and the JIT (tests/wasm/suite.sh runs each case interpreted and with
;; --jit-hot 1, and checks with perf's map that the functions with handlers were
;; translated): throw and catch in one translated frame, across translated frames, through
;; an interpreted frame (a load from memory 1 keeps $interp_relay and $interp_catch
;; interpreted: the JIT translates accesses to memory 0 only),
;; payloads of two values (a NaN's bits kept), catch_ref/catch_all_ref with throw_ref
;; rethrowing across frames, catch_all, uncaught exceptions and null exnrefs trapping where
;; the interpreter reports them, fuel, chains of frames each catching and throwing
;; again (a million deep: past the host stack's floor), and references held by translated frames
;; across throws (LODGE_TEST_HOOK=gc-stress collects at every throw).
(module
  (type $box (struct (field $v i64)))
  (memory 1)
  (memory $m1 1)
  (tag $e (param i32))
  (tag $e2 (param i64 f64))
  (tag $e0)

  (func $thrower (param i32) (throw $e (local.get 0)))
  (func $relay (param i32) (result i32)
    (call $thrower (i32.add (local.get 0) (i32.const 1)))
    (i32.const -1))
  (func $interp_relay (param i32) (result i32)
    (drop (i32.load $m1 (i32.const 0)))
    (call $relay (local.get 0)))
  (func $mk (param i64) (result (ref $box)) (struct.new $box (local.get 0)))
  (func $get (param (ref $box)) (result i64) (struct.get $box $v (local.get 0)))

  ;; throw and catch in one frame n times, locals kept in registers around it
  (func (export "local") (param $n i32) (result i64)
    (local $i i32) (local $s i64) (local $k i64)
    (loop $l
      (local.set $k (i64.add (local.get $k) (i64.const 1)))
      (local.set $s (i64.add (local.get $s)
        (i64.extend_i32_u
          (block $h (result i32)
            (try_table (result i32) (catch $e $h)
              (throw $e (i32.mul (local.get $i) (i32.const 3))))))))
      (br_if $l (i32.lt_u (local.tee $i (i32.add (local.get $i) (i32.const 1)))
                          (local.get $n))))
    (i64.add (local.get $s) (i64.shl (local.get $k) (i64.const 32))))

  ;; thrown two translated calls down, caught here: n(n+1)/2
  (func (export "up") (param $n i32) (result i32)
    (local $i i32) (local $s i32)
    (loop $l
      (local.set $s (i32.add (local.get $s)
        (block $h (result i32)
          (try_table (result i32) (catch $e $h) (call $relay (local.get $i))))))
      (br_if $l (i32.lt_u (local.tee $i (i32.add (local.get $i) (i32.const 1)))
                          (local.get $n))))
    (local.get $s))

  ;; the same through an interpreted frame between thrower and catcher
  (func (export "mixed") (param $n i32) (result i32)
    (local $i i32) (local $s i32)
    (loop $l
      (local.set $s (i32.add (local.get $s)
        (block $h (result i32)
          (try_table (result i32) (catch $e $h) (call $interp_relay (local.get $i))))))
      (br_if $l (i32.lt_u (local.tee $i (i32.add (local.get $i) (i32.const 1)))
                          (local.get $n))))
    (local.get $s))

  ;; an interpreted catcher of exceptions translated frames throw and pass on
  (func (export "interp_catch") (param $n i32) (result i32)
    (local $i i32) (local $s i32)
    (drop (i32.load $m1 (i32.const 0)))
    (loop $l
      (local.set $s (i32.add (local.get $s)
        (block $h (result i32)
          (try_table (result i32) (catch $e $h) (call $relay (local.get $i))))))
      (br_if $l (i32.lt_u (local.tee $i (i32.add (local.get $i) (i32.const 1)))
                          (local.get $n))))
    (local.get $s))

  ;; two values, the second a float made from bits (a signalling NaN stays one)
  (func $throw2 (param i64 i64) (throw $e2 (local.get 0) (f64.reinterpret_i64 (local.get 1))))
  (func (export "payload") (param $a i64) (param $bits i64) (result i64)
    (block $h (result i64 f64)
      (try_table (catch $e2 $h) (call $throw2 (local.get $a) (local.get $bits)))
      (unreachable))
    (i64.reinterpret_f64)
    (i64.xor))

  ;; catch_ref keeps the exception and throw_ref passes it on; catch_all_ref above it
  ;; takes it and throws it again; the caller's catch $e gets the payload
  (func $catch_rethrow (param i32) (result i32)
    (local $x exnref)
    (block $h (result i32 exnref)
      (try_table (result i32) (catch_ref $e $h) (call $relay (local.get 0)))
      (return))
    (local.set $x)
    (drop)
    (throw_ref (local.get $x)))
  (func $catch_all_rethrow (param i32) (result i32)
    (block $h (result exnref)
      (try_table (result i32) (catch_all_ref $h) (call $catch_rethrow (local.get 0)))
      (return))
    (throw_ref))
  (func (export "rethrow") (param $n i32) (result i32)
    (local $i i32) (local $s i32)
    (loop $l
      (local.set $s (i32.add (local.get $s)
        (block $h (result i32)
          (block $all
            (try_table (result i32) (catch $e $h) (catch_all $all)
              (call $catch_all_rethrow (local.get $i)))
            (br $h))
          (i32.const 1000000))))
      (br_if $l (i32.lt_u (local.tee $i (i32.add (local.get $i) (i32.const 1)))
                          (local.get $n))))
    (local.get $s))

  ;; catch_all takes a tag no clause names; a clause for another tag does not
  (func (export "all") (param $n i32) (result i32)
    (local $i i32) (local $s i32)
    (loop $l
      (block $a
        (block $wrong (result i32)
          (try_table (catch $e $wrong) (catch_all $a) (throw $e0))
          (br $a))
        (local.set $s (i32.add (local.get $s) (i32.const 1000)))
        (drop))
      (local.set $s (i32.add (local.get $s) (i32.const 1)))
      (br_if $l (i32.lt_u (local.tee $i (i32.add (local.get $i) (i32.const 1)))
                          (local.get $n))))
    (local.get $s))

  ;; not caught: a trap where it was thrown
  (func (export "uncaught") (param i32) (result i32)
    (block $h
      (try_table (catch $e0 $h) (drop (call $relay (local.get 0)))))
    (i32.const 0))
  (func (export "null_ref") (param i32) (result i32)
    (block $h (result i32)
      (try_table (result i32) (catch $e $h) (throw_ref (ref.null exn)))))

  ;; each level catches what the one below threw and throws it again plus one: d
  (func $rec (param $d i32) (result i32)
    (if (i32.eqz (local.get $d)) (then (throw $e (i32.const 0))))
    (block $h (result i32)
      (try_table (result i32) (catch $e $h) (call $rec (i32.sub (local.get $d) (i32.const 1))))
      (return))
    (throw $e (i32.add (i32.const 1))))
  (func (export "chain") (param $d i32) (result i32)
    (block $h (result i32)
      (try_table (result i32) (catch $e $h) (call $rec (local.get $d)))))

  ;; the same a million levels deep (past the host stack's floor, where calls run their
  ;; callees interpreted): each level takes the exception with catch_ref, counts, and
  ;; throws it again with throw_ref (no new exception: no collection walking the frames)
  (global $count (mut i32) (i32.const 0))
  (func $rec_ref (param $d i32) (result i32)
    (if (i32.eqz (local.get $d)) (then (throw $e (i32.const 0))))
    (block $h (result i32 exnref)
      (try_table (result i32) (catch_ref $e $h)
        (call $rec_ref (i32.sub (local.get $d) (i32.const 1))))
      (return))
    (global.set $count (i32.add (global.get $count) (i32.const 1)))
    (throw_ref))
  (func (export "chain_ref") (param $d i32) (result i32)
    (block $h (result i32)
      (try_table (result i32) (catch $e $h) (call $rec_ref (local.get $d))))
    (global.get $count)
    (i32.add))

  ;; a struct in a local and one as an operand below a caught throw, and an exnref kept
  ;; in a local across the loop's throws: n(n-1) + 1000n + 7
  (func $use (param $b (ref $box)) (param $v i32) (result i64)
    (i64.add (call $get (local.get $b)) (i64.extend_i32_u (local.get $v))))
  (func (export "roots") (param $n i32) (result i64)
    (local $i i32) (local $b (ref null $box)) (local $x exnref) (local $s i64)
    (local.set $b (call $mk (i64.const 1000)))
    (local.set $x
      (block $h (result exnref)
        (try_table (catch_all_ref $h) (throw $e (i32.const 7)))
        (unreachable)))
    (loop $l
      (local.set $s (i64.add (local.get $s)
        (call $use (call $mk (i64.extend_i32_u (local.get $i)))
          (block $h (result i32)
            (try_table (result i32) (catch $e $h) (throw $e (local.get $i)))))))
      (local.set $s (i64.add (local.get $s) (call $get (ref.as_non_null (local.get $b)))))
      (br_if $l (i32.lt_u (local.tee $i (i32.add (local.get $i) (i32.const 1)))
                          (local.get $n))))
    (i64.add (local.get $s)
      (i64.extend_i32_u
        (block $h (result i32)
          (try_table (result i32) (catch $e $h) (throw_ref (local.get $x))))))))
