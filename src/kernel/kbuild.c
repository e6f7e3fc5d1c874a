/* Building a guest kernel into the cache:
 * extract -> patch -> tinyconfig + fragment -> verify -> make -> rename into place. */
#include "kernel/kernel.h"

#include "kernel/kconfig.h"
#include "util/fs.h"
#include "util/log.h"
#include "util/paths.h"
#include "util/spawn.h"
#include "util/staged_file.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define STEPS_FILE ".steps" /* kbuild steps of the last build: the progress estimate */

struct build {
	const struct kernel_spec *spec;
	char kdir[PATH_MAX]; /* <cache>/kernels */
	char work[PATH_MAX]; /* <kdir>/.build-<key>-<pid> */
	char src[PATH_MAX], obj[PATH_MAX], out[PATH_MAX], log[PATH_MAX];
	int log_fd;
	/* progress */
	bool tty;
	long steps, expected;
	time_t started, last_report;
	const char *phase;
};

static void progress_line(const char *line, void *ctx)
{
	struct build *b = ctx;
	char what[96];
	time_t now;

	/* kbuild's quiet output: two spaces, a tag (CC, LD, AR ...), a target. */
	if (line[0] != ' ' || line[1] != ' ' || line[2] < 'A' || line[2] > 'Z')
		return;
	b->steps++;
	now = time(NULL);
	snprintf(what, sizeof(what), "%s", line + 2);
	if (b->tty) {
		int pct = b->expected ? (int)(b->steps * 100 / b->expected) : -1;

		if (pct > 99)
			pct = 99;
		if (pct >= 0)
			fprintf(stderr, "\r\033[K[volt] kernel %s: %3d%% %s", b->phase, pct, what);
		else
			fprintf(stderr, "\r\033[K[volt] kernel %s: %ld steps %s", b->phase,
				b->steps, what);
	} else if (now - b->last_report >= 30) {
		if (b->expected)
			fprintf(stderr,
				"[volt] kernel %s: about %d%% (%ld of ~%ld steps), %lds elapsed\n",
				b->phase, (int)(b->steps * 100 / b->expected), b->steps,
				b->expected, (long)(now - b->started));
		else
			fprintf(stderr, "[volt] kernel %s: %ld steps so far, %lds elapsed\n",
				b->phase, b->steps, (long)(now - b->started));
		b->last_report = now;
	}
}

static void progress_end(struct build *b)
{
	if (b->tty)
		fprintf(stderr, "\r\033[K");
}

static void show_log_tail(const struct build *b, int lines)
{
	char *text, *p;
	size_t len;
	int n = 0;

	if (read_file(b->log, 64 << 20, &text, &len))
		return;
	for (p = text + len; p > text; p--)
		if (p[-1] == '\n' && ++n > lines)
			break;
	fprintf(stderr, "----- last lines of the build log -----\n%s", p);
	fprintf(stderr, "---------------------------------------\n");
	free(text);
}

/* Runs one step; on failure says which and shows the log's tail. */
static int step(struct build *b, const char *what, char *const argv[], bool progress)
{
	struct spawn_opts o = { .out_fd = -1, .log_fd = b->log_fd };
	int rc;

	b->phase = what;
	dprintf(b->log_fd, "\n### %s\n", what);
	if (progress) {
		o.on_line = progress_line;
		o.ctx = b;
	}
	rc = spawn_run(argv, &o);
	if (progress)
		progress_end(b);
	if (rc == 0)
		return 0;
	if (spawn_interrupted()) {
		pr_err("kernel build interrupted while %s", what);
		return -EINTR;
	}
	if (rc < 0)
		pr_err("kernel build: cannot run %s: %s", argv[0], strerror(-rc));
	else
		pr_err("kernel build failed while %s (%s exited with %d)", what, argv[0], rc);
	show_log_tail(b, 25);
	return -EIO;
}

