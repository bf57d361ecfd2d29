/* Module entry: registers every part's functions and a cleanup hook that detaches everything
 * still attached when the Node environment tears down (a backstop behind the TS exit handlers). */
#include "fl.h"

static napi_value init(napi_env env, napi_value exports)
{
	fl_log_install();
	fl_init_object(env, exports);
	fl_init_attach(env, exports);
	fl_init_tc(env, exports);
	fl_init_map(env, exports);
	fl_init_ringbuf(env, exports);
	fl_init_btf(env, exports);
	fl_init_probe(env, exports);
	napi_add_env_cleanup_hook(env, fl_close_all, env);
	return exports;
}

NAPI_MODULE_INIT() { return init(env, exports); }
