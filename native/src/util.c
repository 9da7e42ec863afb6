#define _GNU_SOURCE
#include "util.h"

#include <bpf/libbpf.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

bool cf_get_args(napi_env env, napi_callback_info info, struct cf_args *a)
{
	a->argc = CF_MAX_ARGS;
	if (napi_get_cb_info(env, info, &a->argc, a->argv, &a->self, NULL) != napi_ok) {
		cf_throw_napi(env, "napi_get_cb_info");
		return false;
	}
	for (size_t i = a->argc; i < CF_MAX_ARGS; i++)
		napi_get_undefined(env, &a->argv[i]);
	return true;
}

bool cf_is_nullish(napi_env env, napi_value v)
{
	napi_valuetype t;

	if (napi_typeof(env, v, &t) != napi_ok)
		return true;
	return t == napi_undefined || t == napi_null;
}

static bool expect_type(napi_env env, napi_value v, napi_valuetype want, const char *name, const char *what)
{
	napi_valuetype t;

	if (napi_typeof(env, v, &t) != napi_ok || t != want) {
		cf_throw_type(env, "argument '%s' must be %s", name, what);
		return false;
	}
	return true;
}

bool cf_arg_u32(napi_env env, struct cf_args *a, size_t i, const char *name, uint32_t *out)
{
	double d;

	if (!expect_type(env, a->argv[i], napi_number, name, "a number"))
		return false;
	napi_get_value_double(env, a->argv[i], &d);
	if (d < 0 || d > 4294967295.0 || d != (double)(uint32_t)d) {
		cf_throw_type(env, "argument '%s' must be an integer in 0..2^32-1, got %g", name, d);
		return false;
	}
	*out = (uint32_t)d;
	return true;
}

bool cf_arg_i32(napi_env env, struct cf_args *a, size_t i, const char *name, int32_t *out)
{
	double d;

	if (!expect_type(env, a->argv[i], napi_number, name, "a number"))
		return false;
	napi_get_value_double(env, a->argv[i], &d);
	if (d < -2147483648.0 || d > 2147483647.0 || d != (double)(int32_t)d) {
		cf_throw_type(env, "argument '%s' must be a 32-bit integer, got %g", name, d);
		return false;
	}
	*out = (int32_t)d;
	return true;
}

bool cf_arg_i64(napi_env env, struct cf_args *a, size_t i, const char *name, int64_t *out)
{
	if (!expect_type(env, a->argv[i], napi_number, name, "a number"))
		return false;
	napi_get_value_int64(env, a->argv[i], out);
	return true;
}

bool cf_arg_bool(napi_env env, struct cf_args *a, size_t i, const char *name, bool *out)
{
	if (!expect_type(env, a->argv[i], napi_boolean, name, "a boolean"))
		return false;
	napi_get_value_bool(env, a->argv[i], out);
	return true;
}

bool cf_arg_string(napi_env env, struct cf_args *a, size_t i, const char *name, bool optional, char **out)
{
	size_t len;
	char *s;

	*out = NULL;
	if (optional && cf_is_nullish(env, a->argv[i]))
		return true;
	if (!expect_type(env, a->argv[i], napi_string, name, "a string"))
		return false;
	napi_get_value_string_utf8(env, a->argv[i], NULL, 0, &len);
	s = malloc(len + 1);
	if (!s) {
		cf_throw_errno(env, ENOMEM, "alloc", "argument '%s'", name);
		return false;
	}
	napi_get_value_string_utf8(env, a->argv[i], s, len + 1, &len);
	if (strlen(s) != len) {
		free(s);
		cf_throw_type(env, "argument '%s' must not contain NUL characters", name);
		return false;
	}
	*out = s;
	return true;
}

