/*
 * lodge wasm: runs a WebAssembly module as a process VM. The module is a binary (.wasm)
 * or in the text format (.wat, or any file not starting with the binary magic), which
 * is encoded first (wasm/text/text.h); errors in a text module, and validation errors
 * and traps in the code it became, are reported at their line and column. Without --invoke it runs
 * the WASI command's _start (WASI preview1 imports) and exits with the program's status; with
 * --invoke NAME it calls an exported function with arguments from the command line and prints the
 * results. Limits: --fuel, --timeout, --max-memory, --stack, --max-threads (wasi-threads). Exit
 * statuses: the program's own (proc_exit: 0..255 as given, larger codes 255), 0 after _start
 * returns or --invoke succeeds, CLI_EXIT_TIMEOUT on --timeout, 134 on a trap (as an abort),
 * CLI_EXIT_ERROR when the module cannot be loaded, linked or instantiated or lodge cannot set up
 * the run, CLI_EXIT_USAGE for a bad command line.
 * --timeout holds whatever the program does: a watchdog thread interrupts the store at
 * the deadline, and if the program has not stopped 50 ms later (it is blocked in a host
 * call: sleep, read on a quiet pipe, opening a FIFO) it reports the timeout and ends the
 * process itself.
 */
#include "cli/cli.h"

#include "cli/guestctl.h"
#include "core/alloc.h"
#include "core/clock.h"
#include "host/sandbox.h"
#include "machine/replicate.h"
#include "snapshot/snapshot.h"
#include "wasm/postcopy.h"
#include "wasm/precopy.h"
#include "wasm/replicate.h"
#include "wasm/snapshot.h"
#include "wasm/text/text.h"
#include "wasm/wasm.h"
#include "wasm/wasi/wasi.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <fcntl.h>
#include <inttypes.h>
#include <math.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define EXIT_TRAP	134
#define MAX_MODULE_SIZE (1ull << 30)
#define MAX_OPTS	256
#define GRACE_NS	50000000L /* after the deadline, for interrupted code to stop */
#define NAME_SHOWN	256	  /* bytes of a module-provided name shown, escaped */
#define PATH_SHOWN	4200	  /* a file name with ":LINE:COLUMN" */
#define MAX_PHASES	12
/* --compile auto: lazily from this size of module on. Validating a body costs about as
 * much as compiling it (the validator is the compiler, its output thrown away), and a
 * small program calls most of its functions: hello.wasm (41 KB, 20 of 29 functions run)
 * loads and runs in 0.62 ms of CPU eagerly, 0.86 lazily; lua.wasm (637 KB, 325 of 824 in
 * its benchmark) starts 4 ms sooner lazily, sqlite.wasm (1.1 MB) 18 ms. */
#define LAZY_FROM (256u << 10)
/* --max-threads' default: wasi-threads threads running at once besides the main one. Each
 * is a host thread and a store whose value stack and frames (8 MiB with the default
 * --stack) count against --max-memory, so 64 keep half a GiB of the default 4 GiB budget
 * for the program's memory while covering the thread pools programs size by core count;
 * a runaway spawner meets -1 from thread-spawn rather than exhausting the host. */
/* The sanitizer builds free everything before exit, so that LeakSanitizer (which _exit
 * skips) checks the store's, WASI's and the module's teardown on every test run. */
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define KEEP_TEARDOWN 1
#else
#define KEEP_TEARDOWN 0
#endif

#define DEFAULT_MAX_THREADS 64u
#define MAX_MAX_THREADS	    4096u

/* LODGE_WASM_TIMES=1: where start-up goes, one line on stderr at the end: the CPU time
 * the process used before cmd_wasm (exec, dynamic linking, constructors), then the wall
 * and CPU time of each phase. */
struct wasm_times {
	bool on;
	int n;
	const char *name[MAX_PHASES];
	uint64_t wall[MAX_PHASES + 1], cpu[MAX_PHASES + 1];
	uint32_t compiled, defined; /* the module's functions (wasm_module_compiled) */
};

struct wasm_opts {
	const char *file;
	const struct wasm_text_binary *text; /* a text module's binary and positions, or NULL */
	const char *invoke;
	int argc; /* program (or --invoke) arguments */
	char **argv;
	char *env[MAX_OPTS];
	int nenv;
	struct wasi_preopen dirs[MAX_OPTS];
	int ndirs;
	const char *allow[MAX_OPTS]; /* --incoming-allow PATH */
	unsigned nallow;
	struct wasm_limits lim;
	double timeout;
	struct guestctl_config ctl;   /* --api, --console-log, --exit-file */
	atomic_bool ctl_ending;	      /* set when --api asked the program to end */
	const char *sandbox;	      /* --sandbox SPEC */
	bool seccomp;		      /* --seccomp */
	bool pooled;		      /* a daemon's pool process: its sandbox half built */
	bool exit_when_done;	      /* the process ends with the program (cmd_wasm) */
	struct sandbox_filter filter; /* the spec's precompiled seccomp filter */
	uint32_t jit_hot;	      /* wasm_store_set_jit() */
	const char *jit_opt;	      /* the first of --no-jit, --jit-eager, --jit-hot given */
	enum { COMPILE_AUTO, COMPILE_LAZY, COMPILE_EAGER } compile; /* --compile */
	int stdio[3];	       /* the program's fds 0-2 (cli_wasm_run's job.stdio) */
	const char *restore;   /* --restore FILE */
	const char *incoming;  /* --incoming tcp:HOST:PORT (that part) or control */
	bool standby;	       /* --standby: `incoming` brings a replication stream */
	bool failover_auto;    /* --failover auto[:MS] */
	unsigned heartbeat_ms; /* its MS */
	const uint8_t *module; /* the module's binary, kept for snapshots */
	size_t module_len;
	struct wasm_times *times; /* LODGE_WASM_TIMES */
	unsigned max_threads;	  /* --max-threads: wasi-threads threads running at once */
};

/* What the control socket (cli/guestctl.h) acts on. */
struct wasm_ctl {
	_Atomic(struct wasm_store *) store; /* NULL while --incoming waits for the program */
	atomic_bool paused, stopped, killed, migrated;
	atomic_bool lost;      /* a post-copy failed after the switch: the program ran there */
	atomic_bool migrating; /* ctl_migrate runs: a SIGTERM waits for its end */
	atomic_bool over;      /* the program's run returned (sig_main's grace ends) */
	/* --incoming: the destination answered "OK" (or is about to): the program is this
	 * process's to run, so a signal waits for it to start and then stops it */
	atomic_bool committed;
	atomic_bool *ending; /* wasm_opts.ctl_ending */
	/* for snapshots: set before the program runs (NULL: --invoke, no snapshots) */
	_Atomic(struct wasm_instance *) inst;
	const struct wasi *wasi;
	const struct wasm_opts *opts;
	const char *name;     /* the module's file name */
	bool snapshots;	      /* the store parks only where it can be saved (with --api) */
	atomic_bool threaded; /* the program imports wasi-threads' thread-spawn */
	/* replication (wasm/replicate.h): plock orders pauses (the control socket's and a
	 * checkpoint's); rlock guards the rest */
	pthread_mutex_t plock, rlock;
	bool ck_paused; /* a checkpoint paused the program (plock) */
	struct wasm_repl *repl;
	char repl_dest[256];
	bool repl_ran;
	struct vm_repl_stats repl_last;
	struct wasm_standby *standby; /* --standby: until it takes over */
	/* --incoming by post-copy: set while the program runs here, its pages arriving */
	struct wasm_postcopy_in *postcopy;
	struct guestctl *g;
};

static void times_init(struct wasm_times *t)
{
	const char *env = getenv("LODGE_WASM_TIMES");

	memset(t, 0, sizeof(*t));
	t->on = env && *env && strcmp(env, "0");
	if (t->on) {
		t->wall[0] = core_clock_ns(CLOCK_MONOTONIC);
		t->cpu[0] = core_clock_ns(CLOCK_PROCESS_CPUTIME_ID);
	}
}

/* Ends the phase NAME (it began where the last one ended). */
static void times_mark(struct wasm_times *t, const char *name)
{
	if (!t || !t->on || t->n == MAX_PHASES)
		return;
	t->name[t->n] = name;
	t->n++;
	t->wall[t->n] = core_clock_ns(CLOCK_MONOTONIC);
	t->cpu[t->n] = core_clock_ns(CLOCK_PROCESS_CPUTIME_ID);
}

static void times_print(const struct wasm_times *t)
{
	char line[1024];
	size_t len;

	if (!t || !t->on)
		return;
	len = (size_t)snprintf(line, sizeof(line),
			       "lodge wasm: times (ms wall/cpu): exec+init -/%.3f",
			       (double)t->cpu[0] / 1e6);
	for (int i = 0; i < t->n && len < sizeof(line); i++)
		len += (size_t)snprintf(line + len, sizeof(line) - len, ", %s %.3f/%.3f",
					t->name[i], (double)(t->wall[i + 1] - t->wall[i]) / 1e6,
					(double)(t->cpu[i + 1] - t->cpu[i]) / 1e6);
	if (len < sizeof(line))
		snprintf(line + len, sizeof(line) - len, ", total %.3f/%.3f",
			 (double)(t->wall[t->n] - t->wall[0]) / 1e6, (double)t->cpu[t->n] / 1e6);
	fprintf(stderr, "%s\nlodge wasm: functions compiled: %u of %u\n", line, t->compiled,
		t->defined);
}

