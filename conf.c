/* conf.c - command line options and the configuration derived from them
 * and from the host (template interface, resolv.conf)
 *
 * Theory of operation
 * conf_parse() only reads the command line: every value is checked there
 * and a bad one ends parsing with one error line, so no half-configured
 * daemon starts. conf_host() then fills what the command line left open
 * from the host: the template interface (the one with the first default
 * route of each family, or -i; without a default route, the first one with
 * a route and a global address), its address, prefix and gateway, and the
 * resolvers and search domains of /etc/resolv.conf. As in pasta, a
 * template without a gateway (tun, no default route) gets a link-local
 * one, 169.254.2.2 or fe80::1, so that no real peer is shadowed by the
 * gateway's map to the host's loopback; a family with no address is
 * disabled, and with no template at all IPv4 runs in local mode
 * (169.254.2.1/16 via 169.254.2.2).
 * Option names and meanings follow pasta(1) and passt(1).
 *
 * Port forwarding (-t, -u, -T, -U) is parsed by fwd.c, each option adding
 * to what the earlier ones of its kind gave. Options not given default as
 * in pasta(1): a UDP direction without options takes the ports and
 * bindings of the TCP one of the same direction, without port
 * translation, if that was given (and not as "none"); otherwise every
 * direction is "auto" in namespace mode and "none" in VM mode.
 *
 * The mode is chosen by the program name ("passt": VM mode) or --vm,
 * which may come anywhere on the line, so options that belong to one mode
 * only are noted while parsing and checked against the mode at the end:
 * the first one that does not fit is named in the error line.
 */
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "conf.h"
#include "log.h"
#include "netlink.h"
#include "vhost_user.h"

#define MTU_DEFAULT	NET_MTU_MAX
#define MTU_MIN		68
#define MTU_MAX		NET_MTU_MAX

static const uint8_t MAC_OURS_DEFAULT[MAC_LEN] = {
	0x9a, 0x55, 0x9a, 0x55, 0x9a, 0x55
};

enum {
	OPT_TRACE = 256, OPT_VERSION, OPT_CONFIG_NET, OPT_NETNS, OPT_USERNS,
	OPT_NETNS_ONLY, OPT_NO_NETNS_QUIT, OPT_NS_MAC, OPT_DNS_FWD,
	OPT_DNS_HOST, OPT_NO_DHCP, OPT_NO_NDP, OPT_NO_DHCPV6, OPT_NO_RA,
	OPT_NO_ICMP, OPT_NO_MAP_GW, OPT_MAP_HOST_LO, OPT_MAP_GUEST,
	OPT_DHCP_DNS, OPT_NO_DHCP_DNS, OPT_DHCP_SEARCH, OPT_NO_DHCP_SEARCH,
	OPT_OUT_IF4, OPT_OUT_IF6, OPT_FQDN, OPT_FLOWS, OPT_NO_TCP, OPT_NO_UDP,
	OPT_NO_MMSG, OPT_NO_MMSG_REG, OPT_NO_TAP_SPLICE, OPT_NO_GSO,
	OPT_UDP_BATCH, OPT_UDP_YIELD, OPT_UDP_TIMEOUT,
	OPT_NO_SPLICE, OPT_NO_PEEK_OFF, OPT_VM, OPT_VHOST_USER,
	OPT_TCP_KEEPALIVE, OPT_TCP_FIN_TIMEOUT, OPT_TCP_TIMEOUT, OPT_LOG_SIZE,
	OPT_RUNAS, OPT_PRINT_SYSCALLS, OPT_SELFTEST, OPT_FREEBIND,
	OPT_NO_ZEROCOPY, OPT_ZEROCOPY_MIN, OPT_ZEROCOPY_FORCE,
	OPT_ZEROCOPY_SCRIBBLE, OPT_VHOST_QUEUES, OPT_NO_VHOST_OFFLOAD,
	OPT_NO_VHOST_TSO, OPT_NO_MRG_RXBUF, OPT_PRINT_CAPS,
};

static const struct option conf_options[] = {
	{ "debug",		no_argument,		NULL, 'd' },
	{ "trace",		no_argument,		NULL, OPT_TRACE },
	{ "quiet",		no_argument,		NULL, 'q' },
	{ "foreground",		no_argument,		NULL, 'f' },
	{ "stderr",		no_argument,		NULL, 'e' },
	{ "log-file",		required_argument,	NULL, 'l' },
	{ "log-size",		required_argument,	NULL, OPT_LOG_SIZE },
	{ "help",		no_argument,		NULL, 'h' },
	{ "version",		no_argument,		NULL, OPT_VERSION },
	{ "pcap",		required_argument,	NULL, 'p' },
	{ "pid",		required_argument,	NULL, 'P' },
	{ "mtu",		required_argument,	NULL, 'm' },
	{ "address",		required_argument,	NULL, 'a' },
	{ "netmask",		required_argument,	NULL, 'n' },
	{ "mac-addr",		required_argument,	NULL, 'M' },
	{ "gateway",		required_argument,	NULL, 'g' },
	{ "interface",		required_argument,	NULL, 'i' },
	{ "outbound",		required_argument,	NULL, 'o' },
	{ "outbound-if4",	required_argument,	NULL, OPT_OUT_IF4 },
	{ "outbound-if6",	required_argument,	NULL, OPT_OUT_IF6 },
	{ "dns",		required_argument,	NULL, 'D' },
	{ "dns-forward",	required_argument,	NULL, OPT_DNS_FWD },
	{ "dns-host",		required_argument,	NULL, OPT_DNS_HOST },
	{ "search",		required_argument,	NULL, 'S' },
	{ "hostname",		required_argument,	NULL, 'H' },
	{ "fqdn",		required_argument,	NULL, OPT_FQDN },
	{ "dhcp-dns",		no_argument,		NULL, OPT_DHCP_DNS },
	{ "no-dhcp-dns",	no_argument,		NULL, OPT_NO_DHCP_DNS },
	{ "dhcp-search",	no_argument,		NULL, OPT_DHCP_SEARCH },
	{ "no-dhcp-search",	no_argument,		NULL, OPT_NO_DHCP_SEARCH },
	{ "no-dhcp",		no_argument,		NULL, OPT_NO_DHCP },
	{ "no-ndp",		no_argument,		NULL, OPT_NO_NDP },
	{ "no-dhcpv6",		no_argument,		NULL, OPT_NO_DHCPV6 },
	{ "no-ra",		no_argument,		NULL, OPT_NO_RA },
	{ "no-icmp",		no_argument,		NULL, OPT_NO_ICMP },
	{ "no-tcp",		no_argument,		NULL, OPT_NO_TCP },
	{ "no-udp",		no_argument,		NULL, OPT_NO_UDP },
	{ "no-mmsg",		no_argument,		NULL, OPT_NO_MMSG },
	{ "no-mmsg-register", no_argument,		NULL, OPT_NO_MMSG_REG },
	{ "no-tap-splice",	no_argument,		NULL, OPT_NO_TAP_SPLICE },
	{ "no-gso",		no_argument,		NULL, OPT_NO_GSO },
	{ "udp-batch",		required_argument,	NULL, OPT_UDP_BATCH },
	{ "udp-yield",		required_argument,	NULL, OPT_UDP_YIELD },
	{ "udp-timeout",	required_argument,	NULL, OPT_UDP_TIMEOUT },
	{ "tcp-keepalive",	required_argument,	NULL, OPT_TCP_KEEPALIVE },
	{ "tcp-fin-timeout",	required_argument,	NULL, OPT_TCP_FIN_TIMEOUT },
	{ "tcp-timeout",	required_argument,	NULL, OPT_TCP_TIMEOUT },
	{ "tcp-ports",		required_argument,	NULL, 't' },
	{ "udp-ports",		required_argument,	NULL, 'u' },
	{ "tcp-ns",		required_argument,	NULL, 'T' },
	{ "udp-ns",		required_argument,	NULL, 'U' },
	{ "no-splice",		no_argument,		NULL, OPT_NO_SPLICE },
	{ "freebind",		no_argument,		NULL, OPT_FREEBIND },
	{ "no-peek-offset",	no_argument,		NULL, OPT_NO_PEEK_OFF },
	{ "no-zerocopy",	no_argument,	NULL, OPT_NO_ZEROCOPY },
	{ "zerocopy-min",	required_argument, NULL, OPT_ZEROCOPY_MIN },
	/* for the tests only, not in --help */
	{ "zerocopy-force",	no_argument,	NULL,
	  OPT_ZEROCOPY_FORCE },
	{ "zerocopy-scribble",	no_argument,		NULL,
	  OPT_ZEROCOPY_SCRIBBLE },
	{ "no-map-gw",		no_argument,		NULL, OPT_NO_MAP_GW },
	{ "map-host-loopback",	required_argument,	NULL, OPT_MAP_HOST_LO },
	{ "map-guest-addr",	required_argument,	NULL, OPT_MAP_GUEST },
	{ "ipv4-only",		no_argument,		NULL, '4' },
	{ "ipv6-only",		no_argument,		NULL, '6' },
	{ "ns-ifname",		required_argument,	NULL, 'I' },
	{ "config-net",		no_argument,		NULL, OPT_CONFIG_NET },
	{ "netns",		required_argument,	NULL, OPT_NETNS },
	{ "userns",		required_argument,	NULL, OPT_USERNS },
	{ "netns-only",		no_argument,		NULL, OPT_NETNS_ONLY },
	{ "no-netns-quit",	no_argument,		NULL, OPT_NO_NETNS_QUIT },
	{ "ns-mac-addr",	required_argument,	NULL, OPT_NS_MAC },
	{ "flows",		required_argument,	NULL, OPT_FLOWS },
	{ "vm",			no_argument,		NULL, OPT_VM },
	{ "socket",		required_argument,	NULL, 's' },
	{ "conf-path",		required_argument,	NULL, 'c' },
	{ "fd",			required_argument,	NULL, 'F' },
	{ "one-off",		no_argument,		NULL, '1' },
	{ "vhost-user",		no_argument,		NULL, OPT_VHOST_USER },
	{ "vhost-queues",	required_argument,	NULL, OPT_VHOST_QUEUES },
	{ "no-vhost-offload",	no_argument,		NULL, OPT_NO_VHOST_OFFLOAD },
	{ "no-vhost-tso",	no_argument,		NULL, OPT_NO_VHOST_TSO },
	{ "no-mrg-rxbuf",	no_argument,		NULL, OPT_NO_MRG_RXBUF },
	{ "print-capabilities",	no_argument,		NULL, OPT_PRINT_CAPS },
	{ "runas",		required_argument,	NULL, OPT_RUNAS },
	{ "print-syscalls",	no_argument,		NULL, OPT_PRINT_SYSCALLS },
	/* Not in --help: for the tests of isolation.c */
	{ "isolation-selftest",	required_argument,	NULL, OPT_SELFTEST },
	{ 0 },
};

