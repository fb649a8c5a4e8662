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
 *
 * scripts/bench also restores a tree by the older route (method KABI_TREE_NS_LAST_PID): before
 * each clone, for every level of the new entry, a process of that level's namespace (the
 * creator itself, or the namespace's init, asked through the plan's request word) writes the
 * entry's PID there minus one to ns_last_pid, which moves the cursor of the writer's own PID
 * namespace (kernel/pid_namespace.c pid_ns_ctl_handler()); then a clone3 without set_tid. Only
 * the tree's own namespaces are written, never the restorer's. With noise, the tree's root
 * starts processes that fork without pause in the tree's outermost namespace while the rest is
 * made; set_tid then retries a clone3 that failed with EEXIST (a noise child held the PID).
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
	/* Noise processes at most; each has a stack slot after the entries', and its child one. */
	KABI_TREE_NOISE_MAX = 4,
	/* writer[i] of a level whose namespace the entry itself makes (it is PID 1 there). */
	KABI_TREE_NO_WRITER = -2,
	/* set_tid's clone3 tries per entry beside noise, EEXIST after EEXIST. */
	KABI_TREE_EEXIST_TRIES = 100000,
};

/* How entries get their PIDs, in plan.method. */
enum kabi_tree_method {
	KABI_TREE_SET_TID = 0,		/* clone3 with set_tid, every level at once */
	KABI_TREE_NS_LAST_PID = 1,	/* ns_last_pid at each level, then clone3 without set_tid */
};

/* What failed, in plan.failed_what. */
enum kabi_tree_failure {
	KABI_TREE_FAILED_CLONE3 = 1,
	KABI_TREE_FAILED_SETSID = 2,
	KABI_TREE_FAILED_SETPGID = 3,
	KABI_TREE_FAILED_NS_LAST_PID = 4,
	KABI_TREE_FAILED_NOISE = 5,
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
	/*
	 * With KABI_TREE_NS_LAST_PID, per level as set_tid (innermost first): the entry that
	 * writes set_tid[i] - 1 to its namespace's ns_last_pid, a process of that namespace (the
	 * creator, or the namespace's init), or KABI_TREE_NO_WRITER.
	 */
	int32_t writer[KABI_TREE_LEVELS];
};

struct kabi_tree_plan {
	uint32_t count;
	uint32_t reserved;
	/*
	 * count + 2 * KABI_TREE_NOISE_MAX slots of KABI_TREE_STACK bytes: entry i runs on slot i,
	 * above its guard page, noise process k on slot count + k, its child on slot
	 * count + KABI_TREE_NOISE_MAX + k.
	 */
	uint64_t stacks;
	/* Written by the tree's processes while it is restored (the mapping is shared). */
	int32_t next;		/* the entry made next; count once all are made */
	int32_t release;	/* futex: 1 tells every process and thread to exit */
	int32_t reported;	/* futex: entries that sent their records */
	int32_t failed;		/* 1: an entry could not be made or set up */
	int32_t failed_entry;
	int32_t failed_what;	/* enum kabi_tree_failure */
	int64_t failed_errno;	/* -errno */
	/* Set by the restore operation: enum kabi_tree_method, and noise processes to start. */
	int32_t method;
	int32_t noise;
	/* The noise processes' PIDs in the tree's outermost namespace, which no entry has. */
	int32_t noise_pid[KABI_TREE_NOISE_MAX];
	/* futex: the entry asked to write request_value to ns_last_pid, or KABI_TREE_NO_WRITER. */
	int32_t request;
	int32_t request_value;
	int64_t request_result;
	/*
	 * For scripts/bench: clone3 retries after EEXIST, and setsid or setpgid calls that failed
	 * on the ns_last_pid route (a leader at another PID), which that route goes on after.
	 */
	int64_t eexist;
	int64_t loose;
	/* CLOCK_MONOTONIC when the restore began and when its last entry was made. */
	int64_t started_ns;
	int64_t made_ns;
	int64_t result[KABI_TREE_ENTRIES];	/* what clone3 returned to each entry's creator */
	/*
	 * Futexes, one per entry (index entry + 1; 0 is the restorer's): bumped when it is that
	 * one's turn to make the next entry, and for every one once all are made or one failed.
	 */
	int32_t turn[KABI_TREE_ENTRIES + 1];
	struct kabi_tree_entry entries[KABI_TREE_ENTRIES];
};

/*
 * In the test process: maps a plan for count entries, shared with the tree's processes, and its
 * stack slots, each above a guard page (plan.stacks); sets count and stacks. 0 and *plan, or
 * -errno with nothing left mapped. Raw syscalls, as restore.c links nothing from libc.
 */
long kabi_tree_map(uint32_t count, struct kabi_tree_plan **plan);
/* Unmaps a plan of kabi_tree_map and its stacks. */
void kabi_tree_unmap(struct kabi_tree_plan *plan);

#endif
