/* inany.c - one address type for IPv4 and IPv6: formatting, parsing and
 * conversion to and from socket addresses
 */
#include <errno.h>
#include <string.h>
#include <sys/socket.h>

#include "inany.h"

/**
 * inany_is_unspecified() - Is this 0.0.0.0 or ::?
 * @a:		Address
 *
 * Return: true if unspecified in its family
 */
bool inany_is_unspecified(const union inany_addr *a)
{
	const struct in_addr *v4 = inany_v4(a);

	if (v4)
		return v4->s_addr == INADDR_ANY;
	return IN6_IS_ADDR_UNSPECIFIED(&a->a6);
}

/**
 * inany_is_loopback() - Is this 127.0.0.0/8 or ::1?
 * @a:		Address
 *
 * Return: true if loopback
 */
bool inany_is_loopback(const union inany_addr *a)
{
	const struct in_addr *v4 = inany_v4(a);

	if (v4)
		return (ntohl(v4->s_addr) >> 24) == 127;
	return IN6_IS_ADDR_LOOPBACK(&a->a6);
}

/**
 * inany_is_multicast() - Is this multicast (or IPv4 limited broadcast)?
 * @a:		Address
 *
 * Return: true for 224.0.0.0/4, 255.255.255.255 and ff00::/8
 */
bool inany_is_multicast(const union inany_addr *a)
{
	const struct in_addr *v4 = inany_v4(a);

	if (v4)
		return IN_MULTICAST(ntohl(v4->s_addr)) ||
		       v4->s_addr == INADDR_BROADCAST;
	return IN6_IS_ADDR_MULTICAST(&a->a6);
}

/**
 * inany_ntop() - Format an address in its family's usual notation
 * @a:		Address
 * @buf:	Output buffer
 * @len:	Size of @buf, at least INANY_STRLEN
 *
 * Return: @buf
 */
const char *inany_ntop(const union inany_addr *a, char *buf, size_t len)
{
	const struct in_addr *v4 = inany_v4(a);

	if (v4)
		return inet_ntop(AF_INET, v4, buf, (socklen_t)len);
	return inet_ntop(AF_INET6, &a->a6, buf, (socklen_t)len);
}

/**
 * inany_pton() - Parse an IPv4 or IPv6 address
 * @s:		String
 * @a:		Parsed address on success
 *
 * Return: AF_INET or AF_INET6 on success, -EINVAL otherwise
 */
int inany_pton(const char *s, union inany_addr *a)
{
	struct in_addr v4;

	if (inet_pton(AF_INET, s, &v4) == 1) {
		inany_from_v4(a, v4);
		return AF_INET;
	}
	if (inet_pton(AF_INET6, s, &a->a6) == 1)
		return AF_INET6;
	return -EINVAL;
}

/**
 * inany_to_sockaddr() - Build a socket address
 * @a:		Address
 * @port:	Port, host order
 * @scope_id:	Interface index for link-local IPv6, else 0
 * @sa:		Output
 *
 * Return: length of the socket address written
 */
socklen_t inany_to_sockaddr(const union inany_addr *a, uint16_t port,
			    uint32_t scope_id, struct sockaddr_storage *sa)
{
	const struct in_addr *v4 = inany_v4(a);

	memset(sa, 0, sizeof(*sa));
	if (v4) {
		struct sockaddr_in *sin = (struct sockaddr_in *)sa;

		sin->sin_family = AF_INET;
		sin->sin_port = htons(port);
		sin->sin_addr = *v4;
		return sizeof(*sin);
	} else {
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)sa;

		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons(port);
		sin6->sin6_addr = a->a6;
		sin6->sin6_scope_id = scope_id;
		return sizeof(*sin6);
	}
}

/**
 * inany_from_sockaddr() - Read address and port from a socket address
 * @a:		Output address
 * @port:	Output port, host order, may be NULL
 * @sa:		AF_INET or AF_INET6 socket address
 */
void inany_from_sockaddr(union inany_addr *a, uint16_t *port,
			 const struct sockaddr_storage *sa)
{
	if (sa->ss_family == AF_INET) {
		const struct sockaddr_in *sin = (const void *)sa;

		inany_from_v4(a, sin->sin_addr);
		if (port)
			*port = ntohs(sin->sin_port);
	} else {
		const struct sockaddr_in6 *sin6 = (const void *)sa;

		a->a6 = sin6->sin6_addr;
		if (port)
			*port = ntohs(sin6->sin6_port);
	}
}
