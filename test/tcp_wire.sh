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
#  - Stall: the remote reads nothing for 3 s and buffers are small, so
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
R_SEND=6101		# remote servers that send at once (and +10)
R_ECHO=6102		# remote echo server
R_LATE=6103		# remote server sending to a late guest
FWD=10001		# -t port, the guest drops SYNs to it
START_MS=$(now_ms)

# raw() - Run tcp_raw.py on the guest's interface, print its result line
# $@:	tcp_raw.py options (each with its value), then DST DPORT MODE...
raw() {
	local opts=()

	while [ "${1#-}" != "$1" ]; do
		opts+=("$1" "$2")
		shift 2
	done
	in_guest timeout 40 python3 "$TCP_RAW" -t 30 "${opts[@]}" \
		"$HOST_IF" "$@" 2>&1
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

ktap_plan 12

# Small buffers: the host socket and the remote's receive queue fill fast
sysctl -qw net.ipv4.tcp_wmem="4096 16384 65536"
in_remote sysctl -qw net.ipv4.tcp_rmem="4096 16384 65536"

daemon_up -t none
ktap_result "daemon up" $? "$(cat "$SANDBOX_TMP/start.out")"

server_up "$SANDBOX_TMP/stall.srv" -t 30 -p 3000@1 listen "$R_STALL"
res=$(raw "$REMOTE_LO4" "$R_STALL" stall 1000000)
ktap_diag "stall: $res"
[ "$(kv <(echo "$res") stalled)" = 1 ] &&
	[ "$(kv <(echo "$res") update)" = 1 ] &&
	[ "$(kv <(echo "$res") dupacks)" -ge 3 ]
ktap_result "socket refused data: three duplicate ACKs once it takes more" \
	$? "$res"

server_up "$SANDBOX_TMP/echo.srv" -t 120 echo "$R_ECHO"
res=$(raw -o 020405b4 -w 0 "$REMOTE_LO4" "$R_ECHO" synack)
[ "$(kv <(echo "$res") ws)" = none ]
ktap_result "SYN without window scale: none in the SYN-ACK (RFC 7323)" $? \
	"$res"
res=$(raw -o 020405b401030307 -w 0 "$REMOTE_LO4" "$R_ECHO" synack)
[ "$(kv <(echo "$res") ws)" = 8 ]
ktap_result "SYN with window scale: the SYN-ACK has ours" $? "$res"

# mss_check() - A guest MSS of 1: segments of at least the floor
# $1:	Remote address
# $2:	Floor
# $3:	Port
mss_check() {
	local addr=$1; shift
	local floor=$1; shift
	local port=$1; shift
	local res

	server_up "$SANDBOX_TMP/mss.$port" -t 30 -s 20000 listen "$port"
	res=$(raw -o 02040001 "$addr" "$port" recv 20000)
	[ "$(kv <(echo "$res") recv)" = 20000 ] &&
		[ "$(kv <(echo "$res") max)" -ge "$floor" ]
	ktap_result "guest MSS 1, $addr: segments of $floor bytes" $? "$res"
}
mss_check "$REMOTE_LO4" 536 "$R_SEND"
mss_check "$REMOTE_LO6" 1220 $((R_SEND + 10))

server_up "$SANDBOX_TMP/late.srv" -t 30 -s 200000 listen "$R_LATE"
res=$(raw -D 400 "$REMOTE_LO4" "$R_LATE" recv 200000)
ktap_diag "ACKs 400 ms late: $res"
[ "$(kv <(echo "$res") recv)" = 200000 ] &&
	[ "$(kv <(echo "$res") retrans)" = 0 ]
ktap_result "guest acknowledges 400 ms late: nothing sent twice" $? "$res"
stop_daemon
stop_pid "$GUEST_PID"

# --- SYN retries: from the host's sysctls, read at start -------------------

sysctl -qw net.ipv4.tcp_synack_retries=1 net.ipv4.tcp_syn_retries=2
daemon_up -t "$FWD"
ktap_result "daemon with tcp_syn_retries 2, tcp_synack_retries 1 up" $? \
	"$(cat "$SANDBOX_TMP/start.out")"
in_guest nft -f - <<EOF
table inet deaf {
	chain in {
		type filter hook input priority 0; policy accept;
		tcp dport $FWD drop
	}
}
EOF
bg_in "$GUEST_PID" "$SANDBOX_TMP/syns.out" python3 "$TCP_RAW" -w 10 \
	"$HOST_IF" "$REMOTE_LO4" "$FWD" syns
syns_pid=$BG_PID
busywait 5000 has_line "$SANDBOX_TMP/syns.out" ready
bg_in "$REMOTE_PID" "$SANDBOX_TMP/syns.client" "$TCP_STREAM" -t 12 \
	-X fail connect "$HOST_ADDR4" "$FWD"
finish_bg "$syns_pid" 12
res=$(cat "$SANDBOX_TMP/syns.out")
[ "$(kv <(echo "$res") syns)" = 3 ] && [ "$(kv <(echo "$res") rst)" = 1 ]
ktap_result "SYN to the guest: sent 3 times, then a reset" $? "$res"
res=$(raw -w 8 "$REMOTE_LO4" "$R_ECHO" synack)
[ "$(kv <(echo "$res") synacks)" = 2 ] && [ "$(kv <(echo "$res") rst)" = 1 ]
ktap_result "SYN-ACK to the guest: sent 2 times, then a reset" $? "$res"
stop_daemon
ktap_result "daemon exits on SIGTERM" $?

sandbox_sanitizer_reports >/dev/null
ktap_result "no sanitizer reports in the daemon logs" $? \
	"$(sandbox_sanitizer_reports)"
ktap_diag "run time $(( ($(now_ms) - START_MS) / 1000 )) s"
ktap_finish
