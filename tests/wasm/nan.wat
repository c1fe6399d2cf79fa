;; --invoke's float results and arguments: NaNs are printed with their sign and payload
;; (nan:0x..., the spec tests' notation; the canonical NaN as plain nan), and read back.
(module
  (func (export "f32_bits") (param i32) (result f32)
    local.get 0
    f32.reinterpret_i32)
  (func (export "f64_bits") (param i64) (result f64)
    local.get 0
    f64.reinterpret_i64)
  (func (export "f32_of") (param f32) (result i32)
    local.get 0
    i32.reinterpret_f32)
  (func (export "f64_of") (param f64) (result i64)
    local.get 0
    i64.reinterpret_f64)
  (func (export "f32_id") (param f32) (result f32)
    local.get 0)
  (func (export "f64_pair") (param f64 f64) (result f64 f64)
    local.get 0
    local.get 1))
