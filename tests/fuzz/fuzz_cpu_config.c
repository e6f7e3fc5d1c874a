/* libFuzzer target: Firecracker's custom CPU template parser
 * (api/cpu_config_json.c, PUT /cpu-config and the configuration file's
 * "cpu-config") and the template's application to a CPUID table.
 *
 * Input: any bytes, parsed as JSON first (as the API does with a body).
 * Checked: a refusal always says why and leaves the template untouched (the
 * parser is all or nothing); an accepted template stays within the array
 * limits of struct custom_cpu_template and applies to a CPUID table holding
 * a few of its leaves without reading or writing past the table. */
#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "api/cpu_config_json.h"
#include "arch/x86/custom_template.h"

#define FUZZ_CPUID_ENTRIES 16

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_apply(const struct custom_cpu_template *t)
{
	struct kvm_cpuid2 *c =
		calloc(1, sizeof(*c) + FUZZ_CPUID_ENTRIES * sizeof(struct kvm_cpuid_entry2));
	unsigned int bad = 0;

	if (!c)
		return;
	/* Every other leaf of the template is present, so that both the
	 * applied and the missing-leaf paths run. */
	for (unsigned int i = 0; i < t->nleaves && c->nent < FUZZ_CPUID_ENTRIES; i += 2) {
		struct kvm_cpuid_entry2 *e = &c->entries[c->nent++];

		e->function = t->leaves[i].leaf;
		e->index = t->leaves[i].subleaf;
		e->eax = e->ebx = e->ecx = e->edx = 0xa5a5a5a5u;
	}
	if (ct_apply_cpuid(t, c, &bad) != 0 && bad >= t->nleaves)
		abort();
	free(c);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct custom_cpu_template t, untouched;
	json_error_t err;
	char why[512];
	json_t *j = json_loadb((const char *)data, size, JSON_DECODE_ANY, &err);

	if (!j)
		return 0;
	memset(&t, 0x5a, sizeof(t));
	memcpy(&untouched, &t, sizeof(t));
	why[0] = '\0';
	if (api_parse_cpu_config(j, &t, why, sizeof(why)) != 0) {
		if (!why[0] || memcmp(&t, &untouched, sizeof(t)) != 0)
			abort();
	} else {
		if (t.ncaps > CT_MAX_CAPS || t.nleaves > CT_MAX_LEAVES || t.nmsrs > CT_MAX_MSRS)
			abort();
		for (unsigned int i = 0; i < t.nleaves; i++)
			if (t.leaves[i].nmods > CT_MAX_REG_MODS)
				abort();
		check_apply(&t);
	}
	json_decref(j);
	return 0;
}
