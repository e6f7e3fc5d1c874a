/* seccomp: every thread kind's allow-list (seccomp_lists.c) is compiled by
 * libseccomp when volt is built (seccomp_gen.c, seccomp_bpf.h);
 * sandbox_seccomp_prepare(), before the VM's threads start, copies the BPF
 * and puts this process's pid in; sandbox_seccomp_enter() then costs a thread
 * two system calls and no allocation, so it works wherever a thread starts to
 * serve the guest.
 *
 * Anything outside a thread's list kills the whole process
 * (SECCOMP_RET_KILL_PROCESS; the kernel's audit log, dmesg without auditd,
 * names the thread and the system call number). x32 and 32-bit system calls
 * kill too. File opens are the exception: refused with EACCES (and logged),
 * because libraries try them lazily and cope (seccomp_lists.c, OPEN_RULES);
 * preinit_libraries() keeps the known ones from even trying. --seccomp=log
 * allows and logs them instead, for finding what a list lacks; --seccomp=off
 * (--no-seccomp) installs nothing, with a warning. */
#include "sandbox/sandbox.h"
#include "sandbox/sanitizer.h"
#include "sandbox/seccomp_bpf.h"
#include "sandbox/seccomp_lists.h"

#include "util/log.h"

#include <errno.h>
#include <getopt.h>
#include <linux/filter.h>
#include <jansson.h>
#include <linux/seccomp.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/random.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

static enum sandbox_seccomp_mode seccomp_mode;

/* What prepare() compiled, for the mode it was compiled in. */
static struct {
	bool ready;
	enum sandbox_seccomp_mode mode;
	pid_t pid; /* the kick rule names this process */
	struct sock_fprog prog[SANDBOX_THREAD_COUNT];
} compiled;

int sandbox_seccomp_mode_parse(const char *s, enum sandbox_seccomp_mode *out)
{
	if (!strcmp(s, "kill"))
		*out = SANDBOX_SECCOMP_KILL;
	else if (!strcmp(s, "log"))
		*out = SANDBOX_SECCOMP_LOG;
	else if (!strcmp(s, "off"))
		*out = SANDBOX_SECCOMP_OFF;
	else
		return -EINVAL;
	return 0;
}

void sandbox_set_seccomp_mode(enum sandbox_seccomp_mode mode)
{
	seccomp_mode = mode;
}

/* Kind's filter for mode, built with volt (seccomp_bpf.h), with this
 * process's pid in the tgkill rule (*prog->filter is malloc'ed). */
static int compile(enum sandbox_thread kind, enum sandbox_seccomp_mode mode,
		   struct sock_fprog *prog)
{
	const struct sc_bpf *b =
		&sc_bpf[mode == SANDBOX_SECCOMP_LOG ? SC_BPF_LOG : SC_BPF_KILL][kind];
	uint32_t pid = (uint32_t)getpid();
	unsigned int i, patched = 0;

	prog->filter = malloc(b->len * sizeof(*b->insns));
	if (!prog->filter)
		return -ENOMEM;
	memcpy(prog->filter, b->insns, b->len * sizeof(*b->insns));
	prog->len = b->len;
	for (i = 0; i < b->len; i++)
		if (prog->filter[i].code == (BPF_JMP | BPF_JEQ | BPF_K) &&
		    prog->filter[i].k == SC_BPF_PID_SENTINEL) {
			prog->filter[i].k = pid;
			patched++;
		}
	if (patched != b->npid) { /* seccomp_gen checked it: never */
		free(prog->filter);
		prog->filter = NULL;
		return -EINVAL;
	}
	return 0;
}

static void release(void)
{
	int k;

	for (k = 0; k < SANDBOX_THREAD_COUNT; k++) {
		free(compiled.prog[k].filter);
		compiled.prog[k] = (struct sock_fprog){ 0 };
	}
	compiled.ready = false;
}

/* Library state that is set up lazily by opening a file, set up now, while
 * no filter is on (docs/security.md, "Refused, not killed"):
 * - glibc malloc: a thread's own arena, when its heap shrinks, reads
 *   /proc/sys/vm/overcommit_memory once (check_may_shrink_heap). One arena for
 *   every thread means there is no such heap (the main arena grows and
 *   shrinks with brk); volt's threads allocate little, so sharing it costs
 *   nothing measurable.
 * - jansson: the first JSON object seeds its hash from /dev/urandom unless
 *   json_object_seed() ran (the API thread's error answers, metrics on the
 *   device thread).
 * - glibc time: localtime_r() reads /etc/localtime once tzset() has not. */
