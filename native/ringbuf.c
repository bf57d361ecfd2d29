/* Ring buffer consumer on the libuv loop: the ring's epoll fd sits in a uv_poll_t; on each wake-up
 * ring_buffer__consume() copies every available record into one staging batch and JS is called
 * once with (buf, offsets, lengths, count). Records start 8-byte aligned in buf. No busy polling,
 * no per-record JS call. A wake-up stops early once the batch reaches max_bytes (the poll stays
 * readable, so the rest follows on the next loop turn and other I/O is not starved). */
#include "fl.h"
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define STOP_BATCH (-100000) /* our sample_cb's "batch full" return; not an errno */

struct fl_ringbuf {
	struct ring_buffer *rb;
	uv_poll_t poll;
	napi_env env;
	napi_ref callback;
	napi_async_context actx;
	struct fl_object *owner;
	struct fl_ringbuf *next;
	int refs; /* JS handle + open state (released once the uv handle is closed) */
	bool closed;
	char map_name[64];
	size_t max_bytes;
	/* staging batch */
	char *buf;
	size_t len, cap;
	uint32_t *offs, *lens;
	size_t n, ncap;
	uint64_t batches, records;
};

static void rb_release(struct fl_ringbuf *r)
{
	if (--r->refs)
		return;
	free(r->buf);
	free(r->offs);
	free(r->lens);
	free(r);
}

static int sample_cb(void *ctx, void *data, size_t size)
{
	struct fl_ringbuf *r = ctx;
	size_t off = (r->len + 7) & ~(size_t)7;
	if (off + size > r->cap) {
		size_t cap = r->cap ? r->cap : 65536;
		while (cap < off + size)
			cap *= 2;
		char *nb = realloc(r->buf, cap);
		if (!nb)
			return -ENOMEM; /* record is lost; counted by nobody, but we never crash */
		r->buf = nb;
		r->cap = cap;
	}
	if (r->n == r->ncap) {
		size_t nc = r->ncap ? r->ncap * 2 : 1024;
		uint32_t *o = realloc(r->offs, nc * sizeof(*o)), *l;
		if (!o)
			return -ENOMEM;
		r->offs = o;
		l = realloc(r->lens, nc * sizeof(*l));
		if (!l)
			return -ENOMEM;
		r->lens = l;
		r->ncap = nc;
	}
	memcpy(r->buf + off, data, size);
	r->offs[r->n] = (uint32_t)off;
	r->lens[r->n] = (uint32_t)size;
	r->n++;
	r->len = off + size;
	return r->len >= r->max_bytes ? STOP_BATCH : 0;
}

/* Hands the staged batch to JS (one call) and resets the staging area. */
static void deliver(struct fl_ringbuf *r)
{
	napi_env env = r->env;
	if (r->n == 0 || r->closed)
		return;
	napi_handle_scope scope;
	napi_open_handle_scope(env, &scope);
	napi_value argv[4], cb, recv, ab, result;
	void *bufdata, *abdata;
	napi_create_buffer_copy(env, r->len, r->buf, &bufdata, &argv[0]);
	size_t n = r->n;
	napi_create_arraybuffer(env, n * 8, &abdata, &ab);
	memcpy(abdata, r->offs, n * 4);
	memcpy((char *)abdata + n * 4, r->lens, n * 4);
	napi_create_typedarray(env, napi_uint32_array, n, ab, 0, &argv[1]);
	napi_create_typedarray(env, napi_uint32_array, n, ab, n * 4, &argv[2]);
	napi_create_uint32(env, (uint32_t)n, &argv[3]);
	r->batches++;
	r->records += n;
	r->n = 0;
	r->len = 0;
	napi_get_reference_value(env, r->callback, &cb);
	napi_get_global(env, &recv); /* napi_make_callback needs an object receiver */
	napi_status st = napi_make_callback(env, r->actx, recv, cb, 4, argv, &result);
	bool pending = false;
	napi_is_exception_pending(env, &pending);
	if (st != napi_ok && pending) { /* surface it as an uncaught exception, as libuv callbacks do */
		napi_value exc;
		napi_get_and_clear_last_exception(env, &exc);
		napi_fatal_exception(env, exc);
	}
	napi_close_handle_scope(env, scope);
}

