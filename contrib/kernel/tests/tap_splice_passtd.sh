#!/bin/sh
# contrib/kernel/tests/tap_splice_passtd.sh - passtd's TCP path into the
# tap by splice() (SPLICE_F_PEEK and the tap's splice_write, patches
# 6.12/0002 and 0003), in the guest of contrib/kernel/run.sh
#
# Usage (the guest's namespaces set up: $REMOTE, or /run/kbench.env):
#   make test/tools/tcp_stream && \
#	sh contrib/kernel/run.sh KERNEL /tests/tap_splice_passtd.sh
#
# The daemon serves a namespace of its own with -t 10001; tcp_stream in
# the remote namespace sends 64 MiB to 192.0.2.1:10001 (IPv4) and to
# [2001:db8::1]:10001 (IPv6), which the daemon forwards to tcp_stream in
# the namespace, checking every byte against the stream it should be.
# Then the namespace's end sends 16 MiB back and half-closes first (the
# FIN after spliced data). The daemon's log must say the splice path is in
# use, its counters at exit that frames went by splice() and none was
# dropped; with --no-tap-splice the same data goes by copying and no
# counter line is printed. A kernel without the patches: "1..0 # SKIP"
# (the daemon says why), status 4.
# Bounded: every tcp_stream gives up after 60 s, each wait is bounded.
set -u
# shellcheck disable=SC1091 # written by bench-guest.sh --setup-only
[ -n "${REMOTE:-}" ] || . /run/kbench.env

PORT=10001
N=0
FAILED=0
LOG=/tmp/ts-daemon.log

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
	passtd -f --config-net -t "$PORT" -T none -u none -U none --debug \
		"$@" "$G" </dev/null >"$LOG" 2>&1 &
	D=$!
	i=0
	while [ $i -lt 50 ] && ! grep -q 'TCP payload by splice' "$LOG"; do
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

# transfer() - One verified stream through the daemon
# $1:	Address the remote connects to
# $2:	Bytes remote -> namespace
# $3:	Bytes namespace -> remote, sent after the remote's end (-a)
transfer() {
	nsenter -t "$G" -n tcp_stream -t 60 -r -e "$2" -s "$3" -a \
		listen "$PORT" >/tmp/ts-ns.out 2>&1 &
	r=$!
	sleep 0.5
	nsenter -t "$REMOTE" -n tcp_stream -t 60 -s "$2" -r -e "$3" \
		connect "$1" "$PORT" >/tmp/ts-remote.out 2>&1
	rc=$?
	wait "$r" || rc=1
	sed 's/^/# ns: /' /tmp/ts-ns.out | tail -2
	sed 's/^/# remote: /' /tmp/ts-remote.out | tail -2
	return $rc
}

# run() - The checks for one setting
# $1:	Label
# $2:	What the daemon's log says after "tap splice_write): "
# $@:	Daemon options
run() {
	label=$1; shift
	want=$1; shift
	daemon "$@"
	grep -q "tap splice_write): $want" "$LOG"
	result $? "$label: the daemon says \"$want\""
	transfer 192.0.2.1 64M 0
	result $? "$label: IPv4, 64 MiB remote->namespace intact"
	transfer 2001:db8::1 64M 16M
	result $? "$label: IPv6, 64 MiB in, then 16 MiB out after a half-close"
	stop
	line=$(grep 'tap: at exit' "$LOG")
	echo "# ${line:-no counters}"
	frames=$(echo "$line" | awk '{ for (i = 1; i < NF; i++)
		if ($(i + 1) == "frames") print $i }')
	dropped=$(echo "$line" | awk '{ print $(NF - 1) }')
	what="frames by splice(): ${frames:-none}, dropped: ${dropped:-none}"
	if [ "$want" = "in use" ]; then
		[ "${frames:-0}" -gt 1000 ] && [ "$dropped" = 0 ]
	else
		[ -z "$line" ]
	fi
	result $? "$label: $what"
}

echo "TAP version 13"
unshare -r -n sleep 100000 </dev/null >/dev/null 2>&1 &
G=$!
sleep 1
daemon
if ! grep -q 'tap splice_write): in use' "$LOG"; then
	stop
	kill "$G"
	echo "1..0 # SKIP $(grep -o 'tap splice_write): .*' "$LOG")"
	exit 4
fi
stop
echo "1..8"
run "splice" "in use"
run "--no-tap-splice" "off" --no-tap-splice
kill "$G"
echo "# $N tests, $FAILED failed"
[ "$FAILED" = 0 ] && [ "$N" = 8 ]
