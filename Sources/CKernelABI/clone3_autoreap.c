#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/ioctl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include "clone3_effects.h"
#include "kabi_clone3.h"
#include "kabi_processes.h"
#include "kabi_files.h"
#include "kabi_program.h"
#include "kabi_raw.h"
#include "kabi_syscalls.h"

/*
 * The lifetime flags of clone3 (7.1), each seen by the process that would see it: a child made
 * with CLONE_AUTOREAP is released by the kernel when it exits (no zombie, no exit signal, even
 * once reparented), CLONE_PARENT from such a child is refused, and CLONE_PIDFD_AUTOKILL kills
 * the child when the pidfd clone3 made is closed. Exits are watched through pidfds and read back
 * with PIDFD_GET_INFO. Sandbox code: raw syscalls only, no malloc, no stdio.
 */

enum {
	PIDFD_INFO_EXIT_BIT = 8,	/* PIDFD_INFO_EXIT (6.15) */
	PIDFD_INFO_VER0 = 64,		/* PIDFD_INFO_SIZE_VER0: mask to exit_code */
	PIDFD_INFO_EXIT_CODE_AT = 60,	/* exit_code, __s32, VER0's last field */
};

/*
 * PIDFD_GET_INFO on pidfd asking for PIDFD_INFO_EXIT: 1 with *status the exit_code (a wait
 * status) when the reply has it, 0 when it has not, or -errno.
 */
static long exit_info(long pidfd, int64_t *status)
{
	uint64_t words[PIDFD_INFO_VER0 / 8];
	int32_t code;
	long r;

	kabi_zero(words, sizeof(words));
	words[0] = PIDFD_INFO_EXIT_BIT;
	r = kabi_sys(SYS_ioctl, pidfd, _IOC(_IOC_READ | _IOC_WRITE, 0xFF, 11, sizeof(words)), words);
	if (r < 0)
		return r;
	if (!(words[0] & PIDFD_INFO_EXIT_BIT))
		return 0;
	kabi_copy(&code, (const unsigned char *)words + PIDFD_INFO_EXIT_CODE_AT, sizeof(code));
	*status = code;
	return 1;
}

/*
 * Waits until the process pidfd refers to (the caller's child pid) has exited: 1 once the pidfd
 * polls POLLHUP (the kernel released the process, nobody having reaped it: pidfd_poll() finds no
 * task), 0 once it is the caller's zombie (waitid WNOWAIT finds it), or -errno. Each poll waits
 * 5 s at most and the sandbox's timeout bounds the whole; between POLLIN and POLLHUP it naps
 * 1 ms at a time, KABI_POLL_TRIES at most (-ETIMEDOUT).
 */
static long wait_released(long pidfd, long pid)
{
	struct pollfd p;
	long r, naps = 0;

	for (;;) {
		p.fd = (int)pidfd;
		p.events = POLLIN;
		p.revents = 0;
		r = kabi_sys(SYS_poll, &p, 1, 5000);
		if (r < 0 && r != -EINTR)
			return r;
		if (p.revents & POLLHUP)
			return 1;
		if (kabi_has_exited(pid) == 1)
			return 0;
		if (p.revents & POLLIN) {
			if (naps++ >= KABI_POLL_TRIES)
				return -ETIMEDOUT;
			kabi_nap();
		}
	}
}

/*
 * What a caller sees once its child pid, watched through pidfd, has exited: fields released
 * (wait_released()), waited (waitid(P_PID, pid, WEXITED|WNOHANG|WNOWAIT|__WALL): si_pid when it
 * finds the child, or -errno), signal (a signal pending for the caller then, 0: none; the caller
 * blocks every signal) and exitInfo (exit_info() once released). Reports CHILD_EXIT with the
 * exit_code PIDFD_INFO_EXIT gives, or reaps a zombie; *status gets that wait status (-1: none).
 */
static void report_exit(const struct kabi_body_context *ctx, int32_t step, long pidfd, long pid,
			int64_t *status)
{
	siginfo_t info;
	long released = wait_released(pidfd, pid), waited, has_exit = 0;

	*status = -1;
	kabi_zero(&info, sizeof(info));
	waited = kabi_sys(SYS_waitid, P_PID, pid, &info, WEXITED | WNOHANG | WNOWAIT | KABI_WAIT_ALL,
			  0);
	kabi_report_field(ctx, step, "released", released);
	kabi_report_field(ctx, step, "waited", waited < 0 ? waited : info.si_pid);
	kabi_report_field(ctx, step, "signal", kabi_take_signal(&info));
	if (released == 1)
		has_exit = exit_info(pidfd, status);
	kabi_report_field(ctx, step, "exitInfo", has_exit);
	if (released == 1)
		kabi_report_self(ctx, KABI_REPORT_CHILD_EXIT, step,
				 has_exit == 1 ? *status : has_exit < 0 ? has_exit : -ENODATA);
	else
		kabi_reap_child(ctx, step, pid);
}

