;; A pause at a call_indirect op (tests/wsnap/suite.py, case_call_ops): the loop is little
;; but calls, so a pause often parks at its call_indirect or call_ref op (where fuel runs
;; out), whose element index and reference sit above the arguments in slots the op reads
;; again when the restored program goes on. Element 0 ($bad) traps: an index or a
;; reference restored as zero or wrong ends the run. After 4000000 rounds it prints the
;; sum.
(module
  (type $op (func (param i64) (result i64)))
  (import "wasi_snapshot_preview1" "fd_write"
    (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (memory 1)
  (table $t 3 3 funcref)
  (elem (table $t) (i32.const 0) func $bad $a $b)
  (elem declare func $a $b)
  (func $bad (type $op) unreachable)
  (func $a (type $op) (i64.add (local.get 0) (i64.const 3)))
  (func $b (type $op) (i64.xor (local.get 0) (i64.const 5)))
  (func (export "_start")
    (local $n i32) (local $acc i64) (local $p i32)
    (loop $l
      (local.set $acc
        (call_indirect $t (type $op) (local.get $acc)
          (i32.add (i32.const 1) (i32.and (local.get $n) (i32.const 1)))))
      (local.set $acc
        (call_ref $op (local.get $acc)
          (select (result (ref $op)) (ref.func $a) (ref.func $b)
            (i32.and (local.get $n) (i32.const 2)))))
      (local.set $n (i32.add (local.get $n) (i32.const 1)))
      (br_if $l (i32.lt_u (local.get $n) (i32.const 6000000))))
    ;; the sum in hex at 100, then a newline
    (local.set $p (i32.const 116))
    (i32.store8 (i32.const 116) (i32.const 10))
    (loop $h
      (local.set $p (i32.sub (local.get $p) (i32.const 1)))
      (i32.store8 (local.get $p)
        (i32.load8_u offset=200 (i32.wrap_i64 (i64.and (local.get $acc) (i64.const 15)))))
      (local.set $acc (i64.shr_u (local.get $acc) (i64.const 4)))
      (br_if $h (i32.gt_u (local.get $p) (i32.const 100))))
    (i32.store (i32.const 0) (i32.const 100))
    (i32.store (i32.const 4) (i32.const 17))
    (drop (call $fd_write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 8))))
  (data (i32.const 200) "0123456789abcdef"))
