#!/bin/bash
#
# test/bench_report.sh - make bench's report generator and the pure parts
# of its measurements, fed fixed figures: medians, per-round ratios,
# targets, the marked blocks of the documents, the VM tables (ratios to
# the stream row, failed rounds), the paced-rate search
# (test/perf/bench_report.py, test/perf/bench_lib.sh). Measures nothing.

# shellcheck disable=SC2317 # helpers are called through ktap_check
# shellcheck source=test/lib/ktap.sh
. "$(dirname "$0")/lib/ktap.sh"
PERF=$(cd "$(dirname "$0")/perf" && pwd)
# shellcheck source=test/perf/bench_lib.sh
. "$PERF/bench_lib.sh"

TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT

# Three rounds. TCP 65520 in: veth 10 20 10, passtd 9 10 8: per-round
# ratios 0.9 0.5 0.8 (median 0.80), while the ratio of the medians would
# be 0.9. TCP 65520 out: ratios 0.9 1.0 0.86 (median 0.90, met).
# UDP 64 B paced in: 0.85 of veth each round; out: 0.5.
# VM TCP in, 1 stream: stream 10 10 10, vhost-user 25 15 30: ratios 2.5
# 1.5 3.0 (median 2.50, met); out: stream 10 10, vhost-user 12 14 and a
# failed round (median 1.30, not met); a row that only failed.
t=$'\t'
cat >"$TMP/results.tsv" <<EOF2
tcp${t}65520 in 1${t}veth${t}1${t}gbit${t}10
tcp${t}65520 in 1${t}passtd${t}1${t}gbit${t}9
tcp${t}65520 in 1${t}veth${t}2${t}gbit${t}20
tcp${t}65520 in 1${t}passtd${t}2${t}gbit${t}10
tcp${t}65520 in 1${t}veth${t}3${t}gbit${t}10
tcp${t}65520 in 1${t}passtd${t}3${t}gbit${t}8
tcp${t}65520 in 1${t}passtd${t}1${t}cpu${t}0.4
tcp${t}65520 in 1${t}passtd${t}2${t}cpu${t}0.6
tcp${t}65520 in 1${t}passtd${t}3${t}cpu${t}0.5
tcp${t}65520 out 1${t}veth${t}1${t}gbit${t}10
tcp${t}65520 out 1${t}passtd${t}1${t}gbit${t}9
tcp${t}65520 out 1${t}veth${t}2${t}gbit${t}10
tcp${t}65520 out 1${t}passtd${t}2${t}gbit${t}10
tcp${t}65520 out 1${t}veth${t}3${t}gbit${t}10
tcp${t}65520 out 1${t}passtd${t}3${t}gbit${t}8.6
tcp${t}65520 out 1${t}pasta${t}3${t}gbit${t}fail
paced${t}64 in${t}veth${t}1${t}kpps${t}100
paced${t}64 in${t}passtd${t}1${t}kpps${t}85
paced${t}64 out${t}veth${t}1${t}kpps${t}100
paced${t}64 out${t}passtd${t}1${t}kpps${t}50
mem${t}tcp${t}passtd${t}1${t}rss${t}3000
vm${t}tcp in 1${t}passtd --vm${t}1${t}gbit${t}10
vm${t}tcp in 1${t}passtd --vhost-user${t}1${t}gbit${t}25
vm${t}tcp in 1${t}passtd --vm${t}2${t}gbit${t}10
vm${t}tcp in 1${t}passtd --vhost-user${t}2${t}gbit${t}15
vm${t}tcp in 1${t}passtd --vm${t}3${t}gbit${t}10
vm${t}tcp in 1${t}passtd --vhost-user${t}3${t}gbit${t}30
vm${t}tcp in 1${t}passtd --vhost-user${t}1${t}cpu${t}0.25
vm${t}tcp out 1${t}passtd --vm${t}1${t}gbit${t}10
vm${t}tcp out 1${t}passtd --vhost-user${t}1${t}gbit${t}12
vm${t}tcp out 1${t}passtd --vm${t}2${t}gbit${t}10
vm${t}tcp out 1${t}passtd --vhost-user${t}2${t}gbit${t}14
vm${t}tcp out 1${t}passtd --vhost-user${t}3${t}gbit${t}fail
vm${t}udp 64 in${t}passtd --vhost-user${t}1${t}kfps${t}800
vm${t}udp 64 in${t}passtd --vhost-user${t}1${t}loss${t}0.5
vm${t}tcp in 1${t}passt (old)${t}1${t}gbit${t}fail
vm${t}tcp in 1${t}passt (old)${t}2${t}gbit${t}fail
EOF2

