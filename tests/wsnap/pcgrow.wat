;; A WASI program for the post-copy migration tests (tests/wsnap/suite.py): touches
;; of pages still at the source by the program, by the kernel, and in memory grown
;; while they arrive. It opens data.bin (in its preopened directory, fd 3; word i of
;; the file is i, 8 MiB) and grows its memory to 256 pages (16 MiB). Region A (bytes
;; 65536 to 8 MiB) it fills with word i (of the memory) = i * 0x9e3779b1 + 7. Region B
;; (8 to 16 MiB) only the kernel writes: line N fd_preads page J = N * 37 mod 2048 of
;; the file into page J of region B. Then it grows the memory by one page (up to 1024
;; pages, 64 MiB) and fills the new page as region A, and checks: the page read (its
;; first and last word: J * 1024 and J * 1024 + 1023), every word of page 1 + N * 7
;; mod 127 of region A, and every word of one grown page; prints "tick N" (or "BAD N"
;; and exits 1 where a word differs) and sleeps 5 ms. A failed read exits 14 or 15.
(module
  (import "wasi_snapshot_preview1" "fd_write"
    (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_pread"
    (func $fd_pread (param i32 i32 i32 i64 i32) (result i32)))
  (import "wasi_snapshot_preview1" "path_open"
    (func $path_open (param i32 i32 i32 i32 i32 i64 i64 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "poll_oneoff"
    (func $poll (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "proc_exit" (func $exit (param i32)))
  (memory 1)
  (data (i32.const 200) "data.bin")
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

  ;; fills the words of [$from, $to) (byte addresses) with their values
  (func $fill (param $from i32) (param $to i32)
    (loop $w
      (i32.store (local.get $from)
        (i32.add (i32.mul (i32.shr_u (local.get $from) (i32.const 2)) (i32.const 0x9e3779b1))
                 (i32.const 7)))
      (local.set $from (i32.add (local.get $from) (i32.const 4)))
      (br_if $w (i32.lt_u (local.get $from) (local.get $to)))))

  ;; whether every word of the 64 KiB page at $at holds its value
  (func $good (param $at i32) (result i32)
    (local $end i32)
    (local.set $end (i32.add (local.get $at) (i32.const 65536)))
    (loop $w
      (if (i32.ne (i32.load (local.get $at))
            (i32.add (i32.mul (i32.shr_u (local.get $at) (i32.const 2))
                              (i32.const 0x9e3779b1))
                     (i32.const 7)))
        (then (return (i32.const 0))))
      (local.set $at (i32.add (local.get $at) (i32.const 4)))
      (br_if $w (i32.lt_u (local.get $at) (local.get $end))))
    (i32.const 1))

  (func (export "_start")
    (local $fd i32) (local $n i32) (local $j i32) (local $at i32) (local $pages i32)
    (local $ok i32)
    (if (i32.ne (memory.grow (i32.const 255)) (i32.const 1))
      (then (call $exit (i32.const 12))))
    (if (call $path_open (i32.const 3) (i32.const 0) (i32.const 200) (i32.const 8)
          (i32.const 0) (i64.const 0x26) (i64.const 0) (i32.const 0) (i32.const 16))
      (then (call $exit (i32.const 13))))
    (local.set $fd (i32.load (i32.const 16)))
    (call $fill (i32.const 65536) (i32.const 0x800000))
    (loop $line
      ;; the kernel writes a page of region B
      (local.set $j (i32.and (i32.mul (local.get $n) (i32.const 37)) (i32.const 2047)))
      (local.set $at (i32.add (i32.const 0x800000) (i32.shl (local.get $j) (i32.const 12))))
      (i32.store (i32.const 0) (local.get $at))
      (i32.store (i32.const 4) (i32.const 4096))
      (if (call $fd_pread (local.get $fd) (i32.const 0) (i32.const 1)
                (i64.extend_i32_u (i32.shl (local.get $j) (i32.const 12))) (i32.const 8))
        (then (call $exit (i32.const 14))))
      (if (i32.ne (i32.load (i32.const 8)) (i32.const 4096))
        (then (call $exit (i32.const 15))))
      (local.set $ok (i32.and
        (i32.eq (i32.load (local.get $at)) (i32.shl (local.get $j) (i32.const 10)))
        (i32.eq (i32.load offset=4092 (local.get $at))
                (i32.add (i32.shl (local.get $j) (i32.const 10)) (i32.const 1023)))))
      ;; a page more, filled
      (local.set $pages (memory.size))
      (if (i32.lt_u (local.get $pages) (i32.const 1024))
        (then
          (if (i32.ne (memory.grow (i32.const 1)) (local.get $pages))
            (then (call $exit (i32.const 16))))
          (call $fill (i32.shl (local.get $pages) (i32.const 16))
                      (i32.shl (i32.add (local.get $pages) (i32.const 1)) (i32.const 16)))
          (local.set $pages (i32.add (local.get $pages) (i32.const 1)))))
      ;; a page of region A and a grown one, every word
      (local.set $ok (i32.and (local.get $ok) (call $good
        (i32.shl (i32.add (i32.const 1) (i32.rem_u (i32.mul (local.get $n) (i32.const 7))
                                                   (i32.const 127)))
                 (i32.const 16)))))
      (local.set $ok (i32.and (local.get $ok) (call $good
        (i32.shl (i32.add (i32.const 256)
                          (i32.rem_u (i32.mul (local.get $n) (i32.const 13))
                                     (i32.sub (local.get $pages) (i32.const 256))))
                 (i32.const 16)))))
      (if (i32.eqz (local.get $ok))
        (then (call $say (i32.const 288) (i32.const 4) (local.get $n))
              (call $exit (i32.const 1))))
      (call $say (i32.const 256) (i32.const 5) (local.get $n))
      (call $sleep)
      (local.set $n (i32.add (local.get $n) (i32.const 1)))
      (br $line))))
