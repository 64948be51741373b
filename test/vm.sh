#!/bin/bash
#
# test/vm.sh - VM mode (passt) on its UNIX stream socket, with a fake guest
#
# test/tools/stream_client plays the QEMU guest: it speaks the stream
# protocol (32-bit big-endian length, then the Ethernet frame) and checks
# the daemon's answers: ARP, a DHCP offer, several frames in one write, a
# frame written byte by byte, frames cut anywhere across writes, a guest
# that reads late or not at all (the daemon keeps the unsent end of its
# stream, then drops whole frames), bogus lengths and a disconnect in the
# middle of a frame (the daemon closes or forgets that client and serves
# the next one), ICMP echo, a TCP connection and a UDP round trip to
# servers in the remote namespace, the neighbour advertisement for the
# gateway's IPv6 address (the daemon's MAC), DHCPv6 (Solicit with Rapid
# Commit: a Reply with the configured address and DNS servers, the host's
# or those of -a and -D; Information-request: DNS servers, no address),
# -t and -u forwards from the remote namespace to the guest (UDP over IPv4
# and IPv6: the guest echoes the datagram from the forwarded port, the
# sender checks the source port and every byte), a guest that leaves with
# a forwarded TCP connection open (the remote end is reset or closed at
# once, the next guest gets new connections), one client at a time,
# --one-off, --fd on a socketpair, forking into the background with the
# socket already listening; QEMU's -netdev passt command (--quiet, --pid
# on a file QEMU created empty, --fd 3, not in the foreground: the PID file
# names the daemon when the command returns, both go when QEMU's end
# closes) and libvirt's full passt command (--one-off, --socket, --pid,
# --mtu, --interface, --log-file, --hostname, --fqdn, --address, --netmask,
# --tcp-ports ADDR%DEV/SPEC, --udp-ports, --mac-addr), --freebind for a
# -t address the host lacks. The default socket path is the one check
# that uses /tmp itself (/tmp/passt_N.socket), as passt does.

# shellcheck disable=SC2317 # helpers are called through ktap_check, slowwait
# shellcheck source=test/lib/sandbox.sh
. "$(dirname "$0")/lib/sandbox.sh"

STREAM_CLIENT=${STREAM_CLIENT:-$TEST_DIR/tools/stream_client}
TCP_STREAM=${TCP_STREAM:-$TEST_DIR/tools/tcp_stream}
UDP_STREAM=${UDP_STREAM:-$TEST_DIR/tools/udp_stream}

require_tools ip nsenter unshare timeout
require_passtd
for tool in "$STREAM_CLIENT" "$TCP_STREAM" "$UDP_STREAM"; do
	[ -x "$tool" ] || ktap_skip_all "no $tool (make $tool)"
done
setup_sandbox

R_TCP_ECHO=5002		# remote TCP echo server, on 198.51.100.1
R_UDP_ECHO=5003		# remote UDP echo server
FWD_PORT=10022		# -t FWD_PORT:22, to the fake guest's echo server
UDP_FWD_PORT=10053	# -u UDP_FWD_PORT, to the fake guest's UDP echo
OUR_MAC=9a:55:9a:55:9a:55	# the daemon's MAC: the default of -M

# client() - Run stream_client, report its success as one result
# $1:	Result name
# $@:	stream_client arguments
client() {
	local name=$1; shift
	local out rc

	out=$(timeout 20 "$STREAM_CLIENT" "$@" 2>&1)
	rc=$?
	ktap_result "$name" $rc "stream_client $*" "$out"
}

# guest_remote() - A fake guest in the background and a peer in the
#		   remote namespace talking to it; one result for both
# $1:	Result name
# $2:	Socket path
# $3:	stream_client steps after "arp", separated by spaces
# $@:	Command run in the remote namespace once the guest's ARP request
#	was answered: the guest is connected, the daemon knows its MAC
# GUEST_OPTS: more stream_client options (array, optional)
GUEST_OPTS=()
guest_remote() {
	local name=$1; shift
	local sock=$1; shift
	local steps=$1; shift
	local out=$SANDBOX_TMP/guest_remote.out
	local guest rc grc rout

	# shellcheck disable=SC2086 # one word per step
	timeout 20 "$STREAM_CLIENT" -t 5000 "${GUEST_OPTS[@]}" -s "$sock" \
		arp $steps >"$out" 2>&1 &
	guest=$!
	track_pid "$guest"
	busywait 5000 grep -q '^ok arp' "$out"
	rout=$(in_remote timeout 10 "$@" 2>&1)
	rc=$?
	wait "$guest"
	grc=$?
	[ $rc -eq 0 ] && [ $grc -eq 0 ]
	ktap_result "$name" $? "remote: $*: status $rc: $rout" \
		"stream_client: status $grc: $(cat "$out")"
}

