/*
 * Feature probes that C files register, as operations are (KABI_OP): a probe kind of
 * Fixtures/features.json ("kind": "pidfd-handle") is a function in its area's C file, and its
 * entry goes to the kabi_probes section, which the test process walks (FeatureProbe.swift).
 * A probe runs in the test process and makes one call, whose answer the feature's "present"
 * and "absent" judge as they judge every probe's. In a file of sandbox code it still calls
 * nothing outside the suite (kabi_sys, not libc): SandboxCodeTests reads the whole object.
 */
#ifndef CKERNELABI_KABI_PROBE_H
#define CKERNELABI_KABI_PROBE_H

#include <stdint.h>

struct kabi_probe {
	const char *kind;
	/* The call as evidence names it; with takes_request, a "%lx" in it stands for the request. */
	const char *call;
	/* What evidence says after the call when it succeeds; NULL: "returned" and its result. */
	const char *succeeded;
	/* The kind takes "request", an ioctl request by name or number, passed to run. */
	int32_t takes_request;
	/*
	 * Makes the call: its result, or -errno. When a call it needs first fails (a pidfd of its
	 * own), that call's -errno, with *needed set to the call as evidence names it: without it
	 * (ENOSYS where no seccomp filter is) the kernel lacks the feature, else the probe is
	 * blocked.
	 */
	long (*run)(unsigned long request, const char **needed);
};

/*
 * Defines probe function for the kind kind_name, whose call evidence names call_text, with the
 * entry's other fields as designated initializers; the function's body follows the macro:
 *
 *	KABI_PROBE(probe_pidfd_ioctl, "pidfd-ioctl", "ioctl(pidfd, 0x%lx)", .takes_request = 1)
 *	{
 *		...
 *	}
 */
#define KABI_PROBE(function, kind_name, call_text, ...)                                        \
	static long function(unsigned long request, const char **needed);                       \
	__attribute__((used, section("kabi_probes"), aligned(8))) static const struct kabi_probe \
		function##_entry = { .kind = kind_name, .call = call_text, .run = function,      \
				     __VA_ARGS__ };                                              \
	static long function(unsigned long request, const char **needed)

/* The registered probe kinds, in no particular order (test process only). */
unsigned int kabi_probe_count(void);
const struct kabi_probe *kabi_probe_at(unsigned int index);

#endif
