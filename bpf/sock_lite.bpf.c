// SPDX-License-Identifier: GPL-2.0
/* The flows-only socket probe: the same records and per-socket counters as sock.bpf.c in count_in_kernel
 * mode, but without any syscall tracepoint. A syscall tracepoint (classic or raw) puts every syscall of
 * every task on the kernel's slow path: measured with empty programs on nginx under wrk, one costs 5-7 %
 * of the throughput before a single instruction of ours runs (bench/README.md). Instead:
 *   - data: sock:sock_send_length / sock:sock_recv_length (kernel 6.3+), which fire inside sock_sendmsg /
 *     sock_recvmsg only, in the process's context; the syscall is read from the saved registers;
 *   - connect, passive open and close: sock:inet_sock_set_state (SYN_SENT in connect(), its outcome,
 *     SYN_RECV -> ESTABLISHED, -> CLOSE), with the connecting process stashed at SYN_SENT; the others run
 *     in softirq context and carry no process (pid 0: the flow keeps the one its data named). A passive
 *     open only marks the socket's role (its first data record carries it): a passive connection that
 *     moves no data is not recorded, and neither are the agent's own.
 * Limits (README): receives that bypass recvmsg (splice from a TCP socket) are not counted on the receiving
 * end (the flow takes the sender's count when the sender is local); an unconnected UDP socket's receives
 * name no peer (the sender's record does). x86-64 only (syscall numbers); SockCollector falls back to
 * sock_raw.bpf.o with count_in_kernel elsewhere or where the tracepoints are missing. */
#define SOCK_LITE 1
#include "sock.bpf.c"

#define MSG_PEEK 2

#if defined(__TARGET_ARCH_x86)

/* Where a task's saved user registers sit above the base of its kernel stack: the same for every task
 * of a kernel (THREAD_SIZE less the top padding), so it is learnt from bpf_task_pt_regs once and reused,
 * sparing a helper call (~20 ns on this hot path) on every send and receive. Two CPUs learning it at
 * once write the same value. */
volatile __u64 regs_offset; /* bpf_task_pt_regs(task) - task->stack; 0 until learnt */
#define REGS_OFFSET_MAX (1 << 20)

static __always_inline struct pt_regs *task_regs(struct task_struct *task)
{
	char *stack = task->stack;
	__u64 off = regs_offset;
	if (!off) {
		struct pt_regs *regs = (struct pt_regs *)bpf_task_pt_regs(task);
		off = (char *)regs - stack; /* pointer - pointer: a number (root programs may) */
		if (off == 0 || off > REGS_OFFSET_MAX)
			return regs; /* not a layout we know: ask every time */
		regs_offset = off;
	}
	return bpf_rdonly_cast(stack + off, bpf_core_type_id_kernel(struct pt_regs));
}

/* The syscall the current send/receive runs in (enum sock_syscall), and the user addresses a UDP peer
 * may be read from: sendto's dest_addr, sendmsg's msghdr. */
static __always_inline __u8 current_syscall(struct task_struct *task, __u8 dir, __u64 *addr, __u64 *msg)
{
	struct pt_regs *regs = task_regs(task);
	long nr = regs->orig_ax;
	switch (nr) {
	case NR_read:     return SOCK_SC_READ;
	case NR_write:    return SOCK_SC_WRITE;
	case NR_readv:    return SOCK_SC_READV;
	case NR_writev:   return SOCK_SC_WRITEV;
	case NR_sendto:   *addr = PT_REGS_PARM5_SYSCALL(regs); return SOCK_SC_SENDTO;
	case NR_recvfrom: return SOCK_SC_RECVFROM;
	case NR_sendmsg:  *msg = PT_REGS_PARM2_SYSCALL(regs); return SOCK_SC_SENDMSG;
	case NR_recvmsg:  return SOCK_SC_RECVMSG;
	case NR_sendmmsg: return SOCK_SC_SENDMMSG;
	case NR_recvmmsg: return SOCK_SC_RECVMMSG;
	case NR_sendfile: return SOCK_SC_SENDFILE;
	case NR_splice:   return SOCK_SC_SPLICE;
	default:          return dir == SOCK_DIR_SEND ? SOCK_SC_SENDMSG : SOCK_SC_RECVMSG; /* io_uring, kernel users */
	}
}

static __always_inline int on_length(struct sock *skp, int ret, int flags, __u8 dir)
{
	if (ret == -EAGAIN || !skp || (dir == SOCK_DIR_RECV && (flags & MSG_PEEK)))
		return 0;
	/* every helper call costs ~20-45 ns here (this VM's CPU returns through a safe-RET thunk): the task
	 * pointer gives both the tgid and the syscall's registers */
	struct task_struct *task = bpf_get_current_task_btf();
	__u32 tgid = task->tgid;
	if (!pid_traced(tgid) || !sock_traced(skp))
		return 0;
	struct sock *sk = bpf_rdonly_cast(skp, bpf_core_type_id_kernel(struct sock));
	bool tcp = sk->sk_protocol == IPPROTO_TCP;
	__u64 addr = 0, msg = 0;
	__u8 syscall = current_syscall(task, dir, &addr, &msg);
	if (tcp && ret >= 0 && count_data(skp, tgid, dir, ret, syscall))
		return 0;
	struct sock_scratch *s = start_record(skp);
	if (!s)
		return 0;
	struct sock_event *e = &s->ev;
	e->ret = ret;
	e->bytes = ret > 0 ? ret : 0;
	e->fd = 0; /* not known below the syscall layer */
	e->kind = SOCK_KIND_DATA;
	e->dir = dir;
	e->syscall = syscall;
	if (!tcp && ret >= 0 && !e->rport) {
		if (msg) {
			struct user_msghdr m = {};
			bpf_probe_read_user(&m, sizeof(m), (void *)msg);
			addr = (__u64)m.msg_name;
		}
		fill_peer_from_sockaddr(e, addr);
	}
	emit(s, 0);
	if (tcp && ret >= 0)
		start_counting(s);
	return 0;
}

