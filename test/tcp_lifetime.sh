#!/bin/bash
#
# test/tcp_lifetime.sh - TCP connections whose ends never finish are ended
# by the daemon: keepalives toward the guest, the bound on half-closed
# connections, the inactivity timeout
#
# Short values of the three options make each end come within seconds.
# The daemon's host sockets are watched with ss in the sandbox ("host")
# namespace, and the debug log names why each connection ended and, at
# exit, how many connections and flows were still open. The remote ends
# are test/tools/tcp_peer.py servers that never close a connection; the
# guest ends are tcp_peer.py clients.
#
# First daemon, keepalives only (--tcp-keepalive 1):
#  - the guest's net.ipv4.tcp_fin_timeout is 1; a guest client connects
#    and closes, and its kernel forgets the half-closed socket after 1 s:
#    the host socket (FIN-WAIT-2, the peer never closes) must go, on the
#    guest's reset in answer to a keepalive;
#  - the guest holds an idle connection, then drops whatever the daemon
#    sends it (nftables), as a namespace that went away silently: after
#    the unanswered keepalives the host socket must be reset.
# Second daemon, --tcp-keepalive 1 --tcp-fin-timeout 3 --tcp-timeout 8,
# with a guest that answers keepalives:
#  - the guest half-closes and holds; the peer half-closes and the guest
#    holds: both end after 3 s without data, both sides reset;
#  - an idle connection lives past four keepalive intervals, and ends after
#    8 s without data; one that carries a byte every 200 ms lives on.
# Without the options (a daemon that has none) the same checks run against
# the daemon's defaults, and fail.

# shellcheck disable=SC2317 # helpers are called through slowwait
# shellcheck source=test/lib/sandbox.sh
. "$(dirname "$0")/lib/sandbox.sh"

TCP_PEER=${TCP_PEER:-$TEST_DIR/tools/tcp_peer.py}

require_tools ip nsenter unshare timeout ss awk grep python3 nft
require_passtd
setup_sandbox

P_FORGET=6001		# guest closes and forgets
P_SILENT=6002		# guest goes silent
P_GSHUT=6003		# guest half-closes
P_RSHUT=6004		# remote half-closes
P_IDLE=6005		# idle both ways
P_TRICKLE=6006		# a byte every 200 ms
START_MS=$(now_ms)
DAEMON_HELP=$("$PASSTD" --help 2>&1)

# server_up() - Start a tcp_peer.py server in the remote namespace
# $1:	Port
# $@:	More arguments (shut)
server_up() {
	local port=$1; shift
	local out=$SANDBOX_TMP/server.$port

	bg_in "$REMOTE_PID" "$out" python3 "$TCP_PEER" -t 100 serve "$port" \
		"$@"
	busywait 5000 server_ready "$out" "$BG_PID"
}

# client() - Start a tcp_peer.py client in the guest, in the background
# $1:	Host
# $2:	Port
# $3:	Action
client() {
	local host=$1; shift
	local port=$1; shift
	local action=$1; shift

	bg_in "$GUEST_PID" "$SANDBOX_TMP/client.$port" python3 "$TCP_PEER" \
		-t 60 connect "$host" "$port" "$action"
}

# host_socks() - Print the daemon's host sockets toward a remote port
# $1:	Port
host_socks() {
	local port=$1; shift

	ss -Htna "( dport = :$port )" 2>/dev/null
}

# host_has() - Succeed if a host socket toward a port is in a state
# $1:	Port
# $2:	State, as ss prints it (ESTAB, FIN-WAIT-2, ...)
host_has() {
	local port=$1; shift
	local state=$1; shift

	host_socks "$port" | awk -v s="$state" '$1 == s { f = 1 }
						 END { exit !f }'
}

# host_has_any() - Succeed if there is a host socket toward a port
# $1:	Port
host_has_any() {
	[ -n "$(host_socks "$1")" ]
}

# host_gone() - Succeed if no host socket toward a port is left
# $1:	Port
host_gone() {
	! host_has_any "$1"
}

# out_has() - Succeed if a tool's output has a line starting with a word
# $1:	Output file
# $2:	Word
out_has() {
	has_line "$1" "$2"
}

# ended_why() - Succeed if the daemon logged why a connection ended
# $1:	Remote port of the connection
# $2:	Reason, as logged
ended_why() {
	local port=$1; shift
	local why=$1; shift

	grep -q "\]:$port: $why" "$DAEMON_LOG"
}

