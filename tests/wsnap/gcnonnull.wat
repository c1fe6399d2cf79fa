;; A local of a non-null type (ref $s) set before a loop (tests/wsnap/suite.py,
;; case_gc_nonnull): a pause parks in the loop with the local holding the struct (the
;; loop runs until the test's file sets $n near its end, so that no run ends before
;; the pause, however fast the JIT). A
;; hostile file may give such a slot null (a restore takes null in any slot, as a local
;; not yet set holds it): the struct.get after the loop then traps (a null structure
;; reference), interpreted and translated, and never reads through the null.
(module
  (type $s (struct (field i64)))
  (func (export "_start")
    (local $x (ref $s)) (local $n i64)
    (local.set $x (struct.new $s (i64.const 42)))
    (loop $l
      (local.set $n (i64.add (local.get $n) (i64.const 1)))
      (br_if $l (i64.lt_u (local.get $n) (i64.const 0x7fffffffffffffff))))
    (if (i64.ne (struct.get $s 0 (local.get $x)) (i64.const 42)) (then unreachable))))
