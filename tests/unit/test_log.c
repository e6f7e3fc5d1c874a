/* The logger: volt's stderr format, Firecracker's file format (the checks of
 * its test_logging.py), levels, the per-thread last error, FIFOs that are
 * never waited for; the API's lines in Firecracker's words (api/api_log.h). */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "api/api_log.h"
#include "util/log.h"
#include "util/parse.h"

static char dir[] = "/tmp/volt-log-XXXXXX";
static char path[256];

static void setup(void)
{
	cr_assert_not_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/log", dir);
}

static void teardown(void)
{
	unlink(path);
	rmdir(dir);
}

TestSuite(log, .init = setup, .fini = teardown, .timeout = 30);

static char *slurp(const char *p)
{
	static char buf[1 << 16];
	int fd = open(p, O_RDONLY);
	ssize_t n;

	cr_assert_geq(fd, 0);
	n = read(fd, buf, sizeof(buf) - 1);
	cr_assert_geq(n, 0);
	buf[n] = '\0';
	close(fd);
	return buf;
}

static void assert_match(const char *text, const char *re)
{
	regex_t r;

	cr_assert_eq(regcomp(&r, re, REG_EXTENDED | REG_NEWLINE), 0);
	cr_assert_eq(regexec(&r, text, 0, NULL, 0), 0, "/%s/ not in:\n%s", re, text);
	regfree(&r);
}

/* Runs fn with stderr going to a file; returns what it wrote. */
static char *capture_stderr(void (*fn)(void))
{
	int saved = dup(2), fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);

	cr_assert_geq(fd, 0);
	dup2(fd, 2);
	close(fd);
	fn();
	dup2(saved, 2);
	close(saved);
	return slurp(path);
}

static void default_lines(void)
{
	pr_err("disk %s is gone", "a");
	pr_info("an info line");
	pr_debug("not shown at info");
	log_set_options(true, true);
	pr_warn("with origin");
	log_set_options(false, false);
	pr_warn("bare");
}

Test(log, stderr_keeps_volts_format)
{
	char *out = capture_stderr(default_lines);

	assert_match(out, "^volt: error: disk a is gone$");
	assert_match(out, "^volt: info: an info line$");
	cr_assert_null(strstr(out, "not shown"));
	assert_match(out, "^volt: warning: tests/unit/test_log.c:[0-9]+: with origin$");
	/* show_level is the file's option: the console always has the level. */
	assert_match(out, "^volt: warning: bare$");
}

static void file_only_lines(void)
{
	pr_file(LOG_INFO, "for the file alone");
}

Test(log, file_lines_never_reach_stderr)
{
	char *out = capture_stderr(file_only_lines);

	cr_assert_str_eq(out, "", "no log file: nothing at all");
	cr_assert_eq(log_open(path), 0);
	pr_file(LOG_INFO, "written");
	pr_file(LOG_ERROR, "an error line");
	pr_file(LOG_DEBUG, "above the level");
	out = slurp(path);
	assert_match(out, "\\[anonymous-instance:main\\] written$");
	assert_match(out, "\\] an error line$");
	cr_assert_null(strstr(out, "above the level"));
	cr_assert_str_eq(log_last_error(), "", "not the thread's last error");
}

Test(log, file_has_firecrackers_format)
{
	char *out;

	cr_assert_eq(log_open(path), 0, "created when missing");
	log_set_instance_id("vm-7");
	log_set_options(true, false);
	pr_warn("hello %d", 42);
	log_set_options(true, true);
	pr_err("with origin");
	log_set_options(false, false);
	pr_info("plain");
	out = slurp(path);
	assert_match(out, "^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\\.[0-9]{9} "
			  "\\[vm-7:main:WARN\\] hello 42$");
	assert_match(out, " \\[vm-7:main:ERROR:tests/unit/test_log.c:[0-9]+\\] with origin$");
	assert_match(out, " \\[vm-7:main\\] plain$");
}

/* A signal handler's line carries the tag every other line of the thread
 * does: the unnamed main thread is "main" there too. */
Test(log, signal_safe_line_has_the_threads_tag)
{
	cr_assert_eq(log_open(path), 0);
	log_set_options(true, false);
	log_error_signal_safe("from a handler");
	assert_match(slurp(path),
		     "^[0-9T:.-]+ \\[anonymous-instance:main:ERROR\\] from a handler$");
}

Test(log, file_defaults_show_neither_level_nor_origin)
{
	cr_assert_eq(log_open(path), 0);
	pr_warn("bare by default");
	assert_match(slurp(path), "^[0-9T:.-]+ \\[anonymous-instance:main\\] bare by default$");
}

