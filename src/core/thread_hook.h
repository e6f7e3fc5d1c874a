/* How whoever starts threads lets a higher layer confine them without
 * knowing how: core/ and vmm/ start the device, vCPU and serving threads, and
 * the front-end hands them hooks that apply the sandbox (sandbox_vm_hooks()).
 * A starter that owns a group of threads (vm_start(), api_server_start())
 * runs before_threads once, on its own thread, before it creates the first
 * one (what threads inherit: Landlock; compiling the seccomp filters); every
 * thread runs thread_start with its kind after it is named and before it
 * serves anything (its seccomp filter). A non-zero return (-errno) means the
 * thread must not serve: its starter reports the failure. */
#ifndef VOLT_CORE_THREAD_HOOK_H
#define VOLT_CORE_THREAD_HOOK_H

enum thread_kind {
	THREAD_KIND_MAIN,    /* the thread that serves the VM: console, signals, API requests */
	THREAD_KIND_DEVICES, /* the device thread (core/event_loop.h) */
	THREAD_KIND_VCPU,    /* each vCPU (vmm/vcpu.h) */
	THREAD_KIND_API,     /* the HTTP API server (api/http_server.h) */
};

struct thread_hooks {
	int (*before_threads)(void *ctx);		       /* NULL: nothing to do */
	int (*thread_start)(void *ctx, enum thread_kind kind); /* NULL: nothing to do */
	void *ctx;
};

static inline int thread_hooks_before(const struct thread_hooks *h)
{
	return h && h->before_threads ? h->before_threads(h->ctx) : 0;
}

static inline int thread_hooks_start(const struct thread_hooks *h, enum thread_kind kind)
{
	return h && h->thread_start ? h->thread_start(h->ctx, kind) : 0;
}

#endif
