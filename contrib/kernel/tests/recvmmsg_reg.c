// SPDX-License-Identifier: GPL-2.0-or-later
/* recvmmsg_reg.c - functional test of SO_RECVMMSG_REG, the registered
 * recvmmsg() array of contrib/kernel/patches/6.12/0001-net-*.patch
 *
 * Theory of operation
 * Runs inside the guest of contrib/kernel/run.sh, as root, in a network
 * namespace of its own (unshare()) whose loopback carries 192.0.2.1 and
 * 2001:db8::1. A receiving UDP socket registers an array of headers and
 * buffers, senders send datagrams of known lengths and contents, and each
 * test checks what the kernel wrote back: the return value, and per
 * entry msg_len, the source address and msg_namelen, msg_flags
 * (MSG_TRUNC), msg_controllen and the control message (IP_PKTINFO).
 * The registration's memory is followed in the socket's option memory
 * (SO_MEMINFO, SK_MEMINFO_OPTMEM); sockets closed with a registration are
 * followed in MemAvailable. Threads: two receivers on ranges of their
 * own, one sender, one thread re-registering and unregistering in a loop,
 * all bounded in count and time.
 *
 * Output: KTAP. A kernel without SO_RECVMMSG_REG (getsockopt() fails with
 * ENOPROTOOPT) gives "1..0 # SKIP" and exit status 4.
 *
 * Build: gcc -static -O2 -pthread -o recvmmsg_reg recvmmsg_reg.c
 */
#define _GNU_SOURCE
#include <errno.h>
#include <limits.h>
#include <net/if.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <linux/sock_diag.h>

#ifndef SO_RECVMMSG_REG
#define SO_RECVMMSG_REG		85
#endif
#ifndef MSG_RECVMMSG_REG
#define MSG_RECVMMSG_REG	0x200000
#endif
#ifndef SO_MEMINFO
#define SO_MEMINFO		55
#endif
#ifndef UIO_MAXIOV
#define UIO_MAXIOV		1024
#endif

/* include/uapi/linux/socket.h of the patched kernel */
struct recvmmsg_reg {
	uint64_t vec;
	uint32_t vlen;
	uint32_t flags;
} __attribute__((aligned(8)));

#define PLAN	38		/* tests */
#define N	32		/* entries of the arrays */
#define BUFLEN	100		/* bytes per entry */
#define CTLLEN	64

static int tests, failed;

/* One KTAP result line; a failure prints @why */
static void result(int ok, const char *name, const char *why)
{
	tests++;
	if (!ok) {
		failed++;
		printf("# %s: %s\n", name, why);
	}
	printf("%s %d %s\n", ok ? "ok" : "not ok", tests, name);
	fflush(stdout);
}

/**
 * struct array - An array of headers with its buffers, names, controls
 * @mh:		Headers
 * @iov:	One iovec per entry
 * @buf:	Payload buffers
 * @name:	Source addresses
 * @ctl:	Control buffers
 */
struct array {
	struct mmsghdr mh[N];
	struct iovec iov[N];
	uint8_t buf[N][BUFLEN];
	struct sockaddr_in6 name[N];
	uint8_t ctl[N][CTLLEN] __attribute__((aligned(8)));
};

/* Set up @a for plain use: sizes in, sentinels in the results */
static void array_init(struct array *a, int with_ctl)
{
	int i;

	memset(a, 0, sizeof(*a));
	for (i = 0; i < N; i++) {
		a->iov[i] = (struct iovec){ a->buf[i], BUFLEN };
		a->mh[i].msg_hdr = (struct msghdr){
			.msg_name = &a->name[i],
			.msg_namelen = sizeof(a->name[i]),
			.msg_iov = &a->iov[i], .msg_iovlen = 1,
			.msg_control = with_ctl ? a->ctl[i] : NULL,
			.msg_controllen = with_ctl ? CTLLEN : 0,
		};
		a->mh[i].msg_len = 0xdead;
		a->mh[i].msg_hdr.msg_flags = 0x5a5a;
	}
}

