/* The MMDS store, tokens and the guest's HTTP answers (devices/mmds/),
 * against Firecracker 1.16's own unit tests' expectations (mmds/mod.rs,
 * data_store.rs, token.rs, dumbo/tcp/endpoint.rs). */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "devices/mmds/mmds_metrics.h"
#include "devices/mmds/mmds_priv.h"

static uint64_t fake_now;

static uint64_t fake_clock(void *ctx)
{
	(void)ctx;
	return fake_now;
}

static struct mmds *store(size_t limit)
{
	struct mmds *m;

	cr_assert_eq(mmds_create(&m, limit), 0);
	fake_now = 1000000;
	mmds_set_clock(m, fake_clock, NULL);
	return m;
}

static void put(struct mmds *m, const char *json)
{
	char why[256];

	cr_assert_eq(mmds_put(m, json, strlen(json), why, sizeof(why)), 0, "%s", why);
}

static void json_is(struct mmds *m, const char *want)
{
	char *s = mmds_get_json(m);

	cr_assert_str_eq(s, want);
	free(s);
}

/* The whole answer to one request, as a string (NUL-free answers only). */
static char *serve(struct mmds *m, const char *req, int *ret, size_t *consumed)
{
	uint8_t *out;
	size_t out_len, c;
	int r = mmds_http_serve(m, (const uint8_t *)req, strlen(req), false, &c, &out, &out_len);
	char *s;

	if (ret)
		*ret = r;
	if (consumed)
		*consumed = c;
	if (r <= 0)
		return NULL;
	s = malloc(out_len + 1);
	memcpy(s, out, out_len);
	s[out_len] = '\0';
	free(out);
	return s;
}

/* The answer micro_http writes for this status, type and body. */
static char *expect(const char *ver, int status, const char *type, const char *extra,
		    const char *body)
{
	char *s;

	cr_assert(asprintf(&s,
			   "HTTP/%s %d \r\nServer: Firecracker API\r\nConnection: keep-alive\r\n%s"
			   "Content-Type: %s\r\nContent-Length: %zu\r\n\r\n%s",
			   ver, status, extra, type, strlen(body), body) > 0);
	return s;
}

static void answer_is(struct mmds *m, const char *req, const char *ver, int status,
		      const char *type, const char *extra, const char *body)
{
	char *got = serve(m, req, NULL, NULL), *want = expect(ver, status, type, extra, body);

	cr_assert(got, "no answer to %s", req);
	cr_assert_str_eq(got, want, "request: %s", req);
	free(got);
	free(want);
}

/* The body of the answer. */
static char *body_of(struct mmds *m, const char *req)
{
	char *got = serve(m, req, NULL, NULL), *b, *r;

	cr_assert(got);
	b = strstr(got, "\r\n\r\n");
	r = strdup(b + 4);
	free(got);
	return r;
}

static char *new_token(struct mmds *m, unsigned int ttl)
{
	char req[200];

	snprintf(req, sizeof(req),
		 "PUT http://169.254.169.254/latest/api/token HTTP/1.0\r\n"
		 "X-metadata-token-ttl-seconds: %u\r\n\r\n",
		 ttl);
	return body_of(m, req);
}

static const char *const populated =
	"{\"name\": {\"first\": \"John\", \"second\": \"Doe\"}, \"age\": 43, "
	"\"phones\": {\"home\": {\"RO\": \"+401234567\", \"UK\": \"+441234567\"}, "
	"\"mobile\": \"+442345678\"}}";
static const char *const populated_json =
	"{\"age\":43,\"name\":{\"first\":\"John\",\"second\":\"Doe\"},\"phones\":{\"home\":{"
	"\"RO\":\"+401234567\",\"UK\":\"+441234567\"},\"mobile\":\"+442345678\"}}";

/* --- the store ---------------------------------------------------------------- */

Test(mmds, put_get_patch)
{
	struct mmds *m = store(MMDS_DEFAULT_SIZE_LIMIT);
	char why[256];

	json_is(m, "{}");
	cr_assert_eq(mmds_patch(m, "{}", 2, why, sizeof(why)), -ENOENT);
	cr_assert_str_eq(why, "The MMDS data store is not initialized.");
	put(m, "{\"meta-data\":{\"iam\":\"dummy\"},\"user-data\":\"1522850095\"}");
	json_is(m, "{\"meta-data\":{\"iam\":\"dummy\"},\"user-data\":\"1522850095\"}");
	cr_assert_eq(mmds_patch(m, "{\"user-data\":\"10\"}", 18, why, sizeof(why)), 0);
	json_is(m, "{\"meta-data\":{\"iam\":\"dummy\"},\"user-data\":\"10\"}");
	/* Any JSON value, as Firecracker's serde_json::Value. */
	put(m, "[1, \"a\"]");
	json_is(m, "[1,\"a\"]");
	put(m, "null");
	json_is(m, "{}");
	cr_assert_eq(mmds_put(m, "{", 1, why, sizeof(why)), -EINVAL);
	cr_assert_eq(mmds_put(m, "", 0, why, sizeof(why)), -EINVAL);
	mmds_destroy(m);
}

