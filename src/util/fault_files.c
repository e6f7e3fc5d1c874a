#include "util/fault_files.h"

#include <limits.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <unistd.h>

#define MAPPED_SLOTS 4
#define TEMP_SLOTS   4

/* A mapped slot is free while its base is 0, being filled while it is
 * CLAIMED; its path is written before the base is published and read only
 * after the base is seen. */
#define CLAIMED UINTPTR_MAX

static struct {
	_Atomic uintptr_t base;
	size_t len;
	char path[PATH_MAX];
} mapped[MAPPED_SLOTS];

static _Atomic(const char *) temps[TEMP_SLOTS];

void fault_files_mapped(const void *base, size_t len, const char *path)
{
	int i;

	for (i = 0; i < MAPPED_SLOTS; i++) {
		uintptr_t none = 0;

		if (!atomic_compare_exchange_strong(&mapped[i].base, &none, CLAIMED))
			continue;
		mapped[i].len = len;
		snprintf(mapped[i].path, sizeof(mapped[i].path), "%s", path);
		atomic_store(&mapped[i].base, (uintptr_t)base);
		return;
	}
}

void fault_files_unmapped(const void *base)
{
	int i;

	for (i = 0; i < MAPPED_SLOTS; i++) {
		uintptr_t b = (uintptr_t)base;

		if (base && atomic_compare_exchange_strong(&mapped[i].base, &b, 0))
			return;
	}
}

const char *fault_files_hit(const void *addr)
{
	uintptr_t a = (uintptr_t)addr;
	int i;

	for (i = 0; i < MAPPED_SLOTS; i++) {
		uintptr_t b = atomic_load(&mapped[i].base);

		if (b && b != CLAIMED && a >= b && a - b < mapped[i].len)
			return mapped[i].path;
	}
	return NULL;
}

void fault_files_temp_add(const char *path)
{
	int i;

	for (i = 0; i < TEMP_SLOTS; i++) {
		const char *none = NULL;

		if (atomic_compare_exchange_strong(&temps[i], &none, path))
			return;
	}
}

void fault_files_temp_del(const char *path)
{
	int i;

	for (i = 0; i < TEMP_SLOTS; i++) {
		const char *p = path;

		if (path && atomic_compare_exchange_strong(&temps[i], &p, NULL))
			return;
	}
}

void fault_files_remove_temps(void)
{
	int i;

	for (i = 0; i < TEMP_SLOTS; i++) {
		const char *p = atomic_exchange(&temps[i], NULL);

		if (p)
			unlink(p);
	}
}
