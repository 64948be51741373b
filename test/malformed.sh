#!/bin/bash
#
# test/malformed.sh - malformed frames from the guest must not hurt
#
# frame_inject writes batches of broken frames into the tap from the guest
# side (truncated headers, lengths that lie, option lists that run past the
# end or never advance, oversized frames). After each batch the daemon must
# still run and still answer: ping to the gateway over IPv4 and IPv6, and a
# DHCP lease for udhcpc. Run with PASSTD pointing to a sanitizer build
# (-fsanitize=address,undefined) to have memory errors reported too.

# shellcheck disable=SC2317 # helpers are called through ktap_check, slowwait
# shellcheck source=test/lib/sandbox.sh
. "$(dirname "$0")/lib/sandbox.sh"

require_tools ip nsenter unshare timeout busybox ping
require_passtd
setup_sandbox

UDHCPC_SCRIPT=$SANDBOX_TMP/udhcpc.sh
printf '#!/bin/sh\nexit 0\n' >"$UDHCPC_SCRIPT"
chmod +x "$UDHCPC_SCRIPT"

frame_inject_tool

# Batches: name, then frame names (see frame_inject list)
BATCHES=(
	"Ethernet and ARP|eth-short eth-hdr-only arp-trunc arp-bad-len"
	"IPv4 headers|ipv4-trunc ipv4-totlen ipv4-totlen-small ipv4-ihl3
	 ipv4-ihl15-short ipv4-opts-overrun ipv4-opt-len0 ipv4-frag"
	"UDP, TCP, ICMP over IPv4|udp4-len-big udp4-len-small udp4-trunc
	 tcp4-trunc tcp4-doff15 tcp4-doff0 tcp4-opt-len0 tcp4-opt-overrun
	 icmp4-trunc"
	"DHCP|dhcp-short dhcp-no-cookie dhcp-opt53-len0 dhcp-opt-overrun
	 dhcp-no-end dhcp-code-last dhcp-bad-type dhcp-udp-len-lie"
	"IPv6 headers|ipv6-trunc ipv6-plen ipv6-ext-overrun ipv6-ext-chain
	 ipv6-ext-end ipv6-frag"
	"ICMPv6, NDP, DHCPv6|icmp6-trunc ndp-ns-trunc ndp-ns-optlen0
	 ndp-rs-optlen0 ndp-rs-opt-overrun dhcpv6-trunc dhcpv6-opt-overrun
	 dhcpv6-opt-len0 dhcpv6-ia-overrun"
	"oversized frame|big:70000 big:65535"
)

# dhcp_ok() - Succeed if udhcpc in the guest takes a lease
dhcp_ok() {
	timeout 15 nsenter --net="/proc/$GUEST_PID/ns/net" -- \
		busybox udhcpc -i host0 -f -q -n -t 3 -T 1 -A 1 \
		-s "$UDHCPC_SCRIPT" >/dev/null 2>&1
}

# ping_ok() - Ping from the guest, retrying for a few seconds
# $@:	ping arguments before the destination, then the destination
ping_ok() {
	slowwait 5 in_guest ping -c 1 -W 1 "$@" >/dev/null 2>&1
}

# check_alive() - Report that the daemon runs and answers, four results
# $1:	Label for the result names
check_alive() {
	local label=$1; shift

	daemon_alive
	ktap_result "$label: daemon still running" $?
	ping_ok 192.0.2.2
	ktap_result "$label: ping gateway" $?
	ping_ok -6 2001:db8::2
	ktap_result "$label: ping6 gateway" $?
	dhcp_ok
	ktap_result "$label: DHCP lease" $?
}

ktap_plan $((4 + ${#BATCHES[@]} * 5 + 7))

if ! start_daemon --config-net; then
	for ((i = 0; i < $((4 + ${#BATCHES[@]} * 5 + 7)); i++)); do
		ktap_fail "daemon start $i" "daemon did not start"
	done
	ktap_finish
fi

# The guest's IPv6 address must be usable before pinging from it
slowwait 5 sh -c "! nsenter --net=/proc/$GUEST_PID/ns/net \
	ip -6 addr show dev host0 | grep -q tentative"
check_alive "before"

# Address frames to the daemon's MAC as the guest learnt it
dmac=$(in_guest ip neigh show 192.0.2.2 | awk '/lladdr/ { print $5 }')
inject_opts=()
[ -n "$dmac" ] && inject_opts=(-d "$dmac")

all=()
for batch in "${BATCHES[@]}"; do
	label=${batch%%|*}
	# shellcheck disable=SC2206 # split the list on whitespace
	frames=(${batch#*|})
	all+=("${frames[@]}")
	out=$(in_guest "$FRAME_INJECT" "${inject_opts[@]}" host0 gen \
		"${frames[@]}" 2>&1)
	ktap_result "$label: ${#frames[@]} frames sent" $? "$out"
	check_alive "$label"
done

# Everything again, ten times over, back to back
ok=0
for ((round = 0; round < 10; round++)); do
	in_guest "$FRAME_INJECT" "${inject_opts[@]}" host0 gen "${all[@]}" \
		>/dev/null 2>&1 && ok=$((ok + 1))
done
ktap_result "storm: ${#all[@]} frames, 10 rounds sent" $(( ok != 10 )) \
	"$ok of 10 rounds sent completely"
check_alive "storm"

stop_daemon
ktap_result "daemon exits on SIGTERM after all that" $?
sandbox_sanitizer_reports >/dev/null
ktap_result "no sanitizer report in the daemon log" $?

ktap_finish
