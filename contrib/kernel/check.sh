#!/bin/sh
# contrib/kernel/check.sh - stock against patched kernels: functional tests
# and the benchmark rows each patch affects (make kernel-check)
#
# Usage: check.sh [VERSION...]
#
# For each VERSION (default: every directory of patches/ holding a
# *.patch), build.sh builds the stock kernel and the patched one (every
# patches/VERSION/*.patch, in name order), then run.sh boots them:
#  - once each to run the functional tests of the version's patches
#    (tests/NAME.c, built static into the guest's /tests by run.sh), whose
#    KTAP results are counted: pass, fail, skip;
#  - KCHECK_RUNS times each (default 3), stock and patched in turn, for
#    each benchmark row of a patch (bench-guest.sh's KBENCH_ROWS and
#    KBENCH_DIRS), with the daemon's --debug: its feature probes show
#    which path it took on that kernel (the PROBE column below).
# Then prints, per patch, the tests' counts and a table of the rows:
# throughput (Gbit/s, guest time) and the daemon's CPU per GB, stock,
# patched and patched/stock, for every run and their median.
# Host time, both kernels cached: about 8 minutes for 6.1's one patch (a
# tests boot ~45 s, a benchmark boot ~75 s, 2 + 6 of them), 25 for
# 6.12's UDP rows (18 boots of 10 s cells); a first
# build of a version adds a full kernel build (6 to 16 minutes on 2 CPUs,
# by load), the patched kernel then builds incrementally (~25 s).
#
# The map: one line per patch. The next patch adds a line (and its
# tests/NAME.c; bench-guest.sh its row if a new one is needed).
#   VERSION PATCH TESTS ROWS DIRS ENV PROBE
#   TESTS  tests/NAME.c programs, comma-separated
#   ROWS   bench-guest.sh rows, separated by ; (- for none; a row may
#	   hold commas: args=--udp-batch,8)
#   DIRS   in, out or in,out (remote->namespace, namespace->remote)
#   ENV    run.sh settings for the rows, NAME=VALUE,... (- for none):
#	   KBENCH_LINK=tap where the daemon, not the NICs' software
#	   segmentation, is what limits the row; KBENCH_PROTO=udp for
#	   datagram rows (thousands of datagrams per second, the
#	   daemon's CPU in us per datagram)
#   PROBE  grep -E pattern for the daemon's --debug lines that say whether
#	   it uses the feature (- for none)
KCHECK_MAP='
6.1 0001-tcp-add-SO_PEEK_OFF-support.patch peek_off passtd in KBENCH_LINK=tap SO_PEEK_OFF
6.12 0001-net-registered-mmsghdr-array-for-recvmmsg.patch recvmmsg_reg,udp_reg_passtd args=--udp-batch,8;args=--udp-batch,32;args=--udp-batch,256 in KBENCH_PROTO=udp,KBENCH_TIME=10 registered.recvmmsg
6.12 0002-tcp-peeking-splice-read-SPLICE_F_PEEK.patch tap_splice - in - -
6.12 0003-tun-splice_write.patch tap_splice,tap_splice_passtd passtd;args=--no-tap-splice in KBENCH_LINK=tap TCP.payload.by.splice
'
#
# Exit status: 0 if every functional test passed (or skipped) on every
# patched kernel and every benchmark run gave figures; 1 otherwise. Stock
# kernels are expected to fail the tests of what they lack: not counted.
#
# Environment: KCHECK_RUNS (3), KBENCH_TIME (seconds of guest time per
# cell, default 4 here), KCHECK_OUT (logs, default build/kcheck),
# KBUILD_CACHE, JOBS (build.sh), KBENCH_LINK and the rest of run.sh's.
set -eu

HERE=$(cd "$(dirname "$0")" && pwd)
TOP=$(cd "$HERE/../.." && pwd)
RUNS=${KCHECK_RUNS:-3}
OUT=${KCHECK_OUT:-$TOP/build/kcheck}
KBENCH_TIME=${KBENCH_TIME:-4}
export KBENCH_TIME

usage() {
	echo "Usage: $0 [VERSION...]" >&2
	echo "  VERSION: a directory of $HERE/patches (default: all)" >&2
	echo "Environment: KCHECK_RUNS (3) KBENCH_TIME (4) KCHECK_OUT" \
	     "KBUILD_CACHE JOBS KBENCH_LINK" >&2
}

