/* zerocopy.h - MSG_ZEROCOPY sends from the frame buffers payload arrived
 * in: which sends are in flight, which buffers they hold, completions
 */
#ifndef ZEROCOPY_H
#define ZEROCOPY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>

#include "epoll_ref.h"
#include "frame.h"

#define ZC_NONE		0	/* no record: zeroed zc_sock is idle */

/**
 * struct zc_conf - What the options say
 * @off:	--no-zerocopy: never
 * @min:	--zerocopy-min: smallest batch sent with MSG_ZEROCOPY
 * @force:	Keep it on when completions say the kernel copied (tests)
 * @scribble:	Overwrite a buffer as its last hold goes (tests: data sent
 *		from a buffer released too early arrives overwritten)
 */
struct zc_conf {
	bool off;
	size_t min;
	bool force;
	bool scribble;
};

/**
 * struct zc_sock - Zerocopy state of one socket, kept by its owner
 * @next_id:	Number the kernel gives the next zerocopy send (its count
 *		of successful MSG_ZEROCOPY sends on the socket)
 * @first:	Oldest send in flight (record index), ZC_NONE if none
 * @last:	Newest send in flight, ZC_NONE if none
 * @on:		SO_ZEROCOPY is set and no completion said "copied"
 */
struct zc_sock {
	uint32_t next_id;
	uint16_t first;
	uint16_t last;
	bool on;
};

void zc_init(const struct zc_conf *conf);
void zc_bufs(struct frame_buf *bufs, unsigned int n);
void zc_sock_init(struct zc_sock *z, int fd);
ssize_t zc_sendmsg(struct zc_sock *z, int fd, const struct msghdr *mh,
		   size_t total, struct frame_buf *buf, int flags);
void zc_errqueue(struct zc_sock *z, int fd);

/* Is anything to be read from the socket's error queue, or may be? */
static inline bool zc_active(const struct zc_sock *z)
{
	return z->on || z->first != ZC_NONE;
}

bool zc_close(struct zc_sock *z, int fd, int epollfd, bool rst);
void zc_linger_handler(int epollfd, union epoll_ref ref);
void zc_end(void);
void zc_log(void);

#endif /* ZEROCOPY_H */
