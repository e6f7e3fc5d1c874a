/* Landlock ruleset: each check runs in a forked child that restricts itself,
 * so the test process can still clean up its files afterwards. */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "helpers.h"
#include "sandbox/sandbox.h"
#include "sandbox/sanitizer.h"
#include "util/staged_file.h"
#include "devices/virtio/virtio_blk.h"
#include "devices/virtio/virtio_vsock.h"
#include "vmm/vm.h"

static char *dir;
static char kernel[PATH_MAX], rw_drive[PATH_MAX], ro_drive[PATH_MAX], other[PATH_MAX];
static int listen_fd = -1, port;

static void setup(void)
{
	struct sockaddr_in sa = { .sin_family = AF_INET,
				  .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(sa);

	dir = test_tmpdir();
	cr_assert_not_null(dir);
	test_write(dir, "kernel", "kernel");
	test_write(dir, "rw.img", "rw");
	test_write(dir, "ro.img", "ro");
	test_write(dir, "other", "other");
	path_fmt(kernel, sizeof(kernel), "%s/kernel", dir);
	path_fmt(rw_drive, sizeof(rw_drive), "%s/rw.img", dir);
	path_fmt(ro_drive, sizeof(ro_drive), "%s/ro.img", dir);
	path_fmt(other, sizeof(other), "%s/other", dir);
	/* A TCP listener outside the sandbox: the child's connect must fail on ABI >= 4. */
	listen_fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	cr_assert(listen_fd >= 0);
	cr_assert_eq(bind(listen_fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	cr_assert_eq(listen(listen_fd, 4), 0);
	cr_assert_eq(getsockname(listen_fd, (struct sockaddr *)&sa, &len), 0);
	port = ntohs(sa.sin_port);
}

static void teardown(void)
{
	if (listen_fd >= 0)
		close(listen_fd);
	if (dir)
		rm_rf(dir);
}

/* Device i of cfg as a drive (the device table's blk kind). */
static struct blk_config *drive_at(struct vm_config *cfg, int i)
{
	cfg->devices[i].kind = &virtio_blk_kind;
	return (struct blk_config *)cfg->devices[i].data;
}

static void config(struct vm_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->kernel = kernel;
	snprintf(drive_at(cfg, 0)->path, sizeof(drive_at(cfg, 0)->path), "%s", rw_drive);
	snprintf(drive_at(cfg, 1)->path, sizeof(drive_at(cfg, 1)->path), "%s", ro_drive);
	drive_at(cfg, 1)->read_only = true;
	cfg->ndevices = 2;
}

/* errno of open(path, flags), 0 when it worked. */
static int open_errno(const char *path, int flags)
{
	int fd = open(path, flags | O_CLOEXEC, 0644);

	if (fd < 0)
		return errno;
	close(fd);
	return 0;
}

static int tcp_connect_errno(void)
{
	struct sockaddr_in sa = { .sin_family = AF_INET,
				  .sin_port = htons((uint16_t)port),
				  .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), err = 0;

	if (fd < 0)
		return errno;
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)))
		err = errno;
	close(fd);
	return err;
}

/* Runs check() in a child after sandbox_landlock_apply(cfg) returned expect;
 * the child's exit status is the failed check's line number, 0 if all held. */
static void sandboxed(const struct vm_config *cfg, enum sandbox_landlock_mode mode, int expect,
		      int (*check)(void))
{
	int status;
	pid_t pid = fork();

	/* The child must not assert: Criterion would take its reports for a stranger's. */
	if (!pid) {
		sandbox_set_landlock_mode(mode);
		if (sandbox_landlock_apply(cfg) != expect)
			_exit(1);
		_exit(check ? check() : 0);
	}
	cr_assert(pid > 0);
	cr_assert_eq(waitpid(pid, &status, 0), pid);
	cr_assert(WIFEXITED(status), "the child died");
	cr_assert_eq(WEXITSTATUS(status), 0, "check at line %d failed (1: apply's result)",
		     WEXITSTATUS(status));
}

#define CHECK(cond)                                                     \
	do {                                                            \
		if (!(cond))                                            \
			return __LINE__ & 0xff ? __LINE__ & 0xff : 255; \
	} while (0)

static void need_landlock(void)
{
	if (sandbox_landlock_abi() < 0)
		cr_skip_test("this kernel has no Landlock");
}

TestSuite(landlock, .init = setup, .fini = teardown);

Test(landlock, mode_parse)
{
	enum sandbox_landlock_mode m;

	cr_assert_eq(sandbox_landlock_mode_parse("auto", &m), 0);
	cr_assert_eq(m, SANDBOX_LANDLOCK_AUTO);
	cr_assert_eq(sandbox_landlock_mode_parse("require", &m), 0);
	cr_assert_eq(m, SANDBOX_LANDLOCK_REQUIRE);
	cr_assert_eq(sandbox_landlock_mode_parse("off", &m), 0);
	cr_assert_eq(m, SANDBOX_LANDLOCK_OFF);
	cr_assert_eq(sandbox_landlock_mode_parse("on", &m), -EINVAL);
	cr_assert_eq(sandbox_landlock_mode_parse("", &m), -EINVAL);
}

