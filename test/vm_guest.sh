#!/bin/bash
#
# test/vm_guest.sh - VM mode with a real guest: QEMU boots Debian's kernel
# with a busybox initramfs, its virtio-net card connected to the daemon's
# UNIX socket (-netdev stream), and the guest proves DHCP, ping to the
# gateway and the remote namespace (IPv4, and IPv6 from the router
# advertisement), a 20 MB HTTP download with a matching sha256, UDP both
# ways (a DNS lookup), serving a file to the remote namespace through
# the daemon's -t forward, and a -t connection the remote half-closes
# (the guest reads to the end, then answers with the sha256 of it).
#
# VM_FRONTEND=vhost-user (test/vm_guest_vhost.sh) runs the same with the
# daemon as the guest's vhost-user back end; there the guest also serves
# 20 MiB, reboots once at the end (QEMU resets the device; the test puts
# "rebooted" on the remote web server, so the next boot checks a lease
# and a download, then powers off), and a second daemon without
# --one-off loses its QEMU to SIGKILL in the middle of downloads and
# serves a new QEMU on the same socket.
#
# The guest's /init (test/lib/vm_guest/init) prints "GUESTRESULT ok NAME"
# or "GUESTRESULT fail NAME DETAIL" on the serial console for each check;
# each becomes one KTAP result, and a check the guest never reported fails.
# The initramfs is built by test/lib/vm_guest/build_initramfs.sh and cached
# in VM_CACHE (default ${XDG_CACHE_HOME:-/var/tmp}/passtd-test).
#
# /dev/kvm can exist on these machines and still hang the guest, so a short
# boot (VM_KVM_PROBE seconds, default 15) must print a marker before KVM is
# used; otherwise QEMU runs with TCG. VM_ACCEL=kvm|tcg skips the probe.
# VM_BUDGET (seconds, default 200 with TCG, 90 with KVM) bounds the guest's
# run; a check it did not reach by then fails.
#
# The daemon is VM_DAEMON (default: passtd as test/lib finds it), started
# with VM_DAEMON_ARGS (default "--vm", none for a binary named passt) and
# the options libvirt gives passt (start_vm_daemon()), in the background.
# To validate the test itself against the reference:
#   VM_DAEMON=/usr/bin/passt bash test/vm_guest.sh
#
# Topology (test/lib/sandbox.sh): the daemon and QEMU run in the sandbox
# ("host") namespace. The remote namespace has an HTTP server (busybox
# httpd) and a DNS server (dns_answer.py) on 198.51.100.1; its client
# reaches the guest's HTTP server at 192.0.2.1:8081 through the daemon.

# shellcheck disable=SC2317 # helpers are called indirectly
# shellcheck source=test/lib/sandbox.sh
. "$(dirname "$0")/lib/sandbox.sh"

VM_LIB=$SANDBOX_LIB_DIR/vm_guest
VM_DAEMON=${VM_DAEMON:-$PASSTD}
if [ -z "${VM_DAEMON_ARGS+set}" ]; then
	case "$(basename "$VM_DAEMON")" in
	passt)	VM_DAEMON_ARGS= ;;
	*)	VM_DAEMON_ARGS=--vm ;;
	esac
fi
read -r -a DAEMON_ARGS <<<"$VM_DAEMON_ARGS"
VM_KERNEL=${VM_KERNEL:-$(printf '%s\n' /boot/vmlinuz-* | sort -V | tail -n 1)}
VM_ACCEL=${VM_ACCEL:-auto}
VM_KVM_PROBE=${VM_KVM_PROBE:-15}
VM_CACHE=${VM_CACHE:-${XDG_CACHE_HOME:-/var/tmp}/passtd-test}
VM_DL_SIZE=${VM_DL_SIZE:-20M}
VM_SERVE_SIZE=${VM_SERVE_SIZE:-}
QEMU=${QEMU:-qemu-system-x86_64}
# stream: -netdev stream; vhost-user: the daemon with --vhost-user, QEMU
# with -netdev vhost-user on shared guest memory
VM_FRONTEND=${VM_FRONTEND:-stream}
VM_MEM=256M
VM_SMP=${VM_SMP:-1}
VM_QUEUES=${VM_QUEUES:-1}	# vhost-user: queue pairs of the device

