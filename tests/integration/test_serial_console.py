"""The serial console's output never stops the guest (Firecracker's test_serial_block):
when nobody reads volt's stdout, the bytes it cannot take are lost and counted in
uart.missed_write_count, the vCPU runs on (a pause still answers at once), and the
output resumes when the reader catches up. The echo test guest echoes its input."""
import fcntl
import json
import os
import subprocess
import threading
import time

from api_client import ApiClient, wait_for_socket
from conftest import GUESTS, VOLT


def read_some(fd, want, timeout=30):
    """Reads fd (non-blocking) until want appears; returns what was read."""
    got, deadline = b"", time.monotonic() + timeout
    while want not in got and time.monotonic() < deadline:
        try:
            got += os.read(fd, 65536)
        except BlockingIOError:
            time.sleep(0.02)
    assert want in got, got[-200:]
    return got


def drain(fd):
    """Reads fd until it stays empty for a moment."""
    idle = 0
    while idle < 3:
        try:
            idle = 0 if os.read(fd, 65536) else 3
        except BlockingIOError:
            idle += 1
            time.sleep(0.2)


def test_a_stalled_reader_never_blocks_the_guest(kvm, tmp_path):
    sock, metrics, log = tmp_path / "a.sock", tmp_path / "metrics.json", tmp_path / "volt.log"
    out_r, out_w = os.pipe()
    fcntl.fcntl(out_r, fcntl.F_SETFL, os.O_NONBLOCK)
    with open(log, "wb") as err:
        p = subprocess.Popen([str(VOLT), "--api-sock", str(sock)], stdin=subprocess.PIPE,
                             stdout=out_w, stderr=err, start_new_session=True)
    os.close(out_w)
    try:
        wait_for_socket(sock, p)
        api = ApiClient(sock, timeout=10)
        assert api.put("/metrics", {"metrics_path": str(metrics)}) == (204, None)
        assert api.put("/boot-source", {"kernel_image_path": str(GUESTS / "echo")}) == (204, None)
        assert api.put("/actions", {"action_type": "InstanceStart"}) == (204, None)
        read_some(out_r, b"echo guest ready")
        # 96 KiB echoed into a 64 KiB pipe nobody reads: a blocking write would
        # stop the vCPU (and the pause below would wait for it forever).
        feeder = threading.Thread(target=lambda: (p.stdin.write(b"x" * 98304),
                                                  p.stdin.flush()), daemon=True)
        feeder.start()
        deadline = time.monotonic() + 120
        missed = 0
        while missed == 0 and time.monotonic() < deadline:
            time.sleep(0.5)
            assert api.put("/actions", {"action_type": "FlushMetrics"}) == (204, None)
            missed = sum(json.loads(l)["uart"]["missed_write_count"]
                         for l in metrics.read_text().splitlines())
        assert missed > 0, log.read_text()
        t0 = time.monotonic()
        assert api.patch("/vm", {"state": "Paused"}) == (204, None)
        assert time.monotonic() - t0 < 5
        assert api.patch("/vm", {"state": "Resumed"}) == (204, None)
        feeder.join(120)
        assert not feeder.is_alive(), "the guest stopped reading its input"
        # The reader catches up: what the guest echoes now arrives.
        drain(out_r)
        p.stdin.write(b"MARK\n")
        p.stdin.flush()
        read_some(out_r, b"MARK")
    finally:
        p.kill()
        p.wait()
        os.close(out_r)
