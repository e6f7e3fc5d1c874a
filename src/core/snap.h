/* The snapshot state file: a header, then named records.
 *
 * Layout (little-endian; volt runs on x86 hosts only):
 *   header, 64 bytes: "VOLTSNAP", u32 format version, u32 header size (64),
 *                     u64 body length, SHA-256 of the body (32), u64 zero
 *   body:  records, each u16 name length, u16 zero, u32 data length, the
 *          name (no NUL), the data
 * Names are paths such as "vcpu0/regs", "vm/irqchip/pic0", "dev/serial": a
 * scope (set on the writer or reader) is put in front of the names a save or
 * restore function uses, so that it need not know where it sits.
 *
 * The writer collects records in memory; snap_write_file() writes them 0600
 * to a temporary name, fsyncs and renames into place. Errors are sticky: the
 * first failing put is what snap_write_file() reports.
 *
 * The reader checks the whole file before it answers anything: magic,
 * version, exact length (torn or truncated files), checksum, and every
 * record's lengths and name; a file that fails any check is refused as a
 * whole with a message (pr_err) naming the reason. A get then copies a record
 * only when its length is the expected one: never a partial result. All
 * lengths come from the file and are checked against what is left of it
 * before use; the reader is fuzzed (tests/fuzz/fuzz_snap.c).
 *
 * Returns: 0 or -errno. -EINVAL not a state file (magic), -EPROTONOSUPPORT
 * another format version, -EBADMSG torn, truncated, checksum mismatch or a
 * malformed record or more than SNAP_MAX_RECORDS, -EFBIG over SNAP_MAX_BODY, -ENOENT missing
 * record, -EMSGSIZE a record of the wrong size, -EEXIST a name written twice. */
#ifndef VOLT_CORE_SNAP_H
#define VOLT_CORE_SNAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/staged_file.h"

#define SNAP_MAGIC	    "VOLTSNAP"
#define SNAP_FORMAT_VERSION 1
#define SNAP_HEADER_SIZE    64
#define SNAP_NAME_MAX	    96		/* bytes of a name with its scope, NUL included */
#define SNAP_MAX_BODY	    (64u << 20) /* state only: guest memory has its own file */
/* Records a state file may hold: volt writes a few per vCPU and per device
 * (under a thousand with every device and vCPU there can be); the bound
 * keeps a crafted file of tiny records from costing memory and time. */
#define SNAP_MAX_RECORDS 4096

struct snap_writer {
	uint8_t *buf; /* header space, then the body */
	size_t len, cap;
	int err; /* the first failure, sticky */
	char scope[SNAP_NAME_MAX];
};

struct snap_record {
	char name[SNAP_NAME_MAX];
	size_t off, len; /* the data, inside the reader's buffer */
	bool read;
};

struct snap_reader {
	uint8_t *buf;
	size_t len;
	struct snap_record *recs;
	size_t nrecs;
	char scope[SNAP_NAME_MAX];
	char origin[128];  /* the path, for messages */
	int read_err;	   /* snap_read_file: -errno of reading the file, 0 */
	char read_why[96]; /* and what the path is when that says more: "is a FIFO, ..." */
};

void snap_writer_init(struct snap_writer *w);
void snap_writer_free(struct snap_writer *w);
/* Names put from now on are "<scope>/<name>"; fmt NULL: no scope. */
int snap_writer_scope(struct snap_writer *w, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* Adds a record; names: [A-Za-z0-9_./-], unique. */
int snap_put(struct snap_writer *w, const char *name, const void *data, size_t len);
int snap_put_u64(struct snap_writer *w, const char *name, uint64_t v);
/* Fills in the header; *out stays owned by w (valid until the next put or free). */
int snap_finish(struct snap_writer *w, const uint8_t **out, size_t *len);
/* snap_finish(), then staged_write(f, path, 0600): the caller commits or
 * discards f (util/staged_file.h). */
int snap_stage_file(struct snap_writer *w, const char *path, struct staged_file *f);
/* snap_stage_file() and its commit. */
int snap_write_file(struct snap_writer *w, const char *path);

/* Reads and checks a whole state file; on failure r is empty (free is fine). */
int snap_read_file(struct snap_reader *r, const char *path);
/* The same on a state file image in memory (copied). */
int snap_read_mem(struct snap_reader *r, const void *data, size_t len, const char *origin);
void snap_reader_free(struct snap_reader *r);
int snap_reader_scope(struct snap_reader *r, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
bool snap_has(struct snap_reader *r, const char *name);
/* Copies a record of exactly len bytes into buf. */
int snap_get(struct snap_reader *r, const char *name, void *buf, size_t len);
/* Copies a record of at most max bytes; *len gets its length. */
int snap_get_var(struct snap_reader *r, const char *name, void *buf, size_t max, size_t *len);
/* The record in place (read-only, valid until snap_reader_free; no alignment). */
int snap_find(struct snap_reader *r, const char *name, const void **data, size_t *len);
int snap_get_u64(struct snap_reader *r, const char *name, uint64_t *v);
/* The first record no get or find has asked for (NULL: none), so that a
 * restore can refuse state it would silently drop. */
const char *snap_unread(const struct snap_reader *r);

#endif
