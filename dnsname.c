/* dnsname.c - DNS names in wire format (RFC 1035, 3.1), as DHCP option
 * 119, DHCPv6 option 24 and the NDP DNSSL option carry them
 *
 * No compression: RFC 3397 allows it for option 119, but DHCPv6 and
 * DNSSL forbid it, and one encoder for all three keeps them consistent.
 */
#include <string.h>

#include "dnsname.h"

/**
 * dns_name_encode() - Encode a dotted name as length-prefixed labels
 * @name:	Name, e.g. "example.test" or "example.test." (root: "" or ".")
 * @out:	Output buffer
 * @room:	Size of @out
 *
 * Return: bytes written, including the final zero-length label, or -1 if
 *	   a label is empty or over 63 bytes, the name over 255 bytes, or
 *	   @room too small
 */
int dns_name_encode(const char *name, uint8_t *out, size_t room)
{
	size_t n = 0;

	if (!strcmp(name, "."))
		name = "";
	while (*name) {
		const char *dot = strchr(name, '.');
		size_t len = dot ? (size_t)(dot - name) : strlen(name);

		if (!len || len > 63 || n + 1 + len + 1 > room ||
		    n + 1 + len + 1 > 255)
			return -1;
		out[n++] = (uint8_t)len;
		memcpy(out + n, name, len);
		n += len;
		name += len;
		if (*name == '.')
			name++;
	}
	if (n + 1 > room)
		return -1;
	out[n++] = 0;
	return (int)n;
}
