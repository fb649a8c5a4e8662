#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/futex.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>

#include "clone3_effects.h"
#include "kabi_clone3.h"
#include "kabi_files.h"
#include "kabi_processes.h"
#include "kabi_program.h"
#include "kabi_raw.h"
#include "kabi_threads.h"

/*
 * clone3's effects, each seen by the process that would see it: the signal the parent gets when
 * the child exits, the TIDs written and cleared, the stack the child runs on, the dispositions
 * it starts with, its parent, and the order CLONE_VFORK imposes. Every child reports CHILD and
 * is reaped with CHILD_EXIT, so the suite proves it ran with the PID returned. Sandbox code:
 * raw syscalls only, no malloc, no stdio.
 */

/*
 * exit-signal: the caller blocks every signal and makes a child with exit_signal signal (no
 * flags), which exits 0. Once the child is a zombie (waitid WNOWAIT: the kernel signals the
 * parent before it lets waitid see the zombie), the caller takes a pending signal without
 * waiting: field signal (0: none), and for one its code, sender (si_pid) and status; then
 * another, the next pending signal (0: none).
 */
KABI_OP(op_exit_signal, "exit-signal", "clone3", { "signal", KABI_ARG_SIGNAL, 0 })
{
	const struct kabi_body_context *ctx = call->ctx;
	struct kabi_clone_args a;
	siginfo_t info;
	uint64_t old;
	long r, w, sig;

	if ((r = kabi_block_signals(&old)) < 0)
		return kabi_setup_failed(call, "rt_sigprocmask", r);
	kabi_args_for(&a, 0, (uint64_t)call->args[0]);
	r = kabi_sys(KABI_SYS_CLONE3, &a, sizeof(a));
	if (r == 0) {
		kabi_report_self(ctx, KABI_REPORT_CHILD, call->step, kabi_sys(SYS_getppid));
		kabi_sys(SYS_exit_group, 0);
	}
	if (r > 0) {
		w = kabi_wait_exited(r);
		sig = w < 0 ? w : kabi_take_signal(&info);
		kabi_report_field(ctx, call->step, "signal", sig);
		if (sig > 0) {
			kabi_report_field(ctx, call->step, "code", info.si_code);
			kabi_report_field(ctx, call->step, "sender", info.si_pid);
			kabi_report_field(ctx, call->step, "status", info.si_status);
			kabi_report_field(ctx, call->step, "another", kabi_take_signal(&info));
		}
		kabi_reap_child(ctx, call->step, r);
		if (w < 0) {
			kabi_restore_signals(&old);
			return kabi_setup_failed(call, "waitid", w);
		}
	}
	kabi_restore_signals(&old);
	return r;
}

/*
 * settid: clone3(flags, exit_signal SIGCHLD) with parent_tid and child_tid pointing at two
 * words of the caller's, both -1. The child reads child_tid in its own memory and sends it
 * back; the caller reports fields parentTid (its word after the call), childTid (what the
 * child read) and childTidHere (the caller's child_tid word).
 */
KABI_OP(op_settid, "settid", "clone3", { "flags", KABI_ARG_FLAGS, 0 })
{
	const struct kabi_body_context *ctx = call->ctx;
	volatile int32_t parent_word = -1, child_word = -1;
	struct kabi_clone_args a;
	int32_t seen = 0;
	int fds[2];
	long r, n;

	if ((r = kabi_sys(SYS_pipe2, fds, O_CLOEXEC)) < 0)
		return kabi_setup_failed(call, "pipe2", r);
	kabi_args_for(&a, (uint64_t)call->args[0], SIGCHLD);
	a.parent_tid = (uint64_t)(uintptr_t)&parent_word;
	a.child_tid = (uint64_t)(uintptr_t)&child_word;
	r = kabi_sys(KABI_SYS_CLONE3, &a, sizeof(a));
	if (r == 0) {
		int32_t mine = child_word;

		kabi_report_self(ctx, KABI_REPORT_CHILD, call->step, kabi_sys(SYS_getppid));
		kabi_sys(SYS_write, fds[1], &mine, sizeof(mine));
		kabi_sys(SYS_exit_group, 0);
	}
	kabi_sys(SYS_close, fds[1]);
	n = r > 0 ? kabi_sys(SYS_read, fds[0], &seen, sizeof(seen)) : 0;
	kabi_sys(SYS_close, fds[0]);
	if (r > 0) {
		kabi_report_field(ctx, call->step, "parentTid", parent_word);
		kabi_report_field(ctx, call->step, "childTid", seen);
		kabi_report_field(ctx, call->step, "childTidHere", child_word);
		kabi_reap_child(ctx, call->step, r);
		if (n != (long)sizeof(seen))
			return kabi_setup_failed(call, "read the child's word", n < 0 ? n : -EPIPE);
	}
	return r;
}

