#define _GNU_SOURCE
#include <errno.h>
#include <linux/futex.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/prctl.h>
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

static int64_t now_ns(void)
{
	struct timespec ts;

	kabi_sys(SYS_clock_gettime, CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
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
	if (n >= (int32_t)plan->count && !load(&plan->failed) && !plan->made_ns)
		plan->made_ns = now_ns();
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

static char *slot_of(const struct kabi_tree_plan *plan, uint32_t n)
{
	return (char *)(uintptr_t)plan->stacks + (unsigned long)n * KABI_TREE_STACK;
}

/* The stacks' bytes: the entries' slots, then the noise processes' and their children's. */
static size_t stacks_size(uint32_t count)
{
	return (size_t)(count + 2 * KABI_TREE_NOISE_MAX) * KABI_TREE_STACK;
}

/* In the test process, before the sandbox starts (kabi_tree.h). */
long kabi_tree_map(uint32_t count, struct kabi_tree_plan **out)
{
	struct kabi_tree_plan *plan;
	long mapped, stacks, err = 0;

	mapped = kabi_sys(SYS_mmap, 0, sizeof(*plan), PROT_READ | PROT_WRITE,
			  MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (mapped < 0 && mapped > -4096)
		return mapped;
	stacks = kabi_sys(SYS_mmap, 0, stacks_size(count), PROT_NONE,
			  MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_STACK, -1, 0);
	if (stacks < 0 && stacks > -4096) {
		kabi_sys(SYS_munmap, mapped, sizeof(*plan));
		return stacks;
	}
	plan = (struct kabi_tree_plan *)mapped;
	plan->count = count;
	plan->stacks = (uint64_t)stacks;
	for (uint32_t n = 0; n < count + 2 * KABI_TREE_NOISE_MAX && !err; n++)
		err = kabi_sys(SYS_mprotect, slot_of(plan, n) + KABI_TREE_GUARD,
			       KABI_TREE_STACK - KABI_TREE_GUARD, PROT_READ | PROT_WRITE);
	if (err)
		kabi_tree_unmap(plan);
	else
		*out = plan;
	return err;
}

void kabi_tree_unmap(struct kabi_tree_plan *plan)
{
	kabi_sys(SYS_munmap, plan->stacks, stacks_size(plan->count));
	kabi_sys(SYS_munmap, plan, sizeof(*plan));
}

/* A CLONE_VM process on stack slot n, at PID *pid of its namespace if pid; its PID or -errno. */
static long on_slot(struct kabi_tree_plan *plan, uint32_t n, int32_t *pid,
		    int (*fn)(void *), void *arg)
{
	return kabi_clone_vm_run(slot_of(plan, n) + KABI_TREE_GUARD, KABI_TREE_STACK - KABI_TREE_GUARD,
				 pid, fn, arg);
}

/*
 * A noise process: makes and reaps processes without pause, each at the namespace's next PID,
 * until every entry is made (or one failed), or its parent, the tree's root, dies.
 */
static int noise(void *arg)
{
	struct kabi_tree_plan *plan = arg;
	long me = kabi_sys(SYS_getpid);
	uint32_t k = 0;
	siginfo_t info;

	kabi_sys(SYS_prctl, PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
	while (k < KABI_TREE_NOISE_MAX && plan->noise_pid[k] != me)
		k++;
	if (k == KABI_TREE_NOISE_MAX)
		return 1;
	while (!done(plan, load(&plan->next))) {
		uint32_t slot = plan->count + KABI_TREE_NOISE_MAX + k;
		long child = on_slot(plan, slot, 0, kabi_exit_at_once, 0);

		if (child > 0)
			kabi_reap(child, &info);
	}
	return 0;
}

/* The root starts the plan's noise processes in the tree's outermost namespace. */
static long start_noise(struct kabi_tree_plan *plan)
{
	for (int32_t k = 0; k < plan->noise; k++) {
		long r = on_slot(plan, plan->count + (uint32_t)k, &plan->noise_pid[k], noise, plan);

		if (r < 0)
			return r;
	}
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
	if (e->parent == KABI_TREE_RESTORER && (err = start_noise(r.plan)) < 0) {
		fail(r.plan, entry, KABI_TREE_FAILED_NOISE, err);
	} else if ((e->setsid && (err = kabi_sys(SYS_setsid)) < 0) ||
		   (e->setpgid && (err = kabi_sys(SYS_setpgid, 0, e->pgid)) < 0)) {
		/* The older route goes on: a leader it placed at another PID is its count. */
		if (r.plan->method == KABI_TREE_NS_LAST_PID) {
			__atomic_add_fetch(&r.plan->loose, 1, __ATOMIC_ACQ_REL);
			advance(r.plan, entry + 1);
		} else {
			fail(r.plan, entry, e->setsid ? KABI_TREE_FAILED_SETSID :
				KABI_TREE_FAILED_SETPGID, err);
		}
	} else {
		advance(r.plan, entry + 1);
	}
	serve(&r);
	report_and_wait(&r, entry, 0);
	kabi_sys(SYS_exit_group, 0);
	return 0;
}

static long write_ns_last_pid(int32_t value)
{
	return kabi_write_int("/proc/sys/kernel/ns_last_pid", value);
}

/*
 * The older route's first half for entry n: at every level, the writer (this process, or a
 * process of that namespace, asked through plan.request) writes the PID there minus one to its
 * namespace's ns_last_pid. Returns 0 or the -errno of a write.
 */
static long move_cursors(struct restorer *r, int32_t n)
{
	struct kabi_tree_plan *plan = r->plan;
	const struct kabi_tree_entry *e = &plan->entries[n];

	for (int32_t i = 0; i < e->set_tid_size; i++) {
		int32_t w = e->writer[i];
		long done_write;

		if (w == KABI_TREE_NO_WRITER)
			continue;
		/* Never the restorer: its namespace is the case's, outside the tree. */
		if (w < 0 || w >= (int32_t)plan->count || plan->entries[w].thread)
			return -EINVAL;
		if (w == r->me) {
			done_write = write_ns_last_pid(e->set_tid[i] - 1);
		} else {
			plan->request_value = e->set_tid[i] - 1;
			__atomic_store_n(&plan->request, w, __ATOMIC_RELEASE);
			bump(plan, w);
			while (load(&plan->request) == w && !load(&plan->failed))
				wait_while(&plan->request, w);
			done_write = load(&plan->failed) ? -ECANCELED : plan->request_result;
		}
		if (done_write < 0)
			return done_write;
	}
	return 0;
}

/* Answers a request to write ns_last_pid in this process's namespace, if one is for it. */
static void answer_request(struct restorer *r)
{
	struct kabi_tree_plan *plan = r->plan;

	if (r->me < 0 || load(&plan->request) != r->me)
		return;
	plan->request_result = write_ns_last_pid(plan->request_value);
	store_and_wake(&plan->request, KABI_TREE_NO_WRITER);
}

/*
 * Makes entry n, one of this process's, on its stack slot: a thread (CLONE_THREAD), or a process
 * that shares the memory (CLONE_VM) but nothing else.
 */
static long make(struct restorer *r, int32_t n)
{
	const struct kabi_tree_entry *e = &r->plan->entries[n];
	struct kabi_tree_plan *plan = r->plan;
	/* The start record sits at the bottom of the slot, above the guard page. */
	struct start *start = (struct start *)(slot_of(plan, (uint32_t)n) + KABI_TREE_GUARD);
	int (*fn)(void *) = e->thread ? thread_main : become;
	struct kabi_clone_args a;
	long made, tries = 0;

	start->r = r;
	start->entry = n;
	kabi_zero(&a, sizeof(a));
	if (plan->method == KABI_TREE_NS_LAST_PID) {
		made = move_cursors(r, n);
		if (made < 0) {
			fail(plan, n, KABI_TREE_FAILED_NS_LAST_PID, made);
			return 0;
		}
	} else {
		a.set_tid = (uint64_t)(uintptr_t)e->set_tid;
		a.set_tid_size = (uint64_t)e->set_tid_size;
	}
	a.stack = (uint64_t)(uintptr_t)(start + 1);
	a.stack_size = KABI_TREE_STACK - KABI_TREE_GUARD - sizeof(*start);
	if (e->thread) {
		a.flags = KABI_CLONE_VM | KABI_CLONE_FS | KABI_CLONE_FILES | KABI_CLONE_SIGHAND |
			  KABI_CLONE_THREAD | KABI_CLONE_SYSVSEM;
	} else {
		a.flags = KABI_CLONE_VM | (e->new_pid_ns ? KABI_CLONE_NEWPID : 0);
		a.exit_signal = SIGCHLD;
	}
	/* Beside noise, a noise child may hold the PID for a moment: set_tid tries again. */
	while ((made = kabi_clone3_run(&a, sizeof(a), fn, start)) == -EEXIST && plan->noise &&
	       plan->method == KABI_TREE_SET_TID && ++tries < KABI_TREE_EEXIST_TRIES)
		__atomic_add_fetch(&plan->eexist, 1, __ATOMIC_ACQ_REL);
	return made;
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
		answer_request(r);
		if (plan->entries[n].parent == r->me && plan->result[n] == 0) {
			long made = make(r, n);

			plan->result[n] = made;
			if (made < 0)
				fail(plan, n, KABI_TREE_FAILED_CLONE3, made);
			if (made <= 0)
				return;
			continue;
		}
		if (load(&plan->request) == r->me)
			continue;
		wait_while(&plan->turn[r->me + 1], seen);
	}
}

/*
 * restore: makes the tree of the plan (a Fixtures/trees file, planned by the test process),
 * entry by entry: each entry's creator makes it with clone3 and its set_tid, a process then
 * calls setsid and setpgid as planned and makes its own entries in turn. Every process and
 * thread reports STATUS records (value: its entry) and waits; the restorer releases them once
 * all reported. Returns the number of entries, or the -errno of the one that failed (the plan's
 * failed_* words say which, and what it called). For scripts/bench: `method` 1 takes the older
 * route (kabi_tree.h), `noise` starts that many noise processes in the tree's outermost
 * namespace, and `timing` reports the fields nanoseconds (until the last entry was made),
 * eexist and loose.
 */
KABI_OP_WITH((.needs_trampoline = "a restored tree's threads are started with the x86-64 "
				   "clone3 trampoline"),
	     op_restore, "restore", "clone3", { "tree", KABI_ARG_TREE, 0 },
	     { "method", KABI_ARG_NUMBER, 1, 0 }, { "noise", KABI_ARG_NUMBER, 2, 0 },
	     { "timing", KABI_ARG_NUMBER, 3, 0 })
{
	struct restorer r;
	struct kabi_tree_plan *plan = (struct kabi_tree_plan *)(uintptr_t)call->args[0];
	int32_t seen;

	if (call->args[1] != KABI_TREE_SET_TID && call->args[1] != KABI_TREE_NS_LAST_PID)
		return kabi_setup_failed(call, "restore method", -EINVAL);
	if (call->args[2] < 0 || call->args[2] > KABI_TREE_NOISE_MAX)
		return kabi_setup_failed(call, "noise count", -EINVAL);
	plan->method = (int32_t)call->args[1];
	plan->noise = (int32_t)call->args[2];
	plan->request = KABI_TREE_NO_WRITER;
	r.ctx = call->ctx;
	r.plan = plan;
	r.step = call->step;
	r.me = KABI_TREE_RESTORER;
	plan->started_ns = now_ns();
	serve(&r);
	while (!load(&plan->failed) && (seen = load(&plan->reported)) < (int32_t)plan->count)
		wait_while(&plan->reported, seen);
	store_and_wake(&plan->release, 1);
	if (call->args[3]) {
		kabi_report_field(call->ctx, call->step, "nanoseconds",
				  plan->made_ns ? plan->made_ns - plan->started_ns : -1);
		kabi_report_field(call->ctx, call->step, "eexist", plan->eexist);
		kabi_report_field(call->ctx, call->step, "loose", plan->loose);
	}
	return load(&plan->failed) ? plan->failed_errno : (long)plan->count;
}
