/* BPF object files: open, configure before load (globals, sizes, pin paths), load, BTF. */
#include "util.h"

#include <bpf/btf.h>
#include <bpf/libbpf.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

struct cf_obj {
	struct bpf_object *obj;
	char *path;
	bool loaded;
};

static void obj_finalize(napi_env env, void *data, void *hint)
{
	struct cf_obj *o = data;

	(void)env;
	(void)hint;
	if (o->obj)
		bpf_object__close(o->obj);
	free(o->path);
	free(o);
}

static struct cf_obj *arg_obj(napi_env env, struct cf_args *a, size_t i)
{
	napi_valuetype t;
	void *p = NULL;

	if (napi_typeof(env, a->argv[i], &t) != napi_ok || t != napi_external ||
	    napi_get_value_external(env, a->argv[i], &p) != napi_ok || !p) {
		cf_throw_type(env, "argument 'object' must be an object handle from objectOpen");
		return NULL;
	}
	if (!((struct cf_obj *)p)->obj) {
		cf_throw_type(env, "the BPF object handle is closed");
		return NULL;
	}
	return p;
}

static struct bpf_map *find_map(napi_env env, struct cf_obj *o, const char *name)
{
	struct bpf_map *m = bpf_object__find_map_by_name(o->obj, name);

	if (!m)
		cf_throw_errno(env, ENOENT, "map lookup", "'%s' in %s", name, o->path);
	return m;
}

/* objectOpen(path) -> handle */
static napi_value object_open(napi_env env, napi_callback_info info)
{
	struct cf_args a;
	struct cf_obj *o;
	napi_value handle;
	char *path;
	int err;

	if (!cf_get_args(env, info, &a) || !cf_arg_string(env, &a, 0, "path", false, &path))
		return NULL;
	o = calloc(1, sizeof(*o));
	if (!o) {
		free(path);
		return cf_throw_errno(env, ENOMEM, "open", "%s", path);
	}
	o->path = path;
	cf_log_begin();
	o->obj = bpf_object__open_file(path, NULL);
	err = o->obj ? 0 : -errno;
	cf_log_end();
	if (err) {
		o->obj = NULL;
		cf_throw_errno(env, err, "open", "%s", path);
		obj_finalize(env, o, NULL);
		return NULL;
	}
	if (napi_create_external(env, o, obj_finalize, NULL, &handle) != napi_ok) {
		obj_finalize(env, o, NULL);
		cf_throw_napi(env, "napi_create_external");
		return NULL;
	}
	return handle;
}

/* objectClose(handle): releases programs and maps now (pinned maps stay in bpffs). */
static napi_value object_close(napi_env env, napi_callback_info info)
{
	struct cf_args a;
	void *p = NULL;
	struct cf_obj *o;

	if (!cf_get_args(env, info, &a))
		return NULL;
	if (napi_get_value_external(env, a.argv[0], &p) != napi_ok || !p)
		return cf_throw_type(env, "argument 'object' must be an object handle");
	o = p;
	if (o->obj) {
		bpf_object__close(o->obj);
		o->obj = NULL;
	}
	return cf_undefined(env);
}

static napi_value map_description(napi_env env, struct bpf_map *m)
{
	const char *pin = bpf_map__pin_path(m);
	napi_value d;

	NAPI_CALL(env, napi_create_object(env, &d));
	cf_set(env, d, "name", cf_str(env, bpf_map__name(m)));
	cf_set(env, d, "type", cf_u32(env, bpf_map__type(m)));
	cf_set(env, d, "keySize", cf_u32(env, bpf_map__key_size(m)));
	cf_set(env, d, "valueSize", cf_u32(env, bpf_map__value_size(m)));
	cf_set(env, d, "maxEntries", cf_u32(env, bpf_map__max_entries(m)));
	cf_set(env, d, "flags", cf_u32(env, bpf_map__map_flags(m)));
	cf_set(env, d, "internal", cf_bool(env, bpf_map__is_internal(m)));
	cf_set(env, d, "pinPath", pin ? cf_str(env, pin) : cf_null(env));
	cf_set(env, d, "pinned", cf_bool(env, bpf_map__is_pinned(m)));
	cf_set(env, d, "fd", cf_i64(env, bpf_map__fd(m)));
	return d;
}

/* objectMaps(handle) -> [{name, type, keySize, valueSize, maxEntries, flags, internal, pinPath, pinned, fd}] */
static napi_value object_maps(napi_env env, napi_callback_info info)
{
	struct cf_args a;
	struct cf_obj *o;
	struct bpf_map *m;
	napi_value arr;
	uint32_t i = 0;

	if (!cf_get_args(env, info, &a) || !(o = arg_obj(env, &a, 0)))
		return NULL;
	NAPI_CALL(env, napi_create_array(env, &arr));
	bpf_object__for_each_map(m, o->obj)
	{
		napi_value d = map_description(env, m);

		if (!d)
			return NULL;
		NAPI_CALL(env, napi_set_element(env, arr, i++, d));
	}
	return arr;
}

