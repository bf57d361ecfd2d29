// SPDX-License-Identifier: GPL-2.0
/* TCP from the inside: per-connection state keyed by socket id, listen queues, kernel drop reasons, and a
 * ring buffer of the events diagnosers need (retransmits, resets, state changes, drops, setsockopt).
 *
 * Hooks (no kprobes/fentry on the target kernels): classic tracepoints, raw tracepoints where the classic one
 * lacks the socket, and a sock_ops program (attach to a cgroup v2 directory) for RTT samples, RTOs and
 * connect latency. sock_ops also forces the socket cookie at connect/establish, so the socket id used here
 * (cookie, or the struct sock address while there is none) agrees with the one the socket capture uses. */
#include "common.h"
#include "tcp.h"

char LICENSE[] SEC("license") = "GPL";

#define AF_INET 2
#define AF_INET6 10
#define IPPROTO_TCP 6
#define SOL_SOCKET 1
#define SO_SNDBUF 7
#define SO_RCVBUF 8
#define SO_SNDBUFFORCE 32
#define SO_RCVBUFFORCE 33
#define SOL_TCP 6
#define TCP_NODELAY_OPT 1
#define TCP_CORK_OPT 3
#define TCP_WINDOW_CLAMP_OPT 10
#define TCP_QUICKACK_OPT 12

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384);
	__type(key, __u64);
	__type(value, struct tcp_conn);
} tcp_conns SEC(".maps");

/* Never written: the zeroed template new tcp_conns entries are inserted from (too big for the stack). */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct tcp_conn);
} tcp_conn_zero SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 4096);
	__type(key, __u64);
	__type(value, struct tcp_listener);
} tcp_listeners SEC(".maps");

struct listener_port_key {
	__u32 netns;
	__u16 port;
	__u16 _pad;
};

/* (netns, port) -> listener socket id: finds the listener of an accepted socket. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 4096);
	__type(key, struct listener_port_key);
	__type(value, __u64);
} tcp_listener_ports SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 8192);
	__type(key, struct tcp_drop_key);
	__type(value, __u64);
} tcp_drops SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 1 << 20);
} tcp_events SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, TCP_STAT__COUNT);
	__type(key, __u32);
	__type(value, __u64);
} tcp_counters SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct tcp_config);
} tcp_config SEC(".maps");

/* Network namespaces (inode) to track when tcp_config.filter_netns is set. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 64);
	__type(key, __u32);
	__type(value, __u8);
} tcp_netns_allow SEC(".maps");

/* setsockopt entry -> exit, per thread: the event is built at entry (state before), completed at exit. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 4096);
	__type(key, __u32);
	__type(value, struct tcp_event);
} tcp_sockopt_stash SEC(".maps");

/* connect() seen before the socket had a cookie (sock_ops not attached, or not yet run): parked by struct
 * sock address until the connection's entry is created under its final id. */
struct pending_connect {
	__u64 start_ns;
	__u32 pid;
	char comm[TCP_COMM_LEN];
};

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 4096);
	__type(key, __u64);
	__type(value, struct pending_connect);
} tcp_pending_connects SEC(".maps");

/* Zeroed scratch for building an event before it goes into the stash. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct tcp_event);
} tcp_event_scratch SEC(".maps");

FL_EXPORT_STRUCT(tcp_conn);
FL_EXPORT_STRUCT(tcp_listener);
FL_EXPORT_STRUCT(tcp_drop_key);
FL_EXPORT_STRUCT(tcp_event);
FL_EXPORT_STRUCT(tcp_config);

static __always_inline void count(__u32 idx)
{
	__u64 *v = bpf_map_lookup_elem(&tcp_counters, &idx);
	if (v)
		*v += 1;
}

static __always_inline struct tcp_config *tcp_cfg(void)
{
	__u32 zero = 0;
	return bpf_map_lookup_elem(&tcp_config, &zero);
}

static __always_inline __u32 current_tgid(void)
{
	return bpf_get_current_pid_tgid() >> 32;
}

static __always_inline __u64 sock_id_of(const struct sock *sk)
{
	__u64 cookie = BPF_CORE_READ(sk, __sk_common.skc_cookie.counter);
	return cookie ? cookie : (__u64)sk;
}

static __always_inline __u32 netns_of(const struct sock *sk)
{
	return BPF_CORE_READ(sk, __sk_common.skc_net.net, ns.inum);
}

/* Whether the current task is the agent itself. Only meaningful in hooks that run in the task's own
 * context (sendmsg, setsockopt): TCP's timers and most of its receive path run in softirq on whatever task
 * the CPU interrupted, where "current" is a bystander; filtering there by current dropped other
 * processes' retransmits whenever the agent happened to be on the CPU. The agent's own connections are
 * left out by their owner instead (TcpCollector, user space: the owner comes from connect or the listener). */
static __always_inline bool self_current(void)
{
	struct tcp_config *cfg = tcp_cfg();
	return cfg && cfg->self_pid && cfg->self_pid == current_tgid();
}

/* True when the socket is filtered out by the config (its netns). */
static __always_inline bool ignored(const struct sock *sk)
{
	struct tcp_config *cfg = tcp_cfg();
	if (!cfg)
		return false;
	if (cfg->filter_netns) {
		__u32 ns = netns_of(sk);
		if (!bpf_map_lookup_elem(&tcp_netns_allow, &ns))
			return true;
	}
	return false;
}

/* 5-tuple of a socket into the given fields. */
#define FILL_TUPLE(dst, sk)                                                                               \
	do {                                                                                              \
		(dst)->family = BPF_CORE_READ(sk, __sk_common.skc_family);                                \
		(dst)->lport = BPF_CORE_READ(sk, __sk_common.skc_num);                                    \
		if (!(dst)->lport) /* bind released at TCP_CLOSE: the port is still in inet_sport */      \
			(dst)->lport = bpf_ntohs(BPF_CORE_READ((struct inet_sock *)(sk), inet_sport));    \
		(dst)->rport = bpf_ntohs(BPF_CORE_READ(sk, __sk_common.skc_dport));                       \
		if ((dst)->family == AF_INET6) {                                                          \
			BPF_CORE_READ_INTO(&(dst)->laddr, sk, __sk_common.skc_v6_rcv_saddr.in6_u.u6_addr8); \
			BPF_CORE_READ_INTO(&(dst)->raddr, sk, __sk_common.skc_v6_daddr.in6_u.u6_addr8);     \
		} else {                                                                                  \
			BPF_CORE_READ_INTO((__u32 *)&(dst)->laddr, sk, __sk_common.skc_rcv_saddr);          \
			BPF_CORE_READ_INTO((__u32 *)&(dst)->raddr, sk, __sk_common.skc_daddr);              \
		}                                                                                         \
	} while (0)

