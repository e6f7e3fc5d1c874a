/* serde_derive's and serde_json's rules for a body (api/serde_body.h), as
 * their sources say: serde_json's de.rs (which primitive deserializer
 * reports where), serde's de/mod.rs (the words), serde_derive (a struct's
 * map and sequence forms). */
#include "api/serde_body.h"

#include "util/why.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Deep enough for Firecracker's bodies (a rate limiter's bucket is 3 down);
 * jansson's own limit is 2048. */
#define SERDE_MAX_DEPTH 32
#define SERDE_MAX_NAMES 16

const char *serde_at(const struct serde_loc *loc, enum json_pos_at at, char *buf, size_t size)
{
	if (!loc->parent)
		return json_pos_container_text(loc->value, at, buf, size);
	return loc->key ? json_pos_member_text(loc->parent, loc->key, at, buf, size)
			: json_pos_element_text(loc->parent, loc->index, at, buf, size);
}

/* Rust's {:?} of a str, as serde's Unexpected::Str shows it: the quotes, \"
 * \\ \t \r \n \0 escaped, other control characters as \u{..}; cut to fit. */
static void rust_debug_str(const char *s, size_t len, char *buf, size_t size)
{
	size_t used = 0, i;

	if (size < 8) {
		snprintf(buf, size, "%s", "\"\"");
		return;
	}
	buf[used++] = '"';
	for (i = 0; i < len && used + 12 < size; i++) {
		unsigned char c = (unsigned char)s[i];
		const char *esc = c == '"'    ? "\\\""
				  : c == '\\' ? "\\\\"
				  : c == '\t' ? "\\t"
				  : c == '\r' ? "\\r"
				  : c == '\n' ? "\\n"
				  : c == 0    ? "\\0"
					      : NULL;

		if (esc)
			used += (size_t)snprintf(buf + used, size - used, "%s", esc);
		else if (c < 0x20 || c == 0x7f)
			used += (size_t)snprintf(buf + used, size - used, "\\u{%x}", c);
		else
			buf[used++] = (char)c;
	}
	if (i < len)
		used += (size_t)snprintf(buf + used, size - used, "...");
	snprintf(buf + used, size - used, "\"");
}

/* serde_json's float text (zmij's): the shortest digits that read back;
 * fixed from 1e-5 to below 1e16 (1.5, 100.0, 0.001), else 1e+20, 1.5e-7. */
static void serde_float(double d, char *buf, size_t size)
{
	char e[40], digits[24];
	int prec, exp10, len = 0;
	const char *sign = signbit(d) ? "-" : "";

	if (d == 0) {
		snprintf(buf, size, "%s0.0", sign);
		return;
	}
	for (prec = 0; prec < 17; prec++) {
		snprintf(e, sizeof(e), "%.*e", prec, fabs(d));
		if (strtod(e, NULL) == fabs(d))
			break;
	}
	/* e is "D.DDDDe[+-]XX": the digits, and the leading one's exponent */
	for (const char *p = e; *p && *p != 'e'; p++)
		if (*p != '.' && len < (int)sizeof(digits) - 1)
			digits[len++] = *p;
	digits[len] = '\0';
	exp10 = atoi(strchr(e, 'e') + 1);
	if (exp10 < -5 || exp10 > 15)
		snprintf(buf, size, "%s%c%s%se%s%d", sign, digits[0], len > 1 ? "." : "",
			 digits + 1, exp10 >= 0 ? "+" : "", exp10);
	else if (len - 1 <= exp10) /* 1234e7 -> 12340000000.0 */
		snprintf(buf, size, "%s%s%.*s.0", sign, digits, exp10 + 1 - len, "000000000000000");
	else if (exp10 >= 0) /* 1234e-2 -> 12.34 */
		snprintf(buf, size, "%s%.*s.%s", sign, exp10 + 1, digits, digits + exp10 + 1);
	else /* 1234e-6 -> 0.001234 */
		snprintf(buf, size, "%s0.%.*s%s", sign, -exp10 - 1, "0000", digits);
}

