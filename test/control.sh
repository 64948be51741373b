#!/bin/bash
#
# test/control.sh - DHCP, SLAAC, DHCPv6, ICMP echo and the pcap capture
#
# Real clients in the guest: busybox udhcpc takes a lease (its event script
# records what it got and configures the interface), the kernel configures
# an address from the router advertisement, a small DHCPv6 client asks for
# an address, ping reaches the gateway (the sandbox's loopback) and the
# remote namespace over both families. tshark then reads the daemon's pcap.

# shellcheck disable=SC2317 # helpers are called through ktap_check, slowwait
# shellcheck source=test/lib/sandbox.sh
. "$(dirname "$0")/lib/sandbox.sh"

require_tools ip nsenter unshare timeout busybox ping tshark
require_passtd
setup_sandbox

UDHCPC_SCRIPT=$SANDBOX_TMP/udhcpc.sh
DHCPV6_CLIENT=$TEST_DIR/tools/dhcpv6_client.py

cat >"$UDHCPC_SCRIPT" <<'EOF'
#!/bin/sh
# udhcpc event script: record the lease, configure it if asked to
case "$1" in
bound|renew)
	for v in ip subnet mask router dns mtu domain search broadcast; do
		eval "val=\${$v-}"
		[ -n "$val" ] && echo "$v=$val"
	done >"$LEASE_FILE"
	if [ -n "${CONFIGURE:-}" ]; then
		ip addr add "$ip/$mask" dev "$interface"
		[ -n "${router:-}" ] &&
			ip route add default via "${router%% *}" dev "$interface"
	fi
	;;
esac
exit 0
EOF
chmod +x "$UDHCPC_SCRIPT"

# dhcp_lease() - Run udhcpc in the guest until it takes a lease
# $1:	File for the lease variables
# $2:	Non-empty to configure the interface with the lease
#
# Return: udhcpc's status (0: lease taken)
dhcp_lease() {
	local file=$1; shift
	local configure=$1; shift

	rm -f "$file"
	LEASE_FILE=$file CONFIGURE=$configure timeout 20 \
		nsenter --net="/proc/$GUEST_PID/ns/net" -- \
		busybox udhcpc -i host0 -f -q -n -t 4 -T 1 -A 1 \
			-O mtu -O search -s "$UDHCPC_SCRIPT" \
			>"$SANDBOX_TMP/udhcpc.out" 2>&1
}

# lease_has() - Succeed if a lease file holds a variable with a value
# $1:	Lease file
# $2:	Variable
# $3:	Value
lease_has() {
	local file=$1; shift
	local var=$1; shift
	local val=$1; shift

	grep -qxF "$var=$val" "$file" 2>/dev/null
}

# lease_check() - Report one lease variable as a result
# $1:	Lease file
# $2:	Variable
# $3:	Expected value
lease_check() {
	local file=$1; shift
	local var=$1; shift
	local val=$1; shift

	lease_has "$file" "$var" "$val"
	ktap_result "DHCP lease: $var $val" $? \
		"lease: $(tr '\n' ' ' <"$file" 2>/dev/null)"
}

# slaac_addr() - Succeed if the guest has a global address in 2001:db8::/64
slaac_addr() {
	in_guest ip -6 -o addr show dev host0 scope global |
		grep -qE 'inet6 2001:db8::[0-9a-f:]+/64'
}

# ll_default() - Succeed if the guest has a default route via link-local
ll_default() {
	in_guest ip -6 route show default | grep -q 'via fe80:'
}

# ll_ready() - Succeed if the guest's link-local address is usable
ll_ready() {
	local out

	out=$(in_guest ip -6 -o addr show dev host0 scope link) || return 1
	echo "$out" | grep -q 'inet6 fe80:' &&
		! echo "$out" | grep -q tentative
}

# ping_ok() - Ping from the guest, retrying for a few seconds
# $@:	ping arguments before the destination, then the destination
ping_ok() {
	slowwait 6 in_guest ping -c 1 -W 1 "$@" >/dev/null 2>&1
}

# pcap_count() - Print how many frames of a pcap file match a filter
# $1:	File
# $2:	Display filter
pcap_count() {
	local file=$1; shift
	local filter=$1; shift

	tshark -r "$file" -Y "$filter" 2>/dev/null | grep -c ''
}

# pcap_check() - Report whether a pcap file has frames matching a filter
# $1:	Result name
# $2:	File
# $3:	Display filter
pcap_check() {
	local name=$1; shift
	local file=$1; shift
	local filter=$1; shift

	[ "$(pcap_count "$file" "$filter")" -gt 0 ]
	ktap_result "$name" $? "no frame matches '$filter'"
}

ktap_plan 28

