#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/syscall.h>

#include "kabi_clone3.h"
#include "kabi_files.h"
#include "kabi_nsfs.h"
#include "kabi_processes.h"
#include "kabi_program.h"
#include "kabi_raw.h"

/*
 * nsfs ioctls on namespace files (fs/nsfs.c ns_ioctl()); raw syscalls only. Every operation
 * takes the file as path (opened for the step) or as fd, a descriptor an earlier step kept
 * ("@holder.user").
 */

/* ioctl(request, arg) on the step's namespace file; KABI_STEP_ABORTED when it cannot open. */
static long ns_ioctl(struct kabi_call *call, unsigned long request, void *arg)
{
	long fd = call->args[0], r;

	if (fd < 0 && (fd = kabi_step_open(call, call->text)) < 0)
		return KABI_STEP_ABORTED;
	r = kabi_sys(SYS_ioctl, fd, request, arg);
	if (call->args[0] < 0)
		kabi_sys(SYS_close, fd);
	return r;
}

/*
 * The caller's own namespace of the kind of the namespace file fd, by the name its link starts
 * with (ns_dname(): "user:[...]", "pid:[...]"; pid_for_children is a PID namespace too), at
 * *own: /proc/self/ns/user, /proc/self/ns/pid (the active PID namespace), or NULL for another
 * kind. Read from procfs, not asked of the ioctls under test. 0, or -errno of readlink.
 */
static long own_of_kind(long fd, const char **own)
{
	char path[48], link[24];
	const volatile char *head = "/proc/self/fd/";
	char *p = path;
	long n;

	while (*head)
		*p++ = *head++;
	*kabi_format_int(p, fd) = 0;
	n = kabi_sys(SYS_readlinkat, AT_FDCWD, path, link, sizeof(link));
	if (n < 0)
		return n;
	*own = 0;
	if (n >= 5 && kabi_equal(link, "user:", 5))
		*own = "/proc/self/ns/user";
	else if (n >= 4 && kabi_equal(link, "pid:", 4))
		*own = "/proc/self/ns/pid";
	return 0;
}

/*
 * For a request that opens a related namespace (fd, or -errno): field is 1 when it is own, the
 * caller's own namespace of the kind the request must answer with (own_of_kind()), else 0
 * (also for a namespace of another kind, or own NULL); with other (a descriptor an earlier
 * step kept, >= 0) field same: 1 when it is that namespace. The new descriptor is closed.
 */
static long report_own(struct kabi_call *call, long fd, const char *own, const char *field,
		       long other)
{
	long is_own = 0, same = 0;

	if (fd < 0)
		return fd;
	if (own)
		is_own = kabi_fd_is_namespace(fd, own);
	if (is_own >= 0 && other >= 0) {
		struct stat x, y;

		same = kabi_sys(SYS_fstat, fd, &x);
		if (same == 0)
			same = kabi_sys(SYS_fstat, other, &y);
		if (same == 0)
			same = x.st_dev == y.st_dev && x.st_ino == y.st_ino;
	}
	kabi_sys(SYS_close, fd);
	if (is_own < 0 || same < 0)
		return kabi_setup_failed(call, "compare the namespace", is_own < 0 ? is_own : same);
	kabi_report_field(call->ctx, call->step, field, is_own);
	if (other >= 0)
		kabi_report_field(call->ctx, call->step, "same", same);
	return 0;
}

/* nstype: NS_GET_NSTYPE; field nstype: the CLONE_NEW* value. */
KABI_OP(op_nstype, "nstype", "ioctl", { "fd", KABI_ARG_NUMBER, 0, -1 }, { "path", KABI_ARG_PATH })
{
	long r = ns_ioctl(call, KABI_NS_GET_NSTYPE, 0);

	if (r >= 0)
		kabi_report_field(call->ctx, call->step, "nstype", r);
	return r;
}

/*
 * parent: NS_GET_PARENT (a PID or user namespace's parent, of the same kind); field
 * parentIsOwn (report_own(): the caller's own namespace of the file's kind).
 */
