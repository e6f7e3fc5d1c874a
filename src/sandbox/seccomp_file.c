/* Firecracker's --seccomp-filter: a file from its seccompiler (bitcode's
 * HashMap<String, Vec<u64>>, util/bitcode.h) holding one classic BPF program
 * per thread category, "vmm", "api" and "vcpu" (keys lowercased, no other
 * key, none missing; an empty program installs nothing), each instruction a
 * struct sock_filter in a little-endian u64.
 *
 * Where Firecracker installs these instead of its own filters, volt installs
 * them as well as its own (sandbox_seccomp_enter()): the kernel runs both and
 * the stricter answer wins, so a file can forbid more (kill, trap, errno) but
 * never let volt make a call its own list refuses. The file is checked
 * whole when it is read: at most 100000 bytes (Firecracker's limit), the
 * format, the categories, at most BPF_MAXINSNS instructions a program with
 * the ones volt puts before it (PREFIX_LEN), and
 * each program is installed once in a child process that then exits, so
 * that the kernel's own checker refuses a bad program before anything
 * starts rather than when a thread does. Errors are Firecracker's words
 * under "Seccomp error: ". */
#include "sandbox/sandbox.h"
#include "sandbox/seccomp_lists.h"

#include "util/bitcode.h"
#include "util/fs.h"
#include "util/log.h"
#include "util/parse.h"

#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

/* Firecracker's DESERIALIZATION_BYTES_LIMIT. */
#define SECCOMP_FILE_MAX 100000

static struct sock_fprog custom[SANDBOX_THREAD_COUNT];
static bool custom_set;

/* The file, through util/fs.h's read_input() (a FIFO or a device is
 * refused, not read for ever), with Firecracker's messages. */
static int read_filter_file(const char *path, char **buf, size_t *len)
{
	char why[128];
	int err = read_input(path, SECCOMP_FILE_MAX, buf, len, why, sizeof(why));

	if (err == -EFBIG) /* Firecracker reads one byte past its limit */
		pr_err("Seccomp error: Filter deserialization failed: Input size %d exceeds "
		       "limit of %d bytes",
		       SECCOMP_FILE_MAX + 1, SECCOMP_FILE_MAX);
	else if (err == -EINVAL || err == -EISDIR)
		pr_err("Seccomp error: Filter deserialization failed: Failed to read input: "
		       "'%s' %s",
		       path, why);
	else if (err)
		pr_err("Seccomp error: Filter file open error: %s (os error %d)", why, -err);
	return err == -EISDIR ? -EINVAL : err;
}

/* A key as a message shows it: its first bytes, controls escaped. */
static void escape_key(const struct bitcode_entry *e, char *out, size_t size)
{
	char cut[44];

	snprintf(cut, sizeof(cut), "%.40s%s", e->key, e->key_len > 40 ? "..." : "");
	escape_controls(cut, out, size, false);
}

/* The category a key names after Firecracker's to_lowercase() (ASCII is
 * what can match), or -ENOENT. */
static int category(const struct bitcode_entry *e)
{
	char low[8];
	size_t i;

	if (e->key_len >= sizeof(low))
		return -ENOENT;
	for (i = 0; i < e->key_len; i++)
		low[i] = (char)(e->key[i] >= 'A' && e->key[i] <= 'Z' ? e->key[i] + 32 : e->key[i]);
	low[i] = '\0';
	return memchr(e->key, '\0', e->key_len) ? -ENOENT : sandbox_thread_find(low);
}

/* Firecracker's filter_thread_categories(): "Invalid thread categories:
 * a,b" with every key that is none (as the file spells them, in its order),
 * else "Missing thread category: X". A category spelt two ways ("VMM" and
 * "vmm", which Firecracker keeps one of at random) is refused too; a key
 * repeated exactly is serde's: the last one counts. */
static int check_categories(const struct bitcode_map *m)
{
	static const enum sandbox_thread order[] = { SANDBOX_THREAD_VMM, SANDBOX_THREAD_API,
						     SANDBOX_THREAD_VCPU };
	const struct bitcode_entry *seen[SANDBOX_THREAD_COUNT] = { 0 };
	char bad[256] = "";
	size_t i, used = 0;

	for (i = 0; i < m->n; i++) {
		const struct bitcode_entry *e = &m->e[i];
		int k = category(e);

		if (k < 0) {
			char shown[64];

			escape_key(e, shown, sizeof(shown));
			used += (size_t)snprintf(bad + used,
						 used < sizeof(bad) ? sizeof(bad) - used : 0,
						 "%s%s", used ? "," : "", shown);
			continue;
		}
		if (seen[k] &&
		    (seen[k]->key_len != e->key_len || memcmp(seen[k]->key, e->key, e->key_len))) {
			char a[64], b[64];

			escape_key(seen[k], a, sizeof(a));
			escape_key(e, b, sizeof(b));
			pr_err("Seccomp error: the thread category %s is named twice, as '%s' "
			       "and '%s'",
			       sc_lists[k].name, a, b);
			return -EINVAL;
		}
		seen[k] = e;
	}
	if (used) {
		pr_err("Seccomp error: Invalid thread categories: %s%s", bad,
		       used >= sizeof(bad) ? "..." : "");
		return -EINVAL;
	}
	for (i = 0; i < sizeof(order) / sizeof(order[0]); i++)
		if (!seen[order[i]]) {
			pr_err("Seccomp error: Missing thread category: %s",
			       sc_lists[order[i]].name);
			return -EINVAL;
		}
	return 0;
}

