#!/bin/bash
#
# test/ns_setup.sh - namespace creation, joining, tap and --config-net
#
# The daemon runs a command in a namespace of its own, joins one by PID or
# by path, creates the tap there (named after the template interface host0,
# or -I), configures addresses, routes and MTU with --config-net, writes
# and removes its PID file, and exits when the target namespace goes away.

# shellcheck disable=SC2317 # helpers are called through ktap_check, slowwait
# shellcheck source=test/lib/sandbox.sh
. "$(dirname "$0")/lib/sandbox.sh"

require_tools ip nsenter unshare mount timeout
require_passtd
setup_sandbox

# has_addr() - Succeed if an interface in a namespace has an address
# $1:	PID holding the namespace
# $2:	Interface
# $3:	Address with prefix length, as ip(8) prints it
has_addr() {
	local pid=$1; shift
	local ifname=$1; shift
	local addr=$1; shift

	in_ns "$pid" ip -o addr show dev "$ifname" |
		awk '{ print $4 }' | grep -qxF "$addr"
}

# no_addr4() - Succeed if an interface in a namespace has no IPv4 address
# $1:	PID holding the namespace
# $2:	Interface
no_addr4() {
	local pid=$1; shift
	local ifname=$1; shift
	local out

	out=$(in_ns "$pid" ip -o -4 addr show dev "$ifname") || return 1
	[ -z "$out" ]
}

# has_default() - Succeed if a namespace has a default route via a gateway
# $1:	PID holding the namespace
# $2:	-4 or -6
# $3:	Gateway
has_default() {
	local pid=$1; shift
	local family=$1; shift
	local gw=$1; shift

	in_ns "$pid" ip "$family" route show default |
		grep -qE "^default via $gw( |$)"
}

# has_qlen() - Succeed if an interface in a namespace has a given transmit
# queue length
# $1:	PID of a process in the namespace
# $2:	Interface
# $3:	Frames
has_qlen() {
	local pid=$1; shift
	local ifname=$1; shift
	local qlen=$1; shift

	in_ns "$pid" ip -o link show dev "$ifname" | grep -q " qlen $qlen"
}

# has_mtu() - Succeed if an interface in a namespace has a given MTU
# $1:	PID holding the namespace
# $2:	Interface
# $3:	MTU
has_mtu() {
	local pid=$1; shift
	local ifname=$1; shift
	local mtu=$1; shift

	in_ns "$pid" ip -o link show dev "$ifname" | grep -q " mtu $mtu "
}

# is_tap() - Succeed if an interface in a namespace is a tap device
# $1:	PID holding the namespace
# $2:	Interface
is_tap() {
	local pid=$1; shift
	local ifname=$1; shift

	in_ns "$pid" ip -d link show dev "$ifname" | grep -q 'tun type tap'
}

# show_ns() - Print a namespace's links, addresses and routes as diagnostics
# $1:	PID holding the namespace
show_ns() {
	local pid=$1; shift

	{
		in_ns "$pid" ip addr
		in_ns "$pid" ip route
		in_ns "$pid" ip -6 route
	} 2>&1 | sed 's/^/#   /'
}

# check_config() - Report what --config-net sets up, one result per item
# $1:	Label for the result names
# $2:	PID holding the namespace
check_config() {
	local label=$1; shift
	local pid=$1; shift
	local failed=$KTAP_FAILED

	ktap_check "$label: tap host0 up" link_up "$pid" host0
	ktap_check "$label: host0 is a tap" is_tap "$pid" host0
	ktap_check "$label: lo up" link_up "$pid" lo
	ktap_check "$label: address 192.0.2.1/24" \
		has_addr "$pid" host0 192.0.2.1/24
	ktap_check "$label: address 2001:db8::1/64" \
		has_addr "$pid" host0 2001:db8::1/64
	ktap_check "$label: default route via 192.0.2.2" \
		has_default "$pid" -4 192.0.2.2
	ktap_check "$label: default route via 2001:db8::2" \
		has_default "$pid" -6 2001:db8::2
	ktap_check "$label: MTU 65520" has_mtu "$pid" host0 65520
	ktap_check "$label: tap queue of 4096 frames" has_qlen "$pid" host0 4096
	[ "$KTAP_FAILED" -gt "$failed" ] && show_ns "$pid"
}

# read_pidfile() - Print the PID in a PID file
# $1:	File
read_pidfile() {
	local file=$1; shift
	local pid

	{ read -r pid <"$file"; } 2>/dev/null || return 1
	[[ "$pid" =~ ^[0-9]+$ ]] || return 1
	echo "$pid"
}

