/* seccomp allow-lists: what they may never contain, and the compiled filters
 * at work. Each filter test forks a child that installs one thread kind's
 * filter and then makes one system call: the parent sees either a normal exit
 * or a death by SIGSYS. Children end with the raw exit system call, the one
 * way out that every list has. */
#include <criterion/criterion.h>
#include <criterion/redirect.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <linux/kvm.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cli/commands.h"
#include "filtered_child.h"
#include "helpers.h"
#include "sandbox/sandbox.h"
#include "sandbox/seccomp_lists.h"
#include "util/fs.h"
#include "util/staged_file.h"

#define X32_SYSCALL_BIT 0x40000000

static const enum sandbox_thread kinds[] = { SANDBOX_THREAD_VMM, SANDBOX_THREAD_VCPU,
					     SANDBOX_THREAD_API };

/* fn(arg) in a child behind kind's filter (filtered_child.h); the wait status. */
static int run_filtered(enum sandbox_seccomp_mode mode, enum sandbox_thread kind,
			void (*fn)(void *), void *arg)
{
	return run_filtered_child(mode, kind, NULL, fn, arg);
}

static void assert_killed(int status, const char *what, enum sandbox_thread kind)
{
	cr_assert(WIFSIGNALED(status) && WTERMSIG(status) == SIGSYS,
		  "%s on a %s thread: status %#x, not a SIGSYS death", what, sc_lists[kind].name,
		  status);
}

static void assert_survived(int status, const char *what, enum sandbox_thread kind)
{
	cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0,
		  "%s on a %s thread: status %#x, not a normal exit", what, sc_lists[kind].name,
		  status);
}

/* Allowed by some rule of l (a refusal rule, err set, allows nothing). */
static bool listed(const struct sc_list *l, int nr)
{
	size_t i;

	for (i = 0; i < l->nrules; i++)
		if (l->rules[i].nr == nr && !l->rules[i].err)
			return true;
	return false;
}

/* --- the lists ---------------------------------------------------------------- */

Test(seccomp, mode_names)
{
	enum sandbox_seccomp_mode m;

	cr_assert_eq(sandbox_seccomp_mode_parse("kill", &m), 0);
	cr_assert_eq(m, SANDBOX_SECCOMP_KILL);
	cr_assert_eq(sandbox_seccomp_mode_parse("log", &m), 0);
	cr_assert_eq(m, SANDBOX_SECCOMP_LOG);
	cr_assert_eq(sandbox_seccomp_mode_parse("off", &m), 0);
	cr_assert_eq(m, SANDBOX_SECCOMP_OFF);
	cr_assert_eq(sandbox_seccomp_mode_parse("Kill", &m), -EINVAL);
	cr_assert_eq(sandbox_seccomp_mode_parse("", &m), -EINVAL);
}

Test(seccomp, lists_hold_nothing_that_creates_escapes)
{
	/* New programs, processes, files, mappings of code, privileges, kernel objects. */
	static const char *const never[] = {
		"execve",
		"execveat",
		"ptrace",
		"process_vm_readv",
		"process_vm_writev",
		"open",
		"openat",
		"openat2",
		"creat",
		"fork",
		"vfork",
		"clone",
		"clone3",
		"mount",
		"umount2",
		"chroot",
		"pivot_root",
		"setns",
		"unshare",
		"bind",
		"listen",
		"socketpair",
		"link",
		"linkat",
		"symlink",
		"symlinkat",
		"rename",
		"renameat2",
		"mknod",
		"mknodat",
		"chmod",
		"fchmod",
		"chown",
		"fchown",
		"setuid",
		"setgid",
		"setresuid",
		"capset",
		"prctl",
		"seccomp",
		"bpf",
		"perf_event_open",
		"userfaultfd",
		"memfd_create",
		"kexec_load",
		"init_module",
		"finit_module",
		"delete_module",
		"iopl",
		"ioperm",
		"personality",
		"keyctl",
		"add_key",
		"io_uring_setup",
		"io_uring_register",
		"mremap",
		"pkey_mprotect",
		"remap_file_pages",
		"kill",
		"tkill",
		"rt_sigaction",
		"sigaltstack",
		"name_to_handle_at",
		"open_by_handle_at",
	};
	size_t i;
	int k;

	for (k = 0; k < SANDBOX_THREAD_COUNT; k++) {
		for (i = 0; i < sizeof(never) / sizeof(never[0]); i++) {
			int nr = seccomp_syscall_resolve_name(never[i]);

			/* Snapshot files: checked in snapshot_files_only_by_the_vmm. */
			if (k == SANDBOX_THREAD_VMM &&
			    (!strcmp(never[i], "openat") || !strcmp(never[i], "rename") ||
			     !strcmp(never[i], "renameat2")))
				continue;
			cr_assert_neq(nr, __NR_SCMP_ERROR, "%s: unknown to libseccomp", never[i]);
			cr_assert_not(listed(&sc_lists[k], nr), "the %s list allows %s",
				      sc_lists[k].name, never[i]);
		}
	}
}

