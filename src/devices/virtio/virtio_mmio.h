/* The virtio-mmio transport (virtio 1.x, 4.2, version 2 registers) and the
 * interface device models implement. A model supplies its ids, features,
 * config space and a notify handler; the transport does feature negotiation,
 * queue setup and validation, kicks (one eventfd per queue, served on the
 * device thread) and interrupts (one eventfd). It makes no KVM call: the
 * environment it is plugged into routes those eventfds (struct virtio_env).
 * Guest register accesses arrive on vCPU threads; d->lock serializes them
 * with the device thread. */
#ifndef VOLT_DEVICES_VIRTIO_VIRTIO_MMIO_H
#define VOLT_DEVICES_VIRTIO_VIRTIO_MMIO_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "core/event_loop.h"
#include "core/guest_mem.h"
#include "core/metrics.h"
#include "core/io_bus.h"
#include "core/rate_limiter.h"
#include "devices/virtio/virtq.h"

#define VIRTIO_MMIO_WINDOW 0x1000
#define VIRTIO_MAX_QUEUES  8
#define VIRTIO_CONFIG_MAX  256

struct virtio_dev;
struct mmds;

struct virtio_dev_ops {
	const char *name;
	uint32_t device_id;
	unsigned int num_queues;
	uint16_t queue_max;
	/* Called with d->lock held. */
	void (*config_write)(struct virtio_dev *d, uint32_t offset, const uint8_t *data,
			     uint32_t len);
	/* DRIVER_OK: the queues are set up; start serving. 0 or -errno. */
	int (*activate)(struct virtio_dev *d);
	/* The driver kicked queue q (device thread, d->lock held). */
	void (*notify)(struct virtio_dev *d, unsigned int q);
	/* The driver reset the device (d->lock held). */
	void (*reset)(struct virtio_dev *d);
	/* Features the model serves though its configuration may no longer
	 * offer them: a restore whose saved device offered one offers it again
	 * (Firecracker restores avail_features), so that a guest that acked it
	 * in an older snapshot keeps its device. */
	uint64_t restore_features;
	/* The kind's Firecracker counters that the transport bumps (NULL: the
	 * kind has no such counter). activate_fails: activate() failed at
	 * DRIVER_OK or at a restore. cfg_fails: a config-space access outside
	 * the space, or a write to a kind without config_write (read-only
	 * config). event_fails[q]: reading queue q's kick eventfd failed. */
	metric_t *activate_fails;
	metric_t *cfg_fails;
	metric_t *event_fails[VIRTIO_MAX_QUEUES];
};

/* What a device needs from the VM it is plugged into. The VM routes the
 * transport's eventfds with ioeventfd and irqfd; a test may leave the two
 * callbacks NULL and use the eventfds as they are (it writes a kick_fd or
 * the QueueNotify register, and reads irq_fd). Both return 0 or -errno. */
struct virtio_env {
	const struct guest_mem *mem;
	struct event_loop *loop;
	struct io_bus *mmio;
	/* A 4-byte guest write of q to addr (QueueNotify) signals kick_fd without
	 * reaching virtio_mmio_io. Those that do reach it signal kick_fd there. */
	int (*route_kick)(void *ctx, int kick_fd, uint64_t addr, uint32_t q);
	/* A signal of irq_fd asserts the guest's interrupt line irq. */
	int (*route_irq)(void *ctx, int irq_fd, uint32_t irq);
	/* Device memory the guest reaches without exits (virtio-pmem): size
	 * bytes at hva become guest-physical memory above RAM, 2 MiB aligned,
	 * after what earlier calls mapped; *gpa says where. read_only: guest
	 * writes exit as MMIO (and are dropped). NULL: none can be mapped
	 * (-ENOTSUP). The region stays the guest's until the VM ends (no
	 * hot-unplug); hva must stay mapped until then. */
	int (*map_memory)(void *ctx, void *hva, uint64_t size, bool read_only, uint64_t *gpa);
	/* Hotpluggable memory (virtio-mem): blocks [first, first + n) of mem's
	 * region become plugged or unplugged, KVM's slots following
	 * (guest_mem_hp_set). NULL: the VM has none (-ENOTSUP). */
	int (*hotplug_update)(void *ctx, uint64_t first, uint64_t n, bool plug);
	void *ctx; /* the callbacks' */
	/* The VM's metadata store (devices/mmds/mmds.h); NULL: no MMDS. The
	 * interfaces whose net_config.mmds is set serve it to the guest. */
	struct mmds *mmds;
};

struct virtio_kick {
	struct virtio_dev *d;
	unsigned int q;
};

struct virtio_dev {
	const struct virtio_dev_ops *ops;
	void *priv;
	struct virtio_env env;
	uint64_t base;
	uint32_t irq;
	uint64_t features; /* offered, the transport's included */
	uint8_t config[VIRTIO_CONFIG_MAX];
	uint32_t config_size;

