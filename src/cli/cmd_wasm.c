/*
 * lodge wasm: runs a WebAssembly module as a process VM. Without --invoke it runs the
 * WASI command's _start (WASI preview1 imports) and exits with the program's status;
 * with --invoke NAME it calls an exported function with arguments from the command line
 * and prints the results. Limits: --fuel, --timeout, --max-memory, --stack.
 * Exit statuses: the program's own (proc_exit), 0 after _start returns or --invoke
 * succeeds, CLI_EXIT_TIMEOUT on --timeout, 134 on a trap (as an abort), CLI_EXIT_ERROR
 * when the module cannot be loaded or linked, CLI_EXIT_USAGE for a bad command line.
 */
#include "cli/cli.h"

#include "wasm/wasm.h"
#include "wasm/wasi/wasi.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define EXIT_TRAP	134
#define MAX_MODULE_SIZE (1ull << 30)
#define MAX_OPTS	256

/* The command line: a job for cli_wasm_run() plus the storage its arrays point into. */
struct wasm_opts {
	struct cli_wasm_job job;
	char *env[MAX_OPTS];
	struct wasi_preopen dirs[MAX_OPTS];
};

static void usage(FILE *f)
{
	fprintf(f,
		"usage: lodge wasm [OPTIONS] APP.wasm [ARGS...]\n"
		"\n"
		"Runs a WebAssembly 2.0 module: the WASI command's _start, or with --invoke an\n"
		"exported function. Exits with the program's status.\n"
		"\n"
		"options:\n"
		"  --invoke NAME        call export NAME with ARGS (i32/i64 integers, f32/f64 "
		"decimals)\n"
		"                       and print its results, one per line\n"
		"  --dir HOST[::GUEST]  give the program the host directory HOST, seen as GUEST\n"
		"                       (default: HOST); paths cannot escape it\n"
		"  --env KEY=VALUE      set an environment variable for the program (repeatable)\n"
		"  --max-memory SIZE    cap each linear memory, e.g. 64M (default 4G)\n"
		"  --fuel N             stop with a trap after N units (calls + loop iterations)\n"
		"  --timeout SECONDS    stop after SECONDS of wall time (exit status 124)\n"
		"  --stack SIZE         value-stack size, bounding recursion depth (default 4M)\n"
		"  -h, --help           show this help\n"
		"\n"
		"exit status: the program's, 124 on timeout, 134 on a trap, 125 if the module\n"
		"cannot be loaded or linked, 2 for a bad command line.\n");
}