/* The exceptions to "no new files": the main thread writes snapshots
 * (docs/snapshots.md) and opens a drive's new file (PATCH /drives). openat
 * only creates (O_CREAT|O_EXCL: a new name, never an existing file), opens a
 * directory to fsync it, or opens as open_input() does (O_NOCTTY, which no
 * library's lazy read uses); where, Landlock says. */
Test(seccomp, snapshot_files_only_by_the_vmm)
{
	const struct sc_list *l = &sc_lists[SANDBOX_THREAD_VMM];
	int nr = seccomp_syscall_resolve_name("openat");
	size_t i, allowed = 0;

	for (i = 0; i < l->nrules; i++) {
		const struct sc_rule *r = &l->rules[i];

		if (r->nr != nr || r->err)
			continue;
		allowed++;
		cr_assert_eq(r->nconds, 1, "openat allowed without its condition");
		cr_assert(r->conds[0].op == SC_SET && (r->conds[0].value == (O_CREAT | O_EXCL) ||
						       r->conds[0].value == O_DIRECTORY ||
						       r->conds[0].value == O_NOCTTY),
			  "openat allowed for more than creating a file, opening a directory "
			  "or open_input()");
	}
	cr_assert_eq(allowed, 3);
	/* renameat2: a new name or a swap (util/staged_file.h), never
	 * RENAME_WHITEOUT (a device node). */
	nr = seccomp_syscall_resolve_name("renameat2");
	for (i = 0, allowed = 0; i < l->nrules; i++) {
		const struct sc_rule *r = &l->rules[i];

		if (r->nr != nr || r->err)
			continue;
		allowed++;
		cr_assert(r->nconds == 1 && r->conds[0].arg == 4 && r->conds[0].op == SC_EQ32 &&
				  (r->conds[0].value == RENAME_NOREPLACE ||
				   r->conds[0].value == RENAME_EXCHANGE),
			  "renameat2 allowed with flags other than RENAME_NOREPLACE or "
			  "RENAME_EXCHANGE");
	}
	cr_assert_eq(allowed, 2);
}

Test(seccomp, risky_calls_carry_argument_conditions)
{
	static const char *const conditional[] = { "ioctl",	"mmap",	    "mprotect", "madvise",
						   "futex",	"tgkill",   "socket",	"accept4",
						   "getrandom", "shutdown", "fcntl" };
	size_t i, j;
	int k;

	for (k = 0; k < SANDBOX_THREAD_COUNT; k++) {
		for (j = 0; j < sizeof(conditional) / sizeof(conditional[0]); j++) {
			int nr = seccomp_syscall_resolve_name(conditional[j]);

			for (i = 0; i < sc_lists[k].nrules; i++)
				if (sc_lists[k].rules[i].nr == nr)
					cr_assert_gt(sc_lists[k].rules[i].nconds, 0,
						     "the %s list allows %s with any arguments",
						     sc_lists[k].name, conditional[j]);
		}
	}
}

/* Who a rule's `why` may name. Users with a source stem are volt's own code:
 * the call must be spelled in a file under src/ whose path holds the stem, so
 * a rule outlives its use only until this test runs. The others are libraries
 * and roles whose calls are not in volt's source (glibc, the HTTP server). */
