/* api/json_pos: serde_json's error positions, beside jansson's tree. The
 * expected columns are serde_json's (SliceRead: bytes before the position on
 * its line), two of them from Firecracker's own parser tests. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "api/json_pos.h"

/* Parses and indexes text; the tree is the index's to hold, as a request's. */
static json_t *indexed(const char *text)
{
	json_error_t e;
	json_t *j = json_loads(text, JSON_REJECT_DUPLICATES, &e);

	cr_assert(j, "%s: %s", text, e.text);
	json_pos_index(j, text, strlen(text));
	return j;
}

static void pos_is(bool found, const struct json_pos *p, int line, int column)
{
	cr_assert(found, "not found");
	cr_assert_eq(p->line, line, "line %d, wanted %d", p->line, line);
	cr_assert_eq(p->column, column, "column %d, wanted %d", p->column, column);
}

Test(json_pos, firecrackers_missing_fields_on_later_lines)
{
	/* src/firecracker/src/api_server/request/snapshot.rs: "missing field
	 * `backend_type` at line 5 column 13", "`snapshot_path` at line 6 column 9". */
	json_t *j = indexed("{\n            \"snapshot_path\": \"foo\",\n            "
			    "\"mem_backend\": {\n                \"backend_path\": \"bar\"\n"
			    "            }\n        }");
	struct json_pos p;

	pos_is(json_pos_container(json_object_get(j, "mem_backend"), JSON_POS_END, &p), &p, 5, 13);
	pos_is(json_pos_container(j, JSON_POS_END, &p), &p, 6, 9);
	json_decref(j);
}

Test(json_pos, keys_values_and_containers)
{
	json_t *j =
		indexed("{\"a\" : 12, \"b\": \"x\\\"y\", \"c\": [true, {}], \"d\": {\"e\": null}}");
	json_t *c = json_object_get(j, "c");
	struct json_pos p;

	/* An unknown field: after the key and the blanks after it. */
	pos_is(json_pos_member(j, "a", JSON_POS_KEY, &p), &p, 1, 5);
	/* A wrong type: after a scalar (escapes included)... */
	pos_is(json_pos_member(j, "a", JSON_POS_VALUE, &p), &p, 1, 9);
	pos_is(json_pos_member(j, "b", JSON_POS_VALUE, &p), &p, 1, 22);
	/* ...at a sequence or a map, where serde only peeked. */
	pos_is(json_pos_member(j, "c", JSON_POS_VALUE, &p), &p, 1, 29);
	pos_is(json_pos_member(j, "d", JSON_POS_VALUE, &p), &p, 1, 46);
	/* serde's "expected value": the first byte, counted from 1. */
	pos_is(json_pos_member(j, "a", JSON_POS_PEEK, &p), &p, 1, 8);
	/* Elements, by index: true is shared by every true, found by place. */
	pos_is(json_pos_element(c, 0, JSON_POS_VALUE, &p), &p, 1, 34);
	pos_is(json_pos_element(c, 1, JSON_POS_VALUE, &p), &p, 1, 36);
	pos_is(json_pos_container(json_array_get(c, 1), JSON_POS_END, &p), &p, 1, 38);
	/* A nested member, and the root's end. */
	pos_is(json_pos_member(json_object_get(j, "d"), "e", JSON_POS_VALUE, &p), &p, 1, 56);
	pos_is(json_pos_container(j, JSON_POS_END, &p), &p, 1, 58);
	/* What is not there is not found. */
	cr_assert_not(json_pos_member(j, "z", JSON_POS_KEY, &p));
	cr_assert_not(json_pos_element(c, 2, JSON_POS_VALUE, &p));
	cr_assert_not(json_pos_container(json_true(), JSON_POS_END, &p));
	json_decref(j);
}

Test(json_pos, custom_errors_stand_where_the_container_end_left_serde)
{
	/* A Deserialize impl's error gets its position after serde's end_seq or
	 * end_map read on: an array's comma and blanks, or the closing bracket. */
	json_t *j = indexed("{\"k\": [\"x\" , \"y\"], \"m\": {\"a\": \"0xZ\" }}");
	json_t *k = json_object_get(j, "k");
	struct json_pos p;

	pos_is(json_pos_element(k, 0, JSON_POS_VALUE, &p), &p, 1, 10);
	pos_is(json_pos_element(k, 0, JSON_POS_CUSTOM, &p), &p, 1, 13);
	pos_is(json_pos_element(k, 1, JSON_POS_CUSTOM, &p), &p, 1, 17);
	pos_is(json_pos_member(json_object_get(j, "m"), "a", JSON_POS_CUSTOM, &p), &p, 1, 37);
	json_decref(j);
}

Test(json_pos, escaped_keys)
{
	json_t *j = indexed("{\"a\\\"b\\n\": 1, \"\\u0041\": 2}");
	struct json_pos p;

	pos_is(json_pos_member(j, "a\"b\n", JSON_POS_KEY, &p), &p, 1, 9);
	pos_is(json_pos_member(j, "A", JSON_POS_VALUE, &p), &p, 1, 25);
	json_decref(j);
}

