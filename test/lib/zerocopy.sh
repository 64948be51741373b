# shellcheck shell=bash
#
# test/lib/zerocopy.sh - the daemon's zerocopy counters, as its --debug
# exit lines give them (zerocopy.c, zc_log()): for test/zerocopy.sh and
# test/zerocopy_vm.sh

# zc_count() - Print a counter of the daemon's exit line (0 if absent)
# $1:	Log
# $2:	Words following the number: sends, completed, copied, ...
zc_count() {
	local log=$1; shift
	local word=$1; shift

	grep -o "zerocopy: .*" "$log" | grep -o "[0-9][0-9]* $word" |
		head -n 1 | awk '{ print $1 + 0 } END { if (!NR) print 0 }'
}

# held_zero() - Succeed if the exit line says nothing is held any more
# $1:	Log
held_zero() {
	local log=$1; shift

	grep -q "zerocopy: held at exit: 0 sends, 0 bytes" "$log"
}
