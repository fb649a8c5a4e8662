/*
 * Raw system calls for code that runs in sandbox processes.
 *
 * On x86-64 sandbox levels share the test process's memory (CLONE_VM), and with it the
 * creating thread's TLS and so its errno: a sandbox process that read errno would race with
 * the test thread writing it (seen as a spurious EAGAIN under QEMU). kabi_sys() therefore
 * returns the kernel's answer, -errno included, and never touches errno. Elsewhere sandboxes
 * copy memory instead, and kabi_sys() is syscall() with errno turned into -errno.
 */
#ifndef CKERNELABI_KABI_RAW_H
#define CKERNELABI_KABI_RAW_H

#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#if defined(__x86_64__)
#define KABI_SANDBOX_SHARES_MEMORY 1

static inline long kabi_sys6(long nr, long a1, long a2, long a3, long a4, long a5, long a6)
{
	register long r10 __asm__("r10") = a4;
	register long r8 __asm__("r8") = a5;
	register long r9 __asm__("r9") = a6;
	long ret;

	__asm__ volatile("syscall"
			 : "=a"(ret)
			 : "a"(nr), "D"(a1), "S"(a2), "d"(a3), "r"(r10), "r"(r8), "r"(r9)
			 : "rcx", "r11", "memory");
	return ret;
}
#else
#define KABI_SANDBOX_SHARES_MEMORY 0

static inline long kabi_sys6(long nr, long a1, long a2, long a3, long a4, long a5, long a6)
{
	long ret = syscall(nr, a1, a2, a3, a4, a5, a6);

	return ret < 0 ? -errno : ret;
}

#endif

/*
 * Byte helpers for sandbox code. libc's memset and friends are reached through the PLT, and a
 * lazily bound PLT entry runs the dynamic linker, with the test thread's TLS, inside a sandbox
 * process. Volatile accesses keep the compiler from turning the loops back into those calls.
 */
static inline void kabi_zero(void *to, unsigned long n)
{
	volatile char *b = to;

	while (n--)
		*b++ = 0;
}

static inline void kabi_copy(void *to, const void *from, unsigned long n)
{
	volatile char *d = to;
	const volatile char *s = from;

	while (n--)
		*d++ = *s++;
}

static inline int kabi_equal(const void *a, const void *b, unsigned long n)
{
	const volatile char *x = a, *y = b;

	while (n--)
		if (*x++ != *y++)
			return 0;
	return 1;
}

/* kabi_sys(SYS_x, args...): the result, or -errno. Never retries, never touches errno. */
#define kabi_sys(...) kabi_sys_padded(__VA_ARGS__, 0, 0, 0, 0, 0, 0)
#define kabi_sys_padded(nr, a1, a2, a3, a4, a5, a6, ...)                                       \
	kabi_sys6((long)(nr), (long)(a1), (long)(a2), (long)(a3), (long)(a4), (long)(a5),      \
		  (long)(a6))


/*
 * fork() for sandbox code: clone(SIGCHLD | flags) without a new stack, so the child runs on a
 * copy of the caller's memory. Plain clone, not clone3, so a helper process can still be made
 * where seccomp refuses clone3 (clone3 is only ever the call under test).
 */
#define kabi_fork(flags) kabi_sys(SYS_clone, (unsigned long)(flags) | SIGCHLD, 0, 0, 0, 0)

/* waitid(P_PID, pid, WEXITED | __WALL), retried on EINTR: 0, or -errno. */
static inline long kabi_reap(long pid, siginfo_t *info)
{
	long r;

	do
		r = kabi_sys(SYS_waitid, P_PID, pid, info, WEXITED | 0x40000000 /* __WALL */, 0);
	while (r == -EINTR);
	return r < 0 ? r : 0;
}

/* A wait status (as waitpid() gives it) from waitid()'s siginfo. */
static inline int64_t kabi_wait_status(const siginfo_t *info)
{
	if (info->si_code == CLD_EXITED)
		return (int64_t)(info->si_status & 0xff) << 8;
	return info->si_status & 0x7f;	/* killed or dumped: the signal, as in a wait status */
}

#endif
