#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include "clone3_effects.h"
#include "kabi_clone3.h"
#include "kabi_files.h"
#include "kabi_program.h"
#include "kabi_raw.h"
#include "kabi_sandbox.h"
#include "kabi_syscalls.h"

/*
 * What CLONE_PIDFD gives the caller: a pidfd for exactly the new child, and nothing at all when
 * the pidfd cannot be written. Sandbox code: raw syscalls only, no malloc, no stdio.
 */

enum { KABI_P_PIDFD = 3 };	/* waitid idtype, 5.4 */

/* Whether two NSpid lists are the same. */
static int same_pids(const int32_t *a, long n, const int32_t *b, long m)
{
	return n > 0 && n == m && kabi_equal(a, b, (unsigned long)n * sizeof(*a));
}

/*
 * pidfd-child: the caller blocks every signal and makes clone3(CLONE_PIDFD, exit_signal SIGCHLD)
 * with pidfd at a word of its own. The child sends its NSpid back, waits to be let go, and then
 * takes signal if one is given, without waiting (fields received, code and sender). Fields of
 * the caller: fdinfoPid (the last NSpid entry of the pidfd's fdinfo, the PID in the caller's
 * namespace), samePid (1: that fdinfo's NSpid is the child's own), readableAlive (POLLIN before
 * the child was let go), reapedAlive (si_pid from waitid(P_PIDFD, WNOHANG) while the child still
 * runs and another child of the caller, made for it, is a zombie: 0 when nothing was reaped),
 * sent (pidfd_send_signal's result, with signal), readableExited (POLLIN once it has exited),
 * reapedPid (si_pid from waitid(P_PIDFD), or -errno), gone (1:
 * waitid(P_PID) on the child then finds no child). Returns the child's PID.
 */
KABI_OP(op_pidfd_child, "pidfd-child", "clone3",
	{ "signal", KABI_ARG_SIGNAL, 0, .syscall = "pidfd_send_signal" })
{
	const struct kabi_body_context *ctx = call->ctx;
	int32_t own[KABI_NSPID_MAX], shown[KABI_NSPID_MAX];
	int hold[2], sent_back[2];
	volatile int32_t pidfd = -1;
	struct kabi_clone_args a;
	struct pollfd p;
	siginfo_t info;
	char path[48], *end;
	uint64_t old;
	long r, count = 0, shown_count, w, other = 0, sig = call->args[0];

	if ((r = kabi_sys(SYS_pipe2, hold, O_CLOEXEC)) < 0 ||
	    (r = kabi_sys(SYS_pipe2, sent_back, O_CLOEXEC)) < 0)
		return kabi_setup_failed(call, "pipe2", r);
	if ((r = kabi_block_signals(&old)) < 0)
		return kabi_setup_failed(call, "rt_sigprocmask", r);
	kabi_args_for(&a, KABI_CLONE_PIDFD, SIGCHLD);
	a.pidfd = (uint64_t)(uintptr_t)&pidfd;
	r = kabi_sys(KABI_SYS_CLONE3, &a, sizeof(a));
	if (r == 0) {
		uint64_t wanted = sig > 0 && sig <= 64 ? 1ULL << (sig - 1) : 0;
		struct timespec limit;
		char byte;

		kabi_sys(SYS_close, hold[1]);
		kabi_report_self(ctx, KABI_REPORT_CHILD, call->step, kabi_sys(SYS_getppid));
		count = kabi_read_nspid("/proc/self/status", own);
		kabi_sys(SYS_write, sent_back[1], &count, sizeof(count));
		if (count > 0)
			kabi_sys(SYS_write, sent_back[1], own, count * sizeof(own[0]));
		while (kabi_sys(SYS_read, hold[0], &byte, 1) == -EINTR)
			;
		/* Let go only after the caller's pidfd_send_signal() returned: it is pending. */
		if (sig > 0) {
			limit.tv_sec = 0;
			limit.tv_nsec = 0;
			w = kabi_sys(SYS_rt_sigtimedwait, &wanted, &info, &limit, KABI_SIGSET_BYTES);
			kabi_report_field(ctx, call->step, "received", w);
			kabi_report_field(ctx, call->step, "code", w > 0 ? info.si_code : 0);
			kabi_report_field(ctx, call->step, "sender", w > 0 ? info.si_pid : 0);
		}
		kabi_sys(SYS_exit_group, 0);
	}
	kabi_sys(SYS_close, hold[0]);
	kabi_sys(SYS_close, sent_back[1]);
	if (r > 0) {
		if (kabi_sys(SYS_read, sent_back[0], &count, sizeof(count)) != (long)sizeof(count) ||
		    count <= 0 || count > KABI_NSPID_MAX ||
		    kabi_sys(SYS_read, sent_back[0], own, count * sizeof(own[0])) !=
			    (long)(count * sizeof(own[0])))
			count = -EPIPE;
		end = path;
		for (const char *s = "/proc/self/fdinfo/"; *s; s++)
			*end++ = *s;
		*kabi_format_int(end, pidfd) = 0;
		shown_count = kabi_read_numbers(path, "NSpid:", shown, KABI_NSPID_MAX);
		kabi_report_field(ctx, call->step, "fdinfoPid",
				  shown_count > 0 ? shown[shown_count - 1] : shown_count);
		kabi_report_field(ctx, call->step, "samePid",
				  same_pids(own, count, shown, shown_count));
		p.fd = pidfd;
		p.events = POLLIN;
		p.revents = 0;
		w = kabi_sys(SYS_poll, &p, 1, 0);
		kabi_report_field(ctx, call->step, "readableAlive",
				  w < 0 ? w : (p.revents & POLLIN) != 0);
		/* With one child, "reaps that child" and "reaps any child" look alike. */
		if ((other = kabi_fork(0)) == 0)
			kabi_sys(SYS_exit_group, 0);
		if (other > 0 && (w = kabi_wait_exited(other)) < 0)
			other = w;
		if (other > 0) {
			kabi_zero(&info, sizeof(info));
			w = kabi_sys(SYS_waitid, KABI_P_PIDFD, pidfd, &info,
				     WEXITED | WNOHANG | KABI_WAIT_ALL, 0);
			kabi_report_field(ctx, call->step, "reapedAlive", w < 0 ? w : info.si_pid);
			kabi_reap(other, &info);	/* ECHILD when that waitid reaped it */
		}
		if (sig > 0)
			kabi_report_field(ctx, call->step, "sent",
					  kabi_sys(KABI_SYS_PIDFD_SEND_SIGNAL, pidfd, sig, 0, 0));
	}
	kabi_sys(SYS_close, hold[1]);
	kabi_sys(SYS_close, sent_back[0]);
	if (r > 0) {
		/* 5 s at a time until the child has exited (the sandbox's timeout bounds it). */
		do {
			p.revents = 0;
			w = kabi_sys(SYS_poll, &p, 1, 5000);
		} while (w == 0 && kabi_has_exited(r) == 0);
		if (w == 0) {	/* it exited after that poll timed out: readable now */
			p.revents = 0;
			w = kabi_sys(SYS_poll, &p, 1, 0);
		}
		kabi_report_field(ctx, call->step, "readableExited",
				  w < 0 ? w : (p.revents & POLLIN) != 0);
		kabi_zero(&info, sizeof(info));
		w = kabi_sys(SYS_waitid, KABI_P_PIDFD, pidfd, &info, WEXITED | KABI_WAIT_ALL, 0);
		kabi_report_field(ctx, call->step, "reapedPid", w < 0 ? w : info.si_pid);
		if (w == 0)
			kabi_report_self(ctx, KABI_REPORT_CHILD_EXIT, call->step,
					 kabi_wait_status(&info));
		else
			kabi_reap_child(ctx, call->step, r);
		w = kabi_sys(SYS_waitid, P_PID, r, &info, WEXITED | WNOHANG | KABI_WAIT_ALL, 0);
		kabi_report_field(ctx, call->step, "gone", w == -ECHILD);
		kabi_sys(SYS_close, pidfd);
	}
	kabi_restore_signals(&old);
	if (r > 0 && count < 0)
		return kabi_setup_failed(call, "read the child's NSpid", count);
	if (other < 0)
		return kabi_setup_failed(call, "fork another child and wait for its exit", other);
	return r;
}

