/* Landlock: once every file the VM needs is open, the VMM process keeps access
 * to exactly the paths its configuration names and nothing else.
 *
 * Contract: sandbox_landlock_apply() restricts the calling thread and every
 * thread or process it creates afterwards (Landlock is per thread; call it on
 * the main thread before vm_start()). File descriptors opened before keep the
 * rights they were opened with, so /dev/kvm, TAP devices, the open drives and
 * bound sockets still work. Rules:
 *   - kernel, initrd: read;
 *   - the host paths the device table reports (device_list_host_paths()):
 *     READ: read; READ_WRITE: read, write and truncate; SOCKET_CREATE: remove
 *     a file in the socket's directory (volt unlinks its socket at exit;
 *     connecting to sockets there is not a Landlock access);
 *   - started by a jailer (cfg->in_jail): the regular files of / (the jail):
 *     read, write, truncate, create and remove, and list directories;
 *   - everything else in the file system denied, with every access right the
 *     kernel's ABI knows;
 *   - ABI >= 4: TCP bind and connect denied (no port rules);
 *   - ABI >= 6: abstract unix sockets and signals scoped to the sandbox.
 * The highest ABI the kernel offers is used, capped by VOLT_LANDLOCK_MAX_ABI=N
 * (a test knob that simulates an older kernel). A weaker ABI is warned about
 * once; a kernel without Landlock is an error only in "require" mode. */
#include "sandbox/sandbox.h"
#include "sandbox/sanitizer.h"

#include "devices/device_table.h"
#include "util/log.h"
#include "vmm/vm.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <linux/landlock.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

/* Debian 12's linux-libc-dev (6.1) knows Landlock ABI 2 only; the rest of the
 * UAPI below is provided here with the values of later kernels' headers. */
#ifndef LANDLOCK_ACCESS_FS_TRUNCATE
#define LANDLOCK_ACCESS_FS_TRUNCATE (1ULL << 14) /* ABI 3, Linux 6.2 */
#endif
#ifndef LANDLOCK_ACCESS_FS_IOCTL_DEV
#define LANDLOCK_ACCESS_FS_IOCTL_DEV (1ULL << 15) /* ABI 5, Linux 6.10 */
#endif
#ifndef LANDLOCK_ACCESS_NET_BIND_TCP
#define LANDLOCK_ACCESS_NET_BIND_TCP	(1ULL << 0) /* ABI 4, Linux 6.7 */
#define LANDLOCK_ACCESS_NET_CONNECT_TCP (1ULL << 1)
#endif
#ifndef LANDLOCK_SCOPE_SIGNAL
#define LANDLOCK_SCOPE_ABSTRACT_UNIX_SOCKET (1ULL << 0) /* ABI 6, Linux 6.12 */
#define LANDLOCK_SCOPE_SIGNAL		    (1ULL << 1)
/* The attribute grew handled_access_net (ABI 4) and scoped (ABI 6). */
struct volt_ruleset_attr {
	__u64 handled_access_fs;
	__u64 handled_access_net;
	__u64 scoped;
};
#else
#define volt_ruleset_attr landlock_ruleset_attr
#endif

#define FS_ABI1                                                           \
	(LANDLOCK_ACCESS_FS_EXECUTE | LANDLOCK_ACCESS_FS_WRITE_FILE |     \
	 LANDLOCK_ACCESS_FS_READ_FILE | LANDLOCK_ACCESS_FS_READ_DIR |     \
	 LANDLOCK_ACCESS_FS_REMOVE_DIR | LANDLOCK_ACCESS_FS_REMOVE_FILE | \
	 LANDLOCK_ACCESS_FS_MAKE_CHAR | LANDLOCK_ACCESS_FS_MAKE_DIR |     \
	 LANDLOCK_ACCESS_FS_MAKE_REG | LANDLOCK_ACCESS_FS_MAKE_SOCK |     \
	 LANDLOCK_ACCESS_FS_MAKE_FIFO | LANDLOCK_ACCESS_FS_MAKE_BLOCK |   \
	 LANDLOCK_ACCESS_FS_MAKE_SYM)