static long read_expected_steps(const struct build *b)
{
	char path[PATH_MAX], *text;
	long n = 0;

	if (path_fmt(path, sizeof(path), "%s/" STEPS_FILE, b->kdir) ||
	    read_file(path, 64, &text, NULL))
		return 0;
	n = atol(text);
	free(text);
	return n > 0 ? n : 0;
}

/* Removes the work directories (.build-<key>-<pid>, of any key) of builds
 * whose process is gone: a build killed with SIGKILL leaves hundreds of MB. */
static void remove_stale_work(const struct build *b)
{
	char path[PATH_MAX];
	struct dirent *de;
	DIR *d = opendir(b->kdir);

	if (!d)
		return;
	while ((de = readdir(d))) {
		const char *dash = strrchr(de->d_name, '-');
		long pid;

		if (strncmp(de->d_name, ".build-", 7) || !dash || dash == de->d_name + 6)
			continue;
		pid = atol(dash + 1);
		if (pid > 0 && (kill((pid_t)pid, 0) == 0 || errno != ESRCH))
			continue;
		if (!path_fmt(path, sizeof(path), "%s/%s", b->kdir, de->d_name))
			rm_rf(path);
	}
	closedir(d);
}

static int verify_config(struct build *b)
{
	char path[PATH_MAX], missing[2048], *config;
	int bad, err;

	if (path_fmt(path, sizeof(path), "%s/.config", b->obj))
		return -ENAMETOOLONG;
	err = read_file(path, 16 << 20, &config, NULL);
	if (err) {
		pr_err("kernel build: no .config after merging: %s", strerror(-err));
		return err;
	}
	bad = kconfig_verify_merged(b->spec->config_text, b->spec->variant_config_text, config,
				    missing, sizeof(missing));
	free(config);
	if (bad < 0) {
		pr_err("kernel config %s%s%s is malformed", b->spec->config_path,
		       b->spec->variant_config_text ? " or " : "", b->spec->variant_config_path);
		return -EINVAL;
	}
	if (bad > 0) {
		pr_err("kernel config %s%s%s: %d option(s) did not survive olddefconfig (missing "
		       "dependencies?): %s",
		       b->spec->config_path, b->spec->variant_config_text ? " + " : "",
		       b->spec->variant_config_path, bad, missing);
		return -EINVAL;
	}
	return 0;
}

static int collect(struct build *b)
{
	static const struct {
		const char *from, *to;
		bool required;
	} files[] = {
		{ "vmlinux", "vmlinux", true },
		{ ".config", "config", true },
		{ "arch/x86/boot/bzImage", "bzImage", false },
		{ "System.map", "System.map", false },
	};
	char from[PATH_MAX], to[PATH_MAX];
	size_t i;

	for (i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		if (path_fmt(from, sizeof(from), "%s/%s", b->obj, files[i].from) ||
		    path_fmt(to, sizeof(to), "%s/%s", b->out, files[i].to))
			return -ENAMETOOLONG;
		if (rename(from, to)) {
			if (!files[i].required && errno == ENOENT)
				continue;
			pr_err("kernel build produced no %s: %s", files[i].from, strerror(errno));
			return -errno;
		}
	}
	if (path_fmt(to, sizeof(to), "%s/vmlinux", b->out) || kernel_file_check_elf(to)) {
		pr_err("kernel build produced a vmlinux that is not an ELF file");
		return -ENOEXEC;
	}
	return 0;
}