/**
 * struct conf_mode_opt - An option that belongs to one mode only
 * @opt:	Option code, as getopt_long() returns it
 * @name:	Name for the error line
 * @mode:	The mode it belongs to
 */
struct conf_mode_opt {
	int opt;
	const char *name;
	enum conf_mode mode;
};

static const struct conf_mode_opt conf_mode_opts[] = {
	{ 'I',			"-I/--ns-ifname",	MODE_PASTA },
	{ 'T',			"-T/--tcp-ns",		MODE_PASTA },
	{ 'U',			"-U/--udp-ns",		MODE_PASTA },
	{ OPT_CONFIG_NET,	"--config-net",		MODE_PASTA },
	{ OPT_NETNS,		"--netns",		MODE_PASTA },
	{ OPT_USERNS,		"--userns",		MODE_PASTA },
	{ OPT_NETNS_ONLY,	"--netns-only",		MODE_PASTA },
	{ OPT_NO_NETNS_QUIT,	"--no-netns-quit",	MODE_PASTA },
	{ OPT_NS_MAC,		"--ns-mac-addr",	MODE_PASTA },
	{ OPT_NO_SPLICE,	"--no-splice",		MODE_PASTA },
	{ 's',			"-s/--socket",		MODE_PASST },
	{ 'F',			"-F/--fd",		MODE_PASST },
	{ '1',			"-1/--one-off",		MODE_PASST },
	{ OPT_VHOST_USER,	"--vhost-user",		MODE_PASST },
	{ OPT_VHOST_QUEUES,	"--vhost-queues",	MODE_PASST },
	{ OPT_NO_VHOST_OFFLOAD,	"--no-vhost-offload",	MODE_PASST },
	{ OPT_NO_VHOST_TSO,	"--no-vhost-tso",	MODE_PASST },
	{ OPT_NO_MRG_RXBUF,	"--no-mrg-rxbuf",	MODE_PASST },
};