HTTP_PORT=8080		# remote HTTP server, on REMOTE_LO4
DNS_PORT=53		# remote DNS server, on REMOTE_LO4
SERVE_PORT=8081		# -t: the guest's HTTP server
RELEASE_PORT=8082	# -t: the guest waits for a connection here
HC_PORT=8083		# -t: the guest's half-close server
HC_SIZE=1048576		# bytes the remote sends it before its FIN
DNS_ANSWER=203.0.113.7
GUEST_CHECKS="boot nic dhcp ping-gw ping-remote ping6-remote download udp-dns"

require_tools ip nsenter unshare timeout busybox cpio gzip sha256sum \
	python3 "$QEMU"
[ -x "$VM_DAEMON" ] || ktap_skip_all "no daemon binary at $VM_DAEMON"
if [ "${DAEMON_ARGS[*]}" = --vm ] &&
   ! "$VM_DAEMON" --help 2>&1 | grep -q -- '--vm'; then
	ktap_skip_all "$VM_DAEMON has no --vm mode yet"
fi
if [ ! -f "$VM_KERNEL" ] || [ ! -r "$VM_KERNEL" ]; then
	ktap_skip_all "no readable kernel /boot/vmlinuz-* (linux-image-amd64)"
fi
KVER=$(basename "$VM_KERNEL")
KVER=${KVER#vmlinuz-}
setup_sandbox

CONSOLE=$SANDBOX_TMP/console.log
SOCK=$SANDBOX_TMP/vm.sock
QEMU_REBOOT=(-no-reboot)
case "$VM_FRONTEND" in
stream)
	NIC_ARGS=(-netdev
		  "stream,id=n0,server=off,addr.type=unix,addr.path=$SOCK"
		  -device virtio-net-pci,netdev=n0,mac=52:54:00:12:34:56) ;;
vhost-user)
	DAEMON_ARGS+=(--vhost-user)
	# the guest reboots once (a device reset), QEMU must not exit then
	QEMU_REBOOT=()
	GUEST_CHECKS+=" reboot-dhcp reboot-download"
	VM_SERVE_SIZE=${VM_SERVE_SIZE:-20971520}
	# vectors=0: QEMU 7.2 under TCG crashes setting up MSI-X for a
	# vhost-user device (REFERENCE.md); legacy interrupts avoid it
	NIC_ARGS=(-object "memory-backend-memfd,id=mem,size=$VM_MEM,share=on"
		  -numa node,memdev=mem
		  -chardev "socket,id=c0,path=$SOCK"
		  -netdev "vhost-user,id=n0,chardev=c0,queues=$VM_QUEUES"
		  -device "virtio-net-pci,netdev=n0,mac=52:54:00:12:34:56,vectors=0$([ "$VM_QUEUES" -gt 1 ] && echo ,mq=on)") ;;
*)	echo "VM_FRONTEND: stream or vhost-user" >&2; exit 1 ;;
esac
VM_SERVE_SIZE=${VM_SERVE_SIZE:-4194304}
PIDFILE=
WWW=$SANDBOX_TMP/www
QEMU_PID=
QEMU_ALONE=0		# QEMU exited by itself (the guest powered off)
ACCEL=tcg
DIAG=()			# problems found before the guest ran
SERVE_DIAG=()

# qemu_start() - Start QEMU in the background
# $1:	Accelerator: kvm or tcg
# $2:	Serial console file
# $3:	Extra kernel parameters
# $@:	Extra QEMU options
#
# Sets QEMU_PID
qemu_start() {
	local accel=$1; shift
	local console=$1; shift
	local params=$1; shift
	local cpu=max

	[ "$accel" = kvm ] && cpu=host
	: >"$console"
	echo "$QEMU -accel $accel ... $params $*" >>"$SANDBOX_TMP/qemu.log"
	"$QEMU" -nodefaults -no-user-config -display none "${QEMU_REBOOT[@]}" \
		-accel "$accel" -cpu "$cpu" -smp "$VM_SMP" -m "$VM_MEM" \
		-kernel "$VM_KERNEL" -initrd "$INITRD" \
		-append "console=ttyS0 quiet panic=-1 $params" \
		-serial "file:$console" "$@" \
		</dev/null >>"$SANDBOX_TMP/qemu.log" 2>&1 &
	QEMU_PID=$!
	track_pid "$QEMU_PID"
}

