;; For tests/wsnap: prints "ready", accepts a connection on its stdin (a listening
;; socket), receives 4 bytes from it with waitall (fewer if cut short), sends back what
;; it received, and exits 0. It waits in sock_accept, then in sock_recv, for its peer.
(module
  (import "wasi_snapshot_preview1" "sock_accept"
    (func $accept (param i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "sock_recv"
    (func $recv (param i32 i32 i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "sock_send"
    (func $send (param i32 i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_write"
    (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (memory 1)
  (data (i32.const 256) "ready\0a")
  (func (export "_start")
    (local $conn i32)
    (i32.store (i32.const 0) (i32.const 256))
    (i32.store (i32.const 4) (i32.const 6))
    (drop (call $fd_write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 8)))
    (if (call $accept (i32.const 0) (i32.const 0) (i32.const 32)) (then (unreachable)))
    (local.set $conn (i32.load (i32.const 32)))
    ;; 4 bytes into 300 (waitall): iovec at 16, the count at 24, roflags at 28
    (i32.store (i32.const 16) (i32.const 300))
    (i32.store (i32.const 20) (i32.const 4))
    (if (call $recv (local.get $conn) (i32.const 16) (i32.const 1) (i32.const 2)
                    (i32.const 24) (i32.const 28))
      (then (unreachable)))
    (i32.store (i32.const 20) (i32.load (i32.const 24)))
    (if (call $send (local.get $conn) (i32.const 16) (i32.const 1) (i32.const 0)
                    (i32.const 24))
      (then (unreachable)))))
