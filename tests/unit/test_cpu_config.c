/* PUT /cpu-config: Firecracker's custom CPU template. Its parser's messages
 * (serde's and templates.rs's / custom_cpu_template.rs's / templates_serde.rs's
 * texts), the bit application of CPUID and MSR modifiers, the KVM
 * capabilities' list, and the API's rules (pre-boot only, one template slot
 * with machine-config's cpu_template, GET /vm/config's null). */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "api/cpu_config_json.h"
#include "api/router.h"
#include "api/vm_config_json.h"
#include "arch/x86/cpuid.h"
#include "arch/x86/custom_template.h"
#include "arch/x86/fc_templates.h"
#include "util/log.h"

#define SERDE "An error occurred when deserializing the json body of a request: "

static struct custom_cpu_template t;

static int parse(const char *text, char *why, size_t size)
{
	json_error_t e;
	json_t *j = json_loads(text, 0, &e);
	int err;

	cr_assert(j, "bad test JSON: %s: %s", text, e.text);
	why[0] = '\0';
	err = api_parse_cpu_config(j, &t, why, size);
	json_decref(j);
	return err;
}

static void ok(const char *text)
{
	char why[512];

	cr_assert_eq(parse(text, why, sizeof(why)), 0, "%s: %s", text, why);
}

static void refused(const char *text, const char *want)
{
	char why[512];

	cr_assert_eq(parse(text, why, sizeof(why)), -EINVAL, "%s: accepted", text);
	cr_assert_str_eq(why, want, "%s: %s", text, why);
}

Test(cpu_config, empty_and_full)
{
	ok("{}");
	cr_assert_eq(t.ncaps + t.nleaves + t.nmsrs, 0);
	ok("{\"kvm_capabilities\": [\"56\", \"!121\"],"
	   " \"cpuid_modifiers\": [{\"leaf\": \"0x1\", \"subleaf\": \"0b0\", \"flags\": 0,"
	   "   \"modifiers\": [{\"register\": \"ecx\","
	   "     \"bitmap\": \"0bxxxxxxxxxxxxxxxxxxxxxxxxxxxxx0x1\"},"
	   "    {\"register\": \"edx\", \"bitmap\": \"0b1_0\"}]},"
	   "  {\"leaf\": \"0x7\", \"subleaf\": \"0x0\", \"flags\": 1, \"modifiers\": []}],"
	   " \"msr_modifiers\": [{\"addr\": \"0x10a\","
	   "   \"bitmap\": "
	   "\"0b0000000000000000000000000000000000000000000000000000000000001xx1\"}]}");
	cr_assert_eq(t.ncaps, 2);
	cr_assert(t.caps[0].cap == 56 && !t.caps[0].remove);
	cr_assert(t.caps[1].cap == 121 && t.caps[1].remove);
	cr_assert_eq(t.nleaves, 2);
	cr_assert_eq(t.leaves[0].leaf, 1);
	cr_assert_eq(t.leaves[0].nmods, 2);
	cr_assert_eq(t.leaves[0].mods[0].reg, CPUID_ECX);
	cr_assert_eq(t.leaves[0].mods[0].filter, 0x5u);
	cr_assert_eq(t.leaves[0].mods[0].value, 0x1u);
	cr_assert_eq(t.leaves[0].mods[1].reg, CPUID_EDX);
	cr_assert_eq(t.leaves[0].mods[1].filter, 0x3u);
	cr_assert_eq(t.leaves[0].mods[1].value, 0x2u);
	cr_assert_eq(t.leaves[1].leaf, 7);
	cr_assert_eq(t.leaves[1].flags, 1);
	cr_assert_eq(t.nmsrs, 1);
	cr_assert_eq(t.msrs[0].addr, 0x10a);
	cr_assert_eq(t.msrs[0].filter, ~0ull & ~0x6ull);
	cr_assert_eq(t.msrs[0].value, 0x9ull);
}

