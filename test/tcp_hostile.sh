#!/bin/bash
#
# test/tcp_hostile.sh - hostile TCP segments from the guest, beside live
# transfers that must not notice
#
# Two verified transfers run through the daemon, remote -> guest over IPv4
# (a -t port) and guest -> remote over IPv6, for LIVE_SECS seconds. Meanwhile
# frame_inject (tcp mode) writes batches of hostile TCP segments into the
# tap from the guest side, with correct IP and TCP checksums so that they
# reach TCP: bad data offsets, broken options, odd flag combinations, RSTs
# to random ports, and segments on the live connections' own 4-tuples that
# a correct TCP must ignore or answer with an ACK only (RFC 9293, 3.10.7.4;
# RFC 5961): sequence numbers 2^30 outside the window, ACKs for data never
# sent, and (last, as it is the one at the next sequence number) data and
# FIN without the ACK bit. Sequence and acknowledgement numbers of the live
# connections are learnt by frame_inject from the guest's own segments on
# the tap. Some segments on the IPv6 4-tuple, where the guest sends, are
# repeated 20 ms apart, so that some land among the guest's own segments
# in one batch the daemon reads from the tap.
#
# After each batch: the daemon runs, both live transfers still move data,
# and fresh connections work. At the end both transfers must be intact:
# every byte verified by the receiver, and byte counts and hashes equal at
# both ends.
#
# A second daemon with --flows 64 then takes 5000 SYNs to random ports, to
# a host that refuses them and to one that never answers, beside a live
# transfer of its own; the flows those SYNs hold must not starve new
# connections for long.

# shellcheck disable=SC2317 # helpers are called through slowwait
# shellcheck source=test/lib/sandbox.sh
. "$(dirname "$0")/lib/sandbox.sh"

TCP_STREAM=${TCP_STREAM:-$TEST_DIR/tools/tcp_stream}
LIVE_SECS=${LIVE_SECS:-30}	# live transfers of the first daemon
FLOOD_SECS=${FLOOD_SECS:-24}	# live transfer of the second daemon
SYN_FREE_SECS=15		# unanswered connects must be gone by then

require_tools ip nsenter unshare timeout ss awk grep
require_passtd
[ -x "$TCP_STREAM" ] ||
	ktap_skip_all "no $TCP_STREAM (make test/tools/tcp_stream)"
setup_sandbox

frame_inject_tool
"$FRAME_INJECT" -h 2>&1 | grep -q ' tcp SPEC' ||
	ktap_skip_all "$FRAME_INJECT has no tcp mode"

FWD=10001		# -t: guest server of the live IPv4 transfer
R_PORT=5001		# remote server of the live IPv6 transfer
R_ECHO=5002		# remote echo server for fresh connections
H_SINK=7777		# host sink, the guest reaches it at the gateway
RAND_PORTS=20000-29999	# nothing listens there
OUT=0x40000000		# 2^30: far outside any window
DEAD4=203.0.113.7	# routed to the remote namespace, which drops it
DEAD6=2001:db8:ffff::7
START_MS=$(now_ms)
N_BATCH=5		# results per batch of the first daemon
N_FLOOD=4		# results per batch of the second daemon

BG_PID=
RUN=0

# server_up() - Start a tcp_stream server, wait until it listens
# $1:	Namespace (PID or host)
# $2:	Output file
# $@:	tcp_stream arguments
#
# Sets BG_PID. Return: 0 once it listens
server_up() {
	local ns=$1; shift
	local out=$1; shift

	bg_in "$ns" "$out" "$TCP_STREAM" "$@"
	busywait 5000 sh -c "grep -q '^listening' '$out' || \
		! kill -0 $BG_PID 2>/dev/null"
	grep -q '^listening' "$out"
}

# addr_of() - Print the address of an ss ADDR:PORT, without brackets
# $1:	ADDR:PORT or [ADDR]:PORT
addr_of() {
	local a=${1%:*}

	a=${a#[}
	a=${a%]}
	echo "${a#::ffff:}"
}

