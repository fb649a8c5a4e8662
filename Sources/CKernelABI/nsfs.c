#define _GNU_SOURCE
#include <fcntl.h>
#include <sys/syscall.h>

#include "kabi_nsfs.h"
#include "kabi_processes.h"
#include "kabi_program.h"
#include "kabi_raw.h"

/* nsfs ioctls on /proc/<pid>/ns files (fs/nsfs.c ns_ioctl()); raw syscalls only. */

/* Opens path, asks NS_GET_NSTYPE; field nstype: the CLONE_NEW* value. */
KABI_OP(op_nstype, "nstype", "ioctl", { "path", KABI_ARG_PATH })
{
	long fd = kabi_step_open(call, call->text);
	long r;

	if (fd < 0)
		return KABI_STEP_ABORTED;
	r = kabi_sys(SYS_ioctl, fd, KABI_NS_GET_NSTYPE, 0);
	kabi_sys(SYS_close, fd);
	if (r >= 0)
		kabi_report_field(call->ctx, call->step, "nstype", r);
	return r;
}

/*
 * Opens path, asks NS_GET_PARENT; field parentIsOwn: 1 when the parent is the caller's own
 * active PID namespace (/proc/self/ns/pid), else 0.
 */
KABI_OP(op_parent, "parent", "ioctl", { "path", KABI_ARG_PATH })
{
	long fd = kabi_step_open(call, call->text);
	long r, own;

	if (fd < 0)
		return KABI_STEP_ABORTED;
	r = kabi_sys(SYS_ioctl, fd, KABI_NS_GET_PARENT, 0);
	kabi_sys(SYS_close, fd);
	if (r < 0)
		return r;
	own = kabi_fd_is_namespace(r, "/proc/self/ns/pid");
	kabi_sys(SYS_close, r);
	if (own < 0)
		return kabi_setup_failed(call, "readlink", own);
	kabi_report_field(call->ctx, call->step, "parentIsOwn", own);
	return 0;
}
