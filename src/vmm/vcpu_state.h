/* One vCPU's KVM state in a snapshot (records under "vcpu<index>/").
 * Everything the guest can observe: regs, sregs (sregs2 where KVM has it),
 * FPU and XSAVE, XCRs, LAPIC, pending events, MP state, debug registers,
 * CPUID, TSC frequency and MSRs (vmm/vcpu_msrs.h).
 *
 * Both take the vCPU's fd and /dev/kvm's, not a struct vcpu or vm: the vCPU
 * must be out of KVM_RUN (paused) and stay so during the call.
 *
 * Save first re-enters KVM_RUN with immediate_exit set: KVM finishes the
 * port or MMIO access the last exit left half done (an OUT's RIP moves only
 * then) and returns at once, so the state saved is between instructions.
 *
 * Restore writes into a fresh vCPU of a VM with the same kind of irqchip,
 * after vm_state_check() has accepted the state for this host, in
 * the order that worked on PVM hosts (docs/snapshots.md): CPUID2 (before the
 * MSRs it enables), SREGS (mode and EFER before the registers), REGS, FPU,
 * XSAVE, XCRS, MSRs, LAPIC, TSC_DEADLINE again (setting the LAPIC resets its
 * timer), DEBUGREGS, VCPU_EVENTS (after the LAPIC), MP_STATE last. A record
 * missing or of the wrong size, or a refused ioctl, fails the restore; the
 * caller then discards the VM (never run half restored). 0 or -errno,
 * logged. */
#ifndef VOLT_VMM_VCPU_STATE_H
#define VOLT_VMM_VCPU_STATE_H

#include <stdbool.h>

#include "core/snap.h"

#define VCPU_STATE_CPUID_MAX 256 /* entries a saved CPUID table may have */

/* complete_io: enter KVM_RUN with immediate_exit first (above). The VMM's
 * vCPU threads do that themselves when they park (vmm/vcpu.c), so that the
 * thread that saves needs no KVM_RUN: it passes false. */
int vcpu_state_save(int vcpu_fd, int kvm_fd, bool complete_io, struct snap_writer *w, int index);
int vcpu_state_restore(int vcpu_fd, int kvm_fd, struct snap_reader *r, int index);

#endif
