;; A wasi-threads program for tests/wsnap/suite.py: the main thread spawns one thread and
;; both print a numbered line every 5 ms for ever ("main N", "thread N"), sleeping in
;; poll_oneoff between lines. Pausing the program must stop both; a snapshot of it is
;; refused (more than one thread); resuming lets both go on.
(module
  (import "env" "memory" (memory 1 1 shared))
  (import "wasi" "thread-spawn" (func $spawn (param i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "poll_oneoff" (func $poll (param i32 i32 i32 i32) (result i32)))
  ;; per caller k (0 main, 1 thread): buffer at 1024 + 64k, iovec 2048 + 16k, poll
  ;; subscription 3072 + 128k (event at +64, count at +96)
  (data $main "main ")
  (data $thread "thread ")

  (func $line (param $k i32) (param $n i32)
    (local $buf i32) (local $p i32) (local $digits i32) (local $m i32) (local $iov i32)
    (local.set $buf (i32.add (i32.const 1024) (i32.shl (local.get $k) (i32.const 6))))
    (local.set $p (local.get $buf))
    (if (local.get $k)
      (then (memory.init $thread (local.get $p) (i32.const 0) (i32.const 7))
            (local.set $p (i32.add (local.get $p) (i32.const 7))))
      (else (memory.init $main (local.get $p) (i32.const 0) (i32.const 5))
            (local.set $p (i32.add (local.get $p) (i32.const 5)))))
    (local.set $m (local.get $n))
    (local.set $digits (i32.const 1))
    (block $d (loop $l
      (br_if $d (i32.lt_u (local.get $m) (i32.const 10)))
      (local.set $m (i32.div_u (local.get $m) (i32.const 10)))
      (local.set $digits (i32.add (local.get $digits) (i32.const 1)))
      (br $l)))
    (local.set $m (local.get $digits))
    (loop $w
      (local.set $m (i32.sub (local.get $m) (i32.const 1)))
      (i32.store8 (i32.add (local.get $p) (local.get $m))
        (i32.add (i32.const 48) (i32.rem_u (local.get $n) (i32.const 10))))
      (local.set $n (i32.div_u (local.get $n) (i32.const 10)))
      (br_if $w (local.get $m)))
    (local.set $p (i32.add (local.get $p) (local.get $digits)))
    (i32.store8 (local.get $p) (i32.const 10))
    (local.set $iov (i32.add (i32.const 2048) (i32.shl (local.get $k) (i32.const 4))))
    (i32.store (local.get $iov) (local.get $buf))
    (i32.store offset=4 (local.get $iov) (i32.sub (i32.add (local.get $p) (i32.const 1)) (local.get $buf)))
    (drop (call $fd_write (i32.const 1) (local.get $iov) (i32.const 1) (i32.add (local.get $iov) (i32.const 8)))))

  (func $sleep (param $k i32)
    (local $s i32)
    (local.set $s (i32.add (i32.const 3072) (i32.shl (local.get $k) (i32.const 7))))
    (i64.store offset=24 (local.get $s) (i64.const 5000000))
    (drop (call $poll (local.get $s) (i32.add (local.get $s) (i32.const 64)) (i32.const 1)
      (i32.add (local.get $s) (i32.const 96)))))

  (func $run (param $k i32)
    (local $n i32)
    (loop $l
      (call $line (local.get $k) (local.get $n))
      (local.set $n (i32.add (local.get $n) (i32.const 1)))
      (call $sleep (local.get $k))
      (br $l)))

  (func (export "wasi_thread_start") (param i32 i32) (call $run (i32.const 1)))
  (func (export "_start")
    (drop (call $spawn (i32.const 0)))
    (call $run (i32.const 0)))
)
