/* The field engine: one CLI spec parser, one JSON parser and one emitter,
 * all driven by struct field descriptions (core/fields.h). */
#include "core/fields.h"

#include "core/rate_limiter.h"
#include "util/id_pool.h"
#include "util/parse.h"
#include "util/why.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MIB (1ULL << 20)

/* A message template from the data: "{}" becomes value. Never a printf
 * format, so a value with '%' in it is only text. */
static int say(char *why, size_t why_size, const char *tmpl, const char *value)
{
	const char *mark = strstr(tmpl, "{}");

	if (!mark)
		return why_fail(why, why_size, -EINVAL, "%s", tmpl);
	return why_fail(why, why_size, -EINVAL, "%.*s%s%s", (int)(mark - tmpl), tmpl, value,
			mark + 2);
}

static void *at(void *cfg, size_t offset)
{
	return (char *)cfg + offset;
}

static const void *cat(const void *cfg, size_t offset)
{
	return (const char *)cfg + offset;
}

void fields_defaults(const struct field_set *set, void *cfg)
{
	size_t i;

	memset(cfg, 0, set->size);
	for (i = 0; i < set->n; i++) {
		const struct field *f = &set->fields[i];
		void *p = at(cfg, f->offset);

		switch (f->type) {
		case FIELD_BOOL:
		case FIELD_FLAG:
			*(bool *)p = f->def != 0;
			break;
		case FIELD_U32:
		case FIELD_MIB:
			*(uint32_t *)p = (uint32_t)f->def;
			break;
		case FIELD_U64:
			*(uint64_t *)p = f->def;
			break;
		case FIELD_ENUM:
			*(int *)p = (int)f->def;
			break;
		default:
			break;
		}
	}
}

/* A MAC as FIELD_MAC takes it; -EINVAL with the reason in why. cli: volt's
 * own rule for `--net mac=` besides the syntax, a unicast, non-zero address
 * (one a guest can send from); JSON (the API, the config file) takes any six
 * bytes, as Firecracker's MacAddr does. */
static int mac_parse(const char *s, uint8_t mac[6], bool cli, char *why, size_t why_size)
{
	static const uint8_t zero[6];
	uint8_t m[6];
	int i;

	for (i = 0; i < 6; i++) {
		const char *p = s + 3 * i;
		int hi, lo;

		/* p[0] is checked before p[1] and p[1] before p[2]: no read past the NUL. */
		if ((hi = parse_hex_digit(p[0])) < 0 || (lo = parse_hex_digit(p[1])) < 0 ||
		    p[2] != (i == 5 ? '\0' : ':'))
			return why_fail(
				why, why_size, -EINVAL,
				"bad MAC '%s': expected six hex bytes like 52:54:00:12:34:56", s);
		m[i] = (uint8_t)(hi << 4 | lo);
	}
	if (cli && (m[0] & 1))
		return why_fail(why, why_size, -EINVAL,
				"bad MAC '%s': a multicast address cannot name an interface", s);
	if (cli && !memcmp(m, zero, 6))
		return why_fail(why, why_size, -EINVAL, "bad MAC '%s': all zeros", s);
	memcpy(mac, m, 6);
	return 0;
}

const char *fields_json_type(const json_t *v)
{
	switch (json_typeof(v)) {
	case JSON_OBJECT:
		return "an object";
	case JSON_ARRAY:
		return "an array";
	case JSON_STRING:
		return "a string";
	case JSON_INTEGER:
		return "an integer";
	case JSON_REAL:
		return "a number";
	case JSON_TRUE:
	case JSON_FALSE:
		return "a boolean";
	default:
		return "null";
	}
}

static void set_has(const struct field *f, void *cfg)
{
	if (f->has != FIELD_NO_HAS)
		*(bool *)at(cfg, f->has) = true;
}

static void store_num(const struct field *f, void *cfg, uint64_t v)
{
	if (f->type == FIELD_U64)
		*(uint64_t *)at(cfg, f->offset) = v;
	else
		*(uint32_t *)at(cfg, f->offset) = (uint32_t)v;
}

/* The whole buffer is written: a value that replaces a longer one leaves
 * none of its bytes behind (configurations compare and save byte for byte). */