static int drain(struct fl_ringbuf *r)
{
	int err = ring_buffer__consume(r->rb);
	if (err == STOP_BATCH)
		err = 0;
	deliver(r);
	return err;
}

static void on_readable(uv_poll_t *h, int status, int events)
{
	struct fl_ringbuf *r = h->data;
	if (r->closed)
		return;
	r->refs++; /* JS may close us inside the callback */
	drain(r);
	rb_release(r);
}

static void on_uv_closed(uv_handle_t *h)
{
	rb_release(h->data);
}

static void rb_close(struct fl_ringbuf *r)
{
	if (r->closed)
		return;
	r->closed = true;
	uv_close((uv_handle_t *)&r->poll, on_uv_closed); /* stops polling now; memory freed in the callback */
	ring_buffer__free(r->rb);
	r->rb = NULL;
	napi_delete_reference(r->env, r->callback);
	napi_async_destroy(r->env, r->actx);
	if (r->owner) {
		for (struct fl_ringbuf **pp = &r->owner->ringbufs; *pp; pp = &(*pp)->next)
			if (*pp == r) {
				*pp = r->next;
				break;
			}
		r->owner = NULL;
	}
}

void fl_ringbuf_close_all(struct fl_object *o)
{
	while (o->ringbufs)
		rb_close(o->ringbufs);
}

static void rb_finalize(napi_env env, void *data, void *hint)
{
	rb_release(data);
}

/* ringbufOpen(obj, mapName, callback(buf, offsets, lengths, count), maxBatchBytes) -> handle */
static napi_value ringbuf_open(napi_env env, napi_callback_info info)
{
	napi_value argv[4], ext, resource, rname;
	char name[64];
	int64_t max_bytes = 4 << 20;
	if (!fl_args(env, info, 4, argv, NULL))
		return NULL;
	struct fl_object *o = fl_object_from(env, argv[0]);
	if (!o || !fl_get_string(env, argv[1], name, sizeof(name), "ring buffer map name"))
		return NULL;
	if (!fl_is_nullish(env, argv[3]) && !fl_get_int64(env, argv[3], &max_bytes, "max batch bytes"))
		return NULL;
	napi_valuetype t;
	napi_typeof(env, argv[2], &t);
	if (t != napi_function) {
		fl_throw(env, EINVAL, "ring buffer callback must be a function");
		return NULL;
	}
	struct bpf_map *m = bpf_object__find_map_by_name(o->obj, name);
	if (!m) {
		fl_throw(env, ENOENT, "no map '%s' in %s", name, o->path);
		return NULL;
	}
	if (bpf_map__type(m) != BPF_MAP_TYPE_RINGBUF) {
		fl_throw(env, EINVAL, "map '%s' is a %s map, not a ringbuf", name, libbpf_bpf_map_type_str(bpf_map__type(m)));
		return NULL;
	}
	if (!o->loaded) {
		fl_throw(env, EINVAL, "ring buffer '%s': object %s is not loaded yet", name, o->path);
		return NULL;
	}
	struct fl_ringbuf *r = calloc(1, sizeof(*r));
	if (!r) {
		fl_throw(env, ENOMEM, "out of memory");
		return NULL;
	}
	r->env = env;
	r->max_bytes = max_bytes > 4096 ? (size_t)max_bytes : 4096;
	snprintf(r->map_name, sizeof(r->map_name), "%s", name);
	fl_log_reset();
	r->rb = ring_buffer__new(bpf_map__fd(m), sample_cb, r, NULL);
	int err = libbpf_get_error(r->rb);
	if (err) {
		free(r);
		fl_throw_log(env, err, "cannot open ring buffer '%s': %s", name, fl_strerror(-err));
		return NULL;
	}
	uv_loop_t *loop;
	napi_get_uv_event_loop(env, &loop);
	int uverr = uv_poll_init(loop, &r->poll, ring_buffer__epoll_fd(r->rb));
	if (uverr) {
		ring_buffer__free(r->rb);
		free(r);
		fl_throw(env, EIO, "cannot poll ring buffer '%s': %s", name, uv_strerror(uverr));
		return NULL;
	}
	r->poll.data = r;
	uv_poll_start(&r->poll, UV_READABLE, on_readable);
	napi_create_reference(env, argv[2], 1, &r->callback);
	napi_create_object(env, &resource);
	napi_create_string_utf8(env, "faultlens:ringbuf", NAPI_AUTO_LENGTH, &rname);
	napi_async_init(env, resource, rname, &r->actx);
	r->refs = 2;
	r->owner = o;
	r->next = o->ringbufs;
	o->ringbufs = r;
	napi_create_external(env, r, rb_finalize, NULL, &ext);
	return ext;
}