/* The kernel's checker (the one seccomp(2) runs) on prog, in a child that
 * installs it and ends: 0, or the -errno the install failed with. Called
 * while volt has one thread. */
static int kernel_check(const struct sock_fprog *prog)
{
	int status;
	pid_t pid = fork();

	if (pid < 0)
		return -errno;
	if (!pid) {
		if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) ||
		    syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, prog))
			_exit(errno > 0 && errno < 255 ? errno : 255);
		_exit(0); /* the program may refuse this: then a signal ends the child */
	}
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return -errno;
	return WIFEXITED(status) ? -WEXITSTATUS(status) : 0;
}

/* Put before each program from the file: seccomp(SECCOMP_SET_MODE_FILTER)
 * is let through, so that the thread can install volt's own filter after
 * this one (sandbox_seccomp_enter()); volt's own then decides that call
 * (kill: none of its lists allows it). Other calls go on to the program
 * from the file, unchanged (its jumps are relative, within it). */
static const struct sock_filter prefix[] = {
	BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch)),
	BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AUDIT_ARCH_X86_64, 0, 7),
	BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
	BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_seccomp, 0, 5),
	BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, args[0]) + 4),
	BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 0, 0, 3),
	BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, args[0])),
	BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SECCOMP_SET_MODE_FILTER, 0, 1),
	BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
};
#define PREFIX_LEN (sizeof(prefix) / sizeof(prefix[0]))

/* Each category's program from the file (its categories checked), checked. */
static int take_programs(const struct bitcode_map *m)
{
	size_t i, j;
	int k, err;

	for (i = 0; i < m->n; i++) {
		const struct bitcode_entry *e = &m->e[i];
		int cat = category(e);
		struct sock_fprog *p = &custom[cat];

		if (e->nvals > BPF_MAXINSNS - PREFIX_LEN) {
			pr_err("Seccomp error: the %s filter has %zu instructions; volt takes at "
			       "most %zu (the kernel's %d, less %zu of its own before them)",
			       sc_lists[cat].name, e->nvals, BPF_MAXINSNS - PREFIX_LEN,
			       BPF_MAXINSNS, PREFIX_LEN);
			return -E2BIG;
		}
		free(p->filter); /* a key repeated: the last one counts */
		*p = (struct sock_fprog){ 0 };
		if (!e->nvals)
			continue; /* nothing installed, as Firecracker's apply_filter() */
		p->filter = calloc(PREFIX_LEN + e->nvals, sizeof(*p->filter));
		if (!p->filter)
			return -ENOMEM;
		p->len = (unsigned short)(PREFIX_LEN + e->nvals);
		memcpy(p->filter, prefix, sizeof(prefix));
		for (j = 0; j < e->nvals; j++)
			p->filter[PREFIX_LEN + j] = (struct sock_filter){
				.code = (uint16_t)e->vals[j],
				.jt = (uint8_t)(e->vals[j] >> 16),
				.jf = (uint8_t)(e->vals[j] >> 24),
				.k = (uint32_t)(e->vals[j] >> 32),
			};
	}
	for (k = 0; k < SANDBOX_THREAD_COUNT; k++) {
		if (!custom[k].len)
			continue;
		err = kernel_check(&custom[k]);
		if (err) {
			pr_err("Seccomp error: the kernel refuses the %s filter: %s",
			       sc_lists[k].name, strerror(-err));
			return err;
		}
	}
	return 0;
}

static void drop_programs(void)
{
	int k;

	for (k = 0; k < SANDBOX_THREAD_COUNT; k++) {
		free(custom[k].filter);
		custom[k] = (struct sock_fprog){ 0 };
	}
	custom_set = false;
}

int sandbox_seccomp_load_file(const char *path)
{
	struct bitcode_map m;
	char why[96], *buf = NULL;
	size_t len = 0;
	int err;

	drop_programs();
	err = read_filter_file(path, &buf, &len);
	if (err)
		return err;
	err = bitcode_decode((const uint8_t *)buf, len, &m, why, sizeof(why));
	free(buf);
	if (err) {
		pr_err("Seccomp error: Filter deserialization failed: Bitcode deserialization "
		       "failed: bitcode error (%s)",
		       why);
		return err;
	}
	err = check_categories(&m);
	if (!err)
		err = take_programs(&m);
	bitcode_map_free(&m);
	if (err) {
		drop_programs();
		return err;
	}
	custom_set = true;
	return 0;
}

bool sandbox_seccomp_file_loaded(void)
{
	return custom_set;
}

int sandbox_seccomp_file_enter(enum sandbox_thread kind)
{
	if (!custom_set || (unsigned int)kind >= SANDBOX_THREAD_COUNT || !custom[kind].len)
		return 0;
	/* Flags 0, as Firecracker installs them; before volt's own filter,
	 * which allows neither call. */
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) ||
	    syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &custom[kind])) {
		int err = -errno;

		pr_err("seccomp: cannot install the %s filter of --seccomp-filter: %s",
		       sc_lists[kind].name, strerror(errno));
		return err;
	}
	return 1;
}
