// SPDX-License-Identifier: GPL-2.0
/* TLS plaintext from OpenSSL: uprobes on SSL_write/SSL_read and their _ex variants in libssl, so HTTPS
 * is parsed like plain HTTP.
 *
 * Joining plaintext to its socket without struct offsets: the SSL* is opaque (its layout changes between
 * OpenSSL builds), so instead of SSL_get_fd we watch the thread's own socket syscalls while it is inside
 * an SSL call — the read()/write() (or recvfrom/sendto/readv/writev/recvmsg/sendmsg) that OpenSSL makes
 * on the connection's fd. The fd learned is cached per (pid, SSL*) for calls served from OpenSSL's
 * buffers without a syscall. User space maps (pid, fd) to the socket the socket collector saw.
 */
#include "common.h"
#include "tls.h"

struct tls_call {
	__u64 ssl;
	__u64 buf;
	__u64 sizep;   /* size_t * of the _ex variants, else 0 */
	__u64 start_ns;
	__s32 fd;
	__u8 dir;
	__u8 ex;
	__u8 _pad[2];
};

struct ssl_key {
	__u64 ssl;
	__u32 pid;
	__u32 _pad;
};

struct tls_scratch {
	struct tls_event ev;
	__u8 payload[TLS_PAYLOAD_MAX];
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16384);
	__type(key, __u64); /* pid_tgid */
	__type(value, struct tls_call);
} tls_active SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 65536);
	__type(key, struct ssl_key);
	__type(value, __s32);
} tls_fds SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 4 << 20);
} tls_events SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct tls_scratch);
} tls_scratch_map SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct tls_config);
} tls_config SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, TLS_STAT__COUNT);
	__type(key, __u32);
	__type(value, __u64);
} tls_stats SEC(".maps");

FL_EXPORT_STRUCT(tls_event);
FL_EXPORT_STRUCT(tls_config);

static __always_inline void stat_inc(__u32 i)
{
	__u64 *v = bpf_map_lookup_elem(&tls_stats, &i);
	if (v)
		*v += 1;
}

static __always_inline struct tls_config *cfg(void)
{
	__u32 z = 0;
	return bpf_map_lookup_elem(&tls_config, &z);
}

static __always_inline int enter(void *ssl, void *buf, void *sizep, __u8 dir, __u8 ex)
{
	__u64 id = bpf_get_current_pid_tgid();
	__u32 tgid = id >> 32;
	struct tls_config *c = cfg();
	if (c && c->self_pid && c->self_pid == tgid)
		return 0;
	if (c && c->filter_pid && c->filter_pid != tgid)
		return 0;
	struct tls_call call = {
		.ssl = (__u64)ssl, .buf = (__u64)buf, .sizep = (__u64)sizep, .start_ns = bpf_ktime_get_ns(),
		.fd = -1, .dir = dir, .ex = ex,
	};
	/* BPF_NOEXIST: an OpenSSL that implements one variant through the other keeps the outer call */
	bpf_map_update_elem(&tls_active, &id, &call, BPF_NOEXIST);
	return 0;
}

SEC("uprobe")
int BPF_KPROBE(tls_enter_write, void *ssl, const void *buf, int num)
{
	return enter(ssl, (void *)buf, 0, TLS_DIR_SEND, 0);
}

SEC("uprobe")
int BPF_KPROBE(tls_enter_read, void *ssl, void *buf, int num)
{
	return enter(ssl, buf, 0, TLS_DIR_RECV, 0);
}

SEC("uprobe")
int BPF_KPROBE(tls_enter_write_ex, void *ssl, const void *buf, __u64 num, __u64 *written)
{
	return enter(ssl, (void *)buf, written, TLS_DIR_SEND, 1);
}

SEC("uprobe")
int BPF_KPROBE(tls_enter_read_ex, void *ssl, void *buf, __u64 num, __u64 *readbytes)
{
	return enter(ssl, buf, readbytes, TLS_DIR_RECV, 1);
}

