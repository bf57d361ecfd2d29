/* Map element operations on map fds. Per-CPU maps take/return one buffer of
 * ncpus * round_up(value_size, 8) bytes; the TS facade sizes the buffers. */
#include "fl.h"
#include <errno.h>
#include <stdlib.h>
#include <string.h>

static bool get_fd(napi_env env, napi_value v, int *fd)
{
	int64_t x;
	if (!fl_get_int64(env, v, &x, "map fd"))
		return false;
	*fd = (int)x;
	return true;
}

/* mapLookup(fd, key, valueSize) -> Buffer | undefined */
static napi_value map_lookup(napi_env env, napi_callback_info info)
{
	napi_value argv[3], out;
	void *key, *val;
	size_t klen;
	int64_t vsize;
	int fd;
	if (!fl_args(env, info, 3, argv, NULL) || !get_fd(env, argv[0], &fd) ||
	    !fl_get_buffer(env, argv[1], &key, &klen, "key") || !fl_get_int64(env, argv[2], &vsize, "value size"))
		return NULL;
	if (napi_create_buffer(env, (size_t)vsize, &val, &out) != napi_ok)
		return NULL;
	if (bpf_map_lookup_elem(fd, key, val) == 0)
		return out;
	if (errno == ENOENT)
		return fl_undefined(env);
	fl_throw(env, errno, "map lookup failed: %s", fl_strerror(errno));
	return NULL;
}

/* mapUpdate(fd, key, value, flags) */
static napi_value map_update(napi_env env, napi_callback_info info)
{
	napi_value argv[4];
	void *key, *val;
	size_t klen, vlen;
	int64_t flags;
	int fd;
	if (!fl_args(env, info, 4, argv, NULL) || !get_fd(env, argv[0], &fd) ||
	    !fl_get_buffer(env, argv[1], &key, &klen, "key") || !fl_get_buffer(env, argv[2], &val, &vlen, "value") ||
	    !fl_get_int64(env, argv[3], &flags, "flags"))
		return NULL;
	if (bpf_map_update_elem(fd, key, val, (uint64_t)flags) != 0) {
		int e = errno;
		const char *why = e == EEXIST ? " (key exists and flag is 'noexist')"
			: e == ENOENT ? " (key absent and flag is 'exist')" : e == E2BIG ? " (map is full)" : "";
		fl_throw(env, e, "map update failed: %s%s", fl_strerror(e), why);
		return NULL;
	}
	return fl_undefined(env);
}

/* mapDelete(fd, key) -> boolean (false when absent) */
static napi_value map_delete(napi_env env, napi_callback_info info)
{
	napi_value argv[2], res;
	void *key;
	size_t klen;
	int fd;
	if (!fl_args(env, info, 2, argv, NULL) || !get_fd(env, argv[0], &fd) || !fl_get_buffer(env, argv[1], &key, &klen, "key"))
		return NULL;
	if (bpf_map_delete_elem(fd, key) == 0) {
		napi_get_boolean(env, true, &res);
		return res;
	}
	if (errno == ENOENT) {
		napi_get_boolean(env, false, &res);
		return res;
	}
	fl_throw(env, errno, "map delete failed: %s", fl_strerror(errno));
	return NULL;
}

/* mapNextKey(fd, key|null, keySize) -> Buffer | undefined (end) */
static napi_value map_next_key(napi_env env, napi_callback_info info)
{
	napi_value argv[3], out;
	void *key = NULL, *next;
	size_t klen;
	int64_t ksize;
	int fd;
	if (!fl_args(env, info, 3, argv, NULL) || !get_fd(env, argv[0], &fd) || !fl_get_int64(env, argv[2], &ksize, "key size"))
		return NULL;
	if (!fl_is_nullish(env, argv[1]) && !fl_get_buffer(env, argv[1], &key, &klen, "key"))
		return NULL;
	if (napi_create_buffer(env, (size_t)ksize, &next, &out) != napi_ok)
		return NULL;
	if (bpf_map_get_next_key(fd, key, next) == 0)
		return out;
	if (errno == ENOENT)
		return fl_undefined(env);
	fl_throw(env, errno, "map iteration failed: %s", fl_strerror(errno));
	return NULL;
}

/* mapLookupBatch(fd, token|null, tokenSize, keySize, valueSize, count)
 *   -> { count, keys: Buffer, values: Buffer, token: Buffer, done: boolean }
 * Throws with .code (EINVAL / ENOTSUPP / EOPNOTSUPP) when the map type has no batch ops, and
 * ENOSPC when one hash bucket holds more than `count` entries (caller retries with more). */
static napi_value map_lookup_batch(napi_env env, napi_callback_info info)
{
	napi_value argv[6], res, keys_v, vals_v, tok_v;
	void *in = NULL, *keys, *vals, *tok;
	size_t inlen;
	int64_t toksize, ksize, vsize, count;
	int fd;
	if (!fl_args(env, info, 6, argv, NULL) || !get_fd(env, argv[0], &fd) ||
	    !fl_get_int64(env, argv[2], &toksize, "token size") || !fl_get_int64(env, argv[3], &ksize, "key size") ||
	    !fl_get_int64(env, argv[4], &vsize, "value size") || !fl_get_int64(env, argv[5], &count, "count"))
		return NULL;
	if (!fl_is_nullish(env, argv[1]) && !fl_get_buffer(env, argv[1], &in, &inlen, "batch token"))
		return NULL;
	if (napi_create_buffer(env, (size_t)(ksize * count), &keys, &keys_v) != napi_ok ||
	    napi_create_buffer(env, (size_t)(vsize * count), &vals, &vals_v) != napi_ok ||
	    napi_create_buffer(env, (size_t)toksize, &tok, &tok_v) != napi_ok)
		return NULL;
	__u32 n = (__u32)count;
	LIBBPF_OPTS(bpf_map_batch_opts, opts);
	int err = bpf_map_lookup_batch(fd, in, tok, keys, vals, &n, &opts);
	bool done = false;
	if (err) {
		int e = errno;
		if (e == ENOENT)
			done = true; /* the last (possibly partial, possibly empty) chunk */
		else {
			fl_throw(env, e, "map batch lookup failed: %s", fl_strerror(e));
			return NULL;
		}
	}
	napi_create_object(env, &res);
	fl_set_int(env, res, "count", n);
	fl_set_named(env, res, "keys", keys_v);
	fl_set_named(env, res, "values", vals_v);
	fl_set_named(env, res, "token", tok_v);
	fl_set_bool(env, res, "done", done);
	return res;
}

static napi_value num_possible_cpus(napi_env env, napi_callback_info info)
{
	napi_value n;
	int c = libbpf_num_possible_cpus();
	if (c < 0) {
		fl_throw(env, -c, "cannot read the number of possible CPUs: %s", fl_strerror(-c));
		return NULL;
	}
	napi_create_int32(env, c, &n);
	return n;
}

void fl_init_map(napi_env env, napi_value exports)
{
	fl_export(env, exports, "mapLookup", map_lookup);
	fl_export(env, exports, "mapUpdate", map_update);
	fl_export(env, exports, "mapDelete", map_delete);
	fl_export(env, exports, "mapNextKey", map_next_key);
	fl_export(env, exports, "mapLookupBatch", map_lookup_batch);
	fl_export(env, exports, "numPossibleCpus", num_possible_cpus);
}