static int bad_usage(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static int bad_usage(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "lodge wasm: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, " (try 'lodge wasm --help')\n");
	return CLI_EXIT_USAGE;
}

/* Parses one option taking a value; returns 0, or an exit status. */
static int parse_valued(struct wasm_opts *o, const char *opt, char *val)
{
	if (!strcmp(opt, "--invoke")) {
		o->job.invoke = val;
	} else if (!strcmp(opt, "--dir")) {
		char *sep = strstr(val, "::");
		if (o->job.ndirs == MAX_OPTS)
			return bad_usage("too many %s options", opt);
		if (sep)
			*sep = 0;
		o->dirs[o->job.ndirs].host = val;
		o->dirs[o->job.ndirs++].guest = sep ? sep + 2 : val;
	} else if (!strcmp(opt, "--env")) {
		if (!strchr(val, '=') || val[0] == '=')
			return bad_usage("--env wants KEY=VALUE, not '%s'", val);
		if (o->job.nenv == MAX_OPTS)
			return bad_usage("too many %s options", opt);
		o->env[o->job.nenv++] = val;
	} else if (!strcmp(opt, "--max-memory")) {
		if (cli_parse_size(val, &o->job.lim.max_memory) || o->job.lim.max_memory == 0)
			return bad_usage("bad --max-memory size '%s'", val);
	} else if (!strcmp(opt, "--stack")) {
		if (cli_parse_size(val, &o->job.lim.stack_size) || o->job.lim.stack_size < 4096 ||
		    o->job.lim.stack_size > (1ull << 30))
			return bad_usage("bad --stack size '%s' (4K to 1G)", val);
	} else if (!strcmp(opt, "--fuel")) {
		char *end;
		errno = 0;
		o->job.lim.fuel = strtoull(val, &end, 0);
		if (errno || *end || val[0] == '-' || o->job.lim.fuel == 0)
			return bad_usage("bad --fuel count '%s'", val);
	} else if (!strcmp(opt, "--timeout")) {
		char *end;
		o->job.timeout = strtod(val, &end);
		if (*end || !(o->job.timeout > 0) || o->job.timeout > 1e9)
			return bad_usage("bad --timeout '%s' (seconds > 0)", val);
	} else {
		return bad_usage("unknown option '%s'", opt);
	}
	return 0;
}

static int parse_args(int argc, char **argv, struct wasm_opts *o)
{
	static const char *const valued[] = {"--invoke", "--dir",  "--env",    "--max-memory",
					     "--stack",	 "--fuel", "--timeout"};
	int i;

	memset(o, 0, sizeof(*o));
	o->job.name = "lodge wasm";
	o->job.env = o->env;
	o->job.dirs = o->dirs;
	o->job.stdio[1] = 1;
	o->job.stdio[2] = 2;
	for (i = 1; i < argc && argv[i][0] == '-' && argv[i][1]; i++) {
		char *opt = argv[i], *val = NULL, *eq;
		bool takes = false;
		int rc;

		if (!strcmp(opt, "--")) {
			i++;
			break;
		}
		if (!strcmp(opt, "-h") || !strcmp(opt, "--help")) {
			usage(stdout);
			return -1;
		}
		eq = strchr(opt, '=');
		for (size_t k = 0; k < sizeof(valued) / sizeof(valued[0]); k++) {
			size_t n = strlen(valued[k]);
			if (!strncmp(opt, valued[k], n) && (opt[n] == 0 || opt[n] == '='))
				takes = true;
		}
		if (!takes)
			return bad_usage("unknown option '%s'", opt);
		if (eq) {
			*eq = 0;
			val = eq + 1;
		} else if (i + 1 < argc) {
			val = argv[++i];
		} else {
			return bad_usage("option '%s' needs a value", opt);
		}
		rc = parse_valued(o, opt, val);
		if (rc)
			return rc;
	}
	if (i >= argc)
		return bad_usage("%s", "no module given");
	o->job.file = argv[i];
	o->job.argc = argc - i;
	o->job.argv = argv + i;
	return 0;
}

static uint8_t *read_module(const char *name, const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	uint8_t *buf = NULL;
	long n;

	if (!f) {
		fprintf(stderr, "%s: %s: cannot open: %s\n", name, path, strerror(errno));
		return NULL;
	}
	if (fseek(f, 0, SEEK_END) || (n = ftell(f)) < 0 || fseek(f, 0, SEEK_SET)) {
		fprintf(stderr, "%s: %s: cannot read: %s\n", name, path, strerror(errno));
	} else if ((unsigned long long)n > MAX_MODULE_SIZE) {
		fprintf(stderr, "%s: %s: too large (%ld bytes)\n", name, path, n);
	} else if (!(buf = malloc((size_t)n + 1))) {
		fprintf(stderr, "%s: %s: out of memory\n", name, path);
	} else if (fread(buf, 1, (size_t)n, f) != (size_t)n) {
		fprintf(stderr, "%s: %s: cannot read: %s\n", name, path,
			ferror(f) ? strerror(errno) : "short read");
		free(buf);
		buf = NULL;
	} else {
		*len = (size_t)n;
	}
	fclose(f);
	return buf;
}

/* ----- --timeout: a watchdog thread interrupts the store ----- */

struct watchdog {
	struct wasm_store *store;
	double seconds;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	bool done;
	atomic_bool fired;
};

static void *watchdog_main(void *arg)
{
	struct watchdog *w = arg;
	struct timespec until;

	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += (time_t)w->seconds;
	until.tv_nsec += (long)((w->seconds - (double)(time_t)w->seconds) * 1e9);
	if (until.tv_nsec >= 1000000000L) {
		until.tv_sec++;
		until.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&w->lock);
	while (!w->done) {
		if (pthread_cond_timedwait(&w->cond, &w->lock, &until) == ETIMEDOUT) {
			atomic_store(&w->fired, true);
			wasm_store_interrupt(w->store);
			break;
		}
	}
	pthread_mutex_unlock(&w->lock);
	return NULL;
}

static void watchdog_stop(struct watchdog *w, pthread_t t)
{
	pthread_mutex_lock(&w->lock);
	w->done = true;
	pthread_cond_signal(&w->cond);
	pthread_mutex_unlock(&w->lock);
	pthread_join(t, NULL);
}

/* ----- --invoke ----- */

static int parse_value(const char *s, uint8_t type, union wasm_value *v)
{
	char *end;

	memset(v, 0, sizeof(*v));
	errno = 0;
	switch (type) {
	case WASM_I32: {
		long long x = strtoll(s, &end, 0);
		if (x < INT32_MIN || x > UINT32_MAX)
			return -ERANGE;
		v->i32 = (uint32_t)x;
		break;
	}
	case WASM_I64:
		v->i64 = s[0] == '-' ? (uint64_t)strtoll(s, &end, 0) : strtoull(s, &end, 0);
		break;
	case WASM_F32:
		v->f32 = strtof(s, &end);
		break;
	case WASM_F64:
		v->f64 = strtod(s, &end);
		break;
	default:
		return -ENOTSUP;
	}
	if (errno || end == s || *end)
		return -EINVAL;
	return 0;
}

static void print_value(uint8_t type, const union wasm_value *v)
{
	switch (type) {
	case WASM_I32:
		printf("%" PRId32 "\n", (int32_t)v->i32);
		break;
	case WASM_I64:
		printf("%" PRId64 "\n", (int64_t)v->i64);
		break;
	case WASM_F32:
		printf("%.9g\n", (double)v->f32);
		break;
	case WASM_F64:
		printf("%.17g\n", v->f64);
		break;
	case WASM_V128:
		printf("0x");
		for (int i = 15; i >= 0; i--)
			printf("%02x", v->v128[i]);
		printf("\n");
		break;
	default:
		printf(v->ext ? "ref\n" : "null\n");
		break;
	}
}

static void report_trap(const char *name, const char *file, const struct wasm_trap_info *info)
{
	fprintf(stderr, "%s: %s: trap: %s", name, file, wasm_trap_message(info->trap));
	if (info->func >= 0) {
		fprintf(stderr, " in function %" PRId64, info->func);
		if (info->func_name)
			fprintf(stderr, " (%s)", info->func_name);
	}
	if (info->offset >= 0)
		fprintf(stderr, " at offset 0x%" PRIx64, (uint64_t)info->offset);
	fprintf(stderr, "\n");
}

/* Runs the call and maps its outcome to an exit status. */
static int finish_call(const struct cli_wasm_job *o, enum wasm_trap trap,
		       const struct wasm_trap_info *info, bool timed_out)
{
	if (trap == WASM_TRAP_NONE)
		return 0;
	if (trap == WASM_TRAP_EXIT)
		return info->exit_code & 0xff;
	if (trap == WASM_TRAP_INTERRUPTED && timed_out) {
		fprintf(stderr, "%s: %s: timed out after %g seconds\n", o->name, o->file,
			o->timeout);
		return CLI_EXIT_TIMEOUT;
	}
	report_trap(o->name, o->file, info);
	return EXIT_TRAP;
}

static int run_invoke(const struct cli_wasm_job *o, struct wasm_store *s,
		      struct wasm_instance *inst, struct watchdog *wd)
{
	struct wasm_extern ext;
	const struct wasm_functype *ft;
	union wasm_value *vals;
	struct wasm_trap_info info;
	enum wasm_trap trap;
	int status;

	if (wasm_instance_export(inst, o->invoke, &ext) || ext.kind != WASM_EXTERN_FUNC) {
		fprintf(stderr, "%s: %s: no exported function '%s'\n", o->name, o->file, o->invoke);
		return CLI_EXIT_ERROR;
	}
	ft = wasm_func_type(ext.u.func);
	if ((uint32_t)(o->argc - 1) != ft->nparams) {
		fprintf(stderr, "%s: %s: '%s' takes %u arguments, %d given\n", o->name, o->file,
			o->invoke, ft->nparams, o->argc - 1);
		return CLI_EXIT_USAGE;
	}
	vals = calloc((size_t)ft->nparams + ft->nresults + 1, sizeof(*vals));
	if (!vals)
		return CLI_EXIT_ERROR;
	for (uint32_t i = 0; i < ft->nparams; i++) {
		if (parse_value(o->argv[i + 1], ft->params[i], &vals[i])) {
			fprintf(stderr, "%s: argument %u: cannot use '%s' as a %s\n", o->name,
				i + 1, o->argv[i + 1],
				ft->params[i] == WASM_I32   ? "i32"
				: ft->params[i] == WASM_I64 ? "i64"
				: ft->params[i] == WASM_F32 ? "f32"
				: ft->params[i] == WASM_F64 ? "f64"
							    : "value (unsupported type)");
			free(vals);
			return CLI_EXIT_USAGE;
		}
	}
	trap = wasm_call(s, ext.u.func, vals, vals + ft->nparams, &info);
	status = finish_call(o, trap, &info, wd && atomic_load(&wd->fired));
	if (trap == WASM_TRAP_NONE)
		for (uint32_t i = 0; i < ft->nresults; i++)
			print_value(ft->results[i], &vals[ft->nparams + i]);
	free(vals);
	return status;
}

static int run_start(const struct cli_wasm_job *o, struct wasm_store *s, struct wasm_instance *inst,
		     struct watchdog *wd)
{
	struct wasm_extern ext;
	struct wasm_trap_info info;
	enum wasm_trap trap;

	if (wasm_instance_export(inst, "_start", &ext) || ext.kind != WASM_EXTERN_FUNC) {
		fprintf(stderr, "%s: %s: no _start function (use --invoke NAME)\n", o->name,
			o->file);
		return CLI_EXIT_ERROR;
	}
	if (wasm_func_type(ext.u.func)->nparams || wasm_func_type(ext.u.func)->nresults) {
		fprintf(stderr, "%s: %s: _start must take and return nothing\n", o->name, o->file);
		return CLI_EXIT_ERROR;
	}
	trap = wasm_call(s, ext.u.func, NULL, NULL, &info);
	return finish_call(o, trap, &info, wd && atomic_load(&wd->fired));
}

static int instantiate_and_run(const struct cli_wasm_job *o, struct wasm_module *m,
			       struct wasm_store *s, struct wasi *wasi, struct watchdog *wd)
{
	struct wasm_instance *inst;
	struct wasm_error err;
	char msg[320];

	if (wasm_instance_create(s, m, wasi_resolve, wasi, &inst, &err)) {
		if (err.kind == WASM_ERR_UNINSTANTIABLE && err.trap == WASM_TRAP_EXIT)
			return 0;
		if (err.kind == WASM_ERR_UNINSTANTIABLE && err.trap == WASM_TRAP_INTERRUPTED &&
		    wd && atomic_load(&wd->fired)) {
			fprintf(stderr, "%s: %s: timed out after %g seconds\n", o->name, o->file,
				o->timeout);
			return CLI_EXIT_TIMEOUT;
		}
		wasm_error_format(&err, msg, sizeof(msg));
		fprintf(stderr, "%s: %s: %s\n", o->name, o->file, msg);
		return err.kind == WASM_ERR_UNINSTANTIABLE ? EXIT_TRAP : CLI_EXIT_ERROR;
	}
	return o->invoke ? run_invoke(o, s, inst, wd) : run_start(o, s, inst, wd);
}

static int run(const struct cli_wasm_job *o, struct wasm_module *m)
{
	struct wasi_config wc = {o->argc, o->argv,     o->nenv,	    o->env,	o->ndirs,
				 o->dirs, o->stdio[0], o->stdio[1], o->stdio[2]};
	struct wasm_store *s;
	struct wasi *wasi;
	struct watchdog wd;
	pthread_t wt;
	bool have_wd = false;
	int bad = -1, rc, status;

	if (wasm_store_create(&o->lim, &s)) {
		fprintf(stderr, "%s: %s: out of memory\n", o->name, o->file);
		return CLI_EXIT_ERROR;
	}
	rc = wasi_create(s, &wc, &wasi, &bad);
	if (rc) {
		if (bad >= 0)
			fprintf(stderr, "%s: --dir %s: %s\n", o->name, o->dirs[bad].host,
				strerror(-rc));
		else
			fprintf(stderr, "%s: cannot set up WASI: %s\n", o->name, strerror(-rc));
		wasm_store_destroy(s);
		return CLI_EXIT_ERROR;
	}
	if (o->timeout > 0) {
		memset(&wd, 0, sizeof(wd));
		wd.store = s;
		wd.seconds = o->timeout;
		pthread_mutex_init(&wd.lock, NULL);
		pthread_cond_init(&wd.cond, NULL);
		atomic_init(&wd.fired, false);
		have_wd = pthread_create(&wt, NULL, watchdog_main, &wd) == 0;
	}
	status = instantiate_and_run(o, m, s, wasi, have_wd ? &wd : NULL);
	if (have_wd) {
		watchdog_stop(&wd, wt);
		pthread_cond_destroy(&wd.cond);
		pthread_mutex_destroy(&wd.lock);
	}
	fflush(stdout);
	wasm_store_destroy(s);
	wasi_destroy(wasi);
	return status;
}

int cli_wasm_run(const struct cli_wasm_job *job)
{
	struct wasm_module *m;
	struct wasm_error err;
	uint8_t *bytes;
	size_t len = 0;
	char msg[320];
	int rc;

	bytes = read_module(job->name, job->file, &len);
	if (!bytes)
		return CLI_EXIT_ERROR;
	rc = wasm_module_load(bytes, len, &m, &err);
	free(bytes);
	if (rc) {
		wasm_error_format(&err, msg, sizeof(msg));
		fprintf(stderr, "%s: %s: %s\n", job->name, job->file, msg);
		return CLI_EXIT_ERROR;
	}
	rc = run(job, m);
	wasm_module_destroy(m);
	return rc;
}

int cmd_wasm(int argc, char **argv)
{
	struct wasm_opts o;
	int rc;

	rc = parse_args(argc, argv, &o);
	if (rc)
		return rc < 0 ? 0 : rc;
	return cli_wasm_run(&o.job);
}
