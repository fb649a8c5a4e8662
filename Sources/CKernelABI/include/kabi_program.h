/*
 * The one boundary between a fixture row and sandbox C: Swift turns the row into a program of a
 * few steps, each an operation by name with its arguments already placed in numbered slots (and
 * one word, a path); the interpreter runs the steps in the sandbox. Operations register
 * themselves where they are defined (KABI_OP), with the syscall they make and the named
 * parameters they take, and the test process reads that registry to compile a table's named
 * arguments: a new operation is one function in its own file, and no list elsewhere names it.
 *
 * Results go back as records: a CALL per step (step KABI_PROGRAM_FIRST_STEP + i, named by its
 * operation) and FIELD records, named values.
 */
#ifndef CKERNELABI_KABI_PROGRAM_H
#define CKERNELABI_KABI_PROGRAM_H

#include <stddef.h>
#include <stdint.h>

#include "kabi_sandbox.h"

enum {
	KABI_PROGRAM_STEPS = 16,
	KABI_STEP_ARGS = 8,
	KABI_STEP_TEXT = 64,
	KABI_OP_PARAMS = 8,
	/* Values one step leaves for later ones by name (a descriptor, a PID). */
	KABI_STEP_KEPT = 4,
	/* Records of program step i carry step KABI_PROGRAM_FIRST_STEP + i. */
	KABI_PROGRAM_FIRST_STEP = 1000,
	/* Returned by an operation that already reported SETUP_FAILED: the program stops. */
	KABI_STEP_ABORTED = -100000,
	/*
	 * Returned by an operation whose process ran the rest of the program in another one (a
	 * nested namespace's init): this process exits with the state's exit code.
	 */
	KABI_STEP_HANDED_OVER = -100001,
	/* ref_step of a slot that holds its own value. */
	KABI_REF_NONE = -1,
};

/*
 * How the test process turns a named argument of a table into slots. Every kind but PATH takes
 * the slots from param.slot on; a number may also be "@label" (what the step labelled so
 * returned) or "@label.name" (what it kept as name), resolved when the step runs.
 */
enum kabi_arg_kind {
	KABI_ARG_NUMBER = 1,		/* one slot */
	KABI_ARG_FLAGS = 2,		/* one slot: CLONE_* names, ORed */
	KABI_ARG_SIGNAL = 3,		/* one slot: "SIGKILL", or a number */
	KABI_ARG_PATH = 4,		/* the step's text */
	KABI_ARG_CAPS = 5,		/* three slots: effective, permitted, inheritable (libcap text) */
	KABI_ARG_CLONE_ARGS = 6,	/* three slots: address, size, pid_max-relative set_tid mask */
	KABI_ARG_PIDS = 7,		/* two slots: count, address of the int32_t array */
	KABI_ARG_CAP_NAMES = 8,		/* one slot: a mask (bit n: capability n) of libcap names */
	KABI_ARG_TREE = 9,		/* one slot: a struct kabi_tree_plan, from Fixtures/trees/NAME.json */
};

struct kabi_param {
	const char *name;
	int32_t kind;		/* enum kabi_arg_kind */
	int32_t slot;		/* the first slot it fills */
	int64_t absent;		/* the first slot's value when a table does not give it */
	/* Another syscall a step makes when a table gives it, whose refusal explains a failure. */
	const char *syscall;
};

struct kabi_step {
	char op[KABI_NAME_MAX];		/* the operation, by name */
	char text[KABI_STEP_TEXT];	/* the PATH argument, NUL-ended */
	int64_t args[KABI_STEP_ARGS];
	/* Slot i is what step ref_step[i] returned ("") or kept (its name); KABI_REF_NONE: args[i]. */
	int8_t ref_step[KABI_STEP_ARGS];
	char ref_name[KABI_STEP_ARGS][KABI_NAME_MAX];
	uint32_t setup;		/* a failure is the case's own setup failing, not its answer */
	uint32_t go_on;		/* the program goes on after this step fails (a retry follows) */
};

struct kabi_program {
	uint32_t count;
	uint32_t reserved;
	struct kabi_step steps[KABI_PROGRAM_STEPS];
};

struct kabi_kept {
	char name[KABI_NAME_MAX];
	int64_t value;
};

/* A running program: copied whole into a process that takes the rest of it over. */
struct kabi_program_state {
	struct kabi_body_context ctx;
	int exit_code;			/* with KABI_STEP_HANDED_OVER */
	int64_t result[KABI_PROGRAM_STEPS];	/* result[i]: what step i returned */
	struct kabi_kept kept[KABI_PROGRAM_STEPS][KABI_STEP_KEPT];
};

/* One step being run: what its operation gets. */
struct kabi_call {
	struct kabi_program_state *state;
	const struct kabi_body_context *ctx;	/* &state->ctx: where records go */
	int32_t step;				/* the records' step */
	unsigned int index;			/* the step's index in the program */
	const char *op;
	const char *text;
	int64_t args[KABI_STEP_ARGS];		/* references resolved */
};