static const struct {
	const char *word;
	const char *stem; /* NULL: not volt's own code */
} users[] = {
	{ "virtio-blk", "virtio_blk" },
	{ "virtio-net", "virtio_net" },
	{ "virtio-rng", "virtio_rng" },
	{ "virtio-pmem", "virtio_pmem" },
	{ "virtio-vsock", "vsock" },
	{ "balloon", "balloon" },
	{ "metrics", "metrics" },
	{ "event loop", "event_loop" },
	{ "fatal signals", "vmm/signals" },
	{ "malloc", NULL },
	{ "free", NULL },
	{ "mutexes", NULL },
	{ "pthread_", NULL },
	{ "thread exit", NULL },
	{ "thread's exit", NULL },
	{ "libraries", NULL },
	{ "ASan", NULL },
	{ "UBSan", NULL },
	{ "HTTP server", NULL },
	{ "API", NULL },
	{ "requests", NULL },
	{ "responses", NULL },
	{ "connection", NULL },
	{ "teardown", NULL },
	{ "the end of volt", NULL },
	{ "main thread", NULL },
	{ "device thread", NULL },
	{ "vCPU", NULL },
	{ "PVM hosts", NULL },
	{ "serial", NULL },
	{ "console", NULL },
	{ "terminal", NULL },
	{ "debug log", NULL },
	{ "log", NULL },
	{ "--boot-timer", NULL },
	{ "--profile", "profiler" },
	{ "vm_stop", NULL },
	{ "pause", NULL },
	{ "kick", NULL },
	{ "runs the guest", NULL },
	{ "virtio devices", NULL },
	{ "snapshot state", "_state" },
	{ "memory file", "mem_file" },
	{ "state file", "util/staged_file" },
	{ "staged file", "util/staged_file" },
	{ "dirty page log", "guest_mem" },
	{ "hotpluggable memory", "guest_mem" },
	{ "a drive's new file", "util/fs" },
	{ "never used", NULL },
};

/* How volt's source spells a system call when not by its own name. */
static const struct {
	const char *sys;
	const char *spellings[4];
} spellings[] = {
	{ "pwrite64", { "pwrite", "pwrite64" } },
	{ "io_uring_enter", { "io_uring_submit", "io_uring_submit_and_wait" } },
	{ "sendto", { "send", "sendto" } },
	{ "recvfrom", { "recv", "recvfrom" } },
	{ "newfstatat", { "stat", "lstat", "fstatat", "fstat" } },
	{ "unlink", { "unlink", "unlinkat" } },
	{ "TCSETS", { "tcsetattr" } },
	{ "openat", { "open", "mkstemp", "mkostemp" } },
	{ "getrandom", { "getrandom", "mkstemp", "mkostemp" } },
	{ "TCGETS", { "tcgetattr" } },
	{ "exit_group", { "_exit", "exit" } },
};

struct source {
	char path[256];
	char *text; /* comments blanked: a mention in a comment is no use */
};

static struct source sources[256];
static size_t nsources;

static void blank_comments(char *t)
{
	char *p = t, *end;

	while ((p = strchr(p, '/'))) {
		if (p[1] == '*') {
			end = strstr(p + 2, "*/");
			end = end ? end + 2 : p + strlen(p);
		} else if (p[1] == '/') {
			end = strchr(p, '\n');
			end = end ? end : p + strlen(p);
		} else {
			p++;
			continue;
		}
		memset(p, ' ', (size_t)(end - p));
		p = end;
	}
}

static int add_source(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
	size_t len = strlen(path);
	FILE *f;

	(void)ftw;
	/* The lists themselves do not count as a use. */
	if (type != FTW_F || len < 2 || strcmp(path + len - 2, ".c") ||
	    strstr(path, "seccomp_lists.c"))
		return 0;
	cr_assert_lt(nsources, sizeof(sources) / sizeof(sources[0]), "more sources than slots");
	snprintf(sources[nsources].path, sizeof(sources[nsources].path), "%s", path);
	sources[nsources].text = calloc(1, (size_t)st->st_size + 1);
	f = fopen(path, "r");
	cr_assert(f && sources[nsources].text, "%s", path);
	cr_assert_eq(fread(sources[nsources].text, 1, (size_t)st->st_size, f), (size_t)st->st_size);
	fclose(f);
	blank_comments(sources[nsources].text);
	nsources++;
	return 0;
}

static void load_sources(void)
{
	if (!nsources)
		cr_assert_eq(nftw(TEST_SOURCE_DIR "/src", add_source, 16, FTW_PHYS), 0);
	cr_assert_gt(nsources, 10);
}

static bool is_ident(char c)
{
	return isalnum((unsigned char)c) || c == '_';
}

/* word appears in text as a whole identifier. */
static bool spelled(const char *text, const char *word)
{
	size_t n = strlen(word);
	const char *p;

	for (p = strstr(text, word); p; p = strstr(p + 1, word))
		if ((p == text || !is_ident(p[-1])) && !is_ident(p[n]))
			return true;
	return false;
}

