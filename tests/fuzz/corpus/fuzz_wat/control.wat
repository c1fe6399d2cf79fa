(module
  (func $f (export "f") (param $n i32) (result i32)
    (local $acc i32)
    (block $done (result i32)
      (loop $top
        (br_if $done (local.get $acc) (i32.eqz (local.get $n)))
        (local.set $acc (i32.add (local.get $acc) (local.get $n)))
        (local.set $n (i32.sub (local.get $n) (i32.const 1)))
        (br $top))
      (unreachable)))
  (func (param i32) (result i32)
    block $a (result i32)
      block $b
        local.get 0
        br_table $a $b 0
      end $b
      i32.const 1
    end $a)
  (func (result f32)
    (if (result f32) (i32.const 1)
      (then (f32.const inf))
      (else (f32.const -nan:0x200000))))
  (func (param i32) (result i32 i32)
    i32.const 1
    local.get 0
    if $l (param i32) (result i32 i32)
      i32.const 2
    else $l
      i32.const 3
    end $l)
  (func (result i32) (select (result i32) (i32.const 1) (i32.const 2) (i32.const 0))))
