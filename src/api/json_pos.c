/* serde_json's error positions in a body jansson parsed (api/json_pos.h). */
#include "api/json_pos.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Firecracker's bodies nest four deep at most (a CPU template's modifiers);
 * a hostile body's thousands of members get no positions past these. */
#define JP_MAX_DEPTH   8
#define JP_MAX_ENTRIES 1024

struct jp_entry {
	const json_t *parent; /* NULL: the root */
	const char *key;      /* jansson's copy; NULL: an array's element or the root */
	size_t index;	      /* an array's element */
	json_t *child;	      /* held (json_incref) while indexed */
	struct json_pos after_key, start, end, custom;
};

static struct {
	json_t *root;
	struct jp_entry *e;
	size_t n, cap;
} jp;

struct walk {
	const char *s;
	size_t len, i, sol; /* sol: where the current line starts */
	int line;
	bool bad;
};

static void jp_clear(void)
{
	for (size_t k = 0; k < jp.n; k++)
		json_decref(jp.e[k].child);
	jp.n = 0;
	json_decref(jp.root);
	jp.root = NULL;
}

static struct json_pos here(const struct walk *w)
{
	return (struct json_pos){ w->line, (int)(w->i - w->sol) };
}

static void newline_at(struct walk *w, size_t i)
{
	w->line++;
	w->sol = i + 1;
}

static void blanks(struct walk *w)
{
	for (; w->i < w->len; w->i++) {
		char c = w->s[w->i];

		if (c == '\n')
			newline_at(w, w->i);
		else if (c != ' ' && c != '\t' && c != '\r')
			return;
	}
}

/* A string, from its opening quote to after its closing one. JSON strings
 * hold no raw line breaks (jansson refuses them), but a text that is not
 * the tree's may: counted, so that no position points outside the text. */
static void skip_string(struct walk *w)
{
	for (w->i++; w->i < w->len && w->s[w->i] != '"'; w->i++) {
		if (w->s[w->i] == '\\' && w->i + 1 < w->len)
			w->i++;
		if (w->s[w->i] == '\n')
			newline_at(w, w->i);
	}
	if (w->i >= w->len)
		w->bad = true;
	else
		w->i++;
}

/* Whether the key string at w (its opening quote) is key, as jansson decoded
 * it; a \u escape is taken on trust. */
static bool key_is(const struct walk *w, const char *key)
{
	static const char esc[] = "\"\"\\\\//b\bf\fn\nr\rt\t";
	size_t i = w->i + 1;

	for (; i < w->len && w->s[i] != '"'; i++, key++) {
		const char *e;

		if (!*key) /* a text longer than the key (or NUL bytes in it) */
			return false;
		if (w->s[i] != '\\') {
			if (*key != w->s[i])
				return false;
			continue;
		}
		if (++i >= w->len || w->s[i] == 'u')
			return true;
		for (e = esc; *e && *e != w->s[i]; e += 2)
			;
		if (!*e || *key != e[1])
			return false;
	}
	return *key == '\0';
}

