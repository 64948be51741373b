#!/bin/sh
# contrib/kernel/udp-zc.sh - in the guest of run.sh: UDP sends with and
# without MSG_ZEROCOPY over the NIC, the shapes the daemon would lend
#
# Usage (run.sh's COMMAND, after bench-guest.sh --setup-only):
#   run.sh KERNEL 'UZC_TIME=3 sh /udp-zc.sh'
#
# test/tools/udp_zc_send (in the initramfs as /usr/bin/udp_zc_send)
# sends from the initial namespace, the daemon's, out of eth0 for
# UZC_TIME seconds of guest time per cell (default 2), one shape per row:
#   train	64400 B UDP_SEGMENT trains of 1400 B datagrams, contiguous:
#		the largest run udp.c sends in one message
#   train-S	the same train, one iovec per datagram at a 1456 B stride
#		from offset 52: where the datagrams sit in the daemon's tap
#		receive buffer (10 B virtio-net header, 42 B of headers)
#   train13-S	13 datagrams so (18200 B): about the most whose pages fit
#		in one skb's 17 fragments
#   d1400 d8k d32k d60k  single datagrams of 1400, 8192, 32768, 61440 B
# each copying ("copy") and with MSG_ZEROCOPY ("zc"), twice, in the
# orders copy zc, then zc copy (UZC_SHAPES: fewer). Targets (UZC_TARGETS,
# default all three):
#   remote  198.51.100.1:6001 in the remote namespace, over eth0, the
#	    taps' bridge outside the guest, eth1; a udp_zc_send receiver
#	    there (UDP_GRO) counts what arrives
#   sink    192.0.2.3, a neighbour entry with a documentation MAC nobody
#	    has: the frames leave eth0 and the bridge floods them to eth1,
#	    whose device (QEMU) drops them by MAC filter, so the guest pays
#	    for sending only (eth1's received packets, printed, tell if it
#	    does not)
#   noneigh 192.0.2.4, which nobody answers ARP for: the datagrams are
#	    built (copied or pinned) and routed, then wait for a neighbour
#	    that never comes and are dropped, before any segmentation or
#	    device: the part of a send that MSG_ZEROCOPY changes, alone
# First a check pass: every shape with MSG_ZEROCOPY, 50 sends to a
# receiver that checks every byte (-V).
#
# Output: the NICs' offloads (ethtool -k), then one table line per cell:
# Gbit/s (the sender's bytes over its guest time), the sender's user +
# system time per 10^9 bytes (getrusage; the kernel has
# IRQ_TIME_ACCOUNTING, so softirqs are not in it), the guest's softirq
# time per 10^9 bytes (/proc/stat: transmit completions, which queue the
# notifications, and, for "remote", the whole receive side), zerocopy
# completions and how many said "copied", the share of the bytes the
# receiver got, and the packets eth0 sent and eth1 received per datagram
# sent (/proc/net/dev). Each cell's sender line comes before it as a "#"
# line.
set -u
# shellcheck source=/dev/null # written by bench-guest.sh --setup-only
. /run/kbench.env

T=${UZC_TIME:-2}
TARGETS=${UZC_TARGETS:-remote sink noneigh}
TOOL=/usr/bin/udp_zc_send
PORT=6001
SINK=192.0.2.3
SINK_MAC=00:00:5e:00:53:01	# RFC 7042 documentation unicast
NONEIGH=192.0.2.4
SHAPES=${UZC_SHAPES:-train train-S train13-S d1400 d8k d32k d60k}

# shape_args() - udp_zc_send options of a shape
shape_args() {
	case "$1" in
	train)		echo "-s 64400 -g 1400" ;;
	train-S)	echo "-s 64400 -g 1400 -S 1456 -O 52" ;;
	train13-S)	echo "-s 18200 -g 1400 -S 1456 -O 52" ;;
	d1400)		echo "-s 1400" ;;
	d8k)		echo "-s 8192" ;;
	d32k)		echo "-s 32768" ;;
	d60k)		echo "-s 61440" ;;
	esac
}

# kv() - Value of KEY in a key=value line
kv() {
	tr ' ' '\n' < "$1" | sed -n "s/^$2=//p" | head -n 1
}

# softirq_ticks() - Softirq time of /proc/stat's cpu line, 10 ms ticks
# (kept to the nanosecond with IRQ_TIME_ACCOUNTING; the user, system and
# idle columns are sampled at the tick instead, which -icount's warps over
# idle time land on, so they overstate idle time and are not used)
softirq_ticks() {
	awk '$1 == "cpu" { print $8 }' /proc/stat
}

# dev_pkts() - A device's received or sent packets (/proc/net/dev)
# $1:	"init" or a holder PID, $2: device, $3: rx or tx
dev_pkts() {
	f=3
	[ "$3" = tx ] && f=11
	if [ "$1" = init ]; then
		cat /proc/net/dev
	else
		nsenter -t "$1" -n cat /proc/net/dev
	fi | awk -v d="$2:" -v f="$f" '{ sub(/^ */, "") }
		index($0, d) == 1 { sub(/:/, ": "); print $f }'
}

# start_recv() - A receiver in the remote namespace, waited for
# $@:	more receiver options
start_recv() {
	nsenter -t "$REMOTE" -n "$TOOL" -G -i 1000 -t $((T + 30)) "$@" \
		recv "$PORT" > /tmp/recv.out 2>&1 &
	RPID=$!
	i=0
	while [ $i -lt 100 ] && ! grep -q '^listening' /tmp/recv.out; do
		sleep 0.05
		i=$((i + 1))
	done
}

