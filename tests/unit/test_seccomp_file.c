/* Firecracker's --seccomp-filter files: the bitcode decoder against files the
 * Rust crate itself wrote (data/bitcode/: bitcode 0.6.9's serialize() of the
 * map in NAME.txt, one "key<TAB>n1,n2,..." line per entry, in order), hostile
 * inputs, and the loader's checks and its filters at work beside volt's own. */
#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "sandbox/sandbox.h"
#include "util/bitcode.h"

#define DATA TEST_SOURCE_DIR "/tests/unit/data/bitcode/"

static uint8_t *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	uint8_t *b;
	long n;

	cr_assert(f, "%s", path);
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	rewind(f);
	b = malloc((size_t)n + 1);
	cr_assert(b);
	cr_assert_eq(fread(b, 1, (size_t)n, f), (size_t)n);
	fclose(f);
	b[n] = 0;
	*len = (size_t)n;
	return b;
}

/* The map as the .txt files write it. */
static char *render(const struct bitcode_map *m)
{
	size_t cap = 1 << 20, used = 0, i, j;
	char *s = malloc(cap);

	cr_assert(s);
	s[0] = 0;
	for (i = 0; i < m->n; i++) {
		used += (size_t)snprintf(s + used, cap - used, "%s\t", m->e[i].key);
		for (j = 0; j < m->e[i].nvals; j++)
			used += (size_t)snprintf(s + used, cap - used, "%s%llu", j ? "," : "",
						 (unsigned long long)m->e[i].vals[j]);
		used += (size_t)snprintf(s + used, cap - used, "\n");
		cr_assert_lt(used, cap);
	}
	return s;
}

/* The .txt's numbers may be hex; rewritten as the render's decimal. */
static char *canonical(const char *txt)
{
	char *out = malloc(strlen(txt) * 3 + 1), *o = out;
	const char *p = txt;

	cr_assert(out);
	while (*p) {
		const char *tab = strchr(p, '\t'), *nl;

		cr_assert(tab);
		memcpy(o, p, (size_t)(tab - p + 1));
		o += tab - p + 1;
		p = tab + 1;
		nl = strchr(p, '\n');
		while (p < nl) {
			char *end;
			unsigned long long v = strtoull(p, &end, 0);

			o += sprintf(o, "%llu%s", v, *end == ',' ? "," : "");
			p = *end == ',' ? end + 1 : end;
		}
		*o++ = '\n';
		p = nl + 1;
	}
	*o = 0;
	return out;
}

Test(bitcode, decodes_what_the_crate_wrote)
{
	DIR *d = opendir(DATA);
	struct dirent *de;
	int n = 0;

	cr_assert(d);
	while ((de = readdir(d))) {
		char path[512], why[96];
		size_t len, tlen;
		uint8_t *bin;
		char *txt, *want, *got;
		struct bitcode_map m;
		size_t l = strlen(de->d_name);

		if (l < 4 || strcmp(de->d_name + l - 4, ".bin"))
			continue;
		snprintf(path, sizeof(path), DATA "%s", de->d_name);
		bin = slurp(path, &len);
		snprintf(path + strlen(path) - 4, 5, ".txt");
		txt = (char *)slurp(path, &tlen);
		cr_assert_eq(bitcode_decode(bin, len, &m, why, sizeof(why)), 0, "%s: %s",
			     de->d_name, why);
		want = canonical(txt);
		got = render(&m);
		cr_assert_str_eq(got, want, "%s", de->d_name);
		/* Every shorter input is refused, and so is one byte more. */
		for (l = 0; l < len; l++) {
			struct bitcode_map cut;

			cr_assert_eq(bitcode_decode(bin, l, &cut, why, sizeof(why)), -EINVAL,
				     "%s cut to %zu", de->d_name, l);
		}
		bin = realloc(bin, len + 1);
		bin[len] = 0;
		{
			struct bitcode_map more;

			cr_assert_eq(bitcode_decode(bin, len + 1, &more, why, sizeof(why)),
				     -EINVAL);
			cr_assert(strstr(why, "Expected EOF"), "%s", why);
		}
		bitcode_map_free(&m);
		free(bin);
		free(txt);
		free(want);
		free(got);
		n++;
	}
	closedir(d);
	cr_assert_geq(n, 20);
}

static void refused(const void *b, size_t n, const char *reason)
{
	struct bitcode_map m;
	char why[96];

	cr_assert_eq(bitcode_decode(b, n, &m, why, sizeof(why)), -EINVAL, "%s", reason);
	cr_assert(strstr(why, reason), "'%s', not '%s'", why, reason);
	cr_assert_null(m.e);
}