/* Register @vlen entries at @vec on @s. Return: 0, or errno */
static int reg(int s, void *vec, unsigned int vlen)
{
	struct recvmmsg_reg r = { (uintptr_t)vec, vlen, 0 };

	return setsockopt(s, SOL_SOCKET, SO_RECVMMSG_REG, &r, sizeof(r)) ?
	       errno : 0;
}

/* The registration of @s, read back. Return: 0, or errno */
static int reg_get(int s, struct recvmmsg_reg *r)
{
	socklen_t len = sizeof(*r);

	return getsockopt(s, SOL_SOCKET, SO_RECVMMSG_REG, r, &len) ?
	       errno : 0;
}

/* Option memory charged to @s (SO_MEMINFO), -1 if unknown */
static long optmem(int s)
{
	uint32_t mi[SK_MEMINFO_VARS];
	socklen_t len = sizeof(mi);

	if (getsockopt(s, SOL_SOCKET, SO_MEMINFO, mi, &len))
		return -1;
	return mi[SK_MEMINFO_OPTMEM];
}

/* net.core.optmem_max, 0 if unknown */
static long optmem_max(void)
{
	FILE *f = fopen("/proc/sys/net/core/optmem_max", "r");
	long v = 0;

	if (f && fscanf(f, "%ld", &v) != 1)
		v = 0;
	if (f)
		fclose(f);
	return v;
}

/* Datagrams @s dropped (SO_MEMINFO), -1 if unknown */
static long drops(int s)
{
	uint32_t mi[SK_MEMINFO_VARS];
	socklen_t len = sizeof(mi);

	if (getsockopt(s, SOL_SOCKET, SO_MEMINFO, mi, &len))
		return -1;
	return mi[SK_MEMINFO_DROPS];
}

/* recvmmsg() with the registration, non-blocking. Return: count or -errno */
static int rrecv(int s, struct mmsghdr *vec, unsigned int vlen)
{
	int n = recvmmsg(s, vec, vlen, MSG_RECVMMSG_REG | MSG_DONTWAIT, NULL);

	return n < 0 ? -errno : n;
}

/* A UDP socket bound to @addr:@port (0: any port). Return: socket, -1 */
static int udp_bound(int af, const char *addr, uint16_t port)
{
	struct sockaddr_in6 a6 = { .sin6_family = AF_INET6,
				   .sin6_port = htons(port) };
	struct sockaddr_in a4 = { .sin_family = AF_INET,
				  .sin_port = htons(port) };
	int s = socket(af, SOCK_DGRAM, 0);

	if (s < 0)
		return -1;
	if (af == AF_INET) {
		inet_pton(AF_INET, addr, &a4.sin_addr);
		if (bind(s, (struct sockaddr *)&a4, sizeof(a4)))
			goto fail;
	} else {
		inet_pton(AF_INET6, addr, &a6.sin6_addr);
		if (bind(s, (struct sockaddr *)&a6, sizeof(a6)))
			goto fail;
	}
	return s;
fail:
	close(s);
	return -1;
}

/* Port @s is bound to */
static uint16_t port_of(int s)
{
	struct sockaddr_in6 a;
	socklen_t len = sizeof(a);

	getsockname(s, (struct sockaddr *)&a, &len);
	return ntohs(a.sin6_port);	/* same offset in sockaddr_in */
}

/* Send @len bytes of pattern @seed from @s to @dst */
static int send_pat(int s, const void *dst, socklen_t dl, size_t len,
		    uint8_t seed)
{
	uint8_t b[512];
	size_t i;

	for (i = 0; i < len; i++)
		b[i] = (uint8_t)(seed + i);
	return sendto(s, b, len, 0, dst, dl) == (ssize_t)len ? 0 : -1;
}

/* Does @buf hold @len bytes of pattern @seed? */
static int is_pat(const uint8_t *buf, size_t len, uint8_t seed)
{
	size_t i;

	for (i = 0; i < len; i++)
		if (buf[i] != (uint8_t)(seed + i))
			return 0;
	return 1;
}

/* Wait until @s has a datagram queued (bounded: 2 s) */
static void wait_readable(int s)
{
	int i, n;

	for (i = 0; i < 2000; i++) {
		if (!ioctl(s, FIONREAD, &n) && n > 0)
			return;
		usleep(1000);
	}
}

