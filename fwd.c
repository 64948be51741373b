/* fwd.c - address maps between the guest's view and the host's sockets,
 * and the port forwarding specifications of -t/-u/-T/-U
 *
 * The guest shares the host's addresses, so most destinations are used
 * as they are. Two addresses are special, as in pasta:
 * - the --map-host-loopback address (by default the gateway) stands for
 *   the host itself and is reached through the host's loopback. The
 *   gateway may be link-local (the host's router, when the host is
 *   configured by RAs): conf.c then makes it our address toward the
 *   guest, and the guest's frames carry it as their destination;
 * - the --map-guest-addr address stands for the host's own address on the
 *   template interface, which the guest cannot otherwise reach because it
 *   holds that address itself.
 * A third one is special for DNS only: TCP and UDP to ports 53 and 853
 * of the --dns-forward address go to the host's resolver (--dns-host).
 * With a resolver on the host's loopback (systemd-resolved's
 * 127.0.0.53), conf.c makes the --dns-forward address default to the
 * --map-host-loopback one and announces that, as pasta does: queries to
 * the gateway then reach the resolver, anything else sent to it the
 * host's 127.0.0.1.
 * The other way (fwd_host_to_guest(), for inbound TCP and UDP), a peer on
 * the host's loopback or at the host's own address appears to the guest
 * as the --map-host-loopback address, or the gateway if there is none.
 * A link-local destination left as it is (the router itself, with
 * --no-map-gw) is reached on the template interface: fwd_scope().
 * With -o/--outbound, host sockets to anything but the host's loopback
 * are bound to that source address (fwd_out_src()).
 *
 * Theory of operation: port forwarding
 * One struct fwd_ports holds everything the options of one protocol and
 * one direction said (-t, -u, -T or -U, each repeatable). A SPEC is
 * "none", or an optional binding "ADDRESS[%IFNAME]/" or "%IFNAME/"
 * followed by a comma list of items: "all", "auto", "first[-last]"
 * optionally followed by ":tofirst[-tolast]", and "~first[-last]"
 * (exclusion). The binding, when given, applies to every item of its
 * SPEC. What the options add up to:
 * - ranges set bits in @map (and in their binding's map) and the
 *   destination offset in @delta; a port given twice must keep one
 *   destination;
 * - exclusions set bits in @excl, which win over everything else, in
 *   every option of the direction (pasta scopes them to one option);
 * - with "all", or with exclusions but no range in any option, every port
 *   outside the listening side's ephemeral range is forwarded;
 * - "auto" turns listening static ports into following the other side:
 *   a port is a candidate if it is in @map (or any port, when no range is
 *   given) and not excluded; the consumer listens on a candidate P while
 *   the other side has a socket bound to fwd_port_dest(P), rescanning
 *   with fwd_scan_fd(); it should leave out of that scan the ports it
 *   listens on itself for the opposite direction, so that the two
 *   directions do not chase each other;
 * - "none" stands alone, "all" excludes "auto" and ranges.
 * A SPEC is checked whole before anything is applied: on error the
 * structure is unchanged and one line saying why is written to the
 * caller's buffer.
 */
#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <unistd.h>

#include "fwd.h"
#include "syscalls.h"

/* What this module calls after start-up, for the filter (syscalls.h) */
SYSCALL_ALLOW(SYS_NS, pread64);

/**
 * fwd_is_dns() - Does a flow to this port carry DNS?
 * @proto:	IPPROTO_TCP or IPPROTO_UDP
 * @dport:	Destination port
 *
 * Port 53 for classic DNS over UDP and TCP, and 853 for DNS over TLS
 * (TCP, RFC 7858) and over DTLS or QUIC (UDP, RFC 8094, RFC 9250), for
 * both protocols, as pasta does.
 *
 * Return: true for a DNS port of TCP or UDP
 */
bool fwd_is_dns(uint8_t proto, uint16_t dport)
{
	if (proto != IPPROTO_TCP && proto != IPPROTO_UDP)
		return false;
	return dport == FWD_DNS_PORT || dport == FWD_DNS_TLS_PORT;
}

/* The host's resolver if @dst is the --dns-forward address of its family
 * and a resolver is known; false otherwise */
static bool fwd_dns_host(const struct net_conf *nc,
			 const union inany_addr *dst, union inany_addr *out)
{
	const struct in_addr *v4 = inany_v4(dst);

	if (v4) {
		if (!nc->v4.dns_fwd.s_addr || !nc->v4.dns_host.s_addr ||
		    v4->s_addr != nc->v4.dns_fwd.s_addr)
			return false;
		inany_from_v4(out, nc->v4.dns_host);
		return true;
	}
	if (IN6_IS_ADDR_UNSPECIFIED(&nc->v6.dns_fwd) ||
	    IN6_IS_ADDR_UNSPECIFIED(&nc->v6.dns_host) ||
	    !inany_equal6(dst, &nc->v6.dns_fwd))
		return false;
	inany_from_v6(out, &nc->v6.dns_host);
	return true;
}

/**
 * fwd_guest_dst() - Where a TCP or UDP flow the guest opens really goes
 * @nc:		Network configuration
 * @proto:	IPPROTO_TCP or IPPROTO_UDP
 * @dst:	Destination as the guest addressed it
 * @dport:	Destination port
 * @out:	Destination for the host socket (same port)
 *
 * A DNS port (fwd_is_dns()) of the --dns-forward address goes to the
 * host's resolver (--dns-host, or the first of /etc/resolv.conf), which
 * may be on the host's loopback (127.0.0.53): the host socket is then an
 * ordinary one connecting from the host's side, from 127.0.0.1 (::1), no
 * splice. The --dns-forward address wins over the address maps, as it is
 * the gateway itself when conf.c chose it for a loopback resolver.
 * Anything else goes through fwd_guest_to_host().
 *
 * Return: 1 if the address was mapped, 0 if used as it is
 */
