;; A WASI program for the replication of directories (tests/wsnap/suite.py
;; replicate.dir.append-pwrite): with its --dir as fd 3 it creates log.dat (truncated)
;; with fdflags APPEND and for N = 0, 1, ... forever writes the 14-byte record
;; "rec NNNNNNNNN\n" with fd_pwrite at offset 0 (an O_APPEND file on Linux: it goes at
;; the end), fd_sync's it and only then prints the record. A call that fails prints
;; "FAIL <step> <errno>" and exits 1.
(module
  (import "wasi_snapshot_preview1" "fd_write"
    (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_sync" (func $fd_sync (param i32) (result i32)))
  (import "wasi_snapshot_preview1" "path_open"
    (func $path_open (param i32 i32 i32 i32 i32 i64 i64 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_pwrite"
    (func $fd_pwrite (param i32 i32 i32 i64 i32) (result i32)))
  (import "wasi_snapshot_preview1" "proc_exit" (func $exit (param i32)))
  (memory 1)
  (data (i32.const 0) "log.dat")

  (func $record (param $n i32)
    (local $i i32)
    (i32.store (i32.const 256) (i32.const 0x20636572)) ;; "rec "
    (local.set $i (i32.const 9))
    (block $done
      (loop $digit
        (br_if $done (i32.eqz (local.get $i)))
        (local.set $i (i32.sub (local.get $i) (i32.const 1)))
        (i32.store8 (i32.add (i32.const 260) (local.get $i))
          (i32.add (i32.const 48) (i32.rem_u (local.get $n) (i32.const 10))))
        (local.set $n (i32.div_u (local.get $n) (i32.const 10)))
        (br $digit)))
    (i32.store8 (i32.const 269) (i32.const 10)))

  (func $put (param $fd i32) (result i32)
    (i32.store (i32.const 128) (i32.const 256))
    (i32.store (i32.const 132) (i32.const 14))
    (call $fd_write (local.get $fd) (i32.const 128) (i32.const 1) (i32.const 136)))

  (func $check (param $e i32) (param $step i32)
    (if (i32.eqz (local.get $e)) (then (return)))
    (i32.store (i32.const 256) (i32.const 0x4c494146)) ;; "FAIL"
    (i32.store8 (i32.const 260) (i32.const 32))
    (i32.store8 (i32.const 261) (i32.add (i32.const 48) (local.get $step)))
    (i32.store8 (i32.const 262) (i32.const 32))
    (i32.store8 (i32.const 263) (i32.add (i32.const 48) (i32.div_u (local.get $e) (i32.const 10))))
    (i32.store8 (i32.const 264) (i32.add (i32.const 48) (i32.rem_u (local.get $e) (i32.const 10))))
    (i32.store (i32.const 265) (i32.const 0x20202020))
    (i32.store8 (i32.const 269) (i32.const 10))
    (drop (call $put (i32.const 1)))
    (call $exit (i32.const 1)))

  (func (export "_start")
    (local $n i32)
    (call $check
      (call $path_open (i32.const 3) (i32.const 0) (i32.const 0) (i32.const 7)
        (i32.const 9) (i64.const 0x1fffffff) (i64.const 0x1fffffff) (i32.const 1)
        (i32.const 1028))
      (i32.const 0))
    (loop $forever
      (local.set $n (i32.load (i32.const 1024)))
      (call $record (local.get $n))
      (i32.store (i32.const 128) (i32.const 256))
      (i32.store (i32.const 132) (i32.const 14))
      (call $check (call $fd_pwrite (i32.load (i32.const 1028)) (i32.const 128) (i32.const 1)
                     (i64.const 0) (i32.const 136)) (i32.const 1))
      (call $check (call $fd_sync (i32.load (i32.const 1028))) (i32.const 2))
      (call $put (i32.const 1))
      (drop)
      (i32.store (i32.const 1024) (i32.add (local.get $n) (i32.const 1)))
      (br $forever))))
