# shellcheck shell=bash
#
# test/lib/ktap.sh - KTAP output and bounded polling for the shell tests
#
# Source it from a test script:
#	ktap_plan 3
#	ktap_check "tap exists" in_guest ip link show host0
#	ktap_skip "dhcpv6 lease" "no DHCPv6 client"
#	ktap_finish
# Results are numbered in the order they are printed. ktap_finish exits 1
# if any result failed or fewer/more results than planned were printed,
# 4 (KSFT_SKIP) if every result was a skip, 0 otherwise.

KSFT_PASS=0
KSFT_FAIL=1
KSFT_SKIP=4

KTAP_PLANNED=0
KTAP_COUNT=0
KTAP_PASSED=0
KTAP_FAILED=0
KTAP_SKIPPED=0

# ktap_plan() - Print the KTAP header and the plan
# $1:	Number of results the script will print
ktap_plan() {
	local n=$1; shift

	KTAP_PLANNED=$n
	echo "KTAP version 1"
	echo "1..$n"
}

# ktap_diag() - Print diagnostic lines, each prefixed by "# "
# $@:	Text; multi-line strings are split
ktap_diag() {
	local line

	printf '%s\n' "$@" | while IFS= read -r line; do
		echo "# $line"
	done
}

# ktap_ok() - Report a passed result
# $1:	Result name
ktap_ok() {
	local name=$1; shift

	KTAP_COUNT=$((KTAP_COUNT + 1))
	KTAP_PASSED=$((KTAP_PASSED + 1))
	echo "ok $KTAP_COUNT $name"
}

# ktap_fail() - Report a failed result, with optional diagnostics
# $1:	Result name
# $@:	Diagnostic text (optional)
ktap_fail() {
	local name=$1; shift

	KTAP_COUNT=$((KTAP_COUNT + 1))
	KTAP_FAILED=$((KTAP_FAILED + 1))
	echo "not ok $KTAP_COUNT $name"
	[ $# -gt 0 ] && ktap_diag "$@"
	return 0
}

# ktap_skip() - Report a skipped result
# $1:	Result name
# $2:	Reason
ktap_skip() {
	local name=$1; shift
	local reason=$1; shift

	KTAP_COUNT=$((KTAP_COUNT + 1))
	KTAP_SKIPPED=$((KTAP_SKIPPED + 1))
	echo "ok $KTAP_COUNT $name # SKIP $reason"
}

# ktap_result() - Report a result from a status code
# $1:	Result name
# $2:	Status: 0 passed, anything else failed
# $@:	Diagnostic text printed on failure (optional)
ktap_result() {
	local name=$1; shift
	local status=$1; shift

	if [ "$status" -eq 0 ]; then
		ktap_ok "$name"
	else
		ktap_fail "$name" "$@"
	fi
}

# ktap_check() - Run a command and report its success as a result
# $1:	Result name
# $@:	Command; its output is shown as diagnostics only if it fails
ktap_check() {
	local name=$1; shift
	local out rc

	out=$("$@" 2>&1)
	rc=$?
	if [ $rc -eq 0 ]; then
		ktap_ok "$name"
	else
		ktap_fail "$name" "command failed (status $rc): $*" \
			  ${out:+"$out"}
	fi
	return $rc
}

# ktap_finish() - Print totals and exit with the overall status
ktap_finish() {
	echo "# Totals: pass:$KTAP_PASSED fail:$KTAP_FAILED" \
	     "skip:$KTAP_SKIPPED"
	if [ "$KTAP_COUNT" -ne "$KTAP_PLANNED" ]; then
		echo "# planned $KTAP_PLANNED results, printed $KTAP_COUNT"
		exit $KSFT_FAIL
	fi
	[ "$KTAP_FAILED" -gt 0 ] && exit $KSFT_FAIL
	if [ "$KTAP_SKIPPED" -gt 0 ] && [ "$KTAP_PASSED" -eq 0 ]; then
		exit $KSFT_SKIP
	fi
	exit $KSFT_PASS
}

# ktap_skip_all() - Skip the whole script: plan 0, reason, exit 4
# $1:	Reason
ktap_skip_all() {
	local reason=$1; shift

	echo "KTAP version 1"
	echo "1..0 # SKIP $reason"
	exit $KSFT_SKIP
}

# now_ms() - Print a monotonic-enough timestamp in milliseconds
now_ms() {
	local t=${EPOCHREALTIME/./}

	echo $((t / 1000))
}

# busywait() - Run a command until it succeeds or a timeout expires
# $1:	Timeout, milliseconds
# $@:	Command
#
# Polls every 10 ms. Return: the command's last status (0 on success)
busywait() {
	local timeout_ms=$1; shift
	local start rc

	start=$(now_ms)
	while :; do
		"$@" && return 0
		rc=$?
		[ $(( $(now_ms) - start )) -ge "$timeout_ms" ] && return $rc
		sleep 0.01
	done
}

# slowwait() - Run a command until it succeeds or a timeout expires
# $1:	Timeout, seconds
# $@:	Command
#
# Polls every 100 ms. Return: the command's last status (0 on success)
slowwait() {
	local timeout_s=$1; shift
	local start rc

	start=$(now_ms)
	while :; do
		"$@" && return 0
		rc=$?
		[ $(( $(now_ms) - start )) -ge $((timeout_s * 1000)) ] &&
			return $rc
		sleep 0.1
	done
}
