/* passtd.c - start-up and the epoll loop
 *
 * Theory of operation
 * Start-up reads the options and the host's template interface, gets hold
 * of the target namespace (a new one with a command waiting in it, or an
 * existing one given by PID or path), creates and configures the tap
 * inside it, then enters one loop: epoll_wait(), dispatch every event on
 * the type packed in its 64-bit reference, flush the frames protocols
 * queued toward the guest, repeat. Signals arrive through a signalfd, so
 * nothing runs outside the loop.
 *
 * Timers: epoll_wait() sleeps until the next deadline of anything
 * (timers_run()): a flow's (flow.c's heap: TCP retransmission, keepalive,
 * a spliced connect()), the least recently active UDP or ICMP flow's
 * expiry, the next Router Advertisement, a socket pool refill. Only
 * "auto" forwarding and pasta's look at whether its namespace is gone run
 * once a second, and only when they are in use. A daemon with nothing due
 * does not wake up at all.
 *
 * The daemon ends when the spawned command ends (with its exit status),
 * when the target namespace goes away, or on SIGTERM/SIGINT/SIGHUP when
 * it joined an existing namespace.
 *
 * VM mode (passt, --vm) has no namespace: the guest is a QEMU process on
 * a UNIX stream socket (stream.c). The socket listens before the daemon
 * forks into the background, so whoever started it can connect as soon as
 * it returns. When the guest leaves, its flows are closed and the daemon
 * waits for the next one, or exits with -1/--one-off (implied by --fd).
 *
 * System calls: epoll_create1, epoll_ctl, epoll_wait, signalfd,
 * rt_sigprocmask, read (signalfd, pidfd or inotify of the namespace watch),
 * waitid, wait4, kill, close; at start only: getrlimit, setrlimit, open,
 * write, unlink (PID file), fork, setsid, dup2, getpid.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "accept.h"
#include "conf.h"
#include "ctl.h"
#include "dispatch.h"
#include "epoll_ref.h"
#include "icmp.h"
#include "listen.h"
#include "log.h"
#include "ndp.h"
#include "netlink.h"
#include "isolation.h"
#include "ns.h"
#include "nshelper.h"
#include "pcap.h"
#include "stream.h"
#include "tap.h"
#include "tap_splice.h"
#include "tcp.h"
#include "tcp_splice.h"
#include "udp.h"
#include "vu_net.h"
#include "zerocopy.h"
#include "syscalls.h"

/* What this module calls after start-up, for the filter (syscalls.h) */
SYSCALL_ALLOW(SYS_NS | SYS_VM, epoll_wait);
SYSCALL_ALLOW(SYS_NS | SYS_VM, epoll_ctl);
SYSCALL_ALLOW(SYS_NS | SYS_VM, read);
SYSCALL_ALLOW(SYS_NS, wait4);
SYSCALL_ALLOW(SYS_NS, waitid);
SYSCALL_ALLOW(SYS_NS, kill);
SYSCALL_ALLOW(SYS_NS | SYS_VM, unlinkat);

#define EVENTS_MAX	256
#define QUEUE_ARENA	(16 << 20)
#define QUEUE_FRAMES	8192

static struct conf conf;
static struct ns_target target;
static pid_t child_pid;
static int quit_status = -1;	/* command ended: exit with this status once
				 * data in flight is relayed */
static char vm_socket[STREAM_PATH_MAX];	/* VM mode: path we listen on */
/* The PID file and the VM socket, removed at exit from outside the root */
static struct path_at pidfile_at = { .dirfd = -1 };
static struct path_at vm_socket_at = { .dirfd = -1 };

/**
 * struct ns_setup - What the set-up inside the namespace reports back
 * @tap_fd:	Tap descriptor, valid in the daemon too (shared table)
 * @uso:	The tap takes UDP trains (ns_tap_open())
 * @step:	What failed, if anything
 */
struct ns_setup {
	int tap_fd;
	bool uso;
	char step[64];
};

