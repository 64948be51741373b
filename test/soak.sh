#!/bin/bash
#
# test/soak.sh - one daemon under mixed load for SOAK_S seconds (default
# 600), then back to where it started: descriptors, memory, flows
#
# Not part of `make check` (without SOAK_S it skips itself): run it with
# `make soak [SOAK_S=60]`, or `SOAK_S=60 TEST_TIMEOUT=500 bash test/run.sh
# soak` (TEST_TIMEOUT must exceed SOAK_S + 250). SOAK_DAEMON_ARGS adds
# options to the daemon's command line (`--no-zerocopy`, say, to compare).
#
# One daemon in namespace mode (test/lib/sandbox.sh: guest, sandbox host,
# remote over a veth) with -t auto -u auto -T auto -U auto, --udp-timeout 3
# and --flows 4096, and workers, each a bounded loop of one kind of load
# with a pause after every step:
#   tcp_out, tcp_in  churn: 20 verified 64K echo connections per step,
#		     guest -> remote and remote -> guest (-t auto), v4/v6
#   long	     a verified SOAK_LONG transfer (default 32M), each way,
#		     each direction of connection
#   half	     half-closes: a FIN one way, data still coming the
#		     other way; half-closed receivers
#   reset	     aborts (SO_LINGER 0) by either end, either way
#   udp_out, udp_in  verified, sequence-numbered datagrams (1400 and 64
#		     bytes) echoed back, guest -> remote and remote -> guest
#   flood	     256 remote source ports, one verified round trip each,
#		     toward one -u port
#   ping	     ICMP and ICMPv6 echo, guest -> remote
#   auto_t, auto_u   guest services appearing and disappearing on 5 TCP
#		     and 5 UDP ports; a remote peer uses each while it is up
#   auto_T, auto_U   the same with host services and guest peers (-T, -U)
# The guest's one-shot servers of long, half and reset come and go on -t
# auto ports too.
#
# Measurements: "set-up" right after start; "start" after a warm-up (every
# worker for SOAK_WARM_S seconds, default 15) once the daemon has settled,
# so that buffers touched once and the namespace socket pool of the
# splice path are in it; "end" after the soak, once every flow had
# time to expire (UDP: 3 s, ping sockets: 60 s). The checks:
#   - every worker ran steps and none failed (the tools verify content);
#   - the daemon's descriptors at the end equal those at start, exactly;
#   - no allocation grew: VmSize and VmData at the end equal those at
#     start, exactly (the daemon allocates only at start; a leak grows the
#     heap or adds mappings);
#   - VmRSS grows only while the buffers allocated at start are touched
#     deeper for the first time: the 16 MiB output arena and the 4 x 2 MiB
#     tap read buffers are used from their start on every loop, so their
#     resident part is the deepest burst so far, which rises by steps ever
#     rarer (10 minutes here: +5.1 MiB in the first 80 s, +0.3 MiB in the
#     last 300 s, 16 KiB in the last 200). So RSS is not expected back at
#     its start value: the check is that it grew in the second half of
#     the soak by at most SOAK_RSS_KB (default 2048) or by no more than in
#     the first half (how deep a burst goes depends on the machine's load:
#     +2.4 MiB in a second half seen with other jobs running, after +5.2
#     in the first), and the three values are printed;
#   - no flow is left: no TCP socket but listeners and TIME-WAIT in the
#     host namespace, no ping socket, the same UDP sockets as at start
#     (the steady servers' forwarding sockets), and since inbound
#     UDP flows own no descriptor, none was ever evicted: with 4096 flows
#     the inbound UDP share is 1024, which 256 flows every few seconds
#     exceed within seconds if expired flows are not freed;
#   - the daemon is alive, no flow table drop, exits on SIGTERM, and wrote
#     no sanitizer report (PASSTD= a sanitizer build to have them).
# The last line before the totals is a summary with the numbers.

# shellcheck disable=SC2317 # steps and checks are called indirectly
# shellcheck source=test/lib/sandbox.sh
. "$(dirname "$0")/lib/sandbox.sh"

