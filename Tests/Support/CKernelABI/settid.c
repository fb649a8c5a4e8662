#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "kabi_clone3.h"
#include "kabi_files.h"
#include "kabi_raw.h"
#include "kabi_settid.h"
#include "kabi_syscalls.h"
#include "sandbox_level.h"

/* Sandbox body code: raw syscalls only, no malloc, no stdio. */

static const char pid_max_path[] = "/proc/sys/kernel/pid_max";
static const char ns_last_pid_path[] = "/proc/sys/kernel/ns_last_pid";

/* capset: drop CAP_SYS_ADMIN (21) and, unless kept, CAP_CHECKPOINT_RESTORE (40). */
static long drop_caps(int keep_cr)
{
	struct { uint32_t version; int pid; } head = { 0x20080522, 0 };	/* _LINUX_CAPABILITY_VERSION_3 */
	struct { uint32_t effective, permitted, inheritable; } data[2];
	long r = kabi_sys(SYS_capget, &head, data);

	if (r < 0)
		return r;
	data[0].effective &= ~(1U << 21);
	data[0].permitted &= ~(1U << 21);
	if (!keep_cr) {
		data[1].effective &= ~(1U << (40 - 32));
		data[1].permitted &= ~(1U << (40 - 32));
	}
	return kabi_sys(SYS_capset, &head, data);
}

static __attribute__((noreturn)) void
child_main(const struct kabi_body_context *ctx, const struct kabi_settid_scenario *sc, int step)
{
	int64_t value = sc->child_reads == KABI_CHILD_READS_PID_MAX ? kabi_read_int(pid_max_path)
								     : kabi_sys(SYS_getppid);
	char byte;

	kabi_report_self(ctx, KABI_REPORT_CHILD, step, value);
	if (step == KABI_SETTID_FIRST && sc->hold_fd >= 0)
		while (kabi_sys(SYS_read, sc->hold_fd, &byte, 1) == -EINTR)
			;
	kabi_sys(SYS_exit_group, 0);
	__builtin_unreachable();
}

static long clone3_with(uint64_t flags, const int32_t *tids, uint64_t count)
{
	struct kabi_clone_args a;

	kabi_zero(&a, sizeof(a));
	a.flags = flags;
	a.exit_signal = flags & (KABI_CLONE_PARENT | KABI_CLONE_THREAD) ? 0 : SIGCHLD;
	a.set_tid = (uint64_t)(uintptr_t)tids;
	a.set_tid_size = count;
	return kabi_sys(KABI_SYS_CLONE3, &a, sizeof(a));
}

/* The call under test, once; reports CALL(step) and reaps what it made. */
static long perform(const struct kabi_body_context *ctx, const struct kabi_settid_scenario *sc,
		    const int32_t *tids, int step)
{
	/* The sysctl a read or write kind acts on. */
	const char *path = sc->kind == KABI_SETTID_READ_PID_MAX ||
				   sc->kind == KABI_SETTID_WRITE_PID_MAX ? pid_max_path
									 : ns_last_pid_path;
	siginfo_t info;
	long r;

	switch (sc->kind) {
	case KABI_SETTID_UNSHARE:
		r = kabi_sys(SYS_unshare, (unsigned long)sc->flags);
		break;
	case KABI_SETTID_READ_NS_LAST_PID:
	case KABI_SETTID_READ_PID_MAX:
		r = kabi_read_int(path);
		break;
	case KABI_SETTID_WRITE_NS_LAST_PID:
	case KABI_SETTID_WRITE_PID_MAX:
		r = kabi_write_int(path, sc->value);
		break;
	default:
		r = clone3_with(sc->flags, sc->array == KABI_SETTID_INLINE ? tids :
				sc->array == KABI_SETTID_NULL ? NULL :
				(const int32_t *)(uintptr_t)sc->address, sc->tid_count);
		if (r == 0)
			child_main(ctx, sc, step);
	}
	kabi_report_self(ctx, KABI_REPORT_CALL, step, r);
	if (r == 0 && (sc->kind == KABI_SETTID_WRITE_NS_LAST_PID ||
		       sc->kind == KABI_SETTID_WRITE_PID_MAX)) {
		/* A write counts only if the value reads back. */
		kabi_report_self(ctx, KABI_REPORT_CALL, KABI_SETTID_READ_BACK, kabi_read_int(path));
	}
	if (sc->kind != KABI_SETTID_CLONE3 || r <= 0)
		return r;
	/*
	 * The creator's own view: the returned PID names a live process in its namespace. Where
	 * seccomp refuses pidfd_open, kill(pid, 0) asks the same question.
	 */
	long pidfd = kabi_sys(KABI_SYS_PIDFD_OPEN, (int)r, 0);

	if (pidfd >= 0)
		kabi_sys(SYS_close, pidfd);
	else if (pidfd == -EPERM || pidfd == -ENOSYS)
		pidfd = kabi_sys(SYS_kill, r, 0);
	kabi_report_self(ctx, KABI_REPORT_CALL, KABI_SETTID_PIDFD, pidfd < 0 ? pidfd : 0);
	if (!(sc->flags & KABI_CLONE_PARENT)) {
		long w = kabi_reap(r, &info);

		kabi_report_self(ctx, KABI_REPORT_CHILD_EXIT, step, w < 0 ? w : kabi_wait_status(&info));
	}
	return r;
}

