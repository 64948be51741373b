/* conf_test.c - unit tests for command line parsing (conf_parse) */
#include <stdarg.h>
#include <stdio.h>
#include <unistd.h>

#include "conf.h"
#include "log.h"
#include "vhost_user.h"
#include "unit.h"

static struct conf c;

/* Parse a NULL-terminated argument list; standard error silenced. The
 * argument vector is static: c.cmd points into it after the call.
 */
static int parse(char *argv0, ...)
{
	static char *argv[64];
	int argc = 1, rc, saved;
	va_list ap;

	argv[0] = argv0;
	va_start(ap, argv0);
	while ((argv[argc] = va_arg(ap, char *)))
		argc++;
	va_end(ap);
	fflush(stderr);
	saved = dup(2);
	freopen("/dev/null", "w", stderr);
	rc = conf_parse(&c, argc, argv);
	fflush(stderr);
	dup2(saved, 2);
	close(saved);
	return rc;
}

static void test_defaults(void)
{
	CHECK(parse("passtd", NULL) == 0);
	CHECK(c.mode == MODE_PASTA);
	CHECK(c.net.mtu == 65520);
	CHECK(c.net.our_mac[0] == 0x9a && c.net.our_mac[5] == 0x55);
	CHECK(!c.cmd && !c.target_pid && !c.netns);
	CHECK(parse("/usr/bin/passt", NULL) == 0 && c.mode == MODE_PASST);
	CHECK(parse("pasta", NULL) == 0 && c.mode == MODE_PASTA);
	CHECK(c.log_size == 1048576);
}

/* --log-size: a plain byte count, 4096 at least */
static void test_log_size(void)
{
	CHECK(parse("passtd", "--log-size", "4096", NULL) == 0 &&
	      c.log_size == 4096);
	CHECK(parse("passtd", "-l", "/tmp/x.log", "--log-size", "123456789",
		    NULL) == 0 && c.log_size == 123456789);
	CHECK(parse("passtd", "--log-size", "4095", NULL) == CONF_ERROR);
	CHECK(parse("passtd", "--log-size", "0", NULL) == CONF_ERROR);
	CHECK(parse("passtd", "--log-size", "1M", NULL) == CONF_ERROR);
	CHECK(parse("passtd", "--log-size", "-8192", NULL) == CONF_ERROR);
	CHECK(parse("passtd", "--log-size", "", NULL) == CONF_ERROR);
	CHECK(parse("passtd", "--log-size", "99999999999999999999999", NULL) ==
	      CONF_ERROR);
}

static void test_addresses(void)
{
	CHECK(parse("passtd", "-a", "192.0.2.7/25", "-a", "2001:db8::7",
		    "-g", "192.0.2.1", "-g", "2001:db8::1", NULL) == 0);
	CHECK(c.net.v4.addr.s_addr == inet_addr("192.0.2.7"));
	CHECK(c.net.v4.prefix_len == 25 && c.set.addr4 && c.set.prefix4);
	CHECK(c.net.v6.addr.s6_addr[15] == 7 && c.net.v6.prefix_len == 64);
	CHECK(c.net.v4.gw.s_addr == inet_addr("192.0.2.1") && c.set.gw6);
	CHECK(parse("passtd", "-n", "255.255.254.0", NULL) == 0 &&
	      c.net.v4.prefix_len == 23);
	CHECK(parse("passtd", "-n", "20", NULL) == 0 &&
	      c.net.v4.prefix_len == 20);
	CHECK(parse("passtd", "-n", "255.0.255.0", NULL) == CONF_ERROR);
	CHECK(parse("passtd", "-n", "33", NULL) == CONF_ERROR);
	CHECK(parse("passtd", "-a", "300.1.1.1", NULL) == CONF_ERROR);
	CHECK(parse("passtd", "-a", "192.0.2.1/33", NULL) == CONF_ERROR);
	CHECK(parse("passtd", "-a", "0.0.0.0", NULL) == CONF_ERROR);
	CHECK(parse("passtd", "-g", "224.0.0.1", NULL) == CONF_ERROR);

	/* -o/--outbound: one source address per IP version */
	CHECK(parse("passtd", "-o", "192.0.2.3", "--outbound", "2001:db8::3",
		    NULL) == 0);
	CHECK(c.net.v4.addr_out.s_addr == inet_addr("192.0.2.3") &&
	      c.net.v6.addr_out.s6_addr[15] == 3);
	CHECK(parse("passt", "--outbound", "192.0.2.3", NULL) == 0 &&
	      c.net.v4.addr_out.s_addr == inet_addr("192.0.2.3"));
	CHECK(parse("passtd", "-o", "192.0.2.3", "-o", "192.0.2.4", NULL) ==
	      CONF_ERROR);
	CHECK(parse("passtd", "-o", "0.0.0.0", NULL) == CONF_ERROR);
	CHECK(parse("passtd", "-o", "127.0.0.1", NULL) == CONF_ERROR);
	CHECK(parse("passtd", "-o", "fe80::1", NULL) == CONF_ERROR);
	CHECK(parse("passtd", "-o", "ff02::1", NULL) == CONF_ERROR);
	CHECK(parse("passtd", "-o", "eth0", NULL) == CONF_ERROR);
	CHECK(parse("passtd", "-o", NULL) == CONF_ERROR);
}

