// SPDX-License-Identifier: GPL-2.0
/* The socket probe on raw tracepoints (the default where it loads): the same records as sock.bpf.c, but
 * all syscall exits go through one raw_tracepoint/sys_exit program that reads the arguments from the
 * saved registers, instead of a classic sys_enter_X/sys_exit_X tracepoint pair per syscall (each hit of
 * those builds a perf trace record, and the pair needs a per-thread stash). Only connect() and close()
 * keep a classic entry tracepoint. x86-64 only (syscall numbers); SockCollector falls back to sock.bpf.o. */
#define SOCK_RAW_TP 1
#include "sock.bpf.c"
