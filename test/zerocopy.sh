#!/bin/bash
#
# test/zerocopy.sh - MSG_ZEROCOPY sends of the guest's TCP payload: data
# intact while buffers are lent, none reused before its completion, the
# "copied" path, the counters, --no-zerocopy
#
# Every path in the sandbox ends in local delivery (veth, loopback), where
# the kernel copies lent pages and says so (SO_EE_CODE_ZEROCOPY_COPIED):
# the daemon then stops lending on that socket. The hidden test options
# keep it on all the same (--zerocopy-force), so the whole mechanism runs
# here, and overwrite every buffer the moment its last hold goes
# (--zerocopy-scribble): a buffer given back before the kernel is done
# with it then arrives overwritten, and tcp_stream's byte-by-byte check
# fails. Loss at the remote makes the kernel send lent pages again long
# after the sendmsg() (retransmissions), and the transfers end with the
# socket closed while sends are still in flight (half-close, resets).
# TCP_BIG (default 256M) is the size of the main transfers.
#
# ENOBUFS: the kernel refuses a MSG_ZEROCOPY send when the notification it
# would allocate does not fit in the socket's option memory
# (net.core.optmem_max, per network namespace since Linux 6.9: the
# sandbox's own is lowered, the daemon's sockets to the remote live
# there). The daemon must send that batch again copying. At 1 byte every
# zerocopy send is refused; at 1024 one notification (about 600 bytes of
# sk_buff) fits, so sends in flight alternate with refused ones on the
# same connection: the numbering of the kernel's completions (a refused
# send takes no number) must still release each buffer at the right time
# (the scribble shows one released too early, a mismatch leaves them
# held until close).

# shellcheck disable=SC2317 # helpers are called indirectly
# shellcheck source=test/lib/sandbox.sh
. "$(dirname "$0")/lib/sandbox.sh"
# shellcheck source=test/lib/loss.sh
. "$(dirname "$0")/lib/loss.sh"
# shellcheck source=test/lib/tcp_stream.sh
. "$(dirname "$0")/lib/tcp_stream.sh"
# shellcheck source=test/lib/zerocopy.sh
. "$(dirname "$0")/lib/zerocopy.sh"

TCP_STREAM=${TCP_STREAM:-$TEST_DIR/tools/tcp_stream}
TCP_BIG=${TCP_BIG:-256M}
TCP_BUDGET=${TCP_BUDGET:-240}
KERNEL=0

require_tools ip nsenter unshare timeout awk grep
require_passtd
[ -x "$TCP_STREAM" ] ||
	ktap_skip_all "no $TCP_STREAM (make test/tools/tcp_stream)"
setup_sandbox

FWD=10001		# -t: one-shot guest servers
R_PORT=5001		# remote one-shot servers
DAEMON_HELP=$("$PASSTD" --help 2>&1)
START_MS=$(now_ms)
BUDGET_END=$(( START_MS + TCP_BUDGET * 1000 ))
RUN_COUNT=0
STREAM_DIAG=()

has_opt --no-zerocopy || ktap_skip_all "the daemon has no --no-zerocopy"

# zc_stop() - Stop the daemon, so that it logs its counters
zc_stop() {
	local log=$DAEMON_LOG

	daemon_down
	slowwait 5 grep -q "zerocopy: held at exit" "$log"
}

ktap_plan 36

# --- 1: --zerocopy-force --zerocopy-scribble ------------------------------
daemon_up "forced, scribbled" --debug --zerocopy-force --zerocopy-scribble \
	-t "$FWD" -T none -u none -U none
log1=$DAEMON_LOG

stream_check "$TCP_BIG ns->remote IPv4 intact" match \
	"$REMOTE_PID" "$GUEST_PID" 60 -r -e "$TCP_BIG" listen "$R_PORT" \
	-- -s "$TCP_BIG" connect "$REMOTE_LO4" "$R_PORT"
stream_check "$TCP_BIG ns->remote IPv6 intact" match \
	"$REMOTE_PID" "$GUEST_PID" 60 -r -e "$TCP_BIG" listen "$R_PORT" \
	-- -s "$TCP_BIG" connect "$REMOTE_LO6" "$R_PORT"
stream_check "64M remote->ns IPv4 intact (-t)" match \
	"$GUEST_PID" "$REMOTE_PID" 60 -r -e 64M listen "$FWD" \
	-- -s 64M connect "$HOST_ADDR4" "$FWD"

