/* Building the guest kit's root filesystem into the cache. */
#include "kernel/rootfs.h"

#include "core/host.h"
#include "kernel/cpio.h"
#include "util/fs.h"
#include "util/log.h"
#include "util/parse.h"
#include "util/paths.h"
#include "util/sha256.h"
#include "util/spawn.h"
#include "util/why.h"

#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define MAX_BUSYBOX (64 << 20)
#define MAX_FILES   1024

struct rfile {
	char name[128];
	uint32_t mode;
	const char *data;
	size_t size;
	uint32_t major, minor;
};

struct content {
	struct rfile files[MAX_FILES];
	int n;
	char *busybox, *init, *applets;
	size_t busybox_size, init_size;
};

/* rootfs/helpers/volt-boot-done.c, built and embedded by Meson. */
extern const unsigned char volt_boot_done_bin[];
extern const size_t volt_boot_done_bin_len;
/* rootfs/helpers/volt-ready.c: the kit port's guest side (devices/legacy/kit_port.h). */
extern const unsigned char volt_ready_bin[];
extern const size_t volt_ready_bin_len;

static const char passwd[] = "root:x:0:0:root:/root:/bin/sh\n";
static const char group[] = "root:x:0:\n";

enum rootfs_format rootfs_default_format(void)
{
	return host_is_pvm() ? ROOTFS_CPIO : ROOTFS_CPIO_GZ;
}

int elf_is_static(const void *image, size_t size)
{
	const Elf64_Ehdr *eh = image;
	size_t i;

	if (size < sizeof(*eh) || memcmp(eh->e_ident, ELFMAG, SELFMAG) ||
	    eh->e_ident[EI_CLASS] != ELFCLASS64 || eh->e_phentsize != sizeof(Elf64_Phdr))
		return -ENOEXEC;
	if (eh->e_phoff > size || (size - eh->e_phoff) / sizeof(Elf64_Phdr) < eh->e_phnum)
		return -ENOEXEC;
	for (i = 0; i < eh->e_phnum; i++) {
		const Elf64_Phdr *ph = (const Elf64_Phdr *)((const char *)image + eh->e_phoff) + i;

		if (ph->p_type == PT_INTERP)
			return 0;
	}
	return 1;
}

static int add(struct content *c, const char *name, uint32_t mode, const char *data, size_t size)
{
	struct rfile *f;
	int i;

	for (i = 0; i < c->n; i++) /* a later entry replaces an earlier one */
		if (!strcmp(c->files[i].name, name))
			break;
	if (i == MAX_FILES || strlen(name) >= sizeof(f->name))
		return -E2BIG;
	if (i == c->n)
		c->n++;
	f = &c->files[i];
	memset(f, 0, sizeof(*f));
	strcpy(f->name, name);
	f->mode = mode;
	f->data = data;
	f->size = size;
	return 0;
}

static void collect_applet(const char *line, void *ctx)
{
	struct content *c = ctx;
	size_t have = c->applets ? strlen(c->applets) : 0, n = strlen(line);
	char *grown;

	if (!n || line[0] == '/' || strstr(line, ".."))
		return;
	grown = realloc(c->applets, have + n + 2);
	if (!grown)
		return;
	memcpy(grown + have, line, n);
	grown[have + n] = '\n';
	grown[have + n + 1] = '\0';
	c->applets = grown;
}

/* The links ROOTFS_LINKS_MINIMAL keeps (rootfs.h). */
static bool applet_link_kept(const char *name, enum rootfs_links links)
{
	return links == ROOTFS_LINKS_ALL || !strcmp(name, "bin/sh") || !strcmp(name, "usr/bin/env");
}

static enum rootfs_links links_for(const struct rootfs_opts *o)
{
	if (o->links != ROOTFS_LINKS_DEFAULT)
		return o->links;
	return o->format != ROOTFS_EXT4 && host_is_pvm() ? ROOTFS_LINKS_MINIMAL : ROOTFS_LINKS_ALL;
}

