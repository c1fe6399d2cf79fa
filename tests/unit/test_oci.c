/*
 * Unit tests of the OCI runtime's parsers and builders (src/host/oci*.c): paths resolved
 * inside a rootfs (symlinks that try to leave it), the cpio writer (parsed back here),
 * config.json parsing and checks, signal names, cgroup paths (systemd slices), container
 * ids, and the scanner of frames from the guest (hostile headers).
 */
#include "host/oci_internal.h"
#include "host/oci_proto.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "harness.h"

static struct oci_ctx ctx;
static char dir[64];

static int setup(void)
{
	if (!ctx.log) {
		ctx.log = fopen("/dev/null", "w");
		ctx.root = "/nonexistent";
	}
	if (!dir[0]) {
		strcpy(dir, "/tmp/lodge-test-oci.XXXXXX");
		if (!mkdtemp(dir))
			return -1;
	}
	return 0;
}

static int put(const char *rel, const char *text)
{
	char p[256];
	FILE *f;

	snprintf(p, sizeof(p), "%s/%s", dir, rel);
	f = fopen(p, "w");
	if (!f)
		return -1;
	fputs(text, f);
	return fclose(f);
}

static int sub(const char *rel, char *out, size_t len)
{
	return snprintf(out, len, "%s/%s", dir, rel) < (int)len ? 0 : -1;
}

/* ----- paths inside the rootfs ----- */

static int test_path_in_root(void)
{
	char root[128], p[128], out[PATH_MAX], want[PATH_MAX];

	CHECK(setup() == 0);
	sub("root", root, sizeof(root));
	mkdir(root, 0755);
	sub("root/etc", p, sizeof(p));
	mkdir(p, 0755);
	sub("root/abs", p, sizeof(p));
	CHECK(symlink("/etc", p) == 0 || errno == EEXIST);
	sub("root/up", p, sizeof(p));
	CHECK(symlink("../../../../..", p) == 0 || errno == EEXIST);
	sub("root/loop", p, sizeof(p));
	CHECK(symlink("loop", p) == 0 || errno == EEXIST);
	snprintf(want, sizeof(want), "%s/etc/x", root);

	/* An absolute symlink is taken from the rootfs, not the host. */
	CHECK(oci_path_in_root(root, "/abs/x", out, sizeof(out)) == 0);
	CHECK(!strcmp(out, want));
	/* .. never climbs above the rootfs, written or through a symlink. */
	CHECK(oci_path_in_root(root, "/../../etc/x", out, sizeof(out)) == 0);
	CHECK(!strcmp(out, want));
	CHECK(oci_path_in_root(root, "/up/etc/x", out, sizeof(out)) == 0);
	CHECK(!strcmp(out, want));
	CHECK(oci_path_in_root(root, "/nothere/../etc/./x", out, sizeof(out)) == 0);
	CHECK(!strcmp(out, want));
	CHECK(oci_path_in_root(root, "/loop/x", out, sizeof(out)) == -ELOOP);
	CHECK(oci_path_in_root(root, "/", out, sizeof(out)) == 0);
	CHECK(!strcmp(out, root));
	return 0;
}

/* ----- cpio ----- */

static unsigned long hexfield(const char *h, int i)
{
	char f[9];

	memcpy(f, h + 6 + 8 * i, 8);
	f[8] = 0;
	return strtoul(f, NULL, 16);
}

