"""PUT /snapshot/create and /snapshot/load, and `volt snapshot create`, without a VM.

Everything here runs against `volt --api-sock` waiting for configuration (no
KVM needed, no guest boots): Firecracker's validation answers (its own
messages, as in its test_negative_snapshot_load_api), the state rules a
fresh process enforces, the Deprecation header, and the CLI client's errors
(no listener, an API with no microVM).
"""
import socket
import time

import pytest

from api_client import ApiClient, wait_for_socket
from conftest import VoltProcess, run_volt

SERDE = "An error occurred when deserializing the json body of a request: "
NOT_BEFORE = "The requested operation is not supported before starting the microVM."
NOT_ALLOWED = ("Load snapshot error: Loading a microVM snapshot not allowed after "
               "configuring boot-specific resources.")
LOAD = {"snapshot_path": "/nonexistent/state",
        "mem_backend": {"backend_type": "File", "backend_path": "/nonexistent/mem"}}


@pytest.fixture
def api(tmp_path, volt_bin):
    """Factory: a `volt --api-sock` waiting for configuration; killed at teardown."""
    started = []

    def start():
        sock = tmp_path / f"api-{len(started)}.sock"
        p = VoltProcess(["--api-sock", sock], tmp_path / f"volt-{len(started)}.log")
        started.append(p)
        wait_for_socket(sock, p.proc)
        return ApiClient(sock, timeout=30), sock
    yield start
    for p in started:
        p.kill()


def check_fault(resp, status, *needles):
    got, body = resp
    assert got == status, resp
    msg = body["fault_message"]
    for n in needles:
        assert n in msg, (msg, n)
    return msg


def test_create_needs_a_started_vm(api):
    a, _ = api()
    check_fault(a.put("/snapshot/create", {"snapshot_path": "s", "mem_file_path": "m"}),
                400, NOT_BEFORE)
    # Firecracker's parser reads the body before its VMM refuses the call
    check_fault(a.put("/snapshot/create", {"snapshot_path": "s"}), 400,
                "missing field `mem_file_path`")
    # Not a method of it.
    check_fault(a.get("/snapshot/create"), 400, "Invalid request method and/or path")


def test_load_validation_answers(api):
    a, _ = api()
    check_fault(a.put("/snapshot/load", {"snapshot_path": "foo",
                                         "mem_backend": {"backend_type": "File",
                                                         "backend_path": "bar"},
                                         "mem_file_path": "bar"}),
                400, "too many fields: either `mem_backend` or `mem_file_path` exclusively "
                     "is required.")
    check_fault(a.put("/snapshot/load", {"snapshot_path": "foo",
                                         "mem_backend": {"backend_path": "bar"}}),
                400, "missing field `backend_type`")
    check_fault(a.put("/snapshot/load", {"snapshot_path": "foo",
                                         "mem_backend": {"backend_type": "File"}}),
                400, "missing field `backend_path`")
    check_fault(a.put("/snapshot/load", {"snapshot_path": "foo",
                                         "mem_backend": {"backend_type": "foo",
                                                         "backend_path": "bar"}}),
                400, "unknown variant `foo`, expected `File` or `Uffd`")
    check_fault(a.put("/snapshot/load", {"mem_backend": {"backend_type": "File",
                                                         "backend_path": "bar"}}),
                400, "missing field `snapshot_path`")
    check_fault(a.put("/snapshot/load", {"snapshot_path": "foo"}),
                400, SERDE + "missing field: either `mem_backend` or `mem_file_path` is "
                             "required.")
    check_fault(a.put("/snapshot/load", {"snapshot_path": "foo", "mem_file_path": "bar",
                                         "bogus": True}),
                400, "unknown field `bogus`")
    check_fault(a.put("/snapshot/load", b'{"snapshot_path": '), 400, "invalid JSON")
    # None of those was a load: the process is as fresh as before.
    assert a.get("/")[1]["state"] == "Not started"
    # A refused load did not spoil it: a well-formed one is tried.
    msg = check_fault(a.put("/snapshot/load", LOAD), 400, "Load snapshot error: ")
    assert "/nonexistent/state" in msg or "snapshot" in msg, msg


def test_deprecated_fields_answer_a_deprecation_header(api):
    a, _ = api()
    body = b'{"snapshot_path": "/nonexistent/state", "mem_file_path": "/nonexistent/mem"}'
    raw = a.raw(b"PUT /snapshot/load HTTP/1.1\r\nHost: localhost\r\n"
                b"Content-Type: application/json\r\nConnection: close\r\n"
                b"Content-Length: %d\r\n\r\n" % len(body) + body)
    head, _, rest = raw.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 400"), raw
    assert b"\r\ndeprecation: true" in head.lower(), raw
    assert b"Load snapshot error" in rest, raw


