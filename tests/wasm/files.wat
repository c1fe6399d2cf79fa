;; WASI file-system test for tests/wasm/suite.sh, run with --dir DIR::/sandbox.
;; Exits 0 when every check passed, else with the number of the first failed check.
(module
  (import "wasi_snapshot_preview1" "path_open"
    (func $open (param i32 i32 i32 i32 i32 i64 i64 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_write" (func $write (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_read" (func $read (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_close" (func $close (param i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_prestat_get" (func $prestat (param i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_prestat_dir_name" (func $prename (param i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "path_create_directory" (func $mkdir (param i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "path_unlink_file" (func $unlink (param i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "path_filestat_get" (func $stat (param i32 i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "proc_exit" (func $exit (param i32)))
  (memory (export "memory") 1)
  (data (i32.const 100) "out.txt")          ;; 7
  (data (i32.const 120) "../escape.txt")    ;; 13
  (data (i32.const 140) "/etc/passwd")      ;; 11
  (data (i32.const 160) "link/passwd")      ;; 11
  (data (i32.const 180) "sub/../../x")      ;; 11
  (data (i32.const 200) "sub")              ;; 3
  (data (i32.const 220) "data!")            ;; 5
  (data (i32.const 240) "uplink")           ;; 6
  (func $check (param $ok i32) (param $n i32)
    (if (i32.eqz (local.get $ok)) (then (call $exit (local.get $n)))))
  ;; path_open(dir 3, path, len, oflags, rights) -> errno; new fd at 300
  (func $popen (param $p i32) (param $len i32) (param $of i32) (result i32)
    (call $open (i32.const 3) (i32.const 0) (local.get $p) (local.get $len) (local.get $of)
      (i64.const 0x42) (i64.const 0) (i32.const 0) (i32.const 300)))
  (func (export "_start") (local $fd i32)
    ;; 1: fd 3 is a preopen named "/sandbox"
    (call $check (i32.eqz (call $prestat (i32.const 3) (i32.const 400))) (i32.const 1))
    (call $check (i32.eq (i32.load (i32.const 404)) (i32.const 8)) (i32.const 2))
    (drop (call $prename (i32.const 3) (i32.const 410) (i32.const 8)))
    (call $check (i32.eq (i32.load8_u (i32.const 411)) (i32.const 0x73)) (i32.const 3))
    ;; 4: create and write out.txt
    (call $check (i32.eqz (call $popen (i32.const 100) (i32.const 7) (i32.const 9))) (i32.const 4))
    (local.set $fd (i32.load (i32.const 300)))
    (i32.store (i32.const 0) (i32.const 220))
    (i32.store (i32.const 4) (i32.const 5))
    (call $check (i32.eqz (call $write (local.get $fd) (i32.const 0) (i32.const 1) (i32.const 8))) (i32.const 5))
    (call $check (i32.eq (i32.load (i32.const 8)) (i32.const 5)) (i32.const 6))
    (drop (call $close (local.get $fd)))
    ;; 7: read it back
    (call $check (i32.eqz (call $popen (i32.const 100) (i32.const 7) (i32.const 0))) (i32.const 7))
    (local.set $fd (i32.load (i32.const 300)))
    (i32.store (i32.const 0) (i32.const 500))
    (i32.store (i32.const 4) (i32.const 64))
    (call $check (i32.eqz (call $read (local.get $fd) (i32.const 0) (i32.const 1) (i32.const 8))) (i32.const 8))
    (call $check (i32.eq (i32.load (i32.const 8)) (i32.const 5)) (i32.const 9))
    (call $check (i32.eq (i32.load8_u (i32.const 504)) (i32.const 0x21)) (i32.const 10))
    (drop (call $close (local.get $fd)))
    ;; 11-14: escapes are refused with ENOTCAPABLE (76)
    (call $check (i32.eq (call $popen (i32.const 120) (i32.const 13) (i32.const 1)) (i32.const 76)) (i32.const 11))
    (call $check (i32.eq (call $popen (i32.const 140) (i32.const 11) (i32.const 0)) (i32.const 76)) (i32.const 12))
    (call $check (i32.eq (call $popen (i32.const 160) (i32.const 11) (i32.const 0)) (i32.const 76)) (i32.const 13))
    (call $check (i32.eqz (call $mkdir (i32.const 3) (i32.const 200) (i32.const 3))) (i32.const 14))
    (call $check (i32.eq (call $popen (i32.const 180) (i32.const 11) (i32.const 1)) (i32.const 76)) (i32.const 15))
    ;; 16: a symlink to the outside ("uplink" -> "..") cannot be followed
    (call $check (i32.eq (call $stat (i32.const 3) (i32.const 1) (i32.const 240) (i32.const 6) (i32.const 600)) (i32.const 76)) (i32.const 16))
    ;; 17: unlink works inside
    (call $check (i32.eqz (call $unlink (i32.const 3) (i32.const 100) (i32.const 7))) (i32.const 17))
    (call $exit (i32.const 0)))
)
