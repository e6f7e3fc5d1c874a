/* PUT /cpu-config: Firecracker's CustomCpuTemplate parser (cpu_config_json.h). */
#include "api/cpu_config_json.h"

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/json_pos.h"
#include "api/vm_config_json.h"
#include "arch/x86/cpuid.h"
#include "util/why.h"

#define MEMBER(j, k)  (&(struct serde_loc){ j, k, 0, NULL })
#define ELEMENT(a, i) (&(struct serde_loc){ a, NULL, i, NULL })
#define BODY(j)	      (&(struct serde_loc){ NULL, NULL, 0, j })
#define AT(l)	      serde_at(l, JSON_POS_VALUE, at, sizeof(at))
#define CUSTOM(l)     serde_at(l, JSON_POS_CUSTOM, at, sizeof(at))
#define AT_END(j)     json_pos_container_text(j, JSON_POS_END, at, sizeof(at))

/* l: where v is. */
static int type_fail(const json_t *v, const char *expected, const struct serde_loc *l, char *why,
		     size_t why_size)
{
	char got[96], at[48];

	serde_unexpected(v, got, sizeof(got));
	return serde_fail(why, why_size, "invalid type: %s, expected %s%s", got, expected, AT(l));
}

/* Rust's ParseIntError kinds. */
enum int_err { INT_OK, INT_EMPTY, INT_INVALID_DIGIT, INT_POS_OVERFLOW };

static const char *const int_err_debug[] = {
	[INT_EMPTY] = "ParseIntError { kind: Empty }",
	[INT_INVALID_DIGIT] = "ParseIntError { kind: InvalidDigit }",
	[INT_POS_OVERFLOW] = "ParseIntError { kind: PosOverflow }",
};
static const char *const int_err_display[] = {
	[INT_EMPTY] = "cannot parse integer from empty string",
	[INT_INVALID_DIGIT] = "invalid digit found in string",
	[INT_POS_OVERFLOW] = "number too large to fit in target type",
};

/* Rust's from_str_radix for an unsigned type of at most max. */
static enum int_err rust_parse(const char *s, unsigned int radix, uint64_t max, uint64_t *out)
{
	uint64_t v = 0;

	if (!*s)
		return INT_EMPTY;
	if ((s[0] == '+' || s[0] == '-') && !s[1])
		return INT_INVALID_DIGIT;
	if (s[0] == '+')
		s++;
	for (; *s; s++) {
		unsigned int d;

		if (*s >= '0' && *s <= '9')
			d = (unsigned int)(*s - '0');
		else if (*s >= 'a' && *s <= 'z')
			d = (unsigned int)(*s - 'a') + 10;
		else if (*s >= 'A' && *s <= 'Z')
			d = (unsigned int)(*s - 'A') + 10;
		else
			d = 99;
		if (d >= radix)
			return INT_INVALID_DIGIT;
		if (v > (max - d) / radix)
			return INT_POS_OVERFLOW;
		v = v * radix + d;
	}
	*out = v;
	return INT_OK;
}

/* deserialize_from_str_u32: "0x..." or "0b...". */
static int parse_number(const json_t *v, const struct serde_loc *l, uint32_t *out, char *why,
			size_t why_size)
{
	char at[48];
	const char *s;
	unsigned int radix;
	enum int_err e;
	uint64_t n;

	if (!json_is_string(v))
		return type_fail(v, "a string", l, why, why_size);
	s = json_string_value(v);
	if (!strncmp(s, "0b", 2))
		radix = 2;
	else if (!strncmp(s, "0x", 2))
		radix = 16;
	else
		return serde_fail(
			why, why_size,
			"No supported number system prefix found in value [%.64s]. "
			"Make sure to prefix the number with '0x' for hexadecimal numbers "
			"or '0b' for binary numbers.%s",
			s, CUSTOM(l));
	e = rust_parse(s + 2, radix, UINT32_MAX, &n);
	if (e)
		return serde_fail(
			why, why_size,
			"Failed to parse string [%.64s] as a number for CPU template - %s%s", s,
			int_err_debug[e], CUSTOM(l));
	*out = (uint32_t)n;
	return 0;
}

/* RegisterValueFilter's tri-state bitmap of bits bits. */
static int parse_bitmap(const json_t *v, const struct serde_loc *l, unsigned int bits,
			uint64_t *filter, uint64_t *value, char *why, size_t why_size)
{
	char at[48];
	const char *orig, *s;
	size_t len;
	unsigned int i = 0;
	uint64_t f = 0, val = 0;

	if (!json_is_string(v))
		return type_fail(v, "a string", l, why, why_size);
	orig = json_string_value(v);
	s = strncmp(orig, "0b", 2) ? orig : orig + 2;
	for (len = strlen(s); len > 0; len--) {
		unsigned char c = (unsigned char)s[len - 1];

		if (i == bits)
			return serde_fail(why, why_size,
					  "Failed to parse string [%.80s] as a bitmap - string is "
					  "too long%s",
					  orig, CUSTOM(l));
		switch (c) {
		case '_':
			continue;
		case 'x':
			break;
		case '0':
			f |= 1ull << i;
			break;
		case '1':
			f |= 1ull << i;
			val |= 1ull << i;
			break;
		default:
			/* Rust prints the byte (a u8) as a number. */
			return serde_fail(why, why_size,
					  "Failed to parse string [%.80s] as a bitmap - unknown "
					  "character: %u%s",
					  orig, c, CUSTOM(l));
		}
		i++;
	}
	*filter = f;
	*value = val;
	return 0;
}

