"""A loopback HTTP server that serves one job folder to the browser.

ONNX Runtime Web runs its WebAssembly threads only in a cross-origin isolated
page, so every response carries `Cross-Origin-Opener-Policy: same-origin` and
`Cross-Origin-Embedder-Policy: require-corp`. WebGPU and WebNN also need a
secure context, which `http://127.0.0.1` is.

The server binds 127.0.0.1 on a port the OS picks and serves GET and HEAD for
regular files inside its root folder only. A request whose path leaves the root
(`..` segments, percent-encoded dots, absolute paths, symlinks that resolve
outside) gets 403; anything else that is not a regular file gets 404. Requests
whose Host header is not the server's own address get 421, which blocks DNS
rebinding from other pages.
"""

from __future__ import annotations

import http.server
import logging
import os
import shutil
import threading
import urllib.parse
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

LOOPBACK = "127.0.0.1"

MIME_TYPES: dict[str, str] = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".mjs": "text/javascript; charset=utf-8",
    ".json": "application/json",
    ".wasm": "application/wasm",
    ".onnx": "application/octet-stream",
    ".bin": "application/octet-stream",
    ".data": "application/octet-stream",
    ".map": "application/json",
}
DEFAULT_MIME_TYPE = "application/octet-stream"

ISOLATION_HEADERS: dict[str, str] = {
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Embedder-Policy": "require-corp",
    "Cross-Origin-Resource-Policy": "same-origin",
}

_CHUNK_BYTES = 1 << 20


class PathRejected(Exception):
    """A request path that points outside the served folder."""


def resolve_request_path(root: Path, raw_path: str) -> Path:
    """Map a request target to a file path inside `root`.

    `root` must already be resolved. Raises PathRejected when the decoded path
    has a `..` segment, a NUL byte or a backslash, or resolves (after following
    symlinks) outside `root`. Raises FileNotFoundError when nothing is there.
    """
    path = urllib.parse.urlsplit(raw_path).path
    decoded = urllib.parse.unquote(path, errors="strict")
    if "\x00" in decoded or "\\" in decoded:
        raise PathRejected(raw_path)
    segments = [segment for segment in decoded.split("/") if segment not in ("", ".")]
    if any(segment == ".." for segment in segments):
        raise PathRejected(raw_path)
    candidate = root.joinpath(*segments) if segments else root
    # resolve() follows every symlink, so a link inside the folder that points
    # out is caught by the containment check below.
    resolved = candidate.resolve(strict=True)
    if resolved != root and root not in resolved.parents:
        raise PathRejected(raw_path)
    return resolved


class _JobRequestHandler(http.server.BaseHTTPRequestHandler):
    server: "_JobHTTPServer"
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:  # noqa: N802 - name fixed by BaseHTTPRequestHandler
        self._serve(send_body=True)

    def do_HEAD(self) -> None:  # noqa: N802
        self._serve(send_body=False)

    def _serve(self, *, send_body: bool) -> None:
        if self.headers.get("Host") not in self.server.allowed_hosts:
            self._send_error(421, "misdirected request: Host header is not this server")
            return
        try:
            path = resolve_request_path(self.server.root, self.path)
        except PathRejected:
            log.warning("rejected request for %r outside %s", self.path, self.server.root)
            self._send_error(403, "forbidden: path is outside the served folder")
            return
        except (FileNotFoundError, NotADirectoryError, UnicodeDecodeError, OSError):
            self._send_error(404, "not found")
            return
        if path.is_dir():
            path = path / "index.html"
        if not path.is_file():
            self._send_error(404, "not found")
            return

        size = path.stat().st_size
        self.send_response(200)
        self.send_header("Content-Type", MIME_TYPES.get(path.suffix.lower(), DEFAULT_MIME_TYPE))
        self.send_header("Content-Length", str(size))
        self.send_header("Cache-Control", "no-store")
        for name, value in ISOLATION_HEADERS.items():
            self.send_header(name, value)
        self.end_headers()
        if not send_body:
            return
        try:
            with path.open("rb") as handle:
                shutil.copyfileobj(handle, self.wfile, _CHUNK_BYTES)
        except (BrokenPipeError, ConnectionResetError):
            log.debug("client closed the connection while reading %s", path)

    def _send_error(self, code: int, message: str) -> None:
        body = (message + "\n").encode()
        self.send_response(code)
        self.send_header("Content-Type", "text/plain; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        for name, value in ISOLATION_HEADERS.items():
            self.send_header(name, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - signature fixed by the base class
        log.debug("%s %s", self.address_string(), format % args)


class _JobHTTPServer(http.server.ThreadingHTTPServer):
    daemon_threads = True
    root: Path
    allowed_hosts: frozenset[str]


class JobFileServer:
    """Serve one folder on 127.0.0.1 for as long as the job runs.

    Use as a context manager; `base_url` is valid between start and stop.
    """

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root).resolve(strict=True)
        if not self.root.is_dir():
            raise NotADirectoryError(f"served folder {self.root} is not a directory")
        self._server: _JobHTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("the file server is not running; call start() first")
        return int(self._server.server_address[1])

    @property
    def base_url(self) -> str:
        return f"http://{LOOPBACK}:{self.port}/"

    def url(self, relative: str) -> str:
        """Return the URL of a file given by its path relative to the root."""
        return self.base_url + urllib.parse.quote(relative.lstrip("/"))

    def start(self) -> "JobFileServer":
        """Bind a free loopback port and serve from a daemon thread."""
        if self._server is not None:
            return self
        server = _JobHTTPServer((LOOPBACK, 0), _JobRequestHandler)
        server.root = self.root
        port = server.server_address[1]
        server.allowed_hosts = frozenset({f"{LOOPBACK}:{port}", f"localhost:{port}"})
        self._server = server
        self._thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, name=f"vt-file-server-{port}", daemon=True)
        self._thread.start()
        log.info("serving %s on %s", self.root, self.base_url)
        return self

    def stop(self) -> None:
        """Stop serving and close the socket; safe to call twice."""
        server, thread = self._server, self._thread
        self._server = self._thread = None
        if server is None:
            return
        server.shutdown()
        server.server_close()
        if thread is not None:
            thread.join(timeout=5)
        log.info("stopped serving %s", self.root)

    def __enter__(self) -> "JobFileServer":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