/*
 * autoreap: the caller blocks every signal and makes clone3(CLONE_PIDFD|CLONE_AUTOREAP|flags,
 * exit_signal 0) with pidfd at a word of its own. The child reports CHILD and exits 0; the
 * caller reports report_exit()'s fields.
 */
KABI_OP(op_autoreap, "autoreap", "clone3", { "flags", KABI_ARG_FLAGS, 0 })
{
	const struct kabi_body_context *ctx = call->ctx;
	volatile int32_t pidfd = -1;
	struct kabi_clone_args a;
	int64_t status;
	uint64_t old;
	long r;

	if ((r = kabi_block_signals(&old)) < 0)
		return kabi_setup_failed(call, "rt_sigprocmask", r);
	kabi_args_for(&a, KABI_CLONE_PIDFD | KABI_CLONE_AUTOREAP | (uint64_t)call->args[0], 0);
	a.pidfd = (uint64_t)(uintptr_t)&pidfd;
	r = kabi_sys(KABI_SYS_CLONE3, &a, sizeof(a));
	if (r == 0) {
		kabi_report_self(ctx, KABI_REPORT_CHILD, call->step, kabi_sys(SYS_getppid));
		kabi_sys(SYS_exit_group, 0);
	}
	if (r > 0) {
		report_exit(ctx, call->step, pidfd, r, &status);
		kabi_sys(SYS_close, pidfd);
	}
	kabi_restore_signals(&old);
	return r;
}

/*
 * autoreap-orphan: the caller makes itself a child subreaper and blocks every signal. A helper
 * child of its makes clone3(CLONE_AUTOREAP|flags, exit_signal 0), sends back the new process's
 * PID and exits, so the new process is reparented to the caller (kernel/exit.c
 * reparent_leader() sets its exit_signal to SIGCHLD). The caller reaps the helper, discards its
 * SIGCHLD, reports field adopted (1: waitid WNOHANG|WNOWAIT finds the new process among its
 * children, alive), opens a pidfd for it with pidfd_open() and lets it go: it reports CHILD and
 * exits 0. Then report_exit()'s fields. The caller's subreaper setting is put back. Returns what
 * the helper's clone3 returned.
 */
KABI_OP(op_autoreap_orphan, "autoreap-orphan", "clone3", { "flags", KABI_ARG_FLAGS, 0 })
{
	const struct kabi_body_context *ctx = call->ctx;
	int made[2], hold[2];
	int32_t was_subreaper = 0;
	siginfo_t info;
	int64_t status;
	uint64_t old;
	long helper, child = 0, pidfd, r, w;

	if ((r = kabi_sys(SYS_prctl, PR_GET_CHILD_SUBREAPER, &was_subreaper, 0, 0, 0)) < 0 ||
	    (r = kabi_sys(SYS_prctl, PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)) < 0)
		return kabi_setup_failed(call, "prctl PR_SET_CHILD_SUBREAPER", r);
	if ((r = kabi_sys(SYS_pipe2, hold, O_CLOEXEC)) < 0)
		return kabi_setup_failed(call, "pipe2", r);
	if ((helper = kabi_fork_helper(call, made, &old)) == KABI_STEP_ABORTED)
		return helper;
	if (helper == 0) {
		struct kabi_clone_args a;

		kabi_sys(SYS_close, hold[1]);	/* only the caller holds the new process */
		kabi_args_for(&a, KABI_CLONE_AUTOREAP | (uint64_t)call->args[0], 0);
		r = kabi_sys(KABI_SYS_CLONE3, &a, sizeof(a));
		if (r == 0) {
			kabi_sys(SYS_close, made[1]);
			kabi_wait_for_eof(hold[0]);
			kabi_report_self(ctx, KABI_REPORT_CHILD, call->step, kabi_sys(SYS_getppid));
			kabi_sys(SYS_exit_group, 0);
		}
		kabi_sys(SYS_write, made[1], &r, sizeof(r));
		kabi_sys(SYS_exit_group, 0);
	}
	kabi_sys(SYS_close, hold[0]);
	r = kabi_helper_result(helper, made, &child);
	if (helper > 0 && kabi_reap(helper, &info) < 0)
		r = -ECHILD;
	while (kabi_take_signal(&info) > 0)
		;
	pidfd = -EBADF;
	if (r > 0 && child > 0) {
		kabi_zero(&info, sizeof(info));
		w = kabi_sys(SYS_waitid, P_PID, child, &info,
			     WEXITED | WNOHANG | WNOWAIT | KABI_WAIT_ALL, 0);
		kabi_report_field(ctx, call->step, "adopted", w == 0 && info.si_pid == 0);
		pidfd = kabi_sys(KABI_SYS_PIDFD_OPEN, child, 0);
	}
	kabi_sys(SYS_close, hold[1]);
	if (pidfd >= 0) {
		report_exit(ctx, call->step, pidfd, child, &status);
		kabi_sys(SYS_close, pidfd);
	} else if (r > 0 && child > 0) {
		kabi_reap(child, &info);	/* a zombie, or ECHILD once it was released */
		r = pidfd;
	}
	kabi_restore_signals(&old);
	kabi_sys(SYS_prctl, PR_SET_CHILD_SUBREAPER, was_subreaper, 0, 0, 0);
	if (r < 0)
		return kabi_setup_failed(call, r == pidfd ? "pidfd_open" : "helper", r);
	return child;
}

