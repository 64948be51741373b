#!/bin/bash
#
# test/podman.sh - the daemon started as Podman 5 starts pasta for
# `--network pasta`, with exactly Podman's argument list
#
# Podman runs, in this order:
#   pasta --config-net [user options] [-t|-u [HOSTIP/]H-H:C-C ...]
#	  --dns-forward 169.254.1.1 -t none -u none -T none -U none
#	  --no-map-gw --quiet --map-guest-addr 169.254.1.2
#	  --pid FILE --netns PATH
# where each "none" is left out for a direction the user options or the
# -p ports already set, and --no-map-gw is left out when the user gave
# Podman's own pseudo-option --map-gw. PATH is a file the network
# namespace is bind-mounted on, and the daemon goes into the background
# (no -f): Podman waits for the command to return, then reads FILE.
# When the container stops, Podman unmounts and removes PATH, and the
# daemon has to leave on its own.
#
# The sandbox's /etc/resolv.conf names a loopback resolver only,
# 127.0.0.53 (systemd-resolved's), where test/tools/dns_tool.py answers
# over UDP and TCP. Checks:
# - daemon 1, `-p 8080:80 -p 192.0.2.1:8081:81 -p 8083:83/udp
#   -p 127.0.0.1:8084:84 -p [2001:db8::1]:8085:85`: the command returns
#   with status 0, nothing printed, the PID file written and the namespace
#   configured; the container reaches the host at 169.254.1.2 (TCP and UDP
#   echo servers on the host's wildcard address), DNS to 169.254.1.1 over
#   UDP and TCP reaches the loopback resolver, connections and datagrams
#   from the remote namespace to the -t and -u ports show their real
#   source address inside (IPv4 and IPv6), the host's loopback reaches
#   the 127.0.0.1 one; after the namespace
#   path goes away the daemon is gone within 100 ms, the PID file is
#   removed and the host ports bind again at once;
# - 20 start/stop cycles leave no process, listening socket or file;
# - daemon 2, user options `-T,PORT --ipv4-only -a A -g G -I eth0` and
#   --map-gw (no --no-map-gw): the guest gets that address, gateway and
#   interface name and no IPv6, -T 8080 reaches the host's loopback, and
#   so does the gateway (the default mapping);
# - daemon 3, `-o ADDR --outbound ADDR6`: TCP and UDP from the container
#   to the remote namespace leave from those source addresses, and so do
#   echo requests (IPv4); bound sockets take no ephemeral port of their
#   own (three connections to three servers with two ports in the range);
#   the loopback resolver is still reached.

# shellcheck disable=SC2317 # helpers are called through busywait
# shellcheck source=test/lib/sandbox.sh
. "$(dirname "$0")/lib/sandbox.sh"

TCP_STREAM=${TCP_STREAM:-$TEST_DIR/tools/tcp_stream}
UDP_STREAM=${UDP_STREAM:-$TEST_DIR/tools/udp_stream}

require_tools ip nsenter unshare timeout python3 mount umount ss
require_passtd
for tool in "$TCP_STREAM" "$UDP_STREAM"; do
	[ -x "$tool" ] || ktap_skip_all "no $tool (make $tool)"
done
setup_sandbox

DNS_TOOL=$TEST_DIR/tools/dns_tool.py
TCP_PEER=$TEST_DIR/tools/tcp_peer.py
LO_DNS=127.0.0.53		# the host's resolver, on its loopback
LO_ANSWER4=203.0.113.1
LO_ANSWER6=2001:db8:53::1
DNS_FWD=169.254.1.1		# Podman's --dns-forward
GUEST_ADDR=169.254.1.2		# Podman's --map-guest-addr
ECHO_PORT=5002			# TCP and UDP echo servers on the host
LO_PORT=5004			# a TCP echo server on the host's loopback
T_PORT=8090			# -T: another one
OUT_PORT=5353			# dns_tool in the remote: prints sources
OUT_ADDR4=192.0.2.3		# -o, a second address of the host
OUT_ADDR6=2001:db8::3
CYCLES=20
NAME=www.example.test