# Not in `make check`: test/run.sh runs every test/*.sh, so without SOAK_S
# (which `make soak` sets, default 600) the script skips itself
[ -n "${SOAK_S:-}" ] ||
	ktap_skip_all "soak of SOAK_S seconds: run it with make soak [SOAK_S=N]"
SOAK_WARM_S=${SOAK_WARM_S:-15}
SOAK_LONG=${SOAK_LONG:-32M}
SOAK_RSS_KB=${SOAK_RSS_KB:-2048}
TS=${TCP_STREAM:-$TEST_DIR/tools/tcp_stream}
US=${UDP_STREAM:-$TEST_DIR/tools/udp_stream}
UDP_TIMEOUT=3
FLOWS=4096

R_ECHO=5002		# remote: TCP echo
R_LONG=5001		# remote: one-shot servers
R_HALF=5003
R_RST=5004
R_UECHO=6002		# remote: UDP echo
G_ECHO=10005		# guest, -t auto: TCP echo
G_LONG=10001		# guest, -t auto: one-shot servers
G_HALF=10003
G_RST=10004
G_UECHO=10105		# guest, -u auto: UDP echo
G_UFLOOD=10106		# guest, -u auto: UDP echo for the flood
G_AUTO_T=10200		# guest services coming and going: 10200-10204
G_AUTO_U=10300		# 10300-10304
H_AUTO_T=10400		# host services coming and going (-T): 10400-10402
H_AUTO_U=10500		# (-U): 10500-10502

WORKERS=(tcp_out tcp_in long half reset udp_out udp_in flood ping
	 auto_t auto_u auto_T auto_U)

require_tools ip nsenter unshare timeout ss ping awk grep find numfmt
require_passtd
if [ ! -x "$TS" ] || [ ! -x "$US" ]; then
	ktap_skip_all "no $TS or $US (make test/tools/tcp_stream" \
		      "test/tools/udp_stream)"