void serde_unexpected(const json_t *v, char *buf, size_t size)
{
	char text[48];

	switch (v ? json_typeof(v) : JSON_NULL) {
	case JSON_STRING: {
		char quoted[160];

		rust_debug_str(json_string_value(v), json_string_length(v), quoted, sizeof(quoted));
		snprintf(buf, size, "string %s", quoted);
		break;
	}
	case JSON_INTEGER:
		snprintf(buf, size, "integer `%" JSON_INTEGER_FORMAT "`", json_integer_value(v));
		break;
	case JSON_REAL:
		serde_float(json_real_value(v), text, sizeof(text));
		snprintf(buf, size, "floating point `%s`", text);
		break;
	case JSON_TRUE:
	case JSON_FALSE:
		snprintf(buf, size, "boolean `%s`", json_is_true(v) ? "true" : "false");
		break;
	case JSON_ARRAY:
		snprintf(buf, size, "sequence");
		break;
	case JSON_OBJECT:
		snprintf(buf, size, "map");
		break;
	default:
		snprintf(buf, size, "null");
		break;
	}
}

void serde_one_of(const char *const *names, size_t n, char *buf, size_t size)
{
	size_t i, used = 0;

	buf[0] = '\0';
	for (i = 0; i < n && used < size; i++) {
		const char *sep = !i ? (n > 2 ? "one of " : "") : n == 2 ? " or " : ", ";
		int w = snprintf(buf + used, size - used, "%s`%s`", sep, names[i]);

		if (w < 0)
			break;
		used += (size_t)w;
	}
}

/* What serde's visitor for t says it expects ("u8", "a boolean"...). */
static void expecting(const struct serde_type *t, char *buf, size_t size)
{
	static const char *const words[] = {
		[SERDE_BOOL] = "a boolean",  [SERDE_U8] = "u8",
		[SERDE_U16] = "u16",	     [SERDE_U32] = "u32",
		[SERDE_U64] = "u64",	     [SERDE_USIZE] = "usize",
		[SERDE_STRING] = "a string", [SERDE_PATH] = "path string",
		[SERDE_SEQ] = "a sequence",  [SERDE_MAP] = "a map",
		[SERDE_CUSTOM] = "a string", [SERDE_ENUM] = "an enum",
		[SERDE_OPTION] = "option",   [SERDE_STRUCT] = "a struct",
	};

	if (t->kind == SERDE_STRUCT)
		snprintf(buf, size, "struct %s", t->name);
	else if (t->kind == SERDE_CUSTOM && t->expect)
		snprintf(buf, size, "%s", t->expect);
	else
		snprintf(buf, size, "%s", words[t->kind]);
}

static int invalid_type(const struct serde_type *t, const json_t *v, const struct serde_loc *loc,
			char *why, size_t why_size)
{
	char got[192], exp[64], at[48];

	serde_unexpected(v, got, sizeof(got));
	expecting(t, exp, sizeof(exp));
	return serde_fail(why, why_size, "invalid type: %s, expected %s%s", got, exp,
			  serde_at(loc, JSON_POS_VALUE, at, sizeof(at)));
}

static int check_value(const struct serde_type *t, json_t **v, const struct serde_loc *loc,
		       int depth, char *why, size_t why_size);

static int check_int(const struct serde_type *t, const json_t *v, const struct serde_loc *loc,
		     char *why, size_t why_size)
{
	static const uint64_t max[] = {
		[SERDE_U8] = UINT8_MAX,	  [SERDE_U16] = UINT16_MAX,   [SERDE_U32] = UINT32_MAX,
		[SERDE_U64] = UINT64_MAX, [SERDE_USIZE] = UINT64_MAX,
	};
	char got[64], exp[16], at[48];
	json_int_t n;

	if (!json_is_integer(v))
		return invalid_type(t, v, loc, why, why_size);
	n = json_integer_value(v);
	if (n >= 0 && (uint64_t)n <= max[t->kind])
		return 0;
	serde_unexpected(v, got, sizeof(got));
	expecting(t, exp, sizeof(exp));
	return serde_fail(why, why_size, "invalid value: %s, expected %s%s", got, exp,
			  serde_at(loc, JSON_POS_VALUE, at, sizeof(at)));
}

/* A unit variant: a string (serde_json's UnitVariantAccess), or a map of one
 * member, the variant's name to null (its VariantAccess), made the string. */
