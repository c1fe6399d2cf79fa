/*
 * Unit tests for the daemon's registry (host/registry.c: rows, a taken name, updates,
 * events and their pruning, reopening) and cgroup module (host/cgroup.c) on fake cgroup
 * trees, one v1 (a directory per controller) and one v2, checking the exact files and
 * formats each version gets for the same limits, and what is reported as skipped; and the
 * range of host ids guests' roots map to (host/sandbox.c: /etc/subuid and /etc/subgid); a
 * spawned guest process that exits when the daemon goes before its go.
 */
#include "host/cgroup.h"
#include "host/registry.h"
#include "host/sandbox.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <unistd.h>

#include <sqlite3.h>

#include "harness.h"

static char dir[128];

static void tmpdir(void)
{
	snprintf(dir, sizeof(dir), "/tmp/lodge-test-host-XXXXXX");
	if (!mkdtemp(dir))
		dir[0] = 0;
}

static void rmrf(void)
{
	char cmd[200];

	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	if (system(cmd) != 0)
		fprintf(stderr, "cannot remove %s\n", dir);
}

static void count_row(void *opaque, struct guest_record *g)
{
	(void)g;
	++*(int *)opaque;
}

static void count_event(void *opaque, const struct guest_event *e)
{
	*(int64_t *)opaque = e->id;
}

static int test_registry(void)
{
	struct registry *r;
	struct guest_record g = {0}, got;
	char db[200], err[256], name[] = "web", kind[] = "wasm", config[] = "{}";
	char created[] = "created", running[] = "running", reason[] = "x\"y";
	char old[] = "old", old_config[] = "{\"disks\":[\"/t/a,b=c.img\",\"/t/d.img\"]}";
	int n = 0;
	int64_t id = 0, last = 0;

	tmpdir();
	snprintf(db, sizeof(db), "%s/lodge.db", dir);
	CHECK_EQ(registry_open(db, &r, err, sizeof(err)), 0);
	g.name = name;
	g.kind = kind;
	g.config = config;
	g.state = created;
	g.created_ms = 1234;
	CHECK_EQ(registry_insert(r, &g), 0);
	CHECK_EQ(registry_insert(r, &g), -EEXIST);
	g.state = running;
	g.pid = 42;
	g.pid_start = 777;
	g.exit_reason = reason;
	CHECK_EQ(registry_update(r, &g), 0);
	registry_close(r);
	/* everything survives a reopen */
	CHECK_EQ(registry_open(db, &r, err, sizeof(err)), 0);
	CHECK_EQ(registry_get(r, "web", &got), 0);
	CHECK(!strcmp(got.state, "running") && got.pid == 42 && got.pid_start == 777);
	CHECK(!strcmp(got.exit_reason, "x\"y") && got.created_ms == 1234);
	registry_record_fini(&got);
	CHECK_EQ(registry_get(r, "nope", &got), -ENOENT);
	CHECK_EQ(registry_each(r, count_row, &n), 0);
	CHECK_EQ(n, 1);
	/* events: ids grow; old ones are pruned past the limit */
	for (int i = 0; i < REGISTRY_MAX_EVENTS + 300; i++)
		CHECK_EQ(registry_event(r, "web", "tick", "", &id), 0);
	CHECK_EQ(registry_events(r, id - 1, 10, count_event, &last), 0);
	CHECK_EQ(last, id);
	last = 0;
	CHECK_EQ(registry_events(r, 0, 1, count_event, &last), 0);
	CHECK(last > 1); /* the oldest were pruned */
	CHECK_EQ(registry_delete(r, "web"), 0);
	CHECK_EQ(registry_delete(r, "web"), -ENOENT);
	/* a registry of the version before disk specs: its disk paths become specs naming
	 * the same files, once */
	g.name = old;
	g.config = old_config;
	CHECK_EQ(registry_insert(r, &g), 0);
	registry_close(r);
	{
		sqlite3 *db3;
		CHECK_EQ(sqlite3_open(db, &db3), SQLITE_OK);
		CHECK_EQ(sqlite3_exec(db3, "PRAGMA user_version = 0", NULL, NULL, NULL), SQLITE_OK);
		sqlite3_close(db3);
	}
	for (int k = 0; k < 2; k++) {
		CHECK_EQ(registry_open(db, &r, err, sizeof(err)), 0);
		CHECK_EQ(registry_get(r, "old", &got), 0);
		CHECK(!strcmp(got.config, "{\"disks\":[\"path=/t/a,,b=c.img\",\"/t/d.img\"]}"));
		registry_record_fini(&got);
		registry_close(r);
	}
	rmrf();
	return 0;
}

