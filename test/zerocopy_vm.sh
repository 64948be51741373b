#!/bin/bash
#
# test/zerocopy_vm.sh - MSG_ZEROCOPY in VM mode: the guest's TCP payload
# lent to the kernel from the stream socket's receive buffers, data intact
#
# In VM mode the guest's frames arrive on the UNIX stream socket, many in
# one read into one of four receive buffers (stream.c); a TCP batch from
# those frames is lent from that buffer exactly as from the tap's. The
# guest here is a kernel stack: test/tools/tap_stream.py relays a tap in
# the guest namespace to the daemon's socket, as QEMU relays its card, so
# real TCP (retransmissions, resets, half-close) runs over VM mode. As in
# zerocopy.sh, every path in the sandbox is local, so the kernel copies
# lent pages and says so; --zerocopy-force keeps lending all the same and
# --zerocopy-scribble overwrites each buffer when its last hold goes, so a
# buffer reused before its completion shows as corrupted data at the
# remote (tcp_stream checks every byte). Loss at the remote makes its
# kernel ask for lent pages again long after the send.
# TCP_BIG (default 64M) is the size of the main transfers.

# shellcheck disable=SC2317 # helpers are called indirectly
# shellcheck source=test/lib/sandbox.sh
. "$(dirname "$0")/lib/sandbox.sh"
# shellcheck source=test/lib/loss.sh
. "$(dirname "$0")/lib/loss.sh"
# shellcheck source=test/lib/tcp_stream.sh
. "$(dirname "$0")/lib/tcp_stream.sh"
# shellcheck source=test/lib/zerocopy.sh
. "$(dirname "$0")/lib/zerocopy.sh"

TCP_STREAM=${TCP_STREAM:-$TEST_DIR/tools/tcp_stream}
TAP_STREAM=${TAP_STREAM:-$TEST_DIR/tools/tap_stream.py}
TCP_BIG=${TCP_BIG:-64M}
TCP_BUDGET=${TCP_BUDGET:-240}
KERNEL=0

require_tools ip nsenter unshare timeout awk grep python3
require_passtd
[ -x "$TCP_STREAM" ] ||
	ktap_skip_all "no $TCP_STREAM (make test/tools/tcp_stream)"
setup_sandbox

FWD=10001		# -t: one-shot guest servers
R_PORT=5001		# remote one-shot servers
VM_SOCK=$SANDBOX_TMP/vm.sock
START_MS=$(now_ms)
BUDGET_END=$(( START_MS + TCP_BUDGET * 1000 ))
RUN_COUNT=0
STREAM_DIAG=()
RELAY_PID=

"$PASSTD" --help 2>&1 | grep -q -- --no-zerocopy ||
	ktap_skip_all "the daemon has no --no-zerocopy"

# guest_net() - Configure the guest's tap as the daemon's DHCP would
guest_net() {
	in_guest ip link set dev "$HOST_IF" mtu 65520 up &&
	in_guest ip link set dev lo up &&
	in_guest ip addr add "$HOST_ADDR4/24" dev "$HOST_IF" &&
	in_guest ip -6 addr add "$HOST_ADDR6/64" dev "$HOST_IF" nodad &&
	in_guest ip route add default via "$REMOTE_ADDR4" &&
	in_guest ip -6 route add default via "$REMOTE_ADDR6"
}

# vm_up() - A VM-mode daemon, a guest namespace relayed to its socket;
#	    one result
# $1:	Label
# $@:	Daemon options
vm_up() {
	local label=$1; shift
	local rout=$SANDBOX_TMP/relay.out ok=1

	new_holder || { ktap_fail "$label: guest namespace"; return 1; }
	GUEST_PID=$HOLDER_PID
	rm -f "$VM_SOCK"
	DAEMON_COUNT=$((DAEMON_COUNT + 1))
	DAEMON_LOG=$SANDBOX_TMP/daemon.$DAEMON_COUNT.log
	echo "$PASSTD --vm -f -s $VM_SOCK $*" >"$DAEMON_LOG"
	"$PASSTD" --vm -f -s "$VM_SOCK" "$@" </dev/null >>"$DAEMON_LOG" 2>&1 &
	DAEMON_PID=$!
	track_pid "$DAEMON_PID"
	slowwait 5 grep -q 'listening on UNIX socket' "$DAEMON_LOG" || ok=0
	if [ $ok = 1 ]; then
		bg_in "$GUEST_PID" "$rout" python3 "$TAP_STREAM" "$HOST_IF" \
			"$VM_SOCK" "$TCP_BUDGET"
		RELAY_PID=$BG_PID
		slowwait 5 grep -q '^ready' "$rout" || ok=0
	fi
	[ $ok = 1 ] && guest_net || ok=0
	# The daemon knows the guest's MAC from its first frames: a ping
	# to the gateway sends some and proves the path
	[ $ok = 1 ] && slowwait 5 in_guest ping -c 1 -W 1 "$REMOTE_ADDR4" \
		>/dev/null || ok=0
	ktap_result "$label: daemon up, guest relayed and configured" \
		$(( ! ok )) "$(cat "$DAEMON_LOG")" "$(cat "$rout" 2>/dev/null)"
}

