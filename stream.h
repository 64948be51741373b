/* stream.h - the VM frontend: Ethernet frames over a UNIX stream socket,
 * each behind a 32-bit big-endian length, as QEMU's -netdev stream speaks
 */
#ifndef STREAM_H
#define STREAM_H

#include "ctx.h"

#define STREAM_PATH_MAX		108	/* sun_path of struct sockaddr_un */
#define STREAM_DEFAULT_MAX	64	/* /tmp/passt_1.socket ... _64 */

int stream_init(struct ctx *c);
int stream_listen(const char *path, char *bound, size_t size);
int stream_accept(struct ctx *c, int lfd);
int stream_attach(struct ctx *c, int fd);
bool stream_connected(void);
int stream_handler(struct ctx *c, uint32_t events);
void stream_flush(struct frame_queue *q);

#endif /* STREAM_H */
