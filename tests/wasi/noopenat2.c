/*
 * Runs a command with openat2 blocked by a seccomp filter, as a sandboxing host (or a kernel
 * older than 5.6) would leave it:
 *   noopenat2 enosys COMMAND [ARGS...]   openat2 fails with ENOSYS
 *   noopenat2 eperm COMMAND [ARGS...]    openat2 fails with EPERM (older container profiles)
 *   noopenat2 kill COMMAND [ARGS...]     the process is killed (SIGSYS) if it calls openat2
 * Every other system call is allowed. Used by tests/wasi/suite.sh to force the WASI path
 * walker's fallback and to prove when openat2 is (not) called.
 */
#include <errno.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#if defined(__x86_64__)
#define NATIVE_ARCH AUDIT_ARCH_X86_64
#elif defined(__aarch64__)
#define NATIVE_ARCH AUDIT_ARCH_AARCH64
#else
#error "noopenat2: add this architecture's AUDIT_ARCH value"
#endif

#ifndef SYS_openat2
#define SYS_openat2 437
#endif

int main(int argc, char **argv)
{
	unsigned int action;

	if (argc < 3) {
		fprintf(stderr, "usage: noopenat2 enosys|eperm|kill COMMAND [ARGS...]\n");
		return 2;
	}
	if (!strcmp(argv[1], "enosys"))
		action = SECCOMP_RET_ERRNO | ENOSYS;
	else if (!strcmp(argv[1], "eperm"))
		action = SECCOMP_RET_ERRNO | EPERM;
	else if (!strcmp(argv[1], "kill"))
		action = SECCOMP_RET_KILL_PROCESS;
	else {
		fprintf(stderr, "noopenat2: unknown action '%s'\n", argv[1]);
		return 2;
	}

	struct sock_filter code[] = {
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, NATIVE_ARCH, 1, 0),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_openat2, 0, 1),
		BPF_STMT(BPF_RET | BPF_K, action),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
	};
	struct sock_fprog prog = {sizeof(code) / sizeof(code[0]), code};

	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) ||
	    prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog, 0, 0)) {
		fprintf(stderr, "noopenat2: cannot install the seccomp filter: %s\n",
			strerror(errno));
		return 125;
	}
	execvp(argv[2], argv + 2);
	fprintf(stderr, "noopenat2: cannot run %s: %s\n", argv[2], strerror(errno));
	return 127;
}
