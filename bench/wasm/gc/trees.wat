;; binary-trees (the Benchmarks Game's allocation benchmark) with WebAssembly GC structs:
;; for depths 4, 6, ..., max, build 2^(max - d + 4) trees of depth d and walk each; one
;; long-lived tree of depth max stays alive throughout. run(max) returns the number of
;; nodes checked (each tree walk counts its nodes).
(module
  (type $t (struct (field $l (ref null $t)) (field $r (ref null $t))))

  (func $make (param $d i32) (result (ref $t))
    (if (result (ref $t)) (i32.eqz (local.get $d))
      (then (struct.new $t (ref.null $t) (ref.null $t)))
      (else
        (struct.new $t
          (call $make (i32.sub (local.get $d) (i32.const 1)))
          (call $make (i32.sub (local.get $d) (i32.const 1)))))))

  (func $check (param $n (ref null $t)) (result i32)
    (local $l (ref null $t))
    (local.set $l (struct.get $t $l (local.get $n)))
    (if (result i32) (ref.is_null (local.get $l))
      (then (i32.const 1))
      (else
        (i32.add (i32.const 1)
          (i32.add (call $check (local.get $l))
                   (call $check (struct.get $t $r (local.get $n))))))))

  (func (export "run") (param $max i32) (result i64)
    (local $long (ref null $t)) (local $d i32) (local $i i32) (local $n i32) (local $sum i64)
    (local.set $sum (i64.extend_i32_u (call $check (call $make (i32.add (local.get $max) (i32.const 1))))))
    (local.set $long (call $make (local.get $max)))
    (local.set $d (i32.const 4))
    (block $done
      (loop $depths
        (br_if $done (i32.gt_s (local.get $d) (local.get $max)))
        (local.set $n (i32.shl (i32.const 1)
                        (i32.add (i32.sub (local.get $max) (local.get $d)) (i32.const 4))))
        (local.set $i (i32.const 0))
        (block $trees
          (loop $l
            (br_if $trees (i32.ge_u (local.get $i) (local.get $n)))
            (local.set $sum (i64.add (local.get $sum)
              (i64.extend_i32_u (call $check (call $make (local.get $d))))))
            (local.set $i (i32.add (local.get $i) (i32.const 1)))
            (br $l)))
        (local.set $d (i32.add (local.get $d) (i32.const 2)))
        (br $depths)))
    (i64.add (local.get $sum) (i64.extend_i32_u (call $check (local.get $long)))))
)
