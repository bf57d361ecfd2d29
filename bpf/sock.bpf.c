// SPDX-License-Identifier: GPL-2.0
/* Socket activity from the syscall tracepoints: one record per read/write-family syscall on an INET
 * (TCP/UDP) socket, plus connect/accept/close lifecycle records.
 *
 * Shape: sys_enter_* resolves fd -> struct sock through the task's file table (CO-RE) and, only for
 * TCP/UDP sockets, stashes the arguments per thread; sys_exit_* builds the record (header + first N
 * payload bytes) in a per-CPU scratch buffer and copies it to the ring buffer with bpf_ringbuf_output,
 * which lets the record be exactly as long as its payload. A full ring buffer never blocks the traced
 * thread: the record is dropped and counted in sock_stats[SOCK_STAT_DROPS].
 *
 * Cost per traced syscall is what matters here (it runs on every read/write of every process): the
 * per-thread stash is task storage, kernel pointers are walked as BTF pointers (bpf_get_current_task_btf,
 * bpf_rdonly_cast: kernel 6.2+), and the reader is woken only per batch. sock_compat.bpf.c builds the
 * same program with bpf_probe_read walks and a hash stash for older kernels (about 2x the cost).
 *
 * Socket id: skc_cookie when someone (SO_COOKIE, sock_diag, a sock_ops/cgroup program) already generated
 * it, else the struct sock address. bpf_get_socket_cookie is not callable from tracepoints, so the id is
 * only "a stable id while the socket lives"; the TCP collector maps cookies to it from sock_ops.
 */
#include "common.h"
#include "sock.h"

#define AF_INET 2
#define AF_INET6 10
#define S_IFMT 00170000
#define S_IFSOCK 0140000
#define EAGAIN 11
#define E2BIG 7
#define EINPROGRESS 115
#define ECONNABORTED 103
#define MAX_IOVECS 8 /* iovecs inspected for payload capture (bytes are counted from ret, not iovecs) */
#define MAX_MMSG 1024 /* UIO_MAXIOV: the kernel's own limit for vlen */

/* How the payload of a syscall is found in its arguments. */
enum payload_src { PL_NONE = 0, PL_FLAT, PL_IOVEC, PL_MSGHDR, PL_MMSGHDR };

char LICENSE[] SEC("license") = "GPL";

/* Arguments saved at syscall entry, consumed at exit (per thread). */
struct sock_args {
	__u64 sk;       /* struct sock * (0 for accept: the new socket is resolved at exit) */
	__u64 buf;      /* flat buffer / iovec array / msghdr / mmsghdr array (user pointers) */
	__u64 count;    /* length / iovcnt / vlen */
	__u64 addr;     /* struct sockaddr * of sendto/recvfrom */
	__u32 fd;
	__u8 syscall;
	__u8 dir;
	__u8 kind;
	__u8 src;       /* enum payload_src */
};

/* A TCP connect in progress, from connect() entry until its outcome is reported. The handshake may end
 * inside the syscall (loopback RST is processed before connect returns -EINPROGRESS) or long after it,
 * in softirq context without the process: so the process is remembered here, and the state change's
 * result is parked until connect() returns. */
struct pending_connect {
	__u64 cgroup_id;
	__u32 pid;
	__u32 tid;
	__u32 fd;
	__s32 outcome;   /* 0 or -errno, valid when done */
	__u8 done;       /* the handshake ended (outcome, state) */
	__u8 async;      /* connect() returned -EINPROGRESS: report the outcome when it comes */
	__u8 state;      /* TCP state after the handshake */
	__u8 _pad;
	char comm[SOCK_COMM_LEN];
};

#pragma clang diagnostic push
#pragma clang diagnostic ignored "-Wgnu-variable-sized-type-not-at-end"
/* Per-CPU record under construction. payload_space is 3x the cap so that "offset <= 4095 plus
 * length <= 8191" (what the verifier can prove after masking) always stays inside the buffer. */
struct sock_scratch {
	struct sock_event ev;
	__u8 payload_space[3 * SOCK_PAYLOAD_MAX];
};
#pragma clang diagnostic pop

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 8 << 20); /* user space may resize before load */
} sock_events SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct sock_config);
} sock_config SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, SOCK_STAT__COUNT);
	__type(key, __u32);
	__type(value, __u64);
} sock_stats SEC(".maps");

#if defined(SOCK_RAW_TP)
/* no per-thread stash: see the raw sys_exit program */
#elif !defined(SOCK_COMPAT)
/* Per-thread task storage: no hashing or bucket lock on the hot path, and freed with the thread. An
 * entry is live while its kind is non-zero (exit clears it instead of deleting). */
struct {
	__uint(type, BPF_MAP_TYPE_TASK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct sock_args);
} sock_inflight SEC(".maps");
#else
/* A plain (preallocated) hash: LRU update/delete cost several times more on this hot path. A thread
 * killed inside a syscall leaves its entry until its tid is reused; a full map is counted (STASH_FULL). */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16384);
	__type(key, __u64); /* pid_tgid */
	__type(value, struct sock_args);
} sock_inflight SEC(".maps");
#endif

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 65536);
	__type(key, __u64); /* struct sock * */
	__type(value, __u8); /* enum sock_role */
} sock_roles SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384);
	__type(key, __u64); /* struct sock * */
	__type(value, struct pending_connect);
} sock_pending_connect SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct sock_scratch);
} sock_scratch SEC(".maps");

/* Flows-only capture: per-socket counters of the data syscalls not recorded (struct sock_counts). A plain
 * preallocated hash (an LRU would evict counts unseen); when full, sockets are recorded per syscall. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 65536);
	__type(key, __u64); /* sock_id */
	__type(value, struct sock_totals);
} sock_totals SEC(".maps");

static __always_inline void stat_inc(__u32 idx)
{
	__u64 *v = bpf_map_lookup_elem(&sock_stats, &idx);
	if (v)
		*v += 1;
}

static __always_inline void stat_add(__u32 idx, __u64 n)
{
	__u64 *v = bpf_map_lookup_elem(&sock_stats, &idx);
	if (v)
		*v += n;
}