# tuple_of() - Print a guest connection's 4-tuple for frame_inject
# $1:	ss filter selecting the connection in the guest
#
# Prints src=,sport=,dst=,dport= as the guest sends. Return: 1 if none
tuple_of() {
	local filter=$1; shift
	local l p

	read -r _ _ l p _ < <(in_guest ss -Htn state established "$filter" \
			       2>/dev/null | head -n 1)
	[ -n "$p" ] || return 1
	printf 'src=%s,sport=%s,dst=%s,dport=%s\n' "$(addr_of "$l")" \
		"${l##*:}" "$(addr_of "$p")" "${p##*:}"
}

# conn_counter() - Print a counter of a guest connection (ss -i)
# $1:	ss filter
# $2:	Counter: bytes_received, bytes_acked
conn_counter() {
	local filter=$1; shift
	local name=$1; shift

	in_guest ss -Htin state established "$filter" 2>/dev/null |
		grep -o "$name:[0-9]*" | head -n 1 | cut -d: -f2
}

# moved_since() - Succeed once a guest connection's counter grew by 4 MiB
# $1:	ss filter
# $2:	Counter
# $3:	Value to grow from
moved_since() {
	local now

	now=$(conn_counter "$1" "$2")
	[ -n "$now" ] && [ $((now - $3)) -ge $((4 << 20)) ]
}

# guest_rtos() - Print the guest's count of retransmission timeouts
#
# Without nstat, prints nothing
guest_rtos() {
	[ $HAVE_NSTAT = 1 ] || return 0
	in_guest nstat -asz TcpExtTCPTimeouts 2>/dev/null |
		awk '$1 == "TcpExtTCPTimeouts" { print $2; f = 1 }
		     END { if (!f) print 0 }'
}

# check_moving() - Report whether a live transfer still moves data
# $1:	Result name
# $2:	ss filter
# $3:	Counter
# $4:	PID of the sender, to tell a finished transfer from a stuck one
# $5:	For a guest sender: the guest's retransmission timeouts before
#	the batch (guest_rtos), which must not have grown (optional)
#
# Without loss, the guest's TCP never has to wait for a retransmission
# timeout (test/tcp.sh checks that); after segments it must ignore, it
# must not either: one is a stall of 200 ms at least, then twice as long
# at each one that follows.
check_moving() {
	local name=$1; shift
	local filter=$1; shift
	local counter=$1; shift
	local sender=$1; shift
	local rto0=${1:-}
	local b0 b1 rto1 msg

	b0=$(conn_counter "$filter" "$counter")
	if [ -z "$b0" ]; then
		ktap_fail "$name" "the connection is gone from the guest" \
			"$(in_guest ss -Htn 2>&1 | head -n 5)"
		return
	fi
	if slowwait 3 moved_since "$filter" "$counter" "$b0"; then
		rto1=$(guest_rtos)
		if [ -n "$rto0" ] && [ -n "$rto1" ] && [ "$rto1" -gt "$rto0" ]
		then
			msg="it moves, but the guest's TCP waited for"
			msg+=" $((rto1 - rto0)) retransmission timeouts"
			msg+=" (TcpExtTCPTimeouts) since the batch"
			ktap_fail "$name" "$msg" \
				"guest: $(in_guest ss -Htin "$filter" 2>&1)" \
				"$(in_guest ip -s link show 2>&1)"
			return
		fi
		ktap_ok "$name"
		return
	fi
	b1=$(conn_counter "$filter" "$counter")
	pid_alive "$sender" || b1="$b1 (the sender has finished)"
	ktap_fail "$name" "$counter was $b0, 3 s later ${b1:-gone}" \
		"guest: $(in_guest ss -Htin "$filter" 2>&1)" \
		"daemon: $(ss -Htin "$filter" 2>&1)"
}

