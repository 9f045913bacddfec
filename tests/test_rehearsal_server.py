"""The loopback-only static server of the rehearsal: Content-Length, ranges, refusals."""

import json
import urllib.error
import urllib.request

import pytest
from rehearsal_support import loopback  # noqa: F401  (fixture)

from cnnpractice.rehearsal.server import Server, check_loopback, serve, start_background, stop_background

DATA = bytes(range(256)) * 40  # 10,240 bytes


@pytest.fixture
def root(tmp_path):
    (tmp_path / "host.org" / "dir").mkdir(parents=True)
    (tmp_path / "host.org" / "dir" / "file.bin").write_bytes(DATA)
    return tmp_path


def get(url, headers=None):
    with urllib.request.urlopen(urllib.request.Request(url, headers=headers or {}), timeout=10) as response:
        return response.status, dict(response.headers), response.read()


@pytest.mark.usefixtures("loopback")
def test_serves_a_file_with_its_length(root):
    with serve(root) as server:
        assert server.url.startswith("http://127.0.0.1:") and server.port > 0
        status, headers, body = get(server.url + "/host.org/dir/file.bin")
    assert status == 200 and int(headers["Content-Length"]) == len(DATA) and body == DATA


@pytest.mark.parametrize(
    "spec, status, expected",
    [
        ("bytes=0-9", 206, DATA[:10]),
        ("bytes=10000-", 206, DATA[10000:]),
        ("bytes=-5", 206, DATA[-5:]),
        ("bytes=100-99999", 206, DATA[100:]),
    ],
)
@pytest.mark.usefixtures("loopback")
def test_serves_byte_ranges(root, spec, status, expected):
    with serve(root) as server:
        got_status, headers, body = get(server.url + "/host.org/dir/file.bin", {"Range": spec})
    assert (got_status, body) == (status, expected)
    assert int(headers["Content-Length"]) == len(expected)
    assert headers["Content-Range"].endswith(f"/{len(DATA)}")


@pytest.mark.parametrize(
    "path, headers, code",
    [
        ("/host.org/dir/file.bin", {"Range": "bytes=20000-"}, 416),
        ("/host.org/dir/", {}, 404),
        ("/host.org/missing", {}, 404),
        ("/../../etc/passwd", {}, 404),
    ],
)
@pytest.mark.usefixtures("loopback")
def test_refuses_bad_ranges_listings_and_escapes(root, path, headers, code):
    with serve(root) as server, pytest.raises(urllib.error.HTTPError) as err:
        get(server.url + path, headers)
    assert err.value.code == code


@pytest.mark.parametrize("host", ["0.0.0.0", "192.168.1.10", "::", "example.org", ""])
def test_refuses_to_bind_beyond_loopback(root, tmp_path, host):
    with pytest.raises(ValueError, match="loopback addresses only"):
        Server(root, host=host)
    with pytest.raises(ValueError, match="loopback addresses only"):
        start_background(root, tmp_path / "state.json", host=host)


@pytest.mark.parametrize("host, bound", [("127.0.0.1", "127.0.0.1"), ("localhost", "127.0.0.1"), ("::1", "::1")])
def test_loopback_names(host, bound):
    assert check_loopback(host) == bound


@pytest.mark.usefixtures("loopback")
def test_background_server_for_make(root, tmp_path):
    state = tmp_path / "state" / "server.json"
    info = start_background(root, state)
    try:
        assert json.loads(state.read_text())["url"] == info["url"]
        assert get(info["url"] + "/host.org/dir/file.bin")[2] == DATA
        with pytest.raises(FileExistsError, match="may be running"):
            start_background(root, state)
    finally:
        assert stop_background(state)
    assert not state.exists() and not stop_background(state)
