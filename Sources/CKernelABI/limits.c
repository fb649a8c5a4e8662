#define _GNU_SOURCE
#include <errno.h>
#include <stdint.h>
#include <sys/resource.h>
#include <sys/syscall.h>

#include "kabi_clone3.h"
#include "kabi_files.h"
#include "kabi_processes.h"
#include "kabi_program.h"
#include "kabi_raw.h"

/*
 * Limits that end process and namespace creation with an errno: RLIMIT_NPROC (kernel/fork.c
 * copy_process()), the nesting depth of user namespaces (kernel/user_namespace.c
 * create_user_ns()). The per-user-namespace counts (user.max_*_namespaces) are sysctls of the
 * sandbox's own user namespace, written with "write". Raw syscalls only.
 */

/* limit-nproc VALUE: RLIMIT_NPROC of the caller, soft and hard, set to VALUE. */
KABI_OP(op_limit_nproc, "limit-nproc", "prlimit64", { "value", KABI_ARG_NUMBER, 0 })
{
	struct rlimit limit = { (rlim_t)call->args[0], (rlim_t)call->args[0] };

	return kabi_sys(SYS_prlimit64, 0, RLIMIT_NPROC, &limit, 0);
}

/* create_user_ns() refuses a child of a namespace whose level is above 32: 33 is the deepest. */
#define DEEPEST_USER_NS 33

/*
 * nest-userns: unshare(CLONE_NEWUSER) and map the caller's ids to root inside, again and
 * again, until the kernel refuses: returns that errno, with the field "made", how many it made
 * first. A map that fails stops it as a setup failure. level: the caller's user-namespace
 * level (0 is the initial one; -1 unknown). A known level must end at DEEPEST_USER_NS: ENOSPC
 * anywhere else (a depth limit off by some, or a count) returns 1 with fields made and level,
 * so its errno is never matched.
 */
/*
 * Why the count can end the nesting before the depth: user.max_user_namespaces of the test
 * process's user namespace (an ancestor of every level made, whose count each new one takes)
 * small enough that the namespaces of the cases running beside it reach it, which also answers
 * ENOSPC. Test-process code.
 */
static const char *userns_count_need(char *buf, size_t len)
{
	int64_t most = kabi_read_int("/proc/sys/user/max_user_namespaces");
	char number[24];

	if (most < 0 || most >= 1024)
		return 0;
	*kabi_format_int(number, most) = 0;
	return kabi_concat(buf, len, "user.max_user_namespaces is ", number, ", a count that also "
			   "answers ENOSPC and may end the nesting before the depth limit does",
			   (char *)0);
}

KABI_OP_WITH((.need = userns_count_need), op_nest_userns, "nest-userns", "unshare",
	     { "level", KABI_ARG_NUMBER, 0, -1 })
{
	long made = 0, r;
	int64_t level = call->args[0];

	for (;;) {
		long uid = kabi_sys(SYS_getuid), gid = kabi_sys(SYS_getgid);
		int failed;

		if ((r = kabi_sys(SYS_unshare, KABI_CLONE_NEWUSER)) < 0)
			break;
		if ((r = kabi_map_ids(0, uid, gid, &failed)) < 0)
			return kabi_setup_failed(call, "map the new user namespace's ids", r);
		if (++made > 64)
			return kabi_setup_failed(call, "stop at 64 nested user namespaces", -ELOOP);
	}
	kabi_report_field(call->ctx, call->step, "made", made);
	if (r == -ENOSPC && level >= 0 && level + made != DEEPEST_USER_NS) {
		kabi_report_field(call->ctx, call->step, "level", level);
		return 1;
	}
	return r;
}
