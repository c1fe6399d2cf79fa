;; For tests/wsnap: prints "ready", then reads stdin a byte at a time and prints "got C"
;; for each byte C, until end of file. Between bytes it is blocked in fd_read: a pause
;; then parks only once the read returns.
(module
  (import "wasi_snapshot_preview1" "fd_read"
    (func $fd_read (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_write"
    (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (memory 1)
  (data (i32.const 256) "ready\0a")
  (data (i32.const 272) "got ?\0a")
  (func $write (param $ptr i32) (param $len i32)
    (i32.store (i32.const 0) (local.get $ptr))
    (i32.store (i32.const 4) (local.get $len))
    (drop (call $fd_write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 8))))
  (func (export "_start")
    (call $write (i32.const 256) (i32.const 6))
    (loop $next
      ;; one byte into "got ?" at 276: iovec at 16, the count read at 24
      (i32.store (i32.const 16) (i32.const 276))
      (i32.store (i32.const 20) (i32.const 1))
      (drop (call $fd_read (i32.const 0) (i32.const 16) (i32.const 1) (i32.const 24)))
      (if (i32.eqz (i32.load (i32.const 24))) (then (return)))
      (call $write (i32.const 272) (i32.const 6))
      (br $next))))
