/* The jail's files: the chroot base and the jail's directories, the VM's
 * files, volt with the shared objects it runs on, and the two device nodes.
 *
 * The rules (docs/security.md, "The jailer's file rules"): every input is
 * opened once, without blocking, and only its descriptor is used after that;
 * the jail's directories are walked from the base's descriptor and no symlink
 * is followed on the way; the jailer never changes the owner or mode of a
 * file it did not make. Hard links where they do (nothing is copied and a
 * writable drive stays the caller's file), copies of read-only files
 * otherwise. */
#include "sandbox/jail.h"

#include "util/fs.h"
#include "util/log.h"
#include "util/rust_err.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <link.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/file.h>
#include <sys/statvfs.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#define DIR_OPEN (O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)

static bool root_only(const struct stat *st);

bool jail_may_access(const struct stat *st, uid_t uid, gid_t gid, bool write)
{
	/* The VMM runs without capabilities or supplementary groups: the
	 * owner's bits for the owner (root included), else the group's for
	 * the group, else the others'. */
	if (st->st_uid == uid)
		return st->st_mode & (write ? S_IWUSR : S_IRUSR);
	if (st->st_gid == gid)
		return st->st_mode & (write ? S_IWGRP : S_IRGRP);
	return st->st_mode & (write ? S_IWOTH : S_IROTH);
}

int jail_source_check(const struct jail_file *f, const struct stat *st, uid_t uid, gid_t gid,
		      char *why, size_t why_size)
{
	bool fifo = S_ISFIFO(st->st_mode), blk = S_ISBLK(st->st_mode);

	/* Refused before the jail is made: a node of a disk the VMM would
	 * refuse (a kernel, a log) would outlive it, the jail's uid's. */
	if (!S_ISREG(st->st_mode) && !(blk && f->block_ok) && !(fifo && f->fifo_ok)) {
		snprintf(why, why_size, "%s: %s; a %s must be a regular file%s", f->src,
			 file_type_name(st->st_mode),
			 f->fifo_ok    ? "log or metrics path"
			 : f->block_ok ? "drive"
				       : "VM's file",
			 f->fifo_ok    ? " or a FIFO"
			 : f->block_ok ? " or a block device"
				       : "");
		return -EINVAL;
	}
	/* A block device gets a new node in the jail (made for uid:gid); a
	 * file is the caller's, hard-linked as it is. */
	if (f->writable && !S_ISBLK(st->st_mode) && !jail_may_access(st, uid, gid, true)) {
		snprintf(why, why_size,
			 "%s '%s' is not writable by uid %u/gid %u: chown it to %u:%u (or make "
			 "it group-writable for %u) before jailing",
			 f->fifo_ok ? "log or metrics file" : "drive", f->src, (unsigned int)uid,
			 (unsigned int)gid, (unsigned int)uid, (unsigned int)gid,
			 (unsigned int)gid);
		return -EACCES;
	}
	/* The jail never hands uid:gid what it cannot use on the host: a copy
	 * of a file it cannot read (an input named through a symlink a user
	 * planted: /etc/shadow), a node of a disk it cannot open. As in
	 * Firecracker, whose VMM opens the VM's files as the jailed uid. A log
	 * or metrics file is only written: the check above. */
	if (!f->fifo_ok && (!jail_may_access(st, uid, gid, false) ||
			    (blk && f->writable && !jail_may_access(st, uid, gid, true)))) {
		snprintf(why, why_size,
			 "%s '%s' is not %s by uid %u/gid %u: chown or chmod it for %u:%u before "
			 "jailing (a jail gives that uid nothing it cannot %s on the host)",
			 f->block_ok ? "drive" : "file", f->src,
			 blk && f->writable ? "readable and writable" : "readable",
			 (unsigned int)uid, (unsigned int)gid, (unsigned int)uid, (unsigned int)gid,
			 blk && f->writable ? "read and write" : "read");
		return -EACCES;
	}
	return 0;
}

