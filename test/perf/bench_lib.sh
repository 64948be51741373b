# shellcheck shell=bash
#
# test/perf/bench_lib.sh - the pure parts of make bench's measurements
#
# Theory of operation
# Functions of numbers only, no process started, so that
# test/bench_report.sh can feed them fixed inputs: the bounded search for
# the highest paced UDP rate with at most BENCH_MAX_LOSS percent loss, and
# the conversions of iperf3's figures. test/perf/bench.sh sources this.
#
# The search is a bisection over [lo, hi] packets per second: the first
# probe is the unpaced received rate (seed), then the middle of what is
# still unknown; a probe within the loss limit raises lo, one above it
# lowers hi. It stops after BENCH_STEPS probes or once hi is within 2 %
# of lo; the result is lo, the highest rate that passed (0 if none did).

BENCH_MAX_LOSS=${BENCH_MAX_LOSS:-0.1}

# search_init() - Print "LO HI NEXT" to start a search from a seed rate
# $1:	Unpaced received rate, packets per second
search_init() {
	local seed=$1; shift

	awk -v s="$seed" 'BEGIN { s = int(s); if (s < 1) s = 1
		printf "0 %d %d\n", int(s * 1.5), s }'
}

# search_step() - Print the search's next "LO HI NEXT" after one probe,
# NEXT 0 once it is done
# $1:	Lo
# $2:	Hi
# $3:	Rate probed
# $4:	Loss at that rate, percent ("-" for a failed run: counts as loss)
# $5:	Probes made so far
# $6:	Most probes
search_step() {
	awk -v lo="$1" -v hi="$2" -v r="$3" -v l="$4" -v n="$5" -v max="$6" \
	    -v lim="$BENCH_MAX_LOSS" 'BEGIN {
		if (l != "-" && l + 0 <= lim + 0) lo = r; else hi = r
		next_r = int((lo + hi) / 2)
		if (n >= max || hi <= lo * 1.02 || next_r <= lo || next_r < 1)
			next_r = 0
		printf "%d %d %d\n", lo, hi, next_r }'
}

# paced_bitrate() - Print iperf3's -b for a rate of datagrams
# $1:	Datagrams per second
# $2:	Datagram payload, bytes
paced_bitrate() {
	echo $(( $1 * $2 * 8 ))
}

# results_keep() - Print the lines of a results file that a run of some
# sections leaves standing: those of every section not run, so that the
# report's tables made from all sections (targets, the README's, plots)
# keep their figures
# $1:	Results file (SECTION CELL ROW ROUND METRIC VALUE, tab-separated)
# $2:	The sections to run, comma-separated (BENCH_ONLY)
results_keep() {
	awk -F '\t' -v only=",$2," '
		# The first field of each section'"'"'s lines (bench.sh'"'"'s rec)
		BEGIN { of["tcp"] = "tcp"; of["mem"] = "tcp"
			of["udp"] = "udp"; of["paced"] = "udp"
			of["lat"] = "lat"; of["conn"] = "lat"
			of["load"] = "load"; of["vm"] = "vm" }
		!($1 in of) || index(only, "," of[$1] ",") == 0' "$1"
}
