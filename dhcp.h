/* dhcp.h - DHCPv4 server (RFC 2131, RFC 2132): gives the guest its one
 * address and the configuration of the link
 */
#ifndef DHCP_H
#define DHCP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <netinet/in.h>

#include "ctx.h"
#include "frame.h"
#include "fwd.h"

#define DHCP_SERVER_PORT	67
#define DHCP_CLIENT_PORT	68

#define DHCP_MAGIC		0x63825363	/* 99.130.83.99 */
#define DHCP_OPT_OFF		240	/* BOOTP fixed part and cookie */
#define DHCP_MIN_LEN		300	/* replies are padded to this */
#define DHCP_DEF_LEN		548	/* 576-byte datagram less IP, UDP */
#define DHCP_MAX_LEN		1472	/* 1500-byte datagram less IP, UDP */
#define DHCP_FLAG_BROADCAST	0x8000

/* Offsets in the BOOTP fixed part (RFC 2131, 2) */
enum bootp_off {
	BOOTP_OP	= 0,
	BOOTP_HTYPE	= 1,
	BOOTP_HLEN	= 2,
	BOOTP_HOPS	= 3,
	BOOTP_XID	= 4,
	BOOTP_SECS	= 8,
	BOOTP_FLAGS	= 10,
	BOOTP_CIADDR	= 12,
	BOOTP_YIADDR	= 16,
	BOOTP_SIADDR	= 20,
	BOOTP_GIADDR	= 24,
	BOOTP_CHADDR	= 28,
	BOOTP_SNAME	= 44,
	BOOTP_FILE	= 108,
	BOOTP_COOKIE	= 236,
};

#define BOOTREQUEST	1
#define BOOTREPLY	2

/* DHCP message types, option 53 (RFC 2132, 9.6) */
enum dhcp_type {
	DHCPDISCOVER	= 1,
	DHCPOFFER	= 2,
	DHCPREQUEST	= 3,
	DHCPDECLINE	= 4,
	DHCPACK		= 5,
	DHCPNAK		= 6,
	DHCPRELEASE	= 7,
	DHCPINFORM	= 8,
};

/* Option codes we read or write (RFC 2132, RFC 3397, RFC 4702) */
enum dhcp_opt_code {
	DHCP_OPT_PAD		= 0,
	DHCP_OPT_NETMASK	= 1,
	DHCP_OPT_ROUTER		= 3,
	DHCP_OPT_DNS		= 6,
	DHCP_OPT_HOSTNAME	= 12,
	DHCP_OPT_MTU		= 26,
	DHCP_OPT_BROADCAST	= 28,
	DHCP_OPT_REQ_ADDR	= 50,
	DHCP_OPT_LEASE		= 51,
	DHCP_OPT_OVERLOAD	= 52,
	DHCP_OPT_MSG_TYPE	= 53,
	DHCP_OPT_SERVER_ID	= 54,
	DHCP_OPT_PARAM_REQ	= 55,
	DHCP_OPT_MESSAGE	= 56,
	DHCP_OPT_MAX_SIZE	= 57,
	DHCP_OPT_FQDN		= 81,
	DHCP_OPT_SEARCH		= 119,
	DHCP_OPT_END		= 255,
};

/**
 * struct dhcp_msg - What we use of a request from the guest
 * @type:		Message type (option 53)
 * @xid:		Transaction ID, host order
 * @flags:		BOOTP flags, host order
 * @ciaddr:		Client's current address, 0 if none
 * @giaddr:		Relay agent address, echoed only
 * @chaddr:		Client hardware address field, all 16 bytes
 * @req_addr:		Requested address (option 50)
 * @server_id:		Server identifier (option 54)
 * @has_req_addr:	Option 50 present
 * @has_server_id:	Option 54 present
 * @has_fqdn:		Client FQDN option (81) present
 * @fqdn_flags:		Its flags
 * @max_size:		Maximum message size (option 57), 0 if absent
 */
struct dhcp_msg {
	uint8_t type;
	uint32_t xid;
	uint16_t flags;
	struct in_addr ciaddr;
	struct in_addr giaddr;
	uint8_t chaddr[16];
	struct in_addr req_addr;
	struct in_addr server_id;
	bool has_req_addr;
	bool has_server_id;
	bool has_fqdn;
	uint8_t fqdn_flags;
	uint16_t max_size;
};

int dhcp_parse(const uint8_t *msg, size_t len, struct dhcp_msg *m);
int dhcp_reply_type(const struct net_conf *nc, const struct dhcp_msg *m);
int dhcp_build(const struct net_conf *nc, const struct dhcp_msg *m,
	       uint8_t type, uint8_t *buf, size_t room);
int dhcp_input(struct ctx *c, const struct frame_in *f);

#endif /* DHCP_H */
