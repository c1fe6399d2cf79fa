;; line comment
(; block (; nested ;) comment ;)
(module (;x;)(func(nop)(nop));;
  (func $a$b (export "\u{48}i \"q\" \t\n")))
