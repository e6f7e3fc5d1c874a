"""The log file (--log-path, PUT /logger) as Firecracker's own tests read it:
test_logging.py's checks (the API's request and error lines, the line format
with and without level and origin, the first line) and microvm.py's timing of
API calls from the `Total previous API call duration` lines. Only the echo
guest boots (milliseconds)."""
import json
import re
import time

import pytest

from api_client import ApiClient, wait_for_socket
from conftest import GUESTS

LEVELS = ["ERROR", "WARN", "INFO", "DEBUG"]
FORMAL = {"Error": "ERROR", "Warning": "WARN", "Info": "INFO", "Debug": "DEBUG"}
ID = "log-test-1"

# microvm.py's _validate_api_response_times
REQUEST_RE = re.compile(r"\] The API server received a (?P<method>\w+) request on "
                        r"\"(?P<url>(/(\w|-)*)+)\"( with body (?P<body>.*))?\.")
DURATION_RE = re.compile(r"\] Total previous API call duration: (?P<us>\d+) us.$")


def check_line_format(line, level, show_level, show_origin):
    """test_logging.py's check_log_message_format: 'TIMESTAMP [ID:THREAD(:LEVEL)(:FILE:LINE)] MSG',
    the timestamp to the nanosecond, LEVEL no more verbose than the configured one."""
    stamp, rest = line.split(" ", 1)
    time.strptime(stamp[:-10], "%Y-%m-%dT%H:%M:%S")
    assert re.fullmatch(r"\.\d{9}", stamp[-10:]), line
    pattern = rf"\[({ID}):(.*)"
    if show_level:
        pattern += ":(" + "|".join(LEVELS) + ")"
    if show_origin:
        pattern += r":([^:]+/[^:]+):([0-9]+)"
    m = re.match(pattern + r"\].*", rest)
    assert m, f"{rest!r} does not match {pattern!r}"
    if show_level:
        assert LEVELS.index(m.group(3)) <= LEVELS.index(FORMAL[level]), line


def wait_log(path, text, timeout=10):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if path.exists() and text in path.read_text(errors="replace"):
            return path.read_text(errors="replace")
        time.sleep(0.05)
    raise AssertionError(f"{text!r} not in the log:\n"
                         f"{path.read_text(errors='replace') if path.exists() else '(none)'}")


def start(vm, tmp_path, *args):
    sock = tmp_path / "api.sock"
    p = vm("--api-sock", sock, "--id", ID, *args)
    wait_for_socket(sock, p.proc)
    api = ApiClient(sock)
    api.proc = p
    return api


def basic_config(api):
    assert api.put("/boot-source", {"kernel_image_path": str(GUESTS / "echo")}) == (204, None)
    assert api.put("/machine-config", {"vcpu_count": 1, "mem_size_mib": 128}) == (204, None)


def test_api_requests_logs(vm, tmp_path):
    """test_logging.py::test_api_requests_logs."""
    api = start(vm, tmp_path)
    basic_config(api)
    log = tmp_path / "log"
    log.touch()
    assert api.put("/logger", {"log_path": str(log), "level": "Info", "show_level": True,
                               "show_log_origin": True}) == (204, None)
    assert api.patch("/machine-config", {"vcpu_count": 4}) == (204, None)
    wait_log(log, 'The API server received a Patch request on "/machine-config" with body')
    assert api.put("/machine-config", {"vcpu_count": 4, "mem_size_mib": 128}) == (204, None)
    text = wait_log(log, 'The API server received a Put request on "/machine-config" with body')
    assert ('with body "{\\"vcpu_count\\": 4, \\"mem_size_mib\\": 128}".' in text), text
    assert api.get("/machine-config")[0] == 200
    wait_log(log, 'The API server received a Get request on "/machine-config".')

    log = tmp_path / "new_log"
    log.touch()
    assert api.put("/logger", {"log_path": str(log), "level": "Info", "show_level": True,
                               "show_log_origin": True}) == (204, None)
    secret = {"latest": {"meta-data": {"ami-id": "dummy-secret-value"}}}
    assert api.put("/mmds", secret) == (204, None)
    wait_log(log, 'The API server received a Put request on "/mmds".')
    assert api.patch("/mmds", secret) == (204, None)
    wait_log(log, 'The API server received a Patch request on "/mmds".')
    assert api.get("/mmds")[0] == 200
    wait_log(log, 'The API server received a Get request on "/mmds".')
    # Other spellings the router takes as /mmds keep the data out too.
    assert api.put("//mmds/", secret)[0] == 204
    wait_log(log, 'The API server received a Put request on "//mmds/".')
    # Only a PUT reaches /mmds/config: a PATCH there is one of the data.
    assert api.patch("/mmds/config", secret)[0] == 204
    wait_log(log, 'The API server received a Patch request on "/mmds/config".')

    fault = ("Boot source error: The kernel file cannot be opened: No such file or directory "
             "(os error 2)")
    assert api.put("/boot-source", {"kernel_image_path": "inexistent_path"}) == (
        400, {"fault_message": fault})
    text = wait_log(log, f"Received Error. Status code: 400 Bad Request. Message: {fault}")
    assert "dummy-secret-value" not in text, "MMDS data is never logged"
    for line in text.splitlines():
        check_line_format(line, "Info", True, True)
    # The API thread's lines carry its name.
    assert re.search(rf"\[{ID}:fc_api:INFO:src/api/api_log.c:\d+\] The API server received",
                     text), text


