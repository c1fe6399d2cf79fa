/*
 * `lodge run`: builds a machine, loads the guest, runs it, and turns how it stopped into
 * the process exit status.
 */
#include "cli/cli.h"

#include <errno.h>
#include <limits.h>
#include <getopt.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "cli/console.h"
#include "cli/guestctl.h"
#include "host/sandbox.h"
#include "core/log.h"
#include "cpu/exec.h"
#include "devices/device.h"
#include "devices/virtio/blk.h"
#include "devices/virtio/net.h"
#include "disk/disk.h"
#include "cpu/hart.h"
#include "cpu/jit/jit.h"
#include "machine/boot.h"
#include "machine/hostallow.h"
#include "machine/machine.h"
#include "machine/migrate.h"
#include "machine/replicate.h"
#include "snapshot/snapshot.h"
#include "machine/snapshot.h"
#include "net/net.h"

#define DEFAULT_MEM	  (128ull << 20)
#define DEFAULT_LINUX_MEM (256ull << 20)
#define DEFAULT_CMDLINE	  "console=ttyS0"
#define MAX_CMDLINE	  VM_MAX_CMDLINE

#define MAX_DEVICE_ARGS VM_MAX_DEVICE_ARGS
#define OPT_DEVICE	1000 /* getopt value of the first device-type option */
#define OPT_ALLOW	900  /* --incoming-allow */
#define OPT_ALLOW_TAP	901  /* --incoming-allow-tap */
#define OPT_ALLOW_FWD	902  /* --incoming-allow-hostfwd */
#define OPT_JIT_CACHE	903  /* --jit-cache */

struct run_opts {
	struct console *console; /* (set before the machines run: a wait for a stream asks it) */
	const char *bare;
	struct vm_device_arg devs[MAX_DEVICE_ARGS];
	unsigned ndevs;
	struct boot_linux lx;
	uint64_t mem;
	unsigned cpus;
	double timeout;
	int stats, no_reboot, mem_set, cpus_set;
	unsigned jit_hot;	      /* 0: interpreter only */
	int jit_opt;		      /* 'J' once --no-jit, 'H' once --jit-hot was given */
	uint64_t jit_cache;	      /* --jit-cache (0: the default) */
	bool hugepages;		      /* --hugepages on|off (default on) */
	struct guestctl_config ctl;   /* --api, --console-log, --exit-file */
	const char *sandbox;	      /* --sandbox SPEC */
	int seccomp;		      /* --seccomp */
	struct sandbox_filter filter; /* the spec's precompiled seccomp filter */
	const char *restore;	      /* --restore FILE */
	const char *incoming;	      /* --incoming tcp:HOST:PORT (the HOST:PORT part) */
	struct guestctl *gctl;	      /* with --incoming control: where the stream comes */
	const char *standby;	      /* --standby tcp:HOST:PORT (the HOST:PORT part) */
	const char *standby_disks[VM_MAX_DEVICE_ARGS]; /* --standby-disk PATH */
	unsigned nstandby_disks;
	const char *incoming_disks[VM_MAX_DEVICE_ARGS]; /* --incoming-disk PATH */
	unsigned nincoming_disks;
	/* what the stream of --incoming or --standby may name on this host */
	const char *allow_paths[VM_MAX_DEVICE_ARGS]; /* --incoming-allow PATH */
	const char *allow_taps[VM_MAX_DEVICE_ARGS];  /* --incoming-allow-tap NAME */
	unsigned nallow_paths, nallow_taps;
	bool allow_hostfwd;			       /* --incoming-allow-hostfwd */
	const char *restore_disks[VM_MAX_DEVICE_ARGS]; /* --restore-disk PATH[,format=F][,...] */
	unsigned nrestore_disks;
	const char *overlay_dir; /* --overlay-dir DIR */
	bool failover_auto;	 /* --failover auto[:MS] */
	unsigned heartbeat_ms;
};

/* What the control socket (cli/guestctl.h) acts on: the current machine, which a reboot
 * replaces (vm is NULL in between). */
struct run_ctl {
	pthread_mutex_t lock;
	struct vm *vm;
	/* snapshots using vm without the lock (a background copy of its disks: ctl_snapshot);
	 * ctl_attach waits on idle until there is none */
	unsigned users;
	pthread_cond_t idle;
	bool killed;
	bool seccomp; /* --seccomp: its allow list has no migration calls (outgoing sockets) */
	struct vm_repl *repl;		/* PUT /replicate: replication to a standby */
	char repl_dest[256];		/* its standby */
	struct vm_repl_stats repl_last; /* of the last one, once stopped */
	bool repl_ran;
	struct vm_standby *standby; /* --standby: waiting for the primary's stream to end */
	bool started;		    /* the first machine was attached (ctl_attach) */
};

/* How long a pause or resume asked for before the first machine exists (the control
 * socket answers while the kernel and disks are still being set up) waits for it. */
#define START_WAIT_S 10

/* With c->lock held: waits until the first machine is attached, for START_WAIT_S at most. */
static void wait_started(struct run_ctl *c)
{
	struct timespec until;

	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += START_WAIT_S;
	while (!c->started && !c->killed &&
	       pthread_cond_timedwait(&c->idle, &c->lock, &until) != ETIMEDOUT)
		;
}

/* Where --firmware is looked for when not given: the default guest's cache in the
 * current directory, then in the source tree the lodge binary was built in
 * (build/MODE/lodge), then Debian's opensbi package on the host. */
#define FW_CACHE "guest-cache/out/fw_dynamic.bin"

int cli_find_firmware(char *out, size_t len)
{
	char exe[PATH_MAX], abs[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);

	if (access(FW_CACHE, R_OK) == 0 && realpath(FW_CACHE, abs) && strlen(abs) < len) {
		snprintf(out, len, "%s", abs);
		return 0;
	}
	exe[n > 0 ? n : 0] = 0; /* then as the daemon looks: beside the binary, Debian's */
	return sandbox_default_firmware(exe, out, len) ? 0 : -ENOENT;
}

/* One line per registered device type that has a command-line option. */
static void device_usage(FILE *f)
{
	unsigned n;
	const struct device_type *const *t = device_types(&n);

	for (unsigned i = 0; i < n; i++) {
		const char *u = t[i]->usage ? t[i]->usage : "";
		if (!t[i]->option)
			continue;
		/* "--balloon[=size=SIZE]...": a usage that begins with '=' or '[=' joins the
		 * option; no space after an option with none */
		fprintf(f, "  --%s%s%s\n                    %s\n", t[i]->option,
			u[0] && u[0] != '=' && strncmp(u, "[=", 2) ? " " : "", u,
			t[i]->help ? t[i]->help : "");
	}
}

