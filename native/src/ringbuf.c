/*
 * Ring buffer consumer. A dedicated thread waits on the ring (epoll) and an eventfd (for
 * close), drains records into a batch buffer and hands each batch to JS through a
 * thread-safe function, so the event loop never blocks and pays one callback per batch.
 *
 * Batch layout (one Buffer): records back to back, each `u32 length, u32 zero, bytes`,
 * padded to 8 bytes, so fixed-size records stay 8-byte aligned for DataView reads.
 *
 * Wakeups: the BPF side may submit without waking us (see bpf/lib/events.h), so the thread
 * also drains the ring every poll interval; that interval bounds event latency.
 *
 * Back-pressure: when JS falls behind, the TSFN queue fills, the thread waits, the ring
 * fills and the BPF side counts lost events. Nothing is dropped in userspace.
 */
#include "util.h"

#include <bpf/libbpf.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#define CF_RB_QUEUE 64

struct cf_rb_batch {
	char *data;
	size_t len;
	uint32_t count;
};

struct cf_rb {
	struct ring_buffer *rb;
	napi_threadsafe_function tsfn;
	pthread_t thread;
	/* Our own duplicate of the map fd: the object that owns the map may be closed first. */
	int map_fd;
	int wake_fd;
	atomic_bool stop;
	bool running;
	/* Batch being filled; touched by the poll thread only. */
	char *buf;
	size_t len, cap, max_bytes;
	uint32_t count, max_records;
	int interval_ms;
	atomic_uint_fast64_t records, batches, bytes, waits;
};

static bool rb_flush(struct cf_rb *r)
{
	struct cf_rb_batch *b;
	napi_status st;

	if (!r->count)
		return true;
	b = malloc(sizeof(*b));
	if (!b)
		return false;
	b->data = r->buf;
	b->len = r->len;
	b->count = r->count;
	r->buf = NULL;
	r->len = r->cap = 0;
	r->count = 0;
	for (;;) {
		st = napi_call_threadsafe_function(r->tsfn, b, napi_tsfn_nonblocking);
		if (st == napi_ok)
			break;
		if (st != napi_queue_full || atomic_load(&r->stop)) {
			free(b->data);
			free(b);
			return false;
		}
		/* JS is behind: wait for it instead of dropping; the ring absorbs the burst. */
		atomic_fetch_add(&r->waits, 1);
		usleep(200);
	}
	atomic_fetch_add(&r->batches, 1);
	return true;
}

static int rb_sample(void *ctx, void *data, size_t size)
{
	struct cf_rb *r = ctx;
	size_t need = (8 + size + 7) & ~(size_t)7;

	if (r->count && (r->len + need > r->max_bytes || r->count >= r->max_records))
		rb_flush(r);
	if (r->len + need > r->cap) {
		size_t cap = r->cap ? r->cap : (r->max_bytes < 65536 ? 65536 : r->max_bytes);
		char *t;

		while (cap < r->len + need)
			cap *= 2;
		t = realloc(r->buf, cap);
		if (!t)
			return 0; /* record lost to OOM; keep the ring moving */
		r->buf = t;
		r->cap = cap;
	}
	*(uint32_t *)(r->buf + r->len) = (uint32_t)size;
	*(uint32_t *)(r->buf + r->len + 4) = 0;
	memcpy(r->buf + r->len + 8, data, size);
	memset(r->buf + r->len + 8 + size, 0, need - 8 - size);
	r->len += need;
	r->count++;
	atomic_fetch_add(&r->records, 1);
	atomic_fetch_add(&r->bytes, size);
	return 0;
}

static void *rb_thread(void *arg)
{
	struct cf_rb *r = arg;
	struct pollfd p[2] = {
		{ .fd = ring_buffer__epoll_fd(r->rb), .events = POLLIN },
		{ .fd = r->wake_fd, .events = POLLIN },
	};

	while (!atomic_load(&r->stop)) {
		int n = poll(p, 2, r->interval_ms);

		if (n < 0 && errno != EINTR)
			break;
		if (atomic_load(&r->stop))
			break;
		ring_buffer__consume(r->rb);
		rb_flush(r);
	}
	free(r->buf);
	r->buf = NULL;
	napi_release_threadsafe_function(r->tsfn, napi_tsfn_release);
	return NULL;
}

