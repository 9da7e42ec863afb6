/*
 * Attach points: tc clsact hooks (optionally inside another network namespace) and cgroups.
 *
 * tc operations talk netlink in the calling thread's network namespace. The optional
 * netns path switches only this thread, for the duration of one call, and switches back:
 * JS runs single-threaded here, so nothing else can observe the detour.
 */
#include "util.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static bool arg_hook(napi_env env, struct cf_args *a, size_t i, enum bpf_tc_attach_point *out)
{
	char *s;
	bool ok = true;

	if (!cf_arg_string(env, a, i, "hook", false, &s))
		return false;
	if (strcmp(s, "ingress") == 0)
		*out = BPF_TC_INGRESS;
	else if (strcmp(s, "egress") == 0)
		*out = BPF_TC_EGRESS;
	else
		ok = !!cf_throw_type(env, "argument 'hook' must be \"ingress\" or \"egress\", got \"%s\"", s);
	free(s);
	return ok;
}

/* Enter the namespace named by argument i (when given). Returns false with a JS error. */
static bool enter_arg_netns(napi_env env, struct cf_args *a, size_t i, char **path, int *saved)
{
	int err;

	*saved = -1;
	if (!cf_arg_string(env, a, i, "netns", true, path))
		return false;
	if (!*path)
		return true;
	err = cf_netns_enter(*path, saved);
	if (err) {
		cf_throw_errno(env, err, "enter netns", "%s", *path);
		free(*path);
		*path = NULL;
		return false;
	}
	return true;
}

static void leave_arg_netns(char *path, int saved)
{
	cf_netns_leave(saved);
	free(path);
}

static const char *hook_name(enum bpf_tc_attach_point p)
{
	return p == BPF_TC_INGRESS ? "ingress" : "egress";
}

/* tcAttach(ifindex, hook, progFd, priority, handle, replace, netns|null) -> {priority, handle, progId} */
static napi_value tc_attach(napi_env env, napi_callback_info info)
{
	DECLARE_LIBBPF_OPTS(bpf_tc_hook, hook);
	DECLARE_LIBBPF_OPTS(bpf_tc_opts, opts);
	enum bpf_tc_attach_point point = BPF_TC_INGRESS;
	uint32_t ifindex, prio, handle;
	int32_t prog_fd;
	struct cf_args a;
	char *ns = NULL;
	napi_value r;
	bool replace;
	int saved, err;

	if (!cf_get_args(env, info, &a) || !cf_arg_u32(env, &a, 0, "ifindex", &ifindex) ||
	    !arg_hook(env, &a, 1, &point) || !cf_arg_i32(env, &a, 2, "progFd", &prog_fd) ||
	    !cf_arg_u32(env, &a, 3, "priority", &prio) || !cf_arg_u32(env, &a, 4, "handle", &handle) ||
	    !cf_arg_bool(env, &a, 5, "replace", &replace))
		return NULL;
	if (prio > 0xffff)
		return cf_throw_type(env, "argument 'priority' must be 0..65535");
	if (!enter_arg_netns(env, &a, 6, &ns, &saved))
		return NULL;
	hook.ifindex = (int)ifindex;
	hook.attach_point = point;
	opts.prog_fd = prog_fd;
	opts.priority = prio;
	opts.handle = handle;
	opts.flags = replace ? BPF_TC_F_REPLACE : 0;
	cf_log_begin();
	err = bpf_tc_hook_create(&hook);
	if (err == -EEXIST)
		err = 0;
	if (!err)
		err = bpf_tc_attach(&hook, &opts);
	cf_log_end();
	if (err) {
		cf_throw_errno(env, err, "tc attach", "ifindex %u %s%s%s", ifindex, hook_name(point), ns ? " in " : "",
			       ns ? ns : "");
		leave_arg_netns(ns, saved);
		return NULL;
	}
	leave_arg_netns(ns, saved);
	NAPI_CALL(env, napi_create_object(env, &r));
	cf_set(env, r, "priority", cf_u32(env, opts.priority));
	cf_set(env, r, "handle", cf_u32(env, opts.handle));
	cf_set(env, r, "progId", cf_u32(env, opts.prog_id));
	return r;
}

