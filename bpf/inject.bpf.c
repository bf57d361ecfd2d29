/* Fault injection: one loaded copy of this object per fault. Its single parameter entry (inject_fault[0])
 * says what to do, to which traffic, and until when. Every program checks the deadline first, so a fault
 * expires inside the kernel even when the process that made it was killed with SIGKILL.
 *
 *   inject_tc_ingress / inject_tc_egress   packet loss, blackhole, HTTP request faults (tcx links)
 *   inject_connect4 / inject_connect6      refused connects (cgroup sock_addr)
 *   inject_sockops                         TCP knobs on new connections (cgroup sock_ops, multi-attach link)
 *   inject_setsockopt                      keeps Nagle on when the app sets TCP_NODELAY later
 */
#include "common.h"
#include "inject.h"

char LICENSE[] SEC("license") = "GPL";

#define AF_INET 2
#define AF_INET6 10
#define ETH_P_IP 0x0800
#define ETH_P_IPV6 0x86DD
#define IPPROTO_TCP 6
#define IPPROTO_UDP 17
#define TC_ACT_OK 0
#define TC_ACT_SHOT 2
#define SOL_SOCKET 1
#define SO_SNDBUF 7
#define SO_RCVBUF 8
#define SO_MAX_PACING_RATE 47
#define SOL_TCP 6
#define TCP_NODELAY 1
#define TCP_WINDOW_CLAMP 10
#define TCP_CONGESTION 13
#define TCP_BPF_SNDCWND_CLAMP 1002
#define TCP_BPF_DELACK_MAX 1003
#define TCP_BPF_RTO_MIN 1004

FL_EXPORT_STRUCT(inject_fault);

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct inject_fault);
} inject_fault SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, ST_MAX);
	__type(key, __u32);
	__type(value, __u64);
} inject_stats SEC(".maps");

/* INJ_REQUEST: flows whose request matched; value = the fault's deadline (later packets are dropped too) */
struct flow_key {
	__u8 saddr[16];
	__u8 daddr[16];
	__u16 sport;
	__u16 dport;
	__u32 family;
};
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 4096);
	__type(key, struct flow_key);
	__type(value, __u64);
} inject_flows SEC(".maps");

/* INJ_BANDWIDTH: one token bucket per direction (index INJ_DIR_*) */
struct inj_bucket {
	struct bpf_spin_lock lock;
	__u64 tokens;
	__u64 last_ns;
};
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 3);
	__type(key, __u32);
	__type(value, struct inj_bucket);
} inject_buckets SEC(".maps");

/* INJ_TCP: sockets whose connect() matched the process scope (decided at TCP_CONNECT_CB, applied at established) */
struct {
	__uint(type, BPF_MAP_TYPE_SK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, __u32);
} inject_sk_scope SEC(".maps");

static __always_inline void stat_add(__u32 idx)
{
	__u64 *v = bpf_map_lookup_elem(&inject_stats, &idx);
	if (v)
		__sync_fetch_and_add(v, 1);
}

/* The fault if it is active now, else NULL (expired faults count ST_EXPIRED and do nothing). */
static __always_inline struct inject_fault *active_fault(__u32 kind)
{
	__u32 zero = 0;
	struct inject_fault *f = bpf_map_lookup_elem(&inject_fault, &zero);
	if (!f || f->kind != kind)
		return NULL;
	if (bpf_ktime_get_ns() >= f->deadline_ns) {
		stat_add(ST_EXPIRED);
		return NULL;
	}
	return f;
}

static __always_inline bool ip_match(const __u8 *want, __u8 prefix, const __u8 *have)
{
	if (!prefix)
		return true;
	for (int i = 0; i < 16; i++) {
		if (prefix >= 8) {
			if (want[i] != have[i])
				return false;
			prefix -= 8;
		} else {
			if (prefix) {
				__u8 mask = (__u8)(0xff << (8 - prefix));
				if ((want[i] & mask) != (have[i] & mask))
					return false;
			}
			return true;
		}
	}
	return true;
}