static __always_inline struct sock_config *sock_cfg(void)
{
	__u32 zero = 0;
	return bpf_map_lookup_elem(&sock_config, &zero);
}

static __always_inline bool pid_traced(__u32 tgid)
{
	struct sock_config *c = sock_cfg();
	if (!c)
		return true;
	if (c->self_pid && c->self_pid == tgid)
		return false;
	if (c->filter_pid && c->filter_pid != tgid)
		return false;
	return true;
}

static __always_inline __u32 payload_cap(void)
{
	struct sock_config *c = sock_cfg();
	__u32 cap = SOCK_PAYLOAD_DEFAULT;
	if (c && c->configured)
		cap = c->payload_max;
	if (cap > SOCK_PAYLOAD_MAX)
		cap = SOCK_PAYLOAD_MAX;
	return cap;
}

#ifndef SOCK_COMPAT
extern void *bpf_rdonly_cast(const void *obj, __u32 btf_id) __ksym;

/* fd -> struct sock, or NULL when the fd is not a socket. Sockets are the only open files whose inode
 * mode is S_IFSOCK (a socket path on disk cannot be opened), so the mode check is the filter.
 * This runs on every read/write of every process: the pointer chase uses BTF pointers (plain,
 * fault-tolerant loads) instead of a bpf_probe_read call per hop; only the fd array slot, which the
 * verifier cannot index with a variable, is read with a helper. */
static __always_inline struct sock *fd_to_sock(__u32 fd)
{
	struct task_struct *task = bpf_get_current_task_btf();
	struct fdtable *fdt = task->files->fdt;
	struct file *fp = NULL;

	if (!fdt || fd >= fdt->max_fds)
		return NULL;
	if (bpf_probe_read_kernel(&fp, sizeof(fp), &fdt->fd[fd]) || !fp)
		return NULL;
	struct file *f = bpf_rdonly_cast(fp, bpf_core_type_id_kernel(struct file));
	if ((f->f_inode->i_mode & S_IFMT) != S_IFSOCK)
		return NULL;
	struct socket *sock = bpf_rdonly_cast(f->private_data, bpf_core_type_id_kernel(struct socket));
	return (struct sock *)(unsigned long)sock->sk;
}

#else /* SOCK_COMPAT: kernels without bpf_rdonly_cast (< 6.2): one bpf_probe_read per hop */
/* fd -> struct sock, or NULL when the fd is not a socket. Sockets are the only open files whose inode
 * mode is S_IFSOCK (a socket path on disk cannot be opened), so the mode check is the filter. */
static __always_inline struct sock *fd_to_sock(__u32 fd)
{
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	struct fdtable *fdt = BPF_CORE_READ(task, files, fdt);
	struct file **fds;
	struct file *f = NULL;

	if (!fdt || fd >= BPF_CORE_READ(fdt, max_fds))
		return NULL;
	fds = BPF_CORE_READ(fdt, fd);
	if (bpf_probe_read_kernel(&f, sizeof(f), &fds[fd]) || !f)
		return NULL;
	if ((BPF_CORE_READ(f, f_inode, i_mode) & S_IFMT) != S_IFSOCK)
		return NULL;
	struct socket *sock = BPF_CORE_READ(f, private_data);
	if (!sock)
		return NULL;
	return BPF_CORE_READ(sock, sk);
}

#endif

/* Only TCP and UDP over IPv4/IPv6 are traced; everything else is counted and skipped. */
static __always_inline bool sock_traced(struct sock *skp)
{
#ifndef SOCK_COMPAT
	struct sock *sk = bpf_rdonly_cast(skp, bpf_core_type_id_kernel(struct sock));
	__u16 family = sk->__sk_common.skc_family;
	__u16 proto = sk->sk_protocol;
#else
	__u16 family = BPF_CORE_READ(skp, __sk_common.skc_family);
	__u16 proto = BPF_CORE_READ(skp, sk_protocol);
#endif
	if (family != AF_INET && family != AF_INET6) {
		stat_inc(SOCK_STAT_NON_INET);
		return false;
	}
	if (proto != IPPROTO_TCP && proto != IPPROTO_UDP) {
		stat_inc(SOCK_STAT_NON_TCPUDP);
		return false;
	}
	return true;
}

static __always_inline int on_enter(__u32 fd, __u64 buf, __u64 count, __u64 addr, __u8 syscall, __u8 dir,
				    __u8 kind, __u8 src)
{
	__u64 id = bpf_get_current_pid_tgid();
	if (!pid_traced(id >> 32))
		return 0;
	struct sock *sk = fd_to_sock(fd);
	if (!sk || !sock_traced(sk))
		return 0;
	struct sock_args a = {
		.sk = kind == SOCK_KIND_ACCEPT ? 0 : (__u64)sk,
		.buf = buf,
		.count = count,
		.addr = addr,
		.fd = fd,
		.syscall = syscall,
		.dir = dir,
		.kind = kind,
		.src = src,
	};
	if (kind == SOCK_KIND_CONNECT) {
		__u8 role = SOCK_ROLE_CLIENT;
		__u64 key = (__u64)sk;
		bpf_map_update_elem(&sock_roles, &key, &role, BPF_ANY);
		if (BPF_CORE_READ(sk, sk_protocol) == IPPROTO_TCP) {
			struct pending_connect pc = {
				.cgroup_id = bpf_get_current_cgroup_id(), .pid = id >> 32, .tid = (__u32)id, .fd = fd,
			};
			bpf_get_current_comm(pc.comm, sizeof(pc.comm));
			bpf_map_update_elem(&sock_pending_connect, &key, &pc, BPF_ANY);
		}
	}
#if defined(SOCK_RAW_TP)
	(void)a; /* the exit program reads the arguments from the syscall's registers: nothing to stash */
#elif !defined(SOCK_COMPAT)
	struct sock_args *slot = bpf_task_storage_get(&sock_inflight, bpf_get_current_task_btf(), 0,
						      BPF_LOCAL_STORAGE_GET_F_CREATE);
	if (slot)
		*slot = a;
	else
		stat_inc(SOCK_STAT_STASH_FULL);
#else
	if (bpf_map_update_elem(&sock_inflight, &id, &a, BPF_ANY))
		stat_inc(SOCK_STAT_STASH_FULL);
#endif
	return 0;
}