# server_ready() - Succeed once a server printed "listening"
# $1:	Its output file
server_ready() {
	local out=$1; shift

	grep -q listening "$out" 2>/dev/null
}

ktap_plan 45

# Servers in the remote namespace, on its loopback address (routed)
in_remote "$TCP_STREAM" -t 120 -b "$REMOTE_LO4" echo "$R_TCP_ECHO" \
	</dev/null >"$SANDBOX_TMP/tcp_echo.out" 2>&1 &
track_pid $!
in_remote "$UDP_STREAM" -t 120 -b "$REMOTE_LO4" echo "$R_UDP_ECHO" \
	</dev/null >"$SANDBOX_TMP/udp_echo.out" 2>&1 &
track_pid $!
slowwait 5 server_ready "$SANDBOX_TMP/tcp_echo.out"
slowwait 5 server_ready "$SANDBOX_TMP/udp_echo.out"

# Default socket path: the first free /tmp/passt_N.socket, printed
DAEMON_COUNT=$((DAEMON_COUNT + 1))
DAEMON_LOG=$SANDBOX_TMP/daemon.$DAEMON_COUNT.log
"$PASSTD" --vm -f </dev/null >"$DAEMON_LOG" 2>&1 &
DAEMON_PID=$!
track_pid "$DAEMON_PID"
slowwait 5 grep -q 'listening on UNIX socket' "$DAEMON_LOG"
sock=$(grep -o 'listening on UNIX socket /tmp/passt_[0-9]*\.socket' \
	"$DAEMON_LOG" | head -n 1 | awk '{ print $NF }')
[ -n "$sock" ] && [ -S "$sock" ] &&
	timeout 20 "$STREAM_CLIENT" -s "$sock" arp >/dev/null 2>&1
ktap_result "default socket path printed, listening, answering" $? \
	"path '$sock'" "$(cat "$DAEMON_LOG")"
stop_daemon
[ -z "$sock" ] || [ ! -e "$sock" ]
ktap_result "exits on SIGTERM and removes its socket" $?

# One daemon, started as passt, for the protocol checks
mkdir -p "$SANDBOX_TMP/bin"
ln -sf "$(realpath "$PASSTD")" "$SANDBOX_TMP/bin/passt"
PASSTD_SAVED=$PASSTD
PASSTD=$SANDBOX_TMP/bin/passt
sock=$SANDBOX_TMP/vm.sock
vm_daemon "$sock" -t "$FWD_PORT:22" -u "$UDP_FWD_PORT"
ktap_result "started as passt: socket listening at -s PATH" $? \
	"$(cat "$DAEMON_LOG")"
PASSTD=$PASSTD_SAVED

client "ARP reply for the gateway" -s "$sock" arp
client "DHCP offer: the host's address, router the gateway" \
	-s "$sock" dhcp="$HOST_ADDR4"
client "16 frames in one write, 16 answers" -s "$sock" burst=16
client "a frame written byte by byte is answered" -s "$sock" split
client "frames before and after a split frame on one connection" \
	-s "$sock" arp split burst=4 arp
client "frames and lengths cut anywhere: 7-byte and 1-byte writes" \
	-s "$sock" chunked=300:7 chunked=40:1
client "guest reads late: 300000 replies queued, none lost" \
	-t 10000 -s "$sock" flood=300000
client "guest does not read: whole frames dropped, stream intact" \
	-t 10000 -s "$sock" flood=800000:any arp
client "ICMP echo to the remote namespace" -s "$sock" ping="$REMOTE_LO4"
client "IPv6: router advertisement with prefix 2001:db8::/64" \
	-s "$sock" rs=2001:db8::/64
