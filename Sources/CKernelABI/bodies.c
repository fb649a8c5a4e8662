#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "kabi_bodies.h"
#include "kabi_files.h"
#include "kabi_processes.h"
#include "kabi_program.h"
#include "kabi_raw.h"
#include "kabi_syscalls.h"

/* Sandbox bodies: raw syscalls only, no malloc, no stdio. */

/* Makes the call; the child reports and exits, its creator reports what it sees and reaps. */
static long create(const struct kabi_body_context *ctx, int32_t step,
		   const struct kabi_clone_args *args, size_t size, const int64_t *options)
{
	siginfo_t info;
	char byte;
	long hold_fd = (long)options[KABI_CLONE3_HOLD];
	long r = kabi_sys(KABI_SYS_CLONE3, args, size);
	if (r == 0) {
		kabi_report_self(ctx, KABI_REPORT_CHILD, step,
				 options[KABI_CLONE3_CHILD_READS_PID_MAX]
					 ? kabi_read_int("/proc/sys/kernel/pid_max")
					 : kabi_sys(SYS_getppid));
		if (hold_fd >= 0)
			while (kabi_sys(SYS_read, hold_fd, &byte, 1) == -EINTR)
				;
		kabi_sys(SYS_exit_group, 0);
	}
	if (r <= 0)
		return r;
	/* A CLONE_PARENT child's parent must be its caller's parent (the args were readable). */
	if (args->flags & KABI_CLONE_PARENT)
		kabi_report_field(ctx, step, "callersParent", kabi_sys(SYS_getppid));
	if (options[KABI_CLONE3_CREATOR_VIEW]) {
		long pidfd = kabi_sys(KABI_SYS_PIDFD_OPEN, r, 0);

		if (pidfd >= 0)
			kabi_sys(SYS_close, pidfd);
		else if (pidfd == -EPERM || pidfd == -ENOSYS)
			pidfd = kabi_sys(SYS_kill, r, 0);
		kabi_report_field(ctx, step, "creatorView", pidfd < 0 ? pidfd : 0);
	}
	/* A CLONE_PARENT child is its creator's sibling: the creator's parent reaps it. */
	if (!(args->flags & KABI_CLONE_PARENT)) {
		long w = kabi_reap(r, &info);

		kabi_report_self(ctx, KABI_REPORT_CHILD_EXIT, step,
				 w < 0 ? w : kabi_wait_status(&info));
	}
	return r;
}

/*
 * A helper child makes the call and sends back what clone3 returned; with CLONE_PARENT the new
 * process is the caller's child, and the caller reaps that PID, not one it asked for.
 */
static long create_from_child(const struct kabi_body_context *ctx, int32_t step,
			      const struct kabi_clone_args *args, size_t size, const int64_t *options)
{
	siginfo_t info;
	long returned = 0, helper, r;
	int made[2];

	if ((r = kabi_sys(SYS_pipe2, made, O_CLOEXEC)) < 0)
		goto broken;
	helper = kabi_fork(0);
	if (helper == 0) {
		kabi_sys(SYS_close, made[0]);
		r = create(ctx, step, args, size, options);
		kabi_sys(SYS_write, made[1], &r, sizeof(r));
		kabi_sys(SYS_exit_group, 0);
	}
	r = kabi_helper_result(helper, made, &returned);
	if (helper > 0 && kabi_reap(helper, &info) < 0)
		r = -ECHILD;
	if (r < 0)
		goto broken;
	if (returned > 0 && (args->flags & KABI_CLONE_PARENT)) {
		long w = kabi_reap(returned, &info);

		kabi_report_self(ctx, KABI_REPORT_CHILD_EXIT, step,
				 w < 0 ? w : kabi_wait_status(&info));
	}
	return returned;
broken:
	kabi_report_named(ctx, KABI_REPORT_SETUP_FAILED, step, "helper", r);
	return KABI_STEP_ABORTED;
}

/*
 * clone3: clone3(args, size), once. A child reports CHILD (value: its getppid(), or with
 * childReadsPidMax its own pid_max) and exits 0; its creator reaps it and reports CHILD_EXIT with
 * its wait status. The bytes may be deliberately bad. fromChild: a child of the caller makes the
 * call (an init may not use CLONE_PARENT); hold: a descriptor the child reads a byte from before
 * it exits (-1: none), so the test process can look at it first; creatorView (on unless 0):
 * report field creatorView, 0 when the creator can open a pidfd for the returned PID in its own
 * namespace (kill(pid, 0) where seccomp refuses pidfd_open), else -errno. With CLONE_PARENT the caller
 * reports its parent as field callersParent. The args' mask: bit i makes set_tid[i] an offset
 * from the caller's pid_max, read just before the call (reported as field pid_max).
 */
KABI_OP(op_clone3, "clone3", "clone3", { "clone_args", KABI_ARG_CLONE_ARGS, 0 },
	{ "fromChild", KABI_ARG_NUMBER, KABI_CLONE3_FROM_CHILD },
	{ "hold", KABI_ARG_NUMBER, KABI_CLONE3_HOLD, -1 },
	{ "childReadsPidMax", KABI_ARG_NUMBER, KABI_CLONE3_CHILD_READS_PID_MAX },
	{ "creatorView", KABI_ARG_NUMBER, KABI_CLONE3_CREATOR_VIEW, 1 })
{
	const struct kabi_body_context *ctx = call->ctx;
	int32_t step = call->step;
	const struct kabi_clone_args *args = (const void *)(uintptr_t)call->args[0];
	size_t size = (size_t)call->args[1];
	uint64_t relative = (uint64_t)call->args[2];
	struct kabi_clone_args resolved;
	int32_t tids[KABI_MAX_PID_NS_LEVEL + 1];

	if (relative) {
		/* The PIDs are offsets from pid_max here: the call gets a copy with them resolved. */
		int64_t pid_max = kabi_read_int("/proc/sys/kernel/pid_max");
		const int32_t *given = (const int32_t *)(uintptr_t)args->set_tid;

		if (pid_max < 0)
			return kabi_setup_failed(call, "read pid_max", pid_max);
		kabi_report_field(ctx, step, "pid_max", pid_max);
		kabi_copy(&resolved, args, sizeof(resolved));
		for (uint64_t i = 0; i < args->set_tid_size && i <= KABI_MAX_PID_NS_LEVEL; i++)
			tids[i] = (int32_t)(given[i] + (relative & (1ULL << i) ? pid_max : 0));
		resolved.set_tid = (uint64_t)(uintptr_t)tids;
		args = &resolved;
	}
	if (call->args[KABI_CLONE3_FROM_CHILD])
		return create_from_child(ctx, step, args, size, call->args);
	return create(ctx, step, args, size, call->args);
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