/* The namespace: loopback up with the documentation addresses */
static int setup_netns(void)
{
	struct ifreq ifr = { .ifr_name = "lo" };
	struct sockaddr_in *sin = (struct sockaddr_in *)&ifr.ifr_addr;
	struct {
		struct in6_addr addr;
		uint32_t prefixlen;
		int ifindex;
	} ifr6 = { .prefixlen = 64 };
	int s, s6, i;

	if (unshare(CLONE_NEWNET))
		return -1;
	s = socket(AF_INET, SOCK_DGRAM, 0);
	s6 = socket(AF_INET6, SOCK_DGRAM, 0);
	if (s < 0 || s6 < 0)
		return -1;
	if (ioctl(s, SIOCGIFFLAGS, &ifr))
		return -1;
	ifr.ifr_flags |= IFF_UP;
	if (ioctl(s, SIOCSIFFLAGS, &ifr))
		return -1;
	sin->sin_family = AF_INET;
	inet_pton(AF_INET, "192.0.2.1", &sin->sin_addr);
	if (ioctl(s, SIOCSIFADDR, &ifr))
		return -1;
	inet_pton(AF_INET6, "2001:db8::1", &ifr6.addr);
	ifr6.ifindex = (int)if_nametoindex("lo");
	if (ioctl(s6, SIOCSIFADDR, &ifr6))
		return -1;
	close(s);
	close(s6);
	/* The IPv6 address is tentative until the kernel's address work
	 * has run, even without duplicate address detection on loopback:
	 * until then bind() fails (bounded: 2 s) */
	for (i = 0; i < 200; i++) {
		s6 = udp_bound(AF_INET6, "2001:db8::1", 0);
		if (s6 >= 0) {
			close(s6);
			return 0;
		}
		usleep(10000);
	}
	return -1;
}

static struct array A, B;
static struct sockaddr_in dst4 = { .sin_family = AF_INET };