static void preinit_libraries(void)
{
	static bool done;
	size_t seed;

	if (done)
		return;
	done = true;
	if (!mallopt(M_ARENA_MAX, 1))
		pr_debug("seccomp: mallopt(M_ARENA_MAX) refused (another allocator?)");
	/* The seed from getrandom(): one system call instead of jansson's open,
	 * read and close of /dev/urandom (0 lets jansson do that). */
	if (getrandom(&seed, sizeof(seed), GRND_NONBLOCK) != (ssize_t)sizeof(seed))
		seed = 0;
	json_object_seed(seed);
	tzset();
}

int sandbox_seccomp_prepare(void)
{
	static bool warned;
	int k, err = 0;

	if (seccomp_mode == SANDBOX_SECCOMP_OFF) {
		if (!warned && !sandbox_seccomp_file_loaded())
			pr_warn("seccomp is off (--no-seccomp): a guest that escapes KVM into volt "
				"may make any system call");
		warned = true;
		if (sandbox_seccomp_file_loaded())
			preinit_libraries(); /* that file's filters apply */
		return 0;
	}
	sandbox_sanitizer_prepare();
	preinit_libraries();
	if (compiled.ready && compiled.mode == seccomp_mode && compiled.pid == getpid())
		return 0;
	release();
	for (k = 0; !err && k < SANDBOX_THREAD_COUNT; k++) {
		err = compile((enum sandbox_thread)k, seccomp_mode, &compiled.prog[k]);
		if (err)
			pr_err("seccomp: cannot compile the %s filter: %s", sc_lists[k].name,
			       strerror(-err));
	}
	if (err) {
		release();
		return err;
	}
	compiled.mode = seccomp_mode;
	compiled.pid = getpid();
	compiled.ready = true;
	if (seccomp_mode == SANDBOX_SECCOMP_LOG)
		pr_warn("seccomp is in log mode: system calls outside the lists are allowed and "
			"logged by the kernel (dmesg)");
	return 0;
}

static int enter(enum sandbox_thread kind)
{
	int own;

	if (seccomp_mode != SANDBOX_SECCOMP_OFF && ((unsigned int)kind >= SANDBOX_THREAD_COUNT ||
						    !compiled.ready || compiled.pid != getpid())) {
		pr_err("seccomp: no filter for this thread kind was compiled in this process");
		return -EINVAL;
	}
	/* A --seccomp-filter file's program first: it lets the seccomp() of
	 * the one below through (seccomp_file.c), and has set no_new_privs. */
	own = sandbox_seccomp_file_enter(kind);
	if (own < 0 || seccomp_mode == SANDBOX_SECCOMP_OFF)
		return own < 0 ? own : 0;
	/* Without it an unprivileged process may not install a filter. FLAG_LOG:
	 * refused opens (SECCOMP_RET_ERRNO) are logged like kills are. */
	if ((!own && prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0)) ||
	    syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, SECCOMP_FILTER_FLAG_LOG,
		    &compiled.prog[kind])) {
		int err = -errno;

		pr_err("seccomp: cannot install the %s filter: %s", sc_lists[kind].name,
		       strerror(errno));
		return err;
	}
	return 0;
}

int sandbox_seccomp_enter(enum sandbox_thread kind)
{
	int err = enter(kind);

	if (!err)
		sandbox_sanitizer_selftest(kind); /* sanitizer builds, when a test asks */
	return err;
}

/* --print: what each argument is called, for the readers of the lists. */
static const char *arg_name(const char *sys, unsigned int arg)
{
	static const struct {
		const char *sys;
		unsigned int arg;
		const char *name;
	} names[] = {
		{ "ioctl", 1, "request" },   { "mmap", 2, "prot" },
		{ "mmap", 3, "flags" },	     { "mprotect", 2, "prot" },
		{ "madvise", 2, "advice" },  { "futex", 1, "op" },
		{ "tgkill", 0, "tgid" },     { "tgkill", 2, "sig" },
		{ "socket", 0, "domain" },   { "socket", 1, "type" },
		{ "socket", 2, "protocol" }, { "accept4", 3, "flags" },
		{ "shutdown", 1, "how" },    { "getrandom", 2, "flags" },
		{ "fcntl", 1, "cmd" },	     { "newfstatat", 3, "flags" },
	};
	static char buf[8];
	size_t i;

	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (names[i].arg == arg && !strcmp(names[i].sys, sys))
			return names[i].name;
	snprintf(buf, sizeof(buf), "arg%u", arg);
	return buf;
}

