/*
 * set_tid, ns_last_pid and per-namespace pid_max scenarios, run as sandbox bodies.
 * One scenario: optional preparation steps, optional blocker process, the call under test,
 * and optionally the same call again once the blocker is gone.
 */
#ifndef CKERNELABI_KABI_SETTID_H
#define CKERNELABI_KABI_SETTID_H

#include <stdint.h>

#include "kabi_sandbox.h"

/* What the scenario calls. */
enum kabi_settid_kind {
	KABI_SETTID_CLONE3 = 0,		/* clone3(flags, set_tid) */
	KABI_SETTID_UNSHARE = 1,	/* unshare(flags) */
	KABI_SETTID_READ_NS_LAST_PID = 2,
	KABI_SETTID_WRITE_NS_LAST_PID = 3,	/* writes value */
	KABI_SETTID_READ_PID_MAX = 4,
	KABI_SETTID_WRITE_PID_MAX = 5,	/* writes value */
};

/* Where set_tid points. */
enum kabi_settid_array {
	KABI_SETTID_INLINE = 0,		/* the tids below */
	KABI_SETTID_NULL = 1,
	KABI_SETTID_ADDRESS = 2,	/* address, e.g. an inaccessible page */
};

/* Preparation steps, run in this order before the call. */
enum kabi_settid_prepare {
	KABI_PREP_UNSHARE_PID = 1 << 0,		/* children go to a PID namespace with no init */
	KABI_PREP_UNSHARE_USER = 1 << 1,	/* no capability over the levels made so far */
	KABI_PREP_DROP_CAPS = 1 << 2,		/* capset: drop CAP_SYS_ADMIN, CAP_CHECKPOINT_RESTORE */
	KABI_PREP_KEEP_CR = 1 << 3,		/* ... but keep CAP_CHECKPOINT_RESTORE */
	KABI_PREP_FROM_CHILD = 1 << 4,		/* a child of the body (not an init) makes the call */
};

/* What the new process reports as its CHILD record's value. */
enum kabi_settid_child_reads {
	KABI_CHILD_READS_PPID = 0,
	KABI_CHILD_READS_PID_MAX = 1,
};

/* Body steps that can fail during preparation (SETUP_FAILED step). */
enum kabi_settid_step {
	KABI_SETTID_STEP_UNSHARE_PID = 101,
	KABI_SETTID_STEP_UNSHARE_USER = 102,
	KABI_SETTID_STEP_CAPSET = 103,
	KABI_SETTID_STEP_PID_MAX = 104,
	KABI_SETTID_STEP_NS_LAST_PID = 105,
	KABI_SETTID_STEP_SPAWN = 106,
	KABI_SETTID_STEP_BLOCKER = 107,
	KABI_SETTID_STEP_HELPER = 108,
	KABI_SETTID_STEP_READ_PID_MAX = 109,
	KABI_SETTID_STEP_CHAIN = 110,
	KABI_SETTID_STEP_HOST_PID_MAX = 111,	/* pid_max here is the host's: never written */
};

/* Record steps of the scenario's own CALL / CHILD / CHILD_EXIT records. */
enum kabi_settid_report_step {
	KABI_SETTID_FIRST = 0,		/* the call under test */
	KABI_SETTID_RETRY = 1,		/* the same call once the blocker is gone */
	KABI_SETTID_PIDFD = 2,		/* CALL: pidfd_open(returned pid) in the creator's namespace
					   (kill(pid, 0) where seccomp refuses pidfd_open) */
	KABI_SETTID_PID_MAX_READ = 3,	/* CALL: the body's pid_max, read before the call */
	KABI_SETTID_READ_BACK = 4,	/* CALL: the sysctl read back after a successful write */
};

struct kabi_settid_scenario {
	uint64_t flags;			/* clone3 or unshare flags */
	uint64_t address;		/* set_tid for KABI_SETTID_ADDRESS */
	uint64_t blocker_flags;		/* clone3 flags of the blocker */
	int64_t value;			/* value written by the WRITE kinds */
	int32_t kind;			/* enum kabi_settid_kind */
	int32_t array;			/* enum kabi_settid_array */
	int32_t tids[KABI_MAX_PID_NS_LEVEL + 1];
	uint32_t tid_count;		/* set_tid_size */
	uint32_t pid_max_relative;	/* bit i: tids[i] is an offset from the body's pid_max */
	uint32_t prepare;		/* enum kabi_settid_prepare */
	int32_t write_pid_max;		/* > 0: written to pid_max before the call */
	int32_t write_ns_last_pid;	/* >= 0: written to ns_last_pid before the call (last step) */
	uint32_t spawn_before;		/* automatic children made and reaped before the call */
	int32_t blocker[KABI_MAX_PID_NS_LEVEL + 1];	/* set_tid of a holder kept alive */
	uint32_t blocker_count;		/* 0: no blocker */
	uint32_t retry;			/* release the blocker, then make the same call again */
	int32_t hold_fd;		/* >= 0: the first child reads a byte from it before exiting */
	int32_t child_reads;		/* enum kabi_settid_child_reads */
	uint32_t pid_chain;		/* PID-only namespaces nested below the body first */
	uint32_t reserved;
	/*
	 * st_ino of /proc/sys/kernel/pid_max as the test process sees it (it keeps the file open
	 * meanwhile). Before 6.14 one table serves every PID namespace and the sandbox, mapped to
	 * the caller's uid, could write the host's pid_max as real root: a scenario that writes
	 * pid_max first checks that its file is another one.
	 */
	uint64_t host_pid_max_ino;
};

_Static_assert(sizeof(struct kabi_settid_scenario) % 8 == 0, "no trailing padding");

/*
 * Runs one scenario (ctx->arg is a struct kabi_settid_scenario). With pid_chain, the body first
 * nests that many PID namespaces (CLONE_NEWPID only, so its user namespace owns them all and it
 * may choose PIDs in every one); each new init reports LEVEL_READY and the innermost runs the
 * scenario.
 */
int kabi_body_settid(const struct kabi_body_context *ctx);

/* Reports CALL with st_ino of /proc/sys/kernel/pid_max as this PID namespace sees it. */
int kabi_body_pid_max_inode(const struct kabi_body_context *ctx);

/* ioctl(nsfd, NS_GET_PID_IN_PIDNS, pid): pid translated into nsfd's namespace, or -errno. */
long kabi_ns_get_pid_in_pidns(int nsfd, int pid);

#endif
