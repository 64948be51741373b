/* fwd.h - the guest-facing network configuration, the address maps
 * between what the guest sees and what the host's sockets use, and the
 * port forwarding specifications of -t/-u/-T/-U
 */
#ifndef FWD_H
#define FWD_H

#include <net/if.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "inany.h"
#include "util.h"

#define DNS_MAX		4	/* resolvers per family */
#define FWD_DNS_PORT	53	/* DNS over UDP and TCP */
#define FWD_DNS_TLS_PORT 853	/* DNS over TLS (TCP), DTLS, QUIC (UDP) */
#define SEARCH_MAX	8	/* search domains */
#define DOMAIN_MAX	254	/* longest domain name, with NUL */
#define UDP_BATCH_DEFAULT	32
#define UDP_BATCH_MAX		256
#define ZEROCOPY_MIN_DEFAULT	(16U << 10)	/* --zerocopy-min */
#define ZEROCOPY_MIN_MAX	(1U << 30)
#define UDP_YIELD_DEFAULT	32
#define UDP_YIELD_MAX		65536
#define UDP_TIMEOUT_DEFAULT	180	/* seconds */
/* TCP connection lifetimes, seconds (0: off) */
#define TCP_KEEPALIVE_DEFAULT	600	/* guest silent, then keepalives */
#define TCP_FIN_TIMEOUT_DEFAULT	60	/* half-closed without data */
#define TCP_TIMEOUT_DEFAULT	7200	/* no data either way, as pasta */
#define TCP_LIFE_MAX		604800	/* largest value of the three */

struct net4 {
	bool enabled;
	struct in_addr addr;		/* assigned to the guest */
	int prefix_len;
	struct in_addr gw;		/* gateway as the guest sees it */
	struct in_addr addr_host;	/* host's own address on template */
	struct in_addr map_host_lo;	/* -> host loopback; 0: none */
	struct in_addr map_guest_addr;	/* -> addr_host; 0: none */
	struct in_addr dns[DNS_MAX];	/* announced to the guest */
	int dns_n;
	struct in_addr dns_fwd;		/* --dns-forward; 0: none */
	struct in_addr dns_host;	/* where dns_fwd queries go */
	struct in_addr addr_seen;	/* last source seen from guest */
	struct in_addr addr_out;	/* -o: source to the outside; 0: any */
};

struct net6 {
	bool enabled;
	struct in6_addr addr;		/* assigned to the guest */
	int prefix_len;
	struct in6_addr gw;		/* gateway as the guest sees it */
	struct in6_addr addr_host;
	struct in6_addr our_ll;		/* our link-local: RA, DHCPv6, NA;
					 * the gateway if that is one */
	unsigned int ll_scope;		/* host interface of link-local
					 * destinations: the template */
	struct in6_addr map_host_lo;	/* -> host loopback; ::: none */
	struct in6_addr map_guest_addr;
	struct in6_addr dns[DNS_MAX];
	int dns_n;
	struct in6_addr dns_fwd;
	struct in6_addr dns_host;
	struct in6_addr addr_seen;	/* last global source from guest */
	struct in6_addr addr_ll_seen;	/* last link-local source */
	struct in6_addr addr_out;	/* -o: source to the outside; ::: any */
};

/* Largest MTU, and the frames' size limit where none is advertised */
#define NET_MTU_MAX	65520

struct net_conf {
	struct net4 v4;
	struct net6 v6;
	uint8_t our_mac[MAC_LEN];	/* -M: our side of the link */
	uint8_t guest_mac[MAC_LEN];	/* learnt from the guest's frames */
	int mtu;			/* 0: do not advertise */
	char search[SEARCH_MAX][DOMAIN_MAX];
	int search_n;
	char hostname[DOMAIN_MAX];	/* -H, DHCP option 12 */
	char fqdn[DOMAIN_MAX];		/* --fqdn, DHCP 81 / DHCPv6 39 */
	bool no_dhcp, no_ndp, no_dhcpv6, no_ra, no_icmp;
	bool no_tcp, no_udp;		/* --no-tcp, --no-udp */
	bool no_splice;			/* --no-splice: loopback via tap */
	bool no_peek_offset;		/* --no-peek-offset */
	bool no_mmsg;			/* --no-mmsg: one datagram a call */
	bool no_mmsg_register;		/* --no-mmsg-register */
	bool no_tap_splice;		/* --no-tap-splice */
	bool no_gso;			/* --no-gso: no segmentation offload */
	bool freebind;			/* --freebind: -t/-u ADDR not ours yet */
	bool no_zerocopy;		/* --no-zerocopy */
	bool zerocopy_force;		/* on even when the kernel copies */
	bool zerocopy_scribble;		/* scribble buffers on release */
	unsigned int zerocopy_min;	/* --zerocopy-min: bytes */
	unsigned int udp_batch;		/* --udp-batch: datagrams per call */
	unsigned int udp_yield;		/* --udp-yield: datagrams, 0: never */
	unsigned int udp_timeout_s;	/* --udp-timeout: idle flow expiry */
	unsigned int tcp_keepalive_s;	/* --tcp-keepalive: guest silent */
	unsigned int tcp_fin_timeout_s;	/* --tcp-fin-timeout: half-closed */
	unsigned int tcp_timeout_s;	/* --tcp-timeout: no data either way */
	bool dhcp_dns;			/* announce DNS via DHCP/NDP/DHCPv6 */
	bool dhcp_search;		/* announce search list */
};

/* The MTU frames are built for: -m, or the largest when none is set */
static inline int net_mtu(const struct net_conf *nc)
{
	return nc->mtu ? nc->mtu : NET_MTU_MAX;
}