/* The SKIP reason of cleartid and stack: a child on a stack they give starts in the trampoline. */
#define OWN_STACK_NEEDS                                                                        \
	"a child on a stack of its own from a sandbox body needs the x86-64 clone3 trampoline"

struct shared_child {
	const struct kabi_body_context *ctx;
	int32_t step;
	long caller_stat;		/* the caller's /proc/<pid>/stat, open */
	volatile int32_t *word;		/* child_tid */
	volatile int32_t waiting;	/* the caller is about to wait on word */
	volatile int32_t saw_sleep;	/* the child saw it asleep before exiting */
	volatile int32_t tid_seen;	/* the word when the child started */
	uint64_t low, high;		/* the stack given */
};

/* A CLONE_VM child: reports, then exits once its caller sleeps on the word (5 s at most). */
static int cleartid_main(void *arg)
{
	struct shared_child *c = arg;

	c->tid_seen = *c->word;
	kabi_report_self(c->ctx, KABI_REPORT_CHILD, c->step, kabi_sys(SYS_getppid));
	for (int i = 0; i < KABI_POLL_TRIES && !c->saw_sleep; i++) {
		if (c->waiting && kabi_process_state(c->caller_stat) == 'S')
			c->saw_sleep = 1;
		else
			kabi_nap();
	}
	return 0;
}

/*
 * cleartid: clone3(CLONE_VM|CLONE_CHILD_CLEARTID|flags, exit_signal SIGCHLD) on the sandbox's
 * scratch stack, child_tid at a word of the caller's (-1). The caller waits on the word with
 * FUTEX_WAIT until it is 0 (5 s at a time, until the child has exited); the child exits only once
 * it saw the caller asleep.
 * Fields: tidWord (the word then), woken (1: a FUTEX_WAIT returned 0 and found the word 0),
 * childTid (the word as the child started). BROKEN when the child never saw the caller asleep.
 */
KABI_OP_WITH((.needs_trampoline = OWN_STACK_NEEDS, .scratch = KABI_SCRATCH_STEP),
	     op_cleartid, "cleartid", "clone3", { "flags", KABI_ARG_FLAGS, 0 })
{
	const struct kabi_body_context *ctx = call->ctx;
	volatile int32_t word = -1;
	struct kabi_clone_args a;
	struct shared_child c;
	struct timespec limit;
	int32_t seen;
	long r, woken = 0;

	c.ctx = ctx;
	c.step = call->step;
	c.word = &word;
	c.waiting = 0;
	c.saw_sleep = 0;
	c.tid_seen = 0;
	if ((c.caller_stat = kabi_step_open(call, "/proc/self/stat")) < 0)
		return KABI_STEP_ABORTED;
	kabi_args_for(&a, KABI_CLONE_VM | KABI_CLONE_CHILD_CLEARTID | (uint64_t)call->args[0],
		      SIGCHLD);
	a.child_tid = (uint64_t)(uintptr_t)&word;
	a.stack = (uint64_t)(uintptr_t)ctx->scratch;
	a.stack_size = ctx->scratch_bytes;
	r = kabi_clone3_run(&a, sizeof(a), cleartid_main, &c);
	if (r > 0) {
		limit.tv_sec = 5;
		limit.tv_nsec = 0;
		c.waiting = 1;
		while ((seen = word) != 0) {
			long w = kabi_sys(SYS_futex, &word, FUTEX_WAIT, seen, &limit);

			if (w == 0 && word == 0)
				woken = 1;
			/* A slow child is waited for (the sandbox's timeout bounds it); one that
			 * exited without clearing the word or waking the caller is the answer. */
			if (w == -ETIMEDOUT && kabi_has_exited(r))
				break;
		}
		kabi_reap_child(ctx, call->step, r);
		kabi_report_field(ctx, call->step, "tidWord", word);
		kabi_report_field(ctx, call->step, "woken", woken);
		kabi_report_field(ctx, call->step, "childTid", c.tid_seen);
	}
	kabi_sys(SYS_close, c.caller_stat);
	if (r > 0 && !c.saw_sleep)
		return kabi_setup_failed(call, "see the caller asleep", -ETIMEDOUT);
	return r;
}

