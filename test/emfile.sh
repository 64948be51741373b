#!/bin/bash
#
# test/emfile.sh - out of descriptors: a listener with connections pending
# that the daemon cannot accept (EMFILE) must not make it spin, and it
# serves again once descriptors are free
#
# The daemon's soft RLIMIT_NOFILE is lowered while it runs (prlimit --pid)
# to leave it a few free descriptor numbers (none in VM mode):
# - namespace mode, -t: 40 clients in the remote namespace connect at once
#   to a forwarded port whose guest echo server answers; those the daemon
#   accepts are echoed, the others must see their connection closed
#   rather than wait in the listen queue, the daemon must then make only
#   a handful of accept4() calls in 2 s (counted with strace; a daemon
#   that retries a failed accept4() on every wake-up of a level-triggered
#   listener makes thousands), say so once in its log and count it (drop
#   counter, printed with -d at exit); once the clients are gone a new
#   client is echoed again;
# - VM mode: the same for the UNIX listening socket QEMU connects to, with
#   no descriptor to spare: the client is closed, no spin, one log line;
#   with the limit raised again the next client is taken as the guest.
# Without strace (or if it cannot attach) the daemon's CPU time over the
# 2 s stands in: a spin uses most of them, a quiet daemon none.

# shellcheck disable=SC2317 # helpers are called indirectly
# shellcheck source=test/lib/sandbox.sh
. "$(dirname "$0")/lib/sandbox.sh"

TCP_STREAM=${TCP_STREAM:-$TEST_DIR/tools/tcp_stream}
CONN_HOLD=$TEST_DIR/tools/conn_hold.py

require_tools ip nsenter unshare timeout prlimit python3
require_passtd
[ -x "$TCP_STREAM" ] || ktap_skip_all "no $TCP_STREAM (make $TCP_STREAM)"
setup_sandbox

FWD=10080		# -t FWD:ECHO
ECHO=5000		# guest echo server
CLIENTS=40
SPARE=8			# descriptor numbers left free to the daemon
MAX_ACCEPTS=100		# in 2 s: a spin makes thousands
LOG_LINE='out of descriptors'

# free_limit() - Print the descriptor limit that leaves a process a given
# number of free descriptor numbers (it may hold some above the limit:
# they stay usable, new ones are taken below it, lowest first)
# $1:	PID
# $2:	Free numbers wanted below the limit
free_limit() {
	local pid=$1; shift
	local spare=$1; shift

	find "/proc/$pid/fd" -mindepth 1 -maxdepth 1 -printf '%f\n' |
		sort -n | awk -v spare="$spare" '
		{ used[$1] = 1 }
		END {
			for (n = 0; free < spare || used[n]; n++)
				if (!used[n])
					free++
			print n
		}'
}

# accepts_in_2s() - Print how many accept4() calls a process makes in 2 s,
# or "cpu N" (clock ticks it used in 2 s) if strace cannot trace it
# $1:	PID
accepts_in_2s() {
	local pid=$1; shift
	local out=$SANDBOX_TMP/strace.$RANDOM t0 t1

	if command -v strace >/dev/null; then
		timeout -s INT 2 strace -f -qq -e trace=accept4 -o "$out" \
			-p "$pid" 2>"$out.err"
		if [ -f "$out" ] && ! grep -q 'Operation not permitted' \
			"$out.err"; then
			grep -c 'accept4(' "$out"
			return
		fi
	fi
	t0=$(awk '{ print $14 + $15 }' "/proc/$pid/stat")
	sleep 2
	t1=$(awk '{ print $14 + $15 }' "/proc/$pid/stat")
	echo "cpu $((t1 - t0))"
}

# quiet_check() - Report that a process does not spin on accept4()
# $1:	Result name
# $2:	PID
quiet_check() {
	local name=$1; shift
	local pid=$1; shift
	local n

	n=$(accepts_in_2s "$pid")
	case "$n" in
	cpu*)	[ "${n#cpu }" -lt 50 ] ;;
	*)	[ "$n" -lt "$MAX_ACCEPTS" ] ;;
	esac
	ktap_result "$name" $? "in 2 s: $n accept4() calls (or CPU ticks)"
	ktap_diag "$name: $n in 2 s"
}

# log_once_check() - The daemon's log names the condition exactly once
# $1:	Result name
log_once_check() {
	local name=$1; shift
	local n

	n=$(grep -c "$LOG_LINE" "$DAEMON_LOG")
	[ "$n" -eq 1 ]
	ktap_result "$name" $? "$n lines with '$LOG_LINE'" \
		"$(grep -i 'accept\|descriptor' "$DAEMON_LOG" | head -n 5)"
}

