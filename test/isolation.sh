#!/bin/bash
#
# test/isolation.sh - the confined daemon (isolation.c) and its namespace
# helper (nshelper.c), read off /proc of running processes
#   - in each mode: seccomp filter on (Seccomp: 2), no new privileges, no
#     capability in any set, an empty root, no core dumps, and exactly the
#     descriptors it needs, nothing inherited;
#   - the helper: its own filter, CAP_NET_BIND_SERVICE alone, an empty
#     root; it binds a port below 1024 inside the namespace for -T, which
#     the daemon cannot; it ends when the daemon is killed;
#   - a call outside the filter, and an allocation after start-up, kill
#     the daemon with SIGSYS (the hidden --isolation-selftest);
#   - --print-syscalls: at most pasta's 43 calls in namespace mode and
#     passt's 34 in VM mode; with --vhost-user its own profile, where
#     mmap() is allowed for shared mappings of descriptors only;
#   - footprint (issue 11): an idle daemon with the default flow table
#     (65536 flows) and no forwarding holds at most 16 descriptors and
#     7 MB resident; the /proc/net tables are opened only for "auto".

# shellcheck disable=SC2317 # helpers are called indirectly
# shellcheck source=test/lib/sandbox.sh
. "$(dirname "$0")/lib/sandbox.sh"

require_tools ip nsenter unshare timeout awk grep ss
require_passtd
setup_sandbox

ktap_plan 32

# status_field() - Print a field of /proc/PID/status
# $1:	PID
# $2:	Field name
status_field() {
	local pid=$1; shift
	local field=$1; shift

	awk -v f="$field:" '$1 == f { print $2 }' "/proc/$pid/status"
}

# confined() - Succeed once PID has its seccomp filter
# $1:	PID
confined() {
	local pid=$1; shift

	[ "$(status_field "$pid" Seccomp)" = 2 ]
}