/* Registration, results per entry, ranges, re-registration, removal */
static void test_basic(void)
{
	static const size_t lens[5] = { 10, 1, 150, 100, 0 };
	struct recvmmsg_reg r;
	int s, tx1, tx2, on = 1, i, n, ok;
	long base, charged;
	char why[160] = "";

	s = udp_bound(AF_INET, "192.0.2.1", 0);
	tx1 = udp_bound(AF_INET, "192.0.2.1", 0);
	tx2 = udp_bound(AF_INET, "192.0.2.1", 0);
	dst4.sin_port = htons(port_of(s));
	inet_pton(AF_INET, "192.0.2.1", &dst4.sin_addr);
	setsockopt(s, IPPROTO_IP, IP_PKTINFO, &on, sizeof(on));

	ok = !reg_get(s, &r) && !r.vec && !r.vlen;
	result(ok, "no registration on a new socket", "getsockopt not {0, 0}");

	base = optmem(s);
	array_init(&A, 1);
	ok = !reg(s, A.mh, 8) && !reg_get(s, &r) &&
	     r.vec == (uintptr_t)A.mh && r.vlen == 8;
	charged = optmem(s) - base;
	result(ok, "register", "setsockopt or read back failed");
	snprintf(why, sizeof(why), "optmem %ld -> %ld", base, base + charged);
	result(base >= 0 && charged > 0, "registration charged to optmem",
	       why);

	/* Sizes changed in the array after registering are not used */
	for (i = 0; i < N; i++) {
		A.iov[i].iov_len = 1;
		A.mh[i].msg_hdr.msg_namelen = 0;
		A.mh[i].msg_hdr.msg_controllen = 0;
	}
	for (i = 0; i < 5; i++)
		send_pat(i % 2 ? tx2 : tx1, &dst4, sizeof(dst4), lens[i],
			 (uint8_t)(i * 17));
	wait_readable(s);
	n = rrecv(s, A.mh, 8);
	ok = n == 5;
	snprintf(why, sizeof(why), "returned %d", n);
	for (i = 0; ok && i < 5; i++) {
		const struct sockaddr_in *sa = (void *)&A.name[i];
		size_t got = lens[i] > BUFLEN ? BUFLEN : lens[i];
		struct cmsghdr *cm = (void *)A.ctl[i];
		struct in_pktinfo *pi = (void *)CMSG_DATA(cm);
		int trunc = lens[i] > BUFLEN ? MSG_TRUNC : 0;

		if (A.mh[i].msg_len != got ||
		    !is_pat(A.buf[i], got, (uint8_t)(i * 17)) ||
		    A.mh[i].msg_hdr.msg_namelen != sizeof(*sa) ||
		    sa->sin_family != AF_INET ||
		    ntohs(sa->sin_port) != port_of(i % 2 ? tx2 : tx1) ||
		    A.mh[i].msg_hdr.msg_flags != trunc ||
		    A.mh[i].msg_hdr.msg_controllen !=
		    CMSG_SPACE(sizeof(*pi)) || cm->cmsg_type != IP_PKTINFO ||
		    pi->ipi_addr.s_addr != dst4.sin_addr.s_addr) {
			snprintf(why, sizeof(why),
				 "entry %d: len %u flags %#x namelen %u port %u ctl %zu",
				 i, A.mh[i].msg_len, A.mh[i].msg_hdr.msg_flags,
				 A.mh[i].msg_hdr.msg_namelen,
				 ntohs(sa->sin_port),
				 (size_t)A.mh[i].msg_hdr.msg_controllen);
			ok = 0;
		}
	}
	ok = ok && A.mh[5].msg_len == 0xdead &&
	     A.mh[5].msg_hdr.msg_flags == 0x5a5a;
	result(ok, "results per entry: lengths, sources, MSG_TRUNC, pktinfo",
	       why);

	/* A range of entries: 3 and 4 only */
	array_init(&B, 0);
	for (i = 0; i < N; i++)
		A.mh[i].msg_len = 0xdead;
	for (i = 0; i < 3; i++)
		send_pat(tx1, &dst4, sizeof(dst4), 20 + i, (uint8_t)i);
	wait_readable(s);
	n = rrecv(s, &A.mh[3], 2);
	ok = n == 2 && A.mh[2].msg_len == 0xdead &&
	     A.mh[3].msg_len == 20 && A.mh[4].msg_len == 21 &&
	     A.mh[5].msg_len == 0xdead && is_pat(A.buf[4], 21, 1);
	snprintf(why, sizeof(why), "returned %d, lengths %u %u %u %u", n,
		 A.mh[2].msg_len, A.mh[3].msg_len, A.mh[4].msg_len,
		 A.mh[5].msg_len);
	result(ok, "a range of the registered entries", why);

	n = rrecv(s, &A.mh[7], 2);
	result(n == -EINVAL, "range past the registration: EINVAL", "");
	n = rrecv(s, (struct mmsghdr *)((char *)&A.mh[1] + 4), 1);
	result(n == -EINVAL, "pointer between entries: EINVAL", "");
	n = rrecv(s, A.mh, 8);
	result(n == 1 && A.mh[0].msg_len == 22, "the rest into entry 0", "");

	/* Another array replaces it */
	ok = !reg(s, B.mh, 4) && !reg_get(s, &r) &&
	     r.vec == (uintptr_t)B.mh && r.vlen == 4;
	result(ok, "re-register with another array", "");
	send_pat(tx2, &dst4, sizeof(dst4), 33, 9);
	wait_readable(s);
	n = rrecv(s, A.mh, 1);
	result(n == -EINVAL, "old array refused after re-registering", "");
	A.mh[0].msg_len = 0xdead;
	n = rrecv(s, B.mh, 4);
	ok = n == 1 && B.mh[0].msg_len == 33 && is_pat(B.buf[0], 33, 9) &&
	     A.mh[0].msg_len == 0xdead && !B.mh[0].msg_hdr.msg_controllen;
	result(ok, "received into the new array only", "");

	/* Removal */
	ok = !reg(s, NULL, 0) && !reg_get(s, &r) && !r.vec && !r.vlen;
	result(ok, "unregister", "");
	snprintf(why, sizeof(why), "optmem %ld, %ld before registering",
		 optmem(s), base);
	result(optmem(s) == base, "optmem uncharged", why);
	send_pat(tx1, &dst4, sizeof(dst4), 44, 3);
	wait_readable(s);
	n = rrecv(s, B.mh, 1);
	result(n == -EINVAL, "flag without registration: EINVAL", "");
	array_init(&B, 0);
	n = recvmmsg(s, B.mh, 4, MSG_DONTWAIT, NULL);
	result(n == 1 && B.mh[0].msg_len == 44 && is_pat(B.buf[0], 44, 3),
	       "plain recvmmsg() after unregistering", "");
	result(!reg(s, NULL, 0), "unregister twice", "");

	close(s);
	close(tx1);
	close(tx2);
}