/* Some file whose path holds stem (any file: NULL) spells what. */
static bool used_in(const char *stem, const char *what)
{
	size_t i, j, k;

	for (i = 0; i < nsources; i++) {
		if (stem && !strstr(sources[i].path, stem))
			continue;
		for (j = 0; j < sizeof(spellings) / sizeof(spellings[0]); j++)
			if (!strcmp(spellings[j].sys, what)) {
				for (k = 0; k < 4 && spellings[j].spellings[k]; k++)
					if (spelled(sources[i].text, spellings[j].spellings[k]))
						return true;
				break;
			}
		if (j == sizeof(spellings) / sizeof(spellings[0]) && spelled(sources[i].text, what))
			return true;
	}
	return false;
}

static void check_users(const struct sc_list *l)
{
	size_t i, u;

	for (i = 0; i < l->nrules; i++) {
		const struct sc_rule *r = &l->rules[i];
		bool named = false;

		cr_assert(r->why, "%s: %s has no why", l->name, r->name);
		for (u = 0; u < sizeof(users) / sizeof(users[0]); u++)
			if (strstr(r->why, users[u].word))
				named = true;
		cr_assert(named, "%s: %s: \"%s\" names no known user (add it to users[] if real)",
			  l->name, r->name, r->why);
	}
}

Test(seccomp, every_rule_names_its_user)
{
	int k;

	for (k = 0; k < SANDBOX_THREAD_COUNT; k++)
		check_users(&sc_lists[k]);
	check_users(&sc_sanitizer_list);
}

static void check_uses(const struct sc_list *l)
{
	size_t i, u;

	for (i = 0; i < l->nrules; i++) {
		const struct sc_rule *r = &l->rules[i];

		if (r->err) /* refused: no user needs it to work */
			continue;
		/* An ioctl's request is volt's own, whoever the user. */
		if (!strcmp(r->name, "ioctl"))
			cr_assert(used_in(NULL, r->conds[0].text),
				  "%s: ioctl %s (\"%s\"): nothing under src/ issues it", l->name,
				  r->conds[0].text, r->why);
		for (u = 0; u < sizeof(users) / sizeof(users[0]); u++)
			if (users[u].stem && strstr(r->why, users[u].word))
				cr_assert(used_in(users[u].stem, r->name),
					  "%s: %s is for %s (\"%s\"), whose source never calls it",
					  l->name, r->name, users[u].word, r->why);
	}
}

Test(seccomp, every_rule_is_used_by_the_code_it_names)
{
	int k;

	load_sources();
	for (k = 0; k < SANDBOX_THREAD_COUNT; k++)
		check_uses(&sc_lists[k]);
	while (nsources) /* LeakSanitizer's build counts them */
		free(sources[--nsources].text);
}

/* --- the filters at work -------------------------------------------------------- */

static void do_getppid(void *arg)
{
	(void)arg;
	syscall(SYS_getppid);
}

static void do_write(void *arg)
{
	int fd = *(int *)arg;

	if (write(fd, "x", 1) != 1)
		syscall(SYS_exit, 1);
}

Test(seccomp, each_kind_allows_its_calls_and_kills_on_others)
{
	size_t k;

	for (k = 0; k < sizeof(kinds) / sizeof(kinds[0]); k++) {
		int p[2];
		char c = 0;

		cr_assert_eq(pipe(p), 0);
		assert_survived(run_filtered(SANDBOX_SECCOMP_KILL, kinds[k], do_write, &p[1]),
				"write", kinds[k]);
		cr_assert_eq(read(p[0], &c, 1), 1);
		cr_assert_eq(c, 'x');
		close(p[0]);
		close(p[1]);
		assert_killed(run_filtered(SANDBOX_SECCOMP_KILL, kinds[k], do_getppid, NULL),
			      "getppid", kinds[k]);
	}
}

static void do_execve(void *arg)
{
	char *const argv[] = { "/bin/true", NULL };

	(void)arg;
	syscall(SYS_execve, "/bin/true", argv, argv + 1);
}

/* Exits 0 only when every way to open a file fails with EACCES. */
static void do_opens(void *arg)
{
	(void)arg;
	if (syscall(SYS_openat, AT_FDCWD, "/etc/hostname", O_RDONLY) != -1 || errno != EACCES)
		syscall(SYS_exit, 1);
	if (syscall(SYS_open, "/proc/sys/vm/overcommit_memory", O_RDONLY) != -1 || errno != EACCES)
		syscall(SYS_exit, 2);
	if (syscall(SYS_openat2, AT_FDCWD, "/dev/urandom", NULL, 0) != -1 || errno != EACCES)
		syscall(SYS_exit, 3);
	/* What glibc's malloc does when a thread's heap shrinks: an open that fails. */
	if (fopen("/proc/sys/vm/overcommit_memory", "r"))
		syscall(SYS_exit, 4);
}