typedef long (*kabi_op_run)(struct kabi_call *call);

struct kabi_op {
	const char *name;
	/* The syscall whose refusal (seccomp) would explain a failure; NULL for none. */
	const char *syscall;
	kabi_op_run run;
	struct kabi_param params[KABI_OP_PARAMS];
	/*
	 * Why this machine cannot run it (a program using it SKIPs), or NULL: a constant, or a
	 * reason written to buf (len bytes). Called in the test process (kabi_op_unmet_need).
	 */
	const char *(*need)(char *buf, size_t len);
	/* The reason a program using it SKIPs where the build has no thread trampoline. */
	const char *needs_trampoline;
	/* The CHILD it reports is a thread of the step's caller: its value is the caller's pid. */
	int32_t makes_thread;
	/*
	 * The signal that may end the CHILD it reports instead of a clean exit, when ending it is
	 * the effect under test; 0: none.
	 */
	int32_t child_killed_by;
	/* What of the body's scratch memory it uses (enum kabi_scratch_use). */
	int32_t scratch;
};

/*
 * The body's scratch memory (struct kabi_body_context) is one region: processes and threads
 * that share the body's memory run on stacks in it. An operation that uses it during its step
 * only may follow another; one whose processes go on running on it for the rest of the program
 * may be followed by none that uses it (the program compiler refuses such a program), as their
 * stacks would overlap the live ones.
 */
enum kabi_scratch_use {
	KABI_SCRATCH_NONE = 0,
	KABI_SCRATCH_STEP = 1,	/* during the step only */
	KABI_SCRATCH_HELD = 2,	/* for the rest of the program */
};

/*
 * Defines operation function, named op_name in tables, which makes syscall_name, with its
 * parameters ({ "path", KABI_ARG_PATH }, { "flags", KABI_ARG_FLAGS, 0 }, ...); the function's
 * body follows the macro:
 *
 *	KABI_OP(op_nstype, "nstype", "ioctl", { "path", KABI_ARG_PATH })
 *	{
 *		...
 *	}
 *
 * The entry goes to the kabi_ops section, which the interpreter and the test process walk.
 * KABI_OP_WITH first takes the operation's other facts, fields of struct kabi_op in
 * parentheses: KABI_OP_WITH((.need = core_dump_need), op_dumped_core, "dumped-core", ...).
 */
#define KABI_UNPARENTHESIZED(...) __VA_ARGS__
#define KABI_OP(function, op_name, syscall_name, ...)                                         \
	KABI_OP_WITH((), function, op_name, syscall_name, __VA_ARGS__)
#define KABI_OP_WITH(facts, function, op_name, syscall_name, ...)                             \
	_Static_assert(sizeof(op_name) <= KABI_NAME_MAX,                                       \
		       "an operation's name fits kabi_step.op with its NUL: at most 15 bytes");  \
	static long function(struct kabi_call *call);                                          \
	__attribute__((used, section("kabi_ops"), aligned(8))) static const struct kabi_op     \
		function##_entry = { .name = op_name, .syscall = syscall_name, .run = function, \
				     .params = { __VA_ARGS__ }, KABI_UNPARENTHESIZED facts };    \
	static long function(struct kabi_call *call)

/* The registered operations, in no particular order. */
unsigned int kabi_op_count(void);
const struct kabi_op *kabi_op_at(unsigned int index);

/* Why a program may not use op here (it SKIPs), or NULL: the trampoline it lacks, or its need. */
const char *kabi_op_unmet_need(const struct kabi_op *op, char *buf, size_t len);

/* Leaves value under name for later steps ("@label.name"); -ENOSPC when the step has no room. */
long kabi_keep(struct kabi_call *call, const char *name, int64_t value);

/*
 * Reports a SETUP_FAILED record naming what failed (in words, at most 127 bytes), and returns
 * KABI_STEP_ABORTED.
 */
long kabi_setup_failed(struct kabi_call *call, const char *what, long error);

/* Opens path read-only for a step; on failure reports SETUP_FAILED and returns -errno. */
long kabi_step_open(struct kabi_call *call, const char *path);

/*
 * Runs the program's steps from index first in the process state->ctx describes: a process that
 * took the rest of the program over calls it with its own copy of the state. Each step reports
 * CALL with its result; the program stops at the first failure unless the step may go on. A
 * failed setup step, an operation nobody registered or a reference to nothing reports
 * SETUP_FAILED instead. Returns the exit code.
 */
int kabi_program_resume(struct kabi_program_state *state, unsigned int first);

/* The sandbox body of every table: runs the program at ctx->arg. */
int kabi_body_program(const struct kabi_body_context *ctx);

/* The slots of clone3's named options, after its clone_args (0 to 2). */
enum kabi_clone3_slot {
	KABI_CLONE3_FROM_CHILD = 3,
	KABI_CLONE3_HOLD = 4,
	KABI_CLONE3_CHILD_READS_PID_MAX = 5,
	KABI_CLONE3_CREATOR_VIEW = 6,
};

#endif
