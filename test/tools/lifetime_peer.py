#!/usr/bin/env python3
"""test/tools/lifetime_peer.py - small TCP and UDP peers of test/lifetime.sh

Each subcommand is one peer, run in one namespace, bounded in time: it ends
by itself after its time limit (seconds) even if nothing arrives.

  tcp-sink PORT SECS          accept on every address, print "listening",
                              then one line per connection with its bytes
                              (repr) once it closes or the time is up
  tcp-hold ADDR PORT N SECS   open N connections, send "tcp-ok\\n" on each,
                              print "connected=K", hold them SECS, close
  udp-sink PORT SECS          print "listening", then each datagram
                              received (repr) with its source
  udp-echo PORT SECS          print "listening", send each datagram back
  udp-ping ADDR PORT SPORT MSG send MSG from SPORT, print the reply or
                              "timeout" (2 s)
  udp-send ADDR PORT SPORT MSG N  send MSG N times from SPORT
  udp-flood ADDR PORT N       one datagram from each of N source ports,
                              print "sent=N"
"""
import selectors
import socket
import sys
import time


def family(addr):
    return socket.AF_INET6 if ':' in addr else socket.AF_INET


def tcp_sink(port, secs):
    srv = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
    srv.bind(('::', int(port)))
    srv.listen(128)
    srv.setblocking(False)
    print('listening', flush=True)
    sel = selectors.DefaultSelector()
    sel.register(srv, selectors.EVENT_READ)
    data = {}
    end = time.monotonic() + float(secs)
    while time.monotonic() < end:
        for key, _ in sel.select(timeout=0.1):
            if key.fileobj is srv:
                conn, _ = srv.accept()
                conn.setblocking(False)
                data[conn] = b''
                sel.register(conn, selectors.EVENT_READ)
                continue
            conn = key.fileobj
            try:
                chunk = conn.recv(65536)
            except OSError:
                chunk = b''
            if chunk:
                data[conn] += chunk
                continue
            sel.unregister(conn)
            print('conn', repr(data.pop(conn)), flush=True)
            conn.close()
    for conn, got in data.items():
        print('conn', repr(got), flush=True)
        conn.close()


def tcp_hold(addr, port, n, secs):
    conns = []
    for _ in range(int(n)):
        s = socket.socket(family(addr), socket.SOCK_STREAM)
        s.settimeout(3)
        try:
            s.connect((addr, int(port)))
            s.sendall(b'tcp-ok\n')
            conns.append(s)
        except OSError:
            s.close()
    print('connected=%d' % len(conns), flush=True)
    time.sleep(float(secs))
    for s in conns:
        s.close()


def udp_server(port, secs, echo):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(('0.0.0.0', int(port)))
    s.settimeout(0.2)
    print('listening', flush=True)
    end = time.monotonic() + float(secs)
    while time.monotonic() < end:
        try:
            msg, src = s.recvfrom(65536)
        except socket.timeout:
            continue
        if echo:
            s.sendto(msg, src)
        else:
            print('got', repr(msg), src[0], src[1], flush=True)


def udp_ping(addr, port, sport, msg):
    s = socket.socket(family(addr), socket.SOCK_DGRAM)
    s.bind(('', int(sport)))
    s.settimeout(2)
    s.sendto(msg.encode(), (addr, int(port)))
    try:
        print('reply', repr(s.recv(65536)), flush=True)
    except socket.timeout:
        print('timeout', flush=True)


def udp_send(addr, port, sport, msg, n):
    s = socket.socket(family(addr), socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(('', int(sport)))
    for _ in range(int(n)):
        s.sendto(msg.encode(), (addr, int(port)))
        time.sleep(0.01)
    s.close()


def udp_flood(addr, port, n):
    sent = 0
    for i in range(int(n)):
        s = socket.socket(family(addr), socket.SOCK_DGRAM)
        s.sendto(b'flood %d' % i, (addr, int(port)))
        s.close()
        sent += 1
        if i % 50 == 49:
            time.sleep(0.02)	# within the guest's socket buffer
    print('sent=%d' % sent, flush=True)


def main(argv):
    cmds = {
        'tcp-sink': tcp_sink, 'tcp-hold': tcp_hold,
        'udp-sink': lambda p, t: udp_server(p, t, False),
        'udp-echo': lambda p, t: udp_server(p, t, True),
        'udp-ping': udp_ping, 'udp-send': udp_send, 'udp-flood': udp_flood,
    }
    if len(argv) < 2 or argv[1] not in cmds:
        sys.stderr.write(__doc__)
        return 2
    cmds[argv[1]](*argv[2:])
    return 0


if __name__ == '__main__':
    sys.exit(main(sys.argv))