/* Returns the number of characters printed. */
static int print_rule(const struct sc_rule *r)
{
	unsigned int i;
	int n = 0;

	for (i = 0; i < r->nconds; i++) {
		const struct sc_cond *c = &r->conds[i];
		const char *a = arg_name(r->name, c->arg);

		n += printf("%s", i ? " && " : "");
		switch (c->op) {
		case SC_EQ32:
			n += printf("%s == %s", a, c->text);
			break;
		case SC_CLEAR:
			n += printf("%s without %s", a, c->text);
			break;
		case SC_SET:
			n += printf("%s with %s", a, c->text);
			break;
		default:
			n += printf("%s == volt's pid", a);
			break;
		}
	}
	return n;
}

static int cmp_rules(const void *a, const void *b)
{
	const struct sc_rule *x = *(const struct sc_rule *const *)a;
	const struct sc_rule *y = *(const struct sc_rule *const *)b;
	int c = strcmp(x->name, y->name);

	/* Stable by position in the list. */
	return c ? c : (x < y ? -1 : x > y);
}

/* Distinct system calls that list l allows (refusal rules left out). */
static int count_syscalls(const struct sc_list *l)
{
	int n = 0;
	size_t i, j;

	for (i = 0; i < l->nrules; i++) {
		if (l->rules[i].err)
			continue;
		for (j = 0; j < i && (l->rules[j].err || l->rules[j].nr != l->rules[i].nr); j++)
			;
		n += j == i;
	}
	return n;
}

/* l's rules by name, each line starting with indent ("  " or "  + "). */
static int print_rules(const struct sc_list *l, const char *indent)
{
	/* + 1: an empty list still gets a buffer (calloc(0) may be NULL). */
	const struct sc_rule **sorted = calloc(l->nrules + 1, sizeof(const struct sc_rule *));
	size_t i;
	int col;

	if (!sorted)
		return -ENOMEM;
	for (i = 0; i < l->nrules; i++)
		sorted[i] = &l->rules[i];
	qsort(sorted, l->nrules, sizeof(const struct sc_rule *), cmp_rules);
	for (i = 0; i < l->nrules; i++) {
		const struct sc_rule *r = sorted[i];
		bool first = !i || strcmp(sorted[i - 1]->name, r->name);

		if (r->err) {
			/* Not an allowed call: its own marker, outside the name column. */
			printf("  - %s: refused, fails with %s (logged), never kills", r->name,
			       strerrorname_np(r->err));
			if (r->nconds) {
				printf(", when ");
				print_rule(r);
			}
			printf("  # %s\n", r->why);
			continue;
		}
		printf("%s%-16s ", indent, first ? r->name : "");
		if (!r->nconds)
			col = printf("any arguments");
		else
			col = print_rule(r);
		printf("%*s # %s\n", col < 52 ? 52 - col : 0, "", r->why);
	}
	free(sorted);
	return 0;
}

static int print_list(enum sandbox_thread kind)
{
	const struct sc_list *l = &sc_lists[kind];
	struct sock_fprog prog = { 0 };
	int err;

	err = compile(kind, SANDBOX_SECCOMP_KILL, &prog);
	if (err)
		return err;
	printf("%s (%s): %d system calls, %zu rules, %u BPF instructions\n", l->name, l->threads,
	       count_syscalls(l), l->nrules, prog.len);
	free(prog.filter);
	return print_rules(l, "  ");
}

int sandbox_thread_find(const char *name)
{
	int k;

	for (k = 0; k < SANDBOX_THREAD_COUNT; k++)
		if (!strcmp(name, sc_lists[k].name))
			return k;
	return -ENOENT;
}

int sandbox_print_lists(int kind)
{
	int k, err = 0;

	printf("Outside its list a system call kills volt (SECCOMP_RET_KILL_PROCESS); so do x32\n"
	       "and 32-bit ones. Rules marked 'refused' fail with an errno instead (logged).\n");
	for (k = 0; !err && k < SANDBOX_THREAD_COUNT; k++) {
		if (kind >= 0 && k != kind)
			continue;
		printf("\n");
		err = print_list((enum sandbox_thread)k);
	}
	if (!err && sc_sanitizer_list.nrules) {
		/* Marked "+", apart from the lists: the shipped build has none. */
		printf("\nThis is a sanitizer build: every list above also allows what the "
		       "sanitizer\nruntimes need (%d system calls, %zu rules; the shipped build "
		       "has none of them):\n",
		       count_syscalls(&sc_sanitizer_list), sc_sanitizer_list.nrules);
		err = print_rules(&sc_sanitizer_list, "  + ");
	}
	if (err)
		pr_err("seccomp: cannot compile the lists: %s", strerror(-err));
	return err;
}