static void test_mtu_mac(void)
{
	CHECK(parse("passtd", "-m", "9000", NULL) == 0 && c.net.mtu == 9000);
	CHECK(parse("passtd", "--mtu", "0", NULL) == 0 && c.net.mtu == 0);
	CHECK(parse("passtd", "-m", "67", NULL) == CONF_ERROR);
	CHECK(parse("passtd", "-m", "70000", NULL) == CONF_ERROR);
	CHECK(parse("passtd", "-m", "abc", NULL) == CONF_ERROR);
	CHECK(parse("passtd", "-m", "", NULL) == CONF_ERROR);
	CHECK(parse("passtd", "-M", "02:00:00:00:00:01", NULL) == 0 &&
	      c.net.our_mac[5] == 1);
	CHECK(parse("passtd", "-M", "zz", NULL) == CONF_ERROR);
	CHECK(parse("passtd", "-M", "01:00:00:00:00:01", NULL) == CONF_ERROR);
	CHECK(parse("passtd", "-M", "02:00:00:00:00:01x", NULL) ==
	      CONF_ERROR);
}

static void test_dns_search(void)
{
	CHECK(parse("passtd", "-D", "192.0.2.53", "-D", "2001:db8::53",
		    "-D", "198.51.100.53", NULL) == 0);
	CHECK(c.net.v4.dns_n == 2 && c.net.v6.dns_n == 1 && c.set.dns);
	CHECK(parse("passtd", "-D", "none", NULL) == 0 &&
	      c.net.v4.dns_n == 0 && c.set.dns);
	CHECK(parse("passtd", "-D", "nonsense", NULL) == CONF_ERROR);
	CHECK(parse("passtd", "-D", "192.0.2.1", "-D", "192.0.2.2", "-D",
		    "192.0.2.3", "-D", "192.0.2.4", "-D", "192.0.2.5",
		    NULL) == CONF_ERROR);
	CHECK(parse("passtd", "-S", "a.example,b.example c.example",
		    NULL) == 0);
	CHECK(c.net.search_n == 3 && !strcmp(c.net.search[2], "c.example"));
	CHECK(parse("passtd", "-S", "none", NULL) == 0 &&
	      c.net.search_n == 0);
	CHECK(parse("passtd", "--dns-forward", "192.0.2.99", NULL) == 0 &&
	      c.net.v4.dns_fwd.s_addr == inet_addr("192.0.2.99"));
}

