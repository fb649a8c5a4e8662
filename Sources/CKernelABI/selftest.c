#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "kabi_raw.h"
#include "kabi_selftest.h"
#include "kabi_syscalls.h"

/* Sandbox bodies: raw syscalls only, no malloc, no stdio. */

static __attribute__((noreturn)) void block_forever(void)
{
	for (;;)
		kabi_sys(SYS_pause);
}

int kabi_body_hang(const struct kabi_body_context *ctx)
{
	long child = kabi_fork(0);

	if (child == 0) {
		kabi_report_self(ctx, KABI_REPORT_CHILD, 0, 0);
		block_forever();
	}
	kabi_report_self(ctx, KABI_REPORT_CHILD, 0, child);
	block_forever();
}

int kabi_body_crash(const struct kabi_body_context *ctx)
{
	kabi_report_self(ctx, KABI_REPORT_CALL, 0, 0);
	/* A real fault: kill(getpid(), SIGSEGV) is ignored by a namespace's init. */
	**(volatile int *const *)ctx->arg = 0;
	return 1;
}

int kabi_body_fan_out(const struct kabi_body_context *ctx)
{
	uint32_t count = *(const uint32_t *)ctx->arg;
	siginfo_t info;
	long r;

	for (uint32_t i = 0; i < count; i++) {
		long child = kabi_fork(0);

		if (child == 0) {
			kabi_report_self(ctx, KABI_REPORT_CHILD, (int32_t)i, 0);
			kabi_sys(SYS_exit_group, 0);
		}
		if (child < 0)
			kabi_report_self(ctx, KABI_REPORT_CALL, (int32_t)i, child);
	}
	while ((r = kabi_sys(SYS_waitid, P_ALL, 0, &info, WEXITED, 0)) == 0 || r == -EINTR)
		;	/* PID 1 of a private namespace: every child here is this body's own */
	return 0;
}

int kabi_body_probe_fd(const struct kabi_body_context *ctx)
{
	long r = kabi_sys(SYS_fcntl, *(const int *)ctx->arg, F_GETFD);

	kabi_report_self(ctx, KABI_REPORT_CALL, 0, r);
	return 0;
}

static long recurse(volatile char *previous)
{
	volatile char frame[4096];

	frame[0] = previous ? previous[0] : 1;
	return recurse(frame) + frame[sizeof(frame) - 1];	/* not a tail call */
}

int kabi_body_overflow_stack(const struct kabi_body_context *ctx)
{
	kabi_report_self(ctx, KABI_REPORT_CALL, 0, 0);
	return (int)recurse(0);
}