@pytest.mark.parametrize("level, show_level, show_origin", [
    ("Info", True, True),
    ("Info", False, True),
    ("Info", True, False),
    ("Info", False, False),
    ("Error", False, False),
    ("Warning", False, False),
])
def test_log_config(vm, tmp_path, level, show_level, show_origin):
    """test_logging.py::test_log_config: the flags of Firecracker's jailer, a boot, then
    every line in the format asked for and, from Info on, "Running Firecracker" first."""
    log = tmp_path / "fc.log"
    log.touch()
    flags = ["--log-path", log, "--level", level]
    flags += ["--show-level"] if show_level else []
    flags += ["--show-log-origin"] if show_origin else []
    api = start(vm, tmp_path, *flags)
    basic_config(api)
    assert api.put("/actions", {"action_type": "InstanceStart"}) == (204, None)
    api.proc.wait_for("echo guest ready", 60)
    if level == "Info":
        wait_log(log, 'request on "/actions"')
    lines = log.read_text().splitlines()
    if LEVELS.index("INFO") <= LEVELS.index(FORMAL[level]):
        assert "Running Firecracker" in lines[0], lines[:3]
        # ... with the release volt follows and volt's version as build metadata.
        assert re.search(r"\] Running Firecracker v\d+\.\d+\.\d+\+volt\.\d", lines[0]), lines[0]
        assert any(l.endswith("] API server started.") for l in lines), lines
    else:
        assert not any("Running" in l or "API server" in l for l in lines), lines
    for line in lines:
        check_line_format(line, level, show_level, show_origin)
    # volt's console keeps its own format: no Firecracker lines there.
    out = api.proc.output()
    assert "The API server received" not in out and "Running Firecracker" not in out, out


def test_api_call_durations(vm, tmp_path):
    """microvm.py times API calls at the Debug level: each request line is followed by
    exactly one duration line before the next request, errors and GET / included."""
    log = tmp_path / "fc.log"
    api = start(vm, tmp_path, "--log-path", log, "--level", "Debug")
    basic_config(api)
    assert api.get("/")[0] == 200
    assert api.put("/machine-config", {"vcpu_count": 0, "mem_size_mib": 128})[0] == 400
    assert api.put("/mmds", {"a": "b"}) == (204, None)
    assert api.put("/actions", {"action_type": "InstanceStart"}) == (204, None)
    api.proc.wait_for("echo guest ready", 60)
    assert api.get("/machine-config")[0] == 200
    # Both lines are written before the answer is sent.
    text = log.read_text()
    assert text.endswith(" us.\n"), text[-300:]
    calls, current = [], None
    for line in text.splitlines():
        m = REQUEST_RE.search(line)
        if m:
            assert current is None, f"no duration line after {current}"
            current = (m.group("method"), m.group("url"), m.group("body"))
        m = DURATION_RE.search(line)
        if m:
            assert current is not None, f"a duration line before any request: {line}"
            calls.append(current)
            current = None
    urls = [(c[0], c[1]) for c in calls]
    assert ("Get", "/") in urls and ("Put", "/actions") in urls, calls
    body = dict(((c[0], c[1]), c[2]) for c in calls)[("Put", "/actions")]
    assert json.loads(json.loads(body)) == {"action_type": "InstanceStart"}, body
    assert ("Put", "/mmds") in urls and body is not None


