/* dhcpv6.h - DHCPv6 server (RFC 8415): gives the guest its one address
 * (IA_NA) and the DNS configuration of the link
 */
#ifndef DHCPV6_H
#define DHCPV6_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <netinet/in.h>

#include "ctx.h"
#include "frame.h"
#include "fwd.h"

#define DHCPV6_CLIENT_PORT	546
#define DHCPV6_SERVER_PORT	547

#define DHCPV6_HDR_LEN		4	/* msg-type, transaction-id */
#define DHCPV6_DUID_MAX		130	/* type and up to 128 bytes */
#define DHCPV6_IA_MAX		4	/* IA_NAs we answer, extras ignored */
#define DHCPV6_DEF_LEN		1232	/* IPv6 minimum MTU less IPv6, UDP */
#define DHCPV6_MAX_LEN		1452	/* 1500-byte MTU less IPv6, UDP */
#define DHCPV6_INFINITE		0xffffffff

/* Message types (RFC 8415, 7.3) */
enum dhcpv6_type {
	DHCPV6_SOLICIT		= 1,
	DHCPV6_ADVERTISE	= 2,
	DHCPV6_REQUEST		= 3,
	DHCPV6_CONFIRM		= 4,
	DHCPV6_RENEW		= 5,
	DHCPV6_REBIND		= 6,
	DHCPV6_REPLY		= 7,
	DHCPV6_RELEASE		= 8,
	DHCPV6_DECLINE		= 9,
	DHCPV6_RECONFIGURE	= 10,
	DHCPV6_INFO_REQUEST	= 11,
	DHCPV6_RELAY_FORW	= 12,
	DHCPV6_RELAY_REPL	= 13,
};

/* Option codes we read or write (RFC 8415, RFC 3646, RFC 4704) */
enum dhcpv6_opt_code {
	DHCPV6_OPT_CLIENTID	= 1,
	DHCPV6_OPT_SERVERID	= 2,
	DHCPV6_OPT_IA_NA	= 3,
	DHCPV6_OPT_IA_TA	= 4,
	DHCPV6_OPT_IAADDR	= 5,
	DHCPV6_OPT_ORO		= 6,
	DHCPV6_OPT_PREFERENCE	= 7,
	DHCPV6_OPT_ELAPSED	= 8,
	DHCPV6_OPT_STATUS	= 13,
	DHCPV6_OPT_RAPID_COMMIT	= 14,
	DHCPV6_OPT_DNS		= 23,
	DHCPV6_OPT_DOMAIN_LIST	= 24,
	DHCPV6_OPT_IA_PD	= 25,
	DHCPV6_OPT_FQDN		= 39,
};

/* Status codes (RFC 8415, 21.13) */
enum dhcpv6_status {
	DHCPV6_SUCCESS		= 0,
	DHCPV6_NO_ADDRS_AVAIL	= 2,
	DHCPV6_NOT_ON_LINK	= 4,
};

#define DHCPV6_IA_NA_LEN	12	/* IAID, T1, T2 */
#define DHCPV6_IAADDR_LEN	24	/* address, lifetimes */

/**
 * struct dhcpv6_msg - What we use of a message from the guest
 * @type:		Message type
 * @xid:		Transaction ID
 * @client_id:		Client Identifier option data (DUID)
 * @client_id_len:	Its length, 0 if absent
 * @server_id:		Server Identifier option data (DUID)
 * @server_id_len:	Its length, 0 if absent
 * @iaid:		IAIDs of the IA_NA options, in order
 * @ia_n:		IA_NA options kept (further ones are ignored)
 * @has_ia_other:	IA_TA or IA_PD present
 * @ia_addr:		First IA Address found in an IA_NA
 * @has_ia_addr:	@ia_addr is set
 * @rapid_commit:	Rapid Commit option present
 * @has_fqdn:		Client FQDN option present
 * @fqdn_flags:		Its flags
 */
struct dhcpv6_msg {
	uint8_t type;
	uint8_t xid[3];
	uint8_t client_id[DHCPV6_DUID_MAX];
	size_t client_id_len;
	uint8_t server_id[DHCPV6_DUID_MAX];
	size_t server_id_len;
	uint32_t iaid[DHCPV6_IA_MAX];
	unsigned int ia_n;
	bool has_ia_other;
	struct in6_addr ia_addr;
	bool has_ia_addr;
	bool rapid_commit;
	bool has_fqdn;
	uint8_t fqdn_flags;
};

int dhcpv6_parse(const uint8_t *msg, size_t len, struct dhcpv6_msg *m);
int dhcpv6_reply_type(const struct net_conf *nc, const struct dhcpv6_msg *m);
int dhcpv6_build(const struct net_conf *nc, const struct dhcpv6_msg *m,
		 uint8_t type, uint8_t *buf, size_t room);
int dhcpv6_input(struct ctx *c, const struct frame_in *f);

#endif /* DHCPV6_H */
