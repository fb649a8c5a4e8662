#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>

#include "kabi_clone3.h"
#include "kabi_files.h"
#include "kabi_program.h"
#include "kabi_raw.h"

/*
 * The capability matrix's operations: they build who owns which PID namespace and where the
 * caller sits, set the caller's capability sets, and make the calls whose permission is checked.
 * Sandbox code: raw syscalls only, no malloc, no stdio.
 */

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


/* Writes "inside outer 1" to path: one id, the writer's own, as an unprivileged map allows. */
static long write_id_map(const char *path, int64_t inside, int64_t outer)
{
	char line[64], *p = kabi_format_int(line, inside);

	*p++ = ' ';
	p = kabi_format_int(p, outer);
	*p++ = ' ';
	*p++ = '1';
	return kabi_write_file(path, line, p - line);
}

/* Maps the caller's ids of the parent user namespace (uid, gid) to inside in its new one. */
static long map_ids(int64_t inside, long uid, long gid)
{
	long r = kabi_write_file("/proc/self/setgroups", "deny", 4);

	if (r == 0)
		r = write_id_map("/proc/self/uid_map", inside, uid);
	if (r == 0)
		r = write_id_map("/proc/self/gid_map", inside, gid);
	return r;
}

/* A process that only waits to be killed with its parent: an init, or a namespace's holder. */
static __attribute__((noreturn)) void wait_for_parent_death(void)
{
	for (;;)
		kabi_sys(SYS_ppoll, 0, 0, 0, 0, 8);
}

/*
 * userns: unshare(CLONE_NEWUSER), then map the caller's own uid and gid to args[0] inside (0:
 * root of the new namespace; 1: an ordinary uid, so the namespace has no root; -1: no map).
 * Either way the caller holds every capability in the new namespace and none above it.
 */
static long op_userns(const struct kabi_body_context *ctx, int32_t step,
		      const struct kabi_step *s)
{
	long uid = kabi_sys(SYS_getuid), gid = kabi_sys(SYS_getgid);
	long r = kabi_sys(SYS_unshare, KABI_CLONE_NEWUSER);

	(void)ctx;
	(void)step;
	if (r < 0 || s->args[0] < 0)
		return r;
	return map_ids(s->args[0], uid, gid);
}

/*
 * pidns: unshare(CLONE_NEWPID), owned by the caller's user namespace, and fork its init, which
 * waits to be killed with the caller. The caller stays outside; its next child joins as PID 2.
 */
