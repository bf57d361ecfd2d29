/* Attachments that produce bpf_links (released by closing the link): tracepoint, raw tracepoint,
 * uprobe/uretprobe and cgroup hooks. Each records a description and joins its object's list. */
#include "fl.h"
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct fl_link *fl_link_new(enum fl_link_kind kind)
{
	struct fl_link *l = calloc(1, sizeof(*l));
	if (l) {
		l->kind = kind;
		l->refs = 1; /* the owner's list */
		l->active = true;
		l->fd = -1;
	}
	return l;
}

static napi_value finish_bpf_link(napi_env env, struct fl_object *o, struct bpf_link *bl, const char *desc)
{
	struct fl_link *l = fl_link_new(FL_LINK_BPF);
	if (!l) {
		bpf_link__destroy(bl);
		fl_throw(env, ENOMEM, "out of memory");
		return NULL;
	}
	l->link = bl;
	snprintf(l->desc, sizeof(l->desc), "%s", desc);
	fl_object_add_link(o, l);
	return fl_link_wrap(env, l);
}

static bool path_exists(const char *p)
{
	struct stat st;
	return stat(p, &st) == 0;
}

/* attachTracepoint(obj, prog, category, event) -> { handle, description } */
static napi_value attach_tracepoint(napi_env env, napi_callback_info info)
{
	napi_value argv[4];
	char cat[128], ev[128], p1[512], p2[512];
	if (!fl_args(env, info, 4, argv, NULL))
		return NULL;
	struct fl_object *o = fl_object_from(env, argv[0]);
	struct bpf_program *prog = o ? fl_program_from(env, o, argv[1]) : NULL;
	if (!prog || !fl_get_string(env, argv[2], cat, sizeof(cat), "tracepoint category") ||
	    !fl_get_string(env, argv[3], ev, sizeof(ev), "tracepoint event"))
		return NULL;
	const char *name = bpf_program__name(prog);
	/* libbpf looks in tracefs, then debugfs: check both so the error says which is missing */
	if (!path_exists("/sys/kernel/tracing/events") && !path_exists("/sys/kernel/debug/tracing/events")) {
		fl_throw(env, ENOENT, "cannot attach program '%s' to tracepoint %s/%s: tracefs is not mounted "
			 "(mount -t tracefs nodev /sys/kernel/tracing)", name, cat, ev);
		return NULL;
	}
	snprintf(p1, sizeof(p1), "/sys/kernel/tracing/events/%s/%s", cat, ev);
	snprintf(p2, sizeof(p2), "/sys/kernel/debug/tracing/events/%s/%s", cat, ev);
	if (!path_exists(p1) && !path_exists(p2)) {
		fl_throw(env, ENOENT, "cannot attach program '%s': tracepoint %s/%s does not exist in this kernel (no %s)",
			 name, cat, ev, path_exists("/sys/kernel/tracing/events") ? p1 : p2);
		return NULL;
	}
	fl_log_reset();
	struct bpf_link *bl = bpf_program__attach_tracepoint(prog, cat, ev);
	int err = libbpf_get_error(bl);
	if (err) {
		fl_throw_log(env, err, "cannot attach program '%s' to tracepoint %s/%s: %s", name, cat, ev, fl_strerror(-err));
		return NULL;
	}
	char desc[512];
	snprintf(desc, sizeof(desc), "tracepoint %s/%s -> %s", cat, ev, name);
	return finish_bpf_link(env, o, bl, desc);
}

/* attachRawTracepoint(obj, prog, event) */
static napi_value attach_raw_tracepoint(napi_env env, napi_callback_info info)
{
	napi_value argv[3];
	char ev[128];
	if (!fl_args(env, info, 3, argv, NULL))
		return NULL;
	struct fl_object *o = fl_object_from(env, argv[0]);
	struct bpf_program *prog = o ? fl_program_from(env, o, argv[1]) : NULL;
	if (!prog || !fl_get_string(env, argv[2], ev, sizeof(ev), "raw tracepoint name"))
		return NULL;
	const char *name = bpf_program__name(prog);
	/* A BTF-typed raw tracepoint (SEC("tp_btf/...")) names its tracepoint at load (attach_btf_id): the
	 * kernel refuses a name at attach time, so it goes through the tracing attach instead. */
	bool btf = bpf_program__type(prog) == BPF_PROG_TYPE_TRACING;
	fl_log_reset();
	struct bpf_link *bl = btf ? bpf_program__attach_trace(prog) : bpf_program__attach_raw_tracepoint(prog, ev);
	int err = libbpf_get_error(bl);
	if (err) {
		fl_throw_log(env, err, "cannot attach program '%s' to %s %s: %s%s", name, btf ? "tp_btf" : "raw tracepoint", ev,
			     fl_strerror(-err), err == -ENOENT ? " (no such raw tracepoint in this kernel)" : "");
		return NULL;
	}
	char desc[512];
	snprintf(desc, sizeof(desc), "%s %s -> %s", btf ? "tp_btf" : "raw_tracepoint", ev, name);
	return finish_bpf_link(env, o, bl, desc);
}

