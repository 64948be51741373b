/* test/tools/tun_pre62.c - LD_PRELOAD shim: the daemon's tap behaves as on
 * a kernel before Linux 6.2, which has no UDP segmentation offload on taps
 *
 * Theory of operation
 * Linux 6.2 taught TUNSETOFFLOAD the flags TUN_F_USO4 and TUN_F_USO6 and
 * the tap to take frames whose virtio-net header says
 * VIRTIO_NET_HDR_GSO_UDP_L4 (5). Before, TUNSETOFFLOAD refuses any flag
 * it does not know with EINVAL, and such a frame is refused by write()
 * with EINVAL. This shim, preloaded into the daemon, does the same on top
 * of a newer kernel:
 *   TUN_PRE62=probe	both (a pre-6.2 kernel)
 *   TUN_PRE62=write	only the frames: TUNSETOFFLOAD takes the flags
 *			(a kernel whose probe would say yes wrongly)
 * A frame is a tap frame if it is written with writev() to the tun
 * character device (10:200); its first piece is the virtio-net header.
 * ns_call() children share the descriptors but not memory, so nothing is
 * remembered per descriptor.
 *
 * At exit, "trains=N refused=N" (frames marked UDP_L4 written, refused) is
 * written to the file TUN_PRE62_REPORT names, if set. LD_PRELOAD is removed
 * from the environment at start, so no command the daemon runs inherits it.
 *
 * Build: cc -shared -fPIC -o tun_pre62.so tun_pre62.c (no main: not a
 * tool of its own, test/tap_uso.sh builds it).
 * The daemon is confined once set up: the shim learns which descriptor is
 * the tap from the ioctl() the daemon makes on it before, and opens its
 * report then (fstat() and open() are not in the daemon's filter).
 * System calls: ioctl, writev; fstat and open before the daemon is
 * confined; write at exit.
 */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/if_tun.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/uio.h>
#include <unistd.h>

#define TUN_F_KNOWN_PRE62	0x1f	/* CSUM, TSO4, TSO6, TSO_ECN, UFO */
#define GSO_UDP_L4		5	/* virtio-net header gso_type */
#define VNET_GSO_TYPE_OFF	1	/* flags, then gso_type */

static bool refuse_flags;
static bool refuse_frames;
static const char *report;
static int report_fd = -1;
static int tun_fd = -1;		/* the daemon's tap, once it asked it */
static unsigned long trains, refused;

__attribute__((constructor)) static void tun_pre62_init(void)
{
	const char *mode = getenv("TUN_PRE62");

	refuse_frames = mode && (!strcmp(mode, "probe") ||
				 !strcmp(mode, "write"));
	refuse_flags = mode && !strcmp(mode, "probe");
	report = getenv("TUN_PRE62_REPORT");
	if (report)
		report = strdup(report);
	unsetenv("LD_PRELOAD");
}

__attribute__((destructor)) static void tun_pre62_fini(void)
{
	char buf[64];
	int n;

	if (report_fd < 0)
		return;
	n = snprintf(buf, sizeof(buf), "trains=%lu refused=%lu\n", trains,
		     refused);
	if (write(report_fd, buf, (size_t)n) != n)
		n = 0;
}

/* Is @fd the tun character device? */
static bool is_tun(int fd)
{
	struct stat st;

	return !fstat(fd, &st) && S_ISCHR(st.st_mode) &&
	       major(st.st_rdev) == 10 && minor(st.st_rdev) == 200;
}

int ioctl(int fd, unsigned long req, ...)
{
	static int (*real)(int, unsigned long, ...);
	unsigned long arg;
	va_list ap;

	va_start(ap, req);
	arg = va_arg(ap, unsigned long);
	va_end(ap);
	if (!real)
		real = (int (*)(int, unsigned long, ...))dlsym(RTLD_NEXT,
							      "ioctl");
	/*
	 * The daemon reads the tap's MAC address once it closed what it
	 * inherited and before it is confined, when it can no longer open
	 * files: the report is opened now too.
	 */
	if (tun_fd < 0 && is_tun(fd)) {
		tun_fd = fd;
		if (report)
			report_fd = open(report, O_WRONLY | O_CREAT |
					 O_TRUNC | O_CLOEXEC, 0644);
	}
	if (refuse_flags && req == TUNSETOFFLOAD &&
	    (arg & ~(unsigned long)TUN_F_KNOWN_PRE62)) {
		errno = EINVAL;
		return -1;
	}
	return real(fd, req, arg);
}

ssize_t writev(int fd, const struct iovec *iov, int n)
{
	static ssize_t (*real)(int, const struct iovec *, int);

	if (!real)
		real = (ssize_t (*)(int, const struct iovec *, int))
			dlsym(RTLD_NEXT, "writev");
	if (n > 0 && iov[0].iov_len > VNET_GSO_TYPE_OFF &&
	    ((const uint8_t *)iov[0].iov_base)[VNET_GSO_TYPE_OFF] ==
	    GSO_UDP_L4 && fd == tun_fd) {
		trains++;
		if (refuse_frames) {
			refused++;
			errno = EINVAL;
			return -1;
		}
	}
	return real(fd, iov, n);
}
