/* `volt --api-sock PATH [--id ID]` and `volt --config-file FILE [--no-api]`:
 * options, the pre-boot loop on the main thread (API requests + SIGINT/
 * SIGTERM), InstanceStart, then vm_serve() with the API as its extra source.
 * Every request runs on the main thread (api_server_dispatch), so the router
 * and the VM are only ever touched from here; the API thread answers GET /
 * itself from the copy publish_root() hands it after each one. */
#include "cli/commands.h"

#include "api/http_server.h"
#include "api/mmds_api.h"
#include "api/router.h"
#include "api/snapshot_config.h"
#include "api/vm_config_json.h"
#include "cli/api_opts.h"
#include "cli/common_opts.h"
#include "core/host.h"
#include "core/metrics.h"
#include "devices/device_table.h"
#include "devices/mmds/mmds.h"
#include "devices/virtio/virtio_blk.h"
#include "devices/virtio/virtio_net.h"
#include "devices/virtio/virtio_pmem.h"
#include "sandbox/sandbox.h"
#include "util/fs.h"
#include "util/log.h"
#include "util/startup_trace.h"
#include "vmm/signals.h"
#include "vmm/vm.h"
#include "vmm/vm_snapshot.h"
#include "volt-config.h"
#include "util/zpages.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <unistd.h>

#define CONFIG_FILE_MAX (1 << 20)

/* Firecracker's exit codes (its FcExitCode) for a bad command line: its
 * framework and orchestrators tell a usage error from a failed VM by them. */
#define FC_EXIT_BAD_CONFIGURATION 152
#define FC_EXIT_ARG_PARSING	  153

#define NO_STAMP SIZE_MAX

/* Run as Firecracker's binary (api_main_as_firecracker). */
static bool as_firecracker;

struct api_main {
	struct api_server srv;
	bool has_srv;
	struct api_state st;
	struct vm *vm;
	/* Firecracker's jailer's --start-time-us (CLOCK_MONOTONIC), --start-time-cpu-us
	 * (this process's CPU clock at exec) and --parent-cpu-time-us, in us;
	 * NO_STAMP: not given. */
	size_t start_us, start_cpu_us, parent_cpu_us;
	struct vm_config vcfg;
	char cmdline[API_CMDLINE_MAX + 256];
	struct timespec started;
	bool boot_timer;
	const char *snapshot_dir; /* --snapshot-dir: where PUT /snapshot/create may write */
	bool in_jail;		  /* a jailer started this VMM (API_O_JAILER_STAMP) */
	/* The log's show_ flags now: the command line's, then a logger's that
	 * gave them (Firecracker's main.rs hands its flags to Logger::update). */
	bool show_level, show_origin;
	/* The latencies_us gauge of the request being handled, which its
	 * operation set on success (the VMM's part went to the vmm_* one). */
	metric_t *latency;
};

/* Records the VMM's part of an operation that succeeded, and which gauge
 * handle() gives the whole request's time. */
static void op_took(struct api_main *m, const struct timespec *t0, metric_t *vmm, metric_t *whole)
{
	METRIC_SET(*vmm, metrics_us_since(t0));
	m->latency = whole;
}

/* Starts m->vm, just created or restored (err: how that went), confined by
 * its sandbox. On failure nothing is left of it and why says why. */
static int start_vm(struct api_main *m, int err, char *why, size_t why_size)
{
	if (!err) {
		struct thread_hooks sandbox = sandbox_vm_hooks(&m->vm->cfg);

		err = vm_start(m->vm, &sandbox);
		if (err) {
			/* Join whatever did start; the VM is not running afterwards. */
			snprintf(why, why_size, "%s",
				 log_last_error()[0] ? log_last_error() : strerror(-err));
			vm_stop(m->vm, 1, "cannot start the VM: %s", strerror(-err));
			vm_serve(m->vm, NULL);
		}
	} else if (!why[0]) {
		snprintf(why, why_size, "%s",
			 log_last_error()[0] ? log_last_error() : strerror(-err));
	}
	if (err) {
		vm_destroy(m->vm);
		zpages_free(m->vm, sizeof(*m->vm));
		m->vm = NULL;
		return err;
	}
	/* A line at once, as Firecracker's PeriodicMetrics::start writes one
	 * when its VM starts (the process's start-up times); then every 60 s. */
	metrics_flush();
	return 0;
}

