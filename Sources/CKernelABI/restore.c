#define _GNU_SOURCE
#include <errno.h>
#include <linux/futex.h>
#include <signal.h>
#include <sys/syscall.h>
#include <time.h>

#include "kabi_clone3.h"
#include "kabi_files.h"
#include "kabi_program.h"
#include "kabi_raw.h"
#include "kabi_syscalls.h"
#include "kabi_threads.h"
#include "kabi_tree.h"

/*
 * The tree restorer (kabi_tree.h): raw syscalls only, no malloc, no stdio, and no writes but to
 * the stacks and the plan's shared words. Every process and thread of the tree shares the body's
 * memory and runs here, on its own stack, until it exits; the plan's shared words order them.
 */

struct restorer {
	const struct kabi_body_context *ctx;
	struct kabi_tree_plan *plan;
	int32_t step;
	int32_t me;		/* this process's entry, or KABI_TREE_RESTORER */
};

/* What a new process or thread starts with, at the bottom of its stack slot. */
struct start {
	struct restorer *r;
	int32_t entry;
};

static int32_t load(const int32_t *word)
{
	return __atomic_load_n(word, __ATOMIC_ACQUIRE);
}

static void store_and_wake(int32_t *word, int32_t value)
{
	__atomic_store_n(word, value, __ATOMIC_RELEASE);
	kabi_sys(SYS_futex, word, FUTEX_WAKE, 0x7fffffff, 0, 0, 0);
}

/* Waits while *word is seen; a bounded wait, so a lost wake costs 100 ms, not the run. */
static void wait_while(int32_t *word, int32_t seen)
{
	struct timespec t;

	t.tv_sec = 0;
	t.tv_nsec = 100 * 1000 * 1000;
	kabi_sys(SYS_futex, word, FUTEX_WAIT, seen, &t, 0, 0);
}

static int done(struct kabi_tree_plan *plan, int32_t n)
{
	return n >= (int32_t)plan->count || load(&plan->failed);
}

/* Wakes the entry (or the restorer, KABI_TREE_RESTORER) waiting on its turn word. */
static void bump(struct kabi_tree_plan *plan, int32_t who)
{
	__atomic_add_fetch(&plan->turn[who + 1], 1, __ATOMIC_ACQ_REL);
	kabi_sys(SYS_futex, &plan->turn[who + 1], FUTEX_WAKE, 0x7fffffff, 0, 0, 0);
}

/*
 * Lets entry n be made next: only its creator is woken. Once every entry is made (or one
 * failed), everyone is, once.
 */
static void advance(struct kabi_tree_plan *plan, int32_t n)
{
	__atomic_store_n(&plan->next, n, __ATOMIC_RELEASE);
	if (n < (int32_t)plan->count && !load(&plan->failed)) {
		bump(plan, plan->entries[n].parent);
		return;
	}
	for (int32_t who = KABI_TREE_RESTORER; who < (int32_t)plan->count; who++)
		bump(plan, who);
}

static void fail(struct kabi_tree_plan *plan, int32_t entry, int32_t what, long error)
{
	plan->failed_entry = entry;
	plan->failed_what = what;
	plan->failed_errno = error;
	__atomic_store_n(&plan->failed, 1, __ATOMIC_RELEASE);
	advance(plan, load(&plan->next));
}

/* Waits until every entry is made or one failed. */
static void wait_all_made(struct kabi_tree_plan *plan, int32_t me)
{
	int32_t seen;

	while (seen = load(&plan->turn[me + 1]), !done(plan, load(&plan->next)))
		wait_while(&plan->turn[me + 1], seen);
}

static void serve(struct restorer *r);

/* Reports the entry's status lines, counts it as reported, and waits to be released. */
static void report_and_wait(struct restorer *r, int32_t entry, int thread)
{
	struct kabi_tree_plan *plan = r->plan;
	const char *status = thread ? "/proc/thread-self/status" : "/proc/self/status";
	long id = kabi_sys(thread ? SYS_gettid : SYS_getpid);

	static const char *const keys[KABI_TREE_PROCESS_RECORDS] = {
		"NSpid", "NStgid", "NSpgid", "NSsid", "PPid",
	};
	char text[4096];
	long len;

	if (!load(&plan->failed)) {
		/* One read, so that every line describes the same moment. */
		len = kabi_read_lines(status, text, sizeof(text));
		for (int i = 0; i < (thread ? KABI_TREE_THREAD_RECORDS : KABI_TREE_PROCESS_RECORDS); i++)
			kabi_report_line(r->ctx, r->step, text, len, keys[i], id, entry);
	}
	__atomic_add_fetch(&plan->reported, 1, __ATOMIC_ACQ_REL);
	kabi_sys(SYS_futex, &plan->reported, FUTEX_WAKE, 0x7fffffff, 0, 0, 0);
	while (!load(&plan->release))
		wait_while(&plan->release, 0);
}

