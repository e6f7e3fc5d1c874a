/* The jail's cgroup: <hierarchy>/<parent>/<id> in cgroup v2 where the
 * unified hierarchy offers the controller, else in the controller's v1
 * hierarchy (hybrid hosts mount memory, pids, cpu... as v1 and leave v2
 * without them). The settings are written, then the calling process joins
 * every group made; what was made is removed again on failure. */
#include "sandbox/jail.h"

#include "util/fs.h"
#include "util/log.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define MAX_GROUPS 8
#define MAX_MADE   (MAX_GROUPS * 8)

struct mounts {
	char v2[PATH_MAX]; /* "" when there is no cgroup2 mount */
	char v2_controllers[512];
	char v1_dir[16][PATH_MAX];
	char v1_opts[16][256];
	int nv1;
};

/* Unescapes mountinfo's octal escapes (\040 for a space) in place. */
static void unescape(char *s)
{
	char *w = s;

	for (; *s; s++, w++) {
		if (s[0] == '\\' && s[1] >= '0' && s[1] <= '3' && s[2] >= '0' && s[2] <= '7' &&
		    s[3] >= '0' && s[3] <= '7') {
			*w = (char)((unsigned int)(s[1] - '0') << 6 |
				    (unsigned int)(s[2] - '0') << 3 | (unsigned int)(s[3] - '0'));
			s += 3;
		} else {
			*w = *s;
		}
	}
	*w = '\0';
}

static int read_mounts(struct mounts *m)
{
	char line[4096], path[PATH_MAX + 32], *text = NULL;
	FILE *f = fopen("/proc/self/mountinfo", "re");

	memset(m, 0, sizeof(*m));
	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f)) {
		char *fields[16], *sep, *save = NULL, *tok, *fstype, *super;
		int n = 0;

		sep = strstr(line, " - ");
		if (!sep)
			continue;
		*sep = '\0';
		for (tok = strtok_r(line, " ", &save); tok && n < 16;
		     tok = strtok_r(NULL, " ", &save))
			fields[n++] = tok;
		fstype = strtok_r(sep + 3, " ", &save);
		strtok_r(NULL, " ", &save); /* source */
		super = strtok_r(NULL, " \n", &save);
		if (n < 5 || !fstype || !super)
			continue;
		unescape(fields[4]);
		if (!strcmp(fstype, "cgroup2") && !m->v2[0]) {
			snprintf(m->v2, sizeof(m->v2), "%s", fields[4]);
		} else if (!strcmp(fstype, "cgroup") && m->nv1 < 16) {
			snprintf(m->v1_dir[m->nv1], sizeof(m->v1_dir[0]), "%s", fields[4]);
			snprintf(m->v1_opts[m->nv1], sizeof(m->v1_opts[0]), "%s", super);
			m->nv1++;
		}
	}
	fclose(f);
	if (m->v2[0]) {
		snprintf(path, sizeof(path), "%s/cgroup.controllers", m->v2);
		if (!read_file(path, 4096, &text, NULL)) {
			snprintf(m->v2_controllers, sizeof(m->v2_controllers), "%s", text);
			m->v2_controllers[strcspn(m->v2_controllers, "\n")] = '\0';
			free(text);
		}
	}
	return 0;
}

static bool has_word(const char *list, const char *word, const char *seps)
{
	size_t n = strlen(word);
	const char *p = list;

	while ((p = strstr(p, word))) {
		if ((p == list || strchr(seps, p[-1])) && (!p[n] || strchr(seps, p[n])))
			return true;
		p += n;
	}
	return false;
}

struct made {
	char dirs[MAX_MADE][PATH_MAX];
	int n;
};

static int write_text(const char *path, const char *text)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC), err;

	if (fd < 0)
		return -errno;
	err = write_all(fd, text, strlen(text));
	close(fd);
	return err;
}