client "ICMPv6 echo to the remote namespace" -s "$sock" ping6="$REMOTE_LO6"
client "NDP: gateway $REMOTE_ADDR6 advertised with the daemon's MAC" \
	-s "$sock" ns="$REMOTE_ADDR6,$OUR_MAC"
client "DHCPv6 rapid commit: Reply with the host's address and DNS" \
	-s "$sock" dhcpv6="$HOST_ADDR6,$DNS6"
client "DHCPv6 Information-request: Reply with DNS, no address" \
	-s "$sock" dhcpv6info="$DNS6"
client "TCP connection to an echo server in the remote namespace" \
	-s "$sock" tcp="$REMOTE_LO4:$R_TCP_ECHO"
client "UDP round trip to an echo server in the remote namespace" \
	-s "$sock" udp="$REMOTE_LO4:$R_UDP_ECHO"

# -t: a connection from the remote namespace to the guest's port 22
connected() { [ "$(grep -c 'guest connected' "$DAEMON_LOG")" -gt "$1" ]; }
n=$(grep -c 'guest connected' "$DAEMON_LOG")
timeout 20 "$STREAM_CLIENT" -t 5000 -s "$sock" accept=22 \
	>"$SANDBOX_TMP/accept.out" 2>&1 &
guest=$!
track_pid "$guest"
busywait 3000 connected "$n"
out=$(in_remote timeout 10 "$TCP_STREAM" -t 8 connect "$HOST_ADDR4" \
	"$FWD_PORT" -s 3000 -r -e 3000 2>&1)
rc=$?
wait "$guest"
grc=$?
[ $rc -eq 0 ] && [ $grc -eq 0 ]
ktap_result "-t: remote connects to the guest, 3000 bytes echoed intact" \
	$? "tcp_stream: status $rc: $out" \
	"stream_client: status $grc: $(cat "$SANDBOX_TMP/accept.out")"

# -u: a datagram from the remote namespace to the daemon's address and
# the forwarded port; the guest sends it back from that port, the remote
# sender verifies it on a socket connected to that address and port
guest_remote "-u: remote datagram to the guest, echoed from the port" \
	"$sock" "udpin=$UDP_FWD_PORT,64,$REMOTE_LO4" \
	"$UDP_STREAM" -t 8 -b "$REMOTE_LO4" -z 64 -n 1 -E -i 3000 \
	send "$HOST_ADDR4" "$UDP_FWD_PORT"
guest_remote "-u over IPv6: remote datagram to the guest, echoed back" \
	"$sock" "udpin=$UDP_FWD_PORT,64,$REMOTE_LO6" \
	"$UDP_STREAM" -t 8 -b "$REMOTE_LO6" -z 64 -n 1 -E -i 3000 \
	send "$HOST_ADDR6" "$UDP_FWD_PORT"

# A guest that leaves with a forwarded connection open: its flows are
# closed, so the remote end sees a reset or an end of stream at once
guest_remote "guest leaves mid-connection: remote reset or closed in 5 s" \
	"$sock" "leave=22:1000" \
	"$TCP_STREAM" -t 5 -s 1000 -N -X fail connect "$HOST_ADDR4" \
	"$FWD_PORT"
guest_remote "after that: the next guest accepts a forwarded connection" \
	"$sock" "accept=22" \
	"$TCP_STREAM" -t 8 connect "$HOST_ADDR4" "$FWD_PORT" -s 3000 -r \
	-e 3000

client "frame length 0 closes the client" -s "$sock" arp badlen=0
client "after length 0: daemon alive, next client served" -s "$sock" arp
client "frame length over the maximum closes the client" \
	-s "$sock" badlen=big
client "after a length over the maximum: next client served" \
	-s "$sock" dhcp="$HOST_ADDR4"
client "disconnect in the middle of a frame" -s "$sock" arp cut
client "after a disconnect mid-frame: next client served" \
	-s "$sock" arp ping="$REMOTE_LO4"

# Clients one right after the other: the previous one is always gone
fails=0
for i in $(seq 1 30); do
	timeout 20 "$STREAM_CLIENT" -s "$sock" arp >/dev/null 2>&1 ||
		fails=$((fails + 1))
