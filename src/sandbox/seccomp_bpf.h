/* The seccomp filters as BPF, compiled from seccomp_lists.c by libseccomp
 * when volt is built (seccomp_gen.c writes seccomp_bpf.c), so that a start
 * costs no compilation and volt does not load libseccomp (issue #15: it took
 * 0.6-0.8 CPU-ms of every start). The one value known only at run time, this
 * process's pid in the tgkill rule (SC_SELF_PID), is compiled as
 * SC_BPF_PID_SENTINEL; seccomp.c puts getpid() in its place in a copy. */
#ifndef VOLT_SANDBOX_SECCOMP_BPF_H
#define VOLT_SANDBOX_SECCOMP_BPF_H

#include <linux/filter.h>

#include "sandbox/sandbox.h"

/* No system call number, flag or errno volt's lists compare against. */
#define SC_BPF_PID_SENTINEL 0x7e57a1d5u

enum sc_bpf_mode {
	SC_BPF_KILL, /* default action SECCOMP_RET_KILL_PROCESS */
	SC_BPF_LOG,  /* default action SECCOMP_RET_LOG (--seccomp=log) */
	SC_BPF_MODES,
};

struct sc_bpf {
	const struct sock_filter *insns;
	unsigned short len;
	unsigned short npid; /* instructions comparing with SC_BPF_PID_SENTINEL */
};

extern const struct sc_bpf sc_bpf[SC_BPF_MODES][SANDBOX_THREAD_COUNT];

#endif
