#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/vfs.h>
#include <unistd.h>

#include "kabi_probe.h"
#include "kabi_raw.h"
#include "kabi_syscalls.h"

static long raw(long r)
{
	return r < 0 ? -errno : r;
}

/*
 * The pidfd calls are made from the suite's own code, as sandbox code makes them, not through
 * libc's syscall(): a seccomp filter that refuses them only from the program's code
 * (pidns-seccomp-exec --program-only) then refuses the probe in TestEnvironment too.
 */
long kabi_pidfd_open(pid_t pid, unsigned int flags)
{
	return kabi_sys(KABI_SYS_PIDFD_OPEN, pid, flags);
}

long kabi_pidfd_send_signal(int pidfd, int sig, const siginfo_t *info, unsigned int flags)
{
	return kabi_sys(KABI_SYS_PIDFD_SEND_SIGNAL, pidfd, sig, info, flags);
}

long kabi_pidfd_getfd(int pidfd, int fd, unsigned int flags)
{
	return kabi_sys(KABI_SYS_PIDFD_GETFD, pidfd, fd, flags);
}

long kabi_ioctl(int fd, unsigned long request, unsigned long arg)
{
	return raw(ioctl(fd, request, arg));
}

/* The probe kinds C files register (kabi_probe.h); hidden bounds need no GOT entry. */
extern const struct kabi_probe __start_kabi_probes[] __attribute__((visibility("hidden")));
extern const struct kabi_probe __stop_kabi_probes[] __attribute__((visibility("hidden")));

unsigned int kabi_probe_count(void)
{
	return (unsigned int)(__stop_kabi_probes - __start_kabi_probes);
}

const struct kabi_probe *kabi_probe_at(unsigned int index)
{
	return index < kabi_probe_count() ? &__start_kabi_probes[index] : 0;
}

long kabi_filesystem_type(const char *path)
{
	struct statfs info;

	return statfs(path, &info) < 0 ? -errno : (long)info.f_type;
}

long kabi_pipe_cloexec(int fds[2])
{
	return raw(pipe2(fds, O_CLOEXEC));
}

long kabi_nproc_limit(void)
{
	struct rlimit limit;

	if (getrlimit(RLIMIT_NPROC, &limit) < 0 || limit.rlim_cur == RLIM_INFINITY)
		return -1;
	return (long)limit.rlim_cur;
}
