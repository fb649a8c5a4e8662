/*
 * What sandbox processes do to themselves and their namespaces, shared by the sandbox levels and
 * the operations: id maps, namespace identity, capability sets, waiting to be killed. Raw
 * syscalls only (processes.c).
 */
#ifndef CKERNELABI_KABI_PROCESSES_H
#define CKERNELABI_KABI_PROCESSES_H

#include <stddef.h>
#include <stdint.h>

/*
 * Denies setgroups, then maps id inside of the caller's new user namespace onto its uid and gid
 * of the parent one (one id each, as an unprivileged map allows). 0, or -errno with *failed
 * set to the file that refused: 1 setgroups, 2 uid_map, 3 gid_map (enum kabi_setup_step).
 */
long kabi_map_ids(int64_t inside, long uid, long gid, int *failed);

/*
 * Whether descriptor fd is the namespace that path (a /proc/.../ns link) names, by st_dev and
 * st_ino as the kernel's nsfs selftests compare: 1, 0, or -errno.
 */
long kabi_fd_is_namespace(long fd, const char *path);

/* Whether two /proc/.../ns links name the same namespace, as kabi_fd_is_namespace: 1, 0, -errno. */
long kabi_same_namespace(const char *path, const char *other);

/* st_ino of path, or -errno. */
long kabi_inode(const char *path);

/* capget/capset, _LINUX_CAPABILITY_VERSION_3: two data words, capabilities 0-31 and 32-63. */
struct kabi_cap_header {
	uint32_t version;
	int32_t pid;
};

struct kabi_cap_data {
	uint32_t effective;
	uint32_t permitted;
	uint32_t inheritable;
};

_Static_assert(sizeof(struct kabi_cap_header) == 8, "struct __user_cap_header_struct");
_Static_assert(sizeof(struct kabi_cap_data) == 12, "struct __user_cap_data_struct");
_Static_assert(offsetof(struct kabi_cap_data, inheritable) == 8, "__user_cap_data_struct");

enum {
	KABI_CAP_V3 = 0x20080522,
	KABI_CAP_BITS = 64,
};

/* The caller's sets, each as one 64-bit mask (bit n: capability n): 0, or -errno. */
struct kabi_cap_sets {
	uint64_t effective, permitted, inheritable;
};
long kabi_capget(struct kabi_cap_sets *sets);
long kabi_capset(const struct kabi_cap_sets *sets);

/* Reads fd until end of file (or an error other than EINTR): until every write end is closed. */
void kabi_wait_for_eof(int fd);

/*
 * The value a helper child (the fork's result: helper) writes to the pipe made[] once it has
 * made its call, such as what its clone3 returned: closes made[1], reads *value from made[0] and
 * closes it. Returns helper, or -EPIPE when a helper that was forked wrote no whole value.
 */
long kabi_helper_result(long helper, int made[2], long *value);

/* A process that only waits to be killed with its parent: an init, or a namespace's holder. */
__attribute__((noreturn)) void kabi_wait_for_parent_death(void);

#endif
