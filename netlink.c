/* netlink.c - routing netlink: read the host's template interface, and
 * configure links, addresses and routes inside the target namespace
 *
 * A netlink socket belongs to the network namespace it was opened in, so
 * the same functions read the host (socket opened at start) and configure
 * the target namespace (socket opened inside it by ns_call()). Requests are
 * sent one at a time with NLM_F_ACK and their answer read before the next:
 * this is start-up code, not the data path.
 * System calls: socket, bind, send, recv.
 */
#include <errno.h>
#include <linux/if_addr.h>
#include <linux/if_link.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <stdbool.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "log.h"
#include "netlink.h"

#define NL_BUFSIZE	65536

struct nl_req {
	struct nlmsghdr nlh;
	union {
		struct ifinfomsg ifi;
		struct ifaddrmsg ifa;
		struct rtmsg rtm;
	};
	uint8_t attrs[256];
};

static uint32_t nl_seq;
static uint8_t nl_buf[NL_BUFSIZE] __attribute__((aligned(NLMSG_ALIGNTO)));

/**
 * nl_sock() - Open a routing netlink socket in the current namespace
 *
 * Return: descriptor, or negative errno
 */
int nl_sock(void)
{
	struct sockaddr_nl sa = { .nl_family = AF_NETLINK };
	int s;

	s = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
	if (s < 0)
		return -errno;
	if (bind(s, (struct sockaddr *)&sa, sizeof(sa))) {
		int rc = -errno;

		close(s);
		return rc;
	}
	return s;
}

static void nl_attr(struct nl_req *r, unsigned short type, const void *data,
		    size_t len)
{
	struct rtattr *rta = (struct rtattr *)((uint8_t *)r +
					       NLMSG_ALIGN(r->nlh.nlmsg_len));

	rta->rta_type = type;
	rta->rta_len = (unsigned short)RTA_LENGTH(len);
	memcpy(RTA_DATA(rta), data, len);
	r->nlh.nlmsg_len = NLMSG_ALIGN(r->nlh.nlmsg_len) +
			   RTA_ALIGN(rta->rta_len);
}

static void nl_req_init(struct nl_req *r, uint16_t type, uint16_t flags,
			size_t body)
{
	memset(r, 0, sizeof(*r));
	r->nlh.nlmsg_len = (uint32_t)NLMSG_LENGTH(body);
	r->nlh.nlmsg_type = type;
	r->nlh.nlmsg_flags = NLM_F_REQUEST | flags;
	r->nlh.nlmsg_seq = ++nl_seq;
}

/* Send a request and wait for its acknowledgement */
static int nl_do(int s, struct nl_req *r)
{
	ssize_t n;

	r->nlh.nlmsg_flags |= NLM_F_ACK;
	if (send(s, r, r->nlh.nlmsg_len, 0) < 0)
		return -errno;
	for (;;) {
		struct nlmsghdr *nh;

		n = recv(s, nl_buf, sizeof(nl_buf), 0);
		if (n < 0)
			return -errno;
		for (nh = (struct nlmsghdr *)nl_buf; NLMSG_OK(nh, (size_t)n);
		     nh = NLMSG_NEXT(nh, n)) {
			if (nh->nlmsg_seq != r->nlh.nlmsg_seq)
				continue;
			if (nh->nlmsg_type == NLMSG_ERROR)
				return ((struct nlmsgerr *)NLMSG_DATA(nh))->error;
		}
	}
}

/*
 * Run a dump request and call @cb for each message of the answer; @cb
 * returns non-zero to stop looking (the rest of the dump is still read).
 */
static int nl_dump(int s, struct nl_req *r,
		   int (*cb)(struct nlmsghdr *nh, void *arg), void *arg)
{
	bool found = false;
	ssize_t n;

	r->nlh.nlmsg_flags |= NLM_F_DUMP;
	if (send(s, r, r->nlh.nlmsg_len, 0) < 0)
		return -errno;
	for (;;) {
		struct nlmsghdr *nh;

		n = recv(s, nl_buf, sizeof(nl_buf), 0);
		if (n < 0)
			return -errno;
		for (nh = (struct nlmsghdr *)nl_buf; NLMSG_OK(nh, (size_t)n);
		     nh = NLMSG_NEXT(nh, n)) {
			if (nh->nlmsg_seq != r->nlh.nlmsg_seq)
				continue;
			if (nh->nlmsg_type == NLMSG_DONE)
				return found ? 0 : -ENOENT;
			if (nh->nlmsg_type == NLMSG_ERROR)
				return ((struct nlmsgerr *)NLMSG_DATA(nh))->error;
			if (!found && cb(nh, arg))
				found = true;
		}
	}
}

