/*
 * The one boundary between a fixture row and sandbox C: Swift turns the row into a program,
 * a few steps, each an operation by name with a word and numbers as arguments; an area's body
 * interprets the steps with its table of operations. Neither side knows the other's field
 * names beyond this struct. Results go back as records: a CALL per step (step
 * KABI_PROGRAM_FIRST_STEP + i, named by its operation) and FIELD records, named values.
 */
#ifndef CKERNELABI_KABI_PROGRAM_H
#define CKERNELABI_KABI_PROGRAM_H

#include <stdint.h>

#include "kabi_sandbox.h"

enum {
	KABI_PROGRAM_STEPS = 16,
	KABI_STEP_ARGS = 8,
	KABI_STEP_TEXT = 64,
	/* Records of program step i carry step KABI_PROGRAM_FIRST_STEP + i. */
	KABI_PROGRAM_FIRST_STEP = 1000,
	/* Returned by an operation that already reported SETUP_FAILED: the program stops. */
	KABI_STEP_ABORTED = -100000,
	/*
	 * Returned by an operation whose process ran the rest of the program in another one (a
	 * nested namespace's init): this process exits with the state's exit code.
	 */
	KABI_STEP_HANDED_OVER = -100001,
};

struct kabi_step {
	char op[KABI_NAME_MAX];		/* the operation, by name */
	char text[KABI_STEP_TEXT];	/* a word argument (a path), NUL-ended */
	int64_t args[KABI_STEP_ARGS];
	uint32_t setup;		/* a failure is the case's own setup failing, not its answer */
	uint32_t go_on;		/* the program goes on after this step fails (a retry follows) */
};

struct kabi_program {
	uint32_t count;
	uint32_t reserved;
	struct kabi_step steps[KABI_PROGRAM_STEPS];
};

/* Runs one step: the result (>= 0, or -errno); fields go out with kabi_report_field(step). */
typedef long (*kabi_op_run)(const struct kabi_body_context *ctx, int32_t step,
			    const struct kabi_step *s);

struct kabi_op {
	const char *name;
	kabi_op_run run;
};

/*
 * A running program. Operations get &state->ctx; kabi_program_state() gives them the rest: a
 * value a step keeps for a later one (a descriptor), and how to run the rest of the program in
 * another process.
 */
struct kabi_program_state {
	struct kabi_body_context ctx;	/* first: an operation's ctx is the state's */
	const struct kabi_op *ops;
	unsigned int op_count;
	int exit_code;			/* with KABI_STEP_HANDED_OVER */
	int64_t result[KABI_PROGRAM_STEPS];	/* result[i]: what step i returned */
	int64_t kept[KABI_PROGRAM_STEPS];	/* kept[i]: what step i left for later steps */
};

static inline struct kabi_program_state *kabi_program_state(const struct kabi_body_context *ctx)
{
	return (struct kabi_program_state *)ctx;
}

/*
 * Runs the program's steps from index first in the process state->ctx describes: a process that
 * took the rest of the program over calls it with its own copy of the state. Returns the exit
 * code.
 */
int kabi_program_resume(struct kabi_program_state *state, unsigned int first);

/*
 * Runs the program at ctx->arg with ops, then the operations every area has: unshare (args[0]
 * the flags), spawn (a child that blocks until the program ends; args[0] extra clone flags),
 * clone3 and thread (below). Each step reports CALL with its result; the program stops at the first
 * failure. A failed setup step, or an operation no table names, reports SETUP_FAILED instead.
 */
int kabi_run_program(const struct kabi_body_context *ctx, const struct kabi_op *ops,
		     unsigned int count);

/* A program of the common operations only. */
int kabi_body_program(const struct kabi_body_context *ctx);

/*
 * clone3: clone3(args[0] as the address of the clone_args bytes, args[1] as the size), once.
 * A child reports CHILD (value: its getppid()) and exits 0; its creator reaps it and reports
 * CHILD_EXIT with its wait status. The bytes may be deliberately bad. args[2] holds options
 * (below), args[3] a descriptor the child reads a byte from before it exits (+1; 0: none), so
 * the test process can look at it first, and args[4] a mask: bit i makes set_tid[i] an offset
 * from the caller's pid_max, read just before the call (reported as field pid_max). (bodies.c)
 */
long kabi_op_clone3(const struct kabi_body_context *ctx, int32_t step, const struct kabi_step *s);
enum kabi_clone3_option {
	/* The child reports its own pid_max as its CHILD value, not its parent. */
	KABI_CLONE3_CHILD_READS_PID_MAX = 1 << 0,
	/* A child of the caller makes the call (an init may not use CLONE_PARENT). */
	KABI_CLONE3_FROM_CHILD = 1 << 1,
	/*
	 * Field creatorView: 0 when the creator can open a pidfd for the returned PID in its own
	 * namespace (kill(pid, 0) where seccomp refuses pidfd_open), else -errno.
	 */
	KABI_CLONE3_CREATOR_VIEW = 1 << 2,
};

/*
 * thread: clone3(CLONE_VM|CLONE_FS|CLONE_FILES|CLONE_SIGHAND|CLONE_THREAD|CLONE_SYSVSEM|
 * CLONE_CHILD_CLEARTID | args[0]) with set_tid args[2 ...] (args[1] of them; none: NULL), on
 * the sandbox's scratch stack. The thread reports CHILD (pid: its gettid(), value: its
 * getpid(), NSpid of thread-self) and exits; the caller waits for that on the cleared TID word
 * and reports CHILD_EXIT 0. -ENOSYS where the build has no trampoline (threads.c).
 */
long kabi_op_thread(const struct kabi_body_context *ctx, int32_t step, const struct kabi_step *s);

/* Opens path read-only for a step; on failure reports SETUP_FAILED and returns -errno. */
long kabi_step_open(const struct kabi_body_context *ctx, int32_t step, const char *path);

/* nsfs ioctls (nsfs.c): nstype PATH, parent PATH. */
int kabi_body_nsfs(const struct kabi_body_context *ctx);
enum {
	KABI_NS_GET_USERNS = 0xb701,	/* _IO(NSIO, 0x1), 4.9 */
	KABI_NS_GET_PARENT = 0xb702,	/* _IO(NSIO, 0x2), 4.9 */
	KABI_NS_GET_NSTYPE = 0xb703,	/* _IO(NSIO, 0x3), 4.11 */
};
/* Apart: a value above INT_MAX would give the enum above another type. */
enum { KABI_NS_GET_PID_IN_PIDNS = 0x8004b708 };	/* _IOR(NSIO, 0x8, int), 6.11 */

/*
 * set_tid, ns_last_pid and pid_max preparation (settid.c): pid-namespaces N (nest N PID
 * namespaces below, the innermost runs the rest), fork-reap N, read PATH, write PATH VALUE,
 * own-file PATH INODE (-EXDEV if PATH is the file the test process has open as INODE: the
 * host's), blocker CLONE_ARGS (a clone3 child that holds its PIDs until released), release STEP
 * (ends the blocker step STEP made), drop-caps LO HI (capset: clear these effective and
 * permitted bits of capability words 0 and 1).
 */
int kabi_body_settid(const struct kabi_body_context *ctx);

/*
 * Who may choose a PID, create or join a PID namespace, and write its sysctls (capabilities.c):
 * userns, pidns, enter, hold, save, setns, capset, capget, open and write, on top of the common
 * operations; the caller reports its capability sets as fields before the call under test.
 */
int kabi_body_capabilities(const struct kabi_body_context *ctx);

#endif
