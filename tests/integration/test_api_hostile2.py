"""A second hostile-client campaign against the API socket (beyond test_api_hostile.py):
framing edge cases sent raw (pipelining, every split point, odd Content-Length and
chunked forms, huge and many headers, odd methods and targets), hostile JSON bodies
(deep nesting, huge numbers, NULs, bad UTF-8, non-objects), connection abuse
(connect/close loops, a client that never reads, one that closes mid-answer), and
concurrent clients while the echo guest is paused, resumed and snapshotted, also when
the VM was started from a config file.

Every answer must be one well-formed HTTP/1.1 answer per request (exact
Content-Length, no extra bytes), bad input must get a 4xx (400 from the HTTP layer, as
Firecracker's micro_http answers), and volt must stay alive under seccomp kill mode, keep its fd count
and keep answering other clients.
"""
import contextlib
import json
import os
import random
import socket
import subprocess
import threading
import time

import pytest

from api_client import ApiClient, read_answer, wait_for_socket
from conftest import GUESTS, VoltProcess, audit_lines

EXTRA = os.environ.get("VOLT_API_TEST_ARGS", "").split()


def connect(path, timeout=10):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(timeout)
    s.connect(str(path))
    return s


def read_all(s):
    return read_answer(s, until_timeout=True)


def exchange(path, data, timeout=10, shut=True):
    return ApiClient(path).raw(data, shut=shut, sock=connect(path, timeout), until_timeout=True)


def split_answers(data):
    """[(status, headers dict, body)] of a byte stream of answers; asserts that it is
    made of whole answers only (exact Content-Length, nothing left over) and each body
    JSON (micro_http's error body has a raw line break in its string: strict=False)."""
    out = []
    while data:
        head, sep, rest = data.partition(b"\r\n\r\n")
        assert sep, f"a partial answer head: {data[:300]!r}"
        lines = head.split(b"\r\n")
        assert lines[0].startswith(b"HTTP/1.1 "), data[:300]
        status = int(lines[0].split(b" ", 2)[1])
        hdrs = {}
        for line in lines[1:]:
            k, colon, v = line.partition(b":")
            assert colon, line
            assert k.lower() not in hdrs, f"duplicate header {k!r}"
            hdrs[k.lower().decode()] = v.strip().decode()
        n = int(hdrs.get("content-length", "0"))
        assert len(rest) >= n, f"body shorter than its Content-Length: {data[:300]!r}"
        body = rest[:n]
        if n:
            json.loads(body, strict=False)
        out.append((status, hdrs, body))
        data = rest[n:]
    return out


def one_answer(data):
    answers = split_answers(data)
    assert len(answers) == 1, answers
    return answers[0]


def req(method, url, body=b"", extra=b"", version=b"HTTP/1.1"):
    head = b"%s %s %s\r\n" % (method, url, version)
    if body:
        head += b"Content-Length: %d\r\n" % len(body)
    return head + extra + b"\r\n" + body


def fd_count(pid):
    return len(os.listdir(f"/proc/{pid}/fd"))


class Volt:
    """volt --api-sock in seccomp kill mode, optionally with a config file."""

    def __init__(self, tmp, *args):
        self.sock = tmp / "api.sock"
        self.p = VoltProcess(["--api-sock", self.sock, "--seccomp=kill", *EXTRA, *args],
                             tmp / "volt.log", stdin=subprocess.PIPE)
        try:
            wait_for_socket(self.sock, self.p.proc)
        except BaseException:
            self.p.kill()
            raise
        self.api = ApiClient(self.sock, timeout=20)

    def alive(self):
        assert self.p.proc.poll() is None, (
            f"volt exited ({self.p.proc.returncode}):\n" +
            "\n".join(audit_lines(self.p.proc.pid)) + "\n" + self.p.output()[-3000:])
        out = self.p.output()
        for bad in ("ERROR: AddressSanitizer", "runtime error:", "LeakSanitizer"):
            assert bad not in out, out[-4000:]

    def finish(self):
        try:
            self.alive()
            self.p.proc.terminate()
            rc = self.p.wait_exit(30)
            out = self.p.output()
            assert rc >= 0 or rc == -15, (rc, audit_lines(self.p.proc.pid), out[-3000:])
            for bad in ("ERROR: AddressSanitizer", "runtime error:", "LeakSanitizer"):
                assert bad not in out, out[-4000:]
            assert not [l for l in audit_lines(self.p.proc.pid) if " sig=31 " in l]
        finally:
            self.p.kill()


