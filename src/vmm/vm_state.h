/* The VM-wide KVM state in a snapshot (records under "vm/"): which host and
 * how many vCPUs it came from, the in-kernel irqchip (PIC master and slave,
 * IOAPIC), the PIT and kvmclock. Takes the VM's fd, not a struct vm.
 *
 * The host CPU signature (vendor string, family, model from the host's
 * CPUID) is saved because a guest cannot move to another CPU: the XSAVE
 * layout, the MSRs and, on PVM hosts, the CPUID bits the guest sees (leaf 7
 * is always the host's) come from it. vm_state_check() refuses another
 * vendor, family, model or vCPU count before anything is restored.
 *
 * The clock is restored with flags 0 by default: kvmclock then goes on from
 * the value it had when saved, so the guest sees no time pass across the
 * gap; advancing it by the wall-clock gap (KVM_CLOCK_REALTIME) made Linux
 * guests report RCU stalls on PVM hosts (docs/snapshots.md). Firecracker's
 * clock_realtime asks for that advance: the client's choice.
 *
 * Restore runs after the vCPUs' (vcpu_state_restore()): IRQCHIP x3, PIT2,
 * then SET_CLOCK. A PIT or irqchip record is written only when the VM has
 * one, and restored when present. 0 or -errno, logged. */
#ifndef VOLT_VMM_VM_STATE_H
#define VOLT_VMM_VM_STATE_H

#include <stdbool.h>
#include <stdint.h>

#include "core/snap.h"

struct cpu_signature {
	char vendor[13]; /* "GenuineIntel", "AuthenticAMD"... */
	uint32_t family, model, stepping;
};

/* The host's, from CPUID leaves 0 and 1. */
void cpu_signature_host(struct cpu_signature *s);

int vm_state_save(int vm_fd, int ncpus, struct snap_writer *w);
/* Whether the state fits this host and a VM of ncpus vCPUs (with a message). */
int vm_state_check(struct snap_reader *r, int ncpus);
/* clock_realtime: kvmclock moves on by the wall-clock time since the save
 * (Firecracker's snapshot/load option) instead of going on from its value. */
int vm_state_restore(int vm_fd, struct snap_reader *r, bool clock_realtime);

#endif
