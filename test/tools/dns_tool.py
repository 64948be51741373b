#!/usr/bin/env python3
"""test/tools/dns_tool.py - a DNS responder and client, over UDP and TCP

A resolver stand-in that answers every A query with one address and every
AAAA query with another, whatever the name, on UDP and TCP (messages
prefixed with their length, RFC 1035 4.2.2) alike; the same on port 853,
where a real server would speak TLS, DTLS or QUIC: the tests only check
where the daemon sends those ports. Its answers tell which of several
responders a query reached.

Usage:
    dns_tool.py serve ADDR PORTS ANSWER4 ANSWER6 SECONDS
        Listen on ADDR, UDP and TCP, on each port of the comma list PORTS;
        print "listening" once bound and, for each query,
        "query PROTO PORT NAME TYPE from PEER"; stop after SECONDS.
    dns_tool.py query [-t] [-6] ADDR PORT NAME
        One A query (-6: AAAA) to ADDR PORT over UDP (-t: TCP); print
        "answer=ADDRESS" and exit 0, or exit 1 without an answer. UDP
        tries 3 times, a second apart; TCP connects and waits up to 3 s.
"""

import selectors
import socket
import struct
import sys
import time

TYPE_A, TYPE_AAAA = 1, 28
TRIES, TIMEOUT = 3, 1.0


def parse_name(msg, off):
    """Return the dotted name starting at off and the offset after it."""
    labels = []
    while off < len(msg):
        n = msg[off]
        off += 1
        if n == 0:
            return ".".join(labels), off
        if n & 0xc0:
            return ".".join(labels), off + 1    # pointer: ends the name
        labels.append(msg[off:off + n].decode("ascii", "replace"))
        off += n
    raise ValueError("truncated name")


def respond(msg, answers):
    """Return (response, name, type) for one query, or None to ignore it."""
    if len(msg) < 12:
        return None
    qid, flags, qdcount = struct.unpack("!HHH", msg[:6])
    if flags & 0x8000 or qdcount != 1:
        return None
    try:
        name, off = parse_name(msg, 12)
    except ValueError:
        return None
    if off + 4 > len(msg):
        return None
    qtype, qclass = struct.unpack("!HH", msg[off:off + 4])
    record = b""
    if qclass == 1 and qtype in answers:
        rdata = answers[qtype]
        record = struct.pack("!HHHIH", 0xc00c, qtype, 1, 60,
                             len(rdata)) + rdata
    header = struct.pack("!HHHHHH", qid, 0x8180 | (flags & 0x0100), 1,
                         1 if record else 0, 0, 0)
    return header + msg[12:off + 4] + record, name, qtype


def recv_exact(sock, n):
    """Read exactly n bytes from a stream socket, or None at its end."""
    data = b""
    while len(data) < n:
        part = sock.recv(n - len(data))
        if not part:
            return None
        data += part
    return data


def serve_tcp(conn, port, answers):
    """Answer the length-prefixed queries of one connection until it ends."""
    conn.settimeout(2.0)
    peer = conn.getpeername()[0]
    try:
        while True:
            head = recv_exact(conn, 2)
            if head is None:
                break
            msg = recv_exact(conn, struct.unpack("!H", head)[0])
            if msg is None:
                break
            r = respond(msg, answers)
            if r is None:
                break
            print("query tcp", port, r[1], r[2], "from", peer, flush=True)
            conn.sendall(struct.pack("!H", len(r[0])) + r[0])
    except OSError:
        pass
    conn.close()