@pytest.fixture(scope="module")
def idle(tmp_path_factory, volt_bin):
    """A volt waiting for configuration (no VM: it runs without KVM too)."""
    v = Volt(tmp_path_factory.mktemp("hostile2"))
    yield v
    v.finish()


MC = b'{"vcpu_count": 1, "mem_size_mib": 128}'


def test_pipelined_in_one_write(idle):
    data = (req(b"GET", b"/") + req(b"PUT", b"/machine-config", MC) +
            req(b"GET", b"/machine-config") + req(b"PATCH", b"/machine-config", MC) +
            req(b"GET", b"/nope") + req(b"PUT", b"/machine-config", b"{") +
            req(b"HEAD", b"/") + req(b"DELETE", b"/drives/x") +
            req(b"GET", b"/", extra=b"Connection: close\r\n") + req(b"GET", b"/"))
    answers = split_answers(exchange(idle.sock, data))
    assert [a[0] for a in answers] == [200, 204, 200, 204, 400, 400, 400, 400, 200], answers
    assert answers[-1][1].get("connection") == "close"
    # 300 requests in one write, the last closing: 300 answers.
    data = req(b"GET", b"/machine-config") * 299 + req(b"GET", b"/", extra=b"Connection: close\r\n")
    answers = split_answers(exchange(idle.sock, data, timeout=20))
    assert len(answers) == 300 and all(a[0] == 200 for a in answers)
    idle.alive()


def test_split_at_every_byte(idle):
    data = (b"PUT /machine-config HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n%s" %
            (len(MC), MC))
    chunked = (b"PATCH /machine-config HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
               b"5;ext=1\r\n{\"vcp\r\n12\r\nu_count\": 1, \"mem_\r\n"
               b"F\r\nsize_mib\": 128}\r\n0\r\nX-T: 1\r\n\r\n")
    for msg in (data, chunked):
        for i in range(1, len(msg)):
            s = connect(idle.sock)
            try:
                s.sendall(msg[:i])
                time.sleep(0.001)
                s.sendall(msg[i:] + req(b"GET", b"/", extra=b"Connection: close\r\n"))
                answers = split_answers(read_all(s))
            finally:
                s.close()
            assert [a[0] for a in answers] == [204, 200], (i, msg[:i], answers)
    idle.alive()


def test_content_length_forms(idle):
    body = MC
    for cl, ok in ((b"0038", True), (b" 38 ", True), (b"38\r\nContent-Length: 38", True),
                   (b"+38", False), (b"-1", False), (b"38,38", False), (b"3 8", False),
                   (b"0x26", False), (b"", False), (b"18446744073709551616", False),
                   (b"99999999999999999999999999", False), (b"9223372036854775808", False),
                   (b"38\r\nContent-Length: 39", False), (b"\xff38", False)):
        data = (b"PUT /machine-config HTTP/1.1\r\nContent-Length: " + cl + b"\r\n\r\n" +
                body)
        status, hdrs, _ = split_answers(exchange(idle.sock, data))[0]
        if ok:
            assert status == 204, (cl, status)
        else:
            assert 400 <= status < 500, (cl, status)
            assert hdrs.get("connection") == "close"
    idle.alive()