/* Firecracker's test_json_patch, and RFC 7396's appendix A. */
Test(mmds, merge_patch)
{
	static const char *const cases[][3] = {
		{ "{\"name\":{\"first\":\"John\",\"second\":\"Doe\"},\"age\":\"43\",\"phones\":{"
		  "\"home\":{\"RO\":\"+40 1234567\",\"UK\":\"+44 1234567\"},\"mobile\":\"+44 "
		  "2345678\"}}",
		  "{\"name\":{\"second\":null,\"last\":\"Kennedy\"},\"age\":\"44\",\"phones\":{"
		  "\"home\":\"+44 1234567\",\"mobile\":{\"RO\":\"+40 2345678\",\"UK\":\"+44 "
		  "2345678\"}}}",
		  "{\"age\":\"44\",\"name\":{\"first\":\"John\",\"last\":\"Kennedy\"},\"phones\":{"
		  "\"home\":\"+44 1234567\",\"mobile\":{\"RO\":\"+40 2345678\",\"UK\":\"+44 "
		  "2345678\"}}}" },
		{ "{\"a\":\"b\"}", "{\"a\":\"c\"}", "{\"a\":\"c\"}" },
		{ "{\"a\":\"b\"}", "{\"b\":\"c\"}", "{\"a\":\"b\",\"b\":\"c\"}" },
		{ "{\"a\":\"b\"}", "{\"a\":null}", "{}" },
		{ "{\"a\":\"b\",\"b\":\"c\"}", "{\"a\":null}", "{\"b\":\"c\"}" },
		{ "{\"a\":[\"b\"]}", "{\"a\":\"c\"}", "{\"a\":\"c\"}" },
		{ "{\"a\":\"c\"}", "{\"a\":[\"b\"]}", "{\"a\":[\"b\"]}" },
		{ "{\"a\":{\"b\":\"c\"}}", "{\"a\":{\"b\":\"d\",\"c\":null}}",
		  "{\"a\":{\"b\":\"d\"}}" },
		{ "{\"a\":[{\"b\":\"c\"}]}", "{\"a\":[1]}", "{\"a\":[1]}" },
		{ "[\"a\",\"b\"]", "[\"c\",\"d\"]", "[\"c\",\"d\"]" },
		{ "{\"a\":\"b\"}", "[\"c\"]", "[\"c\"]" },
		{ "{\"e\":null}", "{\"a\":1}", "{\"a\":1,\"e\":null}" },
		{ "[1,2]", "{\"a\":\"b\",\"c\":null}", "{\"a\":\"b\"}" },
		{ "{}", "{\"a\":{\"bb\":{\"ccc\":null}}}", "{\"a\":{\"bb\":{}}}" },
	};
	char why[256];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct mmds *m = store(MMDS_DEFAULT_SIZE_LIMIT);

		put(m, cases[i][0]);
		cr_assert_eq(mmds_patch(m, cases[i][1], strlen(cases[i][1]), why, sizeof(why)), 0);
		json_is(m, cases[i][2]);
		mmds_destroy(m);
	}
}

/* The limit counts serde_json's compact text; a refused PUT or PATCH
 * changes nothing (Firecracker's test_mmds_limit_scenario). */
Test(mmds, size_limit)
{
	struct mmds *m = store(51200);
	char why[256], *big = malloc(60000), *s;
	size_t n;

	put(m, "{\"latest\": {\"meta-data\": {\"ami-id\": \"dummy\"}}}");
	n = (size_t)sprintf(big,
			    "{\"latest\":{\"meta-data\":{\"ami-id\":\"smth\",\"secret_key\":\"");
	memset(big + n, 'a', 51200);
	strcpy(big + n + 51200, "\"}}}");
	cr_assert_eq(mmds_put(m, big, strlen(big), why, sizeof(why)), -EFBIG);
	cr_assert_str_eq(why, "The MMDS patch request doesn't fit.");
	json_is(m, "{\"latest\":{\"meta-data\":{\"ami-id\":\"dummy\"}}}");
	/* 51137 'a's (Firecracker's test) leave 5 bytes: too few for another key. */
	strcpy(big + n + 51137, "\"}}}");
	cr_assert_eq(mmds_patch(m, big, strlen(big), why, sizeof(why)), 0);
	s = mmds_get_json(m);
	cr_assert_eq(strlen(s), 51195);
	free(s);
	s = "{\"latest\":{\"meta-data\":{\"ami-id\":\"smth\",\"secret_key2\":\"bbbbbbbbbb\"}}}";
	cr_assert_eq(mmds_patch(m, s, strlen(s), why, sizeof(why)), -EFBIG);
	s = "{\"latest\":{\"meta-data\":{\"ami-id\":\"smth\",\"secret_key\":\"a\"}}}";
	cr_assert_eq(mmds_patch(m, s, strlen(s), why, sizeof(why)), 0);
	json_is(m, "{\"latest\":{\"meta-data\":{\"ami-id\":\"smth\",\"secret_key\":\"a\"}}}");
	mmds_destroy(m);
	/* Limit 0: not even {} fits. */
	m = store(0);
	cr_assert_eq(mmds_put(m, "{}", 2, why, sizeof(why)), -EFBIG);
	mmds_destroy(m);
	m = store(2);
	put(m, "{}");
	mmds_destroy(m);
	free(big);
}

