/* The hooks the front-ends hand to whoever starts threads (core/thread_hook.h):
 * the sandbox goes on through them, so the starters need not know it. */
#include "sandbox/sandbox.h"

#include "util/startup_trace.h"
#include "vmm/vm.h"

#include <errno.h>

static int enter_seccomp(void *ctx, enum thread_kind kind)
{
	(void)ctx;
	switch (kind) {
	case THREAD_KIND_MAIN:
	case THREAD_KIND_DEVICES:
		return sandbox_seccomp_enter(SANDBOX_THREAD_VMM);
	case THREAD_KIND_VCPU:
		return sandbox_seccomp_enter(SANDBOX_THREAD_VCPU);
	case THREAD_KIND_API:
		return sandbox_seccomp_enter(SANDBOX_THREAD_API);
	}
	return -EINVAL;
}

/* Landlock here, on the thread that starts the others: they inherit it. */
static int before_vm_threads(void *ctx)
{
	int err = sandbox_seccomp_prepare();

	startup_mark("seccomp filters prepared");
	if (!err)
		err = sandbox_landlock_apply(ctx);
	startup_mark("Landlock applied");
	return err;
}

static int before_api_thread(void *ctx)
{
	int err;

	(void)ctx;
	err = sandbox_seccomp_prepare();
	startup_mark("seccomp filters prepared");
	return err;
}

struct thread_hooks sandbox_vm_hooks(const struct vm_config *cfg)
{
	return (struct thread_hooks){ before_vm_threads, enter_seccomp, (void *)cfg };
}

struct thread_hooks sandbox_api_hooks(void)
{
	return (struct thread_hooks){ before_api_thread, enter_seccomp, NULL };
}
