/*
 * The client commands: lodge create, start, stop, kill, pause, resume, rm, ps, logs,
 * console, inspect, events. Each talks to the daemon's API (docs/API.md) through the
 * socket named by --socket, $LODGE_SOCKET, or /run/lodge/lodge.sock, and behaves as
 * docker's and podman's do: actions print each guest's name as it succeeds, errors go to
 * stderr as one line, and the exit status is 0 when everything succeeded, 1 when the
 * daemon refused something or cannot be reached, 2 for a bad command line.
 */
#include "cli/cli.h"
#include "cli/console.h"

#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "api/client.h"
#include "api/json.h"
#include "core/keyval.h"
#include "devices/virtio/blk.h"
#include "host/daemon.h"

#define EXIT_FAIL  1
#define CTRL_A	   0x01
#define TIMEOUT_MS 60000

static void say_err(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void say_err(const char *fmt, ...)
{
	va_list ap;

	fflush(stdout);
	fprintf(stderr, "lodge: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\n");
}

static const char *socket_path(const char *opt)
{
	const char *env = getenv("LODGE_SOCKET");

	if (opt)
		return opt;
	return env && *env ? env : DAEMON_DEFAULT_SOCKET;
}

static struct api_client *connect_daemon(const char *sock, int timeout_ms)
{
	struct api_client *c;
	int r = api_client_open(sock, timeout_ms, &c);

	if (r == 0)
		return c;
	if (r == -EACCES || r == -EPERM)
		say_err("permission denied on the daemon's socket %s (ask for its group, or use "
			"sudo)",
			sock);
	else
		say_err("cannot connect to the Lodge daemon at unix://%s: %s (is it running? "
			"start it with lodge daemon)",
			sock, strerror(-r));
	return NULL;
}

/* The daemon's error message of an answer. */
static const char *message(const struct api_result *r)
{
	const char *m = json_str(r->json, "message", NULL);

	if (m)
		return m;
	return r->body && r->len ? r->body : "the daemon gave no reason";
}

/* One call; returns the HTTP status (0 when the call failed, reported). */
static int call(struct api_client *c, const char *method, const char *target, const char *body,
		struct api_result *r)
{
	int e = api_client_call(c, method, target, body, r);

	if (e) {
		say_err("%s %s: %s", method, target,
			e == -ETIMEDOUT ? "the daemon did not answer in time" : strerror(-e));
		return 0;
	}
	return r->status;
}

/* Percent-encodes a guest name for a path (names are restricted, but the user may type
 * anything). */
static void encode(const char *in, char *out, size_t cap)
{
	size_t o = 0;

	for (; *in && o + 4 < cap; in++) {
		unsigned char ch = (unsigned char)*in;
		if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
		    (ch >= '0' && ch <= '9') || strchr("-._~", ch))
			out[o++] = (char)ch;
		else
			o += (size_t)snprintf(out + o, cap - o, "%%%02X", ch);
	}
	out[o] = 0;
}

/* ---- option parsing shared by the commands ---- */

struct cli_args {
	const char *socket;
	int optind;
};

/* Takes --socket PATH from anywhere in argv; returns false on a missing value. */
static bool take_socket(int *argc, char **argv, const char **sock)
{
	int o = 1;

	for (int i = 1; i < *argc; i++) {
		if (!strcmp(argv[i], "--")) {
			while (i < *argc)
				argv[o++] = argv[i++];
			break;
		}
		if (!strcmp(argv[i], "--socket")) {
			if (i + 1 >= *argc) {
				say_err("--socket needs a path");
				return false;
			}
			*sock = argv[++i];
		} else if (!strncmp(argv[i], "--socket=", 9)) {
			*sock = argv[i] + 9;
		} else {
			argv[o++] = argv[i];
		}
	}
	*argc = o;
	argv[o] = NULL;
	return true;
}

/* ---- create ---- */

static void create_usage(FILE *f)
{
	fprintf(f,
		"usage: lodge create NAME --kernel IMAGE [--initrd FILE] [--append CMDLINE]\n"
		"                         [--firmware FILE] [--disk SPEC]... [--net SPEC]...\n"
		"                         [OPTIONS]\n"
		"       lodge create NAME --wasm APP.wasm [--dir HOST[::GUEST]]... [--env K=V]...\n"
		"                         [OPTIONS] [-- ARGS...]\n"
		"       lodge create NAME --restore SNAPSHOT [--dir HOST[::GUEST]]...\n"
		"                         [--backing-file FILE]... [OPTIONS]\n"
		"       lodge create NAME --incoming HOST:PORT [--kind vm|wasm]\n"
		"                         [--disk FILE]... [--shared-disks] [OPTIONS]\n"
		"       lodge create NAME --standby HOST:PORT [--kind vm|wasm]\n"
		"                         [--failover manual|auto] [--disk FILE]... [OPTIONS]\n"
		"\n"
		"Registers a guest with the daemon (state: created); lodge start runs it.\n"
		"A --disk SPEC is lodge run's: FILE[,format=raw|qcow2][,readonly=on]\n"
		"[,serial=ID][,bps=N][,iops=N][,burst=N][,iops_burst=N] (a ',' in FILE written\n"
		"twice, or path=FILE for one with '='); a migration's or standby's --disk\n"
		"FILEs take no options.\n"
		"A --dir HOST without ::GUEST is where the guest sees it too, as an absolute\n"
		"path (--dir data is --dir $PWD/data::$PWD/data).\n"
		"With --restore it goes on from a snapshot (lodge snapshot): its kernel or\n"
		"module, devices and limits come from the file; a WebAssembly guest needs\n"
		"the --dir options it had, in the same order. A snapshot this daemon did\n"
		"not take (lodge run's) lists no backing files for its disks' copies: give\n"
		"each file they name with --backing-file FILE (shared read-only with the\n"
		"guest where the copies name it). With --incoming, lodge start\n"
		"makes the daemon listen on HOST:PORT (state: incoming) for a live migration\n"
		"(lodge migrate on the source's daemon); the guest runs once it arrived.\n"
		"Its --disk FILEs, one per writable disk of the source's guest, in order and\n"
		"of the same sizes, receive their blocks with the RAM; with --shared-disks\n"
		"they are the source's images themselves (shared storage), opened once the\n"
		"source let go of them.\n"
		"With --standby, the same for a replicated guest (lodge replicate on the\n"
		"primary's daemon; --kind wasm for a WebAssembly one): it keeps the last\n"
		"complete checkpoint and runs it on lodge failover NAME (or at once when the\n"
		"primary is gone, --failover auto); a system guest's --disk FILEs are its\n"
		"copies of the primary's writable disks, made before the primary started.\n"
		"\n"
		"options:\n"
		"  --cpus N             harts of a system guest (default 1)\n"
		"  --mem SIZE           guest RAM (system guest, default 256M) or the Wasm memory\n"
		"                       cap; its cgroup allows this plus Lodge's overhead\n"
		"  --cpu-quota CPUS     CPU time per period, in CPUs (0.5 = half of one)\n"
		"  --hugepages on|off   a system guest's RAM in transparent huge pages (default\n"
		"                       on: a faster boot, touched RAM in whole 2 MiB pages)\n"
		"  --jit-cache SIZE     a system guest's code caches (lodge run --jit-cache;\n"
		"                       default 2M; its cgroup allows the memory beyond that)\n"
		"  --disk-bps N         bytes per second of each disk (its token bucket, and\n"
		"                       the cgroup's io limit on the disks' block device)\n"
		"  --disk-iops N        requests per second of each disk (its token bucket, and\n"
		"                       the cgroup's io limit on the disks' block device)\n"
		"  --net-bps N          bytes per second of each NIC, each way (token buckets)\n"
		"  --net-pps N          packets per second of each NIC, each way\n"
		"  --restart POLICY     no (default), on-failure, always\n"
		"  --socket PATH        the daemon's socket (default $LODGE_SOCKET or %s)\n",
		DAEMON_DEFAULT_SOCKET);
}