/* serde_json's text: sorted keys, its escapes, ryu's floats, duplicate
 * keys (the last wins), its recursion limit. */
Test(mmds, serde_text)
{
	struct mmds *m = store(MMDS_DEFAULT_SIZE_LIMIT);
	char why[256], deep[300];

	put(m, "{\"b\":1,\"a\":2,\"B\":3,\"aa\":4,\"a\":5}");
	json_is(m, "{\"B\":3,\"a\":5,\"aa\":4,\"b\":1}");
	put(m, "[\"\\u0001\\b\\f\\n\\r\\t\\\"\\\\/\\u007f\\u00e9\\u2028\"]");
	json_is(m, "[\"\\u0001\\b\\f\\n\\r\\t\\\"\\\\/\x7f\xc3\xa9\xe2\x80\xa8\"]");
	put(m, "[1.0, 12.12, -24, 0.1, 1e300, 1.5e-7, 100000000000000000000.0, 1e16, 1e15, "
	       "0.00001, 0.000001, 0.0001, -0.0, 123456.789, 9007199254740993]");
	json_is(m,
		"[1.0,12.12,-24,0.1,1e300,1.5e-7,1e20,1e16,1000000000000000.0,0.00001,1e-6,0.0001,"
		"-0.0,123456.789,9007199254740993]");
	for (int i = 0; i < 127; i++)
		deep[i] = '[';
	for (int i = 0; i < 127; i++)
		deep[127 + i] = ']';
	put(m, (deep[254] = '\0', deep));
	memmove(deep + 1, deep, 255);
	deep[0] = '[';
	deep[255] = ']';
	cr_assert_eq(mmds_put(m, deep, 256, why, sizeof(why)), -EINVAL);
	mmds_destroy(m);
}

Test(mmds, pointer)
{
	json_t *v = json_loads("{\"a\":{\"b/c\":1,\"d~e\":2,\"\":3},\"l\":[10,20]}", 0, NULL);
	const json_t *r;

	cr_assert_eq(mmds_json_pointer(v, "", 0), v);
	cr_assert_null(mmds_json_pointer(v, "a", 1));
	r = mmds_json_pointer(v, "/a/b~1c", 7);
	cr_assert_eq(json_integer_value(r), 1);
	r = mmds_json_pointer(v, "/a/d~0e", 7);
	cr_assert_eq(json_integer_value(r), 2);
	r = mmds_json_pointer(v, "/a/", 3);
	cr_assert_eq(json_integer_value(r), 3);
	cr_assert_eq(json_integer_value(mmds_json_pointer(v, "/l/1", 4)), 20);
	cr_assert_null(mmds_json_pointer(v, "/l/01", 5));
	cr_assert_null(mmds_json_pointer(v, "/l/+1", 5));
	cr_assert_null(mmds_json_pointer(v, "/l/2", 4));
	cr_assert_null(mmds_json_pointer(v, "/l/1/x", 6));
	cr_assert_null(mmds_json_pointer(v, "/a\0", 3));
	json_decref(v);
}

/* --- tokens ------------------------------------------------------------------- */