# 1% loss on the tap and at the remote: the remote's kernel drops what the
# daemon's kernel sent from lent pages, which sends them again later
if command -v nft >/dev/null 2>&1; then
	loss_on "$GUEST_PID" "$HOST_IF" 1 tcp
	loss_on "$REMOTE_PID" "$REMOTE_IF" 1 tcp
	stream_check "1% loss: 64M ns->remote IPv4 intact" match \
		"$REMOTE_PID" "$GUEST_PID" 120 -r -e 64M listen "$R_PORT" \
		-- -s 64M connect "$REMOTE_LO4" "$R_PORT"
	stream_check "1% loss: 64M ns->remote IPv6 intact" match \
		"$REMOTE_PID" "$GUEST_PID" 120 -r -e 64M listen "$R_PORT" \
		-- -s 64M connect "$REMOTE_LO6" "$R_PORT"
	stream_check "1% loss: 16M remote->ns IPv4 intact (-t)" match \
		"$GUEST_PID" "$REMOTE_PID" 120 -r -e 16M listen "$FWD" \
		-- -s 16M connect "$HOST_ADDR4" "$FWD"
	d1=$(loss_dropped "$GUEST_PID")
	d2=$(loss_dropped "$REMOTE_PID")
	loss_off "$GUEST_PID"
	loss_off "$REMOTE_PID"
	[ "${d1:-0}" -gt 0 ] && [ "${d2:-0}" -gt 0 ]
	ktap_result "1% loss: nftables dropped packets (tap ${d1:-0}, remote ${d2:-0})" \
		$? "the loss rules dropped nothing on one side: loss not tested"
else
	for n in 1 2 3 4; do
		ktap_skip "1% loss: check $n" "no nft"
	done
fi

# The socket is closed as soon as both sides' FINs are through, with the
# guest's last payload still in flight at the remote's TCP
ok=0
for i in 1 2 3; do
	stream_run match "$REMOTE_PID" "$GUEST_PID" 30 \
		-H -r -e 64M listen "$R_PORT" \
		-- -s 64M connect "$REMOTE_LO4" "$R_PORT" || break
	ok=$i
done
ktap_result "half-close: half-closed remote receiver gets 64M (3 runs)" \
	$(( ok != 3 )) "run $((ok + 1)) failed:" "${STREAM_DIAG[@]}"
stream_check "half-close: guest FIN after 16M, then 16M reply" match \
	"$REMOTE_PID" "$GUEST_PID" 30 -r -e 16M -a -s 16M listen "$R_PORT" \
	-- -s 16M -r -e 16M connect "$REMOTE_LO4" "$R_PORT"

# Resets with the guest's payload in flight, each way
stream_repeat "RST from the guest client while sending: remote sees ECONNRESET" \
	10 status "$REMOTE_PID" "$GUEST_PID" 15 -s 4K -N -r -X reset \
	listen "$R_PORT" -- -s 8M -N -K 4K connect "$REMOTE_LO4" "$R_PORT"
stream_repeat "RST from the remote server while the guest sends: guest sees ECONNRESET" \
	10 status "$REMOTE_PID" "$GUEST_PID" 15 -s 4K -N -K 4K \
	listen "$R_PORT" -- -s 64M -N -X reset connect "$REMOTE_LO4" "$R_PORT"

daemon_alive
ktap_result "forced: daemon still running" $?
zc_stop

sends=$(zc_count "$log1" sends)
done1=$(zc_count "$log1" completed)
copied=$(zc_count "$log1" copied)
ktap_diag "forced: $(grep -o 'zerocopy: [0-9].*' "$log1" | head -n 1)"
ktap_diag "forced: $(grep -o 'zerocopy: copying.*' "$log1" | head -n 1)"
[ "$sends" -gt 100 ] && [ "$done1" -eq "$sends" ]
ktap_result "forced: zerocopy sends made ($sends), all completed ($done1)" \
	$? "$(grep zerocopy "$log1")"
[ "$copied" -gt 0 ]
ktap_result "forced: completions say the kernel copied ($copied), still on" \
	$? "$(grep zerocopy "$log1")"
[ "$(grep -c 'zerocopy: the kernel copied' "$log1")" -eq 1 ] &&
	grep -q 'kept on (--zerocopy-force)' "$log1"
ktap_result "forced: the copy is said once" $? "$(grep zerocopy "$log1")"
held_zero "$log1"
ktap_result "forced: nothing held at exit" $? "$(grep zerocopy "$log1")"

# --- 2: default: the kernel copies, the socket stops lending ---------------
daemon_up "default" --debug -t "$FWD" -T none -u none -U none
log2=$DAEMON_LOG
stream_check "default: $TCP_BIG ns->remote IPv4 intact" match \
	"$REMOTE_PID" "$GUEST_PID" 60 -r -e "$TCP_BIG" listen "$R_PORT" \
	-- -s "$TCP_BIG" connect "$REMOTE_LO4" "$R_PORT"
stream_check "default: $TCP_BIG ns->remote IPv6 intact" match \
	"$REMOTE_PID" "$GUEST_PID" 60 -r -e "$TCP_BIG" listen "$R_PORT" \
	-- -s "$TCP_BIG" connect "$REMOTE_LO6" "$R_PORT"
zc_stop
sends2=$(zc_count "$log2" sends)
copied2=$(zc_count "$log2" copied)
ktap_diag "default: $(grep -o 'zerocopy: [0-9].*' "$log2" | head -n 1)"
[ "$(grep -c 'zerocopy: the kernel copied' "$log2")" -eq 1 ] &&
	grep -q 'off for such sockets' "$log2"
ktap_result "default: the copy turns zerocopy off, said once" $? \
	"$(grep zerocopy "$log2")"