static int load_content(struct content *c, const char *busybox, enum rootfs_links links)
{
	static const char *const dirs[] = { "bin", "sbin", "usr", "usr/bin", "usr/sbin",
					    "dev", "proc", "sys", "tmp",     "root",
					    "etc", "mnt",  "run", "var" };
	char init_path[PATH_MAX];
	struct spawn_opts so = { .out_fd = -1, .log_fd = -1, .on_line = collect_applet, .ctx = c };
	char *list_argv[] = { (char *)busybox, "--list-full", NULL };
	char why[160];
	char *p;
	size_t i;
	int err;

	err = read_input(busybox, MAX_BUSYBOX, &c->busybox, &c->busybox_size, why, sizeof(why));
	if (err) {
		pr_err("busybox '%s': %s%s", busybox, why,
		       err == -ENOENT ? " (install busybox-static: make deps)" : "");
		return err;
	}
	err = elf_is_static(c->busybox, c->busybox_size);
	if (err <= 0) {
		pr_err("busybox %s is %s; the guest needs busybox-static", busybox,
		       err ? "not an ELF executable" : "dynamically linked");
		return -ENOEXEC;
	}
	if (volt_data_path(init_path, sizeof(init_path), "rootfs/init") ||
	    read_file(init_path, 1 << 20, &c->init, &c->init_size)) {
		pr_err("cannot read the guest init script %s", init_path);
		return -ENOENT;
	}
	err = spawn_run(list_argv, &so);
	if (err || !c->applets) {
		pr_err("'%s --list-full' failed; is it busybox?", busybox);
		return -ENOEXEC;
	}
	for (i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++)
		add(c, dirs[i], S_IFDIR | 0755, NULL, 0);
	add(c, "tmp", S_IFDIR | 01777, NULL, 0);
	add(c, "root", S_IFDIR | 0700, NULL, 0);
	add(c, "dev/console", S_IFCHR | 0600, NULL, 0);
	c->files[c->n - 1].major = 5;
	c->files[c->n - 1].minor = 1;
	add(c, "etc/passwd", S_IFREG | 0644, passwd, sizeof(passwd) - 1);
	add(c, "etc/group", S_IFREG | 0644, group, sizeof(group) - 1);
	for (p = c->applets; *p;) {
		char *nl = strchr(p, '\n');

		*nl = '\0';
		err = applet_link_kept(p, links)
			      ? add(c, p, S_IFLNK | 0777, "/bin/busybox", strlen("/bin/busybox"))
			      : 0;
		*nl = '\n';
		if (err)
			return err;
		p = nl + 1;
	}
	add(c, "bin/busybox", S_IFREG | 0755, c->busybox, c->busybox_size);
	add(c, "sbin/volt-boot-done", S_IFREG | 0755, (const char *)volt_boot_done_bin,
	    volt_boot_done_bin_len);
	add(c, "sbin/volt-ready", S_IFREG | 0755, (const char *)volt_ready_bin, volt_ready_bin_len);
	/* A disk root boots /sbin/init: make that ours too. */
	add(c, "sbin/init", S_IFLNK | 0777, "/init", 5);
	return add(c, "init", S_IFREG | 0755, c->init, c->init_size);
}

static void free_content(struct content *c)
{
	free(c->busybox);
	free(c->init);
	free(c->applets);
}

static const char *format_name(enum rootfs_format f)
{
	return f == ROOTFS_CPIO ? "cpio" : f == ROOTFS_CPIO_GZ ? "cpio.gz" : "ext4";
}

static const char *image_name(enum rootfs_format f)
{
	return f == ROOTFS_CPIO	     ? "initramfs.cpio"
	       : f == ROOTFS_CPIO_GZ ? "initramfs.cpio.gz"
				     : "rootfs.ext4";
}