/* An absolute path for a file the daemon (another process, another cwd) will open. */
static bool abs_path(const char *opt, const char *p, char *out)
{
	if (!realpath(p, out)) {
		say_err("%s %s: %s", opt, p, strerror(errno));
		return false;
	}
	return true;
}

static bool add_path(cJSON *o, const char *field, const char *opt, const char *val)
{
	char abs[PATH_MAX];

	if (!abs_path(opt, val, abs))
		return false;
	cJSON_AddStringToObject(o, field, abs);
	return true;
}

static bool add_to_array(cJSON *o, const char *field, const char *val)
{
	cJSON *a = cJSON_GetObjectItemCaseSensitive(o, field);

	if (!a)
		a = cJSON_AddArrayToObject(o, field);
	return a && cJSON_AddItemToArray(a, cJSON_CreateString(val));
}

static bool parse_number(const char *opt, const char *val, double min, double max, double *out)
{
	char *end;
	double v = strtod(val, &end);

	if (*end || end == val || !(v >= min) || v > max) {
		say_err("%s '%s': must be a number from %g to %g", opt, val, min, max);
		return false;
	}
	*out = v;
	return true;
}

/* One option of lodge create; *i is advanced past its value. Returns false on error. */
static bool create_opt(cJSON *o, int argc, char **argv, int *i)
{
	static const char *const valued[] = {
		"--kernel",  "--initrd",    "--firmware",  "--wasm",	  "--restore",
		"--append",  "--disk",	    "--dir",	   "--net",	  "--env",
		"--cpus",    "--mem",	    "--cpu-quota", "--disk-bps",  "--net-bps",
		"--restart", "--incoming",  "--standby",   "--failover",  "--hugepages",
		"--kind",    "--disk-iops", "--net-pps",   "--jit-cache", "--backing-file"};
	const char *opt = argv[*i], *val;
	bool known = false;
	char buf[2 * PATH_MAX + 640];
	double num;
	uint64_t size;

	if (!strcmp(opt, "--shared-disks")) { /* the one option without a value */
		cJSON_AddBoolToObject(o, "shared_disks", true);
		return true;
	}
	for (size_t k = 0; k < sizeof(valued) / sizeof(valued[0]) && !known; k++)
		known = !strcmp(opt, valued[k]);
	if (!known) {
		say_err("create: unknown option '%s' (see lodge create --help)", opt);
		return false;
	}
	if (*i + 1 >= argc) {
		say_err("create: %s needs a value", opt);
		return false;
	}
	val = argv[++*i];
	if (!strcmp(opt, "--kernel") || !strcmp(opt, "--initrd") || !strcmp(opt, "--firmware") ||
	    !strcmp(opt, "--wasm") || !strcmp(opt, "--restore"))
		return add_path(o, opt + 2, opt, val);
	if (!strcmp(opt, "--backing-file")) {
		/* absolute, but not resolved: bound where the copies name it (and at its
		 * real path) */
		char cwd[PATH_MAX];
		if (val[0] != '/' && !getcwd(cwd, sizeof(cwd))) {
			say_err("%s %s: %s", opt, val, strerror(errno));
			return false;
		}
		if (snprintf(buf, sizeof(buf), "%s%s%s", val[0] == '/' ? "" : cwd,
			     val[0] == '/' ? "" : "/", val) >= (int)sizeof(buf)) {
			say_err("%s %s: too long", opt, val);
			return false;
		}
		return add_to_array(o, "backing_files", buf);
	}
	if (!strcmp(opt, "--append")) {
		cJSON_AddStringToObject(o, "append", val);
	} else if (!strcmp(opt, "--disk")) {
		/* lodge run's PATH[,format=...][,readonly=on]...: its path made absolute */
		struct vblk_spec d;
		char why[300], abs[PATH_MAX], esc[2 * PATH_MAX + 1];
		if (vblk_split_spec(val, &d, why, sizeof(why))) {
			say_err("%s", why);
			return false;
		}
		if (!abs_path(opt, d.path, abs))
			return false;
		keyval_escape(esc, sizeof(esc), abs);
		if (snprintf(buf, sizeof(buf), "%s%s%s", strpbrk(abs, ",=") ? "path=" : "", esc,
			     d.opts) >= (int)sizeof(buf)) {
			say_err("--disk %s: too long", val);
			return false;
		}
		add_to_array(o, "disks", buf);
	} else if (!strcmp(opt, "--dir")) {
		char host[PATH_MAX], abs[PATH_MAX];
		const char *sep = strstr(val, "::");
		snprintf(host, sizeof(host), "%.*s", sep ? (int)(sep - val) : (int)strlen(val),
			 val);
		if (!abs_path(opt, host, abs))
			return false;
		/* without ::GUEST the guest sees it where the host has it (an absolute
		 * path: `--dir data` is `--dir $PWD/data`) */
		if (snprintf(buf, sizeof(buf), "%s::%s", abs, sep ? sep + 2 : abs) >=
		    (int)sizeof(buf)) {
			say_err("--dir %s: too long", val);
			return false;
		}
		add_to_array(o, "dirs", buf);
	} else if (!strcmp(opt, "--net")) {
		add_to_array(o, "nets", val);
	} else if (!strcmp(opt, "--env")) {
		add_to_array(o, "env", val);
	} else if (!strcmp(opt, "--cpus")) {
		if (!parse_number(opt, val, 1, 32, &num) || num != (double)(int)num) {
			say_err("--cpus '%s': a whole number from 1 to 32", val);
			return false;
		}
		cJSON_AddNumberToObject(o, "cpus", num);
	} else if (!strcmp(opt, "--mem")) {
		if (cli_parse_size(val, &size) || !size) {
			say_err("--mem '%s': not a size (e.g. 64M, 1G)", val);
			return false;
		}
		json_add_uint(o, "memory", size);
	} else if (!strcmp(opt, "--cpu-quota")) {
		if (!parse_number(opt, val, 0.001, 1024, &num))
			return false;
		cJSON_AddNumberToObject(o, "cpu_quota", num);
	} else if (!strcmp(opt, "--disk-bps") || !strcmp(opt, "--net-bps")) {
		if (cli_parse_size(val, &size)) {
			say_err("%s '%s': a number of bytes per second (e.g. 10M)", opt, val);
			return false;
		}
		json_add_uint(o, !strcmp(opt, "--disk-bps") ? "disk_bps" : "net_bps", size);
	} else if (!strcmp(opt, "--disk-iops") || !strcmp(opt, "--net-pps")) {
		char *end;
		unsigned long long n;
		errno = 0;
		n = strtoull(val, &end, 10);
		if (errno || end == val || *end || val[0] == '-' || !n) {
			say_err("%s '%s': a whole number of %s per second, at least 1", opt, val,
				!strcmp(opt, "--disk-iops") ? "requests" : "packets");
			return false;
		}
		json_add_uint(o, !strcmp(opt, "--disk-iops") ? "disk_iops" : "net_pps", n);
	} else if (!strcmp(opt, "--restart")) {
		if (strcmp(val, "no") && strcmp(val, "on-failure") && strcmp(val, "always")) {
			say_err("--restart '%s': must be no, on-failure or always", val);
			return false;
		}
		cJSON_AddStringToObject(o, "restart", val);
	} else if (!strcmp(opt, "--incoming")) {
		cJSON_AddStringToObject(o, "incoming", val);
	} else if (!strcmp(opt, "--standby")) {
		cJSON_AddStringToObject(o, "incoming", val);
		cJSON_AddBoolToObject(o, "standby", true);
	} else if (!strcmp(opt, "--failover")) {
		cJSON_AddStringToObject(o, "failover", val);
	} else if (!strcmp(opt, "--hugepages")) {
		if (strcmp(val, "on") && strcmp(val, "off")) {
			say_err("--hugepages '%s': must be on or off", val);
			return false;
		}
		cJSON_AddBoolToObject(o, "hugepages", !strcmp(val, "on"));
	} else if (!strcmp(opt, "--jit-cache")) {
		if (cli_parse_size(val, &size) || !size) {
			say_err("--jit-cache '%s': not a size (e.g. 8M)", val);
			return false;
		}
		json_add_uint(o, "jit_cache", size);
	} else if (!strcmp(opt, "--kind")) {
		cJSON_AddStringToObject(o, "kind", val);
	} else {
		say_err("create: unknown option '%s' (see lodge create --help)", opt);
		return false;
	}
	return true;
}