static __always_inline void fill_process(struct sock_event *e)
{
	__u64 id = bpf_get_current_pid_tgid();
	e->ts_ns = bpf_ktime_get_ns();
	e->pid = id >> 32;
	e->tid = (__u32)id;
	e->cgroup_id = bpf_get_current_cgroup_id();
	bpf_get_current_comm(e->comm, sizeof(e->comm));
}

#ifndef SOCK_COMPAT
/* Socket identity and the 5-tuple as the socket sees it (local/remote). Read through a BTF pointer:
 * plain fault-tolerant loads with CO-RE offsets, no helper call per field. */
static __always_inline void fill_sock(struct sock_event *e, struct sock *skp)
{
	__u64 key = (__u64)skp;
	struct sock *sk = bpf_rdonly_cast(skp, bpf_core_type_id_kernel(struct sock));
	__u8 *role;

	__builtin_memset(e->laddr, 0, sizeof(e->laddr));
	__builtin_memset(e->raddr, 0, sizeof(e->raddr));
	e->family = sk->__sk_common.skc_family;
	e->state = sk->__sk_common.skc_state;
	e->lport = sk->__sk_common.skc_num;
	/* a socket that reached TCP_CLOSE before close() (peer's FIN first, then ours: TIME_WAIT took over the
	 * port) has released its bind (skc_num = 0); inet_sport still holds the port */
	if (!e->lport) {
		struct inet_sock *inet = bpf_rdonly_cast(skp, bpf_core_type_id_kernel(struct inet_sock));
		e->lport = bpf_ntohs(inet->inet_sport);
	}
	e->rport = bpf_ntohs(sk->__sk_common.skc_dport);
	e->sock_id = sk->__sk_common.skc_cookie.counter;
	if (!e->sock_id)
		e->sock_id = key;
	e->netns = sk->__sk_common.skc_net.net->ns.inum;
	e->proto = sk->sk_protocol;
	if (e->family == AF_INET) {
		*(__u32 *)e->laddr = sk->__sk_common.skc_rcv_saddr;
		*(__u32 *)e->raddr = sk->__sk_common.skc_daddr;
	} else {
		/* 16-byte arrays: copy as two u64 loads each */
		__u64 *l = (__u64 *)e->laddr, *r = (__u64 *)e->raddr;
		l[0] = *(__u64 *)&sk->__sk_common.skc_v6_rcv_saddr.in6_u.u6_addr32[0];
		l[1] = *(__u64 *)&sk->__sk_common.skc_v6_rcv_saddr.in6_u.u6_addr32[2];
		r[0] = *(__u64 *)&sk->__sk_common.skc_v6_daddr.in6_u.u6_addr32[0];
		r[1] = *(__u64 *)&sk->__sk_common.skc_v6_daddr.in6_u.u6_addr32[2];
	}
	role = bpf_map_lookup_elem(&sock_roles, &key);
	e->role = role ? *role : SOCK_ROLE_UNKNOWN;
}

#else
/* Socket identity and the 5-tuple as the socket sees it (local/remote). */
static __always_inline void fill_sock(struct sock_event *e, struct sock *sk)
{
	__u64 key = (__u64)sk;
	__u8 *role;

	__builtin_memset(e->laddr, 0, sizeof(e->laddr));
	__builtin_memset(e->raddr, 0, sizeof(e->raddr));
	e->family = BPF_CORE_READ(sk, __sk_common.skc_family);
	e->proto = BPF_CORE_READ(sk, sk_protocol);
	e->state = BPF_CORE_READ(sk, __sk_common.skc_state);
	e->lport = BPF_CORE_READ(sk, __sk_common.skc_num);
	if (!e->lport) /* bind released at TCP_CLOSE (see above) */
		e->lport = bpf_ntohs(BPF_CORE_READ((struct inet_sock *)sk, inet_sport));
	e->rport = bpf_ntohs(BPF_CORE_READ(sk, __sk_common.skc_dport));
	e->netns = BPF_CORE_READ(sk, __sk_common.skc_net.net, ns.inum);
	e->sock_id = BPF_CORE_READ(sk, __sk_common.skc_cookie.counter);
	if (!e->sock_id)
		e->sock_id = key;
	if (e->family == AF_INET) {
		BPF_CORE_READ_INTO((__u32 *)e->laddr, sk, __sk_common.skc_rcv_saddr);
		BPF_CORE_READ_INTO((__u32 *)e->raddr, sk, __sk_common.skc_daddr);
	} else {
		BPF_CORE_READ_INTO(&e->laddr, sk, __sk_common.skc_v6_rcv_saddr.in6_u.u6_addr8);
		BPF_CORE_READ_INTO(&e->raddr, sk, __sk_common.skc_v6_daddr.in6_u.u6_addr8);
	}
	role = bpf_map_lookup_elem(&sock_roles, &key);
	e->role = role ? *role : SOCK_ROLE_UNKNOWN;
}

#endif

/* Peer of an unconnected (UDP) socket, from a user struct sockaddr. */
static __always_inline void fill_peer_from_sockaddr(struct sock_event *e, __u64 uaddr)
{
	struct sockaddr_in6 sa = {};
	if (!uaddr || e->rport)
		return;
	if (bpf_probe_read_user(&sa, sizeof(sa), (void *)uaddr))
		bpf_probe_read_user(&sa, sizeof(struct sockaddr_in), (void *)uaddr);
	if (sa.sin6_family == AF_INET) {
		struct sockaddr_in *in = (struct sockaddr_in *)&sa;
		e->rport = bpf_ntohs(in->sin_port);
		__builtin_memcpy(e->raddr, &in->sin_addr.s_addr, 4);
	} else if (sa.sin6_family == AF_INET6) {
		e->rport = bpf_ntohs(sa.sin6_port);
		__builtin_memcpy(e->raddr, sa.sin6_addr.in6_u.u6_addr8, 16);
	}
}