fi
case $SOAK_S in
''|*[!0-9]*) ktap_skip_all "SOAK_S must be a number of seconds" ;;
esac
setup_sandbox
ktap_plan $(( ${#WORKERS[@]} + 8 ))

# --- measurements -----------------------------------------------------------

# rss_kb() - Print the daemon's VmRSS, KiB
rss_kb() {
	awk '/^VmRSS:/ { print $2 }' "/proc/$DAEMON_PID/status" 2>/dev/null
}

# vm_kb() - Print the daemon's VmSize and VmData, KiB, as SIZE/DATA
vm_kb() {
	awk '/^VmSize:/ { s = $2 } /^VmData:/ { d = $2 }
	     END { print s "/" d }' "/proc/$DAEMON_PID/status" 2>/dev/null
}

# fd_count() - Print the number of the daemon's descriptors
fd_count() {
	find "/proc/$DAEMON_PID/fd" -mindepth 1 2>/dev/null | wc -l
}

# sock_count() - Print the number of the daemon's socket descriptors
sock_count() {
	find "/proc/$DAEMON_PID/fd" -mindepth 1 -lname 'socket:*' 2>/dev/null |
		wc -l
}

# tcp_open() - Print the TCP sockets of a namespace neither listening nor
# in TIME-WAIT (on the host side: the daemon's connections)
# $1:	Namespace (PID or host)
tcp_open() {
	run_in "$1" ss -Htan | grep -cv -e '^LISTEN' -e '^TIME-WAIT'
}

# udp_socks() - Print the number of UDP sockets of a namespace
# $1:	Namespace (PID or host)
udp_socks() {
	run_in "$1" ss -Huan | grep -c .
}

# ping_socks() - Print the number of ping sockets of the host namespace
# (the daemon's: nothing else there pings)
ping_socks() {
	cat /proc/net/icmp /proc/net/icmp6 2>/dev/null | grep -cv 'local_address'
}

# snapshot() - Print one line of figures: rss, fds, sockets, host sockets
snapshot() {
	echo "rss_kb=$(rss_kb) vm_kb=$(vm_kb) fds=$(fd_count)" \
	     "socks=$(sock_count)" \
	     "host_tcp=$(tcp_open host) host_udp=$(udp_socks host)" \
	     "host_ping=$(ping_socks)" \
	     "guest_tcp=$(tcp_open "$GUEST_PID")" \
	     "guest_udp=$(udp_socks "$GUEST_PID")"
}

# settled() - Succeed once nothing of the load is left in the daemon
# $1:	Descriptor count to reach, or "" for: stable over 2 s
settled() {
	local want=$1; shift
	local a b

	[ "$(tcp_open host)" -eq 0 ] || return 1
	[ "$(tcp_open "$GUEST_PID")" -eq 0 ] || return 1
	[ "$(ping_socks)" -eq 0 ] || return 1
	if [ -n "$want" ]; then
		[ "$(fd_count)" -eq "$want" ] &&
			[ "$(udp_socks host)" -eq "$START_HOST_UDP" ]
		return
	fi
	a=$(fd_count)
	sleep 2
	b=$(fd_count)
	[ "$a" -eq "$b" ]
}

# --- helpers of the steps ---------------------------------------------------

# ns_bound() - Succeed if a namespace has a listener on a port
# $1:	Namespace (PID or host)
# $2:	t or u
# $3:	Port
ns_bound() {
	run_in "$1" ss -Hln"$2" "sport = :$3" | grep -q .
}

# ns_free() - Succeed if a namespace has no listener on a port
ns_free() {
	! ns_bound "$@"
}

# other_side() - Print where the daemon forwards a server's port from
# $1:	Server namespace: the guest (-t/-u auto: the host), or host (-T/-U
#	auto: the guest); the remote needs no forwarding ("")
other_side() {
	case $1 in
	"$GUEST_PID") echo host ;;
	host) echo "$GUEST_PID" ;;
	esac
}

# server_state() - Print what a process is doing: program, state, where
# it waits in the kernel (what to look at when a server did not start)
# $1:	PID
server_state() {
	local pid=$1; shift

	echo "pid $pid: $(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null)," \
	     "$(grep '^State:' "/proc/$pid/status" 2>/dev/null)," \
	     "wchan $(cat "/proc/$pid/wchan" 2>/dev/null)"
}

# server_up() - Start a server, wait until the daemon forwards its port
# $1:	Server namespace (PID or host)
# $2:	t or u
# $3:	Port
# $4:	Output file
# $@:	Server command
#
# Sets SRV_PID. Return: 0 when the server listens and is forwarded
server_up() {
	local ns=$1; shift
	local p=$1; shift
	local port=$1; shift
	local out=$1; shift
	local fwd t0

	t0=$(now_ms)
	bg_in "$ns" "$out" "$@"
	SRV_PID=$BG_PID
	busywait 15000 server_ready "$out" "$SRV_PID"
	grep -q '^listening' "$out" || { echo "server did not start: $*"
		echo "after $(( $(now_ms) - t0 )) ms, $(server_state "$SRV_PID")"
		cat "$out"; return 1; }
	fwd=$(other_side "$ns")
	[ -z "$fwd" ] && return 0
	slowwait 5 ns_bound "$fwd" "$p" "$port" && return 0
	echo "no forwarding socket for $p port $port after 5 s"
	return 1
}

# server_gone() - Wait until the daemon closed the forwarding socket of a
# server that ended
# $1:	Server namespace, $2: t or u, $3: port
server_gone() {
	local fwd

	fwd=$(other_side "$1")
	[ -z "$fwd" ] && return 0
	slowwait 5 ns_free "$fwd" "$2" "$3" && return 0
	echo "forwarding socket for $2 port $3 still open 5 s after its" \
	     "server ended"
	return 1
}

# pair() - A one-shot tcp_stream server and its client
# $1:	"match": both succeed and agree on bytes and hashes each way;
#	"status": both exit with status 0 (their -X expectations met)
# $2:	Server namespace, $3: client namespace, $4: port
# $@:	Server arguments (before MODE), "--", client arguments
#
# Prints what went wrong; on success, "bytes=N" (both ways).
# Return: 0 if both ends did what was expected
pair() {
	local mode=$1; shift
	local sns=$1; shift
	local cns=$1; shift
	local port=$1; shift
	local sargs=() sout cout crc src k

	while [ $# -gt 0 ] && [ "$1" != -- ]; do
		sargs+=("$1")
		shift
	done
	shift
	sout=$STEP_TMP.s
	cout=$STEP_TMP.c
	server_up "$sns" t "$port" "$sout" "$TS" -t 40 "${sargs[@]}" \
		listen "$port" || { finish_bg "$SRV_PID" 1; return 1; }
	run_in "$cns" timeout -k 2 40 "$TS" -t 30 "$@" >"$cout" 2>&1
	crc=$?
	finish_bg "$SRV_PID" 10
	src=$?
	if [ "$crc" -ne 0 ] || [ "$src" -ne 0 ]; then
		echo "server: ${sargs[*]} listen $port -> status $src"
		cat "$sout"
		echo "client: $* -> status $crc"
		cat "$cout"
		return 1
	fi
	if [ "$mode" = match ]; then
		for k in sent:recv recv:sent sent_hash:recv_hash \
			 recv_hash:sent_hash; do
			[ "$(kv "$cout" "${k%%:*}")" = "$(kv "$sout" "${k#*:}")" ] &&
				continue
			echo "client ${k%%:*} differs from server ${k#*:}"
			cat "$sout" "$cout"
			return 1
		done
	fi
	server_gone "$sns" t "$port" || return 1
	echo "bytes=$(( $(kv "$cout" sent) + $(kv "$cout" recv) ))"
}

# conns() - Churn: connections to an echo server, each verified
# $1:	Client namespace, $2: address, $3: port, $4: count, $5: bytes each
# $6:	Seed
conns() {
	local out

	out=$(run_in "$1" timeout -k 2 40 "$TS" -t 30 -c 10 -x "$6" \
	      conns "$2" "$3" "$4" "$5" 2>&1) || { echo "conns $*: $out"
		return 1; }
	echo "bytes=$(( $4 * $(numfmt --from=iec "$5") * 2 ))"
}

# udp_echoed() - Verified datagrams to an echo server and back
# $1:	Client namespace, $2: address, $3: port, $4: datagrams per size
# $5:	Seed
#
# Losses are counted (lost=), corruption, duplicates and reordering fail.
udp_echoed() {
	local out

	out=$(run_in "$1" timeout -k 2 40 "$US" -t 30 -x "$5" -z 1400,64 \
	      -n "$4" -r 400 -E -L -i 1000 send "$2" "$3" 2>&1) || {
		echo "udp send $*: $out"; return 1; }
	grep -q 'echo recv=' <<<"$out" || { echo "udp send $*: $out"
		return 1; }
	echo "bytes=$(grep -o ' bytes=[0-9]*' <<<"$out" | tail -n 1 |
		      cut -d= -f2) lost=$(grep -o 'lost=[0-9]*' <<<"$out" |
		      tail -n 1 | cut -d= -f2)"
}

# --- the steps: $1 is the step number -----------------------------------------

# v4 or v6 address by step number
pick() { if (( $1 % 2 )); then echo "$3"; else echo "$2"; fi; }

step_tcp_out() {
	conns "$GUEST_PID" "$(pick "$1" "$REMOTE_LO4" "$REMOTE_LO6")" \
		"$R_ECHO" 20 64K $(( $1 * 100 ))
}

step_tcp_in() {
	conns "$REMOTE_PID" "$(pick "$1" "$HOST_ADDR4" "$HOST_ADDR6")" \
		"$G_ECHO" 20 64K $(( $1 * 100 + 50 ))
}

step_long() {
	local n=$SOAK_LONG x="-x $1"

	# shellcheck disable=SC2086 # $x is two words
	case $(( $1 % 4 )) in
	0) pair match "$REMOTE_PID" "$GUEST_PID" $R_LONG $x -r -e "$n" \
		-- $x -s "$n" connect "$REMOTE_LO4" $R_LONG ;;
	1) pair match "$REMOTE_PID" "$GUEST_PID" $R_LONG $x -s "$n" \
		-- $x -r -e "$n" connect "$REMOTE_LO6" $R_LONG ;;
	2) pair match "$GUEST_PID" "$REMOTE_PID" $G_LONG $x -r -e "$n" \
		-- $x -s "$n" connect "$HOST_ADDR4" $G_LONG ;;
	3) pair match "$GUEST_PID" "$REMOTE_PID" $G_LONG $x -s "$n" \
		-- $x -r -e "$n" connect "$HOST_ADDR6" $G_LONG ;;
	esac
}

