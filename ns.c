/* ns.c - namespaces: create one and run a command in it, join an existing
 * one, run set-up code inside it, create the tap device
 *
 * Theory of operation
 * The daemon itself always stays in the host's namespaces: its sockets
 * must be opened there. Work that must happen inside the target (creating
 * the tap, configuring links over netlink) runs in a short-lived child made
 * by ns_call() with CLONE_FILES, so descriptors it opens (the tap) land in
 * the daemon's own table, while the namespace switch stays in the child.
 * The child gets a shared anonymous page to hand results back.
 *
 * A new namespace (no PID or path given) is made by a child that unshares
 * a user namespace (when not privileged: mapping our uid and gid to root,
 * as unshare -r does) and a network namespace, reports that it is ready,
 * and waits on a pipe until the daemon has configured the namespace before
 * it executes the command.
 * Whether the target is gone is known without polling: ns_watch_open().
 *
 * System calls: clone, setns, unshare, open, ioctl(TUNSETIFF, TUNSETOFFLOAD),
 * waitpid, pidfd_open, inotify_init1, inotify_add_watch.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/if_tun.h>
#include <net/if.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "log.h"
#include "ns.h"
#include "util.h"
#include "syscalls.h"

/* What this module calls after start-up, for the filter (syscalls.h) */
SYSCALL_ALLOW(SYS_NS, newfstatat);

/* In the spawned child: new user (unless privileged) and network namespace */
static int ns_unshare(void)
{
	uid_t uid = geteuid();
	gid_t gid = getegid();
	char map[64];

	if (!uid)
		return unshare(CLONE_NEWNET) ? -errno : 0;
	if (unshare(CLONE_NEWUSER | CLONE_NEWNET))
		return -errno;
	if (write_file("/proc/self/setgroups", "deny"))
		return -errno;
	snprintf(map, sizeof(map), "0 %u 1", uid);
	if (write_file("/proc/self/uid_map", map))
		return -EPERM;
	snprintf(map, sizeof(map), "0 %u 1", gid);
	if (write_file("/proc/self/gid_map", map))
		return -EPERM;
	return 0;
}

static int ns_fill_id(struct ns_target *t)
{
	struct stat st;

	if (fstat(t->netns, &st))
		return -errno;
	t->netns_dev = st.st_dev;
	t->netns_ino = st.st_ino;
	/* ns_gone() looks at the path again once there is no file system */
	t->netns_at.dirfd = -1;
	if (t->netns_path[0] && path_at_open(t->netns_path, &t->netns_at))
		log_warn("namespace: cannot watch %s", t->netns_path);
	return 0;
}

/* Child side of ns_spawn(): never returns */
static void ns_spawn_child(char *const argv[], int ready_w, int go_r)
{
	sigset_t none;
	char c = 0;
	int rc;

	prctl(PR_SET_PDEATHSIG, SIGTERM);
	rc = ns_unshare();
	c = rc ? 1 : 0;
	if (write(ready_w, &c, 1) != 1 || rc)
		_exit(126);
	close(ready_w);
	if (read(go_r, &c, 1) != 1)
		_exit(126);
	close(go_r);

	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	signal(SIGPIPE, SIG_DFL);
	execvp(argv[0], argv);
	fprintf(stderr, "%s: %s\n", argv[0], strerror(errno));
	_exit(errno == ENOENT ? 127 : 126);
}

/**
 * ns_spawn() - Create user and network namespaces with a command waiting
 * @argv:	Command and arguments, NULL-terminated
 * @child:	PID of the command's process
 * @go_fd:	Pipe to release the command with ns_spawn_go()
 * @t:		Filled with the new namespaces
 *
 * Return: 0 on success, negative errno on failure
 */
int ns_spawn(char *const argv[], pid_t *child, int *go_fd,
	     struct ns_target *t)
{
	int ready[2], go[2];
	char path[64], c;
	pid_t pid;

	if (pipe2(ready, O_CLOEXEC) || pipe2(go, O_CLOEXEC))
		return -errno;
	pid = fork();
	if (pid < 0)
		return -errno;
	if (!pid) {
		close(ready[0]);
		close(go[1]);
		ns_spawn_child(argv, ready[1], go[0]);
	}
	close(ready[1]);
	close(go[0]);
	if (read(ready[0], &c, 1) != 1 || c) {
		close(ready[0]);
		close(go[1]);
		waitpid(pid, NULL, 0);
		return -EPERM;
	}
	close(ready[0]);

