#!/bin/bash
#
# test/runas.sh - started as root of the host (the initial user namespace,
# no user namespace of its own), the daemon switches to --runas before the
# first frame, default nobody, and refuses to go on as root
#   - --runas 65534:65534 and --runas nobody: real, effective and saved
#     IDs are those, no supplementary groups, no capability, filter on;
#   - without --runas: nobody;
#   - --runas 0: refused, status 1, one line saying why.
# Needs to be root of the host; runs in network and mount namespaces of
# its own (VM mode: nothing is sent anywhere, nothing connects).

# shellcheck disable=SC2317 # helpers are called indirectly
# shellcheck source=test/lib/ktap.sh
. "$(dirname "$0")/lib/ktap.sh"

PASSTD=${PASSTD:-$(dirname "$0")/../passtd}
PASSTD=$(realpath "$PASSTD")

if [ "$(id -u)" != 0 ] ||
   [ "$(awk '{print $1, $2, $3}' /proc/self/uid_map)" != "0 0 4294967295" ]
then
	ktap_skip_all "not root of the host"
fi
if [ "${RUNAS_INSIDE:-}" != 1 ]; then
	command -v unshare >/dev/null || ktap_skip_all "no unshare"
	RUNAS_INSIDE=1 exec unshare --net --mount -- bash "$0" "$@"
	ktap_skip_all "cannot run unshare"
fi

TMP=$(mktemp -d "${TMPDIR:-/tmp}/passtd-runas.XXXXXX") || exit 1
PIDS=()
cleanup() {
	local p

	for p in "${PIDS[@]}"; do
		kill -KILL "$p" 2>/dev/null
	done
	wait 2>/dev/null
	rm -rf "$TMP"
}
trap cleanup EXIT
ip link set lo up

ktap_plan 5

# field() - Print fields 2.. of a line of /proc/PID/status
# $1:	PID
# $2:	Field name
field() {
	awk -v f="$2:" '$1 == f { $1 = ""; print substr($0, 2) }' \
		"/proc/$1/status"
}

# confined_as() - Start a VM daemon with options, and check it ends up as
# UID:GID with no groups, no capability, its filter on
# $1:	Result name
# $2:	UID
# $3:	GID
# $@:	Options
confined_as() {
	local name=$1; shift
	local uid=$1; shift
	local gid=$1; shift
	local pid i st

	"$PASSTD" --vm -f -s "$TMP/s.$RANDOM" -a 192.0.2.1 -g 192.0.2.2 \
		-t none -u none "$@" </dev/null >"$TMP/log" 2>&1 &
	pid=$!
	PIDS+=("$pid")
	for i in $(seq 50); do
		[ "$(field "$pid" Seccomp 2>/dev/null)" = 2 ] && break
		sleep 0.1
	done
	st="$(field "$pid" Uid)/$(field "$pid" Gid)/$(field "$pid" Groups)"
	st="$st/$(field "$pid" CapEff)/$(field "$pid" Seccomp)"
	kill "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
	ktap_result "$name" \
		"$([ "$st" = "$uid $uid $uid $uid/$gid $gid $gid $gid//0000000000000000/2" ]
		   echo $?)" "status: $st" "$(cat "$TMP/log")"
}

confined_as "--runas 65534:65534: IDs, no groups, no capability, filter" \
	65534 65534 --runas 65534:65534
nobody=$(id -u nobody 2>/dev/null)
nogroup=$(id -g nobody 2>/dev/null)
if [ -n "$nobody" ]; then
	confined_as "--runas nobody: its IDs" "$nobody" "$nogroup" \
		--runas nobody
	confined_as "no --runas: nobody" "$nobody" "$nogroup"
else
	ktap_skip "--runas nobody: its IDs" "no user nobody"
	ktap_skip "no --runas: nobody" "no user nobody"
fi
confined_as "--runas 1234:5678: any IDs, also without a name" 1234 5678 \
	--runas 1234:5678

timeout 10 "$PASSTD" --vm -f -s "$TMP/root" -a 192.0.2.1 -g 192.0.2.2 \
	-t none -u none --runas 0 </dev/null >"$TMP/log" 2>&1
rc=$?
ktap_result "--runas 0: refused with status 1 and a reason" \
	"$([ $rc = 1 ] && grep -q "refusing to run as root" "$TMP/log"
	   echo $?)" "status $rc" "$(cat "$TMP/log")"

ktap_finish
