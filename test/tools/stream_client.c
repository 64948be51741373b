/* test/tools/stream_client.c - plays a QEMU guest on passtd's VM-mode
 * stream socket: length-prefixed Ethernet frames, chosen write patterns
 *
 * Theory of operation
 * The client connects to the daemon's UNIX socket (-s PATH), or, with -F N,
 * creates a socketpair, starts the daemon given after "--" with the other
 * end as descriptor N (as QEMU's -netdev passt does) and speaks on its
 * own end. It then runs the steps given on the command line, in order, on
 * that one connection. Each step writes frames in some pattern and waits
 * (bounded by -t MS) for the answer it expects; frames it does not expect
 * (router advertisements, ...) are skipped. The guest uses the IPv4 and
 * IPv6 addresses and the MAC given with -a, -A and -m (192.0.2.1,
 * 2001:db8::1, 02:00:00:00:00:01 by default; fe80::1 link-local), so the
 * daemon learns them.
 *
 * Usage: stream_client [-s PATH | -F N] [-a ADDR] [-A ADDR6] [-g GW]
 *			[-m MAC] [-t MS] STEP... [-- DAEMON ARG...]
 * Steps:
 *   arp		ARP request for the gateway, one write; expect the reply
 *   dhcp=ADDR		DHCPDISCOVER; expect an offer of ADDR, router -g
 *   burst=N		N ARP requests in one write; expect N replies
 *   split		one ARP request written one byte per write
 *   chunked=N:SIZE	N ARP requests written SIZE bytes at a time (frames
 *			and lengths cut anywhere); expect N replies
 *   flood=N[:any]	N ARP requests without reading, then read: expect
 *			N replies, or with ":any", at least one and an
 *			intact stream (the daemon may drop whole frames
 *			when its pending buffer is full)
 *   ping=ADDR		ICMP echo request; expect the reply
 *   rs=PREFIX/LEN	IPv6 router solicitation; expect an advertisement
 *			with that prefix
 *   ra=PREFIX/LEN	send nothing; expect an unsolicited advertisement
 *			with that prefix (the first ones a new guest gets)
 *   ping6=ADDR		ICMPv6 echo request from -A ADDR6; expect the reply
 *   tcp=ADDR:PORT	handshake, 64 bytes to an echo server, expect them
 *			back, then reset
 *   udp=ADDR:PORT	one datagram to an echo server; expect it back
 *   accept=PORT	be a TCP echo server on PORT for one connection
 *			forwarded by the daemon (-t): echo every byte, answer
 *			the peer's FIN with ours
 *   udpin=PORT,LEN,SRC	expect a datagram forwarded by the daemon (-u)
 *			from SRC to PORT, LEN bytes starting with sequence
 *			number 0 (udp_stream send), to our MAC and our
 *			address (-m, -a or -A); send it back unchanged
 *   dhcpv6=ADDR[,DNS]	DHCPv6 Solicit with Rapid Commit; expect a Reply
 *			with ADDR in our IA_NA (and DNS among the servers)
 *   dhcpv6info=DNS	DHCPv6 Information-request; expect a Reply with DNS
 *			among the servers and no address
 *   ns=TARGET,MAC	neighbour solicitation for TARGET; expect an
 *			advertisement with MAC, Router and Solicited flags
 *   leave=PORT:BYTES	take one TCP connection forwarded to PORT (-t),
 *			receive BYTES, then close the stream socket with
 *			the connection open
 *   badlen=0|big	a frame length of 0 or 70000; expect the daemon to
 *			close the connection
 *   cut		half a frame, then leave (disconnect mid-frame)
 *   closed		expect the daemon to close the connection
 *   exit=STATUS	(-F only) close our end, expect the daemon to exit
 *			with STATUS
 *   gone=PIDFILE	(-F only, a daemon that forks, as QEMU starts passt)
 *			the command started must have exited with status
 *			0 and PIDFILE name a running process; close our
 *			end, expect that process to end and PIDFILE to be
 *			removed
 * Output: one line per step, "ok STEP" or "FAIL STEP: why". Exit status
 * 0 if every step passed, 1 if one failed (later steps do not run), 2 on
 * usage or set-up errors.
 * System calls: socket, connect, socketpair, fork, execvp, waitpid,
 * write, read, poll, close, open, access.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "tool_common.h"

#define FRAME_MAX	(65536 + 64)
#define ETH_LEN		14
#define IP4_LEN		20
#define MIN_SZ(a, b)	((a) < (b) ? (a) : (b))

static int sock = -1;
static pid_t daemon_pid;
static int timeout_ms = 3000;
static uint8_t guest_mac[6] = { 0x02, 0x00, 0x00, 0x00, 0x00, 0x01 };
static struct in_addr guest_ip, gw_ip;
static struct in6_addr guest_ip6, guest_ll;
static uint8_t rx[FRAME_MAX + 4];	/* stream bytes not consumed yet */
static size_t rx_len;
static uint16_t ip_id = 1;

/* One's complement sum, not folded */
static uint32_t sum16(const uint8_t *p, size_t len, uint32_t sum)
{
	size_t i;

	for (i = 0; i + 1 < len; i += 2)
		sum += get16(p + i);
	if (len & 1)
		sum += (uint32_t)p[len - 1] << 8;
	return sum;
}

/* Write all of @len bytes; false on error */
static bool write_all(const uint8_t *p, size_t len)
{
	while (len) {
		ssize_t n = write(sock, p, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return false;
		p += n;
		len -= (size_t)n;
	}
	return true;
}

/* Ethernet header from the guest; Return: where the payload goes */
static uint8_t *eth(uint8_t *f, const uint8_t *dst, uint16_t type)
{
	static const uint8_t bcast[6] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };

	memcpy(f, dst ? dst : bcast, 6);
	memcpy(f + 6, guest_mac, 6);
	put16(f + 12, type);
	return f + ETH_LEN;
}

/* ARP request for the gateway. Return: frame length */
static size_t arp_request(uint8_t *f)
{
	uint8_t *a = eth(f, NULL, 0x0806);

	put16(a, 1);
	put16(a + 2, 0x0800);
	a[4] = 6;
	a[5] = 4;
	put16(a + 6, 1);
	memcpy(a + 8, guest_mac, 6);
	memcpy(a + 14, &guest_ip, 4);
	memset(a + 18, 0, 6);
	memcpy(a + 24, &gw_ip, 4);
	return ETH_LEN + 28;
}

/*
 * IPv4 frame around an L4 payload already at f + ETH_LEN + IP4_LEN, its
 * checksum filled here (UDP, TCP with pseudo-header; ICMP without).
 * Return: frame length
 */
static size_t ip4(uint8_t *f, struct in_addr src, struct in_addr dst,
		  uint8_t proto, size_t l4_len)
{
	uint8_t *ip = eth(f, NULL, 0x0800), *l4 = ip + IP4_LEN;
	int off = proto == 6 ? 16 : proto == 17 ? 6 : 2;
	uint32_t sum = 0;
	uint16_t c;

	ip[0] = 0x45;
	ip[1] = 0;
	put16(ip + 2, (uint16_t)(IP4_LEN + l4_len));
	put16(ip + 4, ip_id++);
	put16(ip + 6, 0x4000);
	ip[8] = 64;
	ip[9] = proto;
	put16(ip + 10, 0);
	memcpy(ip + 12, &src, 4);
	memcpy(ip + 16, &dst, 4);
	put16(ip + 10, fold(sum16(ip, IP4_LEN, 0)));
	if (proto != 1) {
		sum = sum16(ip + 12, 8, 0) + proto + (uint32_t)l4_len;
		if (proto == 17)
			put16(l4 + 4, (uint16_t)l4_len);
	}
	put16(l4 + off, 0);
	c = fold(sum16(l4, l4_len, sum));
	put16(l4 + off, proto == 17 && !c ? 0xffff : c);
	return ETH_LEN + IP4_LEN + l4_len;
}

