#!/bin/sh
# contrib/kernel/bench-guest.sh - the benchmark inside the guest of run.sh
#
# Usage (by /init of run.sh's initramfs): sh bench-guest.sh [--setup-only]
#
# Network (documentation addresses only):
#
#   initial netns ("host")               remote netns
#   eth0 192.0.2.1/24 2001:db8::1/64 ~~~ eth1 192.0.2.2/24 2001:db8::2/64
#   default via 192.0.2.2, 2001:db8::2   lo 198.51.100.1 2001:db8:1::1
#         (~~~: the two virtio-net NICs, joined by QEMU outside the guest)
#
#   daemon rows: the daemon runs in the initial netns, its guest is a
#   third namespace (--config-net copies eth0's addresses and routes);
#   veth row: two more namespaces, 203.0.113.1/24 ~ 203.0.113.2/24.
#
# Rows (KBENCH_ROWS, space-separated, default all): nic veth passtd
# zerocopy-off no-peek-offset no-mmsg no-gso pasta; also, not in the
# default set, zerocopy-min=BYTES (passtd --zerocopy-min BYTES). Every row
# measures TCP both ways (KBENCH_DIRS, default "in out": one of them for
# just that direction) with one iperf3 run of KBENCH_TIME seconds
# (default 2) each, 64 KiB writes:
#   out  namespace -> remote: client beside the daemon's guest (or in the
#	 initial netns for "nic", in the first veth namespace for "veth"),
#	 server in the remote namespace (198.51.100.1:5201)
#   in   remote -> namespace: client in the remote namespace to
#	 192.0.2.1:10001, which the daemon forwards (-t 10001) to the server
#	 in its guest (for "nic", the server listens in the initial netns)
# Throughput is iperf3's receiver figure, in guest time: under -icount
# the guest clock follows instructions, so figures repeat to 1-2 %. The
# daemon's CPU per GB is the growth of utime + stime (/proc/PID/stat)
# over the run, divided by the bytes iperf3 moved. A daemon that rejects
# a row's option (not in its --help) or does not start gives a row saying
# so, and the rest goes on.
#
# Also not in the default set: args=OPT,OPT,... (passtd with those
# options, commas for spaces: args=--udp-batch,8).
#
# KBENCH_PROTO=udp measures UDP instead, with udpflood (contrib/kernel/
# tools/): unpaced sendmmsg() of KBENCH_UDP_LEN-byte datagrams (default
# 64) for KBENCH_TIME seconds, to the same addresses and ports (daemon
# rows forward the port with -u as well as -t). The figures are the
# datagrams received per second of sending (thousands, kdgram/s) and the
# daemon's CPU per datagram received (us), measured until the receiver
# has seen nothing for 0.5 s, so the daemon's work on the queued tail
# counts.
#
# For a look inside a daemon row: KBENCH_DAEMON_ARGS adds options to every
# daemon (--debug: its counters at exit, printed after the row as "#"
# lines). Each cell prints the bytes it moved ("# cell").
#
# KBENCH_PERF=1 (a kernel built with KBUILD_FRAGMENTS=profile.fragment,
# and run.sh puts perf in the initramfs): every daemon cell, TCP or UDP,
# is also profiled, perf record -a of cpu-clock over the cell but its
# first and last second, and prints as "# perf" lines the daemon's share of the
# samples, its top symbols and the share under each system call (the
# children of the kernel function each goes through). The profile's cost
# is in that cell's figures: compare cells of a KBENCH_PERF run only.
#
# Output: a Markdown table on standard output (the serial console).
set -u
[ -n "${KBENCH_DEBUG:-}" ] && set -x

T=${KBENCH_TIME:-2}
MTU=${KBENCH_MTU:-1500}
DMTU=${KBENCH_DAEMON_MTU:-65520}
ROWS=${KBENCH_ROWS:-}
DIRS=${KBENCH_DIRS:-in out}
DARGS=${KBENCH_DAEMON_ARGS:-}
PROTO=${KBENCH_PROTO:-tcp}
ULEN=${KBENCH_UDP_LEN:-64}
ALL_ROWS="nic veth passtd zerocopy-off no-peek-offset"
ALL_ROWS="$ALL_ROWS no-mmsg no-gso pasta"
[ -n "$ROWS" ] || ROWS=$ALL_ROWS
PORT=10001
R_PORT=5201
HZ=$(getconf CLK_TCK 2>/dev/null || echo 100)
PIDS=

# ip() - iproute2's ip: busybox sh runs its own applets before any in PATH,
# and busybox's ip knows no "nodad" nor "netns"
ip() {
	/usr/sbin/ip "$@"
}