/* Scope check on an endpoint pair seen from the scoped side (local = ours, remote = the peer). */
static __always_inline bool addr_match(const struct inject_fault *f, __u32 family, const __u8 *lip, __u16 lport,
				       const __u8 *rip, __u16 rport)
{
	if (f->family && ((f->family == 4) != (family == AF_INET)))
		return false;
	if (f->local_port && f->local_port != lport)
		return false;
	if (f->remote_port && f->remote_port != rport)
		return false;
	if (family == AF_INET && (f->local_prefix > 32 || f->remote_prefix > 32))
		return false; /* an IPv6 scope never matches IPv4 traffic */
	return ip_match(f->local_ip, f->local_prefix, lip) && ip_match(f->remote_ip, f->remote_prefix, rip);
}

static __always_inline __u32 sk_netns_ino(const struct sock *sk)
{
	return BPF_CORE_READ(sk, __sk_common.skc_net.net, ns.inum);
}

/* connect()/setsockopt() run in the caller's context, whose network namespace is the socket's
 * (a struct bpf_sock allows no pointer arithmetic, so the task is the way there) */
static __always_inline __u32 current_netns_ino(void)
{
	struct task_struct *t = (struct task_struct *)bpf_get_current_task();
	return BPF_CORE_READ(t, nsproxy, net_ns, ns.inum);
}

/* ---------------------------------------------------------------- packets (tc) */

struct pkt {
	__u32 family;
	__u8 saddr[16];
	__u8 daddr[16];
	__u16 sport;
	__u16 dport;
	__u8 proto;
	__u32 l4_off;
	__u32 payload_off; /* TCP payload offset in the skb (0: none) */
	__u32 payload_len;
};

static __always_inline int parse(struct __sk_buff *skb, struct pkt *p)
{
	void *data = (void *)(long)skb->data;
	void *end = (void *)(long)skb->data_end;
	struct ethhdr *eth = data;
	if ((void *)(eth + 1) > end)
		return -1;
	__u32 l4off;
	__u32 ip_end;
	if (eth->h_proto == bpf_htons(ETH_P_IP)) {
		struct iphdr *ip = (void *)(eth + 1);
		if ((void *)(ip + 1) > end)
			return -1;
		p->family = AF_INET;
		__builtin_memcpy(p->saddr, &ip->saddr, 4);
		__builtin_memcpy(p->daddr, &ip->daddr, 4);
		p->proto = ip->protocol;
		if (ip->frag_off & bpf_htons(0x1fff)) /* later fragments carry no ports */
			return 1;
		l4off = sizeof(*eth) + ip->ihl * 4;
		ip_end = sizeof(*eth) + bpf_ntohs(ip->tot_len);
	} else if (eth->h_proto == bpf_htons(ETH_P_IPV6)) {
		struct ipv6hdr *ip6 = (void *)(eth + 1);
		if ((void *)(ip6 + 1) > end)
			return -1;
		p->family = AF_INET6;
		__builtin_memcpy(p->saddr, &ip6->saddr, 16);
		__builtin_memcpy(p->daddr, &ip6->daddr, 16);
		p->proto = ip6->nexthdr; /* extension headers: not matched by port (proto stays the ext header) */
		l4off = sizeof(*eth) + sizeof(*ip6);
		ip_end = l4off + bpf_ntohs(ip6->payload_len);
	} else {
		return -1;
	}
	if (p->proto == IPPROTO_TCP) {
		struct tcphdr th;
		if (bpf_skb_load_bytes(skb, l4off, &th, sizeof(th)))
			return 1;
		p->sport = bpf_ntohs(th.source);
		p->dport = bpf_ntohs(th.dest);
		p->l4_off = l4off;
		__u32 off = l4off + th.doff * 4;
		if (ip_end > off) {
			p->payload_off = off;
			p->payload_len = ip_end - off;
		}
	} else if (p->proto == IPPROTO_UDP) {
		struct udphdr uh;
		if (bpf_skb_load_bytes(skb, l4off, &uh, sizeof(uh)))
			return 1;
		p->sport = bpf_ntohs(uh.source);
		p->dport = bpf_ntohs(uh.dest);
	}
	return 0;
}