static int setup_failed(const struct kabi_body_context *ctx, int step, long err)
{
	kabi_report_self(ctx, KABI_REPORT_SETUP_FAILED, step, err);
	return KABI_SANDBOX_SETUP_EXIT;
}

/* A process holding the blocker's PIDs until release_fd reaches EOF. */
static long make_blocker(const struct kabi_settid_scenario *sc, int fds[2])
{
	char byte;
	long r;

	r = kabi_sys(SYS_pipe2, fds, O_CLOEXEC);
	if (r < 0)
		return r;
	r = clone3_with(sc->blocker_flags, sc->blocker, sc->blocker_count);
	if (r == 0) {
		kabi_sys(SYS_close, fds[1]);
		while (kabi_sys(SYS_read, fds[0], &byte, 1) == -EINTR)
			;
		kabi_sys(SYS_exit_group, 0);
	}
	kabi_sys(SYS_close, fds[0]);
	return r;
}

static int prepare(const struct kabi_body_context *ctx, const struct kabi_settid_scenario *sc)
{
	siginfo_t info;
	long r;

	for (uint32_t i = 0; i < sc->spawn_before; i++) {
		r = kabi_fork(0);
		if (r == 0)
			kabi_sys(SYS_exit_group, 0);
		if (r < 0 || (r = kabi_reap(r, &info)) < 0)
			return setup_failed(ctx, KABI_SETTID_STEP_SPAWN, r);
	}
	if (sc->write_pid_max > 0 && (r = kabi_write_int(pid_max_path, sc->write_pid_max)) < 0)
		return setup_failed(ctx, KABI_SETTID_STEP_PID_MAX, r);
	return 0;
}

static int restrict_caller(const struct kabi_body_context *ctx,
			   const struct kabi_settid_scenario *sc)
{
	long r;

	if ((sc->prepare & KABI_PREP_UNSHARE_PID) &&
	    (r = kabi_sys(SYS_unshare, (unsigned long)KABI_CLONE_NEWPID)) < 0)
		return setup_failed(ctx, KABI_SETTID_STEP_UNSHARE_PID, r);
	if ((sc->prepare & KABI_PREP_UNSHARE_USER) &&
	    (r = kabi_sys(SYS_unshare, (unsigned long)KABI_CLONE_NEWUSER)) < 0)
		return setup_failed(ctx, KABI_SETTID_STEP_UNSHARE_USER, r);
	if ((sc->prepare & KABI_PREP_DROP_CAPS) &&
	    (r = drop_caps(sc->prepare & KABI_PREP_KEEP_CR)) < 0)
		return setup_failed(ctx, KABI_SETTID_STEP_CAPSET, r);
	if (sc->write_ns_last_pid >= 0 &&
	    (r = kabi_write_int(ns_last_pid_path, sc->write_ns_last_pid)) < 0)
		return setup_failed(ctx, KABI_SETTID_STEP_NS_LAST_PID, r);
	return 0;
}

