/* test/fuzz/fuzz_stream.c - libFuzzer harness: the VM stream parser
 *
 * Theory of operation
 * A guest's byte stream (32-bit big-endian lengths, each followed by an
 * Ethernet frame) goes through stream.c exactly as from QEMU: over a
 * connected UNIX stream socket, read by stream_handler(). The input is
 * both the data and where it is cut: its first byte n says that the next
 * n % 16 bytes are the sizes of the pieces (1 to 256 bytes, used in
 * turn), the rest is the stream. Each piece is written, then the daemon
 * reads what arrived, so frames and lengths are cut at every place the
 * fuzzer likes. What the daemon sends back is read and thrown away. At
 * the end the guest hangs up and everything it had is closed, as
 * passtd.c does when a guest leaves.
 */
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "fuzz.h"
#include "icmp.h"
#include "stream.h"
#include "tcp.h"
#include "udp.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	fuzz_init();
	if (stream_init(&fuzz_ctx))
		abort();
	return 0;
}

/* Read and discard what the daemon sent toward the guest */
static void guest_drain(int fd)
{
	static uint8_t buf[1 << 16];

	while (recv(fd, buf, sizeof(buf), MSG_DONTWAIT) > 0)
		;
}

/* The guest hangs up: the daemon closes its side and the guest's flows */
static void guest_gone(int fd)
{
	struct ctx *c = &fuzz_ctx;
	int i;

	close(fd);
	for (i = 0; i < 64 && stream_connected(); i++)
		stream_handler(c, EPOLLIN | EPOLLRDHUP);
	if (stream_connected())
		abort();	/* a hang-up must always be noticed */
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ctx *c = &fuzz_ctx;
	const uint8_t *cuts;
	size_t ncuts, k = 0;
	int sv[2];

	if (!size)
		return 0;
	ncuts = data[0] % 16;
	if (ncuts >= size)
		return 0;
	cuts = data + 1;
	data += 1 + ncuts;
	size -= 1 + ncuts;

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv))
		abort();
	if (stream_attach(c, sv[0]))
		abort();
	while (size && stream_connected()) {
		size_t piece = ncuts ? (size_t)cuts[k++ % ncuts] + 1 : size;

		piece = MIN(piece, size);
		if (write(sv[1], data, piece) != (ssize_t)piece)
			abort();
		data += piece;
		size -= piece;
		if (stream_handler(c, EPOLLIN) < 0)
			break;
		fuzz_pump();
		guest_drain(sv[1]);
	}
	guest_gone(sv[1]);
	fuzz_reset();
	return 0;
}
