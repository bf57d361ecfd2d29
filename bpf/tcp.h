/* Records shared between bpf/tcp.bpf.c and user space (src/collect/tcp-collector.ts).
 * User space reads every layout from the compiled object's BTF (BpfObject.structLayout), so fields may be
 * added or reordered freely; keep the names the decoder asks for. */
#ifndef FAULTLENS_TCP_H
#define FAULTLENS_TCP_H

#define TCP_COMM_LEN 16
#define TCP_RTT_HIST_SLOTS 24 /* log2(µs) buckets: slot i holds samples in [2^i, 2^(i+1)) µs */
#define TCP_USTACK_DEPTH 12   /* user-stack frames kept for setsockopt events */

/* Delayed-ACK band for RTT samples: a sample this far above the path's min RTT that falls in the range the
 * kernel's delayed-ACK timer produces (40 ms floor, 200 ms ceiling; ~500 ms with jitter and pingpong). */
#define TCP_DELACK_BAND_MIN_US 20000
#define TCP_DELACK_BAND_MAX_US 500000

/* Ring-buffer event kinds. */
enum tcp_event_kind {
	TCP_EV_RETRANS = 1,      /* tcp_retransmit_skb: a segment was retransmitted */
	TCP_EV_RESET_SENT = 2,   /* tcp_send_reset: this host sent a RST */
	TCP_EV_RESET_RECV = 3,   /* tcp_receive_reset: the peer sent a RST */
	TCP_EV_STATE = 4,        /* inet_sock_set_state (TCP only), with a final snapshot on CLOSE */
	TCP_EV_DROP = 5,         /* skb:kfree_skb on a TCP socket, with the drop reason */
	TCP_EV_SETSOCKOPT = 6,   /* setsockopt of a buffer / Nagle option, with the socket state at that moment */
	TCP_EV_RTO = 7,          /* sock_ops RTO callback: a retransmission timeout fired */
	TCP_EV_SYNACK_RETRANS = 8, /* tcp_retransmit_synack on a listener */
	TCP_EV_LISTEN_OVERFLOW = 9, /* a final handshake ACK dropped because the accept queue was full */
	TCP_EV_CONNECTED = 10,   /* sock_ops active/passive established: handshake done */
	TCP_EV_HANDSHAKE_FAIL = 11, /* SYN_SENT/SYN_RECV -> CLOSE without reaching ESTABLISHED */
	TCP_EV_RCVQ_FULL = 12,   /* sock_rcvqueue_full: a segment was dropped because sk_rcvbuf was full */
};

/* Counters in the per-CPU `tcp_counters` array (index = enum value). */
enum tcp_stat {
	TCP_STAT_EVENTS = 0,      /* events written to the ring buffer */
	TCP_STAT_EVENT_DROPS = 1, /* events lost because the ring buffer was full */
	TCP_STAT_CONN_FULL = 2,   /* connection entries not created because the map was full */
	TCP_STAT_RTT_SAMPLES = 3, /* sock_ops RTT callbacks seen */
	TCP_STAT_EVENTS_SUPPRESSED = 4, /* events over a connection's per-second budget (counted, not emitted) */
	TCP_STAT__COUNT = 8,
};

/* Per-connection state: value of the `tcp_conns` map, keyed by socket id (the socket cookie; the
 * struct sock address only while the kernel has not assigned a cookie). Counters are cumulative;
 * user space samples the map and works with deltas. */
struct tcp_conn {
	__u64 sock_id;        /* the map key */
	__u64 sk_ptr;         /* struct sock address (joins records keyed by pointer before the cookie existed) */
	__u64 cookie;         /* socket cookie (0 if never assigned) */
	__u64 first_ns;       /* bpf_ktime_get_ns() when first seen */
	__u64 last_ns;        /* last update */
	__u64 snapshot_ns;    /* last full read of the kernel's tcp_sock (the hot paths refresh only a few fields) */
	__u64 ev_window_ns;   /* start of the current one-second event budget */
	__u32 ev_in_window;   /* events emitted in it */
	__u32 ev_suppressed;  /* events not emitted because the budget was spent (their counters still moved) */
	__u64 connect_start_ns; /* SYN sent (sock_ops TCP_CONNECT_CB) */
	__u64 established_ns;
	__u64 closed_ns;
	__u64 connect_latency_ns; /* SYN -> ESTABLISHED (active opens) */
	__u32 pid;            /* owning tgid (last process-context touch: connect, send, recv, setsockopt) */
	__u32 netns;
	char comm[TCP_COMM_LEN];
	__u16 family;
	__u16 lport;          /* host byte order */
	__u16 rport;
	__u8 role;            /* 1 client (active open), 2 server (passive open), 0 unknown */
	__u8 state;           /* TCP state (1 ESTABLISHED ... 10 LISTEN) */
	__u8 laddr[16];       /* IPv4 in the first 4 bytes, network order */
	__u8 raddr[16];