case "${1:-}" in
-h|--help) usage; exit 0 ;;
esac
if [ $# -eq 0 ]; then
	for d in "$HERE"/patches/*/; do
		ls "$d"*.patch >/dev/null 2>&1 && set -- "$@" "$(basename "$d")"
	done
fi
[ $# -gt 0 ] || { echo "check.sh: no patches under $HERE/patches" >&2; exit 1; }
for v in "$@"; do
	ls "$HERE/patches/$v/"*.patch >/dev/null 2>&1 || {
		echo "check.sh: no patches for $v ($HERE/patches/$v)" >&2
		exit 1; }
done
case "$RUNS" in
''|*[!0-9]*|0) echo "check.sh: KCHECK_RUNS is a count" >&2; exit 1 ;;
esac
mkdir -p "$OUT"
rm -f "$OUT/.failed"
START=$(date +%s)
STATUS=0

# map() - The map's lines for a version: "PATCH TESTS ROWS DIRS ENV PROBE"
# $1:	Version
map() {
	printf '%s\n' "$KCHECK_MAP" | awk -v v="$1" '$1 == v {
		print $2, $3, $4, $5, $6, $7 }'
}

# ktap_counts() - "PASS FAIL SKIP" of one test program in a console log
# $1:	Log
# $2:	Test name
ktap_counts() {
	awk -v t="$2" '
		$0 == "KCHECK-TEST " t { on = 1; next }
		$1 == "KCHECK-RC" && $2 == t { on = 0; rc = $3 }
		!on { next }
		/^ok / { if ($0 ~ /# SKIP/) s++; else p++ }
		/^not ok / { f++ }
		/^1\.\.0 # SKIP/ { s++ }	# the whole program skipped
		END { printf "%d %d %d %s\n", p, f, s, rc == "" ? "-" : rc }
	' "$1"
}

# bench_cells() - "GBIT CPU" of the first table row of a benchmark log
# $1:	Log
# $2:	in or out
bench_cells() {
	awk -F'|' -v d="$2" '
		/^\| / && $2 !~ /^ row / && !done {
			gsub(/ /, "")
			if (d == "in") print $3, $5; else print $6, $8
			done = 1 }
		END { if (!done) print "- -" }' "$1"
}

# median() - The median of numbers on standard input ("-" if none)
median() {
	grep -E '^[0-9.]+$' | sort -n | awk '
		{ v[NR] = $1 }
		END {
			if (!NR) print "-"
			else if (NR % 2) print v[(NR + 1) / 2]
			else printf "%.3f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2
		}'
}

# isnum() - Succeed if $1 is a figure
isnum() {
	case "$1" in ''|*[!0-9.]*) return 1 ;; esac
}

# ratio() - $2 / $1, two decimals, "-" unless both are figures
ratio() {
	if isnum "$1" && isnum "$2"; then
		awk -v a="$1" -v b="$2" 'BEGIN {
			if (a + 0 > 0) printf "%.2f\n", b / a
			else print "-" }'
	else
		echo -
	fi
}

# kernel() - The bzImage of a side
# $1:	stock or patched
kernel() {
	if [ "$1" = stock ]; then echo "$K_STOCK"; else echo "$K_PATCHED"; fi
}

# boot() - run.sh, output only to its log
# $1:	Kernel
# $2:	Log
# $@:	Guest command (optional)
boot() {
	k=$1 log=$2; shift 2
	KBENCH_LOG=$log sh "$HERE/run.sh" "$k" "$@" >/dev/null 2>"$log.err" ||
		echo "check.sh: $(basename "$log"): run.sh failed," \
		     "see $log" >&2
}

for v in "$@"; do
	# shellcheck disable=SC2012 # names of ours: NNNN-name.patch
	patches=$(ls "$HERE/patches/$v/"*.patch | sort)
	if [ -z "$(map "$v")" ]; then
		echo "check.sh: no line of KCHECK_MAP for $v" >&2; exit 1
	fi
	for p in $patches; do
		map "$v" | grep -q "^$(basename "$p") " || {
			echo "check.sh: $(basename "$p") not in KCHECK_MAP" >&2
			exit 1; }
	done
	echo "check.sh: $v: building stock and patched kernels" >&2
	K_STOCK=$(nice -n 10 sh "$HERE/build.sh" "$v")
	# shellcheck disable=SC2086 # a list of paths
	K_PATCHED=$(nice -n 10 sh "$HERE/build.sh" "$v" $patches)

	tests=$(map "$v" | awk '{ gsub(",", " ", $2); print $2 }' |
		tr ' ' '\n' | sort -u | tr '\n' ' ')
	cmd="for t in $tests; do echo KCHECK-TEST \$t; if [ -x /tests/\$t ];"
	cmd="$cmd then /tests/\$t; else sh /tests/\$t.sh; fi;"
	cmd="$cmd echo KCHECK-RC \$t \$?; done"
	for side in stock patched; do
		k=$(kernel "$side")
		echo "check.sh: $v $side: functional tests" >&2
		boot "$k" "$OUT/$v-$side-tests.log" "$cmd"
	done

	map "$v" | while read -r patch ptests rows dirs env probe; do
		[ "$rows" = - ] && continue
		for row in $(echo "$rows" | tr ';' ' '); do
			for n in $(seq "$RUNS"); do
				# Alternate which side goes first
				if [ $((n % 2)) -eq 1 ]; then
					order="stock patched"
				else
					order="patched stock"
				fi
				for side in $order; do
					k=$(kernel "$side")
					echo "check.sh: $v $side: $row" \
					     "($dirs), run $n of $RUNS" >&2
					(
					if [ "$env" != - ]; then
						for e in $(echo "$env" |
							   tr ',' ' '); do
							export "${e?}"
						done
					fi
					export KBENCH_ROWS="$row"
					KBENCH_DIRS=$(echo "$dirs" | tr ',' ' ')
					export KBENCH_DIRS
					export KBENCH_DAEMON_ARGS=--debug
					boot "$k" "$OUT/$v-$side-$row-$n.log"
					)
				done
			done
		done
	done

	# The report
	map "$v" | while read -r patch ptests rows dirs env probe; do
		echo
		echo "## Linux $v: $patch"
		echo
		echo "Functional tests (KTAP results: pass/fail/skip):"
		echo
		echo "| test | stock | patched |"
		echo "|---|---|---|"
		for t in $(echo "$ptests" | tr ',' ' '); do
			# shellcheck disable=SC2046 # four words
			set -- $(ktap_counts "$OUT/$v-stock-tests.log" "$t")
			s_cell="$1/$2/$3"
			# shellcheck disable=SC2046 # four words
			set -- $(ktap_counts "$OUT/$v-patched-tests.log" "$t")
			echo "| $t | $s_cell | $1/$2/$3 |"
			if [ "$2" != 0 ] || [ $(($1 + $3)) -eq 0 ]; then
				echo "check.sh: $t fails on patched $v" >&2
				echo 1 > "$OUT/.failed"
			fi
		done
		[ "$rows" = - ] && continue
		if [ "$probe" != - ]; then
			echo
			for side in stock patched; do
				l=$(grep -h -E "$probe" \
				    "$OUT/$v-$side"-*-1.log 2>/dev/null |
				    sed 's/^# [^:]*: [0-9.]*: //' | sort -u |
				    tr '\n' ' ')
				[ -n "$l" ] || l="no line matches $probe"
				echo "Daemon on $side: $l"
				echo
			done
		fi
		case ",$env," in
		*,KBENCH_PROTO=udp,*)
			unit="kdgram/s in guest time; CPU: daemon us/datagram"
			rate=kdgram/s cpu="CPU us" ;;
		*)	unit="Gbit/s in guest time; CPU: daemon s/GB"
			rate=Gbit/s cpu=CPU ;;
		esac
		secs=$(echo ",$env," | sed -n 's/.*,KBENCH_TIME=\([0-9]*\),.*/\1/p')
		secs=${secs:-$KBENCH_TIME}
		for row in $(echo "$rows" | tr ';' ' '); do
		for d in $(echo "$dirs" | tr ',' ' '); do
			echo
			echo "Row $row, $d, $(echo "$env" | tr ',' ' ')" \
			     "($unit), $secs s cells:"
			echo
			echo "| run | stock $rate | patched $rate | ratio |" \
			     "stock $cpu | patched $cpu | ratio |"
			echo "|---|---|---|---|---|---|---|"
			: > "$OUT/.cells"
			for n in $(seq "$RUNS"); do
				ls=$OUT/$v-stock-$row-$n.log
				lp=$OUT/$v-patched-$row-$n.log
				# shellcheck disable=SC2046 # four words
				set -- $(bench_cells "$ls" "$d") \
				       $(bench_cells "$lp" "$d")
				echo "$*" >> "$OUT/.cells"
				echo "| $n | $1 | $3 | $(ratio "$1" "$3") |" \
				     "$2 | $4 | $(ratio "$2" "$4") |"
				if ! isnum "$1" || ! isnum "$3"; then
					echo 1 > "$OUT/.failed"
				fi
			done
			m1=$(cut -d' ' -f1 "$OUT/.cells" | median)
			m2=$(cut -d' ' -f2 "$OUT/.cells" | median)
			m3=$(cut -d' ' -f3 "$OUT/.cells" | median)
			m4=$(cut -d' ' -f4 "$OUT/.cells" | median)
			echo "| median | $m1 | $m3 | $(ratio "$m1" "$m3") |" \
			     "$m2 | $m4 | $(ratio "$m2" "$m4") |"
		done
		done
	done
done
[ -f "$OUT/.failed" ] && STATUS=1
rm -f "$OUT/.failed" "$OUT/.cells"
echo
echo "check.sh: $(( $(date +%s) - START )) s of host time, logs in $OUT" >&2
exit $STATUS