Test(mmds, tokens)
{
	struct mmds *m = store(MMDS_DEFAULT_SIZE_LIMIT), *other = store(10);
	char t[MMDS_TOKEN_TEXT_MAX], u[MMDS_TOKEN_TEXT_MAX];

	cr_assert_eq(mmds_token_new(m, 0, t), -EINVAL);
	cr_assert_eq(mmds_token_new(m, 21601, t), -EINVAL);
	cr_assert_eq(mmds_token_new(m, 1, t), 0);
	cr_assert_eq(strlen(t), 48);
	cr_assert(mmds_token_valid(m, t, strlen(t)));
	cr_assert_not(mmds_token_valid(other, t, strlen(t)), "another store's key");
	fake_now += 999;
	cr_assert(mmds_token_valid(m, t, strlen(t)));
	fake_now += 1;
	cr_assert_not(mmds_token_valid(m, t, strlen(t)), "expired at its TTL");
	cr_assert_eq(mmds_token_new(m, 21600, t), 0);
	cr_assert_eq(mmds_token_new(m, 21600, u), 0);
	cr_assert_str_neq(t, u);
	/* Every altered character, truncations, garbage. */
	for (size_t i = 0; i < 48; i++) {
		strcpy(u, t);
		u[i] = u[i] == 'A' ? 'B' : 'A';
		cr_assert_not(mmds_token_valid(m, u, 48), "altered at %zu", i);
	}
	cr_assert_not(mmds_token_valid(m, t, 47));
	cr_assert_not(mmds_token_valid(m, "", 0));
	cr_assert_not(mmds_token_valid(m, "INVALID_TOKEN", 13));
	memset(u, '=', 48);
	cr_assert_not(mmds_token_valid(m, u, 48));
	mmds_destroy(m);
	mmds_destroy(other);
}

Test(mmds, hmac_rfc4231)
{
	uint8_t key[20], out[32];
	char hex[65];

	memset(key, 0x0b, sizeof(key));
	mmds_hmac_sha256(key, sizeof(key), "Hi There", 8, out);
	for (int i = 0; i < 32; i++)
		sprintf(hex + 2 * i, "%02x", out[i]);
	cr_assert_str_eq(hex, "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7");
}

/* --- the guest's answers ------------------------------------------------------ */

#define TEXT "text/plain"
#define JSON "application/json"

/* Firecracker's test_request_accept_header. */
Test(mmds, accept_header)
{
	struct mmds *m = store(MMDS_DEFAULT_SIZE_LIMIT);

	put(m, populated);
	answer_is(m, "GET http://169.254.169.254/ HTTP/1.0\r\n\r\n", "1.0", 200, TEXT, "",
		  "age\nname/\nphones/");
	answer_is(m, "GET http://169.254.169.254/ HTTP/1.0\r\nAccept:\r\n\r\n", "1.0", 200, TEXT,
		  "", "age\nname/\nphones/");
	answer_is(m, "GET http://169.254.169.254/ HTTP/1.0\r\nAccept: */*\r\n\r\n", "1.0", 200,
		  TEXT, "", "age\nname/\nphones/");
	answer_is(m, "GET http://169.254.169.254/ HTTP/1.0\r\nAccept: text/plain\r\n\r\n", "1.0",
		  200, TEXT, "", "age\nname/\nphones/");
	answer_is(m, "GET http://169.254.169.254/ HTTP/1.0\r\nAccept: application/json\r\n\r\n",
		  "1.0", 200, JSON, "", populated_json);
	answer_is(m, "GET /name/first HTTP/1.1\r\n\r\n", "1.1", 200, TEXT, "", "John");
	answer_is(m, "GET //name//first/ HTTP/1.1\r\nAccept: application/json\r\n\r\n", "1.1", 200,
		  JSON, "", "\"John\"");
	answer_is(m, "GET /phones/ HTTP/1.1\r\n\r\n", "1.1", 200, TEXT, "", "home/\nmobile");
	mmds_destroy(m);
}

/* Firecracker's test_get_value: imds_compat answers IMDS text whatever the
 * Accept header says (its Content-Type stays the one asked for). */
