;; A GC struct (3.0) made by a global's initialiser, while code that keeps no reference
;; in its frames spins: the store holds an object Lodge does not save, so saving is
;; refused (tests/wsnap/suite.py expects 409).
(module
  (type $s (struct (field i64)))
  (global $x (ref $s) (struct.new $s (i64.const 42)))
  (func (export "_start")
    (local $n i64)
    (loop $l
      (local.set $n (i64.add (local.get $n) (i64.const 1)))
      (br_if $l (i64.lt_u (local.get $n) (i64.const 100000000000))))))