static int test_cpio_tree(void)
{
	char src[128], p[128], arch[128], *buf;
	struct oci_cpio a;
	struct stat sb;
	size_t off = 0, n;
	int fd, found = 0;
	FILE *f;

	CHECK(setup() == 0);
	sub("tree", src, sizeof(src));
	mkdir(src, 0755);
	sub("tree/sub", p, sizeof(p));
	mkdir(p, 0700);
	CHECK(put("tree/sub/hello", "hello, cpio\n") == 0);
	CHECK(put("tree/empty", "") == 0);
	sub("tree/link", p, sizeof(p));
	CHECK(symlink("/sub/hello", p) == 0 || errno == EEXIST);
	sub("tree.cpio", arch, sizeof(arch));
	fd = open(arch, O_RDWR | O_CREAT | O_TRUNC, 0600);
	CHECK(fd >= 0);
	oci_cpio_init(&a, fd);
	CHECK(oci_cpio_add_path(&a, src, "rootfs") == 0);
	CHECK(oci_cpio_finish(&a) == 0);
	close(fd);
	CHECK(stat(arch, &sb) == 0);
	CHECK_EQ(sb.st_size % 512, 0);
	buf = malloc((size_t)sb.st_size);
	CHECK(buf);
	f = fopen(arch, "rb");
	n = fread(buf, 1, (size_t)sb.st_size, f);
	fclose(f);
	CHECK_EQ(n, (size_t)sb.st_size);
	/* Walk the entries as the kernel does: header, name, pad to 4, data, pad to 4. */
	while (off + 110 <= n && !memcmp(buf + off, "070701", 6)) {
		unsigned long mode = hexfield(buf + off, 1), size = hexfield(buf + off, 6);
		unsigned long nl = hexfield(buf + off, 11);
		const char *name = buf + off + 110, *data;
		CHECK(off + 110 + nl <= n && name[nl - 1] == 0);
		data = buf + ((off + 110 + nl + 3) & ~3ul);
		if (!strcmp(name, "TRAILER!!!"))
			break;
		if (!strcmp(name, "rootfs/sub/hello")) {
			CHECK((mode & S_IFMT) == S_IFREG && size == 12 &&
			      !memcmp(data, "hello, cpio\n", 12));
			found |= 1;
		} else if (!strcmp(name, "rootfs/link")) {
			CHECK((mode & S_IFMT) == S_IFLNK && size == 10 &&
			      !memcmp(data, "/sub/hello", 10));
			found |= 2;
		} else if (!strcmp(name, "rootfs/sub")) {
			CHECK((mode & S_IFMT) == S_IFDIR && (mode & 0777) == 0700);
			found |= 4;
		} else if (!strcmp(name, "rootfs/empty")) {
			CHECK((mode & S_IFMT) == S_IFREG && size == 0);
			found |= 8;
		}
		off = ((size_t)(data - buf) + size + 3) & ~3ul;
	}
	free(buf);
	CHECK_EQ(found, 15);
	return 0;
}

/* ----- config.json ----- */

static int load(const char *json, struct oci_spec *s)
{
	char b[128], p[160];

	sub("bundle", b, sizeof(b));
	mkdir(b, 0755);
	snprintf(p, sizeof(p), "%s/rootfs", b);
	mkdir(p, 0755);
	if (put("bundle/config.json", json))
		return -EIO;
	return oci_spec_load(&ctx, b, s);
}

#define PROC "\"process\": {\"args\": [\"sh\"], \"cwd\": \"/\""