# is_daemon() - Succeed if a PID is a running process of the daemon binary
# $1:	PID
#
# Compares the command name: /proc/PID/exe is unreadable once the daemon
# has dropped its capabilities.
is_daemon() {
	local pid=$1; shift
	local comm

	pid_alive "$pid" || return 1
	read -r comm <"/proc/$pid/comm" || return 1
	[ "$comm" = "$(basename "$PASSTD" | cut -c1-15)" ]
}

ktap_plan 43

# no target: run a command in a new namespace
out=$(timeout 20 "$PASSTD" -- sh -c \
	'readlink /proc/self/ns/net; ip -d link show host0; exit 7' \
	</dev/null 2>"$SANDBOX_TMP/cmd.err")
rc=$?
ktap_result "command mode: exits with the command's status (7)" \
	$(( rc != 7 )) "status $rc" "$(cat "$SANDBOX_TMP/cmd.err")"
ns=$(echo "$out" | head -n 1)
[ -n "$ns" ] && [ "$ns" != "$(netns_of $$)" ]
ktap_result "command mode: command runs in a new network namespace" $? \
	"command saw netns '$ns', ours is $(netns_of $$)"
echo "$out" | grep -q 'tun type tap'
ktap_result "command mode: command sees tap host0" $? "$out"

printf '#!/bin/sh\nexit 5\n' >"$SANDBOX_TMP/shell.sh"
chmod +x "$SANDBOX_TMP/shell.sh"
SHELL=$SANDBOX_TMP/shell.sh timeout 20 "$PASSTD" </dev/null >/dev/null 2>&1
rc=$?
ktap_result "command mode: runs \$SHELL without a command" $(( rc != 5 )) \
	"status $rc, expected 5"

# join by PID (a process in a user namespace of its own, as a rootless
# container), forking into the background once configured
new_holder user
guest=$HOLDER_PID
pidfile=$SANDBOX_TMP/pid.1
DAEMON_COUNT=$((DAEMON_COUNT + 1))
timeout 20 "$PASSTD" --config-net -P "$pidfile" "$guest" \
	</dev/null >"$SANDBOX_TMP/daemon.$DAEMON_COUNT.log" 2>&1
rc=$?
ktap_result "join by PID: returns 0 once configured" $rc "status $rc"
dpid=$(read_pidfile "$pidfile")
[ -n "$dpid" ] && is_daemon "$dpid" && track_pid "$dpid"
ktap_result "join by PID: PID file names the running daemon" $? \
	"PID file: '$(cat "$pidfile" 2>&1)'"
check_config "join by PID" "$guest"

kill "$guest"
if [ -n "$dpid" ]; then
	slowwait 5 pid_gone "$dpid"
	ktap_result "join by PID: exits when the target process goes away" \
		$?
	slowwait 2 test ! -e "$pidfile"
	ktap_result "join by PID: PID file removed at exit" $?
else
	ktap_fail "join by PID: exits when the target process goes away" \
		"no daemon PID known"
	ktap_fail "join by PID: PID file removed at exit" "no PID file"
fi

# join by PID: the target is in our own user namespace (nothing to join
# there), or --netns-only says not to join its user namespace
for mode in "own user namespace" "--netns-only"; do
	if [ "$mode" = "--netns-only" ]; then
		new_holder user
		opts=(--netns-only)
	else
		new_holder
		opts=()
	fi
	guest=$HOLDER_PID
	DAEMON_COUNT=$((DAEMON_COUNT + 1))
	pidfile=$SANDBOX_TMP/pid.$DAEMON_COUNT
	timeout 20 "$PASSTD" "${opts[@]}" -P "$pidfile" "$guest" </dev/null \
		>"$SANDBOX_TMP/daemon.$DAEMON_COUNT.log" 2>&1
	rc=$?
	dpid=$(read_pidfile "$pidfile") && track_pid "$dpid"
	[ $rc -eq 0 ] && link_up "$guest" host0
	ktap_result "join by PID, $mode: tap host0 up" $? "status $rc" \
		"$(cat "$SANDBOX_TMP/daemon.$DAEMON_COUNT.log")"
	[ -n "$dpid" ] && stop_pid "$dpid"
	kill "$guest"
done

# join by path (a bind mount of the namespace), then remove it
new_holder
guest=$HOLDER_PID
nsfile=$SANDBOX_TMP/netns.bind
touch "$nsfile"
mount --bind "/proc/$guest/ns/net" "$nsfile"
DAEMON_COUNT=$((DAEMON_COUNT + 1))
pidfile=$SANDBOX_TMP/pid.$DAEMON_COUNT
timeout 20 "$PASSTD" --config-net -P "$pidfile" --netns "$nsfile" \
	</dev/null >"$SANDBOX_TMP/daemon.$DAEMON_COUNT.log" 2>&1