# vm_down() - Stop the daemon (it logs its counters), the relay, the guest
vm_down() {
	local log=$DAEMON_LOG

	stop_daemon
	[ -n "$RELAY_PID" ] && stop_pid "$RELAY_PID"
	[ -n "$GUEST_PID" ] && stop_pid "$GUEST_PID"
	slowwait 5 grep -q "zerocopy: held at exit" "$log"
}

ktap_plan 14

vm_up "VM, forced, scribbled" --debug --zerocopy-force --zerocopy-scribble \
	-t "$FWD" -u none
log=$DAEMON_LOG

stream_check "VM: $TCP_BIG guest->remote IPv4 intact" match \
	"$REMOTE_PID" "$GUEST_PID" 60 -r -e "$TCP_BIG" listen "$R_PORT" \
	-- -s "$TCP_BIG" connect "$REMOTE_LO4" "$R_PORT"
stream_check "VM: $TCP_BIG guest->remote IPv6 intact" match \
	"$REMOTE_PID" "$GUEST_PID" 60 -r -e "$TCP_BIG" listen "$R_PORT" \
	-- -s "$TCP_BIG" connect "$REMOTE_LO6" "$R_PORT"
stream_check "VM: 16M remote->guest IPv4 intact (-t)" match \
	"$GUEST_PID" "$REMOTE_PID" 60 -r -e 16M listen "$FWD" \
	-- -s 16M connect "$HOST_ADDR4" "$FWD"

if command -v nft >/dev/null 2>&1; then
	loss_on "$REMOTE_PID" "$REMOTE_IF" 1 tcp
	stream_check "VM, 1% loss: 32M guest->remote IPv4 intact" match \
		"$REMOTE_PID" "$GUEST_PID" 120 -r -e 32M listen "$R_PORT" \
		-- -s 32M connect "$REMOTE_LO4" "$R_PORT"
	d=$(loss_dropped "$REMOTE_PID")
	loss_off "$REMOTE_PID"
	[ "${d:-0}" -gt 0 ]
	ktap_result "VM, 1% loss: nftables dropped packets ($d)" $? \
		"the loss rule dropped nothing: loss not tested"
else
	ktap_skip "VM, 1% loss: guest->remote" "no nft"
	ktap_skip "VM, 1% loss: dropped" "no nft"
fi

stream_check "VM, half-close: guest FIN after 16M, then 16M reply" match \
	"$REMOTE_PID" "$GUEST_PID" 30 -r -e 16M -a -s 16M listen "$R_PORT" \
	-- -s 16M -r -e 16M connect "$REMOTE_LO4" "$R_PORT"
stream_repeat "VM: RST from the guest client while sending: remote sees ECONNRESET" \
	5 status "$REMOTE_PID" "$GUEST_PID" 15 -s 4K -N -r -X reset \
	listen "$R_PORT" -- -s 8M -N -K 4K connect "$REMOTE_LO4" "$R_PORT"
stream_repeat "VM: RST from the remote server while the guest sends: guest sees ECONNRESET" \
	5 status "$REMOTE_PID" "$GUEST_PID" 15 -s 4K -N -K 4K \
	listen "$R_PORT" -- -s 64M -N -X reset connect "$REMOTE_LO4" "$R_PORT"

daemon_alive
ktap_result "VM: daemon still running" $?
vm_down

sends=$(zc_count "$log" sends)
done1=$(zc_count "$log" completed)
copied=$(zc_count "$log" copied)
ktap_diag "VM: $(grep -o 'zerocopy: [0-9].*' "$log" | head -n 1)"
ktap_diag "VM: $(grep -o 'zerocopy: copying.*' "$log" | head -n 1)"
[ "$sends" -gt 100 ] && [ "$done1" -eq "$sends" ]
ktap_result "VM: zerocopy sends made ($sends), all completed ($done1)" \
	$? "$(grep zerocopy "$log")"
[ "$copied" -gt 0 ] && grep -q 'kept on (--zerocopy-force)' "$log"
ktap_result "VM: completions say the kernel copied ($copied), still on" \
	$? "$(grep zerocopy "$log")"
held_zero "$log"
ktap_result "VM: nothing held at exit" $? "$(grep zerocopy "$log")"

sandbox_sanitizer_reports >/dev/null
ktap_result "no sanitizer reports in the daemon logs" $? \
	"$(sandbox_sanitizer_reports)"
ktap_diag "run time $(( ($(now_ms) - START_MS) / 1000 )) s"
ktap_finish