static int test_spec_fields(void)
{
	struct oci_spec s;
	int r;

	CHECK(setup() == 0);
	r = load(
		"{\"ociVersion\": \"1.0.2\", \"root\": {\"path\": \"rootfs\", \"readonly\": "
		"true}, " PROC
		", \"terminal\": true, \"user\": {\"uid\": 7, \"gid\": 8, \"additionalGids\": [9]},"
		" \"rlimits\": [{\"type\": \"RLIMIT_NOFILE\", \"soft\": 1024, \"hard\": "
		"18446744073709551615}]},"
		" \"mounts\": [{\"destination\": \"/data\", \"source\": \"/srv\", \"options\": "
		"[\"rbind\", \"ro\"]}],"
		" \"annotations\": {\"module.wasm.image/variant\": \"compat\"},"
		" \"linux\": {\"resources\": {\"memory\": {\"limit\": 268435456}, \"pids\": "
		"{\"limit\": 0},"
		" \"cpu\": {\"quota\": 150000, \"period\": 100000}}, \"cgroupsPath\": \"/a/b\"}}",
		&s);
	CHECK(r == 0);
	CHECK(s.root_ro && s.proc.terminal && s.proc.uid == 7 && s.proc.gid == 8);
	CHECK(s.proc.ngids == 1 && s.proc.gids[0] == 9);
	CHECK(s.proc.nrlimits == 1 && s.proc.rlimits[0].resource == RLIMIT_NOFILE);
	CHECK(s.proc.rlimits[0].soft == 1024 && s.proc.rlimits[0].hard == RLIM_INFINITY);
	CHECK(s.nmounts == 1 && !strcmp(s.mounts[0].type, "bind") && s.mounts[0].ro);
	CHECK(!strcmp(s.mounts[0].options, "rbind,ro"));
	CHECK(!strcmp(oci_spec_annotation(&s, "module.wasm.image/variant"), "compat"));
	CHECK(s.res.mem_limit == 268435456 && s.res.pids_limit == -1 && s.res.cpu_quota == 150000);
	CHECK(!strcmp(s.cgroups_path, "/a/b"));
	oci_spec_fini(&s);
	return 0;
}

static int test_spec_rejects(void)
{
	struct oci_spec s;
	int r;

	CHECK(setup() == 0);
	r = load("{\"ociVersion\": \"1.0.2\", \"root\": {\"path\": \"rootfs\"}, \"process\": "
		 "{\"args\": [\"sh\"], \"cwd\": \"rel\"}}",
		 &s);
	CHECK(r == -EINVAL);
	r = load("{\"ociVersion\": \"1.0.2\", \"root\": {\"path\": \"rootfs\"}, \"process\": "
		 "{\"args\": [], \"cwd\": \"/\"}}",
		 &s);
	CHECK(r == -EINVAL);
	r = load("{\"ociVersion\": \"1.0.2\", \"root\": {\"path\": \"rootfs\"}, " PROC
		 ", \"rlimits\": [{\"type\": \"RLIMIT_BOGUS\", \"soft\": 1, \"hard\": 1}]}}",
		 &s);
	CHECK(r == -EINVAL);
	r = load("{\"ociVersion\": \"1.0.2\", \"root\": {\"path\": \"rootfs\"}, " PROC
		 "}, \"mounts\": [{\"destination\": \"rel\", \"type\": \"tmpfs\"}]}",
		 &s);
	CHECK(r == -EINVAL);
	r = load("{\"ociVersion\": \"0.9\", \"root\": {\"path\": \"rootfs\"}, " PROC "}}", &s);
	CHECK(r == -EINVAL);
	r = load("{\"ociVersion\": \"1.0.2\", \"root\": {\"path\": \"gone\"}, " PROC "}}", &s);
	CHECK(r == -ENOENT);
	r = load("[1, 2]", &s);
	CHECK(r == -EINVAL);
	r = load("{\"ociVersion\": \"1.0.2\", \"root\": {\"path\": \"rootfs\"}, " PROC
		 "}, \"linux\": {\"resources\": {\"memory\": {\"limit\": 1.5}}}}",
		 &s);
	CHECK(r == -EINVAL);
	return 0;
}

/* ----- small parsers ----- */

static int test_signals(void)
{
	CHECK(oci_parse_signal("KILL") == SIGKILL);
	CHECK(oci_parse_signal("SIGTERM") == SIGTERM);
	CHECK(oci_parse_signal("sigusr1") == SIGUSR1);
	CHECK(oci_parse_signal("9") == 9);
	CHECK(oci_parse_signal("RTMIN+2") == SIGRTMIN + 2);
	CHECK(oci_parse_signal("0") == -EINVAL);
	CHECK(oci_parse_signal("65") == -EINVAL);
	CHECK(oci_parse_signal("BOGUS") == -EINVAL);
	CHECK(oci_parse_signal("") == -EINVAL);
	return 0;
}