static void usage(FILE *f)
{
	fprintf(f,
		"usage: lodge wasm [OPTIONS] APP.wasm|APP.wat [ARGS...]\n"
		"\n"
		"Runs a WebAssembly 3.0 module, binary or in the text format: the WASI command's\n"
		"_start, or with --invoke an exported function. Exits with the program's status.\n"
		"\n"
		"options:\n"
		"  --invoke NAME        call export NAME with ARGS (i32/i64 integers, f32/f64 "
		"decimals)\n"
		"                       and print its results, one per line: integers and\n"
		"                       floats in decimal, inf, -inf, a NaN as nan (canonical)\n"
		"                       or nan:0xPAYLOAD, - first when its sign is set (the\n"
		"                       spec tests' notation, also taken in ARGS), v128 as\n"
		"                       0x and its 32 hex digits, most significant first\n"
		"  --dir HOST[::GUEST]  give the program the host directory HOST, seen as GUEST\n"
		"                       (default: HOST); paths cannot escape it\n"
		"  --env KEY=VALUE      set an environment variable for the program (repeatable)\n"
		"  --max-memory SIZE    memory budget for all the module makes lodge allocate:\n"
		"                       linear memory, tables, segments, value stack and\n"
		"                       frames, e.g. 64M (default 4G); memory.grow and\n"
		"                       table.grow past it return -1\n"
		"  --fuel N             stop with a trap after N units (calls + loop iterations)\n"
		"  --timeout SECONDS    stop after SECONDS of wall time (exit status 124), even\n"
		"                       while the program waits in a WASI call\n"
		"  --max-threads N      wasi-threads: at most N threads spawned by the program\n"
		"                       run at once (default 64; beyond, thread-spawn returns\n"
		"                       -1); every limit above covers all threads, --fuel\n"
		"                       being each thread's own\n"
		"  --stack SIZE         value-stack size, bounding recursion depth (default 4M,\n"
		"                       or 1/16 of --max-memory if less); it and the call\n"
		"                       frames count twice its size against --max-memory\n"
		"  --jit-hot N          translate a function to host code once it has made N\n"
		"                       calls and loop iterations (default 1000; 1: at once)\n"
		"  --jit-eager          translate every function before the program starts\n"
		"  --no-jit             interpret everything (the results are the same)\n"
		"                       (--jit-hot, --jit-eager and --no-jit: one of them)\n"
		"  --compile MODE       when to compile functions to the interpreter's code:\n"
		"                       lazy (at each one's first call: a quicker start for\n"
		"                       big modules), eager (all at load), or auto (the\n"
		"                       default: lazy for modules of 256 KiB or more); the\n"
		"                       whole module is validated before it runs either way\n"
		"  --api SOCKET         serve the control API on a unix socket (pause, resume,\n"
		"                       stop, kill, stats, console attach: see docs/API.md)\n"
		"  --console-log FILE   stdout and stderr to a ring file (and attached clients);\n"
		"                       stdin only from clients attached through --api\n"
		"  --exit-file FILE     write {\"status\", \"reason\"} there at the end\n"
		"  --ready-file FIFO    write a byte there once the program is instantiated\n"
		"  --restore FILE       go on with a program saved by PUT /snapshot/create on\n"
		"                       --api (no module or arguments: they are in the file)\n"
		"  --incoming tcp:HOST:PORT  wait there for a program migrated by PUT /migrate\n"
		"                       on its --api socket, and go on with it (as --restore)\n"
		"  --incoming control   the same, the connection handed over on --api (POST\n"
		"                       /migrate/receive: how the daemon does it)\n"
		"  --standby tcp:HOST:PORT|control  be the standby of a program replicated\n"
		"                       there (PUT /replicate on the primary's --api): keep its\n"
		"                       last checkpoint, and go on with it once the primary's\n"
		"                       stream ends and PUT /failover comes on --api\n"
		"                       With --standby, --dir HOST::GUEST (one per directory of\n"
		"                       the primary's, in its order, with its GUEST names):\n"
		"                       empty directories that receive copies of the primary's\n"
		"                       as of each checkpoint, the program's once it takes over\n"
		"                       With --incoming, --dir HOST::GUEST (one per directory\n"
		"                       of the program's, in its order): the directories this\n"
		"                       host gives it, holding the files it has open; without\n"
		"                       them the stream's host paths are opened if each resolves\n"
		"                       (symlinks, ..) inside an --incoming-allow PATH (a\n"
		"                       directory or file; repeatable), else it is refused\n"
		"  --failover auto[:MS]  take over as soon as the stream ends or is silent for\n"
		"                       MS (default 2000); manual (the default) waits\n"
		"                       With --incoming or --standby, --max-memory is the most\n"
		"                       this host gives the program: a stream that brings more\n"
		"                       is refused (the source keeps running)\n"
		"  --sandbox SPEC       enter the sandbox the daemon prepared\n"
		"  --seccomp            install the Wasm guests' seccomp allow list\n"
		"  -h, --help           show this help\n"
		"\n"
		"A file whose name ends in .wat, or that does not start with the binary magic\n"
		"(and does not end in .wasm), is read as text; its errors are reported as\n"
		"FILE:LINE:COLUMN.\n"
		"\n"
		"exit status: the program's proc_exit code when it is 0..255, 255 for any\n"
		"larger code (WASI codes are 32-bit; none may read as success); 0 when _start\n"
		"returns; 124 on timeout; 134 on a trap; 125 if the module cannot be loaded,\n"
		"linked or instantiated (e.g. over --max-memory) or lodge cannot set up the\n"
		"run; 2 for a bad command line; 128+N after signal N (SIGTERM, SIGINT: a\n"
		"clean stop at the program's next safe point).\n");
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

/* --no-jit, --jit-eager and --jit-hot each choose when functions are translated: one of
 * them (repeated, the last wins), never two, which would leave one silently ignored.
 * Returns 0, or an exit status. */
static int jit_mode(struct wasm_opts *o, const char *opt)
{
	if (o->jit_opt && strcmp(o->jit_opt, opt))
		return bad_usage("%s and %s contradict each other (--no-jit: interpret "
				 "everything; --jit-eager: translate every function at the "
				 "start; --jit-hot N: translate a function after N calls or "
				 "loop iterations): pass only one of them",
				 o->jit_opt, opt);
	o->jit_opt = opt[2] == 'n' ? "--no-jit" : opt[6] == 'e' ? "--jit-eager" : "--jit-hot";
	return 0;
}

/* --incoming or --standby SOURCE (tcp:HOST:PORT or control): where the program comes
 * from. Returns 0, or an exit status. */
static int stream_source(struct wasm_opts *o, const char *opt, const char *val)
{
	bool standby = !strcmp(opt, "--standby");

	if (o->incoming && o->standby != standby)
		return bad_usage("%s", "--restore, --incoming and --standby each bring a "
				       "program: pass one");
	if (!strcmp(val, "control")) {
		o->ctl.incoming = true;
		o->incoming = val;
	} else if (!strncmp(val, "tcp:", 4) && strchr(val + 4, ':')) {
		o->ctl.incoming = false;
		o->incoming = val + 4;
	} else {
		return bad_usage("%s %s: must be tcp:HOST:PORT or control", opt, val);
	}
	o->standby = standby;
	return 0;
}

/* Parses one option taking a value; returns 0, or an exit status. */
static int parse_valued(struct wasm_opts *o, const char *opt, char *val)
{
	if (!strcmp(opt, "--invoke")) {
		o->invoke = val;
	} else if (!strcmp(opt, "--dir")) {
		char *sep = strstr(val, "::");
		if (o->ndirs == MAX_OPTS)
			return bad_usage("too many %s options", opt);
		if (sep)
			*sep = 0;
		o->dirs[o->ndirs].host = val;
		o->dirs[o->ndirs++].guest = sep ? sep + 2 : val;
	} else if (!strcmp(opt, "--incoming-allow")) {
		if (o->nallow == MAX_OPTS)
			return bad_usage("too many %s options", opt);
		o->allow[o->nallow++] = val;
	} else if (!strcmp(opt, "--env")) {
		if (!strchr(val, '=') || val[0] == '=')
			return bad_usage("--env wants KEY=VALUE, not '%s'", val);
		if (o->nenv == MAX_OPTS)
			return bad_usage("too many %s options", opt);
		o->env[o->nenv++] = val;
	} else if (!strcmp(opt, "--max-memory")) {
		if (cli_parse_size(val, &o->lim.max_memory) || o->lim.max_memory == 0)
			return bad_usage("bad --max-memory size '%s'", val);
	} else if (!strcmp(opt, "--stack")) {
		if (cli_parse_size(val, &o->lim.stack_size) || o->lim.stack_size < 4096 ||
		    o->lim.stack_size > (1ull << 30))
			return bad_usage("bad --stack size '%s' (4K to 1G)", val);
	} else if (!strcmp(opt, "--fuel")) {
		char *end;
		errno = 0;
		o->lim.fuel = strtoull(val, &end, 0);
		if (errno || *end || val[0] == '-' || o->lim.fuel == 0)
			return bad_usage("bad --fuel count '%s'", val);
	} else if (!strcmp(opt, "--max-threads")) {
		char *end;
		unsigned long n;
		errno = 0;
		n = strtoul(val, &end, 10);
		if (errno || *end || !val[0] || val[0] == '-' || n > MAX_MAX_THREADS)
			return bad_usage("bad --max-threads count '%s' (0 to %u)", val,
					 MAX_MAX_THREADS);
		o->max_threads = (unsigned)n;
	} else if (!strcmp(opt, "--jit-hot")) {
		char *end;
		unsigned long long n;
		int rc = jit_mode(o, opt);
		if (rc)
			return rc;
		errno = 0;
		n = strtoull(val, &end, 0);
		if (errno || *end || val[0] == '-' || n == 0 || n >= UINT32_MAX)
			return bad_usage("bad --jit-hot count '%s' (1 or more)", val);
		o->jit_hot = (uint32_t)n;
	} else if (!strcmp(opt, "--compile")) {
		if (!strcmp(val, "auto"))
			o->compile = COMPILE_AUTO;
		else if (!strcmp(val, "lazy"))
			o->compile = COMPILE_LAZY;
		else if (!strcmp(val, "eager"))
			o->compile = COMPILE_EAGER;
		else
			return bad_usage("bad --compile '%s' (auto, lazy or eager)", val);
	} else if (!strcmp(opt, "--api")) {
		o->ctl.api_path = val;
	} else if (!strcmp(opt, "--console-log")) {
		o->ctl.console_log = val;
	} else if (!strcmp(opt, "--exit-file")) {
		o->ctl.exit_file = val;
	} else if (!strcmp(opt, "--ready-file")) {
		o->ctl.ready_file = val;
	} else if (!strcmp(opt, "--restore")) {
		o->restore = val;
	} else if (!strcmp(opt, "--incoming") || !strcmp(opt, "--standby")) {
		return stream_source(o, opt, val);
	} else if (!strcmp(opt, "--failover")) {
		char *end;
		unsigned long ms = 0;
		if (!strcmp(val, "manual")) {
			o->failover_auto = false;
		} else if (!strncmp(val, "auto", 4) && (!val[4] || val[4] == ':')) {
			o->failover_auto = true;
			if (val[4]) {
				errno = 0;
				ms = strtoul(val + 5, &end, 10);
				if (errno || *end || !val[5] || ms < 10 || ms > 600000)
					return bad_usage("--failover %s: MS must be 10-600000",
							 val);
			}
			o->heartbeat_ms = (unsigned)ms;
		} else {
			return bad_usage("--failover %s: must be manual, auto or auto:MS", val);
		}
	} else if (!strcmp(opt, "--sandbox")) {
		o->sandbox = val;
	} else if (!strcmp(opt, "--timeout")) {
		char *end;
		o->timeout = strtod(val, &end);
		if (*end || !(o->timeout > 0) || o->timeout > 1e9)
			return bad_usage("bad --timeout '%s' (seconds > 0)", val);
	} else {
		return bad_usage("unknown option '%s'", opt);
	}
	return 0;
}

/* The defaults of every run, whether from the command line or an OCI job. */
static void opts_init(struct wasm_opts *o)
{
	memset(o, 0, sizeof(*o));
	atomic_init(&o->ctl_ending, false);
	o->ctl.statm_fd = -1;
	o->jit_hot = WASM_JIT_HOT_DEFAULT;
	o->max_threads = DEFAULT_MAX_THREADS;
	o->stdio[1] = 1;
	o->stdio[2] = 2;
}

static int parse_args(int argc, char **argv, struct wasm_opts *o)
{
	static const char *const valued[] = {
		"--invoke",	"--dir",	 "--env",     "--max-memory",  "--stack",
		"--fuel",	"--timeout",	 "--api",     "--console-log", "--exit-file",
		"--ready-file", "--sandbox",	 "--jit-hot", "--restore",     "--incoming",
		"--compile",	"--max-threads", "--standby", "--failover",    "--incoming-allow"};
	int i;

	opts_init(o);
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
		if (!strcmp(opt, "--no-jit") || !strcmp(opt, "--jit-eager")) {
			rc = jit_mode(o, opt);
			if (rc)
				return rc;
			o->jit_hot = opt[2] == 'n' ? WASM_JIT_OFF : WASM_JIT_EAGER;
			continue;
		}
		if (!strcmp(opt, "--seccomp")) {
			o->seccomp = true;
			continue;
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
	if (o->restore && o->incoming)
		return bad_usage("%s", "--restore, --incoming and --standby each bring a program: "
				       "pass one");
	if (o->failover_auto && !o->standby)
		return bad_usage("%s", "--failover goes with --standby");
	if (o->nallow && (!o->incoming || o->standby))
		return bad_usage("%s", "--incoming-allow goes with --incoming");
	if (o->standby && o->ctl.incoming && !o->ctl.api_path)
		return bad_usage("%s", "--standby control needs --api SOCKET (the stream comes "
				       "there)");
	if (o->ctl.incoming && !o->ctl.api_path)
		return bad_usage("%s", "--incoming control needs --api SOCKET (the stream comes "
				       "there)");
	if (o->restore || o->incoming) {
		const char *what = o->restore	? "--restore"
				   : o->standby ? "--standby"
						: "--incoming";
		if (i < argc)
			return bad_usage("%s takes the module and its arguments from the "
					 "snapshot, not '%s'",
					 what, argv[i]);
		/* --standby --dir: its own copies of the primary's directories; --incoming
		 * --dir: the directories this host gives the program, in its order (else the
		 * stream's host paths: a source that is trusted) */
		if (o->invoke || (o->ndirs && o->restore) || o->nenv || o->lim.fuel ||
		    o->lim.stack_size || (o->lim.max_memory && o->restore))
			return bad_usage("%s takes --invoke, %s--env, --fuel, %sand --stack "
					 "from the snapshot",
					 what, o->restore ? "--dir, " : "",
					 o->restore ? "--max-memory " : "");
		/* --incoming and --standby: --max-memory is this host's cap on what the
		 * stream may make it commit (the program's saved budget is lowered to it) */
		o->file = o->restore ? o->restore : o->incoming;
		return 0;
	}
	if (i >= argc)
		return bad_usage("%s", "no module given");
	o->file = argv[i];
	o->argc = argc - i;
	o->argv = argv + i;
	return 0;
}

static const char *not_regular(mode_t mode)
{
	if (S_ISDIR(mode))
		return "is a directory";
	if (S_ISCHR(mode))
		return "is a character device";
	if (S_ISBLK(mode))
		return "is a block device";
	if (S_ISFIFO(mode))
		return "is a FIFO (named pipe)";
	if (S_ISSOCK(mode))
		return "is a socket";
	return "is not a regular file";
}

#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23
#endif

/* Backs the pages of a new buffer in one call before it is filled: a page fault costs
 * about 9 us in a VM like this benchmark host, MADV_POPULATE_WRITE about 0.5 us a page
 * (reading a 217 KiB module took 54 faults). Only the whole pages inside the buffer; a
 * kernel without the advice (before 5.14) faults them in as before. */
/* The same call also backs the rest of the heap up to the program break when the buffer
 * lies in the brk heap just below it (glibc grows it 128 KiB past a request; a module of
 * 128 KiB or more is mapped apart, and a sanitizer's allocator has heaps of its own): the
 * loader's allocations come next from that top chunk, ~300 of them for hello.wasm, which
 * faulted 14-17 fresh pages one by one (its first load took 0.56 ms of CPU, 0.42 with them
 * populated first, 60 runs each at load 25; populating them took 0.03-0.04). Nothing
 * else is mapped between a brk heap's chunk and the break. */
#define HEAP_POPULATE_MAX (256u << 10)

static void populate(void *buf, size_t len)
{
	uintptr_t lo = ((uintptr_t)buf + 4095) & ~(uintptr_t)4095;
	uintptr_t hi = ((uintptr_t)buf + len) & ~(uintptr_t)4095;
	uintptr_t brk_end = (uintptr_t)sbrk(0);

	if (brk_end != (uintptr_t)-1 && (uintptr_t)buf + len <= brk_end &&
	    brk_end - ((uintptr_t)buf + len) <= HEAP_POPULATE_MAX)
		hi = brk_end & ~(uintptr_t)4095;
	if (hi > lo)
		(void)madvise((void *)lo, hi - lo, MADV_POPULATE_WRITE);
}

/* Reads the whole module file into a new buffer. Only a regular file is accepted: a
 * directory, device, FIFO or socket has no size to read (and a FIFO could block), so it is
 * refused for what it is. O_NONBLOCK keeps open() itself from waiting for a FIFO writer. */
static uint8_t *read_module(const char *path, size_t *len)
{
	int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	uint8_t *buf = NULL;
	struct stat st;
	size_t got = 0;

	if (fd < 0) {
		fprintf(stderr, "lodge wasm: %s: cannot open: %s\n", path, strerror(errno));
		return NULL;
	}
	if (fstat(fd, &st)) {
		fprintf(stderr, "lodge wasm: %s: cannot read: %s\n", path, strerror(errno));
	} else if (!S_ISREG(st.st_mode)) {
		fprintf(stderr,
			"lodge wasm: %s: %s, not a module file (give a WebAssembly module, "
			"APP.wasm or APP.wat)\n",
			path, not_regular(st.st_mode));
	} else if ((unsigned long long)st.st_size > MAX_MODULE_SIZE) {
		fprintf(stderr, "lodge wasm: %s: too large (%lld bytes; modules up to %llu)\n",
			path, (long long)st.st_size, MAX_MODULE_SIZE);
	} else if (!(buf = malloc((size_t)st.st_size + 1))) {
		fprintf(stderr, "lodge wasm: %s: out of memory\n", path);
	} else {
		populate(buf, (size_t)st.st_size);
		while (got < (size_t)st.st_size) {
			ssize_t n = read(fd, buf + got, (size_t)st.st_size - got);
			if (n < 0 && errno == EINTR)
				continue;
			if (n <= 0) {
				fprintf(stderr, "lodge wasm: %s: cannot read: %s\n", path,
					n ? strerror(errno) : "the file shrank while being read");
				free(buf);
				buf = NULL;
				break;
			}
			got += (size_t)n;
		}
		*len = got;
	}
	close(fd);
	return buf;
}

/* Where a front-end error was: "FILE:LINE:COL" for a text module when known, else FILE. */
static const char *where(const struct wasm_opts *o, int64_t offset, char *buf, size_t size)
{
	uint32_t line, col;

	if (o->text && !wasm_text_locate(o->text, offset, &line, &col))
		snprintf(buf, size, "%s:%" PRIu32 ":%" PRIu32, o->file, line, col);
	else
		snprintf(buf, size, "%s", o->file);
	return buf;
}

/* ----- --timeout: a watchdog thread ----- */

enum { WD_RUNNING, WD_FINISHED, WD_KILLING };

/* The deadline is on CLOCK_MONOTONIC (wall-clock changes do not move it). At the deadline
 * the thread interrupts the store, so Wasm code stops at its next loop or call and the
 * main thread reports the timeout; if the run has not finished GRACE_NS later, the main
 * thread is stuck in a host call and the watchdog reports the timeout and ends the process
 * with _exit (the one way to end a blocked system call from outside; nothing is flushed,
 * and what the program wrote through WASI is already in the kernel). state decides who
 * reports: the main thread takes it from WD_RUNNING to WD_FINISHED once the run is over
 * (watchdog_settle), the watchdog to WD_KILLING; whoever loses leaves it to the other. */
struct watchdog {
	const char *file;
	double seconds;
	struct timespec deadline;
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t cond;	  /* clocked by CLOCK_MONOTONIC */
	bool done;		  /* under lock: the run is over, the thread returns */
	struct wasm_store *store; /* under lock: interrupted at the deadline (may be NULL) */
	atomic_bool fired;
	atomic_int state;
};

static struct timespec ts_after(struct timespec t, double seconds)
{
	double whole = (double)(time_t)seconds;

	t.tv_sec += (time_t)seconds;
	t.tv_nsec += (long)((seconds - whole) * 1e9);
	if (t.tv_nsec >= 1000000000L) {
		t.tv_sec++;
		t.tv_nsec -= 1000000000L;
	}
	return t;
}

static int timeout_message(const struct watchdog *w, char *buf, size_t size)
{
	int n = snprintf(buf, size, "lodge wasm: %s: timed out after %g seconds\n", w->file,
			 w->seconds);

	return n < 0 ? 0 : (size_t)n < size ? n : (int)size - 1;
}

/* With the lock held: waits for done until the absolute time `until`; returns done. */
static bool wait_done(struct watchdog *w, const struct timespec *until)
{
	while (!w->done)
		if (pthread_cond_timedwait(&w->cond, &w->lock, until) == ETIMEDOUT)
			return w->done;
	return true;
}

static void *watchdog_main(void *arg)
{
	struct watchdog *w = arg;
	struct timespec now;
	int running = WD_RUNNING;
	char msg[512];

	pthread_mutex_lock(&w->lock);
	if (!wait_done(w, &w->deadline)) {
		atomic_store(&w->fired, true);
		if (w->store)
			wasm_store_interrupt(w->store);
		clock_gettime(CLOCK_MONOTONIC, &now);
		now = ts_after(now, GRACE_NS / 1e9);
		if (!wait_done(w, &now) &&
		    atomic_compare_exchange_strong(&w->state, &running, WD_KILLING)) {
			ssize_t n = write(STDERR_FILENO, msg,
					  (size_t)timeout_message(w, msg, sizeof(msg)));
			(void)n;
			_exit(CLI_EXIT_TIMEOUT);
		}
		while (!w->done)
			pthread_cond_wait(&w->cond, &w->lock);
	}
	pthread_mutex_unlock(&w->lock);
	return NULL;
}

/* Starts the watchdog for o->timeout seconds from now. Returns 0 or a positive errno. */
static int watchdog_start(struct watchdog *w, const char *file, double seconds)
{
	pthread_condattr_t ca;
	int rc;

	memset(w, 0, sizeof(*w));
	w->file = file;
	w->seconds = seconds;
	atomic_init(&w->fired, false);
	atomic_init(&w->state, WD_RUNNING);
	clock_gettime(CLOCK_MONOTONIC, &w->deadline);
	w->deadline = ts_after(w->deadline, seconds);
	rc = pthread_condattr_init(&ca);
	if (rc)
		return rc;
	rc = pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	if (!rc)
		rc = pthread_cond_init(&w->cond, &ca);
	pthread_condattr_destroy(&ca);
	if (rc)
		return rc;
	pthread_mutex_init(&w->lock, NULL);
	rc = pthread_create(&w->thread, NULL, watchdog_main, w);
	if (rc) {
		pthread_mutex_destroy(&w->lock);
		pthread_cond_destroy(&w->cond);
	}
	return rc;
}

/* Gives the watchdog the store to interrupt (NULL: none, before the store goes away). */
static void watchdog_attach(struct watchdog *w, struct wasm_store *s)
{
	if (!w)
		return;
	pthread_mutex_lock(&w->lock);
	w->store = s;
	pthread_mutex_unlock(&w->lock);
}

/* The run is over (the main thread is about to report its outcome): from now on the
 * watchdog does not end the process. If it already does, wait for it to. */
static void watchdog_settle(struct watchdog *w)
{
	int running = WD_RUNNING;

	if (!w || atomic_compare_exchange_strong(&w->state, &running, WD_FINISHED) ||
	    running == WD_FINISHED)
		return;
	for (;;)
		pause();
}

static bool watchdog_fired(struct watchdog *w)
{
	return w && atomic_load(&w->fired);
}

static void watchdog_stop(struct watchdog *w)
{
	if (!w)
		return;
	watchdog_settle(w);
	pthread_mutex_lock(&w->lock);
	w->done = true;
	w->store = NULL;
	pthread_cond_signal(&w->cond);
	pthread_mutex_unlock(&w->lock);
	pthread_join(w->thread, NULL);
	pthread_cond_destroy(&w->cond);
	pthread_mutex_destroy(&w->lock);
}

#define MIGRATE_MAX_BYTES (8ull << 30) /* a 4 GiB memory, compressed, and the module */

/* The most an incoming stream may make this host commit: its memory (the pre-copy page
 * room), and its stream file (compressed memory, module and state: twice the memory and
 * 16 MiB covers zstd's worst case and a module), under --max-memory if given. */
static uint64_t incoming_room(const struct wasm_opts *o)
{
	return o->lim.max_memory ? o->lim.max_memory : MIGRATE_MAX_BYTES;
}

static uint64_t incoming_file_max(const struct wasm_opts *o)
{
	return o->lim.max_memory && o->lim.max_memory < MIGRATE_MAX_BYTES / 2
		       ? 2 * o->lim.max_memory + (16ull << 20)
		       : MIGRATE_MAX_BYTES;
}

/* ----- the control socket's operations (control thread) ----- */

#define PAUSE_WAIT_NS 200000000ull /* a pause waits this long for the program to park */

/* Whether the process used the CPU for at least half the wall time from (wall0, cpu0) to
 * (wall1, cpu1): the program ran on (its control thread sleeps meanwhile), neither blocked
 * in a host call nor waiting for a CPU on a loaded host. */
static bool ran_on(uint64_t wall0, uint64_t cpu0, uint64_t wall1, uint64_t cpu1)
{
	return cpu1 - cpu0 >= (wall1 - wall0) / 2;
}

/* Lets go of plock. A stop or kill that came while it was held (ctl_end found it taken:
 * a snapshot or checkpoint was reading the parked program) interrupts the program now. */
static void plock_release(struct wasm_ctl *c)
{
	struct wasm_store *st = atomic_load(&c->store);

	pthread_mutex_unlock(&c->plock);
	if (atomic_load(c->ending) && st)
		wasm_store_interrupt(st);
}

static int ctl_pause(void *opaque)
{
	struct wasm_ctl *c = opaque;
	struct wasm_store *st = atomic_load(&c->store);
	uint64_t t0, cpu0;

	if (!st)
		return -EAGAIN;	       /* --incoming: no program yet */
	pthread_mutex_lock(&c->plock); /* not amid a replication checkpoint */
	atomic_store(&c->paused, true);
	t0 = core_clock_ns(CLOCK_MONOTONIC);
	cpu0 = core_clock_ns(CLOCK_PROCESS_CPUTIME_ID);
	wasm_store_pause(st);
	/* Parked at the next check, normally within microseconds; a host call blocked on
	 * input finishes first (it uses no CPU meanwhile), and on a loaded host the program
	 * may wait that long for a CPU. */
	while (!wasm_store_parked(st) && core_clock_ns(CLOCK_MONOTONIC) - t0 < PAUSE_WAIT_NS)
		usleep(1000);
	if (c->snapshots && !wasm_store_parked(st) &&
	    ran_on(t0, cpu0, core_clock_ns(CLOCK_MONOTONIC),
		   core_clock_ns(CLOCK_PROCESS_CPUTIME_ID))) {
		/* It ran on without reaching a point a snapshot can stand at (Lodge knows
		 * of no such code: every loop, call, tail call and host call of the program
		 * is one, and no host function of `lodge wasm` calls back into Wasm code):
		 * park anywhere rather than run on while paused; a snapshot then answers
		 * busy until a resume. Not for a program blocked in a host call or waiting
		 * for a CPU: it parks where it can be saved once it goes on. */
		wasm_store_set_snapshots(st, false);
		for (int i = 0; i < 200 && !wasm_store_parked(st); i++)
			usleep(1000);
	}
	plock_release(c);
	return 0;
}

static int ctl_resume(void *opaque)
{
	struct wasm_ctl *c = opaque;
	struct wasm_store *st = atomic_load(&c->store);

	if (!st)
		return -EAGAIN;
	pthread_mutex_lock(&c->plock);
	atomic_store(&c->paused, false);
	if (c->snapshots)
		wasm_store_set_snapshots(st, true);
	wasm_store_resume(st);
	plock_release(c);
	return 0;
}

static int ctl_end(struct wasm_ctl *c, atomic_bool *how, bool wait);

/* ----- SIGTERM, SIGINT: a clean stop (docs/SNAPSHOT.md, README "lodge wasm") -----
 * Blocked in every thread; sig_main takes them, sig_stopper acts on the first (or, for a
 * plain run, a handler does: sig_light below). The
 * program running (sig_ctl): stopped at its next safe point as the control socket's stop
 * does, after a snapshot or checkpoint reading it (plock) and after a migration under way
 * (ctl_migrate: a post-copy's source serves every page first, so the destination runs
 * on); the run then ends with 128 + the signal, reason "signal". Nothing running yet
 * (loading, receiving a migration before its "OK"): the process ends at once with 128 +
 * the signal; a source of a migration not acknowledged runs on. A destination that sent
 * its "OK" (committed) owns the program: it starts it, then stops it the same way. A
 * second signal while the first is handled (a migration, a snapshot or a host call
 * holding the stop back) ends the process at once with 128 + that signal, as QEMU and
 * docker do. Every such end writes the exit record (--exit-file), reason "signal". */
#define SIG_GRACE_S 5
#define SIG_GRACE   "5" /* SIG_GRACE_S as text, for a signal handler's message */
static struct wasm_ctl *_Atomic sig_ctl;
static atomic_int sig_got;
static atomic_bool sig_over; /* a run ended (ctl_status): the process ends on its own */
static pthread_mutex_t sig_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_mutex_t sig_first_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t sig_first = PTHREAD_COND_INITIALIZER;
static const char *_Atomic sig_exit_file; /* --exit-file */

/* A line on stderr from the signal threads, without stdio's lock (a thread may hold it,
 * blocked on a full pipe) and only when stderr takes it at once: one blocked on a full
 * stderr pipe nobody reads (a parent that reads it after the exit) would hold the stop,
 * the grace's end and a second signal's back for good. */
/* Writes line[0..n) to stderr if it takes it at once (poll and write only: safe in a
 * signal handler too), else drops it. */
static void stderr_try(const char *line, size_t n)
{
	struct pollfd pf = {.fd = STDERR_FILENO, .events = POLLOUT};

	if (poll(&pf, 1, 0) != 1 || (pf.revents & (POLLOUT | POLLERR)) != POLLOUT)
		return;
	if (write(STDERR_FILENO, line, n) < 0)
		return;
}

static void sig_line(const char *fmt, ...)
{
	char line[512];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (n > 0)
		stderr_try(line, (size_t)n < sizeof(line) ? (size_t)n : sizeof(line) - 1);
}

/* Ends the process at once for signal sig: its line on stderr, the exit record, 128 +
 * sig. */
static _Noreturn void sig_exit(int sig, const char *why)
{
	const char *f = atomic_load(&sig_exit_file);

	sig_line("lodge wasm: %s: %s\n", strsignal(sig), why);
	if (f)
		guestctl_exit_record(f, 128 + sig, "signal");
	_exit(128 + sig);
}

/* Waits for the process's end (futex: --seccomp allows it). */
static _Noreturn void sig_park(void)
{
	static pthread_mutex_t never = PTHREAD_MUTEX_INITIALIZER;
	static pthread_cond_t never_cond = PTHREAD_COND_INITIALIZER;

	pthread_mutex_lock(&never);
	for (;;)
		pthread_cond_wait(&never_cond, &never);
}

static void *sig_stopper(void *opaque)
{
	int sig;

	(void)opaque;
	pthread_mutex_lock(&sig_first_lock);
	while (!(sig = atomic_load(&sig_got)))
		pthread_cond_wait(&sig_first, &sig_first_lock);
	pthread_mutex_unlock(&sig_first_lock);
	for (;;) {
		struct wasm_ctl *c;
		int r = -EAGAIN;
		pthread_mutex_lock(&sig_lock);
		c = atomic_load(&sig_ctl);
		if (c && !atomic_load(&c->migrating))
			r = ctl_end(c, &c->stopped, true); /* after a snapshot or checkpoint */
		pthread_mutex_unlock(&sig_lock);
		if (atomic_load(&sig_over))
			sig_park();
		if (!r)
			break;
		if (!c || (!atomic_load(&c->store) && !atomic_load(&c->committed))) {
			fflush(NULL);
			sig_exit(sig, "stopping");
		}
		/* a migration under way, or a program that is ours but not yet running */
		usleep(20 * 1000);
	}
	sig_line("lodge wasm: %s: the program stops\n", strsignal(sig));
	/* It stops at its next safe point, but a host call (a read on a quiet pipe, a sleep)
	 * finishes first: after SIG_GRACE_S the process ends without it. */
	for (unsigned i = 0; i < SIG_GRACE_S * 50; i++) {
		struct wasm_ctl *c;
		bool over;
		usleep(20 * 1000);
		pthread_mutex_lock(&sig_lock);
		c = atomic_load(&sig_ctl);
		over = !c || atomic_load(&c->over);
		pthread_mutex_unlock(&sig_lock);
		if (over)
			sig_park();
	}
	sig_line("lodge wasm: the program did not stop within %d s of %s (a host call blocks "
		 "it): the process ends without it\n",
		 SIG_GRACE_S, strsignal(sig));
	fflush(NULL);
	sig_exit(sig, "the process ends");
}

static void *sig_main(void *opaque)
{
	sigset_t *set = opaque;
	int sig = 0;

	while (sigwait(set, &sig))
		;
	pthread_mutex_lock(&sig_first_lock);
	atomic_store(&sig_got, sig);
	pthread_cond_signal(&sig_first);
	pthread_mutex_unlock(&sig_first_lock);
	for (;;)
		if (!sigwait(set, &sig))
			sig_exit(sig, "a second signal: the process ends at once");
}

/* The same without a thread of its own (sig_start_light), for a run with nothing a
 * handler could not serve: no control socket, no exit record, no restore or incoming
 * migration (their locks, waits and files need sig_stopper), no --seccomp (whose allow
 * list has no alarm). Two threads cost 0.2-0.45 ms of a hello world's start (docs/
 * INTERNALS.md). The handler acts on the main thread only (another one hands the signal
 * there with tgkill), so the store it flags cannot be freed under it: the main thread
 * clears sig_ctl before it destroys the store. Nothing running yet: the process ends at
 * once; the program running: its store's interrupt flag, so it stops at its next loop or
 * call (as sig_stopper's ctl_end), and an alarm in SIG_GRACE_S for a host call that
 * blocks (SA_RESTART: a read goes on, as with the signals blocked); a second signal:
 * the end at once. Only async-signal-safe calls: atomics, poll, write, gettid, tgkill,
 * sigaction, alarm, _exit. */
static pid_t sig_main_tid;
static const char *sig_desc[2]; /* SIGTERM's and SIGINT's descriptions (strsignal's) */

/* "lodge wasm: " before, sig's description, after: one write (no stdio), when stderr
 * takes it at once. The handler runs on the main thread, which runs the program too: a
 * write blocked on a full stderr pipe nobody reads (a parent that reads it after the
 * exit) would hold the stop, the grace's end and a second signal back for good (all
 * signals are blocked in the handler), so the line is dropped instead. A pipe that polls
 * writable has a page free, room for these lines (under PIPE_BUF). */
static void sig_say(const char *before, int sig, const char *after)
{
	const char *parts[] = {"lodge wasm: ", before, sig_desc[sig == SIGINT], after};
	char line[256];
	size_t n = 0;

	for (size_t i = 0; i < sizeof(parts) / sizeof(parts[0]); i++)
		for (const char *p = parts[i]; *p && n < sizeof(line); p++)
			line[n++] = *p;
	stderr_try(line, n);
}

/* On the main thread: true. On another: hands sig to the main thread, false. */
static bool sig_on_main(int sig)
{
	if (gettid() == sig_main_tid)
		return true;
	tgkill(getpid(), sig_main_tid, sig);
	return false;
}

static void sig_light_alarm(int unused)
{
	int saved = errno, sig = atomic_load(&sig_got);
	struct wasm_ctl *c;

	(void)unused;
	if (sig_on_main(SIGALRM)) {
		c = atomic_load(&sig_ctl);
		if (!atomic_load(&sig_over) && c && !atomic_load(&c->over)) {
			sig_say("the program did not stop within " SIG_GRACE " s of ", sig,
				" (a host call blocks it): the process ends without it\n");
			sig_say("", sig, ": the process ends\n");
			_exit(128 + sig);
		}
	}
	errno = saved;
}

static void sig_light(int sig)
{
	int saved = errno, none = 0;
	struct sigaction sa = {.sa_handler = sig_light_alarm, .sa_flags = SA_RESTART};
	struct wasm_store *st;
	struct wasm_ctl *c;

	if (!sig_on_main(sig)) {
		errno = saved;
		return;
	}
	if (!atomic_compare_exchange_strong(&sig_got, &none, sig)) {
		sig_say("", sig, ": a second signal: the process ends at once\n");
		_exit(128 + sig);
	}
	c = atomic_load(&sig_ctl);
	st = c ? atomic_load(&c->store) : NULL;
	if (!atomic_load(&sig_over)) {
		if (!st) {
			sig_say("", sig, ": stopping\n");
			_exit(128 + sig);
		}
		atomic_store(c->ending, true);
		atomic_store(&c->stopped, true);
		wasm_store_interrupt_flag(st);
		sig_say("", sig, ": the program stops\n");
		sigfillset(&sa.sa_mask);
		if (!sigaction(SIGALRM, &sa, NULL))
			alarm(SIG_GRACE_S);
	}
	errno = saved;
}

static void sig_start_light(void)
{
	struct sigaction sa = {.sa_handler = sig_light, .sa_flags = SA_RESTART};
	sigset_t set;

	sig_main_tid = gettid();
	sig_desc[0] = sigdescr_np(SIGTERM);
	sig_desc[1] = sigdescr_np(SIGINT);
	sigfillset(&sa.sa_mask); /* one handler at a time (SIGALRM's too) */
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	/* A signal mask survives execve: a parent that started us with these blocked would
	 * hold them back for good (a SIGTERM never handled, a grace never ending), where
	 * sig_main's sigwait takes them blocked or not. The threads started later inherit
	 * this mask. */
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGALRM);
	pthread_sigmask(SIG_UNBLOCK, &set, NULL);
}

/* Blocks SIGTERM and SIGINT (before any thread starts: they inherit the mask) and starts
 * sig_main and sig_stopper, or with `light` installs sig_light. Without them the signals
 * act as before (they end the process). exit_file: --exit-file, or NULL. */
static void sig_start(const char *exit_file, bool light)
{
	static sigset_t set;
	pthread_t t, u;

	if (light) {
		sig_start_light();
		return;
	}
	atomic_store(&sig_exit_file, exit_file);
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	if (pthread_sigmask(SIG_BLOCK, &set, NULL))
		return;
	if (pthread_create(&u, NULL, sig_stopper, NULL)) {
		pthread_sigmask(SIG_UNBLOCK, &set, NULL);
		return;
	}
	pthread_detach(u); /* it waits for a signal that then never comes */
	if (pthread_create(&t, NULL, sig_main, &set)) {
		pthread_sigmask(SIG_UNBLOCK, &set, NULL);
		return;
	}
	pthread_detach(t);
}

/* Ends the program (stop or kill): not amid a snapshot or a replication checkpoint
 * (plock), whose parked program the interrupt would wake while its state is read (a
 * snapshot would hold frames the program left; a checkpoint would fail, replication
 * stop, and the standby, never told the program ended, take it over). `wait` (the signal
 * thread): until plock is free, then the interrupt. Else (the control socket's stop and
 * kill, answered at once even while a snapshot takes seconds) with plock taken, the stop
 * is recorded and the holder interrupts the program as it lets go (plock_release: it
 * reads `ending` after its unlock). The snapshots and checkpoints after it see `ending`
 * and refuse or skip. */
static int ctl_end(struct wasm_ctl *c, atomic_bool *how, bool wait)
{
	struct wasm_store *st = atomic_load(&c->store);

	if (!st)
		return -EAGAIN;
	atomic_store(c->ending, true);
	atomic_store(how, true);
	if (wait)
		pthread_mutex_lock(&c->plock);
	else if (pthread_mutex_trylock(&c->plock))
		return 0; /* the holder interrupts it */
	wasm_store_interrupt(st);
	pthread_mutex_unlock(&c->plock);
	return 0;
}

static int ctl_stop(void *opaque)
{
	struct wasm_ctl *c = opaque;

	/* WASI has no signals: stopping ends the program */
	return ctl_end(c, &c->stopped, false);
}

static int ctl_kill(void *opaque)
{
	struct wasm_ctl *c = opaque;

	return ctl_end(c, &c->killed, false);
}

static bool ctl_paused(void *opaque)
{
	struct wasm_ctl *c = opaque;

	return atomic_load(&c->paused);
}

static uint64_t ctl_instret(void *opaque)
{
	(void)opaque;
	return 0; /* the interpreter does not count instructions */
}

/* Whether the paused program can be saved; the same checks before a migration. */
static int ctl_save_check(struct wasm_ctl *c, const struct guestctl_snapshot *req, char *err,
			  size_t errlen)
{
	if (!atomic_load(&c->inst)) {
		snprintf(err, errlen, "only a WASI program run by its _start can be saved");
		return -ENOTSUP;
	}
	if (atomic_load(&c->threaded)) {
		snprintf(err, errlen,
			 "the program uses wasi-threads (thread-spawn): a program with more "
			 "than one thread cannot be saved or migrated");
		return -ENOTSUP;
	}
	if (req->raw_ram) {
		snprintf(err, errlen, "\"ram_format\": \"raw\" is for system VMs");
		return -ENOTSUP;
	}
	if (req->diff) {
		snprintf(err, errlen,
			 "\"snapshot_type\": \"Diff\" is for system VMs; take a Full "
			 "snapshot of a Wasm program");
		return -ENOTSUP;
	}
	return 0;
}

/* Waits (a paused program) for it to park where its state can be saved. */
static int ctl_wait_ready(struct wasm_ctl *c, struct wasm_store *st, char *err, size_t errlen)
{
	(void)c;
	for (int i = 0; i < 5000 && !wasm_store_parked(st); i++)
		usleep(1000);
	if (!wasm_snapshot_ready(st)) {
		snprintf(err, errlen, "%s",
			 wasm_store_parked(st)
				 ? "the program paused where its state cannot be saved (it ran on "
				   "after the pause without reaching a loop, call or host call "
				   "where it can be); resume it and try again"
				 : "the program has not reached a point where its state can be "
				   "saved (it is blocked in a WASI call that cannot give up, such "
				   "as opening a FIFO); try again");
		return -EAGAIN;
	}
	return 0;
}

/* PUT /snapshot/create (a worker thread): the program must be paused; it may take a
 * moment to reach a point whose state can be saved (translated code goes on to the next
 * loop back-edge or call it makes from the interpreter). */
static int ctl_snapshot(void *opaque, const struct guestctl_snapshot *req, char *err, size_t errlen)
{
	struct wasm_ctl *c = opaque;
	struct wasm_instance *inst = atomic_load(&c->inst);
	struct wasm_store *st = atomic_load(&c->store);
	int r;

	if (!st || !atomic_load(&c->paused))
		return -EBUSY;
	r = ctl_save_check(c, req, err, errlen);
	if (r)
		return r;
	/* a stop, kill or signal now waits for the save (ctl_end): the program stays
	 * parked while its state is read */
	pthread_mutex_lock(&c->plock);
	r = atomic_load(c->ending) ? -ESHUTDOWN : 0;
	r = r ?: ctl_wait_ready(c, st, err, errlen);
	r = r
		    ?: wasm_snapshot_save(st, inst, c->wasi, c->opts->module, c->opts->module_len,
					  c->name, req->path, err, errlen);
	plock_release(c);
	return r;
}

/* The migration's snapshot: next to the control socket (the daemon's guests: their run
 * directory, the one their sandbox lets them write), else in $TMPDIR or /tmp. */
static void migrate_path(const struct wasm_opts *o, const char *what, char *out, size_t len)
{
	const char *api = o->ctl.api_path, *slash = api ? strrchr(api, '/') : NULL;
	const char *tmp = getenv("TMPDIR");

	if (slash)
		snprintf(out, len, "%.*s/.lodge-%s-%d.snap", (int)(slash - api), api, what,
			 (int)getpid());
	else
		snprintf(out, len, "%s/.lodge-%s-%d.snap", tmp && tmp[0] ? tmp : "/tmp", what,
			 (int)getpid());
}

/* max_bandwidth: the migration's stream paced to `rate` bytes per second, as a system
 * guest's (machine/migrate.c): no credit for time it ran slower than that. */
struct pace {
	int fd;
	uint64_t rate, t0, bytes;
	uint8_t nonce[SNAP_STREAM_NONCE]; /* the stream's: the destination's "OK" repeats it */
};

#define PACE_SLACK_NS 10000000ull /* 10 ms */
#define PACE_SEC_HDR  24	  /* a section header on the stream */

static void pace_wait(struct pace *p, uint64_t n)
{
	uint64_t now = core_now_ns(), due;

	if (!p->rate)
		return;
	if (!p->t0 ||
	    p->t0 + (uint64_t)((double)p->bytes * 1e9 / (double)p->rate) + PACE_SLACK_NS < now) {
		p->t0 = now;
		p->bytes = 0;
	}
	p->bytes += n;
	due = p->t0 + (uint64_t)((double)p->bytes * 1e9 / (double)p->rate);
	if (due > now) {
		struct timespec ts = {.tv_sec = (time_t)((due - now) / 1000000000ull),
				      .tv_nsec = (long)((due - now) % 1000000000ull)};
		while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
			;
	}
}

/* A wasm_precopy_put_fn onto the paced stream. */
static int pace_put(void *ctx, uint32_t type, const void *data, size_t len)
{
	struct pace *p = ctx;

	pace_wait(p, len + PACE_SEC_HDR);
	return snap_stream_put(p->fd, type, data, len);
}

#define PACE_CHUNK (256u << 10)

/* snap_stream_send_file_body, paced: FILE sections of the file at path, then DONE. */
static int pace_send_file_body(struct pace *p, const char *path, uint64_t *sent)
{
	uint8_t *buf = malloc(PACE_CHUNK);
	int in = open(path, O_RDONLY | O_CLOEXEC), r = 0;
	ssize_t n;

	if (!buf || in < 0) {
		r = !buf ? -ENOMEM : -errno;
		goto out;
	}
	while (!r && (n = read(in, buf, PACE_CHUNK)) != 0) {
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			r = -errno;
			break;
		}
		r = pace_put(p, SNAP_SEC_FILE, buf, (size_t)n);
		*sent += (uint64_t)n + PACE_SEC_HDR;
	}
	r = r ?: snap_stream_quiet(p->fd); /* else its "OK" would be taken as the answer */
	r = r ?: snap_stream_put(p->fd, SNAP_SEC_DONE, "", 0);
out:
	if (in >= 0)
		close(in);
	free(buf);
	return r;
}

