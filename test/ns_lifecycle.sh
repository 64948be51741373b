#!/bin/bash
#
# test/ns_lifecycle.sh - namespace mode: what the daemon holds and learns
# over its life
#   - the command's exit status is the daemon's even when another child
#     ended just before it: under strace, every wait4()/waitid() returns
#     1 s late, so the command (sleep 0.3; exit 7) ends while the daemon
#     is looking at another child's SIGCHLD; a waitpid(-1) there would
#     take the command and lose its status (the daemon would never exit);
#   - frames toward a guest that has sent nothing yet go to its MAC (the
#     tap's), not to the broadcast address: a connection forwarded with -t
#     to a guest without IPv6 (no router or neighbour solicitations) and
#     silent otherwise is taken by its TCP, which drops SYNs that are not
#     PACKET_HOST;
#   - the daemon keeps no netlink socket of the guest's namespace once set
#     up, with --config-net or without: its descriptors are compared, by
#     inode, with the netlink sockets of that namespace.

# shellcheck disable=SC2317 # helpers are called indirectly
# shellcheck source=test/lib/sandbox.sh
. "$(dirname "$0")/lib/sandbox.sh"

TCP_STREAM=${TCP_STREAM:-$TEST_DIR/tools/tcp_stream}
FWD=10080

require_tools ip nsenter unshare timeout awk sysctl
require_passtd
[ -x "$TCP_STREAM" ] || ktap_skip_all "no $TCP_STREAM (make $TCP_STREAM)"
setup_sandbox

ktap_plan 5

# --- the command's exit status --------------------------------------------
if command -v strace >/dev/null 2>&1; then
	out=$SANDBOX_TMP/reap.out
	# LeakSanitizer (an ASan build) cannot work under ptrace
	ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0 \
	strace -o "$SANDBOX_TMP/reap.strace" -e trace=wait4,waitid \
		-e inject=wait4,waitid:delay_exit=1000000 \
		"$PASSTD" -t none -T none -u none -U none -- \
		sh -c 'sleep 0.3; exit 7' </dev/null >"$out" 2>&1 &
	st=$!
	track_pid "$st"
	slowwait 20 pid_gone "$st"
	if pid_alive "$st"; then
		pkill -KILL -P "$st"
		kill -KILL "$st" 2>/dev/null
	fi
	wait "$st"
	rc=$?
	ktap_result "a child ends while the command ends: the daemon exits with the command's status (7)" \
		$(( rc != 7 )) "status $rc (137: killed after 20 s)" \
		"$(tail -n 5 "$out")" "$(tail -n 8 "$SANDBOX_TMP/reap.strace")"
else
	ktap_skip "a child ends while the command ends: exit status kept" \
		"no strace"
fi

# --- the guest's MAC before it sent anything ------------------------------
new_holder user || ktap_skip_all "cannot create a guest namespace"
GUEST_PID=$HOLDER_PID
# Before the tap appears: no IPv6 at all, so the guest sends nothing
in_guest sysctl -qw net.ipv6.conf.all.disable_ipv6=1 \
	net.ipv6.conf.default.disable_ipv6=1
DAEMON_COUNT=$((DAEMON_COUNT + 1))
DAEMON_LOG=$SANDBOX_TMP/daemon.$DAEMON_COUNT.log
"$PASSTD" -f -d -4 --config-net -t "$FWD" -T none -u none -U none \
	"$GUEST_PID" </dev/null >"$DAEMON_LOG" 2>&1 &
DAEMON_PID=$!
track_pid "$DAEMON_PID"
slowwait 10 daemon_ready "$HOST_IF"
bg_in "$GUEST_PID" "$SANDBOX_TMP/echo.out" "$TCP_STREAM" -t 30 echo "$FWD"
echo_pid=$BG_PID
busywait 5000 grep -q listening "$SANDBOX_TMP/echo.out"
# In the foreground the tap is up before the host's -t listeners are bound
busywait 5000 sh -c "ss -Hltn '( sport = :$FWD )' | grep -q ."
# /proc/net/dev of a process in the guest's namespace (not /sys, which
# shows the namespace it was mounted in): frames the guest sent
tx=$(in_guest cat /proc/net/dev | sed 's/:/ /' |
	awk -v dev="$HOST_IF" '$1 == dev { print $11 }')
[ "$tx" = 0 ]
ktap_result "silent guest: nothing sent by the guest yet" $? \
	"'$tx' frames sent by the guest"
out=$(in_remote timeout 10 "$TCP_STREAM" -t 6 connect "$HOST_ADDR4" "$FWD" \
	-s 3000 -r -e 3000 2>&1)
ktap_result "silent guest: a -t connection reaches it, 3000 bytes echoed" \
	$? "$out" "$(grep -i 'mac' "$DAEMON_LOG")"
stop_pid "$echo_pid"
stop_daemon
stop_pid "$GUEST_PID"

# --- no netlink socket kept -----------------------------------------------
# netlink_held() - Print the daemon's descriptors that are netlink sockets
# of the guest's namespace
netlink_held() {
	local inodes fds

	inodes=$(in_guest awk 'NR > 1 { print $NF }' /proc/net/netlink)
	fds=$(for f in /proc/"$DAEMON_PID"/fd/*; do
		readlink "$f"
	done | sed -n 's/^socket:\[\([0-9]*\)\]$/\1/p')
	comm -12 <(sort <<<"$inodes") <(sort <<<"$fds")
}

for mode in "" --config-net; do
	start_daemon $mode -t none -T none -u none -U none >/dev/null 2>&1
	held=$(netlink_held)
	nfd=$(find /proc/"$DAEMON_PID"/fd -mindepth 1 | wc -l)
	[ -z "$held" ] && daemon_alive
	ktap_result "${mode:-without --config-net}: no netlink socket of the guest's namespace kept" \
		$? "netlink socket inodes held: ${held:-none}; $nfd descriptors"
	stop_daemon
	stop_pid "$GUEST_PID"
done

ktap_finish