/* Copies up to `len` user bytes to payload[off..], never past `cap`. Returns the bytes copied.
 * The masks are no-ops for valid values; they give the verifier the bounds it needs. */
static __always_inline __u32 copy_payload(struct sock_scratch *s, __u32 off, __u64 src, __u64 len, __u32 cap)
{
	if (off >= cap || !src)
		return 0;
	__u64 n = cap - off;
	if (len < n)
		n = len;
	asm volatile("%[o] &= 4095" : [o] "+r"(off));
	asm volatile("%[n] &= 8191" : [n] "+r"(n));
	if (bpf_probe_read_user(&s->payload_space[off], n, (void *)src))
		return 0;
	return n;
}

static __always_inline __u32 copy_iovecs(struct sock_scratch *s, __u64 iov_ptr, __u64 iovcnt, __u64 total,
					 __u32 cap)
{
	__u32 off = 0;
	if (total < cap)
		cap = total;
	for (int i = 0; i < MAX_IOVECS; i++) {
		struct iovec iov;
		if (i >= iovcnt || off >= cap)
			break;
		if (bpf_probe_read_user(&iov, sizeof(iov), (void *)(iov_ptr + i * sizeof(iov))))
			break;
		off += copy_payload(s, off, (__u64)iov.iov_base, iov.iov_len, cap);
	}
	return off;
}

struct mmsg_ctx {
	__u64 vec;
	__u32 n;
	__u64 bytes;
};

static long mmsg_sum(__u32 i, struct mmsg_ctx *c)
{
	unsigned int len = 0;
	if (i >= c->n)
		return 1;
	bpf_probe_read_user(&len, sizeof(len), (void *)(c->vec + i * sizeof(struct mmsghdr) +
						   offsetof(struct mmsghdr, msg_len)));
	c->bytes += len;
	return 0;
}

/* Waking the reader for every record costs more than the record itself (an irq_work + epoll wake-up
 * per syscall; in a VM the irq_work's self-IPI is a VM exit). Wake it once, when this record makes the
 * unread data cross a batch's worth; user space also drains on a short timer (SockCollector), so a lone
 * record waits at most that long, and so does a crossing that two CPUs racing each other both missed.
 * (Waking on every record while the unread data stays above the threshold, as before, cost ~40 % of
 * the probe's time whenever the reader was slow to run: measured with bpf_stats, bench/ring-drain.ts.) */
#define WAKEUP_BYTES (64 << 10)
static __always_inline __u64 wakeup_flag(__u64 size)
{
	__u64 threshold = bpf_ringbuf_query(&sock_events, BPF_RB_RING_SIZE) / 4;
	if (threshold > WAKEUP_BYTES)
		threshold = WAKEUP_BYTES;
	__u64 avail = bpf_ringbuf_query(&sock_events, BPF_RB_AVAIL_DATA);
	return avail < threshold && avail + size >= threshold ? BPF_RB_FORCE_WAKEUP : BPF_RB_NO_WAKEUP;
}

static __always_inline void emit(struct sock_scratch *s, __u32 plen)
{
	s->ev.payload_len = plen;
	__u64 size = sizeof(struct sock_event) + plen;
	asm volatile("%[sz] &= 16383" : [sz] "+r"(size));
	if (size > sizeof(*s))
		return;
	if (bpf_ringbuf_output(&sock_events, s, size, wakeup_flag(size + 8 /* ring record header */)))
		stat_inc(SOCK_STAT_DROPS);
	else
		stat_inc(SOCK_STAT_RECORDS);
}

static __always_inline struct sock_scratch *scratch(void)
{
	__u32 zero = 0;
	return bpf_map_lookup_elem(&sock_scratch, &zero);
}

/* A record of the current process on socket sk, started in the per-CPU scratch (process and socket
 * filled in); NULL when the scratch is not there. */
static __always_inline struct sock_scratch *start_record(struct sock *sk)
{
	struct sock_scratch *s = scratch();
	if (!s)
		return NULL;
	fill_process(&s->ev);
	fill_sock(&s->ev, sk);
	return s;
}

/* sock_id (see the header comment) of a socket, without filling a record. */
static __always_inline __u64 sock_id_of(struct sock *skp)
{
#ifndef SOCK_COMPAT
	struct sock *sk = bpf_rdonly_cast(skp, bpf_core_type_id_kernel(struct sock));
	__u64 cookie = sk->__sk_common.skc_cookie.counter;
#else
	__u64 cookie = BPF_CORE_READ(skp, __sk_common.skc_cookie.counter);
#endif
	return cookie ? cookie : (__u64)skp;
}

/* Whether data syscalls of this kind are counted in the kernel (flows-only mode): TCP (a UDP record names
 * its peer per datagram), successful (errors are recorded), *mmsg aside (their byte sum needs a loop). */
static __always_inline bool countable(struct sock_args *a, long ret)
{
	if (a->kind != SOCK_KIND_DATA || ret < 0 || a->src == PL_MMSGHDR)
		return false;
	struct sock_config *c = sock_cfg();
	if (!c || !c->count_in_kernel)
		return false;
#ifndef SOCK_COMPAT
	struct sock *sk = bpf_rdonly_cast((void *)a->sk, bpf_core_type_id_kernel(struct sock));
	return sk->sk_protocol == IPPROTO_TCP;
#else
	struct sock *sk = (struct sock *)a->sk; /* outside BPF_CORE_READ: sock_args is not a kernel type */
	return BPF_CORE_READ(sk, sk_protocol) == IPPROTO_TCP;
#endif
}

/* Adds one data syscall to a socket's counters. */
static __always_inline void add_counts(struct sock_totals *t, __u8 dir, long ret, __u8 syscall)
{
	if (dir == SOCK_DIR_SEND) {
		__sync_fetch_and_add(&t->c.sent, ret);
		if (ret > 0)
			__sync_fetch_and_add(&t->c.send_calls, 1);
	} else {
		__sync_fetch_and_add(&t->c.recvd, ret);
		if (ret > 0)
			__sync_fetch_and_add(&t->c.recv_calls, 1);
	}
	__u64 bit = 1ULL << (syscall & 63);
	if (!(t->c.syscalls & bit))
		__sync_fetch_and_or(&t->c.syscalls, bit);
	__u64 jiffy = bpf_jiffies64(); /* inlined by the verifier; the coarse clock is not allowed here */
	if (jiffy != t->c.last_jiffy) {
		t->c.last_jiffy = jiffy;
		t->c.last_ns = bpf_ktime_get_ns();
	}
	t->c.counted += 1; /* a plain add: a lost increment under a race only blurs a statistic */
}

