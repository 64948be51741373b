/* isolation.h - confine the daemon once set-up is done */
#ifndef ISOLATION_H
#define ISOLATION_H

#include <stdbool.h>

#include "syscalls.h"

/**
 * struct isolation - What a confined process keeps
 * @mode:		Its filter: SYS_NS, SYS_VM or SYS_HELPER
 * @runas:		--runas, NULL for nobody (used when root of the host)
 * @keep_bind_service:	Keep CAP_NET_BIND_SERVICE (the namespace helper)
 */
struct isolation {
	unsigned int mode;
	const char *runas;
	bool keep_bind_service;
};

void isolation_close_inherited(int keep);
int isolation_enter(const struct isolation *is);
unsigned int isolation_count(unsigned int mode);
void isolation_print(unsigned int mode);

#endif /* ISOLATION_H */
