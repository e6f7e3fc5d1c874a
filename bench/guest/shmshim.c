/* LD_PRELOAD shim for fio in the bench guest: the guest-kit kernel has no
 * System V IPC (CONFIG_SYSVIPC), and fio keeps its job table in a SysV shared
 * memory segment even with --thread. Segments here are anonymous shared
 * mappings, which a forked job shares with its parent just the same; one
 * segment per shmget(), freed at shmdt() (fio marks them IPC_RMID at once). */
#define _GNU_SOURCE
#include <errno.h>
#include <stddef.h>
#include <sys/mman.h>
#include <sys/shm.h>

#define MAX_SEGS 64

static struct {
	void *addr;
	size_t size;
} segs[MAX_SEGS];

int shmget(key_t key, size_t size, int flags)
{
	int i;

	(void)key;
	(void)flags;
	for (i = 0; i < MAX_SEGS; i++)
		if (!segs[i].size) {
			void *p = mmap(NULL, size, PROT_READ | PROT_WRITE,
				       MAP_SHARED | MAP_ANONYMOUS, -1, 0);

			if (p == MAP_FAILED)
				return -1;
			segs[i].addr = p;
			segs[i].size = size;
			return i + 1;
		}
	errno = ENOSPC;
	return -1;
}

void *shmat(int id, const void *addr, int flags)
{
	(void)addr;
	(void)flags;
	if (id < 1 || id > MAX_SEGS || !segs[id - 1].size) {
		errno = EINVAL;
		return (void *)-1;
	}
	return segs[id - 1].addr;
}

int shmdt(const void *addr)
{
	int i;

	for (i = 0; i < MAX_SEGS; i++)
		if (segs[i].size && segs[i].addr == addr) {
			munmap(segs[i].addr, segs[i].size);
			segs[i].size = 0;
			return 0;
		}
	errno = EINVAL;
	return -1;
}

int shmctl(int id, int cmd, struct shmid_ds *buf)
{
	(void)id;
	(void)cmd;
	(void)buf;
	return 0;
}