static void content_key(const struct content *c, const struct rootfs_opts *o, char key[17])
{
	char hex[65], head[96];
	struct sha256 h;
	int i, n;

	sha256_init(&h);
	n = snprintf(head, sizeof(head), "volt-rootfs-v1\n%s %llu\n", format_name(o->format),
		     (unsigned long long)(o->format == ROOTFS_EXT4 ? o->ext4_size : 0));
	sha256_update(&h, head, (size_t)n);
	for (i = 0; i < c->n; i++) {
		const struct rfile *f = &c->files[i];

		n = snprintf(head, sizeof(head), "%s %o %u:%u %zu\n", f->name, f->mode, f->major,
			     f->minor, f->size);
		sha256_update(&h, head, (size_t)n);
		sha256_update(&h, f->data, f->size);
	}
	sha256_hex(&h, hex);
	memcpy(key, hex, 16);
	key[16] = '\0';
}

static int write_cpio(const struct content *c, const char *path)
{
	struct cpio cp;
	int fd, i, err = 0;

	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		return -errno;
	cpio_init(&cp, fd);
	for (i = 0; i < c->n && !err; i++) {
		const struct rfile *f = &c->files[i];

		err = cpio_add(&cp, f->name, f->mode, f->major, f->minor, f->data, f->size);
	}
	if (!err)
		err = cpio_finish(&cp);
	if (close(fd) && !err)
		err = -errno;
	return err;
}