static void test_targets(void)
{
	CHECK(parse("passtd", "1234", NULL) == 0 && c.target_pid == 1234);
	CHECK(parse("passtd", "--", "1234", NULL) == 0 && !c.target_pid &&
	      c.cmd && !strcmp(c.cmd[0], "1234"));
	CHECK(parse("passtd", "-f", "sh", "-c", "exit 3", NULL) == 0 &&
	      c.cmd && !strcmp(c.cmd[1], "-c") && c.foreground);
	CHECK(parse("passtd", "--netns", "/run/netns/x", NULL) == 0 &&
	      !strcmp(c.netns, "/run/netns/x"));
	CHECK(parse("passtd", "--netns", "x", "sh", NULL) == CONF_ERROR);
	CHECK(parse("passtd", "--userns", "/proc/1/ns/user", NULL) ==
	      CONF_ERROR);
	CHECK(parse("passtd", "0", NULL) == CONF_ERROR);
}

static void test_bad_lines(void)
{
	CHECK(parse("passtd", "--no-such-option", NULL) == CONF_ERROR);
	CHECK(parse("passtd", "-Z", NULL) == CONF_ERROR);
	CHECK(parse("passtd", "-m", NULL) == CONF_ERROR);
	CHECK(parse("passtd", "--mtu", NULL) == CONF_ERROR);
	CHECK(parse("passtd", "-4", "-6", NULL) == CONF_ERROR);
	CHECK(parse("passtd", "-I", "a-name-much-too-long", NULL) ==
	      CONF_ERROR);
	CHECK(parse("passtd", "--no-map-gw", "--map-host-loopback",
		    "192.0.2.9", NULL) == CONF_ERROR);
	CHECK(parse("passtd", "--flows", "1", NULL) == CONF_ERROR);
	CHECK(parse("passtd", "--flows", "99999999999999999999", NULL) ==
	      CONF_ERROR);
	CHECK(parse("passtd", "--udp-batch", "0", NULL) == CONF_ERROR);
	CHECK(parse("passtd", "--udp-batch", "257", NULL) == CONF_ERROR);
	CHECK(parse("passtd", "--udp-yield", "65537", NULL) == CONF_ERROR);
	CHECK(parse("passtd", "--udp-yield", "-1", NULL) == CONF_ERROR);
	CHECK(parse("passtd", "--udp-yield", "8x", NULL) == CONF_ERROR);
}

static void test_udp_numbers(void)
{
	CHECK(parse("passtd", NULL) == 0);
	CHECK(c.net.udp_batch == 32 && c.net.udp_yield == 32);
	CHECK(parse("passtd", "--udp-batch", "256", "--udp-yield", "0",
		    NULL) == 0);
	CHECK(c.net.udp_batch == 256 && c.net.udp_yield == 0);
	CHECK(parse("passtd", "--udp-yield", "65536", NULL) == 0);
	CHECK(c.net.udp_yield == 65536);
}

static void test_flags(void)
{
	CHECK(parse("passtd", "--config-net", "--no-dhcp", "--no-ndp",
		    "--no-dhcpv6", "--no-ra", "--no-icmp", "--dhcp-dns",
		    "--no-map-gw", "-q", "-I", "tap9", NULL) == 0);
	CHECK(c.config_net && c.net.no_dhcp && c.net.no_ndp &&
	      c.net.no_dhcpv6 && c.net.no_ra && c.net.no_icmp &&
	      c.net.dhcp_dns && c.set.no_map_gw && c.quiet);
	CHECK(!strcmp(c.ns_ifname, "tap9"));
	CHECK(parse("passtd", "--map-guest-addr", "192.0.2.200",
		    "--map-host-loopback", "2001:db8::99", NULL) == 0);
	CHECK(c.net.v4.map_guest_addr.s_addr == inet_addr("192.0.2.200"));
	CHECK(c.net.v6.map_host_lo.s6_addr[15] == 0x99 && c.set.map_lo6);
}

