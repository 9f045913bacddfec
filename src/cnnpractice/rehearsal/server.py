"""A loopback-only static HTTP server for the miniatures (standard library ``http.server``).

It serves the files under one folder (``<out>/mirror``) with ``Content-Length`` and
single-range ``Range: bytes=a-b`` requests (206 / 416), as nilearn's resuming fetcher
sends them; no directory listings. It binds to a loopback address only (127.0.0.1,
::1 or ``localhost``) and refuses any other host with ValueError: nothing beyond this
machine can reach the miniatures, and no test can open a port to the network.

From Python (a test)::

    with serve(root) as server:        # port 0: a free port picked by the kernel
        urlopen(server.url + "/zenodo.org/api/records/11191011")

From make (a background process, its URL and pid in a state file)::

    python -m cnnpractice.rehearsal.server start ROOT --state .rehearsal/server.json
    python -m cnnpractice.rehearsal.server stop --state .rehearsal/server.json

``start`` returns once the server listens (the state file holds ``url`` and ``pid``);
``stop`` sends SIGTERM to that pid only and waits for it to exit.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import http.server
import ipaddress
import json
import logging
import os
import signal
import socket
import socketserver
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

from cnnpractice.io import write_json

log = logging.getLogger("cnnpractice.rehearsal")
LOOPBACK_NAMES = ("localhost",)


def check_loopback(host: str) -> str:
    """``host`` if it names a loopback address, else ValueError naming it."""
    if host in LOOPBACK_NAMES:
        return "127.0.0.1"
    try:
        if ipaddress.ip_address(host).is_loopback:
            return host
    except ValueError:
        pass
    raise ValueError(f"the rehearsal server binds to loopback addresses only (127.0.0.1, ::1), not {host!r}")


class _Handler(http.server.SimpleHTTPRequestHandler):
    """Static files with Content-Length and single byte ranges; no listings; quiet logs."""

    def list_directory(self, path):
        self.send_error(404, "no directory listings")
        return None

    def log_message(self, format, *args):  # the base class names it "format"
        log.debug("rehearsal server: " + format, *args)

    def send_head(self):
        path = self.translate_path(self.path)
        if os.path.isdir(path) or not os.path.isfile(path):
            self.send_error(404, "not found")
            return None
        size = os.path.getsize(path)
        start, end = 0, size - 1
        wanted = self.headers.get("Range")
        if wanted:
            unit, _, spec = wanted.partition("=")
            first, _, last = spec.partition("-")
            try:
                if unit.strip() != "bytes" or "," in spec:
                    raise ValueError(wanted)
                if first:
                    start, end = int(first), min(int(last), size - 1) if last else size - 1
                else:  # suffix range: the last N bytes
                    start = max(size - int(last), 0)
            except ValueError:
                start, end = -1, -1
            if not (0 <= start <= end < size):
                self.send_response(416)
                self.send_header("Content-Range", f"bytes */{size}")
                self.send_header("Content-Length", "0")
                self.end_headers()
                return None
        fh = open(path, "rb")  # the base class closes it after copyfile
        fh.seek(start)
        self.send_response(206 if wanted else 200)
        self.send_header("Content-Type", self.guess_type(path))
        self.send_header("Content-Length", str(end - start + 1))
        self.send_header("Accept-Ranges", "bytes")
        if wanted:
            self.send_header("Content-Range", f"bytes {start}-{end}/{size}")
        self.end_headers()
        self._remaining = end - start + 1
        return fh

    def copyfile(self, source, outputfile):
        remaining = getattr(self, "_remaining", None)
        while remaining is None or remaining > 0:
            chunk = source.read(1 << 20 if remaining is None else min(1 << 20, remaining))
            if not chunk:
                break
            outputfile.write(chunk)
            if remaining is not None:
                remaining -= len(chunk)


class _Server(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def server_bind(self):  # skip HTTPServer's reverse DNS lookup of the host name
        socketserver.TCPServer.server_bind(self)
        self.server_name, self.server_port = self.server_address[:2]


class _V6Server(_Server):
    address_family = socket.AF_INET6


class Server:
    """A running server: ``url`` (``http://127.0.0.1:<port>``), ``root``, ``stop()``."""

    def __init__(self, root: str | os.PathLike, host: str = "127.0.0.1", port: int = 0):
        self.root = Path(root).resolve()
        if not self.root.is_dir():
            raise FileNotFoundError(f"rehearsal server: {self.root} is not a folder")
        host = check_loopback(host)
        cls = _V6Server if ":" in host else _Server
        self._httpd = cls((host, port), functools.partial(_Handler, directory=str(self.root)))
        self.host, self.port = host, self._httpd.server_address[1]
        self.url = f"http://{'[' + host + ']' if ':' in host else host}:{self.port}"
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, name="rehearsal-server", daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=10)