/* attachUprobe(obj, prog, binary, symbol|null, offset, pid, retprobe, cookie) */
static napi_value attach_uprobe(napi_env env, napi_callback_info info)
{
	napi_value argv[8];
	char binary[4096], symbol[256] = "";
	int64_t offset = 0, pid = -1;
	uint64_t cookie = 0;
	bool retprobe = false;
	if (!fl_args(env, info, 8, argv, NULL))
		return NULL;
	struct fl_object *o = fl_object_from(env, argv[0]);
	struct bpf_program *prog = o ? fl_program_from(env, o, argv[1]) : NULL;
	if (!prog || !fl_get_string(env, argv[2], binary, sizeof(binary), "uprobe binary"))
		return NULL;
	if (!fl_is_nullish(env, argv[3]) && !fl_get_string(env, argv[3], symbol, sizeof(symbol), "uprobe symbol"))
		return NULL;
	if (!fl_is_nullish(env, argv[4]) && !fl_get_int64(env, argv[4], &offset, "uprobe offset"))
		return NULL;
	if (!fl_is_nullish(env, argv[5]) && !fl_get_int64(env, argv[5], &pid, "uprobe pid"))
		return NULL;
	if (!fl_is_nullish(env, argv[6]))
		napi_get_value_bool(env, argv[6], &retprobe);
	if (!fl_is_nullish(env, argv[7]) && !fl_get_uint64(env, argv[7], &cookie, "uprobe cookie"))
		return NULL;
	const char *name = bpf_program__name(prog);
	const char *kind = retprobe ? "uretprobe" : "uprobe";
	if (strchr(binary, '/') && !path_exists(binary)) {
		fl_throw(env, ENOENT, "cannot attach program '%s' as %s: binary %s does not exist", name, kind, binary);
		return NULL;
	}
	LIBBPF_OPTS(bpf_uprobe_opts, opts, .retprobe = retprobe, .bpf_cookie = cookie,
		    .func_name = *symbol ? symbol : NULL);
	fl_log_reset();
	struct bpf_link *bl = bpf_program__attach_uprobe_opts(prog, pid >= 0 ? (pid_t)pid : -1, binary, (size_t)offset, &opts);
	int err = libbpf_get_error(bl);
	char where[512];
	if (*symbol && offset)
		snprintf(where, sizeof(where), "%s:%s+0x%llx", binary, symbol, (unsigned long long)offset);
	else if (*symbol)
		snprintf(where, sizeof(where), "%s:%s", binary, symbol);
	else
		snprintf(where, sizeof(where), "%s:0x%llx", binary, (unsigned long long)offset);
	if (err) {
		const char *hint = err == -ENOENT && *symbol ? " (symbol not found in the binary's symbol tables)" : "";
		fl_throw_log(env, err, "cannot attach program '%s' as %s to %s: %s%s", name, kind, where, fl_strerror(-err), hint);
		return NULL;
	}
	char desc[512];
	if (pid >= 0)
		snprintf(desc, sizeof(desc), "%s %s pid=%lld cookie=%llu -> %s", kind, where, (long long)pid, (unsigned long long)cookie, name);
	else
		snprintf(desc, sizeof(desc), "%s %s cookie=%llu -> %s", kind, where, (unsigned long long)cookie, name);
	return finish_bpf_link(env, o, bl, desc);
}

/* Accepts libbpf's attach type names ("cgroup_inet4_connect", "cgroup_sock_ops") and the
 * section-style short names ("connect4", "sock_ops", "sock_create", "setsockopt", ...). */
