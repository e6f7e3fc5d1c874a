/* The jail's files: the VM's files, volt with the shared objects it runs on,
 * and the two device nodes. Hard links where they do (nothing is copied and
 * a writable drive stays the caller's file), copies otherwise. */
#include "sandbox/jail.h"

#include "util/fs.h"
#include "util/log.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <link.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

static bool readable_by(const struct stat *st, uid_t uid, gid_t gid)
{
	if (uid == 0)
		return true;
	if (st->st_uid == uid)
		return st->st_mode & S_IRUSR;
	if (st->st_gid == gid)
		return st->st_mode & S_IRGRP;
	return st->st_mode & S_IROTH;
}

int jail_put_file(const char *root, const char *src, const char *name, bool writable, uid_t uid,
		  gid_t gid)
{
	char dst[PATH_MAX];
	struct stat st;
	int err;

	if (path_fmt(dst, sizeof(dst), "%s/%s", root, name))
		return -ENAMETOOLONG;
	if (stat(src, &st)) {
		pr_err("%s: %s", src, strerror(errno));
		return -errno;
	}
	if (S_ISBLK(st.st_mode)) {
		/* A disk is not copied: the same device, for uid:gid only. */
		if (mknod(dst, S_IFBLK | (writable ? 0600 : 0400), st.st_rdev) ||
		    chown(dst, uid, gid) || chmod(dst, writable ? 0600 : 0400)) {
			pr_err("cannot make the block device %s: %s", dst, strerror(errno));
			return -errno;
		}
		return 0;
	}
	if (writable) {
		if (link(src, dst)) {
			pr_err("%s: cannot hard-link it into the jail (%s)%s", src, strerror(errno),
			       errno == EXDEV ? ": a writable drive must be on the jail's file "
						"system, or a copy would keep the guest's writes"
					      : "");
			return -errno;
		}
		/* The guest writes it as uid:gid; the link is the same file. */
		if (chown(dst, uid, gid) || chmod(dst, (st.st_mode & 07777) | S_IRUSR | S_IWUSR)) {
			pr_err("cannot hand %s to %u:%u: %s", src, (unsigned int)uid,
			       (unsigned int)gid, strerror(errno));
			return -errno;
		}
		return 0;
	}
	if (readable_by(&st, uid, gid) && !link(src, dst))
		return 0;
	err = copy_file(src, dst, 0400);
	if (!err && chown(dst, uid, gid))
		err = -errno;
	if (err)
		pr_err("cannot copy %s into the jail: %s", src, strerror(-err));
	return err;
}

/* src at <root><path> (the same absolute path inside), linked or copied. */
static int put_at_same_path(const char *root, const char *src, const char *path, mode_t mode)
{
	char dst[PATH_MAX], dir[PATH_MAX], *slash;
	int err;

	if (path_fmt(dst, sizeof(dst), "%s%s", root, path))
		return -ENAMETOOLONG;
	snprintf(dir, sizeof(dir), "%s", dst);
	slash = strrchr(dir, '/');
	*slash = '\0';
	err = mkdir_p(dir, 0755);
	if (err)
		return err;
	if (!link(src, dst) || errno == EEXIST)
		return 0;
	return copy_file(src, dst, mode);
}

struct libs_ctx {
	const char *root;
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
	err = put_at_same_path(c->root, real, info->dlpi_name, 0755);
	if (err) {
		pr_err("cannot put %s into the jail: %s", info->dlpi_name, strerror(-err));
		c->err = err;
		return 1;
	}
	return 0;
}

int jail_put_volt(const char *root)
{
	struct libs_ctx c = { .root = root };
	char exe[PATH_MAX], dst[PATH_MAX];
	ssize_t n;
	int err;

	n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (n < 0)
		return -errno;
	exe[n] = '\0';
	if (path_fmt(dst, sizeof(dst), "%s/volt", root))
		return -ENAMETOOLONG;
	if (link(exe, dst)) {
		err = copy_file(exe, dst, 0755);
		if (err) {
			pr_err("cannot copy %s into the jail: %s", exe, strerror(-err));
			return err;
		}
	}
	dl_iterate_phdr(put_lib, &c);
	return c.err;
}

int jail_make_devices(const char *root, uid_t uid, gid_t gid)
{
	static const struct {
		const char *path;
		unsigned int major, minor;
	} nodes[] = { { "dev/kvm", 10, 232 }, { "dev/net/tun", 10, 200 } };
	char path[PATH_MAX];
	size_t i;
	int err;

	if (path_fmt(path, sizeof(path), "%s/dev/net", root))
		return -ENAMETOOLONG;
	err = mkdir_p(path, 0755);
	if (err)
		return err;
	for (i = 0; i < sizeof(nodes) / sizeof(nodes[0]); i++) {
		if (path_fmt(path, sizeof(path), "%s/%s", root, nodes[i].path))
			return -ENAMETOOLONG;
		if (mknod(path, S_IFCHR | 0660, makedev(nodes[i].major, nodes[i].minor)) ||
		    chown(path, uid, gid) || chmod(path, 0660)) {
			pr_err("cannot make %s: %s", path, strerror(errno));
			return -errno;
		}
	}
	return 0;
}

int jail_make_parent(const char *root, const char *path, uid_t uid, gid_t gid)
{
	char dir[PATH_MAX], *c;
	struct stat st;
	size_t rlen = strlen(root);

	if (path_fmt(dir, sizeof(dir), "%s/%s", root, path))
		return -ENAMETOOLONG;
	/* Each directory between the root and the last component, in turn. */
	for (c = dir + rlen + 1; (c = strchr(c, '/')); c++) {
		*c = '\0';
		if (c[-1] != '/' && mkdir(dir, 0750) == 0) {
			if (chown(dir, uid, gid)) {
				pr_err("cannot hand %s to %u:%u: %s", dir, (unsigned int)uid,
				       (unsigned int)gid, strerror(errno));
				return -errno;
			}
		} else if (c[-1] != '/') {
			/* Not a symlink: the jail is root's until the VMM runs. */
			if (errno != EEXIST || lstat(dir, &st) || !S_ISDIR(st.st_mode)) {
				pr_err("cannot make the directory %s in the jail: %s", dir,
				       errno == EEXIST ? "a file of that name is there"
						       : strerror(errno));
				return errno == EEXIST ? -ENOTDIR : -errno;
			}
		}
		*c = '/';
	}
	return 0;
}

int jail_write_file(const char *root, const char *name, const char *text, uid_t uid, gid_t gid)
{
	char path[PATH_MAX];
	int fd, err = 0;

	if (path_fmt(path, sizeof(path), "%s/%s", root, name))
		return -ENAMETOOLONG;
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0 || fchown(fd, uid, gid))
		err = -errno;
	if (!err)
		err = write_all(fd, text, strlen(text));
	if (fd >= 0)
		close(fd);
	if (err)
		pr_err("cannot write %s: %s", path, strerror(-err));
	return err;
}