static const char conf_usage[] =
"Usage: %s [OPTION]... [COMMAND [ARG]...]\n"
"       %s [OPTION]... PID\n"
"       %s [OPTION]... --netns PATH|NAME\n"
"       %s --vm [OPTION]...  (VM mode, also when started as passt)\n"
"Give a network namespace IPv4/IPv6 connectivity through a tap device\n"
"translated to host sockets (pasta-compatible options), or a QEMU guest\n"
"through a UNIX stream socket (passt-compatible options).\n"
"\n"
"  -d, --debug              debug messages\n"
"      --trace              per-packet messages, implies --debug\n"
"  -q, --quiet              no informational messages\n"
"  -f, --foreground         do not fork into the background\n"
"  -e, --stderr             accepted for compatibility: messages go to\n"
"                           standard error while in the foreground\n"
"  -l, --log-file PATH      also log to PATH, emptied first, every line\n"
"                           timestamped\n"
"      --log-size BYTES     largest size of the log file: its oldest lines\n"
"                           are dropped (default 1048576, at least 4096)\n"
"  -P, --pid PATH           write the daemon's PID to PATH\n"
"      --runas UID[:GID]    started as root: run as this user and group\n"
"                           (numbers or names; default nobody)\n"
"      --print-syscalls     list the system calls the seccomp filter of\n"
"                           this mode allows, then exit\n"
"  -p, --pcap PATH          capture every frame both ways to PATH\n"
"  -m, --mtu MTU            MTU for the tap and DHCP/NDP (default 65520,\n"
"                           0: do not advertise)\n"
"  -a, --address ADDR[/LEN] address to assign (once per family)\n"
"  -n, --netmask MASK       IPv4 netmask, dotted or prefix length\n"
"  -g, --gateway ADDR       gateway to assign (once per family)\n"
"  -M, --mac-addr MAC       our MAC address (default 9a:55:9a:55:9a:55)\n"
"  -i, --interface NAME     host template interface (default: the one\n"
"                           with the default route)\n"
"  -o, --outbound ADDR      source address of sockets to the outside\n"
"                           (once per family)\n"
"      --outbound-if4 NAME  template interface for IPv4\n"
"      --outbound-if6 NAME  template interface for IPv6\n"
"  -D, --dns ADDR|none      resolver to announce (repeatable)\n"
"      --dns-forward ADDR   guest address forwarded to the host resolver\n"
"      --dns-host ADDR      host resolver for --dns-forward\n"
"  -S, --search LIST|none   search domains (comma or space separated)\n"
"  -H, --hostname NAME      host name for DHCP option 12\n"
"      --fqdn NAME          FQDN for DHCP option 81 and DHCPv6 option 39\n"
"      --dhcp-dns, --no-dhcp-dns        announce resolvers via DHCP/NDP\n"
"      --dhcp-search, --no-dhcp-search  announce search domains\n"
"      --no-dhcp, --no-ndp, --no-dhcpv6, --no-ra, --no-icmp, --no-tcp,\n"
"      --no-udp             disable a protocol handler\n"
"  -t, --tcp-ports SPEC     TCP ports forwarded from the host to the\n"
"                           namespace (default: auto; repeatable)\n"
"  -u, --udp-ports SPEC     UDP ports, likewise (default: the ports of -t,\n"
"                           else auto)\n"
"  -c, --conf-path PATH     UNIX socket (mode 0600) through which\n"
"                           passtd-ctl (pesto) adds and deletes -t and -u\n"
"                           forwards while the daemon runs\n"
"      --freebind           bind -t/-u addresses the host lacks (yet)\n"
"  -T, --tcp-ns SPEC        TCP ports forwarded from the namespace to the\n"
"                           host's loopback (default: auto)\n"
"  -U, --udp-ns SPEC        UDP ports, likewise (default: the ports of -T,\n"
"                           else auto)\n"
"                           SPEC: none, auto, all, or a comma list of\n"
"                           [ADDR[%%IFNAME]/]FIRST[-LAST][:TO[-TOLAST]]\n"
"                           and ~FIRST[-LAST] (exclusions)\n"
"      --no-map-gw          do not map the gateway to the host\n"
"      --map-host-loopback ADDR|none  address mapped to host loopback\n"
"                           (default: the gateway)\n"
"      --map-guest-addr ADDR|none     address mapped to the host's own\n"
"                           address\n"
"  -4, --ipv4-only          IPv4 only\n"
"  -6, --ipv6-only          IPv6 only\n"
"  -I, --ns-ifname NAME     tap name in the namespace (default: template)\n"
"      --config-net         configure addresses, routes and MTU\n"
"      --ns-mac-addr MAC    MAC address of the tap in the namespace\n"
"      --netns PATH|NAME    join this network namespace\n"
"      --userns PATH        join this user namespace\n"
"      --netns-only         do not join a user namespace\n"
"      --no-netns-quit      keep running when the namespace goes away\n"
"      --flows N            flow table size (default 65536)\n"
"      --no-splice          namespace loopback traffic through the tap\n"
"      --no-peek-offset     do not use SO_PEEK_OFF on TCP sockets\n"
"      --no-tap-splice      copy TCP payload into the tap (no splice()\n"
"                           with SPLICE_F_PEEK, patched kernels)\n"
"      --no-zerocopy        never send with MSG_ZEROCOPY\n"
"      --zerocopy-min BYTES smallest batch of guest payload sent to a TCP\n"
"                           socket with MSG_ZEROCOPY (default 16384)\n"
"      --no-mmsg            one datagram per system call (no recvmmsg()\n"
"                           and sendmmsg())\n"
"      --no-mmsg-register   do not register recvmmsg() arrays with UDP\n"
"                           sockets (SO_RECVMMSG_REG, patched kernels)\n"
"      --no-gso             no segmentation offload (one frame per UDP\n"
"                           datagram and TCP segment to the tap, no\n"
"                           UDP_SEGMENT sends to sockets)\n"
"      --udp-batch N        datagrams per recvmmsg()/sendmmsg() (default\n"
"                           32, at most 256)\n"
"      --udp-yield N        give up the CPU after every N datagrams handed\n"
"                           on, either way, unless a yield just gave it\n"
"                           to a CPU-bound task (default 32, 0: never)\n"
"      --udp-timeout SECS   idle UDP flows expire after SECS (default 180)\n"
"      --tcp-keepalive SECS keepalives to the guest after SECS without a\n"
"                           segment from it; four unanswered: reset\n"
"                           (default 600, 0: none)\n"
"      --tcp-fin-timeout SECS  half-closed TCP connections are reset after\n"
"                           SECS without data (default 60, 0: never)\n"
"      --tcp-timeout SECS   TCP connections are reset after SECS without\n"
"                           data either way (default 7200, 0: never)\n"
"VM mode (QEMU -netdev stream; -t and -u default to none):\n"
"      --vm                 VM mode, as when started as passt\n"
"  -s, --socket PATH        UNIX socket to listen on (default: first free\n"
"                           of /tmp/passt_1.socket ... /tmp/passt_64.socket)\n"
"  -F, --fd FD              use this connected stream socket (implies -1)\n"
"  -1, --one-off            exit when the guest disconnects\n"
"      --vhost-user         be the vhost-user back end of the guest's\n"
"                           virtio-net device on the socket (QEMU\n"
"                           -netdev vhost-user, shared guest memory)\n"
"      --print-capabilities print the vhost-user back end's capabilities\n"
"                           (JSON), then exit\n"
"      --vhost-queues N     vhost-user queue pairs offered (default 8,\n"
"                           at most 16; 1: no multiqueue)\n"
"      --no-vhost-offload   vhost-user: no checksum or segmentation\n"
"                           offload either way\n"
"      --no-vhost-tso       vhost-user: no TCP segmentation offload\n"
"      --no-mrg-rxbuf       vhost-user: one guest buffer per frame\n"
"  -h, --help               this text\n"
"      --version            version\n";

static int conf_err(const char *fmt, ...)
	__attribute__((format(printf, 1, 2)));

