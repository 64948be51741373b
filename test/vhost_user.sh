#!/bin/bash
#
# test/vhost_user.sh - VM mode as a vhost-user back end, against a fake
# front end
#
# test/tools/vu_front plays QEMU on the vhost-user socket of
# `passtd --vm --vhost-user`: guest memory in a memfd shared as two regions,
# features and protocol features (MQ, REPLY_ACK: every acknowledgement
# checked), queue pairs with split rings in that memory, and frames through
# them: ARP from every pair (answered on receive queue 0), ICMP echo, UDP
# and TCP echo through servers in the remote namespace, datagrams longer
# than one 4 KiB receive buffer (MRG_RXBUF: several buffers, num_buffers)
# or than none (one 64 KiB buffer without it), many UDP flows (each flow's
# frames on one receive queue, the flows spread over several), transmit
# chains laid out in one descriptor, several, with zero-length ones, in
# indirect tables, receive buffers as chains, partial checksums both ways,
# fewer pairs set up than offered, no protocol features (one pair, rings
# enabled by their kick), no REPLY_ACK, a ring's call eventfd given before
# its kick, ring sizes 64 and 1024; stopping
# every ring (GET_VRING_BASE answers the index the daemon got to) and
# starting them again from there, a new front end after the last left,
# RESET_OWNER. Then the hostile input: each malformed message (version,
# sizes, descriptor counts, memory tables, queue indices, ring sizes, ring
# addresses) must drop the front end with one error line and leave the
# daemon serving the next one; each malformed ring or chain (indices,
# loops, addresses outside the memory table, indirect tables, descriptor
# directions) must stop that queue alone with one error line naming it,
# the other pairs answering, and a reset bringing it back. At the end the
# daemon exits on SIGTERM, with no sanitizer report or seccomp kill.

# shellcheck disable=SC2317 # helpers are called through slowwait
# shellcheck source=test/lib/sandbox.sh
. "$(dirname "$0")/lib/sandbox.sh"

VU_FRONT=${VU_FRONT:-$TEST_DIR/tools/vu_front}
TCP_STREAM=${TCP_STREAM:-$TEST_DIR/tools/tcp_stream}
UDP_STREAM=${UDP_STREAM:-$TEST_DIR/tools/udp_stream}

require_tools ip nsenter unshare timeout
require_passtd
for tool in "$VU_FRONT" "$TCP_STREAM" "$UDP_STREAM"; do
	[ -x "$tool" ] || ktap_skip_all "no $tool (make $tool)"
done
"$PASSTD" --help 2>&1 | grep -q -- '--vhost-user' ||
	ktap_skip_all "the daemon does not support --vhost-user"
setup_sandbox

R_TCP_ECHO=5002		# remote TCP echo server, on 198.51.100.1
R_UDP_ECHO=5003		# remote UDP echo server
PAIRS=8			# --vhost-queues, the default
UDP=$REMOTE_LO4:$R_UDP_ECHO
TCP=$REMOTE_LO4:$R_TCP_ECHO
# Feature masks for -f (hexadecimal): all we know, then without some
F_ALL=0x150409983
F_NO_MRG=$(printf '0x%x' $((F_ALL & ~(1 << 15))))
F_NO_PROTO=$(printf '0x%x' $((F_ALL & ~(1 << 30))))

MSG_CASES="msg_version0 msg_version2 msg_big msg_size_u64 msg_size_get
	msg_size_state msg_size_addr msg_size_mem msg_fds_u64 msg_fds_kick
	msg_fds_call2 msg_fds_mem msg_mem0 msg_mem9 msg_map msg_map_ro
	msg_queue msg_queue_kick msg_queue_enable msg_num0 msg_num100
	msg_num65536 msg_addr msg_addr_used"
TX_RING_CASES="ring_avail ring_head ring_next ring_loop ring_gap ring_end
	ring_wrap ring_ind_nested ring_ind_len ring_ind_zero ring_ind_addr
	ring_ind_next ring_tx_write"
RX_RING_CASES="ring_rx_read ring_rx_head ring_rx_addr"
HOSTILE_PAIR=1		# -p: pair whose transmit queue (3) is broken

# vu_daemon() - Start a vhost-user daemon in the foreground, wait for it
# $1:	Socket path
# $@:	More options
vu_daemon() {
	local sock=$1; shift

	vm_daemon "$sock" --vhost-user "$@"
}

# errors() - Print the number of vhost-user error lines in the daemon log
errors() {
	grep -c '^error: .*vhost-user' "$DAEMON_LOG"
}

