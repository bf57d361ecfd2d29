// SPDX-License-Identifier: GPL-2.0
/* Generic business probe: one uprobe program and one uretprobe program serve every probe declared in the
 * config. The attach cookie is the probe id; `biz_specs[id]` says which arguments to read and how
 * (register / stack slot, pointer hops, int / string / bytes). Probes without a return value emit a record
 * at entry; probes with one stash the entry record per (thread, probe) and emit it at return with the
 * return value and the call's duration. Nested calls of the same probe on one thread keep only the
 * innermost entry (documented limitation). */
#include "common.h"
#include "uprobe.h"

char LICENSE[] SEC("license") = "GPL";

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, BIZ_MAX_PROBES);
	__type(key, __u32);
	__type(value, struct biz_spec);
} biz_specs SEC(".maps");

struct stash_key {
	__u64 pid_tgid;
	__u32 probe_id;
	__u32 _pad;
};

/* In-flight calls of probes with a return value; LRU so calls that never return (thread exit, longjmp)
 * age out instead of filling the map. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 4096);
	__type(key, struct stash_key);
	__type(value, struct biz_event);
} biz_stash SEC(".maps");

/* The record under construction (too big for the 512-byte stack). */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct biz_event);
} biz_scratch SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 1 << 22);
} biz_events SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_HASH);
	__uint(max_entries, BIZ_MAX_PROBES);
	__type(key, __u32);
	__type(value, struct biz_calls);
} biz_calls SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, BIZ_STAT__COUNT);
	__type(key, __u32);
	__type(value, __u64);
} biz_counters SEC(".maps");

FL_EXPORT_STRUCT(biz_event);
FL_EXPORT_STRUCT(biz_spec);
FL_EXPORT_STRUCT(biz_arg);
FL_EXPORT_STRUCT(biz_calls);

static __always_inline void count(__u32 stat)
{
	__u64 *c = bpf_map_lookup_elem(&biz_counters, &stat);
	if (c)
		(*c)++;
}

/* The registers a spec may name, copied once per hit at constant ctx offsets (the verifier refuses a ctx
 * load at a variable offset, which a switch over the register index compiles into). */
struct regs {
	__u64 arg[8]; /* 0..5: rdi rsi rdx rcx r8 r9; 6, 7: unused (keeps the index maskable) */
	__u64 sp;
	__u64 rc;
};

static __always_inline void save_regs(struct pt_regs *ctx, struct regs *r)
{
	r->arg[0] = PT_REGS_PARM1(ctx);
	r->arg[1] = PT_REGS_PARM2(ctx);
	r->arg[2] = PT_REGS_PARM3(ctx);
	r->arg[3] = PT_REGS_PARM4(ctx);
	r->arg[4] = PT_REGS_PARM5(ctx);
	r->arg[5] = ctx->r9; /* PT_REGS_PARM6 is missing from libbpf 1.1's bpf_tracing.h */
	r->arg[6] = 0;
	r->arg[7] = 0;
	r->sp = PT_REGS_SP(ctx);
	r->rc = PT_REGS_RC(ctx);
}

/* Reads one argument into e->data at a->out_off; returns 0, or -1 when a read failed. */
static __noinline int capture(const struct regs *r, const struct biz_arg *a, struct biz_event *e)
{
	__u64 v = 0;
	if (a->src == BIZ_SRC_REG) {
		v = r->arg[a->reg_or_off & 7];
	} else if (a->src == BIZ_SRC_STACK) {
		if (bpf_probe_read_user(&v, sizeof(v), (void *)(r->sp + (__s64)a->reg_or_off)))
			return -1;
	} else {
		v = r->rc;
	}

	__u32 nderef = a->nderef;
	__u64 addr = 0;
	for (int i = 0; i < BIZ_MAX_DEREF; i++) {
		if (i >= nderef)
			break;
		addr = v + (__s64)a->deref[i];
		if (i + 1 < nderef && bpf_probe_read_user(&v, sizeof(v), (void *)addr))
			return -1;
	}

	__u32 off = a->out_off & (BIZ_DATA_MAX - 1);
	__u32 size = a->size;
	if (size < 1 || size > BIZ_FIELD_MAX)
		return -1;

	switch (a->kind) {
	case BIZ_KIND_INT: {
		__u64 x = 0;
		if (nderef == 0) {
			x = v;
		} else {
			if (size > 8)
				size = 8;
			if (bpf_probe_read_user(&x, size, (void *)addr))
				return -1;
		}
		__builtin_memcpy(e->data + off, &x, sizeof(x));
		return 0;
	}
	case BIZ_KIND_STR: {
		__u64 p = v;
		if (nderef > 0 && bpf_probe_read_user(&p, sizeof(p), (void *)addr))
			return -1;
		e->data[off] = 0;
		return bpf_probe_read_user_str(e->data + off, size, (void *)p) < 0 ? -1 : 0;
	}
	case BIZ_KIND_STR_INLINE:
		e->data[off] = 0;
		return bpf_probe_read_user_str(e->data + off, size, (void *)(nderef ? addr : v)) < 0 ? -1 : 0;
	case BIZ_KIND_BYTES:
		return bpf_probe_read_user(e->data + off, size, (void *)(nderef ? addr : v)) ? -1 : 0;
	}
	return -1;
}