/* Reports whether a local of the child's lies inside the stack given. */
static int stack_main(void *arg)
{
	const struct shared_child *c = arg;
	volatile char here = 0;
	uint64_t at = (uint64_t)(uintptr_t)&here;

	kabi_report_self(c->ctx, KABI_REPORT_CHILD, c->step, kabi_sys(SYS_getppid));
	kabi_report_field(c->ctx, c->step, "onStack", at >= c->low && at < c->high);
	return here;
}

/*
 * stack: clone3(flags, exit_signal SIGCHLD) with stack and stack_size the sandbox's scratch
 * memory; the child reports field onStack, 1 when a local of its own lies in
 * [stack, stack + stack_size).
 */
KABI_OP_WITH((.needs_trampoline = OWN_STACK_NEEDS, .scratch = KABI_SCRATCH_STEP),
	     op_stack, "stack", "clone3", { "flags", KABI_ARG_FLAGS, 0 })
{
	const struct kabi_body_context *ctx = call->ctx;
	struct kabi_clone_args a;
	struct shared_child c;
	long r;

	c.ctx = ctx;
	c.step = call->step;
	c.low = (uint64_t)(uintptr_t)ctx->scratch;
	c.high = c.low + ctx->scratch_bytes;
	kabi_args_for(&a, (uint64_t)call->args[0], SIGCHLD);
	a.stack = c.low;
	a.stack_size = ctx->scratch_bytes;
	r = kabi_clone3_run(&a, sizeof(a), stack_main, &c);
	if (r > 0)
		kabi_reap_child(ctx, call->step, r);
	return r;
}

/* struct sigaction as rt_sigaction(2) takes it on x86-64 and arm64 (sa_restorer unused). */
struct kernel_sigaction {
	uint64_t handler, flags, restorer, mask;
};

enum { DISPOSITION_DEFAULT = 0, DISPOSITION_IGNORED = 1, DISPOSITION_HANDLED = 2 };

/* Never runs: nothing sends the signal it handles. */
static void unused_handler(int sig)
{
	(void)sig;
}

/* The caller's disposition of sig: DISPOSITION_*, or -errno. */
static long disposition(int sig)
{
	struct kernel_sigaction now;
	long r = kabi_sys(SYS_rt_sigaction, sig, 0, &now, KABI_SIGSET_BYTES);

	if (r < 0)
		return r;
	if (now.handler == (uint64_t)(uintptr_t)SIG_DFL)
		return DISPOSITION_DEFAULT;
	return now.handler == (uint64_t)(uintptr_t)SIG_IGN ? DISPOSITION_IGNORED
							   : DISPOSITION_HANDLED;
}

/*
 * sighand: the caller handles SIGUSR1 and ignores SIGUSR2, then makes a child with
 * clone3(flags, exit_signal SIGCHLD), which reports its dispositions: fields handled (of
 * SIGUSR1) and ignored (of SIGUSR2), each 0 default, 1 ignored, 2 a handler. The caller's own
 * dispositions are put back.
 */
KABI_OP(op_sighand, "sighand", "clone3", { "flags", KABI_ARG_FLAGS, 0 })
{
	const struct kabi_body_context *ctx = call->ctx;
	struct kabi_sigaction_pair {
		struct kernel_sigaction set, old;
	} usr1, usr2;
	struct kabi_clone_args a;
	long r;

	kabi_zero(&usr1, sizeof(usr1));
	kabi_zero(&usr2, sizeof(usr2));
	usr1.set.handler = (uint64_t)(uintptr_t)unused_handler;
	usr2.set.handler = (uint64_t)(uintptr_t)SIG_IGN;
	if ((r = kabi_sys(SYS_rt_sigaction, SIGUSR1, &usr1.set, &usr1.old, KABI_SIGSET_BYTES)) < 0)
		return kabi_setup_failed(call, "rt_sigaction", r);
	if ((r = kabi_sys(SYS_rt_sigaction, SIGUSR2, &usr2.set, &usr2.old, KABI_SIGSET_BYTES)) < 0) {
		kabi_sys(SYS_rt_sigaction, SIGUSR1, &usr1.old, 0, KABI_SIGSET_BYTES);
		return kabi_setup_failed(call, "rt_sigaction", r);
	}
	kabi_args_for(&a, (uint64_t)call->args[0], SIGCHLD);
	r = kabi_sys(KABI_SYS_CLONE3, &a, sizeof(a));
	if (r == 0) {
		kabi_report_self(ctx, KABI_REPORT_CHILD, call->step, kabi_sys(SYS_getppid));
		kabi_report_field(ctx, call->step, "handled", disposition(SIGUSR1));
		kabi_report_field(ctx, call->step, "ignored", disposition(SIGUSR2));
		kabi_sys(SYS_exit_group, 0);
	}
	if (r > 0)
		kabi_reap_child(ctx, call->step, r);
	kabi_sys(SYS_rt_sigaction, SIGUSR2, &usr2.old, 0, KABI_SIGSET_BYTES);
	kabi_sys(SYS_rt_sigaction, SIGUSR1, &usr1.old, 0, KABI_SIGSET_BYTES);
	return r;
}

