# test/lib/tools.sh - helpers of the scripts that drive test tools in the
# sandbox's namespaces: start them in the background or in the foreground
# in a namespace, wait for servers, read their key=value output, bound
# their run time. Sourced by sandbox.sh.
#
# has_opt() reads DAEMON_HELP (the daemon's --help), budget_tmo()
# BUDGET_END (milliseconds, from now_ms()): the scripts that use them set
# those.

# has_line() - Succeed if a file has a line starting with a text
# $1:	File (need not exist yet)
# $2:	Text
has_line() {
	local file=$1; shift
	local text=$1; shift

	grep -q "^$text" "$file" 2>/dev/null
}

# frame_inject_tool() - Point FRAME_INJECT at a frame_inject built from
# the current source: the one `make check` built, or one built here into
# SANDBOX_TMP if that is missing or older than its source. Skips the
# whole script if it cannot be built.
frame_inject_tool() {
	local src=$TEST_DIR/tools/frame_inject.c

	[ -x "$FRAME_INJECT" ] && [ ! "$src" -nt "$FRAME_INJECT" ] && return
	FRAME_INJECT=$SANDBOX_TMP/frame_inject
	${CC:-gcc} -std=c11 -O2 -Wall -Wextra -Werror -o "$FRAME_INJECT" \
		"$src" >"$SANDBOX_TMP/cc.log" 2>&1 ||
		ktap_skip_all "cannot build frame_inject: $(head -n 1 \
			"$SANDBOX_TMP/cc.log")"
}

# has_opt() - Succeed if the daemon's --help names an option
# $1:	Option
has_opt() {
	local opt=$1; shift

	grep -q -- "$opt" <<<"$DAEMON_HELP"
}

# budget_tmo() - Print a timeout cut to the time budget left
# $1:	Wanted timeout, seconds
#
# Return: 1 (nothing printed) if the budget is spent
budget_tmo() {
	local want=$1; shift
	local left=$(( (BUDGET_END - $(now_ms)) / 1000 ))

	[ "$left" -lt 3 ] && return 1
	[ "$want" -lt "$left" ] && left=$want
	echo "$left"
}

# bg_in() - Start a command in the background in a namespace
# $1:	PID holding the namespace, or "host" for the sandbox's own
# $2:	File for its output
# $@:	Command
#
# Sets BG_PID (the command itself: nsenter executes it in place)
bg_in() {
	local ns=$1; shift
	local out=$1; shift

	# emptied here, before the fork: the child's own redirection may
	# come after the caller's first look, which would then find the
	# last server's "listening" line (make soak, a loaded machine)
	: >"$out"
	if [ "$ns" = host ]; then
		"$@" </dev/null >"$out" 2>&1 &
	else
		nsenter --net="/proc/$ns/ns/net" -- "$@" </dev/null \
			>"$out" 2>&1 &
	fi
	BG_PID=$!
	track_pid "$BG_PID"
}

# run_in() - Run a command in a namespace
# $1:	PID holding the namespace, or "host"
# $@:	Command
run_in() {
	local ns=$1; shift

	if [ "$ns" = host ]; then
		"$@"
	else
		in_ns "$ns" "$@"
	fi
}

# server_ready() - Succeed once a server printed "listening", or died
# $1:	Output file
# $2:	PID
server_ready() {
	local out=$1; shift
	local pid=$1; shift

	grep -q '^listening' "$out" 2>/dev/null || pid_gone "$pid"
}

# kv() - Print the value of the last KEY=VALUE of a tool's output
# $1:	Output file
# $2:	Key
kv() {
	local file=$1; shift
	local key=$1; shift

	grep -o "\(^\| \)$key=[^ ]*" "$file" 2>/dev/null | tail -n 1 |
		sed "s/^ *$key=//"
}

# finish_bg() - Wait a bounded time for a background process, then stop it
# $1:	PID
# $2:	Seconds to wait
#
# Return: its exit status (SIGTERM/SIGKILL status if it had to be stopped)
finish_bg() {
	local pid=$1; shift
	local secs=$1; shift

	slowwait "$secs" pid_gone "$pid" || stop_pid "$pid"
	wait "$pid" 2>/dev/null
}
