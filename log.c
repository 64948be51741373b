/* log.c - logging to standard error or a file, and the drop counters that
 * every module bumps when it discards input
 *
 * Theory of operation
 * Messages go to standard error while that is attached (foreground), and
 * to the file given with -l/--log-file. A daemon in the background with no
 * log file is silent, as pasta is without a system logger.
 *
 * Every line of the log file starts with the seconds since start
 * (CLOCK_MONOTONIC, from log_init()), microseconds after the point; on
 * standard error only debug and trace lines do, so what people and
 * scripts read there stays as it was.
 *
 * The log file is truncated when opened. Its first line names the program,
 * its version and its PID; the PID is written in a field as wide as the
 * largest PID Linux gives (PID_MAX_LIMIT, 4194304: 7 digits), so that the
 * daemon, once forked into the background, puts its own PID there in
 * place (log_file_pid()). The file is bounded by --log-size: when a line
 * would take it past the bound, the oldest lines after the header are
 * dropped, at least a quarter of what follows the header, so that this
 * is rare. The lines kept are read back and written right after the
 * header (pread(), pwrite(): forward, through a static buffer, so every
 * byte is read before it is overwritten), then the file is cut
 * (ftruncate()). Unlike FALLOC_FL_COLLAPSE_RANGE, that works on every
 * file system, tmpfs included, and on any size. A line longer than the
 * room after the header is cut to fit. Lines are never reordered, so
 * their timestamps go on increasing across rotations.
 *
 * Lines are appended with write() at the file offset, which every process
 * holding the descriptor shares: ns_call()'s children log into the same
 * file, while the daemon waits for them. Where the file ends is therefore
 * read from that offset (lseek()) for each line, not counted in memory,
 * where a child's lines would be missed and later overwritten. A log
 * "file" that is not a regular file (a pipe, a terminal) is written to
 * as it is, with no bound.
 *
 * No allocation: lines are formatted on the stack and moved through a
 * static buffer, as the daemon runs with no heap once started.
 *
 * System calls: write, lseek, pread64, pwrite64, ftruncate (clock_gettime
 * is the vDSO's); at start only: open, fstat, close.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "syscalls.h"
#include "util.h"
#include "syscalls.h"

/* What this module calls after start-up, for the filter (syscalls.h) */
SYSCALL_ALLOW(SYS_NS | SYS_VM, write);

#define LOG_LINE_MAX	1024	/* longest line, with timestamp and newline */
#define LOG_PID_WIDTH	7	/* digits of PID_MAX_LIMIT, 4194304 */

enum log_level log_level = LOG_LVL_INFO;
uint64_t drop_counters[DROP_MAX];

static bool log_to_stderr = true;
static struct timespec log_start;	/* time zero of the timestamps */
static bool log_started;

/**
 * struct log_file - The log file and its bound
 * @fd:		Descriptor, -1 if none
 * @bounded:	A regular file, kept within @size
 * @size:	Largest size, bytes
 * @head:	Length of the header line, kept by every rotation
 * @pid_off:	Offset of the PID in the header
 * @pid_len:	Length of the PID field
 */
static struct log_file {
	int fd;
	bool bounded;
	off_t size;
	off_t head;
	off_t pid_off;
	int pid_len;
} log_file = { .fd = -1 };

/* What a rotation reads back and writes: static, there is no heap */
static char log_move_buf[1 << 14];

static const char *const drop_names[DROP_MAX] = {
	[DROP_ETH_SHORT]	= "ethernet frame too short",
	[DROP_ETH_TYPE]		= "unhandled ethertype",
	[DROP_TOO_BIG]		= "frame over MTU",
	[DROP_ARP_BAD]		= "bad ARP",
	[DROP_IP_SHORT]		= "truncated IP header",
	[DROP_IP_BAD_HDR]	= "bad IP header",
	[DROP_IP_BAD_LEN]	= "IP length over frame",
	[DROP_IP_FRAG]		= "IP fragment",
	[DROP_L4_SHORT]		= "truncated L4 header",
	[DROP_L4_PROTO]		= "unhandled L4 protocol",
	[DROP_DHCP_BAD]		= "bad DHCP message",
	[DROP_NDP_BAD]		= "bad NDP message",
	[DROP_ICMP_BAD]		= "untranslated ICMP",
	[DROP_FLOW_FULL]	= "flow table full",
	[DROP_SOCK_ERR]		= "socket error",
	[DROP_QUEUE_FULL]	= "output queue full",
	[DROP_UDP_MCAST]	= "UDP multicast or broadcast",
	[DROP_UDP_TRUNC]	= "UDP datagram over MTU",
	[DROP_UDP_EVICT]	= "UDP flow evicted (inbound share full)",
	[DROP_NO_FD]		= "connection refused, no descriptor",
	[DROP_TAP_WRITE]	= "tap write failed",
	[DROP_TAP_GSO]		= "UDP train refused by the tap",
	[DROP_TCP_CHALLENGE]	= "TCP challenge ACK over the limit",
};