/* The rights a rule on a file (not a directory) may carry. */
#define FS_FILE_RIGHTS                                                \
	(LANDLOCK_ACCESS_FS_EXECUTE | LANDLOCK_ACCESS_FS_WRITE_FILE | \
	 LANDLOCK_ACCESS_FS_READ_FILE | LANDLOCK_ACCESS_FS_TRUNCATE | \
	 LANDLOCK_ACCESS_FS_IOCTL_DEV)

/* What this code uses at most; a newer kernel is used at this level. */
#define ABI_USED 6

static enum sandbox_landlock_mode landlock_mode;

int sandbox_landlock_mode_parse(const char *s, enum sandbox_landlock_mode *out)
{
	if (!strcmp(s, "auto"))
		*out = SANDBOX_LANDLOCK_AUTO;
	else if (!strcmp(s, "require"))
		*out = SANDBOX_LANDLOCK_REQUIRE;
	else if (!strcmp(s, "off"))
		*out = SANDBOX_LANDLOCK_OFF;
	else
		return -EINVAL;
	return 0;
}

void sandbox_set_landlock_mode(enum sandbox_landlock_mode mode)
{
	landlock_mode = mode;
}

static int ll_create_ruleset(const struct volt_ruleset_attr *attr, size_t size, uint32_t flags)
{
	return (int)syscall(__NR_landlock_create_ruleset, attr, size, flags);
}

static int ll_add_rule(int ruleset, enum landlock_rule_type type, const void *attr)
{
	return (int)syscall(__NR_landlock_add_rule, ruleset, type, attr, 0);
}

static int ll_restrict_self(int ruleset)
{
	return (int)syscall(__NR_landlock_restrict_self, ruleset, 0);
}

int sandbox_landlock_abi(void)
{
	int abi = ll_create_ruleset(NULL, 0, LANDLOCK_CREATE_RULESET_VERSION);
	const char *cap = getenv("VOLT_LANDLOCK_MAX_ABI");
	char *end;
	long max;

	if (abi < 0)
		return -errno;
	if (cap && *cap) {
		errno = 0;
		max = strtol(cap, &end, 10);
		if (errno || *end || max < 0)
			pr_warn("VOLT_LANDLOCK_MAX_ABI='%s' is not a number: ignored", cap);
		else if (max == 0)
			return -EOPNOTSUPP; /* simulates a kernel without Landlock */
		else if (max < abi)
			abi = (int)max;
	}
	return abi;
}

static uint64_t fs_rights(int abi)
{
	uint64_t r = FS_ABI1;

	if (abi >= 2)
		r |= LANDLOCK_ACCESS_FS_REFER;
	if (abi >= 3)
		r |= LANDLOCK_ACCESS_FS_TRUNCATE;
	if (abi >= 5)
		r |= LANDLOCK_ACCESS_FS_IOCTL_DEV;
	return r;
}

/* Grants access (masked to what the ruleset handles) beneath path. */
static int allow_path(int ruleset, const char *what, const char *path, uint64_t access,
		      uint64_t handled)
{
	struct landlock_path_beneath_attr pb = { 0 };
	struct stat st;
	int fd, err = 0;

	fd = open(path, O_PATH | O_CLOEXEC);
	if (fd < 0 && errno == ENOENT) {
		/* Gone since it was opened: no rule is the stricter outcome. */
		pr_debug("landlock: %s %s is gone: no rule for it", what, path);
		return -ENOENT;
	}
	if (fd < 0 || fstat(fd, &st)) {
		err = -errno;
		pr_err("landlock: %s %s: %s", what, path, strerror(errno));
		goto out;
	}
	if (!S_ISDIR(st.st_mode))
		access &= FS_FILE_RIGHTS;
	pb.allowed_access = access & handled;
	pb.parent_fd = fd;
	if (pb.allowed_access && ll_add_rule(ruleset, LANDLOCK_RULE_PATH_BENEATH, &pb)) {
		err = -errno;
		pr_err("landlock: cannot add a rule for %s %s: %s", what, path, strerror(errno));
	}
out:
	if (fd >= 0)
		close(fd);
	return err;
}