/* The firmware lodge run would pick (an absolute path), so the daemon boots what this
 * user would; none found: the daemon's own default, or its refusal naming --firmware. */
static void default_firmware(cJSON *o)
{
	char abs[PATH_MAX];

	if (!cJSON_GetObjectItemCaseSensitive(o, "kernel") ||
	    cJSON_GetObjectItemCaseSensitive(o, "restore") ||
	    cJSON_GetObjectItemCaseSensitive(o, "firmware"))
		return;
	if (cli_find_firmware(abs, sizeof(abs)) == 0)
		cJSON_AddStringToObject(o, "firmware", abs);
}

static int create_guest(int argc, char **argv, const char *sock, bool print);

static int cmd_create(int argc, char **argv, const char *sock)
{
	return create_guest(argc, argv, sock, true);
}

/* lodge create; print: the name on success (lodge restore prints it once it started) */
static int create_guest(int argc, char **argv, const char *sock, bool print)
{
	cJSON *o = cJSON_CreateObject();
	struct api_client *c;
	struct api_result r;
	char *body;
	int i, st;

	if (argc >= 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
		create_usage(stdout);
		cJSON_Delete(o);
		return 0;
	}
	if (argc < 2 || argv[1][0] == '-') {
		create_usage(stderr);
		cJSON_Delete(o);
		return CLI_EXIT_USAGE;
	}
	cJSON_AddStringToObject(o, "name", argv[1]);
	for (i = 2; i < argc && strcmp(argv[i], "--"); i++)
		if (!create_opt(o, argc, argv, &i)) {
			cJSON_Delete(o);
			return CLI_EXIT_USAGE;
		}
	for (i++; i < argc; i++) /* after "--": the Wasm program's arguments */
		add_to_array(o, "args", argv[i]);
	default_firmware(o);
	body = cJSON_PrintUnformatted(o);
	cJSON_Delete(o);
	c = connect_daemon(sock, TIMEOUT_MS);
	if (!c || !body) {
		free(body);
		api_client_close(c);
		return EXIT_FAIL;
	}
	st = call(c, "POST", "/v1/guests", body, &r);
	free(body);
	if (st == 201) {
		if (print)
			printf("%s\n", argv[1]);
	} else if (st) {
		say_err("%s", message(&r));
	}
	api_result_fini(&r);
	api_client_close(c);
	return st == 201 ? 0 : EXIT_FAIL;
}

/* ---- actions on guests by name ---- */

struct action {
	const char *name;
	const char *method;
	const char *suffix; /* "/start"; "" for DELETE */
	const char *help;
};

static const struct action actions[] = {
	{"start", "POST", "/start", "start guests"},
	{"stop", "POST", "/stop", "stop guests: power off, killed after -t SECS (default 10)"},
	{"kill", "POST", "/kill", "kill guests at once"},
	{"pause", "POST", "/pause", "pause guests (no CPU used, clock stands still)"},
	{"resume", "POST", "/resume", "resume paused guests"},
	{"rm", "DELETE", "", "remove guests (-f: running ones too), with their logs"},
	{"failover", "POST", "/failover",
	 "make standby guests take over from their last checkpoint"},
};

