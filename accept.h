/* accept.h - accepting connections on listening sockets, also when the
 * daemon is out of descriptors
 */
#ifndef ACCEPT_H
#define ACCEPT_H

#include <sys/socket.h>

void accept_init(void);
int accept_conn(int lfd, struct sockaddr *sa, socklen_t *sl);

#endif /* ACCEPT_H */