done
ktap_result "30 clients in a row, each connecting as the last one leaves" \
	$(( fails != 0 )) "$fails failed" "$(tail -n 5 "$DAEMON_LOG")"

# One client at a time: a second one is closed while the first is there
timeout 20 "$STREAM_CLIENT" -t 4000 -s "$sock" arp closed \
	>"$SANDBOX_TMP/first.out" 2>&1 &
first=$!
track_pid "$first"
sleep 0.3
client "second client refused while one is connected" \
	-t 2000 -s "$sock" closed
kill "$first" 2>/dev/null
wait "$first" 2>/dev/null
daemon_alive && grep -q 'refused' "$DAEMON_LOG" &&
	timeout 20 "$STREAM_CLIENT" -s "$sock" arp >/dev/null 2>&1
ktap_result "refusal logged, daemon alive, next client served" $? \
	"$(tail -n 5 "$DAEMON_LOG")"

# A socket path a live daemon listens on is refused; a stale one replaced
out=$(timeout 10 "$PASSTD" --vm -f -s "$sock" </dev/null 2>&1)
rc=$?
[ $rc -eq 1 ] && grep -q 'in use' <<<"$out"
ktap_result "socket path in use by a running daemon: status 1" $? \
	"status $rc" "$out"
kill -KILL "$DAEMON_PID"
wait "$DAEMON_PID" 2>/dev/null
[ -S "$sock" ] && vm_daemon "$sock" &&
	timeout 20 "$STREAM_CLIENT" -s "$sock" arp >/dev/null 2>&1
ktap_result "stale socket file of a killed daemon replaced" $? \
	"$(cat "$DAEMON_LOG")"
stop_daemon

# --one-off: exit with status 0 when the client leaves
sock=$SANDBOX_TMP/oneoff.sock
vm_daemon "$sock" --one-off
timeout 20 "$STREAM_CLIENT" -s "$sock" arp >/dev/null 2>&1
slowwait 5 pid_gone "$DAEMON_PID"
rc=1
pid_gone "$DAEMON_PID" && { wait "$DAEMON_PID"; rc=$?; }
ktap_result "--one-off: exits with status 0 when the client leaves" $rc \
	"status $rc" "$(tail -n 5 "$DAEMON_LOG")"

# --fd on a socketpair, as QEMU's -netdev passt: one-off implied
client "--fd 5 on a socketpair: ARP, DHCP, exit 0 when closed" \
	-F 5 arp dhcp="$HOST_ADDR4" exit=0 -- "$PASSTD" --vm -f --fd 5

# DHCPv6 gives what the configuration says, not only the host's address
client "DHCPv6 with -a and -D: Reply with that address and DNS server" \
	-F 5 dhcpv6=2001:db8::42,2001:db8::99 exit=0 -- "$PASSTD" --vm -f \
	--fd 5 -a 2001:db8::42/64 -D 2001:db8::99

# QEMU's -netdev passt: "passt --quiet [options] --pid FILE --fd 3", not
# in the foreground; QEMU creates FILE empty, waits for the command to
# return, reads FILE. The daemon leaves when QEMU's end closes.
pidfile=$SANDBOX_TMP/qemu-passt.pid
: >"$pidfile"
client "QEMU -netdev passt: --quiet --pid FILE --fd 3, gone when closed" \
	-F 3 arp dhcp="$HOST_ADDR4" gone="$pidfile" -- \
	"$SANDBOX_TMP/bin/passt" --quiet --mtu 65520 --pid "$pidfile" --fd 3

# --freebind (QEMU's -netdev passt,freebind=on): -t on an address the host
# does not have (yet) is bound all the same; without it, it is not
FREE_ADDR=203.0.113.77
FREE_PORT=10026
free_listening() {
	ss -Hltn "( sport = :$FREE_PORT )" | grep -q "$FREE_ADDR:$FREE_PORT"
}
sock=$SANDBOX_TMP/free.sock
vm_daemon "$sock" -t "$FREE_ADDR/$FREE_PORT:22"
! free_listening && grep -q "$FREE_PORT" "$DAEMON_LOG"
ktap_result "-t on an address the host lacks: not bound, said so" $? \
	"$(ss -Hltn)" "$(cat "$DAEMON_LOG")"
