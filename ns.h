/* ns.h - namespaces: create one and run a command in it, join an existing
 * one, run set-up code inside it, create the tap device
 */
#ifndef NS_H
#define NS_H

#include <stdbool.h>
#include <sys/types.h>

#include "util.h"

/*
 * Transmit queue of the tap, in frames: the guest's frames wait there until
 * the daemon reads them, and the device drops a burst beyond it, whatever
 * flow each frame belongs to. With the default (1000) a guest writing a
 * thousand small frames at once (a port scan, a burst of RSTs) costs its
 * own bulk transfers a retransmission timeout. The frames queued are no
 * longer charged to their sockets, so the length also bounds what a guest
 * can make the kernel hold: at most this many frames of up to 64 KiB.
 */
#define NS_TAP_QLEN	4096

/**
 * struct ns_target - The namespaces the daemon serves
 * @userns:	User namespace to join first, -1 to stay in ours
 * @netns:	Network namespace
 * @netns_path:	Path whose disappearance means the namespace is gone
 * @netns_dev:	Device of the namespace (st_dev of @netns)
 * @netns_ino:	Inode of the namespace (st_ino of @netns)
 * @netns_at:	Directory of @netns_path and the name in it
 */
struct ns_target {
	int userns;
	int netns;
	char netns_path[4096];
	dev_t netns_dev;
	ino_t netns_ino;
	struct path_at netns_at;
};

int ns_spawn(char *const argv[], pid_t *child, int *go_fd,
	     struct ns_target *t);
void ns_spawn_go(int go_fd);
int ns_open_pid(pid_t pid, bool netns_only, struct ns_target *t);
int ns_open_path(const char *netns, const char *userns, struct ns_target *t);
int ns_enter(const struct ns_target *t);
int ns_call(const struct ns_target *t, int (*fn)(void *arg), void *arg,
	    size_t arg_size);
int ns_tap_open(const char *name, bool tso, bool *uso);
bool ns_gone(const struct ns_target *t);
int ns_watch_open(const struct ns_target *t);

#endif /* NS_H */
