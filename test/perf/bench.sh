#!/bin/bash
#
# test/perf/bench.sh - TCP throughput and daemon CPU cost, then UDP packet
# rates, as two Markdown tables: the kernel's veth path (the ceiling),
# passtd, passtd --no-peek-offset (TCP) or --no-mmsg (UDP) and pasta (when
# installed), both directions
#
# Usage: bash test/perf/bench.sh	(make bench)
#	BENCH_TIME=2 bash test/perf/bench.sh	quick trial, seconds per cell
#	PASTA=/path/to/pasta			another pasta build
#	BENCH_ONLY=tcp or BENCH_ONLY=udp	one of the two tables
#
# Every cell is one iperf3 TCP run of BENCH_TIME seconds (default 10) with
# 64 KiB writes, in namespaces this script creates (test/lib/sandbox.sh):
#   remote->ns  iperf3 client in the remote namespace, server in the guest
#		namespace behind the daemon's -t port (192.0.2.1:PORT)
#   ns->remote  iperf3 client in the guest namespace, server in the remote
#		namespace (198.51.100.1)
# The veth row runs the same between the sandbox namespace itself (the
# daemon's host side) and the remote namespace: no daemon, the ceiling.
# Every daemon is started the same way: --config-net -m 65520 -t PORT
# -T none -u none -U none, plus the row's options. The daemon's CPU time
# (utime + stime from /proc/PID/stat) is taken before and after each run
# and divided by the bytes iperf3 moved.
#
# UDP: every cell is one iperf3 UDP run of BENCH_TIME seconds, unlimited
# rate (-b 0), 64-byte or 1400-byte datagrams (-l), same namespaces and
# directions; the daemons are started with -t PORT -u PORT (iperf3's
# control connection and its datagrams). A cell is the datagrams the
# iperf3 server received per second, (packets - lost_packets) / seconds of
# the receiver's sum in the client's JSON, and that sum's lost_percent.
# Nothing here is a pass or fail: the numbers are printed, never asserted.

# shellcheck source=test/lib/sandbox.sh
. "$(dirname "$0")/../lib/sandbox.sh"

BENCH_TIME=${BENCH_TIME:-10}
BENCH_ONLY=${BENCH_ONLY:-}
PASTA=${PASTA:-/usr/bin/pasta}
PORT=10001
R_PORT=5201
CLK_TCK=$(getconf CLK_TCK)

require_tools iperf3 python3 ip nsenter unshare timeout getconf
setup_sandbox

COMMANDS=()
ROWS=()
CELL=
CEIL_IN=
CEIL_OUT=

# guest_routes() - Succeed once the guest has both default routes
guest_routes() {
	in_guest ip -4 route show default | grep -q via &&
		in_guest ip -6 route show default | grep -q via
}

# cpu_ticks() - Print a process's user plus system time, in clock ticks
# $1:	PID
cpu_ticks() {
	local pid=$1; shift

	# Fields after the command name, which may hold spaces: utime and
	# stime are fields 14 and 15 of the line, 12 and 13 after ") "
	sed 's/^.*) //' "/proc/$pid/stat" 2>/dev/null |
		awk '{ print $12 + $13 }'
}

# iperf_json() - Print "BITS_PER_SECOND BYTES" from iperf3 JSON output
# $1:	File
iperf_json() {
	local file=$1; shift

	python3 - "$file" <<'EOF'
import json, sys
try:
    s = json.load(open(sys.argv[1]))["end"]["sum_received"]
    print(int(s["bits_per_second"]), int(s["bytes"]))
except Exception:
    print("0 0")
EOF
}

# listening() - Succeed once a TCP port listens in a namespace
# $1:	PID holding the namespace, or "host"
# $2:	Port
listening() {
	local ns=$1; shift
	local port=$1; shift

	if [ "$ns" = host ]; then
		ss -Hltn "sport = :$port" | grep -q LISTEN
	else
		in_ns "$ns" ss -Hltn "sport = :$port" | grep -q LISTEN
	fi
}