/*
 * autoreap-parent: the caller makes clone3(CLONE_PIDFD|CLONE_AUTOREAP, exit_signal 0), and that
 * process makes clone3(CLONE_PARENT|flags, exit_signal 0) and sends its result back. A process
 * that call makes reports CHILD and exits 0: it is the caller's child (CLONE_PARENT), and the
 * caller reaps it. The caller waits until the CLONE_AUTOREAP process was released (BROKEN when
 * it was left a zombie) and returns what the inner clone3 returned.
 */
KABI_OP(op_autoreap_parent, "autoreap-parent", "clone3", { "flags", KABI_ARG_FLAGS, 0 })
{
	const struct kabi_body_context *ctx = call->ctx;
	volatile int32_t pidfd = -1;
	struct kabi_clone_args a;
	siginfo_t info;
	int sent[2];
	long outer, inner = 0, released, r;

	if ((r = kabi_sys(SYS_pipe2, sent, O_CLOEXEC)) < 0)
		return kabi_setup_failed(call, "pipe2", r);
	kabi_args_for(&a, KABI_CLONE_PIDFD | KABI_CLONE_AUTOREAP, 0);
	a.pidfd = (uint64_t)(uintptr_t)&pidfd;
	outer = kabi_sys(KABI_SYS_CLONE3, &a, sizeof(a));
	if (outer == 0) {
		struct kabi_clone_args b;

		kabi_sys(SYS_close, sent[0]);
		kabi_args_for(&b, KABI_CLONE_PARENT | (uint64_t)call->args[0], 0);
		r = kabi_sys(KABI_SYS_CLONE3, &b, sizeof(b));
		if (r == 0) {
			kabi_report_self(ctx, KABI_REPORT_CHILD, call->step, kabi_sys(SYS_getppid));
			kabi_sys(SYS_exit_group, 0);
		}
		kabi_sys(SYS_write, sent[1], &r, sizeof(r));
		kabi_sys(SYS_exit_group, 0);
	}
	kabi_sys(SYS_close, sent[1]);
	if (outer < 0) {
		kabi_sys(SYS_close, sent[0]);
		return kabi_setup_failed(call, "clone3 CLONE_AUTOREAP", outer);
	}
	if (kabi_sys(SYS_read, sent[0], &inner, sizeof(inner)) != (long)sizeof(inner))
		inner = 0;
	kabi_sys(SYS_close, sent[0]);
	released = wait_released(pidfd, outer);
	kabi_sys(SYS_close, pidfd);
	if (inner > 0)
		kabi_reap_child(ctx, call->step, inner);
	if (released == 0)
		kabi_reap(outer, &info);
	if (released != 1)
		return kabi_setup_failed(call, "see the CLONE_AUTOREAP process released",
					 released < 0 ? released : -EEXIST);
	if (inner == 0)
		return kabi_setup_failed(call, "read the inner clone3's result", -EPIPE);
	return inner;
}

