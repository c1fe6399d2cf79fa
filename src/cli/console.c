/*
 * Console input thread (see console.h). The thread polls stdin with a timeout so that it
 * notices console_close; bytes the UART cannot take yet are retried, never dropped.
 */
#include "cli/console.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include "core/alloc.h"
#include "devices/uart.h"
#include "machine/machine.h"

#define CTRL_A 0x01

struct console {
	struct vm *vm;
	pthread_t thread;
	bool tty, escape;
	int stop; /* atomic */
	struct termios saved;
};

static const char help_text[] = "\r\n"
				"C-a h    print this help\r\n"
				"C-a x    quit (stops the machine)\r\n"
				"C-a C-a  send C-a to the guest\r\n";

static void say(const char *s)
{
	if (write(STDOUT_FILENO, s, strlen(s)) < 0)
		return;
}

/* Sends bytes to the UART, waiting while its receive FIFO is full. */
static void feed(struct console *c, const uint8_t *buf, unsigned len)
{
	while (len && !__atomic_load_n(&c->stop, __ATOMIC_ACQUIRE) && !vm_should_stop(c->vm)) {
		unsigned n = uart_receive(c->vm->uart, buf, len);
		buf += n;
		len -= n;
		if (len)
			usleep(1000);
	}
}

/* Handles the Ctrl-A escape on a terminal; returns true if `b` was consumed. */
static bool escape_key(struct console *c, uint8_t b)
{
	if (!c->escape) {
		if (b != CTRL_A)
			return false;
		c->escape = true;
		return true;
	}
	c->escape = false;
	switch (b) {
	case 'x':
	case 'X':
		say("\r\nlodge: terminated by C-a x\r\n");
		vm_request_stop(c->vm, VM_STOP_USER, 0);
		return true;
	case 'h':
	case 'H':
	case '?':
		say(help_text);
		return true;
	case CTRL_A:
		return false; /* send one Ctrl-A */
	default:
		return true; /* unknown escapes are dropped */
	}
}

static void *input_thread(void *arg)
{
	struct console *c = arg;
	struct pollfd pfd = {.fd = STDIN_FILENO, .events = POLLIN};
	uint8_t buf[256];

	while (!__atomic_load_n(&c->stop, __ATOMIC_ACQUIRE) && !vm_should_stop(c->vm)) {
		ssize_t n;
		int pr = poll(&pfd, 1, 100);

		if (pr <= 0)
			continue;
		n = read(STDIN_FILENO, buf, sizeof(buf));
		if (n <= 0) {
			if (n < 0 && (errno == EINTR || errno == EAGAIN))
				continue;
			break; /* EOF: the guest keeps running without input */
		}
		if (!c->tty) {
			feed(c, buf, (unsigned)n);
			continue;
		}
		for (ssize_t i = 0; i < n; i++)
			if (!escape_key(c, buf[i]))
				feed(c, &buf[i], 1);
	}
	return NULL;
}

static void set_raw(struct console *c)
{
	struct termios t;

	if (tcgetattr(STDIN_FILENO, &c->saved) < 0)
		return;
	t = c->saved;
	cfmakeraw(&t);
	t.c_oflag |= OPOST | ONLCR; /* keep newline translation for lodge's own messages */
	if (tcsetattr(STDIN_FILENO, TCSANOW, &t) == 0)
		c->tty = true;
}

int console_open(struct vm *vm, struct console **out)
{
	struct console *c = core_calloc(1, sizeof(*c));

	if (!c)
		return -ENOMEM;
	c->vm = vm;
	if (isatty(STDIN_FILENO))
		set_raw(c);
	if (pthread_create(&c->thread, NULL, input_thread, c) != 0) {
		if (c->tty)
			tcsetattr(STDIN_FILENO, TCSANOW, &c->saved);
		core_free(c);
		return -EAGAIN;
	}
	*out = c;
	return 0;
}

void console_close(struct console *c)
{
	if (!c)
		return;
	__atomic_store_n(&c->stop, 1, __ATOMIC_RELEASE);
	pthread_join(c->thread, NULL);
	if (c->tty)
		tcsetattr(STDIN_FILENO, TCSANOW, &c->saved);
	core_free(c);
}