static void store_str(const struct field *f, void *p, const char *s, size_t len)
{
	memset(p, 0, f->size);
	memcpy(p, s, len);
}

/* An id is a handle (util/id_pool.h): equal ids share one string, so
 * configurations still compare byte for byte. */
static int store_id(void *p, const char *s, size_t len)
{
	const char *id = id_intern_len(s, len);

	if (!id)
		return -ENOMEM;
	*(const char **)p = id;
	return 0;
}

/* --- the CLI spec ------------------------------------------------------------ */

static const struct field *spec_field(const struct field_set *set, const char *key)
{
	size_t i;

	for (i = 0; i < set->n; i++)
		if (set->fields[i].cli && set->fields[i].cli[0] && !strcmp(set->fields[i].cli, key))
			return &set->fields[i];
	return NULL;
}

static const struct field *positional(const struct field_set *set)
{
	size_t i;

	for (i = 0; i < set->n; i++)
		if (set->fields[i].cli && !set->fields[i].cli[0])
			return &set->fields[i];
	return NULL;
}

static int spec_check(const struct field *f, const char *str, uint64_t num, char *why,
		      size_t why_size)
{
	char reason[192];

	if (!f->check || !f->check(str, num, reason, sizeof(reason)))
		return 0;
	return why_fail(why, why_size, -EINVAL, "%s%s", f->check_prefix ? f->check_prefix : "",
			reason);
}

static int spec_mib(const struct field *f, const char *val, void *cfg, char *why, size_t why_size)
{
	uint64_t bytes;

	if (parse_size(val, MIB, &bytes))
		return why_fail(why, why_size, -EINVAL, "'%s' is not a size in MiB", val);
	if (bytes & (MIB - 1))
		return why_fail(why, why_size, -EINVAL, "'%s' is not a whole number of MiB", val);
	if ((bytes >> 20) > f->max || (bytes >> 20) < f->min)
		return why_fail(why, why_size, -EINVAL, "'%s' is more than %" PRIu64 " MiB", val,
				f->max);
	store_num(f, cfg, bytes >> 20);
	return spec_check(f, NULL, bytes >> 20, why, why_size);
}

static int spec_number(const struct field *f, const char *val, void *cfg, char *why,
		       size_t why_size)
{
	char *end;
	uint64_t v;

	/* Digits only: strtoull would take a sign or leading spaces. */
	if (*val < '0' || *val > '9')
		goto bad;
	errno = 0;
	v = strtoull(val, &end, 10);
	if (errno || *end || v < f->min || v > (f->cli_max ? f->cli_max : f->max))
		goto bad;
	if (f->check_is_bad && f->check && f->check(NULL, v, why, why_size))
		goto bad;
	store_num(f, cfg, v);
	return spec_check(f, NULL, v, why, why_size);
bad:
	return say(why, why_size, f->bad ? f->bad : "{} is not a number", val);
}

/* One key=value (val NULL for a bare key) into cfg. tok is the whole token,
 * for the messages. */
