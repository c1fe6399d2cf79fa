;; Typed function references in a GC struct made by a global's initialiser (no frame slot
;; ever holds one), while code that keeps no reference spins (tests/wsnap/suite.py,
;; case_gc_funcs): $h's first field holds $a, of type $f (non-null), its second $b, of
;; type $g. Functions 0 $a, 1 $b, 2 the start; type 2 is $h.
(module
  (type $f (func (result i64)))
  (type $g (func (param i32)))
  (type $h (struct (field (ref $f)) (field (ref null $g))))
  (func $a (type $f) (i64.const 1))
  (func $b (type $g) (param i32))
  (global $x (ref $h) (struct.new $h (ref.func $a) (ref.func $b)))
  (func (export "_start")
    (local $n i64)
    (loop $l
      (local.set $n (i64.add (local.get $n) (i64.const 1)))
      (br_if $l (i64.lt_u (local.get $n) (i64.const 100000000000))))))