# hold_start() - Start conn_hold in a namespace, wait for its summary
# $1:	Namespace (PID or host)
# $@:	conn_hold arguments
#
# Sets HOLD_PID, HOLD_OUT. Return: 0 once it printed its summary
hold_start() {
	local ns=$1; shift

	HOLD_OUT=$SANDBOX_TMP/hold.$RANDOM
	: >"$HOLD_OUT"
	bg_in "$ns" "$HOLD_OUT" timeout 120 python3 "$CONN_HOLD" "$@"
	HOLD_PID=$BG_PID
	slowwait 20 grep -q '^echoed=' "$HOLD_OUT"
}

# echo_ok() - Succeed if a new client from the remote is echoed
echo_ok() {
	hold_start "$REMOTE_PID" "$HOST_ADDR4" "$FWD" 1 2 0 &&
		grep -q '^echoed=1 ' "$HOLD_OUT"
}

# fd_count() - Print how many descriptors a process holds
# $1:	PID
fd_count() {
	local pid=$1; shift

	find "/proc/$pid/fd" -mindepth 1 -maxdepth 1 | grep -c ''
}

# fds_at_most() - Succeed if a process holds at most N descriptors
# $1:	PID
# $2:	N
fds_at_most() {
	local pid=$1; shift
	local n=$1; shift

	[ "$(fd_count "$pid")" -le "$n" ]
}

ktap_plan 11

# --- namespace mode, -t --------------------------------------------------
start_daemon --config-net -d -t "$FWD:$ECHO" -u none -T none -U none ||
	ktap_diag "daemon did not start"
bg_in "$GUEST_PID" "$SANDBOX_TMP/echo.out" "$TCP_STREAM" -t 120 echo "$ECHO"
busywait 5000 server_ready "$SANDBOX_TMP/echo.out" "$BG_PID"
slowwait 10 echo_ok
ktap_result "-t $FWD: a client is echoed by the guest" $? "$(cat "$HOLD_OUT")"

fds=$(fd_count "$DAEMON_PID")
limit=$(free_limit "$DAEMON_PID" "$SPARE")
prlimit --pid "$DAEMON_PID" --nofile="$limit:"
ktap_diag "daemon holds $fds descriptors, soft limit now $limit"

hold_start "$REMOTE_PID" "$HOST_ADDR4" "$FWD" "$CLIENTS" 5 100
summary=$(cat "$HOLD_OUT")
ktap_diag "$CLIENTS clients: $summary"
grep -qE '^echoed=[1-9][0-9]* closed=[1-9][0-9]* silent=0 ' <<<"$summary"
ktap_result \
	"$CLIENTS clients: some echoed, the others closed, none left waiting" \
	$? "$summary"
quiet_check "no accept4() spin with $CLIENTS clients over the limit" \
	"$DAEMON_PID"
log_once_check "one log line for the condition"

stop_pid "$HOLD_PID"
slowwait 15 fds_at_most "$DAEMON_PID" "$((fds + 1))"
slowwait 10 echo_ok
ktap_result "descriptors free again: a new client is echoed" $? \
	"$(cat "$HOLD_OUT")" "daemon holds $(fd_count "$DAEMON_PID")"

stop_daemon
grep -qE "dropped: .*descriptor.*: [1-9]" "$DAEMON_LOG"
ktap_result "the refused connections are counted" $? \
	"$(grep 'dropped:' "$DAEMON_LOG")"
stop_pid "$GUEST_PID"

# --- VM mode, the UNIX listening socket ------------------------------------
sock=$SANDBOX_TMP/vm.socket
DAEMON_COUNT=$((DAEMON_COUNT + 1))
DAEMON_LOG=$SANDBOX_TMP/daemon.$DAEMON_COUNT.log
"$PASSTD" --vm -f -d -s "$sock" </dev/null >"$DAEMON_LOG" 2>&1 &
DAEMON_PID=$!
track_pid "$DAEMON_PID"
slowwait 5 grep -q 'listening on UNIX socket' "$DAEMON_LOG"
ktap_result "VM mode: daemon listens on $sock" $? "$(tail -n 5 "$DAEMON_LOG")"

soft=$(prlimit --pid "$DAEMON_PID" --nofile -o SOFT --noheadings)
prlimit --pid "$DAEMON_PID" --nofile="$(free_limit "$DAEMON_PID" 0):"
hold_start host -unix "$sock" 1 3 100
summary=$(cat "$HOLD_OUT")
grep -qE '^echoed=0 closed=1 ' <<<"$summary"
ktap_result "VM mode, no descriptor left: the client is closed" $? "$summary"
quiet_check "VM mode: no accept4() spin" "$DAEMON_PID"
log_once_check "VM mode: one log line for the condition"
stop_pid "$HOLD_PID"

prlimit --pid "$DAEMON_PID" --nofile="$soft:"
hold_start host -unix "$sock" 1 1 2
slowwait 5 grep -q 'guest connected' "$DAEMON_LOG"
ktap_result "VM mode, limit raised: the next client is the guest" $? \
	"$(tail -n 5 "$DAEMON_LOG")"
stop_pid "$HOLD_PID"
stop_daemon

ktap_finish
