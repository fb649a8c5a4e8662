#define _GNU_SOURCE
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/syscall.h>

#include "kabi_files.h"
#include "kabi_processes.h"
#include "kabi_raw.h"

/* Sandbox code: raw syscalls only, no malloc, no stdio. */

/* Writes "inside outer 1" to path. */
static long write_id_map(const char *path, int64_t inside, int64_t outer)
{
	char line[64], *p = kabi_format_int(line, inside);

	*p++ = ' ';
	p = kabi_format_int(p, outer);
	*p++ = ' ';
	*p++ = '1';
	return kabi_write_file(path, line, p - line);
}

long kabi_map_ids(int64_t inside, long uid, long gid, int *failed)
{
	long r = kabi_write_file("/proc/self/setgroups", "deny", 4);

	*failed = 1;
	if (r == 0) {
		*failed = 2;
		r = write_id_map("/proc/self/uid_map", inside, uid);
	}
	if (r == 0) {
		*failed = 3;
		r = write_id_map("/proc/self/gid_map", inside, gid);
	}
	if (r == 0)
		*failed = 0;
	return r;
}

/* Whether path names the file st describes: the same st_dev and st_ino. 1, 0, or -errno. */
static long same_file(const struct stat *st, const char *path)
{
	struct stat other;
	long r = kabi_sys(SYS_newfstatat, AT_FDCWD, path, &other, 0);

	if (r < 0)
		return r;
	return st->st_dev == other.st_dev && st->st_ino == other.st_ino;
}

long kabi_fd_is_namespace(long fd, const char *path)
{
	struct stat st;
	long r = kabi_sys(SYS_fstat, fd, &st);

	return r < 0 ? r : same_file(&st, path);
}

long kabi_same_namespace(const char *path, const char *other)
{
	struct stat st;
	long r = kabi_sys(SYS_newfstatat, AT_FDCWD, path, &st, 0);

	return r < 0 ? r : same_file(&st, other);
}

long kabi_inode(const char *path)
{
	struct stat st;
	long r = kabi_sys(SYS_newfstatat, AT_FDCWD, path, &st, 0);

	return r < 0 ? r : (long)st.st_ino;
}

long kabi_capget(struct kabi_cap_sets *sets)
{
	struct kabi_cap_header head = { KABI_CAP_V3, 0 };
	struct kabi_cap_data data[2];
	long r = kabi_sys(SYS_capget, &head, data);

	if (r < 0)
		return r;
	sets->effective = (uint64_t)data[1].effective << 32 | data[0].effective;
	sets->permitted = (uint64_t)data[1].permitted << 32 | data[0].permitted;
	sets->inheritable = (uint64_t)data[1].inheritable << 32 | data[0].inheritable;
	return 0;
}

long kabi_capset(const struct kabi_cap_sets *sets)
{
	struct kabi_cap_header head = { KABI_CAP_V3, 0 };
	struct kabi_cap_data data[2];

	for (int word = 0; word < 2; word++) {
		data[word].effective = (uint32_t)(sets->effective >> (32 * word));
		data[word].permitted = (uint32_t)(sets->permitted >> (32 * word));
		data[word].inheritable = (uint32_t)(sets->inheritable >> (32 * word));
	}
	return kabi_sys(SYS_capset, &head, data);
}

void kabi_wait_for_eof(int fd)
{
	char byte;

	while (kabi_sys(SYS_read, fd, &byte, 1) == -EINTR)
		;
}

long kabi_helper_result(long helper, int made[2], long *value)
{
	long r = helper;

	kabi_sys(SYS_close, made[1]);
	if (helper > 0 && kabi_sys(SYS_read, made[0], value, sizeof(*value)) != (long)sizeof(*value))
		r = -EPIPE;
	kabi_sys(SYS_close, made[0]);
	return r;
}

void kabi_wait_for_parent_death(void)
{
	for (;;)
		kabi_sys(SYS_ppoll, 0, 0, 0, 0, 8);
}
