/* Between the sandbox's parent side (sandbox.c) and its levels (sandbox_level.c). */
#ifndef CKERNELABI_SANDBOX_LEVEL_H
#define CKERNELABI_SANDBOX_LEVEL_H

#include "kabi_raw.h"
#include "kabi_sandbox.h"

/*
 * Sandbox levels share the test process's memory (CLONE_VM) and run on stacks of their own:
 * copying the address space of a large multithreaded test process costs several times more
 * than the whole round trip otherwise. They run C only and write to nothing but their stack.
 * The calls under test, made by bodies, still copy memory as the fixtures say.
 */
enum { LEVEL_STACK = 256 * 1024, BODY_SCRATCH = 512 * 1024 };

struct level_start {
	const struct kabi_sandbox_spec *spec;
	kabi_sandbox_body body;
	const void *arg;
	/*
	 * One slot per level, level 1 lowest, each an inaccessible guard page under its stack:
	 * an overflow at any level faults instead of running into the level below.
	 */
	char *stacks;
	unsigned long slot_bytes;
	char *scratch;		/* BODY_SCRATCH bytes for the innermost body, above a guard page */
	unsigned long outer_uid;
	unsigned long outer_gid;
	int level;
	int report_fd;
	int parent_fd;		/* the pipe's read end, closed at level 1 */
};

#if KABI_SANDBOX_SHARES_MEMORY
/*
 * clone(flags, stack) that runs fn(arg) on the new stack in the child and exit_groups with its
 * result; the parent gets the PID or -errno. glibc's clone() would do, but it sets errno,
 * which a level sharing the test thread's TLS must not touch.
 */
long kabi_clone_on_stack(unsigned long flags, void *stack_top, int *pidfd, int (*fn)(void *),
			 void *arg);
#endif

/* Starts level start->level on its stack slot; its PID, or -errno. pidfd may be NULL. */
long kabi_sandbox_clone_level(struct level_start *start, int *pidfd);

#endif
