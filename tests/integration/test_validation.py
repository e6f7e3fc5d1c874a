"""One rule per field, worded by the front-end that received it (issue #10, section 5).

The same bad value given to `volt run`, to the API and in a --config-file is
refused by all three, and each message names the input as that front-end
spells it (--vsock cid=, vsock: guest_cid, --config-file '...': vsock: ...).
Messages never carry raw control bytes from the input. No guest boots.
"""
import json
import subprocess

import pytest

from api_client import ApiClient, UnixHTTPConnection, wait_for_socket
from conftest import GUESTS, VOLT

QUICK = 15


def run(*args):
    return subprocess.run([str(VOLT), *map(str, args)], capture_output=True, text=True,
                          timeout=QUICK, stdin=subprocess.DEVNULL)


# (name, CLI args, CLI words, API (method, url, body), API words, config file, file words)
def cases(tmp_path):
    disk = tmp_path / "disk.img"
    disk.write_bytes(b"\0" * 4096)
    hello = str(GUESTS / "hello")
    drive = {"path_on_host": str(disk), "is_root_device": False}
    return [
        ("guest_cid_any",
         ["--vsock", f"cid=4294967295,uds={tmp_path}/v.sock"],
         f"--vsock 'cid=4294967295,uds={tmp_path}/v.sock': cid 4294967295 is VMADDR_CID_ANY",
         ("PUT", "/vsock", {"guest_cid": 4294967295, "uds_path": f"{tmp_path}/v.sock"}),
         "vsock: guest_cid: 4294967295 is VMADDR_CID_ANY",
         {"vsock": {"guest_cid": 4294967295, "uds_path": f"{tmp_path}/v.sock"}},
         "vsock: guest_cid: 4294967295 is VMADDR_CID_ANY"),
        ("balloon_stats",
         ["--balloon", "16,stats=70000"],
         "--balloon '16,stats=70000': stats='70000' is not a number of seconds (0 to 65535)",
         ("PUT", "/balloon", {"amount_mib": 16, "deflate_on_oom": False,
                              "stats_polling_interval_s": 70000}),
         "invalid value: integer `70000`, expected u16 at line 1 column 77.",
         {"balloon": {"amount_mib": 16, "deflate_on_oom": False,
                      "stats_polling_interval_s": 70000}},
         "balloon: stats_polling_interval_s: 70000 is more than 65535"),
        ("drive_id_path",
         ["--drive", f"path={disk},id=../x"],
         f"--drive 'path={disk},id=../x': id: '../x' may only hold letters, digits and '_'",
         # The API compares the body's id with the path's first, as Firecracker.
         ("PUT", "/drives/x", dict(drive, drive_id="../x")),
         "The id from the path does not match the id from the body!",
         {"drives": [dict(drive, drive_id="../x")]},
         "drive: drive_id: '../x' may only hold"),
        ("drive_id_empty",
         ["--drive", f"path={disk},id="],
         "id: must not be empty",
         ("PUT", "/drives/x", dict(drive, drive_id="")),
         "The id from the path does not match the id from the body!",
         {"drives": [dict(drive, drive_id="")]},
         "drive: drive_id: must not be empty"),
        ("drive_id_twice",
         ["--drive", f"path={disk},id=a", "--drive", f"path={disk},id=a"],
         f"--drive 'path={disk},id=a': id 'a' is already another --drive's",
         None, None,
         {"drives": [dict(drive, drive_id="a"), dict(drive, drive_id="a")]},
         "drive: drive_id: 'a' appears twice"),
    ], hello


@pytest.mark.parametrize("name", ["guest_cid_any", "balloon_stats", "drive_id_path",
                                  "drive_id_empty", "drive_id_twice"])
def test_same_rule_own_words(name, vm, tmp_path, volt_bin):
    table, hello = cases(tmp_path)
    _, cli, cli_words, api_req, api_words, cfg, cfg_words = next(c for c in table
                                                                  if c[0] == name)
    r = run("run", "--kernel", hello, *cli)
    assert r.returncode != 0 and cli_words in r.stderr, r.stderr
    assert "error:" in r.stderr, r.stderr

    if api_req:
        sock = tmp_path / "api.sock"
        p = vm("--api-sock", sock)
        wait_for_socket(sock, p.proc)
        method, url, body = api_req
        status, answer = ApiClient(sock, timeout=QUICK).request(method, url, body)
        assert status == 400, (status, answer)
        msg = answer["fault_message"]
        assert api_words in msg, msg
        assert "--" not in msg, msg  # no CLI option named to an API client

    path = tmp_path / "vm.json"
    path.write_text(json.dumps(dict({"boot-source": {"kernel_image_path": hello}}, **cfg)))
    r = run("--config-file", path, "--no-api")
    assert r.returncode != 0, r.stderr
    assert f"--config-file '{path}': {cfg_words}" in r.stderr, r.stderr


def raw_put(sock, url, body):
    conn = UnixHTTPConnection(sock, QUICK)
    try:
        conn.request("PUT", url, body=json.dumps(body).encode(),
                     headers={"Content-Type": "application/json"})
        resp = conn.getresponse()
        return resp.status, json.loads(resp.read() or b"null")
    finally:
        conn.close()


def test_url_id_with_nul_is_refused(vm, tmp_path, volt_bin):
    """PUT /drives/a%00b was decoded to "a" and accepted as drive 'a'."""
    disk = tmp_path / "disk.img"
    disk.write_bytes(b"\0" * 4096)
    sock = tmp_path / "api.sock"
    p = vm("--api-sock", sock)
    wait_for_socket(sock, p.proc)
    body = {"drive_id": "a", "path_on_host": str(disk), "is_root_device": False}
    for url in ["/drives/a%00b", "/drives/a%0a", "/drives/a%1b"]:
        status, answer = raw_put(sock, url, body)
        assert status == 400, (url, status, answer)
        assert answer["fault_message"] == ("API Resource IDs can only contain alphanumeric "
                                           "characters and underscores."), answer
    api = ApiClient(sock, timeout=QUICK)
    status, cfg = api.get("/vm/config")
    assert status == 200 and cfg["drives"] == [], cfg
    # No %-decoding at all, as in Firecracker: "a%5Fb" is not the id "a_b".
    assert raw_put(sock, "/drives/a%5Fb", dict(body, drive_id="a_b"))[0] == 400
    assert raw_put(sock, "/drives/a_b", dict(body, drive_id="a_b"))[0] == 204


def test_control_bytes_in_input_are_escaped(tmp_path, kvm, volt_bin):
    """A newline in a path must not forge a log line of its own."""
    bad = f"{tmp_path}/no\nvolt: error: forged\x1b[2J"
    r = run("run", "--kernel", bad)
    assert r.returncode != 0
    lines = r.stderr.splitlines()
    assert not any(line.startswith("volt: error: forged") for line in lines), r.stderr
    assert "\x1b" not in r.stderr, repr(r.stderr)
    assert "no\\nvolt: error: forged\\x1b[2J" in r.stderr, r.stderr


@pytest.mark.parametrize("args", [["--cmdline", "console=ttyS0"],
                                  ["--kernel", str(GUESTS / "hello")],
                                  ["--restore", "/nonexistent"]])
def test_boot_log_is_only_for_the_guest_kits_default_command_line(args, volt_bin):
    p = run("run", "--boot-log", *args)
    assert p.returncode == 1, p.stderr
    assert "--boot-log:" in p.stderr and "quiet" in p.stderr, p.stderr