Test(mmds, imds_compat_and_types)
{
	struct mmds *m = store(MMDS_DEFAULT_SIZE_LIMIT);
	struct mmds_config c = { .version = MMDS_V1, .ipv4 = MMDS_DEFAULT_IPV4 };

	put(m, "{\"age\":43,\"phones\":[\"+401234567\",\"+441234567\"],\"member\":false,"
	       "\"json_string\":\"{\\n  \\\"hello\\\": \\\"world\\\"\\n}\",\"n\":{\"a\":1}}");
	answer_is(m, "GET /age HTTP/1.1\r\n\r\n", "1.1", 501, TEXT, "",
		  "Cannot retrieve value. The value has an unsupported type.");
	answer_is(m, "GET /age HTTP/1.1\r\nAccept: application/json\r\n\r\n", "1.1", 200, JSON, "",
		  "43");
	answer_is(m, "GET /phones/ HTTP/1.1\r\nAccept: application/json\r\n\r\n", "1.1", 200, JSON,
		  "", "[\"+401234567\",\"+441234567\"]");
	answer_is(m, "GET /phones/0/ HTTP/1.1\r\n\r\n", "1.1", 200, TEXT, "", "+401234567");
	answer_is(m, "GET /json_string HTTP/1.1\r\n\r\n", "1.1", 200, TEXT, "",
		  "{\n  \"hello\": \"world\"\n}");
	c.imds_compat = true;
	mmds_set_config(m, &c);
	answer_is(m, "GET /n HTTP/1.1\r\nAccept: application/json\r\n\r\n", "1.1", 200, JSON, "",
		  "a");
	answer_is(m, "GET /age HTTP/1.1\r\nAccept: application/json\r\n\r\n", "1.1", 501, TEXT, "",
		  "Cannot retrieve value. The value has an unsupported type.");
	mmds_destroy(m);
	/* A store never PUT (after a restore): JSON null, unsupported as text. */
	m = store(MMDS_DEFAULT_SIZE_LIMIT);
	answer_is(m, "GET / HTTP/1.1\r\nAccept: application/json\r\n\r\n", "1.1", 200, JSON, "",
		  "null");
	answer_is(m, "GET / HTTP/1.1\r\n\r\n", "1.1", 501, TEXT, "",
		  "Cannot retrieve value. The value has an unsupported type.");
	answer_is(m, "GET /a HTTP/1.1\r\n\r\n", "1.1", 404, TEXT, "", "Resource not found: /a.");
	mmds_destroy(m);
}

/* serde_json's Value keeps an integer past i64 exactly up to 2^64-1 and as
 * an f64 beyond (and below i64); jansson alone refuses both. */
/* serde_json makes the f64 -0.0 of -0 (an i64 has no negative zero). */
Test(mmds, negative_zero)
{
	struct mmds *m = store(MMDS_DEFAULT_SIZE_LIMIT);

	put(m, "{\"z\":-0,\"a\":[-0, -0.0, 0, -0.5, -0e0, \"-0\", {\"-0\": -0}]}");
	json_is(m, "{\"a\":[-0.0,-0.0,0,-0.5,-0.0,\"-0\",{\"-0\":-0.0}],\"z\":-0.0}");
	put(m, "-0");
	json_is(m, "-0.0");
	put(m, "[\"-0\", 1]");
	json_is(m, "[\"-0\",1]");
	mmds_destroy(m);
}

Test(mmds, integers_past_i64)
{
	static const char patch[] = "{\"i\":18446744073709551614,\"j\":null}";
	struct mmds *m = store(MMDS_DEFAULT_SIZE_LIMIT);
	char why[256];

	put(m, "{\"max\":18446744073709551615,\"i\":9223372036854775807,"
	       "\"j\":9223372036854775808,\"n\":-9223372036854775808,"
	       "\"below\":-9223372036854775809,\"over\":18446744073709551616,"
	       "\"huge\":99999999999999999999999,\"a\":[18446744073709551615,{\"x\":"
	       "10000000000000000000}],\"s\":\"18446744073709551615\"}");
	json_is(m, "{\"a\":[18446744073709551615,{\"x\":10000000000000000000}],"
		   "\"below\":-9.223372036854776e18,\"huge\":1e23,\"i\":9223372036854775807,"
		   "\"j\":9223372036854775808,\"max\":18446744073709551615,"
		   "\"n\":-9223372036854775808,\"over\":1.8446744073709552e19,"
		   "\"s\":\"18446744073709551615\"}");
	/* A number to the guest's IMDS answer, not a string; in JSON, itself. */
	answer_is(m, "GET /max HTTP/1.1\r\n\r\n", "1.1", 501, TEXT, "",
		  "Cannot retrieve value. The value has an unsupported type.");
	answer_is(m, "GET /a/0 HTTP/1.1\r\nAccept: application/json\r\n\r\n", "1.1", 200, JSON, "",
		  "18446744073709551615");
	answer_is(m, "GET /s HTTP/1.1\r\n\r\n", "1.1", 200, TEXT, "", "18446744073709551615");
	/* Kept through a merge patch, and the text alone. */
	cr_assert_eq(mmds_patch(m, patch, strlen(patch), why, sizeof(why)), 0, "%s", why);
	json_is(m, "{\"a\":[18446744073709551615,{\"x\":10000000000000000000}],"
		   "\"below\":-9.223372036854776e18,\"huge\":1e23,\"i\":18446744073709551614,"
		   "\"max\":18446744073709551615,\"n\":-9223372036854775808,"
		   "\"over\":1.8446744073709552e19,\"s\":\"18446744073709551615\"}");
	put(m, "18446744073709551615");
	json_is(m, "18446744073709551615");
	/* Strings holding control bytes (the escapes a rewrite would use) stay
	 * strings, the integer beside them a number. */
	put(m, "[\"\\u0001\\u0002\", \"\\u00011\", 18446744073709551615, \"\\\\u0003\"]");
	json_is(m, "[\"\\u0001\\u0002\",\"\\u00011\",18446744073709551615,\"\\\\u0003\"]");
	/* The size limit counts the number's digits. */
	mmds_destroy(m);
	m = store(20);
	put(m, "18446744073709551615");
	cr_assert_eq(mmds_put(m, "[18446744073709551615]", 22, why, sizeof(why)), -EFBIG);
	/* Faults further on are still faults, told by line. */
	cr_assert_eq(mmds_put(m, "{\"a\" 18446744073709551615}", 26, why, sizeof(why)), -EINVAL);
	cr_assert_str_eq(why, "invalid JSON at line 1: ':' expected");
	cr_assert_eq(mmds_put(m, "[18446744073709551615", 21, why, sizeof(why)), -EINVAL);
	cr_assert(strstr(why, "EOF while parsing a list"), "%s", why);
	cr_assert_eq(mmds_put(m, "[1e400, 18446744073709551615]", 29, why, sizeof(why)), -EINVAL);
	mmds_destroy(m);
}

