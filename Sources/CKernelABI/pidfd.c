#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/ioctl.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include "clone3_effects.h"
#include "kabi_clone3.h"
#include "kabi_files.h"
#include "kabi_probe.h"
#include "kabi_processes.h"
#include "kabi_program.h"
#include "kabi_raw.h"
#include "kabi_sandbox.h"
#include "kabi_syscalls.h"

/*
 * pidfds (kernel/pid.c pidfd_open(), kernel/fork.c and fs/pidfs.c pidfd_prepare(),
 * kernel/signal.c pidfd_send_signal(), kernel/exit.c waitid(P_PIDFD), fs/pidfs.c
 * pidfd_info()): the calls, and the processes their cases stand on. PIDFD_NONBLOCK and
 * PIDFD_THREAD are O_NONBLOCK and O_EXCL of the target's headers. Sandbox code: raw syscalls
 * only, no malloc, no stdio.
 */

enum {
	KABI_P_PIDFD = 3,
	KABI_PIDFD_NONBLOCK = O_NONBLOCK,
	KABI_PIDFD_THREAD = O_EXCL,
	/* siCode's value when the row passes no siginfo (NULL). */
	KABI_NO_SIGINFO = -1000000,
	/* pidfd-info's buffer: the largest size it asks with, and guard bytes after it. */
	KABI_INFO_MAX = 256,
	KABI_INFO_GUARD = 64,
	/* PIDFD_INFO_SIZE_VER3, the largest struct pidfd_info published (7.1). */
	KABI_INFO_PUBLISHED = 88,
};

/* "/proc/self/fdinfo/FD", NUL-ended, in path (at least 40 bytes). */
static void fdinfo_path(char *path, long fd)
{
	const volatile char *head = "/proc/self/fdinfo/";
	char *p = path;

	while (*head)
		*p++ = *head++;
	*kabi_format_int(p, fd) = 0;
}

/*
 * The PID a pidfd's fdinfo names (pidfd_show_fdinfo()), in the caller's own PID namespace:
 * NSpid lists it from the /proc instance's namespace inward, so the entry at the caller's own
 * depth in that list (from /proc/self/status) is the caller's number for it. Where Pid is 0
 * (not visible) or -1 (exited) that value itself. Field fdinfoPid: the Pid line as read.
 */
static long fdinfo_pid(struct kabi_call *call, long fd, int64_t *pid)
{
	char path[48];
	int32_t own[KABI_NSPID_MAX], theirs[KABI_NSPID_MAX], line;
	int n_own = kabi_read_nspid("/proc/self/status", own), n;

	if (n_own <= 0)
		return kabi_setup_failed(call, "read /proc/self/status", n_own < 0 ? n_own : -ENOENT);
	fdinfo_path(path, fd);
	n = kabi_read_numbers(path, "Pid:", &line, 1);
	if (n != 1)
		return kabi_setup_failed(call, "read the pidfd's fdinfo", n < 0 ? n : -ENOENT);
	kabi_report_field(call->ctx, call->step, "fdinfoPid", line);
	n = kabi_read_numbers(path, "NSpid:", theirs, KABI_NSPID_MAX);
	if (n <= 0)
		return kabi_setup_failed(call, "read the pidfd's fdinfo", n < 0 ? n : -ENOENT);
	*pid = theirs[0] <= 0 ? theirs[0] : (n >= n_own ? theirs[n_own - 1] : 0);
	return 0;
}

/* Whether descriptors a and b are one file, by st_dev and st_ino: 1, 0, or -errno. */
static long same_file(long a, long b)
{
	struct stat x, y;
	long r = kabi_sys(SYS_fstat, a, &x);

	if (r == 0)
		r = kabi_sys(SYS_fstat, b, &y);
	return r < 0 ? r : x.st_dev == y.st_dev && x.st_ino == y.st_ino;
}

/*
 * What a step reports of a pidfd it made (fd): kept "pid" (fdinfo_pid()), fields sameFile
 * (against the descriptor other, when it is one), nonblock, threadFlag (PIDFD_THREAD) and
 * cloexec. Returns fd, or -errno when fdinfo or fstat could not be read.
 */
static long describe_new_pidfd(struct kabi_call *call, long fd, int64_t other)
{
	int64_t pid;
	long r = fdinfo_pid(call, fd, &pid);

	if (r < 0)
		return r;
	kabi_keep(call, "pid", pid);
	if (other >= 0) {
		r = same_file(fd, other);
		if (r < 0)
			return kabi_setup_failed(call, "fstat the reopened pidfd", r);
		kabi_report_field(call->ctx, call->step, "sameFile", r);
	}
	r = kabi_sys(SYS_fcntl, fd, F_GETFL);
	kabi_report_field(call->ctx, call->step, "nonblock", r >= 0 && (r & O_NONBLOCK));
	kabi_report_field(call->ctx, call->step, "threadFlag", r >= 0 && (r & KABI_PIDFD_THREAD));
	r = kabi_sys(SYS_fcntl, fd, F_GETFD);
	kabi_report_field(call->ctx, call->step, "cloexec", r >= 0 && (r & FD_CLOEXEC));
	return fd;
}

/*
 * open-pidfd: pidfd_open(pid, flags), flags being PIDFD_NONBLOCK (nonblock), PIDFD_THREAD
 * (thread) and any other bits. A pidfd comes back with what proves it: kept "pid", its
 * fdinfo's PID in the caller's namespace ("@label.pid", for "equal"), and fields nonblock
 * (O_NONBLOCK in its file status flags), threadFlag (O_EXCL there: pidfs_alloc_file() raises
 * PIDFD_THREAD, which do_dentry_open() strips) and cloexec (FD_CLOEXEC).
 */
