/* fwd_test.c - unit tests for port forwarding specifications, the
 * /proc/net/{tcp,udp}[6] scanner and the address maps (fwd.c)
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fwd.h"
#include "unit.h"

static struct fwd_ports fp;
static char err[256];

/* Start from nothing and add the SPECs given, NULL-terminated */
static int spec(bool allow_auto, const char *s, ...)
{
	va_list ap;
	int rc = 0;

	fwd_ports_init(&fp);
	err[0] = 0;
	va_start(ap, s);
	for (; s && !rc; s = va_arg(ap, const char *))
		rc = fwd_ports_parse(&fp, s, allow_auto, err, sizeof(err));
	va_end(ap);
	return rc;
}

#define SPEC(...)	spec(false, __VA_ARGS__, NULL)
#define SPEC_AUTO(...)	spec(true, __VA_ARGS__, NULL)

/* Are exactly the ports first to last forwarded within lo to hi? */
static bool only(unsigned int lo, unsigned int hi, unsigned int first,
		 unsigned int last)
{
	unsigned int p;

	for (p = lo; p <= hi; p++) {
		if (fwd_port_forwarded(&fp, (uint16_t)p) !=
		    (p >= first && p <= last))
			return false;
	}
	return true;
}

/* Number of (binding, port) pairs to listen on */
static unsigned int pairs(const uint8_t *bound)
{
	struct fwd_iter it = FWD_ITER_INIT;
	unsigned int n = 0;

	while (fwd_listen_next(&fp, bound, &it))
		n++;
	return n;
}

static bool is_addr(const struct fwd_bind *b, const char *s)
{
	union inany_addr a;

	return b && !b->any && inany_pton(s, &a) > 0 &&
	       inany_equal(&b->addr, &a);
}

static void test_single(void)
{
	unsigned int next = 0;

	CHECK(SPEC("22") == 0 && only(0, 65535, 22, 22));
	CHECK(fwd_port_dest(&fp, 22) == 22);
	CHECK(fp.flags == FWD_SPEC && pairs(NULL) == 1);
	CHECK(fwd_bind_next(&fp, 22, &next) == &fp.bind[0]);
	CHECK(fp.bind[0].any && !fp.bind[0].ifname[0]);
	CHECK(!fwd_bind_next(&fp, 22, &next));
	CHECK(!fwd_port_auto_candidate(&fp, 22));

	CHECK(SPEC("22:23") == 0 && only(0, 65535, 22, 22));
	CHECK(fwd_port_dest(&fp, 22) == 23);

	CHECK(SPEC("22,25") == 0 && only(0, 24, 22, 22) &&
	      only(23, 65535, 25, 25));
	CHECK(fwd_port_dest(&fp, 25) == 25 && pairs(NULL) == 2);
}

static void test_ranges(void)
{
	CHECK(SPEC("22-80") == 0 && only(0, 65535, 22, 80));
	CHECK(fwd_port_dest(&fp, 50) == 50 && pairs(NULL) == 59);

	CHECK(SPEC("22-80:32-90") == 0 && only(0, 65535, 22, 80));
	CHECK(fwd_port_dest(&fp, 22) == 32 && fwd_port_dest(&fp, 50) == 60);
	CHECK(fwd_port_dest(&fp, 80) == 90);

	CHECK(SPEC("65535:1") == 0 && fwd_port_dest(&fp, 65535) == 1);
	CHECK(SPEC("1-65535") == 0 && only(0, 65535, 1, 65535));
	CHECK(SPEC("1000:2000,1001-1002:2001-2002") == 0 &&
	      fwd_port_dest(&fp, 1002) == 2002);
	CHECK(SPEC("0022") == 0 && only(0, 65535, 22, 22));
}

