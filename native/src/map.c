/* Map operations by file descriptor, plus pinning and fd bookkeeping. */
#include "util.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/magic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

/* mapInfo(fd) -> {id, name, type, keySize, valueSize, maxEntries, flags} */
static napi_value map_info(napi_env env, napi_callback_info info)
{
	struct bpf_map_info mi = {};
	__u32 len = sizeof(mi);
	struct cf_args a;
	napi_value d;
	int32_t fd;
	int err;

	if (!cf_get_args(env, info, &a) || !cf_arg_i32(env, &a, 0, "fd", &fd))
		return NULL;
	err = bpf_obj_get_info_by_fd(fd, &mi, &len);
	if (err)
		return cf_throw_errno(env, err, "map info", "fd %d", fd);
	NAPI_CALL(env, napi_create_object(env, &d));
	cf_set(env, d, "id", cf_u32(env, mi.id));
	cf_set(env, d, "name", cf_str(env, mi.name));
	cf_set(env, d, "type", cf_u32(env, mi.type));
	cf_set(env, d, "keySize", cf_u32(env, mi.key_size));
	cf_set(env, d, "valueSize", cf_u32(env, mi.value_size));
	cf_set(env, d, "maxEntries", cf_u32(env, mi.max_entries));
	cf_set(env, d, "flags", cf_u32(env, mi.map_flags));
	return d;
}

/* progInfo(fd) -> {id, name, type, tag, runTimeNs, runCount} (run stats need enableStats) */
static napi_value prog_info(napi_env env, napi_callback_info info)
{
	struct bpf_prog_info pi = {};
	__u32 len = sizeof(pi);
	char tag[2 * BPF_TAG_SIZE + 1];
	struct cf_args a;
	napi_value d;
	int32_t fd;
	int err;

	if (!cf_get_args(env, info, &a) || !cf_arg_i32(env, &a, 0, "fd", &fd))
		return NULL;
	err = bpf_obj_get_info_by_fd(fd, &pi, &len);
	if (err)
		return cf_throw_errno(env, err, "program info", "fd %d", fd);
	for (int i = 0; i < BPF_TAG_SIZE; i++)
		snprintf(tag + 2 * i, 3, "%02x", pi.tag[i]);
	NAPI_CALL(env, napi_create_object(env, &d));
	cf_set(env, d, "id", cf_u32(env, pi.id));
	cf_set(env, d, "name", cf_str(env, pi.name));
	cf_set(env, d, "type", cf_u32(env, pi.type));
	cf_set(env, d, "tag", cf_str(env, tag));
	{
		napi_value rt, rc;

		napi_create_bigint_uint64(env, pi.run_time_ns, &rt);
		napi_create_bigint_uint64(env, pi.run_cnt, &rc);
		cf_set(env, d, "runTimeNs", rt);
		cf_set(env, d, "runCount", rc);
	}
	return d;
}

/*
 * enableStats() -> fd. The kernel accounts run time and count of every BPF program while
 * any such fd is open (BPF_ENABLE_STATS), without touching the global sysctl.
 */
static napi_value enable_stats(napi_env env, napi_callback_info info)
{
	int fd;

	(void)info;
	fd = bpf_enable_stats(BPF_STATS_RUN_TIME);
	if (fd < 0)
		return cf_throw_errno(env, fd, "enable stats", NULL);
	return cf_i64(env, fd);
}

/* mapLookup(fd, key, valueSize) -> Buffer | null */
static napi_value map_lookup(napi_env env, napi_callback_info info)
{
	struct cf_args a;
	napi_value r;
	void *key, *out;
	size_t klen;
	uint32_t vsize;
	int32_t fd;
	int err;

	if (!cf_get_args(env, info, &a) || !cf_arg_i32(env, &a, 0, "fd", &fd) ||
	    !cf_arg_buffer(env, &a, 1, "key", false, &key, &klen) || !cf_arg_u32(env, &a, 2, "valueSize", &vsize))
		return NULL;
	NAPI_CALL(env, napi_create_buffer(env, vsize, &out, &r));
	err = bpf_map_lookup_elem(fd, key, out);
	if (err == -ENOENT)
		return cf_null(env);
	if (err)
		return cf_throw_errno(env, err, "map lookup", "fd %d", fd);
	return r;
}