static void rb_free_batch(napi_env env, void *data, void *hint)
{
	(void)env;
	(void)hint;
	free(data);
}

static void rb_call_js(napi_env env, napi_value cb, void *context, void *data)
{
	struct cf_rb_batch *b = data;
	napi_value buf, argv[2], undef, exc;
	napi_status st;

	(void)context;
	if (!env) {
		free(b->data);
		free(b);
		return;
	}
	/* Hand the batch memory to JS without a copy; copy where external buffers are refused. */
	if (napi_create_external_buffer(env, b->len, b->data, rb_free_batch, NULL, &buf) != napi_ok) {
		void *out;

		napi_create_buffer_copy(env, b->len, b->data, &out, &buf);
		free(b->data);
	}
	argv[0] = buf;
	napi_create_uint32(env, b->count, &argv[1]);
	free(b);
	napi_get_undefined(env, &undef);
	st = napi_call_function(env, undef, cb, 2, argv, NULL);
	if (st == napi_pending_exception && napi_get_and_clear_last_exception(env, &exc) == napi_ok)
		napi_fatal_exception(env, exc);
}

static void rb_stop(struct cf_rb *r)
{
	uint64_t one = 1;

	if (!r->running)
		return;
	atomic_store(&r->stop, true);
	if (write(r->wake_fd, &one, sizeof(one)) < 0) {
		/* The thread still notices `stop` within its poll interval. */
	}
	pthread_join(r->thread, NULL);
	r->running = false;
}

static void rb_destroy(struct cf_rb *r)
{
	rb_stop(r);
	if (r->rb)
		ring_buffer__free(r->rb);
	if (r->wake_fd >= 0)
		close(r->wake_fd);
	if (r->map_fd >= 0)
		close(r->map_fd);
	free(r->buf);
	free(r);
}

static void rb_finalize(napi_env env, void *data, void *hint)
{
	(void)env;
	(void)hint;
	rb_destroy(data);
}

static struct cf_rb *arg_rb(napi_env env, struct cf_args *a, size_t i)
{
	void *p = NULL;

	if (napi_get_value_external(env, a->argv[i], &p) != napi_ok || !p) {
		cf_throw_type(env, "argument 'reader' must be a handle from ringbufOpen");
		return NULL;
	}
	return p;
}

