#!/bin/bash
#
# test/perf/profile.sh - make profile: where the daemon's time goes
#
# Usage: bash test/perf/profile.sh [CELL...]	(as root of the host)
#	CELL: DIR:MTU or DIR:MTU:OPTION[,OPTION...], DIR in, out or rr;
#	default "out:65520 in:65520 in:1500 out:1500 rr:65520"
#	PROFILE_TIME=18		seconds of each iperf3 or sockperf run
#	PROFILE_DIR=build/profile	perf.data files and the summary
#
# Theory of operation
# One cell is one transfer through the daemon in the sandbox of the
# functional tests (test/lib/sandbox.sh), started as a child of this
# script with --cell: "in" is iperf3 from the remote namespace to a
# server in the guest, "out" the other way, "rr" a sockperf TCP
# ping-pong, remote to guest. The kernel symbols and the other processes
# (iperf3 ends, softirq work) are only visible from the host's initial
# namespaces, so the measurement runs out here, over two windows that
# start a second after the transfer and end two seconds before it does:
#  - perf record -a -g (cpu-clock, 999 Hz): every CPU, every process;
#    profile_split.py gives the share of each command, the daemon's time
#    by system call and its top symbols, kernel and user space together;
#  - perf record -p on the daemon's system call exits (tracepoints): how
#    many of each, how many failed (EAGAIN, mostly), bytes per call;
#  - the daemon's CPU (utime + stime, /proc/PID/stat);
#  - the bytes the veth of the daemon's host side carried in the window
#    (/proc/PID/net/dev of the daemon, host0), so that system calls and
#    CPU come out per GB, or per transaction for "rr".
# The daemon is told from other passtd processes on the machine by its
# network namespace, which the child writes down.
#
# Nothing here passes or fails; doc/performance.md quotes the summaries.

set -u

HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(dirname "$(dirname "$HERE")")
PROFILE_TIME=${PROFILE_TIME:-18}
PROFILE_DIR=${PROFILE_DIR:-$REPO/build/profile}
PORT=10001
R_PORT=5201

# The syscalls counted on the daemon (those of its data paths)
SYSCALLS="read readv write writev recvfrom recvmsg recvmmsg sendto sendmsg
	sendmmsg splice epoll_wait epoll_pwait timerfd_settime getsockopt
	setsockopt ioctl"

# serve_then_run() - Start a TCP server in a namespace, tell the caller
# when it listens, run the client in another and end the server
# $1:	PID holding the server's namespace
# $2:	Port it listens on
# $3:	Work directory ("start" is written to its state file)
# $@:	Server command, "--", PID holding the client's namespace, client
#	command (its output goes to client.out)
serve_then_run() {
	local sns=$1 port=$2 work=$3 spid cns
	local -a srv=()

	shift 3
	while [ "$1" != -- ]; do srv+=("$1"); shift; done
	shift
	cns=$1; shift
	in_ns "$sns" "${srv[@]}" >/dev/null 2>&1 &
	spid=$!
	busywait 3000 sh -c "nsenter --net=/proc/$sns/ns/net ss -Hlnt |
		grep -q :$port"
	echo start >"$work/state"
	in_ns "$cns" "$@" >"$work/client.out" 2>&1
	stop_pid "$spid"
}