static int gzip_file(const char *from, const char *to)
{
	char *argv[] = { "gzip", "-n", "-9", "-c", (char *)from, NULL };
	struct spawn_opts so = { .log_fd = 2 };
	int rc;

	so.out_fd = open(to, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (so.out_fd < 0)
		return -errno;
	rc = spawn_run(argv, &so);
	close(so.out_fd);
	return rc ? -EIO : 0;
}

static int stage_tree(const struct content *c, const char *stage)
{
	char path[PATH_MAX];
	int i, err = 0;

	for (i = 0; i < c->n && !err; i++) {
		const struct rfile *f = &c->files[i];

		if (path_fmt(path, sizeof(path), "%s/%s", stage, f->name))
			return -ENAMETOOLONG;
		if (S_ISDIR(f->mode)) {
			if (mkdir(path, f->mode & 07777) && errno != EEXIST)
				err = -errno;
			else if (chmod(path, f->mode & 07777))
				err = -errno;
		} else if (S_ISLNK(f->mode)) {
			char target[PATH_MAX];

			snprintf(target, sizeof(target), "%.*s", (int)f->size, f->data);
			unlink(path);
			if (symlink(target, path))
				err = -errno;
		} else if (S_ISREG(f->mode)) {
			err = write_file(path, f->data, f->size, f->mode & 07777);
			if (!err && chmod(path, f->mode & 07777))
				err = -errno;
		} /* device nodes are added by debugfs: mknod would need privileges */
	}
	return err;
}

static int write_ext4(const struct content *c, const struct rootfs_opts *o, const char *work,
		      const char *path)
{
	char stage[PATH_MAX], size_arg[32], cmd_file[PATH_MAX], cmds[1024];
	struct spawn_opts so = { .out_fd = -1, .log_fd = 2 };
	size_t used = 0;
	int err, i;

	if (path_fmt(stage, sizeof(stage), "%s/stage", work))
		return -ENAMETOOLONG;
	err = mkdir_p(stage, 0755);
	if (!err)
		err = stage_tree(c, stage);
	if (err) {
		pr_err("cannot stage the root filesystem in %s: %s", stage, strerror(-err));
		return err;
	}
	snprintf(size_arg, sizeof(size_arg), "%lluk", (unsigned long long)(o->ext4_size >> 10));
	{
		char *argv[] = { "mke2fs",	   "-q", "-F",	      "-t",
				 "ext4",	   "-L", "volt-root", "-E",
				 "root_owner=0:0", "-d", stage,	      (char *)path,
				 size_arg,	   NULL };

		so.out_fd = open("/dev/null", O_WRONLY | O_CLOEXEC); /* -d lists every file */
		err = spawn_run(argv, &so);
		if (so.out_fd >= 0)
			close(so.out_fd);
		if (err) {
			pr_err("mke2fs could not make a %s ext4 image (too small for the content?)",
			       size_arg);
			return -EIO;
		}
	}
	/* debugfs takes a path's last part only relative to its current directory. */
	for (i = 0; i < c->n; i++) {
		const struct rfile *f = &c->files[i];
		const char *base = strrchr(f->name, '/');
		int w;

		if (!S_ISCHR(f->mode))
			continue;
		w = snprintf(cmds + used, sizeof(cmds) - used,
			     "cd /%.*s\nmknod %s c %u %u\nsif %s mode 0%o\n",
			     base ? (int)(base - f->name) : 0, f->name, base ? base + 1 : f->name,
			     f->major, f->minor, base ? base + 1 : f->name, f->mode);
		if (w < 0 || (size_t)w >= sizeof(cmds) - used)
			return -E2BIG;
		used += (size_t)w;
	}
	if (used) {
		char *argv[] = { "debugfs", "-w", "-f", cmd_file, (char *)path, NULL };
		struct spawn_opts quiet = { .out_fd = -1, .log_fd = -1 };

		if (path_fmt(cmd_file, sizeof(cmd_file), "%s/debugfs.cmds", work) ||
		    write_file(cmd_file, cmds, used, 0644) || spawn_run(argv, &quiet)) {
			pr_err("debugfs could not create the device nodes in %s", path);
			return -EIO;
		}
	}
	return 0;
}

/* Whether the cache entry entry (<rootfs>/<key>) holds image as it was
 * built: a regular file of the size its volt-rootfs.meta recorded (entries
 * from before the size was recorded: a regular file). 0, or -EUCLEAN with
 * the reason in why. */
static int entry_check(const char *entry, const char *image, char *why, size_t why_size)
{
	char path[PATH_MAX], num[32], *meta = NULL;
	struct stat st;
	int err = 0;

	if (stat(image, &st))
		return why_fail(why, why_size, -EUCLEAN, "%s: %s", image, strerror(errno));
	if (!S_ISREG(st.st_mode))
		return why_fail(why, why_size, -EUCLEAN, "%s is not a regular file", image);
	if (!st.st_size) /* no image is empty, whatever its meta says */
		return why_fail(why, why_size, -EUCLEAN, "%s is empty", image);
	if (path_fmt(path, sizeof(path), "%s/volt-rootfs.meta", entry) ||
	    read_file(path, 4096, &meta, NULL))
		return why_fail(why, why_size, -EUCLEAN, "%s cannot be read", path);
	if (text_value(meta, "size", num, sizeof(num)) && strtoll(num, NULL, 10) != st.st_size)
		err = why_fail(why, why_size, -EUCLEAN, "%s is %lld bytes, built as %s", image,
			       (long long)st.st_size, num);
	free(meta);
	return err;
}

/* Not inlined: its frame (some 30 KiB of paths, every page probed on entry)
 * would otherwise be rootfs_get()'s, touched on the cached path too, where
 * the stack pages stay resident in the VMM that volt run goes on to be. */
static __attribute__((noinline)) int build_image(const struct content *c,
						 const struct rootfs_opts *o, const char *dir,
						 const char *key, bool replace)
{
	char work[PATH_MAX], out[PATH_MAX], img[PATH_MAX], raw[PATH_MAX], meta[256];
	struct stat st;
	int err, n;

	if (path_fmt(work, sizeof(work), "%s/.build-%s-%d", dir, key, (int)getpid()) ||
	    path_fmt(out, sizeof(out), "%s/out", work) ||
	    path_fmt(img, sizeof(img), "%s/%s", out, image_name(o->format)) ||
	    path_fmt(raw, sizeof(raw), "%s/initramfs.cpio", work)) {
		pr_err("%s", volt_cache_error(-ENAMETOOLONG));
		return -ENAMETOOLONG;
	}
	rm_rf(work);
	err = mkdir_p(out, 0755);
	if (err) {
		pr_err("cannot create %s: %s", out, strerror(-err));
		return err;
	}
	if (o->format == ROOTFS_EXT4) {
		err = write_ext4(c, o, work, img);
	} else {
		err = write_cpio(c, o->format == ROOTFS_CPIO ? img : raw);
		if (err)
			pr_err("cannot write the initramfs: %s", strerror(-err));
		else if (o->format == ROOTFS_CPIO_GZ && (err = gzip_file(raw, img)))
			pr_err("gzip failed on %s", raw);
	}
	if (!err && stat(img, &st))
		err = -errno;
	if (!err) {
		n = snprintf(meta, sizeof(meta), "key=%s\nformat=%s\nimage=%s\nsize=%lld\n", key,
			     format_name(o->format), image_name(o->format), (long long)st.st_size);
		err = path_fmt(raw, sizeof(raw), "%s/volt-rootfs.meta", out)
			      ? -ENAMETOOLONG
			      : write_file(raw, meta, (size_t)n, 0644);
	}
	if (!err) {
		char final[PATH_MAX], cached[PATH_MAX], why[PATH_MAX + 64];

		if (path_fmt(final, sizeof(final), "%s/%s", dir, key) ||
		    path_fmt(cached, sizeof(cached), "%s/%s", final, image_name(o->format)))
			err = -ENAMETOOLONG;
		else if (replace)
			rm_rf(final);
		/* Taken: another volt built the same entry meanwhile (kept when
		 * whole), or what is there is damaged (replaced). */
		if (!err && rename(out, final)) {
			err = -errno;
			if (err == -ENOTEMPTY || err == -EEXIST || err == -ENOTDIR)
				err = entry_check(final, cached, why, sizeof(why));
			if (err == -EUCLEAN)
				err = rm_rf(final) ?: rename(out, final) ? -errno : 0;
			if (err)
				pr_err("cannot move the root filesystem into %s: %s", final,
				       strerror(-err));
		}
	}
	rm_rf(work);
	return err;
}

int rootfs_get(const struct rootfs_opts *o, char *path, size_t size)
{
	char dir[PATH_MAX], key[17], entry[PATH_MAX], why[PATH_MAX + 64];
	bool replace = o->force;
	struct content *c;
	struct stat st;
	int err;

	c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	err = load_content(c, o->busybox ? o->busybox : ROOTFS_DEFAULT_BUSYBOX, links_for(o));
	if (err)
		goto out;
	content_key(c, o, key);
	if ((err = volt_cache_path(dir, sizeof(dir), "rootfs"))) {
		pr_err("%s", volt_cache_error(err));
		goto out;
	}
	if (path_fmt(path, size, "%s/%s/%s", dir, key, image_name(o->format)) ||
	    path_fmt(entry, sizeof(entry), "%s/%s", dir, key)) {
		err = -ENAMETOOLONG;
		pr_err("the root filesystem cache path is too long: %s/%s/%s", dir, key,
		       image_name(o->format));
		goto out;
	}
	if (!o->force && !lstat(entry, &st)) {
		err = entry_check(entry, path, why, sizeof(why));
		if (!err)
			goto out;
		if (o->no_build) {
			pr_err("the cached root filesystem is damaged (%s): run 'volt rootfs "
			       "build' "
			       "to build it again",
			       why);
			goto out;
		}
		fprintf(stderr,
			"[volt] the cached root filesystem is damaged (%s): building it again\n",
			why);
		replace = true;
	}
	if (o->no_build) {
		pr_err("the guest root filesystem (%s) is not built; run 'volt rootfs build'",
		       format_name(o->format));
		err = -ENOENT;
		goto out;
	}
	err = mkdir_p(dir, 0755);
	if (err) {
		pr_err("cannot create %s: %s", dir, strerror(-err));
		goto out;
	}
	err = build_image(c, o, dir, key, replace);
	if (!err)
		fprintf(stderr, "[volt] root filesystem built: %s\n", path);
out:
	free_content(c);
	free(c);
	return err;
}
