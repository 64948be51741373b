/* tap_splice.h - TCP payload into the tap by splice() (patched kernels) */
#ifndef TAP_SPLICE_H
#define TAP_SPLICE_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>
#include <sys/uio.h>

bool tap_splice_init(int tap, bool want);
bool tap_splice_on(void);
ssize_t tap_splice_peek(int sock, size_t len);
int tap_splice_write(int tap, const struct iovec *hdr, int cnt, size_t len);
void tap_splice_abort(void);
void tap_splice_end(void);

#endif /* TAP_SPLICE_H */