/*
 * The PID namespaces nested below the body. On x86-64 each level shares the test process's
 * memory (CLONE_VM) on a stack of its own in the body's scratch, as sandbox levels do: a fork
 * per level copied the whole address space of the test process and made up most of a deep
 * case's time. The innermost init runs the scenario, on the largest stack, lowest in the
 * scratch right above its guard page; each other level only waits and passes the exit on.
 */
enum { CHAIN_SLOT = 12 * 1024, CHAIN_INNERMOST = 128 * 1024 };

struct chain {
	struct kabi_body_context ctx;	/* the context of the process running it: level grows */
	uint32_t left;			/* levels still to nest */
	uint32_t made;
};

static int run_scenario(const struct kabi_body_context *ctx);

static int chain_entry(void *arg);

/* Makes the next level and waits for it; in the innermost, runs the scenario. */
static int nest(struct chain *c)
{
	siginfo_t info;
	long child;

	if (c->left == 0)
		return run_scenario(&c->ctx);
	c->left--;
	c->made++;
#if KABI_SANDBOX_SHARES_MEMORY
	{
		unsigned long top = c->left == 0 ? CHAIN_INNERMOST
						 : CHAIN_INNERMOST + c->made * CHAIN_SLOT;

		if (top > c->ctx.scratch_bytes)
			return setup_failed(&c->ctx, KABI_SETTID_STEP_CHAIN, -ENOMEM);
		child = kabi_clone_on_stack(KABI_CLONE_VM | KABI_CLONE_NEWPID | SIGCHLD,
					    (char *)c->ctx.scratch + top, 0, chain_entry, c);
	}
#else
	child = kabi_fork(KABI_CLONE_NEWPID);
	if (child == 0)
		kabi_sys(SYS_exit_group, chain_entry(c));
#endif
	if (child < 0)
		return setup_failed(&c->ctx, KABI_SETTID_STEP_CHAIN, child);
	if (kabi_reap(child, &info) < 0)
		return KABI_SANDBOX_SETUP_EXIT;
	return info.si_code == CLD_EXITED ? info.si_status : 128;
}

