;; _start calls $spin, which loops for a long time: with every function translated, a
;; pause lands in $spin's translated code, a call below the function the interpreter
;; entered, which cannot leave for the interpreter (tests/wsnap/suite.py).
(module
  (func $spin (result i64)
    (local $n i64)
    (loop $l
      (local.set $n (i64.add (local.get $n) (i64.const 1)))
      (br_if $l (i64.lt_u (local.get $n) (i64.const 100000000000))))
    (local.get $n))
  (func (export "_start") (drop (call $spin))))
