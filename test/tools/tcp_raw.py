#!/usr/bin/env python3
# test/tools/tcp_raw.py - a hand-driven TCP peer on the guest's interface,
# to see exactly what the daemon sends a guest that behaves in a given way
#
# Theory of operation
# Run in the guest namespace, this sends and receives Ethernet frames on
# the tap with an AF_PACKET socket, with a source address that is on the
# guest's subnet but not configured on its interface (192.0.2.99 by
# default): the daemon takes the segments as the guest's, and the guest's
# own kernel drops the daemon's answers without a word (not its address,
# no forwarding), so nothing but this tool answers them. Every segment of
# the 4-tuple from the daemon is parsed (flags, numbers, window, options,
# payload length) and judged by what the tool does next. Run the daemon
# with --no-gso so that each frame holds one segment.
#
# Usage: tcp_raw.py [OPTION]... IFACE DST DPORT MODE [ARG]...
#   synack		send a SYN, print the SYN-ACK's options; never ACK it,
#			count SYN-ACKs and the RST that ends the attempt
#   recv BYTES		handshake, receive BYTES, ACK every segment (after
#			-D MS), print segment sizes and retransmissions
#   stall BYTES		handshake, send BYTES at once whatever the window,
#			then count the duplicate ACKs (as Linux counts them)
#			after the last window update: what the daemon sends
#			once its socket takes data again
#   syns		count the SYNs toward DPORT (any address) from the
#			daemon and the RST after them, answering none (DST
#			only picks the family)
# Options:
#   -o HEX	options of our SYN (default 020405b4: MSS 1460)
#   -s ADDR	source address (default 192.0.2.99, or 2001:db8::99 for an
#		IPv6 DST)
#   -p PORT	source port (default 40099)
#   -d MAC	daemon's MAC (default 9a:55:9a:55:9a:55)
#   -D MS	delay of every ACK we send, handshake included (default 0)
#   -w SECS	synack, syns: how long to watch (default 10)
#   -t SECS	give up after SECS (default 30)
# Output: one line of key=value pairs; "error: ..." on failure. syns
# prints "ready" first, once it watches.
# Exit status: 0, 1 if the exchange failed, 2 on usage errors.

import fcntl
import select
import socket
import struct
import sys
import time

ETH_P_ALL = 0x0003
PACKET_OUTGOING = 4
FIN, SYN, RST, PSH, ACK = 0x01, 0x02, 0x04, 0x08, 0x10


def csum(data):
    """Internet checksum of bytes"""
    if len(data) & 1:
        data += b"\0"
    s = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    while s >> 16:
        s = (s & 0xffff) + (s >> 16)
    return ~s & 0xffff


class Seg:
    """A segment from the daemon"""

    def __init__(self, th, plen, t):
        (self.sport, self.dport, self.seq, self.ack, off, self.flags,
         self.win) = struct.unpack_from("!HHIIBBH", th)
        self.opts = parse_opts(th[20:(off >> 4) * 4])
        self.plen = plen
        self.t = t


def parse_opts(o):
    """TCP options into a dict: mss, ws, and the raw length"""
    out, i = {"len": len(o)}, 0
    while i < len(o):
        kind = o[i]
        if kind == 0:
            break
        if kind == 1:
            i += 1
            continue
        if i + 1 >= len(o) or o[i + 1] < 2:
            break
        n = o[i + 1]
        if kind == 2 and n == 4:
            out["mss"] = struct.unpack_from("!H", o, i + 2)[0]
        elif kind == 3 and n == 3:
            out["ws"] = o[i + 2]
        i += n
    return out