static int open_before_fd = -1;

static int check_full(void)
{
	char buf[8];
	int abi = sandbox_landlock_abi();

	/* Named paths, as the configuration says. */
	CHECK(open_errno(kernel, O_RDONLY) == 0);
	CHECK(open_errno(kernel, O_WRONLY) == EACCES);
	CHECK(open_errno(rw_drive, O_RDWR) == 0);
	CHECK(open_errno(ro_drive, O_RDONLY) == 0);
	CHECK(open_errno(ro_drive, O_RDWR) == EACCES);
	/* Everything else. */
	CHECK(open_errno(other, O_RDONLY) == EACCES);
	CHECK(open_errno("/etc/passwd", O_RDONLY) == EACCES);
	CHECK(open_errno(dir, O_RDONLY | O_DIRECTORY) == EACCES);
	CHECK(open_errno("/tmp/volt-landlock-must-not-exist", O_CREAT | O_WRONLY) == EACCES);
	CHECK(unlink(other) && errno == EACCES);
	/* What was open before keeps working. */
	CHECK(pread(open_before_fd, buf, 5, 0) == 5 && !memcmp(buf, "other", 5));
	if (abi >= 4)
		CHECK(tcp_connect_errno() == EACCES);
	if (abi >= 6)
		CHECK(kill(getppid(), 0) && errno == EPERM);
	return 0;
}

Test(landlock, denies_all_but_the_configured_files)
{
	struct vm_config cfg;

	need_landlock();
	config(&cfg);
	open_before_fd = open(other, O_RDONLY | O_CLOEXEC);
	cr_assert(open_before_fd >= 0);
	sandboxed(&cfg, SANDBOX_LANDLOCK_AUTO, 0, check_full);
	sandboxed(&cfg, SANDBOX_LANDLOCK_REQUIRE, 0, check_full);
}

static int check_abi1(void)
{
	CHECK(sandbox_landlock_abi() == 1);
	CHECK(open_errno(rw_drive, O_RDWR) == 0);
	CHECK(open_errno(ro_drive, O_RDWR) == EACCES);
	CHECK(open_errno("/etc/passwd", O_RDONLY) == EACCES);
	/* ABI 1 has no network rules: TCP still works. */
	CHECK(tcp_connect_errno() == 0);
	return 0;
}

Test(landlock, abi_capped_by_the_test_knob)
{
	struct vm_config cfg;

	need_landlock();
	config(&cfg);
	setenv("VOLT_LANDLOCK_MAX_ABI", "1", 1);
	sandboxed(&cfg, SANDBOX_LANDLOCK_AUTO, 0, check_abi1);
}

static int check_unrestricted(void)
{
	CHECK(open_errno("/etc/passwd", O_RDONLY) == 0);
	CHECK(open_errno(other, O_RDWR) == 0);
	CHECK(tcp_connect_errno() == 0);
	return 0;
}

Test(landlock, no_landlock_is_an_error_only_when_required)
{
	struct vm_config cfg;

	config(&cfg);
	setenv("VOLT_LANDLOCK_MAX_ABI", "0", 1);
	cr_assert_lt(sandbox_landlock_abi(), 0);
	sandboxed(&cfg, SANDBOX_LANDLOCK_REQUIRE, -EOPNOTSUPP, NULL);
	sandboxed(&cfg, SANDBOX_LANDLOCK_AUTO, 0, check_unrestricted);
}

Test(landlock, off_restricts_nothing)
{
	struct vm_config cfg;

	config(&cfg);
	sandboxed(&cfg, SANDBOX_LANDLOCK_OFF, 0, check_unrestricted);
}

static char sock_path[PATH_MAX];

static int check_vsock(void)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	char peer[PATH_MAX];
	int fd;

	/* A guest-initiated connection: connect() to a named socket is not a Landlock access. */
	path_fmt(sa.sun_path, sizeof(sa.sun_path), "%s_5", sock_path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	CHECK(fd >= 0 && connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0);
	close(fd);

	/* volt removes its own socket at exit, and nothing else there. */
	CHECK(unlink(sock_path) == 0);
	path_fmt(peer, sizeof(peer), "%s_1234", sock_path);
	CHECK(open_errno(peer, O_CREAT | O_WRONLY) == EACCES);
	CHECK(open_errno(other, O_RDONLY) == EACCES);
	return 0;
}

static void sa_path_listen(const char *base)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	path_fmt(sa.sun_path, sizeof(sa.sun_path), "%s_5", base);
	cr_assert(fd >= 0);
	cr_assert_eq(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	cr_assert_eq(listen(fd, 4), 0);
}