#define PRECOPY_ROUNDS 10  /* at most, before the pause */
#define PRECOPY_SMALL  256 /* pages written in a round that the paused round sends (1 MiB) */

/* The pre-copy rounds of a migration while the program runs (at most `max`, fewer once
 * a round leaves at most PRECOPY_SMALL pages), then the pause (*tp: its time) and the
 * wait for the program to park where its state can be saved. r: the caller's result so
 * far (nothing is done but *tp on an error). */
static int precopy_then_park(int r, struct wasm_ctl *c, struct wasm_store *st,
			     struct wasm_precopy *t, struct pace *pc, unsigned max, bool was_paused,
			     uint64_t *tp, unsigned *rounds, char *err, size_t errlen)
{
	uint64_t n = 0;

	while (!r && *rounds < max) {
		r = wasm_precopy_round_to(t, pace_put, pc, false, &n);
		++*rounds;
		if (n <= PRECOPY_SMALL)
			break;
	}
	*tp = core_now_ns();
	if (!r && !was_paused)
		ctl_pause(c);
	return r ?: ctl_wait_ready(c, st, err, errlen);
}

/* Pre-copy (wasm/precopy.h): rounds while the program runs, then the pause, the pages
 * written since and the state without the memory. *tp: when the pause began. */
static int migrate_precopy(struct wasm_ctl *c, struct pace *pc, const char *path, bool was_paused,
			   uint64_t *tp, uint64_t *sent, unsigned *rounds, char *err, size_t errlen)
{
	int fd = pc->fd;
	struct wasm_instance *inst = atomic_load(&c->inst);
	struct wasm_store *st = atomic_load(&c->store);
	struct guestctl_snapshot req = {0};
	struct wasm_precopy *t = NULL;
	uint64_t n = 0, body = 0;
	int r;

	r = ctl_save_check(c, &req, err, errlen);
	r = r ?: wasm_precopy_start(inst, &t, err, errlen);
	if (r)
		return r;
	r = snap_stream_put_header(fd, pc->nonce);
	r = precopy_then_park(r, c, st, t, pc, PRECOPY_ROUNDS, was_paused, tp, rounds, err, errlen);
	if (!r) {
		r = wasm_precopy_round_to(t, pace_put, pc, true, &n);
		++*rounds;
	}
	r = r
		    ?: wasm_snapshot_save_state(st, inst, c->wasi, c->opts->module,
						c->opts->module_len, c->name, path, err, errlen);
	*sent = wasm_precopy_bytes(t);
	wasm_precopy_stop(t);
	r = r ?: pace_send_file_body(pc, path, &body);
	*sent += body;
	if (r == -EAGAIN)
		r = -EBUSY;
	return r;
}

