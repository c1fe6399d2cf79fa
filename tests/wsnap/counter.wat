;; A WASI program for the snapshot tests (tests/wsnap/suite.py): it prints
;; "count N X" for N = 0..LIMIT-1 to stdout and to out.txt, where X is the
;; N-th byte of in.txt (read one byte a line), both files in the preopened
;; directory (fd 3). Between lines it sleeps 10 ms in poll_oneoff or, with an
;; argument, spins in a loop (so a pause lands on a loop back-edge): 4M times, or
;; 1M with a second argument (still most of a line's time, interpreted). A global
;; and a table entry it checks on every line must survive a restore too.
(module
  (import "wasi_snapshot_preview1" "fd_write"
    (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_read"
    (func $fd_read (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "path_open"
    (func $path_open (param i32 i32 i32 i32 i32 i64 i64 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "poll_oneoff"
    (func $poll (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "args_sizes_get"
    (func $args_sizes (param i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "proc_exit" (func $exit (param i32)))
  (memory (export "memory") 1)
  (global $lines (mut i32) (i32.const 0))
  (table 2 funcref)
  (elem (i32.const 1) $seven)
  (type $ret_i32 (func (result i32)))
  (func $seven (result i32) (i32.const 7))
  (data (i32.const 200) "in.txt")
  (data (i32.const 210) "out.txt")
  (data (i32.const 256) "count ")

  (func $fail (param $code i32) (call $exit (local.get $code)) (unreachable))

  ;; writes [ptr, ptr+len) to fd
  (func $write (param $fd i32) (param $ptr i32) (param $len i32)
    (i32.store (i32.const 0) (local.get $ptr))
    (i32.store (i32.const 4) (local.get $len))
    (if (call $fd_write (local.get $fd) (i32.const 0) (i32.const 1) (i32.const 8))
      (then (call $fail (i32.const 10)))))

  ;; the decimal digits of n at 262..., then " X\n"; returns the line's length
  (func $format (param $n i32) (param $x i32) (result i32)
    (local $len i32) (local $i i32) (local $m i32)
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
      (i32.store8 (i32.add (i32.const 262) (local.get $i))
        (i32.add (i32.const 48) (i32.rem_u (local.get $m) (i32.const 10))))
      (local.set $m (i32.div_u (local.get $m) (i32.const 10)))
      (br_if $digit (local.get $i)))
    (i32.store8 (i32.add (i32.const 262) (local.get $len)) (i32.const 32))
    (i32.store8 (i32.add (i32.const 263) (local.get $len)) (local.get $x))
    (i32.store8 (i32.add (i32.const 264) (local.get $len)) (i32.const 10))
    (i32.add (local.get $len) (i32.const 9)))

  (func $sleep
    (i64.store (i32.const 32) (i64.const 0))
    (i32.store8 (i32.const 40) (i32.const 0))
    (i32.store (i32.const 48) (i32.const 1))
    (i64.store (i32.const 56) (i64.const 10000000))
    (i64.store (i32.const 64) (i64.const 0))
    (i32.store16 (i32.const 72) (i32.const 0))
    (if (call $poll (i32.const 32) (i32.const 96) (i32.const 1) (i32.const 128))
      (then (call $fail (i32.const 11)))))

  (func $spin (param $n i32) (result i32)
    (local $acc i32)
    (loop $l
      (local.set $acc (i32.add (local.get $acc) (local.get $n)))
      (local.set $n (i32.sub (local.get $n) (i32.const 1)))
      (br_if $l (local.get $n)))
    (local.get $acc))

  (func (export "_start")
    (local $in i32) (local $out i32) (local $n i32) (local $len i32) (local $spin i32)
    (local $limit i32) (local $iters i32)
    (drop (call $args_sizes (i32.const 20) (i32.const 24)))
    (local.set $spin (i32.gt_u (i32.load (i32.const 20)) (i32.const 1)))
    (local.set $iters (select (i32.const 1000000) (i32.const 4000000)
      (i32.gt_u (i32.load (i32.const 20)) (i32.const 2))))
    (local.set $limit (select (i32.const 150) (i32.const 120) (local.get $spin)))
    (if (call $path_open (i32.const 3) (i32.const 0) (i32.const 200) (i32.const 6)
          (i32.const 0) (i64.const 0x26) (i64.const 0) (i32.const 0) (i32.const 16))
      (then (call $fail (i32.const 12))))
    (local.set $in (i32.load (i32.const 16)))
    (if (call $path_open (i32.const 3) (i32.const 0) (i32.const 210) (i32.const 7)
          (i32.const 9) (i64.const 0x64) (i64.const 0) (i32.const 0) (i32.const 16))
      (then (call $fail (i32.const 13))))
    (local.set $out (i32.load (i32.const 16)))
    (loop $line
      (i32.store (i32.const 0) (i32.const 512))
      (i32.store (i32.const 4) (i32.const 1))
      (if (call $fd_read (local.get $in) (i32.const 0) (i32.const 1) (i32.const 8))
        (then (call $fail (i32.const 14))))
      (if (i32.ne (i32.load (i32.const 8)) (i32.const 1))
        (then (call $fail (i32.const 15))))
      (if (i32.ne (global.get $lines) (local.get $n))
        (then (call $fail (i32.const 16))))
      (if (i32.ne (call_indirect (type $ret_i32) (i32.const 1)) (i32.const 7))
        (then (call $fail (i32.const 17))))
      (local.set $len (call $format (local.get $n) (i32.load8_u (i32.const 512))))
      (call $write (i32.const 1) (i32.const 256) (local.get $len))
      (call $write (local.get $out) (i32.const 256) (local.get $len))
      (global.set $lines (i32.add (global.get $lines) (i32.const 1)))
      (if (local.get $spin)
        (then (drop (call $spin (local.get $iters))))
        (else (call $sleep)))
      (local.set $n (i32.add (local.get $n) (i32.const 1)))
      (br_if $line (i32.lt_u (local.get $n) (local.get $limit))))))
