/*
 * Unit tests for the console backend of `lodge run` (cli/console.c) on pipes and a
 * pseudo-terminal: input is kept in order until taken (also past the buffer's size, by
 * leaving the rest in the pipe), a reader that goes away is a clean stop with status 141,
 * a termination signal asks for 128 + its number, and a terminal goes raw with Ctrl-A
 * escapes and comes back as it was. Waits are bounded (10 s) but never needed that long.
 */
#include "cli/console.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <pty.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "devices/chardev.h"
#include "harness.h"

#define BIG (200u * 1024) /* more than the console's input buffer and a pipe's */

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void pause_ms(unsigned ms)
{
	struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000};

	nanosleep(&ts, NULL);
}

/* Reads `len` input bytes from the backend as a guest would, waiting up to 10 s. */
static size_t take(struct chardev *cd, uint8_t *buf, size_t len)
{
	uint64_t end = now_ms() + 10000;
	size_t got = 0;

	while (got < len && now_ms() < end) {
		size_t n = chardev_read(cd, buf + got, len - got);

		got += n;
		if (!n)
			pause_ms(1);
	}
	return got;
}

static int wait_status(struct console *c, int want)
{
	uint64_t end = now_ms() + 10000;

	while (console_exit_status(c) != want && now_ms() < end)
		pause_ms(1);
	return console_exit_status(c) == want;
}

/* Bytes written before anyone reads come out in order, none lost. */
static int t_input_kept_in_order(void)
{
	int in[2], out[2];
	struct console *c = NULL;
	const char *msg = "uname -a; nproc; poweroff -f\n";
	uint8_t buf[64] = {0};

	CHECK(pipe(in) == 0 && pipe(out) == 0);
	CHECK(write(in[1], msg, strlen(msg)) == (ssize_t)strlen(msg));
	CHECK(console_open(in[0], out[1], &c) == 0);
	CHECK_EQ(take(console_chardev(c), buf, strlen(msg)), strlen(msg));
	CHECK(memcmp(buf, msg, strlen(msg)) == 0);
	CHECK_EQ(chardev_input_available(console_chardev(c)), 0);
	CHECK(!console_stop_requested(c));
	close(in[1]); /* end of input: nothing happens to the machine */
	pause_ms(20);
	CHECK(!console_stop_requested(c));
	CHECK_EQ(console_exit_status(c), -1);
	console_close(c);
	close(in[0]);
	close(out[0]);
	close(out[1]);
	return 0;
}

struct writer {
	int fd;
	size_t n;
};

static void *write_pattern(void *arg)
{
	struct writer *w = arg;
	uint8_t buf[4096];

	for (size_t off = 0; off < w->n;) {
		size_t k = w->n - off < sizeof(buf) ? w->n - off : sizeof(buf);
		ssize_t r;

		for (size_t i = 0; i < k; i++)
			buf[i] = (uint8_t)((off + i) * 7 + (off + i) / 251);
		r = write(w->fd, buf, k);
		if (r <= 0)
			break;
		off += (size_t)r;
	}
	return NULL;
}

/* More input than the buffer holds: the console stops reading until the guest catches
 * up (the writer blocks on the full pipe), and every byte arrives in order. */
static int t_input_beyond_buffer(void)
{
	int in[2], out[2];
	struct console *c = NULL;
	struct writer w;
	pthread_t t;
	uint8_t *buf = malloc(BIG);
	size_t avail;
	int bad = 0;

	CHECK(buf);
	CHECK(pipe(in) == 0 && pipe(out) == 0);
	CHECK(console_open(in[0], out[1], &c) == 0);
	w.fd = in[1];
	w.n = BIG;
	CHECK(pthread_create(&t, NULL, write_pattern, &w) == 0);
	pause_ms(200); /* let the buffer fill: it must not grow past its size */
	avail = chardev_input_available(console_chardev(c));
	CHECK(avail > 0 && avail < BIG);
	CHECK_EQ(take(console_chardev(c), buf, BIG), BIG);
	pthread_join(t, NULL);
	for (size_t i = 0; i < BIG; i++)
		bad += buf[i] != (uint8_t)(i * 7 + i / 251);
	CHECK_EQ(bad, 0);
	console_close(c);
	free(buf);
	close(in[0]);
	close(in[1]);
	close(out[0]);
	close(out[1]);
	return 0;
}

/* The output's reader goes away: no SIGPIPE death, -EPIPE, a stop with status 141. */
static int t_output_reader_gone(void)
{
	int in[2], out[2];
	struct console *c = NULL;
	const uint8_t hello[] = "hello";
	struct sigaction sa;

	CHECK(pipe(in) == 0 && pipe(out) == 0);
	CHECK(console_open(in[0], out[1], &c) == 0);
	CHECK_EQ(chardev_write(console_chardev(c), hello, 5), 0);
	close(out[0]);
	CHECK_EQ(chardev_write(console_chardev(c), hello, 5), -EPIPE);
	CHECK(console_stop_requested(c));
	CHECK_EQ(console_exit_status(c), 141);
	CHECK_EQ(chardev_write(console_chardev(c), hello, 5), -EPIPE); /* discarded */
	console_close(c);
	CHECK(sigaction(SIGPIPE, NULL, &sa) == 0);
	CHECK(sa.sa_handler == SIG_DFL); /* as it was before the console */
	close(in[0]);
	close(in[1]);
	close(out[1]);
	return 0;
}

