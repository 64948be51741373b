/* dhcpv6.c - DHCPv6 server (RFC 8415): gives the guest its one address
 * (IA_NA) and the DNS configuration of the link
 *
 * Theory of operation
 * As for DHCPv4 there is one client and one address (net_conf.v6.addr), so
 * the server is stateless: every binding is infinite (T1, T2, preferred
 * and valid lifetimes all 0xffffffff) and nothing is remembered between
 * messages. A message is parsed into struct dhcpv6_msg (dhcpv6_parse()),
 * the reply type decided from it (dhcpv6_reply_type()) and the reply built
 * in place in the output queue (dhcpv6_build()).
 *
 * Parsing: every option header and length is checked against the end of
 * the message, and so are the options nested in IA_NA and in its IA
 * Address options. Malformed, counted and dropped: truncated header or
 * option, an IA_NA or IA Address shorter than its fixed part, a DUID that
 * is empty or over 130 bytes, a non-empty Rapid Commit, a message type
 * clients do not send (relayed messages included: no relay sits between
 * the guest and us), and the rules of RFC 8415, 16: Client Identifier
 * required except in Information-request, no Server Identifier in Solicit,
 * Confirm and Rebind, no IA in Information-request. A Server Identifier
 * that is not ours means the client talks to another server: the message
 * is ignored, not counted. A missing Server Identifier in Request, Renew,
 * Release or Decline is tolerated, as we are the only server on the link.
 *
 * IAs: the first IA_NA gets the address; up to DHCPV6_IA_MAX - 1 further
 * IA_NAs are answered with status NoAddrsAvail inside the IA, any beyond
 * that are ignored, and IA_TA and IA_PD are ignored. A Solicit without
 * IA_NA gets an Advertise with status NoAddrsAvail. The addresses the
 * client puts in its IA_NA are not looked at, except by Confirm, which is
 * answered from the first one: Success if it is on our prefix, NotOnLink
 * otherwise, no reply if the client sent no address (RFC 8415, 18.3.3).
 *
 * Other options: Preference 255 in Advertise, so the client need not wait
 * for other servers; Rapid Commit in a Reply to a Solicit that had it;
 * DNS servers (23), domain search list (24) and, if the client sent one,
 * the Client FQDN option (39, RFC 4704) with our --fqdn. The reply fits
 * in a 1280-byte IPv6 packet, or the configured MTU if larger; optional
 * options that do not fit are left out.
 *
 * Our Server Identifier is a DUID-LL (type 3) of our MAC address.
 */
#include <arpa/inet.h>
#include <stdio.h>

#include "dhcpv6.h"
#include "dnsname.h"
#include "log.h"

#define DHCPV6_IP_UDP_LEN	48	/* IPv6 and UDP headers */
#define DHCPV6_MTU_MIN		1280
#define DHCPV6_DUID_LL_LEN	(4 + MAC_LEN)
#define DHCPV6_SEARCH_MAX	(SEARCH_MAX * 256)

/* RFC 4704, 4.1: client FQDN flags */
#define FQDN6_S		0x01	/* client asks server to update AAAA */
#define FQDN6_O		0x02	/* server overrode S */
#define FQDN6_N		0x04	/* server performs no updates */

/**
 * struct dhcpv6_opt - An option found by dhcpv6_opt_next()
 * @code:	Option code
 * @len:	Data length
 * @data:	Data, @len bytes inside the buffer walked
 */
struct dhcpv6_opt {
	uint16_t code;
	uint16_t len;
	const uint8_t *data;
};

/**
 * struct dhcpv6_wr - Option writer
 * @buf:	Message being built
 * @len:	Bytes written so far
 * @room:	Most bytes the message may take
 */
struct dhcpv6_wr {
	uint8_t *buf;
	size_t len;
	size_t room;
};

/**
 * dhcpv6_opt_next() - Get the next option of a list, bounds-checked
 * @buf:	Options
 * @len:	Length of @buf
 * @off:	Offset of the next option, advanced past it
 * @o:		Option found
 *
 * Return: 1 if an option was found, 0 at the end, -1 if truncated
 */