static int cmd_action(const struct action *a, int argc, char **argv, const char *sock)
{
	char target[512], name[256], query[32] = "";
	struct api_client *c;
	int failed = 0, i;

	for (i = 1; i < argc && argv[i][0] == '-'; i++) {
		if (!strcmp(a->name, "rm") &&
		    (!strcmp(argv[i], "-f") || !strcmp(argv[i], "--force"))) {
			snprintf(query, sizeof(query), "?force=1");
		} else if (!strcmp(a->name, "stop") &&
			   (!strcmp(argv[i], "-t") || !strcmp(argv[i], "--time")) && i + 1 < argc) {
			char *end;
			long t = strtol(argv[++i], &end, 10);
			if (*end || t < 0 || t > 3600) {
				say_err("stop: -t '%s': seconds from 0 to 3600", argv[i]);
				return CLI_EXIT_USAGE;
			}
			snprintf(query, sizeof(query), "?timeout=%ld", t);
		} else if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
			printf("usage: lodge %s [OPTIONS] NAME...\n\n%s.\n", a->name, a->help);
			return 0;
		} else {
			say_err("%s: unknown option '%s'", a->name, argv[i]);
			return CLI_EXIT_USAGE;
		}
	}
	if (i >= argc) {
		say_err("%s: name at least one guest (lodge %s NAME...)", a->name, a->name);
		return CLI_EXIT_USAGE;
	}
	for (int k = i; k < argc; k++)
		if (argv[k][0] == '-') { /* no guest name starts with '-' */
			say_err("%s: '%s' after the names: options go first (lodge %s [OPTIONS] "
				"NAME...)",
				a->name, argv[k], a->name);
			return CLI_EXIT_USAGE;
		}
	c = connect_daemon(sock, -1); /* a stop may take its whole timeout */
	if (!c)
		return EXIT_FAIL;
	for (; i < argc; i++) {
		struct api_result r;
		int st;
		encode(argv[i], name, sizeof(name));
		snprintf(target, sizeof(target), "/v1/guests/%s%s%s", name, a->suffix, query);
		st = call(c, a->method, target, NULL, &r);
		if (st == 204 || (st == 304 && !strcmp(a->name, "stop"))) { /* 304: stopped */
			printf("%s\n", argv[i]);
			fflush(stdout);
		} else {
			if (st)
				say_err("%s", message(&r));
			failed = 1;
		}
		api_result_fini(&r);
		if (!st)
			break; /* the connection is gone */
	}
	api_client_close(c);
	return failed ? EXIT_FAIL : 0;
}

/* ---- snapshots ---- */

/* lodge snapshot [--leave-paused] NAME FILE: the daemon pauses the guest (if it runs),
 * saves it to FILE and resumes it. */
static int cmd_snapshot(int argc, char **argv, const char *sock)
{
	const char *name = NULL, *file = NULL;
	char dir[PATH_MAX], abs[PATH_MAX + 256], target[512], enc[256], *body;
	bool leave = false;
	struct api_client *c;
	struct api_result r;
	cJSON *o;
	int st;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--leave-paused")) {
			leave = true;
		} else if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
			printf("usage: lodge snapshot [--leave-paused] NAME FILE\n\n"
			       "Saves a running or paused guest to FILE (written by the daemon): "
			       "a\n"
			       "running guest is paused while its memory and devices are "
			       "saved\n"
			       "and resumed after, unless --leave-paused. A system guest's "
			       "disks\n"
			       "are then copied to FILE.diskN.saved.FORMAT (keep them with "
			       "FILE)\n"
			       "while it runs, and what it wrote meanwhile is merged back in a\n"
			       "second short pause. lodge restore NAME2\n"
			       "FILE (or lodge create NAME2 --restore FILE) goes on from it.\n");
			return 0;
		} else if (argv[i][0] == '-') {
			say_err("snapshot: unknown option '%s'", argv[i]);
			return CLI_EXIT_USAGE;
		} else if (!name) {
			name = argv[i];
		} else if (!file) {
			file = argv[i];
		} else {
			say_err("snapshot: one guest and one file (lodge snapshot NAME FILE)");
			return CLI_EXIT_USAGE;
		}
	}
	if (!file) {
		say_err("snapshot: lodge snapshot [--leave-paused] NAME FILE");
		return CLI_EXIT_USAGE;
	}
	/* FILE need not exist: its directory must */
	{
		const char *slash = strrchr(file, '/');
		char d[PATH_MAX];
		snprintf(d, sizeof(d), "%.*s", slash ? (int)(slash - file) : 1,
			 slash ? (slash == file ? "/" : file) : ".");
		if (!abs_path("snapshot", d, dir))
			return EXIT_FAIL;
		snprintf(abs, sizeof(abs), "%s/%s", strcmp(dir, "/") ? dir : "",
			 slash ? slash + 1 : file);
	}
	o = cJSON_CreateObject();
	cJSON_AddStringToObject(o, "path", abs);
	if (leave)
		cJSON_AddBoolToObject(o, "leave_paused", true);
	body = cJSON_PrintUnformatted(o);
	cJSON_Delete(o);
	c = connect_daemon(sock, -1); /* a large guest takes a while */
	if (!c || !body) {
		free(body);
		api_client_close(c);
		return EXIT_FAIL;
	}
	encode(name, enc, sizeof(enc));
	snprintf(target, sizeof(target), "/v1/guests/%s/snapshot", enc);
	st = call(c, "PUT", target, body, &r);
	free(body);
	if (st == 204)
		printf("%s\n", abs);
	else if (st)
		say_err("%s", message(&r));
	api_result_fini(&r);
	api_client_close(c);
	return st == 204 ? 0 : EXIT_FAIL;
}

/* lodge migrate NAME HOST:PORT [--post-copy [--precopy-rounds N]] [--max-bandwidth MIB]:
 * the daemon moves the running guest to the daemon listening there (a guest created with
 * --incoming and started). */