stop_daemon
vm_daemon "$sock" --freebind -t "$FREE_ADDR/$FREE_PORT:22"
free_listening
ktap_result "--freebind: -t on an address the host lacks is bound" $? \
	"$(ss -Hltn)" "$(cat "$DAEMON_LOG")"
stop_daemon

# libvirt's <backend type='passt'/>: the full list it may give, in its
# order, not in the foreground; libvirt reads the PID file once the
# command returned and QEMU connects with -netdev stream. One guest, then
# the daemon leaves (--one-off) and removes its socket and PID file.
LV_MAC=9a:55:9a:55:9a:56
LV_ADDR=192.0.2.42
LV_ADDR6=2001:db8::42
lvdir=$SANDBOX_TMP/libvirt
mkdir -p "$lvdir"
lvsock=$lvdir/guest1-net0.socket
lvpid=$lvdir/guest1-net0-passt.pid
lvlog=$lvdir/guest1-net0-passt.log
DAEMON_COUNT=$((DAEMON_COUNT + 1))
DAEMON_LOG=$SANDBOX_TMP/daemon.$DAEMON_COUNT.log
timeout 10 "$SANDBOX_TMP/bin/passt" --one-off --socket "$lvsock" \
	--pid "$lvpid" --mtu 1500 --interface "$HOST_IF" --log-file "$lvlog" \
	--hostname guest1 --fqdn guest1.example.test --address "$LV_ADDR" \
	--netmask 24 --address "$LV_ADDR6" \
	--tcp-ports "$HOST_ADDR4%$HOST_IF/$FWD_PORT:22" \
	--udp-ports "$UDP_FWD_PORT" --mac-addr "$LV_MAC" \
	</dev/null >"$DAEMON_LOG" 2>&1
rc=$?
DAEMON_PID=$(cat "$lvpid" 2>/dev/null)
[ -n "$DAEMON_PID" ] && track_pid "$DAEMON_PID"
[ $rc -eq 0 ] && [ -S "$lvsock" ] && [ -n "$DAEMON_PID" ] && daemon_alive
ktap_result "libvirt's passt command: returns, socket and PID file ready" $? \
	"status $rc, pid '$DAEMON_PID'" "$(cat "$DAEMON_LOG")"
GUEST_OPTS=(-a "$LV_ADDR")
guest_remote "libvirt: -t ADDR%DEV/SPEC, DHCP(v6) --address, NA --mac-addr" \
	"$lvsock" "accept=22 dhcp=$LV_ADDR dhcpv6=$LV_ADDR6
	ns=$REMOTE_ADDR6,$LV_MAC" \
	"$TCP_STREAM" -t 8 connect "$HOST_ADDR4" "$FWD_PORT" -s 3000 -r \
	-e 3000
GUEST_OPTS=()
slowwait 5 pid_gone "$DAEMON_PID"
pid_gone "$DAEMON_PID" && [ ! -e "$lvsock" ] && [ ! -e "$lvpid" ] &&
	grep -q passt "$lvlog"
ktap_result "libvirt: --one-off exit, socket and PID file removed, log kept" \
	$? "$(ls -l "$lvdir")" "$(cat "$lvlog" 2>&1)"

# Without -f: forks once the socket listens; a client can connect at once
sock=$SANDBOX_TMP/bg.sock
pidfile=$SANDBOX_TMP/bg.pid
DAEMON_COUNT=$((DAEMON_COUNT + 1))
timeout 20 "$PASSTD" --vm -s "$sock" -P "$pidfile" </dev/null \
	>"$SANDBOX_TMP/daemon.$DAEMON_COUNT.log" 2>&1
rc=$?
dpid=$(cat "$pidfile" 2>/dev/null)
[ -n "$dpid" ] && track_pid "$dpid"
[ $rc -eq 0 ] && timeout 20 "$STREAM_CLIENT" -s "$sock" arp \
	>/dev/null 2>&1
ktap_result "background: listening when the command returns" $? \
	"status $rc" "$(cat "$SANDBOX_TMP/daemon.$DAEMON_COUNT.log")"
[ -n "$dpid" ] && stop_pid "$dpid"

ktap_finish
