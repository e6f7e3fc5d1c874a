/* Facts about the KVM host volt runs on.
 * A PVM host (/sys/module/kvm_pvm) runs guest ring 0 in KVM's instruction
 * emulator and needs workarounds (README, "Cloud VMs without nested
 * virtualization"); they must never be applied on a host with real VT.
 * VOLT_HOST=pvm|vt overrides the detection (tests, kernel builds for another host). */
#ifndef VOLT_CORE_HOST_H
#define VOLT_CORE_HOST_H

#include <stdbool.h>

bool host_is_pvm(void);

#endif
