/* BPF_PROG_TEST_RUN, synchronous or on the libuv pool (so a JS consumer keeps running). */
#include "util.h"

#include <bpf/bpf.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

struct cf_run {
	int prog_fd;
	void *data_in, *ctx_in, *data_out, *ctx_out;
	uint32_t data_in_len, ctx_in_len, data_out_cap, ctx_out_cap;
	uint32_t repeat;
	/* results */
	int err;
	uint32_t retval, duration, data_out_len, ctx_out_len;
	napi_deferred deferred;
	napi_async_work work;
};

static void run_free(struct cf_run *r)
{
	free(r->data_in);
	free(r->ctx_in);
	free(r->data_out);
	free(r->ctx_out);
	free(r);
}

/* Parse (progFd, data, ctx|null, repeat, dataOutSize) into a self-contained request. */
static struct cf_run *run_parse(napi_env env, napi_callback_info info)
{
	struct cf_args a;
	struct cf_run *r;
	void *data, *ctx;
	size_t dlen, clen;
	int32_t fd;
	uint32_t repeat, out;

	if (!cf_get_args(env, info, &a) || !cf_arg_i32(env, &a, 0, "progFd", &fd) ||
	    !cf_arg_buffer(env, &a, 1, "data", false, &data, &dlen) ||
	    !cf_arg_buffer(env, &a, 2, "ctx", true, &ctx, &clen) || !cf_arg_u32(env, &a, 3, "repeat", &repeat) ||
	    !cf_arg_u32(env, &a, 4, "dataOutSize", &out))
		return NULL;
	r = calloc(1, sizeof(*r));
	if (!r) {
		cf_throw_errno(env, ENOMEM, "test run", NULL);
		return NULL;
	}
	r->prog_fd = fd;
	r->repeat = repeat;
	r->data_in_len = (uint32_t)dlen;
	r->ctx_in_len = (uint32_t)clen;
	r->data_out_cap = out ? out : (uint32_t)dlen + 256;
	r->ctx_out_cap = (uint32_t)clen;
	/* Copies: the async variant runs after JS may have reused its buffers. */
	r->data_in = malloc(dlen ? dlen : 1);
	r->data_out = malloc(r->data_out_cap);
	r->ctx_in = clen ? malloc(clen) : NULL;
	r->ctx_out = clen ? malloc(clen) : NULL;
	if (!r->data_in || !r->data_out || (clen && (!r->ctx_in || !r->ctx_out))) {
		run_free(r);
		cf_throw_errno(env, ENOMEM, "test run", NULL);
		return NULL;
	}
	memcpy(r->data_in, data, dlen);
	if (clen)
		memcpy(r->ctx_in, ctx, clen);
	return r;
}

static void run_exec(struct cf_run *r)
{
	DECLARE_LIBBPF_OPTS(bpf_test_run_opts, o);

	o.data_in = r->data_in;
	o.data_size_in = r->data_in_len;
	o.data_out = r->data_out;
	o.data_size_out = r->data_out_cap;
	if (r->ctx_in_len) {
		o.ctx_in = r->ctx_in;
		o.ctx_size_in = r->ctx_in_len;
		o.ctx_out = r->ctx_out;
		o.ctx_size_out = r->ctx_out_cap;
	}
	o.repeat = (int)r->repeat;
	r->err = bpf_prog_test_run_opts(r->prog_fd, &o);
	r->retval = o.retval;
	r->duration = o.duration;
	r->data_out_len = o.data_size_out;
	r->ctx_out_len = o.ctx_size_out;
}

static napi_value run_result(napi_env env, struct cf_run *r)
{
	napi_value d;

	NAPI_CALL(env, napi_create_object(env, &d));
	cf_set(env, d, "retval", cf_u32(env, r->retval));
	cf_set(env, d, "durationNs", cf_u32(env, r->duration));
	cf_set(env, d, "data", cf_buffer_copy(env, r->data_out, r->data_out_len));
	cf_set(env, d, "ctx", r->ctx_in_len ? cf_buffer_copy(env, r->ctx_out, r->ctx_out_len) : cf_null(env));
	return d;
}

/* progTestRun(progFd, data, ctx|null, repeat, dataOutSize) -> {retval, durationNs, data, ctx} */
static napi_value prog_test_run(napi_env env, napi_callback_info info)
{
	struct cf_run *r = run_parse(env, info);
	napi_value res;

	if (!r)
		return NULL;
	run_exec(r);
	if (r->err)
		res = cf_throw_errno(env, r->err, "test run", "program fd %d", r->prog_fd);
	else
		res = run_result(env, r);
	run_free(r);
	return res;
}

static void async_execute(napi_env env, void *data)
{
	(void)env;
	run_exec(data);
}

static void async_complete(napi_env env, napi_status status, void *data)
{
	struct cf_run *r = data;
	napi_value v, exc;
	bool pending = false;

	if (status != napi_ok) {
		napi_create_string_utf8(env, "test run cancelled", NAPI_AUTO_LENGTH, &v);
		napi_reject_deferred(env, r->deferred, v);
	} else if (r->err) {
		/* Build the error through the common path, then move it into the promise. */
		cf_throw_errno(env, r->err, "test run", "program fd %d", r->prog_fd);
		napi_get_and_clear_last_exception(env, &exc);
		napi_reject_deferred(env, r->deferred, exc);
	} else {
		v = run_result(env, r);
		napi_is_exception_pending(env, &pending);
		if (pending) {
			napi_get_and_clear_last_exception(env, &exc);
			napi_reject_deferred(env, r->deferred, exc);
		} else {
			napi_resolve_deferred(env, r->deferred, v);
		}
	}
	napi_delete_async_work(env, r->work);
	run_free(r);
}

/* progTestRunAsync(...same...) -> Promise<{retval, durationNs, data, ctx}> */
static napi_value prog_test_run_async(napi_env env, napi_callback_info info)
{
	struct cf_run *r = run_parse(env, info);
	napi_value promise, name;

	if (!r)
		return NULL;
	if (napi_create_promise(env, &r->deferred, &promise) != napi_ok) {
		run_free(r);
		cf_throw_napi(env, "napi_create_promise");
		return NULL;
	}
	napi_create_string_utf8(env, "conform test run", NAPI_AUTO_LENGTH, &name);
	if (napi_create_async_work(env, NULL, name, async_execute, async_complete, r, &r->work) != napi_ok ||
	    napi_queue_async_work(env, r->work) != napi_ok) {
		cf_throw_napi(env, "napi_queue_async_work");
		return NULL;
	}
	return promise;
}

bool cf_init_testrun(napi_env env, napi_value exports)
{
	static const struct cf_fn fns[] = {
		{ "progTestRun", prog_test_run },
		{ "progTestRunAsync", prog_test_run_async },
	};
	return cf_export(env, exports, fns, sizeof(fns) / sizeof(fns[0]));
}