#define FWD_PORTS	65536			/* port numbers, 0 included */
#define FWD_MAP_SIZE	(FWD_PORTS / 8)		/* bytes of a port bitmap */
#define FWD_BIND_MAX	16			/* bindings per direction */

/* Linux's default ip_local_port_range, also that of every new namespace */
#define FWD_EPH_FIRST	32768
#define FWD_EPH_LAST	60999

/* struct fwd_ports.flags: what the specifications given so far hold */
#define FWD_NONE	(1U << 0)	/* "none" */
#define FWD_AUTO	(1U << 1)	/* "auto": follow the other side */
#define FWD_ALL		(1U << 2)	/* "all" */
#define FWD_SPEC	(1U << 3)	/* at least one port range */
#define FWD_EXCL	(1U << 4)	/* at least one exclusion (~) */

/**
 * struct fwd_bind - Where listening sockets for some ports are bound
 * @addr:	Address to bind, unless @any
 * @any:	No address given: the wildcard address of each IP version
 * @all:	Also holds the ports that "all", a spec of only exclusions or
 *		a bare "auto" stand for (those not in struct fwd_ports.map)
 * @ifname:	Interface to bind to (SO_BINDTODEVICE), "" for none
 * @map:	Port ranges given with this address and interface
 */
struct fwd_bind {
	union inany_addr addr;
	bool any;
	bool all;
	char ifname[IFNAMSIZ];
	uint8_t map[FWD_MAP_SIZE];
};

/**
 * struct fwd_ports - Port forwarding of one protocol in one direction
 * @flags:	FWD_* flags of every specification given; 0: none given
 * @eph_first:	First ephemeral port of the listening side, skipped by
 *		"all" and by a spec of only exclusions
 * @eph_last:	Last ephemeral port
 * @map:	Ports of all port ranges given (any binding)
 * @excl:	Ports excluded with ~: never forwarded, whatever else says
 * @delta:	Destination port is port + delta[port] (mod 65536)
 * @bind_n:	Bindings in use; bind[0] is the wildcard with no interface,
 *		so up to FWD_BIND_MAX - 1 addresses and interfaces
 * @bind:	Bindings, one per distinct address and interface given
 *
 * Size: about 2 * 8 KiB + 128 KiB + 16 * 8 KiB, under 280 KiB.
 */
struct fwd_ports {
	unsigned int flags;
	uint16_t eph_first;
	uint16_t eph_last;
	uint8_t map[FWD_MAP_SIZE];
	uint8_t excl[FWD_MAP_SIZE];
	uint16_t delta[FWD_PORTS];
	unsigned int bind_n;
	struct fwd_bind bind[FWD_BIND_MAX];
};

/**
 * struct fwd_iter - Cursor over (binding, port) pairs to listen on
 * @port:	Current port, 0 before the first call
 * @next:	Next binding to look at for @port
 * @bind:	Binding of the pair just returned
 */
struct fwd_iter {
	unsigned int port;
	unsigned int next;
	const struct fwd_bind *bind;
};

#define FWD_ITER_INIT	{ 0, 0, NULL }

static inline bool fwd_bit_test(const uint8_t *map, unsigned int bit)
{
	return map[bit / 8] & (1U << (bit % 8));
}

static inline void fwd_bit_set(uint8_t *map, unsigned int bit)
{
	map[bit / 8] |= (uint8_t)(1U << (bit % 8));
}

void fwd_ports_init(struct fwd_ports *fp);
int fwd_ports_parse(struct fwd_ports *fp, const char *spec, bool allow_auto,
		    char *err, size_t errlen);
void fwd_ports_copy_udp(struct fwd_ports *udp, const struct fwd_ports *tcp);
bool fwd_port_forwarded(const struct fwd_ports *fp, uint16_t port);
bool fwd_port_excluded(const struct fwd_ports *fp, uint16_t port);
bool fwd_port_auto_candidate(const struct fwd_ports *fp, uint16_t port);
uint16_t fwd_port_dest(const struct fwd_ports *fp, uint16_t port);
const struct fwd_bind *fwd_bind_next(const struct fwd_ports *fp,
				     uint16_t port, unsigned int *next);
bool fwd_listen_next(const struct fwd_ports *fp, const uint8_t *bound,
		     struct fwd_iter *it);
int fwd_ephemeral_parse(const char *text, uint16_t *first, uint16_t *last);
int fwd_ephemeral_read(uint16_t *first, uint16_t *last);
int fwd_scan_proc(const char *text, size_t len, bool tcp, uint8_t *bitmap);
int fwd_scan_fd(int fd, bool tcp, uint8_t *bitmap);

bool fwd_is_dns(uint8_t proto, uint16_t dport);
int fwd_guest_dst(const struct net_conf *nc, uint8_t proto,
		  const union inany_addr *dst, uint16_t dport,
		  union inany_addr *out);
int fwd_guest_to_host(const struct net_conf *nc, const union inany_addr *dst,
		      union inany_addr *out);
void fwd_host_to_guest(const struct net_conf *nc,
		       const union inany_addr *peer, union inany_addr *gpeer,
		       union inany_addr *gaddr);
bool fwd_is_broadcast(const struct net_conf *nc, const union inany_addr *a);
bool fwd_is_guest_addr(const struct net_conf *nc, const union inany_addr *a);
uint32_t fwd_scope(const struct net_conf *nc, const union inany_addr *a);
void fwd_ll_from_mac(struct in6_addr *ll, const uint8_t mac[MAC_LEN]);
bool fwd_out_src(const struct net_conf *nc, const union inany_addr *dst,
		 union inany_addr *src);

#endif /* FWD_H */