/*
 * time-namespace: the caller holds /proc/self/ns/time open and makes clone3(CLONE_NEWTIME,
 * exit_signal SIGCHLD). The child reports fields sameTimeNs (1: its time namespace is the
 * caller's, by st_dev and st_ino) and offsets, what writing "monotonic 1 0" to
 * /proc/self/timens_offsets gives (0, or -errno).
 */
KABI_OP(op_time_namespace, "time-namespace", "clone3", { "flags", KABI_ARG_FLAGS, 0 })
{
	const struct kabi_body_context *ctx = call->ctx;
	static const char offset[] = "monotonic 1 0";
	struct kabi_clone_args a;
	long caller, r;

	if ((caller = kabi_step_open(call, "/proc/self/ns/time")) < 0)
		return KABI_STEP_ABORTED;
	kabi_args_for(&a, KABI_CLONE_NEWTIME | (uint64_t)call->args[0], SIGCHLD);
	r = kabi_sys(KABI_SYS_CLONE3, &a, sizeof(a));
	if (r == 0) {
		kabi_report_self(ctx, KABI_REPORT_CHILD, call->step, kabi_sys(SYS_getppid));
		kabi_report_field(ctx, call->step, "sameTimeNs",
				  kabi_fd_is_namespace(caller, "/proc/self/ns/time"));
		kabi_report_field(ctx, call->step, "offsets",
				  kabi_write_file("/proc/self/timens_offsets", offset,
						  sizeof(offset) - 1));
		kabi_sys(SYS_exit_group, 0);
	}
	if (r > 0)
		kabi_reap_child(ctx, call->step, r);
	kabi_sys(SYS_close, caller);
	return r;
}

/*
 * Why no-new-privs cannot run here: a process inherits no_new_privs, so a child could not
 * show that only CLONE_NNP set it. Test-process code.
 */
static const char *nnp_need(char *buf, size_t len)
{
	long nnp = kabi_sys(SYS_prctl, PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0);
	char number[24];

	if (nnp == 0)
		return 0;
	*kabi_format_int(number, nnp) = 0;
	return kabi_concat(buf, len, "the test process runs with no_new_privs set (prctl "
			   "PR_GET_NO_NEW_PRIVS answered ", number, "), which every child inherits",
			   (char *)0);
}

/*
 * no-new-privs: clone3(flags, exit_signal SIGCHLD); the child reports field childNnp, its
 * prctl(PR_GET_NO_NEW_PRIVS), and the caller reports callerNnp, its own after the call. BROKEN
 * when the caller has no_new_privs before the call (every child would inherit it; the test
 * process SKIPs such a case before, nnp_need).
 */
KABI_OP_WITH((.need = nnp_need), op_no_new_privs, "no-new-privs", "clone3",
	     { "flags", KABI_ARG_FLAGS, 0 })
{
	const struct kabi_body_context *ctx = call->ctx;
	struct kabi_clone_args a;
	long r;

	if ((r = kabi_sys(SYS_prctl, PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0)) != 0)
		return kabi_setup_failed(call, "start without no_new_privs", r < 0 ? r : -EEXIST);
	kabi_args_for(&a, (uint64_t)call->args[0], SIGCHLD);
	r = kabi_sys(KABI_SYS_CLONE3, &a, sizeof(a));
	if (r == 0) {
		kabi_report_self(ctx, KABI_REPORT_CHILD, call->step, kabi_sys(SYS_getppid));
		kabi_report_field(ctx, call->step, "childNnp",
				  kabi_sys(SYS_prctl, PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0));
		kabi_sys(SYS_exit_group, 0);
	}
	if (r > 0) {
		kabi_report_field(ctx, call->step, "callerNnp",
				  kabi_sys(SYS_prctl, PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0));
		kabi_reap_child(ctx, call->step, r);
	}
	return r;
}

