/* Struct layouts from a BPF object's own BTF, so user space decodes records with the offsets the
 * compiler actually used (the C header is the single source of truth). */
#include "fl.h"
#include <errno.h>
#include <string.h>

static const char *kind_name(const struct btf_type *t)
{
	switch (btf_kind(t)) {
	case BTF_KIND_INT: return "int";
	case BTF_KIND_PTR: return "ptr";
	case BTF_KIND_ARRAY: return "array";
	case BTF_KIND_STRUCT: return "struct";
	case BTF_KIND_UNION: return "union";
	case BTF_KIND_ENUM: return "enum";
	case BTF_KIND_ENUM64: return "enum";
	case BTF_KIND_FLOAT: return "float";
	default: return "other";
	}
}

static napi_value describe_composite(napi_env env, const struct btf *btf, const struct btf_type *t, int depth);

static napi_value describe_member(napi_env env, const struct btf *btf, const struct btf_type *parent, int i, int depth)
{
	const struct btf_member *m = btf_members(parent) + i;
	napi_value e;
	napi_create_object(env, &e);
	uint32_t bit_off = btf_member_bit_offset(parent, (uint32_t)i);
	uint32_t bit_size = btf_member_bitfield_size(parent, (uint32_t)i);
	int id = btf__resolve_type(btf, m->type);
	const struct btf_type *mt = id >= 0 ? btf__type_by_id(btf, (uint32_t)id) : NULL;
	fl_set_str(env, e, "name", btf__name_by_offset(btf, m->name_off));
	fl_set_int(env, e, "offset", bit_off / 8);
	fl_set_int(env, e, "bitOffset", bit_off);
	fl_set_int(env, e, "bitSize", bit_size);
	long long size = btf__resolve_size(btf, m->type);
	fl_set_int(env, e, "size", size < 0 ? 0 : size);
	if (!mt)
		return e;
	fl_set_str(env, e, "kind", kind_name(mt));
	if (btf_is_int(mt))
		fl_set_bool(env, e, "signed", (btf_int_encoding(mt) & BTF_INT_SIGNED) != 0);
	if (btf_is_enum(mt))
		fl_set_bool(env, e, "signed", btf_kflag(mt));
	if (btf_is_array(mt)) {
		const struct btf_array *a = btf_array(mt);
		fl_set_int(env, e, "arrayLen", a->nelems);
		long long es = btf__resolve_size(btf, a->type);
		fl_set_int(env, e, "elemSize", es < 0 ? 0 : es);
		int eid = btf__resolve_type(btf, a->type);
		const struct btf_type *et = eid >= 0 ? btf__type_by_id(btf, (uint32_t)eid) : NULL;
		if (et)
			fl_set_str(env, e, "elemKind", kind_name(et));
		if (et && btf_is_int(et))
			fl_set_bool(env, e, "signed", (btf_int_encoding(et) & BTF_INT_SIGNED) != 0);
	}
	if ((btf_is_struct(mt) || btf_is_union(mt)) && depth < 8)
		fl_set_named(env, e, "members", describe_composite(env, btf, mt, depth + 1));
	return e;
}

static napi_value describe_composite(napi_env env, const struct btf *btf, const struct btf_type *t, int depth)
{
	napi_value arr;
	napi_create_array(env, &arr);
	for (int i = 0; i < btf_vlen(t); i++)
		napi_set_element(env, arr, (uint32_t)i, describe_member(env, btf, t, i, depth));
	return arr;
}

/* structLayout(obj, name) -> { name, size, kind, members: [{ name, offset, bitOffset, bitSize, size, kind,
 *   signed?, arrayLen?, elemSize?, elemKind?, members? }] } */
static napi_value struct_layout(napi_env env, napi_callback_info info)
{
	napi_value argv[2], res;
	char name[256];
	if (!fl_args(env, info, 2, argv, NULL))
		return NULL;
	struct fl_object *o = fl_object_from(env, argv[0]);
	if (!o || !fl_get_string(env, argv[1], name, sizeof(name), "struct name"))
		return NULL;
	struct btf *btf = bpf_object__btf(o->obj);
	if (!btf) {
		fl_throw(env, ENOENT, "%s has no BTF (compile with clang -g)", o->path);
		return NULL;
	}
	int id = btf__find_by_name_kind(btf, name, BTF_KIND_STRUCT);
	if (id < 0)
		id = btf__find_by_name_kind(btf, name, BTF_KIND_UNION);
	if (id < 0) { /* a typedef of a struct */
		int tid = btf__find_by_name_kind(btf, name, BTF_KIND_TYPEDEF);
		if (tid >= 0) {
			int rid = btf__resolve_type(btf, (uint32_t)tid);
			const struct btf_type *rt = rid >= 0 ? btf__type_by_id(btf, (uint32_t)rid) : NULL;
			if (rt && (btf_is_struct(rt) || btf_is_union(rt)))
				id = rid;
		}
	}
	if (id < 0) {
		fl_throw(env, ENOENT, "struct %s is not in the BTF of %s (is it used by a program? "
			 "FL_EXPORT_STRUCT(%s) in common.h keeps it)", name, o->path, name);
		return NULL;
	}
	const struct btf_type *t = btf__type_by_id(btf, (uint32_t)id);
	napi_create_object(env, &res);
	fl_set_str(env, res, "name", name);
	fl_set_int(env, res, "size", t->size);
	fl_set_str(env, res, "kind", kind_name(t));
	fl_set_named(env, res, "members", describe_composite(env, btf, t, 0));
	return res;
}

void fl_init_btf(napi_env env, napi_value exports)
{
	fl_export(env, exports, "structLayout", struct_layout);
}
