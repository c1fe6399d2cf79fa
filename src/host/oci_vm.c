/*
 * System-VM containers: the bundle's rootfs and volumes go into an initramfs behind the
 * OCI guest's base image (guest/oci: Lodge's init for bundles, and the vsock modules),
 * and `lodge run` boots the default guest's kernel with it, as a child of the container's
 * process. The guest init mounts what config.json asks for, connects to host port
 * OCI_PORT_MAIN and runs the process; stdio, signals and the exit status travel over that
 * vsock session (host/oci_proto.h). Exec sessions connect to guest port OCI_PORT_EXEC.
 *
 * The vsock device's unix sockets live in the state directory and are named relative to
 * it (the container's process and `lodge run` both work there), which keeps them short
 * of sun_path's 108 bytes whatever --root is.
 *
 * Frames from the guest are untrusted input: types and lengths are checked before use,
 * and a malformed stream ends the session (and the VM).
 */
#include "host/oci_internal.h"
#include "host/oci_proto.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "core/alloc.h"
#include "core/sbuf.h"

#define VSOCK_PATH    "v.sock"
#define BASE_INITRD   "oci-initrd.img"
#define MIN_GUEST_MEM (96ull << 20)  /* the kernel and init, with room to run */
#define DEFAULT_MEM   (256ull << 20) /* plus the rootfs, when config.json sets no limit */
#define MAX_CPUS      8
#define BOOT_TIMEOUT  600 /* seconds until the guest must have connected */

/* ----- the guest's files ----- */

static bool guest_dir_ok(const char *d)
{
	static const char *const need[] = {"Image", "fw_dynamic.bin", BASE_INITRD};
	char p[PATH_MAX + 32];

	for (size_t i = 0; i < sizeof(need) / sizeof(need[0]); i++) {
		snprintf(p, sizeof(p), "%s/%s", d, need[i]);
		if (access(p, R_OK))
			return false;
	}
	return true;
}

/* Where the kernel, firmware and base initramfs are: $LODGE_OCI_GUEST_DIR, else the
 * guest-cache/out of the source tree this binary was built in (build/MODE/lodge), else
 * PREFIX/share/lodge/oci beside an installed PREFIX/bin/lodge. */
static int find_guest(const struct oci_ctx *c, char *out, size_t len)
{
	static const char *const where[] = {"../../guest-cache/out", "../share/lodge/oci"};
	const char *env = getenv("LODGE_OCI_GUEST_DIR");
	char exe[PATH_MAX], *s;

	if (env && *env) {
		snprintf(out, len, "%s", env);
		if (guest_dir_ok(out))
			return 0;
		oci_err(c, "LODGE_OCI_GUEST_DIR=%s lacks Image, fw_dynamic.bin or %s", env,
			BASE_INITRD);
		return -ENOENT;
	}
	if (!realpath(c->self, exe) && !realpath("/proc/self/exe", exe))
		exe[0] = 0;
	s = strrchr(exe, '/');
	if (s)
		*s = 0;
	for (size_t i = 0; exe[0] && i < sizeof(where) / sizeof(where[0]); i++)
		if ((size_t)snprintf(out, len, "%s/%s", exe, where[i]) < len && guest_dir_ok(out))
			return 0;
	oci_err(c,
		"no OCI guest for %s/lodge: run 'make oci-guest' in Lodge's source tree, install "
		"its guest-cache/out/{Image,fw_dynamic.bin,%s} in PREFIX/share/lodge/oci, or set "
		"LODGE_OCI_GUEST_DIR",
		exe, BASE_INITRD);
	return -ENOENT;
}

/* ----- launch records ----- */

static void rec(struct sbuf *b, char tag, int n, ...)
{
	va_list ap;

	sbuf_put_u8(b, (uint8_t)tag);
	sbuf_put_u8(b, (uint8_t)n);
	va_start(ap, n);
	for (int i = 0; i < n; i++) {
		const char *s = va_arg(ap, const char *);
		size_t l = s ? strlen(s) : 0;
		sbuf_put_u32(b, (uint32_t)l);
		sbuf_put(b, s, l);
	}
	va_end(ap);
}

static void rec_num(struct sbuf *b, char tag, unsigned long long v)
{
	char s[32];

	snprintf(s, sizeof(s), "%llu", v);
	rec(b, tag, 1, s);
}