/* The lines of the file at dir/path (a directory descriptor): its count of '\n', or -errno. */
static long count_lines_at(long dir, const char *path)
{
	char buf[4096];
	long fd = kabi_sys(SYS_openat, dir, path, O_RDONLY | O_CLOEXEC), n, lines = 0;

	if (fd < 0)
		return fd;
	while ((n = kabi_sys(SYS_read, fd, buf, sizeof(buf))) > 0 || n == -EINTR)
		for (long i = 0; i < n; i++)
			lines += buf[i] == '\n';
	kabi_sys(SYS_close, fd);
	return n < 0 ? n : lines;
}

/* Whether dir/path and fd are one file, by st_dev and st_ino: 1, 0, or -errno. */
static long same_file_at(long fd, long dir, const char *path)
{
	struct stat x, y;
	long r = kabi_sys(SYS_fstat, fd, &x);

	if (r == 0)
		r = kabi_sys(SYS_newfstatat, dir, path, &y, 0);
	return r < 0 ? r : x.st_dev == y.st_dev && x.st_ino == y.st_ino;
}

/*
 * mount-ns: the caller holds its /proc/self/ns/mnt and a descriptor of /proc open, changes its
 * working directory to /proc and makes clone3(flags, exit_signal SIGCHLD); it reports field
 * callerMounts (the lines of its /proc/self/mountinfo) and goes back to its directory. The child
 * looks through the inherited /proc descriptor (its own root may have no /proc): fields
 * sameMntNs (1: self/ns/mnt is the caller's mount namespace), mounts (the lines of
 * self/mountinfo, the mounts of its namespace seen from its root), mountsAsCaller (1: as many
 * as the caller's) and cwdIsRoot (1: "." and "/" are one directory); it then changes its
 * working directory to that /proc, so that its records find self/status.
 */
KABI_OP(op_mount_ns, "mount-ns", "clone3", { "flags", KABI_ARG_FLAGS, 0 })
{
	const struct kabi_body_context *ctx = call->ctx;
	struct kabi_clone_args a;
	long ns, proc, cwd, caller, r;

	if ((ns = kabi_step_open(call, "/proc/self/ns/mnt")) < 0)
		return KABI_STEP_ABORTED;
	proc = kabi_sys(SYS_openat, AT_FDCWD, "/proc", O_PATH | O_DIRECTORY | O_CLOEXEC);
	cwd = kabi_sys(SYS_openat, AT_FDCWD, ".", O_PATH | O_DIRECTORY | O_CLOEXEC);
	caller = proc < 0 ? proc : count_lines_at(proc, "self/mountinfo");
	if (proc < 0 || cwd < 0 || caller < 0) {
		r = proc < 0 ? proc : cwd < 0 ? cwd : caller;
		kabi_sys(SYS_close, ns);
		kabi_sys(SYS_close, proc);
		kabi_sys(SYS_close, cwd);
		return kabi_setup_failed(call, "open /proc, . and self/mountinfo", r);
	}
	if ((r = kabi_sys(SYS_fchdir, proc)) < 0) {
		kabi_sys(SYS_close, ns);
		kabi_sys(SYS_close, proc);
		kabi_sys(SYS_close, cwd);
		return kabi_setup_failed(call, "chdir /proc", r);
	}
	kabi_args_for(&a, (uint64_t)call->args[0], SIGCHLD);
	r = kabi_sys(KABI_SYS_CLONE3, &a, sizeof(a));
	if (r == 0) {
		long mounts = count_lines_at(proc, "self/mountinfo");
		long same = same_file_at(ns, proc, "self/ns/mnt");
		long root = kabi_same_namespace(".", "/");
		/* Records read the NSpid from self/status, relative to /proc: its root may lack it. */
		static const char status[] = "self/status";

		kabi_sys(SYS_fchdir, proc);
		kabi_report_self_from(ctx, KABI_REPORT_CHILD, call->step, kabi_sys(SYS_getppid),
				      status);
		kabi_report_field_from(ctx, call->step, "sameMntNs", same, status);
		kabi_report_field_from(ctx, call->step, "mounts", mounts, status);
		kabi_report_field_from(ctx, call->step, "mountsAsCaller", mounts == caller, status);
		kabi_report_field_from(ctx, call->step, "cwdIsRoot", root, status);
		kabi_sys(SYS_exit_group, 0);
	}
	kabi_sys(SYS_fchdir, cwd);
	if (r > 0) {
		kabi_report_field(ctx, call->step, "callerMounts", caller);
		kabi_reap_child(ctx, call->step, r);
	}
	kabi_sys(SYS_close, ns);
	kabi_sys(SYS_close, proc);
	kabi_sys(SYS_close, cwd);
	return r;
}