@contextlib.contextmanager
def serve(root: str | os.PathLike, host: str = "127.0.0.1", port: int = 0) -> Iterator[Server]:
    """Serve ``root`` on ``host`` (loopback only) for the ``with`` block."""
    server = Server(root, host, port)
    try:
        yield server
    finally:
        server.stop()


# --------------------------------------------------------------------------- processes (make)


def _run_foreground(root: Path, host: str, port: int, state: Path) -> int:
    server = Server(root, host, port)
    stopping = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopping.set())
    signal.signal(signal.SIGINT, lambda *_: stopping.set())
    write_json(state, {"url": server.url, "pid": os.getpid(), "root": str(server.root)})
    try:
        while not stopping.wait(0.2):
            pass
    finally:
        server.stop()
        state.unlink(missing_ok=True)
    return 0


def start_background(
    root: str | os.PathLike, state: str | os.PathLike, host: str = "127.0.0.1", port: int = 0, timeout: float = 30.0
) -> dict:
    """Start ``serve`` in a child process; return the state (``url``, ``pid``) once it listens."""
    check_loopback(host)  # the same refusal as in the child, but here, with a clear message
    state = Path(state)
    if state.exists():
        raise FileExistsError(
            f"{state} exists: a rehearsal server may be running; stop it first (stop --state {state})"
        )
    cmd = [
        sys.executable,
        "-m",
        "cnnpractice.rehearsal.server",
        "serve",
        str(root),
        "--host",
        host,
        "--port",
        str(port),
        "--state",
        str(state),
    ]
    child = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, start_new_session=True)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if state.is_file():
            return json.loads(state.read_text())
        if child.poll() is not None:
            raise RuntimeError(f"the rehearsal server exited with status {child.returncode} before listening")
        time.sleep(0.05)
    child.terminate()
    raise TimeoutError(f"the rehearsal server did not write {state} within {timeout:g} s")


def stop_background(state: str | os.PathLike, timeout: float = 10.0) -> bool:
    """Stop the server recorded in ``state`` (SIGTERM to its pid); False when none was recorded."""
    state = Path(state)
    try:
        pid = int(json.loads(state.read_text())["pid"])
    except (OSError, ValueError, KeyError):
        return False
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        state.unlink(missing_ok=True)
        return False
    deadline = time.monotonic() + timeout
    while state.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    return True


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m cnnpractice.rehearsal.server")
    sub = parser.add_subparsers(dest="command", required=True)
    for name in ("serve", "start"):
        p = sub.add_parser(name)
        p.add_argument("root", type=Path)
        p.add_argument("--host", default="127.0.0.1")
        p.add_argument("--port", type=int, default=0)
        p.add_argument("--state", type=Path, required=True)
    sub.add_parser("stop").add_argument("--state", type=Path, required=True)
    args = parser.parse_args(argv)
    if args.command == "serve":
        return _run_foreground(args.root, args.host, args.port, args.state)
    if args.command == "start":
        print(start_background(args.root, args.state, args.host, args.port)["url"])
        return 0
    return 0 if stop_background(args.state) else 1


if __name__ == "__main__":
    raise SystemExit(main())
