#!/bin/bash
#
# test/udp.sh - UDP translation: sequence-numbered, verified datagrams
# each way for sizes 0 to 65000, replies on a flow, 5000 concurrent flows,
# flow expiry, -u/-U forwarding with a remap, port unreachable as ICMP,
# DNS forwarding, multicast and broadcast from the guest dropped, bursts
# that go to the tap as trains and leave the daemon with UDP_SEGMENT (and
# one frame or packet each with --no-gso), the
# data checks again with --no-mmsg, trains of more than one MTU at -m 1500,
# --udp-yield (the daemon gives up
# the CPU every N datagrams toward the guest, never with 0: counted with
# strace), and the probe for registered recvmmsg() arrays
# (SO_RECVMMSG_REG, a kernel patch of contrib/kernel/): it agrees with the
# kernel's answer to the option, and bursts arrive intact with and
# without --no-mmsg-register
#
# Datagrams are moved by test/tools/udp_stream: every datagram carries its
# sequence number and content derived from it, so a receiver tells a
# corrupt, duplicated, reordered or lost one apart, per flow (one flow per
# size). The data checks are paced below capacity (UDP_RATE datagrams per
# second in all, UDP_COUNT per size), so none may be lost:
#	UDP_COUNT=300 UDP_RATE=2000 bash test/udp.sh
# UDP_BUDGET (seconds, default 200) bounds the whole script: once spent,
# the remaining checks fail at once. PASSTD=/usr/bin/pasta runs the same
# checks against pasta; those needing options it does not have
# (--udp-timeout, --no-mmsg) are skipped. PASSTD=kernel validates the
# checks on the kernel's own path: no daemon, the "guest" is the sandbox
# namespace, talking to the remote over the veth; the checks that a daemon
# drops something (multicast, broadcast, an expired flow) then check that
# it does arrive there, so they are known able to see it.
#
# Topology (test/lib/sandbox.sh), the veth at MTU 65520 like the tap: the
# guest sends to the remote namespace (198.51.100.1, 2001:db8:1::1 on its
# loopback) through the daemon; the remote sends to the guest through the
# daemon's -u sockets at 192.0.2.1 and 2001:db8::1. The remote also holds
# the host's resolvers, 198.51.100.53 and 2001:db8:1::53 (the sandbox's
# /etc/resolv.conf is rewritten to name them), answered by udp_stream's DNS
# responder; the guest asks --dns-forward addresses 203.0.113.53 and
# 2001:db8:5::53.

# shellcheck disable=SC2317 # helpers are called indirectly
# shellcheck source=test/lib/sandbox.sh
. "$(dirname "$0")/lib/sandbox.sh"

UDP_STREAM=${UDP_STREAM:-$TEST_DIR/tools/udp_stream}
UDP_COUNT=${UDP_COUNT:-1000}
UDP_RATE=${UDP_RATE:-4000}
UDP_SIZES=${UDP_SIZES:-0,1,1400,9000,65000}
UDP_FLOWS=${UDP_FLOWS:-5000}
UDP_BUDGET=${UDP_BUDGET:-200}
TRAIN_COUNT=${TRAIN_COUNT:-3200}
KERNEL=0
[ "$PASSTD" = kernel ] && KERNEL=1

require_tools ip nsenter unshare timeout awk grep
[ $KERNEL = 1 ] || require_passtd
[ -x "$UDP_STREAM" ] ||
	ktap_skip_all "no $UDP_STREAM (make test/tools/udp_stream)"
setup_sandbox

FWD=10001		# -u: guest receivers
FWD_REMAP_HOST=10011	# -u 10011:10003
FWD_REMAP=10003		# guest echo server behind the remap
NS_FWD=10020		# -U: host loopback echo servers
R_PORT=5001		# remote receivers
R_ECHO=5002		# remote echo server
R_LATE=5003		# remote echo server, also replying 1 s and 9 s later
R_MC=5004		# remote receiver for multicast and broadcast
R_CLOSED=5999		# nothing listens in the remote namespace
R_NARROW4=198.51.100.9	# remote address behind a 1500-byte path MTU
RESOLVER4=198.51.100.53	# the host's resolvers, in the remote namespace
RESOLVER6=2001:db8:1::53
DNS_FWD4=203.0.113.53	# --dns-forward: what the guest asks
DNS_FWD6=2001:db8:5::53
DNS_ANSWER4=203.0.113.7	# what the remote's resolver answers
DNS_ANSWER6=2001:db8::7
EXPIRY=2		# --udp-timeout
LATE_MS=9000		# the late reply, well after the expiry

if [ $KERNEL = 1 ]; then
	DAEMON_HELP=
	NO_OPT="kernel path"
	daemon_alive() { return 0; }
else
	DAEMON_HELP=$("$PASSTD" --help 2>&1)
	NO_OPT="the daemon has no such option"