def test_a_load_with_a_missing_snapshot_is_400_naming_it(api):
    a, _ = api()
    msg = check_fault(a.put("/snapshot/load", LOAD), 400, "Load snapshot error: ")
    assert "/nonexistent/state" in msg or "snapshot" in msg, msg
    # As Firecracker (which exits), the process cannot be configured again; it answers.
    check_fault(a.put("/snapshot/load", LOAD), 400, "restart volt")
    check_fault(a.put("/machine-config", {"vcpu_count": 1, "mem_size_mib": 128}), 400,
                "restart volt")
    status, info = a.get("/")
    assert status == 200 and info["state"] == "Not started", info


# (The files exist: Firecracker, and volt, open them at PUT.)
@pytest.mark.parametrize("url,body", [
    ("/machine-config", {"vcpu_count": 1, "mem_size_mib": 128}),
    ("/boot-source", {"kernel_image_path": "FILE"}),
    ("/drives/rootfs", {"drive_id": "rootfs", "path_on_host": "FILE",
                        "is_root_device": True, "is_read_only": True}),
])
def test_load_refused_after_boot_specific_resources(api, url, body, tmp_path):
    a, _ = api()
    (tmp_path / "file").write_bytes(b"")
    body = {k: (str(tmp_path / "file") if v == "FILE" else v) for k, v in body.items()}
    assert a.put(url, body) == (204, None)
    check_fault(a.put("/snapshot/load", LOAD), 400, NOT_ALLOWED)
    # Not fatal: the configuration goes on.
    assert a.put("/machine-config", {"vcpu_count": 2, "mem_size_mib": 256}) == (204, None)


# Refused by what Firecracker's VMM checks (the body parsed): its controller set
# boot_path first, so these count too; a body that does not parse does not.
@pytest.mark.parametrize("url,body", [
    ("/boot-source", {"kernel_image_path": "/nonexistent/vmlinux"}),
    ("/drives/rootfs", {"drive_id": "rootfs", "path_on_host": "/nonexistent/disk",
                        "is_root_device": True}),
    ("/machine-config", {"vcpu_count": 0, "mem_size_mib": 128}),
])
def test_load_refused_after_a_refused_boot_specific_resource(api, url, body):
    a, _ = api()
    status, _ = a.put(url, body)
    assert status == 400
    assert a.put("/machine-config", {"vcpu_count": "1"})[0] == 400
    check_fault(a.put("/snapshot/load", LOAD), 400, NOT_ALLOWED)


def test_load_after_a_body_that_does_not_parse_is_tried(api):
    a, _ = api()
    assert a.put("/boot-source", {"kernel_image_path": 1})[0] == 400
    assert a.put("/drives/x", {"drive_id": "y", "path_on_host": "/x",
                               "is_root_device": False})[0] == 400
    msg = check_fault(a.put("/snapshot/load", LOAD), 400, "Load snapshot error: ")
    assert NOT_ALLOWED not in msg


def test_load_after_logger_and_metrics_is_tried(api, tmp_path):
    a, _ = api()
    assert a.put("/logger", {"log_path": str(tmp_path / "log"), "level": "Info"}) == (204, None)
    assert a.put("/metrics", {"metrics_path": str(tmp_path / "metrics")}) == (204, None)
    msg = check_fault(a.put("/snapshot/load", LOAD), 400, "Load snapshot error: ")
    assert NOT_ALLOWED not in msg
    assert "/nonexistent/state" in msg or "snapshot" in msg, msg


# --- volt snapshot create -------------------------------------------------------------

def test_cli_usage_lists_snapshot():
    top = run_volt("--help", check=True).stdout
    assert "snapshot create" in top
    sub = run_volt("snapshot", "--help", check=True).stdout
    assert "volt snapshot create --api-sock SOCKET --out DIR" in sub
    create = run_volt("snapshot", "create", "--help", check=True).stdout
    for opt in ("--api-sock", "--out", "--type", "--then", "--timeout", "SendCtrlAltDel"):
        assert opt in create, create
    p = run_volt("snapshot", "nope")
    assert p.returncode != 0 and "unknown snapshot command 'nope'" in p.stderr


def test_cli_without_a_listener(tmp_path):
    out = tmp_path / "snap"
    p = run_volt("snapshot", "create", "--api-sock", tmp_path / "none.sock", "--out", out,
                 timeout=30)
    assert p.returncode != 0
    assert "cannot connect to the API socket" in p.stderr and "none.sock" in p.stderr, p.stderr
    assert not out.exists()
    # A stale socket file: bound once, nobody listening now.
    stale = tmp_path / "stale.sock"
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.bind(str(stale))
    s.close()
    p = run_volt("snapshot", "create", "--api-sock", stale, "--out", out, timeout=30)
    assert p.returncode != 0
    assert "Connection refused" in p.stderr, p.stderr
    # Missing options.
    p = run_volt("snapshot", "create", "--out", out)
    assert p.returncode != 0 and "--api-sock" in p.stderr
    p = run_volt("snapshot", "create", "--api-sock", stale, "--out", out, "--type", "half")
    assert p.returncode != 0 and "full or diff" in p.stderr


