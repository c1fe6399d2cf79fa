;; Dead operand slots (tests/wsnap/suite.py, case_dead_slots): _start fills its operand
;; stack with GC references and a function reference (host addresses in its slots),
;; drops them, and spins with an empty operand stack. A pause parks at the loop's start,
;; where only the locals (slots 0 and 1) are live: a snapshot saves the slots above them
;; as zero, never the stale addresses.
(module
  (type $s (struct (field i64)))
  (func $f)
  (elem declare func $f)
  (func (export "_start")
    (local $n i64) (local $k i64)
    (struct.new $s (i64.const 1))
    (struct.new $s (i64.const 2))
    (ref.func $f)
    (struct.new $s (i64.const 3))
    drop
    drop
    drop
    drop
    (loop $l
      (local.set $n (i64.add (local.get $n) (i64.const 1)))
      (br_if $l (i64.lt_u (local.get $n) (i64.const 0x7fffffffffffffff))))))