cat >"$TMP/doc.md" <<'EOF2'
# Hand-written title
Narrative before.
<!-- bench:begin targets -->
old targets
<!-- bench:end targets -->
Narrative between.
<!-- bench:begin tcp -->
old tcp
<!-- bench:end tcp -->
<!-- bench:begin udp -->
old udp, kept: no UDP figures in this run
<!-- bench:end udp -->
<!-- bench:begin plots -->
<!-- bench:end plots -->
<!-- bench:begin vm -->
old vm
<!-- bench:end vm -->
<!-- bench:begin vm-notes -->
old vm notes
<!-- bench:end vm-notes -->
Narrative after.
EOF2
echo "VM notes, verbatim" >"$TMP/vm.md"
printf 'x\n<!-- bench:begin readme -->\nold\n<!-- bench:end readme -->\ny\n' \
	>"$TMP/readme.md"

REPORT_OK=0
python3 "$PERF/bench_report.py" "$TMP/results.tsv" --doc "$TMP/doc.md" \
	--readme "$TMP/readme.md" --plots "$TMP/perf" --targets \
	--block "vm-notes=$TMP/vm.md" \
	>"$TMP/targets.out" 2>"$TMP/err" && REPORT_OK=1

# row_has() - Succeed if a Markdown line of FILE holds every text given
# $1:	File
# $@:	Texts
row_has() {
	local file=$1; shift
	local line t ok

	while IFS= read -r line; do
		ok=1
		for t in "$@"; do
			[[ $line == *"$t"* ]] || { ok=0; break; }
		done
		[ "$ok" = 1 ] && return 0
	done <"$file"
	return 1
}

# kept() - Succeed if the hand-written lines and the untouched block stay,
# and the replaced blocks lost their old text
kept() {
	grep -qx 'Narrative before.' "$TMP/doc.md" &&
		grep -qx 'Narrative between.' "$TMP/doc.md" &&
		grep -qx 'Narrative after.' "$TMP/doc.md" &&
		grep -q 'old udp, kept' "$TMP/doc.md" &&
		! grep -q 'old tcp\|old targets\|old vm' "$TMP/doc.md" &&
		grep -qx 'VM notes, verbatim' "$TMP/doc.md" &&
		[ "$(grep -c 'bench:begin' "$TMP/doc.md")" = 6 ] &&
		[ "$(grep -c 'bench:end' "$TMP/doc.md")" = 6 ]
}

# search_to() - Run the paced search against a fixed loss threshold
# $1:	Seed rate
# $2:	Highest rate without loss
# $3:	Most probes
# $4:	"fail" to make every probe above the threshold a failed run
search_to() {
	local seed=$1 limit=$2 max=$3 how=${4:-} lo hi next n=0 loss

	read -r lo hi next < <(search_init "$seed")
	while [ "$next" -gt 0 ] && [ $n -lt 50 ]; do
		if [ "$next" -le "$limit" ]; then
			loss=0.05
		elif [ "$how" = fail ]; then
			loss=-
		else
			loss=3.2
		fi
		n=$((n + 1))
		read -r lo hi next < <(search_step "$lo" "$hi" "$next" "$loss" \
			"$n" "$max")
	done
	echo "$lo $n"
}

# search_close() - Succeed if a long search ends within 2 % below the limit
search_close() {
	local lo n

	read -r lo n < <(search_to 60000 50000 20)
	[ "$lo" -le 50000 ] && [ "$lo" -ge 49000 ] && [ "$n" -lt 20 ]
}