static void *named_thread(void *arg)
{
	char name[16] = "";

	(void)arg;
	log_set_thread_name("fc_vcpu 12345678"); /* cut to 15 bytes, as the kernel's */
	pr_info("from a vCPU");
	/* The kernel's name too (what ps and seccomp's kill log show). */
	pthread_getname_np(pthread_self(), name, sizeof(name));
	return strdup(name);
}

Test(log, file_tag_names_the_thread)
{
	pthread_t t;
	void *kernel_name;

	cr_assert_eq(log_open(path), 0);
	log_set_options(true, true);
	pthread_create(&t, NULL, named_thread, NULL);
	pthread_join(t, &kernel_name);
	cr_assert_str_eq(kernel_name, "fc_vcpu 1234567");
	free(kernel_name);
	pr_info("from main");
	log_set_options(false, false);
	/* test_logging.py's check_log_message_format, with show_level and
	 * show_log_origin: "[ID:THREAD:LEVEL:dir/file:LINE]". */
	assert_match(slurp(path), "^[0-9T:.-]+ \\[anonymous-instance:fc_vcpu 1234567:INFO:"
				  "tests/unit/test_log.c:[0-9]+\\] from a vCPU$");
	assert_match(slurp(path),
		     "\\[anonymous-instance:main:INFO:[^:]+/[^:]+:[0-9]+\\] from main$");
}

Test(log, default_instance_id_and_append)
{
	int fd = open(path, O_WRONLY | O_CREAT, 0600);
	char *out;

	cr_assert_eq(write(fd, "old\n", 4), 4);
	close(fd);
	cr_assert_eq(log_open(path), 0);
	pr_err("new");
	out = slurp(path);
	cr_assert_eq(strncmp(out, "old\n", 4), 0, "appended");
	assert_match(out, "\\[anonymous-instance:main\\] new$");
}

Test(log, levels)
{
	enum log_level l;

	cr_assert_eq(log_level_parse("Warning", &l), 0);
	cr_assert_eq(l, LOG_WARN);
	cr_assert_eq(log_level_parse("warn", &l), 0);
	cr_assert_eq(l, LOG_WARN);
	cr_assert_eq(log_level_parse("Trace", &l), 0);
	cr_assert_eq(l, LOG_DEBUG);
	cr_assert_eq(log_level_parse("Off", &l), 0);
	cr_assert_eq(l, LOG_OFF);
	cr_assert_eq(log_level_parse("ERROR", &l), 0);
	cr_assert_eq(l, LOG_ERROR);
	cr_assert_eq(log_level_parse("loud", &l), -EINVAL);

	cr_assert_eq(log_open(path), 0);
	log_set_level(LOG_OFF);
	log_clear_last_error();
	pr_err("silenced");
	cr_assert_str_eq(slurp(path), "", "off writes nothing");
	cr_assert_str_eq(log_last_error(), "silenced", "but the reason is kept");
	log_set_level(LOG_ERROR);
	pr_warn("below error");
	cr_assert_str_eq(slurp(path), "");
}

static void *other_thread(void *arg)
{
	(void)arg;
	cr_assert_str_eq(log_last_error(), "", "a new thread has none");
	pr_err("thread b failed");
	return strdup(log_last_error());
}

Test(log, last_error_is_per_thread)
{
	pthread_t t;
	void *b;

	log_set_level(LOG_OFF);
	cr_assert_str_eq(log_last_error(), "");
	pr_err("cannot open %s", "x");
	pr_warn("a warning is not an error");
	cr_assert_str_eq(log_last_error(), "cannot open x");
	pthread_create(&t, NULL, other_thread, NULL);
	pthread_join(t, &b);
	cr_assert_str_eq(b, "thread b failed");
	free(b);
	cr_assert_str_eq(log_last_error(), "cannot open x");
	log_clear_last_error();
	cr_assert_str_eq(log_last_error(), "");
}