# ns_cmd() - Print the prefix that runs a command in a namespace
# $1:	PID holding the namespace, or "host"
ns_cmd() {
	local ns=$1; shift

	[ "$ns" = host ] || echo "nsenter --net=/proc/$ns/ns/net --"
}

# cell() - One iperf3 run: sets CELL to "GBIT CPU_S_PER_GB" (CPU "-"
# without a daemon, "fail" on failure)
# $1:	Server namespace (PID or host)
# $2:	Client namespace (PID or host)
# $3:	Address the client connects to
# $4:	Port
# $5:	Daemon PID, or empty
# $6:	Label for the command list
cell() {
	local sns=$1; shift
	local cns=$1; shift
	local addr=$1; shift
	local port=$1; shift
	local dpid=$1; shift
	local label=$1; shift
	local out=$SANDBOX_TMP/iperf.$RANDOM.json spid t0 t1 bps bytes
	local -a srv cli

	# shellcheck disable=SC2207 # words of a fixed prefix
	srv=($(ns_cmd "$sns") iperf3 -s -1 -p "$port")
	# shellcheck disable=SC2207
	cli=($(ns_cmd "$cns") timeout $((BENCH_TIME + 30)) iperf3 -c "$addr"
	     -p "$port" -t "$BENCH_TIME" -l 64K --connect-timeout 3000 -J)
	COMMANDS+=("# $label" "${srv[*]} &" "${cli[*]}")

	"${srv[@]}" </dev/null >/dev/null 2>&1 &
	spid=$!
	track_pid "$spid"
	if ! busywait 3000 listening "$sns" "$port"; then
		stop_pid "$spid"
		CELL="fail -"
		return
	fi

	[ -n "$dpid" ] && t0=$(cpu_ticks "$dpid")
	"${cli[@]}" </dev/null >"$out" 2>&1
	[ -n "$dpid" ] && t1=$(cpu_ticks "$dpid")
	slowwait 5 pid_gone "$spid" || stop_pid "$spid"
	wait "$spid" 2>/dev/null

	read -r bps bytes < <(iperf_json "$out")
	if [ "${bytes:-0}" -eq 0 ]; then
		CELL="fail -"
		echo "$label: iperf3 failed:" >&2
		tail -n 5 "$out" >&2
		return
	fi
	if [ -n "$dpid" ] && [ -n "$t0" ] && [ -n "$t1" ]; then
		CELL=$(awk -v b="$bps" -v n="$bytes" -v d="$((t1 - t0))" \
			   -v hz="$CLK_TCK" 'BEGIN {
			printf "%." (b < 1e8 ? 3 : 2) "f %.2f\n", b / 1e9,
			       d / hz / (n / 1e9) }')
	else
		CELL=$(awk -v b="$bps" 'BEGIN {
			printf "%." (b < 1e8 ? 3 : 2) "f -\n", b / 1e9 }')
	fi
}

# ratio() - Print a throughput's ratio to the ceiling
# $1:	Throughput
# $2:	Ceiling
ratio() {
	local v=$1; shift
	local ceil=$1; shift

	awk -v v="$v" -v c="$ceil" 'BEGIN {
		if (v + 0 > 0 && c + 0 > 0)
			printf "%." (v / c < 0.1 ? 3 : 2) "f\n", v / c
		else print "-" }'
}

