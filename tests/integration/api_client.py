"""A Firecracker-style API client over a Unix socket, with plain http.client.

ApiClient(path).request("PUT", "/machine-config", {...}) returns (status, parsed
JSON body or None). raw() sends bytes as they are (oversized or broken bodies).
wait_for_socket() waits until the VMM accepts connections.
"""
import http.client
import json
import socket
import time


class UnixHTTPConnection(http.client.HTTPConnection):
    """HTTPConnection whose transport is an AF_UNIX stream socket."""

    def __init__(self, path, timeout=60):
        super().__init__("localhost", timeout=timeout)
        self.unix_path = str(path)

    def connect(self):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(self.timeout)
        s.connect(self.unix_path)
        self.sock = s


class ApiClient:
    def __init__(self, path, timeout=60):
        self.path = str(path)
        self.timeout = timeout

    def request(self, method, url, body=None):
        """One request on a fresh connection; (status, JSON or None)."""
        conn = UnixHTTPConnection(self.path, self.timeout)
        try:
            data = None
            headers = {}
            if body is not None:
                data = body if isinstance(body, (bytes, str)) else json.dumps(body)
                if isinstance(data, str):
                    data = data.encode()
                headers["Content-Type"] = "application/json"
            try:
                conn.request(method, url, body=data, headers=headers)
            except (BrokenPipeError, ConnectionResetError):
                # The server may answer (e.g. 400 for an oversized body) and
                # close before reading it all; its answer is still there.
                pass
            resp = conn.getresponse()
            raw = resp.read()
            # strict=False: micro_http's error body (Firecracker's answer to a
            # request it cannot parse) has a raw line break in its string.
            return resp.status, (json.loads(raw, strict=False) if raw else None)
        finally:
            conn.close()

    def get(self, url):
        return self.request("GET", url)

    def put(self, url, body):
        return self.request("PUT", url, body)

    def patch(self, url, body):
        return self.request("PATCH", url, body)

    def raw(self, data, timeout=30, shut=False, sock=None, until_timeout=False):
        """Sends raw bytes (then, with shut, ends the sending side) and returns the
        whole answer (bytes); sock: an already connected socket to use; until_timeout:
        a socket timeout ends the answer instead of failing (read_answer)."""
        s = sock
        if s is None:
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            s.settimeout(timeout)
            s.connect(self.path)
        try:
            try:
                s.sendall(data)
                if shut:
                    s.shutdown(socket.SHUT_WR)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the server answered and closed before reading it all
            return read_answer(s, until_timeout)
        finally:
            s.close()


def read_answer(s, until_timeout=False):
    """The bytes s receives until EOF or a reset (until_timeout: or a timeout)."""
    ends = (ConnectionResetError, socket.timeout) if until_timeout else ConnectionResetError
    out = b""
    while True:
        try:
            chunk = s.recv(65536)
        except ends:
            break
        if not chunk:
            break
        out += chunk
    return out


def wait_for_socket(path, proc=None, timeout=30):
    """Waits until path accepts connections; fails early if proc exits."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise AssertionError(f"volt exited ({proc.returncode}) before its API socket "
                                 f"was ready")
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            s.connect(str(path))
            return
        except OSError:
            time.sleep(0.01)
        finally:
            s.close()
    raise AssertionError(f"no API socket at {path} within {timeout}s")