	*child = pid;
	*go_fd = go[1];
	snprintf(path, sizeof(path), "/proc/%d/ns/user", pid);
	t->userns = geteuid() ? open(path, O_RDONLY | O_CLOEXEC) : -1;
	snprintf(path, sizeof(path), "/proc/%d/ns/net", pid);
	t->netns = open(path, O_RDONLY | O_CLOEXEC);
	t->netns_path[0] = 0;
	if (t->netns < 0)
		return -errno;
	return ns_fill_id(t);
}

/**
 * ns_spawn_go() - Let the spawned command run
 * @go_fd:	Descriptor from ns_spawn(), closed here
 */
void ns_spawn_go(int go_fd)
{
	char c = 0;

	if (write(go_fd, &c, 1) != 1)
		log_warn("could not release the command");
	close(go_fd);
}

/* Is @fd the user namespace we are in already? setns() would refuse it */
static bool ns_is_own_userns(int fd)
{
	struct stat a, b;

	return !fstat(fd, &a) && !stat("/proc/self/ns/user", &b) &&
	       a.st_ino == b.st_ino && a.st_dev == b.st_dev;
}

/**
 * ns_open_path() - Open a target given as paths
 * @netns:	Network namespace path, or a name under /run/netns
 * @userns:	User namespace path, NULL to stay in ours
 * @t:		Filled with the namespaces
 *
 * Return: 0 on success, negative errno on failure
 */
int ns_open_path(const char *netns, const char *userns, struct ns_target *t)
{
	if (!strchr(netns, '/'))
		snprintf(t->netns_path, sizeof(t->netns_path),
			 "/run/netns/%s", netns);
	else
		snprintf(t->netns_path, sizeof(t->netns_path), "%s", netns);
	t->userns = -1;
	t->netns = open(t->netns_path, O_RDONLY | O_CLOEXEC);
	if (t->netns < 0)
		return -errno;
	if (userns) {
		t->userns = open(userns, O_RDONLY | O_CLOEXEC);
		if (t->userns < 0)
			return -errno;
	}
	return ns_fill_id(t);
}

/**
 * ns_open_pid() - Open the namespaces of a process
 * @pid:	Process
 * @netns_only:	Do not join its user namespace
 * @t:		Filled with the namespaces
 *
 * Return: 0 on success, negative errno on failure
 */
int ns_open_pid(pid_t pid, bool netns_only, struct ns_target *t)
{
	char path[64];
	int rc;

	snprintf(path, sizeof(path), "/proc/%d/ns/net", pid);
	rc = ns_open_path(path, NULL, t);
	if (rc || netns_only)
		return rc;
	snprintf(path, sizeof(path), "/proc/%d/ns/user", pid);
	t->userns = open(path, O_RDONLY | O_CLOEXEC);
	if (t->userns < 0)
		return -errno;
	return 0;
}

/**
 * ns_enter() - Move the calling process into the target's namespaces
 * @t:		Target
 *
 * Return: 0 on success, negative errno on failure
 */
int ns_enter(const struct ns_target *t)
{
	if (t->userns >= 0 && !ns_is_own_userns(t->userns) &&
	    setns(t->userns, CLONE_NEWUSER))
		return -errno;
	return setns(t->netns, CLONE_NEWNET) ? -errno : 0;
}

/**
 * ns_call() - Run a function inside the target namespaces
 * @t:		Target
 * @fn:		Function; its descriptors stay open in the caller
 * @arg:	Argument, copied to and back from the child
 * @arg_size:	Size of @arg
 *
 * Return: what @fn returned (0 to 255, or -1..-255 as negative errno),
 *	   or negative errno if the child could not run
 */