/* Post-copy (wasm/postcopy.h): POSTCOPY and the destination's answer, `rounds_max`
 * pre-copy rounds while the program runs, the pause, DISCARD naming the pages still
 * here, the state without the memory and DONE; then the pages, asked for first, until
 * the destination has them all. *switched: it ran the program (a failure then loses
 * it). */
static int migrate_postcopy(struct wasm_ctl *c, struct pace *pc, const char *path, bool was_paused,
			    unsigned rounds_max, uint64_t *tp, uint64_t *sent, unsigned *rounds,
			    struct wasm_postcopy_stats *ps, bool *switched, char *err,
			    size_t errlen)
{
	int fd = pc->fd;
	struct wasm_instance *inst = atomic_load(&c->inst);
	struct wasm_store *st = atomic_load(&c->store);
	struct guestctl_snapshot req = {0};
	struct wasm_precopy *t = NULL;
	uint64_t body = 0, *bits = NULL, npages = 0;
	uint8_t *base = NULL, *disc = NULL;
	size_t dlen = 0;
	int r;

	*switched = false;
	memset(ps, 0, sizeof(*ps));
	r = ctl_save_check(c, &req, err, errlen);
	r = r ?: wasm_postcopy_check(inst, err, errlen);
	r = r ?: wasm_precopy_start(inst, &t, err, errlen);
	if (r)
		return r;
	r = snap_stream_put_header(fd, pc->nonce) ?: wasm_postcopy_offer(fd, err, errlen);
	r = precopy_then_park(r, c, st, t, pc, rounds_max, was_paused, tp, rounds, err, errlen);
	r = r ?: wasm_precopy_missing(t, &base, &bits, &npages);
	r = r ?: wasm_postcopy_discard(npages, bits, &disc, &dlen);
	r = r ?: pace_put(pc, SNAP_SEC_DISCARD, disc, dlen);
	core_free(disc);
	r = r
		    ?: wasm_snapshot_save_state(st, inst, c->wasi, c->opts->module,
						c->opts->module_len, c->name, path, err, errlen);
	*sent = wasm_precopy_bytes(t) + dlen + PACE_SEC_HDR;
	r = r ?: pace_send_file_body(pc, path, &body);
	*sent += body;
	if (!r) {
		r = wasm_postcopy_serve(fd, base, bits, npages, pc->rate, pc->nonce,
					SNAP_STREAM_TIMEOUT_S * 1000, ps);
		*switched = ps->t_run != 0;
		*sent += ps->bytes;
		if (r && *switched) {
			uint64_t left = 0;
			for (uint64_t w = 0; w < (npages + 63) / 64; w++)
				left += (uint64_t)__builtin_popcountll(bits[w]);
			snprintf(err, errlen,
				 "post-copy failed after the switch (%s) with %llu pages still to "
				 "go: the program is lost (it ran there; it cannot run on here)",
				 strerror(r == -EPROTO ? EPROTO : -r), (unsigned long long)left);
			r = -ENOTRECOVERABLE;
		} else if (r) {
			snprintf(err, errlen, "%s", r == -ETIMEDOUT ? "no answer" : strerror(-r));
		}
	}
	wasm_precopy_stop(t);
	if (r == -EAGAIN)
		r = -EBUSY;
	return r;
}