KABI_OP(op_open_pidfd, "open-pidfd", "pidfd_open", { "pid", KABI_ARG_NUMBER, 0 },
	{ "nonblock", KABI_ARG_NUMBER, 1 }, { "thread", KABI_ARG_NUMBER, 2 },
	{ "bits", KABI_ARG_NUMBER, 3 })
{
	int64_t flags = call->args[3];
	long fd;

	if (call->args[1])
		flags |= KABI_PIDFD_NONBLOCK;
	if (call->args[2])
		flags |= KABI_PIDFD_THREAD;
	fd = kabi_sys(KABI_SYS_PIDFD_OPEN, call->args[0], (unsigned int)flags);
	return fd < 0 ? fd : describe_new_pidfd(call, fd, -1);
}

/* fdinfo-pid: a pidfd's fdinfo (fdinfo_pid()): kept "pid"; field fdinfoPid. */
KABI_OP(op_fdinfo_pid, "fdinfo-pid", "openat", { "fd", KABI_ARG_NUMBER, 0 })
{
	int64_t pid;
	long r = fdinfo_pid(call, call->args[0], &pid);

	if (r < 0)
		return r;
	kabi_keep(call, "pid", pid);
	return 0;
}

/*
 * child: a child that waits until killed or until the program's process ends (every signal
 * at its default action: SIGUSR1 kills it). groupLeader: it leads a process group of its own
 * (setpgid(0, 0)); dumpable 0 or 1: prctl(PR_SET_DUMPABLE, dumpable) (absent: inherited; sandbox
 * processes need not be dumpable). Returned (its PID) once it has done both: it says so over a
 * pipe. exitAfter (ms): it exits with status 0 that long after saying so instead, so that a call
 * under test that should not wait for it (waitid on a PIDFD_NONBLOCK pidfd) but does returns
 * with it reaped, a kernel's answer, rather than waiting out the sandbox's timeout (BROKEN).
 */
