/* Records shared between bpf/tls.bpf.c and user space (src/collect/tls-decoder.ts): plaintext of
 * OpenSSL's SSL_read/SSL_write(_ex) with the fd the call used. User space reads this layout from the
 * object's BTF (field names are the contract, not offsets). */
#ifndef FAULTLENS_TLS_H
#define FAULTLENS_TLS_H

#define TLS_COMM_LEN 16
#define TLS_PAYLOAD_MAX 4096
#define TLS_PAYLOAD_DEFAULT 1024

enum tls_dir { TLS_DIR_SEND = 1, TLS_DIR_RECV = 2 }; /* same values as enum sock_dir */

/* How the record's fd was found. */
enum tls_fd_source {
	TLS_FD_NONE = 0,    /* unknown: no socket syscall inside this call nor earlier on this SSL */
	TLS_FD_SYSCALL = 1, /* the thread's read/write-family syscall inside this SSL call */
	TLS_FD_CACHED = 2,  /* an earlier call on the same SSL object did a syscall on this fd */
};

enum tls_stat { TLS_STAT_RECORDS = 0, TLS_STAT_DROPS = 1, TLS_STAT_NO_FD = 2, TLS_STAT__COUNT = 4 };

/* Variable-length record: this header followed by payload_len bytes of plaintext. */
struct tls_event {
	__u64 ts_ns;       /* bpf_ktime_get_ns() at the call's return */
	__u64 start_ns;    /* at the call's entry */
	__u64 ssl;         /* the SSL* (identifies the TLS connection within the process) */
	__u64 cgroup_id;
	__u32 pid;
	__u32 tid;
	__s32 fd;          /* -1 when unknown */
	__u32 bytes;       /* plaintext bytes the call moved */
	__u32 payload_len; /* bytes that follow */
	__u8 dir;          /* enum tls_dir */
	__u8 fd_source;    /* enum tls_fd_source */
	__u8 _pad[2];
	char comm[TLS_COMM_LEN];
};

struct tls_config {
	__u32 self_pid;
	__u32 payload_max;
	__u32 filter_pid;
	__u32 configured;
};

#endif
