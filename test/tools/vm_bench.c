/* test/tools/vm_bench.c - plays a QEMU guest on a VM-mode daemon's stream
 * socket to measure it: UDP frames per second and TCP throughput, each way
 *
 * Theory of operation
 * A guest under TCG is too slow to load a daemon, so this tool stands in
 * for it: it speaks the socket protocol QEMU's -netdev stream speaks
 * (a 32-bit big-endian length, then the Ethernet frame) with as little
 * work of its own as possible, so that what is measured is the daemon.
 * The same binary also provides the far ends, plain sockets meant to run
 * in the "remote" namespace, so every number comes from one place.
 *
 * Guest: the address is given, not learnt (-a, default 192.0.2.1, the
 * host's address, which is what the daemon hands out), and so is the
 * gateway (-g, default 192.0.2.2). An ARP request for the gateway first
 * tells the daemon our MAC (it sends to the MAC it learnt from our frames)
 * and gives us the gateway's, the destination of everything we send.
 * ARP requests for our own address are answered; other frames that are
 * not part of the measurement (router advertisements, ...) are skipped.
 *
 * Frames out are written many at a time: udp-out repeats one frame (ID 0
 * with DF, so every copy is identical and built once) -n times behind
 * their lengths and writes that buffer again and again; tcp-out writes
 * up to 1 MiB of segments with one writev(), each segment being a small
 * header slot and the same payload buffer, whose checksum is summed once.
 * Frames in are parsed in place in one large read buffer; only headers
 * are looked at (no checksum is verified: the functional tests do that).
 * The socket is blocking: the daemon always reads, so a write blocks only
 * while the daemon is behind, which is the back-pressure a guest gets.
 *
 * TCP: a minimal endpoint, enough for a lossless path. The SYN carries
 * MSS (-M MTU minus 40) and window scale 7; the window we advertise is
 * 65535 << 7 (8 MiB), as we consume at once. tcp-out sends full segments
 * of constant bytes while the peer's window allows; the peer acknowledges
 * only what its socket took (passt and passtd both do), so on three
 * duplicate ACKs (not counting those that answer segments sent before it
 * last went back), or 200 ms without progress, it goes back to the first
 * unacknowledged byte (the payload is constant: nothing to keep) and
 * counts a retransmission; after 200 ms of zero window it sends one
 * segment anyway as a probe. tcp-in takes segments in order, answers
 * every read with one cumulative ACK, and counts a segment beyond the
 * next expected byte as a gap (dropped, answered with a duplicate ACK so
 * the sender goes back) and one before it as a duplicate. Either way, 3 s
 * without progress is an error, as is a reset or a FIN before the end:
 * the tool never hangs. At the end, or on a failure, it resets the
 * connection.
 *
 * Usage: vm_bench [OPTION]... MODE ARG...
 * Guest modes, on the daemon's socket (-s PATH):
 *   udp-out HOST PORT LEN  send UDP datagrams of LEN bytes to HOST:PORT
 *			    for -d seconds; prints what was sent (the far
 *			    end, udp-sink, counts what arrived)
 *   udp-in PORT LEN	    count UDP datagrams to our PORT (the daemon's
 *			    -u PORT) arriving on the stream, from the first
 *			    until -i MS pass without one
 *   tcp-out HOST PORT	    connect, send for -d seconds (count what the
 *			    daemon acknowledged)
 *   tcp-in HOST PORT	    connect, receive for -d seconds
 *   Guest modes print "ready" once the gateway answered ARP.
 * Far ends, plain sockets:
 *   udp-sink PORT	    count datagrams (recvmmsg), from the first until
 *			    -i MS pass without one
 *   udp-source HOST PORT LEN  send datagrams of LEN bytes for -d seconds
 *			    (sendmmsg, 64 per call, as fast as possible)
 *   tcp-sink PORT	    accept one connection, read until its end
 *   tcp-source PORT	    accept one connection, write until it ends
 *   Servers print "listening PORT" once they listen.
 * Options:
 *	-s PATH	   daemon socket (guest modes)
 *	-a ADDR	   guest IPv4 address (default 192.0.2.1)
 *	-g ADDR	   gateway (default 192.0.2.2)
 *	-m MAC	   guest MAC (default 02:00:00:00:00:01)
 *	-M MTU	   guest MTU (default 65520)
 *	-d SECS	   measuring time (default 10)
 *	-n N	   udp-out: frames per write (default 256)
 *	-i MS	   udp-in, udp-sink: silence that ends the count (1000)
 *	-b ADDR	   far ends: address to bind (servers) or send from
 *	-t SECS	   give up after SECS (default -d plus 30): exit status 3
 *
 * Output: one line of key=value pairs per measurement (mode, frames,
 * bytes, secs, fps, gbps, ...; Gbit/s count UDP or TCP payload only), and
 * on a failure a line starting with "error:" on standard error.
 * Exit status: 0 measured, 1 failure (no answer, reset, stall, nothing
 * received), 2 usage or set-up error, 3 timeout.
 *
 * System calls: socket, connect, bind, listen, accept, setsockopt, read,
 * write, writev, poll, sendmmsg, recvmmsg, close, clock_gettime, alarm.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "tool_common.h"

#define ETH_LEN		14
#define IP4_LEN		20
#define UDP_LEN		8
#define TCP_LEN		20
#define LEN_LEN		4		/* length before each frame */
#define FRAME_MAX	(ETH_LEN + 65535)
#define RX_SIZE		(4 << 20)	/* stream bytes per read, at most */
#define SOCKBUF		(4 << 20)	/* socket buffers we ask for */
#define TX_BYTES	(1 << 20)	/* bytes per write, about */
#define SEG_MAX		512		/* segments per writev */
#define MMSG		64		/* datagrams per (send|recv)mmsg */
#define WS_OURS		7		/* our window scale */
#define RTO_MS		200		/* go back: no ACK for this long */
#define STALL_MS	3000		/* no progress: give up */

#define TH_FIN		0x01
#define TH_SYN		0x02
#define TH_RST		0x04
#define TH_PSH		0x08
#define TH_ACK		0x10

#define SEQ_LT(a, b)	((int32_t)((a) - (b)) < 0)
#define SEQ_LE(a, b)	((int32_t)((a) - (b)) <= 0)

