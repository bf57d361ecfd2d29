// The cheapest possible uprobe: bench/uprobe-overhead.ts attaches it to separate the cost of the trap
// itself (breakpoint, kernel entry, BPF dispatch) from the cost of the business program's work.
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

char LICENSE[] SEC("license") = "GPL";

SEC("uprobe")
int fl_empty(void *ctx) { return 0; }