static int check_enum(const struct serde_type *t, json_t **v, const struct serde_loc *loc,
		      char *why, size_t why_size)
{
	char names[256], at[48];
	const char *name;
	json_t *val = NULL;
	size_t i, len;

	if (!json_is_string(*v) && (!json_is_object(*v) || !json_object_size(*v)))
		return serde_fail(why, why_size, "expected value%s",
				  serde_at(loc, json_is_object(*v) ? JSON_POS_END : JSON_POS_PEEK,
					   at, sizeof(at)));
	if (json_is_string(*v)) {
		name = json_string_value(*v);
		len = json_string_length(*v);
	} else {
		void *it = json_object_iter(*v);

		name = json_object_iter_key(it);
		len = strlen(name);
		val = json_object_iter_value(it);
	}
	/* by length too: a string may hold a NUL */
	i = 0;
	while (i < t->n && (strlen(t->variants[i]) != len || memcmp(name, t->variants[i], len)))
		i++;
	if (i == t->n) {
		const struct serde_loc kl = { *v, name, 0, val };

		serde_one_of(t->variants, t->n, names, sizeof(names));
		if (!t->n)
			snprintf(names, sizeof(names), "%s", "there are no variants");
		return serde_fail(why, why_size, "unknown variant `%.128s`, %s%s%s", name,
				  t->n ? "expected " : "", names,
				  val ? serde_at(&kl, JSON_POS_KEY, at, sizeof(at))
				      : serde_at(loc, JSON_POS_VALUE, at, sizeof(at)));
	}
	if (!val)
		return 0;
	if (!json_is_null(val)) {
		const struct serde_loc vl = { *v, name, 0, val };
		char got[192];

		serde_unexpected(val, got, sizeof(got));
		return serde_fail(why, why_size, "invalid type: %s, expected unit%s", got,
				  serde_at(&vl, JSON_POS_VALUE, at, sizeof(at)));
	}
	if (json_object_size(*v) > 1) {
		const struct serde_loc vl = { *v, name, 0, val };

		return serde_fail(why, why_size, "expected value%s",
				  serde_at(&vl, JSON_POS_CUSTOM, at, sizeof(at)));
	}
	val = json_string(t->variants[i]);
	if (!val)
		return -ENOMEM;
	json_decref(*v);
	*v = val;
	return 0;
}

static const struct serde_field *field_of(const struct serde_type *t, const char *key)
{
	for (size_t i = 0; i < t->n; i++)
		if (!strcmp(t->fields[i].name, key))
			return &t->fields[i];
	return NULL;
}

/* Member key of object parent (key NULL: element i of array parent),
 * checked and, when made another shape, put back. */
static int check_child(const struct serde_type *t, json_t *parent, const char *key, size_t i,
		       int depth, char *why, size_t why_size)
{
	json_t *v = key ? json_object_get(parent, key) : json_array_get(parent, i);
	const struct serde_loc loc = { parent, key, i, v };
	json_t *nv = json_incref(v);
	int err = check_value(t, &nv, &loc, depth + 1, why, why_size);

	if (!err && nv != v &&
	    (key ? json_object_set(parent, key, nv) : json_array_set(parent, i, nv)))
		err = -ENOMEM;
	json_decref(nv);
	return err;
}

/* serde_derive's visit_seq: the fields in their order, one element each; a
 * missing one is the field's default where it has one, an error where not;
 * serde_json refuses elements left over. The object it stands for replaces
 * the sequence. */
static int struct_from_seq(const struct serde_type *t, json_t **v, const struct serde_loc *loc,
			   int depth, char *why, size_t why_size)
{
	size_t i, n = json_array_size(*v);
	char at[48];
	json_t *o;
	int err;

	for (i = 0; i < t->n; i++) {
		if (i >= n && t->fields[i].dflt)
			continue;
		if (i >= n)
			return serde_fail(
				why, why_size,
				"invalid length %zu, expected struct %s with %zu element%s%s", i,
				t->name, t->n, t->n == 1 ? "" : "s",
				serde_at(loc, JSON_POS_END, at, sizeof(at)));
		err = check_child(t->fields[i].type, *v, NULL, i, depth, why, why_size);
		if (err)
			return err;
	}
	if (n > t->n) {
		const struct serde_loc el = { *v, NULL, t->n, json_array_get(*v, t->n) };

		return serde_fail(why, why_size, "trailing characters%s",
				  serde_at(&el, JSON_POS_PEEK, at, sizeof(at)));
	}
	o = json_object();
	for (i = 0; o && i < n; i++)
		if (json_object_set(o, t->fields[i].name, json_array_get(*v, i))) {
			json_decref(o);
			o = NULL;
		}
	if (!o)
		return -ENOMEM;
	json_decref(*v);
	*v = o;
	return 0;
}

