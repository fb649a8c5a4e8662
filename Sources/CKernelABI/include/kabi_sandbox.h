/*
 * The sandbox: C bodies run inside fresh user + PID namespaces made by clone (not clone3) from
 * the (multithreaded) test process; on x86-64 with CLONE_VM, so sandbox levels share the test
 * process's memory, elsewhere they get a copy. Everything that runs in a sandbox process is
 * async-signal-safe C: raw syscalls, no malloc, no stdio, _exit. Results travel back as
 * fixed-size records over a close-on-exec pipe; the parent waits on a pidfd with a timeout,
 * then kills and reaps.
 */
#ifndef CKERNELABI_KABI_SANDBOX_H
#define CKERNELABI_KABI_SANDBOX_H

#include <stdint.h>

#include "kabi_clone3.h"

enum {
	/* NSpid has one entry per level from the reader's procfs down: at most 33. */
	KABI_NSPID_MAX = KABI_MAX_PID_NS_LEVEL + 1,
	KABI_SANDBOX_KEEP_FDS = 4,
	/* Exit code of a sandbox level whose own setup failed (a SETUP_FAILED record says why). */
	KABI_SANDBOX_SETUP_EXIT = 125,
	KABI_NAME_MAX = 16,
	/*
	 * A record's name: a field's or an operation's (KABI_NAME_MAX), or what a SETUP_FAILED
	 * says failed, in words ("map the new user namespace's ids"), which the BROKEN reason quotes.
	 */
	KABI_REPORT_NAME_MAX = 128,
};

enum kabi_report_tag {
	KABI_REPORT_LEVEL_READY = 1,	/* a sandbox level is set up */
	KABI_REPORT_SETUP_FAILED = 2,	/* step says which; value is -errno */
	KABI_REPORT_CALL = 3,		/* a program step returned value (>= 0, or -errno) */
	KABI_REPORT_CHILD = 4,		/* a process a step made is running */
	KABI_REPORT_CHILD_EXIT = 5,	/* value: that child's wait status, or -errno */
	KABI_REPORT_LEVEL = 6,		/* value: the reporter's PID-namespace level, or -errno */
	KABI_REPORT_FIELD = 7,		/* value: what the body observed, under the record's name */
	/*
	 * A line of the writer's status file: name is its key ("NSpgid"), nspid holds its numbers
	 * (not the writer's NSpid, unless the key is NSpid); value says who wrote it.
	 */
	KABI_REPORT_STATUS = 8,
};

enum kabi_setup_step {
	KABI_STEP_SETGROUPS = 1,
	KABI_STEP_UID_MAP = 2,
	KABI_STEP_GID_MAP = 3,
	KABI_STEP_CLONE_LEVEL = 4,
	KABI_STEP_WAIT_LEVEL = 5,
};

struct kabi_report {
	int32_t tag;		/* enum kabi_report_tag */
	/*
	 * A sandbox level's own setup: enum kabi_setup_step (below 1000); a program step:
	 * KABI_PROGRAM_FIRST_STEP + its index, for every tag.
	 */
	int32_t step;
	int32_t level;		/* sandbox level of the writer: 1 is the outermost namespace made */
	int32_t pid;		/* getpid() of the writer (gettid() for a thread's record) */
	int64_t value;
	int32_t uid;		/* getuid() of the writer, in its own user namespace */
	int32_t nspid_count;	/* entries in nspid, or -errno if /proc/self/status was unreadable */
	int32_t nspid[KABI_NSPID_MAX];	/* NSpid of the writer (of the thread), outermost first */
	int32_t reserved;
	/*
	 * FIELD: the observed field's name; a program step's record: its operation, or for its
	 * SETUP_FAILED what failed. NUL-ended.
	 */
	char name[KABI_REPORT_NAME_MAX];
};

/* What a body gets: where to report, how deep it runs, and its argument. */
struct kabi_body_context {
	int report_fd;
	int level;
	const void *arg;
	/*
	 * Memory the body may use (a thread's stack), above a guard page. It belongs to the
	 * sandbox, so a sandbox killed at its timeout leaks nothing.
	 */
	void *scratch;
	unsigned long scratch_bytes;
};