/* TP_PROTO(struct sock *sk, int ret, int flags) */
SEC("raw_tracepoint/sock_send_length")
int sock_lite_send(struct bpf_raw_tracepoint_args *ctx)
{
	return on_length((struct sock *)ctx->args[0], (int)ctx->args[1], (int)ctx->args[2], SOCK_DIR_SEND);
}

SEC("raw_tracepoint/sock_recv_length")
int sock_lite_recv(struct bpf_raw_tracepoint_args *ctx)
{
	return on_length((struct sock *)ctx->args[0], (int)ctx->args[1], (int)ctx->args[2], SOCK_DIR_RECV);
}

/* A record built on the stack: softirq may interrupt a data program on this CPU mid-record, so the
 * per-CPU scratch is not ours here. */
static __always_inline void emit_stack(struct sock_totals *r, __u32 plen)
{
	r->ev.payload_len = plen;
	long err = plen ? bpf_ringbuf_output(&sock_events, r, sizeof(r->ev) + sizeof(r->c), wakeup_flag(sizeof(*r) + 8))
			: bpf_ringbuf_output(&sock_events, r, sizeof(r->ev), wakeup_flag(sizeof(r->ev) + 8));
	stat_inc(err ? SOCK_STAT_DROPS : SOCK_STAT_RECORDS);
}

/* TP_PROTO(const struct sock *sk, const int oldstate, const int newstate) */
SEC("raw_tracepoint/inet_sock_set_state")
int sock_lite_state(struct bpf_raw_tracepoint_args *ctx)
{
	struct sock *skp = (struct sock *)ctx->args[0];
	int oldstate = (int)ctx->args[1], newstate = (int)ctx->args[2];
	struct sock *sk = bpf_rdonly_cast(skp, bpf_core_type_id_kernel(struct sock));
	if (sk->sk_protocol != IPPROTO_TCP || (sk->__sk_common.skc_family != AF_INET && sk->__sk_common.skc_family != AF_INET6))
		return 0;
	__u64 key = (__u64)skp;
	if (newstate == TCP_SYN_SENT) { /* inside connect(): remember who connects */
		__u64 id = bpf_get_current_pid_tgid();
		if (!pid_traced(id >> 32))
			return 0;
		struct pending_connect pc = { .cgroup_id = bpf_get_current_cgroup_id(), .pid = id >> 32, .tid = (__u32)id };
		bpf_get_current_comm(pc.comm, sizeof(pc.comm));
		bpf_map_update_elem(&sock_pending_connect, &key, &pc, BPF_ANY);
		return 0;
	}
	struct sock_totals r = {};
	struct sock_event *e = &r.ev;
	if (oldstate == TCP_SYN_SENT) { /* the connect's outcome, with the process stashed above */
		struct pending_connect *pc = bpf_map_lookup_elem(&sock_pending_connect, &key);
		if (!pc)
			return 0; /* connect() of an untraced process, or before we started */
		e->pid = pc->pid;
		e->tid = pc->tid;
		e->cgroup_id = pc->cgroup_id;
		__builtin_memcpy(e->comm, pc->comm, sizeof(e->comm));
		bpf_map_delete_elem(&sock_pending_connect, &key);
		e->ts_ns = bpf_ktime_get_ns();
		fill_sock(e, skp);
		int err = sk->sk_err;
		e->ret = newstate == TCP_ESTABLISHED ? 0 : -(err ? err : ECONNABORTED);
		e->kind = SOCK_KIND_CONNECT;
		e->syscall = SOCK_SC_CONNECT;
		e->role = SOCK_ROLE_CLIENT;
		__u8 role = SOCK_ROLE_CLIENT; /* also marks the socket as named for its close record */
		if (newstate == TCP_ESTABLISHED)
			bpf_map_update_elem(&sock_roles, &key, &role, BPF_ANY);
		emit_stack(&r, 0);
		return 0;
	}
	if (oldstate == TCP_SYN_RECV && newstate == TCP_ESTABLISHED) {
		/* a passive open: the server's end. No record: who accepts is not known here (softirq), and the
		 * agent's own connections must not show; the socket's first data record carries the role. */
		__u8 role = SOCK_ROLE_SERVER;
		bpf_map_update_elem(&sock_roles, &key, &role, BPF_ANY);
		return 0;
	}
	if (newstate != TCP_CLOSE)
		return 0;
	/* Close records only for sockets a record already named: a traced connect (role client) or a traced
	 * data syscall (counters). Everything else (the agent's own sockets, silent passive ones) stays out. */
	__u8 *role = bpf_map_lookup_elem(&sock_roles, &key);
	bool named = role && *role == SOCK_ROLE_CLIENT;
	e->ts_ns = bpf_ktime_get_ns();
	fill_sock(e, skp);
	e->kind = SOCK_KIND_CLOSE;
	e->syscall = SOCK_SC_CLOSE;
	if (take_counts(e->sock_id, key, &r.c))
		emit_stack(&r, sizeof(r.c));
	else if (named)
		emit_stack(&r, 0);
	bpf_map_delete_elem(&sock_roles, &key);
	bpf_map_delete_elem(&sock_pending_connect, &key);
	return 0;
}
#endif /* __TARGET_ARCH_x86 */
