/* The seccomp allow-lists as data (seccomp_lists.c), shared by the filter
 * compiler and `volt sandbox --print` in seccomp.c. A list is a set of rules;
 * a rule allows one system call when all its argument conditions hold, and a
 * system call with several rules is allowed when any of them holds. A rule
 * with err set refuses its system call with that errno instead (file opens
 * that libraries may try lazily: docs/security.md, "Refused, not killed"). */
#ifndef VOLT_SANDBOX_SECCOMP_LISTS_H
#define VOLT_SANDBOX_SECCOMP_LISTS_H

#include <seccomp.h>
#include <stddef.h>
#include <stdint.h>

#include "sandbox/sandbox.h"

#define SC_MAX_CONDS 3

enum sc_op {
	SC_EQ32,    /* (arg & 0xffffffff) == value: the kernel reads the argument as an int */
	SC_CLEAR,   /* (arg & value) == 0 */
	SC_SET,	    /* (arg & value) == value */
	SC_SELF_PID /* (arg & 0xffffffff) == getpid() at compile time */
};

struct sc_cond {
	uint8_t arg; /* 0..5 */
	uint8_t op;  /* enum sc_op */
	uint64_t value;
	const char *text; /* how --print shows value */
};

struct sc_rule {
	int nr; /* __NR_x, from SCMP_SYS() */
	const char *name;
	unsigned int nconds;
	struct sc_cond conds[SC_MAX_CONDS];
	const char *why;
	int err; /* 0: allowed; else answered with -err without running (never a kill) */
};

struct sc_list {
	const char *name; /* "vmm", "vcpu", "api" */
	const char *threads;
	const struct sc_rule *rules;
	size_t nrules;
};

extern const struct sc_list sc_lists[SANDBOX_THREAD_COUNT];
/* Added to every list in a sanitizer build; empty in the shipped build. */
extern const struct sc_list sc_sanitizer_list;

#endif