/* Whether the TCP payload starts with the fault's request line prefix ("GET /api/cart") at a path boundary. */
static __always_inline bool request_match(struct __sk_buff *skb, const struct inject_fault *f, const struct pkt *p)
{
	char buf[INJ_PATTERN_MAX + 1];
	__u32 n = f->pattern_len;
	if (!p->payload_off || n == 0 || n > INJ_PATTERN_MAX)
		return false;
	__u32 want = n + 1; /* the byte after the pattern decides the path boundary */
	if (want > p->payload_len) {
		if (!f->pattern_prefix || n > p->payload_len)
			return false;
		want = n;
	}
	if (want > INJ_PATTERN_MAX + 1 || want < 1)
		return false;
	if (bpf_skb_load_bytes(skb, p->payload_off, buf, want))
		return false;
	for (int i = 0; i < INJ_PATTERN_MAX; i++) {
		if (i >= n)
			break;
		if (buf[i] != f->pattern[i])
			return false;
	}
	if (f->pattern_prefix)
		return true;
	if (n > INJ_PATTERN_MAX) /* for the verifier: n indexes buf[INJ_PATTERN_MAX + 1] */
		return false;
	char next = buf[n];
	return next == ' ' || next == '?' || next == '/';
}

static __always_inline void flow_key_of(const struct pkt *p, struct flow_key *k)
{
	__builtin_memcpy(k->saddr, p->saddr, 16);
	__builtin_memcpy(k->daddr, p->daddr, 16);
	k->sport = p->sport;
	k->dport = p->dport;
	k->family = p->family;
}

/* Drops a packet the way a lossy wire would. On egress a plain TC_ACT_SHOT makes dev_queue_xmit() return
 * NET_XMIT_DROP: TCP then treats it as local congestion and re-sends without a retransmission. A redirect to
 * ifindex 0 (no such device) frees the packet while the sender is told NET_XMIT_SUCCESS: a real loss. */
static __always_inline int wire_drop(__u8 dir)
{
	stat_add(ST_ACTED);
	if (dir == INJ_DIR_EGRESS)
		return bpf_redirect(0, 0);
	return TC_ACT_SHOT;
}

/* Turns the request segment into a RST (same sequence number, payload kept: the receiver ignores data on a
 * RST). Its seq is the receiver's rcv_nxt, so the server resets the connection; the client's retransmission
 * then finds no socket and is answered with a RST: the client sees ECONNRESET. */
static __always_inline int reset_segment(struct __sk_buff *skb, const struct pkt *p)
{
	__u32 flags_off = p->l4_off + 12; /* data offset + flags: one 16-bit word of the checksum */
	__u16 old, new;
	if (bpf_skb_load_bytes(skb, flags_off, &old, sizeof(old)))
		return TC_ACT_OK;
	new = old;
	((__u8 *)&new)[1] |= 0x04; /* RST */
	((__u8 *)&new)[1] &= ~0x08; /* PSH */
	if (bpf_l4_csum_replace(skb, p->l4_off + 16, old, new, sizeof(new)))
		return TC_ACT_OK;
	if (bpf_skb_store_bytes(skb, flags_off, &new, sizeof(new), 0))
		return TC_ACT_OK;
	stat_add(ST_ACTED);
	return TC_ACT_OK;
}

/* Token bucket: a packet passes when the bucket holds its bytes, else it is lost; TCP backs off to the rate. */
static __always_inline int police(struct __sk_buff *skb, const struct inject_fault *f, __u8 dir)
{
	__u32 idx = dir;
	struct inj_bucket *b = bpf_map_lookup_elem(&inject_buckets, &idx);
	if (!b)
		return TC_ACT_OK;
	__u64 now = bpf_ktime_get_ns();
	__u64 len = skb->len;
	bool pass;
	bpf_spin_lock(&b->lock);
	__u64 elapsed = now - b->last_ns;
	if (!b->last_ns || elapsed > 1000000000ULL)
		elapsed = 1000000000ULL; /* (re)start with a full bucket, and keep the product below 2^64 */
	__u64 tokens = b->tokens + elapsed * f->rate_bytes / 1000000000ULL;
	if (tokens > f->burst_bytes)
		tokens = f->burst_bytes;
	pass = tokens >= len;
	if (pass)
		tokens -= len;
	b->tokens = tokens;
	b->last_ns = now;
	bpf_spin_unlock(&b->lock);
	return pass ? TC_ACT_OK : wire_drop(dir);
}

