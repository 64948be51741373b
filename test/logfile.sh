#!/bin/bash
#
# test/logfile.sh - the log file (-l): emptied when opened, a header line
# naming the program, its version and the daemon's PID (also once forked
# into the background), every line timestamped with non-decreasing
# seconds, and bounded by --log-size, on a tmpfs too: the oldest lines
# after the header are dropped, the rest kept whole and in order.
#
# Bound: with --trace, every spliced connection the namespace refuses
# logs its lines ("tcp splice: ..."), the same on standard error (which
# keeps them all) and in the file, the last one when the flow is closed.
# After 600 of them (some 100 KiB) through an 8 KiB file, the file's lines
# of that kind must be exactly the last ones of standard error's, fewer
# than all: nothing reordered, lost in the middle or cut, only the oldest
# dropped. The file's size is looked at every 50 connections.

# shellcheck disable=SC2317 # helpers are called through ktap_check, slowwait
# shellcheck source=test/lib/sandbox.sh
. "$(dirname "$0")/lib/sandbox.sh"

PORT=10100
CONNS=600
SIZE=8192
SPLICE_LINE='tcp splice: '
CLOSED_LINE='tcp splice: flow [0-9]* closed'

require_tools timeout awk mount stat seq diff
require_passtd
setup_sandbox

VERSION=$("$PASSTD" --version | awk '{ print $2; exit }')

# bad_size() - Report whether a --log-size is refused with one error line
# $1:	Value
bad_size() {
	local size=$1; shift
	local err=$SANDBOX_TMP/err rc lines

	SHELL=/bin/true timeout 10 "$PASSTD" -f -l "$SANDBOX_TMP/bad.log" \
		--log-size "$size" -- true </dev/null >/dev/null 2>"$err"
	rc=$?
	lines=$(grep -c '' "$err")
	[ "$rc" -eq 1 ] && [ "$lines" -eq 1 ] &&
		grep -qF -- "invalid --log-size: $size (" "$err"
	ktap_result "--log-size '$size' refused: status 1, one line, why" \
		$? "status $rc, $lines lines on stderr:" "$(head -n 5 "$err")"
}

# stamped() - Succeed if every line starts with a timestamp and the
# timestamps never decrease
# $1:	File
stamped() {
	local file=$1; shift

	awk '!/^[0-9]+\.[0-9][0-9][0-9][0-9][0-9][0-9]: / {
		print "line " NR " has no timestamp: " $0; bad = 1; exit
	}
	{
		t = $1 + 0
		if (NR > 1 && t < last) {
			print "line " NR " goes back in time: " $0; bad = 1
			exit
		}
		last = t
	}
	END { exit bad }' "$file"
}

# header_pid() - Print the PID the header of a log file names
# $1:	File
header_pid() {
	local file=$1; shift

	head -n 1 "$file" |
		sed -n "s/^[0-9.]*: passtd $VERSION, PID \([0-9]*\) *$/\1/p"
}

# splice_lines() - Print the refused-connection lines of a log
# $1:	File
splice_lines() {
	local file=$1; shift

	grep "^[0-9.]*: $SPLICE_LINE" "$file"
}

# bound_not_run() - Report the results of the bound as not run
# $1:	ktap_skip or ktap_fail
# $2:	Why
bound_not_run() {
	local report=$1; shift
	local why=$1; shift
	local name

	for name in "file never over --log-size $SIZE" \
		    "header first, after rotations" \
		    "oldest dropped, the rest in order" \
		    "after rotations: every line timestamped, non-decreasing" \
		    "a file of --log-size $SIZE"; do
		"$report" "$name" "$why"
	done
}

ktap_plan 12

bad_size 4095
bad_size 8k
bad_size ""
bad_size -1