/* One error line on standard error, whatever the log settings */
static int conf_err(const char *fmt, ...)
{
	char buf[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	fprintf(stderr, "passtd: %s\n", buf);
	return CONF_ERROR;
}

/* Parse an address with an optional /prefix into @a, @prefix (-1: none) */
static int conf_addr_prefix(const char *arg, union inany_addr *a,
			    int *prefix)
{
	char buf[INANY_STRLEN + 8];
	unsigned long v;
	char *slash;
	int af;

	if (strlen(arg) >= sizeof(buf))
		return -EINVAL;
	strcpy(buf, arg);
	*prefix = -1;
	slash = strchr(buf, '/');
	if (slash)
		*slash = 0;
	af = inany_pton(buf, a);
	if (af < 0)
		return -EINVAL;
	if (slash) {
		if (str_to_uint(slash + 1, af == AF_INET ? 32 : 128, &v))
			return -EINVAL;
		*prefix = (int)v;
	}
	return af;
}

static int conf_netmask(struct conf *c, const char *arg)
{
	struct in_addr m;
	unsigned long v;
	uint32_t h;

	if (!str_to_uint(arg, 32, &v)) {
		c->net.v4.prefix_len = (int)v;
	} else if (inet_pton(AF_INET, arg, &m) == 1) {
		h = ntohl(m.s_addr);
		if (h & ~(h ? 0xffffffffu << (32 - __builtin_popcount(h)) : 0))
			return conf_err("non-contiguous netmask: %s", arg);
		c->net.v4.prefix_len = __builtin_popcount(h);
	} else {
		return conf_err("invalid netmask: %s", arg);
	}
	c->set.prefix4 = true;
	return 0;
}

static int conf_address(struct conf *c, const char *arg)
{
	union inany_addr a;
	int prefix, af;

	af = conf_addr_prefix(arg, &a, &prefix);
	if (af < 0 || inany_is_unspecified(&a) || inany_is_multicast(&a))
		return conf_err("invalid address: %s", arg);
	if (af == AF_INET) {
		c->net.v4.addr = *inany_v4(&a);
		c->set.addr4 = true;
		if (prefix >= 0) {
			c->net.v4.prefix_len = prefix;
			c->set.prefix4 = true;
		}
	} else {
		c->net.v6.addr = a.a6;
		c->net.v6.prefix_len = prefix >= 0 ? prefix : 64;
		c->set.addr6 = true;
	}
	return 0;
}

static int conf_gateway(struct conf *c, const char *arg)
{
	union inany_addr a;

	if (inany_pton(arg, &a) < 0 || inany_is_unspecified(&a) ||
	    inany_is_multicast(&a))
		return conf_err("invalid gateway: %s", arg);
	if (inany_is_v4(&a)) {
		c->net.v4.gw = *inany_v4(&a);
		c->set.gw4 = true;
	} else {
		c->net.v6.gw = a.a6;
		c->set.gw6 = true;
	}
	return 0;
}

static int conf_dns(struct conf *c, const char *arg)
{
	union inany_addr a;

	if (!strcmp(arg, "none")) {
		c->net.v4.dns_n = c->net.v6.dns_n = 0;
		c->set.dns = true;
		return 0;
	}
	if (inany_pton(arg, &a) < 0 || inany_is_unspecified(&a))
		return conf_err("invalid DNS address: %s", arg);
	if (!c->set.dns)
		c->net.v4.dns_n = c->net.v6.dns_n = 0;
	c->set.dns = true;
	if (inany_is_v4(&a)) {
		if (c->net.v4.dns_n == DNS_MAX)
			return conf_err("too many IPv4 DNS addresses");
		c->net.v4.dns[c->net.v4.dns_n++] = *inany_v4(&a);
	} else {
		if (c->net.v6.dns_n == DNS_MAX)
			return conf_err("too many IPv6 DNS addresses");
		c->net.v6.dns[c->net.v6.dns_n++] = a.a6;
	}
	return 0;
}

/* Add one search domain; false if the list is full or the name too long */
static bool conf_search_add(struct net_conf *nc, const char *name,
			    size_t len)
{
	if (!len)
		return true;
	if (nc->search_n == SEARCH_MAX || len >= DOMAIN_MAX)
		return false;
	memcpy(nc->search[nc->search_n], name, len);
	nc->search[nc->search_n++][len] = 0;
	return true;
}

static int conf_search(struct conf *c, const char *arg)
{
	const char *p = arg;

	c->set.search = true;
	c->net.search_n = 0;
	if (!strcmp(arg, "none"))
		return 0;
	while (*p) {
		size_t len = strcspn(p, ", ");

		if (!conf_search_add(&c->net, p, len))
			return conf_err("invalid search list: %s", arg);
		p += len;
		p += strspn(p, ", ");
	}
	return 0;
}

/* --map-host-loopback, --map-guest-addr, --dns-forward, --dns-host */
static int conf_map(const char *what, const char *arg, struct in_addr *v4,
		    struct in6_addr *v6, bool *set4, bool *set6)
{
	union inany_addr a;

	if (!strcmp(arg, "none")) {
		v4->s_addr = 0;
		*v6 = in6addr_any;
		*set4 = *set6 = true;
		return 0;
	}
	if (inany_pton(arg, &a) < 0 || inany_is_unspecified(&a))
		return conf_err("invalid %s address: %s", what, arg);
	if (inany_is_v4(&a)) {
		*v4 = *inany_v4(&a);
		*set4 = true;
	} else {
		*v6 = a.a6;
		*set6 = true;
	}
	return 0;
}

/*
 * -o/--outbound: the source address of sockets to the outside, once per
 * IP version (fwd_out_src()). It has to be one of the host's: bound at
 * run time, a wrong one would only show as every connection failing, so
 * conf_outbound_check() tries it at start-up.
 */
static int conf_outbound(struct net_conf *nc, const char *arg)
{
	union inany_addr a;

	if (inany_pton(arg, &a) < 0 || inany_is_unspecified(&a) ||
	    inany_is_multicast(&a) || inany_is_loopback(&a))
		return conf_err("invalid -o/--outbound address: %s", arg);
	if (inany_is_v4(&a)) {
		if (nc->v4.addr_out.s_addr)
			return conf_err("-o/--outbound given twice for IPv4");
		nc->v4.addr_out = *inany_v4(&a);
		return 0;
	}
	if (IN6_IS_ADDR_LINKLOCAL(&a.a6))
		return conf_err("-o/--outbound: link-local %s needs an "
				"interface, not supported", arg);
	if (!IN6_IS_ADDR_UNSPECIFIED(&nc->v6.addr_out))
		return conf_err("-o/--outbound given twice for IPv6");
	nc->v6.addr_out = a.a6;
	return 0;
}

static int conf_ifname(char *dst, const char *arg, const char *what)
{
	if (!*arg || strlen(arg) >= IFNAMSIZ || strchr(arg, '/'))
		return conf_err("invalid %s name: %s", what, arg);
	strcpy(dst, arg);
	return 0;
}

static int conf_mac(uint8_t *mac, const char *arg)
{
	if (mac_parse(arg, mac) || (mac[0] & 1))
		return conf_err("invalid MAC address: %s", arg);
	return 0;
}

static int conf_mtu(struct conf *c, const char *arg)
{
	unsigned long v;

	if (str_to_uint(arg, MTU_MAX, &v) || (v && v < MTU_MIN))
		return conf_err("invalid MTU: %s (0, or %d to %d)", arg,
				MTU_MIN, MTU_MAX);
	c->net.mtu = (int)v;
	c->set.mtu = true;
	return 0;
}

/* A number option within [@min, @max] */
static int conf_uint(const char *arg, unsigned long min, unsigned long max,
		     const char *what, unsigned int *out)
{
	unsigned long v;

	if (str_to_uint(arg, max, &v) || v < min)
		return conf_err("invalid %s: %s (%lu to %lu)", what, arg, min,
				max);
	*out = (unsigned int)v;
	return 0;
}

/* -F: a descriptor number; whether it is a socket is checked at start */
static int conf_fd(struct conf *c, const char *arg)
{
	unsigned long v;

	if (str_to_uint(arg, 0x7fffffff, &v))
		return conf_err("invalid file descriptor: %s", arg);
	c->fd = (int)v;
	c->one_off = true;
	return 0;
}

/* --log-size: a byte count, no suffix, as pasta takes it */
static int conf_log_size(struct conf *c, const char *arg)
{
	unsigned long v;

	if (str_to_uint(arg, LOG_SIZE_MAX, &v) || v < LOG_SIZE_MIN)
		return conf_err("invalid --log-size: %s (%lu to %lu bytes)",
				arg, LOG_SIZE_MIN, LOG_SIZE_MAX);
	c->log_size = v;
	return 0;
}

static int conf_flows(struct conf *c, const char *arg)
{
	unsigned long v;

	if (str_to_uint(arg, 1u << 24, &v) || v < 16)
		return conf_err("invalid flow table size: %s (16 to %u)",
				arg, 1u << 24);
	c->flows = (unsigned int)v;
	return 0;
}

static void conf_defaults(struct conf *c, const char *argv0)
{
	const char *base = strrchr(argv0, '/');

	memset(c, 0, sizeof(*c));
	base = base ? base + 1 : argv0;
	c->mode = !strcmp(base, "passt") ? MODE_PASST : MODE_PASTA;
	c->net.mtu = MTU_DEFAULT;
	memcpy(c->net.our_mac, MAC_OURS_DEFAULT, MAC_LEN);
	memcpy(c->net.guest_mac, MAC_BROADCAST, MAC_LEN);
	c->net.v4.enabled = c->net.v6.enabled = true;
	c->flows = CONF_FLOWS_DEFAULT;
	c->log_size = LOG_SIZE_DEFAULT;
	c->fd = -1;
	c->vu.pairs = VU_PAIRS_DEFAULT;
	c->net.udp_batch = UDP_BATCH_DEFAULT;
	c->net.zerocopy_min = ZEROCOPY_MIN_DEFAULT;
	c->net.udp_yield = UDP_YIELD_DEFAULT;
	c->net.udp_timeout_s = UDP_TIMEOUT_DEFAULT;
	c->net.tcp_keepalive_s = TCP_KEEPALIVE_DEFAULT;
	c->net.tcp_fin_timeout_s = TCP_FIN_TIMEOUT_DEFAULT;
	c->net.tcp_timeout_s = TCP_TIMEOUT_DEFAULT;
	fwd_ports_init(&c->tcp_in);
	fwd_ports_init(&c->udp_in);
	fwd_ports_init(&c->tcp_out);
	fwd_ports_init(&c->udp_out);
	log_level = LOG_LVL_INFO;
}

/* -t, -u, -T, -U: add one SPEC to the forwarding of that option */
static int conf_ports(struct conf *c, int opt, const char *arg)
{
	struct fwd_ports *fp = opt == 't' ? &c->tcp_in :
			       opt == 'u' ? &c->udp_in :
			       opt == 'T' ? &c->tcp_out : &c->udp_out;
	char err[256];

	if (fwd_ports_parse(fp, arg, c->mode == MODE_PASTA, err, sizeof(err)))
		return conf_err("-%c %s: %s", opt, arg, err);
	return 0;
}

/* Does a forwarding given on the command line forward anything? */
static bool conf_ports_some(const struct fwd_ports *fp)
{
	return fp->flags & ~FWD_NONE;
}

/* Defaults of one direction (see the theory of operation) */
static void conf_ports_default(const struct conf *c, struct fwd_ports *tcp,
			       struct fwd_ports *udp)
{
	unsigned int def = c->mode == MODE_PASTA ? FWD_AUTO : FWD_NONE;

	if (!udp->flags && conf_ports_some(tcp))
		fwd_ports_copy_udp(udp, tcp);
	if (!tcp->flags)
		tcp->flags = def;
	if (!udp->flags)
		udp->flags = def;
}

/* Check --no-tcp and --no-udp against -t/-u/-T/-U, then set defaults */
static int conf_ports_finish(struct conf *c)
{
	if (c->net.no_tcp &&
	    (conf_ports_some(&c->tcp_in) || conf_ports_some(&c->tcp_out)))
		return conf_err("--no-tcp and TCP port forwarding (-t, -T) "
				"exclude each other");
	if (c->net.no_udp &&
	    (conf_ports_some(&c->udp_in) || conf_ports_some(&c->udp_out)))
		return conf_err("--no-udp and UDP port forwarding (-u, -U) "
				"exclude each other");
	conf_ports_default(c, &c->tcp_in, &c->udp_in);
	conf_ports_default(c, &c->tcp_out, &c->udp_out);
	if (c->net.no_tcp)
		c->tcp_in.flags = c->tcp_out.flags = FWD_NONE;
	if (c->net.no_udp)
		c->udp_in.flags = c->udp_out.flags = FWD_NONE;
	return 0;
}

static int conf_opt_net(struct conf *c, int opt, const char *arg)
{
	struct net_conf *nc = &c->net;
	bool s4, s6;

	switch (opt) {
	case 'm':
		return conf_mtu(c, arg);
	case 'a':
		return conf_address(c, arg);
	case 'n':
		return conf_netmask(c, arg);
	case 'g':
		return conf_gateway(c, arg);
	case 'M':
		return conf_mac(nc->our_mac, arg);
	case 'D':
		return conf_dns(c, arg);
	case 'o':
		return conf_outbound(nc, arg);
	case 'S':
		return conf_search(c, arg);
	case OPT_DNS_FWD:
		return conf_map("--dns-forward", arg, &nc->v4.dns_fwd,
				&nc->v6.dns_fwd, &s4, &s6);
	case OPT_DNS_HOST:
		return conf_map("--dns-host", arg, &nc->v4.dns_host,
				&nc->v6.dns_host, &s4, &s6);
	case OPT_MAP_HOST_LO:
		return conf_map("--map-host-loopback", arg, &nc->v4.map_host_lo,
				&nc->v6.map_host_lo, &c->set.map_lo4,
				&c->set.map_lo6);
	case OPT_MAP_GUEST:
		return conf_map("--map-guest-addr", arg, &nc->v4.map_guest_addr,
				&nc->v6.map_guest_addr, &s4, &s6);
	case OPT_NS_MAC:
		c->ns_mac_set = true;
		return conf_mac(c->ns_mac, arg);
	}
	return 1;
}

static int conf_opt_name(struct conf *c, int opt, const char *arg)
{
	switch (opt) {
	case 'i':
		if (conf_ifname(c->tmpl[0], arg, "interface"))
			return CONF_ERROR;
		strcpy(c->tmpl[1], c->tmpl[0]);
		return 0;
	case OPT_OUT_IF4:
		return conf_ifname(c->tmpl[0], arg, "interface");
	case OPT_OUT_IF6:
		return conf_ifname(c->tmpl[1], arg, "interface");
	case 'I':
		return conf_ifname(c->ns_ifname, arg, "namespace interface");
	case 'H':
	case OPT_FQDN:
		if (!*arg || strlen(arg) >= DOMAIN_MAX)
			return conf_err("invalid host name: %s", arg);
		strcpy(opt == 'H' ? c->net.hostname : c->net.fqdn, arg);
		return 0;
	case 'l':
		c->logfile = arg;
		return 0;
	case OPT_LOG_SIZE:
		return conf_log_size(c, arg);
	case 'P':
		c->pidfile = arg;
		return 0;
	case OPT_RUNAS:
		c->runas = arg;
		return 0;
	case OPT_SELFTEST:
		if (strcmp(arg, "syscall") && strcmp(arg, "alloc"))
			return conf_err("--isolation-selftest: syscall or alloc");
		c->selftest = arg;
		return 0;
	case 'p':
		c->pcapfile = arg;
		return 0;
	case OPT_NETNS:
		c->netns = arg;
		return 0;
	case OPT_USERNS:
		c->userns = arg;
		return 0;
	case OPT_FLOWS:
		return conf_flows(c, arg);
	case 's':
		if (!*arg || strlen(arg) >= CONF_SOCKET_PATH_MAX)
			return conf_err("invalid socket path: %s", arg);
		c->socket_path = arg;
		return 0;
	case 'c':
		if (!*arg || strlen(arg) >= CONF_SOCKET_PATH_MAX)
			return conf_err("invalid control socket path: %s", arg);
		c->conf_path = arg;
		return 0;
	case 'F':
		return conf_fd(c, arg);
	case OPT_ZEROCOPY_MIN:
		return conf_uint(arg, 1, ZEROCOPY_MIN_MAX, "--zerocopy-min",
				 &c->net.zerocopy_min);
	case OPT_VHOST_QUEUES:
		return conf_uint(arg, 1, VU_PAIRS_MAX, "--vhost-queues",
				 &c->vu.pairs);
	case OPT_UDP_BATCH:
		return conf_uint(arg, 1, UDP_BATCH_MAX, "--udp-batch",
				 &c->net.udp_batch);
	case OPT_UDP_YIELD:
		return conf_uint(arg, 0, UDP_YIELD_MAX, "--udp-yield",
				 &c->net.udp_yield);
	case OPT_UDP_TIMEOUT:
		return conf_uint(arg, 1, 86400, "--udp-timeout",
				 &c->net.udp_timeout_s);
	case OPT_TCP_KEEPALIVE:
		return conf_uint(arg, 0, TCP_LIFE_MAX, "--tcp-keepalive",
				 &c->net.tcp_keepalive_s);
	case OPT_TCP_FIN_TIMEOUT:
		return conf_uint(arg, 0, TCP_LIFE_MAX, "--tcp-fin-timeout",
				 &c->net.tcp_fin_timeout_s);
	case OPT_TCP_TIMEOUT:
		return conf_uint(arg, 0, TCP_LIFE_MAX, "--tcp-timeout",
				 &c->net.tcp_timeout_s);
	case 't':
	case 'u':
	case 'T':
	case 'U':
		return conf_ports(c, opt, arg);
	}
	return 1;
}

static int conf_opt_flag(struct conf *c, int opt)
{
	struct net_conf *nc = &c->net;

	switch (opt) {
	case 'd':	log_level = MAX(log_level, LOG_LVL_DEBUG); break;
	case OPT_TRACE:	log_level = LOG_LVL_TRACE; break;
	case 'q':	c->quiet = true; break;
	case 'f':	c->foreground = true; break;
	case 'e':	break;	/* standard error is used when attached */
	case '4':	c->set.only4 = true; break;
	case '6':	c->set.only6 = true; break;
	case OPT_CONFIG_NET:	c->config_net = true; break;
	case OPT_VM:		c->mode = MODE_PASST; break;
	case OPT_VHOST_USER:	c->vhost_user = true; break;
	case OPT_NO_VHOST_OFFLOAD: c->vu.no_offload = true; break;
	case OPT_NO_VHOST_TSO:	c->vu.no_tso = true; break;
	case OPT_NO_MRG_RXBUF:	c->vu.no_mrg_rxbuf = true; break;
	case '1':		c->one_off = true; break;
	case OPT_NETNS_ONLY:	c->netns_only = true; break;
	case OPT_NO_NETNS_QUIT:	c->no_netns_quit = true; break;
	case OPT_PRINT_SYSCALLS: c->print_syscalls = true; break;
	case OPT_NO_DHCP:	nc->no_dhcp = true; break;
	case OPT_NO_NDP:	nc->no_ndp = true; break;
	case OPT_NO_DHCPV6:	nc->no_dhcpv6 = true; break;
	case OPT_NO_RA:		nc->no_ra = true; break;
	case OPT_NO_ICMP:	nc->no_icmp = true; break;
	case OPT_NO_TCP:	nc->no_tcp = true; break;
	case OPT_NO_UDP:	nc->no_udp = true; break;
	case OPT_NO_SPLICE:	nc->no_splice = true; break;
	case OPT_NO_PEEK_OFF:	nc->no_peek_offset = true; break;
	case OPT_NO_MMSG:	nc->no_mmsg = true; break;
	case OPT_NO_MMSG_REG:	nc->no_mmsg_register = true; break;
	case OPT_NO_TAP_SPLICE:	nc->no_tap_splice = true; break;
	case OPT_FREEBIND:	nc->freebind = true; break;
	case OPT_NO_GSO:	nc->no_gso = true; break;
	case OPT_NO_ZEROCOPY:	nc->no_zerocopy = true; break;
	case OPT_ZEROCOPY_FORCE: nc->zerocopy_force = true; break;
	case OPT_ZEROCOPY_SCRIBBLE: nc->zerocopy_scribble = true; break;
	case OPT_NO_MAP_GW:	c->set.no_map_gw = true; break;
	case OPT_DHCP_DNS:
	case OPT_NO_DHCP_DNS:
		c->set.dhcp_dns = true;
		nc->dhcp_dns = opt == OPT_DHCP_DNS;
		break;
	case OPT_DHCP_SEARCH:
	case OPT_NO_DHCP_SEARCH:
		c->set.dhcp_search = true;
		nc->dhcp_search = opt == OPT_DHCP_SEARCH;
		break;
	default:
		return 1;
	}
	return 0;
}

/* Non-option arguments: a PID (pasta PID form) or a command */
static int conf_target(struct conf *c, int argc, char *argv[])
{
	unsigned long pid;
	bool dashdash;

	if (optind >= argc)
		return 0;
	if (c->mode == MODE_PASST)
		return conf_err("VM mode takes no command or PID: '%s'",
				argv[optind]);
	if (c->netns)
		return conf_err("--netns and a PID or command exclude each other");
	dashdash = optind > 1 && !strcmp(argv[optind - 1], "--");
	if (optind == argc - 1 && !dashdash &&
	    !str_to_uint(argv[optind], 4194304, &pid)) {
		if (!pid)
			return conf_err("invalid PID: %s", argv[optind]);
		c->target_pid = (pid_t)pid;
		return 0;
	}
	c->cmd = &argv[optind];
	return 0;
}

/* Options of the other mode, and what VM mode implies or excludes */
static int conf_mode_check(struct conf *c, const char *const only[2])
{
	if (c->mode == MODE_PASST && only[MODE_PASTA])
		return conf_err("%s is for namespace mode (pasta) only",
				only[MODE_PASTA]);
	if (c->mode == MODE_PASTA && only[MODE_PASST])
		return conf_err("%s is for VM mode (passt, --vm) only",
				only[MODE_PASST]);
	if (c->mode == MODE_PASTA)
		return 0;
	if (c->socket_path && c->fd >= 0)
		return conf_err("-s/--socket and -F/--fd exclude each other");
	/* fwd_ports_parse() took "auto" if --vm came after -t or -u */
	if ((c->tcp_in.flags | c->udp_in.flags) & FWD_AUTO)
		return conf_err("\"auto\" forwarding is for namespace mode "
				"(pasta) only");
	c->net.no_splice = true;	/* no namespace loopback to splice to */
	return 0;
}

/**
 * conf_parse() - Parse the command line
 * @c:		Configuration, initialised here
 * @argc:	Argument count
 * @argv:	Arguments; argv[0] chooses the mode ("passt": VM mode)
 *
 * Return: 0 to go on, CONF_EXIT_OK after --help or --version, CONF_ERROR
 *	   after printing one error line
 */
int conf_parse(struct conf *c, int argc, char *argv[])
{
	const char *only[2] = { NULL, NULL };	/* by mode: first option */
	unsigned int i;
	int opt, rc;

	conf_defaults(c, argv[0]);
	optind = 0;
	opterr = 0;
	while ((opt = getopt_long(argc, argv, "+dqfel:hp:P:m:a:n:M:g:i:o:D:S:H:"
				  "46I:t:u:T:U:s:F:1c:", conf_options,
				  NULL)) != -1) {
		if (opt == '?' || opt == ':') {
			const char *bad = argv[optind - 1];

			if (optopt && strchr("lpPmanMgioDSHItuTUsFc", optopt) &&
			    bad[0] == '-' && bad[1] == optopt && !bad[2])
				return conf_err("option -%c needs an argument",
						optopt);
			return conf_err("invalid option or missing argument: "
					"'%s' (see --help)", bad);
		}
		if (opt == 'h') {
			printf(conf_usage, argv[0], argv[0], argv[0], argv[0]);
			return CONF_EXIT_OK;
		}
		if (opt == OPT_PRINT_CAPS) {
			/* vhost-user.rst, "Backend program conventions" */
			printf("{\n  \"type\": \"net\"\n}\n");
			return CONF_EXIT_OK;
		}
		for (i = 0; i < ARRAY_SIZE(conf_mode_opts); i++)
			if (conf_mode_opts[i].opt == opt &&
			    !only[conf_mode_opts[i].mode])
				only[conf_mode_opts[i].mode] =
					conf_mode_opts[i].name;
		if (opt == OPT_VERSION) {
			const char *name = strrchr(argv[0], '/');

			printf("%s %s\n", name ? name + 1 : argv[0],
			       PASSTD_VERSION);
			return CONF_EXIT_OK;
		}
		rc = conf_opt_net(c, opt, optarg);
		if (rc == 1)
			rc = conf_opt_name(c, opt, optarg);
		if (rc == 1)
			rc = conf_opt_flag(c, opt);
		if (rc)
			return CONF_ERROR;
	}
	if (conf_mode_check(c, only))
		return CONF_ERROR;
	if (c->set.only4 && c->set.only6)
		return conf_err("-4 and -6 exclude each other");
	if (c->set.no_map_gw && (c->set.map_lo4 || c->set.map_lo6))
		return conf_err("--no-map-gw and --map-host-loopback exclude "
				"each other");
	if (conf_ports_finish(c) || conf_target(c, argc, argv))
		return CONF_ERROR;
	if (c->userns && !c->netns && !c->target_pid)
		return conf_err("--userns needs a PID or --netns");
	return 0;
}

/* Classful prefix length (RFC 4632, 3.1) when neither -n nor the host say */
static int conf_classful(struct in_addr a)
{
	uint32_t h = ntohl(a.s_addr);

	if (!(h >> 31))
		return 8;
	if ((h >> 30) == 2)
		return 16;
	return 24;
}

/* Gateways when the host has none, and the address of local mode, as
 * pasta uses them: link-local, so no real peer of the host is shadowed */
#define CONF_LL_GW4	0xa9fe0202U	/* 169.254.2.2 */
#define CONF_LOCAL_ADDR4 0xa9fe0201U	/* 169.254.2.1/16 */
#define CONF_LOCAL_PREFIX4 16
static const struct in6_addr CONF_LL_GW6 = {
	.s6_addr = { 0xfe, 0x80, [15] = 1 }	/* fe80::1 */
};

#define CONF_IFACES_MAX	32	/* interfaces looked at without a default */

/*
 * No default route of the family: as pasta, the first interface with a
 * route of the family that also has a global address. Return: its index,
 * 0 if none.
 */
static unsigned int conf_tmpl_fallback(int nl, int af)
{
	unsigned int idx[CONF_IFACES_MAX];
	int i, n, prefix;
	uint8_t addr[16];

	n = nl_route_ifaces(nl, af, idx, CONF_IFACES_MAX);
	for (i = 0; i < n; i++)
		if (!nl_addr_first(nl, idx[i], af, addr, &prefix))
			return idx[i];
	return 0;
}

/* Template interface, address and gateway of one family from the host */
static void conf_host_family(struct conf *c, int nl, int af)
{
	int i = af == AF_INET ? 0 : 1, prefix = 0;
	unsigned int idx = 0;
	uint8_t gw[16] = { 0 }, addr[16];
	struct net4 *v4 = &c->net.v4;
	struct net6 *v6 = &c->net.v6;
	static const uint8_t zero[16];

	if (c->tmpl[i][0]) {
		idx = if_nametoindex(c->tmpl[i]);
		if (!idx) {
			log_warn("template interface %s not found", c->tmpl[i]);
			return;
		}
	}
	if (nl_route_default(nl, af, &idx, gw) && !c->tmpl[i][0])
		idx = conf_tmpl_fallback(nl, af);
	c->tmpl_idx[i] = idx;
	if (idx && !c->tmpl[i][0])
		if_indextoname(idx, c->tmpl[i]);
	if (idx && !nl_addr_first(nl, idx, af, addr, &prefix)) {
		if (af == AF_INET) {
			memcpy(&v4->addr_host, addr, 4);
			if (!c->set.addr4)
				v4->addr = v4->addr_host;
			if (!c->set.prefix4 && v4->addr.s_addr ==
			    v4->addr_host.s_addr)
				v4->prefix_len = prefix;
		} else {
			memcpy(&v6->addr_host, addr, 16);
			if (!c->set.addr6) {
				v6->addr = v6->addr_host;
				v6->prefix_len = prefix;
			}
		}
	}
	/* No gateway (point-to-point link, no default route): link-local */
	if (idx && !memcmp(gw, zero, sizeof(gw))) {
		if (af == AF_INET) {
			uint32_t ll = htonl(CONF_LL_GW4);

			memcpy(gw, &ll, 4);
		} else {
			memcpy(gw, &CONF_LL_GW6, 16);
		}
	}
	if (af == AF_INET && !c->set.gw4)
		memcpy(&v4->gw, gw, 4);
	if (af == AF_INET6 && !c->set.gw6)
		memcpy(&v6->gw, gw, 16);
}

/*
 * No template interface for either family: pasta's local mode for IPv4,
 * whatever -a and -g left open. The guest reaches the host's loopback
 * through the gateway, and the forwards.
 */
static void conf_local_mode(struct conf *c)
{
	struct net4 *v4 = &c->net.v4;

	if (c->set.only6 || c->tmpl[0][0] || c->tmpl[1][0])
		return;
	if (!c->set.addr4)
		v4->addr.s_addr = htonl(CONF_LOCAL_ADDR4);
	if (!c->set.prefix4 && !c->set.addr4)
		v4->prefix_len = CONF_LOCAL_PREFIX4;
	if (!c->set.gw4)
		v4->gw.s_addr = htonl(CONF_LL_GW4);
	log_info("no template interface with a route: local mode");
}

/* When the host gives one family only, say which, once */
static void conf_log_family(const struct conf *c)
{
	const struct net_conf *nc = &c->net;

	if (nc->v4.enabled && !nc->v6.enabled && !c->set.only4)
		log_info("IPv6: no usable template interface, IPv4 only");
	if (!nc->v4.enabled && nc->v6.enabled && !c->set.only6)
		log_info("IPv4: no usable template interface, IPv6 only");
}

/**
 * conf_resolv_reach() - How the guest reaches a resolver of resolv.conf
 * @nc:		Network configuration, the address maps already set
 * @a:		Resolver address, replaced by the one to announce
 *
 * A resolver on the host's loopback (127.0.0.53), or at the address that
 * stands for the host's loopback (the gateway, by default), is out of the
 * guest's reach as it is. As pasta does, it is announced as the
 * --dns-forward address, which defaults to the --map-host-loopback one:
 * DNS to that address goes to --dns-host (by default the first resolver
 * of resolv.conf, see fwd_guest_dst()), anything else to the host.
 *
 * Return: false if the guest cannot reach it (no map, no --dns-forward)
 */
static bool conf_resolv_reach(struct net_conf *nc, union inany_addr *a)
{
	if (inany_is_v4(a)) {
		struct net4 *n4 = &nc->v4;

		if (!inany_is_loopback(a) && (!n4->map_host_lo.s_addr ||
		    !inany_equal4(a, n4->map_host_lo)))
			return true;
		if (!n4->dns_fwd.s_addr)
			n4->dns_fwd = n4->map_host_lo;
		inany_from_v4(a, n4->dns_fwd);
	} else {
		struct net6 *n6 = &nc->v6;

		if (!inany_is_loopback(a) &&
		    (IN6_IS_ADDR_UNSPECIFIED(&n6->map_host_lo) ||
		     !inany_equal6(a, &n6->map_host_lo)))
			return true;
		if (IN6_IS_ADDR_UNSPECIFIED(&n6->dns_fwd))
			n6->dns_fwd = n6->map_host_lo;
		inany_from_v6(a, &n6->dns_fwd);
	}
	return !inany_is_unspecified(a);
}

/* Read resolvers and search domains from /etc/resolv.conf */
static void conf_resolv(struct conf *c)
{
	struct net_conf *nc = &c->net;
	char line[1024];
	FILE *f;

	f = fopen("/etc/resolv.conf", "re");
	if (!f)
		return;
	while (fgets(line, sizeof(line), f)) {
		char *kw = strtok(line, " \t\r\n"), *v;
		union inany_addr a;

		if (!kw)
			continue;
		if (!strcmp(kw, "nameserver") &&
		    (v = strtok(NULL, " \t\r\n")) && inany_pton(v, &a) > 0) {
			if (inany_is_v4(&a) && !nc->v4.dns_host.s_addr)
				nc->v4.dns_host = *inany_v4(&a);
			if (!inany_is_v4(&a) &&
			    IN6_IS_ADDR_UNSPECIFIED(&nc->v6.dns_host))
				nc->v6.dns_host = a.a6;
			if (c->set.dns || !conf_resolv_reach(nc, &a))
				continue;
			if (inany_is_v4(&a) && nc->v4.dns_n < DNS_MAX)
				nc->v4.dns[nc->v4.dns_n++] = *inany_v4(&a);
			else if (!inany_is_v4(&a) && nc->v6.dns_n < DNS_MAX)
				nc->v6.dns[nc->v6.dns_n++] = a.a6;
		} else if ((!strcmp(kw, "search") || !strcmp(kw, "domain")) &&
			   !c->set.search) {
			if (!strcmp(kw, "search"))
				nc->search_n = 0;
			while ((v = strtok(NULL, " \t\r\n")))
				conf_search_add(nc, v, strlen(v));
		}
	}
	fclose(f);
}

/* Resolvers announced with --dns-forward given (not defaulted by
 * conf_resolv_reach()) for IPv4 (@v4) or IPv6 (@v6): its address only */
static void conf_dns_forward(struct net_conf *nc, bool v4, bool v6)
{
	if (v4) {
		nc->v4.dns[0] = nc->v4.dns_fwd;
		nc->v4.dns_n = 1;
	}
	if (v6) {
		nc->v6.dns[0] = nc->v6.dns_fwd;
		nc->v6.dns_n = 1;
	}
}

/* Ephemeral ports of the host, skipped by "all" and exclusion-only -t/-u */
static void conf_ports_host(struct conf *c)
{
	uint16_t first, last;

	if (fwd_ephemeral_read(&first, &last))
		return;
	c->tcp_in.eph_first = c->udp_in.eph_first = first;
	c->tcp_in.eph_last = c->udp_in.eph_last = last;
}

/* Can the -o address of one family be bound on the host? */
static int conf_outbound_try(int af, const void *addr)
{
	struct sockaddr_storage sa;
	union inany_addr a;
	char buf[INET6_ADDRSTRLEN];
	socklen_t sl;
	int fd, rc = 0;

	if (af == AF_INET)
		inany_from_v4(&a, *(const struct in_addr *)addr);
	else
		inany_from_v6(&a, addr);
	sl = inany_to_sockaddr(&a, 0, 0, &sa);
	fd = socket(af, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sl))
		rc = conf_err("cannot use -o/--outbound %s: %s",
			      inany_ntop(&a, buf, sizeof(buf)),
			      strerror(errno));
	if (fd >= 0)
		close(fd);
	return rc;
}

