/* isolation.c - confine the daemon once set-up is done: descriptors,
 * namespaces, an empty root, no capabilities, a seccomp allow-list
 *
 * Theory of operation
 * Everything the daemon reads frames with is opened during set-up (tap or
 * VM socket, listening sockets, log, pcap); what it opens later is
 * sockets. So once set-up is done the process gives up what it no longer
 * needs, in an order where each step still has what it takes:
 *  1. descriptors it did not open were closed at the very start
 *     (isolation_close_inherited()), so all it holds now is its own;
 *  2. a user namespace of its own (unless started as root in the initial
 *     one, which switches to --runas instead, step 5): capabilities held
 *     there cover nothing of the host's or the target's namespaces, not
 *     even by the rule that gives the owner of a child user namespace all
 *     capabilities in it (a sibling is no child); new mount, IPC and UTS
 *     namespaces come with it;
 *  3. the root becomes an empty read-only tmpfs: pivot_root() to it and
 *     detach the old root, or chroot() where pivot_root() is refused (a
 *     root that is an initramfs);
 *  4. no core dumps, not dumpable (no ptrace by its own user, /proc/PID
 *     owned by root);
 *  5. root in the initial user namespace switches to --runas (default
 *     nobody), its supplementary groups and bounding set gone;
 *  6. every capability dropped (effective, permitted, inheritable,
 *     ambient, bounding) with libcap-ng; the namespace helper alone keeps
 *     CAP_NET_BIND_SERVICE of the target's user namespace;
 *  7. no new privileges, then the seccomp allow-list (libseccomp), whose
 *     default is to kill the process.
 *
 * The allow-list is not written here: every module declares the calls it
 * makes after start-up with the macros of syscalls.h, next to the code
 * making them, and the linker gathers the declarations in one section
 * this module walks. brk, mmap, mremap and munmap are declared by nobody:
 * an allocation after start-up kills the daemon, so every test run proves
 * there is none.
 *
 * Sanitizer builds keep steps 1, 2, 4, 5 and 6 only: their run-time
 * allocates and reads /proc.
 *
 * System calls: all of the above happen before the filter exists; after it,
 * exit_group, declared here as every process ends with it.
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cap-ng.h>
#include <seccomp.h>

#include "isolation.h"
#include "log.h"
#include "util.h"

SYSCALL_ALLOW(SYS_NS | SYS_VM | SYS_HELPER, exit_group);

/* The declarations, gathered by the linker */
extern const struct syscall_decl __start_passtd_syscalls[];
extern const struct syscall_decl __stop_passtd_syscalls[];

#if defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(undefined_behavior_sanitizer)
#define ISOLATION_SANITIZER	1
#endif
#endif
#if defined(__SANITIZE_ADDRESS__)
#define ISOLATION_SANITIZER	1
#endif
#ifndef ISOLATION_SANITIZER
#define ISOLATION_SANITIZER	0
#endif

/* Directories an empty root may be mounted on, first that takes it */
static const char *const isolation_mnt[] = { "/tmp", "/run", "/mnt", "/" };

/**
 * isolation_close_inherited() - Close every descriptor above 2 but one
 * @keep:	Descriptor to keep (--fd), or -1
 */
void isolation_close_inherited(int keep)
{
	if (keep > STDERR_FILENO) {
		if (keep > STDERR_FILENO + 1)
			syscall(SYS_close_range, STDERR_FILENO + 1, keep - 1, 0);
		syscall(SYS_close_range, keep + 1, ~0U, 0);
		return;
	}
	syscall(SYS_close_range, STDERR_FILENO + 1, ~0U, 0);
}

