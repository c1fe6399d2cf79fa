;; A WASI program for the replication tests (tests/wsnap/suite.py): it prints
;; "tick N" for N = 0, 1, ... forever, sleeping 1 ms (poll_oneoff) between lines,
;; many lines per checkpoint interval, so output the primary sent out before a
;; checkpoint covered it shows as a repeat after failover. N lives in memory (at
;; 1024), and each line first checks that the 64 KiB at 65536 all hold N-1 (the last
;; line's words: "BAD N" and exit 1 if not) and then writes N there.
(module
  (import "wasi_snapshot_preview1" "fd_write"
    (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "poll_oneoff"
    (func $poll (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "proc_exit" (func $exit (param i32)))
  (memory 2)
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

  (func (export "_start")
    (local $n i32) (local $i i32)
    (i32.store (i32.const 1024) (i32.const 0))
    (memory.fill (i32.const 65536) (i32.const 0xff) (i32.const 65536))
    (loop $line
      (local.set $n (i32.load (i32.const 1024)))
      (local.set $i (i32.const 0))
      (loop $check
        (if (i32.ne (i32.load offset=65536 (local.get $i)) (i32.sub (local.get $n) (i32.const 1)))
          (then (call $say (i32.const 288) (i32.const 4) (local.get $n))
                (call $exit (i32.const 1))))
        (i32.store offset=65536 (local.get $i) (local.get $n))
        (local.set $i (i32.add (local.get $i) (i32.const 4)))
        (br_if $check (i32.lt_u (local.get $i) (i32.const 65536))))
      (call $say (i32.const 256) (i32.const 5) (local.get $n))
      (i32.store (i32.const 1024) (i32.add (local.get $n) (i32.const 1)))
      ;; sleep 1 ms
      (i64.store (i32.const 32) (i64.const 0))
      (i32.store8 (i32.const 40) (i32.const 0))
      (i32.store (i32.const 48) (i32.const 1))
      (i64.store (i32.const 56) (i64.const 1000000))
      (i64.store (i32.const 64) (i64.const 0))
      (i32.store16 (i32.const 72) (i32.const 0))
      (if (call $poll (i32.const 32) (i32.const 96) (i32.const 1) (i32.const 128))
        (then (call $exit (i32.const 11))))
      (br $line)))
)