static int make_dir(struct made *made, const char *dir)
{
	if (mkdir(dir, 0755)) {
		if (errno == EEXIST)
			return 0;
		return -errno;
	}
	if (made->n < MAX_MADE)
		snprintf(made->dirs[made->n++], PATH_MAX, "%s", dir);
	return 0;
}

/* A new v1 cpuset group has no CPUs or memory nodes until given some. */
static int cpuset_inherit(const char *dir)
{
	static const char *const files[] = { "cpuset.cpus", "cpuset.mems" };
	char path[PATH_MAX + 16], parent[PATH_MAX], *text = NULL;
	size_t i;
	int err = 0;

	snprintf(parent, sizeof(parent), "%s", dir);
	*strrchr(parent, '/') = '\0';
	for (i = 0; i < 2 && !err; i++) {
		snprintf(path, sizeof(path), "%s/%s", parent, files[i]);
		err = read_file(path, 4096, &text, NULL);
		if (!err) {
			snprintf(path, sizeof(path), "%s/%s", dir, files[i]);
			err = write_text(path, text);
		}
		free(text);
		text = NULL;
	}
	return err;
}

/* Makes <mnt>/<parent>/<id>; for v2, enables the controllers ("+a +b") on
 * the way down. */
static int make_group(struct made *made, const char *mnt, const char *parent, const char *id,
		      int version, const char *plus, bool cpuset, char *dir, size_t dsize)
{
	char path[PATH_MAX], file[PATH_MAX + 32];
	const char *p = parent;
	int err;

	snprintf(path, sizeof(path), "%s", mnt);
	for (;;) {
		if (version == 2) {
			snprintf(file, sizeof(file), "%s/cgroup.subtree_control", path);
			err = write_text(file, plus);
			if (err) {
				pr_err("--cgroup: cannot enable '%s' in %s: %s", plus, file,
				       strerror(-err));
				return err;
			}
		}
		if (!p)
			break;
		{
			const char *e = strchrnul(p, '/');
			size_t len = strlen(path);

			if (path_fmt(path + len, sizeof(path) - len, "/%.*s", (int)(e - p), p))
				return -ENAMETOOLONG;
			err = make_dir(made, path);
			if (err) {
				pr_err("--cgroup: cannot make %s: %s", path, strerror(-err));
				return err;
			}
			p = *e ? e + 1 : NULL;
		}
	}
	if (path_fmt(dir, dsize, "%s/%s", path, id))
		return -ENAMETOOLONG;
	if (mkdir(dir, 0755)) {
		err = -errno;
		if (errno == EEXIST)
			pr_err("--cgroup: %s exists already: another VM has this id, or an earlier "
			       "one left it (rmdir it first)",
			       dir);
		else
			pr_err("--cgroup: cannot make %s: %s", dir, strerror(errno));
		return err;
	}
	if (made->n < MAX_MADE)
		snprintf(made->dirs[made->n++], PATH_MAX, "%s", dir);
	err = 0;
	if (version == 1 && cpuset && (err = cpuset_inherit(dir)))
		pr_err("--cgroup: cannot give %s its parent's CPUs and memory nodes: %s", dir,
		       strerror(-err));
	return err;
}

struct group {
	const char *mnt;
	int version;
	bool cpuset;
	char plus[256]; /* v2: "+memory +pids" */
	char dir[PATH_MAX];
};

/* Which hierarchy has ctrl: v2 when it offers it (unless version is 1). */
static int pick(const struct mounts *m, const char *ctrl, int version, const char **mnt, int *v,
		bool *cpuset)
{
	int j;

	if (version != 1 && m->v2[0] && has_word(m->v2_controllers, ctrl, " ")) {
		*mnt = m->v2;
		*v = 2;
		*cpuset = false;
		return 0;
	}
	for (j = 0; version != 2 && j < m->nv1; j++)
		if (has_word(m->v1_opts[j], ctrl, ",")) {
			*mnt = m->v1_dir[j];
			*v = 1;
			*cpuset = has_word(m->v1_opts[j], "cpuset", ",");
			return 0;
		}
	return -ENOENT;
}

