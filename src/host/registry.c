/*
 * The SQLite registry (see registry.h). Statements are prepared per call: the registry
 * handles a few operations per API request, and a plain design beats a statement cache.
 */
#include "host/registry.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sqlite3.h>

#include "api/json.h"
#include "core/keyval.h"
#include "core/log.h"

/* PRAGMA user_version: 1 once a guest's "disks" entries are `lodge run --disk` specs;
 * before (0), each was a path, taken as it was. */
#define REGISTRY_VERSION 1

struct registry {
	sqlite3 *db;
	char path[256];
};

static const char schema[] = "CREATE TABLE IF NOT EXISTS guests ("
			     " name TEXT PRIMARY KEY NOT NULL,"
			     " kind TEXT NOT NULL,"
			     " config TEXT NOT NULL,"
			     " state TEXT NOT NULL,"
			     " pid INTEGER NOT NULL DEFAULT 0,"
			     " pid_start INTEGER NOT NULL DEFAULT 0,"
			     " has_exit INTEGER NOT NULL DEFAULT 0,"
			     " exit_status INTEGER NOT NULL DEFAULT 0,"
			     " exit_reason TEXT,"
			     " stop_requested INTEGER NOT NULL DEFAULT 0,"
			     " restarts INTEGER NOT NULL DEFAULT 0,"
			     " created_ms INTEGER NOT NULL DEFAULT 0,"
			     " started_ms INTEGER NOT NULL DEFAULT 0,"
			     " finished_ms INTEGER NOT NULL DEFAULT 0);"
			     "CREATE TABLE IF NOT EXISTS events ("
			     " id INTEGER PRIMARY KEY AUTOINCREMENT,"
			     " time_ms INTEGER NOT NULL,"
			     " guest TEXT NOT NULL,"
			     " type TEXT NOT NULL,"
			     " detail TEXT NOT NULL);";

int64_t registry_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int fail(struct registry *r, const char *what)
{
	log_err("registry %s: %s: %s", r->path, what, sqlite3_errmsg(r->db));
	return -EIO;
}

static int upgrade(struct registry *r);

int registry_open(const char *path, struct registry **out, char *err, size_t errlen)
{
	struct registry *r = calloc(1, sizeof(*r));
	char *msg = NULL;

	if (!r) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	snprintf(r->path, sizeof(r->path), "%s", path);
	if (sqlite3_open_v2(path, &r->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL) !=
		    SQLITE_OK ||
	    sqlite3_exec(r->db,
			 "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;"
			 "PRAGMA busy_timeout=2000;",
			 NULL, NULL, &msg) != SQLITE_OK ||
	    sqlite3_exec(r->db, schema, NULL, NULL, &msg) != SQLITE_OK) {
		snprintf(err, errlen, "%s: %s", path, msg ? msg : sqlite3_errmsg(r->db));
		sqlite3_free(msg);
		sqlite3_close(r->db);
		free(r);
		return -EIO;
	}
	if (upgrade(r)) {
		snprintf(err, errlen,
			 "%s: cannot bring its guests' records up to this version (its log says "
			 "why)",
			 path);
		sqlite3_close(r->db);
		free(r);
		return -EIO;
	}
	*out = r;
	return 0;
}

/* A version-0 entry (a path) as the spec that names the same file: path=, its ','
 * doubled, when it has ',' or '=' (NULL when out of memory). */
static char *disk_path_spec(const char *path)
{
	size_t n = keyval_escape(NULL, 0, path);
	char *out = malloc(n + sizeof("path="));

	if (!out)
		return NULL;
	if (!strpbrk(path, ",=")) {
		strcpy(out, path);
		return out;
	}
	memcpy(out, "path=", 5);
	keyval_escape(out + 5, n + 1, path);
	return out;
}

/* Registries written before REGISTRY_VERSION: their guests' disk paths become specs (a
 * path with ',' or '=' would otherwise read as options: another file, or a refusal). */
