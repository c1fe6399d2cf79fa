/*
 * The console of `lodge run` (see console.h): a chardev backend on two fds with an input
 * buffer, an input thread, raw-mode terminal handling and the signal policy.
 *
 * Locks: `in_lock` guards the input buffer (taken by the UART under its own lock, so
 * nothing here calls into the UART while holding it); `out_lock` serialises writes to
 * out_fd; `stop_lock` guards the attached machine and the stop state, and is taken after
 * the UART lock (a failed write stops the machine), before a hart's wfi mutex.
 */
#include "cli/console.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/signalfd.h>
#include <termios.h>
#include <unistd.h>

#include "cli/cli.h"
#include "core/alloc.h"
#include "core/log.h"
#include "core/util.h"
#include "devices/chardev.h"
#include "machine/machine.h"

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define HAVE_SANITIZER 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
#define HAVE_SANITIZER 1
#endif
#endif
#ifdef HAVE_SANITIZER
#include <sanitizer/common_interface_defs.h>
#endif

#define CTRL_A	      0x01
#define INPUT_BUF     65536 /* input held for the guest; beyond it, stdin waits */
#define STATUS_EPIPE  (128 + SIGPIPE)
#define STATUS_SIGNAL 128

struct console {
	struct chardev cd;
	int in_fd, out_fd;
	int wake_fd; /* eventfd: stop, or room in the input buffer again */
	int sig_fd;  /* signalfd for the termination signals */
	sigset_t old_mask;
	struct sigaction old_pipe;
	pthread_t thread;
	bool tty;	/* in_fd is a terminal in raw mode; `saved` restores it */
	bool escape;	/* input thread: Ctrl-A seen */
	bool signalled; /* input thread: a termination signal came */
	struct termios saved;

	pthread_mutex_t in_lock;
	uint8_t *in_buf; /* ring of INPUT_BUF bytes */
	size_t in_head, in_len;
	bool in_eof; /* input thread only */
	bool closing;

	pthread_mutex_t out_lock;
	bool out_closed;

	pthread_mutex_t stop_lock;
	struct vm *vm;
	bool stop_requested;
	int status; /* -1, or the exit status asked for */
};

static const int term_signals[] = {SIGTERM, SIGHUP, SIGINT, SIGQUIT};

/*
 * Fatal signals: every other signal whose default action ends the process (faults,
 * abort, and ones nothing here uses, such as SIGUSR1, SIGALRM, SIGXCPU or a real-time
 * signal), so that any way out leaves the terminal as it was. A signal handler gets no
 * argument, so the terminal it restores lives at file scope: written by
 * console_open/console_close on the main thread only, while the handlers are not
 * installed; `fatal_armed` says whether it holds a terminal to restore. The first
 * FATAL_ALWAYS (faults and abort) chain to any handler already there; the others are
 * left alone when already ignored or handled.
 */
#define FATAL_ALWAYS 5
static const int fatal_signals[] = {SIGSEGV, SIGBUS,	SIGABRT,   SIGFPE,  SIGILL,  SIGTRAP,
				    SIGSYS,  SIGXCPU,	SIGXFSZ,   SIGUSR1, SIGUSR2, SIGALRM,
				    SIGPROF, SIGVTALRM, SIGSTKFLT, SIGIO,   SIGPWR};
static struct sigaction fatal_old[NSIG];
static bool fatal_set[NSIG]; /* our handler is installed for this signal */
static struct termios fatal_saved;
static int fatal_fd = -1;
static volatile sig_atomic_t fatal_armed;

static const char help_text[] = "\r\n"
				"C-a h    print this help\r\n"
				"C-a x    quit (stops the machine)\r\n"
				"C-a C-a  send C-a to the guest\r\n";

/* Async-signal-safe: tcsetattr is on POSIX's list. */
static void fatal_restore_terminal(void)
{
	if (fatal_armed)
		tcsetattr(fatal_fd, TCSANOW, &fatal_saved);
}

