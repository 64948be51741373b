#!/bin/bash
#
# test/vm_guest.sh - VM mode with a real guest: QEMU boots Debian's kernel
# with a busybox initramfs, its virtio-net card connected to the daemon's
# UNIX socket (-netdev stream), and the guest proves DHCP, ping to the
# gateway and the remote namespace (IPv4, and IPv6 from the router
# advertisement), a 20 MB HTTP download with a matching sha256, UDP both
# ways (a DNS lookup), and serving a file to the remote namespace through
# the daemon's -t forward
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
VM_SERVE_SIZE=${VM_SERVE_SIZE:-4194304}
QEMU=${QEMU:-qemu-system-x86_64}
# stream: -netdev stream; vhost-user: the daemon with --vhost-user, QEMU
# with -netdev vhost-user on shared guest memory
VM_FRONTEND=${VM_FRONTEND:-stream}
VM_MEM=256M

HTTP_PORT=8080		# remote HTTP server, on REMOTE_LO4
DNS_PORT=53		# remote DNS server, on REMOTE_LO4
SERVE_PORT=8081		# -t: the guest's HTTP server
RELEASE_PORT=8082	# -t: the guest waits for a connection here
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
case "$VM_FRONTEND" in
stream)
	NIC_ARGS=(-netdev
		  "stream,id=n0,server=off,addr.type=unix,addr.path=$SOCK"
		  -device virtio-net-pci,netdev=n0,mac=52:54:00:12:34:56) ;;
vhost-user)
	DAEMON_ARGS+=(--vhost-user)
	# vectors=0: QEMU 7.2 under TCG crashes setting up MSI-X for a
	# vhost-user device (REFERENCE.md); legacy interrupts avoid it
	NIC_ARGS=(-object "memory-backend-memfd,id=mem,size=$VM_MEM,share=on"
		  -numa node,memdev=mem
		  -chardev "socket,id=c0,path=$SOCK"
		  -netdev vhost-user,id=n0,chardev=c0
		  -device virtio-net-pci,netdev=n0,mac=52:54:00:12:34:56,vectors=0) ;;
*)	echo "VM_FRONTEND: stream or vhost-user" >&2; exit 1 ;;
esac
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
	"$QEMU" -nodefaults -no-user-config -display none -no-reboot \
		-accel "$accel" -cpu "$cpu" -smp 1 -m "$VM_MEM" \
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
	     --tcp-ports "$SERVE_PORT-$RELEASE_PORT")
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

	t0=$(now_ms)
	end=$(( t0 + budget * 1000 ))
	qemu_start "$ACCEL" "$CONSOLE" "$params" "${NIC_ARGS[@]}"
	while [ "$(now_ms)" -lt "$end" ]; do
		if [ $served = 0 ] && has_line "$CONSOLE" GUESTREADY; then
			serve_fetch $(( (end - $(now_ms)) / 1000 ))
			served=1
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

ktap_plan 11

SERVE_OK=0
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
[ "$KTAP_FAILED" -gt 0 ] && console_tail
ktap_finish
