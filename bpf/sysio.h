/* Records shared between bpf/sysio.bpf.c and user space (src/collect/sysio-*.ts): block-IO latency per
 * (process, device, op), run-queue latency and CPU time per process, slow-IO outliers.
 * User space reads every layout from the object's BTF; keep the field names the decoder asks for. */
#ifndef FAULTLENS_SYSIO_H
#define FAULTLENS_SYSIO_H

#define SIO_COMM_LEN 16
/* Latency histograms: log2 buckets split in 4 linear sub-buckets (each ~19 % wide, so percentiles come out
 * within ~10 %). Value v in ns: v < 4 -> slot v; else l = floor(log2 v), slot = 4 * (l - 1) + ((v >> (l - 2)) & 3).
 * 160 slots reach 2^40 ns (~18 min); longer samples land in the last slot. */
#define SIO_HIST_SLOTS 160

enum sio_op {
	SIO_OP_READ = 0,
	SIO_OP_WRITE = 1,
	SIO_OP_DISCARD = 2,
	SIO_OP_FLUSH = 3,
	SIO_OP_OTHER = 4,
};

/* Block IO issued by one process to one device, one op. */
struct sio_io_key {
	__u32 tgid; /* the submitter (block_io_start context; the issuer when io_start is missing) */
	__u32 dev;  /* kernel dev_t: major << 20 | minor */
	__u32 op;   /* enum sio_op */
	__u32 _pad;
};

struct sio_io_stats {
	__u64 count;
	__u64 bytes;
	__u64 total_ns;   /* issue -> complete (device time) */
	__u64 max_ns;
	__u64 queue_ns;   /* io_start -> issue, summed (time in the block layer's queues) */
	__u64 errors;
	__u64 cgroup_id;
	char comm[SIO_COMM_LEN];
	__u64 hist[SIO_HIST_SLOTS]; /* issue -> complete */
};

/* Scheduler view of one process (all its threads). */
struct sio_proc {
	__u64 cpu_ns;        /* on-CPU time, summed at switch-out */
	__u64 runq_count;    /* times a thread waited in a run queue */
	__u64 runq_total_ns;
	__u64 runq_max_ns;
	__u64 cgroup_id;
	char comm[SIO_COMM_LEN]; /* the thread-group leader's */
	__u64 hist[SIO_HIST_SLOTS]; /* run-queue wait: wakeup / preemption -> on CPU */
};

/* A slow block IO (latency >= sio_config.slow_io_ns), sent to the `sio_slow` ring buffer. */
struct sio_slow_io {
	__u64 ts_ns;      /* completion */
	__u64 lat_ns;     /* issue -> complete */
	__u64 queue_ns;   /* io_start -> issue */
	__u64 sector;
	__u64 cgroup_id;
	__u32 dev;
	__u32 bytes;
	__u32 tgid;
	__u32 tid;
	__u32 op;
	__s32 error;
	char comm[SIO_COMM_LEN];
};

struct sio_config {
	__u64 slow_io_ns; /* 0: no outlier events */
};

enum sio_stat {
	SIO_STAT_SLOW_EVENTS = 0,
	SIO_STAT_SLOW_DROPS = 1,
	SIO_STAT_IO_UNTRACKED = 2, /* completions without a seen issue (started before we attached) */
	SIO_STAT_MAP_FULL = 3,
	SIO_STAT__COUNT = 8,
};

#endif
