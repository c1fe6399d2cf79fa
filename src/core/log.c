/*
 * Logging backend: formats a whole line into a buffer and writes it with one call so
 * lines from different threads do not interleave.
 */
#include "core/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <unistd.h>

enum log_level log_level_max = LOG_WARN;

void log_set_level(enum log_level level)
{
	log_level_max = level;
}

void log_msg(enum log_level level, const char *fmt, ...)
{
	static const char *const names[] = {"error: ", "warning: ", "", "debug: "};
	char buf[1024];
	va_list ap;
	int n;

	if (level > log_level_max)
		return;
	n = snprintf(buf, sizeof(buf), "lodge: %s", names[level]);
	va_start(ap, fmt);
	n += vsnprintf(buf + n, sizeof(buf) - (size_t)n - 1, fmt, ap);
	va_end(ap);
	if (n > (int)sizeof(buf) - 2)
		n = (int)sizeof(buf) - 2;
	buf[n++] = '\n';
	fflush(stdout);
	if (write(STDERR_FILENO, buf, (size_t)n) < 0)
		return;
}
