/* What volt's fault handler (vmm/signals.h) says and cleans up when a
 * SIGBUS or SIGSEGV ends it: the mapped file a fault hit (a snapshot's memory
 * file cut on the host while a restored VM uses it), and the temporary files
 * a snapshot was writing (util/staged_file.h: whole-RAM copies of the guest's
 * memory), removed so that none is left behind. Fixed slots, no allocation,
 * atomic stores: the handler reads them on any thread. A slot taken by
 * nobody is not an error: the name is then just not given. */
#ifndef VOLT_UTIL_FAULT_FILES_H
#define VOLT_UTIL_FAULT_FILES_H

#include <stddef.h>

/* [base, base + len) maps path (copied); until fault_files_unmapped(base). */
void fault_files_mapped(const void *base, size_t len, const char *path);
void fault_files_unmapped(const void *base);
/* The path of the mapping addr lies in, or NULL. Async-signal-safe. */
const char *fault_files_hit(const void *addr);

/* path (the caller's buffer, which must stay as it is until
 * fault_files_temp_del()) is removed if volt ends on a fault. */
void fault_files_temp_add(const char *path);
void fault_files_temp_del(const char *path);
/* unlink()s every temporary file registered. Async-signal-safe. */
void fault_files_remove_temps(void);

#endif
