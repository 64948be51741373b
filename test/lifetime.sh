#!/bin/bash
#
# test/lifetime.sh - lifetimes of flows and of the sockets they use
#
# 1. An inbound UDP flow dies with its "auto" forwarding socket: a remote
#    peer talks to a UDP service in the guest through -u auto; the service
#    stops, so the daemon closes the host socket; the guest then opens TCP
#    connections (the kernel hands out the lowest free descriptor numbers,
#    among them the one just closed) and sends from the old port to the
#    old peer. Nothing of that datagram may reach a TCP stream.
# 2. Inbound UDP flows have a share of the table: with --flows 256, a
#    remote peer sends from 300 source ports to a -u port; the guest must
#    still open TCP connections, a new remote peer must still reach the
#    guest (the least recently active inbound flow makes room), and the
#    eviction is counted.
# 3. An idle daemon sleeps in epoll_wait() until a deadline is due: no
#    periodic tick (strace counts the calls).
#
# Peers are test/tools/lifetime_peer.py (python3), each ending by itself
# after its own time limit.

# shellcheck disable=SC2317 # helpers are called through busywait
# shellcheck source=test/lib/sandbox.sh
. "$(dirname "$0")/lib/sandbox.sh"

PEER=${PEER:-$TEST_DIR/tools/lifetime_peer.py}
G_UDP=7000		# the guest's UDP service
R_UDP=6000		# the remote peer's source port
R_TCP=8000		# the remote's TCP sink
MARK=LEAK-MARKER	# what the guest sends after its service stopped

require_tools ip nsenter unshare timeout ss grep awk python3
require_passtd
setup_sandbox
ktap_plan 10

# host_udp_bound() - Succeed if the sandbox host has a UDP socket on a port
# $1:	Port
host_udp_bound() {
	local port=$1; shift

	ss -Hunl "sport = :$port" | grep -q .
}

# host_udp_free() - Succeed once no host UDP socket is bound to a port
# $1:	Port
host_udp_free() {
	! host_udp_bound "$@"
}

# peer_bg() - Start a lifetime_peer.py subcommand in a namespace
# $1:	Namespace (PID or host)
# $2:	Output file name (in SANDBOX_TMP)
# $@:	Subcommand and arguments
#
# Sets BG_PID and OUT.
peer_bg() {
	local ns=$1; shift
	local name=$1; shift

	OUT=$SANDBOX_TMP/$name.out
	bg_in "$ns" "$OUT" python3 "$PEER" "$@"
}

# --- 1: a flow never outlives its forwarding socket ------------------------

if start_daemon --config-net -d -u auto -t none -T none -U none; then
	peer_bg "$REMOTE_PID" sink tcp-sink "$R_TCP" 20
	sink=$BG_PID
	sink_out=$OUT
	peer_bg "$GUEST_PID" echo udp-echo "$G_UDP" 20
	echo_pid=$BG_PID
	busywait 5000 server_ready "$sink_out" "$sink"
	busywait 5000 server_ready "$OUT" "$echo_pid"
	slowwait 5 host_udp_bound "$G_UDP"
	ktap_result "-u auto: host socket opened for the guest's service" $?

	out=$(in_remote timeout 5 python3 "$PEER" udp-ping "$HOST_ADDR4" \
	      "$G_UDP" "$R_UDP" hello)
	[ "$out" = "reply b'hello'" ]
	ktap_result "-u auto: remote peer gets the guest's echo" $? "$out"

	stop_pid "$echo_pid"
	slowwait 5 host_udp_free "$G_UDP"
	ktap_result "-u auto: host socket closed once the service stopped" $?

	# New TCP sockets take the lowest free numbers, the closed one too
	peer_bg "$GUEST_PID" hold tcp-hold "$REMOTE_LO4" "$R_TCP" 8 3
	hold=$BG_PID
	busywait 5000 has_line "$OUT" connected
	in_guest timeout 5 python3 "$PEER" udp-send "$REMOTE_ADDR4" \
		"$R_UDP" "$G_UDP" "$MARK" 3
	finish_bg "$hold" 10
	grep -q "connected=8" "$OUT"
	ktap_result "-u auto: guest TCP connections made" $? "$(cat "$OUT")"
	slowwait 5 grep -c "^conn" "$sink_out" >/dev/null
	stop_pid "$sink"
	! grep -q "$MARK" "$sink_out" &&
		[ "$(grep -c "^conn b'tcp-ok\\\\n'$" "$sink_out")" = 8 ]
	ktap_result "-u auto: no UDP payload in any TCP stream" $? \
		"$(cat "$sink_out")"
	stop_daemon
