#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>

#include "kabi_clone3.h"
#include "kabi_files.h"
#include "kabi_processes.h"
#include "kabi_program.h"
#include "kabi_raw.h"
#include "sandbox_level.h"

/*
 * The namespaces a case stands in: PID namespaces nested below the caller, user namespaces it
 * moves to, holders that keep namespaces the caller is not in, and the processes that run the
 * rest of a program one level deeper. Sandbox code: raw syscalls only, no malloc, no stdio.
 */

/*
 * pid-namespaces N: nests N PID namespaces below the caller (CLONE_NEWPID only, so the caller's
 * user namespace owns them all and it may choose PIDs in each); each new init reports
 * LEVEL_READY and the innermost runs the rest of the program. On x86-64 each level shares the
 * test process's memory (CLONE_VM) on a stack of its own in the body's scratch, as sandbox
 * levels do: a fork per level copied the whole address space of the test process and made up
 * most of a deep case's time. The innermost init gets the largest stack, lowest in the scratch
 * right above its guard page; each other level only waits and passes the exit on.
 */
enum { CHAIN_SLOT = 12 * 1024, CHAIN_INNERMOST = 128 * 1024 };

struct chain {
	struct kabi_program_state state;	/* of the process running it: the level grows */
	int32_t step;
	uint32_t left;				/* levels still to nest */
	uint32_t made;
};

static int chain_entry(void *arg);

static int nest(struct chain *c)
{
	const struct kabi_body_context *ctx = &c->state.ctx;
	siginfo_t info;
	long child;

	if (c->left == 0) {
		kabi_report_named(ctx, KABI_REPORT_CALL, c->step, "pid-namespaces", c->made);
		return kabi_program_resume(&c->state,
					   (unsigned int)(c->step - KABI_PROGRAM_FIRST_STEP) + 1);
	}
	c->left--;
	c->made++;
#if KABI_SANDBOX_SHARES_MEMORY
	{
		unsigned long top = c->left == 0 ? CHAIN_INNERMOST
						 : CHAIN_INNERMOST + c->made * CHAIN_SLOT;

		if (top > ctx->scratch_bytes)
			child = -ENOMEM;
		else
			child = kabi_clone_on_stack(KABI_CLONE_VM | KABI_CLONE_NEWPID | SIGCHLD,
						    (char *)ctx->scratch + top, 0, chain_entry, c);
	}
#else
	child = kabi_fork(KABI_CLONE_NEWPID);
	if (child == 0)
		kabi_sys(SYS_exit_group, chain_entry(c));
#endif
	if (child < 0) {
		kabi_report_named(ctx, KABI_REPORT_SETUP_FAILED, c->step, "pid-namespaces", child);
		return KABI_SANDBOX_SETUP_EXIT;
	}
	if (kabi_reap(child, &info) < 0)
		return KABI_SANDBOX_SETUP_EXIT;
	return info.si_code == CLD_EXITED ? info.si_status : 128;
}

