/* BPF object lifecycle: open (with up-front checks that name the cause), load (errors carry the
 * failing program and verifier log), introspection, and close, which releases every attachment. */
#include "fl.h"
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#ifndef EM_BPF
#define EM_BPF 247
#endif

static struct fl_object *g_objects; /* every object not yet closed */

static void object_close(struct fl_object *o)
{
	if (o->closed)
		return;
	o->closed = true;
	fl_ringbuf_close_all(o);
	/* detach in reverse attach order is not required by the kernel; do it in list order */
	struct fl_link *l = o->links;
	while (l) {
		struct fl_link *next = l->next;
		fl_link_detach(l);
		l->owner = NULL;
		fl_link_release(l);
		l = next;
	}
	o->links = NULL;
	bpf_object__close(o->obj);
	o->obj = NULL;
	for (struct fl_object **pp = &g_objects; *pp; pp = &(*pp)->next) {
		if (*pp == o) {
			*pp = o->next;
			break;
		}
	}
}

void fl_close_all(void *env)
{
	struct fl_object *o = g_objects;
	while (o) {
		struct fl_object *next = o->next;
		if (o->env == env)
			object_close(o); /* unlinks o only */
		o = next;
	}
}

static void object_finalize(napi_env env, void *data, void *hint)
{
	struct fl_object *o = data;
	object_close(o); /* a forgotten object still gets detached */
	free(o);         /* only the JS handle owns the memory; the global list only sees open objects */
}

struct fl_object *fl_object_from(napi_env env, napi_value v)
{
	void *p = NULL;
	if (napi_get_value_external(env, v, &p) != napi_ok || !p) {
		fl_throw(env, EINVAL, "expected a BPF object handle");
		return NULL;
	}
	struct fl_object *o = p;
	if (o->closed) {
		fl_throw(env, EBADF, "BPF object %s is closed", o->path);
		return NULL;
	}
	return o;
}

struct bpf_program *fl_program_from(napi_env env, struct fl_object *o, napi_value name)
{
	char buf[256];
	if (!fl_get_string(env, name, buf, sizeof(buf), "program name"))
		return NULL;
	struct bpf_program *p = bpf_object__find_program_by_name(o->obj, buf);
	if (!p)
		fl_throw(env, ENOENT, "no program '%s' in %s", buf, o->path);
	else if (!o->loaded)
		fl_throw(env, EINVAL, "program '%s': object %s is not loaded yet (call load() first)", buf, o->path);
	else
		return p;
	return NULL;
}

/* Checks what libbpf would report vaguely: existence, ELF magic, and that the ELF is for BPF. */
static bool check_file(napi_env env, const char *path)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		int e = errno;
		fl_throw(env, e, "cannot open BPF object %s: %s", path, strerror(e));
		return false;
	}
	Elf64_Ehdr eh;
	ssize_t n = read(fd, &eh, sizeof(eh));
	close(fd);
	if (n < (ssize_t)EI_NIDENT || memcmp(eh.e_ident, ELFMAG, SELFMAG) != 0) {
		fl_throw(env, ENOEXEC, "%s is not a BPF object: not an ELF file", path);
		return false;
	}
	if (n < (ssize_t)sizeof(eh) || eh.e_ident[EI_CLASS] != ELFCLASS64) {
		fl_throw(env, ENOEXEC, "%s is not a BPF object: truncated or 32-bit ELF", path);
		return false;
	}
	if (eh.e_machine != EM_BPF) {
		const char *m = eh.e_machine == EM_X86_64 ? "x86-64" : eh.e_machine == EM_AARCH64 ? "aarch64"
			: eh.e_machine == EM_386 ? "i386" : "another machine";
		fl_throw(env, ENOEXEC, "%s is not a BPF object: it is an ELF file for %s (e_machine=%u), not for BPF (e_machine=%u)",
			 path, m, eh.e_machine, EM_BPF);
		return false;
	}
	if (eh.e_type != ET_REL) {
		fl_throw(env, ENOEXEC, "%s is not a BPF object: BPF ELF but not relocatable (e_type=%u); compile with clang -target bpf -c", path, eh.e_type);
		return false;
	}
	return true;
}

/* openObject(path) -> handle */
static napi_value open_object(napi_env env, napi_callback_info info)
{
	napi_value argv[1], ext;
	char path[4096];
	if (!fl_args(env, info, 1, argv, NULL) || !fl_get_string(env, argv[0], path, sizeof(path), "object path"))
		return NULL;
	if (!check_file(env, path))
		return NULL;
	fl_log_reset();
	struct bpf_object *obj = bpf_object__open_file(path, NULL);
	int err = libbpf_get_error(obj);
	if (err) {
		char last[512];
		fl_log_last_warning(last, sizeof(last));
		fl_throw_log(env, err, "cannot open BPF object %s: %s%s%s", path, fl_strerror(-err), *last ? ": " : "", last);
		return NULL;
	}
	struct fl_object *o = calloc(1, sizeof(*o));
	if (!o) {
		bpf_object__close(obj);
		fl_throw(env, ENOMEM, "out of memory");
		return NULL;
	}
	o->obj = obj;
	o->env = env;
	snprintf(o->path, sizeof(o->path), "%s", path);
	o->next = g_objects;
	g_objects = o;
	napi_create_external(env, o, object_finalize, NULL, &ext);
	return ext;
}

