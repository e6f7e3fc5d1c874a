/* The guest profiler (vmm/profiler.h): sample buffers, the symbol table
 * (sorted by address, looked up by binary search), the initcalls, the report
 * and each vCPU thread's sampling timer. */
#include "vmm/profiler.h"

#include "boot/boot.h"
#include "util/fs.h"
#include "util/log.h"

#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#ifndef sigev_notify_thread_id
#define sigev_notify_thread_id _sigev_un._tid
#endif

/* A size-0 symbol (an assembler label) covers at most this much after it. */
#define LABEL_REACH (1u << 20)
/* Linux's KSYM_NAME_LEN: the longest name a kernel symbol has. */
#define KSYM_NAME_MAX 512
/* Function lookups for the initcall marks, all entries together. */
#define MARK_TRIES_MAX (1u << 16)

struct prof_sym {
	uint64_t addr, size; /* size 0: unknown */
	char *name;
	unsigned int rank; /* lower wins among aliases: functions, then globals */
	bool initcall;
};

struct prof_cpu {
	uint64_t *rip;
	uint32_t n;
	uint64_t dropped, unstarted;
};

struct profiler {
	int ncpus;
	unsigned int hz;
	struct prof_cpu *cpu;
	struct prof_sym *syms;
	size_t nsyms, cap;
	bool ready; /* sorted, aliases gone, initcalls marked */
	char **ic;  /* the __initcall_ entries' names */
	size_t nic, iccap;
	size_t ninitcalls; /* functions marked */
	size_t *by_name;   /* indices of syms sorted by name (once ready) */
	char source[PATH_MAX + 64];
};

struct profiler *profiler_new(int ncpus, unsigned int hz)
{
	struct profiler *p = calloc(1, sizeof(*p));
	int i;

	if (!p)
		return NULL;
	p->ncpus = ncpus;
	p->hz = hz;
	p->cpu = calloc((size_t)ncpus, sizeof(*p->cpu));
	if (!p->cpu)
		goto fail;
	for (i = 0; i < ncpus; i++) {
		/* Untouched pages cost nothing: only what is sampled becomes resident. */
		p->cpu[i].rip = calloc(PROFILER_MAX_SAMPLES, sizeof(uint64_t));
		if (!p->cpu[i].rip)
			goto fail;
	}
	snprintf(p->source, sizeof(p->source), "none");
	return p;
fail:
	profiler_free(p);
	return NULL;
}

void profiler_free(struct profiler *p)
{
	size_t i;

	if (!p)
		return;
	for (i = 0; p->cpu && i < (size_t)p->ncpus; i++)
		free(p->cpu[i].rip);
	free(p->cpu);
	for (i = 0; i < p->nsyms; i++)
		free(p->syms[i].name);
	free(p->syms);
	for (i = 0; i < p->nic; i++)
		free(p->ic[i]);
	free(p->ic);
	free(p->by_name);
	free(p);
}

void profiler_record(struct profiler *p, int cpu, uint64_t rip)
{
	struct prof_cpu *c = &p->cpu[cpu];

	if (rip == PROFILER_UNSTARTED)
		c->unstarted++;
	else if (c->n < PROFILER_MAX_SAMPLES)
		c->rip[c->n++] = rip;
	else
		c->dropped++;
}

/* ---- symbols ----------------------------------------------------------- */

static int add_initcall(struct profiler *p, const char *name)
{
	if (p->nic == p->iccap) {
		size_t cap = p->iccap ? 2 * p->iccap : 256;
		char **n = realloc(p->ic, cap * sizeof(*n));

		if (!n)
			return -ENOMEM;
		p->ic = n;
		p->iccap = cap;
	}
	if (!(p->ic[p->nic] = strdup(name)))
		return -ENOMEM;
	p->nic++;
	return 0;
}

static int add_sym(struct profiler *p, const char *name, uint64_t addr, uint64_t size,
		   unsigned int rank)
{
	struct prof_sym *s;

	if (p->nsyms == p->cap) {
		size_t cap = p->cap ? 2 * p->cap : 1024;
		struct prof_sym *n = realloc(p->syms, cap * sizeof(*n));

		if (!n)
			return -ENOMEM;
		p->syms = n;
		p->cap = cap;
	}
	s = &p->syms[p->nsyms];
	*s = (struct prof_sym){ .addr = addr, .size = size, .rank = rank };
	if (!(s->name = strdup(name)))
		return -ENOMEM;
	p->nsyms++;
	p->ready = false;
	return 0;
}