static __always_inline int on_packet(struct __sk_buff *skb, __u8 dir)
{
	__u32 zero = 0;
	struct inject_fault *f = bpf_map_lookup_elem(&inject_fault, &zero);
	if (!f || !(f->direction & dir))
		return TC_ACT_OK;
	if (f->kind != INJ_LOSS && f->kind != INJ_BLACKHOLE && f->kind != INJ_REQUEST && f->kind != INJ_BANDWIDTH)
		return TC_ACT_OK;
	if (bpf_ktime_get_ns() >= f->deadline_ns) {
		stat_add(ST_EXPIRED);
		return TC_ACT_OK;
	}
	struct pkt p = {};
	int r = parse(skb, &p);
	if (r < 0)
		return TC_ACT_OK; /* not IP: ARP/ND keep working so the partition is an IP-level one */
	if (f->proto && f->proto != p.proto)
		return TC_ACT_OK;
	/* ingress: the packet comes from the remote side; egress: it leaves from the local side */
	bool match = dir == INJ_DIR_INGRESS ? addr_match(f, p.family, p.daddr, p.dport, p.saddr, p.sport)
					    : addr_match(f, p.family, p.saddr, p.sport, p.daddr, p.dport);
	if (!match)
		return TC_ACT_OK;
	stat_add(ST_SEEN);
	switch (f->kind) {
	case INJ_BLACKHOLE:
		return wire_drop(dir);
	case INJ_LOSS:
		if (bpf_get_prandom_u32() < f->prob)
			return wire_drop(dir);
		return TC_ACT_OK;
	case INJ_BANDWIDTH:
		return police(skb, f, dir);
	case INJ_REQUEST: {
		if (p.proto != IPPROTO_TCP)
			return TC_ACT_OK;
		struct flow_key k = {};
		flow_key_of(&p, &k);
		__u64 *until = bpf_map_lookup_elem(&inject_flows, &k);
		if (until) /* timeout: the rest of the flow is lost too; reset: retransmissions pass to meet the RST */
			return f->mode == REQUEST_RESET ? TC_ACT_OK : wire_drop(dir);
		if (!request_match(skb, f, &p))
			return TC_ACT_OK;
		__u64 d = f->deadline_ns;
		bpf_map_update_elem(&inject_flows, &k, &d, BPF_ANY);
		if (f->mode == REQUEST_RESET)
			return reset_segment(skb, &p);
		return wire_drop(dir);
	}
	}
	return TC_ACT_OK;
}

SEC("tc")
int inject_tc_ingress(struct __sk_buff *skb)
{
	return on_packet(skb, INJ_DIR_INGRESS);
}

SEC("tc")
int inject_tc_egress(struct __sk_buff *skb)
{
	return on_packet(skb, INJ_DIR_EGRESS);
}

/* ---------------------------------------------------------------- connects (cgroup sock_addr) */

static __always_inline bool process_match(const struct inject_fault *f)
{
	return !f->tgid || (bpf_get_current_pid_tgid() >> 32) == f->tgid;
}

static __always_inline int on_connect(struct bpf_sock_addr *ctx, __u32 family)
{
	struct inject_fault *f = active_fault(INJ_REFUSE);
	if (!f || !process_match(f))
		return 1;
	struct bpf_sock *bsk = ctx->sk;
	if (!bsk)
		return 1;
	if (f->proto && f->proto != bsk->protocol)
		return 1;
	if (f->netns_ino && current_netns_ino() != f->netns_ino)
		return 1;
	__u8 lip[16] = {}, rip[16] = {};
	__u16 rport = bpf_ntohs((__u16)ctx->user_port);
	__u16 lport = (__u16)bsk->src_port;
	if (family == AF_INET) {
		__u32 r4 = ctx->user_ip4, l4 = bsk->src_ip4;
		__builtin_memcpy(rip, &r4, 4);
		__builtin_memcpy(lip, &l4, 4);
	} else {
		__u32 r6[4] = { ctx->user_ip6[0], ctx->user_ip6[1], ctx->user_ip6[2], ctx->user_ip6[3] };
		__u32 l6[4] = { bsk->src_ip6[0], bsk->src_ip6[1], bsk->src_ip6[2], bsk->src_ip6[3] };
		__builtin_memcpy(rip, r6, 16);
		__builtin_memcpy(lip, l6, 16);
	}
	if (!addr_match(f, family, lip, lport, rip, rport))
		return 1;
	stat_add(ST_SEEN);
	stat_add(ST_ACTED);
	if (f->mode == REFUSE_ECONNREFUSED && bsk->protocol == IPPROTO_TCP) { /* UDP has no refusal: EPERM below */
		/* loopback port 0: nothing can listen there, so TCP answers the SYN with RST (ECONNREFUSED) */
		if (family == AF_INET) {
			ctx->user_ip4 = bpf_htonl(0x7f000001);
		} else {
			ctx->user_ip6[0] = 0;
			ctx->user_ip6[1] = 0;
			ctx->user_ip6[2] = 0;
			ctx->user_ip6[3] = bpf_htonl(1);
		}
		ctx->user_port = 0;
		return 1;
	}
	return 0; /* the kernel fails connect() with EPERM */
}