/* Refuse an -o address the host does not have (see conf_outbound()) */
static int conf_outbound_check(const struct net_conf *nc)
{
	if (nc->v4.addr_out.s_addr &&
	    conf_outbound_try(AF_INET, &nc->v4.addr_out))
		return CONF_ERROR;
	if (!IN6_IS_ADDR_UNSPECIFIED(&nc->v6.addr_out) &&
	    conf_outbound_try(AF_INET6, &nc->v6.addr_out))
		return CONF_ERROR;
	return 0;
}

/**
 * conf_our_ll() - Our link-local address toward the guest, and the scope
 *		   of link-local destinations on the host
 * @c:		Configuration, the IPv6 gateway and template known
 *
 * A host configured by router advertisements has its router's link-local
 * address as its gateway. The guest gets the same one, as with pasta:
 * we then speak for that router, sending RAs (hence the guest's default
 * route) and NDP answers from it, so that the guest's route is the
 * host's. A global gateway (given, or the host's) leaves us an address
 * of our own, derived from our MAC, that the guest may not confuse with
 * anything on the host's link.
 *
 * With --config-net and a link-local gateway no RA is sent, as pasta sends
 * none with --config-net: the route set there is the one an RA would give,
 * and the kernel refuses such an RA whole ("failed to add default route"
 * in the host's kernel log, its prefix and options ignored) as the route
 * exists already.
 */