/* Firecracker's TEST_TEMPLATE_JSON (cpu_config/x86_64/test_utils.rs). */
Test(cpu_config, firecracker_test_template)
{
	ok("{\"cpuid_modifiers\": [{\"leaf\": \"0x80000001\", \"subleaf\": \"0x0007\","
	   " \"flags\": 0, \"modifiers\": [{\"register\": \"eax\","
	   " \"bitmap\": \"0bx00100xxx1xxxxxxxxxxxxxxxxxxxxx1\"}]},"
	   " {\"leaf\": \"0x80000002\", \"subleaf\": \"0x0004\", \"flags\": 0,"
	   " \"modifiers\": [{\"register\": \"ebx\", \"bitmap\": \"0bxxx1xxxxxxxxxxxxxxxxxxxxx1\"},"
	   " {\"register\": \"ecx\", \"bitmap\": \"0bx00100xxx1xxxxxxxxxxxxxxxxxxxxx1\"}]}],"
	   " \"msr_modifiers\": [{\"addr\": \"0x0\", \"bitmap\": "
	   "\"0bx00100xxx1xxxx00xxx1xxxxxxxxxxx1\"},"
	   " {\"addr\": \"0x1\", \"bitmap\": \"0bx00111xxx1xxxx111xxxxx101xxxxxx1\"}]}");
	cr_assert_eq(t.leaves[0].leaf, 0x80000001u);
	cr_assert_eq(t.leaves[0].subleaf, 7);
	cr_assert_eq(t.leaves[0].mods[0].filter, 0x7c400001u);
	cr_assert_eq(t.leaves[0].mods[0].value, 0x10400001u);
	/* 26 bits: the 6 missing high bits are 'x'. */
	cr_assert_eq(t.leaves[1].mods[0].filter, 0x00400001u);
}

Test(cpu_config, serde_messages)
{
	refused("[]", SERDE "invalid type: sequence, expected struct CustomCpuTemplate.");
	refused("{\"reg_modifiers\": []}",
		SERDE "unknown field `reg_modifiers`, expected one of `kvm_capabilities`, "
		      "`cpuid_modifiers`, `msr_modifiers`.");
	refused("{\"kvm_capabilities\": null}", SERDE "invalid type: null, expected a sequence.");
	refused("{\"cpuid_modifiers\": {}}", SERDE "invalid type: map, expected a sequence.");
	refused("{\"kvm_capabilities\": [56]}",
		SERDE "invalid type: integer `56`, expected a string.");
	refused("{\"cpuid_modifiers\": [1]}",
		SERDE "invalid type: integer `1`, expected struct CpuidLeafModifier.");
	refused("{\"msr_modifiers\": [\"x\"]}",
		SERDE "invalid type: string \"x\", expected struct RegisterModifier.");
	refused("{\"cpuid_modifiers\": [{\"leaf\": \"0x1\", \"subleaf\": \"0x0\", \"flags\": 0,"
		" \"modifiers\": [true]}]}",
		SERDE "invalid type: boolean `true`, expected struct CpuidRegisterModifier.");
}

Test(cpu_config, missing_fields)
{
	refused("{\"cpuid_modifiers\": [{}]}", SERDE "missing field `leaf`.");
	refused("{\"cpuid_modifiers\": [{\"leaf\": \"0x1\"}]}", SERDE "missing field `subleaf`.");
	refused("{\"cpuid_modifiers\": [{\"leaf\": \"0x1\", \"subleaf\": \"0x0\"}]}",
		SERDE "missing field `flags`.");
	refused("{\"cpuid_modifiers\": [{\"leaf\": \"0x1\", \"subleaf\": \"0x0\", \"flags\": 0}]}",
		SERDE "missing field `modifiers`.");
	refused("{\"cpuid_modifiers\": [{\"leaf\": \"0x1\", \"subleaf\": \"0x0\", \"flags\": 0,"
		" \"modifiers\": [{}]}]}",
		SERDE "missing field `register`.");
	refused("{\"cpuid_modifiers\": [{\"leaf\": \"0x1\", \"subleaf\": \"0x0\", \"flags\": 0,"
		" \"modifiers\": [{\"register\": \"eax\"}]}]}",
		SERDE "missing field `bitmap`.");
	refused("{\"msr_modifiers\": [{\"bitmap\": \"0b1\"}]}", SERDE "missing field `addr`.");
	refused("{\"msr_modifiers\": [{\"addr\": \"0x1\"}]}", SERDE "missing field `bitmap`.");
	/* The inner structs have no deny_unknown_fields: serde ignores these. */
	ok("{\"cpuid_modifiers\": [{\"leaf\": \"0x1\", \"subleaf\": \"0x0\", \"flags\": 0,"
	   " \"modifiers\": [{\"register\": \"eax\", \"bitmap\": \"1\", \"x\": 1}], \"y\": 2}],"
	   " \"msr_modifiers\": [{\"addr\": \"0x1\", \"bitmap\": \"0\", \"z\": null}]}");
}

