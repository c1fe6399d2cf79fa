;; For tests/wsnap: a program with a shared memory (the threads proposal) whose count
;; lives in that memory and moves by atomics: _start spins, then takes n with
;; i32.atomic.rmw.add on address 1024 and prints "count n" (memory.atomic.wait32 with a
;; zero timeout and a notify on the way, which a single thread sees answer 2 and 0). A
;; snapshot must save the shared memory's contents and a restore go on with "count n+1".
;; Prints "ready" first.
(module
  (import "wasi_snapshot_preview1" "fd_write"
    (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (memory 1 1 shared)
  (data (i32.const 256) "ready\0a")
  (data (i32.const 272) "count ")
  (func $write (param $ptr i32) (param $len i32)
    (i32.store (i32.const 0) (local.get $ptr))
    (i32.store (i32.const 4) (local.get $len))
    (drop (call $fd_write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 8))))
  ;; "count N\n" at 272
  (func $line (param $n i32)
    (local $len i32) (local $m i32) (local $i i32)
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
      (i32.store8 (i32.add (i32.const 278) (local.get $i))
        (i32.add (i32.const 48) (i32.rem_u (local.get $m) (i32.const 10))))
      (local.set $m (i32.div_u (local.get $m) (i32.const 10)))
      (br_if $digit (local.get $i)))
    (i32.store8 (i32.add (i32.const 278) (local.get $len)) (i32.const 10))
    (call $write (i32.const 272) (i32.add (local.get $len) (i32.const 7))))
  (func $spin
    (local $k i32) (local $x i64)
    (local.set $k (i32.const 400000))
    (loop $spin
      (local.set $x (i64.add (i64.mul (local.get $x) (i64.const 6364136223846793005))
                             (i64.const 1442695040888963407)))
      (local.set $k (i32.sub (local.get $k) (i32.const 1)))
      (br_if $spin (local.get $k)))
    (i64.atomic.store (i32.const 1032) (local.get $x)))
  (func (export "_start")
    (local $n i32)
    (call $write (i32.const 256) (i32.const 6))
    (loop $forever
      (call $spin)
      (local.set $n (i32.atomic.rmw.add (i32.const 1024) (i32.const 1)))
      (if (i32.ne (memory.atomic.wait32 (i32.const 1024) (i32.add (local.get $n) (i32.const 1))
                                        (i64.const 0))
                  (i32.const 2))
        (then unreachable))
      (if (memory.atomic.notify (i32.const 1024) (i32.const 1)) (then unreachable))
      (call $line (local.get $n))
      (br_if $forever (i32.lt_u (local.get $n) (i32.const 100000))))))
