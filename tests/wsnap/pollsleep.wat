;; For tests/wsnap: prints "ready", then sleeps in poll_oneoff on a relative monotonic
;; clock of 12 s (userdata 0x5151), prints "woke" if the one event is that clock's with
;; no error (else "bad") and returns. A pause or a stop while it sleeps is served at
;; once (the call is given up and made again after a resume or a restore, keeping its
;; deadline).
(module
  (import "wasi_snapshot_preview1" "fd_write"
    (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "poll_oneoff"
    (func $poll (param i32 i32 i32 i32) (result i32)))
  (memory 1)
  (data (i32.const 256) "ready\0a")
  (data (i32.const 272) "woke\0a")
  (data (i32.const 288) "bad\0a")
  (func $write (param $ptr i32) (param $len i32)
    (i32.store (i32.const 0) (local.get $ptr))
    (i32.store (i32.const 4) (local.get $len))
    (drop (call $fd_write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 8))))
  (func (export "_start")
    (call $write (i32.const 256) (i32.const 6))
    ;; the subscription at 64 (48 bytes): userdata, type 0 (clock) at 72, clock id 1
    ;; (monotonic) at 80, timeout at 88, precision at 96, flags 0 at 104
    (i64.store (i32.const 64) (i64.const 0x5151))
    (i32.store (i32.const 80) (i32.const 1))
    (i64.store (i32.const 88) (i64.const 12000000000))
    ;; the event at 128 (32 bytes), the count at 192
    (if (i32.and
          (i32.and
            (i32.eqz (call $poll (i32.const 64) (i32.const 128) (i32.const 1) (i32.const 192)))
            (i32.eq (i32.load (i32.const 192)) (i32.const 1)))
          (i32.and
            (i64.eq (i64.load (i32.const 128)) (i64.const 0x5151))
            (i32.eqz (i32.or (i32.load16_u (i32.const 136)) (i32.load8_u (i32.const 138))))))
      (then (call $write (i32.const 272) (i32.const 5)))
      (else (call $write (i32.const 288) (i32.const 4))))))
