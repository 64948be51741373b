#!/bin/bash
#
# test/cmdline.sh - command line errors, --version, --help, tool names
#
# A bad command line ends with status 1 and exactly one line on stderr.
# Every run has SHELL=/bin/true and no standard input, so a command line
# wrongly accepted runs a shell that exits 0 at once instead of hanging.

# shellcheck disable=SC2317 # helpers are called through ktap_check, slowwait
# shellcheck source=test/lib/sandbox.sh
. "$(dirname "$0")/lib/sandbox.sh"

require_tools timeout
require_passtd
setup_sandbox

# run_daemon() - Run the daemon, bounded, saving status, stdout and stderr
# $1:	Name to run it as (a symlink to the binary), or "" for the binary
# $@:	Arguments
#
# Sets RC, OUT, ERR
run_daemon() {
	local as=$1; shift
	local bin=$PASSTD

	if [ -n "$as" ]; then
		bin=$SANDBOX_TMP/bin/$as
		mkdir -p "$SANDBOX_TMP/bin"
		ln -sf "$(realpath "$PASSTD")" "$bin"
	fi
	SHELL=/bin/true timeout 10 "$bin" "$@" </dev/null \
		>"$SANDBOX_TMP/out" 2>"$SANDBOX_TMP/err"
	RC=$?
	OUT=$(cat "$SANDBOX_TMP/out")
	ERR=$(cat "$SANDBOX_TMP/err")
}

# bad_cmdline() - Report whether a command line is refused properly
# $1:	Result name
# $@:	Arguments
bad_cmdline() {
	local name=$1; shift
	local lines

	run_daemon "" "$@"
	lines=$(grep -c '' "$SANDBOX_TMP/err")
	[ "$RC" -eq 1 ] && [ "$lines" -eq 1 ]
	ktap_result "$name: status 1, one line on stderr" $? \
		"arguments: $*" "status $RC, $lines lines on stderr, first 5:" \
		"$(head -n 5 <<<"$ERR")"
}

ktap_plan 22

bad_cmdline "unknown option" --no-such-option
bad_cmdline "missing argument (-m)" -m
bad_cmdline "MTU too large (-m 70000)" -m 70000
bad_cmdline "MTU not a number (-m abc)" -m abc
bad_cmdline "MTU too small (-m 60)" -m 60
bad_cmdline "bad IPv4 address (-a 300.1.1.1)" -a 300.1.1.1
bad_cmdline "bad address (-a not-an-address)" -a not-an-address
bad_cmdline "bad netmask (-n 33)" -n 33
bad_cmdline "bad gateway (-g 192.0.2)" -g 192.0.2
bad_cmdline "bad MAC (-M zz)" -M zz
bad_cmdline "bad namespace MAC (--ns-mac-addr 1:2:3)" --ns-mac-addr 1:2:3
bad_cmdline "bad DNS (-D 1.2.3.4.5)" -D 1.2.3.4.5
bad_cmdline "--netns of a missing path" --netns /nonexistent/netns
bad_cmdline "PID that does not exist" 999999
bad_cmdline "bad port spec (-t garbage)" -t garbage
bad_cmdline "port out of range (-t 70000)" -t 70000
bad_cmdline "-4 together with -6" -4 -6

run_daemon "" --version
[ "$RC" -eq 0 ] && [ -n "$(echo "$OUT" | head -n 1)" ]
ktap_result "--version: status 0, prints a version" $? \
	"status $RC" "stdout: $OUT" "stderr: $ERR"

run_daemon "" --help
[ "$RC" -eq 0 ] && echo "$OUT" | grep -qi 'usage'
ktap_result "--help: status 0, usage on stdout" $? \
	"status $RC" "stderr: $ERR"

run_daemon pasta --version
[ "$RC" -eq 0 ] && echo "$OUT" | head -n 1 | grep -qE '^pasta( |$)'
ktap_result "started as pasta: --version names pasta" $? \
	"status $RC" "stdout: $OUT"

run_daemon pasta -- sh -c 'ip -d link show host0 | grep -q "tun type tap" &&
			  exit 3'
ktap_result "started as pasta: runs a command in a namespace with a tap" \
	$(( RC != 3 )) "status $RC, expected 3" "stderr: $ERR"

run_daemon passt --version
[ "$RC" -eq 0 ] && echo "$OUT" | head -n 1 | grep -qE '^passt( |$)'
ktap_result "started as passt: --version names passt" $? \
	"status $RC" "stdout: $OUT"

ktap_finish