#define LEAF(l, s, f)                                                                \
	"{\"cpuid_modifiers\": [{\"leaf\": " l ", \"subleaf\": " s ", \"flags\": " f \
	", \"modifiers\": []}]}"

Test(cpu_config, numbers)
{
	refused(LEAF("1", "\"0x0\"", "0"), SERDE "invalid type: integer `1`, expected a string.");
	/* Firecracker's "...binary numbers. at line 1 column 35." without serde's
	 * position: two periods. */
	refused(LEAF("\"1\"", "\"0x0\"", "0"),
		SERDE "No supported number system prefix found in value [1]. Make sure to prefix "
		      "the number with '0x' for hexadecimal numbers or '0b' for binary numbers..");
	refused(LEAF("\"0x\"", "\"0x0\"", "0"),
		SERDE "Failed to parse string [0x] as a number for CPU template - ParseIntError "
		      "{ kind: Empty }.");
	refused(LEAF("\"0x1g\"", "\"0x0\"", "0"),
		SERDE "Failed to parse string [0x1g] as a number for CPU template - ParseIntError "
		      "{ kind: InvalidDigit }.");
	refused(LEAF("\"0b12\"", "\"0x0\"", "0"),
		SERDE "Failed to parse string [0b12] as a number for CPU template - ParseIntError "
		      "{ kind: InvalidDigit }.");
	refused(LEAF("\"0x1\"", "\"0x100000000\"", "0"),
		SERDE "Failed to parse string [0x100000000] as a number for CPU template - "
		      "ParseIntError { kind: PosOverflow }.");
	refused(LEAF("\"0x1\"", "\"0x0\"", "-1"),
		SERDE "invalid value: integer `-1`, expected u32.");
	refused(LEAF("\"0x1\"", "\"0x0\"", "4294967296"),
		SERDE "invalid value: integer `4294967296`, expected u32.");
	refused(LEAF("\"0x1\"", "\"0x0\"", "1.0"),
		SERDE "invalid type: floating point `1.0`, expected u32.");
	refused(LEAF("\"0x1\"", "\"0x0\"", "1.5"),
		SERDE "invalid type: floating point `1.5`, expected u32.");
	refused(LEAF("\"0x1\"", "\"0x0\"", "\"1\""),
		SERDE "invalid type: string \"1\", expected u32.");
	ok(LEAF("\"0xFFFFFFFF\"", "\"0x+1\"", "4294967295"));
	cr_assert_eq(t.leaves[0].leaf, 0xffffffffu);
	cr_assert_eq(t.leaves[0].subleaf, 1);
	refused("{\"msr_modifiers\": [{\"addr\": 16, \"bitmap\": \"0\"}]}",
		SERDE "invalid type: integer `16`, expected a string.");
}

Test(cpu_config, kvm_capabilities)
{
	refused("{\"kvm_capabilities\": [\"\"]}",
		SERDE "Failed to parse string [] as a kvm capability - can not convert to numeric: "
		      "cannot parse integer from empty string.");
	refused("{\"kvm_capabilities\": [\"!x\"]}",
		SERDE "Failed to parse string [!x] as a kvm capability - can not convert to "
		      "numeric: invalid digit found in string.");
	refused("{\"kvm_capabilities\": [\"4294967296\"]}",
		SERDE "Failed to parse string [4294967296] as a kvm capability - can not convert "
		      "to numeric: number too large to fit in target type.");
	refused("{\"kvm_capabilities\": [\"0x10\"]}",
		SERDE "Failed to parse string [0x10] as a kvm capability - can not convert to "
		      "numeric: invalid digit found in string.");
}

#define REG(r, b)                                                                        \
	"{\"cpuid_modifiers\": [{\"leaf\": \"0x1\", \"subleaf\": \"0x0\", \"flags\": 0," \
	" \"modifiers\": [{\"register\": " r ", \"bitmap\": " b "}]}]}"

