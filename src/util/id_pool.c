/* The id pool: a list of strings, searched linearly (a VM has a dozen
 * devices; a request names one or two ids). */
#include "util/id_pool.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

struct id_entry {
	struct id_entry *next;
	size_t len;
	bool marked;
	char s[];
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static struct id_entry *head;

const char *id_intern_len(const char *s, size_t len)
{
	struct id_entry *e;

	if (!len)
		return "";
	pthread_mutex_lock(&lock);
	for (e = head; e; e = e->next)
		if (e->len == len && !memcmp(e->s, s, len))
			break;
	if (!e) {
		e = malloc(sizeof(*e) + len + 1);
		if (e) {
			e->len = len;
			e->marked = false;
			memcpy(e->s, s, len);
			e->s[len] = '\0';
			e->next = head;
			head = e;
		}
	}
	pthread_mutex_unlock(&lock);
	return e ? e->s : NULL;
}

const char *id_intern(const char *s)
{
	return id_intern_len(s, strlen(s));
}

void id_pool_sweep_begin(void)
{
	struct id_entry *e;

	pthread_mutex_lock(&lock);
	for (e = head; e; e = e->next)
		e->marked = false;
	pthread_mutex_unlock(&lock);
}

void id_pool_mark(const char *id)
{
	struct id_entry *e;

	if (!id || !*id)
		return;
	pthread_mutex_lock(&lock);
	for (e = head; e; e = e->next)
		if (e->s == id) {
			e->marked = true;
			break;
		}
	pthread_mutex_unlock(&lock);
}

void id_pool_sweep_end(void)
{
	struct id_entry **pe, *e;

	pthread_mutex_lock(&lock);
	for (pe = &head; (e = *pe);) {
		if (e->marked) {
			pe = &e->next;
			continue;
		}
		*pe = e->next;
		free(e);
	}
	pthread_mutex_unlock(&lock);
}

size_t id_pool_count(void)
{
	struct id_entry *e;
	size_t n = 0;

	pthread_mutex_lock(&lock);
	for (e = head; e; e = e->next)
		n++;
	pthread_mutex_unlock(&lock);
	return n;
}

void id_pool_clear(void)
{
	struct id_entry *e;

	pthread_mutex_lock(&lock);
	while ((e = head)) {
		head = e->next;
		free(e);
	}
	pthread_mutex_unlock(&lock);
}