static void conf_our_ll(struct conf *c)
{
	struct net6 *n6 = &c->net.v6;

	if (IN6_IS_ADDR_LINKLOCAL(&n6->gw)) {
		n6->our_ll = n6->gw;
		if (c->config_net)
			c->net.no_ra = true;
	} else {
		fwd_ll_from_mac(&n6->our_ll, c->net.our_mac);
	}
	n6->ll_scope = c->tmpl_idx[1];
}

/**
 * conf_host() - Fill what the command line left open from the host
 * @c:		Configuration from conf_parse()
 * @nl:		Netlink socket in the host's namespace
 *
 * Return: 0 on success, CONF_ERROR after printing one error line
 */
int conf_host(struct conf *c, int nl)
{
	struct net_conf *nc = &c->net;
	bool fwd4, fwd6;

	if (!c->set.only6)
		conf_host_family(c, nl, AF_INET);
	if (!c->set.only4)
		conf_host_family(c, nl, AF_INET6);
	conf_local_mode(c);

	nc->v4.enabled = !c->set.only6 && nc->v4.addr.s_addr &&
			 nc->v4.gw.s_addr;
	nc->v6.enabled = !c->set.only4 && !IN6_IS_ADDR_UNSPECIFIED(&nc->v6.addr)
			 && !IN6_IS_ADDR_UNSPECIFIED(&nc->v6.gw);
	if (!nc->v4.enabled && !nc->v6.enabled)
		return conf_err("no usable template interface with an address "
				"and a default route: give -i, or -a and -g");
	if (conf_outbound_check(nc))
		return CONF_ERROR;
	conf_log_family(c);
	if (nc->v4.enabled && !nc->v4.prefix_len)
		nc->v4.prefix_len = conf_classful(nc->v4.addr);
	if (nc->v6.enabled && !nc->v6.prefix_len)
		nc->v6.prefix_len = 64;
	conf_our_ll(c);

	if (!c->set.no_map_gw && !c->set.map_lo4)
		nc->v4.map_host_lo = nc->v4.gw;
	if (!c->set.no_map_gw && !c->set.map_lo6)
		nc->v6.map_host_lo = nc->v6.gw;

	fwd4 = nc->v4.dns_fwd.s_addr;
	fwd6 = !IN6_IS_ADDR_UNSPECIFIED(&nc->v6.dns_fwd);
	conf_resolv(c);
	conf_dns_forward(nc, fwd4, fwd6);
	conf_ports_host(c);
	if (!c->set.dhcp_dns)
		nc->dhcp_dns = c->mode == MODE_PASST;
	if (!c->set.dhcp_search)
		nc->dhcp_search = c->mode == MODE_PASST;

	if (!c->ns_ifname[0])
		strcpy(c->ns_ifname, c->tmpl[nc->v4.enabled ? 0 : 1][0] ?
		       c->tmpl[nc->v4.enabled ? 0 : 1] : "tap0");
	return 0;
}

