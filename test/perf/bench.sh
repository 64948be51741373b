#!/bin/bash
#
# test/perf/bench.sh - make bench: the benchmark report, doc/performance.md
#
# Usage: bash test/perf/bench.sh			(make bench)
#	BENCH_ROUNDS=5		alternating rounds (A B A B ...)
#	BENCH_TIME=3		seconds per iperf3, sockperf, conn_rate cell
#	BENCH_PACED_TIME=2	seconds per probe of the paced UDP search
#	BENCH_STEPS=3		probes of that search
#	BENCH_ONLY=tcp,udp,lat,load,startup,vm	some sections only (a
#				section not run keeps its old tables)
#	BENCH_VM_MTU=65520	the VM section's guest MTU (vm_bench -M;
#				TSO matters below 32 KiB: 1500)
#	BENCH_OUT=doc/performance.md BENCH_README=README.md	where to write
#				(BENCH_OUT=none: only print the results)
#	PASTA=/usr/bin/pasta PASST=/usr/bin/passt	other builds
#
# Theory of operation
# Every section runs its rows in alternating rounds: round 1 runs every
# row once, then round 2 every row again, and so on, so that the drift of
# this shared machine's speed hits every row alike. Each figure goes, with
# its round, into a results file (build/bench/results.tsv, one line per
# figure: SECTION CELL ROW ROUND METRIC VALUE); test/perf/bench_report.py
# then writes the medians, the per-round ratios to the "veth" row (the
# kernel's own path, no daemon) of the same round, the plots and the
# issue's targets into the marked blocks of doc/performance.md and
# README.md, leaving the rest of both as written.
#
# Namespaces (test/lib/sandbox.sh): a guest namespace behind each daemon,
# the sandbox's own namespace (the daemon's host side) and a "remote"
# namespace joined to it by a veth pair (host0, remote0).
#   remote->ns ("in")	client in the remote namespace, server in the
#			guest behind the daemon's -t/-u PORT (192.0.2.1)
#   ns->remote ("out")	client in the guest, server in the remote
#			namespace (198.51.100.1)
# The veth row runs the same between the sandbox namespace and the remote.
# Daemons: --config-net -m MTU -t PORT -T none -U none, -u PORT or -u none,
# plus the row's options; the guest MTU is -m. For the TCP cells of an MTU
# the veth pair is set to that MTU too (ip link set host0/remote0 mtu M),
# for every row: the veth row is the kernel's path at that MTU, and the
# daemons' host-side traffic crosses the same link.
#
# Sections:
#   tcp	iperf3 -l 64K, MTU 65520, 9000, 1500, both directions, 1 and 4
#	streams (-P 4): veth, passtd, pasta; the ablation switches the
#	daemon has (--no-peek-offset, --no-gso, --no-mmsg, --no-zerocopy)
#	at MTU 65520 and 1500 with one stream. The daemon's CPU (utime +
#	stime, /proc/PID/stat) and both iperf3 ends' (bash's time) per GB;
#	the daemon's peak RSS (VmHWM) after its MTU 65520 cells.
#   udp	iperf3 -u, 64 and 1400 B, both directions: (a) -b 0, the
#	datagrams received per second and the loss; (b) the highest -b
#	with at most 0.1 % loss, a bisection of BENCH_STEPS probes seeded
#	with (a) (bench_lib.sh). Rows veth, passtd, --no-mmsg,
#	--udp-yield 0, pasta; (b) for veth, passtd, --no-mmsg and pasta.
#   lat	sockperf ping-pong --full-rtt, TCP and UDP, remote->ns: p50,
#	p99 of the round trip and transactions per second;
#	test/tools/conn_rate: TCP connect, 64 B request, 256 B response,
#	close, per second. Rows veth, passtd, pasta.
#   load	one busy loop (a bash "while :" loop, started and ended here)
#	beside the UDP 64 B and TCP MTU 65520 cells, both directions:
#	veth, passtd, passtd --udp-yield 0 (UDP), pasta.
#   startup	test/perf/startup.sh (hyperfine, alternating rounds) and
#	test/perf/footprint.sh.
#   vm	VM mode, test/tools/vm_bench as the guest (on the stream socket,
#	or as the vhost-user front end with -V) and as its far ends in the
#	remote namespace: UDP 64 and 1400 B both ways (kfps, loss), TCP
#	both ways with 1 and 4 streams (Gbit/s, the daemon's CPU per GB).
#	Rows passtd --vm (stream), passtd --vhost-user (offloads on, one
#	queue pair), --no-vhost-offload (vm_bench -O), --vhost-queues 4
#	(vm_bench -q 4), passt. The report gives the ratios to the stream
#	row round by round (the issue's target: vhost-user TCP >= 2x
#	stream both ways); the notes block keeps round 1's commands and
#	every failure.
#
# Nothing here is a pass or fail: the report computes the targets from the
# figures and prints met or not met.

# shellcheck source=test/lib/sandbox.sh
. "$(dirname "$0")/../lib/sandbox.sh"
# shellcheck source=test/perf/bench_lib.sh
. "$(dirname "$0")/bench_lib.sh"

