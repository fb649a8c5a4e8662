#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "kabi_files.h"
#include "kabi_raw.h"
#include "kabi_sandbox.h"
#include "kabi_syscalls.h"
#include "kabi_processes.h"
#include "sandbox_level.h"

/* Sandbox levels: raw syscalls only, no malloc, no stdio, and no writes outside the stack. */

/* Makes the new user namespace's root the creator; reports the step that failed, if any. */
static long map_root(const struct kabi_body_context *ctx, unsigned long outer_uid,
		     unsigned long outer_gid)
{
	int failed;
	long r = kabi_map_ids(0, (long)outer_uid, (long)outer_gid, &failed);

	if (r < 0)
		kabi_report_self(ctx, KABI_REPORT_SETUP_FAILED, failed, r);
	return r;
}

static void close_range_or_loop(unsigned int first, unsigned int last)
{
	if (first > last)
		return;
	if (kabi_sys(KABI_SYS_CLOSE_RANGE, first, last, 0) == 0)
		return;
	/* close_range is 5.9+; fds above 4096 are not opened by this suite. */
	for (unsigned int fd = first; fd <= last && fd < 4096; fd++)
		kabi_sys(SYS_close, fd);
}

/*
 * Other tests clone concurrently, so this process may hold their pipes' write ends; closing
 * them keeps every sandbox's fds private to it.
 */
static void close_other_fds(const struct kabi_sandbox_spec *spec, int report_fd)
{
	int keep[KABI_SANDBOX_KEEP_FDS + 1], n = 0;
	unsigned int next = 3;

	keep[n++] = report_fd;
	for (int i = 0; i < KABI_SANDBOX_KEEP_FDS; i++)
		if (spec->keep_fds[i] >= 3)
			keep[n++] = spec->keep_fds[i];
	for (int i = 1; i < n; i++)	/* insertion sort: at most five entries */
		for (int j = i; j > 0 && keep[j - 1] > keep[j]; j--) {
			int t = keep[j];

			keep[j] = keep[j - 1];
			keep[j - 1] = t;
		}
	for (int i = 0; i < n; i++) {
		if ((unsigned int)keep[i] < next)
			continue;
		close_range_or_loop(next, (unsigned int)keep[i] - 1);
		next = (unsigned int)keep[i] + 1;
	}
	close_range_or_loop(next, ~0U);
}

/*
 * The test process has Swift's crash handlers installed; a sandbox process must never run
 * them (they are Swift code), so every signal goes back to its default and none is blocked.
 * sigaction and sigprocmask are async-signal-safe.
 */
static void reset_signals(void)
{
	/* The kernel's struct sigaction (rt_sigaction), not glibc's: no errno, no TLS. */
	struct {
		unsigned long handler;
		unsigned long flags;
		unsigned long restorer;
		uint64_t mask;
	} dfl;
	uint64_t none = 0;

	/* Field by field: an initializer may compile to a memset call. */
	dfl.handler = (unsigned long)SIG_DFL;
	dfl.flags = 0;
	dfl.restorer = 0;
	dfl.mask = 0;

	for (int sig = 1; sig <= 64; sig++)
		kabi_sys(SYS_rt_sigaction, sig, &dfl, NULL, sizeof(dfl.mask));	/* KILL, STOP: refused */
	kabi_sys(SYS_rt_sigprocmask, SIG_SETMASK, &none, NULL, sizeof(none));
}

static int level_entry(void *start);

#if KABI_SANDBOX_SHARES_MEMORY
__asm__(".text\n"
	".globl kabi_clone_on_stack\n"
	".type kabi_clone_on_stack, @function\n"
	"kabi_clone_on_stack:\n"
	"	and $-16, %rsi\n"
	"	sub $16, %rsi\n"
	"	mov %rcx, 8(%rsi)\n"	/* fn, popped by the child */
	"	mov %r8, 0(%rsi)\n"	/* arg */
	"	xor %r10d, %r10d\n"	/* child_tid */
	"	xor %r8d, %r8d\n"	/* tls */
	"	mov $56, %eax\n"	/* __NR_clone: flags, stack, parent_tid (pidfd), child_tid, tls */
	"	syscall\n"
	"	test %rax, %rax\n"
	"	jz 1f\n"
	"	ret\n"
	"1:	xor %ebp, %ebp\n"
	"	pop %rdi\n"
	"	pop %rax\n"
	"	call *%rax\n"
	"	mov %eax, %edi\n"
	"	mov $231, %eax\n"	/* __NR_exit_group */
	"	syscall\n"
	"	hlt\n"
	".size kabi_clone_on_stack, .-kabi_clone_on_stack\n");