static int upgrade(struct registry *r)
{
	sqlite3_stmt *st = NULL, *up = NULL;
	int version = 0, rc;
	char sql[64];

	if (sqlite3_prepare_v2(r->db, "PRAGMA user_version", -1, &st, NULL) != SQLITE_OK)
		return fail(r, "reading its version");
	if (sqlite3_step(st) == SQLITE_ROW)
		version = sqlite3_column_int(st, 0);
	sqlite3_finalize(st);
	if (version >= REGISTRY_VERSION)
		return 0;
	if (sqlite3_exec(r->db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK)
		return fail(r, "upgrading");
	if (sqlite3_prepare_v2(r->db, "SELECT name, config FROM guests", -1, &st, NULL) !=
		    SQLITE_OK ||
	    sqlite3_prepare_v2(r->db, "UPDATE guests SET config = ?1 WHERE name = ?2", -1, &up,
			       NULL) != SQLITE_OK)
		goto err;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		const char *cfg = (const char *)sqlite3_column_text(st, 1);
		cJSON *o = cfg ? cJSON_Parse(cfg) : NULL;
		cJSON *disks = o ? cJSON_GetObjectItemCaseSensitive(o, "disks") : NULL, *e;
		char *text;
		bool changed = false;
		cJSON_ArrayForEach(e, disks)
		{
			char *spec = cJSON_IsString(e) ? disk_path_spec(e->valuestring) : NULL;
			if (spec && strcmp(spec, e->valuestring)) {
				cJSON_SetValuestring(e, spec);
				changed = true;
			}
			free(spec);
		}
		text = changed ? cJSON_PrintUnformatted(o) : NULL;
		cJSON_Delete(o);
		if (!changed)
			continue;
		if (!text)
			goto err;
		sqlite3_reset(up);
		rc = sqlite3_bind_text(up, 1, text, -1, SQLITE_TRANSIENT);
		rc = rc
			     ?: sqlite3_bind_text(up, 2, (const char *)sqlite3_column_text(st, 0),
						  -1, SQLITE_TRANSIENT);
		free(text);
		if (rc != SQLITE_OK || sqlite3_step(up) != SQLITE_DONE)
			goto err;
	}
	if (rc != SQLITE_DONE)
		goto err;
	sqlite3_finalize(st);
	sqlite3_finalize(up);
	snprintf(sql, sizeof(sql), "PRAGMA user_version = %d; COMMIT", REGISTRY_VERSION);
	if (sqlite3_exec(r->db, sql, NULL, NULL, NULL) != SQLITE_OK)
		return fail(r, "upgrading");
	return 0;
err:
	rc = fail(r, "upgrading its guests' disks");
	sqlite3_finalize(st);
	sqlite3_finalize(up);
	sqlite3_exec(r->db, "ROLLBACK", NULL, NULL, NULL);
	return rc;
}

void registry_close(struct registry *r)
{
	if (!r)
		return;
	sqlite3_close(r->db);
	free(r);
}

static char *dup_col(sqlite3_stmt *st, int i)
{
	const unsigned char *t = sqlite3_column_text(st, i);

	return t ? strdup((const char *)t) : NULL;
}

static void read_row(sqlite3_stmt *st, struct guest_record *g)
{
	memset(g, 0, sizeof(*g));
	g->name = dup_col(st, 0);
	g->kind = dup_col(st, 1);
	g->config = dup_col(st, 2);
	g->state = dup_col(st, 3);
	g->pid = sqlite3_column_int64(st, 4);
	g->pid_start = (uint64_t)sqlite3_column_int64(st, 5);
	g->has_exit = sqlite3_column_int(st, 6) != 0;
	g->exit_status = sqlite3_column_int(st, 7);
	g->exit_reason = dup_col(st, 8);
	g->stop_requested = sqlite3_column_int(st, 9) != 0;
	g->restarts = (uint64_t)sqlite3_column_int64(st, 10);
	g->created_ms = sqlite3_column_int64(st, 11);
	g->started_ms = sqlite3_column_int64(st, 12);
	g->finished_ms = sqlite3_column_int64(st, 13);
}

#define COLUMNS                                                                                    \
	"name, kind, config, state, pid, pid_start, has_exit, exit_status, exit_reason, "          \
	"stop_requested, restarts, created_ms, started_ms, finished_ms"

void registry_record_fini(struct guest_record *g)
{
	free(g->name);
	free(g->kind);
	free(g->config);
	free(g->state);
	free(g->exit_reason);
	memset(g, 0, sizeof(*g));
}

/* Binds the mutable fields from ?2 on (name is ?1). */
static void bind_mutable(sqlite3_stmt *st, const struct guest_record *g)
{
	sqlite3_bind_text(st, 2, g->state, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 3, g->pid);
	sqlite3_bind_int64(st, 4, (sqlite3_int64)g->pid_start);
	sqlite3_bind_int(st, 5, g->has_exit);
	sqlite3_bind_int(st, 6, g->exit_status);
	if (g->exit_reason)
		sqlite3_bind_text(st, 7, g->exit_reason, -1, SQLITE_STATIC);
	else
		sqlite3_bind_null(st, 7);
	sqlite3_bind_int(st, 8, g->stop_requested);
	sqlite3_bind_int64(st, 9, (sqlite3_int64)g->restarts);
	sqlite3_bind_int64(st, 10, g->started_ms);
	sqlite3_bind_int64(st, 11, g->finished_ms);
}

int registry_insert(struct registry *r, const struct guest_record *g)
{
	sqlite3_stmt *st;
	int rc;

	if (sqlite3_prepare_v2(r->db,
			       "INSERT INTO guests (name, state, pid, pid_start, has_exit, "
			       "exit_status, exit_reason, stop_requested, restarts, started_ms, "
			       "finished_ms, kind, config, created_ms) VALUES "
			       "(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)",
			       -1, &st, NULL) != SQLITE_OK)
		return fail(r, "insert");
	sqlite3_bind_text(st, 1, g->name, -1, SQLITE_STATIC);
	bind_mutable(st, g);
	sqlite3_bind_text(st, 12, g->kind, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 13, g->config, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 14, g->created_ms);
	rc = sqlite3_step(st);
	sqlite3_finalize(st);
	if (rc == SQLITE_CONSTRAINT)
		return -EEXIST;
	return rc == SQLITE_DONE ? 0 : fail(r, "insert");
}