BENCH_ROUNDS=${BENCH_ROUNDS:-5}
BENCH_TIME=${BENCH_TIME:-3}
BENCH_PACED_TIME=${BENCH_PACED_TIME:-2}
BENCH_STEPS=${BENCH_STEPS:-3}
BENCH_ONLY=${BENCH_ONLY:-tcp,udp,lat,load,startup,vm}
BENCH_OUT=${BENCH_OUT:-$REPO_DIR/doc/performance.md}
BENCH_README=${BENCH_README:-$REPO_DIR/README.md}
BENCH_DIR=${BENCH_DIR:-$REPO_DIR/build/bench}
PASTA=${PASTA:-/usr/bin/pasta}
PASST=${PASST:-/usr/bin/passt}
VM_BENCH=${VM_BENCH:-$TEST_DIR/tools/vm_bench}
CONN_RATE=${CONN_RATE:-$TEST_DIR/tools/conn_rate}
PORT=10001
R_PORT=5201
CLK_TCK=$(getconf CLK_TCK)
RESULTS=$BENCH_DIR/results.tsv

require_tools iperf3 python3 ip nsenter unshare timeout getconf
[ -x "$CONN_RATE" ] || make -s -C "$REPO_DIR" test/tools/conn_rate >&2
[ -x "$VM_BENCH" ] || make -s -C "$REPO_DIR" test/tools/vm_bench >&2
mkdir -p "$BENCH_DIR" || exit 1
setup_sandbox

PASSTD_BIN=$PASSTD
DAEMON_HELP=$("$PASSTD_BIN" --help 2>&1)
ROUND=0
CELL=
BUSY_PID=

# want() - Succeed if a section is to run
# $1:	Section
want() {
	[[ ",$BENCH_ONLY," == *",$1,"* ]]
}

# rec() - Record one figure of the current round
# $1:	Section
# $2:	Cell
# $3:	Row
# $4:	Metric
# $5:	Value ("fail" or "-": no figure)
rec() {
	printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "$ROUND" "$4" "$5" \
		>>"$RESULTS"
}

# guest_routes() - Succeed once the guest has both default routes
guest_routes() {
	in_guest ip -4 route show default | grep -q via &&
		in_guest ip -6 route show default | grep -q via
}

# cpu_ticks() - Print a process's user plus system time, in clock ticks
# $1:	PID
cpu_ticks() {
	# Fields after the command name, which may hold spaces: utime and
	# stime are fields 14 and 15 of the line, 12 and 13 after ") "
	sed 's/^.*) //' "/proc/$1/stat" 2>/dev/null |
		awk '{ print $12 + $13 }'
}

# listening() - Succeed once a port listens in a namespace
# $1:	PID holding the namespace, or "host"
# $2:	Port
# $3:	"t" for TCP (default), "u" for UDP
listening() {
	local ns=$1 port=$2 p=${3:-t}

	if [ "$ns" = host ]; then
		ss -Hln"$p" "sport = :$port" | grep -q .
	else
		in_ns "$ns" ss -Hln"$p" "sport = :$port" | grep -q .
	fi
}

# port_free() - Succeed if nothing listens on PORT in the sandbox namespace
port_free() {
	! listening host "$PORT" t && ! listening host "$PORT" u
}

# ns_cmd() - Print the prefix that runs a command in a namespace
# $1:	PID holding the namespace, or "host"
ns_cmd() {
	[ "$1" = host ] || echo "nsenter --net=/proc/$1/ns/net --"
}

# row_start() - Start the daemon of a row; sets GNS (guest namespace, or
# host for veth) and DPID (empty for veth)
# $1:	Row name
# $2:	Binary, or veth
# $3:	MTU
# $4:	UDP port to forward, or none
# $@:	Row options
# Return: 1 if the daemon did not start
row_start() {
	local name=$1 bin=$2 mtu=$3 uport=$4; shift 4

	GNS=host
	DPID=
	# A daemon just stopped may leave its -t listener for a moment: the
	# veth row's servers would seem ready before they are
	busywait 3000 port_free || echo "port $PORT still taken" >&2
	[ "$bin" = veth ] && return 0
	PASSTD=$bin
	if ! start_daemon --config-net -m "$mtu" -t "$PORT" -T none \
		-u "$uport" -U none "$@" >"$SANDBOX_TMP/start.out" 2>&1 ||
	   ! slowwait 10 guest_routes; then
		echo "$name: daemon did not start" >&2
		tail -n 5 "$SANDBOX_TMP/start.out" >&2
		stop_daemon
		stop_pid "$GUEST_PID"
		return 1
	fi
	GNS=$GUEST_PID
	DPID=$DAEMON_PID
}

# row_stop() - Stop the daemon of a row, if any
row_stop() {
	[ -n "$DPID" ] || return 0
	stop_daemon
	stop_pid "$GUEST_PID"
	DPID=
}

# iperf_sum() - Print "BITS_PER_SECOND BYTES PACKETS_PER_S LOST_PERCENT"
# of the receiver's sum in iperf3 JSON output, "0 0 0 -" if none
# $1:	File
iperf_sum() {
	python3 - "$1" <<'PYEOF'
import json, sys
try:
    s = json.load(open(sys.argv[1]))["end"]["sum_received"]
    pps, loss = 0, "-"
    if "packets" in s:
        got = s["packets"] - s["lost_packets"]
        pps, loss = got / s["seconds"], s["lost_percent"]
    print(int(s["bits_per_second"]), int(s["bytes"]), pps, loss)
except Exception:
    print("0 0 0 -")
PYEOF
}

