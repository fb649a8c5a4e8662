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
#include "kabi_threads.h"

/*
 * Placing processes at chosen PIDs while other processes fork: the race seed 000 names. Raw
 * syscalls only, no malloc, no stdio. Every process here shares the body's memory (CLONE_VM)
 * and runs on a slot of its scratch, so what is timed is the kernel's work, not copying the
 * test process's address space: slot 0 for the placed processes (one at a time), 1 + i for
 * noise process i and 1 + RACE_NOISE_MAX + i for its children (one at a time).
 */

enum race_method {
	RACE_SET_TID = 0,	/* clone3 with set_tid: the kernel places it, or fails */
	RACE_NS_LAST_PID = 1,	/* write PID - 1 to ns_last_pid, then a plain clone3 */
	RACE_AUTOMATIC = 2,	/* a plain clone3: the floor, no PID chosen */
	RACE_INTERLEAVED = 3,	/* each placement by all three, in turn (scripts/bench) */
	RACE_NOISE_MAX = 8,
	RACE_SLOT = 16 * 1024,
};

/* A CLONE_VM process on scratch slot `slot` running fn(arg); its PID, or -errno. */
static long spawn(const struct kabi_body_context *ctx, int slot, const int32_t *set_tid,
		  int (*fn)(void *), void *arg)
{
	if ((unsigned long)(slot + 1) * RACE_SLOT > ctx->scratch_bytes)
		return -ENOMEM;
	return kabi_clone_vm_run((char *)ctx->scratch + (size_t)slot * RACE_SLOT, RACE_SLOT, set_tid,
				 fn, arg);
}

/* Exits 0 if it runs at PID *target. */
static int check_pid(void *target)
{
	return kabi_sys(SYS_getpid) == *(const int32_t *)target ? 0 : 1;
}

struct noise_start {
	const struct kabi_body_context *ctx;
	int slot;
	/* Its clone3 calls, each counted before it is made: the placer bounds by them how many
	 * PIDs the noise can have taken between two of its reads. */
	int64_t forks;
};