static int op_instance_start(void *ctx, const struct api_config *cfg, bool *undone, char *why,
			     size_t why_size)
{
	struct api_main *m = ctx;
	struct vm_config *v = &m->vcfg;
	int err;

	/* Until vm_start(): vm_destroy() leaves nothing of a VM that vm_create()
	 * could not finish (its files, fds and memory); vm_start() applies the
	 * sandbox and starts threads, which stay. */
	*undone = true;
	memset(v, 0, sizeof(*v));
	err = api_config_to_vm(cfg, v, m->cmdline, sizeof(m->cmdline), why, why_size);
	if (err)
		return err;
	v->protocol = BOOT_PROTOCOL_AUTO;
	v->pvm_host = host_is_pvm();
	v->boot_timer = m->boot_timer;
	v->started = m->started;
	v->snapshot_dir = m->snapshot_dir;
	v->in_jail = m->in_jail;
	m->vm = zpages_alloc(sizeof(*m->vm));
	if (!m->vm)
		return -ENOMEM;
	log_clear_last_error();
	why[0] = '\0';
	err = vm_create(m->vm, v);
	*undone = err != 0;
	return start_vm(m, err, why, why_size);
}

/* vm_pause() or vm_resume(), its latencies recorded when it succeeds. */
static int timed_vm_op(struct api_main *m, int (*op)(struct vm *vm), metric_t *vmm, metric_t *whole)
{
	struct timespec t0;
	int err;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	err = op(m->vm);
	if (!err)
		op_took(m, &t0, vmm, whole);
	return err;
}

static int op_pause(void *ctx)
{
	return timed_vm_op(ctx, vm_pause, &volt_metrics.latencies_us.vmm_pause_vm,
			   &volt_metrics.latencies_us.pause_vm);
}

static int op_resume(void *ctx)
{
	return timed_vm_op(ctx, vm_resume, &volt_metrics.latencies_us.vmm_resume_vm,
			   &volt_metrics.latencies_us.resume_vm);
}

static bool op_is_paused(void *ctx)
{
	struct api_main *m = ctx;

	return m->vm && vm_is_paused(m->vm);
}

static int op_ctrl_alt_del(void *ctx)
{
	struct api_main *m = ctx;

	return vm_ctrl_alt_del(m->vm);
}

/* PATCH /balloon and its statistics talk to the balloon itself. */
static struct virtio_balloon *balloon(struct api_main *m)
{
	return vm_device(m->vm, &virtio_balloon_kind, 0);
}

static int op_balloon_set(void *ctx, unsigned int mib)
{
	struct api_main *m = ctx;

	return balloon(m) ? virtio_balloon_set_target(balloon(m), mib) : -ENODEV;
}

/* The running device of kind k with API id `id`, NULL when none; *cfg its
 * configuration in the VM's (what a snapshot saves). The VM's devices of a
 * kind are in its config's order, each with its API id. */
static void *running_device(struct api_main *m, const struct device_kind *k, const char *id,
			    struct device_config **cfg)
{
	int index = 0, i;

	for (i = 0; m->vm && i < m->vm->cfg.ndevices; i++) {
		if (m->vm->cfg.devices[i].kind != k)
			continue;
		if (!strcmp(id_str(m->vm->cfg.devices[i].id), id)) {
			*cfg = &m->vm->cfg.devices[i];
			return vm_device(m->vm, k, index);
		}
		index++;
	}
	return NULL;
}

/* PATCH /drives/{id} and /network-interfaces/{id} after boot: the running
 * device's rate limiter, and the VM's configuration, so that a snapshot
 * restores the device with it. */
static int op_rate_limiter_update(void *ctx, const struct device_kind *k, const char *id,
				  const char *key, const struct rl_config *c)
{
	struct device_config *cfg = NULL;
	void *dev = running_device(ctx, k, id, &cfg);
	struct blk_config *b;
	struct net_config *n;

	if (!dev)
		return -ENODEV;
	b = (void *)cfg->data;
	n = (void *)cfg->data;
	if (k == &virtio_blk_kind && !strcmp(key, "rate_limiter")) {
		virtio_blk_update_rate_limiter(dev, c);
		rl_config_merge(&b->rate_limiter, c);
	} else if (k == &virtio_net_kind && !strcmp(key, "rx_rate_limiter")) {
		virtio_net_update_rate_limiters(dev, c, NULL);
		rl_config_merge(&n->rx_rate_limiter, c);
	} else if (k == &virtio_net_kind && !strcmp(key, "tx_rate_limiter")) {
		virtio_net_update_rate_limiters(dev, NULL, c);
		rl_config_merge(&n->tx_rate_limiter, c);
	} else if (k == &virtio_pmem_kind && !strcmp(key, "rate_limiter")) {
		virtio_pmem_update_rate_limiter(dev, c);
		rl_config_merge(&((struct pmem_config *)(void *)cfg->data)->rate_limiter, c);
	} else {
		return -EOPNOTSUPP;
	}
	return 0;
}

/* PATCH /drives/{id} path_on_host after boot (a snapshot then reopens the
 * new file). Landlock decides which files the VMM may still open
 * (sandbox/landlock.c): say so when it refused. */
