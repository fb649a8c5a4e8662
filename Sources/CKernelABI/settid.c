#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include "kabi_clone3.h"
#include "kabi_files.h"
#include "kabi_program.h"
#include "kabi_raw.h"
#include "sandbox_level.h"

/*
 * Operations that prepare set_tid, ns_last_pid and pid_max cases. Sandbox body code: raw
 * syscalls only, no malloc, no stdio.
 */

/*
 * pid-namespaces N: nests N PID namespaces below the caller (CLONE_NEWPID only, so the caller's
 * user namespace owns them all and it may choose PIDs in each); each new init reports
 * LEVEL_READY and the innermost runs the rest of the program. On x86-64 each level shares the
 * test process's memory (CLONE_VM) on a stack of its own in the body's scratch, as sandbox
 * levels do: a fork per level copied the whole address space of the test process and made up
 * most of a deep case's time. The innermost init gets the largest stack, lowest in the scratch
 * right above its guard page; each other level only waits and passes the exit on.
 */
enum { CHAIN_SLOT = 12 * 1024, CHAIN_INNERMOST = 128 * 1024 };

struct chain {
	struct kabi_program_state state;	/* of the process running it: the level grows */
	int32_t step;
	uint32_t left;				/* levels still to nest */
	uint32_t made;
};

static int chain_entry(void *arg);

static int nest(struct chain *c)
{
	const struct kabi_body_context *ctx = &c->state.ctx;
	siginfo_t info;
	long child;

	if (c->left == 0) {
		kabi_report_named(ctx, KABI_REPORT_CALL, c->step, "pid-namespaces", c->made);
		return kabi_program_resume(&c->state,
					   (unsigned int)(c->step - KABI_PROGRAM_FIRST_STEP) + 1);
	}
	c->left--;
	c->made++;
#if KABI_SANDBOX_SHARES_MEMORY
	{
		unsigned long top = c->left == 0 ? CHAIN_INNERMOST
						 : CHAIN_INNERMOST + c->made * CHAIN_SLOT;

		if (top > ctx->scratch_bytes)
			child = -ENOMEM;
		else
			child = kabi_clone_on_stack(KABI_CLONE_VM | KABI_CLONE_NEWPID | SIGCHLD,
						    (char *)ctx->scratch + top, 0, chain_entry, c);
	}
#else
	child = kabi_fork(KABI_CLONE_NEWPID);
	if (child == 0)
		kabi_sys(SYS_exit_group, chain_entry(c));
#endif
	if (child < 0) {
		kabi_report_named(ctx, KABI_REPORT_SETUP_FAILED, c->step, "pid-namespaces", child);
		return KABI_SANDBOX_SETUP_EXIT;
	}
	if (kabi_reap(child, &info) < 0)
		return KABI_SANDBOX_SETUP_EXIT;
	return info.si_code == CLD_EXITED ? info.si_status : 128;
}