# podman_start() - Start the daemon with Podman 5's argument list
# $1:	"map-gw" for Podman's --map-gw (no --no-map-gw), "" otherwise
# $@:	User options, then "--", then Podman's -t/-u from -p (optional)
#
# A new namespace holder's namespace is bind-mounted on a file, as Podman
# does, and given with --netns. Sets PD_CMD (the argument list), PD_RC
# (the command's status), PD_HOLDER, PD_NETNS, PD_PIDFILE, DAEMON_LOG,
# and GUEST_PID for in_guest. Return: the command's status
podman_start() {
	local map_gw=$1; shift
	local user=() ports=() own=() arg
	local set_t='' set_u='' set_T='' set_U=''

	while [ $# -gt 0 ] && [ "$1" != -- ]; do
		user+=("$1"); shift
	done
	[ "${1:-}" = -- ] && shift
	ports=("$@")

	for arg in "${user[@]}" "${ports[@]}"; do
		case "$arg" in
		-t|--tcp-ports) set_t=1 ;;
		-u|--udp-ports) set_u=1 ;;
		-T|--tcp-ns) set_T=1 ;;
		-U|--udp-ns) set_U=1 ;;
		esac
	done
	own=(--dns-forward "$DNS_FWD")
	[ -z "$set_t" ] && own+=(-t none)
	[ -z "$set_u" ] && own+=(-u none)
	[ -z "$set_T" ] && own+=(-T none)
	[ -z "$set_U" ] && own+=(-U none)
	[ "$map_gw" = map-gw ] || own+=(--no-map-gw)
	own+=(--quiet --map-guest-addr "$GUEST_ADDR")

	new_holder || return 1
	PD_HOLDER=$HOLDER_PID
	GUEST_PID=$PD_HOLDER
	DAEMON_COUNT=$((DAEMON_COUNT + 1))
	PD_NETNS=$SANDBOX_TMP/netns.$DAEMON_COUNT
	PD_PIDFILE=$SANDBOX_TMP/pasta.$DAEMON_COUNT.pid
	DAEMON_LOG=$SANDBOX_TMP/daemon.$DAEMON_COUNT.log
	touch "$PD_NETNS" &&
		mount --bind "/proc/$PD_HOLDER/ns/net" "$PD_NETNS" || return 1

	PD_CMD=(--config-net "${user[@]}" "${ports[@]}" "${own[@]}"
		--pid "$PD_PIDFILE" --netns "$PD_NETNS")
	echo "$PASSTD ${PD_CMD[*]}" >"$DAEMON_LOG"
	timeout 10 "$PASSTD" "${PD_CMD[@]}" </dev/null >>"$DAEMON_LOG" 2>&1
	PD_RC=$?
	DAEMON_PID=$(cat "$PD_PIDFILE" 2>/dev/null)
	[ -n "$DAEMON_PID" ] && track_pid "$DAEMON_PID"
	return $PD_RC
}

# podman_stop() - Remove the namespace as Podman does when the container
#		  stops: its processes end, the path is unmounted, removed
#
# Sets PD_GONE_MS: milliseconds from the removal until the daemon is gone
# (polled without sleeping, for at most 3 s). Return: 0 if it is gone
podman_stop() {
	local t0 t

	PD_GONE_MS=-1
	stop_pid "$PD_HOLDER"
	[ -n "$DAEMON_PID" ] || return 1
	if ! umount "$PD_NETNS" || ! rm -f "$PD_NETNS"; then
		echo "# umount or rm of $PD_NETNS failed"
		return 1
	fi
	t0=$(now_ms)
	while pid_alive "$DAEMON_PID"; do
		t=$(now_ms)
		[ $((t - t0)) -ge 3000 ] && break
	done
	PD_GONE_MS=$(( $(now_ms) - t0 ))
	pid_gone "$DAEMON_PID" || return 1
	wait "$DAEMON_PID" 2>/dev/null
	return 0
}

# pid_is_daemon() - Succeed if a PID runs our daemon binary
# $1:	PID
pid_is_daemon() {
	local pid=$1; shift

	[ "$(readlink "/proc/$pid/exe" 2>/dev/null)" = "$(realpath "$PASSTD")" ]
}

