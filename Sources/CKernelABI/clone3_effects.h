/*
 * What the operations that observe clone3's effects share (clone3_effects.c, clone3_pidfd.c):
 * the caller's signals held and taken without waiting, children waited for and reaped, and a
 * bounded look at another process's state. Raw syscalls only, no malloc, no stdio.
 */
#ifndef CKERNELABI_CLONE3_EFFECTS_H
#define CKERNELABI_CLONE3_EFFECTS_H

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>

#include "kabi_clone3.h"
#include "kabi_program.h"
#include "kabi_raw.h"

enum {
	KABI_WAIT_ALL = 0x40000000,	/* __WALL: children with any exit signal */
	KABI_SIGSET_BYTES = 8,		/* the kernel's sigset_t on 64-bit */
	/* Bounded polls: at most this many, 1 ms apart. */
	KABI_POLL_TRIES = 5000,
};

static const uint64_t kabi_every_signal = ~0ULL;

/* A clone_args with flags and exit_signal, every other field 0. */
static inline void kabi_args_for(struct kabi_clone_args *a, uint64_t flags, uint64_t exit_signal)
{
	kabi_zero(a, sizeof(*a));
	a->flags = flags;
	a->exit_signal = exit_signal;
}

/* Blocks every signal (SIGKILL and SIGSTOP cannot be); *old gets the mask to put back. */
static inline long kabi_block_signals(uint64_t *old)
{
	return kabi_sys(SYS_rt_sigprocmask, SIG_SETMASK, &kabi_every_signal, old,
			KABI_SIGSET_BYTES);
}

/*
 * Makes the pipe made[] on which a helper child sends back what its clone3 returned
 * (kabi_helper_result reads it), blocks every signal into *old and forks the helper, which keeps
 * only made[1]: 0 in the helper; in the caller the helper's PID or the fork's -errno, or
 * KABI_STEP_ABORTED once a refused pipe2 or rt_sigprocmask is reported as the setup failure.
 */
static inline long kabi_fork_helper(struct kabi_call *call, int made[2], uint64_t *old)
{
	long r = kabi_sys(SYS_pipe2, made, O_CLOEXEC);

	if (r < 0)
		return kabi_setup_failed(call, "pipe2", r);
	if ((r = kabi_block_signals(old)) < 0)
		return kabi_setup_failed(call, "rt_sigprocmask", r);
	if ((r = kabi_fork(0)) == 0)
		kabi_sys(SYS_close, made[0]);
	return r;
}

/* Takes one pending signal without waiting: its number, 0 when none is pending, or -errno. */
static inline long kabi_take_signal(siginfo_t *info)
{
	struct timespec now;
	long r;

	now.tv_sec = 0;
	now.tv_nsec = 0;
	r = kabi_sys(SYS_rt_sigtimedwait, &kabi_every_signal, info, &now, KABI_SIGSET_BYTES);
	return r == -EAGAIN ? 0 : r;
}

/* Discards every pending signal, then puts the mask old back. */
static inline void kabi_restore_signals(const uint64_t *old)
{
	siginfo_t info;

	while (kabi_take_signal(&info) > 0)
		;
	kabi_sys(SYS_rt_sigprocmask, SIG_SETMASK, old, 0, KABI_SIGSET_BYTES);
}

/* Waits until child pid has exited and leaves it a zombie (WNOWAIT): 0, or -errno. */
static inline long kabi_wait_exited(long pid)
{
	siginfo_t info;
	long r;

	do
		r = kabi_sys(SYS_waitid, P_PID, pid, &info, WEXITED | WNOWAIT | KABI_WAIT_ALL, 0);
	while (r == -EINTR);
	return r;
}

/* Whether child pid has exited (left a zombie; WNOWAIT): 1, 0, or -errno. */
static inline long kabi_has_exited(long pid)
{
	siginfo_t info;
	long r;

	info.si_pid = 0;
	r = kabi_sys(SYS_waitid, P_PID, pid, &info, WEXITED | WNOHANG | WNOWAIT | KABI_WAIT_ALL, 0);
	return r < 0 ? r : info.si_pid != 0;
}

/* Reaps pid and reports CHILD_EXIT with its wait status (or -errno). */
static inline void kabi_reap_child(const struct kabi_body_context *ctx, int32_t step, long pid)
{
	siginfo_t info;
	long w = kabi_reap(pid, &info);

	kabi_report_self(ctx, KABI_REPORT_CHILD_EXIT, step, w < 0 ? w : kabi_wait_status(&info));
}

/* Sleeps 1 ms: the step of a bounded poll, never a synchronization by itself. */
static inline void kabi_nap(void)
{
	struct timespec ms;

	ms.tv_sec = 0;
	ms.tv_nsec = 1000000;
	kabi_sys(SYS_nanosleep, &ms, 0);
}

/*
 * The state letter of the process whose /proc/<pid>/stat is open as fd ('R', 'S', 'D', ...),
 * read after the comm's closing parenthesis; 0 when it cannot be read.
 */
static inline char kabi_process_state(long fd)
{
	char buf[256];
	long n = kabi_sys(SYS_pread64, fd, buf, sizeof(buf), 0);
	long paren = -1;

	for (long i = 0; i < n; i++)
		if (buf[i] == ')')
			paren = i;
	return paren >= 0 && paren + 2 < n ? buf[paren + 2] : 0;
}

#endif
