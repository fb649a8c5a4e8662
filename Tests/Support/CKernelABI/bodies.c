#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "kabi_bodies.h"
#include "kabi_program.h"
#include "kabi_raw.h"
#include "kabi_syscalls.h"

/* Sandbox bodies: raw syscalls only, no malloc, no stdio. */

long kabi_op_clone3(const struct kabi_body_context *ctx, int32_t step, const struct kabi_step *s)
{
	siginfo_t info;
	long r = kabi_sys(KABI_SYS_CLONE3, (void *)(uintptr_t)s->args[0], (size_t)s->args[1]);

	if (r == 0) {
		kabi_report_self(ctx, KABI_REPORT_CHILD, step, kabi_sys(SYS_getppid));
		kabi_sys(SYS_exit_group, 0);
	}
	if (r > 0) {
		long w = kabi_reap(r, &info);

		kabi_report_self(ctx, KABI_REPORT_CHILD_EXIT, step,
				 w < 0 ? w : kabi_wait_status(&info));
	}
	return r;
}

int kabi_body_probe_level(const struct kabi_body_context *ctx)
{
	pid_t tids[KABI_MAX_PID_NS_LEVEL + 1];
	struct kabi_clone_args a;
	int64_t level = -EINVAL;
	siginfo_t info;

	/* PID 1 is taken at the innermost level, so no request below can create a process. */
	for (int i = 0; i <= KABI_MAX_PID_NS_LEVEL; i++)
		tids[i] = 1;
	for (int size = 1; size <= KABI_MAX_PID_NS_LEVEL + 1; size++) {
		long r;

		kabi_zero(&a, sizeof(a));
		a.exit_signal = SIGCHLD;
		a.set_tid = (uint64_t)(uintptr_t)tids;
		a.set_tid_size = (uint64_t)size;
		r = kabi_sys(KABI_SYS_CLONE3, &a, sizeof(a));
		if (r == 0)
			kabi_sys(SYS_exit_group, 0);
		if (r > 0)
			kabi_reap(r, &info);
		if (r == -EINVAL)
			break;
		if (r < 0 && r != -EEXIST && r != -EPERM) {
			level = r;	/* set_tid unsupported (E2BIG before 5.5) or blocked */
			break;
		}
		level = size - 1;
	}
	kabi_report_self(ctx, KABI_REPORT_LEVEL, 0, level);
	return 0;
}

int kabi_body_nest_pid_namespaces(const struct kabi_body_context *ctx)
{
	siginfo_t info;
	int64_t made = 0;

	for (;;) {
		long child = kabi_fork(KABI_CLONE_NEWPID);

		if (child == 0) {
			kabi_sys(SYS_prctl, PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
			made++;
			continue;
		}
		if (child < 0) {
			kabi_report_self(ctx, KABI_REPORT_LEVEL, (int32_t)child, made);
			return 0;
		}
		if (kabi_reap(child, &info) < 0)
			return KABI_SANDBOX_SETUP_EXIT;
		kabi_sys(SYS_exit_group, info.si_code == CLD_EXITED ? info.si_status : 128);
	}
}