/* Plain calls beside a registration, and IPv6 sources */
static void test_plain_and_v6(void)
{
	struct sockaddr_in6 d6 = { .sin6_family = AF_INET6 };
	struct msghdr mh;
	struct iovec iov;
	uint8_t buf[64];
	int s, tx, n, ok;

	s = udp_bound(AF_INET6, "2001:db8::1", 0);
	tx = udp_bound(AF_INET6, "2001:db8::1", 0);
	d6.sin6_port = htons(port_of(s));
	inet_pton(AF_INET6, "2001:db8::1", &d6.sin6_addr);
	array_init(&A, 0);
	array_init(&B, 0);
	ok = !reg(s, A.mh, N);
	send_pat(tx, &d6, sizeof(d6), 7, 1);
	send_pat(tx, &d6, sizeof(d6), 8, 2);
	send_pat(tx, &d6, sizeof(d6), 9, 3);
	wait_readable(s);
	n = recvmmsg(s, B.mh, 1, MSG_DONTWAIT, NULL);
	ok = ok && n == 1 && B.mh[0].msg_len == 7 && A.mh[0].msg_len == 0xdead;
	result(ok, "plain recvmmsg() beside a registration", "");
	iov = (struct iovec){ buf, sizeof(buf) };
	mh = (struct msghdr){ .msg_iov = &iov, .msg_iovlen = 1 };
	n = (int)recvmsg(s, &mh, MSG_DONTWAIT);
	result(n == 8 && is_pat(buf, 8, 2), "plain recvmsg() beside a registration",
	       "");
	n = rrecv(s, A.mh, N);
	ok = n == 1 && A.mh[0].msg_len == 9 &&
	     A.mh[0].msg_hdr.msg_namelen == sizeof(struct sockaddr_in6) &&
	     A.name[0].sin6_family == AF_INET6 &&
	     ntohs(A.name[0].sin6_port) == port_of(tx) &&
	     !memcmp(&A.name[0].sin6_addr, &d6.sin6_addr, 16);
	result(ok, "IPv6 source address and length", "");
	close(s);
	close(tx);
}

