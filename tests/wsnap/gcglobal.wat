;; A GC struct (3.0) made by a global's initialiser, while code that keeps no reference
;; in its frames spins: the object is saved with the heap and restored
;; (tests/wsnap/suite.py, saves_refs).
(module
  (type $s (struct (field i64)))
  (global $x (ref $s) (struct.new $s (i64.const 42)))
  (func (export "_start")
    (local $n i64)
    (loop $l
      (local.set $n (i64.add (local.get $n) (i64.const 1)))
      (br_if $l (i64.lt_u (local.get $n) (i64.const 100000000000))))))
