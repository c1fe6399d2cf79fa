/*
 * WASI sandbox escape attempts, one case per run:  escape.wasm CASE OUTSIDE
 * The preopen (fd 3) is a directory "box" whose sibling "outside" (host path OUTSIDE) holds
 * secret ("TOPSECRET"), victim, dir/ (empty), dir2/keep and outlink -> secret; the box holds
 * inbox.txt, sub/file.txt, sub/deeper/ and host-made links hostrel -> ../outside/secret,
 * hostabs -> OUTSIDE/secret, hostdir -> ../outside, hostdang -> ../outside/created-host.
 * Each case plants its own symlinks with path_symlink (relative ones: one with an absolute
 * target is refused, hostabs stands in for those), tries to reach the outside through
 * them with the raw WASI calls, and checks the errno; legitimate uses inside the box (".."
 * that stays below, dangling links to inside) must keep working. tests/wasi/suite.sh checks
 * the host side: nothing outside the box changed and no secret reached the output.
 * Prints "ok CASE" and exits 0 when every expectation held.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <wasi/api.h>

#define BOX	 3
#define FOLLOW	 __WASI_LOOKUPFLAGS_SYMLINK_FOLLOW
#define NOTCAP	 __WASI_ERRNO_NOTCAPABLE
#define OK	 __WASI_ERRNO_SUCCESS
#define R_READ	 __WASI_RIGHTS_FD_READ
#define R_WRITE	 (__WASI_RIGHTS_FD_READ | __WASI_RIGHTS_FD_WRITE)

static int failed;
static const char *outside;

static void expect(const char *what, __wasi_errno_t got, __wasi_errno_t want)
{
	if (got != want) {
		printf("FAIL %s: errno %u, want %u\n", what, got, want);
		failed = 1;
	}
}

static const char *out_path(const char *name)
{
	static char buf[2][1024];
	static int k;

	k ^= 1;
	snprintf(buf[k], sizeof(buf[k]), "%s/%s", outside, name);
	return buf[k];
}

static void sym(const char *target, const char *link)
{
	char what[600];

	snprintf(what, sizeof(what), "symlink %s -> %s", link, target);
	expect(what, __wasi_path_symlink(target, BOX, link), OK);
}

/* A link with an absolute target is refused (it names the host's root) and not made; the
 * host-made hostabs stands in for such links in the cases below. */
static void no_sym(const char *target, const char *link)
{
	__wasi_filestat_t st;
	char what[600];

	snprintf(what, sizeof(what), "symlink %s -> %s (absolute)", link, target);
	expect(what, __wasi_path_symlink(target, BOX, link), NOTCAP);
	snprintf(what, sizeof(what), "no %s made", link);
	expect(what, __wasi_path_filestat_get(BOX, 0, link, &st), __WASI_ERRNO_NOENT);
}

static __wasi_errno_t open_at(const char *path, __wasi_lookupflags_t lf, __wasi_oflags_t of,
			      __wasi_rights_t rights, __wasi_fd_t *fd)
{
	return __wasi_path_open(BOX, lf, path, of, rights, rights, 0, fd);
}

/* Opens path for reading; on success reads it into buf (NUL-terminated) and closes it. */
static __wasi_errno_t read_file(const char *path, __wasi_lookupflags_t lf, char *buf, size_t len)
{
	__wasi_fd_t fd;
	__wasi_errno_t e = open_at(path, lf, 0, R_READ, &fd);
	__wasi_iovec_t iov = {(uint8_t *)buf, len - 1};
	__wasi_size_t n = 0;

	buf[0] = 0;
	if (e)
		return e;
	e = __wasi_fd_read(fd, &iov, 1, &n);
	buf[n] = 0;
	if (strstr(buf, "TOPSECRET"))
		printf("LEAK: %s gave the outside secret\n", path);
	(void)__wasi_fd_close(fd);
	return e;
}

/* Expects reading path (following links) to fail with want. */
static void no_read(const char *path, __wasi_lookupflags_t lf, __wasi_errno_t want)
{
	char buf[256], what[600];

	snprintf(what, sizeof(what), "read %s (lookupflags %u)", path, lf);
	expect(what, read_file(path, lf, buf, sizeof(buf)), want);
}