fi
START_MS=$(now_ms)
BUDGET_END=$(( START_MS + UDP_BUDGET * 1000 ))
RUN_COUNT=0
RUN_DIAG=()
NSIZES=$(awk -F, '{ print NF }' <<<"$UDP_SIZES")
# Sending time of a data check, seconds, rounded up
DATA_SECS=$(( (UDP_COUNT * NSIZES + UDP_RATE - 1) / UDP_RATE ))

# server_in() - Start a udp_stream server in a namespace, wait until ready
# $1:	Namespace (PID or host)
# $2:	Name for its output file
# $@:	udp_stream arguments
#
# Sets BG_PID and SERVER_OUT. Return: 0 if it listens
server_in() {
	local ns=$1; shift
	local name=$1; shift

	SERVER_OUT=$SANDBOX_TMP/$name.out
	bg_in "$ns" "$SERVER_OUT" "$UDP_STREAM" "$@"
	busywait 5000 server_ready "$SERVER_OUT" "$BG_PID"
	grep -q '^listening' "$SERVER_OUT"
}

# pair_run() - A udp_stream receiver and a sender; both must succeed
# $1:	Receiver namespace (PID or host)
# $2:	Sender namespace (PID or host)
# $3:	Timeout, seconds (cut to the budget left)
# $@:	Receiver arguments, "--", sender arguments
#
# Sets RUN_DIAG (why it failed, or the receiver's summary).
# Return: 0 if both succeeded
pair_run() {
	local rns=$1; shift
	local sns=$1; shift
	local want=$1; shift
	local rargs=() t rout sout rpid src rrc

	while [ $# -gt 0 ] && [ "$1" != -- ]; do
		rargs+=("$1")
		shift
	done
	shift

	RUN_DIAG=()
	if ! t=$(budget_tmo "$want"); then
		RUN_DIAG=("time budget of ${UDP_BUDGET}s spent")
		return 1
	fi
	if ! daemon_alive; then
		RUN_DIAG=("daemon not running")
		return 1
	fi

	RUN_COUNT=$((RUN_COUNT + 1))
	rout=$SANDBOX_TMP/recv.$RUN_COUNT
	sout=$SANDBOX_TMP/send.$RUN_COUNT
	bg_in "$rns" "$rout" "$UDP_STREAM" -t "$((t + 3))" "${rargs[@]}"
	rpid=$BG_PID
	busywait 5000 server_ready "$rout" "$rpid"
	if ! grep -q '^listening' "$rout"; then
		finish_bg "$rpid" 1
		RUN_DIAG=("receiver did not start: ${rargs[*]}"
			  "$(cat "$rout")")
		return 1
	fi

	run_in "$sns" timeout -k 2 "$((t + 5))" "$UDP_STREAM" -t "$t" "$@" \
		>"$sout" 2>&1
	src=$?
	finish_bg "$rpid" "$((t + 5))"
	rrc=$?

	RUN_DIAG=("receiver: ${rargs[*]} -> status $rrc"
		  "$(grep -v '^listening' "$rout")"
		  "sender: $* -> status $src" "$(cat "$sout")")
	daemon_alive || RUN_DIAG+=("the daemon is gone")
	[ "$src" -eq 0 ] && [ "$rrc" -eq 0 ] || return 1
	RUN_DIAG=("$(grep '^flows=' "$rout")")
	return 0
}

# udp_drops() - Print the non-zero UDP drop counters of the host side,
# the guest and the remote namespace, where a lost datagram was dropped
udp_drops() {
	local where

	for where in host guest remote; do
		echo "$where: $(case $where in
			host) nstat -az ;;
			guest) in_guest nstat -az ;;
			remote) in_remote nstat -az ;;
			esac 2>/dev/null | awk '$1 ~ /^Udp6?(RcvbufErrors|SndbufErrors|InErrors|MemErrors)$/ && $2 > 0 {
				printf "%s=%s ", $1, $2 }')"
	done
}

# pair_check() - pair_run, reported as one result
# $1:	Result name
# $@:	As pair_run
pair_check() {
	local name=$1; shift

	if pair_run "$@"; then
		ktap_diag "$name: ${RUN_DIAG[*]}"
		ktap_ok "$name"
	else
		ktap_fail "$name" "${RUN_DIAG[@]}" "drops so far: $(udp_drops)"
	fi
}

