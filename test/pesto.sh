#!/bin/bash
#
# test/pesto.sh - run-time forwarding control: -c/--conf-path and
# passtd-ctl (run as pesto)
#
# The daemon starts with no forwards (-t none -u none) and a control
# socket. Forwards are added through it and used at once: the remote
# namespace reaches guest servers through the new -t/-u listeners, the
# sandbox's loopback a translated one (spliced). show lists them; a delete
# while a connection is established leaves that connection working and
# refuses new ones. Bad SPECs and malformed requests get an error reply
# and change nothing (the table is compared before and after, and a
# partial add leaves no socket behind). Clients that queue, and one that
# connects and never writes, neither block the daemon's traffic nor the
# next client. The socket is 0600 and goes away with the daemon; VM mode
# has the same socket.

# shellcheck disable=SC2317 # helpers are called through ktap_check, slowwait
# shellcheck source=test/lib/sandbox.sh
. "$(dirname "$0")/lib/sandbox.sh"

TCP_STREAM=${TCP_STREAM:-$TEST_DIR/tools/tcp_stream}
UDP_STREAM=${UDP_STREAM:-$TEST_DIR/tools/udp_stream}
PESTO=${PESTO:-$REPO_DIR/pesto}

require_tools ip nsenter unshare timeout ss stat python3
require_passtd
[ -x "$PESTO" ] || ktap_skip_all "no $PESTO (make pesto)"
{ [ -x "$TCP_STREAM" ] && [ -x "$UDP_STREAM" ]; } ||
	ktap_skip_all "no tcp_stream or udp_stream (make check builds them)"
setup_sandbox

CTL=$SANDBOX_TMP/ctl.sock
P_TCP=8080		# -t 8080: guest echo server
P_UDP=5353		# -u 5353: guest UDP echo server
P_LO=9000		# -t 127.0.0.1/9000:9090: guest server on 9090
P_LO_DST=9090

ktap_plan 36

# pesto_q() - Run pesto on the daemon's socket, bounded, output to OUT
# $@:	pesto options
pesto_q() {
	OUT=$(timeout 20 "$PESTO" "$@" "$CTL" 2>&1)
}

# table() - Print the forwarding table (show)
table() {
	timeout 20 "$PESTO" -s "$CTL" 2>&1
}

# listening() - Succeed if the sandbox has a TCP listener on a port
# $1:	Port
listening() {
	local port=$1; shift

	ss -Hltn "sport = :$port" | grep -q .
}

# raw() - Send bytes to the control socket, print the reply
# $1:	Request (Python bytes literal)
raw() {
	local req=$1; shift

	timeout 20 python3 -c '
import socket, sys
s = socket.socket(socket.AF_UNIX)
s.settimeout(10)
s.connect(sys.argv[1])
s.sendall(eval(sys.argv[2]))
s.shutdown(socket.SHUT_WR)
out = b""
while True:
	d = s.recv(65536)
	if not d:
		break
	out += d
sys.stdout.write(out.decode())
' "$CTL" "$req"
}

# bg_server() - Start a server in the guest, wait until it listens
# $1:	Output file name
# $@:	Command
bg_server() {
	local out=$SANDBOX_TMP/$1; shift

	bg_in "$GUEST_PID" "$out" "$@"
}

start_daemon --config-net -t none -u none -c "$CTL" ||
	ktap_skip_all "daemon did not start"
slowwait 5 test -S "$CTL"

# --- The socket ---
mode=$(stat -c %a "$CTL" 2>&1)
[ -S "$CTL" ] && [ "$mode" = 600 ]
ktap_result "control socket exists, mode 0600" $? "mode: $mode"

# --- Add, then use ---
pesto_q -A "-t $P_TCP"
ktap_result "add -t $P_TCP" $? "$OUT"
listening "$P_TCP"
ktap_result "listener on $P_TCP at once" $? "$(ss -ltn)"

bg_server echo.out "$TCP_STREAM" -t 60 echo "$P_TCP"
echo_pid=$BG_PID
busywait 3000 in_guest sh -c "ss -Hltn 'sport = :$P_TCP' | grep -q ."
in_remote timeout 20 "$TCP_STREAM" -t 15 conns "$HOST_ADDR4" "$P_TCP" 4 \
	256K >"$SANDBOX_TMP/conns.out" 2>&1
ktap_result "remote connects through the added forward (IPv4)" $? \
	"$(cat "$SANDBOX_TMP/conns.out")"