static __always_inline void set_owner_current(__u32 *pid, char *comm)
{
	__u32 tgid = current_tgid();
	if (!tgid)
		return;
	*pid = tgid;
	bpf_get_current_comm(comm, TCP_COMM_LEN);
}

/* Finds or creates the entry of a TCP socket. */
static __always_inline struct tcp_conn *get_conn(const struct sock *sk, __u64 id)
{
	struct tcp_conn *c = bpf_map_lookup_elem(&tcp_conns, &id);
	if (c)
		return c;
	__u32 zero = 0;
	struct tcp_conn *tmpl = bpf_map_lookup_elem(&tcp_conn_zero, &zero);
	if (!tmpl)
		return NULL;
	if (bpf_map_update_elem(&tcp_conns, &id, tmpl, BPF_NOEXIST) && bpf_map_lookup_elem(&tcp_conns, &id) == NULL) {
		count(TCP_STAT_CONN_FULL);
		return NULL;
	}
	c = bpf_map_lookup_elem(&tcp_conns, &id);
	if (!c)
		return NULL;
	c->sock_id = id;
	c->sk_ptr = (__u64)sk;
	c->first_ns = bpf_ktime_get_ns();
	c->netns = netns_of(sk);
	c->state = BPF_CORE_READ(sk, __sk_common.skc_state);
	FILL_TUPLE(c, sk);
	__u64 ptr = (__u64)sk;
	struct pending_connect *p = bpf_map_lookup_elem(&tcp_pending_connects, &ptr);
	if (p) {
		c->role = 1;
		c->connect_start_ns = p->start_ns;
		c->pid = p->pid;
		__builtin_memcpy(c->comm, p->comm, TCP_COMM_LEN);
		bpf_map_delete_elem(&tcp_pending_connects, &ptr);
	}
	return c;
}

static __always_inline struct tcp_conn *find_conn(const struct sock *sk)
{
	__u64 id = sock_id_of(sk);
	return bpf_map_lookup_elem(&tcp_conns, &id);
}

static __always_inline void zero_window_track(__u32 wnd, __u64 *since, __u64 *total, __u32 *episodes, __u64 now)
{
	if (wnd == 0) {
		if (!*since) {
			*since = now;
			*episodes += 1;
		}
	} else if (*since) {
		*total += now - *since;
		*since = 0;
	}
}

/* Reads the kernel's view of the connection into its entry (probe reads: works from any hook). */
static __always_inline void snapshot(struct tcp_conn *c, const struct sock *sk)
{
	const struct tcp_sock *tp = (const struct tcp_sock *)sk;
	const struct inet_connection_sock *icsk = (const struct inet_connection_sock *)sk;
	__u64 now = bpf_ktime_get_ns();

	c->last_ns = now;
	c->snapshot_ns = now;
	c->cookie = BPF_CORE_READ(sk, __sk_common.skc_cookie.counter);
	c->state = BPF_CORE_READ(sk, __sk_common.skc_state);
	c->srtt_us = BPF_CORE_READ(tp, srtt_us) >> 3;
	c->mdev_us = BPF_CORE_READ(tp, mdev_us) >> 2;
	c->rtt_min_us = BPF_CORE_READ(tp, rtt_min.s[0].v);
	c->snd_cwnd = BPF_CORE_READ(tp, snd_cwnd);
	c->snd_ssthresh = BPF_CORE_READ(tp, snd_ssthresh);
	c->mss = BPF_CORE_READ(tp, mss_cache);
	c->ca_state = BPF_CORE_READ_BITFIELD_PROBED(icsk, icsk_ca_state);
	c->snd_wnd = BPF_CORE_READ(tp, snd_wnd);
	if (c->snd_wnd > c->snd_wnd_max)
		c->snd_wnd_max = c->snd_wnd;
	c->rcv_wnd = BPF_CORE_READ(tp, rcv_wnd);
	c->window_clamp = BPF_CORE_READ(tp, window_clamp);
	c->rcv_ssthresh = BPF_CORE_READ(tp, rcv_ssthresh);
	c->rcvbuf = BPF_CORE_READ(sk, sk_rcvbuf);
	c->sndbuf = BPF_CORE_READ(sk, sk_sndbuf);
	c->snd_wscale = BPF_CORE_READ_BITFIELD_PROBED(tp, rx_opt.snd_wscale);
	c->rcv_wscale = BPF_CORE_READ_BITFIELD_PROBED(tp, rx_opt.rcv_wscale);
	c->wscale_ok = BPF_CORE_READ_BITFIELD_PROBED(tp, rx_opt.wscale_ok);
	c->nonagle = BPF_CORE_READ_BITFIELD_PROBED(tp, nonagle);
	c->packets_out = BPF_CORE_READ(tp, packets_out);
	c->retrans_out = BPF_CORE_READ(tp, retrans_out);
	c->sacked_out = BPF_CORE_READ(tp, sacked_out);
	c->lost_out = BPF_CORE_READ(tp, lost_out);
	c->total_retrans = BPF_CORE_READ(tp, total_retrans);
	c->rate_delivered = BPF_CORE_READ(tp, rate_delivered);
	c->rate_interval_us = BPF_CORE_READ(tp, rate_interval_us);
	c->delivered = BPF_CORE_READ(tp, delivered);
	c->bytes_acked = BPF_CORE_READ(tp, bytes_acked);
	c->bytes_received = BPF_CORE_READ(tp, bytes_received);
	c->segs_out = BPF_CORE_READ(tp, segs_out);
	c->segs_in = BPF_CORE_READ(tp, segs_in);
	if (c->state == TCP_ESTABLISHED) {
		zero_window_track(c->snd_wnd, &c->zero_wnd_peer_since_ns, &c->zero_wnd_peer_total_ns,
				  &c->zero_wnd_peer_episodes, now);
		zero_window_track(c->rcv_wnd, &c->zero_wnd_local_since_ns, &c->zero_wnd_local_total_ns,
				  &c->zero_wnd_local_episodes, now);
	}
}