# iperf_run() - One iperf3 run; sets CELL to the iperf_sum() line plus the
# daemon's CPU ticks and both ends' CPU seconds: "BPS BYTES PPS LOSS
# DTICKS ENDS_S" ("fail" on failure)
# $1:	Server namespace (PID or host)
# $2:	Client namespace (PID or host)
# $3:	Address the client connects to (the server binds it)
# $4:	Port
# $5:	Daemon PID, or empty
# $6:	Seconds
# $@:	More client options (-u -b ... -l ..., -P 4)
iperf_run() {
	local sns=$1 cns=$2 addr=$3 port=$4 dpid=$5 secs=$6; shift 6
	local out=$SANDBOX_TMP/iperf.json spid t0=0 t1=0 sum ends
	local TIMEFORMAT='%3U %3S'
	local -a srv cli

	# shellcheck disable=SC2207 # words of a fixed prefix
	srv=($(ns_cmd "$sns") iperf3 -s -1 -p "$port" -B "$addr")
	# shellcheck disable=SC2207
	cli=($(ns_cmd "$cns") timeout $((secs + 30)) iperf3 -c "$addr"
	     -p "$port" -t "$secs" --connect-timeout 3000 -J "$@")
	rm -f "$out" "$out.srv" "$out.cli"
	{ time "${srv[@]}" </dev/null >/dev/null 2>&1; } 2>"$out.srv" &
	spid=$!
	track_pid "$spid"
	if ! busywait 3000 listening "$sns" "$port"; then
		stop_pid "$spid"
		CELL=fail
		return
	fi
	[ -n "$dpid" ] && t0=$(cpu_ticks "$dpid")
	{ time "${cli[@]}" </dev/null >"$out" 2>&1; } 2>"$out.cli"
	[ -n "$dpid" ] && t1=$(cpu_ticks "$dpid")
	slowwait 5 pid_gone "$spid" || stop_pid "$spid"
	wait "$spid" 2>/dev/null

	sum=$(iperf_sum "$out")
	if [ "${sum%% *}" = 0 ]; then
		CELL=fail
		echo "iperf3 ${cli[*]}: failed:" >&2
		tail -n 3 "$out" >&2
		return
	fi
	ends=$(cat "$out.srv" "$out.cli" 2>/dev/null |
		awk 'NF == 2 { s += $1 + $2 } END { print s + 0 }')
	CELL="$sum $((${t1:-0} - ${t0:-0})) $ends"
}

# tcp_cell() - One TCP cell of a row, recorded
# $1:	Section (tcp or load)
# $2:	Cell name ("MTU DIR STREAMS" for tcp, "tcp MTU DIR" for load)
# $3:	Row
# $4:	Direction, in or out
# $5:	Streams
tcp_cell() {
	local sec=$1 cell=$2 row=$3 dir=$4 streams=$5
	local bps bytes dt ends par=()

	[ "$streams" -gt 1 ] && par=(-P "$streams")
	if [ "$dir" = in ]; then
		iperf_run "$GNS" "$REMOTE_PID" "$HOST_ADDR4" "$PORT" "$DPID" \
			"$BENCH_TIME" -l 64K "${par[@]}"
	else
		iperf_run "$REMOTE_PID" "$GNS" "$REMOTE_LO4" "$R_PORT" \
			"$DPID" "$BENCH_TIME" -l 64K "${par[@]}"
	fi
	if [ "$CELL" = fail ]; then
		rec "$sec" "$cell" "$row" gbit fail
		return
	fi
	read -r bps bytes _ _ dt ends <<<"$CELL"
	rec "$sec" "$cell" "$row" gbit "$(awk -v b="$bps" 'BEGIN {
		printf "%.4f", b / 1e9 }')"
	[ "$sec" = tcp ] || return 0
	rec "$sec" "$cell" "$row" ends "$(awk -v e="$ends" -v n="$bytes" \
		'BEGIN { printf "%.4f", e / (n / 1e9) }')"
	[ -n "$DPID" ] && rec "$sec" "$cell" "$row" cpu "$(awk -v d="$dt" \
		-v n="$bytes" -v hz="$CLK_TCK" 'BEGIN {
		printf "%.4f", d / hz / (n / 1e9) }')"
	return 0
}

# udp_run() - One iperf3 UDP run; sets CELL to "KPPS LOSS" or "fail"
# $1:	Direction, in or out
# $2:	Datagram size
# $3:	iperf3 -b
# $4:	Seconds
udp_run() {
	local dir=$1 len=$2 rate=$3 secs=$4 pps loss

	# The remote sends from 198.51.100.1, not from 192.0.2.2: the gateway
	# address the guest copied, which pasta maps to the host's loopback
	if [ "$dir" = in ]; then
		iperf_run "$GNS" "$REMOTE_PID" "$HOST_ADDR4" "$PORT" "" "$secs" \
			-u -b "$rate" -l "$len" -B "$REMOTE_LO4"
	else
		iperf_run "$REMOTE_PID" "$GNS" "$REMOTE_LO4" "$R_PORT" "" \
			"$secs" -u -b "$rate" -l "$len"
	fi
	[ "$CELL" = fail ] && return
	read -r _ _ pps loss _ <<<"$CELL"
	CELL=$(awk -v p="$pps" -v l="$loss" 'BEGIN {
		printf "%.3f %.3f\n", p / 1000, l }')
}

# udp_paced() - The paced search of one cell, recorded as "paced"
# $1:	Cell ("LEN DIR")
# $2:	Row
# $3:	Seed: the unpaced rate, kpps
udp_paced() {
	local cell=$1 row=$2 seed=$3 len dir lo hi next n=0 loss kpps

	read -r len dir <<<"$cell"
	read -r lo hi next < <(search_init "$(awk -v k="$seed" 'BEGIN {
		print int(k * 1000) }')")
	while [ "$next" -gt 0 ]; do
		udp_run "$dir" "$len" "$(paced_bitrate "$next" "$len")" \
			"$BENCH_PACED_TIME"
		n=$((n + 1))
		loss=-
		[ "$CELL" = fail ] || read -r _ loss <<<"$CELL"
		read -r lo hi next < <(search_step "$lo" "$hi" "$next" "$loss" \
			"$n" "$BENCH_STEPS")
	done
	kpps=$(awk -v l="$lo" 'BEGIN { printf "%.3f", l / 1000 }')
	rec paced "$cell" "$row" kpps "$kpps"
}