/* PUT /migrate and POST /migrate/send (a worker thread): pre-copy, or with
 * "stop_and_copy" the program is paused (if it runs) and saved to a file, which goes over
 * the stream. The destination restores it and answers. On success this program ends
 * (ctl_migrated), else it runs on (paused if it was). */
static int ctl_migrate(void *opaque, const char *dest, const struct guestctl_migrate *o, int fd,
		       char *err, size_t errlen)
{
	struct wasm_ctl *c = opaque;
	struct guestctl_snapshot req = {0};
	char path[4096];
	uint64_t sent = 0, t0 = core_now_ns(), tp = 0;
	bool was_paused = atomic_load(&c->paused);
	struct pace pc = {0};
	struct wasm_postcopy_stats ps = {0};
	bool switched = false;
	unsigned rounds = 0;
	int r;

	atomic_store(&c->migrating, true);
	if (!atomic_load(&c->inst) || !atomic_load(&c->store)) {
		snprintf(err, errlen, "only a WASI program run by its _start can migrate");
		r = -EOPNOTSUPP;
		goto out;
	}
	pthread_mutex_lock(&c->rlock);
	if (c->repl) {
		struct wasm_repl_stats rs;
		wasm_replicate_stats(c->repl, &rs);
		if (rs.active) {
			snprintf(err, errlen,
				 "the program is replicated to %s: it cannot migrate meanwhile "
				 "(its standby takes over with PUT /failover there instead)",
				 c->repl_dest);
			pthread_mutex_unlock(&c->rlock);
			r = -EBUSY;
			goto out;
		}
	}
	pthread_mutex_unlock(&c->rlock);
	if (o->post_copy && o->stop_copy) {
		snprintf(err, errlen, "post_copy and stop_and_copy exclude each other");
		r = -EOPNOTSUPP;
		goto out;
	}
	pthread_mutex_lock(&c->rlock);
	r = wasm_postcopy_in_active(c->postcopy) ? -EOPNOTSUPP : 0;
	pthread_mutex_unlock(&c->rlock);
	if (r) {
		snprintf(err, errlen,
			 "the program's memory is still arriving from its last migration "
			 "(post-copy): migrate it once that is done");
		goto out;
	}
	if (fd < 0 && c->opts->seccomp) {
		snprintf(err, errlen,
			 "the program runs under --seccomp, whose allow list has no sockets: hand "
			 "the connection over (POST /migrate/send)");
		atomic_store(&c->migrating, false);
		return -EOPNOTSUPP;
	}
	if (fd < 0) {
		fd = snap_stream_dial(dest);
		if (fd < 0) {
			snprintf(err, errlen, "cannot connect to %s: %s", dest,
				 fd == -EINVAL ? "not HOST:PORT with a port from 1 to 65535, or "
						 "its host does not resolve"
					       : strerror(-fd));
			atomic_store(&c->migrating, false);
			return fd;
		}
	} else if (!c->opts->seccomp) {
		/* handed over (POST /migrate/send): the timeouts a dialled stream has, else
		 * a destination that stops reading holds the migration (and, once paused,
		 * the program) for ever. Under --seccomp (the daemon's guests) the allow list
		 * has no setsockopt: the daemon's sockets have them already. */
		snap_stream_sockopts(fd);
	}
	migrate_path(c->opts, "migrate", path, sizeof(path));
	pc.fd = fd;
	pc.rate = o->max_bandwidth;
	if (o->post_copy) {
		r = migrate_postcopy(c, &pc, path, was_paused, o->precopy_rounds, &tp, &sent,
				     &rounds, &ps, &switched, err, errlen);
		if (r && err[0] && !switched && r != -EOPNOTSUPP && r != -EBUSY &&
		    r != -ECONNABORTED) {
			char why[300];
			snprintf(why, sizeof(why), "%s", err);
			snprintf(err, errlen, "%s (%s): the program runs on here", dest, why);
		}
	} else if (!o->stop_copy) {
		r = migrate_precopy(c, &pc, path, was_paused, &tp, &sent, &rounds, err, errlen);
		r = r ?: snap_stream_put(fd, SNAP_SEC_DONE, "", 0);
	} else {
		req.path = path;
		tp = core_now_ns();
		if (!was_paused)
			ctl_pause(c);
		r = ctl_snapshot(c, &req, err, errlen);
		if (r == -ENOTSUP || r == -EAGAIN)
			r = r == -EAGAIN ? -EBUSY : -EOPNOTSUPP;
		r = r ?: snap_stream_put_header(fd, pc.nonce);
		r = r ?: pace_send_file_body(&pc, path, &sent);
	}
	if (r == -ENOTSUP)
		r = -EOPNOTSUPP;
	if (!r && !o->post_copy) {
		/* it restores the program meanwhile, saying so (progress frames): only
		 * silence for the stream's timeout is a dead destination */
		r = snap_stream_wait_ack(fd, pc.nonce);
		if (r)
			snprintf(err, errlen, "%s (%s): the program runs on here", dest,
				 r == -ECONNABORTED || r == -ECONNRESET
					 ? "it refused the program or closed the connection: its "
					   "log says why"
				 : r == -ETIMEDOUT ? "it was silent for the stream's timeout"
				 : r == -EPROTO ? "it answered OK without the stream's nonce: it "
						  "is not a Lodge destination"
						: strerror(-r));
	} else if (!err[0]) {
		snprintf(err, errlen, "%s (%s): the program runs on here", dest,
			 r == -EPROTO ? "it answered before the program was sent: not a Lodge "
					"destination"
			 : r == -ECONNRESET || r == -EPIPE
				 ? "it closed the connection: its log says why (a Lodge that "
				   "speaks another migration stream version refuses this one, "
				   "and a destination waiting for a system VM refuses a program)"
				 : strerror(-r));
	}
	unlink(path);
	if (r == -ENOTRECOVERABLE) {
		/* it ran at the destination: it cannot run on here */
		fprintf(stderr, "lodge: migration to %s lost: %s\n", dest, err);
		atomic_store(&c->lost, true); /* it stays parked: ctl_migrated ends it */
	} else if (r && !was_paused) {
		ctl_resume(c);
	}
	if (!r && o->post_copy)
		fprintf(stderr,
			"lodge: migrated to %s: post-copy, %u rounds, %.1f MiB in %.1f ms, paused "
			"%.2f ms, post-copy %llu pages (%llu asked for)\n",
			dest, rounds, (double)sent / 1048576.0, (double)(core_now_ns() - t0) / 1e6,
			(double)(ps.t_run - tp) / 1e6, (unsigned long long)ps.pages,
			(unsigned long long)ps.requested);
	else if (!r && rounds)
		fprintf(stderr,
			"lodge: migrated to %s: pre-copy, %u rounds, %.1f MiB in %.1f ms, paused "
			"%.2f ms\n",
			dest, rounds, (double)sent / 1048576.0, (double)(core_now_ns() - t0) / 1e6,
			(double)(core_now_ns() - tp) / 1e6);
	else if (!r)
		fprintf(stderr,
			"lodge: migrated to %s: stop and copy, %.1f MiB in %.1f ms, paused "
			"%.2f ms\n",
			dest, (double)sent / 1048576.0, (double)(core_now_ns() - t0) / 1e6,
			(double)(core_now_ns() - tp) / 1e6);
out:
	close(fd);
	if (r) /* else the program ends as migrated (ctl_migrated): a signal waits for it */
		atomic_store(&c->migrating, false);
	return r;
}

/* After the answer to the migration went out: the program ends here (it is parked),
 * migrated, or lost (c->lost set: a post-copy failed after the switch). */
static void ctl_migrated(void *opaque, bool lost)
{
	struct wasm_ctl *c = opaque;
	struct wasm_store *st = atomic_load(&c->store);

	atomic_store(c->ending, true);
	if (!lost)
		atomic_store(&c->migrated, true);
	if (st)
		wasm_store_interrupt(st);
}

/* ----- replication (wasm/replicate.h) ----- */

/* wasm_repl_hooks.park: pauses the program where its state can be saved, plock held
 * until unpark. A program the control socket paused is parked already. */
static int repl_park(void *opaque, char *err, size_t errlen)
{
	struct wasm_ctl *c = opaque;
	struct wasm_store *st = atomic_load(&c->store);

	pthread_mutex_lock(&c->plock);
	if (atomic_load(c->ending)) { /* stopped or killed: it ends (and the standby is told) */
		snprintf(err, errlen, "the program ends");
		pthread_mutex_unlock(&c->plock);
		return -EAGAIN;
	}
	c->ck_paused = !atomic_load(&c->paused);
	if (c->ck_paused)
		wasm_store_pause(st);
	/* a host call (a sleep, a read) finishes first; translated code goes on to its
	 * next point where the state can be saved */
	for (uint64_t until = core_now_ns() + 1000000000ull;
	     !wasm_snapshot_ready(st) && core_now_ns() < until;)
		usleep(50);
	if (wasm_snapshot_ready(st))
		return 0;
	snprintf(err, errlen,
		 "the program did not reach a point where its state can be saved within a "
		 "second (it waits in a WASI call, or runs in translated code)");
	if (c->ck_paused)
		wasm_store_resume(st);
	c->ck_paused = false;
	plock_release(c);
	return -EAGAIN;
}

static void repl_unpark(void *opaque)
{
	struct wasm_ctl *c = opaque;

	if (c->ck_paused)
		wasm_store_resume(atomic_load(&c->store));
	c->ck_paused = false;
	plock_release(c);
}

static int repl_save(void *opaque, const char *path, char *err, size_t errlen)
{
	struct wasm_ctl *c = opaque;

	return wasm_snapshot_save_state(atomic_load(&c->store), atomic_load(&c->inst), c->wasi,
					c->opts->module, c->opts->module_len, c->name, path, err,
					errlen);
}

static void repl_stats(struct wasm_repl *rp, struct vm_repl_stats *o)
{
	struct wasm_repl_stats s;

	wasm_replicate_stats(rp, &s);
	memset(o, 0, sizeof(*o));
	o->active = s.active;
	o->checkpoints = s.checkpoints;
	o->first_pause_ns = s.first_pause_ns;
	o->pause_last_ns = s.pause_last_ns;
	o->pause_max_ns = s.pause_max_ns;
	o->pause_total_ns = s.pause_total_ns;
	o->rpo_last_ns = s.rpo_last_ns;
	o->rpo_max_ns = s.rpo_max_ns;
	o->rpo_total_ns = s.rpo_total_ns;
	o->bytes = s.bytes;
	o->first_ns = s.first_ns;
	snprintf(o->error, sizeof(o->error), "%s", s.error);
}

/* Ends a replication that is over (a failed one) or, with done, any (the program
 * ended): the program is parked or over. rlock held. */
static void repl_drop(struct wasm_ctl *c, bool done)
{
	if (!c->repl)
		return;
	repl_stats(c->repl, &c->repl_last);
	c->repl_last.active = false;
	wasm_replicate_stop(c->repl, done);
	c->repl = NULL;
}