static void do_ptrace(void *arg)
{
	(void)arg;
	syscall(SYS_ptrace, 0 /* PTRACE_TRACEME */, 0, 0, 0);
}

static void do_fork_clone(void *arg)
{
	(void)arg;
	syscall(SYS_clone, SIGCHLD, 0, 0, 0, 0);
}

static void do_thread_clone(void *arg)
{
	(void)arg;
	/* clone3 cannot be filtered on its flags: it is absent, like clone. */
	syscall(SYS_clone3, NULL, 0);
}

static void do_x32_getpid(void *arg)
{
	(void)arg;
	syscall(X32_SYSCALL_BIT | SYS_getpid);
}

Test(seccomp, escapes_are_killed_on_every_kind)
{
	static const struct {
		const char *what;
		void (*fn)(void *);
	} calls[] = {
		{ "execve", do_execve },
		{ "ptrace", do_ptrace },
		{ "fork-style clone", do_fork_clone },
		{ "clone3", do_thread_clone },
		{ "an x32 system call", do_x32_getpid },
	};
	size_t k, i;

	for (k = 0; k < sizeof(kinds) / sizeof(kinds[0]); k++)
		for (i = 0; i < sizeof(calls) / sizeof(calls[0]); i++)
			assert_killed(
				run_filtered(SANDBOX_SECCOMP_KILL, kinds[k], calls[i].fn, NULL),
				calls[i].what, kinds[k]);
}

/* Libraries open files lazily (glibc's malloc trim, jansson's seed): a kill
 * there would let any API client end the VM, so opens fail with EACCES on
 * every kind, in kill mode too, and open nothing. */
Test(seccomp, file_opens_are_refused_not_killed)
{
	size_t k;

	for (k = 0; k < sizeof(kinds) / sizeof(kinds[0]); k++) {
		int status = run_filtered(SANDBOX_SECCOMP_KILL, kinds[k], do_opens, NULL);

		cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0,
			  "opens on a %s thread: status %#x (exit 1-4: an open did not fail "
			  "with EACCES; a signal: killed)",
			  sc_lists[kinds[k]].name, status);
	}
}

static void do_mmap_rw(void *arg)
{
	void *p = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	(void)arg;
	if (p == MAP_FAILED || munmap(p, 4096))
		syscall(SYS_exit, 1);
}