else
	for i in 1 2 3 4 5; do
		ktap_fail "-u auto: check $i" "daemon did not start"
	done
fi

# --- 2: remote peers cannot fill the flow table ----------------------------

if start_daemon --config-net -d --flows 256 -u "$G_UDP" -t none -T none \
		-U none; then
	peer_bg "$REMOTE_PID" sink2 tcp-sink "$R_TCP" 20
	sink=$BG_PID
	sink_out=$OUT
	peer_bg "$GUEST_PID" usink udp-sink "$G_UDP" 20
	usink=$BG_PID
	usink_out=$OUT
	busywait 5000 server_ready "$sink_out" "$sink"
	busywait 5000 server_ready "$usink_out" "$usink"

	out=$(in_remote timeout 20 python3 "$PEER" udp-flood "$HOST_ADDR4" \
	      "$G_UDP" 300)
	[ "$out" = sent=300 ]
	ktap_result "--flows 256: 300 remote source ports sent to -u" $? "$out"

	out=$(in_guest timeout 10 python3 "$PEER" tcp-hold "$REMOTE_LO4" \
	      "$R_TCP" 20 0)
	[ "$out" = connected=20 ]
	ktap_result "--flows 256: guest TCP connections after the flood" $? \
		"$out"

	in_remote timeout 5 python3 "$PEER" udp-send "$HOST_ADDR4" "$G_UDP" \
		"$R_UDP" new-peer 3
	slowwait 5 grep -q "new-peer" "$usink_out"
	ktap_result "--flows 256: a new remote peer reaches the guest" $? \
		"$(tail -n 3 "$usink_out")"
	stop_pid "$usink"
	stop_pid "$sink"
	stop_daemon
	n=$(sed -n 's/.*dropped: UDP flow evicted[^:]*: \([0-9]*\)$/\1/p' \
	    "$DAEMON_LOG")
	[ "${n:-0}" -ge 200 ]
	ktap_result "--flows 256: inbound flows evicted, counted (${n:-0})" $? \
		"$(grep dropped: "$DAEMON_LOG")"
else
	for i in 1 2 3 4; do
		ktap_fail "--flows 256: check $i" "daemon did not start"
	done
fi

# --- 3: an idle daemon sleeps ---------------------------------------------

# epoll_wait_calls() - Print how many epoll_wait() calls a process makes
# in a number of seconds (strace -c: no table at all for none), nothing
# if strace could not attach
# $1:	PID
# $2:	Seconds
epoll_wait_calls() {
	local pid=$1; shift
	local secs=$1; shift
	local out=$SANDBOX_TMP/strace.$RANDOM calls

	timeout -s INT "$secs" strace -c -e trace=epoll_wait -o "$out" \
		-p "$pid" >/dev/null 2>"$out.err"
	grep -q attached "$out.err" || return
	calls=$(awk '$NF == "epoll_wait" { print $4 }' "$out" 2>/dev/null)
	echo "${calls:-0}"
}

if ! command -v strace >/dev/null; then
	ktap_skip "idle daemon: no wake-ups without a timer due" "no strace"
elif start_daemon --config-net -t none -T none -u none \
		-U none; then
	# Let the guest's own start (DAD, router solicitation) pass
	sleep 2
	calls=$(epoll_wait_calls "$DAEMON_PID" 3)
	[ -n "$calls" ] && [ "$calls" -le 5 ]
	ktap_result "idle daemon: no wake-ups without a timer due" $? \
		"${calls:-no} epoll_wait() calls in 3 s"
	ktap_diag "idle daemon: ${calls:-no} epoll_wait() calls in 3 s"
	stop_daemon
else
	ktap_fail "idle daemon: no wake-ups without a timer due" \
		"daemon did not start"
fi

ktap_finish