static int parse_attach_type(const char *s, enum bpf_attach_type *out)
{
	for (int t = 0; t < 128; t++) {
		const char *n = libbpf_bpf_attach_type_str((enum bpf_attach_type)t);
		if (n && strcmp(n, s) == 0) {
			*out = (enum bpf_attach_type)t;
			return 0;
		}
	}
	char sec[160];
	enum bpf_prog_type pt;
	snprintf(sec, sizeof(sec), "cgroup/%s", s);
	if (libbpf_prog_type_by_name(sec, &pt, out) == 0)
		return 0;
	if (strcmp(s, "sock_ops") == 0 || strcmp(s, "sockops") == 0) {
		*out = BPF_CGROUP_SOCK_OPS;
		return 0;
	}
	if (libbpf_prog_type_by_name(s, &pt, out) == 0)
		return 0;
	return -EINVAL;
}

/* attachCgroup(obj, prog, cgroupPath, attachType|null) */
static napi_value attach_cgroup(napi_env env, napi_callback_info info)
{
	napi_value argv[4];
	char path[4096], type_name[128] = "";
	if (!fl_args(env, info, 4, argv, NULL))
		return NULL;
	struct fl_object *o = fl_object_from(env, argv[0]);
	struct bpf_program *prog = o ? fl_program_from(env, o, argv[1]) : NULL;
	if (!prog || !fl_get_string(env, argv[2], path, sizeof(path), "cgroup path"))
		return NULL;
	if (!fl_is_nullish(env, argv[3]) && !fl_get_string(env, argv[3], type_name, sizeof(type_name), "cgroup attach type"))
		return NULL;
	const char *name = bpf_program__name(prog);
	enum bpf_attach_type type = bpf_program__expected_attach_type(prog);
	if (*type_name && parse_attach_type(type_name, &type)) {
		fl_throw(env, EINVAL, "cannot attach program '%s' to cgroup %s: unknown attach type '%s'", name, path, type_name);
		return NULL;
	}
	switch (bpf_program__type(prog)) {
	case BPF_PROG_TYPE_CGROUP_SKB: case BPF_PROG_TYPE_CGROUP_SOCK: case BPF_PROG_TYPE_SOCK_OPS:
	case BPF_PROG_TYPE_CGROUP_DEVICE: case BPF_PROG_TYPE_CGROUP_SOCK_ADDR: case BPF_PROG_TYPE_CGROUP_SYSCTL:
	case BPF_PROG_TYPE_CGROUP_SOCKOPT:
		break;
	default:
		fl_throw(env, EINVAL, "cannot attach program '%s' to cgroup %s: it is a %s program, not a cgroup program", name, path,
			 libbpf_bpf_prog_type_str(bpf_program__type(prog)));
		return NULL;
	}
	int cg = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (cg < 0) {
		int e = errno;
		fl_throw(env, e, "cannot attach program '%s' to cgroup %s: %s", name, path, strerror(e));
		return NULL;
	}
	fl_log_reset();
	int fd = bpf_link_create(bpf_program__fd(prog), cg, type, NULL);
	int err = fd < 0 ? errno : 0;
	close(cg);
	const char *tn = libbpf_bpf_attach_type_str(type);
	if (fd < 0) {
		fl_throw_log(env, err, "cannot attach program '%s' to cgroup %s as %s: %s%s", name, path, tn ? tn : "?",
			     fl_strerror(err), err == EBADF ? " (is it a cgroup v2 directory?)"
			     : err == EINVAL ? " (does the attach type match the program's section?)" : "");
		return NULL;
	}
	struct fl_link *l = fl_link_new(FL_LINK_FD);
	if (!l) {
		close(fd);
		fl_throw(env, ENOMEM, "out of memory");
		return NULL;
	}
	l->fd = fd;
	snprintf(l->desc, sizeof(l->desc), "cgroup %s %s -> %s", path, tn ? tn : "?", name);
	fl_object_add_link(o, l);
	return fl_link_wrap(env, l);
}

void fl_init_attach(napi_env env, napi_value exports)
{
	fl_export(env, exports, "attachTracepoint", attach_tracepoint);
	fl_export(env, exports, "attachRawTracepoint", attach_raw_tracepoint);
	fl_export(env, exports, "attachUprobe", attach_uprobe);
	fl_export(env, exports, "attachCgroup", attach_cgroup);
}