static void do_mmap_exec(void *arg)
{
	(void)arg;
	mmap(NULL, 4096, PROT_READ | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
}

static void do_mmap_file(void *arg)
{
	mmap(NULL, 4096, PROT_READ, MAP_PRIVATE, *(int *)arg, 0);
}

static void do_mprotect_exec(void *arg)
{
	mprotect(arg, 4096, PROT_READ | PROT_EXEC);
}

/* A snapshot's two files into place as the main thread writes them. */
static void do_snapshot_files(void *arg)
{
	syscall(SYS_exit, test_snapshot_files_twice(arg));
}

static void do_rename_whiteout(void *arg)
{
	char from[PATH_MAX], to[PATH_MAX];

	snprintf(from, sizeof(from), "%s/vmstate", (const char *)arg);
	snprintf(to, sizeof(to), "%s/w", (const char *)arg);
	syscall(SYS_renameat2, AT_FDCWD, from, AT_FDCWD, to, RENAME_WHITEOUT);
}

Test(seccomp, snapshot_files_go_in_place_behind_the_vmm_filter)
{
	char d[] = "/tmp/volt-seccomp-snap.XXXXXX", old[64];

	cr_assert_not_null(mkdtemp(d));
	snprintf(old, sizeof(old), "%s/vmstate", d);
	cr_assert_eq(write_file_atomic(old, "o", 1, 0600), 0);
	assert_survived(
		run_filtered(SANDBOX_SECCOMP_KILL, SANDBOX_THREAD_VMM, do_snapshot_files, d),
		"a snapshot's files", SANDBOX_THREAD_VMM);
	assert_killed(run_filtered(SANDBOX_SECCOMP_KILL, SANDBOX_THREAD_VMM, do_rename_whiteout, d),
		      "renameat2(RENAME_WHITEOUT)", SANDBOX_THREAD_VMM);
	rm_rf(d);
}

/* PATCH /drives' open_input() on the main thread: the kind read through
 * O_PATH, the file opened through /proc or by its path, as its list allows. */
static void do_open_input(void *arg)
{
	struct stat st;
	int fd, err;

	if (open_input(arg, O_RDWR, INPUT_FILE | INPUT_BLOCK, &fd, &st, NULL, 0))
		syscall(SYS_exit, 1);
	close(fd);
	err = open_input("/dev/null", O_RDONLY, INPUT_FILE | INPUT_BLOCK, &fd, &st, NULL, 0);
	syscall(SYS_exit, err == -EINVAL ? 0 : 2);
}

Test(seccomp, a_drives_new_file_opens_behind_the_vmm_filter)
{
	char path[] = "/tmp/volt-seccomp-drive.XXXXXX";
	int fd = mkstemp(path);

	cr_assert_geq(fd, 0);
	close(fd);
	assert_survived(run_filtered(SANDBOX_SECCOMP_KILL, SANDBOX_THREAD_VMM, do_open_input, path),
			"open_input() of a drive's file", SANDBOX_THREAD_VMM);
	unlink(path);
}

Test(seccomp, memory_never_becomes_executable)
{
	void *page = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	int fd = open("/proc/self/exe", O_RDONLY | O_CLOEXEC);
	size_t k;

	cr_assert_neq(page, MAP_FAILED);
	cr_assert_geq(fd, 0);
	for (k = 0; k < sizeof(kinds) / sizeof(kinds[0]); k++) {
		assert_survived(run_filtered(SANDBOX_SECCOMP_KILL, kinds[k], do_mmap_rw, NULL),
				"mmap(PROT_READ | PROT_WRITE, MAP_ANONYMOUS)", kinds[k]);
		assert_killed(run_filtered(SANDBOX_SECCOMP_KILL, kinds[k], do_mmap_exec, NULL),
			      "mmap(PROT_EXEC)", kinds[k]);
		assert_killed(run_filtered(SANDBOX_SECCOMP_KILL, kinds[k], do_mmap_file, &fd),
			      "mmap of a file", kinds[k]);
		assert_killed(run_filtered(SANDBOX_SECCOMP_KILL, kinds[k], do_mprotect_exec, page),
			      "mprotect(PROT_EXEC)", kinds[k]);
	}
	close(fd);
}

static void do_kvm_run(void *arg)
{
	(void)arg;
	/* Allowed on the vCPU thread: the bad fd only makes it fail. */
	if (ioctl(-1, KVM_RUN, 0) != -1 || errno != EBADF)
		syscall(SYS_exit, 1);
}

static void do_kvm_create_vm(void *arg)
{
	(void)arg;
	ioctl(-1, KVM_CREATE_VM, 0);
}

static void do_tiocsti(void *arg)
{
	char c = 'x';

	(void)arg;
	ioctl(-1, TIOCSTI, &c);
}

static void do_kvm_run_high_bits(void *arg)
{
	(void)arg;
	/* The kernel reads the request as 32 bits; so does the filter. */
	if (syscall(SYS_ioctl, -1, 0xdead00000000ULL | KVM_RUN, 0) != -1 || errno != EBADF)
		syscall(SYS_exit, 1);
}

Test(seccomp, ioctl_requests_are_filtered)
{
	size_t k;

	assert_survived(run_filtered(SANDBOX_SECCOMP_KILL, SANDBOX_THREAD_VCPU, do_kvm_run, NULL),
			"ioctl(KVM_RUN)", SANDBOX_THREAD_VCPU);
	assert_survived(
		run_filtered(SANDBOX_SECCOMP_KILL, SANDBOX_THREAD_VCPU, do_kvm_run_high_bits, NULL),
		"ioctl(KVM_RUN | high bits)", SANDBOX_THREAD_VCPU);
	assert_killed(run_filtered(SANDBOX_SECCOMP_KILL, SANDBOX_THREAD_VMM, do_kvm_run, NULL),
		      "ioctl(KVM_RUN)", SANDBOX_THREAD_VMM);
	for (k = 0; k < sizeof(kinds) / sizeof(kinds[0]); k++) {
		assert_killed(run_filtered(SANDBOX_SECCOMP_KILL, kinds[k], do_kvm_create_vm, NULL),
			      "ioctl(KVM_CREATE_VM)", kinds[k]);
		assert_killed(run_filtered(SANDBOX_SECCOMP_KILL, kinds[k], do_tiocsti, NULL),
			      "ioctl(TIOCSTI)", kinds[k]);
	}
}

static void do_unix_socket(void *arg)
{
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

	(void)arg;
	if (fd < 0 || close(fd))
		syscall(SYS_exit, 1);
}

static void do_inet_socket(void *arg)
{
	(void)arg;
	socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
}

static void do_netlink_socket(void *arg)
{
	(void)arg;
	socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, 0);
}

