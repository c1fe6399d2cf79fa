/*
 * `lodge run`: builds a machine, loads the guest, runs it, and turns how it stopped into
 * the process exit status.
 */
#include "cli/cli.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "cpu/hart.h"
#include "machine/boot.h"
#include "machine/machine.h"

#define DEFAULT_MEM (128ull << 20)

struct run_opts {
	const char *bare;
	uint64_t mem;
	unsigned cpus;
	double timeout;
	int stats;
};

static void run_usage(FILE *f)
{
	fprintf(f,
		"usage: lodge run --bare PROGRAM.elf [OPTIONS]\n"
		"\n"
		"Runs a RISC-V RV64GC machine laid out like QEMU's virt board.\n"
		"\n"
		"  --bare FILE       load a bare-metal ELF at its physical addresses and start\n"
		"                    every hart in M-mode at its entry (a0 = hart id)\n"
		"  --mem SIZE        guest RAM at 0x80000000, e.g. 64M, 2G (default 128M)\n"
		"  --cpus N          number of harts, 1-%d (default 1)\n"
		"  --timeout SECS    stop a program still running after SECS seconds (exit 124)\n"
		"  --stats           print retired instructions and speed on exit\n"
		"  -h, --help        this text\n"
		"\n"
		"Exit status: the program's (finisher 0x100000 or HTIF tohost), 124 on timeout,\n"
		"125 when the machine could not be set up, 2 for a bad command line.\n",
		VM_MAX_HARTS);
}

static int parse_opts(int argc, char **argv, struct run_opts *o)
{
	static const struct option longopts[] = {
		{ "bare", required_argument, NULL, 'b' },
		{ "mem", required_argument, NULL, 'm' },
		{ "cpus", required_argument, NULL, 'c' },
		{ "timeout", required_argument, NULL, 't' },
		{ "stats", no_argument, NULL, 's' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int c;
	char *end;

	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (c) {
		case 'b': o->bare = optarg; break;
		case 'm':
			if (cli_parse_size(optarg, &o->mem) < 0) {
				log_err("--mem '%s': not a size (use e.g. 128M or 2G)", optarg);
				return -1;
			}
			break;
		case 'c': {
			unsigned long v = strtoul(optarg, &end, 10);
			if (*end || end == optarg || v < 1 || v > VM_MAX_HARTS) {
				log_err("--cpus '%s': must be a number from 1 to %d", optarg,
					VM_MAX_HARTS);
				return -1;
			}
			o->cpus = (unsigned)v;
			break;
		}
		case 't':
			o->timeout = strtod(optarg, &end);
			if (*end || end == optarg || !(o->timeout > 0) || o->timeout > 1e9) {
				log_err("--timeout '%s': must be a positive number of seconds", optarg);
				return -1;
			}
			break;
		case 's': o->stats = 1; break;
		case 'h': run_usage(stdout); return 1;
		default:
			log_err("run: unknown or incomplete option '%s' (see lodge run --help)",
				argv[optind - 1]);
			return -1;
		}
	}
	if (optind < argc) {
		log_err("run: unexpected argument '%s' (see lodge run --help)", argv[optind]);
		return -1;
	}
	if (!o->bare) {
		log_err("run: nothing to run: pass --bare PROGRAM.elf (see lodge run --help)");
		return -1;
	}
	return 0;
}

static int check_mem(uint64_t mem)
{
	if (mem == 0 || (mem & 0xfff)) {
		log_err("--mem: %llu bytes is not a positive multiple of 4 KiB",
			(unsigned long long)mem);
		return -1;
	}
	if (mem > (1ull << 46)) {
		log_err("--mem: %llu bytes is more than the machine can address",
			(unsigned long long)mem);
		return -1;
	}
	return 0;
}

static int create_vm(const struct run_opts *o, struct vm **vm)
{
	struct vm_config cfg = { .ram_size = o->mem, .nharts = o->cpus, .timeout_sec = o->timeout };
	int r = vm_create(&cfg, vm);

	if (r == -E2BIG)
		log_err("--mem: %llu MiB is more than this host's memory and swap",
			(unsigned long long)(o->mem >> 20));
	else if (r < 0)
		log_err("cannot create the machine: %s", strerror(-r));
	return r;
}

static void print_stats(const struct vm *vm, uint64_t t0)
{
	double secs = (double)(vm_now_ns() - t0) / 1e9;
	uint64_t n = 0;

	for (unsigned i = 0; i < vm->nharts; i++)
		n += vm->harts[i]->instret;
	fprintf(stderr, "lodge: stats: instret=%llu seconds=%.3f mips=%.1f\n",
		(unsigned long long)n, secs, secs > 0 ? (double)n / secs / 1e6 : 0.0);
}

int cmd_run(int argc, char **argv)
{
	struct run_opts o = { .mem = DEFAULT_MEM, .cpus = 1 };
	struct vm *vm = NULL;
	uint64_t entry, t0;
	enum vm_stop_reason why;
	int r, status;

	r = parse_opts(argc, argv, &o);
	if (r)
		return r > 0 ? 0 : CLI_EXIT_USAGE;
	if (check_mem(o.mem))
		return CLI_EXIT_USAGE;
	if (create_vm(&o, &vm) < 0)
		return CLI_EXIT_ERROR;
	if (boot_load_elf(vm, o.bare, &entry) < 0) {
		vm_destroy(vm);
		return CLI_EXIT_ERROR;
	}
	for (unsigned i = 0; i < vm->nharts; i++)
		vm->harts[i]->pc = entry;
	t0 = vm_now_ns();
	why = vm_run(vm);
	if (o.stats)
		print_stats(vm, t0);
	switch (why) {
	case VM_STOP_EXIT:
		status = vm->exit_code & 0xff;
		if (vm->exit_code && !status)
			status = 1; /* a failure code that is a multiple of 256 must not pass */
		break;
	case VM_STOP_TIMEOUT:
		log_err("%s: still running after %g s (--timeout): stopped", o.bare, o.timeout);
		status = CLI_EXIT_TIMEOUT;
		break;
	default: status = CLI_EXIT_ERROR; break;
	}
	vm_destroy(vm);
	return status;
}