/* A fault that the hardware raised comes back when the instruction runs again. */
static bool recurs(int sig, const siginfo_t *info)
{
	return info->si_code > 0 &&
	       (sig == SIGSEGV || sig == SIGBUS || sig == SIGFPE || sig == SIGILL);
}

static void fatal_handler(int sig, siginfo_t *info, void *uctx)
{
	(void)uctx;
	fatal_restore_terminal();
	if (sig > 0 && sig < NSIG && fatal_set[sig])
		sigaction(sig, &fatal_old[sig], NULL);
	/* Sent by kill(), abort() or the kernel (SIGXCPU, SIGALRM...): send it again, to the
	 * previous action, once this handler returns. */
	if (!recurs(sig, info))
		raise(sig);
}

/* always: take over the signal even from a previous handler (a sanitizer's), which the
 * handler then passes it on to */
static void fatal_arm(int sig, const struct sigaction *sa, bool always)
{
	struct sigaction old;

	if (sigaction(sig, NULL, &old))
		return;
	if (!always && (old.sa_handler != SIG_DFL || (old.sa_flags & SA_SIGINFO)))
		return;
	fatal_old[sig] = old;
	fatal_set[sig] = true;
	sigaction(sig, sa, NULL);
}

/* term: also the termination signals (for a terminal that is raw without a console) */
static void fatal_install_tty(int fd, const struct termios *saved, bool term)
{
	struct sigaction sa;

	fatal_saved = *saved;
	fatal_fd = fd;
	fatal_armed = 1;
	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = fatal_handler;
	sa.sa_flags = SA_SIGINFO;
	sigemptyset(&sa.sa_mask);
	for (size_t i = 0; i < ARRAY_SIZE(fatal_signals); i++)
		fatal_arm(fatal_signals[i], &sa, i < FATAL_ALWAYS);
	for (int sig = SIGRTMIN; sig <= SIGRTMAX; sig++)
		fatal_arm(sig, &sa, false);
	for (size_t i = 0; term && i < ARRAY_SIZE(term_signals); i++)
		fatal_arm(term_signals[i], &sa, false);
#ifdef HAVE_SANITIZER
	/* A sanitizer's report ends the process with _exit, not a signal. */
	__sanitizer_set_death_callback(fatal_restore_terminal);
#endif
}

static void fatal_install(const struct console *c)
{
	fatal_install_tty(c->in_fd, &c->saved, false);
}

static void fatal_uninstall(void)
{
#ifdef HAVE_SANITIZER
	__sanitizer_set_death_callback(NULL);
#endif
	for (int sig = 1; sig < NSIG; sig++) {
		struct sigaction cur;
		/* a handler installed since (a lazy restore's lease signal) stays */
		if (fatal_set[sig] && !sigaction(sig, NULL, &cur) && (cur.sa_flags & SA_SIGINFO) &&
		    cur.sa_sigaction == fatal_handler)
			sigaction(sig, &fatal_old[sig], NULL);
		fatal_set[sig] = false;
	}
	fatal_armed = 0;
	fatal_fd = -1;
}

void console_guard_tty(int fd, const struct termios *saved)
{
	fatal_install_tty(fd, saved, true);
}

void console_unguard_tty(void)
{
	fatal_uninstall();
}

static void restore_terminal(struct console *c)
{
	if (c->tty)
		tcsetattr(c->in_fd, TCSANOW, &c->saved);
}

/* --- stopping ------------------------------------------------------------------------ */

/* Any thread: stops the attached machine (or the next one), asking for `status` unless
 * an earlier request already set one (-1: no status, Ctrl-A X). */
static void request_stop(struct console *c, int status)
{
	pthread_mutex_lock(&c->stop_lock);
	c->stop_requested = true;
	if (c->status < 0)
		c->status = status;
	if (c->vm)
		vm_request_stop(c->vm, VM_STOP_USER, 0);
	pthread_mutex_unlock(&c->stop_lock);
}

