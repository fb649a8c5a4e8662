#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/resource.h>
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
	/* frame[0] is always 1; the volatile read is an exit the compiler cannot rule out, so
	 * gcc's -Winfinite-recursion does not stop a build of this intended stack overflow. */
	if (frame[0] == 0)
		return 0;
	return recurse(frame) + frame[sizeof(frame) - 1];	/* not a tail call */
}

int kabi_body_overflow_stack(const struct kabi_body_context *ctx)
{
	kabi_report_self(ctx, KABI_REPORT_CALL, 0, 0);
	return (int)recurse(0);
}

int kabi_body_report_many(const struct kabi_body_context *ctx)
{
	uint32_t count = *(const uint32_t *)ctx->arg;

	for (uint32_t i = 0; i < count; i++)
		kabi_report_field(ctx, (int32_t)i, "record", i);
	return 0;
}

int kabi_body_report_torn(const struct kabi_body_context *ctx)
{
	struct kabi_report r;

	kabi_zero(&r, sizeof(r));
	r.tag = KABI_REPORT_CALL;
	r.level = ctx->level;
	/* What a writer killed mid-record would leave: a record's first half, then nothing. */
	kabi_sys(SYS_write, ctx->report_fd, &r, sizeof(r) / 2);
	return 0;
}

int kabi_body_report_without_fds(const struct kabi_body_context *ctx)
{
	uint64_t none[2];	/* the kernel's struct rlimit64: cur and max */
	long r;

	kabi_zero(none, sizeof(none));	/* an initializer may become a memset call */
	r = kabi_sys(SYS_prlimit64, 0, RLIMIT_NOFILE, none, 0);

	/* No descriptor can be opened now, /proc/self/status included: the record still goes. */
	kabi_report_self(ctx, KABI_REPORT_CALL, 0, r);
	return 0;
}