/* objectPrograms(handle) -> [{name, section, type, expectedAttachType, fd}] */
static napi_value object_programs(napi_env env, napi_callback_info info)
{
	struct bpf_program *p;
	struct cf_args a;
	struct cf_obj *o;
	napi_value arr;
	uint32_t i = 0;

	if (!cf_get_args(env, info, &a) || !(o = arg_obj(env, &a, 0)))
		return NULL;
	NAPI_CALL(env, napi_create_array(env, &arr));
	bpf_object__for_each_program(p, o->obj)
	{
		napi_value d;

		NAPI_CALL(env, napi_create_object(env, &d));
		cf_set(env, d, "name", cf_str(env, bpf_program__name(p)));
		cf_set(env, d, "section", cf_str(env, bpf_program__section_name(p)));
		cf_set(env, d, "type", cf_u32(env, bpf_program__type(p)));
		cf_set(env, d, "expectedAttachType", cf_u32(env, bpf_program__expected_attach_type(p)));
		cf_set(env, d, "fd", cf_i64(env, o->loaded ? bpf_program__fd(p) : -1));
		NAPI_CALL(env, napi_set_element(env, arr, i++, d));
	}
	return arr;
}

/* Internal data maps are named "<object prefix><section>", e.g. "endpoint.rodata". */
static struct bpf_map *section_map(struct bpf_object *obj, const char *sec)
{
	size_t sl = strlen(sec);
	struct bpf_map *m;

	bpf_object__for_each_map(m, obj)
	{
		const char *n = bpf_map__name(m);
		size_t nl = strlen(n);

		if (bpf_map__is_internal(m) && nl >= sl && strcmp(n + nl - sl, sec) == 0)
			return m;
	}
	return NULL;
}

struct global_var {
	const char *name;
	const char *section;
	uint32_t offset, size;
};

/* Calls fn for every variable of the object's data sections; stops when fn returns true. */
static bool for_each_global(struct bpf_object *obj, bool (*fn)(const struct global_var *, void *), void *ctx)
{
	struct btf *btf = bpf_object__btf(obj);
	uint32_t n;

	if (!btf)
		return false;
	n = btf__type_cnt(btf);
	for (uint32_t id = 1; id < n; id++) {
		const struct btf_type *t = btf__type_by_id(btf, id);
		const struct btf_var_secinfo *vs;
		const char *sec;

		if (!btf_is_datasec(t))
			continue;
		sec = btf__name_by_offset(btf, t->name_off);
		if (strcmp(sec, ".maps") == 0 || strcmp(sec, "license") == 0)
			continue;
		vs = btf_var_secinfos(t);
		for (uint16_t i = 0; i < btf_vlen(t); i++, vs++) {
			const struct btf_type *v = btf__type_by_id(btf, vs->type);
			struct global_var g = {
				.name = btf__name_by_offset(btf, v->name_off),
				.section = sec,
				.offset = vs->offset,
				.size = vs->size,
			};

			if (fn(&g, ctx))
				return true;
		}
	}
	return false;
}

struct list_ctx {
	napi_env env;
	napi_value arr;
	uint32_t i;
};

static bool list_global(const struct global_var *g, void *p)
{
	struct list_ctx *c = p;
	napi_value d;

	if (napi_create_object(c->env, &d) != napi_ok)
		return true;
	cf_set(c->env, d, "name", cf_str(c->env, g->name));
	cf_set(c->env, d, "section", cf_str(c->env, g->section));
	cf_set(c->env, d, "offset", cf_u32(c->env, g->offset));
	cf_set(c->env, d, "size", cf_u32(c->env, g->size));
	napi_set_element(c->env, c->arr, c->i++, d);
	return false;
}

/* objectGlobals(handle) -> [{name, section, offset, size}] */
static napi_value object_globals(napi_env env, napi_callback_info info)
{
	struct list_ctx c = { .env = env };
	struct cf_args a;
	struct cf_obj *o;

	if (!cf_get_args(env, info, &a) || !(o = arg_obj(env, &a, 0)))
		return NULL;
	NAPI_CALL(env, napi_create_array(env, &c.arr));
	for_each_global(o->obj, list_global, &c);
	return c.arr;
}

struct find_ctx {
	const char *name;
	struct global_var found;
	bool ok;
};

static bool find_global(const struct global_var *g, void *p)
{
	struct find_ctx *c = p;

	if (strcmp(g->name, c->name) != 0)
		return false;
	c->found = *g;
	c->ok = true;
	return true;
}