# tool_run() - Run udp_stream alone in a namespace
# $1:	Namespace (PID or host)
# $2:	Timeout, seconds (cut to the budget left)
# $@:	udp_stream arguments
#
# Sets TOOL_OUT (its output file) and RUN_DIAG. Return: its status
tool_run() {
	local ns=$1; shift
	local want=$1; shift
	local t rc

	RUN_COUNT=$((RUN_COUNT + 1))
	TOOL_OUT=$SANDBOX_TMP/tool.$RUN_COUNT
	: >"$TOOL_OUT"
	if ! t=$(budget_tmo "$want"); then
		RUN_DIAG=("time budget of ${UDP_BUDGET}s spent")
		return 1
	fi
	if ! daemon_alive; then
		RUN_DIAG=("daemon not running")
		return 1
	fi
	run_in "$ns" timeout -k 2 "$((t + 5))" "$UDP_STREAM" -t "$t" "$@" \
		>"$TOOL_OUT" 2>&1
	rc=$?
	if [ $rc -eq 0 ]; then
		RUN_DIAG=("$(grep -v '^flow ' "$TOOL_OUT" | tail -n 1)")
	else
		RUN_DIAG=("udp_stream $* -> status $rc" "$(cat "$TOOL_OUT")")
		daemon_alive || RUN_DIAG+=("the daemon is gone")
	fi
	return $rc
}

# tool_check() - tool_run, reported as one result
# $1:	Result name
# $@:	As tool_run
#
# Return: the tool's status
tool_check() {
	local name=$1; shift
	local rc

	tool_run "$@"
	rc=$?
	if [ $rc -eq 0 ]; then
		ktap_diag "$name: ${RUN_DIAG[*]}"
		ktap_ok "$name"
	else
		ktap_fail "$name" "${RUN_DIAG[@]}" "drops so far: $(udp_drops)"
	fi
	return $rc
}

# guest_routes() - Succeed once the guest has both default routes
guest_routes() {
	in_guest ip -4 route show default | grep -q via &&
		in_guest ip -6 route show default | grep -q via
}

# daemon_up() - Start the daemon against a new guest; one result
# $1:	Label
# $@:	Daemon options
#
# Return: 0 if the daemon runs and configured the guest
daemon_up() {
	local label=$1; shift
	local out=$SANDBOX_TMP/start.out rc

	if [ $KERNEL = 1 ]; then
		GUEST_PID=$$
		ktap_ok "$label: kernel path, no daemon"
		return 0
	fi
	# Not in $(...): start_daemon sets GUEST_PID and DAEMON_PID
	start_daemon --config-net "$@" >"$out" 2>&1 &&
		slowwait 10 guest_routes
	rc=$?
	# The guest learns its gateway's address now: while it waits for
	# the ARP (NDP) answer it queues a flow's first datagrams, and sends
	# them once the answer is in, interleaved with new ones sent from
	# the other CPU, out of order before they reach the daemon
	in_guest ping -c 1 -W 2 "$REMOTE_LO4" >/dev/null 2>&1
	in_guest ping -6 -c 1 -W 2 "$REMOTE_LO6" >/dev/null 2>&1
	ktap_result "$label: daemon up, guest configured" "$rc" \
		"$(cat "$out")" "$(in_guest ip addr 2>&1)" \
		"$(in_guest ip -6 route 2>&1)"
	return "$rc"
}

# daemon_down() - Stop the daemon and its guest namespace
daemon_down() {
	[ $KERNEL = 1 ] && return 0
	stop_daemon
	[ -n "$GUEST_PID" ] && stop_pid "$GUEST_PID"
}

# data_suite() - Datagrams each way, both families, replies, many flows:
# 7 results
# $1:	Label
data_suite() {
	local label=$1; shift
	local what="$NSIZES sizes x $UDP_COUNT at ${UDP_RATE}/s"
	local t=$((DATA_SECS + 20)) name

	for fam in IPv4 IPv6; do
		if [ $fam = IPv4 ]; then
			name=$REMOTE_LO4
		else
			name=$REMOTE_LO6
		fi
		pair_check "$label: ns->remote $fam, $what: intact, in order, none lost" \
			"$REMOTE_PID" "$GUEST_PID" "$t" \
			-n "$UDP_COUNT" -f "$NSIZES" recv "$R_PORT" -- \
			-n "$UDP_COUNT" -r "$UDP_RATE" -z "$UDP_SIZES" \
			send "$name" "$R_PORT"
	done
	for fam in IPv4 IPv6; do
		if [ $fam = IPv4 ]; then
			name=$HOST_ADDR4
		else
			name=$HOST_ADDR6
		fi
		pair_check "$label: remote->ns $fam (-u), $what: intact, in order, none lost" \
			"$GUEST_PID" "$REMOTE_PID" "$t" \
			-n "$UDP_COUNT" -f "$NSIZES" recv "$FWD" -- \
			-n "$UDP_COUNT" -r "$UDP_RATE" -z "$UDP_SIZES" \
			send "$name" "$FWD"
	done
	for fam in IPv4 IPv6; do
		if [ $fam = IPv4 ]; then
			name=$REMOTE_LO4
		else
			name=$REMOTE_LO6
		fi
		tool_check "$label: replies: a remote echo's answers reach the guest's sockets, $fam, intact, in order, none lost" \
			"$GUEST_PID" "$t" -E -n "$UDP_COUNT" -r "$UDP_RATE" \
			-z "$UDP_SIZES" send "$name" "$R_ECHO"
	done
	tool_check "$label: $UDP_FLOWS concurrent flows (source ports) to a remote echo, each gets its reply" \
		"$GUEST_PID" 60 -r 10000 -w 3000 -y 3 \
		flows "$REMOTE_LO4" "$R_ECHO" "$UDP_FLOWS"
}