static int parse_cap(const json_t *v, const struct serde_loc *l, struct ct_kvm_cap *cap, char *why,
		     size_t why_size)
{
	char at[48];
	const char *s;
	enum int_err e;
	uint64_t n;

	if (!json_is_string(v))
		return type_fail(v, "a string", l, why, why_size);
	s = json_string_value(v);
	cap->remove = s[0] == '!';
	e = rust_parse(s + cap->remove, 10, UINT32_MAX, &n);
	if (e)
		return serde_fail(why, why_size,
				  "Failed to parse string [%.64s] as a kvm capability - can not "
				  "convert to numeric: %s%s",
				  s, int_err_display[e], CUSTOM(l));
	cap->cap = (uint32_t)n;
	return 0;
}

static int parse_flags(const json_t *v, const struct serde_loc *l, uint32_t *out, char *why,
		       size_t why_size)
{
	char at[48];
	json_int_t n;

	if (!json_is_integer(v))
		return type_fail(v, "u32", l, why, why_size);
	n = json_integer_value(v);
	if (n < 0 || n > (json_int_t)UINT32_MAX)
		return serde_fail(why, why_size,
				  "invalid value: integer `%" JSON_INTEGER_FORMAT
				  "`, expected u32%s",
				  n, AT(l));
	*out = (uint32_t)n;
	return 0;
}

static int parse_reg_mod(const json_t *j, const struct serde_loc *l, struct ct_reg_mod *m,
			 char *why, size_t why_size)
{
	static const char *const regs[] = { "eax", "ebx", "ecx", "edx" };
	bool has_reg = false, has_bitmap = false;
	char at[48];
	const char *key;
	json_t *v;
	int err;

	if (!json_is_object(j))
		return type_fail(j, "struct CpuidRegisterModifier", l, why, why_size);
	json_object_foreach((json_t *)j, key, v)
	{
		if (!strcmp(key, "register")) {
			const char *s;
			uint8_t r;

			if (!json_is_string(v))
				return type_fail(v, "a string", MEMBER(j, key), why, why_size);
			s = json_string_value(v);
			for (r = 0; r < 4 && strcmp(s, regs[r]); r++)
				;
			if (r == 4)
				return serde_fail(
					why, why_size,
					"Invalid CPUID register. Must be one of [eax, ebx, "
					"ecx, edx]%s",
					CUSTOM(MEMBER(j, key)));
			m->reg = r;
			has_reg = true;
		} else if (!strcmp(key, "bitmap")) {
			uint64_t f = 0, val = 0;

			err = parse_bitmap(v, MEMBER(j, key), 32, &f, &val, why, why_size);
			if (err)
				return err;
			m->filter = (uint32_t)f;
			m->value = (uint32_t)val;
			has_bitmap = true;
		}
		/* serde ignores other fields here (no deny_unknown_fields) */
	}
	if (!has_reg)
		return serde_fail(why, why_size, "missing field `register`%s", AT_END(j));
	if (!has_bitmap)
		return serde_fail(why, why_size, "missing field `bitmap`%s", AT_END(j));
	return 0;
}

static int parse_leaf(const json_t *j, const struct serde_loc *l, struct ct_cpuid_mod *m, char *why,
		      size_t why_size)
{
	bool has_leaf = false, has_subleaf = false, has_flags = false, has_mods = false;
	char at[48];
	const char *key;
	json_t *v, *e;
	size_t i;
	int err = 0;

	if (!json_is_object(j))
		return type_fail(j, "struct CpuidLeafModifier", l, why, why_size);
	json_object_foreach((json_t *)j, key, v)
	{
		if (!strcmp(key, "leaf")) {
			err = parse_number(v, MEMBER(j, key), &m->leaf, why, why_size);
			has_leaf = true;
		} else if (!strcmp(key, "subleaf")) {
			err = parse_number(v, MEMBER(j, key), &m->subleaf, why, why_size);
			has_subleaf = true;
		} else if (!strcmp(key, "flags")) {
			err = parse_flags(v, MEMBER(j, key), &m->flags, why, why_size);
			has_flags = true;
		} else if (!strcmp(key, "modifiers")) {
			if (!json_is_array(v))
				return type_fail(v, "a sequence", MEMBER(j, key), why, why_size);
			m->nmods = 0;
			json_array_foreach(v, i, e)
			{
				if (m->nmods == CT_MAX_REG_MODS)
					return why_fail(
						why, why_size, -EINVAL,
						"cpu-config: volt takes at most %d register "
						"modifiers per CPUID leaf",
						CT_MAX_REG_MODS);
				err = parse_reg_mod(e, ELEMENT(v, i), &m->mods[m->nmods++], why,
						    why_size);
				if (err)
					return err;
			}
			has_mods = true;
		}
		if (err)
			return err;
	}
	if (!has_leaf)
		return serde_fail(why, why_size, "missing field `leaf`%s", AT_END(j));
	if (!has_subleaf)
		return serde_fail(why, why_size, "missing field `subleaf`%s", AT_END(j));
	if (!has_flags)
		return serde_fail(why, why_size, "missing field `flags`%s", AT_END(j));
	if (!has_mods)
		return serde_fail(why, why_size, "missing field `modifiers`%s", AT_END(j));
	return 0;
}

