/* nshelper.h - the namespace helper: sockets inside the target namespace
 * for the confined daemon
 */
#ifndef NSHELPER_H
#define NSHELPER_H

#include <sys/socket.h>

#include "ns.h"

#define NSHELPER_BATCH	64	/* sockets per request, at most */

int nshelper_start(const struct ns_target *t);
int nshelper_wait(void);
int nshelper_keep(int fd);
int nshelper_sockets(int af, int type, int proto, int *fds, int n);
int nshelper_bind(int fd, const struct sockaddr *sa, socklen_t sl,
		  const char *ifname);

#endif /* NSHELPER_H */