struct nl_route_arg {
	int af;
	unsigned int ifindex;
	uint8_t gw[16];
};

/* Gateway attribute in @rta..@len, if any, into @gw; Return: true if found */
static bool nl_route_gw(struct rtattr *rta, int len, int af, uint8_t *gw)
{
	size_t alen = af == AF_INET ? 4 : 16;

	for (; RTA_OK(rta, len); rta = RTA_NEXT(rta, len)) {
		if (rta->rta_type == RTA_GATEWAY && RTA_PAYLOAD(rta) == alen) {
			memcpy(gw, RTA_DATA(rta), alen);
			return true;
		}
	}
	return false;
}

/*
 * Multipath route: the nexthop of the highest weight, the first one of
 * those (on the interface asked for, if any), as pasta picks it. A
 * nexthop's weight is rtnh_hops + 1. Return: its interface, 0 if none.
 */
static unsigned int nl_route_multipath(struct rtattr *mp,
				       struct nl_route_arg *ra, bool *has_gw)
{
	struct rtnexthop *nh = RTA_DATA(mp);
	int len = (int)RTA_PAYLOAD(mp), best = -1;
	unsigned int oif = 0;

	for (; RTNH_OK(nh, len); len -= (int)NLMSG_ALIGN(nh->rtnh_len),
	     nh = RTNH_NEXT(nh)) {
		if (!nh->rtnh_ifindex || nh->rtnh_hops <= best ||
		    (ra->ifindex && (unsigned int)nh->rtnh_ifindex !=
		     ra->ifindex))
			continue;
		best = nh->rtnh_hops;
		oif = (unsigned int)nh->rtnh_ifindex;
		*has_gw = nl_route_gw(RTNH_DATA(nh),
				      (int)nh->rtnh_len - (int)sizeof(*nh),
				      ra->af, ra->gw);
	}
	return oif;
}

static int nl_route_cb(struct nlmsghdr *nh, void *arg)
{
	struct nl_route_arg *ra = arg;
	struct rtmsg *rtm = NLMSG_DATA(nh);
	int len = (int)RTM_PAYLOAD(nh);
	unsigned int oif = 0;
	bool has_gw = false;
	struct rtattr *rta;

	if (nh->nlmsg_type != RTM_NEWROUTE || rtm->rtm_dst_len ||
	    rtm->rtm_table != RT_TABLE_MAIN || rtm->rtm_type != RTN_UNICAST)
		return 0;
	for (rta = RTM_RTA(rtm); RTA_OK(rta, len); rta = RTA_NEXT(rta, len)) {
		if (rta->rta_type == RTA_OIF)
			memcpy(&oif, RTA_DATA(rta), sizeof(oif));
		if (rta->rta_type == RTA_MULTIPATH)
			oif = nl_route_multipath(rta, ra, &has_gw);
	}
	if (!oif || (ra->ifindex && oif != ra->ifindex))
		return 0;
	if (!has_gw)
		has_gw = nl_route_gw(RTM_RTA(rtm), (int)RTM_PAYLOAD(nh), ra->af,
				     ra->gw);
	if (!has_gw)
		memset(ra->gw, 0, sizeof(ra->gw));
	ra->ifindex = oif;
	return 1;
}

/**
 * nl_route_default() - Find the first default route of a family
 * @s:		Netlink socket
 * @af:		AF_INET or AF_INET6
 * @ifindex:	In: interface to restrict to, 0 for any; out: its interface
 * @gw:		Gateway (4 or 16 bytes), zero if the route has none
 *
 * Of a multipath route, the nexthop of the highest weight counts, the
 * first of those if several have it.
 *
 * Return: 0 if found, -ENOENT if none, other negative errno on failure
 */
int nl_route_default(int s, int af, unsigned int *ifindex, void *gw)
{
	struct nl_route_arg ra = { .af = af, .ifindex = *ifindex };
	struct nl_req r;
	int rc;

	nl_req_init(&r, RTM_GETROUTE, 0, sizeof(struct rtmsg));
	r.rtm.rtm_family = (unsigned char)af;
	rc = nl_dump(s, &r, nl_route_cb, &ra);
	if (rc)
		return rc;
	*ifindex = ra.ifindex;
	memcpy(gw, ra.gw, af == AF_INET ? 4 : 16);
	return 0;
}