static int op_drive_file_update(void *ctx, const char *id, const char *path, char *why,
				size_t why_size)
{
	struct device_config *cfg = NULL;
	struct virtio_blk *b = running_device(ctx, &virtio_blk_kind, id, &cfg);
	int err;

	if (!b)
		return -ENODEV;
	err = virtio_blk_update_file(b, path, why, why_size);
	if (!err)
		snprintf(((struct blk_config *)(void *)cfg->data)->path,
			 sizeof(((struct blk_config *)0)->path), "%s", path);
	if (err == -EACCES)
		snprintf(why, why_size,
			 "the file's permissions, or the sandbox: a running VMM opens only the "
			 "files of its jail and of --snapshot-dir");
	return err;
}

static int op_balloon_stats(void *ctx, struct balloon_stats *s)
{
	struct api_main *m = ctx;

	return balloon(m) ? virtio_balloon_get_stats(balloon(m), s) : -ENODEV;
}

static int op_balloon_stats_interval(void *ctx, unsigned int seconds)
{
	struct api_main *m = ctx;

	return balloon(m) ? virtio_balloon_set_stats_interval(balloon(m), seconds) : -ENODEV;
}

static int op_balloon_hint_start(void *ctx, bool acknowledge_on_stop)
{
	struct api_main *m = ctx;

	return balloon(m) ? virtio_balloon_hint_start(balloon(m), acknowledge_on_stop) : -ENODEV;
}

static int op_balloon_hint_stop(void *ctx)
{
	struct api_main *m = ctx;

	return balloon(m) ? virtio_balloon_hint_stop(balloon(m)) : -ENODEV;
}

static int op_balloon_hint_status(void *ctx, struct balloon_hint_status *s)
{
	struct api_main *m = ctx;

	return balloon(m) ? virtio_balloon_hint_status(balloon(m), s) : -ENODEV;
}

static int op_logger(void *ctx, const struct api_logger *l, char *why, size_t why_size)
{
	struct api_main *m = ctx;
	enum log_level level = LOG_INFO;
	bool show_level = l->has_show_level ? l->show_level : m->show_level;
	bool show_origin = l->has_show_log_origin ? l->show_log_origin : m->show_origin;
	int err;

	/* The file first: a PUT whose file cannot be opened changes nothing.
	 * No level is Info, as Firecracker's Logger::update; the show_ flags a
	 * logger leaves out (a PUT's, the configuration file's) stay. */
	if (l->path[0]) {
		err = log_open(l->path);
		if (err) {
			/* log_open() logged what is wrong with which file. */
			snprintf(why, why_size, "log_path: %s", log_last_error());
			return err;
		}
	}
	if (l->level[0] && log_level_parse(l->level, &level))
		level = LOG_INFO; /* the router checked it */
	log_set_level(level);
	log_set_options(show_level, show_origin);
	m->show_level = show_level;
	m->show_origin = show_origin;
	return 0;
}

static int op_metrics(void *ctx, const struct api_metrics *c, char *why, size_t why_size)
{
	struct api_main *m = ctx;
	json_t *props = c->properties[0] ? json_loads(c->properties, 0, NULL) : NULL;
	int err = metrics_open(c->path);

	if (err)
		snprintf(why, why_size, "%s", log_last_error());
	else if (c->properties[0] && !props)
		err = -ENOMEM; /* the router made the text: only memory can fail */
	else
		err = metrics_set_labels(c->emit_id ? m->st.id : NULL, props);
	json_decref(props);
	return err;
}

static int op_flush_metrics(void *ctx)
{
	(void)ctx;
	return metrics_flush();
}

/* PUT /snapshot/create: the router checked that the VM is paused. */
static int op_snapshot_create(void *ctx, const struct snapshot_create_req *req, char *why,
			      size_t why_size)
{
	struct api_main *m = ctx;
	const bool diff = req->type == SNAPSHOT_DIFF;
	struct timespec t0;
	int err;

	why[0] = '\0';
	log_clear_last_error();
	clock_gettime(CLOCK_MONOTONIC, &t0);
	err = vm_snapshot_create(m->vm, req, why, why_size);
	if (!err)
		op_took(m, &t0,
			diff ? &volt_metrics.latencies_us.vmm_diff_create_snapshot
			     : &volt_metrics.latencies_us.vmm_full_create_snapshot,
			diff ? &volt_metrics.latencies_us.diff_create_snapshot
			     : &volt_metrics.latencies_us.full_create_snapshot);
	return err;
}

/* PUT /snapshot/load: vm_restore() instead of vm_create(), then started as
 * op_instance_start() starts a VM (the sandbox confines it to the files of
 * the restored configuration); on failure nothing is left of the VM. The
 * API's configuration describes the restored VM (api_config_restore: checked
 * before the VM starts, taken once it runs). */
