/* seccomp_gen OUT.c: compiles every thread kind's list (seccomp_lists.c)
 * with libseccomp, in kill and log mode, and writes the BPF as C arrays
 * (seccomp_bpf.h). Runs at build time only; volt itself never links
 * libseccomp. The pid of the tgkill rule is compiled as SC_BPF_PID_SENTINEL,
 * and the generator fails unless exactly the lists that compare with the pid
 * have the sentinel in their BPF, only as the constant of a jeq. */
#include "sandbox/seccomp_bpf.h"
#include "sandbox/seccomp_lists.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

static int add_list(scmp_filter_ctx ctx, const struct sc_list *l)
{
	size_t i;
	unsigned int c;
	int err = 0;

	for (i = 0; !err && i < l->nrules; i++) {
		const struct sc_rule *r = &l->rules[i];
		struct scmp_arg_cmp cmp[SC_MAX_CONDS];

		for (c = 0; c < r->nconds; c++) {
			uint64_t mask = 0xffffffffu, datum = r->conds[c].value;

			if (r->conds[c].op == SC_CLEAR) {
				mask = r->conds[c].value;
				datum = 0;
			} else if (r->conds[c].op == SC_SET) {
				mask = r->conds[c].value;
			} else if (r->conds[c].op == SC_SELF_PID) {
				datum = SC_BPF_PID_SENTINEL;
			}
			cmp[c] = (struct scmp_arg_cmp){ r->conds[c].arg, SCMP_CMP_MASKED_EQ, mask,
							datum };
		}
		err = seccomp_rule_add_array(
			ctx, r->err ? SCMP_ACT_ERRNO((uint32_t)r->err) : SCMP_ACT_ALLOW, r->nr,
			r->nconds, cmp);
		if (err)
			fprintf(stderr, "seccomp_gen: %s list: cannot add %s: %s\n", l->name,
				r->name, strerror(-err));
	}
	return err;
}

static bool has_pid_rule(const struct sc_list *l)
{
	size_t i;
	unsigned int c;

	for (i = 0; i < l->nrules; i++)
		for (c = 0; c < l->rules[i].nconds; c++)
			if (l->rules[i].conds[c].op == SC_SELF_PID)
				return true;
	return false;
}

/* Writes kind's filter in mode as the array NAME; 0 or -errno. */
static int emit(FILE *out, int kind, int mode, const char *name, struct sc_bpf *info)
{
	scmp_filter_ctx ctx =
		seccomp_init(mode == SC_BPF_LOG ? SCMP_ACT_LOG : SCMP_ACT_KILL_PROCESS);
	struct sock_filter *f;
	int fd = -1, err = -ENOMEM;
	off_t size, i;

	if (!ctx)
		return err;
	/* Only x86-64 system calls: x32 and int 0x80 ones kill in every mode. */
	err = seccomp_attr_set(ctx, SCMP_FLTATR_ACT_BADARCH, SCMP_ACT_KILL_PROCESS);
	if (!err)
		err = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_OPTIMIZE, 2); /* a binary tree */
	if (!err)
		err = add_list(ctx, &sc_lists[kind]);
	if (!err) /* empty unless this is a sanitizer build */
		err = add_list(ctx, &sc_sanitizer_list);
	if (!err && (fd = memfd_create("seccomp-gen", MFD_CLOEXEC)) < 0)
		err = -errno;
	if (!err)
		err = seccomp_export_bpf(ctx, fd);
	seccomp_release(ctx);
	size = err ? 0 : lseek(fd, 0, SEEK_END);
	if (!err &&
	    (size <= 0 || size % (off_t)sizeof(*f) || size / (off_t)sizeof(*f) > BPF_MAXINSNS))
		err = -E2BIG;
	f = err ? NULL : malloc((size_t)size);
	if (!err && (!f || pread(fd, f, (size_t)size, 0) != size))
		err = -EIO;
	if (fd >= 0)
		close(fd);
	if (err) {
		free(f);
		return err;
	}
	info->len = (unsigned short)(size / (off_t)sizeof(*f));
	info->npid = 0;
	fprintf(out, "static const struct sock_filter %s[%u] = {\n", name, info->len);
	for (i = 0; i < info->len; i++) {
		if (f[i].k == SC_BPF_PID_SENTINEL) {
			if (f[i].code != (BPF_JMP | BPF_JEQ | BPF_K)) {
				fprintf(stderr, "seccomp_gen: %s: the pid sentinel outside a jeq\n",
					name);
				free(f);
				return -EINVAL;
			}
			info->npid++;
		}
		fprintf(out, "\t{ 0x%04x, %u, %u, 0x%08x },\n", f[i].code, f[i].jt, f[i].jf,
			f[i].k);
	}
	fprintf(out, "};\n\n");
	free(f);
	if ((info->npid > 0) != has_pid_rule(&sc_lists[kind])) {
		fprintf(stderr, "seccomp_gen: %s: %u pid comparisons in the BPF\n", name,
			info->npid);
		return -EINVAL;
	}
	return 0;
}

int main(int argc, char **argv)
{
	static const char *const modes[SC_BPF_MODES] = { "kill", "log" };
	struct sc_bpf info[SC_BPF_MODES][SANDBOX_THREAD_COUNT];
	char name[64];
	FILE *out;
	int m, k, err = 0;

	if (argc != 2 || !(out = fopen(argv[1], "w"))) {
		fprintf(stderr, "usage: seccomp_gen OUT.c\n");
		return 2;
	}
	fprintf(out, "/* Generated at build time by src/sandbox/seccomp_gen.c from "
		     "seccomp_lists.c: do not edit. */\n#include \"sandbox/seccomp_bpf.h\"\n\n");
	for (m = 0; !err && m < SC_BPF_MODES; m++)
		for (k = 0; !err && k < SANDBOX_THREAD_COUNT; k++) {
			snprintf(name, sizeof(name), "%s_%s", modes[m], sc_lists[k].name);
			err = emit(out, k, m, name, &info[m][k]);
			if (err)
				fprintf(stderr, "seccomp_gen: %s: %s\n", name, strerror(-err));
		}
	fprintf(out, "const struct sc_bpf sc_bpf[SC_BPF_MODES][SANDBOX_THREAD_COUNT] = {\n");
	for (m = 0; !err && m < SC_BPF_MODES; m++) {
		fprintf(out, "\t{\n");
		for (k = 0; k < SANDBOX_THREAD_COUNT; k++)
			fprintf(out, "\t\t{ %s_%s, %u, %u },\n", modes[m], sc_lists[k].name,
				info[m][k].len, info[m][k].npid);
		fprintf(out, "\t},\n");
	}
	fprintf(out, "};\n");
	if (fclose(out) || err) {
		remove(argv[1]);
		return 1;
	}
	return 0;
}