# udp_cell() - One unpaced UDP cell, recorded; prints nothing, sets KPPS
# $1:	Section (udp or load)
# $2:	Cell name
# $3:	Row
# $4:	Direction
# $5:	Datagram size
udp_cell() {
	local sec=$1 cell=$2 row=$3 dir=$4 len=$5 loss

	KPPS=
	udp_run "$dir" "$len" 0 "$BENCH_TIME"
	if [ "$CELL" = fail ]; then
		rec "$sec" "$cell" "$row" kpps fail
		return
	fi
	read -r KPPS loss <<<"$CELL"
	rec "$sec" "$cell" "$row" kpps "$KPPS"
	rec "$sec" "$cell" "$row" loss "$loss"
}

# set_link_mtu() - Set the MTU of the veth pair, both ends
# $1:	MTU
set_link_mtu() {
	ip link set "$HOST_IF" mtu "$1" &&
		in_remote ip link set "$REMOTE_IF" mtu "$1"
}

# rows() - Print the rows of a section, "NAME|BINARY|OPTIONS", one a line
# $1:	Section: tcp, ablate, udp, paced, lat, load
rows() {
	local opt

	echo "veth|veth|"
	if [ -x "$PASSTD_BIN" ]; then
		case $1 in
		ablate)
			for opt in --no-peek-offset --no-gso --no-mmsg \
				   --no-zerocopy; do
				has_opt "$opt" &&
					echo "passtd $opt|$PASSTD_BIN|$opt"
			done ;;
		*)
			echo "passtd|$PASSTD_BIN|" ;;
		esac
		case $1 in
		udp|paced)
			has_opt --no-mmsg &&
				echo "passtd --no-mmsg|$PASSTD_BIN|--no-mmsg" ;;
		esac
		case $1 in
		udp|load)
			has_opt --udp-yield &&
				echo "passtd --udp-yield 0|$PASSTD_BIN|--udp-yield 0"
			;;
		esac
	fi
	[ "$1" != ablate ] && [ -x "$PASTA" ] && echo "pasta|$PASTA|"
	return 0
}

# tcp_round() - One round of the TCP section
tcp_round() {
	local mtu name bin opts dir s kind
	local -a o

	for mtu in 65520 9000 1500; do
		set_link_mtu "$mtu" || echo "cannot set the veth MTU" >&2
		for kind in tcp ablate; do
			[ $kind = ablate ] && [ "$mtu" = 9000 ] && continue
			while IFS='|' read -r name bin opts; do
				[ $kind = ablate ] && [ "$bin" = veth ] &&
					continue
				read -r -a o <<<"$opts"
				row_start "$name" "$bin" "$mtu" none \
					"${o[@]}" || continue
				for dir in in out; do
					for s in 1 4; do
						[ $kind = ablate ] && [ $s = 4 ] &&
							continue
						tcp_cell tcp "$mtu $dir $s" \
							"$name" "$dir" "$s"
					done
				done
				[ "$mtu" = 65520 ] && [ -n "$DPID" ] &&
					rec mem tcp "$name" rss "$(awk \
					'$1 == "VmHWM:" { print $2 }' \
					"/proc/$DPID/status")"
				row_stop
			done < <(rows $kind)
		done
	done
	set_link_mtu 65520
}

# udp_round() - One round of the UDP section
udp_round() {
	local name bin opts dir len paced
	local -a o

	while IFS='|' read -r name bin opts; do
		read -r -a o <<<"$opts"
		row_start "$name" "$bin" 65520 "$PORT" "${o[@]}" || continue
		paced=0
		rows paced | grep -q "^$name|" && paced=1
		for dir in in out; do
			for len in 64 1400; do
				udp_cell udp "$len $dir" "$name" "$dir" "$len"
				[ $paced = 1 ] && [ -n "$KPPS" ] &&
					udp_paced "$len $dir" "$name" "$KPPS"
			done
		done
		row_stop
	done < <(rows udp)
}

# sockperf_cell() - One sockperf ping-pong, remote->ns, recorded
# $1:	tcp or udp
# $2:	Row
sockperf_cell() {
	local proto=$1 row=$2 out=$SANDBOX_TMP/sockperf.out spid p50 p99 tps
	local port=$PORT
	local -a srv cli tcpopt=()

	[ "$proto" = tcp ] && tcpopt=(--tcp)
	# sockperf's server does not reuse addresses: in the sandbox's own
	# namespace the daemons' host sides leave TIME_WAIT sockets on PORT
	[ "$GNS" = host ] && port=$((PORT + 2))
	# shellcheck disable=SC2207 # words of a fixed prefix
	srv=($(ns_cmd "$GNS") timeout $((BENCH_TIME + 30)) sockperf server
	     -i "$HOST_ADDR4" -p "$port" "${tcpopt[@]}")
	# shellcheck disable=SC2207
	cli=($(ns_cmd "$REMOTE_PID") timeout $((BENCH_TIME + 30)) sockperf
	     ping-pong -i "$HOST_ADDR4" -p "$port" "${tcpopt[@]}" -t "$BENCH_TIME"
	     --full-rtt --client_ip "$REMOTE_LO4")
	"${srv[@]}" </dev/null >/dev/null 2>&1 &
	spid=$!
	track_pid "$spid"
	busywait 3000 listening "$GNS" "$port" "${proto:0:1}"
	"${cli[@]}" </dev/null >"$out" 2>&1
	stop_pid "$spid"
	p50=$(awk '/percentile 50.000 =/ { print $NF }' "$out")
	p99=$(awk '/percentile 99.000 =/ { print $NF }' "$out")
	tps=$(sed -n 's/.*\[Valid Duration\] RunTime=\([0-9.]*\) sec.*ReceivedMessages=\([0-9]*\).*/\1 \2/p' "$out" |
		awk '$1 > 0 { printf "%.1f", $2 / $1 }')
	if [ -z "$p50" ] || [ -z "$tps" ]; then
		echo "sockperf $proto, $row: failed:" >&2
		tail -n 3 "$out" >&2
		rec lat "$proto" "$row" p50 fail
		return
	fi
	rec lat "$proto" "$row" p50 "$p50"
	rec lat "$proto" "$row" p99 "$p99"
	rec lat "$proto" "$row" tps "$tps"
}