# new_errors() - Print the vhost-user error lines after the first @1
# $1:	Lines there were before
new_errors() {
	local before=$1; shift

	grep '^error: .*vhost-user' "$DAEMON_LOG" | tail -n +$((before + 1))
}

# front() - Run vu_front; one result: its success, the daemon alive, no
#	    new error line
# $1:	Result name
# $@:	vu_front options and steps (-s is given here)
front() {
	local name=$1; shift
	local out rc before now

	before=$(errors)
	out=$(timeout 60 "$VU_FRONT" -s "$SOCK" "$@" 2>&1)
	rc=$?
	now=$(errors)
	[ $rc -eq 0 ] && daemon_alive && [ "$now" -eq "$before" ]
	ktap_result "$name" $? "vu_front $*: status $rc" "$out" \
		"new error lines: $(new_errors "$before")" \
		"$(tail -n 5 "$DAEMON_LOG")"
}

# hostile() - Run vu_front with one hostile step; one result: its
#	      success, the daemon alive, exactly one new error line (naming
#	      the queue for ring cases)
# $1:	Result name
# $2:	Pattern the one error line must match too (empty: any)
# $@:	vu_front options and steps
hostile() {
	local name=$1; shift
	local pattern=$1; shift
	local out rc before lines n

	before=$(errors)
	out=$(timeout 60 "$VU_FRONT" -s "$SOCK" "$@" 2>&1)
	rc=$?
	lines=$(new_errors "$before")
	n=$(printf '%s' "$lines" | grep -c .)
	[ $rc -eq 0 ] && daemon_alive && [ "$n" -eq 1 ] &&
		{ [ -z "$pattern" ] || grep -q -- "$pattern" <<<"$lines"; }
	ktap_result "$name" $? "vu_front $*: status $rc" "$out" \
		"$n new error lines (want 1${pattern:+ with \"$pattern\"}):" \
		"$lines" "$(tail -n 5 "$DAEMON_LOG")"
}

# server_ready() - Succeed once a server printed "listening"
# $1:	Its output file
server_ready() {
	local out=$1; shift

	grep -q listening "$out" 2>/dev/null
}

n_msg=$(wc -w <<<"$MSG_CASES")
n_ring=$(wc -w <<<"$TX_RING_CASES $RX_RING_CASES")
ktap_plan $((29 + n_msg + n_ring))

# Echo servers in the remote namespace, on its loopback address (routed)
in_remote "$TCP_STREAM" -t 280 -b "$REMOTE_LO4" echo "$R_TCP_ECHO" \
	</dev/null >"$SANDBOX_TMP/tcp_echo.out" 2>&1 &
track_pid $!
in_remote "$UDP_STREAM" -t 280 -b "$REMOTE_LO4" echo "$R_UDP_ECHO" \
	</dev/null >"$SANDBOX_TMP/udp_echo.out" 2>&1 &
track_pid $!
slowwait 5 server_ready "$SANDBOX_TMP/tcp_echo.out"
slowwait 5 server_ready "$SANDBOX_TMP/udp_echo.out"

SOCK=$SANDBOX_TMP/vu.sock
vu_daemon "$SOCK"
ktap_result "--vm --vhost-user: listening at -s PATH" $? \
	"$(cat "$DAEMON_LOG")"

front "all features: ARP, ICMP, UDP and TCP echo through pair 0" \
	arp ping="$REMOTE_LO4" udp="$UDP" tcp="$TCP"
front "MRG_RXBUF: an 8000-byte datagram back in several 4 KiB buffers" \
	udp="$UDP,8000" udp="$UDP,30000"
front "TCP: 40000 bytes echoed, large segments into merged buffers" \
	tcp="$TCP,40000"
front "$PAIRS pairs: ARP from each, every reply on receive queue 0" mq
front "16 UDP flows: each flow on one receive queue, several queues used" \
	udpflows="$UDP,16"
front "pair 5: ICMP, UDP and TCP sent on another transmit queue" \
	pair=5 ping="$REMOTE_LO4" udp="$UDP" tcp="$TCP"
front "transmit chains: one, two, many pieces, indirect tables" layouts
front "transmit chains with zero-length pieces in indirect tables" \
	-l indmany arp udp="$UDP,3000" tcp="$TCP"
front "receive buffers as 3-descriptor chains (header, empty, rest)" \
	-r split arp udp="$UDP,8000" tcp="$TCP,20000"
front "partial checksums from the guest (NEEDS_CSUM)" \
	-C udp="$UDP" tcp="$TCP,5000"