static void run_usage(FILE *f)
{
	fprintf(f,
		"usage: lodge run --kernel IMAGE [--initrd FILE] [--append CMDLINE] [OPTIONS]\n"
		"       lodge run --bare PROGRAM.elf [OPTIONS]\n"
		"\n"
		"Runs a RISC-V RV64GC machine laid out like QEMU's virt board.\n"
		"\n"
		"Linux:\n"
		"  --kernel IMAGE    a RISC-V Linux Image (e.g. Debian's vmlinux-*-riscv64), "
		"started\n"
		"                    in S-mode by the firmware\n"
		"  --initrd FILE     initial ramdisk (cpio archive, compressed or not)\n"
		"  --append CMDLINE  kernel command line, at most 4096 bytes (default\n"
		"                    \"" DEFAULT_CMDLINE
		"\", or \"console=hvc0\" with --virtio-console)\n"
		"  --firmware FILE   M-mode firmware: OpenSBI fw_dynamic.bin or fw_jump.bin\n"
		"                    (default: guest-cache/out/fw_dynamic.bin from make guest, "
		"here\n"
		"                    or in lodge's source tree; else Debian's opensbi one)\n"
		"  --dump-dtb FILE   also write the generated device tree to FILE (dtc -I dtb)\n"
		"  --no-reboot       exit (status 120) when the guest reboots instead of "
		"restarting\n"
		"Bare metal:\n"
		"  --bare FILE       load a bare-metal ELF at its physical addresses and start\n"
		"                    every hart in M-mode at its entry (a0 = hart id)\n"
		"Machine:\n"
		"  --mem SIZE        guest RAM at 0x80000000, e.g. 64M, 2G (default 256M for\n"
		"                    Linux, 128M for --bare)\n"
		"  --cpus N          number of harts, 1-%d, one host thread each (default 1)\n"
		"  --timeout SECS    stop a guest still running after SECS seconds (exit 124)\n"
		"  --stats           print retired instructions, speed and disk I/O on exit\n"
		"  --no-jit          interpret only: do not translate hot code to x86-64\n"
		"  --jit-hot N       translate a block after N entries (default %d; 1 = at once)\n"
		"                    (not with --no-jit)\n"
		"  --jit-cache SIZE  memory for decoded and for translated guest code, SIZE each,\n"
		"                    shared by the harts, each at least 1M of each (default 2M:\n"
		"                    what a boot needs; more for heavy I/O or large programs,\n"
		"                    e.g. 8M; idle harts give it back)\n"
		"  --hugepages on|off  back guest RAM with transparent huge pages where the\n"
		"                    host allows (default on): a faster boot, but touched RAM\n"
		"                    counts in whole 2 MiB pages (more host memory per guest)\n"
		"  -h, --help        this text\n"
		"Host (how lodge daemon runs guests):\n"
		"  --api SOCKET      serve the control API on a unix socket (pause, resume, stop,\n"
		"                    kill, stats, console attach: see docs/API.md)\n"
		"  --console-log FILE  console output to a ring file (and attached clients);\n"
		"                    console input only from clients attached through --api\n"
		"  --exit-file FILE  write {\"status\", \"reason\"} there when the machine stops\n"
		"  --ready-file FIFO write a byte there once the machine is built and runs\n"
		"  --sandbox SPEC    enter the sandbox the daemon prepared (see host/sandbox.h)\n"
		"  --seccomp         install the system guests' seccomp allow list\n"
		"Snapshots (docs/SNAPSHOT.md):\n"
		"  --restore FILE    recreate the machine a snapshot holds (its RAM, harts,\n"
		"                    devices with their options, clock) and run it on from\n"
		"                    there; without --kernel, --bare, --mem, --cpus or device\n"
		"                    options (the file has them). A snapshot is taken with\n"
		"                    PUT /snapshot/create on the --api socket (docs/API.md)\n"
		"  --restore-disk PATH[,format=raw|qcow2][,verify=on]  the image the\n"
		"                    snapshot's next writable disk is restored from, instead\n"
		"                    of the one it records (one per such disk; e.g. a copy\n"
		"                    moved elsewhere); not compared with what the snapshot\n"
		"                    recorded of its image unless verify=on\n"
		"  --overlay-dir DIR  where the restored disks' overlays go (default: next to\n"
		"                    the snapshot)\n"
		"  --incoming tcp:HOST:PORT  wait there for a live migration (PUT /migrate on\n"
		"                    the source's --api socket) and run the guest it brings;\n"
		"                    the same restrictions as --restore\n"
		"  --incoming control  the same, the connection handed over on the --api\n"
		"                    socket (POST /migrate/receive: how the daemon does it)\n"
		"  --incoming-disk PATH  this host's image for the source's next writable disk\n"
		"                    (of the same size; one per such disk): its blocks come\n"
		"                    with the RAM. Without it the images are shared storage:\n"
		"                    opened here, by the same path, once the source let go\n"
		"  --incoming-allow PATH  a directory (or file) whose files the stream may name\n"
		"                    (read-only and shared disks, their backing files, vsock\n"
		"                    sockets): each path must resolve (symlinks, ..) inside\n"
		"                    one; without, a stream naming any is refused.\n"
		"                    --incoming-disk and --standby-disk images need none.\n"
		"                    Also with --standby; repeatable\n"
		"  --incoming-allow-tap NAME  a tap interface the stream may name (repeatable)\n"
		"  --incoming-allow-hostfwd  the stream's user-networking port forwards may\n"
		"                    bind here\n"
		"Replication (docs/SNAPSHOT.md \"Replication\"):\n"
		"  --standby tcp:HOST:PORT  be the standby of a guest replicated there (PUT\n"
		"                    /replicate on the primary's --api socket): keep its last\n"
		"                    complete checkpoint and run it once the primary is gone\n"
		"                    and PUT /failover comes (the same restrictions as --restore)\n"
		"  --standby-disk PATH  this standby's copy of the primary's next writable disk\n"
		"                    (copied before the primary started; one per such disk)\n"
		"  --failover auto[:MS]  take over as soon as the stream dies or is silent for\n"
		"                    MS (default 1000, at least two intervals); or manual\n"
		"Devices (each option may be repeated):\n",
		VM_MAX_HARTS, JIT_HOT_DEFAULT);
	device_usage(f);
	fprintf(f,
		"\n"
		"Console: the guest's UART is on stdin/stdout (with --virtio-console, hvc0 takes\n"
		"the input and the UART only prints). Input is kept until the guest reads it;\n"
		"the end of input is not passed on. On a terminal (raw mode): Ctrl-A X quits,\n"
		"Ctrl-A H lists the keys, Ctrl-C goes to the guest.\n"
		"\n"
		"Exit status: 0 when the guest powers off (or Ctrl-A X); a bare program's own\n"
		"status (finisher 0x100000 or HTIF tohost); 120 guest reboot with --no-reboot;\n"
		"121 guest kernel panic; 124 timeout; 125 the machine could not be set up;\n"
		"2 bad command line; 128+N after signal N (SIGTERM, SIGHUP, SIGINT, SIGQUIT)\n"
		"stopped the machine; 141 when the output's reader went away (e.g. | head).\n");
}

/* The fixed options, then one per registered device type with an option. */
static struct option *build_longopts(const struct option *fixed, size_t nfixed)
{
	unsigned n;
	const struct device_type *const *t = device_types(&n);
	struct option *all = calloc(nfixed + n + 1, sizeof(*all));
	size_t k = nfixed;

	if (!all)
		return NULL;
	memcpy(all, fixed, nfixed * sizeof(*all));
	for (unsigned i = 0; i < n; i++) {
		if (!t[i]->option)
			continue;
		all[k++] = (struct option){.name = t[i]->option,
					   .has_arg = t[i]->arg_optional ? optional_argument
									 : required_argument,
					   .val = OPT_DEVICE + (int)i};
	}
	return all;
}

static int add_device_arg(struct run_opts *o, int c)
{
	unsigned n;
	const struct device_type *const *t = device_types(&n);
	const struct device_type *type = t[c - OPT_DEVICE];

	if (o->ndevs == MAX_DEVICE_ARGS) {
		log_err("run: too many device options (at most %d)", MAX_DEVICE_ARGS);
		return -1;
	}
	o->devs[o->ndevs++] = (struct vm_device_arg){.option = type->option, .args = optarg};
	return 0;
}

static int parse_longopts(int argc, char **argv, struct run_opts *o, const struct option *longopts);

/* --restore takes the machine from the file: nothing may describe another one. */
static int check_restore_opts(const struct run_opts *o)
{
	if (o->bare || o->lx.kernel || o->lx.initrd || o->lx.cmdline || o->lx.firmware ||
	    o->lx.dump_dtb || o->mem_set || o->cpus_set || o->ndevs) {
		log_err("run: --restore and --incoming recreate the machine the snapshot or "
			"migration holds; they do not go with --kernel, --bare, --initrd, "
			"--append, --firmware, --dump-dtb, "
			"--mem, --cpus or device options");
		return -1;
	}
	return 0;
}