/* Expects reading path to succeed with contents that start with want. */
static void reads(const char *path, const char *want)
{
	char buf[256], what[600];

	snprintf(what, sizeof(what), "read %s", path);
	expect(what, read_file(path, FOLLOW, buf, sizeof(buf)), OK);
	if (strncmp(buf, want, strlen(want))) {
		printf("FAIL read %s: got '%s', want '%s'\n", path, buf, want);
		failed = 1;
	}
}

static void no_open(const char *path, __wasi_lookupflags_t lf, __wasi_oflags_t of,
		    __wasi_errno_t want)
{
	__wasi_fd_t fd;
	char what[600];
	__wasi_errno_t e = open_at(path, lf, of, R_WRITE, &fd);

	if (e == OK)
		(void)__wasi_fd_close(fd);
	snprintf(what, sizeof(what), "open %s (lookupflags %u, oflags %u)", path, lf, of);
	expect(what, e, want);
}

static __wasi_filetype_t stat_type(const char *path, __wasi_lookupflags_t lf)
{
	__wasi_filestat_t st;

	if (__wasi_path_filestat_get(BOX, lf, path, &st))
		return 255;
	return st.filetype;
}

/* ----- reading outside files ----- */

static void read_links(void)
{
	sym("../outside/secret", "l");
	no_read("l", FOLLOW, NOTCAP);
	no_sym(out_path("secret"), "a");
	no_read(out_path("secret"), FOLLOW, NOTCAP);
	no_read("hostrel", FOLLOW, NOTCAP);
	no_read("hostabs", FOLLOW, NOTCAP);
	no_read("hostdir/secret", FOLLOW, NOTCAP);
	/* without SYMLINK_FOLLOW the last link is not followed at all */
	no_read("l", 0, __WASI_ERRNO_LOOP);
	no_read("hostabs", 0, __WASI_ERRNO_LOOP);
}

static void read_dotdot(void)
{
	no_read("..", FOLLOW, NOTCAP);
	no_read("../outside/secret", FOLLOW, NOTCAP);
	no_read("sub/../../outside/secret", FOLLOW, NOTCAP);
	no_read("sub/deeper/../../../outside/secret", FOLLOW, NOTCAP);
	no_read("./sub/./../../box/inbox.txt", FOLLOW, NOTCAP); /* above the root, then back */
	reads("sub/deeper/../../inbox.txt", "inbox");
	reads("sub/./deeper/..//file.txt", "sub file");
}

static void read_chain(void)
{
	sym("b", "a");
	sym("c", "b");
	sym("../outside/secret", "c");
	no_read("a", FOLLOW, NOTCAP);
	no_sym(out_path("secret"), "c2");
	sym("c2", "a2");
	sym("hostabs", "c2"); /* a chain ending in an absolute link */
	no_read("a2", FOLLOW, NOTCAP);
	sym("e2", "e1");
	sym("sub/e3", "e2");
	sym("../inbox.txt", "sub/e3");
	reads("e1", "inbox");
}

static void read_middle(void)
{
	sym("../outside", "l");
	no_read("l/secret", FOLLOW, NOTCAP);
	no_read("l/dir2/keep", FOLLOW, NOTCAP);
	sym("../../outside", "sub/l2");
	no_read("sub/l2/secret", FOLLOW, NOTCAP);
	sym("sub", "s");
	sym("../../outside/secret", "sub/ls");
	no_read("s/ls", FOLLOW, NOTCAP);
	no_sym(outside, "al");
	/* the intermediate links are followed whatever lookupflags say */
	no_read("l/secret", 0, NOTCAP);
	no_open("l/", 0, __WASI_OFLAGS_DIRECTORY, NOTCAP);
	no_open("l", FOLLOW, __WASI_OFLAGS_DIRECTORY, NOTCAP);
}

