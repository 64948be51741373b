#!/bin/bash
#
# test/vhost_bench.sh - make bench's VM rows cannot rot: test/tools/vm_bench
# as the vhost-user front end (-V) of passtd --vm --vhost-user, 1 s per run
#
# Theory of operation
# Each check is one short run of the pair make bench's VM section runs
# (test/perf/bench.sh, vm_udp_cell and vm_tcp_cell): the far end
# (udp-sink, udp-source, tcp-sink, tcp-source) in the remote namespace,
# the guest side on the daemon's socket, in the sandbox's namespace (the
# daemon's host side). A check passes when the run ended by itself with
# a figure above zero: the guest's Gbit/s for TCP (no "stalled", no reset),
# the receiver's count for UDP. Runs: UDP 1400 B and TCP both ways with
# offloads (checksum, TSO, merged buffers), TCP both ways with -O (no
# offloads negotiated), TCP both ways with 2 queue pairs and 2 streams
# against --vhost-queues 2, and -P 2 on the stream socket (passtd --vm)
# so that the stream rows' 4-stream cells work too; the daemons must
# still run at the end. Figures are not checked against any rate: this
# is not a measurement (make bench is).

# shellcheck disable=SC2317 # helpers are called through ktap_check
# shellcheck source=test/lib/sandbox.sh
. "$(dirname "$0")/lib/sandbox.sh"

VM_BENCH=${VM_BENCH:-$TEST_DIR/tools/vm_bench}

require_tools nsenter unshare ip timeout
require_passtd
[ -x "$VM_BENCH" ] || ktap_skip_all "no $VM_BENCH (make test/tools/vm_bench)"
setup_sandbox

UPORT=10002		# -u UPORT: remote->guest UDP
R_PORT=5201		# far ends in the remote namespace, on 198.51.100.1
SECS=1
T=$((SECS + 20))	# every tool's -t bound

# bench_daemon() - Start a VM-mode daemon with -u UPORT, wait for it
# $1:	Socket path
# $@:	More options
bench_daemon() {
	local sock=$1; shift

	vm_daemon "$sock" -u "$UPORT" "$@"
}

# pair() - Run BG in the background until it prints its ready line, then
# FG to its end, then wait for BG
# $1:	Name for the output files
# $2:	"remote" if BG is the far end (FG the guest), "guest" if the reverse
# $3:	Ready word of BG ("listening", "ready")
#
# Output in $SANDBOX_TMP/NAME.bg and NAME.fg. Return: FG's exit status, 1
# if BG never got ready
pair() {
	local name=$1; shift
	local where=$1; shift
	local word=$1; shift
	local bout=$SANDBOX_TMP/$name.bg fout=$SANDBOX_TMP/$name.fg rc pid
	local bns=host fns=$REMOTE_PID

	[ "$where" = remote ] && { bns=$REMOTE_PID; fns=host; }
	bg_in "$bns" "$bout" "${BG[@]}"
	pid=$BG_PID
	if ! slowwait 5 has_line "$bout" "$word"; then
		echo "# $name: the background side did not get ready:"
		sed 's/^/#   /' "$bout"
		stop_pid "$pid"
		return 1
	fi
	run_in "$fns" "${FG[@]}" >"$fout" 2>&1
	rc=$?
	finish_bg "$pid" 10
	if [ "$rc" != 0 ]; then
		echo "# $name: exit status $rc:"
		sed 's/^/#   /' "$bout" "$fout"
	fi
	return "$rc"
}

# positive() - Succeed if a figure is a number above zero
# $1:	Figure
positive() {
	awk -v v="$1" 'BEGIN { exit !(v + 0 > 0) }'
}

# tcp_run() - One TCP run: succeed if it ended with Gbit/s above zero
# $1:	Name
# $2:	in (remote->guest) or out (guest->remote)
# $3:	Daemon socket
# $4:	Streams (-P), for both ends
# $@:	More guest options (-V, -q, -O)
tcp_run() {
	local name=$1; shift
	local dir=$1; shift
	local sock=$1; shift
	local p=$1; shift
	local far=tcp-sink g

	[ "$dir" = in ] && far=tcp-source
	BG=("$VM_BENCH" -t "$T" -P "$p" -b "$REMOTE_LO4" "$far" "$R_PORT")
	FG=("$VM_BENCH" -s "$sock" "$@" -P "$p" -d "$SECS" -t "$T"
	    "tcp-$dir" "$REMOTE_LO4" "$R_PORT")
	pair "$name" remote listening || return 1
	g=$(kv "$SANDBOX_TMP/$name.fg" gbps)
	echo "# $name: $(grep '^mode=' "$SANDBOX_TMP/$name.fg")"
	positive "$g"
}

# no_gaps() - Succeed if a tcp-in run saw no gap in any stream
# $1:	Name of the run
no_gaps() {
	local name=$1; shift

	[ "$(kv "$SANDBOX_TMP/$name.fg" gaps)" = 0 ]
}