bool cf_arg_buffer(napi_env env, struct cf_args *a, size_t i, const char *name, bool optional, void **data,
		   size_t *len)
{
	bool is;

	*data = NULL;
	*len = 0;
	if (optional && cf_is_nullish(env, a->argv[i]))
		return true;
	if (napi_is_buffer(env, a->argv[i], &is) == napi_ok && is) {
		napi_get_buffer_info(env, a->argv[i], data, len);
		return true;
	}
	if (napi_is_typedarray(env, a->argv[i], &is) == napi_ok && is) {
		napi_typedarray_type t;
		size_t n, off;
		napi_value ab;

		napi_get_typedarray_info(env, a->argv[i], &t, &n, data, &ab, &off);
		if (t == napi_uint8_array) {
			*len = n;
			return true;
		}
	}
	cf_throw_type(env, "argument '%s' must be a Buffer or Uint8Array", name);
	return false;
}

bool cf_arg_function(napi_env env, struct cf_args *a, size_t i, const char *name)
{
	return expect_type(env, a->argv[i], napi_function, name, "a function");
}

napi_value cf_throw_type(napi_env env, const char *fmt, ...)
{
	char msg[512];
	va_list ap;
	bool pending = false;

	napi_is_exception_pending(env, &pending);
	if (pending)
		return NULL;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	napi_throw_type_error(env, "ERR_INVALID_ARG", msg);
	return NULL;
}

static const char *errno_code(int err)
{
	/* The kernel's internal ENOTSUPP (524) leaks out of some bpf() commands; glibc has no name. */
	if (err == 524)
		return "ENOTSUPP";
	return strerrorname_np(err) ? strerrorname_np(err) : "EUNKNOWN";
}

static const char *errno_text(int err)
{
	if (err == 524)
		return "Operation not supported by the kernel";
	return strerror(err);
}

napi_value cf_throw_errno(napi_env env, int err, const char *op, const char *fmt, ...)
{
	char detail[1024] = "", msg[2048];
	napi_value error, message, code;
	const char *log = cf_log_text();
	bool pending = false;
	va_list ap;

	napi_is_exception_pending(env, &pending);
	if (pending)
		return NULL;
	if (err < 0)
		err = -err;
	if (fmt) {
		va_start(ap, fmt);
		vsnprintf(detail, sizeof(detail), fmt, ap);
		va_end(ap);
	}
	snprintf(msg, sizeof(msg), "%s%s%s: %s (%s)", op, detail[0] ? " " : "", detail, errno_text(err),
		 errno_code(err));
	napi_create_string_utf8(env, msg, NAPI_AUTO_LENGTH, &message);
	napi_create_string_utf8(env, errno_code(err), NAPI_AUTO_LENGTH, &code);
	napi_create_error(env, code, message, &error);
	cf_set(env, error, "errno", cf_u32(env, (uint32_t)err));
	cf_set(env, error, "op", cf_str(env, op));
	if (log && log[0])
		cf_set(env, error, "libbpfLog", cf_str(env, log));
	napi_throw(env, error);
	return NULL;
}

void cf_throw_napi(napi_env env, const char *what)
{
	const napi_extended_error_info *info = NULL;
	bool pending = false;

	napi_is_exception_pending(env, &pending);
	if (pending)
		return;
	napi_get_last_error_info(env, &info);
	napi_throw_error(env, "ERR_NAPI", info && info->error_message ? info->error_message : what);
}

napi_value cf_u32(napi_env env, uint32_t v)
{
	napi_value r;

	napi_create_uint32(env, v, &r);
	return r;
}

napi_value cf_i64(napi_env env, int64_t v)
{
	napi_value r;

	napi_create_int64(env, v, &r);
	return r;
}

napi_value cf_str(napi_env env, const char *s)
{
	napi_value r;

	napi_create_string_utf8(env, s ? s : "", NAPI_AUTO_LENGTH, &r);
	return r;
}

napi_value cf_bool(napi_env env, bool v)
{
	napi_value r;

	napi_get_boolean(env, v, &r);
	return r;
}

napi_value cf_null(napi_env env)
{
	napi_value r;

	napi_get_null(env, &r);
	return r;
}