static int chain_entry(void *arg)
{
	struct chain *c = arg;	/* shared with the waiting parent, which reads it no more */

	kabi_sys(SYS_prctl, PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
	c->state.ctx.level++;
	kabi_report_self(&c->state.ctx, KABI_REPORT_LEVEL_READY, 0, 0);
	return nest(c);
}

KABI_OP_WITH((.scratch = KABI_SCRATCH_HELD), op_pid_namespaces, "pid-namespaces", "clone",
	     { "count", KABI_ARG_NUMBER, 0 })
{
	struct chain c;

	kabi_copy(&c.state, call->state, sizeof(c.state));
	c.step = call->step;
	c.left = (uint32_t)call->args[0];
	c.made = 0;
	call->state->exit_code = nest(&c);
	return KABI_STEP_HANDED_OVER;
}

/*
 * userns: unshare(CLONE_NEWUSER), then map the caller's own uid and gid to mapTo inside (0:
 * root of the new namespace; 1: an ordinary uid, so the namespace has no root; -1: no map).
 * Either way the caller holds every capability in the new namespace and none above it.
 */
KABI_OP(op_userns, "userns", "unshare", { "mapTo", KABI_ARG_NUMBER, 0 })
{
	long uid = kabi_sys(SYS_getuid), gid = kabi_sys(SYS_getgid);
	long r = kabi_sys(SYS_unshare, KABI_CLONE_NEWUSER);
	int failed;

	if (r < 0 || call->args[0] < 0)
		return r;
	return kabi_map_ids(call->args[0], uid, gid, &failed);
}

/*
 * pidns: unshare(CLONE_NEWPID), owned by the caller's user namespace, and fork its init, which
 * waits to be killed with the caller. The caller stays outside; its next child joins as PID 2.
 */
KABI_OP(op_pidns, "pidns", "unshare")
{
	long r = kabi_sys(SYS_unshare, KABI_CLONE_NEWPID), init;

	if (r < 0)
		return r;
	init = kabi_fork(0);
	if (init == 0) {
		kabi_sys(SYS_prctl, PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
		kabi_wait_for_parent_death();
	}
	return init < 0 ? init : 0;
}

/*
 * enter: the rest of the program runs in a child made with clone(flags) (CLONE_NEWUSER and
 * CLONE_NEWPID as the shape needs; with CLONE_NEWUSER its ids map to mapTo inside). A child
 * deeper in PID namespaces than its parent reports LEVEL_READY at its level, so the proof of a
 * process it makes counts levels from it. The parent waits and exits as the child did.
 */
KABI_OP(op_enter, "enter", "clone", { "flags", KABI_ARG_FLAGS, 0 },
	{ "mapTo", KABI_ARG_NUMBER, 1 })
{
	int32_t nspid[KABI_NSPID_MAX];
	int before = kabi_read_nspid("/proc/self/status", nspid);
	long uid = kabi_sys(SYS_getuid), gid = kabi_sys(SYS_getgid);
	long child = kabi_fork(call->args[0]), r;
	siginfo_t info;
	int failed;

	if (child == 0) {
		struct kabi_program_state inner;
		int after;

		kabi_sys(SYS_prctl, PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
		kabi_copy(&inner, call->state, sizeof(inner));
		if ((call->args[0] & KABI_CLONE_NEWUSER) && call->args[1] >= 0 &&
		    (r = kabi_map_ids(call->args[1], uid, gid, &failed)) < 0) {
			kabi_setup_failed(call, "map ids", r);
			kabi_sys(SYS_exit_group, KABI_SANDBOX_SETUP_EXIT);
		}
		after = kabi_read_nspid("/proc/self/status", nspid);
		if (before > 0 && after > before) {
			inner.ctx.level += after - before;
			kabi_report_self(&inner.ctx, KABI_REPORT_LEVEL_READY, 0, 0);
		}
		kabi_report_named(&inner.ctx, KABI_REPORT_CALL, call->step, call->op, 0);
		kabi_sys(SYS_exit_group, kabi_program_resume(&inner, call->index + 1));
	}
	if (child < 0)
		return child;
	r = kabi_reap(child, &info);
	if (r < 0)
		return kabi_setup_failed(call, "reap", r);
	call->state->exit_code =
		info.si_code == CLD_EXITED ? info.si_status : 128 + info.si_status;
	return KABI_STEP_HANDED_OVER;
}

union fd_pair_control {
	struct cmsghdr header;
	char bytes[CMSG_SPACE(2 * sizeof(int))];
};

/*
 * What a holder sends besides its descriptors: status, and its own PID as the caller's PID
 * namespace numbers it (0 when it cannot be read).
 */
struct held {
	long status;
	long pid;
};

/*
 * Sends status and, when it is 0, descriptors of the sender's user and PID namespaces, with
 * the sender's PID in the caller's namespace: the entry of its NSpid (through the caller's
 * /proc, whose namespace numbers the list's first entry) at depth, the caller's own NSpid
 * length there.
 */
static long send_namespaces(int sock, long status, int depth)
{
	union fd_pair_control control;
	struct iovec iov;
	struct msghdr msg;
	int fds[2] = { -1, -1 };
	int32_t nspid[KABI_NSPID_MAX];
	int n = kabi_read_nspid("/proc/self/status", nspid);
	struct held held = { status, depth > 0 && n >= depth ? nspid[depth - 1] : 0 };

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
	held.status = status;
	iov.iov_base = &held;
	iov.iov_len = sizeof(held);
	msg.msg_iov = &iov;
	msg.msg_iovlen = 1;
	return kabi_sys(SYS_sendmsg, sock, &msg, 0);
}

/*
 * Receives what send_namespaces sent: the user namespace's descriptor at fds[0], PID at fds[1],
 * the sender's PID at *pid.
 */
static long receive_namespaces(int sock, int fds[2], long *pid)
{
	union fd_pair_control control;
	struct iovec iov;
	struct msghdr msg;
	struct held held = { -EPROTO, 0 };
	long r;

	kabi_zero(&msg, sizeof(msg));
	kabi_zero(&control, sizeof(control));
	iov.iov_base = &held;
	iov.iov_len = sizeof(held);
	msg.msg_iov = &iov;
	msg.msg_iovlen = 1;
	msg.msg_control = &control;
	msg.msg_controllen = sizeof(control.bytes);
	r = kabi_sys(SYS_recvmsg, sock, &msg, MSG_CMSG_CLOEXEC);
	if (r < 0)
		return r;
	if (r != (long)sizeof(held))
		return -EPROTO;
	if (held.status < 0)
		return held.status;
	*pid = held.pid;
	if (msg.msg_controllen < CMSG_LEN(2 * sizeof(int)) ||
	    control.header.cmsg_type != SCM_RIGHTS)
		return -EPROTO;
	kabi_copy(fds, CMSG_DATA(&control.header), 2 * sizeof(int));
	return 0;
}

/*
 * hold: a holder process made with clone(flags) keeps namespaces alive while the caller goes
 * on: with CLONE_NEWUSER a user namespace (ids mapped to mapTo inside, as userns does), with
 * CLONE_NEWPID a PID namespace of which it is init. Returns the holder's PID and keeps
 * descriptors of its user and PID namespaces as "user" and "pid" ("@label.pid"), so a prelude
 * can hold namespaces the caller is not in, such as a sibling's. With nest N the holder first
 * makes N more PID namespaces below its own, each held by its init, and the innermost init's
 * namespaces come back: a grandchild of the caller's PID namespace with CLONE_NEWPID, nest 1.
 * Kept "init": that innermost init's PID in the caller's namespace (the holder's own without
 * nest), as it reads its NSpid through the caller's /proc; not kept where it cannot be read, so
 * only a step that uses it fails its setup.
 */
KABI_OP(op_hold, "hold", "clone", { "flags", KABI_ARG_FLAGS, 0 }, { "mapTo", KABI_ARG_NUMBER, 1 },
	{ "nest", KABI_ARG_NUMBER, 2 })
{
	long uid = kabi_sys(SYS_getuid), gid = kabi_sys(SYS_getgid), init = 0;
	int sock[2], fds[2];
	long r = kabi_sys(SYS_socketpair, AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sock), child;
	int32_t nspid[KABI_NSPID_MAX];
	int depth = kabi_read_nspid("/proc/self/status", nspid);
	int failed;

	if (r < 0)
		return r;
	child = kabi_fork(call->args[0]);
	if (child == 0) {
		kabi_sys(SYS_prctl, PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
		kabi_sys(SYS_close, sock[0]);
		r = 0;
		if ((call->args[0] & KABI_CLONE_NEWUSER) && call->args[1] >= 0)
			r = kabi_map_ids(call->args[1], uid, gid, &failed);
		for (int64_t level = 0; r == 0 && level < call->args[2]; level++) {
			long init = kabi_fork(KABI_CLONE_NEWPID);

			if (init < 0)
				r = init;
			else if (init > 0)
				kabi_wait_for_parent_death();	/* this level's init holds it */
			else
				kabi_sys(SYS_prctl, PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
		}
		send_namespaces(sock[1], r, depth);
		kabi_sys(SYS_close, sock[1]);
		kabi_wait_for_parent_death();
	}
	kabi_sys(SYS_close, sock[1]);
	r = child < 0 ? child : receive_namespaces(sock[0], fds, &init);
	kabi_sys(SYS_close, sock[0]);
	if (r == 0)
		r = kabi_keep(call, "user", fds[0]);
	if (r == 0)
		r = kabi_keep(call, "pid", fds[1]);
	if (r == 0 && init > 0)
		r = kabi_keep(call, "init", init);
	return r < 0 ? r : child;
}

/* save: opens path (a namespace file) read-only; returns the descriptor ("@label"). */
KABI_OP(op_save, "save", "openat", { "path", KABI_ARG_PATH })
{
	return kabi_sys(SYS_openat, AT_FDCWD, call->text, O_RDONLY | O_CLOEXEC);
}

/*
 * Writes head, n in decimal and tail at p, NUL-ended: a /proc path with a number in it.
 * Volatile, as kabi_copy is: a plain loop may compile to a strcpy call.
 */
static void proc_path(char *p, const volatile char *head, int64_t n, const volatile char *tail)
{
	while (*head)
		*p++ = *head++;
	p = kabi_format_int(p, n);
	while ((*p++ = *tail++))
		;
}

/*
 * Whether the caller now has the namespaces of the process a pidfd refers to that nstype asks
 * for: its user namespace (CLONE_NEWUSER), and its active PID namespace as the caller's
 * pid_for_children (CLONE_NEWPID), as validate_nsset() takes them. The process is found by
 * the Pid line of the pidfd's fdinfo (5.3+), the PID in the PID namespace of the /proc
 * instance it is read through (pidfd_show_fdinfo()), the one /proc/PID resolves in; 0 there
 * is a process this /proc cannot see, -1 one that has exited. 1, 0, or -errno; -ENOENT: fd is
 * no pidfd (its fdinfo has no Pid line).
 */
static long joined_target(long pidfd, int64_t nstype)
{
	char path[64];
	int32_t pid;
	long r, same = 1;

	proc_path(path, "/proc/self/fdinfo/", pidfd, "");
	r = kabi_read_numbers(path, "Pid:", &pid, 1);
	if (r < 0)
		return r;
	if (r != 1 || pid <= 0)
		return -ESRCH;
	if (nstype & KABI_CLONE_NEWUSER) {
		proc_path(path, "/proc/", pid, "/ns/user");
		same = kabi_same_namespace(path, "/proc/self/ns/user");
	}
	if (same == 1 && (nstype & KABI_CLONE_NEWPID)) {
		proc_path(path, "/proc/", pid, "/ns/pid");
		same = kabi_same_namespace(path, "/proc/self/ns/pid_for_children");
	}
	return same;
}

/*
 * setns: setns(fd, nstype). Field joined: 1 when the caller now stands where it asked to be.
 * For a namespace descriptor: pid_for_children (CLONE_NEWPID) or the user namespace
 * (CLONE_NEWUSER) is now the descriptor's namespace. For a pidfd (5.8+): every namespace
 * nstype names is now the target process's (joined_target()).
 */
KABI_OP(op_setns, "setns", "setns", { "nstype", KABI_ARG_FLAGS, 0 }, { "fd", KABI_ARG_NUMBER, 1 })
{
	long r = kabi_sys(SYS_setns, call->args[1], call->args[0]), joined;
	const char *now = call->args[0] == (int64_t)KABI_CLONE_NEWUSER
				  ? "/proc/self/ns/user"
				  : "/proc/self/ns/pid_for_children";

	if (r < 0)
		return r;
	joined = joined_target(call->args[1], call->args[0]);
	if (joined == -ENOENT)
		joined = kabi_fd_is_namespace(call->args[1], now);
	if (joined < 0)
		return kabi_setup_failed(call, "prove what was joined", joined);
	kabi_report_field(call->ctx, call->step, "joined", joined);
	return 0;
}
