/*
 * /proc/PID/stat, for the start times and CPU times the daemon and the sandbox read.
 * Threads: any.
 */
#ifndef LODGE_HOST_PROCSTAT_H
#define LODGE_HOST_PROCSTAT_H

#include <stddef.h>
#include <sys/types.h>

/* Reads /proc/PID/stat into buf (len bytes) and returns its fields from the state letter
 * on (field 3: what follows "PID (comm) ", comm holding any bytes), or NULL when the
 * process does not exist or the file is not as expected. */
const char *procstat_read(pid_t pid, char *buf, size_t len);

#endif
