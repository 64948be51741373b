/* dhcp.c - DHCPv4 server (RFC 2131, RFC 2132): gives the guest its one
 * address and the configuration of the link
 *
 * Theory of operation
 * There is one client, the guest, and one address to give it
 * (net_conf.v4.addr), so the server keeps no state at all: no lease table,
 * no timers. Leases are infinite, as the address never changes while we
 * run. Each request is parsed into a struct dhcp_msg (dhcp_parse()), the
 * kind of reply is decided from that alone (dhcp_reply_type()), and the
 * reply is built in place in the output queue (dhcp_build()).
 *
 * Parsing: the BOOTP fixed part and the magic cookie must be there; then
 * options are walked up to the End option, each length checked against
 * the end of the message before any of its data is read. A message with
 * no End option, an option running past the end, or a wrong length for
 * an option we act upon (53, 50, 54) is malformed: counted and dropped.
 * Options we merely consult (57, 81) are ignored when their length is
 * wrong. The sname and file fields are never parsed: a client that says
 * with option 52 that it overloaded them has those options ignored, which
 * is safe because nothing a client could put there changes our answer.
 * A repeated option overrides the earlier one (no RFC 3396 concatenation
 * on input: none of the options we read is long).
 *
 * Replies: OFFER and ACK carry the address, an infinite lease, netmask,
 * router, broadcast address, MTU, DNS servers, host name, client FQDN (if
 * the client sent option 81) and the domain search list, split over
 * several option 119 instances when longer than 255 bytes (RFC 3396). The
 * parameter request list (55) is not consulted: clients ignore options
 * they did not ask for. A reply fits in a 576-byte datagram, which every
 * client must accept (RFC 2131, 2), unless the client announced a larger
 * maximum message size (57); options that do not fit are left out, the
 * least important (search list, names) first. The message is padded to
 * 300 bytes, the size of a BOOTP message, as some clients expect.
 *
 * Addressing follows RFC 2131, 4.1, for a client on our link (giaddr is
 * echoed but relays are not otherwise supported): NAK is broadcast; other
 * replies go to ciaddr if set, else to the broadcast address if the client
 * set the broadcast flag (or sent an INFORM without ciaddr), else to the
 * offered address at chaddr.
 */
#include <arpa/inet.h>
#include <stdio.h>

#include "dhcp.h"
#include "dnsname.h"
#include "log.h"

#define DHCP_LEASE_INFINITE	0xffffffff
#define DHCP_IP_UDP_LEN		28	/* IPv4 and UDP headers */
#define DHCP_MTU_MIN		68	/* RFC 2132, 5.1 */
#define DHCP_MAX_SIZE_MIN	576	/* RFC 2132, 9.10 */
#define DHCP_SEARCH_MAX		(SEARCH_MAX * 256)

/* RFC 4702, 2.1: client FQDN flags */
#define FQDN_S	0x01	/* client asks server to update A */
#define FQDN_O	0x02	/* server overrode S */
#define FQDN_E	0x04	/* name in canonical wire format */
#define FQDN_N	0x08	/* server performs no updates */

/**
 * struct dhcp_wr - Option writer
 * @buf:	Message being built
 * @len:	Bytes written so far
 * @limit:	Options must end here, leaving room for the End option
 */
struct dhcp_wr {
	uint8_t *buf;
	size_t len;
	size_t limit;
};

/**
 * dhcp_client_type() - Is this a message type clients send?
 * @type:	Option 53 value
 *
 * Return: true for DISCOVER, REQUEST, DECLINE, RELEASE, INFORM
 */
static bool dhcp_client_type(uint8_t type)
{
	return type == DHCPDISCOVER || type == DHCPREQUEST ||
	       type == DHCPDECLINE || type == DHCPRELEASE ||
	       type == DHCPINFORM;
}

/**
 * dhcp_parse_opt() - Record one option of a request
 * @m:		Parsed request, updated
 * @code:	Option code
 * @data:	Option data, @len bytes, already bounds-checked
 * @len:	Option length
 *
 * Return: 0 if fine (including options we ignore), -1 if malformed
 */
