;; A WASI program for the pre-copy migration tests (tests/wsnap/suite.py): memory
;; only the kernel writes. It opens data.bin (in its preopened directory, fd 3),
;; whose word i is i (little-endian). Its memory at 65536 holds 16 slots of 256 KiB;
;; line N fd_preads 256 KiB of the file from word S = N mod 64 into slot N mod 16
;; (preadv(2) straight into the linear memory: the kernel writes the pages, not the
;; program), so word k of that slot is then k + S; the table at 1024 keeps each
;; slot's S (-1: not read yet). Before each read it checks the first and last word
;; of every 4 KiB page of every slot read so far against the table, then prints
;; "tick N" (or "BAD N" and exits 1 where one differs: a page the kernel wrote that
;; a migration's pre-copy did not send again). A line rewrites one slot of 16, so a
;; destination's first lines check the pages the migration brought.
(module
  (import "wasi_snapshot_preview1" "fd_write"
    (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_pread"
    (func $fd_pread (param i32 i32 i32 i64 i32) (result i32)))
  (import "wasi_snapshot_preview1" "path_open"
    (func $path_open (param i32 i32 i32 i32 i32 i64 i64 i32 i32) (result i32)))
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

  (func (export "_start")
    (local $fd i32) (local $n i32) (local $p i32) (local $j i32) (local $s i32)
    (local $slot i32)
    (if (i32.ne (memory.grow (i32.const 64)) (i32.const 1))
      (then (call $exit (i32.const 12))))
    (memory.fill (i32.const 1024) (i32.const 0xff) (i32.const 64))
    (if (call $path_open (i32.const 3) (i32.const 0) (i32.const 200) (i32.const 8)
          (i32.const 0) (i64.const 0x26) (i64.const 0) (i32.const 0) (i32.const 16))
      (then (call $exit (i32.const 13))))
    (local.set $fd (i32.load (i32.const 16)))
    (loop $line
      ;; every page of the slots read so far: word j (of the 4 MiB) is
      ;; j - 65536 * slot + S of its slot
      (local.set $p (i32.const 0))
      (loop $check
        (local.set $slot (i32.shr_u (local.get $p) (i32.const 6)))
        (local.set $s (i32.load offset=1024 (i32.shl (local.get $slot) (i32.const 2))))
        (local.set $j (i32.sub (i32.shl (local.get $p) (i32.const 10))
                               (i32.shl (local.get $slot) (i32.const 16))))
        (if (i32.ge_s (local.get $s) (i32.const 0))
          (then
            (if (i32.or
                  (i32.ne (i32.load offset=65536 (i32.shl (local.get $p) (i32.const 12)))
                          (i32.add (local.get $j) (local.get $s)))
                  (i32.ne (i32.load offset=69628 (i32.shl (local.get $p) (i32.const 12)))
                          (i32.add (i32.add (local.get $j) (i32.const 1023))
                                   (local.get $s))))
              (then (call $say (i32.const 288) (i32.const 4) (local.get $n))
                    (call $exit (i32.const 1))))))
        (local.set $p (i32.add (local.get $p) (i32.const 1)))
        (br_if $check (i32.lt_u (local.get $p) (i32.const 1024))))
      (local.set $s (i32.and (local.get $n) (i32.const 63)))
      (local.set $slot (i32.and (local.get $n) (i32.const 15)))
      (i32.store (i32.const 0)
        (i32.add (i32.const 65536) (i32.shl (local.get $slot) (i32.const 18))))
      (i32.store (i32.const 4) (i32.const 262144))
      (if (call $fd_pread (local.get $fd) (i32.const 0) (i32.const 1)
                (i64.extend_i32_u (i32.shl (local.get $s) (i32.const 2))) (i32.const 8))
        (then (call $exit (i32.const 14))))
      (if (i32.ne (i32.load (i32.const 8)) (i32.const 262144))
        (then (call $exit (i32.const 15))))
      (i32.store offset=1024 (i32.shl (local.get $slot) (i32.const 2)) (local.get $s))
      (call $say (i32.const 256) (i32.const 5) (local.get $n))
      (local.set $n (i32.add (local.get $n) (i32.const 1)))
      (br $line))))