/* SIGTERM to the process: a stop with status 128 + 15, and the process lives on. */
static int t_sigterm_stops(void)
{
	int in[2], out[2];
	struct console *c = NULL;

	CHECK(pipe(in) == 0 && pipe(out) == 0);
	CHECK(console_open(in[0], out[1], &c) == 0);
	CHECK(kill(getpid(), SIGTERM) == 0);
	CHECK(wait_status(c, 128 + SIGTERM));
	CHECK(console_stop_requested(c));
	console_close(c);
	close(in[0]);
	close(in[1]);
	close(out[0]);
	close(out[1]);
	return 0;
}

/* On a terminal: raw mode while open, the Ctrl-A keys, and the settings restored. */
static int t_terminal_escapes(void)
{
	int master, slave, out[2];
	struct console *c = NULL;
	struct termios before, during, after;
	uint8_t buf[8] = {0};
	char help[256] = {0};
	ssize_t n;

	CHECK(openpty(&master, &slave, NULL, NULL, NULL) == 0);
	CHECK(pipe(out) == 0);
	CHECK(tcgetattr(slave, &before) == 0);
	CHECK(before.c_lflag & ICANON);
	CHECK(console_open(slave, out[1], &c) == 0);
	CHECK(tcgetattr(slave, &during) == 0);
	CHECK(!(during.c_lflag & (ICANON | ECHO | ISIG)));
	/* a, C-a C-a (one C-a), C-a z (unknown: dropped), b, C-a h (help) */
	CHECK(write(master, "a\001\001\001zb\001h", 8) == 8);
	CHECK_EQ(take(console_chardev(c), buf, 3), 3);
	CHECK(memcmp(buf, "a\001b", 3) == 0);
	n = 0;
	for (uint64_t end = now_ms() + 10000; !strstr(help, "C-a x") && now_ms() < end;) {
		struct pollfd p = {.fd = out[0], .events = POLLIN};
		if (poll(&p, 1, 100) > 0) {
			ssize_t k = read(out[0], help + n, sizeof(help) - 1 - (size_t)n);
			n += k > 0 ? k : 0;
		}
	}
	CHECK(strstr(help, "C-a x"));
	CHECK(!console_stop_requested(c));
	CHECK(write(master, "\001x", 2) == 2);
	for (uint64_t end = now_ms() + 10000; !console_stop_requested(c) && now_ms() < end;)
		pause_ms(1);
	CHECK(console_stop_requested(c));
	CHECK_EQ(console_exit_status(c), -1); /* C-a x: the machine's own status */
	CHECK_EQ(chardev_input_available(console_chardev(c)), 0);
	console_close(c);
	CHECK(tcgetattr(slave, &after) == 0);
	CHECK_EQ(after.c_iflag, before.c_iflag);
	CHECK_EQ(after.c_oflag, before.c_oflag);
	CHECK_EQ(after.c_cflag, before.c_cflag);
	CHECK_EQ(after.c_lflag, before.c_lflag);
	CHECK(memcmp(after.c_cc, before.c_cc, sizeof(before.c_cc)) == 0);
	close(master);
	close(slave);
	close(out[0]);
	close(out[1]);
	return 0;
}

/* A backend that keeps what it is given. */
struct capture {
	struct chardev cd;
	char out[64];
	size_t n;
};

static int cap_write(struct chardev *cd, const uint8_t *buf, size_t len)
{
	struct capture *c = (struct capture *)(void *)cd;

	if (len > sizeof(c->out) - 1 - c->n)
		return -ENOSPC;
	memcpy(c->out + c->n, buf, len);
	c->n += len;
	c->out[c->n] = 0;
	return 0;
}

static size_t cap_avail(struct chardev *cd)
{
	(void)cd;
	return 0;
}

static size_t cap_read(struct chardev *cd, uint8_t *buf, size_t len)
{
	(void)cd;
	(void)buf;
	(void)len;
	return 0;
}

static void cap_close(struct chardev *cd)
{
	(void)cd;
}

/* Replication's hold: output waits until the checkpoint sealed with it is released, in
 * order; stopping lets everything out and later writes go straight through. */
static int t_output_held(void)
{
	static const struct chardev_ops ops = {cap_write, cap_avail, cap_read, cap_close};
	struct capture c = {.n = 0};
	const uint8_t *w = (const uint8_t *)"abcdefg";

	chardev_init(&c.cd, &ops);
	chardev_hold_start(&c.cd);
	CHECK_EQ(chardev_write(&c.cd, w, 2), 0);
	chardev_hold_seal(&c.cd);
	CHECK_EQ(chardev_write(&c.cd, w + 2, 2), 0);
	CHECK_EQ(c.n, 0);
	chardev_hold_release(&c.cd);
	CHECK(!strcmp(c.out, "ab"));
	chardev_hold_release(&c.cd); /* nothing sealed since */
	CHECK(!strcmp(c.out, "ab"));
	CHECK_EQ(chardev_write(&c.cd, w + 4, 1), 0);
	chardev_hold_seal(&c.cd);
	CHECK_EQ(chardev_write(&c.cd, w + 5, 1), 0);
	chardev_hold_release(&c.cd);
	CHECK(!strcmp(c.out, "abcde"));
	chardev_hold_stop(&c.cd);
	CHECK(!strcmp(c.out, "abcdef"));
	CHECK_EQ(chardev_write(&c.cd, w + 6, 1), 0);
	CHECK(!strcmp(c.out, "abcdefg"));
	chardev_fini(&c.cd);
	return 0;
}

static const struct unit_test tests[] = {
	{"output_held", t_output_held},
	{"input_kept_in_order", t_input_kept_in_order},
	{"input_beyond_buffer", t_input_beyond_buffer},
	{"output_reader_gone", t_output_reader_gone},
	{"sigterm_stops", t_sigterm_stops},
	{"terminal_escapes", t_terminal_escapes},
};

UNIT_MAIN("console", tests)