def serve(addr, ports, answer4, answer6, seconds):
    """Run the responder on every port until the time is up."""
    family = socket.AF_INET6 if ":" in addr else socket.AF_INET
    answers = {TYPE_A: socket.inet_pton(socket.AF_INET, answer4),
               TYPE_AAAA: socket.inet_pton(socket.AF_INET6, answer6)}
    sel = selectors.DefaultSelector()
    for port in (int(p) for p in ports.split(",")):
        u = socket.socket(family, socket.SOCK_DGRAM)
        u.bind((addr, port))
        sel.register(u, selectors.EVENT_READ, ("udp", port))
        t = socket.socket(family, socket.SOCK_STREAM)
        t.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        t.bind((addr, port))
        t.listen(16)
        sel.register(t, selectors.EVENT_READ, ("tcp", port))
    print("listening", flush=True)
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        for key, _ in sel.select(timeout=max(0.0, end - time.monotonic())):
            proto, port = key.data
            if proto == "tcp":
                conn, _ = key.fileobj.accept()
                serve_tcp(conn, port, answers)
                continue
            msg, peer = key.fileobj.recvfrom(65535)
            r = respond(msg, answers)
            if r is not None:
                print("query udp", port, r[1], r[2], "from", peer[0],
                      flush=True)
                key.fileobj.sendto(r[0], peer)
    return 0


def query_msg(name, qtype):
    """Build a query for name and qtype, with a fixed id."""
    labels = b"".join(bytes([len(p)]) + p.encode("ascii")
                      for p in name.split(".") if p)
    return struct.pack("!HHHHHH", 0x5a5a, 0x0100, 1, 0, 0, 0) + \
        labels + b"\0" + struct.pack("!HH", qtype, 1)


def first_answer(msg, qtype):
    """Return the address in the first answer record of qtype, or None."""
    if len(msg) < 12 or struct.unpack("!H", msg[:2])[0] != 0x5a5a:
        return None
    ancount = struct.unpack("!H", msg[6:8])[0]
    _, off = parse_name(msg, 12)
    off += 4
    for _ in range(ancount):
        _, off = parse_name(msg, off)
        rtype, _, _, rdlen = struct.unpack("!HHIH", msg[off:off + 10])
        off += 10
        rdata = msg[off:off + rdlen]
        off += rdlen
        if rtype == qtype == TYPE_A and rdlen == 4:
            return socket.inet_ntop(socket.AF_INET, rdata)
        if rtype == qtype == TYPE_AAAA and rdlen == 16:
            return socket.inet_ntop(socket.AF_INET6, rdata)
    return None


def query_udp(family, addr, port, msg, qtype):
    """Ask over UDP, resending; return the answer or None."""
    with socket.socket(family, socket.SOCK_DGRAM) as s:
        s.connect((addr, port))
        s.settimeout(TIMEOUT)
        for _ in range(TRIES):
            try:
                s.send(msg)
                got = first_answer(s.recv(65535), qtype)
                if got:
                    return got
            except OSError as e:
                print("udp:", e, flush=True)
                time.sleep(TIMEOUT)     # refused at once: still bounded
    return None


def query_tcp(family, addr, port, msg, qtype):
    """Ask over TCP; return the answer or None."""
    try:
        with socket.socket(family, socket.SOCK_STREAM) as s:
            s.settimeout(TRIES * TIMEOUT)
            s.connect((addr, port))
            s.sendall(struct.pack("!H", len(msg)) + msg)
            head = recv_exact(s, 2)
            reply = head and recv_exact(s, struct.unpack("!H", head)[0])
            return reply and first_answer(reply, qtype)
    except OSError as e:
        print("tcp:", e, flush=True)
    return None


def query(args):
    """query [-t] [-6] ADDR PORT NAME"""
    tcp = "-t" in args
    qtype = TYPE_AAAA if "-6" in args else TYPE_A
    addr, port, name = [a for a in args if a not in ("-t", "-6")]
    family = socket.AF_INET6 if ":" in addr else socket.AF_INET
    ask = query_tcp if tcp else query_udp
    got = ask(family, addr, int(port), query_msg(name, qtype), qtype)
    if not got:
        print("no answer", flush=True)
        return 1
    print("answer=" + got, flush=True)
    return 0


def main(argv):
    """Dispatch on the mode."""
    if len(argv) == 7 and argv[1] == "serve":
        return serve(argv[2], argv[3], argv[4], argv[5], float(argv[6]))
    if len(argv) >= 5 and argv[1] == "query":
        return query(argv[2:])
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