# own_netns() - Succeed once a process is in a network namespace not ours
own_netns() {
	n=$(readlink "/proc/$1/ns/net") && [ -n "$n" ] &&
		[ "$n" != "$(readlink /proc/self/ns/net)" ]
}

# holder() - Start a process holding a new network namespace, wait until
# it holds it
# Prints its PID.
# $1:	"user" for a user namespace too, as a rootless container has
holder() {
	if [ "${1:-}" = user ]; then
		unshare -r -n sleep 100000 </dev/null >/dev/null 2>&1 &
	else
		unshare -n sleep 100000 </dev/null >/dev/null 2>&1 &
	fi
	h=$!
	wait_for own_netns "$h"
	echo "$h"
}

# in_ns() - Run a command in a holder's network namespace
# $1:	holder PID
in_ns() {
	pid=$1; shift
	if [ "$1" = ip ]; then
		shift
		set -- /usr/sbin/ip "$@"
	fi
	nsenter -t "$pid" -n "$@"
}

# wait_for() - Retry a command up to 100 times, 0.1 s apart
wait_for() {
	i=0
	while [ $i -lt 100 ]; do
		"$@" >/dev/null 2>&1 && return 0
		sleep 0.1
		i=$((i + 1))
	done
	return 1
}

# setup() - Addresses on both NICs, the remote namespace
setup() {
	ip link set lo up
	REMOTE=$(holder)
	PIDS="$PIDS $REMOTE"
	own_netns "$REMOTE" || return 1
	ip link set eth1 netns "$REMOTE" || return 1
	ip link set eth0 mtu "$MTU" up
	ip addr add 192.0.2.1/24 dev eth0
	ip addr add 2001:db8::1/64 dev eth0 nodad
	ip route add default via 192.0.2.2
	ip -6 route add default via 2001:db8::2
	in_ns "$REMOTE" ip link set lo up
	in_ns "$REMOTE" ip link set eth1 mtu "$MTU" up
	in_ns "$REMOTE" ip addr add 192.0.2.2/24 dev eth1
	in_ns "$REMOTE" ip addr add 2001:db8::2/64 dev eth1 nodad
	in_ns "$REMOTE" ip addr add 198.51.100.1/32 dev lo
	in_ns "$REMOTE" ip addr add 2001:db8:1::1/128 dev lo
	wait_for ping -c 1 -W 1 198.51.100.1 || return 1
	# For run.sh's COMMAND
	echo "REMOTE=$REMOTE" > /run/kbench.env
}

# cpu_ticks() - utime + stime of a process, in clock ticks
cpu_ticks() {
	sed 's/^.*) //' "/proc/$1/stat" 2>/dev/null | awk '{ print $12 + $13 }'
}

# listening() - Succeed if a TCP port listens in a namespace
# $1:	holder PID, or "init"
# $2:	port
listening() {
	port_hex=$(printf '%04X' "$2")
	if [ "$1" = init ]; then
		cat /proc/net/tcp /proc/net/tcp6
	else
		in_ns "$1" cat /proc/net/tcp /proc/net/tcp6
	fi 2>/dev/null | awk -v p=":$port_hex" '
		$2 ~ p "$" && $4 == "0A" { f = 1 } END { exit !f }'
}

# udp_bound() - Succeed if a UDP port is bound in a namespace
# $1:	holder PID, or "init"
# $2:	port
udp_bound() {
	port_hex=$(printf '%04X' "$2")
	if [ "$1" = init ]; then
		cat /proc/net/udp /proc/net/udp6
	else
		in_ns "$1" cat /proc/net/udp /proc/net/udp6
	fi 2>/dev/null | awk -v p=":$port_hex" '
		$2 ~ p "$" { f = 1 } END { exit !f }'
}

# in_or_init() - Run a command in a holder's namespace, or here ("init")
# $1:	holder PID, or "init"
in_or_init() {
	where=$1; shift
	if [ "$where" = init ]; then
		"$@"
	else
		in_ns "$where" "$@"
	fi
}