/* Summary of one forwarding, at debug level */
static void conf_log_ports(const char *what, const struct fwd_ports *fp)
{
	unsigned int port, n = 0;

	if (log_level < LOG_LVL_DEBUG)
		return;
	for (port = 1; port < FWD_PORTS; port++)
		n += fwd_port_forwarded(fp, (uint16_t)port);
	if (fp->flags & FWD_AUTO)
		log_debug("%s: auto%s", what,
			  fp->flags & (FWD_SPEC | FWD_EXCL) ? ", limited" : "");
	else
		log_debug("%s: %u ports", what, n);
}

/**
 * conf_log() - Log the configuration in use (info level)
 * @c:		Configuration
 */
void conf_log(const struct conf *c)
{
	const struct net_conf *nc = &c->net;
	char a[INANY_STRLEN], g[INANY_STRLEN];
	int i;

	if (nc->v4.enabled)
		log_info("IPv4: %s/%d gateway %s, template %s",
			 inet_ntop(AF_INET, &nc->v4.addr, a, sizeof(a)),
			 nc->v4.prefix_len,
			 inet_ntop(AF_INET, &nc->v4.gw, g, sizeof(g)),
			 c->tmpl[0][0] ? c->tmpl[0] : "(none)");
	if (nc->v6.enabled)
		log_info("IPv6: %s/%d gateway %s, template %s",
			 inet_ntop(AF_INET6, &nc->v6.addr, a, sizeof(a)),
			 nc->v6.prefix_len,
			 inet_ntop(AF_INET6, &nc->v6.gw, g, sizeof(g)),
			 c->tmpl[1][0] ? c->tmpl[1] : "(none)");
	for (i = 0; i < nc->v4.dns_n; i++)
		log_debug("DNS: %s", inet_ntop(AF_INET, &nc->v4.dns[i], a,
						sizeof(a)));
	for (i = 0; i < nc->v6.dns_n; i++)
		log_debug("DNS: %s", inet_ntop(AF_INET6, &nc->v6.dns[i], a,
						sizeof(a)));
	for (i = 0; i < nc->search_n; i++)
		log_debug("search: %s", nc->search[i]);
	conf_log_ports("TCP forwarding to namespace", &c->tcp_in);
	conf_log_ports("UDP forwarding to namespace", &c->udp_in);
	conf_log_ports("TCP forwarding to host", &c->tcp_out);
	conf_log_ports("UDP forwarding to host", &c->udp_out);
}