/**
 * ip6() - IPv6 frame around an L4 payload already at f + ETH_LEN + 40
 * @f:		Frame
 * @dst_mac:	Destination MAC, broadcast if NULL
 * @src:	Source address
 * @dst:	Destination address
 * @proto:	17 (UDP, its length field filled too) or 58 (ICMPv6)
 * @hops:	Hop limit
 * @l4_len:	Payload length
 *
 * The checksum (pseudo-header included) is filled here.
 * Return: frame length
 */
static size_t ip6(uint8_t *f, const uint8_t *dst_mac,
		  const struct in6_addr *src, const struct in6_addr *dst,
		  uint8_t proto, uint8_t hops, size_t l4_len)
{
	uint8_t *ip = eth(f, dst_mac, 0x86dd), *l4 = ip + 40;
	int off = proto == 17 ? 6 : 2;
	uint32_t sum;
	uint16_t c;

	memset(ip, 0, 40);
	ip[0] = 0x60;
	put16(ip + 4, (uint16_t)l4_len);
	ip[6] = proto;
	ip[7] = hops;
	memcpy(ip + 8, src, 16);
	memcpy(ip + 24, dst, 16);
	if (proto == 17)
		put16(l4 + 4, (uint16_t)l4_len);
	sum = sum16(ip + 8, 32, 0) + proto + (uint32_t)l4_len;
	put16(l4 + off, 0);
	c = fold(sum16(l4, l4_len, sum));
	put16(l4 + off, proto == 17 && !c ? 0xffff : c);
	return ETH_LEN + 40 + l4_len;
}

/**
 * ip6_in() - Is @f an IPv6 frame of protocol @proto from @src?
 * @f:		Frame
 * @len:	Its length
 * @proto:	17 (UDP) or 58 (ICMPv6), no extension headers
 * @src:	Source address wanted, any if NULL
 * @l4_len:	Set to the payload length
 *
 * A bad checksum is reported (it is the daemon's failure) and rejected.
 * Return: the payload, or NULL
 */
static const uint8_t *ip6_in(const uint8_t *f, long len, uint8_t proto,
			     const struct in6_addr *src, size_t *l4_len)
{
	const uint8_t *ip = f + ETH_LEN;
	size_t plen;

	if (len < ETH_LEN + 40 + 4 || get16(f + 12) != 0x86dd ||
	    ip[6] != proto || (src && memcmp(ip + 8, src, 16)))
		return NULL;
	plen = get16(ip + 4);
	if (plen > (size_t)len - ETH_LEN - 40 || plen < 4)
		return NULL;
	if (fold(sum16(ip + 8, 32, 0) + proto + (uint32_t)plen +
		 sum16(ip + 40, plen, 0))) {
		printf("# bad %s checksum from the daemon\n",
		       proto == 17 ? "UDP/IPv6" : "ICMPv6");
		return NULL;
	}
	*l4_len = plen;
	return ip + 40;
}

/* ICMPv6 message of type @type from @src (any if NULL)? Return: it */
static const uint8_t *icmp6_in(const uint8_t *f, long len, uint8_t type,
			       const struct in6_addr *src, size_t *l4_len)
{
	const uint8_t *icmp = ip6_in(f, len, 58, src, l4_len);

	return icmp && icmp[0] == type ? icmp : NULL;
}

/* Send frames, each behind its length, in one write */
static bool send_frames(uint8_t *const *f, const size_t *len, int n)
{
	static uint8_t buf[1 << 20];
	size_t used = 0;
	int i;

	for (i = 0; i < n; i++) {
		if (used + 4 + len[i] > sizeof(buf))
			return false;
		put32(buf + used, (uint32_t)len[i]);
		memcpy(buf + used + 4, f[i], len[i]);
		used += 4 + len[i];
	}
	return write_all(buf, used);
}

static bool send_frame(uint8_t *f, size_t len)
{
	return send_frames(&f, &len, 1);
}

/*
 * Next frame from the daemon into @f, within @deadline (ms, monotonic).
 * Return: its length, 0 on timeout, -1 if the daemon closed the stream,
 * -2 on a broken length
 */
