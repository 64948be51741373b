#!/bin/bash
#
# test/gw_ll6.sh - a host whose IPv6 default route goes via a link-local
# router, as on any host configured by router advertisements
#
# The sandbox host's IPv6 default route is set via fe80::2, a link-local
# address of the remote's end of the veth (its router). As with pasta, the
# namespace's default route is then that same address, from --config-net
# and from the daemon's RAs alike (`ip -6 route` in the namespace against
# the host's), and TCP, UDP and ping to it stand for the host: they reach
# the host's loopback, unless --no-map-gw, where they go to the router
# itself, on the host's interface. A server answers on the host's
# loopback and another on the router, each with its own tag, so each check
# sees which one the guest reached. Last, with a global gateway
# (2001:db8::2) the route and the mapping stay as they were.

# shellcheck disable=SC2317 # helpers are called through ktap_check, slowwait
# shellcheck source=test/lib/sandbox.sh
. "$(dirname "$0")/lib/sandbox.sh"

require_tools ip nsenter unshare timeout python3 ping
require_passtd
setup_sandbox

ECHO_PEER=$TEST_DIR/tools/echo_peer.py
ROUTER_LL=fe80::2	# the remote's end of the veth, the host's router
PORT=5301

# default_gws() - Print the sorted gateways of a namespace's IPv6 default
# routes, one a line
# $1:	PID holding the namespace, or "host" for the sandbox's own
default_gws() {
	local ns=$1; shift

	run_in "$ns" ip -6 route show default |
		awk '$1 == "default" && $2 == "via" { print $3 }' | sort -u
}

# settled() - Succeed once the guest has no tentative address left: its
# link-local passed DAD, so it sent its Router Solicitation
settled() {
	! in_guest ip -6 addr show dev "$HOST_IF" tentative | grep -q inet6
}

# ra_done() - Succeed once the guest took an RA (an address from its
# prefix) and settled
ra_done() {
	in_guest ip -6 addr show dev "$HOST_IF" | grep -q ' dynamic ' &&
		settled
}

# same_gws() - Succeed if the guest's IPv6 default routes all go via the
# host's gateway
# $1:	"ra" to wait for an RA to be taken first; else the guest settles
#	and gets a second to take one, if any comes
same_gws() {
	local ra=${1:-} host guest

	if [ "$ra" = ra ]; then
		if ! slowwait 10 ra_done; then
			echo "no address from an RA"
			return 1
		fi
	else
		slowwait 10 settled || { echo "tentative addresses"; return 1; }
		sleep 1
	fi
	host=$(default_gws host)
	guest=$(default_gws "$GUEST_PID")
	[ -n "$host" ] && [ "$host" = "$guest" ] && return 0
	echo "host: $host / namespace: $guest"
	in_guest ip -6 route show default
	return 1
}

# has_default() - Succeed if the guest has a default route via a gateway
# $1:	Gateway
has_default() {
	local gw=$1; shift

	in_guest ip -6 route show default | grep -qE "^default via $gw( |$)"
}

# guest_gw() - Print the guest's IPv6 default gateway, as ip(8) shows it
guest_gw() {
	default_gws "$GUEST_PID" | head -n 1
}

# scoped() - Print an address with the guest's interface if link-local
# $1:	Address
scoped() {
	local a=$1; shift

	case "$a" in
	fe80:*) echo "$a%$HOST_IF" ;;
	*) echo "$a" ;;
	esac
}

# reaches() - Succeed if TCP or UDP from the guest to an address gets the
# answer of a given server
# $1:	tcp or udp
# $2:	Address
# $3:	Tag of the server that must answer
reaches() {
	local proto=$1; shift
	local addr=$1; shift
	local tag=$1; shift
	local out

	out=$(in_guest timeout 10 python3 "$ECHO_PEER" ask "$proto" \
		"$(scoped "$addr")" "$PORT")
	[ "$out" = "reply $tag" ] && return 0
	echo "$proto to $addr: ${out:-no output}, wanted reply $tag"
	return 1
}

# pings() - Succeed if the guest's ping to an address gets an answer
# $1:	Address
pings() {
	local addr=$1; shift

	in_guest timeout 10 ping -6 -c 1 -W 2 "$(scoped "$addr")"
}

# start_server() - Start a tagged server in a namespace, wait until ready
# $1:	PID holding the namespace, or "host"
# $2:	Address to listen on
# $3:	Tag
start_server() {
	local ns=$1; shift
	local addr=$1; shift
	local tag=$1; shift
	local out=$SANDBOX_TMP/server.$tag

	bg_in "$ns" "$out" python3 "$ECHO_PEER" -t 300 serve "$addr" \
		"$PORT" "$tag"
	slowwait 5 server_ready "$out" "$BG_PID"
	has_line "$out" listening
}