int jail_open_source(const struct jail_file *f, uid_t uid, gid_t gid, int *fd, struct stat *st)
{
	char why[PATH_MAX + 200];
	int err;

	/* Symlinks are followed here, once: from now on the descriptor is the
	 * file. open_input: opening a FIFO does not wait for a writer. */
	err = open_input(f->src, O_RDONLY,
			 INPUT_FILE | (f->block_ok ? INPUT_BLOCK : 0) |
				 (f->fifo_ok ? INPUT_FIFO : 0),
			 fd, st, why, sizeof(why));
	if (err == -ENOENT && f->fifo_ok) {
		/* An output is a host file linked into the jail: it must be
		 * there first (the jailer makes no file on the host). */
		pr_err("%s: No such file or directory: an output file goes into the jail as a link "
		       "to it, so create it (writable by uid %u/gid %u) before jailing",
		       f->src, (unsigned int)uid, (unsigned int)gid);
		return err;
	}
	if (err) {
		pr_err("%s: %s", f->src, why);
		return err;
	}
	err = jail_source_check(f, st, uid, gid, why, sizeof(why));
	if (!err)
		return 0;
	pr_err("%s", why);
	close(*fd);
	*fd = -1;
	return err;
}

/* Hard-links the file open at fd as dirfd/name. */
static int link_fd(int fd, int dirfd, const char *name)
{
	char proc[64];

	if (!linkat(fd, "", dirfd, name, AT_EMPTY_PATH))
		return 0;
	/* AT_EMPTY_PATH needs CAP_DAC_READ_SEARCH (ENOENT without it);
	 * /proc's link to the descriptor is the same file. */
	if (errno != ENOENT)
		return -errno;
	snprintf(proc, sizeof(proc), "/proc/self/fd/%d", fd);
	return linkat(AT_FDCWD, proc, dirfd, name, AT_SYMLINK_FOLLOW) ? -errno : 0;
}

/* Copies what fd holds into a new dirfd/name, mode, owned by uid:gid when
 * own. A failed copy is removed. */
static int copy_fd(int fd, int dirfd, const char *name, mode_t mode, bool own, uid_t uid, gid_t gid)
{
	int out, err = 0;

	out = openat(dirfd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode);
	if (out < 0)
		return -errno;
	if (own && fchown(out, uid, gid))
		err = -errno;
	if (!err)
		err = copy_fd_data(fd, out);
	if (close(out) && !err)
		err = -errno;
	if (err)
		unlinkat(dirfd, name, 0);
	return err;
}

/* A node the jailer makes for uid:gid with mode (chmod: the umask would
 * take bits away). Nothing but root can write the jail's directories yet,
 * so the name is still the node. */
static int make_node(int dirfd, const char *name, mode_t mode, dev_t dev, uid_t uid, gid_t gid)
{
	if (mknodat(dirfd, name, mode, dev) ||
	    fchownat(dirfd, name, uid, gid, AT_SYMLINK_NOFOLLOW) ||
	    fchmodat(dirfd, name, mode & 07777, 0))
		return -errno;
	return 0;
}

/* The set-ID programs the kernel's fs.protected_hardlinks keeps users from
 * linking: set-user-ID, or set-group-ID and group-executable. */
static bool set_id(const struct stat *st)
{
	return (st->st_mode & S_ISUID) ||
	       (st->st_mode & (S_ISGID | S_IXGRP)) == (S_ISGID | S_IXGRP);
}