/* The SPEC payload for process p. */
static int process_records(const struct oci_process *p, struct sbuf *b)
{
	char s[3][32];

	for (int i = 0; i < p->nargs; i++)
		rec(b, OCI_R_ARG, 1, p->args[i]);
	for (int i = 0; i < p->nenv; i++)
		rec(b, OCI_R_ENV, 1, p->env[i]);
	rec(b, OCI_R_CWD, 1, p->cwd);
	rec_num(b, OCI_R_UID, p->uid);
	rec_num(b, OCI_R_GID, p->gid);
	for (int i = 0; i < p->ngids; i++)
		rec_num(b, OCI_R_GROUP, p->gids[i]);
	if (p->umask >= 0) {
		snprintf(s[0], sizeof(s[0]), "%llo", (unsigned long long)p->umask);
		rec(b, OCI_R_UMASK, 1, s[0]);
	}
	if (p->terminal)
		rec(b, OCI_R_TERMINAL, 0);
	if (p->no_new_privs)
		rec(b, OCI_R_NNP, 0);
	for (int i = 0; i < p->nrlimits; i++) {
		const struct oci_rlimit *l = &p->rlimits[i];
		snprintf(s[0], sizeof(s[0]), "%d", l->resource);
		snprintf(s[1], sizeof(s[1]), "%lld",
			 l->soft == (uint64_t)-1 ? -1ll : (long long)l->soft);
		snprintf(s[2], sizeof(s[2]), "%lld",
			 l->hard == (uint64_t)-1 ? -1ll : (long long)l->hard);
		rec(b, OCI_R_RLIMIT, 3, s[0], s[1], s[2]);
	}
	return b->err;
}

/* The container file: hostname, mounts (destinations resolved in the rootfs on the host,
 * so the guest mounts at symlink-free paths), read-only root, pids limit, sysctls. */
static int container_records(const struct oci_ctx *c, const struct oci_spec *spec,
			     const struct oci_wb *wb, struct sbuf *b)
{
	char host[PATH_MAX], src[32];

	if (spec->hostname && *spec->hostname)
		rec(b, OCI_R_HOSTNAME, 1, spec->hostname);
	for (int i = 0; i < spec->nmounts; i++) {
		const struct oci_mount *m = &spec->mounts[i];
		const char *rel;
		int r = oci_path_in_root(spec->rootfs, m->dest, host, sizeof(host));
		if (r) {
			oci_err(c, "mount %s: cannot resolve it in the rootfs: %s", m->dest,
				strerror(-r));
			return r;
		}
		rel = host + strlen(spec->rootfs);
		snprintf(src, sizeof(src), "/oci/volumes/%d", i);
		rec(b, OCI_R_MOUNT, 4, *rel ? rel : "/", m->type,
		    !strcmp(m->type, "bind") ? src : (m->source ? m->source : m->type), m->options);
		if (oci_wb_has(wb, i))
			rec_num(b, OCI_R_WRITEBACK, (unsigned long long)i);
	}
	if (spec->root_ro)
		rec(b, OCI_R_READONLY, 0);
	if (spec->res.pids_limit > 0)
		rec_num(b, OCI_R_PIDS, (unsigned long long)spec->res.pids_limit);
	for (int i = 0; i < spec->nsysctl; i++)
		rec(b, OCI_R_SYSCTL, 2, spec->sysctl_keys[i], spec->sysctl_values[i]);
	return b->err;
}

/* ----- the initramfs ----- */

static int copy_base(int out, const char *path)
{
	char buf[65536];
	int in = open(path, O_RDONLY | O_CLOEXEC), r = 0;
	ssize_t n;
	off_t total = 0;

	if (in < 0)
		return -errno;
	while ((n = read(in, buf, sizeof(buf))) > 0) {
		if (write(out, buf, (size_t)n) != n) {
			r = -errno;
			break;
		}
		total += n;
	}
	if (n < 0)
		r = -errno;
	close(in);
	/* The next archive must start 4-byte aligned in the image; zeros between are skipped. */
	memset(buf, 0, 512);
	if (!r && total % 512 && write(out, buf, (size_t)(512 - total % 512)) < 0)
		r = -errno;
	return r;
}