int fwd_guest_dst(const struct net_conf *nc, uint8_t proto,
		  const union inany_addr *dst, uint16_t dport,
		  union inany_addr *out)
{
	if (fwd_is_dns(proto, dport) && fwd_dns_host(nc, dst, out))
		return 1;
	return fwd_guest_to_host(nc, dst, out);
}

/**
 * fwd_guest_to_host() - Translate a destination chosen by the guest
 * @nc:		Network configuration
 * @dst:	Destination as the guest addressed it
 * @out:	Destination for the host socket
 *
 * Return: 1 if the address was mapped, 0 if used as it is
 */
int fwd_guest_to_host(const struct net_conf *nc, const union inany_addr *dst,
		      union inany_addr *out)
{
	const struct in_addr *v4 = inany_v4(dst);

	*out = *dst;
	if (v4) {
		if (nc->v4.map_host_lo.s_addr &&
		    v4->s_addr == nc->v4.map_host_lo.s_addr) {
			inany_from_v4(out, (struct in_addr){
				htonl(INADDR_LOOPBACK) });
			return 1;
		}
		if (nc->v4.map_guest_addr.s_addr &&
		    v4->s_addr == nc->v4.map_guest_addr.s_addr) {
			inany_from_v4(out, nc->v4.addr_host);
			return 1;
		}
		return 0;
	}
	if (!IN6_IS_ADDR_UNSPECIFIED(&nc->v6.map_host_lo) &&
	    inany_equal6(dst, &nc->v6.map_host_lo)) {
		inany_from_v6(out, &in6addr_loopback);
		return 1;
	}
	if (!IN6_IS_ADDR_UNSPECIFIED(&nc->v6.map_guest_addr) &&
	    inany_equal6(dst, &nc->v6.map_guest_addr)) {
		inany_from_v6(out, &nc->v6.addr_host);
		return 1;
	}
	return 0;
}

/**
 * fwd_scope() - Scope of a destination a host socket connects or sends to
 * @nc:		Network configuration
 * @a:		Destination on the host's side, after the address maps
 *
 * A link-local address means nothing without an interface: the guest's
 * link is the template interface on the host (the one whose router, a
 * link-local gateway, the guest has as its own), so an unmapped
 * link-local destination is reached there.
 *
 * Return: the template interface's index for a link-local IPv6 address,
 *	   0 (none) otherwise
 */
uint32_t fwd_scope(const struct net_conf *nc, const union inany_addr *a)
{
	if (inany_v4(a) || !IN6_IS_ADDR_LINKLOCAL(&a->a6))
		return 0;
	return nc->v6.ll_scope;
}

/**
 * fwd_host_to_guest() - The addresses the guest sees for an inbound flow
 * @nc:		Network configuration
 * @peer:	Peer's address on the host's side
 * @gpeer:	Address the peer appears to come from in the guest
 * @gaddr:	Guest address the flow goes to
 *
 * A peer on the host's loopback, or at the host's own address on the
 * template interface (which the guest holds too), appears to come from
 * the --map-host-loopback address, or the gateway if there is none; any
 * other peer from its own address. The flow goes to the address the
 * guest was last seen using, or the one assigned to it before any was
 * seen.
 */
void fwd_host_to_guest(const struct net_conf *nc,
		       const union inany_addr *peer, union inany_addr *gpeer,
		       union inany_addr *gaddr)
{
	const struct in_addr *v4 = inany_v4(peer);
	const struct net6 *n6 = &nc->v6;
	const struct net4 *n4 = &nc->v4;
	bool host = inany_is_loopback(peer);

	*gpeer = *peer;
	if (v4) {
		host = host || v4->s_addr == n4->addr_host.s_addr;
		if (host)
			inany_from_v4(gpeer, n4->map_host_lo.s_addr ?
				      n4->map_host_lo : n4->gw);
		inany_from_v4(gaddr, n4->addr_seen.s_addr ?
			      n4->addr_seen : n4->addr);
		return;
	}
	if (host || inany_equal6(peer, &n6->addr_host))
		inany_from_v6(gpeer, IN6_IS_ADDR_UNSPECIFIED(&n6->map_host_lo) ?
			      &n6->gw : &n6->map_host_lo);
	inany_from_v6(gaddr, IN6_IS_ADDR_UNSPECIFIED(&n6->addr_seen) ?
		      &n6->addr : &n6->addr_seen);
}

/**
 * fwd_is_broadcast() - Is an address multicast, or a limited or subnet
 *			broadcast one (of the guest's IPv4 subnet)?
 * @nc:		Network configuration
 * @a:		Address
 *
 * Return: true if so: no unicast flow has it at either end
 */
bool fwd_is_broadcast(const struct net_conf *nc, const union inany_addr *a)
{
	const struct in_addr *v4 = inany_v4(a);
	uint32_t host_mask;

	if (inany_is_multicast(a))
		return true;
	if (!v4)
		return false;
	if (v4->s_addr == htonl(INADDR_BROADCAST))
		return true;
	if (nc->v4.prefix_len <= 0 || nc->v4.prefix_len >= 31)
		return false;
	host_mask = 0xffffffffu >> nc->v4.prefix_len;
	return (ntohl(v4->s_addr) & host_mask) == host_mask;
}

/**
 * fwd_is_guest_addr() - Is this an address the guest holds?
 * @nc:		Network configuration
 * @a:		Address
 *
 * Return: true for the assigned address and the addresses seen in use
 */