/* Full snapshots on the per-segment hooks at most this often; in between they update only what they get for
 * free (tcp_probe's own fields). Post-ACK figures stay exact through the sock_ops RTT callback. */
#define FULL_SNAPSHOT_EVERY_NS 10000000ULL

static __always_inline bool snapshot_stale(const struct tcp_conn *c, __u64 now)
{
	return now - c->snapshot_ns >= FULL_SNAPSHOT_EVERY_NS;
}

/* Copies the socket-state figures of an entry into an event. */
static __always_inline void event_from_conn(struct tcp_event *e, const struct tcp_conn *c)
{
	e->srtt_us = c->srtt_us;
	e->mdev_us = c->mdev_us;
	e->snd_cwnd = c->snd_cwnd;
	e->mss = c->mss;
	e->total_retrans = c->total_retrans;
	e->snd_wnd = c->snd_wnd;
	e->rcv_wnd = c->rcv_wnd;
	e->window_clamp = c->window_clamp;
	e->rcv_ssthresh = c->rcv_ssthresh;
	e->rcvbuf = c->rcvbuf;
	e->sndbuf = c->sndbuf;
	e->rcv_wscale = c->rcv_wscale;
	e->snd_wscale = c->snd_wscale;
	e->wscale_ok = c->wscale_ok;
	e->nonagle = c->nonagle;
}

/* Reserves and pre-fills an event for a socket; NULL when the ring buffer is full (counted). */
static __always_inline struct tcp_event *event_start(__u32 kind, const struct sock *sk, __u64 id)
{
	struct tcp_event *e = bpf_ringbuf_reserve(&tcp_events, sizeof(*e), 0);
	if (!e) {
		count(TCP_STAT_EVENT_DROPS);
		return NULL;
	}
	__builtin_memset(e, 0, sizeof(*e));
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	e->ts_ns = bpf_ktime_get_ns();
	e->kind = kind;
	e->pid = pid_tgid >> 32;
	e->tid = (__u32)pid_tgid;
	bpf_get_current_comm(e->comm, sizeof(e->comm));
	if (sk) {
		e->sock_id = id;
		e->sk_ptr = (__u64)sk;
		e->netns = netns_of(sk);
		e->state = BPF_CORE_READ(sk, __sk_common.skc_state);
		FILL_TUPLE(e, sk);
	}
	return e;
}

/* Per-connection event budget: true when this event may go to the ring buffer. */
static __always_inline bool event_budget(struct tcp_conn *c)
{
	if (!c)
		return true;
	struct tcp_config *cfg = tcp_cfg();
	__u32 limit = cfg && cfg->events_per_sec ? cfg->events_per_sec : 200;
	__u64 now = bpf_ktime_get_ns();
	if (now - c->ev_window_ns >= 1000000000ULL) {
		c->ev_window_ns = now;
		c->ev_in_window = 0;
	}
	if (c->ev_in_window >= limit) {
		c->ev_suppressed += 1;
		count(TCP_STAT_EVENTS_SUPPRESSED);
		return false;
	}
	c->ev_in_window += 1;
	return true;
}

/* In softirq context the current task is unrelated: report the socket's owner instead. */
static __always_inline void event_owner(struct tcp_event *e, const struct tcp_conn *c)
{
	if (c && c->pid) {
		e->pid = c->pid;
		e->tid = 0;
		__builtin_memcpy(e->comm, c->comm, TCP_COMM_LEN);
	}
}

static __always_inline void event_submit(struct tcp_event *e)
{
	bpf_ringbuf_submit(e, 0);
	count(TCP_STAT_EVENTS);
}

/* ---- listeners ---- */

static __always_inline void sample_listener(struct tcp_listener *l)
{
	const struct sock *sk = (const struct sock *)l->sk_ptr;
	const struct inet_connection_sock *icsk = (const struct inet_connection_sock *)sk;
	l->ack_backlog = BPF_CORE_READ(sk, sk_ack_backlog);
	l->max_ack_backlog = BPF_CORE_READ(sk, sk_max_ack_backlog);
	l->sk_drops = BPF_CORE_READ(sk, sk_drops.counter);
	l->syn_queue = BPF_CORE_READ(icsk, icsk_accept_queue.qlen.counter);
	l->rcvbuf = BPF_CORE_READ(sk, sk_rcvbuf);
	l->sndbuf = BPF_CORE_READ(sk, sk_sndbuf);
	if (l->ack_backlog > l->ack_backlog_peak)
		l->ack_backlog_peak = l->ack_backlog;
	if (l->syn_queue > l->syn_queue_peak)
		l->syn_queue_peak = l->syn_queue;
	l->last_sample_ns = bpf_ktime_get_ns();
}

static __always_inline struct tcp_listener *listener_by_port(__u32 netns, __u16 port, __u64 *id_out)
{
	struct listener_port_key k = { .netns = netns, .port = port };
	__u64 *id = bpf_map_lookup_elem(&tcp_listener_ports, &k);
	if (!id)
		return NULL;
	if (id_out)
		*id_out = *id;
	return bpf_map_lookup_elem(&tcp_listeners, id);
}

static __always_inline void listener_open(const struct sock *sk, bool owner_is_current)
{
	__u64 id = sock_id_of(sk);
	struct tcp_listener l = {};
	l.sock_id = id;
	l.sk_ptr = (__u64)sk;
	l.created_ns = bpf_ktime_get_ns();
	l.netns = netns_of(sk);
	l.family = BPF_CORE_READ(sk, __sk_common.skc_family);
	l.lport = BPF_CORE_READ(sk, __sk_common.skc_num);
	if (l.family == AF_INET6)
		BPF_CORE_READ_INTO(&l.laddr, sk, __sk_common.skc_v6_rcv_saddr.in6_u.u6_addr8);
	else
		BPF_CORE_READ_INTO((__u32 *)&l.laddr, sk, __sk_common.skc_rcv_saddr);
	if (owner_is_current)
		set_owner_current(&l.pid, l.comm);
	sample_listener(&l);
	bpf_map_update_elem(&tcp_listeners, &id, &l, BPF_ANY);
	struct listener_port_key k = { .netns = l.netns, .port = l.lport };
	bpf_map_update_elem(&tcp_listener_ports, &k, &id, BPF_ANY);
}

