#!/bin/sh
# contrib/kernel/run.sh - boot a kernel under QEMU (TCG, icount) with the
# daemon, iperf3 and two joined NICs, and run the in-guest benchmark
#
# Usage: run.sh KERNEL [COMMAND...]
#
# Builds an initramfs: busybox-static, the daemon (./passtd of the source
# tree, or $PASSTD), iperf3, jq, iproute2's ip, Debian's pasta when
# installed ($PASTA), ethtool, test/tools/udp_zc_send, udp_stream and
# tcp_stream when there (make them), each
# with the shared libraries ldd names, plus bench-guest.sh, udp-zc.sh
# (UDP MSG_ZEROCOPY cells, run as COMMAND 'sh /udp-zc.sh', see its
# header), the functional tests (every tests/NAME.c next to this
# script, built with $CC -static, as /tests/NAME: no libraries needed;
# tests/*.sh as they are), the benchmark's own tools (tools/NAME.c as
# /usr/bin/NAME), the binaries KBENCH_EXTRA names (as /usr/bin/NAME)
# and an /init. Boots it with
#   qemu-system-x86_64 -accel tcg -smp 1 -m 1G -icount shift=0,sleep=off
# so that guest time follows instructions executed (one nanosecond each,
# idle time skipped): throughput measured in guest time repeats from run
# to run to 1-2 % (doc/performance.md), whatever else loads the machine.
#
# The two virtio-net NICs are joined outside the guest (KBENCH_LINK):
#  hub	   (default) a QEMU hub, -netdev hubport: frames pass from one NIC
#	   to the other inside QEMU, in step with the guest clock
#  stream  two "-netdev stream" ends on one UNIX socket, one listening,
#	   one connecting: a socket QEMU polls in real time, which under
#	   sleep=off loses the race with the guest clock (pings time out,
#	   transfers stall now and then)
#  tap	   two taps with virtio-net headers on a bridge, in a user and
#	   network namespace of QEMU's own (no privilege, nothing set up
#	   on this machine's network)
# Only tap carries virtio-net headers: with hub and stream the guest's
# NICs offer no checksum offload, no scatter-gather and no TSO, so the
# guest segments and checksums in software and copies MSG_ZEROCOPY sends
# (completions say "copied"); with tap they have all three, as a real NIC
# has, and send pages by reference, but the host's bridge runs beside
# the guest clock, so figures repeat less well.
# Inside the guest, eth0 stays in the initial network namespace, where the
# daemon runs (the "host" side); eth1 moves to a "remote" namespace, the
# far side of the wire (bench-guest.sh).
#
# Without COMMAND, /init runs bench-guest.sh; with one, /init sets up the
# same namespaces and runs COMMAND (busybox sh -c) instead, e.g.
#   run.sh bzImage 'ip -br addr; nsenter -t $REMOTE -n /usr/sbin/ip -br a'
#   run.sh bzImage /tests/peek_off
# ($REMOTE: the PID holding the remote namespace; busybox runs its own
# applets first: "ip" in the command's shell is iproute2's, elsewhere
# call /usr/sbin/ip)
# The console (ttyS0) is copied to standard output and to
# $KBENCH_LOG (default build/kernel/run.log); the guest reboots at the
# end, which -no-reboot turns into QEMU's exit, and run.sh exits with the
# status of the guest's command.
#
# Environment: PASSTD, PASTA (binaries put in the guest), KBENCH_EXTRA
# (more binaries, in /usr/bin, e.g. test/tools/udp_stream), KBENCH_TIME
# (seconds per iperf3 cell, default 2), KBENCH_ROWS (bench-guest.sh),
# KBENCH_MTU (NICs and veth, default 1500), KBENCH_DAEMON_MTU (the
# daemon's tap, -m, default 65520), KBENCH_TIMEOUT
# (seconds of host time before QEMU is killed, default 3600),
# KBENCH_DIRS, KBENCH_DAEMON_ARGS, KBENCH_PROTO, KBENCH_UDP_LEN,
# KBENCH_PERF (bench-guest.sh; perf is then put in the initramfs, for a
# kernel built with profile.fragment),
# KBENCH_LINK (hub, stream or tap, above), KBENCH_SLEEP (icount sleep=,
# default off), KBENCH_DEBUG (set -x in the guest), QEMU, CC (the tests'
# compiler, default cc).
set -eu

