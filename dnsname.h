/* dnsname.h - DNS names in wire format (RFC 1035, 3.1), as DHCP option
 * 119, DHCPv6 option 24 and the NDP DNSSL option carry them
 */
#ifndef DNSNAME_H
#define DNSNAME_H

#include <stddef.h>
#include <stdint.h>

int dns_name_encode(const char *name, uint8_t *out, size_t room);

#endif /* DNSNAME_H */