/* mapUpdate(fd, key, value, flags) */
static napi_value map_update(napi_env env, napi_callback_info info)
{
	struct cf_args a;
	void *key, *val;
	size_t klen, vlen;
	uint32_t flags;
	int32_t fd;
	int err;

	if (!cf_get_args(env, info, &a) || !cf_arg_i32(env, &a, 0, "fd", &fd) ||
	    !cf_arg_buffer(env, &a, 1, "key", false, &key, &klen) ||
	    !cf_arg_buffer(env, &a, 2, "value", false, &val, &vlen) || !cf_arg_u32(env, &a, 3, "flags", &flags))
		return NULL;
	err = bpf_map_update_elem(fd, key, val, flags);
	if (err)
		return cf_throw_errno(env, err, "map update", "fd %d", fd);
	return cf_undefined(env);
}

/* mapDelete(fd, key) -> boolean (false when the key was absent) */
static napi_value map_delete(napi_env env, napi_callback_info info)
{
	struct cf_args a;
	size_t klen;
	int32_t fd;
	void *key;
	int err;

	if (!cf_get_args(env, info, &a) || !cf_arg_i32(env, &a, 0, "fd", &fd) ||
	    !cf_arg_buffer(env, &a, 1, "key", false, &key, &klen))
		return NULL;
	err = bpf_map_delete_elem(fd, key);
	if (err == -ENOENT)
		return cf_bool(env, false);
	if (err)
		return cf_throw_errno(env, err, "map delete", "fd %d", fd);
	return cf_bool(env, true);
}

/* mapNextKey(fd, key|null, keySize) -> Buffer | null at the end */
static napi_value map_next_key(napi_env env, napi_callback_info info)
{
	struct cf_args a;
	napi_value r;
	void *key, *out;
	size_t klen;
	uint32_t ksize;
	int32_t fd;
	int err;

	if (!cf_get_args(env, info, &a) || !cf_arg_i32(env, &a, 0, "fd", &fd) ||
	    !cf_arg_buffer(env, &a, 1, "key", true, &key, &klen) || !cf_arg_u32(env, &a, 2, "keySize", &ksize))
		return NULL;
	NAPI_CALL(env, napi_create_buffer(env, ksize, &out, &r));
	err = bpf_map_get_next_key(fd, key, out);
	if (err == -ENOENT)
		return cf_null(env);
	if (err)
		return cf_throw_errno(env, err, "map next key", "fd %d", fd);
	return r;
}

static bool batch_unsupported(int err)
{
	return err == -ENOTSUP || err == -524 /* ENOTSUPP */ || err == -EINVAL;
}

/*
 * Walk with get_next_key + lookup. Used for map types without batch ops (LPM trie, array
 * of maps...). Keys that vanish between the two calls are skipped.
 */
static int dump_by_iteration(int fd, uint32_t ks, uint32_t vs, uint32_t max, char *keys, char *vals,
			     uint32_t *count)
{
	char *prev = NULL;
	uint32_t n = 0;
	int err;

	while (n < max) {
		err = bpf_map_get_next_key(fd, prev, keys + (size_t)n * ks);
		if (err == -ENOENT)
			break;
		if (err)
			return err;
		prev = keys + (size_t)n * ks;
		err = bpf_map_lookup_elem(fd, prev, vals + (size_t)n * vs);
		if (err == -ENOENT)
			continue;
		if (err)
			return err;
		n++;
	}
	*count = n;
	return 0;
}

/*
 * mapDump(fd, keySize, valueSize, maxEntries) -> {keys: Buffer, values: Buffer, count}.
 * Uses BPF_MAP_LOOKUP_BATCH where the map supports it (one syscall per chunk), else
 * iterates. valueSize is the full per-lookup size (per-CPU maps: rounded size * CPUs).
 */