static int sock = -1;
static uint8_t guest_mac[6] = { 0x02, 0x00, 0x00, 0x00, 0x00, 0x01 };
static uint8_t gw_mac[6];
static bool gw_known;
static struct in_addr guest_ip, gw_ip, bind_ip;
static unsigned int mtu = 65520;
static unsigned int secs = 10;
static unsigned int per_write = 256;
static unsigned int idle_ms = 1000;

static uint8_t *rx;			/* stream bytes not parsed yet */
static size_t rx_len;

/* Return: monotonic time in nanoseconds */
static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

/* One's complement sum of @len bytes, added to @sum, not folded */
static uint32_t sum16(const uint8_t *p, size_t len, uint32_t sum)
{
	uint64_t s = sum;
	size_t i;

	for (i = 0; i + 1 < len; i += 2)
		s += get16(p + i);
	if (len & 1)
		s += (uint32_t)p[len - 1] << 8;
	while (s >> 32)
		s = (s & 0xffffffff) + (s >> 32);
	return (uint32_t)s;
}

/* Add two one's complement sums, carrying around */
static uint32_t add32(uint32_t a, uint32_t b)
{
	uint64_t s = (uint64_t)a + b;

	return (uint32_t)((s & 0xffffffff) + (s >> 32));
}

/* SIGALRM: the -t bound */
static void on_alarm(int sig)
{
	static const char msg[] = "error: timeout\n";

	(void)sig;
	if (write(STDERR_FILENO, msg, sizeof(msg) - 1) < 0)
		_exit(3);
	_exit(3);
}

/**
 * fail() - Print an error line
 * @fmt:	printf format, then its arguments
 *
 * Return: 1, the exit status of a failure
 */
