#!/bin/sh
# contrib/kernel/tests/udp_reg_passtd.sh - passtd's UDP path on registered
# recvmmsg() arrays (SO_RECVMMSG_REG), in the guest of contrib/kernel/run.sh
#
# Usage (the guest's namespaces set up: $REMOTE, or /run/kbench.env):
#   make test/tools/udp_stream && \
#	sh contrib/kernel/run.sh KERNEL /tests/udp_reg_passtd.sh
#
# For each --udp-batch of 8, 32 and 256, with and without
# --no-mmsg-register, the daemon serves a namespace of its own with -u
# 10001; udp_stream sends 3 flows (64, 1000 and 1400 bytes, 2000
# datagrams each, bursts of 64 paced at 8000 datagrams per second) from
# the remote to 192.0.2.1:10001, and udp_stream in the namespace checks
# every datagram: none lost, duplicated, reordered or corrupt. The daemon's
# log must say the registration is used (or off with the option), and its
# counters at exit that datagrams came through registered arrays (none
# with the option: then it prints no counters). A kernel
# without SO_RECVMMSG_REG: "1..0 # SKIP" (the daemon says so), status 4.
# Bounded: udp_stream gives up after 60 s, each wait below is bounded.
set -u
# shellcheck disable=SC1091 # written by bench-guest.sh --setup-only
[ -n "${REMOTE:-}" ] || . /run/kbench.env

PORT=10001
N=0
FAILED=0

# result() - One KTAP line
# $1:	0 for ok
# $2:	Name
result() {
	N=$((N + 1))
	if [ "$1" = 0 ]; then
		echo "ok $N $2"
	else
		echo "not ok $N $2"
		FAILED=$((FAILED + 1))
	fi
}

# daemon() - Start passtd for holder $G with options; sets D
daemon() {
	passtd -f --config-net -t none -T none -u "$PORT" -U none --debug \
		"$@" "$G" </dev/null >/tmp/reg-daemon.log 2>&1 &
	D=$!
	i=0
	while [ $i -lt 50 ] && ! grep -q 'SO_RECVMMSG_REG' /tmp/reg-daemon.log
	do
		sleep 0.1
		i=$((i + 1))
	done
	sleep 1		# the namespace's addresses and routes
}

# stop() - End the daemon
stop() {
	kill "$D" 2>/dev/null
	wait "$D" 2>/dev/null
}

# run() - One check: flows through a daemon with options
# $1:	Label
# $2:	What the daemon's log says after "(SO_RECVMMSG_REG): "
# $@:	Daemon options
run() {
	label=$1; shift
	want=$1; shift
	daemon "$@"
	grep -q "(SO_RECVMMSG_REG): $want" /tmp/reg-daemon.log
	result $? "$label: the daemon says \"$want\""
	nsenter -t "$G" -n udp_stream -t 60 -n 2000 -f 3 -i 3000 \
		recv "$PORT" >/tmp/reg-recv.out 2>&1 &
	r=$!
	sleep 1
	nsenter -t "$REMOTE" -n udp_stream -t 60 -n 2000 -r 8000 -k 64 \
		-z 64,1000,1400 send 192.0.2.1 "$PORT" >/tmp/reg-send.out 2>&1
	wait "$r"
	rc=$?
	sed 's/^/# /' /tmp/reg-recv.out | grep '^# flows='
	result "$rc" "$label: 3 flows, 6000 datagrams intact, in order, none lost"
	stop
	line=$(grep 'udp: at exit' /tmp/reg-daemon.log)
	echo "# ${line:-no counters}"
	got=$(echo "$line" | awk '{ for (i = 1; i < NF; i++)
		if ($(i + 1) == "datagrams") print $i }')
	if [ "$want" = used ]; then
		[ "${got:-0}" -gt 0 ]
	else
		[ -z "$line" ]
	fi
	result $? "$label: datagrams through registered arrays: ${got:-none}"
}

echo "TAP version 13"
unshare -r -n sleep 100000 </dev/null >/dev/null 2>&1 &
G=$!
sleep 1
daemon
if ! grep -q '(SO_RECVMMSG_REG): used' /tmp/reg-daemon.log; then
	stop
	kill "$G"
	echo "1..0 # SKIP $(grep -o 'SO_RECVMMSG_REG): .*' \
		/tmp/reg-daemon.log)"
	exit 4
fi
stop
echo "1..18"
for b in 8 32 256; do
	run "--udp-batch $b" used --udp-batch "$b"
	run "--udp-batch $b --no-mmsg-register" "off (--no-mmsg-register)" \
		--udp-batch "$b" --no-mmsg-register
done
kill "$G"
echo "# $N tests, $FAILED failed"
[ "$FAILED" = 0 ] && [ "$N" = 18 ]