# udp_run() - One UDP run of 1400 B: succeed if the receiver counted some
# $1:	Name
# $2:	in or out
# $3:	Daemon socket
# $@:	Guest options
udp_run() {
	local name=$1; shift
	local dir=$1; shift
	local sock=$1; shift
	local f

	if [ "$dir" = in ]; then
		BG=("$VM_BENCH" -s "$sock" "$@" -t "$T" udp-in "$UPORT" 1400)
		FG=("$VM_BENCH" -d "$SECS" -t "$T" -b "$REMOTE_LO4"
		    udp-source "$HOST_ADDR4" "$UPORT" 1400)
		pair "$name" guest ready || return 1
		f=$(kv "$SANDBOX_TMP/$name.bg" frames)
		echo "# $name: $(grep '^mode=' "$SANDBOX_TMP/$name.bg")"
	else
		BG=("$VM_BENCH" -t "$T" -b "$REMOTE_LO4" udp-sink "$R_PORT")
		FG=("$VM_BENCH" -s "$sock" "$@" -d "$SECS" -t "$T" udp-out
		    "$REMOTE_LO4" "$R_PORT" 1400)
		pair "$name" remote listening || return 1
		f=$(kv "$SANDBOX_TMP/$name.bg" frames)
		echo "# $name: $(grep '^mode=' "$SANDBOX_TMP/$name.fg")," \
		     "received: $f"
	fi
	positive "$f"
}

# refused() - Succeed if vm_bench -V -q 2 fails set-up against a daemon
# offering one pair, saying why
# $1:	Daemon socket
refused() {
	local sock=$1; shift
	local rc

	timeout 10 "$VM_BENCH" -s "$sock" -V -q 2 -t 5 udp-in "$UPORT" 64 \
		>"$SANDBOX_TMP/q2.out" 2>&1
	rc=$?
	sed 's/^/# /' "$SANDBOX_TMP/q2.out"
	[ "$rc" = 1 ] && grep -q 'MQ not offered' "$SANDBOX_TMP/q2.out"
}

# The daemons' sockets
VU_SOCK=$SANDBOX_TMP/vu.sock
VQ_SOCK=$SANDBOX_TMP/vq.sock
ST_SOCK=$SANDBOX_TMP/st.sock
V1_SOCK=$SANDBOX_TMP/v1.sock
BG=()
FG=()

ktap_plan 17

if bench_daemon "$VU_SOCK" --vhost-user; then
	VU_PID=$DAEMON_PID
	ktap_check "vhost-user, offloads: UDP 1400 B guest->remote" \
		udp_run vu_udp_out out "$VU_SOCK" -V
	ktap_check "vhost-user, offloads: UDP 1400 B remote->guest" \
		udp_run vu_udp_in in "$VU_SOCK" -V
	ktap_check "vhost-user, offloads: TCP guest->remote" \
		tcp_run vu_tcp_out out "$VU_SOCK" 1 -V
	ktap_check "vhost-user, offloads: TCP remote->guest" \
		tcp_run vu_tcp_in in "$VU_SOCK" 1 -V
	ktap_check "vhost-user, -O: TCP guest->remote" \
		tcp_run vu_tcp_out_o out "$VU_SOCK" 1 -V -O
	ktap_check "vhost-user, -O: TCP remote->guest" \
		tcp_run vu_tcp_in_o in "$VU_SOCK" 1 -V -O
	# more data in flight than the ring holds: every used entry whole,
	# and no frame dropped (the sockets keep what the guest cannot take)
	ktap_check "vhost-user, 4 streams on one pair: TCP remote->guest" \
		tcp_run vu_tcp_in4 in "$VU_SOCK" 4 -V
	# 32 receive buffers: 8 connections' windows (8 MiB each) are far
	# more than those and the daemon's 16 MiB backlog
	ktap_check "vhost-user, 8 streams, 32 guest buffers: TCP remote->guest" \
		tcp_run vu_tcp_in4r in "$VU_SOCK" 8 -V -R 32
	ktap_check "vhost-user, 32 guest buffers: no gap, nothing dropped" \
		no_gaps vu_tcp_in4r
	ktap_check "vhost-user daemon still runs" pid_alive "$VU_PID"
	stop_pid "$VU_PID"
else
	for i in 1 2 3 4 5 6 7 8 9 10; do
		ktap_fail "passtd --vm --vhost-user did not start"
	done
fi

if bench_daemon "$VQ_SOCK" --vhost-user --vhost-queues 2; then
	VQ_PID=$DAEMON_PID
	ktap_check "vhost-user, 2 pairs, 2 streams: TCP guest->remote" \
		tcp_run vq_tcp_out out "$VQ_SOCK" 2 -V -q 2
	ktap_check "vhost-user, 2 pairs, 2 streams: TCP remote->guest" \
		tcp_run vq_tcp_in in "$VQ_SOCK" 2 -V -q 2
	ktap_check "vhost-user, 2 pairs, daemon still runs" \
		pid_alive "$VQ_PID"
	stop_pid "$VQ_PID"
else
	for i in 1 2 3; do
		ktap_fail "passtd --vhost-user --vhost-queues 2 did not start"
	done
fi

if bench_daemon "$ST_SOCK"; then
	ST_PID=$DAEMON_PID
	ktap_check "stream, 2 streams: TCP guest->remote" \
		tcp_run st_tcp_out out "$ST_SOCK" 2
	ktap_check "stream, 2 streams: TCP remote->guest" \
		tcp_run st_tcp_in in "$ST_SOCK" 2
	ktap_check "stream daemon still runs" pid_alive "$ST_PID"
	stop_pid "$ST_PID"
else
	for i in 1 2 3; do
		ktap_fail "passtd --vm did not start"
	done
fi

# A front end that asks for more pairs than offered stops, saying why
if bench_daemon "$V1_SOCK" --vhost-user --vhost-queues 1; then
	ktap_check "vm_bench -V -q 2 against one offered pair: refused" \
		refused "$V1_SOCK"
	stop_daemon
else
	ktap_fail "passtd --vhost-user --vhost-queues 1 did not start"
fi

ktap_finish