static int chain_entry(void *arg)
{
	struct chain *c = arg;	/* shared with the waiting parent, which reads it no more */

	kabi_sys(SYS_prctl, PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
	c->ctx.level++;
	kabi_report_self(&c->ctx, KABI_REPORT_LEVEL_READY, 0, 0);
	return nest(c);
}

/* Whether /proc/sys/kernel/pid_max here is this PID namespace's own, not the host's. */
static int pid_max_is_own(const struct kabi_settid_scenario *sc)
{
	long fd = kabi_sys(SYS_openat, AT_FDCWD, pid_max_path, O_RDONLY | O_CLOEXEC);
	struct stat st;
	long r;

	if (fd < 0)
		return 0;
	r = kabi_sys(SYS_fstat, fd, &st);
	kabi_sys(SYS_close, fd);
	return r == 0 && sc->host_pid_max_ino != 0 && st.st_ino != sc->host_pid_max_ino;
}

int kabi_body_settid(const struct kabi_body_context *outer)
{
	struct chain c;

	kabi_copy(&c.ctx, outer, sizeof(c.ctx));
	c.left = ((const struct kabi_settid_scenario *)outer->arg)->pid_chain;
	c.made = 0;
	return nest(&c);
}

static int run_scenario(const struct kabi_body_context *ctx)
{
	const struct kabi_settid_scenario *sc = ctx->arg;
	int32_t tids[KABI_MAX_PID_NS_LEVEL + 1];
	int blocker_fds[2] = { -1, -1 };
	long blocker = 0, r;
	siginfo_t info;
	int failed;

	if ((sc->kind == KABI_SETTID_WRITE_PID_MAX || sc->write_pid_max > 0) && !pid_max_is_own(sc))
		return setup_failed(ctx, KABI_SETTID_STEP_HOST_PID_MAX, -EXDEV);
	kabi_copy(tids, sc->tids, sizeof(tids));
	if (sc->pid_max_relative) {
		int64_t pid_max = kabi_read_int(pid_max_path);

		if (pid_max < 0)
			return setup_failed(ctx, KABI_SETTID_STEP_READ_PID_MAX, pid_max);
		kabi_report_self(ctx, KABI_REPORT_CALL, KABI_SETTID_PID_MAX_READ, pid_max);
		for (int i = 0; i <= KABI_MAX_PID_NS_LEVEL; i++)
			if (sc->pid_max_relative & (1U << i))
				tids[i] = (int32_t)(pid_max + tids[i]);
	}
	if ((failed = prepare(ctx, sc)) != 0)
		return failed;
	if (sc->blocker_count > 0) {
		blocker = make_blocker(sc, blocker_fds);
		if (blocker < 0)
			return setup_failed(ctx, KABI_SETTID_STEP_BLOCKER, blocker);
	}
	if ((failed = restrict_caller(ctx, sc)) != 0)
		return failed;

	if (sc->prepare & KABI_PREP_FROM_CHILD) {
		/*
		 * A helper makes the call; with CLONE_PARENT its child becomes the body's, which
		 * reaps the PID clone3 returned (sent over a pipe), not the one it asked for.
		 */
		int made[2];
		long helper, returned = 0;

		if ((r = kabi_sys(SYS_pipe2, made, O_CLOEXEC)) < 0)
			return setup_failed(ctx, KABI_SETTID_STEP_HELPER, r);
		helper = kabi_fork(0);
		if (helper == 0) {
			kabi_sys(SYS_close, made[0]);
			r = perform(ctx, sc, tids, KABI_SETTID_FIRST);
			kabi_sys(SYS_write, made[1], &r, sizeof(r));
			kabi_sys(SYS_exit_group, 0);
		}
		kabi_sys(SYS_close, made[1]);
		if (helper > 0 && kabi_sys(SYS_read, made[0], &returned, sizeof(returned)) !=
					  (long)sizeof(returned))
			returned = 0;
		kabi_sys(SYS_close, made[0]);
		if (helper < 0 || kabi_reap(helper, &info) < 0)
			return setup_failed(ctx, KABI_SETTID_STEP_HELPER, helper < 0 ? helper : -ECHILD);
		if (returned > 0 && (sc->flags & KABI_CLONE_PARENT)) {
			long w = kabi_reap(returned, &info);

			kabi_report_self(ctx, KABI_REPORT_CHILD_EXIT, KABI_SETTID_FIRST,
					 w < 0 ? w : kabi_wait_status(&info));
		}
	} else {
		r = perform(ctx, sc, tids, KABI_SETTID_FIRST);
	}

	if (blocker > 0) {
		kabi_sys(SYS_close, blocker_fds[1]);
		kabi_reap(blocker, &info);
		if (sc->retry)
			perform(ctx, sc, tids, KABI_SETTID_RETRY);
	}
	return 0;
}

int kabi_body_pid_max_inode(const struct kabi_body_context *ctx)
{
	struct stat st;
	long fd = kabi_sys(SYS_openat, AT_FDCWD, pid_max_path, O_RDONLY | O_CLOEXEC);
	long r = fd;

	if (fd >= 0) {
		r = kabi_sys(SYS_fstat, fd, &st);
		kabi_sys(SYS_close, fd);
		if (r == 0)
			r = (long)st.st_ino;
	}
	kabi_report_self(ctx, KABI_REPORT_CALL, 0, r);
	return 0;
}

/* --- Runs in the test process. --- */

long kabi_ns_get_pid_in_pidns(int nsfd, int pid)
{
	return kabi_sys(SYS_ioctl, nsfd, _IOR(0xb7, 0x8, int), pid);
}