	/* RTT (µs). srtt/mdev are the kernel's smoothed figures (already divided by 8 / 4). */
	__u32 srtt_us;
	__u32 mdev_us;
	__u32 rtt_min_us;
	__u32 last_mrtt_us;   /* last raw RTT sample (sock_ops RTT callback) */
	__u64 rtt_samples;
	__u64 rtt_sum_us;
	__u32 rtt_hist[TCP_RTT_HIST_SLOTS];
	__u64 delack_samples; /* RTT samples in the delayed-ACK band (see TCP_DELACK_BAND_*) */
	__u64 delack_sum_us;
	__u32 delack_min_us;
	__u32 delack_max_us;

	/* Congestion control and windows (bytes unless noted). */
	__u32 snd_cwnd;       /* segments */
	__u32 snd_ssthresh;   /* segments */
	__u32 mss;            /* mss_cache */
	__u32 ca_state;       /* 0 Open, 1 Disorder, 2 CWR, 3 Recovery, 4 Loss */
	__u32 snd_wnd;        /* the peer's advertised window */
	__u32 snd_wnd_max;    /* the largest window the peer ever advertised */
	__u32 rcv_wnd;        /* tcp_sock.rcv_wnd: the window we want to offer, before the 16-bit field caps it at
	                       * 65535 << rcv_wscale (user space applies the cap) */
	__u32 window_clamp;
	__u32 rcv_ssthresh;
	__u32 rcvbuf;         /* sk_rcvbuf */
	__u32 sndbuf;         /* sk_sndbuf */
	__u8 snd_wscale;      /* the peer's window scale (applies to snd_wnd) */
	__u8 rcv_wscale;      /* our window scale, fixed at the handshake */
	__u8 wscale_ok;       /* both ends negotiated window scaling */
	__u8 nonagle;         /* tcp_sock.nonagle: 0 = Nagle on; bit 0 TCP_NAGLE_OFF (TCP_NODELAY) */

	/* Delivery and loss (segments unless noted). */
	__u32 packets_out;
	__u32 retrans_out;
	__u32 sacked_out;
	__u32 lost_out;
	__u32 total_retrans;  /* tcp_sock.total_retrans */
	__u32 rate_delivered; /* segments delivered in the last rate sample */
	__u32 rate_interval_us;
	__u32 delivered;
	__u64 bytes_acked;
	__u64 bytes_received;
	__u32 segs_out;
	__u32 segs_in;

	/* Faults seen by the tracepoints (cumulative counts). */
	__u32 retrans_events; /* tcp_retransmit_skb */
	__u32 rto_events;     /* sock_ops RTO callback */
	__u32 syn_retrans;    /* retransmits while SYN_SENT */
	__u32 resets_sent;
	__u32 resets_recv;
	__u32 handshake_failed;
	__u32 drops;          /* kfree_skb with a reason, attributed to this socket */
	__u32 rcvq_full;      /* sock_rcvqueue_full */
	__u32 zero_wnd_peer_episodes;  /* the peer advertised a zero window (we could not send) */
	__u32 zero_wnd_local_episodes; /* we advertised a zero window (our reader is slow) */
	__u64 zero_wnd_peer_since_ns;  /* non-zero while the episode lasts */
	__u64 zero_wnd_peer_total_ns;
	__u64 zero_wnd_local_since_ns;
	__u64 zero_wnd_local_total_ns;

	/* Send pattern (tcp_sendmsg_locked): what Nagle sees. */
	__u64 writes;
	__u64 write_bytes;
	__u64 small_writes;          /* writes smaller than the MSS */
	__u64 small_writes_unacked;  /* ...issued while earlier data was still unacknowledged */
	__u64 small_writes_nagle;    /* ...and with Nagle on: these are the writes Nagle may hold back */
	__u64 small_write_bytes;
};

