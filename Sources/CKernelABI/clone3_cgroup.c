#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/syscall.h>

#include "clone3_effects.h"
#include "kabi_clone3.h"
#include "kabi_program.h"
#include "kabi_raw.h"

/*
 * CLONE_INTO_CGROUP's descriptor rules (kernel/cgroup/cgroup.c cgroup_css_set_fork()). Sandbox
 * code: raw syscalls only, no malloc, no stdio.
 */

/*
 * into-cgroup: clone3(CLONE_INTO_CGROUP, exit_signal SIGCHLD, size 88) with cgroup a descriptor:
 * path opened read-only when given, else a number that was open a moment ago and is closed now
 * (closed 1), else fd. A child reports and exits 0 and is reaped. Returns what clone3 returned.
 */
KABI_OP(op_into_cgroup, "into-cgroup", "clone3", { "fd", KABI_ARG_NUMBER, 0, -1 },
	{ "closed", KABI_ARG_NUMBER, 1 }, { "path", KABI_ARG_PATH })
{
	const struct kabi_body_context *ctx = call->ctx;
	struct kabi_clone_args a;
	long fd = call->args[0], opened = -1, r;

	if (call->text[0]) {
		if ((opened = kabi_step_open(call, call->text)) < 0)
			return KABI_STEP_ABORTED;
		fd = opened;
	} else if (call->args[1]) {
		/* The lowest free number, opened and closed again: closed for certain. */
		if ((fd = kabi_sys(SYS_openat, AT_FDCWD, "/", O_PATH | O_CLOEXEC)) < 0)
			return kabi_setup_failed(call, "open /", fd);
		kabi_sys(SYS_close, fd);
	}
	if (fd < 0)
		return kabi_setup_failed(call, "a descriptor to pass", -EBADF);
	kabi_args_for(&a, KABI_CLONE_INTO_CGROUP, SIGCHLD);
	a.cgroup = (uint64_t)fd;
	r = kabi_sys(KABI_SYS_CLONE3, &a, sizeof(a));
	if (r == 0) {
		kabi_report_self(ctx, KABI_REPORT_CHILD, call->step, kabi_sys(SYS_getppid));
		kabi_sys(SYS_exit_group, 0);
	}
	if (r > 0)
		kabi_reap_child(ctx, call->step, r);
	if (opened >= 0)
		kabi_sys(SYS_close, opened);
	return r;
}
