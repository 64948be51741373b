#!/bin/bash
#
# test/perf/startup.sh - start-up time against Debian's pasta, as one
# Markdown table (test/perf/footprint.sh has the memory and descriptors)
#
# Usage: bash test/perf/startup.sh	(BENCH_ONLY=startup make bench)
#	STARTUP_ROUNDS=5 STARTUP_RUNS=20	rounds, runs per round and tool
#	PASTA=/path/to/pasta			another pasta build
#
# Start-up: `--config-net -q -f -- true`, the whole life of a daemon that
# configures a namespace for a command that ends at once, timed by
# hyperfine (-N: no shell in between) for STARTUP_RUNS runs, passtd and
# pasta in alternating rounds (A B A B ...), as the speed of this machine
# drifts; the table gives the median of the round medians, and the ratio
# of passtd's median to pasta's in the same round (median of rounds).
#
# Nothing here is a pass or fail: the numbers are printed, never asserted.

# shellcheck source=test/lib/sandbox.sh
. "$(dirname "$0")/../lib/sandbox.sh"

PASTA=${PASTA:-/usr/bin/pasta}
ROUNDS=${STARTUP_ROUNDS:-5}
RUNS=${STARTUP_RUNS:-20}

require_tools hyperfine python3 ip nsenter unshare timeout awk
setup_sandbox
cd "$SANDBOX_TMP" || exit 1

# median() - Print the median of the numbers given, one per line on stdin
median() {
	sort -g | awk '{ v[NR] = $1 } END {
		if (NR % 2) print v[(NR + 1) / 2];
		else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

# startup_ms() - Print the median start-up of one tool over one round, ms
# $1:	Program
startup_ms() {
	local prog=$1; shift
	local json=$SANDBOX_TMP/hf.json

	hyperfine -N -w 2 -r "$RUNS" --export-json "$json" \
		"$prog --config-net -q -f -- true" >/dev/null 2>&1 || return 1
	python3 -c 'import json, sys
r = json.load(open(sys.argv[1]))["results"][0]
print("%.2f" % (r["median"] * 1000))' "$json"
}

tools=("$REPO_DIR/passtd")
[ -x "$PASTA" ] && tools+=("$PASTA")
declare -A med ratio_list
for r in $(seq "$ROUNDS"); do
	declare -A this=()
	for t in "${tools[@]}"; do
		this[$t]=$(startup_ms "$t")
		med[$t]="${med[$t]} ${this[$t]}"
	done
	if [ ${#tools[@]} -gt 1 ] && [ -n "${this[${tools[1]}]}" ]; then
		ratio_list[x]="${ratio_list[x]} $(awk -v a="${this[${tools[0]}]}" \
			-v b="${this[${tools[1]}]}" 'BEGIN { printf "%.2f", a / b }')"
	fi
	unset this
done

echo "| program | start-up ms (median of $ROUNDS rounds of $RUNS runs) | min | max | ratio to pasta |"
echo "|---|---:|---:|---:|---:|"
for t in "${tools[@]}"; do
	m=$(tr ' ' '\n' <<<"${med[$t]}" | grep . | median)
	if [ "$t" = "${tools[0]}" ] && [ -n "${ratio_list[x]}" ]; then
		q=$(tr ' ' '\n' <<<"${ratio_list[x]}" | grep . | median)
	else
		q=-
	fi
	lo=$(tr ' ' '\n' <<<"${med[$t]}" | grep . | sort -g | head -n 1)
	hi=$(tr ' ' '\n' <<<"${med[$t]}" | grep . | sort -g | tail -n 1)
	echo "| $(basename "$t") | $m | $lo | $hi | $q |"
done