# conn_cell() - One conn_rate run, remote->ns, recorded
# $1:	Row
conn_cell() {
	local row=$1 out=$SANDBOX_TMP/conn.out spid rate

	# shellcheck disable=SC2046 # words of a fixed prefix
	$(ns_cmd "$GNS") "$CONN_RATE" server "$HOST_ADDR4" "$PORT" 5 \
		</dev/null >/dev/null 2>&1 &
	spid=$!
	track_pid "$spid"
	busywait 3000 listening "$GNS" "$PORT"
	# shellcheck disable=SC2046
	$(ns_cmd "$REMOTE_PID") timeout $((BENCH_TIME + 30)) "$CONN_RATE" \
		client "$HOST_ADDR4" "$PORT" "$BENCH_TIME" </dev/null >"$out" 2>&1
	stop_pid "$spid"
	rate=$(sed -n 's/.* rate=\([0-9.]*\).*/\1/p' "$out")
	rec conn tcp "$row" rate "${rate:-fail}"
}

# lat_round() - One round of the latency section
lat_round() {
	local name bin opts
	local -a o

	while IFS='|' read -r name bin opts; do
		read -r -a o <<<"$opts"
		row_start "$name" "$bin" 65520 "$PORT" "${o[@]}" || continue
		sockperf_cell tcp "$name"
		sockperf_cell udp "$name"
		conn_cell "$name"
		row_stop
	done < <(rows lat)
}

# busy_start() - Start the competing busy loop
busy_start() {
	bash -c 'while :; do :; done' </dev/null >/dev/null 2>&1 &
	BUSY_PID=$!
	track_pid "$BUSY_PID"
}

# busy_stop() - End the busy loop
busy_stop() {
	[ -n "$BUSY_PID" ] && stop_pid "$BUSY_PID"
	BUSY_PID=
}

# load_round() - One round of the under-load section
load_round() {
	local name bin opts dir
	local -a o

	busy_start
	while IFS='|' read -r name bin opts; do
		read -r -a o <<<"$opts"
		row_start "$name" "$bin" 65520 "$PORT" "${o[@]}" || continue
		for dir in in out; do
			udp_cell load "udp 64 $dir" "$name" "$dir" 64
			[[ $name == *udp-yield* ]] && continue
			tcp_cell load "tcp 65520 $dir" "$name" "$dir" 1
		done
		row_stop
	done < <(rows load)
	busy_stop
}

# vm_kv() - Print the value of a key in a vm_bench output line
# $1:	Output file
# $2:	Key
vm_kv() {
	local file=$1; shift
	local key=$1; shift

	awk -v k="$key" '/^mode=/ { for (i = 1; i <= NF; i++)
		if (index($i, k "=") == 1) v = substr($i, length(k) + 2) }
		END { print v }' "$file" 2>/dev/null
}

# vm_fail() - Set CELL to "fail" and why, in short; show more on stderr
# $1:	Label
# $@:	Output files to show (the guest's first)
vm_fail() {
	local label=$1; shift
	local f

	if ! pid_alive "$DAEMON_PID"; then
		CELL="fail (daemon died)"
	elif grep -q '^error: stalled' "${1:-/dev/null}" 2>/dev/null; then
		CELL="fail (stalled)"
	else
		CELL=fail
	fi
	VM_NOTES+=("round $ROUND, $label: $CELL: $(grep -h '^error:' "$@" \
		2>/dev/null | head -n 1)")
	echo "$label: failed:" >&2
	for f in "$@"; do
		[ -s "$f" ] && tail -n 5 "$f" >&2
	done
}

# vm_pair() - Run a vm_bench pair: VM_BG in the background until it
# prints its ready line, then VM_FG to its end, then wait for VM_BG
# $1:	Label for the command list
# $2:	VM_BG's output file
# $3:	The first word of its ready line ("listening", "ready")
# $4:	VM_FG's output file
#
# The command list keeps round 1's commands. Return: 1 if VM_BG never got
# ready (CELL set by vm_fail())
vm_pair() {
	local label=$1; shift
	local bout=$1; shift
	local word=$1; shift
	local fout=$1; shift
	local pid

	[ "$ROUND" = 1 ] &&
		VM_COMMANDS+=("# $label" "${VM_BG[*]} &" "${VM_FG[*]}")
	"${VM_BG[@]}" </dev/null >"$bout" 2>&1 &
	pid=$!
	track_pid "$pid"
	if ! busywait 5000 has_line "$bout" "$word"; then
		stop_pid "$pid"
		vm_fail "$label" "$bout"
		return 1
	fi
	"${VM_FG[@]}" </dev/null >"$fout" 2>&1
	slowwait 10 pid_gone "$pid" || stop_pid "$pid"
	wait "$pid" 2>/dev/null
}