/* Bad registrations fail cleanly and leave the old one in place */
static void test_bounds(void)
{
	long omax = optmem_max();
	struct recvmmsg_reg r = { 0 };
	struct mmsghdr *big;
	struct iovec *iovs;
	char why[96];
	uint8_t *page;
	int s, i, e, per;

	s = udp_bound(AF_INET, "192.0.2.1", 0);
	array_init(&A, 0);
	reg(s, A.mh, 4);

	result(setsockopt(s, SOL_SOCKET, SO_RECVMMSG_REG, &r, 8) &&
	       errno == EINVAL, "short option: EINVAL", "");
	result(reg(s, A.mh, UIO_MAXIOV + 1) == EINVAL,
	       "vlen above UIO_MAXIOV: EINVAL", "");
	result(reg(s, A.mh, 0) == EINVAL, "vec without vlen: EINVAL", "");
	result(reg(s, NULL, 4) == EINVAL, "vlen without vec: EINVAL", "");
	r = (struct recvmmsg_reg){ (uintptr_t)A.mh, 4, 1 };
	result(setsockopt(s, SOL_SOCKET, SO_RECVMMSG_REG, &r, sizeof(r)) &&
	       errno == EINVAL, "flags set: EINVAL", "");

	page = mmap(NULL, 4096, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS,
		    -1, 0);
	result(reg(s, page, 4) == EFAULT, "array not readable: EFAULT", "");
	result(reg(s, (void *)(uintptr_t)0xffff880000000000ULL, 4) == EFAULT,
	       "array in kernel space: EFAULT", "");

	array_init(&B, 0);
	B.iov[1].iov_base = (void *)(uintptr_t)0xffff880000000000ULL;
	result(reg(s, B.mh, 4) == EFAULT, "iov_base in kernel space: EFAULT",
	       "");
	array_init(&B, 0);
	B.mh[2].msg_hdr.msg_iov = (struct iovec *)page;
	result(reg(s, B.mh, 4) == EFAULT, "iovec not readable: EFAULT", "");
	array_init(&B, 0);
	B.iov[3].iov_len = (size_t)-1;
	result(reg(s, B.mh, 4) == EINVAL, "negative iov_len: EINVAL", "");
	array_init(&B, 0);
	B.mh[0].msg_hdr.msg_namelen = (socklen_t)-1;
	result(reg(s, B.mh, 4) == EINVAL, "negative msg_namelen: EINVAL", "");
	array_init(&B, 0);
	B.mh[0].msg_hdr.msg_name =
		(void *)(uintptr_t)0xffff880000000000ULL;
	result(reg(s, B.mh, 4) == EFAULT, "name in kernel space: EFAULT", "");
	array_init(&B, 0);
	B.mh[0].msg_hdr.msg_iovlen = UIO_MAXIOV + 1;
	result(reg(s, B.mh, 4) == EMSGSIZE,
	       "msg_iovlen above UIO_MAXIOV: EMSGSIZE", "");

	/* Past net.core.optmem_max: as many iovecs as it takes bytes / 16 */
	per = (int)(omax / 16 / UIO_MAXIOV) + 1;
	if (per > UIO_MAXIOV)
		per = UIO_MAXIOV;
	big = calloc(UIO_MAXIOV, sizeof(*big));
	iovs = calloc((size_t)per, sizeof(*iovs));
	for (i = 0; big && iovs && i < per; i++)
		iovs[i] = (struct iovec){ A.buf[0], 1 };
	for (i = 0; big && iovs && i < UIO_MAXIOV; i++)
		big[i].msg_hdr = (struct msghdr){ .msg_iov = iovs,
						  .msg_iovlen = (size_t)per };
	e = big && iovs && omax > 0 ? reg(s, big, UIO_MAXIOV) : -1;
	snprintf(why, sizeof(why), "errno %d for %d iovecs, optmem_max %ld",
		 e, per * UIO_MAXIOV, omax);
	result(e == ENOBUFS, "registration above optmem_max: ENOBUFS", why);
	free(big);
	free(iovs);

	result(!reg_get(s, &r) && r.vec == (uintptr_t)A.mh && r.vlen == 4,
	       "failed registrations kept the previous one", "");
	result(rrecv(s, A.mh, 5) == -EINVAL, "vlen above the registration: EINVAL",
	       "");
	munmap(page, 4096);
	close(s);
}

/* MemAvailable in kB, -1 if unknown */
static long mem_available(void)
{
	char line[128];
	long kb = -1;
	FILE *f = fopen("/proc/meminfo", "r");

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "MemAvailable: %ld kB", &kb) == 1)
			break;
	fclose(f);
	return kb;
}

