;; 3.0 text forms (tests/wasm/suite.sh): annotations anywhere a token may be, which the
;; front end checks and drops, and $"..." identifiers, the same identifier as the plain
;; form with those characters. f returns 7 through $"f g", $"f\20g" and $fg.
(module (@name "x") (@custom "x" (after func) "\00")
  (func $"f g" (result i32) (@a (x) "y" $z) (i32.const 7))
  (func $fg (result i32) (call $"f\20g"))
  (func (export "f") (@b) (result i32) (block $"l" (result i32) (call $"\u{66}g") (br $l)))
)