# check_why() - Report whether the daemon logged a reason for a connection
# $1:	Result name
# $2:	Remote port
# $3:	Reason
check_why() {
	local name=$1; shift
	local port=$1; shift
	local why=$1; shift

	slowwait 2 ended_why "$port" "$why"
	ktap_result "$name" $? "no '$why' for port $port in the log:" \
		"$(grep "tcp: flow" "$DAEMON_LOG" | tail -n 5)"
}

# check_gone() - Wait for the host socket toward a port to go, report it
# $1:	Result name
# $2:	Port
# $3:	Seconds to wait
check_gone() {
	local name=$1; shift
	local port=$1; shift
	local secs=$1; shift

	slowwait "$secs" host_gone "$port"
	ktap_result "$name" $? "after ${secs} s: $(host_socks "$port")"
}

# guest_ready() - Succeed once the guest has its IPv4 and IPv6 routes
guest_ready() {
	in_guest ip -4 route show default | grep -q via &&
		in_guest ip -6 route show default | grep -q via &&
		! in_guest ip -6 addr show dev "$HOST_IF" | grep -q tentative
}

# daemon_up() - Start a daemon with those of its options it has
# $@:	Lifetime options (--tcp-keepalive 1 ...), each with its value
daemon_up() {
	local opts=()

	while [ $# -gt 1 ]; do
		has_opt "$1" && opts+=("$1" "$2")
		shift 2
	done
	[ ${#opts[@]} -gt 0 ] || ktap_diag "the daemon has none of the options"
	start_daemon -d --config-net -t none -T none -u none -U none \
		"${opts[@]}" >"$SANDBOX_TMP/start.out" 2>&1 &&
		slowwait 10 guest_ready
}

# at_exit() - Succeed if the daemon's log says nothing was open at exit
at_exit() {
	grep -q 'tcp: at exit: 0 connections, 0 flows in use' "$DAEMON_LOG"
}

ktap_plan 24

for port in $P_FORGET $P_SILENT $P_GSHUT $P_IDLE $P_TRICKLE; do
	server_up "$port" || echo "# server on $port did not start"
done
server_up "$P_RSHUT" shut || echo "# server on $P_RSHUT did not start"

# --- 1: keepalives toward a guest that forgot or went silent ---------------

daemon_up --tcp-keepalive 1
ktap_result "daemon with --tcp-keepalive 1 up" $? \
	"$(cat "$SANDBOX_TMP/start.out")"

in_guest sh -c 'echo 1 >/proc/sys/net/ipv4/tcp_fin_timeout' ||
	ktap_diag "cannot set the guest's tcp_fin_timeout"
in_guest timeout 10 python3 "$TCP_PEER" connect "$REMOTE_LO4" "$P_FORGET" \
	close >"$SANDBOX_TMP/client.$P_FORGET" 2>&1
slowwait 3 host_has "$P_FORGET" FIN-WAIT-2
ktap_result "guest closed: host socket half-closed (FIN-WAIT-2)" $? \
	"$(cat "$SANDBOX_TMP/client.$P_FORGET")" "$(host_socks "$P_FORGET")"

client "$REMOTE_LO6" "$P_SILENT" hold
slowwait 3 host_has "$P_SILENT" ESTAB &&
in_guest nft -f - <<EOF
table inet silent {
	chain in {
		type filter hook input priority 0; policy accept;
		tcp sport $P_SILENT drop
	}
}
EOF
ktap_result "idle connection, then the guest drops what the daemon sends" \
	$? "$(cat "$SANDBOX_TMP/client.$P_SILENT")" "$(host_socks "$P_SILENT")"

check_gone "guest forgot its closed socket: host socket gone" "$P_FORGET" 10
check_why "guest forgot its closed socket: ended by the guest's reset" \
	"$P_FORGET" "reset by the guest"
check_gone "silent guest: host socket gone after unanswered keepalives" \
	"$P_SILENT" 12
slowwait 2 out_has "$SANDBOX_TMP/server.$P_SILENT" reset
ktap_result "silent guest: the remote peer got a reset" $? \
	"$(cat "$SANDBOX_TMP/server.$P_SILENT")"
check_why "silent guest: ended for keepalives without answer" \
	"$P_SILENT" "no answer to 4 keepalives"

stop_daemon
ktap_result "first daemon exits on SIGTERM" $?
at_exit
ktap_result "first daemon: no connection and no flow left at exit" $? \
	"$(grep 'at exit' "$DAEMON_LOG")"
stop_pid "$GUEST_PID"

# --- 2: half-closed and idle connections, guest answering ------------------

daemon_up --tcp-keepalive 1 --tcp-fin-timeout 3 --tcp-timeout 8
ktap_result "daemon with --tcp-fin-timeout 3 --tcp-timeout 8 up" $? \
	"$(cat "$SANDBOX_TMP/start.out")"
PHASE2_MS=$(now_ms)
client "$REMOTE_LO4" "$P_GSHUT" shut
client "$REMOTE_LO6" "$P_RSHUT" hold
client "$REMOTE_LO4" "$P_IDLE" hold
client "$REMOTE_LO6" "$P_TRICKLE" trickle:20
rc=0
for port in $P_GSHUT $P_RSHUT $P_IDLE $P_TRICKLE; do
	slowwait 3 out_has "$SANDBOX_TMP/client.$port" connected &&
		slowwait 3 host_has_any "$port" || rc=1
done
ktap_result "four connections open" $rc "$(ss -Htna)"

check_gone "guest half-closed: host socket gone" "$P_GSHUT" 10
slowwait 2 out_has "$SANDBOX_TMP/client.$P_GSHUT" reset
ktap_result "guest half-closed: ended after 3 s without data, guest reset" \
	$? "$(cat "$SANDBOX_TMP/client.$P_GSHUT")" \
	"$(grep "\]:$P_GSHUT: " "$DAEMON_LOG")"
check_gone "peer half-closed: host socket gone" "$P_RSHUT" 10
slowwait 2 out_has "$SANDBOX_TMP/client.$P_RSHUT" reset
rc=$?
out_has "$SANDBOX_TMP/client.$P_RSHUT" eof || rc=1
ktap_result "peer half-closed: guest got the end of stream, then a reset" \
	$rc "$(cat "$SANDBOX_TMP/client.$P_RSHUT")"
why="half-closed, no data for 3 s"
slowwait 2 ended_why "$P_GSHUT" "$why" && ended_why "$P_RSHUT" "$why"
ktap_result "half-closed both ways: ended by the half-close bound" $? \
	"no '$why' for ports $P_GSHUT and $P_RSHUT in the log:" \
	"$(grep "tcp: flow" "$DAEMON_LOG" | tail -n 5)"

# An idle connection answering keepalives outlives 4 intervals (5 s);
# nothing ends it before the 8 s of the inactivity timeout
left=$(( 6000 - ($(now_ms) - PHASE2_MS) ))
[ $left -gt 0 ] && sleep "$((left / 1000)).$(printf %03d $((left % 1000)))"
host_has "$P_IDLE" ESTAB
ktap_result "idle connection, keepalives answered: open after 6 s" $? \
	"$(cat "$SANDBOX_TMP/client.$P_IDLE")" \
	"$(grep "\]:$P_IDLE: " "$DAEMON_LOG")"
check_gone "idle connection: host socket gone" "$P_IDLE" 10
slowwait 2 out_has "$SANDBOX_TMP/client.$P_IDLE" reset &&
	slowwait 2 out_has "$SANDBOX_TMP/server.$P_IDLE" reset
ktap_result "idle connection: both ends got a reset" $? \
	"guest: $(cat "$SANDBOX_TMP/client.$P_IDLE")" \
	"remote: $(cat "$SANDBOX_TMP/server.$P_IDLE")"
check_why "idle connection: ended by the inactivity timeout" "$P_IDLE" \
	"no data for 8 s"

# The trickle goes on until 20 s: well past the inactivity timeout
left=$(( 12000 - ($(now_ms) - PHASE2_MS) ))
[ $left -gt 0 ] && sleep "$((left / 1000)).$(printf %03d $((left % 1000)))"
host_has "$P_TRICKLE" ESTAB && ! out_has "$SANDBOX_TMP/client.$P_TRICKLE" reset
ktap_result "connection carrying data: still open after 12 s" $? \
	"$(cat "$SANDBOX_TMP/client.$P_TRICKLE")" \
	"$(grep "\]:$P_TRICKLE: " "$DAEMON_LOG")"

stop_daemon
ktap_result "second daemon exits on SIGTERM" $?

sandbox_sanitizer_reports >/dev/null
ktap_result "no sanitizer reports in the daemon logs" $? \
	"$(sandbox_sanitizer_reports)"
ktap_diag "run time $(( ($(now_ms) - START_MS) / 1000 )) s"
ktap_finish