napi_value cf_undefined(napi_env env)
{
	napi_value r;

	napi_get_undefined(env, &r);
	return r;
}

napi_value cf_buffer_copy(napi_env env, const void *data, size_t len)
{
	napi_value r;
	void *out;

	if (napi_create_buffer_copy(env, len, data, &out, &r) != napi_ok) {
		cf_throw_napi(env, "napi_create_buffer_copy");
		return NULL;
	}
	return r;
}

bool cf_set(napi_env env, napi_value obj, const char *key, napi_value v)
{
	return v && napi_set_named_property(env, obj, key, v) == napi_ok;
}

bool cf_export(napi_env env, napi_value exports, const struct cf_fn *fns, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		napi_value f;

		if (napi_create_function(env, fns[i].name, NAPI_AUTO_LENGTH, fns[i].cb, NULL, &f) != napi_ok ||
		    napi_set_named_property(env, exports, fns[i].name, f) != napi_ok)
			return false;
	}
	return true;
}

/* --- libbpf log capture -------------------------------------------------------------- */

struct cf_logbuf {
	char *text;
	size_t len, cap;
	int depth;
};

static __thread struct cf_logbuf cf_log;

static int cf_print(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	struct cf_logbuf *b = &cf_log;
	va_list ap2;
	int n;

	if (level == LIBBPF_DEBUG)
		return 0;
	if (b->depth == 0) {
		/* Outside a captured call only warnings matter, and they go where libbpf would put them. */
		return level == LIBBPF_WARN ? vfprintf(stderr, fmt, ap) : 0;
	}
	va_copy(ap2, ap);
	n = vsnprintf(NULL, 0, fmt, ap2);
	va_end(ap2);
	if (n <= 0)
		return 0;
	/* No cap: the kernel bounds the verifier log (16 MiB with libbpf's own buffer), and the
	 * verdict is at its end, so truncating would lose the one line that matters. */
	if (b->len + (size_t)n + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 4096;
		char *t;

		while (cap < b->len + (size_t)n + 1)
			cap *= 2;
		t = realloc(b->text, cap);
		if (!t)
			return 0;
		b->text = t;
		b->cap = cap;
	}
	vsnprintf(b->text + b->len, b->cap - b->len, fmt, ap);
	b->len += (size_t)n;
	return n;
}

void cf_log_init(void)
{
	libbpf_set_print(cf_print);
}

void cf_log_begin(void)
{
	if (cf_log.depth++ == 0) {
		/* A huge log from an earlier failure is not kept around for the process lifetime. */
		if (cf_log.cap > (1u << 20)) {
			free(cf_log.text);
			cf_log.text = NULL;
			cf_log.cap = 0;
		}
		cf_log.len = 0;
		if (cf_log.text)
			cf_log.text[0] = '\0';
	}
}

void cf_log_end(void)
{
	if (cf_log.depth > 0)
		cf_log.depth--;
}

const char *cf_log_text(void)
{
	return cf_log.text && cf_log.len ? cf_log.text : "";
}

/* --- network namespaces ---------------------------------------------------------------- */

int cf_netns_enter(const char *path, int *saved)
{
	int fd, err;

	*saved = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
	if (*saved < 0)
		return -errno;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		err = -errno;
		close(*saved);
		*saved = -1;
		return err;
	}
	if (setns(fd, CLONE_NEWNET) < 0) {
		err = -errno;
		close(fd);
		close(*saved);
		*saved = -1;
		return err;
	}
	close(fd);
	return 0;
}

void cf_netns_leave(int saved)
{
	if (saved < 0)
		return;
	if (setns(saved, CLONE_NEWNET) < 0) {
		/* Every later socket of this thread would land in the wrong namespace. */
		fprintf(stderr, "conform_native: cannot return to the original network namespace: %s\n",
			strerror(errno));
		abort();
	}
	close(saved);
}
