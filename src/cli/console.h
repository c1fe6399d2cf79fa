/*
 * The console of `lodge run`: a chardev backend (devices/chardev.h) on stdin/stdout.
 *
 * Input: a thread blocks in poll() on stdin, a wake-up eventfd and a signalfd. What it
 * reads is kept in the console's buffer until the guest takes it (nothing is dropped;
 * when the buffer is full, stdin is not read until the guest catches up). End of input
 * is not passed on: the guest keeps running (a UART has no end of file).
 * On a terminal, stdin is put in raw mode and Ctrl-A is an escape: Ctrl-A X quits, Ctrl-A
 * H lists the keys, Ctrl-A Ctrl-A sends Ctrl-A; everything else, Ctrl-C included, goes to
 * the guest. Without a terminal, input is a plain stream.
 *
 * Ways out, each of which leaves the terminal as it was found:
 * - the machine stops by itself, or Ctrl-A X: the owner's status (console_exit_status -1);
 * - SIGTERM, SIGHUP, SIGINT, SIGQUIT: the machine is stopped, status 128 + signal number;
 *   a second such signal while stopping exits at once with that status;
 * - output cannot be written: the reader went away (EPIPE, e.g. `| head`): the machine is
 *   stopped, status 141 (128 + SIGPIPE, but a clean stop; SIGPIPE itself is ignored);
 *   any other write error: stopped with status 125 and a message;
 * - SIGSEGV, SIGBUS, SIGABRT, SIGFPE, SIGILL (a bug): the terminal is restored in the
 *   signal handler, then the signal takes its previous action (a core dump, or the
 *   sanitizer's report); a sanitizer's own exit restores it too.
 */
#ifndef LODGE_CLI_CONSOLE_H
#define LODGE_CLI_CONSOLE_H

#include <stdbool.h>

struct chardev;
struct console;
struct vm;

/* Opens the console on in_fd/out_fd (lodge run: stdin/stdout): raw mode when in_fd is a
 * terminal, signal handling as above, and the input thread. Main thread, before any
 * other thread starts (the termination signals are blocked in the threads created after
 * it). Returns 0, -ENOMEM, or -errno from eventfd/signalfd/pthread_create. */
int console_open(int in_fd, int out_fd, struct console **out) __attribute__((warn_unused_result));

/* The backend to give the machine (vm_config.console). Valid until console_close. */
struct chardev *console_chardev(struct console *c);

/* Which machine Ctrl-A X, a signal or a closed output stops; NULL between machines (a
 * reboot). A stop requested while no machine was attached stops the next one at once.
 * Main thread. */
void console_attach(struct console *c, struct vm *vm);

/* The exit status the console asks for (see above), or -1 when it stopped nothing or
 * only quit through Ctrl-A X. Any thread. */
int console_exit_status(struct console *c);

/* True once the console asked the machine to stop (signal, Ctrl-A X, closed output): the
 * owner must not start another machine (reboot). Any thread. */
bool console_stop_requested(struct console *c);

/* Stops the input thread, restores the terminal, the signal mask and the handlers, and
 * frees the console. Detach the machine's UART first (vm_destroy). NULL is a no-op. */
void console_close(struct console *c);

/*
 * For a command that puts terminal fd in raw mode itself (lodge console NAME): until
 * console_unguard_tty, a signal that ends the process (SIGTERM, SIGHUP, a fault...)
 * first restores *saved. Main thread; not while a console is open.
 */
struct termios;
void console_guard_tty(int fd, const struct termios *saved);
void console_unguard_tty(void);

#endif
