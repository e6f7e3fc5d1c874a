/* Metrics lines: valid JSON in Firecracker's shape (the VMM's sections and
 * those the device table registers), deltas reset by a flush, FIFOs that are
 * never waited for. Criterion forks per test, so each test starts with zeroed
 * counters, no destination and only the sections setup() registers. */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/metrics.h"
#include "devices/device_table.h"
#include "util/log.h"
#include "vmm/vm.h"

static char dir[] = "/tmp/volt-metrics-XXXXXX";
static char path[256];

static void setup(void)
{
	cr_assert_not_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/m", dir);
	log_set_level(LOG_OFF);
	/* As the API command does before it opens the metrics. */
	cr_assert_eq(device_table_register_metrics(), 0);
}

static void teardown(void)
{
	metrics_close();
	unlink(path);
	rmdir(dir);
}

TestSuite(metrics, .init = setup, .fini = teardown, .timeout = 30);

static json_t *parse_line(const char *line)
{
	json_error_t err;
	json_t *j = json_loads(line, JSON_REJECT_DUPLICATES, &err);

	cr_assert_not_null(j, "not JSON (%s): %.200s", err.text, line);
	cr_assert(json_is_object(j));
	return j;
}

static json_int_t get(json_t *j, const char *sec, const char *name)
{
	json_t *v = json_object_get(json_object_get(j, sec), name);

	cr_assert(json_is_integer(v), "%s.%s missing", sec, name);
	return json_integer_value(v);
}

/* A device kind's counter, found as the line finds it: through the table. */
static void device_add(const char *sec, const char *name, uint64_t n)
{
	for (int i = 0; i < device_table_len; i++) {
		const struct metrics_section *m = device_table[i]->metrics;

		if (!m || strcmp(m->name, sec))
			continue;
		for (size_t f = 0; f < m->n; f++)
			if (!strcmp(m->fields[f].name, name)) {
				METRIC_ADD(*(metric_t *)((char *)m->base + m->fields[f].off), n);
				return;
			}
	}
	cr_assert_fail("no counter %s.%s in the device table", sec, name);
}

/* Every line of the file, parsed. */
static int read_lines(const char *p, json_t **out, int max)
{
	FILE *f = fopen(p, "r");
	char *line = NULL;
	size_t cap = 0;
	int n = 0;

	cr_assert_not_null(f);
	while (getline(&line, &cap, f) > 0) {
		cr_assert(n < max);
		cr_assert_eq(line[strlen(line) - 1], '\n', "whole lines only");
		out[n++] = parse_line(line);
	}
	free(line);
	fclose(f);
	return n;
}

Test(metrics, line_is_firecracker_shaped_json)
{
	static const char *const sections[] = {
		"api_server", "vmm",	 "vcpu", "block",	  "net",   "vsock",
		"balloon",    "entropy", "mmds", "uart",	  "i8042", "logger",
		"seccomp",    "signals", "pmem", "memory_hotplug"
	};
	json_t *lines[4];
	size_t i;

	cr_assert_eq(metrics_flush(), -ENOENT, "nowhere to write yet");
	cr_assert_eq(metrics_open(path), 0, "a missing file is created");
	device_add("block", "read_count", 3);
	device_add("net", "tx_bytes_count", 1500);
	METRICS_INC(vcpu.exit_io_out);
	METRICS_SET(signals.sigpipe, 1);
	cr_assert_eq(metrics_flush(), 0);
	cr_assert_eq(read_lines(path, lines, 4), 1);
	cr_assert(json_is_integer(json_object_get(lines[0], "utc_timestamp_ms")));
	cr_assert_gt(json_integer_value(json_object_get(lines[0], "utc_timestamp_ms")),
		     1600000000000LL);
	cr_assert_str_eq(json_object_iter_key(json_object_iter(lines[0])), "utc_timestamp_ms",
			 "the timestamp comes first");
	cr_assert_eq(get(lines[0], "block", "read_count"), 3);
	cr_assert_eq(get(lines[0], "net", "tx_bytes_count"), 1500);
	cr_assert_eq(get(lines[0], "vcpu", "exit_io_out"), 1);
	cr_assert_eq(get(lines[0], "signals", "sigpipe"), 1);
	for (i = 0; i < sizeof(sections) / sizeof(sections[0]); i++)
		cr_assert(json_is_object(json_object_get(lines[0], sections[i])), "%s",
			  sections[i]);
	json_decref(lines[0]);
	cr_assert_eq(metrics_open(path), -EEXIST, "once only");
}

