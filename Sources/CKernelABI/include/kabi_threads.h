/* Threads with chosen TIDs: the thread program operation (kabi_program.h, threads.c). */
#ifndef CKERNELABI_KABI_THREADS_H
#define CKERNELABI_KABI_THREADS_H

#include <stdint.h>

#include "kabi_clone3.h"
#include "kabi_sandbox.h"

/* Whether this build can start threads from a sandbox body (an x86-64 clone3 trampoline). */
int kabi_threads_supported(void);

#endif