static int dhcpv6_opt_next(const uint8_t *buf, size_t len, size_t *off,
			   struct dhcpv6_opt *o)
{
	if (*off == len)
		return 0;
	if (*off > len || len - *off < 4)
		return -1;
	o->code = rd16(buf + *off);
	o->len = rd16(buf + *off + 2);
	if (len - *off - 4 < o->len)
		return -1;
	o->data = buf + *off + 4;
	*off += 4 + (size_t)o->len;
	return 1;
}

/**
 * dhcpv6_opts_check() - Check that a buffer holds a well-formed option list
 * @buf:	Options
 * @len:	Length of @buf
 *
 * Return: 0 if every option fits, -1 otherwise
 */
static int dhcpv6_opts_check(const uint8_t *buf, size_t len)
{
	struct dhcpv6_opt o;
	size_t off = 0;
	int r;

	while ((r = dhcpv6_opt_next(buf, len, &off, &o)) > 0)
		;
	return r;
}

/**
 * dhcpv6_parse_ia_na() - Parse an IA_NA option and the options it holds
 * @m:		Parsed message, updated
 * @o:		IA_NA option
 *
 * Return: 0 if well-formed, -1 otherwise
 */
static int dhcpv6_parse_ia_na(struct dhcpv6_msg *m,
			      const struct dhcpv6_opt *o)
{
	size_t off = DHCPV6_IA_NA_LEN;
	struct dhcpv6_opt in;
	int r;

	if (o->len < DHCPV6_IA_NA_LEN)
		return -1;
	while ((r = dhcpv6_opt_next(o->data, o->len, &off, &in)) > 0) {
		if (in.code != DHCPV6_OPT_IAADDR)
			continue;
		if (in.len < DHCPV6_IAADDR_LEN ||
		    dhcpv6_opts_check(in.data + DHCPV6_IAADDR_LEN,
				      in.len - DHCPV6_IAADDR_LEN))
			return -1;
		if (!m->has_ia_addr) {
			memcpy(&m->ia_addr, in.data, sizeof(m->ia_addr));
			m->has_ia_addr = true;
		}
	}
	if (r < 0)
		return -1;
	if (m->ia_n < DHCPV6_IA_MAX)
		m->iaid[m->ia_n++] = rd32(o->data);
	return 0;
}

/**
 * dhcpv6_parse_duid() - Copy a Client or Server Identifier
 * @o:		Option
 * @duid:	Copy, DHCPV6_DUID_MAX bytes
 * @len:	Its length, set
 *
 * Return: 0 if the DUID has a type and fits, -1 otherwise
 */
static int dhcpv6_parse_duid(const struct dhcpv6_opt *o, uint8_t *duid,
			     size_t *len)
{
	if (o->len < 2 || o->len > DHCPV6_DUID_MAX)
		return -1;
	memcpy(duid, o->data, o->len);
	*len = o->len;
	return 0;
}

/**
 * dhcpv6_parse_opt() - Record one top-level option
 * @m:		Parsed message, updated
 * @o:		Option
 *
 * Return: 0 if fine (including options we ignore), -1 if malformed
 */
static int dhcpv6_parse_opt(struct dhcpv6_msg *m, const struct dhcpv6_opt *o)
{
	switch (o->code) {
	case DHCPV6_OPT_CLIENTID:
		return dhcpv6_parse_duid(o, m->client_id, &m->client_id_len);
	case DHCPV6_OPT_SERVERID:
		return dhcpv6_parse_duid(o, m->server_id, &m->server_id_len);
	case DHCPV6_OPT_IA_NA:
		return dhcpv6_parse_ia_na(m, o);
	case DHCPV6_OPT_IA_TA:
	case DHCPV6_OPT_IA_PD:
		m->has_ia_other = true;
		return 0;
	case DHCPV6_OPT_RAPID_COMMIT:
		if (o->len)
			return -1;
		m->rapid_commit = true;
		return 0;
	case DHCPV6_OPT_FQDN:
		if (o->len) {
			m->has_fqdn = true;
			m->fqdn_flags = o->data[0];
		}
		return 0;
	default:
		return 0;
	}
}

/**
 * dhcpv6_check() - Apply the rules of RFC 8415, 16, on required options
 * @m:		Parsed message
 *
 * Return: 0 if the message may be answered, -1 if it must be discarded
 */
