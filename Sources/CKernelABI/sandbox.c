#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "kabi_raw.h"
#include "kabi_sandbox.h"
#include "kabi_syscalls.h"
#include "sandbox_level.h"

/* The sandbox's parent side, in the test process: start, collect, time out, reap. */

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

/*
 * Whether the sandbox's outermost process has exited, waiting at most timeout_ms. With a pidfd
 * the wait is a poll; without one (CLONE_PIDFD refused) it is waitid(WNOHANG) every few ms.
 * Either way nothing blocks past the deadline.
 */
static int wait_exit(int pidfd, long pid, int report_fd, struct collector *c, int64_t deadline)
{
	for (;;) {
		struct pollfd fds[2] = { { pidfd, POLLIN, 0 }, { report_fd, POLLIN, 0 } };
		int64_t left = deadline - now_ms();
		siginfo_t info;

		if (pidfd < 0) {
			info.si_pid = 0;
			if (waitid(P_PID, (id_t)pid, &info, WEXITED | WNOHANG | WNOWAIT) == 0 &&
			    info.si_pid != 0)
				return 1;
		}
		if (left <= 0)
			return 0;
		if (pidfd < 0 && left > 5)
			left = 5;
		if (poll(pidfd < 0 ? fds + 1 : fds, pidfd < 0 ? 1 : 2, (int)left) < 0)
			continue;	/* EINTR; the deadline still bounds the loop */
		if (report_fd >= 0 && (fds[1].revents & (POLLIN | POLLHUP)))
			collect(c, report_fd);
		if (fds[1].revents & POLLHUP)
			report_fd = -1;	/* every writer is gone: all is read */
		if (pidfd >= 0 && (fds[0].revents & POLLIN))
			return 1;
	}
}

/* SIGKILL through the pidfd, or with kill(2) where pidfd_send_signal is refused (seccomp). */
static void kill_sandbox(int pidfd, long pid, struct kabi_sandbox_outcome *outcome)
{
	if (pidfd >= 0 && syscall(KABI_SYS_PIDFD_SEND_SIGNAL, pidfd, SIGKILL, NULL, 0) == 0)
		return;
	outcome->kill_errno = pidfd >= 0 ? errno : 0;
	/* pid is this thread's unreaped child: it cannot have been reused. */
	if (kill((pid_t)pid, SIGKILL) < 0)
		outcome->kill_fallback_errno = errno;
}

/* Every level's stack above its own guard page, then the body's scratch above another. */
static char *map_stacks(uint32_t levels, size_t page, size_t slot, size_t total)
{
	char *base = mmap(NULL, total, PROT_NONE,
			  MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_STACK, -1, 0);

	if (base == MAP_FAILED)
		return NULL;
	for (uint32_t i = 0; i < levels; i++)
		if (mprotect(base + i * slot + page, slot - page, PROT_READ | PROT_WRITE) < 0)
			goto fail;
	if (mprotect(base + levels * slot + page, BODY_SCRATCH, PROT_READ | PROT_WRITE) < 0)
		goto fail;
	return base;
fail:
	munmap(base, total);
	return NULL;
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
	size_t slot = LEVEL_STACK + page;
	size_t total = (size_t)spec->levels * slot + page + BODY_SCRATCH;
	int pipefd[2], pidfd = -1;
	int64_t deadline = now_ms() + spec->timeout_ms;
	siginfo_t info;
	char *stacks;
	long pid;

	kabi_zero(outcome, sizeof(*outcome));
	if (spec->levels < 1 || spec->levels > KABI_MAX_PID_NS_LEVEL)
		return -EINVAL;
	stacks = map_stacks(spec->levels, page, slot, total);
	if (!stacks)
		return -errno;
	if (pipe2(pipefd, O_CLOEXEC) < 0) {
		pid = -errno;
		munmap(stacks, total);
		return (int)pid;
	}

	start.stacks = stacks;
	start.slot_bytes = slot;
	start.scratch = stacks + spec->levels * slot + page;
	start.outer_uid = geteuid();
	start.outer_gid = getegid();
	start.report_fd = pipefd[1];
	start.parent_fd = pipefd[0];
	pid = kabi_sandbox_clone_level(&start, &pidfd);
	if (pid == -EPERM || pid == -EINVAL || pid == -ENOSYS) {
		/* A seccomp profile may refuse CLONE_PIDFD itself: then the wait polls. */
		pidfd = -1;
		pid = kabi_sandbox_clone_level(&start, NULL);
	}
	close(pipefd[1]);
	if (pid < 0) {
		close(pipefd[0]);
		munmap(stacks, total);
		return (int)pid;
	}
	outcome->pid = (int32_t)pid;
	outcome->has_pidfd = pidfd >= 0;
	fcntl(pipefd[0], F_SETFL, O_NONBLOCK);

	if (!wait_exit(pidfd, pid, pipefd[0], &c, deadline)) {
		outcome->timed_out = 1;
		kill_sandbox(pidfd, pid, outcome);
		/*
		 * The outermost level is PID 1 of its namespace: once it is gone, so is every
		 * process in the namespace (zap_pid_ns_processes() waits for them). Tearing down
		 * 32 levels takes milliseconds; the grace period only bounds a kernel that hangs.
		 */
		if (!wait_exit(pidfd, pid, -1, &c, now_ms() + 5000 + spec->timeout_ms / 2)) {
			outcome->unreaped = 1;
			close(pipefd[0]);
			if (pidfd >= 0)
				close(pidfd);
			return 0;	/* the stacks stay mapped: a process may still run on them */
		}
	}
	while (waitid(P_PID, (id_t)pid, &info, WEXITED) < 0 && errno == EINTR)
		;
	collect(&c, pipefd[0]);
	outcome->wait_code = info.si_code;
	outcome->wait_status = info.si_status;
	outcome->torn_bytes = (uint32_t)c.have;
	close(pipefd[0]);
	if (pidfd >= 0)
		close(pidfd);
	munmap(stacks, total);	/* every process that shared it is gone */
	return 0;
}