static int read_file(const char *path, char *buf, size_t len)
{
	FILE *f = fopen(path, "r");
	size_t n;

	if (!f)
		return -1;
	n = fread(buf, 1, len - 1, f);
	buf[n] = 0;
	fclose(f);
	return 0;
}

/* A fake controller file: the cgroup module writes only files that exist. */
static void touch(const char *base, const char *file)
{
	char p[300];
	FILE *f;

	if (snprintf(p, sizeof(p), "%s/%s", base, file) >= (int)sizeof(p))
		return; /* the test's own paths are short */
	f = fopen(p, "w");
	if (f)
		fclose(f);
}

static int test_cgroup_v1(void)
{
	static const char *const files[][2] = {
		{"cpu", "cpu.cfs_period_us"},
		{"cpu", "cpu.cfs_quota_us"},
		{"memory", "memory.limit_in_bytes"},
		{"pids", "pids.max"},
		{"blkio", "blkio.throttle.read_bps_device"},
		{"blkio", "blkio.throttle.write_bps_device"},
		{"blkio", "blkio.throttle.read_iops_device"},
		{"blkio", "blkio.throttle.write_iops_device"},
	};
	struct cgroup_env env;
	struct cgroup_limits lim = {.cpu_quota = 0.5,
				    .memory = 64 << 20,
				    .pids = 65,
				    .io_bps = 1000000,
				    .io_iops = 300,
				    .io_dev = makedev(8, 16)};
	char applied[128], skipped[256], p[300], buf[128];

	tmpdir();
	CHECK_EQ(cgroup_env_init(&env, 1, dir, "lodge"), 0);
	CHECK_EQ(env.version, 1);
	/* the module makes the group directories; the kernel would fill them with files */
	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		snprintf(p, sizeof(p), "%s/%s/lodge/g-g", dir, files[i][0]);
		mkdir(p, 0755);
		touch(p, files[i][1]);
	}
	CHECK_EQ(cgroup_create(&env, "g", &lim, applied, sizeof(applied), skipped, sizeof(skipped)),
		 0);
	CHECK(!strcmp(applied, "cpu memory pids io"));
	snprintf(p, sizeof(p), "%s/cpu/lodge/g-g/cpu.cfs_quota_us", dir);
	CHECK(read_file(p, buf, sizeof(buf)) == 0 && !strcmp(buf, "50000"));
	snprintf(p, sizeof(p), "%s/cpu/lodge/g-g/cpu.cfs_period_us", dir);
	CHECK(read_file(p, buf, sizeof(buf)) == 0 && !strcmp(buf, "100000"));
	snprintf(p, sizeof(p), "%s/memory/lodge/g-g/memory.limit_in_bytes", dir);
	CHECK(read_file(p, buf, sizeof(buf)) == 0 && !strcmp(buf, "67108864"));
	snprintf(p, sizeof(p), "%s/pids/lodge/g-g/pids.max", dir);
	CHECK(read_file(p, buf, sizeof(buf)) == 0 && !strcmp(buf, "65"));
	snprintf(p, sizeof(p), "%s/blkio/lodge/g-g/blkio.throttle.write_bps_device", dir);
	CHECK(read_file(p, buf, sizeof(buf)) == 0 && !strcmp(buf, "8:16 1000000"));
	snprintf(p, sizeof(p), "%s/blkio/lodge/g-g/blkio.throttle.read_iops_device", dir);
	CHECK(read_file(p, buf, sizeof(buf)) == 0 && !strcmp(buf, "8:16 300"));
	/* an iops limit alone */
	lim.io_bps = 0;
	CHECK_EQ(cgroup_create(&env, "g", &lim, applied, sizeof(applied), skipped, sizeof(skipped)),
		 0);
	CHECK(!strcmp(applied, "cpu memory pids io"));
	lim.io_bps = 1000000;
	/* without a block device, the io limit is skipped and says why */
	lim.io_dev = 0;
	CHECK_EQ(cgroup_create(&env, "g", &lim, applied, sizeof(applied), skipped, sizeof(skipped)),
		 0);
	CHECK(strstr(skipped, "io(the disks are not on a block device)"));
	/* a killed daemon's groups: the next one's sweep removes the empty ones and keeps
	 * one rmdir refuses (here a file in it; in cgroupfs, a process) */
	snprintf(p, sizeof(p), "%s/pids/lodge/stale", dir);
	CHECK_EQ(mkdir(p, 0755), 0);
	CHECK_EQ(cgroup_env_sweep(&env), 2); /* stale, and g in cpuacct (no files there) */
	snprintf(p, sizeof(p), "%s/pids/lodge/stale", dir);
	CHECK(access(p, F_OK) != 0);
	snprintf(p, sizeof(p), "%s/cpuacct/lodge/g-g", dir);
	CHECK(access(p, F_OK) != 0);
	snprintf(p, sizeof(p), "%s/pids/lodge/g-g", dir);
	CHECK(access(p, F_OK) == 0); /* holds pids.max */
	CHECK_EQ(cgroup_env_sweep(&env), 0);
	rmrf();
	return 0;
}