/* Counts a data syscall; false when it must be recorded instead: the socket's first data syscall (its
 * record names the flow's end and process), or one by another process than the last. */
static __always_inline bool count_data(struct sock *sk, __u32 tgid, __u8 dir, long ret, __u8 syscall)
{
	__u64 id = sock_id_of(sk);
	struct sock_totals *t = bpf_map_lookup_elem(&sock_totals, &id);
	if (!t || t->c.pid != tgid)
		return false;
	add_counts(t, dir, ret, syscall);
	return true;
}

/* After a countable syscall's record went out: its socket's counters start (at zero: the record has its
 * bytes), or follow the process that record names. The scratch holds the record header, which becomes
 * the entry's `ev` (struct sock_totals overlays struct sock_scratch). */
static __always_inline void start_counting(struct sock_scratch *s)
{
	__u64 id = s->ev.sock_id;
	struct sock_totals *t = bpf_map_lookup_elem(&sock_totals, &id);
	if (t) {
		t->c.pid = s->ev.pid;
		return;
	}
	struct sock_totals *nt = (struct sock_totals *)s;
	__builtin_memset(&nt->c, 0, sizeof(nt->c));
	nt->c.pid = s->ev.pid;
	nt->ev.payload_len = 0;
	if (bpf_map_update_elem(&sock_totals, &id, nt, BPF_NOEXIST) == -E2BIG)
		stat_inc(SOCK_STAT_TOTALS_FULL);
}

/* A closing socket's last counters into *out (its close record's payload), and its entry removed: under
 * its id or, when it was counted before its cookie existed, under its address. False: it was not counted. */
static __always_inline bool take_counts(__u64 id, __u64 addr, struct sock_counts *out)
{
	__u64 key = id;
	struct sock_totals *t = bpf_map_lookup_elem(&sock_totals, &key);
	if (!t && id != addr) {
		key = addr;
		t = bpf_map_lookup_elem(&sock_totals, &key);
	}
	if (!t)
		return false;
	stat_add(SOCK_STAT_COUNTED, t->c.counted);
	__builtin_memcpy(out, &t->c, sizeof(*out));
	bpf_map_delete_elem(&sock_totals, &key);
	return true;
}

/* Builds and emits the record of a finished syscall from its arguments (a) and return value. */
static __always_inline int record_exit(struct sock_args a, long ret)
{
	/* A would-block is not an event: non-blocking servers do it all the time. */
	if (ret == -EAGAIN && a.kind == SOCK_KIND_DATA)
		return 0;

	bool counting = countable(&a, ret);
	if (counting && count_data((struct sock *)a.sk, bpf_get_current_pid_tgid() >> 32, a.dir, ret, a.syscall))
		return 0;

	struct sock *sk = (struct sock *)a.sk;
	if (a.kind == SOCK_KIND_ACCEPT) {
		if (ret < 0)
			return 0; /* a failed accept has no socket to describe */
		sk = fd_to_sock((__u32)ret);
		if (!sk || !sock_traced(sk)) /* AF_UNIX listeners: the raw probe has not looked at the listener */
			return 0;
		__u8 role = SOCK_ROLE_SERVER;
		__u64 key = (__u64)sk;
		bpf_map_update_elem(&sock_roles, &key, &role, BPF_ANY);
	}

	struct sock_scratch *s = start_record(sk);
	if (!s)
		return 0;
	struct sock_event *e = &s->ev;
	e->ret = ret;
	e->fd = a.kind == SOCK_KIND_ACCEPT ? (__u32)ret : a.fd;
	e->kind = a.kind;
	e->dir = a.dir;
	e->syscall = a.syscall;
	e->bytes = 0;

	if (a.kind == SOCK_KIND_CONNECT) {
		fill_peer_from_sockaddr(e, a.addr);
		emit(s, 0);
		struct pending_connect *pc = bpf_map_lookup_elem(&sock_pending_connect, &a.sk);
		if (!pc)
			return 0;
		if (ret != -EINPROGRESS || !pc->done) {
			if (ret == -EINPROGRESS)
				pc->async = 1; /* outcome follows from inet_sock_set_state */
			else
				bpf_map_delete_elem(&sock_pending_connect, &a.sk); /* ret is the outcome */
			return 0;
		}
		/* the handshake already ended inside this connect(): report its outcome now */
		e->ret = pc->outcome; /* same tuple as the -EINPROGRESS record: it lands on the same flow */
		e->state = pc->state;
		e->ts_ns = bpf_ktime_get_ns();
		bpf_map_delete_elem(&sock_pending_connect, &a.sk);
		emit(s, 0);
		return 0;
	}
	if (a.kind != SOCK_KIND_DATA) {
		emit(s, 0);
		return 0;
	}

	__u32 cap = payload_cap();
	__u32 plen = 0;
	__u64 name = a.addr;
	if (ret > 0)
		e->bytes = ret;
	switch (a.src) {
	case PL_FLAT:
		if (ret > 0)
			plen = copy_payload(s, 0, a.buf, ret, cap);
		break;
	case PL_IOVEC:
		if (ret > 0)
			plen = copy_iovecs(s, a.buf, a.count, ret, cap);
		break;
	case PL_MSGHDR: {
		struct user_msghdr m = {};
		bpf_probe_read_user(&m, sizeof(m), (void *)a.buf);
		name = (__u64)m.msg_name;
		if (ret > 0)
			plen = copy_iovecs(s, (__u64)m.msg_iov, m.msg_iovlen, ret, cap);
		break;
	}
	case PL_MMSGHDR: {
		/* ret = number of messages; bytes = the sum of their msg_len; payload from the first. */
		struct mmsghdr m = {};
		bpf_probe_read_user(&m, sizeof(m), (void *)a.buf);
		name = (__u64)m.msg_hdr.msg_name;
		if (ret > 0) {
			struct mmsg_ctx c = { .vec = a.buf, .n = ret > MAX_MMSG ? MAX_MMSG : ret };
#ifndef SOCK_COMPAT
			bpf_loop(MAX_MMSG, mmsg_sum, &c, 0);
#else
			for (__u32 i = 0; i < 64; i++) /* no bpf_loop before 5.17: count the first 64 messages */
				if (mmsg_sum(i, &c))
					break;
#endif
			e->bytes = c.bytes;
			plen = copy_iovecs(s, (__u64)m.msg_hdr.msg_iov, m.msg_hdr.msg_iovlen, m.msg_len, cap);
		}
		break;
	}
	default:
		break;
	}
	if (e->proto == IPPROTO_UDP && ret >= 0)
		fill_peer_from_sockaddr(e, name);
	emit(s, plen);
	if (counting)
		start_counting(s);
	return 0;
}