struct nl_ifaces_arg {
	unsigned int *idx;
	int n, max;
};

static int nl_ifaces_cb(struct nlmsghdr *nh, void *arg)
{
	struct nl_ifaces_arg *ia = arg;
	struct rtmsg *rtm = NLMSG_DATA(nh);
	int len = (int)RTM_PAYLOAD(nh), i;
	unsigned int oif = 0;
	struct rtattr *rta;

	if (nh->nlmsg_type != RTM_NEWROUTE ||
	    rtm->rtm_table != RT_TABLE_MAIN || rtm->rtm_type != RTN_UNICAST)
		return 0;
	for (rta = RTM_RTA(rtm); RTA_OK(rta, len); rta = RTA_NEXT(rta, len))
		if (rta->rta_type == RTA_OIF)
			memcpy(&oif, RTA_DATA(rta), sizeof(oif));
	for (i = 0; oif && i < ia->n; i++)
		if (ia->idx[i] == oif)
			return 0;
	if (oif)
		ia->idx[ia->n++] = oif;
	return ia->n == ia->max;
}

/**
 * nl_route_ifaces() - Interfaces with routes of a family, in dump order
 * @s:		Netlink socket
 * @af:		AF_INET or AF_INET6
 * @idx:	Interface indices found, each once
 * @max:	Room in @idx
 *
 * Return: how many were found, or negative errno on failure
 */
int nl_route_ifaces(int s, int af, unsigned int *idx, int max)
{
	struct nl_ifaces_arg ia = { .idx = idx, .max = max };
	struct nl_req r;
	int rc;

	nl_req_init(&r, RTM_GETROUTE, 0, sizeof(struct rtmsg));
	r.rtm.rtm_family = (unsigned char)af;
	rc = nl_dump(s, &r, nl_ifaces_cb, &ia);
	if (rc && rc != -ENOENT)
		return rc;
	return ia.n;
}

struct nl_addr_arg {
	unsigned int ifindex;
	uint8_t addr[16];
	int prefix_len;
};

static int nl_addr_cb(struct nlmsghdr *nh, void *arg)
{
	struct nl_addr_arg *aa = arg;
	struct ifaddrmsg *ifa = NLMSG_DATA(nh);
	int len = (int)IFA_PAYLOAD(nh);
	size_t alen = ifa->ifa_family == AF_INET ? 4 : 16;
	struct rtattr *rta;

	if (nh->nlmsg_type != RTM_NEWADDR || ifa->ifa_index != aa->ifindex ||
	    ifa->ifa_scope != RT_SCOPE_UNIVERSE)
		return 0;
	for (rta = IFA_RTA(ifa); RTA_OK(rta, len); rta = RTA_NEXT(rta, len)) {
		/* IFA_LOCAL is the address itself on point-to-point links */
		if ((rta->rta_type == IFA_ADDRESS ||
		     rta->rta_type == IFA_LOCAL) && RTA_PAYLOAD(rta) == alen) {
			memcpy(aa->addr, RTA_DATA(rta), alen);
			aa->prefix_len = ifa->ifa_prefixlen;
			if (rta->rta_type == IFA_LOCAL)
				return 1;
		}
	}
	return aa->prefix_len > 0;
}

/**
 * nl_addr_first() - First global address of an interface in a family
 * @s:		Netlink socket
 * @ifindex:	Interface
 * @af:		AF_INET or AF_INET6
 * @addr:	Address found (4 or 16 bytes)
 * @prefix_len:	Its prefix length
 *
 * Return: 0 if found, -ENOENT if none, other negative errno on failure
 */
int nl_addr_first(int s, unsigned int ifindex, int af, void *addr,
		  int *prefix_len)
{
	struct nl_addr_arg aa = { .ifindex = ifindex };
	struct nl_req r;
	int rc;

	nl_req_init(&r, RTM_GETADDR, 0, sizeof(struct ifaddrmsg));
	r.ifa.ifa_family = (unsigned char)af;
	rc = nl_dump(s, &r, nl_addr_cb, &aa);
	if (rc)
		return rc;
	memcpy(addr, aa.addr, af == AF_INET ? 4 : 16);
	*prefix_len = aa.prefix_len;
	return 0;
}