# tap_rx_frames() - Print how many frames the guest's interface received
tap_rx_frames() {
	in_guest cat /proc/net/dev |
		awk -v dev="$HOST_IF:" '$1 == dev { print $3 }'
}

# train_suite() - Bursts of equal datagrams, which the daemon may hand the
# tap as trains (one frame the kernel cuts into datagrams), and the other
# way send with UDP_SEGMENT: intact, in order, none lost, and whether the
# tap and the remote's veth took fewer frames than datagrams
# $1:	Label
# $2:	"fewer" if trains are expected, "all" if one frame per datagram
#
# TRAIN_COUNT datagrams per check, paced in bursts sent back to back;
# 9000-byte ones in bursts of 8, as every socket's buffer is capped by
# net.core.rmem_max (212992 by default), which a test cannot raise.
train_suite() {
	local label=$1; shift
	local expect=$1; shift
	local f0 f1

	f0=$(tap_rx_frames)
	burst_check "$label: remote->ns IPv4 (-u)" 1400 32 "$GUEST_PID" \
		"$REMOTE_PID" "$FWD" "$HOST_ADDR4"
	burst_check "$label: remote->ns IPv6 (-u)" 1400 32 "$GUEST_PID" \
		"$REMOTE_PID" "$FWD" "$HOST_ADDR6"
	burst_check "$label: remote->ns IPv4 (-u)" 1 32 "$GUEST_PID" \
		"$REMOTE_PID" "$FWD" "$HOST_ADDR4"
	tool_check "$label: replies: remote echo of 9000 B x $TRAIN_COUNT in bursts of 8 reaches the guest, IPv6, intact, in order, none lost" \
		"$GUEST_PID" "$((TRAIN_COUNT / 1000 + 20))" -E \
		-n "$TRAIN_COUNT" -r 3200 -k 8 -z 9000 send "$REMOTE_LO6" "$R_ECHO"
	f1=$(tap_rx_frames)
	count_check "$label" "$expect" "$((f1 - f0))" "$((TRAIN_COUNT * 4))" \
		"the tap took" frame "trains"

	# The other way, runs of equal datagrams may leave the daemon as
	# one UDP_SEGMENT send, which crosses the veth as one packet
	f0=$(remote_rx_packets)
	burst_check "$label: ns->remote IPv4" 1400 32 "$REMOTE_PID" \
		"$GUEST_PID" "$R_PORT" "$REMOTE_LO4"
	burst_check "$label: ns->remote IPv6" 1 32 "$REMOTE_PID" \
		"$GUEST_PID" "$R_PORT" "$REMOTE_LO6"
	f1=$(remote_rx_packets)
	count_check "$label" "$expect" "$((f1 - f0))" "$((TRAIN_COUNT * 2))" \
		"the veth carried" packet "UDP_SEGMENT"

	# Datagrams above the path MTU must be fragmented, which a
	# UDP_SEGMENT send cannot do: the kernel refuses it, and the
	# daemon sends them one by one
	burst_check "$label: ns->remote IPv4, path MTU 1500," 9000 8 \
		"$REMOTE_PID" "$GUEST_PID" "$R_PORT" "$R_NARROW4"
}

# burst_check() - TRAIN_COUNT datagrams in bursts sent back to back, one
# flow: intact, in order, none lost
# $1:	Start of the result name
# $2:	Datagram size
# $3:	Datagrams per burst
# $4:	Receiver's namespace (PID)
# $5:	Sender's namespace (PID)
# $6:	Port
# $7:	Address the sender sends to
burst_check() {
	local name=$1; shift
	local size=$1; shift
	local burst=$1; shift
	local rns=$1; shift
	local sns=$1; shift
	local port=$1; shift
	local addr=$1; shift

	pair_check "$name $size B x $TRAIN_COUNT in bursts of $burst: intact, in order, none lost" \
		"$rns" "$sns" "$((TRAIN_COUNT / 1000 + 20))" \
		-n "$TRAIN_COUNT" -f 1 recv "$port" -- -n "$TRAIN_COUNT" \
		-r 3200 -k "$burst" -z "$size" send "$addr" "$port"
}

