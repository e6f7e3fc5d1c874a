/* util/rust_err.h: musl's strerror words where they are not glibc's. */
#include "util/rust_err.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

struct err_words {
	int err;
	const char *words;
};

/* Only the errors whose words differ; the others are glibc's as well.
 * Taken from musl's table (src/errno/__strerror.h). */
static const struct err_words musl_words[] = {
	{ EILSEQ, "Illegal byte sequence" },
	{ EDOM, "Domain error" },
	{ ERANGE, "Result not representable" },
	{ ENOTTY, "Not a tty" },
	{ ENOMEM, "Out of memory" },
	{ EBUSY, "Resource busy" },
	{ ESPIPE, "Invalid seek" },
	{ EXDEV, "Cross-device link" },
	{ ETIMEDOUT, "Operation timed out" },
	{ EHOSTUNREACH, "Host is unreachable" },
	{ EADDRINUSE, "Address in use" },
	{ EIO, "I/O error" },
	{ ELOOP, "Symbolic link loop" },
	{ ENAMETOOLONG, "Filename too long" },
	{ EMFILE, "No file descriptors available" },
	{ ECHILD, "No child process" },
	{ EDEADLK, "Resource deadlock would occur" },
	{ ETIME, "Device timeout" },
	{ ENOTSOCK, "Not a socket" },
	{ ENOTSUP, "Not supported" },
	{ EADDRNOTAVAIL, "Address not available" },
	{ ENETUNREACH, "Network unreachable" },
	{ ENETRESET, "Connection reset by network" },
	{ ECONNABORTED, "Connection aborted" },
	{ EISCONN, "Socket is connected" },
	{ ENOTCONN, "Socket not connected" },
	{ ESHUTDOWN, "Cannot send after socket shutdown" },
};

const char *musl_strerror(int e)
{
	size_t i;

	for (i = 0; i < sizeof(musl_words) / sizeof(musl_words[0]); i++)
		if (musl_words[i].err == e)
			return musl_words[i].words;
	return strerror(e);
}

const char *rust_io_error(int e, char *buf, size_t size)
{
	snprintf(buf, size, "%s (os error %d)", musl_strerror(e), e);
	return buf;
}
