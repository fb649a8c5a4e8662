/* Threads with chosen TIDs: clone3(CLONE_THREAD) with set_tid, run as a sandbox body. */
#ifndef CKERNELABI_KABI_THREADS_H
#define CKERNELABI_KABI_THREADS_H

#include <stdint.h>

#include "kabi_clone3.h"
#include "kabi_sandbox.h"

struct kabi_thread_call {
	uint64_t extra_flags;	/* added to the thread flags, e.g. CLONE_NEWPID for an error case */
	int32_t tids[KABI_MAX_PID_NS_LEVEL + 1];
	uint32_t tid_count;	/* set_tid_size; 0 leaves set_tid NULL */
	uint32_t unshare_pid;	/* unshare(CLONE_NEWPID) before the call */
};

/* Whether this build can start threads from a sandbox body (an x86-64 clone3 trampoline). */
int kabi_threads_supported(void);

/*
 * clone3(CLONE_VM|CLONE_FS|CLONE_FILES|CLONE_SIGHAND|CLONE_THREAD|CLONE_SYSVSEM|
 * CLONE_CHILD_CLEARTID | extra_flags) with set_tid, once. Reports CALL with the result; the
 * new thread reports CHILD (pid: its gettid(), value: its getpid(), NSpid of thread-self) and
 * exits; the body waits for the exit on the cleared TID word and reports CHILD_EXIT 0.
 */
int kabi_body_clone3_thread(const struct kabi_body_context *ctx);

#endif