# probe_or_gone() - Succeed once the probe guest printed its marker or
# QEMU is gone
# $1:	Console file
probe_or_gone() {
	local console=$1; shift

	has_line "$console" GUESTPROBE || pid_gone "$QEMU_PID"
}

# choose_accel() - Set ACCEL: kvm if a short KVM boot prints the marker
choose_accel() {
	local console=$SANDBOX_TMP/probe.log
	local t0

	case "$VM_ACCEL" in
	kvm|tcg) ACCEL=$VM_ACCEL; ktap_diag "accel: $ACCEL (VM_ACCEL)"
		 return ;;
	esac
	ACCEL=tcg
	if [ ! -r /dev/kvm ] || [ ! -w /dev/kvm ]; then
		ktap_diag "accel: tcg (no usable /dev/kvm)"
		return
	fi
	t0=$(now_ms)
	qemu_start kvm "$console" vmt.mode=probe
	slowwait "$VM_KVM_PROBE" probe_or_gone "$console"
	stop_pid "$QEMU_PID"
	QEMU_PID=
	if has_line "$console" GUESTPROBE; then
		ACCEL=kvm
		ktap_diag "accel: kvm (probe booted in $(( $(now_ms) - t0 )) ms)"
	else
		ktap_diag "accel: tcg (a KVM boot printed nothing in ${VM_KVM_PROBE}s)"
	fi
}

# start_remote_servers() - Start the HTTP and DNS servers in the remote
# namespace, make the file to download
#
# Sets DL_SHA. Return: 0 if both servers answer
start_remote_servers() {
	local out=$SANDBOX_TMP/dns.log

	mkdir -p "$WWW" && head -c "$VM_DL_SIZE" /dev/urandom >"$WWW/big.bin" ||
		return 1
	DL_SHA=$(sha256sum <"$WWW/big.bin" | cut -d' ' -f1)

	in_remote busybox httpd -f -p "$REMOTE_LO4:$HTTP_PORT" -h "$WWW" \
		</dev/null >"$SANDBOX_TMP/httpd.log" 2>&1 &
	track_pid $!
	in_remote python3 "$VM_LIB/dns_answer.py" "$REMOTE_LO4" "$DNS_PORT" \
		"$DNS_SEARCH" "$DNS_ANSWER" 600 </dev/null >"$out" 2>&1 &
	track_pid $!

	slowwait 5 grep -q '^listening' "$out" ||
		{ DIAG+=("DNS server did not start:" "$(cat "$out")"); return 1; }
	slowwait 5 in_remote timeout 2 busybox wget -q -O /dev/null \
		"http://$REMOTE_LO4:$HTTP_PORT/big.bin" ||
		{ DIAG+=("HTTP server did not start"); return 1; }
}

# start_vm_daemon() - Start the daemon in VM mode as libvirt does for
# <backend type='passt'/>: --one-off --socket --pid, then the options of
# the domain's <interface> (--mtu, --interface, --log-file, --address,
# --netmask, --tcp-ports), not in the foreground; libvirt reads the PID
# file once the command returned and QEMU connects at once
#
# Sets DAEMON_PID, DAEMON_LOG (the --log-file). Return: 0 once the socket
# exists and the PID file names a running daemon
start_vm_daemon() {
	local cmd rc

	DAEMON_LOG=$SANDBOX_TMP/daemon.1.log
	PIDFILE=$SANDBOX_TMP/vm-passt.pid
	cmd=("$VM_DAEMON" "${DAEMON_ARGS[@]}" --one-off --socket "$SOCK"
	     --pid "$PIDFILE" --mtu 65520 --interface "$HOST_IF"
	     --log-file "$DAEMON_LOG" --address "$HOST_ADDR4" --netmask 24
	     --tcp-ports "$SERVE_PORT-$HC_PORT")
	ktap_diag "daemon: ${cmd[*]}"
	timeout 10 "${cmd[@]}" </dev/null >"$SANDBOX_TMP/daemon.out" 2>&1
	rc=$?
	DAEMON_PID=$(cat "$PIDFILE" 2>/dev/null)
	[ -n "$DAEMON_PID" ] && track_pid "$DAEMON_PID"
	[ $rc -eq 0 ] && [ -S "$SOCK" ] && daemon_alive && return 0
	DIAG+=("daemon: status $rc, pid '$DAEMON_PID', socket:" \
	       "$(ls -l "$SOCK" 2>&1)" "$(cat "$SANDBOX_TMP/daemon.out")" \
	       "$(tail -n 20 "$DAEMON_LOG" 2>&1)")
	return 1
}

