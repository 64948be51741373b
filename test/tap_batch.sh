#!/bin/bash
#
# test/tap_batch.sh - all frames of one flow in a tap read go to its
# socket together, adjacent or not: the guest sends datagrams of four UDP
# flows in turn (A B C D A B ...), so that a read of the tap holds them
# interleaved. Grouped per flow, each flow's run of equal datagrams
# leaves with one UDP_SEGMENT send and crosses the veth to the remote as
# one packet; batched only when adjacent, every datagram was a packet.

# shellcheck disable=SC2317 # helpers are called through busywait
# shellcheck source=test/lib/sandbox.sh
. "$(dirname "$0")/lib/sandbox.sh"

TOOL=${TOOL:-$TEST_DIR/tools/udp_interleave.py}
R_PORT=5020		# remote receivers: R_PORT to R_PORT + 3
ROUNDS=${ROUNDS:-2000}	# datagrams: 4 each round

require_tools ip nsenter unshare timeout awk grep python3
require_passtd
setup_sandbox
ktap_plan 3

# remote_rx_packets() - Packets the remote's veth received so far
remote_rx_packets() {
	in_remote cat /proc/net/dev |
		awk -v dev="$REMOTE_IF:" '$1 == dev { print $3 }'
}

if ! start_daemon --config-net -t none -T none -u none -U none; then
	ktap_fail "daemon up" "$(tail -n 5 "$DAEMON_LOG")"
	ktap_fail "four interleaved flows: all datagrams arrive" "no daemon"
	ktap_fail "four interleaved flows: fewer packets than datagrams" \
		"no daemon"
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
stop_daemon
ktap_finish