static void test_addresses(void)
{
	const struct fwd_bind *b;
	unsigned int next = 0;

	CHECK(SPEC("192.0.2.1/22") == 0 && only(0, 65535, 22, 22));
	b = fwd_bind_next(&fp, 22, &next);
	CHECK(is_addr(b, "192.0.2.1") && !b->ifname[0]);
	CHECK(!fwd_bind_next(&fp, 22, &next) && pairs(NULL) == 1);

	next = 0;
	CHECK(SPEC("192.0.2.1%eth0/22") == 0 && only(0, 65535, 22, 22));
	b = fwd_bind_next(&fp, 22, &next);
	CHECK(is_addr(b, "192.0.2.1") && !strcmp(b->ifname, "eth0"));

	next = 0;
	CHECK(SPEC("2001:db8::1/22") == 0 && only(0, 65535, 22, 22));
	CHECK(is_addr(fwd_bind_next(&fp, 22, &next), "2001:db8::1"));

	next = 0;
	CHECK(SPEC("%lo/8080:80") == 0 && fwd_port_dest(&fp, 8080) == 80);
	b = fwd_bind_next(&fp, 8080, &next);
	CHECK(b && b->any && !strcmp(b->ifname, "lo") && b != &fp.bind[0]);

	/* The same port on two addresses: one listener each */
	next = 0;
	CHECK(SPEC("192.0.2.1/25", "198.51.100.1/25,26", "27") == 0);
	CHECK(is_addr(fwd_bind_next(&fp, 25, &next), "192.0.2.1"));
	CHECK(is_addr(fwd_bind_next(&fp, 25, &next), "198.51.100.1"));
	CHECK(!fwd_bind_next(&fp, 25, &next) && pairs(NULL) == 4);
	CHECK(fp.bind_n == 3);
	CHECK(SPEC("192.0.2.1/25", "192.0.2.1/26") == 0 && fp.bind_n == 2);
}

static void test_exclusions(void)
{
	const struct fwd_bind *b;
	unsigned int next = 0;

	CHECK(SPEC("2000-5000,~3000-3010") == 0);
	CHECK(only(0, 2999, 2000, 2999) && only(3000, 65535, 3011, 5000));
	CHECK(fwd_port_excluded(&fp, 3005) && !fwd_port_excluded(&fp, 3011));

	CHECK(SPEC("192.0.2.1/20-30,~25") == 0);
	CHECK(only(0, 24, 20, 24) && only(25, 65535, 26, 30));
	b = fwd_bind_next(&fp, 20, &next);
	CHECK(is_addr(b, "192.0.2.1") && pairs(NULL) == 10);

	/* Only exclusions: every other port outside the ephemeral range */
	CHECK(SPEC("~20000-20010") == 0);
	CHECK(only(0, 19999, 1, 19999) && only(20000, 20011, 20011, 20011));
	CHECK(only(20011, 32767, 20011, 32767));
	CHECK(only(FWD_EPH_FIRST, FWD_EPH_LAST, 1, 0));
	CHECK(only(FWD_EPH_LAST + 1, 65535, FWD_EPH_LAST + 1, 65535));
	next = 0;
	CHECK(fwd_bind_next(&fp, 22, &next) == &fp.bind[0]);
	CHECK(!fwd_bind_next(&fp, 22, &next));
	fp.eph_first = 40000;
	fp.eph_last = 40009;
	CHECK(fwd_port_forwarded(&fp, 39999));
	CHECK(!fwd_port_forwarded(&fp, 40000));
	CHECK(pairs(NULL) == 65535 - 11 - 10);

	/* Exclusions across options, and bound to an address */
	CHECK(SPEC("20-30", "~25") == 0);
	CHECK(only(0, 24, 20, 24) && only(25, 65535, 26, 30));
	next = 0;
	CHECK(SPEC("192.0.2.1/~22") == 0 && !fwd_port_forwarded(&fp, 22));
	CHECK(is_addr(fwd_bind_next(&fp, 23, &next), "192.0.2.1"));
	CHECK(!fwd_bind_next(&fp, 23, &next));
}

static void test_keywords(void)
{
	unsigned int p;
	bool ok = true;

	CHECK(SPEC("none") == 0 && fp.flags == FWD_NONE);
	CHECK(only(0, 65535, 1, 0) && pairs(NULL) == 0);
	CHECK(SPEC("none", "none") == 0);

	CHECK(SPEC("all") == 0 && fp.flags == FWD_ALL);
	CHECK(only(0, FWD_EPH_FIRST - 1, 1, FWD_EPH_FIRST - 1));
	CHECK(only(FWD_EPH_FIRST, 65535, FWD_EPH_LAST + 1, 65535));
	CHECK(fwd_port_dest(&fp, 8080) == 8080);
	CHECK(SPEC("all,~22") == 0 && !fwd_port_forwarded(&fp, 22) &&
	      fwd_port_forwarded(&fp, 23));

	CHECK(SPEC_AUTO("auto") == 0 && fp.flags == FWD_AUTO);
	CHECK(only(0, 65535, 1, 0));
	for (p = 1; p < FWD_PORTS; p++)
		ok = ok && fwd_port_auto_candidate(&fp, (uint16_t)p);
	CHECK(ok && !fwd_port_auto_candidate(&fp, 0));
	CHECK(SPEC_AUTO("auto", "auto") == 0);
}