static __always_inline __u32 record_len(const struct biz_event *e)
{
	__u32 len = offsetof(struct biz_event, data) + (e->data_len & (BIZ_DATA_BUF - 1));
	if (len > sizeof(*e))
		len = sizeof(*e);
	return len;
}

static __always_inline void emit(struct biz_event *e)
{
	if (bpf_ringbuf_output(&biz_events, e, record_len(e), 0))
		count(BIZ_STAT_DROPS);
	else
		count(BIZ_STAT_EVENTS);
}

SEC("uprobe")
int biz_entry(struct pt_regs *ctx)
{
	__u32 id = (__u32)bpf_get_attach_cookie(ctx);
	const struct biz_spec *s = bpf_map_lookup_elem(&biz_specs, &id);
	if (!s) {
		count(BIZ_STAT_NO_SPEC);
		return 0;
	}
	struct biz_calls *calls = bpf_map_lookup_elem(&biz_calls, &id);
	if (calls)
		calls->calls++;
	/* overload control: a sampled probe records 1 call in N; user space scales its metrics by N */
	__u32 every = s->sample_every;
	if (every > 1 && bpf_get_prandom_u32() % every)
		return 0;
	if (calls)
		calls->recorded++;
	__u32 zero = 0;
	struct biz_event *e = bpf_map_lookup_elem(&biz_scratch, &zero);
	if (!e)
		return 0;
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	e->ts_ns = bpf_ktime_get_ns();
	e->dur_ns = 0;
	e->ret = 0;
	e->cgroup_id = bpf_get_current_cgroup_id();
	e->probe_id = id;
	e->pid = pid_tgid >> 32;
	e->tid = (__u32)pid_tgid;
	e->err_mask = 0;
	e->data_len = s->data_len;
	e->flags = 0;
	bpf_get_current_comm(e->comm, sizeof(e->comm));

	struct regs r;
	save_regs(ctx, &r);
	__u32 nargs = s->nargs;
	for (int i = 0; i < BIZ_MAX_ARGS; i++) {
		if (i >= nargs)
			break;
		if (capture(&r, &s->args[i], e))
			e->err_mask |= 1u << i;
	}

	if (s->flags & BIZ_F_RETURN) {
		struct stash_key k = { .pid_tgid = pid_tgid, .probe_id = id };
		if (bpf_map_update_elem(&biz_stash, &k, e, BPF_ANY))
			count(BIZ_STAT_STASH_FULL);
		return 0;
	}
	emit(e);
	return 0;
}

SEC("uretprobe")
int biz_return(struct pt_regs *ctx)
{
	__u32 id = (__u32)bpf_get_attach_cookie(ctx);
	const struct biz_spec *s = bpf_map_lookup_elem(&biz_specs, &id);
	if (!s) {
		count(BIZ_STAT_NO_SPEC);
		return 0;
	}
	struct stash_key k = { .pid_tgid = bpf_get_current_pid_tgid(), .probe_id = id };
	struct biz_event *e = bpf_map_lookup_elem(&biz_stash, &k);
	if (!e) {
		if (s->sample_every <= 1) /* with sampling, most calls have no entry by design */
			count(BIZ_STAT_NO_ENTRY);
		return 0;
	}
	e->dur_ns = bpf_ktime_get_ns() - e->ts_ns;
	e->ret = PT_REGS_RC(ctx);
	e->flags = BIZ_F_RETURN;
	struct regs r;
	save_regs(ctx, &r);
	if (capture(&r, &s->ret, e))
		e->err_mask |= 1u << 31;
	emit(e);
	bpf_map_delete_elem(&biz_stash, &k);
	return 0;
}
