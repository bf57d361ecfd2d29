/* tc (clsact) attachments through netlink, optionally inside another network namespace.
 * Unlike bpf_links these outlive the process, so we remember which clsact qdiscs we created and
 * remove them again with our last filter on that interface. */
#include "fl.h"
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* clsact qdiscs this process created: (netns name, ifindex) -> number of our filters on it */
struct hook_ref {
	char netns[256];
	int ifindex;
	int filters;
	struct hook_ref *next;
};
static struct hook_ref *g_hooks;

static struct hook_ref *find_hook(const char *netns, int ifindex)
{
	for (struct hook_ref *h = g_hooks; h; h = h->next)
		if (h->ifindex == ifindex && strcmp(h->netns, netns) == 0)
			return h;
	return NULL;
}

/* Enters netns `name` (an `ip netns` name) on this thread; *orig receives a fd to return with. */
static int enter_netns(const char *name, int *orig)
{
	*orig = -1;
	if (!*name)
		return 0;
	char path[512];
	snprintf(path, sizeof(path), "/run/netns/%s", name);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	*orig = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
	if (*orig < 0) {
		int e = errno;
		close(fd);
		return -e;
	}
	if (setns(fd, CLONE_NEWNET) < 0) {
		int e = errno;
		close(fd);
		close(*orig);
		*orig = -1;
		return -e;
	}
	close(fd);
	return 0;
}

static void leave_netns(int orig)
{
	if (orig < 0)
		return;
	if (setns(orig, CLONE_NEWNET) < 0)
		perror("faultlens_native: cannot return to the original network namespace");
	close(orig);
}

int fl_tc_detach(struct fl_link *l)
{
	int orig, err = enter_netns(l->tc.netns, &orig);
	if (err) /* the namespace is gone: so are its interfaces and filters */
		return 0;
	LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = l->tc.ifindex, .attach_point = l->tc.attach_point);
	LIBBPF_OPTS(bpf_tc_opts, opts, .handle = l->tc.handle, .priority = l->tc.priority);
	fl_log_reset();
	err = bpf_tc_detach(&hook, &opts);
	if (err && err != -ENOENT && err != -ENODEV && err != -EINVAL)
		fprintf(stderr, "faultlens_native: tc detach (%s): %s\n", l->desc, fl_strerror(-err));
	struct hook_ref *h = find_hook(l->tc.netns, l->tc.ifindex);
	if (h && --h->filters == 0) {
		hook.attach_point = BPF_TC_INGRESS | BPF_TC_EGRESS; /* deletes the clsact qdisc we added */
		bpf_tc_hook_destroy(&hook);
		for (struct hook_ref **pp = &g_hooks; *pp; pp = &(*pp)->next)
			if (*pp == h) {
				*pp = h->next;
				free(h);
				break;
			}
	}
	leave_netns(orig);
	return 0;
}

/* tcx attach types (uapi of kernel >= 6.6; the system headers may predate them) */
#define FL_BPF_TCX_INGRESS 46
#define FL_BPF_TCX_EGRESS 47

/* tcx: a bpf_link on the interface; the kernel drops it when the fd closes, even on SIGKILL. */
static napi_value attach_tcx(napi_env env, struct fl_object *o, struct bpf_program *prog, int ifindex, const char *netns,
			     uint32_t ap, const char *where, int orig)
{
	const char *name = bpf_program__name(prog);
	fl_log_reset();
	int fd = bpf_link_create(bpf_program__fd(prog), ifindex, ap == BPF_TC_INGRESS ? FL_BPF_TCX_INGRESS : FL_BPF_TCX_EGRESS, NULL);
	int err = fd < 0 ? errno : 0;
	leave_netns(orig);
	if (fd < 0) {
		fl_throw_log(env, err, "cannot attach program '%s' to tcx %s: %s%s", name, where, fl_strerror(err),
			     err == EINVAL ? " (tcx links need kernel >= 6.6: use mode 'netlink' on older kernels)" : "");
		return NULL;
	}
	struct fl_link *l = fl_link_new(FL_LINK_FD);
	if (!l) {
		close(fd);
		fl_throw(env, ENOMEM, "out of memory");
		return NULL;
	}
	l->fd = fd;
	snprintf(l->desc, sizeof(l->desc), "tcx %s -> %s", where, name);
	fl_object_add_link(o, l);
	return fl_link_wrap(env, l);
}

