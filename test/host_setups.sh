#!/bin/bash
#
# test/host_setups.sh - the daemon on hosts that are not the textbook one
#
# Each case rebuilds the sandbox's network namespace (the daemon's host
# side, see test/lib/sandbox.sh) into one setup, starts the daemon with
# --config-net against a new guest, and checks that it starts, that the
# guest gets the addresses and routes the setup calls for, that a TCP
# connection from the guest reaches a peer (in the remote namespace, or
# the host's loopback through the gateway address), and that the daemon is
# still running after it:
# - IPv6 only (no IPv4 default route), IPv4 only (no IPv6 one): the
#   daemon runs with the family there is and says so in one log line;
# - a /32 address with a gateway reached on-link (as cloud hosts have);
# - a multipath (ECMP) default route over host0 and host1: the first
#   nexthop is the gateway, its interface the template;
# - the default route on host1 while host0, the first interface, has
#   addresses but no default route: host1 is the template;
# - a point-to-point, layer-3-only template (tun0, held and relayed to a
#   tun0 in the remote namespace by test/tools/tun_relay.py: no MAC, no
#   neighbours, a default route without gateway, as a VPN gives): the
#   guest gets the host's addresses and the link-local gateways of
#   pasta's local mode, 169.254.2.2 and fe80::1;
# - no default route at all, host0 with its addresses: the guest gets
#   those addresses and the link-local gateways, reaches the on-link
#   remote, the host's loopback through the gateway, and -t forwards work;
# - no route at all (host0 down): pasta's local mode, a tap0 with
#   169.254.2.1/16 via 169.254.2.2, which maps to the host's loopback;
# - /etc/resolv.conf naming only a loopback resolver (127.0.0.53): DNS
#   from the guest to its gateway, over UDP and TCP, reaches it, and so
#   does DNS to --dns-forward 169.254.1.1 with --no-map-gw (Podman's).

# shellcheck disable=SC2317 # helpers are called through ktap_check
# shellcheck source=test/lib/sandbox.sh
. "$(dirname "$0")/lib/sandbox.sh"

require_tools ip nsenter unshare timeout python3
require_passtd
setup_sandbox

TUN_RELAY=$TEST_DIR/tools/tun_relay.py
DNS_TOOL=$TEST_DIR/tools/dns_tool.py
R_PORT=8080			# TCP server in the remote namespace
LO_PORT=8081			# TCP server on the host's loopback
FWD_PORT=8082			# -t forward to a server in the guest
HOST1_ADDR4=203.0.113.1		# host1: a second veth to the remote
HOST1_ADDR6=2001:db8:2::1
REMOTE1_ADDR4=203.0.113.2
REMOTE1_ADDR6=2001:db8:2::2
TUN_ADDR4=203.0.113.101	# tun0, host end; the remote end is .102
TUN_ADDR6=2001:db8:3::1
LL_GW4=169.254.2.2		# gateways when the host has none
LL_GW6=fe80::1
LOCAL_ADDR4=169.254.2.1		# local mode's guest address
LO_DNS4=127.0.0.53
LO_ANSWER4=203.0.113.53
DNS_FWD4=169.254.1.1		# --dns-forward, as Podman passes it
RELAY_PID=

