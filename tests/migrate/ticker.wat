;; tests/migrate: a WASI program for Wasm migration through the daemons. It prints
;; "TICK n" for n = 1, 2, ... forever, sleeping 20 ms (poll_oneoff) between lines; n and
;; a checksum of the 64 KiB page it rewrites each line live in its memory, and a line
;; whose checksum does not match prints "TICK n BAD" and exits 2. A migration that lost
;; the program's place or its memory shows as a gap, a repeat or a BAD line.
(module
  (import "wasi_snapshot_preview1" "fd_write"
    (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "poll_oneoff"
    (func $poll (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "proc_exit" (func $exit (param i32)))
  (memory 2)
  (data (i32.const 0) "TICK ")

  ;; the decimal digits of n at 5...; returns the position after them
  (func $digits (param $n i32) (result i32)
    (local $len i32) (local $m i32) (local $i i32)
    (local.set $m (local.get $n))
    (local.set $len (i32.const 1))
    (block $done (loop $count
      (br_if $done (i32.lt_u (local.get $m) (i32.const 10)))
      (local.set $m (i32.div_u (local.get $m) (i32.const 10)))
      (local.set $len (i32.add (local.get $len) (i32.const 1)))
      (br $count)))
    (local.set $i (local.get $len))
    (local.set $m (local.get $n))
    (loop $put
      (local.set $i (i32.sub (local.get $i) (i32.const 1)))
      (i32.store8 (i32.add (i32.const 5) (local.get $i))
        (i32.add (i32.const 48) (i32.rem_u (local.get $m) (i32.const 10))))
      (local.set $m (i32.div_u (local.get $m) (i32.const 10)))
      (br_if $put (local.get $i)))
    (i32.add (i32.const 5) (local.get $len)))

  ;; fills page 1 from n and returns its sum
  (func $fill (param $n i32) (result i32)
    (local $a i32) (local $sum i32) (local $v i32)
    (local.set $a (i32.const 65536))
    (loop $l
      (local.set $v (i32.mul (i32.add (local.get $a) (local.get $n)) (i32.const 2654435761)))
      (i32.store (local.get $a) (local.get $v))
      (local.set $sum (i32.add (local.get $sum) (local.get $v)))
      (local.set $a (i32.add (local.get $a) (i32.const 4)))
      (br_if $l (i32.lt_u (local.get $a) (i32.const 131072))))
    (local.get $sum))

  (func $sum (result i32)
    (local $a i32) (local $sum i32)
    (local.set $a (i32.const 65536))
    (loop $l
      (local.set $sum (i32.add (local.get $sum) (i32.load (local.get $a))))
      (local.set $a (i32.add (local.get $a) (i32.const 4)))
      (br_if $l (i32.lt_u (local.get $a) (i32.const 131072))))
    (local.get $sum))

  (func (export "_start")
    (local $n i32) (local $end i32) (local $want i32)
    ;; a relative clock subscription of 20 ms at 512 (48 bytes), events at 600
    (i64.store (i32.const 528) (i64.const 1))          ;; clock id: monotonic
    (i64.store (i32.const 536) (i64.const 20000000))   ;; timeout
    (loop $tick
      (local.set $n (i32.add (local.get $n) (i32.const 1)))
      (local.set $want (call $fill (local.get $n)))
      (i32.store (i32.const 400) (local.get $want))
      (drop (call $poll (i32.const 512) (i32.const 600) (i32.const 1) (i32.const 700)))
      (local.set $end (call $digits (local.get $n)))
      (if (i32.ne (call $sum) (i32.load (i32.const 400)))
        (then
          (i32.store (local.get $end) (i32.const 0x44414220)) ;; " BAD"
          (local.set $end (i32.add (local.get $end) (i32.const 4)))))
      (i32.store8 (local.get $end) (i32.const 10))
      (i32.store (i32.const 300) (i32.const 0))
      (i32.store (i32.const 304) (i32.add (local.get $end) (i32.const 1)))
      (drop (call $fd_write (i32.const 1) (i32.const 300) (i32.const 1) (i32.const 308)))
      (if (i32.ne (call $sum) (i32.load (i32.const 400))) (then (call $exit (i32.const 2))))
      (br $tick))))
