/* pcap.h - capture of every frame to and from the guest in a classic
 * libpcap file (Ethernet link type), for Wireshark and tshark
 */
#ifndef PCAP_H
#define PCAP_H

#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#define PCAP_SNAPLEN	262144	/* bytes kept per frame, the rest cut */

int pcap_open(const char *path);
void pcap_frame(const uint8_t *buf, size_t len);
void pcap_frame_iov(const struct iovec *iov, int iovcnt, size_t len);
void pcap_close(void);

#endif /* PCAP_H */
