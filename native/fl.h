/* Shared declarations of the faultlens native addon (N-API over libbpf).
 * All entry points run on the Node main thread; no locking is needed. */
#ifndef FL_H
#define FL_H

#include <node_api.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <bpf/libbpf.h>
#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <uv.h>

/* ---- errors (util.c) ---- */
/* Throws a JS Error whose message is fmt..., with .code = errno name and .errno = err (positive). */
void fl_throw(napi_env env, int err, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* Same, with the captured libbpf log appended as .libbpfLog (and to the message when detail=true). */
void fl_throw_log(napi_env env, int err, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
const char *fl_errno_name(int err);
const char *fl_strerror(int err); /* handles libbpf's private codes (ENOTSUPP=524, ...) */

/* ---- argument helpers (util.c); each returns false after throwing ---- */
bool fl_args(napi_env env, napi_callback_info info, size_t want, napi_value *argv, void **data);
bool fl_get_string(napi_env env, napi_value v, char *buf, size_t len, const char *what);
bool fl_get_int64(napi_env env, napi_value v, int64_t *out, const char *what);
bool fl_get_uint64(napi_env env, napi_value v, uint64_t *out, const char *what); /* number or bigint */
bool fl_get_buffer(napi_env env, napi_value v, void **data, size_t *len, const char *what);
bool fl_is_nullish(napi_env env, napi_value v);
napi_value fl_undefined(napi_env env);
void fl_set_named(napi_env env, napi_value obj, const char *name, napi_value v);
void fl_set_int(napi_env env, napi_value obj, const char *name, int64_t v);
void fl_set_str(napi_env env, napi_value obj, const char *name, const char *s);
void fl_set_bool(napi_env env, napi_value obj, const char *name, bool b);
void fl_export(napi_env env, napi_value exports, const char *name, napi_callback cb);

/* ---- libbpf log capture (log.c) ---- */
void fl_log_install(void);
void fl_log_reset(void);          /* call before each libbpf operation whose failure we report */
const char *fl_log_text(void);    /* everything libbpf printed (warn/info) since the last reset */
/* Extracts the verifier log ("-- BEGIN PROG LOAD LOG --" ... "-- END ...") and the failing program. */
bool fl_log_verifier(char **log, char *prog, size_t prog_len);
/* The last "libbpf: ..." warning line (trimmed), or "" */
void fl_log_last_warning(char *buf, size_t len);

/* ---- objects and their attachments (object.c, attach.c, tc.c, ringbuf.c) ---- */
enum fl_link_kind { FL_LINK_BPF, FL_LINK_FD, FL_LINK_TC };

struct fl_object;

struct fl_link {
	enum fl_link_kind kind;
	int refs;                  /* owner list + JS handle */
	bool active;
	struct fl_object *owner;
	struct fl_link *next;      /* owner's list */
	struct bpf_link *link;     /* FL_LINK_BPF */
	int fd;                    /* FL_LINK_FD: a raw bpf_link fd (cgroup link created with an explicit type) */
	struct {                   /* FL_LINK_TC */
		int ifindex;
		char netns[256];       /* `ip netns` name, "" = our own namespace */
		uint32_t attach_point; /* BPF_TC_INGRESS / BPF_TC_EGRESS */
		uint32_t handle, priority;
	} tc;
	char desc[512];
};

struct fl_ringbuf;

struct fl_object {
	struct bpf_object *obj;
	bool loaded;
	bool closed;
	struct fl_link *links;
	struct fl_ringbuf *ringbufs;
	struct fl_object *next;     /* global list of open objects */
	napi_env env;               /* the Node environment (main thread or a worker) that opened it */
	char path[4096];
};

struct fl_object *fl_object_from(napi_env env, napi_value v); /* throws if not an open object */
struct bpf_program *fl_program_from(napi_env env, struct fl_object *o, napi_value name);
void fl_object_add_link(struct fl_object *o, struct fl_link *l);
napi_value fl_link_wrap(napi_env env, struct fl_link *l);
void fl_link_release(struct fl_link *l);
void fl_link_detach(struct fl_link *l);
struct fl_link *fl_link_new(enum fl_link_kind kind); /* refs=1 (for the owner list), active */
void fl_close_all(void *env); /* closes the objects of that napi_env */

int fl_tc_detach(struct fl_link *l);                 /* tc.c */
void fl_ringbuf_close_all(struct fl_object *o);      /* ringbuf.c */

/* ---- module parts: each registers its exports ---- */
void fl_init_object(napi_env env, napi_value exports);
void fl_init_attach(napi_env env, napi_value exports);
void fl_init_tc(napi_env env, napi_value exports);
void fl_init_map(napi_env env, napi_value exports);
void fl_init_ringbuf(napi_env env, napi_value exports);
void fl_init_btf(napi_env env, napi_value exports);
void fl_init_probe(napi_env env, napi_value exports);

#endif