/* PUT /replicate and POST /replicate/send (a worker thread). */
static int ctl_replicate(void *opaque, const char *dest, unsigned interval_ms, int fd, char *err,
			 size_t errlen)
{
	struct wasm_ctl *c = opaque;
	struct wasm_instance *inst = atomic_load(&c->inst);
	struct guestctl_snapshot req = {0};
	struct wasm_repl_hooks h = {c, repl_park, repl_unpark, repl_save};
	struct wasm_repl *rp = NULL;
	char path[4096];
	int r;

	if (!atomic_load(&c->store) || !inst) {
		snprintf(err, errlen, "only a WASI program run by its _start can be replicated");
		r = atomic_load(&c->store) ? -EOPNOTSUPP : -EAGAIN;
		goto fail;
	}
	r = ctl_save_check(c, &req, err, errlen);
	pthread_mutex_lock(&c->rlock);
	if (!r && wasm_postcopy_in_active(c->postcopy)) {
		snprintf(err, errlen,
			 "the program's memory is still arriving from its migration "
			 "(post-copy): replicate it once that is done");
		r = -EOPNOTSUPP;
	}
	pthread_mutex_unlock(&c->rlock);
	if (r) {
		r = -EOPNOTSUPP;
		goto fail;
	}
	if (fd < 0 && c->opts->seccomp) {
		snprintf(err, errlen,
			 "the program runs under --seccomp, whose allow list has no sockets: hand "
			 "the connection over (POST /replicate/send)");
		r = -EOPNOTSUPP;
		goto fail;
	}
	if (fd >= 0 && !c->opts->seccomp)
		snap_stream_sockopts(fd);
	pthread_mutex_lock(&c->rlock);
	if (c->repl) {
		struct wasm_repl_stats rs;
		wasm_replicate_stats(c->repl, &rs);
		if (rs.active) {
			snprintf(err, errlen, "the program is replicated to %s already",
				 c->repl_dest);
			pthread_mutex_unlock(&c->rlock);
			r = -EALREADY;
			goto fail;
		}
		/* the last one failed: its tracking goes, with the program parked (no WASI
		 * call is in its output hold meanwhile) */
		r = repl_park(c, err, errlen);
		if (r) {
			pthread_mutex_unlock(&c->rlock);
			r = -EBUSY;
			goto fail;
		}
		repl_drop(c, false);
		repl_unpark(c);
	}
	/* the state is written at every checkpoint with the program parked: on a tmpfs
	 * where there is one (the file system beside the control socket may be a disk,
	 * where the writer's fsync costs milliseconds), else beside the socket */
	if (!c->opts->sandbox && access("/dev/shm", W_OK) == 0)
		snprintf(path, sizeof(path), "/dev/shm/.lodge-repl-%d.snap", (int)getpid());
	else
		migrate_path(c->opts, "repl", path, sizeof(path));
	r = wasm_replicate_start(inst, (struct wasi *)c->wasi, &h, dest, fd, interval_ms, path, &rp,
				 err, errlen);
	fd = -1;
	if (!r) {
		c->repl = rp;
		c->repl_ran = true;
		snprintf(c->repl_dest, sizeof(c->repl_dest), "%s", dest);
	}
	pthread_mutex_unlock(&c->rlock);
	if (!r)
		fprintf(stderr, "lodge: replicating to %s every %u ms\n", dest, interval_ms);
	return r;
fail:
	if (fd >= 0)
		close(fd);
	return r;
}

static int ctl_replication(void *opaque, struct vm_repl_stats *out, char *dest, size_t cap)
{
	struct wasm_ctl *c = opaque;
	int r = 0;

	pthread_mutex_lock(&c->rlock);
	if (c->repl)
		repl_stats(c->repl, out);
	else if (c->repl_ran)
		*out = c->repl_last;
	else
		r = -ENOENT;
	snprintf(dest, cap, "%s", c->repl_dest);
	pthread_mutex_unlock(&c->rlock);
	return r;
}

static int ctl_failover(void *opaque)
{
	struct wasm_ctl *c = opaque;
	int r = 0;

	pthread_mutex_lock(&c->rlock);
	if (c->standby)
		wasm_standby_failover(c->standby);
	else
		r = -ENOENT;
	pthread_mutex_unlock(&c->rlock);
	return r;
}

/* The program ended: the standby is told so, the output held goes out. */
static void repl_end(struct wasm_ctl *c)
{
	pthread_mutex_lock(&c->rlock);
	repl_drop(c, true);
	pthread_mutex_unlock(&c->rlock);
}

static const struct guestctl_ops wasm_ctl_ops = {
	.snapshot = ctl_snapshot,
	.replicate = ctl_replicate,
	.replication = ctl_replication,
	.failover = ctl_failover,
	.migrate = ctl_migrate,
	.migrated = ctl_migrated,
	.ram_resident = ctl_instret, /* no guest RAM: 0 */
	.kind = "wasm",
	.pause = ctl_pause,
	.resume = ctl_resume,
	.stop = ctl_stop,
	.kill = ctl_kill,
	.end_beside_snapshot = true, /* ctl_end does not wait for plock */
	.paused = ctl_paused,
	.instret = ctl_instret,
};

/* ----- --invoke ----- */

/* [-+]nan:0xPAYLOAD, as print_nan writes it: a NaN with that payload (not 0, and within
 * the type's 23 or 52 bits). */
static int parse_nan(const char *s, uint8_t type, union wasm_value *v)
{
	bool neg = s[0] == '-';
	unsigned frac = type == WASM_F32 ? 23 : 52;
	unsigned long long payload;
	uint64_t bits;
	char *end;

	s += neg || s[0] == '+';
	if (strncmp(s, "nan:0x", 6) || !isxdigit((unsigned char)s[6]))
		return -EINVAL;
	errno = 0;
	payload = strtoull(s + 6, &end, 16);
	if (errno || *end || payload == 0 || payload >> frac)
		return -EINVAL;
	bits = (uint64_t)neg << (frac == 23 ? 31 : 63) |
	       (frac == 23 ? 0xffull << 23 : 0x7ffull << 52) | payload;
	if (type == WASM_F32) {
		uint32_t b32 = (uint32_t)bits;
		memcpy(&v->f32, &b32, sizeof(b32));
	} else {
		memcpy(&v->f64, &bits, sizeof(bits));
	}
	return 0;
}

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
	case WASM_F64:
		if (strstr(s, "nan:"))
			return parse_nan(s, type, v);
		if (type == WASM_F32)
			v->f32 = strtof(s, &end);
		else
			v->f64 = strtod(s, &end);
		break;
	default:
		return -ENOTSUP;
	}
	if (errno || end == s || *end)
		return -EINVAL;
	return 0;
}

/* A NaN as the spec tests write it: "nan" for the canonical one (only the quiet bit of
 * the payload set), else "nan:0x" and its payload; "-" before either when the sign is set. */