Test(cpu_config, registers_and_bitmaps)
{
	refused(REG("\"EAX\"", "\"0b1\""),
		SERDE "Invalid CPUID register. Must be one of [eax, ebx, ecx, edx].");
	refused(REG("0", "\"0b1\""), SERDE "invalid type: integer `0`, expected a string.");
	refused(REG("\"eax\"", "1"), SERDE "invalid type: integer `1`, expected a string.");
	refused(REG("\"eax\"", "\"0b10x2\""),
		SERDE "Failed to parse string [0b10x2] as a bitmap - unknown character: 50.");
	refused(REG("\"eax\"", "\"0b1X\""),
		SERDE "Failed to parse string [0b1X] as a bitmap - unknown character: 88.");
	/* 33 bits for a 32-bit register */
	refused(REG("\"eax\"", "\"0b100000000000000000000000000000000\""),
		SERDE "Failed to parse string [0b100000000000000000000000000000000] as a bitmap "
		      "- string is too long.");
	/* Underscores do not count, but one past the last bit is "too long". */
	ok(REG("\"eax\"", "\"0b1000_0000_0000_0000_0000_0000_0000_0001\""));
	cr_assert_eq(t.leaves[0].mods[0].filter, 0xffffffffu);
	cr_assert_eq(t.leaves[0].mods[0].value, 0x80000001u);
	refused(REG("\"eax\"", "\"_00000000000000000000000000000000\""),
		SERDE "Failed to parse string [_00000000000000000000000000000000] as a bitmap - "
		      "string is too long.");
	/* Without 0b, and empty: nothing changes. */
	ok(REG("\"eax\"", "\"\""));
	cr_assert_eq(t.leaves[0].mods[0].filter, 0);
	refused("{\"msr_modifiers\": [{\"addr\": \"0x1\", \"bitmap\": "
		"\"0b10000000000000000000000000000000000000000000000000000000000000000\"}]}",
		SERDE "Failed to parse string "
		      "[0b10000000000000000000000000000000000000000000000000000000000000000] as a "
		      "bitmap - string is too long.");
}

Test(cpu_config, volt_limits_and_all_or_nothing)
{
	char body[8192], why[512];
	int i, n = 0;

	ok("{\"kvm_capabilities\": [\"1\"]}");
	n = snprintf(body, sizeof(body), "{\"kvm_capabilities\": [");
	for (i = 0; i <= CT_MAX_CAPS; i++)
		n += snprintf(body + n, sizeof(body) - (size_t)n, "%s\"%d\"", i ? "," : "", i);
	snprintf(body + n, sizeof(body) - (size_t)n, "]}");
	cr_assert_eq(parse(body, why, sizeof(why)), -EINVAL);
	cr_assert_str_eq(why, "cpu-config: volt takes at most 64 kvm_capabilities");
	/* The earlier template is untouched. */
	cr_assert_eq(t.ncaps, 1);
	cr_assert_eq(t.caps[0].cap, 1);
}

static struct kvm_cpuid2 *table(void)
{
	struct kvm_cpuid2 *c = cpuid_alloc(4);

	cr_assert(c);
	c->nent = 2;
	c->entries[0] = (struct kvm_cpuid_entry2){
		.function = 1, .eax = 0x12345678, .ecx = 0xffff0000, .edx = 0x0000ffff
	};
	c->entries[1] = (struct kvm_cpuid_entry2){
		.function = 7, .index = 0, .flags = 1, .ebx = 0xaaaaaaaa
	};
	return c;
}

