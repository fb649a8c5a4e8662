/*
 * Bodies that exercise the sandbox itself: hangs, crashes, many writers, inherited fds, and
 * records that overflow, tear or lack their NSpid.
 */
#ifndef CKERNELABI_KABI_SELFTEST_H
#define CKERNELABI_KABI_SELFTEST_H

#include "kabi_sandbox.h"

/* Starts a child that blocks forever, reports CHILD for both, then blocks forever itself. */
int kabi_body_hang(const struct kabi_body_context *ctx);

/* arg: an address that faults on write. Reports CALL, then dies of SIGSEGV. */
int kabi_body_crash(const struct kabi_body_context *ctx);

/* arg: uint32_t count. Starts count children that each report CHILD, then reaps them. */
int kabi_body_fan_out(const struct kabi_body_context *ctx);

/* arg: int fd. Reports CALL with fcntl(fd, F_GETFD): -EBADF when the fd is not open. */
int kabi_body_probe_fd(const struct kabi_body_context *ctx);

/* Reports CALL, then recurses until its stack overflows: it must die of SIGSEGV. */
int kabi_body_overflow_stack(const struct kabi_body_context *ctx);

/* arg: uint32_t count. Reports count FIELD records from one process, step 0 ... count - 1. */
int kabi_body_report_many(const struct kabi_body_context *ctx);

/* Writes the first half of a CALL record to the report pipe and exits 0. */
int kabi_body_report_torn(const struct kabi_body_context *ctx);

/* Sets RLIMIT_NOFILE to 0, then reports CALL with prlimit's result: its NSpid is unreadable. */
int kabi_body_report_without_fds(const struct kabi_body_context *ctx);

#endif