bool fwd_is_guest_addr(const struct net_conf *nc, const union inany_addr *a)
{
	const struct in_addr *v4 = inany_v4(a);

	if (v4)
		return v4->s_addr && (v4->s_addr == nc->v4.addr.s_addr ||
				      v4->s_addr == nc->v4.addr_seen.s_addr);
	if (IN6_IS_ADDR_UNSPECIFIED(&a->a6))
		return false;
	return inany_equal6(a, &nc->v6.addr) ||
	       inany_equal6(a, &nc->v6.addr_seen) ||
	       inany_equal6(a, &nc->v6.addr_ll_seen);
}

/**
 * fwd_ll_from_mac() - Link-local address from a MAC (modified EUI-64)
 * @ll:		Output address, fe80::/64 plus the interface identifier
 * @mac:	MAC address
 */
void fwd_ll_from_mac(struct in6_addr *ll, const uint8_t mac[MAC_LEN])
{
	memset(ll, 0, sizeof(*ll));
	ll->s6_addr[0] = 0xfe;
	ll->s6_addr[1] = 0x80;
	ll->s6_addr[8] = mac[0] ^ 0x02;
	ll->s6_addr[9] = mac[1];
	ll->s6_addr[10] = mac[2];
	ll->s6_addr[11] = 0xff;
	ll->s6_addr[12] = 0xfe;
	ll->s6_addr[13] = mac[3];
	ll->s6_addr[14] = mac[4];
	ll->s6_addr[15] = mac[5];
}

/**
 * fwd_out_src() - Source address -o gives a socket to the outside
 * @nc:		Network configuration
 * @dst:	Destination of the host socket (after fwd_guest_dst())
 * @src:	Source address to bind, set if the return value is true
 *
 * pasta's -o/--outbound: connections and datagrams to the outside leave
 * from that address instead of the one the routing tables pick. What
 * goes to the host's loopback (the mapped gateway, a loopback resolver)
 * is not "outside", and a loopback destination cannot be reached from a
 * non-loopback source anyway: the kernel drops such packets as martians
 * on the way back.
 *
 * Return: true if @src is to be bound, false for the kernel's choice
 */
bool fwd_out_src(const struct net_conf *nc, const union inany_addr *dst,
		 union inany_addr *src)
{
	if (inany_is_loopback(dst))
		return false;
	if (inany_is_v4(dst)) {
		if (!nc->v4.addr_out.s_addr)
			return false;
		inany_from_v4(src, nc->v4.addr_out);
		return true;
	}
	if (IN6_IS_ADDR_UNSPECIFIED(&nc->v6.addr_out))
		return false;
	inany_from_v6(src, &nc->v6.addr_out);
	return true;
}

/* Port forwarding specifications */

/* conf holds four of these (-t, -u, -T, -U) */
static_assert(sizeof(struct fwd_ports) < 300 * 1024,
	      "struct fwd_ports grew past 300 KiB");

enum fwd_item_kind {
	FWD_ITEM_RANGE,
	FWD_ITEM_EXCL,
	FWD_ITEM_NONE,
	FWD_ITEM_ALL,
	FWD_ITEM_AUTO,
};

/**
 * struct fwd_item - One item of a port list
 * @kind:	Range, exclusion or keyword
 * @first:	First port (range and exclusion)
 * @last:	Last port
 * @to:		Destination of @first (range)
 * @s:		Item text, not NUL-terminated, for messages
 * @len:	Its length
 */
struct fwd_item {
	enum fwd_item_kind kind;
	unsigned int first;
	unsigned int last;
	unsigned int to;
	const char *s;
	int len;
};

/**
 * struct fwd_spec - One SPEC split into its binding and its port list
 * @ports:	Comma list of items
 * @has_bind:	An address or an interface was given
 * @any:	No address was given
 * @addr:	Address, unless @any
 * @ifname:	Interface, "" for none
 * @flags:	FWD_* flags of its items
 */
struct fwd_spec {
	const char *ports;
	bool has_bind;
	bool any;
	union inany_addr addr;
	char ifname[IFNAMSIZ];
	unsigned int flags;
};

