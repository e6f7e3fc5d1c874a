/* A page-fault handler for volt's Uffd memory backend, for the tests: what
 * Firecracker's example on_demand_handler does, in C. Usage:
 *
 *   uffd_handler SOCKET MEMFILE
 *
 * Listens on SOCKET, says "uffd_handler: ready" on stdout, accepts one
 * connection and takes Firecracker's handshake from it (a JSON array of
 * {base_host_virt_addr, size, offset, page_size} and the userfaultfd in
 * SCM_RIGHTS), then serves every missing page from MEMFILE at the region's
 * offset (UFFDIO_COPY; UFFDIO_ZEROPAGE for zero pages) until the VMM exits.
 * A removed range (the balloon's MADV_DONTNEED) is unregistered: those pages
 * are zero from then on, as in Firecracker's handler. A userfaultfd never
 * reports its process's exit, so the handler watches a pidfd of the peer. */
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <linux/userfaultfd.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <unistd.h>

#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434
#endif

#define MAX_REGIONS  16
#define MAX_DEFERRED 4096

struct region {
	uint64_t base, size, offset;
};

static struct region regions[MAX_REGIONS];
static int nregions;
static uint64_t page_size = 4096;
static const uint8_t *file;
static uint64_t file_size;
static int uffd = -1;
static pid_t peer;

static void die(const char *what)
{
	fprintf(stderr, "uffd_handler: %s: %s\n", what, strerror(errno));
	/* The VMM's faulting threads would wait for ever: end it, as
	 * Firecracker's handler does from its panic hook. */
	if (peer > 0)
		kill(peer, SIGKILL);
	exit(1);
}

static bool zero(const uint8_t *p, uint64_t len)
{
	uint64_t i;

	for (i = 0; i < len; i++)
		if (p[i])
			return false;
	return true;
}

/* Whether a failed fill needs nothing more: the page is there already
 * (EEXIST), or no longer registered (ENOENT: removed, or unmapped) or its
 * process is gone (ESRCH). */
static bool settled(int err)
{
	return err == EEXIST || err == ENOENT || err == ESRCH;
}

/* 0 served (or already there), -EAGAIN to retry after reading events. */
static int serve(uint64_t addr)
{
	uint64_t page = addr & ~(page_size - 1), off;
	int i;

	for (i = 0; i < nregions; i++)
		if (page >= regions[i].base && page - regions[i].base < regions[i].size)
			break;
	if (i == nregions) {
		errno = EFAULT;
		die("fault outside the regions");
	}
	off = regions[i].offset + (page - regions[i].base);
	/* hugetlbfs has no UFFDIO_ZEROPAGE: a huge page of zeros is copied. */
	if (page_size > 4096 && (off + page_size > file_size || zero(file + off, page_size))) {
		static uint8_t *zeros;
		struct uffdio_copy c = { .dst = page, .len = page_size };

		if (!zeros && !(zeros = calloc(1, page_size)))
			die("calloc");
		c.src = (uint64_t)(uintptr_t)zeros;
		if (ioctl(uffd, UFFDIO_COPY, &c) && !settled(errno)) {
			if (errno == EAGAIN)
				return -EAGAIN;
			die("UFFDIO_COPY");
		}
	} else if (off + page_size > file_size || zero(file + off, page_size)) {
		struct uffdio_zeropage z = { .range = { .start = page, .len = page_size } };

		if (ioctl(uffd, UFFDIO_ZEROPAGE, &z) && !settled(errno)) {
			if (errno == EAGAIN)
				return -EAGAIN;
			die("UFFDIO_ZEROPAGE");
		}
	} else {
		struct uffdio_copy c = { .dst = page,
					 .src = (uint64_t)(uintptr_t)(file + off),
					 .len = page_size };

		if (ioctl(uffd, UFFDIO_COPY, &c) && !settled(errno)) {
			if (errno == EAGAIN)
				return -EAGAIN;
			die("UFFDIO_COPY");
		}
	}
	return 0;
}

