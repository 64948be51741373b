/* test/tools/conn_rate.c - TCP connect/request/response rate
 *
 * Theory of operation
 * One process, one connection at a time, as a short-lived client (an HTTP
 * request without keep-alive) makes them:
 *
 *   conn_rate server ADDR PORT [SECONDS]
 *	listens on ADDR:PORT; for each connection reads a request of up to
 *	REQ_LEN bytes, writes RESP_LEN bytes back and closes (the server
 *	closes first, so TIME_WAIT stays on its side and the client's ports
 *	come back). Ends after SECONDS (default 60) without a connection.
 *   conn_rate client ADDR PORT SECONDS
 *	for SECONDS: connect, write the request, read the whole response up
 *	to the end of the stream, close; then prints
 *	"conns=N seconds=S rate=R fails=F" (R connections per second).
 *
 * Every wait is bounded (SO_RCVTIMEO, SO_SNDTIMEO and the accept timeout
 * are 3 s); a failed connection counts in fails and the client goes on.
 * Exit status: 0, 1 on a usage or set-up error, 2 if no connection
 * completed.
 */

#include <errno.h>
#include <netdb.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#define REQ_LEN		64
#define RESP_LEN	256
#define IO_TIMEOUT_S	3

/**
 * now_s() - Monotonic time in seconds
 *
 * Return: the time
 */
static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/**
 * set_timeouts() - Bound every blocking call on a socket
 * @fd:		Socket
 */
static void set_timeouts(int fd)
{
	struct timeval tv = { .tv_sec = IO_TIMEOUT_S };

	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
}

/**
 * lookup() - Resolve a numeric address and port
 * @host:	Address
 * @port:	Port
 * @flags:	getaddrinfo() flags
 *
 * Return: the first result (freeaddrinfo() it), or NULL
 */
static struct addrinfo *lookup(const char *host, const char *port, int flags)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM,
				  .ai_flags = AI_NUMERICHOST | flags };
	struct addrinfo *ai;

	if (getaddrinfo(host, port, &hints, &ai))
		return NULL;
	return ai;
}

/**
 * serve() - Answer connections until none came for @idle seconds
 * @ai:		Address to listen on
 * @idle:	Seconds without a connection before ending
 *
 * Return: 0, or 1 if the socket cannot be set up
 */
static int serve(const struct addrinfo *ai, int idle)
{
	char req[REQ_LEN], resp[RESP_LEN];
	struct timeval tv = { .tv_sec = idle };
	int one = 1, s, c;

	memset(resp, 'r', sizeof(resp));
	s = socket(ai->ai_family, SOCK_STREAM, 0);
	if (s < 0)
		return 1;
	setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	if (bind(s, ai->ai_addr, ai->ai_addrlen) || listen(s, 128)) {
		perror("conn_rate: bind/listen");
		return 1;
	}
	printf("listening\n");
	fflush(stdout);

	for (;;) {
		c = accept(s, NULL, NULL);
		if (c < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			break;		/* timeout: nobody is coming */
		}
		set_timeouts(c);
		/* A short write: the client counts it as failed */
		if (read(c, req, sizeof(req)) > 0)
			(void)!write(c, resp, sizeof(resp));
		close(c);
	}
	close(s);
	return 0;
}

/**
 * one_conn() - One connection: connect, request, whole response, close
 * @ai:		Address of the server
 *
 * Return: 0 on success, -1 on any failure
 */
static int one_conn(const struct addrinfo *ai)
{
	char req[REQ_LEN], buf[RESP_LEN];
	int one = 1, fd, got = 0;
	ssize_t n;

	memset(req, 'q', sizeof(req));
	fd = socket(ai->ai_family, SOCK_STREAM, 0);
	if (fd < 0)
		return -1;
	set_timeouts(fd);
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (connect(fd, ai->ai_addr, ai->ai_addrlen) ||
	    write(fd, req, sizeof(req)) != sizeof(req)) {
		close(fd);
		return -1;
	}
	while ((n = read(fd, buf, sizeof(buf))) > 0)
		got += n;
	close(fd);
	return n == 0 && got == RESP_LEN ? 0 : -1;
}

/**
 * client() - Make connections for @secs seconds, print the rate
 * @ai:		Address of the server
 * @secs:	Duration
 *
 * Return: 0, or 2 if none completed
 */
static int client(const struct addrinfo *ai, double secs)
{
	double t0 = now_s(), t = t0;
	long conns = 0, fails = 0;

	while (t - t0 < secs) {
		if (one_conn(ai))
			fails++;
		else
			conns++;
		t = now_s();
	}
	printf("conns=%ld seconds=%.3f rate=%.1f fails=%ld\n", conns, t - t0,
	       conns / (t - t0), fails);
	return conns ? 0 : 2;
}

int main(int argc, char **argv)
{
	struct addrinfo *ai;
	double secs;
	int rc;

	if (argc < 4 || (strcmp(argv[1], "server") && argc < 5)) {
		fprintf(stderr, "Usage: conn_rate server ADDR PORT [SECONDS]\n"
			"       conn_rate client ADDR PORT SECONDS\n");
		return 1;
	}
	secs = argc > 4 ? atof(argv[4]) : 60;
	if (secs <= 0 || secs > 3600) {
		fprintf(stderr, "conn_rate: bad duration %s\n", argv[4]);
		return 1;
	}
	ai = lookup(argv[2], argv[3], strcmp(argv[1], "server") ?
		    0 : AI_PASSIVE);
	if (!ai) {
		fprintf(stderr, "conn_rate: bad address %s %s\n", argv[2],
			argv[3]);
		return 1;
	}
	if (!strcmp(argv[1], "server"))
		rc = serve(ai, (int)secs);
	else
		rc = client(ai, secs);
	freeaddrinfo(ai);
	return rc;
}
