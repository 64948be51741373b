/* inany.h - one address type for IPv4 and IPv6: IPv4 addresses are held
 * as IPv4-mapped IPv6 addresses (::ffff:a.b.c.d)
 */
#ifndef INANY_H
#define INANY_H

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

union inany_addr {
	struct in6_addr a6;
	struct {
		uint8_t zero[10];
		uint8_t one[2];
		struct in_addr a4;
	} v4mapped;
	uint32_t u32[4];
};

#define INANY_STRLEN	INET6_ADDRSTRLEN

/**
 * inany_v4() - Get the IPv4 address held, if any
 * @a:		Address
 *
 * Return: pointer to the IPv4 address, NULL if @a is IPv6
 */
static inline const struct in_addr *inany_v4(const union inany_addr *a)
{
	if (!IN6_IS_ADDR_V4MAPPED(&a->a6))
		return NULL;
	return &a->v4mapped.a4;
}

static inline bool inany_is_v4(const union inany_addr *a)
{
	return IN6_IS_ADDR_V4MAPPED(&a->a6);
}

static inline int inany_af(const union inany_addr *a)
{
	return inany_is_v4(a) ? AF_INET : AF_INET6;
}

static inline void inany_from_v4(union inany_addr *a, struct in_addr v4)
{
	memset(a, 0, 10);
	a->v4mapped.one[0] = a->v4mapped.one[1] = 0xff;
	a->v4mapped.a4 = v4;
}

static inline void inany_from_v6(union inany_addr *a,
				 const struct in6_addr *v6)
{
	a->a6 = *v6;
}

static inline bool inany_equal(const union inany_addr *a,
			       const union inany_addr *b)
{
	return !memcmp(a, b, sizeof(*a));
}

static inline bool inany_equal4(const union inany_addr *a, struct in_addr b)
{
	const struct in_addr *v4 = inany_v4(a);

	return v4 && v4->s_addr == b.s_addr;
}

static inline bool inany_equal6(const union inany_addr *a,
				const struct in6_addr *b)
{
	return !memcmp(&a->a6, b, sizeof(*b));
}

bool inany_is_unspecified(const union inany_addr *a);
bool inany_is_loopback(const union inany_addr *a);
bool inany_is_multicast(const union inany_addr *a);
const char *inany_ntop(const union inany_addr *a, char *buf, size_t len);
int inany_pton(const char *s, union inany_addr *a);
socklen_t inany_to_sockaddr(const union inany_addr *a, uint16_t port,
			    uint32_t scope_id, struct sockaddr_storage *sa);
void inany_from_sockaddr(union inany_addr *a, uint16_t *port,
			 const struct sockaddr_storage *sa);

#endif /* INANY_H */