static int thread_main(void *arg)
{
	const struct start *start = arg;
	struct kabi_tree_plan *plan = start->r->plan;

	advance(plan, start->entry + 1);
	wait_all_made(plan, start->entry);
	report_and_wait(start->r, start->entry, 1);
	return 0;
}

/* A new process of the tree: sets up its session and group, lets the next entry go, serves. */
static int become(void *arg)
{
	const struct start *start = arg;
	struct restorer *parent = start->r, r;
	int32_t entry = start->entry;
	const struct kabi_tree_entry *e = &parent->plan->entries[entry];
	long err = 0;

	r.ctx = parent->ctx;
	r.plan = parent->plan;
	r.step = parent->step;
	r.me = entry;
	if (e->setsid && (err = kabi_sys(SYS_setsid)) < 0)
		fail(r.plan, entry, KABI_TREE_FAILED_SETSID, err);
	else if (e->setpgid && (err = kabi_sys(SYS_setpgid, 0, e->pgid)) < 0)
		fail(r.plan, entry, KABI_TREE_FAILED_SETPGID, err);
	else
		advance(r.plan, entry + 1);
	serve(&r);
	report_and_wait(&r, entry, 0);
	kabi_sys(SYS_exit_group, 0);
	return 0;
}

/*
 * Makes entry n, one of this process's, on its stack slot: a thread (CLONE_THREAD), or a process
 * that shares the memory (CLONE_VM) but nothing else.
 */
static long make(struct restorer *r, int32_t n)
{
	const struct kabi_tree_entry *e = &r->plan->entries[n];
	char *slot = (char *)(uintptr_t)r->plan->stacks + (unsigned long)n * KABI_TREE_STACK;
	/* The start record sits at the bottom of the slot, above the guard page. */
	struct start *start = (struct start *)(slot + KABI_TREE_GUARD);
	struct kabi_clone_args a;

	start->r = r;
	start->entry = n;
	kabi_zero(&a, sizeof(a));
	a.set_tid = (uint64_t)(uintptr_t)e->set_tid;
	a.set_tid_size = (uint64_t)e->set_tid_size;
	a.stack = (uint64_t)(uintptr_t)(start + 1);
	a.stack_size = KABI_TREE_STACK - KABI_TREE_GUARD - sizeof(*start);
	if (e->thread) {
		a.flags = KABI_CLONE_VM | KABI_CLONE_FS | KABI_CLONE_FILES | KABI_CLONE_SIGHAND |
			  KABI_CLONE_THREAD | KABI_CLONE_SYSVSEM;
		return kabi_clone3_run(&a, sizeof(a), thread_main, start);
	}
	a.flags = KABI_CLONE_VM | (e->new_pid_ns ? KABI_CLONE_NEWPID : 0);
	a.exit_signal = SIGCHLD;
	return kabi_clone3_run(&a, sizeof(a), become, start);
}

/* Makes this process's entries as their turns come, until every entry is made or one failed. */
static void serve(struct restorer *r)
{
	struct kabi_tree_plan *plan = r->plan;
	int32_t n, seen;

	for (;;) {
		seen = load(&plan->turn[r->me + 1]);
		n = load(&plan->next);
		if (done(plan, n))
			return;
		if (plan->entries[n].parent == r->me && plan->result[n] == 0) {
			long made = make(r, n);

			plan->result[n] = made;
			if (made < 0) {
				fail(plan, n, KABI_TREE_FAILED_CLONE3, made);
				return;
			}
			continue;
		}
		wait_while(&plan->turn[r->me + 1], seen);
	}
}

/*
 * restore: makes the tree of the plan (a Fixtures/trees file, planned by the test process),
 * entry by entry: each entry's creator makes it with clone3 and its set_tid, a process then
 * calls setsid and setpgid as planned and makes its own entries in turn. Every process and
 * thread reports STATUS records (value: its entry) and waits; the restorer releases them once
 * all reported. Returns the number of entries, or the -errno of the one that failed (the plan's
 * failed_* words say which, and what it called).
 */
KABI_OP(op_restore, "restore", "clone3", { "tree", KABI_ARG_TREE, 0 })
{
	struct restorer r;
	struct kabi_tree_plan *plan = (struct kabi_tree_plan *)(uintptr_t)call->args[0];
	int32_t seen;

	r.ctx = call->ctx;
	r.plan = plan;
	r.step = call->step;
	r.me = KABI_TREE_RESTORER;
	serve(&r);
	while (!load(&plan->failed) && (seen = load(&plan->reported)) < (int32_t)plan->count)
		wait_while(&plan->reported, seen);
	store_and_wake(&plan->release, 1);
	return load(&plan->failed) ? plan->failed_errno : (long)plan->count;
}