# row() - Measure one row: both directions
# $1:	Row name
# $2:	Daemon binary, or "veth" for the kernel path
# $@:	Extra daemon options
row() {
	local name=$1; shift
	local bin=$1; shift
	local in out cin cout gns dpid

	if [ "$bin" = veth ]; then
		gns=host
		dpid=
	else
		PASSTD=$bin
		if ! start_daemon --config-net -m 65520 -t "$PORT" -T none \
			-u none -U none "$@" >"$SANDBOX_TMP/start.out" 2>&1 ||
		   ! slowwait 10 guest_routes; then
			ROWS+=("| $name | daemon did not start | | | | | |")
			cat "$SANDBOX_TMP/start.out" >&2
			stop_daemon
			return
		fi
		COMMANDS+=("# $name: $(head -n 1 "$DAEMON_LOG")")
		gns=$GUEST_PID
		dpid=$DAEMON_PID
	fi

	cell "$gns" "$REMOTE_PID" "$HOST_ADDR4" "$PORT" "$dpid" \
		"$name, remote->ns"
	read -r in cin <<<"$CELL"
	cell "$REMOTE_PID" "$gns" "$REMOTE_LO4" "$R_PORT" "$dpid" \
		"$name, ns->remote"
	read -r out cout <<<"$CELL"
	if [ "$bin" = veth ]; then
		CEIL_IN=$in
		CEIL_OUT=$out
	else
		stop_daemon
		stop_pid "$GUEST_PID"
	fi
	ROWS+=("| $name | $in | $(ratio "$in" "$CEIL_IN") | $cin | $out |
$(ratio "$out" "$CEIL_OUT") | $cout |")
}

# tcp_table() - Measure and print the TCP table
tcp_table() {
	local r passtd_bin pasta_version

	echo "# passtd TCP throughput"
	echo
	echo "Machine: $(nproc) CPUs ($(awk -F': ' '/model name/ { print $2;
		exit }' /proc/cpuinfo)), Linux $(uname -r), $(date -u +%Y-%m-%d)."
	echo "iperf3 $(iperf3 --version | awk 'NR == 1 { print $2 }'), TCP, one" \
	     "stream, 64 KiB writes, ${BENCH_TIME} s per cell, MTU 65520."
	if [ -x "$PASTA" ]; then
		pasta_version=$(dpkg-query -W -f='${Version}' passt 2>/dev/null)
		echo "pasta: $PASTA${pasta_version:+ (Debian passt $pasta_version)}."
	fi
	echo

	row "kernel veth (ceiling)" veth
	if [ -x "$PASSTD" ]; then
		passtd_bin=$PASSTD
		row "passtd" "$passtd_bin"
		if "$passtd_bin" --help 2>&1 | grep -q -- --no-peek-offset; then
			row "passtd --no-peek-offset" "$passtd_bin" --no-peek-offset
		fi
	else
		ROWS+=("| passtd | not built ($PASSTD) | | | | | |")
	fi
	if [ -x "$PASTA" ]; then
		row "pasta ($PASTA)" "$PASTA"
	fi

	echo "| path | remote->ns Gbit/s | ratio | CPU s/GB | ns->remote Gbit/s" \
	     "| ratio | CPU s/GB |"
	echo "|---|---:|---:|---:|---:|---:|---:|"
	for r in "${ROWS[@]}"; do
		echo "${r//$'\n'/ }"
	done
	echo
	echo "Ratio: to the kernel veth row, same direction. CPU s/GB: the" \
	     "daemon's user + system CPU seconds per 10^9 bytes moved."
	echo
	echo "Commands, run from the sandbox namespace (the daemon's host side)."
	echo "/proc/$REMOTE_PID/ns/net is the remote namespace; a daemon's last"
	echo "argument is the PID holding its guest namespace."
	echo
	echo '```'
	printf '%s\n' "${COMMANDS[@]}"
	echo '```'
}

# iperf_udp_json() - Print "PACKETS_PER_SECOND LOST_PERCENT" received, from
# the receiver's sum in iperf3 UDP JSON output
# $1:	File
iperf_udp_json() {
	local file=$1; shift

	python3 - "$file" <<'PYEOF'
import json, sys
try:
    s = json.load(open(sys.argv[1]))["end"]["sum_received"]
    got = s["packets"] - s["lost_packets"]
    if s["seconds"] <= 0 or got <= 0:
        raise ValueError
    print(got / s["seconds"], s["lost_percent"])
except Exception:
    print("0 -")
PYEOF
}

