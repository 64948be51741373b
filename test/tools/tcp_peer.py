#!/usr/bin/env python3
# test/tools/tcp_peer.py - TCP endpoints that keep connections open, idle
# or half-closed, for tests of how long a translator keeps them
#
# Theory of operation
# A server accepts connections and never closes them: it reads and
# discards what comes, and stays connected after the peer's end of stream
# (a peer that never finishes its side). A client opens one connection and
# then closes it at once, shuts down its writes and holds it, holds it
# idle, or sends a byte every 200 ms for a while. Both report what happens
# to their connections, one line per event, so that a test can tell a
# reset from an end of stream and see when it came.
#
# Usage:
#	tcp_peer.py [-t SECS] serve PORT [shut]
#		listen on PORT (IPv4 and IPv6); "shut": shut down writes of
#		every accepted connection at once (we half-close)
#	tcp_peer.py [-t SECS] connect HOST PORT ACTION
#		ACTION: close (close at once), shut (shut down writes, then
#		hold), hold (hold idle), trickle:SECS (a byte every 200 ms
#		for SECS seconds, then hold)
# Output: a server prints "listening PORT", then "accepted PEER",
# "eof PEER", "reset PEER"; a client prints "connected LOCALPORT", then
# "eof MS" or "reset MS" (milliseconds since it connected). Both run until
# SIGTERM or the -t timeout (default 60 s); a client whose connection was
# reset or closed exits at once.
# Exit status: 0, or 2 on a usage or set-up error.

import errno
import selectors
import signal
import socket
import sys
import time


def say(*words):
    """Print one line of output at once"""
    print(*words, flush=True)


def read_event(sock):
    """Read what is there; return "eof", "reset" or None"""
    try:
        data = sock.recv(65536)
    except BlockingIOError:
        return None
    except OSError as e:
        if e.errno in (errno.ECONNRESET, errno.EPIPE, errno.ETIMEDOUT):
            return "reset"
        raise
    return None if data else "eof"


def probe_reset(sock):
    """After the end of stream: has a reset come since? (SO_ERROR)"""
    err = sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
    return err in (errno.ECONNRESET, errno.EPIPE)


def serve(port, shut, deadline):
    """Accept connections on both families, keep every one of them"""
    sel = selectors.DefaultSelector()
    for af, addr in ((socket.AF_INET6, "::"), (socket.AF_INET, "0.0.0.0")):
        ls = socket.socket(af, socket.SOCK_STREAM)
        ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if af == socket.AF_INET6:
            ls.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
        ls.bind((addr, port))
        ls.listen(64)
        ls.setblocking(False)
        sel.register(ls, selectors.EVENT_READ, None)
    say("listening", port)
    kept = []
    while time.monotonic() < deadline:
        for key, _ in sel.select(timeout=0.2):
            if key.data is None:
                s, peer = key.fileobj.accept()
                s.setblocking(False)
                say("accepted", "%s:%d" % (peer[0], peer[1]))
                if shut:
                    s.shutdown(socket.SHUT_WR)
                kept.append(s)
                sel.register(s, selectors.EVENT_READ, peer)
                continue
            ev = read_event(key.fileobj)
            if ev:
                say(ev, "%s:%d" % (key.data[0], key.data[1]))
                sel.unregister(key.fileobj)	# kept open all the same
    return 0


def connect(host, port, action, deadline):
    """One connection, then what ACTION says"""
    s = socket.create_connection((host, port), timeout=5)
    t0 = time.monotonic()
    say("connected", s.getsockname()[1])
    if action == "close":
        s.close()
        return 0
    if action == "shut":
        s.shutdown(socket.SHUT_WR)
    trickle_end = t0
    if action.startswith("trickle:"):
        trickle_end = t0 + float(action.split(":", 1)[1])
    elif action not in ("shut", "hold"):
        raise ValueError("unknown action " + action)
    s.setblocking(False)
    next_byte = t0
    eof = False
    sel = selectors.DefaultSelector()
    sel.register(s, selectors.EVENT_READ)
    while time.monotonic() < deadline:
        now = time.monotonic()
        if now < trickle_end and now >= next_byte:
            try:
                s.send(b"x")
            except OSError:
                pass		# the read below tells what happened
            next_byte = now + 0.2
        if not eof and sel.select(timeout=0.05):
            ev = read_event(s)
            if ev:
                say(ev, int((time.monotonic() - t0) * 1000))
            if ev == "reset":
                return 0
            eof = ev == "eof"
        elif eof:
            # nothing more to read: a reset now shows on the next send
            time.sleep(0.05)
            if probe_reset(s):
                say("reset", int((time.monotonic() - t0) * 1000))
                return 0
    return 0


def main(argv):
    """Parse the command line, run a mode"""
    secs = 60.0
    if len(argv) > 2 and argv[0] == "-t":
        secs = float(argv[1])
        argv = argv[2:]
    deadline = time.monotonic() + secs
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    try:
        if len(argv) in (2, 3) and argv[0] == "serve":
            return serve(int(argv[1]), argv[2:] == ["shut"], deadline)
        if len(argv) == 4 and argv[0] == "connect":
            return connect(argv[1], int(argv[2]), argv[3], deadline)
    except (OSError, ValueError) as e:
        say("error:", e)
        return 2
    say("usage: tcp_peer.py [-t SECS] serve PORT [shut] | "
        "connect HOST PORT close|shut|hold|trickle:SECS")
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