# console_value() - Print the words after "GUESTINFO KEY" on the console
# $1:	Key
console_value() {
	local key=$1; shift

	tr -d '\r' <"$CONSOLE" | sed -n "s/^GUESTINFO $key //p" | head -n 1
}

# halfclose_check() - From the remote namespace, send HC_SIZE bytes to the
# guest's half-close server through the -t forward, shut our side, and
# read what the guest sends after that: the sha256 of the bytes
#
# Sets HC_OK (1: the guest's sum is ours) and HC_DIAG
halfclose_check() {
	local out

	out=$(in_remote timeout 30 python3 -c '
import hashlib, os, socket, sys
data = os.urandom(int(sys.argv[3]))
s = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=20)
s.sendall(data)
s.shutdown(socket.SHUT_WR)
got = b""
while True:
	b = s.recv(65536)
	if not b:
		break
	got += b
want = hashlib.sha256(data).hexdigest()
print("ok" if got.split()[:1] == [want.encode()] else
      "guest sent %r after our FIN, sha256 %s" % (got[:80], want))
' "$HOST_ADDR4" "$HC_PORT" "$HC_SIZE" 2>&1)
	if [ "$out" = ok ]; then
		HC_OK=1
	else
		HC_DIAG=("$out")
	fi
}

# serve_fetch() - Fetch the guest's file from the remote namespace through
# the -t forward, then release the guest
# $1:	Seconds left
#
# Sets SERVE_OK (1: same sha256 as the guest's) and SERVE_DIAG
serve_fetch() {
	local left=$1; shift
	local want got t0 ms

	[ "$left" -gt 60 ] && left=60
	[ "$left" -lt 2 ] && left=2
	want=$(console_value serve-sha256)
	t0=$(now_ms)
	got=$(in_remote timeout "$left" busybox wget -q -O - \
	      "http://$HOST_ADDR4:$SERVE_PORT/serve.bin" | sha256sum)
	got=${got%% *}
	ms=$(( $(now_ms) - t0 ))
	halfclose_check
	echo "fetched $got" | in_remote timeout 10 busybox nc \
		"$HOST_ADDR4" "$RELEASE_PORT" >/dev/null 2>&1
	if [ -n "$want" ] && [ "$got" = "$want" ]; then
		SERVE_OK=1
		ktap_diag "serve: the remote fetched $VM_SERVE_SIZE bytes in $ms ms"
	else
		SERVE_DIAG=("remote got sha256 $got, the guest served ${want:-?}")
	fi
}

# vm_run() - Boot the guest against the daemon, serve its file when it is
# ready, wait until it is done, QEMU exits or the budget is spent
vm_run() {
	local budget=${VM_BUDGET:-} tmo params t0 end secs served=0

	if [ -z "$budget" ]; then
		budget=200
		[ "$ACCEL" = kvm ] && budget=90
	fi
	tmo=$(( budget / 3 ))
	params="vmt.tmo=$tmo vmt.remote=$REMOTE_LO4 vmt.remote6=$REMOTE_LO6"
	params+=" vmt.addr=$HOST_ADDR4 vmt.http=$HTTP_PORT vmt.file=big.bin"
	params+=" vmt.sha256=$DL_SHA vmt.domain=$DNS_SEARCH"
	params+=" vmt.answer=$DNS_ANSWER vmt.serve=$SERVE_PORT"
	params+=" vmt.release=$RELEASE_PORT vmt.servesize=$VM_SERVE_SIZE"
	params+=" vmt.halfclose=$HC_PORT"
	[ "$VM_FRONTEND" = vhost-user ] && params+=" vmt.reboot=1"

	t0=$(now_ms)
	end=$(( t0 + budget * 1000 ))
	qemu_start "$ACCEL" "$CONSOLE" "$params" "${NIC_ARGS[@]}"
	while [ "$(now_ms)" -lt "$end" ]; do
		if [ $served = 0 ] && has_line "$CONSOLE" GUESTREADY; then
			serve_fetch $(( (end - $(now_ms)) / 1000 ))
			served=1
		fi
		# the guest reboots: its next boot finds this and checks again
		if [ ! -e "$WWW/rebooted" ] && has_line "$CONSOLE" GUESTREBOOT
		then
			: >"$WWW/rebooted"
			ktap_diag "guest rebooting $(( ($(now_ms) - t0) / 1000 )) s in"
		fi
		pid_gone "$QEMU_PID" && break
		sleep 0.2
	done
	if pid_gone "$QEMU_PID"; then
		QEMU_ALONE=1
	else
		ktap_diag "guest still running after ${budget}s: stopped"
	fi
	stop_pid "$QEMU_PID"
	secs=$(( ($(now_ms) - t0) / 1000 ))
	ktap_diag "guest ran $secs s ($ACCEL), download: $(console_value download)"
	[ $served = 1 ] || SERVE_DIAG=("the guest never served its file")
}