static struct fl_ringbuf *rb_from(napi_env env, napi_value v)
{
	void *p = NULL;
	if (napi_get_value_external(env, v, &p) != napi_ok || !p) {
		fl_throw(env, EINVAL, "expected a ring buffer handle");
		return NULL;
	}
	return p;
}

static napi_value ringbuf_close(napi_env env, napi_callback_info info)
{
	napi_value argv[1];
	if (!fl_args(env, info, 1, argv, NULL))
		return NULL;
	struct fl_ringbuf *r = rb_from(env, argv[0]);
	if (r)
		rb_close(r);
	return fl_undefined(env);
}

/* ringbufConsume(handle) -> records delivered: drains synchronously (e.g. a final drain at shutdown) */
static napi_value ringbuf_consume(napi_env env, napi_callback_info info)
{
	napi_value argv[1], res;
	if (!fl_args(env, info, 1, argv, NULL))
		return NULL;
	struct fl_ringbuf *r = rb_from(env, argv[0]);
	if (!r)
		return NULL;
	if (r->closed)
		return fl_undefined(env);
	uint64_t before = r->records;
	r->refs++;
	int err;
	do { /* several batches when more than max_bytes is waiting */
		uint64_t n0 = r->records;
		err = drain(r);
		if (r->records == n0)
			break;
	} while (!err && !r->closed);
	uint64_t got = r->records - before;
	rb_release(r);
	if (err < 0) {
		fl_throw(env, -err, "ring buffer consume failed: %s", fl_strerror(-err));
		return NULL;
	}
	napi_create_double(env, (double)got, &res);
	return res;
}

/* ringbufStats(handle) -> { batches, records } delivered so far */
static napi_value ringbuf_stats(napi_env env, napi_callback_info info)
{
	napi_value argv[1], res;
	if (!fl_args(env, info, 1, argv, NULL))
		return NULL;
	struct fl_ringbuf *r = rb_from(env, argv[0]);
	if (!r)
		return NULL;
	napi_create_object(env, &res);
	fl_set_int(env, res, "batches", (int64_t)r->batches);
	fl_set_int(env, res, "records", (int64_t)r->records);
	return res;
}

/* ringbufRef(handle, bool): whether an open ring buffer keeps the Node process alive */
static napi_value ringbuf_ref(napi_env env, napi_callback_info info)
{
	napi_value argv[2];
	bool ref = true;
	if (!fl_args(env, info, 2, argv, NULL))
		return NULL;
	struct fl_ringbuf *r = rb_from(env, argv[0]);
	if (!r)
		return NULL;
	napi_get_value_bool(env, argv[1], &ref);
	if (!r->closed) {
		if (ref)
			uv_ref((uv_handle_t *)&r->poll);
		else
			uv_unref((uv_handle_t *)&r->poll);
	}
	return fl_undefined(env);
}

void fl_init_ringbuf(napi_env env, napi_value exports)
{
	fl_export(env, exports, "ringbufOpen", ringbuf_open);
	fl_export(env, exports, "ringbufClose", ringbuf_close);
	fl_export(env, exports, "ringbufConsume", ringbuf_consume);
	fl_export(env, exports, "ringbufStats", ringbuf_stats);
	fl_export(env, exports, "ringbufRef", ringbuf_ref);
}