static void test_auto(void)
{
	static uint8_t bound[FWD_MAP_SIZE];
	struct fwd_iter it = FWD_ITER_INIT;

	CHECK(SPEC_AUTO("auto,8000-8100,~8080") == 0);
	CHECK(fp.flags == (FWD_AUTO | FWD_SPEC | FWD_EXCL));
	CHECK(fwd_port_auto_candidate(&fp, 8000));
	CHECK(fwd_port_auto_candidate(&fp, 8079));
	CHECK(fwd_port_auto_candidate(&fp, 8081));
	CHECK(fwd_port_auto_candidate(&fp, 8100));
	CHECK(!fwd_port_auto_candidate(&fp, 8080));
	CHECK(!fwd_port_auto_candidate(&fp, 7999));
	CHECK(!fwd_port_auto_candidate(&fp, 22));
	CHECK(only(0, 65535, 1, 0) && pairs(NULL) == 0);

	/* Across options, in any order */
	CHECK(SPEC_AUTO("~22", "auto") == 0);
	CHECK(!fwd_port_auto_candidate(&fp, 22) &&
	      fwd_port_auto_candidate(&fp, 23) && only(0, 65535, 1, 0));
	CHECK(SPEC_AUTO("8000-8001", "auto") == 0 &&
	      fwd_port_auto_candidate(&fp, 8001) &&
	      !fwd_port_auto_candidate(&fp, 8002));

	/* Listeners follow what is bound on the other side, remapped */
	CHECK(SPEC_AUTO("auto,8080:80,22", "192.0.2.1/443") == 0);
	fwd_bit_set(bound, 80);
	fwd_bit_set(bound, 22);
	fwd_bit_set(bound, 8080);
	fwd_bit_set(bound, 5000);
	CHECK(fwd_listen_next(&fp, bound, &it) && it.port == 22 &&
	      it.bind == &fp.bind[0]);
	CHECK(fwd_listen_next(&fp, bound, &it) && it.port == 8080 &&
	      fwd_port_dest(&fp, (uint16_t)it.port) == 80);
	CHECK(!fwd_listen_next(&fp, bound, &it));
	fwd_bit_set(bound, 443);
	CHECK(pairs(bound) == 3);

	/* Bare auto listens on the wildcard */
	CHECK(SPEC_AUTO("auto") == 0 && pairs(bound) == 5);
}

static void test_accumulate(void)
{
	CHECK(SPEC("22", "80:8080", "1000-1001") == 0);
	CHECK(fwd_port_forwarded(&fp, 22) && fwd_port_forwarded(&fp, 80) &&
	      fwd_port_forwarded(&fp, 1001) && !fwd_port_forwarded(&fp, 81));
	CHECK(fwd_port_dest(&fp, 80) == 8080);
	CHECK(SPEC("22:23", "22:23") == 0);

	/* A conflict leaves everything as it was */
	CHECK(SPEC("22:23", "20-30:20-30") == -1);
	CHECK(strstr(err, "22") && strstr(err, "23"));
	CHECK(fwd_port_forwarded(&fp, 22) && !fwd_port_forwarded(&fp, 21));
	CHECK(fwd_port_dest(&fp, 22) == 23 && fp.bind_n == 1);
	CHECK(SPEC("22:23,20-30") == -1 && !fwd_port_forwarded(&fp, 22));
	CHECK(SPEC("none", "22") == -1 && fp.flags == FWD_NONE);
	CHECK(SPEC("22", "none") == -1 && fp.flags == FWD_SPEC);
	CHECK(SPEC("all", "22") == -1);
	CHECK(SPEC("22", "all") == -1);
	CHECK(SPEC_AUTO("all,auto") == -1);
	CHECK(SPEC_AUTO("auto", "all") == -1);
	CHECK(SPEC("none,22") == -1);
}

static void test_bind_limit(void)
{
	char s[32];
	int i, rc = 0;

	fwd_ports_init(&fp);
	for (i = 1; i < FWD_BIND_MAX && !rc; i++) {
		snprintf(s, sizeof(s), "192.0.2.%d/22", i);
		rc = fwd_ports_parse(&fp, s, false, err, sizeof(err));
	}
	CHECK(!rc && fp.bind_n == FWD_BIND_MAX);
	CHECK(fwd_ports_parse(&fp, "192.0.2.1/23", false, err,
			      sizeof(err)) == 0);
	CHECK(fwd_ports_parse(&fp, "192.0.2.200/22", false, err,
			      sizeof(err)) == -1);
	CHECK(strstr(err, "15") && fp.bind_n == FWD_BIND_MAX);
	CHECK(fwd_ports_parse(&fp, "24", false, err, sizeof(err)) == 0);
}