# daemons_left() - Print the PIDs of daemon processes still running
daemons_left() {
	local d pid

	for d in /proc/[0-9]*; do
		pid=${d#/proc/}
		pid_is_daemon "$pid" && pid_alive "$pid" && echo "$pid"
	done
}

# rebind() - Bind TCP and UDP ports on the host at once, as a new
#	     container or service would after the daemon left
# $@:	Ports
rebind() {
	python3 - "$@" <<'EOF'
import socket, sys
held = []
for port in map(int, sys.argv[1:]):
    for kind in (socket.SOCK_STREAM, socket.SOCK_DGRAM):
        s = socket.socket(socket.AF_INET6, kind)
        s.bind(("::", port))
        if kind == socket.SOCK_STREAM:
            s.listen(1)
        held.append(s)
EOF
}

# remote_connect_from() - One TCP connection from the remote namespace,
#			   from a given source address, closed at once
# $1:	Source address
# $2:	Destination address
# $3:	Destination port
remote_connect_from() {
	in_remote python3 - "$@" <<'EOF'
import socket, sys
src, dst, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
s = socket.create_connection((dst, port), 3, (src, 0))
s.close()
EOF
}

# A UDP server for one datagram: prints where it came from, sends it back
UDP_ONE='
import socket, sys
s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
s.bind(("::", int(sys.argv[1])))
s.settimeout(float(sys.argv[2]))
print("listening", flush=True)
data, peer = s.recvfrom(2048)
print("from", peer[0], flush=True)
s.sendto(data, peer)
'

# remote_udp_from() - One datagram from the remote namespace, from a given
#		      source address; expect it back
# $1:	Source address
# $2:	Destination address
# $3:	Destination port
remote_udp_from() {
	in_remote python3 - "$@" <<'EOF'
import socket, sys
src, dst, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
s = socket.socket(socket.AF_INET6 if ":" in dst else socket.AF_INET,
                  socket.SOCK_DGRAM)
s.bind((src, 0))
s.settimeout(1)
for _ in range(3):
    s.sendto(b"podman", (dst, port))
    try:
        if s.recv(64) == b"podman":
            sys.exit(0)
    except socket.timeout:
        pass
sys.exit(1)
EOF
}

# In the remote namespace: print the source of each ICMP echo request
# seen, for argv[1] seconds
REMOTE_ICMP='
import socket, sys, time
s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
end = time.time() + float(sys.argv[1])
print("listening", flush=True)
while time.time() < end:
    s.settimeout(max(0.1, end - time.time()))
    try:
        data, peer = s.recvfrom(2048)
    except socket.timeout:
        break
    ihl = (data[0] & 15) * 4
    if data[ihl] == 8:
        print("echo from", peer[0], flush=True)
'

# guest_tcp_echo() - 3000 bytes through a TCP echo server, from the guest
# $1:	Address
# $2:	Port
guest_tcp_echo() {
	in_guest timeout 10 "$TCP_STREAM" -t 8 connect "$1" "$2" -s 3000 -r \
		-e 3000
}

# guest_udp_echo() - One datagram through a UDP echo server, from the guest
# $1:	Address
# $2:	Port
guest_udp_echo() {
	in_guest timeout 10 "$UDP_STREAM" -t 8 -z 64 -n 1 -E -i 3000 \
		send "$1" "$2"
}

# query_from_guest() - One DNS query from the guest, expect an answer
# $1:	"udp" or "tcp"
# $2:	Server address
# $3:	Port
# $4:	Expected answer (empty: any)
query_from_guest() {
	local proto=$1; shift
	local server=$1; shift
	local port=$1; shift
	local want=$1; shift
	local opt=() out

	[ "$proto" = tcp ] && opt=(-t)
	out=$(in_guest timeout 10 python3 "$DNS_TOOL" query "${opt[@]}" \
		"$server" "$port" "$NAME" 2>&1) || { echo "$out"; return 1; }
	[ -z "$want" ] || [ "$out" = "answer=$want" ] || { echo "$out"; return 1; }
}

# guest_v6_route() - Succeed once the guest has an IPv6 default route
guest_v6_route() {
	in_guest ip -6 route show default | grep -q via
}

ktap_plan 37

# The host's resolver is a loopback one only
printf 'nameserver %s\n' "$LO_DNS" >"$SANDBOX_TMP/resolv.conf"
bg_in host "$SANDBOX_TMP/resolver.out" python3 "$DNS_TOOL" serve "$LO_DNS" \
	53 "$LO_ANSWER4" "$LO_ANSWER6" 300
busywait 5000 server_ready "$SANDBOX_TMP/resolver.out" "$BG_PID"

# Echo servers on the host: any address, and its loopback only
bg_in host "$SANDBOX_TMP/tcp_echo.out" "$TCP_STREAM" -t 300 echo "$ECHO_PORT"
bg_in host "$SANDBOX_TMP/udp_echo.out" "$UDP_STREAM" -t 300 echo "$ECHO_PORT"
bg_in host "$SANDBOX_TMP/lo_echo.out" "$TCP_STREAM" -t 300 -b 127.0.0.1 \
	echo "$LO_PORT"
bg_in host "$SANDBOX_TMP/lo_t.out" "$TCP_STREAM" -t 300 -b 127.0.0.1 \
	echo "$T_PORT"
for f in tcp_echo udp_echo lo_echo lo_t; do
	slowwait 5 grep -q listening "$SANDBOX_TMP/$f.out"
done

# Daemon 1: podman run -p 8080:80 -p 192.0.2.1:8081:81 -p 8083:83/udp
# -p 127.0.0.1:8084:84 -p [2001:db8::1]:8085:85 --network pasta
podman_start "" -- -t 8080-8080:80-80 -t "$HOST_ADDR4/8081-8081:81-81" \
	-u 8083-8083:83-83 -t 127.0.0.1/8084-8084:84-84 \
	-t "$HOST_ADDR6/8085-8085:85-85"
ktap_result "Podman's argument list: the command returns with status 0" \
	"$PD_RC" "$PASSTD ${PD_CMD[*]}" "$(cat "$DAEMON_LOG")"
[ "$(wc -l <"$DAEMON_LOG")" -eq 1 ]
ktap_result "--quiet: nothing printed (Podman shows any output as a warning)" \
	$? "$(cat "$DAEMON_LOG")"
listening=$(ss -Hlntu | awk '$5 ~ /:(8080|8081|8083|8084|8085)$/' | wc -l)
[ "$listening" -ge 6 ]	# 8083: UDP over IPv4 and IPv6
ktap_result "-t and -u ports bound on the host when the command returns" $? \
	"$listening sockets: $(ss -Hlntu)"
[ -n "$DAEMON_PID" ] && pid_alive "$DAEMON_PID" && pid_is_daemon "$DAEMON_PID"
ktap_result "PID file written before the command returns, names the daemon" \
	$? "pid '$DAEMON_PID'"
in_guest ip -4 addr show dev "$HOST_IF" | grep -q "inet $HOST_ADDR4/24" &&
	in_guest ip -4 route show default | grep -q "via $REMOTE_ADDR4"
ktap_result "namespace configured when the command returns" $? \
	"$(in_guest ip addr 2>&1)" "$(in_guest ip route 2>&1)"

ktap_check "TCP to $GUEST_ADDR reaches the host" \
	guest_tcp_echo "$GUEST_ADDR" "$ECHO_PORT"
ktap_check "UDP to $GUEST_ADDR reaches the host" \
	guest_udp_echo "$GUEST_ADDR" "$ECHO_PORT"
ktap_check "DNS over UDP to $DNS_FWD reaches the loopback resolver" \
	query_from_guest udp "$DNS_FWD" 53 "$LO_ANSWER4"
ktap_check "DNS over TCP to $DNS_FWD reaches the loopback resolver" \
	query_from_guest tcp "$DNS_FWD" 53 "$LO_ANSWER4"

# Inbound: a container server on port 80 sees the remote's real address
bg_in "$PD_HOLDER" "$SANDBOX_TMP/peer80.out" python3 "$TCP_PEER" -t 30 \
	serve 80
peer80=$BG_PID
bg_in "$PD_HOLDER" "$SANDBOX_TMP/peer81.out" python3 "$TCP_PEER" -t 30 \
	serve 81
peer81=$BG_PID
busywait 5000 server_ready "$SANDBOX_TMP/peer80.out" "$peer80"
busywait 5000 server_ready "$SANDBOX_TMP/peer81.out" "$peer81"
out=$(remote_connect_from "$REMOTE_LO4" "$HOST_ADDR4" 8080 2>&1)
busywait 3000 grep -q "accepted $REMOTE_LO4:" "$SANDBOX_TMP/peer80.out"
ktap_result "-t 8080-8080:80-80: the container sees the client's address" \
	$? "$out" "$(cat "$SANDBOX_TMP/peer80.out")"
out=$(remote_connect_from "$REMOTE_LO4" "$HOST_ADDR4" 8081 2>&1)
busywait 3000 grep -q "accepted $REMOTE_LO4:" "$SANDBOX_TMP/peer81.out"
ktap_result "-t $HOST_ADDR4/8081-8081:81-81: the same on a host address" \
	$? "$out" "$(cat "$SANDBOX_TMP/peer81.out")"
bg_in "$PD_HOLDER" "$SANDBOX_TMP/peer85.out" python3 "$TCP_PEER" -t 30 \
	serve 85
peer85=$BG_PID
busywait 5000 server_ready "$SANDBOX_TMP/peer85.out" "$peer85"
out=$(remote_connect_from "$REMOTE_LO6" "$HOST_ADDR6" 8085 2>&1)
busywait 3000 grep -q "accepted $REMOTE_LO6:" "$SANDBOX_TMP/peer85.out"
ktap_result "-t $HOST_ADDR6/8085-8085:85-85: the same over IPv6" \
	$? "$out" "$(cat "$SANDBOX_TMP/peer85.out")"
bg_in "$PD_HOLDER" "$SANDBOX_TMP/peer84.out" python3 "$TCP_PEER" -t 30 \
	serve 84
peer84=$BG_PID
busywait 5000 server_ready "$SANDBOX_TMP/peer84.out" "$peer84"
out=$(timeout 10 "$TCP_STREAM" -t 5 connect 127.0.0.1 8084 -N 2>&1)
busywait 3000 grep -q "accepted" "$SANDBOX_TMP/peer84.out"
ktap_result "-t 127.0.0.1/8084-8084:84-84: the host's loopback reaches it" \
	$? "$out" "$(cat "$SANDBOX_TMP/peer84.out")"
bg_in "$PD_HOLDER" "$SANDBOX_TMP/udp83.out" python3 -c "$UDP_ONE" 83 10
udp83=$BG_PID
busywait 5000 server_ready "$SANDBOX_TMP/udp83.out" "$udp83"
out=$(remote_udp_from "$REMOTE_LO4" "$HOST_ADDR4" 8083 2>&1) &&
	grep -q "^from .*$REMOTE_LO4\$" "$SANDBOX_TMP/udp83.out"
ktap_result "-u 8083-8083:83-83: real source inside, the reply gets back" \
	$? "$out" "$(cat "$SANDBOX_TMP/udp83.out")"
for p in "$peer80" "$peer81" "$peer84" "$peer85" "$udp83"; do
	stop_pid "$p"
done

pidfile=$PD_PIDFILE
podman_stop
rc=$?
[ $rc -eq 0 ] && [ "$PD_GONE_MS" -le 100 ]
ktap_result "namespace removed: the daemon is gone within 100 ms" $? \
	"gone: status $rc after $PD_GONE_MS ms"
ktap_diag "daemon gone $PD_GONE_MS ms after its namespace file"
[ ! -e "$pidfile" ]
ktap_result "PID file removed at exit" $?
ktap_check "host ports 8080, 8081, 8083-8085 bind again at once" \
	rebind 8080 8081 8083 8084 8085

# Start and stop again and again: nothing is left behind
fails=0
slow=0
times=()
socks_before=$(ss -Hantu | wc -l)
for i in $(seq 1 "$CYCLES"); do
	if ! podman_start "" -- -t 8082-8082:82-82 -u 8082-8082:82-82 ||
	   ! in_guest ip link show dev "$HOST_IF" up | grep -q UP; then
		fails=$((fails + 1))
		ktap_diag "cycle $i: status $PD_RC: $(cat "$DAEMON_LOG")"
	fi
	if ! podman_stop; then
		fails=$((fails + 1))
		ktap_diag "cycle $i: stop: pid '$DAEMON_PID'" \
			"alive: $(pid_alive "$DAEMON_PID" && echo yes)" \
			"$(ls -l "$PD_NETNS" 2>&1)" "$(grep "$PD_NETNS" \
			/proc/self/mounts)" "$(cat "$DAEMON_LOG")"
	fi
	if [ "$PD_GONE_MS" -lt 0 ] || [ "$PD_GONE_MS" -gt 1000 ]; then
		slow=$((slow + 1))
	fi
	times+=("$PD_GONE_MS")
done
median=$(printf '%s\n' "${times[@]}" | sort -n | sed -n "$((CYCLES / 2))p")
ktap_diag "cycles: exits after $(printf '%s\n' "${times[@]}" | sort -n |
	tr '\n' ' ')ms"