/* Sockets closed with a registration give its memory back */
static void test_close(void)
{
	enum { SOCKS = 1000 };
	long before, after = -1, total = 0, got, omax = optmem_max();
	/* Entries and iovecs an entry that fill most of optmem_max */
	int ents = omax >= 128 * UIO_MAXIOV ? UIO_MAXIOV : (int)(omax / 128);
	int per = ents ? (int)((omax * 3 / 4 / ents - 64) / 16) : 0;
	struct iovec *iovs = calloc(per > 0 ? (size_t)per : 1, sizeof(*iovs));
	struct mmsghdr *vec = calloc(UIO_MAXIOV, sizeof(*vec));
	int i, k, s, done = 0;
	char why[128];

	if (per < 1)
		per = 1;
	for (i = 0; iovs && i < per; i++)
		iovs[i] = (struct iovec){ A.buf[0], 1 };
	for (i = 0; vec && i < ents; i++)
		vec[i].msg_hdr = (struct msghdr){ .msg_iov = iovs,
						  .msg_iovlen = (size_t)per };
	before = mem_available();
	for (i = 0; iovs && vec && ents && i < SOCKS; i++) {
		s = socket(AF_INET, SOCK_DGRAM, 0);
		if (s < 0)
			break;
		got = optmem(s);
		if (!reg(s, vec, (unsigned int)ents)) {
			total += optmem(s) - got;
			done++;
		}
		close(s);
	}
	/* Frees wait for an RCU grace period: up to 2 s */
	for (k = 0; k < 20; k++) {
		usleep(100000);
		after = mem_available();
		if (before - after < total / 1024 / 4)
			break;
	}
	snprintf(why, sizeof(why),
		 "%d registrations of %ld kB in all, MemAvailable %ld -> %ld kB",
		 done, total / 1024, before, after);
	printf("# close: %s\n", why);
	result(done == SOCKS && before > 0 &&
	       before - after < total / 1024 / 4,
	       "close releases the registration", why);
	free(iovs);
	free(vec);
}

/* A call blocked with a registration keeps it while it is replaced */
static int blk_sock;
static atomic_int blk_ret = -1000;

static void *blocked_recv(void *arg)
{
	(void)arg;
	blk_ret = recvmmsg(blk_sock, A.mh, 1, MSG_RECVMMSG_REG, NULL);
	return NULL;
}

static void test_blocked(void)
{
	long base, one, two, after;
	pthread_t t;
	char why[128];
	int tx, i, ok;

	blk_sock = udp_bound(AF_INET, "192.0.2.1", 0);
	tx = udp_bound(AF_INET, "192.0.2.1", 0);
	dst4.sin_port = htons(port_of(blk_sock));
	base = optmem(blk_sock);
	array_init(&A, 0);
	reg(blk_sock, A.mh, N);
	one = optmem(blk_sock) - base;
	pthread_create(&t, NULL, blocked_recv, NULL);
	usleep(200000);		/* guest time: the thread is in recvmmsg() */
	reg(blk_sock, A.mh, N);	/* a copy replaces the one in use */
	two = optmem(blk_sock) - base;
	send_pat(tx, &dst4, sizeof(dst4), 55, 5);
	for (i = 0; i < 200 && blk_ret == -1000; i++)
		usleep(10000);
	pthread_join(t, NULL);
	after = optmem(blk_sock) - base;
	ok = blk_ret == 1 && A.mh[0].msg_len == 55 &&
	     is_pat(A.buf[0], 55, 5) && two == 2 * one && after == one;
	snprintf(why, sizeof(why),
		 "ret %d, optmem one %ld, while in use %ld, after %ld",
		 (int)blk_ret, one, two, after);
	printf("# blocked: %s\n", why);
	result(ok, "replaced registration lives until the call returns",
	       why);
	reg(blk_sock, NULL, 0);
	close(blk_sock);
	close(tx);
}

/* Threads: two receivers, one sender, one re-registering */
#define T_SENDS		20000
#define T_RANGE		16
#define T_SECONDS	20

static int t_sock;
static atomic_int t_stop, t_sent, t_bad, t_einval, t_regs;
static uint8_t t_seen[T_SENDS];

/* Payload: 4-byte sequence number, then the pattern of its low byte */
static void *t_sender(void *arg)
{
	int tx = udp_bound(AF_INET, "192.0.2.1", 0), i;
	uint8_t b[64];

	(void)arg;
	for (i = 0; i < T_SENDS && !t_stop; i++) {
		size_t len = 4 + (size_t)(i % 60), k;

		memcpy(b, &i, 4);
		for (k = 4; k < len; k++)
			b[k] = (uint8_t)(i + k);
		if (sendto(tx, b, len, 0, (void *)&dst4, sizeof(dst4)) > 0)
			t_sent++;
		if (!(i % 64))
			sched_yield();
	}
	close(tx);
	return NULL;
}

