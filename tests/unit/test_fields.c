/* The field engine (core/fields.h): one spec parser, one JSON parser and one
 * emitter over a test configuration with every field type. */
#include <criterion/criterion.h>
#include <errno.h>
#include <jansson.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "core/fields.h"
#include "util/id_pool.h"

struct cfg {
	char name[8];
	char path[16];
	const char *id; /* an id handle */
	bool ro, flag;
	uint32_t count;
	uint64_t big;
	uint32_t mib;
	int mode;
	uint8_t mac[6];
	bool has_mac, has_count;
};

enum { MODE_A, MODE_B, MODE_C };

static const struct field_name modes[] = {
	{ "a", "Alpha", MODE_A },
	{ "b", "Beta", MODE_B },
	{ "c", "Gamma", MODE_C },
	{ NULL, NULL, 0 },
};

/* Refuses "bad" and 13, to show where a check's reason goes. */
static int no_bad(const char *s, uint64_t n, char *why, size_t why_size)
{
	if ((s && !strcmp(s, "bad")) || (!s && n == 13)) {
		snprintf(why, why_size, "is unlucky");
		return -EINVAL;
	}
	return 0;
}

#define F(m) .offset = offsetof(struct cfg, m), .has = FIELD_NO_HAS

static const struct field list[] = {
	{ .cli = "",
	  .json = "size_mib",
	  .type = FIELD_MIB,
	  F(mib),
	  .max = 4096,
	  .required = true,
	  .missing = "no size" },
	{ .cli = "name",
	  .json = "name",
	  .type = FIELD_STRING,
	  F(name),
	  .size = 8,
	  .empty = "name= wants a name",
	  .check = no_bad,
	  .check_prefix = "name " },
	{ .cli = "path",
	  .json = "path_on_host",
	  .type = FIELD_PATH,
	  F(path),
	  .size = 16,
	  .required = true,
	  .access = FIELD_ACCESS_READ,
	  .missing = "no path=FILE",
	  .toolong = "path '{}' too long" },
	{ .cli = "id", .json = "some_id", .type = FIELD_ID, F(id), .size = sizeof(const char *) },
	{ .cli = "ro",
	  .json = "is_read_only",
	  .type = FIELD_BOOL,
	  F(ro),
	  .bad = "ro={}: not a bool" },
	{ .cli = "flag", .json = "flag", .type = FIELD_FLAG, F(flag) },
	{ .cli = "count",
	  .json = "count",
	  .type = FIELD_U32,
	  .offset = offsetof(struct cfg, count),
	  .has = offsetof(struct cfg, has_count),
	  .min = 1,
	  .max = 100,
	  .def = 7,
	  .bad = "count '{}' is not 1 to 100",
	  .check = no_bad,
	  .check_prefix = "count " },
	{ .cli = "big", .json = "big", .type = FIELD_U64, F(big), .max = UINT64_MAX },
	{ .cli = "mode",
	  .json = "mode",
	  .type = FIELD_ENUM,
	  F(mode),
	  .names = modes,
	  .def = MODE_B },
	{ .cli = "mac",
	  .json = "guest_mac",
	  .type = FIELD_MAC,
	  .offset = offsetof(struct cfg, mac),
	  .has = offsetof(struct cfg, has_mac) },
	{ .cli = NULL,
	  .json = "json_only",
	  .type = FIELD_BOOL,
	  .offset = offsetof(struct cfg, flag),
	  .has = FIELD_NO_HAS },
};

static const struct field_set set = {
	.name = "thing",
	.fields = list,
	.n = sizeof(list) / sizeof(list[0]),
	.size = sizeof(struct cfg),
	.unknown = "unknown option '{}'",
};

static struct cfg c;
static char why[256];

static int spec(const char *s)
{
	why[0] = '\0';
	return fields_parse_spec(&set, s, &c, why, sizeof(why));
}

static void spec_fails(const char *s, const char *want)
{
	struct cfg before = c;

	cr_assert_eq(spec(s), -EINVAL, "'%s' accepted", s);
	cr_assert_str_eq(why, want, "'%s'", s);
	cr_assert_arr_eq(&c, &before, sizeof(c), "'%s' changed the configuration", s);
}