in_remote timeout 20 "$TCP_STREAM" -t 15 conns "$HOST_ADDR6" "$P_TCP" 2 \
	64K >"$SANDBOX_TMP/conns6.out" 2>&1
ktap_result "remote connects through the added forward (IPv6)" $? \
	"$(cat "$SANDBOX_TMP/conns6.out")"

pesto_q -A "-u $P_UDP"
ktap_result "add -u $P_UDP" $? "$OUT"
bg_server uecho.out "$UDP_STREAM" -t 60 echo "$P_UDP"
sleep 0.3
in_remote timeout 20 "$UDP_STREAM" -t 15 flows "$HOST_ADDR4" "$P_UDP" 2 \
	>"$SANDBOX_TMP/flows.out" 2>&1
ktap_result "UDP through the added forward" $? \
	"$(cat "$SANDBOX_TMP/flows.out")"

pesto_q --add "-t 127.0.0.1/$P_LO:$P_LO_DST"
ktap_result "add -t 127.0.0.1/$P_LO:$P_LO_DST (address, translation)" $? \
	"$OUT"
bg_server lo.out "$TCP_STREAM" -t 60 echo "$P_LO_DST"
busywait 3000 in_guest sh -c "ss -Hltn 'sport = :$P_LO_DST' | grep -q ."
timeout 20 "$TCP_STREAM" -t 15 conns 127.0.0.1 "$P_LO" 2 64K \
	>"$SANDBOX_TMP/lo.conns" 2>&1
ktap_result "host loopback reaches the translated port" $? \
	"$(cat "$SANDBOX_TMP/lo.conns")"

# --- Show ---
T=$(table)
grep -qx -- "-t $P_TCP.*" <<<"$T" && grep -qx -- "-u $P_UDP.*" <<<"$T" &&
	grep -qx -- "-t 127.0.0.1/$P_LO:$P_LO_DST.*" <<<"$T"
ktap_result "show lists the three forwards" $? "$T"

# --- Bad requests change nothing ---
bad_all=0
bad_diag=()
for spec in "-t foo" "-t 70000" "-t all" "-t none" "-t auto" "-T 8081" \
	    "-t $P_TCP" "-u $P_UDP" "-t 9100,80" "-t 9101 9102" "8082"; do
	pesto_q -A "$spec"
	rc=$?
	if [ $rc -eq 0 ] || [ -z "$OUT" ]; then
		bad_all=1
		bad_diag+=("add '$spec': status $rc, '$OUT'")
	fi
done
[ "$bad_all" = 0 ]
ktap_result "bad SPECs: refused with a message" $? "${bad_diag[@]}"
T2=$(table)
[ "$T2" = "$T" ] && ! listening 9100 && daemon_alive
ktap_result "table unchanged, partial add undone, daemon alive" $? \
	"before:" "$T" "after:" "$T2" "$(ss -ltn)"

bad_all=0
bad_diag=()
for req in 'b"bogus\n"' 'b"add\n"' 'b"add -t\n"' 'b"show\x01\n"' \
	   'b"show\nshow\n"' 'b"x" * 600' 'b"add -t 8083\x00\n"' \
	   'b"\n"' 'b"delete -t 1-70000\n"'; do
	r=$(raw "$req" 2>&1)
	if [ "${r#error: }" = "$r" ]; then
		bad_all=1
		bad_diag+=("$req -> '$r'")
	fi
done
[ "$bad_all" = 0 ]
ktap_result "malformed requests: error reply" $? "${bad_diag[@]}"
T2=$(table)
[ "$T2" = "$T" ] && ! listening 8083 && daemon_alive
ktap_result "malformed requests changed nothing" $? "$T2"
r=$(raw 'b"show"')
[ "${r%%$'\n'*}" = ok ]
ktap_result "request ended by the end of stream (no newline)" $? "$r"

# --- Delete under traffic ---
# nsenter executes tcp_stream itself: BG_PID is the one to signal
bg_in "$REMOTE_PID" "$SANDBOX_TMP/hold.out" "$TCP_STREAM" -t 30 -i 20 hold \
	"$HOST_ADDR4" "$P_TCP" 1
hold_pid=$BG_PID
slowwait 10 grep -q '^ready' "$SANDBOX_TMP/hold.out"
ktap_result "connection established before the delete" $? \
	"$(cat "$SANDBOX_TMP/hold.out")"

