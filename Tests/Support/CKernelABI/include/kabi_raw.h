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

/* kabi_sys(SYS_x, args...): the result, or -errno. Never retries, never touches errno. */
#define kabi_sys(...) kabi_sys_padded(__VA_ARGS__, 0, 0, 0, 0, 0, 0)
#define kabi_sys_padded(nr, a1, a2, a3, a4, a5, a6, ...)                                       \
	kabi_sys6((long)(nr), (long)(a1), (long)(a2), (long)(a3), (long)(a4), (long)(a5),      \
		  (long)(a6))

#endif