static int fwd_err(char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Write one message line into @err, if any; return -1 */
static int fwd_err(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (!err || !errlen)
		return -1;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return -1;
}

/**
 * fwd_num() - Parse a port number: decimal digits only, 1 to 65535
 * @p:		Cursor, moved past the digits
 * @end:	End of the text
 * @port:	Output
 *
 * Return: 0, -EINVAL if no digit is there, -ERANGE if out of range
 */
static int fwd_num(const char **p, const char *end, unsigned int *port)
{
	const char *s = *p;
	unsigned long v = 0;

	if (s == end || *s < '0' || *s > '9')
		return -EINVAL;
	for (; s < end && *s >= '0' && *s <= '9'; s++)
		v = MIN(v * 10 + (unsigned long)(*s - '0'), 65536UL);
	*p = s;
	if (!v || v > 65535)
		return -ERANGE;
	*port = (unsigned int)v;
	return 0;
}

/**
 * fwd_range() - Parse "first[-last]"
 * @p:		Cursor, moved past the range
 * @end:	End of the item
 * @first:	First port
 * @last:	Last port, @first if not given
 * @it:		Item, for messages
 * @err:	Message buffer
 * @errlen:	Its size
 *
 * Return: 0 or -1
 */
static int fwd_range(const char **p, const char *end, unsigned int *first,
		     unsigned int *last, const struct fwd_item *it,
		     char *err, size_t errlen)
{
	int rc = fwd_num(p, end, first);

	if (!rc && *p < end && **p == '-') {
		(*p)++;
		if (*p == end)
			return fwd_err(err, errlen, "\"%.*s\": last port of "
				       "range missing", it->len, it->s);
		rc = fwd_num(p, end, last);
		if (!rc && *last < *first)
			return fwd_err(err, errlen, "\"%.*s\": range ends "
				       "before it starts", it->len, it->s);
	} else if (!rc) {
		*last = *first;
	}
	if (rc == -EINVAL)
		return fwd_err(err, errlen, "\"%.*s\": port number expected",
			       it->len, it->s);
	if (rc == -ERANGE)
		return fwd_err(err, errlen, "\"%.*s\": port out of range "
			       "(1 to 65535)", it->len, it->s);
	return 0;
}

/* Is the item the keyword @kw? */
static bool fwd_keyword(const char *s, int len, const char *kw)
{
	return len == (int)strlen(kw) && !memcmp(s, kw, (size_t)len);
}

/**
 * fwd_target() - Parse the ":tofirst[-tolast]" part of a range item
 * @p:		Cursor, on the ':'
 * @end:	End of the item
 * @it:		Item: @first and @last parsed, @to set here
 * @err:	Message buffer
 * @errlen:	Its size
 *
 * Return: 0 or -1
 */
static int fwd_target(const char **p, const char *end, struct fwd_item *it,
		      char *err, size_t errlen)
{
	unsigned int first, last;

	if (it->kind == FWD_ITEM_EXCL)
		return fwd_err(err, errlen, "\"%.*s\": an exclusion takes no "
			       "target port", it->len, it->s);
	if (++(*p) == end)
		return fwd_err(err, errlen, "\"%.*s\": target port missing",
			       it->len, it->s);
	if (fwd_range(p, end, &first, &last, it, err, errlen))
		return -1;
	if (last - first != it->last - it->first)
		return fwd_err(err, errlen, "\"%.*s\": target range differs "
			       "in length", it->len, it->s);
	it->to = first;
	return 0;
}

/**
 * fwd_item_parse() - Parse one item of a port list
 * @s:		Item text (not NUL-terminated)
 * @len:	Its length
 * @it:		Output
 * @err:	Message buffer
 * @errlen:	Its size
 *
 * Return: 0 or -1
 */
static int fwd_item_parse(const char *s, int len, struct fwd_item *it,
			  char *err, size_t errlen)
{
	const char *p = s, *end = s + len;

	*it = (struct fwd_item){ .s = s, .len = len };
	if (!len)
		return fwd_err(err, errlen, "empty item in port list");
	if (fwd_keyword(s, len, "none") || fwd_keyword(s, len, "all") ||
	    fwd_keyword(s, len, "auto")) {
		it->kind = s[1] == 'o' ? FWD_ITEM_NONE :
			   s[1] == 'l' ? FWD_ITEM_ALL : FWD_ITEM_AUTO;
		return 0;
	}
	it->kind = *p == '~' ? FWD_ITEM_EXCL : FWD_ITEM_RANGE;
	if (*p == '~')
		p++;
	if (fwd_range(&p, end, &it->first, &it->last, it, err, errlen))
		return -1;
	it->to = it->first;
	if (p < end && *p == ':' && fwd_target(&p, end, it, err, errlen))
		return -1;
	if (p < end)
		return fwd_err(err, errlen, "\"%.*s\": unexpected '%c'",
			       len, s, *p);
	return 0;
}

/**
 * fwd_item_next() - Find the next item of a comma list
 * @p:		Cursor: start of the item; moved to the next one, or NULL
 *		after the last item
 * @s:		Start of the item
 * @len:	Its length
 *
 * Return: false once the list is done
 */
static bool fwd_item_next(const char **p, const char **s, int *len)
{
	const char *comma;

	if (!*p)
		return false;
	comma = strchrnul(*p, ',');
	*s = *p;
	*len = (int)(comma - *p);
	*p = *comma ? comma + 1 : NULL;
	return true;
}

/* Is @ifname a name the kernel would accept for an interface? */
static bool fwd_ifname_ok(const char *ifname)
{
	return *ifname && strcmp(ifname, ".") && strcmp(ifname, "..") &&
	       !ifname[strcspn(ifname, ":/ \t\n")];
}

/**
 * fwd_spec_bind() - Split the "ADDRESS[%IFNAME]/" part off a SPEC
 * @sp:		Output
 * @spec:	SPEC
 * @err:	Message buffer
 * @errlen:	Its size
 *
 * Return: 0 or -1
 */
static int fwd_spec_bind(struct fwd_spec *sp, const char *spec,
			 char *err, size_t errlen)
{
	const char *slash = strchr(spec, '/'), *pct;
	char buf[INANY_STRLEN];
	size_t alen, ilen;

	*sp = (struct fwd_spec){ .ports = spec, .any = true };
	if (!slash)
		return 0;
	sp->ports = slash + 1;
	sp->has_bind = true;
	pct = memchr(spec, '%', (size_t)(slash - spec));
	alen = (size_t)((pct ? pct : slash) - spec);
	if (pct) {
		ilen = (size_t)(slash - pct - 1);
		if (!ilen)
			return fwd_err(err, errlen, "\"%.*s\": interface name "
				       "missing after '%%'",
				       (int)(slash - spec), spec);
		if (ilen >= IFNAMSIZ)
			return fwd_err(err, errlen, "\"%.*s\": interface name "
				       "too long (at most %d characters)",
				       (int)ilen, pct + 1, IFNAMSIZ - 1);
		memcpy(sp->ifname, pct + 1, ilen);
		if (!fwd_ifname_ok(sp->ifname))
			return fwd_err(err, errlen, "\"%.*s\": invalid "
				       "interface name", (int)(slash - spec),
				       spec);
	}
	if (!alen && !pct)
		return fwd_err(err, errlen, "\"%s\": address or interface "
			       "missing before '/'", spec);
	if (!alen)
		return 0;
	if (alen < sizeof(buf)) {
		memcpy(buf, spec, alen);
		buf[alen] = 0;
		sp->any = inany_pton(buf, &sp->addr) < 0;
	}
	if (sp->any)
		return fwd_err(err, errlen, "\"%.*s\": not an IPv4 or IPv6 "
			       "address", (int)alen, spec);
	return 0;
}

/* Destination offset of a range item */
static uint16_t fwd_item_delta(const struct fwd_item *it)
{
	return (uint16_t)(it->to - it->first);
}

/**
 * fwd_item_conflict() - Does a range give a port a second destination?
 * @fp:		Forwarding so far
 * @sp:		SPEC being checked
 * @it:		Range item of @sp
 * @err:	Message buffer
 * @errlen:	Its size
 *
 * Checks against what @fp holds and against the items of @sp before @it.
 *
 * Return: 0 or -1
 */
static int fwd_item_conflict(const struct fwd_ports *fp,
			     const struct fwd_spec *sp,
			     const struct fwd_item *it, char *err,
			     size_t errlen)
{
	uint16_t d = fwd_item_delta(it);
	const char *p = sp->ports, *s;
	struct fwd_item prev;
	unsigned int port;
	int len;

	for (port = it->first; port <= it->last; port++) {
		if (fwd_bit_test(fp->map, port) && fp->delta[port] != d)
			return fwd_err(err, errlen, "port %u is already "
				       "forwarded to %u", port,
				       fwd_port_dest(fp, (uint16_t)port));
	}
	while (fwd_item_next(&p, &s, &len) && s != it->s) {
		if (fwd_item_parse(s, len, &prev, NULL, 0) ||
		    prev.kind != FWD_ITEM_RANGE || fwd_item_delta(&prev) == d)
			continue;
		port = MAX(prev.first, it->first);
		if (port <= MIN(prev.last, it->last))
			return fwd_err(err, errlen, "port %u is forwarded to "
				       "both %u and %u", port,
				       (uint16_t)(port + fwd_item_delta(&prev)),
				       (uint16_t)(port + d));
	}
	return 0;
}

/* Binding of @sp in @fp, or -1 if it has none yet */
static int fwd_bind_find(const struct fwd_ports *fp,
			 const struct fwd_spec *sp)
{
	const struct fwd_bind *b;
	unsigned int i;

	for (i = 0; i < fp->bind_n; i++) {
		b = &fp->bind[i];
		if (b->any == sp->any && !strcmp(b->ifname, sp->ifname) &&
		    (b->any || inany_equal(&b->addr, &sp->addr)))
			return (int)i;
	}
	return -1;
}

/**
 * fwd_flags_check() - Check that the keywords of all options go together
 * @old:	Flags of the options before
 * @new:	Flags of this SPEC
 * @allow_auto:	"auto" is allowed
 * @err:	Message buffer
 * @errlen:	Its size
 *
 * Return: 0 or -1
 */
static int fwd_flags_check(unsigned int old, unsigned int new,
			   bool allow_auto, char *err, size_t errlen)
{
	unsigned int all = old | new;

	if ((new & FWD_AUTO) && !allow_auto)
		return fwd_err(err, errlen, "\"auto\" is only valid in "
			       "namespace (pasta) mode");
	if ((all & FWD_NONE) && (all & ~FWD_NONE))
		return fwd_err(err, errlen, "\"none\" cannot be combined "
			       "with other port specifications");
	if ((all & FWD_ALL) && (all & FWD_AUTO))
		return fwd_err(err, errlen, "\"all\" and \"auto\" exclude "
			       "each other");
	if ((all & FWD_ALL) && (all & FWD_SPEC))
		return fwd_err(err, errlen, "\"all\" cannot be combined with "
			       "port ranges");
	return 0;
}

/* Item kind to the flag it sets */
static unsigned int fwd_item_flag(enum fwd_item_kind kind)
{
	static const unsigned int flag[] = {
		[FWD_ITEM_RANGE] = FWD_SPEC,	[FWD_ITEM_EXCL] = FWD_EXCL,
		[FWD_ITEM_NONE] = FWD_NONE,	[FWD_ITEM_ALL] = FWD_ALL,
		[FWD_ITEM_AUTO] = FWD_AUTO,
	};

	return flag[kind];
}

/**
 * fwd_spec_check() - Check a SPEC whole against what @fp holds
 * @fp:		Forwarding so far
 * @sp:		SPEC, binding parsed; @flags set here
 * @allow_auto:	"auto" is allowed
 * @err:	Message buffer
 * @errlen:	Its size
 *
 * Return: 0 or -1
 */
static int fwd_spec_check(const struct fwd_ports *fp, struct fwd_spec *sp,
			  bool allow_auto, char *err, size_t errlen)
{
	const char *p = sp->ports, *s;
	struct fwd_item it;
	int len;

	if (!*sp->ports)
		return fwd_err(err, errlen, "empty port list");
	while (fwd_item_next(&p, &s, &len)) {
		if (fwd_item_parse(s, len, &it, err, errlen))
			return -1;
		if (it.kind >= FWD_ITEM_NONE && sp->has_bind)
			return fwd_err(err, errlen, "\"%.*s\" takes no address "
				       "or interface", len, s);
		if (it.kind == FWD_ITEM_RANGE &&
		    fwd_item_conflict(fp, sp, &it, err, errlen))
			return -1;
		sp->flags |= fwd_item_flag(it.kind);
	}
	if (fwd_flags_check(fp->flags, sp->flags, allow_auto, err, errlen))
		return -1;
	if (sp->has_bind && fwd_bind_find(fp, sp) < 0 &&
	    fp->bind_n == FWD_BIND_MAX)
		return fwd_err(err, errlen, "more than %d different addresses "
			       "and interfaces", FWD_BIND_MAX - 1);
	return 0;
}

/* Binding of @sp in @fp, added if new: fwd_spec_check() made room */
static struct fwd_bind *fwd_bind_get(struct fwd_ports *fp,
				     const struct fwd_spec *sp)
{
	int i = fwd_bind_find(fp, sp);
	struct fwd_bind *b;

	if (i >= 0)
		return &fp->bind[i];
	b = &fp->bind[fp->bind_n++];
	b->any = sp->any;
	b->addr = sp->addr;
	memcpy(b->ifname, sp->ifname, IFNAMSIZ);
	return b;
}

/* Apply a SPEC that fwd_spec_check() accepted */
static void fwd_spec_apply(struct fwd_ports *fp, const struct fwd_spec *sp)
{
	struct fwd_bind *b = fwd_bind_get(fp, sp);
	const char *p = sp->ports, *s;
	struct fwd_item it;
	unsigned int port;
	int len;

	while (fwd_item_next(&p, &s, &len)) {
		fwd_item_parse(s, len, &it, NULL, 0);
		for (port = it.first; it.kind == FWD_ITEM_EXCL &&
		     port <= it.last; port++)
			fwd_bit_set(fp->excl, port);
		for (port = it.first; it.kind == FWD_ITEM_RANGE &&
		     port <= it.last; port++) {
			fwd_bit_set(fp->map, port);
			fwd_bit_set(b->map, port);
			fp->delta[port] = fwd_item_delta(&it);
		}
	}
	if ((sp->flags & FWD_ALL) ||
	    (sp->flags & (FWD_SPEC | FWD_EXCL)) == FWD_EXCL)
		b->all = true;
	fp->flags |= sp->flags;
}

/**
 * fwd_ports_init() - Start an empty forwarding: nothing given yet
 * @fp:		Forwarding to initialise
 */
void fwd_ports_init(struct fwd_ports *fp)
{
	memset(fp, 0, sizeof(*fp));
	fp->eph_first = FWD_EPH_FIRST;
	fp->eph_last = FWD_EPH_LAST;
	fp->bind_n = 1;
	fp->bind[0].any = true;
}

/**
 * fwd_ports_parse() - Add one SPEC (one -t/-u/-T/-U argument)
 * @fp:		Forwarding, from fwd_ports_init() and earlier SPECs
 * @spec:	SPEC
 * @allow_auto:	Accept "auto" (namespace mode)
 * @err:	Buffer for a one-line message on failure, or NULL
 * @errlen:	Its size
 *
 * Return: 0, or -1 with @fp unchanged and the reason in @err
 */
int fwd_ports_parse(struct fwd_ports *fp, const char *spec, bool allow_auto,
		    char *err, size_t errlen)
{
	struct fwd_spec sp;

	if (!*spec)
		return fwd_err(err, errlen, "empty port specification");
	if (fwd_spec_bind(&sp, spec, err, errlen) ||
	    fwd_spec_check(fp, &sp, allow_auto, err, errlen))
		return -1;
	fwd_spec_apply(fp, &sp);
	return 0;
}

/**
 * fwd_ports_copy_udp() - Default UDP forwarding from the TCP one's
 * @udp:	UDP forwarding to set
 * @tcp:	TCP forwarding given
 *
 * Same ports, bindings and keywords, but no port translation: each port
 * goes to the same port on the other side, as pasta(1) does.
 */
void fwd_ports_copy_udp(struct fwd_ports *udp, const struct fwd_ports *tcp)
{
	memcpy(udp, tcp, sizeof(*udp));
	memset(udp->delta, 0, sizeof(udp->delta));
}

/* Does @fp forward every port not excluded, as far as ranges go? */
static bool fwd_all_implied(const struct fwd_ports *fp)
{
	return (fp->flags & FWD_ALL) ||
	       (fp->flags & (FWD_SPEC | FWD_EXCL)) == FWD_EXCL;
}

/**
 * fwd_port_excluded() - Was the port excluded with ~?
 * @fp:		Forwarding
 * @port:	Port on the listening side
 *
 * Return: true if excluded
 */
bool fwd_port_excluded(const struct fwd_ports *fp, uint16_t port)
{
	return fwd_bit_test(fp->excl, port);
}

/**
 * fwd_port_forwarded() - Is the port to be listened on from the start?
 * @fp:		Forwarding
 * @port:	Port on the listening side
 *
 * Return: true for static forwarding of @port (never with "auto")
 */
bool fwd_port_forwarded(const struct fwd_ports *fp, uint16_t port)
{
	if (!port || (fp->flags & (FWD_NONE | FWD_AUTO)) ||
	    fwd_bit_test(fp->excl, port))
		return false;
	if (fwd_bit_test(fp->map, port))
		return true;
	if (!fwd_all_implied(fp))
		return false;
	return port < fp->eph_first || port > fp->eph_last;
}

/**
 * fwd_port_auto_candidate() - May "auto" forward this port?
 * @fp:		Forwarding
 * @port:	Port on the listening side
 *
 * Return: true if "auto" was given, @port is in the ranges given (any
 *	   port if none) and not excluded
 */
bool fwd_port_auto_candidate(const struct fwd_ports *fp, uint16_t port)
{
	if (!port || !(fp->flags & FWD_AUTO) || fwd_bit_test(fp->excl, port))
		return false;
	return !(fp->flags & FWD_SPEC) || fwd_bit_test(fp->map, port);
}

/**
 * fwd_port_dest() - Destination port of a forwarded port
 * @fp:		Forwarding
 * @port:	Port on the listening side
 *
 * Return: port to connect to (or send to) on the other side
 */
uint16_t fwd_port_dest(const struct fwd_ports *fp, uint16_t port)
{
	return (uint16_t)(port + fp->delta[port]);
}

/* Is any binding marked for the ports outside @map? */
static bool fwd_bind_any_all(const struct fwd_ports *fp)
{
	unsigned int i;

	for (i = 0; i < fp->bind_n; i++) {
		if (fp->bind[i].all)
			return true;
	}
	return false;
}

/**
 * fwd_bind_next() - Next binding to listen on for a forwarded port
 * @fp:		Forwarding
 * @port:	Port that fwd_port_forwarded() or fwd_port_auto_candidate()
 *		accepts
 * @next:	Cursor, 0 for the first call
 *
 * A port of a range is listened on at each binding its ranges gave; any
 * other port ("all", only exclusions, bare "auto") at the bindings of the
 * SPECs that said so, or else at the wildcard binding.
 *
 * Return: binding, NULL when there is no more
 */
const struct fwd_bind *fwd_bind_next(const struct fwd_ports *fp,
				     uint16_t port, unsigned int *next)
{
	bool in_map = fwd_bit_test(fp->map, port);
	const struct fwd_bind *b;

	if (!in_map && !fwd_bind_any_all(fp)) {
		if (*next)
			return NULL;
		*next = fp->bind_n;
		return &fp->bind[0];
	}
	while (*next < fp->bind_n) {
		b = &fp->bind[(*next)++];
		if (in_map ? fwd_bit_test(b->map, port) : b->all)
			return b;
	}
	return NULL;
}

/* Is @port to be listened on, statically or as "auto" given @bound? */
static bool fwd_listen_port(const struct fwd_ports *fp, const uint8_t *bound,
			    uint16_t port)
{
	if (fwd_port_forwarded(fp, port))
		return true;
	return bound && fwd_port_auto_candidate(fp, port) &&
	       fwd_bit_test(bound, fwd_port_dest(fp, port));
}

/**
 * fwd_listen_next() - Next (binding, port) pair to listen on
 * @fp:		Forwarding
 * @bound:	Ports bound on the other side (from fwd_scan_fd()), for
 *		"auto"; NULL: static forwarding only
 * @it:		Cursor, FWD_ITER_INIT for the first call; on success
 *		@it->port and @it->bind are the pair
 *
 * Return: false when there is no more
 */
bool fwd_listen_next(const struct fwd_ports *fp, const uint8_t *bound,
		     struct fwd_iter *it)
{
	for (;;) {
		if (it->port && fwd_listen_port(fp, bound, (uint16_t)it->port)) {
			it->bind = fwd_bind_next(fp, (uint16_t)it->port,
						 &it->next);
			if (it->bind)
				return true;
		}
		if (it->port >= FWD_PORTS - 1)
			return false;
		it->port++;
		it->next = 0;
	}
}

/**
 * fwd_ephemeral_parse() - Parse ip_local_port_range: "first<TAB>last\n"
 * @text:	NUL-terminated text
 * @first:	First ephemeral port
 * @last:	Last ephemeral port
 *
 * Return: 0, or -EINVAL on junk (outputs unchanged)
 */
int fwd_ephemeral_parse(const char *text, uint16_t *first, uint16_t *last)
{
	const char *p = text, *end = text + strlen(text);
	unsigned int a, b;

	p += strspn(p, " \t");
	if (fwd_num(&p, end, &a) || !*p || !strchr(" \t", *p))
		return -EINVAL;
	p += strspn(p, " \t");
	if (fwd_num(&p, end, &b) || b < a || p[strspn(p, " \t\n")])
		return -EINVAL;
	*first = (uint16_t)a;
	*last = (uint16_t)b;
	return 0;
}

/**
 * fwd_ephemeral_read() - Read the ephemeral port range of this namespace
 * @first:	First ephemeral port
 * @last:	Last ephemeral port
 *
 * Syscalls: open, read, close
 *
 * Return: 0 or negative errno (outputs unchanged)
 */
int fwd_ephemeral_read(uint16_t *first, uint16_t *last)
{
	int fd = open("/proc/sys/net/ipv4/ip_local_port_range",
		      O_RDONLY | O_CLOEXEC);
	char buf[64];
	ssize_t n;

	if (fd < 0)
		return -errno;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n < 0)
		return -EIO;
	buf[n] = 0;
	return fwd_ephemeral_parse(buf, first, last);
}

