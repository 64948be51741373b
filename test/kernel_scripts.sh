#!/bin/bash
#
# test/kernel_scripts.sh - the in-guest benchmark's scripts (contrib/kernel/)
# parse, print their usage and refuse bad arguments, without building or
# booting a kernel (make kernel-bench does that; minutes, not for make check)

# shellcheck disable=SC2317 # helpers are called through ktap_check
# shellcheck source=test/lib/ktap.sh
. "$(dirname "$0")/lib/ktap.sh"

KDIR=$(cd "$(dirname "$0")/../contrib/kernel" && pwd)
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT

# usage_ok() - Succeed if SCRIPT --help exits 0 printing a usage line
# $1:	Script
usage_ok() {
	local out

	out=$(timeout 10 sh "$KDIR/$1" --help 2>&1) || return 1
	grep -q "^Usage: .*$1" <<<"$out"
}

# refused() - Succeed if a command exits 1 naming the reason on stderr
# $1:	Text expected on stderr
# $@:	Command
refused() {
	local text=$1; shift
	local rc

	timeout 10 "$@" >"$TMP/out" 2>"$TMP/err" </dev/null
	rc=$?
	[ "$rc" -eq 1 ] && [ ! -s "$TMP/out" ] && grep -q -- "$text" "$TMP/err"
}

# fragment_ok() - Succeed if a fragment holds only comments, blank lines
# and CONFIG_NAME=y|m|VALUE settings, each name once, and a given line
# $1:	Fragment, in contrib/kernel
# $2:	A line it must hold
fragment_ok() {
	awk '/^(#.*)?$/ { next }
	     /^CONFIG_[A-Z0-9_]+=./ { split($0, a, "="); if (seen[a[1]]++)
				       bad = 1; next }
	     { bad = 1 } END { exit bad }' "$KDIR/$1" &&
		grep -qx -- "$2" "$KDIR/$1"
}

# rows_ok() - Succeed if every row of ALL_ROWS in bench-guest.sh has a case
rows_ok() {
	local rows r

	# shellcheck disable=SC2016 # a literal $ALL_ROWS
	rows=$(sed -n 's/^ALL_ROWS="\(\$ALL_ROWS \)*\(.*\)"$/\2/p' \
		"$KDIR/bench-guest.sh")
	[ -n "$rows" ] || return 1
	for r in $rows; do
		grep -q "^	$r) " "$KDIR/bench-guest.sh" || {
			echo "row $r: no case"; return 1; }
	done
}

# patches_mapped() - Succeed if every patches/VERSION/*.patch has a line in
# check.sh's KCHECK_MAP, and every test that line names is a tests/NAME.c
# or tests/NAME.sh
patches_mapped() {
	local p v name line t

	for p in "$KDIR"/patches/*/*.patch; do
		[ -e "$p" ] || continue
		v=$(basename "$(dirname "$p")")
		name=$(basename "$p")
		line=$(grep -E "^$v $name " "$KDIR/check.sh") || {
			echo "$v/$name: not in KCHECK_MAP"; return 1; }
		# shellcheck disable=SC2013 # words: test names
		for t in $(awk '{ gsub(",", " ", $3); print $3 }' \
			   <<<"$line"); do
			[ -r "$KDIR/tests/$t.c" ] || [ -r "$KDIR/tests/$t.sh" ] ||
				{ echo "$v/$name: no tests/$t.c or .sh"; return 1; }
		done
	done
}

# patches_formed() - Succeed if every patch is a git format-patch file
# with a subject, a sign-off, a diffstat and a diff
patches_formed() {
	local p

	for p in "$KDIR"/patches/*/*.patch; do
		[ -e "$p" ] || continue
		if ! { grep -q '^From: ' "$p" &&
		       grep -q '^Subject: \[PATCH' "$p" &&
		       grep -q '^Signed-off-by: ' "$p" &&
		       grep -qE '^ [0-9]+ files? changed' "$p" &&
		       grep -q '^diff --git a/' "$p"; }; then
			echo "$p: not a format-patch file"
			return 1
		fi
	done
}

# tests_build() - Succeed if every tests/NAME.c builds static, warnings
# being errors, as run.sh builds them
tests_build() {
	local t

	for t in "$KDIR"/tests/*.c; do
		[ -e "$t" ] || continue
		${CC:-cc} -static -O2 -Wall -Wextra -Werror \
			-o "$TMP/t" "$t" || {
			echo "$t does not build"; return 1; }
	done
}

ktap_plan 20
for s in build.sh run.sh bench-guest.sh udp-zc.sh check.sh; do
	ktap_check "$s parses (sh -n)" sh -n "$KDIR/$s"
done
ktap_check "build.sh --help" usage_ok build.sh
ktap_check "run.sh --help" usage_ok run.sh
ktap_check "check.sh --help" usage_ok check.sh
ktap_check "check.sh with a version without patches" refused \
	"no patches for" sh "$KDIR/check.sh" 0.0
ktap_check "build.sh without a version" refused Usage sh "$KDIR/build.sh"
ktap_check "build.sh with a missing patch" refused "cannot read patch" \
	sh "$KDIR/build.sh" 6.12 "$TMP/none.patch"
ktap_check "run.sh without a kernel" refused Usage sh "$KDIR/run.sh"
ktap_check "run.sh with a missing kernel" refused "no kernel" \
	sh "$KDIR/run.sh" "$TMP/none"
ktap_check "build.sh with a missing fragment" refused \
	"cannot read fragment" env KBUILD_FRAGMENTS="$TMP/none.fragment" \
	sh "$KDIR/build.sh" 6.12
ktap_check "config.fragment is well formed" fragment_ok config.fragment \
	CONFIG_VIRTIO_NET=y
ktap_check "profile.fragment is well formed" fragment_ok profile.fragment \
	CONFIG_PERF_EVENTS=y
ktap_check "bench-guest.sh knows every row it lists" rows_ok
ktap_check "every patch has a line in check.sh's map" patches_mapped
ktap_check "every patch is a format-patch file" patches_formed
ktap_check "functional tests build static" tests_build
ktap_finish
