/*
 * WASI test program (directories): given a directory (a preopen under WASI), it
 *   1. lists the tree recursively (names sorted, since readdir order is unspecified),
 *      with each file's size and a checksum of its contents;
 *   2. renames every "*.txt" to "*.bak" (across into "archive/" when the name starts
 *      with "old"), deletes every file whose name starts with "tmp", and removes the
 *      directories left empty;
 *   3. creates "log/summary" with what it did, appends to it, reads it back;
 *   4. lists the tree again.
 * Every path printed is relative to the directory, so the output is the same natively
 * and under WASI. Errors print a fixed word rather than strerror() (libcs differ).
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define MAX_ENTRIES 256
#define PATH_LEN    512

struct walk {
	const char *root;
	FILE *log;
	int renamed, deleted, rmdirs;
};

static const char *err_word(int e)
{
	return e == ENOENT ? "no-such-file" : e == EEXIST ? "exists" : "error";
}

/* root/rel into out; a path too long for the buffer becomes "" (and then fails to open) */
static void full(const struct walk *w, const char *rel, char *out)
{
	if (snprintf(out, PATH_LEN, "%s/%s", w->root, rel) >= PATH_LEN)
		out[0] = 0;
}

static unsigned long checksum(const char *path, long *size)
{
	FILE *f = fopen(path, "rb");
	unsigned long h = 5381;
	int c;

	*size = 0;
	if (!f)
		return 0;
	while ((c = getc(f)) != EOF) {
		h = h * 33 + (unsigned char)c;
		(*size)++;
	}
	fclose(f);
	return h & 0xffffffffu;
}

static int cmp_name(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Reads the names in directory rel ("" = root), sorted; returns the count or -1. */
static int read_names(const struct walk *w, const char *rel, char **names)
{
	char path[PATH_LEN];
	struct dirent *d;
	DIR *dir;
	int n = 0;

	if (*rel)
		full(w, rel, path);
	else
		snprintf(path, sizeof(path), "%s", w->root);
	dir = opendir(path);
	if (!dir)
		return -1;
	while ((d = readdir(dir)) && n < MAX_ENTRIES) {
		if (!strcmp(d->d_name, ".") || !strcmp(d->d_name, ".."))
			continue;
		names[n] = strdup(d->d_name);
		if (!names[n])
			break;
		n++;
	}
	closedir(dir);
	qsort(names, (size_t)n, sizeof(char *), cmp_name);
	return n;
}

static void join(char *out, const char *dir, const char *name)
{
	if (snprintf(out, PATH_LEN, "%s%s%s", dir, *dir ? "/" : "", name) >= PATH_LEN)
		out[0] = 0;
}

static void list(const struct walk *w, const char *rel, int depth)
{
	char *names[MAX_ENTRIES], sub[PATH_LEN], path[PATH_LEN];
	int n = read_names(w, rel, names);

	for (int i = 0; i < n; i++) {
		struct stat st;
		join(sub, rel, names[i]);
		full(w, sub, path);
		if (lstat(path, &st)) {
			printf("%*s%s: stat failed: %s\n", depth * 2, "", sub, err_word(errno));
		} else if (S_ISDIR(st.st_mode)) {
			printf("%*s%s/\n", depth * 2, "", sub);
			list(w, sub, depth + 1);
		} else {
			long size;
			unsigned long h = checksum(path, &size);
			printf("%*s%s %ld bytes %08lx (stat %lld)\n", depth * 2, "", sub, size, h,
			       (long long)st.st_size);
		}
		free(names[i]);
	}
}

static int ends_with(const char *s, const char *suffix)
{
	size_t a = strlen(s), b = strlen(suffix);

	return a >= b && !strcmp(s + a - b, suffix);
}

static void change_file(struct walk *w, const char *rel, const char *name)
{
	char from[PATH_LEN], to[PATH_LEN], rto[PATH_LEN];

	full(w, rel, from);
	if (!strncmp(name, "tmp", 3)) {
		if (unlink(from))
			fprintf(w->log, "unlink %s: %s\n", rel, err_word(errno));
		else
			fprintf(w->log, "deleted %s\n", rel), w->deleted++;
		return;
	}
	if (!ends_with(name, ".txt"))
		return;
	if (!strncmp(name, "old", 3))
		snprintf(rto, sizeof(rto), "archive/%.*s.bak", (int)(strlen(name) - 4), name);
	else
		snprintf(rto, sizeof(rto), "%.*s.bak", (int)(strlen(rel) - 4), rel);
	full(w, rto, to);
	if (rename(from, to))
		fprintf(w->log, "rename %s: %s\n", rel, err_word(errno));
	else
		fprintf(w->log, "renamed %s -> %s\n", rel, rto), w->renamed++;
}

/* Applies the changes below rel; returns how many entries remain in it. */
static int change(struct walk *w, const char *rel)
{
	char *names[MAX_ENTRIES], sub[PATH_LEN], path[PATH_LEN];
	int n = read_names(w, rel, names), left = 0;

	for (int i = 0; i < n; i++) {
		struct stat st;
		join(sub, rel, names[i]);
		full(w, sub, path);
		if (!lstat(path, &st) && S_ISDIR(st.st_mode)) {
			if (strcmp(sub, "archive") && strcmp(sub, "log") && change(w, sub) == 0) {
				if (rmdir(path))
					fprintf(w->log, "rmdir %s: %s\n", sub, err_word(errno));
				else
					fprintf(w->log, "removed %s/\n", sub), w->rmdirs++, left--;
			}
			left++;
		} else {
			change_file(w, sub, names[i]);
			left++;
		}
		free(names[i]);
	}
	/* count again: renames into archive/ and deletions changed it */
	n = read_names(w, rel, names);
	for (int i = 0; i < n; i++)
		free(names[i]);
	return n < 0 ? left : n;
}

int main(int argc, char **argv)
{
	struct walk w = {0};
	char path[PATH_LEN], line[256];
	FILE *f;

	if (argc != 2) {
		fprintf(stderr, "usage: dirwalk DIR\n");
		return 2;
	}
	w.root = argv[1];
	printf("== before\n");
	list(&w, "", 0);
	full(&w, "archive", path);
	if (mkdir(path, 0755))
		printf("mkdir archive: %s\n", err_word(errno));
	full(&w, "log", path);
	if (mkdir(path, 0755))
		printf("mkdir log: %s\n", err_word(errno));
	if (mkdir(path, 0755))
		printf("mkdir log again: %s\n", err_word(errno));
	full(&w, "log/summary", path);
	w.log = fopen(path, "w");
	if (!w.log) {
		printf("cannot create log/summary: %s\n", err_word(errno));
		return 1;
	}
	change(&w, "");
	fclose(w.log);
	f = fopen(path, "a");
	if (!f)
		return 1;
	fprintf(f, "renamed %d, deleted %d, removed %d directories\n", w.renamed, w.deleted,
		w.rmdirs);
	fclose(f);
	full(&w, "missing.txt", line);
	if (unlink(line))
		printf("unlink missing.txt: %s\n", err_word(errno));
	printf("== log\n");
	f = fopen(path, "r");
	while (f && fgets(line, sizeof(line), f))
		fputs(line, stdout);
	if (f)
		fclose(f);
	printf("== after\n");
	list(&w, "", 0);
	return 0;
}
