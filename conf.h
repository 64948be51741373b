/* conf.h - command line options and the configuration derived from them
 * and from the host (template interface, resolv.conf)
 */
#ifndef CONF_H
#define CONF_H

#include <net/if.h>
#include <stdbool.h>
#include <sys/types.h>

#include "fwd.h"
#include "vu_net.h"

enum conf_mode {
	MODE_PASTA,	/* namespace mode */
	MODE_PASST,	/* VM mode */
};

#define CONF_FLOWS_DEFAULT	65536
#define CONF_SOCKET_PATH_MAX	108	/* sun_path of struct sockaddr_un */

/**
 * struct conf - Everything the command line and the host decide
 * @mode:	Namespace (pasta) or VM (passt) mode
 * @net:	Guest-facing network configuration
 * @tmpl:	Template interface names per family ("" = default route's)
 * @tmpl_idx:	Their interface indices, 0 if none
 * @ns_ifname:	Tap name in the namespace
 * @ns_mac:	--ns-mac-addr, if @ns_mac_set
 * @config_net:	--config-net
 * @foreground:	-f, or implied by spawning a command
 * @no_netns_quit: --no-netns-quit
 * @netns_only:	--netns-only
 * @quiet:	-q
 * @target_pid:	PID given as target, 0 if none
 * @netns:	--netns PATH|NAME, NULL if none
 * @userns:	--userns PATH, NULL if none
 * @cmd:	Command to spawn, NULL-terminated, NULL for the shell
 * @pidfile:	-P, NULL if none
 * @pcapfile:	-p, NULL if none
 * @logfile:	-l, NULL if none
 * @log_size:	--log-size: largest size of the log file, bytes
 * @socket_path: -s: UNIX socket to listen on in VM mode, NULL for the
 *		first free /tmp/passt_N.socket
 * @conf_path:	-c: UNIX socket for run-time forwarding control
 *		(passtd-ctl), NULL for none
 * @fd:		-F: connected stream socket inherited in VM mode, -1 if none
 * @one_off:	-1, or implied by -F: exit when the VM's client leaves
 * @vhost_user:	--vhost-user: the guest's virtio-net back end
 * @vu:		vhost-user device settings
 * @flows:	Flow table size
 * @tcp_in:	-t: TCP ports forwarded from the host to the namespace
 * @udp_in:	-u: UDP ports forwarded from the host to the namespace
 * @tcp_out:	-T: TCP ports forwarded from the namespace to the host's
 *		loopback
 * @udp_out:	-U: UDP ports forwarded from the namespace to the host's
 *		loopback
 * @set:	Which settings the command line gave (so the host's are not
 *		used for them)
 */
struct conf {
	enum conf_mode mode;
	struct net_conf net;
	char tmpl[2][IFNAMSIZ];
	unsigned int tmpl_idx[2];
	char ns_ifname[IFNAMSIZ];
	uint8_t ns_mac[MAC_LEN];
	bool ns_mac_set;
	bool config_net;
	bool foreground;
	bool no_netns_quit;
	bool netns_only;
	bool quiet;
	pid_t target_pid;
	const char *netns;
	const char *userns;
	char **cmd;
	const char *pidfile;
	const char *pcapfile;
	const char *logfile;
	const char *runas;
	bool print_syscalls;
	const char *selftest;
	uint64_t log_size;
	const char *socket_path;
	const char *conf_path;
	int fd;
	bool one_off;
	bool vhost_user;
	struct vu_net_conf vu;
	unsigned int flows;
	struct fwd_ports tcp_in, udp_in, tcp_out, udp_out;
	struct {
		bool addr4, prefix4, gw4, addr6, gw6;
		bool dns, search, no_map_gw, map_lo4, map_lo6;
		bool only4, only6, dhcp_dns, dhcp_search, mtu;
	} set;
};

/* conf_parse() results other than 0 */
#define CONF_EXIT_OK	1	/* --help or --version printed: exit 0 */
#define CONF_ERROR	(-1)	/* error line printed: exit 1 */

int conf_parse(struct conf *c, int argc, char *argv[]);
int conf_host(struct conf *c, int nl);
void conf_log(const struct conf *c);

#endif /* CONF_H */