static int test_ids(void)
{
	CHECK(oci_id_valid("abc-1.2_x+y"));
	CHECK(!oci_id_valid(""));
	CHECK(!oci_id_valid(".."));
	CHECK(!oci_id_valid("a/b"));
	CHECK(!oci_id_valid("a b"));
	return 0;
}

static int test_cgroup_paths(void)
{
	struct oci_spec s;
	struct oci_ctx c;
	char out[256];

	CHECK(setup() == 0);
	memset(&s, 0, sizeof(s));
	c = ctx;
	CHECK(oci_cgroup_path(&c, &s, "id1", out, sizeof(out)) == 0 && !strcmp(out, "/id1"));
	s.cgroups_path = "rel/x";
	CHECK(oci_cgroup_path(&c, &s, "id1", out, sizeof(out)) == 0 && !strcmp(out, "/rel/x"));
	s.cgroups_path = "/a/../../etc";
	CHECK(oci_cgroup_path(&c, &s, "id1", out, sizeof(out)) == -EINVAL);
	c.systemd_cgroup = true;
	s.cgroups_path = "system.slice:cri:abc";
	CHECK(oci_cgroup_path(&c, &s, "id1", out, sizeof(out)) == 0);
	CHECK(!strcmp(out, "/system.slice/cri-abc.scope"));
	s.cgroups_path = "a-b.slice:p:n";
	CHECK(oci_cgroup_path(&c, &s, "id1", out, sizeof(out)) == 0);
	CHECK(!strcmp(out, "/a.slice/a-b.slice/p-n.scope"));
	s.cgroups_path = "no-colons";
	CHECK(oci_cgroup_path(&c, &s, "id1", out, sizeof(out)) == -EINVAL);
	s.cgroups_path = "x/y.slice:p:n";
	CHECK(oci_cgroup_path(&c, &s, "id1", out, sizeof(out)) == -EINVAL);
	return 0;
}

/* ----- frames from the guest ----- */

static void hdr(uint8_t *b, uint8_t type, uint32_t len)
{
	memset(b, 0, 8);
	b[0] = type;
	b[4] = (uint8_t)len;
	b[5] = (uint8_t)(len >> 8);
	b[6] = (uint8_t)(len >> 16);
	b[7] = (uint8_t)(len >> 24);
}

static int test_frames(void)
{
	uint8_t b[16];
	uint8_t type;
	uint32_t len;

	hdr(b, OCI_F_STDOUT, 3);
	memcpy(b + 8, "abc", 3);
	CHECK(oci_frame_next(b, 11, &type, &len) == 1 && type == OCI_F_STDOUT && len == 3);
	CHECK(oci_frame_next(b, 10, &type, &len) == 0); /* payload not all there */
	CHECK(oci_frame_next(b, 7, &type, &len) == 0);	/* header not all there */
	hdr(b, OCI_F_EXIT, OCI_FRAME_MAX + 1);
	CHECK(oci_frame_next(b, 16, &type, &len) == -EPROTO);
	hdr(b, OCI_F_EXIT, 0xffffffffu); /* no wrap-around in the length check */
	CHECK(oci_frame_next(b, 16, &type, &len) == -EPROTO);
	hdr(b, 0, 0);
	CHECK(oci_frame_next(b, 8, &type, &len) == -EPROTO);
	hdr(b, OCI_F_COUNT, 0);
	CHECK(oci_frame_next(b, 8, &type, &len) == -EPROTO);
	hdr(b, OCI_F_STARTED, 0);
	CHECK(oci_frame_next(b, 8, &type, &len) == 1 && len == 0);
	return 0;
}

/* ----- volume write-back from the guest ----- */