#ifndef SOCK_RAW_TP
/* Classic tracepoints: the arguments were stashed per thread by the sys_enter_* program. */
static __always_inline int on_exit(long ret)
{
	struct sock_args a;
#ifndef SOCK_COMPAT
	struct sock_args *ap = bpf_task_storage_get(&sock_inflight, bpf_get_current_task_btf(), 0, 0);
	if (!ap || !ap->kind)
		return 0;
	a = *ap;
	ap->kind = 0;
#else
	__u64 id = bpf_get_current_pid_tgid();
	struct sock_args *ap = bpf_map_lookup_elem(&sock_inflight, &id);
	if (!ap)
		return 0;
	a = *ap;
	bpf_map_delete_elem(&sock_inflight, &id);
#endif
	return record_exit(a, ret);
}
#endif

/* close(): described at entry, because after the syscall the socket may already be freed. */
static __always_inline int on_close(__u32 fd)
{
	__u64 id = bpf_get_current_pid_tgid();
	if (!pid_traced(id >> 32))
		return 0;
	struct sock *sk = fd_to_sock(fd);
	if (!sk || !sock_traced(sk))
		return 0;
	struct sock_scratch *s = start_record(sk);
	if (!s)
		return 0;
	struct sock_event *e = &s->ev;
	e->ret = 0;
	e->bytes = 0;
	e->fd = fd;
	e->kind = SOCK_KIND_CLOSE;
	e->dir = SOCK_DIR_NONE;
	e->syscall = SOCK_SC_CLOSE;
	__u64 key = (__u64)sk;
	/* flows-only: the socket's last counters ride on its close record (struct sock_counts as payload) */
	if (take_counts(e->sock_id, key, (struct sock_counts *)s->payload_space))
		emit(s, sizeof(struct sock_counts));
	else
		emit(s, 0);
	bpf_map_delete_elem(&sock_roles, &key);
	bpf_map_delete_elem(&sock_pending_connect, &key);
	return 0;
}

#if defined(__TARGET_ARCH_x86)
/* x86-64 syscall numbers (arch/x86/entry/syscalls/syscall_64.tbl): the raw probes read them from the
 * saved registers. */
#define NR_read 0
#define NR_write 1
#define NR_readv 19
#define NR_writev 20
#define NR_sendfile 40
#define NR_connect 42
#define NR_accept 43
#define NR_sendto 44
#define NR_recvfrom 45
#define NR_sendmsg 46
#define NR_recvmsg 47
#define NR_splice 275
#define NR_accept4 288
#define NR_recvmmsg 299
#define NR_sendmmsg 307
#define TS_COMPAT 0x0002 /* thread_info.status: a 32-bit (ia32) syscall is running */
#endif

#ifndef SOCK_LITE /* sock_lite.bpf.c has programs of its own */
#ifndef SOCK_RAW_TP
#define ARG(n) (ctx->args[n])
#define ENTER(name) SEC("tracepoint/syscalls/sys_enter_" #name) int sock_enter_##name(struct trace_event_raw_sys_enter *ctx)
#define EXIT(name) SEC("tracepoint/syscalls/sys_exit_" #name) int sock_exit_##name(struct trace_event_raw_sys_exit *ctx) { return on_exit(ctx->ret); }