int jail_put_file(int rootfd, int fd, const struct stat *st, const struct jail_file *f, uid_t uid,
		  gid_t gid)
{
	int err;

	if (S_ISBLK(st->st_mode)) {
		/* A disk is not copied: the same device, for gid only, owned by
		 * root: an owner could chmod a read-only node writable. */
		err = make_node(rootfd, f->name, S_IFBLK | (f->writable ? 0060 : 0040), st->st_rdev,
				0, gid);
		if (err)
			pr_err("cannot make the block device /%s in the jail: %s", f->name,
			       strerror(-err));
		return err;
	}
	if (f->writable && set_id(st)) {
		pr_err("%s is set-user-ID or set-group-ID: a drive must not be (a hard link of it "
		       "in the jail would be the uid's to keep)",
		       f->src);
		return -EPERM;
	}
	if (f->writable) {
		/* jail_source_check saw that uid:gid can write it as it is. */
		err = link_fd(fd, rootfd, f->name);
		if (err)
			pr_err("%s: cannot hard-link it into the jail (%s)%s", f->src,
			       strerror(-err),
			       err == -EXDEV ? ": a writable file must be on the jail's file "
					       "system (a copy would swallow the guest's writes); "
					       "move it there or choose a --chroot-base on its "
					       "file system"
					     : "");
		return err;
	}
	/* A hard link (uid:gid can read it: jail_source_check); on another file
	 * system, or of a set-ID program (a link uid could move out of the jail
	 * and keep past the program's upgrade: what fs.protected_hardlinks
	 * refuses uid itself), a copy of its own, which has no set-ID bits. */
	if (!set_id(st) && !link_fd(fd, rootfd, f->name))
		return 0;
	err = copy_fd(fd, rootfd, f->name, 0400, true, uid, gid);
	if (err)
		pr_err("cannot copy %s into the jail: %s", f->src, strerror(-err));
	return err;
}

/* A directory of the jail's own structure that a reused root holds already
 * (a previous VM's uid may own it, and hold it open): root's, and nobody
 * else's to write, before anything is put in it. */
static int root_own(int fd)
{
	struct stat st;

	if (fstat(fd, &st))
		return -errno;
	if (st.st_uid && fchown(fd, 0, 0))
		return -errno;
	if ((st.st_mode & 022) && fchmod(fd, st.st_mode & 07755))
		return -errno;
	return 0;
}

/* Opens (making the missing ones, mode) each directory of the relative
 * path below dirfd in turn, never following a symlink; with last false the
 * last component is left out. Directories made get uid:gid when own. *out is
 * the last directory (a new descriptor). */
static int walk_dirs(int dirfd, const char *path, bool last, mode_t mode, bool own, uid_t uid,
		     gid_t gid, int *out)
{
	char buf[PATH_MAX], *c, *next;
	int fd, nfd, err;

	if (path_fmt(buf, sizeof(buf), "%s", path))
		return -ENAMETOOLONG;
	fd = openat(dirfd, ".", DIR_OPEN);
	if (fd < 0)
		return -errno;
	for (c = buf; *c; c = next) {
		bool made;

		next = strchrnul(c, '/');
		if (!*next && !last)
			break;
		if (*next)
			*next++ = '\0';
		if (!*c || !strcmp(c, "."))
			continue;
		if (!strcmp(c, "..")) {
			close(fd);
			return -EINVAL;
		}
		made = !mkdirat(fd, c, mode);
		if (!made && errno != EEXIST) {
			int err = -errno;

			close(fd);
			return err;
		}
		nfd = openat(fd, c, DIR_OPEN);
		/* A symlink or a file: ENOTDIR (or ELOOP) either way. */
		if (nfd < 0) {
			int err = errno == ELOOP ? -ENOTDIR : -errno;

			close(fd);
			return err;
		}
		close(fd);
		if (made && own && fchown(nfd, uid, gid)) {
			int err = -errno;

			close(nfd);
			return err;
		}
		if (!made && !own && (err = root_own(nfd))) {
			close(nfd);
			return err;
		}
		fd = nfd;
	}
	*out = fd;
	return 0;
}

/* src (a path of the host's own files: volt and its libraries) as
 * dirfd/name: a hard link, else a copy with mode. An existing name (a reused
 * root) is fine when it is src itself; anything else there (a previous VM's
 * uid could have put its own loader) is replaced. */