/* Links up, and with --config-net addresses and routes; Return: 0 or -errno */
static int ns_setup_links(int nl, struct ns_setup *s)
{
	const struct net_conf *nc = &conf.net;
	unsigned int lo = if_nametoindex("lo");
	unsigned int idx = if_nametoindex(conf.ns_ifname);
	int rc;

	rc = nl_link_set(nl, idx, false, conf.config_net ? nc->mtu : 0,
			 conf.ns_mac_set ? conf.ns_mac : NULL);
	if (!rc && nl_link_txqlen(nl, idx, NS_TAP_QLEN))
		log_debug("tap: cannot set queue length %d", NS_TAP_QLEN);
	if (!rc)
		rc = nl_link_set(nl, idx, true, 0, NULL);
	if (!rc && lo)
		rc = nl_link_set(nl, lo, true, 0, NULL);
	if (rc)
		return snprintf(s->step, sizeof(s->step), "link set-up"), rc;
	if (!conf.config_net)
		return 0;
	if (nc->v4.enabled && ((rc = nl_addr_add(nl, idx, AF_INET,
			&nc->v4.addr, nc->v4.prefix_len)) ||
	    (rc = nl_route_add_default(nl, idx, AF_INET, &nc->v4.gw))))
		return snprintf(s->step, sizeof(s->step), "IPv4 set-up"), rc;
	if (nc->v6.enabled && ((rc = nl_addr_add(nl, idx, AF_INET6,
			&nc->v6.addr, nc->v6.prefix_len)) ||
	    (rc = nl_route_add_default(nl, idx, AF_INET6, &nc->v6.gw))))
		return snprintf(s->step, sizeof(s->step), "IPv6 set-up"), rc;
	return 0;
}

/*
 * Inside the target: tap, links up, and with --config-net the rest. The
 * descriptor table is the daemon's (CLONE_FILES): whatever is opened here
 * and not handed back must be closed here, on every path.
 */
static int ns_setup_fn(void *arg)
{
	const struct net_conf *nc = &conf.net;
	struct ns_setup *s = arg;
	int nl, rc;

	rc = s->tap_fd = ns_tap_open(conf.ns_ifname,
				     !nc->no_gso && !conf.pcapfile, &s->uso);
	if (rc < 0)
		return snprintf(s->step, sizeof(s->step), "creating tap"), rc;
	nl = nl_sock();
	if (nl < 0)
		return snprintf(s->step, sizeof(s->step), "netlink"), nl;
	rc = ns_setup_links(nl, s);
	close(nl);
	return rc;
}

/**
 * struct ns_proc - The target's /proc/net tables, for "auto" forwarding
 * @want:	Open TCP's (tcp, tcp6), UDP's (udp, udp6): -t or -u is "auto"
 * @fd:		tcp, tcp6, udp, udp6; -1 if not wanted or not opened
 */
struct ns_proc {
	bool want[2];
	int fd[4];
};

/* Inside the target: the TCP and UDP tables "auto" forwarding reads */
static int ns_proc_fn(void *arg)
{
	static const char *const path[4] = {
		"/proc/self/net/tcp", "/proc/self/net/tcp6",
		"/proc/self/net/udp", "/proc/self/net/udp6",
	};
	struct ns_proc *np = arg;
	int i;

	for (i = 0; i < 4; i++)
		if (np->want[i / 2])
			np->fd[i] = open(path[i], O_RDONLY | O_CLOEXEC);
	return 0;
}

/* Get hold of the target namespace; spawn mode leaves the command waiting */
static int target_open(int *go_fd)
{
	static char *shell[2];
	int rc;

	if (conf.target_pid)
		rc = ns_open_pid(conf.target_pid, conf.netns_only ||
				 conf.userns, &target);
	else if (conf.netns)
		rc = ns_open_path(conf.netns, NULL, &target);
	else {
		if (!conf.cmd) {
			shell[0] = getenv("SHELL") ? getenv("SHELL") : "/bin/sh";
			conf.cmd = shell;
		}
		conf.foreground = true;
		rc = ns_spawn(conf.cmd, &child_pid, go_fd, &target);
	}
	if (!rc && conf.userns && !conf.netns_only) {
		target.userns = open(conf.userns, O_RDONLY | O_CLOEXEC);
		rc = target.userns < 0 ? -errno : 0;
	}
	if (rc && conf.target_pid)
		log_err("cannot open the namespaces of PID %d: %s",
			conf.target_pid, strerror(-rc));
	else if (rc && conf.netns)
		log_err("cannot open the target namespace %s: %s",
			conf.netns, strerror(-rc));
	else if (rc)
		log_err("cannot create a namespace: %s", strerror(-rc));
	return rc;
}

