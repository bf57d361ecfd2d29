/* Error construction and argument helpers shared by every part of the addon. */
#include "fl.h"
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *fl_errno_name(int err)
{
	switch (err) {
	case EPERM: return "EPERM";
	case ENOENT: return "ENOENT";
	case ESRCH: return "ESRCH";
	case EIO: return "EIO";
	case E2BIG: return "E2BIG";
	case EBADF: return "EBADF";
	case EAGAIN: return "EAGAIN";
	case ENOMEM: return "ENOMEM";
	case EACCES: return "EACCES";
	case EFAULT: return "EFAULT";
	case EBUSY: return "EBUSY";
	case EEXIST: return "EEXIST";
	case ENODEV: return "ENODEV";
	case ENOTDIR: return "ENOTDIR";
	case EINVAL: return "EINVAL";
	case ENOSPC: return "ENOSPC";
	case ERANGE: return "ERANGE";
	case ENOSYS: return "ENOSYS";
	case EOPNOTSUPP: return "EOPNOTSUPP";
	case ENOEXEC: return "ENOEXEC";
	case 524: return "ENOTSUPP";
	case ESTALE: return "ESTALE";
	case EMLINK: return "EMLINK";
	case ENAMETOOLONG: return "ENAMETOOLONG";
	case ENXIO: return "ENXIO";
	default: return "EUNKNOWN";
	}
}

const char *fl_strerror(int err)
{
	switch (err) {
	case 524: return "operation not supported by this kernel (ENOTSUPP)";
	case 4000: return "libbpf: unknown error";
	case 4001: return "libbpf: not an ELF file or malformed ELF";
	case 4002: return "libbpf: ELF has an unsupported version";
	case 4003: return "libbpf: kernel version required";
	case 4004: return "libbpf: malformed ELF";
	case 4005: return "libbpf: unsupported relocation";
	case 4006: return "libbpf: invalid program";
	case 4007: return "libbpf: relocation failed";
	case 4008: return "libbpf: kernel verifier rejected the program";
	case 4009: return "libbpf: program too big";
	case 4010: return "libbpf: incorrect kernel version";
	case 4011: return "libbpf: kernel does not support this program type";
	case 4012: return "libbpf: wrong pid in netlink reply";
	case 4013: return "libbpf: invalid netlink sequence";
	case 4014: return "libbpf: netlink error";
	default: return strerror(err);
	}
}

static void throw_with(napi_env env, int err, const char *msg, const char *log)
{
	napi_value jmsg, error, code;
	bool pending = false;
	napi_is_exception_pending(env, &pending);
	if (pending)
		return;
	napi_create_string_utf8(env, msg, NAPI_AUTO_LENGTH, &jmsg);
	napi_create_error(env, NULL, jmsg, &error);
	if (err > 0) {
		napi_create_string_utf8(env, fl_errno_name(err), NAPI_AUTO_LENGTH, &code);
		fl_set_named(env, error, "code", code);
		fl_set_int(env, error, "errno", err);
	}
	if (log && *log)
		fl_set_str(env, error, "libbpfLog", log);
	napi_throw(env, error);
}

void fl_throw(napi_env env, int err, const char *fmt, ...)
{
	char msg[2048];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	throw_with(env, err < 0 ? -err : err, msg, NULL);
}

void fl_throw_log(napi_env env, int err, const char *fmt, ...)
{
	char msg[2048];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	throw_with(env, err < 0 ? -err : err, msg, fl_log_text());
}

bool fl_args(napi_env env, napi_callback_info info, size_t want, napi_value *argv, void **data)
{
	size_t argc = want;
	if (napi_get_cb_info(env, info, &argc, argv, NULL, data) != napi_ok) {
		fl_throw(env, EINVAL, "faultlens_native: cannot read arguments");
		return false;
	}
	for (size_t i = argc; i < want; i++)
		napi_get_undefined(env, &argv[i]);
	return true;
}

bool fl_is_nullish(napi_env env, napi_value v)
{
	napi_valuetype t;
	napi_typeof(env, v, &t);
	return t == napi_undefined || t == napi_null;
}

bool fl_get_string(napi_env env, napi_value v, char *buf, size_t len, const char *what)
{
	size_t n = 0;
	if (napi_get_value_string_utf8(env, v, buf, len, &n) != napi_ok) {
		fl_throw(env, EINVAL, "%s must be a string", what);
		return false;
	}
	if (n >= len - 1) {
		fl_throw(env, ENAMETOOLONG, "%s is too long (max %zu bytes)", what, len - 2);
		return false;
	}
	return true;
}

bool fl_get_int64(napi_env env, napi_value v, int64_t *out, const char *what)
{
	if (napi_get_value_int64(env, v, out) != napi_ok) {
		fl_throw(env, EINVAL, "%s must be a number", what);
		return false;
	}
	return true;
}

bool fl_get_uint64(napi_env env, napi_value v, uint64_t *out, const char *what)
{
	napi_valuetype t;
	napi_typeof(env, v, &t);
	if (t == napi_bigint) {
		bool lossless;
		napi_get_value_bigint_uint64(env, v, out, &lossless);
		return true;
	}
	int64_t i;
	if (!fl_get_int64(env, v, &i, what))
		return false;
	*out = (uint64_t)i;
	return true;
}

bool fl_get_buffer(napi_env env, napi_value v, void **data, size_t *len, const char *what)
{
	bool ok = false;
	napi_is_buffer(env, v, &ok);
	if (!ok || napi_get_buffer_info(env, v, data, len) != napi_ok) {
		fl_throw(env, EINVAL, "%s must be a Buffer", what);
		return false;
	}
	return true;
}

napi_value fl_undefined(napi_env env)
{
	napi_value u;
	napi_get_undefined(env, &u);
	return u;
}

void fl_set_named(napi_env env, napi_value obj, const char *name, napi_value v)
{
	napi_set_named_property(env, obj, name, v);
}

void fl_set_int(napi_env env, napi_value obj, const char *name, int64_t v)
{
	napi_value n;
	napi_create_int64(env, v, &n);
	napi_set_named_property(env, obj, name, n);
}

void fl_set_str(napi_env env, napi_value obj, const char *name, const char *s)
{
	napi_value n;
	napi_create_string_utf8(env, s ? s : "", NAPI_AUTO_LENGTH, &n);
	napi_set_named_property(env, obj, name, n);
}

void fl_set_bool(napi_env env, napi_value obj, const char *name, bool b)
{
	napi_value n;
	napi_get_boolean(env, b, &n);
	napi_set_named_property(env, obj, name, n);
}

void fl_export(napi_env env, napi_value exports, const char *name, napi_callback cb)
{
	napi_value fn;
	napi_create_function(env, name, NAPI_AUTO_LENGTH, cb, NULL, &fn);
	napi_set_named_property(env, exports, name, fn);
}
