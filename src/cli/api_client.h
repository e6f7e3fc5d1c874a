/* A small HTTP/1.1 client for volt's (or Firecracker's) API on a Unix
 * socket, for the CLI's thin clients (`volt snapshot create`): one request
 * per connection ("Connection: close"), a Content-Length body, the status
 * line and the body of the answer. Every read and write is bounded: the
 * answer by API_CLIENT_REPLY_MAX bytes, the whole exchange by a deadline.
 * Functions return 0 or -errno with a one-line reason in why. */
#ifndef VOLT_CLI_API_CLIENT_H
#define VOLT_CLI_API_CLIENT_H

#include <stddef.h>

/* Headers and body of an answer together; the API's answers are small. */
#define API_CLIENT_REPLY_MAX (256 * 1024)

struct api_reply {
	int status; /* the status line's code */
	char *body; /* malloc'd, NUL-terminated ("" when none); free() it */
	size_t len;
};

/* Sends method url with body (NULL: none) to the API socket at path and
 * waits at most timeout_ms (for the connection, the request and the whole
 * answer). -ECONNREFUSED / -ENOENT when nothing listens there, -ETIMEDOUT,
 * -EPROTO for an answer that is not HTTP. */
int api_client_request(const char *path, const char *method, const char *url, const char *body,
		       int timeout_ms, struct api_reply *reply, char *why, size_t why_size);
/* The fault_message of an error answer's JSON body, else the body itself
 * (cut to size), else "HTTP <status>". */
void api_client_fault(const struct api_reply *reply, char *buf, size_t size);

#endif
