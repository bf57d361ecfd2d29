/* Records shared between bpf/sock.bpf.c and user space (src/collect/sock-decoder.ts).
 * User space never hard-codes offsets: it reads this struct's layout from the compiled object's BTF,
 * so fields may be added or reordered here freely (keep the names the decoder asks for). */
#ifndef FAULTLENS_SOCK_H
#define FAULTLENS_SOCK_H

#define SOCK_COMM_LEN 16
#define SOCK_PAYLOAD_MAX 4096 /* hard upper bound for the configurable capture size */
#define SOCK_PAYLOAD_DEFAULT 512

/* What a record describes. */
enum sock_kind {
	SOCK_KIND_DATA = 1,    /* bytes moved by a read/write-family syscall */
	SOCK_KIND_CONNECT = 2, /* connect() returned (ret: 0, -EINPROGRESS, -ECONNREFUSED, ...) */
	SOCK_KIND_ACCEPT = 3,  /* accept()/accept4() returned a new socket */
	SOCK_KIND_CLOSE = 4,   /* close() of a socket fd (emitted at entry, while the socket still exists) */
};

enum sock_dir { SOCK_DIR_NONE = 0, SOCK_DIR_SEND = 1, SOCK_DIR_RECV = 2 };
enum sock_role { SOCK_ROLE_UNKNOWN = 0, SOCK_ROLE_CLIENT = 1, SOCK_ROLE_SERVER = 2 };

/* Syscall ids used in records (ours, stable; not the arch syscall numbers). */
enum sock_syscall {
	SOCK_SC_READ = 1, SOCK_SC_WRITE, SOCK_SC_READV, SOCK_SC_WRITEV, SOCK_SC_SENDTO, SOCK_SC_RECVFROM,
	SOCK_SC_SENDMSG, SOCK_SC_RECVMSG, SOCK_SC_SENDMMSG, SOCK_SC_RECVMMSG, SOCK_SC_CONNECT, SOCK_SC_ACCEPT,
	SOCK_SC_ACCEPT4, SOCK_SC_CLOSE, SOCK_SC_SENDFILE, SOCK_SC_SPLICE,
};

/* Counters in the per-CPU `sock_stats` array (index = enum value). */
enum sock_stat {
	SOCK_STAT_RECORDS = 0,    /* records written to the ring buffer */
	SOCK_STAT_DROPS = 1,      /* records lost because the ring buffer was full */
	SOCK_STAT_NON_INET = 2,   /* socket syscalls skipped: AF_UNIX, netlink, packet, ... */
	SOCK_STAT_NON_TCPUDP = 3, /* INET sockets skipped: raw, SCTP, ... */
	SOCK_STAT_STASH_FULL = 4, /* syscall entries not tracked: the per-thread map update failed */
	SOCK_STAT_COUNTED = 5,    /* data syscalls counted instead of recorded, of sockets closed since (the
	                           * live ones' are in sock_totals: a per-call counter here cost ~5 % of a count) */
	SOCK_STAT_TOTALS_FULL = 6,/* sockets recorded per syscall because sock_totals was full */
	SOCK_STAT__COUNT = 8,
};

/* Variable-length record: this header followed by payload_len bytes of payload.
 * Field order: what the flow table reads for every record comes first (ts_ns .. raddr: 76 bytes for IPv4,
 * 88 for IPv6), what it reads only when a flow end's process changes comes last; the fold is bound by cache
 * misses on the records, so every cache line of header it does not have to touch counts. */
struct sock_event {
	__u64 ts_ns;      /* bpf_ktime_get_ns() at syscall exit (CLOCK_MONOTONIC) */
	__u64 sock_id;    /* sk->__sk_common.skc_cookie when non-zero, else the struct sock address */
	__s64 ret;        /* syscall return: bytes / new fd / 0, or -errno */
	__u64 bytes;      /* bytes moved (ret when >= 0; for *mmsg the sum over messages), else 0 */
	__u32 pid;        /* tgid */
	__u32 netns;      /* inode number of the socket's network namespace */
	__u32 payload_len;/* bytes of payload that follow this header */
	__u16 family;     /* AF_INET / AF_INET6 */
	__u16 lport;      /* local port, host byte order */
	__u16 rport;      /* remote port, host byte order */
	__u8 proto;       /* IPPROTO_TCP / IPPROTO_UDP */
	__u8 kind;        /* enum sock_kind */
	__u8 dir;         /* enum sock_dir */
	__u8 role;        /* enum sock_role */
	__u8 syscall;     /* enum sock_syscall */
	__u8 state;       /* sk->__sk_common.skc_state (TCP_ESTABLISHED=1, TCP_SYN_SENT=2, TCP_LISTEN=10, ...) */
	__u8 laddr[16];   /* IPv4: first 4 bytes, network order; IPv6: 16 bytes */
	__u8 raddr[16];
	__u64 cgroup_id;  /* cgroup v2 id of the thread */
	__u32 tid;
	__u32 fd;
	char comm[SOCK_COMM_LEN];
	__u8 payload[];
};

/* Flows-only capture (sock_config.count_in_kernel): after a TCP socket's first data record, its further
 * data syscalls only add to these counters (no record, no payload). What they moved reaches user space by
 * a periodic read of `sock_totals` and, final, as the payload of the socket's close record. The counters
 * exclude every recorded syscall, so records and counters add up without double counting. */
struct sock_counts {
	__u64 sent;       /* bytes this socket sent */
	__u64 recvd;      /* bytes it received */
	__u64 last_ns;    /* time of the first counted syscall in the last jiffy one was counted in: the clock
			   * costs ~45 ns a read here (half the hot path), jiffies nothing; so last_ns may be up to
			   * one jiffy (1-10 ms) before the last syscall */
	__u64 send_calls; /* sends that moved bytes (u64: BPF atomics before cpu v3 are 64-bit only) */
	__u64 recv_calls; /* receives that moved bytes */
	__u64 syscalls;   /* bit per enum sock_syscall counted */
	__u64 counted;    /* data syscalls added here (SockCollector sums them for its stats) */
	__u64 last_jiffy; /* the jiffy last_ns was read in */
	__u32 pid;        /* tgid the flow's records name: another process's syscall is recorded instead */
	__u32 _pad;
};

/* Value of `sock_totals`, keyed by sock_id: the socket's first data record (its tuple and process, so a
 * periodic read finds the flow) and the counters since. */
#pragma clang diagnostic push
#pragma clang diagnostic ignored "-Wgnu-variable-sized-type-not-at-end"
struct sock_totals {
	struct sock_event ev; /* its payload[] is empty here: the counters follow the header */
	struct sock_counts c;
};
#pragma clang diagnostic pop

/* Value of the single-entry `sock_config` array, written by user space before and while running. */
struct sock_config {
	__u32 self_pid;    /* tgid to ignore (the agent itself); 0 = none */
	__u32 payload_max; /* bytes of payload to capture per record (0..SOCK_PAYLOAD_MAX) */
	__u32 filter_pid;  /* when non-zero, only this tgid is traced */
	__u32 configured;  /* 0 until user space writes the config: SOCK_PAYLOAD_DEFAULT applies meanwhile */
	__u32 count_in_kernel; /* flows only: count TCP data syscalls in sock_totals (see struct sock_counts) */
};

#endif