# vm_udp_cell() - One UDP run through the daemon, recorded (kfps, loss)
# $1:	Row
# $2:	Direction: in (remote->guest) or out (guest->remote)
# $3:	Datagram size
# $4:	Daemon socket
# $5:	Label for the command list
# $@:	The guest's transport options (-V ...)
vm_udp_cell() {
	local row=$1; shift
	local dir=$1; shift
	local len=$1; shift
	local sock=$1; shift
	local label=$1; shift
	local t=$((BENCH_TIME + 30)) n=$RANDOM gout rout
	local got got_n sent cell="udp $len $dir"

	gout=$SANDBOX_TMP/vm_guest.$n.out
	rout=$SANDBOX_TMP/vm_remote.$n.out
	# shellcheck disable=SC2207 # words of a fixed prefix
	if [ "$dir" = in ]; then
		VM_BG=("$VM_BENCH" -s "$sock" "$@" -M "$VM_MTU" -t "$t" udp-in
		       "$VM_UPORT" "$len")
		VM_FG=($(ns_cmd "$REMOTE_PID") "$VM_BENCH" -d "$BENCH_TIME"
		       -t "$t" -b "$REMOTE_LO4" udp-source "$HOST_ADDR4"
		       "$VM_UPORT" "$len")
		vm_pair "$label" "$gout" ready "$rout" || {
			rec vm "$cell" "$row" kfps fail; return; }
		got=$(vm_kv "$gout" fps)
		sent=$(vm_kv "$rout" frames)
		got_n=$(vm_kv "$gout" frames)
	else
		VM_BG=($(ns_cmd "$REMOTE_PID") "$VM_BENCH" -t "$t"
		       -b "$REMOTE_LO4" udp-sink "$R_PORT")
		VM_FG=("$VM_BENCH" -s "$sock" "$@" -M "$VM_MTU"
		       -d "$BENCH_TIME" -t "$t" udp-out "$REMOTE_LO4" "$R_PORT"
		       "$len")
		vm_pair "$label" "$rout" listening "$gout" || {
			rec vm "$cell" "$row" kfps fail; return; }
		got=$(vm_kv "$rout" fps)
		sent=$(vm_kv "$gout" frames)
		got_n=$(vm_kv "$rout" frames)
	fi
	if [ -z "$got" ] || [ -z "$sent" ]; then
		vm_fail "$label" "$gout" "$rout"
		rec vm "$cell" "$row" kfps fail
		return
	fi
	rec vm "$cell" "$row" kfps "$(awk -v p="$got" 'BEGIN {
		printf "%.3f", p / 1000 }')"
	rec vm "$cell" "$row" loss "$(awk -v g="$got_n" -v s="$sent" 'BEGIN {
		l = s > 0 ? 100 * (s - g) / s : 0
		printf "%.3f", l < 0 ? 0 : l }')"
}

# vm_tcp_cell() - One TCP run through the daemon, recorded: the guest's
# Gbit/s, the daemon's CPU per GB; retransmissions, gaps or duplicates
# go to the notes
# $1:	Row
# $2:	Direction: in (remote->guest) or out (guest->remote)
# $3:	Streams (vm_bench -P, both ends)
# $4:	Daemon socket
# $5:	Label for the command list
# $@:	The guest's transport options (-V ...)
vm_tcp_cell() {
	local row=$1; shift
	local dir=$1; shift
	local p=$1; shift
	local sock=$1; shift
	local label=$1; shift
	local t=$((BENCH_TIME + 30)) n=$RANDOM gout rout gbps k v extra
	local cell="tcp $dir $p" t0 t1 bytes

	gout=$SANDBOX_TMP/vm_guest.$n.out
	rout=$SANDBOX_TMP/vm_remote.$n.out
	# shellcheck disable=SC2207 # words of a fixed prefix
	VM_BG=($(ns_cmd "$REMOTE_PID") "$VM_BENCH" -t "$t" -P "$p"
	       -b "$REMOTE_LO4"
	       "$([ "$dir" = in ] && echo tcp-source || echo tcp-sink)"
	       "$R_PORT")
	VM_FG=("$VM_BENCH" -s "$sock" "$@" -M "$VM_MTU" -P "$p"
	       -d "$BENCH_TIME" -t "$t" "tcp-$dir" "$REMOTE_LO4" "$R_PORT")
	t0=$(cpu_ticks "$DAEMON_PID")
	vm_pair "$label" "$rout" listening "$gout" || {
		rec vm "$cell" "$row" gbit fail; return; }
	t1=$(cpu_ticks "$DAEMON_PID")

	gbps=$(vm_kv "$gout" gbps)
	bytes=$(vm_kv "$gout" bytes)
	if [ -z "$gbps" ]; then
		vm_fail "$label" "$gout" "$rout"
		rec vm "$cell" "$row" gbit fail
		return
	fi
	rec vm "$cell" "$row" gbit "$gbps"
	# The daemon's CPU over the whole pair (connect, ready, end too)
	[ -n "$t0" ] && [ -n "$t1" ] && [ "${bytes:-0}" -gt 0 ] &&
		rec vm "$cell" "$row" cpu "$(awk -v d=$((t1 - t0)) \
			-v n="$bytes" -v hz="$CLK_TCK" 'BEGIN {
			printf "%.4f", d / hz / (n / 1e9) }')"
	extra=
	for k in rexmit gaps dups; do
		v=$(vm_kv "$gout" $k)
		[ "${v:-0}" = 0 ] || extra+="${extra:+, }$v $k"
	done
	[ -n "$extra" ] &&
		VM_NOTES+=("round $ROUND, $label: $gbps Gbit/s ($extra)")
	return 0
}

