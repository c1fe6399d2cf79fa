;; For tests/wsnap: _start's fill loop gets hot (translated, entered by OSR) and its line
;; loop makes its host calls only in the functions it calls ($write, $sleep), interpreted
;; or translated: a pause must still reach a point it can save (the JIT ends its tick
;; chunk after each call so that _start's back-edge comes back to C). Prints "ready",
;; then "count N" every 10 ms. (A small copy of bench/snapshot/wasm_app.wat.)
(module
  (import "wasi_snapshot_preview1" "fd_write"
    (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "poll_oneoff"
    (func $poll (param i32 i32 i32 i32) (result i32)))
  (memory 2)
  (data (i32.const 256) "ready\0a")
  (data (i32.const 272) "count ")
  (func $write (param $ptr i32) (param $len i32)
    (i32.store (i32.const 0) (local.get $ptr))
    (i32.store (i32.const 4) (local.get $len))
    (drop (call $fd_write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 8))))
  (func $sleep
    (i64.store (i32.const 32) (i64.const 0))
    (i32.store8 (i32.const 40) (i32.const 0))
    (i32.store (i32.const 48) (i32.const 1))
    (i64.store (i32.const 56) (i64.const 10000000))
    (i64.store (i32.const 64) (i64.const 0))
    (i32.store16 (i32.const 72) (i32.const 0))
    (drop (call $poll (i32.const 32) (i32.const 96) (i32.const 1) (i32.const 128))))
  (func (export "_start")
    (local $p i32) (local $x i64) (local $n i32) (local $m i32) (local $len i32)
    (local.set $x (i64.const 88172645463325252))
    (local.set $p (i32.const 65536))
    (loop $fill
      (if (i32.and (i32.shr_u (local.get $p) (i32.const 12)) (i32.const 1))
        (then
          (local.set $x (i64.xor (local.get $x) (i64.shl (local.get $x) (i64.const 13))))
          (local.set $x (i64.xor (local.get $x) (i64.shr_u (local.get $x) (i64.const 7))))
          (local.set $x (i64.xor (local.get $x) (i64.shl (local.get $x) (i64.const 17))))
          (i64.store (local.get $p) (local.get $x))))
      (local.set $p (i32.add (local.get $p) (i32.const 8)))
      (br_if $fill (i32.lt_u (local.get $p) (i32.const 131072))))
    (call $write (i32.const 256) (i32.const 6))
    (loop $line
      ;; "count N\n" at 272
      (local.set $m (local.get $n))
      (local.set $len (i32.const 0))
      (loop $digits
        (i32.store8 (i32.sub (i32.const 300) (local.get $len))
          (i32.add (i32.const 48) (i32.rem_u (local.get $m) (i32.const 10))))
        (local.set $m (i32.div_u (local.get $m) (i32.const 10)))
        (local.set $len (i32.add (local.get $len) (i32.const 1)))
        (br_if $digits (local.get $m)))
      (memory.copy (i32.const 278) (i32.sub (i32.const 301) (local.get $len)) (local.get $len))
      (i32.store8 (i32.add (i32.const 278) (local.get $len)) (i32.const 10))
      (call $write (i32.const 272) (i32.add (local.get $len) (i32.const 7)))
      (call $sleep)
      (local.set $n (i32.add (local.get $n) (i32.const 1)))
      (br $line))))
