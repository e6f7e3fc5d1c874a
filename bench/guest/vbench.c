/* Guest side of bench/virtio.sh's stream figures: connects to the host over
 * TCP or vsock and sends MIB MiB as fast as it can, then closes. The host's
 * sink (bench/lib/sink.py) times the stream from accept to EOF, so the guest
 * clock (emulated or translated on some hosts) takes no part in the figure.
 * Built static on the host; one process, few system calls per MiB.
 *
 *   vbench tcp IPV4 PORT MIB
 *   vbench vsock PORT MIB      (to the host, CID 2)
 */
#include <arpa/inet.h>
#include <linux/vm_sockets.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define CHUNK (64 * 1024)

static char buf[CHUNK];

int main(int argc, char **argv)
{
	long long left;
	int fd;

	if (argc == 5 && !strcmp(argv[1], "tcp")) {
		struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(atoi(argv[3])) };

		if (inet_pton(AF_INET, argv[2], &sa.sin_addr) != 1)
			return 2;
		fd = socket(AF_INET, SOCK_STREAM, 0);
		if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa))) {
			perror("vbench: tcp connect");
			return 1;
		}
		left = atoll(argv[4]) << 20;
	} else if (argc == 4 && !strcmp(argv[1], "vsock")) {
		struct sockaddr_vm sa = {
			.svm_family = AF_VSOCK,
			.svm_cid = VMADDR_CID_HOST,
			.svm_port = (unsigned int)atoi(argv[2]),
		};

		fd = socket(AF_VSOCK, SOCK_STREAM, 0);
		if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa))) {
			perror("vbench: vsock connect");
			return 1;
		}
		left = atoll(argv[3]) << 20;
	} else {
		fprintf(stderr, "usage: vbench tcp IPV4 PORT MIB | vbench vsock PORT MIB\n");
		return 2;
	}
	memset(buf, 0x5a, sizeof(buf));
	while (left > 0) {
		ssize_t n = write(fd, buf, left < CHUNK ? (size_t)left : CHUNK);

		if (n <= 0) {
			perror("vbench: write");
			return 1;
		}
		left -= n;
	}
	close(fd);
	return 0;
}