step_half() {
	case $(( $1 % 4 )) in
	0) pair match "$REMOTE_PID" "$GUEST_PID" $R_HALF -r -e 1M -a -s 4M \
		-- -s 1M -r -e 4M connect "$REMOTE_LO4" $R_HALF ;;
	1) pair match "$GUEST_PID" "$REMOTE_PID" $G_HALF -r -e 1M -a -s 4M \
		-- -s 1M -r -e 4M connect "$HOST_ADDR4" $G_HALF ;;
	2) pair match "$GUEST_PID" "$REMOTE_PID" $G_HALF -H -r -e 4M \
		-- -s 4M connect "$HOST_ADDR6" $G_HALF ;;
	3) pair match "$REMOTE_PID" "$GUEST_PID" $R_HALF -H -r -e 4M \
		-- -s 4M connect "$REMOTE_LO6" $R_HALF ;;
	esac
}

# The side that resets waits for 4K from its peer first, so that the
# connection exists end to end, and resets with up to 1M still unsent.
step_reset() {
	local srv=$GUEST_PID cli=$REMOTE_PID port=$G_RST addr=$HOST_ADDR4

	if (( $1 % 2 )); then
		srv=$REMOTE_PID cli=$GUEST_PID port=$R_RST addr=$REMOTE_LO4
	fi
	if (( ($1 / 2) % 2 )); then
		pair status "$srv" "$cli" $port -s 1M -N -K 4K \
			-- -s 4K -N -r -X reset connect "$addr" $port
	else
		pair status "$srv" "$cli" $port -s 4K -N -r -X reset \
			-- -s 1M -N -K 4K connect "$addr" $port
	fi
}

