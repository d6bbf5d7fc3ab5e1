"""The loopback file server that feeds the browser runner: containment, headers, binding."""

from __future__ import annotations

import http.client
import os
import socket
from pathlib import Path

import psutil
import pytest

from vt_core.runners.browser.server import JobFileServer, PathRejected, resolve_request_path


@pytest.fixture()
def served(tmp_path: Path) -> tuple[Path, Path]:
    """Return (root, outside): a served folder with a few files and a secret next to it."""
    root = tmp_path / "job"
    root.mkdir()
    (root / "index.html").write_text("<!doctype html><p>runner</p>")
    (root / "runner.mjs").write_text("export const x = 1;")
    (root / "legacy.js").write_text("var x = 1;")
    (root / "model.onnx").write_bytes(b"\x08\x07onnx")
    (root / "ort").mkdir()
    (root / "ort" / "ort-wasm-simd-threaded.wasm").write_bytes(b"\x00asm\x01\x00\x00\x00")
    outside = tmp_path / "secret.txt"
    outside.write_text("do not serve")
    return root, outside


def request(server: JobFileServer, path: str, *, method: str = "GET", host: str | None = None) -> http.client.HTTPResponse:
    """Send `path` byte for byte (no client-side normalisation) and return the response."""
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    connection.putrequest(method, path, skip_host=True, skip_accept_encoding=True)
    connection.putheader("Host", host or f"127.0.0.1:{server.port}")
    connection.endheaders()
    response = connection.getresponse()
    response.body = response.read()  # type: ignore[attr-defined]
    connection.close()
    return response


def test_server_serves_file_with_isolation_headers(served):
    root, _ = served
    with JobFileServer(root) as server:
        response = request(server, "/index.html")
    assert response.status == 200
    assert response.body == (root / "index.html").read_bytes()  # type: ignore[attr-defined]
    assert response.getheader("Cross-Origin-Opener-Policy") == "same-origin"
    assert response.getheader("Cross-Origin-Embedder-Policy") == "require-corp"
    assert response.getheader("Content-Type").startswith("text/html")


@pytest.mark.parametrize(
    ("path", "mime"),
    [
        ("/runner.mjs", "text/javascript"),
        ("/legacy.js", "text/javascript"),
        ("/ort/ort-wasm-simd-threaded.wasm", "application/wasm"),
        ("/model.onnx", "application/octet-stream"),
    ],
)
def test_server_mime_types(served, path, mime):
    root, _ = served
    with JobFileServer(root) as server:
        response = request(server, path)
    assert response.status == 200
    assert response.getheader("Content-Type").split(";")[0] == mime


def test_server_head_has_length_no_body(served):
    root, _ = served
    with JobFileServer(root) as server:
        response = request(server, "/model.onnx", method="HEAD")
    assert response.status == 200
    assert response.getheader("Content-Length") == str((root / "model.onnx").stat().st_size)
    assert response.body == b""  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    "path",
    [
        "/../secret.txt",
        "/ort/../../secret.txt",
        "/%2e%2e/secret.txt",
        "/%2E%2E/secret.txt",
        "/%2e%2e%2fsecret.txt",
        "/ort/%2e%2e/%2e%2e/secret.txt",
        "/..%2fsecret.txt",
        "/..%5csecret.txt",
        "/index.html%00.png",
    ],
)
def test_server_rejects_traversal(served, path):
    root, _ = served
    with JobFileServer(root) as server:
        response = request(server, path)
    assert response.status == 403, f"{path} answered {response.status}"
    assert b"do not serve" not in response.body  # type: ignore[attr-defined]


@pytest.mark.parametrize("path", ["//etc/passwd", "/etc/passwd", "http://127.0.0.1/etc/passwd", "/%2fetc%2fpasswd"])
def test_server_absolute_paths_stay_inside(served, path):
    root, _ = served
    with JobFileServer(root) as server:
        response = request(server, path)
    assert response.status == 404, f"{path} answered {response.status}"
    assert b"root:" not in response.body  # type: ignore[attr-defined]


def test_server_double_encoding_not_decoded_twice(served):
    root, _ = served
    with JobFileServer(root) as server:
        response = request(server, "/%252e%252e/secret.txt")
    assert response.status == 404


def test_server_rejects_symlink_out(served):
    root, outside = served
    (root / "link.txt").symlink_to(outside)
    (root / "linkdir").symlink_to(outside.parent, target_is_directory=True)
    with JobFileServer(root) as server:
        file_link = request(server, "/link.txt")
        dir_link = request(server, "/linkdir/secret.txt")
    assert file_link.status == 403
    assert dir_link.status == 403


def test_server_follows_symlink_inside(served):
    root, _ = served
    (root / "alias.mjs").symlink_to(root / "runner.mjs")
    with JobFileServer(root) as server:
        response = request(server, "/alias.mjs")
    assert response.status == 200


def test_server_missing_file_and_directory(served):
    root, _ = served
    with JobFileServer(root) as server:
        missing = request(server, "/nope.onnx")
        directory = request(server, "/ort/")
    assert missing.status == 404
    assert directory.status == 404


def test_server_rejects_foreign_host_header(served):
    root, _ = served
    with JobFileServer(root) as server:
        response = request(server, "/index.html", host="attacker.example:80")
    assert response.status == 421


def test_server_rejects_post(served):
    root, _ = served
    with JobFileServer(root) as server:
        response = request(server, "/index.html", method="POST")
    assert response.status == 501


def _non_loopback_addresses() -> list[str]:
    addresses = []
    for entries in psutil.net_if_addrs().values():
        for entry in entries:
            if entry.family == socket.AF_INET and not entry.address.startswith("127."):
                addresses.append(entry.address)
    return addresses


def test_server_listens_on_loopback_only(served):
    root, _ = served
    with JobFileServer(root) as server:
        assert server.base_url.startswith("http://127.0.0.1:")
        listening = [
            c for c in psutil.Process(os.getpid()).net_connections(kind="inet")
            if c.status == psutil.CONN_LISTEN and c.laddr.port == server.port
        ]
        assert [c.laddr.ip for c in listening] == ["127.0.0.1"]
        for address in _non_loopback_addresses():
            with pytest.raises(OSError):
                socket.create_connection((address, server.port), timeout=2).close()


def test_server_stop_closes_port(served):
    root, _ = served
    server = JobFileServer(root).start()
    port = server.port
    server.stop()
    server.stop()
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", port), timeout=2).close()


def test_server_two_jobs_get_distinct_ports(served, tmp_path):
    root, _ = served
    other = tmp_path / "other"
    other.mkdir()
    with JobFileServer(root) as first, JobFileServer(other) as second:
        assert first.port != second.port


def test_server_root_must_exist(tmp_path):
    with pytest.raises(FileNotFoundError):
        JobFileServer(tmp_path / "missing")


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("/index.html", "index.html"), ("/./ort/./ort-wasm-simd-threaded.wasm", "ort/ort-wasm-simd-threaded.wasm"),
     ("/index.html?v=1#top", "index.html"), ("/ort//ort-wasm-simd-threaded.wasm", "ort/ort-wasm-simd-threaded.wasm")],
)
def test_resolve_request_path_inside(served, raw, expected):
    root, _ = served
    assert resolve_request_path(root.resolve(), raw) == (root / expected).resolve()


def test_resolve_request_path_rejects_dotdot(served):
    root, _ = served
    with pytest.raises(PathRejected):
        resolve_request_path(root.resolve(), "/ort/../../secret.txt")