/* One listening socket: value of the `tcp_listeners` map (key: listener socket id). */
struct tcp_listener {
	__u64 sock_id;
	__u64 sk_ptr;
	__u64 created_ns;
	__u64 closed_ns;       /* set on LISTEN -> CLOSE; user space deletes the entry once read */
	__u64 last_sample_ns;
	__u32 pid;             /* process that called listen() */
	__u32 netns;
	char comm[TCP_COMM_LEN];
	__u16 family;
	__u16 lport;
	__u8 laddr[16];
	__u32 max_ack_backlog; /* accept-queue limit (listen backlog capped by somaxconn) */
	__u32 ack_backlog;     /* accept-queue depth at the last sample */
	__u32 ack_backlog_peak;
	__u32 syn_queue;       /* request socks waiting for the handshake's final ACK (last sample) */
	__u32 syn_queue_peak;
	__u32 sk_drops;        /* sk_drops of the listener: every listen drop (SYN or ACK path) */
	__u32 overflow_drops;  /* final handshake ACKs dropped because the accept queue was full (any drop reason:
	                        * 6.x reports NO_SOCKET there; TCP_LISTEN_OVERFLOW where the kernel sets it) */
	__u32 synack_retrans;
	__u32 accepted;        /* passive opens completed */
	__u32 rcvbuf;          /* the listener's sk_rcvbuf: children inherit it and derive rcv_wscale from it */
	__u32 sndbuf;
};

/* Kernel drop reasons per socket: key of the `tcp_drops` map (value: __u64 count). */
struct tcp_drop_key {
	__u64 sock_id;  /* 0 when the skb had no socket */
	__u32 reason;   /* enum skb_drop_reason (names from the kfree_skb tracepoint format) */
	__u32 pid;      /* owner of the socket when known */
	__u32 netns;
	__u16 lport;
	__u16 rport;
};

/* Fixed-size ring-buffer record. Fields that do not apply to a kind are 0. */
struct tcp_event {
	__u64 ts_ns;
	__u64 sock_id;
	__u64 sk_ptr;
	__u32 kind;       /* enum tcp_event_kind */
	__u32 pid;        /* current tgid (process context) or the socket's owner (softirq) */
	__u32 tid;
	__u32 netns;
	char comm[TCP_COMM_LEN];
	__u16 family;
	__u16 lport;
	__u16 rport;
	__u8 state;       /* socket state when the event happened (new state for TCP_EV_STATE) */
	__u8 old_state;   /* TCP_EV_STATE only */
	__u8 laddr[16];
	__u8 raddr[16];
	__u32 reason;     /* drop reason (DROP), reset reason (RESET_SENT), errno (RETRANS err) */
	/* setsockopt: level, option, requested value, return */
	__s32 level;
	__s32 optname;
	__s32 optval;
	__s32 ret;
	/* socket snapshot */
	__u32 srtt_us;
	__u32 mdev_us;
	__u32 snd_cwnd;
	__u32 mss;
	__u32 total_retrans;
	__u32 snd_wnd;
	__u32 rcv_wnd;
	__u32 window_clamp;
	__u32 rcv_ssthresh;
	__u32 rcvbuf;     /* before the call for SETSOCKOPT */
	__u32 sndbuf;
	__u32 rcvbuf_after; /* SETSOCKOPT: after the call */
	__u32 sndbuf_after;
	__u8 rcv_wscale;
	__u8 snd_wscale;
	__u8 wscale_ok;
	__u8 nonagle;
	__u64 value;      /* CONNECTED: connect latency ns; LISTEN_OVERFLOW: listener sk_drops */
	__u64 listener_id;/* SETSOCKOPT/CONNECTED on a passive socket: the listener's socket id if known */
	__u32 ustack_len; /* frames in ustack */
	__u32 _pad;
	__u64 ustack[TCP_USTACK_DEPTH];
};

/* Value of the single-entry `tcp_config` array, written by user space. */
struct tcp_config {
	__u32 self_pid;   /* the agent's tgid, skipped in task-context hooks (its connections: in user space); 0 = none */
	__u32 filter_netns; /* when non-zero, only sockets in the netns listed in the tcp_netns_allow map */
	__u32 events_per_sec; /* per-connection cap on retransmit/drop/RTO events (0 = default 200); beyond it
	                       * only the counters in the maps move, so an event storm cannot flood the ring */
};

#endif