# cell_main() - Inside the sandbox: start the daemon and the transfer
# $1:	Direction: in, out or rr
# $2:	MTU
# $3:	Seconds
# $4:	Work directory (shared with the caller)
# $5:	Daemon options, comma-separated, or empty
cell_main() {
	local dir=$1 mtu=$2 secs=$3 work=$4 opts=$5
	local -a extra=()

	setup_sandbox
	[ -n "$opts" ] && IFS=, read -r -a extra <<<"$opts"
	ip link set "$HOST_IF" mtu "$mtu"
	in_remote ip link set "$REMOTE_IF" mtu "$mtu"
	start_daemon --config-net -m "$mtu" -t "$PORT" -T none -u none \
		-U none "${extra[@]}" || exit 1
	slowwait 10 sh -c "nsenter --net=/proc/$GUEST_PID/ns/net \
		ip -4 route show default | grep -q via" || exit 1
	readlink /proc/self/ns/net >"$work/netns"

	case $dir in
	in)
		serve_then_run "$GUEST_PID" "$PORT" "$work" \
			iperf3 -s -1 -p "$PORT" -B "$HOST_ADDR4" -- \
			"$REMOTE_PID" iperf3 -c "$HOST_ADDR4" -p "$PORT" \
			-t "$secs" -l 64K
		;;
	out)
		serve_then_run "$REMOTE_PID" "$R_PORT" "$work" \
			iperf3 -s -1 -p "$R_PORT" -B "$REMOTE_LO4" -- \
			"$GUEST_PID" iperf3 -c "$REMOTE_LO4" -p "$R_PORT" \
			-t "$secs" -l 64K
		;;
	rr)
		serve_then_run "$GUEST_PID" "$PORT" "$work" \
			sockperf server -i "$HOST_ADDR4" -p "$PORT" --tcp -- \
			"$REMOTE_PID" sockperf ping-pong -i "$HOST_ADDR4" \
			-p "$PORT" --tcp -t "$secs" --full-rtt \
			--client_ip "$REMOTE_LO4"
		;;
	esac
	stop_daemon
	echo finished >"$work/state"
}

# daemon_pid() - Print the host PID of the passtd in a network namespace
# $1:	Namespace, as readlink /proc/PID/ns/net prints it
daemon_pid() {
	local p

	for p in $(pgrep -x passtd); do
		[ "$(readlink "/proc/$p/ns/net" 2>/dev/null)" = "$1" ] &&
			{ echo "$p"; return 0; }
	done
	return 1
}

# proc_ticks() - Print a process's utime + stime in clock ticks
# $1:	PID
proc_ticks() {
	sed 's/^.*) //' "/proc/$1/stat" | awk '{ print $12 + $13 }'
}

# veth_bytes() - Print host0's received plus sent bytes in a namespace
# $1:	PID of a process in it
veth_bytes() {
	awk -F'[: ]+' '$2 == "host0" { printf "%.0f\n", $3 + $11 }' "/proc/$1/net/dev"
}

# wait_state() - Wait for the child to write a state, at most 30 s
# $1:	Work directory
# $2:	State
wait_state() {
	for _ in $(seq 300); do
		[ "$(cat "$1/state" 2>/dev/null)" = "$2" ] && return 0
		sleep 0.1
	done
	return 1
}

# per_unit() - Print the units (GB or transactions) a window moved
# $1:	Work directory
# $2:	Direction
# $3:	Bytes on the veth in the window
# $4:	Window, seconds
per_unit() {
	local tx

	if [ "$2" = rr ]; then
		tx=$(sed -n 's/.*\[Valid Duration\].*ReceivedMessages=\([0-9]*\).*/\1/p' \
			"$1/client.out")
		awk -v t="${tx:-0}" -v s="$PROFILE_TIME" -v w="$4" \
			'BEGIN { print (t > 0) ? t * w / s : 0 }'
	else
		awk -v b="$3" 'BEGIN { print (b > 0) ? b / 1e9 : 0 }'
	fi
}

# summarise() - Print one cell's summary
# $1:	Work directory
# $2:	Cell name
# $3:	Bytes on the veth in the profile's window
# $4:	Daemon CPU seconds in that window
# $5:	Window, seconds
summarise() {
	local work=$1 cell=$2 bytes=$3 cpu=$4 win=$5 per per_stat unit=GB

	[ "${cell%%:*}" = rr ] && unit=transaction
	per=$(per_unit "$work" "${cell%%:*}" "$bytes" "$win")
	per_stat=$(per_unit "$work" "${cell%%:*}" "$(awk 'NR == 1 { a = $1 }
		NR == 2 { printf "%.0f", $1 - a }' "$work/stat.bytes")" "$win")
	echo "## $cell"
	echo
	grep -E "bits/sec.*receiver|percentile (50|99).000" "$work/client.out" |
		sed 's/^/    /'
	awk -v b="$bytes" -v w="$win" -v c="$cpu" -v p="$per" -v u="$unit" \
		'BEGIN { printf "    profile window %d s: %.3f GB on host0 " \
		"(%.2f Gbit/s), daemon CPU %.2f s = %.3g s per %s\n",
		w, b / 1e9, b * 8 / w / 1e9, c, (p > 0) ? c / p : 0, u }'
	echo
	echo "System calls of the daemon per $unit (second window):"
	echo
	if [ "$per_stat" = 0 ]; then
		echo "    (no figure: the transfer ended inside the window;" \
			"a longer PROFILE_TIME)"
	else
		perf script -i "$work/calls.data" -F event,trace 2>/dev/null |
			python3 "$HERE/profile_split.py" --calls "$per_stat"
	fi
	echo
	perf script -i "$work/perf.data" -F comm,ip,sym,dso 2>/dev/null |
		python3 "$HERE/profile_split.py" passtd
	echo
}

