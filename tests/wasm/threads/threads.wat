;; wasi-threads test program for tests/wasm/suite.sh (run as text). As a program built for
;; wasm32-wasi-threads is: it imports its shared memory and ("wasi" "thread-spawn"), and
;; each spawned thread enters wasi_thread_start(tid, start_arg) in an instance of its own.
;; _start reads what to do from the first byte of argv[1]:
;;   c  N threads each add 1000 to a shared counter with atomics; the main thread waits
;;      (memory.atomic.wait32) until all have finished (a count they increment and
;;      notify), then prints the counter: "counter 8000" for 8 threads; every tid must be
;;      positive and unique (else "bad tid")
;;   o  each of 4 threads writes a line "thread K" (K its start_arg); the main thread
;;      joins them and prints "joined"
;;   t  a thread traps (unreachable) while the main thread waits forever
;;   x  a thread calls proc_exit(7) while the main thread waits forever
;;   m  spawns until thread-spawn fails (threads park in a wait), prints how many started
;;   s  a thread sleeps in poll_oneoff while the main one writes: both finish
;;   f  4 threads each open, write and close a file of their own 200 times at once (one
;;      fd table for all: with a --dir preopen as fd 3), then "files"
;;   w  a thread and the main thread wait forever (for --timeout)
;;   r  300 threads one after another, each joined before the next starts: "started 300"
;;      (ended threads are freed, so their stores do not use up --max-memory)
(module
  (import "env" "memory" (memory 1 1 shared))
  (import "wasi" "thread-spawn" (func $spawn (param i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "proc_exit" (func $exit (param i32)))
  (import "wasi_snapshot_preview1" "args_get" (func $args_get (param i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "poll_oneoff" (func $poll (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "path_open"
    (func $path_open (param i32 i32 i32 i32 i32 i64 i64 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_close" (func $fd_close (param i32) (result i32)))
  ;; memory: 0 counter, 4 finished count, 8 mode, 12 never-changing word (waits),
  ;; 64.. tids seen (bitmap of tid < 256), 512 argv pointers, 1024 argv strings,
  ;; 2048 output buffer (per thread: 2048 + 32 * arg), 4000 iovecs (per thread: +8*arg)
  ;; 5000 poll subscription, 5104 event (8-aligned, as WASI wants), 5200 nevents, 5300 file names (per thread +8*arg),
;; 5400 opened fds (+4*arg), 5500 "x"

  (func $print (param $ptr i32) (param $len i32) (param $slot i32)
    (local $iov i32)
    (local.set $iov (i32.add (i32.const 4000) (i32.mul (local.get $slot) (i32.const 16))))
    (i32.store (local.get $iov) (local.get $ptr))
    (i32.store offset=4 (local.get $iov) (local.get $len))
    (drop (call $fd_write (i32.const 1) (local.get $iov) (i32.const 1)
      (i32.add (local.get $iov) (i32.const 8)))))

  ;; writes "<prefix> <n>\n" at buf (prefix given as ptr/len) and prints it
  (func $print_num (param $pre i32) (param $plen i32) (param $n i32) (param $slot i32)
    (local $buf i32) (local $p i32) (local $digits i32) (local $k i32)
    (local.set $buf (i32.add (i32.const 2048) (i32.mul (local.get $slot) (i32.const 32))))
    (memory.copy (local.get $buf) (local.get $pre) (local.get $plen))
    (local.set $p (i32.add (local.get $buf) (local.get $plen)))
    (i32.store8 (local.get $p) (i32.const 32))
    (local.set $p (i32.add (local.get $p) (i32.const 1)))
    ;; count digits
    (local.set $k (local.get $n))
    (local.set $digits (i32.const 1))
    (block $d (loop $l
      (br_if $d (i32.lt_u (local.get $k) (i32.const 10)))
      (local.set $k (i32.div_u (local.get $k) (i32.const 10)))
      (local.set $digits (i32.add (local.get $digits) (i32.const 1)))
      (br $l)))
    (local.set $k (local.get $digits))
    (loop $w
      (local.set $k (i32.sub (local.get $k) (i32.const 1)))
      (i32.store8 (i32.add (local.get $p) (local.get $k))
        (i32.add (i32.const 48) (i32.rem_u (local.get $n) (i32.const 10))))
      (local.set $n (i32.div_u (local.get $n) (i32.const 10)))
      (br_if $w (local.get $k)))
    (local.set $p (i32.add (local.get $p) (local.get $digits)))
    (i32.store8 (local.get $p) (i32.const 10))
    (call $print (local.get $buf)
      (i32.sub (i32.add (local.get $p) (i32.const 1)) (local.get $buf)) (local.get $slot)))

  ;; passive, as wasi-libc's: copied once by _start, not by every thread's instance
  (data $str "counter\00\00\00thread\00\00\00\00joined\0a\00\00\00bad tid\0a\00\00started\00\00\00slept\0a\00\00\00\00main\0a\00\00\00\00\00files\0a\00\00\00\00")

  ;; the main thread waits until the finished count reaches n
  (func $join (param $n i32)
    (local $seen i32)
    (loop $l
      (local.set $seen (i32.atomic.load (i32.const 4)))
      (if (i32.lt_u (local.get $seen) (local.get $n))
        (then
          (drop (memory.atomic.wait32 (i32.const 4) (local.get $seen) (i64.const -1)))
          (br $l)))))

  (func $finished
    (drop (i32.atomic.rmw.add (i32.const 4) (i32.const 1)))
    (drop (memory.atomic.notify (i32.const 4) (i32.const -1))))

  (func $wait_forever
    (loop $l
      (drop (memory.atomic.wait32 (i32.const 12) (i32.const 0) (i64.const -1)))
      (br $l)))

  (func $check_tid (param $tid i32)
    (local $bit i32)
    (if (i32.or (i32.le_s (local.get $tid) (i32.const 0)) (i32.ge_u (local.get $tid) (i32.const 256)))
      (then (call $print (i32.const 1530) (i32.const 8) (i32.const 0)) (call $exit (i32.const 3))))
    (local.set $bit (i32.shl (i32.const 1) (i32.and (local.get $tid) (i32.const 31))))
    (if (i32.and (local.get $bit)
          (i32.atomic.rmw.or (i32.add (i32.const 64) (i32.shl (i32.shr_u (local.get $tid) (i32.const 5)) (i32.const 2)))
            (local.get $bit)))
      (then (call $print (i32.const 1530) (i32.const 8) (i32.const 0)) (call $exit (i32.const 3)))))

  (func (export "wasi_thread_start") (param $tid i32) (param $arg i32)
    (local $i i32) (local $mode i32)
    (local.set $mode (i32.atomic.load (i32.const 8)))
    (if (i32.eq (local.get $mode) (i32.const 99)) ;; c
      (then
        (loop $l
          (drop (i32.atomic.rmw.add (i32.const 0) (i32.const 1)))
          (local.set $i (i32.add (local.get $i) (i32.const 1)))
          (br_if $l (i32.lt_u (local.get $i) (i32.const 1000))))
        (call $finished)
        (return)))
    (if (i32.eq (local.get $mode) (i32.const 111)) ;; o
      (then
        (call $print_num (i32.const 1510) (i32.const 6) (local.get $arg) (local.get $arg))
        (call $finished)
        (return)))
    (if (i32.eq (local.get $mode) (i32.const 116)) ;; t
      (then unreachable))
    (if (i32.eq (local.get $mode) (i32.const 120)) ;; x
      (then (call $exit (i32.const 7))))
    (if (i32.eq (local.get $mode) (i32.const 115)) ;; s: sleep 50 ms in poll_oneoff
      (then
        (i64.store (i32.add (i32.const 5000) (i32.const 24)) (i64.const 50000000))
        (drop (call $poll (i32.const 5000) (i32.const 5104) (i32.const 1) (i32.const 5200)))
        (call $print (i32.const 1550) (i32.const 6) (i32.const 1))
        (call $finished)
        (return)))
    (if (i32.eq (local.get $mode) (i32.const 114)) ;; r
      (then (call $finished) (return)))
    (if (i32.eq (local.get $mode) (i32.const 102)) ;; f
      (then
        (i32.store8 (i32.add (i32.const 5300) (i32.shl (local.get $arg) (i32.const 3))) (i32.const 102))
        (i32.store8 (i32.add (i32.const 5301) (i32.shl (local.get $arg) (i32.const 3)))
          (i32.add (i32.const 48) (local.get $arg)))
        (loop $l
          (if (call $path_open (i32.const 3) (i32.const 0)
                (i32.add (i32.const 5300) (i32.shl (local.get $arg) (i32.const 3))) (i32.const 2)
                (i32.const 9) (i64.const 64) (i64.const 0) (i32.const 0)
                (i32.add (i32.const 5400) (i32.shl (local.get $arg) (i32.const 2))))
            (then (call $exit (i32.const 4))))
          (i32.store (i32.add (i32.const 4000) (i32.shl (local.get $arg) (i32.const 4))) (i32.const 5500))
          (i32.store (i32.add (i32.const 4004) (i32.shl (local.get $arg) (i32.const 4))) (i32.const 1))
          (if (call $fd_write (i32.load (i32.add (i32.const 5400) (i32.shl (local.get $arg) (i32.const 2))))
                (i32.add (i32.const 4000) (i32.shl (local.get $arg) (i32.const 4))) (i32.const 1)
                (i32.add (i32.const 4008) (i32.shl (local.get $arg) (i32.const 4))))
            (then (call $exit (i32.const 5))))
          (if (call $fd_close (i32.load (i32.add (i32.const 5400) (i32.shl (local.get $arg) (i32.const 2)))))
            (then (call $exit (i32.const 6))))
          (local.set $i (i32.add (local.get $i) (i32.const 1)))
          (br_if $l (i32.lt_u (local.get $i) (i32.const 200))))
        (call $finished)
        (return)))
    ;; m, w: stay
    (call $wait_forever))

  (func (export "_start")
    (local $mode i32) (local $i i32) (local $tid i32) (local $n i32)
    (memory.init $str (i32.const 1500) (i32.const 0) (i32.const 80))
    (drop (call $args_get (i32.const 512) (i32.const 1024)))
    (local.set $mode (i32.load8_u (i32.load (i32.const 516))))
    (i32.atomic.store (i32.const 8) (local.get $mode))
    (if (i32.eq (local.get $mode) (i32.const 99))
      (then
        (loop $l
          (local.set $tid (call $spawn (local.get $i)))
          (call $check_tid (local.get $tid))
          (local.set $i (i32.add (local.get $i) (i32.const 1)))
          (br_if $l (i32.lt_u (local.get $i) (i32.const 8))))
        (call $join (i32.const 8))
        (call $print_num (i32.const 1500) (i32.const 7) (i32.atomic.load (i32.const 0)) (i32.const 0))
        (return)))
    (if (i32.eq (local.get $mode) (i32.const 111))
      (then
        (loop $l
          (local.set $i (i32.add (local.get $i) (i32.const 1)))
          (call $check_tid (call $spawn (local.get $i)))
          (br_if $l (i32.lt_u (local.get $i) (i32.const 4))))
        (call $join (i32.const 4))
        (call $print (i32.const 1520) (i32.const 7) (i32.const 0))
        (return)))
    (if (i32.eq (local.get $mode) (i32.const 109)) ;; m
      (then
        (block $full (loop $l
          (br_if $full (i32.lt_s (call $spawn (i32.const 0)) (i32.const 0)))
          (local.set $n (i32.add (local.get $n) (i32.const 1)))
          (br_if $l (i32.lt_u (local.get $n) (i32.const 10000)))))
        (call $print_num (i32.const 1540) (i32.const 7) (local.get $n) (i32.const 0))
        (return)))
    (if (i32.eq (local.get $mode) (i32.const 77)) ;; M: as m, then 10 more spawns, all -1
      (then
        (block $full (loop $l
          (br_if $full (i32.lt_s (call $spawn (i32.const 0)) (i32.const 0)))
          (local.set $n (i32.add (local.get $n) (i32.const 1)))
          (br_if $l (i32.lt_u (local.get $n) (i32.const 10000)))))
        (loop $again
          (if (i32.ge_s (call $spawn (i32.const 0)) (i32.const 0)) (then (unreachable)))
          (local.set $i (i32.add (local.get $i) (i32.const 1)))
          (br_if $again (i32.lt_u (local.get $i) (i32.const 10))))
        (call $print_num (i32.const 1540) (i32.const 7) (local.get $n) (i32.const 0))
        (return)))
    (if (i32.eq (local.get $mode) (i32.const 102)) ;; f
      (then
        (i32.store8 (i32.const 5500) (i32.const 120))
        (loop $l
          (local.set $i (i32.add (local.get $i) (i32.const 1)))
          (call $check_tid (call $spawn (local.get $i)))
          (br_if $l (i32.lt_u (local.get $i) (i32.const 4))))
        (call $join (i32.const 4))
        (call $print (i32.const 1570) (i32.const 6) (i32.const 0))
        (return)))
    (if (i32.eq (local.get $mode) (i32.const 114)) ;; r
      (then
        (block $full (loop $l
          (br_if $full (i32.lt_s (call $spawn (i32.const 0)) (i32.const 0)))
          (local.set $n (i32.add (local.get $n) (i32.const 1)))
          (call $join (local.get $n))
          (br_if $l (i32.lt_u (local.get $n) (i32.const 300)))))
        (call $print_num (i32.const 1540) (i32.const 7) (local.get $n) (i32.const 0))
        (return)))
    (if (i32.eq (local.get $mode) (i32.const 115)) ;; s
      (then
        (call $check_tid (call $spawn (i32.const 0)))
        (call $print (i32.const 1560) (i32.const 5) (i32.const 0))
        (call $join (i32.const 1))
        (return)))
    ;; t, x: a thread ends the program
    (call $check_tid (call $spawn (i32.const 0)))
    (call $wait_forever))
)
