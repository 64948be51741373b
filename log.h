/* log.h - logging to standard error or a file, and the drop counters that
 * every module bumps when it discards input
 */
#ifndef LOG_H
#define LOG_H

#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

/* --log-size, bytes: the bound of the log file */
#define LOG_SIZE_DEFAULT	(1UL << 20)
#define LOG_SIZE_MIN		4096UL
#define LOG_SIZE_MAX		((unsigned long)LONG_MAX)	/* off_t */

enum log_level {
	LOG_LVL_ERR,
	LOG_LVL_WARN,
	LOG_LVL_INFO,
	LOG_LVL_DEBUG,
	LOG_LVL_TRACE,
};

extern enum log_level log_level;

void log_init(void);
int log_file_open(const char *path, const char *name, uint64_t size);
void log_file_pid(pid_t pid);
void log_file_close(void);
void log_set_stderr(bool on);
void log_msg(enum log_level lvl, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
void die(const char *fmt, ...)
	__attribute__((format(printf, 1, 2), noreturn));

#define log_err(...)	log_msg(LOG_LVL_ERR, __VA_ARGS__)
#define log_warn(...)	log_msg(LOG_LVL_WARN, __VA_ARGS__)
#define log_info(...)	log_msg(LOG_LVL_INFO, __VA_ARGS__)
#define log_debug(...)						\
	do {							\
		if (log_level >= LOG_LVL_DEBUG)			\
			log_msg(LOG_LVL_DEBUG, __VA_ARGS__);	\
	} while (0)
#define log_trace(...)						\
	do {							\
		if (log_level >= LOG_LVL_TRACE)			\
			log_msg(LOG_LVL_TRACE, __VA_ARGS__);	\
	} while (0)

/* Why input was discarded: one counter each, printed with -d at exit */
enum drop_reason {
	DROP_ETH_SHORT,		/* shorter than an Ethernet header */
	DROP_ETH_TYPE,		/* EtherType we do not handle */
	DROP_TOO_BIG,		/* frame longer than the MTU allows */
	DROP_ARP_BAD,		/* truncated or non-Ethernet/IPv4 ARP */
	DROP_IP_SHORT,		/* truncated IP header */
	DROP_IP_BAD_HDR,	/* bad version, IHL or extension chain */
	DROP_IP_BAD_LEN,	/* IP length larger than the frame */
	DROP_IP_FRAG,		/* fragments are not reassembled */
	DROP_L4_SHORT,		/* truncated UDP/TCP/ICMP header */
	DROP_L4_PROTO,		/* protocol disabled or not handled */
	DROP_DHCP_BAD,		/* malformed DHCP or DHCPv6 message */
	DROP_NDP_BAD,		/* malformed NDP message */
	DROP_ICMP_BAD,		/* ICMP we do not translate */
	DROP_FLOW_FULL,		/* flow table full */
	DROP_SOCK_ERR,		/* host socket refused the data */
	DROP_QUEUE_FULL,	/* output queue had no room */
	DROP_UDP_MCAST,		/* UDP to multicast or broadcast */
	DROP_UDP_TRUNC,		/* datagram larger than the MTU allows */
	DROP_UDP_EVICT,		/* inbound UDP flow evicted: share full */
	DROP_NO_FD,		/* connection closed: out of descriptors */
	DROP_TAP_WRITE,		/* the tap refused a frame (write error) */
	DROP_TAP_GSO,		/* the tap refused a UDP train (EINVAL) */
	DROP_TCP_CHALLENGE,	/* challenge ACK over the per-flow limit */
	DROP_MAX,
};

extern uint64_t drop_counters[DROP_MAX];

/**
 * drop() - Count one discarded input
 * @why:	Reason
 */
static inline void drop(enum drop_reason why)
{
	drop_counters[why]++;
}

void drop_log(void);

#endif /* LOG_H */
