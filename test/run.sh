#!/bin/bash
#
# test/run.sh - run the unit tests and the functional test scripts
#
# Usage: bash test/run.sh [NAME...]
#	NAME: a unit test (checksum_test) or a script (ns_setup, ns_setup.sh);
#	      without names, every test/unit/*_test binary and test/*.sh.
#
# Builds nothing (`make check` builds first). Each test runs under a timeout
# (TEST_TIMEOUT seconds, default 300) and prints KTAP; results are counted
# from its unindented "ok"/"not ok" lines, skips separately. A test that
# exits with a failure status without reporting a failed result (crash,
# timeout, short plan) counts as one more failure. The last line is
# "N passed, N failed, N skipped"; the exit status is 1 if anything failed.

TEST_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
TEST_TIMEOUT=${TEST_TIMEOUT:-300}

passed=0
failed=0
skipped=0
broken=()

# find_tests() - Print the paths of the tests to run
# $@:	Names, or nothing for all
find_tests() {
	local name f

	if [ $# -eq 0 ]; then
		for f in "$TEST_DIR"/unit/*_test; do
			[ -x "$f" ] && [ -f "$f" ] && echo "$f"
		done
		for f in "$TEST_DIR"/*.sh; do
			[ "$(basename "$f")" = run.sh ] && continue
			[ -f "$f" ] && echo "$f"
		done
		return 0
	fi

	for name in "$@"; do
		name=$(basename "$name")
		if [ -x "$TEST_DIR/unit/$name" ]; then
			echo "$TEST_DIR/unit/$name"
		elif [ -f "$TEST_DIR/${name%.sh}.sh" ]; then
			echo "$TEST_DIR/${name%.sh}.sh"
		else
			echo "$TEST_DIR/$name"	# reported as missing
		fi
	done
}

# run_one() - Run one test, print its output, add up its results
# $1:	Path of the unit test binary or script
run_one() {
	local path=$1; shift
	local name out rc p f s

	name=${path#"$TEST_DIR"/}
	echo "# ===== $name"
	if [ ! -e "$path" ]; then
		echo "# no such test: $name"
		failed=$((failed + 1))
		broken+=("$name (missing)")
		return
	fi

	out=$(mktemp) || exit 1
	if [ "${path%.sh}" != "$path" ]; then
		timeout -k 10 "$TEST_TIMEOUT" bash "$path" </dev/null 2>&1 |
			tee "$out"
	else
		timeout -k 10 "$TEST_TIMEOUT" "$path" </dev/null 2>&1 |
			tee "$out"
	fi
	rc=${PIPESTATUS[0]}

	p=$(grep -cE '^ok [0-9]+' "$out")
	s=$(grep -cE '^ok [0-9]+.*# *SKIP' "$out")
	f=$(grep -cE '^not ok [0-9]+' "$out")
	if grep -qE '^1\.\.0 *# *SKIP' "$out"; then
		s=$((s + 1))
		p=$((p + 1))
	fi
	passed=$((passed + p - s))
	skipped=$((skipped + s))
	failed=$((failed + f))

	case $rc in
	0|4)
		;;
	124|137)
		echo "# $name: timed out after ${TEST_TIMEOUT}s"
		failed=$((failed + 1))
		broken+=("$name (timeout)")
		;;
	*)
		if [ "$f" -eq 0 ]; then
			echo "# $name: exit status $rc without a failed result"
			failed=$((failed + 1))
			broken+=("$name (status $rc)")
		else
			broken+=("$name")
		fi
		;;
	esac
	rm -f "$out"
}

mapfile -t tests < <(find_tests "$@")
for t in "${tests[@]}"; do
	run_one "$t"
done

if [ ${#broken[@]} -gt 0 ]; then
	echo "# failed: ${broken[*]}"
fi
echo "$passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ]