static void read_dotdot_links(void)
{
	/* ".." after a link is the parent of where the link led (as Linux resolves it) */
	sym("sub/deeper", "dl");
	reads("dl/../file.txt", "sub file");
	no_read("dl/../../../outside/secret", FOLLOW, NOTCAP);
	sym("sub/..", "up");
	reads("up/inbox.txt", "inbox");
	sym("sub/../..", "up2");
	no_read("up2/outside/secret", FOLLOW, NOTCAP);
	sym("..", "u3");
	no_read("u3/outside/secret", FOLLOW, NOTCAP);
	no_open("u3", FOLLOW, __WASI_OFLAGS_DIRECTORY, NOTCAP);
	sym("../box/inbox.txt", "rt");
	no_read("rt", FOLLOW, NOTCAP);
	sym("deeper/../../../outside/secret", "sub/dd");
	no_read("sub/dd", FOLLOW, NOTCAP);
}

static void read_loops(void)
{
	char name[16], target[16];

	sym("lb", "la");
	sym("la", "lb");
	no_read("la", FOLLOW, __WASI_ERRNO_LOOP);
	no_read("la/x", FOLLOW, __WASI_ERRNO_LOOP);
	sym("self", "self");
	no_read("self", FOLLOW, __WASI_ERRNO_LOOP);
	sym("grow/x", "grow");
	no_read("grow", FOLLOW, __WASI_ERRNO_LOOP);
	sym(".", "dot");
	reads("dot/dot/dot/dot/inbox.txt", "inbox");
	/* Linux follows at most 40 links in one lookup: c1..c40 resolve, c0 is one too many */
	for (int i = 0; i <= 40; i++) {
		snprintf(name, sizeof(name), "c%d", i);
		snprintf(target, sizeof(target), "c%d", i + 1);
		sym(i == 40 ? "inbox.txt" : target, name);
	}
	reads("c1", "inbox");
	no_read("c0", FOLLOW, __WASI_ERRNO_LOOP);
}

/* ----- creating outside ----- */

static void create_dangling(void)
{
	const __wasi_oflags_t cr = __WASI_OFLAGS_CREAT;

	sym("../outside/created", "d");
	no_open("d", FOLLOW, cr, NOTCAP);
	no_open("d", 0, cr, __WASI_ERRNO_LOOP);
	no_open("d", FOLLOW, cr | __WASI_OFLAGS_EXCL, __WASI_ERRNO_EXIST);
	no_sym(out_path("created2"), "d2");
	sym("d4", "d3");
	sym("../outside/created3", "d4");
	no_open("d3", FOLLOW, cr, NOTCAP);
	sym("sub/../../outside/created4", "d5");
	no_open("d5", FOLLOW, cr, NOTCAP);
	no_open("hostdang", FOLLOW, cr, NOTCAP);
	sym("../outside", "l");
	no_open("l/created5", FOLLOW, cr, NOTCAP);
	no_open("l/created6", 0, cr, NOTCAP);
	no_open("../created7", FOLLOW, cr, NOTCAP);
	no_open("sub/../../created8", FOLLOW, cr, NOTCAP);
}

static void create_inside(void)
{
	__wasi_fd_t fd;

	/* a dangling link that stays inside is followed and its target created, as on Linux */
	sym("sub/newfile", "d");
	expect("create through d", open_at("d", FOLLOW, __WASI_OFLAGS_CREAT, R_WRITE, &fd), OK);
	(void)__wasi_fd_close(fd);
	if (stat_type("sub/newfile", 0) != __WASI_FILETYPE_REGULAR_FILE) {
		printf("FAIL create through d: sub/newfile is missing\n");
		failed = 1;
	}
	sym("d", "dd");
	no_open("dd", FOLLOW, __WASI_OFLAGS_CREAT | __WASI_OFLAGS_EXCL, __WASI_ERRNO_EXIST);
	expect("mkdir sub/../newdir", __wasi_path_create_directory(BOX, "sub/../newdir"), OK);
	if (stat_type("newdir", 0) != __WASI_FILETYPE_DIRECTORY) {
		printf("FAIL mkdir sub/../newdir: newdir is missing\n");
		failed = 1;
	}
}