/* The entry of a listening socket. Found through its port first: its socket id changes if someone assigns
 * it a cookie after listen(). */
static __always_inline struct tcp_listener *find_listener(const struct sock *sk, __u64 *id_out)
{
	struct listener_port_key k = { .netns = netns_of(sk), .port = BPF_CORE_READ(sk, __sk_common.skc_num) };
	__u64 *idp = bpf_map_lookup_elem(&tcp_listener_ports, &k);
	if (idp) {
		__u64 id = *idp;
		struct tcp_listener *l = bpf_map_lookup_elem(&tcp_listeners, &id);
		if (l && l->sk_ptr == (__u64)sk) {
			*id_out = id;
			return l;
		}
	}
	__u64 id = sock_id_of(sk);
	*id_out = id;
	return bpf_map_lookup_elem(&tcp_listeners, &id);
}

/* Keys closed entries that were keyed by their struct sock address under a retired key (top bit set, close
 * time below: kernel addresses and cookies never look like that), so a new socket reusing the address
 * starts a fresh entry instead of inheriting the old one. */
static __always_inline __u64 retired_key(__u64 closed_ns)
{
	return closed_ns | (1ULL << 63);
}

static __always_inline void listener_close(const struct sock *sk)
{
	__u64 id = 0;
	struct tcp_listener *l = find_listener(sk, &id);
	if (!l)
		return;
	sample_listener(l);
	l->closed_ns = bpf_ktime_get_ns();
	struct listener_port_key k = { .netns = l->netns, .port = l->lport };
	__u64 *cur = bpf_map_lookup_elem(&tcp_listener_ports, &k);
	if (cur && *cur == id)
		bpf_map_delete_elem(&tcp_listener_ports, &k);
	if (id == (__u64)sk) {
		__u64 rk = retired_key(l->closed_ns);
		struct tcp_listener copy = *l;
		if (!bpf_map_update_elem(&tcp_listeners, &rk, &copy, BPF_ANY))
			bpf_map_delete_elem(&tcp_listeners, &id);
	}
}

/* A listener that was already listening when the probe attached: tracked from its first event on
 * (owner unknown: the event runs in softirq). */
static __always_inline struct tcp_listener *listener_lazy(const struct sock *sk, __u64 *id)
{
	struct tcp_listener *l = find_listener(sk, id);
	if (l)
		return l;
	listener_open(sk, false);
	*id = sock_id_of(sk);
	return bpf_map_lookup_elem(&tcp_listeners, id);
}

/* ---- sock_ops: RTT samples, RTOs, connect latency, cookie assignment ---- */

/* floor(log2(v)) without a loop (BPF has no count-leading-zeros instruction) */
static __always_inline __u32 log2_u32(__u32 v)
{
	__u32 r, shift;
	r = (v > 0xFFFF) << 4; v >>= r;
	shift = (v > 0xFF) << 3; v >>= shift; r |= shift;
	shift = (v > 0xF) << 2; v >>= shift; r |= shift;
	shift = (v > 0x3) << 1; v >>= shift; r |= shift;
	r |= (v >> 1);
	return r;
}

static __always_inline void rtt_sample(struct tcp_conn *c, __u32 mrtt_us)
{
	c->last_mrtt_us = mrtt_us;
	c->rtt_samples += 1;
	c->rtt_sum_us += mrtt_us;
	__u32 slot = log2_u32(mrtt_us);
	if (slot >= TCP_RTT_HIST_SLOTS)
		slot = TCP_RTT_HIST_SLOTS - 1;
	c->rtt_hist[slot] += 1;
	__u32 floor = c->rtt_min_us * 4 + 10000;
	if (mrtt_us >= TCP_DELACK_BAND_MIN_US && mrtt_us <= TCP_DELACK_BAND_MAX_US && mrtt_us >= floor) {
		c->delack_samples += 1;
		c->delack_sum_us += mrtt_us;
		if (!c->delack_min_us || mrtt_us < c->delack_min_us)
			c->delack_min_us = mrtt_us;
		if (mrtt_us > c->delack_max_us)
			c->delack_max_us = mrtt_us;
	}
}

