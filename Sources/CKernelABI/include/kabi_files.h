/* Small files under /proc, for sandbox code and the test process alike: raw syscalls only. */
#ifndef CKERNELABI_KABI_FILES_H
#define CKERNELABI_KABI_FILES_H

#include <stddef.h>
#include <stdint.h>

/* Writes v in decimal ('-' first if negative) at p; returns the end. No NUL. */
char *kabi_format_int(char *p, int64_t v);

/*
 * Writes the NUL-ended strings that follow len, up to a null pointer, one after another into buf
 * (len bytes with the NUL; cut short if they do not fit). Returns buf.
 */
char *kabi_concat(char *buf, size_t len, ...);

/* Writes len bytes of text to path in one write: 0, or -errno of open or write. */
long kabi_write_file(const char *path, const char *text, long len);

/* Writes a decimal sysctl in one write: 0, or -errno of open or write. */
long kabi_write_int(const char *path, int64_t v);

/* Reads a decimal sysctl: the value, or -errno. */
int64_t kabi_read_int(const char *path);

/*
 * The NSpid line of a status file (/proc/self/status, /proc/<pid>/status): the number of
 * entries stored in out (at most 33, outermost first), or -errno (-ENOENT without the line).
 */
int kabi_read_nspid(const char *status, int32_t *out);

/*
 * The numbers on the line of path that starts with key ("Pid:" of a pidfd's fdinfo): how many
 * were stored in out (at most max), or -errno (-ENOENT without the line).
 */
int kabi_read_numbers(const char *path, const char *key, int32_t *out, int max);

/*
 * Reads path's lines into buf (at most size bytes), after a '\n' put first so that the first
 * line matches "\nKey:" too: the length, or -errno of the open or of a read. Only whole lines:
 * where the file does not fit, its longest lines are left out. For kabi_parse_numbers.
 */
long kabi_read_lines(const char *path, char *buf, long size);

/* kabi_read_numbers on text that kabi_read_lines read (len: its answer, -errno passed on). */
int kabi_parse_numbers(const char *text, long len, const char *key, int32_t *out, int max);

/* A directory entry as getdents64(2) returns it (the kernel's struct linux_dirent64). */
struct kabi_dirent64 {
	uint64_t d_ino;
	int64_t d_off;
	unsigned short d_reclen;
	unsigned char d_type;
	char d_name[];
};

#endif