static int spec_value(const struct field_set *set, const struct field *f, const char *tok,
		      const char *val, void *cfg, char *why, size_t why_size)
{
	void *p = at(cfg, f->offset);
	bool b;
	size_t i;

	if (f->type == FIELD_FLAG) {
		if (val)
			return say(why, why_size, set->unknown, tok);
		*(bool *)p = true;
		return 0;
	}
	if (f->type == FIELD_BOOL) {
		if (!val)
			b = true;
		else if (!strcmp(val, "on") || !strcmp(val, "true") || !strcmp(val, "1"))
			b = true;
		else if (!strcmp(val, "off") || !strcmp(val, "false") || !strcmp(val, "0"))
			b = false;
		else
			return say(why, why_size, f->bad ? f->bad : set->unknown,
				   f->bad ? val : tok);
		*(bool *)p = b;
		return 0;
	}
	if (!val)
		return say(why, why_size, set->unknown, tok);
	switch (f->type) {
	case FIELD_STRING:
	case FIELD_PATH:
		if (!*val)
			return say(why, why_size, f->empty ? f->empty : set->unknown,
				   f->empty ? val : tok);
		if (spec_check(f, val, 0, why, why_size))
			return -EINVAL;
		if (strlen(val) >= f->size)
			return say(why, why_size, f->toolong ? f->toolong : "{} is too long", val);
		store_str(f, p, val, strlen(val));
		return 0;
	case FIELD_ID: {
		char reason[160];

		if (parse_id_check(val, reason, sizeof(reason)))
			return why_fail(why, why_size, -EINVAL, "%s: %s", f->cli, reason);
		if (spec_check(f, val, 0, why, why_size))
			return -EINVAL;
		return store_id(p, val, strlen(val));
	}
	case FIELD_U32:
	case FIELD_U64:
		return spec_number(f, val, cfg, why, why_size);
	case FIELD_MIB:
		return spec_mib(f, val, cfg, why, why_size);
	case FIELD_ENUM:
		for (i = 0; f->names[i].cli || f->names[i].json; i++)
			if (f->names[i].cli && !strcmp(val, f->names[i].cli)) {
				*(int *)p = f->names[i].value;
				return 0;
			}
		return say(why, why_size, f->bad ? f->bad : set->unknown, f->bad ? val : tok);
	case FIELD_MAC:
		return mac_parse(val, p, true, why, why_size);
	case FIELD_BUCKET: {
		char reason[256];

		if (rl_bucket_parse(val, p, reason, sizeof(reason)))
			return why_fail(why, why_size, -EINVAL, "%s=%s", f->cli, reason);
		return 0;
	}
	default:
		return say(why, why_size, set->unknown, tok);
	}
}

static int spec_token(const struct field_set *set, char *tok, bool first, void *cfg,
		      unsigned char *given, char *why, size_t why_size)
{
	const struct field *pos = positional(set);
	char *eq, whole[4096 + 64];
	const struct field *f;

	if (first && pos) {
		given[pos - set->fields] = 1;
		set_has(pos, cfg);
		return spec_value(set, pos, tok, tok, cfg, why, why_size);
	}
	/* Messages quote the token as it was written. */
	snprintf(whole, sizeof(whole), "%s", tok);
	eq = strchr(tok, '=');
	if (eq)
		*eq = '\0';
	f = spec_field(set, tok);
	if (!f)
		return say(why, why_size, set->unknown, whole);
	/* A key given twice is an error (which one was meant?), for every
	 * device alike. */
	if (given[f - set->fields])
		return why_fail(why, why_size, -EINVAL, "%s= given twice", f->cli);
	given[f - set->fields] = 1;
	set_has(f, cfg);
	return spec_value(set, f, whole, eq ? eq + 1 : NULL, cfg, why, why_size);
}

int fields_parse_spec(const struct field_set *set, const char *spec, void *cfg, char *why,
		      size_t why_size)
{
	unsigned char *given = calloc(set->n ? set->n : 1, 1);
	char *copy = strdup(spec), *tok, *save = NULL;
	void *tmp = malloc(set->size ? set->size : 1);
	bool first = true;
	size_t i;
	int err = 0;

	if (!copy || !tmp || !given) {
		err = -ENOMEM;
		goto out;
	}
	fields_defaults(set, tmp);
	for (tok = strtok_r(copy, ",", &save); tok && !err;
	     tok = strtok_r(NULL, ",", &save), first = false)
		err = spec_token(set, tok, first, tmp, given, why, why_size);
	for (i = 0; !err && i < set->n; i++) {
		const struct field *f = &set->fields[i];

		if (f->cli && f->required && !given[i])
			err = say(why, why_size, f->missing ? f->missing : "missing {}=", f->cli);
	}
	if (!err)
		memcpy(cfg, tmp, set->size);
out:
	free(given);
	free(copy);
	free(tmp);
	return err;
}

/* --- JSON -------------------------------------------------------------------- */

static bool extra_key(const char *const *extra, const char *key)
{
	for (; extra && *extra; extra++)
		if (!strcmp(*extra, key))
			return true;
	return false;
}

const struct field *fields_find_json(const struct field_set *set, const char *key)
{
	size_t i;

	for (i = 0; i < set->n; i++)
		if (set->fields[i].json && !strcmp(set->fields[i].json, key))
			return &set->fields[i];
	return NULL;
}