step_udp_out() {
	udp_echoed "$GUEST_PID" "$(pick "$1" "$REMOTE_LO4" "$REMOTE_LO6")" \
		"$R_UECHO" 200 "$1"
}

step_udp_in() {
	udp_echoed "$REMOTE_PID" "$(pick "$1" "$HOST_ADDR4" "$HOST_ADDR6")" \
		"$G_UECHO" 200 "$1"
}

# 256 source ports, 16 verified bytes each way on each, sent again up to
# twice if unanswered
step_flood() {
	local out

	out=$(in_remote timeout -k 2 30 "$US" -t 20 -r 2000 -y 3 -w 2000 \
	      flows "$HOST_ADDR4" "$G_UFLOOD" 256 2>&1) || {
		echo "flows: $out"; return 1; }
	echo "bytes=$(( 256 * 32 ))"
}

step_ping() {
	local addr out sent got

	addr=$(pick "$1" "$REMOTE_LO4" "$REMOTE_LO6")
	out=$(in_guest timeout 10 ping -n -q -c 10 -i 0.2 -W 2 "$addr" 2>&1)
	sent=$(sed -n 's/^\([0-9]*\) packets transmitted.*/\1/p' <<<"$out")
	got=$(sed -n 's/.* \([0-9]*\) \(packets \)\?received.*/\1/p' <<<"$out")
	if [ -z "$got" ] || [ "$got" -eq 0 ] ||
	   grep -q -e duplicates -e 'wrong data' <<<"$out"; then
		echo "ping $addr: $out"
		return 1
	fi
	echo "bytes=$(( got * 64 * 2 )) lost=$(( sent - got ))"
}

# A service appears, a peer on the other side uses it, it ends, the
# daemon's forwarding socket goes away
# $1:	step, $2: service namespace, $3: peer namespace, $4: first port,
# $5:	ports, $6: peer's address
auto_tcp() {
	local port=$(( $4 + $1 % $5 )) r

	server_up "$2" t "$port" "$STEP_TMP.s" "$TS" -t 30 -n 5 echo "$port" ||
		{ finish_bg "$SRV_PID" 1; return 1; }
	conns "$3" "$6" "$port" 5 16K $(( $1 * 10 ))
	r=$?
	finish_bg "$SRV_PID" 5 || { echo "echo server: status $?"
		cat "$STEP_TMP.s"; r=1; }
	server_gone "$2" t "$port" || r=1
	return $r
}