void console_attach(struct console *c, struct vm *vm)
{
	pthread_mutex_lock(&c->stop_lock);
	c->vm = vm;
	if (vm && c->stop_requested)
		vm_request_stop(vm, VM_STOP_USER, 0);
	pthread_mutex_unlock(&c->stop_lock);
}

int console_exit_status(struct console *c)
{
	int s;

	pthread_mutex_lock(&c->stop_lock);
	s = c->status;
	pthread_mutex_unlock(&c->stop_lock);
	return s;
}

bool console_stop_requested(struct console *c)
{
	bool r;

	pthread_mutex_lock(&c->stop_lock);
	r = c->stop_requested;
	pthread_mutex_unlock(&c->stop_lock);
	return r;
}

/* --- output -------------------------------------------------------------------------- */

/* Writes all of buf to out_fd; returns 0 or -errno. Called with out_lock held. */
static int write_all(int fd, const uint8_t *buf, size_t len)
{
	while (len) {
		ssize_t n = write(fd, buf, len);

		if (n > 0) {
			buf += n;
			len -= (size_t)n;
		} else if (n < 0 && errno == EAGAIN) {
			/* stdout shared with a process that made it non-blocking */
			struct pollfd p = {.fd = fd, .events = POLLOUT};
			poll(&p, 1, -1);
		} else if (n < 0 && errno != EINTR) {
			return -errno;
		}
	}
	return 0;
}

static int con_write(struct chardev *cd, const uint8_t *buf, size_t len)
{
	struct console *c = container_of(cd, struct console, cd);
	int r = 0;

	pthread_mutex_lock(&c->out_lock);
	if (c->out_closed) {
		pthread_mutex_unlock(&c->out_lock);
		return -EPIPE;
	}
	r = write_all(c->out_fd, buf, len);
	if (r < 0)
		c->out_closed = true;
	pthread_mutex_unlock(&c->out_lock);
	if (r == -EPIPE) {
		log_info("console: the output's reader went away: stopping the machine");
		request_stop(c, STATUS_EPIPE);
	} else if (r < 0) {
		log_err("console: cannot write the guest's output: %s: stopping the machine",
			strerror(-r));
		request_stop(c, CLI_EXIT_ERROR);
	}
	return r;
}

static void say(struct console *c, const char *s)
{
	if (con_write(&c->cd, (const uint8_t *)s, strlen(s)) < 0)
		return; /* con_write has dealt with it */
}

/* --- input --------------------------------------------------------------------------- */

static size_t con_input_available(struct chardev *cd)
{
	struct console *c = container_of(cd, struct console, cd);
	size_t n;

	pthread_mutex_lock(&c->in_lock);
	n = c->in_len;
	pthread_mutex_unlock(&c->in_lock);
	return n;
}

static void wake(struct console *c)
{
	uint64_t one = 1;

	if (write(c->wake_fd, &one, sizeof(one)) < 0)
		return; /* the counter is already non-zero: the thread wakes anyway */
}

static size_t con_read(struct chardev *cd, uint8_t *buf, size_t len)
{
	struct console *c = container_of(cd, struct console, cd);
	bool was_full;
	size_t n = 0;

	pthread_mutex_lock(&c->in_lock);
	was_full = c->in_len == INPUT_BUF;
	while (n < len && c->in_len) {
		buf[n++] = c->in_buf[c->in_head];
		c->in_head = (c->in_head + 1) % INPUT_BUF;
		c->in_len--;
	}
	pthread_mutex_unlock(&c->in_lock);
	if (was_full && n)
		wake(c); /* the input thread stopped reading stdin: room again */
	return n;
}

/* Input thread: appends bytes for the guest (the caller made sure they fit). */
static void push(struct console *c, const uint8_t *buf, size_t len)
{
	pthread_mutex_lock(&c->in_lock);
	for (size_t i = 0; i < len; i++)
		c->in_buf[(c->in_head + c->in_len + i) % INPUT_BUF] = buf[i];
	c->in_len += len;
	pthread_mutex_unlock(&c->in_lock);
}

