#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/futex.h>
#include <signal.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "kabi_raw.h"
#include "kabi_program.h"
#include "kabi_threads.h"

/* Sandbox body: raw syscalls only, no malloc, no stdio. */

#if defined(__x86_64__)
/* The child exits the thread alone (__NR_exit): a thread shares the body's stack otherwise. */
__asm__(".text\n"
	".globl kabi_clone3_run\n"
	".type kabi_clone3_run, @function\n"
	"kabi_clone3_run:\n"
	"	push %r12\n"
	"	push %r13\n"
	"	mov %rdx, %r12\n"	/* fn and arg survive the syscall in callee-saved registers */
	"	mov %rcx, %r13\n"
	"	mov $435, %eax\n"	/* __NR_clone3(rdi = args, rsi = size) */
	"	syscall\n"
	"	test %rax, %rax\n"
	"	jz 1f\n"
	"	pop %r13\n"
	"	pop %r12\n"
	"	ret\n"
	"1:	xor %ebp, %ebp\n"
	"	and $-16, %rsp\n"
	"	mov %r13, %rdi\n"
	"	call *%r12\n"
	"	mov %eax, %edi\n"
	"	mov $60, %eax\n"	/* __NR_exit */
	"	syscall\n"
	"	hlt\n"
	".size kabi_clone3_run, .-kabi_clone3_run\n");

int kabi_threads_supported(void)
{
	return 1;
}
#else
long kabi_clone3_run(struct kabi_clone_args *args, size_t size, int (*fn)(void *), void *arg)
{
	(void)args, (void)size, (void)fn, (void)arg;
	return -ENOSYS;
}

int kabi_threads_supported(void)
{
	return 0;
}
#endif

long kabi_clone_vm_run(void *stack, size_t size, const int32_t *pid, int (*fn)(void *), void *arg)
{
	struct kabi_clone_args a;

	kabi_zero(&a, sizeof(a));
	a.flags = KABI_CLONE_VM;
	a.exit_signal = SIGCHLD;
	a.stack = (uint64_t)(uintptr_t)stack;
	a.stack_size = size;
	if (pid) {
		a.set_tid = (uint64_t)(uintptr_t)pid;
		a.set_tid_size = 1;
	}
	return kabi_clone3_run(&a, sizeof(a), fn, arg);
}

int kabi_exit_at_once(void *unused)
{
	(void)unused;
	return 0;
}

struct thread_start {
	const struct kabi_body_context *ctx;
	int32_t step;
};

static int thread_main(void *arg)
{
	const struct thread_start *start = arg;

	kabi_report_thread(start->ctx, KABI_REPORT_CHILD, start->step, kabi_sys(SYS_getpid));
	return 0;
}

/*
 * thread: clone3(CLONE_VM|CLONE_FS|CLONE_FILES|CLONE_SIGHAND|CLONE_THREAD|CLONE_SYSVSEM|
 * CLONE_CHILD_CLEARTID | flags) with set_tid (none: NULL), on the sandbox's scratch stack.
 * The thread reports CHILD (pid: its gettid(), value: its getpid(), NSpid of thread-self) and
 * exits; the caller waits for that on the cleared TID word and reports CHILD_EXIT 0. With
 * CLONE_PIDFD in flags the pidfd goes to a word of the caller's, the caller reports field
 * pidfdThread (1: its F_GETFL has PIDFD_THREAD, O_EXCL; 0: not; -EBADF: none was written) and
 * closes it. -ENOSYS where the build has no trampoline.
 */
KABI_OP_WITH((.makes_thread = 1, .scratch = KABI_SCRATCH_STEP,
	      .needs_trampoline = "starting a thread from a sandbox body needs the x86-64 clone3 "
				  "trampoline"),
	     op_thread, "thread", "clone3", { "flags", KABI_ARG_FLAGS, 0 },
	     { "setTid", KABI_ARG_PIDS, 1 })
{
	const struct kabi_body_context *ctx = call->ctx;
	int32_t step = call->step;
	struct thread_start start;
	volatile int32_t tid_word = -1;
	int32_t pidfd = -1;
	const int32_t *tids = (const int32_t *)(uintptr_t)call->args[2];
	struct kabi_clone_args a;
	uint64_t count = (uint64_t)call->args[1];
	long r;

	start.ctx = ctx;	/* assigned, not initialized: no memset call for sandbox code */
	start.step = step;
	kabi_zero(&a, sizeof(a));
	a.flags = KABI_CLONE_VM | KABI_CLONE_FS | KABI_CLONE_FILES | KABI_CLONE_SIGHAND |
		  KABI_CLONE_THREAD | KABI_CLONE_SYSVSEM | KABI_CLONE_CHILD_CLEARTID |
		  (uint64_t)call->args[0];
	a.child_tid = (uint64_t)(uintptr_t)&tid_word;
	if (a.flags & KABI_CLONE_PIDFD)
		a.pidfd = (uint64_t)(uintptr_t)&pidfd;
	/* The sandbox's scratch, above a guard page, unmapped with the sandbox even if killed. */
	a.stack = (uint64_t)(uintptr_t)ctx->scratch;
	a.stack_size = ctx->scratch_bytes;
	if (count > 0) {
		a.set_tid = (uint64_t)(uintptr_t)tids;
		a.set_tid_size = count;
	}
	r = kabi_clone3_run(&a, sizeof(a), thread_main, &start);
	if (r > 0) {
		/* CLONE_CHILD_CLEARTID: the kernel zeroes the word and wakes us when it exits. */
		int32_t seen;

		while ((seen = tid_word) != 0)
			kabi_sys(SYS_futex, &tid_word, FUTEX_WAIT, seen, NULL);
		kabi_report_self(ctx, KABI_REPORT_CHILD_EXIT, step, 0);
	}
	if (r > 0 && (a.flags & KABI_CLONE_PIDFD)) {
		long flags = pidfd < 0 ? -EBADF : kabi_sys(SYS_fcntl, pidfd, F_GETFL);

		kabi_report_field(ctx, step, "pidfdThread", flags < 0 ? flags : (flags & O_EXCL) != 0);
	}
	if (pidfd >= 0)
		kabi_sys(SYS_close, pidfd);
	return r;
}
