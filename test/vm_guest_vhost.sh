#!/bin/bash
#
# test/vm_guest_vhost.sh - the real QEMU guest test (test/vm_guest.sh) in
# vhost-user mode: the daemon with --vhost-user, QEMU with -netdev
# vhost-user on shared guest memory (memory-backend-memfd,share=on) and
# the device's legacy interrupts (vectors=0: QEMU 7.2 under TCG crashes
# setting up MSI-X for it). Besides the stream mode's checks: 20 MiB each
# way, the guest reboots once (a device reset) and checks again, then a
# second daemon without --one-off sees QEMU killed in the middle of a
# download and serves the next QEMU on the same socket. The guest has 2
# CPUs and the device 2 queue pairs (MQ): every queue must carry frames.

VM_SMP=${VM_SMP:-2} VM_QUEUES=${VM_QUEUES:-2} VM_FRONTEND=vhost-user exec bash "$(dirname "$0")/vm_guest.sh" "$@"