static int dhcpv6_check(const struct dhcpv6_msg *m)
{
	bool ia = m->ia_n || m->has_ia_other;

	switch (m->type) {
	case DHCPV6_SOLICIT:
	case DHCPV6_CONFIRM:
	case DHCPV6_REBIND:
		if (m->server_id_len)
			return -1;
		break;
	case DHCPV6_REQUEST:
	case DHCPV6_RENEW:
	case DHCPV6_RELEASE:
	case DHCPV6_DECLINE:
		break;
	case DHCPV6_INFO_REQUEST:
		return ia ? -1 : 0;
	default:
		return -1;		/* not a client message */
	}
	return m->client_id_len ? 0 : -1;
}

/**
 * dhcpv6_parse() - Parse and bounds-check a DHCPv6 client message
 * @msg:	Message (UDP payload)
 * @len:	Its length
 * @m:		Parsed message
 *
 * Return: 0 if @m describes a well-formed client message, -1 if malformed
 */
int dhcpv6_parse(const uint8_t *msg, size_t len, struct dhcpv6_msg *m)
{
	size_t off = DHCPV6_HDR_LEN;
	struct dhcpv6_opt o;
	int r;

	memset(m, 0, sizeof(*m));
	if (len < DHCPV6_HDR_LEN)
		return -1;
	m->type = msg[0];
	memcpy(m->xid, msg + 1, sizeof(m->xid));

	while ((r = dhcpv6_opt_next(msg, len, &off, &o)) > 0) {
		if (dhcpv6_parse_opt(m, &o))
			return -1;
	}
	if (r < 0)
		return -1;
	return dhcpv6_check(m);
}

/**
 * dhcpv6_duid() - Our DUID: DUID-LL of our MAC (RFC 8415, 11.4)
 * @nc:		Network configuration
 * @duid:	DHCPV6_DUID_LL_LEN bytes, filled
 */
static void dhcpv6_duid(const struct net_conf *nc,
			uint8_t duid[DHCPV6_DUID_LL_LEN])
{
	wr16(duid, 3);			/* DUID-LL */
	wr16(duid + 2, 1);		/* Ethernet */
	memcpy(duid + 4, nc->our_mac, MAC_LEN);
}

/**
 * dhcpv6_reply_type() - Decide how to answer a message
 * @nc:		Network configuration
 * @m:		Parsed message
 *
 * Return: DHCPV6_ADVERTISE or DHCPV6_REPLY, or 0 to send nothing
 */
int dhcpv6_reply_type(const struct net_conf *nc, const struct dhcpv6_msg *m)
{
	uint8_t duid[DHCPV6_DUID_LL_LEN];

	dhcpv6_duid(nc, duid);
	if (m->server_id_len && (m->server_id_len != sizeof(duid) ||
				 memcmp(m->server_id, duid, sizeof(duid))))
		return 0;		/* for another server */

	switch (m->type) {
	case DHCPV6_SOLICIT:
		return m->rapid_commit ? DHCPV6_REPLY : DHCPV6_ADVERTISE;
	case DHCPV6_CONFIRM:
		return m->has_ia_addr ? DHCPV6_REPLY : 0;
	case DHCPV6_REQUEST:
	case DHCPV6_RENEW:
	case DHCPV6_REBIND:
	case DHCPV6_RELEASE:
	case DHCPV6_DECLINE:
	case DHCPV6_INFO_REQUEST:
		return DHCPV6_REPLY;
	default:
		return 0;
	}
}

/**
 * dhcpv6_opt_add() - Append an option header, if the option fits
 * @w:		Writer
 * @code:	Option code
 * @len:	Data length the caller will write
 *
 * Return: where to write the data, NULL if it does not fit
 */
static uint8_t *dhcpv6_opt_add(struct dhcpv6_wr *w, uint16_t code, size_t len)
{
	uint8_t *p;

	if (len > 0xffff || w->len + 4 + len > w->room)
		return NULL;
	p = w->buf + w->len;
	wr16(p, code);
	wr16(p + 2, (uint16_t)len);
	w->len += 4 + len;
	return p + 4;
}