/* ringbufOpen(mapFd, onBatch(buffer, count), maxBatchRecords, maxBatchBytes, intervalMs) -> handle */
static napi_value ringbuf_open(napi_env env, napi_callback_info info)
{
	uint32_t max_records, max_bytes, interval;
	napi_value name, handle;
	struct cf_args a;
	struct cf_rb *r;
	int32_t fd;
	int err;

	if (!cf_get_args(env, info, &a) || !cf_arg_i32(env, &a, 0, "mapFd", &fd) ||
	    !cf_arg_function(env, &a, 1, "onBatch") || !cf_arg_u32(env, &a, 2, "maxBatchRecords", &max_records) ||
	    !cf_arg_u32(env, &a, 3, "maxBatchBytes", &max_bytes) || !cf_arg_u32(env, &a, 4, "intervalMs", &interval))
		return NULL;
	r = calloc(1, sizeof(*r));
	if (!r)
		return cf_throw_errno(env, ENOMEM, "ringbuf open", NULL);
	r->wake_fd = -1;
	r->map_fd = fcntl(fd, F_DUPFD_CLOEXEC, 3);
	if (r->map_fd < 0) {
		err = errno;
		rb_destroy(r);
		return cf_throw_errno(env, err, "ringbuf open", "dup map fd %d", fd);
	}
	r->max_records = max_records ? max_records : 4096;
	r->max_bytes = max_bytes ? max_bytes : (1u << 20);
	r->interval_ms = interval ? (int)interval : 10;
	cf_log_begin();
	r->rb = ring_buffer__new(r->map_fd, rb_sample, r, NULL);
	err = r->rb ? 0 : -errno;
	cf_log_end();
	if (err) {
		rb_destroy(r);
		return cf_throw_errno(env, err, "ringbuf open", "map fd %d", fd);
	}
	r->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (r->wake_fd < 0) {
		err = errno;
		rb_destroy(r);
		return cf_throw_errno(env, err, "ringbuf open", "eventfd");
	}
	napi_create_string_utf8(env, "conform ringbuf", NAPI_AUTO_LENGTH, &name);
	if (napi_create_threadsafe_function(env, a.argv[1], NULL, name, CF_RB_QUEUE, 1, NULL, NULL, NULL, rb_call_js,
					    &r->tsfn) != napi_ok) {
		rb_destroy(r);
		cf_throw_napi(env, "napi_create_threadsafe_function");
		return NULL;
	}
	err = pthread_create(&r->thread, NULL, rb_thread, r);
	if (err) {
		napi_release_threadsafe_function(r->tsfn, napi_tsfn_abort);
		rb_destroy(r);
		return cf_throw_errno(env, err, "ringbuf open", "thread");
	}
	r->running = true;
	if (napi_create_external(env, r, rb_finalize, NULL, &handle) != napi_ok) {
		rb_destroy(r);
		cf_throw_napi(env, "napi_create_external");
		return NULL;
	}
	return handle;
}

/* ringbufClose(handle): stop the thread; batches already queued are still delivered. */
static napi_value ringbuf_close(napi_env env, napi_callback_info info)
{
	struct cf_args a;
	struct cf_rb *r;

	if (!cf_get_args(env, info, &a) || !(r = arg_rb(env, &a, 0)))
		return NULL;
	rb_stop(r);
	return cf_undefined(env);
}

/* ringbufRef(handle, ref): whether an open reader keeps the event loop alive. */
static napi_value ringbuf_ref(napi_env env, napi_callback_info info)
{
	struct cf_args a;
	struct cf_rb *r;
	bool ref;

	if (!cf_get_args(env, info, &a) || !(r = arg_rb(env, &a, 0)) || !cf_arg_bool(env, &a, 1, "ref", &ref))
		return NULL;
	if (r->running) {
		if (ref)
			napi_ref_threadsafe_function(env, r->tsfn);
		else
			napi_unref_threadsafe_function(env, r->tsfn);
	}
	return cf_undefined(env);
}

/* ringbufStats(handle) -> {records, batches, bytes, queueFullWaits} */
static napi_value ringbuf_stats(napi_env env, napi_callback_info info)
{
	struct cf_args a;
	struct cf_rb *r;
	napi_value d;

	if (!cf_get_args(env, info, &a) || !(r = arg_rb(env, &a, 0)))
		return NULL;
	NAPI_CALL(env, napi_create_object(env, &d));
	cf_set(env, d, "records", cf_i64(env, (int64_t)atomic_load(&r->records)));
	cf_set(env, d, "batches", cf_i64(env, (int64_t)atomic_load(&r->batches)));
	cf_set(env, d, "bytes", cf_i64(env, (int64_t)atomic_load(&r->bytes)));
	cf_set(env, d, "queueFullWaits", cf_i64(env, (int64_t)atomic_load(&r->waits)));
	return d;
}

bool cf_init_ringbuf(napi_env env, napi_value exports)
{
	static const struct cf_fn fns[] = {
		{ "ringbufOpen", ringbuf_open },
		{ "ringbufClose", ringbuf_close },
		{ "ringbufRef", ringbuf_ref },
		{ "ringbufStats", ringbuf_stats },
	};
	return cf_export(env, exports, fns, sizeof(fns) / sizeof(fns[0]));
}