static const char *const no_token =
	"No MMDS token provided. Use `X-metadata-token` or `X-aws-ec2-metadata-token` header to "
	"specify the session token.";

Test(mmds, v1_and_v2)
{
	struct mmds *m = store(MMDS_DEFAULT_SIZE_LIMIT);
	struct mmds_config c = { .version = MMDS_V2, .ipv4 = MMDS_DEFAULT_IPV4 };
	char req[300], *tok;

	put(m, populated);
	/* V1: no token, a bad token: both served, and counted. */
	mmds_metrics.rx_no_token = mmds_metrics.rx_invalid_token = 0;
	answer_is(m, "GET / HTTP/1.0\r\nAccept: application/json\r\n\r\n", "1.0", 200, JSON, "",
		  populated_json);
	answer_is(m,
		  "GET / HTTP/1.0\r\nAccept: application/json\r\nX-metadata-token: INVALID\r\n\r\n",
		  "1.0", 200, JSON, "", populated_json);
	cr_assert_eq(mmds_metrics.rx_no_token, 1);
	cr_assert_eq(mmds_metrics.rx_invalid_token, 1);
	mmds_set_config(m, &c);
	answer_is(m, "GET http://169.254.169.254/ HTTP/1.0\r\n\r\n", "1.0", 401, TEXT, "",
		  no_token);
	answer_is(m, "GET / HTTP/1.0\r\nX-metadata-token: INVALID_TOKEN\r\n\r\n", "1.0", 401, TEXT,
		  "", "MMDS token not valid.");
	tok = new_token(m, 60);
	snprintf(req, sizeof(req),
		 "GET / HTTP/1.0\r\nAccept: application/json\r\nx-AWS-ec2-metadata-token: "
		 "%s\r\n\r\n",
		 tok);
	answer_is(m, req, "1.0", 200, JSON, "", populated_json);
	/* The TTL header of a GET is not looked at. */
	snprintf(req, sizeof(req),
		 "GET / HTTP/1.0\r\nX-metadata-token: %s\r\nX-metadata-token-ttl-seconds: "
		 "application/json\r\n\r\n",
		 tok);
	answer_is(m, req, "1.0", 200, TEXT, "", "age\nname/\nphones/");
	fake_now += 60000;
	snprintf(req, sizeof(req), "GET / HTTP/1.0\r\nX-metadata-token: %s\r\n\r\n", tok);
	answer_is(m, req, "1.0", 401, TEXT, "", "MMDS token not valid.");
	free(tok);
	mmds_destroy(m);
}