Test(fields_spec, defaults_and_every_type)
{
	static const uint8_t mac[6] = { 0x52, 0x54, 0, 0x12, 0x34, 0x56 };

	cr_assert_eq(spec("64,path=/x"), 0, "%s", why);
	cr_assert_eq(c.mib, 64);
	cr_assert_str_eq(c.path, "/x");
	cr_assert_eq(c.count, 7, "the default");
	cr_assert_eq(c.mode, MODE_B, "the default");
	cr_assert_not(c.ro || c.flag || c.has_mac || c.has_count);

	cr_assert_eq(
		spec("1G,path=/a=b,,name=n,id=disk_0,ro,flag,count=100,big=18446744073709551615,"
		     "mode=c,mac=52:54:00:12:34:56"),
		0, "%s", why);
	cr_assert_eq(c.mib, 1024);
	cr_assert_str_eq(c.path, "/a=b");
	cr_assert_str_eq(c.name, "n");
	cr_assert_str_eq(c.id, "disk_0");
	cr_assert(c.ro && c.flag && c.has_count && c.has_mac);
	cr_assert_eq(c.count, 100);
	cr_assert_eq(c.big, UINT64_MAX);
	cr_assert_eq(c.mode, MODE_C);
	cr_assert_arr_eq(c.mac, mac, 6);
}

Test(fields_spec, bool_values)
{
	static const char *const on[] = { "ro", "ro=on", "ro=true", "ro=1" };
	static const char *const off[] = { "ro=off", "ro=false", "ro=0" };
	char s[64];

	for (int i = 0; i < 4; i++) {
		snprintf(s, sizeof(s), "1,path=/x,%s", on[i]);
		cr_assert_eq(spec(s), 0, "%s: %s", s, why);
		cr_assert(c.ro, "%s", s);
	}
	for (int i = 0; i < 3; i++) {
		snprintf(s, sizeof(s), "1,path=/x,%s", off[i]);
		cr_assert_eq(spec(s), 0, "%s: %s", s, why);
		cr_assert_not(c.ro, "%s", s);
	}
	spec_fails("1,path=/x,ro=maybe", "ro=maybe: not a bool");
}

Test(fields_spec, errors_in_the_fields_words)
{
	memset(&c, 0x5a, sizeof(c));
	spec_fails("", "no size");
	spec_fails("1", "no path=FILE");
	spec_fails("x,path=/x", "'x' is not a size in MiB");
	spec_fails("64K,path=/x", "'64K' is not a whole number of MiB");
	spec_fails("8G,path=/x", "'8G' is more than 4096 MiB");
	spec_fails("1,path=", "unknown option 'path='");
	spec_fails("1,path", "unknown option 'path'");
	spec_fails("1,path=/0123456789abcdef", "path '/0123456789abcdef' too long");
	spec_fails("1,path=/x,name=", "name= wants a name");
	spec_fails("1,path=/x,name=bad", "name is unlucky");
	spec_fails("1,path=/x,name=12345678", "12345678 is too long");
	spec_fails("1,path=/x,id=../x", "id: '../x' may only hold letters, digits and '_'");
	spec_fails("1,path=/x,id=", "id: must not be empty");
	spec_fails("1,path=/x,flag=1", "unknown option 'flag=1'");
	spec_fails("1,path=/x,count=0", "count '0' is not 1 to 100");
	spec_fails("1,path=/x,count=101", "count '101' is not 1 to 100");
	spec_fails("1,path=/x,count=-1", "count '-1' is not 1 to 100");
	spec_fails("1,path=/x,count= 5", "count ' 5' is not 1 to 100");
	spec_fails("1,path=/x,count=", "count '' is not 1 to 100");
	spec_fails("1,path=/x,count=13", "count is unlucky");
	spec_fails("1,path=/x,big=18446744073709551616", "18446744073709551616 is not a number");
	spec_fails("1,path=/x,mode=d", "unknown option 'mode=d'");
	spec_fails("1,path=/x,mode=Alpha", "unknown option 'mode=Alpha'");
	spec_fails("1,path=/x,mac=01:00:5e:00:00:01",
		   "bad MAC '01:00:5e:00:00:01': a multicast address cannot name an interface");
	spec_fails("1,path=/x,mac=00:00:00:00:00:00", "bad MAC '00:00:00:00:00:00': all zeros");
	spec_fails("1,path=/x,mac=52:54:00:12:34",
		   "bad MAC '52:54:00:12:34': expected six hex bytes like 52:54:00:12:34:56");
	spec_fails("1,path=/x,json_only", "unknown option 'json_only'");
	spec_fails("1,path=/x,bogus=%s%n", "unknown option 'bogus=%s%n'");
}