ktap_result "$CYCLES start/stop cycles in a row succeed" $(( fails != 0 )) \
	"$fails failed"
# The kernel's teardown of the tap, at the daemon's exit, now and then
# waits for device references longer: the median, and a bound for all
[ "$slow" -eq 0 ] && [ "${median:-9999}" -le 100 ]
ktap_result "gone within 100 ms of the namespace (median), 1 s (all)" \
	$? "$slow over 1 s, median $median ms"
left=$(daemons_left)
[ -z "$left" ]
ktap_result "no daemon process left" $? "left: $left"
socks=$(ss -Hantu "( sport = :8082 )" 2>&1)
socks_after=$(ss -Hantu | wc -l)
[ -z "$socks" ] && [ "$socks_after" -le "$socks_before" ]
ktap_result "no socket left (port 8082 or any other)" $? "$socks" \
	"sockets before: $socks_before, after: $socks_after" "$(ss -Hantu)"
files=$(cd "$SANDBOX_TMP" && ls -d pasta.*.pid netns.* 2>/dev/null)
[ -z "$files" ]
ktap_result "no PID file or namespace file left" $? "$files"

# Daemon 2: --network pasta:-T,PORT,--ipv4-only,-a,...,--map-gw
podman_start map-gw -T "$T_PORT" --ipv4-only -a 192.0.2.42 -g 192.0.2.254 \
	-I eth0
