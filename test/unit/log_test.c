/* test/unit/log_test.c - the log file: emptied when opened, header with
 * the PID (rewritten in place), timestamps on every line, and the bound:
 * oldest lines dropped after the header, a quarter at a time, the rest
 * kept whole and in order, a line longer than the room cut to fit; and
 * lines a child process logs are not overwritten by the parent's
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "log.h"
#include "unit.h"

#define NAME	"log_test"

static char path[] = "/tmp/log_test.XXXXXX";
static char file[1 << 16];	/* what the file holds, NUL-terminated */

/* Read the log file into @file; return its length, -1 on error */
static long slurp(void)
{
	int fd = open(path, O_RDONLY);
	ssize_t n;

	if (fd < 0)
		return -1;
	n = read(fd, file, sizeof(file) - 1);
	close(fd);
	if (n < 0)
		return -1;
	file[n] = 0;
	return (long)n;
}

/* Size of the log file, -1 on error */
static long file_size(void)
{
	struct stat st;

	return stat(path, &st) ? -1 : (long)st.st_size;
}

/*
 * Check that @line starts with "SECONDS.MICROSECONDS: " and set @t to
 * that time in microseconds, @rest to what follows. Return: 0 or -1
 */
static int stamp_parse(const char *line, long long *t, const char **rest)
{
	char *end;
	long long s = strtoll(line, &end, 10);
	const char *us = end + 1;
	int i;

	if (end == line || *end != '.')
		return -1;
	for (i = 0; i < 6; i++)
		if (us[i] < '0' || us[i] > '9')
			return -1;
	if (us[6] != ':' || us[7] != ' ')
		return -1;
	*t = s * 1000000 + strtoll(us, NULL, 10);
	*rest = us + 8;
	return 0;
}

/*
 * Check every line of @file: timestamped, non-decreasing, the first one
 * the header. Return: number of lines, -1 if a check failed
 */
static int lines_check(void)
{
	long long t, last = -1;
	const char *p = file, *rest;
	char head[64];
	int n = 0;

	/* The version is log.o's, which may be older than this file's */
	snprintf(head, sizeof(head), "%s ", NAME);
	while (*p) {
		const char *nl = strchr(p, '\n');

		if (!nl || stamp_parse(p, &t, &rest) || t < last)
			return -1;
		if (!n && (strncmp(rest, head, strlen(head)) ||
			   !strstr(rest, ", PID ") || strstr(rest, ", PID ") > nl))
			return -1;
		last = t;
		p = nl + 1;
		n++;
	}
	return n;
}

/* The PID the header names, -1 if none */
static long header_pid(void)
{
	const char *pid = strstr(file, ", PID ");

	if (!pid || pid > strchr(file, '\n'))
		return -1;
	return strtol(pid + strlen(", PID "), NULL, 10);
}

/* A file with content is emptied; header, then lines */
static void test_open_truncates(void)
{
	int fd = open(path, O_WRONLY | O_TRUNC), i;

	for (i = 0; i < 500; i++)	/* longer than what is logged here */
		CHECK(fd >= 0 && write(fd, "stale\n", 6) == 6);
	close(fd);
	CHECK(log_file_open(path, NAME, LOG_SIZE_DEFAULT) == 0);
	CHECK(slurp() > 0);
	CHECK(!strstr(file, "stale"));
	CHECK(lines_check() == 1);
	CHECK(header_pid() == (long)getpid());

	log_info("info %d", 1);
	log_warn("warn %d", 2);
	log_debug("debug %d", 3);
	log_err("err %d", 4);
	CHECK(slurp() > 0);
	CHECK(lines_check() == 5);
	CHECK(strstr(file, ": info 1\n") &&
	      strstr(file, ": warning: warn 2\n"));
	CHECK(strstr(file, ": debug 3\n") && strstr(file, ": error: err 4\n"));
	log_file_close();
}

/* The PID is rewritten in place, the header keeps its length */
static void test_pid_rewrite(void)
{
	long head_len, len;

	CHECK(log_file_open(path, NAME, LOG_SIZE_DEFAULT) == 0);
	log_info("after");
	head_len = slurp();
	log_file_pid(4194304);
	len = slurp();
	CHECK(len == head_len && header_pid() == 4194304);
	CHECK(strstr(file, ": after\n") && lines_check() == 2);
	log_file_pid(12345678);		/* wider than any PID: left alone */
	CHECK(slurp() == len && header_pid() == 4194304);
	log_file_close();
}