Test(bitcode, hostile_inputs_are_refused)
{
	/* Firecracker's own test: the crate says invalid packing. */
	refused("adassafvc", 9, "invalid packing at byte 1");
	refused("", 0, "EOF");
	/* One key of 2 bytes that are not UTF-8, and an overlong '/'. */
	refused("\x01\x02\xc3\x28\x00", 5, "invalid utf8");
	refused("\x01\x02\xc0\xaf\x00", 5, "invalid utf8");
	refused("\x01\x03\xed\xa0\x80\x00", 6, "invalid utf8"); /* a surrogate */
	/* A map claiming 2^40 entries in a few bytes: refused before anything
	 * that size is allocated. */
	refused("\xff\x00\x00\x00\x00\x00\x00\x01\x00\x00", 10, "EOF");
	/* Two lengths whose sum wraps 2^64. */
	refused("\x02\xff\xff\x00\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff",
		20, "length overflow");
	/* One length at bitcode's HUGE_LEN. */
	refused("\xff\x00\x00\x00\x00\x00\x00\x00\x08\x00", 10, "huge length");
	/* Packing headers past the last packing. */
	refused("\x03\x0c\x00\x00\x00", 5, "invalid packing at byte 1");
	refused("\x01\x01\x76\x01\x08", 5, "invalid packing at byte 4");
}

/* --- the loader ------------------------------------------------------------- */

/* A file in the seccompiler's format with one program per entry: lengths
 * as raw bytes (255 and a u64 for a longer one), the u64s as 64-bit values (packings the
 * crate's decoder reads whatever the encoder would have picked). */
struct entry {
	const char *key;
	const uint64_t *insns;
	size_t n;
};

static void put_lengths(FILE *f, const size_t *lens, size_t n)
{
	size_t i, large = 0;

	if (n > 2)
		fputc(0, f);
	for (i = 0; i < n; i++) {
		fputc(lens[i] < 255 ? (int)lens[i] : 255, f);
		large += lens[i] >= 255;
	}
	/* 255 stands for a length among the u64s after them. */
	if (large)
		fputc(0, f);
	for (i = 0; i < n; i++)
		if (lens[i] >= 255) {
			uint64_t v = lens[i];

			fwrite(&v, 8, 1, f);
		}
}

static void write_file(const char *path, const struct entry *e, size_t n)
{
	size_t lens[8], total = 0, i, j;
	FILE *f = fopen(path, "wb");

	cr_assert(f);
	put_lengths(f, &n, 1);
	if (n) {
		for (i = 0; i < n; i++)
			lens[i] = strlen(e[i].key);
		put_lengths(f, lens, n);
		for (i = 0; i < n; i++)
			fputs(e[i].key, f);
		for (i = 0; i < n; i++)
			total += lens[i] = e[i].n;
		put_lengths(f, lens, n);
		if (total)
			fputc(0, f);
		for (i = 0; i < n; i++)
			for (j = 0; j < e[i].n; j++)
				fwrite(&e[i].insns[j], 8, 1, f);
	}
	fclose(f);
}

#define INSN(code, jt, jf, k) \
	((uint64_t)(code) | (uint64_t)(jt) << 16 | (uint64_t)(jf) << 24 | (uint64_t)(k) << 32)

/* Allows everything but close, which fails with EPERM. */
static const uint64_t deny_close[] = {
	INSN(BPF_LD | BPF_W | BPF_ABS, 0, 0, 0),
	INSN(BPF_JMP | BPF_JEQ | BPF_K, 0, 1, SYS_close),
	INSN(BPF_RET | BPF_K, 0, 0, SECCOMP_RET_ERRNO | EPERM),
	INSN(BPF_RET | BPF_K, 0, 0, SECCOMP_RET_ALLOW),
};
static const uint64_t allow_all[] = { INSN(BPF_RET | BPF_K, 0, 0, SECCOMP_RET_ALLOW) };
static const uint64_t no_ret[] = { INSN(BPF_LD | BPF_W | BPF_ABS, 0, 0, 0) };

static char tmp[64];

static void make_tmp(void)
{
	snprintf(tmp, sizeof(tmp), "/tmp/volt-seccomp-file-XXXXXX");
	cr_assert(mkdtemp(tmp));
}

static void remove_tmp(void)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf %s", tmp);
	cr_assert_eq(system(cmd), 0);
}

static int load(const struct entry *e, size_t n)
{
	char path[128];

	snprintf(path, sizeof(path), "%s/f.bpf", tmp);
	write_file(path, e, n);
	return sandbox_seccomp_load_file(path);
}

TestSuite(seccomp_file, .init = make_tmp, .fini = remove_tmp);