static int parse_msr(const json_t *j, const struct serde_loc *l, struct ct_msr_mod *m, char *why,
		     size_t why_size)
{
	bool has_addr = false, has_bitmap = false;
	char at[48];
	const char *key;
	json_t *v;
	int err = 0;

	if (!json_is_object(j))
		return type_fail(j, "struct RegisterModifier", l, why, why_size);
	json_object_foreach((json_t *)j, key, v)
	{
		if (!strcmp(key, "addr")) {
			err = parse_number(v, MEMBER(j, key), &m->addr, why, why_size);
			has_addr = true;
		} else if (!strcmp(key, "bitmap")) {
			err = parse_bitmap(v, MEMBER(j, key), 64, &m->filter, &m->value, why,
					   why_size);
			has_bitmap = true;
		}
		if (err)
			return err;
	}
	if (!has_addr)
		return serde_fail(why, why_size, "missing field `addr`%s", AT_END(j));
	if (!has_bitmap)
		return serde_fail(why, why_size, "missing field `bitmap`%s", AT_END(j));
	return 0;
}

static int parse(json_t *j, struct custom_cpu_template *t, char *why, size_t why_size)
{
	char at[48];
	const char *key;
	json_t *v, *e;
	size_t i;
	int err = 0;

	if (!json_is_object(j))
		return type_fail(j, "struct CustomCpuTemplate", BODY(j), why, why_size);
	json_object_foreach(j, key, v)
	{
		bool caps = !strcmp(key, "kvm_capabilities");
		bool leaves = !strcmp(key, "cpuid_modifiers");
		bool msrs = !strcmp(key, "msr_modifiers");

		if (!caps && !leaves && !msrs)
			return serde_fail(
				why, why_size,
				"unknown field `%.64s`, expected one of `kvm_capabilities`, "
				"`cpuid_modifiers`, `msr_modifiers`%s",
				key, json_pos_member_text(j, key, JSON_POS_KEY, at, sizeof(at)));
		if (!json_is_array(v))
			return type_fail(v, "a sequence", MEMBER(j, key), why, why_size);
		if (caps) {
			t->ncaps = 0;
			json_array_foreach(v, i, e)
			{
				if (t->ncaps == CT_MAX_CAPS)
					return why_fail(why, why_size, -EINVAL,
							"cpu-config: volt takes at most %d "
							"kvm_capabilities",
							CT_MAX_CAPS);
				err = parse_cap(e, ELEMENT(v, i), &t->caps[t->ncaps++], why,
						why_size);
				if (err)
					return err;
			}
		} else if (leaves) {
			t->nleaves = 0;
			json_array_foreach(v, i, e)
			{
				if (t->nleaves == CT_MAX_LEAVES)
					return why_fail(why, why_size, -EINVAL,
							"cpu-config: volt takes at most %d "
							"cpuid_modifiers",
							CT_MAX_LEAVES);
				memset(&t->leaves[t->nleaves], 0, sizeof(t->leaves[0]));
				err = parse_leaf(e, ELEMENT(v, i), &t->leaves[t->nleaves++], why,
						 why_size);
				if (err)
					return err;
			}
		} else {
			t->nmsrs = 0;
			json_array_foreach(v, i, e)
			{
				if (t->nmsrs == CT_MAX_MSRS)
					return why_fail(why, why_size, -EINVAL,
							"cpu-config: volt takes at most %d "
							"msr_modifiers",
							CT_MAX_MSRS);
				err = parse_msr(e, ELEMENT(v, i), &t->msrs[t->nmsrs++], why,
						why_size);
				if (err)
					return err;
			}
		}
	}
	return 0;
}

int api_parse_cpu_config(json_t *j, struct custom_cpu_template *t, char *why, size_t why_size)
{
	struct custom_cpu_template *n = calloc(1, sizeof(*n));
	int err;

	if (!n)
		return why_fail(why, why_size, -ENOMEM, "cpu-config: out of memory");
	err = parse(j, n, why, why_size);
	if (!err)
		*t = *n;
	free(n);
	return err;
}