static int run_build(struct build *b, int jobs)
{
	const struct kernel_spec *s = b->spec;
	char jarg[32], objarg[PATH_MAX + 4], merge[PATH_MAX];
	int err, i;

	{
		char *argv[] = { "tar", "-xf",	(char *)s->source,
				 "-C",	b->src, "--strip-components=1",
				 NULL };

		fprintf(stderr, "[volt] extracting %s\n", s->source);
		err = step(b, "extracting the kernel source", argv, false);
		if (err)
			return err;
	}
	for (i = 0; i < s->npatches; i++) {
		char *argv[] = { "patch", "-p1",  "--batch", "--forward",
				 "-d",	  b->src, "-i",	     (char *)s->patches[i].path,
				 NULL };

		err = step(b, "applying a kernel patch", argv, false);
		if (err) {
			pr_err("patch %s does not apply to %s", s->patches[i].path,
			       s->source_version);
			return err;
		}
	}
	if (path_fmt(objarg, sizeof(objarg), "O=%s", b->obj) ||
	    path_fmt(merge, sizeof(merge), "%s/scripts/kconfig/merge_config.sh", b->src))
		return -ENAMETOOLONG;
	{
		char *tiny[] = { "make", "-C", b->src, objarg, "tinyconfig", NULL };
		/* The variant's fragment last: its values win over the config's. */
		char *merge_argv[] = { merge,
				       "-m",
				       "-O",
				       b->obj,
				       ".config",
				       (char *)s->config_path,
				       s->variant_config_text ? (char *)s->variant_config_path
							      : NULL,
				       NULL };
		char *old[] = { "make", "-C", b->src, objarg, "olddefconfig", NULL };
		struct spawn_opts o = { .cwd = b->obj, .out_fd = -1, .log_fd = b->log_fd };

		err = step(b, "configuring (tinyconfig)", tiny, false);
		if (err)
			return err;
		b->phase = "merging the config fragment";
		err = spawn_run(merge_argv, &o);
		if (err) {
			pr_err("kernel build: merging %s failed (%d)", s->config_path, err);
			show_log_tail(b, 25);
			return -EIO;
		}
		err = step(b, "configuring (olddefconfig)", old, false);
		if (err)
			return err;
	}
	err = verify_config(b);
	if (err)
		return err;
	snprintf(jarg, sizeof(jarg), "-j%d", jobs);
	{
		char *argv[] = { "make", "-C", b->src, objarg, jarg, "vmlinux", "bzImage", NULL };

		fprintf(stderr, "[volt] building kernel %s (%s, %s) with %d jobs\n", s->config,
			s->variant, s->source_version, jobs);
		b->steps = 0;
		err = step(b, "building", argv, true);
		if (err)
			return err;
	}
	return collect(b);
}

static int build_locked(struct build *b, const struct kernel_build_opts *o,
			struct kernel_entry *out)
{
	const struct kernel_spec *s = b->spec;
	char final[PATH_MAX], steps_path[PATH_MAX], num[32];
	int jobs = o->jobs > 0 ? o->jobs : (int)sysconf(_SC_NPROCESSORS_ONLN);
	bool replace;
	int err;