# check_confined() - Results for the confinement of one process
# $1:	What it is, for the result names
# $2:	PID
# $3:	CapEff and CapPrm it must have
check_confined() {
	local what=$1; shift
	local pid=$1; shift
	local caps=$1; shift
	local status set bad='' root

	status=$(grep -E '^(Seccomp|NoNewPrivs|Cap[A-Za-z]+):' \
		 "/proc/$pid/status")
	ktap_result "$what: seccomp filter, no new privileges" \
		$(( $(status_field "$pid" Seccomp) != 2 ||
		    $(status_field "$pid" NoNewPrivs) != 1 )) "$status"
	for set in CapInh CapBnd CapAmb; do
		[ "$(status_field "$pid" $set)" = 0000000000000000 ] ||
			bad="$bad $set"
	done
	for set in CapEff CapPrm; do
		[ "$(status_field "$pid" $set)" = "$caps" ] || bad="$bad $set"
	done
	ktap_result "$what: capabilities $caps, none inheritable or bounding" \
		$(( ${#bad} != 0 )) "wrong:$bad" "$status"
	root=$(ls -A "/proc/$pid/root/" 2>&1)
	ktap_result "$what: empty root" $(( ${#root} != 0 )) "$root"
}

# fd_kinds() - Print what a process's descriptors are, one per line, sorted:
# sockets, namespaces and /proc files of other PIDs without their numbers
# $1:	PID
fd_kinds() {
	local pid=$1; shift
	local fd

	for fd in "/proc/$pid/fd/"*; do
		readlink "$fd"
	done | sed -e 's/:\[[0-9]*\]$//' -e 's|^/proc/[0-9]*/|/proc/PID/|' \
		   -e "s|^$SANDBOX_TMP/|TMP/|" | sort
}

# --- namespace mode -------------------------------------------------------
start_daemon --config-net -t 10080 -T 80:10080 -u none -U none ||
	ktap_skip_all "daemon did not start"
slowwait 5 confined "$DAEMON_PID"
check_confined "namespace mode" "$DAEMON_PID" 0000000000000000
limits=$(grep 'Max core file size' "/proc/$DAEMON_PID/limits")
ktap_result "namespace mode: no core dumps (RLIMIT_CORE 0 0)" \
	$(( $(awk '{print $5 + $6}' <<<"$limits") != 0 )) "$limits"

# 0 from </dev/null, 1 and 2 the log; the accept reserve and the copy it
# is made from; signalfd, epoll; the namespace path's directory and the
# pidfd watching the holder; the tap; the helper's socket; -t 10080 and
# -T 80 (an IPv4 and an IPv6 listener each). No /proc/net table: no
# direction is "auto" (see the footprint checks below)
want=$(sort <<EOF
/dev/null
TMP/daemon.$DAEMON_COUNT.log
TMP/daemon.$DAEMON_COUNT.log
/dev/null
/dev/null
anon_inode:[signalfd]
anon_inode:[eventpoll]
/proc/PID/ns
anon_inode:[pidfd]
/dev/net/tun
socket
socket
socket
socket
socket
EOF
)
have=$(fd_kinds "$DAEMON_PID")
ktap_result "namespace mode: exactly the descriptors expected" \
	"$([ "$have" = "$want" ]; echo $?)" \
	"$(diff <(echo "$want") <(echo "$have") | sed -n '3,$p')"

helper=$(pgrep -P "$DAEMON_PID" | head -n 1)
if [ -n "$helper" ] && confined "$helper"; then
	check_confined "helper" "$helper" 0000000000000400
	have=$(fd_kinds "$helper" | tr '\n' ' ')
	ktap_result "helper: standard streams on /dev/null, its socket, the tap it holds" \
		"$([ "$have" = "/dev/net/tun /dev/null /dev/null /dev/null socket " ]
		   echo $?)" "$have"
else
	for i in 1 2 3 4; do
		ktap_fail "helper: confined" "no confined child of $DAEMON_PID"
	done
fi

# -T 80: port 80 inside the namespace, bound through the helper
ns_listens() {
	in_guest ss -Hltn "sport = :80" | grep -q LISTEN
}
slowwait 3 ns_listens
ktap_result "helper: -T 80 listens on port 80 in the namespace" \
	"$(ns_listens; echo $?)" "$(in_guest ss -ltn 2>&1)" \
	"$(tail -n 5 "$DAEMON_LOG")"

kill -KILL "$DAEMON_PID"
helper_gone() {
	! pid_alive "$helper"
}
slowwait 3 helper_gone
ktap_result "helper: ends when the daemon is killed" \
	"$(helper_gone; echo $?)" "helper $helper still running"

# --- VM mode --------------------------------------------------------------
sock=$SANDBOX_TMP/vm.sock
DAEMON_LOG=$SANDBOX_TMP/vm.log
"$PASSTD" --vm -f -s "$sock" -t 10081 </dev/null >"$DAEMON_LOG" 2>&1 &
vm_pid=$!
track_pid "$vm_pid"
slowwait 5 confined "$vm_pid"
check_confined "VM mode" "$vm_pid" 0000000000000000
# 0, 1, 2; reserve and its copy; signalfd, epoll; the socket's directory;
# the listening socket; -t 10081 and the -u it implies (IPv4, IPv6 each);
# no /proc/net table ("auto" is for namespace mode only)
want=$(sort <<EOF
/dev/null
TMP/vm.log
TMP/vm.log
/dev/null
/dev/null
anon_inode:[signalfd]
anon_inode:[eventpoll]
TMP
socket
socket
socket
socket
socket
EOF
)
have=$(fd_kinds "$vm_pid" | sed "s|^${SANDBOX_TMP}$|TMP|")
ktap_result "VM mode: exactly the descriptors expected" \
	"$([ "$have" = "$want" ]; echo $?)" \
	"$(diff <(echo "$want") <(echo "$have") | sed -n '3,$p')"
stop_pid "$vm_pid"
ktap_result "VM mode: exits on SIGTERM, socket removed from outside its root" \
	"$([ ! -e "$sock" ] && ! pid_alive "$vm_pid"; echo $?)" \
	"$(ls -l "$sock" 2>&1)" "$(tail -n 5 "$DAEMON_LOG")"

# --- VM mode, vhost-user ---------------------------------------------------
sock=$SANDBOX_TMP/vu.sock
DAEMON_LOG=$SANDBOX_TMP/vu.log
"$PASSTD" --vm --vhost-user -f -s "$sock" </dev/null >"$DAEMON_LOG" 2>&1 &
vm_pid=$!
track_pid "$vm_pid"
slowwait 5 confined "$vm_pid"
check_confined "vhost-user" "$vm_pid" 0000000000000000
stop_pid "$vm_pid"

# --- footprint -----------------------------------------------------------
# Per-flow arrays (65536 flows: some 20 MB) are allocated at start but
# not written: their pages stay off the resident set until flows use
# them (flow.c, "Slots"). Resident memory is counted in pages touched,
# not timed: a threshold on it is deterministic.
start_daemon --config-net -t none -u none -T none -U none ||
	ktap_skip_all "daemon did not start"
slowwait 5 confined "$DAEMON_PID"
have=$(fd_kinds "$DAEMON_PID")
n=$(wc -l <<<"$have")
ktap_result "idle, no forwarding: $n descriptors, at most 16" \
	$(( n > 16 )) "$have"
rss=$(status_field "$DAEMON_PID" VmRSS)
ktap_result "idle, default flow table: ${rss:-?} kB resident, below 7 MB" \
	$(( ${rss:-99999} >= 7 * 1024 )) \
	"$(grep -E '^(VmRSS|RssAnon|RssFile|RssShmem):' \
	   "/proc/$DAEMON_PID/status")"
stop_daemon

# "auto" opens the tables of the side it follows, and only those: -t
# the namespace's TCP ones, -U the host's UDP ones
start_daemon --config-net -t auto -u none -T none -U auto ||
	ktap_skip_all "daemon did not start"
slowwait 5 confined "$DAEMON_PID"
have=$(fd_kinds "$DAEMON_PID" | grep '^/proc/PID/net/' | tr '\n' ' ')
ktap_result "-t auto -U auto: TCP and UDP tables, one of each" \
	"$([ "$have" = "/proc/PID/net/tcp /proc/PID/net/tcp6 /proc/PID/net/udp /proc/PID/net/udp6 " ]
	   echo $?)" "$have"
stop_daemon
start_daemon --config-net -t auto -u none -T none -U none ||
	ktap_skip_all "daemon did not start"
slowwait 5 confined "$DAEMON_PID"
have=$(fd_kinds "$DAEMON_PID" | grep '^/proc/PID/net/' | tr '\n' ' ')
ktap_result "-t auto alone: the namespace's TCP tables alone" \
	"$([ "$have" = "/proc/PID/net/tcp /proc/PID/net/tcp6 " ]
	   echo $?)" "$have"
stop_daemon

# --- calls outside the filter ---------------------------------------------
# selftest() - Run a VM daemon that breaks the rules once confined; print
# its exit status
# $1:	syscall or alloc
selftest() {
	local what=$1; shift

	timeout 10 "$PASSTD" --vm -f -s "$SANDBOX_TMP/st.$what" \
		--isolation-selftest "$what" </dev/null \
		>"$SANDBOX_TMP/st.$what.log" 2>&1
	echo $?
}
rc=$(selftest syscall)
ktap_result "a call outside the filter: killed by SIGSYS (status 159)" \
	$(( rc != 159 )) "status $rc" "$(cat "$SANDBOX_TMP/st.syscall.log")"
rc=$(selftest alloc)
ktap_result "an allocation after start-up: killed by SIGSYS (status 159)" \
	$(( rc != 159 )) "status $rc" "$(cat "$SANDBOX_TMP/st.alloc.log")"

# --- the lists ------------------------------------------------------------
# count() - Print how many calls --print-syscalls lists; checks that its
# first line says the same
# $@:	Options
count() {
	local out n

	out=$("$PASSTD" "$@" --print-syscalls) || return 1
	n=$(grep -c '^[a-z]' <<<"$out")
	[ "$(head -n 1 <<<"$out" | awk '{print $1}')" = "$n" ] || return 1
	echo "$n"
}
n=$(count)
ktap_result "namespace mode: $n system calls, at most pasta's 43" \
	$(( ${n:-99} > 43 || ${n:-0} < 10 ))
n=$(count --vm)
ktap_result "VM mode: $n system calls, at most passt's 34" \
	$(( ${n:-99} > 34 || ${n:-0} < 10 ))
# The README gives both counts
readme=$(grep -o 'namespace mode allows [0-9]* calls and VM mode [0-9]*' \
	 "$REPO_DIR/README.md")
ktap_result "README: the counts printed ($(count), $(count --vm))" \
	"$([ "$readme" = "namespace mode allows $(count) calls and VM mode $(count --vm)" ]
	   echo $?)" "README: $readme"
n=$(count --vm --vhost-user)
ktap_result "vhost-user: $n system calls, at most 40" \
	$(( ${n:-99} > 40 || ${n:-0} < 10 ))
out=$("$PASSTD" --vm --vhost-user --print-syscalls)
ktap_result "vhost-user: mmap only MAP_SHARED | MAP_NORESERVE, no brk or mremap" \
	"$(awk '/^[a-z]/ { c = $1; next } c == "mmap" { print }' <<<"$out" |
	   grep -q '^.*arg3 == MAP_SHARED | MAP_NORESERVE$' &&
	   ! grep -qE '^(brk|mremap)$' <<<"$out"
	   echo $?)" "$out"
out=$("$PASSTD" --vm --print-syscalls)
ktap_result "VM mode: no splice, pipe2, brk, mmap, munmap or mremap" \
	"$(! grep -qE '^(splice|pipe2|brk|mmap|munmap|mremap)$' <<<"$out"
	   echo $?)" "$out"
out=$("$PASSTD" --print-syscalls)
ktap_result "namespace mode: no brk, mmap, munmap, mremap, open or execve" \
	"$(! grep -qE '^(brk|mmap|munmap|mremap|open|openat|execve)$' \
		<<<"$out"; echo $?)" "$out"

ktap_finish
