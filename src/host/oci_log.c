/*
 * Logging for `lodge oci`, shaped as runc's (logrus) so engines parse it: with --log FILE
 * each line goes to FILE, as text (time="..." level=error msg="...") or with
 * --log-format json as {"level":"error","msg":"...","time":"..."}; errors are also
 * printed plainly on stderr, which is where an engine without a log file looks. Without
 * --log, lines go to stderr as text.
 */
#include "host/oci.h"

#include <cjson/cJSON.h>
#include <ctype.h>
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

int oci_ctx_open(struct oci_ctx *c)
{
	c->log = NULL;
	if (!c->log_path || !*c->log_path)
		return 0;
	c->log = fopen(c->log_path, "ae");
	if (!c->log) {
		int r = -errno;
		fprintf(stderr, "lodge-oci: cannot open log file %s: %s\n", c->log_path,
			strerror(-r));
		return r;
	}
	setvbuf(c->log, NULL, _IOLBF, 0);
	return 0;
}

void oci_ctx_close(struct oci_ctx *c)
{
	if (c->log)
		fclose(c->log);
	c->log = NULL;
}

static void text_line(FILE *f, const char *when, const char *level, const char *msg)
{
	fprintf(f, "time=\"%s\" level=%s msg=\"", when, level);
	for (const char *p = msg; *p; p++) {
		if (*p == '"' || *p == '\\')
			fprintf(f, "\\%c", *p);
		else if (*p == '\n')
			fputs("\\n", f);
		else
			fputc(*p, f);
	}
	fputs("\"\n", f);
	fflush(f);
}

static void json_line(FILE *f, const char *when, const char *level, const char *msg)
{
	cJSON *o = cJSON_CreateObject();
	char *s = NULL;

	if (o && cJSON_AddStringToObject(o, "level", level) &&
	    cJSON_AddStringToObject(o, "msg", msg) && cJSON_AddStringToObject(o, "time", when))
		s = cJSON_PrintUnformatted(o);
	if (s)
		fprintf(f, "%s\n", s);
	else /* out of memory: still say something */
		fprintf(f, "{\"level\":\"%s\",\"msg\":\"(no memory for the message)\"}\n", level);
	fflush(f);
	cJSON_free(s);
	cJSON_Delete(o);
}

static void vlog(const struct oci_ctx *c, const char *level, const char *fmt, va_list ap)
{
	char msg[2048], when[40];
	time_t now = time(NULL);
	struct tm tm;

	vsnprintf(msg, sizeof(msg), fmt, ap);
	gmtime_r(&now, &tm);
	strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
	if (c->log) {
		if (c->log_json)
			json_line(c->log, when, level, msg);
		else
			text_line(c->log, when, level, msg);
		if (!strcmp(level, "error"))
			fprintf(stderr, "%s\n", msg);
	} else {
		text_line(stderr, when, level, msg);
	}
}

void oci_err(const struct oci_ctx *c, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlog(c, "error", fmt, ap);
	va_end(ap);
}

void oci_warn(const struct oci_ctx *c, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlog(c, "warning", fmt, ap);
	va_end(ap);
}

void oci_debug(const struct oci_ctx *c, const char *fmt, ...)
{
	va_list ap;

	if (!c->debug)
		return;
	va_start(ap, fmt);
	vlog(c, "debug", fmt, ap);
	va_end(ap);
}

/* clang-format off */
static const struct {
	const char *name;
	int sig;
} signals[] = {
	{"HUP", SIGHUP},   {"INT", SIGINT},	  {"QUIT", SIGQUIT}, {"ILL", SIGILL},
	{"TRAP", SIGTRAP}, {"ABRT", SIGABRT},	  {"IOT", SIGIOT},   {"BUS", SIGBUS},
	{"FPE", SIGFPE},   {"KILL", SIGKILL},	  {"USR1", SIGUSR1}, {"SEGV", SIGSEGV},
	{"USR2", SIGUSR2}, {"PIPE", SIGPIPE},	  {"ALRM", SIGALRM}, {"TERM", SIGTERM},
	{"STKFLT", SIGSTKFLT}, {"CHLD", SIGCHLD}, {"CONT", SIGCONT}, {"STOP", SIGSTOP},
	{"TSTP", SIGTSTP}, {"TTIN", SIGTTIN},	  {"TTOU", SIGTTOU}, {"URG", SIGURG},
	{"XCPU", SIGXCPU}, {"XFSZ", SIGXFSZ},	  {"VTALRM", SIGVTALRM}, {"PROF", SIGPROF},
	{"WINCH", SIGWINCH}, {"IO", SIGIO},	  {"POLL", SIGPOLL}, {"PWR", SIGPWR},
	{"SYS", SIGSYS},
};
/* clang-format on */

int oci_parse_signal(const char *s)
{
	char *end;
	long n;

	if (!s || !*s)
		return -EINVAL;
	if (*s >= '0' && *s <= '9') {
		errno = 0;
		n = strtol(s, &end, 10);
		if (errno || *end || n < 1 || n > 64)
			return -EINVAL;
		return (int)n;
	}
	if (!strncasecmp(s, "SIG", 3))
		s += 3;
	for (size_t i = 0; i < sizeof(signals) / sizeof(signals[0]); i++)
		if (!strcasecmp(s, signals[i].name))
			return signals[i].sig;
	if (!strncasecmp(s, "RTMIN", 5) || !strncasecmp(s, "RTMAX", 5)) {
		n = 0;
		if (s[5]) {
			n = strtol(s + 5, &end, 10);
			if (*end)
				return -EINVAL;
		}
		n += toupper((unsigned char)s[3]) == 'I' ? SIGRTMIN : SIGRTMAX;
		if (n >= SIGRTMIN && n <= SIGRTMAX)
			return (int)n;
	}
	return -EINVAL;
}