static int __attribute__((format(printf, 1, 2))) fail(const char *fmt, ...)
{
	va_list ap;

	fflush(stdout);
	fputs("error: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return 1;
}

/**
 * write_all() - Write all of a buffer to the stream, blocking
 * @p:		Bytes
 * @len:	Their length
 *
 * Return: 0, or -1 if the daemon closed the stream or writing failed
 */
static int write_all(const uint8_t *p, size_t len)
{
	while (len) {
		ssize_t n = write(sock, p, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/**
 * writev_all() - Write all pieces to the stream, blocking
 * @iov:	Pieces, modified as they go
 * @cnt:	Number of pieces, at most IOV_MAX
 *
 * Return: 0, or -1 if the daemon closed the stream or writing failed
 */
static int writev_all(struct iovec *iov, int cnt)
{
	while (cnt) {
		ssize_t n = writev(sock, iov, cnt);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		while (cnt && (size_t)n >= iov->iov_len) {
			n -= (ssize_t)iov->iov_len;
			iov++;
			cnt--;
		}
		if (cnt) {
			iov->iov_base = (uint8_t *)iov->iov_base + n;
			iov->iov_len -= (size_t)n;
		}
	}
	return 0;
}

/**
 * eth_ip4() - Ethernet and IPv4 headers of a frame from the guest
 * @f:		Frame start (Ethernet header)
 * @dst:	Destination address
 * @proto:	IP protocol
 * @l4_len:	Length of the IP payload
 *
 * ID 0 with DF set (RFC 6864: atomic datagrams), so that identical
 * payloads make identical frames.
 */
static void eth_ip4(uint8_t *f, struct in_addr dst, uint8_t proto,
		    size_t l4_len)
{
	uint8_t *ip = f + ETH_LEN;

	memcpy(f, gw_mac, 6);
	memcpy(f + 6, guest_mac, 6);
	put16(f + 12, 0x0800);
	ip[0] = 0x45;
	ip[1] = 0;
	put16(ip + 2, (uint16_t)(IP4_LEN + l4_len));
	put32(ip + 4, 0x00004000);
	ip[8] = 64;
	ip[9] = proto;
	put16(ip + 10, 0);
	memcpy(ip + 12, &guest_ip, 4);
	memcpy(ip + 16, &dst, 4);
	put16(ip + 10, fold(sum16(ip, IP4_LEN, 0)));
}

/**
 * arp_send() - Send an ARP request for the gateway, or a reply
 * @op:		1: request for the gateway, 2: reply to @dst_mac
 * @dst_mac:	Who asked (reply only)
 * @dst_ip:	Its address, as in the request (reply only)
 *
 * Return: 0, or -1 if writing failed
 */
static int arp_send(uint16_t op, const uint8_t *dst_mac, const uint8_t *dst_ip)
{
	uint8_t b[LEN_LEN + ETH_LEN + 28], *f = b + LEN_LEN, *a = f + ETH_LEN;

	put32(b, ETH_LEN + 28);
	if (op == 1)
		memset(f, 0xff, 6);
	else
		memcpy(f, dst_mac, 6);
	memcpy(f + 6, guest_mac, 6);
	put16(f + 12, 0x0806);
	put16(a, 1);
	put16(a + 2, 0x0800);
	a[4] = 6;
	a[5] = 4;
	put16(a + 6, op);
	memcpy(a + 8, guest_mac, 6);
	memcpy(a + 14, &guest_ip, 4);
	if (op == 1) {
		memset(a + 18, 0, 6);
		memcpy(a + 24, &gw_ip, 4);
	} else {
		memcpy(a + 18, dst_mac, 6);
		memcpy(a + 24, dst_ip, 4);
	}
	return write_all(b, sizeof(b));
}

/**
 * arp_in() - Handle an ARP frame: learn the gateway's MAC, answer for us
 * @f:		Frame
 * @len:	Its length
 */
static void arp_in(const uint8_t *f, size_t len)
{
	const uint8_t *a = f + ETH_LEN;

	if (len < ETH_LEN + 28 || get16(a) != 1 || get16(a + 2) != 0x0800)
		return;
	if (get16(a + 6) == 2 && !memcmp(a + 14, &gw_ip, 4)) {
		memcpy(gw_mac, a + 8, 6);
		gw_known = true;
	} else if (get16(a + 6) == 1 && !memcmp(a + 24, &guest_ip, 4)) {
		arp_send(2, a + 8, a + 14);
	}
}

/* What a guest mode does with each frame, and its argument */
typedef void (*frame_fn)(const uint8_t *f, size_t len, void *arg);

/**
 * rx_pump() - Read once from the stream, hand every whole frame over
 * @ms:		Wait at most this long for something to read (0: don't)
 * @fn:		Called with each IPv4 frame (ARP is handled here)
 * @arg:	Passed to @fn
 *
 * Return: 1 if something was read, 0 if nothing came in time, -1 if the
 *	   daemon closed the stream, -2 on a broken length
 */
static int rx_pump(int ms, frame_fn fn, void *arg)
{
	struct pollfd pfd = { .fd = sock, .events = POLLIN };
	size_t off = 0;
	ssize_t n;

	if (poll(&pfd, 1, ms) <= 0)
		return 0;
	n = read(sock, rx + rx_len, RX_SIZE - rx_len);
	if (n < 0 && (errno == EINTR || errno == EAGAIN))
		return 0;
	if (n <= 0)
		return -1;
	rx_len += (size_t)n;
	while (rx_len - off >= LEN_LEN) {
		uint32_t len = get32(rx + off);
		const uint8_t *f = rx + off + LEN_LEN;

		if (len < ETH_LEN || len > FRAME_MAX)
			return -2;
		if (rx_len - off < LEN_LEN + len)
			break;
		if (get16(f + 12) == 0x0806)
			arp_in(f, len);
		else if (get16(f + 12) == 0x0800 && len >= ETH_LEN + IP4_LEN &&
			 fn)
			fn(f, len, arg);
		off += LEN_LEN + len;
	}
	memmove(rx, rx + off, rx_len - off);
	rx_len -= off;
	return 1;
}

/* Why rx_pump() failed, in words */
static const char *rx_why(int rc)
{
	return rc == -1 ? "daemon closed the stream" :
	       "broken frame length from the daemon";
}

/**
 * guest_start() - Connect to the daemon, learn the gateway's MAC
 * @path:	Daemon's socket
 *
 * Return: 0 (then "ready" is printed), 1 on failure, 2 on set-up errors
 */
static int guest_start(const char *path)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	int sz = SOCKBUF, i, rc;

	if (!path)
		return fail("guest modes need -s PATH"), 2;
	if (strlen(path) >= sizeof(a.sun_path))
		return fail("socket path too long: %s", path), 2;
	strcpy(a.sun_path, path);
	rx = malloc(RX_SIZE);
	sock = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (!rx || sock < 0)
		return fail("set-up: %s", strerror(errno)), 2;
	/* As the daemon does; the kernel caps them */
	setsockopt(sock, SOL_SOCKET, SO_SNDBUF, &sz, sizeof(sz));
	setsockopt(sock, SOL_SOCKET, SO_RCVBUF, &sz, sizeof(sz));
	if (connect(sock, (struct sockaddr *)&a, sizeof(a)))
		return fail("connect %s: %s", path, strerror(errno)), 2;
	for (i = 0; i < 30 && !gw_known; i++) {
		uint64_t end = now_ns() + 100000000ULL;

		if (arp_send(1, NULL, NULL))
			return fail("write: %s", strerror(errno));
		while (!gw_known && now_ns() < end) {
			rc = rx_pump(10, NULL, NULL);
			if (rc < 0)
				return fail("%s", rx_why(rc));
		}
	}
	if (!gw_known)
		return fail("no ARP reply for the gateway %s",
			    inet_ntoa(gw_ip));
	printf("ready\n");
	fflush(stdout);
	return 0;
}

/* Seconds between two monotonic times */
static double elapsed(uint64_t t0, uint64_t t1)
{
	return (double)(t1 - t0) / 1e9;
}

/**
 * mode_udp_out() - Send UDP datagrams to HOST:PORT for -d seconds
 * @host:	Destination address
 * @port:	Destination port
 * @len:	Payload length
 *
 * Return: exit status
 */
static int mode_udp_out(struct in_addr host, uint16_t port, size_t len)
{
	size_t flen = ETH_LEN + IP4_LEN + UDP_LEN + len, blen, i;
	uint16_t sport = (uint16_t)(40000 + getpid() % 20000);
	uint64_t frames = 0, t0, t1, end;
	uint8_t *buf, *f, *u;
	int rc = 0;
	uint32_t sum;

	blen = (LEN_LEN + flen) * per_write;
	buf = calloc(1, blen);
	if (!buf)
		return fail("out of memory"), 2;
	f = buf + LEN_LEN;
	u = f + ETH_LEN + IP4_LEN;
	eth_ip4(f, host, 17, UDP_LEN + len);
	put16(u, sport);
	put16(u + 2, port);
	put16(u + 4, (uint16_t)(UDP_LEN + len));
	for (i = 0; i < len; i++)
		u[UDP_LEN + i] = (uint8_t)i;
	sum = sum16(f + ETH_LEN + 12, 8, 17 + (uint32_t)(UDP_LEN + len));
	sum = fold(sum16(u, UDP_LEN + len, sum));
	put16(u + 6, sum ? (uint16_t)sum : 0xffff);
	put32(buf, (uint32_t)flen);
	for (i = 1; i < per_write; i++)
		memcpy(buf + i * (LEN_LEN + flen), buf, LEN_LEN + flen);

	t0 = now_ns();
	end = t0 + (uint64_t)secs * 1000000000ULL;
	do {
		if (write_all(buf, blen)) {
			rc = fail("write: %s", strerror(errno));
			goto out;
		}
		frames += per_write;
		/* Whatever the daemon sends (ICMP errors, ...) is skipped */
		while ((rc = rx_pump(0, NULL, NULL)) > 0)
			;
		if (rc < 0) {
			rc = fail("%s", rx_why(rc));
			goto out;
		}
		t1 = now_ns();
	} while (t1 < end);

	printf("mode=udp-out len=%zu frames=%llu secs=%.3f fps=%.0f "
	       "gbps=%.3f per_write=%u\n", len, (unsigned long long)frames,
	       elapsed(t0, t1), (double)frames / elapsed(t0, t1),
	       (double)frames * (double)len * 8 / elapsed(t0, t1) / 1e9,
	       per_write);
out:
	free(buf);
	return rc;
}

/**
 * struct udp_count - What udp-in counts
 * @port:	Our port
 * @len:	Payload length expected
 * @frames:	Datagrams of that length to our port
 * @other:	Datagrams of another length to our port
 */
struct udp_count {
	uint16_t port;
	size_t len;
	uint64_t frames, other;
};

/* udp-in: count a frame if it is a datagram to our port */
static void udp_in_frame(const uint8_t *f, size_t len, void *arg)
{
	const uint8_t *ip = f + ETH_LEN, *u = ip + (ip[0] & 15) * 4;
	struct udp_count *c = arg;

	if (ip[9] != 17 || (size_t)(u - f) + UDP_LEN > len ||
	    memcmp(ip + 16, &guest_ip, 4) || get16(u + 2) != c->port)
		return;
	if (get16(u + 4) == UDP_LEN + c->len)
		c->frames++;
	else
		c->other++;
}

/**
 * mode_udp_in() - Count datagrams to our port arriving on the stream
 * @port:	Our port
 * @len:	Payload length expected
 *
 * Return: exit status
 */
static int mode_udp_in(uint16_t port, size_t len)
{
	struct udp_count c = { .port = port, .len = len };
	uint64_t t0 = 0, t1 = 0, now, base = 0;
	double s;
	int rc;

	for (;;) {
		uint64_t before = c.frames + c.other;

		rc = rx_pump(c.frames ? (int)idle_ms : 1000, udp_in_frame, &c);
		if (rc < 0)
			return fail("%s", rx_why(rc));
		now = now_ns();
		if (c.frames + c.other != before) {
			if (!t0) {
				t0 = now;
				base = c.frames;
			}
			t1 = now;
		} else if (t1 && now - t1 >= idle_ms * 1000000ULL) {
			break;
		}
	}
	if (t1 == t0 || c.frames == base)
		return fail("%llu datagrams of %zu bytes to port %u, all "
			    "in one read", (unsigned long long)c.frames, len,
			    port);
	/* The rate counts from the end of the first read */
	s = elapsed(t0, t1);
	printf("mode=udp-in len=%zu frames=%llu secs=%.3f fps=%.0f "
	       "gbps=%.3f other=%llu\n", len, (unsigned long long)c.frames,
	       s, (double)(c.frames - base) / s,
	       (double)(c.frames - base) * (double)len * 8 / s / 1e9,
	       (unsigned long long)c.other);
	return 0;
}

/**
 * struct tcp_conn - The guest's side of one TCP connection
 * @peer:	Peer address
 * @pport:	Peer port
 * @lport:	Our port
 * @mss:	Largest payload we send: our MSS and the peer's, the smaller
 * @ws_peer:	Peer's window scale, 0 if it has none (then we use none)
 * @ws:		Whether window scaling is on
 * @snd_una:	First byte not acknowledged
 * @snd_nxt:	Next byte to send
 * @snd_max:	Highest byte sent so far, plus one
 * @snd_wnd:	Peer's window, scaled
 * @recover:	snd_max when we last went back: duplicate ACKs before
 *		snd_una passes it answer segments sent before going back
 * @rcv_nxt:	Next byte expected from the peer
 * @acked:	Bytes acknowledged since the measurement started
 * @received:	Bytes received in order since the measurement started
 * @dupacks:	Duplicate ACKs in a row
 * @rexmit:	Times we went back to the first unacknowledged byte
 * @gaps:	Segments beyond the next expected byte (dropped)
 * @dups:	Segments before it (retransmissions by the peer)
 * @ack_due:	A duplicate ACK or an ACK for new data is owed
 * @progress:	Time of the last progress (data acknowledged or received)
 * @syn_ack:	The SYN-ACK arrived
 * @rst:	The peer reset the connection
 * @fin:	The peer sent a FIN
 */
struct tcp_conn {
	struct in_addr peer;
	uint16_t pport, lport, mss;
	uint8_t ws_peer;
	bool ws;
	uint32_t snd_una, snd_nxt, snd_max, recover, rcv_nxt;
	uint64_t snd_wnd, acked, received;
	unsigned int dupacks;
	uint64_t rexmit, gaps, dups;
	bool ack_due;
	uint64_t progress;
	bool syn_ack, rst, fin;
};

/* Payload of every segment we send, and its sum (the whole MSS) */
static uint8_t *payload;
static uint32_t payload_sum;

/* The open connection, reset by main() if a TCP mode fails */
static struct tcp_conn *tcp_live;

/**
 * tcp_hdr() - Build a segment's length, Ethernet, IP and TCP headers
 * @t:		Connection
 * @slot:	Where: LEN_LEN + ETH_LEN + IP4_LEN + TCP_LEN + 8 bytes
 * @flags:	TCP flags
 * @seq:	Sequence number
 * @dlen:	Payload length (the payload itself follows elsewhere)
 *
 * Return: bytes of @slot used
 */
static size_t tcp_hdr(const struct tcp_conn *t, uint8_t *slot, uint8_t flags,
		      uint32_t seq, size_t dlen)
{
	size_t hl = flags & TH_SYN ? TCP_LEN + 8 : TCP_LEN;
	uint8_t *f = slot + LEN_LEN, *ip = f + ETH_LEN, *th = ip + IP4_LEN;
	uint32_t sum;

	put32(slot, (uint32_t)(ETH_LEN + IP4_LEN + hl + dlen));
	eth_ip4(f, t->peer, 6, hl + dlen);
	put16(th, t->lport);
	put16(th + 2, t->pport);
	put32(th + 4, seq);
	put32(th + 8, flags & TH_ACK ? t->rcv_nxt : 0);
	th[12] = (uint8_t)((hl / 4) << 4);
	th[13] = flags;
	put16(th + 14, 65535);	/* << WS_OURS, once scaling is on */
	put32(th + 16, 0);
	if (flags & TH_SYN) {
		th[20] = 2;		/* MSS */
		th[21] = 4;
		put16(th + 22, (uint16_t)(mtu - IP4_LEN - TCP_LEN));
		th[24] = 1;		/* NOP */
		th[25] = 3;		/* window scale */
		th[26] = 3;
		th[27] = WS_OURS;
	}
	sum = sum16(ip + 12, 8, 6 + (uint32_t)(hl + dlen));
	sum = sum16(th, hl, sum);
	if (dlen == t->mss)
		sum = add32(sum, payload_sum);
	else if (dlen)
		sum = sum16(payload, dlen, sum);
	put16(th + 16, fold(sum));
	return LEN_LEN + ETH_LEN + IP4_LEN + hl;
}

/**
 * tcp_ctl() - Send a segment without payload
 * @t:		Connection
 * @flags:	TCP flags
 * @seq:	Sequence number
 *
 * Return: 0, or -1 if writing failed
 */
static int tcp_ctl(const struct tcp_conn *t, uint8_t flags, uint32_t seq)
{
	uint8_t slot[LEN_LEN + ETH_LEN + IP4_LEN + TCP_LEN + 8];

	return write_all(slot, tcp_hdr(t, slot, flags, seq, 0));
}

/**
 * tcp_go_back() - Send again from the first unacknowledged byte
 * @t:		Connection
 *
 * Segments sent before this are still on their way and will be dropped
 * by the daemon, each perhaps answered by a duplicate ACK: those must not
 * make us go back again, so duplicate ACKs count only once snd_una has
 * passed what was sent so far (as NewReno's "recover" does).
 */
static void tcp_go_back(struct tcp_conn *t)
{
	t->recover = t->snd_max;
	t->snd_nxt = t->snd_una;
	t->dupacks = 0;
	t->rexmit++;
}

/**
 * tcp_in_frame() - Handle a frame for the TCP modes
 * @f:		Frame
 * @len:	Its length
 * @arg:	Connection
 *
 * Takes the SYN-ACK's options, in-order data, ACKs and window updates;
 * counts gaps, duplicates and duplicate ACKs; notes resets and FINs.
 */
static void tcp_in_frame(const uint8_t *f, size_t len, void *arg)
{
	const uint8_t *ip = f + ETH_LEN, *th = ip + (ip[0] & 15) * 4, *o;
	struct tcp_conn *t = arg;
	size_t tot = get16(ip + 2), hl, dl;
	uint32_t seq, ack;
	uint64_t wnd;

	if (ip[9] != 6 || tot > len - ETH_LEN ||
	    (size_t)(th - ip) + TCP_LEN > tot ||
	    memcmp(ip + 12, &t->peer, 4) || get16(th) != t->pport ||
	    get16(th + 2) != t->lport)
		return;
	hl = (size_t)(th[12] >> 4) * 4;
	if (hl < TCP_LEN || (size_t)(th - ip) + hl > tot)
		return;
	dl = tot - (size_t)(th - ip) - hl;
	seq = get32(th + 4);
	ack = get32(th + 8);
	if (th[13] & TH_RST) {
		t->rst = true;
		return;
	}
	if (th[13] & TH_SYN) {
		if (t->syn_ack || !(th[13] & TH_ACK) ||
		    ack != t->snd_nxt + 1)
			return;
		t->rcv_nxt = seq + 1;
		for (o = th + TCP_LEN; o < th + hl && *o; ) {
			if (*o == 1) {
				o++;
				continue;
			}
			if (o + 2 > th + hl || o[1] < 2 || o + o[1] > th + hl)
				break;
			if (o[0] == 2 && o[1] == 4 && get16(o + 2) < t->mss)
				t->mss = get16(o + 2);
			if (o[0] == 3 && o[1] == 3) {
				t->ws = true;
				t->ws_peer = o[2] > 14 ? 14 : o[2];
			}
			o += o[1];
		}
		t->snd_wnd = get16(th + 14);
		t->syn_ack = true;
		return;
	}
	if (!t->syn_ack)
		return;

	/* Data toward us: in order only */
	if (dl) {
		if (seq == t->rcv_nxt) {
			t->rcv_nxt += (uint32_t)dl;
			t->received += dl;
			t->progress = now_ns();
		} else if (SEQ_LT(seq, t->rcv_nxt)) {
			t->dups++;
		} else {
			t->gaps++;
		}
		t->ack_due = true;
	}
	if (th[13] & TH_FIN && seq + dl == t->rcv_nxt)
		t->fin = true;

	/* Acknowledgements of ours */
	if (!(th[13] & TH_ACK))
		return;
	wnd = (uint64_t)get16(th + 14) << t->ws_peer;
	if (SEQ_LT(t->snd_una, ack) && SEQ_LE(ack, t->snd_max)) {
		t->acked += ack - t->snd_una;
		t->snd_una = ack;
		if (SEQ_LT(t->snd_nxt, ack))
			t->snd_nxt = ack;
		t->dupacks = 0;
		t->progress = now_ns();
	} else if (ack == t->snd_una && !dl && wnd == t->snd_wnd &&
		   t->snd_nxt != t->snd_una && SEQ_LE(t->recover, ack) &&
		   ++t->dupacks >= 3) {
		tcp_go_back(t);		/* not taken: go back */
	}
	t->snd_wnd = wnd;
}

/**
 * tcp_connect() - Open a connection: SYN, SYN-ACK, ACK
 * @t:		Connection, with peer and ports set
 *
 * Return: 0, or exit status on failure
 */
static int tcp_connect(struct tcp_conn *t)
{
	uint32_t iss = (uint32_t)now_ns() ^ 0x5a5a5a5a;
	uint64_t now = now_ns(), end = now + STALL_MS * 1000000ULL;
	uint64_t syn_at = 0;
	int rc;

	t->mss = (uint16_t)(mtu - IP4_LEN - TCP_LEN);
	t->snd_una = t->snd_nxt = iss;
	for (; !t->syn_ack && !t->rst && now < end; now = now_ns()) {
		if (now >= syn_at) {		/* again every second */
			if (tcp_ctl(t, TH_SYN, iss))
				return fail("write: %s", strerror(errno));
			syn_at = now + 1000000000ULL;
		}
		rc = rx_pump(10, tcp_in_frame, t);
		if (rc < 0)
			return fail("%s", rx_why(rc));
	}
	if (t->rst)
		return fail("connection to %s:%u refused",
			    inet_ntoa(t->peer), t->pport);
	if (!t->syn_ack)
		return fail("no SYN-ACK from %s:%u", inet_ntoa(t->peer),
			    t->pport);
	if (!t->ws)
		t->ws_peer = 0;
	t->snd_una = t->snd_nxt = t->snd_max = t->recover = iss + 1;
	t->progress = now_ns();
	if (tcp_ctl(t, TH_ACK, t->snd_nxt))
		return fail("write: %s", strerror(errno));
	return 0;
}

/**
 * tcp_send_batch() - Send what the window allows, up to about TX_BYTES
 * @t:		Connection
 * @probe:	Send one segment even if the window is closed
 *
 * Return: segments sent, or -1 if writing failed
 */
static int tcp_send_batch(struct tcp_conn *t, bool probe)
{
	static uint8_t slots[SEG_MAX][LEN_LEN + ETH_LEN + IP4_LEN + TCP_LEN
				      + 8];
	static struct iovec iov[SEG_MAX * 2];
	size_t bytes = 0;
	int n = 0;

	while (n < SEG_MAX && bytes < TX_BYTES) {
		int64_t room = (int64_t)t->snd_wnd -
			       (int32_t)(t->snd_nxt - t->snd_una);
		size_t dlen = t->mss;

		if (room < (int64_t)dlen) {
			if (room > 0)
				dlen = (size_t)room;
			else if (probe && !n)
				dlen = t->mss;
			else
				break;
		}
		iov[n * 2].iov_base = slots[n];
		iov[n * 2].iov_len = tcp_hdr(t, slots[n], TH_ACK | TH_PSH,
					     t->snd_nxt, dlen);
		iov[n * 2 + 1].iov_base = payload;
		iov[n * 2 + 1].iov_len = dlen;
		t->snd_nxt += (uint32_t)dlen;
		if (SEQ_LT(t->snd_max, t->snd_nxt))
			t->snd_max = t->snd_nxt;
		bytes += dlen;
		n++;
	}
	if (n && writev_all(iov, n * 2))
		return -1;
	return n;
}

/* Print the line of a TCP measurement */
static void tcp_report(const char *mode, const struct tcp_conn *t,
		       uint64_t bytes, double s)
{
	printf("mode=%s bytes=%llu secs=%.3f gbps=%.3f mss=%u rexmit=%llu "
	       "gaps=%llu dups=%llu\n", mode, (unsigned long long)bytes, s,
	       (double)bytes * 8 / s / 1e9, t->mss,
	       (unsigned long long)t->rexmit, (unsigned long long)t->gaps,
	       (unsigned long long)t->dups);
}

/**
 * tcp_open() - Set up a connection to HOST:PORT and the shared payload
 * @t:		Connection to fill
 * @host:	Peer address
 * @port:	Peer port
 *
 * Return: 0, or exit status on failure
 */
static int tcp_open(struct tcp_conn *t, struct in_addr host, uint16_t port)
{
	size_t i, mss = mtu - IP4_LEN - TCP_LEN;

	memset(t, 0, sizeof(*t));
	t->peer = host;
	t->pport = port;
	t->lport = (uint16_t)(40000 + getpid() % 20000);
	payload = malloc(mss);
	if (!payload)
		return fail("out of memory"), 2;
	for (i = 0; i < mss; i++)
		payload[i] = (uint8_t)('a' + i % 26);
	if (tcp_connect(t))
		return 1;
	payload_sum = sum16(payload, t->mss, 0);
	tcp_live = t;
	return 0;
}

/**
 * mode_tcp_out() - Send to HOST:PORT for -d seconds
 * @host:	Peer address
 * @port:	Peer port
 *
 * Return: exit status
 */
static int mode_tcp_out(struct in_addr host, uint16_t port)
{
	uint64_t t0, now, end, rto_at, closed_at = 0;
	static struct tcp_conn t;	/* tcp_live outlives us */
	int rc, n;

	rc = tcp_open(&t, host, port);
	if (rc)
		return rc;
	t0 = now = now_ns();
	end = t0 + (uint64_t)secs * 1000000000ULL;
	rto_at = now + RTO_MS * 1000000ULL;
	while (now < end) {
		bool window = (int64_t)t.snd_wnd >
			      (int32_t)(t.snd_nxt - t.snd_una);
		bool probe = false;
		uint32_t una = t.snd_una;

		if (!window && !t.snd_wnd) {
			if (!closed_at)
				closed_at = now;
			probe = now - closed_at >= RTO_MS * 1000000ULL;
		} else {
			closed_at = 0;
		}
		if (window || probe) {
			n = tcp_send_batch(&t, probe);
			if (n < 0)
				return fail("write: %s", strerror(errno));
			if (probe)
				closed_at = 0;
		}
		rc = rx_pump(window ? 0 : 10, tcp_in_frame, &t);
		while (rc > 0)
			rc = rx_pump(0, tcp_in_frame, &t);
		if (rc < 0)
			return fail("%s", rx_why(rc));
		if (t.rst)
			return fail("connection reset by the peer");
		now = now_ns();
		if (t.snd_una != una) {
			rto_at = now + RTO_MS * 1000000ULL;
		} else if (now >= rto_at && t.snd_nxt != t.snd_una) {
			tcp_go_back(&t);
			rto_at = now + RTO_MS * 1000000ULL;
		}
		if (now - t.progress >= STALL_MS * 1000000ULL)
			return fail("stalled: nothing acknowledged for %u ms "
				    "(window %llu, %u bytes in flight)",
				    STALL_MS, (unsigned long long)t.snd_wnd,
				    t.snd_nxt - t.snd_una);
	}
	tcp_ctl(&t, TH_RST | TH_ACK, t.snd_nxt);
	tcp_report("tcp-out", &t, t.acked, elapsed(t0, now));
	return 0;
}

/**
 * mode_tcp_in() - Receive from HOST:PORT for -d seconds
 * @host:	Peer address
 * @port:	Peer port
 *
 * Return: exit status
 */
static int mode_tcp_in(struct in_addr host, uint16_t port)
{
	uint64_t t0, now, end;
	static struct tcp_conn t;	/* tcp_live outlives us */
	int rc;

	rc = tcp_open(&t, host, port);
	if (rc)
		return rc;
	t0 = now = now_ns();
	end = t0 + (uint64_t)secs * 1000000000ULL;
	while (now < end) {
		rc = rx_pump(10, tcp_in_frame, &t);
		if (rc < 0)
			return fail("%s", rx_why(rc));
		if (t.rst)
			return fail("connection reset by the peer");
		if (t.fin)
			return fail("the peer closed after %llu bytes",
				    (unsigned long long)t.received);
		if (t.ack_due) {
			if (tcp_ctl(&t, TH_ACK, t.snd_nxt))
				return fail("write: %s", strerror(errno));
			t.ack_due = false;
		}
		now = now_ns();
		if (now - t.progress >= STALL_MS * 1000000ULL)
			return fail("stalled: nothing received for %u ms "
				    "(%llu bytes, %llu gaps)", STALL_MS,
				    (unsigned long long)t.received,
				    (unsigned long long)t.gaps);
	}
	tcp_ctl(&t, TH_RST | TH_ACK, t.snd_nxt);
	tcp_report("tcp-in", &t, t.received, elapsed(t0, now));
	return 0;
}

/**
 * server_socket() - Socket bound to -b ADDR (or any) and PORT
 * @type:	SOCK_STREAM (then listening) or SOCK_DGRAM
 * @port:	Port
 *
 * Return: socket, or -1 after printing the error
 */
static int server_socket(int type, uint16_t port)
{
	struct sockaddr_in a = { .sin_family = AF_INET,
				 .sin_port = htons(port),
				 .sin_addr = bind_ip };
	int fd = socket(AF_INET, type | SOCK_CLOEXEC, 0), one = 1;

	if (fd < 0 ||
	    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) ||
	    bind(fd, (struct sockaddr *)&a, sizeof(a)) ||
	    (type == SOCK_STREAM && listen(fd, 1))) {
		fail("socket on port %u: %s", port, strerror(errno));
		return -1;
	}
	printf("listening %u\n", port);
	fflush(stdout);
	return fd;
}

/**
 * mode_udp_sink() - Count datagrams from the first until -i MS of silence
 * @port:	Port
 *
 * Return: exit status
 */
static int mode_udp_sink(uint16_t port)
{
	static uint8_t bufs[MMSG][64];
	struct mmsghdr msgs[MMSG];
	struct iovec iov[MMSG];
	uint64_t frames = 0, bytes = 0, t0 = 0, t1 = 0, base = 0, bbase = 0;
	int fd = server_socket(SOCK_DGRAM, port), i, n;
	double s;

	if (fd < 0)
		return 2;
	memset(msgs, 0, sizeof(msgs));
	for (i = 0; i < MMSG; i++) {
		iov[i].iov_base = bufs[i];
		iov[i].iov_len = sizeof(bufs[i]);
		msgs[i].msg_hdr.msg_iov = &iov[i];
		msgs[i].msg_hdr.msg_iovlen = 1;
	}
	for (;;) {
		struct pollfd pfd = { .fd = fd, .events = POLLIN };

		/* MSG_TRUNC: the datagram's real length, copying little */
		n = recvmmsg(fd, msgs, MMSG, MSG_DONTWAIT | MSG_TRUNC, NULL);
		if (n > 0) {
			t1 = now_ns();
			frames += (uint64_t)n;
			for (i = 0; i < n; i++)
				bytes += msgs[i].msg_len;
			if (!t0) {
				t0 = t1;
				base = frames;
				bbase = bytes;
			}
			continue;
		}
		if (n < 0 && errno != EAGAIN && errno != EINTR)
			return fail("recvmmsg: %s", strerror(errno));
		if (poll(&pfd, 1, frames ? (int)idle_ms : -1) == 0)
			break;
	}
	if (t1 == t0)
		return fail("only %llu datagrams", (unsigned long long)frames);
	/* The rate counts from the end of the first batch */
	s = elapsed(t0, t1);
	printf("mode=udp-sink frames=%llu bytes=%llu secs=%.3f fps=%.0f "
	       "gbps=%.3f\n", (unsigned long long)frames,
	       (unsigned long long)bytes, s, (double)(frames - base) / s,
	       (double)(bytes - bbase) * 8 / s / 1e9);
	return 0;
}

/**
 * mode_udp_source() - Send datagrams to HOST:PORT for -d seconds
 * @host:	Destination
 * @port:	Destination port
 * @len:	Payload length
 *
 * Return: exit status
 */
static int mode_udp_source(struct in_addr host, uint16_t port, size_t len)
{
	struct sockaddr_in src = { .sin_family = AF_INET,
				   .sin_addr = bind_ip };
	struct sockaddr_in dst = { .sin_family = AF_INET,
				   .sin_port = htons(port), .sin_addr = host };
	uint64_t frames = 0, errors = 0, t0, t1, end;
	struct mmsghdr msgs[MMSG];
	struct iovec iov;
	uint8_t *buf = calloc(1, len + 1);
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0), i, n;

	if (!buf || fd < 0 ||
	    bind(fd, (struct sockaddr *)&src, sizeof(src)) ||
	    connect(fd, (struct sockaddr *)&dst, sizeof(dst)))
		return fail("socket to %s:%u: %s", inet_ntoa(host), port,
			    strerror(errno)), 2;
	iov.iov_base = buf;
	iov.iov_len = len;
	memset(msgs, 0, sizeof(msgs));
	for (i = 0; i < MMSG; i++) {
		msgs[i].msg_hdr.msg_iov = &iov;
		msgs[i].msg_hdr.msg_iovlen = 1;
	}
	t0 = t1 = now_ns();
	end = t0 + (uint64_t)secs * 1000000000ULL;
	while (t1 < end) {
		n = sendmmsg(fd, msgs, MMSG, 0);
		if (n > 0)
			frames += (uint64_t)n;
		else if (errno == ECONNREFUSED || errno == ENOBUFS ||
			 errno == EAGAIN || errno == EINTR)
			errors++;	/* port unreachable, full queue */
		else
			return fail("sendmmsg: %s", strerror(errno));
		t1 = now_ns();
	}
	printf("mode=udp-source len=%zu frames=%llu secs=%.3f fps=%.0f "
	       "errors=%llu\n", len, (unsigned long long)frames,
	       elapsed(t0, t1), (double)frames / elapsed(t0, t1),
	       (unsigned long long)errors);
	return 0;
}

/**
 * mode_tcp_server() - tcp-sink or tcp-source: one connection on PORT
 * @port:	Port
 * @source:	Write until the connection ends, instead of reading
 *
 * Return: exit status
 */
static int mode_tcp_server(uint16_t port, bool source)
{
	static uint8_t buf[256 << 10];
	int lfd = server_socket(SOCK_STREAM, port), fd;
	uint64_t bytes = 0, t0 = 0, t1 = 0;
	const char *end = "eof";
	ssize_t n;

	if (lfd < 0)
		return 2;
	fd = accept(lfd, NULL, NULL);
	if (fd < 0)
		return fail("accept: %s", strerror(errno)), 2;
	close(lfd);
	memset(buf, 'x', sizeof(buf));
	t0 = now_ns();
	for (;;) {
		if (source)
			n = send(fd, buf, sizeof(buf), MSG_NOSIGNAL);
		else
			n = read(fd, buf, sizeof(buf));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == ECONNRESET || errno == EPIPE)) {
			end = "reset";
			break;
		}
		if (n < 0)
			return fail("%s: %s", source ? "send" : "read",
				    strerror(errno));
		if (!n)
			break;
		bytes += (uint64_t)n;
		t1 = now_ns();
	}
	close(fd);
	printf("mode=tcp-%s bytes=%llu secs=%.3f gbps=%.3f end=%s\n",
	       source ? "source" : "sink", (unsigned long long)bytes,
	       elapsed(t0, t1 > t0 ? t1 : t0 + 1),
	       (double)bytes * 8 / elapsed(t0, t1 > t0 ? t1 : t0 + 1) / 1e9,
	       end);
	return 0;
}