static size_t room(struct console *c)
{
	size_t r;

	pthread_mutex_lock(&c->in_lock);
	r = INPUT_BUF - c->in_len;
	pthread_mutex_unlock(&c->in_lock);
	return r;
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
		say(c, "\r\nlodge: terminated by C-a x\r\n");
		request_stop(c, -1);
		return true;
	case 'h':
	case 'H':
	case '?':
		say(c, help_text);
		return true;
	case CTRL_A:
		return false; /* send one Ctrl-A */
	default:
		return true; /* unknown escapes are dropped */
	}
}

/* Reads what stdin has (at most what the buffer can take) into the buffer. */
static void read_input(struct console *c, size_t space)
{
	uint8_t buf[4096];
	size_t kept = 0;
	ssize_t n = read(c->in_fd, buf, space < sizeof(buf) ? space : sizeof(buf));

	if (n < 0 && (errno == EINTR || errno == EAGAIN))
		return;
	if (n <= 0) {
		/* End of input (or a hung-up terminal): the guest keeps running. */
		log_info("console: end of input%s%s", n < 0 ? ": " : "",
			 n < 0 ? strerror(errno) : "");
		c->in_eof = true;
		return;
	}
	for (ssize_t i = 0; i < n; i++)
		if (!c->tty || !escape_key(c, buf[i]))
			buf[kept++] = buf[i];
	if (!kept)
		return;
	push(c, buf, kept);
	chardev_input_ready(&c->cd);
}

static void take_signal(struct console *c)
{
	struct signalfd_siginfo si;
	int sig;

	if (read(c->sig_fd, &si, sizeof(si)) != (ssize_t)sizeof(si))
		return;
	sig = (int)si.ssi_signo;
	if (c->signalled) {
		/* A second one while the machine stops: do not wait for it. */
		restore_terminal(c);
		_exit(STATUS_SIGNAL + sig);
	}
	c->signalled = true;
	log_info("console: %s: stopping the machine", strsignal(sig));
	request_stop(c, STATUS_SIGNAL + sig);
}

static bool is_closing(struct console *c)
{
	bool r;

	pthread_mutex_lock(&c->in_lock);
	r = c->closing;
	pthread_mutex_unlock(&c->in_lock);
	return r;
}

static void *input_thread(void *arg)
{
	struct console *c = arg;

	for (;;) {
		size_t space = room(c);
		struct pollfd p[3] = {
			{.fd = c->wake_fd, .events = POLLIN},
			{.fd = c->sig_fd, .events = POLLIN},
			{.fd = c->in_fd, .events = POLLIN},
		};
		/* Full buffer or end of input: leave stdin alone until woken. */
		nfds_t n = (space && !c->in_eof) ? 3 : 2;

		if (poll(p, n, -1) < 0) {
			if (errno == EINTR)
				continue;
			log_err("console: poll failed: %s: console input stops", strerror(errno));
			break;
		}
		if (p[0].revents) {
			uint64_t v;

			if (read(c->wake_fd, &v, sizeof(v)) < 0 && errno != EAGAIN)
				break;
			if (is_closing(c))
				break;
		}
		if (p[1].revents)
			take_signal(c);
		if (n == 3 && p[2].revents)
			read_input(c, space);
	}
	return NULL;
}

/* --- set-up -------------------------------------------------------------------------- */

static void set_raw(struct console *c)
{
	struct termios t;

	if (tcgetattr(c->in_fd, &c->saved) < 0)
		return;
	t = c->saved;
	cfmakeraw(&t);
	t.c_oflag |= OPOST | ONLCR; /* keep newline translation for lodge's own messages */
	if (tcsetattr(c->in_fd, TCSANOW, &t) == 0)
		c->tty = true;
}

/* Blocks the termination signals (here and in every thread created from now on) and
 * opens a signalfd for them. SIGPIPE is ignored: a closed output shows up as EPIPE. */