# Daemon 1: no --config-net, DNS and search list in DHCP, pcap capture
pcap=$SANDBOX_TMP/capture.pcap
lease=$SANDBOX_TMP/lease.1
if start_daemon --dhcp-dns --dhcp-search -p "$pcap"; then
	dhcp_lease "$lease" yes
	ktap_result "DHCP: udhcpc takes a lease" $? \
		"$(cat "$SANDBOX_TMP/udhcpc.out")"
	lease_check "$lease" ip 192.0.2.1
	lease_check "$lease" subnet 255.255.255.0
	lease_check "$lease" mask 24
	lease_check "$lease" router 192.0.2.2
	lease_check "$lease" dns 192.0.2.53
	lease_check "$lease" mtu 65520
	lease_has "$lease" search example.test ||
		lease_has "$lease" domain example.test
	ktap_result "DHCP lease: search list example.test (--dhcp-search)" \
		$? "lease: $(tr '\n' ' ' <"$lease" 2>/dev/null)"

	ping_ok 192.0.2.2
	ktap_result "ping gateway after DHCP configuration" $?

	slowwait 10 slaac_addr
	ktap_result "SLAAC: address in 2001:db8::/64" $? \
		"$(in_guest ip -6 addr show dev host0 2>&1)"
	slowwait 5 ll_default
	ktap_result "SLAAC: default route via a link-local router" $? \
		"$(in_guest ip -6 route 2>&1)"

	if [ -f "$DHCPV6_CLIENT" ] && command -v python3 >/dev/null; then
		slowwait 5 ll_ready
		out=$(timeout 20 nsenter --net="/proc/$GUEST_PID/ns/net" -- \
			python3 "$DHCPV6_CLIENT" host0 2>&1)
		echo "$out" | grep -qx 'address=2001:db8::1'
		ktap_result "DHCPv6: address 2001:db8::1" $? "$out"
		echo "$out" | grep -qx 'dns=2001:db8::53'
		ktap_result "DHCPv6: DNS 2001:db8::53 (--dhcp-dns)" $? "$out"
	elif busybox --list | grep -qx udhcpc6; then
		ktap_skip "DHCPv6: address 2001:db8::1" "client script missing"
		ktap_skip "DHCPv6: DNS 2001:db8::53 (--dhcp-dns)" \
			"client script missing"
	else
		ktap_skip "DHCPv6: address 2001:db8::1" "no DHCPv6 client"
		ktap_skip "DHCPv6: DNS 2001:db8::53 (--dhcp-dns)" \
			"no DHCPv6 client"
	fi

	ping_ok -6 2001:db8::2
	ktap_result "ping6 gateway after SLAAC" $?

	stop_daemon
	ktap_result "daemon exits on SIGTERM" $?
else
	for n in "DHCP: udhcpc takes a lease" "DHCP lease: ip 192.0.2.1" \
		 "DHCP lease: subnet 255.255.255.0" "DHCP lease: mask 24" \
		 "DHCP lease: router 192.0.2.2" "DHCP lease: dns 192.0.2.53" \
		 "DHCP lease: mtu 65520" "DHCP lease: search list" \
		 "ping gateway after DHCP configuration" \
		 "SLAAC: address in 2001:db8::/64" \
		 "SLAAC: default route via a link-local router" \
		 "DHCPv6: address 2001:db8::1" "DHCPv6: DNS 2001:db8::53" \
		 "ping6 gateway after SLAAC" "daemon exits on SIGTERM"; do
		ktap_fail "$n" "daemon did not start"
	done
fi

# The capture of daemon 1
if [ -s "$pcap" ] && tshark -r "$pcap" >/dev/null 2>&1; then
	ktap_ok "pcap: tshark reads the capture"
else
	ktap_fail "pcap: tshark reads the capture" \
		"$(ls -l "$pcap" 2>&1)" "$(tshark -r "$pcap" 2>&1 | tail -n 3)"
fi
pcap_check "pcap: DHCP DISCOVER" "$pcap" "dhcp.option.dhcp == 1"
pcap_check "pcap: DHCP OFFER" "$pcap" "dhcp.option.dhcp == 2"
pcap_check "pcap: DHCP REQUEST" "$pcap" "dhcp.option.dhcp == 3"
pcap_check "pcap: DHCP ACK" "$pcap" "dhcp.option.dhcp == 5"
pcap_check "pcap: ICMP echo request" "$pcap" "icmp.type == 8"
pcap_check "pcap: ICMP echo reply" "$pcap" "icmp.type == 0"

# Daemon 2: --config-net, no DNS options
lease=$SANDBOX_TMP/lease.2
if start_daemon --config-net; then
	ping_ok 192.0.2.2
	ktap_result "ping gateway 192.0.2.2 (host loopback)" $?
	ping_ok 198.51.100.1
	ktap_result "ping remote 198.51.100.1" $?
	ping_ok -6 2001:db8::2
	ktap_result "ping6 gateway 2001:db8::2 (host loopback)" $?
	ping_ok -6 2001:db8:1::1
	ktap_result "ping6 remote 2001:db8:1::1" $?

	dhcp_lease "$lease" ""
	rc=$?
	[ $rc -eq 0 ] && ! grep -q '^dns=' "$lease"
	ktap_result "DHCP lease without --dhcp-dns has no DNS" $? \
		"udhcpc status $rc, lease: $(tr '\n' ' ' <"$lease" 2>/dev/null)"
	stop_daemon
else
	for n in "ping gateway 192.0.2.2 (host loopback)" \
		 "ping remote 198.51.100.1" \
		 "ping6 gateway 2001:db8::2 (host loopback)" \
		 "ping6 remote 2001:db8:1::1" \
		 "DHCP lease without --dhcp-dns has no DNS"; do
		ktap_fail "$n" "daemon did not start"
	done
fi

# Daemon 3: --no-dhcp
lease=$SANDBOX_TMP/lease.3
if start_daemon --no-dhcp; then
	dhcp_lease "$lease" ""
	ktap_result "--no-dhcp: no lease" $(( ! $? ))
	stop_daemon
else
	ktap_fail "--no-dhcp: no lease" "daemon did not start"
fi

ktap_finish