/* A guest named after a control file gets a group of its own; a limit refused for another
 * reason than a missing controller fails the create. */
static int test_cgroup_names_and_refusals(void)
{
	struct cgroup_env env;
	struct cgroup_limits lim = {.cpu_quota = 0.5, .pids = 65};
	char applied[128], skipped[256], p[300], buf[128];

	tmpdir();
	CHECK_EQ(cgroup_env_init(&env, 1, dir, "lodge"), 0);
	/* the parent group's own files, as the kernel has them */
	snprintf(p, sizeof(p), "%s/pids/lodge", dir);
	touch(p, "tasks");
	touch(p, "pids.max");
	snprintf(p, sizeof(p), "%s/pids/lodge/g-tasks", dir);
	CHECK_EQ(mkdir(p, 0755), 0);
	touch(p, "pids.max");
	CHECK_EQ(cgroup_create(&env, "tasks", &lim, applied, sizeof(applied), skipped,
			       sizeof(skipped)),
		 0);
	CHECK(strstr(applied, "pids") != NULL);
	snprintf(p, sizeof(p), "%s/pids/lodge/g-tasks/pids.max", dir);
	CHECK(read_file(p, buf, sizeof(buf)) == 0 && !strcmp(buf, "65"));
	snprintf(p, sizeof(p), "%s/pids/lodge/pids.max", dir);
	CHECK(read_file(p, buf, sizeof(buf)) == 0 && !strcmp(buf, "")); /* untouched */
	/* a file the kernel refuses (here a directory where the quota is): an error, not a
	 * limit skipped */
	snprintf(p, sizeof(p), "%s/cpu/lodge/g-r", dir);
	CHECK_EQ(mkdir(p, 0755), 0);
	snprintf(p, sizeof(p), "%s/cpu/lodge/g-r/cpu.cfs_period_us", dir);
	CHECK_EQ(mkdir(p, 0755), 0);
	CHECK_EQ(cgroup_create(&env, "r", &lim, applied, sizeof(applied), skipped, sizeof(skipped)),
		 -EISDIR);
	CHECK(strstr(skipped, "cpu(") != NULL);
	/* a missing file (a controller the host lacks): skipped, the create succeeds */
	CHECK_EQ(rmdir(p), 0);
	CHECK_EQ(cgroup_create(&env, "r", &lim, applied, sizeof(applied), skipped, sizeof(skipped)),
		 0);
	CHECK(strstr(skipped, "cpu(controller not available)") != NULL);
	rmrf();
	return 0;
}