static int json_enum(const struct field *f, const char *obj, const char *s, void *p, char *why,
		     size_t why_size)
{
	char list[256] = "";
	size_t i, n = 0, len = 0;

	for (i = 0; f->names[i].cli || f->names[i].json; i++)
		if (f->names[i].json && !strcmp(s, f->names[i].json)) {
			*(int *)p = f->names[i].value;
			return 0;
		}
	for (i = 0; f->names[i].cli || f->names[i].json; i++)
		n += f->names[i].json != NULL;
	for (i = 0; f->names[i].cli || f->names[i].json; i++) {
		if (!f->names[i].json)
			continue;
		/* "A or B", "A, B or C" */
		len += (size_t)snprintf(list + len, len < sizeof(list) ? sizeof(list) - len : 0,
					"%s%s", len ? (--n == 1 ? " or " : ", ") : "",
					f->names[i].json);
		if (len >= sizeof(list))
			break;
	}
	return why_fail(why, why_size, -EINVAL, "%s: %s: '%s' is not %s", obj, f->json, s, list);
}

/* Checks v for f and stores it into cfg (a scratch copy). */
static int json_value(const struct field *f, const char *obj, json_t *v, void *cfg, char *why,
		      size_t why_size)
{
	void *p = at(cfg, f->offset);
	char reason[192];
	json_int_t n;

	switch (f->type) {
	case FIELD_STRING:
	case FIELD_PATH:
	case FIELD_ID:
	case FIELD_ENUM:
	case FIELD_MAC: {
		const char *s;
		size_t len;

		if (!json_is_string(v))
			return why_fail(why, why_size, -EINVAL, "%s: %s: expected a string, got %s",
					obj, f->json, fields_json_type(v));
		s = json_string_value(v);
		len = json_string_length(v);
		if (strlen(s) != len)
			return why_fail(why, why_size, -EINVAL, "%s: %s: contains a NUL byte", obj,
					f->json);
		if (f->type == FIELD_ENUM)
			return json_enum(f, obj, s, p, why, why_size);
		if (f->type == FIELD_MAC) {
			if (mac_parse(s, p, false, reason, sizeof(reason)))
				return why_fail(why, why_size, -EINVAL, "%s: %s: %s", obj, f->json,
						reason);
			return 0;
		}
		if (f->type != FIELD_ID && len >= f->size)
			return why_fail(why, why_size, -EINVAL, "%s: %s: longer than %zu bytes",
					obj, f->json, f->size - 1);
		if (!len && (f->type != FIELD_STRING || f->min))
			return why_fail(why, why_size, -EINVAL, "%s: %s: must not be empty", obj,
					f->json);
		if (f->type == FIELD_ID && parse_id_check(s, reason, sizeof(reason)))
			return why_fail(why, why_size, -EINVAL, "%s: %s: %s", obj, f->json, reason);
		if (f->check && f->check(s, 0, reason, sizeof(reason)))
			return why_fail(why, why_size, -EINVAL, "%s: %s: %s", obj, f->json, reason);
		if (f->type == FIELD_ID)
			return store_id(p, s, len);
		store_str(f, p, s, len);
		return 0;
	}
	case FIELD_BOOL:
	case FIELD_FLAG:
		if (!json_is_boolean(v))
			return why_fail(why, why_size, -EINVAL,
					"%s: %s: expected a boolean, got %s", obj, f->json,
					fields_json_type(v));
		*(bool *)p = json_is_true(v);
		return 0;
	case FIELD_U32:
	case FIELD_U64:
	case FIELD_MIB:
		if (!json_is_integer(v))
			return why_fail(why, why_size, -EINVAL,
					"%s: %s: expected an integer, got %s", obj, f->json,
					fields_json_type(v));
		n = json_integer_value(v);
		if (n < 0 || (uint64_t)n < f->min || (uint64_t)n > f->max)
			return why_fail(why, why_size, -EINVAL,
					"%s: %s: %" JSON_INTEGER_FORMAT " is out of range (%" PRIu64
					" to %" PRIu64 ")",
					obj, f->json, n, f->min, f->max);
		if (f->check && f->check(NULL, (uint64_t)n, reason, sizeof(reason)))
			return why_fail(why, why_size, -EINVAL, "%s: %s: %s", obj, f->json, reason);
		store_num(f, cfg, (uint64_t)n);
		return 0;
	case FIELD_NULL:
		return why_fail(why, why_size, -EINVAL, "%s: %s: not supported by volt (only null)",
				obj, f->json);
	case FIELD_RL: {
		char prefix[128];
		int err;

		snprintf(prefix, sizeof(prefix), "%s: %s", obj, f->json);
		err = rl_config_from_json(v, prefix, p, why, why_size);
		if (!err)
			rl_config_canonical(p);
		return err;
	}
	case FIELD_BUCKET:
		break;
	}
	return why_fail(why, why_size, -EINVAL, "%s: %s: cannot be set", obj, f->json);
}

