/*
 * trailing DIR: trailing slashes on rename, link, symlink, unlink, rmdir, mkdir, stat and
 * open, on files, directories and links to them, in the empty directory DIR. Prints each
 * call's result as an errno name, then the directory's final contents. Built natively and
 * for wasm32-wasi: tests/wasi/suite.sh requires the two outputs to be identical, so Linux
 * is the reference.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char *base;

static const char *P(const char *name)
{
	static char buf[4][1024];
	static int k;

	k = (k + 1) % 4;
	snprintf(buf[k], sizeof(buf[k]), "%s/%s", base, name);
	return buf[k];
}

static const char *ename(int e)
{
	static char other[32];

	switch (e) {
	case 0:
		return "ok";
	case ENOENT:
		return "ENOENT";
	case ENOTDIR:
		return "ENOTDIR";
	case EISDIR:
		return "EISDIR";
	case EEXIST:
		return "EEXIST";
	case EPERM:
		return "EPERM";
	case EINVAL:
		return "EINVAL";
	case ENOTEMPTY:
		return "ENOTEMPTY";
	case ELOOP:
		return "ELOOP";
	case EACCES:
		return "EACCES";
	}
	snprintf(other, sizeof(other), "errno %d", e);
	return other;
}

static void report(const char *what, int rc)
{
	printf("%-28s %s\n", what, ename(rc < 0 ? errno : 0));
}

#define T(what, call) report(what, (call))

static int open_close(const char *path, int flags)
{
	int fd = open(path, flags, 0644);

	if (fd >= 0)
		close(fd);
	return fd < 0 ? -1 : 0;
}

static int stat_dir(const char *path, int follow)
{
	struct stat st;
	int rc = follow ? stat(path, &st) : lstat(path, &st);

	if (rc == 0 && !S_ISDIR(st.st_mode)) {
		errno = EINVAL; /* printed as EINVAL: "not a directory, yet no error" */
		return -1;
	}
	return rc;
}

static int cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void list(void)
{
	char *names[64];
	int n = 0;
	DIR *d = opendir(base);
	struct dirent *de;

	while (d && (de = readdir(d)) && n < 64)
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
			names[n++] = strdup(de->d_name);
	if (d)
		closedir(d);
	qsort(names, (size_t)n, sizeof(names[0]), cmp);
	for (int i = 0; i < n; i++) {
		struct stat st;
		char type = '?';
		if (lstat(P(names[i]), &st) == 0)
			type = S_ISDIR(st.st_mode) ? 'd' : S_ISLNK(st.st_mode) ? 'l' : 'f';
		printf("entry %s %c\n", names[i], type);
		free(names[i]);
	}
}

int main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: trailing DIR\n");
		return 2;
	}
	base = argv[1];
	T("mkdir d", mkdir(P("d"), 0755));
	T("mkdir e", mkdir(P("e"), 0755));
	T("create f", open_close(P("f"), O_WRONLY | O_CREAT));
	T("symlink ld -> d", symlink("d", P("ld")));
	T("symlink lf -> f", symlink("f", P("lf")));

	T("rename f/ g", rename(P("f/"), P("g")));
	T("rename f g/", rename(P("f"), P("g/")));
	T("rename f ld/", rename(P("f"), P("ld/")));
	T("rename f lf/", rename(P("f"), P("lf/")));
	T("rename lf/ x", rename(P("lf/"), P("x")));
	T("rename ld/ x", rename(P("ld/"), P("x")));
	T("rename nothere/ x", rename(P("nothere/"), P("x")));
	T("rename d f/", rename(P("d"), P("f/")));
	T("rename d d2/", rename(P("d"), P("d2/")));
	T("rename d2/ d", rename(P("d2/"), P("d")));

	T("link f/ g", link(P("f/"), P("g")));
	T("link f g/", link(P("f"), P("g/")));
	T("link f e/", link(P("f"), P("e/")));
	T("link f lf/", link(P("f"), P("lf/")));
	T("link lf/ g", link(P("lf/"), P("g")));
	T("link d/ g", link(P("d/"), P("g")));
	T("link d g", link(P("d"), P("g")));
	T("link nothere/ g", link(P("nothere/"), P("g")));
	T("linkat lf hard follow", linkat(AT_FDCWD, P("lf"), AT_FDCWD, P("hard"), AT_SYMLINK_FOLLOW));
	T("linkat ld hard2 follow", linkat(AT_FDCWD, P("ld"), AT_FDCWD, P("hard2"), AT_SYMLINK_FOLLOW));
	T("link lf lf2", link(P("lf"), P("lf2")));

	T("symlink f g/", symlink("f", P("g/")));
	T("symlink f f/", symlink("f", P("f/")));
	T("symlink f d/", symlink("f", P("d/")));
	T("symlink x lf/", symlink("x", P("lf/")));
	T("symlink f/ g", symlink("f/", P("g")));

	T("unlink f/", unlink(P("f/")));
	T("unlink d/", unlink(P("d/")));
	T("unlink lf/", unlink(P("lf/")));
	T("unlink ld/", unlink(P("ld/")));
	T("unlink nothere/", unlink(P("nothere/")));
	T("rmdir f/", rmdir(P("f/")));
	T("rmdir ld/", rmdir(P("ld/")));
	T("mkdir nd/", mkdir(P("nd/"), 0755));
	T("mkdir f/", mkdir(P("f/"), 0755));
	T("rmdir nd/", rmdir(P("nd/")));

	T("stat f/", stat_dir(P("f/"), 1));
	T("lstat lf/", stat_dir(P("lf/"), 0));
	T("lstat ld/ (follows)", stat_dir(P("ld/"), 0));
	T("open f/", open_close(P("f/"), O_RDONLY));
	T("open lf/", open_close(P("lf/"), O_RDONLY));
	T("open ld/ nofollow", open_close(P("ld/"), O_RDONLY | O_NOFOLLOW));
	T("open ld nofollow", open_close(P("ld"), O_RDONLY | O_NOFOLLOW));
	T("open new/ creat", open_close(P("new/"), O_WRONLY | O_CREAT));
	T("open d/ creat", open_close(P("d/"), O_RDONLY | O_CREAT));
	list();
	return 0;
}