Test(log, full_fifo_drops_lines)
{
	static char buf[1 << 17];
	char *p, *nl;
	int i, rfd, lines = 0;
	ssize_t n, total = 0;
	uint64_t missed;

	cr_assert_eq(mkfifo(path, 0600), 0);
	cr_assert_eq(log_open(path), 0, "no reader needed");
	for (i = 0; i < 2000; i++)
		pr_info("line %d %0200d", i, 0);
	missed = log_take_missed();
	cr_assert_gt(missed, 0, "the pipe filled up and lines were dropped");
	cr_assert_eq(log_take_missed(), 0, "taken");
	rfd = open(path, O_RDONLY | O_NONBLOCK);
	cr_assert_geq(rfd, 0);
	while ((n = read(rfd, buf + total, sizeof(buf) - 1 - (size_t)total)) > 0)
		total += n;
	buf[total] = '\0';
	for (p = buf; (nl = strchr(p, '\n')); p = nl + 1) {
		*nl = '\0';
		assert_match(p, "^[0-9T:.-]+ \\[anonymous-instance:main\\] line [0-9]+ 0+$");
		lines++;
	}
	cr_assert_eq(*p, '\0', "no torn line");
	cr_assert_eq((uint64_t)lines + missed, 2000);
	close(rfd);
}

/* A full disk (here: RLIMIT_FSIZE) cuts a line short: it stays cut, and the
 * first line written once there is room again starts on a line of its own,
 * never glued to it. No fork: Criterion runs each test in a process of its
 * own, and a child of a threaded process may deadlock in the logger. */
Test(log, a_line_cut_short_is_ended_by_the_next)
{
	struct rlimit was, small;
	char *text, *second;

	cr_assert_eq(getrlimit(RLIMIT_FSIZE, &was), 0);
	small = (struct rlimit){ 150, was.rlim_max };
	signal(SIGXFSZ, SIG_IGN);
	cr_assert_eq(log_open(path), 0);
	log_take_missed();
	cr_assert_eq(setrlimit(RLIMIT_FSIZE, &small), 0);
	pr_info("first line %050d", 1);	  /* whole: under 150 bytes */
	pr_info("second line %0100d", 2); /* cut at 150 */
	pr_info("third line, lost");	  /* no room at all */
	cr_assert_eq(setrlimit(RLIMIT_FSIZE, &was), 0);
	pr_info("fourth line");
	signal(SIGXFSZ, SIG_DFL);
	cr_assert_eq(log_take_missed(), 2);
	text = slurp(path);
	second = strchr(text, '\n') + 1;
	cr_assert(second[0] == text[0] && second[4] == '-', "the second line begins:\n%s", text);
	cr_assert_not(strstr(text, "third line"), "%s", text);
	cr_assert_eq(text + 150, strchr(second, '\n'), "the cut line ends at the limit:\n%s", text);
	assert_match(text + 151, "^[0-9T:.-]+ \\[anonymous-instance:main\\] fourth line$");
}

static void hostile_lines(void)
{
	log_set_options(false, false);
	pr_err("drive 'a\nvolt: error: forged\x1b[2J' is bad");
	pr_warn("bare warning");
	log_set_options(true, false);
}

Test(log, errors_keep_their_level_and_controls_are_escaped)
{
	char *out = capture_stderr(hostile_lines);

	assert_match(out, "^volt: error: drive 'a\\\\nvolt: error: forged\\\\x1b\\[2J' is bad$");
	assert_match(out, "^volt: warning: bare warning$");
	cr_assert_null(strstr(out, "\nvolt: error: forged"), "no forged line: %s", out);
	cr_assert_null(strchr(out, '\x1b'), "no raw escape byte");
	cr_assert_str_eq(log_last_error(), "drive 'a\\nvolt: error: forged\\x1b[2J' is bad");
}

/* The escaping every log line and API error goes through (util/parse.c). */
Test(escape_controls, every_control_byte_and_del)
{
	char out[64];

	escape_controls("a\tb\rc\nd\x01"
			"e\x1f\x7f~ f",
			out, sizeof(out), false);
	cr_assert_str_eq(out, "a\\tb\\rc\\nd\\x01e\\x1f\\x7f~ f");
	escape_controls("", out, sizeof(out), false);
	cr_assert_str_eq(out, "");
}

/* utf8_only: valid UTF-8 kept (Firecracker's messages show it), the bytes
 * of no valid sequence escaped, a sequence never cut at the end. */
Test(escape_controls, invalid_utf8_only_when_asked)
{
	char out[64], small[10];

	escape_controls("caf\xc3\xa9", out, sizeof(out), false);
	cr_assert_str_eq(out, "caf\xc3\xa9");
	escape_controls("caf\xc3\xa9 \xf0\x9f\x98\x80", out, sizeof(out), true);
	cr_assert_str_eq(out, "caf\xc3\xa9 \xf0\x9f\x98\x80");
	escape_controls("a\xff\xc3(\xed\xa0\x80\xc0\xaf\xc3", out, sizeof(out), true);
	cr_assert_str_eq(out, "a\\xff\\xc3(\\xed\\xa0\\x80\\xc0\\xaf\\xc3");
	escape_controls("ab\xf0\x9f\x98\x80", small, sizeof(small), true);
	cr_assert_str_eq(small, "ab", "a sequence that does not fit is left out whole");
}