static int check_struct(const struct serde_type *t, json_t **v, const struct serde_loc *loc,
			int depth, char *why, size_t why_size)
{
	const char *names[SERDE_MAX_NAMES];
	char list[512], at[48];
	const struct serde_field *f;
	const char *key;
	json_t *m;
	size_t i;
	int err;

	if (json_is_array(*v))
		return struct_from_seq(t, v, loc, depth, why, why_size);
	if (!json_is_object(*v))
		return invalid_type(t, *v, loc, why, why_size);
	json_object_foreach(*v, key, m)
	{
		f = field_of(t, key);
		if (!f && !t->deny_unknown)
			continue; /* serde reads it as IgnoredAny */
		if (!f) {
			const struct serde_loc kl = { *v, key, 0, m };

			for (i = 0; i < t->n && i < SERDE_MAX_NAMES; i++)
				names[i] = t->fields[i].name;
			serde_one_of(names, i, list, sizeof(list));
			return serde_fail(why, why_size, "unknown field `%.128s`, %s%s%s", key,
					  i ? "expected " : "there are no fields", list,
					  serde_at(&kl, JSON_POS_KEY, at, sizeof(at)));
		}
		err = check_child(f->type, *v, key, 0, depth, why, why_size);
		if (err)
			return err;
	}
	for (i = 0; i < t->n; i++) {
		f = &t->fields[i];
		if (!f->dflt && f->type->kind != SERDE_OPTION && !json_object_get(*v, f->name))
			return serde_fail(why, why_size, "missing field `%s`%s", f->name,
					  serde_at(loc, JSON_POS_END, at, sizeof(at)));
	}
	return 0;
}

static int check_value(const struct serde_type *t, json_t **v, const struct serde_loc *loc,
		       int depth, char *why, size_t why_size)
{
	char at[48];
	const char *key;
	json_t *m;
	size_t i;
	int err;

	if (depth > SERDE_MAX_DEPTH)
		return serde_fail(why, why_size, "recursion limit exceeded");
	switch (t->kind) {
	case SERDE_OPTION:
		return json_is_null(*v) ? 0 : check_value(t->inner, v, loc, depth, why, why_size);
	case SERDE_BOOL:
		return json_is_boolean(*v) ? 0 : invalid_type(t, *v, loc, why, why_size);
	case SERDE_U8:
	case SERDE_U16:
	case SERDE_U32:
	case SERDE_U64:
	case SERDE_USIZE:
		return check_int(t, *v, loc, why, why_size);
	case SERDE_STRING:
	case SERDE_PATH:
		return json_is_string(*v) ? 0 : invalid_type(t, *v, loc, why, why_size);
	case SERDE_CUSTOM:
		if (!json_is_string(*v))
			return invalid_type(t, *v, loc, why, why_size);
		if (t->accept(json_string_value(*v), json_string_length(*v)))
			return 0;
		/* Not serde_json's own error (unless raised in its
		 * deserialize_str): placed where the container's end left
		 * serde_json (json_pos.h). */
		return serde_fail(why, why_size, "%s%s", t->custom,
				  serde_at(loc, t->custom_in_str ? JSON_POS_VALUE : JSON_POS_CUSTOM,
					   at, sizeof(at)));
	case SERDE_ENUM:
		return check_enum(t, v, loc, why, why_size);
	case SERDE_STRUCT:
		return check_struct(t, v, loc, depth, why, why_size);
	case SERDE_SEQ:
		if (!json_is_array(*v))
			return invalid_type(t, *v, loc, why, why_size);
		for (i = 0; i < json_array_size(*v); i++)
			if ((err = check_child(t->inner, *v, NULL, i, depth, why, why_size)))
				return err;
		return 0;
	case SERDE_MAP:
		if (!json_is_object(*v))
			return invalid_type(t, *v, loc, why, why_size);
		json_object_foreach(*v, key, m)
		{
			if ((err = check_child(t->inner, *v, key, 0, depth, why, why_size)))
				return err;
		}
		return 0;
	}
	return 0;
}

int serde_check(const struct serde_type *t, json_t **v, const struct serde_loc *loc, char *why,
		size_t why_size)
{
	const struct serde_loc body = { NULL, NULL, 0, *v };
	int err = check_value(t, v, loc ? loc : &body, 0, why, why_size);

	if (err == -ENOMEM)
		why_fail(why, why_size, err, "out of memory reading the body");
	return err;
}