# count_check() - Did a device count fewer frames than datagrams ("fewer":
# at most half) or one each ("all": at least 95%)? Bounds with room for
# the odd lone datagram, or a lost one that the data checks report
# $1:	Label
# $2:	"fewer" or "all"
# $3:	Frames (packets) counted
# $4:	Datagrams sent
# $5:	What counted, as "the tap took"
# $6:	What it counts: frame, packet
# $7:	What makes them fewer
count_check() {
	local label=$1; shift
	local expect=$1; shift
	local frames=$1; shift
	local want=$1; shift
	local dev=$1; shift
	local unit=$1; shift
	local why=$1; shift
	local rc=0

	if [ "$expect" = fewer ]; then
		[ "$frames" -le "$((want / 2))" ] || rc=1
		ktap_result "$label: $dev fewer ${unit}s than datagrams ($why)" \
			$rc "$frames ${unit}s for $want datagrams"
	else
		[ "$frames" -ge "$((want * 95 / 100))" ] || rc=1
		ktap_result "$label: $dev a $unit per datagram (no $why)" \
			$rc "$frames ${unit}s for $want datagrams"
	fi
	ktap_diag "$label: $frames ${unit}s ($dev) for $want datagrams"
}

# remote_rx_packets() - Print how many packets the remote's veth received
remote_rx_packets() {
	in_remote cat /proc/net/dev |
		awk -v dev="$REMOTE_IF:" '$1 == dev { print $3 }'
}

# dropped_check() - A multicast or broadcast destination from the guest:
# nothing arrives on the remote side (kernel path: everything does)
# $1:	Result name (daemon)
# $2:	Destination (with %host0 for IPv6 link scope)
# $@:	Extra receiver options (-4/-6, -J GROUP%remote0)
dropped_check() {
	local name=$1; shift
	local dest=$1; shift

	if [ $KERNEL = 1 ]; then
		pair_check "kernel path: $dest from the guest reaches the remote (the check can see it)" \
			"$REMOTE_PID" "$GUEST_PID" 10 "$@" -i 1500 -n 20 \
			-f 1 recv "$R_MC" -- -B -n 20 -r 200 -z 64 \
			send "$dest" "$R_MC"
	else
		pair_check "$name" "$REMOTE_PID" "$GUEST_PID" 10 "$@" \
			-X none -i 1500 recv "$R_MC" -- -B -n 20 -r 200 \
			-z 64 send "$dest" "$R_MC"
	fi
}

# dns_check() - A query to a --dns-forward address is answered by the
# host's resolver (kernel path: the resolver asked directly)
# $1:	Family: 4 or 6
dns_check() {
	local fam=$1; shift
	local fwd=$DNS_FWD4 real=$RESOLVER4 type=A answer=$DNS_ANSWER4 got name rc

	if [ "$fam" = 6 ]; then
		fwd=$DNS_FWD6 real=$RESOLVER6 type=AAAA answer=$DNS_ANSWER6
	fi
	name="DNS: $type query to --dns-forward $fwd answered by the host's resolver $real"
	[ $KERNEL = 1 ] && fwd=$real
	rc=1
	if tool_run "$GUEST_PID" 10 -q "$type" query "$fwd" 53 \
		www.example.test; then
		got=$(kv "$TOOL_OUT" answer)
		if [ "$got" = "$answer" ]; then
			rc=0
		else
			RUN_DIAG+=("the answer was '$got', not $answer")
		fi
	fi
	[ $rc = 0 ] && ktap_diag "$name: ${RUN_DIAG[*]}"
	ktap_result "$name" $rc "${RUN_DIAG[@]}"
}

# mtu_65520() - The veth at the tap's MTU: 65000-byte datagrams unfragmented
mtu_65520() {
	ip link set "$HOST_IF" mtu 65520 &&
		in_remote ip link set "$REMOTE_IF" mtu 65520
}

ktap_plan 74

mtu_65520 || ktap_diag "cannot set the veth MTU to 65520"
in_remote ip addr add "$R_NARROW4/32" dev lo &&
	ip route add "$R_NARROW4/32" via "$REMOTE_ADDR4" dev "$HOST_IF" \
		mtu lock 1500 ||
	ktap_diag "cannot set up $R_NARROW4 behind a path MTU of 1500"

# Servers in the remote namespace, through every daemon
server_in "$REMOTE_PID" remote_echo -t "$((UDP_BUDGET + 60))" echo "$R_ECHO" ||
	ktap_diag "remote echo server did not start: $(cat "$SERVER_OUT")"
server_in "$REMOTE_PID" remote_late -t "$((UDP_BUDGET + 60))" \
	-D "1000,$LATE_MS" echo "$R_LATE" ||
	ktap_diag "remote late echo server did not start: $(cat "$SERVER_OUT")"
# The host's resolvers live on the remote's loopback: /etc/resolv.conf
# (the sandbox's own, bind-mounted from SANDBOX_TMP) is rewritten to name
# them before any daemon starts
printf 'nameserver %s\nnameserver %s\nsearch %s\n' "$RESOLVER4" "$RESOLVER6" \
	"$DNS_SEARCH" >"$SANDBOX_TMP/resolv.conf"