HERE=$(cd "$(dirname "$0")" && pwd)
TOP=$(cd "$HERE/../.." && pwd)
PASSTD=${PASSTD:-$TOP/passtd}
PASTA=${PASTA:-/usr/bin/pasta}
QEMU=${QEMU:-qemu-system-x86_64}
KBENCH_LOG=${KBENCH_LOG:-$TOP/build/kernel/run.log}
KBENCH_TIMEOUT=${KBENCH_TIMEOUT:-3600}
KBENCH_LINK=${KBENCH_LINK:-hub}

usage() {
	echo "Usage: $0 KERNEL [COMMAND...]" >&2
	echo "  KERNEL:  a bzImage (contrib/kernel/build.sh prints one)" >&2
	echo "  COMMAND: run in the guest instead of bench-guest.sh" >&2
	echo "Environment: PASSTD PASTA KBENCH_TIME KBENCH_ROWS KBENCH_MTU" \
	     "KBENCH_DAEMON_MTU" \
	     "KBENCH_TIMEOUT KBENCH_LOG KBENCH_LINK QEMU" >&2
}

case "${1:-}" in
-h|--help) usage; exit 0 ;;
"") usage; exit 1 ;;
esac
KERNEL=$1
shift
[ -r "$KERNEL" ] || { echo "run.sh: no kernel at $KERNEL" >&2; exit 1; }
[ -x "$PASSTD" ] || { echo "run.sh: no daemon at $PASSTD (make)" >&2; exit 1; }
BUSYBOX=/bin/busybox
file -L "$BUSYBOX" 2>/dev/null | grep -q 'statically linked' ||
	BUSYBOX=/usr/bin/busybox
for t in "$QEMU" iperf3 jq ip cpio gzip ldd; do
	command -v "$t" >/dev/null || {
		echo "run.sh: $t missing (apt-get install qemu-system-x86" \
		     "busybox-static iperf3 jq iproute2 cpio)" >&2; exit 1; }
done

