;; Keeps an exception reference (3.0 exception handling) in a global while it spins: the
;; exception is saved with the heap and restored (tests/wsnap/suite.py, saves_refs).
(module
  (tag $e (param i32))
  (global $x (mut exnref) (ref.null exn))
  (func (export "_start")
    (local $n i64)
    (block $h (result exnref)
      (try_table (catch_all_ref $h) (throw $e (i32.const 1)))
      (unreachable))
    (global.set $x)
    (loop $l
      (local.set $n (i64.add (local.get $n) (i64.const 1)))
      (br_if $l (i64.lt_u (local.get $n) (i64.const 100000000000))))))
