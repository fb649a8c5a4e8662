/* Between the sandbox's parent side (sandbox.c) and its levels (sandbox_level.c). */
#ifndef CKERNELABI_SANDBOX_LEVEL_H
#define CKERNELABI_SANDBOX_LEVEL_H

#include "kabi_sandbox.h"

/*
 * Sandbox levels share the test process's memory (CLONE_VM) and run on stacks of their own:
 * copying the address space of a large multithreaded test process costs several times more
 * than the whole round trip otherwise. They run C only and write to nothing but their stack.
 * The calls under test, made by bodies, still copy memory as the fixtures say.
 */
enum { LEVEL_STACK = 256 * 1024 };

struct level_start {
	const struct kabi_sandbox_spec *spec;
	kabi_sandbox_body body;
	const void *arg;
	char *stacks;		/* one LEVEL_STACK slot per level, level 1 lowest */
	unsigned long outer_uid;
	unsigned long outer_gid;
	int level;
	int report_fd;
	int parent_fd;		/* the pipe's read end, closed at level 1 */
};

/* Starts level start->level on its stack slot; its PID, or -errno. pidfd may be NULL. */
long kabi_sandbox_clone_level(struct level_start *start, int *pidfd);

#endif
