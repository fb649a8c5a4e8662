/*
 * Whole process trees restored with chosen PIDs (restore.c): the test process plans the tree
 * (ConformanceSupport's TreeRestore.swift) into a struct kabi_tree_plan in memory mapped
 * MAP_SHARED, and the restore operation makes it. Entries are made one at a time in plan order,
 * each by its own creator (an earlier entry, or the restorer itself); every process then reports
 * the lines NSpid, NStgid, NSpgid, NSsid and PPid of its status file, every thread NSpid and
 * NStgid of its own, and all wait until the restorer tells them to exit, so that all are alive
 * while they are read.
 *
 * Like the sandbox levels, the tree's processes share the test process's memory (CLONE_VM, on
 * stacks of their own, one slot per entry above a guard page, which the test process maps):
 * copying the address space of the large test process for each of 60 processes cost most of
 * the restore's time. They write nothing but their stacks and the plan's shared words.
 */
#ifndef CKERNELABI_KABI_TREE_H
#define CKERNELABI_KABI_TREE_H

#include <stdint.h>

enum {
	KABI_TREE_ENTRIES = 128,
	/* PID-namespace levels a tree may span, its own outermost included. */
	KABI_TREE_LEVELS = 8,
	/* Each entry's stack slot, a guard page at its bottom included. */
	KABI_TREE_STACK = 64 * 1024,
	KABI_TREE_GUARD = 4096,
	/* parent of an entry the restorer (the body) makes itself. */
	KABI_TREE_RESTORER = -1,
	/* Records each process and each thread sends. */
	KABI_TREE_PROCESS_RECORDS = 5,
	KABI_TREE_THREAD_RECORDS = 2,
};

/* What failed, in plan.failed_what. */
enum kabi_tree_failure {
	KABI_TREE_FAILED_CLONE3 = 1,
	KABI_TREE_FAILED_SETSID = 2,
	KABI_TREE_FAILED_SETPGID = 3,
};

struct kabi_tree_entry {
	int32_t parent;		/* the entry that makes this one, or KABI_TREE_RESTORER */
	int32_t thread;		/* 1: a thread of parent (CLONE_THREAD) */
	int32_t new_pid_ns;	/* cloned with CLONE_NEWPID: PID 1 of a namespace one level down */
	int32_t set_tid_size;
	int32_t set_tid[KABI_TREE_LEVELS];	/* innermost level first, as clone3 takes it */
	int32_t setsid;		/* calls setsid() first: leads a session (and its group) */
	int32_t setpgid;	/* then calls setpgid(0, pgid) */
	int32_t pgid;		/* 0: its own group; else the leader's PID in its own namespace */
};

struct kabi_tree_plan {
	uint32_t count;
	uint32_t reserved;
	/* count slots of KABI_TREE_STACK bytes: entry i runs on slot i, above its guard page. */
	uint64_t stacks;
	/* Written by the tree's processes while it is restored (the mapping is shared). */
	int32_t next;		/* the entry made next; count once all are made */
	int32_t release;	/* futex: 1 tells every process and thread to exit */
	int32_t reported;	/* futex: entries that sent their records */
	int32_t failed;		/* 1: an entry could not be made or set up */
	int32_t failed_entry;
	int32_t failed_what;	/* enum kabi_tree_failure */
	int64_t failed_errno;	/* -errno */
	int64_t result[KABI_TREE_ENTRIES];	/* what clone3 returned to each entry's creator */
	/*
	 * Futexes, one per entry (index entry + 1; 0 is the restorer's): bumped when it is that
	 * one's turn to make the next entry, and for every one once all are made or one failed.
	 */
	int32_t turn[KABI_TREE_ENTRIES + 1];
	struct kabi_tree_entry entries[KABI_TREE_ENTRIES];
};

#endif