static int pidfile_write(void)
{
	char buf[32];
	int fd, rc;

	if (!conf.pidfile)
		return 0;
	fd = open(conf.pidfile, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		return -errno;
	path_at_open(conf.pidfile, &pidfile_at);
	snprintf(buf, sizeof(buf), "%d\n", getpid());
	rc = write_all(fd, buf, strlen(buf));
	close(fd);
	return rc;
}

/* Fork into the background; the parent exits once the PID file exists */
static void daemonize(void)
{
	int p[2], devnull;
	pid_t pid;
	char c;

	if (pipe2(p, O_CLOEXEC))
		die("pipe: %s", strerror(errno));
	pid = fork();
	if (pid < 0)
		die("fork: %s", strerror(errno));
	if (pid) {
		close(p[1]);
		_exit(read(p[0], &c, 1) == 1 ? 0 : 1);
	}
	close(p[0]);
	setsid();
	log_file_pid(getpid());	/* the header named the process that left */
	if (pidfile_write())
		die("cannot write PID file %s", conf.pidfile);
	devnull = open("/dev/null", O_RDWR | O_CLOEXEC);
	if (devnull >= 0) {
		int fd;

		/* ...but not over a guest socket given as -F 0, 1 or 2 */
		for (fd = STDIN_FILENO; fd <= STDERR_FILENO; fd++)
			if (fd != conf.fd)
				dup2(devnull, fd);
		close(devnull);
	}
	log_set_stderr(false);
	c = 0;
	if (write(p[1], &c, 1) != 1)
		_exit(1);
	close(p[1]);
}

static void quit(int status)
{
	path_at_unlink(&pidfile_at);
	path_at_unlink(&vm_socket_at);
	ctl_exit();
	zc_end();
	drop_log();
	zc_log();
	udp_log();
	tap_splice_end();
	pcap_close();
	exit(status);
}

static int epoll_add(int epollfd, int fd, enum epoll_type type)
{
	union epoll_ref ref = { .type = type, .fd = fd };
	struct epoll_event ev = { .events = EPOLLIN, .data.u64 = ref.u64 };

	return epoll_ctl(epollfd, EPOLL_CTL_ADD, fd, &ev);
}

/*
 * Reap every child that ended, keeping the command's exit status. Which
 * child it is must be known before it is reaped: a waitpid(-1) after a
 * waitpid(child_pid) that found the command still running may take the
 * command, ended in between, and its status would be lost (the daemon
 * would then never exit). waitid(WNOWAIT) looks without reaping.
 */
static void reap_children(void)
{
	siginfo_t si;
	int status;

	for (;;) {
		si.si_pid = 0;
		if (waitid(P_ALL, 0, &si, WEXITED | WNOHANG | WNOWAIT) ||
		    !si.si_pid)
			return;
		if (waitpid(si.si_pid, &status, 0) != si.si_pid)
			return;
		if (child_pid && si.si_pid == child_pid)
			quit_status = WIFEXITED(status) ? WEXITSTATUS(status) :
				      128 + WTERMSIG(status);
	}
}

/* Signals: the spawned command's end, or a request to stop */
static void signal_handler(struct ctx *c, int sfd)
{
	struct signalfd_siginfo si;

	while (read(sfd, &si, sizeof(si)) == sizeof(si)) {
		if (si.ssi_signo == SIGCHLD) {
			reap_children();
			continue;
		}
		if (!child_pid) {
			/* a cut stream must not look complete: reset it */
			tcp_end(c);
			c->q->flush(c->q);
			quit(0);
		}
		/* Spawn mode: the command decides; SIGINT reached it too */
		if (si.ssi_signo != SIGINT && si.ssi_signo != SIGQUIT)
			kill(child_pid, (int)si.ssi_signo);
	}
}

static int netns_watch = -1;	/* ns_watch_open(), -1: poll instead */

/* Should pasta exit once the namespace it joined is gone? (A spawned
 * command holds its namespace: its exit ends the daemon, with its status) */
static bool netns_quit(void)
{
	return conf.mode == MODE_PASTA && !conf.no_netns_quit && !child_pid;
}

/* ...and, with nothing to tell it, poll for that? */
static bool netns_poll(void)
{
	return netns_quit() && netns_watch < 0;
}

/* Once a second, while something needs it: "auto" forwarding follows the
 * other side, and pasta, where nothing tells it, looks whether its
 * namespace is gone */
static bool second_wanted(const struct ctx *c)
{
	return listen_auto(c) || netns_poll();
}

/* Exit if the target namespace is gone */
static void netns_check(struct ctx *c)
{
	if (!ns_gone(&target))
		return;
	log_info("target namespace gone, exiting");
	tcp_end(c);
	quit(0);
}

/*
 * The namespace watch fired (a process exited, a file was removed): see
 * whether it was the target. A pidfd stays readable once its process is
 * gone: if the namespace outlives it, poll from then on.
 */
static void netns_watch_handler(struct ctx *c)
{
	char buf[4096] __attribute__((aligned(8)));
	int err;

	while (read(netns_watch, buf, sizeof(buf)) > 0)
		;
	err = errno;
	netns_check(c);
	if (err != EAGAIN) {		/* a pidfd: nothing to read */
		epoll_ctl(c->epollfd, EPOLL_CTL_DEL, netns_watch, NULL);
		close(netns_watch);
		netns_watch = -1;
	}
}

static uint64_t second_ms;	/* next once-a-second run */

/*
 * Timers that are due, once per loop: each is O(1) when nothing is (idle
 * expiry looks at the least recently active flow only). Sets *@listen_due
 * when "auto" forwarding is to be brought in step: that closes sockets,
 * so it waits until the batch is done.
 */
static void timers_run(struct ctx *c, bool *listen_due)
{
	dispatch_timers(c);
	if (c->now_ms >= tcp_splice_next_ms(c))
		tcp_splice_timer(c);
	if (c->now_ms >= udp_next_ms(c))
		udp_timer(c);
	if (c->now_ms >= icmp_next_ms(c))
		icmp_timer(c);
	if (c->now_ms >= ndp_next_ms(c))
		ndp_timer(c);
	if (c->now_ms >= ctl_next_ms())
		ctl_timer(c);
	if (second_wanted(c) && c->now_ms >= second_ms) {
		second_ms = c->now_ms + 1000;
		*listen_due = true;
		if (netns_poll())
			netns_check(c);
	}
}

/* The next time anything is due, UINT64_MAX if nothing ever is: asked
 * right before sleeping, after whatever the batch and its aftermath set */
static uint64_t timers_next(const struct ctx *c)
{
	uint64_t next;

	next = MIN(flow_timer_next(c->flows), tcp_splice_next_ms(c));
	next = MIN(next, MIN(udp_next_ms(c), icmp_next_ms(c)));
	next = MIN(next, MIN(ndp_next_ms(c), ctl_next_ms()));
	if (second_wanted(c))
		next = MIN(next, second_ms);
	return next;
}

/* epoll_wait() timeout until @next_ms: -1 for never, 0 if past */
static int loop_timeout(const struct ctx *c, uint64_t next_ms)
{
	if (next_ms == UINT64_MAX)
		return -1;
	if (next_ms <= c->now_ms)
		return 0;
	return (int)MIN(next_ms - c->now_ms, (uint64_t)INT32_MAX);
}

/* The command ended: exit once its connections delivered what it sent */
static void quit_when_drained(struct ctx *c, uint64_t *quit_by_ms)
{
	if (!*quit_by_ms)
		*quit_by_ms = c->now_ms + TCP_DRAIN_MS;
	if (tcp_draining() && c->now_ms < *quit_by_ms)
		return;
	tcp_end(c);
	c->q->flush(c->q);
	quit(quit_status);
}

/* VM mode: the guest left; close what it had, wait for the next one */
static void vm_guest_gone(struct ctx *c)
{
	tcp_close_all(c);
	udp_close_all(c);
	icmp_close_all(c);
	frame_queue_reset(c->q);	/* nothing of the old guest's is sent */
	if (conf.one_off) {
		log_info("guest gone, exiting (one-off)");
		quit(0);
	}
	log_info("guest gone, waiting for the next one on %s", vm_socket);
}

/*
 * The loop: sleep until an event or the next deadline (an idle daemon
 * does not wake up at all), handle the batch, run what is due, then, with
 * no event of the batch left, what closes descriptors or frees slots
 */
static void loop(struct ctx *c, int sfd)
{
	struct epoll_event ev[EVENTS_MAX];
	uint64_t quit_by_ms = 0;
	bool listen_due, ctl_due;
	int n, i, rc, lfd, timeout;

	for (;;) {
		c->now_ms = now_ms();
		timeout = loop_timeout(c, timers_next(c));
		/* Quitting: look again at what drains, every tenth second */
		if (quit_status >= 0 && (timeout < 0 || timeout > 100))
			timeout = 100;
		n = epoll_wait(c->epollfd, ev, EVENTS_MAX, timeout);
		if (n < 0 && errno != EINTR)
			die("epoll_wait: %s", strerror(errno));
		c->now_ms = now_ms();
		lfd = -1;
		listen_due = ctl_due = false;
		for (i = 0; i < n; i++) {
			union epoll_ref ref = { .u64 = ev[i].data.u64 };

			switch (ref.type) {
			case EPOLL_TYPE_TAP:
				tap_handler(c);
				break;
			case EPOLL_TYPE_STREAM:
				if (stream_handler(c, ev[i].events))
					vm_guest_gone(c);
				break;
			case EPOLL_TYPE_VU:
				if (vu_net_handler(c, ev[i].events))
					vm_guest_gone(c);
				break;
			case EPOLL_TYPE_VU_KICK:
				vu_net_kick(c, ref.flow);
				break;
			case EPOLL_TYPE_LISTEN:
				/* after the batch: a guest that left in
				 * it must be gone before the next one */
				lfd = ref.fd;
				break;
			case EPOLL_TYPE_SIGNAL:
				signal_handler(c, sfd);
				break;
			case EPOLL_TYPE_NETNS:
				netns_watch_handler(c);
				break;
			case EPOLL_TYPE_CTL:
			case EPOLL_TYPE_CTL_CONN:
				/* after the batch: a delete closes sockets */
				ctl_due = true;
				break;
			default:
				dispatch_event(c, ref, ev[i].events);
				break;
			}
		}
		timers_run(c, &listen_due);
		if (lfd >= 0 && (rc = conf.vhost_user ?
				 vu_net_accept(c, lfd) :
				 stream_accept(c, lfd)) < 0)
			log_warn("accept: %s", strerror(-rc));
		/* No event of this batch is left for what closes now */
		if (listen_due)
			listen_timer(c);
		if (ctl_due)
			ctl_run(c);
		flow_reap(c->flows);
		c->q->flush(c->q);
		if (quit_status >= 0)
			quit_when_drained(c, &quit_by_ms);
	}
}

static int signals_setup(void)
{
	sigset_t set;

	sigemptyset(&set);
	sigaddset(&set, SIGCHLD);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	sigaddset(&set, SIGQUIT);
	sigprocmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);
	return signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
}

