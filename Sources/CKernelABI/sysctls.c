#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/syscall.h>

#include "kabi_files.h"
#include "kabi_processes.h"
#include "kabi_program.h"
#include "kabi_raw.h"

/*
 * Files of /proc/sys/kernel a PID namespace has its own of (ns_last_pid; pid_max since 6.14):
 * read, written, and checked to be the sandbox's own before any write. Raw syscalls only.
 */

/* read PATH: the decimal value of a sysctl. */
KABI_OP(op_read, "read", "read", { "path", KABI_ARG_PATH })
{
	return kabi_read_int(call->text);
}

/* write PATH VALUE: one write of the decimal value. */
KABI_OP(op_write, "write", "write", { "path", KABI_ARG_PATH }, { "value", KABI_ARG_NUMBER, 0 })
{
	return kabi_write_int(call->text, call->args[0]);
}

/* inode PATH: st_ino of the file. */
KABI_OP(op_inode, "inode", "stat", { "path", KABI_ARG_PATH })
{
	return kabi_inode(call->text);
}

/*
 * own-file PATH INODE: 0 if PATH is another file than the one the test process holds open as
 * INODE, else -EXDEV. Before 6.14 one pid_max serves every PID namespace, and a sandbox mapped
 * to the caller's uid could write the host's as real root: every pid_max write checks first.
 */
KABI_OP(op_own_file, "own-file", "stat", { "path", KABI_ARG_PATH },
	{ "hostInode", KABI_ARG_NUMBER, 0 })
{
	long ino = kabi_inode(call->text);

	if (ino < 0)
		return ino;
	return call->args[0] != 0 && (uint64_t)ino != (uint64_t)call->args[0] ? 0 : -EXDEV;
}

/*
 * open-write: opens path for writing and returns the descriptor ("@label"): the permission
 * check of open(). A read-only /proc/sys (EROFS, as container runtimes mount it) is the
 * environment, not the kernel's answer, and is reported as a failed setup.
 */
KABI_OP(op_open_write, "open-write", "openat", { "path", KABI_ARG_PATH })
{
	long fd = kabi_sys(SYS_openat, AT_FDCWD, call->text, O_WRONLY | O_CLOEXEC);

	return fd == -EROFS ? kabi_setup_failed(call, "open", fd) : fd;
}

/*
 * write-fd: writes value in decimal at offset 0 of descriptor fd (opened by open-write,
 * perhaps with other capabilities), then reads path back: field value. Never the suite's own
 * sysctls: a descriptor with inode hostFile (the suite's pid_max, which before 6.14 every
 * namespace shares: "$hostPidMaxInode"), or a caller in the PID namespace with inode hostPidNs
 * (the suite's: "$suitePidNamespaceInode"), is refused, and so is a step that does not name both.
 */
KABI_OP(op_write_fd, "write-fd", "write", { "path", KABI_ARG_PATH }, { "fd", KABI_ARG_NUMBER, 0 },
	{ "value", KABI_ARG_NUMBER, 1 }, { "hostFile", KABI_ARG_NUMBER, 2 },
	{ "hostPidNs", KABI_ARG_NUMBER, 3 })
{
	char text[24], *end = kabi_format_int(text, call->args[1]);
	struct stat st;
	long r = kabi_sys(SYS_fstat, call->args[0], &st);

	if (r == 0 && (call->args[2] == 0 || call->args[3] == 0 ||
		       (uint64_t)st.st_ino == (uint64_t)call->args[2] ||
		       kabi_inode("/proc/self/ns/pid") == call->args[3]))
		r = -EXDEV;
	if (r < 0)
		return kabi_setup_failed(call, "not the suite's", r);
	r = kabi_sys(SYS_pwrite64, call->args[0], text, end - text, 0);
	if (r < 0)
		return r;
	r = kabi_read_int(call->text);
	if (r < 0)
		return kabi_setup_failed(call, "read back", r);
	kabi_report_field(call->ctx, call->step, "value", r);
	return 0;
}

/*
 * read-fd: the decimal value read at offset 0 of descriptor fd (opened by save). A sysctl file
 * keeps the table it was opened on: a pid_max descriptor opened in a parent PID namespace reads
 * that namespace's pid_max from any child namespace.
 */
KABI_OP(op_read_fd, "read-fd", "pread64", { "fd", KABI_ARG_NUMBER, 0 })
{
	char buf[32];
	long n = kabi_sys(SYS_pread64, call->args[0], buf, sizeof(buf), 0);
	int64_t v = 0;

	if (n < 0)
		return n;
	for (long i = 0; i < n && buf[i] >= '0' && buf[i] <= '9'; i++)
		v = v * 10 + (buf[i] - '0');
	return v;
}
