/* Raw wrappers: one syscall each, returning the result or -errno, never retrying. */
#ifndef CKERNELABI_KABI_SYSCALLS_H
#define CKERNELABI_KABI_SYSCALLS_H

#include <signal.h>
#include <stdint.h>
#include <sys/types.h>

enum {
	KABI_SYS_PIDFD_SEND_SIGNAL = 424,
	KABI_SYS_PIDFD_OPEN = 434,
	KABI_SYS_CLOSE_RANGE = 436,
	KABI_SYS_PIDFD_GETFD = 438,
};

long kabi_pidfd_open(pid_t pid, unsigned int flags);
long kabi_pidfd_send_signal(int pidfd, int sig, const siginfo_t *info, unsigned int flags);
long kabi_pidfd_getfd(int pidfd, int fd, unsigned int flags);
long kabi_ioctl(int fd, unsigned long request, unsigned long arg);
/* pipe2(fds, O_CLOEXEC): 0, or -errno (the Glibc module hides pipe2). */
long kabi_pipe_cloexec(int fds[2]);
/* getrlimit(RLIMIT_NPROC)'s soft limit; -1 when unlimited (the Glibc module hides the name). */
long kabi_nproc_limit(void);
/* statfs(path).f_type, the filesystem's magic number, or -errno. */
long kabi_filesystem_type(const char *path);
static const long KABI_CGROUP2_SUPER_MAGIC = 0x63677270;	/* CGROUP2_SUPER_MAGIC */

#endif