/* attachTc(obj, prog, ifindex|0, ifname|null, netns|null, direction 'ingress'|'egress', priority|0, mode 'netlink'|'tcx', handle|0) */
static napi_value attach_tc(napi_env env, napi_callback_info info)
{
	napi_value argv[9];
	char ifname[IF_NAMESIZE + 1] = "", netns[256] = "", dir[16], mode[16] = "netlink";
	int64_t ifindex = 0, prio = 0, handle = 0;
	if (!fl_args(env, info, 9, argv, NULL))
		return NULL;
	struct fl_object *o = fl_object_from(env, argv[0]);
	struct bpf_program *prog = o ? fl_program_from(env, o, argv[1]) : NULL;
	if (!prog)
		return NULL;
	if (!fl_is_nullish(env, argv[7]) && !fl_get_string(env, argv[7], mode, sizeof(mode), "tc mode"))
		return NULL;
	if (!fl_is_nullish(env, argv[8]) && !fl_get_int64(env, argv[8], &handle, "tc handle"))
		return NULL;
	if (!fl_is_nullish(env, argv[2]) && !fl_get_int64(env, argv[2], &ifindex, "ifindex"))
		return NULL;
	if (!fl_is_nullish(env, argv[3]) && !fl_get_string(env, argv[3], ifname, sizeof(ifname), "interface name"))
		return NULL;
	if (!fl_is_nullish(env, argv[4]) && !fl_get_string(env, argv[4], netns, sizeof(netns), "netns name"))
		return NULL;
	if (!fl_get_string(env, argv[5], dir, sizeof(dir), "tc direction"))
		return NULL;
	if (!fl_is_nullish(env, argv[6]) && !fl_get_int64(env, argv[6], &prio, "tc priority"))
		return NULL;
	const char *name = bpf_program__name(prog);
	uint32_t ap;
	if (strcmp(dir, "ingress") == 0)
		ap = BPF_TC_INGRESS;
	else if (strcmp(dir, "egress") == 0)
		ap = BPF_TC_EGRESS;
	else {
		fl_throw(env, EINVAL, "cannot attach program '%s' to tc: direction must be 'ingress' or 'egress', not '%s'", name, dir);
		return NULL;
	}
	if (bpf_program__type(prog) != BPF_PROG_TYPE_SCHED_CLS) {
		fl_throw(env, EINVAL, "cannot attach program '%s' to tc: it is a %s program, tc needs sched_cls (SEC(\"tc\"))",
			 name, libbpf_bpf_prog_type_str(bpf_program__type(prog)));
		return NULL;
	}
	bool tcx = strcmp(mode, "tcx") == 0;
	if (!tcx && strcmp(mode, "netlink") != 0) {
		fl_throw(env, EINVAL, "cannot attach program '%s' to tc: mode must be 'netlink' or 'tcx', not '%s'", name, mode);
		return NULL;
	}
	int orig, err = enter_netns(netns, &orig);
	if (err) {
		fl_throw(env, err, "cannot attach program '%s' to tc: cannot enter network namespace '%s': %s", name, netns, strerror(-err));
		return NULL;
	}
	char where[400];
	if (!ifindex) {
		ifindex = *ifname ? if_nametoindex(ifname) : 0;
		if (!ifindex) {
			leave_netns(orig);
			fl_throw(env, ENODEV, "cannot attach program '%s' to tc: no interface '%s'%s%s", name, ifname,
				 *netns ? " in netns " : "", netns);
			return NULL;
		}
	} else if (!*ifname) {
		if_indextoname((unsigned)ifindex, ifname);
	}
	snprintf(where, sizeof(where), "%s%s(ifindex %lld)%s%s %s", ifname, *ifname ? " " : "", (long long)ifindex,
		 *netns ? " netns " : "", netns, dir);
	if (tcx)
		return attach_tcx(env, o, prog, (int)ifindex, netns, ap, where, orig);
	fl_log_reset();
	LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = (int)ifindex, .attach_point = ap);
	err = bpf_tc_hook_create(&hook);
	bool created = err == 0;
	if (err && err != -EEXIST) {
		leave_netns(orig);
		fl_throw_log(env, err, "cannot attach program '%s' to tc %s: cannot create clsact qdisc: %s", name, where, fl_strerror(-err));
		return NULL;
	}
	LIBBPF_OPTS(bpf_tc_opts, opts, .prog_fd = bpf_program__fd(prog), .priority = (uint32_t)prio, .handle = (uint32_t)handle);
	err = bpf_tc_attach(&hook, &opts);
	if (err) {
		if (created && !find_hook(netns, (int)ifindex)) {
			hook.attach_point = BPF_TC_INGRESS | BPF_TC_EGRESS;
			bpf_tc_hook_destroy(&hook);
		}
		leave_netns(orig);
		fl_throw_log(env, err, "cannot attach program '%s' to tc %s: %s%s", name, where, fl_strerror(-err),
			     err == -EEXIST ? " (a filter with this priority/handle exists)" : "");
		return NULL;
	}
	leave_netns(orig);
	struct hook_ref *h = find_hook(netns, (int)ifindex);
	if (!h && created) {
		h = calloc(1, sizeof(*h));
		if (h) {
			snprintf(h->netns, sizeof(h->netns), "%s", netns);
			h->ifindex = (int)ifindex;
			h->next = g_hooks;
			g_hooks = h;
		}
	}
	if (h)
		h->filters++;
	struct fl_link *l = fl_link_new(FL_LINK_TC);
	if (!l) {
		fl_throw(env, ENOMEM, "out of memory");
		return NULL;
	}
	l->tc.ifindex = (int)ifindex;
	snprintf(l->tc.netns, sizeof(l->tc.netns), "%s", netns);
	l->tc.attach_point = ap;
	l->tc.handle = opts.handle;
	l->tc.priority = opts.priority;
	snprintf(l->desc, sizeof(l->desc), "tc %s handle 0x%x prio %u -> %s", where, opts.handle, opts.priority, name);
	fl_object_add_link(o, l);
	return fl_link_wrap(env, l);
}

void fl_init_tc(napi_env env, napi_value exports)
{
	fl_export(env, exports, "attachTc", attach_tc);
}