Test(json_pos, text_for_a_message)
{
	json_t *j = indexed("{\"a\": 1}");
	char buf[48];

	cr_assert_str_eq(json_pos_member_text(j, "a", JSON_POS_KEY, buf, sizeof(buf)),
			 " at line 1 column 4");
	cr_assert_str_eq(json_pos_member_text(j, "b", JSON_POS_KEY, buf, sizeof(buf)), "");
	cr_assert_str_eq(json_pos_container_text(j, JSON_POS_END, buf, sizeof(buf)),
			 " at line 1 column 8");
	json_decref(j);
}

Test(json_pos, the_index_holds_its_tree)
{
	/* The caller frees its tree; the index keeps it (ASan would see a use
	 * after free), and a new body replaces it. */
	json_t *j = indexed("{\"a\": {\"b\": 1}}");
	json_t *a = json_object_get(j, "a");
	struct json_pos p;

	json_decref(j);
	pos_is(json_pos_member(a, "b", JSON_POS_VALUE, &p), &p, 1, 13);
	json_decref(indexed("{\"c\": 2}"));
	cr_assert_not(json_pos_member(a, "b", JSON_POS_VALUE, &p));
}

Test(json_pos, a_text_that_is_not_the_trees_indexes_nothing)
{
	json_error_t e;
	json_t *j = json_loads("{\"a\": 1, \"b\": 2}", 0, &e);
	struct json_pos p;

	json_pos_index(j, "{\"a\": 1}", 8);
	cr_assert_not(json_pos_container(j, JSON_POS_END, &p));
	json_pos_index(j, "{\"b\": 2, \"a\": 1}", 16);
	cr_assert_not(json_pos_member(j, "a", JSON_POS_KEY, &p));
	json_pos_index(j, "[1, 2]", 6);
	cr_assert_not(json_pos_member(j, "a", JSON_POS_KEY, &p));
	/* A key longer in the text than in the tree, by a NUL byte (the fuzzer's
	 * first find: the comparison read past jansson's key). */
	json_pos_index(j, "{\"a\0\": 1, \"b\": 2}", 17);
	cr_assert_not(json_pos_member(j, "a", JSON_POS_KEY, &p));
	json_pos_index(j, "{\"a\": 1, \"b\": 2", 15);
	cr_assert_not(json_pos_member(j, "a", JSON_POS_KEY, &p));
	json_pos_index(j, NULL, 0);
	json_pos_index(NULL, "{}", 2);
	cr_assert_not(json_pos_member(j, "a", JSON_POS_KEY, &p));
	json_decref(j);
}

Test(json_pos, a_raw_line_break_in_a_text_that_is_not_the_trees_is_counted)
{
	/* The fuzzer's second find: a string with a raw line break (not JSON, but
	 * the walk reads what it is given) moved every later position off the
	 * text. */
	json_error_t e;
	json_t *j = json_loads("{\"a\": \"x(y\", \"b\": 1}", 0, &e);
	struct json_pos p;

	json_pos_index(j, "{\"a\": \"x\ny\", \"b\": 1}", 20);
	pos_is(json_pos_member(j, "b", JSON_POS_KEY, &p), &p, 2, 7);
	json_pos_index(NULL, NULL, 0);
	json_decref(j);
}

Test(json_pos, hostile_bodies_are_bounded)
{
	static char text[64 * 1024];
	size_t n = 0;
	json_t *j;
	struct json_pos p;
	int i;

	/* Deep: past the indexed depth, containers are skipped whole. */
	for (i = 0; i < 1000; i++)
		n += (size_t)snprintf(text + n, sizeof(text) - n, "{\"k\": ");
	n += (size_t)snprintf(text + n, sizeof(text) - n, "1");
	for (i = 0; i < 1000; i++)
		text[n++] = '}';
	text[n] = '\0';
	j = indexed(text);
	pos_is(json_pos_member(j, "k", JSON_POS_KEY, &p), &p, 1, 4);
	pos_is(json_pos_container(j, JSON_POS_END, &p), &p, 1, (int)n);
	json_decref(j);

	/* Wide: members past the limit have no position, the first ones do. */
	n = (size_t)snprintf(text, sizeof(text), "[");
	for (i = 0; i < 3000; i++)
		n += (size_t)snprintf(text + n, sizeof(text) - n, "%s{\"a\": \"\\u0041\"}",
				      i ? "," : "");
	n += (size_t)snprintf(text + n, sizeof(text) - n, "]");
	j = indexed(text);
	pos_is(json_pos_element(j, 0, JSON_POS_VALUE, &p), &p, 1, 1);
	cr_assert_not(json_pos_element(j, 2999, JSON_POS_VALUE, &p));
	/* The root's end is kept past the bound (a missing field there). */
	pos_is(json_pos_container(j, JSON_POS_END, &p), &p, 1, (int)n);
	cr_assert(json_pos_is_root(j));
	cr_assert_not(json_pos_is_root(json_array_get(j, 0)));
	json_decref(j);
}