# udp_cell() - One iperf3 UDP run: sets CELL to "KPPS LOSS_PERCENT"
# ("fail -" on failure)
# $1:	Server namespace (PID or host)
# $2:	Client namespace (PID or host)
# $3:	Address the client sends to
# $4:	Port
# $5:	Datagram size
# $6:	Label for the command list
# $7:	Address the client sends from (optional)
#
# The server binds the address the client sends to: an iperf3 UDP server
# bound to any address would answer the client's first datagram from the
# address of its route back (192.0.2.2 in the remote), which the client's
# connected socket does not take. The remote sends from 198.51.100.1, not
# from 192.0.2.2: that is the gateway address the guest copied, which
# pasta maps to the host's loopback, so it would send the server's
# answers there.
udp_cell() {
	local sns=$1; shift
	local cns=$1; shift
	local addr=$1; shift
	local port=$1; shift
	local len=$1; shift
	local label=$1; shift
	local from=${1:-}
	local out=$SANDBOX_TMP/iperf.$RANDOM.json spid pps loss
	local -a srv cli

	# shellcheck disable=SC2207 # words of a fixed prefix
	srv=($(ns_cmd "$sns") iperf3 -s -1 -p "$port" -B "$addr")
	# shellcheck disable=SC2207
	cli=($(ns_cmd "$cns") timeout $((BENCH_TIME + 30)) iperf3 -c "$addr"
	     -p "$port" -u -b 0 -l "$len" -t "$BENCH_TIME"
	     --connect-timeout 3000 -J ${from:+-B "$from"})
	UDP_COMMANDS+=("# $label" "${srv[*]} &" "${cli[*]}")

	"${srv[@]}" </dev/null >/dev/null 2>&1 &
	spid=$!
	track_pid "$spid"
	if ! busywait 3000 listening "$sns" "$port"; then
		stop_pid "$spid"
		CELL="fail -"
		return
	fi
	"${cli[@]}" </dev/null >"$out" 2>&1
	slowwait 5 pid_gone "$spid" || stop_pid "$spid"
	wait "$spid" 2>/dev/null

	read -r pps loss < <(iperf_udp_json "$out")
	if [ "$loss" = - ]; then
		CELL="fail -"
		echo "$label: iperf3 failed:" >&2
		tail -n 5 "$out" >&2
		return
	fi
	CELL=$(awk -v p="$pps" -v l="$loss" 'BEGIN {
		printf "%.1f %." (l < 1 ? 2 : 1) "f\n", p / 1000, l }')
}

# udp_row() - Measure one UDP row: both directions, 64 and 1400 bytes
# $1:	Row name
# $2:	Daemon binary, or "veth" for the kernel path
# $@:	Extra daemon options
udp_row() {
	local name=$1; shift
	local bin=$1; shift
	local gns cells=() i len pps loss dir r
	local -a ceil

	if [ "$bin" = veth ]; then
		gns=host
	else
		PASSTD=$bin
		if ! start_daemon --config-net -m 65520 -t "$PORT" -u "$PORT" \
			-T none -U none "$@" >"$SANDBOX_TMP/start.out" 2>&1 ||
		   ! slowwait 10 guest_routes; then
			UDP_ROWS+=("| $name | daemon did not start |$(
				printf ' |%.0s' $(seq 1 11))")
			cat "$SANDBOX_TMP/start.out" >&2
			stop_daemon
			return
		fi
		UDP_COMMANDS+=("# $name: $(head -n 1 "$DAEMON_LOG")")
		gns=$GUEST_PID
	fi

	read -r -a ceil <<<"$UDP_CEIL"
	i=0
	for dir in in out; do
		for len in 64 1400; do
			if [ $dir = in ]; then
				udp_cell "$gns" "$REMOTE_PID" "$HOST_ADDR4" \
					"$PORT" "$len" \
					"$name, remote->ns, $len B" \
					"$REMOTE_LO4"
			else
				udp_cell "$REMOTE_PID" "$gns" "$REMOTE_LO4" \
					"$R_PORT" "$len" \
					"$name, ns->remote, $len B"
			fi
			read -r pps loss <<<"$CELL"
			if [ "$bin" = veth ]; then
				UDP_CEIL+="$pps "
				ceil[i]=$pps
			fi
			[ $i = 0 ] && UDP_IN64[$name]=$pps
			cells+=("$pps" "$(ratio "$pps" "${ceil[i]:-}")" "$loss")
			i=$((i + 1))
		done
	done
	if [ "$bin" != veth ]; then
		stop_daemon
		stop_pid "$GUEST_PID"
	fi
	r=$(IFS='|'; echo "${cells[*]}")
	UDP_ROWS+=("| $name | ${r//|/ | } |")
}