Test(seccomp_file, categories_as_firecracker_checks_them)
{
	struct entry ok[] = { { "VMM", allow_all, 1 }, { "api", NULL, 0 }, { "vCpu", NULL, 0 } };
	struct entry other[] = {
		{ "vmm", NULL, 0 }, { "api", NULL, 0 }, { "vcpu", NULL, 0 }, { "foo", NULL, 0 }
	};
	struct entry missing[] = { { "vmm", NULL, 0 }, { "vcpu", NULL, 0 } };
	struct entry twice[] = {
		{ "vmm", NULL, 0 }, { "VMM", NULL, 0 }, { "api", NULL, 0 }, { "vcpu", NULL, 0 }
	};
	struct entry repeated[] = { { "vmm", no_ret, 1 },
				    { "vmm", allow_all, 1 },
				    { "api", NULL, 0 },
				    { "vcpu", NULL, 0 } };

	cr_assert_eq(load(ok, 3), 0);
	cr_assert(sandbox_seccomp_file_loaded());
	cr_assert_eq(load(other, 4), -EINVAL);
	cr_assert_not(sandbox_seccomp_file_loaded());
	cr_assert_eq(load(missing, 2), -EINVAL);
	cr_assert_eq(load(twice, 4), -EINVAL);
	cr_assert_eq(load(NULL, 0), -EINVAL); /* an empty map: every category missing */
	/* The same key twice is serde's map: the last one counts. */
	cr_assert_eq(load(repeated, 4), 0);
}

Test(seccomp_file, programs_the_kernel_refuses_are_refused_first)
{
	static uint64_t big[4096];
	struct entry bad[] = { { "vmm", NULL, 0 }, { "api", no_ret, 1 }, { "vcpu", NULL, 0 } };
	struct entry huge[] = { { "vmm", big, 4096 }, { "api", NULL, 0 }, { "vcpu", NULL, 0 } };
	size_t i;

	cr_assert_eq(load(bad, 3), -EINVAL);
	for (i = 0; i < 4096; i++)
		big[i] = allow_all[0];
	cr_assert_eq(load(huge, 3), -E2BIG);
}

Test(seccomp_file, files_that_are_not_filters)
{
	char path[128];
	int fd;

	cr_assert_eq(sandbox_seccomp_load_file("/nonexistent/f.bpf"), -ENOENT);
	cr_assert_eq(sandbox_seccomp_load_file("/dev/null"), -EINVAL);
	cr_assert_eq(sandbox_seccomp_load_file(tmp), -EINVAL); /* a directory */
	/* A FIFO nobody writes: refused, not waited on. */
	snprintf(path, sizeof(path), "%s/fifo", tmp);
	cr_assert_eq(mkfifo(path, 0600), 0);
	cr_assert_eq(sandbox_seccomp_load_file(path), -EINVAL);
	/* Over Firecracker's 100000 bytes. */
	snprintf(path, sizeof(path), "%s/big", tmp);
	fd = open(path, O_WRONLY | O_CREAT, 0600);
	cr_assert_eq(ftruncate(fd, 100001), 0);
	close(fd);
	cr_assert_eq(sandbox_seccomp_load_file(path), -EFBIG);
	/* Firecracker's test file. */
	snprintf(path, sizeof(path), "%s/invalid", tmp);
	fd = open(path, O_WRONLY | O_CREAT, 0600);
	cr_assert_eq(write(fd, "Invalid BPF!", 12), 12);
	close(fd);
	cr_assert_eq(sandbox_seccomp_load_file(path), -EINVAL);
}

/* In a child: the API kind's filters on, then close and an escape. */
static int run_api_thread(enum sandbox_seccomp_mode mode, bool escape)
{
	struct rlimit no_core = { 0, 0 };
	int status;
	pid_t pid = fork();

	if (!pid) {
		setrlimit(RLIMIT_CORE, &no_core);
		sandbox_set_seccomp_mode(mode);
		if (sandbox_seccomp_prepare() || sandbox_seccomp_enter(SANDBOX_THREAD_API))
			syscall(SYS_exit, 100);
		if (syscall(SYS_close, -1) != -1 || errno != EPERM)
			syscall(SYS_exit, 101);
		if (escape)
			syscall(SYS_setuid, 0); /* on no list of volt's */
		syscall(SYS_exit, 0);
	}
	cr_assert_gt(pid, 0);
	cr_assert_eq(waitpid(pid, &status, 0), pid);
	return status;
}

Test(seccomp_file, its_filters_apply_beside_volts_own)
{
	struct entry e[] = { { "vmm", NULL, 0 },
			     { "api", deny_close, sizeof(deny_close) / 8 },
			     { "vcpu", NULL, 0 } };
	int status;

	cr_assert_eq(load(e, 3), 0);
	/* The file's rule: close fails with EPERM (volt's list allows it). */
	status = run_api_thread(SANDBOX_SECCOMP_KILL, false);
	cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "status %#x", status);
	/* Volt's own list still kills what it does not allow, though the
	 * file's program allows it. */
	status = run_api_thread(SANDBOX_SECCOMP_KILL, true);
	cr_assert(WIFSIGNALED(status) && WTERMSIG(status) == SIGSYS, "status %#x", status);
	/* With volt's own off, the file's program alone. */
	status = run_api_thread(SANDBOX_SECCOMP_OFF, false);
	cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "status %#x", status);
	sandbox_set_seccomp_mode(SANDBOX_SECCOMP_KILL);
}