# --- opened: emptied, header, timestamps ----------------------------------
log=$SANDBOX_TMP/first.log
seq -f 'stale line %g' 200 >"$log"	# longer than what is logged here
if start_daemon -l "$log" --log-size 4096 -t none -u none -T none -U none
then
	slowwait 5 grep -q 'ready in the namespace' "$log"
	! grep -q stale "$log" && [ "$(header_pid "$log")" = "$DAEMON_PID" ]
	ktap_result "emptied when opened; header: passtd, version, PID" \
		$? "PID $DAEMON_PID, file:" "$(head -n 5 "$log")"
	stop_daemon
	ktap_check "every line timestamped, in non-decreasing order" \
		stamped "$log"
else
	ktap_fail "emptied when opened; header: passtd, version, PID" \
		"daemon did not start"
	ktap_fail "every line timestamped, in non-decreasing order"
fi

# --- in the background: the header names the daemon, not its parent ------
log=$SANDBOX_TMP/bg.log
pidfile=$SANDBOX_TMP/bg.pid
new_holder user || ktap_skip_all "cannot create a guest namespace"
"$PASSTD" -l "$log" -P "$pidfile" -t none -u none -T none -U none \
	"$HOLDER_PID" </dev/null >"$SANDBOX_TMP/bg.out" 2>&1
rc=$?
bgpid=$(cat "$pidfile" 2>/dev/null)
[ -n "$bgpid" ] && track_pid "$bgpid"
[ "$rc" -eq 0 ] && [ -n "$bgpid" ] && pid_alive "$bgpid" &&
	[ "$(header_pid "$log")" = "$bgpid" ]
ktap_result "forked into the background: the header names the daemon's PID" \
	$? "status $rc, PID file: '$bgpid', header: $(head -n 1 "$log")" \
	"$(head -n 5 "$SANDBOX_TMP/bg.out")"
[ -n "$bgpid" ] && stop_pid "$bgpid"

# --- bounded, on a tmpfs --------------------------------------------------
mkdir -p "$SANDBOX_TMP/tmpfs"
if ! mount -t tmpfs -o size=1M tmpfs "$SANDBOX_TMP/tmpfs"; then
	bound_not_run ktap_skip "cannot mount a tmpfs"
	ktap_finish
fi
log=$SANDBOX_TMP/tmpfs/bound.log
max=0
if start_daemon --trace -l "$log" --log-size "$SIZE" -t "$PORT" -u none \
		-T none -U none; then
	for ((i = 1; i <= CONNS; i++)); do
		(exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null
		if ((i % 50 == 0)); then
			s=$(stat -c %s "$log")
			[ "$s" -gt "$max" ] && max=$s
		fi
	done
	slowwait 10 sh -c "[ \$(grep -c '$CLOSED_LINE' '$DAEMON_LOG') \
		-ge $CONNS ]"
	stop_daemon
	s=$(stat -c %s "$log")
	[ "$s" -gt "$max" ] && max=$s
	[ "$max" -le "$SIZE" ]
	ktap_result "file never over --log-size $SIZE (largest seen: $max)" \
		$? "sizes seen up to $max"

	[ "$(header_pid "$log")" = "$DAEMON_PID" ]
	ktap_result "header first, after rotations" $? "$(head -n 3 "$log")"

	: >"$SANDBOX_TMP/diff"
	all=$(splice_lines "$DAEMON_LOG" | grep -c '')
	kept=$(splice_lines "$log" | grep -c '')
	[ "$all" -ge "$CONNS" ] && [ "$kept" -gt 0 ] &&
		[ "$kept" -lt "$all" ] &&
		diff <(splice_lines "$log") \
			<(splice_lines "$DAEMON_LOG" | tail -n "$kept") \
			>"$SANDBOX_TMP/diff"
	ktap_result "oldest dropped ($kept of $all kept), the rest in order" \
		$? "$(head -n 10 "$SANDBOX_TMP/diff")"

	ktap_check "after rotations: every line timestamped, non-decreasing" \
		stamped "$log"

	[ "$s" -gt $((SIZE * 3 / 4 - 200)) ]
	ktap_result "a file of --log-size $SIZE: $s bytes at the end" $? \
		"only $s bytes: dropped more than a rotation should"
else
	bound_not_run ktap_fail "daemon did not start"
fi

ktap_finish
