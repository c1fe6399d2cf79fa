;; A WASI program for the tests of a snapshot taken as the program is told to end
;; (tests/wsnap/suite.py, case_snapshot_ending): it grows its memory by 4096 pages
;; (256 MiB), fills them with pseudo-random words (so that saving them takes a while)
;; and keeps their checksum (the sum of word i times 2i+1, mod 2^32). Then, line after
;; line, it recomputes the checksum from the whole memory, prints "tick N" (or "BAD N"
;; and exits 1 where they differ: a snapshot that lost or garbled a page) and sleeps
;; 5 ms.
(module
  (import "wasi_snapshot_preview1" "fd_write"
    (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "poll_oneoff"
    (func $poll (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "proc_exit" (func $exit (param i32)))
  (memory 1)
  (global $seed (mut i32) (i32.const 12345))
  (global $sum (mut i32) (i32.const 0))
  (data (i32.const 256) "tick ")
  (data (i32.const 288) "BAD ")

  ;; "PREFIX N\n" at 512 from the prefix at $p (length $pl), written to stdout
  (func $say (param $p i32) (param $pl i32) (param $n i32)
    (local $len i32) (local $m i32) (local $i i32)
    (memory.copy (i32.const 512) (local.get $p) (local.get $pl))
    (local.set $m (local.get $n))
    (local.set $len (i32.const 1))
    (block $done
      (loop $count
        (br_if $done (i32.lt_u (local.get $m) (i32.const 10)))
        (local.set $m (i32.div_u (local.get $m) (i32.const 10)))
        (local.set $len (i32.add (local.get $len) (i32.const 1)))
        (br $count)))
    (local.set $i (local.get $len))
    (local.set $m (local.get $n))
    (loop $digit
      (local.set $i (i32.sub (local.get $i) (i32.const 1)))
      (i32.store8 (i32.add (i32.add (i32.const 512) (local.get $pl)) (local.get $i))
        (i32.add (i32.const 48) (i32.rem_u (local.get $m) (i32.const 10))))
      (local.set $m (i32.div_u (local.get $m) (i32.const 10)))
      (br_if $digit (local.get $i)))
    (i32.store8 (i32.add (i32.add (i32.const 512) (local.get $pl)) (local.get $len))
      (i32.const 10))
    (i32.store (i32.const 0) (i32.const 512))
    (i32.store (i32.const 4) (i32.add (i32.add (local.get $pl) (local.get $len)) (i32.const 1)))
    (if (call $fd_write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 8))
      (then (call $exit (i32.const 10)))))

  (func $sleep
    (i64.store (i32.const 32) (i64.const 0))
    (i32.store8 (i32.const 40) (i32.const 0))
    (i32.store (i32.const 48) (i32.const 1))
    (i64.store (i32.const 56) (i64.const 5000000))
    (i64.store (i32.const 64) (i64.const 0))
    (i32.store16 (i32.const 72) (i32.const 0))
    (if (call $poll (i32.const 32) (i32.const 96) (i32.const 1) (i32.const 128))
      (then (call $exit (i32.const 11)))))

  (func (export "_start")
    (local $i i32) (local $n i32) (local $new i32) (local $acc i32)
    (if (i32.ne (memory.grow (i32.const 4096)) (i32.const 1))
      (then (call $exit (i32.const 12))))
    (local.set $new (global.get $seed))
    (loop $fill
      (local.set $new (i32.add (i32.mul (local.get $new) (i32.const 1664525))
                               (i32.const 1013904223)))
      (i32.store offset=65536 (i32.shl (local.get $i) (i32.const 2)) (local.get $new))
      (global.set $sum (i32.add (global.get $sum)
        (i32.mul (local.get $new) (i32.add (i32.shl (local.get $i) (i32.const 1))
                                           (i32.const 1)))))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br_if $fill (i32.lt_u (local.get $i) (i32.const 67108864))))
    (loop $line
      (local.set $i (i32.const 0))
      (local.set $acc (i32.const 0))
      (loop $check
        (local.set $acc (i32.add (local.get $acc)
          (i32.mul (i32.load offset=65536 (i32.shl (local.get $i) (i32.const 2)))
                   (i32.add (i32.shl (local.get $i) (i32.const 1)) (i32.const 1)))))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br_if $check (i32.lt_u (local.get $i) (i32.const 67108864))))
      (if (i32.ne (local.get $acc) (global.get $sum))
        (then (call $say (i32.const 288) (i32.const 4) (local.get $n))
              (call $exit (i32.const 1))))
      (call $say (i32.const 256) (i32.const 5) (local.get $n))
      (call $sleep)
      (local.set $n (i32.add (local.get $n) (i32.const 1)))
      (br $line))))