# vm_listening() - Succeed once a VM-mode daemon's socket accepts
# $1:	Socket path
vm_listening() {
	local sock=$1; shift

	[ -S "$sock" ] && pid_alive "$DAEMON_PID"
}

# vm_rows() - Print the VM rows: NAME|BINARY|DAEMON OPTIONS|GUEST OPTIONS
# (the guest's vm_bench transport: none for the stream socket, -V for
# vhost-user, with -q PAIRS, -O)
vm_rows() {
	[ -x "$VM_BENCH" ] || return 0
	if [ -x "$PASSTD_BIN" ]; then
		echo "passtd --vm|$PASSTD_BIN|--vm|"
		if has_opt --vhost-user; then
			echo "passtd --vhost-user|$PASSTD_BIN|--vm --vhost-user|-V"
			has_opt --no-vhost-offload && echo "passtd --vhost-user" \
				"--no-vhost-offload|$PASSTD_BIN|--vm" \
				"--vhost-user --no-vhost-offload|-V -O"
			has_opt --vhost-queues && echo "passtd --vhost-user" \
				"--vhost-queues 4|$PASSTD_BIN|--vm" \
				"--vhost-user --vhost-queues 4|-V -q 4"
		fi
	fi
	[ -x "$PASST" ] && echo "passt ($PASST)|$PASST||"
	return 0
}

# vm_row() - Measure one VM-mode row, once
# $1:	Row name
# $2:	Guest options (words)
# $@:	Daemon command, without -f -s SOCK -u PORT
vm_row() {
	local name=$1; shift
	local gopts=$1; shift
	local sock dir len p
	local -a g
	local -A way=([in]="remote->guest" [out]="guest->remote")

	read -r -a g <<<"$gopts"
	DAEMON_COUNT=$((DAEMON_COUNT + 1))
	DAEMON_LOG=$SANDBOX_TMP/daemon.$DAEMON_COUNT.log
	sock=$SANDBOX_TMP/vm.$DAEMON_COUNT.sock
	echo "$* -f -s $sock -u $VM_UPORT" >"$DAEMON_LOG"
	"$@" -f -s "$sock" -u "$VM_UPORT" </dev/null >>"$DAEMON_LOG" 2>&1 &
	DAEMON_PID=$!
	track_pid "$DAEMON_PID"
	if ! slowwait 10 vm_listening "$sock"; then
		VM_NOTES+=("round $ROUND, $name: the daemon did not start: $(
			   tail -n 1 "$DAEMON_LOG")")
		tail -n 5 "$DAEMON_LOG" >&2
		stop_daemon
		return
	fi
	[ "$ROUND" = 1 ] &&
		VM_COMMANDS+=("# $name: $(head -n 1 "$DAEMON_LOG")")

	# A daemon that died leaves the rest of its row unmeasured
	for dir in in out; do
		for len in 64 1400; do
			pid_alive "$DAEMON_PID" || break 2
			vm_udp_cell "$name" "$dir" "$len" "$sock" \
				"$name, UDP ${way[$dir]}, $len B" "${g[@]}"
		done
	done
	for dir in in out; do
		for p in 1 4; do
			pid_alive "$DAEMON_PID" || break 2
			vm_tcp_cell "$name" "$dir" "$p" "$sock" \
				"$name, TCP ${way[$dir]}, $p stream$([ "$p" = 1 ] ||
				echo s)" "${g[@]}"
		done
	done
	if ! pid_alive "$DAEMON_PID"; then
		wait "$DAEMON_PID" 2>/dev/null
		VM_NOTES+=("round $ROUND, $name: the daemon died, status $?: $(
			   tail -n 1 "$DAEMON_LOG")")
		echo "$name: the daemon died:" >&2
		tail -n 5 "$DAEMON_LOG" >&2
	fi
	stop_daemon
}

# vm_round() - One round of the VM section: every row once
vm_round() {
	local name bin dopts gopts
	local -a d

	while IFS='|' read -r name bin dopts gopts; do
		read -r -a d <<<"$dopts"
		vm_row "$name" "$gopts" "$bin" "${d[@]}"
	done < <(vm_rows)
}

