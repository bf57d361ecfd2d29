// SPDX-License-Identifier: GPL-2.0
/* The socket probe for older kernels (4.x-6.1 with BTF): the same program as sock.bpf.c, but walking
 * kernel pointers with bpf_probe_read instead of BTF pointers + bpf_rdonly_cast (6.2+), and without
 * bpf_loop (5.17+). Slower per syscall; SockCollector falls back to it when sock.bpf.o will not load. */
#define SOCK_COMPAT 1
#include "sock.bpf.c"