Test(cpu_config, apply_cpuid)
{
	struct kvm_cpuid2 *c = table();
	unsigned int bad = 99;

	/* '1' sets, '0' clears, 'x' keeps; modifiers in order; flags replaced. */
	ok("{\"cpuid_modifiers\": [{\"leaf\": \"0x1\", \"subleaf\": \"0x0\", \"flags\": 0,"
	   " \"modifiers\": [{\"register\": \"ecx\", \"bitmap\": \"0b0000xxxx1111\"},"
	   " {\"register\": \"edx\", \"bitmap\": \"0b1x0\"},"
	   " {\"register\": \"edx\", \"bitmap\": \"0b0xx\"}]},"
	   " {\"leaf\": \"0x7\", \"subleaf\": \"0x0\", \"flags\": 0,"
	   " \"modifiers\": [{\"register\": \"ebx\", \"bitmap\": \"0b11111111\"}]}]}");
	cr_assert_eq(ct_apply_cpuid(&t, c, &bad), 0);
	cr_assert_eq(c->entries[0].eax, 0x12345678u);
	cr_assert_eq(c->entries[0].ecx, 0xffff000fu);
	cr_assert_eq(c->entries[0].edx, 0x0000fffau); /* bit2 set then cleared, bit0 cleared */
	cr_assert_eq(c->entries[1].ebx, 0xaaaaaaffu);
	cr_assert_eq(c->entries[1].flags, 0);

	/* A leaf KVM (and volt) do not have: Firecracker's CpuidFeatureNotSupported. */
	ok(LEAF("\"0x7\"", "\"0x1\"", "0"));
	cr_assert_eq(ct_apply_cpuid(&t, c, &bad), -ENOENT);
	cr_assert_eq(bad, 0);
	free(c);
}

Test(cpu_config, apply_bits)
{
	cr_assert_eq(ct_apply32(0xf0f0f0f0, 0xff, 0x0f), 0xf0f0f00f);
	cr_assert_eq(ct_apply64(~0ull, 1ull << 63, 0), ~0ull >> 1);
}

Test(cpu_config, kvm_capabilities_check)
{
	int kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	uint32_t missing = 0;

	if (kvm < 0)
		cr_skip_test("no /dev/kvm");
	/* KVM_CAP_IRQCHIP (0) exists everywhere; 100000 nowhere. */
	ok("{\"kvm_capabilities\": [\"0\"]}");
	cr_assert_eq(ct_check_caps(&t, kvm, &missing), 0);
	ok("{\"kvm_capabilities\": [\"0\", \"100000\"]}");
	cr_assert_eq(ct_check_caps(&t, kvm, &missing), -ENOTSUP);
	cr_assert_eq(missing, 100000);
	/* A later "!N" removes an earlier "N" (Firecracker's combine_capabilities);
	 * "!N" of a capability volt checks itself changes nothing. */
	ok("{\"kvm_capabilities\": [\"100000\", \"!100000\", \"!0\"]}");
	cr_assert_eq(ct_check_caps(&t, kvm, &missing), 0);
	close(kvm);
}

/* --- the API ---------------------------------------------------------------- */

static struct api_state st;
static struct api_response last;
static const struct api_config *started_cfg;

static int f_start(void *ctx, const struct api_config *cfg, bool *undone, char *why, size_t n)
{
	(void)ctx;
	(void)undone;
	(void)why;
	(void)n;
	started_cfg = cfg;
	return 0;
}

static const struct api_ops ops = { .instance_start = f_start };

static void api_setup(void)
{
	log_set_level(LOG_OFF);
	api_state_init(&st, &ops, NULL, "cpu");
}

static int req(const char *method, const char *url, const char *body, char *msg, size_t size)
{
	json_t *j;

	free(last.body);
	api_handle(&st, method, url, body ? body : "", body ? strlen(body) : 0, &last);
	if (msg)
		msg[0] = '\0';
	if (last.body && msg) {
		j = json_loads(last.body, 0, NULL);
		cr_assert(j, "not JSON: %s", last.body);
		if (json_string_value(json_object_get(j, "fault_message")))
			snprintf(msg, size, "%s",
				 json_string_value(json_object_get(j, "fault_message")));
		json_decref(j);
	}
	return last.status;
}

TestSuite(cpu_api, .init = api_setup);

