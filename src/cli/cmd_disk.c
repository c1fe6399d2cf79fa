/*
 * lodge disk: disk image tools on top of src/disk (disk.h).
 *   lodge disk create FILE [SIZE] [--format raw|qcow2] [--backing BASE
 *                     [--backing-format raw|qcow2]] [--cluster-size SIZE] [--force]
 *   lodge disk info FILE [--format auto|raw|qcow2]
 * Exit statuses: 0, CLI_EXIT_ERROR (125) when an image cannot be created or opened (one
 * line on stderr saying which file and why), CLI_EXIT_USAGE for a bad command line.
 */
#include "cli/cli.h"

#include "disk/disk.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

struct disk_args {
	const char *pos[2]; /* FILE [SIZE] */
	int npos;
	const char *format, *backing, *backing_format, *cluster_size;
	bool force;
};

static void usage(FILE *f)
{
	fprintf(f,
		"usage: lodge disk create FILE [SIZE] [--format raw|qcow2]\n"
		"                         [--backing BASE [--backing-format raw|qcow2]]\n"
		"                         [--cluster-size SIZE] [--force]\n"
		"       lodge disk info FILE [--format auto|raw|qcow2]\n"
		"\n"
		"create  makes a new image: qcow2 (the default; version 3, 64 KiB clusters) or\n"
		"        raw (a sparse file). SIZE is bytes or 512M, 10G and so on; with\n"
		"        --backing BASE it may be left out to take BASE's size. BASE is stored as\n"
		"        given and, when relative, found next to FILE; it must exist.\n"
		"        --cluster-size (qcow2) is a power of two from 512 to 2M. --force\n"
		"        overwrites an existing FILE.\n"
		"info    shows an image's format, virtual size, the space it takes on the host\n"
		"        and its backing chain. It opens the image read-only.\n"
		"\n"
		"exit status: 0; 125 if an image cannot be created or opened; 2 for a bad\n"
		"command line.\n");
}

