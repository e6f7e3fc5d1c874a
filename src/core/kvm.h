/* Opening /dev/kvm and checking, with a message naming what is missing, that
 * it offers the API version and every capability volt relies on. */
#ifndef VOLT_CORE_KVM_H
#define VOLT_CORE_KVM_H

#include <linux/kvm.h>

/* Returns the /dev/kvm fd or -errno (logged). */
int kvm_open(void);

#endif
