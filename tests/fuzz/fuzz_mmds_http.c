/* libFuzzer target: the MMDS's guest-facing HTTP answers (mmds_http_serve,
 * devices/mmds/mmds.h) on arbitrary bytes, as the guest's TCP stream.
 *
 * Input: one mode byte (bit 0: V2, bit 1: imds_compat, bit 2: the stream
 * ends with a final call), then the stream. "@T" in the stream is replaced
 * by a valid session token, so that V2's answers past the token check are
 * reached. The stream is fed in pieces as a TCP stack would hand it over:
 * what is not consumed stays and more is appended, at most
 * MMDS_HTTP_REQUEST_MAX bytes buffered.
 *
 * Checked: the return is 0, 1 or 2 (never an error but -ENOMEM); an answer
 * consumes at least one byte and no more than it was given; every answer is
 * "HTTP/1.x NNN \r\n" ... with a Content-Length equal to its body's length. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "devices/mmds/mmds_priv.h"

static struct mmds *store;

static void check_answer(const uint8_t *out, size_t len)
{
	const char *end, *cl;
	char head[8192];
	size_t hl;
	unsigned long n;

	if (len < 16 || memcmp(out, "HTTP/1.", 7))
		abort();
	end = memmem(out, len, "\r\n\r\n", 4);
	if (!end)
		abort();
	hl = (size_t)(end - (const char *)out);
	if (hl >= sizeof(head))
		abort();
	memcpy(head, out, hl);
	head[hl] = '\0';
	cl = strstr(head, "\r\nContent-Length: ");
	if (!cl || sscanf(cl + 18, "%lu", &n) != 1 || n != len - hl - 4)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct mmds_config c = { .ipv4 = MMDS_DEFAULT_IPV4 };
	uint8_t buf[MMDS_HTTP_REQUEST_MAX], *stream;
	char token[MMDS_TOKEN_TEXT_MAX];
	size_t have = 0, pos = 0, len = 0, i;
	bool final;

	if (!store) {
		const char *d = "{\"latest\":{\"meta-data\":{\"ami-id\":\"ami-1\",\"n\":[1,2.5,null,"
				"{\"x\":\"y\"}]},\"user-data\":\"a\\u0000b\"},\"t\":true}";

		if (mmds_create(&store, MMDS_DEFAULT_SIZE_LIMIT) ||
		    mmds_put(store, d, strlen(d), NULL, 0))
			abort();
	}
	if (!size)
		return 0;
	c.version = data[0] & 1 ? MMDS_V2 : MMDS_V1;
	c.imds_compat = data[0] & 2;
	final = data[0] & 4;
	mmds_set_config(store, &c);
	pthread_mutex_lock(&store->lock);
	mmds_token_new(store, 60, token);
	pthread_mutex_unlock(&store->lock);
	stream = malloc(size * 24 + 1);
	if (!stream)
		return 0;
	for (i = 1; i < size; i++) {
		if (data[i] == '@' && i + 1 < size && data[i + 1] == 'T') {
			memcpy(stream + len, token, 48);
			len += 48;
			i++;
		} else {
			stream[len++] = data[i];
		}
	}
	/* Pieces of 1 to 64 bytes, their sizes from the stream's own bytes. */
	while (pos < len || (final && have)) {
		size_t piece = pos < len ? (size_t)(stream[pos] % 64) + 1 : 0, consumed, out_len;
		uint8_t *out;
		int ret;

		if (piece > len - pos)
			piece = len - pos;
		if (piece > sizeof(buf) - have)
			piece = sizeof(buf) - have;
		memcpy(buf + have, stream + pos, piece);
		have += piece;
		pos += piece;
		do {
			bool last = have == sizeof(buf) || (final && pos == len);

			ret = mmds_http_serve(store, buf, have, last, &consumed, &out, &out_len);
			if (ret < 0 || ret > 2)
				abort();
			if (!ret) {
				if (last && have)
					abort(); /* a final call always answers */
				break;
			}
			if (!consumed || consumed > have)
				abort();
			check_answer(out, out_len);
			free(out);
			memmove(buf, buf + consumed, have - consumed);
			have -= consumed;
			if (ret == 2)
				have = 0, pos = len; /* closed */
		} while (have);
		if (!piece && !ret)
			break;
	}
	free(stream);
	return 0;
}