static int wb_send(struct oci_wb *wb, char kind, const char *path, const char *target,
		   uint64_t size, uint32_t mode)
{
	uint8_t f[OCI_WB_ENTRY_SIZE + 256];
	size_t pl = strlen(path), tl = target ? strlen(target) : 0;

	memset(f, 0, sizeof(f));
	f[0] = (uint8_t)kind;
	memcpy(f + 4, &mode, 4);
	memcpy(f + 24, kind == 'l' ? &(uint64_t){tl} : &size, 8);
	f[36] = (uint8_t)pl;
	memcpy(f + OCI_WB_ENTRY_SIZE, path, pl);
	if (tl)
		memcpy(f + OCI_WB_ENTRY_SIZE + pl, target, tl);
	return oci_wb_frame(wb, OCI_F_WB_ENTRY, f, (uint32_t)(OCI_WB_ENTRY_SIZE + pl + tl));
}

static int wb_setup(const char *name, struct oci_spec *s, struct oci_mount *m, struct oci_wb **wb,
		    char *vol, size_t len)
{
	memset(s, 0, sizeof(*s));
	memset(m, 0, sizeof(*m));
	sub(name, vol, len);
	mkdir(vol, 0755);
	m->dest = "/v";
	m->type = "bind";
	m->source = vol;
	s->mounts = m;
	s->nmounts = 1;
	return oci_wb_create(&ctx, s, wb);
}

static int test_wb_apply(void)
{
	struct oci_spec s;
	struct oci_mount m;
	struct oci_wb *wb;
	char vol[128], p[256], buf[32] = "";
	uint32_t zero = 0;
	struct stat sb;
	FILE *f;

	CHECK(setup() == 0);
	sub("wb1", vol, sizeof(vol));
	mkdir(vol, 0755);
	CHECK(put("wb1/keep", "k") == 0 && put("wb1/del", "d") == 0 && put("wb1/mod", "1") == 0);
	CHECK(put("wb1/hostmod", "h") == 0);
	CHECK(wb_setup("wb1", &s, &m, &wb, vol, sizeof(vol)) == 0 && oci_wb_has(wb, 0));
	CHECK(put("wb1/hostmod", "host changed it") == 0); /* after the copy */
	CHECK(oci_wb_frame(wb, OCI_F_WB_BEGIN, (const uint8_t *)&zero, 4) == 0);
	CHECK(wb_send(wb, 's', "keep", NULL, 0, 0) == 0);
	CHECK(wb_send(wb, 'f', "mod", NULL, 3, 0640) == 0);
	CHECK(oci_wb_frame(wb, OCI_F_WB_DATA, (const uint8_t *)"new", 3) == 0);
	CHECK(wb_send(wb, 'f', "hostmod", NULL, 5, 0644) == 0);
	CHECK(oci_wb_frame(wb, OCI_F_WB_DATA, (const uint8_t *)"guest", 5) == 0);
	CHECK(wb_send(wb, 'd', "dir", NULL, 0, 0750) == 0);
	CHECK(wb_send(wb, 'f', "dir/empty", NULL, 0, 0600) == 0);
	CHECK(wb_send(wb, 'l', "link", "keep", 0, 0777) == 0);
	CHECK(oci_wb_frame(wb, OCI_F_WB_END, NULL, 0) == 0);
	oci_wb_destroy(wb);
	snprintf(p, sizeof(p), "%s/mod", vol);
	f = fopen(p, "r");
	CHECK(f && fgets(buf, sizeof(buf), f));
	fclose(f);
	CHECK(!strcmp(buf, "new"));
	CHECK(stat(p, &sb) == 0 && (sb.st_mode & 07777) == 0640);
	snprintf(p, sizeof(p), "%s/del", vol);
	CHECK(access(p, F_OK) != 0); /* not listed: deleted in the guest */
	snprintf(p, sizeof(p), "%s/keep", vol);
	CHECK(access(p, F_OK) == 0);
	snprintf(p, sizeof(p), "%s/hostmod", vol); /* changed on both sides: the host's stays */
	f = fopen(p, "r");
	CHECK(f && fgets(buf, sizeof(buf), f));
	fclose(f);
	CHECK(!strcmp(buf, "host changed it"));
	snprintf(p, sizeof(p), "%s/dir/empty", vol);
	CHECK(stat(p, &sb) == 0 && sb.st_size == 0);
	snprintf(p, sizeof(p), "%s/link", vol);
	CHECK(readlink(p, buf, sizeof(buf)) == 4 && !memcmp(buf, "keep", 4));
	return 0;
}

