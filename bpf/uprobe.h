/* Records shared between bpf/uprobe.bpf.c and user space (src/collect/business-*.ts).
 * One generic program serves every business probe: the attach cookie is the probe id, the spec of what to
 * capture lives in `biz_specs[probe id]`, written by user space before attaching. Adding a probe needs no
 * recompile. User space reads every layout from the object's BTF; keep the field names the decoder asks for. */
#ifndef FAULTLENS_UPROBE_H
#define FAULTLENS_UPROBE_H

#define BIZ_COMM_LEN 16
#define BIZ_MAX_ARGS 8
#define BIZ_MAX_DEREF 4     /* pointer hops per argument (struct member of a struct member ...) */
#define BIZ_DATA_MAX 512    /* captured bytes per call (user space lays the args out inside this) */
#define BIZ_FIELD_MAX 256   /* one string / byte field at most */
#define BIZ_DATA_BUF (BIZ_DATA_MAX + BIZ_FIELD_MAX) /* slack so the verifier can bound off + len */
#define BIZ_MAX_PROBES 1024

/* Where an argument's value comes from at function entry (x86-64 SysV; see business-spec.ts). */
enum biz_src {
	BIZ_SRC_REG = 0,    /* integer-class argument register n (0..5: rdi rsi rdx rcx r8 r9) */
	BIZ_SRC_STACK = 1,  /* 8-byte stack slot at sp + off (entry: 8 = the 7th integer argument) */
	BIZ_SRC_RET = 2,    /* the return value (rax), uretprobe only */
};

/* What is read at the final location. */
enum biz_kind {
	BIZ_KIND_INT = 0,        /* size 1/2/4/8 bytes (sign is a user-space matter) */
	BIZ_KIND_STR = 1,        /* the location holds a char *: NUL-terminated string, at most size bytes */
	BIZ_KIND_STR_INLINE = 2, /* the location is a char array: string read in place */
	BIZ_KIND_BYTES = 3,      /* size bytes; with no deref the register is a pointer to them */
};

/* One argument: take the source value V; for each of the nderef offsets: addr = V + off[i], and, except for
 * the last, V = *(u64 *)addr. With nderef == 0 the value is V itself (strings/bytes: V is the pointer). */
struct biz_arg {
	__u8 src;     /* enum biz_src */
	__u8 kind;    /* enum biz_kind */
	__u8 nderef;
	__u8 _pad;
	__u16 size;   /* int width, or max bytes for strings / bytes */
	__u16 out_off; /* where the value goes in biz_event.data */
	__s32 reg_or_off; /* register index (REG) or stack offset (STACK) */
	__s32 deref[BIZ_MAX_DEREF];
};

#define BIZ_F_RETURN 1 /* entry stashes, the uretprobe completes and emits (with return value + duration) */

struct biz_spec {
	__u32 flags;
	__u32 sample_every; /* record 1 call in N (0, 1: every call); calls are counted either way */
	__u16 nargs;     /* entry args */
	__u16 data_len;  /* bytes of data this probe uses (record size = header + data_len) */
	struct biz_arg args[BIZ_MAX_ARGS];
	struct biz_arg ret; /* used when flags & BIZ_F_RETURN: read at return */
};

/* One probed call. err_mask bit i: arg i could not be read (NULL / unmapped pointer); bit 31: the return. */
struct biz_event {
	__u64 ts_ns;      /* entry time, bpf_ktime_get_ns() */
	__u64 dur_ns;     /* entry -> return (0 without BIZ_F_RETURN) */
	__u64 cgroup_id;
	__u64 ret;        /* raw return register (without BIZ_F_RETURN: 0) */
	__u32 probe_id;
	__u32 pid;        /* tgid */
	__u32 tid;
	__u32 err_mask;
	__u16 data_len;
	__u16 flags;      /* BIZ_F_RETURN when ret/dur are valid */
	char comm[BIZ_COMM_LEN];
	__u8 data[BIZ_DATA_BUF];
};

/* Per probe, in the per-CPU `biz_calls` hash (entry created by user space when the probe starts). */
struct biz_calls {
	__u64 calls;    /* every hit of the entry probe */
	__u64 recorded; /* calls sampled for a record (written or dropped) */
};

/* Counters in the per-CPU `biz_counters` array. */
enum biz_stat {
	BIZ_STAT_EVENTS = 0,     /* records written */
	BIZ_STAT_DROPS = 1,      /* ring buffer full */
	BIZ_STAT_NO_SPEC = 2,    /* a hit whose cookie has no spec */
	BIZ_STAT_NO_ENTRY = 3,   /* a return without a stashed entry (attached mid-call, or stash full) */
	BIZ_STAT_STASH_FULL = 4,
	BIZ_STAT__COUNT = 8,
};

#endif
