#!/usr/bin/env python3
#
# test/fuzz/seeds.py - write the seed corpora in test/fuzz/corpus/<target>/
#
# Small real inputs in each harness's format (see the Theory of operation
# of each test/fuzz/fuzz_*.c): an ARP request, a DHCP discover and request,
# DHCPv6 solicit, router and neighbour solicitations, echo requests, a TCP
# handshake with data and FIN, UDP datagrams, the same frames on the VM
# stream, real command lines and port specifications, vhost-user message
# sequences as QEMU sends them, virtqueues holding a direct chain, an
# indirect one, a loop. Documentation addresses only. Run from anywhere;
# rewrites the files it owns.

import os
import struct

DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'corpus')
GUEST_MAC = bytes([0x02, 0, 0x5e, 0, 0x53, 0x01])
OUR_MAC = bytes([0x9a, 0x55] * 3)
G4 = bytes([192, 0, 2, 1])
GW4 = bytes([192, 0, 2, 2])
G6 = bytes.fromhex('20010db8000000000000000000000001')
GW6 = bytes.fromhex('20010db8000000000000000000000002')
LL6 = bytes.fromhex('fe800000000000000000000000000010')
ALL_RTR = bytes.fromhex('ff020000000000000000000000000002')
ALL_DHCP = bytes.fromhex('ff020000000000000000000000010002')

END = 0x04		# record flag: dispatch the batch after this frame
ACK_FIX = 0x02		# record flag: acknowledge what the daemon sent last


def rec(body, ctl=END, act=0):
    """One record of the frame harnesses: ctl, act, length, bytes"""
    return struct.pack('>BBH', ctl, act, len(body)) + body


def write(target, name, data):
    d = os.path.join(DIR, target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), 'wb') as f:
        f.write(data)