static int dhcp_parse_opt(struct dhcp_msg *m, uint8_t code,
			  const uint8_t *data, uint8_t len)
{
	switch (code) {
	case DHCP_OPT_MSG_TYPE:
		if (len != 1)
			return -1;
		m->type = data[0];
		break;
	case DHCP_OPT_REQ_ADDR:
		if (len != 4)
			return -1;
		memcpy(&m->req_addr, data, 4);
		m->has_req_addr = true;
		break;
	case DHCP_OPT_SERVER_ID:
		if (len != 4)
			return -1;
		memcpy(&m->server_id, data, 4);
		m->has_server_id = true;
		break;
	case DHCP_OPT_MAX_SIZE:
		if (len == 2)
			m->max_size = rd16(data);
		break;
	case DHCP_OPT_FQDN:
		if (len >= 3) {
			m->has_fqdn = true;
			m->fqdn_flags = data[0];
		}
		break;
	default:
		break;
	}
	return 0;
}

/**
 * dhcp_parse() - Parse and bounds-check a DHCP request
 * @msg:	BOOTP message (UDP payload)
 * @len:	Its length
 * @m:		Parsed request
 *
 * Return: 0 if @m describes a well-formed client message, -1 if malformed
 */
int dhcp_parse(const uint8_t *msg, size_t len, struct dhcp_msg *m)
{
	size_t off = DHCP_OPT_OFF;

	memset(m, 0, sizeof(*m));
	if (len < DHCP_OPT_OFF || msg[BOOTP_OP] != BOOTREQUEST ||
	    msg[BOOTP_HTYPE] != 1 || msg[BOOTP_HLEN] != MAC_LEN ||
	    rd32(msg + BOOTP_COOKIE) != DHCP_MAGIC)
		return -1;

	m->xid = rd32(msg + BOOTP_XID);
	m->flags = rd16(msg + BOOTP_FLAGS);
	memcpy(&m->ciaddr, msg + BOOTP_CIADDR, 4);
	memcpy(&m->giaddr, msg + BOOTP_GIADDR, 4);
	memcpy(m->chaddr, msg + BOOTP_CHADDR, sizeof(m->chaddr));

	for (;;) {
		uint8_t code, olen;

		if (off >= len)
			return -1;		/* no End option */
		code = msg[off];
		if (code == DHCP_OPT_END)
			break;
		if (code == DHCP_OPT_PAD) {
			off++;
			continue;
		}
		if (len - off < 2 || len - off - 2 < msg[off + 1])
			return -1;		/* runs past the end */
		olen = msg[off + 1];
		if (dhcp_parse_opt(m, code, msg + off + 2, olen))
			return -1;
		off += 2 + (size_t)olen;
	}

	return dhcp_client_type(m->type) ? 0 : -1;
}

/**
 * dhcp_reply_type() - Decide how to answer a request
 * @nc:		Network configuration
 * @m:		Parsed request
 *
 * Return: DHCPOFFER, DHCPACK or DHCPNAK, or 0 to send nothing
 */
int dhcp_reply_type(const struct net_conf *nc, const struct dhcp_msg *m)
{
	struct in_addr want;

	switch (m->type) {
	case DHCPDISCOVER:
		return DHCPOFFER;
	case DHCPINFORM:
		return DHCPACK;
	case DHCPREQUEST:
		break;
	default:
		return 0;		/* RELEASE, DECLINE: nothing to do */
	}

	/* The client chose another server's offer */
	if (m->has_server_id && m->server_id.s_addr != nc->v4.gw.s_addr)
		return 0;

	/* SELECTING and INIT-REBOOT use option 50, RENEWING ciaddr */
	want = m->has_req_addr ? m->req_addr : m->ciaddr;
	if (want.s_addr && want.s_addr != nc->v4.addr.s_addr)
		return DHCPNAK;
	return DHCPACK;
}

/**
 * dhcp_opt_put() - Append an option if it fits
 * @w:		Writer
 * @code:	Option code
 * @data:	Option data
 * @len:	Its length, at most 255
 *
 * Return: true if written, false if it did not fit
 */