KABI_OP(op_child, "child", "clone", { "groupLeader", KABI_ARG_NUMBER, 0 },
	{ "dumpable", KABI_ARG_NUMBER, 1, -1 }, { "exitAfter", KABI_ARG_NUMBER, 2 })
{
	siginfo_t info;
	int fds[2];
	char byte = 1;
	long r = kabi_sys(SYS_pipe2, fds, O_CLOEXEC), child;

	if (r < 0)
		return r;
	child = kabi_fork(0);
	if (child == 0) {
		kabi_sys(SYS_prctl, PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
		kabi_sys(SYS_close, fds[0]);
		r = call->args[0] ? kabi_sys(SYS_setpgid, 0, 0) : 0;
		if (r == 0 && call->args[1] >= 0)
			r = kabi_sys(SYS_prctl, PR_SET_DUMPABLE, call->args[1], 0, 0, 0);
		if (r < 0)
			kabi_sys(SYS_exit_group, 1);
		kabi_sys(SYS_write, fds[1], &byte, 1);
		kabi_sys(SYS_close, fds[1]);
		if (call->args[2] > 0) {
			struct timespec delay = { call->args[2] / 1000, call->args[2] % 1000 * 1000000 };

			while (kabi_sys(SYS_nanosleep, &delay, &delay) == -EINTR)
				;
			kabi_sys(SYS_exit_group, 0);
		}
		kabi_wait_for_parent_death();
	}
	kabi_sys(SYS_close, fds[1]);
	if (child > 0) {
		while ((r = kabi_sys(SYS_read, fds[0], &byte, 1)) == -EINTR)
			;
		if (r != 1) {
			kabi_reap(child, &info);
			child = kabi_setup_failed(call, "the child's setpgid or prctl", -ECHILD);
		}
	}
	kabi_sys(SYS_close, fds[0]);
	return child;
}

/*
 * zombie: a child that exits at once with status; returned once it is a zombie (waitid
 * WEXITED | WNOWAIT: seen, not reaped). Returns its PID.
 */
KABI_OP(op_zombie, "zombie", "clone", { "status", KABI_ARG_NUMBER, 0 })
{
	siginfo_t info;
	long child = kabi_fork(0), r;

	if (child == 0)
		kabi_sys(SYS_exit_group, call->args[0]);
	if (child < 0)
		return child;
	do
		r = kabi_sys(SYS_waitid, P_PID, child, &info, WEXITED | WNOWAIT, 0);
	while (r == -EINTR);
	return r < 0 ? r : child;
}

/*
 * Why a child cannot dump core into the case's own directory here, or NULL: core_pattern
 * (host-wide, never written by the suite) must name a file in the dumping process's working
 * directory, not a helper program ("|...") or another directory of the host, and RLIMIT_CORE's
 * hard limit must allow a dump. Test-process code.
 */
static const char *core_dump_need(char *buf, size_t len)
{
	char text[160], *pattern = text + 1;	/* after kabi_read_lines' '\n' */
	char error[24] = "errno ";
	struct { uint64_t current, maximum; } limit;
	long n = kabi_read_lines("/proc/sys/kernel/core_pattern", text, sizeof(text) - 1);
	int elsewhere = 0;

	if (n < 0) {
		*kabi_format_int(error + 6, -n) = 0;
		return kabi_concat(buf, len, "/proc/sys/kernel/core_pattern cannot be read: ", error,
				   (char *)0);
	}
	while (n > 1 && text[n - 1] == '\n')
		n--;
	text[n] = 0;
	for (long i = 1; i < n; i++)
		elsewhere |= text[i] == '/';
	if (n == 1 || pattern[0] == '|' || elsewhere)
		return kabi_concat(buf, len, "kernel.core_pattern is \"", pattern,
				   "\": a core would go to a helper program or a directory of the "
				   "host, not the case's own tmpfs", (char *)0);
	n = kabi_sys(SYS_prlimit64, 0, RLIMIT_CORE, 0, &limit);
	if (n < 0) {
		*kabi_format_int(error + 6, -n) = 0;
		return kabi_concat(buf, len, "prlimit64(RLIMIT_CORE) answered ", error, (char *)0);
	}
	if (limit.maximum == 0)
		return "RLIMIT_CORE's hard limit is 0: no process here may dump core";
	return 0;
}

/*
 * dumped-core: a child that dumps core in the directory path (the case's own tmpfs: a core file
 * must not reach the host) and is left a zombie (waitid WEXITED | WNOWAIT). It raises
 * RLIMIT_CORE to its hard limit, writes 0 to /proc/self/coredump_filter (the ELF headers and
 * notes only: its memory is a copy of the test process's) and sends itself SIGSEGV. The dump is
 * the case's premise, not its question: a child that did not dump (si_code not CLD_DUMPED) is a
 * setup failure. Needs core_pattern to be a plain file name (core_dump_need). Returns its PID.
 */
KABI_OP_WITH((.need = core_dump_need), op_dumped_core, "dumped-core", "clone",
	     { "path", KABI_ARG_PATH })
{
	siginfo_t info;
	struct { uint64_t current, maximum; } limit;
	long child = kabi_fork(0), r;

	if (child == 0) {
		if (kabi_sys(SYS_chdir, call->text) < 0 ||
		    kabi_sys(SYS_prlimit64, 0, RLIMIT_CORE, 0, &limit) < 0)
			kabi_sys(SYS_exit_group, 1);
		limit.current = limit.maximum;
		if (kabi_sys(SYS_prlimit64, 0, RLIMIT_CORE, &limit, 0) < 0 ||
		    kabi_write_int("/proc/self/coredump_filter", 0) < 0)
			kabi_sys(SYS_exit_group, 2);
		kabi_sys(SYS_kill, kabi_sys(SYS_getpid), SIGSEGV);
		kabi_sys(SYS_exit_group, 3);
	}
	if (child < 0)
		return child;
	do
		r = kabi_sys(SYS_waitid, P_PID, child, &info, WEXITED | WNOWAIT, 0);
	while (r == -EINTR);
	if (r < 0)
		return kabi_setup_failed(call, "waitid for the dumping child", r);
	if (info.si_code != CLD_DUMPED) {
		kabi_reap(child, &info);
		return kabi_setup_failed(call, "dump core (the child did not: its chdir, RLIMIT_CORE "
					 "or coredump_filter failed, or the kernel wrote no core)",
					 -ECHILD);
	}
	return child;
}

/*
 * group-remnant: a child that leads a process group, leaves a member of that group behind
 * (a grandchild that waits until the program's process ends: its pipe's write end closes)
 * and exits; it is reaped here. Its PID stays allocated, as the group's ID, with no task of
 * its own (free_pid() runs only once no task uses the struct pid in any role). Returns it.
 */
KABI_OP(op_group_remnant, "group-remnant", "clone")
{
	siginfo_t info;
	int fds[2];
	char byte;
	long r = kabi_sys(SYS_pipe2, fds, O_CLOEXEC), child;

	if (r < 0)
		return r;
	child = kabi_fork(0);
	if (child == 0) {
		kabi_sys(SYS_close, fds[1]);
		kabi_sys(SYS_setpgid, 0, 0);
		if (kabi_fork(0) == 0) {
			while (kabi_sys(SYS_read, fds[0], &byte, 1) == -EINTR)
				;
			kabi_sys(SYS_exit_group, 0);
		}
		kabi_sys(SYS_exit_group, 0);
	}
	kabi_sys(SYS_close, fds[0]);
	if (child < 0) {
		kabi_sys(SYS_close, fds[1]);
		return child;
	}
	kabi_keep(call, "release", fds[1]);
	r = kabi_reap(child, &info);
	return r < 0 ? r : child;
}

/*
 * reap: waitid(P_PID, pid, WEXITED) once the child has exited; fields exitCode (or -1) and
 * killedBy (a signal, or 0). The wait is bounded (KABI_POLL_TRIES naps of 1 ms): a child the
 * call under test should have ended (a signal pidfd_send_signal() claimed to deliver) and that
 * still runs is the kernel's answer, not a slow sandbox: it is killed and reaped, and the step
 * answers -ETIMEDOUT (unbounded, the sandbox's timeout made the case BROKEN).
 */
KABI_OP(op_reap, "reap", "waitid", { "pid", KABI_ARG_NUMBER, 0 })
{
	siginfo_t info;
	long r, w;
	int naps = 0;

	while ((r = kabi_has_exited(call->args[0])) == 0 && naps++ < KABI_POLL_TRIES)
		kabi_nap();
	if (r < 0)
		return r;
	if (r == 0)
		kabi_sys(SYS_kill, call->args[0], SIGKILL);
	kabi_zero(&info, sizeof(info));
	w = kabi_reap(call->args[0], &info);
	if (w < 0)
		return w;
	if (r == 0)
		return -ETIMEDOUT;
	kabi_report_field(call->ctx, call->step, "exitCode",
			  info.si_code == CLD_EXITED ? info.si_status : -1);
	kabi_report_field(call->ctx, call->step, "killedBy",
			  info.si_code == CLD_EXITED ? 0 : info.si_status);
	return 0;
}

/* running: 1 while child pid has not exited (waitid WEXITED | WNOHANG | WNOWAIT), else 0. */
KABI_OP(op_running, "running", "waitid", { "pid", KABI_ARG_NUMBER, 0 })
{
	siginfo_t info;
	long r;

	kabi_zero(&info, sizeof(info));
	r = kabi_sys(SYS_waitid, P_PID, call->args[0], &info, WEXITED | WNOHANG | WNOWAIT, 0);
	return r < 0 ? r : info.si_pid == 0;
}

/* pidfd_send_signal(fd, sig, info, flags) with the siginfo the call asks for. */
static long send_signal(const struct kabi_call *call)
{
	siginfo_t info;
	int64_t signo = call->args[4] ? call->args[4] : call->args[1];

	if (call->args[3] == KABI_NO_SIGINFO)
		return kabi_sys(KABI_SYS_PIDFD_SEND_SIGNAL, call->args[0], call->args[1], 0,
				call->args[2]);
	kabi_zero(&info, sizeof(info));
	info.si_signo = (int)signo;
	info.si_code = (int)call->args[3];
	info.si_pid = (pid_t)kabi_sys(SYS_getpid);
	info.si_uid = (uid_t)kabi_sys(SYS_getuid);
	return kabi_sys(KABI_SYS_PIDFD_SEND_SIGNAL, call->args[0], call->args[1], &info,
			call->args[2]);
}

/*
 * The answer a child made with clone(CLONE_NEWPID) gave as its exit status (0, or -errno),
 * once it is reaped; a child that could not be made or did not exit is a setup failure.
 */
static long child_pidns_answer(struct kabi_call *call, long child)
{
	siginfo_t info;
	long r;

	if (child < 0)
		return kabi_setup_failed(call, "clone(CLONE_NEWPID)", child);
	r = kabi_reap(child, &info);
	if (r < 0)
		return kabi_setup_failed(call, "waitid", r);
	if (info.si_code != CLD_EXITED)
		return kabi_setup_failed(call, "the child in a new PID namespace", -EINTR);
	return -info.si_status;
}

/*
 * send-signal: pidfd_send_signal(fd, signal, info, flags). Without siCode info is NULL;
 * with it, a siginfo of that si_code whose si_signo is siSigno (default: signal).
 * fromChildPidns: the call is made by a child in a new PID namespace (clone(CLONE_NEWPID)),
 * which inherits fd and reports its answer as its exit status.
 */
KABI_OP(op_send_signal, "send-signal", "pidfd_send_signal", { "fd", KABI_ARG_NUMBER, 0 },
	{ "signal", KABI_ARG_SIGNAL, 1 }, { "flags", KABI_ARG_NUMBER, 2 },
	{ "siCode", KABI_ARG_NUMBER, 3, KABI_NO_SIGINFO }, { "siSigno", KABI_ARG_NUMBER, 4 },
	{ "fromChildPidns", KABI_ARG_NUMBER, 5 })
{
	long child;

	if (!call->args[5])
		return send_signal(call);
	child = kabi_fork(KABI_CLONE_NEWPID);
	if (child == 0)
		kabi_sys(SYS_exit_group, -send_signal(call));
	return child_pidns_answer(call, child);
}

/*
 * waitid-pidfd: waitid(P_PIDFD, fd, &info, WEXITED | WNOHANG when nohang). Kept "pid": the
 * si_pid it filled in; fields reaped (si_pid != 0), code (CLD_EXITED 1, CLD_KILLED 2),
 * status (the exit code or the signal) and gone (1: a later waitid(P_PID, si_pid, WNOHANG |
 * WNOWAIT) finds no such child, ECHILD: the process was reaped, not only reported).
 * exiting: the process should be ending (a signal a setup step sent); the blocking call is
 * made once the pidfd polls readable (it exited), for
 * KABI_POLL_TRIES polls of 1 ms at most. One that still runs is the kernel's answer (the
 * signal was dropped), not a slow sandbox: the step answers -ETIMEDOUT, which waitid never
 * does (unbounded, the blocking call waited out the sandbox's timeout and the case was BROKEN).
 */
KABI_OP(op_waitid_pidfd, "waitid-pidfd", "waitid", { "fd", KABI_ARG_NUMBER, 0 },
	{ "nohang", KABI_ARG_NUMBER, 1 }, { "exiting", KABI_ARG_NUMBER, 2 })
{
	struct pollfd p;
	siginfo_t info;
	long r;

	for (int polls = 0; call->args[2]; polls++) {
		if (polls == KABI_POLL_TRIES)
			return -ETIMEDOUT;
		p.fd = (int)call->args[0];
		p.events = POLLIN;
		p.revents = 0;
		r = kabi_sys(SYS_poll, &p, 1, 1);
		if (r > 0)
			break;
		if (r < 0 && r != -EINTR)
			return r;
	}
	kabi_zero(&info, sizeof(info));
	r = kabi_sys(SYS_waitid, KABI_P_PIDFD, call->args[0], &info,
		     WEXITED | (call->args[1] ? WNOHANG : 0), 0);
	if (r < 0)
		return r;
	kabi_keep(call, "pid", info.si_pid);
	kabi_report_field(call->ctx, call->step, "reaped", info.si_pid != 0);
	if (info.si_pid != 0) {
		kabi_report_field(call->ctx, call->step, "code", info.si_code);
		kabi_report_field(call->ctx, call->step, "status", info.si_status);
		r = kabi_sys(SYS_waitid, P_PID, info.si_pid, &info, WEXITED | WNOHANG | WNOWAIT, 0);
		kabi_report_field(call->ctx, call->step, "gone", r == -ECHILD);
	}
	return 0;
}

/*
 * ioctl(fd, request, arg) made by a child in a new PID namespace (clone(CLONE_NEWPID)), which
 * shares the descriptor and reports the answer as its exit status: 0, or -errno.
 */
static long in_child_pidns(struct kabi_call *call, long fd, unsigned long request, void *arg)
{
	long child = kabi_fork(KABI_CLONE_NEWPID);

	if (child == 0)
		kabi_sys(SYS_exit_group, -kabi_sys(SYS_ioctl, fd, request, arg));
	return child_pidns_answer(call, child);
}

/* The 32-bit field of struct pidfd_info at offset. */
static int32_t info_word(const unsigned char *bytes, int offset)
{
	int32_t value;

	kabi_copy(&value, bytes + offset, sizeof(value));
	return value;
}

/*
 * The reply's fields past VER0, each when the reply's mask has its bit and the size holds it:
 * replyMask (the whole mask), coredumpMask (PIDFD_INFO_COREDUMP, __u32 at 64, 6.16),
 * coredumpSignal (PIDFD_INFO_COREDUMP_SIGNAL, __u32 at 68, 6.19), and for
 * PIDFD_INFO_SUPPORTED_MASK (6.19) the __u64 at 72 and at 80 (u64At72, u64At80): where
 * supported_mask sits is what the cases measure.
 */
static void report_info_additions(struct kabi_call *call, const unsigned char *bytes,
				  uint64_t mask, int64_t size)
{
	uint64_t word;

	kabi_report_field(call->ctx, call->step, "replyMask", (int64_t)mask);
	if ((mask & 1 << 4) && size >= 68)
		kabi_report_field(call->ctx, call->step, "coredumpMask", info_word(bytes, 64));
	if ((mask & 1 << 6) && size >= 72)
		kabi_report_field(call->ctx, call->step, "coredumpSignal", info_word(bytes, 68));
	if ((mask & 1 << 5) && size >= 80) {
		kabi_copy(&word, bytes + 72, sizeof(word));
		kabi_report_field(call->ctx, call->step, "u64At72", (int64_t)word);
	}
	if ((mask & 1 << 5) && size >= 88) {
		kabi_copy(&word, bytes + 80, sizeof(word));
		kabi_report_field(call->ctx, call->step, "u64At80", (int64_t)word);
	}
}

/*
 * pidfd-info: ioctl(fd, PIDFD_GET_INFO with size in its number, info) asking for mask; null
 * passes NULL instead. The buffer is all 0xff before the call, with guard bytes after size.
 * Kept "pid", "tgid" and "ppid" (as the reply gives them); fields hasPid, hasCreds and
 * hasExit (the reply's mask bits PIDFD_INFO_PID, _CREDS, _EXIT), ruid and euid, exitCode
 * (with hasExit), the fields past VER0 (report_info_additions()),
 * untouched (how many bytes at the end of the size still hold 0xff: none once the kernel
 * wrote or zero-filled them all), overrun (1 when a guard byte changed) and, for a size past
 * every published one, nonzeroPast88 (how many bytes after the first 88 are not 0: a kernel
 * that copies more than its struct, or leaves the rest as it was, shows there).
 * fromChildPidns: the call is made by a child in a new PID namespace (in_child_pidns()),
 * and only its answer counts.
 */
KABI_OP(op_pidfd_info, "pidfd-info", "ioctl", { "fd", KABI_ARG_NUMBER, 0 },
	{ "size", KABI_ARG_NUMBER, 1 }, { "mask", KABI_ARG_NUMBER, 2 },
	{ "null", KABI_ARG_NUMBER, 3 }, { "fromChildPidns", KABI_ARG_NUMBER, 4 })
{
	uint64_t words[(KABI_INFO_MAX + KABI_INFO_GUARD) / 8];
	unsigned char *bytes = (unsigned char *)words;
	int64_t size = call->args[1], untouched = 0, overrun = 0;
	uint64_t mask;
	unsigned long request;
	long r;

	if (size < 8 || size > KABI_INFO_MAX)
		return kabi_setup_failed(call, "size (8 to 256)", -EINVAL);
	/* Below VER0 the call must fail; the fields read below are inside VER0. */
	for (unsigned int i = 0; i < sizeof(words) / 8; i++)
		words[i] = ~(uint64_t)0;
	words[0] = (uint64_t)call->args[2];
	request = _IOC(_IOC_READ | _IOC_WRITE, 0xFF, 11, (unsigned long)size);
	if (call->args[4])
		return in_child_pidns(call, call->args[0], request, call->args[3] ? 0 : words);
	r = kabi_sys(SYS_ioctl, call->args[0], request, call->args[3] ? 0 : words);
	if (r < 0)
		return r;
	for (int64_t i = 0; i < KABI_INFO_GUARD; i++)
		overrun |= bytes[size + i] != 0xff;
	while (untouched < size && bytes[size - 1 - untouched] == 0xff)
		untouched++;
	if (size > KABI_INFO_PUBLISHED) {
		int64_t nonzero = 0;

		for (int64_t i = KABI_INFO_PUBLISHED; i < size; i++)
			nonzero += bytes[i] != 0;
		kabi_report_field(call->ctx, call->step, "nonzeroPast88", nonzero);
	}
	mask = words[0];
	kabi_report_field(call->ctx, call->step, "hasPid", (mask & 1) != 0);
	kabi_report_field(call->ctx, call->step, "hasCreds", (mask & 2) != 0);
	kabi_report_field(call->ctx, call->step, "hasExit", (mask & 8) != 0);
	kabi_report_field(call->ctx, call->step, "untouched", untouched);
	kabi_report_field(call->ctx, call->step, "overrun", overrun);
	/* ruid and euid (__u32 at 28 and 36), as the caller's user namespace maps them. */
	kabi_report_field(call->ctx, call->step, "ruid", info_word(bytes, 28));
	kabi_report_field(call->ctx, call->step, "euid", info_word(bytes, 36));
	/* struct pidfd_info: mask, cgroupid, then pid, tgid, ppid (__u32 at 16, 20, 24). */
	kabi_keep(call, "pid", info_word(bytes, 16));
	kabi_keep(call, "tgid", info_word(bytes, 20));
	kabi_keep(call, "ppid", info_word(bytes, 24));
	/* exit_code: the __s32 at 60, VER0's last field (6.15). */
	if (mask & 8)
		kabi_report_field(call->ctx, call->step, "exitCode", info_word(bytes, 60));
	report_info_additions(call, bytes, mask, size);
	return 0;
}

/*
 * pidfd-namespace: ioctl(fd, _IO(0xFF, request), arg), request 1 to 10 being
 * PIDFD_GET_CGROUP_NAMESPACE to PIDFD_GET_UTS_NAMESPACE (6.11). The namespace descriptor it
 * returns is compared by st_dev and st_ino with other (a namespace descriptor an earlier
 * step kept), or else with path; field same: 1 when it is that namespace. It is closed.
 */
KABI_OP(op_pidfd_namespace, "pidfd-namespace", "ioctl", { "fd", KABI_ARG_NUMBER, 0 },
	{ "request", KABI_ARG_NUMBER, 1 }, { "arg", KABI_ARG_NUMBER, 2 },
	{ "other", KABI_ARG_NUMBER, 3, -1 }, { "path", KABI_ARG_PATH })
{
	long ns = kabi_sys(SYS_ioctl, call->args[0], _IO(0xFF, call->args[1]), call->args[2]);
	long same;

	if (ns < 0)
		return ns;
	same = call->args[3] >= 0 ? same_file(ns, call->args[3]) : kabi_fd_is_namespace(ns, call->text);
	kabi_sys(SYS_close, ns);
	if (same < 0)
		return kabi_setup_failed(call, "compare the namespace", same);
	kabi_report_field(call->ctx, call->step, "same", same);
	return 0;
}

/*
 * getfd: pidfd_getfd(pidfd, target, flags) (5.6). The copy is compared with compare (a
 * descriptor of the caller's that should be the same file, absent: target): field sameFile;
 * field copyCloexec: FD_CLOEXEC on the copy. Returns the copy.
 */
KABI_OP(op_getfd, "getfd", "pidfd_getfd", { "pidfd", KABI_ARG_NUMBER, 0 },
	{ "target", KABI_ARG_NUMBER, 1 }, { "flags", KABI_ARG_NUMBER, 2 },
	{ "compare", KABI_ARG_NUMBER, 3, -1 })
{
	long fd = kabi_sys(KABI_SYS_PIDFD_GETFD, call->args[0], call->args[1], call->args[2]);
	long same, flags;

	if (fd < 0)
		return fd;
	same = same_file(fd, call->args[3] >= 0 ? call->args[3] : call->args[1]);
	if (same < 0)
		return kabi_setup_failed(call, "fstat the copy", same);
	flags = kabi_sys(SYS_fcntl, fd, F_GETFD);
	kabi_report_field(call->ctx, call->step, "sameFile", same);
	kabi_report_field(call->ctx, call->step, "copyCloexec", flags >= 0 && (flags & FD_CLOEXEC));
	return fd;
}

/*
 * close: close(fd), a descriptor an earlier step kept. pidfd_getfd() rows close the caller's
 * own copy of the file a child inherited, so that only the child's table holds it at that
 * number: a copy taken from the caller's table instead answers EBADF.
 */
KABI_OP(op_close, "close", "close", { "fd", KABI_ARG_NUMBER, 0 })
{
	return kabi_sys(SYS_close, call->args[0]);
}

/*
 * child-fdinfo: a child in new PID and mount namespaces (clone(CLONE_NEWPID |
 * CLONE_NEWNS)) mounts a procfs of its own PID namespace on /proc (mounts made private
 * first, so nothing propagates out) and reads the pidfd fd through it; fields
 * childFdinfoPid (its Pid line), childNspidCount (how many numbers its NSpid line has) and
 * childNspid (those numbers, a list).
 * Returns 0, or -errno of the child's mount or read, which is the case's setup.
 */
KABI_OP(op_child_fdinfo, "child-fdinfo", "mount", { "fd", KABI_ARG_NUMBER, 0 })
{
	siginfo_t info;
	long child = kabi_fork(KABI_CLONE_NEWPID | KABI_CLONE_NEWNS), r;

	if (child == 0) {
		char path[48];
		int32_t pid, nspid[KABI_NSPID_MAX];
		int n;

		r = kabi_sys(SYS_mount, 0, "/", 0, MS_REC | MS_PRIVATE, 0);
		if (r == 0)
			r = kabi_sys(SYS_mount, "proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, 0);
		if (r < 0)
			kabi_sys(SYS_exit_group, -r);
		fdinfo_path(path, call->args[0]);
		if ((n = kabi_read_numbers(path, "Pid:", &pid, 1)) != 1)
			kabi_sys(SYS_exit_group, n < 0 ? -n : ENOENT);
		if ((n = kabi_read_numbers(path, "NSpid:", nspid, KABI_NSPID_MAX)) <= 0)
			kabi_sys(SYS_exit_group, n < 0 ? -n : ENOENT);
		kabi_report_field(call->ctx, call->step, "childFdinfoPid", pid);
		kabi_report_field(call->ctx, call->step, "childNspidCount", n);
		for (int i = 0; i < n; i++)
			kabi_report_field(call->ctx, call->step, "childNspid[]", nspid[i]);
		kabi_sys(SYS_exit_group, 0);
	}
	if (child < 0)
		return kabi_setup_failed(call, "clone(CLONE_NEWPID | CLONE_NEWNS)", child);
	r = kabi_reap(child, &info);
	if (r < 0)
		return kabi_setup_failed(call, "waitid", r);
	if (info.si_code != CLD_EXITED)
		return kabi_setup_failed(call, "the child in new PID and mount namespaces", -EINTR);
	if (info.si_status)
		return kabi_setup_failed(call, "mount a procfs and read the pidfd's fdinfo in a child PID namespace", -info.si_status);
	return 0;
}

/*
 * signal-no-proc: a child in a new mount namespace covers /proc with an empty tmpfs (mounts
 * made private first) and proves no procfs answers there (/proc/self is ENOENT), then opens a
 * pidfd for pid and sends SIGUSR1 through it: pidfds need no procfs. Returns 0, or -errno of
 * pidfd_open or pidfd_send_signal, which the child reports as its exit status.
 */
KABI_OP(op_signal_no_proc, "signal-no-proc", "pidfd_open", { "pid", KABI_ARG_NUMBER, 0 })
{
	siginfo_t info;
	long child = kabi_fork(KABI_CLONE_NEWNS), r;

	if (child == 0) {
		r = kabi_sys(SYS_mount, 0, "/", 0, MS_REC | MS_PRIVATE, 0);
		if (r == 0)
			r = kabi_sys(SYS_mount, "none", "/proc", "tmpfs", MS_NOSUID | MS_NODEV, 0);
		if (r == 0 && kabi_sys(SYS_faccessat, AT_FDCWD, "/proc/self", F_OK) != -ENOENT)
			r = -EEXIST;
		if (r < 0)
			kabi_sys(SYS_exit_group, 128 + (-r & 0x7f));
		r = kabi_sys(KABI_SYS_PIDFD_OPEN, call->args[0], 0);
		if (r >= 0)
			r = kabi_sys(KABI_SYS_PIDFD_SEND_SIGNAL, r, SIGUSR1, 0, 0);
		kabi_sys(SYS_exit_group, -r);
	}
	if (child < 0)
		return kabi_setup_failed(call, "clone(CLONE_NEWNS)", child);
	r = kabi_reap(child, &info);
	if (r < 0)
		return kabi_setup_failed(call, "waitid", r);
	if (info.si_code != CLD_EXITED)
		return kabi_setup_failed(call, "the child without procfs", -EINTR);
	if (info.si_status >= 128)
		return kabi_setup_failed(call, "cover /proc with a tmpfs", -(info.si_status - 128));
	return -info.si_status;
}

/*
 * pidfs file handles (fs/pidfs.c pidfs_encode_fh(), pidfs_fh_to_dentry(),
 * pidfs_export_permission(), pidfs_export_open(); fs/fhandle.c): a pidfs handle is one 64-bit
 * word, the struct pid's inode number, so a step keeps it whole and a later one rebuilds it.
 */
struct kabi_file_handle {
	uint32_t handle_bytes;
	int32_t handle_type;
	uint64_t words[16];	/* MAX_HANDLE_SZ (128) bytes */
};

/*
 * The pidfd probes of Fixtures/features.json (kabi_probe.h), run in the test process on a
 * pidfd of its own: pidfd_open(getpid(), 0) is the call they need first.
 */
static long own_pidfd(const char **needed)
{
	long fd = kabi_sys(KABI_SYS_PIDFD_OPEN, kabi_sys(SYS_getpid), 0);

	if (fd < 0)
		*needed = "pidfd_open(getpid(), 0)";
	return fd;
}

/* pidfd-ioctl: ioctl(pidfd, request, 0). */
KABI_PROBE(probe_pidfd_ioctl, "pidfd-ioctl", "ioctl(pidfd, 0x%lx)", .takes_request = 1)
{
	long fd = own_pidfd(needed), r;

	if (fd < 0)
		return fd;
	r = kabi_sys(SYS_ioctl, fd, request, 0);
	kabi_sys(SYS_close, fd);
	return r;
}

/*
 * pidfd-handle: name_to_handle_at(pidfd, "", handle, &mount_id, AT_EMPTY_PATH) with no room
 * in the handle: a filesystem that encodes handles says how much room it needs (EOVERFLOW) and
 * writes nothing else; one without export operations answers EOPNOTSUPP.
 */
KABI_PROBE(probe_pidfd_handle, "pidfd-handle", "name_to_handle_at(pidfd, handle_bytes 0)",
	   .succeeded = "encoded a handle in no room")
{
	struct kabi_file_handle handle;
	int mount_id;
	long fd = own_pidfd(needed), r;

	if (fd < 0)
		return fd;
	kabi_zero(&handle, sizeof(handle));
	r = kabi_sys(SYS_name_to_handle_at, fd, "", &handle, &mount_id, AT_EMPTY_PATH);
	kabi_sys(SYS_close, fd);
	return r;
}

/*
 * pidfd-handle: name_to_handle_at(fd, path, handle, &mount_id, flags), flags being
 * AT_EMPTY_PATH with an empty path (absent: "") and 0 with a name; room is the handle_bytes
 * offered (absent: 128). Kept "type", "bytes" and "word" (the handle's first 8
 * bytes); fields handleType and handleBytes as the kernel wrote them. On EOVERFLOW kept "needed":
 * the handle_bytes the kernel wrote back, the room the handle needs (for a later "equal").
 */
KABI_OP(op_pidfd_handle, "pidfd-handle", "name_to_handle_at", { "fd", KABI_ARG_NUMBER, 0 },
	{ "room", KABI_ARG_NUMBER, 1, 128 }, { "path", KABI_ARG_PATH })
{
	struct kabi_file_handle handle;
	int mount_id;
	int flags = call->text[0] ? 0 : AT_EMPTY_PATH;
	long r;

	if (call->args[1] < 0 || call->args[1] > (int64_t)sizeof(handle.words))
		return kabi_setup_failed(call, "room (0 to 128)", -EINVAL);
	kabi_zero(&handle, sizeof(handle));
	handle.handle_bytes = (uint32_t)call->args[1];
	r = kabi_sys(SYS_name_to_handle_at, call->args[0], call->text, &handle, &mount_id, flags);
	if (r == -EOVERFLOW)
		kabi_keep(call, "needed", handle.handle_bytes);
	if (r < 0)
		return r;
	kabi_report_field(call->ctx, call->step, "handleType", handle.handle_type);
	kabi_report_field(call->ctx, call->step, "handleBytes", handle.handle_bytes);
	kabi_keep(call, "type", handle.handle_type);
	kabi_keep(call, "bytes", handle.handle_bytes);
	kabi_keep(call, "word", (int64_t)handle.words[0]);
	return 0;
}

/*
 * open_by_handle_at(mount, handle of bytes, type and word, flags), flags being O_NONBLOCK
 * (PIDFD_NONBLOCK) with nonblock, O_EXCL (PIDFD_THREAD) with thread and O_CREAT, which no
 * pidfd takes, with create: the new fd, or -errno.
 */
static long open_handle(const struct kabi_call *call)
{
	struct kabi_file_handle handle;

	kabi_zero(&handle, sizeof(handle));
	handle.handle_bytes = (uint32_t)call->args[1];
	handle.handle_type = (int32_t)call->args[2];
	handle.words[0] = (uint64_t)call->args[3];
	return kabi_sys(SYS_open_by_handle_at, call->args[0], &handle,
			(call->args[4] ? KABI_PIDFD_NONBLOCK : 0) |
				(call->args[5] ? KABI_PIDFD_THREAD : 0) | (call->args[7] ? O_CREAT : 0));
}

/*
 * open-handle: open_by_handle_at(mount, handle, flags) (open_handle()), the handle rebuilt
 * from bytes (8 at most), type and word ("@label.bytes" and so on of a pidfd-handle step);
 * mount is a pidfd (its pidfs mount) or FD_PIDFS_ROOT (-10002, 6.17). The pidfd it returns
 * comes back with what proves it: kept "pid" (its fdinfo's PID in the caller's namespace),
 * fields sameFile (the same inode as mount, by st_dev and st_ino, when mount is a pidfd),
 * nonblock, threadFlag (PIDFD_THREAD, O_EXCL, in its file status flags) and cloexec.
 * fromChildPidns: the call is made by a child in a new PID namespace (clone(CLONE_NEWPID)),
 * which reports only its answer (0 or -errno) as its exit status.
 */
KABI_OP(op_open_handle, "open-handle", "open_by_handle_at", { "mount", KABI_ARG_NUMBER, 0 },
	{ "bytes", KABI_ARG_NUMBER, 1 }, { "type", KABI_ARG_NUMBER, 2 },
	{ "word", KABI_ARG_NUMBER, 3 }, { "nonblock", KABI_ARG_NUMBER, 4 },
	{ "thread", KABI_ARG_NUMBER, 5 }, { "create", KABI_ARG_NUMBER, 7 },
	{ "fromChildPidns", KABI_ARG_NUMBER, 6 })
{
	long fd, child;

	if (call->args[1] < 0 || call->args[1] > 8)
		return kabi_setup_failed(call, "bytes (0 to 8: one word kept)", -EINVAL);
	if (call->args[6]) {
		child = kabi_fork(KABI_CLONE_NEWPID);
		if (child == 0) {
			fd = open_handle(call);
			kabi_sys(SYS_exit_group, fd < 0 ? -fd : 0);
		}
		return child_pidns_answer(call, child);
	}
	fd = open_handle(call);
	return fd < 0 ? fd : describe_new_pidfd(call, fd, call->args[0]);
}