def test_cli_against_an_api_with_no_vm(api, tmp_path):
    a, sock = api()
    out = tmp_path / "snap"
    start = time.monotonic()
    p = run_volt("snapshot", "create", "--api-sock", sock, "--out", out, timeout=30)
    assert time.monotonic() - start < 20
    assert p.returncode != 0
    assert NOT_BEFORE in p.stderr, p.stderr
    assert not out.exists()
    # The VMM is unharmed.
    assert a.get("/")[1]["state"] == "Not started"


class FakeApi:
    """A Firecracker-style API on a Unix socket that records each request and
    answers from a script: {(method, url): (status, body)}, 204 otherwise."""

    def __init__(self, path, answers=None):
        import http.server
        import socketserver
        import threading

        self.requests = []
        self.answers = answers or {}
        fake = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def handle_any(self):
                import json
                n = int(self.headers.get("Content-Length", "0"))
                body = json.loads(self.rfile.read(n)) if n else None
                fake.requests.append((self.command, self.path, body))
                status, answer = fake.answers.get((self.command, self.path), (204, None))
                data = json.dumps(answer).encode() if answer is not None else b""
                self.send_response(status)
                if data:
                    self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_PUT = do_PATCH = handle_any

        class Server(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
            daemon_threads = True

            def get_request(self):
                conn, _ = self.socket.accept()
                return conn, ("local", 0)

            def handle_error(self, request, client_address):
                pass  # a client that hung up after its answer

        self.server = Server(str(path), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def fake_api(tmp_path):
    made = []

    def start(answers=None):
        f = FakeApi(tmp_path / f"fake-{len(made)}.sock", answers)
        made.append(f)
        return f, tmp_path / f"fake-{len(made) - 1}.sock"
    yield start
    for f in made:
        f.close()


@pytest.mark.parametrize("then,tail", [
    ("resume", [("PATCH", "/vm", {"state": "Resumed"})]),
    ("pause", []),
    ("stop", [("PATCH", "/vm", {"state": "Resumed"}),
              ("PUT", "/actions", {"action_type": "SendCtrlAltDel"})]),
])
def test_cli_talks_firecrackers_api(fake_api, tmp_path, monkeypatch, then, tail):
    f, sock = fake_api()
    monkeypatch.chdir(tmp_path)
    p = run_volt("snapshot", "create", "--api-sock", sock, "--out", "snaps/one", "--type",
                 "diff", "--then", then, timeout=30)
    assert p.returncode == 0, p.stderr
    out = (tmp_path / "snaps" / "one").resolve()
    assert out.is_dir() and (out.stat().st_mode & 0o777) == 0o700
    assert f.requests == [
        ("PATCH", "/vm", {"state": "Paused"}),
        ("PUT", "/snapshot/create", {"snapshot_type": "Diff", "snapshot_path": f"{out}/state",
                                     "mem_file_path": f"{out}/mem"}),
    ] + tail, f.requests
    assert f"{out}/state" in p.stdout


def test_cli_a_failed_create_resumes_and_says_why(fake_api, tmp_path):
    msg = "Create snapshot error: Cannot write memory file: No space left on device"
    f, sock = fake_api({("PUT", "/snapshot/create"): (400, {"fault_message": msg})})
    p = run_volt("snapshot", "create", "--api-sock", sock, "--out", tmp_path / "s",
                 timeout=30)
    assert p.returncode != 0
    assert msg in p.stderr, p.stderr
    assert [r[:2] for r in f.requests] == [("PATCH", "/vm"), ("PUT", "/snapshot/create"),
                                           ("PATCH", "/vm")]
    assert f.requests[-1][2] == {"state": "Resumed"}
    assert f.requests[1][2]["snapshot_type"] == "Full"


def test_cli_a_silent_api_times_out(tmp_path):
    sock = tmp_path / "silent.sock"
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.bind(str(sock))
    s.listen(8)
    try:
        start = time.monotonic()
        p = run_volt("snapshot", "create", "--api-sock", sock, "--out", tmp_path / "s",
                     "--timeout", "1", timeout=30)
        assert time.monotonic() - start < 10
        assert p.returncode != 0
        assert "no answer from the API in time" in p.stderr, p.stderr
    finally:
        s.close()