/* Makes and reaps processes until killed: every one takes the namespace's next PID. */
static int noise(void *arg)
{
	struct noise_start *start = arg;
	siginfo_t info;

	kabi_sys(SYS_prctl, PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
	for (;;) {
		long child;

		__atomic_add_fetch(&start->forks, 1, __ATOMIC_SEQ_CST);
		child = spawn(start->ctx, start->slot, 0, kabi_exit_at_once, 0);

		if (child > 0)
			kabi_reap(child, &info);
	}
	return 0;
}

static int64_t now_ns(void)
{
	struct timespec ts;

	kabi_sys(SYS_clock_gettime, CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* Makes one process meant to get PID *target by method; it exits 0 if getpid() is *target. */
static long place(const struct kabi_body_context *ctx, int64_t method, int32_t *target)
{
	if (method == RACE_NS_LAST_PID) {
		long r = kabi_write_int("/proc/sys/kernel/ns_last_pid", *target - 1);

		if (r < 0)
			return r;
	}
	return spawn(ctx, 0, method == RACE_SET_TID ? target : 0, check_pid, target);
}

/* One placement by method, reaped: counts it in the totals; its wall time in ns. */
struct race_counts {
	int64_t placed, wrong, eexist, unheld, failed, first_errno;
	/* A placed process that could not be reaped may still hold its PID. */
	int unreaped;
	/* Nothing writes ns_last_pid in this race (no RACE_NS_LAST_PID placements), so the cursor
	 * only moves forward and eexist_unheld() holds. */
	int cursor_forward;
	/* EAGAIN or ENOMEM: RLIMIT_NPROC, pids.max or memory beside the noise, the environment's
	 * limit and not the kernel's answer; the race stops and the case is a setup failure. */
	long limited;
};

/* The noise processes: their starts, how many, and the namespace's pid_max (below 1: unread). */
struct race_noise {
	struct noise_start *starts;
	int count;
	int64_t pid_max;
};

/* The clone3 calls the noise processes have begun. */
static int64_t noise_forks(const struct race_noise *n)
{
	int64_t forks = 0;

	for (int i = 0; i < n->count; i++)
		forks += __atomic_load_n(&n->starts[i].forks, __ATOMIC_SEQ_CST);
	return forks;
}

/*
 * Whether an EEXIST for set_tid `target` came while no process could hold it: every process
 * of the namespace but the placed ones (each reaped before the next) took its PID from the
 * cursor (idr_alloc_cyclic, which ns_last_pid shows minus one; set_tid's idr_alloc leaves it),
 * so a PID the cursor has not reached is free. ns_last_pid was `last` before the call and is
 * read again after it; at most `forks` noise PIDs were allocated between, far fewer than a
 * wrap around pid_max takes, so a cursor still in [last, target) never passed the target.
 */
static int eexist_unheld(const struct race_noise *n, int64_t last, int64_t forks,
			 int32_t target)
{
	int64_t after = kabi_read_int("/proc/sys/kernel/ns_last_pid");
	/* One fork of each noise process may have been counted before `forks` was read. */
	int64_t allocated = noise_forks(n) - forks + n->count;

	return after >= last && after < target && n->pid_max > 0 &&
	       allocated < (n->pid_max - 300) / 2;	/* 300: RESERVED_PIDS, where a wrap goes */
}

static int64_t place_one(const struct kabi_body_context *ctx, int64_t method, int64_t gap,
			 const struct race_noise *n, struct race_counts *c)
{
	int64_t forks = noise_forks(n), started = now_ns();
	int64_t last = kabi_read_int("/proc/sys/kernel/ns_last_pid");
	int32_t target = (int32_t)(last + gap);
	long r = last < 0 ? last : place(ctx, method, &target);
	siginfo_t info;

	if (r > 0) {
		long w = kabi_reap(r, &info);

		if (w != 0)
			c->unreaped = 1;
		if (method == RACE_AUTOMATIC ||
		    (r == target && w == 0 && kabi_wait_status(&info) == 0))
			c->placed++;
		else
			c->wrong++;
	} else if (r == -EEXIST) {
		c->eexist++;
		if (c->cursor_forward && !c->unreaped && eexist_unheld(n, last, forks, target))
			c->unheld++;
	} else if (r == -EAGAIN || r == -ENOMEM) {
		c->limited = r;
	} else if (c->failed++ == 0) {
		c->first_errno = r;
	}
	return now_ns() - started;
}

/*
 * race: starts `noise` processes that fork and reap without pause in the body's PID namespace,
 * then places `targets` processes one after the other by `method` (0 set_tid, 1 ns_last_pid +
 * clone3, 2 plain clone3), each at `gap` PIDs past the namespace's ns_last_pid, just ahead of
 * the noise. A placed process checks its own getpid(). Reports fields wrong (another PID, by
 * clone3's answer or by the process's), unheld (with set_tid, an EEXIST for a PID that no
 * process could hold: the cursor had not reached it, eexist_unheld()) and failed (an error
 * other than EEXIST; firstErrno its
 * -errno; EAGAIN and ENOMEM are the environment's limits, a setup failure), and with counts (for scripts/bench; they differ from run to run) also placed (at the
 * PID chosen), eexist and nanoseconds (the placements' wall time). Method 3 (scripts/bench)
 * makes each of the `targets` placements by all three methods in turn, the order rotating, and
 * reports each method's total and fastest placement (ns0..ns2, min0..min2), so that the three
 * are compared at the same moment of the same namespace. Returns placed.
 */
KABI_OP_WITH((.scratch = KABI_SCRATCH_STEP), op_race, "race", "clone3",
	     { "method", KABI_ARG_NUMBER, 0 }, { "targets", KABI_ARG_NUMBER, 1, 50 },
	     { "noise", KABI_ARG_NUMBER, 2, 2 }, { "gap", KABI_ARG_NUMBER, 3, 3 },
	     { "counts", KABI_ARG_NUMBER, 4, 0 })
{
	static const char *const totals[3] = { "ns0", "ns1", "ns2" };
	static const char *const fastest[3] = { "min0", "min1", "min2" };
	const struct kabi_body_context *ctx = call->ctx;
	int64_t method = call->args[0], started, each[3], min[3];
	struct race_counts c;
	long noisy[RACE_NOISE_MAX];
	struct noise_start starts[RACE_NOISE_MAX];
	struct race_noise n;
	int count = 0;
	siginfo_t info;

	/* No initializers: the compiler would call memset, outside the sandbox's code. */
	kabi_zero(each, sizeof(each));
	kabi_zero(min, sizeof(min));
	kabi_zero(&c, sizeof(c));
	kabi_zero(starts, sizeof(starts));
	/* The ns_last_pid route, alone or interleaved (scripts/bench), may move the cursor back. */
	c.cursor_forward = method == RACE_SET_TID;
	if (call->args[2] < 0 || call->args[2] > RACE_NOISE_MAX)
		return kabi_setup_failed(call, "noise count", -EINVAL);
	n.starts = starts;
	n.count = (int)call->args[2];
	n.pid_max = kabi_read_int("/proc/sys/kernel/pid_max");
	if (method < RACE_SET_TID || method > RACE_INTERLEAVED)
		return kabi_setup_failed(call, "race method", -EINVAL);
	for (; count < call->args[2]; count++) {
		starts[count].ctx = ctx;
		starts[count].slot = 1 + RACE_NOISE_MAX + count;
		noisy[count] = spawn(ctx, 1 + count, 0, noise, &starts[count]);
		if (noisy[count] < 0)
			break;
	}
	started = now_ns();
	for (int64_t i = 0; i < call->args[1] && count == call->args[2] && !c.limited; i++) {
		if (method != RACE_INTERLEAVED) {
			place_one(ctx, method, call->args[3], &n, &c);
			continue;
		}
		for (int k = 0; k < 3 && !c.limited; k++) {
			int m = (int)((i + k) % 3);
			int64_t took = place_one(ctx, m, call->args[3], &n, &c);

			each[m] += took;
			if (min[m] == 0 || took < min[m])
				min[m] = took;
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
	if (c.limited)
		return kabi_setup_failed(call, "place a process beside the noise", c.limited);
	if (call->args[4]) {
		kabi_report_field(ctx, call->step, "placed", c.placed);
		kabi_report_field(ctx, call->step, "eexist", c.eexist);
		kabi_report_field(ctx, call->step, "nanoseconds", started);
		for (int m = 0; method == RACE_INTERLEAVED && m < 3; m++) {
			kabi_report_field(ctx, call->step, totals[m], each[m]);
			kabi_report_field(ctx, call->step, fastest[m], min[m]);
		}
	}
	kabi_report_field(ctx, call->step, "wrong", c.wrong);
	kabi_report_field(ctx, call->step, "unheld", c.unheld);
	kabi_report_field(ctx, call->step, "failed", c.failed);
	if (c.failed)
		kabi_report_field(ctx, call->step, "firstErrno", c.first_errno);
	return c.placed;
}
