;; A loop in unreachable code (tests/wsnap/suite.py, case_dead_point): it emits nothing,
;; so where it "starts" is the pc of the live op after it (here the constant stored to
;; $n), which no pause stands at. A snapshot of the spinning loop below, its pc set to
;; any pc before the loop's start (none a point a pause parks at), is refused: resumed
;; there, the function would run on with its operand stack zeroed.
(module
  (func (export "_start")
    (local $n i64)
    (block $b (br $b) (loop $dead (br $dead)))
    (local.set $n (i64.const 7))
    (loop $l
      (local.set $n (i64.add (local.get $n) (i64.const 1)))
      (br_if $l (i64.lt_u (local.get $n) (i64.const 0x7fffffffffffffff))))))