# profile_cell() - Run and measure one cell
# $1:	Cell, DIR:MTU[:OPTIONS]
#
# Two windows one after the other: the profile, then the system call
# count (its tracepoints cost the daemon about a tenth of its time, which
# the profile must not see). CPU and bytes are taken over the profile's.
profile_cell() {
	local cell=$1 dir mtu opts work cpid dpid t0 t1 b0 b1 win ev s

	IFS=: read -r dir mtu opts <<<"$cell"
	work=$PROFILE_DIR/$(echo "$cell" | tr ':,' '__')
	rm -rf "$work"
	mkdir -p "$work"
	# a second before, perf's start and end (about a second each
	# here), and a second of margin at the end
	win=$(((PROFILE_TIME - 6) / 2))
	[ "$win" -ge 2 ] || { echo "PROFILE_TIME too short" >&2; return 1; }

	bash "$0" --cell "$dir" "$mtu" "$PROFILE_TIME" "$work" "${opts:-}" \
		>"$work/cell.log" 2>&1 &
	cpid=$!
	if ! wait_state "$work" start || ! dpid=$(daemon_pid \
			"$(cat "$work/netns")"); then
		echo "$cell: the transfer did not start" >&2
		tail -n 5 "$work/cell.log" >&2
		kill "$cpid" 2>/dev/null
		wait "$cpid"
		return 1
	fi
	sleep 1
	t0=$(proc_ticks "$dpid")
	b0=$(veth_bytes "$dpid")
	perf record -a -g -F 999 -e cpu-clock -o "$work/perf.data" \
		-- sleep "$win" >/dev/null 2>&1
	t1=$(proc_ticks "$dpid")
	b1=$(veth_bytes "$dpid")
	ev=
	for s in $SYSCALLS; do ev="$ev${ev:+,}syscalls:sys_exit_$s"; done
	veth_bytes "$dpid" >"$work/stat.bytes"
	perf record -e "$ev" -p "$dpid" -o "$work/calls.data" \
		-- sleep "$win" >/dev/null 2>&1
	veth_bytes "$dpid" >>"$work/stat.bytes"
	wait "$cpid"
	summarise "$work" "$cell" $((b1 - b0)) "$(awk -v t=$((t1 - t0)) \
		-v hz="$(getconf CLK_TCK)" 'BEGIN { print t / hz }')" "$win"
}

if [ "${1:-}" = --cell ]; then
	# Sourced here, not in cell_main: setup_sandbox re-executes this
	# script with the arguments it had when sandbox.sh was read
	# shellcheck source=test/lib/sandbox.sh
	. "$HERE/../lib/sandbox.sh"
	shift
	cell_main "$@"
	exit 0
fi

[ "$(id -u)" = 0 ] || { echo "profile.sh: run as root" >&2; exit 1; }
for t in perf iperf3 sockperf; do
	command -v $t >/dev/null || {
		echo "profile.sh: $t missing (make profile installs it)" >&2
		exit 1; }
done
[ $# -gt 0 ] || set -- out:65520 in:65520 in:1500 out:1500 rr:65520
mkdir -p "$PROFILE_DIR"
{
echo "# passtd profile, $(date -u '+%Y-%m-%d %H:%M UTC'), passtd" \
	"$(git -C "$REPO" describe --always --dirty 2>/dev/null)," \
	"load $(cut -d' ' -f1-3 /proc/loadavg)"
echo
for c in "$@"; do
	profile_cell "$c"
done
} | tee "$PROFILE_DIR/summary.md"
