/* test/fuzz/fuzz.h - what the libFuzzer harnesses share: a daemon context
 * in a private network namespace, the peers its sockets reach, and the
 * reset between inputs
 */
#ifndef FUZZ_H
#define FUZZ_H

#include <stddef.h>
#include <stdint.h>

#include "ctx.h"
#include "frame.h"

/* Where the peers of the harness listen (TCP and UDP, any address) */
#define FUZZ_PORT	8080
/* Forwarded to the guest (-t, -u), and where inbound peers come from */
#define FUZZ_FWD_PORT	9000
#define FUZZ_IN_SPORT	41000

/* Guest side, as the harness builds frames: the guest uses these */
extern const uint8_t fuzz_guest_mac[MAC_LEN];

/**
 * struct fuzz_tcp_seen - The last TCP segment queued toward the guest
 * @valid:	Some segment was seen since the last reset
 * @next:	Its sequence number plus its length (SYN and FIN count one)
 * @ack:	Its acknowledgement number
 */
struct fuzz_tcp_seen {
	int valid;
	uint32_t next;
	uint32_t ack;
};

extern struct ctx fuzz_ctx;
extern struct fuzz_tcp_seen fuzz_tcp_seen;

void fuzz_init(void);
void fuzz_netns(void);
void fuzz_pump(void);
void fuzz_peer_inbound(void);
void fuzz_peer_close(int rst);
void fuzz_tick(unsigned int ms);
void fuzz_reset(void);
void fuzz_dests(int v6, unsigned int i, union inany_addr *dst);

#endif /* FUZZ_H */
