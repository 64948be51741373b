#!/usr/bin/env python3
# test/tools/echo_peer.py - a TCP and UDP server that says who it is, and a
# client that asks, for tests of where a translator sends a connection
#
# Theory of operation
# Several servers can listen on the same port in different places (the
# host's loopback, a remote namespace): each answers with its own tag, so
# the client's output tells which of them the connection reached, or that
# none did. Addresses may carry a scope ("fe80::2%host0").
#
# Usage:
#	echo_peer.py [-t SECS] serve ADDR PORT TAG
#		answer every TCP connection and UDP datagram to ADDR PORT
#		with TAG; prints "listening PORT" once both sockets are bound
#	echo_peer.py [-t SECS] ask tcp|udp ADDR PORT
#		connect (TCP) or send one datagram (UDP, up to 3 tries), print
#		"reply TAG", or "refused", "timeout" or "error WHAT"
# -t: run time limit, default 60 s for a server, 3 s for a client.
# Exit status: 0 (a client: a reply came), 1 (a client: none came), 2 on a
# usage or set-up error.

import selectors
import signal
import socket
import sys
import time


def say(*words):
    """Print one line of output at once"""
    print(*words, flush=True)


def sockaddr(addr, port, kind):
    """Socket family and address for ADDR (may be scoped), PORT"""
    ai = socket.getaddrinfo(addr, port, type=kind)[0]
    return ai[0], ai[4]


def serve(addr, port, tag, secs):
    """Answer TCP and UDP with TAG until SIGTERM or SECS seconds"""
    fam, sa = sockaddr(addr, port, socket.SOCK_STREAM)
    tcp = socket.socket(fam, socket.SOCK_STREAM)
    tcp.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    tcp.bind(sa)
    tcp.listen(16)
    udp = socket.socket(fam, socket.SOCK_DGRAM)
    udp.bind(sa)
    sel = selectors.DefaultSelector()
    sel.register(tcp, selectors.EVENT_READ)
    sel.register(udp, selectors.EVENT_READ)
    say("listening", port)
    end = time.monotonic() + secs
    while time.monotonic() < end:
        for key, _ in sel.select(timeout=0.5):
            if key.fileobj is tcp:
                conn, _ = tcp.accept()
                conn.settimeout(1)
                try:
                    conn.sendall(tag.encode())
                except OSError:
                    pass
                conn.close()
            else:
                _, peer = udp.recvfrom(2048)
                udp.sendto(tag.encode(), peer)
    return 0


def ask_tcp(sa, fam, secs):
    """Connect, read the tag; Return: what to print"""
    s = socket.socket(fam, socket.SOCK_STREAM)
    s.settimeout(secs)
    try:
        s.connect(sa)
        data = s.recv(2048)
    except ConnectionRefusedError:
        return "refused"
    except (socket.timeout, TimeoutError):
        return "timeout"
    except OSError as e:
        return "error " + (e.strerror or str(e)).replace(" ", "_")
    finally:
        s.close()
    return "reply " + data.decode(errors="replace")


def ask_udp(sa, fam, secs):
    """Send a datagram (3 tries), read the tag; Return: what to print"""
    s = socket.socket(fam, socket.SOCK_DGRAM)
    s.settimeout(secs / 3)
    try:
        s.connect(sa)
        for _ in range(3):
            s.send(b"?")
            try:
                return "reply " + s.recv(2048).decode(errors="replace")
            except (socket.timeout, TimeoutError):
                continue
    except ConnectionRefusedError:
        return "refused"
    except OSError as e:
        return "error " + (e.strerror or str(e)).replace(" ", "_")
    finally:
        s.close()
    return "timeout"


def main(argv):
    """Parse the command line and run; Return: exit status"""
    secs = None
    if len(argv) > 2 and argv[0] == "-t":
        secs = float(argv[1])
        argv = argv[2:]
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    if len(argv) == 4 and argv[0] == "serve":
        return serve(argv[1], int(argv[2]), argv[3], secs or 60)
    if len(argv) == 4 and argv[0] == "ask" and argv[1] in ("tcp", "udp"):
        kind = socket.SOCK_STREAM if argv[1] == "tcp" else socket.SOCK_DGRAM
        fam, sa = sockaddr(argv[2], int(argv[3]), kind)
        ask = ask_tcp if argv[1] == "tcp" else ask_udp
        out = ask(sa, fam, secs or 3)
        say(out)
        return 0 if out.startswith("reply ") else 1
    print("usage: echo_peer.py [-t SECS] serve ADDR PORT TAG | "
          "ask tcp|udp ADDR PORT", file=sys.stderr)
    return 2


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv[1:]))
    except OSError as e:
        print("echo_peer:", e, file=sys.stderr)
        sys.exit(2)