int ns_call(const struct ns_target *t, int (*fn)(void *arg), void *arg,
	    size_t arg_size)
{
	struct { int rc; uint8_t arg[]; } *shared;
	size_t size = sizeof(*shared) + arg_size;
	int status, rc;
	pid_t pid;

	shared = mmap(NULL, size, PROT_READ | PROT_WRITE,
		      MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (shared == MAP_FAILED)
		return -errno;
	memcpy(shared->arg, arg, arg_size);
	shared->rc = -ECHILD;

	pid = (pid_t)syscall(SYS_clone, CLONE_FILES | SIGCHLD, NULL, NULL,
			     NULL, 0);
	if (pid < 0) {
		rc = -errno;
		munmap(shared, size);
		return rc;
	}
	if (!pid) {
		shared->rc = ns_enter(t);
		if (shared->rc)
			_exit(1);
		shared->rc = fn(shared->arg);
		_exit(0);
	}
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	rc = shared->rc;
	memcpy(arg, shared->arg, arg_size);
	munmap(shared, size);
	return rc;
}

#ifndef TUN_F_USO4		/* Linux headers since 6.2 */
#define TUN_F_USO4	0x20
#define TUN_F_USO6	0x40
#endif

/*
 * Does the kernel know UDP segmentation offload on taps (Linux 6.2)? The
 * same release taught the tap to take frames marked
 * VIRTIO_NET_HDR_GSO_UDP_L4 and TUNSETOFFLOAD to accept TUN_F_USO4 and
 * TUN_F_USO6, and TUNSETOFFLOAD refuses flags it does not know with
 * EINVAL: asking for them is the probe. The offloads set here are
 * replaced by the caller's right after, so that the namespace never
 * sends us UDP trains, which we would take for one datagram.
 */
static bool ns_tap_uso(int fd)
{
	return !ioctl(fd, TUNSETOFFLOAD,
		      TUN_F_CSUM | TUN_F_USO4 | TUN_F_USO6);
}

/**
 * ns_tap_open() - Create a tap device in the current namespace
 * @name:	Interface name
 * @tso:	Offer TCP segmentation offload too
 * @uso:	Set if the tap takes UDP trains from us (ns_tap_uso())
 *
 * Frames carry a virtio-net header (IFF_VNET_HDR) both ways, and the
 * device offers checksum offload (TUN_F_CSUM): the namespace's stack then
 * leaves L4 checksums of what it sends partial, and takes ours as they
 * come, so nobody sums bulk payload. With @tso (TUN_F_TSO4, TUN_F_TSO6)
 * the namespace's TCP sends up to 64 KiB per frame whatever the MTU, one
 * read() for what would be 44 frames at MTU 1500; a kernel refusing it
 * leaves checksum offload alone.
 *
 * Closing its last descriptor unregisters the device, and the closing
 * process waits for that: the namespace helper holds a copy of it
 * (nshelper_keep()), so that the daemon's exit does not wait.
 *
 * Return: descriptor, or negative errno
 */
int ns_tap_open(const char *name, bool tso, bool *uso)
{
	struct ifreq ifr = { .ifr_flags = IFF_TAP | IFF_NO_PI | IFF_VNET_HDR };
	int fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC | O_NONBLOCK), rc;

	*uso = false;
	if (fd < 0)
		return -errno;
	snprintf(ifr.ifr_name, IFNAMSIZ, "%s", name);
	if (ioctl(fd, TUNSETIFF, &ifr))
		goto fail;
	*uso = ns_tap_uso(fd);
	/* TSO if asked and possible, else checksum offload alone */
	if ((!tso || ioctl(fd, TUNSETOFFLOAD,
			   TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6)) &&
	    ioctl(fd, TUNSETOFFLOAD, TUN_F_CSUM))
		goto fail;
	return fd;
fail:
	rc = -errno;
	*uso = false;
	close(fd);
	return rc;
}

/**
 * ns_watch_open() - A descriptor that becomes readable when the target
 *		     namespace may have gone away: then ask ns_gone()
 * @t:		Target opened by path or PID
 *
 * A path under /proc/PID/ names the namespace of a process: a pidfd of it
 * is readable once it exits. Another path (a bind mount, as ip-netns and
 * Podman make) goes away by being unmounted and removed: inotify on its
 * directory reports the removal. Either way the daemon needs no polling.
 *
 * Return: descriptor (non-blocking, close-on-exec), or negative errno
 *
 * System calls: pidfd_open, inotify_init1, inotify_add_watch
 */
int ns_watch_open(const struct ns_target *t)
{
	char dir[sizeof(t->netns_path)], *slash;
	int pid, fd;

	if (!t->netns_path[0])
		return -ENOENT;
	if (sscanf(t->netns_path, "/proc/%d/", &pid) == 1) {
		fd = (int)syscall(SYS_pidfd_open, pid, 0);
		return fd < 0 ? -errno : fd;
	}
	snprintf(dir, sizeof(dir), "%s", t->netns_path);
	slash = strrchr(dir, '/');
	if (!slash)
		return -EINVAL;
	*(slash == dir ? slash + 1 : slash) = 0;
	fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (inotify_add_watch(fd, dir, IN_DELETE | IN_MOVED_FROM |
			      IN_DELETE_SELF | IN_MOVE_SELF) < 0) {
		int rc = -errno;

		close(fd);
		return rc;
	}
	return fd;
}

/**
 * ns_gone() - Has the target namespace gone away?
 * @t:		Target opened by path or PID
 *
 * The daemon's own descriptors keep the namespace alive, so what counts is
 * whether the path that named it still names it.
 *
 * Return: true if the path is gone or names another namespace
 */
bool ns_gone(const struct ns_target *t)
{
	struct stat st;

	if (!t->netns_path[0])
		return false;
	if (fstatat(t->netns_at.dirfd, t->netns_at.name, &st, 0))
		return errno == ENOENT || errno == ESRCH;
	return st.st_dev != t->netns_dev || st.st_ino != t->netns_ino;
}