	if (path_fmt(final, sizeof(final), "%s/%s", b->kdir, s->key))
		return -ENAMETOOLONG;
	err = o->force ? -ENOENT : kernel_entry_load(final, out);
	if (!err)
		return 0; /* built by another process while we waited */
	/* A damaged entry (kernel_entry_load) is replaced, as --force would: it
	 * would refuse the new one's rename for ever. */
	replace = o->force || err != -ENOENT;
	if (err != -ENOENT)
		fprintf(stderr, "[volt] the cached kernel %s is damaged (%s): building it again\n",
			final, out->damage);
	remove_stale_work(b);
	/* Room for the kernel tree's own paths below it too. */
	if (path_fmt(b->work, sizeof(b->work), "%s/.build-%s-%d", b->kdir, s->key, (int)getpid()) ||
	    strlen(b->work) > PATH_MAX / 2 || path_fmt(b->src, sizeof(b->src), "%s/src", b->work) ||
	    path_fmt(b->obj, sizeof(b->obj), "%s/obj", b->work) ||
	    path_fmt(b->out, sizeof(b->out), "%s/out", b->work) ||
	    path_fmt(b->log, sizeof(b->log), "%s/build.log", b->work)) {
		pr_err("%s", volt_cache_error(-ENAMETOOLONG));
		return -ENAMETOOLONG;
	}
	rm_rf(b->work);
	if ((err = mkdir_p(b->src, 0755)) || (err = mkdir_p(b->obj, 0755)) ||
	    (err = mkdir_p(b->out, 0755))) {
		pr_err("cannot create %s: %s", b->work, strerror(-err));
		return err;
	}
	b->log_fd = open(b->log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (b->log_fd < 0) {
		err = -errno;
		pr_err("cannot create %s: %s", b->log, strerror(errno));
		goto out;
	}
	b->started = b->last_report = time(NULL);
	b->expected = read_expected_steps(b);
	b->tty = isatty(2);
	if (jobs < 1)
		jobs = 1;
	err = run_build(b, jobs);
	if (err)
		goto out;
	err = kernel_entry_write_meta(b->out, s, (long)time(NULL), (long)(time(NULL) - b->started),
				      b->steps);
	if (err) {
		pr_err("cannot write the kernel cache entry: %s", strerror(-err));
		goto out;
	}
	if (replace)
		rm_rf(final);
	if (rename(b->out, final)) {
		err = -errno;
		pr_err("cannot move the kernel into %s: %s", final, strerror(errno));
		goto out;
	}
	snprintf(num, sizeof(num), "%ld\n", b->steps);
	/* Whatever is at that name (a FIFO, a symlink) is unlinked, never
	 * opened; the new file goes in by a rename (under the build's lock). */
	if (!path_fmt(steps_path, sizeof(steps_path), "%s/" STEPS_FILE, b->kdir)) {
		unlink(steps_path);
		write_file_atomic(steps_path, num, strlen(num), 0644);
	}
	err = kernel_entry_load(final, out);
	if (!err)
		fprintf(stderr, "[volt] kernel %s built in %lds: %s/vmlinux\n", s->key,
			(long)(time(NULL) - b->started), final);
out:
	if (b->log_fd >= 0) {
		char keep[PATH_MAX];

		close(b->log_fd);
		/* Keep the log of a failed build where the user can read it. */
		if (err && !path_fmt(keep, sizeof(keep), "%s/last-failed-build.log", b->kdir) &&
		    !rename(b->log, keep))
			fprintf(stderr, "[volt] full build log: %s\n", keep);
	}
	rm_rf(b->work);
	return err;
}

int kernel_build(const struct kernel_spec *s, const struct kernel_build_opts *o,
		 struct kernel_entry *out)
{
	const int lock_flags = O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK;
	struct build b = { .spec = s, .log_fd = -1 };
	char lock_path[PATH_MAX];
	int lock_fd, err;

	if (!s->key[0]) {
		pr_err("kernel source %s not found: install Debian's %s (make deps) or pass "
		       "--source",
		       s->source, KERNEL_SOURCE_PACKAGE);
		return -ENOENT;
	}
	if (!o->force && !kernel_find(s, out))
		return 0;
	if ((err = kernel_cache_dir(b.kdir, sizeof(b.kdir)))) {
		pr_err("%s", volt_cache_error(err));
		return err;
	}
	if ((err = mkdir_p(b.kdir, 0755))) {
		pr_err("cannot create %s: %s", b.kdir, strerror(-err));
		return err;
	}
	if (path_fmt(lock_path, sizeof(lock_path), "%s/.lock-%s", b.kdir, s->key)) {
		pr_err("%s", volt_cache_error(-ENAMETOOLONG));
		return -ENAMETOOLONG;
	}
	/* Not through a symlink (one there is taken away: volt makes plain
	 * files), and a FIFO planted there does not block. */
	lock_fd = open(lock_path, lock_flags, 0644);
	if (lock_fd < 0 && errno == ELOOP && !unlink(lock_path))
		lock_fd = open(lock_path, lock_flags, 0644);
	if (lock_fd < 0) {
		err = -errno;
		pr_err("cannot create %s: %s", lock_path, strerror(errno));
		return err;
	}
	if (flock(lock_fd, LOCK_EX | LOCK_NB)) {
		fprintf(stderr, "[volt] waiting for another build of kernel %s (it holds %s)\n",
			s->key, lock_path);
		if (flock(lock_fd, LOCK_EX)) {
			err = -errno;
			close(lock_fd);
			return err;
		}
	}
	spawn_catch_signals();
	err = build_locked(&b, o, out);
	close(lock_fd);
	return err;
}