/* tcDetach(ifindex, hook, priority, handle, netns|null) -> boolean (false when nothing was attached) */
static napi_value tc_detach(napi_env env, napi_callback_info info)
{
	DECLARE_LIBBPF_OPTS(bpf_tc_hook, hook);
	DECLARE_LIBBPF_OPTS(bpf_tc_opts, opts);
	enum bpf_tc_attach_point point = BPF_TC_INGRESS;
	uint32_t ifindex, prio, handle;
	struct cf_args a;
	char *ns = NULL;
	int saved, err;

	if (!cf_get_args(env, info, &a) || !cf_arg_u32(env, &a, 0, "ifindex", &ifindex) ||
	    !arg_hook(env, &a, 1, &point) || !cf_arg_u32(env, &a, 2, "priority", &prio) ||
	    !cf_arg_u32(env, &a, 3, "handle", &handle))
		return NULL;
	if (!prio || !handle || prio > 0xffff)
		return cf_throw_type(env, "tc detach needs the priority (1..65535) and handle (non-zero) of the filter");
	if (!enter_arg_netns(env, &a, 4, &ns, &saved))
		return NULL;
	hook.ifindex = (int)ifindex;
	hook.attach_point = point;
	opts.priority = prio;
	opts.handle = handle;
	cf_log_begin();
	err = bpf_tc_detach(&hook, &opts);
	cf_log_end();
	leave_arg_netns(ns, saved);
	/* No clsact qdisc (EINVAL), no such device, or no such filter: nothing to detach. */
	if (err == -ENOENT || err == -EINVAL || err == -ENODEV)
		return cf_bool(env, false);
	if (err)
		return cf_throw_errno(env, err, "tc detach", "ifindex %u %s", ifindex, hook_name(point));
	return cf_bool(env, true);
}

/* tcQuery(ifindex, hook, priority, handle, netns|null) -> progId | null */
static napi_value tc_query(napi_env env, napi_callback_info info)
{
	DECLARE_LIBBPF_OPTS(bpf_tc_hook, hook);
	DECLARE_LIBBPF_OPTS(bpf_tc_opts, opts);
	enum bpf_tc_attach_point point = BPF_TC_INGRESS;
	uint32_t ifindex, prio, handle;
	struct cf_args a;
	char *ns = NULL;
	int saved, err;

	if (!cf_get_args(env, info, &a) || !cf_arg_u32(env, &a, 0, "ifindex", &ifindex) ||
	    !arg_hook(env, &a, 1, &point) || !cf_arg_u32(env, &a, 2, "priority", &prio) ||
	    !cf_arg_u32(env, &a, 3, "handle", &handle))
		return NULL;
	if (!prio || !handle || prio > 0xffff)
		return cf_throw_type(env, "tc query needs the priority (1..65535) and handle (non-zero) of the filter");
	if (!enter_arg_netns(env, &a, 4, &ns, &saved))
		return NULL;
	hook.ifindex = (int)ifindex;
	hook.attach_point = point;
	opts.priority = prio;
	opts.handle = handle;
	cf_log_begin();
	err = bpf_tc_query(&hook, &opts);
	cf_log_end();
	leave_arg_netns(ns, saved);
	if (err == -ENOENT || err == -EINVAL || err == -ENODEV)
		return cf_null(env);
	if (err)
		return cf_throw_errno(env, err, "tc query", "ifindex %u %s", ifindex, hook_name(point));
	return cf_u32(env, opts.prog_id);
}

/* tcHookDestroy(ifindex, netns|null): remove the clsact qdisc and with it every filter. */
static napi_value tc_hook_destroy(napi_env env, napi_callback_info info)
{
	DECLARE_LIBBPF_OPTS(bpf_tc_hook, hook);
	struct cf_args a;
	uint32_t ifindex;
	char *ns = NULL;
	int saved, err;

	if (!cf_get_args(env, info, &a) || !cf_arg_u32(env, &a, 0, "ifindex", &ifindex))
		return NULL;
	if (!enter_arg_netns(env, &a, 1, &ns, &saved))
		return NULL;
	hook.ifindex = (int)ifindex;
	hook.attach_point = BPF_TC_INGRESS | BPF_TC_EGRESS;
	cf_log_begin();
	err = bpf_tc_hook_destroy(&hook);
	cf_log_end();
	leave_arg_netns(ns, saved);
	if (err == -ENOENT || err == -EINVAL || err == -ENODEV)
		return cf_bool(env, false);
	if (err)
		return cf_throw_errno(env, err, "tc hook destroy", "ifindex %u", ifindex);
	return cf_bool(env, true);
}