static bool scalar_ends_at(char c)
{
	return c == ',' || c == ']' || c == '}' || c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* A container below JP_MAX_DEPTH, without recursion. */
static void skip_container(struct walk *w)
{
	size_t depth = 0;

	while (w->i < w->len && !w->bad) {
		char c = w->s[w->i];

		if (c == '"') {
			skip_string(w);
			continue;
		}
		if (c == '\n')
			newline_at(w, w->i);
		w->i++;
		if (c == '{' || c == '[')
			depth++;
		else if ((c == '}' || c == ']') && --depth == 0)
			return;
	}
	w->bad = true;
}

/* Where serde_json stands when an error without a position (a custom one: a
 * deserialize_with's, a Deserialize impl's) leaves the value just read: its
 * container's end_map or end_seq has read on before the position is fixed
 * (blanks, then the closing bracket, or an array's comma and the blanks
 * after it). */
static struct json_pos custom_end(const struct walk *w, char close)
{
	struct walk t = *w;

	blanks(&t);
	if (close && t.i < t.len && t.s[t.i] == close) {
		t.i++;
	} else if (close == ']' && t.i < t.len && t.s[t.i] == ',') {
		t.i++;
		blanks(&t);
	}
	return here(&t);
}

static void record(const json_t *parent, const char *key, size_t index, json_t *child,
		   struct json_pos after_key, struct json_pos start, struct walk *w, char close)
{
	if (jp.n == JP_MAX_ENTRIES)
		return;
	if (jp.n == jp.cap) {
		size_t cap = jp.cap ? jp.cap * 2 : 32;
		struct jp_entry *e = realloc(jp.e, cap * sizeof(*e));

		if (!e) {
			w->bad = true;
			return;
		}
		jp.e = e;
		jp.cap = cap;
	}
	jp.e[jp.n++] = (struct jp_entry){ parent,    key,   index,   json_incref(child),
					  after_key, start, here(w), custom_end(w, close) };
}

static void value(struct walk *w, json_t *node, int depth);

/* The members of object node in the text, one by one beside jansson's, which
 * keeps them in the text's order (duplicates were refused). */
static void object(struct walk *w, json_t *node, int depth)
{
	void *it = json_object_iter(node);

	w->i++;
	blanks(w);
	if (w->i < w->len && w->s[w->i] == '}') {
		w->i++;
		w->bad |= it != NULL;
		return;
	}
	while (!w->bad) {
		struct json_pos after_key, start;
		const char *key;
		json_t *child;

		if (!it || w->i >= w->len || w->s[w->i] != '"') {
			w->bad = true;
			return;
		}
		key = json_object_iter_key(it);
		child = json_object_iter_value(it);
		if (!key_is(w, key)) {
			w->bad = true;
			return;
		}
		skip_string(w);
		blanks(w);
		after_key = here(w);
		if (w->i >= w->len || w->s[w->i] != ':') {
			w->bad = true;
			return;
		}
		w->i++;
		blanks(w);
		start = here(w);
		value(w, child, depth + 1);
		record(node, key, 0, child, after_key, start, w, '}');
		it = json_object_iter_next(node, it);
		blanks(w);
		if (w->i < w->len && w->s[w->i] == ',') {
			w->i++;
			blanks(w);
			continue;
		}
		if (w->i < w->len && w->s[w->i] == '}' && !it) {
			w->i++;
			return;
		}
		w->bad = true;
	}
}

/* An array's elements, by index. */
static void array(struct walk *w, json_t *node, int depth)
{
	size_t k = 0, n = json_array_size(node);

	w->i++;
	blanks(w);
	if (w->i < w->len && w->s[w->i] == ']') {
		w->i++;
		w->bad |= n != 0;
		return;
	}
	while (!w->bad) {
		json_t *child = json_array_get(node, k);
		struct json_pos start = here(w);

		if (!child) {
			w->bad = true;
			return;
		}
		value(w, child, depth + 1);
		record(node, NULL, k, child, start, start, w, ']');
		k++;
		blanks(w);
		if (w->i < w->len && w->s[w->i] == ',') {
			w->i++;
			blanks(w);
			continue;
		}
		if (w->i < w->len && w->s[w->i] == ']' && k == n) {
			w->i++;
			return;
		}
		w->bad = true;
	}
}

static void value(struct walk *w, json_t *node, int depth)
{
	char c;

	if (w->i >= w->len) {
		w->bad = true;
		return;
	}
	c = w->s[w->i];
	if ((c == '{' && !json_is_object(node)) || (c == '[' && !json_is_array(node)))
		w->bad = true;
	else if ((c == '{' || c == '[') && depth >= JP_MAX_DEPTH)
		skip_container(w);
	else if (c == '{')
		object(w, node, depth);
	else if (c == '[')
		array(w, node, depth);
	else if (c == '"')
		skip_string(w);
	else
		while (w->i < w->len && !scalar_ends_at(w->s[w->i]))
			w->i++;
}

void json_pos_index(json_t *root, const char *buf, size_t len)
{
	struct walk w = { .s = buf, .len = len, .line = 1 };
	struct json_pos start;

	jp_clear();
	if (!root || !buf)
		return;
	blanks(&w);
	start = here(&w);
	/* The root first, so that a body past JP_MAX_ENTRIES keeps its end. */
	record(NULL, NULL, 0, root, start, start, &w, '\0');
	value(&w, root, 0);
	if (!w.bad)
		jp.e[0].end = jp.e[0].custom = here(&w);
	if (w.bad) {
		jp_clear();
		return;
	}
	jp.root = json_incref(root);
}

static bool at(const struct jp_entry *e, enum json_pos_at where, struct json_pos *p)
{
	if (!e)
		return false;
	switch (where) {
	case JSON_POS_KEY:
		*p = e->after_key;
		break;
	case JSON_POS_VALUE:
		*p = json_is_object(e->child) || json_is_array(e->child) ? e->start : e->end;
		break;
	case JSON_POS_PEEK:
		*p = (struct json_pos){ e->start.line, e->start.column + 1 };
		break;
	case JSON_POS_END:
		*p = e->end;
		break;
	case JSON_POS_CUSTOM:
		*p = e->custom;
		break;
	}
	return true;
}

bool json_pos_is_root(const json_t *j)
{
	return j && j == jp.root;
}

bool json_pos_member(const json_t *obj, const char *key, enum json_pos_at where, struct json_pos *p)
{
	for (size_t k = 0; obj && key && k < jp.n; k++)
		if (jp.e[k].parent == obj && jp.e[k].key && !strcmp(jp.e[k].key, key))
			return at(&jp.e[k], where, p);
	return false;
}

bool json_pos_element(const json_t *arr, size_t i, enum json_pos_at where, struct json_pos *p)
{
	for (size_t k = 0; arr && k < jp.n; k++)
		if (jp.e[k].parent == arr && !jp.e[k].key && jp.e[k].index == i)
			return at(&jp.e[k], where, p);
	return false;
}

/* Objects and arrays are jansson's own allocations, one per value (true,
 * false and null are shared: they are found as members or elements). */
bool json_pos_container(const json_t *c, enum json_pos_at where, struct json_pos *p)
{
	/* The body itself may be a scalar (serde's "expected struct ..."). */
	if (c && c == jp.root && jp.n)
		return at(&jp.e[0], where, p);
	for (size_t k = 0; (json_is_object(c) || json_is_array(c)) && k < jp.n; k++)
		if (jp.e[k].child == c)
			return at(&jp.e[k], where, p);
	return false;
}

static const char *text(bool found, const struct json_pos *p, char *buf, size_t size)
{
	if (!found)
		snprintf(buf, size, "%s", "");
	else
		snprintf(buf, size, " at line %d column %d", p->line, p->column);
	return buf;
}

const char *json_pos_member_text(const json_t *obj, const char *key, enum json_pos_at where,
				 char *buf, size_t size)
{
	struct json_pos p;

	return text(json_pos_member(obj, key, where, &p), &p, buf, size);
}

const char *json_pos_element_text(const json_t *arr, size_t i, enum json_pos_at where, char *buf,
				  size_t size)
{
	struct json_pos p;

	return text(json_pos_element(arr, i, where, &p), &p, buf, size);
}

const char *json_pos_container_text(const json_t *c, enum json_pos_at where, char *buf, size_t size)
{
	struct json_pos p;

	return text(json_pos_container(c, where, &p), &p, buf, size);
}