static const char *missing_features(int abi)
{
	/* ABI 1 without REFER still forbids reparenting altogether. */
	if (abi < 3)
		return "truncation, TCP, device ioctls, abstract unix sockets and signals";
	if (abi < 4)
		return "TCP, device ioctls, abstract unix sockets and signals";
	if (abi < 5)
		return "device ioctls, abstract unix sockets and signals";
	if (abi < 6)
		return "abstract unix sockets and signals";
	return NULL;
}

/* A path that is gone gets no rule and is no error. */
static void count(int ret, int *err, int *nrules)
{
	if (!ret)
		(*nrules)++;
	else if (ret != -ENOENT)
		*err = ret;
}

/* A device path's access in Landlock's terms; a socket the VMM created is
 * only removed at exit, from its directory (connect() to "<uds>_<port>" is
 * not a Landlock access, and the socket and its connections are open). */
static int device_rule(int ruleset, const struct device_path *p, uint64_t handled)
{
	const uint64_t rw = LANDLOCK_ACCESS_FS_READ_FILE | LANDLOCK_ACCESS_FS_WRITE_FILE |
			    LANDLOCK_ACCESS_FS_TRUNCATE;
	char dir[PATH_MAX], what[64];

	switch (p->access) {
	case FIELD_ACCESS_READ:
		return allow_path(ruleset, p->what, p->path, LANDLOCK_ACCESS_FS_READ_FILE, handled);
	case FIELD_ACCESS_READ_WRITE:
		return allow_path(ruleset, p->what, p->path, rw, handled);
	case FIELD_ACCESS_SOCKET_CREATE:
		snprintf(dir, sizeof(dir), "%s", p->path);
		snprintf(what, sizeof(what), "%s directory", p->what);
		return allow_path(ruleset, what, dirname(dir), LANDLOCK_ACCESS_FS_REMOVE_FILE,
				  handled);
	default:
		return 0;
	}
}

/* The options and variable that say "started by a jailer" can be given by
 * hand: a jail (volt's or Firecracker's jailer) has no /proc, a host's / has. */
static bool jail_root_is_jail(void)
{
	return access("/proc/self", F_OK) != 0;
}

static int add_rules(int ruleset, const struct vm_config *cfg, uint64_t handled, int *nrules)
{
	struct device_path paths[VM_MAX_VIRTIO * 2];
	int err = 0, i, n;

	*nrules = 0;
	if (cfg->kernel)
		count(allow_path(ruleset, "kernel", cfg->kernel, LANDLOCK_ACCESS_FS_READ_FILE,
				 handled),
		      &err, nrules);
	if (!err && cfg->initrd)
		count(allow_path(ruleset, "initrd", cfg->initrd, LANDLOCK_ACCESS_FS_READ_FILE,
				 handled),
		      &err, nrules);
	n = device_list_host_paths(cfg->devices, cfg->ndevices, paths,
				   (int)(sizeof(paths) / sizeof(paths[0])));
	for (i = 0; !err && i < n; i++)
		count(device_rule(ruleset, &paths[i], handled), &err, nrules);
	/* Snapshot files are created there under temporary names, renamed into
	 * place (or removed after a failure) and the directory fsync'd; the
	 * guest kit's cache renames its entry's directory into place. */
	if (!err && cfg->snapshot_dir)
		count(allow_path(ruleset, "snapshot directory", cfg->snapshot_dir,
				 LANDLOCK_ACCESS_FS_MAKE_REG | LANDLOCK_ACCESS_FS_WRITE_FILE |
					 LANDLOCK_ACCESS_FS_READ_FILE |
					 LANDLOCK_ACCESS_FS_REMOVE_FILE |
					 LANDLOCK_ACCESS_FS_TRUNCATE | LANDLOCK_ACCESS_FS_READ_DIR |
					 LANDLOCK_ACCESS_FS_MAKE_DIR |
					 LANDLOCK_ACCESS_FS_REMOVE_DIR,
				 handled),
		      &err, nrules);
	/* In a jail, / is the jail (a jailer made it for this VMM alone): a
	 * Firecracker client puts a drive's new file there (PATCH /drives)
	 * and writes snapshots there without naming a directory at start.
	 * Its files only: no exec, no new nodes, links or directories; the
	 * ioctls of a block device node put there are allowed, for a drive's
	 * new backing may be one (its size: BLKGETSIZE64; Firecracker's
	 * test_rescan_dev mknods a loop device into the jail). */
	if (!err && cfg->in_jail && !jail_root_is_jail())
		pr_warn("landlock: started as if by a jailer, but / has /proc: not a jail, so "
			"its files get no rule");
	else if (!err && cfg->in_jail)
		count(allow_path(ruleset, "jail", "/",
				 LANDLOCK_ACCESS_FS_READ_FILE | LANDLOCK_ACCESS_FS_WRITE_FILE |
					 LANDLOCK_ACCESS_FS_TRUNCATE | LANDLOCK_ACCESS_FS_MAKE_REG |
					 LANDLOCK_ACCESS_FS_REMOVE_FILE |
					 LANDLOCK_ACCESS_FS_READ_DIR | LANDLOCK_ACCESS_FS_IOCTL_DEV,
				 handled),
		      &err, nrules);
	return err;
}

