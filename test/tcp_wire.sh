#!/bin/bash
#
# test/tcp_wire.sh - what the daemon's TCP sends a guest, segment by
# segment: duplicate ACKs after a send its socket refused, SYN-ACK
# options, the MSS floor, SYN retries, retransmission timeout from the
# round-trip time
#
# test/tools/tcp_raw.py plays the guest from an address the guest's own
# kernel does not have (so only the tool answers the daemon) and reports
# what came back; the daemon runs with --no-gso, one segment per frame.
#  - Stall: the remote reads nothing for 2 s and buffers are small, so
#    the daemon's socket refuses most of a burst the tool sends whatever
#    the window; once the remote reads again the daemon must send three
#    true duplicate ACKs (same ACK, same window, no data), which a Linux
#    guest takes for a loss at once, instead of waiting for its
#    retransmission timeout.
#  - SYN-ACK options: window scaling only if the guest's SYN had it (RFC
#    7323, 2.2); the MSS floor: a guest MSS of 1 must not give 1-byte
#    segments.
#  - SYN retries follow the host's net.ipv4.tcp_syn_retries and
#    tcp_synack_retries, read at start.
#  - A guest that acknowledges 400 ms late: after the handshake's sample
#    the daemon's retransmission timeout is above that, so it sends
#    nothing twice.

# shellcheck disable=SC2317 # helpers are called through slowwait
# shellcheck source=test/lib/sandbox.sh
. "$(dirname "$0")/lib/sandbox.sh"

TCP_RAW=${TCP_RAW:-$TEST_DIR/tools/tcp_raw.py}
TCP_STREAM=${TCP_STREAM:-$TEST_DIR/tools/tcp_stream}

require_tools ip nsenter unshare timeout ss awk grep python3 nft
require_passtd
[ -x "$TCP_STREAM" ] ||
	ktap_skip_all "no $TCP_STREAM (make test/tools/tcp_stream)"
setup_sandbox

R_STALL=6100		# remote server that pauses reading
R_SEND=6101		# remote server that sends at once
FWD=10001		# -t port, the guest drops SYNs to it
START_MS=$(now_ms)

# raw() - Run tcp_raw.py in the guest, print its result line
# $@:	tcp_raw.py arguments after the interface
raw() {
	in_guest timeout 40 python3 "$TCP_RAW" -t 30 "$HOST_IF" "$@" 2>&1
}

# server_up() - Start a tcp_stream server in the remote namespace
# $1:	Output file
# $@:	tcp_stream arguments
server_up() {
	local out=$1; shift

	bg_in "$REMOTE_PID" "$out" "$TCP_STREAM" "$@"
	busywait 5000 server_ready "$out" "$BG_PID"
}

# guest_ready() - Succeed once the guest has its IPv4 and IPv6 routes
guest_ready() {
	in_guest ip -4 route show default | grep -q via &&
		in_guest ip -6 route show default | grep -q via &&
		! in_guest ip -6 addr show dev "$HOST_IF" | grep -q tentative
}

# daemon_up() - Start a daemon against a new guest
# $@:	More options
daemon_up() {
	start_daemon -d --config-net --no-gso -T none -u none -U none "$@" \
		>"$SANDBOX_TMP/start.out" 2>&1 && slowwait 10 guest_ready
}

ktap_plan 2

# Small buffers: the host socket and the remote's receive queue fill fast
sysctl -qw net.ipv4.tcp_wmem="4096 16384 65536"
in_remote sysctl -qw net.ipv4.tcp_rmem="4096 16384 65536"

daemon_up -t none
ktap_result "daemon up" $? "$(cat "$SANDBOX_TMP/start.out")"

server_up "$SANDBOX_TMP/stall.srv" -t 30 -p 2000@1 listen "$R_STALL"
res=$(raw "$REMOTE_LO4" "$R_STALL" stall 1000000)
ktap_diag "stall: $res"
[ "$(kv <(echo "$res") stalled)" = 1 ] &&
	[ "$(kv <(echo "$res") dupacks)" -ge 3 ]
ktap_result "socket refused data: three duplicate ACKs once it takes more" \
	$? "$res"

ktap_diag "run time $(( ($(now_ms) - START_MS) / 1000 )) s"
ktap_finish
