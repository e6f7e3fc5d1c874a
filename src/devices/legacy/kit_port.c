#include "devices/legacy/kit_port.h"

#include "core/snap.h"

#include <errno.h>
#include <string.h>

void kit_port_init(struct kit_port *k, void (*ready)(void *), void *ctx)
{
	memset(k, 0, sizeof(*k));
	pthread_mutex_init(&k->lock, NULL);
	k->ready = ready;
	k->ctx = ctx;
}

int kit_port_set_command(struct kit_port *k, const char *cmd)
{
	size_t n = strlen(cmd);
	int err = 0;

	if (n > KIT_PORT_CMD_MAX)
		return -E2BIG;
	if ((unsigned char)cmd[0] == 0xff)
		return -EINVAL;
	pthread_mutex_lock(&k->lock);
	if (k->cursor) {
		err = -EBUSY;
	} else {
		memcpy(k->cmd, cmd, n);
		k->len = n;
	}
	pthread_mutex_unlock(&k->lock);
	return err;
}

static uint8_t next_byte(struct kit_port *k)
{
	uint8_t b = 0;

	if (k->cursor < k->len)
		b = (uint8_t)k->cmd[k->cursor];
	if (k->cursor <= k->len)
		k->cursor++;
	return b;
}

void kit_port_io(void *dev, uint64_t offset, uint8_t *data, uint32_t len, bool is_write)
{
	struct kit_port *k = dev;
	bool ready = false;

	if (len != 1 || offset) {
		if (!is_write)
			memset(data, 0xff, len);
		return;
	}
	pthread_mutex_lock(&k->lock);
	if (!is_write) {
		data[0] = next_byte(k);
	} else if (data[0] == KIT_PORT_READY_MAGIC) {
		k->readies++;
		ready = true;
	}
	pthread_mutex_unlock(&k->lock);
	/* Outside the lock: the callback may set the command. */
	if (ready && k->ready)
		k->ready(k->ctx);
}

int kit_port_save(struct kit_port *k, struct snap_writer *w)
{
	int err;

	pthread_mutex_lock(&k->lock);
	err = snap_put_u64(w, "cursor", k->cursor);
	if (!err && k->cursor)
		err = snap_put(w, "cmd", k->cmd, k->len);
	pthread_mutex_unlock(&k->lock);
	return err;
}

int kit_port_restore(struct kit_port *k, struct snap_reader *r)
{
	char cmd[KIT_PORT_CMD_MAX];
	uint64_t cursor;
	size_t len = 0;
	int err;

	err = snap_get_u64(r, "cursor", &cursor);
	if (!err && cursor)
		err = snap_get_var(r, "cmd", cmd, sizeof(cmd), &len);
	if (err)
		return err;
	if (cursor > len + 1 || memchr(cmd, 0, len))
		return -EBADMSG;
	pthread_mutex_lock(&k->lock);
	if (cursor) {
		memcpy(k->cmd, cmd, len);
		k->len = len;
	}
	k->cursor = cursor;
	pthread_mutex_unlock(&k->lock);
	return 0;
}

/* The first " volt.cmd=" + quote (or, failing that, " volt.cmd=") in " cmdline ",
 * as rootfs/init's case patterns: the start of "volt.cmd=" in cmdline. */
static char *find_param(char *cmdline, bool quoted)
{
	const char *pat = quoted ? "volt.cmd=\"" : "volt.cmd=";
	char *p;

	for (p = strstr(cmdline, pat); p; p = strstr(p + 1, pat))
		if (p == cmdline || p[-1] == ' ')
			return p;
	return NULL;
}

int kit_cmdline_take(char *cmdline, char *cmd, size_t cmd_size)
{
	const size_t plen = strlen("volt.cmd=");
	bool quoted = true;
	char *start, *val, *end, *stop;
	size_t n;

	if (cmd_size)
		cmd[0] = '\0';
	start = find_param(cmdline, true);
	if (!start) {
		quoted = false;
		start = find_param(cmdline, false);
	}
	if (!start)
		return 0;
	val = start + plen + quoted;
	end = strchr(val, quoted ? '"' : ' ');
	if (!end)
		end = val + strlen(val);
	n = (size_t)(end - val);
	if (n >= cmd_size)
		return -E2BIG;
	memcpy(cmd, val, n);
	cmd[n] = '\0';
	/* The kernel's parameter ends at the next space, closing quote or not. */
	stop = strchr(end, ' ');
	if (!stop)
		stop = end + strlen(end);
	if (*stop == ' ' && (start == cmdline || start[-1] != ' '))
		stop++;
	else if (start > cmdline && start[-1] == ' ')
		start--;
	memmove(start, stop, strlen(stop) + 1);
	return 1;
}