Test(escape_controls, cut_to_fit_never_past_the_buffer)
{
	char buf[16];
	size_t size;

	/* Whatever the room, the output ends inside it, NUL-terminated, with no
	 * escape cut in half, and the byte after it is untouched. */
	for (size = 1; size < sizeof(buf); size++) {
		memset(buf, '#', sizeof(buf));
		escape_controls("abcde\x01\x02"
				"fg",
				buf, size, false);
		cr_assert_eq(buf[size], '#', "size %zu: wrote past the buffer", size);
		cr_assert_lt(strlen(buf), size, "size %zu", size);
		cr_assert_eq(strncmp(buf, "abcde\\x01\\x02fg", strlen(buf)), 0, "size %zu: '%s'",
			     size, buf);
		cr_assert(strlen(buf) <= 5 || strlen(buf) == 9 || strlen(buf) >= 13,
			  "size %zu: an escape cut in half: '%s'", size, buf);
	}
	memset(buf, '#', sizeof(buf));
	escape_controls("abc", buf, 0, false);
	cr_assert_eq(buf[0], '#', "size 0: nothing written");
}

/* ---- the API's lines (api/api_log.h) ------------------------------------ */

TestSuite(api_log, .init = setup, .fini = teardown, .timeout = 30);

static char *describe(const char *method, const char *url, const char *body, bool debug)
{
	static char buf[1024];

	api_log_describe(buf, sizeof(buf), method, url, body, body ? strlen(body) : 0, debug);
	return buf;
}

Test(api_log, firecrackers_descriptions)
{
	cr_assert_str_eq(describe("GET", "/machine-config", NULL, false),
			 "Get request on \"/machine-config\"");
	cr_assert_str_eq(
		describe("PATCH", "/machine-config", "{\"vcpu_count\": 4}", false),
		"Patch request on \"/machine-config\" with body \"{\\\"vcpu_count\\\": 4}\"");
	cr_assert_str_eq(describe("PUT", "/actions", "", false), "Put request on \"/actions\"",
			 "no body");
	/* MMDS data is the guest's: never shown; its configuration is. */
	cr_assert_str_eq(describe("PUT", "/mmds", "{\"secret\": 1}", true),
			 "Put request on \"/mmds\"");
	cr_assert_str_eq(describe("PATCH", "//mmds/", "{\"secret\": 1}", true),
			 "Patch request on \"//mmds/\"", "whatever path the router takes as /mmds");
	cr_assert_str_eq(describe("PUT", "/mmds/x", "{\"secret\": 1}", true),
			 "Put request on \"/mmds/x\"");
	/* The router takes a PATCH of /mmds/config as one of the data. */
	cr_assert_str_eq(describe("PATCH", "/mmds/config", "{\"secret\": 1}", true),
			 "Patch request on \"/mmds/config\"");
	cr_assert_str_eq(describe("PUT", "/mmdsx", "{}", true),
			 "Put request on \"/mmdsx\" with body \"{}\"");
	cr_assert_str_eq(
		describe("PUT", "/mmds/config", "{\"version\": \"V2\"}", false),
		"Put request on \"/mmds/config\" with body \"{\\\"version\\\": \\\"V2\\\"}\"");
	cr_assert_str_eq(describe("PUT", "/cpu-config", "{}", false),
			 "Put request on \"/cpu-config\". To view the CPU template received by "
			 "the API, configure log-level to DEBUG");
	cr_assert_str_eq(describe("PUT", "/cpu-config", "{}", true),
			 "Put request on \"/cpu-config\" with body \"{}\"");
}

Test(api_log, bodies_escaped_as_rust_debug_does)
{
	cr_assert_str_eq(describe("PUT", "/x", "a\"b\\c\nd\te\x01\x7f\xc2\x85\xc3\xa9'", false),
			 "Put request on \"/x\" with body "
			 "\"a\\\"b\\\\c\\nd\\te\\u{1}\\u{7f}\\u{85}\xc3\xa9'\"");
	cr_assert_str_eq(describe("PUT", "/x", "ok\xff", false),
			 "Put request on \"/x\" with body \"inconvertible to UTF-8\"");
	cr_assert_str_eq(describe("PUT", "/x", "\xed\xa0\x80", false),
			 "Put request on \"/x\" with body \"inconvertible to UTF-8\"",
			 "a surrogate");
	cr_assert_str_eq(describe("PUT", "/x\xc0\xaf", NULL, false),
			 "Put request on \"inconvertible to UTF-8\"");
}