SEC("cgroup/connect4")
int inject_connect4(struct bpf_sock_addr *ctx)
{
	return on_connect(ctx, AF_INET);
}

SEC("cgroup/connect6")
int inject_connect6(struct bpf_sock_addr *ctx)
{
	return on_connect(ctx, AF_INET6);
}

/* ---------------------------------------------------------------- TCP knobs (sock_ops, setsockopt) */

static __always_inline bool sockops_scope(const struct inject_fault *f, struct bpf_sock_ops *skops, const struct sock *sk)
{
	if (f->netns_ino && sk_netns_ino(sk) != f->netns_ino)
		return false;
	__u32 family = skops->family;
	__u8 lip[16] = {}, rip[16] = {};
	if (family == AF_INET) {
		__u32 l4 = skops->local_ip4, r4 = skops->remote_ip4;
		__builtin_memcpy(lip, &l4, 4);
		__builtin_memcpy(rip, &r4, 4);
	} else if (family == AF_INET6) {
		__u32 l6[4] = { skops->local_ip6[0], skops->local_ip6[1], skops->local_ip6[2], skops->local_ip6[3] };
		__u32 r6[4] = { skops->remote_ip6[0], skops->remote_ip6[1], skops->remote_ip6[2], skops->remote_ip6[3] };
		__builtin_memcpy(lip, l6, 16);
		__builtin_memcpy(rip, r6, 16);
	} else {
		return false;
	}
	__u16 lport = (__u16)skops->local_port;               /* host order */
	__u16 rport = (__u16)bpf_ntohl(skops->remote_port);     /* network order in the upper 16 bits */
	return addr_match(f, family, lip, lport, rip, rport);
}

static __always_inline void set_int(struct bpf_sock_ops *skops, int level, int opt, int val, int knob)
{
	if (bpf_setsockopt(skops, level, opt, &val, sizeof(val))) {
		stat_add(ST_ERRORS);
		__u32 idx = ST_ERROR_KNOBS;
		__u64 *mask = bpf_map_lookup_elem(&inject_stats, &idx);
		if (mask)
			__sync_fetch_and_or(mask, 1ULL << knob);
	}
}

static __always_inline void apply_knobs(struct bpf_sock_ops *skops, struct inject_fault *f)
{
	if (f->nagle)
		set_int(skops, SOL_TCP, TCP_NODELAY, 0, KNOB_NAGLE);
	if (f->delack_max_us)
		set_int(skops, SOL_TCP, TCP_BPF_DELACK_MAX, f->delack_max_us, KNOB_DELACK_MAX);
	if (f->rto_min_us)
		set_int(skops, SOL_TCP, TCP_BPF_RTO_MIN, f->rto_min_us, KNOB_RTO_MIN);
	if (f->window_clamp)
		set_int(skops, SOL_TCP, TCP_WINDOW_CLAMP, f->window_clamp, KNOB_WINDOW_CLAMP);
	if (f->sndcwnd_clamp)
		set_int(skops, SOL_TCP, TCP_BPF_SNDCWND_CLAMP, f->sndcwnd_clamp, KNOB_SNDCWND_CLAMP);
	if (f->rcvbuf)
		set_int(skops, SOL_SOCKET, SO_RCVBUF, f->rcvbuf, KNOB_RCVBUF);
	if (f->sndbuf)
		set_int(skops, SOL_SOCKET, SO_SNDBUF, f->sndbuf, KNOB_SNDBUF);
	if (f->max_pacing_rate)
		set_int(skops, SOL_SOCKET, SO_MAX_PACING_RATE, f->max_pacing_rate, KNOB_PACING);
	if (f->congestion[0]) {
		char cc[INJ_CC_MAX];
		__builtin_memcpy(cc, f->congestion, INJ_CC_MAX);
		cc[INJ_CC_MAX - 1] = 0;
		if (bpf_setsockopt(skops, SOL_TCP, TCP_CONGESTION, cc, sizeof(cc))) {
			stat_add(ST_ERRORS);
			__u32 idx = ST_ERROR_KNOBS;
			__u64 *mask = bpf_map_lookup_elem(&inject_stats, &idx);
			if (mask)
				__sync_fetch_and_or(mask, 1ULL << KNOB_CONGESTION);
		}
	}
	stat_add(ST_ACTED);
}

