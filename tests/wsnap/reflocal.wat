;; Keeps a function reference in a local while it spins: the local's slot holds a host
;; pointer, saved as the function's index (tests/wsnap/suite.py: saved and restored).
(module
  (func $f)
  (elem declare func $f)
  (func (export "_start")
    (local $r funcref) (local $n i64)
    (local.set $r (ref.func $f))
    (loop $l
      (local.set $n (i64.add (local.get $n) (i64.const 1)))
      (br_if $l (i64.lt_u (local.get $n) (i64.const 100000000000))))
    (drop (ref.is_null (local.get $r)))))