# fail_all() - Report every result of a case as failed
# $1:	Why
# $@:	Result names
fail_all() {
	local why=$1; shift
	local n

	for n in "$@"; do
		ktap_fail "$n" "$why"
	done
}

ktap_plan 14

if ! in_remote ip -6 addr add "$ROUTER_LL/64" dev "$REMOTE_IF" nodad ||
   ! ip -6 route replace default via "$ROUTER_LL" dev "$HOST_IF"; then
	echo "# cannot route the host via $ROUTER_LL"
	exit "$KSFT_FAIL"
fi
if ! start_server host ::1 host || ! start_server "$REMOTE_PID" :: router
then
	echo "# cannot start the servers"
	exit "$KSFT_FAIL"
fi
ktap_diag "host: $(ip -6 route show default)"

# --config-net: the route it sets and the one the RAs give are the host's
names=("--config-net: default routes as the host's (via $ROUTER_LL)"
       "--config-net: TCP to the gateway reaches the host's loopback"
       "--config-net: UDP to the gateway reaches the host's loopback"
       "--config-net: ping to the gateway is answered")
if start_daemon --config-net; then
	ktap_check "${names[0]}" same_gws
	gw=$(guest_gw)
	ktap_check "${names[1]}" reaches tcp "$gw" host
	ktap_check "${names[2]}" reaches udp "$gw" host
	ktap_check "${names[3]}" pings "$gw"
	stop_daemon
else
	fail_all "daemon did not start" "${names[@]}"
fi

# Without --config-net the namespace has only what the RAs say
names=("RAs only: default route as the host's (via $ROUTER_LL)"
       "RAs only: TCP to the gateway reaches the host's loopback")
if start_daemon; then
	ktap_check "${names[0]}" same_gws ra
	ktap_check "${names[1]}" reaches tcp "$(guest_gw)" host
	stop_daemon
else
	fail_all "daemon did not start" "${names[@]}"
fi

# --no-map-gw: the gateway is the router itself, on the host's interface
names=("--no-map-gw: default routes as the host's (via $ROUTER_LL)"
       "--no-map-gw: TCP to the gateway reaches the router, not the host"
       "--no-map-gw: UDP to the gateway reaches the router, not the host"
       "--no-map-gw: ping to the gateway is answered by the router")
if start_daemon --config-net --no-map-gw; then
	ktap_check "${names[0]}" same_gws
	gw=$(guest_gw)
	ktap_check "${names[1]}" reaches tcp "$gw" router
	ktap_check "${names[2]}" reaches udp "$gw" router
	ktap_check "${names[3]}" pings "$gw"
	stop_daemon
else
	fail_all "daemon did not start" "${names[@]}"
fi

# A datagram from a link-local peer (the router) to a -u port: the guest's
# reply must leave on the interface it came from, or sendto() refuses it
name="-u from a link-local peer: the guest's reply reaches it"
host_ll=$(ip -6 addr show dev "$HOST_IF" scope link |
	  awk '$1 == "inet6" { sub("/.*", "", $2); print $2; exit }')
if start_daemon --config-net -u 5303 -t none -T none -U none; then
	out=$SANDBOX_TMP/server.guest
	bg_in "$GUEST_PID" "$out" python3 "$ECHO_PEER" -t 60 serve :: 5303 \
		guest
	slowwait 5 server_ready "$out" "$BG_PID"
	got=$(in_remote timeout 10 python3 "$ECHO_PEER" ask udp \
		"$host_ll%$REMOTE_IF" 5303)
	ktap_result "$name" "$([ "$got" = "reply guest" ]; echo $?)" \
		"from $ROUTER_LL to $host_ll: ${got:-no output}" \
		"$(tail -n 5 "$DAEMON_LOG")"
	stop_daemon
else
	ktap_fail "$name" "daemon did not start"
fi

# A global gateway stays as it was: route via it, mapped to the host
names=("global gateway: default route via $REMOTE_ADDR6"
       "global gateway: TCP to $REMOTE_ADDR6 reaches the host's loopback"
       "global gateway: RAs come from a link-local address of our own")
ip -6 route replace default via "$REMOTE_ADDR6" dev "$HOST_IF"
if start_daemon --config-net; then
	ktap_check "${names[0]}" has_default "$REMOTE_ADDR6"
	ktap_check "${names[1]}" reaches tcp "$REMOTE_ADDR6" host
	slowwait 10 ra_done
	in_guest ip -6 route show default proto ra |
		grep -E "^default via fe80:" | grep -qv "via $ROUTER_LL "
	ktap_result "${names[2]}" $?
	stop_daemon
else
	fail_all "daemon did not start" "${names[@]}"
fi

ktap_finish