# report_guest() - Turn the guest's result for one check into a result
# $1:	Check name
report_guest() {
	local name=$1; shift
	local line

	line=$(tr -d '\r' <"$CONSOLE" 2>/dev/null |
	       grep -m 1 "^GUESTRESULT [a-z]* $name\( \|\$\)")
	case "$line" in
	"GUESTRESULT ok $name")
		ktap_ok "guest: $name" ;;
	"GUESTRESULT fail $name"*)
		ktap_fail "guest: $name" "${line#GUESTRESULT fail "$name" }" ;;
	*)
		ktap_fail "guest: $name" "the guest never reported it"
		;;
	esac
}

# console_tail() - Print the end of the guest's console as diagnostics
console_tail() {
	echo "# --- guest console (last 40 lines)"
	tr -d '\r' <"$CONSOLE" 2>/dev/null | tail -n 40 | sed 's/^/#   /'
	[ -f "$SANDBOX_TMP/qemu.log" ] || return 0
	echo "# --- qemu"
	tail -n 10 "$SANDBOX_TMP/qemu.log" | sed 's/^/#   /'
}

# restart_run() - vhost-user: a daemon that outlives its front ends (no
# --one-off): QEMU is killed in the middle of a download, a new QEMU
# connects to the same socket and its guest gets a lease and downloads
#
# Sets RESTART_KILL (0: daemon alive after the kill, front end gone) and
# RESTART_END (0: daemon exits on SIGTERM), RESTART_DIAG
restart_run() {
	local sock=$SANDBOX_TMP/vm2.sock log=$SANDBOX_TMP/daemon.2.log
	local params pid t0

	RESTART_KILL=1
	RESTART_END=1
	CONSOLE2=$SANDBOX_TMP/console.2.log
	CONSOLE3=$SANDBOX_TMP/console.3.log
	"$VM_DAEMON" "${DAEMON_ARGS[@]}" -f --socket "$sock" \
		--address "$HOST_ADDR4" --netmask 24 --log-file "$log" \
		</dev/null >"$SANDBOX_TMP/daemon.2.out" 2>&1 &
	pid=$!
	track_pid "$pid"
	if ! slowwait 5 test -S "$sock"; then
		RESTART_DIAG=("second daemon did not listen: $(cat "$log")")
		return
	fi
	NIC_ARGS=("${NIC_ARGS[@]/path=$SOCK/path=$sock}")
	params="vmt.tmo=60 vmt.remote=$REMOTE_LO4 vmt.addr=$HOST_ADDR4"
	params+=" vmt.http=$HTTP_PORT vmt.file=big.bin vmt.sha256=$DL_SHA"
	qemu_start "$ACCEL" "$CONSOLE2" "$params vmt.mode=busy" \
		"${NIC_ARGS[@]}"
	slowwait 120 has_line "$CONSOLE2" "GUESTREADY busy"
	sleep 2		# into the downloads
	{ kill -KILL "$QEMU_PID"; wait "$QEMU_PID"; } 2>/dev/null
	slowwait 10 pid_gone "$QEMU_PID"
	slowwait 5 grep -q 'front end left' "$log"
	if has_line "$CONSOLE2" "GUESTREADY busy" && pid_alive "$pid" &&
	   grep -q 'front end left' "$log"; then
		RESTART_KILL=0
	else
		RESTART_DIAG=("console: $(tail -n 3 "$CONSOLE2" | tr -d '\r')"
			      "daemon: $(tail -n 5 "$log")")
	fi
	t0=$(now_ms)
	qemu_start "$ACCEL" "$CONSOLE3" "$params vmt.mode=again" \
		"${NIC_ARGS[@]}"
	slowwait 150 pid_gone "$QEMU_PID" || stop_pid "$QEMU_PID"
	ktap_diag "restarted guest ran $(( ($(now_ms) - t0) / 1000 )) s"
	cat "$CONSOLE2" "$CONSOLE3" >>"$CONSOLE"
	kill -TERM "$pid" 2>/dev/null
	slowwait 5 pid_gone "$pid" && RESTART_END=0
}