/* A full disk (here the file size limit) cuts a line short: the piece is
 * taken back, so the next line starts on a line of its own. */
Test(metrics, a_line_cut_short_is_taken_back)
{
	struct rlimit lim;
	json_t *lines[4];
	struct stat st;

	cr_assert_eq(metrics_open(path), 0);
	cr_assert_eq(metrics_flush(), 0);
	cr_assert_eq(stat(path, &st), 0);
	signal(SIGXFSZ, SIG_IGN);
	cr_assert_eq(getrlimit(RLIMIT_FSIZE, &lim), 0);
	lim.rlim_cur = (rlim_t)st.st_size + 100;
	cr_assert_eq(setrlimit(RLIMIT_FSIZE, &lim), 0);
	cr_assert_eq(metrics_flush(), -EIO);
	lim.rlim_cur = lim.rlim_max;
	cr_assert_eq(setrlimit(RLIMIT_FSIZE, &lim), 0);
	cr_assert_eq(metrics_flush(), 0);
	cr_assert_eq(read_lines(path, lines, 4), 2, "whole lines, each on its own");
	json_decref(lines[0]);
	json_decref(lines[1]);
}

Test(metrics, deltas_reset_gauges_stay)
{
	json_t *lines[4];

	cr_assert_eq(metrics_open(path), 0);
	device_add("vsock", "rx_bytes_count", 10);
	METRICS_SET(api_server.process_startup_time_us, 777);
	METRICS_SET(seccomp.num_faults, 1);
	cr_assert_eq(metrics_flush(), 0);
	device_add("vsock", "rx_bytes_count", 5);
	cr_assert_eq(metrics_flush(), 0);
	cr_assert_eq(metrics_flush(), 0);
	cr_assert_eq(read_lines(path, lines, 4), 3);
	cr_assert_eq(get(lines[0], "vsock", "rx_bytes_count"), 10);
	cr_assert_eq(get(lines[1], "vsock", "rx_bytes_count"), 5, "only what came since");
	cr_assert_eq(get(lines[2], "vsock", "rx_bytes_count"), 0);
	cr_assert_eq(get(lines[2], "api_server", "process_startup_time_us"), 777);
	/* Firecracker's SharedStoreMetric, as its signals.*: a trap shows in the last line. */
	cr_assert_eq(get(lines[2], "seccomp", "num_faults"), 1);
	for (int i = 0; i < 3; i++)
		json_decref(lines[i]);
}

/* The line's leaves as "section.field" or "section.aggregate.field". */
static void flatten(json_t *j, const char *prefix, char (*out)[96], size_t *n, size_t max)
{
	const char *key;
	json_t *v;

	json_object_foreach(j, key, v)
	{
		char full[96];

		snprintf(full, sizeof(full), "%s%s%s", prefix, *prefix ? "." : "", key);
		if (json_is_object(v)) {
			flatten(v, full, out, n, max);
			continue;
		}
		cr_assert(json_is_integer(v), "%s is not a number", full);
		cr_assert_lt(*n, max, "too many fields");
		memcpy(out[(*n)++], full, sizeof(full));
	}
}

/* Exactly Firecracker's fields, none missing and none added: its own test
 * tools validate a line with "additionalProperties": false. The list is the
 * integration tests' copy of Firecracker's (tests/integration/data). */
Test(metrics, exactly_firecrackers_fields)
{
	static char have[400][96];
	char *line = metrics_render(), want[128];
	json_t *j = parse_line(line);
	size_t n = 0, nwant = 0, i;
	FILE *f = fopen(TEST_SOURCE_DIR "/tests/integration/data/fc_metrics_fields.txt", "r");

	cr_assert_not_null(f);
	cr_assert_eq(device_table_register_metrics(), 0, "a second call changes nothing");
	cr_assert(json_is_integer(json_object_get(j, "utc_timestamp_ms")));
	json_object_del(j, "utc_timestamp_ms");
	cr_assert_null(json_object_get(j, "id"), "no id unless asked for");
	cr_assert_null(json_object_get(j, "properties"), "no properties unless given");
	flatten(j, "", have, &n, sizeof(have) / sizeof(have[0]));
	while (fgets(want, sizeof(want), f)) {
		want[strcspn(want, "\n")] = 0;
		if (!want[0] || want[0] == '#')
			continue;
		for (i = 0; i < n && strcmp(have[i], want); i++)
			;
		cr_assert_lt(i, n, "Firecracker's %s is missing", want);
		nwant++;
	}
	fclose(f);
	cr_assert_eq(n, nwant, "%zu fields more than Firecracker's", n - nwant);
	json_decref(j);
	free(line);
}

