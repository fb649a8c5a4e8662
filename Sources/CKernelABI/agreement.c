#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/ioctl.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/syscall.h>

#include "kabi_clone3.h"
#include "kabi_files.h"
#include "kabi_nsfs.h"
#include "kabi_processes.h"
#include "kabi_program.h"
#include "kabi_raw.h"
#include "kabi_syscalls.h"
#include "sandbox_level.h"

/*
 * Every route to a PID gives the same answer. The case's tree: P1, the caller's PID namespace,
 * holds P2 and its sibling P2b; P2 holds P3. Targets: the caller, the inits of P2, P3 and P2b,
 * a second process of P3 and a non-leader thread of it. Each namespace mounts its own procfs
 * (fs/proc/root.c proc_fill_super()) on the tmpfs at path; a vantage process in each
 * namespace (setns(CLONE_NEWPID) then fork: kernel/nsproxy.c, kernel/pid_namespace.c)
 * compares, for every target, what each route says with the target's NSpid read through P1's
 * procfs at the vantage's level (0 where the target is invisible from there). Sandbox code:
 * raw syscalls only, no malloc, no stdio.
 */

enum { NS_P1, NS_P2, NS_P3, NS_P2B, NS_COUNT };
enum { T_CALLER, T_P2_INIT, T_P3_INIT, T_P3_CHILD, T_THREAD, T_P2B_INIT, T_COUNT };
enum { R_PROCFS, R_FDINFO, R_INFO, R_FROM, R_TGID, R_PIDIN, R_TGIDIN, R_COUNT };
enum { PATH_MAX_HERE = 96, WAIT_MS = 10000, INFO_VER0 = 64, PIDFD_THREAD_FLAG = O_EXCL };
/* An ioctl that succeeded with 0 (as_pid()): below every -errno, so never a real answer. */
enum { ANSWERED_ZERO = -4096 };

static const int ns_level[NS_COUNT] = { 0, 1, 2, 1 };
/* The namespaces each target has a PID in, outermost first; -1 past its own. */
static const int8_t chain[T_COUNT][3] = {
	{ NS_P1, -1, -1 },    { NS_P1, NS_P2, -1 },    { NS_P1, NS_P2, NS_P3 },
	{ NS_P1, NS_P2, NS_P3 }, { NS_P1, NS_P2, NS_P3 }, { NS_P1, NS_P2B, -1 },
};
static const int leader[T_COUNT] = { T_CALLER, T_P2_INIT, T_P3_INIT, T_P3_CHILD, T_P3_CHILD,
				     T_P2B_INIT };

struct world {
	char root[PATH_MAX_HERE / 2];
	int32_t nspid[T_COUNT][KABI_NSPID_MAX];	/* via P1's procfs (the thread's: TIDs) */
	long pidfd[T_COUNT];			/* -1: none (a thread before PIDFD_THREAD) */
	long nsfd[NS_COUNT];
	int ioctls, info;			/* whether the kernel has the routes */
	long ready;				/* the announcement pipe's write end */
};

struct tally {
	int64_t checked, bad[R_COUNT], enotty;
	int64_t bad_at, bad_got, bad_want;	/* the first disagreement */
};

/* The PID target t has in namespace ns, or 0 where it has none there. */
static int32_t pid_in(const struct world *w, int t, int ns)
{
	int level = ns_level[ns];

	return level < 3 && chain[t][level] == ns ? w->nspid[t][level] : 0;
}

/* Appends text (and then the number n when n >= 0) at p; returns the end, NUL-ended. */
static char *append(char *p, const char *text, int64_t n)
{
	const volatile char *s = text;

	while (*s)
		*p++ = *s++;
	if (n >= 0)
		p = kabi_format_int(p, n);
	*p = 0;
	return p;
}

/* root + the namespace's directory + rest (with n): "/tmp/p2/17/status". */
static void ns_path(char *out, const struct world *w, int ns, const char *rest, int64_t n,
		    const char *tail)
{
	static const char *const dirs[NS_COUNT] = { "/p1", "/p2", "/p3", "/p2b" };
	char *p = append(out, w->root, -1);

	p = append(p, dirs[ns], -1);
	p = append(p, rest, n);
	append(p, tail, -1);
}