Test(cpu_api, put_before_boot_only)
{
	char msg[512];
	json_t *j;

	cr_assert_eq(req("PUT", "/cpu-config", "{\"kvm_capabilities\": [\"x\"]}", msg, sizeof(msg)),
		     400);
	cr_assert_str_eq(msg, SERDE "Failed to parse string [x] as a kvm capability - can not "
				    "convert to numeric: invalid digit found in string at line 1 "
				    "column 26.");
	cr_assert_not(st.cfg.has_cpu_config);
	cr_assert_eq(req("PUT", "/machine-config",
			 "{\"vcpu_count\": 1, \"mem_size_mib\": 128, \"cpu_template\": \"None\"}",
			 msg, sizeof(msg)),
		     204, "%s", msg);
	cr_assert_eq(req("PUT", "/cpu-config", LEAF("\"0x1\"", "\"0x0\"", "0"), msg, sizeof(msg)),
		     204, "%s", msg);
	cr_assert(st.cfg.has_cpu_config);
	cr_assert_eq(st.cfg.cpu_config.nleaves, 1);
	/* GET /vm/config: null, as Firecracker (VmmConfig's cpu_config: None). */
	cr_assert_eq(req("GET", "/vm/config", NULL, NULL, 0), 200);
	j = json_loads(last.body, 0, NULL);
	cr_assert(j);
	cr_assert(json_is_null(json_object_get(j, "cpu-config")));
	json_decref(j);
	/* A second PUT replaces the first. */
	cr_assert_eq(req("PUT", "/cpu-config", "{}", msg, sizeof(msg)), 204, "%s", msg);
	cr_assert_eq(st.cfg.cpu_config.nleaves, 0);

	cr_assert_eq(req("PUT", "/boot-source", "{\"kernel_image_path\": \"/vmlinux\"}", msg,
			 sizeof(msg)),
		     204, "%s", msg);
	cr_assert_eq(
		req("PUT", "/actions", "{\"action_type\": \"InstanceStart\"}", msg, sizeof(msg)),
		204, "%s", msg);
	cr_assert(started_cfg && started_cfg->has_cpu_config);
	/* After boot: the body is parsed first, as Firecracker's parser does. */
	cr_assert_eq(req("PUT", "/cpu-config", "{\"x\": 1}", msg, sizeof(msg)), 400);
	cr_assert_str_eq(msg, SERDE "unknown field `x`, expected one of `kvm_capabilities`, "
				    "`cpuid_modifiers`, `msr_modifiers` at line 1 column 4.");
	cr_assert_eq(req("PUT", "/cpu-config", "{}", msg, sizeof(msg)), 400);
	cr_assert_str_eq(msg,
			 "The requested operation is not supported after starting the microVM.");
	cr_assert_eq(req("GET", "/cpu-config", NULL, msg, sizeof(msg)), 400);
}

Test(cpu_api, one_template_slot)
{
	char msg[512];

	cr_assert_eq(req("PUT", "/cpu-config", "{}", msg, sizeof(msg)), 204, "%s", msg);
	cr_assert(st.cfg.has_cpu_config);
	/* A machine-config without cpu_template keeps it... */
	cr_assert_eq(req("PATCH", "/machine-config", "{\"vcpu_count\": 2}", msg, sizeof(msg)), 204,
		     "%s", msg);
	cr_assert(st.cfg.has_cpu_config);
	/* ...one with a cpu_template replaces it. */
	cr_assert_eq(
		req("PATCH", "/machine-config", "{\"cpu_template\": \"None\"}", msg, sizeof(msg)),
		204, "%s", msg);
	cr_assert_not(st.cfg.has_cpu_config);
}

Test(cpu_api, config_file)
{
	static struct api_config c;
	char why[512], path[] = "/tmp/volt-cpu-config-XXXXXX";
	json_t *j;
	int fd;

	j = json_loads("{\"boot-source\": {\"kernel_image_path\": \"/vmlinux\"},"
		       " \"machine-config\": {\"vcpu_count\": 1, \"mem_size_mib\": 128},"
		       " \"cpu-config\": {\"msr_modifiers\": [{\"addr\": \"0x10a\", "
		       "\"bitmap\": \"0b1\"}]}}",
		       0, NULL);
	cr_assert(j);
	cr_assert_eq(api_config_from_json(&c, j, why, sizeof(why)), 0, "%s", why);
	cr_assert(c.has_cpu_config);
	cr_assert_eq(c.cpu_config.nmsrs, 1);
	json_decref(j);

	fd = mkstemp(path);
	cr_assert(fd >= 0);
	cr_assert(write(fd, "{\"kvm_capabilities\": [\"!1\"]}", 28) == 28);
	close(fd);
	j = json_pack("{s:{s:s}, s:s}", "boot-source", "kernel_image_path", "/vmlinux",
		      "cpu-config", path);
	cr_assert_eq(api_config_from_json(&c, j, why, sizeof(why)), 0, "%s", why);
	cr_assert(c.has_cpu_config);
	cr_assert(c.cpu_config.ncaps == 1 && c.cpu_config.caps[0].remove);
	json_decref(j);
	unlink(path);

	j = json_loads("{\"boot-source\": {\"kernel_image_path\": \"/vmlinux\"},"
		       " \"cpu-config\": {\"cpuid_modifiers\": 1}}",
		       0, NULL);
	cr_assert_neq(api_config_from_json(&c, j, why, sizeof(why)), 0);
	cr_assert_str_eq(why, "cpu-config: " SERDE "invalid type: integer `1`, expected a "
			      "sequence.");
	json_decref(j);
}