# udp_table() - Measure and print the UDP table
udp_table() {
	local r pasta_version

	echo "# passtd UDP packet rate"
	echo
	echo "Machine: $(nproc) CPUs ($(awk -F': ' '/model name/ { print $2;
		exit }' /proc/cpuinfo)), Linux $(uname -r), $(date -u +%Y-%m-%d)."
	echo "iperf3 $(iperf3 --version | awk 'NR == 1 { print $2 }'), UDP," \
	     "one stream, unlimited rate (-b 0), 64 B and 1400 B datagrams," \
	     "${BENCH_TIME} s per cell, MTU 65520."
	if [ -x "$PASTA" ]; then
		pasta_version=$(dpkg-query -W -f='${Version}' passt 2>/dev/null)
		echo "pasta: $PASTA${pasta_version:+ (Debian passt $pasta_version)}."
	fi
	echo

	udp_row "kernel veth (ceiling)" veth
	if [ -x "$PASSTD_BIN" ]; then
		udp_row "passtd" "$PASSTD_BIN"
		if "$PASSTD_BIN" --help 2>&1 | grep -q -- --no-gso; then
			udp_row "passtd --no-gso" "$PASSTD_BIN" --no-gso
		fi
		if "$PASSTD_BIN" --help 2>&1 | grep -q -- --no-mmsg; then
			udp_row "passtd --no-mmsg" "$PASSTD_BIN" --no-mmsg
		fi
	else
		UDP_ROWS+=("| passtd | not built ($PASSTD_BIN) |$(
			printf ' |%.0s' $(seq 1 11))")
	fi
	if [ -x "$PASTA" ]; then
		udp_row "pasta ($PASTA)" "$PASTA"
	fi

	echo "| path | remote->ns 64 B kpps | ratio | loss % |" \
	     "remote->ns 1400 B kpps | ratio | loss % |" \
	     "ns->remote 64 B kpps | ratio | loss % |" \
	     "ns->remote 1400 B kpps | ratio | loss % |"
	echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
	for r in "${UDP_ROWS[@]}"; do
		echo "$r"
	done
	echo
	echo "remote->ns, 64 B: passtd / passtd --no-mmsg =" \
	     "$(ratio "${UDP_IN64[passtd]:-}" "${UDP_IN64[passtd --no-mmsg]:-}")," \
	     "passtd / passtd --no-gso =" \
	     "$(ratio "${UDP_IN64[passtd]:-}" "${UDP_IN64[passtd --no-gso]:-}")."
	echo
	echo "kpps: thousands of datagrams received per second by the iperf3" \
	     "server. Ratio: to the kernel veth row, same column. Loss: lost" \
	     "datagrams, percent of those sent (iperf3's lost_percent); the" \
	     "sender is not paced, so loss is where the path could not keep up."
	echo
	echo "Commands, run from the sandbox namespace (the daemon's host side)."
	echo "/proc/$REMOTE_PID/ns/net is the remote namespace; a daemon's last"
	echo "argument is the PID holding its guest namespace."
	echo
	echo '```'
	printf '%s\n' "${UDP_COMMANDS[@]}"
	echo '```'
}

PASSTD_BIN=$PASSTD
UDP_ROWS=()
UDP_COMMANDS=()
UDP_CEIL=
declare -A UDP_IN64

if [ "$BENCH_ONLY" != udp ]; then
	tcp_table
fi
if [ "$BENCH_ONLY" != tcp ]; then
	[ "$BENCH_ONLY" = udp ] || echo
	udp_table
fi
