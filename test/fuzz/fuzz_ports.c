/* test/fuzz/fuzz_ports.c - libFuzzer harness: port specifications
 *
 * Theory of operation
 * The input's first byte picks "auto" allowed or not (bit 0); the rest,
 * split on NUL bytes, is a series of specifications given to one
 * direction, as repeated -t options are (fwd_ports_parse() adds each to
 * what the earlier ones gave). Whatever was accepted is then queried the
 * way listen.c and the protocols query it: every listening pair, and
 * whether each of a few ports is forwarded and where to.
 */
#include <stdlib.h>
#include <string.h>

#include "fwd.h"

#define SPECS_MAX	16
#define PAIRS_MAX	4096	/* listening pairs walked, at most */

static struct fwd_ports fp;
static uint8_t bound[FWD_MAP_SIZE];

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Walk what the forwarding says, checking what must hold */
static void ports_query(void)
{
	static const uint16_t some[] = { 0, 1, 22, 80, 1023, 8080, 32768,
					 60999, 61000, 65535 };
	struct fwd_iter it = FWD_ITER_INIT;
	unsigned int i, n = 0;

	while (n++ < PAIRS_MAX && fwd_listen_next(&fp, bound, &it))
		if (!it.bind || it.port > 65535)
			abort();
	for (i = 0; i < sizeof(some) / sizeof(some[0]); i++) {
		unsigned int next = 0;

		if (fwd_port_forwarded(&fp, some[i]) &&
		    fwd_port_excluded(&fp, some[i]))
			abort();	/* an exclusion always wins */
		(void)fwd_port_dest(&fp, some[i]);
		(void)fwd_port_auto_candidate(&fp, some[i]);
		while (fwd_bind_next(&fp, some[i], &next) && next <= FWD_BIND_MAX)
			;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char err[256], *buf;
	size_t i, start = 1;
	unsigned int n = 0;
	bool allow_auto;

	if (!size)
		return 0;
	allow_auto = data[0] & 1;
	buf = malloc(size + 1);
	if (!buf)
		return 0;
	memcpy(buf, data, size);
	buf[size] = 0;
	fwd_ports_init(&fp);
	memset(bound, 0x55, sizeof(bound));
	for (i = 1; i <= size && n < SPECS_MAX; i++) {
		if (buf[i])
			continue;
		n++;
		if (fwd_ports_parse(&fp, buf + start, allow_auto, err,
				    sizeof(err)))
			break;
		start = i + 1;
	}
	ports_query();
	free(buf);
	return 0;
}