SEC("sockops")
int tcp_sockops(struct bpf_sock_ops *skops)
{
	__u32 op = skops->op;
	if (op != BPF_SOCK_OPS_TCP_CONNECT_CB && op != BPF_SOCK_OPS_ACTIVE_ESTABLISHED_CB &&
	    op != BPF_SOCK_OPS_PASSIVE_ESTABLISHED_CB && op != BPF_SOCK_OPS_RTT_CB && op != BPF_SOCK_OPS_RTO_CB)
		return 1;
	if (skops->family != AF_INET && skops->family != AF_INET6)
		return 1;
	struct bpf_sock *bsk = skops->sk;
	if (!bsk)
		return 1;
	struct tcp_sock *tp = bpf_skc_to_tcp_sock(bsk);
	if (!tp)
		return 1;
	const struct sock *sk = (const struct sock *)tp;
	/* Assigns the cookie if the socket has none yet: from here on every hook keys it the same way. */
	__u64 id = bpf_get_socket_cookie(skops);
	if (op != BPF_SOCK_OPS_RTT_CB && op != BPF_SOCK_OPS_RTO_CB && ignored(sk))
		return 1;
	__u64 now = bpf_ktime_get_ns();

	switch (op) {
	case BPF_SOCK_OPS_TCP_CONNECT_CB: {
		bpf_sock_ops_cb_flags_set(skops, BPF_SOCK_OPS_RTT_CB_FLAG | BPF_SOCK_OPS_RTO_CB_FLAG);
		struct tcp_conn *c = get_conn(sk, id);
		if (!c)
			return 1;
		c->role = 1;
		if (!c->connect_start_ns)
			c->connect_start_ns = now;
		set_owner_current(&c->pid, c->comm);
		return 1;
	}
	case BPF_SOCK_OPS_ACTIVE_ESTABLISHED_CB:
	case BPF_SOCK_OPS_PASSIVE_ESTABLISHED_CB: {
		bpf_sock_ops_cb_flags_set(skops, BPF_SOCK_OPS_RTT_CB_FLAG | BPF_SOCK_OPS_RTO_CB_FLAG);
		struct tcp_conn *c = get_conn(sk, id);
		if (!c)
			return 1;
		snapshot(c, sk);
		c->established_ns = now;
		__u64 listener_id = 0;
		if (op == BPF_SOCK_OPS_ACTIVE_ESTABLISHED_CB) {
			c->role = 1;
			if (c->connect_start_ns && !c->connect_latency_ns)
				c->connect_latency_ns = now - c->connect_start_ns;
		} else {
			c->role = 2;
			struct tcp_listener *l = listener_by_port(c->netns, c->lport, &listener_id);
			if (l) {
				l->accepted += 1;
				sample_listener(l);
				c->pid = l->pid;
				__builtin_memcpy(c->comm, l->comm, TCP_COMM_LEN);
			}
		}
		struct tcp_event *e = event_start(TCP_EV_CONNECTED, sk, id);
		if (!e)
			return 1;
		event_from_conn(e, c);
		event_owner(e, c);
		e->state = TCP_ESTABLISHED; /* the callback runs just before the state flips */
		e->value = c->connect_latency_ns;
		e->listener_id = listener_id;
		event_submit(e);
		return 1;
	}
	case BPF_SOCK_OPS_RTT_CB: {
		count(TCP_STAT_RTT_SAMPLES);
		struct tcp_conn *c = bpf_map_lookup_elem(&tcp_conns, &id);
		if (!c)
			return 1;
		/* args[0]: the raw RTT sample in µs (mrtt), args[1]: srtt << 3 after it was folded in. Runs after the
		 * ACK was processed, so this snapshot holds the connection's current cwnd/windows. */
		snapshot(c, sk);
		/* tcp_sock.srtt_us may not hold the new average yet when the callback runs: take it from args[1] */
		if (skops->args[1])
			c->srtt_us = skops->args[1] >> 3;
		rtt_sample(c, skops->args[0]);
		return 1;
	}
	case BPF_SOCK_OPS_RTO_CB: {
		struct tcp_conn *c = bpf_map_lookup_elem(&tcp_conns, &id);
		if (!c)
			return 1;
		c->rto_events += 1;
		snapshot(c, sk);
		if (!event_budget(c))
			return 1;
		struct tcp_event *e = event_start(TCP_EV_RTO, sk, id);
		if (!e)
			return 1;
		event_from_conn(e, c);
		event_owner(e, c);
		event_submit(e);
		return 1;
	}
	}
	return 1;
}

/* ---- tracepoints ---- */

/* Every segment received on an established socket: the main sampling point for windows and cwnd. */
SEC("tracepoint/tcp/tcp_probe")
int tcp_probe(struct trace_event_raw_tcp_probe *ctx)
{
	const struct sock *sk = ctx->skaddr;
	if (!sk || ignored(sk))
		return 0;
	struct tcp_conn *c = get_conn(sk, sock_id_of(sk));
	if (!c)
		return 0;
	__u64 now = bpf_ktime_get_ns();
	if (snapshot_stale(c, now)) {
		snapshot(c, sk);
		return 0;
	}
	/* cheap path: the tracepoint's own fields (values before this segment is processed) */
	c->last_ns = now;
	c->snd_cwnd = ctx->snd_cwnd;
	c->snd_ssthresh = ctx->ssthresh;
	c->snd_wnd = ctx->snd_wnd;
	if (c->snd_wnd > c->snd_wnd_max)
		c->snd_wnd_max = c->snd_wnd;
	c->rcv_wnd = ctx->rcv_wnd;
	zero_window_track(c->snd_wnd, &c->zero_wnd_peer_since_ns, &c->zero_wnd_peer_total_ns, &c->zero_wnd_peer_episodes, now);
	zero_window_track(c->rcv_wnd, &c->zero_wnd_local_since_ns, &c->zero_wnd_local_total_ns, &c->zero_wnd_local_episodes, now);
	return 0;
}

SEC("tracepoint/tcp/tcp_retransmit_skb")
int tcp_retransmit_skb(struct trace_event_raw_tcp_retransmit_skb *ctx)
{
	const struct sock *sk = ctx->skaddr;
	if (!sk || ignored(sk))
		return 0;
	__u64 id = sock_id_of(sk);
	struct tcp_conn *c = get_conn(sk, id);
	if (!c)
		return 0;
	c->retrans_events += 1;
	if (ctx->state == TCP_SYN_SENT)
		c->syn_retrans += 1;
	snapshot(c, sk);
	if (!event_budget(c))
		return 0;
	struct tcp_event *e = event_start(TCP_EV_RETRANS, sk, id);
	if (!e)
		return 0;
	event_from_conn(e, c);
	event_owner(e, c);
	e->reason = ctx->err;
	event_submit(e);
	return 0;
}

SEC("tracepoint/tcp/tcp_retransmit_synack")
int tcp_retransmit_synack(struct trace_event_raw_tcp_retransmit_synack *ctx)
{
	const struct sock *sk = ctx->skaddr;
	if (!sk || ignored(sk))
		return 0;
	__u64 id = 0;
	struct tcp_listener *l = listener_lazy(sk, &id);
	if (!l)
		return 0;
	l->synack_retrans += 1;
	sample_listener(l);
	struct tcp_event *e = event_start(TCP_EV_SYNACK_RETRANS, sk, id);
	if (!e)
		return 0;
	e->pid = l->pid;
	__builtin_memcpy(e->comm, l->comm, TCP_COMM_LEN);
	e->value = l->sk_drops;
	e->rport = ctx->dport; /* tracepoint ports are host order */
	event_submit(e);
	return 0;
}

SEC("tracepoint/tcp/tcp_send_reset")
int tcp_send_reset(struct trace_event_raw_tcp_send_reset *ctx)
{
	const struct sock *sk = ctx->skaddr;
	if (!sk || ignored(sk))
		return 0; /* RST for a segment that matched no socket: nothing to attribute */
	__u64 id = sock_id_of(sk);
	__u8 state = BPF_CORE_READ(sk, __sk_common.skc_state);
	struct tcp_conn *c = NULL;
	if (state != TCP_LISTEN && state != TCP_NEW_SYN_RECV && state != TCP_TIME_WAIT) {
		c = get_conn(sk, id);
		if (c)
			c->resets_sent += 1;
	}
	if (!event_budget(c))
		return 0;
	struct tcp_event *e = event_start(TCP_EV_RESET_SENT, sk, id);
	if (!e)
		return 0;
	if (c)
		event_from_conn(e, c);
	event_owner(e, c);
	e->reason = ctx->reason;
	event_submit(e);
	return 0;
}

