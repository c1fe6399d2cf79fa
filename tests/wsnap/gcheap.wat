;; A WasmGC program whose state lives in the GC heap (tests/wsnap/suite.py, case_gc_heap):
;; besides what follows, an anyref table and a passive segment of objects (identity kept);
;; a ring of structs (a cycle) whose nodes are of a type and its subtype ($big, with an
;; i32 array and a byte array), a tree of anyref arrays holding nodes, i31s and arrays, a
;; boxed i31 in an externref global, and an exception (tag $e: an i32 and a node) kept as
;; an exnref in a local and in a global. Every step mutates all of it, churns garbage and
;; prints "step K SUM": SUM walks everything (ref.test/ref.cast/br_on_cast on the exact
;; types, throw_ref of both exnrefs). The steps spin in $spin, which keeps a reference
;; on its loop's operand stack while its callers keep others on theirs across the call.
;; argv[1] (any) makes it run 60 steps instead of 1000000, argv[2] (any) spin for 40 ms
;; at least (for translated code; the checksums are the same).
(module
  (import "wasi_snapshot_preview1" "fd_write"
    (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "args_sizes_get"
    (func $args_sizes_get (param i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "clock_time_get"
    (func $clock (param i32 i64 i32) (result i32)))
  (type $ints (array (mut i32)))
  (type $bytes (array (mut i8)))
  (rec
    (type $node (sub (struct (field $v (mut i64)) (field $next (mut (ref null $node)))
                             (field $tag (mut anyref)))))
    (type $big (sub final $node (struct (field $v (mut i64)) (field $next (mut (ref null $node)))
                                        (field $tag (mut anyref))
                                        (field $arr (ref $ints)) (field $b (ref $bytes))))))
  (type $refs (array (mut anyref)))
  (tag $e (param i32 (ref null $node)))
  (memory (export "memory") 1)
  (global $ring (mut (ref null $node)) (ref.null $node))
  (global $tree (mut (ref null $refs)) (ref.null $refs))
  (global $ext (mut externref) (ref.null extern))
  (global $gexn (mut exnref) (ref.null exn))
  (global $ns (mut i64) (i64.const 0))
  (data (i32.const 256) "step ")
  ;; a table of anyref (a node, an i31) and a passive segment of objects whose identity
  ;; a restore keeps: $seg0 holds an array made from it at the start
  (table $tab 4 anyref)
  (elem $objs anyref (item (struct.new $node (i64.const 11) (ref.null $node) (ref.i31 (i32.const 3))))
                     (item (ref.i31 (i32.const 21))))
  (global $seg0 (mut (ref null $refs)) (ref.null $refs))

  ;; n rounds of nothing, again until $ns nanoseconds passed if $ns is set; the
  ;; reference stays on the loop's operand stack
  (func $spin (param $keep anyref) (param $n i32) (result anyref)
    (local $i i32) (local $t anyref) (local $t0 i64)
    (local.set $t0 (call $now))
    (local.get $keep)
    (loop $l (param anyref) (result anyref)
      (local.set $t)
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (if (i32.ge_u (local.get $i) (local.get $n))
        (then (if (i64.lt_u (i64.sub (call $now) (local.get $t0)) (global.get $ns))
          (then (local.set $i (i32.const 0))))))
      (local.get $t)
      (br_if $l (i32.lt_u (local.get $i) (local.get $n)))))

  (func $now (result i64)
    (drop (call $clock (i32.const 1) (i64.const 1000) (i32.const 24)))
    (i64.load (i32.const 24)))

  ;; a digit string of v at 512.., its length
  (func $digits (param $v i64) (param $at i32) (result i32)
    (local $len i32) (local $m i64) (local $i i32)
    (local.set $m (local.get $v))
    (local.set $len (i32.const 1))
    (block $done
      (loop $count
        (br_if $done (i64.lt_u (local.get $m) (i64.const 10)))
        (local.set $m (i64.div_u (local.get $m) (i64.const 10)))
        (local.set $len (i32.add (local.get $len) (i32.const 1)))
        (br $count)))
    (local.set $i (local.get $len))
    (local.set $m (local.get $v))
    (loop $digit
      (local.set $i (i32.sub (local.get $i) (i32.const 1)))
      (i32.store8 (i32.add (local.get $at) (local.get $i))
        (i32.wrap_i64 (i64.add (i64.const 48) (i64.rem_u (local.get $m) (i64.const 10)))))
      (local.set $m (i64.div_u (local.get $m) (i64.const 10)))
      (br_if $digit (local.get $i)))
    (local.get $len))

  ;; "step K SUM\n"
  (func $print (param $k i32) (param $sum i64)
    (local $p i32)
    (local.set $p (i32.add (i32.const 261)
      (call $digits (i64.extend_i32_u (local.get $k)) (i32.const 261))))
    (i32.store8 (local.get $p) (i32.const 32))
    (local.set $p (i32.add (local.get $p) (i32.const 1)))
    (local.set $p (i32.add (local.get $p) (call $digits (local.get $sum) (local.get $p))))
    (i32.store8 (local.get $p) (i32.const 10))
    (i32.store (i32.const 0) (i32.const 256))
    (i32.store (i32.const 4) (i32.sub (i32.add (local.get $p) (i32.const 1)) (i32.const 256)))
    (drop (call $fd_write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 8))))

  (func $mkbig (param $v i64) (param $n i32) (result (ref $big))
    (struct.new $big (local.get $v) (ref.null $node) (ref.i31 (local.get $n))
      (array.new $ints (local.get $n) (local.get $n))
      (array.new $bytes (local.get $n) (i32.add (local.get $n) (i32.const 200)))))

  ;; the ring of n nodes (every third a $big), closed into a cycle
  (func $mkring (param $n i32) (result (ref $node))
    (local $first (ref null $node)) (local $last (ref null $node)) (local $x (ref null $node))
    (local $i i32)
    (loop $l
      (if (i32.rem_u (local.get $i) (i32.const 3))
        (then (local.set $x (struct.new $node (i64.extend_i32_u (local.get $i)) (ref.null $node)
                              (ref.i31 (i32.mul (local.get $i) (i32.const 7))))))
        (else (local.set $x (call $mkbig (i64.extend_i32_u (local.get $i))
                              (i32.add (local.get $i) (i32.const 1))))))
      (if (ref.is_null (local.get $first))
        (then (local.set $first (local.get $x)))
        (else (struct.set $node $next (local.get $last) (local.get $x))))
      (local.set $last (local.get $x))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br_if $l (i32.lt_u (local.get $i) (local.get $n))))
    (struct.set $node $next (local.get $last) (local.get $first))
    (ref.as_non_null (local.get $first)))

  ;; a tree of anyref arrays, depth d: leaves are i31s and ring nodes
  (func $mktree (param $d i32) (param $seed i32) (result (ref $refs))
    (local $a (ref null $refs)) (local $i i32)
    (local.set $a (array.new_default $refs (i32.const 3)))
    (loop $l
      (if (local.get $d)
        (then (array.set $refs (local.get $a) (local.get $i)
                (call $mktree (i32.sub (local.get $d) (i32.const 1))
                  (i32.add (i32.mul (local.get $seed) (i32.const 3)) (local.get $i)))))
        (else (if (i32.and (local.get $i) (i32.const 1))
          (then (array.set $refs (local.get $a) (local.get $i) (global.get $ring)))
          (else (array.set $refs (local.get $a) (local.get $i)
                  (ref.i31 (i32.add (local.get $seed) (local.get $i))))))))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br_if $l (i32.lt_u (local.get $i) (i32.const 3))))
    (ref.as_non_null (local.get $a)))

  (func $sum_node (param $x (ref null $node)) (result i64)
    (local $s i64) (local $b (ref null $big)) (local $i i32)
    (if (ref.is_null (local.get $x)) (then (return (i64.const 1))))
    (local.set $s (i64.add (struct.get $node $v (local.get $x))
      (i64.extend_i32_u (i31.get_u (ref.cast (ref i31) (struct.get $node $tag (local.get $x)))))))
    (drop (block $notbig (result (ref null $node))
      (local.set $b (br_on_cast_fail $notbig (ref null $node) (ref $big) (local.get $x)))
      (local.set $s (i64.add (local.get $s) (i64.const 1000000)))
      (loop $l
        (local.set $s (i64.add (local.get $s) (i64.extend_i32_u
          (array.get $ints (struct.get $big $arr (local.get $b)) (local.get $i)))))
        (local.set $s (i64.add (local.get $s) (i64.extend_i32_u
          (array.get_u $bytes (struct.get $big $b (local.get $b)) (local.get $i)))))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br_if $l (i32.lt_u (local.get $i) (array.len (struct.get $big $arr (local.get $b))))))
      (ref.null $node)))
    (local.get $s))

  (func $sum_tree (param $t anyref) (result i64)
    (local $a (ref null $refs)) (local $i i32) (local $s i64)
    (if (ref.test (ref i31) (local.get $t))
      (then (return (i64.extend_i32_u (i31.get_u (ref.cast (ref i31) (local.get $t)))))))
    (if (ref.test (ref $node) (local.get $t))
      (then (return (i64.add (i64.const 5) (call $sum_node (ref.cast (ref $node) (local.get $t)))))))
    (local.set $a (ref.cast (ref $refs) (local.get $t)))
    (loop $l
      (local.set $s (i64.add (i64.mul (local.get $s) (i64.const 3))
        (call $sum_tree (array.get $refs (local.get $a) (local.get $i)))))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br_if $l (i32.lt_u (local.get $i) (array.len (local.get $a)))))
    (local.get $s))

  ;; the payload of exception x: its i32 times 7 plus its node's sum
  (func $sum_exn (param $x exnref) (result i64)
    (local $n (ref null $node))
    (block $h (result i32 (ref null $node))
      (try_table (catch $e $h) (throw_ref (local.get $x)))
      (unreachable))
    (local.set $n)
    (i64.add (i64.mul (i64.extend_i32_u) (i64.const 7)) (call $sum_node (local.get $n))))

  (func $sum_ring (param $r (ref null $node)) (result i64)
    (local $s i64) (local $p (ref null $node))
    (local.set $p (local.get $r))
    (loop $l
      (local.set $s (i64.add (i64.mul (local.get $s) (i64.const 31)) (call $sum_node (local.get $p))))
      (local.set $p (struct.get $node $next (local.get $p)))
      (br_if $l (i32.eqz (ref.eq (local.get $p) (local.get $r)))))
    (local.get $s))

  ;; every node's v += k, a $big's arrays too
  (func $mutate (param $k i32)
    (local $p (ref null $node)) (local $b (ref null $big))
    (local.set $p (global.get $ring))
    (loop $l
      (struct.set $node $v (local.get $p)
        (i64.add (struct.get $node $v (local.get $p)) (i64.extend_i32_u (local.get $k))))
      (if (ref.test (ref $big) (local.get $p))
        (then
          (local.set $b (ref.cast (ref $big) (local.get $p)))
          (array.set $ints (struct.get $big $arr (local.get $b)) (i32.const 0) (local.get $k))
          (array.set $bytes (struct.get $big $b (local.get $b)) (i32.const 1)
            (i32.mul (local.get $k) (i32.const 3)))))
      (local.set $p (struct.get $node $next (local.get $p)))
      (br_if $l (i32.eqz (ref.eq (local.get $p) (global.get $ring)))))
    ;; the ring turns by one; a tree leaf is replaced
    (global.set $ring (struct.get $node $next (global.get $ring)))
    (array.set $refs (ref.cast (ref $refs) (array.get $refs (global.get $tree) (i32.const 1)))
      (i32.const 0) (ref.i31 (local.get $k))))

  (func $churn (param $n i32)
    (local $i i32)
    (loop $l
      (drop (struct.new $node (i64.const 0) (ref.null $node) (ref.i31 (local.get $i))))
      (drop (array.new_default $ints (i32.const 20)))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br_if $l (i32.lt_u (local.get $i) (local.get $n)))))

  ;; the table's node and i31, and whether the segment's object is still the one $seg0
  ;; got (identity), times 1000
  (func $sum_more (result i64)
    (i64.add
      (i64.add (call $sum_node (ref.cast (ref null $node) (table.get $tab (i32.const 0))))
        (i64.extend_i32_u (i31.get_u (ref.cast (ref i31) (table.get $tab (i32.const 1))))))
      (i64.mul (i64.const 1000)
        (i64.extend_i32_u (ref.eq
          (ref.cast (ref eq) (array.get $refs (array.new_elem $refs $objs (i32.const 0) (i32.const 1))
            (i32.const 0)))
          (ref.cast (ref eq) (array.get $refs (global.get $seg0) (i32.const 0))))))))

  (func (export "_start")
    (local $x exnref) (local $k i32) (local $steps i32) (local $s i64)
    (local.set $steps (i32.const 1000000))
    (drop (call $args_sizes_get (i32.const 16) (i32.const 20)))
    (if (i32.gt_u (i32.load (i32.const 16)) (i32.const 1))
      (then (local.set $steps (i32.const 60))))
    (if (i32.gt_u (i32.load (i32.const 16)) (i32.const 2))
      (then (global.set $ns (i64.const 40000000))))
    (global.set $ring (call $mkring (i32.const 40)))
    (global.set $tree (call $mktree (i32.const 3) (i32.const 1)))
    (global.set $ext (extern.convert_any (ref.i31 (i32.const 77))))
    (table.set $tab (i32.const 0) (struct.get $node $next (global.get $ring)))
    (table.set $tab (i32.const 1) (ref.i31 (i32.const 500)))
    (global.set $seg0 (array.new_elem $refs $objs (i32.const 0) (i32.const 2)))
    (local.set $x
      (block $h (result exnref)
        (try_table (catch_all_ref $h)
          (throw $e (i32.const 5) (struct.get $node $next (global.get $ring))))
        (unreachable)))
    (global.set $gexn
      (block $h2 (result exnref)
        (try_table (catch_all_ref $h2)
          (throw $e (i32.const 9) (global.get $ring)))
        (unreachable)))
    (loop $step
      (call $mutate (local.get $k))
      (call $churn (i32.const 300))
      ;; the caller's operands hold references across each call
      (local.set $s
        (i64.add
          (call $sum_tree (call $spin (global.get $tree) (i32.const 60000)))
          (i64.add
            (call $sum_ring (ref.cast (ref null $node) (call $spin (global.get $ring) (i32.const 60000))))
            (i64.add (call $sum_exn (local.get $x))
              (i64.add (call $sum_exn (global.get $gexn))
                (i64.add (call $sum_more)
                  (i64.extend_i32_u (i31.get_u (ref.cast (ref i31)
                    (any.convert_extern (global.get $ext)))))))))))
      (call $print (local.get $k) (local.get $s))
      (local.set $k (i32.add (local.get $k) (i32.const 1)))
      (br_if $step (i32.lt_u (local.get $k) (local.get $steps))))))
