#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include "clone3_effects.h"
#include "kabi_clone3.h"
#include "kabi_processes.h"
#include "kabi_program.h"
#include "kabi_raw.h"

/*
 * clone3's effects on who the child's parent is and when the parent runs: CLONE_PARENT and
 * CLONE_VFORK. Sandbox code: raw syscalls only, no malloc, no stdio.
 */

/*
 * clone-parent: a helper child of the caller makes clone3(CLONE_PARENT|flags, exit_signal 0);
 * the new process reports field parent (its getppid()) and waits. While the helper still
 * lives, the caller reports field ownChild (1 when waitid finds the new process among its own
 * children). The helper is let go and reaped and its SIGCHLD discarded; then the new process
 * is let go, and once it is a zombie the caller reports field signal, the signal its exit sent
 * (0: none), and reaps it. Returns what the helper's clone3 returned.
 */
KABI_OP(op_clone_parent, "clone-parent", "clone3", { "flags", KABI_ARG_FLAGS, 0 })
{
	const struct kabi_body_context *ctx = call->ctx;
	int made[2], hold_helper[2], hold_child[2];
	siginfo_t info;
	uint64_t old;
	long helper, child = 0, r;

	if ((r = kabi_sys(SYS_pipe2, hold_helper, O_CLOEXEC)) < 0 ||
	    (r = kabi_sys(SYS_pipe2, hold_child, O_CLOEXEC)) < 0)
		return kabi_setup_failed(call, "pipe2", r);
	if ((helper = kabi_fork_helper(call, made, &old)) == KABI_STEP_ABORTED)
		return helper;
	if (helper == 0) {
		struct kabi_clone_args a;

		/* Neither the helper nor the new process keeps a write end it waits on. */
		kabi_sys(SYS_close, hold_helper[1]);
		kabi_sys(SYS_close, hold_child[1]);
		kabi_args_for(&a, KABI_CLONE_PARENT | (uint64_t)call->args[0], 0);
		r = kabi_sys(KABI_SYS_CLONE3, &a, sizeof(a));
		if (r == 0) {
			kabi_sys(SYS_close, made[1]);
			kabi_report_self(ctx, KABI_REPORT_CHILD, call->step, kabi_sys(SYS_getppid));
			kabi_report_field(ctx, call->step, "parent", kabi_sys(SYS_getppid));
			kabi_wait_for_eof(hold_child[0]);
			kabi_sys(SYS_exit_group, 0);
		}
		kabi_sys(SYS_write, made[1], &r, sizeof(r));
		kabi_wait_for_eof(hold_helper[0]);
		kabi_sys(SYS_exit_group, 0);
	}
	kabi_sys(SYS_close, hold_helper[0]);
	kabi_sys(SYS_close, hold_child[0]);
	r = kabi_helper_result(helper, made, &child);
	if (r > 0 && child > 0) {
		long w = kabi_sys(SYS_waitid, P_PID, child, &info,
				  WEXITED | WNOHANG | WNOWAIT | KABI_WAIT_ALL, 0);

		kabi_report_field(ctx, call->step, "ownChild", w == 0);
	}
	kabi_sys(SYS_close, hold_helper[1]);
	if (helper > 0 && kabi_reap(helper, &info) < 0)
		r = -ECHILD;
	while (kabi_take_signal(&info) > 0)
		;
	kabi_sys(SYS_close, hold_child[1]);
	if (r > 0 && child > 0) {
		long w = kabi_wait_exited(child);

		kabi_report_field(ctx, call->step, "signal", w < 0 ? w : kabi_take_signal(&info));
		kabi_reap_child(ctx, call->step, child);
	}
	kabi_restore_signals(&old);
	if (r < 0)
		return kabi_setup_failed(call, "helper", r);
	return child;
}

/*
 * vfork: clone3(CLONE_VFORK|flags, exit_signal SIGCHLD). Events go to a pipe in the order they
 * happen: '1' the child runs, '2' the child is about to exit, '3' clone3 returned in the
 * caller. Before it exits the child waits (5 s at most) until the caller is no longer running:
 * asleep in the kernel, suspended or, were it not, blocked reading the events. Field order:
 * the events as a decimal number (123: the caller ran only after the child exited). BROKEN when
 * the child never saw the caller stop running.
 */
KABI_OP(op_vfork, "vfork", "clone3", { "flags", KABI_ARG_FLAGS, 0 })
{
	const struct kabi_body_context *ctx = call->ctx;
	struct kabi_clone_args a;
	int events[2];
	long stat, r, order = 0, gave_up = 0;
	char mark;

	if ((stat = kabi_step_open(call, "/proc/self/stat")) < 0)
		return KABI_STEP_ABORTED;
	if ((r = kabi_sys(SYS_pipe2, events, O_CLOEXEC)) < 0) {
		kabi_sys(SYS_close, stat);
		return kabi_setup_failed(call, "pipe2", r);
	}
	kabi_args_for(&a, KABI_CLONE_VFORK | (uint64_t)call->args[0], SIGCHLD);
	r = kabi_sys(KABI_SYS_CLONE3, &a, sizeof(a));
	if (r == 0) {
		int i = 0;

		mark = '1';
		kabi_sys(SYS_write, events[1], &mark, 1);
		kabi_report_self(ctx, KABI_REPORT_CHILD, call->step, kabi_sys(SYS_getppid));
		while (i++ < KABI_POLL_TRIES && kabi_process_state(stat) == 'R')
			kabi_nap();
		mark = i > KABI_POLL_TRIES ? '9' : '2';
		kabi_sys(SYS_write, events[1], &mark, 1);
		kabi_sys(SYS_exit_group, 0);
	}
	if (r > 0) {
		mark = '3';
		kabi_sys(SYS_write, events[1], &mark, 1);
	}
	kabi_sys(SYS_close, events[1]);
	while (r > 0 && kabi_sys(SYS_read, events[0], &mark, 1) == 1) {
		order = order * 10 + (mark - '0');
		gave_up |= mark == '9';
	}
	kabi_sys(SYS_close, events[0]);
	kabi_sys(SYS_close, stat);
	if (r > 0) {
		kabi_reap_child(ctx, call->step, r);
		kabi_report_field(ctx, call->step, "order", order);
		if (gave_up)
			return kabi_setup_failed(call, "see the caller stop running", -ETIMEDOUT);
	}
	return r;
}
