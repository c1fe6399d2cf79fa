/*
 * The guest console on the user's terminal: stdin feeds the UART, the UART writes stdout.
 * On a terminal, stdin is put in raw mode (restored on exit) and Ctrl-A is an escape:
 * Ctrl-A X quits, Ctrl-A H lists the keys, Ctrl-A Ctrl-A sends Ctrl-A; everything else,
 * Ctrl-C included, goes to the guest. Without a terminal, input is a plain stream.
 */
#ifndef LODGE_CLI_CONSOLE_H
#define LODGE_CLI_CONSOLE_H

struct vm;
struct console;

/* Starts the input thread for `vm`. Returns 0 or -errno. */
int console_open(struct vm *vm, struct console **out) __attribute__((warn_unused_result));

/* Stops the input thread and restores the terminal. NULL is a no-op. */
void console_close(struct console *c);

#endif