ktap_result "user options -T,PORT --ipv4-only -a -g -I, --map-gw: started" \
	"$PD_RC" "$PASSTD ${PD_CMD[*]}" "$(cat "$DAEMON_LOG")"
in_guest ip -4 addr show dev eth0 | grep -q 'inet 192.0.2.42/24'
ktap_result "-a 192.0.2.42 -I eth0: the address, on eth0" $? \
	"$(in_guest ip addr 2>&1)"
in_guest ip -4 route show default | grep -q 'via 192.0.2.254 dev eth0'
ktap_result "-g 192.0.2.254: the default route" $? "$(in_guest ip route 2>&1)"
[ -z "$(in_guest ip -6 addr show scope global 2>&1)" ] &&
	[ -z "$(in_guest ip -6 route show default 2>&1)" ]
ktap_result "--ipv4-only: no global IPv6 address, no IPv6 default route" $? \
	"$(in_guest ip -6 addr 2>&1)" "$(in_guest ip -6 route 2>&1)"
ktap_check "-T $T_PORT: the container's 127.0.0.1:$T_PORT is the host's" \
	guest_tcp_echo 127.0.0.1 "$T_PORT"
ktap_check "gateway mapped by default: its port reaches the host's loopback" \
	guest_tcp_echo 192.0.2.254 "$LO_PORT"