class Peer:
    """One 4-tuple on an interface, seen from the guest's side"""

    def __init__(self, ifname, src, dst, sport, dport, dmac):
        self.v6 = ":" in dst
        af = socket.AF_INET6 if self.v6 else socket.AF_INET
        self.src, self.dst = socket.inet_pton(af, src), \
            socket.inet_pton(af, dst)
        self.sport, self.dport = sport, dport
        # SIOCGIFHWADDR: /sys shows the namespace sysfs was mounted in
        req = struct.pack("256s", ifname.encode())
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as d:
            smac = fcntl.ioctl(d.fileno(), 0x8927, req)[18:24]
        self.eth = bytes.fromhex(dmac.replace(":", "")) + smac + \
            (b"\x86\xdd" if self.v6 else b"\x08\x00")
        self.s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW,
                               socket.htons(ETH_P_ALL))
        self.s.bind((ifname, 0))
        self.s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 << 20)

    def send(self, flags, seq, ack, payload=b"", opts=b"", win=65535):
        """Build and send one segment"""
        opts += b"\0" * (-len(opts) % 4)
        th = struct.pack("!HHIIBBHHH", self.sport, self.dport,
                         seq & 0xffffffff, ack & 0xffffffff,
                         (20 + len(opts)) // 4 << 4, flags, win, 0, 0)
        th += opts
        l4 = th + payload
        if self.v6:
            ph = self.src + self.dst + struct.pack("!IxxxB", len(l4), 6)
        else:
            ph = self.src + self.dst + struct.pack("!xBH", 6, len(l4))
        c = csum(ph + l4)
        l4 = l4[:16] + struct.pack("!H", c) + l4[18:]
        if self.v6:
            ip = struct.pack("!IHBB", 6 << 28, len(l4), 6, 64) + \
                self.src + self.dst
        else:
            ip = struct.pack("!BBHHHBBH", 0x45, 0, 20 + len(l4), 0, 0x4000,
                             64, 6, 0) + self.src + self.dst
            ip = ip[:10] + struct.pack("!H", csum(ip)) + ip[12:]
        self.s.send(self.eth + ip + l4)

    def recv(self, timeout):
        """Next segment of our 4-tuple from the daemon, or None"""
        end = time.monotonic() + timeout
        while True:
            left = end - time.monotonic()
            if left <= 0 or not select.select([self.s], [], [], left)[0]:
                return None
            f, addr = self.s.recvfrom(1 << 17)
            if addr[2] == PACKET_OUTGOING:
                continue
            seg = self.parse(f)
            if seg:
                return seg

    def parse(self, f):
        """A frame, if it is a segment of ours from the daemon"""
        t = time.monotonic()
        if self.v6:
            if len(f) < 74 or f[12:14] != b"\x86\xdd" or f[20] != 6:
                return None
            if f[22:38] != self.dst or f[38:54] != self.src:
                return None
            l4 = f[54:54 + struct.unpack_from("!H", f, 18)[0]]
        else:
            if len(f) < 54 or f[12:14] != b"\x08\x00" or f[23] != 6:
                return None
            if f[26:30] != self.dst or f[30:34] != self.src:
                return None
            ihl = (f[14] & 15) * 4
            tot = struct.unpack_from("!H", f, 16)[0]
            l4 = f[14 + ihl:14 + tot]
        seg = Seg(l4, 0, t)
        if seg.sport != self.dport or seg.dport != self.sport:
            return None
        seg.plen = len(l4) - (l4[12] >> 4) * 4
        return seg


def out(**kv):
    """Print the result line"""
    print(" ".join("%s=%s" % (k, v) for k, v in kv.items()), flush=True)


class Run:
    """What the modes share: the peer, our sequence numbers, options"""

    def __init__(self, p, opts, delay, deadline):
        self.p, self.opts, self.delay, self.deadline = p, opts, delay, \
            deadline
        self.isn = 0x10000000
        self.snd = self.isn + 1
        self.rcv = 0

    def left(self):
        """Seconds until the deadline"""
        return max(self.deadline - time.monotonic(), 0)

    def syn(self):
        """Send our SYN, return the daemon's SYN-ACK or None"""
        self.p.send(SYN, self.isn, 0, opts=self.opts)
        while self.left():
            seg = self.p.recv(min(self.left(), 3))
            if seg is None:
                return None
            if seg.flags & (SYN | ACK) == SYN | ACK:
                return seg
            if seg.flags & RST:
                return None
        return None

    def handshake(self):
        """SYN, SYN-ACK, ACK (after the delay); return the SYN-ACK"""
        sa = self.syn()
        if sa is None:
            return None
        self.rcv = sa.seq + 1
        time.sleep(self.delay)
        self.p.send(ACK, self.snd, self.rcv)
        return sa

    def reset(self):
        """End the connection from our side"""
        self.p.send(RST, self.snd, 0)


def mode_synack(r, watch):
    """SYN, then watch the SYN-ACKs without answering"""
    sa = r.syn()
    if sa is None:
        print("error: no SYN-ACK", flush=True)
        return 1
    n, rst, t0 = 1, 0, sa.t
    end = time.monotonic() + watch
    while time.monotonic() < end:
        seg = r.p.recv(end - time.monotonic())
        if seg is None:
            break
        if seg.flags & RST:
            rst = 1
            break
        if seg.flags & SYN:
            n += 1
    out(mss=sa.opts.get("mss", "none"), ws=sa.opts.get("ws", "none"),
        optlen=sa.opts["len"], win=sa.win, synacks=n, rst=rst,
        ms=int((time.monotonic() - t0) * 1000))
    if not rst:
        r.reset()
    return 0


def mode_recv(r, want):
    """Receive and acknowledge, each ACK after the delay"""
    if r.handshake() is None:
        print("error: no SYN-ACK", flush=True)
        return 1
    got, sizes, retrans, top = 0, [], 0, r.rcv
    pending = []		# (time due, ack number)
    fin = False
    while r.left() and (got < want or pending) and not fin:
        wait = min(r.left(), 0.05)
        if pending:
            wait = max(min(wait, pending[0][0] - time.monotonic()), 0)
        seg = r.p.recv(wait)
        now = time.monotonic()
        while pending and pending[0][0] <= now:
            r.p.send(ACK, r.snd, pending.pop(0)[1])
        if seg is None:
            continue
        if seg.flags & RST:
            break
        if seg.plen:
            end = seg.seq + seg.plen
            if (end - top) & 0x80000000 or end == top:
                retrans += 1
            else:
                sizes.append(seg.plen)
                if seg.seq == r.rcv:
                    r.rcv = end
                    got += seg.plen
                top = end if not (end - top) & 0x80000000 else top
        fin = bool(seg.flags & FIN) and seg.seq == r.rcv
        pending.append((now + r.delay, r.rcv))
    out(recv=got, segs=len(sizes), min=min(sizes or [0]),
        max=max(sizes or [0]), retrans=retrans)
    r.reset()
    return 0 if got >= want else 1


def mode_stall(r, total):
    """Overrun the daemon's socket, then count duplicate ACKs"""
    if r.handshake() is None:
        print("error: no SYN-ACK", flush=True)
        return 1
    chunk = 1000
    nxt = r.snd
    for i in range(total // chunk):
        r.p.send(ACK | PSH, nxt, r.rcv, b"%c" % (48 + i % 10) * chunk)
        nxt += chunk
        if i % 64 == 63:
            time.sleep(0.001)	# the tap's queue is long, not endless
    # Every ACK since the burst, in order, judged as Linux (tcp_ack(),
    # tcp_may_update_window()) would: a duplicate has no data,
    # acknowledges nothing new and leaves the window as it was, and a
    # zero window is always an update; count them in a row
    una, wnd, dups, best, acks, stalled = r.snd, None, 0, 0, 0, 0
    tail, update = [], 0
    while r.left():
        seg = r.p.recv(min(r.left(), 5))
        if seg is None:
            break
        if not seg.flags & ACK or seg.plen or seg.flags & (SYN | FIN):
            continue
        acks += 1
        tail = (tail + ["%d/%d" % (seg.ack - r.snd, seg.win)])[-8:]
        if seg.ack == una and seg.win == wnd and seg.win and una != nxt:
            dups += 1
            best = max(best, dups)
        else:
            # a window update: what follows it is what the guest acts on
            update = int(seg.ack == una and seg.win != wnd and
                         seg.win != 0)
            dups = 0
        if seg.win == 0:
            stalled = 1
        if (seg.ack - una) & 0x80000000 == 0:
            una = seg.ack
        wnd = seg.win
        if una == nxt:
            break
    out(stalled=stalled, sent=nxt - r.snd, acked=una - r.snd, acks=acks,
        most=best, update=update, dupacks=dups, last=",".join(tail))
    r.reset()
    return 0


def syn_flags(f, port):
    """TCP flags of a frame toward PORT, or None"""
    if f[12:14] == b"\x86\xdd" and len(f) >= 74 and f[20] == 6:
        th = f[54:]
    elif f[12:14] == b"\x08\x00" and len(f) >= 54 and f[23] == 6:
        th = f[14 + (f[14] & 15) * 4:]
    else:
        return None
    if len(th) < 20 or struct.unpack_from("!H", th, 2)[0] != port:
        return None
    return th[13]


def mode_syns(p, port, watch):
    """Count SYNs toward a port without answering any"""
    n, rst, t0, t1 = 0, 0, None, None
    print("ready", flush=True)
    end = time.monotonic() + watch
    while time.monotonic() < end:
        if not select.select([p.s], [], [], end - time.monotonic())[0]:
            break
        f, addr = p.s.recvfrom(1 << 17)
        flags = None if addr[2] == PACKET_OUTGOING else syn_flags(f, port)
        if flags is None:
            continue
        if flags & SYN:
            n += 1
            t1 = time.monotonic()
            t0 = t0 or t1
        elif flags & RST:
            rst += 1
            t1 = time.monotonic()
            break
    out(syns=n, rst=rst, ms=int((t1 - t0) * 1000) if t0 else 0)
    return 0


def main(argv):
    """Parse the command line, run a mode"""
    o = {"-o": "020405b4", "-s": None, "-p": "40099",
         "-d": "9a:55:9a:55:9a:55", "-D": "0", "-w": "10", "-t": "30"}
    while argv and argv[0] in o and len(argv) > 1:
        o[argv[0]] = argv[1]
        argv = argv[2:]
    if len(argv) < 4:
        print(__doc__ or "usage: see the top of tcp_raw.py", flush=True)
        return 2
    ifname, dst, dport, mode = argv[0], argv[1], int(argv[2]), argv[3]
    src = o["-s"] or ("2001:db8::99" if ":" in dst else "192.0.2.99")
    p = Peer(ifname, src, dst, int(o["-p"]), dport, o["-d"])
    r = Run(p, bytes.fromhex(o["-o"]), int(o["-D"]) / 1000,
            time.monotonic() + float(o["-t"]))
    if mode == "synack":
        return mode_synack(r, float(o["-w"]))
    if mode == "recv" and len(argv) == 5:
        return mode_recv(r, int(argv[4]))
    if mode == "stall" and len(argv) == 5:
        return mode_stall(r, int(argv[4]))
    if mode == "syns":
        return mode_syns(p, dport, float(o["-w"]))
    print("error: unknown mode or missing argument", flush=True)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