pesto_q -D "-t $P_TCP:$P_TCP"
ktap_result "delete -t $P_TCP (named as $P_TCP:$P_TCP)" $? "$OUT"
! listening "$P_TCP"
ktap_result "its listener is closed" $? "$(ss -ltn)"
in_remote timeout 20 "$TCP_STREAM" -t 10 -X refused connect "$HOST_ADDR4" \
	"$P_TCP" >"$SANDBOX_TMP/refused.out" 2>&1
ktap_result "new connections are refused" $? \
	"$(cat "$SANDBOX_TMP/refused.out")"
kill -USR1 "$hold_pid"
finish_bg "$hold_pid" 20
ktap_result "the established connection still works" $? \
	"$(cat "$SANDBOX_TMP/hold.out")"

T2=$(table)
! grep -q -- "^-t $P_TCP" <<<"$T2" && grep -q -- "^-u $P_UDP" <<<"$T2"
ktap_result "show no longer lists it" $? "$T2"
pesto_q -D "-t $P_TCP"
r1=$?
pesto_q -D "-t 8099"
r2=$?
[ $r1 -ne 0 ] && [ $r2 -ne 0 ] && [ "$(table)" = "$T2" ]
ktap_result "deleting what is not there: error, nothing changes" $? \
	"status $r1 and $r2" "$OUT"

# --- Second clients ---
pids=()
for p in 9201 9202 9203 9204 9205; do
	timeout 30 "$PESTO" -A "-t $p" "$CTL" >"$SANDBOX_TMP/par.$p" 2>&1 &
	pids+=($!)
	track_pid "$!"
done
ok=0
for pid in "${pids[@]}"; do
	wait "$pid" || ok=1
done
T2=$(table)
for p in 9201 9202 9203 9204 9205; do
	grep -q -- "^-t $p	" <<<"$T2" && listening "$p" || ok=1
done
ktap_result "five clients at once: each served, each forward added" $ok \
	"$T2" "$(cat "$SANDBOX_TMP"/par.*)"

# A client that connects and never writes (and one that stops half-way)
timeout 30 python3 -c '
import socket, sys, time
s = socket.socket(socket.AF_UNIX)
s.connect(sys.argv[1])
t = socket.socket(socket.AF_UNIX)
t.connect(sys.argv[1])
t.sendall(b"add -t 91")
print("connected", flush=True)
time.sleep(20)
' "$CTL" >"$SANDBOX_TMP/idle.out" 2>&1 &
idle_pid=$!
track_pid "$idle_pid"
slowwait 5 grep -q connected "$SANDBOX_TMP/idle.out"
timeout 20 "$TCP_STREAM" -t 15 conns 127.0.0.1 "$P_LO" 2 64K \
	>"$SANDBOX_TMP/idle.conns" 2>&1
ktap_result "traffic flows while a client sits idle" $? \
	"$(cat "$SANDBOX_TMP/idle.conns")"
t0=$(now_ms)
pesto_q -A "-t 9206" -s
rc=$?
t1=$(now_ms)
[ $rc -eq 0 ] && grep -q -- "^-t 9206	" <<<"$OUT" &&
	[ $((t1 - t0)) -lt 9000 ] && pid_alive "$idle_pid"
ktap_result "next client served while idle ones hold connections" $? \
	"status $rc after $((t1 - t0)) ms" "$OUT"
stop_pid "$idle_pid"
! grep -q -- "^-t 91	" <<<"$(table)"
ktap_result "the half-written request was not applied" $?

# --- Exit ---
daemon_alive && ! grep -q 'SIGSYS\|Bad system call' "$DAEMON_LOG"
ktap_result "daemon alive after all of it" $? "$(tail -n 5 "$DAEMON_LOG")"
stop_daemon
slowwait 3 test ! -e "$CTL"
ktap_result "socket removed at exit" $? "$(ls -l "$CTL" 2>&1)"

# --- With -t auto: a run-time forward takes a port over, and gives it back
start_daemon -d --config-net -u none -T none -U none -c "$CTL" ||
	ktap_skip_all "daemon did not start"
slowwait 5 test -S "$CTL"
bg_server auto.out "$TCP_STREAM" -t 60 echo "$P_TCP"
auto_pid=$BG_PID
slowwait 5 listening "$P_TCP"
pesto_q -A "-t $P_TCP"
rc=$?
in_remote timeout 20 "$TCP_STREAM" -t 15 conns "$HOST_ADDR4" "$P_TCP" 2 \
	64K >"$SANDBOX_TMP/auto.conns" 2>&1