rc=$?
ktap_result "join by path: returns 0 once configured" $rc "status $rc"
dpid=$(read_pidfile "$pidfile")
[ -n "$dpid" ] && is_daemon "$dpid" && track_pid "$dpid"
check_config "join by path" "$guest"
kill "$guest"
umount -l "$nsfile"
rm -f "$nsfile"
if [ -n "$dpid" ]; then
	slowwait 5 pid_gone "$dpid"
	ktap_result "join by path: exits when the path is removed" $?
else
	ktap_fail "join by path: exits when the path is removed" \
		"no daemon PID known"
fi

# join by /proc path, in the foreground; SIGTERM ends it
new_holder
guest=$HOLDER_PID
DAEMON_COUNT=$((DAEMON_COUNT + 1))
"$PASSTD" -f --netns "/proc/$guest/ns/net" </dev/null \
	>"$SANDBOX_TMP/daemon.$DAEMON_COUNT.log" 2>&1 &
dpid=$!
track_pid "$dpid"
slowwait 10 link_up "$guest" host0
ktap_result "join by /proc path, foreground: tap host0 up" $?
stop_pid "$dpid"
ktap_result "foreground daemon exits on SIGTERM" $?
# A namespace that was joined outlives the daemon: its tap goes with it
# (only the daemon's own, spawned, namespaces keep theirs, persistent,
# until they go away themselves)
tap_gone() {
	! nsenter -t "$guest" -n ip link show dev host0 >/dev/null 2>&1
}
slowwait 3 tap_gone
ktap_result "joined namespace: its tap is gone once the daemon exits" $? \
	"$(nsenter -t "$guest" -n ip -d link show dev host0 2>&1)"

# without --config-net: tap up, no address
if start_daemon; then
	ktap_check "no --config-net: tap host0 up" link_up "$GUEST_PID" host0
	ktap_check "no --config-net: lo up" link_up "$GUEST_PID" lo
	ktap_check "no --config-net: no IPv4 address" \
		no_addr4 "$GUEST_PID" host0
	stop_daemon
else
	ktap_fail "no --config-net: tap host0 up" "daemon did not start"
	ktap_fail "no --config-net: lo up" "daemon did not start"
	ktap_fail "no --config-net: no IPv4 address" "daemon did not start"
fi

# -I names the tap, -m sets the MTU
if start_daemon --config-net -I tapx -m 9000; then
	ktap_check "-I tapx: tap named tapx" link_up "$GUEST_PID" tapx
	in_guest ip link show dev host0 >/dev/null 2>&1
	ktap_result "-I tapx: no host0 in the namespace" $(( ! $? ))
	ktap_check "-m 9000: MTU 9000" has_mtu "$GUEST_PID" tapx 9000
	stop_daemon
else
	ktap_fail "-I tapx: tap named tapx" "daemon did not start"
	ktap_fail "-I tapx: no host0 in the namespace" "daemon did not start"
	ktap_fail "-m 9000: MTU 9000" "daemon did not start"
fi

# -a, -n, -g and --ns-mac-addr with --config-net
if start_daemon --config-net -a 203.0.113.5 -n 24 -g 203.0.113.1 \
		--ns-mac-addr 02:00:5e:00:53:01; then
	slowwait 3 has_addr "$GUEST_PID" host0 203.0.113.5/24
	ktap_result "-a 203.0.113.5 -n 24: address 203.0.113.5/24" $?
	ktap_check "-g 203.0.113.1: default route via 203.0.113.1" \
		has_default "$GUEST_PID" -4 203.0.113.1
	in_guest ip -o link show dev host0 | grep -q 'ether 02:00:5e:00:53:01'
	ktap_result "--ns-mac-addr: tap MAC 02:00:5e:00:53:01" $?
	ktap_check "-a for IPv4 keeps the IPv6 address" \
		has_addr "$GUEST_PID" host0 2001:db8::1/64
	[ "$KTAP_FAILED" -gt 0 ] && show_ns "$GUEST_PID"
	stop_daemon
else
	for n in "-a 203.0.113.5 -n 24: address 203.0.113.5/24" \
		 "-g 203.0.113.1: default route via 203.0.113.1" \
		 "--ns-mac-addr: tap MAC 02:00:5e:00:53:01" \
		 "-a for IPv4 keeps the IPv6 address"; do
		ktap_fail "$n" "daemon did not start"
	done
fi

ktap_finish
