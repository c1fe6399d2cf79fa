/*
 * lodge: entry point. Dispatches to a subcommand from the command table.
 */
#include "cli/cli.h"

#include "core/log.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const struct cli_command commands[] = {
	{"run", "run a RISC-V machine (bare-metal program or Linux)", cmd_run},
	{"wasm", "run a WebAssembly module (WASI command or --invoke an export)", cmd_wasm},
	{"disk", "create disk images and show what they hold (raw, qcow2)", cmd_disk},
	{"daemon", "run the host daemon (registry of guests, API socket)", cmd_daemon},
	{"create", "register a guest with the daemon", cmd_create_main},
	{"start", "start guests", cmd_start_main},
	{"stop", "stop guests (power off, then kill after a timeout)", cmd_stop_main},
	{"kill", "kill guests at once", cmd_kill_main},
	{"pause", "pause guests", cmd_pause_main},
	{"resume", "resume paused guests", cmd_resume_main},
	{"rm", "remove guests", cmd_rm_main},
	{"ps", "list guests", cmd_ps_main},
	{"logs", "print a guest's console output", cmd_logs_main},
	{"console", "attach to a guest's console (Ctrl-A D detaches)", cmd_console_main},
	{"inspect", "print guests' details as JSON", cmd_inspect_main},
	{"events", "print the daemon's events", cmd_events_main},
	{"snapshot", "save a guest to a file (pausing it meanwhile)", cmd_snapshot_main},
	{"restore", "create a guest from a snapshot and start it", cmd_restore_main},
	{"migrate", "move a running guest to another host's daemon", cmd_migrate_main},
	{"replicate", "replicate a running guest to a standby on another daemon",
	 cmd_replicate_main},
	{"failover", "make a standby guest take over", cmd_failover_main},
	{"oci", "OCI runtime (runc's command line) for Wasm and riscv64 containers", cmd_oci},
};

static void usage(FILE *f)
{
	fprintf(f, "usage: lodge COMMAND [OPTIONS]\n\ncommands:\n");
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		fprintf(f, "  %-8s %s\n", commands[i].name, commands[i].summary);
	fprintf(f, "\nThe client commands (create ... events) reach the daemon through\n"
		   "--socket PATH, $LODGE_SOCKET, or /run/lodge/lodge.sock.\n"
		   "'lodge COMMAND --help' describes a command's options.\n");
}

int cli_parse_size(const char *s, uint64_t *out)
{
	char *end;
	unsigned long long v;
	unsigned shift = 0;

	/* digits first: strtoull would take " -1" (spaces, then a sign) as 2^64 - 1 */
	if (!s || *s < '0' || *s > '9')
		return -EINVAL;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || end == s)
		return -EINVAL;
	switch (*end) {
	case 0:
		break;
	case 'k':
	case 'K':
		shift = 10;
		end++;
		break;
	case 'm':
	case 'M':
		shift = 20;
		end++;
		break;
	case 'g':
	case 'G':
		shift = 30;
		end++;
		break;
	case 't':
	case 'T':
		shift = 40;
		end++;
		break;
	default:
		return -EINVAL;
	}
	if (*end == 'i' || *end == 'B')
		end += (*end == 'i' && end[1] == 'B') ? 2 : 1;
	if (*end)
		return -EINVAL;
	if (shift && v > (~0ull >> shift))
		return -EINVAL;
	*out = v << shift;
	return 0;
}

int main(int argc, char **argv)
{
	const char *lvl = getenv("LODGE_LOG");

	if (lvl)
		log_set_level(!strcmp(lvl, "debug")  ? LOG_DEBUG
			      : !strcmp(lvl, "info") ? LOG_INFO
						     : LOG_WARN);
	/* Installed as lodge-oci (engines name a runtime binary, not a subcommand). */
	if (argv[0] &&
	    !strcmp(strrchr(argv[0], '/') ? strrchr(argv[0], '/') + 1 : argv[0], "lodge-oci"))
		return cmd_oci(argc, argv);
	if (argc < 2) {
		usage(stderr);
		return CLI_EXIT_USAGE;
	}
	if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
		usage(stdout);
		return 0;
	}
	if (!strcmp(argv[1], "--version") || !strcmp(argv[1], "version")) {
		printf("lodge 0.1\n");
		return 0;
	}
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (!strcmp(argv[1], commands[i].name))
			return commands[i].fn(argc - 1, argv + 1);
	fprintf(stderr, "lodge: unknown command '%s' (try 'lodge --help')\n", argv[1]);
	return CLI_EXIT_USAGE;
}
