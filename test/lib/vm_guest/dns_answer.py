#!/usr/bin/env python3
#
# test/lib/vm_guest/dns_answer.py - a DNS server that knows one answer
#
# Usage: dns_answer.py ADDRESS PORT DOMAIN ANSWER4 SECONDS
#
# Answers A queries for names under DOMAIN with ANSWER4, other queries
# under DOMAIN with no records, anything else with NXDOMAIN; stops after
# SECONDS. Prints "listening" once bound and "query NAME TYPE" for each
# query. test/vm_guest.sh runs it in the remote namespace: a guest that
# resolves a name through it has sent and received UDP through the daemon.

import socket
import struct
import sys
import time


def parse_name(msg, off):
    """Return the dotted name starting at off and the offset after it"""
    labels = []
    while off < len(msg):
        n = msg[off]
        off += 1
        if n == 0:
            return ".".join(labels), off
        if n & 0xc0:
            raise ValueError("compressed name in a question")
        labels.append(msg[off:off + n].decode("ascii", "replace"))
        off += n
    raise ValueError("truncated name")


def answer(msg, domain, addr4):
    """Return the response to one query message, or None to ignore it"""
    if len(msg) < 12:
        return None
    qid, flags, qdcount = struct.unpack("!HHH", msg[:6])
    if flags & 0x8000 or qdcount != 1:
        return None
    name, off = parse_name(msg, 12)
    if off + 4 > len(msg):
        return None
    qtype, qclass = struct.unpack("!HH", msg[off:off + 4])
    question = msg[12:off + 4]
    print("query", name, qtype, flush=True)

    lname = name.lower()
    ours = lname == domain or lname.endswith("." + domain)
    rcode = 0 if ours else 3
    records = b""
    if ours and qtype == 1 and qclass == 1:
        records = struct.pack("!HHHIH", 0xc00c, 1, 1, 60, 4) + addr4
    rflags = 0x8000 | (flags & 0x7900) | 0x0080 | rcode
    header = struct.pack("!HHHHHH", qid, rflags, 1,
                         1 if records else 0, 0, 0)
    return header + question + records


def main():
    """Serve queries until the time is up"""
    addr, port, domain, ans, secs = sys.argv[1:6]
    addr4 = socket.inet_aton(ans)
    domain = domain.lower().strip(".")
    family = socket.AF_INET6 if ":" in addr else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_DGRAM)
    sock.bind((addr, int(port)))
    print("listening", flush=True)

    end = time.monotonic() + float(secs)
    while True:
        left = end - time.monotonic()
        if left <= 0:
            return 0
        sock.settimeout(left)
        try:
            msg, peer = sock.recvfrom(4096)
        except socket.timeout:
            return 0
        try:
            resp = answer(msg, domain, addr4)
        except ValueError:
            resp = None
        if resp:
            sock.sendto(resp, peer)


if __name__ == "__main__":
    sys.exit(main())
