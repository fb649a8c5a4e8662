/* struct clone_args and the clone3 flags, defined by the project (uapi linux/sched.h). */
#ifndef CKERNELABI_KABI_CLONE3_H
#define CKERNELABI_KABI_CLONE3_H

#include <stddef.h>
#include <stdint.h>

/*
 * The struct at its largest published size (VER2); VER0 and VER1 are its first 64 and 80
 * bytes. The kernel versions the struct by its size: members are only appended and every
 * member is a 64-bit aligned __u64. Debian 12's headers stop at 6.1, and a host header that
 * grows would silently change what "short" means, so the layout lives here.
 */
struct kabi_clone_args {
	uint64_t flags;
	uint64_t pidfd;
	uint64_t child_tid;
	uint64_t parent_tid;
	uint64_t exit_signal;
	uint64_t stack;
	uint64_t stack_size;
	uint64_t tls;
	uint64_t set_tid;	/* VER1 (5.5) */
	uint64_t set_tid_size;	/* VER1 (5.5) */
	uint64_t cgroup;	/* VER2 (5.7) */
};

enum {
	KABI_CLONE_ARGS_SIZE_VER0 = 64,	/* 5.3 */
	KABI_CLONE_ARGS_SIZE_VER1 = 80,	/* 5.5: set_tid, set_tid_size */
	KABI_CLONE_ARGS_SIZE_VER2 = 88,	/* 5.7: cgroup */
	KABI_MAX_PID_NS_LEVEL = 32,
	KABI_SYS_CLONE3 = 435,		/* same number on every architecture (asm-generic) */
};

/* Offsets of the fields Swift writes into raw clone_args bytes: the layout lives only here. */
enum {
	KABI_CLONE_ARGS_OFFSET_FLAGS = offsetof(struct kabi_clone_args, flags),
	KABI_CLONE_ARGS_OFFSET_PIDFD = offsetof(struct kabi_clone_args, pidfd),
	KABI_CLONE_ARGS_OFFSET_PARENT_TID = offsetof(struct kabi_clone_args, parent_tid),
	KABI_CLONE_ARGS_OFFSET_STACK = offsetof(struct kabi_clone_args, stack),
	KABI_CLONE_ARGS_OFFSET_STACK_SIZE = offsetof(struct kabi_clone_args, stack_size),
	KABI_CLONE_ARGS_OFFSET_EXIT_SIGNAL = offsetof(struct kabi_clone_args, exit_signal),
	KABI_CLONE_ARGS_OFFSET_SET_TID = offsetof(struct kabi_clone_args, set_tid),
	KABI_CLONE_ARGS_OFFSET_SET_TID_SIZE = offsetof(struct kabi_clone_args, set_tid_size),
	KABI_CLONE_ARGS_OFFSET_CGROUP = offsetof(struct kabi_clone_args, cgroup),
};

/* Legacy flags (low 32 bits) and the clone3-only ones above them. */
static const uint64_t KABI_CLONE_NEWTIME = 0x00000080ULL;
static const uint64_t KABI_CLONE_VM = 0x00000100ULL;
static const uint64_t KABI_CLONE_FS = 0x00000200ULL;
static const uint64_t KABI_CLONE_FILES = 0x00000400ULL;
static const uint64_t KABI_CLONE_SIGHAND = 0x00000800ULL;
static const uint64_t KABI_CLONE_PIDFD = 0x00001000ULL;
static const uint64_t KABI_CLONE_PTRACE = 0x00002000ULL;
static const uint64_t KABI_CLONE_VFORK = 0x00004000ULL;
static const uint64_t KABI_CLONE_PARENT = 0x00008000ULL;
static const uint64_t KABI_CLONE_THREAD = 0x00010000ULL;
static const uint64_t KABI_CLONE_NEWNS = 0x00020000ULL;
static const uint64_t KABI_CLONE_SYSVSEM = 0x00040000ULL;
static const uint64_t KABI_CLONE_SETTLS = 0x00080000ULL;
static const uint64_t KABI_CLONE_PARENT_SETTID = 0x00100000ULL;
static const uint64_t KABI_CLONE_CHILD_CLEARTID = 0x00200000ULL;
static const uint64_t KABI_CLONE_DETACHED = 0x00400000ULL;
static const uint64_t KABI_CLONE_UNTRACED = 0x00800000ULL;
static const uint64_t KABI_CLONE_CHILD_SETTID = 0x01000000ULL;
static const uint64_t KABI_CLONE_NEWCGROUP = 0x02000000ULL;
static const uint64_t KABI_CLONE_NEWUTS = 0x04000000ULL;
static const uint64_t KABI_CLONE_NEWIPC = 0x08000000ULL;
static const uint64_t KABI_CLONE_NEWUSER = 0x10000000ULL;
static const uint64_t KABI_CLONE_NEWPID = 0x20000000ULL;
static const uint64_t KABI_CLONE_NEWNET = 0x40000000ULL;
static const uint64_t KABI_CLONE_IO = 0x80000000ULL;
static const uint64_t KABI_CLONE_CLEAR_SIGHAND = 0x100000000ULL;	/* 5.5 */
static const uint64_t KABI_CLONE_INTO_CGROUP = 0x200000000ULL;		/* 5.7 */
static const uint64_t KABI_CLONE_AUTOREAP = 0x400000000ULL;		/* 7.1 */
static const uint64_t KABI_CLONE_NNP = 0x800000000ULL;			/* 7.1 */
static const uint64_t KABI_CLONE_PIDFD_AUTOKILL = 0x1000000000ULL;	/* 7.1 */
static const uint64_t KABI_CLONE_EMPTY_MNTNS = 0x2000000000ULL;	/* 7.1 */

/*
 * clone3 for feature probes whose arguments must be rejected: -errno, as expected; or, if the
 * kernel wrongly accepts them, the PID of a child that did nothing but _exit and is reaped.
 */
long kabi_clone3_probe(void *args, size_t size);

#endif