Test(mmds, put_token)
{
	struct mmds *m = store(MMDS_DEFAULT_SIZE_LIMIT);
	char *got, *tok;
	const char *hdrs[] = { "X-Forwarded-For", "x-forwarded-for", "X-fOrWaRdEd-FoR" };

	got = serve(m,
		    "PUT http://169.254.169.254/latest/api/token HTTP/1.0\r\n"
		    "X-metadata-token-ttl-seconds: 60\r\n\r\n",
		    NULL, NULL);
	cr_assert(!strncmp(got, "HTTP/1.0 200 \r\n", 15));
	cr_assert(strstr(got, "\r\nX-metadata-token-ttl-seconds: 60\r\n"));
	cr_assert(strstr(got, "\r\nContent-Type: text/plain\r\nContent-Length: 48\r\n\r\n"));
	tok = strstr(got, "\r\n\r\n") + 4;
	cr_assert_eq(strlen(tok), 48);
	cr_assert(mmds_token_valid(m, tok, 48));
	free(got);
	for (size_t i = 0; i < 3; i++) {
		char req[200], msg[200];

		snprintf(req, sizeof(req),
			 "PUT http://169.254.169.254/latest/api/token HTTP/1.0\r\n%s: "
			 "203.0.113.195\r\n\r\n",
			 hdrs[i]);
		snprintf(msg, sizeof(msg),
			 "Invalid header. Reason: Unsupported header name. Key: %s", hdrs[i]);
		answer_is(m, req, "1.0", 400, TEXT, "", msg);
	}
	answer_is(m,
		  "PUT http://169.254.169.254/token HTTP/1.0\r\nX-metadata-token-ttl-seconds: "
		  "60\r\n\r\n",
		  "1.0", 404, TEXT, "", "Resource not found: /token.");
	answer_is(m,
		  "PUT http://169.254.169.254/latest/api/token HTTP/1.0\r\n"
		  "X-metadata-token-ttl-seconds: application/json\r\n\r\n",
		  "1.0", 400, TEXT, "",
		  "Invalid header. Reason: Invalid value. Key:X-metadata-token-ttl-seconds; "
		  "Value:application/json");
	answer_is(m,
		  "PUT http://169.254.169.254/latest/api/token HTTP/1.0\r\n"
		  "X-metadata-token-ttl-seconds: 0\r\n\r\n",
		  "1.0", 400, TEXT, "",
		  "Invalid time to live value provided for token: 0. Please provide a value "
		  "between 1 and 21600.");
	answer_is(m,
		  "PUT http://169.254.169.254/latest/api/token HTTP/1.0\r\n"
		  "X-aws-ec2-metadata-token-ttl-seconds: 21601\r\n\r\n",
		  "1.0", 400, TEXT, "",
		  "Invalid time to live value provided for token: 21601. Please provide a value "
		  "between 1 and 21600.");
	answer_is(m, "PUT http://169.254.169.254/latest/api/token HTTP/1.0\r\n\r\n", "1.0", 400,
		  TEXT, "",
		  "Token time to live value not found. Use `X-metadata-token-ttl-seconds` or "
		  "`X-aws-ec2-metadata-token-ttl-seconds` header to specify the token's lifetime.");
	/* "//latest//api/token" is the token path too; the name is echoed as sent. */
	got = serve(m,
		    "PUT //latest//api/token HTTP/1.1\r\nx-aws-EC2-metadata-token-ttl-seconds: "
		    "+7\r\n\r\n",
		    NULL, NULL);
	cr_assert(strstr(got, "\r\nx-aws-EC2-metadata-token-ttl-seconds: 7\r\n"), "%s", got);
	free(got);
	tok = new_token(m, 5);
	cr_assert_eq(strlen(tok), 48);
	free(tok);
	mmds_destroy(m);
}

/* micro_http's parse errors (endpoint.rs's test_parse_request_bytes_error)
 * and Firecracker's convert_to_response() refusals. */
