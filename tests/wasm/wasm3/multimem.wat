;; Multiple memories (WebAssembly 3.0) for tests/wasm/suite.sh, run as text: accesses,
;; memory.size/grow/copy/fill/init and data segments on a memory other than 0, its own
;; bounds, and --max-memory over every memory.
(module
  (import "wasi_snapshot_preview1" "proc_exit" (func $exit (param i32)))
  (memory $a (export "memory") 1)
  (memory $b 1 2)
  (memory $c 0)
  (data (memory $b) (i32.const 100) "\01\02\03\04")
  (data $d "\aa\bb")

  ;; the data went to $b, not $a: b[100..103] = 1 2 3 4
  (func (export "seg") (result i32)
    (i32.add (i32.load $b (i32.const 100)) (i32.load $a (i32.const 100))))
  ;; a store to one memory leaves the other alone
  (func (export "store") (param i32) (result i64)
    (i64.store $b offset=8 (local.get 0) (i64.const 0x1122334455667788))
    (i64.add (i64.load $b offset=8 (local.get 0)) (i64.load $a offset=8 (local.get 0))))
  ;; a loop over memory $b (a translated caller's callee): sum of bytes 0..n
  (func $sum (param $n i32) (result i32) (local $i i32) (local $s i32)
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $i) (local.get $n)))
        (local.set $s (i32.add (local.get $s) (i32.load8_u $b (local.get $i))))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $next)))
    (local.get $s))
  (func (export "fill_sum") (param i32) (result i32)
    (memory.fill $b (i32.const 0) (i32.const 3) (local.get 0))
    (call $sum (local.get 0)))
  ;; copy between memories: a[200..204) = b[100..104)
  (func (export "copy") (result i32)
    (memory.copy $a $b (i32.const 200) (i32.const 100) (i32.const 4))
    (i32.load $a (i32.const 200)))
  (func (export "init") (result i32)
    (memory.init $b $d (i32.const 65534) (i32.const 0) (i32.const 2))
    (i32.load16_u $b (i32.const 65534)))
  (func (export "sizes") (result i32)
    (i32.add (i32.mul (memory.size $a) (i32.const 100))
             (i32.add (i32.mul (memory.size $b) (i32.const 10)) (memory.size $c))))
  (func (export "grow_b") (param i32) (result i32) (memory.grow $b (local.get 0)))
  (func (export "grow_c") (param i32) (result i32) (memory.grow $c (local.get 0)))
  ;; $b's bounds, not $a's
  (func (export "load_b") (param i32) (result i32) (i32.load $b (local.get 0)))
  (func (export "load_c") (param i32) (result i32) (i32.load8_u $c (local.get 0)))
  (func (export "_start"))
)
