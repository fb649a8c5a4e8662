/* libcap (Debian: libcap-dev) for the capability matrix; never called in a sandbox process. */
#include <sys/capability.h>
