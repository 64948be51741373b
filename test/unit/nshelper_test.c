/* test/unit/nshelper_test.c - the namespace helper serves what it is for
 * and refuses the rest
 *
 * The helper is started for a user and network namespace of the test's
 * own, as the daemon starts it for its target. nshelper.c is included so
 * that malformed requests can be written to the helper's socket as they
 * come: the daemon's own functions never make them.
 */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "unit.h"
#include "unit_net.h"

#include "../../nshelper.c"

/* Ask the helper with a request of @len bytes as given; Return: its rc */
static int raw_ask(const void *req, size_t len, int fd)
{
	int32_t rc;
	int fds[1], n;

	if (nshelper_send(nshelper_fd, req, len, &fd, fd >= 0))
		return -EIO;
	if (nshelper_recv(nshelper_fd, &rc, sizeof(rc), fds, 1, &n) !=
	    sizeof(rc))
		return -EIO;
	while (n--)
		close(fds[n]);
	return rc;
}

static struct sockaddr_in lo4(uint16_t port)
{
	struct sockaddr_in sa = { .sin_family = AF_INET,
				  .sin_port = htons(port),
				  .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };

	return sa;
}

/* The kinds the daemon asks for come back, up to a batch */
static void test_sockets(void)
{
	int fds[NSHELPER_BATCH], n, i, type;
	socklen_t sl = sizeof(type);

	n = nshelper_sockets(AF_INET, SOCK_STREAM | SOCK_NONBLOCK,
			     IPPROTO_TCP, fds, 3);
	CHECK(n == 3);
	for (i = 0; i < n; i++) {
		CHECK(!getsockopt(fds[i], SOL_SOCKET, SO_TYPE, &type, &sl));
		CHECK(type == SOCK_STREAM);
		CHECK(fcntl(fds[i], F_GETFL) & O_NONBLOCK);
		CHECK(fcntl(fds[i], F_GETFD) & FD_CLOEXEC);
		close(fds[i]);
	}
	n = nshelper_sockets(AF_INET6, SOCK_DGRAM, 0, fds, 1000);
	CHECK(n == NSHELPER_BATCH);
	for (i = 0; i < n && n > 0; i++)
		close(fds[i]);
}

/* Other families, types and protocols are refused */
static void test_refused_kinds(void)
{
	int fds[4];

	CHECK(nshelper_sockets(AF_INET, SOCK_RAW, IPPROTO_ICMP, fds, 1) ==
	      -EPERM);
	CHECK(nshelper_sockets(AF_UNIX, SOCK_STREAM, 0, fds, 1) == -EPERM);
	CHECK(nshelper_sockets(AF_PACKET, SOCK_DGRAM, 0, fds, 1) == -EPERM);
	CHECK(nshelper_sockets(AF_NETLINK, SOCK_DGRAM, 0, fds, 1) == -EPERM);
	CHECK(nshelper_sockets(AF_INET, SOCK_STREAM, IPPROTO_UDP, fds, 1) ==
	      -EPERM);
	CHECK(nshelper_sockets(AF_INET, SOCK_DGRAM, IPPROTO_ICMP, fds, 1) ==
	      -EPERM);
	CHECK(nshelper_sockets(AF_INET, SOCK_SEQPACKET, 0, fds, 1) == -EPERM);
	CHECK(nshelper_sockets(AF_INET, SOCK_STREAM, 0, fds, 0) == -EPERM);
}

/* A port below 1024 is bound by the helper, which has the privilege */
static void test_bind(void)
{
	struct sockaddr_in sa = lo4(80), got;
	socklen_t sl = sizeof(got);
	int fd;

	CHECK(nshelper_sockets(AF_INET, SOCK_STREAM, 0, &fd, 1) == 1);
	CHECK(!nshelper_bind(fd, (struct sockaddr *)&sa, sizeof(sa), NULL));
	CHECK(!getsockname(fd, (struct sockaddr *)&got, &sl));
	CHECK(got.sin_port == htons(80));
	CHECK(!listen(fd, 1));
	close(fd);
}

/* What is not an IPv4 or IPv6 socket of the family given is not bound */
static void test_bind_refused(void)
{
	struct sockaddr_in sa = lo4(10080);
	struct sockaddr_un su = { .sun_family = AF_UNIX };
	int p[2], fd, u;

	CHECK(!pipe(p));
	CHECK(nshelper_bind(p[0], (struct sockaddr *)&sa, sizeof(sa), NULL) ==
	      -EPERM);
	u = socket(AF_UNIX, SOCK_DGRAM, 0);
	CHECK(nshelper_bind(u, (struct sockaddr *)&su, sizeof(su), NULL) ==
	      -EPERM);
	CHECK(nshelper_sockets(AF_INET6, SOCK_STREAM, 0, &fd, 1) == 1);
	/* an IPv4 address for an IPv6 socket, a short length */
	CHECK(nshelper_bind(fd, (struct sockaddr *)&sa, sizeof(sa), NULL) ==
	      -EPERM);
	sa.sin_family = AF_INET6;
	CHECK(nshelper_bind(fd, (struct sockaddr *)&sa, sizeof(sa), NULL) ==
	      -EPERM);
	close(fd);
	close(u);
	close(p[0]);
	close(p[1]);
}

/* Malformed requests: an error reply each, and the helper goes on */
static void test_malformed(void)
{
	struct nshelper_req r = { .op = 99, .af = AF_INET,
				  .type = SOCK_STREAM };
	int fd;

	CHECK(raw_ask(&r, sizeof(r), -1) == -EINVAL);
	CHECK(raw_ask(&r, sizeof(r) - 1, -1) == -EINVAL);
	CHECK(raw_ask(&r, 1, -1) == -EINVAL);
	r.op = NSHELPER_BIND;		/* a bind without its socket */
	r.sl = sizeof(struct sockaddr_in);
	CHECK(raw_ask(&r, sizeof(r), -1) == -EPERM);
	r.op = NSHELPER_SOCKETS;	/* with a descriptor it did not want */
	r.n = 1;
	CHECK(raw_ask(&r, sizeof(r), STDIN_FILENO) == 1);
	CHECK(nshelper_sockets(AF_INET, SOCK_STREAM, 0, &fd, 1) == 1);
	close(fd);
}

/* One descriptor is held, once; a request to hold nothing is refused */
static void test_keep(void)
{
	struct nshelper_req r = { .op = NSHELPER_KEEP };
	int p[2];

	CHECK(!pipe(p));
	CHECK(raw_ask(&r, sizeof(r), -1) == -EINVAL);
	CHECK(nshelper_keep(p[0]) == 0);
	CHECK(nshelper_keep(p[1]) == -EINVAL);
	close(p[0]);
	/* the helper's copy keeps the pipe's read end open: no EPIPE */
	CHECK(write(p[1], "x", 1) == 1);
	close(p[1]);
}

int main(void)
{
	struct ns_target t = { .userns = -1 };

	if (unit_ns_enter()) {
		printf("KTAP version 1\n1..0 # SKIP no user and network "
		       "namespace (%s)\n", strerror(errno));
		return 4;
	}
	t.netns = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
	if (t.netns < 0 || nshelper_start(&t)) {
		printf("KTAP version 1\n1..1\nnot ok 1 helper started\n");
		return 1;
	}
	UNIT_PLAN(6);
	UNIT_RUN(test_sockets);
	UNIT_RUN(test_refused_kinds);
	UNIT_RUN(test_bind);
	UNIT_RUN(test_bind_refused);
	UNIT_RUN(test_malformed);
	UNIT_RUN(test_keep);
	UNIT_EXIT();
}
