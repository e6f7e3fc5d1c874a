/* A vCPU's MSRs in a snapshot: which ones, how they are read and written.
 * KVM_GET_MSR_INDEX_LIST omits MSRs a guest uses on some hosts (on PVM hosts
 * it lists 40 and leaves out the MTRRs, TSC_AUX, SPEC_CTRL, the machine-check
 * bank...), so volt adds its own list and keeps, per vCPU, the MSRs that
 * KVM_GET_MSRS can read: an unreadable one is dropped, never guessed.
 * The record ("msrs") is an array of struct kvm_msr_entry. */
#ifndef VOLT_VMM_VCPU_MSRS_H
#define VOLT_VMM_VCPU_MSRS_H

#include <linux/kvm.h>

#include "core/snap.h"

#define MSR_IA32_TSC_DEADLINE 0x6e0
#define VCPU_MSRS_MAX	      512 /* more is not a vCPU's state: a corrupt record */

/* The MSRs to save: the index list plus volt's, deduplicated, readable only.
 * *out (malloc'd) holds their values. Returns the count or -errno. */
int vcpu_msrs_read(int vcpu_fd, int kvm_fd, struct kvm_msr_entry **out);
/* vcpu_msrs_read() into the record "msrs". */
int vcpu_msrs_save(int vcpu_fd, int kvm_fd, struct snap_writer *w);
/* Writes the record "msrs" back. A write KVM refuses fails the restore
 * unless the MSR already holds that value or is one KVM never lets the VMM
 * write on some hosts (MCG_CAP, XSS: a warning). */
int vcpu_msrs_restore(int vcpu_fd, struct snap_reader *r);
/* Writes one MSR from the record again (TSC_DEADLINE after the LAPIC, which
 * resets the timer); absent from the record: nothing to do. */
int vcpu_msrs_restore_one(int vcpu_fd, struct snap_reader *r, uint32_t index);

#endif
