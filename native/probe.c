/* Kernel feature probes for `faultlens doctor` and fallbacks: program/map types and helpers via
 * libbpf's probes, libbpf's name tables, and the memlock rlimit. */
#include "fl.h"
#include <errno.h>
#include <string.h>
#include <sys/resource.h>

static napi_value probe_result(napi_env env, int r)
{
	napi_value v;
	if (r < 0) { /* could not tell (e.g. no privilege): report the reason instead of a guess */
		napi_create_object(env, &v);
		fl_set_int(env, v, "errno", -r);
		fl_set_str(env, v, "error", fl_strerror(-r));
		return v;
	}
	napi_get_boolean(env, r == 1, &v);
	return v;
}

/* probeProgType(type) -> boolean | { errno, error } */
static napi_value probe_prog_type(napi_env env, napi_callback_info info)
{
	napi_value argv[1];
	int64_t t;
	if (!fl_args(env, info, 1, argv, NULL) || !fl_get_int64(env, argv[0], &t, "program type"))
		return NULL;
	return probe_result(env, libbpf_probe_bpf_prog_type((enum bpf_prog_type)t, NULL));
}

static napi_value probe_map_type(napi_env env, napi_callback_info info)
{
	napi_value argv[1];
	int64_t t;
	if (!fl_args(env, info, 1, argv, NULL) || !fl_get_int64(env, argv[0], &t, "map type"))
		return NULL;
	return probe_result(env, libbpf_probe_bpf_map_type((enum bpf_map_type)t, NULL));
}

/* probeHelper(progType, helperId) */
static napi_value probe_helper(napi_env env, napi_callback_info info)
{
	napi_value argv[2];
	int64_t t, h;
	if (!fl_args(env, info, 2, argv, NULL) || !fl_get_int64(env, argv[0], &t, "program type") ||
	    !fl_get_int64(env, argv[1], &h, "helper id"))
		return NULL;
	return probe_result(env, libbpf_probe_bpf_helper((enum bpf_prog_type)t, (enum bpf_func_id)h, NULL));
}

/* enums() -> { progTypes, mapTypes, attachTypes, linkTypes, helpers }: name -> number, from this libbpf */
static napi_value enums(napi_env env, napi_callback_info info)
{
	napi_value res, pt, mt, at, lt, hp;
	napi_create_object(env, &res);
	napi_create_object(env, &pt);
	napi_create_object(env, &mt);
	napi_create_object(env, &at);
	napi_create_object(env, &lt);
	napi_create_object(env, &hp);
	for (int i = 0; i < 256; i++) {
		const char *s;
		if ((s = libbpf_bpf_prog_type_str((enum bpf_prog_type)i)))
			fl_set_int(env, pt, s, i);
		if ((s = libbpf_bpf_map_type_str((enum bpf_map_type)i)))
			fl_set_int(env, mt, s, i);
		if ((s = libbpf_bpf_attach_type_str((enum bpf_attach_type)i)))
			fl_set_int(env, at, s, i);
		if ((s = libbpf_bpf_link_type_str((enum bpf_link_type)i)))
			fl_set_int(env, lt, s, i);
	}
	/* helper ids from the uapi header this addon was built against */
#define H(n) fl_set_int(env, hp, #n, BPF_FUNC_##n)
	H(ringbuf_output); H(ringbuf_reserve); H(ringbuf_submit); H(get_attach_cookie); H(get_socket_cookie);
	H(probe_read_user); H(probe_read_kernel); H(get_current_cgroup_id); H(get_current_task_btf);
	H(loop); H(ktime_get_ns); H(ktime_get_boot_ns); H(sk_storage_get); H(skb_load_bytes);
	H(get_netns_cookie); H(send_signal); H(override_return); H(get_func_ip); H(task_storage_get);
#undef H
	fl_set_named(env, res, "progTypes", pt);
	fl_set_named(env, res, "mapTypes", mt);
	fl_set_named(env, res, "attachTypes", at);
	fl_set_named(env, res, "linkTypes", lt);
	fl_set_named(env, res, "helpers", hp);
	return res;
}

/* memlock(raise) -> { before: number|-1 (infinity), after, error? }: raising to infinity keeps
 * pre-5.11 kernels (no memcg accounting) from failing map creation. */
static napi_value memlock(napi_env env, napi_callback_info info)
{
	napi_value argv[1], res;
	bool raise = false;
	if (!fl_args(env, info, 1, argv, NULL))
		return NULL;
	if (!fl_is_nullish(env, argv[0]))
		napi_get_value_bool(env, argv[0], &raise);
	struct rlimit rl;
	getrlimit(RLIMIT_MEMLOCK, &rl);
	napi_create_object(env, &res);
	fl_set_int(env, res, "before", rl.rlim_cur == RLIM_INFINITY ? -1 : (int64_t)rl.rlim_cur);
	if (raise && rl.rlim_cur != RLIM_INFINITY) {
		struct rlimit inf = { RLIM_INFINITY, RLIM_INFINITY };
		if (setrlimit(RLIMIT_MEMLOCK, &inf) != 0)
			fl_set_str(env, res, "error", strerror(errno));
		getrlimit(RLIMIT_MEMLOCK, &rl);
	}
	fl_set_int(env, res, "after", rl.rlim_cur == RLIM_INFINITY ? -1 : (int64_t)rl.rlim_cur);
	return res;
}

/* vmlinuxBtf() -> { ok, types?, error? } */
static napi_value vmlinux_btf(napi_env env, napi_callback_info info)
{
	napi_value res;
	napi_create_object(env, &res);
	fl_log_reset();
	struct btf *btf = btf__load_vmlinux_btf();
	int err = libbpf_get_error(btf);
	fl_set_bool(env, res, "ok", !err);
	if (err)
		fl_set_str(env, res, "error", fl_strerror(-err));
	else {
		fl_set_int(env, res, "types", btf__type_cnt(btf));
		btf__free(btf);
	}
	return res;
}

void fl_init_probe(napi_env env, napi_value exports)
{
	fl_export(env, exports, "probeProgType", probe_prog_type);
	fl_export(env, exports, "probeMapType", probe_map_type);
	fl_export(env, exports, "probeHelper", probe_helper);
	fl_export(env, exports, "enums", enums);
	fl_export(env, exports, "memlock", memlock);
	fl_export(env, exports, "vmlinuxBtf", vmlinux_btf);
}
