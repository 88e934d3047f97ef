"""Dataset tests never touch the network or the real home folder.

Every test gets a fresh HOME, no GLASSNET_DATA, and mirror tables that point at a closed port
on 127.0.0.1; the ``server`` fixture is a real HTTP server on 127.0.0.1 serving bytes the test
chooses, stopped when the test ends.
"""

from __future__ import annotations

import http.server
import socket
import threading
from dataclasses import dataclass, field

import pytest

from glassnet.datasets import _download, cifar10, fashion_mnist, mnist


def closed_port_url() -> str:
    """An address on 127.0.0.1 where nothing listens: connecting is refused at once."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/"


@pytest.fixture(autouse=True)
def offline_and_homeless(tmp_path_factory, monkeypatch):
    home = tmp_path_factory.mktemp("home")
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.delenv(_download.ENV_VAR, raising=False)
    dead = closed_port_url()
    for module in (mnist, fashion_mnist, cifar10):
        monkeypatch.setattr(module, "MIRRORS", (dead,))
    monkeypatch.setattr(_download, "TIMEOUT", 5.0)
    return home


@dataclass
class Server:
    """What the local server serves: ``files`` (URL path → bytes); ``cut`` (path → how many
    bytes to send before closing, while announcing the full length); ``requests`` received."""

    url: str = ""
    files: dict[str, bytes] = field(default_factory=dict)
    cut: dict[str, int] = field(default_factory=dict)
    requests: list[str] = field(default_factory=list)


class _Handler(http.server.BaseHTTPRequestHandler):
    timeout = 5  # a stuck client cannot hold the server thread

    def do_GET(self):  # the name http.server calls
        state: Server = self.server.state
        state.requests.append(self.path)
        body = state.files.get(self.path)
        if body is None:
            self.send_error(404)
            return
        self.send_response(200)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body[: state.cut.get(self.path, len(body))])

    def log_message(self, *args):
        pass


@pytest.fixture
def server():
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    httpd.daemon_threads = True
    httpd.state = Server(url=f"http://127.0.0.1:{httpd.server_address[1]}/")
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        yield httpd.state
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=5)