static long recv_frame(uint8_t *f, int64_t deadline)
{
	for (;;) {
		struct pollfd pfd = { .fd = sock, .events = POLLIN };
		int64_t now = now_ms();
		uint32_t len;
		ssize_t n;

		if (rx_len >= 4) {
			len = get32(rx);
			if (!len || len > FRAME_MAX)
				return -2;
			if (rx_len >= 4 + len) {
				memcpy(f, rx + 4, len);
				memmove(rx, rx + 4 + len, rx_len - 4 - len);
				rx_len -= 4 + len;
				return (long)len;
			}
		}
		if (now >= deadline)
			return 0;
		if (poll(&pfd, 1, (int)(deadline - now)) <= 0)
			continue;
		n = read(sock, rx + rx_len, sizeof(rx) - rx_len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		rx_len += (size_t)n;
	}
}

/* Is @f an ARP reply for the gateway, to us? */
static bool is_arp_reply(const uint8_t *f, long len)
{
	const uint8_t *a = f + ETH_LEN;

	return len >= ETH_LEN + 28 && get16(f + 12) == 0x0806 &&
	       get16(a + 6) == 2 && !memcmp(a + 14, &gw_ip, 4) &&
	       !memcmp(a + 18, guest_mac, 6) && !memcmp(f, guest_mac, 6);
}

/* IPv4 frame of protocol @proto from @src? Return: L4 header or NULL */
static const uint8_t *ip4_in(const uint8_t *f, long len, uint8_t proto,
			     struct in_addr src, size_t *l4_len)
{
	const uint8_t *ip = f + ETH_LEN;
	size_t ihl, tot;

	if (len < ETH_LEN + IP4_LEN || get16(f + 12) != 0x0800 ||
	    ip[9] != proto || (src.s_addr && memcmp(ip + 12, &src, 4)))
		return NULL;
	ihl = (size_t)(ip[0] & 15) * 4;
	tot = get16(ip + 2);
	if (tot > (size_t)len - ETH_LEN || tot < ihl)
		return NULL;
	/* A checksum we would reject is a failure of the daemon */
	if (fold(sum16(ip, ihl, 0))) {
		printf("# bad IPv4 header checksum from the daemon\n");
		return NULL;
	}
	if (proto != 1 && fold(sum16(ip + 12, 8, 0) + proto +
			       (uint32_t)(tot - ihl) +
			       sum16(ip + ihl, tot - ihl, 0)) &&
	    !(proto == 17 && !get16(ip + ihl + 6))) {
		printf("# bad L4 checksum from the daemon\n");
		return NULL;
	}
	*l4_len = tot - ihl;
	return ip + ihl;
}

/* Wait for a frame @match accepts. Return: its length, or the reason */
static long wait_for(uint8_t *f, bool (*match)(const uint8_t *, long, void *),
		     void *arg)
{
	int64_t deadline = now_ms() + timeout_ms;
	long len;

	while ((len = recv_frame(f, deadline)) > 0)
		if (match(f, len, arg))
			return len;
	return len;
}

static const char *why(long rc)
{
	return rc == 0 ? "timeout" : rc == -1 ? "connection closed" :
	       "broken stream";
}

static bool match_arp(const uint8_t *f, long len, void *arg)
{
	(void)arg;
	return is_arp_reply(f, len);
}

static int step_arp(int n, bool bytewise)
{
	static uint8_t frames[64][64], f[FRAME_MAX];
	uint8_t *fp[64];
	size_t len[64];
	long rc;
	int i;

	for (i = 0; i < n; i++) {
		fp[i] = frames[i];
		len[i] = arp_request(frames[i]);
	}
	if (bytewise) {
		uint8_t hdr[4];
		size_t j;

		put32(hdr, (uint32_t)len[0]);
		for (j = 0; j < 4 + len[0]; j++) {
			uint8_t b = j < 4 ? hdr[j] : frames[0][j - 4];

			if (!write_all(&b, 1))
				return printf("# write failed\n"), 1;
			usleep(1000);	/* one byte per read, most likely */
		}
	} else if (!send_frames(fp, len, n)) {
		return printf("# write failed\n"), 1;
	}
	for (i = 0; i < n; i++) {
		rc = wait_for(f, match_arp, NULL);
		if (rc <= 0)
			return printf("# reply %d of %d: %s\n", i + 1, n,
				      why(rc)), 1;
	}
	return 0;
}

/* N ARP requests written in pieces of @size bytes; expect N replies */
static int step_chunked(const char *arg)
{
	static uint8_t buf[1 << 20], f[FRAME_MAX];
	int n = atoi(arg), i;
	const char *colon = strchr(arg, ':');
	size_t size = colon ? (size_t)atoi(colon + 1) : 7, used = 0, off;
	long rc;

	if (n <= 0 || !size || (size_t)n * 64 > sizeof(buf))
		return printf("# bad chunked=%s\n", arg), 2;
	for (i = 0; i < n; i++) {
		size_t len = arp_request(buf + used + 4);

		put32(buf + used, (uint32_t)len);
		used += 4 + len;
	}
	for (off = 0; off < used; off += size) {
		if (!write_all(buf + off, MIN_SZ(size, used - off)))
			return printf("# write failed\n"), 1;
		usleep(200);	/* let the daemon read each piece alone */
	}
	for (i = 0; i < n; i++) {
		rc = wait_for(f, match_arp, NULL);
		if (rc <= 0)
			return printf("# reply %d of %d: %s\n", i + 1, n,
				      why(rc)), 1;
	}
	return 0;
}

/* N requests written without reading, so the daemon's writes block */
static int step_flood(const char *arg)
{
	static uint8_t buf[64 * 64], f[FRAME_MAX];
	bool any = strstr(arg, ":any");
	int n = atoi(arg), sent, i, got = 0, other = 0;
	size_t used;
	long rc;

	if (n <= 0)
		return printf("# bad flood=%s\n", arg), 2;
	for (sent = 0; sent < n; sent += i) {
		for (i = 0, used = 0; i < 64 && sent + i < n; i++) {
			size_t len = arp_request(buf + used + 4);

			put32(buf + used, (uint32_t)len);
			used += 4 + len;
		}
		if (!write_all(buf, used))
			return printf("# write failed\n"), 1;
	}
	for (;;) {
		rc = recv_frame(f, now_ms() + (int64_t)(got < n && !any ?
							 timeout_ms : 1000));
		if (rc <= 0)
			break;
		if (is_arp_reply(f, rc))
			got++;
		else
			other++;
		if (got == n)
			break;
	}
	printf("# %d of %d replies (%d other frames)%s\n", got, n, other,
	       rc < 0 ? ": broken or closed stream" : "");
	if (rc < 0)
		return 1;
	return any ? !got : got != n;
}

struct dhcp_want {
	uint32_t xid;
	struct in_addr offer, router;
};

static bool match_dhcp(const uint8_t *f, long len, void *arg)
{
	struct dhcp_want *w = arg;
	struct in_addr any = { 0 };
	const uint8_t *u, *d, *o;
	size_t l4;

	u = ip4_in(f, len, 17, any, &l4);
	if (!u || l4 < 8 + 240 || get16(u) != 67 || get16(u + 2) != 68)
		return false;
	d = u + 8;
	if (d[0] != 2 || get32(d + 4) != w->xid || get32(d + 236) !=
	    0x63825363)
		return false;
	memcpy(&w->offer, d + 16, 4);
	o = d + 240;
	while (o < u + l4 && *o != 255) {
		if (*o == 0) {		/* pad: one byte */
			o++;
			continue;
		}
		if (o + 2 > u + l4 || o + 2 + o[1] > u + l4)
			break;
		if (*o == 53 && o[1] == 1 && o[2] != 2)
			return false;	/* not an offer */
		if (*o == 3 && o[1] >= 4)
			memcpy(&w->router, o + 2, 4);
		o += 2 + o[1];
	}
	return true;
}

static int step_dhcp(const char *want)
{
	static uint8_t f[FRAME_MAX];
	struct dhcp_want w = { .xid = 0x5a5a0000u | (uint32_t)getpid() };
	struct in_addr any = { 0 }, bc = { INADDR_BROADCAST }, expect;
	uint8_t *u = f + ETH_LEN + IP4_LEN, *d = u + 8, *o;
	long rc;

	if (inet_pton(AF_INET, want, &expect) != 1)
		return printf("# bad address %s\n", want), 2;
	memset(u, 0, 8 + 300);
	put16(u, 68);
	put16(u + 2, 67);
	d[0] = 1;
	d[1] = 1;
	d[2] = 6;
	put32(d + 4, w.xid);
	put16(d + 10, 0x8000);	/* broadcast the answer */
	memcpy(d + 28, guest_mac, 6);
	put32(d + 236, 0x63825363);
	o = d + 240;
	*o++ = 53; *o++ = 1; *o++ = 1;			/* DISCOVER */
	*o++ = 55; *o++ = 3; *o++ = 1; *o++ = 3; *o++ = 6;
	*o++ = 255;
	if (!send_frame(f, ip4(f, any, bc, 17, (size_t)(o - u))))
		return printf("# write failed\n"), 1;
	rc = wait_for(f, match_dhcp, &w);
	if (rc <= 0)
		return printf("# offer: %s\n", why(rc)), 1;
	printf("# offered %s", inet_ntoa(w.offer));
	printf(", router %s\n", inet_ntoa(w.router));
	return w.offer.s_addr != expect.s_addr ||
	       w.router.s_addr != gw_ip.s_addr;
}

struct echo_want {
	struct in_addr src;
	uint16_t id, seq;
};

static bool match_ping(const uint8_t *f, long len, void *arg)
{
	struct echo_want *w = arg;
	const uint8_t *icmp;
	size_t l4;

	icmp = ip4_in(f, len, 1, w->src, &l4);
	return icmp && l4 >= 8 && icmp[0] == 0 && get16(icmp + 4) == w->id &&
	       get16(icmp + 6) == w->seq && !fold(sum16(icmp, l4, 0));
}

static int step_ping(const char *dst)
{
	static uint8_t f[FRAME_MAX];
	uint8_t *icmp = f + ETH_LEN + IP4_LEN;
	struct echo_want w = { .id = 0x4242, .seq = 1 };
	long rc;

	if (inet_pton(AF_INET, dst, &w.src) != 1)
		return printf("# bad address %s\n", dst), 2;
	icmp[0] = 8;
	icmp[1] = 0;
	put16(icmp + 4, w.id);
	put16(icmp + 6, w.seq);
	memcpy(icmp + 8, "passtd stream ping", 18);
	if (!send_frame(f, ip4(f, guest_ip, w.src, 1, 8 + 18)))
		return printf("# write failed\n"), 1;
	rc = wait_for(f, match_ping, &w);
	if (rc <= 0)
		return printf("# echo reply: %s\n", why(rc)), 1;
	return 0;
}

struct ra_want {
	struct in6_addr prefix;
	int len;
	bool seen;
};

/* A router advertisement; note whether it has the prefix we want */
static bool match_ra(const uint8_t *f, long len, void *arg)
{
	struct ra_want *w = arg;
	const uint8_t *ra, *o;
	size_t l4;

	ra = icmp6_in(f, len, 134, NULL, &l4);
	if (!ra || l4 < 16)
		return false;
	for (o = ra + 16; o + 8 <= ra + l4 && o[1]; o += o[1] * 8) {
		if (o + o[1] * 8 > ra + l4)
			break;
		if (o[0] == 3 && o[1] == 4 && o[2] == w->len &&
		    !memcmp(o + 16, &w->prefix, 16))
			w->seen = true;
	}
	return true;
}

/* Parse PREFIX/LEN into @w. Return: 0, or 2 if malformed */
static int ra_want_parse(const char *arg, struct ra_want *w)
{
	char buf[64], *slash;

	snprintf(buf, sizeof(buf), "%s", arg);
	slash = strchr(buf, '/');
	if (!slash)
		return printf("# bad PREFIX/LEN %s\n", arg), 2;
	*slash = 0;
	w->len = atoi(slash + 1);
	if (inet_pton(AF_INET6, buf, &w->prefix) != 1)
		return printf("# bad PREFIX/LEN %s\n", arg), 2;
	return 0;
}

/*
 * ra=PREFIX/LEN: wait for an unsolicited router advertisement with that
 * prefix, sending nothing (a new guest gets one within a second or two)
 */
static int step_ra(const char *arg)
{
	static uint8_t f[FRAME_MAX];
	struct ra_want w = { 0 };
	long rc;

	if (ra_want_parse(arg, &w))
		return 2;
	rc = wait_for(f, match_ra, &w);
	if (rc <= 0)
		return printf("# unsolicited advertisement: %s\n", why(rc)), 1;
	if (!w.seen)
		return printf("# advertisement without prefix %s\n", arg), 1;
	return 0;
}

static int step_rs(const char *arg)
{
	static const uint8_t all_routers_mac[6] = { 0x33, 0x33, 0, 0, 0, 2 };
	static uint8_t f[FRAME_MAX];
	uint8_t *rs = f + ETH_LEN + 40;
	struct ra_want w = { 0 };
	struct in6_addr all_routers;
	long rc;

	if (ra_want_parse(arg, &w) ||
	    inet_pton(AF_INET6, "ff02::2", &all_routers) != 1)
		return 2;
	memset(rs, 0, 16);
	rs[0] = 133;
	rs[8] = 1;		/* source link-layer address */
	rs[9] = 1;
	memcpy(rs + 10, guest_mac, 6);
	if (!send_frame(f, ip6(f, all_routers_mac, &guest_ll, &all_routers,
			       58, 255, 16)))
		return printf("# write failed\n"), 1;
	rc = wait_for(f, match_ra, &w);
	if (rc <= 0)
		return printf("# advertisement: %s\n", why(rc)), 1;
	if (!w.seen)
		return printf("# advertisement without prefix %s\n", arg), 1;
	return 0;
}

struct echo6_want {
	struct in6_addr src;
	uint16_t id, seq;
};

static bool match_ping6(const uint8_t *f, long len, void *arg)
{
	struct echo6_want *w = arg;
	const uint8_t *icmp;
	size_t l4;

	icmp = icmp6_in(f, len, 129, &w->src, &l4);
	return icmp && l4 >= 8 && get16(icmp + 4) == w->id &&
	       get16(icmp + 6) == w->seq;
}

static int step_ping6(const char *dst)
{
	static uint8_t f[FRAME_MAX];
	uint8_t *icmp = f + ETH_LEN + 40;
	struct echo6_want w = { .id = 0x4343, .seq = 1 };
	long rc;

	if (inet_pton(AF_INET6, dst, &w.src) != 1)
		return printf("# bad address %s\n", dst), 2;
	icmp[0] = 128;
	icmp[1] = 0;
	put16(icmp + 4, w.id);
	put16(icmp + 6, w.seq);
	memcpy(icmp + 8, "passtd stream ping6", 19);
	if (!send_frame(f, ip6(f, NULL, &guest_ip6, &w.src, 58, 64, 8 + 19)))
		return printf("# write failed\n"), 1;
	rc = wait_for(f, match_ping6, &w);
	if (rc <= 0)
		return printf("# echo reply: %s\n", why(rc)), 1;
	return 0;
}

/* Parse ADDR:PORT */
static int addr_port(const char *s, struct in_addr *a, uint16_t *port)
{
	char buf[64], *colon;

	snprintf(buf, sizeof(buf), "%s", s);
	colon = strrchr(buf, ':');
	if (!colon)
		return -1;
	*colon = 0;
	*port = (uint16_t)atoi(colon + 1);
	return inet_pton(AF_INET, buf, a) == 1 && *port ? 0 : -1;
}

struct udp_want {
	struct in_addr src;
	uint16_t sport, dport;
	const char *data;
};

static bool match_udp(const uint8_t *f, long len, void *arg)
{
	struct udp_want *w = arg;
	const uint8_t *u;
	size_t l4;

	u = ip4_in(f, len, 17, w->src, &l4);
	return u && get16(u) == w->sport && get16(u + 2) == w->dport &&
	       l4 == 8 + strlen(w->data) && !memcmp(u + 8, w->data, l4 - 8);
}

static int step_udp(const char *arg)
{
	static uint8_t f[FRAME_MAX];
	uint8_t *u = f + ETH_LEN + IP4_LEN;
	struct udp_want w = { .dport = 40001,
			      .data = "passtd stream udp round trip" };
	size_t n = strlen(w.data);
	long rc;

	if (addr_port(arg, &w.src, &w.sport))
		return printf("# bad ADDR:PORT %s\n", arg), 2;
	put16(u, w.dport);
	put16(u + 2, w.sport);
	memcpy(u + 8, w.data, n);
	if (!send_frame(f, ip4(f, guest_ip, w.src, 17, 8 + n)))
		return printf("# write failed\n"), 1;
	rc = wait_for(f, match_udp, &w);
	if (rc <= 0)
		return printf("# echo: %s\n", why(rc)), 1;
	return 0;
}

/**
 * struct tcp_st - The client side of one TCP connection
 * @peer:	Server address
 * @pport:	Server port
 * @lport:	Our port
 * @snd:	Next sequence number we send
 * @rcv:	Next sequence number we expect
 * @data:	Bytes received, in order
 * @got:	Bytes received
 * @flags:	Flags of the last matching segment
 * @fin:	The peer's FIN arrived, after all its data
 */
struct tcp_st {
	struct in_addr peer;
	uint16_t pport, lport;
	uint32_t snd, rcv;
	uint8_t data[65536];
	size_t got;
	uint8_t flags;
	bool fin;
};

static bool tcp_send(struct tcp_st *t, uint8_t flags, const void *data,
		     size_t len)
{
	static uint8_t f[FRAME_MAX];
	uint8_t *th = f + ETH_LEN + IP4_LEN;
	size_t hl = flags & 0x02 ? 24 : 20;

	memset(th, 0, hl);
	put16(th, t->lport);
	put16(th + 2, t->pport);
	put32(th + 4, t->snd);
	put32(th + 8, flags & 0x10 ? t->rcv : 0);
	th[12] = (uint8_t)((hl / 4) << 4);
	th[13] = flags;
	put16(th + 14, 65535);
	if (hl == 24) {
		th[20] = 2;	/* MSS 1460 */
		th[21] = 4;
		put16(th + 22, 1460);
	}
	memcpy(th + hl, data, len);
	return send_frame(f, ip4(f, guest_ip, t->peer, 6, hl + len));
}

/* Segment of our connection: take its data in order, remember flags */
static bool match_tcp(const uint8_t *f, long len, void *arg)
{
	struct tcp_st *t = arg;
	const uint8_t *th;
	size_t l4, hl, dl;

	th = ip4_in(f, len, 6, t->peer, &l4);
	if (!th || l4 < 20 || get16(th) != t->pport ||
	    get16(th + 2) != t->lport)
		return false;
	hl = (size_t)(th[12] >> 4) * 4;
	if (hl < 20 || hl > l4)
		return false;
	t->flags = th[13];
	if (t->flags & 0x02) {		/* SYN: the server's ISN */
		t->rcv = get32(th + 4) + 1;
		return true;
	}
	dl = l4 - hl;
	if (dl && get32(th + 4) == t->rcv &&
	    t->got + dl <= sizeof(t->data)) {
		memcpy(t->data + t->got, th + hl, dl);
		t->got += dl;
		t->rcv += (uint32_t)dl;
	}
	if ((t->flags & 0x01) && get32(th + 4) + dl == t->rcv)
		t->fin = true;
	return dl || (t->flags & 0x05);
}

static int step_tcp(const char *arg)
{
	static uint8_t f[FRAME_MAX];
	static struct tcp_st t = { .lport = 40002, .snd = 1000000 };
	uint8_t msg[64];
	int64_t deadline;
	long rc;
	size_t i;

	if (addr_port(arg, &t.peer, &t.pport))
		return printf("# bad ADDR:PORT %s\n", arg), 2;
	for (i = 0; i < sizeof(msg); i++)
		msg[i] = (uint8_t)('a' + i % 26);
	if (!tcp_send(&t, 0x02, NULL, 0))
		return printf("# write failed\n"), 1;
	rc = wait_for(f, match_tcp, &t);
	if (rc <= 0 || (t.flags & 0x12) != 0x12)
		return printf("# SYN-ACK: %s (flags 0x%02x)\n",
			      rc <= 0 ? why(rc) : "not one", t.flags), 1;
	t.snd++;
	if (!tcp_send(&t, 0x10, NULL, 0) ||
	    !tcp_send(&t, 0x18, msg, sizeof(msg)))
		return printf("# write failed\n"), 1;
	t.snd += sizeof(msg);
	deadline = now_ms() + timeout_ms;
	while (t.got < sizeof(msg) && now_ms() < deadline) {
		rc = wait_for(f, match_tcp, &t);
		if (rc <= 0 || (t.flags & 0x05))
			break;
		tcp_send(&t, 0x10, NULL, 0);	/* acknowledge */
	}
	tcp_send(&t, 0x14, NULL, 0);		/* done: reset */
	if (t.got != sizeof(msg) || memcmp(t.data, msg, sizeof(msg)))
		return printf("# echo: %zu of %zu bytes back%s\n", t.got,
			      sizeof(msg), t.flags & 0x05 ? " (FIN/RST)" :
			      ""), 1;
	return 0;
}

/* A SYN to our port @arg: the peer's address, port and ISN */
static bool match_syn(const uint8_t *f, long len, void *arg)
{
	struct tcp_st *t = arg;
	struct in_addr any = { 0 };
	const uint8_t *th, *ip = f + ETH_LEN;
	size_t l4;

	th = ip4_in(f, len, 6, any, &l4);
	if (!th || l4 < 20 || get16(th + 2) != t->lport ||
	    (th[13] & 0x12) != 0x02)
		return false;
	memcpy(&t->peer, ip + 12, 4);
	t->pport = get16(th);
	t->rcv = get32(th + 4) + 1;
	return true;
}

static int step_accept(const char *arg)
{
	static uint8_t f[FRAME_MAX];
	static struct tcp_st t;
	int64_t deadline = now_ms() + timeout_ms;
	size_t echoed = 0;
	bool fin = false;
	long rc;

	memset(&t, 0, sizeof(t));
	t.lport = (uint16_t)atoi(arg);
	t.snd = 2000000;
	if (!t.lport)
		return printf("# bad port %s\n", arg), 2;
	rc = wait_for(f, match_syn, &t);
	if (rc <= 0)
		return printf("# SYN: %s\n", why(rc)), 1;
	if (!tcp_send(&t, 0x12, NULL, 0))
		return printf("# write failed\n"), 1;
	t.snd++;
	while (!fin && now_ms() < deadline) {
		rc = wait_for(f, match_tcp, &t);
		if (rc <= 0 || (t.flags & 0x04))
			break;
		while (echoed < t.got) {	/* echo, in segments */
			size_t n = MIN_SZ(t.got - echoed, 1000);

			tcp_send(&t, 0x18, t.data + echoed, n);
			t.snd += (uint32_t)n;
			echoed += n;
		}
		if (t.got == sizeof(t.data))	/* full: start over */
			t.got = echoed = 0;
		if (t.fin) {
			t.rcv++;
			tcp_send(&t, 0x11, NULL, 0);
			t.snd++;
			fin = true;
		}
	}
	if (!fin)
		return printf("# no FIN from the peer: %s\n",
			      t.flags & 0x04 ? "reset" : why(rc)), 1;
	/* The last ACK, so that the daemon sees both ends closed */
	deadline = now_ms() + 500;
	while (recv_frame(f, deadline) > 0)
		;
	return 0;
}

/**
 * struct udpin_want - A datagram the daemon forwards to the guest (-u)
 * @af:		Family: AF_INET or AF_INET6
 * @src4:	Expected source, IPv4
 * @src6:	Expected source, IPv6
 * @port:	Our port, the destination
 * @sport:	Set to the source port
 * @mac:	Set to the source MAC (the daemon's)
 * @to_us:	Set if it went to our MAC and our address (-m, -a, -A)
 * @data:	Set to the payload
 * @len:	Set to its length
 */
struct udpin_want {
	int af;
	struct in_addr src4;
	struct in6_addr src6;
	uint16_t port, sport;
	uint8_t mac[6];
	bool to_us;
	uint8_t data[2048];
	size_t len;
};

/* Destination MAC and address of frame @f, for a diagnostic */
static const char *ip_dst_str(const uint8_t *f, int af)
{
	static char buf[INET6_ADDRSTRLEN + 40];
	char a[INET6_ADDRSTRLEN];

	inet_ntop(af, f + ETH_LEN + (af == AF_INET ? 16 : 24), a, sizeof(a));
	snprintf(buf, sizeof(buf), "%02x:%02x:%02x:%02x:%02x:%02x %s",
		 f[0], f[1], f[2], f[3], f[4], f[5], a);
	return buf;
}

/* A UDP datagram from the expected source to our port: note it */
static bool match_udpin(const uint8_t *f, long len, void *arg)
{
	struct udpin_want *w = arg;
	const uint8_t *u;
	size_t l4;

	if (w->af == AF_INET)
		u = ip4_in(f, len, 17, w->src4, &l4);
	else
		u = ip6_in(f, len, 17, &w->src6, &l4);
	if (!u || l4 < 8 || get16(u + 2) != w->port ||
	    l4 - 8 > sizeof(w->data))
		return false;
	w->sport = get16(u);
	memcpy(w->mac, f + 6, 6);
	w->to_us = !memcmp(f, guest_mac, 6) &&
		   (w->af == AF_INET ?
		    !memcmp(f + ETH_LEN + 16, &guest_ip, 4) :
		    !memcmp(f + ETH_LEN + 24, &guest_ip6, 16));
	w->len = l4 - 8;
	memcpy(w->data, u + 8, w->len);
	return true;
}

/**
 * step_udpin() - udpin=PORT,LEN,SRC: one datagram forwarded to us (-u)
 * @arg:	Our port, the payload length, the sender's address
 *
 * Wait for a datagram from SRC (either family) to PORT, check its payload
 * (LEN bytes, starting with the 8-byte sequence number 0, as the first
 * datagram of udp_stream's send mode does), and send it back unchanged
 * from PORT to the source address and port. udp_stream verifies every
 * byte of that echo on a socket connected to the daemon's address and
 * PORT, so the reply must also come from the port the datagram went to.
 *
 * Return: 0 on success, 1 on failure, 2 on a bad argument
 */
static int step_udpin(const char *arg)
{
	static const uint8_t zero[8];
	static struct udpin_want w;
	static uint8_t f[FRAME_MAX];
	char buf[80], *p1, *p2;
	size_t want, flen;
	uint8_t *u;
	long rc;

	memset(&w, 0, sizeof(w));
	snprintf(buf, sizeof(buf), "%s", arg);
	p1 = strchr(buf, ',');
	p2 = p1 ? strchr(p1 + 1, ',') : NULL;
	if (!p2)
		return printf("# bad udpin=%s\n", arg), 2;
	*p1 = *p2 = 0;
	w.port = (uint16_t)atoi(buf);
	want = (size_t)atoi(p1 + 1);
	if (inet_pton(AF_INET, p2 + 1, &w.src4) == 1)
		w.af = AF_INET;
	else if (inet_pton(AF_INET6, p2 + 1, &w.src6) == 1)
		w.af = AF_INET6;
	if (!w.af || !w.port || want < 8 || want > sizeof(w.data))
		return printf("# bad udpin=%s\n", arg), 2;
	rc = wait_for(f, match_udpin, &w);
	if (rc <= 0)
		return printf("# datagram to port %u: %s\n", w.port,
			      why(rc)), 1;
	printf("# datagram from port %u, %zu bytes\n", w.sport, w.len);
	if (!w.to_us)
		return printf("# not sent to our MAC and address (-m, -a, "
			      "-A): %s\n", ip_dst_str(f, w.af)), 1;
	if (w.len != want || memcmp(w.data, zero, sizeof(zero)))
		return printf("# payload: %zu bytes, expected %zu, "
			      "sequence number 0 first\n", w.len, want), 1;

	u = f + ETH_LEN + (w.af == AF_INET ? IP4_LEN : 40);
	put16(u, w.port);
	put16(u + 2, w.sport);
	memcpy(u + 8, w.data, w.len);
	if (w.af == AF_INET)
		flen = ip4(f, guest_ip, w.src4, 17, 8 + w.len);
	else
		flen = ip6(f, w.mac, &guest_ip6, &w.src6, 17, 64, 8 + w.len);
	if (!send_frame(f, flen))
		return printf("# write failed\n"), 1;
	return 0;
}

/**
 * struct dhcpv6_want - What a DHCPv6 Reply must hold, what it held
 * @xid:	Transaction ID of our Solicit (24 bits)
 * @iaid:	IAID of our IA_NA
 * @type:	Set to the message type of the answer
 * @rapid:	Set if it had Rapid Commit
 * @server:	Set if it had a Server Identifier
 * @client:	Set if it had our Client Identifier back
 * @addr:	Set to the address in the IA_NA with our IAID
 * @has_addr:	@addr was found
 * @dns:	Set to the DNS servers (option 23)
 * @dns_n:	Their number
 */
struct dhcpv6_want {
	uint32_t xid, iaid;
	uint8_t type;
	bool rapid, server, client;
	struct in6_addr addr;
	bool has_addr;
	struct in6_addr dns[8];
	int dns_n;
};

/* Our DUID: DUID-LL (type 3, hardware type 1) of the guest's MAC */
static size_t duid_ll(uint8_t *p)
{
	put16(p, 3);
	put16(p + 2, 1);
	memcpy(p + 4, guest_mac, 6);
	return 10;
}

/**
 * dhcpv6_opts() - Walk DHCPv6 options, note what struct dhcpv6_want wants
 * @w:		Notes
 * @p:		First option
 * @len:	Bytes of options
 * @ia:		Inside the IA_NA with our IAID (IA Address options count)
 */
static void dhcpv6_opts(struct dhcpv6_want *w, const uint8_t *p, size_t len,
			bool ia)
{
	uint8_t duid[10];

	duid_ll(duid);
	while (len >= 4) {
		uint16_t code = get16(p), olen = get16(p + 2);
		const uint8_t *d = p + 4;
		int i;

		if ((size_t)olen > len - 4)
			return;
		if (code == 14)
			w->rapid = true;
		if (code == 2 && olen)
			w->server = true;
		if (code == 1 && olen == sizeof(duid) &&
		    !memcmp(d, duid, sizeof(duid)))
			w->client = true;
		if (code == 3 && olen >= 12 && get32(d) == w->iaid)
			dhcpv6_opts(w, d + 12, olen - 12, true);
		if (code == 5 && ia && olen >= 24 && !w->has_addr) {
			memcpy(&w->addr, d, 16);
			w->has_addr = true;
		}
		for (i = 0; code == 23 && i < olen / 16 && w->dns_n < 8; i++)
			memcpy(&w->dns[w->dns_n++], d + 16 * i, 16);
		p += 4 + olen;
		len -= 4 + (size_t)olen;
	}
}

/* An answer from port 547 to 546 with our transaction ID: note it */
static bool match_dhcpv6(const uint8_t *f, long len, void *arg)
{
	struct dhcpv6_want *w = arg;
	const uint8_t *u;
	size_t l4;

	u = ip6_in(f, len, 17, NULL, &l4);
	if (!u || l4 < 8 + 4 || get16(u) != 547 || get16(u + 2) != 546 ||
	    (get32(u + 8) & 0xffffff) != w->xid)
		return false;
	w->type = u[8];
	dhcpv6_opts(w, u + 12, l4 - 12, false);
	return true;
}

/**
 * step_dhcpv6() - dhcpv6=ADDR[,DNS]: Solicit with Rapid Commit, expect a
 *		   Reply with ADDR in our IA_NA (and DNS among the servers);
 *		   dhcpv6info=DNS: Information-request, expect a Reply with
 *		   DNS among the servers and no address
 * @arg:	Expected address (not for @info), then a DNS server
 * @info:	Send an Information-request rather than a Solicit
 *
 * The message goes from our link-local address to All DHCP Relay Agents
 * and Servers (ff02::1:2), with our Client Identifier (DUID-LL), Elapsed
 * Time and an Option Request for DNS servers and the search list; a
 * Solicit also has one IA_NA and Rapid Commit. This is what a client such
 * as dhclient or udhcpc6 sends for an address (RFC 8415, 18.2.1), or for
 * the configuration only when SLAAC gave the address (18.2.6).
 *
 * Return: 0 on success, 1 on failure, 2 on a bad argument
 */
static int step_dhcpv6(const char *arg, bool info)
{
	static const uint8_t mac[6] = { 0x33, 0x33, 0, 1, 0, 2 };
	struct dhcpv6_want w = { .xid = (uint32_t)getpid() & 0xffffff,
				 .iaid = 0x00c0ffee };
	struct in6_addr want, dns, all_servers;
	static uint8_t f[FRAME_MAX];
	uint8_t *u = f + ETH_LEN + 40, *o = u + 8;
	char buf[100], *dns_s, a[INET6_ADDRSTRLEN];
	bool has_dns = true;
	long rc;
	int i;

	snprintf(buf, sizeof(buf), "%s", arg);
	dns_s = info ? buf : strchr(buf, ',');
	if (!info && dns_s)
		*dns_s++ = 0;
	if (!dns_s)
		has_dns = false;
	else if (inet_pton(AF_INET6, dns_s, &dns) != 1)
		return printf("# bad DNS server %s\n", dns_s), 2;
	if ((!info && inet_pton(AF_INET6, buf, &want) != 1) ||
	    inet_pton(AF_INET6, "ff02::1:2", &all_servers) != 1)
		return printf("# bad address %s\n", buf), 2;

	put16(u, 546);
	put16(u + 2, 547);
	put32(o, w.xid);
	o[0] = info ? 11 : 1;		/* Information-request or Solicit */
	o += 4;
	put16(o, 1);				/* Client Identifier */
	put16(o + 2, (uint16_t)duid_ll(o + 4));
	o += 4 + 10;
	if (!info) {
		put16(o, 3);			/* IA_NA: IAID, T1, T2 */
		put16(o + 2, 12);
		put32(o + 4, w.iaid);
		put32(o + 8, 0);
		put32(o + 12, 0);
		o += 4 + 12;
		put16(o, 14);			/* Rapid Commit */
		put16(o + 2, 0);
		o += 4;
	}
	put16(o, 8);				/* Elapsed Time: 0 */
	put16(o + 2, 2);
	put16(o + 4, 0);
	o += 4 + 2;
	put16(o, 6);				/* Option Request */
	put16(o + 2, 4);
	put16(o + 4, 23);
	put16(o + 6, 24);
	o += 4 + 4;
	if (!send_frame(f, ip6(f, mac, &guest_ll, &all_servers, 17, 1,
			       (size_t)(o - u))))
		return printf("# write failed\n"), 1;
	rc = wait_for(f, match_dhcpv6, &w);
	if (rc <= 0)
		return printf("# answer: %s\n", why(rc)), 1;
	printf("# type %u, address %s", w.type, w.has_addr ?
	       inet_ntop(AF_INET6, &w.addr, a, sizeof(a)) : "none");
	for (i = 0; i < w.dns_n; i++)
		printf(", DNS %s", inet_ntop(AF_INET6, &w.dns[i], a,
					     sizeof(a)));
	printf("\n");
	if (w.type != 7 || (!info && !w.rapid))
		return printf("# not a Reply%s\n", info ? "" :
			      " with Rapid Commit"), 1;
	if (!w.server || !w.client)
		return printf("# Server or our Client Identifier missing\n"),
		       1;
	if (info && w.has_addr)
		return printf("# an address for an Information-request\n"),
		       1;
	if (!info && (!w.has_addr || memcmp(&w.addr, &want, sizeof(want))))
		return printf("# expected address %s in IA_NA\n", buf), 1;
	for (i = 0; has_dns && i < w.dns_n; i++)
		if (!memcmp(&w.dns[i], &dns, sizeof(dns)))
			has_dns = false;
	if (has_dns)
		return printf("# DNS server %s missing\n", dns_s), 1;
	return 0;
}

/**
 * struct na_want - A Neighbour Advertisement for one target
 * @target:	Address solicited
 * @tlla:	Set to its Target Link-Layer Address option, zero if none
 * @src_mac:	Set to the frame's source MAC
 * @flags:	Set to its R, S, O flags
 */
struct na_want {
	struct in6_addr target;
	uint8_t tlla[6], src_mac[6];
	uint8_t flags;
};

/* A Neighbour Advertisement for our target, hop limit 255: note it */
static bool match_na(const uint8_t *f, long len, void *arg)
{
	struct na_want *w = arg;
	const uint8_t *na, *o;
	size_t l4;

	na = icmp6_in(f, len, 136, NULL, &l4);
	if (!na || l4 < 24 || f[ETH_LEN + 7] != 255 ||
	    memcmp(na + 8, &w->target, 16))
		return false;
	w->flags = na[4];
	memcpy(w->src_mac, f + 6, 6);
	for (o = na + 24; o + 8 <= na + l4 && o[1]; o += o[1] * 8)
		if (o[0] == 2 && o[1] == 1)
			memcpy(w->tlla, o + 2, 6);
	return true;
}

/**
 * step_ns() - ns=TARGET,MAC: Neighbour Solicitation for TARGET, expect
 *	       an advertisement with MAC, the Solicited and Router flags
 * @arg:	Target address, then the daemon's MAC
 *
 * The solicitation goes from our link-local address to TARGET's
 * solicited-node multicast address, with our link-layer address, as the
 * kernel sends it before it first routes through a gateway.
 *
 * Return: 0 on success, 1 on failure, 2 on a bad argument
 */
static int step_ns(const char *arg)
{
	static uint8_t f[FRAME_MAX];
	uint8_t *ns = f + ETH_LEN + 40, mac[6], dst_mac[6];
	struct na_want w = { 0 };
	struct in6_addr snm;
	char buf[100], *comma;
	long rc;

	snprintf(buf, sizeof(buf), "%s", arg);
	comma = strchr(buf, ',');
	if (!comma || sscanf(comma + 1, "%hhx:%hhx:%hhx:%hhx:%hhx:%hhx",
			     &mac[0], &mac[1], &mac[2], &mac[3], &mac[4],
			     &mac[5]) != 6)
		return printf("# bad ns=%s\n", arg), 2;
	*comma = 0;
	if (inet_pton(AF_INET6, buf, &w.target) != 1 ||
	    inet_pton(AF_INET6, "ff02::1:ff00:0", &snm) != 1)
		return printf("# bad address %s\n", buf), 2;
	memcpy(&snm.s6_addr[13], &w.target.s6_addr[13], 3);
	dst_mac[0] = dst_mac[1] = 0x33;
	memcpy(dst_mac + 2, &snm.s6_addr[12], 4);

	memset(ns, 0, 32);
	ns[0] = 135;
	memcpy(ns + 8, &w.target, 16);
	ns[24] = 1;			/* source link-layer address */
	ns[25] = 1;
	memcpy(ns + 26, guest_mac, 6);
	if (!send_frame(f, ip6(f, dst_mac, &guest_ll, &snm, 58, 255, 32)))
		return printf("# write failed\n"), 1;
	rc = wait_for(f, match_na, &w);
	if (rc <= 0)
		return printf("# advertisement: %s\n", why(rc)), 1;
	printf("# advertised %02x:%02x:%02x:%02x:%02x:%02x, flags 0x%02x\n",
	       w.tlla[0], w.tlla[1], w.tlla[2], w.tlla[3], w.tlla[4],
	       w.tlla[5], w.flags);
	if (memcmp(w.tlla, mac, 6) || memcmp(w.src_mac, mac, 6))
		return printf("# not the MAC %s (option or frame source)\n",
			      comma + 1), 1;
	if ((w.flags & 0xc0) != 0xc0)
		return printf("# Router and Solicited flags not both set\n"),
		       1;
	return 0;
}

/**
 * step_leave() - leave=PORT:BYTES: take one connection forwarded to PORT
 *		  (-t), receive BYTES on it, then disconnect with it open
 * @arg:	Our port, then the bytes to receive first
 *
 * Every segment is acknowledged, so the peer knows the connection is
 * established end to end; then we close the stream socket without a FIN
 * or a reset, as a guest that is killed or a QEMU that exits does.
 *
 * Return: 0 on success, 1 on failure, 2 on a bad argument
 */
static int step_leave(const char *arg)
{
	static uint8_t f[FRAME_MAX];
	static struct tcp_st t;
	const char *colon = strchr(arg, ':');
	size_t want = colon ? (size_t)atoi(colon + 1) : 0;
	int64_t deadline = now_ms() + timeout_ms;
	long rc;

	memset(&t, 0, sizeof(t));
	t.lport = (uint16_t)atoi(arg);
	t.snd = 3000000;
	if (!t.lport || want > sizeof(t.data))
		return printf("# bad leave=%s\n", arg), 2;
	rc = wait_for(f, match_syn, &t);
	if (rc <= 0)
		return printf("# SYN: %s\n", why(rc)), 1;
	if (!tcp_send(&t, 0x12, NULL, 0))
		return printf("# write failed\n"), 1;
	t.snd++;
	while (t.got < want && now_ms() < deadline) {
		rc = wait_for(f, match_tcp, &t);
		if (rc <= 0 || (t.flags & 0x05))
			break;
		tcp_send(&t, 0x10, NULL, 0);
	}
	if (t.got < want)
		return printf("# %zu of %zu bytes before leaving%s\n",
			      t.got, want, t.flags & 0x05 ? " (FIN/RST)" :
			      ""), 1;
	close(sock);
	sock = -1;
	return 0;
}

/* Expect the daemon to close the stream (frames before that are fine) */
static int step_closed(void)
{
	static uint8_t f[FRAME_MAX];
	int64_t deadline = now_ms() + timeout_ms;
	long rc;

	while ((rc = recv_frame(f, deadline)) > 0)
		;
	if (rc != -1)
		return printf("# connection still open: %s\n", why(rc)), 1;
	return 0;
}

static int step_badlen(const char *arg)
{
	uint8_t hdr[4 + 64] = { 0 };

	put32(hdr, !strcmp(arg, "0") ? 0 : 70000);
	if (!write_all(hdr, sizeof(hdr)))
		return printf("# write failed\n"), 1;
	return step_closed();
}

static int step_cut(void)
{
	static uint8_t f[128];
	uint8_t hdr[4];
	size_t len = arp_request(f);

	put32(hdr, (uint32_t)len);
	if (!write_all(hdr, 4) || !write_all(f, len / 2))
		return printf("# write failed\n"), 1;
	close(sock);
	sock = -1;
	return 0;
}

/* -F: close our end, expect the daemon to exit with @arg */
static int step_exit(const char *arg)
{
	int64_t deadline = now_ms() + timeout_ms;
	int status;

	if (!daemon_pid)
		return printf("# no daemon started (-F)\n"), 2;
	if (sock >= 0)
		close(sock);
	sock = -1;
	while (now_ms() < deadline) {
		pid_t p = waitpid(daemon_pid, &status, WNOHANG);

		if (p == daemon_pid) {
			daemon_pid = 0;
			if (WIFEXITED(status) &&
			    WEXITSTATUS(status) == atoi(arg))
				return 0;
			return printf("# daemon ended with status 0x%x\n",
				      status), 1;
		}
		usleep(10000);
	}
	return printf("# daemon still running\n"), 1;
}

/* Is @pid gone (no such process, or a zombie nobody reaped yet)? */
static bool pid_gone(pid_t pid)
{
	char path[64], buf[256], *p;
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return true;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return true;
	buf[n] = 0;
	p = strrchr(buf, ')');
	return p && p[1] == ' ' && (p[2] == 'Z' || p[2] == 'X');
}

/* Read the PID in @path: > 0, or 0 if there is none */
static pid_t pid_read(const char *path)
{
	char buf[32] = { 0 };
	ssize_t n;
	int fd;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0 || atoi(buf) <= 0)
		return 0;
	return (pid_t)atoi(buf);
}

