// SPDX-License-Identifier: GPL-2.0
/* System internals per process: block-IO latency (block_io_start -> block_rq_issue -> block_rq_complete,
 * keyed by the request), run-queue latency (sched_wakeup / sched_wakeup_new / preemption ->
 * sched_switch onto a CPU) and CPU time (sched_switch in -> out). Histograms live in maps; only slow IOs
 * reach the ring buffer. Every hook is a raw tracepoint: it hands over the kernel object (struct request,
 * task_struct), so a request is followed by its address (a device + sector key breaks on front merges)
 * and the next task's process and cgroup are known at switch time (the classic tracepoint has only pids). */
#include "common.h"
#include "sysio.h"

char LICENSE[] SEC("license") = "GPL";

#define TASK_RUNNING 0

struct io_req {
	__u64 start_ns; /* block_io_start (or issue when io_start was not seen) */
	__u64 issue_ns;
	__u64 cgroup_id;
	__u64 sector;
	__u32 tgid;
	__u32 tid;
	__u32 bytes;
	__u32 op;
	__u32 dev;
	char comm[SIO_COMM_LEN];
};

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH); /* LRU: requests whose completion we never see age out */
	__uint(max_entries, 16384);
	__type(key, __u64); /* struct request address */
	__type(value, struct io_req);
} sio_reqs SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 2048);
	__type(key, struct sio_io_key);
	__type(value, struct sio_io_stats);
} sio_io SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 4096);
	__type(key, __u32);
	__type(value, struct sio_proc);
} sio_procs SEC(".maps");

/* tid -> when it became runnable (woken, or preempted while runnable) */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384);
	__type(key, __u32);
	__type(value, __u64);
} sio_runnable SEC(".maps");

/* tid -> when it went on a CPU */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384);
	__type(key, __u32);
	__type(value, __u64);
} sio_oncpu SEC(".maps");

/* Zeroed templates for new entries (too big for the stack); never written. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct sio_proc);
} sio_proc_zero SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct sio_io_stats);
} sio_io_zero SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 1 << 18);
} sio_slow SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct sio_config);
} sio_config SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, SIO_STAT__COUNT);
	__type(key, __u32);
	__type(value, __u64);
} sio_counters SEC(".maps");

FL_EXPORT_STRUCT(sio_io_key);
FL_EXPORT_STRUCT(sio_io_stats);
FL_EXPORT_STRUCT(sio_proc);
FL_EXPORT_STRUCT(sio_slow_io);
FL_EXPORT_STRUCT(sio_config);

static __always_inline void count(__u32 stat)
{
	__u64 *c = bpf_map_lookup_elem(&sio_counters, &stat);
	if (c)
		__sync_fetch_and_add(c, 1);
}

static __always_inline __u32 log2_u64(__u64 v)
{
	__u32 r, shift;
	r = (v > 0xFFFFFFFF) << 5;
	v >>= r;
	shift = (v > 0xFFFF) << 4;
	v >>= shift;
	r |= shift;
	shift = (v > 0xFF) << 3;
	v >>= shift;
	r |= shift;
	shift = (v > 0xF) << 2;
	v >>= shift;
	r |= shift;
	shift = (v > 0x3) << 1;
	v >>= shift;
	r |= shift;
	r |= (v >> 1);
	return r;
}

static __always_inline __u32 hist_slot(__u64 ns)
{
	if (ns < 4)
		return (__u32)ns;
	__u32 l = log2_u64(ns);
	return 4 * (l - 1) + ((ns >> (l - 2)) & 3);
}

static __always_inline void hist_add(__u64 *hist, __u64 ns)
{
	/* 64-bit and behind a barrier: with a 32-bit slot clang 14 checks one copy of the register and indexes
	 * with another, and the verifier loses the bound */
	__u64 slot = hist_slot(ns);
	asm volatile("" : "+r"(slot));
	if (slot >= SIO_HIST_SLOTS)
		slot = SIO_HIST_SLOTS - 1;
	__sync_fetch_and_add(&hist[slot], 1);
}

/* ---- block IO ---- */

/* Requests are keyed by their struct request address (raw tracepoints hand it over): a device + sector
 * key breaks when a front merge moves a request's start sector between submission and issue. */

static __always_inline __u32 op_of(struct request *rq)
{
	__u32 op = BPF_CORE_READ(rq, cmd_flags) & 0xff; /* REQ_OP_MASK */
	switch (op) {
	case 0: return SIO_OP_READ;    /* REQ_OP_READ */
	case 1: return SIO_OP_WRITE;   /* REQ_OP_WRITE */
	case 2: return SIO_OP_FLUSH;   /* REQ_OP_FLUSH */
	case 3: return SIO_OP_DISCARD; /* REQ_OP_DISCARD */
	}
	return SIO_OP_OTHER;
}