static int op_snapshot_load(void *ctx, const struct snapshot_load_req *req, struct api_config *cfg,
			    char *why, size_t why_size)
{
	struct api_main *m = ctx;
	struct snapshot_load_req r = *req;
	struct api_config *next;
	char *api_rec = NULL;
	struct timespec t0;
	int err;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	r.started = m->started;
	r.api_config_out = &api_rec;
	next = malloc(sizeof(*next));
	m->vm = next ? zpages_alloc(sizeof(*m->vm)) : NULL;
	if (!m->vm) {
		free(next);
		return -ENOMEM;
	}
	*next = *cfg;
	vm_clear(m->vm);
	why[0] = '\0';
	log_clear_last_error();
	err = vm_restore(m->vm, &r, why, why_size);
	if (!err)
		err = api_config_restore(next, &m->vm->cfg, api_rec, why, why_size);
	if (!err) {
		/* Not in a snapshot: this process's own (Landlock lets snapshots be
		 * written there). */
		m->vm->cfg.snapshot_dir = m->snapshot_dir;
		m->vm->cfg.in_jail = m->in_jail;
		/* PUT /serial before the load: the restored VM writes there too. */
		if (cfg->serial_out_path[0]) {
			m->vm->console_file =
				open(cfg->serial_out_path,
				     O_RDWR | O_CREAT | O_NONBLOCK | O_CLOEXEC | O_NOCTTY, 0666);
			if (m->vm->console_file < 0) {
				err = -errno;
				snprintf(why, why_size, "serial_out_path: cannot open '%s': %s",
					 cfg->serial_out_path, strerror(errno));
			}
			m->vm->console_out = m->vm->console_file;
		}
		vm_limit_serial(m->vm, &cfg->serial_rate_limiter);
	}
	err = start_vm(m, err, why, why_size);
	if (!err) {
		*cfg = *next;
		op_took(m, &t0, &volt_metrics.latencies_us.vmm_load_snapshot,
			&volt_metrics.latencies_us.load_snapshot);
	}
	free(api_rec);
	free(next);
	return err;
}

static struct virtio_mem *mem_dev(struct api_main *m)
{
	return vm_device(m->vm, &virtio_mem_kind, 0);
}

static int op_mem_hotplug_status(void *ctx, struct mem_hotplug_status *s)
{
	struct virtio_mem *d = mem_dev(ctx);

	if (!d)
		return -ENODEV;
	virtio_mem_status(d, s);
	return 0;
}

static int op_mem_hotplug_request(void *ctx, unsigned int mib, char *why, size_t why_size)
{
	struct virtio_mem *d = mem_dev(ctx);

	return d ? virtio_mem_request(d, mib, why, why_size) : -ENODEV;
}

static const struct api_ops ops = {
	.file_check = api_file_check,
	.instance_start = op_instance_start,
	.pause = op_pause,
	.resume = op_resume,
	.is_paused = op_is_paused,
	.ctrl_alt_del = op_ctrl_alt_del,
	.balloon_set = op_balloon_set,
	.rate_limiter_update = op_rate_limiter_update,
	.drive_file_update = op_drive_file_update,
	.balloon_stats = op_balloon_stats,
	.balloon_stats_interval = op_balloon_stats_interval,
	.balloon_hint_start = op_balloon_hint_start,
	.balloon_hint_stop = op_balloon_hint_stop,
	.balloon_hint_status = op_balloon_hint_status,
	.mem_hotplug_status = op_mem_hotplug_status,
	.mem_hotplug_request = op_mem_hotplug_request,
	.logger = op_logger,
	.metrics = op_metrics,
	.flush_metrics = op_flush_metrics,
	.snapshot_create = op_snapshot_create,
	.snapshot_load = op_snapshot_load,
};

/* GET / for the API thread to answer itself (api_server_publish_root()):
 * again after anything that may change the instance's state. */
static void publish_root(struct api_main *m)
{
	/* Without memory for it (NULL) GET / goes through handle(), as every
	 * other request. */
	if (m->has_srv)
		api_server_publish_root(&m->srv, api_instance_info(&m->st));
}

static void handle(void *ctx, const struct api_request *req, struct api_response *resp)
{
	struct api_main *m = ctx;
	struct timespec t0;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	m->latency = NULL;
	api_handle(&m->st, req->method, req->url, req->body, req->len, resp);
	if (m->latency)
		METRIC_SET(*m->latency, metrics_us_since(&t0));
	publish_root(m);
}

static void on_ctl(void *ctx)
{
	struct api_main *m = ctx;

	api_server_dispatch(&m->srv, handle, m);
}