static bool dhcp_opt_put(struct dhcp_wr *w, uint8_t code, const void *data,
			 size_t len)
{
	if (len > 255 || w->len + 2 + len > w->limit)
		return false;
	w->buf[w->len] = code;
	w->buf[w->len + 1] = (uint8_t)len;
	memcpy(w->buf + w->len + 2, data, len);
	w->len += 2 + len;
	return true;
}

/**
 * dhcp_opt_u32() - Append a four-byte option (address or number)
 * @w:		Writer
 * @code:	Option code
 * @v:		Value, host order
 */
static void dhcp_opt_u32(struct dhcp_wr *w, uint8_t code, uint32_t v)
{
	uint8_t b[4];

	wr32(b, v);
	dhcp_opt_put(w, code, b, sizeof(b));
}

/**
 * dhcp_opt_addr() - Append an option holding one IPv4 address
 * @w:		Writer
 * @code:	Option code
 * @a:		Address
 */
static void dhcp_opt_addr(struct dhcp_wr *w, uint8_t code, struct in_addr a)
{
	dhcp_opt_u32(w, code, ntohl(a.s_addr));
}

/**
 * dhcp_opt_search() - Append the domain search list (option 119)
 * @nc:		Network configuration
 * @w:		Writer
 *
 * Names are encoded one after the other; the list is cut at the last
 * name that fits, and split over as many option instances as it needs
 * (RFC 3396: a receiver concatenates them).
 */
static void dhcp_opt_search(const struct net_conf *nc, struct dhcp_wr *w)
{
	uint8_t list[DHCP_SEARCH_MAX];
	size_t n = 0, off, room;
	int i;

	room = w->limit > w->len ? w->limit - w->len : 0;
	for (i = 0; i < nc->search_n && i < SEARCH_MAX; i++) {
		int r = dns_name_encode(nc->search[i], list + n,
					sizeof(list) - n);
		size_t total;

		if (r < 0) {
			log_debug("DHCP: cannot encode search domain %s",
				  nc->search[i]);
			continue;
		}
		total = n + (size_t)r;
		if (total + 2 * ((total + 254) / 255) > room)
			break;
		n = total;
	}
	for (off = 0; off < n; off += 255)
		dhcp_opt_put(w, DHCP_OPT_SEARCH, list + off, MIN(n - off, 255));
}

/**
 * dhcp_opt_fqdn() - Append the client FQDN option (81, RFC 4702)
 * @nc:		Network configuration
 * @m:		Request, which carried option 81
 * @w:		Writer
 *
 * We update no DNS records: N is set, and O too if the client asked us to
 * (S), as the RFC requires when the server overrides that wish.
 */
static void dhcp_opt_fqdn(const struct net_conf *nc, const struct dhcp_msg *m,
			  struct dhcp_wr *w)
{
	uint8_t b[3 + 255];
	int r;

	r = dns_name_encode(nc->fqdn, b + 3, sizeof(b) - 3);
	if (r < 0 || r > 255 - 3)
		return;
	b[0] = FQDN_N | FQDN_E | ((m->fqdn_flags & FQDN_S) ? FQDN_O : 0);
	b[1] = b[2] = 255;	/* RCODE1, RCODE2: RFC 4702, 2.2 */
	dhcp_opt_put(w, DHCP_OPT_FQDN, b, 3 + (size_t)r);
}

/**
 * dhcp_prefix_mask() - Netmask for a prefix length
 * @prefix_len:	Prefix length, clamped to 0..32
 *
 * Return: netmask, host order
 */
static uint32_t dhcp_prefix_mask(int prefix_len)
{
	if (prefix_len <= 0)
		return 0;
	if (prefix_len >= 32)
		return 0xffffffff;
	return 0xffffffffU << (32 - prefix_len);
}

/**
 * dhcp_opts_config() - Append the configuration options of OFFER and ACK
 * @nc:		Network configuration
 * @m:		Request
 * @w:		Writer
 *
 * Most important first: what does not fit is left out.
 */