static void test_malformed(void)
{
	static const char *const bad[] = {
		"", "0", "70000", "65536", "22-", "-22", "22:", "80-22",
		"22-80:32-33", "22:32-33", "abc", "22x", "22 ", " 22",
		"+22", "22-0", "0-22", "22:0", "22:70000", "300.1.1.1/22",
		"192.0.2.1%/22", "192.0.2.1%averyveryverylongifname/22",
		"%eth0:1/22", "/22", "192.0.2.1/", "192.0.2.1/22/23", ",",
		"22,,23", "22,", ",22", "~", "~22:23", "~0", "~22-", "22~",
		"192.0.2.1/auto", "192.0.2.1/none", "%lo/all", "22:23:24",
		"2001:db8::1", "99999999999999999999", "1-2-3", "all,22",
		"none,none,22", "auto",
	};
	size_t i;

	for (i = 0; i < ARRAY_SIZE(bad); i++) {
		bool rejected = SPEC(bad[i]) == -1;

		if (!rejected || !err[0] || strchr(err, '\n'))
			printf("# accepted or no message: \"%s\"\n", bad[i]);
		CHECK(rejected && err[0] && !strchr(err, '\n'));
		CHECK(fp.flags == 0 && fp.bind_n == 1);
	}
	CHECK(SPEC("auto") == -1 && strstr(err, "auto"));
	CHECK(SPEC("22-80:32-33") == -1 && strstr(err, "length"));
	CHECK(SPEC("70000") == -1 && strstr(err, "65535"));
	CHECK(SPEC("192.0.2.1%averyveryverylongifname/22") == -1 &&
	      strstr(err, "too long"));
	/* No message buffer: still rejected */
	fwd_ports_init(&fp);
	CHECK(fwd_ports_parse(&fp, "abc", false, NULL, 0) == -1);
	CHECK(fwd_ports_parse(&fp, "abc", false, err, 1) == -1 && !err[0]);
}

static void test_udp_copy(void)
{
	static struct fwd_ports udp;
	unsigned int next = 0;

	CHECK(SPEC("8080:80,443", "192.0.2.1/53") == 0);
	fwd_ports_copy_udp(&udp, &fp);
	CHECK(fwd_port_forwarded(&udp, 8080) && fwd_port_dest(&udp, 8080) ==
	      8080 && fwd_port_forwarded(&udp, 443));
	CHECK(!fwd_port_forwarded(&udp, 80));
	CHECK(is_addr(fwd_bind_next(&udp, 53, &next), "192.0.2.1"));
}

static void test_ephemeral(void)
{
	uint16_t a = 1, b = 2;

	CHECK(fwd_ephemeral_parse("32768\t60999\n", &a, &b) == 0 &&
	      a == 32768 && b == 60999);
	CHECK(fwd_ephemeral_parse("1024 1024", &a, &b) == 0 && a == 1024 &&
	      b == 1024);
	CHECK(fwd_ephemeral_parse("60999 32768", &a, &b) == -EINVAL);
	CHECK(fwd_ephemeral_parse("1 2 3", &a, &b) == -EINVAL);
	CHECK(fwd_ephemeral_parse("abc", &a, &b) == -EINVAL);
	CHECK(fwd_ephemeral_parse("", &a, &b) == -EINVAL);
	CHECK(fwd_ephemeral_parse("1000", &a, &b) == -EINVAL);
	CHECK(fwd_ephemeral_parse("1000\t70000", &a, &b) == -EINVAL);
	CHECK(a == 1024 && b == 1024);
	CHECK(fwd_ephemeral_read(&a, &b) == 0 && a <= b);
}

static const char tcp4[] =
"  sl  local_address rem_address   st tx_queue rx_queue tr tm->when "
"retrnsmt   uid  timeout inode\n"
"   0: 0100007F:1F90 00000000:0000 0A 00000000:00000000 00:00000000 "
"00000000  1000        0 12345 1 0000000000000000 100 0 0 10 0\n"
"   1: 00000000:0016 00000000:0000 0A 00000000:00000000 00:00000000 "
"00000000     0        0 2345 1 0000000000000000 100 0 0 10 0\n"
"   2: 0F02000A:0016 0202000A:C350 01 00000000:00000000 02:000A7D4C "
"00000000     0        0 3456 4 0000000000000000 20 4 30 10 -1\n"
"   3: 0100007F:01BB 0100007F:D431 06 00000000:00000000 03:00001234 "
"00000000     0        0 0 3 0000000000000000\n";