SEC("tracepoint/tcp/tcp_receive_reset")
int tcp_receive_reset(struct trace_event_raw_tcp_event_sk *ctx)
{
	const struct sock *sk = ctx->skaddr;
	if (!sk || ignored(sk))
		return 0;
	__u64 id = sock_id_of(sk);
	struct tcp_conn *c = get_conn(sk, id);
	if (c) {
		c->resets_recv += 1;
		snapshot(c, sk);
	}
	struct tcp_event *e = event_start(TCP_EV_RESET_RECV, sk, id);
	if (!e)
		return 0;
	if (c)
		event_from_conn(e, c);
	event_owner(e, c);
	event_submit(e);
	return 0;
}

SEC("tracepoint/tcp/tcp_cong_state_set")
int tcp_cong_state_set(struct trace_event_raw_tcp_cong_state_set *ctx)
{
	const struct sock *sk = ctx->skaddr;
	if (!sk)
		return 0;
	struct tcp_conn *c = find_conn(sk);
	if (c)
		c->ca_state = ctx->cong_state;
	return 0;
}

/* Called from recvmsg (process context): attributes accepted sockets to their reader. */
SEC("tracepoint/tcp/tcp_rcv_space_adjust")
int tcp_rcv_space_adjust(struct trace_event_raw_tcp_event_sk *ctx)
{
	const struct sock *sk = ctx->skaddr;
	if (!sk || ignored(sk))
		return 0;
	struct tcp_conn *c = get_conn(sk, sock_id_of(sk));
	if (!c)
		return 0;
	set_owner_current(&c->pid, c->comm);
	__u64 now = bpf_ktime_get_ns();
	if (snapshot_stale(c, now)) {
		snapshot(c, sk);
	} else {
		c->rcvbuf = BPF_CORE_READ(sk, sk_rcvbuf);
		c->window_clamp = BPF_CORE_READ((const struct tcp_sock *)sk, window_clamp);
	}
	return 0;
}

SEC("tracepoint/sock/inet_sock_set_state")
int inet_sock_set_state(struct trace_event_raw_inet_sock_set_state *ctx)
{
	if (ctx->protocol != IPPROTO_TCP)
		return 0;
	const struct sock *sk = ctx->skaddr;
	if (!sk || ignored(sk))
		return 0;
	int oldstate = ctx->oldstate, newstate = ctx->newstate;

	if (newstate == TCP_LISTEN) {
		listener_open(sk, true);
		return 0;
	}
	if (oldstate == TCP_LISTEN) {
		listener_close(sk);
		return 0;
	}
	if (newstate == TCP_SYN_RECV) {
		/* A child socket was just created from a completed handshake: sample its listener's queues. */
		struct tcp_listener *l = listener_by_port(netns_of(sk), ctx->sport, NULL);
		if (l)
			sample_listener(l);
		return 0;
	}

	__u64 id = sock_id_of(sk);
	__u64 now = bpf_ktime_get_ns();
	if (newstate == TCP_SYN_SENT) {
		/* connect() in process context: owner and start time. Without a cookie yet, park them under the
		 * socket address: an entry keyed by the address would split from the one keyed by the cookie. */
		if (id == (__u64)sk) {
			struct pending_connect p = { .start_ns = now };
			set_owner_current(&p.pid, p.comm);
			bpf_map_update_elem(&tcp_pending_connects, &id, &p, BPF_ANY);
			return 0;
		}
		struct tcp_conn *c = get_conn(sk, id);
		if (!c)
			return 0;
		c->role = 1;
		if (!c->connect_start_ns)
			c->connect_start_ns = now;
		set_owner_current(&c->pid, c->comm);
		c->state = newstate;
		return 0;
	}

	struct tcp_conn *c = NULL;
	if (newstate == TCP_ESTABLISHED || newstate == TCP_CLOSE || oldstate == TCP_SYN_SENT || oldstate == TCP_SYN_RECV)
		c = get_conn(sk, id);
	else
		c = bpf_map_lookup_elem(&tcp_conns, &id);
	if (!c)
		return 0;
	snapshot(c, sk);
	c->state = newstate;
	__u32 kind = 0;
	if (newstate == TCP_ESTABLISHED) {
		if (oldstate == TCP_SYN_SENT && c->connect_start_ns && !c->connect_latency_ns)
			c->connect_latency_ns = now - c->connect_start_ns;
		if (!c->established_ns)
			c->established_ns = now;
	} else if (newstate == TCP_CLOSE) {
		if (oldstate == TCP_SYN_SENT || oldstate == TCP_SYN_RECV) {
			c->handshake_failed += 1;
			kind = TCP_EV_HANDSHAKE_FAIL;
		} else {
			kind = TCP_EV_STATE;
		}
		c->closed_ns = now;
		/* close open zero-window episodes so their time is counted */
		zero_window_track(1, &c->zero_wnd_peer_since_ns, &c->zero_wnd_peer_total_ns, &c->zero_wnd_peer_episodes, now);
		zero_window_track(1, &c->zero_wnd_local_since_ns, &c->zero_wnd_local_total_ns, &c->zero_wnd_local_episodes, now);
	}
	if (!kind)
		return 0;
	struct tcp_event *e = event_start(kind, sk, id);
	if (e) {
		event_from_conn(e, c);
		event_owner(e, c);
		e->state = newstate;
		e->old_state = oldstate;
		e->value = c->connect_latency_ns;
		event_submit(e);
	}
	if (newstate == TCP_CLOSE && id == (__u64)sk) {
		__u64 rk = retired_key(now);
		if (!bpf_map_update_elem(&tcp_conns, &rk, c, BPF_ANY))
			bpf_map_delete_elem(&tcp_conns, &id);
	}
	return 0;
}