def csum(data):
    if len(data) % 2:
        data += b'\0'
    s = sum(struct.unpack('>%dH' % (len(data) // 2), data))
    while s >> 16:
        s = (s & 0xffff) + (s >> 16)
    return (~s) & 0xffff


def ip4(proto, src, dst, l4):
    h = struct.pack('>BBHHHBBH4s4s', 0x45, 0, 20 + len(l4), 0, 0x4000, 64,
                    proto, 0, src, dst)
    h = h[:10] + struct.pack('>H', csum(h)) + h[12:]
    return h + l4


def ip6(proto, src, dst, l4):
    return struct.pack('>IHBB16s16s', 0x60000000, len(l4), proto, 255, src,
                       dst) + l4


def eth(dst, ethertype, payload):
    return dst + GUEST_MAC + struct.pack('>H', ethertype) + payload


def tcp(sport, dport, seq, ack, flags, data=b'', opts=b''):
    off = (20 + len(opts)) // 4
    return struct.pack('>HHIIBBHHH', sport, dport, seq, ack, off << 4, flags,
                       65535, 0, 0) + opts + data


def udp(sport, dport, data):
    return struct.pack('>HHHH', sport, dport, 8 + len(data), 0) + data


def arp_request(target):
    return struct.pack('>HHBBH6s4s6s4s', 1, 0x0800, 6, 4, 1, GUEST_MAC, G4,
                       bytes(6), target)


def dhcp(msg_type, extra=b''):
    bootp = struct.pack('>BBBBIHH4s4s4s4s16s64s128s', 1, 1, 6, 0, 0x1234abcd,
                        0, 0x8000, bytes(4), bytes(4), bytes(4), bytes(4),
                        GUEST_MAC + bytes(10), bytes(64), bytes(128))
    opts = bytes([99, 130, 83, 99, 53, 1, msg_type]) + extra + \
        bytes([55, 6, 1, 3, 6, 12, 15, 119, 61, 7, 1]) + GUEST_MAC + \
        bytes([255])
    return bootp + opts


def dhcpv6(msg_type):
    duid = struct.pack('>HH', 3, 1) + GUEST_MAC
    opts = struct.pack('>HH', 1, len(duid)) + duid
    if msg_type != 11:
        opts += struct.pack('>HHIII', 3, 12, 1, 0, 0)
    opts += struct.pack('>HHHHH', 6, 6, 23, 24, 39)
    opts += struct.pack('>HHH', 8, 2, 0)
    return bytes([msg_type, 0x12, 0x34, 0x56]) + opts


def icmp_echo(v6, ident, seq):
    return struct.pack('>BBHHH', 128 if v6 else 8, 0, 0, ident, seq) + \
        b'passtd fuzz seed'


def rs():
    return struct.pack('>BBHI', 133, 0, 0, 0) + bytes([1, 1]) + GUEST_MAC


def ns(target):
    return struct.pack('>BBHI16s', 135, 0, 0, 0, target) + \
        bytes([1, 1]) + GUEST_MAC


def tcp_session(v6, dport=8080, pick=0):
    base = pick << 5 | (1 if v6 else 0)
    mss = bytes([2, 4, 0x05, 0xb4, 1, 3, 3, 7])
    return (rec(tcp(40000, dport, 1000, 0, 0x02, opts=mss), base | END) +
            rec(tcp(40000, dport, 1001, 0, 0x10), base | END | ACK_FIX) +
            rec(tcp(40000, dport, 1001, 0, 0x18, b'GET / HTTP/1.0\r\n\r\n'),
                base | END | ACK_FIX) +
            rec(tcp(40000, dport, 1019, 0, 0x10), base | END | ACK_FIX,
                0x10) +
            rec(tcp(40000, dport, 1019, 0, 0x11), base | END | ACK_FIX, 0x04))


def frames():
    """Ethernet frames of a few protocols, for the stream harness"""
    bc = b'\xff' * 6
    return [
        eth(bc, 0x0806, arp_request(GW4)),
        eth(bc, 0x0800, ip4(17, bytes(4), b'\xff' * 4,
                            udp(68, 67, dhcp(1)))),
        eth(OUR_MAC, 0x0800, ip4(1, G4, GW4, icmp_echo(False, 1, 1))),
        eth(OUR_MAC, 0x0800, ip4(6, G4, GW4,
                                 tcp(40000, 8080, 1000, 0, 0x02))),
        eth(OUR_MAC, 0x0800, ip4(17, G4, GW4, udp(40000, 8080, b'hello'))),
        eth(b'\x33\x33\x00\x00\x00\x02', 0x86dd, ip6(58, LL6, ALL_RTR, rs())),
    ]


# vhost-user (vhost_user.h): requests, flags, feature bits
VU_GET_FEATURES, VU_SET_FEATURES, VU_SET_OWNER = 1, 2, 3
VU_SET_MEM_TABLE, VU_SET_VRING_NUM, VU_SET_VRING_ADDR = 5, 8, 9
VU_SET_VRING_BASE, VU_GET_VRING_BASE, VU_SET_VRING_KICK = 10, 11, 12
VU_SET_VRING_CALL, VU_SET_VRING_ERR = 13, 14
VU_GET_PROTOCOL_FEATURES, VU_SET_PROTOCOL_FEATURES = 15, 16
VU_GET_QUEUE_NUM, VU_SET_VRING_ENABLE, VU_RESET_DEVICE = 17, 18, 34
VU_VERSION, VU_NEED_REPLY = 0x1, 0x8
VU_FEATURES = (1 << 32) | (1 << 30) | (1 << 28) | (1 << 15) | (1 << 22)
VU_PF_MQ_ACK = (1 << 0) | (1 << 3)


def vu_msg(req, payload=b'', flags=VU_VERSION):
    """One vhost-user message: request, flags, size, payload"""
    return struct.pack('<III', req, flags, len(payload)) + payload


def vu_u64(req, v, flags=VU_VERSION):
    return vu_msg(req, struct.pack('<Q', v), flags)


def vu_state(req, index, num, flags=VU_VERSION):
    return vu_msg(req, struct.pack('<II', index, num), flags)


def vu_negotiate():
    """What QEMU sends first, up to the rings of queue pair 0"""
    m = vu_msg(VU_GET_FEATURES) + vu_msg(VU_GET_PROTOCOL_FEATURES)
    m += vu_u64(VU_SET_PROTOCOL_FEATURES, VU_PF_MQ_ACK)
    m += vu_msg(VU_GET_QUEUE_NUM) + vu_msg(VU_SET_OWNER)
    m += vu_u64(VU_SET_FEATURES, VU_FEATURES)
    for q in (0, 1):
        m += vu_state(VU_SET_VRING_NUM, q, 256)
        m += vu_state(VU_SET_VRING_BASE, q, 0)
        m += vu_u64(VU_SET_VRING_CALL, 0x100 | q)
        m += vu_u64(VU_SET_VRING_ERR, 0x100 | q)
        m += vu_state(VU_SET_VRING_ENABLE, q, 1)
    m += vu_state(VU_GET_VRING_BASE, 0, 0)
    m += vu_state(VU_SET_VRING_ENABLE, 1, 0)
    return m


def vu_ring_addr(q):
    """SET_VRING_ADDR: refused without a memory table (the device drops)"""
    return vu_msg(VU_SET_VRING_ADDR, struct.pack(
        '<IIQQQQ', q, 0, 0x7f0000100000, 0x7f0000102000, 0x7f0000101000, 0))


# fuzz_virtq (see its Theory of operation): region 0 at this guest
# physical address holds the rings, region 1 follows it, region 2 later
VQ_GPA0, VQ_GPA1, VQ_GPA2 = 0x100000, 0x106000, 0x200000
VQ_NEXT, VQ_WRITE, VQ_INDIRECT = 1, 2, 4


def vq_input(num, descs, heads, avail_idx, start=0, ops=0, indirect=False,
             extra=None):
    """A fuzz_virtq input: ring of @num, descriptor table, available ring
    with @heads at the entries from @start on, @extra {offset: bytes} in
    region 0"""
    k = num.bit_length() - 1
    img = bytearray(16 * num + 4 + 2 * num + 2)
    for i, (addr, ln, flags, nxt) in enumerate(descs):
        struct.pack_into('<QIHH', img, 16 * i, addr, ln, flags, nxt)
    struct.pack_into('<HH', img, 16 * num, 0, avail_idx)
    for i, h in enumerate(heads):
        struct.pack_into('<H', img, 16 * num + 4 + 2 * ((start + i) % num),
                         h)
    for off, data in (extra or {}).items():
        if len(img) < off + len(data):
            img += bytes(off + len(data) - len(img))
        img[off:off + len(data)] = data
    return bytes([k | (0x10 if indirect else 0)]) + \
        struct.pack('<HI', start, ops) + bytes(img)


def vq_table(descs):
    return b''.join(struct.pack('<QIHH', *d) for d in descs)


def main():
    write('fuzz_arp', 'request', rec(arp_request(GW4), 0x80 | END))
    write('fuzz_arp', 'announce', rec(arp_request(G4), 0x80 | END))
    write('fuzz_dhcp', 'discover', rec(dhcp(1)))
    write('fuzz_dhcp', 'request',
          rec(dhcp(3, bytes([50, 4]) + G4 + bytes([54, 4]) + GW4)))
    write('fuzz_dhcp', 'discover_request',
          rec(dhcp(1)) + rec(dhcp(3, bytes([50, 4]) + G4)))
    write('fuzz_dhcpv6', 'solicit', rec(dhcpv6(1)))
    write('fuzz_dhcpv6', 'inforeq', rec(dhcpv6(11)))
    write('fuzz_dhcpv6', 'request', rec(dhcpv6(3)))
    # NDP: pick 2 is all-routers, 4 solicited-node, 6 our link-local
    write('fuzz_ndp', 'rs', rec(rs(), 2 << 5 | END))
    write('fuzz_ndp', 'ns_gw', rec(ns(GW6), 4 << 5 | END))
    write('fuzz_ndp', 'ns_dad', rec(ns(G6), 5 << 5 | END))
    write('fuzz_ndp', 'rs_then_timer', rec(rs(), 2 << 5 | END, 0x0c))
    write('fuzz_icmp', 'echo4', rec(icmp_echo(False, 7, 1)))
    write('fuzz_icmp', 'echo6', rec(icmp_echo(True, 7, 1), END | 1))
    write('fuzz_icmp', 'echo4_remote', rec(icmp_echo(False, 8, 1), 2 << 5 |
                                           END, 0x0f))
    write('fuzz_tcp', 'session4', tcp_session(False))
    write('fuzz_tcp', 'session6', tcp_session(True))
    write('fuzz_tcp', 'syn_remote', rec(tcp(40001, 80, 5, 0, 0x02),
                                       2 << 5 | END, 0x0f))
    write('fuzz_tcp', 'syn_refused', rec(tcp(40002, 9, 5, 0, 0x02)))
    # inbound: a peer connects to -t/-u 9000 from 127.0.0.1:41000/41001,
    # which the guest sees from the gateway; the guest answers
    write('fuzz_tcp', 'inbound',
          rec(b'', END, 0x80) +
          rec(tcp(9000, 41000, 7000, 0, 0x12,
                  opts=bytes([2, 4, 0x05, 0xb4, 1, 3, 3, 7])),
              END | ACK_FIX) +
          rec(tcp(9000, 41000, 7001, 0, 0x18, b'hello from the guest\n'),
              END | ACK_FIX) +
          rec(tcp(9000, 41000, 7022, 0, 0x11), END | ACK_FIX, 0x04))
    write('fuzz_udp', 'inbound',
          rec(b'', END, 0x80) +
          rec(udp(9000, 41001, b'reply from the guest'), END, 0x0c))
    write('fuzz_udp', 'datagram4', rec(udp(40000, 8080, b'hello')))
    write('fuzz_udp', 'datagram6', rec(udp(40000, 8080, b'hello'), END | 1))
    write('fuzz_udp', 'dns_query', rec(udp(40000, 53, bytes.fromhex(
        '123401000001000000000000076578616d706c650474657374000001'
        '0001')), 4 << 5 | END))
    write('fuzz_udp', 'train', b''.join(rec(udp(40000, 8080, b'x' * 100),
                                            0) for _ in range(8)) +
          rec(udp(40000, 8080, b'end'), END, 0x0d))
    stream = b''.join(struct.pack('>I', len(f)) + f for f in frames())
    write('fuzz_stream', 'frames', b'\0' + stream)
    write('fuzz_stream', 'frames_cut', b'\x03\x00\x07\xff' + stream)
    write('fuzz_stream', 'bad_length', b'\0' + struct.pack('>I', 0x10000000))
    lines = {
        'podman': ['pasta', '--config-net', '--dns-forward', '169.254.1.1',
                   '-t', 'none', '-u', 'none', '-T', 'none', '-U', 'none',
                   '--no-map-gw', '--quiet', '--map-guest-addr',
                   '169.254.1.2', '--pid', '/tmp/p.pid', '--netns',
                   '/run/netns/x'],
        'libvirt': ['passt', '--one-off', '--socket', '/tmp/d.socket',
                    '--pid', '/tmp/p.pid', '--mtu', '1500', '--interface',
                    'eth0', '--hostname', 'h', '--fqdn', 'h.example.test',
                    '--address', '192.0.2.5', '--netmask', '24',
                    '--tcp-ports', '192.0.2.1%eth0/2022:22'],
        'qemu': ['passt', '--fd', '3', '--pid', '/tmp/p.pid'],
        'spawn': ['passtd', '--config-net', '-t', '8080:80', '-T', 'none',
                  '--', 'ip', 'addr'],
        'addresses': ['pasta', '-a', '192.0.2.9/24', '-g', '192.0.2.2', '-a',
                      '2001:db8::9', '-g', '2001:db8::2', '-D', '192.0.2.53',
                      '-S', 'example.test', '-m', '1500', '-M',
                      '9a:55:9a:55:9a:55', '12345'],
        'help': ['pasta', '--help'],
    }
    for name, argv in lines.items():
        write('fuzz_conf', name, b'\0'.join(a.encode() for a in argv))
    specs = {
        'single': (1, ['8080']), 'map': (0, ['80:8080']),
        'range': (0, ['1000-2000:3000-4000']), 'excl': (1, ['~22,~80']),
        'addr': (0, ['127.0.0.1/8080', '[2001:db8::1]/22']),
        'ifname': (0, ['192.0.2.1%eth0/2022:22']), 'all': (0, ['all']),
        'auto': (1, ['auto', '8080']), 'none': (1, ['none']),
        'several': (0, ['22', '80:8080', '~1000-2000', '5000-5010:6000']),
    }
    for name, (auto, lst) in specs.items():
        write('fuzz_ports', name, bytes([auto]) +
              b'\0'.join(s.encode() for s in lst))

    neg = vu_negotiate()
    write('fuzz_vhost_user', 'negotiate', b'\0' + neg)
    write('fuzz_vhost_user', 'negotiate_cut', b'\x03\x00\x04\x0b' + neg)
    write('fuzz_vhost_user', 'bytewise', b'\x01\x00' + neg[:200])
    write('fuzz_vhost_user', 'reply_ack', b'\0' +
          vu_u64(VU_SET_PROTOCOL_FEATURES, VU_PF_MQ_ACK) +
          vu_msg(VU_SET_OWNER, flags=VU_VERSION | VU_NEED_REPLY) +
          vu_state(VU_SET_VRING_NUM, 2, 1024, VU_VERSION | VU_NEED_REPLY) +
          vu_u64(VU_SET_FEATURES, VU_FEATURES, VU_VERSION | VU_NEED_REPLY) +
          vu_msg(99, b'x' * 16, VU_VERSION | VU_NEED_REPLY) +
          vu_msg(VU_RESET_DEVICE) + vu_msg(VU_GET_FEATURES))
    write('fuzz_vhost_user', 'ring_addr_dropped', b'\0' + neg +
          vu_ring_addr(0) + vu_msg(VU_GET_FEATURES) +
          vu_state(VU_SET_VRING_NUM, 3, 64) + vu_ring_addr(3) +
          vu_u64(VU_SET_VRING_KICK, 0x100 | 3))
    write('fuzz_vhost_user', 'mem_table_nofd', b'\0' +
          vu_msg(VU_SET_MEM_TABLE, struct.pack('<II', 1, 0) +
                 struct.pack('<QQQQ', 0x100000, 0x10000, 0x7f0000100000,
                             0)) + vu_msg(VU_GET_QUEUE_NUM))
    # a readable chain of three (the second crosses from region 0 into 1),
    # then a writable one, taken twice (given back once)
    write('fuzz_virtq', 'direct', vq_input(4, [
        (VQ_GPA0 + 0x1000, 100, VQ_NEXT, 1),
        (VQ_GPA1 - 0x100, 0x200, VQ_NEXT, 2),
        (VQ_GPA2 + 0x10, 64, 0, 0),
        (VQ_GPA2 + 0x1000, 1500, VQ_WRITE, 0)], [0, 3], 2, ops=0b0110))
    # an indirect table of three, one of them empty
    write('fuzz_virtq', 'indirect', vq_input(2, [
        (VQ_GPA0 + 0x800, 48, VQ_INDIRECT, 0)], [0], 1, indirect=True,
        extra={0x800: vq_table([(VQ_GPA0 + 0x1000, 10, VQ_NEXT, 1),
                                (0, 0, VQ_NEXT, 2),
                                (VQ_GPA2, 20, 0, 0)])}))
    write('fuzz_virtq', 'loop', vq_input(4, [
        (VQ_GPA0 + 0x1000, 8, VQ_NEXT, 1),
        (VQ_GPA0 + 0x1000, 8, VQ_NEXT, 0)], [0], 1))
    # two chains around the 16-bit wrap of the indices
    write('fuzz_virtq', 'wrap', vq_input(2, [
        (VQ_GPA2, 60, VQ_WRITE, 0), (VQ_GPA2 + 64, 60, VQ_WRITE, 0)],
        [1, 0], 1, start=0xffff, ops=0b0101))
    # more pieces than a chain gathers: taken, not gathered
    write('fuzz_virtq', 'too_many', vq_input(128, [
        (VQ_GPA2 + 16 * i, 8, VQ_NEXT if i < 69 else 0, i + 1)
        for i in range(70)], [0], 1))


main()
