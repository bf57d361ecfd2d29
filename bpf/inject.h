/* Shared between bpf/inject.bpf.c and src/inject/: one fault's parameters (the value of the
 * inject_fault map, one entry per loaded object: every fault loads its own copy of inject.bpf.o)
 * and its hit counters. User space reads the layout from the object's BTF (FL_EXPORT_STRUCT). */
#ifndef FAULTLENS_INJECT_H
#define FAULTLENS_INJECT_H

enum inject_kind {
	INJ_NONE = 0,
	INJ_LOSS = 1,      /* tc: drop matching packets with probability prob/2^32 */
	INJ_BLACKHOLE = 2, /* tc: drop every matching packet */
	INJ_REFUSE = 3,    /* cgroup connect4/6: fail matching connect() calls */
	INJ_REQUEST = 4,   /* tc: drop the packet carrying a matching HTTP request line, then its whole flow */
	INJ_TCP = 5,       /* sock_ops + cgroup setsockopt: TCP knobs on new connections in scope */
	INJ_BANDWIDTH = 6, /* tc: token-bucket policer over all matching packets (per direction) */
};

enum inject_refuse_mode {
	REFUSE_EPERM = 0,        /* the hook returns 0: connect() fails with EPERM at once */
	REFUSE_ECONNREFUSED = 1, /* rewrite the destination to loopback port 0 (never listening): RST -> ECONNREFUSED */
};

enum inject_request_mode {
	REQUEST_TIMEOUT = 0, /* drop the request and the rest of its flow: the client times out */
	REQUEST_RESET = 1,   /* turn the request segment into a RST: the server drops the connection; the
				client's retransmission then meets a RST (ECONNRESET) */
};

#define INJ_DIR_INGRESS 1
#define INJ_DIR_EGRESS 2

#define INJ_PATTERN_MAX 64
#define INJ_CC_MAX 16

struct inject_fault {
	__u64 deadline_ns; /* CLOCK_MONOTONIC (bpf_ktime_get_ns); after it every program is a no-op */
	__u32 kind;        /* enum inject_kind */
	__u32 prob;        /* INJ_LOSS: drop when bpf_get_prandom_u32() < prob */
	__u32 netns_ino;   /* cgroup/sock_ops hooks: only sockets of this network namespace (0 = any) */
	__u32 tgid;        /* connect / setsockopt / active sock_ops: only this process (0 = any) */
	__u8 family;       /* 0 = any, 4, 6 */
	__u8 proto;        /* 0 = any, 6 = TCP, 17 = UDP (packet faults) */
	__u8 direction;    /* INJ_DIR_* bits (packet faults) */
	__u8 mode;         /* enum inject_refuse_mode / inject_request_mode */
	__u16 local_port;  /* host order, 0 = any */
	__u16 remote_port; /* host order, 0 = any */
	__u8 local_ip[16]; /* IPv4 in the first 4 bytes */
	__u8 remote_ip[16];
	__u8 local_prefix; /* bits that must match; 0 = any address */
	__u8 remote_prefix;
	__u8 pattern_len;  /* INJ_REQUEST: bytes of pattern ("GET /api/cart") */
	__u8 pattern_prefix; /* 1: pattern is a plain prefix; 0: the path must end there (' ', '?', '/' follow) */
	char pattern[INJ_PATTERN_MAX];
	/* INJ_TCP knobs, 0 = leave alone */
	__u32 nagle;          /* 1: force Nagle on (clear TCP_NODELAY, also when the app sets it later) */
	__u32 delack_max_us;  /* TCP_BPF_DELACK_MAX */
	__u32 rto_min_us;     /* TCP_BPF_RTO_MIN */
	__u32 window_clamp;   /* TCP_WINDOW_CLAMP bytes */
	__u32 sndcwnd_clamp;  /* TCP_BPF_SNDCWND_CLAMP segments */
	__u32 rcvbuf;         /* SO_RCVBUF bytes */
	__u32 sndbuf;         /* SO_SNDBUF bytes */
	__u32 max_pacing_rate; /* SO_MAX_PACING_RATE bytes/s (TCP internal pacing; no fq needed); bpf_setsockopt takes an int */
	char congestion[INJ_CC_MAX]; /* TCP_CONGESTION */
	/* INJ_BANDWIDTH */
	__u64 rate_bytes;  /* bytes per second */
	__u32 burst_bytes; /* bucket depth */
	__u32 _pad2;
};

enum inject_knob {
	KNOB_NAGLE, KNOB_DELACK_MAX, KNOB_RTO_MIN, KNOB_WINDOW_CLAMP, KNOB_SNDCWND_CLAMP, KNOB_RCVBUF, KNOB_SNDBUF,
	KNOB_PACING, KNOB_CONGESTION,
};

/* inject_stats (per-CPU array) indices */
enum inject_stat {
	ST_SEEN = 0,     /* packets / calls / connections that matched the scope while active */
	ST_ACTED = 1,    /* dropped / refused / reset / knobs applied */
	ST_EXPIRED = 2,  /* calls that arrived after the deadline (no-op) */
	ST_SETSOCKOPT = 3, /* app TCP_NODELAY=1 rewritten to 0 */
	ST_ERRORS = 4,   /* bpf_setsockopt failures */
	ST_ERROR_KNOBS = 5, /* bit mask of the knobs that failed (1 << enum inject_knob) */
	ST_MAX = 6,
};

#endif