static const char tcp6[] =
"  sl  local_address                         remote_address          "
"              st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout"
" inode\n"
"   0: 00000000000000000000000000000000:01BB "
"00000000000000000000000000000000:0000 0A 00000000:00000000 "
"00:00000000 00000000     0        0 4567 1 0000000000000000 100 0 0 10"
" 0\n"
"   1: 00000000000000000000000001000000:1388 "
"00000000000000000000000001000000:A1B2 01 00000000:00000000 "
"00:00000000 00000000  1000        0 5678 1 0000000000000000 20 4 31 10"
" -1\n"
"   2: B80D0120000000000000000001000000:ffff "
"00000000000000000000000000000000:0000 0A 00000000:00000000 "
"00:00000000 00000000     0        0 6789 1 0000000000000000 100 0 0 10"
" 0";

static const char udp4[] =
"   sl  local_address rem_address   st tx_queue rx_queue tr tm->when "
"retrnsmt   uid  timeout inode ref pointer drops\n"
"  100: 3500007F:0035 00000000:0000 07 00000000:00000000 00:00000000 "
"00000000   101        0 7890 2 0000000000000000 0\n"
"  200: 00000000:1234 0100007F:0035 01 00000000:00000000 00:00000000 "
"00000000  1000        0 8901 2 0000000000000000 0\n"
"  300: 00000000:0044 00000000:0000 0A 00000000:00000000 00:00000000 "
"00000000     0        0 9012 2 0000000000000000 0\n";

static const char junk[] =
"\n\n"
"garbage\n"
"   5: 0100007F:1F\n"
"   6: 0100007F:1F91 00000000:0000\n"
"   7: 0100007F:ZZZZ 00000000:0000 0A 00000000:00000000\n"
"   8 0100007F:1F92 00000000:0000 0A\n"
"   x: 0100007F:1F93 00000000:0000 0A\n"
"   9: 0100007F1F94 00000000:0000 0A\n"
"  10: 00007F:1F95 00000000:0000 0A\n"
"  11: 0100007F:1F96 00000000:0000 0AB\n"
"  12: 0100007F:1F97 00000000:0000 A\n"
"  13: 0100007F:0000 00000000:0000 0A\n"
"  14:\t0100007F:1F98\t00000000:0000\t0A\n"
"  15: 0100007F:1F99 00000000:0000 0A";

/* Scan a heap copy of exactly @len bytes, so overreads are caught */
static int scan(const char *text, size_t len, bool tcp, uint8_t *map)
{
	char *copy = malloc(len ? len : 1);
	int n;

	memcpy(copy, text, len);
	n = fwd_scan_proc(copy, len, tcp, map);
	free(copy);
	return n;
}

static unsigned int bits(const uint8_t *map)
{
	unsigned int p, n = 0;

	for (p = 0; p < FWD_PORTS; p++)
		n += fwd_bit_test(map, p);
	return n;
}

static void test_scan_proc(void)
{
	static uint8_t map[FWD_MAP_SIZE];
	size_t i;

	CHECK(scan(tcp4, strlen(tcp4), true, map) == 2);
	CHECK(fwd_bit_test(map, 8080) && fwd_bit_test(map, 22));
	CHECK(!fwd_bit_test(map, 443) && bits(map) == 2);
	CHECK(scan(tcp6, strlen(tcp6), true, map) == 2);
	CHECK(fwd_bit_test(map, 443) && fwd_bit_test(map, 65535));
	CHECK(!fwd_bit_test(map, 5000) && bits(map) == 4);

	memset(map, 0, sizeof(map));
	CHECK(scan(udp4, strlen(udp4), false, map) == 1);
	CHECK(fwd_bit_test(map, 53) && bits(map) == 1);
	CHECK(scan(tcp4, strlen(tcp4), false, map) == 0);

	memset(map, 0, sizeof(map));
	CHECK(scan(junk, strlen(junk), true, map) == 2);
	CHECK(fwd_bit_test(map, 0x1f98) && fwd_bit_test(map, 0x1f99));
	CHECK(bits(map) == 2);

	/* Every truncation of every sample: no crash, no overread */
	for (i = 0; i <= strlen(tcp6); i++)
		scan(tcp6, i, true, map);
	for (i = 0; i <= strlen(junk); i++)
		scan(junk, i, true, map);
	CHECK(scan("", 0, true, map) == 0);
}

