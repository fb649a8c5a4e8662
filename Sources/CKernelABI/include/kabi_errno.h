/* errno names, compiled from the target's own <errno.h> so values are right per architecture. */
#ifndef CKERNELABI_KABI_ERRNO_H
#define CKERNELABI_KABI_ERRNO_H

/* "EINVAL" for EINVAL, or NULL when the value has no name here. */
const char *kabi_errno_name(int value);
/* The value for a name such as "EINVAL", or 0 when the name is unknown. */
int kabi_errno_value(const char *name);
#endif
