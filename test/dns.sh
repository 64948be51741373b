#!/bin/bash
#
# test/dns.sh - DNS forwarding: queries to the resolver announced to the
# guest, or to --dns-forward, reach the host's resolver over UDP and TCP,
# ports 53 and 853, with the resolver on the host's loopback (as
# systemd-resolved's 127.0.0.53) and with --dns-host naming one elsewhere
#
# The sandbox's /etc/resolv.conf (bind-mounted by test/lib/sandbox.sh from
# SANDBOX_TMP) is rewritten to name loopback resolvers only, 127.0.0.53
# and ::1, before any daemon starts; test/tools/dns_tool.py answers on
# them in the sandbox's namespace (the daemon's host side), UDP and TCP,
# ports 53 and 853. A second responder in the remote namespace, at
# 198.51.100.53 and 2001:db8:1::53, stands for the resolver --dns-host
# names. Each responder answers with addresses of its own, so an answer
# tells which one the query reached:
# - daemon 1, no DNS option: the guest is told (DHCP, DHCPv6) to use the
#   gateway, 192.0.2.2 and 2001:db8::2, and queries to it, UDP and TCP,
#   ports 53 and 853, reach the loopback resolver, not the host's
#   127.0.0.1 (a responder there answers otherwise), where the gateway's
#   other ports still go;
# - daemon 2, --dns-forward 203.0.113.53 and 2001:db8:5::53 with
#   --dns-host the remote's resolver: queries to the --dns-forward
#   addresses, both protocols, both ports, reach the remote resolver;
# - daemon 3, --dns-forward and --no-map-gw, as Podman starts pasta: the
#   --dns-forward address is announced and its queries, UDP and TCP, reach
#   the loopback resolver.

# shellcheck disable=SC2317 # helpers are called indirectly
# shellcheck source=test/lib/sandbox.sh
. "$(dirname "$0")/lib/sandbox.sh"

require_tools ip nsenter unshare timeout python3
require_passtd
setup_sandbox

DNS_TOOL=$TEST_DIR/tools/dns_tool.py
DHCPV6_CLIENT=$TEST_DIR/tools/dhcpv6_client.py
LO_DNS4=127.0.0.53		# the host's resolvers, on its loopback
LO_DNS6=::1
LO_ANSWER4=203.0.113.1		# what they answer
LO_ANSWER6=2001:db8:53::1
HOST_LO4=127.0.0.1		# the host's own loopback: not a resolver
HOST_LO_ANSWER4=203.0.113.3	# but something answers there too
OTHER_PORT=5300			# a port of the gateway that is not DNS
FAR_DNS4=198.51.100.53		# --dns-host: a resolver in the remote
FAR_DNS6=2001:db8:1::53
FAR_ANSWER4=203.0.113.2
FAR_ANSWER6=2001:db8:53::2
GW4=192.0.2.2			# the guest's gateway
GW6=2001:db8::2
FWD4=203.0.113.53		# --dns-forward
FWD6=2001:db8:5::53
NAME=www.example.test
SERVER_SECS=300