auto_udp() {
	local port=$(( $4 + $1 % $5 )) r

	server_up "$2" u "$port" "$STEP_TMP.s" "$US" -t 30 echo "$port" ||
		{ finish_bg "$SRV_PID" 1; return 1; }
	udp_echoed "$3" "$6" "$port" 50 "$1"
	r=$?
	stop_pid "$SRV_PID"
	server_gone "$2" u "$port" || r=1
	return $r
}

step_auto_t() {
	auto_tcp "$1" "$GUEST_PID" "$REMOTE_PID" $G_AUTO_T 5 "$HOST_ADDR4"
}

step_auto_u() {
	auto_udp "$1" "$GUEST_PID" "$REMOTE_PID" $G_AUTO_U 5 "$HOST_ADDR4"
}

step_auto_T() {
	auto_tcp "$1" host "$GUEST_PID" $H_AUTO_T 3 127.0.0.1
}

step_auto_U() {
	auto_udp "$1" host "$GUEST_PID" $H_AUTO_U 3 127.0.0.1
}

# Pause after each step of a worker, seconds: keeps the load moderate
pause_of() {
	case $1 in
	tcp_out|tcp_in|reset|udp_out|udp_in) echo 0.5 ;;
	half|auto_t|auto_u|auto_T|auto_U) echo 1 ;;
	long) echo 2 ;;
	flood) echo 4 ;;
	ping) echo 1 ;;
	esac
}

# worker() - Run the steps of one worker until the phase ends
# $1:	Worker name
# $2:	Phase end, milliseconds (now_ms)
#
# Appends to $SANDBOX_TMP/w.NAME.res one line per step: "ok N bytes=B
# [lost=L]" or "fail N" followed by what went wrong, indented.
worker() {
	local name=$1; shift
	local end=$1; shift
	local res=$SANDBOX_TMP/w.$name.res
	local i=0 out max=$(( SOAK_S * 4 + 100 ))

	STEP_TMP=$SANDBOX_TMP/w.$name
	while [ "$(now_ms)" -lt "$end" ] && [ $i -lt $max ]; do
		i=$((i + 1))
		if out=$("step_$name" "$i" 2>&1); then
			echo "ok $i $(grep '^bytes=' <<<"$out" | tail -n 1)"
		else
			echo "fail $i"
			sed 's/^/    /' <<<"$out" | head -n 40
		fi >>"$res"
		daemon_alive || break
		sleep "$(pause_of "$name")"
	done
}

# run_phase() - Run workers for a number of seconds, wait for all to end
# $1:	Seconds
# $@:	Worker names
run_phase() {
	local secs=$1; shift
	local end=$(( $(now_ms) + secs * 1000 )) pids=() w pid

	for w in "$@"; do
		worker "$w" "$end" &
		track_pid $!
		pids+=($!)
	done
	for pid in "${pids[@]}"; do
		finish_bg "$pid" $(( secs + 90 ))
	done
}

# --- steady servers ----------------------------------------------------------

# steady() - Start a server for the whole run
# $1:	Namespace, $2: t or u, $3: port, $@: command
steady() {
	local ns=$1; shift
	local p=$1; shift
	local port=$1; shift
	local out=$SANDBOX_TMP/steady.$port

	if ! server_up "$ns" "$p" "$port" "$out" "$@"; then
		echo "# steady server on $p port $port did not come up"
		return 1
	fi
	STEADY_PIDS+=("$SRV_PID")
}

RUN_S=$(( SOAK_WARM_S + SOAK_S + 300 ))
STEADY_PIDS=()
# shellcheck disable=SC2086 # SOAK_DAEMON_ARGS is a list of options
if ! start_daemon --config-net -d --flows $FLOWS --udp-timeout $UDP_TIMEOUT \
		  -t auto -u auto -T auto -U auto ${SOAK_DAEMON_ARGS:-}; then
	for w in "${WORKERS[@]}"; do
		ktap_fail "$w" "daemon did not start"
	done
	for i in 1 2 3 4 5 6 7 8; do
		ktap_fail "check $i" "daemon did not start"
	done
	ktap_finish
