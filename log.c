/* log.c - logging to standard error or a file, and the drop counters that
 * every module bumps when it discards input
 *
 * Messages go to standard error while that is attached (foreground), and
 * to the file given with -l/--log-file. A daemon in the background with no
 * log file is silent, as pasta is without a system logger.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "util.h"
#include "syscalls.h"

/* What this module calls after start-up, for the filter (syscalls.h) */
SYSCALL_ALLOW(SYS_NS | SYS_VM, write);

enum log_level log_level = LOG_LVL_INFO;
uint64_t drop_counters[DROP_MAX];

static int log_fd = -1;
static bool log_to_stderr = true;

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
 * log_set_file() - Also write messages to a file
 * @fd:		Open log file, or -1 for none
 */
void log_set_file(int fd)
{
	log_fd = fd;
}

/**
 * log_set_stderr() - Enable or disable messages on standard error
 * @on:		Whether to write to standard error
 */
void log_set_stderr(bool on)
{
	log_to_stderr = on;
}

static void log_vmsg(enum log_level lvl, const char *fmt, va_list ap)
{
	static const char *const prefix[] = {
		"error: ", "warning: ", "", "", "",
	};
	char buf[1024];
	int n = 0;

	if (lvl >= LOG_LVL_DEBUG) {
		struct timespec ts;

		clock_gettime(CLOCK_MONOTONIC, &ts);
		n = snprintf(buf, sizeof(buf), "%lld.%04ld: ",
			     (long long)ts.tv_sec, ts.tv_nsec / 100000);
	}
	n += snprintf(buf + n, sizeof(buf) - (size_t)n, "%s", prefix[lvl]);
	n += vsnprintf(buf + n, sizeof(buf) - (size_t)n, fmt, ap);
	if (n > (int)sizeof(buf) - 2)
		n = (int)sizeof(buf) - 2;
	buf[n++] = '\n';

	if (log_to_stderr)
		(void)write_all(STDERR_FILENO, buf, (size_t)n);
	if (log_fd >= 0)
		(void)write_all(log_fd, buf, (size_t)n);
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
