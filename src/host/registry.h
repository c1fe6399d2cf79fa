/*
 * The daemon's registry of guests, in SQLite (STATE/lodge.db): each guest's configuration
 * (the create request, as JSON), its state, the process that runs it (pid and the
 * process's start time, which tells a recycled pid apart), how it last ended, its restart
 * count, and a log of events. Every change is written through at once (WAL journal,
 * synchronous=NORMAL: a committed change survives the daemon being killed; a power cut
 * may lose the last transactions but never corrupts the file), so the daemon keeps no
 * state that a restart would lose.
 *
 * Threading: one connection, used by the daemon's loop thread only.
 */
#ifndef LODGE_HOST_REGISTRY_H
#define LODGE_HOST_REGISTRY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct registry;

/* One guest's row. Strings are owned by the record (registry_record_fini). */
struct guest_record {
	char *name;
	char *kind;	    /* "vm" or "wasm" */
	char *config;	    /* JSON text of the create request */
	char *state;	    /* created, running, paused, stopped, crashed */
	int64_t pid;	    /* 0 when no process */
	uint64_t pid_start; /* starttime from /proc/PID/stat (clock ticks after boot) */
	bool has_exit;
	int exit_status;
	char *exit_reason;
	bool stop_requested; /* a stop/kill was asked for: the exit is not a failure */
	uint64_t restarts;
	int64_t created_ms, started_ms, finished_ms; /* Unix time in ms, 0 = never */
};

struct guest_event {
	int64_t id;
	int64_t time_ms;
	char *guest;
	char *type;
	char *detail;
};

/* Opens (creating when needed) the registry at `path`. Returns 0, or -EIO with a
 * message in err (SQLite's own, naming the file). */
int registry_open(const char *path, struct registry **out, char *err, size_t errlen)
	__attribute__((warn_unused_result));
void registry_close(struct registry *r);

/* Inserts a new guest (state "created"). -EEXIST if the name is taken, -EIO otherwise. */
int registry_insert(struct registry *r, const struct guest_record *g)
	__attribute__((warn_unused_result));

/* Writes every mutable field of g (state, pid, exit, restarts, times). -ENOENT, -EIO. */
int registry_update(struct registry *r, const struct guest_record *g)
	__attribute__((warn_unused_result));

int registry_delete(struct registry *r, const char *name) __attribute__((warn_unused_result));

/* Loads one guest (-ENOENT), or calls fn for every guest in name order. */
int registry_get(struct registry *r, const char *name, struct guest_record *out)
	__attribute__((warn_unused_result));
int registry_each(struct registry *r, void (*fn)(void *opaque, struct guest_record *g),
		  void *opaque) __attribute__((warn_unused_result));
void registry_record_fini(struct guest_record *g);

/* Appends an event (id and time assigned) and keeps the newest REGISTRY_MAX_EVENTS.
 * Returns 0 or -EIO; *id_out (may be NULL) gets the new id. */
#define REGISTRY_MAX_EVENTS 10000
int registry_event(struct registry *r, const char *guest, const char *type, const char *detail,
		   int64_t *id_out) __attribute__((warn_unused_result));

/* Calls fn for each event with id > after (oldest first), at most `limit`. */
int registry_events(struct registry *r, int64_t after, unsigned limit,
		    void (*fn)(void *opaque, const struct guest_event *e), void *opaque)
	__attribute__((warn_unused_result));

/* Unix time in milliseconds. */
int64_t registry_now_ms(void);

#endif