static napi_value load_object(napi_env env, napi_callback_info info)
{
	napi_value argv[1];
	if (!fl_args(env, info, 1, argv, NULL))
		return NULL;
	struct fl_object *o = fl_object_from(env, argv[0]);
	if (!o)
		return NULL;
	if (o->loaded) {
		fl_throw(env, EALREADY, "BPF object %s is already loaded", o->path);
		return NULL;
	}
	fl_log_reset();
	int err = bpf_object__load(o->obj);
	if (!err) {
		o->loaded = true;
		return fl_undefined(env);
	}
	err = -err;
	char prog[256], last[512];
	char *vlog = NULL;
	fl_log_verifier(&vlog, prog, sizeof(prog));
	fl_log_last_warning(last, sizeof(last));
	char msg[2048];
	if (err == EPERM || (err == EACCES && !vlog))
		snprintf(msg, sizeof(msg),
			 "cannot load BPF object %s: permission denied (%s): loading BPF needs root, or CAP_BPF + CAP_PERFMON "
			 "(+ CAP_NET_ADMIN for tc/cgroup/sock programs); running as uid %u%s%s",
			 o->path, fl_errno_name(err), (unsigned)geteuid(), *last ? "; libbpf: " : "", last);
	else if (*prog)
		snprintf(msg, sizeof(msg), "cannot load BPF object %s: program '%s' %s: %s%s%s", o->path, prog,
			 vlog ? "was rejected by the verifier" : "failed to load", fl_strerror(err),
			 vlog ? "\n--- verifier log (tail) ---\n" : "", "");
	else
		snprintf(msg, sizeof(msg), "cannot load BPF object %s: %s%s%s", o->path, fl_strerror(err),
			 *last ? "; libbpf: " : "", last);
	if (vlog && *prog) { /* the tail of the verifier log says why; the full log is on .verifierLog */
		size_t n = strlen(vlog), room = sizeof(msg) - strlen(msg) - 1;
		const char *tail = n > room ? vlog + n - room : vlog;
		strncat(msg, tail, room);
	}
	napi_value jmsg, error, code;
	napi_create_string_utf8(env, msg, NAPI_AUTO_LENGTH, &jmsg);
	napi_create_error(env, NULL, jmsg, &error);
	napi_create_string_utf8(env, fl_errno_name(err), NAPI_AUTO_LENGTH, &code);
	fl_set_named(env, error, "code", code);
	fl_set_int(env, error, "errno", err);
	if (*prog)
		fl_set_str(env, error, "program", prog);
	fl_set_str(env, error, "verifierLog", vlog ? vlog : "");
	fl_set_str(env, error, "libbpfLog", fl_log_text());
	free(vlog);
	napi_throw(env, error);
	return NULL;
}

static napi_value close_object(napi_env env, napi_callback_info info)
{
	napi_value argv[1];
	void *p = NULL;
	if (!fl_args(env, info, 1, argv, NULL))
		return NULL;
	if (napi_get_value_external(env, argv[0], &p) == napi_ok && p)
		object_close(p);
	return fl_undefined(env);
}

/* describeObject(handle) -> { programs: [{name, section, type, typeName, attachType, attachTypeName, fd}],
 *                             maps: [{name, type, typeName, keySize, valueSize, maxEntries, fd}] } */
static napi_value describe_object(napi_env env, napi_callback_info info)
{
	napi_value argv[1], res, progs, maps;
	if (!fl_args(env, info, 1, argv, NULL))
		return NULL;
	struct fl_object *o = fl_object_from(env, argv[0]);
	if (!o)
		return NULL;
	napi_create_object(env, &res);
	napi_create_array(env, &progs);
	napi_create_array(env, &maps);
	uint32_t i = 0;
	struct bpf_program *p;
	bpf_object__for_each_program(p, o->obj) {
		napi_value e;
		napi_create_object(env, &e);
		fl_set_str(env, e, "name", bpf_program__name(p));
		fl_set_str(env, e, "section", bpf_program__section_name(p));
		fl_set_int(env, e, "type", bpf_program__type(p));
		fl_set_str(env, e, "typeName", libbpf_bpf_prog_type_str(bpf_program__type(p)));
		fl_set_int(env, e, "attachType", bpf_program__expected_attach_type(p));
		fl_set_str(env, e, "attachTypeName", libbpf_bpf_attach_type_str(bpf_program__expected_attach_type(p)));
		fl_set_int(env, e, "fd", o->loaded ? bpf_program__fd(p) : -1);
		napi_set_element(env, progs, i++, e);
	}
	i = 0;
	struct bpf_map *m;
	bpf_object__for_each_map(m, o->obj) {
		napi_value e;
		napi_create_object(env, &e);
		fl_set_str(env, e, "name", bpf_map__name(m));
		fl_set_int(env, e, "type", bpf_map__type(m));
		fl_set_str(env, e, "typeName", libbpf_bpf_map_type_str(bpf_map__type(m)));
		fl_set_int(env, e, "keySize", bpf_map__key_size(m));
		fl_set_int(env, e, "valueSize", bpf_map__value_size(m));
		fl_set_int(env, e, "maxEntries", bpf_map__max_entries(m));
		fl_set_int(env, e, "fd", o->loaded ? bpf_map__fd(m) : -1);
		napi_set_element(env, maps, i++, e);
	}
	fl_set_named(env, res, "programs", progs);
	fl_set_named(env, res, "maps", maps);
	fl_set_bool(env, res, "loaded", o->loaded);
	return res;
}