/**
 * dhcpv6_opt_put() - Append an option with the given data
 * @w:		Writer
 * @code:	Option code
 * @data:	Data
 * @len:	Its length
 *
 * Return: 0 on success, -1 if it did not fit
 */
static int dhcpv6_opt_put(struct dhcpv6_wr *w, uint16_t code,
			  const void *data, size_t len)
{
	uint8_t *p = dhcpv6_opt_add(w, code, len);

	if (!p)
		return -1;
	if (len)
		memcpy(p, data, len);
	return 0;
}

/**
 * dhcpv6_status_put() - Write a Status Code option at @p
 * @p:		Where to write: 6 bytes plus the message
 * @status:	Status code
 * @text:	Message
 *
 * Return: bytes written
 */
static size_t dhcpv6_status_put(uint8_t *p, uint16_t status,
				const char *text)
{
	size_t n = strlen(text);

	wr16(p, DHCPV6_OPT_STATUS);
	wr16(p + 2, (uint16_t)(2 + n));
	wr16(p + 4, status);
	memcpy(p + 6, text, n);
	return 6 + n;
}

/**
 * dhcpv6_status() - Append a top-level Status Code option
 * @w:		Writer
 * @status:	Status code
 * @text:	Message
 *
 * Return: 0 on success, -1 if it did not fit
 */
static int dhcpv6_status(struct dhcpv6_wr *w, uint16_t status,
			 const char *text)
{
	size_t n = strlen(text);

	if (w->len + 6 + n > w->room)
		return -1;
	w->len += dhcpv6_status_put(w->buf + w->len, status, text);
	return 0;
}

/**
 * dhcpv6_ia_na() - Append the IA_NA answers: our address in the first,
 *		    NoAddrsAvail in the others
 * @nc:		Network configuration
 * @m:		Parsed message
 * @w:		Writer
 *
 * Return: 0 on success, -1 if they did not fit
 */
static int dhcpv6_ia_na(const struct net_conf *nc, const struct dhcpv6_msg *m,
			struct dhcpv6_wr *w)
{
	static const char none[] = "no addresses available";
	unsigned int i;

	for (i = 0; i < m->ia_n; i++) {
		size_t len = DHCPV6_IA_NA_LEN + (i ? 6 + sizeof(none) - 1 :
						 4 + DHCPV6_IAADDR_LEN);
		uint8_t *p = dhcpv6_opt_add(w, DHCPV6_OPT_IA_NA, len);
		uint32_t t = i ? 0 : DHCPV6_INFINITE;

		if (!p)
			return -1;
		wr32(p, m->iaid[i]);
		wr32(p + 4, t);
		wr32(p + 8, t);
		p += DHCPV6_IA_NA_LEN;
		if (i) {
			dhcpv6_status_put(p, DHCPV6_NO_ADDRS_AVAIL, none);
			continue;
		}
		wr16(p, DHCPV6_OPT_IAADDR);
		wr16(p + 2, DHCPV6_IAADDR_LEN);
		memcpy(p + 4, &nc->v6.addr, sizeof(nc->v6.addr));
		wr32(p + 20, DHCPV6_INFINITE);	/* preferred */
		wr32(p + 24, DHCPV6_INFINITE);	/* valid */
	}
	return 0;
}

/**
 * dhcpv6_domain_list() - Append the Domain Search List option (24)
 * @nc:		Network configuration
 * @w:		Writer
 *
 * The list is cut at the last name that fits.
 */
static void dhcpv6_domain_list(const struct net_conf *nc,
			       struct dhcpv6_wr *w)
{
	uint8_t list[DHCPV6_SEARCH_MAX];
	size_t n = 0, room;
	int i;

	room = w->room > w->len + 4 ? w->room - w->len - 4 : 0;
	for (i = 0; i < nc->search_n && i < SEARCH_MAX; i++) {
		int r = dns_name_encode(nc->search[i], list + n,
					sizeof(list) - n);

		if (r < 0) {
			log_debug("DHCPv6: cannot encode search domain %s",
				  nc->search[i]);
			continue;
		}
		if (n + (size_t)r > room)
			break;
		n += (size_t)r;
	}
	if (n)
		dhcpv6_opt_put(w, DHCPV6_OPT_DOMAIN_LIST, list, n);
}