int fields_parse_json(const struct field_set *set, const char *obj, json_t *j,
		      const char *const *extra, void *cfg, char *why, size_t why_size)
{
	const char *key;
	void *tmp;
	json_t *v;
	size_t i;
	int err = 0;

	if (!json_is_object(j))
		return why_fail(why, why_size, -EINVAL, "%s: expected a JSON object, got %s", obj,
				j ? fields_json_type(j) : "nothing");
	json_object_foreach(j, key, v)
	{
		if (!fields_find_json(set, key) && !extra_key(extra, key))
			return why_fail(why, why_size, -EINVAL, "%s: unknown field `%s`", obj, key);
	}
	/* A set of FIELD_NULLs alone has no storage. */
	tmp = malloc(set->size ? set->size : 1);
	if (!tmp)
		return -ENOMEM;
	if (set->size)
		memcpy(tmp, cfg, set->size);
	for (i = 0; !err && i < set->n; i++) {
		const struct field *f = &set->fields[i];

		if (!f->json)
			continue;
		v = json_object_get(j, f->json);
		if (!v || (json_is_null(v) && !f->no_null)) {
			if (f->required || f->json_required)
				err = why_fail(why, why_size, -EINVAL,
					       "%s: missing required field '%s'", obj, f->json);
			continue;
		}
		err = json_value(f, obj, v, tmp, why, why_size);
		if (!err)
			set_has(f, tmp);
	}
	if (!err && set->size)
		memcpy(cfg, tmp, set->size);
	free(tmp);
	return err;
}

int fields_set_string(const struct field_set *set, void *cfg, const char *json, const char *value)
{
	const struct field *f = fields_find_json(set, json);

	if (!f || (f->type != FIELD_STRING && f->type != FIELD_PATH && f->type != FIELD_ID))
		return -ENOENT;
	if (f->type == FIELD_ID)
		return store_id(at(cfg, f->offset), value, strlen(value));
	if (strlen(value) >= f->size)
		return -ENAMETOOLONG;
	store_str(f, at(cfg, f->offset), value, strlen(value));
	return 0;
}

void fields_mark_ids(const struct field_set *set, const void *cfg)
{
	size_t i;

	for (i = 0; set && i < set->n; i++)
		if (set->fields[i].type == FIELD_ID)
			id_pool_mark(*(const char *const *)cat(cfg, set->fields[i].offset));
}

static json_t *field_to_json(const struct field *f, const void *cfg)
{
	const void *p = cat(cfg, f->offset);
	const uint8_t *m = p;
	char mac[18];
	size_t i;

	switch (f->type) {
	case FIELD_ID:
		p = id_str(*(const char *const *)p);
		/* fall through */
	case FIELD_STRING:
	case FIELD_PATH:
		return !f->required && !*(const char *)p ? json_null() : json_string(p);
	case FIELD_BOOL:
	case FIELD_FLAG:
		return json_boolean(*(const bool *)p);
	case FIELD_U32:
	case FIELD_MIB:
	case FIELD_U64:
		/* An optional number not given (a net's mtu) is null, as in Firecracker. */
		if (f->has != FIELD_NO_HAS && !*(const bool *)cat(cfg, f->has))
			return json_null();
		if (f->type == FIELD_U64)
			return json_integer((json_int_t) * (const uint64_t *)p);
		return json_integer((json_int_t) * (const uint32_t *)p);
	case FIELD_ENUM:
		for (i = 0; f->names[i].cli || f->names[i].json; i++)
			if (f->names[i].json && f->names[i].value == *(const int *)p)
				return json_string(f->names[i].json);
		return json_null();
	case FIELD_MAC:
		if (f->has != FIELD_NO_HAS && !*(const bool *)cat(cfg, f->has))
			return json_null();
		snprintf(mac, sizeof(mac), "%02x:%02x:%02x:%02x:%02x:%02x", m[0], m[1], m[2], m[3],
			 m[4], m[5]);
		return json_string(mac);
	case FIELD_NULL:
	case FIELD_BUCKET:
		return json_null();
	case FIELD_RL:
		return rl_config_to_json(p);
	}
	return json_null();
}