static int parse_opts(int argc, char **argv, struct run_opts *o)
{
	static const struct option fixed[] = {
		{"bare", required_argument, NULL, 'b'},
		{"kernel", required_argument, NULL, 'k'},
		{"initrd", required_argument, NULL, 'i'},
		{"append", required_argument, NULL, 'a'},
		{"firmware", required_argument, NULL, 'f'},
		{"dump-dtb", required_argument, NULL, 'd'},
		{"no-reboot", no_argument, NULL, 'n'},
		{"mem", required_argument, NULL, 'm'},
		{"cpus", required_argument, NULL, 'c'},
		{"timeout", required_argument, NULL, 't'},
		{"stats", no_argument, NULL, 's'},
		{"no-jit", no_argument, NULL, 'J'},
		{"jit-hot", required_argument, NULL, 'H'},
		{"jit-cache", required_argument, NULL, OPT_JIT_CACHE},
		{"hugepages", required_argument, NULL, 'U'},
		{"api", required_argument, NULL, 'A'},
		{"console-log", required_argument, NULL, 'L'},
		{"exit-file", required_argument, NULL, 'E'},
		{"ready-file", required_argument, NULL, 'y'},
		{"sandbox", required_argument, NULL, 'S'},
		{"seccomp", no_argument, NULL, 'P'},
		{"restore", required_argument, NULL, 'R'},
		{"incoming", required_argument, NULL, 'I'},
		{"standby", required_argument, NULL, 'Y'},
		{"standby-disk", required_argument, NULL, 'D'},
		{"incoming-disk", required_argument, NULL, 'G'},
		{"incoming-allow", required_argument, NULL, OPT_ALLOW},
		{"incoming-allow-tap", required_argument, NULL, OPT_ALLOW_TAP},
		{"incoming-allow-hostfwd", no_argument, NULL, OPT_ALLOW_FWD},
		{"restore-disk", required_argument, NULL, 'X'},
		{"overlay-dir", required_argument, NULL, 'O'},
		{"failover", required_argument, NULL, 'F'},
		{"help", no_argument, NULL, 'h'},
	};
	struct option *longopts = build_longopts(fixed, sizeof(fixed) / sizeof(fixed[0]));
	int r;

	if (!longopts) {
		log_err("run: out of memory");
		return -1;
	}
	r = parse_longopts(argc, argv, o, longopts);
	free(longopts);
	return r;
}

/* --no-jit and --jit-hot N (option letters 'J', 'H') contradict each other: one of them
 * would be silently ignored. Returns whether opt comes after the other. */
static bool jit_contradiction(struct run_opts *o, int opt)
{
	if (o->jit_opt && o->jit_opt != opt) {
		log_err("run: --no-jit and --jit-hot contradict each other (--no-jit: interpret "
			"only; --jit-hot N: translate a block after N entries): pass only one of "
			"them");
		return true;
	}
	o->jit_opt = opt;
	return false;
}