static int cmd_migrate(int argc, char **argv, const char *sock)
{
	char target[512], enc[256], *body, *end;
	const char *name = NULL, *dest = NULL;
	unsigned long long rounds = 1, mib = 0;
	bool post = false, stop_copy = false;
	struct api_client *c;
	struct api_result r;
	cJSON *o;
	int st;

	if (argc >= 2 && (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help"))) {
		printf("usage: lodge migrate NAME HOST:PORT [--post-copy [--precopy-rounds N]]\n"
		       "                     [--max-bandwidth MIB]\n\n"
		       "Moves running guest NAME to another host while it runs (live migration):\n"
		       "the daemon there has a guest created with --incoming HOST:PORT and\n"
		       "started. Returns once the guest runs there and has stopped here (exit\n"
		       "reason \"migrated\"); if anything fails the guest runs on here.\n\n"
		       "  --post-copy         after N rounds of copying memory (default 1; 0: "
		       "none)\n"
		       "                      the guest moves and runs there at once, its memory\n"
		       "                      following on demand: for a guest that writes memory\n"
		       "                      faster than the link. A failure after the switch\n"
		       "                      loses the guest (docs/SNAPSHOT.md)\n"
		       "  --max-bandwidth MIB limit the stream to MIB MiB/s (both kinds of guest)\n"
		       "  --stop-and-copy     a Wasm guest: pause it and send it whole, instead "
		       "of\n"
		       "                      copying its memory in rounds while it runs first\n");
		return 0;
	}
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--stop-and-copy")) {
			stop_copy = true;
		} else if (!strcmp(argv[i], "--post-copy")) {
			post = true;
		} else if ((!strcmp(argv[i], "--precopy-rounds") ||
			    !strcmp(argv[i], "--max-bandwidth")) &&
			   i + 1 < argc) {
			unsigned long long v = strtoull(argv[i + 1], &end, 10);
			bool rounds_opt = !strcmp(argv[i], "--precopy-rounds");
			if (!argv[i + 1][0] || *end || argv[i + 1][0] == '-' ||
			    (rounds_opt ? v > 30 : v == 0 || v > (1ull << 40))) {
				say_err("migrate: %s %s: %s", argv[i], argv[i + 1],
					rounds_opt ? "a number of rounds from 0 to 30"
						   : "a positive number of MiB per second");
				return CLI_EXIT_USAGE;
			}
			*(rounds_opt ? &rounds : &mib) = v;
			i++;
		} else if (argv[i][0] != '-' && !name) {
			name = argv[i];
		} else if (argv[i][0] != '-' && !dest) {
			dest = argv[i];
		} else {
			name = NULL;
			break;
		}
	}
	if (!name || !dest) {
		say_err("migrate: lodge migrate NAME HOST:PORT [--post-copy [--precopy-rounds N]] "
			"[--max-bandwidth MIB] [--stop-and-copy]");
		return CLI_EXIT_USAGE;
	}
	o = cJSON_CreateObject();
	cJSON_AddStringToObject(o, "destination", dest);
	if (post) {
		cJSON_AddBoolToObject(o, "post_copy", true);
		cJSON_AddNumberToObject(o, "precopy_rounds", (double)rounds);
	}
	if (mib)
		cJSON_AddNumberToObject(o, "max_bandwidth", (double)(mib << 20));
	if (stop_copy)
		cJSON_AddBoolToObject(o, "stop_and_copy", true);
	body = cJSON_PrintUnformatted(o);
	cJSON_Delete(o);
	c = connect_daemon(sock, -1); /* a guest that writes memory fast takes a while */
	if (!c || !body) {
		free(body);
		api_client_close(c);
		return EXIT_FAIL;
	}
	encode(name, enc, sizeof(enc));
	snprintf(target, sizeof(target), "/v1/guests/%s/migrate", enc);
	st = call(c, "POST", target, body, &r);
	free(body);
	if (st == 204)
		printf("%s\n", name);
	else if (st)
		say_err("%s", message(&r));
	api_result_fini(&r);
	api_client_close(c);
	return st == 204 ? 0 : EXIT_FAIL;
}

/* lodge replicate NAME HOST:PORT [--interval MS]: the daemon replicates the running
 * guest to the standby guest listening there (created with --standby and started). */