# cell_udp() - One udpflood run; prints "KDGRAM_S CPU_US_PER_DGRAM"
# Arguments as cell()'s
cell_udp() {
	sns=$1 cns=$2 addr=$3 port=$4 dpid=$5
	out=/tmp/udpflood.out
	in_or_init "$sns" udpflood recv "$port" 500 $((T + 30)) > "$out" 2>&1 &
	rpid=$!
	wait_for udp_bound "$sns" "$port"
	t0=; t1=; ppid=
	[ -n "$dpid" ] && t0=$(cpu_ticks "$dpid")
	perf_start "$dpid"
	sent=$(in_or_init "$cns" timeout $((T + 30)) udpflood send "$addr" \
		"$port" "$ULEN" "$T")
	wait "$rpid"
	[ -n "$dpid" ] && t1=$(cpu_ticks "$dpid")
	perf_end "udp $addr:$port"
	# shellcheck disable=SC2046 # "received N BYTES"
	set -- $(cat "$out")
	if [ "${1:-}" != received ] || [ "${2:-0}" = 0 ]; then
		echo "fail -"
		sed 's/^/# /' "$out" >&2
		return
	fi
	echo "# cell udp $addr:$port: $sent, received $2 ($3 bytes)" >&2
	if [ -n "$t0" ] && [ -n "$t1" ]; then
		awk -v n="$2" -v t="$T" -v d="$((t1 - t0))" -v hz="$HZ" 'BEGIN {
			printf "%.1f %.2f\n", n / t / 1e3, d / hz * 1e6 / n }'
	else
		awk -v n="$2" -v t="$T" 'BEGIN { printf "%.1f -\n", n / t / 1e3 }'
	fi
}

# cell() - One iperf3 run; prints "GBIT CPU_S_PER_GB" ("fail -" on failure)
# $1:	server's holder PID, or "init" for the initial namespace
# $2:	client's holder PID, or "init"
# $3:	address the client connects to
# $4:	port
# $5:	daemon PID, or empty
# perf_start() - With KBENCH_PERF, profile the whole guest over a cell but
# its first and last second, in the background ($ppid, empty if not)
# $1:	daemon PID, or empty (no profile without a daemon)
perf_start() {
	ppid=
	if [ -n "${KBENCH_PERF:-}" ] && [ -n "$1" ] && [ "$T" -gt 2 ]; then
		(sleep 1; perf record -a -g -F 999 -e cpu-clock \
			-o /tmp/perf.data -- sleep $((T - 2))) >/dev/null 2>&1 &
		ppid=$!
	fi
}

# perf_end() - Wait for perf_start()'s profile and print its summary
# $1:	Cell name
perf_end() {
	if [ -n "$ppid" ] && wait "$ppid"; then
		perf_summary "$1" >&2
	fi
}

# perf_summary() - Print a cell's profile (/tmp/perf.data) as "# perf" lines
# $1:	Cell name
perf_summary() {
	perf report -i /tmp/perf.data --stdio --no-children -g none \
		--sort comm,dso,sym 2>/dev/null | awk -v c="$1" '
		/^ +[0-9.]+%/ { sub(/%/, "", $1); all += $1
			if ($2 == "passtd") { d += $1; if (n++ < 20) top[n] = $0 } }
		END { printf "# perf %s: passtd %.1f%% of all samples; its top " \
			"symbols (%% of all):\n", c, d
			for (i = 1; i <= n && i <= 20; i++)
				print "# perf   " top[i] }'
	perf report -i /tmp/perf.data --stdio --children -g none \
		--sort comm,sym 2>/dev/null | awk '
		BEGIN { split("tun_chr_read_iter tun_chr_write_iter " \
			"__sys_sendmsg __sys_recvmsg __sys_recvmmsg " \
			"__sys_sendmmsg __sys_recvfrom do_epoll_wait " \
			"__sys_getsockopt do_syscall_64 " \
			"syscall_exit_to_user_mode", e, " ")
			for (i in e) want[e[i]] = 1 }
		$3 == "passtd" && ($5 in want) {
			print "# perf   children " $1 " " $5 }'
}

