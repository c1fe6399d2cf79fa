;; Test program for tests/wasm/suite.sh: functions whose only names are hostile export names
;; (a trap report names a function by its export when there is no name section). Each is
;; exported a second time under a plain name for --invoke.
(module
  (func $nl unreachable)
  (func $esc unreachable)
  (func $bad unreachable)
  (export "x\0alodge wasm: names.wasm: exited normally" (func $nl))
  (export "\1b]0;owned\07\1b[2J\1b[31mred\c2\9b31m\e2\80\aeevil" (func $esc))
  (export "tab\09nul\00bs\\q\"" (func $bad))
  (export "nl" (func $nl))
  (export "esc" (func $esc))
  (export "bad" (func $bad))
)