/* read(fd, buf, count) / write(fd, buf, count) */
ENTER(read) { return on_enter(ARG(0), ARG(1), ARG(2), 0, SOCK_SC_READ, SOCK_DIR_RECV, SOCK_KIND_DATA, PL_FLAT); }
EXIT(read)
ENTER(write) { return on_enter(ARG(0), ARG(1), ARG(2), 0, SOCK_SC_WRITE, SOCK_DIR_SEND, SOCK_KIND_DATA, PL_FLAT); }
EXIT(write)
/* readv(fd, iov, iovcnt) / writev */
ENTER(readv) { return on_enter(ARG(0), ARG(1), ARG(2), 0, SOCK_SC_READV, SOCK_DIR_RECV, SOCK_KIND_DATA, PL_IOVEC); }
EXIT(readv)
ENTER(writev) { return on_enter(ARG(0), ARG(1), ARG(2), 0, SOCK_SC_WRITEV, SOCK_DIR_SEND, SOCK_KIND_DATA, PL_IOVEC); }
EXIT(writev)
/* sendto(fd, buf, len, flags, dest_addr, addrlen) / recvfrom(fd, buf, len, flags, src_addr, addrlen) */
ENTER(sendto) { return on_enter(ARG(0), ARG(1), ARG(2), ARG(4), SOCK_SC_SENDTO, SOCK_DIR_SEND, SOCK_KIND_DATA, PL_FLAT); }
EXIT(sendto)
ENTER(recvfrom) { return on_enter(ARG(0), ARG(1), ARG(2), ARG(4), SOCK_SC_RECVFROM, SOCK_DIR_RECV, SOCK_KIND_DATA, PL_FLAT); }
EXIT(recvfrom)
/* sendmsg(fd, msg, flags) / recvmsg */
ENTER(sendmsg) { return on_enter(ARG(0), ARG(1), 1, 0, SOCK_SC_SENDMSG, SOCK_DIR_SEND, SOCK_KIND_DATA, PL_MSGHDR); }
EXIT(sendmsg)
ENTER(recvmsg) { return on_enter(ARG(0), ARG(1), 1, 0, SOCK_SC_RECVMSG, SOCK_DIR_RECV, SOCK_KIND_DATA, PL_MSGHDR); }
EXIT(recvmsg)
/* sendmmsg(fd, msgvec, vlen, flags) / recvmmsg(fd, msgvec, vlen, flags, timeout) */
ENTER(sendmmsg) { return on_enter(ARG(0), ARG(1), ARG(2), 0, SOCK_SC_SENDMMSG, SOCK_DIR_SEND, SOCK_KIND_DATA, PL_MMSGHDR); }
EXIT(sendmmsg)
ENTER(recvmmsg) { return on_enter(ARG(0), ARG(1), ARG(2), 0, SOCK_SC_RECVMMSG, SOCK_DIR_RECV, SOCK_KIND_DATA, PL_MMSGHDR); }
EXIT(recvmmsg)
/* sendfile64(out_fd, in_fd, offset, count): the socket is out_fd; the bytes come from a file (no payload). */
ENTER(sendfile64) { return on_enter(ARG(0), 0, ARG(3), 0, SOCK_SC_SENDFILE, SOCK_DIR_SEND, SOCK_KIND_DATA, PL_NONE); }
EXIT(sendfile64)
/* splice(fd_in, off_in, fd_out, off_out, len, flags): a socket on either side (never both). */
ENTER(splice)
{
	__u32 out = ARG(2);
	if (fd_to_sock(out))
		return on_enter(out, 0, ARG(4), 0, SOCK_SC_SPLICE, SOCK_DIR_SEND, SOCK_KIND_DATA, PL_NONE);
	return on_enter(ARG(0), 0, ARG(4), 0, SOCK_SC_SPLICE, SOCK_DIR_RECV, SOCK_KIND_DATA, PL_NONE);
}
EXIT(splice)
/* connect(fd, addr, addrlen) */
ENTER(connect) { return on_enter(ARG(0), 0, 0, ARG(1), SOCK_SC_CONNECT, SOCK_DIR_NONE, SOCK_KIND_CONNECT, PL_NONE); }
EXIT(connect)
/* accept(fd, addr, addrlen) / accept4(fd, addr, addrlen, flags): fd is the listener here. */
ENTER(accept) { return on_enter(ARG(0), 0, 0, 0, SOCK_SC_ACCEPT, SOCK_DIR_NONE, SOCK_KIND_ACCEPT, PL_NONE); }
EXIT(accept)
ENTER(accept4) { return on_enter(ARG(0), 0, 0, 0, SOCK_SC_ACCEPT4, SOCK_DIR_NONE, SOCK_KIND_ACCEPT, PL_NONE); }
EXIT(accept4)
#else /* SOCK_RAW_TP */
#define ARG(n) (ctx->args[n])
#define ENTER(name) SEC("tracepoint/syscalls/sys_enter_" #name) int sock_enter_##name(struct trace_event_raw_sys_enter *ctx)

/* connect() needs its entry (the handshake may finish inside the syscall, see pending_connect); close()
 * is described at entry. Everything else is recorded by the one raw sys_exit program below. */
ENTER(connect) { return on_enter(ARG(0), 0, 0, ARG(1), SOCK_SC_CONNECT, SOCK_DIR_NONE, SOCK_KIND_CONNECT, PL_NONE); }

#if defined(__TARGET_ARCH_x86)
/* One program for every syscall exit of every thread (raw tracepoint: the registers and the return
 * value, no trace-event buffer): what is not ours leaves after a compare. The syscall's arguments are
 * still in the saved registers at exit, so no entry program and no per-thread stash are needed; the fd
 * is resolved here, after the would-block check, so EAGAIN costs nothing beyond the dispatch. */