fi
slowwait 10 in_guest sh -c 'ip -6 route show default | grep -q via'
START_HOST_UDP=$(udp_socks host)
SETUP=$(snapshot)
SETUP_FDS=$(fd_count)
ktap_diag "set-up: $SETUP"

steady "$REMOTE_PID" t $R_ECHO "$TS" -t $RUN_S echo $R_ECHO &&
steady "$REMOTE_PID" u $R_UECHO "$US" -t $RUN_S echo $R_UECHO &&
steady "$GUEST_PID" t $G_ECHO "$TS" -t $RUN_S echo $G_ECHO &&
steady "$GUEST_PID" u $G_UECHO "$US" -t $RUN_S echo $G_UECHO &&
steady "$GUEST_PID" u $G_UFLOOD "$US" -t $RUN_S echo $G_UFLOOD
STEADY_OK=$?

# Warm-up, then settle: UDP flows expire after $UDP_TIMEOUT s, ping
# sockets after 60 s
[ $STEADY_OK -eq 0 ] && run_phase "$SOAK_WARM_S" "${WORKERS[@]}"
sleep $(( UDP_TIMEOUT + 1 ))
slowwait 90 settled ""
START_HOST_UDP=$(udp_socks host)
START=$(snapshot)
START_FDS=$(fd_count)
START_RSS=$(rss_kb)
START_VM=$(vm_kb)
ktap_diag "start (after ${SOAK_WARM_S}s of warm-up): $START"
mkdir -p "$SANDBOX_TMP/warm"
mv "$SANDBOX_TMP"/w.*.res "$SANDBOX_TMP/warm/" 2>/dev/null

# sampler() - Every 10 s until the soak ends, "SECONDS RSS_KB FDS"
# $1:	End, milliseconds (now_ms)
sampler() {
	local end=$1; shift
	local i

	for ((i = 0; i <= SOAK_S / 10 + 1; i++)); do
		[ "$(now_ms)" -lt "$end" ] || break
		echo "$(( i * 10 )) $(rss_kb) $(fd_count) $(vm_kb)"
		sleep 10
	done >"$SANDBOX_TMP/samples"
}

# The soak
SOAK_T0=$(now_ms)
sampler $(( SOAK_T0 + SOAK_S * 1000 )) &
SAMPLER_PID=$!
track_pid $SAMPLER_PID
[ $STEADY_OK -eq 0 ] && run_phase "$SOAK_S" "${WORKERS[@]}"
SOAK_MS=$(( $(now_ms) - SOAK_T0 ))
PEAK=$(snapshot)
finish_bg $SAMPLER_PID 12

# Every flow expires: UDP after $UDP_TIMEOUT s, ping sockets after 60 s
SETTLE_T0=$(now_ms)
slowwait 90 settled "$START_FDS"
SETTLE_MS=$(( $(now_ms) - SETTLE_T0 ))
sleep 1
END=$(snapshot)
END_FDS=$(fd_count)
END_RSS=$(rss_kb)
END_VM=$(vm_kb)
# RSS at half the soak: the sample nearest to SOAK_S / 2
MID_RSS=$(awk -v h=$(( SOAK_S / 2 )) '$1 <= h { r = $2 } END { print r }' \
	  "$SANDBOX_TMP/samples" 2>/dev/null)
MID_RSS=${MID_RSS:-$START_RSS}
ktap_diag "end (load stopped, settled in ${SETTLE_MS} ms): $END"

# --- results --------------------------------------------------------------------