grep -q "$RESOLVER4" /etc/resolv.conf ||
	ktap_diag "cannot point /etc/resolv.conf at $RESOLVER4"
if ! in_remote ip addr add "$RESOLVER4/32" dev lo ||
   ! in_remote ip -6 addr add "$RESOLVER6/128" dev lo; then
	ktap_diag "cannot give the remote the resolver addresses"
fi
server_in "$REMOTE_PID" dns4 -t "$((UDP_BUDGET + 60))" -b "$RESOLVER4" \
	-A "$DNS_ANSWER4" -Q "$DNS_ANSWER6" dnsd 53 ||
	ktap_diag "resolver at $RESOLVER4 did not start: $(cat "$SERVER_OUT")"
server_in "$REMOTE_PID" dns6 -t "$((UDP_BUDGET + 60))" -b "$RESOLVER6" \
	-A "$DNS_ANSWER4" -Q "$DNS_ANSWER6" dnsd 53 ||
	ktap_diag "resolver at $RESOLVER6 did not start: $(cat "$SERVER_OUT")"
# Host loopback echo servers for -U
server_in host lo_echo4 -t "$((UDP_BUDGET + 60))" -b 127.0.0.1 \
	echo "$NS_FWD" ||
	ktap_diag "host 127.0.0.1 echo did not start: $(cat "$SERVER_OUT")"
server_in host lo_echo6 -t "$((UDP_BUDGET + 60))" -b ::1 echo "$NS_FWD" ||
	ktap_diag "host ::1 echo did not start: $(cat "$SERVER_OUT")"

# --- 1: default options ---------------------------------------------------
daemon_up "default" -t none -T none \
	-u "$FWD,$FWD_REMAP_HOST:$FWD_REMAP" -U "$NS_FWD" \
	--dns-forward "$DNS_FWD4" --dns-forward "$DNS_FWD6"

data_suite "default"
if [ $KERNEL = 1 ] || ! has_opt --no-gso; then
	for i in 1 2 3 4 5 6 7 8 9; do
		ktap_skip "train check $i" "$NO_OPT"
	done
else
	train_suite "default" fewer
fi

tool_check "port unreachable: a connected guest socket gets ECONNREFUSED, IPv4" \
	"$GUEST_PID" 5 unreach "$REMOTE_LO4" "$R_CLOSED"
tool_check "port unreachable: a connected guest socket gets ECONNREFUSED, IPv6" \
	"$GUEST_PID" 5 unreach "$REMOTE_LO6" "$R_CLOSED"

# -u with a remap: the remote's connected socket takes only replies from
# the port it sent to, so the reverse mapping is checked too. The remote
# sends from its loopback address here, not from 192.0.2.2 or 2001:db8::2:
# those are the gateway addresses the guest copied, which pasta maps to the
# host's loopback (no --no-map-gw), so its replies there would go astray.
if [ $KERNEL = 1 ]; then
	ktap_skip "-u $FWD_REMAP_HOST:$FWD_REMAP, IPv4" "$NO_OPT"
	ktap_skip "-u $FWD_REMAP_HOST:$FWD_REMAP, IPv6" "$NO_OPT"
else
	server_in "$GUEST_PID" guest_echo -t "$UDP_BUDGET" echo "$FWD_REMAP"
	guest_echo=$BG_PID
	for a in "$HOST_ADDR4" "$HOST_ADDR6"; do
		src=$REMOTE_LO4
		[ "$a" = "$HOST_ADDR6" ] && src=$REMOTE_LO6
		tool_check "-u $FWD_REMAP_HOST:$FWD_REMAP: $src to $a port $FWD_REMAP_HOST reaches guest port $FWD_REMAP, replies come from $FWD_REMAP_HOST" \
			"$REMOTE_PID" 20 -E -n 200 -r 2000 -z "$UDP_SIZES" \
			-b "$src" send "$a" "$FWD_REMAP_HOST"
	done
	stop_pid "$guest_echo"
fi

# -U: namespace loopback to the host's loopback, where echo servers bound
# to 127.0.0.1 and ::1 answer
for a in 127.0.0.1 ::1; do
	tool_check "-U $NS_FWD: guest $a -> host loopback echo, replies back, intact" \
		"$GUEST_PID" 20 -E -n 200 -r 2000 -z "$UDP_SIZES" \
		send "$a" "$NS_FWD"
done

dns_check 4
dns_check 6

dropped_check "broadcast 255.255.255.255 from the guest: nothing reaches the remote" \
	255.255.255.255 -4
dropped_check "broadcast 192.0.2.255 from the guest: nothing reaches the remote" \
	192.0.2.255 -4