/**
 * dhcpv6_fqdn() - Append the Client FQDN option (39, RFC 4704)
 * @nc:		Network configuration
 * @m:		Message, which carried option 39
 * @w:		Writer
 *
 * We update no DNS records: N is set, and O too if the client asked us to.
 */
static void dhcpv6_fqdn(const struct net_conf *nc, const struct dhcpv6_msg *m,
			struct dhcpv6_wr *w)
{
	uint8_t b[1 + 255];
	int r;

	r = dns_name_encode(nc->fqdn, b + 1, sizeof(b) - 1);
	if (r < 0)
		return;
	b[0] = FQDN6_N | ((m->fqdn_flags & FQDN6_S) ? FQDN6_O : 0);
	dhcpv6_opt_put(w, DHCPV6_OPT_FQDN, b, 1 + (size_t)r);
}

/**
 * dhcpv6_config() - Append DNS servers, search list and FQDN as enabled
 * @nc:		Network configuration
 * @m:		Parsed message
 * @w:		Writer
 *
 * Optional: whatever does not fit is left out.
 */
static void dhcpv6_config(const struct net_conf *nc,
			  const struct dhcpv6_msg *m, struct dhcpv6_wr *w)
{
	if (nc->dhcp_dns && nc->v6.dns_n > 0)
		dhcpv6_opt_put(w, DHCPV6_OPT_DNS, nc->v6.dns,
			       16 * (size_t)MIN(nc->v6.dns_n, DNS_MAX));
	if (m->has_fqdn && nc->fqdn[0])
		dhcpv6_fqdn(nc, m, w);
	if (nc->dhcp_search && nc->search_n > 0)
		dhcpv6_domain_list(nc, w);
}

/**
 * dhcpv6_on_link() - Is an address on our prefix?
 * @nc:		Network configuration
 * @a:		Address
 *
 * Return: true if @a shares v6.prefix_len leading bits with v6.addr
 */
static bool dhcpv6_on_link(const struct net_conf *nc, const struct in6_addr *a)
{
	int plen = MIN(MAX(nc->v6.prefix_len, 0), 128);
	const uint8_t *x = a->s6_addr, *y = nc->v6.addr.s6_addr;
	int bytes = plen / 8, bits = plen % 8;

	if (memcmp(x, y, (size_t)bytes))
		return false;
	if (!bits)
		return true;
	return !((x[bytes] ^ y[bytes]) & (0xff << (8 - bits)));
}

/**
 * dhcpv6_body() - Append what depends on the client's message type
 * @nc:		Network configuration
 * @m:		Parsed message
 * @type:	Reply type
 * @w:		Writer
 *
 * Return: 0 on success, -1 if a required option did not fit
 */
static int dhcpv6_body(const struct net_conf *nc, const struct dhcpv6_msg *m,
		       uint8_t type, struct dhcpv6_wr *w)
{
	uint8_t pref = 255;

	switch (m->type) {
	case DHCPV6_SOLICIT:
		if (type == DHCPV6_REPLY &&
		    dhcpv6_opt_put(w, DHCPV6_OPT_RAPID_COMMIT, NULL, 0))
			return -1;
		if (type == DHCPV6_ADVERTISE &&
		    dhcpv6_opt_put(w, DHCPV6_OPT_PREFERENCE, &pref, 1))
			return -1;
		if (!m->ia_n)
			return dhcpv6_status(w, DHCPV6_NO_ADDRS_AVAIL,
					     "no addresses available");
		return dhcpv6_ia_na(nc, m, w);
	case DHCPV6_REQUEST:
	case DHCPV6_RENEW:
	case DHCPV6_REBIND:
		return dhcpv6_ia_na(nc, m, w);
	case DHCPV6_CONFIRM:
		if (dhcpv6_on_link(nc, &m->ia_addr))
			return dhcpv6_status(w, DHCPV6_SUCCESS, "on link");
		return dhcpv6_status(w, DHCPV6_NOT_ON_LINK, "not on link");
	case DHCPV6_RELEASE:
	case DHCPV6_DECLINE:
		return dhcpv6_status(w, DHCPV6_SUCCESS, "success");
	default:
		return 0;
	}
}

