/* pcap.c - capture of every frame to and from the guest in a classic
 * libpcap file (Ethernet link type), for Wireshark and tshark
 *
 * The file is a 24-byte global header, then per frame a 16-byte record
 * header (time, captured and original length) and the frame's bytes. All
 * fields are in host byte order: readers tell the order from the magic
 * number. One capture per process, in module state; the frame functions
 * sit on the data path and cost one branch while no capture is open.
 *
 * Writes block: capture is a debugging aid, and a record must never be
 * cut in half. Each record leaves with one writev() of its header and the
 * frame's pieces, so frames built as iovec lists are never copied. On a
 * write error the capture stops: at most the last record is incomplete.
 */
#include <errno.h>
#include <fcntl.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "pcap.h"
#include "util.h"
#include "syscalls.h"

/* What this module calls after start-up, for the filter (syscalls.h) */
SYSCALL_ALLOW(SYS_NS | SYS_VM, writev);

#define PCAP_MAGIC	0xa1b2c3d4	/* microsecond timestamps */
#define PCAP_V_MAJOR	2
#define PCAP_V_MINOR	4
#define PCAP_LINKTYPE	1		/* LINKTYPE_ETHERNET */
#define PCAP_IOV_MAX	64		/* record header and frame pieces */

/**
 * struct pcap_file_hdr - Global header, at the start of the file
 * @magic:	PCAP_MAGIC, in host order
 * @v_major:	Format version, major
 * @v_minor:	Format version, minor
 * @thiszone:	Time zone offset, always 0 (UTC)
 * @sigfigs:	Timestamp accuracy, always 0
 * @snaplen:	Largest captured length of a record
 * @linktype:	Link-layer header type
 */
struct pcap_file_hdr {
	uint32_t magic;
	uint16_t v_major;
	uint16_t v_minor;
	int32_t thiszone;
	uint32_t sigfigs;
	uint32_t snaplen;
	uint32_t linktype;
};

/**
 * struct pcap_rec_hdr - Record header, before each frame
 * @ts_sec:	Capture time, seconds since the epoch
 * @ts_usec:	Microseconds within that second
 * @incl_len:	Bytes of the frame in the file
 * @orig_len:	Length of the frame
 */
struct pcap_rec_hdr {
	uint32_t ts_sec;
	uint32_t ts_usec;
	uint32_t incl_len;
	uint32_t orig_len;
};

_Static_assert(sizeof(struct pcap_file_hdr) == 24, "pcap global header");
_Static_assert(sizeof(struct pcap_rec_hdr) == 16, "pcap record header");

static int pcap_fd = -1;

/**
 * pcap_open() - Start a capture: create or truncate the file, write the
 *		 global header
 * @path:	File to write
 *
 * System calls: open, write, close
 *
 * Return: 0 on success, -EBUSY if a capture is open, or negative errno
 */
int pcap_open(const char *path)
{
	const struct pcap_file_hdr h = {
		.magic		= PCAP_MAGIC,
		.v_major	= PCAP_V_MAJOR,
		.v_minor	= PCAP_V_MINOR,
		.snaplen	= PCAP_SNAPLEN,
		.linktype	= PCAP_LINKTYPE,
	};
	int fd, rc;

	if (pcap_fd >= 0)
		return -EBUSY;

	/* Frames carry the guest's traffic: readable by us only */
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;

	rc = write_all(fd, &h, sizeof(h));
	if (rc) {
		close(fd);
		return rc;
	}

	pcap_fd = fd;
	log_info("capturing frames to %s", path);
	return 0;
}

/**
 * pcap_close() - Stop the capture, if any
 *
 * System calls: close
 */
void pcap_close(void)
{
	if (pcap_fd < 0)
		return;
	close(pcap_fd);
	pcap_fd = -1;
}

/**
 * pcap_writev() - Write a whole iovec list, resuming after short writes
 * @iov:	List, consumed (modified) on short writes
 * @cnt:	Entries in @iov
 *
 * A regular file takes all of it at once unless the disk fills up or a
 * signal interrupts a large write.
 *
 * System calls: writev
 *
 * Return: 0 on success, negative errno on failure
 */
static int pcap_writev(struct iovec *iov, int cnt)
{
	while (cnt) {
		ssize_t n = writev(pcap_fd, iov, cnt);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (!n)
			return -EIO;
		for (; cnt && (size_t)n >= iov->iov_len; iov++, cnt--)
			n -= (ssize_t)iov->iov_len;
		if (cnt) {
			iov->iov_base = (uint8_t *)iov->iov_base + n;
			iov->iov_len -= (size_t)n;
		}
	}
	return 0;
}

/**
 * pcap_frame_iov() - Capture one frame given as pieces
 * @iov:	Pieces of the frame, in order
 * @iovcnt:	Number of pieces
 * @len:	Frame length: the first @len bytes of the pieces
 *
 * The record keeps at most PCAP_SNAPLEN bytes, and what fits in
 * PCAP_IOV_MAX - 1 pieces; it still gives @len as the frame's length.
 *
 * System calls: clock_gettime (usually vDSO), writev
 */
void pcap_frame_iov(const struct iovec *iov, int iovcnt, size_t len)
{
	struct iovec v[PCAP_IOV_MAX];
	struct pcap_rec_hdr h;
	size_t want, got = 0;
	struct timespec ts;
	int n = 1, i, rc;

	if (pcap_fd < 0)
		return;

	want = MIN(len, (size_t)PCAP_SNAPLEN);
	for (i = 0; i < iovcnt && got < want && n < PCAP_IOV_MAX; i++) {
		size_t take = MIN(iov[i].iov_len, want - got);

		if (!take)
			continue;
		v[n].iov_base = iov[i].iov_base;
		v[n++].iov_len = take;
		got += take;
	}

	clock_gettime(CLOCK_REALTIME, &ts);
	h.ts_sec = (uint32_t)ts.tv_sec;
	h.ts_usec = (uint32_t)(ts.tv_nsec / 1000);
	h.incl_len = (uint32_t)got;
	h.orig_len = (uint32_t)MIN(len, (size_t)UINT32_MAX);
	v[0].iov_base = &h;
	v[0].iov_len = sizeof(h);

	rc = pcap_writev(v, n);
	if (rc) {
		log_err("pcap: write failed (%s), capture stopped",
			strerror(-rc));
		pcap_close();
	}
}

/**
 * pcap_frame() - Capture one frame from a single buffer
 * @buf:	Frame, from its Ethernet header
 * @len:	Length of @buf
 */
void pcap_frame(const uint8_t *buf, size_t len)
{
	struct iovec iov = { .iov_base = (void *)buf, .iov_len = len };

	if (pcap_fd < 0)
		return;
	pcap_frame_iov(&iov, 1, len);
}
