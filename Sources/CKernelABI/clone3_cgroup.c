#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/syscall.h>

#include "clone3_effects.h"
#include "kabi_clone3.h"
#include "kabi_files.h"
#include "kabi_program.h"
#include "kabi_raw.h"

/*
 * CLONE_INTO_CGROUP (kernel/cgroup/cgroup.c cgroup_css_set_fork()) and the cgroups its cases make
 * below the one the test process made for them ("$cgroup"), which removes them all afterwards.
 * Sandbox code: raw syscalls only, no malloc, no stdio.
 */

/*
 * A cgroup's path, as /proc/self/cgroup and readlink name it (PATH_MAX): a Kubernetes pod's
 * container seen from the host's cgroup namespace is 200 bytes before the case's own cgroups.
 */
enum { CGROUP_TEXT = 4096 };

/* cgroup-mkdir: mkdirat(fd, path, 0755); returns the new directory opened read-only. */
KABI_OP(op_cgroup_mkdir, "cgroup-mkdir", "mkdirat", { "fd", KABI_ARG_NUMBER, 0 },
	{ "path", KABI_ARG_PATH })
{
	long r = kabi_sys(SYS_mkdirat, call->args[0], call->text, 0755);

	if (r < 0)
		return r;
	return kabi_sys(SYS_openat, call->args[0], call->text, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
}

/* cgroup-rmdir: unlinkat(fd, path, AT_REMOVEDIR). */
KABI_OP(op_cgroup_rmdir, "cgroup-rmdir", "unlinkat", { "fd", KABI_ARG_NUMBER, 0 },
	{ "path", KABI_ARG_PATH })
{
	return kabi_sys(SYS_unlinkat, call->args[0], call->text, AT_REMOVEDIR);
}

/* cgroup-chmod: fchmodat(fd, "cgroup.procs", mode): who may move processes into the cgroup. */
KABI_OP(op_cgroup_chmod, "cgroup-chmod", "fchmodat", { "fd", KABI_ARG_NUMBER, 0 },
	{ "mode", KABI_ARG_NUMBER, 1 })
{
	return kabi_sys(SYS_fchmodat, call->args[0], "cgroup.procs", call->args[1], 0);
}

/* cgroup-threaded: writes "threaded" to cgroup.type of the cgroup open as fd. */
KABI_OP(op_cgroup_threaded, "cgroup-threaded", "write", { "fd", KABI_ARG_NUMBER, 0 })
{
	long fd = kabi_sys(SYS_openat, call->args[0], "cgroup.type", O_WRONLY | O_CLOEXEC);
	long r;

	if (fd < 0)
		return fd;
	r = kabi_sys(SYS_write, fd, "threaded", 8);
	kabi_sys(SYS_close, fd);
	return r < 0 ? r : 0;
}

/*
 * cgroup-set: writes value in decimal to the file at path below the cgroup open as fd (a
 * controller's interface file: pids.max).
 */
KABI_OP(op_cgroup_set, "cgroup-set", "write", { "fd", KABI_ARG_NUMBER, 0 },
	{ "value", KABI_ARG_NUMBER, 1 }, { "path", KABI_ARG_PATH })
{
	char text[24];
	long fd = kabi_sys(SYS_openat, call->args[0], call->text, O_WRONLY | O_CLOEXEC), r;
	long len = kabi_format_int(text, call->args[1]) - text;

	if (fd < 0)
		return fd;
	r = kabi_sys(SYS_write, fd, text, len);
	kabi_sys(SYS_close, fd);
	return r < 0 ? r : 0;
}

/* Reads what fd's file at name holds (NUL-ended): its length, or -errno. */
static long read_at(long dir, const char *name, char *buf, long size)
{
	long fd = kabi_sys(SYS_openat, dir, name, O_RDONLY | O_CLOEXEC);
	long n = 0, r = 0;

	if (fd < 0)
		return fd;
	while (n < size - 1 && (r = kabi_sys(SYS_read, fd, buf + n, size - 1 - n)) > 0)
		n += r;
	kabi_sys(SYS_close, fd);
	buf[n] = 0;
	return r < 0 && n == 0 ? r : n;
}

/* Whether the decimal numbers of text, one a line, include pid. */
static int lists(const char *text, long pid)
{
	long value = -1;

	for (const char *p = text;; p++) {
		if (*p >= '0' && *p <= '9') {
			value = (value < 0 ? 0 : value * 10) + (*p - '0');
			continue;
		}
		if (value == pid)
			return 1;
		value = -1;
		if (!*p)
			return 0;
	}
}

/* The path on the 0:: line of /proc/self/cgroup, NUL-ended in out: its length, or -errno. */
static long own_cgroup_path(char *out, long size)
{
	/* Whole lines: a hybrid hierarchy's v1 lines, which come first, may fill any buffer. */
	char buf[CGROUP_TEXT];
	long n = kabi_read_lines("/proc/self/cgroup", buf, sizeof(buf)), len = 0;

	for (long i = 0; i + 4 <= n; i++) {
		if (buf[i] == '\n' && buf[i + 1] == '0' && buf[i + 2] == ':' && buf[i + 3] == ':') {
			for (i += 4; i < n && buf[i] != '\n'; i++) {
				if (len == size - 1)
					return -ENAMETOOLONG;
				out[len++] = buf[i];
			}
			out[len] = 0;
			return len;
		}
	}
	return n < 0 ? n : -ENOENT;
}

/*
 * Whether the cgroup directory open as fd is the cgroup the path on the child's 0:: line names:
 * that path, not "/", ends the directory's own path (readlink of /proc/self/fd/<fd>). 1, 0, or
 * -errno: a path cut short would compare as another cgroup.
 */
static long is_cgroup_of(long fd, const char *child_path, long child_len)
{
	char link[48], *end = link, dir[CGROUP_TEXT];
	long n;

	for (const char *s = "/proc/self/fd/"; *s; s++)
		*end++ = *s;
	*kabi_format_int(end, fd) = 0;
	n = kabi_sys(SYS_readlinkat, AT_FDCWD, link, dir, sizeof(dir));
	if (n < 0 || n == (long)sizeof(dir))
		return n < 0 ? n : -ENAMETOOLONG;
	if (n == 0 || child_len <= 1 || child_len > n)
		return 0;
	return kabi_equal(dir + n - child_len, child_path, (unsigned long)child_len);
}

/*
 * into-cgroup: clone3(CLONE_INTO_CGROUP, exit_signal SIGCHLD, size 88) with cgroup a descriptor:
 * path opened read-only when given, else a number that was open a moment ago and is closed now
 * (closed 1), else fd. A child reports and exits 0 and is reaped. With check 1 the child sends
 * back the path on its 0:: line of /proc/self/cgroup and waits, and the caller reports fields
 * inCgroup (1: that path names the directory fd is), listed and threadListed (1: fd's
 * cgroup.procs, cgroup.threads lists the child; -errno when it cannot be read). With fork 1
 * the child, once started there, forks a process of its own (which exits at once and is reaped)
 * and the caller reports field forked: 1 when it was made, else -errno. Returns what clone3
 * returned.
 */
KABI_OP(op_into_cgroup, "into-cgroup", "clone3", { "fd", KABI_ARG_NUMBER, 0, -1 },
	{ "closed", KABI_ARG_NUMBER, 1 }, { "check", KABI_ARG_NUMBER, 2 },
	{ "fork", KABI_ARG_NUMBER, 3 }, { "path", KABI_ARG_PATH })
{
	const struct kabi_body_context *ctx = call->ctx;
	struct kabi_clone_args a;
	char text[CGROUP_TEXT];
	long fd = call->args[0], opened = -1, r, len = 0, forked = -EPIPE, in_cgroup = 0;
	int back[2], hold[2];

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
	if ((r = kabi_sys(SYS_pipe2, back, O_CLOEXEC)) < 0 ||
	    (r = kabi_sys(SYS_pipe2, hold, O_CLOEXEC)) < 0)
		return kabi_setup_failed(call, "pipe2", r);
	kabi_args_for(&a, KABI_CLONE_INTO_CGROUP, SIGCHLD);
	a.cgroup = (uint64_t)fd;
	r = kabi_sys(KABI_SYS_CLONE3, &a, sizeof(a));
	if (r == 0) {
		siginfo_t info;
		long forked = 0;
		char byte;

		kabi_sys(SYS_close, hold[1]);
		kabi_report_self(ctx, KABI_REPORT_CHILD, call->step, kabi_sys(SYS_getppid));
		if (call->args[3]) {
			forked = kabi_fork(0);
			if (forked == 0)
				kabi_sys(SYS_exit_group, 0);
			if (forked > 0)
				forked = kabi_reap(forked, &info) < 0 ? -ECHILD : 1;
		}
		len = own_cgroup_path(text, sizeof(text));
		kabi_sys(SYS_write, back[1], &forked, sizeof(forked));
		kabi_sys(SYS_write, back[1], &len, sizeof(len));
		if (len > 0)
			kabi_sys(SYS_write, back[1], text, len);
		while (kabi_sys(SYS_read, hold[0], &byte, 1) == -EINTR)
			;
		kabi_sys(SYS_exit_group, 0);
	}
	kabi_sys(SYS_close, back[1]);
	kabi_sys(SYS_close, hold[0]);
	if (r > 0 && (call->args[2] || call->args[3]) &&
	    kabi_sys(SYS_read, back[0], &forked, sizeof(forked)) != (long)sizeof(forked))
		forked = -EPIPE;
	if (r > 0 && call->args[3] && forked != -EPIPE)
		kabi_report_field(ctx, call->step, "forked", forked);
	if (r > 0 && call->args[2]) {
		if (kabi_sys(SYS_read, back[0], &len, sizeof(len)) != (long)sizeof(len))
			len = -EPIPE;
		if (len >= (long)sizeof(text) ||
		    (len > 0 && kabi_sys(SYS_read, back[0], text, len) != len))
			len = -EPIPE;
		/* A path not read is the setup's failure, not a child outside the cgroup. */
		in_cgroup = len < 0 ? len : is_cgroup_of(fd, text, len);
		if (in_cgroup >= 0)
			kabi_report_field(ctx, call->step, "inCgroup", in_cgroup);
		len = read_at(fd, "cgroup.procs", text, sizeof(text));
		kabi_report_field(ctx, call->step, "listed", len < 0 ? len : lists(text, r));
		len = read_at(fd, "cgroup.threads", text, sizeof(text));
		kabi_report_field(ctx, call->step, "threadListed", len < 0 ? len : lists(text, r));
	}
	kabi_sys(SYS_close, hold[1]);
	kabi_sys(SYS_close, back[0]);
	if (r > 0)
		kabi_reap_child(ctx, call->step, r);
	if (opened >= 0)
		kabi_sys(SYS_close, opened);
	if (r > 0 && call->args[3] && forked == -EPIPE)
		return kabi_setup_failed(call, "read whether the child could fork", -EPIPE);
	if (in_cgroup < 0)
		return kabi_setup_failed(call, "read the child's cgroup path and the directory's",
					 in_cgroup);
	return r;
}