static uint64_t guest_mem(const struct oci_spec *spec, uint64_t rootfs_bytes)
{
	uint64_t m;

	if (spec->res.mem_limit >= 0)
		return (uint64_t)spec->res.mem_limit & ~((1ull << 20) - 1);
	m = DEFAULT_MEM + rootfs_bytes * 2; /* the archive, then the unpacked files */
	return (m + (1ull << 20) - 1) & ~((1ull << 20) - 1);
}

static unsigned guest_cpus(const struct oci_spec *spec)
{
	unsigned n = 1;
	long host = sysconf(_SC_NPROCESSORS_ONLN);

	if (spec->res.cpu_quota > 0) {
		uint64_t period = spec->res.cpu_period ? spec->res.cpu_period : 100000;
		n = (unsigned)(((uint64_t)spec->res.cpu_quota + period - 1) / period);
	}
	if (host > 0 && n > (unsigned)host)
		n = (unsigned)host;
	return n < 1 ? 1 : n > MAX_CPUS ? MAX_CPUS : n;
}

int oci_vm_prepare(const struct oci_ctx *c, const struct oci_state *st, const struct oci_spec *spec,
		   struct oci_wb **wb_out)
{
	char gdir[PATH_MAX], base[PATH_MAX + 32], path[PATH_MAX + 32], name[32];
	struct sbuf recs = {0};
	struct oci_cpio a;
	uint64_t before, mem;
	int fd, r;

	*wb_out = NULL;
	r = find_guest(c, gdir, sizeof(gdir));
	if (r)
		return r;
	/* The volumes' state before they are copied: what write-back compares against. */
	r = oci_wb_create(c, spec, wb_out);
	if (r) {
		oci_err(c, "cannot record the volumes' state: %s", strerror(-r));
		return r;
	}
	r = container_records(c, spec, *wb_out, &recs);
	if (r) {
		sbuf_fini(&recs);
		return r;
	}
	snprintf(base, sizeof(base), "%s/%s", gdir, BASE_INITRD);
	snprintf(path, sizeof(path), "%s/initrd.img", st->dir);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0) {
		r = -errno;
		oci_err(c, "cannot create %s: %s", path, strerror(-r));
		sbuf_fini(&recs);
		return r;
	}
	r = copy_base(fd, base);
	if (r) {
		oci_err(c, "cannot copy %s: %s", base, strerror(-r));
		goto out;
	}
	oci_cpio_init(&a, fd);
	oci_cpio_add(&a, "oci", 040755, 0, 0, 0, 0, NULL, 0);
	oci_cpio_add(&a, "oci/container", 0100644, 0, 0, 0, 0, recs.data, recs.len);
	oci_cpio_add(&a, "oci/volumes", 040755, 0, 0, 0, 0, NULL, 0);
	for (int i = 0; i < spec->nmounts && !a.err; i++) {
		if (strcmp(spec->mounts[i].type, "bind"))
			continue;
		snprintf(name, sizeof(name), "oci/volumes/%d", i);
		if (oci_cpio_add_path(&a, spec->mounts[i].source, name)) {
			oci_err(c, "mount %s: cannot copy its source %s into the VM: %s",
				spec->mounts[i].dest, spec->mounts[i].source, strerror(-a.err));
			r = a.err;
			goto out;
		}
	}
	before = a.off;
	if (oci_cpio_add_path(&a, spec->rootfs, "rootfs") || oci_cpio_finish(&a)) {
		r = a.err;
		oci_err(c, "cannot put rootfs %s into the VM's initramfs: %s", spec->rootfs,
			strerror(-r));
		goto out;
	}
	mem = guest_mem(spec, a.off);
	if (mem < MIN_GUEST_MEM + (a.off - before) * 2) {
		oci_err(c,
			"memory limit of %llu MiB is too small for a VM with this %llu MiB rootfs "
			"(it needs at least %llu MiB)",
			(unsigned long long)(mem >> 20),
			(unsigned long long)((a.off - before) >> 20),
			(unsigned long long)((MIN_GUEST_MEM + (a.off - before) * 2) >> 20) + 1);
		r = -ENOMEM;
	}
out:
	if (close(fd) && !r)
		r = -errno;
	sbuf_fini(&recs);
	return r;
}

/* ----- starting the machine ----- */