/* A hostile guest: paths that climb, absolute paths, symlinks to outside the volume,
 * data without an entry or longer than announced. */
static int test_wb_hostile(void)
{
	struct oci_spec s;
	struct oci_mount m;
	struct oci_wb *wb;
	char vol[128], out[128], p[256], buf[256];
	uint32_t zero = 0, one = 1;

	CHECK(setup() == 0);
	sub("outside", out, sizeof(out));
	mkdir(out, 0755);
	CHECK(wb_setup("wb2", &s, &m, &wb, vol, sizeof(vol)) == 0);
	snprintf(p, sizeof(p), "%s/esc", vol);
	CHECK(symlink(out, p) == 0 || errno == EEXIST);
	CHECK(oci_wb_frame(wb, OCI_F_WB_DATA, (const uint8_t *)"x", 1) == -EPROTO);
	CHECK(oci_wb_frame(wb, OCI_F_WB_BEGIN, (const uint8_t *)&one, 4) == -EPROTO);
	CHECK(oci_wb_frame(wb, OCI_F_WB_BEGIN, (const uint8_t *)&zero, 4) == 0);
	CHECK(wb_send(wb, 'f', "../x", NULL, 0, 0644) == -EPROTO);
	CHECK(wb_send(wb, 'f', "/etc/x", NULL, 0, 0644) == -EPROTO);
	CHECK(wb_send(wb, 'f', "a//b", NULL, 0, 0644) == -EPROTO);
	CHECK(wb_send(wb, 'f', "a/./b", NULL, 0, 0644) == -EPROTO);
	CHECK(wb_send(wb, 'q', "a", NULL, 0, 0644) == -EPROTO);
	/* Through the symlink: refused (kept as a conflict), nothing written outside. */
	CHECK(wb_send(wb, 'f', "esc/pwned", NULL, 2, 0644) == 0);
	CHECK(oci_wb_frame(wb, OCI_F_WB_DATA, (const uint8_t *)"xx", 2) == 0);
	snprintf(p, sizeof(p), "%s/pwned", out);
	CHECK(access(p, F_OK) != 0);
	CHECK(wb_send(wb, 'f', "f", NULL, 2, 0644) == 0);
	CHECK(oci_wb_frame(wb, OCI_F_WB_DATA, (const uint8_t *)"xyz", 3) == -EPROTO);
	oci_wb_destroy(wb);
	snprintf(p, sizeof(p), "%s/esc", vol); /* the host's symlink stays as it was */
	CHECK(readlink(p, buf, sizeof(buf)) > 0);
	return 0;
}

static const struct unit_test tests[] = {
	{"wb_apply", test_wb_apply},	     {"wb_hostile", test_wb_hostile},
	{"path_in_root", test_path_in_root}, {"cpio_tree", test_cpio_tree},
	{"spec_fields", test_spec_fields},   {"spec_rejects", test_spec_rejects},
	{"signals", test_signals},	     {"ids", test_ids},
	{"cgroup_paths", test_cgroup_paths}, {"frames", test_frames},
};

int main(void)
{
	int r = unit_run("oci", tests, sizeof(tests) / sizeof(tests[0]));
	char cmd[128];

	if (dir[0]) {
		snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
		if (system(cmd))
			r = 1;
	}
	return r;
}
