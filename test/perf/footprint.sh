#!/bin/bash
#
# test/perf/footprint.sh - resident memory and descriptors of an idle
# daemon, as a Markdown table, and where the resident memory is
#
# Usage: bash test/perf/footprint.sh	(make footprint)
#	FOOTPRINT_SMAPS=0 bash test/perf/footprint.sh	without the mappings
#
# Each row starts one daemon in the namespaces of test/lib/sandbox.sh (a
# guest namespace of its own, --config-net, the default flow table of
# 65536 flows) with the row's options, waits until it is confined (its
# start-up is over), and reads /proc/PID/status (VmRSS: RssAnon, RssFile)
# and /proc/PID/fd. The namespace helper (nshelper.c), a child process
# of its own, is not counted. Then, unless FOOTPRINT_SMAPS=0, the
# mappings of the last daemon that hold more than 64 kB resident, from
# /proc/PID/smaps.
#
# Nothing here is a pass or fail: the numbers are printed, never asserted
# (test/isolation.sh checks the limits).

# shellcheck source=test/lib/sandbox.sh
. "$(dirname "$0")/../lib/sandbox.sh"

require_tools ip nsenter unshare awk
require_passtd
setup_sandbox

# status_kb() - Print a field of /proc/PID/status, in kB
# $1:	PID
# $2:	Field name
status_kb() {
	local pid=$1; shift
	local field=$1; shift

	awk -v f="$field:" '$1 == f { print $2 }' "/proc/$pid/status"
}

# confined() - Succeed once PID has its seccomp filter (start-up is over)
# $1:	PID
confined() {
	local pid=$1; shift

	[ "$(status_kb "$pid" Seccomp)" = 2 ]
}

# smaps_big() - Print the mappings of PID with more than 64 kB resident
# $1:	PID
smaps_big() {
	local pid=$1; shift

	awk '
	/^[0-9a-f]+-[0-9a-f]+ / { name = NF >= 6 ? $6 : "[anon]" }
	$1 == "Size:" { size = $2 }
	$1 == "Rss:" && $2 > 64 {
		printf "| %s | %d kB | %d kB |\n", name, size, $2
	}' "/proc/$pid/smaps"
}

ROWS=(
	"--config-net"
	"--config-net -t none -u none -T none -U none"
)

echo "| Options | VmRSS | RssAnon | RssFile | fds |"
echo "|---|---|---|---|---|"
for opts in "${ROWS[@]}"; do
	# shellcheck disable=SC2086 # the row's options are words
	if ! start_daemon $opts; then
		echo "| $opts | fail | | | |"
		continue
	fi
	slowwait 5 confined "$DAEMON_PID"
	fds=$(find "/proc/$DAEMON_PID/fd" -mindepth 1 | wc -l)
	printf '| %s | %s kB | %s kB | %s kB | %s |\n' "$opts" \
		"$(status_kb "$DAEMON_PID" VmRSS)" \
		"$(status_kb "$DAEMON_PID" RssAnon)" \
		"$(status_kb "$DAEMON_PID" RssFile)" "$fds"
	[ "${FOOTPRINT_SMAPS:-1}" = 0 ] || smaps=$(smaps_big "$DAEMON_PID")
	stop_daemon
done

if [ -n "${smaps:-}" ]; then
	echo
	echo "Mappings over 64 kB resident (last row's daemon):"
	echo
	echo "| Mapping | Size | Rss |"
	echo "|---|---|---|"
	echo "$smaps"
fi
