#!/bin/bash
#
# test/vm_guest_vhost.sh - the real QEMU guest test (test/vm_guest.sh) in
# vhost-user mode: the daemon with --vhost-user, QEMU with -netdev
# vhost-user on shared guest memory (memory-backend-memfd,share=on) and
# the device's legacy interrupts (vectors=0: QEMU 7.2 under TCG crashes
# setting up MSI-X for it). Besides the stream mode's checks: 20 MiB each
# way, the guest reboots once (a device reset) and checks again, then a
# second daemon without --one-off sees QEMU killed in the middle of a
# download and serves the next QEMU on the same socket.

VM_FRONTEND=vhost-user exec bash "$(dirname "$0")/vm_guest.sh" "$@"
