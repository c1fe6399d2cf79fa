/*
 * Lodge as an OCI runtime (opencontainers runtime-spec 1.x, with runc's command line):
 * the operations create, start, state, kill and delete, and the runc extensions engines
 * call (list, ps, exec, run, features). A container's process runs either in Lodge's
 * WebAssembly engine (a .wasm executable, or the annotation
 * module.wasm.image/variant=compat) or in a RISC-V system VM that boots the default
 * guest's kernel with a small init (guest/oci/) around the bundle's rootfs.
 *
 * Each command function reports its errors itself (runc style, on stderr and in the
 * --log file) and returns 0 or a negative errno; `lodge oci` exits 1 on failure, as runc
 * does. Called from the main thread of a short-lived process.
 */
#ifndef LODGE_HOST_OCI_H
#define LODGE_HOST_OCI_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "wasm/wasi/wasi.h"

#define OCI_DEFAULT_ROOT "/run/lodge-oci"

/* A WASI program to run for a container (its own process, or an exec). */
struct oci_wasm_job {
	const char *file; /* host path of the module */
	int argc;
	char **argv;
	int nenv;
	char **env;
	int ndirs;
	const struct wasi_preopen *dirs;
	uint64_t max_memory; /* 0: the engine's default */
};

/* Runs job in this process and returns its exit status (the cli's wasm runner). */
typedef int (*oci_wasm_fn)(const struct oci_wasm_job *job);

/* The global options, and the logging state every command shares. */
struct oci_ctx {
	const char *root;     /* state directory (--root) */
	const char *log_path; /* --log, or NULL: stderr only */
	bool log_json;	      /* --log-format json */
	bool debug;	      /* --debug: debug lines too */
	bool systemd_cgroup;  /* --systemd-cgroup: cgroupsPath is slice:prefix:name */
	const char *self;     /* this binary (for starting `lodge run`) */
	oci_wasm_fn run_wasm;
	FILE *log; /* opened by oci_ctx_open */
};

struct oci_create_opts {
	const char *id;
	const char *bundle;	    /* NULL: the current directory */
	const char *pid_file;	    /* NULL: none */
	const char *console_socket; /* NULL: none (required when process.terminal is true) */
	int preserve_fds;
	bool detach; /* run only: return once started */
};

struct oci_exec_opts {
	const char *id;
	const char *process; /* process.json, or NULL: built from the fields below */
	char **args;	     /* command and arguments (when process is NULL) */
	int nargs;
	char **env; /* extra KEY=VALUE */
	int nenv;
	const char *cwd;
	const char *user; /* uid[:gid] */
	bool tty;
	bool detach;
	const char *pid_file;
	const char *console_socket;
};

/* Opens the --log file (append) if any. Returns 0 or a negative errno (reported). */
int oci_ctx_open(struct oci_ctx *c);
void oci_ctx_close(struct oci_ctx *c);

/* Logs an error/warning/debug line: "time=... level=... msg=..." (or JSON) in the log
 * file, and errors on stderr too (plain when a log file takes the formatted line). */
void oci_err(const struct oci_ctx *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void oci_warn(const struct oci_ctx *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void oci_debug(const struct oci_ctx *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Returned by the operations that start a process (create, run, exec) in that process once
 * it has finished its work as the container's (or exec's) process: the caller then ends
 * this process like the wait status in *ws_out (same exit code, or same signal). */
#define OCI_EXIT_LIKE 1

/* The operations. run and exec without detach wait for the process and give its wait
 * status in *ws_out. */
int oci_create(const struct oci_ctx *c, const struct oci_create_opts *o, int *ws_out);
int oci_run(const struct oci_ctx *c, const struct oci_create_opts *o, int *ws_out);
int oci_start(const struct oci_ctx *c, const char *id);
int oci_state(const struct oci_ctx *c, const char *id);
int oci_kill(const struct oci_ctx *c, const char *id, const char *signal, bool all);
int oci_delete(const struct oci_ctx *c, const char *id, bool force);
int oci_list(const struct oci_ctx *c, bool json, bool quiet);
int oci_ps(const struct oci_ctx *c, const char *id, bool json, char **ps_args, int nps_args);
int oci_exec(const struct oci_ctx *c, const struct oci_exec_opts *o, int *ws_out);
int oci_features(const struct oci_ctx *c);

/* Parses a signal name (KILL, SIGKILL) or number. Returns the number, or -EINVAL. */
int oci_parse_signal(const char *s);

#endif