#endif

long kabi_sandbox_clone_level(struct level_start *start, int *pidfd)
{
	int same_user_ns = start->spec->outer_user_ns && start->level == 1;
	unsigned long flags = (same_user_ns ? 0 : CLONE_NEWUSER) | CLONE_NEWPID | SIGCHLD |
			      (pidfd ? CLONE_PIDFD : 0);
	char *top = start->stacks + (unsigned long)start->level * start->slot_bytes;
#if KABI_SANDBOX_SHARES_MEMORY
	return kabi_clone_on_stack(flags | CLONE_VM, top, pidfd, level_entry, start);
#else
	long r = clone(level_entry, top, (int)flags, start, pidfd);	/* memory is copied */

	return r < 0 ? -errno : r;
#endif
}

static int exit_code_of(const siginfo_t *info)
{
	return info->si_code == CLD_EXITED ? info->si_status : 128 + info->si_status;
}

/*
 * Whether the test process died before PR_SET_PDEATHSIG took hold, which then never comes: a
 * killed run would leave this level 1 running its case for ever (the deeper levels die with
 * it, the init of their namespaces). A dying process closes its files before it lets its
 * children go, so by then no one reads the report pipe and its write end polls POLLERR.
 */
static int test_process_gone(int report_fd)
{
	struct pollfd p;

	p.fd = report_fd;
	p.events = POLLOUT;
	p.revents = 0;
	return kabi_sys(SYS_poll, &p, 1, 0) > 0 && (p.revents & POLLERR);
}

static int level_entry(void *start)
{
	const struct level_start *s = start;
	const struct kabi_sandbox_spec *spec = s->spec;
	struct kabi_body_context ctx = { .report_fd = s->report_fd, .level = s->level,
					 .arg = s->arg, .scratch = s->scratch,
					 .scratch_bytes = BODY_SCRATCH };
	struct level_start next;
	siginfo_t info;
	long child, r;

	/* The parent level (or the test thread) going away must take the sandbox with it. */
	kabi_sys(SYS_prctl, PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
	kabi_sys(SYS_prctl, PR_SET_NAME, spec->name, 0, 0, 0);
	if (s->level == 1) {
		kabi_sys(SYS_close, s->parent_fd);
		if (test_process_gone(s->report_fd))
			kabi_sys(SYS_exit_group, KABI_SANDBOX_SETUP_EXIT);
		reset_signals();
		close_other_fds(spec, s->report_fd);
	}
	if (!spec->leave_unmapped && !(spec->outer_user_ns && s->level == 1) &&
	    map_root(&ctx, s->outer_uid, s->outer_gid) < 0)
		kabi_sys(SYS_exit_group, KABI_SANDBOX_SETUP_EXIT);
	kabi_report_self(&ctx, KABI_REPORT_LEVEL_READY, 0, 0);

	if ((uint32_t)s->level >= spec->levels)
		kabi_sys(SYS_exit_group, s->body(&ctx) & 0xff);

	kabi_copy(&next, s, sizeof(next));
	next.level = s->level + 1;
	next.outer_uid = kabi_sys(SYS_getuid);
	next.outer_gid = kabi_sys(SYS_getgid);
	child = kabi_sandbox_clone_level(&next, NULL);
	if (child < 0) {
		kabi_report_self(&ctx, KABI_REPORT_SETUP_FAILED, KABI_STEP_CLONE_LEVEL, child);
		kabi_sys(SYS_exit_group, KABI_SANDBOX_SETUP_EXIT);
	}
	do
		r = kabi_sys(SYS_waitid, P_PID, child, &info, WEXITED, 0);
	while (r == -EINTR);
	if (r < 0) {
		kabi_report_self(&ctx, KABI_REPORT_SETUP_FAILED, KABI_STEP_WAIT_LEVEL, r);
		kabi_sys(SYS_exit_group, KABI_SANDBOX_SETUP_EXIT);
	}
	kabi_sys(SYS_exit_group, exit_code_of(&info));
	return 0;
}