def test_long_bodies_are_cut(vm, tmp_path):
    """A body of up to --http-api-max-payload-size bytes: the line shows a prefix."""
    log = tmp_path / "fc.log"
    api = start(vm, tmp_path, "--log-path", log)
    padded = '{"vcpu_count": 1,' + " " * 50000 + '"mem_size_mib": 128}'
    assert api.request("PUT", "/machine-config", padded.encode())[0] == 204
    text = wait_log(log, f"({len(padded)} bytes).")
    line = [l for l in text.splitlines() if '"/machine-config"' in l][0]
    assert len(line) < 1000, line
    assert 'with body "{\\"vcpu_count\\": 1,     ' in line, line


def test_logger_put_changes_what_it_gives(vm, tmp_path):
    """Firecracker's Logger::update: a PUT /logger without `level` sets Info, the show_
    flags and the file it leaves out stay, and one whose file cannot be opened changes
    nothing."""
    api = start(vm, tmp_path)
    log = tmp_path / "log"
    assert api.put("/logger", {"log_path": str(log), "level": "Debug",
                               "show_level": True}) == (204, None)
    bad = tmp_path / "no-such-dir" / "log"
    assert api.put("/logger", {"log_path": str(bad), "level": "Error",
                               "show_level": False})[0] == 400
    mark = len(wait_log(log, "Received Error"))
    assert api.get("/machine-config")[0] == 200
    text = wait_log(log, "Total previous API call duration")[mark:]
    line = next(l for l in text.splitlines() if "Get request" in l)
    check_line_format(line, "Debug", True, False)

    assert api.put("/logger", {}) == (204, None)
    mark = len(wait_log(log, 'Put request on "/logger"'))
    assert api.put("/machine-config", {"vcpu_count": 1, "mem_size_mib": 128}) == (204, None)
    wait_log(log, 'Put request on "/machine-config"')
    time.sleep(0.3)
    text = log.read_text()[mark:]
    assert "Total previous API call duration" not in text, "Info now: no Debug lines"
    line = next(l for l in text.splitlines() if "Put request" in l)
    check_line_format(line, "Info", True, False)
    assert api.get("/vm/config")[1]["logger"] is None  # Firecracker shows none


def test_logger_put_keeps_the_command_lines_show_flags(vm, tmp_path):
    """Firecracker's main.rs gives --show-level and --show-log-origin to Logger::update:
    a PUT /logger, or a configuration file's logger, without them keeps them."""
    log = tmp_path / "log"
    api = start(vm, tmp_path, "--show-level", "--show-log-origin")
    assert api.put("/logger", {"log_path": str(log), "level": "Info"}) == (204, None)
    assert api.get("/machine-config")[0] == 200
    text = wait_log(log, 'Get request on "/machine-config"')
    line = next(l for l in text.splitlines() if "Get request" in l)
    check_line_format(line, "Info", True, True)

    log2 = tmp_path / "log2"
    config = tmp_path / "config.json"
    config.write_text(json.dumps({
        "boot-source": {"kernel_image_path": str(GUESTS / "echo")},
        "machine-config": {"vcpu_count": 1, "mem_size_mib": 128},
        "logger": {"log_path": str(log2), "level": "Info"}}))
    sock = tmp_path / "api2.sock"
    p = vm("--api-sock", sock, "--id", ID, "--show-level", "--config-file", config)
    wait_for_socket(sock, p.proc)
    # The socket listens before the file's logger opens (as in Firecracker, whose API
    # thread starts before the JSON is applied): a request sent at once may be logged
    # to stderr. The microVM started, the file's logger is in place.
    wait_log(log2, "Successfully started microvm")
    assert ApiClient(sock).get("/machine-config")[0] == 200
    text = wait_log(log2, 'Get request on "/machine-config"')
    line = next(l for l in text.splitlines() if "Get request" in l)
    check_line_format(line, "Info", True, False)
