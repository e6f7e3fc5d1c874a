/* `volt cpuid`: prints KVM's supported CPUID table (--supported), or the
 * normalized table for one vCPU as KVM holds it after KVM_SET_CPUID2 (read
 * back with KVM_GET_CPUID2 from a throwaway VM). On a PVM host the guest's
 * ring 0 sees host bits OR'ed in, so the read-back table is the only place
 * where what volt configured can be checked. */
#include "cli/commands.h"

#include "cli/opt.h"
#include "api/cpu_config_json.h"
#include "api/vm_config_json.h"
#include "arch/x86/cpuid.h"
#include "arch/x86/custom_template.h"
#include "util/fs.h"
#include "core/kvm.h"
#include "util/parse.h"

#include "core/host.h"
#include "util/log.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#define CMD_MAX_CPUS 32

static const struct cli_opt cpuid_opts[] = {
	{ .name = "cpus",
	  .code = 'c',
	  .value = true,
	  .arg = "N",
	  .help = "vCPUs in the VM (1-32, default 1)" },
	{ .name = "smt",
	  .code = 'S',
	  .help = "two threads per core (Firecracker's smt; N must be 1 or even)" },
	{ .name = "cpu-index",
	  .code = 'i',
	  .value = true,
	  .arg = "I",
	  .help = "the vCPU whose table is shown (0 to N-1, default 0)" },
	{ .name = "template",
	  .code = 't',
	  .value = true,
	  .arg = "NAME",
	  .help = "CPU template (none, C3, T2, T2S, T2CL, T2A, minimal; default none)" },
	{ .name = "cpu-config",
	  .code = 'C',
	  .value = true,
	  .arg = "FILE",
	  .help = "a Firecracker custom CPU template (PUT /cpu-config's JSON), applied "
		  "after the normalization" },
	{ .name = "supported",
	  .code = 's',
	  .help = "KVM_GET_SUPPORTED_CPUID as KVM reports it, not normalized" },
	{ .name = "raw",
	  .code = 'r',
	  .help = "entries only, without the leading '#' comment line" },
	{ .name = "help", .code = 'h', .hidden = true },
	{ .name = NULL },
};

/* --cpu-config: the file's template into *t (static: it is large). */
static int load_cpu_config(const char *path, struct custom_cpu_template *t)
{
	char why[512], *text;
	size_t len;
	json_t *j;
	int err;

	/* read_input says what a FIFO or a device is, not "Invalid argument". */
	err = read_input(path, 1 << 20, &text, &len, why, sizeof(why));
	if (err) {
		pr_err("--cpu-config: cannot read '%s': %s", path, why);
		return err;
	}
	j = api_json_parse(text, len, why, sizeof(why));
	free(text);
	if (!j) {
		pr_err("--cpu-config '%s': %s", path, why);
		return -EINVAL;
	}
	err = api_parse_cpu_config(j, t, why, sizeof(why));
	json_decref(j);
	if (err)
		pr_err("--cpu-config '%s': %s", path, why);
	return err;
}

static void usage(FILE *f)
{
	cli_opt_usage(
		f, "cpuid", cpuid_opts,
		"Prints one line per entry: FUNCTION INDEX eax=.. ebx=.. ecx=.. edx=.. (hex).\n");
}

/* Sets c on a fresh vCPU of a fresh VM and reads back what KVM holds into
 * out (capacity max). The VM has the in-kernel irqchip, as volt's do, so that
 * KVM's runtime bits (APIC in leaf 0x1) come out as a real vCPU's would. */
static int kvm_roundtrip(int kvm_fd, unsigned int cpu_index, const struct kvm_cpuid2 *c,
			 struct kvm_cpuid2 *out, unsigned int max)
{
	int vm_fd, vcpu_fd = -1, err = 0;
	const char *what;

	vm_fd = ioctl(kvm_fd, KVM_CREATE_VM, 0);
	if (vm_fd < 0) {
		err = -errno;
		pr_err("KVM_CREATE_VM: %s", strerror(errno));
		return err;
	}
	if (ioctl(vm_fd, KVM_CREATE_IRQCHIP, 0)) {
		what = "KVM_CREATE_IRQCHIP";
		goto fail;
	}
	/* The vCPU id is the APIC id, as in the VM volt boots. */
	vcpu_fd = ioctl(vm_fd, KVM_CREATE_VCPU, (unsigned long)cpu_index);
	if (vcpu_fd < 0) {
		what = "KVM_CREATE_VCPU";
		goto fail;
	}
	if (ioctl(vcpu_fd, KVM_SET_CPUID2, c)) {
		what = "KVM_SET_CPUID2";
		goto fail;
	}
	err = kvm_get_cpuid2(vcpu_fd, out, max);
	if (err) {
		errno = -err;
		what = "KVM_GET_CPUID2";
		goto fail;
	}
	goto out;
fail:
	err = -errno;
	pr_err("%s: %s", what, strerror(errno));
out:
	if (vcpu_fd >= 0)
		close(vcpu_fd);
	close(vm_fd);
	return err;
}