/**
 * log_set_stderr() - Enable or disable messages on standard error
 * @on:		Whether to write to standard error
 */
void log_set_stderr(bool on)
{
	log_to_stderr = on;
}

/**
 * log_init() - Start the clock of the timestamps
 *
 * Called first thing at start; a message logged before it starts the clock.
 */
void log_init(void)
{
	clock_gettime(CLOCK_MONOTONIC, &log_start);
	log_started = true;
}

/**
 * log_stamp() - Write the timestamp that starts a line
 * @buf:	Buffer
 * @size:	Its size
 *
 * Return: length of "SECONDS.MICROSECONDS: " (as snprintf())
 */
static int log_stamp(char *buf, size_t size)
{
	struct timespec ts;
	long long s;
	long ns;

	if (!log_started)
		log_init();
	clock_gettime(CLOCK_MONOTONIC, &ts);
	s = (long long)(ts.tv_sec - log_start.tv_sec);
	ns = ts.tv_nsec - log_start.tv_nsec;
	if (ns < 0) {
		s--;
		ns += 1000000000L;
	}
	return snprintf(buf, size, "%lld.%06ld: ", s, ns / 1000);
}

SYSCALL_ALLOW(SYS_NS | SYS_VM, pwrite64);

/* pwrite() all of @len bytes at @off; 0 or negative errno */
static int log_pwrite_all(const char *buf, size_t len, off_t off)
{
	while (len) {
		ssize_t n = pwrite(log_file.fd, buf, len, off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return n ? -errno : -EIO;
		buf += n;
		len -= (size_t)n;
		off += n;
	}
	return 0;
}

SYSCALL_ALLOW(SYS_NS | SYS_VM, pread64);

/* pread() up to @len bytes at @off into the move buffer; as pread() */
static ssize_t log_pread(size_t len, off_t off)
{
	ssize_t n;

	len = MIN(len, sizeof(log_move_buf));
	do
		n = pread(log_file.fd, log_move_buf, len, off);
	while (n < 0 && errno == EINTR);
	return n;
}

/**
 * log_file_line_at() - Find the first line that starts at or after @off
 * @off:	Offset, past the header
 * @end:	End of the file
 *
 * Return: offset of that line, @end if there is none (or on error)
 */
static off_t log_file_line_at(off_t off, off_t end)
{
	off_t pos = off - 1;	/* a line starts after a newline */

	while (pos < end) {
		ssize_t n = log_pread((size_t)(end - pos), pos);
		const char *nl;

		if (n <= 0)
			return end;
		nl = memchr(log_move_buf, '\n', (size_t)n);
		if (nl)
			return pos + (nl - log_move_buf) + 1;
		pos += n;
	}
	return end;
}

/**
 * log_file_move() - Copy the end of the file to an earlier offset
 * @dst:	Where it goes, before @src
 * @src:	Where it starts
 * @end:	End of the file
 *
 * Copying forward, each piece is read before anything at or past it is
 * written, so the two ranges may overlap.
 *
 * Return: 0 on success, negative errno on failure
 */
static int log_file_move(off_t dst, off_t src, off_t end)
{
	while (src < end) {
		ssize_t n = log_pread((size_t)(end - src), src);
		int rc;

		if (n <= 0)
			return n ? -errno : -EIO;
		rc = log_pwrite_all(log_move_buf, (size_t)n, dst);
		if (rc)
			return rc;
		src += n;
		dst += n;
	}
	return 0;
}

SYSCALL_ALLOW(SYS_NS | SYS_VM, ftruncate);

/**
 * log_file_rotate() - Drop the oldest lines after the header to make room
 * @end:	End of the file
 * @len:	Length of the line to append, at most the room after the header
 *
 * Return: the new end of the file
 */
static off_t log_file_rotate(off_t end, size_t len)
{
	off_t drop = end + (off_t)len - log_file.size;
	off_t cut, kept;

	/* A quarter at least, so that rotating stays rare */
	drop = MAX(drop, (log_file.size - log_file.head) / 4);
	cut = log_file_line_at(log_file.head + drop, end);
	kept = end - cut;
	/* Should that fail, lose the lines rather than order or bound */
	if (kept && log_file_move(log_file.head, cut, end))
		kept = 0;
	(void)!ftruncate(log_file.fd, log_file.head + kept);
	return log_file.head + kept;
}

SYSCALL_ALLOW(SYS_NS | SYS_VM, lseek);

/**
 * log_file_write() - Append a line to the log file, within its bound
 * @line:	Line, newline included; cut in place if over the room left
 *		after the header
 * @len:	Its length
 */
static void log_file_write(char *line, size_t len)
{
	off_t end, room = log_file.size - log_file.head;

	if (log_file.bounded) {
		end = lseek(log_file.fd, 0, SEEK_CUR);
		if (end < 0)
			return;
		if ((off_t)len > room) {
			len = (size_t)room;
			line[len - 1] = '\n';
		}
		if (end + (off_t)len > log_file.size) {
			end = log_file_rotate(end, len);
			if (lseek(log_file.fd, end, SEEK_SET) < 0)
				return;
		}
	}
	(void)write_all(log_file.fd, line, len);
}

/**
 * log_file_open() - Truncate or create the log file and write its header
 * @path:	Path of the file
 * @name:	Program name, for the header
 * @size:	Largest size of the file, bytes; the header and a line of
 *		at least two bytes must fit (LOG_SIZE_MIN ensures more)
 *
 * Return: 0 on success, negative errno on failure
 */
int log_file_open(const char *path, const char *name, uint64_t size)
{
	char head[LOG_LINE_MAX];
	struct stat st;
	int fd, n, pid_off, rc;

	n = log_stamp(head, sizeof(head));
	n += snprintf(head + n, sizeof(head) - (size_t)n, "%s %s, PID ",
		      name, PASSTD_VERSION);
	pid_off = n;
	if (n < (int)sizeof(head))
		n += snprintf(head + n, sizeof(head) - (size_t)n, "%-*d\n",
			      LOG_PID_WIDTH, (int)getpid());
	if (n >= (int)sizeof(head) || (uint64_t)n + 2 > size ||
	    size > (uint64_t)LOG_SIZE_MAX)
		return -EINVAL;

	fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	rc = write_all(fd, head, (size_t)n);
	if (!rc && fstat(fd, &st))
		rc = -errno;
	if (rc) {
		close(fd);
		return rc;
	}
	if (log_file.fd >= 0)
		close(log_file.fd);
	log_file = (struct log_file){
		.fd = fd, .bounded = S_ISREG(st.st_mode), .size = (off_t)size,
		.head = n, .pid_off = pid_off, .pid_len = n - 1 - pid_off,
	};
	return 0;
}

/**
 * log_file_pid() - Write a new PID into the header, in place
 * @pid:	PID, of the daemon once it forked into the background
 *
 * The header stays as long as it was: a PID wider than the field it has
 * is not written (Linux gives none).
 */
void log_file_pid(pid_t pid)
{
	char buf[32];
	int n;

	if (log_file.fd < 0 || !log_file.bounded)
		return;
	n = snprintf(buf, sizeof(buf), "%-*d", LOG_PID_WIDTH, (int)pid);
	if (n == log_file.pid_len)
		(void)log_pwrite_all(buf, (size_t)n, log_file.pid_off);
}

/**
 * log_file_close() - Stop writing to the log file, and close it
 */
void log_file_close(void)
{
	if (log_file.fd >= 0)
		close(log_file.fd);
	log_file.fd = -1;
}

SYSCALL_ALLOW(SYS_NS | SYS_VM, write);

/**
 * log_vmsg() - Format one line and write it where messages go
 * @lvl:	Level of the message
 * @fmt:	printf format
 * @ap:		Its arguments
 */
static void log_vmsg(enum log_level lvl, const char *fmt, va_list ap)
{
	static const char *const prefix[] = {
		"error: ", "warning: ", "", "", "",
	};
	char buf[LOG_LINE_MAX];
	int stamp, n, rc;

	stamp = n = log_stamp(buf, sizeof(buf));
	n += snprintf(buf + n, sizeof(buf) - (size_t)n, "%s", prefix[lvl]);
	rc = vsnprintf(buf + n, sizeof(buf) - (size_t)n, fmt, ap);
	if (rc > 0)
		n += rc;
	if (n > (int)sizeof(buf) - 2)
		n = (int)sizeof(buf) - 2;
	buf[n++] = '\n';

	if (log_to_stderr) {
		int skip = lvl >= LOG_LVL_DEBUG ? 0 : stamp;

		(void)write_all(STDERR_FILENO, buf + skip, (size_t)(n - skip));
	}
	if (log_file.fd >= 0)
		log_file_write(buf, (size_t)n);
}

/**
 * log_msg() - Log a message if @lvl is enabled
 * @lvl:	Level of the message
 * @fmt:	printf format
 */
void log_msg(enum log_level lvl, const char *fmt, ...)
{
	va_list ap;

	if (lvl > log_level)
		return;
	va_start(ap, fmt);
	log_vmsg(lvl, fmt, ap);
	va_end(ap);
}

/**
 * die() - Log an error and exit with status 1
 * @fmt:	printf format
 */
void die(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vmsg(LOG_LVL_ERR, fmt, ap);
	va_end(ap);
	exit(EXIT_FAILURE);
}

/**
 * drop_log() - Log every non-zero drop counter at debug level
 */
void drop_log(void)
{
	int i;

	for (i = 0; i < DROP_MAX; i++) {
		if (drop_counters[i])
			log_debug("dropped: %s: %llu", drop_names[i],
				  (unsigned long long)drop_counters[i]);
	}
}