/* Firecracker's optional top-level fields, once configured. */
Test(metrics, id_and_properties_when_configured)
{
	json_t *props = json_pack("{s:s, s:s}", "customer_id", "1234", "bundle", "fn-abc");
	json_t *j;
	char *line;

	cr_assert_eq(metrics_set_labels("vm-7", props), 0);
	json_decref(props); /* copied */
	line = metrics_render();
	j = parse_line(line);
	cr_assert_str_eq(json_string_value(json_object_get(j, "id")), "vm-7");
	cr_assert_str_eq(
		json_string_value(json_object_get(json_object_get(j, "properties"), "customer_id")),
		"1234");
	json_decref(j);
	free(line);
	cr_assert_eq(metrics_set_labels(NULL, NULL), 0);
	line = metrics_render();
	j = parse_line(line);
	cr_assert_null(json_object_get(j, "id"));
	cr_assert_null(json_object_get(j, "properties"));
	json_decref(j);
	free(line);
}

/* min and max are kept from the process's start (0: none yet), the sum is a
 * delta, as Firecracker's LatencyAggregateMetrics. */
Test(metrics, latency_aggregates)
{
	json_t *l1, *l2, *agg;
	char *line;

	metric_agg_add(&volt_metrics.vcpu.exit_io_out_agg, 7);
	metric_agg_add(&volt_metrics.vcpu.exit_io_out_agg, 3);
	metric_agg_add(&volt_metrics.vcpu.exit_io_out_agg, 12);
	line = metrics_render();
	l1 = parse_line(line);
	free(line);
	agg = json_object_get(json_object_get(l1, "vcpu"), "exit_io_out_agg");
	cr_assert_eq(get(json_object_get(l1, "vcpu"), "exit_io_out_agg", "min_us"), 3);
	cr_assert_eq(json_integer_value(json_object_get(agg, "max_us")), 12);
	cr_assert_eq(json_integer_value(json_object_get(agg, "sum_us")), 22);
	cr_assert_eq(get(json_object_get(l1, "vcpu"), "exit_io_in_agg", "min_us"), 0);
	metric_agg_add(&volt_metrics.vcpu.exit_io_out_agg, 5);
	line = metrics_render();
	l2 = parse_line(line);
	free(line);
	agg = json_object_get(json_object_get(l2, "vcpu"), "exit_io_out_agg");
	cr_assert_eq(json_integer_value(json_object_get(agg, "min_us")), 3, "kept");
	cr_assert_eq(json_integer_value(json_object_get(agg, "max_us")), 12, "kept");
	cr_assert_eq(json_integer_value(json_object_get(agg, "sum_us")), 5, "since the last line");
	json_decref(l1);
	json_decref(l2);
}

/* A kind's own section: defined where the kind is (a static struct of
 * counters), registered once, then in every line after the devices already
 * there and before the legacy devices; its deltas reset by a flush. */
struct dummy_metrics {
	metric_t ops_count;
	metric_t ops_bytes;
	metric_t level;
};

static struct dummy_metrics dummy_metrics;

static const struct metric_field dummy_fields[] = {
	METRIC_DELTA(struct dummy_metrics, ops_count),
	METRIC_DELTA(struct dummy_metrics, ops_bytes),
	METRIC_GAUGE(struct dummy_metrics, level),
};

static const struct metrics_section dummy_section = {
	.name = "dummy",
	.base = &dummy_metrics,
	.fields = dummy_fields,
	.n = sizeof(dummy_fields) / sizeof(dummy_fields[0]),
};