# Lending stops at the first completion: a few sends per connection, where
# the forced run made hundreds
[ "$copied2" -gt 0 ] && [ "$sends2" -le 64 ]
ktap_result "default: few zerocopy sends ($sends2 on 2 connections), copied ($copied2)" \
	$? "$(grep zerocopy "$log2")"
held_zero "$log2"
ktap_result "default: nothing held at exit" $? "$(grep zerocopy "$log2")"

# --- 3: --no-zerocopy -----------------------------------------------------
daemon_up "--no-zerocopy" --debug --no-zerocopy -t "$FWD" -T none \
	-u none -U none
log3=$DAEMON_LOG
stream_check "--no-zerocopy: 64M ns->remote IPv4 intact" match \
	"$REMOTE_PID" "$GUEST_PID" 60 -r -e 64M listen "$R_PORT" \
	-- -s 64M connect "$REMOTE_LO4" "$R_PORT"
daemon_down
grep -q 'zerocopy: disabled (--no-zerocopy)' "$log3" &&
	! grep -q 'zerocopy: [0-9]* sends' "$log3"
ktap_result "--no-zerocopy: off, no zerocopy send" $? \
	"$(grep zerocopy "$log3")"

# --- 4: ENOBUFS (optmem limit): that batch is sent copying ---------------
OPTMEM=/proc/sys/net/core/optmem_max
optmem0=$(cat "$OPTMEM" 2>/dev/null)
if [ -n "$optmem0" ] && echo 1 2>/dev/null >"$OPTMEM"; then
	daemon_up "optmem 1" --debug -t "$FWD" -T none -u none -U none
	log4=$DAEMON_LOG
	stream_check "optmem 1: 64M ns->remote IPv4 intact" match \
		"$REMOTE_PID" "$GUEST_PID" 60 -r -e 64M listen "$R_PORT" \
		-- -s 64M connect "$REMOTE_LO4" "$R_PORT"
	stream_check "optmem 1: 64M ns->remote IPv6 intact" match \
		"$REMOTE_PID" "$GUEST_PID" 60 -r -e 64M listen "$R_PORT" \
		-- -s 64M connect "$REMOTE_LO6" "$R_PORT"
	zc_stop
	nobufs=$(zc_count "$log4" ENOBUFS)
	sends4=$(zc_count "$log4" sends)
	ktap_diag "optmem 1: $(grep -o 'zerocopy: copying.*' "$log4" | head -n 1)"
	[ "$nobufs" -gt 0 ] && [ "$sends4" -eq 0 ] && held_zero "$log4"
	ktap_result "optmem 1: every zerocopy send refused ($nobufs ENOBUFS), sent copying" \
		$? "$(grep zerocopy "$log4")"

	echo 1024 >"$OPTMEM"
	daemon_up "optmem 1024, forced, scribbled" --debug --zerocopy-force \
		--zerocopy-scribble -t "$FWD" -T none -u none -U none
	log5=$DAEMON_LOG
	stream_check "optmem 1024: 64M ns->remote IPv4 intact" match \
		"$REMOTE_PID" "$GUEST_PID" 60 -r -e 64M listen "$R_PORT" \
		-- -s 64M connect "$REMOTE_LO4" "$R_PORT"
	stream_check "optmem 1024: 64M ns->remote IPv6 intact" match \
		"$REMOTE_PID" "$GUEST_PID" 60 -r -e 64M listen "$R_PORT" \
		-- -s 64M connect "$REMOTE_LO6" "$R_PORT"
	zc_stop
	echo "$optmem0" >"$OPTMEM"
	nobufs=$(zc_count "$log5" ENOBUFS)
	sends5=$(zc_count "$log5" sends)
	done5=$(zc_count "$log5" completed)
	atclose=$(zc_count "$log5" "sends released at close")
	ktap_diag "optmem 1024: $(grep -o 'zerocopy: [0-9].*' "$log5" | head -n 1)"
	ktap_diag "optmem 1024: $(grep -o 'zerocopy: copying.*' "$log5" | head -n 1)"
	[ "$nobufs" -gt 0 ] && [ "$sends5" -gt 0 ]
	ktap_result "optmem 1024: zerocopy sends ($sends5) and refused ones ($nobufs) mixed" \
		$? "$(grep zerocopy "$log5")"
	[ "$done5" -eq "$sends5" ] && [ "$atclose" -eq 0 ] && held_zero "$log5"
	ktap_result "optmem 1024: every send completed ($done5), none released at close, nothing held" \
		$? "$(grep zerocopy "$log5")"
else
	for n in 1 2 3 4 5 6 7 8 9; do
		ktap_skip "ENOBUFS: check $n" \
			"net.core.optmem_max not writable in a namespace"
	done
fi

sandbox_sanitizer_reports >/dev/null
ktap_result "no sanitizer reports in the daemon logs" $? \
	"$(sandbox_sanitizer_reports)"
ktap_diag "run time $(( ($(now_ms) - START_MS) / 1000 )) s"
ktap_finish