static void dhcp_opts_config(const struct net_conf *nc,
			     const struct dhcp_msg *m, struct dhcp_wr *w)
{
	const struct net4 *v4 = &nc->v4;
	uint32_t mask = dhcp_prefix_mask(v4->prefix_len);
	size_t hlen;

	if (m->type != DHCPINFORM)
		dhcp_opt_u32(w, DHCP_OPT_LEASE, DHCP_LEASE_INFINITE);
	dhcp_opt_u32(w, DHCP_OPT_NETMASK, mask);
	if (v4->gw.s_addr)
		dhcp_opt_addr(w, DHCP_OPT_ROUTER, v4->gw);
	dhcp_opt_u32(w, DHCP_OPT_BROADCAST, ntohl(v4->addr.s_addr) | ~mask);
	if (nc->mtu >= DHCP_MTU_MIN) {
		uint8_t b[2];

		wr16(b, (uint16_t)MIN(nc->mtu, 65535));
		dhcp_opt_put(w, DHCP_OPT_MTU, b, sizeof(b));
	}
	if (nc->dhcp_dns && v4->dns_n > 0)
		dhcp_opt_put(w, DHCP_OPT_DNS, v4->dns,
			     4 * (size_t)MIN(v4->dns_n, DNS_MAX));
	hlen = strnlen(nc->hostname, sizeof(nc->hostname) - 1);
	if (hlen)
		dhcp_opt_put(w, DHCP_OPT_HOSTNAME, nc->hostname, hlen);
	if (m->has_fqdn && nc->fqdn[0])
		dhcp_opt_fqdn(nc, m, w);
	if (nc->dhcp_search && nc->search_n > 0)
		dhcp_opt_search(nc, w);
}

/**
 * dhcp_max_len() - Longest reply the client accepts
 * @nc:		Network configuration
 * @m:		Request
 *
 * Return: bytes of BOOTP message, DHCP_DEF_LEN to DHCP_MAX_LEN
 */
static size_t dhcp_max_len(const struct net_conf *nc, const struct dhcp_msg *m)
{
	size_t max = DHCP_DEF_LEN;

	if (m->max_size >= DHCP_MAX_SIZE_MIN)
		max = (size_t)m->max_size - DHCP_IP_UDP_LEN;
	if (nc->mtu >= DHCP_MAX_SIZE_MIN)
		max = MIN(max, (size_t)nc->mtu - DHCP_IP_UDP_LEN);
	return MAX(MIN(max, DHCP_MAX_LEN), DHCP_DEF_LEN);
}

/**
 * dhcp_build() - Build a reply
 * @nc:		Network configuration
 * @m:		Parsed request
 * @type:	Reply type, from dhcp_reply_type()
 * @buf:	Where to write the BOOTP message
 * @room:	Size of @buf
 *
 * Return: length of the message, or -1 if @room is under DHCP_MIN_LEN
 */
int dhcp_build(const struct net_conf *nc, const struct dhcp_msg *m,
	       uint8_t type, uint8_t *buf, size_t room)
{
	size_t max = MIN(dhcp_max_len(nc, m), room);
	struct dhcp_wr w = { .buf = buf, .len = DHCP_OPT_OFF };

	if (max < DHCP_MIN_LEN)
		return -1;
	w.limit = max - 1;		/* End option */

	memset(buf, 0, DHCP_OPT_OFF);
	buf[BOOTP_OP] = BOOTREPLY;
	buf[BOOTP_HTYPE] = 1;
	buf[BOOTP_HLEN] = MAC_LEN;
	wr32(buf + BOOTP_XID, m->xid);
	wr16(buf + BOOTP_FLAGS, m->flags);
	if (type != DHCPNAK)
		memcpy(buf + BOOTP_CIADDR, &m->ciaddr, 4);
	if (type != DHCPNAK && m->type != DHCPINFORM)
		memcpy(buf + BOOTP_YIADDR, &nc->v4.addr, 4);
	memcpy(buf + BOOTP_GIADDR, &m->giaddr, 4);
	memcpy(buf + BOOTP_CHADDR, m->chaddr, sizeof(m->chaddr));
	wr32(buf + BOOTP_COOKIE, DHCP_MAGIC);

	dhcp_opt_put(&w, DHCP_OPT_MSG_TYPE, &type, 1);
	dhcp_opt_addr(&w, DHCP_OPT_SERVER_ID, nc->v4.gw);
	if (type == DHCPNAK) {
		static const char why[] = "requested address is not ours";

		dhcp_opt_put(&w, DHCP_OPT_MESSAGE, why, sizeof(why) - 1);
	} else {
		dhcp_opts_config(nc, m, &w);
	}
	buf[w.len++] = DHCP_OPT_END;

	if (w.len < DHCP_MIN_LEN) {
		memset(buf + w.len, 0, DHCP_MIN_LEN - w.len);
		w.len = DHCP_MIN_LEN;
	}
	return (int)w.len;
}