/**
 * parse_port() - Parse a port number
 * @s:		Text
 * @port:	Port, set on success
 *
 * Return: 0, or -1 if it is no port
 */
static int parse_port(const char *s, uint16_t *port)
{
	char *e;
	long v = strtol(s, &e, 10);

	if (*e || v <= 0 || v > 65535)
		return -1;
	*port = (uint16_t)v;
	return 0;
}

/**
 * parse_uint() - Parse a non-negative number with an upper bound
 * @s:		Text
 * @max:	Largest value taken
 * @v:		Value, set on success
 *
 * Return: 0, or -1 if it is not one
 */
static int parse_uint(const char *s, unsigned long max, unsigned long *v)
{
	char *e;

	errno = 0;
	*v = strtoul(s, &e, 10);
	return *s && !*e && !errno && *v <= max ? 0 : -1;
}

/* Print the usage summary. Return: 2, the exit status of usage errors */
static int usage(void)
{
	fprintf(stderr,
"Usage: vm_bench [OPTION]... MODE ARG...\n"
"  guest modes (-s PATH): udp-out HOST PORT LEN | udp-in PORT LEN |\n"
"                         tcp-out HOST PORT | tcp-in HOST PORT\n"
"  far ends: udp-sink PORT | udp-source HOST PORT LEN |\n"
"            tcp-sink PORT | tcp-source PORT\n"
"  options: -s PATH -a ADDR -g ADDR -m MAC -M MTU -d SECS -n N -i MS\n"
"           -b ADDR -t SECS\n");
	return 2;
}

