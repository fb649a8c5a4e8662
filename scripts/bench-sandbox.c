/*
 * The plain-C side of scripts/bench: one sandbox round trip (clone3 of a user + PID
 * namespace, id maps, one record over the pipe, pidfd wait, reap), from a small C program.
 * Usage: bench-sandbox ROUNDS
 */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "CKernelABI.h"

int main(int argc, char **argv)
{
	int rounds = argc > 1 ? atoi(argv[1]) : 2000;
	struct kabi_sandbox_spec spec = { .levels = 1, .timeout_ms = 10000,
					  .keep_fds = { -1, -1, -1, -1 }, .name = "pidns-bench" };
	struct kabi_report reports[8];
	struct kabi_sandbox_outcome outcome;
	struct timespec start, end;
	unsigned int count = 0;

	clock_gettime(CLOCK_MONOTONIC, &start);
	for (int i = 0; i < rounds; i++) {
		int r = kabi_sandbox_run(&spec, kabi_body_fan_out, &count, reports, 8, NULL, NULL,
					 &outcome);

		if (r < 0 || outcome.report_count != 1 || outcome.wait_status != 0) {
			fprintf(stderr, "bench-sandbox: round %d failed (%d)\n", i, r);
			return 1;
		}
	}
	clock_gettime(CLOCK_MONOTONIC, &end);
	printf("%.1f\n", ((end.tv_sec - start.tv_sec) * 1e9 + (end.tv_nsec - start.tv_nsec)) /
				 rounds / 1000.0);
	return 0;
}