static int link_or_copy(const char *src, int dirfd, const char *name, mode_t mode)
{
	struct stat have, want;
	int in, err;

	if (!linkat(AT_FDCWD, src, dirfd, name, 0))
		return 0;
	if (errno == EEXIST) {
		if (!fstatat(dirfd, name, &have, AT_SYMLINK_NOFOLLOW) && !stat(src, &want) &&
		    have.st_dev == want.st_dev && have.st_ino == want.st_ino)
			return 0;
		if (unlinkat(dirfd, name, 0))
			return -errno;
		if (!linkat(AT_FDCWD, src, dirfd, name, 0))
			return 0;
	}
	err = open_input(src, O_RDONLY, INPUT_FILE, &in, NULL, NULL, 0);
	if (err)
		return err;
	err = copy_fd(in, dirfd, name, mode, false, 0, 0);
	close(in);
	return err;
}

/* path (an absolute path) at the same path below the root, linked or copied. */
static int put_at_same_path(int rootfd, const char *src, const char *path, mode_t mode)
{
	int dirfd, err;

	err = walk_dirs(rootfd, path, false, 0755, false, 0, 0, &dirfd);
	if (err)
		return err;
	err = link_or_copy(src, dirfd, strrchr(path, '/') + 1, mode);
	close(dirfd);
	return err;
}

struct libs_ctx {
	int rootfd;
	int err;
};

static int put_lib(struct dl_phdr_info *info, size_t size, void *data)
{
	struct libs_ctx *c = data;
	char real[PATH_MAX];
	int err;

	(void)size;
	/* The program itself has no name; the vDSO has no path. */
	if (!info->dlpi_name || info->dlpi_name[0] != '/')
		return 0;
	/* The path the loader opened it by (the interpreter's PT_INTERP path,
	 * a library's soname in a default directory) is where the jailed
	 * loader, without ld.so.cache, looks for it. */
	if (!realpath(info->dlpi_name, real)) {
		c->err = -errno;
		pr_err("%s: %s", info->dlpi_name, strerror(errno));
		return 1;
	}
	err = put_at_same_path(c->rootfd, real, info->dlpi_name, 0755);
	if (err) {
		pr_err("cannot put %s into the jail: %s", info->dlpi_name, strerror(-err));
		c->err = err;
		return 1;
	}
	return 0;
}

static int put_libs(int rootfd)
{
	struct libs_ctx c = { .rootfd = rootfd };

	dl_iterate_phdr(put_lib, &c);
	return c.err;
}

int jail_put_volt(int rootfd)
{
	char exe[PATH_MAX];
	ssize_t n;
	int err;

	n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (n < 0)
		return -errno;
	exe[n] = '\0';
	err = link_or_copy(exe, rootfd, "volt", 0755);
	if (err) {
		pr_err("cannot copy %s into the jail: %s", exe, strerror(-err));
		return err;
	}
	return put_libs(rootfd);
}

/* Why <root>/<name> could not be made new, in Firecracker's words for what
 * its jailer finds there: its open (O_NOFOLLOW) fails on a symlink, it
 * refuses a file with other links. Anything else there is refused too (volt
 * never writes through an existing name). */
static void exec_exists_error(int rootfd, const char *root, const char *name)
{
	char ebuf[128];
	struct stat st;
	int e = EEXIST;

	if (!fstatat(rootfd, name, &st, AT_SYMLINK_NOFOLLOW)) {
		if (S_ISREG(st.st_mode) && st.st_nlink > 1) {
			pr_err("Detected hard link at: %s/%s", root, name);
			return;
		}
		if (S_ISLNK(st.st_mode))
			e = ELOOP;
	}
	pr_err("Failed to open %s/%s: %s", root, name, rust_io_error(e, ebuf, sizeof(ebuf)));
}