KABI_OP(op_parent, "parent", "ioctl", { "fd", KABI_ARG_NUMBER, 0, -1 }, { "path", KABI_ARG_PATH })
{
	long fd = call->args[0], r;
	const char *own = 0;

	if (fd < 0 && (fd = kabi_step_open(call, call->text)) < 0)
		return KABI_STEP_ABORTED;
	r = own_of_kind(fd, &own);
	if (r == 0)
		r = kabi_sys(SYS_ioctl, fd, KABI_NS_GET_PARENT, 0);
	else
		r = kabi_setup_failed(call, "readlink the namespace file", r);
	if (call->args[0] < 0)
		kabi_sys(SYS_close, fd);
	return report_own(call, r, own, "parentIsOwn", -1);
}

/*
 * parent-walk: NS_GET_PARENT on the file, then on each parent it opened, until it fails. When
 * the walk ends with EPERM (the next parent is above the caller's active PID namespace) it
 * returns how many parents it opened, with field reachedOwn: 1 when the last one is the
 * caller's own PID namespace (/proc/self/ns/pid); any other failure is the step's answer. A
 * walk still opening parents past MAX_PID_NS_LEVEL stops there and returns that count.
 */
KABI_OP(op_parent_walk, "parent-walk", "ioctl", { "fd", KABI_ARG_NUMBER, 0, -1 },
	{ "path", KABI_ARG_PATH })
{
	long fd = call->args[0], next, own = 0, opened = 0;

	if (fd < 0 && (fd = kabi_step_open(call, call->text)) < 0)
		return KABI_STEP_ABORTED;
	/*
	 * No chain of PID namespaces is deeper than MAX_PID_NS_LEVEL: a kernel whose parents
	 * go on past it (one that answers a namespace with itself) ends the walk there, with
	 * that count as the answer, instead of looping until the sandbox's timeout (BROKEN).
	 */
	for (;;) {
		next = kabi_sys(SYS_ioctl, fd, KABI_NS_GET_PARENT, 0);
		if (fd != call->args[0])
			kabi_sys(SYS_close, fd);
		if (next < 0)
			break;
		fd = next;
		opened++;
		own = kabi_fd_is_namespace(fd, "/proc/self/ns/pid");
		if (own < 0 || opened > KABI_MAX_PID_NS_LEVEL)
			kabi_sys(SYS_close, fd);
		if (own < 0)
			return kabi_setup_failed(call, "readlink", own);
		if (opened > KABI_MAX_PID_NS_LEVEL)
			break;
	}
	if (next >= 0) {
		kabi_report_field(call->ctx, call->step, "reachedOwn", own);
		return opened;
	}
	if (next != -EPERM)
		return next;
	kabi_report_field(call->ctx, call->step, "reachedOwn", own);
	return opened;
}

/*
 * owner: NS_GET_USERNS, the user namespace that owns the file's; field ownerIsOwn (report_own():
 * the caller's own user namespace), and with other (a user namespace's descriptor an earlier
 * step kept, "@holder.user") field same: 1 when the owner is that namespace.
 */
KABI_OP(op_owner, "owner", "ioctl", { "fd", KABI_ARG_NUMBER, 0, -1 }, { "path", KABI_ARG_PATH },
	{ "other", KABI_ARG_NUMBER, 1, -1 })
{
	return report_own(call, ns_ioctl(call, KABI_NS_GET_USERNS, 0), "/proc/self/ns/user",
			  "ownerIsOwn", call->args[1]);
}

/*
 * owner-uid: NS_GET_OWNER_UID on a user namespace; field ownerUid: the uid of its creator as the
 * caller's user namespace maps it. The answer starts as (uid_t)-1, which from_kuid_munged()
 * never gives (an unmapped owner reads as overflowuid): a kernel that succeeds without writing
 * it reads as 4294967295, not as the 0 a row expects.
 */
KABI_OP(op_owner_uid, "owner-uid", "ioctl", { "fd", KABI_ARG_NUMBER, 0, -1 },
	{ "path", KABI_ARG_PATH })
{
	uint32_t uid = UINT32_MAX;
	long r = ns_ioctl(call, KABI_NS_GET_OWNER_UID, &uid);

	if (r == 0)
		kabi_report_field(call->ctx, call->step, "ownerUid", uid);
	return r;
}

/* ioctl: any request by number, such as one nsfs does not know; no field. */
KABI_OP(op_ioctl, "ioctl", "ioctl", { "fd", KABI_ARG_NUMBER, 0, -1 }, { "path", KABI_ARG_PATH },
	{ "request", KABI_ARG_NUMBER, 1 })
{
	return ns_ioctl(call, (unsigned long)call->args[1], 0);
}
