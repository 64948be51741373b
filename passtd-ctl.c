/* passtd-ctl.c - add, delete and list passtd's -t/-u forwards at run time,
 * through the daemon's -c/--conf-path socket; also started as pesto
 *
 * Theory of operation
 * Each action of the command line (-A, -D, -s, in the order given) is one
 * request on a connection of its own (the protocol is described in
 * ctl.c): the request line is sent, the sending side shut down, and the
 * reply read to the end. The first line of the reply is "ok" or "error:
 * MESSAGE"; what follows (the table, for show) goes to standard output.
 * The first error ends the run with status 1. The daemon serves one
 * client at a time, so a connection may wait a little before it is
 * served; the socket's timeouts bound that wait.
 */
#include <errno.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include "ctl.h"

#define CTL_CLIENT_TIMEOUT_S	10	/* waiting to be served, and for it */
#define CTL_ACTIONS_MAX		64

static bool debug;

static const char usage[] =
"Usage: %s [-d] [-s|--show] [-A|--add SPEC] [-D|--delete SPEC]... PATH\n"
"Change the port forwarding of a running passtd (or pasta started with\n"
"-c/--conf-path PATH) through its control socket PATH.\n"
"\n"
"  -A, --add SPEC      add a forward: SPEC is \"-t PORTS\" or \"-u PORTS\",\n"
"                      PORTS as for passtd -t/-u (e.g. -t 8080,\n"
"                      -t 127.0.0.1/9000:90, -u 5353)\n"
"  -D, --delete SPEC   delete a forward added at run time\n"
"  -s, --show          print the forwarding table (also without actions)\n"
"  -d, --debug         print each request and reply on standard error\n"
"  -h, --help          this text\n"
"      --version       version\n";

/*
 * Make "-t 8080", "-t8080", "--tcp-ports 8080" or "--tcp-ports=8080" the
 * request "VERB -t 8080"; Return: 0, or -1 if @spec is none of those
 */
static int request_spec(char *req, size_t size, const char *verb,
			const char *spec)
{
	static const char *const longs[2] = { "--tcp-ports", "--udp-ports" };
	const char *ports = NULL;
	char opt = 0;
	int i;

	while (*spec == ' ')
		spec++;
	if (spec[0] == '-' && (spec[1] == 't' || spec[1] == 'u')) {
		opt = spec[1];
		ports = spec + 2;
	}
	for (i = 0; i < 2 && !opt; i++) {
		size_t n = strlen(longs[i]);

		if (!strncmp(spec, longs[i], n) &&
		    (spec[n] == ' ' || spec[n] == '=')) {
			opt = i ? 'u' : 't';
			ports = spec + n + 1;
		}
	}
	if (!opt)
		return -1;
	while (*ports == ' ')
		ports++;
	if (!*ports || strchr(ports, ' ') || strchr(ports, '\n'))
		return -1;
	if (snprintf(req, size, "%s -%c %s\n", verb, opt, ports) >= (int)size)
		return -1;
	return 0;
}

/* Connect to the daemon's socket at @path; Return: socket, or -1 */
static int ctl_connect(const char *path)
{
	struct timeval tv = { .tv_sec = CTL_CLIENT_TIMEOUT_S };
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	int fd;

	if (strlen(path) >= sizeof(a.sun_path)) {
		fprintf(stderr, "passtd-ctl: %s: path too long\n", path);
		return -1;
	}
	strcpy(a.sun_path, path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		perror("passtd-ctl: socket");
		return -1;
	}
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	if (connect(fd, (struct sockaddr *)&a, sizeof(a))) {
		fprintf(stderr, "passtd-ctl: %s: %s\n", path, strerror(errno));
		close(fd);
		return -1;
	}
	return fd;
}

/* Read the reply to its end into @buf; Return: its length, or -1 */
static ssize_t reply_read(int fd, char *buf, size_t size)
{
	size_t len = 0;
	ssize_t n;

	while (len < size - 1) {
		n = read(fd, buf + len, size - 1 - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			fprintf(stderr, "passtd-ctl: no reply: %s\n",
				errno == EAGAIN ? "timed out" :
				strerror(errno));
			return -1;
		}
		if (!n)
			break;
		len += (size_t)n;
	}
	buf[len] = '\0';
	return (ssize_t)len;
}

/* Send one request, print the reply; Return: 0 if it was "ok" */
static int request(const char *path, const char *req)
{
	static char reply[CTL_REPLY_MAX + 1];
	size_t len = strlen(req);
	const char *body;
	ssize_t n;
	int fd;

	fd = ctl_connect(path);
	if (fd < 0)
		return -1;
	if (debug)
		fprintf(stderr, "> %s", req);
	if (write(fd, req, len) != (ssize_t)len) {
		fprintf(stderr, "passtd-ctl: cannot send: %s\n",
			strerror(errno));
		close(fd);
		return -1;
	}
	shutdown(fd, SHUT_WR);
	n = reply_read(fd, reply, sizeof(reply));
	close(fd);
	if (n < 0)
		return -1;
	if (debug)
		fprintf(stderr, "< %s", reply);
	body = strchr(reply, '\n');
	if (!body) {
		fprintf(stderr, "passtd-ctl: incomplete reply\n");
		return -1;
	}
	if (strncmp(reply, "ok\n", 3)) {
		const char *msg = strncmp(reply, "error: ", 7) ? reply :
				  reply + 7;

		fprintf(stderr, "passtd-ctl: %.*s\n", (int)(body - msg), msg);
		return -1;
	}
	fputs(body + 1, stdout);
	return 0;
}

int main(int argc, char *argv[])
{
	static const struct option opts[] = {
		{ "debug",	no_argument,		NULL, 'd' },
		{ "show",	no_argument,		NULL, 's' },
		{ "add",	required_argument,	NULL, 'A' },
		{ "delete",	required_argument,	NULL, 'D' },
		{ "help",	no_argument,		NULL, 'h' },
		{ "version",	no_argument,		NULL, 'V' },
		{ 0 },
	};
	static char reqs[CTL_ACTIONS_MAX][CTL_REQ_MAX];
	const char *verb;
	int opt, n = 0, i;

	while ((opt = getopt_long(argc, argv, "dsA:D:h", opts, NULL)) != -1) {
		if (opt == 'h') {
			printf(usage, argv[0]);
			return 0;
		}
		if (opt == 'V') {
			printf("passtd-ctl %s\n", PASSTD_VERSION);
			return 0;
		}
		if (opt == 'd') {
			debug = true;
			continue;
		}
		if (opt != 's' && opt != 'A' && opt != 'D') {
			fprintf(stderr, usage, argv[0]);
			return 2;
		}
		if (n == CTL_ACTIONS_MAX) {
			fprintf(stderr, "passtd-ctl: too many actions\n");
			return 2;
		}
		verb = opt == 'A' ? "add" : "delete";
		if (opt == 's') {
			snprintf(reqs[n++], CTL_REQ_MAX, "show\n");
		} else if (request_spec(reqs[n++], CTL_REQ_MAX, verb, optarg)) {
			fprintf(stderr, "passtd-ctl: invalid SPEC '%s': "
				"expected -t PORTS or -u PORTS\n", optarg);
			return 2;
		}
	}
	if (optind != argc - 1) {
		fprintf(stderr, usage, argv[0]);
		return 2;
	}
	if (!n)
		snprintf(reqs[n++], CTL_REQ_MAX, "show\n");
	for (i = 0; i < n; i++)
		if (request(argv[optind], reqs[i]))
			return 1;
	return 0;
}
