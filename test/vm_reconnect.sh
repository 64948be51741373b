#!/bin/bash
#
# test/vm_reconnect.sh - VM mode: a guest that connects after another one
# left starts from a clean state; nothing the daemon learnt from the first
# is used for the second
#
# test/tools/stream_client plays both guests on the daemon's UNIX socket.
# Guest A (MAC 02:00:00:00:00:0a, 192.0.2.77, 2001:db8::77) pings the
# remote namespace, so the daemon learns its MAC and addresses, and
# leaves. Guest B (02:00:00:00:00:0b, 192.0.2.1, 2001:db8::1, the
# addresses the daemon assigns) then connects, and sends only ARP or NDP
# before each check, so whatever the daemon still believes about the
# guest's addresses comes from A:
#   - a datagram from the remote namespace to a -u port reaches B at B's
#     MAC and address (IPv4, IPv6), not A's;
#   - an ARP request (neighbour solicitation) for A's address is answered:
#     that address is no longer the guest's own;
#   - B gets an unsolicited router advertisement within 3 s, as a guest
#     does at start (the schedule starts over).
# Guest A runs again before each check.

# shellcheck disable=SC2317 # helpers are called indirectly
# shellcheck source=test/lib/sandbox.sh
. "$(dirname "$0")/lib/sandbox.sh"

STREAM_CLIENT=${STREAM_CLIENT:-$TEST_DIR/tools/stream_client}
UDP_STREAM=${UDP_STREAM:-$TEST_DIR/tools/udp_stream}

require_tools ip nsenter unshare timeout
require_passtd
for tool in "$STREAM_CLIENT" "$UDP_STREAM"; do
	[ -x "$tool" ] || ktap_skip_all "no $tool (make $tool)"
done
setup_sandbox

UDP_FWD_PORT=10053
OUR_MAC=9a:55:9a:55:9a:55
A_OPTS=(-m 02:00:00:00:00:0a -a 192.0.2.77 -A 2001:db8::77)
B_OPTS=(-m 02:00:00:00:00:0b)
SOCK=$SANDBOX_TMP/vm.sock

# guest_a() - Guest A connects, is learnt (echo requests from its
# addresses), and leaves
#
# Return: 0 if its pings were answered
guest_a() {
	timeout 20 "$STREAM_CLIENT" -s "$SOCK" "${A_OPTS[@]}" \
		ping="$REMOTE_LO4" ping6="$REMOTE_LO6" \
		>"$SANDBOX_TMP/guest_a.out" 2>&1
}

# guest_b() - After guest A: guest B runs steps; one result
# $1:	Result name
# $@:	stream_client steps
guest_b() {
	local name=$1; shift
	local out

	if ! guest_a; then
		ktap_fail "$name" "guest A failed: $(cat "$SANDBOX_TMP/guest_a.out")"
		return
	fi
	out=$(timeout 20 "$STREAM_CLIENT" -t 3000 -s "$SOCK" "${B_OPTS[@]}" \
		"$@" 2>&1)
	ktap_result "$name" $? "stream_client ${B_OPTS[*]} $*" "$out"
}

# guest_b_na() - After guest A: guest B solicits a target, which must be
# advertised with the daemon's MAC (Router flag or not)
# $1:	Result name
# $2:	Target
guest_b_na() {
	local name=$1; shift
	local target=$1; shift
	local out

	if ! guest_a; then
		ktap_fail "$name" "guest A failed: $(cat "$SANDBOX_TMP/guest_a.out")"
		return
	fi
	out=$(timeout 20 "$STREAM_CLIENT" -t 3000 -s "$SOCK" "${B_OPTS[@]}" \
		"ns=$target,$OUR_MAC" 2>&1)
	grep -q "^# advertised $OUR_MAC" <<<"$out"
	ktap_result "$name" $? "stream_client ${B_OPTS[*]} ns=$target" "$out"
}

# guest_b_udp() - After guest A: the remote sends a datagram to the -u
# port, guest B must get it at its own MAC and address and echo it
# $1:	Result name
# $2:	Address of the daemon the remote sends to
# $3:	Remote's source address
guest_b_udp() {
	local name=$1; shift
	local dst=$1; shift
	local src=$1; shift
	local out=$SANDBOX_TMP/guest_b.out guest rc grc rout

	if ! guest_a; then
		ktap_fail "$name" "guest A failed: $(cat "$SANDBOX_TMP/guest_a.out")"
		return
	fi
	timeout 20 "$STREAM_CLIENT" -t 5000 -s "$SOCK" "${B_OPTS[@]}" arp \
		"udpin=$UDP_FWD_PORT,64,$src" >"$out" 2>&1 &
	guest=$!
	track_pid "$guest"
	# The remote sends only once guest B is there: a datagram sent
	# before would find no guest, and the check would fail for the
	# wrong reason (or, with the file not there yet, grep complain)
	if ! busywait 10000 grep -qs '^ok arp' "$out"; then
		kill "$guest" 2>/dev/null
		wait "$guest"
		ktap_fail "$name" "guest B not connected within 10 s:" \
			"$(cat "$out")"
		return
	fi
	rout=$(in_remote timeout 10 "$UDP_STREAM" -t 8 -b "$src" -z 64 -n 1 \
		-E -i 3000 send "$dst" "$UDP_FWD_PORT" 2>&1)
	rc=$?
	wait "$guest"
	grc=$?
	[ $rc -eq 0 ] && [ $grc -eq 0 ]
	ktap_result "$name" $? "remote: status $rc: $rout" \
		"guest B: status $grc: $(cat "$out")"
}

ktap_plan 7

DAEMON_COUNT=$((DAEMON_COUNT + 1))
DAEMON_LOG=$SANDBOX_TMP/daemon.$DAEMON_COUNT.log
"$PASSTD" --vm -f -d -s "$SOCK" -u "$UDP_FWD_PORT" </dev/null \
	>"$DAEMON_LOG" 2>&1 &
DAEMON_PID=$!
track_pid "$DAEMON_PID"
slowwait 5 grep -q 'listening on UNIX socket' "$DAEMON_LOG"
guest_a
ktap_result "guest A: echo requests answered, IPv4 and IPv6" $? \
	"$(cat "$SANDBOX_TMP/guest_a.out")" "$(tail -n 5 "$DAEMON_LOG")"

guest_b_udp "-u, IPv4: the next guest gets the datagram at its own MAC and address" \
	"$HOST_ADDR4" "$REMOTE_LO4"
guest_b_udp "-u, IPv6: the next guest gets the datagram at its own MAC and address" \
	"$HOST_ADDR6" "$REMOTE_LO6"
guest_b "ARP for the last guest's address 192.0.2.77 answered for the next one" \
	-g 192.0.2.77 arp
# The Router flag is only for the gateway's address: the advertisement
# itself, with our MAC, is what counts here
guest_b_na "NDP for the last guest's address 2001:db8::77 answered for the next one" \
	2001:db8::77
guest_b "the next guest gets an unsolicited router advertisement within 3 s" \
	ra=2001:db8::/64

daemon_alive
ktap_result "daemon still running" $?
stop_daemon
ktap_finish