def test_chunked_forms(idle):
    te = b"PATCH /machine-config HTTP/1.1\r\nTransfer-Encoding: chunked\r\n"
    for tail, want in (
            (b"\r\n26 ; a=b ; c=\"d\"\r\n" + MC + b"\r\n0\r\n\r\n", 204),
            (b"\r\n26\r\n" + MC + b"\r\n0\r\nA: b\r\nC: d\r\n\r\n", 204),
            (b"\r\n0026\r\n" + MC + b"\r\n0\r\n\r\n", 204),
            (b"\r\nzz\r\n", 400), (b"\r\n-1\r\n", 400), (b"\r\n\r\n", 400),
            (b"\r\n10000000000000000\r\n", 400), (b"\r\n26\r\n" + MC + b"XX\r\n", 400),
            (b"\r\n26\x00\r\n", 400), (b"\r\n" + b"1;" + b"a" * 200 + b"\r\n", 400),
            (b"Content-Length: 5\r\n\r\n5\r\nhello\r\n0\r\n\r\n", 400),
            (b"Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400),
            (b"\r\n0\r\n" + b"X: " + b"y" * 9000 + b"\r\n\r\n", 400)):
        ans = split_answers(exchange(idle.sock, te + tail))
        assert ans, tail[:60]
        status = ans[0][0]
        assert status == want, (tail[:50], status)
    for coding in (b"gzip, chunked", b"chunked, gzip", b"identity", b"Chunked"):
        data = (b"PUT /machine-config HTTP/1.1\r\nTransfer-Encoding: " + coding +
                b"\r\n\r\n0\r\n\r\n")
        status, _, _ = split_answers(exchange(idle.sock, data))[0]
        assert 200 <= status < 500, (coding, status)
    # A huge chunk announced, little sent, then the client leaves.
    s = connect(idle.sock)
    s.sendall(te + b"\r\nffffffffffffffff\r\n" + b"x" * 100000)
    s.close()
    # A body of only an empty chunk: the router's "Empty PATCH request.".
    status, _, _ = split_answers(exchange(idle.sock, te + b"\r\n0\r\n\r\n"))[0]
    assert status == 400
    idle.alive()


def test_expect_and_versions(idle):
    a = split_answers(exchange(idle.sock, req(b"PUT", b"/machine-config", MC,
                                              extra=b"Expect: 100-continue\r\n")))
    assert [x[0] for x in a] == [100, 204]
    a = split_answers(exchange(idle.sock, req(b"GET", b"/", extra=b"Expect: 100-continue\r\n")))
    assert [x[0] for x in a] == [200], a
    a = split_answers(exchange(idle.sock, req(b"PUT", b"/machine-config", MC,
                                              extra=b"Expect: 100-continue\r\n",
                                              version=b"HTTP/1.0")))
    assert [x[0] for x in a] == [204]
    a = split_answers(exchange(idle.sock, req(b"GET", b"/", extra=b"Connection: keep-alive\r\n",
                                              version=b"HTTP/1.0") * 3))
    assert [x[0] for x in a] == [200, 200, 200]
    assert a[0][1]["connection"] == "keep-alive"
    for v in (b"HTTP/1.9", b"HTTP/0.9", b"HTTP/3.0", b"http/1.1", b"HTTP/1.1 ", b"HTTP/11",
              b"HTTP/1.1\x00"):
        status, _, _ = one_answer(exchange(idle.sock, b"GET / " + v + b"\r\n\r\n"))
        assert status in (200, 400), (v, status)
    idle.alive()


def test_headers(idle):
    for size in (8000, 8200, 16384, 100 * 1024):
        data = b"GET / HTTP/1.1\r\nX-Big: " + b"a" * size + b"\r\n\r\n"
        status, _, _ = one_answer(exchange(idle.sock, data))
        assert status in (200, 400), (size, status)
    many = b"".join(b"X-%d: v\r\n" % i for i in range(5000))
    status, _, _ = one_answer(exchange(idle.sock, b"GET / HTTP/1.1\r\n" + many + b"\r\n"))
    assert status == 400
    for line in (b"X: a\x00b", b"X: a\rb", b" folded", b"\tfolded", b"X : a", b"X", b": a",
                 b"X\x00: a", b"X: \x7f", b"X: \xff\xfe", b"X-\x80: a"):
        data = b"GET / HTTP/1.1\r\nA: b\r\n" + line + b"\r\n\r\n"
        status, _, _ = one_answer(exchange(idle.sock, data))
        assert status in (200, 400), (line, status)
    # A bare CR ending a line, a bare LF, no Host at all.
    status, _, _ = one_answer(exchange(idle.sock, b"GET / HTTP/1.1\rA: b\r\n\r\n"))
    assert status == 400
    status, _, _ = one_answer(exchange(idle.sock, b"GET / HTTP/1.1\nA: b\n\n"))
    assert status == 200
    idle.alive()


def test_methods_and_targets(idle):
    for m in (b"get", b"Get", b"HEAD", b"OPTIONS", b"POST", b"TRACE", b"CONNECT", b"PROPFIND",
              b"M" * 5000, b"G\x80T", b"PUT\x00"):
        status, _, _ = one_answer(exchange(idle.sock, req(m, b"/machine-config", MC)))
        assert status == 400, (m[:20], status)
    for t in (b"*", b"http://localhost/machine-config", b"machine-config", b"//machine-config",
              b"/drives/%2e%2e", b"/drives/../machine-config", b"/./machine-config",
              b"/machine-config?x=1&y", b"/machine-config#frag", b"/%00", b"/%zz", b"/%",
              b"/%2", b"/drives/" + b"d" * 300, b"/drives/%C3%A9", b"/drives/%ff%fe",
              b"/drives/a%2fb", b"/" + b"/" * 4000, b"/drives/a/b/c/d/e", b"/mmds/../../etc"):
        for m, body in ((b"GET", b""), (b"PUT", MC), (b"PATCH", MC), (b"DELETE", b"")):
            status, _, _ = one_answer(exchange(idle.sock, req(m, t, body)))
            assert status in (200, 204, 400, 404, 405), (m, t[:40], status)
    # The path as written (micro_http's): no query, no %-decoding.
    for t in (b"/machine-config?x=1&y", b"/machine%2Dconfig", b"/machine-config#frag"):
        status, _, body = one_answer(exchange(idle.sock, req(b"GET", t)))
        assert status == 400 and b"Invalid request method and/or path" in body, (t, status)
    # The absolute form, read as Firecracker's micro_http reads it.
    status, _, body = one_answer(exchange(idle.sock, req(b"GET",
                                                         b"http://localhost/machine-config")))
    assert status == 200 and "mem_size_mib" in json.loads(body), (status, body)
    status, _, body = one_answer(exchange(idle.sock, req(b"GET", b"http://localhost")))
    assert status == 200 and "vmm_version" in json.loads(body), (status, body)
    status, _, _ = one_answer(exchange(idle.sock, req(b"PUT", b"http://x:1/machine-config",
                                                      MC)))
    assert status == 204
    # No '/' first: the empty path (micro_http's), so never the resource it names.
    for t in (b"machine-config", b"*", b"machine-config/"):
        status, _, _ = one_answer(exchange(idle.sock, req(b"PUT", t, MC)))
        assert status == 400, (t, status)
        status, _, body = one_answer(exchange(idle.sock, req(b"GET", t)))
        assert status == 200 and "vmm_version" in json.loads(body), (t, status, body)
    # A drive with a weird id is refused or kept; either way GET /vm/config still works.
    for drive_id in ("é", "a" * 300, "../x", "a\u0000b", "", " ", "a/b", "\ud800"):
        body = json.dumps({"drive_id": drive_id, "path_on_host": "/dev/null",
                           "is_root_device": False, "is_read_only": True}).encode()
        url = b"/drives/" + (drive_id.encode("utf-8", "surrogatepass")
                             .replace(b"%", b"%25").replace(b"\x00", b"%00")
                             .replace(b"/", b"%2F").replace(b" ", b"%20") or b"x")
        url = bytes(c if c < 0x80 else 0x41 for c in url)
        status, _, _ = one_answer(exchange(idle.sock, req(b"PUT", url, body)))
        assert status in (204, 400), (drive_id[:20], status)
    status, _, body = one_answer(exchange(idle.sock, req(b"GET", b"/vm/config")))
    assert status == 200
    idle.alive()


def test_hostile_json(idle):
    bodies = [b"[" * 100000 + b"]" * 100000, b"{\"a\":" * 50000 + b"1" + b"}" * 50000,
              b'{"vcpu_count": 1e999}', b'{"vcpu_count": -0}', b'{"vcpu_count": -0.0}',
              b'{"vcpu_count": 18446744073709551616}', b'{"vcpu_count": 18446744073709551615}',
              b'{"vcpu_count": 9223372036854775808}', b'{"vcpu_count": -9223372036854775809}',
              b'{"vcpu_count": 1, "vcpu_count": 2}', b'{"cpu_template": "\xff\xfe"}',
              b'{"cpu_template": "\\ud800"}', b'{"cpu_template": "\\udc00\\ud800"}',
              b'{"cpu_template": "a\\u0000b"}', b'{"a\\u0000": 1}', b"[]", b'"x"', b"null",
              b"1", b"true", b"{}", b"{} {}", b"{}x", b"\xef\xbb\xbf{}", b"\x00",
              b"{" + b",".join(b'"k%d": %d' % (i, i) for i in range(20000)) + b"}",
              b'{"vcpu_count": 1, "mem_size_mib": 1e3}', b'{"vcpu_count": "1"}',
              b'{"vcpu_count": 1.5}', b'{"vcpu_count": 1.0}', b'{"smt": "true"}',
              b'{"mem_size_mib": 0}', b'{"mem_size_mib": 4294967297}', b"  "]
    for url in (b"/machine-config", b"/boot-source", b"/drives/d", b"/network-interfaces/n",
                b"/actions", b"/logger", b"/metrics", b"/mmds/config", b"/balloon", b"/vsock",
                b"/entropy", b"/cpu-config", b"/snapshot/create", b"/vm", b"/serial"):
        for b in bodies:
            for m in (b"PUT", b"PATCH"):
                status, _, _ = one_answer(exchange(idle.sock, req(m, url, b)))
                assert status in (204, 400), (m, url, b[:40], status)
    idle.alive()
    assert idle.api.put("/machine-config", {"vcpu_count": 1, "mem_size_mib": 128})[0] == 204


def test_mmds_hostile(idle):
    deep = "[" * 100000 + "]" * 100000
    for m in (b"PUT", b"PATCH"):
        status, _, _ = one_answer(exchange(idle.sock, req(m, b"/mmds", deep.encode())))
        assert status == 400, status
    # Deep but within the store's limit (serde_json's 128): stored, read back, patched.
    def nested(n):
        return b'{"k":' * n + b"{}" + b"}" * n
    status, _, _ = one_answer(exchange(idle.sock, req(b"PUT", b"/mmds", nested(400))))
    assert status == 400
    status, _, _ = one_answer(exchange(idle.sock, req(b"PUT", b"/mmds", nested(120))))
    assert status == 204
    status, _, got = one_answer(exchange(idle.sock, req(b"GET", b"/mmds")))
    assert status == 200 and got.replace(b" ", b"") == nested(120)
    status, _, _ = one_answer(exchange(idle.sock, req(b"PATCH", b"/mmds", nested(120))))
    assert status == 204
    assert idle.api.patch("/mmds", {"k": None})[0] == 204
    # Big: many keys, long strings, NULs, up to and past the data store limit.
    big = {f"key{i}": "v" * 100 for i in range(400)}
    big["nul"] = "a\u0000b"
    assert idle.api.put("/mmds", big)[0] == 204
    status, got = idle.api.get("/mmds")
    assert status == 200 and got == big
    status, _ = idle.api.put("/mmds", {"x": "v" * (60 * 1024)})
    assert status in (204, 400, 413)
    for b in (b"[]", b'"s"', b"null", b"1", b"{}", b'{"a": 1e999}', b'{"a": "\\ud800"}'):
        for m in (b"PUT", b"PATCH"):
            status, _, _ = one_answer(exchange(idle.sock, req(m, b"/mmds", b)))
            assert status in (204, 400), (m, b, status)
    for u in (b"/mmds/x", b"/mmds/key1", b"/mmds/", b"/mmds?x"):
        status, _, _ = one_answer(exchange(idle.sock, req(b"GET", u)))
        assert status in (200, 400, 404), (u, status)
    # Integers past i64, as serde_json's Value keeps them: u64 exactly, f64 beyond; a
    # string holding the control bytes volt's second reading could use stays a string.
    body = (b'{"max": 18446744073709551615, "over": 18446744073709551616, '
            b'"below": -9223372036854775809, "s": "\\u0001\\u001F", "a": [9223372036854775808]}')
    status, _, _ = one_answer(exchange(idle.sock, req(b"PUT", b"/mmds", body)))
    assert status == 204
    status, _, got = one_answer(exchange(idle.sock, req(b"GET", b"/mmds")))
    assert status == 200 and got == (b'{"a":[9223372036854775808],"below":-9.223372036854776e18,'
                                     b'"max":18446744073709551615,"over":1.8446744073709552e19,'
                                     b'"s":"\\u0001\\u001f"}'), got
    idle.alive()


def test_logger_and_metrics_refusals_in_firecracker_words(idle, tmp_path):
    """A logger or metrics file that does not open: Firecracker's LoggerUpdateError and
    MetricsConfigError (an io::Error's text, musl's words), then the path; metrics
    without its path: serde's missing field."""
    missing = tmp_path / "no" / "such" / "dir" / "x"
    status, body = idle.api.put("/logger", {"log_path": str(missing)})
    assert (status, body["fault_message"]) == (
        400, "Logger error: Failed to open target file: No such file or directory (os error 2) "
             f"(log_path '{missing}')"), body
    status, body = idle.api.put("/metrics", {"metrics_path": str(missing)})
    assert (status, body["fault_message"]) == (
        400, "Metrics error: Cannot initialize the metrics system due to bad user input: No "
             f"such file or directory (os error 2) (metrics_path '{missing}')"), body
    status, body = idle.api.put("/metrics", {})
    assert (status, body["fault_message"]) == (
        400, "An error occurred when deserializing the json body of a request: missing field "
             "`metrics_path` at line 1 column 2."), body
    status, body = idle.api.put("/logger", {"log_path": str(tmp_path)})
    assert status == 400 and body["fault_message"].startswith(
        "Logger error: Failed to open target file: "), body
    idle.alive()


def test_deprecation_header_only_for_a_body_that_parsed(idle):
    """Firecracker sets `Deprecation: true` once ParsedRequest::try_from succeeded: a body
    with a deprecated field that does not parse gets no header; one that parses does, even
    when the VMM then refuses it."""
    for m, url, body, header in (
            (b"PUT", b"/vsock", b'{"vsock_id": "a", "guest_cid": "x", "uds_path": "/v"}', False),
            (b"PUT", b"/machine-config",
             b'{"vcpu_count": 1, "mem_size_mib": 128, "cpu_template": "Bogus"}', False),
            (b"PATCH", b"/machine-config", b'{"cpu_template": "None", "bogus": 1}', False),
            (b"PATCH", b"/machine-config", b'{"cpu_template": "None", "vcpu_count": 0}', True),
            (b"PUT", b"/mmds/config", b'{"version": "V1", "network_interfaces": "x"}', False)):
        status, hdrs, _ = one_answer(exchange(idle.sock, req(m, url, body)))
        assert status == 400, (url, body, status)
        assert ("deprecation" in hdrs) == header, (url, body, hdrs)
    idle.alive()


def test_fault_messages_show_utf8_as_sent(idle):
    """A message quoting what the client sent keeps valid UTF-8 as it is (Firecracker's
    messages show it); what is no UTF-8 is escaped, the body stays valid JSON."""
    status, _, body = one_answer(exchange(idle.sock, req(b"GET", "/é".encode())))
    assert status == 400
    assert json.loads(body)["fault_message"] == "Invalid request method and/or path: GET é."
    status, _, body = one_answer(exchange(idle.sock, req(
        b"PUT", b"/network-interfaces/a", '{"iface_id": "é", "host_dev_name": "t0"}'.encode())))
    assert status == 400 and json.loads(body)["fault_message"] == (
        "The id from the path [a] does not match the id from the body [é]!"), body
    idle.alive()


def test_connection_abuse(idle):
    pid = idle.p.proc.pid
    before = fd_count(pid)
    for _ in range(2000):
        socket_ = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        socket_.connect(str(idle.sock))
        socket_.close()
    for i in range(300):
        s = connect(idle.sock)
        s.sendall(req(b"GET", b"/machine-config")[: i % 40 + 1])
        s.close()
    # Closed halfway through the answer (large answers: /vm/config with the big MMDS).
    for _ in range(50):
        s = connect(idle.sock)
        s.sendall(req(b"GET", b"/vm/config") + req(b"GET", b"/mmds") * 20)
        s.recv(10)
        s.close()
    # A client that never reads its answers while another is served.
    hog = connect(idle.sock)
    hog.setblocking(False)
    sent = 0
    pkt = req(b"GET", b"/mmds")
    deadline = time.monotonic() + 3
    while time.monotonic() < deadline:
        try:
            sent += hog.send(pkt)
        except BlockingIOError:
            break
    t0 = time.monotonic()
    assert idle.api.get("/")[0] == 200
    assert idle.api.get("/machine-config")[0] == 200
    assert time.monotonic() - t0 < 2
    hog.close()
    time.sleep(0.3)
    assert idle.api.get("/")[0] == 200
    # No fds kept (connections that ended are closed; a few may linger in the slots).
    after = fd_count(pid)
    assert after <= before + 8, (before, after)
    idle.alive()


def concurrent_clients(sock, stop, errors):
    api = ApiClient(sock, timeout=20)
    bad = [req(b"PUT", b"/machine-config", b"{" * 1000), req(b"GET", b"/%ff"),
           b"GET / HTTP/1.1\r\nContent-Length: -1\r\n\r\n", req(b"PATCH", b"/vm", b"[]"),
           req(b"GET", b"/vm/config") * 5, req(b"PUT", b"/actions",
                                                b'{"action_type": "FlushMetrics"}')]
    i = 0
    while not stop.is_set():
        i += 1
        try:
            if i % 3:
                st, _ = api.get("/")
                assert st == 200
            else:
                split_answers(exchange(sock, bad[i % len(bad)]))
        except Exception as e:  # noqa: BLE001 - reported by the test
            errors.append(repr(e))
            return


@contextlib.contextmanager
def hammering(sock, nclients):
    """nclients threads of concurrent_clients on sock for the with block; yields the
    list their errors go to (complete once the block is left)."""
    stop, errors = threading.Event(), []
    threads = [threading.Thread(target=concurrent_clients, args=(sock, stop, errors))
               for _ in range(nclients)]
    for t in threads:
        t.start()
    try:
        yield errors
    finally:
        stop.set()
        for t in threads:
            t.join()


def lifecycle_under_load(v, tmp):
    with hammering(v.sock, 4) as errors:
        for i in range(3):
            assert v.api.patch("/vm", {"state": "Paused"}) == (204, None)
            r = v.api.put("/snapshot/create",
                          {"snapshot_path": str(tmp / f"s{i}"),
                           "mem_file_path": str(tmp / f"m{i}")})
            assert r[0] == 204, r
            assert v.api.patch("/vm", {"state": "Resumed"}) == (204, None)
        for _ in range(200):
            st, _ = v.api.put("/actions", {"action_type": "FlushMetrics"})
            assert st == 204
    assert not errors, errors[:5]
    v.alive()


def test_running_vm_under_load(tmp_path, kvm, volt_bin):
    v = Volt(tmp_path, "--snapshot-dir", tmp_path)
    try:
        assert v.api.put("/boot-source", {"kernel_image_path": str(GUESTS / "echo")})[0] == 204
        assert v.api.put("/machine-config", {"vcpu_count": 1, "mem_size_mib": 32})[0] == 204
        assert v.api.put("/metrics", {"metrics_path": str(tmp_path / "metrics")})[0] == 204
        # InstanceStart while other clients hammer the socket.
        with hammering(v.sock, 3) as errors:
            assert v.api.put("/actions", {"action_type": "InstanceStart"}) == (204, None)
        assert not errors, errors[:5]
        v.p.wait_for("echo guest ready", 30)
        lifecycle_under_load(v, tmp_path)
    finally:
        v.finish()
    # A snapshot loaded (and resumed) while other clients hammer the socket.
    (tmp_path / "api.sock").unlink(missing_ok=True)
    v = Volt(tmp_path, "--snapshot-dir", tmp_path)
    try:
        with hammering(v.sock, 3) as errors:
            r = v.api.put("/snapshot/load",
                          {"snapshot_path": str(tmp_path / "s2"),
                           "mem_backend": {"backend_type": "File",
                                           "backend_path": str(tmp_path / "m2")},
                           "resume_vm": True})
            assert r == (204, None), r
            assert v.api.get("/")[1]["state"] == "Running"
    finally:
        v.finish()
    assert not errors, errors[:5]


def test_config_file_vm_under_load(tmp_path, kvm, volt_bin):
    cfg = tmp_path / "vm.json"
    cfg.write_text(json.dumps({"boot-source": {"kernel_image_path": str(GUESTS / "echo")},
                               "machine-config": {"vcpu_count": 1, "mem_size_mib": 32},
                               "metrics": {"metrics_path": str(tmp_path / "metrics")}}))
    v = Volt(tmp_path, "--config-file", cfg, "--snapshot-dir", tmp_path)
    try:
        v.p.wait_for("echo guest ready", 30)
        lifecycle_under_load(v, tmp_path)
        for b in (b"[" * 100000, b'{"action_type": "InstanceStart"}'):
            status, _, _ = one_answer(exchange(v.sock, req(b"PUT", b"/actions", b)))
            assert status == 400
    finally:
        v.finish()


def test_random_mutations(idle):
    """Seeded mutations of good requests (bytes flipped, inserted, cut; pipelined; sent
    in random pieces): whole answers only, never a 5xx, volt alive."""
    rnd = random.Random(int(os.environ.get("VOLT_HOSTILE_SEED", "1234")))
    seeds = [req(b"PUT", b"/machine-config", MC), req(b"GET", b"/vm/config"),
             req(b"PATCH", b"/mmds", b'{"a": {"b": [1, 2, {"c": null}]}}'),
             b"PATCH /machine-config HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
             b"5\r\n{\"vcp\r\n21\r\nu_count\": 1, \"mem_size_mib\": 128}\r\n0\r\n\r\n",
             req(b"PUT", b"/drives/d", b'{"drive_id": "d", "path_on_host": "/dev/null", '
                 b'"is_root_device": false, "is_read_only": true}'),
             req(b"GET", b"/", extra=b"Expect: 100-continue\r\nConnection: keep-alive\r\n")]
    special = [b"\x00", b"\r", b"\n", b"\r\n", b" ", b":", b";", b"%", b"\xff", b"0",
               b"9" * 20, b"{", b"[", b"\"", b"\\u0000", b"-", b"Content-Length: 3\r\n",
               b"Transfer-Encoding: chunked\r\n"]
    answered = 0
    for i in range(400):
        data = b"".join(rnd.choice(seeds) for _ in range(rnd.randint(1, 3)))
        data = bytearray(data)
        for _ in range(rnd.randint(1, 4)):
            pos = rnd.randrange(len(data))
            op = rnd.randrange(3)
            if op == 0:
                data[pos] = rnd.randrange(256)
            elif op == 1:
                data[pos:pos] = rnd.choice(special)
            else:
                del data[pos:pos + rnd.randint(1, 8)]
        s = connect(idle.sock, timeout=10)
        try:
            rest = bytes(data)
            try:
                while rest:
                    n = rnd.randint(1, len(rest))
                    s.sendall(rest[:n])
                    rest = rest[n:]
                s.shutdown(socket.SHUT_WR)
            except (BrokenPipeError, ConnectionResetError):
                pass
            out = read_all(s)
        finally:
            s.close()
        answered += len(split_answers(out))
        for status, _, _ in split_answers(out):
            assert status < 500, (i, bytes(data), out)
    assert answered > 300, answered
    idle.alive()
    assert idle.api.get("/")[0] == 200


def test_log_and_metrics_fifos_whose_readers_leave(tmp_path, kvm, volt_bin):
    """Logger and metrics on FIFOs whose readers leave, then come back and never read:
    no SIGPIPE death, no blocked main thread, every request still answered."""
    lf, mf = tmp_path / "log.fifo", tmp_path / "metrics.fifo"
    os.mkfifo(lf)
    os.mkfifo(mf)
    v = Volt(tmp_path)
    try:
        readers = [os.open(f, os.O_RDONLY | os.O_NONBLOCK) for f in (lf, mf)]
        assert v.api.put("/logger", {"log_path": str(lf), "level": "Debug"})[0] == 204
        assert v.api.put("/metrics", {"metrics_path": str(mf)})[0] == 204
        assert v.api.put("/boot-source", {"kernel_image_path": str(GUESTS / "echo")})[0] == 204
        assert v.api.put("/actions", {"action_type": "InstanceStart"}) == (204, None)
        for fd in readers:
            os.close(fd)
        for _ in range(50):
            assert v.api.put("/actions", {"action_type": "FlushMetrics"})[0] in (204, 400)
            assert v.api.get("/vm/config")[0] == 200
        readers = [os.open(f, os.O_RDONLY | os.O_NONBLOCK) for f in (lf, mf)]
        t0 = time.monotonic()
        for _ in range(300):  # the pipes fill up: nobody reads
            assert v.api.put("/actions", {"action_type": "FlushMetrics"})[0] in (204, 400)
            r = v.api.put("/drives/" + "d" * 60, {"x": "y" * 10000})  # a long error logged
            assert r[0] == 400, r
        assert time.monotonic() - t0 < 20
        for fd in readers:
            os.close(fd)
        v.alive()
    finally:
        v.finish()