Test(mmds, malformed)
{
	struct mmds *m = store(MMDS_DEFAULT_SIZE_LIMIT);

	put(m, populated);
	answer_is(m, "GET http://169.254.169.255/ HTTP/2.0\r\n\r\n", "1.1", 501, JSON, "",
		  "Unsupported HTTP version.");
	answer_is(m, "GET   HTTP/1.0\r\n\r\n", "1.1", 400, JSON, "", "Empty URI not allowed.");
	answer_is(m, "POST http://169.254.169.255/ HTTP/1.0\r\n\r\n", "1.1", 501, JSON, "",
		  "Unsupported HTTP method.");
	answer_is(m, "get / HTTP/1.0\r\n\r\n", "1.1", 501, JSON, "", "Unsupported HTTP method.");
	answer_is(m, "PATCH http://169.254.169.255/ HTTP/1.0\r\n\r\n", "1.0", 405, TEXT,
		  "Allow: GET, PUT\r\n", "Not allowed HTTP method.");
	answer_is(m, "DELETE / HTTP/1.1\r\n\r\n", "1.1", 405, TEXT, "Allow: GET, PUT\r\n",
		  "Not allowed HTTP method.");
	answer_is(m, "GET http:// HTTP/1.0\r\n\r\n", "1.0", 400, TEXT, "", "Invalid URI.");
	answer_is(m, "GET latest HTTP/1.0\r\n\r\n", "1.0", 400, TEXT, "", "Invalid URI.");
	answer_is(m, "GET / HTTP/1.1\n\n", "1.1", 400, JSON, "", "Invalid request.");
	answer_is(m, "GET /\r\n\r\n", "1.1", 400, JSON, "", "Invalid request.");
	answer_is(m,
		  "PATCH http://localhost/home HTTP/1.1\r\nExpect: 100-continue\r\n"
		  "Transfer-Encoding: identity; q=0\r\nContent-Length: alpha\r\n\r\n",
		  "1.1", 400, JSON, "", "Invalid value. Key:Content-Length; Value: alpha");
	answer_is(m,
		  "PATCH http://localhost/home HTTP/1.1\r\nContent-Length: 67\r\n"
		  "Accept-Encoding: deflate, compress, *;q=0\r\n\r\n",
		  "1.1", 400, JSON, "", "Invalid value. Key:Accept-Encoding; Value: *;q=0");
	answer_is(m, "GET / HTTP/1.1\r\nAccept-Encoding: identity, *;q=0\r\n\r\n", "1.1", 200, TEXT,
		  "", "age\nname/\nphones/");
	answer_is(m, "GET / HTTP/1.1\r\nAccept-Encoding: \r\n\r\n", "1.1", 400, JSON, "",
		  "Invalid request.");
	answer_is(m, "GET / HTTP/1.1\r\nNoColon\r\n\r\n", "1.1", 400, JSON, "",
		  "Header is incorrectly formatted. Key: NoColon");
	/* A body is never read (test_guest_mmds_hang: "Invalid request"). */
	answer_is(m, "GET / HTTP/1.1\r\nContent-Length: 100\r\n\r\n", "1.1", 400, JSON, "",
		  "Invalid request.");
	answer_is(m, "PUT / HTTP/1.1\r\nContent-Length: 9\r\n\r\n", "1.1", 400, JSON, "",
		  "Invalid request.");
	answer_is(m, "GET / HTTP/1.1\r\nContent-Length: 0\r\n\r\n", "1.1", 200, TEXT, "",
		  "age\nname/\nphones/");
	answer_is(m, "GET /\xff HTTP/1.1\r\n\r\n", "1.1", 400, JSON, "",
		  "Cannot parse URI as UTF-8.");
	answer_is(m, "GET / HTTP/1.1\r\nX: \xff\r\n\r\n", "1.1", 400, JSON, "", "Invalid request.");
	mmds_destroy(m);
}

/* Partial requests wait; pipelined ones are taken one at a time; a full
 * buffer with no request in it is answered and closed. */
Test(mmds, framing)
{
	struct mmds *m = store(MMDS_DEFAULT_SIZE_LIMIT);
	const char *two = "GET /a HTTP/1.1\r\n\r\nGET /b HTTP/1.1\r\n\r\n";
	char junk[MMDS_HTTP_REQUEST_MAX];
	uint8_t *out;
	size_t out_len, c;
	int ret;

	put(m, "{\"a\":\"1\",\"b\":\"2\"}");
	cr_assert_null(serve(m, "GET /a HTTP/1.1\r\n", &ret, NULL));
	cr_assert_eq(ret, 0);
	cr_assert_null(serve(m, "GE", &ret, NULL));
	cr_assert_eq(ret, 0);
	free(serve(m, two, &ret, &c));
	cr_assert_eq(ret, 1);
	cr_assert_eq(c, strlen(two) / 2);
	memset(junk, 'x', sizeof(junk));
	ret = mmds_http_serve(m, (uint8_t *)junk, sizeof(junk), false, &c, &out, &out_len);
	cr_assert_eq(ret, 0);
	ret = mmds_http_serve(m, (uint8_t *)junk, sizeof(junk), true, &c, &out, &out_len);
	cr_assert_eq(ret, 2);
	cr_assert_eq(c, sizeof(junk));
	cr_assert(out_len > 12 && !memcmp(out, "HTTP/1.1 400 ", 13));
	free(out);
	mmds_destroy(m);
}

/* `Connection: close` changes nothing: micro_http's Response always says
 * "Connection: keep-alive" and has no Connection request header, and
 * Firecracker's TCP endpoint (dumbo/tcp/endpoint.rs) closes a connection only
 * after the guest's FIN. */
Test(mmds, connection_close_is_ignored_as_in_firecracker)
{
	struct mmds *m = store(MMDS_DEFAULT_SIZE_LIMIT);
	struct mmds_config c = { .version = MMDS_V1, .ipv4 = MMDS_DEFAULT_IPV4 };
	int ret;
	char *got;

	mmds_set_config(m, &c);
	put(m, "{\"a\":\"b\"}");
	answer_is(m, "GET /a HTTP/1.1\r\nConnection: close\r\n\r\n", "1.1", 200, TEXT, "", "b");
	answer_is(m, "GET /a HTTP/1.0\r\nConnection: close\r\n\r\n", "1.0", 200, TEXT, "", "b");
	got = serve(m, "GET /a HTTP/1.1\r\nConnection: close\r\n\r\n", &ret, NULL);
	cr_assert_eq(ret, 1, "the connection stays");
	free(got);
	mmds_destroy(m);
}
