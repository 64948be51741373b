# shellcheck shell=bash
#
# test/lib/tcp_stream.sh - tcp_stream transfers through the daemon, checked
# at both ends, and the daemon's start and stop around them; shared by
# tcp.sh and zerocopy.sh
#
# The caller sets TCP_STREAM (the tool), TCP_BUDGET and BUDGET_END (see
# budget_tmo()), KERNEL (1: no daemon, the kernel's own path) and
# RUN_COUNT (0), and sources sandbox.sh first. stream_run() sets
# STREAM_DIAG and LAST_SOUT for the caller.

# shellcheck disable=SC2034 # LAST_SOUT is the caller's

# stream_run() - Run a tcp_stream server and client, check both ends
# $1:	"match": both succeed and agree on bytes and hashes each way;
#	"status": both exit with status 0 (their -X expectations met)
# $2:	Server namespace (PID or host)
# $3:	Client namespace (PID or host)
# $4:	Timeout, seconds (cut to the budget left)
# $@:	Server arguments, "--", client arguments
#
# Sets STREAM_DIAG (why it failed, or a summary) and LAST_SOUT.
# Return: 0 if the check passed
stream_run() {
	local mode=$1; shift
	local sns=$1; shift
	local cns=$1; shift
	local want=$1; shift
	local sargs=() t sout cout spid crc src k

	while [ $# -gt 0 ] && [ "$1" != -- ]; do
		sargs+=("$1")
		shift
	done
	shift

	STREAM_DIAG=()
	LAST_SOUT=/dev/null
	if ! t=$(budget_tmo "$want"); then
		STREAM_DIAG=("time budget of ${TCP_BUDGET}s spent")
		return 1
	fi
	if ! daemon_alive; then
		STREAM_DIAG=("daemon not running")
		return 1
	fi

	RUN_COUNT=$((RUN_COUNT + 1))
	sout=$SANDBOX_TMP/server.$RUN_COUNT
	cout=$SANDBOX_TMP/client.$RUN_COUNT
	LAST_SOUT=$sout

	bg_in "$sns" "$sout" "$TCP_STREAM" -t "$((t + 5))" "${sargs[@]}"
	spid=$BG_PID
	busywait 5000 server_ready "$sout" "$spid"
	if ! grep -q '^listening' "$sout"; then
		finish_bg "$spid" 1
		STREAM_DIAG=("server did not start: ${sargs[*]}"
			     "$(cat "$sout")")
		return 1
	fi

	run_in "$cns" timeout -k 2 "$((t + 10))" \
		"$TCP_STREAM" -t "$t" "$@" >"$cout" 2>&1
	crc=$?
	finish_bg "$spid" 10
	src=$?

	STREAM_DIAG=("server: ${sargs[*]} -> status $src"
		     "$(grep -v '^listening' "$sout")"
		     "client: $* -> status $crc" "$(cat "$cout")")
	daemon_alive || STREAM_DIAG+=("the daemon is gone")
	[ "$crc" -eq 0 ] && [ "$src" -eq 0 ] || return 1
	[ "$mode" = match ] || return 0
	for k in sent:recv recv:sent sent_hash:recv_hash recv_hash:sent_hash
	do
		if [ "$(kv "$cout" "${k%%:*}")" != "$(kv "$sout" "${k#*:}")" ]
		then
			STREAM_DIAG+=("client ${k%%:*} differs from server ${k#*:}")
			return 1
		fi
	done
	STREAM_DIAG=("$(kv "$cout" sent) bytes out, $(kv "$cout" recv) in," \
		     "$(kv "$cout" ms) ms")
	return 0
}

# stream_check() - stream_run, reported as one result
# $1:	Result name
# $@:	As stream_run
stream_check() {
	local name=$1; shift

	if stream_run "$@"; then
		[ "$1" = match ] && ktap_diag "$name: ${STREAM_DIAG[*]}"
		ktap_ok "$name"
	else
		ktap_fail "$name" "${STREAM_DIAG[@]}"
	fi
}

# stream_repeat() - stream_run several times (races show up only in some
# rounds), reported as one result; stops at the first failing round
# $1:	Result name
# $2:	Rounds
# $@:	As stream_run
stream_repeat() {
	local name=$1; shift
	local rounds=$1; shift
	local i

	for ((i = 1; i <= rounds; i++)); do
		if ! stream_run "$@"; then
			ktap_fail "$name" "round $i of $rounds:" \
				"${STREAM_DIAG[@]}"
			return 1
		fi
	done
	ktap_ok "$name"
}

# guest_routes() - Succeed once the guest has both default routes
guest_routes() {
	in_guest ip -4 route show default | grep -q via &&
		in_guest ip -6 route show default | grep -q via
}

# daemon_up() - Start the daemon against a new guest; one result
# $1:	Label
# $@:	Daemon options
#
# Return: 0 if the daemon runs and configured the guest
daemon_up() {
	local label=$1; shift
	local out=$SANDBOX_TMP/start.out rc

	if [ "$KERNEL" = 1 ]; then
		GUEST_PID=$$
		ktap_ok "$label: kernel path, no daemon"
		return 0
	fi
	# Not in $(...): start_daemon sets GUEST_PID and DAEMON_PID
	start_daemon --config-net "$@" >"$out" 2>&1 &&
		slowwait 10 guest_routes
	rc=$?
	ktap_result "$label: daemon up, guest configured" "$rc" \
		"$(cat "$out")" "$(in_guest ip addr 2>&1)" \
		"$(in_guest ip -6 route 2>&1)"
	return "$rc"
}

# daemon_down() - Stop the daemon and its guest namespace
daemon_down() {
	[ "$KERNEL" = 1 ] && return 0
	stop_daemon
	[ -n "$GUEST_PID" ] && stop_pid "$GUEST_PID"
}
