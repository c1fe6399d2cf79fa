/*
 * `lodge oci` (also run as `lodge-oci`, the name engines are given): the OCI runtime
 * command line as runc has it, so podman/conmon, containerd's runc shim and CRI-O can
 * drive Lodge: global options (--root, --log, --log-format, --debug, --systemd-cgroup),
 * then a command (create, start, state, kill, delete, run, exec, ps, list, features, spec)
 * with its options, as urfave/cli parses them (--opt VALUE, --opt=VALUE, -o VALUE; a
 * single dash for long names too). The work is in src/host/oci*.c.
 * Exit status: 0, or 1 on any failure (runc's); run and exec give the process's status.
 */
#include "cli/cli.h"

#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "host/oci.h"

#define MAX_LIST 256

struct opt {
	const char *name;  /* long name */
	char shrt;	   /* short letter, or 0 */
	bool value;	   /* takes a value */
	const char **out;  /* string value, or "1" for a flag */
	const char **list; /* repeatable: values collected here (MAX_LIST) */
	int *nlist;
};

static void usage(FILE *f)
{
	fprintf(f,
		"usage: lodge oci [GLOBAL OPTIONS] COMMAND [OPTIONS] [ARGS...]\n"
		"       lodge-oci ... (the same, under the name engines are given)\n"
		"\n"
		"An OCI runtime with runc's command line: a container's process runs in Lodge's\n"
		"WebAssembly engine (a .wasm executable, or the annotation\n"
		"module.wasm.image/variant=compat) or in a RISC-V VM booting the default guest's\n"
		"kernel around the bundle's rootfs (linux/riscv64 images).\n"
		"\n"
		"global options:\n"
		"  --root DIR            state directory (default " OCI_DEFAULT_ROOT ")\n"
		"  --log FILE            log file (default: stderr)\n"
		"  --log-format FORMAT   text or json\n"
		"  --debug               debug lines in the log\n"
		"  --systemd-cgroup      cgroupsPath is slice:prefix:name\n"
		"\n"
		"commands:\n"
		"  create [--bundle DIR] [--pid-file FILE] [--console-socket SOCK] ID\n"
		"  start ID                      run the created container's process\n"
		"  state ID                      print its state (JSON)\n"
		"  kill [--all] ID [SIGNAL]      signal its process (default SIGTERM)\n"
		"  delete [--force] ID           remove a stopped (with --force: any) container\n"
		"  run [--detach] [create options] ID   create, start, wait, delete\n"
		"  exec [--process FILE | OPTIONS ID COMMAND...]   run another process in it\n"
		"       (--tty, --detach, --pid-file, --console-socket, --cwd, --env, --user)\n"
		"  ps [--format table|json] ID [PS ARGS]\n"
		"  list [--format table|json] [--quiet]\n"
		"  features                      what this runtime supports (JSON)\n"
		"  spec [--bundle DIR]           write a default config.json\n");
}

