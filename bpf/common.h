/* Shared prelude for faultlens BPF programs: kernel types (CO-RE), libbpf helpers, and small
 * conventions every probe follows. Include first: `#include "common.h"`. */
#ifndef FAULTLENS_COMMON_H
#define FAULTLENS_COMMON_H

#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_endian.h>

/* Keeps a record struct in the object's BTF even when only user space reads it, so
 * BpfObject.structLayout() can find it: FL_EXPORT_STRUCT(sock_event); */
#define FL_EXPORT_STRUCT(name) const volatile struct name *__fl_export_##name __attribute__((unused))

#endif