# fresh_ok() - Succeed if new connections to the remote work, both families
# $1:	Output file
fresh_ok() {
	local out=$1; shift

	in_guest timeout 10 "$TCP_STREAM" -t 8 conns "$REMOTE_LO4" "$R_ECHO" \
		1 64K >"$out" 2>&1 &&
	in_guest timeout 10 "$TCP_STREAM" -t 8 conns "$REMOTE_LO6" "$R_ECHO" \
		1 64K >>"$out" 2>&1
}

# check_fresh() - Report whether fresh connections work
# $1:	Result name
# $2:	Seconds to keep trying
check_fresh() {
	local name=$1; shift
	local secs=$1; shift
	local out

	RUN=$((RUN + 1))
	out=$SANDBOX_TMP/fresh.$RUN
	slowwait "$secs" fresh_ok "$out"
	ktap_result "$name" $? "$(cat "$out")"
}

# inject() - Write TCP segments from the guest side; one result
# $1:	Result name
# $@:	frame_inject tcp specifications
#
# Specifications on the 4-tuple of a live connection that is gone from the
# guest (T4_GONE, T6_GONE set) are not sent: nothing is left to learn
# sequence numbers from. The result then fails, naming them.
inject() {
	local name=$1; shift
	local specs=() skipped=() spec out rc=0

	for spec in "$@"; do
		if { [ -n "$T4_GONE" ] && [[ "$spec" == "$T4,"* ]]; } ||
		   { [ -n "$T6_GONE" ] && [[ "$spec" == "$T6,"* ]]; }; then
			skipped+=("$spec")
		else
			specs+=("$spec")
		fi
	done
	if [ ${#specs[@]} -gt 0 ]; then
		out=$(in_guest timeout 30 "$FRAME_INJECT" "${INJECT_OPTS[@]}" \
			"$HOST_IF" tcp "${specs[@]}" 2>&1)
		rc=$?
	fi
	if [ ${#skipped[@]} -gt 0 ]; then
		out+=$'\n'"not sent, their connection is gone: ${skipped[*]}"
		rc=1
	fi
	ktap_result "$name" $rc "$out"
	[ $rc -eq 0 ] && grep -q '^learnt' <<<"$out" &&
		ktap_diag "$(grep '^learnt' <<<"$out" | sort -u | head -n 2)"
	return 0
}

# check_intact() - Wait for a live transfer, compare both of its ends
# $1:	Result name
# $2:	Receiver PID
# $3:	Receiver output
# $4:	Sender PID
# $5:	Sender output
# $6:	Seconds to wait at most
check_intact() {
	local name=$1; shift
	local rpid=$1; shift
	local rout=$1; shift
	local spid=$1; shift
	local sout=$1; shift
	local secs=$1; shift
	local src rrc diag

	finish_bg "$spid" "$secs"
	src=$?
	finish_bg "$rpid" 5
	rrc=$?
	diag=("sender: status $src: $(cat "$sout")"
	      "receiver: status $rrc: $(grep -v '^listening' "$rout")")
	if [ $src -ne 0 ] || [ $rrc -ne 0 ]; then
		ktap_fail "$name" "${diag[@]}"
	elif [ "$(kv "$sout" sent)" != "$(kv "$rout" recv)" ] ||
	     [ "$(kv "$sout" sent_hash)" != "$(kv "$rout" recv_hash)" ]; then
		ktap_fail "$name" "sent and received bytes differ" "${diag[@]}"
	elif [ "$(kv "$rout" sent)" != "$(kv "$sout" recv)" ] ||
	     [ "$(kv "$rout" sent_hash)" != "$(kv "$sout" recv_hash)" ]; then
		ktap_fail "$name" "the sender received bytes the receiver" \
			"never sent" "${diag[@]}"
	elif [ "$(kv "$rout" recv)" -lt $((64 << 20)) ]; then
		ktap_fail "$name" "only $(kv "$rout" recv) bytes moved" \
			"${diag[@]}"
	else
		ktap_diag "$name: $(kv "$rout" recv) bytes in" \
			  "$(kv "$rout" ms) ms"
		ktap_ok "$name"
	fi
}

# fail_rest() - Report the results a phase could not get to as failures
# $1:	Number of results
# $2:	Reason
fail_rest() {
	local n=$1; shift
	local why=$1; shift
	local i

	for ((i = 1; i <= n; i++)); do
		ktap_fail "not run ($i of $n)" "$why"
	done
}

# guest_ready() - Succeed once the guest has routes and a usable IPv6 address
guest_ready() {
	in_guest ip -4 route show default | grep -q via &&
		in_guest ip -6 route show default | grep -q via &&
		! in_guest ip -6 addr show dev "$HOST_IF" | grep -q tentative
}

# daemon_up() - Start a daemon against a new guest, wait for its routes
# $@:	Daemon options
daemon_up() {
	start_daemon --config-net "$@" >"$SANDBOX_TMP/start.out" 2>&1 &&
		slowwait 10 guest_ready
}

# set_inject_mac() - Address injected frames to the daemon's MAC as learnt
set_inject_mac() {
	local dmac

	in_guest ping -c 1 -W 1 "$REMOTE_ADDR4" >/dev/null 2>&1
	dmac=$(in_guest ip neigh show "$REMOTE_ADDR4" |
	       awk '/lladdr/ { print $5; exit }')
	INJECT_OPTS=()
	[ -n "$dmac" ] && INJECT_OPTS=(-d "$dmac")
}

# drop_counters() - Print the daemon's drop counters from its debug log
drop_counters() {
	grep 'dropped:' "$DAEMON_LOG" 2>/dev/null | sed 's/^[0-9.]*: //'
}

BATCHES=10
HAVE_NSTAT=0
command -v nstat >/dev/null 2>&1 && HAVE_NSTAT=1
NO_RTO=
[ $HAVE_NSTAT = 1 ] && NO_RTO=", no RTO"
ktap_plan $((1 + BATCHES * N_BATCH + 2 + 1 + 1 + 2 * N_FLOOD + 1 + 1 + 1 + 1))

# The remote's echo server for fresh connections, through both daemons
server_up "$REMOTE_PID" "$SANDBOX_TMP/echo.out" -t 100 echo "$R_ECHO"
# A sink on the host, reached at the gateway's address (host loopback)
server_up host "$SANDBOX_TMP/sink.out" -t 100 sink "$H_SINK"

# --- 1: one daemon, two live transfers, hostile segments ------------------

T4=
T6=
if daemon_up -d -t "$FWD" -T none -u none -U none; then
	server_up "$GUEST_PID" "$SANDBOX_TMP/l4.recv" -4 \
		-t $((LIVE_SECS + 30)) -r listen "$FWD"
	l4_recv=$BG_PID
	server_up "$REMOTE_PID" "$SANDBOX_TMP/l6.recv" -6 \
		-t $((LIVE_SECS + 30)) -r listen "$R_PORT"
	l6_recv=$BG_PID
	LIVE_MS=$(now_ms)
	bg_in "$REMOTE_PID" "$SANDBOX_TMP/l4.send" "$TCP_STREAM" \
		-t $((LIVE_SECS + 30)) -s 1024G -d "$LIVE_SECS" \
		connect "$HOST_ADDR4" "$FWD"
	l4_send=$BG_PID
	bg_in "$GUEST_PID" "$SANDBOX_TMP/l6.send" "$TCP_STREAM" \
		-t $((LIVE_SECS + 30)) -s 1024G -d "$LIVE_SECS" \
		connect "$REMOTE_LO6" "$R_PORT"
	l6_send=$BG_PID
	L4_SS="( sport = :$FWD )"
	L6_SS="( dport = :$R_PORT )"
	slowwait 5 moved_since "$L4_SS" bytes_received 0 &&
		slowwait 5 moved_since "$L6_SS" bytes_acked 0 &&
		T4=$(tuple_of "$L4_SS") && T6=$(tuple_of "$L6_SS")
	set_inject_mac
fi
if [ -z "$T6" ]; then
	ktap_fail "daemon up, live transfers running" \
		"$(cat "$SANDBOX_TMP/start.out")" \
		"$(tail -n 5 "$SANDBOX_TMP"/l[46].* 2>/dev/null)"
	fail_rest $((BATCHES * N_BATCH + 2)) "no daemon or no live transfers"
else
	ktap_diag "live IPv4 (guest view): $T4" "live IPv6 (guest view): $T6"
	ktap_ok "daemon up, live transfers running"

	G6=$(addr_of "$(in_guest ss -Htn state established "$L6_SS" |
			 awk '{ print $3; exit }')")
	# Segments to random ports of the gateway (the host's loopback,
	# nothing listens) and to the host's sink, both families
	R4="dport=$RAND_PORTS,sport=$RAND_PORTS,seq=rand"
	R6="src=$G6,$R4"
	S4="dport=$H_SINK,sport=$RAND_PORTS,seq=rand"
	S6="src=$G6,$S4"
	# On the live 4-tuples, 2^30 after and before the next sequence number
	A4="$T4,flags=A,seq=+$OUT,ack=+0,win=learnt"
	B4="$T4,flags=A,seq=-$OUT,ack=+0,win=learnt"
	A6="$T6,flags=A,seq=+$OUT,ack=+0,win=learnt"
	B6="$T6,flags=A,seq=-$OUT,ack=+0,win=learnt"

	# name|specifications (see frame_inject's top comment)
	BATCH=(
	"data offset 0, 4 and past the segment|
	 $R4,doff=0 $R4,doff=4 $R4,doff=15,opts=01010101 $R4,doff=6
	 $R4,flags=A,doff=3 $R6,doff=0 $R6,doff=4 $R6,doff=15,opts=01010101
	 $R6,doff=6 $A4,doff=4 $A4,doff=15 $B4,doff=0,len=100 $A6,doff=4
	 $A6,doff=15 $B6,doff=0,len=100"
	"options of length 0, 1, past the header; MSS 0; window scale 255|
	 $R4,opts=020005b4 $R4,opts=03010e01 $R4,opts=0101020a
	 $R4,opts=01010303 $R4,opts=01010102 $R4,opts=02040000
	 $R4,opts=010303ff $R6,opts=020005b4 $R6,opts=03010e01
	 $R6,opts=0101020a $R6,opts=02040000 $R6,opts=010303ff
	 $S4,opts=020005b4 $S4,opts=03010e01 $S4,opts=0101020a
	 $S4,opts=02040000010303ff $S4,opts=010303ff $S6,opts=02040000
	 $S6,opts=010303ff $S6,opts=0200 $A4,opts=020005b4 $A4,opts=0101020a
	 $A6,opts=03010e01 $A6,opts=01010303"
	"SYN with every flag set, SYN+FIN; SYN on the live connections|
	 $R4,flags=0x1ff $R4,flags=0xff $R4,flags=SF $R4,flags=SFPU
	 $R4,flags=SA,ack=rand $R6,flags=0x1ff $R6,flags=SF $R6,flags=SFPUEC
	 $S4,flags=SF $S4,flags=SFPUECN,opts=02040000010303ff $S6,flags=SF
	 $T4,flags=S,seq=+$OUT $T6,flags=S,seq=-$OUT,opts=010303ff"
	"RST to random ports|
	 $R4,flags=R,count=300 $R4,flags=RA,ack=rand,count=300
	 $R6,flags=R,count=300 $R6,flags=RA,ack=rand,count=300"
	"ACKs for data never sent, on the live connections|
	 $T4,flags=A,seq=+0,ack=+$OUT,win=learnt,count=20
	 $T4,flags=A,seq=+0,ack=+0x7fff0000,win=learnt,count=20
	 $T4,flags=A,seq=+0,ack=-$OUT,win=learnt,count=20
	 $T6,flags=A,seq=+0,ack=+$OUT,win=learnt,count=20
	 $T6,flags=A,seq=+0,ack=+0x7fff0000,win=learnt,count=20
	 $T6,flags=A,seq=+0,ack=-$OUT,win=learnt,count=20"
	"zero window ACKs with wrong sequence numbers, live connections|
	 $T4,flags=A,seq=+$OUT,ack=+0,win=0,count=50
	 $T4,flags=A,seq=-$OUT,ack=+0,win=0,count=50
	 $T6,flags=A,seq=+$OUT,ack=+0,win=0,count=20,every=20
	 $T6,flags=A,seq=-$OUT,ack=+0,win=0,count=50"
	"FIN outside the window, live connections|
	 $T4,flags=FA,seq=+$OUT,ack=+0,win=learnt
	 $T4,flags=FA,seq=-$OUT,ack=+0,win=learnt
	 $T4,flags=FPA,seq=-$OUT,ack=+0,win=learnt,len=100
	 $T6,flags=FA,seq=+$OUT,ack=+0,win=learnt,count=20,every=20
	 $T6,flags=FA,seq=-$OUT,ack=+0,win=learnt
	 $T6,flags=F,seq=+$OUT"
	"data with an ACK for data never sent, live connections|
	 $T4,flags=PA,seq=+0,ack=+$OUT,win=learnt,len=100
	 $T6,flags=PA,seq=+0,ack=+$OUT,win=learnt,len=100"
	"RST with wrong sequence numbers on the live connections|
	 $T4,flags=R,seq=+$OUT $T4,flags=RA,seq=-$OUT,ack=+0
	 $T4,flags=0x1ff,seq=+$OUT,ack=+0 $T6,flags=R,seq=-$OUT
	 $T6,flags=RA,seq=+$OUT,ack=+0 $T6,flags=0x1ff,seq=-$OUT,ack=+0"
	"data and FIN without ACK at the next sequence number, live IPv4|
	 $T4,flags=P,seq=+0,win=learnt,len=100 $T4,flags=F,seq=+0,win=learnt"
	)
	[ ${#BATCH[@]} -eq $BATCHES ] || echo "# BATCHES is wrong"

	T4_GONE=
	T6_GONE=
	for batch in "${BATCH[@]}"; do
		label=${batch%%|*}
		# shellcheck disable=SC2206 # split the list on whitespace
		specs=(${batch#*|})
		if ! daemon_alive; then
			for ((i = 1; i <= N_BATCH; i++)); do
				ktap_fail "$label: check $i" \
					"the daemon is gone"
			done
			continue
		fi
		[ -z "$(conn_counter "$L4_SS" bytes_received)" ] && T4_GONE=1
		[ -z "$(conn_counter "$L6_SS" bytes_acked)" ] && T6_GONE=1
		rto0=$(guest_rtos)
		inject "$label: ${#specs[@]} kinds of segments injected" \
			"${specs[@]}"
		daemon_alive
		ktap_result "$label: daemon still running" $?
		check_moving "$label: live IPv4 (remote -> guest) moves" \
			"$L4_SS" bytes_received "$l4_send"
		check_moving \
			"$label: live IPv6 (guest -> remote) moves$NO_RTO" \
			"$L6_SS" bytes_acked "$l6_send" "$rto0"
		check_fresh "$label: fresh connections, IPv4 and IPv6" 3
	done
	ktap_diag "batches done after $(( ($(now_ms) - START_MS) / 1000 )) s" \
		  "(the live transfers stop sending after ${LIVE_SECS} s)"

	left=$(( LIVE_SECS + 10 - ($(now_ms) - LIVE_MS) / 1000 ))
	[ "$left" -lt 5 ] && left=5
	check_intact "live IPv4 transfer complete and intact at both ends" \
		"$l4_recv" "$SANDBOX_TMP/l4.recv" "$l4_send" \
		"$SANDBOX_TMP/l4.send" "$left"
	check_intact "live IPv6 transfer complete and intact at both ends" \
		"$l6_recv" "$SANDBOX_TMP/l6.recv" "$l6_send" \
		"$SANDBOX_TMP/l6.send" 10
fi
stop_daemon
ktap_result "first daemon exits on SIGTERM" $?
ktap_diag "first daemon's drop counters:" "$(drop_counters)"
[ -n "$GUEST_PID" ] && stop_pid "$GUEST_PID"

# --- 2: --flows 64, 5000 SYNs to random ports ------------------------------

live=0
if daemon_up -d --flows 64 -t "$FWD" -T none -u none -U none; then
	server_up "$GUEST_PID" "$SANDBOX_TMP/f4.recv" -4 \
		-t $((FLOOD_SECS + 30)) -r listen "$FWD"
	f4_recv=$BG_PID
	PHASE2_MS=$(now_ms)
	bg_in "$REMOTE_PID" "$SANDBOX_TMP/f4.send" "$TCP_STREAM" \
		-t $((FLOOD_SECS + 30)) -s 1024G -d "$FLOOD_SECS" \
		connect "$HOST_ADDR4" "$FWD"
	f4_send=$BG_PID
	L4_SS="( sport = :$FWD )"
	slowwait 5 moved_since "$L4_SS" bytes_received 0 && live=1
	set_inject_mac
fi
if [ $live = 0 ]; then
	ktap_fail "--flows 64: daemon up, live transfer running" \
		"$(cat "$SANDBOX_TMP/start.out")" \
		"$(tail -n 5 "$SANDBOX_TMP"/f4.* 2>/dev/null)"
	fail_rest $((2 * N_FLOOD + 1)) "no daemon or no live transfer"
else
	ktap_ok "--flows 64: daemon up, live transfer running"
	G6=$(in_guest ip -6 addr show dev "$HOST_IF" scope global |
	     awk '/inet6/ { sub(/\/.*/, "", $2); print $2; exit }')
	F="flags=S,sport=$RAND_PORTS,seq=rand,opts=020405b4,count=2500"

	inject "--flows 64: 5000 SYNs to random closed ports injected" \
		"$F,dport=$RAND_PORTS" "$F,src=$G6,dport=$RAND_PORTS"
	daemon_alive
	ktap_result "--flows 64, closed ports: daemon still running" $?
	check_moving "--flows 64, closed ports: live transfer moves" \
		"$L4_SS" bytes_received "$f4_send"
	check_fresh "--flows 64, closed ports: fresh connections" 5

	inject "--flows 64: 5000 SYNs to addresses that never answer injected" \
		"$F,dst=$DEAD4,dport=$RAND_PORTS" \
		"$F,src=$G6,dst=$DEAD6,dport=$RAND_PORTS"
	daemon_alive
	ktap_result "--flows 64, no answer: daemon still running" $?
	check_moving "--flows 64, no answer: live transfer moves" \
		"$L4_SS" bytes_received "$f4_send"
	name="fresh connections within $SYN_FREE_SECS s"
	check_fresh "--flows 64, no answer: $name" "$SYN_FREE_SECS"

	left=$(( FLOOD_SECS + 10 - ($(now_ms) - PHASE2_MS) / 1000 ))
	[ "$left" -lt 5 ] && left=5
	check_intact "--flows 64: live transfer complete, intact at both ends" \
		"$f4_recv" "$SANDBOX_TMP/f4.recv" "$f4_send" \
		"$SANDBOX_TMP/f4.send" "$left"
fi
stop_daemon
ktap_result "second daemon exits on SIGTERM" $?
ktap_diag "second daemon's drop counters:" "$(drop_counters)"
grep -q 'dropped: flow table full' "$DAEMON_LOG"
ktap_result "--flows 64: the SYNs filled the flow table" $? \
	"no 'flow table full' drop in $(basename "$DAEMON_LOG")"

sandbox_sanitizer_reports >/dev/null
ktap_result "no sanitizer reports in the daemon logs" $? \
	"$(sandbox_sanitizer_reports)"
ktap_diag "run time $(( ($(now_ms) - START_MS) / 1000 )) s"
ktap_finish