/* The kernel's dev_t of the request's disk (major << 20 | minor), as the block tracepoints print it. */
static __always_inline __u32 dev_of(struct request *rq)
{
	struct gendisk *disk = BPF_CORE_READ(rq, q, disk);
	if (!disk)
		return 0;
	return ((__u32)BPF_CORE_READ(disk, major) << 20) | (__u32)BPF_CORE_READ(disk, first_minor);
}

static __always_inline void remember_submitter(struct io_req *r)
{
	__u64 id = bpf_get_current_pid_tgid();
	r->tgid = id >> 32;
	r->tid = (__u32)id;
	r->cgroup_id = bpf_get_current_cgroup_id();
	bpf_get_current_comm(r->comm, sizeof(r->comm));
}

/* Submission in the submitter's context: who gets the IO charged (issue may run from a kworker). */
SEC("raw_tp/block_io_start")
int BPF_PROG(sio_io_start, struct request *rq)
{
	__u64 k = (__u64)rq;
	struct io_req r = {};
	r.start_ns = bpf_ktime_get_ns();
	remember_submitter(&r);
	bpf_map_update_elem(&sio_reqs, &k, &r, BPF_ANY);
	return 0;
}

SEC("raw_tp/block_rq_issue")
int BPF_PROG(sio_rq_issue, struct request *rq)
{
	__u64 k = (__u64)rq;
	__u64 now = bpf_ktime_get_ns();
	struct io_req *r = bpf_map_lookup_elem(&sio_reqs, &k);
	if (!r) {
		struct io_req n = {};
		n.start_ns = now;
		remember_submitter(&n);
		bpf_map_update_elem(&sio_reqs, &k, &n, BPF_ANY);
		r = bpf_map_lookup_elem(&sio_reqs, &k);
		if (!r)
			return 0;
	}
	r->issue_ns = now;
	r->bytes = BPF_CORE_READ(rq, __data_len);
	r->op = op_of(rq);
	r->dev = dev_of(rq);
	r->sector = BPF_CORE_READ(rq, __sector);
	return 0;
}

SEC("raw_tp/block_rq_complete")
int BPF_PROG(sio_rq_complete, struct request *rq, int error, unsigned int nr_bytes)
{
	__u64 k = (__u64)rq;
	struct io_req *r = bpf_map_lookup_elem(&sio_reqs, &k);
	if (!r || !r->issue_ns) {
		count(SIO_STAT_IO_UNTRACKED);
		return 0;
	}
	__u64 now = bpf_ktime_get_ns();
	__u64 lat = now - r->issue_ns;
	__u64 queue = r->issue_ns - r->start_ns;

	struct sio_io_key sk = { .tgid = r->tgid, .dev = r->dev, .op = r->op };
	struct sio_io_stats *s = bpf_map_lookup_elem(&sio_io, &sk);
	if (!s) {
		__u32 zero = 0;
		struct sio_io_stats *z = bpf_map_lookup_elem(&sio_io_zero, &zero);
		if (z && bpf_map_update_elem(&sio_io, &sk, z, BPF_NOEXIST) && bpf_map_lookup_elem(&sio_io, &sk) == NULL)
			count(SIO_STAT_MAP_FULL);
		s = bpf_map_lookup_elem(&sio_io, &sk);
		if (s) {
			s->cgroup_id = r->cgroup_id;
			__builtin_memcpy(s->comm, r->comm, sizeof(s->comm));
		}
	}
	if (s) {
		__sync_fetch_and_add(&s->count, 1);
		__sync_fetch_and_add(&s->bytes, r->bytes);
		__sync_fetch_and_add(&s->total_ns, lat);
		__sync_fetch_and_add(&s->queue_ns, queue);
		if (error)
			__sync_fetch_and_add(&s->errors, 1);
		if (lat > s->max_ns)
			s->max_ns = lat;
		hist_add(s->hist, lat);
	}

	__u32 zero = 0;
	struct sio_config *cfg = bpf_map_lookup_elem(&sio_config, &zero);
	if (cfg && cfg->slow_io_ns && lat >= cfg->slow_io_ns) {
		struct sio_slow_io *e = bpf_ringbuf_reserve(&sio_slow, sizeof(*e), 0);
		if (!e) {
			count(SIO_STAT_SLOW_DROPS);
		} else {
			e->ts_ns = now;
			e->lat_ns = lat;
			e->queue_ns = queue;
			e->sector = r->sector;
			e->cgroup_id = r->cgroup_id;
			e->dev = r->dev;
			e->bytes = r->bytes;
			e->tgid = r->tgid;
			e->tid = r->tid;
			e->op = r->op;
			e->error = error;
			__builtin_memcpy(e->comm, r->comm, sizeof(e->comm));
			bpf_ringbuf_submit(e, 0);
			count(SIO_STAT_SLOW_EVENTS);
		}
	}
	bpf_map_delete_elem(&sio_reqs, &k);
	return 0;
}