static int cmd_replicate(int argc, char **argv, const char *sock)
{
	char target[512], enc[256], *body, *end;
	unsigned long ms = 100;
	struct api_client *c;
	struct api_result r;
	cJSON *o;
	int st;

	if (argc >= 2 && (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help"))) {
		printf("usage: lodge replicate NAME HOST:PORT [--interval MS]\n\n"
		       "Replicates running guest NAME continuously to a standby (the daemon\n"
		       "there has a guest created with --standby HOST:PORT, of the same kind,\n"
		       "and started): a checkpoint every MS milliseconds (5-60000, default 100);\n"
		       "a system guest's console output and network packets, a WebAssembly\n"
		       "program's stdout and stderr, wait for the checkpoint that covers them.\n"
		       "Returns once the standby has the first checkpoint. lodge failover NAME\n"
		       "on the standby's daemon makes it take over.\n");
		return 0;
	}
	if (argc == 5 && !strcmp(argv[3], "--interval")) {
		ms = strtoul(argv[4], &end, 10);
		if (*end || end == argv[4] || ms < 5 || ms > 60000) {
			say_err("replicate: --interval '%s': milliseconds from 5 to 60000",
				argv[4]);
			return CLI_EXIT_USAGE;
		}
		argc = 3;
	}
	if (argc != 3 || argv[1][0] == '-' || argv[2][0] == '-') {
		say_err("replicate: lodge replicate NAME HOST:PORT [--interval MS]");
		return CLI_EXIT_USAGE;
	}
	o = cJSON_CreateObject();
	cJSON_AddStringToObject(o, "destination", argv[2]);
	json_add_uint(o, "interval_ms", ms);
	body = cJSON_PrintUnformatted(o);
	cJSON_Delete(o);
	c = connect_daemon(sock, -1); /* the first checkpoint holds all of RAM */
	if (!c || !body) {
		free(body);
		api_client_close(c);
		return EXIT_FAIL;
	}
	encode(argv[1], enc, sizeof(enc));
	snprintf(target, sizeof(target), "/v1/guests/%s/replicate", enc);
	st = call(c, "POST", target, body, &r);
	free(body);
	if (st == 204)
		printf("%s\n", argv[1]);
	else if (st)
		say_err("%s", message(&r));
	api_result_fini(&r);
	api_client_close(c);
	return st == 204 ? 0 : EXIT_FAIL;
}

/* lodge restore NAME FILE [create options]: creates NAME from the snapshot and starts it
 * (podman's container restore). */
static int cmd_restore(int argc, char **argv, const char *sock)
{
	static char create_[] = "create", restore_[] = "--restore", start_[] = "start";
	char *cv[260], *sv[3] = {start_, NULL, NULL};
	int n = 0, rc;

	if (argc >= 2 && (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help"))) {
		printf("usage: lodge restore NAME SNAPSHOT [--dir HOST[::GUEST]]...\n"
		       "                     [--backing-file FILE]... [OPTIONS]\n\n"
		       "Creates guest NAME from a snapshot (lodge snapshot) and starts it: lodge\n"
		       "create NAME --restore SNAPSHOT, then lodge start NAME (see lodge create\n"
		       "--help). A snapshot taken by lodge run, whose disks' copies name backing\n"
		       "files, needs each of them given with --backing-file FILE.\n");
		return 0;
	}
	if (argc < 3 || argv[1][0] == '-' || argv[2][0] == '-' || argc > 250) {
		say_err("restore: lodge restore NAME SNAPSHOT [OPTIONS]");
		return CLI_EXIT_USAGE;
	}
	cv[n++] = create_;
	cv[n++] = argv[1];
	cv[n++] = restore_;
	cv[n++] = argv[2];
	for (int i = 3; i < argc; i++)
		cv[n++] = argv[i];
	cv[n] = NULL;
	rc = create_guest(n, cv, sock, false);
	if (rc)
		return rc;
	sv[1] = argv[1];
	return cmd_action(&actions[0], 2, sv, sock);
}

/* ---- ps ---- */

static int64_t parse_iso(const char *s)
{
	struct tm tm = {0};

	if (!s || !strptime(s, "%Y-%m-%dT%H:%M:%S", &tm))
		return 0;
	return (int64_t)timegm(&tm);
}

static void ago(int64_t t, char *out, size_t len)
{
	int64_t d = (int64_t)time(NULL) - t;

	if (d < 0)
		d = 0;
	if (d < 60)
		snprintf(out, len, "%lld seconds", (long long)d);
	else if (d < 3600)
		snprintf(out, len, "%lld minutes", (long long)(d / 60));
	else if (d < 86400)
		snprintf(out, len, "%lld hours", (long long)(d / 3600));
	else
		snprintf(out, len, "%lld days", (long long)(d / 86400));
}

static void status_text(const cJSON *g, char *out, size_t len)
{
	const char *st = json_str(g, "state", "?");
	const cJSON *e = cJSON_GetObjectItemCaseSensitive(g, "exit");
	bool standby = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(g, "standby"));

	if (!strcmp(st, "running") || !strcmp(st, "paused") || !strcmp(st, "created") ||
	    !strcmp(st, "incoming") || !cJSON_IsObject(e)) {
		snprintf(out, len, "%s",
			 !strcmp(st, "paused")	  ? "Paused"
			 : !strcmp(st, "running") ? "Up"
			 : !strcmp(st, "incoming")
				 ? standby ? "Standby: keeping the last checkpoint"
					   : "Waiting for a migration"
				 : "Created");
		return;
	}
	snprintf(out, len, "%s (%d): %s", !strcmp(st, "crashed") ? "Crashed" : "Exited",
		 (int)json_num(e, "status", 0), json_str(e, "reason", ""));
}

static int cmd_ps(int argc, char **argv, const char *sock)
{
	bool all = false, quiet = false;
	struct api_client *c;
	struct api_result r;
	const cJSON *g;
	int st;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "-a") || !strcmp(argv[i], "--all")) {
			all = true;
		} else if (!strcmp(argv[i], "-q") || !strcmp(argv[i], "--quiet")) {
			quiet = true;
		} else if (!strcmp(argv[i], "-aq") || !strcmp(argv[i], "-qa")) {
			all = quiet = true;
		} else if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
			printf("usage: lodge ps [-a] [-q]\n\nLists running and paused guests "
			       "(-a: all), or only their names (-q).\n");
			return 0;
		} else {
			say_err("ps: unknown argument '%s'", argv[i]);
			return CLI_EXIT_USAGE;
		}
	}
	c = connect_daemon(sock, TIMEOUT_MS);
	if (!c)
		return EXIT_FAIL;
	st = call(c, "GET", "/v1/guests", NULL, &r);
	api_client_close(c);
	if (st != 200) {
		if (st)
			say_err("%s", message(&r));
		api_result_fini(&r);
		return EXIT_FAIL;
	}
	if (!quiet)
		printf("%-24s %-5s %-8s %-8s %-8s %-16s %s\n", "NAME", "KIND", "STATE", "PID",
		       "RESTARTS", "CREATED", "STATUS");
	cJSON_ArrayForEach(g, r.json)
	{
		const char *state = json_str(g, "state", "?");
		char created[48], status[300], pid[24];
		if (!all && strcmp(state, "running") && strcmp(state, "paused") &&
		    strcmp(state, "incoming"))
			continue;
		if (quiet) {
			printf("%s\n", json_str(g, "name", "?"));
			continue;
		}
		ago(parse_iso(json_str(g, "created", NULL)), created, sizeof(created));
		strncat(created, " ago", sizeof(created) - strlen(created) - 1);
		status_text(g, status, sizeof(status));
		if (json_uint(g, "pid", 0))
			snprintf(pid, sizeof(pid), "%llu",
				 (unsigned long long)json_uint(g, "pid", 0));
		else
			snprintf(pid, sizeof(pid), "-");
		printf("%-24s %-5s %-8s %-8s %-8llu %-16s %s\n", json_str(g, "name", "?"),
		       json_str(g, "kind", "?"), state, pid,
		       (unsigned long long)json_uint(g, "restarts", 0), created, status);
	}
	api_result_fini(&r);
	return 0;
}

/* ---- inspect ---- */