/*
 * autokill: clone3(CLONE_PIDFD|CLONE_AUTOREAP|CLONE_PIDFD_AUTOKILL|flags, exit_signal 0) with
 * pidfd at a word of the caller's (the child's descriptor table is copied before the pidfd is
 * made, so the child holds none of it). The child reports CHILD and answers each byte the
 * caller writes to a ping pipe with one on a pong pipe, until the ping pipe ends: then it exits
 * 0. It can only answer from user space, where a pending SIGKILL never lets it return. The
 * caller opens two pidfds with pidfd_open() and closes one; field aliveBefore: 1 when the child
 * still answered a ping after that, just before the caller closes the clone3 pidfd. Then it
 * closes the clone3 pidfd and, only after that close returned, ends the ping pipe: a child not
 * killed by then exits 0, one that was (fs/file_table.c fput_close_sync(): the file's release
 * runs inside close()) dies of that signal on its way back to user space. Fields: report_exit()'s
 * through the other pidfd, and killedBy, the signal that ended the child by PIDFD_INFO_EXIT's
 * exit_code (0: it exited; -1: no exit information).
 */
KABI_OP_WITH((.child_killed_by = SIGKILL), op_autokill, "autokill", "clone3",
	     { "flags", KABI_ARG_FLAGS, 0 })
{
	const struct kabi_body_context *ctx = call->ctx;
	volatile int32_t pidfd = -1;
	struct kabi_clone_args a;
	int ping[2], pong[2];
	int64_t status;
	uint64_t old;
	long r, watch = -EBADF, other = -EBADF, failed = 0, alive = 0;
	const char *what = "";
	char byte = 0;

	if ((r = kabi_sys(SYS_pipe2, ping, O_CLOEXEC)) < 0 ||
	    (r = kabi_sys(SYS_pipe2, pong, O_CLOEXEC)) < 0)
		return kabi_setup_failed(call, "pipe2", r);
	if ((r = kabi_block_signals(&old)) < 0)
		return kabi_setup_failed(call, "rt_sigprocmask", r);
	kabi_args_for(&a, KABI_CLONE_PIDFD | KABI_CLONE_AUTOREAP | KABI_CLONE_PIDFD_AUTOKILL |
				  (uint64_t)call->args[0], 0);
	a.pidfd = (uint64_t)(uintptr_t)&pidfd;
	r = kabi_sys(KABI_SYS_CLONE3, &a, sizeof(a));
	if (r == 0) {
		kabi_sys(SYS_close, ping[1]);
		kabi_sys(SYS_close, pong[0]);
		kabi_report_self(ctx, KABI_REPORT_CHILD, call->step, kabi_sys(SYS_getppid));
		while ((r = kabi_sys(SYS_read, ping[0], &byte, 1)) == 1 || r == -EINTR)
			if (r == 1)
				kabi_sys(SYS_write, pong[1], &byte, 1);
		kabi_sys(SYS_exit_group, 0);
	}
	kabi_sys(SYS_close, ping[0]);
	kabi_sys(SYS_close, pong[1]);
	if (r > 0) {
		if ((watch = kabi_sys(KABI_SYS_PIDFD_OPEN, r, 0)) < 0 ||
		    (other = kabi_sys(KABI_SYS_PIDFD_OPEN, r, 0)) < 0)
			failed = watch < 0 ? watch : other, what = "pidfd_open";
		if (!failed) {
			kabi_sys(SYS_close, other);
			/* The child answers only once it is back in user space, not being killed. */
			alive = kabi_sys(SYS_write, ping[1], &byte, 1) == 1 &&
				kabi_sys(SYS_read, pong[0], &byte, 1) == 1;
			kabi_report_field(ctx, call->step, "aliveBefore", alive);
			kabi_sys(SYS_close, pidfd);
			pidfd = -1;
		}
	}
	kabi_sys(SYS_close, ping[1]);	/* lets a child that was not killed exit */
	kabi_sys(SYS_close, pong[0]);
	if (r > 0 && !failed) {
		report_exit(ctx, call->step, watch, r, &status);
		kabi_report_field(ctx, call->step, "killedBy", status < 0 ? -1 : status & 0x7f);
	} else if (r > 0) {
		siginfo_t info;

		/* The child exits on the pipe's end (or is killed); a zombie is reaped. */
		if (wait_released(pidfd, r) == 0)
			kabi_reap(r, &info);
	}
	if (pidfd >= 0)
		kabi_sys(SYS_close, pidfd);
	if (watch >= 0)
		kabi_sys(SYS_close, watch);
	kabi_restore_signals(&old);
	if (failed)
		return kabi_setup_failed(call, what, failed);
	return r;
}