static json_t *to_json(const struct field_set *set, const void *cfg, bool cli_too)
{
	json_t *o = json_object(), *v;
	char key[64];
	size_t i;

	for (i = 0; o && i < set->n; i++) {
		const struct field *f = &set->fields[i];

		if (!f->json && !(cli_too && f->cli && f->cli[0]))
			continue;
		snprintf(key, sizeof(key), "%s%s",
			 f->json ? "" : "cli:", f->json ? f->json : f->cli);
		v = field_to_json(f, cfg);
		if (!v || json_object_set_new(o, key, v)) {
			json_decref(o);
			return NULL;
		}
	}
	return o;
}

json_t *fields_to_json(const struct field_set *set, const void *cfg)
{
	return to_json(set, cfg, false);
}

json_t *fields_to_json_all(const struct field_set *set, const void *cfg)
{
	return to_json(set, cfg, true);
}

/* --- path rewriting (the jailer) ---------------------------------------------- */

static int append(char *out, size_t out_size, size_t *len, const char *s, size_t n)
{
	if (*len + n >= out_size)
		return -ENAMETOOLONG;
	memcpy(out + *len, s, n);
	*len += n;
	out[*len] = '\0';
	return 0;
}

int fields_rewrite_spec(const struct field_set *set, const char *spec, field_path_fn fn, void *ctx,
			char *out, size_t out_size)
{
	const struct field *pos = positional(set);
	const char *tok = spec;
	size_t len = 0;
	bool first = true;
	int err = 0;

	if (!out_size)
		return -ENAMETOOLONG;
	out[0] = '\0';
	while (!err && *tok) {
		size_t n = strcspn(tok, ",");
		const char *eq = memchr(tok, '=', n);
		const struct field *f = NULL;
		const char *val = NULL, *nv;
		char key[64], *v = NULL;

		if (n && first && pos) {
			f = pos;
			val = tok;
		} else if (eq && (size_t)(eq - tok) < sizeof(key)) {
			memcpy(key, tok, (size_t)(eq - tok));
			key[eq - tok] = '\0';
			f = spec_field(set, key);
			val = eq + 1;
		}
		if (n)
			first = false;
		if (f && f->type == FIELD_PATH) {
			v = strndup(val, n - (size_t)(val - tok));
			if (!v)
				return -ENOMEM;
			nv = fn(ctx, f, v, &err);
			if (!err) {
				err = append(out, out_size, &len, tok, (size_t)(val - tok));
				if (!err)
					err = append(out, out_size, &len, nv ? nv : v,
						     strlen(nv ? nv : v));
			}
			free(v);
		} else {
			err = append(out, out_size, &len, tok, n);
		}
		tok += n;
		if (!err && *tok == ',') {
			err = append(out, out_size, &len, ",", 1);
			tok++;
		}
	}
	return err;
}

int fields_rewrite_json(const struct field_set *set, json_t *j, field_path_fn fn, void *ctx)
{
	size_t i;
	int err = 0;

	if (!json_is_object(j))
		return 0;
	for (i = 0; !err && i < set->n; i++) {
		const struct field *f = &set->fields[i];
		json_t *v;
		const char *nv;

		if (f->type != FIELD_PATH || !f->json)
			continue;
		v = json_object_get(j, f->json);
		if (!json_is_string(v))
			continue;
		nv = fn(ctx, f, json_string_value(v), &err);
		if (!err && nv && json_object_set_new(j, f->json, json_string(nv)))
			err = -ENOMEM;
	}
	return err;
}
