/* test/fuzz/fuzz_conf.c - libFuzzer harness: the command line parser
 *
 * Theory of operation
 * The input, split on NUL bytes, is the argument vector (argv[0] included,
 * so "passt" and "pasta" pick their mode as the symlinks do). conf_parse()
 * never exits: it prints one error line and returns CONF_ERROR, or
 * CONF_EXIT_OK after --help or --version, so each input is one call. A
 * line that parses is completed from the "host" by conf_host(), as at
 * start-up, in a namespace of the harness's own that holds only a
 * loopback link with documentation addresses.
 *
 * What conf_parse() prints goes to /dev/null: stdio's stderr is pointed
 * there, which leaves descriptor 2 (sanitizer and libFuzzer reports, that
 * libFuzzer writes through its own copy of the stream) alone.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "conf.h"
#include "fuzz.h"
#include "log.h"
#include "netlink.h"

#define ARGS_MAX	256

static struct conf conf;
static int nl = -1;

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	FILE *null = fopen("/dev/null", "w");

	(void)argc;
	(void)argv;
	if (!null)
		abort();
	fuzz_netns();
	nl = nl_sock();
	if (nl < 0)
		abort();
	stderr = null;
	stdout = null;
	log_set_stderr(false);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char *args[ARGS_MAX + 1];
	char *buf = malloc(size + 1);
	size_t i, start = 0;
	int argc = 0;

	if (!buf)
		return 0;
	memcpy(buf, data, size);
	buf[size] = 0;
	for (i = 0; i <= size && argc < ARGS_MAX; i++) {
		if (buf[i])
			continue;
		args[argc++] = buf + start;
		start = i + 1;
	}
	args[argc] = NULL;
	memset(&conf, 0, sizeof(conf));
	if (!conf_parse(&conf, argc, args))
		conf_host(&conf, nl);
	log_level = LOG_LVL_ERR;	/* -d on the line must not stay on */
	free(buf);
	return 0;
}
