#include <errno.h>
#include <stddef.h>
#include <string.h>

#include "kabi_errno.h"

#define PAIR(e) { e, #e }

/* Aliases (EWOULDBLOCK, EDEADLOCK, ENOTSUP) are left out: the first name of a value wins. */
static const struct {
	int value;
	const char *name;
} names[] = {
	PAIR(EPERM), PAIR(ENOENT), PAIR(ESRCH), PAIR(EINTR), PAIR(EIO), PAIR(ENXIO),
	PAIR(E2BIG), PAIR(ENOEXEC), PAIR(EBADF), PAIR(ECHILD), PAIR(EAGAIN), PAIR(ENOMEM),
	PAIR(EACCES), PAIR(EFAULT), PAIR(ENOTBLK), PAIR(EBUSY), PAIR(EEXIST), PAIR(EXDEV),
	PAIR(ENODEV), PAIR(ENOTDIR), PAIR(EISDIR), PAIR(EINVAL), PAIR(ENFILE), PAIR(EMFILE),
	PAIR(ENOTTY), PAIR(ETXTBSY), PAIR(EFBIG), PAIR(ENOSPC), PAIR(ESPIPE), PAIR(EROFS),
	PAIR(EMLINK), PAIR(EPIPE), PAIR(EDOM), PAIR(ERANGE), PAIR(EDEADLK), PAIR(ENAMETOOLONG),
	PAIR(ENOLCK), PAIR(ENOSYS), PAIR(ENOTEMPTY), PAIR(ELOOP), PAIR(ENOMSG), PAIR(EIDRM),
	PAIR(ENOSTR), PAIR(ENODATA), PAIR(ETIME), PAIR(ENOSR), PAIR(EREMOTE), PAIR(ENOLINK),
	PAIR(EPROTO), PAIR(EBADMSG), PAIR(EOVERFLOW), PAIR(EBADFD), PAIR(EILSEQ), PAIR(EUSERS),
	PAIR(ENOTSOCK), PAIR(EMSGSIZE), PAIR(EOPNOTSUPP), PAIR(EADDRINUSE), PAIR(ENOBUFS),
	PAIR(EISCONN), PAIR(ENOTCONN), PAIR(ETIMEDOUT), PAIR(ECONNREFUSED), PAIR(EALREADY),
	PAIR(EINPROGRESS), PAIR(ESTALE), PAIR(EDQUOT), PAIR(ECANCELED), PAIR(EOWNERDEAD),
	PAIR(ENOTRECOVERABLE), PAIR(ERFKILL), PAIR(EHWPOISON),
};

const char *kabi_errno_name(int value)
{
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (names[i].value == value)
			return names[i].name;
	return NULL;
}

int kabi_errno_value(const char *name)
{
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (strcmp(names[i].name, name) == 0)
			return names[i].value;
	return 0;
}
