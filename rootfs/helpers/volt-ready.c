/* volt-ready: mounts the file systems the guest kit's /init needs, tells volt
 * the guest kit reached its ready point, then prints
 * the command volt hands over through the kit port (src/devices/legacy/
 * kit_port.h), so that a snapshot taken at the ready point can run any
 * command. The OUT comes before any IN: the snapshot is taken between them.
 * Also tells the boot timer (port 0x3f0, as volt-boot-done) that user space
 * is up, which saves init a fork and an exec.
 *
 * Exit status: 0 the command is on stdout (empty: none); 2 no kit port (the
 * port reads 0xff: an older volt or another VMM; init falls back to the
 * kernel command line); 1 no ioperm or the command is not 0-terminated
 * within KIT_MAX bytes.
 *
 * After the command, reseeds the guest's RNG from /dev/hwrng when the VM has
 * a virtio-rng (writing to /dev/urandom mixes without crediting): every VM
 * restored from one snapshot starts from the same RNG state.
 *
 * The mounts (/proc, /sys, /dev as devtmpfs, /dev/pts) come first, before
 * the ready point, whatever else fails: made by init's busybox they cost a
 * fork and an exec each, about a second apiece when guest ring 0 is emulated
 * (docs/boot-time.md). One already there (devtmpfs on a disk root) fails
 * with EBUSY and is left alone; init makes any that is missing after this.
 *
 * Static, no libc: it is exec'ed once per boot, where every page fault counts. */
#define SYS_read   0
#define SYS_write  1
#define SYS_open   2
#define SYS_close  3
#define SYS_mkdir  83
#define SYS_mount  165
#define SYS_exit   60
#define SYS_ioperm 173
#define O_RDONLY   0
#define O_WRONLY   1

#define BOOT_PORT   0x3f0
#define BOOT_MAGIC  123
#define KIT_PORT    0x3f1
#define READY_MAGIC 0x52
#define KIT_MAX	    4096 /* bytes, the final 0 included */
#define SEED_BYTES  64

static long syscall3(long n, long a, long b, long c)
{
	long r;

	__asm__ volatile("syscall"
			 : "=a"(r)
			 : "a"(n), "D"(a), "S"(b), "d"(c)
			 : "rcx", "r11", "memory");
	return r;
}

static long syscall5(long n, long a, long b, long c, long d, long e)
{
	register long r10 __asm__("r10") = d;
	register long r8 __asm__("r8") = e;
	long r;

	__asm__ volatile("syscall"
			 : "=a"(r)
			 : "a"(n), "D"(a), "S"(b), "d"(c), "r"(r10), "r"(r8)
			 : "rcx", "r11", "memory");
	return r;
}

static void mount_fs(const char *type, const char *dir)
{
	syscall5(SYS_mount, (long)type, (long)dir, (long)type, 0, 0);
}

static void outb(unsigned char v, unsigned short port)
{
	__asm__ volatile("outb %b0, %w1" : : "a"(v), "Nd"(port));
}

static unsigned char inb(unsigned short port)
{
	unsigned char v;

	__asm__ volatile("inb %w1, %b0" : "=a"(v) : "Nd"(port));
	return v;
}

static void leave(long code)
{
	syscall3(SYS_exit, code, 0, 0);
	for (;;)
		;
}

static void reseed(void)
{
	static char seed[SEED_BYTES];
	long in, out, n;

	in = syscall3(SYS_open, (long)"/dev/hwrng", O_RDONLY, 0);
	if (in < 0)
		return;
	n = syscall3(SYS_read, in, (long)seed, sizeof(seed));
	syscall3(SYS_close, in, 0, 0);
	if (n <= 0)
		return;
	out = syscall3(SYS_open, (long)"/dev/urandom", O_WRONLY, 0);
	if (out < 0)
		return;
	syscall3(SYS_write, out, (long)seed, n);
	syscall3(SYS_close, out, 0, 0);
}

void _start(void)
{
	static char cmd[KIT_MAX];
	long n, off, w;

	mount_fs("proc", "/proc");
	mount_fs("sysfs", "/sys");
	mount_fs("devtmpfs", "/dev");
	syscall3(SYS_mkdir, (long)"/dev/pts", 0755, 0);
	mount_fs("devpts", "/dev/pts");
	if (syscall3(SYS_ioperm, BOOT_PORT, 2, 1))
		leave(1);
	outb(BOOT_MAGIC, BOOT_PORT);
	outb(READY_MAGIC, KIT_PORT);
	/* The ready point: a snapshot resumes here. */
	for (n = 0; n < KIT_MAX; n++) {
		cmd[n] = (char)inb(KIT_PORT);
		if (!cmd[n])
			break;
		if (!n && (unsigned char)cmd[0] == 0xff)
			leave(2);
	}
	if (n == KIT_MAX)
		leave(1);
	reseed();
	for (off = 0; off < n; off += w) {
		w = syscall3(SYS_write, 1, (long)(cmd + off), n - off);
		if (w <= 0)
			leave(1);
	}
	leave(0);
}