/* A sandbox body: C only. Its return value becomes the sandbox's exit code. */
typedef int (*kabi_sandbox_body)(const struct kabi_body_context *ctx);

struct kabi_sandbox_spec {
	uint32_t levels;		/* nested user + PID namespace pairs, 1 ... 32 */
	uint32_t leave_unmapped;	/* skip uid_map/gid_map: the body runs as the overflow uid */
	/*
	 * Level 1 is a PID namespace only, in the caller's own user namespace: it needs
	 * CAP_SYS_ADMIN there, and the body keeps the caller's credentials.
	 */
	uint32_t outer_user_ns;
	int32_t timeout_ms;
	int32_t keep_fds[KABI_SANDBOX_KEEP_FDS];	/* fds the body needs, -1 if unused */
	/* comm of every sandbox process, so a leak can be found by name; NUL-terminated */
	char name[16];
};

struct kabi_sandbox_outcome {
	int32_t pid;		/* the outermost sandbox process, in the caller's PID namespace */
	int32_t timed_out;	/* the timeout expired and the sandbox was killed */
	int32_t wait_code;	/* siginfo si_code: CLD_EXITED, CLD_KILLED, CLD_DUMPED */
	int32_t wait_status;	/* exit code or signal number */
	uint32_t report_count;	/* records stored in the caller's array */
	uint32_t reports_dropped;	/* records that did not fit */
	uint32_t torn_bytes;	/* bytes of an incomplete trailing record */
	int32_t unreaped;	/* killed, but still not gone at the reap deadline: memory kept */
	int32_t kill_errno;	/* why pidfd_send_signal could not kill (then kill(2) tried), or 0 */
	int32_t has_pidfd;	/* CLONE_PIDFD worked; without it the wait polls */
	int32_t kill_fallback_errno;	/* why kill(2) could not kill either, or 0 */
};

/*
 * Called in the test process for each record as it arrives, while the sandbox still runs: a
 * body can wait (on a descriptor it keeps) until the caller has looked at it from outside.
 */
typedef void (*kabi_report_callback)(const struct kabi_report *report, void *context);

/*
 * Runs body(arg) in spec->levels nested user + PID namespaces and collects its records.
 * Returns 0 once the sandbox has exited and been reaped, or -errno if it could not start
 * (the first clone failed). Never leaves a process behind. on_report may be NULL.
 */
int kabi_sandbox_run(const struct kabi_sandbox_spec *spec, kabi_sandbox_body body,
		     const void *arg, struct kabi_report *reports, uint32_t max_reports,
		     kabi_report_callback on_report, void *context,
		     struct kabi_sandbox_outcome *outcome);

/* Sends one record describing the calling process (pid, uid, NSpid) plus tag, step and value. */
void kabi_report_self(const struct kabi_body_context *ctx, int32_t tag, int32_t step,
		      int64_t value);

/*
 * kabi_report_self and kabi_report_field for a process whose root shows no /proc (an empty mount
 * namespace): the NSpid comes from status, a path to its own status file that resolves without
 * it ("self/status" with its working directory a descriptor of /proc).
 */
void kabi_report_self_from(const struct kabi_body_context *ctx, int32_t tag, int32_t step,
			   int64_t value, const char *status);
void kabi_report_field_from(const struct kabi_body_context *ctx, int32_t step, const char *name,
			    int64_t value, const char *status);

/* The same for the calling thread: its TID as pid, and the NSpid of /proc/thread-self. */
void kabi_report_thread(const struct kabi_body_context *ctx, int32_t tag, int32_t step,
			int64_t value);

/* Sends a FIELD record: the body observed value, named name (at most 15 bytes). */
void kabi_report_field(const struct kabi_body_context *ctx, int32_t step, const char *name,
		       int64_t value);

/*
 * Sends a STATUS record: the numbers of line key ("NSsid", at most 15 bytes) of a status file
 * that kabi_read_lines read into text (len: its answer), with pid as the writer's and value.
 */
void kabi_report_line(const struct kabi_body_context *ctx, int32_t step, const char *text,
		      long len, const char *key, long pid, int64_t value);

/* A record of the calling process with a name: a program step's CALL or SETUP_FAILED. */
void kabi_report_named(const struct kabi_body_context *ctx, int32_t tag, int32_t step,
		       const char *name, int64_t value);

#endif