Test(metrics, registered_section_in_line_and_reset_by_flush)
{
	static const struct metrics_section block_again = { .name = "block" };
	static const struct metrics_section uart_again = { .name = "uart" };
	const char *prev = NULL, *key;
	json_t *lines[4], *v;

	cr_assert_eq(metrics_register(&dummy_section), 0);
	cr_assert_eq(metrics_register(&dummy_section), -EEXIST);
	cr_assert_eq(metrics_register(&block_again), -EEXIST, "a device's name");
	cr_assert_eq(metrics_register(&uart_again), -EEXIST, "the VMM's name");
	cr_assert_eq(metrics_open(path), 0);
	METRIC_ADD(dummy_metrics.ops_bytes, 4096);
	METRIC_INC(dummy_metrics.ops_count);
	METRIC_SET(dummy_metrics.level, 42);
	cr_assert_eq(metrics_flush(), 0);
	METRIC_INC(dummy_metrics.ops_count);
	cr_assert_eq(metrics_flush(), 0);
	cr_assert_eq(read_lines(path, lines, 4), 2);
	cr_assert_eq(get(lines[0], "dummy", "ops_count"), 1);
	cr_assert_eq(get(lines[0], "dummy", "ops_bytes"), 4096);
	cr_assert_eq(get(lines[0], "dummy", "level"), 42);
	cr_assert_eq(json_object_size(json_object_get(lines[0], "dummy")), 3);
	cr_assert_eq(get(lines[1], "dummy", "ops_count"), 1, "only what came since");
	cr_assert_eq(get(lines[1], "dummy", "ops_bytes"), 0);
	cr_assert_eq(get(lines[1], "dummy", "level"), 42, "a gauge stays");
	json_object_foreach(lines[0], key, v)
	{
		if (!strcmp(key, "dummy"))
			break;
		prev = key;
	}
	cr_assert_str_eq(prev, "mmds", "after the table's sections");
	cr_assert_str_eq(json_object_iter_key(json_object_iter_next(
				 lines[0], json_object_iter_at(lines[0], "dummy"))),
			 "uart", "before the legacy devices");
	json_decref(lines[0]);
	json_decref(lines[1]);
}

/* A device's own section (virtio_blk's "block_<drive_id>"): storage of its
 * own, in the lines while registered, gone from them once unregistered. */
Test(metrics, unregistered_section_leaves_the_line)
{
	struct dummy_metrics *m = calloc(1, sizeof(*m));
	struct metrics_section *s = calloc(1, sizeof(*s));
	char *line;
	json_t *j;

	cr_assert(m && s);
	*s = (struct metrics_section){ .name = strdup("block_d0"),
				       .base = m,
				       .fields = dummy_fields,
				       .n = sizeof(dummy_fields) / sizeof(dummy_fields[0]) };
	cr_assert_eq(metrics_unregister(s), -ENOENT, "never registered");
	cr_assert_eq(metrics_register(s), 0);
	cr_assert_eq(metrics_register(&dummy_section), 0, "another one after it");
	METRIC_ADD(m->ops_bytes, 512);
	METRIC_INC(dummy_metrics.ops_count);
	line = metrics_render();
	j = parse_line(line);
	free(line);
	cr_assert_eq(get(j, "block_d0", "ops_bytes"), 512);
	cr_assert_eq(get(j, "dummy", "ops_count"), 1);
	json_decref(j);

	cr_assert_eq(metrics_unregister(s), 0);
	cr_assert_eq(metrics_unregister(s), -ENOENT, "once only");
	free((char *)s->name);
	free(s);
	free(m);
	METRIC_INC(dummy_metrics.ops_count);
	line = metrics_render();
	j = parse_line(line);
	free(line);
	cr_assert_null(json_object_get(j, "block_d0"));
	cr_assert_eq(get(j, "dummy", "ops_count"), 1, "the others stay, in their place");
	cr_assert_str_eq(
		json_object_iter_key(json_object_iter_next(j, json_object_iter_at(j, "dummy"))),
		"uart");
	json_decref(j);
}

/* The limits hold the device table's sections and one of 64 counters for
 * each of a VM's devices (vmm/vm.h's VM_MAX_VIRTIO, more than any host
 * starts: 17), and may be reached again once some are unregistered. */
Test(metrics, room_for_a_section_per_device)
{
	static metric_t counters[64];
	static struct metric_field fields[64];
	static struct metrics_section secs[VM_MAX_VIRTIO + 1];
	static char names[VM_MAX_VIRTIO + 1][16];
	size_t i;

	for (i = 0; i < 64; i++)
		fields[i] = (struct metric_field){ "c", i * sizeof(metric_t), false };
	for (i = 0; i <= VM_MAX_VIRTIO; i++) {
		snprintf(names[i], sizeof(names[i]), "net_%zu", i);
		secs[i] = (struct metrics_section){ names[i], counters, fields, 64 };
	}
	for (i = 0; i < VM_MAX_VIRTIO; i++)
		cr_assert_eq(metrics_register(&secs[i]), 0, "device %zu", i);
	for (i = 0; i < VM_MAX_VIRTIO; i++)
		cr_assert_eq(metrics_unregister(&secs[i]), 0);
	for (i = 1; i <= VM_MAX_VIRTIO; i++)
		cr_assert_eq(metrics_register(&secs[i]), 0, "device %zu, again", i);
}