/**
 * dhcpv6_max_len() - Longest reply we send
 * @nc:		Network configuration
 *
 * Return: DHCPV6_DEF_LEN, or more up to DHCPV6_MAX_LEN if the MTU allows
 */
static size_t dhcpv6_max_len(const struct net_conf *nc)
{
	if (nc->mtu < DHCPV6_MTU_MIN)
		return DHCPV6_DEF_LEN;
	return MIN((size_t)nc->mtu - DHCPV6_IP_UDP_LEN, DHCPV6_MAX_LEN);
}

/**
 * dhcpv6_build() - Build a reply
 * @nc:		Network configuration
 * @m:		Parsed message
 * @type:	Reply type, from dhcpv6_reply_type()
 * @buf:	Where to write the message
 * @room:	Size of @buf
 *
 * Return: length of the message, or -1 if it does not fit in @room
 */
int dhcpv6_build(const struct net_conf *nc, const struct dhcpv6_msg *m,
		 uint8_t type, uint8_t *buf, size_t room)
{
	struct dhcpv6_wr w = { .buf = buf, .len = DHCPV6_HDR_LEN };
	uint8_t duid[DHCPV6_DUID_LL_LEN];

	w.room = MIN(room, dhcpv6_max_len(nc));
	if (w.room < DHCPV6_HDR_LEN)
		return -1;
	buf[0] = type;
	memcpy(buf + 1, m->xid, sizeof(m->xid));

	dhcpv6_duid(nc, duid);
	if (m->client_id_len &&
	    dhcpv6_opt_put(&w, DHCPV6_OPT_CLIENTID, m->client_id,
			   m->client_id_len))
		return -1;
	if (dhcpv6_opt_put(&w, DHCPV6_OPT_SERVERID, duid, sizeof(duid)) ||
	    dhcpv6_body(nc, m, type, &w))
		return -1;
	dhcpv6_config(nc, m, &w);
	return (int)w.len;
}

/**
 * dhcpv6_input() - Answer a DHCPv6 message from the guest
 * @c:		Execution context
 * @f:		IPv6 UDP frame to port 547
 *
 * Return: 0 if handled or deliberately ignored, -1 if malformed (counted)
 */
int dhcpv6_input(struct ctx *c, const struct frame_in *f)
{
	const struct net_conf *nc = c->net;
	struct frame_ip_hdr h = { .proto = IPPROTO_UDP };
	char a[INET6_ADDRSTRLEN];
	struct dhcpv6_msg m;
	uint8_t *p;
	int type, len;

	if (nc->no_dhcpv6 || !nc->v6.enabled)
		return 0;
	if (f->af != AF_INET6 || f->proto != IPPROTO_UDP || f->l4_len < 8 ||
	    dhcpv6_parse(f->l4 + 8, f->l4_len - 8, &m)) {
		drop(DROP_DHCP_BAD);
		return -1;
	}

	type = dhcpv6_reply_type(nc, &m);
	log_debug("DHCPv6: message type %u from %s", m.type,
		  inet_ntop(AF_INET6, &f->src.a6, a, sizeof(a)));
	if (!type || inany_is_unspecified(&f->src) ||
	    inany_is_multicast(&f->src))
		return 0;

	inany_from_v6(&h.src, &nc->v6.our_ll);
	inany_from_v6(&h.dst, &f->src.a6);
	p = frame_ip_begin(c->q, &h, 8 + DHCPV6_MAX_LEN);
	if (!p)
		return 0;		/* counted by the queue */

	wr16(p, DHCPV6_SERVER_PORT);
	wr16(p + 2, DHCPV6_CLIENT_PORT);
	wr32(p + 4, 0);			/* length, checksum: frame_ip_end() */
	len = dhcpv6_build(nc, &m, (uint8_t)type, p + 8, DHCPV6_MAX_LEN);
	if (len < 0 || frame_ip_end(c->q, 8 + (size_t)len)) {
		frame_abort(c->q);
		return 0;
	}

	log_debug("DHCPv6: %s, %s", type == DHCPV6_REPLY ? "Reply" :
		  "Advertise", m.ia_n ? inet_ntop(AF_INET6, &nc->v6.addr, a,
						  sizeof(a)) : "no address");
	return 0;
}
