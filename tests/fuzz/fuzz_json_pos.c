/* libFuzzer target: serde's error positions beside jansson's tree
 * (api/json_pos.c), on any text jansson accepts as a request body.
 *
 * Checked: the walk agrees with jansson on every body it parsed (the root's
 * end is found, at the text's last non-blank byte); every member and element
 * found lies inside the text, with its key before its value; a text that is
 * not the tree's (the same body with a byte changed) never reads past it. */
#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "api/json_pos.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct lines {
	const char *s;
	size_t len;
};

/* The byte offset of position p, or SIZE_MAX when it is not in the text. */
static size_t offset_of(const struct lines *t, const struct json_pos *p)
{
	size_t i = 0;
	int line = 1;

	for (; i < t->len && line < p->line; i++)
		if (t->s[i] == '\n')
			line++;
	if (line != p->line || p->column < 0 || i + (size_t)p->column > t->len)
		return SIZE_MAX;
	return i + (size_t)p->column;
}

static void check_node(const struct lines *t, json_t *n, int depth)
{
	struct json_pos k, v, e, c;
	const char *key;
	json_t *m;
	size_t i;

	if (depth > 3)
		return;
	json_object_foreach(n, key, m)
	{
		if (!json_pos_member(n, key, JSON_POS_KEY, &k))
			continue;
		if (!json_pos_member(n, key, JSON_POS_VALUE, &v) ||
		    !json_pos_member(n, key, JSON_POS_END, &e) ||
		    !json_pos_member(n, key, JSON_POS_CUSTOM, &c))
			abort();
		if (offset_of(t, &k) == SIZE_MAX || offset_of(t, &v) == SIZE_MAX ||
		    offset_of(t, &e) == SIZE_MAX || offset_of(t, &c) == SIZE_MAX ||
		    offset_of(t, &k) >= offset_of(t, &e) || offset_of(t, &e) > offset_of(t, &c))
			abort();
		check_node(t, m, depth + 1);
	}
	json_array_foreach(n, i, m)
	{
		if (!json_pos_element(n, i, JSON_POS_END, &e))
			continue;
		if (offset_of(t, &e) == SIZE_MAX)
			abort();
		check_node(t, m, depth + 1);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct lines t = { (const char *)data, size };
	json_error_t err;
	json_t *j = json_loadb(t.s, size, JSON_REJECT_DUPLICATES, &err);
	struct json_pos end;
	size_t last = size;
	char *copy;

	if (!j)
		return 0;
	json_pos_index(j, t.s, size);
	while (last && memchr(" \t\r\n", t.s[last - 1], 4))
		last--;
	if (!json_pos_container(j, JSON_POS_END, &end) || offset_of(&t, &end) != last)
		abort();
	check_node(&t, j, 0);
	/* The same tree against a text changed in one byte: anything, but never
	 * a read past it (ASan) nor a position outside it. */
	copy = malloc(size);
	if (copy) {
		memcpy(copy, data, size);
		copy[size / 2] ^= 0x22;
		t.s = copy;
		json_pos_index(j, copy, size);
		if (json_pos_container(j, JSON_POS_END, &end) && offset_of(&t, &end) == SIZE_MAX)
			abort();
		check_node(&t, j, 0);
		json_pos_index(NULL, NULL, 0);
		free(copy);
	}
	json_decref(j);
	return 0;
}