static int bad(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static int bad(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "lodge-oci: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, " (try 'lodge oci --help')\n");
	return 1;
}

/* Parses options from argv[*i] on, up to the first argument that is not one. Returns 0 or
 * 1 (reported). */
static int parse_opts(int argc, char **argv, int *i, const struct opt *opts, const char *cmd)
{
	for (; *i < argc; (*i)++) {
		char *a = argv[*i], *eq, *name;
		const struct opt *o = NULL;

		if (a[0] != '-' || !a[1])
			break;
		if (!strcmp(a, "--")) {
			(*i)++;
			break;
		}
		name = a + 1 + (a[1] == '-');
		eq = strchr(name, '=');
		for (const struct opt *k = opts; k->name; k++) {
			size_t n = eq ? (size_t)(eq - name) : strlen(name);
			if ((strlen(k->name) == n && !strncmp(k->name, name, n)) ||
			    (k->shrt && n == 1 && name[0] == k->shrt))
				o = k;
		}
		if (!o)
			return bad("%s: unknown option '%s'", cmd, a);
		const char *val = "1";
		if (o->value) {
			if (eq)
				val = eq + 1;
			else if (*i + 1 < argc)
				val = argv[++(*i)];
			else
				return bad("%s: option '%s' needs a value", cmd, a);
		} else if (eq) {
			val = strcmp(eq + 1, "false") ? "1" : NULL;
		}
		if (o->list) {
			if (*o->nlist == MAX_LIST)
				return bad("%s: too many '%s' options", cmd, a);
			o->list[(*o->nlist)++] = val;
		} else {
			*o->out = val;
		}
	}
	return 0;
}

/* The Wasm runner handed to src/host: cli_wasm_run with the container's stdio. */
static int run_wasm(const struct oci_wasm_job *j)
{
	struct cli_wasm_job job = {
		.name = "lodge-oci",
		.file = j->file,
		.argc = j->argc,
		.argv = j->argv,
		.nenv = j->nenv,
		.env = j->env,
		.ndirs = j->ndirs,
		.dirs = j->dirs,
		.stdio = {0, 1, 2},
	};

	job.lim.max_memory = j->max_memory;
	return cli_wasm_run(&job);
}

/* Ends this process like wait status ws: the container's process mirrors its guest's. */
static int exit_like(int ws)
{
	if (WIFSIGNALED(ws)) {
		struct rlimit none = {0, 0};
		sigset_t set;
		int sig = WTERMSIG(ws);

		fflush(NULL);
		setrlimit(RLIMIT_CORE, &none);
		signal(sig, SIG_DFL);
		sigemptyset(&set);
		sigaddset(&set, sig);
		sigprocmask(SIG_UNBLOCK, &set, NULL);
		raise(sig);
		return 128 + sig; /* a signal whose default is to be ignored */
	}
	return WIFEXITED(ws) ? WEXITSTATUS(ws) : 1;
}

/* runc's exit status for run and exec: the process's code, or 128 + its signal. */
static int status_of(int ws)
{
	return WIFSIGNALED(ws) ? 128 + WTERMSIG(ws) : WEXITSTATUS(ws);
}

static int need_id(int argc, int i, const char *cmd)
{
	if (i >= argc)
		return bad("%s: a container id is needed", cmd);
	return 0;
}

static int cmd_create_run(struct oci_ctx *c, int argc, char **argv, int i, bool run)
{
	const char *bundle = NULL, *pidf = NULL, *sock = NULL, *pres = NULL, *detach = NULL;
	const char *ignored = NULL;
	struct opt opts[] = {
		{"bundle", 'b', true, &bundle, NULL, NULL},
		{"pid-file", 0, true, &pidf, NULL, NULL},
		{"console-socket", 0, true, &sock, NULL, NULL},
		{"preserve-fds", 0, true, &pres, NULL, NULL},
		{"detach", 'd', false, &detach, NULL, NULL},
		{"no-pivot", 0, false, &ignored, NULL, NULL},
		{"no-new-keyring", 0, false, &ignored, NULL, NULL},
		{"no-subreaper", 0, false, &ignored, NULL, NULL},
		{"keep", 0, false, &ignored, NULL, NULL},
		{NULL, 0, false, NULL, NULL, NULL},
	};
	struct oci_create_opts o = {0};
	int ws = 0, r;

	if (parse_opts(argc, argv, &i, opts, argv[i - 1]) || need_id(argc, i, argv[i - 1]))
		return 1;
	if (detach && !run)
		return bad("create: unknown option '--detach'");
	o.id = argv[i];
	o.bundle = bundle;
	o.pid_file = pidf;
	o.console_socket = sock;
	o.preserve_fds = pres ? atoi(pres) : 0;
	o.detach = !run || detach;
	r = run ? oci_run(c, &o, &ws) : oci_create(c, &o, &ws);
	if (r == OCI_EXIT_LIKE)
		return exit_like(ws);
	if (r < 0)
		return 1;
	return run && !detach ? status_of(ws) : 0;
}

static int cmd_exec(struct oci_ctx *c, int argc, char **argv, int i)
{
	const char *proc = NULL, *sock = NULL, *cwd = NULL, *user = NULL, *tty = NULL;
	const char *detach = NULL, *pidf = NULL, *ignored = NULL;
	const char *env[MAX_LIST], *caps[MAX_LIST], *gids[MAX_LIST];
	int nenv = 0, ncaps = 0, ngids = 0;
	struct opt opts[] = {
		{"process", 'p', true, &proc, NULL, NULL},
		{"console-socket", 0, true, &sock, NULL, NULL},
		{"cwd", 0, true, &cwd, NULL, NULL},
		{"user", 'u', true, &user, NULL, NULL},
		{"tty", 't', false, &tty, NULL, NULL},
		{"detach", 'd', false, &detach, NULL, NULL},
		{"pid-file", 0, true, &pidf, NULL, NULL},
		{"env", 'e', true, NULL, env, &nenv},
		{"cap", 'c', true, NULL, caps, &ncaps},
		{"additional-gids", 'g', true, NULL, gids, &ngids},
		{"process-label", 0, true, &ignored, NULL, NULL},
		{"apparmor", 0, true, &ignored, NULL, NULL},
		{"no-new-privs", 0, false, &ignored, NULL, NULL},
		{"preserve-fds", 0, true, &ignored, NULL, NULL},
		{"ignore-paused", 0, false, &ignored, NULL, NULL},
		{"cgroup", 0, true, &ignored, NULL, NULL},
		{NULL, 0, false, NULL, NULL, NULL},
	};
	struct oci_exec_opts o = {0};
	int ws = 0, r;

	if (parse_opts(argc, argv, &i, opts, "exec") || need_id(argc, i, "exec"))
		return 1;
	o.id = argv[i++];
	o.process = proc;
	o.args = argv + i;
	o.nargs = argc - i;
	o.env = (char **)env;
	o.nenv = nenv;
	o.cwd = cwd;
	o.user = user;
	o.tty = tty != NULL;
	o.detach = detach != NULL;
	o.pid_file = pidf;
	o.console_socket = sock;
	r = oci_exec(c, &o, &ws);
	if (r == OCI_EXIT_LIKE)
		return exit_like(ws);
	if (r < 0)
		return 1;
	return o.detach ? 0 : status_of(ws);
}

static int cmd_simple(struct oci_ctx *c, int argc, char **argv, int i, const char *cmd)
{
	const char *all = NULL, *force = NULL, *format = NULL, *quiet = NULL;
	struct opt kill_opts[] = {{"all", 'a', false, &all, NULL, NULL}, {NULL, 0, 0, 0, 0, 0}};
	struct opt del_opts[] = {{"force", 'f', false, &force, NULL, NULL}, {NULL, 0, 0, 0, 0, 0}};
	struct opt fmt_opts[] = {{"format", 'f', true, &format, NULL, NULL},
				 {"quiet", 'q', false, &quiet, NULL, NULL},
				 {NULL, 0, 0, 0, 0, 0}};
	struct opt none[] = {{NULL, 0, 0, 0, 0, 0}};
	const struct opt *opts = !strcmp(cmd, "kill")			      ? kill_opts
				 : !strcmp(cmd, "delete")		      ? del_opts
				 : !strcmp(cmd, "ps") || !strcmp(cmd, "list") ? fmt_opts
									      : none;
	bool json;

	if (parse_opts(argc, argv, &i, opts, cmd))
		return 1;
	json = format && !strcmp(format, "json");
	if (format && !json && strcmp(format, "table"))
		return bad("%s: invalid format option '%s' (table or json)", cmd, format);
	if (!strcmp(cmd, "list"))
		return oci_list(c, json, quiet != NULL) ? 1 : 0;
	if (!strcmp(cmd, "features"))
		return oci_features(c) ? 1 : 0;
	if (need_id(argc, i, cmd))
		return 1;
	if (!strcmp(cmd, "start"))
		return oci_start(c, argv[i]) ? 1 : 0;
	if (!strcmp(cmd, "state"))
		return oci_state(c, argv[i]) ? 1 : 0;
	if (!strcmp(cmd, "kill"))
		return oci_kill(c, argv[i], i + 1 < argc ? argv[i + 1] : NULL, all != NULL) ? 1 : 0;
	if (!strcmp(cmd, "delete"))
		return oci_delete(c, argv[i], force != NULL) ? 1 : 0;
	if (!strcmp(cmd, "ps"))
		return oci_ps(c, argv[i], json, argv + i + 1, argc - i - 1) ? 1 : 0;
	return bad("unknown command '%s'", cmd);
}

/* `spec`: a default config.json for a riscv64 shell, as `runc spec` writes one. */
static int cmd_spec(int argc, char **argv, int i)
{
	const char *bundle = NULL;
	struct opt opts[] = {{"bundle", 'b', true, &bundle, NULL, NULL},
			     {NULL, 0, false, NULL, NULL, NULL}};
	char path[PATH_MAX];
	FILE *f;

	if (parse_opts(argc, argv, &i, opts, "spec"))
		return 1;
	snprintf(path, sizeof(path), "%s/config.json", bundle ? bundle : ".");
	if (!access(path, F_OK)) {
		fprintf(stderr, "lodge-oci: File %s exists. Remove it first\n", path);
		return 1;
	}
	f = fopen(path, "wx");
	if (!f) {
		fprintf(stderr, "lodge-oci: cannot create %s: %s\n", path, strerror(errno));
		return 1;
	}
	fprintf(f, "{\n"
		   "  \"ociVersion\": \"1.0.2\",\n"
		   "  \"process\": {\n"
		   "    \"terminal\": false,\n"
		   "    \"user\": {\"uid\": 0, \"gid\": 0},\n"
		   "    \"args\": [\"sh\"],\n"
		   "    \"env\": "
		   "[\"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin\","
		   " \"TERM=xterm\"],\n"
		   "    \"cwd\": \"/\"\n"
		   "  },\n"
		   "  \"root\": {\"path\": \"rootfs\", \"readonly\": false},\n"
		   "  \"hostname\": \"lodge\",\n"
		   "  \"mounts\": [\n"
		   "    {\"destination\": \"/proc\", \"type\": \"proc\", \"source\": \"proc\"},\n"
		   "    {\"destination\": \"/dev\", \"type\": \"tmpfs\", \"source\": \"tmpfs\"},\n"
		   "    {\"destination\": \"/sys\", \"type\": \"sysfs\", \"source\": \"sysfs\","
		   " \"options\": [\"ro\"]}\n"
		   "  ],\n"
		   "  \"linux\": {\"resources\": {}}\n"
		   "}\n");
	return fclose(f) ? 1 : 0;
}

int cmd_oci(int argc, char **argv)
{
	const char *root = NULL, *log = NULL, *fmt = NULL, *debug = NULL, *systemd = NULL;
	const char *ignored = NULL, *help = NULL, *version = NULL;
	struct opt globals[] = {
		{"root", 0, true, &root, NULL, NULL},
		{"log", 0, true, &log, NULL, NULL},
		{"log-format", 0, true, &fmt, NULL, NULL},
		{"debug", 0, false, &debug, NULL, NULL},
		{"systemd-cgroup", 0, false, &systemd, NULL, NULL},
		{"rootless", 0, true, &ignored, NULL, NULL},
		{"criu", 0, true, &ignored, NULL, NULL},
		{"help", 'h', false, &help, NULL, NULL},
		{"version", 'v', false, &version, NULL, NULL},
		{NULL, 0, false, NULL, NULL, NULL},
	};
	static const char *const simple[] = {"start", "state", "kill",	  "delete",
					     "ps",    "list",  "features"};
	struct oci_ctx c = {0};
	char self[PATH_MAX];
	const char *cmd;
	ssize_t n;
	int i = 1, status;

	if (parse_opts(argc, argv, &i, globals, "lodge-oci"))
		return 1;
	if (help) {
		usage(stdout);
		return 0;
	}
	if (version) {
		printf("lodge-oci version 0.1\nspec: 1.0.2\n");
		return 0;
	}
	if (i >= argc) {
		usage(stderr);
		return 1;
	}
	if (fmt && strcmp(fmt, "json") && strcmp(fmt, "text"))
		return bad("--log-format '%s': text or json", fmt);
	n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	self[n > 0 ? n : 0] = 0;
	c.root = root ? root : OCI_DEFAULT_ROOT;
	c.log_path = log;
	c.log_json = fmt && !strcmp(fmt, "json");
	c.debug = debug != NULL;
	c.systemd_cgroup = systemd != NULL;
	c.self = self;
	c.run_wasm = run_wasm;
	if (oci_ctx_open(&c))
		return 1;
	cmd = argv[i++];
	if (!strcmp(cmd, "create") || !strcmp(cmd, "run"))
		status = cmd_create_run(&c, argc, argv, i, !strcmp(cmd, "run"));
	else if (!strcmp(cmd, "exec"))
		status = cmd_exec(&c, argc, argv, i);
	else if (!strcmp(cmd, "spec"))
		status = cmd_spec(argc, argv, i);
	else if (!strcmp(cmd, "help")) {
		usage(stdout);
		status = 0;
	} else {
		status = -1;
		for (size_t k = 0; k < sizeof(simple) / sizeof(simple[0]); k++)
			if (!strcmp(cmd, simple[k]))
				status = cmd_simple(&c, argc, argv, i, cmd);
		if (status < 0) {
			oci_err(&c,
				"%s is not supported by lodge-oci (no pause, resume, update, "
				"checkpoint or events)",
				cmd);
			status = 1;
		}
	}
	oci_ctx_close(&c);
	return status;
}