/* Kernel drops with a reason, attributed to the socket (skb->sk, else the receive socket). */
SEC("tracepoint/skb/kfree_skb")
int kfree_skb(struct trace_event_raw_kfree_skb *ctx)
{
	__u32 reason = ctx->reason;
	if (reason <= SKB_DROP_REASON_NOT_SPECIFIED)
		return 0; /* not a drop, or an unexplained one (too noisy to attribute) */
	const struct sk_buff *skb = ctx->skbaddr;
	const struct sock *sk = BPF_CORE_READ(skb, sk);
	if (!sk)
		sk = ctx->rx_sk;
	if (!sk)
		return 0;
	__u8 state = BPF_CORE_READ(sk, __sk_common.skc_state);
	bool mini = state == TCP_NEW_SYN_RECV || state == TCP_TIME_WAIT; /* only sock_common is valid */
	if (!mini && BPF_CORE_READ(sk, sk_protocol) != IPPROTO_TCP)
		return 0;
	__u16 family = BPF_CORE_READ(sk, __sk_common.skc_family);
	if (family != AF_INET && family != AF_INET6)
		return 0;
	if (ignored(sk))
		return 0;

	bool overflow = reason == bpf_core_enum_value(enum skb_drop_reason, SKB_DROP_REASON_TCP_LISTEN_OVERFLOW);
	const struct sock *owner_sk = sk;
	if (state == TCP_NEW_SYN_RECV)
		owner_sk = BPF_CORE_READ((const struct request_sock *)sk, __req_common.skc_listener);
	/* The final ACK of a handshake refused because the accept queue is full is dropped on the listener (or
	 * its request sock) and 6.x kernels leave the reason at NO_SOCKET there: recognise it by the queue. */
	if ((state == TCP_LISTEN || state == TCP_NEW_SYN_RECV) && owner_sk &&
	    BPF_CORE_READ(owner_sk, sk_ack_backlog) > BPF_CORE_READ(owner_sk, sk_max_ack_backlog))
		overflow = true;
	__u64 id = owner_sk ? sock_id_of(owner_sk) : 0;

	struct tcp_drop_key k = {};
	k.sock_id = id;
	k.reason = reason;
	k.netns = netns_of(sk);
	k.lport = BPF_CORE_READ(sk, __sk_common.skc_num);
	k.rport = bpf_ntohs(BPF_CORE_READ(sk, __sk_common.skc_dport));

	struct tcp_conn *c = NULL;
	struct tcp_listener *l = NULL;
	if (state == TCP_LISTEN || state == TCP_NEW_SYN_RECV) {
		l = owner_sk ? listener_lazy(owner_sk, &id) : NULL;
		k.sock_id = id;
		if (l) {
			k.pid = l->pid;
			if (overflow)
				l->overflow_drops += 1;
			sample_listener(l);
		}
	} else if (!mini) {
		c = bpf_map_lookup_elem(&tcp_conns, &id);
		if (c) {
			c->drops += 1;
			k.pid = c->pid;
		}
	}
	__u64 one = 1, *n = bpf_map_lookup_elem(&tcp_drops, &k);
	if (n)
		__sync_fetch_and_add(n, 1);
	else
		bpf_map_update_elem(&tcp_drops, &k, &one, BPF_NOEXIST);

	if (!event_budget(c))
		return 0;
	struct tcp_event *e = event_start(overflow ? TCP_EV_LISTEN_OVERFLOW : TCP_EV_DROP, sk, id);
	if (!e)
		return 0;
	e->state = state;
	e->reason = reason;
	if (c) {
		event_from_conn(e, c);
		event_owner(e, c);
	} else if (l) {
		e->pid = l->pid;
		e->tid = 0;
		__builtin_memcpy(e->comm, l->comm, TCP_COMM_LEN);
		e->value = l->sk_drops;
		e->listener_id = id;
	}
	event_submit(e);
	return 0;
}

/* Each copy loop of tcp_sendmsg (process context). The first pass of a call (iov_offset 0) gives the write
 * size; with earlier data unacknowledged and Nagle on, a sub-MSS write is what Nagle holds back. */
SEC("raw_tracepoint/tcp_sendmsg_locked")
int tcp_sendmsg_locked(struct bpf_raw_tracepoint_args *ctx)
{
	const struct sock *sk = (const struct sock *)ctx->args[0];
	const struct msghdr *msg = (const struct msghdr *)ctx->args[1];
	if (!sk || !msg || self_current() || ignored(sk))
		return 0;
	if (BPF_CORE_READ(msg, msg_iter.iov_offset) != 0)
		return 0;
	__u64 len = BPF_CORE_READ(msg, msg_iter.count);
	struct tcp_conn *c = get_conn(sk, sock_id_of(sk));
	if (!c)
		return 0;
	const struct tcp_sock *tp = (const struct tcp_sock *)sk;
	set_owner_current(&c->pid, c->comm);
	__u32 mss = BPF_CORE_READ(tp, mss_cache);
	__u32 unacked = BPF_CORE_READ(tp, packets_out);
	__u8 nonagle = BPF_CORE_READ_BITFIELD_PROBED(tp, nonagle);
	c->nonagle = nonagle;
	c->mss = mss;
	c->writes += 1;
	c->write_bytes += len;
	if (len && len < mss) {
		c->small_writes += 1;
		c->small_write_bytes += len;
		if (unacked) {
			c->small_writes_unacked += 1;
			if (nonagle == 0)
				c->small_writes_nagle += 1;
		}
	}
	c->last_ns = bpf_ktime_get_ns();
	return 0;
}

SEC("raw_tracepoint/sock_rcvqueue_full")
int sock_rcvqueue_full(struct bpf_raw_tracepoint_args *ctx)
{
	const struct sock *sk = (const struct sock *)ctx->args[0];
	if (!sk || BPF_CORE_READ(sk, sk_protocol) != IPPROTO_TCP || ignored(sk))
		return 0;
	__u64 id = sock_id_of(sk);
	struct tcp_conn *c = bpf_map_lookup_elem(&tcp_conns, &id);
	if (!c)
		return 0;
	c->rcvq_full += 1;
	if (!event_budget(c))
		return 0;
	struct tcp_event *e = event_start(TCP_EV_RCVQ_FULL, sk, id);
	if (!e)
		return 0;
	event_from_conn(e, c);
	event_owner(e, c);
	event_submit(e);
	return 0;
}

/* ---- setsockopt: buffer sizes and Nagle options, with the socket's state at that moment ---- */