SEC("sockops")
int inject_sockops(struct bpf_sock_ops *skops)
{
	__u32 op = skops->op;
	if (op != BPF_SOCK_OPS_TCP_CONNECT_CB && op != BPF_SOCK_OPS_ACTIVE_ESTABLISHED_CB &&
	    op != BPF_SOCK_OPS_PASSIVE_ESTABLISHED_CB)
		return 1;
	struct inject_fault *f = active_fault(INJ_TCP);
	if (!f)
		return 1;
	struct bpf_sock *bsk = skops->sk;
	if (!bsk)
		return 1;
	struct tcp_sock *tp = bpf_skc_to_tcp_sock(bsk);
	if (!tp)
		return 1;
	const struct sock *sk = (const struct sock *)tp;
	if (op == BPF_SOCK_OPS_TCP_CONNECT_CB) {
		/* connect() runs in the caller's context: the only moment the process is known */
		if (f->tgid && process_match(f)) {
			__u32 *mark = bpf_sk_storage_get(&inject_sk_scope, bsk, 0, BPF_SK_STORAGE_GET_F_CREATE);
			if (mark)
				*mark = 1;
		}
		return 1;
	}
	if (f->tgid) {
		if (op != BPF_SOCK_OPS_ACTIVE_ESTABLISHED_CB)
			return 1; /* a process scope covers the connections that process opens */
		__u32 *mark = bpf_sk_storage_get(&inject_sk_scope, bsk, 0, 0);
		if (!mark || !*mark)
			return 1;
	}
	if (!sockops_scope(f, skops, sk))
		return 1;
	stat_add(ST_SEEN);
	apply_knobs(skops, f);
	return 1;
}

/* Keeps Nagle on: an established socket in scope that asks for TCP_NODELAY=1 gets 0 instead. Sockets not yet
 * connected keep the app's value; sock_ops clears it once they are established. */
SEC("cgroup/setsockopt")
int inject_setsockopt(struct bpf_sockopt *ctx)
{
	if (ctx->level != SOL_TCP || ctx->optname != TCP_NODELAY)
		return 1;
	struct inject_fault *f = active_fault(INJ_TCP);
	if (!f || !f->nagle || !process_match(f))
		return 1;
	struct bpf_sock *bsk = ctx->sk;
	if (!bsk || bsk->protocol != IPPROTO_TCP || bsk->state != 1 /* TCP_ESTABLISHED */)
		return 1;
	if (f->netns_ino && current_netns_ino() != f->netns_ino)
		return 1;
	__u8 lip[16] = {}, rip[16] = {};
	__u32 family = bsk->family;
	if (family == AF_INET) {
		__u32 l4 = bsk->src_ip4, r4 = bsk->dst_ip4;
		__builtin_memcpy(lip, &l4, 4);
		__builtin_memcpy(rip, &r4, 4);
	} else {
		__u32 l6[4] = { bsk->src_ip6[0], bsk->src_ip6[1], bsk->src_ip6[2], bsk->src_ip6[3] };
		__u32 r6[4] = { bsk->dst_ip6[0], bsk->dst_ip6[1], bsk->dst_ip6[2], bsk->dst_ip6[3] };
		__builtin_memcpy(lip, l6, 16);
		__builtin_memcpy(rip, r6, 16);
	}
	if (!addr_match(f, family, lip, (__u16)bsk->src_port, rip, bpf_ntohs((__u16)bsk->dst_port)))
		return 1;
	int *val = ctx->optval;
	if ((void *)(val + 1) > ctx->optval_end)
		return 1;
	if (*val) {
		*val = 0;
		stat_add(ST_SETSOCKOPT);
	}
	return 1;
}