/* setMapMaxEntries(handle, mapName, n): resize before load (e.g. ring buffer size from config) */
static napi_value set_map_max_entries(napi_env env, napi_callback_info info)
{
	napi_value argv[3];
	char name[256];
	int64_t n;
	if (!fl_args(env, info, 3, argv, NULL))
		return NULL;
	struct fl_object *o = fl_object_from(env, argv[0]);
	if (!o || !fl_get_string(env, argv[1], name, sizeof(name), "map name") || !fl_get_int64(env, argv[2], &n, "max entries"))
		return NULL;
	struct bpf_map *m = bpf_object__find_map_by_name(o->obj, name);
	if (!m) {
		fl_throw(env, ENOENT, "no map '%s' in %s", name, o->path);
		return NULL;
	}
	int err = bpf_map__set_max_entries(m, (uint32_t)n);
	if (err)
		fl_throw(env, err, "map '%s': cannot set max_entries=%lld: %s", name, (long long)n, fl_strerror(-err));
	return fl_undefined(env);
}

/* ---- links: shared by attach.c and tc.c ---- */

void fl_object_add_link(struct fl_object *o, struct fl_link *l)
{
	l->owner = o;
	l->next = o->links;
	o->links = l;
}

void fl_link_detach(struct fl_link *l)
{
	if (!l->active)
		return;
	l->active = false;
	switch (l->kind) {
	case FL_LINK_BPF:
		bpf_link__destroy(l->link);
		l->link = NULL;
		break;
	case FL_LINK_FD:
		close(l->fd);
		l->fd = -1;
		break;
	case FL_LINK_TC:
		fl_tc_detach(l);
		break;
	}
}

void fl_link_release(struct fl_link *l)
{
	if (--l->refs == 0)
		free(l);
}

static void link_finalize(napi_env env, void *data, void *hint)
{
	fl_link_release(data); /* GC of the JS handle does not detach: the object owns the attachment */
}

napi_value fl_link_wrap(napi_env env, struct fl_link *l)
{
	napi_value ext, res, desc;
	l->refs++;
	napi_create_external(env, l, link_finalize, NULL, &ext);
	napi_create_object(env, &res);
	fl_set_named(env, res, "handle", ext);
	napi_create_string_utf8(env, l->desc, NAPI_AUTO_LENGTH, &desc);
	fl_set_named(env, res, "description", desc);
	return res;
}

static napi_value detach_link(napi_env env, napi_callback_info info)
{
	napi_value argv[1];
	void *p = NULL;
	if (!fl_args(env, info, 1, argv, NULL))
		return NULL;
	if (napi_get_value_external(env, argv[0], &p) != napi_ok || !p) {
		fl_throw(env, EINVAL, "expected a link handle");
		return NULL;
	}
	struct fl_link *l = p;
	fl_link_detach(l);
	struct fl_object *o = l->owner;
	if (o) { /* unlink from the owner so close() does not revisit it */
		for (struct fl_link **pp = &o->links; *pp; pp = &(*pp)->next) {
			if (*pp == l) {
				*pp = l->next;
				l->owner = NULL;
				fl_link_release(l);
				break;
			}
		}
	}
	return fl_undefined(env);
}

/* openObjectCount() -> number of objects not yet closed (tests and exit handlers) */
static napi_value open_object_count(napi_env env, napi_callback_info info)
{
	napi_value n;
	int c = 0;
	for (struct fl_object *o = g_objects; o; o = o->next)
		c += o->env == env;
	napi_create_int32(env, c, &n);
	return n;
}

static napi_value close_all(napi_env env, napi_callback_info info)
{
	fl_close_all(env);
	return fl_undefined(env);
}

void fl_init_object(napi_env env, napi_value exports)
{
	fl_export(env, exports, "openObject", open_object);
	fl_export(env, exports, "loadObject", load_object);
	fl_export(env, exports, "closeObject", close_object);
	fl_export(env, exports, "describeObject", describe_object);
	fl_export(env, exports, "setMapMaxEntries", set_map_max_entries);
	fl_export(env, exports, "detachLink", detach_link);
	fl_export(env, exports, "openObjectCount", open_object_count);
	fl_export(env, exports, "closeAll", close_all);
}