static int read_config_file(const char *path, struct api_config *cfg)
{
	char why[512], *buf;
	size_t n;
	json_t *j;
	int err;

	/* read_input: a FIFO or a device named here is refused, not waited on. */
	/* Firecracker's words first (its tests look for them), then volt's. */
	err = read_input(path, CONFIG_FILE_MAX, &buf, &n, why, sizeof(why));
	if (err) {
		pr_err("Unable to open or read from the configuration file: --config-file '%s': %s",
		       path, why);
		return err;
	}
	j = api_json_parse(buf, n, why, sizeof(why));
	free(buf);
	err = j ? api_config_from_json(cfg, j, why, sizeof(why)) : -EINVAL;
	json_decref(j);
	if (err)
		pr_err("Configuration for VMM from one single json failed: --config-file '%s': %s",
		       path, why);
	return err;
}

/* Firecracker's --mmds-size-limit: a usize as Rust parses it. */
static int parse_size_limit(const char *s, size_t *out)
{
	const char *p;
	size_t v = 0;

	if (!s) /* getopt gives a value-taking option one; for the analyzer */
		return -EINVAL;
	p = s[0] == '+' && s[1] ? s + 1 : s;

	if (!*p)
		return -EINVAL;
	for (; *p; p++) {
		size_t d = (size_t)(*p - '0');

		/* Up to usize's largest exactly, as Rust's parse. */
		if (*p < '0' || *p > '9' || v > (SIZE_MAX - d) / 10)
			return -EINVAL;
		v = v * 10 + d;
	}
	*out = v;
	return 0;
}

/* --metadata FILE: the store's first content, before the configuration
 * file's mmds-config (Firecracker's order). */
static int read_metadata(const char *path, struct api_config *cfg)
{
	size_t n, max = CONFIG_FILE_MAX;
	char why[512], *buf;
	struct mmds *m;
	int err;

	if (cfg->mmds_size_limit < (SIZE_MAX - CONFIG_FILE_MAX) / 2)
		max += cfg->mmds_size_limit * 2;
	/* Firecracker's words first (its tests look for them), then volt's. */
	err = read_input(path, max, &buf, &n, why, sizeof(why));
	if (err) {
		pr_err("Unable to open or read from the mmds content file: --metadata '%s': %s",
		       path, why);
		return err;
	}
	m = api_mmds_store(cfg);
	err = m ? mmds_put(m, buf, n, why, sizeof(why)) : -ENOMEM;
	free(buf);
	if (err == -EFBIG)
		pr_err("Populating MMDS from file failed: %s (--metadata '%s', --mmds-size-limit "
		       "%zu)",
		       why, path, cfg->mmds_size_limit);
	else if (err == -EINVAL)
		pr_err("MMDS error: metadata provided not valid json: --metadata '%s': %s", path,
		       why);
	else if (err)
		pr_err("--metadata '%s': %s", path, m ? why : "the MMDS store cannot be created");
	else
		pr_file(LOG_INFO, "Successfully added metadata to mmds from file");
	return err;
}

/* Applies a configuration file's logger and metrics and boots it. */
static int boot_from_file(struct api_main *m)
{
	struct api_config *c = &m->st.cfg;
	char why[512] = "";
	int err = 0;

	if (c->has_logger)
		err = op_logger(m, &c->logger, why, sizeof(why));
	if (!err && c->has_metrics)
		err = op_metrics(m, &c->metrics, why, sizeof(why));
	if (!err)
		err = op_instance_start(m, c, &(bool){ false }, why, sizeof(why));
	if (err) {
		pr_err("Could not Start MicroVM from one single json: %s",
		       why[0] ? why : strerror(-err));
		return err;
	}
	m->st.started = true;
	pr_file(LOG_INFO, "Successfully started microvm that was configured from one single json");
	return 0;
}

/* Serves requests before InstanceStart; returns 0 once the VM runs, or the
 * exit status (128 + signal) when stopped first. */