cell() {
	if [ "$PROTO" = udp ]; then
		cell_udp "$@"
		return
	fi
	sns=$1 cns=$2 addr=$3 port=$4 dpid=$5
	out=/tmp/iperf.json
	if [ "$sns" = init ]; then
		iperf3 -s -1 -p "$port" >/dev/null 2>&1 &
	else
		in_ns "$sns" iperf3 -s -1 -p "$port" >/dev/null 2>&1 &
	fi
	spid=$!
	wait_for listening "$sns" "$port"
	t0=; t1=; ppid=
	[ -n "$dpid" ] && t0=$(cpu_ticks "$dpid")
	perf_start "$dpid"
	if [ "$cns" = init ]; then
		timeout $((T + 60)) iperf3 -c "$addr" -p "$port" -t "$T" \
			-l 64K --connect-timeout 3000 -J > "$out" 2>&1
	else
		in_ns "$cns" timeout $((T + 60)) iperf3 -c "$addr" -p "$port" \
			-t "$T" -l 64K --connect-timeout 3000 -J > "$out" 2>&1
	fi
	[ -n "$dpid" ] && t1=$(cpu_ticks "$dpid")
	perf_end "$addr:$port"
	wait_for sh -c "! kill -0 $spid" || kill "$spid" 2>/dev/null
	wait "$spid" 2>/dev/null
	# shellcheck disable=SC2046 # two words wanted
	set -- $(jq -M -r '.end.sum_received | "\(.bits_per_second) \(.bytes)"' \
		 "$out" 2>/dev/null)
	if [ $# -ne 2 ] || [ "$2" = null ] || [ "$2" = 0 ]; then
		echo "fail -"
		jq -M -r '.error // empty' "$out" 2>/dev/null | sed 's/^/# /' >&2
		return
	fi
	echo "# cell $addr:$port: $2 bytes, $1 bit/s" >&2
	if [ -n "$t0" ] && [ -n "$t1" ]; then
		awk -v b="$1" -v n="$2" -v d="$((t1 - t0))" -v hz="$HZ" 'BEGIN {
			printf "%.3f %.2f\n", b / 1e9, d / hz / (n / 1e9) }'
	else
		awk -v b="$1" 'BEGIN { printf "%.3f -\n", b / 1e9 }'
	fi
}

# ratio() - A throughput's ratio to the NIC row's
ratio() {
	awk -v v="$1" -v c="${2:-0}" 'BEGIN {
		if (v + 0 > 0 && c + 0 > 0) printf "%.2f\n", v / c
		else print "-" }'
}

# print_row() - One table row from two cells
# $1:	name
# $2:	"in" cell, $3: "out" cell
print_row() {
	# shellcheck disable=SC2086 # each cell is two words
	set -- "$1" $2 $3
	echo "| $1 | $2 | $(ratio "$2" "$NIC_IN") | $3 | $4 | $(ratio "$4" \
		"$NIC_OUT") | $5 |"
}

# row_nic() - The kernel's own path over the two NICs
row_nic() {
	cin=$(cell init "$REMOTE" 192.0.2.1 "$PORT" "")
	cout=$(cell "$REMOTE" init 198.51.100.1 "$R_PORT" "")
	NIC_IN=${cin%% *}
	NIC_OUT=${cout%% *}
	print_row "kernel, virtio-net NICs" "$cin" "$cout"
}

# row_veth() - The kernel's veth between two namespaces
row_veth() {
	a=$(holder); b=$(holder)
	PIDS="$PIDS $a $b"
	ip link add va type veth peer name vb
	ip link set va netns "$a"; ip link set vb netns "$b"
	in_ns "$a" ip link set lo up
	in_ns "$b" ip link set lo up
	in_ns "$a" ip link set va mtu "$MTU" up
	in_ns "$b" ip link set vb mtu "$MTU" up
	in_ns "$a" ip addr add 203.0.113.1/24 dev va
	in_ns "$b" ip addr add 203.0.113.2/24 dev vb
	cin=$(cell "$a" "$b" 203.0.113.1 "$PORT" "")
	cout=$(cell "$b" "$a" 203.0.113.2 "$R_PORT" "")
	print_row "kernel, veth" "$cin" "$cout"
	kill "$a" "$b"
}

# guest_routes() - Succeed once a guest namespace has its default route
guest_routes() {
	in_ns "$1" ip -4 route show default | grep -q via
}

# row_daemon() - A daemon row
# $1:	row name
# $2:	daemon binary
# $3:	option the row is about, or empty
# $4:	more options (not checked against --help)
row_daemon() {
	name=$1 bin=$2 opt=$3 more=${4:-}
	if [ ! -x "$bin" ]; then
		echo "| $name | not in the guest ($bin) | | | | | |"
		return
	fi
	if [ -n "$opt" ] && ! "$bin" --help 2>&1 | grep -q -- "$opt"; then
		echo "| $name | skipped: $(basename "$bin") has no $opt | | | | | |"
		return
	fi
	g=$(holder user)
	ufwd=none
	[ "$PROTO" = udp ] && ufwd=$PORT
	# shellcheck disable=SC2086 # options: zero or more words
	"$bin" -f --config-net -m "$DMTU" -t "$PORT" -T none -u "$ufwd" \
		-U none $opt $more $DARGS "$g" </dev/null >/tmp/daemon.log 2>&1 &
	dpid=$!
	# Ready: routes in its guest, its -t port listening here
	if ! wait_for guest_routes "$g" || ! wait_for listening init "$PORT" ||
	   ! kill -0 "$dpid" 2>/dev/null; then
		echo "| $name | daemon did not start | | | | | |"
		sed 's/^/# /' /tmp/daemon.log | tail -n 5
		kill "$dpid" "$g" 2>/dev/null
		wait "$dpid" 2>/dev/null
		return
	fi
	cin="- -"; cout="- -"
	case " $DIRS " in *" in "*)
		cin=$(cell "$g" "$REMOTE" 192.0.2.1 "$PORT" "$dpid") ;; esac
	case " $DIRS " in *" out "*)
		cout=$(cell "$REMOTE" "$g" 198.51.100.1 "$R_PORT" "$dpid") ;;
	esac
	print_row "$name" "$cin" "$cout"
	kill "$dpid" 2>/dev/null
	wait_for sh -c "! kill -0 $dpid" || kill -9 "$dpid" 2>/dev/null
	wait "$dpid" 2>/dev/null
	kill "$g" 2>/dev/null
	[ -n "$DARGS" ] && grep 'zerocopy: \|tcp: \|tap: \|udp: ' /tmp/daemon.log |
		sed "s/^/# $name: /"
}