/*
 * Scanning /proc/net/{tcp,tcp6,udp,udp6} (proc(5)): after a header line,
 * one socket per line, fields separated by spaces:
 *    sl  local_address rem_address   st tx_queue:rx_queue ...
 *    0: 0100007F:1F90 00000000:0000 0A 00000000:00000000 ...
 * Addresses are 8 (IPv4) or 32 (IPv6) hexadecimal digits, ports 4, the
 * state 2: 0A is TCP_LISTEN; a bound, unconnected UDP socket shows 07
 * (TCP_CLOSE). Lines not of this form are ignored.
 */

#define FWD_ST_TCP_LISTEN	0x0a
#define FWD_ST_UDP_BOUND	0x07
#define FWD_SCAN_BUF		16384		/* read chunk and longest line */
#define FWD_SCAN_MAX		(64 << 20)	/* bytes read per scan, at most */

/* Next token separated by spaces or tabs: start, and its length in @len */
static const char *fwd_tok(const char **p, const char *end, size_t *len)
{
	const char *s = *p, *start;

	while (s < end && (*s == ' ' || *s == '\t'))
		s++;
	start = s;
	while (s < end && *s != ' ' && *s != '\t')
		s++;
	*len = (size_t)(s - start);
	*p = s;
	return start;
}