static int preboot_loop(struct api_main *m, int sfd)
{
	while (!m->st.started) {
		struct pollfd p[3] = {
			{ .fd = m->srv.efd, .events = POLLIN },
			{ .fd = sfd, .events = POLLIN },
			{ .fd = signals_fd(), .events = POLLIN },
		};
		int signo, code, fatal;

		if (poll(p, 3, -1) < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if ((p[2].revents & POLLIN) && (fatal = signals_take(&signo, &code))) {
			/* Firecracker's handlers: the line, the metrics, the code. */
			pr_err(SIGNALS_SHUTDOWN_FMT, signo, code);
			metrics_flush();
			return fatal;
		}
		if (p[1].revents & POLLIN) {
			struct signalfd_siginfo si;

			if (read(sfd, &si, sizeof(si)) != sizeof(si))
				continue;
			if (si.ssi_signo == SIGHUP) {
				METRICS_SET(signals.sighup, 1);
				pr_err(SIGNALS_SHUTDOWN_FMT, SIGHUP, si.ssi_code);
				metrics_flush();
				return VM_EXIT_SIGHUP;
			}
			pr_info("stopped by signal %s before the microVM started",
				strsignal((int)si.ssi_signo));
			return 128 + (int)si.ssi_signo;
		}
		if (p[0].revents & POLLIN)
			api_server_dispatch(&m->srv, handle, m);
	}
	return 0;
}

/* A command-line error as Firecracker's argument parser words it (its
 * UtilsArgParserError, under main.rs's "Arguments parsing error: "), on
 * stderr; FC_EXIT_ARG_PARSING. */
static int __attribute__((format(printf, 1, 2))) arg_error(const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	pr_err("Arguments parsing error: %s", msg);
	fputs("\nFor more information try --help.\n", stderr);
	return FC_EXIT_ARG_PARSING;
}

/* Firecracker's parser's two complaints, about the option named a. */
static int arg_unexpected(const char *a)
{
	return arg_error("Found argument '%s' which wasn't expected, or isn't valid in this "
			 "context.",
			 a);
}

static int arg_missing_value(const char *a)
{
	return arg_error("The argument '%s' requires a value, but none was supplied.", a);
}

/* Whether the option named name was given (seen: by longopts index). */
static bool opt_seen(const struct option *longopts, const bool *seen, const char *name)
{
	for (int i = 0; longopts[i].name; i++)
		if (!strcmp(longopts[i].name, name))
			return seen[i];
	return false;
}

/* The option getopt stopped at, as Firecracker names it: "--name=v" and
 * "--name" are "name", anything else is itself. */
static const char *arg_name(const char *arg, char *buf, size_t size)
{
	if (strncmp(arg, "--", 2))
		return arg;
	snprintf(buf, size, "%.*s", (int)strcspn(arg + 2, "="), arg + 2);
	return buf;
}

/* api_server.process_startup_time_us and _cpu_us once the socket listens.
 * From a jailer's stamps, as Firecracker's ProcessTimeReporter: wall time
 * since the jailer started, CPU time since the exec plus the jailer's. Without
 * them (Firecracker leaves 0): this process's own. */
static void report_startup_times(const struct api_main *m, const struct timespec *started)
{
	uint64_t now_us = metrics_clock_us(CLOCK_MONOTONIC);
	uint64_t cpu_us = metrics_clock_us(CLOCK_PROCESS_CPUTIME_ID);
	uint64_t wall_us = metrics_us_since(started);

	if (m->start_us != NO_STAMP)
		wall_us = now_us > m->start_us ? now_us - m->start_us : 0;
	if (m->start_cpu_us != NO_STAMP)
		cpu_us = (cpu_us > m->start_cpu_us ? cpu_us - m->start_cpu_us : 0) +
			 m->parent_cpu_us;
	METRICS_SET(api_server.process_startup_time_us, wall_us);
	METRICS_SET(api_server.process_startup_time_cpu_us, cpu_us);
}

static int api_run(int argc, char **argv, const struct timespec *started)
{
	struct option longopts[CLI_OPT_MAX + 1];
	bool seen[CLI_OPT_MAX + 1] = { false };
	struct cli_common common = { 0 };
	static struct api_main m;
	const char *sock = NULL, *config = NULL, *id = NULL, *log_path = NULL, *metrics_path = NULL;
	const char *metadata = NULL, *seccomp_filter = NULL;
	size_t mmds_limit = MMDS_DEFAULT_SIZE_LIMIT, max_payload = API_MAX_PAYLOAD;
	bool has_mmds_limit = false;
	bool no_api = false, show_level = false, show_origin = false;
	char **args;
	sigset_t sigs;
	int c, err, sfd = -1, status, idx = 0;

	/* getopt wants a program name in front. */
	args = calloc((size_t)argc + 2, sizeof(*args));
	if (!args)
		return -ENOMEM;
	args[0] = "volt";
	memcpy(args + 1, argv, (size_t)argc * sizeof(*args));
	err = cli_opt_longopts(api_opts, longopts);
	if (err)
		goto out_args;
	optind = 1;
	m.start_us = m.start_cpu_us = NO_STAMP;
	/* volt's jailer says so in both of its modes; Firecracker's jailer adds
	 * its timing options (API_O_JAILER_STAMP). */
	m.in_jail = getenv("VOLT_JAIL") != NULL;
	/* Firecracker's parser's words and exit code, not getopt's ("':" tells
	 * a missing value from an unknown option). */
	opterr = 0;
	while ((c = getopt_long(argc + 1, args, ":", longopts, &idx)) != -1) {
		char name[64];

		if (c == ':' || c == '?') {
			const char *a = arg_name(args[optind - 1], name, sizeof(name));

			/* Firecracker's parser names "--flag=1" whole. */
			if (c == '?' && as_firecracker && !strncmp(args[optind - 1], "--", 2))
				a = args[optind - 1] + 2;
			err = c == ':' ? arg_missing_value(a) : arg_unexpected(a);
			goto out_args;
		}
		/* Firecracker's parser knows whole names only: getopt's
		 * abbreviations ("--api-so") are its unexpected arguments. The
		 * option's own word: before its value unless "--name=value". */
		{
			const char *word = args[optind - 1];

			if (optarg && optarg == args[optind - 1])
				word = args[optind - 2];
			if (strcmp(arg_name(word, name, sizeof(name)), longopts[idx].name)) {
				err = arg_unexpected(arg_name(word, name, sizeof(name)));
				goto out_args;
			}
			/* Nor "--name=value": as firecracker, that is one unknown
			 * argument (volt itself takes it, as getopt does). */
			if (as_firecracker && strchr(word, '=')) {
				err = arg_unexpected(word + 2);
				goto out_args;
			}
		}
		/* Firecracker's parser takes no value that starts with "--": it is
		 * the next option, and this one's value is missing. */
		if (optarg && !strncmp(optarg, "--", 2)) {
			err = arg_missing_value(arg_name(
				optarg == args[optind - 1] ? args[optind - 2] : args[optind - 1],
				name, sizeof(name)));
			goto out_args;
		}
		/* Firecracker's parser takes each option once (its DuplicateArgument). */
		if (seen[idx]) {
			err = arg_error("The argument '%s' was provided more than once.",
					longopts[idx].name);
			goto out_args;
		}
		seen[idx] = true;
		err = cli_common_option(c, optarg, &common);
		if (err < 0) {
			/* Its reason is logged; Firecracker's InvalidLogLevel is a
			 * BadConfiguration, its other options' values panic. */
			err = c == CLI_O_LOG_LEVEL ? FC_EXIT_BAD_CONFIGURATION
						   : FC_EXIT_ARG_PARSING;
			goto out_args;
		}
		if (!err)
			continue;
		switch (c) {
		case API_O_API_SOCK:
			sock = optarg;
			break;
		case API_O_ID:
			if (!api_instance_id_valid(optarg)) {
				pr_err("--id '%s': 1 to %d characters, alphanumeric or '-'", optarg,
				       API_INSTANCE_ID_MAX);
				err = FC_EXIT_ARG_PARSING;
				goto out_args;
			}
			id = optarg;
			break;
		case API_O_CONFIG:
			config = optarg;
			break;
		case API_O_NO_API:
			no_api = true;
			break;
		case API_O_LOG_PATH:
			log_path = optarg;
			break;
		case API_O_SHOW_LEVEL:
			show_level = true;
			break;
		case API_O_SHOW_ORIGIN:
			show_origin = true;
			break;
		case API_O_METRICS:
			metrics_path = optarg;
			break;
		case API_O_SNAPSHOT_DIR:
			m.snapshot_dir = optarg;
			break;
		case API_O_METADATA:
			metadata = optarg;
			break;
		case API_O_SECCOMP_FILTER:
			seccomp_filter = optarg;
			break;
		case API_O_MMDS_SIZE_LIMIT:
			if (parse_size_limit(optarg, &mmds_limit)) {
				pr_err("--mmds-size-limit '%s': expected a number of bytes",
				       optarg);
				err = FC_EXIT_ARG_PARSING;
				goto out_args;
			}
			has_mmds_limit = true;
			break;
		case API_O_MAX_PAYLOAD:
			if (parse_size_limit(optarg, &max_payload)) {
				pr_err("--http-api-max-payload-size '%s': expected a number of "
				       "bytes",
				       optarg);
				err = FC_EXIT_ARG_PARSING;
				goto out_args;
			}
			break;
		case API_O_JAILER_STAMP: {
			const char *o = longopts[idx].name;
			size_t v;

			m.in_jail = true;
			/* Firecracker's main.rs: a u64, or it panics. */
			if (parse_size_limit(optarg, &v)) {
				pr_err("--%s '%s': expected a number of microseconds", o, optarg);
				err = FC_EXIT_ARG_PARSING;
				goto out_args;
			}
			if (!strcmp(o, "start-time-us"))
				m.start_us = v;
			else if (!strcmp(o, "start-time-cpu-us"))
				m.start_cpu_us = v;
			else
				m.parent_cpu_us = v;
			break;
		}
		case API_O_FC_IGNORED:
			pr_warn("--%s ignored: %s", longopts[idx].name,
				api_fc_flag_note(longopts[idx].name));
			break;
		case API_O_FC_UNSUPPORTED:
			pr_err("--%s is not supported: %s", longopts[idx].name,
			       api_fc_flag_note(longopts[idx].name));
			err = -EINVAL;
			goto out_args;
		case API_O_VERSION:
			cli_print_version();
			err = 0;
			goto out_args;
		case API_O_HELP:
			api_usage(stdout);
			err = 0;
			goto out_args;
		default: /* not reached: every code of api_opts is handled */
			err = arg_unexpected(args[optind - 1]);
			goto out_args;
		}
	}
	if (optind < argc + 1) {
		err = arg_unexpected(args[optind]);
		goto out_args;
	}
	if (opt_seen(longopts, seen, "no-seccomp") && opt_seen(longopts, seen, "seccomp-filter")) {
		/* Firecracker's Argument::forbids, in its words. */
		err = arg_error("Argument 'seccomp-filter' cannot be used together with argument "
				"'no-seccomp'.");
		goto out_args;
	}
	if (no_api && sock) {
		/* Firecracker ignores --api-sock then; volt says it is unused. */
		err = arg_error("Argument 'api-sock' cannot be used together with argument "
				"'no-api'.");
		goto out_args;
	}
	if (no_api && !config) {
		/* Nothing else could configure the microVM. */
		err = arg_error("Argument 'config-file' required, but not found.");
		goto out_args;
	}
	free(args);
	if (!sock && !no_api)
		sock = API_DEFAULT_SOCK;

	m.boot_timer = common.boot_timer;
	m.started = *started;
	api_state_init_zeroed(&m.st, &ops, &m, id); /* m is static */
	/* Firecracker's main.rs: the store's limit defaults to the API's. */
	m.st.cfg.mmds_size_limit = has_mmds_limit ? mmds_limit : max_payload;
	m.st.max_payload = max_payload;
	if (id)
		log_set_instance_id(id);
	log_set_options(show_level, show_origin);
	m.show_level = m.st.cfg.logger.show_level = show_level;
	m.show_origin = m.st.cfg.logger.show_log_origin = show_origin;
	if (log_path) {
		err = log_open(log_path);
		if (err)
			return err;
		/* The file's first line, where Firecracker writes "Running
		 * Firecracker v<version>" and its tests look for "Running
		 * Firecracker": volt says what it is, and which version. */
		pr_file(LOG_INFO, "Running Firecracker v%s", VOLT_FC_VERSION);
	}
	/* Before any line is written (--metrics-path, PUT /metrics, the config
	 * file): the devices' sections are in every line. */
	err = device_table_register_metrics();
	if (err)
		return err;
	if (metrics_path && (err = metrics_open(metrics_path)))
		return err;
	/* Firecracker's order: after the logger and the metrics file, before
	 * the configuration; volt has one thread still (the check forks).
	 * Firecracker's GenericError: exit code 1. */
	if (seccomp_filter && (err = sandbox_seccomp_load_file(seccomp_filter)))
		return err;
	if (metadata && (err = read_metadata(metadata, &m.st.cfg)))
		return err;
	if (config && (err = read_config_file(config, &m.st.cfg)))
		return err;

	/* The API thread inherits the mask: signals reach the signalfd only. */
	vm_block_stop_signals(&sigs);

	if (!no_api) {
		struct thread_hooks sandbox = sandbox_api_hooks();

		err = api_server_start(&m.srv, sock, max_payload, !as_firecracker, &sandbox);
		if (err)
			return err;
		m.has_srv = true;
		publish_root(&m);
		startup_mark("API socket listening");
		report_startup_times(&m, started);
		pr_debug("API socket %s ready after %llu us", sock,
			 (unsigned long long)metrics_us_since(started));
	}
	if (config) {
		err = boot_from_file(&m);
		if (err)
			goto out;
		publish_root(&m);
	} else {
		sfd = signalfd(-1, &sigs, SFD_CLOEXEC);
		if (sfd < 0) {
			err = -errno;
			goto out;
		}
		err = preboot_loop(&m, sfd);
		close(sfd);
		if (err)
			goto out;
	}
	status = vm_serve(m.vm,
			  m.has_srv ? &(struct vm_ctl){ .fd = m.srv.efd, .fn = on_ctl, .ctx = &m }
				    : NULL);
	err = status;
out:
	if (m.has_srv)
		api_server_close(&m.srv);
	if (m.vm) {
		vm_destroy(m.vm);
		zpages_free(m.vm, sizeof(*m.vm));
		m.vm = NULL;
	}
	return err;
out_args:
	free(args);
	return err;
}

int api_main_as_firecracker(int argc, char **argv, const struct timespec *started)
{
	as_firecracker = true;
	return api_main(argc, argv, started);
}

int api_main(int argc, char **argv, const struct timespec *started)
{
	int err = api_run(argc, argv, started), code = err > 0 ? err : err ? 1 : 0;

	/* The last line, which Firecracker's framework reads the exit code from
	 * (microvm.py get_exit_code(): "Firecracker exiting (with error|
	 * successfully). exit_code=N", searched anywhere in a line): its words,
	 * after volt's own name. */
	if (code)
		pr_file(LOG_ERROR, "volt as Firecracker exiting with error. exit_code=%d", code);
	else
		pr_file(LOG_INFO, "volt as Firecracker exiting successfully. exit_code=0");
	return code;
}