# stop_recv() - Wait for the receiver to end (idle), kill it if it does not
stop_recv() {
	i=0
	while [ $i -lt 100 ] && kill -0 "$RPID" 2>/dev/null; do
		sleep 0.1
		i=$((i + 1))
	done
	kill "$RPID" 2>/dev/null
	wait "$RPID" 2>/dev/null
}

# cell() - One send run, one table line
# $1:	target, $2: shape, $3: copy or zc, $4: run number
cell() {
	tgt=$1 shape=$2 mode=$3 run=$4
	addr=198.51.100.1
	[ "$tgt" = sink ] && addr=$SINK
	[ "$tgt" = noneigh ] && addr=$NONEIGH
	zc=
	[ "$mode" = zc ] && zc=-z
	[ "$tgt" = remote ] && start_recv
	rx0=$(dev_pkts "$REMOTE" eth1 rx)
	tx0=$(dev_pkts init eth0 tx)
	c0=$(softirq_ticks)
	# shellcheck disable=SC2046,SC2086 # lists of words
	"$TOOL" $zc -t "$T" $(shape_args "$shape") send "$addr" "$PORT" \
		> /tmp/send.out 2>&1
	c1=$(softirq_ticks)
	tx1=$(dev_pkts init eth0 tx)
	rx1=$(dev_pkts "$REMOTE" eth1 rx)
	[ "$tgt" = remote ] && stop_recv
	sed 's/^/# /' /tmp/send.out
	if ! grep -q '^send ' /tmp/send.out; then
		echo "| $tgt | $shape | $mode | $run | failed | | | | | | | |"
		return
	fi
	b=$(kv /tmp/send.out bytes)
	got=-
	[ "$tgt" = remote ] && got=$(kv /tmp/recv.out bytes)
	awk -v tgt="$tgt" -v shape="$shape" -v mode="$mode" -v run="$run" \
	    -v b="$b" -v g="$(kv /tmp/send.out gbit)" \
	    -v cpu="$(kv /tmp/send.out cpu_s_per_gb)" \
	    -v done="$(kv /tmp/send.out completions)" \
	    -v cop="$(kv /tmp/send.out copied)" \
	    -v si=$((c1 - c0)) \
	    -v got="$got" -v rx=$((rx1 - rx0)) -v tx=$((tx1 - tx0)) \
	    -v dg="$(kv /tmp/send.out datagrams)" 'BEGIN {
		gb = b / 1e9
		r = got == "-" ? "-" : sprintf("%.1f", b ? 100 * got / b : 0)
		printf "| %s | %s | %s | %s | %.3f | %.3f | %.3f | %s |" \
		       " %s | %s | %.2f | %.2f |\n", tgt, shape, mode, run,
		       g, cpu, gb ? si / 100 / gb : 0,
		       mode == "zc" ? done : "-", mode == "zc" ? cop : "-", r,
		       dg ? tx / dg : 0, dg ? rx / dg : 0 }'
}

# check() - Every shape with MSG_ZEROCOPY, every byte checked at the far end
check() {
	for shape in $SHAPES; do
		# shellcheck disable=SC2046 # a list of words
		set -- $(shape_args "$shape")
		bytes=$(($2 * 50))
		start_recv -V -e "$bytes"
		# shellcheck disable=SC2046 # a list of words
		"$TOOL" -z -n 50 $(shape_args "$shape") send 198.51.100.1 \
			"$PORT" > /tmp/send.out 2>&1
		src=$?
		stop_recv
		echo "# check $shape: send exit $src: $(grep -h \
			'^error\|^send' /tmp/send.out | cut -c1-100)"
		echo "# check $shape: $(grep -h '^error\|^recv' /tmp/recv.out)"
	done
}

[ -x "$TOOL" ] || { echo "udp-zc.sh: no $TOOL (make test/tools/udp_zc_send)"; exit 1; }
/usr/sbin/ip neigh replace "$SINK" lladdr "$SINK_MAC" dev eth0 \
	nud permanent || exit 1
# The receiver's 4 MiB SO_RCVBUF, which rmem_max (not per namespace) caps
echo $((8 << 20)) > /proc/sys/net/core/rmem_max
echo "Guest: Linux $(uname -r); $T s of guest time per cell; eth0 MTU" \
     "$(cat /sys/class/net/eth0/mtu); link ${KBENCH_LINK:-?}"
if command -v ethtool >/dev/null; then
	ethtool -k eth0 | grep -E 'scatter-gather:|checksum-ip|segmentation' |
		sed 's/^/# eth0 /'
else
	echo "# no ethtool in the guest"
fi
check
echo
echo "| target | shape | mode | run | Gbit/s | sender s/GB | softirq s/GB" \
     "| completions | copied | received % | eth0 tx/dgram |" \
     "eth1 rx/dgram |"
echo "|---|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|"
for tgt in $TARGETS; do
	for shape in $SHAPES; do
		cell "$tgt" "$shape" copy 1
		cell "$tgt" "$shape" zc 1
	done
	for shape in $SHAPES; do
		cell "$tgt" "$shape" zc 2
		cell "$tgt" "$shape" copy 2
	done
done
