;; For tests/wsnap: writes 1,000,000 bytes to stdout, byte k being k mod 251, in fd_write
;; calls of up to 100,000 bytes (more than a pipe holds) in two iovecs, going on after a
;; short write from where it ended, as a C library does; then exits 0. A reader that stops
;; reading leaves it blocked in fd_write on a full pipe: a byte written twice or lost
;; shows in the pattern.
(module
  (import "wasi_snapshot_preview1" "fd_write"
    (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (memory 4)
  (func (export "_start")
    (local $j i32) (local $pos i32) (local $n i32) (local $base i32)
    ;; the pattern at 1024: 1024 + j holds j mod 251
    (loop $fill
      (i32.store8 (i32.add (i32.const 1024) (local.get $j))
        (i32.rem_u (local.get $j) (i32.const 251)))
      (local.set $j (i32.add (local.get $j) (i32.const 1)))
      (br_if $fill (i32.lt_u (local.get $j) (i32.const 100251))))
    (loop $write
      ;; n = min(100000, 1000000 - pos) bytes from pos: iovecs at 0 and 8, count at 16
      (local.set $n (i32.sub (i32.const 1000000) (local.get $pos)))
      (if (i32.gt_u (local.get $n) (i32.const 100000))
        (then (local.set $n (i32.const 100000))))
      (local.set $base
        (i32.add (i32.const 1024) (i32.rem_u (local.get $pos) (i32.const 251))))
      (i32.store (i32.const 0) (local.get $base))
      (i32.store (i32.const 4) (i32.shr_u (local.get $n) (i32.const 1)))
      (i32.store (i32.const 8)
        (i32.add (local.get $base) (i32.shr_u (local.get $n) (i32.const 1))))
      (i32.store (i32.const 12)
        (i32.sub (local.get $n) (i32.shr_u (local.get $n) (i32.const 1))))
      (if (call $fd_write (i32.const 1) (i32.const 0) (i32.const 2) (i32.const 16))
        (then (unreachable)))
      (local.set $pos (i32.add (local.get $pos) (i32.load (i32.const 16))))
      (br_if $write (i32.lt_u (local.get $pos) (i32.const 1000000))))))
