#!/bin/bash
#
# test/perf/bench.sh - TCP throughput and daemon CPU cost, then UDP packet
# rates, as two Markdown tables: the kernel's veth path (the ceiling),
# passtd, passtd --no-peek-offset (TCP) or --no-gso, --no-mmsg and
# --udp-yield 0 (UDP), and pasta (when installed), both directions; then
# a third table for VM mode, the socket protocol QEMU speaks, for passtd
# --vm and passt (when installed)
#
# Usage: bash test/perf/bench.sh	(make bench)
#	BENCH_TIME=2 bash test/perf/bench.sh	quick trial, seconds per cell
#	PASTA=/path/to/pasta			another pasta build
#	PASST=/path/to/passt			another passt build
#	BENCH_ONLY=tcp, udp or vm		one of the three tables
#	BENCH_ONLY=startup			start-up and footprint only
#						(test/perf/startup.sh, also
#						run after the three tables)
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
# -T none -u none -U none, plus the row's options; the "-m 1500" rows give
# the guest MTU 1500 instead (the veth stays at 65520). The daemon's CPU time
# (utime + stime from /proc/PID/stat) is taken before and after each run
# and divided by the bytes iperf3 moved; so is the CPU time of both iperf3
# processes (bash's time keyword), the part of the work no path can avoid.
#
# UDP: every cell is one iperf3 UDP run of BENCH_TIME seconds, unlimited
# rate (-b 0), 64-byte or 1400-byte datagrams (-l), same namespaces and
# directions; the daemons are started with -t PORT -u PORT (iperf3's
# control connection and its datagrams). A cell is the datagrams the
# iperf3 server received per second, (packets - lost_packets) / seconds of
# the receiver's sum in the client's JSON, and that sum's lost_percent.
#
# VM mode: a guest under TCG is far too slow to load a daemon, so the
# guest is test/tools/vm_bench, a small C program that speaks the stream
# protocol (each Ethernet frame behind a 32-bit big-endian length) with
# as little work of its own as it can: many frames per write(), headers
# only parsed on the way in. It connects to the daemon's socket (passtd
# --vm -f -s SOCK -u PORT, or passt -f -s SOCK -u PORT, MTU 65520 by
# default in both), uses the host's address 192.0.2.1 as the daemon hands
# it out, and vm_bench's far ends run in the remote namespace. Every cell
# is one run of BENCH_TIME seconds on a new guest connection:
#   UDP remote->guest  udp-source sends LEN-byte datagrams (sendmmsg, as
#		fast as it can) to the daemon's -u PORT; the guest counts
#		those arriving on the stream
#   UDP guest->remote  the guest writes 256 frames per write(); udp-sink
#		counts what arrives (recvmmsg)
#   TCP remote->guest  the guest connects to tcp-source, which writes as
#		fast as it can; the guest acknowledges every read
#   TCP guest->remote  the guest connects to tcp-sink and sends full
#		segments (MSS 65480, or the daemon's if smaller) within
#		the daemon's window
# A UDP cell is the receiver's datagrams per second (from its first batch
# to its last), with the loss against what the sender counted; a TCP
# cell is the payload the receiving guest got, or the daemon acknowledged
# to the sending guest, per second.
#
# Nothing here is a pass or fail: the numbers are printed, never asserted.

# shellcheck source=test/lib/sandbox.sh
. "$(dirname "$0")/../lib/sandbox.sh"

BENCH_TIME=${BENCH_TIME:-10}
BENCH_ONLY=${BENCH_ONLY:-}
PASTA=${PASTA:-/usr/bin/pasta}
PASST=${PASST:-/usr/bin/passt}
VM_BENCH=${VM_BENCH:-$TEST_DIR/tools/vm_bench}
PORT=10001
R_PORT=5201
CLK_TCK=$(getconf CLK_TCK)

if [ "$BENCH_ONLY" = startup ]; then
	exec bash "$(dirname "$0")/startup.sh"
fi
require_tools iperf3 python3 ip nsenter unshare timeout getconf
# make bench does not build the test tools: build the VM table's one
if [ -z "$BENCH_ONLY" ] || [ "$BENCH_ONLY" = vm ]; then
	[ -x "$VM_BENCH" ] || make -s -C "$REPO_DIR" test/tools/vm_bench >&2
fi
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