/**
 * nl_link_set() - Set a link's MAC, MTU and state
 * @s:		Netlink socket
 * @ifindex:	Interface
 * @up:		Bring the link up
 * @mtu:	MTU to set, 0 to leave it
 * @mac:	MAC address to set, NULL to leave it
 *
 * Return: 0 on success, negative errno on failure
 */
int nl_link_set(int s, unsigned int ifindex, bool up, int mtu,
		const uint8_t *mac)
{
	struct nl_req r;

	nl_req_init(&r, RTM_NEWLINK, 0, sizeof(struct ifinfomsg));
	r.ifi.ifi_family = AF_UNSPEC;
	r.ifi.ifi_index = (int)ifindex;
	if (up) {
		r.ifi.ifi_flags = IFF_UP;
		r.ifi.ifi_change = IFF_UP;
	}
	if (mtu)
		nl_attr(&r, IFLA_MTU, &mtu, sizeof(mtu));
	if (mac)
		nl_attr(&r, IFLA_ADDRESS, mac, MAC_LEN);
	return nl_do(s, &r);
}

/**
 * nl_link_txqlen() - Set a link's transmit queue length
 * @s:		Netlink socket
 * @ifindex:	Interface
 * @qlen:	Frames
 *
 * Return: 0 on success, negative errno on failure
 */
int nl_link_txqlen(int s, unsigned int ifindex, uint32_t qlen)
{
	struct nl_req r;

	nl_req_init(&r, RTM_NEWLINK, 0, sizeof(struct ifinfomsg));
	r.ifi.ifi_family = AF_UNSPEC;
	r.ifi.ifi_index = (int)ifindex;
	nl_attr(&r, IFLA_TXQLEN, &qlen, sizeof(qlen));
	return nl_do(s, &r);
}

/**
 * nl_addr_add() - Add an address to an interface (IPv6: without DAD)
 * @s:		Netlink socket
 * @ifindex:	Interface
 * @af:		AF_INET or AF_INET6
 * @addr:	Address (4 or 16 bytes)
 * @prefix_len:	Prefix length
 *
 * Return: 0 on success, negative errno on failure
 */
int nl_addr_add(int s, unsigned int ifindex, int af, const void *addr,
		int prefix_len)
{
	size_t alen = af == AF_INET ? 4 : 16;
	uint32_t flags = IFA_F_NODAD;
	struct nl_req r;

	nl_req_init(&r, RTM_NEWADDR, NLM_F_CREATE | NLM_F_EXCL,
		    sizeof(struct ifaddrmsg));
	r.ifa.ifa_family = (unsigned char)af;
	r.ifa.ifa_prefixlen = (unsigned char)prefix_len;
	r.ifa.ifa_scope = RT_SCOPE_UNIVERSE;
	r.ifa.ifa_index = ifindex;
	nl_attr(&r, IFA_LOCAL, addr, alen);
	nl_attr(&r, IFA_ADDRESS, addr, alen);
	if (af == AF_INET6)
		nl_attr(&r, IFA_FLAGS, &flags, sizeof(flags));
	return nl_do(s, &r);
}

/**
 * nl_route_add_default() - Add a default route through a gateway
 * @s:		Netlink socket
 * @ifindex:	Outgoing interface
 * @af:		AF_INET or AF_INET6
 * @gw:		Gateway (4 or 16 bytes)
 *
 * The route is on-link: the gateway need not be inside the prefix.
 *
 * Return: 0 on success, negative errno on failure
 */
int nl_route_add_default(int s, unsigned int ifindex, int af, const void *gw)
{
	struct nl_req r;

	nl_req_init(&r, RTM_NEWROUTE, NLM_F_CREATE | NLM_F_EXCL,
		    sizeof(struct rtmsg));
	r.rtm.rtm_family = (unsigned char)af;
	r.rtm.rtm_table = RT_TABLE_MAIN;
	r.rtm.rtm_protocol = RTPROT_BOOT;
	r.rtm.rtm_scope = RT_SCOPE_UNIVERSE;
	r.rtm.rtm_type = RTN_UNICAST;
	r.rtm.rtm_flags = RTNH_F_ONLINK;
	nl_attr(&r, RTA_OIF, &ifindex, sizeof(ifindex));
	nl_attr(&r, RTA_GATEWAY, gw, af == AF_INET ? 4 : 16);
	return nl_do(s, &r);
}