static void create_dirs_links(void)
{
	sym("../outside", "l");
	expect("mkdir l/newdir", __wasi_path_create_directory(BOX, "l/newdir"), NOTCAP);
	expect("mkdir ../newdir", __wasi_path_create_directory(BOX, "../newdir"), NOTCAP);
	expect("mkdir sub/../../outside/newdir",
	       __wasi_path_create_directory(BOX, "sub/../../outside/newdir"), NOTCAP);
	sym("../outside/newdir", "dd");
	expect("mkdir dd", __wasi_path_create_directory(BOX, "dd"), __WASI_ERRNO_EXIST);
	expect("mkdir dd/", __wasi_path_create_directory(BOX, "dd/"), __WASI_ERRNO_EXIST);
	expect("mkdir hostdir/newdir", __wasi_path_create_directory(BOX, "hostdir/newdir"),
	       NOTCAP);
	expect("symlink l/newlink", __wasi_path_symlink("x", BOX, "l/newlink"), NOTCAP);
	expect("symlink ../newlink", __wasi_path_symlink("x", BOX, "../newlink"), NOTCAP);
	expect("symlink sub/../../outside/newlink",
	       __wasi_path_symlink("x", BOX, "sub/../../outside/newlink"), NOTCAP);
}

static void link_out(void)
{
	sym("../outside", "l");
	expect("link inbox.txt l/linked",
	       __wasi_path_link(BOX, 0, "inbox.txt", BOX, "l/linked"), NOTCAP);
	expect("link inbox.txt ../linked",
	       __wasi_path_link(BOX, 0, "inbox.txt", BOX, "../linked"), NOTCAP);
	expect("link l/secret stolen", __wasi_path_link(BOX, 0, "l/secret", BOX, "stolen"),
	       NOTCAP);
	expect("link l/secret stolen (follow)",
	       __wasi_path_link(BOX, FOLLOW, "l/secret", BOX, "stolen"), NOTCAP);
	expect("link ../outside/secret stolen",
	       __wasi_path_link(BOX, 0, "../outside/secret", BOX, "stolen"), NOTCAP);
	sym("../outside/secret", "ls");
	expect("link ls stolen2 (follow)", __wasi_path_link(BOX, FOLLOW, "ls", BOX, "stolen2"),
	       NOTCAP);
	expect("link hostabs stolen3 (follow)",
	       __wasi_path_link(BOX, FOLLOW, "hostabs", BOX, "stolen3"), NOTCAP);
	/* without SYMLINK_FOLLOW the link itself is linked: still a link that leads nowhere */
	expect("link ls ls2", __wasi_path_link(BOX, 0, "ls", BOX, "ls2"), OK);
	if (stat_type("ls2", 0) != __WASI_FILETYPE_SYMBOLIC_LINK) {
		printf("FAIL link ls ls2: ls2 is not a symlink\n");
		failed = 1;
	}
	no_read("ls2", FOLLOW, NOTCAP);
	/* following a link that stays inside links its target */
	sym("inbox.txt", "li");
	expect("link li hard (follow)", __wasi_path_link(BOX, FOLLOW, "li", BOX, "hard"), OK);
	if (stat_type("hard", 0) != __WASI_FILETYPE_REGULAR_FILE) {
		printf("FAIL link li hard: hard is not a regular file\n");
		failed = 1;
	}
}

static void rename_out(void)
{
	sym("../outside", "l");
	expect("rename inbox.txt l/moved", __wasi_path_rename(BOX, "inbox.txt", BOX, "l/moved"),
	       NOTCAP);
	expect("rename inbox.txt ../moved", __wasi_path_rename(BOX, "inbox.txt", BOX, "../moved"),
	       NOTCAP);
	expect("rename l/victim stolen", __wasi_path_rename(BOX, "l/victim", BOX, "stolen"),
	       NOTCAP);
	expect("rename ../outside/victim stolen",
	       __wasi_path_rename(BOX, "../outside/victim", BOX, "stolen"), NOTCAP);
	expect("rename sub/../../outside/victim stolen",
	       __wasi_path_rename(BOX, "sub/../../outside/victim", BOX, "stolen"), NOTCAP);
	expect("rename hostdir/dir2 stolen", __wasi_path_rename(BOX, "hostdir/dir2", BOX, "x"),
	       NOTCAP);
	expect("rename sub hostdir/sub", __wasi_path_rename(BOX, "sub", BOX, "hostdir/sub"),
	       NOTCAP);
	/* renaming the link itself is fine; it still leads nowhere */
	expect("rename l l2", __wasi_path_rename(BOX, "l", BOX, "l2"), OK);
	no_read("l2/victim", FOLLOW, NOTCAP);
	reads("inbox.txt", "inbox");
}

