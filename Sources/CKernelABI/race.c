#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <time.h>

#include "kabi_clone3.h"
#include "kabi_files.h"
#include "kabi_processes.h"
#include "kabi_program.h"
#include "kabi_raw.h"
#include "kabi_syscalls.h"

/*
 * Placing processes at chosen PIDs while other processes fork: the race seed 000 names. Raw
 * syscalls only, no malloc, no stdio.
 */

enum race_method {
	RACE_SET_TID = 0,	/* clone3 with set_tid: the kernel places it, or fails */
	RACE_NS_LAST_PID = 1,	/* write PID - 1 to ns_last_pid, then a plain clone3 */
	RACE_AUTOMATIC = 2,	/* a plain clone3: the floor, no PID chosen */
	RACE_NOISE_MAX = 8,
};

/* Forks and reaps until killed: every fork takes the namespace's next PID. */
__attribute__((noreturn)) static void noise(void)
{
	siginfo_t info;

	kabi_sys(SYS_prctl, PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
	for (;;) {
		long child = kabi_fork(0);

		if (child == 0)
			kabi_sys(SYS_exit_group, 0);
		if (child > 0)
			kabi_reap(child, &info);
	}
}

static int64_t now_ns(void)
{
	struct timespec ts;

	kabi_sys(SYS_clock_gettime, CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* Makes one process meant to get PID target by method; it exits 0 if getpid() is target. */
static long place(int64_t method, int32_t target)
{
	struct kabi_clone_args a;
	long r;

	kabi_zero(&a, sizeof(a));
	a.exit_signal = SIGCHLD;
	if (method == RACE_SET_TID) {
		a.set_tid = (uint64_t)(uintptr_t)&target;
		a.set_tid_size = 1;
	} else if (method == RACE_NS_LAST_PID) {
		r = kabi_write_int("/proc/sys/kernel/ns_last_pid", target - 1);
		if (r < 0)
			return r;
	}
	r = kabi_sys(KABI_SYS_CLONE3, &a, sizeof(a));
	if (r == 0)
		kabi_sys(SYS_exit_group, kabi_sys(SYS_getpid) == target ? 0 : 1);
	return r;
}

/*
 * race: starts `noise` processes that fork and reap without pause in the body's PID namespace,
 * then places `targets` processes one after the other by `method` (0 set_tid, 1 ns_last_pid +
 * clone3, 2 plain clone3), each at `gap` PIDs past the namespace's ns_last_pid, just ahead of
 * the noise. A placed process checks its own getpid(). Reports fields wrong (another PID, by
 * clone3's answer or by the process's) and failed (an error other than EEXIST; firstErrno its
 * -errno), and with counts (for scripts/bench; they differ from run to run) also placed (at the
 * PID chosen), eexist and nanoseconds (the placements' wall time). Returns placed.
 */
KABI_OP(op_race, "race", "clone3", { "method", KABI_ARG_NUMBER, 0 },
	{ "targets", KABI_ARG_NUMBER, 1, 50 }, { "noise", KABI_ARG_NUMBER, 2, 2 },
	{ "gap", KABI_ARG_NUMBER, 3, 3 }, { "counts", KABI_ARG_NUMBER, 4, 0 })
{
	const struct kabi_body_context *ctx = call->ctx;
	int64_t method = call->args[0], placed = 0, wrong = 0, eexist = 0, failed = 0;
	int64_t first_errno = 0, started;
	long noisy[RACE_NOISE_MAX];
	int count = 0;
	siginfo_t info;

	if (call->args[2] < 0 || call->args[2] > RACE_NOISE_MAX)
		return kabi_setup_failed(call, "noise count", -EINVAL);
	for (; count < call->args[2]; count++) {
		noisy[count] = kabi_fork(0);
		if (noisy[count] == 0)
			noise();
		if (noisy[count] < 0)
			break;
	}
	started = now_ns();
	for (int64_t i = 0; i < call->args[1] && count == call->args[2]; i++) {
		int64_t last = kabi_read_int("/proc/sys/kernel/ns_last_pid");
		int32_t target = (int32_t)(last + call->args[3]);
		long r = last < 0 ? last : place(method, target);

		if (r > 0) {
			long w = kabi_reap(r, &info);

			if (method == RACE_AUTOMATIC || (r == target && w == 0 &&
							  kabi_wait_status(&info) == 0))
				placed++;
			else
				wrong++;
		} else if (r == -EEXIST) {
			eexist++;
		} else if (failed++ == 0) {
			first_errno = r;
		}
	}
	started = now_ns() - started;
	for (int i = 0; i < count; i++) {
		if (noisy[i] <= 0)
			continue;
		kabi_sys(SYS_kill, noisy[i], SIGKILL);
		kabi_reap(noisy[i], &info);
	}
	if (count != call->args[2])
		return kabi_setup_failed(call, "fork a noise process", noisy[count]);
	if (call->args[4]) {
		kabi_report_field(ctx, call->step, "placed", placed);
		kabi_report_field(ctx, call->step, "eexist", eexist);
		kabi_report_field(ctx, call->step, "nanoseconds", started);
	}
	kabi_report_field(ctx, call->step, "wrong", wrong);
	kabi_report_field(ctx, call->step, "failed", failed);
	if (failed)
		kabi_report_field(ctx, call->step, "firstErrno", first_errno);
	return placed;
}