int jail_cgroup_setup(const char *parent, const char *id, const struct jail_cgroup *cg, int n,
		      int version)
{
	char path[PATH_MAX + 80], pid[32];
	struct group *groups = NULL;
	struct made *made = NULL;
	struct mounts *m;
	int ngroups = 0, at[JAIL_MAX_CGROUP], i, j, err = 0;

	m = calloc(1, sizeof(*m));
	made = calloc(1, sizeof(*made));
	groups = calloc(MAX_GROUPS, sizeof(*groups));
	if (!m || !made || !groups) {
		err = -ENOMEM;
		goto out;
	}
	err = read_mounts(m);
	if (err) {
		pr_err("--cgroup: cannot read /proc/self/mountinfo: %s", strerror(-err));
		goto out;
	}
	/* One group per hierarchy, however many files go there. */
	for (i = 0; i < n && i < JAIL_MAX_CGROUP; i++) {
		const char *ctrl = cg[i].controller, *mnt;
		bool cpuset;
		int v;

		if (pick(m, ctrl, version, &mnt, &v, &cpuset)) {
			pr_err("--cgroup %s: this host has no '%s' controller in %s (cgroup v2%s%s "
			       "offers: %s)",
			       cg[i].file, ctrl,
			       version == 1   ? "cgroup v1"
			       : version == 2 ? "cgroup v2"
					      : "cgroup v2 or v1",
			       m->v2[0] ? " at " : "", m->v2,
			       m->v2_controllers[0] ? m->v2_controllers : "nothing");
			err = -ENOENT;
			goto out;
		}
		for (j = 0; j < ngroups && groups[j].mnt != mnt; j++)
			;
		if (j == ngroups) {
			if (ngroups == MAX_GROUPS) {
				err = -E2BIG;
				goto out;
			}
			groups[j].mnt = mnt;
			groups[j].version = v;
			groups[j].cpuset = cpuset;
			ngroups++;
		}
		if (v == 2 && !has_word(groups[j].plus, ctrl, "+ ")) {
			size_t len = strlen(groups[j].plus);

			snprintf(groups[j].plus + len, sizeof(groups[j].plus) - len, "%s+%s",
				 len ? " " : "", ctrl);
		}
		at[i] = j;
	}
	for (j = 0; j < ngroups && !err; j++)
		err = make_group(made, groups[j].mnt, parent, id, groups[j].version, groups[j].plus,
				 groups[j].cpuset, groups[j].dir, sizeof(groups[j].dir));
	for (i = 0; i < n && !err; i++) {
		const struct group *g = &groups[at[i]];

		snprintf(path, sizeof(path), "%s/%s", g->dir, cg[i].file);
		err = write_text(path, cg[i].value);
		if (err == -ENOENT)
			pr_err("--cgroup %s: no such file in the cgroup v%d group %s%s", cg[i].file,
			       g->version, g->dir,
			       g->version == 1 ? " (v1 names are like memory.limit_in_bytes)"
					       : " (v2 names are like memory.max)");
		else if (err)
			pr_err("--cgroup %s=%s: the kernel refused it: %s", cg[i].file, cg[i].value,
			       strerror(-err));
	}
	snprintf(pid, sizeof(pid), "%d", (int)getpid());
	for (j = 0; !err && j < ngroups; j++) {
		snprintf(path, sizeof(path), "%s/cgroup.procs", groups[j].dir);
		err = write_text(path, pid);
		if (err)
			pr_err("--cgroup: cannot join %s: %s", groups[j].dir, strerror(-err));
	}
	for (j = 0; !err && j < ngroups; j++)
		pr_info("jail: cgroup v%d %s", groups[j].version, groups[j].dir);
out:
	if (err && made)
		for (i = made->n - 1; i >= 0; i--)
			rmdir(made->dirs[i]);
	free(groups);
	free(made);
	free(m);
	return err;
}
