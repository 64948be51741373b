#!/bin/bash
#
# test/hot_path.sh - system calls the data path does not need, it does
# not make:
# - all frames of one flow in a tap read go to its socket together,
#   adjacent or not: the guest sends datagrams of four UDP flows in turn
#   (A B C D A B ...), so that a read of the tap holds them interleaved.
#   Grouped per flow, each flow's run of equal datagrams leaves with one
#   UDP_SEGMENT send and crosses the veth to the remote as one packet;
#   batched only when adjacent, every datagram was a packet;
# - an upload from the guest does not peek the connection's socket, which
#   has nothing for the guest, for every batch of frames (strace counts
#   the daemon's recvmsg() calls);
# - a download drops what the guest acknowledged from the socket once per
#   batch of the guest's frames, not once per ACK (recvfrom() calls, which
#   recv() makes, against the guest's ACK segments the daemon read).

# shellcheck disable=SC2317 # helpers are called through busywait
# shellcheck source=test/lib/sandbox.sh
. "$(dirname "$0")/lib/sandbox.sh"

TOOL=${TOOL:-$TEST_DIR/tools/udp_interleave.py}
TCP_STREAM=${TCP_STREAM:-$TEST_DIR/tools/tcp_stream}
R_SINK=5030		# remote TCP sink and source
UPLOAD=${UPLOAD:-20M}
R_PORT=5020		# remote receivers: R_PORT to R_PORT + 3
ROUNDS=${ROUNDS:-2000}	# datagrams: 4 each round

require_tools ip nsenter unshare timeout awk grep python3 strace
require_passtd
[ -x "$TCP_STREAM" ] ||
	ktap_skip_all "no $TCP_STREAM (make test/tools/tcp_stream)"
setup_sandbox
ktap_plan 7

# guest_tcp_out_segs() - TCP segments the guest sent so far (/proc/net/snmp)
guest_tcp_out_segs() {
	in_guest cat /proc/net/snmp | awk '$1 == "Tcp:" {
		if (!col) { for (i = 2; i <= NF; i++)
				if ($i == "OutSegs") col = i; next }
		print $col }'
}

# syscalls_during() - Run a command in the guest while strace counts the
# daemon's calls of one system call; print the count ("" if strace
# could not attach, or the command failed)
# $1:	System call
# $@:	Command
syscalls_during() {
	local call=$1; shift
	local out=$SANDBOX_TMP/strace.$RANDOM st rc

	strace -c -e trace="$call" -o "$out" -p "$DAEMON_PID" \
		2>"$out.err" &
	st=$!
	track_pid "$st"
	busywait 3000 grep -q attached "$out.err" || return
	sleep 0.2
	in_guest "$@" >"$out.run" 2>&1
	rc=$?
	kill -INT "$st" 2>/dev/null
	slowwait 5 pid_gone "$st"
	wait "$st" 2>/dev/null
	[ $rc -eq 0 ] || return
	awk -v c="$call" '$NF == c { n = $4 } END { print n + 0 }' "$out"
}

# remote_rx_packets() - Packets the remote's veth received so far
remote_rx_packets() {
	in_remote cat /proc/net/dev |
		awk -v dev="$REMOTE_IF:" '$1 == dev { print $3 }'
}

if ! start_daemon --config-net -t none -T none -u none -U none; then
	ktap_fail "daemon up" "$(tail -n 5 "$DAEMON_LOG")"
	ktap_fail "four interleaved flows: all datagrams arrive" "no daemon"
	for i in 3 4 5 6 7; do
		ktap_fail "check $i" "no daemon"
	done
	ktap_finish
fi
ktap_ok "daemon up"
# The guest learns its gateway first: no datagram waits for ARP
in_guest ping -c 1 -W 2 "$REMOTE_LO4" >/dev/null 2>&1

bg_in "$REMOTE_PID" "$SANDBOX_TMP/recv.out" python3 "$TOOL" recv \
	"$R_PORT" 4 30
recv_pid=$BG_PID
busywait 5000 server_ready "$SANDBOX_TMP/recv.out" "$recv_pid"
p0=$(remote_rx_packets)
sent=$(in_guest timeout 30 python3 "$TOOL" send "$REMOTE_LO4" "$R_PORT" 4 \
       "$ROUNDS" 1000)
finish_bg "$recv_pid" 15
p1=$(remote_rx_packets)
got=$(kv "$SANDBOX_TMP/recv.out" recv)
want=$((ROUNDS * 4))
packets=$((p1 - p0))

[ "$sent" = "sent=$want" ] && [ "${got:-0}" -ge $((want * 99 / 100)) ]
ktap_result "four interleaved flows: all datagrams arrive" $? \
	"$sent, received ${got:-?} of $want"
[ "$packets" -le $((want / 2)) ]
ktap_result "four interleaved flows: fewer packets than datagrams (UDP_SEGMENT per flow)" \
	$? "$packets packets for $want datagrams"
ktap_diag "remote veth: $packets packets for $want datagrams, ${got:-?} received"

bg_in "$REMOTE_PID" "$SANDBOX_TMP/sink.out" "$TCP_STREAM" -t 120 sink \
	"$R_SINK"
busywait 5000 server_ready "$SANDBOX_TMP/sink.out" "$BG_PID"
calls=$(syscalls_during recvmsg timeout 60 "$TCP_STREAM" -t 60 \
	-s "$UPLOAD" connect "$REMOTE_LO4" "$R_SINK")
[ -n "$calls" ]
ktap_result "upload of $UPLOAD from the guest: done" $?
[ -n "$calls" ] && [ "$calls" -le 4 ]
ktap_result "upload: no peek of a socket with nothing for the guest" $? \
	"${calls:-?} recvmsg() calls"
ktap_diag "upload of $UPLOAD: ${calls:-?} recvmsg() calls"

bg_in "$REMOTE_PID" "$SANDBOX_TMP/src.out" "$TCP_STREAM" -t 60 \
	-s "$UPLOAD" listen "$((R_SINK + 1))"
busywait 5000 server_ready "$SANDBOX_TMP/src.out" "$BG_PID"
s0=$(guest_tcp_out_segs)
calls=$(syscalls_during recvfrom timeout 60 "$TCP_STREAM" -t 60 -r \
	connect "$REMOTE_LO4" "$((R_SINK + 1))")
[ -n "$calls" ]
ktap_result "download of $UPLOAD to the guest: done, verified" $?
segs=$(( $(guest_tcp_out_segs) - s0 ))
[ -n "$calls" ] && [ "$calls" -le $((segs / 2)) ]
ktap_result "download: acknowledged data dropped once per batch, not per ACK" \
	$? "${calls:-?} recvfrom() calls for $segs segments from the guest"
ktap_diag "download of $UPLOAD: ${calls:-?} recvfrom() calls, $segs segments from the guest"
stop_daemon
ktap_finish
