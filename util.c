/* util.c - small helpers shared by every module: MAC addresses, time,
 * file descriptors, number parsing
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "util.h"
#include "syscalls.h"

/* What this module calls after start-up, for the filter (syscalls.h) */
SYSCALL_ALLOW(SYS_NS | SYS_VM, clock_gettime);
SYSCALL_ALLOW(SYS_NS | SYS_VM, write);
SYSCALL_ALLOW_ARG(SYS_NS | SYS_VM, fcntl, 1, F_GETFL);
SYSCALL_ALLOW_ARG(SYS_NS | SYS_VM, fcntl, 1, F_SETFL);

const uint8_t MAC_BROADCAST[MAC_LEN] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };
const uint8_t MAC_ZERO[MAC_LEN];

/**
 * mac_parse() - Parse a MAC address in "xx:xx:xx:xx:xx:xx" form
 * @s:		String to parse
 * @mac:	Filled with the address on success
 *
 * Return: 0 on success, -EINVAL if @s is not exactly a MAC address
 */
int mac_parse(const char *s, uint8_t mac[MAC_LEN])
{
	unsigned int b[MAC_LEN];
	int n = 0, i;

	if (sscanf(s, "%2x:%2x:%2x:%2x:%2x:%2x%n",
		   &b[0], &b[1], &b[2], &b[3], &b[4], &b[5], &n) != MAC_LEN ||
	    n != 17 || s[n])
		return -EINVAL;
	for (i = 0; i < MAC_LEN; i++)
		mac[i] = b[i];
	return 0;
}

/**
 * mac_ntop() - Format a MAC address
 * @mac:	Address
 * @buf:	Output buffer
 *
 * Return: @buf
 */
const char *mac_ntop(const uint8_t mac[MAC_LEN], char buf[MAC_STRLEN])
{
	snprintf(buf, MAC_STRLEN, "%02x:%02x:%02x:%02x:%02x:%02x",
		 mac[0], mac[1], mac[2], mac[3], mac[4], mac[5]);
	return buf;
}

/**
 * now_ns() - Monotonic time in nanoseconds (vDSO, usually no system call)
 *
 * Return: nanoseconds since an arbitrary start
 */
uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

/**
 * now_ms() - Monotonic time in milliseconds
 *
 * Return: milliseconds since an arbitrary start
 */
uint64_t now_ms(void)
{
	return now_ns() / 1000000;
}

/**
 * write_all() - Write a whole buffer to a blocking descriptor
 * @fd:		Descriptor
 * @buf:	Data
 * @len:	Length of @buf
 *
 * Return: 0 on success, negative errno on failure
 */
int write_all(int fd, const void *buf, size_t len)
{
	const uint8_t *p = buf;

	while (len) {
		ssize_t n = write(fd, p, len);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/**
 * write_file() - Write a whole small file (set-up only: the ID maps)
 * @path:	File, which must exist
 * @text:	Its content
 *
 * Return: 0 on success, negative errno on failure
 */
int write_file(const char *path, const char *text)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC), rc;

	if (fd < 0)
		return -errno;
	rc = write_all(fd, text, strlen(text));
	close(fd);
	return rc;
}

/**
 * path_at_open() - Keep hold of a path's directory, to reach the path
 * once the file system is out of reach (isolation.c's empty root)
 * @path:	Path
 * @p:		Filled: the directory, and the name in it
 *
 * Return: 0 on success, negative errno on failure (@p then holds -1)
 */
int path_at_open(const char *path, struct path_at *p)
{
	const char *slash = strrchr(path, '/');
	char dir[PATH_MAX];

	p->dirfd = -1;
	if (!slash) {
		snprintf(dir, sizeof(dir), ".");
		slash = path - 1;
	} else if (slash == path) {
		snprintf(dir, sizeof(dir), "/");
	} else {
		snprintf(dir, sizeof(dir), "%.*s", (int)(slash - path), path);
	}
	if (strlen(slash + 1) >= sizeof(p->name))
		return -ENAMETOOLONG;
	strcpy(p->name, slash + 1);
	p->dirfd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
	return p->dirfd < 0 ? -errno : 0;
}

/**
 * path_at_unlink() - Remove the file of path_at_open(), if there is one
 * @p:		Its directory and name; closed and reset here
 */
void path_at_unlink(struct path_at *p)
{
	if (p->dirfd < 0)
		return;
	unlinkat(p->dirfd, p->name, 0);
	close(p->dirfd);
	p->dirfd = -1;
}

/**
 * fd_nonblock() - Set O_NONBLOCK on a descriptor
 * @fd:		Descriptor
 *
 * Return: 0 on success, negative errno on failure
 */
int fd_nonblock(int fd)
{
	int fl = fcntl(fd, F_GETFL);

	if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0)
		return -errno;
	return 0;
}

/**
 * str_to_uint() - Parse a whole decimal string as an unsigned number
 * @s:		String
 * @max:	Largest value accepted
 * @out:	Parsed value on success
 *
 * Return: 0 on success, -EINVAL on junk or empty input, -ERANGE over @max
 */
int str_to_uint(const char *s, unsigned long max, unsigned long *out)
{
	unsigned long v;
	char *end;

	if (!s || *s < '0' || *s > '9')
		return -EINVAL;
	errno = 0;
	v = strtoul(s, &end, 10);
	if (*end)
		return -EINVAL;
	if (errno == ERANGE || v > max)
		return -ERANGE;
	*out = v;
	return 0;
}
