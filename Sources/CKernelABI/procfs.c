#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/syscall.h>

#include "kabi_clone3.h"
#include "kabi_files.h"
#include "kabi_processes.h"
#include "kabi_program.h"
#include "kabi_raw.h"

/*
 * procfs as each PID namespace sees it (fs/proc/root.c proc_fill_super() takes the mounter's
 * active PID namespace; fs/proc/array.c task_state() prints NSpid, NStgid, NSpgid and NSsid
 * from that namespace's level down to the task's own). The case mounts its procfs instances
 * in a mount namespace of its own, on a tmpfs of its own: nothing of the host's changes.
 * Sandbox code: raw syscalls only, no malloc, no stdio.
 */

enum { PATH_MAX_HERE = 96, MOUNT_WAIT_MS = 10000 };

/*
 * private-tmpfs: unshare(CLONE_NEWNS), every mount made private (so nothing propagates back),
 * then a tmpfs on path, where the case makes its mount points.
 */
KABI_OP(op_private_tmpfs, "private-tmpfs", "mount", { "path", KABI_ARG_PATH })
{
	long r = kabi_sys(SYS_unshare, KABI_CLONE_NEWNS);

	if (r == 0)
		r = kabi_sys(SYS_mount, 0, "/", 0, MS_REC | MS_PRIVATE, 0);
	if (r == 0)
		r = kabi_sys(SYS_mount, "tmpfs", call->text, "tmpfs", MS_NOSUID | MS_NODEV, "mode=0700");
	return r;
}

static long mount_proc(const char *path)
{
	return kabi_sys(SYS_mount, "proc", path, "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, 0);
}

/*
 * mount-proc: a procfs on path (made first): as the caller's active PID namespace sees it, or,
 * with CLONE_NEWPID in flags, as a new PID namespace does, mounted by that namespace's init (a
 * child, which then waits for the program's process to end, keeping the namespace alive).
 * Returns 0, that init's PID as the caller sees it, or -errno.
 */
KABI_OP(op_mount_proc, "mount-proc", "mount", { "path", KABI_ARG_PATH },
	{ "flags", KABI_ARG_FLAGS, 0 })
{
	long fds[2] = { -1, -1 }, r, child;
	int pipefd[2];
	int64_t answer = -ETIMEDOUT;
	struct pollfd ready;

	r = kabi_sys(SYS_mkdirat, AT_FDCWD, call->text, 0700);
	if (r < 0 && r != -EEXIST)
		return r;
	if (!(call->args[0] & KABI_CLONE_NEWPID))
		return mount_proc(call->text);
	if ((r = kabi_sys(SYS_pipe2, pipefd, O_CLOEXEC)) < 0)
		return r;
	fds[0] = pipefd[0];
	fds[1] = pipefd[1];
	child = kabi_fork(call->args[0]);
	if (child == 0) {
		int64_t mounted;

		kabi_sys(SYS_prctl, PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
		mounted = mount_proc(call->text);
		kabi_sys(SYS_write, fds[1], &mounted, sizeof(mounted));
		if (mounted < 0)
			kabi_sys(SYS_exit_group, 1);
		kabi_wait_for_parent_death();
	}
	kabi_sys(SYS_close, fds[1]);
	ready.fd = (int)fds[0];
	ready.events = POLLIN;
	if (child > 0 && kabi_sys(SYS_poll, &ready, 1, MOUNT_WAIT_MS) == 1 &&
	    kabi_sys(SYS_read, fds[0], &answer, sizeof(answer)) != sizeof(answer))
		answer = -EPIPE;
	kabi_sys(SYS_close, fds[0]);
	if (child < 0)
		return child;
	if (answer < 0)
		kabi_sys(SYS_kill, child, SIGKILL);
	return answer < 0 ? answer : child;
}

/* root/pid/status, or root/self/status for pid 0, into out; false when it does not fit. */
static int status_path(char *out, const char *root, int64_t pid)
{
	static const char self[] = "/self", status[] = "/status";
	char *p = out;
	const char *end = out + PATH_MAX_HERE - 24 - sizeof(status);

	while (*root && p < end)
		*p++ = *root++;
	if (*root)
		return 0;
	if (pid == 0) {
		kabi_copy(p, self, sizeof(self) - 1);
		p += sizeof(self) - 1;
	} else {
		*p++ = '/';
		p = kabi_format_int(p, pid);
	}
	kabi_copy(p, status, sizeof(status));
	return 1;
}

/*
 * status-ids: the NSpid, NStgid, NSpgid and NSsid lines of pid's status file in the procfs at
 * path (pid 0: self, as that procfs resolves it), reported as list fields "NSpid[]" and so on
 * (outermost first, from the procfs's own namespace down). Returns how many levels NSpid has,
 * or -errno: ENOENT where that procfs's namespace has no such PID.
 */
KABI_OP(op_status_ids, "status-ids", "openat", { "path", KABI_ARG_PATH },
	{ "pid", KABI_ARG_NUMBER, 0, 0 })
{
	static const char *const keys[] = { "NSpid:", "NStgid:", "NSpgid:", "NSsid:" };
	static const char *const fields[] = { "NSpid[]", "NStgid[]", "NSpgid[]", "NSsid[]" };
	char path[PATH_MAX_HERE];
	int32_t numbers[KABI_NSPID_MAX];
	int levels = 0;

	if (!status_path(path, call->text, call->args[0]))
		return -ENAMETOOLONG;
	for (unsigned int k = 0; k < sizeof(keys) / sizeof(keys[0]); k++) {
		int n = kabi_read_numbers(path, keys[k], numbers, KABI_NSPID_MAX);

		if (n < 0)
			return n;
		if (k == 0)
			levels = n;
		for (int i = 0; i < n; i++)
			kabi_report_field(call->ctx, call->step, fields[k], numbers[i]);
	}
	return levels;
}

/*
 * proc-count: how many processes the procfs at path lists (its numeric entries), or -errno;
 * each entry's number is reported, in the listing's order, as list field "pids[]": which
 * processes, not only how many (a PID printed in another namespace's numbers counts the same).
 */
KABI_OP(op_proc_count, "proc-count", "getdents64", { "path", KABI_ARG_PATH })
{
	char buf[4096] __attribute__((aligned(8)));
	long fd = kabi_sys(SYS_openat, AT_FDCWD, call->text, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	long n, count = 0;

	if (fd < 0)
		return fd;
	while ((n = kabi_sys(SYS_getdents64, fd, buf, sizeof(buf))) > 0)
		for (long at = 0; at < n;) {
			const struct kabi_dirent64 *entry = (const void *)(buf + at);
			int64_t pid = 0;

			at += entry->d_reclen;
			if (entry->d_name[0] < '1' || entry->d_name[0] > '9')
				continue;
			for (const char *c = entry->d_name; *c >= '0' && *c <= '9'; c++)
				pid = pid * 10 + (*c - '0');
			kabi_report_field(call->ctx, call->step, "pids[]", pid);
			count++;
		}
	kabi_sys(SYS_close, fd);
	return n < 0 ? n : count;
}

/* setsid: the caller leads a new session and process group; returns the session ID. */
KABI_OP(op_setsid, "setsid", "setsid")
{
	return kabi_sys(SYS_setsid);
}
