#define _GNU_SOURCE
#include <errno.h>
#include <stddef.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "kabi_clone3.h"
#include "kabi_raw.h"

#define FIELD_AT(type, field, offset) \
	_Static_assert(offsetof(type, field) == (offset), #type "." #field " at " #offset)

/* VER0 ends where set_tid starts, VER1 where cgroup starts, VER2 at the end. */
_Static_assert(offsetof(struct kabi_clone_args, set_tid) == KABI_CLONE_ARGS_SIZE_VER0, "VER0");
_Static_assert(offsetof(struct kabi_clone_args, cgroup) == KABI_CLONE_ARGS_SIZE_VER1, "VER1");
_Static_assert(sizeof(struct kabi_clone_args) == KABI_CLONE_ARGS_SIZE_VER2, "VER2");
FIELD_AT(struct kabi_clone_args, flags, 0);
FIELD_AT(struct kabi_clone_args, pidfd, 8);
FIELD_AT(struct kabi_clone_args, child_tid, 16);
FIELD_AT(struct kabi_clone_args, parent_tid, 24);
FIELD_AT(struct kabi_clone_args, exit_signal, 32);
FIELD_AT(struct kabi_clone_args, stack, 40);
FIELD_AT(struct kabi_clone_args, stack_size, 48);
FIELD_AT(struct kabi_clone_args, tls, 56);
FIELD_AT(struct kabi_clone_args, set_tid, 64);
FIELD_AT(struct kabi_clone_args, set_tid_size, 72);
FIELD_AT(struct kabi_clone_args, cgroup, 80);

long kabi_clone3_probe(void *args, size_t size)
{
	siginfo_t info;
	/* From the suite's own code, like every call under test, not through libc's syscall(). */
	long r = kabi_sys(KABI_SYS_CLONE3, args, size);

	if (r == 0)
		kabi_sys(SYS_exit_group, 0);	/* a copy of the test process: run nothing */
	if (r < 0)
		return r;
	while (waitid(P_PID, (id_t)r, &info, WEXITED | __WALL) < 0 && errno == EINTR)
		;
	return r;
}
