/*
 * Paths inside a container's rootfs as the container sees them: resolution that keeps
 * symlinks (also absolute ones) below the rootfs, the PATH lookup execvp would do in the
 * container, and the choice between the WebAssembly engine and a riscv64 VM from what the
 * executable is (a wasm module, an ELF file of some machine, a script's interpreter).
 */
#include "host/oci_internal.h"

#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define MAX_LINKS    40
#define MAX_SCRIPTS  4
#define DEFAULT_PATH "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

#ifndef EM_RISCV
#define EM_RISCV 243
#endif

/* Appends component comp (len n) to the resolved path res (relative to the root, always
 * starting with '/' or empty). */
static int push(char *res, size_t cap, const char *comp, size_t n)
{
	size_t l = strlen(res);

	if (l + 1 + n + 1 > cap)
		return -ENAMETOOLONG;
	res[l] = '/';
	memcpy(res + l + 1, comp, n);
	res[l + 1 + n] = 0;
	return 0;
}

static void pop(char *res)
{
	char *s = strrchr(res, '/');

	if (s)
		*s = 0;
}

int oci_path_in_root(const char *root, const char *path, char *out, size_t outlen)
{
	char rest[PATH_MAX * 2], res[PATH_MAX], host[PATH_MAX * 2], target[PATH_MAX];
	const char *p;
	int links = 0;
	bool exists = true;

	if (strlen(path) >= sizeof(rest))
		return -ENAMETOOLONG;
	strcpy(rest, path);
	res[0] = 0;
	p = rest;
	while (*p) {
		const char *slash = strchr(p, '/');
		size_t n = slash ? (size_t)(slash - p) : strlen(p);
		const char *next = slash ? slash + 1 : p + n;
		struct stat sb;
		ssize_t tl;

		if (n == 0 || (n == 1 && p[0] == '.')) {
			p = next;
			continue;
		}
		if (n == 2 && p[0] == '.' && p[1] == '.') {
			pop(res);
			p = next;
			continue;
		}
		if (push(res, sizeof(res), p, n))
			return -ENAMETOOLONG;
		p = next;
		if (!exists)
			continue;
		snprintf(host, sizeof(host), "%s%s", root, res);
		if (lstat(host, &sb)) {
			exists = false; /* the rest is kept as written */
			continue;
		}
		if (!S_ISLNK(sb.st_mode))
			continue;
		if (++links > MAX_LINKS)
			return -ELOOP;
		tl = readlink(host, target, sizeof(target) - 1);
		if (tl < 0)
			return -errno;
		target[tl] = 0;
		pop(res);
		if (target[0] == '/')
			res[0] = 0;
		/* Splice the target in front of what is left. */
		if ((size_t)tl + 1 + strlen(p) + 1 > sizeof(rest))
			return -ENAMETOOLONG;
		memmove(rest + tl + 1, p, strlen(p) + 1);
		memcpy(rest, target, (size_t)tl);
		rest[tl] = '/';
		p = rest;
	}
	if ((size_t)snprintf(out, outlen, "%s%s", root, res[0] ? res : "") >= outlen)
		return -ENAMETOOLONG;
	return 0;
}

static bool is_exec_file(const char *host)
{
	struct stat sb;

	return !stat(host, &sb) && S_ISREG(sb.st_mode) && (sb.st_mode & 0111);
}

int oci_find_exec(const struct oci_spec *spec, const struct oci_process *p, char *out,
		  size_t outlen)
{
	const char *name = p->args[0], *path, *d;
	char buf[PATH_MAX * 2];

	if (strchr(name, '/')) {
		if (name[0] == '/')
			snprintf(buf, sizeof(buf), "%s", name);
		else
			snprintf(buf, sizeof(buf), "%s/%s", p->cwd, name);
		if (oci_path_in_root(spec->rootfs, buf, out, outlen))
			return -ENOENT;
		if (access(out, F_OK))
			return -ENOENT;
		return is_exec_file(out) ? 0 : -EACCES;
	}
	path = oci_process_getenv(p, "PATH");
	if (!path)
		path = DEFAULT_PATH;
	for (d = path;; d++) {
		const char *e = strchr(d, ':');
		size_t n = e ? (size_t)(e - d) : strlen(d);

		snprintf(buf, sizeof(buf), "%.*s/%s", (int)n, n ? d : ".", name);
		if (buf[0] != '/') /* a relative PATH entry is relative to cwd */
			snprintf(buf, sizeof(buf), "%s/%.*s/%s", p->cwd, (int)n, d, name);
		if (!oci_path_in_root(spec->rootfs, buf, out, outlen) && is_exec_file(out))
			return 0;
		if (!e)
			break;
		d = e;
	}
	return -ENOENT;
}

static const char *machine_name(unsigned m)
{
	switch (m) {
	case EM_X86_64:
		return "x86-64 (linux/amd64)";
	case EM_386:
		return "x86 (linux/386)";
	case EM_AARCH64:
		return "arm64 (linux/arm64)";
	case EM_ARM:
		return "arm (linux/arm)";
	case EM_PPC64:
		return "ppc64le (linux/ppc64le)";
	case EM_S390:
		return "s390x (linux/s390x)";
	default:
		return NULL;
	}
}