# A TCP server: answers every connection with "pong PEER" (the client's
# address as it sees it), then closes it; prints "listening" once bound.
PY_SERVE='
import socket, sys
addr, port = sys.argv[1], int(sys.argv[2])
fam = socket.AF_INET6 if ":" in addr else socket.AF_INET
s = socket.socket(fam, socket.SOCK_STREAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((addr, port))
s.listen(16)
print("listening", flush=True)
s.settimeout(120)
while True:
    c, peer = s.accept()
    c.settimeout(5)
    c.recv(64)
    c.sendall(b"pong " + peer[0].encode())
    c.close()
'
# A TCP client: connects (3 s at most), prints what the server answers
PY_CONNECT='
import socket, sys
ai = socket.getaddrinfo(sys.argv[1], int(sys.argv[2]), 0,
                        socket.SOCK_STREAM)[0]
s = socket.socket(ai[0], socket.SOCK_STREAM)
s.settimeout(3)
s.connect(ai[4])
s.sendall(b"ping")
print(s.recv(64).decode())
'

# serve() - Start a TCP server in a namespace, wait until it listens
# $1:	Namespace (PID or host)
# $2:	Address to bind
# $3:	Port
serve() {
	local ns=$1; shift
	local addr=$1; shift
	local port=$1; shift
	local out=$SANDBOX_TMP/serve.${addr//[:%]/_}.$port.out

	bg_in "$ns" "$out" python3 -c "$PY_SERVE" "$addr" "$port"
	busywait 5000 server_ready "$out" "$BG_PID"
	grep -q '^listening' "$out" ||
		{ ktap_diag "server at $addr $port: $(cat "$out")"; return 1; }
}

# connect_ok() - Connect from a namespace, expect the server's answer
# $1:	Namespace (PID or host)
# $2:	Address
# $3:	Port
# $4:	Client address the server must have seen (optional)
connect_ok() {
	local ns=$1; shift
	local addr=$1; shift
	local port=$1; shift
	local peer=${1:-}
	local out

	out=$(run_in "$ns" timeout 10 python3 -c "$PY_CONNECT" "$addr" \
	      "$port" 2>&1) || { echo "$out" | tail -n 1; return 1; }
	echo "answer: $out"
	[[ "$out" == pong* ]] || return 1
	[ -z "$peer" ] || [ "$out" = "pong $peer" ] || [ "$out" = \
		"pong ::ffff:$peer" ]
}

# guest_addr() - Succeed if the guest's tap has exactly these global
# addresses of a family
# $1:	Tap name
# $2:	-4 or -6
# $@:	Addresses with prefix length, as ip(8) prints them (none: no
#	address of that family); those the guest made from router
#	advertisements (SLAAC, "dynamic") do not count
guest_addr() {
	local ifname=$1; shift
	local family=$1; shift
	local have want

	have=$(in_guest ip -o "$family" addr show dev "$ifname" scope global |
	       grep -v ' dynamic ' | awk '{ print $4 }' | sort)
	want=$(printf '%s\n' "$@" | sort)
	echo "have: ${have//$'\n'/ }"
	[ $# -eq 0 ] && { [ -z "$have" ]; return; }
	[ "$have" = "$want" ]
}

# guest_default() - Succeed if the guest's default route of a family goes
# via a gateway on the tap (none: the family has no default route)
# $1:	Tap name
# $2:	-4 or -6
# $3:	Gateway, or "none"
guest_default() {
	local ifname=$1; shift
	local family=$1; shift
	local gw=$1; shift
	local out

	out=$(in_guest ip "$family" route show default)
	echo "have: $out"
	if [ "$gw" = none ]; then
		[ -z "$out" ]
	else
		echo "$out" | grep -qE "^default via $gw dev $ifname( |$)"
	fi
}

# log_once() - Succeed if exactly one line of the daemon's log matches
# $1:	Extended regular expression
log_once() {
	local re=$1; shift
	local n

	n=$(grep -cE "$re" "$DAEMON_LOG")
	echo "$n lines match '$re'"
	[ "$n" -eq 1 ]
}

# host_standard() - The sandbox's standard host side (test/lib/sandbox.sh)
host_standard() {
	[ -n "$RELAY_PID" ] && stop_pid "$RELAY_PID"
	RELAY_PID=
	ip link del host1 2>/dev/null
	ip link set "$HOST_IF" up
	ip addr flush dev "$HOST_IF" scope global
	ip route flush dev "$HOST_IF"
	ip -6 route flush dev "$HOST_IF"
	ip addr add "$HOST_ADDR4/24" dev "$HOST_IF" &&
	ip -6 addr add "$HOST_ADDR6/64" dev "$HOST_IF" nodad &&
	ip route replace default via "$REMOTE_ADDR4" dev "$HOST_IF" &&
	ip -6 route replace default via "$REMOTE_ADDR6" dev "$HOST_IF"
}

# host1_add() - A second veth, host1 to remote1, on 203.0.113.0/24 and
# 2001:db8:2::/64
host1_add() {
	ip link add host1 type veth peer name remote1 \
		netns "/proc/$REMOTE_PID/ns/net" &&
	ip addr add "$HOST1_ADDR4/24" dev host1 &&
	ip -6 addr add "$HOST1_ADDR6/64" dev host1 nodad &&
	ip link set host1 up &&
	in_remote ip addr add "$REMOTE1_ADDR4/24" dev remote1 &&
	in_remote ip -6 addr add "$REMOTE1_ADDR6/64" dev remote1 nodad &&
	in_remote ip link set remote1 up &&
	busywait 3000 sh -c 'ip link show dev host1 | grep -q LOWER_UP'
}

# tun_add() - tun0 here and in the remote, relayed: 203.0.113.101/24 and
# 2001:db8:3::1/64 here, .102 and ::2 there; default route via tun0
# without a gateway, here
tun_add() {
	local out=$SANDBOX_TMP/tun_relay.out

	bg_in host "$out" python3 "$TUN_RELAY" tun0 \
		"/proc/$REMOTE_PID/ns/net" 300
	RELAY_PID=$BG_PID
	busywait 5000 server_ready "$out" "$RELAY_PID"
	grep -q '^listening' "$out" ||
		{ ktap_diag "tun relay: $(cat "$out")"; return 1; }
	ip addr add "$TUN_ADDR4/24" dev tun0 &&
	ip -6 addr add "$TUN_ADDR6/64" dev tun0 nodad &&
	ip link set tun0 up &&
	in_remote ip addr add 203.0.113.102/24 dev tun0 &&
	in_remote ip -6 addr add 2001:db8:3::2/64 dev tun0 nodad &&
	in_remote ip link set tun0 up &&
	ip route replace default dev tun0 &&
	ip -6 route replace default dev tun0
}

# daemon_start() - Start the daemon with --config-net on a tap, report it
# $1:	Case label
# $2:	Tap name (the template interface's, as the daemon names it)
# $@:	More daemon options
daemon_start() {
	local label=$1; shift
	local ifname=$1; shift
	local rc

	HOST_IF=$ifname start_daemon --config-net "$@"
	rc=$?
	ktap_result "$label: daemon starts, tap $ifname up" $rc
	return $rc
}

# daemon_end() - Report that the daemon still runs, then stop it
# $1:	Case label
daemon_end() {
	local label=$1; shift

	ktap_check "$label: daemon still running" daemon_alive
	stop_daemon
}

# skip_rest() - Skip the checks of a case whose daemon did not start
# $1:	Case label
# $2:	Number of checks
skip_rest() {
	local label=$1; shift
	local n=$1; shift
	local i

	for ((i = 1; i <= n; i++)); do
		ktap_skip "$label: check $i" "no daemon"
	done
}

ktap_plan 68

if ! { serve "$REMOTE_PID" :: "$R_PORT" &&
	serve host 127.0.0.1 "$LO_PORT" && serve host ::1 "$LO_PORT"; }; then
	ktap_diag "servers did not start: the cases below fail"
fi

# IPv6 only
L="IPv6 only"
ip route del default
ip addr flush dev host0 scope global to 0.0.0.0/0
if daemon_start "$L" host0; then
	ktap_check "$L: no IPv4 address" guest_addr host0 -4
	ktap_check "$L: address $HOST_ADDR6/64" \
		guest_addr host0 -6 "$HOST_ADDR6/64"
	ktap_check "$L: default via $REMOTE_ADDR6" \
		guest_default host0 -6 "$REMOTE_ADDR6"
	ktap_check "$L: TCP to the remote" \
		connect_ok "$GUEST_PID" "$REMOTE_LO6" "$R_PORT" "$HOST_ADDR6"
	ktap_check "$L: one log line says IPv6 only" log_once "IPv6 only"
	daemon_end "$L"
else
	skip_rest "$L" 6
fi
host_standard

# IPv4 only
L="IPv4 only"
ip -6 route del default
ip -6 addr flush dev host0 scope global
if daemon_start "$L" host0; then
	ktap_check "$L: no IPv6 address" guest_addr host0 -6
	ktap_check "$L: address $HOST_ADDR4/24" \
		guest_addr host0 -4 "$HOST_ADDR4/24"
	ktap_check "$L: default via $REMOTE_ADDR4" \
		guest_default host0 -4 "$REMOTE_ADDR4"
	ktap_check "$L: TCP to the remote" \
		connect_ok "$GUEST_PID" "$REMOTE_LO4" "$R_PORT" "$HOST_ADDR4"
	ktap_check "$L: one log line says IPv4 only" log_once "IPv4 only"
	daemon_end "$L"
else
	skip_rest "$L" 6
fi
host_standard

# A /32 address, the gateway on-link
L="/32 address"
ip addr flush dev host0 scope global to 0.0.0.0/0
ip addr add "$HOST_ADDR4/32" dev host0
ip route replace default via "$REMOTE_ADDR4" dev host0 onlink
if daemon_start "$L" host0; then
	ktap_check "$L: address $HOST_ADDR4/32" \
		guest_addr host0 -4 "$HOST_ADDR4/32"
	ktap_check "$L: default via $REMOTE_ADDR4" \
		guest_default host0 -4 "$REMOTE_ADDR4"
	ktap_check "$L: TCP to the remote" \
		connect_ok "$GUEST_PID" "$REMOTE_LO4" "$R_PORT" "$HOST_ADDR4"
	daemon_end "$L"
else
	skip_rest "$L" 4
fi
host_standard

# Multipath default routes
L="ECMP"
if ! { host1_add &&
	ip route replace default nexthop via "$REMOTE_ADDR4" dev host0 \
		nexthop via "$REMOTE1_ADDR4" dev host1 &&
	ip -6 route replace default nexthop via "$REMOTE_ADDR6" dev host0 \
		nexthop via "$REMOTE1_ADDR6" dev host1; }; then
	ktap_diag "$L: cannot set up the routes"
fi
if daemon_start "$L" host0; then
	ktap_check "$L: address $HOST_ADDR4/24" \
		guest_addr host0 -4 "$HOST_ADDR4/24"
	ktap_check "$L: address $HOST_ADDR6/64" \
		guest_addr host0 -6 "$HOST_ADDR6/64"
	ktap_check "$L: default via $REMOTE_ADDR4" \
		guest_default host0 -4 "$REMOTE_ADDR4"
	ktap_check "$L: default via $REMOTE_ADDR6" \
		guest_default host0 -6 "$REMOTE_ADDR6"
	ktap_check "$L: TCP to the remote over IPv4" \
		connect_ok "$GUEST_PID" "$REMOTE_LO4" "$R_PORT"
	ktap_check "$L: TCP to the remote over IPv6" \
		connect_ok "$GUEST_PID" "$REMOTE_LO6" "$R_PORT"
	daemon_end "$L"
else
	skip_rest "$L" 7
fi
host_standard

# The default route on the second interface
L="default on host1"
if ! { host1_add && ip route del default && ip -6 route del default &&
	ip route add default via "$REMOTE1_ADDR4" dev host1 &&
	ip -6 route add default via "$REMOTE1_ADDR6" dev host1; }; then
	ktap_diag "$L: cannot set up the routes"
fi
if daemon_start "$L" host1; then
	ktap_check "$L: address $HOST1_ADDR4/24" \
		guest_addr host1 -4 "$HOST1_ADDR4/24"
	ktap_check "$L: address $HOST1_ADDR6/64" \
		guest_addr host1 -6 "$HOST1_ADDR6/64"
	ktap_check "$L: default via $REMOTE1_ADDR4" \
		guest_default host1 -4 "$REMOTE1_ADDR4"
	ktap_check "$L: default via $REMOTE1_ADDR6" \
		guest_default host1 -6 "$REMOTE1_ADDR6"
	ktap_check "$L: TCP to the remote over IPv4" \
		connect_ok "$GUEST_PID" "$REMOTE_LO4" "$R_PORT" "$HOST1_ADDR4"
	ktap_check "$L: TCP to the remote over IPv6" \
		connect_ok "$GUEST_PID" "$REMOTE_LO6" "$R_PORT" "$HOST1_ADDR6"
	daemon_end "$L"
else
	skip_rest "$L" 7
fi
host_standard

# A tun device as the template
L="tun template"
if ! { ip route del default && ip -6 route del default && tun_add; }; then
	ktap_diag "$L: cannot set up tun0"
fi
if daemon_start "$L" tun0; then
	ktap_check "$L: address $TUN_ADDR4/24" \
		guest_addr tun0 -4 "$TUN_ADDR4/24"
	ktap_check "$L: address $TUN_ADDR6/64" \
		guest_addr tun0 -6 "$TUN_ADDR6/64"
	ktap_check "$L: default via $LL_GW4" guest_default tun0 -4 "$LL_GW4"
	ktap_check "$L: default via $LL_GW6" guest_default tun0 -6 "$LL_GW6"
	ktap_check "$L: TCP to the remote over IPv4" \
		connect_ok "$GUEST_PID" "$REMOTE_LO4" "$R_PORT" "$TUN_ADDR4"
	ktap_check "$L: TCP to the remote over IPv6" \
		connect_ok "$GUEST_PID" "$REMOTE_LO6" "$R_PORT" "$TUN_ADDR6"
	ktap_check "$L: TCP to the host's loopback via $LL_GW4" \
		connect_ok "$GUEST_PID" "$LL_GW4" "$LO_PORT"
	daemon_end "$L"
else
	skip_rest "$L" 8
fi
host_standard

# No default route
L="no default route"
serve_guest_ok=1
ip route del default
ip -6 route del default
if daemon_start "$L" host0 -t "$FWD_PORT"; then
	ktap_check "$L: address $HOST_ADDR4/24" \
		guest_addr host0 -4 "$HOST_ADDR4/24"
	ktap_check "$L: address $HOST_ADDR6/64" \
		guest_addr host0 -6 "$HOST_ADDR6/64"
	ktap_check "$L: default via $LL_GW4" guest_default host0 -4 "$LL_GW4"
	ktap_check "$L: default via $LL_GW6" guest_default host0 -6 "$LL_GW6"
	ktap_check "$L: TCP to the on-link remote" \
		connect_ok "$GUEST_PID" "$REMOTE_ADDR4" "$R_PORT" "$HOST_ADDR4"
	ktap_check "$L: TCP to the host's loopback via $LL_GW4" \
		connect_ok "$GUEST_PID" "$LL_GW4" "$LO_PORT"
	ktap_check "$L: TCP to the host's loopback via $LL_GW6" \
		connect_ok "$GUEST_PID" "$LL_GW6%host0" "$LO_PORT"
	serve "$GUEST_PID" 0.0.0.0 "$FWD_PORT" || serve_guest_ok=0
	ktap_check "$L: -t $FWD_PORT from the remote" \
		connect_ok "$REMOTE_PID" "$HOST_ADDR4" "$FWD_PORT" \
		"$REMOTE_ADDR4"
	daemon_end "$L"
else
	skip_rest "$L" 9
fi
[ "$serve_guest_ok" = 1 ] || ktap_diag "$L: guest server did not start"
host_standard

# No route at all: local mode
L="no route (local mode)"
ip link set host0 down
if daemon_start "$L" tap0; then
	ktap_check "$L: address $LOCAL_ADDR4/16" \
		guest_addr tap0 -4 "$LOCAL_ADDR4/16"
	ktap_check "$L: default via $LL_GW4" guest_default tap0 -4 "$LL_GW4"
	ktap_check "$L: TCP to the host's loopback via $LL_GW4" \
		connect_ok "$GUEST_PID" "$LL_GW4" "$LO_PORT"
	ktap_check "$L: one log line says local mode" log_once "local mode"
	daemon_end "$L"
else
	skip_rest "$L" 5
fi
host_standard

# A loopback resolver only
L="loopback resolver"
printf 'nameserver %s\n' "$LO_DNS4" >"$SANDBOX_TMP/resolv.conf"
bg_in host "$SANDBOX_TMP/dns.out" python3 "$DNS_TOOL" serve "$LO_DNS4" 53 \
	"$LO_ANSWER4" 2001:db8:53::1 300
busywait 5000 server_ready "$SANDBOX_TMP/dns.out" "$BG_PID"
if daemon_start "$L" host0; then
	ktap_check "$L: UDP query to the gateway answered" sh -c \
		"nsenter --net=/proc/$GUEST_PID/ns/net -- python3 $DNS_TOOL \
		 query $REMOTE_ADDR4 53 www.example.test |
		 grep -qx answer=$LO_ANSWER4"
	ktap_check "$L: TCP query to the gateway answered" sh -c \
		"nsenter --net=/proc/$GUEST_PID/ns/net -- python3 $DNS_TOOL \
		 query -t $REMOTE_ADDR4 53 www.example.test |
		 grep -qx answer=$LO_ANSWER4"
	daemon_end "$L"
else
	skip_rest "$L" 3
fi
L="loopback resolver, --dns-forward"
if daemon_start "$L" host0 --dns-forward "$DNS_FWD4" --no-map-gw; then
	ktap_check "$L: UDP query to $DNS_FWD4 answered" sh -c \
		"nsenter --net=/proc/$GUEST_PID/ns/net -- python3 $DNS_TOOL \
		 query $DNS_FWD4 53 www.example.test |
		 grep -qx answer=$LO_ANSWER4"
	ktap_check "$L: TCP query to $DNS_FWD4 answered" sh -c \
		"nsenter --net=/proc/$GUEST_PID/ns/net -- python3 $DNS_TOOL \
		 query -t $DNS_FWD4 53 www.example.test |
		 grep -qx answer=$LO_ANSWER4"
	daemon_end "$L"
else
	skip_rest "$L" 3
fi

ktap_finish