int jail_put_exec(int rootfd, const char *root, const char *src, const char *name, uid_t uid,
		  gid_t gid)
{
	char ebuf[128];
	struct stat st;
	int in = -1, out, err;

	err = open_input(src, O_RDONLY, INPUT_FILE, &in, &st, NULL, 0);
	if (err) {
		pr_err("Failed to open %s: %s", src, rust_io_error(-err, ebuf, sizeof(ebuf)));
		return err;
	}
	/* The copy is the uid's: never one of a file it cannot read on the
	 * host (an --exec-file path through a symlink a user planted). */
	if (!jail_may_access(&st, uid, gid, false)) {
		pr_err("--exec-file %s is not readable by uid %u/gid %u: the jail would hand that "
		       "uid a copy of it (chmod it, or name the VMM's own binary)",
		       src, (unsigned int)uid, (unsigned int)gid);
		close(in);
		return -EACCES;
	}
	/* O_EXCL: a name the jail holds already (a reused root) is refused,
	 * never written through; O_NOFOLLOW as well, as Firecracker's jailer. */
	out = openat(rootfd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
		     st.st_mode & 0755);
	if (out < 0) {
		err = -errno;
		if (err == -EEXIST)
			exec_exists_error(rootfd, root, name);
		else
			pr_err("Failed to open %s/%s: %s", root, name,
			       rust_io_error(-err, ebuf, sizeof(ebuf)));
		close(in);
		return err;
	}
	if (fchown(out, uid, gid)) {
		err = -errno;
		pr_err("Failed to change owner for %s/%s: %s", root, name,
		       rust_io_error(-err, ebuf, sizeof(ebuf)));
	} else {
		err = copy_fd_data(in, out);
		if (close(out) && !err)
			err = -errno;
		out = -1;
		if (err)
			pr_err("Failed to copy %s to %s/%s: %s", src, root, name,
			       rust_io_error(-err, ebuf, sizeof(ebuf)));
	}
	if (out >= 0)
		close(out);
	close(in);
	if (err) {
		unlinkat(rootfd, name, 0);
		return err;
	}
	return put_libs(rootfd);
}

int jail_make_devices(int rootfd, uid_t uid, gid_t gid)
{
	struct stat st;
	int devfd, netfd, err;

	/* root's, 0700, while the nodes are made: jail_seal_root hands them
	 * to uid:gid. */
	err = walk_dirs(rootfd, "dev", true, 0700, false, 0, 0, &devfd);
	if (err)
		goto fail;
	err = walk_dirs(devfd, "net", true, 0700, false, 0, 0, &netfd);
	/* A reused root's directories (Firecracker's jailer keeps them) must be
	 * root's alone: nodes are made and chowned by name in them. */
	if (!err &&
	    (fstat(devfd, &st) || !root_only(&st) || fstat(netfd, &st) || !root_only(&st))) {
		close(netfd);
		err = -EPERM;
	}
	if (!err) {
		err = make_node(devfd, "kvm", S_IFCHR | 0600, makedev(10, 232), uid, gid);
		if (!err)
			err = make_node(netfd, "tun", S_IFCHR | 0600, makedev(10, 200), uid, gid);
		close(netfd);
	}
	close(devfd);
	if (!err)
		return 0;
fail:
	pr_err("cannot make /dev/kvm and /dev/net/tun in the jail: %s", strerror(-err));
	return err;
}

/* userfaultfd's minor (a dynamic misc device) from /proc/misc, or -1. */
static int uffd_minor(void)
{
	char line[128];
	FILE *f = fopen("/proc/misc", "re");
	int minor = -1, m;

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "%d userfaultfd", &m) == 1 && strstr(line, " userfaultfd\n"))
			minor = m;
	fclose(f);
	return minor;
}

int jail_make_fc_devices(int rootfd, uid_t uid, gid_t gid)
{
	int devfd, err, minor = uffd_minor();

	err = walk_dirs(rootfd, "dev", true, 0700, false, 0, 0, &devfd);
	if (err)
		return err;
	/* As Firecracker's jailer: without it only MMDS v2 is lost. */
	err = make_node(devfd, "urandom", S_IFCHR | 0600, makedev(1, 9), uid, gid);
	if (err)
		pr_warn("could not make /dev/urandom in the jail: %s", strerror(-err));
	err = 0;
	if (minor >= 0) {
		err = make_node(devfd, "userfaultfd", S_IFCHR | 0600, makedev(10, (unsigned)minor),
				uid, gid);
		if (err)
			pr_err("cannot make /dev/userfaultfd in the jail: %s", strerror(-err));
	}
	close(devfd);
	return err;
}

