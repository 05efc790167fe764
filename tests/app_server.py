"""`python app.py` as a user starts it: a real process on a free loopback port.

Servers are shared by the test modules that need the same configuration (starting
one indexes the corpus, the expensive part), and stopped at the end of the session.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from tests.support import ROOT, copy_corpus

STARTUP_LIMIT = 600  # seconds; a bound for a loaded CI machine, not a speed target

AUTH = ("reader", "s3cret-pass")
# The shared app refuses uploads over 1 MB, so the limit can be tested with a small file.
MAX_FILE_MB = "1"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class AppServer:
    url: str
    port: int
    corpus: Path
    index: Path
    log_path: Path
    process: subprocess.Popen
    env: dict[str, str] = field(default_factory=dict)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=30)


_servers: dict[tuple, AppServer] = {}
_lock = threading.Lock()


def start_app(folder: Path, **settings: str) -> AppServer:
    """Start app.py over a fresh corpus copy and an empty index folder; wait until it listens."""
    corpus = copy_corpus(folder / "corpus")
    index = folder / "index"
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("RAG_")}
    env |= {
        "RAG_CORPUS_DIR": str(corpus),
        "RAG_INDEX_DIR": str(index),
        "RAG_PORT": str(port),
        "HF_HUB_OFFLINE": "1",
        "GRADIO_ANALYTICS_ENABLED": "False",
        **{f"RAG_{k.upper()}": v for k, v in settings.items()},
    }
    log_path = folder / "app.log"
    with log_path.open("w") as log:
        process = subprocess.Popen(
            [sys.executable, str(ROOT / "app.py")],
            env=env,
            cwd=folder,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    server = AppServer(f"http://127.0.0.1:{port}/", port, corpus, index, log_path, process, env)
    deadline = time.monotonic() + STARTUP_LIMIT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"app exited with code {process.returncode}:\n{server.log()}")
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return server
        time.sleep(0.5)
    server.stop()
    raise AssertionError(f"app did not listen on port {port}:\n{server.log()}")


def shared_app(tmp_path_factory, request, **settings: str) -> AppServer:
    """One server per configuration for the whole session, whichever module asks first."""
    key = tuple(sorted(settings.items()))
    with _lock:
        server = _servers.get(key)
        if server is None or server.process.poll() is not None:
            server = start_app(tmp_path_factory.mktemp("app"), **settings)
            _servers[key] = server
    request.addfinalizer(server.stop)
    return server


def plain_app(tmp_path_factory, request) -> AppServer:
    return shared_app(tmp_path_factory, request, max_file_mb=MAX_FILE_MB)


def auth_app(tmp_path_factory, request) -> AppServer:
    return shared_app(tmp_path_factory, request, auth=":".join(AUTH))