static void test_ports(void)
{
	/* Defaults: auto everywhere in namespace mode, none in VM mode */
	CHECK(parse("pasta", NULL) == 0);
	CHECK(c.tcp_in.flags == FWD_AUTO && c.udp_in.flags == FWD_AUTO);
	CHECK(c.tcp_out.flags == FWD_AUTO && c.udp_out.flags == FWD_AUTO);
	CHECK(!c.net.no_tcp && !c.net.no_udp && !c.net.no_splice &&
	      !c.net.no_peek_offset);
	CHECK(parse("passt", NULL) == 0 && c.tcp_in.flags == FWD_NONE &&
	      c.udp_out.flags == FWD_NONE);

	/* Repeated options add up; UDP takes TCP's ports, untranslated */
	CHECK(parse("passtd", "-t", "22", "--tcp-ports", "8080:80",
		    "-T", "5432", NULL) == 0);
	CHECK(fwd_port_forwarded(&c.tcp_in, 22) &&
	      fwd_port_dest(&c.tcp_in, 8080) == 80);
	CHECK(fwd_port_forwarded(&c.udp_in, 8080) &&
	      fwd_port_dest(&c.udp_in, 8080) == 8080);
	CHECK(fwd_port_forwarded(&c.tcp_out, 5432) &&
	      fwd_port_forwarded(&c.udp_out, 5432) &&
	      !fwd_port_forwarded(&c.udp_out, 22));
	CHECK(parse("passtd", "-t", "22", "-u", "53", "--udp-ns", "none",
		    NULL) == 0);
	CHECK(fwd_port_forwarded(&c.udp_in, 53) &&
	      !fwd_port_forwarded(&c.udp_in, 22));
	CHECK(c.udp_out.flags == FWD_NONE && c.tcp_out.flags == FWD_AUTO);
	CHECK(parse("passtd", "-t", "none", "-T", "none", NULL) == 0 &&
	      c.udp_in.flags == FWD_AUTO && c.udp_out.flags == FWD_AUTO);
	CHECK(parse("passtd", "--tcp-ns", "auto,~22", "-U", "192.0.2.1/53",
		    NULL) == 0);
	CHECK(fwd_port_auto_candidate(&c.tcp_out, 23) &&
	      !fwd_port_auto_candidate(&c.tcp_out, 22));
	CHECK(parse("passt", "-t", "2222:22", NULL) == 0 &&
	      fwd_port_dest(&c.tcp_in, 2222) == 22 &&
	      c.tcp_out.flags == FWD_NONE);

	/* Switches */
	CHECK(parse("passtd", "--no-tcp", "--no-udp", "--no-splice",
		    "--no-peek-offset", "-t", "none", NULL) == 0);
	CHECK(c.net.no_tcp && c.net.no_udp && c.net.no_splice &&
	      c.net.no_peek_offset);
	CHECK(c.tcp_in.flags == FWD_NONE && c.udp_out.flags == FWD_NONE);

	/* Bad specifications and combinations */
	CHECK(parse("passtd", "-t", "abc", NULL) == CONF_ERROR);
	CHECK(parse("passtd", "-t", "", NULL) == CONF_ERROR);
	CHECK(parse("passtd", "-u", "22-80:32-33", NULL) == CONF_ERROR);
	CHECK(parse("passtd", "-T", "0", NULL) == CONF_ERROR);
	CHECK(parse("passtd", "-U", "300.1.1.1/53", NULL) == CONF_ERROR);
	CHECK(parse("passtd", "-t", NULL) == CONF_ERROR);
	CHECK(parse("passtd", "-t", "none", "-t", "22", NULL) == CONF_ERROR);
	CHECK(parse("passtd", "-t", "22:23", "-t", "22:24", NULL) ==
	      CONF_ERROR);
	CHECK(parse("passt", "-t", "auto", NULL) == CONF_ERROR);
	CHECK(parse("passtd", "--no-tcp", "-t", "22", NULL) == CONF_ERROR);
	CHECK(parse("passtd", "--no-udp", "-U", "53", NULL) == CONF_ERROR);
}

