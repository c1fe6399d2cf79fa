;; br_on_null back to its loop is a loop back-edge: it counts fuel (suite.sh
;; typed-br-on-null-loop-fuel)
(module
  (global $none (mut funcref) (ref.null func))
  (func (export "spin_on_null") (result i32)
    (loop $l
      (br_on_null $l (global.get $none))
      (drop))
    (i32.const 0)))