SEC("uretprobe")
int BPF_KRETPROBE(tls_exit, long ret)
{
	__u64 id = bpf_get_current_pid_tgid();
	struct tls_call *call = bpf_map_lookup_elem(&tls_active, &id);
	if (!call)
		return 0;
	struct ssl_key key = { .ssl = call->ssl, .pid = id >> 32 };
	__s32 fd = call->fd;
	__u8 src = TLS_FD_SYSCALL;
	if (fd >= 0) {
		bpf_map_update_elem(&tls_fds, &key, &fd, BPF_ANY);
	} else {
		__s32 *cached = bpf_map_lookup_elem(&tls_fds, &key);
		fd = cached ? *cached : -1;
		src = cached ? TLS_FD_CACHED : TLS_FD_NONE;
	}
	__u64 bytes = 0;
	if (call->ex) {
		if ((int)ret == 1 && call->sizep)
			bpf_probe_read_user(&bytes, sizeof(bytes), (void *)call->sizep);
	} else if ((int)ret > 0) {
		bytes = (__u32)(int)ret;
	}
	if (bytes == 0)
		goto out;
	__u32 z = 0;
	struct tls_scratch *s = bpf_map_lookup_elem(&tls_scratch_map, &z);
	if (!s)
		goto out;
	struct tls_config *c = cfg();
	__u32 cap = c && c->configured ? c->payload_max : TLS_PAYLOAD_DEFAULT;
	if (cap > TLS_PAYLOAD_MAX)
		cap = TLS_PAYLOAD_MAX;
	__u64 n = bytes < cap ? bytes : cap;
	asm volatile("%[n] &= 4095" : [n] "+r"(n));
	if (bytes >= TLS_PAYLOAD_MAX && cap == TLS_PAYLOAD_MAX)
		n = TLS_PAYLOAD_MAX - 1; /* keep the masked bound exact for the verifier */
	if (n && bpf_probe_read_user(s->payload, n, (void *)call->buf))
		n = 0;
	s->ev.ts_ns = bpf_ktime_get_ns();
	s->ev.start_ns = call->start_ns;
	s->ev.ssl = call->ssl;
	s->ev.cgroup_id = bpf_get_current_cgroup_id();
	s->ev.pid = id >> 32;
	s->ev.tid = (__u32)id;
	s->ev.fd = fd;
	s->ev.bytes = bytes;
	s->ev.payload_len = n;
	s->ev.dir = call->dir;
	s->ev.fd_source = src;
	bpf_get_current_comm(s->ev.comm, sizeof(s->ev.comm));
	if (fd < 0)
		stat_inc(TLS_STAT_NO_FD);
	__u64 size = sizeof(struct tls_event) + n;
	asm volatile("%[sz] &= 8191" : [sz] "+r"(size));
	if (size > sizeof(*s))
		goto out;
	if (bpf_ringbuf_output(&tls_events, s, size, 0))
		stat_inc(TLS_STAT_DROPS);
	else
		stat_inc(TLS_STAT_RECORDS);
out:
	bpf_map_delete_elem(&tls_active, &id);
	return 0;
}

/* The fd of the socket syscall a thread makes while inside an SSL call. */
static __always_inline int note_fd(long fd)
{
	__u64 id = bpf_get_current_pid_tgid();
	struct tls_call *call = bpf_map_lookup_elem(&tls_active, &id);
	if (call && call->fd < 0)
		call->fd = (__s32)fd;
	return 0;
}

#define FD_TRACEPOINT(name)                                                   \
	SEC("tracepoint/syscalls/sys_enter_" #name)                           \
	int tls_fd_##name(struct trace_event_raw_sys_enter *ctx)              \
	{                                                                     \
		return note_fd(ctx->args[0]);                                 \
	}

FD_TRACEPOINT(read)
FD_TRACEPOINT(write)
FD_TRACEPOINT(readv)
FD_TRACEPOINT(writev)
FD_TRACEPOINT(recvfrom)
FD_TRACEPOINT(sendto)
FD_TRACEPOINT(recvmsg)
FD_TRACEPOINT(sendmsg)

char LICENSE[] SEC("license") = "GPL";