static int bad_usage(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static int bad_usage(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "lodge disk: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, " (try 'lodge disk --help')\n");
	return CLI_EXIT_USAGE;
}

/* Options may come before or after FILE and SIZE. Returns 0, -1 after --help, or an exit
 * status. */
static int parse(int argc, char **argv, struct disk_args *a)
{
	memset(a, 0, sizeof(*a));
	for (int i = 1; i < argc; i++) {
		const char *opt = argv[i];
		const char **val = NULL;

		if (!strcmp(opt, "-h") || !strcmp(opt, "--help")) {
			usage(stdout);
			return -1;
		}
		if (!strcmp(opt, "--force")) {
			a->force = true;
			continue;
		}
		if (!strcmp(opt, "--format"))
			val = &a->format;
		else if (!strcmp(opt, "--backing"))
			val = &a->backing;
		else if (!strcmp(opt, "--backing-format"))
			val = &a->backing_format;
		else if (!strcmp(opt, "--cluster-size"))
			val = &a->cluster_size;
		if (val) {
			if (i + 1 >= argc)
				return bad_usage("option '%s' needs a value", opt);
			*val = argv[++i];
			continue;
		}
		if (opt[0] == '-' && opt[1])
			return bad_usage("unknown option '%s'", opt);
		if (a->npos == 2)
			return bad_usage("unexpected argument '%s'", opt);
		a->pos[a->npos++] = opt;
	}
	return 0;
}

static int parse_format(const char *s, const char *opt, bool allow_auto, enum disk_format *out)
{
	if (!s) {
		*out = DISK_FMT_AUTO;
		return 0;
	}
	if (disk_format_parse(s, out) || (*out == DISK_FMT_AUTO && !allow_auto))
		return bad_usage("bad %s '%s' (raw or qcow2%s)", opt, s,
				 allow_auto ? " or auto" : "");
	return 0;
}

static int do_create(const struct disk_args *a)
{
	struct disk_create_options o = {.overwrite = a->force, .backing = a->backing};
	char err[DISK_ERR_LEN];
	int r;

	if (a->npos < 1)
		return bad_usage("create needs FILE and SIZE");
	if (a->npos < 2 && !a->backing)
		return bad_usage("create needs a SIZE unless --backing is given");
	if (a->npos == 2 && cli_parse_size(a->pos[1], &o.size))
		return bad_usage("bad size '%s' (bytes, or with K, M, G, T)", a->pos[1]);
	if (a->backing_format && !a->backing)
		return bad_usage("--backing-format needs --backing");
	if (a->cluster_size) {
		uint64_t cs;
		if (cli_parse_size(a->cluster_size, &cs) || cs < 512 || cs > (2u << 20) ||
		    (cs & (cs - 1)))
			return bad_usage("bad --cluster-size '%s' (a power of two, 512 to 2M)",
					 a->cluster_size);
		o.cluster_bits = (unsigned)__builtin_ctzll(cs);
	}
	r = parse_format(a->format, "--format", false, &o.format);
	if (!r)
		r = parse_format(a->backing_format, "--backing-format", false, &o.backing_format);
	if (r)
		return r;
	if (o.format == DISK_FMT_RAW && a->backing)
		return bad_usage("raw images cannot have a backing file");
	r = disk_create(a->pos[0], &o, err, sizeof(err));
	if (r) {
		fprintf(stderr, "lodge disk: %s\n", err);
		return CLI_EXIT_ERROR;
	}
	return 0;
}

static void print_size(const char *label, uint64_t v)
{
	static const char *const units[] = {"bytes", "KiB", "MiB", "GiB", "TiB", "PiB"};
	unsigned u = 0;
	double x = (double)v;

	while (x >= 1024 && u + 1 < sizeof(units) / sizeof(units[0])) {
		x /= 1024;
		u++;
	}
	if (u)
		printf("%s: %" PRIu64 " bytes (%.3g %s)\n", label, v, x, units[u]);
	else
		printf("%s: %" PRIu64 " bytes\n", label, v);
}

static int do_info(const struct disk_args *a)
{
	struct disk_options o = {.readonly = true};
	struct disk_image_info in;
	char err[DISK_ERR_LEN];
	struct disk *d;
	int r;

	if (a->npos != 1)
		return bad_usage("info needs exactly one FILE");
	if (a->backing || a->backing_format || a->cluster_size || a->force)
		return bad_usage("info takes only --format");
	r = parse_format(a->format, "--format", true, &o.format);
	if (r)
		return r;
	r = disk_open(a->pos[0], &o, &d, err, sizeof(err));
	if (r) {
		fprintf(stderr, "lodge disk: %s\n", err);
		return CLI_EXIT_ERROR;
	}
	for (unsigned depth = 0; disk_image_info(d, depth, &in) == 0; depth++) {
		if (depth)
			printf("backing file: %s\n", in.path);
		else
			printf("image: %s\n", in.path);
		printf("format: %s\n", disk_format_str(in.format));
		if (in.format == DISK_FMT_QCOW2)
			printf("qcow2: version %u, cluster size %u\n", in.qcow2_version,
			       in.cluster_size);
		print_size("virtual size", in.virtual_size);
		print_size("allocated", in.allocated);
		if (in.backing_name)
			printf("backing name: %s\n", in.backing_name);
	}
	disk_close(d);
	return 0;
}

int cmd_disk(int argc, char **argv)
{
	struct disk_args a;
	const char *sub = argc > 1 ? argv[1] : NULL;
	int r;

	if (!sub)
		return bad_usage("%s", "no subcommand (create or info)");
	if (!strcmp(sub, "-h") || !strcmp(sub, "--help") || !strcmp(sub, "help")) {
		usage(stdout);
		return 0;
	}
	r = parse(argc - 1, argv + 1, &a);
	if (r)
		return r < 0 ? 0 : r;
	if (!strcmp(sub, "create"))
		return do_create(&a);
	if (!strcmp(sub, "info"))
		return do_info(&a);
	return bad_usage("unknown subcommand '%s' (create or info)", sub);
}