static void truncate_out(void)
{
	const __wasi_oflags_t tr = __WASI_OFLAGS_TRUNC;

	sym("../outside/victim", "lv");
	no_open("lv", FOLLOW, tr, NOTCAP);
	no_open("lv", 0, tr, __WASI_ERRNO_LOOP);
	no_sym(out_path("victim"), "av");
	sym("../outside", "l");
	no_open("l/victim", FOLLOW, tr, NOTCAP);
	no_open("l/victim", 0, tr, NOTCAP);
	no_open("l/victim", FOLLOW, tr | __WASI_OFLAGS_CREAT, NOTCAP);
	no_open("../outside/victim", FOLLOW, tr, NOTCAP);
	no_open("hostdir/victim", FOLLOW, tr, NOTCAP);
}

/* ----- metadata, removal, readlink ----- */

static void filestat_out(void)
{
	__wasi_filestat_t st;

	sym("../outside/secret", "l");
	expect("filestat l (follow)", __wasi_path_filestat_get(BOX, FOLLOW, "l", &st), NOTCAP);
	expect("filestat l", __wasi_path_filestat_get(BOX, 0, "l", &st), OK);
	if (st.filetype != __WASI_FILETYPE_SYMBOLIC_LINK) {
		printf("FAIL filestat l: not reported as a symlink\n");
		failed = 1;
	}
	sym("../outside", "l2");
	expect("filestat l2/secret", __wasi_path_filestat_get(BOX, 0, "l2/secret", &st), NOTCAP);
	expect("filestat l2/ (follow)", __wasi_path_filestat_get(BOX, FOLLOW, "l2/", &st),
	       NOTCAP);
	expect("filestat l2/", __wasi_path_filestat_get(BOX, 0, "l2/", &st), NOTCAP);
	expect("filestat ../outside", __wasi_path_filestat_get(BOX, 0, "../outside", &st),
	       NOTCAP);
	expect("filestat hostabs (follow)", __wasi_path_filestat_get(BOX, FOLLOW, "hostabs", &st),
	       NOTCAP);
}

static void set_times_out(void)
{
	const __wasi_fstflags_t fl = __WASI_FSTFLAGS_ATIM | __WASI_FSTFLAGS_MTIM;

	sym("../outside/victim", "l");
	expect("set_times l (follow)", __wasi_path_filestat_set_times(BOX, FOLLOW, "l", 0, 0, fl),
	       NOTCAP);
	/* the link's own times are inside the box */
	expect("set_times l", __wasi_path_filestat_set_times(BOX, 0, "l", 0, 0, fl), OK);
	sym("../outside", "l2");
	expect("set_times l2/victim",
	       __wasi_path_filestat_set_times(BOX, 0, "l2/victim", 0, 0, fl), NOTCAP);
	expect("set_times l2/victim (follow)",
	       __wasi_path_filestat_set_times(BOX, FOLLOW, "l2/victim", 0, 0, fl), NOTCAP);
	expect("set_times l2 (follow)",
	       __wasi_path_filestat_set_times(BOX, FOLLOW, "l2", 0, 0, fl), NOTCAP);
	expect("set_times ../outside/victim",
	       __wasi_path_filestat_set_times(BOX, 0, "../outside/victim", 0, 0, fl), NOTCAP);
	expect("set_times hostabs (follow)",
	       __wasi_path_filestat_set_times(BOX, FOLLOW, "hostabs", 0, 0, fl), NOTCAP);
}

static void unlink_out(void)
{
	sym("../outside", "l");
	expect("unlink l/victim", __wasi_path_unlink_file(BOX, "l/victim"), NOTCAP);
	expect("unlink l/outlink", __wasi_path_unlink_file(BOX, "l/outlink"), NOTCAP);
	expect("unlink ../outside/victim", __wasi_path_unlink_file(BOX, "../outside/victim"),
	       NOTCAP);
	expect("unlink sub/../../outside/victim",
	       __wasi_path_unlink_file(BOX, "sub/../../outside/victim"), NOTCAP);
	expect("unlink hostdir/victim", __wasi_path_unlink_file(BOX, "hostdir/victim"), NOTCAP);
	/* unlinking a link removes the link, never its target */
	sym("../outside/victim", "lv");
	expect("unlink lv", __wasi_path_unlink_file(BOX, "lv"), OK);
	expect("unlink l", __wasi_path_unlink_file(BOX, "l"), OK);
	expect("unlink hostrel", __wasi_path_unlink_file(BOX, "hostrel"), OK);
}