# vm_notes() - Print the VM section's verbatim block: how it ran, what
# failed, the commands of round 1 (the table comes from the results)
vm_notes() {
	local passt_version n

	echo "Machine: $(nproc) CPUs ($(awk -F': ' '/model name/ { print $2;
		exit }' /proc/cpuinfo)), Linux $(uname -r), $(date -u +%Y-%m-%d)."
	echo "Guest: test/tools/vm_bench, MTU $VM_MTU, ${BENCH_TIME} s per" \
	     "cell, rounds: $BENCH_ROUNDS; on the daemon's UNIX socket" \
	     "(32-bit length, then the frame) for the stream rows, as the" \
	     "daemon's vhost-user front end (-V: shared memfd guest memory," \
	     "virtqueues of 1024 entries, 4 KiB merged receive buffers, the" \
	     "offloads the daemon offers unless -O, -q 4 queue pairs) for" \
	     "the vhost-user rows; its far ends in the remote namespace."
	if [ -x "$PASST" ]; then
		passt_version=$(dpkg-query -W -f='${Version}' passt 2>/dev/null)
		[ -n "$passt_version" ] &&
			passt_version=" (Debian passt $passt_version)"
		echo "passt: $PASST$passt_version."
	fi
	[ -x "$VM_BENCH" ] || echo "**Not run**: no $VM_BENCH."
	echo
	echo "kfps: thousands of datagrams per second counted by the" \
	     "receiver (the guest, or udp-sink in the remote namespace)," \
	     "from its first batch to its last; in parentheses, the" \
	     "datagrams lost, percent of those the sender counted." \
	     "Gbit/s: TCP payload the guest received, or the daemon" \
	     "acknowledged to the guest, over all streams (vm_bench -P 4:" \
	     "four connections from one guest, spread over the transmit" \
	     "queues with -q 4). With no loss, the daemon kept up and the" \
	     "sender was the limit. CPU s/GB: the daemon's user and system" \
	     "time over the whole run, per GB of TCP payload. A cell" \
	     "failed in a round (\"fail (stalled)\": nothing acknowledged" \
	     "or received for 3 s) has no figure that round; a daemon that" \
	     "died leaves the rest of its row unmeasured in that round."
	echo
	n=${#VM_NOTES[@]}
	if [ "$n" -gt 0 ]; then
		echo "Failures and retransmissions ($n):"
		echo
		printf -- '- %s\n' "${VM_NOTES[@]:0:40}"
		[ "$n" -gt 40 ] && echo "- ... and $((n - 40)) more"
		echo
	fi
	echo "Commands of round 1, run from the sandbox namespace (the" \
	     "daemon's host side). /proc/$REMOTE_PID/ns/net is the remote" \
	     "namespace."
	echo
	echo '```'
	printf '%s\n' "${VM_COMMANDS[@]}"
	echo '```'
}


# meta() - Print the report's first block: machine, versions, how run
# $1:	Seconds the run took
meta() {
	local pv

	pv=$(dpkg-query -W -f='${Version}' passt 2>/dev/null)
	echo "Generated by \`make bench\` (\`test/perf/bench.sh\`) on" \
	     "$(date -u '+%Y-%m-%d %H:%M UTC'), passtd" \
	     "$(git -C "$REPO_DIR" describe --always --dirty 2>/dev/null)," \
	     "in $(( $1 / 60 )) min $(( $1 % 60 )) s:" \
	     "BENCH_ROUNDS=$BENCH_ROUNDS BENCH_TIME=$BENCH_TIME" \
	     "BENCH_PACED_TIME=$BENCH_PACED_TIME BENCH_STEPS=$BENCH_STEPS" \
	     "BENCH_ONLY=$BENCH_ONLY."
	echo "Machine: $(nproc) CPUs ($(awk -F': ' '/model name/ { print $2;
		exit }' /proc/cpuinfo)), Linux $(uname -r);" \
	     "iperf3 $(iperf3 --version | awk 'NR == 1 { print $2 }')," \
	     "sockperf $(sockperf --version 2>&1 | awk '/version/ {
		print $3; exit }')${pv:+, pasta from Debian passt $pv}."
	[ "$BENCH_ROUNDS" -lt 5 ] || [ "$BENCH_TIME" -lt 3 ] &&
		echo "**A short trial run** (fewer rounds or shorter cells" \
		     "than the defaults, 5 and 3 s): it shows the format; its" \
		     "figures are not the report's."
	echo "Load average at the start: $LOAD0 (other work on the machine" \
	     "moves every figure: compare rows of one run, and read the" \
	     "ratios, taken round by round)."
}

VM_NOTES=()
VM_COMMANDS=()
VM_BG=()
VM_FG=()
VM_UPORT=10002
VM_MTU=${BENCH_VM_MTU:-65520}
LOAD0=$(cut -d' ' -f1-3 /proc/loadavg)
# Every section but a TCP MTU's cells runs with the veth pair at 65520
set_link_mtu 65520 || echo "cannot set the veth MTU" >&2
T0=$SECONDS
# The figures of sections not run stay: the targets, the README's table
# and the plots are made from every section's
if [ -f "$RESULTS" ]; then
	results_keep "$RESULTS" "$BENCH_ONLY" >"$RESULTS.new" &&
		mv "$RESULTS.new" "$RESULTS"
else
	: >"$RESULTS"
fi
for ROUND in $(seq "$BENCH_ROUNDS"); do
	for sec in tcp udp lat load vm; do
		want $sec || continue
		echo "bench: round $ROUND of $BENCH_ROUNDS, $sec ($((SECONDS -
			T0)) s)" >&2
		${sec}_round
	done
done

BLOCKS=()
if want startup; then
	echo "bench: startup ($((SECONDS - T0)) s)" >&2
	{
		STARTUP_ROUNDS=$BENCH_ROUNDS bash "$(dirname "$0")/startup.sh"
		echo
		FOOTPRINT_SMAPS=0 bash "$(dirname "$0")/footprint.sh"
	} >"$BENCH_DIR/startup.md" 2>"$BENCH_DIR/startup.err"
	BLOCKS+=(--block "startup=$BENCH_DIR/startup.md")
fi
if want vm; then
	vm_notes >"$BENCH_DIR/vm.md"
	BLOCKS+=(--block "vm-notes=$BENCH_DIR/vm.md")
fi
meta $((SECONDS - T0)) >"$BENCH_DIR/meta.md"

echo "bench: results in $RESULTS" >&2
if [ "$BENCH_OUT" != none ]; then
	python3 "$(dirname "$0")/bench_report.py" "$RESULTS" \
		--doc "$BENCH_OUT" --readme "$BENCH_README" \
		--plots "$(dirname "$BENCH_OUT")/perf" \
		--meta "$BENCH_DIR/meta.md" "${BLOCKS[@]}" --targets
	echo "bench: wrote $BENCH_OUT and the table of $BENCH_README" >&2
else
	python3 "$(dirname "$0")/bench_report.py" "$RESULTS" --targets
fi