/* Write @n listening lines, an overlong line and a last unterminated one */
static FILE *proc_file(unsigned int n)
{
	FILE *f = tmpfile();
	unsigned int i;

	if (!f)
		return NULL;
	fputs("  sl  local_address rem_address   st tx_queue rx_queue\n", f);
	for (i = 0; i < n; i++) {
		fprintf(f, "%4u: 0100007F:%04X 00000000:0000 0A 00000000:"
			"00000000 00:00000000 00000000  1000        0 %u 1 "
			"0000000000000000 100 0 0 10 0\n", i, 1 + i, 10000 + i);
		if (i == n / 2) {
			fputs("9998: 0100007F:FFFE 00000000:0000 0A ", f);
			for (unsigned int j = 0; j < 40000; j++)
				fputc('y', f);
			fputs("\n", f);
		}
	}
	fputs("9999: 0100007F:FFFF 00000000:0000 0A", f);
	fflush(f);
	return f;
}

static void test_scan_fd(void)
{
	static uint8_t map[FWD_MAP_SIZE];
	FILE *f = proc_file(5000);

	CHECK(f != NULL);
	if (!f)
		return;
	CHECK(fwd_scan_fd(fileno(f), true, map) == 5001);
	CHECK(fwd_bit_test(map, 1) && fwd_bit_test(map, 5000));
	CHECK(fwd_bit_test(map, 65535) && !fwd_bit_test(map, 65534));
	CHECK(bits(map) == 5001);
	/* Again from the start, as every rescan does */
	memset(map, 0, sizeof(map));
	CHECK(fwd_scan_fd(fileno(f), true, map) == 5001 && bits(map) == 5001);
	CHECK(fwd_scan_fd(fileno(f), false, map) == 0);
	fclose(f);
	CHECK(fwd_scan_fd(-1, true, map) == -EBADF);
}

/* Does @s, as the guest's destination @proto port @port, go to @want? */
static bool dst_is(const struct net_conf *nc, uint8_t proto, const char *s,
		   uint16_t port, const char *want)
{
	union inany_addr a, out, w;

	if (inany_pton(s, &a) <= 0 || inany_pton(want, &w) <= 0)
		return false;
	fwd_guest_dst(nc, proto, &a, port, &out);
	return inany_equal(&out, &w);
}

static void test_guest_dst(void)
{
	static struct net_conf nc;

	CHECK(fwd_is_dns(IPPROTO_UDP, 53) && fwd_is_dns(IPPROTO_TCP, 53));
	CHECK(fwd_is_dns(IPPROTO_UDP, 853) && fwd_is_dns(IPPROTO_TCP, 853));
	CHECK(!fwd_is_dns(IPPROTO_TCP, 5353) && !fwd_is_dns(IPPROTO_ICMP, 53));

	/* The defaults conf.c picks for a resolver at 127.0.0.53 and ::1 */
	inet_pton(AF_INET, "192.0.2.2", &nc.v4.map_host_lo);
	nc.v4.dns_fwd = nc.v4.map_host_lo;
	inet_pton(AF_INET, "127.0.0.53", &nc.v4.dns_host);
	inet_pton(AF_INET6, "2001:db8::2", &nc.v6.map_host_lo);
	nc.v6.dns_fwd = nc.v6.map_host_lo;
	inet_pton(AF_INET6, "::1", &nc.v6.dns_host);
	CHECK(dst_is(&nc, IPPROTO_UDP, "192.0.2.2", 53, "127.0.0.53"));
	CHECK(dst_is(&nc, IPPROTO_TCP, "192.0.2.2", 53, "127.0.0.53"));
	CHECK(dst_is(&nc, IPPROTO_TCP, "192.0.2.2", 853, "127.0.0.53"));
	CHECK(dst_is(&nc, IPPROTO_UDP, "192.0.2.2", 853, "127.0.0.53"));
	CHECK(dst_is(&nc, IPPROTO_TCP, "192.0.2.2", 80, "127.0.0.1"));
	CHECK(dst_is(&nc, IPPROTO_ICMP, "192.0.2.2", 53, "127.0.0.1"));
	CHECK(dst_is(&nc, IPPROTO_TCP, "2001:db8::2", 53, "::1"));
	CHECK(dst_is(&nc, IPPROTO_TCP, "2001:db8::2", 22, "::1"));
	CHECK(dst_is(&nc, IPPROTO_UDP, "198.51.100.1", 53, "198.51.100.1"));

	/* --dns-forward elsewhere, --dns-host a remote resolver */
	inet_pton(AF_INET, "203.0.113.53", &nc.v4.dns_fwd);
	inet_pton(AF_INET, "198.51.100.53", &nc.v4.dns_host);
	inet_pton(AF_INET6, "2001:db8:5::53", &nc.v6.dns_fwd);
	inet_pton(AF_INET6, "2001:db8:1::53", &nc.v6.dns_host);
	CHECK(dst_is(&nc, IPPROTO_TCP, "203.0.113.53", 53, "198.51.100.53"));
	CHECK(dst_is(&nc, IPPROTO_UDP, "203.0.113.53", 853, "198.51.100.53"));
	CHECK(dst_is(&nc, IPPROTO_TCP, "203.0.113.53", 80, "203.0.113.53"));
	CHECK(dst_is(&nc, IPPROTO_TCP, "192.0.2.2", 53, "127.0.0.1"));
	CHECK(dst_is(&nc, IPPROTO_UDP, "2001:db8:5::53", 53,
		     "2001:db8:1::53"));
	CHECK(dst_is(&nc, IPPROTO_TCP, "2001:db8::2", 53, "::1"));

	/* No resolver known for IPv4: the address is used as it is */
	nc.v4.dns_host.s_addr = 0;
	CHECK(dst_is(&nc, IPPROTO_UDP, "203.0.113.53", 53, "203.0.113.53"));
	memset(&nc.v6.dns_fwd, 0, sizeof(nc.v6.dns_fwd));
	CHECK(dst_is(&nc, IPPROTO_UDP, "2001:db8:5::53", 53,
		     "2001:db8:5::53"));
}

