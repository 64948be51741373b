# shellcheck shell=bash
#
# test/lib/loss.sh - random packet loss on an interface, with nftables
#
# This kernel has no sch_netem: loss is an nftables table in the namespace
# holding the interface, dropping a share of the packets of one protocol
# both ways (input and output hooks, `numgen random mod 100 < PERCENT`),
# with counters so a test can tell that loss really happened.
#	loss_on "$GUEST_PID" host0 1 tcp
#	...
#	loss_dropped "$GUEST_PID"	# prints the packets dropped so far
#	loss_off "$GUEST_PID"
# Needs sandbox.sh (in_ns) and nft(8).

LOSS_TABLE=passtd_loss

# loss_on() - Start dropping packets on an interface, both ways
# $1:	PID holding the namespace
# $2:	Interface
# $3:	Percentage of packets dropped, 1 to 99
# $4:	Layer 4 protocol (tcp, udp, ...; default: tcp)
#
# Return: nft's status
loss_on() {
	local pid=$1; shift
	local ifname=$1; shift
	local pct=$1; shift
	local proto=${1:-tcp}

	in_ns "$pid" nft -f - <<EOF
table inet $LOSS_TABLE {
	chain in {
		type filter hook input priority 0; policy accept;
		iifname "$ifname" meta l4proto $proto numgen random mod 100 < $pct counter drop
	}
	chain out {
		type filter hook output priority 0; policy accept;
		oifname "$ifname" meta l4proto $proto numgen random mod 100 < $pct counter drop
	}
}
EOF
}

# loss_off() - Stop dropping packets
# $1:	PID holding the namespace
loss_off() {
	local pid=$1; shift

	in_ns "$pid" nft delete table inet "$LOSS_TABLE" 2>/dev/null
}

# loss_dropped() - Print the packets dropped so far, both ways together
# $1:	PID holding the namespace
loss_dropped() {
	local pid=$1; shift

	in_ns "$pid" nft list table inet "$LOSS_TABLE" 2>/dev/null |
		awk '{ for (i = 1; i < NF; i++)
			   if ($i == "packets") n += $(i + 1) }
		     END { print n + 0 }'
}