/* Are we in the initial user namespace (every ID mapped to itself)? */
static bool isolation_init_userns(void)
{
	char buf[128];
	unsigned long a, b, n;
	ssize_t len;
	int fd;

	fd = open("/proc/self/uid_map", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return false;
	len = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (len <= 0)
		return false;
	buf[len] = 0;
	return sscanf(buf, "%lu %lu %lu", &a, &b, &n) == 3 && !a && !b &&
	       n == 4294967295UL;
}

/*
 * Step 2: a user namespace of our own, mapping our IDs to themselves, and
 * new mount, IPC and UTS namespaces owned by it
 */
static int isolation_userns(void)
{
	uid_t uid = geteuid();
	gid_t gid = getegid();
	char map[64];

	if (unshare(CLONE_NEWUSER | CLONE_NEWNS | CLONE_NEWIPC |
		    CLONE_NEWUTS))
		return -errno;
	if (write_file("/proc/self/setgroups", "deny"))
		return -errno;
	snprintf(map, sizeof(map), "%u %u 1", uid, uid);
	if (write_file("/proc/self/uid_map", map))
		return -errno;
	snprintf(map, sizeof(map), "%u %u 1", gid, gid);
	return write_file("/proc/self/gid_map", map);
}

/* Step 3: an empty read-only tmpfs as the root, the old one detached */
static int isolation_root(void)
{
	const unsigned long fl = MS_RDONLY | MS_NODEV | MS_NOEXEC | MS_NOSUID;
	size_t i;

	/* Nothing of ours may propagate back to the namespace we came from */
	if (mount("", "/", NULL, MS_REC | MS_PRIVATE, NULL))
		return -errno;
	for (i = 0; i < ARRAY_SIZE(isolation_mnt); i++)
		if (!mount("passtd", isolation_mnt[i], "tmpfs", fl, "mode=0555"))
			break;
	if (i == ARRAY_SIZE(isolation_mnt) || chdir(isolation_mnt[i]))
		return -errno;
	/* New and old root the same directory: the old ends up on top */
	if (syscall(SYS_pivot_root, ".", ".")) {
		if (chroot("."))
			return -errno;
	} else if (umount2(".", MNT_DETACH)) {
		return -errno;
	}
	return chdir("/") ? -errno : 0;
}

/* Step 5's user and group: "UID[:GID]" or "LOGIN[:GROUP]" */
static int isolation_runas(const char *runas, uid_t *uid, gid_t *gid)
{
	char user[256], *group;
	unsigned long n;
	struct passwd *pw;
	struct group *gr;

	snprintf(user, sizeof(user), "%s", runas ? runas : "nobody");
	group = strchr(user, ':');
	if (group)
		*group++ = 0;
	if (!str_to_uint(user, UINT32_MAX - 1, &n)) {
		*uid = (uid_t)n;
		pw = getpwuid(*uid);
	} else if ((pw = getpwnam(user))) {
		*uid = pw->pw_uid;
	} else {
		return -ENOENT;
	}
	*gid = pw ? pw->pw_gid : (gid_t)*uid;
	if (!group)
		return 0;
	if (!str_to_uint(group, UINT32_MAX - 1, &n))
		*gid = (gid_t)n;
	else if ((gr = getgrnam(group)))
		*gid = gr->gr_gid;
	else
		return -ENOENT;
	return 0;
}

/*
 * Steps 5 and 6: the IDs of --runas (@uid, @gid) if we are root of the
 * host, and no capabilities
 */
static int isolation_caps(const struct isolation *is, bool host_root,
			  uid_t uid, gid_t gid)
{
	capng_clear(CAPNG_SELECT_ALL);
	if (is->keep_bind_service)
		capng_update(CAPNG_ADD, CAPNG_EFFECTIVE | CAPNG_PERMITTED,
			     CAP_NET_BIND_SERVICE);
	if (!host_root)
		return capng_apply(CAPNG_SELECT_ALL) ? -EPERM : 0;
	if (capng_change_id((int)uid, (int)gid,
			    CAPNG_DROP_SUPP_GRP | CAPNG_CLEAR_BOUNDING))
		return -EPERM;
	if (getuid() != uid || geteuid() != uid || getgid() != gid)
		return -EPERM;
	return 0;
}

/* Does @d go into the filter of @mode? */
static bool isolation_decl_in(const struct syscall_decl *d, unsigned int mode)
{
	return d->modes & mode;
}

/* Is @nr declared for @mode without conditions (which then do not matter)? */
static bool isolation_unconditional(long nr, unsigned int mode)
{
	const struct syscall_decl *d;

	for (d = __start_passtd_syscalls; d < __stop_passtd_syscalls; d++)
		if (isolation_decl_in(d, mode) && d->nr == nr &&
		    d->arg[0].index < 0)
			return true;
	return false;
}

/**
 * isolation_filter_load() - Build the allow-list of @mode and install it
 * @mode:	SYS_NS, SYS_VM or SYS_HELPER
 *
 * The context is not released: that would free memory, and freeing may
 * unmap it, which the filter now forbids.
 *
 * Return: 0 on success, negative errno on failure
 */
static int isolation_filter_load(unsigned int mode)
{
	const struct syscall_decl *d;
	scmp_filter_ctx ctx;
	int rc;

	ctx = seccomp_init(SCMP_ACT_KILL_PROCESS);
	if (!ctx)
		return -ENOMEM;
	for (d = __start_passtd_syscalls; d < __stop_passtd_syscalls; d++) {
		struct scmp_arg_cmp cmp[SYSCALL_ARGS_MAX];
		unsigned int n = 0, i;

		if (!isolation_decl_in(d, mode))
			continue;
		if (d->arg[0].index >= 0 &&
		    isolation_unconditional(d->nr, mode))
			continue;
		for (i = 0; i < SYSCALL_ARGS_MAX; i++) {
			if (d->arg[i].index < 0)
				continue;
			cmp[n++] = SCMP_CMP((unsigned int)d->arg[i].index,
					    SCMP_CMP_MASKED_EQ,
					    d->arg[i].mask, d->arg[i].value);
		}
		rc = seccomp_rule_add_array(ctx, SCMP_ACT_ALLOW, (int)d->nr,
					    n, cmp);
		if (rc && rc != -EEXIST) {
			log_err("seccomp: rule for %s (%s): %s", d->name,
				d->file, strerror(-rc));
			return rc;
		}
	}
	return seccomp_load(ctx);
}

/**
 * isolation_count() - How many distinct system calls the filter allows
 * @mode:	SYS_NS, SYS_VM or SYS_HELPER
 *
 * Return: the count
 */
unsigned int isolation_count(unsigned int mode)
{
	const struct syscall_decl *d, *e;
	unsigned int n = 0;

	for (d = __start_passtd_syscalls; d < __stop_passtd_syscalls; d++) {
		if (!isolation_decl_in(d, mode))
			continue;
		for (e = __start_passtd_syscalls; e < d; e++)
			if (isolation_decl_in(e, mode) && e->nr == d->nr)
				break;
		n += e == d;
	}
	return n;
}

/**
 * isolation_print() - List the filter of @mode on standard output, sorted
 * by name, each call with its conditions and the files declaring it
 * @mode:	SYS_NS, SYS_VM or SYS_HELPER
 */
void isolation_print(unsigned int mode)
{
	const struct syscall_decl *d, *best, *last = NULL;

	printf("%u system calls allowed after start-up:\n",
	       isolation_count(mode));
	/* Selection by name: the list is short, and sorting would allocate */
	for (;;) {
		best = NULL;
		for (d = __start_passtd_syscalls;
		     d < __stop_passtd_syscalls; d++) {
			if (!isolation_decl_in(d, mode) ||
			    (last && strcmp(d->name, last->name) <= 0))
				continue;
			if (!best || strcmp(d->name, best->name) < 0)
				best = d;
		}
		if (!best)
			return;
		printf("%s\n", best->name);
		for (d = __start_passtd_syscalls;
		     d < __stop_passtd_syscalls; d++)
			if (isolation_decl_in(d, mode) &&
			    !strcmp(d->name, best->name))
				printf("\t%-14s %s\n", d->file,
				       *d->cond ? d->cond : "any arguments");
		last = best;
	}
}

/*
 * Steps 2 to 4. The namespace helper keeps the user namespace it joined,
 * where its one capability counts, unless it has no privilege there to
 * make the other namespaces.
 */
static int isolation_fs(const struct isolation *is, bool host_root)
{
	const int other = CLONE_NEWNS | CLONE_NEWIPC | CLONE_NEWUTS;
	struct rlimit no_core = { 0, 0 };
	int rc = -EPERM;

	if (host_root || is->keep_bind_service)
		rc = unshare(other) ? -errno : 0;
	if (rc && !host_root)
		rc = isolation_userns();
	if (rc) {
		log_err("isolation: new namespaces: %s", strerror(-rc));
		return rc;
	}
	if (!ISOLATION_SANITIZER && (rc = isolation_root())) {
		log_err("isolation: empty root: %s", strerror(-rc));
		return rc;
	}
	if (setrlimit(RLIMIT_CORE, &no_core) ||
	    prctl(PR_SET_DUMPABLE, 0, 0, 0, 0))
		return -errno;
	return 0;
}

/**
 * isolation_enter() - Confine the calling process for good
 * @is:		What it may keep, and its filter
 *
 * Return: 0 on success, negative errno (logged) on failure: the caller
 *	   must not go on
 */
int isolation_enter(const struct isolation *is)
{
	bool host_root = !geteuid() && isolation_init_userns();
	uid_t uid = 0;
	gid_t gid = 0;
	int rc;

	/* Names are looked up while there is an /etc to look them up in */
	if (host_root && (rc = isolation_runas(is->runas, &uid, &gid))) {
		log_err("--runas %s: no such user or group",
			is->runas ? is->runas : "nobody");
		return rc;
	}
	if (host_root && !uid) {
		log_err("refusing to run as root: give --runas a user");
		return -EPERM;
	}
	rc = isolation_fs(is, host_root);
	if (rc)
		return rc;
	rc = isolation_caps(is, host_root, uid, gid);
	if (rc) {
		log_err("isolation: capabilities: %s", strerror(-rc));
		return rc;
	}
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0))
		return -errno;
	if (ISOLATION_SANITIZER) {
		log_debug("isolation: no seccomp filter in a sanitizer build");
		return 0;
	}
	if (is->mode != SYS_HELPER)	/* which may not write, not even logs */
		log_debug("isolation: %u system calls allowed",
			  isolation_count(is->mode));
	rc = isolation_filter_load(is->mode);
	if (rc && is->mode != SYS_HELPER)
		log_err("isolation: seccomp: %s", strerror(-rc));
	return rc;
}
