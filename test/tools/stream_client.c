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
 *   ping6=ADDR		ICMPv6 echo request from -A ADDR6; expect the reply
 *   tcp=ADDR:PORT	handshake, 64 bytes to an echo server, expect them
 *			back, then reset
 *   udp=ADDR:PORT	one datagram to an echo server; expect it back
 *   accept=PORT	be a TCP echo server on PORT for one connection
 *			forwarded by the daemon (-t): echo every byte, answer
 *			the peer's FIN with ours
 *   badlen=0|big	a frame length of 0 or 70000; expect the daemon to
 *			close the connection
 *   cut		half a frame, then leave (disconnect mid-frame)
 *   closed		expect the daemon to close the connection
 *   exit=STATUS	(-F only) close our end, expect the daemon to exit
 *			with STATUS
 * Output: one line per step, "ok STEP" or "FAIL STEP: why". Exit status
 * 0 if every step passed, 1 if one failed (later steps do not run), 2 on
 * usage or set-up errors.
 * System calls: socket, connect, socketpair, fork, execvp, waitpid,
 * write, read, poll, close.
 */
#include <arpa/inet.h>
#include <errno.h>
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

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static uint16_t get16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static void put32(uint8_t *p, uint32_t v)
{
	put16(p, (uint16_t)(v >> 16));
	put16(p + 2, (uint16_t)v);
}

static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)get16(p) << 16 | get16(p + 2);
}

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

static uint16_t fold(uint32_t sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
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

/*
 * IPv6 frame around an ICMPv6 message already at f + ETH_LEN + 40, its
 * checksum filled here. Return: frame length
 */
static size_t ip6_icmp(uint8_t *f, const uint8_t *dst_mac,
		       const struct in6_addr *src, const struct in6_addr *dst,
		       uint8_t hops, size_t l4_len)
{
	uint8_t *ip = eth(f, dst_mac, 0x86dd), *l4 = ip + 40;
	uint32_t sum;

	memset(ip, 0, 40);
	ip[0] = 0x60;
	put16(ip + 4, (uint16_t)l4_len);
	ip[6] = 58;
	ip[7] = hops;
	memcpy(ip + 8, src, 16);
	memcpy(ip + 24, dst, 16);
	sum = sum16(ip + 8, 32, 0) + 58 + (uint32_t)l4_len;
	put16(l4 + 2, 0);
	put16(l4 + 2, fold(sum16(l4, l4_len, sum)));
	return ETH_LEN + 40 + l4_len;
}

/* ICMPv6 message of type @type from @src (any if NULL)? Return: it */
static const uint8_t *icmp6_in(const uint8_t *f, long len, uint8_t type,
			       const struct in6_addr *src, size_t *l4_len)
{
	const uint8_t *ip = f + ETH_LEN;
	size_t plen;

	if (len < ETH_LEN + 40 + 4 || get16(f + 12) != 0x86dd ||
	    ip[6] != 58 || (src && memcmp(ip + 8, src, 16)))
		return NULL;
	plen = get16(ip + 4);
	if (plen > (size_t)len - ETH_LEN - 40 || plen < 4 ||
	    ip[40] != type)
		return NULL;
	if (fold(sum16(ip + 8, 32, 0) + 58 + (uint32_t)plen +
		 sum16(ip + 40, plen, 0))) {
		printf("# bad ICMPv6 checksum from the daemon\n");
		return NULL;
	}
	*l4_len = plen;
	return ip + 40;
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
static long recv_frame(uint8_t *f, uint64_t deadline)
{
	for (;;) {
		struct pollfd pfd = { .fd = sock, .events = POLLIN };
		uint64_t now = now_ms();
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
	uint64_t deadline = now_ms() + (uint64_t)timeout_ms;
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
		rc = recv_frame(f, now_ms() + (uint64_t)(got < n && !any ?
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

static int step_rs(const char *arg)
{
	static const uint8_t all_routers_mac[6] = { 0x33, 0x33, 0, 0, 0, 2 };
	static uint8_t f[FRAME_MAX];
	uint8_t *rs = f + ETH_LEN + 40;
	struct ra_want w = { 0 };
	struct in6_addr all_routers;
	char buf[64], *slash;
	long rc;

	snprintf(buf, sizeof(buf), "%s", arg);
	slash = strchr(buf, '/');
	if (!slash || inet_pton(AF_INET6, "ff02::2", &all_routers) != 1)
		return printf("# bad PREFIX/LEN %s\n", arg), 2;
	*slash = 0;
	w.len = atoi(slash + 1);
	if (inet_pton(AF_INET6, buf, &w.prefix) != 1)
		return printf("# bad PREFIX/LEN %s\n", arg), 2;
	memset(rs, 0, 16);
	rs[0] = 133;
	rs[8] = 1;		/* source link-layer address */
	rs[9] = 1;
	memcpy(rs + 10, guest_mac, 6);
	if (!send_frame(f, ip6_icmp(f, all_routers_mac, &guest_ll,
				    &all_routers, 255, 16)))
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
	if (!send_frame(f, ip6_icmp(f, NULL, &guest_ip6, &w.src, 64,
				    8 + 19)))
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
	uint64_t deadline;
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
	deadline = now_ms() + (uint64_t)timeout_ms;
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
	uint64_t deadline = now_ms() + (uint64_t)timeout_ms;
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

/* Expect the daemon to close the stream (frames before that are fine) */
static int step_closed(void)
{
	static uint8_t f[FRAME_MAX];
	uint64_t deadline = now_ms() + (uint64_t)timeout_ms;
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
	uint64_t deadline = now_ms() + (uint64_t)timeout_ms;
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
	if (!strncmp(s, "ping6=", 6))
		return step_ping6(v);
	if (!strncmp(s, "tcp=", 4))
		return step_tcp(v);
	if (!strncmp(s, "udp=", 4))
		return step_udp(v);
	if (!strncmp(s, "accept=", 7))
		return step_accept(v);
	if (!strncmp(s, "badlen=", 7))
		return step_badlen(v);
	if (!strcmp(s, "cut"))
		return step_cut();
	if (!strcmp(s, "closed"))
		return step_closed();
	if (!strncmp(s, "exit=", 5))
		return step_exit(v);
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