int jail_make_parent(int rootfd, const char *path, uid_t uid, gid_t gid)
{
	int fd = -1, err;

	err = walk_dirs(rootfd, path, false, 0700, true, uid, gid, &fd);
	if (err) {
		pr_err("cannot make the directories of %s in the jail: %s", path,
		       err == -ENOTDIR ? "a file or symlink of that name is there"
				       : strerror(-err));
		return err;
	}
	close(fd);
	return 0;
}

int jail_write_file(int rootfd, const char *name, const char *text, uid_t uid, gid_t gid)
{
	int fd, err = 0;

	fd = openat(rootfd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0 || fchown(fd, uid, gid))
		err = -errno;
	if (!err)
		err = write_all(fd, text, strlen(text));
	if (fd >= 0)
		close(fd);
	if (err)
		pr_err("cannot write /%s in the jail: %s", name, strerror(-err));
	return err;
}

/* A directory only root may change entries in: owned by root, not writable
 * by group or others (unless sticky: then they cannot rename or remove
 * root's entries). */
static bool root_only(const struct stat *st)
{
	return st->st_uid == 0 && (!(st->st_mode & (S_IWGRP | S_IWOTH)) || (st->st_mode & S_ISVTX));
}

int jail_open_base(const char *base, int *out)
{
	char buf[PATH_MAX], *c, *next, *cut = NULL;
	struct statvfs sv;
	struct stat st;
	int fd, nfd;

	if (path_fmt(buf, sizeof(buf), "%s", base))
		return -ENAMETOOLONG;
	fd = open("/", DIR_OPEN);
	if (fd < 0)
		return -errno;
	/* Component by component from "/": a symlink anywhere would put the
	 * jail (and its device nodes for uid:gid) somewhere else. */
	for (c = buf + 1; *c; c = next) {
		/* buf is the path up to c, for messages. */
		if (cut)
			*cut = '/';
		cut = NULL;
		next = strchrnul(c, '/');
		if (*next) {
			cut = next;
			*next++ = '\0';
		}
		if (!*c)
			continue;
		if (!strcmp(c, ".") || !strcmp(c, "..")) {
			pr_err("--chroot-base %s: '.' or '..' in it; give the directory's real "
			       "path",
			       base);
			close(fd);
			return -EINVAL;
		}
		nfd = openat(fd, c, DIR_OPEN);
		if (nfd < 0) {
			int e = errno;

			if (!fstatat(fd, c, &st, AT_SYMLINK_NOFOLLOW) && S_ISLNK(st.st_mode)) {
				e = ELOOP;
				pr_err("--chroot-base %s: %s is a symlink; give the directory's "
				       "real path (symlinks are refused)",
				       base, buf);
			} else {
				pr_err("--chroot-base %s: %s", base, strerror(e));
			}
			close(fd);
			return -e;
		}
		close(fd);
		fd = nfd;
	}
	if (fstat(fd, &st) || fstatvfs(fd, &sv)) {
		pr_err("--chroot-base %s: %s", base, strerror(errno));
		close(fd);
		return -errno;
	}
	if (!root_only(&st)) {
		pr_err("--chroot-base %s: must be owned by root and not writable by group or "
		       "others (owner %u, mode %04o)",
		       base, (unsigned int)st.st_uid, (unsigned int)(st.st_mode & 07777));
		close(fd);
		return -EPERM;
	}
	if (sv.f_flag & ST_NODEV) {
		pr_err("--chroot-base %s: mounted nodev, so /dev/kvm could not be opened there",
		       base);
		close(fd);
		return -EINVAL;
	}
	*out = fd;
	return 0;
}