/* The compiled-in static templates are Firecracker's (generated by
 * scripts/gen_fc_cpu_templates.py from a Firecracker checkout, whose
 * tests/data/custom_cpu_templates/ JSON files are not copied here): with
 * FC_CPU_TEMPLATES=<that directory>, they are read back through PUT
 * /cpu-config's parser and compared. */
static void same_template(const char *file, const struct custom_cpu_template *want)
{
	char path[512], why[512], *text;
	json_error_t e;
	json_t *j;
	FILE *f;
	long n;

	snprintf(path, sizeof(path), "%s/%s", getenv("FC_CPU_TEMPLATES"), file);
	f = fopen(path, "r");
	cr_assert(f, "%s", path);
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	rewind(f);
	text = calloc(1, (size_t)n + 1);
	cr_assert(text && fread(text, 1, (size_t)n, f) == (size_t)n);
	fclose(f);
	j = json_loads(text, 0, &e);
	free(text);
	cr_assert(j, "%s: %s", file, e.text);
	cr_assert_eq(api_parse_cpu_config(j, &t, why, sizeof(why)), 0, "%s: %s", file, why);
	json_decref(j);
	cr_assert_eq(t.ncaps, want->ncaps);
	cr_assert_eq(t.nleaves, want->nleaves, "%s", file);
	cr_assert_eq(t.nmsrs, want->nmsrs, "%s", file);
	for (unsigned int i = 0; i < t.nleaves; i++) {
		cr_assert_eq(t.leaves[i].leaf, want->leaves[i].leaf);
		cr_assert_eq(t.leaves[i].subleaf, want->leaves[i].subleaf);
		cr_assert_eq(t.leaves[i].flags, want->leaves[i].flags);
		cr_assert_eq(t.leaves[i].nmods, want->leaves[i].nmods);
		for (unsigned int k = 0; k < t.leaves[i].nmods; k++) {
			cr_assert_eq(t.leaves[i].mods[k].reg, want->leaves[i].mods[k].reg);
			cr_assert_eq(t.leaves[i].mods[k].filter, want->leaves[i].mods[k].filter,
				     "%s leaf 0x%x", file, t.leaves[i].leaf);
			cr_assert_eq(t.leaves[i].mods[k].value, want->leaves[i].mods[k].value);
		}
	}
	for (unsigned int i = 0; i < t.nmsrs; i++) {
		cr_assert_eq(t.msrs[i].addr, want->msrs[i].addr);
		cr_assert_eq(t.msrs[i].filter, want->msrs[i].filter);
		cr_assert_eq(t.msrs[i].value, want->msrs[i].value);
	}
}

Test(cpu_config, static_templates_are_firecrackers)
{
	/* T2S and T2CL set IA32_ARCH_CAPABILITIES (0x10a) whole. */
	cr_assert_eq(fc_template_t2s.nmsrs, 1);
	cr_assert_eq(fc_template_t2s.msrs[0].addr, 0x10a);
	cr_assert_eq(fc_template_t2s.msrs[0].filter, ~0ull);
	if (!getenv("FC_CPU_TEMPLATES"))
		cr_skip_test("FC_CPU_TEMPLATES is not set (a Firecracker checkout's "
			     "tests/data/custom_cpu_templates)");
	same_template("C3.json", &fc_template_c3);
	same_template("T2.json", &fc_template_t2);
	same_template("T2S.json", &fc_template_t2s);
	same_template("T2CL.json", &fc_template_t2cl);
	same_template("T2A.json", &fc_template_t2a);
}