static int cmd_inspect(int argc, char **argv, const char *sock)
{
	cJSON *out = cJSON_CreateArray();
	struct api_client *c;
	char target[512], name[256], *text;
	int failed = 0;

	if (argc < 2 || argv[1][0] == '-') {
		if (argc >= 2 && (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help"))) {
			printf("usage: lodge inspect NAME...\n\nPrints the guests' details as a "
			       "JSON array.\n");
			cJSON_Delete(out);
			return 0;
		}
		say_err("inspect: name at least one guest (lodge inspect NAME...)");
		cJSON_Delete(out);
		return CLI_EXIT_USAGE;
	}
	for (int k = 1; k < argc; k++)
		if (argv[k][0] == '-') { /* no guest name starts with '-' */
			say_err("inspect: unknown option '%s' (lodge inspect NAME...: it takes "
				"none)",
				argv[k]);
			cJSON_Delete(out);
			return CLI_EXIT_USAGE;
		}
	c = connect_daemon(sock, TIMEOUT_MS);
	if (!c) {
		cJSON_Delete(out);
		return EXIT_FAIL;
	}
	for (int i = 1; i < argc; i++) {
		struct api_result r;
		int st;
		encode(argv[i], name, sizeof(name));
		snprintf(target, sizeof(target), "/v1/guests/%s", name);
		st = call(c, "GET", target, NULL, &r);
		if (st == 200 && r.json) {
			cJSON_AddItemToArray(out, r.json);
			r.json = NULL;
		} else {
			if (st)
				say_err("%s", message(&r));
			failed = 1;
		}
		api_result_fini(&r);
	}
	api_client_close(c);
	text = cJSON_Print(out);
	if (text) /* "[]" when none was found, as docker inspect */
		printf("%s\n", text);
	free(text);
	cJSON_Delete(out);
	return failed ? EXIT_FAIL : 0;
}

/* ---- logs and events: streams ---- */

static int stream_to_stdout(struct api_client *c, const char *target)
{
	struct api_result r;
	char buf[65536];
	ssize_t n;
	int e = api_client_stream(c, "GET", target, NULL, &r);

	if (e) {
		say_err("GET %s: %s", target, strerror(-e));
		return EXIT_FAIL;
	}
	if (r.status != 200) {
		say_err("%s", message(&r));
		api_result_fini(&r);
		return EXIT_FAIL;
	}
	while ((n = api_client_stream_read(c, buf, sizeof(buf))) > 0)
		if (fwrite(buf, 1, (size_t)n, stdout) != (size_t)n || fflush(stdout))
			return 0; /* the reader went away (| head) */
	if (n < 0) {
		say_err("the stream from the daemon broke: %s", strerror((int)-n));
		return EXIT_FAIL;
	}
	return 0;
}

static int cmd_logs(int argc, char **argv, const char *sock)
{
	char target[512], name[256], tail[32] = "";
	bool follow = false;
	struct api_client *c;
	const char *who = NULL;
	int r;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "-f") || !strcmp(argv[i], "--follow")) {
			follow = true;
		} else if ((!strcmp(argv[i], "-n") || !strcmp(argv[i], "--tail")) && i + 1 < argc) {
			snprintf(tail, sizeof(tail), "%s", argv[++i]);
		} else if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
			printf("usage: lodge logs [-f] [--tail N] NAME\n\nPrints a guest's console "
			       "output (-f: and follows it while the guest runs).\n");
			return 0;
		} else if (argv[i][0] == '-' || who) {
			say_err("logs: unexpected argument '%s'", argv[i]);
			return CLI_EXIT_USAGE;
		} else {
			who = argv[i];
		}
	}
	if (!who) {
		say_err("logs: name a guest (lodge logs [-f] NAME)");
		return CLI_EXIT_USAGE;
	}
	encode(who, name, sizeof(name));
	snprintf(target, sizeof(target), "/v1/guests/%s/logs?follow=%d%s%s", name, follow,
		 tail[0] ? "&tail=" : "", tail);
	c = connect_daemon(sock, -1);
	if (!c)
		return EXIT_FAIL;
	r = stream_to_stdout(c, target);
	api_client_close(c);
	return r;
}

static int cmd_events(int argc, char **argv, const char *sock)
{
	char target[256];
	bool follow = false;
	const char *since = "0";
	struct api_client *c;
	int r;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "-f") || !strcmp(argv[i], "--follow")) {
			follow = true;
		} else if (!strcmp(argv[i], "--since") && i + 1 < argc) {
			since = argv[++i];
		} else if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
			printf("usage: lodge events [-f] [--since ID]\n\nPrints the daemon's "
			       "events (create, start, stop, ...) after event ID (default: all "
			       "it keeps); -f: and follows new ones.\n");
			return 0;
		} else {
			say_err("events: unexpected argument '%s' (lodge events [-f] [--since ID])",
				argv[i]);
			return CLI_EXIT_USAGE;
		}
	}
	snprintf(target, sizeof(target), "/v1/events?since=%s&follow=%d", since, follow);
	c = connect_daemon(sock, -1);
	if (!c)
		return EXIT_FAIL;
	r = stream_to_stdout(c, target);
	api_client_close(c);
	return r;
}

/* ---- console ---- */

