# shellcheck shell=bash
#
# test/lib/sandbox.sh - namespaces for the functional tests
#
# Theory of operation
# setup_sandbox re-executes the calling script inside new user, network,
# mount and PID namespaces (unshare --map-root-user). Inside, the script is
# PID 1 of its PID namespace: when it exits, the kernel kills everything it
# left behind, so even a crashed test leaves no process on the machine; the
# cleanup trap still stops every process it started, in order.
#
# The sandbox's own network namespace is the daemon's "host side":
#
#  guest netns (per daemon)     sandbox netns ("host")          remote netns
#  ┌──────────────┐  tap   ┌───────────────────────────┐ veth ┌──────────────┐
#  │ host0 (tap)  │◄──────►│ passtd       host0        │◄────►│ remote0      │
#  └──────────────┘        │ 192.0.2.1/24 2001:db8::1  │      │ 192.0.2.2/24 │
#                          │ default via .2 / ::2      │      │ 2001:db8::2  │
#                          └───────────────────────────┘      │ lo: 198.51.  │
#                                                             │ 100.1, 2001: │
#                                                             │ db8:1::1     │
#                                                             └──────────────┘
# The remote and guest namespaces are held by `unshare --net sleep` processes
# started here; commands run in them through nsenter (in_remote, in_guest).
# A guest of start_daemon also gets a user namespace of its own, as a
# rootless container has, and the daemon joins both by the holder's PID.
# Only documentation addresses are ever configured or contacted.
#
# PASSTD_TEST_KEEP=1 keeps the temporary directory (daemon logs, captures)
# for a look after the run.
#
# /etc/resolv.conf is replaced (bind mount, private to the sandbox) by one
# naming 192.0.2.53 and 2001:db8::53 with search domain example.test, so the
# daemon reads known DNS settings.

SANDBOX_LIB_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
TEST_DIR=$(dirname "$SANDBOX_LIB_DIR")
REPO_DIR=$(dirname "$TEST_DIR")

# shellcheck source=test/lib/ktap.sh
. "$SANDBOX_LIB_DIR/ktap.sh"
# shellcheck source=test/lib/tools.sh
. "$SANDBOX_LIB_DIR/tools.sh"

PASSTD=${PASSTD:-$REPO_DIR/passtd}
FRAME_INJECT=${FRAME_INJECT:-$TEST_DIR/tools/frame_inject}

# The calling script and its arguments, to re-execute it in the sandbox
SANDBOX_SCRIPT=$(realpath "$0")
SANDBOX_ARGV=("$@")

HOST_IF=host0
REMOTE_IF=remote0
HOST_ADDR4=192.0.2.1
HOST_ADDR6=2001:db8::1
REMOTE_ADDR4=192.0.2.2
REMOTE_ADDR6=2001:db8::2
REMOTE_LO4=198.51.100.1
REMOTE_LO6=2001:db8:1::1
DNS4=192.0.2.53
DNS6=2001:db8::53
DNS_SEARCH=example.test

SANDBOX_PIDS=()		# every process started, stopped by sandbox_cleanup
SANDBOX_TMP=
REMOTE_PID=
GUEST_PID=
DAEMON_PID=
DAEMON_LOG=
DAEMON_COUNT=0
# Guests of start_daemon live in a user namespace of their own, as a
# rootless container's do; 0: in the sandbox's user namespace
GUEST_USERNS=${GUEST_USERNS:-1}

# require_tools() - Skip the whole script unless every tool is available
# $@:	Command names
require_tools() {
	local tool

	for tool in "$@"; do
		command -v "$tool" >/dev/null 2>&1 ||
			ktap_skip_all "missing tool: $tool"
	done
}

# require_passtd() - Skip the whole script unless the daemon is built
require_passtd() {
	[ -x "$PASSTD" ] || ktap_skip_all "no daemon binary at $PASSTD"
}

# netns_of() - Print the network namespace identity of a process
# $1:	PID
netns_of() {
	local pid=$1; shift

	readlink "/proc/$pid/ns/net" 2>/dev/null
}

# own_netns() - Succeed if a process has left our network namespace
# $1:	PID
own_netns() {
	local pid=$1; shift
	local ns

	ns=$(netns_of "$pid") || return 1
	[ -n "$ns" ] && [ "$ns" != "$(netns_of $$)" ]
}

