/* Threads with chosen TIDs: the thread program operation (kabi_program.h, threads.c). */
#ifndef CKERNELABI_KABI_THREADS_H
#define CKERNELABI_KABI_THREADS_H

#include <stddef.h>
#include <stdint.h>

#include "kabi_clone3.h"
#include "kabi_sandbox.h"

/* Whether this build can start threads from a sandbox body (an x86-64 clone3 trampoline). */
int kabi_threads_supported(void);

/*
 * clone3(args, size) whose child runs fn(arg) on the stack args names and then exits (__NR_exit:
 * a thread alone, a process whole): -ENOSYS where kabi_threads_supported() is 0.
 */
long kabi_clone3_run(struct kabi_clone_args *args, size_t size, int (*fn)(void *), void *arg);

/*
 * A CLONE_VM process (exit signal SIGCHLD) that runs fn(arg) on the size bytes of stack at
 * stack, at PID *pid of the caller's PID namespace when pid is not NULL: its PID, or -errno.
 */
long kabi_clone_vm_run(void *stack, size_t size, const int32_t *pid, int (*fn)(void *), void *arg);

/* A process body that exits 0 at once: the namespace's next PID taken and given back. */
int kabi_exit_at_once(void *unused);

#endif
