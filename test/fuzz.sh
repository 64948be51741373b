#!/bin/bash
#
# test/fuzz.sh - replay the fuzzing corpora, then fuzz every harness
#
# For each libFuzzer harness of test/fuzz/ (built by `make fuzz-build`
# into build/fuzz/): one result for replaying its corpus,
# test/fuzz/corpus/<target>/ (seeds, and every input that once crashed it,
# kept as a regression test), and one for fuzzing it for FUZZ_S seconds
# (default 20; fuzz_vhost_user and fuzz_virtq, which run no daemon and
# make no system call per input, a tenth of that, at least 2 s: they go
# through more inputs in that time than the others in FUZZ_S, and make
# check stays short). FUZZ_JOBS harnesses (default 2) run at a time. Any
# crash, sanitizer report, leak, hang (an input running over 10 s) or socket
# left open after an input (the harnesses check it) fails the target; the
# input that did it is kept in build/fuzz/artifacts/, to be copied into
# the target's corpus with its fix.
#
# New inputs found while fuzzing go to build/fuzz/work/<target>/, so
# later runs start from everything found before; the seed directories
# are never written. The harnesses enter namespaces of their own (user
# and network): no frame of theirs reaches a real network.

TEST_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_DIR=$(dirname "$TEST_DIR")
# shellcheck source=test/lib/ktap.sh
. "$TEST_DIR/lib/ktap.sh"

FUZZ_S=${FUZZ_S:-20}
FUZZ_JOBS=${FUZZ_JOBS:-2}
FUZZ_DIR=${FUZZ_DIR:-$REPO_DIR/build/fuzz}
CORPUS=$TEST_DIR/fuzz/corpus
TARGETS=(fuzz_arp fuzz_ndp fuzz_dhcp fuzz_dhcpv6 fuzz_icmp fuzz_tcp fuzz_udp
	 fuzz_stream fuzz_conf fuzz_ports fuzz_vhost_user fuzz_virtq)

# max_len() - Print the longest input worth trying for a target
# $1:	Target
max_len() {
	case $1 in
	fuzz_conf|fuzz_ports)	echo 1024 ;;
	fuzz_stream|fuzz_vhost_user) echo 16384 ;;
	*)			echo 8192 ;;
	esac
}

# fuzz_time() - Print how many seconds to fuzz a target
# $1:	Target
fuzz_time() {
	case $1 in
	fuzz_vhost_user|fuzz_virtq)
		echo $(((FUZZ_S + 9) / 10 > 2 ? (FUZZ_S + 9) / 10 : 2)) ;;
	*)	echo "$FUZZ_S" ;;
	esac
}

# replay() - Run a target on each file of its corpus once
# $1:	Target
# $2:	Log file
replay() {
	local t=$1; shift
	local log=$1; shift
	local files=("$CORPUS/$t"/*)

	[ -e "${files[0]}" ] || { echo "no corpus in $CORPUS/$t" >"$log"; return 1; }
	timeout -k 5 120 "$FUZZ_DIR/$t" -timeout=10 "${files[@]}" >"$log" 2>&1
}

# fuzz() - Fuzz a target for its time (fuzz_time()), from its corpus and
# what earlier runs found
# $1:	Target
# $2:	Log file
fuzz() {
	local t=$1; shift
	local log=$1; shift
	local work=$FUZZ_DIR/work/$t art=$FUZZ_DIR/artifacts
	local s

	s=$(fuzz_time "$t")
	mkdir -p "$work" "$art" || return 1
	timeout -k 10 $((s + 120)) "$FUZZ_DIR/$t" \
		-max_total_time="$s" -timeout=10 -rss_limit_mb=2048 \
		-max_len="$(max_len "$t")" -print_final_stats=1 \
		-artifact_prefix="$art/$t-" "$work" "$CORPUS/$t" \
		>"$log" 2>&1
}

# run_target() - Replay then fuzz one target; status files for report()
# $1:	Target
# $2:	Directory for its logs and status
run_target() {
	local t=$1; shift
	local out=$1; shift

	replay "$t" "$out/$t.replay.log"
	echo $? >"$out/$t.replay.rc"
	fuzz "$t" "$out/$t.fuzz.log"
	echo $? >"$out/$t.fuzz.rc"
}

# report() - Print the two results of one target
# $1:	Target
# $2:	Directory of its logs and status
report() {
	local t=$1; shift
	local out=$1; shift
	local what rc log runs

	for what in replay fuzz; do
		rc=$(cat "$out/$t.$what.rc" 2>/dev/null || echo 1)
		log=$out/$t.$what.log
		if [ "$what" = fuzz ]; then
			runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
			name="$t: $(fuzz_time "$t") s of fuzzing, ${runs:-?} inputs"
		else
			name="$t: corpus replay, $(find "$CORPUS/$t" -type f | wc -l) inputs"
		fi
		if [ "$rc" = 0 ] && ! grep -qE 'ERROR: [A-Za-z]+Sanitizer|runtime error:|^fuzz: ' "$log"; then
			ktap_ok "$name"
			continue
		fi
		ktap_fail "$name" "exit status $rc; end of its log:"
		tail -n 40 "$log" | grep -v '^ *#[0-9]* 0x' | tail -n 25 |
			sed 's/^/#   /'
		grep -o "Test unit written to .*" "$log" | sed 's/^/# /'
	done
}

main() {
	local out t running=()

	for t in "${TARGETS[@]}"; do
		[ -x "$FUZZ_DIR/$t" ] ||
			ktap_skip_all "no harness $FUZZ_DIR/$t (make fuzz-build)"
	done
	unshare --user --net true 2>/dev/null ||
		ktap_skip_all "cannot create user and network namespaces"
	out=$(mktemp -d "${TMPDIR:-/tmp}/passtd-fuzz.XXXXXX") || exit 1
	# shellcheck disable=SC2064 # expand now: $out is local
	trap "rm -rf '$out'" EXIT

	ktap_plan $((${#TARGETS[@]} * 2))
	ktap_diag "$FUZZ_S s per target (vhost-user ones $(fuzz_time \
		fuzz_virtq) s), $FUZZ_JOBS at a time"
	for t in "${TARGETS[@]}"; do
		run_target "$t" "$out" &
		running+=($!)
		if [ ${#running[@]} -ge "$FUZZ_JOBS" ]; then
			wait "${running[0]}"
			running=("${running[@]:1}")
		fi
	done
	wait
	for t in "${TARGETS[@]}"; do
		report "$t" "$out"
	done
	ktap_finish
}

main