# mq_check() - With several queue pairs: did every queue carry frames?
# The daemon's first log counts them per queue when its front end left
mq_check() {
	local line q i missing=

	line=$(grep -m 1 'per queue:' "$DAEMON_LOG" 2>/dev/null)
	for ((i = 0; i < 2 * VM_QUEUES; i++)); do
		q=$(sed -n "s/.* $i:\([0-9]*\).*/\1/p" <<<"$line")
		[ "${q:-0}" -gt 0 ] || missing+=" $i"
	done
	ktap_result "$VM_QUEUES queue pairs, $VM_SMP CPUs: every queue carried frames" \
		"$([ -n "$line" ] && [ -z "$missing" ]; echo $?)" \
		"idle queues:${missing:- none}" "${line:-no count in the log}"
}

PLAN=12
[ "$VM_FRONTEND" = vhost-user ] && PLAN=$((PLAN + 2 + 4))
[ "$VM_QUEUES" -gt 1 ] && PLAN=$((PLAN + 1))
ktap_plan $PLAN

SERVE_OK=0
HC_OK=0
HC_DIAG=()
INITRD=$(bash "$VM_LIB/build_initramfs.sh" "$KVER" "$VM_CACHE" 2>&1) ||
	{ DIAG+=("initramfs build failed: $INITRD"); INITRD=; }
: >"$CONSOLE"
if [ -n "$INITRD" ]; then
	choose_accel
	start_remote_servers && start_vm_daemon && vm_run
fi
[ ${#DIAG[@]} -gt 0 ] && ktap_diag "${DIAG[@]}"

for check in $GUEST_CHECKS; do
	report_guest "$check"
done
ktap_result "serve through -t" $((1 - SERVE_OK)) "${SERVE_DIAG[@]}"
ktap_result "-t forward: the guest answers after the remote's FIN" \
	$((1 - HC_OK)) "${HC_DIAG[@]}"
if has_line "$CONSOLE" GUESTDONE && [ $QEMU_ALONE = 1 ]; then
	ktap_ok "guest powered off by itself"
elif [ $QEMU_ALONE = 1 ]; then
	ktap_fail "guest powered off by itself" \
		"QEMU exited before the guest printed GUESTDONE"
elif [ -n "$QEMU_PID" ]; then
	ktap_fail "guest powered off by itself" "QEMU had to be stopped"
else
	ktap_fail "guest powered off by itself" "QEMU never started"
fi

# -1/--one-off: the daemon exits once its only guest is gone
if [ -n "$DAEMON_PID" ] && [ $QEMU_ALONE = 1 ]; then
	slowwait 5 pid_gone "$DAEMON_PID"
	pid_gone "$DAEMON_PID" && [ ! -e "$PIDFILE" ] && [ ! -e "$SOCK" ]
	ktap_result "daemon exits with its one-off guest, removes its files" \
		$? "running: $(pid_alive "$DAEMON_PID" && echo yes)" \
		"$(ls -l "$PIDFILE" "$SOCK" 2>&1)"
else
	ktap_fail "daemon exits with its one-off guest" \
		"no guest ran to the end"
fi
[ "$VM_QUEUES" -gt 1 ] && mq_check
if [ "$VM_FRONTEND" = vhost-user ]; then
	RESTART_KILL=1 RESTART_END=1 RESTART_DIAG=()
	[ -n "$INITRD" ] && [ -n "$DL_SHA" ] && restart_run
	ktap_result "QEMU killed: the daemon lives on, its front end gone" \
		"$RESTART_KILL" "${RESTART_DIAG[@]}"
	report_guest restart-dhcp
	report_guest restart-download
	ktap_result "daemon that served two front ends exits on SIGTERM" \
		"$RESTART_END"
fi
[ "$KTAP_FAILED" -gt 0 ] && console_tail
ktap_finish