front "no MRG_RXBUF: 64 KiB buffers, one per frame" \
	-f "$F_NO_MRG" arp udp="$UDP,30000" tcp="$TCP,20000"
front "no protocol features: one pair, rings enabled by their kick" \
	-f "$F_NO_PROTO" arp ping="$REMOTE_LO4" udp="$UDP"
front "no REPLY_ACK: the same without acknowledgements" \
	-P 1 mq udp="$UDP" tcp="$TCP"
front "2 of $PAIRS pairs set up: frames only to those" \
	-q 2 mq udpflows="$UDP,16" tcp="$TCP"
front "SET_VRING_CALL before SET_VRING_KICK (DPDK's order): calls come" \
	-k mq udp="$UDP" tcp="$TCP"
front "ring size 64" -n 64 mq udp="$UDP,8000" tcp="$TCP,20000"
front "ring size 1024" -n 1024 mq udp="$UDP,8000"
front "GET_VRING_BASE on every ring: the used index; restart from it" \
	arp udp="$UDP" reset mq reset udp="$UDP" tcp="$TCP"
front "a new front end after one left, three times" \
	arp reconnect reconnect reconnect udp="$UDP"
front "SET_MEM_TABLE again while running: TCP and UDP before and after" \
	tcp="$TCP,40000" remap tcp="$TCP,40000" udp="$UDP,8000" remap mq
front "RESET_OWNER, then everything set up again" \
	arp reset_owner mq udp="$UDP"

# Malformed messages: the front end is dropped, the next one served (the
# tool connects again after each and the steps after run on it)
for c in $MSG_CASES; do
	hostile "$c: front end dropped, one error, next front end served" "" \
		arp "$c" mq udp="$UDP"
done

# Malformed rings and chains: that queue stops, the others go on, a reset
# brings it back
q=$((2 * HOSTILE_PAIR + 1))
for c in $TX_RING_CASES; do
	hostile "$c: queue $q stopped alone, one error, back after reset" \
		"queue $q" -p "$HOSTILE_PAIR" mq "$c" reset mq udp="$UDP"
done
for c in $RX_RING_CASES; do
	hostile "$c: queue 0 stopped alone, one error, back after reset" \
		"queue 0" -e "$UDP" mq "$c" reset mq udp="$UDP"
done

front "after all that: a front end with every feature works" \
	mq udpflows="$UDP,16" tcp="$TCP,40000"

# One pair offered, fewer and more than the default
stop_daemon
vu_daemon "$SOCK" --vhost-queues 1
front "--vhost-queues 1: one pair offered, traffic through it" \
	mq udp="$UDP,8000" tcp="$TCP"
stop_daemon
vu_daemon "$SOCK" --vhost-queues 16
front "--vhost-queues 16: 16 pairs, flows spread, ARP from each" \
	mq udpflows="$UDP,32"
stop_daemon
# MSG_ZEROCOPY of payload left in guest memory, kept on although every
# path here is local: the guest gets its buffers back only once the
# kernel is done with them (vu_front reuses a slot at once, so a buffer
# returned early shows as corrupt echoed data)
vu_daemon "$SOCK" -d --zerocopy-force --zerocopy-min 4096
front "zerocopy from guest memory: 40 kB echoed intact, three times" \
	tcp="$TCP,40000" tcp="$TCP,40000" tcp="$TCP,40000" udp="$UDP,8000"
stop_daemon
zc=$(grep -o 'zerocopy: [0-9]* sends' "$DAEMON_LOG" | grep -o '[0-9]*')
held=$(grep -o 'held at exit: [0-9]* sends' "$DAEMON_LOG" | grep -o '[0-9]*')
[ "${zc:-0}" -gt 0 ] && [ "$held" = 0 ]
ktap_result "zerocopy: ${zc:-no} sends from guest memory, none held at exit" \
	$? "$(grep 'zerocopy:' "$DAEMON_LOG")"
vu_daemon "$SOCK" --no-mrg-rxbuf --no-vhost-offload
front "--no-mrg-rxbuf --no-vhost-offload: features not offered, work" \
	udp="$UDP,30000" tcp="$TCP,20000"

stop_daemon
rc=$?
! grep -qE 'SIGSYS|Bad system call|ERROR: [A-Za-z]+Sanitizer|runtime error:' \
	"$SANDBOX_TMP"/daemon.*.log && [ $rc -eq 0 ]
ktap_result "exits on SIGTERM, no seccomp kill or sanitizer report" $? \
	"stop status $rc" "$(tail -n 10 "$DAEMON_LOG")"

ktap_finish
