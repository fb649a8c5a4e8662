#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <sys/syscall.h>

#include "kabi_clone3.h"
#include "kabi_nsfs.h"
#include "kabi_processes.h"
#include "kabi_program.h"
#include "kabi_raw.h"
#include "sandbox_level.h"

/*
 * PID translation between PID namespaces (fs/nsfs.c ns_ioctl(), 6.11): the four ioctls on a
 * PID namespace's file, and what their cases stand on: the caller's own PID, a thread that
 * stays alive, a comparison of two earlier results. Sandbox code: raw syscalls only, no
 * malloc, no stdio.
 */

/*
 * ioctl(file, request, pid) on the step's namespace file (fd, else path opened for the step):
 * the argument is the PID itself. Returns the translated PID, or -errno.
 */
static long translate(struct kabi_call *call, unsigned long request)
{
	long fd = call->args[0], r;

	if (fd < 0 && (fd = kabi_step_open(call, call->text)) < 0)
		return KABI_STEP_ABORTED;
	r = kabi_sys(SYS_ioctl, fd, request, call->args[1]);
	if (call->args[0] < 0)
		kabi_sys(SYS_close, fd);
	return r;
}

/* pid-from-pidns: NS_GET_PID_FROM_PIDNS: pid as the file's namespace numbers it, in the caller's */
KABI_OP(op_pid_from_pidns, "pid-from-pidns", "ioctl", { "fd", KABI_ARG_NUMBER, 0, -1 },
	{ "path", KABI_ARG_PATH }, { "pid", KABI_ARG_NUMBER, 1 })
{
	return translate(call, KABI_NS_GET_PID_FROM_PIDNS);
}

/*
 * tgid-from-pidns: NS_GET_TGID_FROM_PIDNS: the thread-group leader of pid (numbered as the
 * file's namespace numbers it), in the caller's namespace.
 */
KABI_OP(op_tgid_from_pidns, "tgid-from-pidns", "ioctl", { "fd", KABI_ARG_NUMBER, 0, -1 },
	{ "path", KABI_ARG_PATH }, { "pid", KABI_ARG_NUMBER, 1 })
{
	return translate(call, KABI_NS_GET_TGID_FROM_PIDNS);
}

/* pid-in-pidns: NS_GET_PID_IN_PIDNS: pid as the caller's namespace numbers it, in the file's. */
KABI_OP(op_pid_in_pidns, "pid-in-pidns", "ioctl", { "fd", KABI_ARG_NUMBER, 0, -1 },
	{ "path", KABI_ARG_PATH }, { "pid", KABI_ARG_NUMBER, 1 })
{
	return translate(call, KABI_NS_GET_PID_IN_PIDNS);
}

/*
 * tgid-in-pidns: NS_GET_TGID_IN_PIDNS: the thread-group leader of pid (numbered as the
 * caller's namespace numbers it), in the file's namespace.
 */
KABI_OP(op_tgid_in_pidns, "tgid-in-pidns", "ioctl", { "fd", KABI_ARG_NUMBER, 0, -1 },
	{ "path", KABI_ARG_PATH }, { "pid", KABI_ARG_NUMBER, 1 })
{
	return translate(call, KABI_NS_GET_TGID_IN_PIDNS);
}

/* getpid: the caller's PID in its own PID namespace ("@label"). */
KABI_OP(op_getpid, "getpid", "getpid")
{
	return kabi_sys(SYS_getpid);
}

/* equal: 1 when a and b are the same number (two earlier results, "@label"), else 0. */
KABI_OP(op_equal, "equal", NULL, { "a", KABI_ARG_NUMBER, 0 }, { "b", KABI_ARG_NUMBER, 1 })
{
	return call->args[0] == call->args[1];
}

#if KABI_SANDBOX_SHARES_MEMORY
static int wait_for_exit(void *arg)
{
	(void)arg;
	kabi_wait_for_parent_death();
}
#endif

/*
 * waiting-thread: a thread of the caller (clone(CLONE_VM|CLONE_FS|CLONE_FILES|CLONE_SIGHAND|
 * CLONE_THREAD|CLONE_SYSVSEM)) that only waits, so its TID stays a live non-leader thread's
 * until the caller's process exits (exit_group ends it). Returns its TID in the caller's PID
 * namespace. It runs on the top of the body's scratch memory for the rest of the program, so no
 * later step may use that memory (KABI_SCRATCH_HELD). -ENOSYS where sandbox
 * code has no clone trampoline (not x86-64).
 */
KABI_OP_WITH((.needs_trampoline = "a thread that waits in a sandbox body needs the x86-64 "
				   "clone trampoline",
	      .scratch = KABI_SCRATCH_HELD),
	     op_waiting_thread, "waiting-thread", "clone")
{
#if KABI_SANDBOX_SHARES_MEMORY
	const struct kabi_body_context *ctx = call->ctx;

	return kabi_clone_on_stack(KABI_CLONE_VM | KABI_CLONE_FS | KABI_CLONE_FILES |
					   KABI_CLONE_SIGHAND | KABI_CLONE_THREAD |
					   KABI_CLONE_SYSVSEM,
				   (char *)ctx->scratch + ctx->scratch_bytes, 0, wait_for_exit, 0);
#else
	(void)call;
	return -ENOSYS;
#endif
}