/* A key given twice is refused, a flag too ("ro,ro"), the positional one
 * named again as well. */
Test(fields_spec, once)
{
	cr_assert_eq(fields_parse_spec(&set, "1,path=/x,mode=a,mode=b", &c, why, sizeof(why)),
		     -EINVAL);
	cr_assert_str_eq(why, "mode= given twice");
	cr_assert_eq(fields_parse_spec(&set, "1,path=/x,ro=on,ro", &c, why, sizeof(why)), -EINVAL);
	cr_assert_str_eq(why, "ro= given twice");
}

/* --- JSON ------------------------------------------------------------------- */

static int js(const char *text, const char *const *extra)
{
	json_error_t e;
	json_t *j = json_loads(text, JSON_ALLOW_NUL, &e);
	int err;

	cr_assert_not_null(j, "%s: %s", text, e.text);
	why[0] = '\0';
	err = fields_parse_json(&set, "thing", j, extra, &c, why, sizeof(why));
	json_decref(j);
	return err;
}

static void js_fails(const char *text, const char *want)
{
	struct cfg before = c;

	cr_assert_eq(js(text, NULL), -EINVAL, "'%s' accepted", text);
	cr_assert_str_eq(why, want, "'%s'", text);
	cr_assert_arr_eq(&c, &before, sizeof(c), "'%s' changed the configuration", text);
}

Test(fields_json, every_type)
{
	static const uint8_t mac[6] = { 0x52, 0x54, 0, 0xab, 0xcd, 0xef };

	fields_defaults(&set, &c);
	cr_assert_eq(js("{\"size_mib\": 64, \"path_on_host\": \"/d\", \"name\": \"\", "
			"\"some_id\": \"a_1\", \"is_read_only\": true, \"flag\": false, "
			"\"count\": 9, \"big\": 5, \"mode\": \"Gamma\", "
			"\"guest_mac\": \"52:54:00:AB:cd:ef\", \"json_only\": true}",
			NULL),
		     0, "%s", why);
	cr_assert_eq(c.mib, 64);
	cr_assert_str_eq(c.path, "/d");
	cr_assert_str_eq(c.id, "a_1");
	cr_assert(c.ro && c.flag && c.has_count && c.has_mac);
	cr_assert_eq(c.count, 9);
	cr_assert_eq(c.big, 5);
	cr_assert_eq(c.mode, MODE_C);
	cr_assert_arr_eq(c.mac, mac, 6);

	/* null is absent; extra keys belong to the caller. */
	static const char *const extra[] = { "is_root_device", NULL };

	cr_assert_eq(js("{\"size_mib\": 1, \"path_on_host\": \"/e\", \"mode\": null, "
			"\"is_root_device\": true}",
			extra),
		     0, "%s", why);
	cr_assert_str_eq(c.path, "/e");
	cr_assert_eq(c.mode, MODE_C, "null kept the value");
}

