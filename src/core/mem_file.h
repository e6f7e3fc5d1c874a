/* A snapshot's memory file: guest RAM byte for byte in the order of its
 * mapping (offset in the file = offset in guest_mem.base; the file is exactly
 * the mapping's size: RAM, then any hotpluggable memory), so that a restore
 * maps it MAP_PRIVATE as it is, or a
 * page-fault handler serves it by the offsets of Firecracker's handshake.
 *
 * A Full file (pages NULL) leaves every all-zero page a hole: on a mostly idle
 * guest it costs the disk (and the time) of what the guest touched only.
 * A Diff file (pages: a dirty bitmap) holds the selected pages only, and
 * writes them even when they are zero: a hole means "not in this diff", so a
 * merge onto the base (copying the diff's data ranges, as Firecracker's
 * rebase-snap does) must see a page the guest zeroed as data. A Diff written
 * where a file of RAM's size already is merges onto it (Firecracker's way):
 * the new file starts as a copy of that one's data ranges.
 *
 * The file appears whole or not at all: written under a temporary name in
 * the same directory, fsync'd, renamed over path, the directory fsync'd
 * (util/staged_file.h). */
#ifndef VOLT_CORE_MEM_FILE_H
#define VOLT_CORE_MEM_FILE_H

#include <limits.h>
#include <stddef.h>
#include <stdint.h>

#include "core/guest_mem.h"
#include "util/staged_file.h"

/* Writes m's RAM to path (mode 0600: it is the guest's memory). pages: a
 * bitmap as guest_mem_dirty_collect() fills (guest_mem_pages() bits), or NULL
 * for all of RAM. 0, or -errno with why naming the path; on failure nothing is
 * left at path that was not there before. */
int mem_file_write(const struct guest_mem *m, const char *path, const uint64_t *pages, char *why,
		   size_t why_size);

/* mem_file_write() in two steps, so that a snapshot puts its memory file in
 * place together with its state file (util/staged_file.h: both or neither,
 * a Diff's base included): mem_file_stage() writes the whole file under its
 * temporary name in f, for the caller's staged_commit() or staged_discard(). */
int mem_file_stage(const struct guest_mem *m, const char *path, const uint64_t *pages,
		   struct staged_file *f, char *why, size_t why_size);

#endif
