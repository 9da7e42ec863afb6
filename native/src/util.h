/* Helpers shared by the addon's modules: argument parsing, errors, libbpf log capture. */
#ifndef CF_NATIVE_UTIL_H
#define CF_NATIVE_UTIL_H

#define NAPI_VERSION 8
#include <node_api.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Evaluate a napi call; on failure make sure a JS exception is pending and return NULL. */
#define NAPI_CALL(env, call)                                  \
	do {                                                  \
		if ((call) != napi_ok) {                      \
			cf_throw_napi((env), #call);          \
			return NULL;                          \
		}                                             \
	} while (0)

#define CF_MAX_ARGS 8

struct cf_args {
	size_t argc;
	napi_value argv[CF_MAX_ARGS];
	napi_value self;
};

/* Fetch up to CF_MAX_ARGS arguments; missing ones are undefined. */
bool cf_get_args(napi_env env, napi_callback_info info, struct cf_args *a);

bool cf_is_nullish(napi_env env, napi_value v);
bool cf_arg_u32(napi_env env, struct cf_args *a, size_t i, const char *name, uint32_t *out);
bool cf_arg_i32(napi_env env, struct cf_args *a, size_t i, const char *name, int32_t *out);
bool cf_arg_i64(napi_env env, struct cf_args *a, size_t i, const char *name, int64_t *out);
bool cf_arg_bool(napi_env env, struct cf_args *a, size_t i, const char *name, bool *out);
/* Returns a malloc'ed string (caller frees). *out = NULL when optional and nullish. */
bool cf_arg_string(napi_env env, struct cf_args *a, size_t i, const char *name, bool optional, char **out);
/* Buffer or Uint8Array contents (borrowed; valid while the JS value lives). */
bool cf_arg_buffer(napi_env env, struct cf_args *a, size_t i, const char *name, bool optional, void **data,
		   size_t *len);
bool cf_arg_function(napi_env env, struct cf_args *a, size_t i, const char *name);

/* Throw a TypeError naming the argument. Always returns NULL for `return cf_throw_type(...)`. */
napi_value cf_throw_type(napi_env env, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Throw an Error for errno `err` (positive) with code/errno/op properties and, when
 * libbpf logged anything during the capture, a `libbpfLog` property. Returns NULL. */
napi_value cf_throw_errno(napi_env env, int err, const char *op, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
void cf_throw_napi(napi_env env, const char *what);

napi_value cf_u32(napi_env env, uint32_t v);
napi_value cf_i64(napi_env env, int64_t v);
napi_value cf_str(napi_env env, const char *s);
napi_value cf_bool(napi_env env, bool v);
napi_value cf_null(napi_env env);
napi_value cf_undefined(napi_env env);
/* A new Buffer holding a copy of data. */
napi_value cf_buffer_copy(napi_env env, const void *data, size_t len);
bool cf_set(napi_env env, napi_value obj, const char *key, napi_value v);

/*
 * libbpf log capture. libbpf reports everything useful (verifier log, netlink extack,
 * pinning problems) through its print callback only, so calls are bracketed with
 * begin/end and the text lands in the error thrown for that call. Thread-local, so a
 * call on the libuv pool never mixes with one on the JS thread.
 */
void cf_log_init(void);
void cf_log_begin(void);
void cf_log_end(void);
const char *cf_log_text(void);

/* Enter the network namespace at path on this thread; *saved receives the old one. */
int cf_netns_enter(const char *path, int *saved);
/* Switch back; aborts the process if that fails, the thread would be stranded. */
void cf_netns_leave(int saved);

/* Module registration hooks of each source file. */
bool cf_init_object(napi_env env, napi_value exports);
bool cf_init_map(napi_env env, napi_value exports);
bool cf_init_attach(napi_env env, napi_value exports);
bool cf_init_ringbuf(napi_env env, napi_value exports);
bool cf_init_testrun(napi_env env, napi_value exports);

struct cf_fn {
	const char *name;
	napi_callback cb;
};
bool cf_export(napi_env env, napi_value exports, const struct cf_fn *fns, size_t n);

#endif