Test(fields_json, errors)
{
	fields_defaults(&set, &c);
	js_fails("[]", "thing: expected a JSON object, got an array");
	js_fails("{\"size_mib\": 1}", "thing: missing required field 'path_on_host'");
	js_fails("{\"size_mib\": 1, \"path_on_host\": \"/x\", \"what\": 1}",
		 "thing: unknown field `what`");
	js_fails("{\"size_mib\": \"1\", \"path_on_host\": \"/x\"}",
		 "thing: size_mib: expected an integer, got a string");
	js_fails("{\"size_mib\": 4097, \"path_on_host\": \"/x\"}",
		 "thing: size_mib: 4097 is out of range (0 to 4096)");
	js_fails("{\"size_mib\": -1, \"path_on_host\": \"/x\"}",
		 "thing: size_mib: -1 is out of range (0 to 4096)");
	js_fails("{\"size_mib\": 1, \"path_on_host\": 5}",
		 "thing: path_on_host: expected a string, got an integer");
	js_fails("{\"size_mib\": 1, \"path_on_host\": \"\"}",
		 "thing: path_on_host: must not be empty");
	js_fails("{\"size_mib\": 1, \"path_on_host\": \"/0123456789abcdef\"}",
		 "thing: path_on_host: longer than 15 bytes");
	js_fails("{\"size_mib\": 1, \"path_on_host\": \"/a\\u0000b\"}",
		 "thing: path_on_host: contains a NUL byte");
	js_fails("{\"size_mib\": 1, \"path_on_host\": \"/x\", \"is_read_only\": 1}",
		 "thing: is_read_only: expected a boolean, got an integer");
	js_fails("{\"size_mib\": 1, \"path_on_host\": \"/x\", \"mode\": \"a\"}",
		 "thing: mode: 'a' is not Alpha, Beta or Gamma");
	js_fails("{\"size_mib\": 1, \"path_on_host\": \"/x\", \"some_id\": \"a-b\"}",
		 "thing: some_id: 'a-b' may only hold letters, digits and '_'");
	js_fails("{\"size_mib\": 1, \"path_on_host\": \"/x\", \"name\": \"bad\"}",
		 "thing: name: is unlucky");
	js_fails("{\"size_mib\": 1, \"path_on_host\": \"/x\", \"count\": 13}",
		 "thing: count: is unlucky");
	js_fails("{\"size_mib\": 1, \"path_on_host\": \"/x\", \"guest_mac\": \"ff:ff:ff:ff:ff\"}",
		 "thing: guest_mac: bad MAC 'ff:ff:ff:ff:ff': expected six hex bytes like "
		 "52:54:00:12:34:56");
	/* All or nothing: a good field before a bad one is not stored either. */
	js_fails("{\"size_mib\": 2, \"path_on_host\": \"/new\", \"count\": 0}",
		 "thing: count: 0 is out of range (1 to 100)");
}

Test(fields_json, emitter_round_trip)
{
	struct cfg back;
	json_t *j;
	char *text;

	cr_assert_eq(spec("2G,path=/p,id=x,ro,count=3,mode=a,mac=52:54:00:00:00:01"), 0, "%s", why);
	j = fields_to_json(&set, &c);
	cr_assert_not_null(j);
	text = json_dumps(j, JSON_SORT_KEYS | JSON_COMPACT);
	cr_assert_str_eq(
		text, "{\"big\":0,\"count\":3,\"flag\":false,\"guest_mac\":\"52:54:00:00:00:01\","
		      "\"is_read_only\":true,\"json_only\":false,\"mode\":\"Alpha\",\"name\":null,"
		      "\"path_on_host\":\"/p\",\"size_mib\":2048,\"some_id\":\"x\"}");
	free(text);
	fields_defaults(&set, &back);
	cr_assert_eq(fields_parse_json(&set, "thing", j, NULL, &back, why, sizeof(why)), 0, "%s",
		     why);
	cr_assert_str_eq(back.path, c.path);
	cr_assert_str_eq(back.id, c.id);
	cr_assert_eq(back.mib, c.mib);
	cr_assert_eq(back.count, c.count);
	cr_assert_eq(back.mode, c.mode);
	cr_assert_eq(back.ro, c.ro);
	cr_assert_arr_eq(back.mac, c.mac, 6);
	json_decref(j);

	/* No MAC given: null. */
	cr_assert_eq(spec("1,path=/p"), 0, "%s", why);
	j = fields_to_json(&set, &c);
	cr_assert(json_is_null(json_object_get(j, "guest_mac")));
	json_decref(j);
}

/* --- path rewriting ----------------------------------------------------------- */

static const char *jailed(void *ctx, const struct field *f, const char *value, int *err)
{
	(void)err;
	cr_assert_eq(f->type, FIELD_PATH);
	snprintf(ctx, 64, "/jail%s", value);
	return ctx;
}