/* ifNameToIndex(name, netns|null) -> ifindex */
static napi_value if_name_to_index(napi_env env, napi_callback_info info)
{
	struct cf_args a;
	char *name, *ns = NULL;
	unsigned idx;
	int saved, err = 0;

	if (!cf_get_args(env, info, &a) || !cf_arg_string(env, &a, 0, "name", false, &name))
		return NULL;
	if (!enter_arg_netns(env, &a, 1, &ns, &saved)) {
		free(name);
		return NULL;
	}
	idx = if_nametoindex(name);
	if (!idx)
		err = errno;
	leave_arg_netns(ns, saved);
	if (err)
		cf_throw_errno(env, err, "interface index", "'%s'", name);
	free(name);
	return err ? NULL : cf_u32(env, idx);
}

static int open_cgroup(napi_env env, struct cf_args *a, size_t i, char **path)
{
	int fd;

	if (!cf_arg_string(env, a, i, "cgroupPath", false, path))
		return -1;
	fd = open(*path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0) {
		cf_throw_errno(env, errno, "open cgroup", "%s", *path);
		free(*path);
		*path = NULL;
	}
	return fd;
}

/* cgroupAttach(cgroupPath, progFd, attachType, flags) */
static napi_value cgroup_attach(napi_env env, napi_callback_info info)
{
	uint32_t type, flags;
	struct cf_args a;
	int32_t prog_fd;
	char *path;
	int cg, err;

	if (!cf_get_args(env, info, &a) || !cf_arg_i32(env, &a, 1, "progFd", &prog_fd) ||
	    !cf_arg_u32(env, &a, 2, "attachType", &type) || !cf_arg_u32(env, &a, 3, "flags", &flags))
		return NULL;
	if ((cg = open_cgroup(env, &a, 0, &path)) < 0)
		return NULL;
	err = bpf_prog_attach(prog_fd, cg, (enum bpf_attach_type)type, flags);
	close(cg);
	if (err)
		cf_throw_errno(env, err, "cgroup attach", "%s (attach type %u)", path, type);
	free(path);
	return err ? NULL : cf_undefined(env);
}

/* cgroupDetach(cgroupPath, progFd, attachType) -> boolean */
static napi_value cgroup_detach(napi_env env, napi_callback_info info)
{
	struct cf_args a;
	int32_t prog_fd;
	uint32_t type;
	char *path;
	int cg, err;

	if (!cf_get_args(env, info, &a) || !cf_arg_i32(env, &a, 1, "progFd", &prog_fd) ||
	    !cf_arg_u32(env, &a, 2, "attachType", &type))
		return NULL;
	if ((cg = open_cgroup(env, &a, 0, &path)) < 0)
		return NULL;
	err = bpf_prog_detach2(prog_fd, cg, (enum bpf_attach_type)type);
	close(cg);
	free(path);
	if (err == -ENOENT)
		return cf_bool(env, false);
	if (err)
		return cf_throw_errno(env, err, "cgroup detach", "attach type %u", type);
	return cf_bool(env, true);
}

/* cgroupQuery(cgroupPath, attachType) -> number[] of program ids */
static napi_value cgroup_query(napi_env env, napi_callback_info info)
{
	__u32 ids[64], cnt = 64, flags = 0;
	struct cf_args a;
	napi_value arr;
	uint32_t type;
	char *path;
	int cg, err;

	if (!cf_get_args(env, info, &a) || !cf_arg_u32(env, &a, 1, "attachType", &type))
		return NULL;
	if ((cg = open_cgroup(env, &a, 0, &path)) < 0)
		return NULL;
	err = bpf_prog_query(cg, (enum bpf_attach_type)type, 0, &flags, ids, &cnt);
	close(cg);
	if (err) {
		cf_throw_errno(env, err, "cgroup query", "%s", path);
		free(path);
		return NULL;
	}
	free(path);
	NAPI_CALL(env, napi_create_array(env, &arr));
	for (__u32 i = 0; i < cnt; i++)
		NAPI_CALL(env, napi_set_element(env, arr, i, cf_u32(env, ids[i])));
	return arr;
}

bool cf_init_attach(napi_env env, napi_value exports)
{
	static const struct cf_fn fns[] = {
		{ "tcAttach", tc_attach },
		{ "tcDetach", tc_detach },
		{ "tcQuery", tc_query },
		{ "tcHookDestroy", tc_hook_destroy },
		{ "ifNameToIndex", if_name_to_index },
		{ "cgroupAttach", cgroup_attach },
		{ "cgroupDetach", cgroup_detach },
		{ "cgroupQuery", cgroup_query },
	};
	return cf_export(env, exports, fns, sizeof(fns) / sizeof(fns[0]));
}
