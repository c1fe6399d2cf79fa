(module (func) (func (param i32)))