static int chain_entry(void *arg)
{
	struct chain *c = arg;	/* shared with the waiting parent, which reads it no more */

	kabi_sys(SYS_prctl, PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
	c->state.ctx.level++;
	kabi_report_self(&c->state.ctx, KABI_REPORT_LEVEL_READY, 0, 0);
	return nest(c);
}

static long pid_namespaces(const struct kabi_body_context *ctx, int32_t step,
			   const struct kabi_step *s)
{
	struct kabi_program_state *state = kabi_program_state(ctx);
	struct chain c;

	kabi_copy(&c.state, state, sizeof(c.state));
	c.step = step;
	c.left = (uint32_t)s->args[0];
	c.made = 0;
	state->exit_code = nest(&c);
	return KABI_STEP_HANDED_OVER;
}

/* fork-reap N: N processes made and reaped, each taking the next automatic PID. */
static long fork_reap(const struct kabi_body_context *ctx, int32_t step,
		      const struct kabi_step *s)
{
	siginfo_t info;
	long r = 0;

	(void)ctx;
	(void)step;
	for (int64_t i = 0; i < s->args[0] && r >= 0; i++) {
		r = kabi_fork(0);
		if (r == 0)
			kabi_sys(SYS_exit_group, 0);
		if (r > 0)
			r = kabi_reap(r, &info);
	}
	return r < 0 ? r : s->args[0];
}

/* read PATH: the decimal value of a sysctl. */
static long read_int(const struct kabi_body_context *ctx, int32_t step, const struct kabi_step *s)
{
	(void)ctx;
	(void)step;
	return kabi_read_int(s->text);
}

/* write PATH VALUE: one write of the decimal value. */
static long write_int(const struct kabi_body_context *ctx, int32_t step,
		      const struct kabi_step *s)
{
	(void)ctx;
	(void)step;
	return kabi_write_int(s->text, s->args[0]);
}

/* inode PATH: st_ino of the file. */
static long inode(const struct kabi_body_context *ctx, int32_t step, const struct kabi_step *s)
{
	struct stat st;
	long fd = kabi_sys(SYS_openat, AT_FDCWD, s->text, O_RDONLY | O_CLOEXEC);
	long r;

	(void)ctx;
	(void)step;
	if (fd < 0)
		return fd;
	r = kabi_sys(SYS_fstat, fd, &st);
	kabi_sys(SYS_close, fd);
	return r < 0 ? r : (long)st.st_ino;
}

/*
 * own-file PATH INODE: 0 if PATH is another file than the one the test process holds open as
 * INODE, else -EXDEV. Before 6.14 one pid_max serves every PID namespace, and a sandbox mapped
 * to the caller's uid could write the host's as real root: every pid_max write checks first.
 */
static long own_file(const struct kabi_body_context *ctx, int32_t step,
		     const struct kabi_step *s)
{
	long ino = inode(ctx, step, s);

	if (ino < 0)
		return ino;
	return s->args[0] != 0 && (uint64_t)ino != (uint64_t)s->args[0] ? 0 : -EXDEV;
}

/*
 * blocker CLONE_ARGS: a clone3 child (the args at that address: its set_tid) that holds its
 * PIDs until release, or until the program's process ends. Keeps the release descriptor.
 */
static long blocker(const struct kabi_body_context *ctx, int32_t step,
		    const struct kabi_step *s)
{
	struct kabi_program_state *state = kabi_program_state(ctx);
	int fds[2];
	char byte;
	long r = kabi_sys(SYS_pipe2, fds, O_CLOEXEC);

	if (r < 0)
		return r;
	r = kabi_sys(KABI_SYS_CLONE3, (void *)(uintptr_t)s->args[0],
		     sizeof(struct kabi_clone_args));
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
		state->kept[step - KABI_PROGRAM_FIRST_STEP] = fds[1];
	return r;
}

/* release STEP: ends the blocker program step STEP made and reaps it. */
static long release(const struct kabi_body_context *ctx, int32_t step,
		    const struct kabi_step *s)
{
	struct kabi_program_state *state = kabi_program_state(ctx);
	const struct kabi_program *p = ctx->arg;
	int64_t index = s->args[0];
	siginfo_t info;

	(void)step;
	if (index < 0 || index >= KABI_PROGRAM_STEPS || index >= (int64_t)p->count)
		return -EINVAL;
	if (state->result[index] <= 0)
		return -ESRCH;
	kabi_sys(SYS_close, state->kept[index]);
	return kabi_reap(state->result[index], &info);
}

/*
 * drop-caps LO HI: capset with these bits of capability words 0 (0-31) and 1 (32-63) cleared
 * from the effective and permitted sets.
 */
static long drop_caps(const struct kabi_body_context *ctx, int32_t step,
		      const struct kabi_step *s)
{
	struct { uint32_t version; int pid; } head = { 0x20080522, 0 };	/* _LINUX_CAPABILITY_VERSION_3 */
	struct { uint32_t effective, permitted, inheritable; } data[2];
	long r = kabi_sys(SYS_capget, &head, data);

	(void)ctx;
	(void)step;
	if (r < 0)
		return r;
	for (int word = 0; word < 2; word++) {
		data[word].effective &= ~(uint32_t)s->args[word];
		data[word].permitted &= ~(uint32_t)s->args[word];
	}
	return kabi_sys(SYS_capset, &head, data);
}

static const struct kabi_op ops[] = {
	{ "pid-namespaces", pid_namespaces },
	{ "fork-reap", fork_reap },
	{ "read", read_int },
	{ "write", write_int },
	{ "inode", inode },
	{ "own-file", own_file },
	{ "blocker", blocker },
	{ "release", release },
	{ "drop-caps", drop_caps },
};

int kabi_body_settid(const struct kabi_body_context *ctx)
{
	return kabi_run_program(ctx, ops, sizeof(ops) / sizeof(ops[0]));
}