static int parse_longopts(int argc, char **argv, struct run_opts *o, const struct option *longopts)
{
	int c;
	char *end;

	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		if (c >= OPT_DEVICE) {
			if (add_device_arg(o, c) < 0)
				return -1;
			continue;
		}
		switch (c) {
		case 'b':
			o->bare = optarg;
			break;
		case 'k':
			o->lx.kernel = optarg;
			break;
		case 'i':
			o->lx.initrd = optarg;
			break;
		case 'a':
			o->lx.cmdline = optarg;
			break;
		case 'f':
			o->lx.firmware = optarg;
			break;
		case 'd':
			o->lx.dump_dtb = optarg;
			break;
		case 'n':
			o->no_reboot = 1;
			break;
		case 'm':
			o->mem_set = 1;
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
			o->cpus_set = 1;
			break;
		}
		case 't':
			o->timeout = strtod(optarg, &end);
			if (*end || end == optarg || !(o->timeout > 0) || o->timeout > 1e9) {
				log_err("--timeout '%s': must be a positive number of seconds",
					optarg);
				return -1;
			}
			break;
		case 's':
			o->stats = 1;
			break;
		case 'J':
		case 'H': {
			if (jit_contradiction(o, c))
				return -1;
			if (c == 'J') {
				o->jit_hot = 0;
				break;
			}
			unsigned long v = strtoul(optarg, &end, 10);
			if (*end || end == optarg || v < 1 || v > 1000000) {
				log_err("--jit-hot '%s': must be a number from 1 to 1000000",
					optarg);
				return -1;
			}
			o->jit_hot = (unsigned)v;
			break;
		}
		case OPT_JIT_CACHE:
			if (cli_parse_size(optarg, &o->jit_cache) < 0 ||
			    o->jit_cache < VM_JIT_CACHE_MIN || o->jit_cache > VM_JIT_CACHE_MAX) {
				log_err("--jit-cache '%s': must be a size from 1M to 1G (e.g. 8M)",
					optarg);
				return -1;
			}
			break;
		case 'U':
			if (strcmp(optarg, "on") && strcmp(optarg, "off")) {
				log_err("--hugepages '%s': must be on or off", optarg);
				return -1;
			}
			o->hugepages = !strcmp(optarg, "on");
			break;
		case 'A':
			o->ctl.api_path = optarg;
			break;
		case 'L':
			o->ctl.console_log = optarg;
			break;
		case 'E':
			o->ctl.exit_file = optarg;
			break;
		case 'y':
			o->ctl.ready_file = optarg;
			break;
		case 'S':
			o->sandbox = optarg;
			break;
		case 'P':
			o->seccomp = 1;
			break;
		case 'R':
			o->restore = optarg;
			break;
		case 'I':
			if (!strcmp(optarg, "control")) {
				o->incoming = optarg;
				o->ctl.incoming = true;
				break;
			}
			if (strncmp(optarg, "tcp:", 4) || !strchr(optarg + 4, ':')) {
				log_err("run: --incoming %s: must be tcp:HOST:PORT or control",
					optarg);
				return -1;
			}
			o->incoming = optarg + 4;
			break;
		case 'Y':
			if (!strcmp(optarg, "control")) {
				o->standby = optarg;
				o->ctl.incoming = true;
				break;
			}
			if (strncmp(optarg, "tcp:", 4) || !strchr(optarg + 4, ':')) {
				log_err("run: --standby %s: must be tcp:HOST:PORT or control",
					optarg);
				return -1;
			}
			o->standby = optarg + 4;
			break;
		case 'D':
			if (o->nstandby_disks == VM_MAX_DEVICE_ARGS) {
				log_err("run: too many --standby-disk options");
				return -1;
			}
			o->standby_disks[o->nstandby_disks++] = optarg;
			break;
		case 'G':
			if (o->nincoming_disks == VM_MAX_DEVICE_ARGS) {
				log_err("run: too many --incoming-disk options");
				return -1;
			}
			o->incoming_disks[o->nincoming_disks++] = optarg;
			break;
		case OPT_ALLOW:
			if (o->nallow_paths == VM_MAX_DEVICE_ARGS) {
				log_err("run: too many --incoming-allow options");
				return -1;
			}
			o->allow_paths[o->nallow_paths++] = optarg;
			break;
		case OPT_ALLOW_TAP:
			if (o->nallow_taps == VM_MAX_DEVICE_ARGS) {
				log_err("run: too many --incoming-allow-tap options");
				return -1;
			}
			o->allow_taps[o->nallow_taps++] = optarg;
			break;
		case OPT_ALLOW_FWD:
			o->allow_hostfwd = true;
			break;
		case 'X':
			if (o->nrestore_disks == VM_MAX_DEVICE_ARGS) {
				log_err("run: too many --restore-disk options");
				return -1;
			}
			o->restore_disks[o->nrestore_disks++] = optarg;
			break;
		case 'O':
			o->overlay_dir = optarg;
			break;
		case 'F':
			o->heartbeat_ms = 1000;
			if (!strcmp(optarg, "manual")) {
				o->failover_auto = false;
				break;
			}
			if (strncmp(optarg, "auto", 4) || (optarg[4] && optarg[4] != ':')) {
				log_err("run: --failover %s: must be manual, auto or auto:MS",
					optarg);
				return -1;
			}
			o->failover_auto = true;
			if (optarg[4]) {
				unsigned long v = strtoul(optarg + 5, &end, 10);
				if (end == optarg + 5 || *end || v < 10 || v > 600000) {
					log_err("run: --failover %s: MS must be 10-600000", optarg);
					return -1;
				}
				o->heartbeat_ms = (unsigned)v;
			}
			break;
		case 'h':
			run_usage(stdout);
			return 1;
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
	if (!!o->restore + !!o->incoming + !!o->standby > 1) {
		log_err("run: --restore, --incoming and --standby each bring a machine: pass one");
		return -1;
	}
	if (!o->incoming && o->nincoming_disks) {
		log_err("run: --incoming-disk goes with --incoming");
		return -1;
	}
	if (!o->incoming && !o->standby &&
	    (o->nallow_paths || o->nallow_taps || o->allow_hostfwd)) {
		log_err("run: --incoming-allow, --incoming-allow-tap and --incoming-allow-hostfwd "
			"go with --incoming or --standby");
		return -1;
	}
	if (!o->restore && (o->nrestore_disks || o->overlay_dir)) {
		log_err("run: --restore-disk and --overlay-dir go with --restore");
		return -1;
	}
	if (!o->standby && (o->nstandby_disks || o->heartbeat_ms)) {
		log_err("run: --standby-disk and --failover go with --standby");
		return -1;
	}
	if (o->standby && o->seccomp && !o->ctl.incoming) {
		log_err("run: --standby tcp: does not go with --seccomp (its allow list has no "
			"listening sockets): use --standby control");
		return -1;
	}
	if (o->standby && o->ctl.incoming && !o->ctl.api_path) {
		log_err("run: --standby control needs --api SOCKET (the stream comes there)");
		return -1;
	}
	if (o->incoming && o->seccomp && !o->ctl.incoming) {
		log_err("run: --incoming tcp: does not go with --seccomp (its allow list has no "
			"listening sockets): use --incoming control");
		return -1;
	}
	if (o->ctl.incoming && !o->ctl.api_path) {
		log_err("run: --incoming control needs --api SOCKET (the stream comes there)");
		return -1;
	}
	if (o->restore || o->incoming || o->standby)
		return check_restore_opts(o);
	if (!o->bare == !o->lx.kernel) {
		log_err("run: pass exactly one of --kernel IMAGE or --bare PROGRAM.elf "
			"(see lodge run --help)");
		return -1;
	}
	if (o->bare && (o->lx.initrd || o->lx.cmdline || o->lx.firmware)) {
		log_err("run: --initrd, --append and --firmware go with --kernel, not --bare");
		return -1;
	}
	if (o->lx.cmdline && strlen(o->lx.cmdline) > MAX_CMDLINE) {
		log_err("--append: the command line is %zu bytes long; at most %d are allowed",
			strlen(o->lx.cmdline), MAX_CMDLINE);
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

static int create_vm(const struct run_opts *o, struct chardev *con, struct vm **vm)
{
	char err[512] = ""; /* a --disk error names up to three paths */
	struct vm_config cfg = {.ram_size = o->mem,
				.nharts = o->cpus,
				.timeout_sec = o->timeout,
				.jit_hot = o->jit_hot,
				.jit_cache = o->jit_cache,
				.hugepages = o->hugepages,
				.bare = o->bare != NULL,
				.devices = o->devs,
				.ndevices = o->ndevs,
				.err = err,
				.errlen = sizeof(err),
				.console = con};
	int r = vm_create(&cfg, vm);

	if (err[0])
		log_err("%s", err);
	else if (r == -E2BIG)
		log_err("--mem: %llu MiB is more than this host's memory and swap",
			(unsigned long long)(o->mem >> 20));
	else if (r < 0)
		log_err("cannot create the machine: %s", strerror(-r));
	return r;
}

/* Where the JIT handed over to the interpreter most, and what that left interpreted. */
static void print_exits(const struct hart *h, unsigned i)
{
	struct exec_exit_stat top[12];
	struct exec_jit_counts c;
	int n = exec_jit_exits(h, top, 12);

	if (exec_jit_hot(h) == 0) /* no JIT */
		return;
	exec_jit_counts(h, &c);
	fprintf(stderr,
		"lodge: stats: hart %u: interpreted=%llu leaves=%llu relinks=%llu links=%llu "
		"flushes=%llu cold-flushes=%llu decoded=%llu trims=%llu jit-exits",
		i, (unsigned long long)c.interp_insns, (unsigned long long)c.leaves,
		(unsigned long long)c.relinks, (unsigned long long)c.links,
		(unsigned long long)c.flushes, (unsigned long long)c.cold_flushes,
		(unsigned long long)c.decoded, (unsigned long long)c.trims);
	for (int k = 0; k < n; k++)
		fprintf(stderr, " %s=%llu(%llu)", top[k].op, (unsigned long long)top[k].count,
			(unsigned long long)top[k].untranslated);
	fputc('\n', stderr);
}

/* Each disk's requests against the host operations they became (src/disk counters). The
 * machine has stopped: its disks stay open until vm_destroy. */
static void print_disk_stats(const struct vm *vm)
{
	for (struct device *dev = vm->devices; dev; dev = dev->next) {
		struct disk *d = vblk_disk(dev);
		struct disk_stats s;

		if (!d)
			continue;
		disk_get_stats(d, &s);
		fprintf(stderr,
			"lodge: stats: %s (%s): requests=%llu host-reads=%llu host-writes=%llu "
			"syncs=%llu async=%llu submits=%llu meta-reads=%llu meta-writes=%llu "
			"clusters=%llu\n",
			dev->name, vblk_path(dev), (unsigned long long)s.requests,
			(unsigned long long)s.host_reads, (unsigned long long)s.host_writes,
			(unsigned long long)s.host_syncs, (unsigned long long)s.host_async,
			(unsigned long long)s.submits, (unsigned long long)s.meta_reads,
			(unsigned long long)s.meta_writes, (unsigned long long)s.clusters);
	}
}

static void print_stats(const struct vm *vm, uint64_t t0)
{
	double secs = (double)(vm_now_ns() - t0) / 1e9;
	uint64_t n = 0;

	for (unsigned i = 0; i < vm->nharts; i++)
		n += vm->harts[i]->instret;
	fprintf(stderr, "lodge: stats: instret=%llu seconds=%.3f mips=%.1f\n",
		(unsigned long long)n, secs, secs > 0 ? (double)n / secs / 1e6 : 0.0);
	for (unsigned i = 0; i < vm->nharts; i++) {
		const struct hart *h = vm->harts[i];
		size_t arena, code;
		exec_cache_budget(h, &arena, &code);
		fprintf(stderr,
			"lodge: stats: hart %u: pc=0x%llx priv=%u instret=%llu blocks=%zuK "
			"jit=%zuK jitblocks=%llu jithot=%u cache=%zuK/%zuK "
			"mcause=0x%llx mepc=0x%llx scause=0x%llx sepc=0x%llx stval=0x%llx "
			"satp=0x%llx\n",
			i, (unsigned long long)h->pc, h->priv, (unsigned long long)h->instret,
			exec_cache_bytes(h) >> 10, exec_jit_bytes(h) >> 10,
			(unsigned long long)exec_jit_blocks(h), exec_jit_hot(h), arena >> 10,
			code >> 10, (unsigned long long)h->mcause, (unsigned long long)h->mepc,
			(unsigned long long)h->scause, (unsigned long long)h->sepc,
			(unsigned long long)h->stval, (unsigned long long)h->satp);
		print_exits(h, i);
	}
	print_disk_stats(vm);
}

/* console=ttyS0, or the console of a device that takes it (--virtio-console: hvc0). */
static const char *default_cmdline(const struct run_opts *o, char *buf, size_t len)
{
	for (unsigned i = 0; i < o->ndevs; i++) {
		const struct device_type *t = device_type_find_option(o->devs[i].option);
		if (t && t->console) {
			snprintf(buf, len, "console=%s", t->console);
			return buf;
		}
	}
	return DEFAULT_CMDLINE;
}

/* Creates the machine a snapshot holds and loads it. Returns 0 or a CLI exit status. */
static int setup_restore(const struct run_opts *o, struct chardev *con, struct vm **vm)
{
	char err[2048] = ""; /* a disk's refusal names its path up to three times */
	struct vm_config cfg = {0};
	struct vm_restore *rs = NULL;
	uint64_t t0 = vm_now_ns();
	struct vm_restore_opts ro = {.disks = o->restore_disks,
				     .ndisks = o->nrestore_disks,
				     .overlay_dir = o->overlay_dir};
	int r = vm_restore_open(o->restore, &ro, &cfg, &rs, err, sizeof(err));

	if (r < 0) {
		log_err("--restore %s: %s", o->restore, err[0] ? err : strerror(-r));
		return CLI_EXIT_ERROR;
	}
	cfg.timeout_sec = o->timeout;
	cfg.jit_hot = o->jit_hot;
	cfg.jit_cache = o->jit_cache;
	cfg.hugepages = o->hugepages;
	cfg.err = err;
	cfg.errlen = sizeof(err);
	cfg.console = con;
	r = vm_create(&cfg, vm);
	if (r < 0) {
		log_err("--restore %s: cannot create its machine: %s", o->restore,
			err[0] ? err : strerror(-r));
		vm_restore_close(rs);
		return CLI_EXIT_ERROR;
	}
	r = vm_restore(*vm, rs, true, err, sizeof(err));
	vm_restore_close(rs);
	if (r < 0) {
		log_err("--restore %s: %s", o->restore, err[0] ? err : strerror(-r));
		vm_destroy(*vm);
		*vm = NULL;
		return CLI_EXIT_ERROR;
	}
	if (o->stats)
		fprintf(stderr, "lodge: stats: restore=%.3fms\n", (double)(vm_now_ns() - t0) / 1e6);
	return 0;
}

/* While --incoming or --standby waits for its stream: a termination signal (the console
 * takes them) or --timeout gives the wait up. */
struct stream_wait {
	const struct run_opts *o;
	uint64_t deadline; /* vm_now_ns; 0: none */
	bool timed_out;
	const char *announce; /* said once listening (asked first right after the listen) */
};

static bool stream_wait_over(void *opaque)
{
	struct stream_wait *w = opaque;

	if (w->announce) {
		fprintf(stderr, "%s", w->announce);
		w->announce = NULL;
	}

	if (w->o->console && console_stop_requested(w->o->console))
		return true;
	if (w->deadline && vm_now_ns() >= w->deadline)
		w->timed_out = true;
	return w->timed_out;
}

/* Accepts the stream on addr (what --incoming or --standby names) or gives up as
 * stream_wait_over says: returns the fd, or a negative CLI exit status after saying why. */
static int accept_stream(const struct run_opts *o, const char *what, const char *addr,
			 const char *announce)
{
	struct stream_wait w = {.o = o, .announce = announce};
	char err[512] = "";
	int fd;

	if (o->timeout > 0)
		w.deadline = vm_now_ns() + (uint64_t)(o->timeout * 1e9);
	fd = snap_stream_accept_until(addr, stream_wait_over, &w, err, sizeof(err));
	if (fd >= 0)
		return fd;
	if (w.timed_out) {
		log_err("--timeout: no stream came to %s tcp:%s in %g s", what, addr, o->timeout);
		return -CLI_EXIT_TIMEOUT;
	}
	if (fd == -ECANCELED) /* a signal: the console has its exit status */
		return -console_exit_status(o->console);
	log_err("%s tcp:%s: %s", what, addr, err[0] ? err : strerror(-fd));
	return -CLI_EXIT_ERROR;
}

/* What the stream may name on this host (--incoming-allow...), `pin` the option that
 * pins a writable disk instead (NULL: all are). The paths must resolve: checked here,
 * once the process sees its files (inside its --sandbox). Returns 0 or a CLI exit status. */
static int host_allow(const struct run_opts *o, const char *pin, struct vm_host_allow *a)
{
	char path[PATH_MAX];

	for (unsigned i = 0; i < o->nallow_paths; i++)
		if (!realpath(o->allow_paths[i], path)) {
			log_err("--incoming-allow %s: %s (a directory or file of this host's)",
				o->allow_paths[i], strerror(errno));
			return CLI_EXIT_ERROR;
		}
	*a = (struct vm_host_allow){.paths = o->allow_paths,
				    .npaths = o->nallow_paths,
				    .taps = o->allow_taps,
				    .ntaps = o->nallow_taps,
				    .hostfwd = o->allow_hostfwd,
				    .pin_hint = pin};
	return 0;
}

/* Waits for a migration stream and creates the machine it brings. Returns 0 or a CLI
 * exit status. */
static int setup_incoming(const struct run_opts *o, struct chardev *con, struct vm **vm)
{
	struct vm_host_allow allow;
	struct vm_config tmpl = {.timeout_sec = o->timeout,
				 .jit_hot = o->jit_hot,
				 .jit_cache = o->jit_cache,
				 .hugepages = o->hugepages,
				 .console = con,
				 .disk_paths = o->incoming_disks,
				 .ndisk_paths = o->nincoming_disks,
				 .allow = &allow};
	char err[512] = "", peer[256];
	int fd, r;

	r = host_allow(o, o->nincoming_disks ? NULL : "--incoming-disk PATH", &allow);
	if (r)
		return r;
	if (!o->ctl.incoming) {
		fd = accept_stream(o, "--incoming", o->incoming, NULL);
		if (fd < 0)
			return -fd;
		r = vm_incoming_fd(fd, &tmpl, vm, err, sizeof(err));
		close(fd);
		if (r < 0) {
			log_err("--incoming tcp:%s: %s", o->incoming, err[0] ? err : strerror(-r));
			return CLI_EXIT_ERROR;
		}
		return 0;
	}
	r = guestctl_incoming(o->gctl, &fd, peer, sizeof(peer));
	if (!r) {
		r = vm_incoming_fd(fd, &tmpl, vm, err, sizeof(err));
		close(fd);
	}
	guestctl_incoming_done(o->gctl, r, r ? (err[0] ? err : strerror(-r)) : "running");
	if (r < 0) {
		log_err("--incoming control: from %s: %s", peer, err[0] ? err : strerror(-r));
		return CLI_EXIT_ERROR;
	}
	return 0;
}

/* Stands by for a replicated guest and, once failed over, returns its machine. Returns
 * 0 or a CLI exit status (0 too when the primary's guest stopped: *vm is then NULL). */
static int setup_standby(const struct run_opts *o, struct run_ctl *ctl, struct chardev *con,
			 struct vm **vm)
{
	struct vm_host_allow allow;
	struct vm_config tmpl = {.timeout_sec = o->timeout,
				 .jit_hot = o->jit_hot,
				 .jit_cache = o->jit_cache,
				 .hugepages = o->hugepages,
				 .console = con,
				 .allow = &allow};
	struct vm_standby_opts so = {.disks = o->standby_disks,
				     .ndisks = o->nstandby_disks,
				     .auto_failover = o->failover_auto,
				     .heartbeat_ms = o->heartbeat_ms};
	struct vm_standby *s;
	char err[512] = "", peer[256] = "";
	int fd, r = host_allow(o, NULL, &allow);

	if (r)
		return r;
	if (o->ctl.incoming) { /* --standby control: POST /migrate/receive brings it */
		r = guestctl_incoming(o->gctl, &fd, peer, sizeof(peer));
		if (r) {
			log_err("--standby control: %s", strerror(-r));
			return CLI_EXIT_ERROR;
		}
	} else {
		char say[300];
		snprintf(say, sizeof(say), "lodge: standby: listening on %s\n", o->standby);
		fd = accept_stream(o, "--standby", o->standby, say);
		if (fd < 0)
			return -fd;
	}
	r = vm_standby_create(fd, &so, &s);
	if (r) {
		close(fd);
		log_err("--standby: %s", strerror(-r));
		return CLI_EXIT_ERROR;
	}
	pthread_mutex_lock(&ctl->lock);
	ctl->standby = s;
	pthread_mutex_unlock(&ctl->lock);
	r = vm_standby_run(s, &tmpl, vm, err, sizeof(err));
	pthread_mutex_lock(&ctl->lock);
	ctl->standby = NULL;
	pthread_mutex_unlock(&ctl->lock);
	vm_standby_destroy(s);
	close(fd);
	if (o->ctl.incoming) /* the daemon learns the outcome: running, or why not */
		guestctl_incoming_done(o->gctl, r == -ENODATA ? -ENODATA : r,
				       r ? (err[0] ? err : strerror(-r)) : "running");
	if (r == -ENODATA) {
		log_info("standby: %s", err);
		return 0;
	}
	if (r < 0) {
		log_err("--standby tcp:%s: %s", o->standby, err[0] ? err : strerror(-r));
		return CLI_EXIT_ERROR;
	}
	return 0;
}

/* Creates the machine and loads the guest into it. Returns 0 or a CLI exit status. */
static int setup(const struct run_opts *o, struct run_ctl *ctl, struct chardev *con, struct vm **vm)
{
	uint64_t entry;
	int r;

	if (o->standby)
		return setup_standby(o, ctl, con, vm);
	if (o->restore)
		return setup_restore(o, con, vm);
	if (o->incoming)
		return setup_incoming(o, con, vm);
	if (create_vm(o, con, vm) < 0)
		return CLI_EXIT_ERROR;
	if (o->bare) {
		r = boot_load_elf(*vm, o->bare, &entry);
		for (unsigned i = 0; i < (*vm)->nharts && r == 0; i++)
			(*vm)->harts[i]->pc = entry;
	} else {
		r = boot_load_linux(*vm, &o->lx);
	}
	if (r < 0) {
		vm_destroy(*vm);
		*vm = NULL;
		return CLI_EXIT_ERROR;
	}
	return 0;
}

/* Maps how the machine stopped to the exit status (see run_usage). */
static int stop_status(const struct run_opts *o, const struct vm *vm, enum vm_stop_reason why)
{
	const char *what = o->restore	 ? o->restore
			   : o->incoming ? o->incoming
			   : o->standby	 ? o->standby
			   : o->bare	 ? o->bare
					 : o->lx.kernel;
	int status;

	switch (why) {
	case VM_STOP_EXIT:
		status = vm->exit_code & 0xff;
		if (vm->exit_code && !status)
			status = 1; /* a failure code that is a multiple of 256 must not pass */
		return status;
	case VM_STOP_USER:
	case VM_STOP_MIGRATED:
		return 0;
	case VM_STOP_TIMEOUT:
		log_err("%s: still running after %g s (--timeout): stopped", what, o->timeout);
		return CLI_EXIT_TIMEOUT;
	case VM_STOP_REBOOT:
		log_info("guest rebooted; exiting (--no-reboot)");
		return CLI_EXIT_REBOOT;
	case VM_STOP_PANIC:
		log_err("%s: the guest kernel panicked (see the console output above)", what);
		return CLI_EXIT_PANIC;
	default:
		return CLI_EXIT_ERROR;
	}
}

/* ---- the control socket's operations (control thread) ---- */

static int ctl_pause(void *opaque)
{
	struct run_ctl *c = opaque;
	int r;

	pthread_mutex_lock(&c->lock);
	wait_started(c);
	r = c->vm ? vm_pause(c->vm) : -EAGAIN;
	pthread_mutex_unlock(&c->lock);
	return r;
}

static int ctl_resume(void *opaque)
{
	struct run_ctl *c = opaque;
	int r;

	pthread_mutex_lock(&c->lock);
	wait_started(c);
	r = c->vm ? vm_resume(c->vm) : -EAGAIN;
	pthread_mutex_unlock(&c->lock);
	return r == -EALREADY ? 0 : r;
}

static int ctl_stop(void *opaque)
{
	struct run_ctl *c = opaque;
	int r;

	pthread_mutex_lock(&c->lock);
	r = c->vm ? vm_press_power_button(c->vm) : -EAGAIN;
	if (r == 0)
		vm_resume(c->vm); /* a paused guest cannot react */
	pthread_mutex_unlock(&c->lock);
	return r;
}

static int ctl_kill(void *opaque)
{
	struct run_ctl *c = opaque;

	pthread_mutex_lock(&c->lock);
	c->killed = true;
	pthread_cond_broadcast(&c->idle); /* wait_started */
	if (c->vm)
		vm_request_stop(c->vm, VM_STOP_USER, 0);
	pthread_mutex_unlock(&c->lock);
	return 0;
}

static bool ctl_paused(void *opaque)
{
	struct run_ctl *c = opaque;
	bool p;

	pthread_mutex_lock(&c->lock);
	p = c->vm && vm_paused(c->vm);
	pthread_mutex_unlock(&c->lock);
	return p;
}

static uint64_t ctl_instret(void *opaque)
{
	struct run_ctl *c = opaque;
	uint64_t n;

	pthread_mutex_lock(&c->lock);
	n = c->vm ? vm_instret(c->vm) : 0;
	pthread_mutex_unlock(&c->lock);
	return n;
}

/* What the machine's NICs and disks moved, summed. */
static void ctl_io(void *opaque, struct guestctl_io *out)
{
	struct run_ctl *c = opaque;

	pthread_mutex_lock(&c->lock);
	for (struct device *dev = c->vm ? c->vm->devices : NULL; dev; dev = dev->next) {
		uint64_t a, b;
		if (vnet_io_bytes(dev, &a, &b)) {
			out->net_rx += a;
			out->net_tx += b;
		} else if (vblk_io_bytes(dev, &a, &b)) {
			out->disk_read += a;
			out->disk_write += b;
		}
	}
	pthread_mutex_unlock(&c->lock);
}

/* Guest RAM pages the host backs (touched and not given back), counted with mincore. */
static uint64_t ctl_ram_resident(void *opaque)
{
	struct run_ctl *c = opaque;
	unsigned char vec[4096];
	uint64_t n = 0, page = (uint64_t)sysconf(_SC_PAGESIZE);

	pthread_mutex_lock(&c->lock);
	for (uint64_t off = 0; c->vm && off < c->vm->mem.size; off += sizeof(vec) * page) {
		uint64_t len = c->vm->mem.size - off;
		if (len > sizeof(vec) * page)
			len = sizeof(vec) * page;
		if (mincore(c->vm->mem.ram + off, len, vec) < 0)
			break;
		for (uint64_t i = 0; i < (len + page - 1) / page; i++)
			n += vec[i] & 1;
	}
	pthread_mutex_unlock(&c->lock);
	return n * page;
}

static int ctl_snapshot(void *opaque, const struct guestctl_snapshot *req, char *err, size_t errlen)
{
	struct run_ctl *c = opaque;
	struct vm_snapshot_stats st = {0};
	struct vm_snapshot_opts so = {.raw_ram = req->raw_ram,
				      .diff = req->diff,
				      .copy_disks = req->copy_disks,
				      .resume = req->resume,
				      .stats = &st};
	int r;

	pthread_mutex_lock(&c->lock);
	/* Replication pauses the machine and takes its disks' written blocks on its own
	 * schedule, which a copy made while the machine runs on overlays would race: the
	 * copy is then made paused (guestctl resumes it after). */
	if (c->repl)
		so.resume = false;
	/* A copy of the images made paused holds the lock for as long as their data takes,
	 * the lease's watch waiting for it: RAM still mapped from a snapshot file goes off it
	 * first (past fs.lease-break-time the file would be cut under the machine). */
	r = c->vm && so.copy_disks && !so.resume ? vm_ram_detach(c->vm, err, errlen) : 0;
	if (!r && c->vm && so.copy_disks && so.resume) {
		/* The images are copied while the machine runs, for as long as their data
		 * takes: the lock is not held meanwhile, so that the control socket goes on
		 * answering (GET /vm takes it, on the thread that serves the socket and the
		 * console); the machine stays until the snapshot is done (ctl_attach). The
		 * requests that would change the machine are refused meanwhile (guestctl:
		 * busy). */
		struct vm *vm = c->vm;
		c->users++;
		pthread_mutex_unlock(&c->lock);
		r = vm_snapshot(vm, req->path, &so, err, errlen);
		pthread_mutex_lock(&c->lock);
		if (!--c->users)
			pthread_cond_broadcast(&c->idle);
	} else if (!r) {
		r = c->vm ? vm_snapshot(c->vm, req->path, &so, err, errlen) : -EAGAIN;
	}
	pthread_mutex_unlock(&c->lock);
	if (!r && st.background) /* what the user (and tests/daemon) want to know */
		fprintf(stderr,
			"lodge: snapshot %s: paused %.1f ms; disk images copied (%.1f MiB) in "
			"%.0f ms while it ran; paused %.1f ms to merge %llu blocks written "
			"meanwhile\n",
			req->path, (double)st.paused_ns / 1e6, (double)st.copy_bytes / 1048576.0,
			(double)st.copy_ns / 1e6, (double)st.merge_ns / 1e6,
			(unsigned long long)st.merge_blocks);
	return r;
}

static int ctl_migrate(void *opaque, const char *dest, const struct guestctl_migrate *o, int fd,
		       char *err, size_t errlen)
{
	struct run_ctl *c = opaque;
	struct vm_migrate_opts mo = {.post_copy = o->post_copy,
				     .precopy_rounds = o->precopy_rounds,
				     .max_bandwidth = o->max_bandwidth};
	struct vm_migrate_stats st;
	char pcs[96] = "";
	int r;

	if (c->seccomp && fd < 0) { /* a call outside the allow list would kill the guest */
		snprintf(err, errlen,
			 "the guest runs under --seccomp, whose allow list has no way to "
			 "connect out: hand the connection over (POST /migrate/send)");
		return -EOPNOTSUPP;
	}
	pthread_mutex_lock(&c->lock);
	/* the control socket answers while the first machine is still being made: a
	 * migration asked for at once waits for it (it failed, 502, and left its destination
	 * waiting for a stream that never came) */
	wait_started(c);
	/* RAM still mapped from a snapshot file goes off it first: the lease's watch waits
	 * for this lock, and a migration may hold it for longer than the kernel makes a
	 * writer of the file wait (fs.lease-break-time): the file would change under it */
	r = c->vm ? vm_ram_detach(c->vm, err, errlen) : -EAGAIN;
	if (!r && fd >= 0)
		r = vm_migrate_fd(c->vm, fd, dest, &mo, &st, err, errlen);
	else if (!r)
		r = vm_migrate(c->vm, dest, &mo, &st, err, errlen);
	else if (fd >= 0)
		close(fd);
	pthread_mutex_unlock(&c->lock);
	if (!r && o->post_copy)
		snprintf(pcs, sizeof(pcs), ", post-copy %llu pages (%llu asked for)",
			 (unsigned long long)st.post_pages, (unsigned long long)st.requested);
	if (!r) /* what the user (and bench/migrate) want to know */
		fprintf(stderr,
			"lodge: migrated to %s: %u rounds, %llu pages, %llu disk blocks, %.1f MiB "
			"in "
			"%.1f ms, paused %.2f ms%s\n",
			dest, st.rounds, (unsigned long long)st.pages,
			(unsigned long long)st.blocks, (double)st.bytes / 1048576.0,
			(double)st.total_ns / 1e6, (double)st.downtime_ns / 1e6, pcs);
	return r;
}

/* After the answer to PUT /migrate went out: this machine's work is done. Lost (a
 * post-copy that failed after the switch): it cannot run on here, its state went. */
static void ctl_migrated(void *opaque, bool lost)
{
	struct run_ctl *c = opaque;

	pthread_mutex_lock(&c->lock);
	if (c->vm)
		vm_request_stop(c->vm, lost ? VM_STOP_ERROR : VM_STOP_MIGRATED, lost);
	pthread_mutex_unlock(&c->lock);
}

static int ctl_replicate(void *opaque, const char *dest, unsigned interval_ms, int fd, char *err,
			 size_t errlen)
{
	struct run_ctl *c = opaque;
	struct vm_repl *rp = NULL;
	int r;

	if (c->seccomp && fd < 0) {
		snprintf(err, errlen,
			 "the guest runs under --seccomp, whose allow list has no way to "
			 "connect out: hand the connection over (POST /replicate/send)");
		return -EOPNOTSUPP;
	}
	pthread_mutex_lock(&c->lock);
	wait_started(c); /* (as a migration does) */
	if (!c->vm) {
		r = -EAGAIN;
	} else if (c->repl) {
		struct vm_repl_stats st;
		vm_replicate_stats(c->repl, &st);
		if (st.active) {
			snprintf(err, errlen, "the guest is replicated to %s already",
				 c->repl_dest);
			r = -EALREADY;
		} else { /* the last one failed: start again */
			vm_replicate_stop(c->repl, false);
			c->repl = NULL;
			r = 0;
		}
	} else {
		r = 0;
	}
	if (!r) {
		r = vm_replicate_start(c->vm, dest, fd, interval_ms, &rp, err, errlen);
		fd = -1;
		c->repl = rp;
		snprintf(c->repl_dest, sizeof(c->repl_dest), "%s", dest);
		c->repl_ran = c->repl_ran || !r;
	}
	pthread_mutex_unlock(&c->lock);
	if (fd >= 0)
		close(fd);
	if (!r)
		fprintf(stderr, "lodge: replicating to %s every %u ms\n", dest, interval_ms);
	return r;
}

static int ctl_replication(void *opaque, struct vm_repl_stats *out, char *dest, size_t cap)
{
	struct run_ctl *c = opaque;
	int r = 0;

	pthread_mutex_lock(&c->lock);
	if (c->repl)
		vm_replicate_stats(c->repl, out);
	else if (c->repl_ran)
		*out = c->repl_last;
	else
		r = -ENOENT;
	snprintf(dest, cap, "%s", c->repl_dest);
	pthread_mutex_unlock(&c->lock);
	return r;
}

static int ctl_failover(void *opaque)
{
	struct run_ctl *c = opaque;
	int r = 0;

	pthread_mutex_lock(&c->lock);
	if (c->standby)
		vm_standby_failover(c->standby);
	else
		r = -ENOENT;
	pthread_mutex_unlock(&c->lock);
	return r;
}

/* The machine stopped (or reboots): replication ends with it. */
static void repl_end(struct run_ctl *c, bool done)
{
	pthread_mutex_lock(&c->lock);
	if (c->repl) {
		vm_replicate_stats(c->repl, &c->repl_last);
		c->repl_last.active = false;
		vm_replicate_stop(c->repl, done);
		c->repl = NULL;
	}
	pthread_mutex_unlock(&c->lock);
}

static const struct guestctl_ops run_ctl_ops = {
	.replicate = ctl_replicate,
	.replication = ctl_replication,
	.failover = ctl_failover,
	.snapshot = ctl_snapshot,
	.migrate = ctl_migrate,
	.migrated = ctl_migrated,
	.ram_resident = ctl_ram_resident,
	.io = ctl_io,
	.kind = "vm",
	.pause = ctl_pause,
	.resume = ctl_resume,
	.stop = ctl_stop,
	.kill = ctl_kill,
	.paused = ctl_paused,
	.instret = ctl_instret,
};

static void ctl_attach(struct run_ctl *c, struct vm *vm)
{
	pthread_mutex_lock(&c->lock);
	while (c->users) /* a snapshot still using the machine */
		pthread_cond_wait(&c->idle, &c->lock);
	c->vm = vm;
	if (vm) {
		c->started = true;
		pthread_cond_broadcast(&c->idle); /* wait_started */
	}
	if (vm && c->killed)
		vm_request_stop(vm, VM_STOP_USER, 0);
	pthread_mutex_unlock(&c->lock);
}

/* The exit record's reason for how the machine stopped. */
static const char *stop_reason_text(enum vm_stop_reason why, const struct vm *vm, bool killed)
{
	if (killed)
		return "killed";
	switch (why) {
	case VM_STOP_EXIT:
		return vm->exit_code ? "guest exit with failure" : "poweroff";
	case VM_STOP_TIMEOUT:
		return "timeout";
	case VM_STOP_REBOOT:
		return "reboot";
	case VM_STOP_PANIC:
		return "kernel panic";
	case VM_STOP_USER:
		return "stopped";
	case VM_STOP_MIGRATED:
		return "migrated";
	default:
		return "error";
	}
}

/* Puts the console on the control socket's pipes (--console-log). */
static int redirect_console(struct guestctl *g)
{
	if (guestctl_console_in(g) < 0)
		return 0;
	if (dup2(guestctl_console_in(g), STDIN_FILENO) < 0 ||
	    dup2(guestctl_console_out(g), STDOUT_FILENO) < 0) {
		log_err("cannot redirect the console: %s", strerror(errno));
		return -1;
	}
	return 0;
}

/* A machine restored lazily runs with its RAM mapped from the snapshot file
 * (vm_ram_lease_fd): this thread waits until another process opens that file for writing
 * or cuts it (the kernel holds that process back meanwhile), then moves RAM off the file,
 * under the control lock, so that no snapshot or migration runs at the same time. */
struct lease_watch {
	struct run_ctl *c;
	struct vm *vm;
	int efd, quit;
	pthread_t thread;
};

static void *lease_main(void *opaque)
{
	struct lease_watch *w = opaque;
	struct pollfd p[2] = {{.fd = w->efd, .events = POLLIN}, {.fd = w->quit, .events = POLLIN}};
	char err[256];
	uint64_t t0;
	int r = vm_ram_lease_signal_here(w->vm);

	if (r) /* the signal may then interrupt another thread's call: it retries */
		log_warn("lease watch: %s", strerror(-r));
	while (poll(p, 2, -1) < 0 || !(p[0].revents | p[1].revents))
		if (errno != EINTR)
			return NULL;
	if (p[1].revents)
		return NULL;
	t0 = vm_now_ns();
	pthread_mutex_lock(&w->c->lock);
	r = vm_ram_detach(w->vm, err, sizeof(err));
	pthread_mutex_unlock(&w->c->lock);
	if (!r)
		fprintf(stderr,
			"lodge: the snapshot file the guest's memory was mapped from is being "
			"written "
			"or cut: its %llu MiB were copied out of it first (%.0f ms)\n",
			(unsigned long long)(w->vm->mem.size >> 20),
			(double)(vm_now_ns() - t0) / 1e6);
	else if (r != -ESHUTDOWN) {
		log_err("%s: the guest is stopped", err);
		vm_request_stop(w->vm, VM_STOP_ERROR, 1);
	}
	return NULL;
}

/* Starts the watch for a lazily restored machine; w->quit is -1 when none runs. */
static void lease_watch_start(struct lease_watch *w, struct run_ctl *c, struct vm *vm)
{
	*w = (struct lease_watch){.c = c, .vm = vm, .efd = vm_ram_lease_fd(vm), .quit = -1};
	if (w->efd < 0)
		return;
	w->quit = eventfd(0, EFD_CLOEXEC);
	if (w->quit >= 0 && pthread_create(&w->thread, NULL, lease_main, w)) {
		close(w->quit);
		w->quit = -1;
	}
	if (w->quit < 0) /* no watch: RAM must not stay on a file that may change */
		log_warn("cannot watch the snapshot file the guest's memory is mapped from: "
			 "do not write or cut it while the guest runs");
}

static void lease_watch_stop(struct lease_watch *w)
{
	uint64_t one = 1;

	if (w->quit < 0)
		return;
	if (write(w->quit, &one, sizeof(one)) < 0)
		log_warn("lease watch: %s", strerror(errno));
	pthread_join(w->thread, NULL);
	close(w->quit);
	w->quit = -1;
}

static int run_machines(struct run_opts *o, struct run_ctl *ctl, struct console *con,
			struct vm **vmp, enum vm_stop_reason *why)
{
	struct lease_watch lease;
	uint64_t t0;
	int status;

	for (;;) {
		status = setup(o, ctl, console_chardev(con), vmp);
		if (status || !*vmp) /* no machine: a standby whose primary stopped */
			return status;
		console_attach(con, *vmp);
#ifdef LODGE_TEST_HOOKS
		/* LODGE_TEST_HOOK=slow-start: the machine is handed to the control socket 2 s
		 * late (a loaded host), which answers meanwhile */
		if (getenv("LODGE_TEST_HOOK") && !strcmp(getenv("LODGE_TEST_HOOK"), "slow-start"))
			usleep(2000 * 1000);
#endif
		ctl_attach(ctl, *vmp);
		lease_watch_start(&lease, ctl, *vmp);
		guestctl_ready(o->gctl); /* the first machine only: later ones are reboots */
		t0 = vm_now_ns();
		*why = vm_run(*vmp);
		lease_watch_stop(&lease);
		/* A reboot is the end too: the standby cannot follow it (the new machine is
		 * replicated again with PUT /replicate). */
		repl_end(ctl, true);
		ctl_attach(ctl, NULL);
		console_attach(con, NULL);
		if (o->stats)
			print_stats(*vmp, t0);
		/* A restored machine has no images to boot again: its reboot ends it. */
		if (*why != VM_STOP_REBOOT || o->no_reboot || o->restore || o->incoming ||
		    o->standby || ctl->killed || console_stop_requested(con))
			return 0;
		vm_destroy(*vmp); /* reboot: a fresh machine with the same images and console */
		*vmp = NULL;
	}
}

/* User networking loads libslirp on demand (net/slirp.c), so a run without it maps neither
 * libslirp nor glib. With --net user it is loaded here, before the sandbox hides the host's
 * libraries and seccomp forbids mapping code, and a missing library is an error at once.
 * A sandboxed guest whose machine comes from a file (--restore, --incoming, --standby) may
 * have user networking too: it is loaded if it can be, and the machine fails later if it
 * needed it. */
static int preload_net(const struct run_opts *o)
{
	bool user = false;
	char err[256];

	for (unsigned i = 0; i < o->ndevs; i++) {
		const char *a = o->devs[i].args;
		if (!strcmp(o->devs[i].option, "net") && a && !strncmp(a, "user", 4) &&
		    (a[4] == 0 || a[4] == ','))
			user = true;
	}
	if (user) {
		if (net_user_preload(err, sizeof(err)) < 0) {
			log_err("%s", err);
			return -1;
		}
	} else if ((o->sandbox || o->seccomp) && (o->restore || o->incoming || o->standby)) {
		if (net_user_preload(err, sizeof(err)) < 0)
			log_debug("%s", err);
	}
	return 0;
}

int cmd_run(int argc, char **argv)
{
	struct run_opts o = {.mem = 0,
			     .cpus = 1,
			     .jit_hot = JIT_HOT_DEFAULT,
			     .hugepages = true,
			     .ctl.statm_fd = -1};
	struct run_ctl ctl = {.lock = PTHREAD_MUTEX_INITIALIZER, .idle = PTHREAD_COND_INITIALIZER};
	struct guestctl *g = NULL;
	struct vm *vm = NULL;
	struct console *con = NULL;
	enum vm_stop_reason why = VM_STOP_ERROR;
	char cmdline[64], firmware[PATH_MAX];
	int r, status;

	r = parse_opts(argc, argv, &o);
	if (r)
		return r > 0 ? 0 : CLI_EXIT_USAGE;
	if (!o.mem_set)
		o.mem = o.bare ? DEFAULT_MEM : DEFAULT_LINUX_MEM;
	if (!o.restore && check_mem(o.mem))
		return CLI_EXIT_USAGE;
	if (o.lx.kernel) {
		if (!o.lx.firmware) {
			if (cli_find_firmware(firmware, sizeof(firmware))) {
				log_err("run: no firmware: give --firmware FILE (OpenSBI's "
					"fw_dynamic.bin: `make guest` builds " FW_CACHE
					", Debian's opensbi package "
					"installs " SANDBOX_FIRMWARE_DEBIAN ")");
				return CLI_EXIT_USAGE;
			}
			o.lx.firmware = firmware;
		}
		if (!o.lx.cmdline)
			o.lx.cmdline = default_cmdline(&o, cmdline, sizeof(cmdline));
	}
	if (preload_net(&o) < 0)
		return CLI_EXIT_ERROR;
	if (o.sandbox && sandbox_enter(o.sandbox, &o.ctl.statm_fd, &o.filter) < 0)
		return CLI_EXIT_ERROR;
	if (o.ctl.api_path || o.ctl.console_log || o.ctl.exit_file) {
		if (guestctl_open(&o.ctl, &run_ctl_ops, &ctl, &g) < 0)
			return CLI_EXIT_ERROR;
		o.gctl = g;
		if (redirect_console(g)) {
			guestctl_close(g);
			return CLI_EXIT_ERROR;
		}
	}
	r = console_open(STDIN_FILENO, STDOUT_FILENO, &con);
	if (r < 0) {
		log_err("console: cannot set up stdin/stdout for the guest: %s", strerror(-r));
		if (g) {
			guestctl_exit(g, CLI_EXIT_ERROR, "console set-up failed");
			guestctl_close(g);
		}
		return CLI_EXIT_ERROR;
	}
	if (o.seccomp) {
		ctl.seccomp = true;
		if (sandbox_seccomp(SANDBOX_VM, &o.filter) < 0) {
			if (g) {
				guestctl_exit(g, CLI_EXIT_ERROR, "seccomp set-up failed");
				guestctl_close(g);
			}
			console_close(con);
			return CLI_EXIT_ERROR;
		}
		sandbox_test_hook();
	}
	o.console = con;
	status = run_machines(&o, &ctl, con, &vm, &why);
	if (!status && ctl.killed)
		status = CLI_EXIT_KILLED;
	else if (!status && vm)
		status = stop_status(&o, vm, why);
	/* Stopped from the console: a signal or a closed output asks for its own status. */
	if (!ctl.killed && vm && why == VM_STOP_USER && console_exit_status(con) >= 0)
		status = console_exit_status(con);
	if (g) {
		guestctl_exit(g, status,
			      vm       ? stop_reason_text(why, vm, ctl.killed)
			      : status ? "set-up failed"
				       : "the primary stopped");
		guestctl_close(g);
	}
	vm_destroy(vm);
	console_close(con);
	return status;
}