Test(seccomp, sockets_only_unix_streams_for_vsock)
{
	assert_survived(
		run_filtered(SANDBOX_SECCOMP_KILL, SANDBOX_THREAD_VMM, do_unix_socket, NULL),
		"socket(AF_UNIX, SOCK_STREAM)", SANDBOX_THREAD_VMM);
	assert_killed(run_filtered(SANDBOX_SECCOMP_KILL, SANDBOX_THREAD_VMM, do_inet_socket, NULL),
		      "socket(AF_INET)", SANDBOX_THREAD_VMM);
	assert_killed(
		run_filtered(SANDBOX_SECCOMP_KILL, SANDBOX_THREAD_VMM, do_netlink_socket, NULL),
		"socket(AF_NETLINK)", SANDBOX_THREAD_VMM);
	assert_killed(run_filtered(SANDBOX_SECCOMP_KILL, SANDBOX_THREAD_VCPU, do_unix_socket, NULL),
		      "socket(AF_UNIX)", SANDBOX_THREAD_VCPU);
}

static void do_kick_self(void *arg)
{
	(void)arg;
	/* SIGUSR1 is ignored (the test's .init): the kick itself must pass. */
	if (syscall(SYS_tgkill, getpid(), syscall(SYS_gettid), SIGUSR1))
		syscall(SYS_exit, 1);
}

static void do_kill_parent(void *arg)
{
	(void)arg;
	syscall(SYS_tgkill, getppid(), getppid(), SIGUSR1);
}

static void do_sigterm_self(void *arg)
{
	(void)arg;
	syscall(SYS_tgkill, getpid(), syscall(SYS_gettid), SIGTERM);
}

static void ignore_usr1(void)
{
	struct sigaction sa = { .sa_handler = SIG_IGN };

	sigaction(SIGUSR1, &sa, NULL);
}

Test(seccomp, signals_only_kick_this_process, .init = ignore_usr1)
{
	assert_survived(run_filtered(SANDBOX_SECCOMP_KILL, SANDBOX_THREAD_VCPU, do_kick_self, NULL),
			"tgkill(self, SIGUSR1)", SANDBOX_THREAD_VCPU);
	assert_killed(run_filtered(SANDBOX_SECCOMP_KILL, SANDBOX_THREAD_VCPU, do_kill_parent, NULL),
		      "tgkill(parent, SIGUSR1)", SANDBOX_THREAD_VCPU);
	assert_killed(run_filtered(SANDBOX_SECCOMP_KILL, SANDBOX_THREAD_VMM, do_sigterm_self, NULL),
		      "tgkill(self, SIGTERM)", SANDBOX_THREAD_VMM);
}

static void *vcpu_like(void *arg)
{
	(void)arg;
	if (sandbox_seccomp_enter(SANDBOX_THREAD_VCPU))
		syscall(SYS_exit, 100);
	syscall(SYS_getppid);
	return NULL;
}

static void do_thread_breaks_out(void *arg)
{
	pthread_t t;

	(void)arg;
	/* This thread's own filter (vmm) allows the join's futex. */
	if (pthread_create(&t, NULL, vcpu_like, NULL))
		syscall(SYS_exit, 2);
	pthread_join(t, NULL);
}

Test(seccomp, one_thread_breaking_out_kills_the_process)
{
	struct rlimit no_core = { 0, 0 };
	int status;
	pid_t pid;

	sandbox_set_seccomp_mode(SANDBOX_SECCOMP_KILL);
	pid = fork();
	if (pid == 0) {
		setrlimit(RLIMIT_CORE, &no_core);
		if (sandbox_seccomp_prepare())
			syscall(SYS_exit, 100);
		do_thread_breaks_out(NULL);
		syscall(SYS_exit_group, 0);
	}
	cr_assert_gt(pid, 0);
	cr_assert_eq(waitpid(pid, &status, 0), pid);
	assert_killed(status, "getppid", SANDBOX_THREAD_VCPU);
}