static bool is_initcall_entry(const char *name)
{
	return !strncmp(name, "__initcall_", 11) && strcmp(name, "__initcall_start") &&
	       strcmp(name, "__initcall_end");
}

int profiler_load_system_map(struct profiler *p, const char *text, size_t len)
{
	const char *line = text, *end = text + len;

	while (line < end) {
		const char *nl = memchr(line, '\n', (size_t)(end - line));
		size_t n = (size_t)((nl ? nl : end) - line);
		char buf[512], name[256], type;
		unsigned long long addr;
		int err = 0;

		if (n < sizeof(buf)) {
			memcpy(buf, line, n);
			buf[n] = 0;
			if (sscanf(buf, "%llx %c %255s", &addr, &type, name) == 3) {
				if (is_initcall_entry(name))
					err = add_initcall(p, name);
				else if (type == 'T' || type == 't' || type == 'W')
					err = add_sym(p, name, addr, 0, type == 'T' ? 0 : 1);
			}
		}
		if (err)
			return err;
		line = nl ? nl + 1 : end;
	}
	return 0;
}

static int elf_sym(void *ctx, const char *name, uint64_t value, uint64_t size, unsigned int type,
		   unsigned int bind, bool exec)
{
	struct profiler *p = ctx;

	/* No kernel symbol is longer (Linux's KSYM_NAME_LEN); a crafted image's
	 * megabyte names, each copied, would cost memory and time for nothing. */
	if (strnlen(name, KSYM_NAME_MAX + 1) > KSYM_NAME_MAX)
		return 0;
	if (is_initcall_entry(name))
		return add_initcall(p, name);
	if (!exec || (type != STT_FUNC && type != STT_NOTYPE))
		return 0;
	return add_sym(p, name, value, size,
		       (type == STT_FUNC ? 0 : 2) + (bind == STB_LOCAL ? 1 : 0));
}

int profiler_load_elf(struct profiler *p, const void *image, size_t size)
{
	size_t before = p->nsyms;
	int err = elf_for_each_symbol(image, size, elf_sym, p);

	if (!err && p->nsyms == before)
		err = -ENOENT; /* a symbol table without code symbols (stripped) */
	return err;
}

static int prepare(struct profiler *p);

static int map_file(const char *path, void **data, size_t *size)
{
	struct stat st;
	/* O_NONBLOCK: a FIFO in the kernel's place must not block the open. */
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK), err = 0;

	if (fd < 0)
		return -errno;
	if (fstat(fd, &st))
		err = -errno;
	else if (!S_ISREG(st.st_mode) || st.st_size == 0)
		err = -EINVAL;
	if (!err) {
		*size = (size_t)st.st_size;
		*data = mmap(NULL, *size, PROT_READ, MAP_PRIVATE, fd, 0);
		if (*data == MAP_FAILED)
			err = -errno;
	}
	close(fd);
	return err;
}

int profiler_load_symbols(struct profiler *p, const char *kernel_path, char *where,
			  size_t where_size)
{
	char map[PATH_MAX];
	const char *slash = strrchr(kernel_path, '/');
	void *data = NULL;
	size_t size = 0;
	int err;

	err = map_file(kernel_path, &data, &size);
	if (!err) {
		err = profiler_load_elf(p, data, size);
		munmap(data, size);
		if (!err) {
			snprintf(p->source, sizeof(p->source), "%s (ELF .symtab)", kernel_path);
			goto done;
		}
	}
	/* A stripped ELF or a bzImage: the System.map a kernel build leaves beside it. */
	if (snprintf(map, sizeof(map), "%.*sSystem.map", slash ? (int)(slash - kernel_path + 1) : 0,
		     kernel_path) >= (int)sizeof(map))
		return -ENAMETOOLONG;
	err = map_file(map, &data, &size);
	if (err)
		return err;
	err = profiler_load_system_map(p, data, size);
	munmap(data, size);
	if (err)
		return err;
	if (!p->nsyms)
		return -ENOENT;
	snprintf(p->source, sizeof(p->source), "%s", map);
done:
	/* Sorted now, before the sandbox (qsort: see sort_rows()). */
	err = prepare(p);
	snprintf(where, where_size, "%s, %zu symbols", p->source, p->nsyms);
	return err;
}

size_t profiler_nsyms(const struct profiler *p)
{
	return p->nsyms;
}

static int leading_underscores(const char *s)
{
	int n = 0;

	while (s[n] == '_')
		n++;
	return n;
}