static napi_value map_dump(napi_env env, napi_callback_info info)
{
	uint32_t ks, vs, max, total = 0, count;
	char *keys = NULL, *vals = NULL;
	DECLARE_LIBBPF_OPTS(bpf_map_batch_opts, opts);
	char *in_tok = NULL, *out_tok = NULL;
	size_t tok;
	napi_value r = NULL, kb, vb;
	bool first = true;
	struct cf_args a;
	int32_t fd;
	int err = 0;

	if (!cf_get_args(env, info, &a) || !cf_arg_i32(env, &a, 0, "fd", &fd) ||
	    !cf_arg_u32(env, &a, 1, "keySize", &ks) || !cf_arg_u32(env, &a, 2, "valueSize", &vs) ||
	    !cf_arg_u32(env, &a, 3, "maxEntries", &max))
		return NULL;
	/* The resume token is a bucket index for hashes and a key for arrays. */
	tok = ks > 8 ? ks : 8;
	in_tok = malloc(tok);
	out_tok = malloc(tok);
	keys = malloc((size_t)max * ks + 1);
	vals = malloc((size_t)max * vs + 1);
	if (!keys || !vals || !in_tok || !out_tok) {
		cf_throw_errno(env, ENOMEM, "map dump", "fd %d", fd);
		goto out;
	}
	while (total < max) {
		count = max - total;
		err = bpf_map_lookup_batch(fd, first ? NULL : in_tok, out_tok, keys + (size_t)total * ks,
					   vals + (size_t)total * vs, &count, &opts);
		if (err && err != -ENOENT && first && batch_unsupported(err)) {
			err = dump_by_iteration(fd, ks, vs, max, keys, vals, &total);
			break;
		}
		if (err && err != -ENOENT)
			break;
		total += count;
		if (err == -ENOENT) {
			err = 0;
			break;
		}
		memcpy(in_tok, out_tok, tok);
		first = false;
	}
	if (err) {
		cf_throw_errno(env, err, "map dump", "fd %d", fd);
		goto out;
	}
	if (!(kb = cf_buffer_copy(env, keys, (size_t)total * ks)) || !(vb = cf_buffer_copy(env, vals, (size_t)total * vs)))
		goto out;
	if (napi_create_object(env, &r) != napi_ok) {
		r = NULL;
		goto out;
	}
	cf_set(env, r, "keys", kb);
	cf_set(env, r, "values", vb);
	cf_set(env, r, "count", cf_u32(env, total));
out:
	free(keys);
	free(vals);
	free(in_tok);
	free(out_tok);
	return r;
}

/*
 * mapUpdateBatch(fd, keys, values, count, flags) -> count. One BPF_MAP_UPDATE_BATCH where
 * supported; types without it fall back to per-element updates inside the addon, still
 * without a JS round trip per entry.
 */
static napi_value map_update_batch(napi_env env, napi_callback_info info)
{
	DECLARE_LIBBPF_OPTS(bpf_map_batch_opts, opts);
	uint32_t count, flags, done;
	size_t klen, vlen, ks, vs;
	struct cf_args a;
	void *keys, *vals;
	int32_t fd;
	int err;

	if (!cf_get_args(env, info, &a) || !cf_arg_i32(env, &a, 0, "fd", &fd) ||
	    !cf_arg_buffer(env, &a, 1, "keys", false, &keys, &klen) ||
	    !cf_arg_buffer(env, &a, 2, "values", false, &vals, &vlen) || !cf_arg_u32(env, &a, 3, "count", &count) ||
	    !cf_arg_u32(env, &a, 4, "flags", &flags))
		return NULL;
	if (count == 0)
		return cf_u32(env, 0);
	if (klen % count || vlen % count)
		return cf_throw_type(env, "keys (%zu bytes) and values (%zu bytes) must each hold %u equal-sized entries",
				     klen, vlen, count);
	ks = klen / count;
	vs = vlen / count;
	opts.elem_flags = flags;
	done = count;
	err = bpf_map_update_batch(fd, keys, vals, &done, &opts);
	if (err && batch_unsupported(err) && done == 0) {
		for (done = 0; done < count; done++) {
			err = bpf_map_update_elem(fd, (char *)keys + done * ks, (char *)vals + done * vs, flags);
			if (err)
				break;
		}
	}
	if (err)
		return cf_throw_errno(env, err, "map update batch", "fd %d: %u of %u entries written", fd, done, count);
	return cf_u32(env, done);
}

