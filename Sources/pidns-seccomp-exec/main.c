/*
 * pidns-seccomp-exec: run a program with some syscalls refused, the way a
 * container's seccomp profile refuses them (Docker's profiles from before 2020
 * answer EPERM for clone3 and the pidfd calls).
 *
 *   pidns-seccomp-exec [--errno ENAME|N] [--program-only] SYSCALL[,SYSCALL...]
 *                      -- PROGRAM [ARGS...]
 *
 * Sets PR_SET_NO_NEW_PRIVS, installs a classic-BPF filter that answers the
 * listed x86-64 syscalls with the errno (default EPERM) and allows every other,
 * then execs PROGRAM.
 * --program-only refuses them only when PROGRAM's own code makes them, not the
 * shared libraries: in the containers of 2019, glibc predated clone3 and made
 * threads with clone, while glibc 2.34 and later make every thread with clone3
 * and fall back only on ENOSYS, so a plain EPERM filter stops the Swift runtime
 * from starting a thread at all. PROGRAM then runs with ADDR_NO_RANDOMIZE, which
 * puts a PIE executable at 0x555555554000 and the libraries near 0x7fff.... The filter is inherited by every child and survives exec.
 * Syscalls of other ABIs (i386, x32) get ENOSYS: their numbers differ.
 * Exit status: PROGRAM's; 64 bad usage; 71 the filter could not be installed;
 * 126/127 PROGRAM could not be executed.
 */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/personality.h>
#include <sys/prctl.h>
#include <unistd.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>

#define X32_SYSCALL_BIT 0x40000000u
#define MAX_SYSCALLS 32
#define STMT(code, k) ((struct sock_filter)BPF_STMT(code, k))
#define JEQ(k, jt, jf) ((struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, k, jt, jf))
#define JGE(k, jt, jf) ((struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JGE | BPF_K, k, jt, jf))
#define ERRNO(e) STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | (e))
#define LOAD(field) STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, field))
/* The upper half of instruction_pointer (little endian) of a PIE loaded without ASLR. */
#define LOAD_IP_HIGH STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, instruction_pointer) + 4)
#define PIE_BASE_HIGH 0x5555u

/* Our own numbers (x86-64): the build host's headers may predate the calls. */
static const struct { const char *name; unsigned int nr; } syscalls[] = {
	{ "clone", 56 }, { "unshare", 272 }, { "setns", 308 }, { "pidfd_send_signal", 424 },
	{ "pidfd_open", 434 }, { "clone3", 435 }, { "pidfd_getfd", 438 },
};

static const struct { const char *name; int value; } errnos[] = {
	{ "EPERM", EPERM }, { "ENOENT", ENOENT }, { "EAGAIN", EAGAIN }, { "ENOMEM", ENOMEM },
	{ "EACCES", EACCES }, { "EINVAL", EINVAL }, { "ENOSYS", ENOSYS },
};

static void usage(FILE *out)
{
	fprintf(out, "usage: pidns-seccomp-exec [--errno ENAME|N] [--program-only] "
		"SYSCALL[,SYSCALL...] -- PROGRAM [ARGS...]\n"
		"  --program-only: refuse them only from PROGRAM's own code, not its libraries\n"
		"  SYSCALL: a number or one of:");
	for (size_t i = 0; i < sizeof(syscalls) / sizeof(syscalls[0]); i++)
		fprintf(out, " %s", syscalls[i].name);
	fprintf(out, "\n  ENAME (default EPERM): a number or one of:");
	for (size_t i = 0; i < sizeof(errnos) / sizeof(errnos[0]); i++)
		fprintf(out, " %s", errnos[i].name);
	fprintf(out, "\n");
}

static _Noreturn void bad_usage(const char *what, const char *arg)
{
	fprintf(stderr, "pidns-seccomp-exec: %s '%s' (see --help)\n", what, arg);
	exit(64);
}

/* A decimal number below limit, or -1. */
static long number(const char *s, long limit)
{
	char *end;
	long n;

	if (*s < '0' || *s > '9')
		return -1;
	errno = 0;
	n = strtol(s, &end, 10);
	return (*end || errno || n >= limit) ? -1 : n;
}

static unsigned int syscall_number(const char *name)
{
	long n = number(name, X32_SYSCALL_BIT);

	for (size_t i = 0; n < 0 && i < sizeof(syscalls) / sizeof(syscalls[0]); i++)
		if (strcmp(name, syscalls[i].name) == 0)
			n = syscalls[i].nr;
	if (n < 0)
		bad_usage("unknown syscall", name);
	return (unsigned int)n;
}

static int errno_value(const char *name)
{
	long n = number(name, 4096); /* SECCOMP_RET_DATA holds up to MAX_ERRNO */

	for (size_t i = 0; n < 0 && i < sizeof(errnos) / sizeof(errnos[0]); i++)
		if (strcmp(name, errnos[i].name) == 0)
			n = errnos[i].value;
	if (n <= 0)
		bad_usage("unknown errno", name);
	return (int)n;
}

int main(int argc, char **argv)
{
	struct sock_filter prog[6 + 5 * MAX_SYSCALLS + 1];
	struct sock_fprog fprog = { .filter = prog };
	unsigned short n = 0;
	int err = EPERM, arg = 1, count = 0, program_only = 0;

	if (argc > 1 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
		usage(stdout);
		return 0;
	}
	if (argc > 2 && !strcmp(argv[1], "--errno")) {
		err = errno_value(argv[2]);
		arg = 3;
	}
	if (argc > arg && !strcmp(argv[arg], "--program-only")) {
		program_only = 1;
		arg++;
	}
	if (argc - arg < 3 || strcmp(argv[arg + 1], "--") != 0) {
		usage(stderr);
		return 64;
	}

	prog[n++] = LOAD(arch);
	prog[n++] = JEQ(AUDIT_ARCH_X86_64, 1, 0);
	prog[n++] = ERRNO(ENOSYS);
	prog[n++] = LOAD(nr);
	prog[n++] = JGE(X32_SYSCALL_BIT, 0, 1);
	prog[n++] = ERRNO(ENOSYS);
	for (char *name = strtok(argv[arg], ","); name; name = strtok(NULL, ",")) {
		if (++count > MAX_SYSCALLS)
			bad_usage("too many syscalls in", name);
		if (!program_only) {
			prog[n++] = JEQ(syscall_number(name), 0, 1);
			prog[n++] = ERRNO((unsigned int)err);
			continue;
		}
		prog[n++] = JEQ(syscall_number(name), 0, 4);
		prog[n++] = LOAD_IP_HIGH;
		prog[n++] = JEQ(PIE_BASE_HIGH, 0, 1);
		prog[n++] = ERRNO((unsigned int)err);
		prog[n++] = STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW);
	}
	if (count == 0)
		bad_usage("no syscall in", argv[arg]);
	prog[n++] = STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW);
	fprog.len = n;

	if ((program_only && personality(ADDR_NO_RANDOMIZE) < 0) ||
	    prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0 ||
	    prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &fprog, 0, 0) < 0) {
		perror("pidns-seccomp-exec: install the seccomp filter");
		return 71;
	}
	execvp(argv[arg + 2], argv + arg + 2);
	fprintf(stderr, "pidns-seccomp-exec: %s: %s\n", argv[arg + 2], strerror(errno));
	return errno == ENOENT ? 127 : 126;
}