Test(seccomp, log_mode_lets_everything_through)
{
	size_t k;

	for (k = 0; k < sizeof(kinds) / sizeof(kinds[0]); k++)
		assert_survived(run_filtered(SANDBOX_SECCOMP_LOG, kinds[k], do_getppid, NULL),
				"getppid (log mode)", kinds[k]);
	/* Except calls of other architectures. */
	assert_killed(run_filtered(SANDBOX_SECCOMP_LOG, SANDBOX_THREAD_VMM, do_x32_getpid, NULL),
		      "x32 getpid (log mode)", SANDBOX_THREAD_VMM);
}

Test(seccomp, off_installs_nothing)
{
	sandbox_set_seccomp_mode(SANDBOX_SECCOMP_OFF);
	cr_assert_eq(sandbox_seccomp_prepare(), 0);
	assert_survived(run_filtered(SANDBOX_SECCOMP_OFF, SANDBOX_THREAD_VCPU, do_getppid, NULL),
			"getppid (off)", SANDBOX_THREAD_VCPU);
}

Test(seccomp, enter_before_prepare_fails)
{
	sandbox_set_seccomp_mode(SANDBOX_SECCOMP_KILL);
	cr_assert_eq(sandbox_seccomp_enter(SANDBOX_THREAD_VCPU), -EINVAL);
	cr_assert_eq(sandbox_seccomp_enter((enum sandbox_thread)7), -EINVAL);
}

Test(seccomp, sandbox_cmd_arguments)
{
	char *bad_thread[] = { "sandbox", "--print", "--thread", "gpu", NULL };
	char *no_print[] = { "sandbox", NULL };
	char *extra[] = { "sandbox", "--print", "more", NULL };

	cr_redirect_stdout();
	cr_redirect_stderr();
	cr_assert_eq(sandbox_cmd(4, bad_thread), -EINVAL);
	cr_assert_eq(sandbox_cmd(1, no_print), -EINVAL);
	cr_assert_eq(sandbox_cmd(3, extra), -EINVAL);
}

Test(seccomp, sandbox_cmd_prints_each_list)
{
	char *all[] = { "sandbox", "--print", NULL };
	char *vcpu[] = { "sandbox", "--print", "--thread", "vcpu", NULL };

	char out[65536];
	size_t n;
	FILE *f;

	cr_redirect_stdout();
	cr_assert_eq(sandbox_cmd(2, all), 0);
	cr_assert_eq(sandbox_cmd(4, vcpu), 0);
	fflush(stdout);
	f = cr_get_redirected_stdout();
	n = fread(out, 1, sizeof(out) - 1, f);
	out[n] = 0;
	cr_assert(strstr(out, "vmm (main thread, device thread): "), "%s", out);
	cr_assert(strstr(out, "api (HTTP API server thread): "), "%s", out);
	cr_assert(strstr(out, "request == KVM_RUN"), "%s", out);
	cr_assert(strstr(out, "prot without PROT_EXEC"), "%s", out);
	cr_assert_null(strstr(out, "execve"), "%s", out);
	/* --thread vcpu: once more, alone. */
	cr_assert(strstr(strstr(out, "vcpu (") + 1, "vcpu ("), "%s", out);
}

/* What a sanitizer build adds to every list (seccomp_lists.c): nothing in the
 * shipped build; in a sanitizer build, each rule names its user, risky calls
 * carry conditions, and none is an escape (nor sigaltstack: ASan runs without
 * alternate signal stacks there). */
Test(seccomp, sanitizer_rules_only_in_sanitizer_builds)
{
#ifdef VOLT_SANITIZERS
	static const char *const never[] = { "execve",	"clone",       "clone3",   "fork",
					     "ptrace",	"open",	       "openat",   "prctl",
					     "seccomp", "sigaltstack", "mprotect", "unlink" };
	const struct sc_list *l = &sc_sanitizer_list;
	size_t i, j;

	cr_assert_gt(l->nrules, 0);
	for (i = 0; i < l->nrules; i++) {
		const struct sc_rule *r = &l->rules[i];

		cr_assert(r->why && r->why[0], "%s", r->name);
		if (!strcmp(r->name, "ioctl") || !strcmp(r->name, "madvise"))
			cr_assert_gt(r->nconds, 0, "%s with any arguments", r->name);
		for (j = 0; j < sizeof(never) / sizeof(never[0]); j++)
			cr_assert_neq(r->nr, seccomp_syscall_resolve_name(never[j]),
				      "the sanitizer rules allow %s", never[j]);
	}
#else
	cr_assert_eq(sc_sanitizer_list.nrules, 0);
	cr_assert_null(sc_sanitizer_list.rules);
#endif
}