/* mapDeleteBatch(fd, keys, count) -> number deleted (absent keys are skipped) */
static napi_value map_delete_batch(napi_env env, napi_callback_info info)
{
	DECLARE_LIBBPF_OPTS(bpf_map_batch_opts, opts);
	uint32_t count, done, deleted = 0;
	struct cf_args a;
	size_t klen, ks;
	void *keys;
	int32_t fd;
	int err;

	if (!cf_get_args(env, info, &a) || !cf_arg_i32(env, &a, 0, "fd", &fd) ||
	    !cf_arg_buffer(env, &a, 1, "keys", false, &keys, &klen) || !cf_arg_u32(env, &a, 2, "count", &count))
		return NULL;
	if (count == 0)
		return cf_u32(env, 0);
	if (klen % count)
		return cf_throw_type(env, "keys (%zu bytes) must hold %u equal-sized keys", klen, count);
	ks = klen / count;
	done = count;
	err = bpf_map_delete_batch(fd, keys, &done, &opts);
	if (!err)
		return cf_u32(env, done);
	/* The batch stops at the first absent key (ENOENT); finish one by one, which also
	 * covers map types without batch support. */
	if (err != -ENOENT && !(batch_unsupported(err) && done == 0))
		return cf_throw_errno(env, err, "map delete batch", "fd %d", fd);
	deleted = done;
	for (uint32_t i = done; i < count; i++) {
		err = bpf_map_delete_elem(fd, (char *)keys + i * ks);
		if (err == -ENOENT)
			continue;
		if (err)
			return cf_throw_errno(env, err, "map delete batch", "fd %d", fd);
		deleted++;
	}
	return cf_u32(env, deleted);
}

/* objGet(path) -> fd of a pinned map or program */
static napi_value obj_get(napi_env env, napi_callback_info info)
{
	struct cf_args a;
	char *path;
	int fd;

	if (!cf_get_args(env, info, &a) || !cf_arg_string(env, &a, 0, "path", false, &path))
		return NULL;
	fd = bpf_obj_get(path);
	if (fd < 0)
		cf_throw_errno(env, fd, "open pinned", "%s", path);
	free(path);
	return fd < 0 ? NULL : cf_i64(env, fd);
}

/* objPin(fd, path) */
static napi_value obj_pin(napi_env env, napi_callback_info info)
{
	struct cf_args a;
	char *path;
	int32_t fd;
	int err;

	if (!cf_get_args(env, info, &a) || !cf_arg_i32(env, &a, 0, "fd", &fd) ||
	    !cf_arg_string(env, &a, 1, "path", false, &path))
		return NULL;
	err = bpf_obj_pin(fd, path);
	if (err)
		cf_throw_errno(env, err, "pin", "fd %d at %s", fd, path);
	free(path);
	return cf_undefined(env);
}

/* unpin(path) -> boolean (false when nothing was pinned there) */
static napi_value obj_unpin(napi_env env, napi_callback_info info)
{
	struct statfs st;
	struct cf_args a;
	char *path;
	napi_value r;

	if (!cf_get_args(env, info, &a) || !cf_arg_string(env, &a, 0, "path", false, &path))
		return NULL;
	/* Refuse anything outside bpffs: unpin must never become a general-purpose unlink. */
	if (statfs(path, &st) == 0 && st.f_type != BPF_FS_MAGIC) {
		cf_throw_errno(env, EINVAL, "unpin", "%s is not on a bpf filesystem", path);
		free(path);
		return NULL;
	}
	if (unlink(path) == 0)
		r = cf_bool(env, true);
	else if (errno == ENOENT)
		r = cf_bool(env, false);
	else
		r = cf_throw_errno(env, errno, "unpin", "%s", path);
	free(path);
	return r;
}

