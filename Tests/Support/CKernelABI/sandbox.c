#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sched.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "kabi_sandbox.h"
#include "kabi_syscalls.h"

_Static_assert(sizeof(struct kabi_report) <= 512, "records stay far below PIPE_BUF (atomic)");
_Static_assert(sizeof(struct kabi_report) % 8 == 0, "records pack without padding surprises");

/* --- Runs in sandbox processes: raw syscalls only, no malloc, no stdio. --- */

static long raw(long r)
{
	return r < 0 ? -errno : r;
}

static void put_record(int fd, const struct kabi_report *r)
{
	/* One write per record: pipe writes below PIPE_BUF never interleave. */
	while (syscall(SYS_write, fd, r, sizeof(*r)) < 0 && errno == EINTR)
		;
}

static int parse_nspid(const char *text, long len, int32_t *out)
{
	static const char key[] = "\nNSpid:";
	int count = 0;

	for (long i = 0; i + (long)sizeof(key) - 1 <= len; i++) {
		if (memcmp(text + i, key, sizeof(key) - 1) != 0)
			continue;
		for (long j = i + sizeof(key) - 1; j < len && text[j] != '\n';) {
			while (j < len && (text[j] == ' ' || text[j] == '\t'))
				j++;
			if (j >= len || text[j] == '\n' || count == KABI_NSPID_MAX)
				break;
			int32_t v = 0;
			while (j < len && text[j] >= '0' && text[j] <= '9')
				v = v * 10 + (text[j++] - '0');
			out[count++] = v;
		}
		return count;
	}
	return -ENOENT;
}

static int read_nspid(int32_t *out)
{
	char buf[4096];
	long fd = raw(syscall(SYS_openat, AT_FDCWD, "/proc/self/status", O_RDONLY | O_CLOEXEC));
	long len = 0, n;

	if (fd < 0)
		return (int)fd;
	buf[len++] = '\n';	/* so the first line matches "\nKey:" too */
	while (len < (long)sizeof(buf) &&
	       (n = raw(syscall(SYS_read, fd, buf + len, sizeof(buf) - len))) > 0)
		len += n;
	syscall(SYS_close, fd);
	return parse_nspid(buf, len, out);
}

void kabi_report_self(const struct kabi_body_context *ctx, int32_t tag, int32_t step,
		      int64_t value)
{
	struct kabi_report r;

	memset(&r, 0, sizeof(r));
	r.tag = tag;
	r.step = step;
	r.level = ctx->level;
	r.pid = (int32_t)syscall(SYS_getpid);
	r.uid = (int32_t)syscall(SYS_getuid);
	r.value = value;
	r.nspid_count = read_nspid(r.nspid);
	put_record(ctx->report_fd, &r);
}

static char *format_uint(char *p, unsigned long v)
{
	char digits[24];
	int n = 0;

	do
		digits[n++] = (char)('0' + v % 10);
	while ((v /= 10) != 0);
	while (n > 0)
		*p++ = digits[--n];
	return p;
}

static long write_file(const char *path, const char *text, long len)
{
	long fd = raw(syscall(SYS_openat, AT_FDCWD, path, O_WRONLY | O_CLOEXEC));
	long r;

	if (fd < 0)
		return fd;
	r = raw(syscall(SYS_write, fd, text, len));
	syscall(SYS_close, fd);
	return r < 0 ? r : 0;
}

/* Maps uid/gid 0 of the new user namespace onto the creator's ids, as newuidmap would. */
static long map_root(const struct kabi_body_context *ctx, unsigned long outer_uid,
		     unsigned long outer_gid)
{
	char line[64], *p;
	long r;

	r = write_file("/proc/self/setgroups", "deny", 4);
	if (r < 0) {
		kabi_report_self(ctx, KABI_REPORT_SETUP_FAILED, KABI_STEP_SETGROUPS, r);
		return r;
	}
	p = format_uint(line, 0);
	*p++ = ' ';
	p = format_uint(p, outer_uid);
	*p++ = ' ';
	*p++ = '1';
	r = write_file("/proc/self/uid_map", line, p - line);
	if (r < 0) {
		kabi_report_self(ctx, KABI_REPORT_SETUP_FAILED, KABI_STEP_UID_MAP, r);
		return r;
	}
	p = format_uint(line, 0);
	*p++ = ' ';
	p = format_uint(p, outer_gid);
	*p++ = ' ';
	*p++ = '1';
	r = write_file("/proc/self/gid_map", line, p - line);
	if (r < 0)
		kabi_report_self(ctx, KABI_REPORT_SETUP_FAILED, KABI_STEP_GID_MAP, r);
	return r;
}