int sandbox_landlock_apply(const struct vm_config *cfg)
{
	struct volt_ruleset_attr attr = { 0 };
	const char *missing;
	int abi, kernel_abi, ruleset, nrules, err;

	if (landlock_mode == SANDBOX_LANDLOCK_OFF) {
		pr_info("landlock: off");
		return 0;
	}
	abi = sandbox_landlock_abi();
	if (abi < 0) {
		if (landlock_mode == SANDBOX_LANDLOCK_REQUIRE) {
			pr_err("landlock: required, but this kernel has none (%s); "
			       "boot with lsm=...,landlock or use --landlock=auto",
			       strerror(-abi));
			return -EOPNOTSUPP;
		}
		pr_warn("landlock: this kernel has none (%s): the VMM keeps access to every "
			"file its user may open",
			strerror(-abi));
		return 0;
	}
	/* A sanitizer build reads what it needs from /proc while it still can. */
	sandbox_sanitizer_prepare();
	kernel_abi = ll_create_ruleset(NULL, 0, LANDLOCK_CREATE_RULESET_VERSION);
	if (abi > ABI_USED)
		abi = ABI_USED;
	attr.handled_access_fs = fs_rights(abi);
	if (abi >= 4)
		attr.handled_access_net =
			LANDLOCK_ACCESS_NET_BIND_TCP | LANDLOCK_ACCESS_NET_CONNECT_TCP;
	if (abi >= 6)
		attr.scoped = LANDLOCK_SCOPE_ABSTRACT_UNIX_SOCKET | LANDLOCK_SCOPE_SIGNAL;
	/* Older kernels take the larger structure as long as the new fields are 0. */
	ruleset = ll_create_ruleset(&attr, sizeof(attr), 0);
	if (ruleset < 0) {
		err = -errno;
		pr_err("landlock: cannot create a ruleset (ABI %d): %s", abi, strerror(errno));
		return err;
	}
	err = add_rules(ruleset, cfg, attr.handled_access_fs, &nrules);
	if (!err && prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0))
		err = -errno;
	if (!err && ll_restrict_self(ruleset)) {
		err = -errno;
		pr_err("landlock: cannot restrict the VMM: %s", strerror(errno));
	}
	close(ruleset);
	if (err)
		return err;
	missing = missing_features(abi);
	if (missing)
		pr_warn("landlock: ABI %d leaves %s unrestricted (ABI 6 restricts them)", abi,
			missing);
	pr_info("landlock: ABI %d (the kernel's: %d): %d path rules; file system%s%s", abi,
		kernel_abi, nrules, abi >= 4 ? ", TCP bind/connect denied" : "",
		abi >= 6 ? ", abstract unix sockets and signals scoped" : "");
	return 0;
}