/**
 * main() - Parse options and arguments, run one mode
 * @argc:	Argument count
 * @argv:	Options, then MODE and its arguments
 *
 * Return: exit status (see the header)
 */
int main(int argc, char **argv)
{
	unsigned long v, timeout = 0;
	const char *path = NULL, *mode;
	struct in_addr host = { 0 };
	uint16_t port = 0;
	size_t len = 0;
	int opt, rc;

	inet_pton(AF_INET, "192.0.2.1", &guest_ip);
	inet_pton(AF_INET, "192.0.2.2", &gw_ip);
	while ((opt = getopt(argc, argv, "s:a:g:m:M:d:n:i:b:t:")) != -1) {
		switch (opt) {
		case 's':
			path = optarg;
			break;
		case 'a':
			if (inet_pton(AF_INET, optarg, &guest_ip) != 1)
				return usage();
			break;
		case 'g':
			if (inet_pton(AF_INET, optarg, &gw_ip) != 1)
				return usage();
			break;
		case 'b':
			if (inet_pton(AF_INET, optarg, &bind_ip) != 1)
				return usage();
			break;
		case 'm':
			if (sscanf(optarg, "%hhx:%hhx:%hhx:%hhx:%hhx:%hhx",
				   &guest_mac[0], &guest_mac[1], &guest_mac[2],
				   &guest_mac[3], &guest_mac[4],
				   &guest_mac[5]) != 6)
				return usage();
			break;
		case 'M':
			if (parse_uint(optarg, 65520, &v) || v < 576)
				return usage();
			mtu = (unsigned int)v;
			break;
		case 'd':
			if (parse_uint(optarg, 3600, &v) || !v)
				return usage();
			secs = (unsigned int)v;
			break;
		case 'n':
			if (parse_uint(optarg, 4096, &v) || !v)
				return usage();
			per_write = (unsigned int)v;
			break;
		case 'i':
			if (parse_uint(optarg, 60000, &v) || !v)
				return usage();
			idle_ms = (unsigned int)v;
			break;
		case 't':
			if (parse_uint(optarg, 86400, &v) || !v)
				return usage();
			timeout = v;
			break;
		default:
			return usage();
		}
	}
	if (optind >= argc)
		return usage();
	mode = argv[optind];
	argv += optind + 1;
	argc -= optind + 1;

	/* HOST PORT [LEN], PORT [LEN], or PORT, by mode */
	if (!strcmp(mode, "udp-out") || !strcmp(mode, "tcp-out") ||
	    !strcmp(mode, "tcp-in") || !strcmp(mode, "udp-source")) {
		if (argc < 2 || inet_pton(AF_INET, argv[0], &host) != 1 ||
		    parse_port(argv[1], &port))
			return usage();
		argv += 2;
		argc -= 2;
	} else {
		if (argc < 1 || parse_port(argv[0], &port))
			return usage();
		argv++;
		argc--;
	}
	if (!strcmp(mode, "udp-out") || !strcmp(mode, "udp-in") ||
	    !strcmp(mode, "udp-source")) {
		if (argc != 1 || parse_uint(argv[0], 65507, &v))
			return usage();
		len = v;
	} else if (argc) {
		return usage();
	}
	if ((!strcmp(mode, "udp-out") || !strcmp(mode, "udp-in")) &&
	    IP4_LEN + UDP_LEN + len > mtu)
		return fail("datagram of %zu bytes over the MTU %u", len,
			    mtu), 2;

	signal(SIGPIPE, SIG_IGN);
	signal(SIGALRM, on_alarm);
	alarm((unsigned int)(timeout ? timeout : secs + 30UL));

	if (!strcmp(mode, "udp-sink"))
		return mode_udp_sink(port);
	if (!strcmp(mode, "udp-source"))
		return mode_udp_source(host, port, len);
	if (!strcmp(mode, "tcp-sink"))
		return mode_tcp_server(port, false);
	if (!strcmp(mode, "tcp-source"))
		return mode_tcp_server(port, true);
	if (strcmp(mode, "udp-out") && strcmp(mode, "udp-in") &&
	    strcmp(mode, "tcp-out") && strcmp(mode, "tcp-in"))
		return usage();

	rc = guest_start(path);
	if (rc)
		return rc;
	if (!strcmp(mode, "udp-out"))
		return mode_udp_out(host, port, len);
	if (!strcmp(mode, "udp-in"))
		return mode_udp_in(port, len);
	if (!strcmp(mode, "tcp-out"))
		rc = mode_tcp_out(host, port);
	else
		rc = mode_tcp_in(host, port);
	/* Failed with the connection open: leave nothing behind */
	if (rc && tcp_live)
		tcp_ctl(tcp_live, TH_RST | TH_ACK, tcp_live->snd_nxt);
	return rc;
}