SEC("raw_tracepoint/sys_exit")
int sock_sys_exit(struct bpf_raw_tracepoint_args *ctx)
{
	struct pt_regs *regs = bpf_rdonly_cast((void *)ctx->args[0], bpf_core_type_id_kernel(struct pt_regs));
	long ret = (long)ctx->args[1];
	long nr = regs->orig_ax;
	struct sock_args a = { .kind = SOCK_KIND_DATA, .count = PT_REGS_PARM3_SYSCALL(regs) };
	__u32 fd = PT_REGS_PARM1_SYSCALL(regs);

	switch (nr) {
	case NR_read:     a.syscall = SOCK_SC_READ;     a.dir = SOCK_DIR_RECV; a.src = PL_FLAT; break;
	case NR_write:    a.syscall = SOCK_SC_WRITE;    a.dir = SOCK_DIR_SEND; a.src = PL_FLAT; break;
	case NR_readv:    a.syscall = SOCK_SC_READV;    a.dir = SOCK_DIR_RECV; a.src = PL_IOVEC; break;
	case NR_writev:   a.syscall = SOCK_SC_WRITEV;   a.dir = SOCK_DIR_SEND; a.src = PL_IOVEC; break;
	case NR_sendto:   a.syscall = SOCK_SC_SENDTO;   a.dir = SOCK_DIR_SEND; a.src = PL_FLAT; break;
	case NR_recvfrom: a.syscall = SOCK_SC_RECVFROM; a.dir = SOCK_DIR_RECV; a.src = PL_FLAT; break;
	case NR_sendmsg:  a.syscall = SOCK_SC_SENDMSG;  a.dir = SOCK_DIR_SEND; a.src = PL_MSGHDR; a.count = 1; break;
	case NR_recvmsg:  a.syscall = SOCK_SC_RECVMSG;  a.dir = SOCK_DIR_RECV; a.src = PL_MSGHDR; a.count = 1; break;
	case NR_sendmmsg: a.syscall = SOCK_SC_SENDMMSG; a.dir = SOCK_DIR_SEND; a.src = PL_MMSGHDR; break;
	case NR_recvmmsg: a.syscall = SOCK_SC_RECVMMSG; a.dir = SOCK_DIR_RECV; a.src = PL_MMSGHDR; break;
	case NR_sendfile: a.syscall = SOCK_SC_SENDFILE; a.dir = SOCK_DIR_SEND; a.src = PL_NONE; break;
	case NR_splice:   a.syscall = SOCK_SC_SPLICE;   a.src = PL_NONE; break;
	case NR_connect:  a.syscall = SOCK_SC_CONNECT;  a.kind = SOCK_KIND_CONNECT; a.src = PL_NONE; break;
	case NR_accept:   a.syscall = SOCK_SC_ACCEPT;   a.kind = SOCK_KIND_ACCEPT; a.src = PL_NONE; break;
	case NR_accept4:  a.syscall = SOCK_SC_ACCEPT4;  a.kind = SOCK_KIND_ACCEPT; a.src = PL_NONE; break;
	default:
		return 0;
	}
	if (ret == -EAGAIN && a.kind == SOCK_KIND_DATA)
		return 0;
	/* 32-bit tasks use other syscall numbers (the classic tracepoints skip them too) */
	struct task_struct *task = bpf_get_current_task_btf();
	if (task->thread_info.status & TS_COMPAT)
		return 0;
	if (!pid_traced(bpf_get_current_pid_tgid() >> 32))
		return 0;

	switch (a.syscall) {
	case SOCK_SC_SENDTO:
	case SOCK_SC_RECVFROM:
		a.addr = PT_REGS_PARM5_SYSCALL(regs);
		break;
	case SOCK_SC_SENDFILE: /* sendfile64(out_fd, in_fd, offset, count): the socket is out_fd */
		a.count = PT_REGS_PARM4_SYSCALL(regs);
		break;
	case SOCK_SC_SPLICE: { /* splice(fd_in, off_in, fd_out, off_out, len, flags): a socket on either side */
		__u32 out = PT_REGS_PARM3_SYSCALL(regs);
		a.count = PT_REGS_PARM5_SYSCALL(regs);
		if (fd_to_sock(out)) {
			fd = out;
			a.dir = SOCK_DIR_SEND;
		} else {
			a.dir = SOCK_DIR_RECV;
		}
		break;
	}
	case SOCK_SC_CONNECT: /* connect(fd, addr, addrlen) */
		a.addr = PT_REGS_PARM2_SYSCALL(regs);
		a.count = 0;
		break;
	case SOCK_SC_ACCEPT:
	case SOCK_SC_ACCEPT4:
		/* the listener (fd) is not described: record_exit resolves the new socket from ret */
		a.fd = fd;
		return ret < 0 ? 0 : record_exit(a, ret);
	default:
		break;
	}
	if (a.src != PL_NONE)
		a.buf = PT_REGS_PARM2_SYSCALL(regs);
	struct sock *sk = fd_to_sock(fd);
	if (!sk || !sock_traced(sk))
		return 0;
	a.sk = (__u64)sk;
	a.fd = fd;
	return record_exit(a, ret);
}
#endif /* __TARGET_ARCH_x86: other architectures use the classic tracepoint object (sock.bpf.o) */
#endif /* SOCK_RAW_TP */

ENTER(close) { return on_close(ARG(0)); }

#ifdef SOCK_TEST_MISSING_TRACEPOINT
/* Test build only (test/collect/sock-collector.test.ts): a pair whose tracepoint no kernel has, to
 * check that the collector reports and skips it. */
SEC("tracepoint/syscalls/sys_enter_faultlens_missing")
int sock_enter_faultlens_missing(struct trace_event_raw_sys_enter *ctx) { return 0; }
SEC("tracepoint/syscalls/sys_exit_faultlens_missing")
int sock_exit_faultlens_missing(struct trace_event_raw_sys_exit *ctx) { return 0; }
#endif

/* Outcome of a non-blocking connect (SYN_SENT -> ESTABLISHED or -> CLOSE with sk_err set). Runs in
 * softirq context, so the process comes from what connect() stashed. */
SEC("tracepoint/sock/inet_sock_set_state")
int sock_connect_outcome(struct trace_event_raw_inet_sock_set_state *ctx)
{
	if (ctx->oldstate != TCP_SYN_SENT || ctx->protocol != IPPROTO_TCP)
		return 0;
	__u64 key = (__u64)ctx->skaddr;
	struct pending_connect *pc = bpf_map_lookup_elem(&sock_pending_connect, &key);
	if (!pc)
		return 0;
	struct sock *sk = (struct sock *)ctx->skaddr;
	__s32 outcome = 0;
	if (ctx->newstate != TCP_ESTABLISHED) {
		int err = BPF_CORE_READ(sk, sk_err);
		outcome = err ? -err : -ECONNABORTED;
	}
	if (!pc->async) {
		/* still inside connect(): its exit reports this */
		pc->done = 1;
		pc->outcome = outcome;
		pc->state = ctx->newstate;
		return 0;
	}
	/* Softirq may interrupt a syscall program on this CPU mid-record: build this one on the stack,
	 * not in the per-CPU scratch the interrupted program is using. */
	struct sock_event ev = {};
	struct sock_event *e = &ev;
	e->ts_ns = bpf_ktime_get_ns();
	e->pid = pc->pid;
	e->tid = pc->tid;
	e->cgroup_id = pc->cgroup_id;
	__builtin_memcpy(e->comm, pc->comm, sizeof(e->comm));
	e->fd = pc->fd;
	bpf_map_delete_elem(&sock_pending_connect, &key);
	fill_sock(e, sk);
	e->state = ctx->newstate;
	e->ret = outcome;
	e->bytes = 0;
	e->kind = SOCK_KIND_CONNECT;
	e->dir = SOCK_DIR_NONE;
	e->syscall = SOCK_SC_CONNECT;
	if (bpf_ringbuf_output(&sock_events, e, sizeof(*e), wakeup_flag(sizeof(*e) + 8)))
		stat_inc(SOCK_STAT_DROPS);
	else
		stat_inc(SOCK_STAT_RECORDS);
	return 0;
}
#endif /* !SOCK_LITE */