/* objectSetGlobal(handle, name, bytes): set a global's initial value before load. */
static napi_value object_set_global(napi_env env, napi_callback_info info)
{
	struct find_ctx c = {};
	struct bpf_map *m;
	struct cf_args a;
	struct cf_obj *o;
	const void *init;
	size_t len, sz;
	char *name;
	void *data, *copy;
	int err;

	if (!cf_get_args(env, info, &a) || !(o = arg_obj(env, &a, 0)) ||
	    !cf_arg_string(env, &a, 1, "name", false, &name))
		return NULL;
	if (!cf_arg_buffer(env, &a, 2, "value", false, &data, &len))
		goto out;
	if (o->loaded) {
		cf_throw_errno(env, EBUSY, "set global", "'%s': %s is already loaded", name, o->path);
		goto out;
	}
	c.name = name;
	if (!for_each_global(o->obj, find_global, &c) || !c.ok) {
		cf_throw_errno(env, ENOENT, "set global", "'%s': no such variable in %s", name, o->path);
		goto out;
	}
	if (len != c.found.size) {
		cf_throw_errno(env, EINVAL, "set global", "'%s': value has %zu bytes, the variable has %u", name, len,
			       c.found.size);
		goto out;
	}
	m = section_map(o->obj, c.found.section);
	init = m ? bpf_map__initial_value(m, &sz) : NULL;
	if (!init || c.found.offset + len > sz) {
		cf_throw_errno(env, ENOENT, "set global", "'%s': section %s has no data map", name, c.found.section);
		goto out;
	}
	copy = malloc(sz);
	if (!copy) {
		cf_throw_errno(env, ENOMEM, "set global", "'%s'", name);
		goto out;
	}
	memcpy(copy, init, sz);
	memcpy((char *)copy + c.found.offset, data, len);
	err = bpf_map__set_initial_value(m, copy, sz);
	free(copy);
	if (err)
		cf_throw_errno(env, err, "set global", "'%s'", name);
out:
	free(name);
	return cf_undefined(env);
}

/* objectSetMaxEntries(handle, mapName, n) */
static napi_value object_set_max_entries(napi_env env, napi_callback_info info)
{
	struct bpf_map *m;
	struct cf_args a;
	struct cf_obj *o;
	uint32_t n;
	char *name;
	int err;

	if (!cf_get_args(env, info, &a) || !(o = arg_obj(env, &a, 0)) ||
	    !cf_arg_string(env, &a, 1, "mapName", false, &name))
		return NULL;
	if (cf_arg_u32(env, &a, 2, "maxEntries", &n) && (m = find_map(env, o, name))) {
		err = bpf_map__set_max_entries(m, n);
		if (err)
			cf_throw_errno(env, err, "set max entries", "'%s'", name);
	}
	free(name);
	return cf_undefined(env);
}

/*
 * objectSetPinPath(handle, mapName, path|null). With a path, load reuses the map pinned
 * there if it is compatible (type, sizes, flags) and otherwise creates and pins it; an
 * incompatible pinned map fails the load rather than being silently replaced.
 */
static napi_value object_set_pin_path(napi_env env, napi_callback_info info)
{
	struct bpf_map *m;
	struct cf_args a;
	struct cf_obj *o;
	char *name, *path = NULL;
	int err;

	if (!cf_get_args(env, info, &a) || !(o = arg_obj(env, &a, 0)) ||
	    !cf_arg_string(env, &a, 1, "mapName", false, &name))
		return NULL;
	if (cf_arg_string(env, &a, 2, "path", true, &path) && (m = find_map(env, o, name))) {
		err = bpf_map__set_pin_path(m, path);
		if (err)
			cf_throw_errno(env, err, "set pin path", "'%s' -> %s", name, path ? path : "(none)");
	}
	free(name);
	free(path);
	return cf_undefined(env);
}

/* objectLoad(handle): create/reuse maps, load every program; errors carry the verifier log. */
static napi_value object_load(napi_env env, napi_callback_info info)
{
	struct cf_args a;
	struct cf_obj *o;
	int err;

	if (!cf_get_args(env, info, &a) || !(o = arg_obj(env, &a, 0)))
		return NULL;
	if (o->loaded)
		return cf_throw_errno(env, EBUSY, "load", "%s is already loaded", o->path);
	cf_log_begin();
	err = bpf_object__load(o->obj);
	cf_log_end();
	if (err)
		return cf_throw_errno(env, err, "load", "%s", o->path);
	o->loaded = true;
	return cf_undefined(env);
}