static __always_inline bool sockopt_wanted(int level, int optname)
{
	if (level == SOL_SOCKET)
		return optname == SO_RCVBUF || optname == SO_SNDBUF || optname == SO_RCVBUFFORCE || optname == SO_SNDBUFFORCE;
	if (level == SOL_TCP)
		return optname == TCP_NODELAY_OPT || optname == TCP_QUICKACK_OPT || optname == TCP_CORK_OPT ||
		       optname == TCP_WINDOW_CLAMP_OPT;
	return false;
}

/* The struct sock behind a file descriptor of the current process, or NULL if the fd is not a TCP socket. */
static __always_inline const struct sock *sock_of_fd(int fd)
{
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	struct fdtable *fdt = BPF_CORE_READ(task, files, fdt);
	if (!fdt || fd < 0 || (unsigned int)fd >= BPF_CORE_READ(fdt, max_fds))
		return NULL;
	struct file **fds = BPF_CORE_READ(fdt, fd);
	struct file *f = NULL;
	bpf_probe_read_kernel(&f, sizeof(f), &fds[fd]);
	if (!f)
		return NULL;
	struct socket *sock = BPF_CORE_READ(f, private_data);
	if (!sock || BPF_CORE_READ(sock, file) != f) /* not a socket: its private_data has no back pointer */
		return NULL;
	const struct sock *sk = BPF_CORE_READ(sock, sk);
	if (!sk || BPF_CORE_READ(sk, sk_protocol) != IPPROTO_TCP)
		return NULL;
	__u16 family = BPF_CORE_READ(sk, __sk_common.skc_family);
	if (family != AF_INET && family != AF_INET6)
		return NULL;
	return sk;
}

SEC("tracepoint/syscalls/sys_enter_setsockopt")
int sys_enter_setsockopt(struct trace_event_raw_sys_enter *ctx)
{
	int level = ctx->args[1], optname = ctx->args[2];
	if (!sockopt_wanted(level, optname))
		return 0;
	if (self_current())
		return 0;
	const struct sock *sk = sock_of_fd(ctx->args[0]);
	if (!sk || ignored(sk))
		return 0;
	__u32 zero = 0;
	struct tcp_event *e = bpf_map_lookup_elem(&tcp_event_scratch, &zero);
	if (!e)
		return 0;
	__builtin_memset(e, 0, sizeof(*e));
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	__u64 id = sock_id_of(sk);
	e->ts_ns = bpf_ktime_get_ns();
	e->kind = TCP_EV_SETSOCKOPT;
	e->pid = pid_tgid >> 32;
	e->tid = (__u32)pid_tgid;
	bpf_get_current_comm(e->comm, sizeof(e->comm));
	e->sock_id = id;
	e->sk_ptr = (__u64)sk;
	e->netns = netns_of(sk);
	e->state = BPF_CORE_READ(sk, __sk_common.skc_state);
	FILL_TUPLE(e, sk);
	e->level = level;
	e->optname = optname;
	int val = 0;
	if (ctx->args[3] && ctx->args[4] >= sizeof(int))
		bpf_probe_read_user(&val, sizeof(val), (const void *)ctx->args[3]);
	e->optval = val;

	const struct tcp_sock *tp = (const struct tcp_sock *)sk;
	e->srtt_us = BPF_CORE_READ(tp, srtt_us) >> 3;
	e->mss = BPF_CORE_READ(tp, mss_cache);
	e->snd_wnd = BPF_CORE_READ(tp, snd_wnd);
	e->rcv_wnd = BPF_CORE_READ(tp, rcv_wnd);
	e->window_clamp = BPF_CORE_READ(tp, window_clamp);
	e->rcv_ssthresh = BPF_CORE_READ(tp, rcv_ssthresh);
	e->rcvbuf = BPF_CORE_READ(sk, sk_rcvbuf);
	e->sndbuf = BPF_CORE_READ(sk, sk_sndbuf);
	e->rcv_wscale = BPF_CORE_READ_BITFIELD_PROBED(tp, rx_opt.rcv_wscale);
	e->snd_wscale = BPF_CORE_READ_BITFIELD_PROBED(tp, rx_opt.snd_wscale);
	e->wscale_ok = BPF_CORE_READ_BITFIELD_PROBED(tp, rx_opt.wscale_ok);
	e->nonagle = BPF_CORE_READ_BITFIELD_PROBED(tp, nonagle);
	if (e->state != TCP_LISTEN) {
		__u64 lid = 0;
		if (listener_by_port(e->netns, e->lport, &lid))
			e->listener_id = lid;
	}
	long n = bpf_get_stack(ctx, e->ustack, sizeof(e->ustack), BPF_F_USER_STACK);
	e->ustack_len = n > 0 ? n / sizeof(__u64) : 0;
	__u32 tid = e->tid;
	bpf_map_update_elem(&tcp_sockopt_stash, &tid, e, BPF_ANY);
	return 0;
}

SEC("tracepoint/syscalls/sys_exit_setsockopt")
int sys_exit_setsockopt(struct trace_event_raw_sys_exit *ctx)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	struct tcp_event *e = bpf_map_lookup_elem(&tcp_sockopt_stash, &tid);
	if (!e)
		return 0;
	const struct sock *sk = (const struct sock *)e->sk_ptr;
	e->ret = ctx->ret;
	e->rcvbuf_after = BPF_CORE_READ(sk, sk_rcvbuf);
	e->sndbuf_after = BPF_CORE_READ(sk, sk_sndbuf);
	e->window_clamp = BPF_CORE_READ((const struct tcp_sock *)sk, window_clamp);

	if (e->ret == 0) {
		if (e->state == TCP_LISTEN) {
			__u64 lid = 0;
			struct tcp_listener *l = find_listener(sk, &lid);
			if (l) {
				l->rcvbuf = e->rcvbuf_after;
				l->sndbuf = e->sndbuf_after;
			}
		} else {
			struct tcp_conn *c = get_conn(sk, e->sock_id);
			if (c) {
				set_owner_current(&c->pid, c->comm);
				c->rcvbuf = e->rcvbuf_after;
				c->sndbuf = e->sndbuf_after;
				c->nonagle = BPF_CORE_READ_BITFIELD_PROBED((const struct tcp_sock *)sk, nonagle);
			}
		}
	}
	if (bpf_ringbuf_output(&tcp_events, e, sizeof(*e), 0))
		count(TCP_STAT_EVENT_DROPS);
	else
		count(TCP_STAT_EVENTS);
	bpf_map_delete_elem(&tcp_sockopt_stash, &tid);
	return 0;
}