# pid_alive() - Succeed if a process exists and is not a zombie
# $1:	PID
pid_alive() {
	local pid=$1; shift
	local state

	kill -0 "$pid" 2>/dev/null || return 1
	state=$(awk '/^State:/ { print $2 }' "/proc/$pid/status" 2>/dev/null)
	[ -n "$state" ] && [ "$state" != Z ]
}

# pid_gone() - Succeed if a process no longer runs
# $1:	PID
pid_gone() {
	! pid_alive "$@"
}

# track_pid() - Have sandbox_cleanup stop a process
# $1:	PID
track_pid() {
	local pid=$1; shift

	SANDBOX_PIDS+=("$pid")
}

# stop_pid() - Stop a process: SIGTERM, up to 3 s, then SIGKILL
# $1:	PID
#
# Return: 0 if it exited on SIGTERM, 1 if it needed SIGKILL or was gone
stop_pid() {
	local pid=$1; shift

	pid_alive "$pid" || { wait "$pid" 2>/dev/null; return 1; }
	kill -TERM "$pid" 2>/dev/null
	if slowwait 3 pid_gone "$pid"; then
		wait "$pid" 2>/dev/null
		return 0
	fi
	kill -KILL "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
	return 1
}

# new_holder() - Start a process holding a new network namespace
# $1:	"user" to also give it a user namespace of its own (optional)
#
# Sets HOLDER_PID. Return: 0 once the process is in its own namespace
new_holder() {
	local userns=${1:-}
	local opts=(--net)

	[ "$userns" = user ] && opts+=(--user --map-root-user)
	unshare "${opts[@]}" sleep 1000 </dev/null >/dev/null 2>&1 &
	HOLDER_PID=$!
	track_pid "$HOLDER_PID"
	busywait 3000 own_netns "$HOLDER_PID"
}

# in_ns() - Run a command in the network namespace of a process
# $1:	PID holding the namespace
# $@:	Command
in_ns() {
	local pid=$1; shift

	nsenter --net="/proc/$pid/ns/net" -- "$@"
}

# in_remote() - Run a command in the remote namespace
# $@:	Command
in_remote() {
	in_ns "$REMOTE_PID" "$@"
}

# in_guest() - Run a command in the current guest namespace
# $@:	Command
in_guest() {
	in_ns "$GUEST_PID" "$@"
}

# link_up() - Succeed if a link exists in a namespace and is up
# $1:	PID holding the namespace
# $2:	Interface name
link_up() {
	local pid=$1; shift
	local ifname=$1; shift

	in_ns "$pid" ip link show dev "$ifname" up 2>/dev/null | grep -q UP
}

# sandbox_dump_logs() - Print the daemon logs as KTAP diagnostics
sandbox_dump_logs() {
	local log

	for log in "$SANDBOX_TMP"/daemon.*.log; do
		[ -s "$log" ] || continue
		echo "# --- $(basename "$log") (last 30 lines)"
		tail -n 30 "$log" | sed 's/^/# /'
	done
}

# sandbox_sanitizer_reports() - Print sanitizer reports found in daemon logs
#
# Return: 0 if there were none
sandbox_sanitizer_reports() {
	local log found=0

	for log in "$SANDBOX_TMP"/daemon.*.log; do
		[ -f "$log" ] || continue
		if grep -qE 'ERROR: [A-Za-z]+Sanitizer|runtime error:' "$log"
		then
			echo "# sanitizer report in $(basename "$log"):"
			grep -E -A 5 'ERROR: [A-Za-z]+Sanitizer|runtime error:' \
				"$log" | head -n 20 | sed 's/^/#   /'
			found=1
		fi
	done
	return $found
}