/* Parse exactly @n (at most 8) hexadecimal digits */
static bool fwd_hex(const char *s, size_t n, unsigned int *v)
{
	size_t i;

	*v = 0;
	for (i = 0; i < n; i++) {
		char c = s[i];
		unsigned int d;

		if (c >= '0' && c <= '9')
			d = (unsigned int)(c - '0');
		else if ((c | 0x20) >= 'a' && (c | 0x20) <= 'f')
			d = (unsigned int)((c | 0x20) - 'a' + 10);
		else
			return false;
		*v = *v << 4 | d;
	}
	return true;
}

/* "ADDR:PORT" with 8 or 32 hexadecimal digits of address: the port */
static bool fwd_scan_sockaddr(const char *s, size_t len, unsigned int *port)
{
	size_t alen = len - 5, i;
	unsigned int v;

	if ((len != 8 + 5 && len != 32 + 5) || s[alen] != ':')
		return false;
	for (i = 0; i < alen; i += 8) {
		if (!fwd_hex(s + i, 8, &v))
			return false;
	}
	return fwd_hex(s + alen + 1, 4, port);
}

/**
 * fwd_scan_line() - Local port of one line, if the socket is listening
 * @s:		Line, without its newline, not NUL-terminated
 * @len:	Its length
 * @tcp:	TCP (LISTEN) rather than UDP (bound)
 * @port:	Local port
 *
 * Return: true if the line is a socket in the state looked for
 */