	pthread_mutex_t lock;
	uint32_t status, device_features_sel, driver_features_sel, queue_sel;
	uint32_t isr, config_generation;
	uint64_t driver_features;
	struct virtq vq[VIRTIO_MAX_QUEUES];
	int kick_fd[VIRTIO_MAX_QUEUES];
	struct virtio_kick kicks[VIRTIO_MAX_QUEUES];
	int irq_fd;
	bool failed; /* DEVICE_NEEDS_RESET was raised and logged */
	/* ops->notify is the look at every ready queue when the driver sets
	 * DRIVER_OK, not a queue event: not counted as one (metrics). */
	bool early_look;
	/* Queues kicked for that look (set by the vCPU's DRIVER_OK write, served
	 * by the device thread: the vCPU's filter allows no device's work). */
	bool early_pending[VIRTIO_MAX_QUEUES];
	/* The device's own counterparts of ops' activate_fails, cfg_fails and
	 * event_fails (its per-device metrics section), bumped along with the
	 * kind's; NULL: none. The model sets them after virtio_mmio_init(). */
	metric_t *own_activate_fails, *own_cfg_fails;
	metric_t *own_event_fails[VIRTIO_MAX_QUEUES];
};

/* Plugs the device in at base with interrupt irq: registers its MMIO window,
 * one kick eventfd per queue (on env->loop) and its interrupt eventfd, routed
 * by env's callbacks. features are the model's own. */
int virtio_mmio_init(struct virtio_dev *d, const struct virtio_dev_ops *ops, void *priv,
		     uint64_t features, const struct virtio_env *env, uint64_t base, uint32_t irq);
void virtio_mmio_io(void *dev, uint64_t offset, uint8_t *data, uint32_t len, bool is_write);
void virtio_mmio_destroy(struct virtio_dev *d);

bool virtio_has_feature(const struct virtio_dev *d, unsigned int bit);
/* Interrupts the driver for queue q if it wants to be (event index, flags). */
void virtio_notify_queue(struct virtio_dev *d, unsigned int q);
void virtio_config_changed(struct virtio_dev *d);
/* The driver broke the protocol: DEVICE_NEEDS_RESET, logged once; the VM goes on. */
void virtio_fail(struct virtio_dev *d, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* What a handler returns for a chain it will complete later (virtq_push). */
#define VIRTIO_USED_DEFERRED UINT32_MAX
/* What a handler returns for a chain it cannot take now (a rate limiter is
 * blocked): the chain goes back to the avail ring, serving stops, and the
 * model kicks the queue again later (virtio_kick) to resume. */
#define VIRTIO_USED_RETRY (UINT32_MAX - 1)

/* Serves queue q until the driver has nothing more: each chain goes to handle,
 * which returns the bytes it wrote (or VIRTIO_USED_DEFERRED, VIRTIO_USED_RETRY); then the driver is
 * interrupted if it wants to be. A malformed queue fails the device. Device thread, d->lock held.
 */
void virtio_serve_queue(struct virtio_dev *d, unsigned int q, struct virtq_elem *e,
			uint32_t (*handle)(void *ctx, struct virtq_elem *e), void *ctx);
/* Hands a kick to the model as if the driver had sent it (backends with new data). */
void virtio_kick(struct virtio_dev *d, unsigned int q);
/* A model's rate limiter's timer fired (device thread): rl, which d->lock
 * guards, unblocks and queue q, parked on it, is served again. 0, or
 * rate_limiter_event()'s -EAGAIN for a spurious event. */
int virtio_rate_limiter_resume(struct virtio_dev *d, struct rate_limiter *rl, unsigned int q);
/* Gives the n chains last popped from queue q, not used yet, back to the
 * avail ring (they are still there: the driver reuses a slot only once the
 * device used it) and kicks the queue, so that they are served again. A model
 * that holds a popped chain it cannot finish now (a full TAP, a frame half
 * placed) calls it before a snapshot instead of saving the chain. d->lock
 * held; n must not exceed what it popped. */
void virtio_queue_unpop(struct virtio_dev *d, unsigned int q, uint16_t n);

/* Snapshots (core/snap.h): the transport's half of a device's state, which
 * every model's save/restore calls (the caller set the scope, "dev/blk0").
 * Records "transport" (ids, status, features and selectors, ISR, config
 * generation and space) and "queue<N>" per queue (size, ring addresses,
 * ready, event index and indirect flags, last_avail, used_idx and the
 * notification state), of fixed sizes.
 *
 * save: the model has already finished or handed back every chain it popped
 * (the device thread is parked); takes d->lock.
 * restore: into a device just created from the same configuration, before
 * its device thread runs. The file is hostile: a device id, queue count or
 * config size other than the device's, unknown status or ISR bits, features
 * accepted that it does not offer, a queue size that is no power of two up
 * to queue_max, rings outside guest RAM (virtq_setup's checks) are refused
 * with -EINVAL and a message naming the scope and the field. With DRIVER_OK
 * the queues are set up again with their saved indexes and the model
 * activated; then every ready queue is kicked, since kicks that waited in the
 * old device's eventfds are gone, so the device thread looks at each ring
 * once when it starts. The model restores its own state after this. */
struct snap_writer;
struct snap_reader;
int virtio_mmio_save(struct virtio_dev *d, struct snap_writer *w);
int virtio_mmio_restore(struct virtio_dev *d, struct snap_reader *r);

#endif