# partial_keeps() - Succeed if a BENCH_ONLY=lat run keeps every other
# section's figures and drops only lat's and conn_rate's
partial_keeps() {
	local f=$TMP/partial.tsv kept

	printf '%s\t1\t2\t1\tm\t9\n' tcp mem udp paced lat conn load vm \
		other >"$f"
	kept=$(results_keep "$f" lat | cut -f1 | tr '\n' ' ')
	[ "$kept" = "tcp mem udp paced load vm other " ] || {
		echo "# kept: $kept"; return 1; }
	kept=$(results_keep "$f" vm | cut -f1 | tr '\n' ' ')
	[ "$kept" = "tcp mem udp paced lat conn load other " ] || {
		echo "# kept: $kept"; return 1; }
	kept=$(results_keep "$f" tcp,udp,lat,load,vm | cut -f1 | tr '\n' ' ')
	[ "$kept" = "other " ]
}

ktap_plan 18
ktap_check "generator runs" test "$REPORT_OK" = 1
ktap_check "figure is the median of rounds" \
	row_has "$TMP/doc.md" "| passtd | 65520 | remote→ns | 1 | 9.00 |" "| 0.50 |"
ktap_check "ratio: median (min-max) of per-round ratios" \
	row_has "$TMP/doc.md" "| passtd | 65520 | remote→ns |" "0.80 (0.50-0.90)"
ktap_check "a failed cell has no figure" \
	bash -c "! grep -q '| pasta | 65520' '$TMP/doc.md'"
ktap_check "target below its limit is not met" row_has "$TMP/doc.md" \
	"TCP MTU 65520 remote→ns ≥ 0.95× veth" "0.80" "**not met**"
ktap_check "target above its limit is met" row_has "$TMP/doc.md" \
	"TCP MTU 65520 ns→remote ≥ 0.85× veth" "0.90 (0.86-1.00)" "**met**"
ktap_check "UDP paced targets from the paced figures" grep -q \
	'UDP 64 B at ≤0.1 % loss ns→remote ≥ 0.8× veth: 0.50 (0.50-0.50): NOT MET' \
	"$TMP/targets.out"
ktap_check "narrative kept, only marked blocks replaced" kept
ktap_check "README's short table replaced between markers" row_has \
	"$TMP/readme.md" "| TCP MTU 65520 remote→ns | 10.00 | 0.80 (0.50-0.90) | - |"
if command -v gnuplot >/dev/null 2>&1; then
	ktap_check "plots written and linked" bash -c \
		"[ -s '$TMP/perf/tcp.png' ] && grep -q '(perf/tcp.png)' '$TMP/doc.md'"
else
	ktap_skip "plots written and linked" "no gnuplot"
fi
ktap_check "a partial run keeps the other sections' figures" partial_keeps
ktap_check "VM table: medians, UDP loss, failed rounds" row_has \
	"$TMP/doc.md" "| passtd --vhost-user | 800.0 (0.50 %) | - | - | - |" \
	"| 25.00 | - | 13.00 (1 failed) | - |"
ktap_check "VM table: a row that only failed" row_has "$TMP/doc.md" \
	"| passt (old) |" "| fail (2) |"
ktap_check "VM ratios to the stream row, round by round; CPU per GB" \
	row_has "$TMP/doc.md" "| passtd --vhost-user | 2.50 (1.50-3.00) |" \
	"| 1.30 (1.20-1.40) |" "| 0.25 |"
ktap_check "VM target met: vhost-user TCP remote→guest ≥ 2× stream" \
	grep -q 'VM TCP remote→guest: vhost-user ≥ 2× stream (1 stream): 2.50 (1.50-3.00): met' \
	"$TMP/targets.out"
ktap_check "VM target not met: guest→remote at 1.30×" grep -q \
	'VM TCP guest→remote: vhost-user ≥ 2× stream (1 stream): 1.30 (1.20-1.40): NOT MET' \
	"$TMP/targets.out"
ktap_check "paced search: 3 probes from 60000, limit 50000, gives 45000" \
	test "$(search_to 60000 50000 3)" = "45000 3"
ktap_check "paced search converges, failed runs count as loss" \
	bash -c "$(declare -f search_init search_step search_to search_close)
		BENCH_MAX_LOSS=$BENCH_MAX_LOSS; search_close &&
		[ \"\$(search_to 60000 50000 3 fail)\" = '45000 3' ]"
ktap_finish