int jail_make_root(int basefd, const char *base, const char *name, const char *id, bool reuse,
		   int *rootfd, bool *made, struct stat *was, int *lockfd)
{
	struct stat st;
	int pfd, tfd, rfd = -1;

	*made = false;
	*lockfd = -1;
	if (mkdirat(basefd, name, 0755) && errno != EEXIST) {
		pr_err("cannot make %s/%s: %s", base, name, strerror(errno));
		return -errno;
	}
	pfd = openat(basefd, name, DIR_OPEN);
	if (pfd < 0 || fstat(pfd, &st) || !root_only(&st)) {
		int e = pfd < 0 ? errno : 0;

		if (e == ELOOP || e == ENOTDIR)
			pr_err("%s/%s is a symlink or not a directory: refused (remove it)", base,
			       name);
		else if (e)
			pr_err("%s/%s: %s", base, name, strerror(e));
		else
			pr_err("%s/%s must be owned by root and not writable by group or others",
			       base, name);
		if (pfd >= 0)
			close(pfd);
		return e ? -e : -EPERM;
	}
	if (mkdirat(pfd, id, 0755)) {
		int e = errno;

		if (e != EEXIST || !reuse) {
			if (e == EEXIST)
				pr_err("jail %s/%s/%s exists already: another VM has id '%s', or "
				       "an earlier one left it (remove it first)",
				       base, name, id, id);
			else
				pr_err("cannot make %s/%s/%s: %s", base, name, id, strerror(e));
			close(pfd);
			return -e;
		}
	} else {
		*made = true;
	}
	tfd = openat(pfd, id, DIR_OPEN);
	/* Two jailers with one id at once: the second gives up, and removes
	 * nothing (the <id> it may have made is the first one's now). */
	if (tfd >= 0 && flock(tfd, LOCK_EX | LOCK_NB)) {
		pr_err("jail %s/%s/%s: another jailer is making it (id '%s' given twice at once)",
		       base, name, id, id);
		*made = false;
		close(tfd);
		close(pfd);
		return -EBUSY;
	}
	/* root's alone until it is filled; jail_seal_root hands it over. */
	if (tfd >= 0 && mkdirat(tfd, "root", 0700) && (errno != EEXIST || !reuse))
		rfd = -2;
	if (tfd >= 0 && rfd == -1)
		rfd = openat(tfd, "root", DIR_OPEN);
	/* A reused root (Firecracker's jailer keeps what the caller put there):
	 * root's alone, 0700, while it is filled, so nothing else can change
	 * its entries meanwhile. */
	if (rfd >= 0 && reuse &&
	    ((was && fstat(rfd, was)) || fchown(rfd, 0, 0) || fchmod(rfd, 0700))) {
		close(rfd);
		rfd = -2;
	}
	if (rfd < 0) {
		int e = errno;

		pr_err("cannot make %s/%s/%s/root: %s", base, name, id,
		       e == ELOOP ? "a symlink is there" : strerror(e));
		if (tfd >= 0) {
			if (*made)
				unlinkat(tfd, "root", AT_REMOVEDIR);
			close(tfd);
		}
		if (*made)
			unlinkat(pfd, id, AT_REMOVEDIR); /* the one made above */
		*made = false;
		close(pfd);
		return -e;
	}
	close(pfd);
	*rootfd = rfd;
	*lockfd = tfd;
	return 0;
}

/* Hands the directory at dirfd/name (a real one: O_NOFOLLOW) to uid:gid,
 * 0700; *out (when not NULL) keeps it open. */
static int hand_dir(int dirfd, const char *name, uid_t uid, gid_t gid, int *out)
{
	int fd = openat(dirfd, name, DIR_OPEN), err = 0;

	if (fd < 0)
		return -errno;
	if (fchown(fd, uid, gid) || fchmod(fd, 0700))
		err = -errno;
	if (!err && out)
		*out = fd;
	else
		close(fd);
	return err;
}

int jail_seal_root(int rootfd, uid_t uid, gid_t gid)
{
	int devfd = -1, err;

	/* As Firecracker's jailer: the VMM's alone. The root last: until then
	 * nothing but root can enter the ones below. */
	err = hand_dir(rootfd, "dev", uid, gid, &devfd);
	if (!err) {
		err = hand_dir(devfd, "net", uid, gid, NULL);
		close(devfd);
	}
	if (!err && (fchown(rootfd, uid, gid) || fchmod(rootfd, 0700)))
		err = -errno;
	if (err)
		pr_err("cannot hand the jail's root to %u:%u: %s", (unsigned int)uid,
		       (unsigned int)gid, strerror(-err));
	return err;
}