ktap_check "the container still reaches the remote namespace" \
	in_guest timeout 5 ping -c 1 -W 3 "$REMOTE_LO4"
podman_stop
ktap_result "daemon 2 gone with its namespace" $? "after $PD_GONE_MS ms"

# Daemon 3: --network pasta:-o,192.0.2.3,--outbound,2001:db8::3
ip addr add "$OUT_ADDR4/24" dev "$HOST_IF"
ip -6 addr add "$OUT_ADDR6/64" dev "$HOST_IF" nodad
bg_in "$REMOTE_PID" "$SANDBOX_TMP/out4.out" python3 "$DNS_TOOL" serve \
	"$REMOTE_LO4" "$OUT_PORT" "$LO_ANSWER4" "$LO_ANSWER6" 60
busywait 5000 server_ready "$SANDBOX_TMP/out4.out" "$BG_PID"
bg_in "$REMOTE_PID" "$SANDBOX_TMP/out6.out" python3 "$DNS_TOOL" serve \
	"$REMOTE_LO6" "$OUT_PORT" "$LO_ANSWER4" "$LO_ANSWER6" 60
busywait 5000 server_ready "$SANDBOX_TMP/out6.out" "$BG_PID"
podman_start "" -o "$OUT_ADDR4" --outbound "$OUT_ADDR6"
ktap_result "user options -o ADDR --outbound ADDR6: started" \
	"$PD_RC" "$PASSTD ${PD_CMD[*]}" "$(cat "$DAEMON_LOG")"