static void test_vm_mode(void)
{
	/* --vm or the name passt; sockets, one-off, --fd implies one-off */
	CHECK(parse("passtd", "--vm", NULL) == 0 && c.mode == MODE_PASST);
	CHECK(!c.socket_path && c.fd == -1 && !c.one_off);
	CHECK(c.net.no_splice);
	CHECK(parse("passt", "--one-off", "--socket", "/tmp/x.socket",
		    "--pid", "/tmp/x.pid", NULL) == 0);
	CHECK(c.one_off && !strcmp(c.socket_path, "/tmp/x.socket") &&
	      !strcmp(c.pidfile, "/tmp/x.pid"));
	CHECK(parse("passt", "-1", "-s", "/tmp/y.socket", NULL) == 0 &&
	      c.one_off && !strcmp(c.socket_path, "/tmp/y.socket"));
	CHECK(parse("passt", "--fd", "3", NULL) == 0 && c.fd == 3 &&
	      c.one_off);
	CHECK(parse("passt", "-F", "0", NULL) == 0 && c.fd == 0);
	CHECK(parse("passtd", "-f", "-F", "5", "--vm", NULL) == 0 &&
	      c.mode == MODE_PASST && c.fd == 5 && c.foreground);

	/* What libvirt passes, with passt's meaning */
	CHECK(parse("passt", "--one-off", "--socket", "/run/vm.socket",
		    "--pid", "/run/vm.pid", "--mtu", "1500", "--interface",
		    "eth0", "--log-file", "/tmp/vm.log", "--hostname", "vm1",
		    "--fqdn", "vm1.example.test", "--address", "192.0.2.7",
		    "--netmask", "24", "--mac-addr", "02:00:00:00:00:09",
		    "--gateway", "192.0.2.1", "--outbound-if4", "eth1",
		    "--outbound-if6", "eth2", "--dns", "192.0.2.53",
		    "--search", "example.test", "--tcp-ports", "2222:22",
		    "--udp-ports", "5353", "--foreground", "--no-icmp",
		    "--no-dhcpv6", "--no-ra", "--no-ndp", "--no-dhcp", NULL) ==
	      0);
	CHECK(c.net.mtu == 1500 && !strcmp(c.tmpl[0], "eth1") &&
	      !strcmp(c.tmpl[1], "eth2") && !strcmp(c.logfile, "/tmp/vm.log"));
	CHECK(!strcmp(c.net.hostname, "vm1") &&
	      !strcmp(c.net.fqdn, "vm1.example.test"));
	CHECK(c.net.v4.addr.s_addr == inet_addr("192.0.2.7") &&
	      c.net.v4.prefix_len == 24 && c.net.our_mac[5] == 9);
	CHECK(c.net.v4.gw.s_addr == inet_addr("192.0.2.1") &&
	      c.net.v4.dns_n == 1 && c.net.search_n == 1);
	CHECK(fwd_port_dest(&c.tcp_in, 2222) == 22 &&
	      fwd_port_forwarded(&c.udp_in, 5353) &&
	      !fwd_port_forwarded(&c.udp_in, 2222));
	CHECK(c.foreground && c.net.no_icmp && c.net.no_dhcpv6 &&
	      c.net.no_ra && c.net.no_ndp && c.net.no_dhcp);
	CHECK(c.tcp_out.flags == FWD_NONE && c.udp_out.flags == FWD_NONE);
	CHECK(parse("passt", "--no-tcp", "--no-udp", NULL) == 0 &&
	      c.net.no_tcp && c.net.no_udp);

	/* What QEMU's -netdev passt may add */
	CHECK(parse("passt", "--quiet", "--freebind", "--tcp-ports",
		    "203.0.113.77/2222:22", "--pid", "/tmp/q.pid", "--fd", "3",
		    NULL) == 0);
	CHECK(c.net.freebind && c.fd == 3 && c.one_off &&
	      !strcmp(c.pidfile, "/tmp/q.pid"));

	/* Namespace-only options in VM mode, and the other way round */
	CHECK(parse("passt", "-T", "22", NULL) == CONF_ERROR);
	CHECK(parse("passt", "-U", "53", NULL) == CONF_ERROR);
	CHECK(parse("passt", "--config-net", NULL) == CONF_ERROR);
	CHECK(parse("passt", "--netns", "/run/netns/x", NULL) == CONF_ERROR);
	CHECK(parse("passt", "-I", "eth0", NULL) == CONF_ERROR);
	CHECK(parse("passt", "--ns-mac-addr", "02:00:00:00:00:01", NULL) ==
	      CONF_ERROR);
	CHECK(parse("passt", "--no-splice", NULL) == CONF_ERROR);
	CHECK(parse("passtd", "--config-net", "--vm", NULL) == CONF_ERROR);
	CHECK(parse("passt", "1234", NULL) == CONF_ERROR);
	CHECK(parse("passt", "--", "sh", NULL) == CONF_ERROR);
	CHECK(parse("passtd", "-s", "/tmp/x.socket", NULL) == CONF_ERROR);
	CHECK(parse("pasta", "--fd", "3", NULL) == CONF_ERROR);
	CHECK(parse("passtd", "--one-off", NULL) == CONF_ERROR);
	CHECK(parse("passtd", "-1", NULL) == CONF_ERROR);

	/* vhost-user: VM mode only, queue pairs 1 to VU_PAIRS_MAX */
	CHECK(parse("passt", "--vhost-user", NULL) == 0);
	CHECK(c.vhost_user && c.vu.pairs == VU_PAIRS_DEFAULT);
	CHECK(parse("passt", "--vhost-user", "--vhost-queues", "4",
		    "--no-vhost-tso", "--no-mrg-rxbuf", NULL) == 0);
	CHECK(c.vu.pairs == 4 && c.vu.no_tso && c.vu.no_mrg_rxbuf &&
	      !c.vu.no_offload);
	CHECK(parse("passt", "--vhost-user", "--no-vhost-offload", NULL) == 0);
	CHECK(c.vu.no_offload);
	CHECK(parse("pasta", "--vhost-user", NULL) == CONF_ERROR);
	CHECK(parse("passtd", "--vhost-queues", "2", NULL) == CONF_ERROR);
	CHECK(parse("passt", "--vhost-queues", "0", NULL) == CONF_ERROR);
	CHECK(parse("passt", "--vhost-queues", "17", NULL) == CONF_ERROR);
	CHECK(parse("passt", "--vhost-queues", "x", NULL) == CONF_ERROR);

	/* Bad values and combinations */
	CHECK(parse("passt", "-s", "", NULL) == CONF_ERROR);
	CHECK(parse("passt", "-s", "/tmp/a-path-far-too-long-for-sun-path-"
		    "0123456789012345678901234567890123456789012345678901234"
		    "567890123456789", NULL) == CONF_ERROR);
	CHECK(parse("passt", "-s", NULL) == CONF_ERROR);
	CHECK(parse("passt", "-F", "x", NULL) == CONF_ERROR);
	CHECK(parse("passt", "-F", "-1", NULL) == CONF_ERROR);
	CHECK(parse("passt", "-F", "3", "-s", "/tmp/x.socket", NULL) ==
	      CONF_ERROR);
	CHECK(parse("passt", "-t", "auto", NULL) == CONF_ERROR);
	CHECK(parse("passtd", "-t", "auto", "--vm", NULL) == CONF_ERROR);
	CHECK(parse("passtd", "-u", "auto", "--vm", NULL) == CONF_ERROR);
}

int main(void)
{
	UNIT_PLAN(11);
	UNIT_RUN(test_defaults);
	UNIT_RUN(test_addresses);
	UNIT_RUN(test_mtu_mac);
	UNIT_RUN(test_dns_search);
	UNIT_RUN(test_targets);
	UNIT_RUN(test_bad_lines);
	UNIT_RUN(test_flags);
	UNIT_RUN(test_udp_numbers);
	UNIT_RUN(test_ports);
	UNIT_RUN(test_vm_mode);
	UNIT_RUN(test_log_size);
	UNIT_EXIT();
}