static bool write_all(int fd, const void *buf, size_t len)
{
	const char *p = buf;

	while (len) {
		ssize_t n = write(fd, p, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return false;
		p += n;
		len -= (size_t)n;
	}
	return true;
}

/* Ctrl-A handling on a terminal: returns bytes to send (in out), or -1 to detach. */
static int escape_filter(bool *esc, const uint8_t *in, size_t n, uint8_t *out)
{
	int o = 0;

	for (size_t i = 0; i < n; i++) {
		if (*esc) {
			*esc = false;
			if (in[i] == 'd' || in[i] == 'D')
				return -1;
			if (in[i] == CTRL_A)
				out[o++] = CTRL_A;
			continue; /* other escapes are dropped */
		}
		if (in[i] == CTRL_A)
			*esc = true;
		else
			out[o++] = in[i];
	}
	return o;
}

/* Relays stdin -> guest and guest -> stdout until detach, EOF or the guest stops. */
static int relay(int fd, const uint8_t *pending, size_t npending, bool tty)
{
	struct pollfd p[2] = {{.fd = STDIN_FILENO, .events = POLLIN}, {.fd = fd, .events = POLLIN}};
	uint8_t buf[4096], out[4096];
	bool esc = false;

	if (npending && !write_all(STDOUT_FILENO, pending, npending))
		return 0;
	for (;;) {
		if (poll(p, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			return EXIT_FAIL;
		}
		if (p[1].revents) {
			ssize_t n = read(fd, buf, sizeof(buf));
			if (n <= 0)
				return 0; /* the guest stopped (or the daemon went away) */
			if (!write_all(STDOUT_FILENO, buf, (size_t)n))
				return 0;
		}
		if (p[0].revents) {
			ssize_t n = read(STDIN_FILENO, buf, sizeof(buf));
			int k;
			if (n <= 0)
				return 0; /* end of input: detach, the guest goes on */
			k = tty ? escape_filter(&esc, buf, (size_t)n, out) : (int)n;
			if (k < 0)
				return 0;
			if (!write_all(fd, tty ? out : buf, (size_t)k))
				return 0;
		}
	}
}

#define CONSOLE_WAIT_MS	 20000u
#define CONSOLE_RETRY_MS 50u

/* Whether guest `name` (encoded) is a Wasm guest; false when the daemon does not say. */
static bool is_wasm(const char *sock, const char *name)
{
	char target[512];
	struct api_client *c = connect_daemon(sock, TIMEOUT_MS);
	struct api_result r;
	bool wasm;

	if (!c)
		return false;
	snprintf(target, sizeof(target), "/v1/guests/%s", name);
	wasm = call(c, "GET", target, NULL, &r) == 200 &&
	       !strcmp(json_str(r.json, "kind", ""), "wasm");
	api_result_fini(&r);
	api_client_close(c);
	return wasm;
}

static int cmd_console(int argc, char **argv, const char *sock)
{
	char target[512], name[256];
	struct api_client *c;
	struct api_result r;
	struct termios saved, raw;
	uint8_t pending[65536];
	size_t npending;
	bool tty;
	int e, status;

	if (argc != 2 || argv[1][0] == '-') {
		if (argc == 2 && (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help"))) {
			printf("usage: lodge console NAME\n\nAttaches the terminal to a guest's "
			       "console; Ctrl-A D detaches (the guest goes on), Ctrl-A Ctrl-A "
			       "sends Ctrl-A. A guest still starting is waited for\n"
			       "(up to 20 s).\n");
			return 0;
		}
		say_err("console: name one guest (lodge console NAME)");
		return CLI_EXIT_USAGE;
	}
	encode(argv[1], name, sizeof(name));
	snprintf(target, sizeof(target), "/v1/guests/%s/console", name);
	/* A guest just started or restored may not have opened its control socket yet
	 * (loading a snapshot on a loaded host takes seconds): the daemon answers 502
	 * guest_unreachable, and the attach is tried again for up to CONSOLE_WAIT_MS. */
	for (unsigned waited = 0;; waited += CONSOLE_RETRY_MS) {
		c = connect_daemon(sock, TIMEOUT_MS);
		if (!c)
			return EXIT_FAIL;
		e = api_client_upgrade(c, "POST", target, &r);
		if (e || r.status != 502 || waited >= CONSOLE_WAIT_MS ||
		    strcmp(json_str(r.json, "error", ""), "guest_unreachable"))
			break;
		api_result_fini(&r);
		api_client_close(c);
		usleep(CONSOLE_RETRY_MS * 1000);
	}
	if (e || r.status != 101) {
		if (e)
			say_err("console: %s", strerror(-e));
		else
			say_err("%s", message(&r));
		api_result_fini(&r);
		api_client_close(c);
		return EXIT_FAIL;
	}
	npending = api_client_take_buffered(c, pending, sizeof(pending));
	tty = isatty(STDIN_FILENO) && tcgetattr(STDIN_FILENO, &saved) == 0;
	if (tty) {
		raw = saved;
		if (is_wasm(sock, name)) {
			/* A Wasm program has no terminal of its own to echo, turn Enter into a new
			 * line and a new line into CR LF: this one does, and passes each key on
			 * at once (Ctrl-A D, Ctrl-C to the program as with a system guest). */
			raw.c_lflag &= (tcflag_t) ~(ICANON | ISIG | IEXTEN);
			raw.c_iflag &= (tcflag_t) ~(IXON | INLCR | IGNCR);
			raw.c_iflag |= ICRNL;
			raw.c_oflag |= OPOST | ONLCR;
			raw.c_cc[VMIN] = 1;
			raw.c_cc[VTIME] = 0;
		} else {
			cfmakeraw(&raw);
		}
		console_guard_tty(STDIN_FILENO, &saved);
		tcsetattr(STDIN_FILENO, TCSANOW, &raw);
		fprintf(stderr, "lodge: attached to %s (Ctrl-A D detaches)\r\n", argv[1]);
	}
	status = relay(api_client_fd(c), pending, npending, tty);
	if (tty) {
		tcsetattr(STDIN_FILENO, TCSANOW, &saved);
		console_unguard_tty();
		fprintf(stderr, "\nlodge: detached from %s\n", argv[1]);
	}
	api_client_close(c);
	return status;
}

/* ---- dispatch ---- */

int cmd_guests(const char *cmd, int argc, char **argv)
{
	const char *sock = NULL;

	if (!take_socket(&argc, argv, &sock))
		return CLI_EXIT_USAGE;
	sock = socket_path(sock);
	if (!strcmp(cmd, "create"))
		return cmd_create(argc, argv, sock);
	if (!strcmp(cmd, "ps"))
		return cmd_ps(argc, argv, sock);
	if (!strcmp(cmd, "inspect"))
		return cmd_inspect(argc, argv, sock);
	if (!strcmp(cmd, "logs"))
		return cmd_logs(argc, argv, sock);
	if (!strcmp(cmd, "events"))
		return cmd_events(argc, argv, sock);
	if (!strcmp(cmd, "console"))
		return cmd_console(argc, argv, sock);
	if (!strcmp(cmd, "snapshot"))
		return cmd_snapshot(argc, argv, sock);
	if (!strcmp(cmd, "restore"))
		return cmd_restore(argc, argv, sock);
	if (!strcmp(cmd, "migrate"))
		return cmd_migrate(argc, argv, sock);
	if (!strcmp(cmd, "replicate"))
		return cmd_replicate(argc, argv, sock);
	for (size_t i = 0; i < sizeof(actions) / sizeof(actions[0]); i++)
		if (!strcmp(cmd, actions[i].name))
			return cmd_action(&actions[i], argc, argv, sock);
	return CLI_EXIT_USAGE;
}

#define GUEST_CMD(fn, name)                                                                        \
	int fn(int argc, char **argv)                                                              \
	{                                                                                          \
		return cmd_guests(name, argc, argv);                                               \
	}

GUEST_CMD(cmd_create_main, "create")
GUEST_CMD(cmd_start_main, "start")
GUEST_CMD(cmd_stop_main, "stop")
GUEST_CMD(cmd_kill_main, "kill")
GUEST_CMD(cmd_pause_main, "pause")
GUEST_CMD(cmd_resume_main, "resume")
GUEST_CMD(cmd_rm_main, "rm")
GUEST_CMD(cmd_ps_main, "ps")
GUEST_CMD(cmd_logs_main, "logs")
GUEST_CMD(cmd_console_main, "console")
GUEST_CMD(cmd_inspect_main, "inspect")
GUEST_CMD(cmd_events_main, "events")
GUEST_CMD(cmd_snapshot_main, "snapshot")
GUEST_CMD(cmd_restore_main, "restore")
GUEST_CMD(cmd_migrate_main, "migrate")
GUEST_CMD(cmd_replicate_main, "replicate")
GUEST_CMD(cmd_failover_main, "failover")