int cpuid_cmd(int argc, char **argv)
{
	struct option longopts[CLI_OPT_MAX + 1];
	const struct cpuid_template *t = cpuid_template_find("none");
	unsigned int ncpus = 1, cpu_index = 0, max;
	bool supported = false, raw = false, smt = false, pvm;
	struct kvm_cpuid2 *c = NULL, *back = NULL;
	static struct custom_cpu_template custom;
	bool has_custom = false;
	unsigned int bad = 0;
	int opt, kvm_fd, err;

	err = cli_opt_longopts(cpuid_opts, longopts);
	if (err)
		return err;
	optind = 1;
	while ((opt = getopt_long(argc, argv, "c:i:t:C:Ssrh", longopts, NULL)) != -1) {
		switch (opt) {
		case 'c':
			if (parse_uint(optarg, 1, CMD_MAX_CPUS, &ncpus)) {
				pr_err("--cpus: '%s' is not a number from 1 to %d", optarg,
				       CMD_MAX_CPUS);
				return -EINVAL;
			}
			break;
		case 'i':
			if (parse_uint(optarg, 0, CMD_MAX_CPUS - 1, &cpu_index)) {
				pr_err("--cpu-index: '%s' is not a number from 0 to %d", optarg,
				       CMD_MAX_CPUS - 1);
				return -EINVAL;
			}
			break;
		case 't':
			t = cpuid_template_find(optarg);
			if (!t) {
				pr_err("unknown CPU template '%s' (known: %s)", optarg,
				       cpuid_template_names());
				return -EINVAL;
			}
			break;
		case 'C':
			err = load_cpu_config(optarg, &custom);
			if (err)
				return err;
			has_custom = true;
			break;
		case 'S':
			smt = true;
			break;
		case 's':
			supported = true;
			break;
		case 'r':
			raw = true;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return -EINVAL;
		}
	}
	if (optind < argc) {
		pr_err("unexpected argument '%s'", argv[optind]);
		usage(stderr);
		return -EINVAL;
	}
	if (smt && ncpus > 1 && ncpus % 2) {
		pr_err("--cpus %u with --smt: the vCPUs must be 1 or an even number", ncpus);
		return -EINVAL;
	}
	if (cpu_index >= ncpus) {
		pr_err("--cpu-index %u is out of range: the VM has %u vCPU%s (0 to %u)", cpu_index,
		       ncpus, ncpus == 1 ? "" : "s", ncpus - 1);
		return -EINVAL;
	}

	kvm_fd = kvm_open();
	if (kvm_fd < 0)
		return kvm_fd;
	err = cpuid_kvm_supported(kvm_fd, &c, &max);
	if (err) {
		pr_err("KVM_GET_SUPPORTED_CPUID: %s", strerror(-err));
		goto out;
	}
	if (supported) {
		if (!raw)
			printf("# KVM_GET_SUPPORTED_CPUID\n");
		cpuid_fprint(stdout, c);
		goto out;
	}

	pvm = host_is_pvm();
	err = cpuid_normalize(c, max, cpu_index, ncpus, smt, t, pvm);
	if (err) {
		pr_err("cannot normalize the CPUID table: %s", strerror(-err));
		goto out;
	}
	if (has_custom && (err = ct_apply_cpuid(&custom, c, &bad))) {
		pr_err("--cpu-config: Template changes a CPUID entry not supported by KVM: Leaf: "
		       "%x, Subleaf: %x",
		       custom.leaves[bad].leaf, custom.leaves[bad].subleaf);
		goto out;
	}
	back = cpuid_alloc(max);
	if (!back) {
		err = -ENOMEM;
		pr_err("out of memory");
		goto out;
	}
	err = kvm_roundtrip(kvm_fd, cpu_index, c, back, max);
	if (err)
		goto out;
	if (!raw)
		printf("# KVM_GET_CPUID2: vCPU %u of %u, template %s%s, %s host\n", cpu_index,
		       ncpus, cpuid_template_name(t), has_custom ? " + cpu-config" : "",
		       pvm ? "PVM" : "VT");
	cpuid_fprint(stdout, back);
out:
	free(back);
	free(c);
	close(kvm_fd);
	return err;
}