/**
 * dhcp_reply_dst() - Where a reply goes (RFC 2131, 4.1)
 * @nc:		Network configuration
 * @m:		Parsed request
 * @type:	Reply type
 * @ip:		IP destination, set on return
 *
 * Return: Ethernet destination: broadcast, or the client's chaddr
 */
static const uint8_t *dhcp_reply_dst(const struct net_conf *nc,
				     const struct dhcp_msg *m, uint8_t type,
				     struct in_addr *ip)
{
	if (type != DHCPNAK && m->ciaddr.s_addr) {
		*ip = m->ciaddr;
		return m->chaddr;
	}
	if (type != DHCPNAK && !(m->flags & DHCP_FLAG_BROADCAST) &&
	    m->type != DHCPINFORM && nc->v4.addr.s_addr) {
		*ip = nc->v4.addr;
		return m->chaddr;
	}
	ip->s_addr = INADDR_BROADCAST;
	return MAC_BROADCAST;
}

/**
 * dhcp_type_str() - Name of a message type, for logs
 * @type:	Message type
 *
 * Return: name
 */
static const char *dhcp_type_str(uint8_t type)
{
	static const char *const names[] = {
		"?", "DISCOVER", "OFFER", "REQUEST", "DECLINE", "ACK", "NAK",
		"RELEASE", "INFORM",
	};

	return type < ARRAY_SIZE(names) ? names[type] : "?";
}

/**
 * dhcp_input() - Answer a DHCP request from the guest
 * @c:		Execution context
 * @f:		IPv4 UDP frame to port 67
 *
 * Return: 0 if handled or deliberately ignored, -1 if malformed (counted)
 */
int dhcp_input(struct ctx *c, const struct frame_in *f)
{
	const struct net_conf *nc = c->net;
	char a[INET_ADDRSTRLEN], mac[MAC_STRLEN];
	struct frame_ip_hdr h = { .proto = IPPROTO_UDP };
	struct in_addr dst;
	struct dhcp_msg m;
	uint8_t *p;
	int type, len;

	if (nc->no_dhcp || !nc->v4.enabled)
		return 0;
	if (f->af != AF_INET || f->proto != IPPROTO_UDP || f->l4_len < 8 ||
	    dhcp_parse(f->l4 + 8, f->l4_len - 8, &m)) {
		drop(DROP_DHCP_BAD);
		return -1;
	}

	type = dhcp_reply_type(nc, &m);
	log_debug("DHCP: %s from %s", dhcp_type_str(m.type),
		  mac_ntop(m.chaddr, mac));
	if (!type)
		return 0;

	h.dst_mac = dhcp_reply_dst(nc, &m, (uint8_t)type, &dst);
	inany_from_v4(&h.src, nc->v4.gw);
	inany_from_v4(&h.dst, dst);
	p = frame_ip_begin(c->q, &h, 8 + DHCP_MAX_LEN);
	if (!p)
		return 0;		/* counted by the queue */

	wr16(p, DHCP_SERVER_PORT);
	wr16(p + 2, DHCP_CLIENT_PORT);
	wr32(p + 4, 0);			/* length, checksum: frame_ip_end() */
	len = dhcp_build(nc, &m, (uint8_t)type, p + 8, DHCP_MAX_LEN);
	if (len < 0 || frame_ip_end(c->q, 8 + (size_t)len)) {
		frame_abort(c->q);
		return 0;
	}

	log_debug("DHCP: %s %s to %s", dhcp_type_str((uint8_t)type),
		  type == DHCPNAK || m.type == DHCPINFORM ? "-" :
		  inet_ntop(AF_INET, &nc->v4.addr, a, sizeof(a)), mac);
	return 0;
}