static void close_range_or_loop(unsigned int first, unsigned int last)
{
	if (first > last)
		return;
	if (syscall(KABI_SYS_CLOSE_RANGE, first, last, 0) == 0)
		return;
	/* close_range is 5.9+; fds above 4096 are not opened by this suite. */
	for (unsigned int fd = first; fd <= last && fd < 4096; fd++)
		syscall(SYS_close, fd);
}

/*
 * Other tests clone concurrently, so this process may hold their pipes' write ends; closing
 * them keeps every sandbox's fds private to it.
 */
static void close_other_fds(const struct kabi_sandbox_spec *spec, int report_fd)
{
	int keep[KABI_SANDBOX_KEEP_FDS + 1], n = 0;
	unsigned int next = 3;

	keep[n++] = report_fd;
	for (int i = 0; i < KABI_SANDBOX_KEEP_FDS; i++)
		if (spec->keep_fds[i] >= 3)
			keep[n++] = spec->keep_fds[i];
	for (int i = 1; i < n; i++)	/* insertion sort: at most five entries */
		for (int j = i; j > 0 && keep[j - 1] > keep[j]; j--) {
			int t = keep[j];

			keep[j] = keep[j - 1];
			keep[j - 1] = t;
		}
	for (int i = 0; i < n; i++) {
		if ((unsigned int)keep[i] < next)
			continue;
		close_range_or_loop(next, (unsigned int)keep[i] - 1);
		next = (unsigned int)keep[i] + 1;
	}
	close_range_or_loop(next, ~0U);
}

/*
 * The test process has Swift's crash handlers installed; a sandbox process must never run
 * them (they are Swift code), so every signal goes back to its default and none is blocked.
 * sigaction and sigprocmask are async-signal-safe.
 */
static void reset_signals(void)
{
	struct sigaction dfl;
	sigset_t none;

	memset(&dfl, 0, sizeof(dfl));
	dfl.sa_handler = SIG_DFL;
	for (int sig = 1; sig < NSIG; sig++)
		sigaction(sig, &dfl, NULL);	/* SIGKILL, SIGSTOP and glibc's own refuse: fine */
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
}

/*
 * Sandbox levels share the test process's memory (CLONE_VM) and run on stacks of their own:
 * copying the address space of a large multithreaded test process costs several times more
 * than the whole round trip otherwise. They run C only and write to nothing but their stack.
 * The calls under test, made by bodies, still copy memory as the fixtures say.
 */
enum { LEVEL_STACK = 256 * 1024 };

struct level_start {
	const struct kabi_sandbox_spec *spec;
	kabi_sandbox_body body;
	const void *arg;
	char *stacks;		/* one LEVEL_STACK slot per level, level 1 lowest */
	unsigned long outer_uid;
	unsigned long outer_gid;
	int level;
	int report_fd;
	int parent_fd;		/* the pipe's read end, closed at level 1 */
};

static int level_entry(void *start);

static long clone_level(struct level_start *start, int *pidfd)
{
	int flags = CLONE_VM | CLONE_NEWUSER | CLONE_NEWPID | SIGCHLD | (pidfd ? CLONE_PIDFD : 0);
	long r = clone(level_entry, start->stacks + (long)start->level * LEVEL_STACK, flags, start,
		       pidfd);

	return r < 0 ? -errno : r;
}

static int exit_code_of(const siginfo_t *info)
{
	return info->si_code == CLD_EXITED ? info->si_status : 128 + info->si_status;
}