crc=$?
[ $rc -eq 0 ] && [ $crc -eq 0 ] &&
	grep -q "auto: closed host TCP port $P_TCP" "$DAEMON_LOG"
ktap_result "-t auto: an added forward takes the port over from auto" $? \
	"status $rc, $OUT" "$(cat "$SANDBOX_TMP/auto.conns")"
pesto_q -D "-t $P_TCP"
rc=$?
slowwait 5 listening "$P_TCP"
in_remote timeout 20 "$TCP_STREAM" -t 15 conns "$HOST_ADDR4" "$P_TCP" 2 \
	64K >"$SANDBOX_TMP/auto2.conns" 2>&1
ktap_result "-t auto: deleted, auto forwards the port again" $((rc + $?)) \
	"$OUT" "$(cat "$SANDBOX_TMP/auto2.conns")"
stop_pid "$auto_pid"
stop_daemon
slowwait 3 test ! -e "$CTL"

# --- VM mode: the same socket ---
VM_SOCK=$SANDBOX_TMP/vm.sock
"$PASSTD" --vm -f -s "$VM_SOCK" -c "$CTL" -t 9400-9401:9500-9501 \
	</dev/null >"$SANDBOX_TMP/vm.log" 2>&1 &
vm_pid=$!
track_pid "$vm_pid"
slowwait 5 test -S "$CTL"
pesto_q -A "-t 9300" -s
rc=$?
[ $rc -eq 0 ] && grep -q -- "^-t 9300	" <<<"$OUT" && listening 9300 &&
	[ "$(stat -c %a "$CTL")" = 600 ]
ktap_result "VM mode: add and show" $? "status $rc: $OUT" \
	"$(cat "$SANDBOX_TMP/vm.log")"
grep -qx -- "-t 9400-9401:9500-9501	(command line)" <<<"$OUT" &&
	! pesto_q -A "-t 9401" && ! pesto_q -D "-t 9400-9401:9500-9501" &&
	listening 9400
ktap_result "command line forwards: listed, their ports refused, kept" $? \
	"$(table)"
stop_pid "$vm_pid"
slowwait 3 test ! -e "$CTL"
ktap_result "VM mode: socket removed at exit" $? "$(ls -l "$CTL" 2>&1)"

# --- Paths that are not ours: refused; a dead daemon's socket: reused ---
echo keep >"$SANDBOX_TMP/file"
SHELL=/bin/true timeout 10 "$PASSTD" --vm -f -s "$VM_SOCK" \
	-c "$SANDBOX_TMP/file" </dev/null >"$SANDBOX_TMP/file.log" 2>&1
rc=$?
[ $rc -eq 1 ] && [ "$(cat "$SANDBOX_TMP/file")" = keep ] &&
	grep -q "not a socket" "$SANDBOX_TMP/file.log"
ktap_result "-c on a regular file: refused, file left alone" $? \
	"status $rc" "$(cat "$SANDBOX_TMP/file.log")"
SHELL=/bin/true timeout 10 "$PASSTD" --vm -f -s "$VM_SOCK" -c "" \
	</dev/null >"$SANDBOX_TMP/empty.log" 2>&1
rc=$?
[ $rc -eq 1 ] && [ "$(grep -c '' "$SANDBOX_TMP/empty.log")" = 1 ]
ktap_result "-c with an empty path: one error line" $? \
	"status $rc" "$(cat "$SANDBOX_TMP/empty.log")"

"$PASSTD" --vm -f -s "$VM_SOCK" -c "$CTL" </dev/null \
	>"$SANDBOX_TMP/vm2.log" 2>&1 &
vm_pid=$!
track_pid "$vm_pid"
slowwait 5 test -S "$CTL"
kill -KILL "$vm_pid"
wait "$vm_pid" 2>/dev/null
"$PASSTD" --vm -f -s "$VM_SOCK" -c "$CTL" </dev/null \
	>"$SANDBOX_TMP/vm3.log" 2>&1 &
vm_pid=$!
track_pid "$vm_pid"
slowwait 5 grep -q "forwarding control" "$SANDBOX_TMP/vm3.log"
pesto_q -s
ktap_result "a killed daemon's socket is taken over by the next one" $? \
	"$OUT" "$(cat "$SANDBOX_TMP/vm3.log")"
stop_pid "$vm_pid"

stop_pid "$echo_pid"
ktap_finish
