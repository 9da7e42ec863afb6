/*
 * conform_native: a thin Node-API layer over libbpf. Everything here is generic (objects,
 * maps, attach points, ring buffers, test runs); what the datapath means lives in TS.
 */
#include "util.h"

static napi_value init(napi_env env, napi_value exports)
{
	cf_log_init();
	if (!cf_init_object(env, exports) || !cf_init_map(env, exports) || !cf_init_attach(env, exports) ||
	    !cf_init_ringbuf(env, exports) || !cf_init_testrun(env, exports)) {
		cf_throw_napi(env, "conform_native init");
		return NULL;
	}
	return exports;
}

NAPI_MODULE(conform_native, init)