static void print_nan(unsigned sign, uint64_t payload, uint64_t canonical)
{
	if (payload == canonical)
		printf("%snan\n", sign ? "-" : "");
	else
		printf("%snan:0x%" PRIx64 "\n", sign ? "-" : "", payload);
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
		if (isnan(v->f32)) {
			uint32_t bits;
			memcpy(&bits, &v->f32, sizeof(bits));
			print_nan(bits >> 31, bits & 0x7fffffu, 0x400000u);
		} else {
			printf("%.9g\n", (double)v->f32);
		}
		break;
	case WASM_F64:
		if (isnan(v->f64)) {
			uint64_t bits;
			memcpy(&bits, &v->f64, sizeof(bits));
			print_nan((unsigned)(bits >> 63), bits & 0xfffffffffffffull,
				  0x8000000000000ull);
		} else {
			printf("%.17g\n", v->f64);
		}
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

static void report_trap(const char *file, const struct wasm_text_binary *text,
			const struct wasm_trap_info *info)
{
	char name[NAME_SHOWN];
	uint32_t line, col;

	fprintf(stderr, "lodge wasm: %s: trap: %s", file, wasm_trap_message(info->trap));
	if (info->func >= 0) {
		fprintf(stderr, " in function %" PRId64, info->func);
		if (info->func_name)
			fprintf(stderr, " (%s)",
				wasm_name_escape(info->func_name, info->func_name_len, name,
						 sizeof(name)));
	}
	if (info->offset >= 0)
		fprintf(stderr, " at offset 0x%" PRIx64, (uint64_t)info->offset);
	if (text && !wasm_text_locate(text, info->offset, &line, &col))
		fprintf(stderr, " (%s:%" PRIu32 ":%" PRIu32 ")", file, line, col);
	fprintf(stderr, "\n");
}

/* proc_exit's code is a u32 and a process status 8 bits: 0..255 are kept, anything larger
 * becomes 255, so that no failure can read as success (256 would wrap to 0). */
static int exit_status(int code)
{
	uint32_t c = (uint32_t)code;

	return c > 255 ? 255 : (int)c;
}

static int report_timeout(struct watchdog *wd)
{
	char msg[512];

	timeout_message(wd, msg, sizeof(msg));
	fputs(msg, stderr);
	return CLI_EXIT_TIMEOUT;
}

/* Maps the outcome of a call to an exit status, with its report. */
static int finish_call(const struct wasm_opts *o, enum wasm_trap trap,
		       const struct wasm_trap_info *info, struct watchdog *wd)
{
	watchdog_settle(wd);
	if (trap == WASM_TRAP_NONE)
		return 0;
	if (trap == WASM_TRAP_EXIT)
		return exit_status(info->exit_code);
	if (trap == WASM_TRAP_INTERRUPTED && watchdog_fired(wd))
		return report_timeout(wd);
	if (trap == WASM_TRAP_INTERRUPTED && atomic_load(&o->ctl_ending))
		return 0; /* stopped or killed through --api: ctl_status says which */
	report_trap(o->file, o->text, info);
	return EXIT_TRAP;
}

static const char *type_name(uint8_t t)
{
	return t == WASM_I32   ? "i32"
	       : t == WASM_I64 ? "i64"
	       : t == WASM_F32 ? "f32"
	       : t == WASM_F64 ? "f64"
			       : "value (unsupported type)";
}

/* The main thread's call returned: ends the program's other threads (wasi-threads), whose
 * proc_exit or trap, if it came first, is the program's outcome. *stuck when a thread
 * blocked in a host call could not be stopped (the store must stay). */
static void end_threads(struct wasi *wasi, enum wasm_trap *trap, struct wasm_trap_info *info,
			bool *stuck)
{
	if (wasi_threads_finish(wasi, trap, info) == -EBUSY)
		*stuck = true;
}

static int run_invoke(const struct wasm_opts *o, struct wasm_store *s, struct wasm_instance *inst,
		      struct watchdog *wd, struct wasi *wasi, bool *stuck)
{
	struct wasm_extern ext;
	const struct wasm_functype *ft;
	union wasm_value *vals;
	struct wasm_trap_info info;
	enum wasm_trap trap;
	int status;

	if (wasm_instance_export(inst, o->invoke, &ext) || ext.kind != WASM_EXTERN_FUNC) {
		watchdog_settle(wd);
		fprintf(stderr, "lodge wasm: %s: no exported function '%s'\n", o->file, o->invoke);
		return CLI_EXIT_ERROR;
	}
	ft = wasm_func_type(ext.u.func);
	if ((uint32_t)(o->argc - 1) != ft->nparams) {
		watchdog_settle(wd);
		fprintf(stderr, "lodge wasm: %s: '%s' takes %u arguments, %d given\n", o->file,
			o->invoke, ft->nparams, o->argc - 1);
		return CLI_EXIT_USAGE;
	}
	vals = calloc((size_t)ft->nparams + ft->nresults + 1, sizeof(*vals));
	if (!vals)
		return CLI_EXIT_ERROR;
	for (uint32_t i = 0; i < ft->nparams; i++) {
		if (parse_value(o->argv[i + 1], ft->params[i], &vals[i])) {
			watchdog_settle(wd);
			fprintf(stderr, "lodge wasm: argument %u: cannot use '%s' as a %s\n", i + 1,
				o->argv[i + 1], type_name(ft->params[i]));
			free(vals);
			return CLI_EXIT_USAGE;
		}
	}
	trap = wasm_call(s, ext.u.func, vals, vals + ft->nparams, &info);
	end_threads(wasi, &trap, &info, stuck);
	status = finish_call(o, trap, &info, wd);
	if (trap == WASM_TRAP_NONE)
		for (uint32_t i = 0; i < ft->nresults; i++)
			print_value(ft->results[i], &vals[ft->nparams + i]);
	free(vals);
	return status;
}

static int run_start(const struct wasm_opts *o, struct wasm_store *s, struct wasm_instance *inst,
		     struct watchdog *wd, struct wasi *wasi, bool *stuck)
{
	struct wasm_extern ext;
	struct wasm_trap_info info;
	enum wasm_trap trap;

	if (wasm_instance_export(inst, "_start", &ext) || ext.kind != WASM_EXTERN_FUNC) {
		watchdog_settle(wd);
		fprintf(stderr, "lodge wasm: %s: no _start function (use --invoke NAME)\n",
			o->file);
		return CLI_EXIT_ERROR;
	}
	if (wasm_func_type(ext.u.func)->nparams || wasm_func_type(ext.u.func)->nresults) {
		watchdog_settle(wd);
		fprintf(stderr, "lodge wasm: %s: _start must take and return nothing\n", o->file);
		return CLI_EXIT_ERROR;
	}
	trap = wasm_call(s, ext.u.func, NULL, NULL, &info);
	end_threads(wasi, &trap, &info, stuck);
	return finish_call(o, trap, &info, wd);
}

/* Instantiation failed: a proc_exit or a timeout in the start function, a trap there or
 * in a segment, or a link or limit error. */
static int instantiate_failed(const struct wasm_opts *o, const struct wasm_error *err,
			      struct watchdog *wd)
{
	char msg[512], at[PATH_SHOWN];

	watchdog_settle(wd);
	if (err->kind == WASM_ERR_UNINSTANTIABLE && err->trap == WASM_TRAP_EXIT)
		return exit_status(err->exit_code);
	if (err->kind == WASM_ERR_UNINSTANTIABLE && err->trap == WASM_TRAP_INTERRUPTED &&
	    watchdog_fired(wd))
		return report_timeout(wd);
	wasm_error_format(err, msg, sizeof(msg));
	fprintf(stderr, "lodge wasm: %s: %s%s\n", where(o, err->offset, at, sizeof(at)), msg,
		err->kind == WASM_ERR_LIMIT && strstr(err->detail, "memory budget")
			? " (--max-memory sets the budget)"
			: "");
	return err->kind == WASM_ERR_UNINSTANTIABLE ? EXIT_TRAP : CLI_EXIT_ERROR;
}

/* Whether module m imports wasi-threads' thread-spawn or a memory (which, shared, the
 * threads' instances import too). */
static bool wants_threads(const struct wasm_module *m)
{
	for (uint32_t i = 0; i < wasm_module_import_count(m); i++) {
		const char *mod, *name;
		enum wasm_extern_kind kind;
		wasm_module_import(m, i, &mod, &name, &kind);
		if (kind == WASM_EXTERN_MEMORY ||
		    (kind == WASM_EXTERN_FUNC && !strcmp(mod, "wasi") &&
		     !strcmp(name, "thread-spawn")))
			return true;
	}
	return false;
}

static int instantiate_and_run(const struct wasm_opts *o, struct wasm_module *m,
			       struct wasm_store *s, struct wasi *wasi, struct watchdog *wd,
			       struct wasm_ctl *ctl, bool *stuck)
{
	struct wasm_instance *inst;
	struct wasm_error err;

	if (wants_threads(m)) {
		/* a thread store's JIT makes its code buffer (a memfd) at its first
		 * translation, also under --seccomp, whose Wasm allow list has memfd_create */
		if (wasi_threads_enable(wasi, m, o->max_threads, o->jit_hot)) {
			watchdog_settle(wd);
			fprintf(stderr, "lodge wasm: %s: out of memory\n", o->file);
			return CLI_EXIT_ERROR;
		}
		atomic_store(&ctl->threaded, true);
	}
	if (wasm_instance_create(s, m, wasi_resolve, wasi, &inst, &err)) {
		struct wasm_trap_info info = {.trap = err.trap, .exit_code = err.exit_code};
		enum wasm_trap trap = err.trap;
		/* the start function may have spawned threads */
		end_threads(wasi, &trap, &info, stuck);
		if (trap != err.trap || info.exit_code != err.exit_code) {
			watchdog_settle(wd);
			return finish_call(o, trap, &info, wd);
		}
		return instantiate_failed(o, &err, wd);
	}
	times_mark(o->times, "instantiate");
	guestctl_ready(ctl->g);
	if (!o->invoke && o->module) {
		ctl->wasi = wasi;
		atomic_store(&ctl->inst, inst);
	}
	return o->invoke ? run_invoke(o, s, inst, wd, wasi, stuck)
			 : run_start(o, s, inst, wd, wasi, stuck);
}

/* The exit status and reason once the control socket (or a signal) stopped or killed the
 * program. From here a signal no longer acts on c. */
static int ctl_status(const struct wasm_ctl *c, int status, const char **reason)
{
	pthread_mutex_lock(&sig_lock);
	if (atomic_load(&sig_ctl) == c) {
		/* sig_over first: sig_light may interrupt this thread between the two, and
		 * must then find the run over, not "nothing running yet" (which would end
		 * the process at once with 128 + the signal instead of the program's status) */
		atomic_store(&sig_over, true);
		atomic_store(&sig_ctl, NULL);
	}
	pthread_mutex_unlock(&sig_lock);
	if (atomic_load(&c->killed)) {
		*reason = "killed";
		return CLI_EXIT_KILLED;
	}
	if (atomic_load(&c->migrated)) {
		*reason = "migrated";
		return 0;
	}
	if (atomic_load(&c->lost)) {
		*reason = "migration lost";
		return CLI_EXIT_ERROR;
	}
	if (atomic_load(&c->stopped) && atomic_load(&sig_got)) {
		*reason = "signal";
		return 128 + atomic_load(&sig_got);
	}
	if (atomic_load(&c->stopped)) {
		*reason = "stopped";
		return 0;
	}
	*reason = status == 0 ? "exit" : status == EXIT_TRAP ? "trap" : "exit with failure";
	return status;
}

/* A run that fails before its program starts: from here a signal finds nothing running
 * (the process ends at once), not ctl, whose store is about to go. */
static void ctl_unpublish(const struct wasm_ctl *c)
{
	pthread_mutex_lock(&sig_lock);
	if (atomic_load(&sig_ctl) == c)
		atomic_store(&sig_ctl, NULL);
	pthread_mutex_unlock(&sig_lock);
}

static void ctl_init(struct wasm_ctl *ctl, struct wasm_store *s, const struct wasm_opts *o,
		     const char *name)
{
	memset(ctl, 0, sizeof(*ctl));
	atomic_init(&ctl->store, s);
	atomic_init(&ctl->paused, false);
	atomic_init(&ctl->migrated, false);
	atomic_init(&ctl->lost, false);
	atomic_init(&ctl->stopped, false);
	atomic_init(&ctl->killed, false);
	atomic_init(&ctl->committed, false);
	atomic_init(&ctl->inst, NULL);
	atomic_init(&ctl->threaded, false);
	pthread_mutex_init(&ctl->plock, NULL);
	pthread_mutex_init(&ctl->rlock, NULL);
	ctl->ending = (atomic_bool *)&o->ctl_ending;
	atomic_store(&sig_ctl, ctl); /* SIGTERM, SIGINT: a clean stop (sig_main) */
	ctl->opts = o;
	ctl->name = name;
}

/* What comes before the state on an incoming stream: a pre-copy's pages, and for a
 * post-copy first POSTCOPY (answered at once), its rounds' pages, then DISCARD. */
struct incoming {
	int fd;
	struct wasm_precopy_in *pin;
	struct wasm_postcopy_in *pc;
};

static int incoming_section(void *opaque, uint32_t type, const uint8_t *p, size_t len, char *err,
			    size_t errlen)
{
	struct incoming *in = opaque;

	if (type == SNAP_SEC_POSTCOPY) {
		if (len || in->pc || in->pin->sections) {
			snprintf(err, errlen,
				 "corrupt: a post-copy section that is malformed, repeated or "
				 "late");
			return -EINVAL;
		}
		/* answered either way: a refusal says why in this log */
		return wasm_postcopy_in_new(in->fd, &in->pc, err, errlen);
	}
	if (type == SNAP_SEC_DISCARD) {
		if (!in->pc) {
			snprintf(err, errlen, "corrupt: a discard section without post-copy");
			return -EINVAL;
		}
		return wasm_postcopy_in_discard(in->pc, p, len, in->pin->npages, err, errlen);
	}
	if (in->pc && wasm_postcopy_in_discarded(in->pc)) {
		snprintf(err, errlen, "corrupt: a section of type 0x%x after the discard", type);
		return -EINVAL;
	}
	return wasm_precopy_in_section(in->pin, type, p, len, err, errlen);
}

/* --incoming: takes the stream (handed over on the control socket, or accepted on
 * HOST:PORT) and receives the program's snapshot into `path`. Returns 0 with the
 * connection in *fd (for the answer) and, for a post-copy, its pages' server in *pc;
 * or -errno with err. */
static int incoming_receive(const struct wasm_opts *o, struct guestctl *g, char *path, size_t plen,
			    int *fd, struct wasm_precopy_in *pin, struct wasm_postcopy_in **pc,
			    uint8_t nonce[SNAP_STREAM_NONCE], char *peer, size_t peerlen, char *err,
			    size_t errlen)
{
	struct incoming in = {.pin = pin};
	int c, r;

	if (o->ctl.incoming) {
		r = guestctl_incoming(g, &c, peer, peerlen);
		if (r)
			return r;
		if (!o->seccomp) /* as an accepted stream (the daemon's has them already) */
			snap_stream_sockopts(c);
	} else {
		snprintf(peer, peerlen, "%s", o->incoming);
		c = snap_stream_accept(o->incoming, err, errlen);
		if (c < 0)
			return c;
	}
	migrate_path(o, "incoming", path, plen);
	r = wasm_precopy_in_init(pin, incoming_room(o));
	if (r) {
		snprintf(err, errlen, "out of memory");
		close(c);
		return r;
	}
	/* a pre-copy's pages come first, a stop and copy's stream has none */
	in.fd = c;
	r = snap_stream_recv_file_cb(c, path, incoming_file_max(o), incoming_section, &in, nonce,
				     err, errlen);
	if (!r && in.pc && !wasm_postcopy_in_discarded(in.pc)) {
		snprintf(err, errlen, "corrupt: the post-copy stream ended without its discard");
		r = -EINVAL;
	}
	if (r) {
		wasm_postcopy_in_fini(in.pc, false);
		close(c);
		return r;
	}
	*pc = in.pc;
	*fd = c;
	return 0;
}

/* --standby: takes the primary's replication stream as incoming_receive takes a
 * migration's, keeps its checkpoints, and once it ends (and PUT /failover came, unless
 * --failover auto) leaves the last committed state in `path` and its memory in pin.
 * Returns 0, -ENODATA (the program ended on the primary) or -errno with err. */
/* snap_stream_accept_until's stop: says once (right after the listen) where the standby
 * listens; never stops. */
static bool announce_listening(void *addr)
{
	static bool said;

	if (!said)
		fprintf(stderr, "lodge: standby: listening on %s\n", (const char *)addr);
	said = true;
	return false;
}

static int standby_receive(const struct wasm_opts *o, struct guestctl *g, struct wasm_ctl *ctl,
			   char *path, size_t plen, struct wasm_precopy_in *pin, char *peer,
			   size_t peerlen, char *err, size_t errlen)
{
	struct wasm_standby *s;
	struct wasi_mirror *m = NULL;
	int c, r;

	/* its directories are checked (empty) before anything comes */
	r = wasi_mirror_create(o->ndirs, o->dirs, &m, err, errlen);
	if (r)
		return r;
	if (o->ctl.incoming) {
		r = guestctl_incoming(g, &c, peer, peerlen);
		if (r) {
			wasi_mirror_destroy(m);
			return r;
		}
		if (!o->seccomp)
			snap_stream_sockopts(c);
	} else {
		snprintf(peer, peerlen, "%s", o->incoming);
		c = snap_stream_accept_until(o->incoming, announce_listening, (void *)o->incoming,
					     err, errlen);
		if (c < 0) {
			wasi_mirror_destroy(m);
			return c;
		}
	}
	migrate_path(o, "standby", path, plen);
	r = wasm_precopy_in_init(pin, incoming_room(o));
	r = r ?: wasm_standby_create(c, o->failover_auto, o->heartbeat_ms, &s);
	if (r) {
		snprintf(err, errlen, "out of memory");
		wasi_mirror_destroy(m);
		close(c);
		return r;
	}
	wasm_standby_set_dirs(s, m);
	pthread_mutex_lock(&ctl->rlock);
	ctl->standby = s;
	pthread_mutex_unlock(&ctl->rlock);
	r = wasm_standby_run(s, pin, path, err, errlen);
	pthread_mutex_lock(&ctl->rlock);
	ctl->standby = NULL;
	pthread_mutex_unlock(&ctl->rlock);
	if (!r)
		fprintf(stderr, "lodge: standby: taking over from checkpoint %llu\n",
			(unsigned long long)wasm_standby_committed(s));
	wasm_standby_destroy(s);
	close(c);
	return r;
}

/* wasm_postcopy_lost_fn: the source is gone with pages of the running program still
 * there (the thread said so): it cannot go on, and no data of it is here to keep. */
static void postcopy_lost(void *opaque)
{
	struct wasm_ctl *c = opaque;

	if (c->g)
		guestctl_exit(c->g, CLI_EXIT_ERROR, "post-copy failed");
	fflush(stderr);
	_exit(CLI_EXIT_ERROR);
}

/* lodge wasm --restore FILE: the program goes on from its snapshot; --incoming: from the
 * one a migration brings, acknowledged once it is restored; --standby: from the last
 * checkpoint of a replicated one. */
static int run_restore(struct wasm_opts *o, struct watchdog *wd)
{
	struct wasm_snapshot *snap = NULL;
	struct wasm_ctl ctl;
	struct guestctl *g = NULL;
	struct wasm_trap_info info;
	enum wasm_trap trap;
	char err[600] = "", path[4096] = "", peer[256] = "";
	const char *what = o->restore ? "--restore" : o->standby ? "--standby" : "--incoming";
	const char *file = o->restore;
	int stdio[3], rc, status, in = -1;
	const char *reason;
	struct wasm_precopy_in pin = {0};
	struct wasm_postcopy_in *pc = NULL;
	uint8_t nonce[SNAP_STREAM_NONCE] = {0}; /* the stream's, for the "OK" */
	struct snap_stream_busy *busy = NULL;

	memcpy(stdio, o->stdio, sizeof(stdio));
	ctl_init(&ctl, NULL, o, o->file);
	ctl.snapshots = o->ctl.api_path != NULL;
	if (o->ctl.api_path || o->ctl.console_log || o->ctl.exit_file) {
		if (guestctl_open(&o->ctl, &wasm_ctl_ops, &ctl, &g) < 0) {
			watchdog_settle(wd);
			return CLI_EXIT_ERROR;
		}
		if (guestctl_console_in(g) >= 0) {
			stdio[0] = guestctl_console_in(g);
			stdio[1] = stdio[2] = guestctl_console_out(g);
		}
	}
	if (o->standby) {
		rc = standby_receive(o, g, &ctl, path, sizeof(path), &pin, peer, sizeof(peer), err,
				     sizeof(err));
		file = path;
		if (rc == -ENODATA) { /* nothing to take over: the program is over */
			fprintf(stderr, "lodge wasm: --standby: %s\n", err);
			wasm_precopy_in_fini(&pin);
			if (g) {
				if (o->ctl.incoming)
					guestctl_incoming_done(g, rc, err);
				guestctl_exit(g, 0, "primary ended");
				guestctl_close(g);
			}
			watchdog_settle(wd);
			return 0;
		}
		if (rc)
			goto fail;
	} else if (o->incoming) {
		char resolved[PATH_MAX];
		rc = 0;
		for (unsigned i = 0; i < o->nallow && !rc; i++)
			if (!realpath(o->allow[i], resolved)) {
				rc = -errno;
				snprintf(err, sizeof(err),
					 "--incoming-allow %s: %s (a directory or file of this "
					 "host's)",
					 o->allow[i], strerror(-rc));
			}
		rc = rc
			     ?: incoming_receive(o, g, path, sizeof(path), &in, &pin, &pc, nonce,
						 peer, sizeof(peer), err, sizeof(err));
		file = path;
		if (rc)
			goto fail;
		/* the source waits for the answer while the program is restored */
		busy = snap_stream_busy_begin(in, 0);
#ifdef LODGE_TEST_HOOKS
		snap_stream_test_slow_step();
#endif
	}
	/* the program's directories: this standby's copies, or what this destination gives;
	 * else the stream's, if this host allowed them */
	if (o->standby || (o->incoming && o->ndirs)) {
		static const char *hosts[MAX_OPTS];
		for (int i = 0; i < o->ndirs; i++)
			hosts[i] = o->dirs[i].host;
		wasi_restore_dirs(o->ndirs, hosts);
	} else if (o->incoming) {
		wasi_restore_allow(o->nallow, o->allow);
	}
	rc = wasm_snapshot_open(file, o->restore ? 0 : o->lim.max_memory, &snap, err, sizeof(err));
	if (o->incoming)
		unlink(path); /* open: its pages are read through the descriptor */
	if (rc)
		goto fail;
	o->module = snap->module;
	o->module_len = snap->module_len;
	o->file = snap->name[0] ? snap->name : file;
	ctl.name = o->file;
	wasm_store_set_jit(snap->store, o->jit_hot);
	wasm_store_set_snapshots(snap->store, ctl.snapshots);
	if (pin.sections || pc) { /* pre- or post-copy: the memory came apart */
		snap->pages = pin.pages;
		snap->present = pin.present;
		snap->npages = pin.npages;
	}
	rc = wasm_snapshot_restore(snap, stdio, err, sizeof(err));
	snap->pages = NULL;
	wasm_precopy_in_fini(&pin);
	snap_stream_busy_end(busy); /* before the answer, and before seccomp */
	busy = NULL;
	/* post-copy: from here the thread serves the pages still at the source */
	ctl.g = g;
	if (!rc && pc)
		rc = wasm_postcopy_in_start(pc, snap->inst, postcopy_lost, &ctl, err, sizeof(err));
	if (!rc && o->seccomp && sandbox_seccomp(SANDBOX_WASM, &o->filter) < 0) {
		rc = -EPERM;
		snprintf(err, sizeof(err), "seccomp set-up failed");
	}
	/* from the "OK" on the program is ours: a signal waits for it to start, then stops
	 * it (sig_stopper), rather than end the process with a program the source gave up */
	if (!rc && in >= 0)
		atomic_store(&ctl.committed, true);
	if (!rc && pc && wasm_postcopy_in_ack(pc, nonce)) {
		rc = -ECONNABORTED;
		snprintf(err, sizeof(err), "the source did not take the answer: it runs on there");
	} else if (!rc && !pc && in >= 0 && snap_stream_ack(in, nonce)) {
		rc = -ECONNABORTED;
		snprintf(err, sizeof(err), "the source did not take the answer: it runs on there");
	}
	if (rc)
		goto fail;
	if (in >= 0) {
		close(in);
		in = -1;
	}
	if (o->ctl.incoming)
		guestctl_incoming_done(g, 0, "running");
	guestctl_ready(g);
	if (pc)
		fprintf(stderr,
			"lodge wasm: --incoming %s: running, post-copy: %llu pages to come\n",
			o->incoming, (unsigned long long)wasm_postcopy_in_missing(pc));
	if (o->seccomp)
		sandbox_test_hook();
#ifdef LODGE_TEST_HOOKS
	if (in < 0 && o->incoming && getenv("LODGE_TEST_HOOK") &&
	    !strcmp(getenv("LODGE_TEST_HOOK"), "slow-start")) {
		fprintf(stderr, "lodge wasm: test hook: the program starts in 3 s\n");
		for (int i = 0; i < 30; i++)
			usleep(100 * 1000);
	}
#endif
	ctl.wasi = snap->wasi;
	atomic_store(&ctl.inst, snap->inst);
	pthread_mutex_lock(&ctl.rlock);
	ctl.postcopy = pc;
	pthread_mutex_unlock(&ctl.rlock);
	atomic_store(&ctl.store, snap->store); /* the control socket may act on it now */
	watchdog_attach(wd, snap->store);
	trap = wasm_snapshot_run(snap, &info);
	atomic_store(&ctl.over, true);
	repl_end(&ctl);
	/* the program is over: the rest of its pages still come, so that the source
	 * learns they all arrived (not for a program killed: it is gone either way) */
	pthread_mutex_lock(&ctl.rlock);
	ctl.postcopy = NULL;
	pthread_mutex_unlock(&ctl.rlock);
	wasm_postcopy_in_fini(pc, !atomic_load(&ctl.killed));
	status = finish_call(o, trap, &info, wd);
	watchdog_settle(wd);
	watchdog_attach(wd, NULL);
	fflush(stdout);
	status = ctl_status(&ctl, status, &reason);
	if (g) {
		guestctl_exit(g, status, reason);
		guestctl_close(g);
	}
	wasm_snapshot_close(snap);
	return status;
fail:
	atomic_store(&ctl.committed, false); /* a signal ends the process at once */
	watchdog_settle(wd);
	fprintf(stderr, "lodge wasm: %s %s%s%s: %s\n", what, o->restore ? o->restore : o->incoming,
		peer[0] && o->ctl.incoming ? " from " : "", o->ctl.incoming ? peer : "",
		err[0] ? err : strerror(-rc));
	wasm_postcopy_in_fini(pc, false);
	snap_stream_busy_end(busy);
	if (in >= 0)
		close(in);
	wasm_precopy_in_fini(&pin);
	if (g) {
		if (o->ctl.incoming)
			guestctl_incoming_done(g, rc, err[0] ? err : strerror(-rc));
		guestctl_exit(g, CLI_EXIT_ERROR,
			      o->restore ? "restore failed" : "migration failed");
		guestctl_close(g);
	}
	wasm_snapshot_close(snap);
	return CLI_EXIT_ERROR;
}

static int run(struct wasm_opts *o, struct wasm_module *m, struct watchdog *wd)
{
	struct wasi_config wc = {o->argc, o->argv,     o->nenv,	    (char **)o->env, o->ndirs,
				 o->dirs, o->stdio[0], o->stdio[1], o->stdio[2]};
	struct wasm_ctl ctl;
	struct guestctl *g = NULL;
	struct wasm_store *s;
	struct wasi *wasi;
	int bad = -1, rc, status;
	const char *reason;
	bool stuck = false;

	rc = wasm_store_create(&o->lim, &s);
	if (rc) {
		watchdog_settle(wd);
		if (rc == -E2BIG && o->lim.stack_size)
			fprintf(stderr,
				"lodge wasm: the value stack and its call frames (twice "
				"--stack) do not fit in --max-memory: raise --max-memory or "
				"lower --stack\n");
		else if (rc == -E2BIG) /* the default stack: a sixteenth, at least 4 KiB */
			fprintf(stderr,
				"lodge wasm: --max-memory is too small for the value stack and "
				"its call frames (8 KiB at the least): raise --max-memory\n");
		else
			fprintf(stderr, "lodge wasm: %s: out of memory\n", o->file);
		return CLI_EXIT_ERROR;
	}
	times_mark(o->times, "store");
	wasm_store_set_jit(s, o->jit_hot);
	ctl_init(&ctl, s, o, o->file);
	ctl.snapshots = o->ctl.api_path && !o->invoke;
	wasm_store_set_snapshots(s, ctl.snapshots);
	if (o->ctl.api_path || o->ctl.console_log || o->ctl.exit_file) {
		if (guestctl_open(&o->ctl, &wasm_ctl_ops, &ctl, &g) < 0) {
			watchdog_settle(wd);
			ctl_unpublish(&ctl);
			wasm_store_destroy(s);
			return CLI_EXIT_ERROR;
		}
		if (guestctl_console_in(g) >= 0) {
			wc.stdin_fd = guestctl_console_in(g);
			wc.stdout_fd = wc.stderr_fd = guestctl_console_out(g);
		}
	}
	rc = wasi_create(s, &wc, &wasi, &bad);
	if (rc) {
		watchdog_settle(wd);
		if (bad >= 0)
			fprintf(stderr, "lodge wasm: --dir %s: %s\n", o->dirs[bad].host,
				strerror(-rc));
		else
			fprintf(stderr, "lodge wasm: cannot set up WASI: %s\n", strerror(-rc));
		if (g) {
			guestctl_exit(g, CLI_EXIT_ERROR, "set-up failed");
			guestctl_close(g);
		}
		ctl_unpublish(&ctl);
		wasm_store_destroy(s);
		return CLI_EXIT_ERROR;
	}
	if (o->seccomp) {
		if (sandbox_seccomp(SANDBOX_WASM, &o->filter) < 0) {
			watchdog_settle(wd);
			if (g) {
				guestctl_exit(g, CLI_EXIT_ERROR, "seccomp set-up failed");
				guestctl_close(g);
			}
			ctl_unpublish(&ctl);
			wasm_store_destroy(s);
			wasi_destroy(wasi);
			return CLI_EXIT_ERROR;
		}
		sandbox_test_hook();
	}
	watchdog_attach(wd, s);
	times_mark(o->times, "wasi");
	ctl.g = g;
	status = instantiate_and_run(o, m, s, wasi, wd, &ctl, &stuck);
	atomic_store(&ctl.over, true);
	repl_end(&ctl);
	times_mark(o->times, "run");
	watchdog_settle(wd);
	watchdog_attach(wd, NULL);
	fflush(stdout);
	status = ctl_status(&ctl, status, &reason);
	if (g) {
		guestctl_exit(g, status, reason);
		guestctl_close(g);
	}
	if (stuck) {
		/* a wasi-threads thread is blocked in a host call (a read on a quiet pipe) and
		 * still uses the store: the program is over, so the process ends here, as
		 * the --timeout watchdog ends one blocked in a host call */
		fflush(stderr);
		_exit(status);
	}
	if (o->exit_when_done && !KEEP_TEARDOWN) {
		/* The process ends with the program: the kernel frees the store (its memory
		 * reservation, stacks, the JIT's code buffer), WASI's state and the module at
		 * once with the address space, instead of piece by piece, each munmap with
		 * its own TLB flush (~0.3 ms of a hello world's ~5 ms here). */
		if (o->times && o->times->on)
			wasm_module_compiled(m, &o->times->compiled, &o->times->defined);
		times_print(o->times);
		fflush(NULL);
		_exit(status);
	}
	wasm_store_destroy(s);
	wasi_destroy(wasi);
	return status;
}

/* Whether the file holds a text module: by its name's extension, else by its first bytes
 * (a binary starts with "\0asm"). */
static bool is_text(const char *file, const uint8_t *bytes, size_t len)
{
	size_t n = strlen(file);

	if (n > 4 && !strcmp(file + n - 4, ".wat"))
		return true;
	if (n > 5 && !strcmp(file + n - 5, ".wasm"))
		return false;
	return wasm_text_is_text(bytes, len);
}

static int load_module(const struct wasm_opts *o, const uint8_t *bytes, size_t len,
		       struct wasm_module **m, struct wasm_error *err)
{
	bool lazy = o->compile == COMPILE_LAZY || (o->compile == COMPILE_AUTO && len >= LAZY_FROM);

	return lazy ? wasm_module_load(bytes, len, m, err)
		    : wasm_module_load_eager(bytes, len, m, err);
}

/* Reads, encodes (text) and loads the module. Returns 0 or an exit status. */
static int load(struct wasm_opts *o, struct wasm_text_binary *text, struct wasm_module **m)
{
	struct wasm_text_error terr;
	struct wasm_error err;
	uint8_t *bytes;
	size_t len = 0;
	char msg[512], at[PATH_SHOWN];
	int rc;

	bytes = read_module(o->file, &len);
	if (!bytes)
		return CLI_EXIT_ERROR;
	times_mark(o->times, "read");
	if (is_text(o->file, bytes, len)) {
		rc = wasm_text_to_binary((const char *)bytes, len, text, &terr);
		free(bytes);
		if (rc == -ENOMEM) {
			fprintf(stderr, "lodge wasm: %s: out of memory\n", o->file);
			return CLI_EXIT_ERROR;
		}
		if (rc) {
			fprintf(stderr, "lodge wasm: %s:%" PRIu32 ":%" PRIu32 ": %s\n", o->file,
				terr.line, terr.col, terr.detail);
			return CLI_EXIT_ERROR;
		}
		o->text = text;
		rc = load_module(o, text->bytes, text->len, m, &err);
		o->module = text->bytes;
		o->module_len = text->len;
	} else {
		rc = load_module(o, bytes, len, m, &err);
		o->module = bytes; /* freed by run_opts */
		o->module_len = len;
	}
	if (rc) {
		wasm_error_format(&err, msg, sizeof(msg));
		fprintf(stderr, "lodge wasm: %s: %s\n",
			where(o, err.instr >= 0 ? err.instr : err.offset, at, sizeof(at)), msg);
		return CLI_EXIT_ERROR;
	}
	return 0;
}

/* Everything after the command line: sandbox, watchdog, load, run. */
static int run_opts(struct wasm_opts *o)
{
	struct wasm_module *m;
	struct wasm_text_binary text = {0};
	struct watchdog wd, *w = NULL;
	int rc;

	/* a pre-copy migration reads /proc/self/{pagemap,mem}, which a sandbox hides: open
	 * them before entering one (unsandboxed, the first migration opens them) */
	if (o->sandbox)
		wasm_precopy_preopen(0);
	if (o->sandbox && (o->pooled ? sandbox_enter_pooled(&o->filter)
				     : sandbox_enter(o->sandbox, &o->ctl.statm_fd, &o->filter)) < 0)
		return CLI_EXIT_ERROR;
	/* the signal thread starts inside the sandbox, so it has no capabilities either
	 * (they are dropped thread by thread), and before any other thread; none when a
	 * handler serves the signals (sig_start_light) */
	if (o->exit_when_done)
		sig_start(o->ctl.exit_file, !o->ctl.api_path && !o->ctl.console_log &&
						    !o->ctl.exit_file && !o->restore &&
						    !o->incoming && !o->standby && !o->seccomp);
	if (o->timeout > 0) {
		/* from here on: reading and compiling a large module counts too */
		rc = watchdog_start(&wd, o->file, o->timeout);
		if (rc) {
			fprintf(stderr,
				"lodge wasm: cannot start the --timeout watchdog thread: %s\n",
				strerror(rc));
			return CLI_EXIT_ERROR;
		}
		w = &wd;
	}
	if (o->restore || o->incoming) {
		rc = run_restore(o, w);
		watchdog_stop(w);
		return rc;
	}
	times_mark(o->times, "set-up");
	rc = load(o, &text, &m);
	times_mark(o->times, "load");
	if (rc) {
		watchdog_stop(w);
		if (!o->text)
			free((void *)o->module);
		wasm_text_binary_fini(&text);
		return rc;
	}
	rc = run(o, m, w);
	watchdog_stop(w);
	if (o->times && o->times->on)
		wasm_module_compiled(m, &o->times->compiled, &o->times->defined);
	wasm_module_destroy(m);
	if (!o->text)
		free((void *)o->module);
	wasm_text_binary_fini(&text);
	times_mark(o->times, "teardown");
	times_print(o->times);
	return rc;
}

int cmd_wasm(int argc, char **argv)
{
	struct wasm_times times;
	struct wasm_opts o;
	int rc;

	/* A process of the daemon's warm pool (host/sandbox.h): its guest's command line
	 * comes from the daemon, and the rest is as for a guest it spawns. */
	bool pooled = argc == 2 && !strcmp(argv[1], "--pool-wait");
	int statm_fd = -1;

	if (pooled) {
		/* before its root hides /proc, out of the handover's way */
		wasm_precopy_preopen(SANDBOX_POOL_HIGH_FD);
		rc = sandbox_pool_wait(&argc, &argv, &statm_fd);
		if (rc == -EPIPE)
			return 0; /* no guest for it: the daemon stopped or shrank the pool */
		if (rc || strcmp(argv[1], "wasm"))
			return CLI_EXIT_ERROR;
		argc--;
		argv++;
	}
	times_init(&times);
	rc = parse_args(argc, argv, &o);
	if (rc)
		return rc < 0 ? 0 : rc;
	o.times = &times;
	o.exit_when_done = true;
	if (pooled) { /* in its sandbox's root already: /proc is gone */
		o.pooled = true;
		o.ctl.statm_fd = statm_fd;
	}
	return run_opts(&o);
}

int cli_wasm_run(const struct cli_wasm_job *job)
{
	struct wasm_opts o;

	opts_init(&o);
	if (job->nenv > MAX_OPTS || job->ndirs > MAX_OPTS) {
		fprintf(stderr, "%s: too many environment variables or directories (at most %d)\n",
			job->name, MAX_OPTS);
		return CLI_EXIT_ERROR;
	}
	o.file = job->file;
	o.invoke = job->invoke;
	o.argc = job->argc;
	o.argv = job->argv;
	o.nenv = job->nenv;
	memcpy(o.env, job->env, (size_t)job->nenv * sizeof(*o.env));
	o.ndirs = job->ndirs;
	memcpy(o.dirs, job->dirs, (size_t)job->ndirs * sizeof(*o.dirs));
	o.lim = job->lim;
	o.timeout = job->timeout;
	memcpy(o.stdio, job->stdio, sizeof(o.stdio));
	return run_opts(&o);
}