/* closeFd(fd) */
static napi_value close_fd(napi_env env, napi_callback_info info)
{
	struct cf_args a;
	int32_t fd;

	if (!cf_get_args(env, info, &a) || !cf_arg_i32(env, &a, 0, "fd", &fd))
		return NULL;
	if (close(fd) < 0)
		return cf_throw_errno(env, errno, "close", "fd %d", fd);
	return cf_undefined(env);
}

/* dupFd(fd) -> fd: lets a wrapper own its descriptor independently of the object. */
static napi_value dup_fd(napi_env env, napi_callback_info info)
{
	struct cf_args a;
	int32_t fd;
	int r;

	if (!cf_get_args(env, info, &a) || !cf_arg_i32(env, &a, 0, "fd", &fd))
		return NULL;
	r = fcntl(fd, F_DUPFD_CLOEXEC, 3);
	if (r < 0)
		return cf_throw_errno(env, errno, "dup", "fd %d", fd);
	return cf_i64(env, r);
}

/* possibleCpus() -> number */
static napi_value possible_cpus(napi_env env, napi_callback_info info)
{
	int n = libbpf_num_possible_cpus();

	(void)info;
	if (n < 0)
		return cf_throw_errno(env, n, "possible cpus", NULL);
	return cf_u32(env, (uint32_t)n);
}

/* isBpffs(path) -> boolean */
static napi_value is_bpffs(napi_env env, napi_callback_info info)
{
	struct statfs st;
	struct cf_args a;
	char *path;
	bool r;

	if (!cf_get_args(env, info, &a) || !cf_arg_string(env, &a, 0, "path", false, &path))
		return NULL;
	r = statfs(path, &st) == 0 && st.f_type == BPF_FS_MAGIC;
	free(path);
	return cf_bool(env, r);
}

/* mountBpffs(path): mount a bpf filesystem on an existing directory. */
static napi_value mount_bpffs(napi_env env, napi_callback_info info)
{
	struct cf_args a;
	char *path;
	int err = 0;

	if (!cf_get_args(env, info, &a) || !cf_arg_string(env, &a, 0, "path", false, &path))
		return NULL;
	if (mount("bpf", path, "bpf", 0, "mode=0700") < 0)
		err = errno;
	if (err)
		cf_throw_errno(env, err, "mount bpffs", "%s", path);
	free(path);
	return cf_undefined(env);
}

/* unmountBpffs(path) */
static napi_value unmount_bpffs(napi_env env, napi_callback_info info)
{
	struct statfs st;
	struct cf_args a;
	char *path;
	int err = 0;

	if (!cf_get_args(env, info, &a) || !cf_arg_string(env, &a, 0, "path", false, &path))
		return NULL;
	if (statfs(path, &st) < 0 || st.f_type != BPF_FS_MAGIC)
		err = EINVAL;
	else if (umount2(path, MNT_DETACH) < 0)
		err = errno;
	if (err)
		cf_throw_errno(env, err, "unmount bpffs", "%s", path);
	free(path);
	return cf_undefined(env);
}

bool cf_init_map(napi_env env, napi_value exports)
{
	static const struct cf_fn fns[] = {
		{ "mapInfo", map_info },
		{ "progInfo", prog_info },
		{ "enableStats", enable_stats },
		{ "mapLookup", map_lookup },
		{ "mapUpdate", map_update },
		{ "mapDelete", map_delete },
		{ "mapNextKey", map_next_key },
		{ "mapDump", map_dump },
		{ "mapUpdateBatch", map_update_batch },
		{ "mapDeleteBatch", map_delete_batch },
		{ "objGet", obj_get },
		{ "objPin", obj_pin },
		{ "unpin", obj_unpin },
		{ "closeFd", close_fd },
		{ "dupFd", dup_fd },
		{ "possibleCpus", possible_cpus },
		{ "isBpffs", is_bpffs },
		{ "mountBpffs", mount_bpffs },
		{ "unmountBpffs", unmount_bpffs },
	};
	return cf_export(env, exports, fns, sizeof(fns) / sizeof(fns[0]));
}
