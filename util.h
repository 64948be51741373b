/* util.h - small helpers shared by every module: macros, byte order,
 * time, file descriptors
 */
#ifndef UTIL_H
#define UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/types.h>

#define ARRAY_SIZE(a)		(sizeof(a) / sizeof((a)[0]))
#define MIN(a, b)		((a) < (b) ? (a) : (b))
#define MAX(a, b)		((a) > (b) ? (a) : (b))

#define MAC_LEN			6
#define MAC_STRLEN		18	/* "xx:xx:xx:xx:xx:xx" and NUL */

extern const uint8_t MAC_BROADCAST[MAC_LEN];
extern const uint8_t MAC_ZERO[MAC_LEN];

/* Unaligned big-endian accessors: frames are parsed in place */
static inline uint16_t rd16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static inline uint32_t rd32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	       (uint32_t)p[2] << 8 | p[3];
}

static inline void wr16(uint8_t *p, uint16_t v)
{
	p[0] = v >> 8;
	p[1] = v & 0xff;
}

static inline void wr32(uint8_t *p, uint32_t v)
{
	p[0] = v >> 24;
	p[1] = (v >> 16) & 0xff;
	p[2] = (v >> 8) & 0xff;
	p[3] = v & 0xff;
}

static inline bool mac_equal(const uint8_t *a, const uint8_t *b)
{
	return !memcmp(a, b, MAC_LEN);
}

int mac_parse(const char *s, uint8_t mac[MAC_LEN]);
const char *mac_ntop(const uint8_t mac[MAC_LEN], char buf[MAC_STRLEN]);
uint64_t now_ns(void);
uint64_t now_ms(void);
int write_all(int fd, const void *buf, size_t len);
int write_file(const char *path, const char *text);

/**
 * struct path_at - A path reachable through its directory's descriptor
 * @dirfd:	Directory (O_PATH), -1 for none
 * @name:	Name in it
 */
struct path_at {
	int dirfd;
	char name[256];
};

int path_at_open(const char *path, struct path_at *p);
void path_at_unlink(struct path_at *p);
int fd_nonblock(int fd);
int str_to_uint(const char *s, unsigned long max, unsigned long *out);

#endif /* UTIL_H */
