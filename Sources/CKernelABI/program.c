#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/syscall.h>

#include "kabi_program.h"
#include "kabi_raw.h"

/* The step interpreter: raw syscalls only, no malloc, no stdio. */

static int same_name(const char *a, const char *b)
{
	int i = 0;

	for (; a[i] && i < KABI_NAME_MAX; i++)
		if (a[i] != b[i])
			return 0;
	return i == KABI_NAME_MAX || b[i] == 0;
}

static long op_unshare(const struct kabi_body_context *ctx, int32_t step,
		       const struct kabi_step *s)
{
	(void)ctx;
	(void)step;
	return kabi_sys(SYS_unshare, s->args[0]);
}

/*
 * Forks a child with args[0] as extra clone flags that blocks until the program's process ends
 * (PR_SET_PDEATHSIG): an init for a namespace made by unshare(CLONE_NEWPID), for instance.
 */
static long op_spawn(const struct kabi_body_context *ctx, int32_t step,
		     const struct kabi_step *s)
{
	long child = kabi_fork(s->args[0]);

	(void)ctx;
	(void)step;
	if (child == 0) {
		kabi_sys(SYS_prctl, PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
		for (;;)
			kabi_sys(SYS_ppoll, 0, 0, 0, 0, 8);
	}
	return child;
}

static const struct kabi_op common_ops[] = {
	{ "unshare", op_unshare },
	{ "spawn", op_spawn },
	{ "clone3", kabi_op_clone3 },
	{ "thread", kabi_op_thread },
};

static kabi_op_run find(const char *name, const struct kabi_op *ops, unsigned int count)
{
	for (unsigned int i = 0; i < count; i++)
		if (same_name(ops[i].name, name))
			return ops[i].run;
	for (unsigned int i = 0; i < sizeof(common_ops) / sizeof(common_ops[0]); i++)
		if (same_name(common_ops[i].name, name))
			return common_ops[i].run;
	return 0;
}

long kabi_step_open(const struct kabi_body_context *ctx, int32_t step, const char *path)
{
	long fd = kabi_sys(SYS_openat, AT_FDCWD, path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		kabi_report_named(ctx, KABI_REPORT_SETUP_FAILED, step, "open", fd);
	return fd;
}

int kabi_program_resume(struct kabi_program_state *state, unsigned int first)
{
	const struct kabi_body_context *ctx = &state->ctx;
	const struct kabi_program *p = ctx->arg;

	for (unsigned int i = first; i < p->count && i < KABI_PROGRAM_STEPS; i++) {
		const struct kabi_step *s = &p->steps[i];
		int32_t step = KABI_PROGRAM_FIRST_STEP + (int32_t)i;
		kabi_op_run run = find(s->op, state->ops, state->op_count);
		long r;

		if (!run) {
			kabi_report_named(ctx, KABI_REPORT_SETUP_FAILED, step, s->op, -ENOSYS);
			return KABI_SANDBOX_SETUP_EXIT;
		}
		r = run(ctx, step, s);
		if (r == KABI_STEP_ABORTED)
			return KABI_SANDBOX_SETUP_EXIT;
		if (r == KABI_STEP_HANDED_OVER)
			return state->exit_code;
		state->result[i] = r;
		if (r < 0 && s->setup) {
			kabi_report_named(ctx, KABI_REPORT_SETUP_FAILED, step, s->op, r);
			return KABI_SANDBOX_SETUP_EXIT;
		}
		kabi_report_named(ctx, KABI_REPORT_CALL, step, s->op, r);
		if (r < 0 && !s->go_on)
			break;
	}
	return 0;
}

int kabi_run_program(const struct kabi_body_context *ctx, const struct kabi_op *ops,
		     unsigned int count)
{
	struct kabi_program_state state;

	kabi_zero(&state, sizeof(state));
	kabi_copy(&state.ctx, ctx, sizeof(state.ctx));
	state.ops = ops;
	state.op_count = count;
	return kabi_program_resume(&state, 0);
}

int kabi_body_program(const struct kabi_body_context *ctx)
{
	return kabi_run_program(ctx, 0, 0);
}