# cell() - One iperf3 run: sets CELL to "GBIT CPU_S_PER_GB ENDS_S_PER_GB"
# (daemon CPU "-" without a daemon, "fail" on failure); ENDS: the user +
# system CPU of both iperf3 processes (bash's time) per GB
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
	local out=$SANDBOX_TMP/iperf.$RANDOM.json spid t0 t1 bps bytes ends
	local TIMEFORMAT='%3U %3S'
	local -a srv cli

	# shellcheck disable=SC2207 # words of a fixed prefix
	srv=($(ns_cmd "$sns") iperf3 -s -1 -p "$port")
	# shellcheck disable=SC2207
	cli=($(ns_cmd "$cns") timeout $((BENCH_TIME + 30)) iperf3 -c "$addr"
	     -p "$port" -t "$BENCH_TIME" -l 64K --connect-timeout 3000 -J)
	COMMANDS+=("# $label" "${srv[*]} &" "${cli[*]}")

	{ time "${srv[@]}" </dev/null >/dev/null 2>&1; } 2>"$out.srv" &
	spid=$!
	track_pid "$spid"
	if ! busywait 3000 listening "$sns" "$port"; then
		stop_pid "$spid"
		CELL="fail - -"
		return
	fi

	[ -n "$dpid" ] && t0=$(cpu_ticks "$dpid")
	{ time "${cli[@]}" </dev/null >"$out" 2>&1; } 2>"$out.cli"
	[ -n "$dpid" ] && t1=$(cpu_ticks "$dpid")
	slowwait 5 pid_gone "$spid" || stop_pid "$spid"
	wait "$spid" 2>/dev/null

	read -r bps bytes < <(iperf_json "$out")
	if [ "${bytes:-0}" -eq 0 ]; then
		CELL="fail - -"
		echo "$label: iperf3 failed:" >&2
		tail -n 5 "$out" >&2
		return
	fi
	ends=$(cat "$out.srv" "$out.cli" 2>/dev/null | awk -v n="$bytes" '
		NF == 2 { s += $1 + $2; k++ }
		END { if (k == 2) printf "%.2f\n", s / (n / 1e9); else print "-" }')
	if [ -n "$dpid" ] && [ -n "$t0" ] && [ -n "$t1" ]; then
		CELL=$(awk -v b="$bps" -v n="$bytes" -v d="$((t1 - t0))" \
			   -v hz="$CLK_TCK" -v e="$ends" 'BEGIN {
			printf "%." (b < 1e8 ? 3 : 2) "f %.2f %s\n", b / 1e9,
			       d / hz / (n / 1e9), e }')
	else
		CELL=$(awk -v b="$bps" -v e="$ends" 'BEGIN {
			printf "%." (b < 1e8 ? 3 : 2) "f - %s\n", b / 1e9, e }')
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
	local in out cin cout ein eout gns dpid

	if [ "$bin" = veth ]; then
		gns=host
		dpid=
	else
		PASSTD=$bin
		if ! start_daemon --config-net -m "${ROW_MTU:-65520}" \
			-t "$PORT" -T none -u none -U none "$@" \
			>"$SANDBOX_TMP/start.out" 2>&1 ||
		   ! slowwait 10 guest_routes; then
			ROWS+=("| $name | daemon did not start | | | | | | | |")
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
	read -r in cin ein <<<"$CELL"
	cell "$REMOTE_PID" "$gns" "$REMOTE_LO4" "$R_PORT" "$dpid" \
		"$name, ns->remote"
	read -r out cout eout <<<"$CELL"
	if [ "$bin" = veth ]; then
		CEIL_IN=$in
		CEIL_OUT=$out
	else
		stop_daemon
		stop_pid "$GUEST_PID"
	fi
	ROWS+=("| $name | $in | $(ratio "$in" "$CEIL_IN") | $cin | $ein | $out |
$(ratio "$out" "$CEIL_OUT") | $cout | $eout |")
}

# tcp_table() - Measure and print the TCP table
tcp_table() {
	local r passtd_bin pasta_version

	echo "# passtd TCP throughput"
	echo
	echo "Machine: $(nproc) CPUs ($(awk -F': ' '/model name/ { print $2;
		exit }' /proc/cpuinfo)), Linux $(uname -r), $(date -u +%Y-%m-%d)."
	echo "iperf3 $(iperf3 --version | awk 'NR == 1 { print $2 }'), TCP, one" \
	     "stream, 64 KiB writes, ${BENCH_TIME} s per cell, MTU 65520" \
	     "(guest MTU 1500 in the -m 1500 rows)."
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
		ROWS+=("| passtd | not built ($PASSTD) | | | | | | | |")
	fi
	if [ -x "$PASTA" ]; then
		row "pasta ($PASTA)" "$PASTA"
	fi
	# The guest at MTU 1500, as many VMs and containers run: what the
	# tap's segmentation offload is worth (the veth stays at 65520)
	# (row() points PASSTD at each row's binary: use PASSTD_BIN)
	if [ -x "$PASSTD_BIN" ]; then
		ROW_MTU=1500 row "passtd -m 1500" "$PASSTD_BIN"
		if "$PASSTD_BIN" --help 2>&1 | grep -q -- --no-gso; then
			ROW_MTU=1500 row "passtd -m 1500 --no-gso" \
				"$PASSTD_BIN" --no-gso
		fi
	fi
	if [ -x "$PASTA" ]; then
		ROW_MTU=1500 row "pasta ($PASTA) -m 1500" "$PASTA"
	fi

	echo "| path | remote->ns Gbit/s | ratio | CPU s/GB | iperf3 s/GB" \
	     "| ns->remote Gbit/s | ratio | CPU s/GB | iperf3 s/GB |"
	echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|"
	for r in "${ROWS[@]}"; do
		echo "${r//$'\n'/ }"
	done
	echo
	echo "Ratio: to the kernel veth row, same direction. CPU s/GB: the" \
	     "daemon's user + system CPU seconds per 10^9 bytes moved;" \
	     "iperf3 s/GB: the same for both iperf3 processes together" \
	     "(the work any path leaves to its ends; on $(nproc) CPUs," \
	     "a path moves at most $(nproc) / (CPU + iperf3) GB/s)."
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
		# what yielding to the guest's reader buys, with and
		# without batched calls
		if "$PASSTD_BIN" --help 2>&1 | grep -q -- --udp-yield; then
			udp_row "passtd --udp-yield 0" "$PASSTD_BIN" \
				--udp-yield 0
			udp_row "passtd --no-mmsg --udp-yield 0" \
				"$PASSTD_BIN" --no-mmsg --udp-yield 0
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
	     "$(ratio "${UDP_IN64[passtd]:-}" "${UDP_IN64[passtd --no-gso]:-}")," \
	     "passtd / passtd --udp-yield 0 =" \
	     "$(ratio "${UDP_IN64[passtd]:-}" \
		      "${UDP_IN64[passtd --udp-yield 0]:-}")," \
	     "passtd --udp-yield 0 / passtd --no-mmsg --udp-yield 0 =" \
	     "$(ratio "${UDP_IN64[passtd --udp-yield 0]:-}" \
		      "${UDP_IN64[passtd --no-mmsg --udp-yield 0]:-}")."
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
# Return: 1 if VM_BG never got ready (CELL set by vm_fail())
vm_pair() {
	local label=$1; shift
	local bout=$1; shift
	local word=$1; shift
	local fout=$1; shift
	local pid

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

# vm_udp_cell() - One UDP run through the daemon: sets CELL to "KFPS (LOSS)"
# $1:	Direction: in (remote->guest) or out (guest->remote)
# $2:	Datagram size
# $3:	Daemon socket
# $4:	Label for the command list
vm_udp_cell() {
	local dir=$1; shift
	local len=$1; shift
	local sock=$1; shift
	local label=$1; shift
	local t=$((BENCH_TIME + 30)) n=$RANDOM gout rout
	local got got_n sent

	gout=$SANDBOX_TMP/vm_guest.$n.out
	rout=$SANDBOX_TMP/vm_remote.$n.out
	# shellcheck disable=SC2207 # words of a fixed prefix
	if [ "$dir" = in ]; then
		VM_BG=("$VM_BENCH" -s "$sock" -t "$t" udp-in "$VM_UPORT" "$len")
		VM_FG=($(ns_cmd "$REMOTE_PID") "$VM_BENCH" -d "$BENCH_TIME"
		       -t "$t" -b "$REMOTE_LO4" udp-source "$HOST_ADDR4"
		       "$VM_UPORT" "$len")
		vm_pair "$label" "$gout" ready "$rout" || return
		got=$(vm_kv "$gout" fps)
		sent=$(vm_kv "$rout" frames)
		got_n=$(vm_kv "$gout" frames)
	else
		VM_BG=($(ns_cmd "$REMOTE_PID") "$VM_BENCH" -t "$t"
		       -b "$REMOTE_LO4" udp-sink "$R_PORT")
		VM_FG=("$VM_BENCH" -s "$sock" -d "$BENCH_TIME" -t "$t"
		       udp-out "$REMOTE_LO4" "$R_PORT" "$len")
		vm_pair "$label" "$rout" listening "$gout" || return
		got=$(vm_kv "$rout" fps)
		sent=$(vm_kv "$gout" frames)
		got_n=$(vm_kv "$rout" frames)
	fi
	if [ -z "$got" ] || [ -z "$sent" ]; then
		vm_fail "$label" "$gout" "$rout"
		return
	fi
	CELL=$(awk -v p="$got" -v g="$got_n" -v s="$sent" 'BEGIN {
		l = s > 0 ? 100 * (s - g) / s : 0
		if (l < 0) l = 0
		printf "%.1f (%." (l < 1 ? 2 : 1) "f %%)\n", p / 1000, l }')
}

# vm_tcp_cell() - One TCP run through the daemon: sets CELL to "GBIT", with
# the guest's retransmissions, gaps or duplicates if there were any
# $1:	Direction: in (remote->guest) or out (guest->remote)
# $2:	Daemon socket
# $3:	Label for the command list
vm_tcp_cell() {
	local dir=$1; shift
	local sock=$1; shift
	local label=$1; shift
	local t=$((BENCH_TIME + 30)) n=$RANDOM gout rout gbps k v extra

	gout=$SANDBOX_TMP/vm_guest.$n.out
	rout=$SANDBOX_TMP/vm_remote.$n.out
	# shellcheck disable=SC2207 # words of a fixed prefix
	VM_BG=($(ns_cmd "$REMOTE_PID") "$VM_BENCH" -t "$t" -b "$REMOTE_LO4"
	       "$([ "$dir" = in ] && echo tcp-source || echo tcp-sink)"
	       "$R_PORT")
	VM_FG=("$VM_BENCH" -s "$sock" -d "$BENCH_TIME" -t "$t"
	       "tcp-$dir" "$REMOTE_LO4" "$R_PORT")
	vm_pair "$label" "$rout" listening "$gout" || return

	gbps=$(vm_kv "$gout" gbps)
	if [ -z "$gbps" ]; then
		vm_fail "$label" "$gout" "$rout"
		return
	fi
	extra=
	for k in rexmit gaps dups; do
		v=$(vm_kv "$gout" $k)
		[ "${v:-0}" = 0 ] || extra+="${extra:+, }$v $k"
	done
	CELL=$(awk -v b="$gbps" 'BEGIN { printf "%." (b < 0.1 ? 3 : 2) "f\n",
						 b }')${extra:+ ($extra)}
}

# vm_listening() - Succeed once a VM-mode daemon's socket accepts
# $1:	Socket path
vm_listening() {
	local sock=$1; shift

	[ -S "$sock" ] && pid_alive "$DAEMON_PID"
}

# vm_row() - Measure one VM-mode row
# $1:	Row name
# $@:	Daemon command, without -f -s SOCK -u PORT
vm_row() {
	local name=$1; shift
	local sock cells=() dir len
	local -A way=([in]="remote->guest" [out]="guest->remote")

	DAEMON_COUNT=$((DAEMON_COUNT + 1))
	DAEMON_LOG=$SANDBOX_TMP/daemon.$DAEMON_COUNT.log
	sock=$SANDBOX_TMP/vm.$DAEMON_COUNT.sock
	echo "$* -f -s $sock -u $VM_UPORT" >"$DAEMON_LOG"
	"$@" -f -s "$sock" -u "$VM_UPORT" </dev/null >>"$DAEMON_LOG" 2>&1 &
	DAEMON_PID=$!
	track_pid "$DAEMON_PID"
	if ! slowwait 10 vm_listening "$sock"; then
		VM_ROWS+=("| $name | daemon did not start | | | | | |")
		tail -n 5 "$DAEMON_LOG" >&2
		stop_daemon
		return
	fi
	VM_COMMANDS+=("# $name: $(head -n 1 "$DAEMON_LOG")")

	# A daemon that died leaves the rest of its row empty
	for dir in in out; do
		for len in 64 1400; do
			CELL=-
			pid_alive "$DAEMON_PID" && vm_udp_cell "$dir" "$len" \
				"$sock" "$name, UDP ${way[$dir]}, $len B"
			cells+=("$CELL")
		done
	done
	for dir in in out; do
		CELL=-
		pid_alive "$DAEMON_PID" && vm_tcp_cell "$dir" "$sock" \
			"$name, TCP ${way[$dir]}"
		cells+=("$CELL")
	done
	if ! pid_alive "$DAEMON_PID"; then
		wait "$DAEMON_PID" 2>/dev/null
		echo "$name: the daemon died, status $?:" >&2
		tail -n 5 "$DAEMON_LOG" >&2
	fi
	stop_daemon
	VM_ROWS+=("| $name | ${cells[0]} | ${cells[1]} | ${cells[2]} |
${cells[3]} | ${cells[4]} | ${cells[5]} |")
}

# vm_table() - Measure and print the VM-mode table
vm_table() {
	local r passt_version

	echo "# passtd VM mode (socket protocol)"
	echo
	echo "Machine: $(nproc) CPUs ($(awk -F': ' '/model name/ { print $2;
		exit }' /proc/cpuinfo)), Linux $(uname -r), $(date -u +%Y-%m-%d)."
	echo "Guest: test/tools/vm_bench on the daemon's UNIX socket (32-bit" \
	     "length, then the frame), MTU 65520, ${BENCH_TIME} s per cell;" \
	     "its far ends in the remote namespace."
	if [ -x "$PASST" ]; then
		passt_version=$(dpkg-query -W -f='${Version}' passt 2>/dev/null)
		[ -n "$passt_version" ] &&
			passt_version=" (Debian passt $passt_version)"
		echo "passt: $PASST$passt_version."
	fi
	echo

	if [ ! -x "$VM_BENCH" ]; then
		VM_ROWS+=("| all | not built ($VM_BENCH) | | | | | |")
	elif [ -x "$PASSTD_BIN" ]; then
		vm_row "passtd --vm" "$PASSTD_BIN" --vm
	else
		VM_ROWS+=("| passtd --vm | not built ($PASSTD_BIN) | | | | | |")
	fi
	if [ -x "$VM_BENCH" ] && [ -x "$PASST" ]; then
		vm_row "passt ($PASST)" "$PASST"
	fi

	echo "| daemon | UDP remote->guest 64 B kfps | 1400 B kfps |" \
	     "UDP guest->remote 64 B kfps | 1400 B kfps |" \
	     "TCP remote->guest Gbit/s | TCP guest->remote Gbit/s |"
	echo "|---|---:|---:|---:|---:|---:|---:|"
	for r in "${VM_ROWS[@]}"; do
		echo "${r//$'\n'/ }"
	done
	echo
	echo "kfps: thousands of datagrams per second counted by the" \
	     "receiver (the guest, or udp-sink in the remote namespace)," \
	     "from its first batch to its last; in parentheses, the" \
	     "datagrams lost, percent of those the sender counted." \
	     "Gbit/s: TCP payload the guest received, or the daemon" \
	     "acknowledged to the guest; a guest's retransmissions (go-back" \
	     "on duplicate ACKs or 200 ms without progress), gaps and" \
	     "duplicate segments are shown when there were any. With no" \
	     "loss, the daemon kept up and the sender was the limit." \
	     "fail (stalled): nothing acknowledged or received for 3 s;" \
	     "fail (daemon died): the daemon exited during the cell (the" \
	     "rest of its row is not measured)."
	echo
	echo "Commands, run from the sandbox namespace (the daemon's host" \
	     "side). /proc/$REMOTE_PID/ns/net is the remote namespace."
	echo
	echo '```'
	printf '%s\n' "${VM_COMMANDS[@]}"
	echo '```'
}

PASSTD_BIN=$PASSTD
UDP_ROWS=()
UDP_COMMANDS=()
UDP_CEIL=
declare -A UDP_IN64
VM_ROWS=()
VM_COMMANDS=()
VM_BG=()		# vm_pair(): the background and foreground commands
VM_FG=()
VM_UPORT=10002

if [ -z "$BENCH_ONLY" ] || [ "$BENCH_ONLY" = tcp ]; then
	tcp_table
fi
if [ -z "$BENCH_ONLY" ] || [ "$BENCH_ONLY" = udp ]; then
	[ "$BENCH_ONLY" = udp ] || echo
	udp_table
fi
if [ -z "$BENCH_ONLY" ] || [ "$BENCH_ONLY" = vm ]; then
	[ "$BENCH_ONLY" = vm ] || echo
	vm_table
fi
if [ -z "$BENCH_ONLY" ]; then
	echo
	bash "$(dirname "$0")/startup.sh"
	echo
	FOOTPRINT_SMAPS=0 bash "$(dirname "$0")/footprint.sh"
fi
