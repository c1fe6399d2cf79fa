/*
 * A real program for bench/wasm: Debian's SQLite 3 (the sqlite3 source package, built
 * into its amalgamation and linked in) running an in-memory database: a table with an
 * index filled by 40000 prepared inserts in one transaction, range aggregates, index
 * lookups, a GROUP BY with ORDER BY, an UPDATE and a DELETE, and a join. Built with
 * SQLITE_OS_OTHER and the small VFS below (memory databases need no files; randomness and
 * time are fixed) on both sides, so native and wasm32-wasi run the same code. Prints
 * "kernel sqlite ns=N checksum=0x..." (bench.h); the time covers the queries.
 */
#include "../kernels/bench.h"

#include "sqlite3.h"

#include <string.h>

/* ----- a VFS for memory databases only ----- */

static int vfs_open(sqlite3_vfs *v, const char *name, sqlite3_file *f, int flags, int *out)
{
	(void)v, (void)name, (void)f, (void)flags, (void)out;
	return SQLITE_CANTOPEN;
}

static int vfs_delete(sqlite3_vfs *v, const char *name, int sync)
{
	(void)v, (void)name, (void)sync;
	return SQLITE_IOERR_DELETE;
}

static int vfs_access(sqlite3_vfs *v, const char *name, int flags, int *out)
{
	(void)v, (void)name, (void)flags;
	*out = 0;
	return SQLITE_OK;
}

static int vfs_fullpath(sqlite3_vfs *v, const char *name, int n, char *out)
{
	(void)v;
	sqlite3_snprintf(n, out, "%s", name);
	return SQLITE_OK;
}

static int vfs_random(sqlite3_vfs *v, int n, char *out)
{
	(void)v;
	for (int i = 0; i < n; i++)
		out[i] = (char)(i * 37 + 11);
	return n;
}

static int vfs_sleep(sqlite3_vfs *v, int us)
{
	(void)v;
	return us;
}

static int vfs_time(sqlite3_vfs *v, sqlite3_int64 *out)
{
	(void)v;
	*out = 210866760000000ll + 1700000000000ll; /* a fixed moment, in ms since -4713 */
	return SQLITE_OK;
}

static int vfs_error(sqlite3_vfs *v, int n, char *out)
{
	(void)v, (void)n, (void)out;
	return 0;
}

static sqlite3_vfs mem_vfs = {
	.iVersion = 2,
	.szOsFile = sizeof(sqlite3_file),
	.mxPathname = 256,
	.zName = "bench-mem",
	.xOpen = vfs_open,
	.xDelete = vfs_delete,
	.xAccess = vfs_access,
	.xFullPathname = vfs_fullpath,
	.xRandomness = vfs_random,
	.xSleep = vfs_sleep,
	.xGetLastError = vfs_error,
	.xCurrentTimeInt64 = vfs_time,
};

int sqlite3_os_init(void)
{
	return sqlite3_vfs_register(&mem_vfs, 1);
}

int sqlite3_os_end(void)
{
	return SQLITE_OK;
}

/* ----- the workload ----- */

static sqlite3 *db;
static uint64_t sum;

static int fail(const char *what)
{
	fprintf(stderr, "sqlite: %s: %s\n", what, sqlite3_errmsg(db));
	return 1;
}

static int exec(const char *sql)
{
	char *err = NULL;

	if (sqlite3_exec(db, sql, NULL, NULL, &err) != SQLITE_OK) {
		fprintf(stderr, "sqlite: %s: %s\n", sql, err ? err : "?");
		return 1;
	}
	return 0;
}

/* Runs a prepared query with two integer parameters, adding every integer column of
 * every row to the checksum. */
static int query(sqlite3_stmt *st, int64_t a, int64_t b)
{
	int rc;

	sqlite3_reset(st);
	sqlite3_bind_int64(st, 1, a);
	sqlite3_bind_int64(st, 2, b);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW)
		for (int i = 0; i < sqlite3_column_count(st); i++)
			sum = sum * 31 + (uint64_t)sqlite3_column_int64(st, i);
	return rc == SQLITE_DONE ? 0 : fail("query");
}

static int run(void)
{
	static const char *const setup =
		"CREATE TABLE t(id INTEGER PRIMARY KEY, a INTEGER, b TEXT, c REAL);"
		"CREATE INDEX ta ON t(a);"
		"CREATE TABLE u(k INTEGER PRIMARY KEY, name TEXT);";
	sqlite3_stmt *ins, *range, *look, *group, *join;
	uint64_t seed = 7;
	char name[32];

	if (exec(setup) || exec("BEGIN"))
		return 1;
	if (sqlite3_prepare_v2(db, "INSERT INTO t(a, b, c) VALUES (?1, ?2, ?1 * 0.5)", -1, &ins,
			       NULL) != SQLITE_OK)
		return fail("prepare insert");
	for (int i = 0; i < 40000; i++) {
		int64_t a = (int64_t)(bench_rand(&seed) % 100000);
		snprintf(name, sizeof(name), "name-%d-%lld", i, (long long)(a % 977));
		sqlite3_reset(ins);
		sqlite3_bind_int64(ins, 1, a);
		sqlite3_bind_text(ins, 2, name, -1, SQLITE_TRANSIENT);
		if (sqlite3_step(ins) != SQLITE_DONE)
			return fail("insert");
	}
	sqlite3_finalize(ins);
	if (exec("INSERT INTO u SELECT a % 1000, 'u' || (a % 1000) FROM t WHERE true "
		 "ON CONFLICT DO NOTHING") ||
	    exec("COMMIT"))
		return 1;
	if (sqlite3_prepare_v2(db, "SELECT count(*), sum(a), CAST(sum(c) AS INTEGER) FROM t "
				   "WHERE a BETWEEN ?1 AND ?2",
			       -1, &range, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(db, "SELECT id, length(b) FROM t WHERE a = ?1 OR a = ?2", -1, &look,
			       NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(db, "SELECT a % ?1 AS k, count(*), max(id) FROM t WHERE id > ?2 "
				   "GROUP BY k ORDER BY count(*) DESC, k LIMIT 20",
			       -1, &group, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(db, "SELECT count(*), sum(length(u.name)) FROM t JOIN u ON "
				   "u.k = t.a % 1000 WHERE t.a < ?1 AND t.id > ?2",
			       -1, &join, NULL) != SQLITE_OK)
		return fail("prepare");
	for (int i = 0; i < 150; i++)
		if (query(range, i * 600, i * 600 + 5000))
			return 1;
	for (int i = 0; i < 10000; i++)
		if (query(look, (int64_t)(bench_rand(&seed) % 100000), i))
			return 1;
	for (int i = 1; i <= 30; i++)
		if (query(group, 7 + i, i * 100))
			return 1;
	if (exec("UPDATE t SET c = c + 1, b = b || 'x' WHERE a % 7 = 3") ||
	    exec("DELETE FROM t WHERE a % 11 = 5"))
		return 1;
	for (int i = 0; i < 10; i++)
		if (query(join, 50000 + i * 1000, i * 10))
			return 1;
	sqlite3_finalize(range);
	sqlite3_finalize(look);
	sqlite3_finalize(group);
	sqlite3_finalize(join);
	return 0;
}

int main(void)
{
	uint64_t t0;
	int rc;

	if (sqlite3_open(":memory:", &db) != SQLITE_OK)
		return 1;
	t0 = bench_now_ns();
	rc = run();
	if (!rc)
		bench_report("sqlite", t0, sum);
	sqlite3_close(db);
	return rc;
}