cleanup() {
	for p in $PIDS; do kill "$p" 2>/dev/null; done
}
trap cleanup EXIT

if ! setup; then
	echo "bench-guest.sh: network set-up failed" >&2
	ip addr >&2
	exit 1
fi
[ "${1:-}" = --setup-only ] && { trap - EXIT; exit 0; }

NIC_IN=
NIC_OUT=
echo "Guest: Linux $(uname -r), 1 vCPU (QEMU TCG, -icount shift=0," \
     "sleep=off), on $KBENCH_HOST."
if [ "$PROTO" = udp ]; then
	echo "udpflood, UDP, $ULEN-byte datagrams, unpaced sendmmsg() for $T s" \
	     "of guest time per cell, MTU $MTU (NICs, veth; QEMU link:" \
	     "${KBENCH_LINK:-stream}), daemon tap MTU $DMTU."
	echo "Thousands of datagrams received per second of sending; ratios" \
	     "to the NIC row; CPU: the daemon's utime + stime per datagram" \
	     "received (us)."
	echo
	echo "| row | remote->ns kdgram/s | ratio | CPU us/dgram |" \
	     "ns->remote kdgram/s | ratio | CPU us/dgram |"
else
	echo "iperf3 $(iperf3 --version | awk 'NR == 1 { print $2 }'), TCP," \
	     "one stream, 64 KiB writes, $T s of guest time per cell, MTU" \
	     "$MTU (NICs, veth; QEMU link: ${KBENCH_LINK:-stream}), daemon" \
	     "tap MTU $DMTU."
	echo "Gbit/s in guest time; ratios to the NIC row; CPU: the daemon's" \
	     "utime + stime per GB moved (s/GB)."
	echo
	echo "| row | remote->ns Gbit/s | ratio | CPU s/GB |" \
	     "ns->remote Gbit/s | ratio | CPU s/GB |"
fi
echo "|---|---|---|---|---|---|---|"
for r in $ROWS; do
	s0=$(cut -d' ' -f1 /proc/uptime)
	case "$r" in
	nic) row_nic ;;
	veth) row_veth ;;
	passtd) row_daemon passtd /usr/bin/passtd "" ;;
	zerocopy-off) row_daemon "passtd --no-zerocopy" /usr/bin/passtd \
			--no-zerocopy ;;
	no-peek-offset) row_daemon "passtd --no-peek-offset" \
			/usr/bin/passtd --no-peek-offset ;;
	no-mmsg) row_daemon "passtd --no-mmsg" /usr/bin/passtd --no-mmsg ;;
	no-gso) row_daemon "passtd --no-gso" /usr/bin/passtd --no-gso ;;
	# Started as root, pasta switches to nobody before it opens the
	# target's namespaces, which root's holder does not allow: it keeps
	# root (passtd opens them first, then switches)
	pasta) row_daemon "pasta (Debian)" /usr/bin/pasta "" "--runas 0" ;;
	zerocopy-min=*) row_daemon "passtd --zerocopy-min ${r#*=}" \
			/usr/bin/passtd --zerocopy-min "${r#*=}" ;;
	args=*) a=$(echo "${r#*=}" | tr , ' ')
		row_daemon "passtd $a" /usr/bin/passtd "" "$a" ;;
	*) echo "| $r | unknown row | | | | | |" ;;
	esac
	echo "# $r: $(awk -v a="$s0" '{ printf "%.1f", $1 - a }' \
		/proc/uptime) s of guest time" >&2
done
