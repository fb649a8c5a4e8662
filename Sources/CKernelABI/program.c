#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/syscall.h>

#include "kabi_processes.h"
#include "kabi_program.h"
#include "kabi_raw.h"
#include "kabi_threads.h"

/* The step interpreter: raw syscalls only, no malloc, no stdio. */

/* The linker's bounds of the kabi_ops section; hidden, so reaching them needs no GOT entry. */
extern const struct kabi_op __start_kabi_ops[] __attribute__((visibility("hidden")));
extern const struct kabi_op __stop_kabi_ops[] __attribute__((visibility("hidden")));

unsigned int kabi_op_count(void)
{
	return (unsigned int)(__stop_kabi_ops - __start_kabi_ops);
}

const struct kabi_op *kabi_op_at(unsigned int index)
{
	return index < kabi_op_count() ? &__start_kabi_ops[index] : 0;
}

const char *kabi_op_unmet_need(const struct kabi_op *op, char *buf, size_t len)
{
	if (op->needs_trampoline && !kabi_threads_supported())
		return op->needs_trampoline;
	return op->need ? op->need(buf, len) : 0;
}

static int same_name(const char *a, const char *b)
{
	int i = 0;

	for (; a[i] && i < KABI_NAME_MAX; i++)
		if (a[i] != b[i])
			return 0;
	return i == KABI_NAME_MAX || b[i] == 0;
}

static const struct kabi_op *find(const char *name)
{
	for (unsigned int i = 0; i < kabi_op_count(); i++)
		if (same_name(__start_kabi_ops[i].name, name))
			return &__start_kabi_ops[i];
	return 0;
}

long kabi_keep(struct kabi_call *call, const char *name, int64_t value)
{
	struct kabi_kept *kept = call->state->kept[call->index];

	for (int i = 0; i < KABI_STEP_KEPT; i++) {
		if (kept[i].name[0] && !same_name(kept[i].name, name))
			continue;
		for (int c = 0; c < KABI_NAME_MAX - 1 && name[c]; c++)
			kept[i].name[c] = name[c];
		kept[i].value = value;
		return 0;
	}
	return -ENOSPC;
}

long kabi_setup_failed(struct kabi_call *call, const char *what, long error)
{
	kabi_report_named(call->ctx, KABI_REPORT_SETUP_FAILED, call->step, what, error);
	return KABI_STEP_ABORTED;
}

long kabi_step_open(struct kabi_call *call, const char *path)
{
	long fd = kabi_sys(SYS_openat, AT_FDCWD, path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		kabi_setup_failed(call, "open", fd);
	return fd;
}

/* Fills call->args from the step: a slot that refers to an earlier step gets its value. */
static long resolve(struct kabi_call *call, const struct kabi_step *s)
{
	for (int i = 0; i < KABI_STEP_ARGS; i++) {
		int ref = s->ref_step[i];
		const struct kabi_kept *kept;
		int k;

		call->args[i] = s->args[i];
		if (ref == KABI_REF_NONE)
			continue;
		if (ref < 0 || (unsigned int)ref >= call->index)
			return -EINVAL;
		if (!s->ref_name[i][0]) {
			call->args[i] = call->state->result[ref];
			continue;
		}
		kept = call->state->kept[ref];
		for (k = 0; k < KABI_STEP_KEPT && !same_name(kept[k].name, s->ref_name[i]); k++)
			;
		if (k == KABI_STEP_KEPT)
			return -ENOENT;
		call->args[i] = kept[k].value;
	}
	return 0;
}

int kabi_program_resume(struct kabi_program_state *state, unsigned int first)
{
	const struct kabi_program *p = state->ctx.arg;

	for (unsigned int i = first; i < p->count && i < KABI_PROGRAM_STEPS; i++) {
		const struct kabi_step *s = &p->steps[i];
		const struct kabi_op *op = find(s->op);
		struct kabi_call call;
		long r;

		call.state = state;
		call.ctx = &state->ctx;
		call.step = KABI_PROGRAM_FIRST_STEP + (int32_t)i;
		call.index = i;
		call.op = s->op;
		call.text = s->text;
		if (!op) {
			kabi_setup_failed(&call, s->op, -ENOSYS);
			return KABI_SANDBOX_SETUP_EXIT;
		}
		r = resolve(&call, s);
		if (r < 0) {
			kabi_setup_failed(&call, "reference", r);
			return KABI_SANDBOX_SETUP_EXIT;
		}
		r = op->run(&call);
		if (r == KABI_STEP_ABORTED)
			return KABI_SANDBOX_SETUP_EXIT;
		if (r == KABI_STEP_HANDED_OVER)
			return state->exit_code;
		state->result[i] = r;
		if (r < 0 && s->setup) {
			kabi_setup_failed(&call, s->op, r);
			return KABI_SANDBOX_SETUP_EXIT;
		}
		kabi_report_named(call.ctx, KABI_REPORT_CALL, call.step, s->op, r);
		if (r < 0 && !s->go_on)
			break;
	}
	return 0;
}

int kabi_body_program(const struct kabi_body_context *ctx)
{
	struct kabi_program_state state;

	kabi_zero(&state, sizeof(state));
	kabi_copy(&state.ctx, ctx, sizeof(state.ctx));
	return kabi_program_resume(&state, 0);
}

KABI_OP(op_unshare, "unshare", "unshare", { "flags", KABI_ARG_FLAGS, 0 })
{
	return kabi_sys(SYS_unshare, call->args[0]);
}

/*
 * Forks a child with extra clone flags that blocks until the program's process ends
 * (PR_SET_PDEATHSIG): an init for a namespace made by unshare(CLONE_NEWPID), for instance.
 */
KABI_OP(op_spawn, "spawn", "clone", { "flags", KABI_ARG_FLAGS, 0 })
{
	long child = kabi_fork(call->args[0]);

	if (child == 0) {
		kabi_sys(SYS_prctl, PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
		kabi_wait_for_parent_death();
	}
	return child;
}