/* -F, forking daemon: close our end, its process and PID file go away */
static int step_gone(const char *pidfile)
{
	int64_t deadline = now_ms() + timeout_ms;
	pid_t pid;
	int status;

	if (!daemon_pid)
		return printf("# no daemon started (-F)\n"), 2;
	while (waitpid(daemon_pid, &status, WNOHANG) != daemon_pid) {
		if (now_ms() >= deadline)
			return printf("# command still running\n"), 1;
		usleep(10000);
	}
	daemon_pid = 0;
	if (!WIFEXITED(status) || WEXITSTATUS(status))
		return printf("# command ended with status 0x%x\n", status), 1;
	pid = pid_read(pidfile);
	if (!pid || pid_gone(pid))
		return printf("# no running process in %s\n", pidfile), 1;
	if (sock >= 0)
		close(sock);
	sock = -1;
	while (!pid_gone(pid) || access(pidfile, F_OK) == 0) {
		if (now_ms() >= deadline)
			return printf("# daemon %d %s\n", (int)pid,
				      pid_gone(pid) ? "left its PID file" :
				      "still running"), 1;
		usleep(10000);
	}
	return 0;
}

static int step(const char *s)
{
	const char *v = strchr(s, '=');

	v = v ? v + 1 : "";
	if (!strcmp(s, "arp"))
		return step_arp(1, false);
	if (!strncmp(s, "burst=", 6))
		return step_arp(atoi(v) > 0 && atoi(v) <= 64 ? atoi(v) : 64,
				false);
	if (!strcmp(s, "split"))
		return step_arp(1, true);
	if (!strncmp(s, "chunked=", 8))
		return step_chunked(v);
	if (!strncmp(s, "flood=", 6))
		return step_flood(v);
	if (!strncmp(s, "dhcp=", 5))
		return step_dhcp(v);
	if (!strncmp(s, "ping=", 5))
		return step_ping(v);
	if (!strncmp(s, "rs=", 3))
		return step_rs(v);
	if (!strncmp(s, "ra=", 3))
		return step_ra(v);
	if (!strncmp(s, "ping6=", 6))
		return step_ping6(v);
	if (!strncmp(s, "tcp=", 4))
		return step_tcp(v);
	if (!strncmp(s, "udp=", 4))
		return step_udp(v);
	if (!strncmp(s, "accept=", 7))
		return step_accept(v);
	if (!strncmp(s, "udpin=", 6))
		return step_udpin(v);
	if (!strncmp(s, "dhcpv6=", 7))
		return step_dhcpv6(v, false);
	if (!strncmp(s, "dhcpv6info=", 11))
		return step_dhcpv6(v, true);
	if (!strncmp(s, "ns=", 3))
		return step_ns(v);
	if (!strncmp(s, "leave=", 6))
		return step_leave(v);
	if (!strncmp(s, "badlen=", 7))
		return step_badlen(v);
	if (!strcmp(s, "cut"))
		return step_cut();
	if (!strcmp(s, "closed"))
		return step_closed();
	if (!strncmp(s, "exit=", 5))
		return step_exit(v);
	if (!strncmp(s, "gone=", 5))
		return step_gone(v);
	printf("# unknown step %s\n", s);
	return 2;
}

