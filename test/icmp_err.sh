#!/bin/bash
#
# test/icmp_err.sh - ICMP errors about the guest's echo requests reach the
# guest: the ping sockets take them (IP_RECVERR, IPV6_RECVERR) and the
# daemon relays them around the echo request the guest sent
#
# The remote namespace holds 198.51.100.7 and 2001:db8:1::7 on its
# loopback and rejects echo requests to them (nftables: host unreachable,
# address unreachable). ping in the guest must say so ("Unreachable"), as
# it does on the kernel's own path, instead of waiting for a reply that
# never comes. Echo requests to the remote's other address still get
# their replies.

# shellcheck disable=SC2317 # helpers are called indirectly
# shellcheck source=test/lib/sandbox.sh
. "$(dirname "$0")/lib/sandbox.sh"

REJECT4=198.51.100.7
REJECT6=2001:db8:1::7

require_tools ip nsenter unshare timeout ping nft grep
require_passtd
setup_sandbox

ktap_plan 6

in_remote ip addr add "$REJECT4/32" dev lo &&
	in_remote ip -6 addr add "$REJECT6/128" dev lo &&
	in_remote nft -f - <<EOF
table inet reject_ping {
	chain input {
		type filter hook input priority 0;
		ip daddr $REJECT4 icmp type echo-request reject with icmp type host-unreachable
		ip6 daddr $REJECT6 icmpv6 type echo-request reject with icmpv6 type addr-unreachable
	}
}
EOF
ktap_result "remote: $REJECT4 and $REJECT6 reject echo requests" $?

start_daemon --config-net -t none -T none -u none -U none >/dev/null 2>&1 &&
	slowwait 10 sh -c "nsenter --net=/proc/$GUEST_PID/ns/net ip -6 route show default | grep -q via"
ktap_result "daemon up, guest configured" $? "$(tail -n 5 "$DAEMON_LOG")"

# ping_check() - One echo request from the guest, what ping says
# $1:	Result name
# $2:	"reply" or "unreachable"
# $@:	ping arguments
ping_check() {
	local name=$1; shift
	local want=$1; shift
	local out rc ok

	out=$(in_guest timeout 10 ping -n -c 1 -W 3 "$@" 2>&1)
	rc=$?
	if [ "$want" = reply ]; then
		[ $rc -eq 0 ]
	else
		[ $rc -ne 0 ] && grep -qi 'unreachable' <<<"$out"
	fi
	ok=$?
	ktap_diag "$(grep -i "^from\|bytes from" <<<"$out" | head -n 1)"
	ktap_result "$name" $ok "ping $*: status $rc" "$out"
}

ping_check "IPv4: echo reply from $REMOTE_LO4" reply "$REMOTE_LO4"
ping_check "IPv4: ping to $REJECT4 reports the host unreachable" \
	unreachable "$REJECT4"
ping_check "IPv6: echo reply from $REMOTE_LO6" reply -6 "$REMOTE_LO6"
ping_check "IPv6: ping to $REJECT6 reports the address unreachable" \
	unreachable -6 "$REJECT6"

stop_daemon
ktap_finish