# sandbox_cleanup() - Stop every process started, remove temporary files
sandbox_cleanup() {
	local i

	[ "${KTAP_FAILED:-0}" -gt 0 ] && [ -n "$SANDBOX_TMP" ] &&
		sandbox_dump_logs
	[ -n "$SANDBOX_TMP" ] && sandbox_sanitizer_reports
	for ((i = ${#SANDBOX_PIDS[@]} - 1; i >= 0; i--)); do
		kill -TERM "${SANDBOX_PIDS[i]}" 2>/dev/null
	done
	for ((i = ${#SANDBOX_PIDS[@]} - 1; i >= 0; i--)); do
		busywait 2000 pid_gone "${SANDBOX_PIDS[i]}" ||
			kill -KILL "${SANDBOX_PIDS[i]}" 2>/dev/null
	done
	wait 2>/dev/null
	if [ -n "$SANDBOX_TMP" ]; then
		# Bind mounts a test left there would keep rm from working
		awk -v d="$SANDBOX_TMP/" 'index($2, d) == 1 { print $2 }' \
			/proc/self/mounts | while read -r mnt; do
			umount -l "$mnt"
		done
		if [ -n "${PASSTD_TEST_KEEP:-}" ]; then
			echo "# kept $SANDBOX_TMP"
		else
			rm -rf "$SANDBOX_TMP"
		fi
	fi
	return 0
}

# cleanup() - Default EXIT trap of the test scripts
cleanup() {
	sandbox_cleanup
}

# sandbox_net() - Create the remote namespace and the veth to it
sandbox_net() {
	ip link set lo up || return 1

	new_holder || return 1
	REMOTE_PID=$HOLDER_PID

	ip link add "$HOST_IF" type veth peer name "$REMOTE_IF" \
		netns "/proc/$REMOTE_PID/ns/net" || return 1

	ip addr add "$HOST_ADDR4/24" dev "$HOST_IF" &&
	ip -6 addr add "$HOST_ADDR6/64" dev "$HOST_IF" nodad &&
	ip link set "$HOST_IF" up || return 1

	in_remote ip link set lo up &&
	in_remote ip addr add "$REMOTE_LO4/32" dev lo &&
	in_remote ip -6 addr add "$REMOTE_LO6/128" dev lo &&
	in_remote ip addr add "$REMOTE_ADDR4/24" dev "$REMOTE_IF" &&
	in_remote ip -6 addr add "$REMOTE_ADDR6/64" dev "$REMOTE_IF" nodad &&
	in_remote ip link set "$REMOTE_IF" up || return 1

	slowwait 5 link_up $$ "$HOST_IF" || return 1
	busywait 3000 sh -c "ip link show dev $HOST_IF | grep -q LOWER_UP" ||
		return 1

	ip route add default via "$REMOTE_ADDR4" dev "$HOST_IF" &&
	ip -6 route add default via "$REMOTE_ADDR6" dev "$HOST_IF" &&
	in_remote ip route add default via "$HOST_ADDR4" dev "$REMOTE_IF" &&
	in_remote ip -6 route add default via "$HOST_ADDR6" dev "$REMOTE_IF"
}

# setup_sandbox() - Enter the sandbox and build its network
#
# Outside the sandbox: re-executes the calling script inside it (does not
# return). Inside: sets up mounts, DNS, sysctls and the network, installs
# the cleanup trap. Skips the whole script (exit 4) if namespaces are not
# available, fails it (exit 1) if setting up the network fails.
setup_sandbox() {
	if [ "${PASSTD_SANDBOX:-}" != "$SANDBOX_SCRIPT" ]; then
		require_tools unshare nsenter ip realpath
		unshare --user --map-root-user --net --mount --pid --fork \
			--mount-proc --kill-child true >/dev/null 2>&1 ||
			ktap_skip_all "cannot create user/net/pid namespaces"
		# shellcheck disable=SC2093 # only reached if exec fails
		PASSTD_SANDBOX=$SANDBOX_SCRIPT exec unshare --user \
			--map-root-user --net --mount --pid --fork \
			--mount-proc --kill-child \
			bash "$SANDBOX_SCRIPT" "${SANDBOX_ARGV[@]}"
		ktap_skip_all "cannot run unshare"
	fi

	trap cleanup EXIT
	SANDBOX_TMP=$(mktemp -d "${TMPDIR:-/tmp}/passtd-test.XXXXXX") || {
		echo "# cannot create a temporary directory"; exit 1; }
	chmod 755 "$SANDBOX_TMP"

	mount --make-rprivate / 2>/dev/null

	printf 'nameserver %s\nnameserver %s\nsearch %s\n' \
		"$DNS4" "$DNS6" "$DNS_SEARCH" >"$SANDBOX_TMP/resolv.conf"
	mount --bind "$SANDBOX_TMP/resolv.conf" /etc/resolv.conf 2>/dev/null ||
		echo "# cannot replace /etc/resolv.conf: DNS checks will fail"

	# Ping sockets for the daemon: the kernel only takes groups mapped
	# in this user namespace, that is 0 alone.
	echo "0 2147483647" >/proc/sys/net/ipv4/ping_group_range 2>/dev/null ||
		echo "0 0" >/proc/sys/net/ipv4/ping_group_range 2>/dev/null ||
		echo "# cannot set net.ipv4.ping_group_range"

	if ! sandbox_net; then
		echo "# cannot set up the sandbox network"
		ip addr 2>&1 | sed 's/^/# /'
		exit $KSFT_FAIL
	fi
}

# start_daemon() - Start the daemon in the foreground against a new guest
# $@:	Daemon options (the target, the guest holder's PID, is appended)
#
# The guest namespace is held by a new process, in a user namespace of its
# own unless GUEST_USERNS=0; the daemon joins it by PID, in the foreground.
# Sets GUEST_PID, DAEMON_PID, DAEMON_LOG. Waits until the tap (host0, or
# the -I/--ns-ifname argument) is up in the guest namespace.
# Return: 0 when ready, 1 if the daemon died or the tap did not come up
start_daemon() {
	local ifname=$HOST_IF
	local prev='' arg

	for arg in "$@"; do
		case "$prev" in
		-I|--ns-ifname) ifname=$arg ;;
		esac
		case "$arg" in
		--ns-ifname=*) ifname=${arg#--ns-ifname=} ;;
		esac
		prev=$arg
	done

	if [ "$GUEST_USERNS" = 1 ]; then
		new_holder user
	else
		new_holder
	fi || { echo "# cannot create a guest namespace"; return 1; }
	GUEST_PID=$HOLDER_PID

	DAEMON_COUNT=$((DAEMON_COUNT + 1))
	DAEMON_LOG=$SANDBOX_TMP/daemon.$DAEMON_COUNT.log
	echo "$PASSTD -f $* $GUEST_PID" >"$DAEMON_LOG"
	"$PASSTD" -f "$@" "$GUEST_PID" </dev/null >>"$DAEMON_LOG" 2>&1 &
	DAEMON_PID=$!
	track_pid "$DAEMON_PID"

	slowwait 10 daemon_ready "$ifname"
	if ! daemon_alive || ! link_up "$GUEST_PID" "$ifname"; then
		echo "# daemon not ready: $PASSTD -f $* $GUEST_PID"
		tail -n 20 "$DAEMON_LOG" | sed 's/^/#   /'
		return 1
	fi
	return 0
}

# daemon_ready() - Succeed once the tap is up; fail fast if the daemon died
# $1:	Tap name
daemon_ready() {
	local ifname=$1; shift

	link_up "$GUEST_PID" "$ifname" && return 0
	pid_alive "$DAEMON_PID" || return 0
	return 1
}

# stop_daemon() - Stop the current daemon with SIGTERM
#
# Return: 0 if it exited on SIGTERM within 3 s
stop_daemon() {
	[ -n "$DAEMON_PID" ] || return 1
	stop_pid "$DAEMON_PID"
}

# daemon_alive() - Succeed if the current daemon still runs
daemon_alive() {
	[ -n "$DAEMON_PID" ] && pid_alive "$DAEMON_PID"
}

# vm_daemon() - Start a VM-mode daemon in the foreground (stream or, with
# --vhost-user among the options, vhost-user), wait until it listens
# $1:	Socket path
# $@:	More options
#
# Sets DAEMON_PID, DAEMON_LOG. Return: 0 once the daemon says it listens
vm_daemon() {
	local sock=$1; shift

	DAEMON_COUNT=$((DAEMON_COUNT + 1))
	DAEMON_LOG=$SANDBOX_TMP/daemon.$DAEMON_COUNT.log
	echo "$PASSTD --vm -f -s $sock $*" >"$DAEMON_LOG"
	"$PASSTD" --vm -f -s "$sock" "$@" </dev/null >>"$DAEMON_LOG" 2>&1 &
	DAEMON_PID=$!
	track_pid "$DAEMON_PID"
	slowwait 10 vm_listening_or_dead
	daemon_alive && vm_listening && [ -S "$sock" ]
}

# vm_listening() - Succeed once the current daemon logged that it listens
vm_listening() {
	grep -q 'listening on UNIX socket' "$DAEMON_LOG"
}

# vm_listening_or_dead() - Succeed once the daemon listens or has died
vm_listening_or_dead() {
	vm_listening || ! daemon_alive
}