static int setup_signals(struct console *c)
{
	struct sigaction ign = {.sa_handler = SIG_IGN};
	sigset_t set;

	sigemptyset(&set);
	for (size_t i = 0; i < ARRAY_SIZE(term_signals); i++)
		sigaddset(&set, term_signals[i]);
	if (pthread_sigmask(SIG_BLOCK, &set, &c->old_mask) != 0)
		return -EINVAL;
	c->sig_fd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
	if (c->sig_fd < 0) {
		int r = -errno;
		pthread_sigmask(SIG_SETMASK, &c->old_mask, NULL);
		return r;
	}
	sigemptyset(&ign.sa_mask);
	sigaction(SIGPIPE, &ign, &c->old_pipe);
	return 0;
}

/* Undoes setup_signals. */
static void restore_signals(struct console *c)
{
	close(c->sig_fd);
	sigaction(SIGPIPE, &c->old_pipe, NULL);
	pthread_sigmask(SIG_SETMASK, &c->old_mask, NULL);
}

static const struct chardev_ops console_ops;

static struct console *alloc_console(int in_fd, int out_fd)
{
	struct console *c = core_calloc(1, sizeof(*c));

	if (!c)
		return NULL;
	c->in_buf = core_alloc(INPUT_BUF);
	if (!c->in_buf) {
		core_free(c);
		return NULL;
	}
	c->in_fd = in_fd;
	c->out_fd = out_fd;
	c->wake_fd = -1;
	c->sig_fd = -1;
	c->status = -1;
	chardev_init(&c->cd, &console_ops);
	pthread_mutex_init(&c->in_lock, NULL);
	pthread_mutex_init(&c->out_lock, NULL);
	pthread_mutex_init(&c->stop_lock, NULL);
	return c;
}

static void free_console(struct console *c)
{
	pthread_mutex_destroy(&c->stop_lock);
	pthread_mutex_destroy(&c->out_lock);
	pthread_mutex_destroy(&c->in_lock);
	chardev_fini(&c->cd);
	core_free(c->in_buf);
	core_free(c);
}

int console_open(int in_fd, int out_fd, struct console **out)
{
	struct console *c = alloc_console(in_fd, out_fd);
	int r;

	if (!c)
		return -ENOMEM;
	c->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (c->wake_fd < 0) {
		r = -errno;
		goto err_free;
	}
	r = setup_signals(c);
	if (r < 0)
		goto err_close_wake;
	if (isatty(in_fd)) {
		set_raw(c);
		if (c->tty)
			fatal_install(c);
	}
	r = -pthread_create(&c->thread, NULL, input_thread, c);
	if (r < 0)
		goto err_restore;
	*out = c;
	return 0;

err_restore:
	if (c->tty) {
		fatal_uninstall();
		restore_terminal(c);
	}
	restore_signals(c);
err_close_wake:
	close(c->wake_fd);
err_free:
	free_console(c);
	return r;
}

struct chardev *console_chardev(struct console *c)
{
	return &c->cd;
}

/* A termination signal that came after the machine stopped by itself changes nothing:
 * consume it, so that unblocking it below does not kill the process. */
static void drop_pending_signals(struct console *c)
{
	struct signalfd_siginfo si;

	while (read(c->sig_fd, &si, sizeof(si)) == (ssize_t)sizeof(si))
		continue;
}

void console_close(struct console *c)
{
	if (!c)
		return;
	pthread_mutex_lock(&c->in_lock);
	c->closing = true;
	pthread_mutex_unlock(&c->in_lock);
	wake(c);
	pthread_join(c->thread, NULL);
	if (c->tty) {
		restore_terminal(c);
		fatal_uninstall();
	}
	drop_pending_signals(c);
	restore_signals(c);
	close(c->wake_fd);
	free_console(c);
}

static void con_close(struct chardev *cd)
{
	console_close(container_of(cd, struct console, cd));
}

static const struct chardev_ops console_ops = {
	.write = con_write,
	.input_available = con_input_available,
	.read = con_read,
	.close = con_close,
};
