#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sys/prctl.h>
#include <sys/syscall.h>

#include "kabi_nsfs.h"
#include "kabi_processes.h"
#include "kabi_program.h"
#include "kabi_raw.h"

/*
 * The caller's capability sets: set from libcap text parsed by the test process, reported back
 * so a case proves the premise it ran on, or dropped. Raw syscalls only.
 */

/*
 * Who owns the caller's active PID namespace, as NS_GET_USERNS answers: 1 the caller's own user
 * namespace, 2 one below it (ns_get_owner() opens only those), 0 any other (EPERM), or -errno.
 */
static long active_owner(void)
{
	long fd = kabi_sys(SYS_openat, AT_FDCWD, "/proc/self/ns/pid", O_RDONLY | O_CLOEXEC);
	long owner, own;

	if (fd < 0)
		return fd;
	owner = kabi_sys(SYS_ioctl, fd, KABI_NS_GET_USERNS, 0);
	kabi_sys(SYS_close, fd);
	if (owner == -EPERM)
		return 0;
	if (owner < 0)
		return owner;
	own = kabi_fd_is_namespace(owner, "/proc/self/ns/user");
	kabi_sys(SYS_close, owner);
	return own < 0 ? own : own == 1 ? 1 : 2;
}

/*
 * Reports the sets the caller holds now, each as one 64-bit number (bit n: capability n):
 * effective, permitted and inheritable from capget, ambient from PR_CAP_AMBIENT_IS_SET; and
 * who owns its active PID namespace (field activeOwner).
 */
static long report_sets(struct kabi_call *call)
{
	struct kabi_cap_sets sets;
	int64_t ambient = 0;
	long r = kabi_capget(&sets);

	if (r < 0)
		return r;
	for (int cap = 0; cap < KABI_CAP_BITS; cap++) {
		long set = kabi_sys(SYS_prctl, PR_CAP_AMBIENT, PR_CAP_AMBIENT_IS_SET, cap, 0, 0);

		if (set < 0)
			break;	/* EINVAL: past the kernel's last capability */
		if (set == 1)
			ambient |= (int64_t)1 << cap;
	}
	kabi_report_field(call->ctx, call->step, "effective", (int64_t)sets.effective);
	kabi_report_field(call->ctx, call->step, "permitted", (int64_t)sets.permitted);
	kabi_report_field(call->ctx, call->step, "inheritable", (int64_t)sets.inheritable);
	kabi_report_field(call->ctx, call->step, "ambient", ambient);
	kabi_report_field(call->ctx, call->step, "activeOwner", active_owner());
	return 0;
}

/*
 * capset: raw capset of the sets caps (libcap text, parsed by the test process), then
 * PR_CAP_AMBIENT_RAISE of each capability named in ambient; reports the sets the caller then
 * holds, which the test process checks are exactly these.
 */
KABI_OP(op_capset, "capset", "capset", { "caps", KABI_ARG_CAPS, 0 },
	{ "ambient", KABI_ARG_CAP_NAMES, 3 })
{
	struct kabi_cap_sets sets = { (uint64_t)call->args[0], (uint64_t)call->args[1],
				      (uint64_t)call->args[2] };
	long r = kabi_capset(&sets);

	for (int cap = 0; r == 0 && cap < KABI_CAP_BITS; cap++)
		if ((uint64_t)call->args[3] & (uint64_t)1 << cap)
			r = kabi_sys(SYS_prctl, PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, cap, 0, 0);
	return r < 0 ? r : report_sets(call);
}

/* capget: reports the sets the caller holds, as capset does after setting them. */
KABI_OP(op_capget, "capget", "capget")
{
	return report_sets(call);
}

/*
 * drop-caps: clears the capabilities named in caps from the effective and permitted sets, and
 * reads the sets back: a row that claims a write succeeds without CAP_SYS_ADMIN would pass on a
 * capset that answered 0 and kept it, so one still held is a failed setup (EEXIST).
 */
KABI_OP(op_drop_caps, "drop-caps", "capset", { "caps", KABI_ARG_CAP_NAMES, 0 })
{
	uint64_t drop = (uint64_t)call->args[0];
	struct kabi_cap_sets sets;
	long r = kabi_capget(&sets);

	if (r < 0)
		return r;
	sets.effective &= ~drop;
	sets.permitted &= ~drop;
	r = kabi_capset(&sets);
	if (r == 0)
		r = kabi_capget(&sets);
	if (r < 0)
		return r;
	if ((sets.effective | sets.permitted) & drop)
		return kabi_setup_failed(call, "see them dropped", -EEXIST);
	return 0;
}

/*
 * setresuid: setresuid(ruid, euid, suid), each -1 (when a table leaves it out) to keep it; reports
 * the ids the caller then has (getresuid) as fields ruid, euid and suid. The raw syscall changes
 * only the calling process, where glibc's wrapper would change every thread of it; the kernel
 * then clears the effective set when euid leaves 0, and the permitted set when no id is left 0
 * (cap_emulate_setxuid()), and needs CAP_SETUID in the caller's user namespace for an id that
 * is none of its current three.
 */
KABI_OP(op_setresuid, "setresuid", "setresuid", { "ruid", KABI_ARG_NUMBER, 0, -1 },
	{ "euid", KABI_ARG_NUMBER, 1, -1 }, { "suid", KABI_ARG_NUMBER, 2, -1 })
{
	uint32_t ids[3];
	long r = kabi_sys(SYS_setresuid, call->args[0], call->args[1], call->args[2]);

	if (r == 0)
		r = kabi_sys(SYS_getresuid, &ids[0], &ids[1], &ids[2]);
	if (r < 0)
		return r;
	kabi_report_field(call->ctx, call->step, "ruid", ids[0]);
	kabi_report_field(call->ctx, call->step, "euid", ids[1]);
	kabi_report_field(call->ctx, call->step, "suid", ids[2]);
	return 0;
}