static void handshake(int conn)
{
	char buf[8192], cbuf[CMSG_SPACE(sizeof(int))];
	struct iovec iov = { .iov_base = buf, .iov_len = sizeof(buf) - 1 };
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1 };
	struct cmsghdr *c;
	json_error_t jerr;
	json_t *arr, *o;
	ssize_t n;
	size_t i;

	msg.msg_control = cbuf;
	msg.msg_controllen = sizeof(cbuf);
	do
		n = recvmsg(conn, &msg, MSG_CMSG_CLOEXEC);
	while (n < 0 && errno == EINTR);
	if (n <= 0)
		die("recvmsg");
	for (c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c))
		if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS)
			memcpy(&uffd, CMSG_DATA(c), sizeof(int));
	if (uffd < 0) {
		errno = EPROTO;
		die("no userfaultfd in the handshake");
	}
	arr = json_loadb(buf, (size_t)n, 0, &jerr);
	if (!json_is_array(arr) || json_array_size(arr) == 0 ||
	    json_array_size(arr) > MAX_REGIONS) {
		fprintf(stderr, "uffd_handler: bad handshake '%.*s': %s\n", (int)n, buf, jerr.text);
		errno = EPROTO;
		die("handshake");
	}
	json_array_foreach(arr, i, o)
	{
		json_t *b = json_object_get(o, "base_host_virt_addr"),
		       *s = json_object_get(o, "size"), *f = json_object_get(o, "offset"),
		       *p = json_object_get(o, "page_size");

		if (!json_is_integer(b) || !json_is_integer(s) || !json_is_integer(f) ||
		    !json_is_integer(p)) {
			errno = EPROTO;
			die("a mapping without base_host_virt_addr, size, offset, page_size");
		}
		regions[i] = (struct region){ (uint64_t)json_integer_value(b),
					      (uint64_t)json_integer_value(s),
					      (uint64_t)json_integer_value(f) };
		page_size = (uint64_t)json_integer_value(p);
	}
	nregions = (int)json_array_size(arr);
	json_decref(arr);
}

int main(int argc, char **argv)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	uint64_t deferred[MAX_DEFERRED];
	struct ucred cred;
	socklen_t len = sizeof(cred);
	struct stat st;
	int fd, lsn, conn, pidfd;
	unsigned int ndeferred = 0;

	if (argc != 3 || strlen(argv[1]) >= sizeof(sa.sun_path)) {
		fprintf(stderr, "usage: uffd_handler SOCKET MEMFILE\n");
		return 2;
	}
	fd = open(argv[2], O_RDONLY | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &st))
		die(argv[2]);
	file_size = (uint64_t)st.st_size;
	file = file_size ? mmap(NULL, file_size, PROT_READ, MAP_PRIVATE, fd, 0) : NULL;
	if (file == MAP_FAILED)
		die("mmap");
	close(fd);
	memcpy(sa.sun_path, argv[1], strlen(argv[1]) + 1);
	lsn = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	unlink(argv[1]);
	if (lsn < 0 || bind(lsn, (struct sockaddr *)&sa, sizeof(sa)) || listen(lsn, 1))
		die(argv[1]);
	printf("uffd_handler: ready\n");
	fflush(stdout);
	do
		conn = accept4(lsn, NULL, NULL, SOCK_CLOEXEC);
	while (conn < 0 && errno == EINTR);
	if (conn < 0)
		die("accept");
	close(lsn);
	unlink(argv[1]);
	if (getsockopt(conn, SOL_SOCKET, SO_PEERCRED, &cred, &len))
		die("SO_PEERCRED");
	peer = cred.pid;
	handshake(conn);
	close(conn);
	pidfd = (int)syscall(SYS_pidfd_open, peer, 0);
	for (;;) {
		struct pollfd p[2] = { { .fd = uffd, .events = POLLIN },
				       { .fd = pidfd, .events = POLLIN } };
		struct uffd_msg msg;
		unsigned int i, keep;
		ssize_t n;

		if (poll(p, pidfd >= 0 ? 2 : 1, ndeferred ? 10 : -1) < 0) {
			if (errno == EINTR)
				continue;
			die("poll");
		}
		if ((p[0].revents & (POLLHUP | POLLERR)) || (p[1].revents & POLLIN))
			return 0; /* the VMM is gone */
		/* Every event first: a pending REMOVE makes the ioctls EAGAIN. */
		for (;;) {
			n = read(uffd, &msg, sizeof(msg));
			if (n < 0 && errno == EINTR)
				continue;
			if (n < 0 && errno == EAGAIN)
				break;
			if (n == 0)
				return 0;
			if (n != sizeof(msg))
				die("read");
			if (msg.event == UFFD_EVENT_PAGEFAULT) {
				if (ndeferred == MAX_DEFERRED) {
					errno = ENOSPC;
					die("too many faults pending");
				}
				deferred[ndeferred++] = msg.arg.pagefault.address;
			} else if (msg.event == UFFD_EVENT_REMOVE) {
				struct uffdio_range r = { .start = msg.arg.remove.start,
							  .len = msg.arg.remove.end -
								 msg.arg.remove.start };

				/* Zero from now on: plain anonymous memory. */
				if (ioctl(uffd, UFFDIO_UNREGISTER, &r) && errno != EINVAL)
					die("UFFDIO_UNREGISTER");
			}
			/* Anything else (fork, remap, unmap) was not asked for. */
		}
		for (i = keep = 0; i < ndeferred; i++)
			if (serve(deferred[i]) == -EAGAIN)
				deferred[keep++] = deferred[i];
		ndeferred = keep;
	}
}