/* ---- scheduler ---- */

static __always_inline struct sio_proc *proc_of(__u32 tgid, struct task_struct *t)
{
	struct sio_proc *p = bpf_map_lookup_elem(&sio_procs, &tgid);
	if (p)
		return p;
	__u32 zero = 0;
	struct sio_proc *z = bpf_map_lookup_elem(&sio_proc_zero, &zero);
	if (!z)
		return NULL;
	if (bpf_map_update_elem(&sio_procs, &tgid, z, BPF_NOEXIST)) {
		p = bpf_map_lookup_elem(&sio_procs, &tgid);
		if (!p)
			count(SIO_STAT_MAP_FULL);
		return p;
	}
	p = bpf_map_lookup_elem(&sio_procs, &tgid);
	if (p) {
		struct task_struct *leader = BPF_CORE_READ(t, group_leader);
		bpf_probe_read_kernel_str(p->comm, sizeof(p->comm), &leader->comm);
		p->cgroup_id = BPF_CORE_READ(t, cgroups, dfl_cgrp, kn, id);
	}
	return p;
}

static __always_inline void mark_runnable(struct task_struct *p)
{
	__u32 tid = BPF_CORE_READ(p, pid);
	if (!tid)
		return;
	__u64 now = bpf_ktime_get_ns();
	bpf_map_update_elem(&sio_runnable, &tid, &now, BPF_ANY);
}

SEC("raw_tp/sched_wakeup")
int BPF_PROG(sio_wakeup, struct task_struct *p)
{
	mark_runnable(p);
	return 0;
}

SEC("raw_tp/sched_wakeup_new")
int BPF_PROG(sio_wakeup_new, struct task_struct *p)
{
	mark_runnable(p);
	return 0;
}

/* A process that exec()s after its first switch keeps the name it had then: refresh it. */
SEC("raw_tp/sched_process_exec")
int BPF_PROG(sio_exec, struct task_struct *p)
{
	__u32 tgid = BPF_CORE_READ(p, tgid);
	struct sio_proc *sp = bpf_map_lookup_elem(&sio_procs, &tgid);
	if (sp)
		bpf_probe_read_kernel_str(sp->comm, sizeof(sp->comm), &p->comm);
	return 0;
}

SEC("raw_tp/sched_switch")
int BPF_PROG(sio_switch, bool preempt, struct task_struct *prev, struct task_struct *next)
{
	__u64 now = bpf_ktime_get_ns();
	__u32 prev_tid = BPF_CORE_READ(prev, pid);
	__u32 next_tid = BPF_CORE_READ(next, pid);

	if (prev_tid) {
		__u64 *on = bpf_map_lookup_elem(&sio_oncpu, &prev_tid);
		if (on) {
			__u64 ran = now - *on;
			struct sio_proc *p = proc_of(BPF_CORE_READ(prev, tgid), prev);
			if (p)
				__sync_fetch_and_add(&p->cpu_ns, ran);
			bpf_map_delete_elem(&sio_oncpu, &prev_tid);
		}
		/* still runnable (preempted or yielded): its wait for a CPU starts now */
		if (BPF_CORE_READ(prev, __state) == TASK_RUNNING)
			bpf_map_update_elem(&sio_runnable, &prev_tid, &now, BPF_ANY);
	}

	if (next_tid) {
		bpf_map_update_elem(&sio_oncpu, &next_tid, &now, BPF_ANY);
		__u64 *since = bpf_map_lookup_elem(&sio_runnable, &next_tid);
		if (since) {
			__u64 waited = now - *since;
			bpf_map_delete_elem(&sio_runnable, &next_tid);
			struct sio_proc *p = proc_of(BPF_CORE_READ(next, tgid), next);
			if (p) {
				__sync_fetch_and_add(&p->runq_count, 1);
				__sync_fetch_and_add(&p->runq_total_ns, waited);
				if (waited > p->runq_max_ns)
					p->runq_max_ns = waited;
				hist_add(p->hist, waited);
			}
		}
	}
	return 0;
}