/*
 * One socket per flow: allow as many descriptors as the hard limit, or
 * as fs.nr_open when we may raise the hard limit too (CAP_SYS_RESOURCE)
 */
static void nofile_raise(void)
{
	unsigned long nr_open = 0;
	struct rlimit rl;
	char buf[32];
	int fd;

	if (getrlimit(RLIMIT_NOFILE, &rl))
		return;
	fd = open("/proc/sys/fs/nr_open", O_RDONLY | O_CLOEXEC);
	if (fd >= 0) {
		ssize_t n = read(fd, buf, sizeof(buf) - 1);

		if (n > 0) {
			buf[n] = 0;
			buf[strcspn(buf, "\n")] = 0;
			if (str_to_uint(buf, 1UL << 30, &nr_open))
				nr_open = 0;
		}
		close(fd);
	}
	if (nr_open > rl.rlim_max) {
		struct rlimit up = { nr_open, nr_open };

		if (!setrlimit(RLIMIT_NOFILE, &up))
			return;
	}
	if (rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
}

/* The level -q leaves, and the log file, emptied, with its header */
static void log_setup(void)
{
	int rc;

	if (conf.quiet && log_level == LOG_LVL_INFO)
		log_level = LOG_LVL_WARN;
	if (!conf.logfile)
		return;
	rc = log_file_open(conf.logfile, program_invocation_short_name,
			   conf.log_size);
	if (rc)
		die("cannot open log file %s: %s", conf.logfile,
		    strerror(-rc));
}

/*
 * Namespace mode: get the namespace, create the tap in it, and fork the
 * helper that makes the sockets the daemon needs in there later
 */
static void ns_start(struct ctx *c, int *go_fd, struct ns_setup *setup)
{
	int rc;

	if (target_open(go_fd))
		exit(1);
	nofile_raise();		/* after the command was forked: not for it */
	conf_log(&conf);
	/* Before the tap is up: whoever waits for that may connect at once */
	rc = nshelper_start(&target);
	if (rc)
		die("namespace helper: %s", strerror(-rc));
	c->ns_sockets = nshelper_sockets;
	c->ns_bind = nshelper_bind;
	rc = ns_call(&target, ns_setup_fn, setup, sizeof(*setup));
	if (rc)
		die("namespace set-up failed (%s): %s",
		    setup->step[0] ? setup->step : "joining", strerror(-rc));
}

/* The seccomp filter's mode: what this mode of the daemon calls */
static unsigned int sys_mode(void)
{
	if (conf.mode == MODE_PASTA)
		return SYS_NS;
	return conf.vhost_user ? SYS_VM | SYS_VU : SYS_VM;
}

/*
 * Set-up is done: confine the process (isolation.c), then, for the tests
 * of that, break the rules once if asked to (--isolation-selftest)
 */
static void confine(void)
{
	const struct isolation is = {
		.mode = sys_mode(),
		.runas = conf.runas,
	};
	volatile char *p;

	/* The helper is in there: joining it again is nobody's business */
	if (conf.mode == MODE_PASTA) {
		if (nshelper_wait())
			die("namespace helper: could not confine itself");
		if (target.userns >= 0)
			close(target.userns);
		close(target.netns);
		target.userns = target.netns = -1;
	}
	if (isolation_enter(&is))
		die("cannot confine the daemon");
	if (!conf.selftest)
		return;
	log_info("isolation self-test: %s", conf.selftest);
	if (!strcmp(conf.selftest, "syscall"))
		syscall(SYS_getppid);
	p = malloc(1 << 20);	/* beyond the heap: a mapping of its own */
	if (p)
		p[0] = 1;
	die("isolation self-test survived: %s", conf.selftest);
}

/* Know without polling when the target namespace goes away, if we can */
static void netns_watch_start(struct ctx *c)
{
	int fd = ns_watch_open(&target);

	if (fd < 0) {
		log_debug("namespace: no watch (%s), looking once a second",
			  strerror(-fd));
		return;
	}
	if (epoll_add(c->epollfd, fd, EPOLL_TYPE_NETNS)) {
		close(fd);
		return;
	}
	netns_watch = fd;
}

/* Namespace mode, once the queue exists: serve the tap, watch the ports */
static void ns_tap_start(struct ctx *c, const struct ns_setup *setup,
			 int ns_proc[4])
{
	struct ns_proc np = {
		.want = { listen_proc_needed(c, &conf.tcp_in, false),
			  listen_proc_needed(c, &conf.udp_in, true) },
		.fd = { -1, -1, -1, -1 },
	};

	c->q->csum_skip = !conf.pcapfile;  /* captures keep valid checksums */
	/* The daemon's exit must not wait for the tap's unregistration */
	if (nshelper_keep(setup->tap_fd))
		log_warn("namespace helper: cannot hold the tap");
	if (tap_init(c, setup->tap_fd, setup->uso) ||
	    epoll_add(c->epollfd, setup->tap_fd, EPOLL_TYPE_TAP))
		die("start-up: %s", strerror(errno));
	if ((np.want[0] || np.want[1]) &&
	    ns_call(&target, ns_proc_fn, &np, sizeof(np)))
		die("cannot set up port forwarding");
	memcpy(ns_proc, np.fd, sizeof(np.fd));
}

/* VM mode: take the inherited socket, or listen for the guest */
static void vm_start(struct ctx *c)
{
	int rc, lfd;

	c->ns_sockets = NULL;	/* no namespace: no splice, no -T/-U */
	nofile_raise();
	conf_log(&conf);
	conf.vu.capture = conf.pcapfile;
	if (conf.vhost_user ? vu_net_init(c, &conf.vu) : stream_init(c))
		die("out of memory");
	if (conf.fd >= 0) {
		rc = conf.vhost_user ? vu_net_attach(c, conf.fd) :
				       stream_attach(c, conf.fd);
		if (rc)
			die("--fd %d: %s", conf.fd,
			    rc == -ENOTSOCK ? "not a stream socket" :
			    strerror(-rc));
		log_info("guest connected on descriptor %d", conf.fd);
		return;
	}
	lfd = stream_listen(conf.socket_path, vm_socket, sizeof(vm_socket));
	if (lfd < 0) {
		if (conf.socket_path)
			die("cannot listen on %s: %s", conf.socket_path,
			    lfd == -EADDRINUSE ? "in use by a running process" :
			    lfd == -EEXIST ? "exists and is not a socket" :
			    strerror(-lfd));
		die("no free socket path in /tmp/passt_1.socket ... "
		    "/tmp/passt_%d.socket: %s", STREAM_DEFAULT_MAX,
		    strerror(-lfd));
	}
	if (epoll_add(c->epollfd, lfd, EPOLL_TYPE_LISTEN))
		die("start-up: %s", strerror(errno));
	path_at_open(vm_socket, &vm_socket_at);
	/* Before forking: without -s this is the only way to learn the path */
	log_info("listening on UNIX socket %s", vm_socket);
	if (conf.vhost_user)
		log_info("connect QEMU with: -chardev socket,id=c0,path=%s "
			 "-netdev vhost-user,id=n0,chardev=c0 "
			 "-device virtio-net-pci,netdev=n0 (guest memory "
			 "shared: -object memory-backend-memfd,share=on)",
			 vm_socket);
	else
		log_info("connect QEMU with: -device virtio-net-pci,netdev=n0 "
			 "-netdev stream,id=n0,server=off,addr.type=unix,"
			 "addr.path=%s", vm_socket);
}

int main(int argc, char *argv[])
{
	static struct frame_queue q;
	static struct flow_table flows;
	struct ctx c = { .net = &conf.net, .q = &q, .flows = &flows };
	struct ns_setup setup = { .tap_fd = -1 };
	int rc, nl, sfd, go_fd = -1;
	int ns_proc[4] = { -1, -1, -1, -1 };

	log_init();
	rc = conf_parse(&conf, argc, argv);
	if (rc)
		return rc == CONF_EXIT_OK ? 0 : 1;
	if (conf.print_syscalls) {
		isolation_print(sys_mode());
		return 0;
	}
	isolation_close_inherited(conf.fd);
	log_setup();
	nl = nl_sock();
	if (nl < 0)
		die("netlink: %s", strerror(-nl));
	if (conf_host(&conf, nl))
		return 1;
	close(nl);

	accept_init();
	sfd = signals_setup();
	c.epollfd = epoll_create1(EPOLL_CLOEXEC);
	if (sfd < 0 || c.epollfd < 0)
		die("start-up: %s", strerror(errno));
	/* Early: a client may connect at once, it is served once we run */
	if (conf.conf_path &&
	    (rc = ctl_init(&c, conf.conf_path, &conf.tcp_in, &conf.udp_in)))
		die("cannot listen on control socket %s: %s", conf.conf_path,
		    rc == -EADDRINUSE ? "in use by a running process" :
		    rc == -EEXIST ? "exists and is not a socket" :
		    strerror(-rc));
	if (conf.mode == MODE_PASTA)
		ns_start(&c, &go_fd, &setup);
	if (frame_queue_init(&q, QUEUE_ARENA, QUEUE_FRAMES) ||
	    flow_table_init(&flows, conf.flows) || icmp_init(conf.flows) ||
	    tcp_init(&c, conf.flows) || udp_init(&c, conf.flows))
		die("out of memory");
	memcpy(q.our_mac, conf.net.our_mac, MAC_LEN);
	if (conf.mode == MODE_PASTA)
		ns_tap_start(&c, &setup, ns_proc);
	else
		vm_start(&c);
	if (epoll_add(c.epollfd, sfd, EPOLL_TYPE_SIGNAL))
		die("start-up: %s", strerror(errno));
	if (netns_quit())
		netns_watch_start(&c);
	if (listen_init(&c, (const struct fwd_ports *const[4]){
				&conf.tcp_in, &conf.tcp_out, &conf.udp_in,
				&conf.udp_out }, ns_proc))
		die("cannot set up port forwarding");
	if (conf.pcapfile && (rc = pcap_open(conf.pcapfile)))
		die("cannot open pcap file %s: %s", conf.pcapfile,
		    strerror(-rc));
	if (conf.mode == MODE_PASTA)
		log_info("tap %s ready in the namespace", conf.ns_ifname);

	c.now_ms = now_ms();
	second_ms = c.now_ms + 1000;	/* listen_init() just looked */
	if (go_fd >= 0)
		ns_spawn_go(go_fd);
	if (!conf.foreground)
		daemonize();
	else if (pidfile_write())
		die("cannot write PID file %s", conf.pidfile);
	confine();
	loop(&c, sfd);
	return 0;
}
