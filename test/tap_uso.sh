#!/bin/bash
#
# test/tap_uso.sh - UDP trains toward the tap are probed at start, with a
# fallback: on a kernel that does not take them (before Linux 6.2) every
# datagram still reaches the guest, one frame each, and a train the tap
# refuses anyway is counted as such; no refused write is counted as a
# full output queue
#
# The daemon hands the tap one frame marked VIRTIO_NET_HDR_GSO_UDP_L4 for
# a run of equal datagrams of one flow (a train). A kernel before 6.2
# refuses such a write with EINVAL, and TUNSETOFFLOAD refuses TUN_F_USO4/6.
# This kernel takes both, so test/tools/tun_pre62.c, preloaded into the
# daemon, plays the older one:
#   1. this kernel: the probe says yes, bursts reach the guest in fewer
#      frames than datagrams;
#   2. TUN_PRE62=probe (pre-6.2): the probe says no, no train is written,
#      every datagram arrives intact, one frame each;
#   3. TUN_PRE62=write (the flags taken, the frames refused): the first
#      refused train turns trains off; it is counted as "UDP train refused
#      by the tap", not as "output queue full", and the next bursts arrive
#      whole;
#   4. any other write the tap refuses (the guest's link down: EIO) is
#      counted as a tap write failure, not as a full output queue.
# The remote namespace sends bursts of 1400-byte datagrams to the daemon's
# -u port; test/tools/udp_stream in the guest checks each one.

# shellcheck disable=SC2317 # helpers are called indirectly
# shellcheck source=test/lib/sandbox.sh
. "$(dirname "$0")/lib/sandbox.sh"

UDP_STREAM=${UDP_STREAM:-$TEST_DIR/tools/udp_stream}
COUNT=${COUNT:-1600}		# datagrams per burst check
FWD=10001

require_tools ip nsenter unshare timeout awk grep
require_passtd
[ -x "$UDP_STREAM" ] ||
	ktap_skip_all "no $UDP_STREAM (make test/tools/udp_stream)"
setup_sandbox

SHIM=$SANDBOX_TMP/tun_pre62.so
${CC:-gcc} -shared -fPIC -O2 -Wall -Wextra -Werror -o "$SHIM" \
	"$TEST_DIR/tools/tun_pre62.c" >"$SANDBOX_TMP/cc.log" 2>&1 ||
	ktap_skip_all "cannot build tun_pre62.so: $(head -n 1 \
		"$SANDBOX_TMP/cc.log")"

# daemon_with() - Start the daemon against a new guest, with the shim in
# a mode (or none), and wait until the guest is configured
# $1:	TUN_PRE62 mode, "none" for the kernel as it is
#
# Sets REPORT (the shim's report file). Return: 0 when ready
daemon_with() {
	local mode=$1; shift
	local wrap=$SANDBOX_TMP/passtd.$mode

	REPORT=$SANDBOX_TMP/report.$mode
	if [ "$mode" = none ]; then
		printf '#!/bin/sh\nexec "%s" "$@"\n' "$PASSTD" >"$wrap"
	else
		# An ASan build wants its runtime first: let it be second
		printf '#!/bin/sh\nASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0 LD_PRELOAD=%s TUN_PRE62=%s TUN_PRE62_REPORT=%s exec "%s" "$@"\n' \
			"$SHIM" "$mode" "$REPORT" "$PASSTD" >"$wrap"
	fi
	chmod 755 "$wrap"
	PASSTD=$wrap start_daemon -d --config-net -t none -T none \
		-u "$FWD" -U none >/dev/null 2>&1 &&
		slowwait 10 in_guest ip -4 route show default >/dev/null
}

# tap_rx_frames() - Print how many frames the guest's interface received
tap_rx_frames() {
	in_guest cat /proc/net/dev |
		awk -v dev="$HOST_IF:" '$1 == dev { print $3 }'
}