/* The lowest free descriptor number, or -errno. */
static long lowest_free_fd(void)
{
	long fd = kabi_sys(SYS_openat, AT_FDCWD, "/", O_PATH | O_CLOEXEC);

	if (fd >= 0)
		kabi_sys(SYS_close, fd);
	return fd;
}

/* Whether the caller has any child, exited or not: 1, 0, or -errno. */
static long has_children(void)
{
	siginfo_t info;
	long r = kabi_sys(SYS_waitid, P_ALL, 0, &info,
			  WEXITED | WSTOPPED | WCONTINUED | WNOHANG | WNOWAIT | KABI_WAIT_ALL, 0);

	return r == -ECHILD ? 0 : r < 0 ? r : 1;
}

/*
 * pidfd-fault: clone3(CLONE_PIDFD, exit_signal SIGCHLD) with pidfd on a page of its own,
 * mapped PROT_READ (readable 1) or PROT_NONE (readable 0). Returns the call's result when the
 * caller is left as it was: no child at all (waitid finds none, exited or not) and the same
 * lowest free descriptor. A failed call that left a child or a descriptor behind returns 1
 * instead, with fields errno, children and fdLeaked saying what, so its errno is never matched.
 */
KABI_OP(op_pidfd_fault, "pidfd-fault", "clone3", { "readable", KABI_ARG_NUMBER, 0 })
{
	const struct kabi_body_context *ctx = call->ctx;
	struct kabi_clone_args a;
	siginfo_t info;
	long page, before, r, children, after;

	if ((r = has_children()) != 0)
		return kabi_setup_failed(call, "start without children", r < 0 ? r : -EEXIST);
	page = kabi_sys(SYS_mmap, 0, 4096, call->args[0] ? PROT_READ : PROT_NONE,
			MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (page < 0 && page > -4096)
		return kabi_setup_failed(call, "mmap", page);
	if ((before = lowest_free_fd()) < 0) {
		kabi_sys(SYS_munmap, page, 4096);
		return kabi_setup_failed(call, "open /", before);
	}
	kabi_args_for(&a, KABI_CLONE_PIDFD, SIGCHLD);
	a.pidfd = (uint64_t)page;
	r = kabi_sys(KABI_SYS_CLONE3, &a, sizeof(a));
	if (r == 0)
		kabi_sys(SYS_exit_group, 0);
	if (r > 0)
		kabi_reap(r, &info);
	children = has_children();
	after = lowest_free_fd();
	kabi_sys(SYS_munmap, page, 4096);
	if (r < 0 && (children != 0 || after != before)) {
		kabi_report_field(ctx, call->step, "errno", -r);
		kabi_report_field(ctx, call->step, "children", children);
		kabi_report_field(ctx, call->step, "fdLeaked", after != before);
		return 1;
	}
	return r;
}
