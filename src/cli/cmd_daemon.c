/*
 * `lodge daemon`: the host daemon's command line (host/daemon.h does the work).
 */
#include "cli/cli.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "host/daemon.h"

static void usage(FILE *f)
{
	fprintf(f,
		"usage: lodge daemon [OPTIONS]\n"
		"\n"
		"Runs the Lodge host: keeps the registry of guests and serves the API that\n"
		"lodge create/start/stop/ps/... talk to. Stopping the daemon (SIGTERM, SIGINT)\n"
		"leaves guests running; the next daemon finds them again.\n"
		"\n"
		"options:\n"
		"  --state DIR           registry, guests' logs and run files (default %s)\n"
		"  --socket PATH         the API's unix socket, mode 0660 (default %s)\n"
		"  --group NAME          the socket's group: its members may use the API\n"
		"  --cgroup-version 1|2  which cgroup hierarchy to use (default: v2 when it has\n"
		"                        the cpu and memory controllers, else v1)\n"
		"  --cgroup-root DIR     where the hierarchy is (default /sys/fs/cgroup)\n"
		"  --mem-overhead SIZE   memory a guest's cgroup allows beyond its own (default "
		"96M;\n"
		"                        a system guest also gets 8M per hart)\n"
		"  --stop-timeout SECS   how long a stop waits before killing (default 10)\n"
		"  --no-sandbox          run guests without namespaces, seccomp or dropped\n"
		"                        capabilities (debugging only)\n"
		"  --no-userns           sandbox guests without a user namespace\n"
		"  --wasm-pool N         Wasm guest processes kept started and waiting, which\n"
		"                        makes a Wasm guest's start faster (default %d, at\n"
		"                        most %d; 0: none)\n"
		"  -v, --verbose         log every guest event\n"
		"  -h, --help            this text\n",
		DAEMON_DEFAULT_STATE, DAEMON_DEFAULT_SOCKET, DAEMON_DEFAULT_WASM_POOL,
		DAEMON_MAX_WASM_POOL);
}

int cmd_daemon(int argc, char **argv)
{
	static const struct option opts[] = {
		{"state", required_argument, NULL, 's'},
		{"socket", required_argument, NULL, 'S'},
		{"group", required_argument, NULL, 'g'},
		{"cgroup-version", required_argument, NULL, 'c'},
		{"cgroup-root", required_argument, NULL, 'r'},
		{"mem-overhead", required_argument, NULL, 'm'},
		{"stop-timeout", required_argument, NULL, 't'},
		{"no-sandbox", no_argument, NULL, 'N'},
		{"no-userns", no_argument, NULL, 'U'},
		{"wasm-pool", required_argument, NULL, 'P'},
		{"verbose", no_argument, NULL, 'v'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	struct daemon_config cfg = {.mem_overhead = 96ull << 20,
				    .stop_timeout = 10,
				    .wasm_pool = DAEMON_DEFAULT_WASM_POOL};
	char *end;
	int c;

	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "vh", opts, NULL)) != -1) {
		switch (c) {
		case 's':
			cfg.state_dir = optarg;
			break;
		case 'S':
			cfg.socket = optarg;
			break;
		case 'g':
			cfg.group = optarg;
			break;
		case 'c':
			if (strcmp(optarg, "1") && strcmp(optarg, "2")) {
				log_err("daemon: --cgroup-version '%s': must be 1 or 2", optarg);
				return CLI_EXIT_USAGE;
			}
			cfg.cgroup_version = atoi(optarg);
			break;
		case 'r':
			cfg.cgroup_root = optarg;
			break;
		case 'm':
			if (cli_parse_size(optarg, &cfg.mem_overhead)) {
				log_err("daemon: --mem-overhead '%s': not a size (e.g. 96M)",
					optarg);
				return CLI_EXIT_USAGE;
			}
			break;
		case 't': {
			unsigned long v = strtoul(optarg, &end, 10);
			if (*end || end == optarg || v > 3600) {
				log_err("daemon: --stop-timeout '%s': seconds from 0 to 3600",
					optarg);
				return CLI_EXIT_USAGE;
			}
			cfg.stop_timeout = (unsigned)v;
			break;
		}
		case 'N':
			cfg.no_sandbox = true;
			break;
		case 'U':
			cfg.no_userns = true;
			break;
		case 'P': {
			unsigned long v = strtoul(optarg, &end, 10);
			if (*end || end == optarg || optarg[0] == '-' || v > DAEMON_MAX_WASM_POOL) {
				log_err("daemon: --wasm-pool '%s': a number from 0 to %d", optarg,
					DAEMON_MAX_WASM_POOL);
				return CLI_EXIT_USAGE;
			}
			cfg.wasm_pool = (unsigned)v;
			break;
		}
		case 'v':
			log_set_level(LOG_INFO);
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			log_err("daemon: unknown or incomplete option '%s' (see lodge daemon "
				"--help)",
				argv[optind - 1]);
			return CLI_EXIT_USAGE;
		}
	}
	if (optind < argc) {
		log_err("daemon: unexpected argument '%s'", argv[optind]);
		return CLI_EXIT_USAGE;
	}
	if (cfg.state_dir && strlen(cfg.state_dir) > 200) {
		log_err("daemon: --state: a path of at most 200 characters, please (socket paths "
			"under it must fit 108 bytes)");
		return CLI_EXIT_USAGE;
	}
	return daemon_main(&cfg);
}