WORK=$(mktemp -d "${TMPDIR:-/tmp}/kbench.XXXXXX")
# shellcheck disable=SC2317 # called by the trap
cleanup() {
	rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
ROOT=$WORK/root

# put() - Copy a binary into the initramfs with the libraries it needs
# $1:	Binary on this machine
# $2:	Path in the initramfs
put() {
	mkdir -p "$ROOT$(dirname "$2")"
	cp -L "$1" "$ROOT$2"
	ldd "$1" 2>/dev/null | awk '/=> \// { print $3 } /^\t\// { print $1 }' |
	while read -r lib; do
		[ -e "$ROOT$lib" ] && continue
		mkdir -p "$ROOT$(dirname "$lib")"
		cp -L "$lib" "$ROOT$lib"
	done
}

mkdir -p "$ROOT/bin" "$ROOT/sbin" "$ROOT/usr/bin" "$ROOT/usr/sbin" \
	 "$ROOT/etc" "$ROOT/proc" "$ROOT/sys" "$ROOT/dev" "$ROOT/tmp" \
	 "$ROOT/run" "$ROOT/root"
cp "$BUSYBOX" "$ROOT/bin/busybox"
ln -s busybox "$ROOT/bin/sh"
# The multiarch loader path: x86_64 binaries ask for /lib64
put "$PASSTD" /usr/bin/passtd
put "$(command -v iperf3)" /usr/bin/iperf3
put "$(command -v jq)" /usr/bin/jq
put "$(command -v ip)" /usr/sbin/ip
if [ -x "$PASTA" ]; then
	put "$PASTA" /usr/bin/pasta
fi
if [ -n "${KBENCH_PERF:-}" ]; then
	command -v perf >/dev/null || {
		echo "run.sh: KBENCH_PERF needs perf (apt-get install linux-perf)" >&2
		exit 1; }
	put "$(command -v perf)" /usr/bin/perf
fi
if command -v ethtool >/dev/null; then
	put "$(command -v ethtool)" /usr/sbin/ethtool
fi
for b in udp_zc_send udp_stream tcp_stream; do
	if [ -x "$TOP/test/tools/$b" ]; then
		put "$TOP/test/tools/$b" "/usr/bin/$b"
	fi
done
for b in ${KBENCH_EXTRA:-}; do
	[ -x "$b" ] || { echo "run.sh: KBENCH_EXTRA: no $b" >&2; exit 1; }
	put "$b" "/usr/bin/$(basename "$b")"
done
cp "$HERE/bench-guest.sh" "$ROOT/bench-guest.sh"
cp "$HERE/udp-zc.sh" "$ROOT/udp-zc.sh"
mkdir -p "$ROOT/tests" "$ROOT/usr/bin"
for t in "$HERE"/tests/*.c "$HERE"/tools/*.c; do
	[ -e "$t" ] || continue
	case "$t" in */tests/*) d=/tests ;; *) d=/usr/bin ;; esac
	${CC:-cc} -static -O2 -pthread -Wall -Wextra -Werror \
		-o "$ROOT$d/$(basename "$t" .c)" "$t" || {
		echo "run.sh: cannot build $t (static: libc6-dev)" >&2
		exit 1; }
done
for t in "$HERE"/tests/*.sh; do
	[ -e "$t" ] || continue
	cp "$t" "$ROOT/tests/"
done
echo 'root:x:0:0:root:/root:/bin/sh' > "$ROOT/etc/passwd"
echo 'nobody:x:65534:65534:nobody:/nonexistent:/bin/false' >> "$ROOT/etc/passwd"
printf 'root:x:0:\nnogroup:x:65534:\n' > "$ROOT/etc/group"
printf '127.0.0.1 localhost\n::1 localhost\n' > "$ROOT/etc/hosts"
: > "$ROOT/etc/resolv.conf"
{
	echo "KBENCH_TIME=${KBENCH_TIME:-2}"
	echo "KBENCH_MTU=${KBENCH_MTU:-1500}"
	echo "KBENCH_DAEMON_MTU=${KBENCH_DAEMON_MTU:-65520}"
	echo "KBENCH_DEBUG=${KBENCH_DEBUG:-}"
	echo "KBENCH_ROWS='${KBENCH_ROWS:-}'"
	echo "KBENCH_DIRS='${KBENCH_DIRS:-}'"
	echo "KBENCH_DAEMON_ARGS='${KBENCH_DAEMON_ARGS:-}'"
	echo "KBENCH_PROTO='${KBENCH_PROTO:-}'"
	echo "KBENCH_UDP_LEN='${KBENCH_UDP_LEN:-}'"
	echo "KBENCH_PERF='${KBENCH_PERF:-}'"
	echo "KBENCH_HOST='$(nproc) CPUs ($(awk -F': ' '/model name/ {
		print $2; exit }' /proc/cpuinfo)), $(uname -r)'"
} > "$ROOT/etc/kbench.conf"
if [ $# -gt 0 ]; then
	{
		echo '. /run/kbench.env'
		echo 'ip() { /usr/sbin/ip "$@"; }'
		printf '%s\n' "$*"
	} > "$ROOT/etc/kbench.cmd"
fi

cat > "$ROOT/init" <<'INIT'
#!/bin/sh
# /init of the benchmark's initramfs (written by contrib/kernel/run.sh)
# The initramfs is no mount of its own, where pivot_root() fails (pasta's
# sandbox needs it): copy it to a tmpfs and run this again from there
if [ ! -e /.kbench-tmpfs ]; then
	/bin/busybox mkdir /newroot
	/bin/busybox mount -t tmpfs -o size=512m root /newroot
	for f in /*; do
		[ "$f" = /newroot ] || /bin/busybox cp -a "$f" /newroot/
	done
	/bin/busybox touch /newroot/.kbench-tmpfs
	exec /bin/busybox switch_root /newroot /init
fi
/bin/busybox --install -s /bin
export PATH=/usr/sbin:/usr/bin:/bin HOME=/root
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev 2>/dev/null
mount -t tmpfs tmp /tmp
mount -t tmpfs run /run
echo "KBENCH-INIT uptime $(cut -d' ' -f1 /proc/uptime) s"
. /etc/kbench.conf
export KBENCH_DEBUG KBENCH_TIME KBENCH_MTU KBENCH_DAEMON_MTU KBENCH_ROWS \
	KBENCH_HOST KBENCH_LINK KBENCH_DIRS KBENCH_DAEMON_ARGS KBENCH_PROTO \
	KBENCH_UDP_LEN KBENCH_PERF
if [ -f /etc/kbench.cmd ]; then
	sh /bench-guest.sh --setup-only && sh /etc/kbench.cmd
else
	sh /bench-guest.sh
fi
echo "KBENCH-EXIT $?"
# No ACPI in the kernel: reboot, which QEMU's -no-reboot turns into exit
reboot -f
INIT
chmod +x "$ROOT/init"

mkdir -p "$(dirname "$KBENCH_LOG")"
SOCK=$WORK/wire.sock
case "$KBENCH_LINK" in
hub)
	NET="-netdev hubport,id=n0,hubid=0 -netdev hubport,id=n1,hubid=0"
	WRAP=
	;;
stream)
	NET="-netdev stream,id=n0,server=on,addr.type=unix,addr.path=$SOCK
	     -netdev stream,id=n1,server=off,addr.type=unix,addr.path=$SOCK"
	WRAP=
	;;
tap)
	# Two taps with virtio-net headers on a bridge, in a user and
	# network namespace of QEMU's own: no privilege needed, nothing
	# configured on this machine's network
	NET="-netdev tap,id=n0,ifname=kt0,script=no,downscript=no,vnet_hdr=on
	     -netdev tap,id=n1,ifname=kt1,script=no,downscript=no,vnet_hdr=on"
	cat > "$WORK/wrap.sh" <<'WRAP'
set -e
ip link add kbr type bridge
for t in kt0 kt1; do
	ip tuntap add "$t" mode tap vnet_hdr
	ip link set "$t" master kbr up
done
ip link set kbr up
exec "$@"
WRAP
	WRAP="unshare -rn sh $WORK/wrap.sh"
	;;
*)
	echo "run.sh: KBENCH_LINK is hub, stream or tap" >&2; exit 1 ;;
esac
echo "KBENCH_LINK=$KBENCH_LINK" >> "$ROOT/etc/kbench.conf"
(cd "$ROOT" && find . | cpio -o -H newc --quiet | gzip -1) > "$WORK/initrd"

echo "run.sh: booting $KERNEL ($(du -k "$WORK/initrd" | cut -f1) KiB" \
     "initramfs, $KBENCH_LINK link), console log $KBENCH_LOG" >&2
start=$(date +%s)
set +e
# shellcheck disable=SC2086 # NET and WRAP are lists of words
timeout -k 10 "$KBENCH_TIMEOUT" $WRAP "$QEMU" -accel tcg -smp 1 -m 1G \
	-icount shift=0,sleep=${KBENCH_SLEEP:-off} -nographic -no-reboot \
	-kernel "$KERNEL" -initrd "$WORK/initrd" \
	-append 'console=ttyS0 quiet panic=-1' $NET \
	-device virtio-net-pci,romfile=,netdev=n0,mac=52:54:00:12:00:01 \
	-device virtio-net-pci,romfile=,netdev=n1,mac=52:54:00:12:00:02 \
	</dev/null 2>&1 | sed -u 's/\r//g' | tee "$KBENCH_LOG"
set -e
echo "run.sh: QEMU ran $(( $(date +%s) - start )) s of host time" >&2
rc=$(awk '/^KBENCH-EXIT / { print $2 }' "$KBENCH_LOG" | tail -n 1)
[ -n "$rc" ] || { echo "run.sh: the guest did not finish" >&2; exit 1; }
exit "$rc"