out=$(query_from_guest udp "$REMOTE_LO4" "$OUT_PORT" "" &&
	query_from_guest tcp "$REMOTE_LO4" "$OUT_PORT" "") &&
	grep -q "query udp $OUT_PORT .* from $OUT_ADDR4\$" \
		"$SANDBOX_TMP/out4.out" &&
	grep -q "query tcp $OUT_PORT .* from $OUT_ADDR4\$" \
		"$SANDBOX_TMP/out4.out"
ktap_result "-o $OUT_ADDR4: TCP and UDP leave from that address" $? \
	"$out" "$(cat "$SANDBOX_TMP/out4.out")"
busywait 5000 guest_v6_route
out=$(query_from_guest udp "$REMOTE_LO6" "$OUT_PORT" "" &&
	query_from_guest tcp "$REMOTE_LO6" "$OUT_PORT" "") &&
	grep -q "query udp $OUT_PORT .* from $OUT_ADDR6\$" \
		"$SANDBOX_TMP/out6.out" &&
	grep -q "query tcp $OUT_PORT .* from $OUT_ADDR6\$" \
		"$SANDBOX_TMP/out6.out"
ktap_result "--outbound $OUT_ADDR6: TCP and UDP leave from that address" $? \
	"$out" "$(cat "$SANDBOX_TMP/out6.out")" "$(in_guest ip -6 route 2>&1)"
# With -o, a bound socket must not take an ephemeral port of its own:
# with two ports in the range, three connections to three servers fit
# (a port is only needed once per destination), three bind(port 0) not
servers=()
for i in 1 2 3; do
	bg_in "$REMOTE_PID" "$SANDBOX_TMP/srv$i.out" python3 "$TCP_PEER" \
		-t 20 serve 700$i
	servers+=("$BG_PID")
	busywait 5000 server_ready "$SANDBOX_TMP/srv$i.out" "$BG_PID"
done
range=$(cat /proc/sys/net/ipv4/ip_local_port_range)
echo "40000 40001" >/proc/sys/net/ipv4/ip_local_port_range
clients=()
for i in 1 2 3; do
	bg_in "$PD_HOLDER" "$SANDBOX_TMP/cl$i.out" python3 "$TCP_PEER" -t 10 \
		connect "$REMOTE_LO4" 700$i hold
	clients+=("$BG_PID")
	busywait 3000 grep -q . "$SANDBOX_TMP/cl$i.out"
done
busywait 3000 sh -c "[ \$(cat '$SANDBOX_TMP'/srv?.out |
	grep -c '^accepted $OUT_ADDR4:') -eq 3 ]"
[ "$(cat "$SANDBOX_TMP"/srv?.out | grep -c "^accepted $OUT_ADDR4:")" -eq 3 ]
ktap_result "-o: 3 connections with 2 ephemeral ports (no port at bind)" \
	$? "$(cat "$SANDBOX_TMP"/cl?.out)" "$(cat "$SANDBOX_TMP"/srv?.out)"
echo "$range" >/proc/sys/net/ipv4/ip_local_port_range
for p in "${clients[@]}" "${servers[@]}"; do
	stop_pid "$p"
done
bg_in "$REMOTE_PID" "$SANDBOX_TMP/icmp.out" python3 -c "$REMOTE_ICMP" 10
icmp=$BG_PID
busywait 5000 server_ready "$SANDBOX_TMP/icmp.out" "$icmp"
out=$(in_guest timeout 5 ping -c 1 -W 3 "$REMOTE_LO4" 2>&1) &&
	grep -q "^echo from $OUT_ADDR4\$" "$SANDBOX_TMP/icmp.out"
ktap_result "-o $OUT_ADDR4: echo requests leave from that address" $? \
	"$out" "$(cat "$SANDBOX_TMP/icmp.out")"
stop_pid "$icmp"
ktap_check "-o: the host's loopback is still reached through the gateway" \
	query_from_guest tcp "$DNS_FWD" 53 "$LO_ANSWER4"
podman_stop
ktap_result "daemon 3 gone with its namespace" $? "after $PD_GONE_MS ms"

ktap_finish
