;; A WASI program for the post-copy migration tests (tests/wsnap/suite.py): the kernel
;; writing a buffer that spans many pages still at the source, up to the memory's last
;; byte. Its memory is 256 pages (16 MiB); it fills bytes 65536 to 15 MiB with word
;; i = i * 0x9e3779b1 + 7. Line N: random_get into the last MiB from byte 100 of it to
;; the memory's end (255 host pages and a bit, all missing at a post-copy's
;; destination until then: a failure exits 14), checks every word of page
;; 16 + N * 37 mod 3824 (BAD N and exit 1 where one differs), prints "tick N" and
;; sleeps 5 ms.
(module
  (import "wasi_snapshot_preview1" "fd_write"
    (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "random_get"
    (func $random_get (param i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "poll_oneoff"
    (func $poll (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "proc_exit" (func $exit (param i32)))
  (memory 256)
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
    (drop (call $fd_write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 8))))

  ;; 5 ms (a relative clock subscription at 1024)
  (func $sleep
    (i64.store (i32.const 1024) (i64.const 0))
    (i32.store (i32.const 1032) (i32.const 0))
    (i32.store (i32.const 1040) (i32.const 1))
    (i64.store (i32.const 1048) (i64.const 5000000))
    (i64.store (i32.const 1056) (i64.const 0))
    (i32.store16 (i32.const 1064) (i32.const 0))
    (drop (call $poll (i32.const 1024) (i32.const 1200) (i32.const 1) (i32.const 1300))))

  (func $word (param $i i32) (result i32)
    (i32.add (i32.mul (local.get $i) (i32.const 0x9e3779b1)) (i32.const 7)))

  (func (export "_start")
    (local $i i32) (local $n i32) (local $a i32) (local $end i32)
    ;; words 16384 (byte 65536) to 15 MiB / 4
    (local.set $i (i32.const 16384))
    (loop $fill
      (i32.store (i32.shl (local.get $i) (i32.const 2)) (call $word (local.get $i)))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br_if $fill (i32.lt_u (local.get $i) (i32.const 3932160))))
    (loop $line
      (if (call $random_get (i32.const 15728740) (i32.const 1048476))
        (then (call $exit (i32.const 14))))
      ;; page 16 + N * 37 mod 3824 (4 KiB pages), word by word
      (local.set $a (i32.shl (i32.add (i32.const 16)
        (i32.rem_u (i32.mul (local.get $n) (i32.const 37)) (i32.const 3824))) (i32.const 12)))
      (local.set $end (i32.add (local.get $a) (i32.const 4096)))
      (loop $check
        (if (i32.ne (i32.load (local.get $a))
                    (call $word (i32.shr_u (local.get $a) (i32.const 2))))
          (then (call $say (i32.const 288) (i32.const 4) (local.get $n))
                (call $exit (i32.const 1))))
        (local.set $a (i32.add (local.get $a) (i32.const 4)))
        (br_if $check (i32.lt_u (local.get $a) (local.get $end))))
      (call $say (i32.const 256) (i32.const 5) (local.get $n))
      (call $sleep)
      (local.set $n (i32.add (local.get $n) (i32.const 1)))
      (br $line)))
)
