#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "kabi_files.h"
#include "kabi_raw.h"
#include "kabi_sandbox.h"

/* Records from sandbox processes: raw syscalls only, no malloc, no stdio. */

_Static_assert(sizeof(struct kabi_report) <= 512, "records stay far below PIPE_BUF (atomic)");
_Static_assert(sizeof(struct kabi_report) % 8 == 0, "records pack without padding surprises");

static void put_record(int fd, const struct kabi_report *r)
{
	/* One write per record: pipe writes below PIPE_BUF never interleave. */
	while (kabi_sys(SYS_write, fd, r, sizeof(*r)) == -EINTR)
		;
}

static void report(const struct kabi_body_context *ctx, int32_t tag, int32_t step, int64_t value,
		   long pid, const char *status, const char *name)
{
	struct kabi_report r;

	kabi_zero(&r, sizeof(r));
	r.tag = tag;
	r.step = step;
	r.level = ctx->level;
	r.pid = (int32_t)pid;
	r.uid = (int32_t)kabi_sys(SYS_getuid);
	r.value = value;
	r.nspid_count = kabi_read_nspid(status, r.nspid);
	for (int i = 0; name && name[i] && i < KABI_REPORT_NAME_MAX - 1; i++)
		r.name[i] = name[i];
	put_record(ctx->report_fd, &r);
}

void kabi_report_self(const struct kabi_body_context *ctx, int32_t tag, int32_t step,
		      int64_t value)
{
	report(ctx, tag, step, value, kabi_sys(SYS_getpid), "/proc/self/status", 0);
}

void kabi_report_self_from(const struct kabi_body_context *ctx, int32_t tag, int32_t step,
			   int64_t value, const char *status)
{
	report(ctx, tag, step, value, kabi_sys(SYS_getpid), status, 0);
}

void kabi_report_field_from(const struct kabi_body_context *ctx, int32_t step, const char *name,
			    int64_t value, const char *status)
{
	report(ctx, KABI_REPORT_FIELD, step, value, kabi_sys(SYS_getpid), status, name);
}

void kabi_report_thread(const struct kabi_body_context *ctx, int32_t tag, int32_t step,
			int64_t value)
{
	report(ctx, tag, step, value, kabi_sys(SYS_gettid), "/proc/thread-self/status", 0);
}

void kabi_report_named(const struct kabi_body_context *ctx, int32_t tag, int32_t step,
		       const char *name, int64_t value)
{
	report(ctx, tag, step, value, kabi_sys(SYS_getpid), "/proc/self/status", name);
}

void kabi_report_field(const struct kabi_body_context *ctx, int32_t step, const char *name,
		       int64_t value)
{
	kabi_report_named(ctx, KABI_REPORT_FIELD, step, name, value);
}

void kabi_report_line(const struct kabi_body_context *ctx, int32_t step, const char *text,
		      long len, const char *key, long pid, int64_t value)
{
	struct kabi_report r;
	char line[KABI_NAME_MAX + 1];
	int n = 0;

	kabi_zero(&r, sizeof(r));
	for (; key[n] && n < KABI_NAME_MAX - 1; n++)
		r.name[n] = line[n] = key[n];
	line[n] = ':';
	line[n + 1] = 0;
	r.tag = KABI_REPORT_STATUS;
	r.step = step;
	r.level = ctx->level;
	r.pid = (int32_t)pid;
	r.uid = (int32_t)kabi_sys(SYS_getuid);
	r.value = value;
	r.nspid_count = kabi_parse_numbers(text, len, line, r.nspid, KABI_NSPID_MAX);
	put_record(ctx->report_fd, &r);
}