/* fwd_host_to_guest() for peer @s: does it give @peer and @addr? */
static bool h2g_is(const struct net_conf *nc, const char *s,
		   const char *peer, const char *addr)
{
	union inany_addr a, gp, ga, wp, wa;

	if (inany_pton(s, &a) <= 0 || inany_pton(peer, &wp) <= 0 ||
	    inany_pton(addr, &wa) <= 0)
		return false;
	fwd_host_to_guest(nc, &a, &gp, &ga);
	return inany_equal(&gp, &wp) && inany_equal(&ga, &wa);
}

static void test_host_to_guest(void)
{
	static struct net_conf nc;

	inet_pton(AF_INET, "192.0.2.1", &nc.v4.addr);
	inet_pton(AF_INET, "192.0.2.1", &nc.v4.addr_host);
	inet_pton(AF_INET, "192.0.2.2", &nc.v4.gw);
	inet_pton(AF_INET6, "2001:db8::1", &nc.v6.addr);
	inet_pton(AF_INET6, "2001:db8::1", &nc.v6.addr_host);
	inet_pton(AF_INET6, "2001:db8::2", &nc.v6.gw);

	/* No map (--no-map-gw): the host appears as the gateway */
	CHECK(h2g_is(&nc, "127.0.0.1", "192.0.2.2", "192.0.2.1"));
	CHECK(h2g_is(&nc, "127.0.0.53", "192.0.2.2", "192.0.2.1"));
	CHECK(h2g_is(&nc, "192.0.2.1", "192.0.2.2", "192.0.2.1"));
	CHECK(h2g_is(&nc, "::1", "2001:db8::2", "2001:db8::1"));
	CHECK(h2g_is(&nc, "2001:db8::1", "2001:db8::2", "2001:db8::1"));
	/* Other peers as they are */
	CHECK(h2g_is(&nc, "198.51.100.1", "198.51.100.1", "192.0.2.1"));
	CHECK(h2g_is(&nc, "2001:db8:1::1", "2001:db8:1::1", "2001:db8::1"));

	/* --map-host-loopback, and addresses the guest was seen using */
	inet_pton(AF_INET, "203.0.113.1", &nc.v4.map_host_lo);
	inet_pton(AF_INET6, "2001:db8:2::1", &nc.v6.map_host_lo);
	inet_pton(AF_INET, "192.0.2.77", &nc.v4.addr_seen);
	inet_pton(AF_INET6, "2001:db8::77", &nc.v6.addr_seen);
	CHECK(h2g_is(&nc, "127.0.0.1", "203.0.113.1", "192.0.2.77"));
	CHECK(h2g_is(&nc, "192.0.2.1", "203.0.113.1", "192.0.2.77"));
	CHECK(h2g_is(&nc, "::1", "2001:db8:2::1", "2001:db8::77"));
	CHECK(h2g_is(&nc, "2001:db8:1::1", "2001:db8:1::1", "2001:db8::77"));
	CHECK(h2g_is(&nc, "192.0.2.2", "192.0.2.2", "192.0.2.77"));
}