static napi_value struct_layout(napi_env env, const struct btf *btf, const char *name, const char *where)
{
	const struct btf_member *mem;
	const struct btf_type *t;
	napi_value d, members;
	int id;

	id = btf__find_by_name_kind(btf, name, BTF_KIND_STRUCT);
	if (id < 0)
		return cf_throw_errno(env, ENOENT, "btf struct", "'%s' not found in %s", name, where);
	t = btf__type_by_id(btf, id);
	NAPI_CALL(env, napi_create_object(env, &d));
	cf_set(env, d, "name", cf_str(env, name));
	cf_set(env, d, "size", cf_u32(env, t->size));
	NAPI_CALL(env, napi_create_array(env, &members));
	mem = btf_members(t);
	for (uint16_t i = 0; i < btf_vlen(t); i++, mem++) {
		napi_value m;
		long long sz = btf__resolve_size(btf, mem->type);
		uint32_t bit = btf_member_bit_offset(t, i);

		NAPI_CALL(env, napi_create_object(env, &m));
		cf_set(env, m, "name", cf_str(env, btf__name_by_offset(btf, mem->name_off)));
		cf_set(env, m, "offset", cf_u32(env, bit / 8));
		cf_set(env, m, "bitOffset", cf_u32(env, bit));
		cf_set(env, m, "bitfieldSize", cf_u32(env, btf_member_bitfield_size(t, i)));
		cf_set(env, m, "size", cf_i64(env, sz));
		NAPI_CALL(env, napi_set_element(env, members, i, m));
	}
	cf_set(env, d, "members", members);
	return d;
}

/*
 * btfStruct(handleOrPath, name) -> {name, size, members: [{name, offset, bitOffset,
 * bitfieldSize, size}]}. A path reads the ELF's BTF without loading anything, so
 * codec checks need no privileges.
 */
static napi_value btf_struct(napi_env env, napi_callback_info info)
{
	napi_valuetype t;
	struct cf_args a;
	char *name = NULL, *path = NULL;
	napi_value r = NULL;
	struct btf *btf;
	int err;

	if (!cf_get_args(env, info, &a) || !cf_arg_string(env, &a, 1, "name", false, &name))
		return NULL;
	napi_typeof(env, a.argv[0], &t);
	if (t == napi_external) {
		struct cf_obj *o = arg_obj(env, &a, 0);

		if (o) {
			const struct btf *b = bpf_object__btf(o->obj);

			r = b ? struct_layout(env, b, name, o->path) :
				cf_throw_errno(env, ENOENT, "btf struct", "%s has no BTF", o->path);
		}
	} else if (cf_arg_string(env, &a, 0, "object", false, &path)) {
		cf_log_begin();
		btf = btf__parse_elf(path, NULL);
		err = btf ? 0 : -errno;
		cf_log_end();
		if (err) {
			cf_throw_errno(env, err, "btf parse", "%s", path);
		} else {
			r = struct_layout(env, btf, name, path);
			btf__free(btf);
		}
	}
	free(name);
	free(path);
	return r;
}

/* probeMapType(type) / probeProgType(type) -> boolean */
static napi_value probe_map_type(napi_env env, napi_callback_info info)
{
	struct cf_args a;
	uint32_t t;
	int r;

	if (!cf_get_args(env, info, &a) || !cf_arg_u32(env, &a, 0, "mapType", &t))
		return NULL;
	r = libbpf_probe_bpf_map_type((enum bpf_map_type)t, NULL);
	if (r < 0)
		return cf_throw_errno(env, r, "probe map type", "%u", t);
	return cf_bool(env, r == 1);
}

static napi_value probe_prog_type(napi_env env, napi_callback_info info)
{
	struct cf_args a;
	uint32_t t;
	int r;

	if (!cf_get_args(env, info, &a) || !cf_arg_u32(env, &a, 0, "progType", &t))
		return NULL;
	r = libbpf_probe_bpf_prog_type((enum bpf_prog_type)t, NULL);
	if (r < 0)
		return cf_throw_errno(env, r, "probe program type", "%u", t);
	return cf_bool(env, r == 1);
}

static napi_value libbpf_version(napi_env env, napi_callback_info info)
{
	(void)info;
	return cf_str(env, libbpf_version_string());
}

bool cf_init_object(napi_env env, napi_value exports)
{
	static const struct cf_fn fns[] = {
		{ "objectOpen", object_open },
		{ "objectClose", object_close },
		{ "objectMaps", object_maps },
		{ "objectPrograms", object_programs },
		{ "objectGlobals", object_globals },
		{ "objectSetGlobal", object_set_global },
		{ "objectSetMaxEntries", object_set_max_entries },
		{ "objectSetPinPath", object_set_pin_path },
		{ "objectLoad", object_load },
		{ "btfStruct", btf_struct },
		{ "probeMapType", probe_map_type },
		{ "probeProgType", probe_prog_type },
		{ "libbpfVersion", libbpf_version },
	};
	return cf_export(env, exports, fns, sizeof(fns) / sizeof(fns[0]));
}
