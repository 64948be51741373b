#!/bin/bash
#
# test/sanitizers.sh - the unit tests and a fast subset of the shell tests
# with the daemon built with AddressSanitizer and UndefinedBehaviorSanitizer
#
# `make asan` builds build/asan/: the daemon and every unit test, with
# -fsanitize=address,undefined and -fno-sanitize-recover=all, so any
# report (memory error, leak, undefined behaviour) ends the process with
# a failure status. Here each sanitized unit test is one result, and each
# shell test of SAN_SCRIPTS is one result, run with PASSTD pointing at the
# sanitized daemon: it passes if the script passes and no sanitizer
# report is found in its output or in any daemon log it left (the
# sandbox keeps them for this, PASSTD_TEST_KEEP, in a directory of ours
# that is removed afterwards). The scripts' own results are printed as
# diagnostics, so test/run.sh counts each script once here.

TEST_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_DIR=$(dirname "$TEST_DIR")
# shellcheck source=test/lib/ktap.sh
. "$TEST_DIR/lib/ktap.sh"

ASAN_DIR=${ASAN_DIR:-$REPO_DIR/build/asan}
# Fast ones (about 30 s together under the sanitizers)
SAN_SCRIPTS=${SAN_SCRIPTS:-cmdline malformed ns_setup control logfile}
REPORT='ERROR: [A-Za-z]+Sanitizer|runtime error:|SUMMARY: [A-Za-z]+Sanitizer'

export ASAN_OPTIONS=detect_leaks=1:halt_on_error=1:strict_string_checks=1
export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1

# reports() - Print the sanitizer reports in files or directories
# $@:	Files and directories
reports() {
	grep -rlE "$REPORT" "$@" 2>/dev/null | while read -r f; do
		echo "sanitizer report in ${f##*/}:"
		grep -E -A 12 "$REPORT" "$f" | head -n 30
	done
}

# run_unit() - Run one sanitized unit test
# $1:	Binary
# $2:	Directory for its output
run_unit() {
	local bin=$1; shift
	local out=$1; shift
	local name log rc

	name=$(basename "$bin")
	log=$out/$name.log
	timeout -k 5 120 "$bin" </dev/null >"$log" 2>&1
	rc=$?
	if [ $rc -eq 0 ] && [ -z "$(reports "$log")" ]; then
		ktap_ok "$name with ASan and UBSan"
		return
	fi
	ktap_fail "$name with ASan and UBSan" "exit status $rc" \
		"$(grep -E '^not ok|check failed' "$log" | head -n 10)" \
		"$(reports "$log")"
}

# run_script() - Run one shell test against the sanitized daemon
# $1:	Script name, without .sh
# $2:	Directory for its output and the daemon logs
run_script() {
	local t=$1; shift
	local out=$1; shift
	local dir=$out/$t log rc p f

	mkdir -p "$dir" || return 1
	log=$out/$t.log
	PASSTD=$ASAN_DIR/passtd PASSTD_TEST_KEEP=1 TMPDIR=$dir \
		timeout -k 10 300 bash "$TEST_DIR/$t.sh" </dev/null >"$log" 2>&1
	rc=$?
	p=$(grep -cE '^ok [0-9]+' "$log")
	f=$(grep -cE '^not ok [0-9]+' "$log")
	if [ $rc -eq 4 ]; then
		ktap_skip "$t.sh with the sanitized daemon" \
			"$(grep -m1 SKIP "$log")"
		return
	fi
	if [ $rc -eq 0 ] && [ "$f" -eq 0 ] &&
	   [ -z "$(reports "$log" "$dir")" ]; then
		ktap_ok "$t.sh with the sanitized daemon: $p results passed"
		return
	fi
	ktap_fail "$t.sh with the sanitized daemon" \
		"exit status $rc, $p passed, $f failed" \
		"$(grep -E '^not ok' "$log" | head -n 10)" \
		"$(reports "$log" "$dir")"
}

main() {
	local out units=() bin t

	[ -x "$ASAN_DIR/passtd" ] ||
		ktap_skip_all "no sanitized daemon at $ASAN_DIR/passtd (make asan)"
	for bin in "$ASAN_DIR"/test/unit/*_test; do
		[ -x "$bin" ] && units+=("$bin")
	done
	out=$(mktemp -d "${TMPDIR:-/tmp}/passtd-san.XXXXXX") || exit 1
	# shellcheck disable=SC2064 # expand now: $out is local
	trap "rm -rf '$out'" EXIT

	# shellcheck disable=SC2086 # a list of names
	set -- $SAN_SCRIPTS
	ktap_plan $((${#units[@]} + $#))
	for bin in "${units[@]}"; do
		run_unit "$bin" "$out"
	done
	for t in "$@"; do
		run_script "$t" "$out"
	done
	ktap_finish
}

main
