/* Sandbox bodies the suites share. Each is C only and reports through its context. */
#ifndef CKERNELABI_KABI_BODIES_H
#define CKERNELABI_KABI_BODIES_H

#include <stdint.h>

#include "kabi_sandbox.h"

/*
 * Reports LEVEL: the PID-namespace level of the body's namespace as set_tid sees it. The kernel
 * rejects a set_tid_size above level + 1 with EINVAL before it looks at capabilities or PIDs,
 * so the largest set_tid_size that is not EINVAL, minus one, is the level. This is the
 * behaviour under test: the suite only cross-checks its own level with it.
 */
int kabi_body_probe_level(const struct kabi_body_context *ctx);

/*
 * Nests PID namespaces below the body (plain clone(CLONE_NEWPID): no clone3, no set_tid, no new
 * user namespace) until the kernel refuses one. The innermost process reports LEVEL with value
 * the number it made and step the refusal's -errno; its record carries its NSpid. ENOSPC means
 * create_pid_namespace() found the next level above MAX_PID_NS_LEVEL (32), which measures the
 * body's own level independently of set_tid.
 */
int kabi_body_nest_pid_namespaces(const struct kabi_body_context *ctx);

#endif