/*
 * Lines of growing numbers through a small bound: never over it, header
 * first, the lines kept the last ones, consecutive; each rotation drops
 * at least a quarter of what follows the header
 */
static void test_rotate(void)
{
	const long size = 1000;
	long head, prev = 0, s, last = -1, first = -1;
	int i, rotations = 0, bad = 0;
	const char *p;

	CHECK(log_file_open(path, NAME, size) == 0);
	head = file_size();
	for (i = 0; i < 2000; i++) {
		/* Lengths vary, so lines do not fall on the quarter mark */
		log_info("line %d %.*s", i, i % 37, "....................."
			 "................");
		s = file_size();
		if (s > size)
			bad++;
		if (s < prev) {
			rotations++;
			if (s > prev - (size - head) / 4 + 80)
				bad++;
		}
		prev = s;
	}
	CHECK(!bad);
	CHECK(rotations > 20);
	CHECK(slurp() > 0 && lines_check() > 2);
	CHECK(header_pid() == (long)getpid());

	/* Body: "line N" for N consecutive up to 1999 */
	for (p = strchr(file, '\n'); p && *++p; p = strchr(p, '\n')) {
		const char *num = strstr(p, ": line ");
		long n;

		if (!num) {
			bad++;
			break;
		}
		n = strtol(num + 7, NULL, 10);
		if (first < 0)
			first = n;
		else if (n != last + 1)
			bad++;
		last = n;
	}
	CHECK(!bad && first > 0 && last == 1999);
	log_file_close();
}

/* A line longer than the room after the header is cut to fit */
static void test_long_line(void)
{
	static char big[900];
	long head, s;
	const char *body;

	memset(big, 'x', sizeof(big) - 1);
	CHECK(log_file_open(path, NAME, 300) == 0);
	head = file_size();
	log_info("short");
	log_info("%s", big);
	s = slurp();
	CHECK(s == 300);
	CHECK(lines_check() == 2);	/* the short line was dropped */
	body = strstr(file + head, ": ");
	CHECK(file[s - 1] == '\n' && !strstr(file, "short"));
	CHECK(body && strspn(body + 2, "x") ==
		      (size_t)(s - 1 - (body + 2 - file)));

	log_info("after");
	s = slurp();
	CHECK(s > head && s < 300 && lines_check() == 2);
	CHECK(strstr(file + head, ": after\n") && !strchr(file, 'x'));
	log_file_close();
}

/*
 * A child logs into the same file (ns_call() runs functions in one) while
 * the parent waits: the parent's next line goes after the child's
 */
static void test_child_lines(void)
{
	int status = -1;
	pid_t pid;

	CHECK(log_file_open(path, NAME, LOG_SIZE_DEFAULT) == 0);
	log_info("before");
	pid = fork();
	if (!pid) {
		log_info("from the child, a line longer than the next one");
		_exit(0);
	}
	CHECK(pid > 0 && waitpid(pid, &status, 0) == pid && status == 0);
	log_info("parent");
	CHECK(slurp() > 0 && lines_check() == 4);
	CHECK(strstr(file, ": before\n") &&
	      strstr(file, ": from the child, a line longer than the next "
		     "one\n") && strstr(file, ": parent\n"));
	log_file_close();
}

/* The bound must leave room for the header and a line */
static void test_too_small(void)
{
	CHECK(log_file_open(path, NAME, 10) == -EINVAL);
}

int main(void)
{
	int fd = mkstemp(path);

	if (fd < 0) {
		perror("mkstemp");
		return 1;
	}
	close(fd);
	log_set_stderr(false);
	log_level = LOG_LVL_DEBUG;

	UNIT_PLAN(6);
	UNIT_RUN(test_open_truncates);
	UNIT_RUN(test_pid_rewrite);
	UNIT_RUN(test_rotate);
	UNIT_RUN(test_long_line);
	UNIT_RUN(test_child_lines);
	UNIT_RUN(test_too_small);
	unlink(path);
	UNIT_EXIT();
}