static pid_t start_vm(const struct oci_ctx *c, const struct oci_spec *spec, const char *gdir)
{
	char kernel[PATH_MAX + 16], fw[PATH_MAX + 32], mem[32], cpus[16], initrd[PATH_MAX];
	struct stat sb;
	sigset_t none;
	pid_t pid;

	snprintf(kernel, sizeof(kernel), "%s/Image", gdir);
	snprintf(fw, sizeof(fw), "%s/fw_dynamic.bin", gdir);
	snprintf(initrd, sizeof(initrd), "initrd.img");
	snprintf(mem, sizeof(mem), "%lluM",
		 (unsigned long long)(guest_mem(spec,
						stat(initrd, &sb) ? 0 : (uint64_t)sb.st_size) >>
				      20));
	snprintf(cpus, sizeof(cpus), "%u", guest_cpus(spec));
	/* Boot time is start-up latency: skip the kernel's slowest initcalls under emulation,
	 * which a container VM does not need (jitterentropy's self-test, the X.509 list for
	 * module signatures: the modules are unsigned; crypto self-tests): 25-30% of it. */
	char a_vsock[] = "3," VSOCK_PATH,
	     a_append[] = "console=ttyS0 quiet cryptomgr.notests "
			  "initcall_blacklist=jent_mod_init,load_system_certificate_list";
	char a_lodge[] = "lodge", a_run[] = "run", a_kernel[] = "--kernel", a_initrd[] = "--initrd";
	char a_fw[] = "--firmware", a_mem[] = "--mem", a_cpus[] = "--cpus", a_vs[] = "--vsock";
	char a_app[] = "--append";
	char *argv[] = {a_lodge, a_run,	 a_kernel, kernel, a_initrd, initrd, a_fw,     fw,  a_mem,
			mem,	 a_cpus, cpus,	   a_vs,   a_vsock,  a_app,  a_append, NULL};

	pid = fork();
	if (pid < 0) {
		oci_err(c, "cannot start the VM: fork: %s", strerror(errno));
		return -1;
	}
	if (pid > 0)
		return pid;
	/* The VM dies with the container's process, however that ends. */
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	int in = open("/dev/null", O_RDONLY | O_CLOEXEC);
	int log = open("console.log", O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
	if (in < 0 || log < 0 || dup2(in, 0) < 0 || dup2(log, 1) < 0 || dup2(log, 2) < 0)
		_exit(125);
	execv(c->self, argv);
	_exit(125);
}

static int listen_main(const struct oci_ctx *c)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s_%d", VSOCK_PATH, OCI_PORT_MAIN);
	unlink(sa.sun_path);
	if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) || listen(fd, 1)) {
		oci_err(c, "cannot listen on %s for the guest: %s", sa.sun_path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	return fd;
}

/* ----- a session: one process's stdio, signals and exit status ----- */

struct session {
	const struct oci_ctx *c;
	int sock;
	int in_fd; /* host stdin, -1 once it ended */
	int out_fd, err_fd;
	bool terminal;
	int sigfd;
	pid_t vm; /* the VM to watch (the container's session), or 0 */
	bool started, exited, out_broken;
	int ws;
	struct oci_wb *wb; /* the container's session: its volumes to write back */
	void (*on_start)(void *arg, int err);
	void *arg;
	uint8_t buf[2 * (sizeof(struct oci_frame_hdr) + OCI_FRAME_MAX)];
	size_t have;
};

static int write_all(int fd, const void *p, size_t n)
{
	while (n) {
		ssize_t w = write(fd, p, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return -errno;
		p = (const char *)p + w;
		n -= (size_t)w;
	}
	return 0;
}

static int send_frame(struct session *s, enum oci_frame type, const void *p, size_t n)
{
	struct oci_frame_hdr h = {.type = (uint8_t)type, .len = (uint32_t)n};
	int r = write_all(s->sock, &h, sizeof(h));

	return r ? r : write_all(s->sock, p, n);
}

static void send_winsize(struct session *s)
{
	struct winsize ws;
	uint16_t rc[2];

	if (!s->terminal || ioctl(s->in_fd >= 0 ? s->in_fd : s->out_fd, TIOCGWINSZ, &ws))
		return;
	rc[0] = ws.ws_row;
	rc[1] = ws.ws_col;
	send_frame(s, OCI_F_RESIZE, rc, sizeof(rc));
}

static void output(struct session *s, int fd, const uint8_t *p, size_t n)
{
	/* A reader that went away (EPIPE) must not stop the process: drop its output. */
	if (!s->out_broken && write_all(fd, p, n) == -EPIPE)
		s->out_broken = true;
}

static uint32_t le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* One frame from the guest. Returns 0, or -EPROTO for a malformed one. */
static int guest_frame(struct session *s, uint8_t type, const uint8_t *p, uint32_t n)
{
	switch (type) {
	case OCI_F_STARTED:
		if (n != 4 || s->started)
			return -EPROTO;
		s->started = true;
		if (s->on_start)
			s->on_start(s->arg, 0);
		send_winsize(s);
		return 0;
	case OCI_F_STDOUT:
		output(s, s->out_fd, p, n);
		return 0;
	case OCI_F_STDERR:
		output(s, s->terminal ? s->out_fd : s->err_fd, p, n);
		return 0;
	case OCI_F_ERROR: {
		char msg[512];
		snprintf(msg, sizeof(msg), "lodge-oci: %.*s\n", (int)(n > 400 ? 400 : n),
			 (const char *)p);
		for (char *q = msg + 11; *q && q[1]; q++) /* text from the guest: printable */
			if ((unsigned char)*q < 32 || *q == 127)
				*q = '?';
		output(s, s->err_fd, (const uint8_t *)msg, strlen(msg));
		if (!s->started && s->on_start)
			s->on_start(s->arg, -ENOEXEC);
		s->on_start = NULL;
		return 0;
	}
	case OCI_F_WB_BEGIN:
	case OCI_F_WB_ENTRY:
	case OCI_F_WB_DATA:
	case OCI_F_WB_END:
		return s->wb ? oci_wb_frame(s->wb, type, p, n) : -EPROTO;
	case OCI_F_EXIT:
		if (n != 4)
			return -EPROTO;
		s->ws = (int)(le32(p) & 0xffff);
		s->exited = true;
		return 0;
	default:
		return -EPROTO;
	}
}

int oci_frame_next(const uint8_t *buf, size_t have, uint8_t *type, uint32_t *len)
{
	if (have < sizeof(struct oci_frame_hdr))
		return 0;
	*type = buf[0];
	*len = le32(buf + 4);
	if (*type == 0 || *type >= OCI_F_COUNT || *len > OCI_FRAME_MAX)
		return -EPROTO;
	return have - sizeof(struct oci_frame_hdr) >= *len;
}

/* Reads what the guest sent and handles every complete frame. Returns 1 at the end of the
 * stream, 0, or a negative errno. */
static int from_guest(struct session *s)
{
	size_t off = 0;
	ssize_t n = read(s->sock, s->buf + s->have, sizeof(s->buf) - s->have);
	uint8_t type;
	uint32_t len;
	int r;

	if (n < 0)
		return errno == EINTR || errno == EAGAIN ? 0 : -errno;
	if (n == 0)
		return 1;
	s->have += (size_t)n;
	while ((r = oci_frame_next(s->buf + off, s->have - off, &type, &len)) == 1) {
		r = guest_frame(s, type, s->buf + off + sizeof(struct oci_frame_hdr), len);
		if (r)
			return r;
		off += sizeof(struct oci_frame_hdr) + len;
	}
	if (r < 0)
		return r;
	memmove(s->buf, s->buf + off, s->have - off);
	s->have -= off;
	return 0;
}

static void from_stdin(struct session *s)
{
	uint8_t buf[32768];
	ssize_t n = read(s->in_fd, buf, sizeof(buf));

	if (n < 0 && (errno == EINTR || errno == EAGAIN))
		return;
	if (n <= 0) {
		send_frame(s, OCI_F_STDIN_EOF, NULL, 0);
		s->in_fd = -1;
		return;
	}
	send_frame(s, OCI_F_STDIN, buf, (size_t)n);
}

/* Whether signal sig's default action ends a process. */
static bool terminates(int sig)
{
	return sig != SIGCHLD && sig != SIGCONT && sig != SIGURG && sig != SIGWINCH &&
	       sig != SIGSTOP && sig != SIGTSTP && sig != SIGTTIN && sig != SIGTTOU;
}

/* A signal for this process. Returns 1 when the session must end now (the process was
 * not started yet and the signal would have killed it: *ws says so). */
static int on_signal(struct session *s)
{
	struct signalfd_siginfo si;
	uint32_t sig;
	int st;

	if (read(s->sigfd, &si, sizeof(si)) != sizeof(si))
		return 0;
	sig = si.ssi_signo;
	if (sig == SIGCHLD) {
		if (s->vm > 0 && waitpid(s->vm, &st, WNOHANG) == s->vm) {
			s->vm = -1;
			oci_err(s->c,
				"the VM stopped (%s %d) before the process ended; its console "
				"is in console.log in the state directory",
				WIFEXITED(st) ? "status" : "signal",
				WIFEXITED(st) ? WEXITSTATUS(st) : WTERMSIG(st));
			return -EIO;
		}
		return 0;
	}
	if (sig == SIGWINCH) {
		send_winsize(s);
		return 0;
	}
	if (s->started) {
		send_frame(s, OCI_F_SIGNAL, &sig, sizeof(sig));
		return 0;
	}
	if (terminates((int)sig)) {
		s->ws = (int)sig; /* as if the process had been killed before it ran */
		return 1;
	}
	return 0;
}

/* Relays until the process's EXIT. Returns its wait status or a negative errno. */
static int relay(struct session *s)
{
	int r;

	while (!s->exited) {
		struct pollfd p[3] = {{s->sock, POLLIN, 0}, {s->sigfd, POLLIN, 0}, {-1, POLLIN, 0}};
		if (s->started && s->in_fd >= 0)
			p[2].fd = s->in_fd;
		if (poll(p, 3, -1) < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (p[1].revents) {
			r = on_signal(s);
			if (r)
				return r > 0 ? s->ws : r;
		}
		if (p[0].revents) {
			r = from_guest(s);
			if (r == 1 && !s->exited) {
				oci_err(s->c, "the guest closed the session before the process "
					      "ended (see console.log in the state directory)");
				return -EPIPE;
			}
			if (r < 0) {
				oci_err(s->c, "session with the guest: %s",
					r == -EPROTO ? "malformed frame" : strerror(-r));
				return r;
			}
		}
		if (p[2].revents)
			from_stdin(s);
	}
	return s->ws;
}

/* Blocks the signals this process forwards, and returns a signalfd for them. */
static int forward_signals(sigset_t *old)
{
	sigset_t set;

	sigfillset(&set);
	sigdelset(&set, SIGKILL);
	sigdelset(&set, SIGSTOP);
	sigdelset(&set, SIGSEGV);
	sigdelset(&set, SIGBUS);
	sigdelset(&set, SIGILL);
	sigdelset(&set, SIGFPE);
	sigdelset(&set, SIGPIPE);
	sigdelset(&set, SIGABRT);
	signal(SIGPIPE, SIG_IGN);
	if (sigprocmask(SIG_BLOCK, &set, old))
		return -1;
	return signalfd(-1, &set, SFD_CLOEXEC);
}

/* The host side of a terminal passes bytes through untouched: the guest's own terminal
 * does the line discipline (echo, ^C). */
static void make_raw(int fd)
{
	struct termios t;

	if (tcgetattr(fd, &t))
		return;
	cfmakeraw(&t);
	tcsetattr(fd, TCSANOW, &t);
}

static int start_session(struct session *s, const struct oci_process *p)
{
	struct sbuf b = {0};
	int r = process_records(p, &b);

	if (!r && b.len > OCI_FRAME_MAX)
		r = -E2BIG;
	if (!r)
		r = send_frame(s, OCI_F_SPEC, b.data, b.len);
	sbuf_fini(&b);
	if (r)
		oci_err(s->c, "cannot send the process to the guest: %s", strerror(-r));
	return r;
}

static void session_init(struct session *s, const struct oci_ctx *c, const struct oci_process *p)
{
	memset(s, 0, sizeof(*s));
	s->c = c;
	s->sock = -1;
	s->in_fd = 0;
	s->out_fd = 1;
	s->err_fd = 2;
	s->terminal = p->terminal;
	if (p->terminal)
		make_raw(0);
}

/* Waits up to `seconds` for the guest's connection; watches the VM meanwhile. */
static int accept_guest(struct session *s, int lfd, int seconds)
{
	struct timespec t0, now;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (;;) {
		struct pollfd p[2] = {{lfd, POLLIN, 0}, {s->sigfd, POLLIN, 0}};
		int r;

		clock_gettime(CLOCK_MONOTONIC, &now);
		if (now.tv_sec - t0.tv_sec >= seconds) {
			oci_err(s->c,
				"the guest did not connect within %d seconds (see "
				"console.log in the state directory)",
				seconds);
			return -ETIMEDOUT;
		}
		if (poll(p, 2, 1000) < 0 && errno != EINTR)
			return -errno;
		if (p[1].revents) {
			r = on_signal(s);
			if (r)
				return r > 0 ? 1 : r;
		}
		if (p[0].revents) {
			s->sock = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
			if (s->sock >= 0)
				return 0;
		}
	}
}

int oci_vm_run(const struct oci_ctx *c, const struct oci_state *st, const struct oci_spec *spec,
	       struct oci_wb *wb)
{
	struct session *s = core_calloc(1, sizeof(*s));
	char gdir[PATH_MAX];
	sigset_t old;
	int lfd = -1, r;

	if (!s)
		return -ENOMEM;
	session_init(s, c, &spec->proc);
	s->wb = wb;
	(void)st;
	r = find_guest(c, gdir, sizeof(gdir));
	if (r)
		goto out;
	s->sigfd = forward_signals(&old);
	lfd = listen_main(c);
	if (s->sigfd < 0 || lfd < 0) {
		r = -EIO;
		goto out;
	}
	s->vm = start_vm(c, spec, gdir);
	if (s->vm < 0) {
		r = -EIO;
		goto out;
	}
	r = accept_guest(s, lfd, BOOT_TIMEOUT);
	if (r == 1) {
		r = s->ws;
		goto out;
	}
	if (r == 0)
		r = start_session(s, &spec->proc);
	if (r == 0)
		r = relay(s);
out:
	if (s->vm > 0) {
		kill(s->vm, SIGKILL);
		waitpid(s->vm, NULL, 0);
	}
	if (lfd >= 0)
		close(lfd);
	if (s->sock >= 0)
		close(s->sock);
	core_free(s);
	return r;
}

/* One attempt at the guest's exec port through the vsock device's socket: the fd, or -1
 * (errno set) when the device or the guest's listener is not there (yet). */
static int try_exec_port(void)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	char line[64], req[32];
	size_t n = 0;
	int fd;

	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", VSOCK_PATH);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)))
		goto fail;
	snprintf(req, sizeof(req), "CONNECT %d\n", OCI_PORT_EXEC);
	if (write_all(fd, req, strlen(req)))
		goto fail;
	while (n < sizeof(line) - 1) {
		ssize_t k = read(fd, line + n, 1);
		if (k <= 0) {
			errno = k ? errno : ECONNREFUSED;
			goto fail;
		}
		if (line[n++] == '\n')
			break;
	}
	line[n] = 0;
	if (!strncmp(line, "OK ", 3))
		return fd;
	errno = ECONNREFUSED;
fail:
	close(fd);
	return -1;
}

/* Connects to the guest's exec port, waiting while the VM boots (an engine may exec as
 * soon as start returned). */
static int connect_exec(const struct oci_ctx *c, const struct oci_state *st)
{
	struct timespec t0, now;
	int fd;

	if (chdir(st->dir)) {
		oci_err(c, "cannot enter %s: %s", st->dir, strerror(errno));
		return -1;
	}
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (;;) {
		fd = try_exec_port();
		if (fd >= 0)
			return fd;
		clock_gettime(CLOCK_MONOTONIC, &now);
		if (!oci_pid_alive(st->pid, st->pid_start) || now.tv_sec - t0.tv_sec > BOOT_TIMEOUT)
			break;
		nanosleep(&(struct timespec){0, 100 * 1000 * 1000}, NULL);
	}
	oci_err(c, "the container's VM did not accept an exec session: %s",
		oci_pid_alive(st->pid, st->pid_start) ? strerror(errno) : "the container stopped");
	return -1;
}

int oci_vm_exec(const struct oci_ctx *c, const struct oci_state *st, const struct oci_process *p,
		void (*started)(void *arg, int err), void *arg)
{
	struct session *s = core_calloc(1, sizeof(*s));
	sigset_t old;
	int r;

	if (!s)
		return -ENOMEM;
	session_init(s, c, p);
	s->on_start = started;
	s->arg = arg;
	s->sigfd = forward_signals(&old);
	s->sock = connect_exec(c, st);
	r = s->sock < 0 || s->sigfd < 0 ? -EIO : start_session(s, p);
	if (r == 0)
		r = relay(s);
	if (r < 0 && s->on_start && !s->started)
		s->on_start(s->arg, r);
	if (s->sock >= 0)
		close(s->sock);
	core_free(s);
	return r;
}
