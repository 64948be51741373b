#!/bin/sh
#
# test/lib/vm_guest/udhcpc.sh - udhcpc event script of the test guest
#
# Records the lease in /tmp/lease (VAR=VALUE lines) and configures it:
# address, default route, and the MTU the server advertised.

# shellcheck disable=SC2154 # udhcpc sets interface, ip, mask, ...
case "$1" in
deconfig)
	ip -4 addr flush dev "$interface"
	;;
bound|renew)
	for v in ip mask router dns mtu domain; do
		eval "val=\${$v-}"
		[ -n "$val" ] && echo "$v=$val"
	done >/tmp/lease
	[ -n "${mtu:-}" ] && ip link set dev "$interface" mtu "$mtu"
	ip -4 addr flush dev "$interface"
	ip addr add "$ip/$mask" dev "$interface"
	for r in ${router:-}; do
		ip route add default via "$r" dev "$interface" && break
	done
	;;
esac
exit 0