static void rmdir_out(void)
{
	sym("../outside", "l");
	expect("rmdir l/dir", __wasi_path_remove_directory(BOX, "l/dir"), NOTCAP);
	expect("rmdir ../outside/dir", __wasi_path_remove_directory(BOX, "../outside/dir"),
	       NOTCAP);
	expect("rmdir sub/../../outside/dir",
	       __wasi_path_remove_directory(BOX, "sub/../../outside/dir"), NOTCAP);
	expect("rmdir hostdir/dir", __wasi_path_remove_directory(BOX, "hostdir/dir"), NOTCAP);
	sym("../outside/dir", "ld");
	expect("rmdir ld", __wasi_path_remove_directory(BOX, "ld"), __WASI_ERRNO_NOTDIR);
	expect("rmdir ld/", __wasi_path_remove_directory(BOX, "ld/"), __WASI_ERRNO_NOTDIR);
	expect("rmdir ..", __wasi_path_remove_directory(BOX, ".."), NOTCAP);
}

static void readlink_out(void)
{
	char buf[1100];
	__wasi_size_t n = 0;
	const char *abs = out_path("secret");

	sym("../outside/secret", "l");
	expect("readlink l", __wasi_path_readlink(BOX, "l", (uint8_t *)buf, sizeof(buf), &n), OK);
	if (n != strlen("../outside/secret") || memcmp(buf, "../outside/secret", n)) {
		printf("FAIL readlink l: got '%.*s'\n", (int)n, buf);
		failed = 1;
	}
	expect("readlink hostabs",
	       __wasi_path_readlink(BOX, "hostabs", (uint8_t *)buf, sizeof(buf), &n), OK);
	if (n != strlen(abs) || memcmp(buf, abs, n)) {
		printf("FAIL readlink hostabs: got '%.*s'\n", (int)n, buf);
		failed = 1;
	}
	sym("../outside", "l2");
	expect("readlink l2/outlink",
	       __wasi_path_readlink(BOX, "l2/outlink", (uint8_t *)buf, sizeof(buf), &n), NOTCAP);
	expect("readlink ../outside/outlink",
	       __wasi_path_readlink(BOX, "../outside/outlink", (uint8_t *)buf, sizeof(buf), &n),
	       NOTCAP);
	/* what readlink reported is never followed out */
	no_read("l", FOLLOW, NOTCAP);
	no_read("hostabs", FOLLOW, NOTCAP);
}

struct test_case {
	const char *name;
	void (*run)(void);
};

static const struct test_case cases[] = {
	{"read-links", read_links},
	{"read-dotdot", read_dotdot},
	{"read-chain", read_chain},
	{"read-middle", read_middle},
	{"read-dotdot-links", read_dotdot_links},
	{"read-loops", read_loops},
	{"create-dangling", create_dangling},
	{"create-inside", create_inside},
	{"create-dirs-links", create_dirs_links},
	{"link-out", link_out},
	{"rename-out", rename_out},
	{"truncate-out", truncate_out},
	{"filestat-out", filestat_out},
	{"set-times-out", set_times_out},
	{"unlink-out", unlink_out},
	{"rmdir-out", rmdir_out},
	{"readlink-out", readlink_out},
};

int main(int argc, char **argv)
{
	if (argc == 2 && !strcmp(argv[1], "list")) {
		for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
			printf("%s\n", cases[i].name);
		return 0;
	}
	if (argc != 3) {
		fprintf(stderr, "usage: escape.wasm list | CASE OUTSIDE\n");
		return 2;
	}
	outside = argv[2];
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		if (strcmp(cases[i].name, argv[1]))
			continue;
		cases[i].run();
		if (!failed)
			printf("ok %s\n", argv[1]);
		return failed;
	}
	fprintf(stderr, "escape.wasm: no case '%s'\n", argv[1]);
	return 2;
}
