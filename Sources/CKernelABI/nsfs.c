#define _GNU_SOURCE
#include <fcntl.h>
#include <sys/syscall.h>

#include "kabi_program.h"
#include "kabi_raw.h"

/* nsfs ioctls on /proc/<pid>/ns files (fs/nsfs.c ns_ioctl()); raw syscalls only. */

/* Opens text, asks NS_GET_NSTYPE; field nstype: the CLONE_NEW* value. */
static long nstype(const struct kabi_body_context *ctx, int32_t step, const struct kabi_step *s)
{
	long fd = kabi_step_open(ctx, step, s->text);
	long r;

	if (fd < 0)
		return KABI_STEP_ABORTED;
	r = kabi_sys(SYS_ioctl, fd, KABI_NS_GET_NSTYPE, 0);
	kabi_sys(SYS_close, fd);
	if (r >= 0)
		kabi_report_field(ctx, step, "nstype", r);
	return r;
}

/* The link text of /proc/self/fd/<fd>, such as "pid:[4026531836]"; its length or -errno. */
static long fd_link(long fd, char *out, unsigned long size)
{
	static const char prefix[] = "/proc/self/fd/";
	char path[32], rev[12];
	int n = sizeof(prefix) - 1, digits = 0;

	kabi_copy(path, prefix, n);
	do
		rev[digits++] = (char)('0' + fd % 10);
	while ((fd /= 10) > 0);
	while (digits)
		path[n++] = rev[--digits];
	path[n] = 0;
	return kabi_sys(SYS_readlinkat, AT_FDCWD, path, out, size);
}

/*
 * Opens text, asks NS_GET_PARENT; field parentIsOwn: 1 when the parent is the caller's own
 * active PID namespace (/proc/self/ns/pid), else 0.
 */
static long parent(const struct kabi_body_context *ctx, int32_t step, const struct kabi_step *s)
{
	char got[64], own[64];
	long fd = kabi_step_open(ctx, step, s->text);
	long r, n, m;

	if (fd < 0)
		return KABI_STEP_ABORTED;
	r = kabi_sys(SYS_ioctl, fd, KABI_NS_GET_PARENT, 0);
	kabi_sys(SYS_close, fd);
	if (r < 0)
		return r;
	n = fd_link(r, got, sizeof(got));
	m = kabi_sys(SYS_readlinkat, AT_FDCWD, "/proc/self/ns/pid", own, sizeof(own));
	kabi_sys(SYS_close, r);
	if (n < 0 || m < 0) {
		kabi_report_named(ctx, KABI_REPORT_SETUP_FAILED, step, "readlink", n < 0 ? n : m);
		return KABI_STEP_ABORTED;
	}
	kabi_report_field(ctx, step, "parentIsOwn", n == m && kabi_equal(got, own, n));
	return 0;
}

static const struct kabi_op ops[] = {
	{ "nstype", nstype },
	{ "parent", parent },
};

int kabi_body_nsfs(const struct kabi_body_context *ctx)
{
	return kabi_run_program(ctx, ops, sizeof(ops) / sizeof(ops[0]));
}