static bool fwd_scan_line(const char *s, size_t len, bool tcp,
			  unsigned int *port)
{
	const char *p = s, *end = s + len, *t;
	unsigned int rem, st;
	size_t n, i;

	t = fwd_tok(&p, end, &n);
	if (n < 2 || t[n - 1] != ':')
		return false;
	for (i = 0; i < n - 1; i++) {
		if (t[i] < '0' || t[i] > '9')
			return false;
	}
	t = fwd_tok(&p, end, &n);
	if (!fwd_scan_sockaddr(t, n, port))
		return false;
	t = fwd_tok(&p, end, &n);
	if (!fwd_scan_sockaddr(t, n, &rem))
		return false;
	t = fwd_tok(&p, end, &n);
	if (n != 2 || !fwd_hex(t, 2, &st))
		return false;
	return st == (tcp ? FWD_ST_TCP_LISTEN : FWD_ST_UDP_BOUND) && *port;
}

/**
 * fwd_scan_proc() - Mark the listening ports of /proc/net/ text
 * @text:	Text, lines separated by newlines (not NUL-terminated)
 * @len:	Its length
 * @tcp:	true for tcp/tcp6 (state LISTEN), false for udp/udp6 (bound)
 * @bitmap:	FWD_MAP_SIZE bytes: bits are set, never cleared
 *
 * Return: number of listening sockets found
 */