Test(landlock, vsock_socket_directory)
{
	struct vm_config cfg;

	need_landlock();
	config(&cfg);
	test_write(dir, "v.sock", "");
	path_fmt(sock_path, sizeof(sock_path), "%s/v.sock", dir);
	sa_path_listen(sock_path);
	{
		struct vsock_config *v = (struct vsock_config *)cfg.devices[cfg.ndevices].data;

		cfg.devices[cfg.ndevices++].kind = &virtio_vsock_kind;
		path_fmt(v->uds, sizeof(v->uds), "%s", sock_path);
	}
	sandboxed(&cfg, SANDBOX_LANDLOCK_AUTO, 0, check_vsock);
}

static int check_missing(void)
{
	CHECK(open_errno(kernel, O_RDONLY) == 0);
	CHECK(open_errno(ro_drive, O_RDONLY) == 0);
	CHECK(open_errno(rw_drive, O_RDONLY) == EACCES);
	return 0;
}

/* A file gone since volt opened it gets no rule: stricter, not an error. */
Test(landlock, missing_path_gets_no_rule)
{
	struct vm_config cfg;

	need_landlock();
	config(&cfg);
	snprintf(drive_at(&cfg, 0)->path, sizeof(drive_at(&cfg, 0)->path), "%s/nope", dir);
	sandboxed(&cfg, SANDBOX_LANDLOCK_REQUIRE, 0, check_missing);
}

/* A VMM a jailer started (cfg->in_jail): / is the jail, whose regular files it
 * may read, write, create and remove, as Firecracker may in its jail; no
 * directories, nodes or links. Here the jail is the test's directory, entered
 * with chroot (root only). */
static int check_jail(void)
{
	CHECK(open_errno("/other", O_RDWR) == 0);
	CHECK(open_errno("/kernel", O_RDWR) == 0);
	CHECK(open_errno("/new", O_CREAT | O_EXCL | O_WRONLY) == 0);
	CHECK(unlink("/new") == 0);
	CHECK(open_errno("/", O_RDONLY | O_DIRECTORY) == 0);
	CHECK(mkdir("/d", 0755) && errno == EACCES);
	CHECK(mkfifo("/f", 0644) && errno == EACCES);
	CHECK(symlink("/other", "/l") && errno == EACCES);
	return 0;
}

Test(landlock, a_jailed_vmm_uses_the_jails_files)
{
	struct vm_config cfg;
	int status;
	pid_t pid;

	need_landlock();
	if (geteuid())
		cr_skip_test("chroot needs root");
	memset(&cfg, 0, sizeof(cfg));
	cfg.kernel = "/kernel";
	cfg.in_jail = true;
	pid = fork();
	if (!pid) {
		/* As the jailer does before it enters the jail (sanitizer builds
		 * read /proc there). */
		sandbox_sanitizer_prepare();
		if (chroot(dir) || chdir("/") || sandbox_landlock_apply(&cfg))
			_exit(1);
		_exit(check_jail());
	}
	cr_assert(pid > 0);
	cr_assert_eq(waitpid(pid, &status, 0), pid);
	cr_assert(WIFEXITED(status), "the child died");
	cr_assert_eq(WEXITSTATUS(status), 0, "check at line %d failed (1: set-up)",
		     WEXITSTATUS(status));
}

/* The jailer's options given by hand, on a host's /: no rule for /. */
Test(landlock, jail_options_without_a_jail_open_nothing)
{
	struct vm_config cfg;

	need_landlock();
	config(&cfg);
	cfg.in_jail = true;
	open_before_fd = open(other, O_RDONLY | O_CLOEXEC);
	cr_assert(open_before_fd >= 0);
	sandboxed(&cfg, SANDBOX_LANDLOCK_AUTO, 0, check_full);
}

static char snap_dir[PATH_MAX];

/* A snapshot's files put in place as a snapshot does; nothing outside the
 * snapshot directory. */
static int check_snapshot_files(void)
{
	struct staged_file f;

	CHECK(test_snapshot_files_twice(snap_dir) == 0);
	CHECK(staged_write(&f, other, "x", 1, 0600) == -EACCES);
	return 0;
}

Test(landlock, snapshots_go_in_place_in_their_directory)
{
	struct vm_config cfg;

	need_landlock();
	config(&cfg);
	path_fmt(snap_dir, sizeof(snap_dir), "%s/snaps", dir);
	cr_assert_eq(mkdir(snap_dir, 0700), 0);
	test_write(snap_dir, "vmstate", "old");
	test_write(snap_dir, "mem", "old");
	cfg.snapshot_dir = snap_dir;
	sandboxed(&cfg, SANDBOX_LANDLOCK_AUTO, 0, check_snapshot_files);
}
