/*
 * The lodge command line: one binary, subcommands from a table (kvmtool's builtin-*.c).
 * Each cmd_* returns the process exit status. Options are parsed by each command.
 */
#ifndef LODGE_CLI_CLI_H
#define LODGE_CLI_CLI_H

#include <stdint.h>

#include "wasm/wasm.h"
#include "wasm/wasi/wasi.h"

struct cli_command {
	const char *name;
	const char *summary;
	int (*fn)(int argc, char **argv);
};

/* Exit statuses shared by the commands. Guest programs exit with their own status
 * (0..255); lodge's own failures use these. */
enum {
	CLI_EXIT_USAGE = 2,	/* bad command line */
	CLI_EXIT_REBOOT = 120,	/* the guest rebooted and --no-reboot was given */
	CLI_EXIT_PANIC = 121,	/* the guest kernel panicked */
	CLI_EXIT_ERROR = 125,	/* lodge could not start the guest (bad file, no memory) */
	CLI_EXIT_TIMEOUT = 124, /* --timeout expired (as timeout(1)) */
	CLI_EXIT_KILLED = 137,	/* killed through the control socket (128 + SIGKILL) */
};

int cmd_run(int argc, char **argv);
int cmd_wasm(int argc, char **argv);
int cmd_disk(int argc, char **argv);
int cmd_daemon(int argc, char **argv);

/* The client commands (cmd_guests.c), one entry point each for the command table. */
int cmd_guests(const char *cmd, int argc, char **argv);
int cmd_create_main(int argc, char **argv);
int cmd_start_main(int argc, char **argv);
int cmd_stop_main(int argc, char **argv);
int cmd_kill_main(int argc, char **argv);
int cmd_pause_main(int argc, char **argv);
int cmd_resume_main(int argc, char **argv);
int cmd_rm_main(int argc, char **argv);
int cmd_ps_main(int argc, char **argv);
int cmd_logs_main(int argc, char **argv);
int cmd_console_main(int argc, char **argv);
int cmd_inspect_main(int argc, char **argv);
int cmd_events_main(int argc, char **argv);
int cmd_snapshot_main(int argc, char **argv);
int cmd_restore_main(int argc, char **argv);
int cmd_migrate_main(int argc, char **argv);
int cmd_replicate_main(int argc, char **argv);
int cmd_failover_main(int argc, char **argv);
int cmd_oci(int argc, char **argv);

/* A WASI command (or an exported function) to run, as `lodge wasm` runs it. */
struct cli_wasm_job {
	const char *name;   /* prefix of cli_wasm_run's own set-up errors (the run reports as "lodge
			       wasm") */
	const char *file;   /* the module's path */
	const char *invoke; /* an export to call with argv[1..]; NULL: the command's _start */
	int argc;	    /* program arguments; argv[0] is the program's name */
	char **argv;
	int nenv; /* "KEY=VALUE" strings */
	char **env;
	int ndirs; /* preopened directories */
	const struct wasi_preopen *dirs;
	int stdio[3]; /* host fds seen as the program's fds 0, 1, 2 (not closed) */
	struct wasm_limits lim;
	double timeout; /* seconds of wall time; 0: none */
};

/* Loads, links and runs job's module in this thread, reporting problems on stderr.
 * Returns the exit status `lodge wasm` documents: the program's own, CLI_EXIT_TIMEOUT,
 * 134 on a trap, CLI_EXIT_ERROR when the module cannot be loaded or linked. */
int cli_wasm_run(const struct cli_wasm_job *job);

/* The firmware `lodge run` and `lodge create` use when none is given, as an absolute path:
 * guest-cache/out/fw_dynamic.bin in the current directory, then in the source tree of
 * this lodge binary, then Debian's opensbi one. Returns 0 or -ENOENT (none there). */
int cli_find_firmware(char *out, size_t len);

/* Parses a size such as 128M, 2G, 65536 or 64K into bytes. Returns 0 or -EINVAL. */
int cli_parse_size(const char *s, uint64_t *out);

#endif
