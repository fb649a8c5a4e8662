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
	pid = kabi_sandbox_clone_level(&start, &pidfd);
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