dropped_check "multicast 224.0.0.251 from the guest: nothing reaches the remote" \
	224.0.0.251 -4 -J "224.0.0.251%$REMOTE_IF"
dropped_check "multicast ff02::fb from the guest: nothing reaches the remote" \
	"ff02::fb%$HOST_IF" -6 -J "ff02::fb%$REMOTE_IF"

daemon_alive
ktap_result "default: daemon still running" $?
daemon_down

# --- 2: flow expiry ---------------------------------------------------------
# The remote's echo answers at once, 1 s later (the flow is still there)
# and LATE_MS later, long after the flow expired: that reply must not reach
# the guest. A new datagram on the same 5-tuple must get its answer again.
if [ $KERNEL = 1 ] || has_opt --udp-timeout; then
	daemon_up "--udp-timeout $EXPIRY" --udp-timeout "$EXPIRY" -t none \
		-T none -u none -U none
	if tool_check "--udp-timeout $EXPIRY: echo, then a new datagram on the same socket answered" \
		"$GUEST_PID" 30 -i "$((LATE_MS + 1500))" -w 3000 \
		late "$REMOTE_LO4" "$R_LATE"; then
		at=$(kv "$TOOL_OUT" at)
	else
		at=failed
	fi
	ktap_diag "replies at ms: $at"
	in_time=0
	late=0
	for ms in ${at//,/ }; do
		[ "$ms" = failed ] || [ "$ms" = - ] && continue
		[ "$ms" -ge 800 ] && [ "$ms" -lt 2500 ] && in_time=1
		[ "$ms" -ge $((LATE_MS - 200)) ] && late=1
	done
	[ $in_time = 1 ]
	ktap_result "--udp-timeout $EXPIRY: a reply 1 s later, within the timeout, reaches the guest" \
		$? "replies at ms: $at"
	if [ $KERNEL = 1 ]; then
		[ $late = 1 ]
		ktap_result "kernel path: a reply ${LATE_MS} ms later reaches the open socket (the check can see it)" \
			$? "replies at ms: $at"
	else
		[ $late = 0 ] && [ "$at" != failed ]
		ktap_result "--udp-timeout $EXPIRY: the flow expired: a reply ${LATE_MS} ms later does not reach the guest" \
			$? "replies at ms: $at"
	fi
	daemon_down
else
	for i in 1 2 3 4; do
		ktap_skip "--udp-timeout check $i" "$NO_OPT"
	done
fi

# --- 3: --no-mmsg -----------------------------------------------------------
if has_opt --no-mmsg; then
	daemon_up "--no-mmsg" --no-mmsg -t none -T none -u "$FWD" -U none
	data_suite "--no-mmsg"
	daemon_alive
	ktap_result "--no-mmsg: daemon still running" $?
	daemon_down
else
	for i in $(seq 1 9); do
		ktap_skip "--no-mmsg check $i" "$NO_OPT"
	done
fi

# --- 4: --no-gso ------------------------------------------------------------
if [ $KERNEL = 0 ] && has_opt --no-gso; then
	daemon_up "--no-gso" --no-gso -t none -T none -u "$FWD" -U none
	train_suite "--no-gso" all
	daemon_alive
	ktap_result "--no-gso: daemon still running" $?
	daemon_down
else
	for i in $(seq 1 11); do
		ktap_skip "--no-gso check $i" "$NO_OPT"
	done
fi

# --- 5: --udp-yield --------------------------------------------------------
# yield_check() - A burst of 1400-byte datagrams toward the guest arrives
# intact, and the daemon's sched_yield() calls meanwhile (strace -c)
# number at least $2 (at most $3, if given)
# $1:	Label
# $2:	Fewest sched_yield() calls, 0 for "none at all"
# $3:	Most sched_yield() calls (optional)
yield_check() {
	local label=$1; shift
	local least=$1; shift
	local most=${1:-}
	local out=$SANDBOX_TMP/strace.$RANDOM calls st

	strace -c -e trace=sched_yield -o "$out" -p "$DAEMON_PID" \
		2>/dev/null &
	st=$!
	track_pid "$st"
	# strace says nothing once attached: give it a moment
	sleep 0.5
	burst_check "$label: remote->ns" 1400 32 "$GUEST_PID" "$REMOTE_PID" \
		"$FWD" "$HOST_ADDR4"
	kill -INT "$st" 2>/dev/null
	slowwait 5 pid_gone "$st"
	wait "$st" 2>/dev/null
	calls=$(awk '$NF == "sched_yield" { print $4 }' "$out" 2>/dev/null)
	calls=${calls:-0}
	ktap_diag "$label: $calls sched_yield() calls during the burst"
	if [ -n "$most" ]; then
		[ "$calls" -ge "$least" ] && [ "$calls" -le "$most" ]
		ktap_result "$label: $least to $most sched_yield() calls" $? \
			"$calls calls"
	elif [ "$least" = 0 ]; then
		[ "$calls" -eq 0 ]
		ktap_result "$label: no sched_yield() calls" $? "$calls calls"
	else
		[ "$calls" -ge "$least" ]
		ktap_result "$label: at least $least sched_yield() calls" $? \
			"$calls calls"
	fi
}

if [ $KERNEL = 0 ] && has_opt --udp-yield && command -v strace >/dev/null; then
	daemon_up "--udp-yield 8" --udp-yield 8 -t none -T none -u "$FWD" \
		-U none
	# every round of datagrams read ends with a yield once 8 went out
	yield_check "--udp-yield 8" $((TRAIN_COUNT / 64))
	daemon_down
	daemon_up "--udp-yield 0" --udp-yield 0 -t none -T none -u "$FWD" \
		-U none
	yield_check "--udp-yield 0" 0
	daemon_alive
	ktap_result "--udp-yield 0: daemon still running" $?
	daemon_down
	# A busy loop on the daemon's CPU: each yield hands it a time slice,
	# and the daemon stops yielding for 50 ms after one. The burst takes
	# about 1.2 s: some 25 pauses, each ending in one more yield, where
	# yielding after every read makes about 90 (as above)
	daemon_up "--udp-yield 8, busy loop" --udp-yield 8 -t none -T none \
		-u "$FWD" -U none
	taskset -p -c 0 "$DAEMON_PID" >/dev/null
	taskset -c 0 sh -c 'while :; do :; done' &
	busy=$!
	track_pid "$busy"
	yield_check "--udp-yield 8 beside a busy loop" 1 \
		$((TRAIN_COUNT / 64 * 3 / 4))
	stop_pid "$busy"
	daemon_down
else
	for i in $(seq 1 10); do
		ktap_skip "--udp-yield check $i" "$NO_OPT, or no strace"
	done
fi

# A train may carry more than one MTU of payload: it is cut into
# datagrams of at most one MTU each. At -m 1500, 1400-byte datagrams
# still go to the tap as trains
if [ $KERNEL = 0 ] && has_opt --no-gso; then
	daemon_up "-m 1500" -m 1500 -t none -T none -u "$FWD" -U none
	f0=$(tap_rx_frames)
	burst_check "-m 1500: remote->ns IPv4 (-u)" 1400 32 "$GUEST_PID" \
		"$REMOTE_PID" "$FWD" "$HOST_ADDR4"
	f1=$(tap_rx_frames)
	count_check "-m 1500" fewer "$((f1 - f0))" "$TRAIN_COUNT" \
		"the tap took" frame "trains beyond one MTU"
	daemon_down
else
	for i in 1 2 3; do
		ktap_skip "-m 1500 train check $i" "$NO_OPT"
	done
fi

# --- 6: registered recvmmsg() arrays -----------------------------------------
# so_recvmmsg_reg() - Succeed if this kernel knows SO_RECVMMSG_REG (85):
# without the patch, getsockopt() fails with ENOPROTOOPT
so_recvmmsg_reg() {
	python3 -c 'import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.getsockopt(socket.SOL_SOCKET, 85, 16)' 2>/dev/null
}

# reg_check() - A daemon with options: a burst toward the guest intact, and
# the log line of the probe saying @2; three results
# $1:	Label
# $2:	What the log says after "(SO_RECVMMSG_REG): "
# $@:	Daemon options
reg_check() {
	local label=$1; shift
	local want=$1; shift

	daemon_up "$label" --debug "$@" -t none -T none -u "$FWD" -U none
	burst_check "$label: remote->ns IPv4 (-u)" 64 32 "$GUEST_PID" \
		"$REMOTE_PID" "$FWD" "$HOST_ADDR4"
	grep -q "(SO_RECVMMSG_REG): $want" "$DAEMON_LOG"
	ktap_result "$label: the daemon says \"$want\"" $? \
		"$(grep 'udp: ' "$DAEMON_LOG")"
	daemon_down
}

if [ $KERNEL = 0 ] && has_opt --no-mmsg-register &&
   command -v python3 >/dev/null; then
	want="not supported by the kernel"
	so_recvmmsg_reg && want=used
	reg_check "SO_RECVMMSG_REG probe" "$want"
	reg_check "--no-mmsg-register" "off (--no-mmsg-register)" \
		--no-mmsg-register
else
	for i in $(seq 1 6); do
		ktap_skip "SO_RECVMMSG_REG check $i" "$NO_OPT, or no python3"
	done
fi

sandbox_sanitizer_reports >/dev/null
ktap_result "no sanitizer reports in the daemon logs" $? \
	"$(sandbox_sanitizer_reports)"
ktap_diag "run time $(( ($(now_ms) - START_MS) / 1000 )) s"
ktap_finish