/* A pool process's group renamed its guest's in every hierarchy (pool.c), or in none. */
static int test_cgroup_rename(void)
{
	static const char *const ctrls[] = {"cpu", "cpuacct", "memory", "pids", "blkio"};
	static const struct cgroup_limits none;
	struct cgroup_env env;
	char p[300];

	tmpdir();
	CHECK_EQ(cgroup_env_init(&env, 1, dir, "lodge"), 0);
	CHECK_EQ(cgroup_create(&env, ".pool.0", &none, NULL, 0, NULL, 0), 0);
	CHECK_EQ(cgroup_rename(&env, ".pool.0", "g"), 0);
	for (size_t i = 0; i < sizeof(ctrls) / sizeof(ctrls[0]); i++) {
		snprintf(p, sizeof(p), "%s/%s/lodge/g-g", dir, ctrls[i]);
		CHECK(access(p, F_OK) == 0);
		snprintf(p, sizeof(p), "%s/%s/lodge/g-.pool.0", dir, ctrls[i]);
		CHECK(access(p, F_OK) != 0);
	}
	/* one hierarchy refuses (its target is there and not empty): the hierarchies renamed
	 * before it are renamed back */
	CHECK_EQ(cgroup_create(&env, ".pool.1", &none, NULL, 0, NULL, 0), 0);
	snprintf(p, sizeof(p), "%s/pids/lodge/g-h", dir);
	CHECK_EQ(mkdir(p, 0755), 0);
	touch(p, "pids.max");
	CHECK(cgroup_rename(&env, ".pool.1", "h") < 0);
	for (size_t i = 0; i < sizeof(ctrls) / sizeof(ctrls[0]); i++) {
		snprintf(p, sizeof(p), "%s/%s/lodge/g-.pool.1", dir, ctrls[i]);
		CHECK(access(p, F_OK) == 0);
		snprintf(p, sizeof(p), "%s/%s/lodge/g-h", dir, ctrls[i]);
		CHECK((access(p, F_OK) == 0) == !strcmp(ctrls[i], "pids"));
	}
	/* v2 cannot rename groups */
	env.version = 2;
	CHECK_EQ(cgroup_rename(&env, ".pool.1", "h2"), -EOPNOTSUPP);
	rmrf();
	return 0;
}

/* A killed daemon's pool groups go, with nothing else (pool_open). */
static int test_cgroup_destroy_prefixed(void)
{
	static const char *const ctrls[] = {"cpu", "cpuacct", "memory", "pids", "blkio"};
	static const struct cgroup_limits none;
	struct cgroup_env env;
	char p[300];

	tmpdir();
	CHECK_EQ(cgroup_env_init(&env, 1, dir, "lodge"), 0);
	CHECK_EQ(cgroup_create(&env, ".pool.2", &none, NULL, 0, NULL, 0), 0);
	CHECK_EQ(cgroup_create(&env, ".pool.17", &none, NULL, 0, NULL, 0), 0);
	CHECK_EQ(cgroup_create(&env, "g.pool.1", &none, NULL, 0, NULL, 0), 0);
	CHECK_EQ(cgroup_create(&env, "pool", &none, NULL, 0, NULL, 0), 0);
	/* only in some hierarchies (a daemon killed while it made or removed it) */
	snprintf(p, sizeof(p), "%s/pids/lodge/g-.pool.5", dir);
	CHECK_EQ(mkdir(p, 0755), 0);
	CHECK_EQ(cgroup_destroy_prefixed(&env, ".pool."), 3);
	for (size_t i = 0; i < sizeof(ctrls) / sizeof(ctrls[0]); i++) {
		static const char *const gone[] = {".pool.2", ".pool.17", ".pool.5"};
		for (size_t k = 0; k < 3; k++) {
			snprintf(p, sizeof(p), "%s/%s/lodge/g-%s", dir, ctrls[i], gone[k]);
			CHECK(access(p, F_OK) != 0);
		}
		snprintf(p, sizeof(p), "%s/%s/lodge/g-g.pool.1", dir, ctrls[i]);
		CHECK(access(p, F_OK) == 0);
		snprintf(p, sizeof(p), "%s/%s/lodge/g-pool", dir, ctrls[i]);
		CHECK(access(p, F_OK) == 0);
	}
	CHECK_EQ(cgroup_destroy_prefixed(&env, ".pool."), 0);
	rmrf();
	return 0;
}

