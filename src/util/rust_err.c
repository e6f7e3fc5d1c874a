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
	{ EOVERFLOW, "Value too large for data type" },
	{ EDQUOT, "Quota exceeded" },
	{ EINPROGRESS, "Operation in progress" },
	{ EMSGSIZE, "Message too large" },
	{ EOWNERDEAD, "Previous owner died" },
};

/* The rest of musl's table: the same words as glibc's. Any error in neither
 * list has no words in musl ("No error information"). */
static const int musl_same[] = {
	EACCES,	     EPERM,	  ENOENT,	   ESRCH,	    EEXIST,	  ENOSPC,
	EINTR,	     EAGAIN,	  EROFS,	   ENOTEMPTY,	    ECONNRESET,	  ECONNREFUSED,
	EHOSTDOWN,   EPIPE,	  ENXIO,	   ENOTBLK,	    ENODEV,	  ENOTDIR,
	EISDIR,	     ETXTBSY,	  ENOEXEC,	   EINVAL,	    E2BIG,	  ENFILE,
	EBADF,	     EFAULT,	  EFBIG,	   EMLINK,	    ENOLCK,	  ENOTRECOVERABLE,
	ECANCELED,   ENOSYS,	  ENOMSG,	   EIDRM,	    ENOSTR,	  ENODATA,
	ENOSR,	     ENOLINK,	  EPROTO,	   EBADMSG,	    EBADFD,	  EDESTADDRREQ,
	EPROTOTYPE,  ENOPROTOOPT, EPROTONOSUPPORT, ESOCKTNOSUPPORT, EPFNOSUPPORT, EAFNOSUPPORT,
	ENETDOWN,    ENOBUFS,	  EALREADY,	   ESTALE,	    EREMOTEIO,	  ENOMEDIUM,
	EMEDIUMTYPE, EMULTIHOP,
};

const char *musl_strerror(int e)
{
	size_t i;

	for (i = 0; i < sizeof(musl_words) / sizeof(musl_words[0]); i++)
		if (musl_words[i].err == e)
			return musl_words[i].words;
	for (i = 0; i < sizeof(musl_same) / sizeof(musl_same[0]); i++)
		if (musl_same[i] == e)
			return strerror(e);
	return "No error information";
}

const char *rust_io_error(int e, char *buf, size_t size)
{
	snprintf(buf, size, "%s (os error %d)", musl_strerror(e), e);
	return buf;
}
