;; Exception throw/catch benchmark (bench/wasm/exn/run): "throws" throws and catches an
;; exception n times, one call level down (the thrower is a separate function, so each
;; throw unwinds a frame); "calls" does the same loop with a plain return, the reference.
(module
  (tag $e (param i32))
  (func $thrower (param i32) (result i32) (throw $e (local.get 0)))
  (func $returner (param i32) (result i32) (local.get 0))
  (func (export "throws") (param $n i32) (result i32)
    (local $s i32)
    (loop $l
      (block $h (result i32)
        (try_table (result i32) (catch $e $h) (call $thrower (local.get $n))))
      (local.set $s (i32.add (local.get $s)))
      (br_if $l (local.tee $n (i32.sub (local.get $n) (i32.const 1)))))
    (local.get $s))
  (func (export "calls") (param $n i32) (result i32)
    (local $s i32)
    (loop $l
      (block $h (result i32)
        (try_table (result i32) (catch $e $h) (call $returner (local.get $n))))
      (local.set $s (i32.add (local.get $s)))
      (br_if $l (local.tee $n (i32.sub (local.get $n) (i32.const 1)))))
    (local.get $s)))