static int test_cgroup_v2(void)
{
	struct cgroup_env env;
	struct cgroup_limits lim = {.cpu_quota = 1.5, .memory = 128 << 20, .pids = 66};
	char applied[128], skipped[256], p[300], buf[128];

	tmpdir();
	/* a fake unified hierarchy offering cpu and pids but not memory */
	snprintf(p, sizeof(p), "%s/cgroup.controllers", dir);
	FILE *f = fopen(p, "w");
	CHECK(f);
	fputs("cpu pids io\n", f);
	fclose(f);
	touch(dir, "cgroup.subtree_control");
	snprintf(p, sizeof(p), "%s/lodge", dir);
	mkdir(p, 0755);
	snprintf(p, sizeof(p), "%s/lodge/cgroup.controllers", dir);
	f = fopen(p, "w");
	CHECK(f);
	fputs("cpu pids io\n", f);
	fclose(f);
	snprintf(p, sizeof(p), "%s/lodge", dir);
	touch(p, "cgroup.subtree_control");
	CHECK_EQ(cgroup_env_init(&env, 2, dir, "lodge"), 0);
	CHECK_EQ(env.version, 2);
	CHECK(env.v2_ctrl[CG_CPU] && env.v2_ctrl[CG_PIDS] && !env.v2_ctrl[CG_MEMORY]);
	snprintf(p, sizeof(p), "%s/lodge/g-g", dir);
	mkdir(p, 0755);
	touch(p, "cpu.max");
	touch(p, "pids.max");
	CHECK_EQ(cgroup_create(&env, "g", &lim, applied, sizeof(applied), skipped, sizeof(skipped)),
		 0);
	CHECK(!strcmp(applied, "cpu pids"));
	CHECK(!strcmp(skipped, "memory(controller not available)"));
	snprintf(p, sizeof(p), "%s/lodge/g-g/cpu.max", dir);
	CHECK(read_file(p, buf, sizeof(buf)) == 0 && !strcmp(buf, "150000 100000"));
	snprintf(p, sizeof(p), "%s/lodge/g-g/pids.max", dir);
	CHECK(read_file(p, buf, sizeof(buf)) == 0 && !strcmp(buf, "66"));
	snprintf(p, sizeof(p), "%s/lodge/cgroup.subtree_control", dir);
	CHECK(read_file(p, buf, sizeof(buf)) == 0 && strstr(buf, "+")); /* controllers enabled */
	rmrf();
	return 0;
}

static void write_text(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	if (f) {
		fputs(text, f);
		fclose(f);
	}
}