static void *t_receiver(void *arg)
{
	int first = (int)(intptr_t)arg, n, i;
	struct mmsghdr *v = &A.mh[first];
	while (!t_stop) {
		n = recvmmsg(t_sock, v, T_RANGE, MSG_RECVMMSG_REG |
			     MSG_WAITFORONE, NULL);
		if (n < 0) {
			if (errno == EINVAL)
				t_einval++;
			else if (errno != EAGAIN)
				t_bad++;
			continue;
		}
		for (i = 0; i < n; i++) {
			const uint8_t *b = A.buf[first + i];
			unsigned int len = v[i].msg_len, k;
			int seq;

			memcpy(&seq, b, 4);
			if (len < 4 || seq < 0 || seq >= T_SENDS ||
			    len != 4 + (unsigned int)(seq % 60) ||
			    t_seen[seq]++) {
				t_bad++;
				continue;
			}
			for (k = 4; k < len; k++)
				if (b[k] != (uint8_t)(seq + k))
					t_bad++;
		}
	}
	return NULL;
}

static void *t_registrar(void *arg)
{
	int i;

	(void)arg;
	for (i = 0; i < 5000 && !t_stop; i++) {
		if (reg(t_sock, A.mh, 2 * T_RANGE))
			t_bad++;
		if (!(i % 8) && reg(t_sock, NULL, 0))
			t_bad++;
		t_regs++;
		sched_yield();
	}
	reg(t_sock, A.mh, 2 * T_RANGE);
	return NULL;
}

static void test_threads(void)
{
	struct timeval tv = { 0, 20000 };	/* bounds each wait */
	pthread_t snd, rx1, rx2, rg;
	int size = 1 << 20, i, got = 0;
	long dropped;
	time_t end;
	char why[160];

	t_sock = udp_bound(AF_INET, "192.0.2.1", 0);
	setsockopt(t_sock, SOL_SOCKET, SO_RCVBUF, &size, sizeof(size));
	setsockopt(t_sock, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	dst4.sin_port = htons(port_of(t_sock));
	array_init(&A, 0);
	reg(t_sock, A.mh, 2 * T_RANGE);
	pthread_create(&rx1, NULL, t_receiver, (void *)(intptr_t)0);
	pthread_create(&rx2, NULL, t_receiver, (void *)(intptr_t)T_RANGE);
	pthread_create(&rg, NULL, t_registrar, NULL);
	pthread_create(&snd, NULL, t_sender, NULL);
	end = time(NULL) + T_SECONDS;
	pthread_join(snd, NULL);
	while (time(NULL) < end) {
		int q = 0;

		if (!ioctl(t_sock, FIONREAD, &q) && !q)
			break;
		usleep(50000);
	}
	usleep(200000);
	t_stop = 1;
	pthread_join(rg, NULL);
	pthread_join(rx1, NULL);
	pthread_join(rx2, NULL);
	for (i = 0; i < T_SENDS; i++)
		got += t_seen[i];
	dropped = drops(t_sock);
	snprintf(why, sizeof(why),
		 "sent %d, received %d, dropped %ld, bad %d, EINVAL %d, %d re-registrations",
		 (int)t_sent, got, dropped, (int)t_bad, (int)t_einval,
		 (int)t_regs);
	printf("# threads: %s\n", why);
	result(!t_bad && got > 0 && got + dropped == t_sent && t_regs > 0,
	       "two receivers, one sender, re-registering in a loop", why);
	close(t_sock);
}

int main(void)
{
	struct recvmmsg_reg r;
	int s, e;

	printf("TAP version 13\n");
	if (setup_netns()) {
		printf("1..0 # SKIP cannot set up a network namespace: %s\n",
		       strerror(errno));
		return 4;
	}
	s = socket(AF_INET, SOCK_DGRAM, 0);
	e = reg_get(s, &r);
	close(s);
	if (e) {
		printf("1..0 # SKIP SO_RECVMMSG_REG unsupported: %s\n",
		       strerror(e));
		return 4;
	}
	printf("1..%d\n", PLAN);
	test_basic();
	test_plain_and_v6();
	test_bounds();
	test_close();
	test_blocked();
	test_threads();
	printf("# %d tests, %d failed\n", tests, failed);
	if (tests != PLAN)
		printf("# plan said %d tests\n", PLAN);
	return failed || tests != PLAN;
}
