#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include "kabi_clone3.h"
#include "kabi_program.h"
#include "kabi_raw.h"
#include "kabi_syscalls.h"

/*
 * Processes a case makes around the call under test: automatic PIDs used up, and a blocker
 * that holds chosen PIDs until released. Raw syscalls only, no malloc, no stdio.
 */

/* fork-reap: count processes made and reaped, each taking the next automatic PID. */
KABI_OP(op_fork_reap, "fork-reap", "clone", { "count", KABI_ARG_NUMBER, 0 })
{
	siginfo_t info;
	long r = 0;

	for (int64_t i = 0; i < call->args[0] && r >= 0; i++) {
		r = kabi_fork(0);
		if (r == 0)
			kabi_sys(SYS_exit_group, 0);
		if (r > 0)
			r = kabi_reap(r, &info);
	}
	return r < 0 ? r : call->args[0];
}

/*
 * blocker: a clone3 child (the clone_args given: its set_tid) that holds its PIDs until
 * release, or until the program's process ends. Returns its PID and keeps the descriptor that
 * releases it as "release".
 */
KABI_OP(op_blocker, "blocker", "clone3", { "clone_args", KABI_ARG_CLONE_ARGS, 0 })
{
	int fds[2];
	char byte;
	long r = kabi_sys(SYS_pipe2, fds, O_CLOEXEC);

	if (r < 0)
		return r;
	r = kabi_sys(KABI_SYS_CLONE3, (void *)(uintptr_t)call->args[0], call->args[1]);
	if (r == 0) {
		kabi_sys(SYS_prctl, PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
		kabi_sys(SYS_close, fds[1]);
		while (kabi_sys(SYS_read, fds[0], &byte, 1) == -EINTR)
			;
		kabi_sys(SYS_exit_group, 0);
	}
	kabi_sys(SYS_close, fds[0]);
	if (r < 0)
		kabi_sys(SYS_close, fds[1]);
	else
		kabi_keep(call, "release", fds[1]);
	return r;
}

/* release: ends a blocker (its PID and its "release" descriptor) and reaps it. */
KABI_OP(op_release, "release", "wait4", { "pid", KABI_ARG_NUMBER, 0 }, { "fd", KABI_ARG_NUMBER, 1 })
{
	siginfo_t info;

	if (call->args[0] <= 0)
		return -ESRCH;
	kabi_sys(SYS_close, call->args[1]);
	return kabi_reap(call->args[0], &info);
}

/* pidfd-open: pidfd_open(pid, 0); returns the pidfd ("@label"), which setns takes since 5.8. */
KABI_OP(op_pidfd_open, "pidfd-open", "pidfd_open", { "pid", KABI_ARG_NUMBER, 0 })
{
	return kabi_sys(KABI_SYS_PIDFD_OPEN, call->args[0], 0);
}
