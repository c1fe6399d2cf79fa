/*
 * Logging: log_err/warn/info/debug with printf checking and a runtime level.
 * Lines go to stderr prefixed with "lodge: ". Thread-safe (one fprintf per line).
 * Never called from the interpreter's hot path.
 */
#ifndef LODGE_CORE_LOG_H
#define LODGE_CORE_LOG_H

enum log_level { LOG_ERR, LOG_WARN, LOG_INFO, LOG_DEBUG };

/* Sets the most verbose level printed; default LOG_WARN. Call before threads start. */
void log_set_level(enum log_level level);

void log_msg(enum log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* The most verbose level printed (log_set_level); read by log_debug. */
extern enum log_level log_level_max;

#define log_err(...)  log_msg(LOG_ERR, __VA_ARGS__)
#define log_warn(...) log_msg(LOG_WARN, __VA_ARGS__)
#define log_info(...) log_msg(LOG_INFO, __VA_ARGS__)
#define log_debug(...)                                                                             \
	do {                                                                                       \
		if (__builtin_expect(log_level_max >= LOG_DEBUG, 0))                               \
			log_msg(LOG_DEBUG, __VA_ARGS__);                                           \
	} while (0)

#endif