/* Past the limits a section is refused, not written over anything. */
Test(metrics, sections_past_the_limit_refused)
{
	static metric_t counters[1];
	static struct metric_field field = { "c", 0, false };
	static struct metrics_section secs[METRICS_MAX_SECTIONS + 1];
	static char names[METRICS_MAX_SECTIONS + 1][16];
	size_t i, ok = 0;
	int err = 0;

	for (i = 0; i <= METRICS_MAX_SECTIONS && !err; i++) {
		snprintf(names[i], sizeof(names[i]), "s_%zu", i);
		secs[i] = (struct metrics_section){ names[i], counters, &field, 1 };
		err = metrics_register(&secs[i]);
		ok += !err;
	}
	cr_assert_eq(err, -ENOSPC);
	cr_assert_lt(ok, METRICS_MAX_SECTIONS, "the kinds' sections count too");
	cr_assert_geq(ok, VM_MAX_VIRTIO);
}

Test(metrics, regular_file_is_appended)
{
	int fd = open(path, O_WRONLY | O_CREAT, 0600);
	json_t *lines[4];

	cr_assert_eq(write(fd, "{}\n", 3), 3);
	close(fd);
	cr_assert_eq(metrics_open(path), 0);
	cr_assert_eq(metrics_flush(), 0);
	cr_assert_eq(read_lines(path, lines, 4), 2, "what was there stays");
	json_decref(lines[0]);
	json_decref(lines[1]);
}

Test(metrics, not_a_file)
{
	cr_assert_lt(metrics_open(dir), 0);
	cr_assert_eq(metrics_open("/proc/self/nonexistent/m"), -ENOENT);
	cr_assert_eq(metrics_flush(), -ENOENT);
}

/* As Firecracker: a FIFO needs no reader when it is configured; the pipe keeps
 * lines for a reader that comes later. */
Test(metrics, fifo_without_reader_opens_and_keeps_lines)
{
	char buf[65536];
	json_t *j;
	ssize_t n;
	int rfd;

	cr_assert_eq(mkfifo(path, 0600), 0);
	cr_assert_eq(metrics_open(path), 0, "no ENXIO, no blocking");
	METRICS_INC(uart.write_count);
	cr_assert_eq(metrics_flush(), 0);
	rfd = open(path, O_RDONLY | O_NONBLOCK);
	cr_assert_geq(rfd, 0);
	n = read(rfd, buf, sizeof(buf) - 1);
	cr_assert_gt(n, 0);
	cr_assert_eq(buf[n - 1], '\n');
	buf[n] = '\0';
	j = parse_line(buf);
	cr_assert_eq(get(j, "uart", "write_count"), 1);
	json_decref(j);
	close(rfd);
}

Test(metrics, full_fifo_drops_whole_lines)
{
	char *buf = malloc(1 << 20), *p, *nl;
	int i, ok = 0, dropped = 0, rfd, lines = 0;
	ssize_t n, total = 0;
	json_t *j;

	cr_assert_eq(mkfifo(path, 0600), 0);
	cr_assert_eq(metrics_open(path), 0);
	/* 64 KiB of pipe holds a few dozen lines; the rest must not block. */
	for (i = 0; i < 200; i++) {
		int err = metrics_flush();

		cr_assert(err == 0 || err == -EAGAIN, "flush: %s", strerror(-err));
		ok += !err;
		dropped += err == -EAGAIN;
	}
	cr_assert_gt(ok, 0);
	cr_assert_gt(dropped, 0, "the pipe filled up");
	METRICS_ADD(uart.write_count, 7);
	cr_assert_eq(metrics_flush(), -EAGAIN);
	dropped++;
	rfd = open(path, O_RDONLY | O_NONBLOCK);
	cr_assert_geq(rfd, 0);
	while ((n = read(rfd, buf + total, (size_t)((1 << 20) - 1 - total))) > 0)
		total += n;
	buf[total] = '\0';
	cr_assert_gt(total, 0);
	cr_assert_eq(buf[total - 1], '\n', "no torn line at the end");
	for (p = buf; (nl = strchr(p, '\n')); p = nl + 1) {
		*nl = '\0';
		j = parse_line(p);
		json_decref(j);
		lines++;
	}
	cr_assert_eq(lines, ok, "every accepted line arrived whole");
	/* Room again: the next line has what the dropped ones lost. */
	cr_assert_eq(metrics_flush(), 0);
	n = read(rfd, buf, (1 << 20) - 1);
	cr_assert_gt(n, 0);
	buf[n] = '\0';
	j = parse_line(buf);
	cr_assert_eq(get(j, "logger", "missed_metrics_count"), dropped);
	cr_assert_eq(get(j, "uart", "write_count"), 7, "counted once, in the line written");
	json_decref(j);
	close(rfd);
	free(buf);
}