# burst() - COUNT datagrams of 1400 bytes from the remote to the guest in
# bursts of 32 sent back to back
# $@:	More receiver options (-L: losses are no failure)
#
# Sets FRAMES (frames the tap took meanwhile) and DIAG.
# Return: 0 if every datagram arrived intact, in order
burst() {
	local out=$SANDBOX_TMP/recv.$RANDOM f0 f1 rc src

	f0=$(tap_rx_frames)
	bg_in "$GUEST_PID" "$out" "$UDP_STREAM" -t 20 -i 3000 -n "$COUNT" \
		-f 1 "$@" recv "$FWD"
	busywait 5000 server_ready "$out" "$BG_PID"
	in_remote timeout 25 "$UDP_STREAM" -t 20 -n "$COUNT" -r 3200 -k 32 \
		-z 1400 send "$HOST_ADDR4" "$FWD" >"$out.send" 2>&1
	src=$?
	finish_bg "$BG_PID" 25
	rc=$?
	f1=$(tap_rx_frames)
	FRAMES=$((f1 - f0))
	DIAG="receiver: status $rc: $(grep -v '^listening' "$out" | tr '\n' ' ')"
	DIAG+=" sender: status $src; $FRAMES tap frames for $COUNT datagrams"
	[ "$rc" -eq 0 ] && [ "$src" -eq 0 ]
}

# drops_logged() - Stop the daemon, print its drop counter lines
drops_logged() {
	stop_daemon
	grep 'dropped:' "$DAEMON_LOG"
}

ktap_plan 14

# --- 1: this kernel -------------------------------------------------------
daemon_with none
ktap_result "kernel as it is: daemon up, guest configured" $? \
	"$(tail -n 5 "$DAEMON_LOG")"
grep -q 'UDP trains in use' "$DAEMON_LOG"
ktap_result "kernel as it is: the probe finds UDP trains, logged" $? \
	"$(grep 'tap:' "$DAEMON_LOG")"
burst
ktap_result "kernel as it is: $COUNT datagrams intact, in order, none lost" \
	$? "$DIAG"
[ "$FRAMES" -le $((COUNT / 2)) ]
ktap_result "kernel as it is: fewer tap frames than datagrams (trains)" \
	$? "$DIAG"
stop_daemon
stop_pid "$GUEST_PID"

# --- 2: before Linux 6.2 --------------------------------------------------
daemon_with probe
grep -q 'UDP trains not supported by the kernel' "$DAEMON_LOG"
ktap_result "pre-6.2 tap: the probe finds no UDP trains, logged" $? \
	"$(grep 'tap:' "$DAEMON_LOG")" "$(tail -n 5 "$DAEMON_LOG")"
burst
ktap_result "pre-6.2 tap: $COUNT datagrams intact, in order, none lost" \
	$? "$DIAG"
[ "$FRAMES" -ge $((COUNT * 95 / 100)) ]
ktap_result "pre-6.2 tap: one frame per datagram" $? "$DIAG"
drops=$(drops_logged)
grep -q '^trains=0 refused=0$' "$REPORT"
ktap_result "pre-6.2 tap: no train was written" $? \
	"shim: $(cat "$REPORT" 2>/dev/null)" "$drops"
stop_pid "$GUEST_PID"

# --- 3: the flags taken, the frames refused --------------------------------
daemon_with write
burst -L
ktap_diag "first burst: $DIAG"
burst
ktap_result "trains refused at run time: the next $COUNT datagrams intact, in order, none lost" \
	$? "$DIAG"
grep -q 'refuses UDP trains' "$DAEMON_LOG"
ktap_result "trains refused at run time: logged once, trains off" $? \
	"$(grep 'tap' "$DAEMON_LOG")"
drops=$(drops_logged)
grep -q 'dropped: UDP train refused by the tap: [1-9]' <<<"$drops"
ktap_result "trains refused at run time: counted as refused by the tap" $? \
	"$drops" "shim: $(cat "$REPORT" 2>/dev/null)"
! grep -q 'output queue full' <<<"$drops"
ktap_result "trains refused at run time: not counted as a full output queue" \
	$? "$drops"
stop_pid "$GUEST_PID"

# --- 4: any other refused write --------------------------------------------
# With the guest's link down, the tap refuses every frame (EIO)
daemon_with none
in_guest ip link set "$HOST_IF" down
in_remote timeout 10 "$UDP_STREAM" -t 5 -n 20 -r 200 -z 100 \
	send "$HOST_ADDR4" "$FWD" >/dev/null 2>&1
ktap_result "guest link down: the remote sent 20 datagrams" $?
drops=$(drops_logged)
grep -q 'dropped: tap write failed: [1-9]' <<<"$drops" &&
	! grep -q 'output queue full' <<<"$drops"
ktap_result "guest link down: refused frames counted as tap write failures, not as a full output queue" \
	$? "$drops"
stop_pid "$GUEST_PID"

ktap_finish