static long op_pidns(const struct kabi_body_context *ctx, int32_t step,
		     const struct kabi_step *s)
{
	long r = kabi_sys(SYS_unshare, KABI_CLONE_NEWPID), init;

	(void)ctx;
	(void)step;
	(void)s;
	if (r < 0)
		return r;
	init = kabi_fork(0);
	if (init == 0) {
		kabi_sys(SYS_prctl, PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
		wait_for_parent_death();
	}
	return init < 0 ? init : 0;
}

/*
 * enter: the rest of the program runs in a child made with clone(args[0]) (CLONE_NEWUSER and
 * CLONE_NEWPID as the shape needs; with CLONE_NEWUSER its ids map to args[1] inside). A child
 * deeper in PID namespaces than its parent reports LEVEL_READY at its level, so the proof of a
 * process it makes counts levels from it. The parent waits and exits as the child did.
 */
static long op_enter(const struct kabi_body_context *ctx, int32_t step,
		     const struct kabi_step *s)
{
	int32_t nspid[KABI_NSPID_MAX];
	int before = kabi_read_nspid("/proc/self/status", nspid);
	long uid = kabi_sys(SYS_getuid), gid = kabi_sys(SYS_getgid);
	long child = kabi_fork(s->args[0]), r;
	siginfo_t info;

	if (child == 0) {
		struct kabi_program_state inner;
		int after;

		kabi_sys(SYS_prctl, PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
		kabi_copy(&inner, kabi_program_state(ctx), sizeof(inner));
		if ((s->args[0] & KABI_CLONE_NEWUSER) && s->args[1] >= 0 &&
		    (r = map_ids(s->args[1], uid, gid)) < 0) {
			kabi_report_named(ctx, KABI_REPORT_SETUP_FAILED, step, "map ids", r);
			kabi_sys(SYS_exit_group, KABI_SANDBOX_SETUP_EXIT);
		}
		after = kabi_read_nspid("/proc/self/status", nspid);
		if (before > 0 && after > before) {
			inner.ctx.level += after - before;
			kabi_report_self(&inner.ctx, KABI_REPORT_LEVEL_READY, 0, 0);
		}
		kabi_report_named(&inner.ctx, KABI_REPORT_CALL, step, s->op, 0);
		kabi_sys(SYS_exit_group, kabi_program_resume(&inner, (unsigned int)(step -
						KABI_PROGRAM_FIRST_STEP + 1)));
	}
	if (child < 0)
		return child;
	r = kabi_reap(child, &info);
	if (r < 0) {
		kabi_report_named(ctx, KABI_REPORT_SETUP_FAILED, step, "reap", r);
		return KABI_STEP_ABORTED;
	}
	kabi_program_state(ctx)->exit_code =
		info.si_code == CLD_EXITED ? info.si_status : 128 + info.si_status;
	return KABI_STEP_HANDED_OVER;
}

union fd_pair_control {
	struct cmsghdr header;
	char bytes[CMSG_SPACE(2 * sizeof(int))];
};

/* Sends status and, when it is 0, descriptors of the sender's user and PID namespaces. */
static long send_namespaces(int sock, long status)
{
	union fd_pair_control control;
	struct iovec iov;
	struct msghdr msg;
	int fds[2] = { -1, -1 };

	kabi_zero(&msg, sizeof(msg));
	kabi_zero(&control, sizeof(control));
	if (status == 0) {
		fds[0] = (int)kabi_sys(SYS_openat, AT_FDCWD, "/proc/self/ns/user", O_RDONLY);
		fds[1] = (int)kabi_sys(SYS_openat, AT_FDCWD, "/proc/self/ns/pid", O_RDONLY);
		status = fds[0] < 0 ? fds[0] : fds[1] < 0 ? fds[1] : 0;
	}
	if (status == 0) {
		msg.msg_control = &control;
		msg.msg_controllen = sizeof(control.bytes);
		control.header.cmsg_level = SOL_SOCKET;
		control.header.cmsg_type = SCM_RIGHTS;
		control.header.cmsg_len = CMSG_LEN(sizeof(fds));
		kabi_copy(CMSG_DATA(&control.header), fds, sizeof(fds));
	}
	iov.iov_base = &status;
	iov.iov_len = sizeof(status);
	msg.msg_iov = &iov;
	msg.msg_iovlen = 1;
	return kabi_sys(SYS_sendmsg, sock, &msg, 0);
}

/* Moves fd to the number wanted (none if wanted < 0): 0, or -errno. */
static long place_fd(int fd, int64_t wanted)
{
	long r = 0;

	if (wanted >= 0 && wanted != fd)
		r = kabi_sys(SYS_dup3, fd, wanted, O_CLOEXEC);
	if (wanted != fd)
		kabi_sys(SYS_close, fd);
	return r < 0 ? r : 0;
}

/* Receives what send_namespaces sent; places the user namespace at user_fd, PID at pid_fd. */
static long receive_namespaces(int sock, int64_t user_fd, int64_t pid_fd)
{
	union fd_pair_control control;
	struct iovec iov;
	struct msghdr msg;
	long status = -EPROTO, r;
	int fds[2];

	kabi_zero(&msg, sizeof(msg));
	kabi_zero(&control, sizeof(control));
	iov.iov_base = &status;
	iov.iov_len = sizeof(status);
	msg.msg_iov = &iov;
	msg.msg_iovlen = 1;
	msg.msg_control = &control;
	msg.msg_controllen = sizeof(control.bytes);
	r = kabi_sys(SYS_recvmsg, sock, &msg, MSG_CMSG_CLOEXEC);
	if (r < 0)
		return r;
	if (r != (long)sizeof(status))
		return -EPROTO;
	if (status < 0)
		return status;
	if (msg.msg_controllen < CMSG_LEN(sizeof(fds)) ||
	    control.header.cmsg_type != SCM_RIGHTS)
		return -EPROTO;
	kabi_copy(fds, CMSG_DATA(&control.header), sizeof(fds));
	r = place_fd(fds[0], user_fd);
	status = place_fd(fds[1], pid_fd);
	return r < 0 ? r : status;
}

/*
 * hold: a holder process made with clone(args[0]) keeps namespaces alive while the caller goes
 * on: with CLONE_NEWUSER a user namespace (ids mapped to args[1] inside, as userns does), with
 * CLONE_NEWPID a PID namespace of which it is init. Its user and PID namespaces come back as
 * descriptors args[2] and args[3] (-1: closed), so a shape can hold namespaces the caller is
 * not in, such as a sibling's.
 */
static long op_hold(const struct kabi_body_context *ctx, int32_t step,
		    const struct kabi_step *s)
{
	long uid = kabi_sys(SYS_getuid), gid = kabi_sys(SYS_getgid);
	int sock[2];
	long r = kabi_sys(SYS_socketpair, AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sock), child;

	(void)ctx;
	(void)step;
	if (r < 0)
		return r;
	child = kabi_fork(s->args[0]);
	if (child == 0) {
		kabi_sys(SYS_prctl, PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
		kabi_sys(SYS_close, sock[0]);
		r = 0;
		if ((s->args[0] & KABI_CLONE_NEWUSER) && s->args[1] >= 0)
			r = map_ids(s->args[1], uid, gid);
		send_namespaces(sock[1], r);
		kabi_sys(SYS_close, sock[1]);
		wait_for_parent_death();
	}
	kabi_sys(SYS_close, sock[1]);
	r = child < 0 ? child : receive_namespaces(sock[0], s->args[2], s->args[3]);
	kabi_sys(SYS_close, sock[0]);
	return r;
}

/* save: opens path (a namespace file) read-only as descriptor args[0], for a later setns. */
static long op_save(const struct kabi_body_context *ctx, int32_t step,
		    const struct kabi_step *s)
{
	long fd = kabi_sys(SYS_openat, AT_FDCWD, s->text, O_RDONLY | O_CLOEXEC);

	(void)ctx;
	(void)step;
	return fd < 0 ? fd : place_fd((int)fd, s->args[0]);
}

/* The target of a /proc/self link ("pid:[4026531836]"); its length, or -errno. */
static long link_of(const char *path, char *out, unsigned long size)
{
	return kabi_sys(SYS_readlinkat, AT_FDCWD, path, out, size);
}

/* Whether descriptor fd is the namespace path names: 1, 0, or -errno. */
static long is_namespace(long fd, const char *path)
{
	static const char prefix[] = "/proc/self/fd/";
	char fd_path[40], got[64], want[64];
	char *end;
	long n, m;

	/* Byte by byte: an initialized array may compile to a memcpy call. */
	kabi_copy(fd_path, prefix, sizeof(prefix) - 1);
	end = kabi_format_int(fd_path + sizeof(prefix) - 1, fd);
	*end = 0;
	n = link_of(fd_path, got, sizeof(got));
	m = link_of(path, want, sizeof(want));
	if (n < 0 || m < 0)
		return n < 0 ? n : m;
	return n == m && kabi_equal(got, want, (unsigned long)n);
}

/*
 * setns: setns(args[1], args[0]): the namespace type first, as flags are. Field joined: 1 when
 * pid_for_children (CLONE_NEWPID) or the user namespace (CLONE_NEWUSER) is now the
 * descriptor's namespace.
 */
static long op_setns(const struct kabi_body_context *ctx, int32_t step,
		     const struct kabi_step *s)
{
	long r = kabi_sys(SYS_setns, s->args[1], s->args[0]);
	const char *now = s->args[0] == (int64_t)KABI_CLONE_NEWUSER
				  ? "/proc/self/ns/user"
				  : "/proc/self/ns/pid_for_children";

	if (r == 0)
		kabi_report_field(ctx, step, "joined", is_namespace(s->args[1], now));
	return r;
}

/*
 * Who owns the caller's active PID namespace, as NS_GET_USERNS answers: 1 the caller's own user
 * namespace, 2 one below it (ns_get_owner() opens only those), 0 any other (EPERM), or -errno.
 */
static long active_owner(void)
{
	long fd = kabi_sys(SYS_openat, AT_FDCWD, "/proc/self/ns/pid", O_RDONLY | O_CLOEXEC);
	long owner, own;

	if (fd < 0)
		return fd;
	owner = kabi_sys(SYS_ioctl, fd, KABI_NS_GET_USERNS, 0);
	kabi_sys(SYS_close, fd);
	if (owner == -EPERM)
		return 0;
	if (owner < 0)
		return owner;
	own = is_namespace(owner, "/proc/self/ns/user");
	kabi_sys(SYS_close, owner);
	return own < 0 ? own : own == 1 ? 1 : 2;
}

/*
 * Reports the sets the caller holds now, each as one 64-bit number (bit n: capability n):
 * effective, permitted and inheritable from capget, ambient from PR_CAP_AMBIENT_IS_SET.
 */
static long report_sets(const struct kabi_body_context *ctx, int32_t step)
{
	struct kabi_cap_header head = { KABI_CAP_V3, 0 };
	struct kabi_cap_data data[2];
	int64_t ambient = 0;
	long r = kabi_sys(SYS_capget, &head, data);

	if (r < 0)
		return r;
	for (int cap = 0; cap < KABI_CAP_BITS; cap++) {
		long set = kabi_sys(SYS_prctl, PR_CAP_AMBIENT, PR_CAP_AMBIENT_IS_SET, cap, 0, 0);

		if (set < 0)
			break;	/* EINVAL: past the kernel's last capability */
		if (set == 1)
			ambient |= (int64_t)1 << cap;
	}
	kabi_report_field(ctx, step, "effective",
			  (int64_t)((uint64_t)data[1].effective << 32 | data[0].effective));
	kabi_report_field(ctx, step, "permitted",
			  (int64_t)((uint64_t)data[1].permitted << 32 | data[0].permitted));
	kabi_report_field(ctx, step, "inheritable",
			  (int64_t)((uint64_t)data[1].inheritable << 32 | data[0].inheritable));
	kabi_report_field(ctx, step, "ambient", ambient);
	kabi_report_field(ctx, step, "activeOwner", active_owner());
	return 0;
}

/*
 * capset: raw capset of effective args[0], permitted args[1], inheritable args[2] (bit n:
 * capability n, as the test process parsed them with libcap), then PR_CAP_AMBIENT_RAISE of each
 * capability in args[3]; reports the sets the caller then holds, and who owns its active PID
 * namespace (field activeOwner), so the row can check the shape it stands on.
 */
static long op_capset(const struct kabi_body_context *ctx, int32_t step,
		      const struct kabi_step *s)
{
	struct kabi_cap_header head = { KABI_CAP_V3, 0 };
	struct kabi_cap_data data[2];
	long r;

	for (int word = 0; word < 2; word++) {
		data[word].effective = (uint32_t)((uint64_t)s->args[0] >> (32 * word));
		data[word].permitted = (uint32_t)((uint64_t)s->args[1] >> (32 * word));
		data[word].inheritable = (uint32_t)((uint64_t)s->args[2] >> (32 * word));
	}
	r = kabi_sys(SYS_capset, &head, data);
	for (int cap = 0; r == 0 && cap < KABI_CAP_BITS; cap++)
		if ((uint64_t)s->args[3] & (uint64_t)1 << cap)
			r = kabi_sys(SYS_prctl, PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, cap, 0, 0);
	return r < 0 ? r : report_sets(ctx, step);
}

/* capget: reports the sets the caller holds, as capset does after setting them. */
static long op_capget(const struct kabi_body_context *ctx, int32_t step,
		      const struct kabi_step *s)
{
	(void)s;
	return report_sets(ctx, step);
}

/*
 * open: opens path for writing as descriptor args[0]: the permission check of open(). A
 * read-only /proc/sys (EROFS, as container runtimes mount it) is the environment, not the
 * kernel's answer, and is reported as a failed setup.
 */
static long op_open(const struct kabi_body_context *ctx, int32_t step,
		    const struct kabi_step *s)
{
	long fd = kabi_sys(SYS_openat, AT_FDCWD, s->text, O_WRONLY | O_CLOEXEC);

	if (fd == -EROFS) {
		kabi_report_named(ctx, KABI_REPORT_SETUP_FAILED, step, "open", fd);
		return KABI_STEP_ABORTED;
	}
	return fd < 0 ? fd : place_fd((int)fd, s->args[0]);
}

/* Inode of path, or 0 if it cannot be read. */
static uint64_t inode_of(const char *path)
{
	struct stat st;

	return kabi_sys(SYS_newfstatat, AT_FDCWD, path, &st, 0) == 0 ? (uint64_t)st.st_ino : 0;
}

/*
 * write: writes args[1] in decimal at offset 0 of descriptor args[0] (opened by open, perhaps
 * with other capabilities), then reads path back: field value. Never the suite's own sysctls:
 * a descriptor with inode args[2] (the suite's pid_max, which before 6.14 every namespace
 * shares), or a caller in the PID namespace with inode args[3] (the suite's), is refused.
 */
static long op_write(const struct kabi_body_context *ctx, int32_t step,
		     const struct kabi_step *s)
{
	char text[24], *end = kabi_format_int(text, s->args[1]);
	struct stat st;
	long r = kabi_sys(SYS_fstat, s->args[0], &st);

	if (r == 0 && ((s->args[2] != 0 && (uint64_t)st.st_ino == (uint64_t)s->args[2]) ||
		       (s->args[3] != 0 && inode_of("/proc/self/ns/pid") == (uint64_t)s->args[3])))
		r = -EXDEV;
	if (r < 0) {
		kabi_report_named(ctx, KABI_REPORT_SETUP_FAILED, step, "not the suite's", r);
		return KABI_STEP_ABORTED;
	}
	r = kabi_sys(SYS_pwrite64, s->args[0], text, end - text, 0);
	if (r < 0)
		return r;
	r = kabi_read_int(s->text);
	if (r < 0) {
		kabi_report_named(ctx, KABI_REPORT_SETUP_FAILED, step, "read back", r);
		return KABI_STEP_ABORTED;
	}
	kabi_report_field(ctx, step, "value", r);
	return 0;
}

static const struct kabi_op ops[] = {
	{ "userns", op_userns }, { "pidns", op_pidns },	  { "enter", op_enter },
	{ "hold", op_hold },	 { "save", op_save },	  { "setns", op_setns },
	{ "capset", op_capset }, { "capget", op_capget }, { "open", op_open },
	{ "write", op_write },
};

int kabi_body_capabilities(const struct kabi_body_context *ctx)
{
	return kabi_run_program(ctx, ops, sizeof(ops) / sizeof(ops[0]));
}