Test(api_log, long_bodies_show_a_bounded_prefix)
{
	static char body[51201];
	char *d;

	memset(body, 'x', 51200);
	d = describe("PUT", "/drives/root", body, false);
	assert_match(d, "^Put request on \"/drives/root\" with body \"x{512}\"\\.\\.\\. "
			"\\(51200 bytes\\)$");
	/* Escapes count: a body of control bytes shows fewer of them. */
	memset(body, '\x01', 51200);
	d = describe("PUT", "/drives/root", body, false);
	cr_assert_lt(strlen(d), 600);
	assert_match(d, "(\\\\u\\{1\\}){85}\"\\.\\.\\. \\(51200 bytes\\)$");
	/* A multibyte character is never cut in half. */
	memset(body, 0, sizeof(body));
	memset(body, 'x', 511);
	memcpy(body + 511, "\xc3\xa9yz", 4);
	d = describe("PUT", "/x", body, false);
	assert_match(d, "x{511}\"\\.\\.\\. \\(515 bytes\\)$");
	for (size_t size = 0; size < 40; size++) {
		char small[40];

		memset(small, '#', sizeof(small));
		api_log_describe(small, size, "PUT", "/machine-config", "{\"a\": 1}", 8, false);
		if (size)
			cr_assert_lt(strlen(small), size);
		if (size < sizeof(small))
			cr_assert_eq(small[size], '#', "size %zu: wrote past the buffer", size);
	}
}

/* The socket path of "Listening on API socket (...)": Firecracker logs the
 * PathBuf with {:?}. */
Test(api_log, socket_path_quoted_as_rusts_debug)
{
	char buf[64], small[8];

	api_log_quote_path(buf, sizeof(buf), "/run/fc.sock");
	cr_assert_str_eq(buf, "\"/run/fc.sock\"");
	api_log_quote_path(buf, sizeof(buf), "a\nb\\c\"d\te\x1b\xff\xc3\xa9");
	cr_assert_str_eq(buf, "\"a\\nb\\\\c\\\"d\\te\\u{1b}\\xFF\xc3\xa9\"");
	memset(small, '#', sizeof(small));
	api_log_quote_path(small, 6, "/run/fc.sock");
	cr_assert_str_eq(small, "\"/run");
	cr_assert_eq(small[6], '#');
}

/* What Firecracker's tests parse: test_logging.py's messages, microvm.py's
 * regular expressions for the API's timing. */
Test(api_log, lines_firecrackers_tests_parse)
{
	struct api_response r = { 0 };
	char *out;

	cr_assert_eq(log_open(path), 0);
	log_set_level(LOG_DEBUG);
	api_log_request("PUT", "/boot-source", "{\"kernel_image_path\": \"inexistent_path\"}", 40);
	api_fault(&r, 400,
		  "Boot source error: The kernel file cannot be opened: No such file or directory "
		  "(os error 2)");
	api_log_error(&r);
	free(r.body);
	api_log_duration(1234);
	api_log_request("GET", "/mmds", NULL, 0);
	r = (struct api_response){ .status = 200, .body = strdup("{\"fault_message\": \"no\"}") };
	api_log_error(&r);
	free(r.body);
	api_log_duration(5);
	log_set_level(LOG_INFO);
	api_log_duration(6);
	out = slurp(path);
	assert_match(out, "\\] The API server received a [A-Za-z]+ request on "
			  "\"(/[A-Za-z0-9_-]*)+\"( with body .*)?\\.$");
	assert_match(out,
		     "\\] The API server received a Put request on \"/boot-source\" with body "
		     "\"\\{\\\\\"kernel_image_path\\\\\": \\\\\"inexistent_path\\\\\"\\}\"\\.$");
	assert_match(out,
		     "\\] Received Error\\. Status code: 400 Bad Request\\. Message: Boot source "
		     "error: The kernel file cannot be opened: No such file or directory "
		     "\\(os error 2\\)$");
	assert_match(out, "\\] Total previous API call duration: 1234 us\\.$");
	assert_match(out, "\\] The API server received a Get request on \"/mmds\"\\.$");
	cr_assert_null(strstr(out, "Message: no"), "a 200 is no error");
	cr_assert_null(strstr(out, "duration: 6 us"), "durations are debug lines");
}