/* Tells the caller which target this process (or thread) is, by its PID in P1. */
static void announce(const struct world *w, int32_t who, const char *self)
{
	char path[PATH_MAX_HERE];
	int32_t nspid[KABI_NSPID_MAX], record[2] = { who, 0 };
	int n;

	ns_path(path, w, NS_P1, self, -1, "/status");
	n = kabi_read_nspid(path, nspid);
	record[1] = n > 0 ? nspid[0] : (n < 0 ? n : -ENOENT);
	kabi_sys(SYS_write, w->ready, record, sizeof(record));
}

#if KABI_SANDBOX_SHARES_MEMORY
static struct world *thread_world;

static int thread_main(void *arg)
{
	(void)arg;
	announce(thread_world, T_THREAD, "/thread-self");
	kabi_wait_for_parent_death();
}
#endif

/* An init of a new PID namespace: mounts its procfs, announces itself, maybe makes more. */
static long spawn_init(struct world *w, struct kabi_call *call, int ns, int who)
{
	char path[PATH_MAX_HERE];
	long child = kabi_fork(KABI_CLONE_NEWPID);

	if (child != 0)
		return child;
	kabi_sys(SYS_prctl, PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
	ns_path(path, w, ns, "", -1, "");
	child = kabi_sys(SYS_mount, "proc", path, "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, 0);
	if (child < 0) {
		int32_t record[2] = { who, (int32_t)child };

		kabi_sys(SYS_write, w->ready, record, sizeof(record));
		kabi_wait_for_parent_death();
	}
	announce(w, who, "/self");
	if (who == T_P2_INIT)
		spawn_init(w, call, NS_P3, T_P3_INIT);
	if (who == T_P3_INIT && kabi_fork(0) == 0) {
		kabi_sys(SYS_prctl, PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
		announce(w, T_P3_CHILD, "/self");
#if KABI_SANDBOX_SHARES_MEMORY
		thread_world = w;
		child = kabi_clone_on_stack(KABI_CLONE_VM | KABI_CLONE_FS | KABI_CLONE_FILES |
					    KABI_CLONE_SIGHAND | KABI_CLONE_THREAD |
					    KABI_CLONE_SYSVSEM,
				    (char *)call->ctx->scratch + call->ctx->scratch_bytes, 0,
				    thread_main, 0);
#else
		child = -ENOSYS;
#endif
		if (child < 0) {
			int32_t record[2] = { T_THREAD, (int32_t)child };

			kabi_sys(SYS_write, w->ready, record, sizeof(record));
		}
	}
	kabi_wait_for_parent_death();
}

static void judge(struct tally *tl, int route, int vantage, int t, int64_t got, int64_t want)
{
	tl->checked++;
	if (got == want)
		return;
	if (!tl->bad[0] && !tl->bad[1] && !tl->bad[2] && !tl->bad[3] && !tl->bad[4] &&
	    !tl->bad[5] && !tl->bad[6]) {
		tl->bad_at = vantage * 10 + t;
		tl->bad_got = got;
		tl->bad_want = want;
	}
	tl->bad[route]++;
}

/*
 * An ioctl's answer as a PID: 0 for ESRCH (the process has no PID there). Every lookup here
 * finds its task, so the known ENOTTY for a PID not found (6.12 to 7.0.10: a1d220d9dafa8,
 * fixed by 725ecd80688b) never applies: an ENOTTY disagrees, and is counted in enotty too.
 * A success of 0 is no answer either: ns_ioctl() turns a PID of 0 into -ESRCH, and a kernel
 * that left it 0 would otherwise read as the ESRCH expected for an invisible process, so it
 * becomes ANSWERED_ZERO, which disagrees with every PID and with 0.
 */
static int64_t as_pid(struct tally *tl, long r)
{
	tl->enotty += r == -ENOTTY;
	return r == -ESRCH ? 0 : r == 0 ? ANSWERED_ZERO : r;
}

/* Whether list (n entries) is the target's NSpid from level on. */
static int is_suffix(const struct world *w, int t, int level, const int32_t *list, int n)
{
	int depth = 0;

	while (depth < 3 && chain[t][depth] >= 0)
		depth++;
	if (n != depth - level)
		return 0;
	for (int i = 0; i < n; i++)
		if (list[i] != w->nspid[t][level + i])
			return 0;
	return 1;
}

/*
 * Whether the vantage's procfs lists exactly the processes of its namespace (fs/proc/base.c
 * proc_pid_readdir(): next_tgid() in proc_pid_ns()): every target process visible there, the
 * vantage itself, and, but in P1 (the sandbox's, holding more), nothing else.
 */
static int lists_visible(const struct world *w, int x)
{
	char path[PATH_MAX_HERE], buf[2048] __attribute__((aligned(8)));
	long self = kabi_sys(SYS_getpid), fd, n;
	int found = 0, wanted = 0, other = 0;

	for (int t = 0; t < T_COUNT; t++)
		if (t != T_THREAD && pid_in(w, t, x))
			wanted |= 1 << t;
	ns_path(path, w, x, "", -1, "");
	if ((fd = kabi_sys(SYS_openat, AT_FDCWD, path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
		return 0;
	while ((n = kabi_sys(SYS_getdents64, fd, buf, sizeof(buf))) > 0)
		for (long at = 0; at < n;) {
			const struct kabi_dirent64 *entry = (const void *)(buf + at);
			int64_t pid = 0;
			int t;

			at += entry->d_reclen;
			for (const char *c = entry->d_name; *c >= '0' && *c <= '9'; c++)
				pid = pid * 10 + (*c - '0');
			if (pid == 0 || pid == self)
				continue;
			for (t = 0; t < T_COUNT; t++)
				if (wanted & (1 << t) && pid == pid_in(w, t, x))
					break;
			if (t < T_COUNT)
				found |= 1 << t;
			else
				other++;
		}
	kabi_sys(SYS_close, fd);
	return n == 0 && found == wanted && (x == NS_P1 || other == 0);
}

/* Everything the vantage process in namespace x sees of every target. */
static void vantage(const struct world *w, int x, struct tally *tl)
{
	char path[PATH_MAX_HERE];
	int32_t list[KABI_NSPID_MAX];
	int level = ns_level[x], n;

	/* Invisible through procfs too: the vantage's lists no process of another namespace. */
	judge(tl, R_PROCFS, x, T_COUNT, lists_visible(w, x), 1);
	for (int t = 0; t < T_COUNT; t++) {
		int32_t p = pid_in(w, t, x), lead = pid_in(w, leader[t], x);

		if (p) {	/* NSpid through this namespace's procfs */
			ns_path(path, w, x, "/", p, "/status");
			n = kabi_read_nspid(path, list);
			judge(tl, R_PROCFS, x, t, is_suffix(w, t, level, list, n), 1);
		}
		if (w->pidfd[t] >= 0) {	/* fdinfo through this namespace's procfs */
			ns_path(path, w, x, "/self/fdinfo/", w->pidfd[t], "");
			n = kabi_read_numbers(path, "Pid:", list, 1);
			judge(tl, R_FDINFO, x, t, n == 1 ? list[0] : -1000 + n, p);
			if (p) {
				n = kabi_read_numbers(path, "NSpid:", list, KABI_NSPID_MAX);
				judge(tl, R_FDINFO, x, t, is_suffix(w, t, level, list, n), 1);
			}
		}
		if (w->pidfd[t] >= 0 && w->info) {	/* PIDFD_GET_INFO: pid and tgid */
			uint64_t words[INFO_VER0 / 8];
			int32_t pid_tgid[2];
			long r;

			kabi_zero(words, sizeof(words));
			words[0] = 1;	/* PIDFD_INFO_PID */
			r = kabi_sys(SYS_ioctl, w->pidfd[t],
					  _IOC(_IOC_READ | _IOC_WRITE, 0xFF, 11, INFO_VER0), words);

			kabi_copy(pid_tgid, (char *)words + 16, sizeof(pid_tgid));
			if (r == -ESRCH || r == -EREMOTE)
				pid_tgid[0] = pid_tgid[1] = 0;
			else if (r < 0)
				pid_tgid[0] = pid_tgid[1] = (int32_t)r;
			/* pidfd_info() answers ESRCH for a pid or tgid of 0, so a success with 0
			 * would otherwise read as the ESRCH expected for an invisible process. */
			for (int i = 0; r == 0 && i < 2; i++)
				if (pid_tgid[i] == 0)
					pid_tgid[i] = ANSWERED_ZERO;
			judge(tl, R_INFO, x, t, pid_tgid[0], p);
			judge(tl, R_INFO, x, t, pid_tgid[1], lead);
		}
		for (int y = 0; w->ioctls && y < NS_COUNT; y++) {
			int32_t there = pid_in(w, t, y), there_lead = pid_in(w, leader[t], y);

			if (there) {	/* from namespace y into the vantage's */
				judge(tl, R_FROM, x, t, as_pid(tl, kabi_sys(SYS_ioctl, w->nsfd[y],
					KABI_NS_GET_PID_FROM_PIDNS, there)), p);
				judge(tl, R_TGID, x, t, as_pid(tl, kabi_sys(SYS_ioctl, w->nsfd[y],
					KABI_NS_GET_TGID_FROM_PIDNS, there)), lead);
			}
			if (p) {	/* from the vantage's namespace into y */
				judge(tl, R_PIDIN, x, t, as_pid(tl, kabi_sys(SYS_ioctl, w->nsfd[y],
					KABI_NS_GET_PID_IN_PIDNS, p)), there);
				judge(tl, R_TGIDIN, x, t, as_pid(tl, kabi_sys(SYS_ioctl, w->nsfd[y],
					KABI_NS_GET_TGID_IN_PIDNS, p)), there_lead);
			}
		}
	}
}

/* Waits (bounded) until fd has sizeof(buf) bytes to read; 0, or -errno. */
static long read_in_time(long fd, void *buf, long size)
{
	struct pollfd ready = { .fd = (int)fd, .events = POLLIN };
	long r = kabi_sys(SYS_poll, &ready, 1, WAIT_MS);

	if (r == 0)
		return -ETIMEDOUT;
	if (r < 0)
		return r;
	r = kabi_sys(SYS_read, fd, buf, size);
	return r == size ? 0 : (r < 0 ? r : -EPIPE);
}

/* Runs vantage() in a process of namespace x: a child of a helper that entered x. */
static long run_vantage(const struct world *w, int x, struct tally *tl)
{
	int pipefd[2];
	long r = kabi_sys(SYS_pipe2, pipefd, O_CLOEXEC), helper;
	siginfo_t info;

	if (r < 0)
		return r;
	helper = kabi_fork(0);
	if (helper == 0) {
		long v;

		kabi_sys(SYS_prctl, PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
		r = kabi_sys(SYS_setns, w->nsfd[x], KABI_CLONE_NEWPID);
		v = r < 0 ? r : kabi_fork(0);
		if (v == 0) {
			kabi_sys(SYS_prctl, PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
			vantage(w, x, tl);
			kabi_sys(SYS_write, pipefd[1], tl, sizeof(*tl));
			kabi_sys(SYS_exit_group, 0);
		}
		if (v > 0)
			kabi_reap(v, &info);
		kabi_sys(SYS_exit_group, v < 0 ? -v : 0);
	}
	kabi_sys(SYS_close, pipefd[1]);
	r = helper < 0 ? helper : read_in_time(pipefd[0], tl, sizeof(*tl));
	kabi_sys(SYS_close, pipefd[0]);
	if (helper > 0) {
		if (r < 0)
			kabi_sys(SYS_kill, helper, SIGKILL);
		kabi_reap(helper, &info);
	}
	return r;
}

/* Builds the tree and learns every target's NSpid through P1's procfs: 0, or -errno. */
static long build(struct world *w, struct kabi_call *call)
{
	static const char *const dirs[] = { "/p2", "/p3", "/p2b" };
	char path[PATH_MAX_HERE];
	int pipefd[2], seen = 0;
	long r;

	for (unsigned int i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++) {
		append(append(path, w->root, -1), dirs[i], -1);
		r = kabi_sys(SYS_mkdirat, AT_FDCWD, path, 0700);
		if (r < 0 && r != -EEXIST)
			return kabi_setup_failed(call, "mkdir a procfs mount point", r);
	}
	if ((r = kabi_sys(SYS_pipe2, pipefd, O_CLOEXEC)) < 0)
		return kabi_setup_failed(call, "pipe2", r);
	w->ready = pipefd[1];
	r = spawn_init(w, call, NS_P2, T_P2_INIT);
	if (r > 0)
		r = spawn_init(w, call, NS_P2B, T_P2B_INIT);
	kabi_sys(SYS_close, pipefd[1]);
	if (r < 0) {
		kabi_sys(SYS_close, pipefd[0]);
		return kabi_setup_failed(call, "clone(CLONE_NEWPID)", r);
	}
	w->nspid[T_CALLER][0] = (int32_t)kabi_sys(SYS_getpid);
	while (seen != (1 << T_COUNT) - 2) {
		int32_t record[2];

		if ((r = read_in_time(pipefd[0], record, sizeof(record))) < 0)
			break;
		if (record[0] <= T_CALLER || record[0] >= T_COUNT || record[1] <= 0) {
			r = record[1] < 0 ? record[1] : -EPROTO;
			break;
		}
		seen |= 1 << record[0];
		w->nspid[record[0]][0] = record[1];
	}
	kabi_sys(SYS_close, pipefd[0]);
	if (r < 0)
		return kabi_setup_failed(call, "start the namespaces' processes and thread", r);
	for (int t = 0; t < T_COUNT; t++) {
		int depth = 0;

		while (depth < 3 && chain[t][depth] >= 0)
			depth++;
		ns_path(path, w, NS_P1, "/", w->nspid[t][0], "/status");
		if (kabi_read_nspid(path, w->nspid[t]) != depth)
			return kabi_setup_failed(call, "read a target's NSpid through P1's procfs",
						 -EPROTO);
	}
	return 0;
}

/* Opens a pidfd of every target and a file of every namespace, and probes the routes. */
static long open_routes(struct world *w, struct kabi_call *call)
{
	static const int init_of[NS_COUNT] = { T_CALLER, T_P2_INIT, T_P3_INIT, T_P2B_INIT };
	char path[PATH_MAX_HERE];
	uint64_t words[INFO_VER0 / 8];
	long r;

	kabi_zero(words, sizeof(words));
	words[0] = 1;	/* PIDFD_INFO_PID */

	for (int t = 0; t < T_COUNT; t++) {
		r = kabi_sys(KABI_SYS_PIDFD_OPEN, w->nspid[t][0],
			     t == T_THREAD ? PIDFD_THREAD_FLAG : 0);
		if (r == -EINVAL && t == T_THREAD)
			r = -1;	/* before 6.9: no pidfd of a thread */
		else if (r < 0)
			return kabi_setup_failed(call, "pidfd_open", r);
		w->pidfd[t] = r;
	}
	for (int ns = 0; ns < NS_COUNT; ns++) {
		ns_path(path, w, NS_P1, "/", w->nspid[init_of[ns]][0], "/ns/pid");
		if ((r = kabi_step_open(call, path)) < 0)
			return KABI_STEP_ABORTED;
		w->nsfd[ns] = r;
	}
	r = kabi_sys(SYS_ioctl, w->nsfd[NS_P1], KABI_NS_GET_PID_FROM_PIDNS, w->nspid[T_CALLER][0]);
	w->ioctls = r != -ENOTTY;	/* 6.11 (ca567df74a28) */
	r = kabi_sys(SYS_ioctl, w->pidfd[T_CALLER],
		     _IOC(_IOC_READ | _IOC_WRITE, 0xFF, 11, INFO_VER0), words);
	/* 6.13; before: ENOTTY (no pidfd ioctls), EINVAL on 6.11, 6.12 (a non-zero argument) */
	w->info = r != -ENOTTY && r != -EINVAL;
	return 0;
}

/*
 * route-agreement: builds the tree (procfs instances on the tmpfs at path, which the caller's
 * mount namespace owns) and runs a vantage in P1, P2, P3 and P2b. Fields: checked (how many
 * comparisons were made), and per route how many disagreed with NSpid through P1's procfs:
 * procfs~nspid (the vantage namespace's own procfs), fdinfo~nspid (a pidfd's Pid and NSpid
 * through it), info~nspid (PIDFD_GET_INFO's pid and tgid), from~nspid, tgid~nspid,
 * pidin~nspid and tgidin~nspid (the four translation ioctls, each namespace's file); routes
 * (1 procfs and fdinfo, 2 the ioctls, 4 PIDFD_GET_INFO, 8 a thread's pidfd), enotty (ioctl
 * answers ENOTTY), badAt (vantage * 10 + target, 6 the listing, of the first disagreement),
 * badGot, badWant. Returns 0, or -errno. Registered as making pidfd_open, the call a seccomp
 * profile may refuse (the case then SKIPs); the ioctls are never refused alone.
 */
KABI_OP_WITH((.needs_trampoline = "the agreement case's thread is started with the x86-64 "
				   "clone trampoline"),
	     op_route_agreement, "route-agreement", "pidfd_open", { "path", KABI_ARG_PATH })
{
	static const char *const names[R_COUNT] = { "procfs~nspid", "fdinfo~nspid", "info~nspid",
						     "from~nspid",   "tgid~nspid",   "pidin~nspid",
						     "tgidin~nspid" };
	struct world w;
	struct tally sum, one;
	long r;

	kabi_zero(&w, sizeof(w));
	kabi_zero(&sum, sizeof(sum));
	/* Measured before it is copied: a step's text (64 bytes) is longer than root. */
	for (long n = 0; call->text[n]; n++)
		if (n >= (long)sizeof(w.root) - 2)
			return kabi_setup_failed(call, "path (too long)", -ENAMETOOLONG);
	append(w.root, call->text, -1);
	if ((r = build(&w, call)) < 0 || (r = open_routes(&w, call)) < 0)
		return r;
	for (int x = 0; x < NS_COUNT; x++) {
		kabi_zero(&one, sizeof(one));
		if ((r = run_vantage(&w, x, &one)) < 0)
			return kabi_setup_failed(call, "run a vantage process in a namespace", r);
		if (one.bad_at + one.bad_got + one.bad_want && !sum.bad_at && !sum.bad_got &&
		    !sum.bad_want) {
			sum.bad_at = one.bad_at;
			sum.bad_got = one.bad_got;
			sum.bad_want = one.bad_want;
		}
		sum.checked += one.checked;
		sum.enotty += one.enotty;
		for (int i = 0; i < R_COUNT; i++)
			sum.bad[i] += one.bad[i];
	}
	for (int i = 0; i < NS_COUNT; i++)
		kabi_sys(SYS_close, w.nsfd[i]);
	for (int t = 0; t < T_COUNT; t++)
		if (w.pidfd[t] >= 0)
			kabi_sys(SYS_close, w.pidfd[t]);
	kabi_report_field(call->ctx, call->step, "checked", sum.checked);
	for (int i = 0; i < R_COUNT; i++)
		kabi_report_field(call->ctx, call->step, names[i], sum.bad[i]);
	r = 1 | (w.ioctls ? 2 : 0) | (w.info ? 4 : 0) | (w.pidfd[T_THREAD] >= 0 ? 8 : 0);
	kabi_report_field(call->ctx, call->step, "routes", r);
	kabi_report_field(call->ctx, call->step, "enotty", sum.enotty);
	kabi_report_field(call->ctx, call->step, "badAt", sum.bad_at);
	kabi_report_field(call->ctx, call->step, "badGot", sum.bad_got);
	kabi_report_field(call->ctx, call->step, "badWant", sum.bad_want);
	return 0;
}