# responder_in() - Start a dns_tool responder, wait until it listens
# $1:	Namespace (PID or host)
# $2:	Address
# $3:	IPv4 answer
# $4:	IPv6 answer
# $5:	Ports, comma-separated (default 53,853)
#
# Return: 0 if it listens
responder_in() {
	local ns=$1; shift
	local addr=$1; shift
	local a4=$1; shift
	local a6=$1; shift
	local ports=${1:-53,853}
	local out=$SANDBOX_TMP/responder.${addr//:/_}.out

	bg_in "$ns" "$out" python3 "$DNS_TOOL" serve "$addr" "$ports" \
		"$a4" "$a6" "$SERVER_SECS"
	busywait 5000 server_ready "$out" "$BG_PID"
	grep -q '^listening' "$out" ||
		{ ktap_diag "responder at $addr did not start: $(cat "$out")"
		  return 1; }
}

# query_check() - One query from the guest, the answer must be the one
# expected (it names the responder that answered)
# $1:	udp or tcp
# $2:	Server address as the guest addresses it
# $3:	Port
# $4:	Expected answer (an IPv6 one: AAAA query)
# $5:	Who should answer, for the result name
query_check() {
	local proto=$1; shift
	local addr=$1; shift
	local port=$1; shift
	local want=$1; shift
	local who=$1; shift
	local opts=() out got

	[ "$proto" = tcp ] && opts+=(-t)
	[ "${want#*:}" != "$want" ] && opts+=(-6)
	out=$(in_guest timeout -k 2 10 python3 "$DNS_TOOL" query \
		"${opts[@]}" "$addr" "$port" "$NAME" 2>&1)
	got=$(sed -n 's/^answer=//p' <<<"$out")
	[ "$got" = "$want" ]
	ktap_result "$proto $addr port $port answered by $who" $? \
		"wanted $want: $out" "$(daemon_alive || echo 'daemon gone')"
}

# queries_check() - query_check for UDP and TCP, ports 53 and 853: 4 results
# $1:	Server address as the guest addresses it
# $2:	Expected answer
# $3:	Who should answer
queries_check() {
	local addr=$1; shift
	local want=$1; shift
	local who=$1; shift
	local proto port

	for proto in udp tcp; do
		for port in 53 853; do
			query_check "$proto" "$addr" "$port" "$want" "$who"
		done
	done
}

# guest_routes() - Succeed once the guest has both default routes
guest_routes() {
	in_guest ip -4 route show default | grep -q via &&
		in_guest ip -6 route show default | grep -q via
}

# guest_up() - Start a daemon with --config-net, wait for the guest's
# routes; one result
# $1:	Label
# $@:	Daemon options
guest_up() {
	local label=$1; shift

	start_daemon --config-net -t none -u none -T none -U none "$@" &&
		slowwait 10 guest_routes
	ktap_result "$label: daemon up, guest configured" $? \
		"$(in_guest ip addr 2>&1)" "$(in_guest ip -6 route 2>&1)"
}

# guest_down() - Stop the daemon and its guest namespace
guest_down() {
	stop_daemon
	stop_pid "$GUEST_PID"
}

# ll_ready() - Succeed if the guest's link-local address is usable
ll_ready() {
	local out

	out=$(in_guest ip -6 -o addr show dev host0 scope link) || return 1
	grep -q 'inet6 fe80:' <<<"$out" && ! grep -q tentative <<<"$out"
}

# announced_check() - The resolver DHCP and DHCPv6 announce; 2 results
# $1:	Expected IPv4 resolver
# $2:	Expected IPv6 resolver
announced_check() {
	local dns4=$1; shift
	local dns6=$1; shift
	local lease=$SANDBOX_TMP/lease script=$SANDBOX_TMP/udhcpc.sh out

	if command -v busybox >/dev/null; then
		cat >"$script" <<-EOF
		#!/bin/sh
		[ "\$1" = bound ] && echo "dns=\$dns" >"$lease"
		exit 0
		EOF
		chmod +x "$script"
		rm -f "$lease"
		in_guest timeout 20 busybox udhcpc -i host0 -f -q -n -t 4 \
			-T 1 -A 1 -s "$script" >/dev/null 2>&1
		grep -qx "dns=$dns4" "$lease" 2>/dev/null
		ktap_result "DHCP announces $dns4" $? \
			"lease: $(cat "$lease" 2>/dev/null)"
	else
		ktap_skip "DHCP announces $dns4" "no busybox udhcpc"
	fi
	slowwait 5 ll_ready
	out=$(in_guest timeout 20 python3 "$DHCPV6_CLIENT" host0 2>&1)
	grep -qx "dns=$dns6" <<<"$out"
	ktap_result "DHCPv6 announces $dns6" $? "$out"
}

ktap_plan 28

printf 'nameserver %s\nnameserver %s\nsearch %s\n' "$LO_DNS4" "$LO_DNS6" \
	"$DNS_SEARCH" >"$SANDBOX_TMP/resolv.conf"
grep -q "$LO_DNS4" /etc/resolv.conf ||
	ktap_diag "cannot point /etc/resolv.conf at $LO_DNS4"
if ! in_remote ip addr add "$FAR_DNS4/32" dev lo ||
   ! in_remote ip -6 addr add "$FAR_DNS6/128" dev lo; then
	ktap_diag "cannot give the remote the resolver addresses"
fi
responder_in host "$LO_DNS4" "$LO_ANSWER4" "$LO_ANSWER6"
responder_in host "$LO_DNS6" "$LO_ANSWER4" "$LO_ANSWER6"
responder_in host "$HOST_LO4" "$HOST_LO_ANSWER4" "$LO_ANSWER6" \
	"53,853,$OTHER_PORT"
responder_in "$REMOTE_PID" "$FAR_DNS4" "$FAR_ANSWER4" "$FAR_ANSWER6"
responder_in "$REMOTE_PID" "$FAR_DNS6" "$FAR_ANSWER4" "$FAR_ANSWER6"

# --- 1: loopback resolvers, no DNS option ----------------------------------
guest_up "loopback resolver" --dhcp-dns
announced_check "$GW4" "$GW6"
queries_check "$GW4" "$LO_ANSWER4" "the loopback resolver $LO_DNS4"
queries_check "$GW6" "$LO_ANSWER6" "the loopback resolver $LO_DNS6"
query_check udp "$GW4" "$OTHER_PORT" "$HOST_LO_ANSWER4" "the host's $HOST_LO4"
query_check tcp "$GW4" "$OTHER_PORT" "$HOST_LO_ANSWER4" "the host's $HOST_LO4"
guest_down

# --- 2: --dns-forward, --dns-host in the remote namespace ------------------
guest_up "--dns-host" --dns-forward "$FWD4" --dns-forward "$FWD6" \
	--dns-host "$FAR_DNS4" --dns-host "$FAR_DNS6"
queries_check "$FWD4" "$FAR_ANSWER4" "--dns-host $FAR_DNS4"
queries_check "$FWD6" "$FAR_ANSWER6" "--dns-host $FAR_DNS6"
guest_down

# --- 3: as Podman starts pasta: --dns-forward, --no-map-gw -----------------
guest_up "--no-map-gw" --dns-forward "$FWD4" --dns-forward "$FWD6" \
	--no-map-gw --dhcp-dns
announced_check "$FWD4" "$FWD6"
query_check udp "$FWD4" 53 "$LO_ANSWER4" "the loopback resolver $LO_DNS4"
query_check tcp "$FWD4" 53 "$LO_ANSWER4" "the loopback resolver $LO_DNS4"
query_check tcp "$FWD6" 53 "$LO_ANSWER6" "the loopback resolver $LO_DNS6"
guest_down

ktap_diag "queries the loopback resolvers saw:" \
	"$(cat "$SANDBOX_TMP"/responder.127.0.0.53.out \
		"$SANDBOX_TMP"/responder.__1.out 2>/dev/null | sort | uniq -c)"
ktap_finish