/* -F: the daemon on the other end of a socketpair, as descriptor @n */
static int spawn(int n, char **argv)
{
	int sv[2];

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv))
		return -1;
	daemon_pid = fork();
	if (daemon_pid < 0)
		return -1;
	if (!daemon_pid) {
		if (dup2(sv[1], n) < 0)	/* dup2 clears FD_CLOEXEC */
			_exit(127);
		execvp(argv[0], argv);
		_exit(127);
	}
	close(sv[1]);
	return sv[0];
}

static int usage(void)
{
	fprintf(stderr, "Usage: stream_client [-s PATH | -F N] [-a ADDR] "
		"[-A ADDR6] [-g GW] [-m MAC] [-t MS] STEP... "
		"[-- DAEMON ARG...]\n");
	return 2;
}

int main(int argc, char **argv)
{
	const char *path = NULL;
	int opt, fdn = -1, i, first, end = argc, rc = 0;

	inet_pton(AF_INET, "192.0.2.1", &guest_ip);
	inet_pton(AF_INET, "192.0.2.2", &gw_ip);
	inet_pton(AF_INET6, "2001:db8::1", &guest_ip6);
	inet_pton(AF_INET6, "fe80::1", &guest_ll);
	for (i = 1; i < argc; i++)
		if (!strcmp(argv[i], "--"))
			end = i;
	while ((opt = getopt(end, argv, "+s:F:a:A:g:m:t:")) != -1) {
		switch (opt) {
		case 's': path = optarg; break;
		case 'F': fdn = atoi(optarg); break;
		case 'a': if (inet_pton(AF_INET, optarg, &guest_ip) != 1)
				  return usage();
			  break;
		case 'A': if (inet_pton(AF_INET6, optarg, &guest_ip6) != 1)
				  return usage();
			  break;
		case 'g': if (inet_pton(AF_INET, optarg, &gw_ip) != 1)
				  return usage();
			  break;
		case 'm': if (sscanf(optarg, "%hhx:%hhx:%hhx:%hhx:%hhx:%hhx",
				     &guest_mac[0], &guest_mac[1],
				     &guest_mac[2], &guest_mac[3],
				     &guest_mac[4], &guest_mac[5]) != 6)
				  return usage();
			  break;
		case 't': timeout_ms = atoi(optarg); break;
		default: return usage();
		}
	}
	first = optind;
	signal(SIGPIPE, SIG_IGN);
	if (fdn >= 0) {
		if (end >= argc - 1)
			return usage();
		sock = spawn(fdn, argv + end + 1);
	} else if (path) {
		struct sockaddr_un a = { .sun_family = AF_UNIX };

		snprintf(a.sun_path, sizeof(a.sun_path), "%s", path);
		sock = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (sock >= 0 && connect(sock, (struct sockaddr *)&a,
					 sizeof(a))) {
			printf("# connect %s: %s\n", path, strerror(errno));
			return 2;
		}
	} else {
		return usage();
	}
	if (sock < 0) {
		printf("# set-up: %s\n", strerror(errno));
		return 2;
	}
	for (i = first; i < end && !rc; i++) {
		rc = step(argv[i]);
		printf("%s %s\n", rc ? "FAIL" : "ok", argv[i]);
		fflush(stdout);
	}
	if (daemon_pid)
		kill(daemon_pid, SIGTERM);
	return rc;
}