TOTAL_STEPS=0
TOTAL_FAIL=0
TOTAL_BYTES=0
for w in "${WORKERS[@]}"; do
	res=$SANDBOX_TMP/w.$w.res
	n=$(grep -c '^ok ' "$res" 2>/dev/null)
	f=$(grep -c '^fail ' "$res" 2>/dev/null)
	b=$(sed -n 's/^ok .*bytes=\([0-9]*\).*/\1/p' "$res" 2>/dev/null |
	    awk '{ s += $1 } END { printf "%.0f\n", s }')
	l=$(sed -n 's/^ok .*lost=\([0-9]*\).*/\1/p' "$res" 2>/dev/null |
	    awk '{ s += $1 } END { printf "%.0f\n", s }')
	TOTAL_STEPS=$(( TOTAL_STEPS + ${n:-0} + ${f:-0} ))
	TOTAL_FAIL=$(( TOTAL_FAIL + ${f:-0} ))
	TOTAL_BYTES=$(( TOTAL_BYTES + b ))
	diag="$w: ${n:-0} steps passed, ${f:-0} failed, $b bytes verified"
	case $w in
	udp_*|ping|auto_u|auto_U) diag+=", $l lost" ;;
	esac
	if [ $STEADY_OK -ne 0 ]; then
		ktap_fail "$w" "steady servers did not start"
	elif [ "${f:-0}" -eq 0 ] && [ "${n:-0}" -gt 0 ]; then
		ktap_diag "$diag"
		ktap_ok "$w"
	else
		ktap_fail "$w" "$diag" "$(grep -A 40 -m 3 '^fail ' "$res" |
			head -n 60)"
	fi
done

daemon_alive
ktap_result "daemon alive after ${SOAK_MS} ms of load" $?

[ "$END_FDS" -eq "$START_FDS" ]
ktap_result "descriptors back to start ($START_FDS -> $END_FDS, set-up: $SETUP_FDS)" \
	    $? "start: $START" "end:   $END" \
	    "$(ls -l "/proc/$DAEMON_PID/fd" 2>&1 | tail -n +2)"

[ -n "$END_VM" ] && [ "$END_VM" = "$START_VM" ]
ktap_result "no allocation grew: VmSize/VmData at start and end $START_VM, $END_VM KiB" \
	    $? "start: $START" "end:   $END"

RSS_G1=$(( MID_RSS - START_RSS ))
RSS_G2=$(( ${END_RSS:-0} - MID_RSS ))
[ -n "$END_RSS" ] && { [ "$RSS_G2" -le "$SOAK_RSS_KB" ] ||
		       [ "$RSS_G2" -le "$RSS_G1" ]; }
ktap_result "RSS $START_RSS KiB at start, $MID_RSS at half-time, $END_RSS at the end: second half +$RSS_G2 KiB, within $SOAK_RSS_KB or the first half's +$RSS_G1" \
	    $? "start: $START" "end:   $END"

[ "$(tcp_open host)" -eq 0 ] && [ "$(ping_socks)" -eq 0 ] &&
	[ "$(udp_socks host)" -eq "$START_HOST_UDP" ]
ktap_result "no flow left: no host TCP connection or ping socket, host UDP sockets as at start" \
	    $? "$(ss -Htanu)" "$(cat /proc/net/icmp /proc/net/icmp6)"

# Stop the steady servers, then the daemon: its drop counters at exit
for pid in "${STEADY_PIDS[@]}"; do
	stop_pid "$pid"
done
stop_daemon
STOP_RC=$?
ktap_result "daemon exits on SIGTERM" $STOP_RC "$(tail -n 5 "$DAEMON_LOG")"
DROPS=$(grep 'dropped:' "$DAEMON_LOG")
[ -n "$DROPS" ] && ktap_diag "daemon drop counters at exit:" "$DROPS"
! grep -q -e 'dropped: UDP flow evicted' -e 'dropped: flow table full' \
	"$DAEMON_LOG"
ktap_result "no inbound UDP flow evicted, no flow table full (--flows $FLOWS)" \
	    $? "$DROPS"
REPORTS=$(sandbox_sanitizer_reports)
ktap_result "no sanitizer report" $? "$REPORTS"

ktap_diag "summary: soak_s=$SOAK_S steps=$TOTAL_STEPS failed=$TOTAL_FAIL verified_bytes=$TOTAL_BYTES rss_kb=$START_RSS->$MID_RSS->$END_RSS vm_kb=$START_VM->$END_VM fds=$START_FDS->$END_FDS setup_fds=$SETUP_FDS settle_ms=$SETTLE_MS"
ktap_diag "at the end of the load: $PEAK"
ktap_diag "during the load, every 10 s, seconds:rss_kb:fds:vmsize/vmdata: $(awk '{ printf "%s%s:%s:%s:%s", (NR > 1 ? " " : ""), $1, $2, $3, $4 }' "$SANDBOX_TMP/samples" 2>/dev/null)"
ktap_finish