Test(fields_rewrite, spec_and_json)
{
	char buf[64], out[128];
	json_t *j;

	cr_assert_eq(fields_rewrite_spec(&set, "64,name=n,path=/d/x=y,,ro", jailed, buf, out,
					 sizeof(out)),
		     0);
	cr_assert_str_eq(out, "64,name=n,path=/jail/d/x=y,,ro");
	cr_assert_eq(fields_rewrite_spec(&set, "1,path=/a", jailed, buf, out, 12), -ENAMETOOLONG);
	cr_assert_eq(fields_rewrite_spec(&set, "", jailed, buf, out, sizeof(out)), 0);
	cr_assert_str_eq(out, "");

	j = json_pack("{s:s, s:s}", "path_on_host", "/d", "name", "/n");
	cr_assert_eq(fields_rewrite_json(&set, j, jailed, buf), 0);
	cr_assert_str_eq(json_string_value(json_object_get(j, "path_on_host")), "/jail/d");
	cr_assert_str_eq(json_string_value(json_object_get(j, "name")), "/n");
	json_decref(j);
}

/* The API's own keys: a rate limiter accepted as null alone, a string that
 * may be left out but not given empty. */
struct api_keys {
	char tag[8];
};

static const struct field api_list[] = {
	{ .json = "tag",
	  .type = FIELD_STRING,
	  .offset = offsetof(struct api_keys, tag),
	  .size = 8,
	  .min = 1,
	  .has = FIELD_NO_HAS },
	{ .json = "rate_limiter", .type = FIELD_NULL, .has = FIELD_NO_HAS },
};

static const struct field_set api_set = {
	.fields = api_list,
	.n = 2,
	.size = sizeof(struct api_keys),
};

static int api_js(const char *text, struct api_keys *k)
{
	json_t *j = json_loads(text, 0, NULL);
	int err;

	cr_assert_not_null(j, "%s", text);
	why[0] = '\0';
	err = fields_parse_json(&api_set, "thing", j, NULL, k, why, sizeof(why));
	json_decref(j);
	return err;
}

Test(fields_json, null_only_and_non_empty_strings)
{
	struct api_keys k = { "old" };
	char *s;
	json_t *j;

	cr_assert_eq(api_js("{\"rate_limiter\": {}}", &k), -EINVAL);
	cr_assert_str_eq(why, "thing: rate_limiter: not supported by volt (only null)");
	cr_assert_eq(api_js("{\"rate_limiter\": 0}", &k), -EINVAL);
	cr_assert_eq(api_js("{\"tag\": \"\"}", &k), -EINVAL);
	cr_assert_str_eq(why, "thing: tag: must not be empty");
	cr_assert_str_eq(k.tag, "old", "a refused object changes nothing");
	cr_assert_eq(api_js("{\"rate_limiter\": null, \"tag\": \"t\"}", &k), 0, "%s", why);
	cr_assert_str_eq(k.tag, "t");
	j = fields_to_json(&api_set, &k);
	s = json_dumps(j, JSON_COMPACT);
	cr_assert_str_eq(s, "{\"tag\":\"t\",\"rate_limiter\":null}");
	free(s);
	json_decref(j);
	/* The set of FIELD_NULLs alone has no storage at all. */
	static const struct field_set nulls = { .fields = &api_list[1], .n = 1 };
	j = json_loads("{\"rate_limiter\": null}", 0, NULL);
	cr_assert_eq(fields_parse_json(&nulls, "thing", j, NULL, NULL, why, sizeof(why)), 0, "%s",
		     why);
	json_decref(j);
}

Test(fields_json, set_string_by_json_key)
{
	fields_defaults(&set, &c);
	cr_assert_eq(fields_set_string(&set, &c, "some_id", "abc"), 0);
	cr_assert_str_eq(c.id, "abc");
	cr_assert_eq(fields_set_string(&set, &c, "some_id", "a"), 0);
	cr_assert_str_eq(c.id, "a");
	cr_assert_eq(c.id, id_intern("a"), "an id is a handle of the pool");
	cr_assert_eq(fields_set_string(&set, &c, "path_on_host", "/0123456789abcdef"),
		     -ENAMETOOLONG);
	cr_assert_eq(fields_set_string(&set, &c, "count", "1"), -ENOENT, "not a string");
	cr_assert_eq(fields_set_string(&set, &c, "nothing", "1"), -ENOENT);
}