/* fwd_scope() of @s: @want? */
static bool scope_is(const struct net_conf *nc, const char *s, uint32_t want)
{
	union inany_addr a;

	return inany_pton(s, &a) > 0 && fwd_scope(nc, &a) == want;
}

/* A link-local gateway (a host configured by RAs) stands for the host as
 * a global one does; unmapped, it is reached on the template interface */
static void test_ll_gateway(void)
{
	static struct net_conf nc;

	inet_pton(AF_INET6, "fe80::2", &nc.v6.gw);
	nc.v6.map_host_lo = nc.v6.gw;
	nc.v6.ll_scope = 7;
	CHECK(dst_is(&nc, IPPROTO_TCP, "fe80::2", 80, "::1"));
	CHECK(dst_is(&nc, IPPROTO_UDP, "fe80::2", 5353, "::1"));
	CHECK(dst_is(&nc, IPPROTO_TCP, "fe80::3", 80, "fe80::3"));
	CHECK(h2g_is(&nc, "::1", "fe80::2", "::"));

	/* The scope of the host socket's destination, after the maps */
	CHECK(scope_is(&nc, "fe80::2", 7) && scope_is(&nc, "fe80::1:2", 7));
	CHECK(scope_is(&nc, "::1", 0) && scope_is(&nc, "2001:db8::2", 0));
	CHECK(scope_is(&nc, "192.0.2.2", 0) && scope_is(&nc, "ff02::1", 0));

	/* --no-map-gw: the router itself */
	memset(&nc.v6.map_host_lo, 0, sizeof(nc.v6.map_host_lo));
	CHECK(dst_is(&nc, IPPROTO_TCP, "fe80::2", 80, "fe80::2"));
	CHECK(h2g_is(&nc, "::1", "fe80::2", "::"));
}

/* fwd_out_src() gives @want (NULL: nothing to bind) for @dst */
static bool out_is(const struct net_conf *nc, const char *dst,
		   const char *want)
{
	union inany_addr d, src, w;

	if (inany_pton(dst, &d) < 0)
		return false;
	if (!want)
		return !fwd_out_src(nc, &d, &src);
	return inany_pton(want, &w) > 0 && fwd_out_src(nc, &d, &src) &&
	       inany_equal(&src, &w);
}

static void test_out_src(void)
{
	static struct net_conf nc;

	/* No -o: the kernel picks */
	CHECK(out_is(&nc, "198.51.100.1", NULL));
	CHECK(out_is(&nc, "2001:db8:1::1", NULL));

	/* -o for IPv4 only: IPv6 still picked by the kernel */
	inet_pton(AF_INET, "192.0.2.3", &nc.v4.addr_out);
	CHECK(out_is(&nc, "198.51.100.1", "192.0.2.3"));
	CHECK(out_is(&nc, "2001:db8:1::1", NULL));

	/* Both; the host's loopback is never "outside" */
	inet_pton(AF_INET6, "2001:db8::3", &nc.v6.addr_out);
	CHECK(out_is(&nc, "2001:db8:1::1", "2001:db8::3"));
	CHECK(out_is(&nc, "127.0.0.53", NULL));
	CHECK(out_is(&nc, "127.0.0.1", NULL));
	CHECK(out_is(&nc, "::1", NULL));
}

int main(void)
{
	UNIT_PLAN(17);
	UNIT_RUN(test_single);
	UNIT_RUN(test_ranges);
	UNIT_RUN(test_addresses);
	UNIT_RUN(test_exclusions);
	UNIT_RUN(test_keywords);
	UNIT_RUN(test_auto);
	UNIT_RUN(test_accumulate);
	UNIT_RUN(test_bind_limit);
	UNIT_RUN(test_malformed);
	UNIT_RUN(test_udp_copy);
	UNIT_RUN(test_ephemeral);
	UNIT_RUN(test_scan_proc);
	UNIT_RUN(test_scan_fd);
	UNIT_RUN(test_guest_dst);
	UNIT_RUN(test_host_to_guest);
	UNIT_RUN(test_ll_gateway);
	UNIT_RUN(test_out_src);
	UNIT_EXIT();
}