static int test_ids(void)
{
	struct sandbox_ids ids;
	char u[200], g[200];

	tmpdir();
	CHECK(dir[0]);
	snprintf(u, sizeof(u), "%s/subuid", dir);
	snprintf(g, sizeof(g), "%s/subgid", dir);
	/* no files, no user "lodge" in them: the defaults */
	CHECK_EQ(sandbox_ids_init(&ids, u, g), 0);
	CHECK(ids.uid == SANDBOX_ID_BASE && ids.gid == SANDBOX_ID_BASE);
	CHECK_EQ(ids.count, SANDBOX_ID_COUNT);
	write_text(u, "alice:100000:65536\n");
	CHECK_EQ(sandbox_ids_init(&ids, u, g), 0);
	CHECK(ids.uid == SANDBOX_ID_BASE);
	/* lodge's ranges; the smaller count holds for both */
	write_text(u, "alice:100000:65536\nlodge:200000:1000\n");
	write_text(g, "lodge:300000:500\n");
	CHECK_EQ(sandbox_ids_init(&ids, u, g), 0);
	CHECK(ids.uid == 200000 && ids.gid == 300000);
	CHECK_EQ(ids.count, 500);
	/* malformed, empty, reaching root's id or past 2^32 */
	write_text(g, "lodge:300000\n");
	CHECK_EQ(sandbox_ids_init(&ids, u, g), -EINVAL);
	write_text(g, "lodge:300000:0\n");
	CHECK_EQ(sandbox_ids_init(&ids, u, g), -EINVAL);
	write_text(g, "lodge:0:10\n");
	CHECK_EQ(sandbox_ids_init(&ids, u, g), -EINVAL);
	write_text(g, "lodge:4294967000:1000\n");
	CHECK_EQ(sandbox_ids_init(&ids, u, g), -EINVAL);
	write_text(g, "lodge:300000:10x\n");
	CHECK_EQ(sandbox_ids_init(&ids, u, g), -EINVAL);
	rmrf();
	return 0;
}

/* A child waiting for its go sees the daemon go: its own copy of the daemon's end of the
 * pair is closed first (kept, a daemon killed before the go left it waiting for good, in
 * its cgroups, holding what it inherited). The daemon's going is its closing gofd here. */
static int test_spawn_daemon_gone(void)
{
	static char name[] = "true";
	static char *const argv[] = {name, NULL}, *const envp[] = {NULL};
	struct sandbox_plan *p = calloc(1, sizeof(*p));
	struct sandbox_child ch = {.binary = "/bin/true", .argv = argv, .envp = envp};
	struct pollfd pfd;
	siginfo_t si = {0};
	char err[200];
	pid_t pid = 0;
	int r;

	CHECK(p != NULL);
	ch.logfd = open("/dev/null", O_WRONLY | O_CLOEXEC);
	CHECK(ch.logfd >= 0);
	CHECK_EQ(sandbox_spawn(p, &ch, &pid, err, sizeof(err)), 0);
	close(ch.gofd); /* the daemon goes before its go */
	pfd = (struct pollfd){.fd = ch.pidfd, .events = POLLIN};
	r = poll(&pfd, 1, 10000);
	if (r != 1)
		kill(pid, SIGKILL); /* (still waiting: reap it below all the same) */
	CHECK_EQ(waitid(P_PID, (id_t)pid, &si, WEXITED), 0);
	CHECK_EQ(r, 1);
	CHECK_EQ(si.si_code, CLD_EXITED);
	CHECK_EQ(si.si_status, 125);
	close(ch.pidfd);
	close(ch.logfd);
	sandbox_child_free(&ch);
	free(p);
	return 0;
}

static const struct unit_test tests[] = {
	{"registry", test_registry},
	{"cgroup_v1", test_cgroup_v1},
	{"cgroup_names_and_refusals", test_cgroup_names_and_refusals},
	{"cgroup_rename", test_cgroup_rename},
	{"cgroup_destroy_prefixed", test_cgroup_destroy_prefixed},
	{"cgroup_v2", test_cgroup_v2},
	{"ids", test_ids},
	{"spawn_daemon_gone", test_spawn_daemon_gone},
};

UNIT_MAIN("host", tests)