int fwd_scan_proc(const char *text, size_t len, bool tcp, uint8_t *bitmap)
{
	const char *p = text, *end = text + len, *nl;
	unsigned int port;
	int found = 0;

	while (p < end) {
		nl = memchr(p, '\n', (size_t)(end - p));
		if (!nl)
			nl = end;
		if (fwd_scan_line(p, (size_t)(nl - p), tcp, &port)) {
			fwd_bit_set(bitmap, port);
			found++;
		}
		p = nl + 1;
	}
	return found;
}

/**
 * fwd_scan_fd() - Mark the listening ports of an open /proc/net/ file
 * @fd:		/proc/net/{tcp,tcp6,udp,udp6}, kept open between scans
 * @tcp:	true for tcp/tcp6, false for udp/udp6
 * @bitmap:	FWD_MAP_SIZE bytes: bits are set, never cleared
 *
 * Reads from offset 0 in chunks and parses whole lines, so the file need
 * not fit in memory; a line longer than a chunk is skipped, and at most
 * FWD_SCAN_MAX bytes are read.
 *
 * Syscalls: pread64
 *
 * Return: number of listening sockets found, or negative errno
 */
int fwd_scan_fd(int fd, bool tcp, uint8_t *bitmap)
{
	static char buf[FWD_SCAN_BUF];
	size_t have = 0, done, start;
	bool skip = false;
	int found = 0;
	off_t off = 0;
	char *nl;
	ssize_t n;

	while (off < FWD_SCAN_MAX) {
		n = pread(fd, buf + have, sizeof(buf) - have, off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (!n)
			break;
		off += n;
		have += (size_t)n;
		nl = memrchr(buf, '\n', have);
		if (!nl) {
			skip = skip || have == sizeof(buf);
			have = have == sizeof(buf) ? 0 : have;
			continue;
		}
		done = (size_t)(nl - buf) + 1;
		start = skip ? (size_t)((char *)memchr(buf, '\n', done) -
					 buf) + 1 : 0;
		skip = false;
		found += fwd_scan_proc(buf + start, done - start, tcp, bitmap);
		memmove(buf, buf + done, have - done);
		have -= done;
	}
	if (have && !skip)
		found += fwd_scan_proc(buf, have, tcp, bitmap);
	return found;
}