static int level_entry(void *start)
{
	const struct level_start *s = start;
	const struct kabi_sandbox_spec *spec = s->spec;
	struct kabi_body_context ctx = { .report_fd = s->report_fd, .level = s->level,
					 .arg = s->arg };
	struct level_start next;
	siginfo_t info;
	long child, r;

	/* The parent level (or the test thread) going away must take the sandbox with it. */
	syscall(SYS_prctl, PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
	syscall(SYS_prctl, PR_SET_NAME, spec->name, 0, 0, 0);
	if (s->level == 1) {
		syscall(SYS_close, s->parent_fd);
		reset_signals();
		close_other_fds(spec, s->report_fd);
	}
	if (!spec->leave_unmapped && map_root(&ctx, s->outer_uid, s->outer_gid) < 0)
		syscall(SYS_exit_group, KABI_SANDBOX_SETUP_EXIT);
	kabi_report_self(&ctx, KABI_REPORT_LEVEL_READY, 0, 0);

	if ((uint32_t)s->level >= spec->levels)
		syscall(SYS_exit_group, s->body(&ctx) & 0xff);

	next = *s;
	next.level = s->level + 1;
	next.outer_uid = syscall(SYS_getuid);
	next.outer_gid = syscall(SYS_getgid);
	child = clone_level(&next, NULL);
	if (child < 0) {
		kabi_report_self(&ctx, KABI_REPORT_SETUP_FAILED, KABI_STEP_CLONE_LEVEL, child);
		syscall(SYS_exit_group, KABI_SANDBOX_SETUP_EXIT);
	}
	do
		r = raw(syscall(SYS_waitid, P_PID, child, &info, WEXITED, 0));
	while (r == -EINTR);
	if (r < 0) {
		kabi_report_self(&ctx, KABI_REPORT_SETUP_FAILED, KABI_STEP_WAIT_LEVEL, r);
		syscall(SYS_exit_group, KABI_SANDBOX_SETUP_EXIT);
	}
	syscall(SYS_exit_group, exit_code_of(&info));
	return 0;
}

/* --- Runs in the test process. --- */

struct collector {
	struct kabi_report *reports;
	uint32_t max;
	struct kabi_sandbox_outcome *outcome;
	kabi_report_callback on_report;
	void *context;
	union {
		struct kabi_report record;
		char bytes[sizeof(struct kabi_report)];
	} partial;
	size_t have;
};

static void collect(struct collector *c, int fd)
{
	char buf[16 * sizeof(struct kabi_report)];
	long n;

	while ((n = read(fd, buf, sizeof(buf))) > 0) {
		for (long i = 0; i < n; i++) {
			c->partial.bytes[c->have++] = buf[i];
			if (c->have < sizeof(struct kabi_report))
				continue;
			if (c->on_report)
				c->on_report(&c->partial.record, c->context);
			if (c->outcome->report_count < c->max)
				c->reports[c->outcome->report_count++] = c->partial.record;
			else
				c->outcome->reports_dropped++;
			c->have = 0;
		}
	}
}

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int kabi_sandbox_run(const struct kabi_sandbox_spec *spec, kabi_sandbox_body body,
		     const void *arg, struct kabi_report *reports, uint32_t max_reports,
		     kabi_report_callback on_report, void *context,
		     struct kabi_sandbox_outcome *outcome)
{
	struct collector c = { .reports = reports, .max = max_reports, .outcome = outcome,
			       .on_report = on_report, .context = context };
	struct level_start start = { .spec = spec, .body = body, .arg = arg, .level = 1 };
	size_t page = (size_t)sysconf(_SC_PAGESIZE);
	size_t stack_bytes = (size_t)spec->levels * LEVEL_STACK + page;
	int pipefd[2], pidfd = -1;
	int64_t deadline = now_ms() + spec->timeout_ms;
	siginfo_t info;
	char *stacks;
	long pid;

	memset(outcome, 0, sizeof(*outcome));
	if (spec->levels < 1 || spec->levels > KABI_MAX_PID_NS_LEVEL)
		return -EINVAL;
	stacks = mmap(NULL, stack_bytes, PROT_READ | PROT_WRITE,
		      MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_STACK, -1, 0);
	if (stacks == MAP_FAILED)
		return -errno;
	mprotect(stacks, page, PROT_NONE);	/* below the lowest slot: an overflow faults */
	if (pipe2(pipefd, O_CLOEXEC) < 0) {
		pid = -errno;
		munmap(stacks, stack_bytes);
		return (int)pid;
	}

	start.stacks = stacks + page;
	start.outer_uid = geteuid();
	start.outer_gid = getegid();
	start.report_fd = pipefd[1];
	start.parent_fd = pipefd[0];
	pid = clone_level(&start, &pidfd);
	close(pipefd[1]);
	if (pid < 0) {
		close(pipefd[0]);
		munmap(stacks, stack_bytes);
		return (int)pid;
	}
	outcome->pid = (int32_t)pid;
	fcntl(pipefd[0], F_SETFL, O_NONBLOCK);

	for (;;) {
		struct pollfd fds[2] = { { pidfd, POLLIN, 0 }, { pipefd[0], POLLIN, 0 } };
		int64_t left = deadline - now_ms();

		if (left <= 0) {
			syscall(KABI_SYS_PIDFD_SEND_SIGNAL, pidfd, SIGKILL, NULL, 0);
			outcome->timed_out = 1;
			break;
		}
		if (poll(fds, 2, (int)left) < 0)
			continue;	/* EINTR; the deadline still bounds the loop */
		if (fds[1].revents & POLLIN)
			collect(&c, pipefd[0]);
		if (fds[0].revents & POLLIN)
			break;
	}
	/*
	 * The outermost level is PID 1 of its namespace: once it is gone, so is every process in
	 * the namespace (zap_pid_ns_processes() waits for them), every writer and every user of
	 * the stacks.
	 */
	while (waitid(P_PID, (id_t)pid, &info, WEXITED) < 0 && errno == EINTR)
		;
	collect(&c, pipefd[0]);
	outcome->wait_code = info.si_code;
	outcome->wait_status = info.si_status;
	outcome->torn_bytes = (uint32_t)c.have;
	close(pipefd[0]);
	close(pidfd);
	munmap(stacks, stack_bytes);	/* every process that shared it is gone */
	return 0;
}