/* Classifies the file at host: 'w' wasm module, 'r' riscv64 ELF, '#' script (interpreter
 * in interp, relative to the rootfs), or reports why it cannot run (-ENOEXEC). */
static int classify(const struct oci_ctx *c, const char *shown, const char *host, char *interp,
		    size_t ilen, char *kind)
{
	unsigned char b[256];
	ssize_t n;
	int fd = open(host, O_RDONLY | O_CLOEXEC);

	if (fd < 0) {
		oci_err(c, "exec: \"%s\": %s", shown, strerror(errno));
		return -errno;
	}
	n = read(fd, b, sizeof(b) - 1);
	close(fd);
	if (n < 0)
		n = 0;
	b[n] = 0;
	if (n >= 8 && !memcmp(b, "\0asm", 4)) {
		*kind = 'w';
		return 0;
	}
	if (n >= 2 && b[0] == '#' && b[1] == '!') {
		char *s = (char *)b + 2, *e;
		while (*s == ' ' || *s == '\t')
			s++;
		e = s + strcspn(s, " \t\n");
		*e = 0;
		if (!*s || (size_t)(e - s) >= ilen) {
			oci_err(c, "exec: \"%s\": the script names no interpreter", shown);
			return -ENOEXEC;
		}
		strcpy(interp, s);
		*kind = '#';
		return 0;
	}
	if (n >= (ssize_t)sizeof(Elf64_Ehdr) && !memcmp(b, ELFMAG, SELFMAG)) {
		unsigned m = b[EI_DATA] == ELFDATA2LSB ? (unsigned)(b[18] | b[19] << 8)
						       : (unsigned)(b[18] << 8 | b[19]);
		const char *what = machine_name(m);
		if (m == EM_RISCV && b[EI_CLASS] == ELFCLASS64) {
			*kind = 'r';
			return 0;
		}
		if (what)
			oci_err(c,
				"exec: \"%s\": an %s executable: lodge-oci runs linux/riscv64 "
				"images in a RISC-V VM and WebAssembly modules, not this "
				"architecture (build or pull the image for linux/riscv64)",
				shown, what);
		else
			oci_err(c,
				"exec: \"%s\": an ELF executable for machine %u: lodge-oci runs "
				"linux/riscv64 images and WebAssembly modules",
				shown, m);
		return -ENOEXEC;
	}
	oci_err(c,
		"exec: \"%s\": exec format error (neither a riscv64 ELF file, a script nor a "
		"WebAssembly module)",
		shown);
	return -ENOEXEC;
}

/* A pod's sandbox (infrastructure) container, as containerd's CRI and CRI-O mark it. */
static bool is_sandbox(const struct oci_spec *spec)
{
	const char *a = oci_spec_annotation(spec, "io.kubernetes.cri.container-type");
	const char *b = oci_spec_annotation(spec, "io.kubernetes.cri-o.ContainerType");

	return (a && !strcmp(a, "sandbox")) || (b && !strcmp(b, "sandbox"));
}

int oci_choose_mode(const struct oci_ctx *c, const struct oci_spec *spec,
		    const struct oci_process *p, enum oci_mode *out)
{
	const char *variant = oci_spec_annotation(spec, "module.wasm.image/variant");
	const char *a0 = p->args[0];
	size_t l = strlen(a0);
	bool want_wasm =
		(variant && (!strcmp(variant, "compat") || !strcmp(variant, "compat-smart"))) ||
		(l > 5 && !strcmp(a0 + l - 5, ".wasm"));
	char host[PATH_MAX], interp[PATH_MAX], kind = 0;
	int r;

	/* Its image holds the engine's pause program for the host's architecture: what it
	 * does (wait for the end of the pod) needs no VM. */
	if (is_sandbox(spec)) {
		*out = OCI_MODE_PAUSE;
		return 0;
	}
	r = oci_find_exec(spec, p, host, sizeof(host));

	if (r == -ENOENT) {
		oci_err(c, "exec: \"%s\": executable file not found in $PATH", a0);
		return r;
	}
	if (r) {
		oci_err(c, "exec: \"%s\": permission denied", a0);
		return r;
	}
	for (int depth = 0; depth < MAX_SCRIPTS; depth++) {
		r = classify(c, a0, host, interp, sizeof(interp), &kind);
		if (r)
			return r;
		if (kind != '#')
			break;
		if (oci_path_in_root(spec->rootfs, interp, host, sizeof(host)) ||
		    access(host, X_OK)) {
			oci_err(c, "exec: \"%s\": its interpreter %s is not in the image", a0,
				interp);
			return -ENOENT;
		}
	}
	if (kind == '#') {
		oci_err(c, "exec: \"%s\": scripts nest too deeply", a0);
		return -ELOOP;
	}
	if (want_wasm && kind != 'w') {
		oci_err(c,
			"exec: \"%s\": the image is marked as WebAssembly "
			"(module.wasm.image/variant or a .wasm name), but this is not a "
			"WebAssembly module",
			a0);
		return -ENOEXEC;
	}
	*out = kind == 'w' ? OCI_MODE_WASM : OCI_MODE_VM;
	return 0;
}