static int by_addr(const void *a, const void *b)
{
	const struct prof_sym *x = a, *y = b;
	int ux, uy;

	if (x->addr != y->addr)
		return x->addr < y->addr ? -1 : 1;
	if (x->rank != y->rank)
		return x->rank < y->rank ? -1 : 1;
	ux = leading_underscores(x->name);
	uy = leading_underscores(y->name);
	if (ux != uy)
		return ux - uy;
	return strcmp(x->name, y->name);
}

static struct profiler *sort_ctx;

static int by_name(const void *a, const void *b)
{
	return strcmp(sort_ctx->syms[*(const size_t *)a].name,
		      sort_ctx->syms[*(const size_t *)b].name);
}

static struct prof_sym *find_name(struct profiler *p, const char *name, size_t len)
{
	size_t lo = 0, hi = p->nsyms;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		const char *s = p->syms[p->by_name[mid]].name;
		int c = strncmp(s, name, len);

		if (!c && s[len])
			c = 1;
		if (!c)
			return &p->syms[p->by_name[mid]];
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

/* __initcall_<fn><level> or __initcall__kmod_<mod>__<n>_<line>_<fn><level>:
 * the level (0-7 with an optional s, early, rootfs) goes, then the longest
 * tail that starts after an underscore and names a function is fn. Each
 * try is a lookup; *tries bounds them over all entries (a kernel's ~1500
 * initcalls take a few each; a crafted image's could take millions). */
static void mark_initcall(struct profiler *p, const char *entry, size_t *tries)
{
	const char *s = entry + 11;
	size_t len = strlen(s), i;

	if (len > 5 && !strcmp(s + len - 5, "early"))
		len -= 5;
	else if (len > 6 && !strcmp(s + len - 6, "rootfs"))
		len -= 6;
	else if (len > 2 && s[len - 1] == 's' && s[len - 2] >= '0' && s[len - 2] <= '9')
		len -= 2;
	else if (len > 1 && s[len - 1] >= '0' && s[len - 1] <= '9')
		len -= 1;
	else
		return;
	for (i = 0; i < len; i++) {
		struct prof_sym *f;

		if ((i && s[i - 1] != '_') || s[i] == '_')
			continue;
		if (!*tries)
			return;
		--*tries;
		f = find_name(p, s + i, len - i);
		if (f) {
			f->initcall = true;
			return;
		}
	}
}

/* Sorts by address, drops aliases (the best-ranked name stays), then marks
 * the initcalls. Runs once, before the first lookup. */
static int prepare(struct profiler *p)
{
	size_t i, n = 0, tries;

	if (p->ready)
		return 0;
	if (p->nsyms)
		qsort(p->syms, p->nsyms, sizeof(p->syms[0]), by_addr);
	for (i = 0; i < p->nsyms; i++) {
		if (n && p->syms[n - 1].addr == p->syms[i].addr) {
			if (!p->syms[n - 1].size)
				p->syms[n - 1].size = p->syms[i].size;
			free(p->syms[i].name);
			continue;
		}
		p->syms[n++] = p->syms[i];
	}
	p->nsyms = n;
	free(p->by_name);
	p->by_name = malloc((n ? n : 1) * sizeof(size_t));
	if (!p->by_name)
		return -ENOMEM;
	for (i = 0; i < n; i++)
		p->by_name[i] = i;
	sort_ctx = p;
	if (n)
		qsort(p->by_name, n, sizeof(size_t), by_name);
	for (i = 0, tries = MARK_TRIES_MAX; i < p->nic; i++)
		mark_initcall(p, p->ic[i], &tries);
	for (i = 0, p->ninitcalls = 0; i < n; i++)
		p->ninitcalls += p->syms[i].initcall;
	p->ready = true;
	return 0;
}

/* The index of the symbol holding addr, or -1. */
static long find_addr(struct profiler *p, uint64_t addr)
{
	size_t lo = 0, hi = p->nsyms;
	const struct prof_sym *s;

	if (prepare(p))
		return -1;
	while (lo < hi) { /* the first symbol above addr */
		size_t mid = lo + (hi - lo) / 2;

		if (p->syms[mid].addr <= addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (!lo)
		return -1;
	s = &p->syms[lo - 1];
	if (addr - s->addr >= (s->size ? s->size : LABEL_REACH))
		return -1;
	return (long)(lo - 1);
}

const char *profiler_lookup(struct profiler *p, uint64_t addr, uint64_t *offset)
{
	long i = find_addr(p, addr);

	if (i < 0)
		return NULL;
	if (offset)
		*offset = addr - p->syms[i].addr;
	return p->syms[i].name;
}

bool profiler_is_initcall(struct profiler *p, const char *name)
{
	struct prof_sym *s;

	if (prepare(p))
		return false;
	s = find_name(p, name, strlen(name));
	return s && s->initcall;
}

/* ---- the report -------------------------------------------------------- */

struct row {
	long sym; /* -1: unknown, -2: user */
	uint64_t samples;
	uint64_t span; /* initcalls: first to last of their samples on one vCPU */
};

/* Shell sort of the report's rows. Not qsort(): after the sandbox is on,
 * glibc's qsort of more than 1 KiB asks the kernel for the memory size
 * (sysinfo) the first time, a system call no thread's allow-list has. */
static void sort_rows(struct row *r, size_t n, int (*cmp)(const void *, const void *))
{
	static const size_t gaps[] = { 1750, 701, 301, 132, 57, 23, 10, 4, 1 };
	size_t g, i, j;

	for (g = 0; g < sizeof(gaps) / sizeof(gaps[0]); g++) {
		size_t gap = gaps[g];

		for (i = gap; i < n; i++) {
			struct row t = r[i];

			for (j = i; j >= gap && cmp(&r[j - gap], &t) > 0; j -= gap)
				r[j] = r[j - gap];
			r[j] = t;
		}
	}
}

static int by_samples(const void *a, const void *b)
{
	const struct row *x = a, *y = b;

	if (x->samples != y->samples)
		return x->samples > y->samples ? -1 : 1;
	return x->sym < y->sym ? -1 : x->sym > y->sym;
}

static int by_span(const void *a, const void *b)
{
	const struct row *x = a, *y = b;

	if (x->span != y->span)
		return x->span > y->span ? -1 : 1;
	return by_samples(a, b);
}

static const char *row_name(const struct profiler *p, const struct row *r)
{
	return r->sym == -2 ? "[user]" : r->sym == -1 ? "[unknown]" : p->syms[r->sym].name;
}

void profiler_report(struct profiler *p, FILE *f, int top)
{
	uint64_t total = 0, dropped = 0, unstarted = 0, *count = NULL;
	uint32_t *first = NULL, *last = NULL;
	struct row *rows = NULL;
	size_t nrows = 0, i, nsyms;
	double ms = 1000.0 / p->hz;
	int c;

	prepare(p);
	nsyms = p->nsyms;
	for (c = 0; c < p->ncpus; c++) {
		total += p->cpu[c].n;
		dropped += p->cpu[c].dropped;
		unstarted += p->cpu[c].unstarted;
	}
	fprintf(f, "volt profile: %llu samples at %u Hz on %d vCPU%s (%.1f s of vCPU time)",
		(unsigned long long)total, p->hz, p->ncpus, p->ncpus == 1 ? "" : "s",
		(double)total / p->hz);
	if (dropped)
		fprintf(f, ", %llu dropped (buffer full)", (unsigned long long)dropped);
	if (unstarted)
		fprintf(f, ", %llu more of vCPUs not started yet (real mode)",
			(unsigned long long)unstarted);
	fprintf(f, "\nsymbols: %s (%zu functions, %zu initcalls)\n", p->source, nsyms,
		p->ninitcalls);
	if (!total)
		return;
	/* count[nsyms] is [unknown], count[nsyms + 1] is [user]. */
	count = calloc(nsyms + 2, sizeof(*count));
	rows = calloc(nsyms + 2, sizeof(*rows));
	first = malloc((nsyms + 1) * sizeof(*first));
	last = calloc(nsyms + 1, sizeof(*last));
	if (!count || !rows || !first || !last) {
		fprintf(f, "(out of memory for the report)\n");
		goto out;
	}
	for (i = 0; i < nsyms; i++)
		rows[i].sym = (long)i;
	for (c = 0; c < p->ncpus; c++) {
		const struct prof_cpu *pc = &p->cpu[c];
		uint32_t k;

		memset(first, 0xff, (nsyms + 1) * sizeof(*first));
		for (k = 0; k < pc->n; k++) {
			long s = pc->rip[k] == PROFILER_USER ? -2 : find_addr(p, pc->rip[k]);

			count[s >= 0 ? (size_t)s : s == -1 ? nsyms : nsyms + 1]++;
			if (s < 0 || !p->syms[s].initcall)
				continue;
			if (first[s] == UINT32_MAX)
				first[s] = k;
			last[s] = k;
		}
		for (i = 0; i < nsyms; i++)
			if (first[i] != UINT32_MAX && last[i] - first[i] + 1u > rows[i].span)
				rows[i].span = last[i] - first[i] + 1u;
	}
	/* Functions, with [unknown] and [user] as two more. */
	for (i = 0; i < nsyms + 2; i++) {
		if (!count[i])
			continue;
		rows[nrows] = rows[i];
		rows[nrows].sym = i < nsyms ? (long)i : i == nsyms ? -1 : -2;
		rows[nrows].samples = count[i];
		nrows++;
	}
	sort_rows(rows, nrows, by_samples);
	fprintf(f, "\ntop functions:\n%10s %6s %10s  %s\n", "samples", "%", "ms", "function");
	for (i = 0; i < nrows && (top <= 0 || i < (size_t)top); i++)
		fprintf(f, "%10llu %6.2f %10.1f  %s\n", (unsigned long long)rows[i].samples,
			100.0 * (double)rows[i].samples / (double)total,
			(double)rows[i].samples * ms, row_name(p, &rows[i]));
	if (nrows > (size_t)top && top > 0)
		fprintf(f, "%10s (%zu more functions)\n", "", nrows - (size_t)top);
	/* Initcalls: self is their own code; span runs from their first sample
	 * to their last on one vCPU, callees included (initcalls run one at a time). */
	for (i = 0, c = 0; i < nrows; i++)
		if (rows[i].sym >= 0 && p->syms[rows[i].sym].initcall)
			rows[c++] = rows[i];
	if (!c) {
		fprintf(f, "\ninitcalls: none sampled%s\n",
			p->nic ? "" : " (no __initcall_ entries among the symbols)");
		goto out;
	}
	sort_rows(rows, (size_t)c, by_span);
	fprintf(f,
		"\ninitcalls (self: samples in its own code; span: its first to its last "
		"sample, callees included):\n%10s %10s %10s  %s\n",
		"self", "span", "span ms", "initcall");
	for (i = 0; i < (size_t)c && (top <= 0 || i < (size_t)top); i++)
		fprintf(f, "%10llu %10llu %10.1f  %s\n", (unsigned long long)rows[i].samples,
			(unsigned long long)rows[i].span, (double)rows[i].span * ms,
			row_name(p, &rows[i]));
	if (c > top && top > 0)
		fprintf(f, "%10s (%d more initcalls)\n", "", c - top);
out:
	free(count);
	free(rows);
	free(first);
	free(last);
}

int profiler_write_samples(struct profiler *p, int fd)
{
	char buf[16384];
	size_t len = 0;
	int c, err;

	prepare(p);
	for (c = 0; c < p->ncpus; c++) {
		const struct prof_cpu *pc = &p->cpu[c];
		uint32_t k;

		for (k = 0; k < pc->n; k++) {
			uint64_t rip = pc->rip[k];
			long s = rip == PROFILER_USER ? -2 : find_addr(p, rip);

			if (sizeof(buf) - len < 400) {
				if ((err = write_all(fd, buf, len)))
					return err;
				len = 0;
			}
			if (s >= 0)
				len += (size_t)snprintf(
					buf + len, sizeof(buf) - len, "%d 0x%llx %.300s+0x%llx\n",
					c, (unsigned long long)rip, p->syms[s].name,
					(unsigned long long)(rip - p->syms[s].addr));
			else
				len += (size_t)snprintf(
					buf + len, sizeof(buf) - len, "%d 0x%llx %s\n", c,
					(unsigned long long)rip, s == -2 ? "[user]" : "[unknown]");
		}
	}
	return write_all(fd, buf, len);
}

/* ---- the timer --------------------------------------------------------- */

int profiler_timer_start(timer_t *timer, unsigned int hz)
{
	struct sigevent sev = { .sigev_notify = SIGEV_THREAD_ID, .sigev_signo = PROFILER_SIGNAL };
	long ns = 1000000000L / (long)(hz ? hz : 1);
	struct itimerspec its = {
		.it_interval = { ns / 1000000000L, ns % 1000000000L },
		.it_value = { ns / 1000000000L, ns % 1000000000L },
	};

	sev.sigev_notify_thread_id = gettid();
	if (timer_create(CLOCK_MONOTONIC, &sev, timer))
		return -errno;
	if (timer_settime(*timer, 0, &its, NULL)) {
		int err = -errno;

		timer_delete(*timer);
		return err;
	}
	return 0;
}

void profiler_timer_stop(timer_t timer)
{
	timer_delete(timer);
}
