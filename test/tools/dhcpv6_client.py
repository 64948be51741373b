#!/usr/bin/env python3
"""test/tools/dhcpv6_client.py - minimal DHCPv6 client for the tests

busybox-static has no udhcpc6 here, so this sends a Solicit (client ID,
IA_NA, option request for DNS servers and search list) to ff02::1:2 on one
interface, takes the first Advertise, sends a Request to that server and
prints what the Reply holds, one "key=value" per line:
    address=2001:db8::1
    dns=2001:db8::53
    search=example.test
Bounded: three tries of one second per message. Exit status 0 with an
address, 1 otherwise. Run it in the guest namespace once the interface's
link-local address is usable (not tentative).

Usage: dhcpv6_client.py IFACE
"""

import os
import select
import socket
import struct
import sys

SOLICIT, ADVERTISE, REQUEST, REPLY = 1, 2, 3, 7
OPT_CLIENTID, OPT_SERVERID, OPT_IA_NA, OPT_IAADDR = 1, 2, 3, 5
OPT_ORO, OPT_ELAPSED, OPT_STATUS = 6, 8, 13
OPT_DNS, OPT_DOMAINS = 23, 24
TRIES, TIMEOUT = 3, 1.0


def opt(code, data):
    """Encode one option."""
    return struct.pack("!HH", code, len(data)) + data


def parse_opts(data):
    """Decode options into a list of (code, data), stopping at overruns."""
    out, off = [], 0
    while off + 4 <= len(data):
        code, length = struct.unpack_from("!HH", data, off)
        off += 4
        if off + length > len(data):
            break
        out.append((code, data[off:off + length]))
        off += length
    return out


def decode_names(data):
    """Decode a list of DNS names in wire format."""
    names, off, labels = [], 0, []
    while off < len(data):
        n = data[off]
        off += 1
        if n == 0:
            names.append(".".join(labels))
            labels = []
            continue
        labels.append(data[off:off + n].decode("ascii", "replace"))
        off += n
    return names


def mac_of(ifname):
    """Read the interface's MAC address from sysfs, or make one up."""
    try:
        with open("/sys/class/net/%s/address" % ifname) as f:
            return bytes.fromhex(f.read().strip().replace(":", ""))
    except OSError:
        return b"\x02\x00\x00\x00\x00\x01"


def exchange(sock, ifindex, msg_type, xid, options, want):
    """Send a message and wait for an answer of the wanted type."""
    msg = bytes([msg_type]) + xid + b"".join(options)
    for _ in range(TRIES):
        sock.sendto(msg, ("ff02::1:2", 547, 0, ifindex))
        readable, _, _ = select.select([sock], [], [], TIMEOUT)
        while readable:
            data, _ = sock.recvfrom(65536)
            if len(data) >= 4 and data[0] == want and data[1:4] == xid:
                return parse_opts(data[4:])
            readable, _, _ = select.select([sock], [], [], 0.1)
    return None


def main():
    if len(sys.argv) != 2:
        sys.stderr.write("Usage: dhcpv6_client.py IFACE\n")
        return 2
    ifname = sys.argv[1]
    ifindex = socket.if_nametoindex(ifname)

    sock = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_BINDTODEVICE,
                    ifname.encode())
    sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_IF, ifindex)
    sock.bind(("::", 546))

    xid = os.urandom(3)
    duid = struct.pack("!HH", 3, 1) + mac_of(ifname)   # DUID-LL, Ethernet
    base = [opt(OPT_CLIENTID, duid),
            opt(OPT_ELAPSED, b"\x00\x00"),
            opt(OPT_ORO, struct.pack("!HH", OPT_DNS, OPT_DOMAINS)),
            opt(OPT_IA_NA, struct.pack("!III", 1, 0, 0))]

    adv = exchange(sock, ifindex, SOLICIT, xid, base, ADVERTISE)
    if adv is None:
        print("error=no advertise")
        return 1
    server = [d for c, d in adv if c == OPT_SERVERID]
    if not server:
        print("error=advertise without server ID")
        return 1

    xid = os.urandom(3)
    reply = exchange(sock, ifindex, REQUEST, xid,
                     base + [opt(OPT_SERVERID, server[0])], REPLY)
    if reply is None:
        print("error=no reply")
        return 1

    found = False
    for code, data in reply:
        if code == OPT_IA_NA and len(data) >= 12:
            for sub, sdata in parse_opts(data[12:]):
                if sub == OPT_IAADDR and len(sdata) >= 24:
                    print("address=%s" % socket.inet_ntop(
                        socket.AF_INET6, sdata[:16]))
                    found = True
                elif sub == OPT_STATUS and len(sdata) >= 2:
                    print("ia_status=%d" % struct.unpack("!H",
                                                         sdata[:2])[0])
        elif code == OPT_DNS:
            for off in range(0, len(data) - 15, 16):
                print("dns=%s" % socket.inet_ntop(socket.AF_INET6,
                                                  data[off:off + 16]))
        elif code == OPT_DOMAINS:
            for name in decode_names(data):
                print("search=%s" % name)
        elif code == OPT_STATUS and len(data) >= 2:
            print("status=%d" % struct.unpack("!H", data[:2])[0])
    return 0 if found else 1


if __name__ == "__main__":
    sys.exit(main())