int registry_update(struct registry *r, const struct guest_record *g)
{
	sqlite3_stmt *st;
	int rc;

	if (sqlite3_prepare_v2(r->db,
			       "UPDATE guests SET state = ?2, pid = ?3, pid_start = ?4, "
			       "has_exit = ?5, exit_status = ?6, exit_reason = ?7, "
			       "stop_requested = ?8, restarts = ?9, started_ms = ?10, "
			       "finished_ms = ?11 WHERE name = ?1",
			       -1, &st, NULL) != SQLITE_OK)
		return fail(r, "update");
	sqlite3_bind_text(st, 1, g->name, -1, SQLITE_STATIC);
	bind_mutable(st, g);
	rc = sqlite3_step(st);
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE)
		return fail(r, "update");
	return sqlite3_changes(r->db) ? 0 : -ENOENT;
}

int registry_delete(struct registry *r, const char *name)
{
	sqlite3_stmt *st;
	int rc;

	if (sqlite3_prepare_v2(r->db, "DELETE FROM guests WHERE name = ?1", -1, &st, NULL) !=
	    SQLITE_OK)
		return fail(r, "delete");
	sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE)
		return fail(r, "delete");
	return sqlite3_changes(r->db) ? 0 : -ENOENT;
}

int registry_get(struct registry *r, const char *name, struct guest_record *out)
{
	sqlite3_stmt *st;
	int rc;

	if (sqlite3_prepare_v2(r->db, "SELECT " COLUMNS " FROM guests WHERE name = ?1", -1, &st,
			       NULL) != SQLITE_OK)
		return fail(r, "select");
	sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		read_row(st, out);
	sqlite3_finalize(st);
	if (rc == SQLITE_ROW)
		return 0;
	return rc == SQLITE_DONE ? -ENOENT : fail(r, "select");
}

int registry_each(struct registry *r, void (*fn)(void *opaque, struct guest_record *g),
		  void *opaque)
{
	sqlite3_stmt *st;
	int rc;

	if (sqlite3_prepare_v2(r->db, "SELECT " COLUMNS " FROM guests ORDER BY name", -1, &st,
			       NULL) != SQLITE_OK)
		return fail(r, "select");
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		struct guest_record g;
		read_row(st, &g);
		fn(opaque, &g);
		registry_record_fini(&g);
	}
	sqlite3_finalize(st);
	return rc == SQLITE_DONE ? 0 : fail(r, "select");
}

int registry_event(struct registry *r, const char *guest, const char *type, const char *detail,
		   int64_t *id_out)
{
	sqlite3_stmt *st;
	int rc;

	if (sqlite3_prepare_v2(r->db,
			       "INSERT INTO events (time_ms, guest, type, detail) "
			       "VALUES (?1, ?2, ?3, ?4)",
			       -1, &st, NULL) != SQLITE_OK)
		return fail(r, "event");
	sqlite3_bind_int64(st, 1, registry_now_ms());
	sqlite3_bind_text(st, 2, guest, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, type, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 4, detail ? detail : "", -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE)
		return fail(r, "event");
	if (id_out)
		*id_out = sqlite3_last_insert_rowid(r->db);
	/* Keep the newest events only (cheap: the id is the primary key). */
	if (sqlite3_last_insert_rowid(r->db) % 256 == 0) {
		char sql[128];
		snprintf(sql, sizeof(sql), "DELETE FROM events WHERE id <= %lld",
			 (long long)(sqlite3_last_insert_rowid(r->db) - REGISTRY_MAX_EVENTS));
		if (sqlite3_exec(r->db, sql, NULL, NULL, NULL) != SQLITE_OK)
			return fail(r, "event pruning");
	}
	return 0;
}

int registry_events(struct registry *r, int64_t after, unsigned limit,
		    void (*fn)(void *opaque, const struct guest_event *e), void *opaque)
{
	sqlite3_stmt *st;
	int rc;

	if (sqlite3_prepare_v2(r->db,
			       "SELECT id, time_ms, guest, type, detail FROM events "
			       "WHERE id > ?1 ORDER BY id LIMIT ?2",
			       -1, &st, NULL) != SQLITE_OK)
		return fail(r, "events");
	sqlite3_bind_int64(st, 1, after);
	sqlite3_bind_int64(st, 2, limit);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		struct guest_event e = {
			.id = sqlite3_column_int64(st, 0),
			.time_ms = sqlite3_column_int64(st, 1),
			.guest = (char *)sqlite3_column_text(st, 2),
			.type = (char *)sqlite3_column_text(st, 3),
			.detail = (char *)sqlite3_column_text(st, 4),
		};
		fn(opaque, &e);
	}
	sqlite3_finalize(st);
	return rc == SQLITE_DONE ? 0 : fail(r, "events");
}
