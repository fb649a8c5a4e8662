#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <sys/syscall.h>

#include "kabi_files.h"
#include "kabi_raw.h"
#include "kabi_sandbox.h"

/* Runs in sandbox processes too: raw syscalls only, no malloc, no stdio. */

char *kabi_format_int(char *p, int64_t v)
{
	char digits[24];
	int n = 0;
	uint64_t u = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;

	do
		digits[n++] = (char)('0' + u % 10);
	while ((u /= 10) != 0);
	if (v < 0)
		*p++ = '-';
	while (n > 0)
		*p++ = digits[--n];
	return p;
}

char *kabi_concat(char *buf, size_t len, ...)
{
	size_t n = 0;
	const char *s;
	va_list ap;

	va_start(ap, len);
	while ((s = va_arg(ap, const char *)) != 0)
		while (*s && n + 1 < len)
			buf[n++] = *s++;
	va_end(ap);
	buf[n] = 0;
	return buf;
}

long kabi_write_file(const char *path, const char *text, long len)
{
	long fd = kabi_sys(SYS_openat, AT_FDCWD, path, O_WRONLY | O_CLOEXEC);
	long r;

	if (fd < 0)
		return fd;
	r = kabi_sys(SYS_write, fd, text, len);
	kabi_sys(SYS_close, fd);
	return r < 0 ? r : 0;
}

long kabi_write_int(const char *path, int64_t v)
{
	char text[24];

	return kabi_write_file(path, text, kabi_format_int(text, v) - text);
}

int64_t kabi_read_int(const char *path)
{
	char buf[32];
	long fd = kabi_sys(SYS_openat, AT_FDCWD, path, O_RDONLY | O_CLOEXEC);
	long n;
	int64_t v = 0;

	if (fd < 0)
		return fd;
	n = kabi_sys(SYS_read, fd, buf, sizeof(buf));
	kabi_sys(SYS_close, fd);
	if (n < 0)
		return n;
	for (long i = 0; i < n && buf[i] >= '0' && buf[i] <= '9'; i++)
		v = v * 10 + (buf[i] - '0');
	return v;
}

/* The numbers after key on the line that starts with it (text starts with '\n'). */
static int parse_numbers(const char *text, long len, const char *key, int32_t *out, int max)
{
	const volatile char *k = key;	/* a plain loop may compile to a strlen call */
	long key_len = 0, i;
	int count = 0;

	while (k[key_len])
		key_len++;
	for (i = 0; i + 1 + key_len <= len; i++)
		if (text[i] == '\n' && kabi_equal(text + i + 1, key, (unsigned long)key_len))
			break;
	if (i + 1 + key_len > len)
		return -ENOENT;
	for (long j = i + 1 + key_len; j < len && text[j] != '\n';) {
		int32_t v = 0, sign = 1;

		while (j < len && (text[j] == ' ' || text[j] == '\t'))
			j++;
		if (j >= len || text[j] == '\n' || count == max)
			break;
		if (text[j] == '-') {
			sign = -1;
			j++;
		}
		while (j < len && text[j] >= '0' && text[j] <= '9')
			v = v * 10 + (text[j++] - '0');
		out[count++] = sign * v;
	}
	return count;
}

/*
 * Makes room in a full buf (size bytes, len == size, the unfinished line from line on): leaves
 * out its longest line, so that every line it keeps is whole and the short ones, the numbers
 * read from it, stay. Returns the new length; *skip is set when the unfinished line went.
 */
static long make_room(char *buf, long size, long *line, int *skip)
{
	long longest = *line, longest_len = size - *line, start = 1;

	for (long i = 1; i < *line; i++)
		if (buf[i] == '\n') {
			if (i + 1 - start > longest_len) {
				longest = start;
				longest_len = i + 1 - start;
			}
			start = i + 1;
		}
	if (longest == *line) {
		*skip = 1;
		return *line;
	}
	kabi_copy(buf + longest, buf + longest + longest_len,
		  (unsigned long)(size - longest - longest_len));
	*line -= longest_len;
	return size - longest_len;
}

long kabi_read_lines(const char *path, char *buf, long size)
{
	long fd = kabi_sys(SYS_openat, AT_FDCWD, path, O_RDONLY | O_CLOEXEC);
	long len = 1, line = 1, n = 0;	/* line: where the unfinished line starts */
	int skip = 0;			/* the unfinished line was left out: drop it to its end */

	if (fd < 0)
		return fd;
	buf[0] = '\n';	/* so the first line matches "\nKey:" too */
	while ((n = kabi_sys(SYS_read, fd, buf + len, size - len)) > 0) {
		long end = len + n, from = len;

		if (skip) {
			while (from < end && buf[from] != '\n')
				from++;
			if (from == end)
				continue;
			skip = 0;
			kabi_copy(buf + len, buf + from + 1, (unsigned long)(end - from - 1));
			end -= from + 1 - len;
		}
		for (long i = end - 1; i >= len; i--)
			if (buf[i] == '\n') {
				line = i + 1;
				break;
			}
		/*
		 * Full: a line cut short would read as other numbers ("NSpid: 47" for 4711), and a
		 * member of hundreds of groups has a Groups line that pushes NSpid past 4096 bytes.
		 */
		len = end == size ? make_room(buf, size, &line, &skip) : end;
	}
	kabi_sys(SYS_close, fd);
	/* A read that fails midway leaves lines missing, which would read as absent ones. */
	return n < 0 ? n : len;
}

int kabi_parse_numbers(const char *text, long len, const char *key, int32_t *out, int max)
{
	return len < 0 ? (int)len : parse_numbers(text, len, key, out, max);
}

int kabi_read_numbers(const char *path, const char *key, int32_t *out, int max)
{
	char buf[4096];

	return kabi_parse_numbers(buf, kabi_read_lines(path, buf, sizeof(buf)), key, out, max);
}

int kabi_read_nspid(const char *status, int32_t *out)
{
	return kabi_read_numbers(status, "NSpid:", out, KABI_NSPID_MAX);
}
