"""The web app end to end: a real server process on a free loopback port, real HTTP."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait_for(port: int, process: subprocess.Popen, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"app exited early with code {process.returncode}")
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.5)
    raise AssertionError(f"app did not listen on port {port} within {timeout}s")


@pytest.fixture(scope="module")
def app_url(tmp_path_factory):
    corpus = tmp_path_factory.mktemp("app") / "corpus"
    shutil.copytree(ROOT / "corpus", corpus)
    port = _free_port()
    env = os.environ | {
        "RAG_CORPUS_DIR": str(corpus),
        "RAG_INDEX_DIR": str(corpus.parent / "index"),
        "RAG_PORT": str(port),
        "HF_HUB_OFFLINE": "1",
        "GRADIO_ANALYTICS_ENABLED": "False",
    }
    log = (corpus.parent / "app.log").open("w")
    process = subprocess.Popen(
        [sys.executable, str(ROOT / "app.py")], env=env, stdout=log, stderr=subprocess.STDOUT
    )
    try:
        _wait_for(port, process)
        yield f"http://127.0.0.1:{port}/"
    finally:
        process.terminate()
        process.wait(timeout=30)
        log.close()


@pytest.mark.slow
def test_ask_endpoint_answers_with_verbatim_citations(app_url):
    from gradio_client import Client

    client = Client(app_url, verbose=False)
    answer = client.predict("What did Lin Yun predict about attackers?", api_name="/ask")
    assert answer["refused"] is False
    assert "[1]" in answer["text"]
    sources = {c["source"] for c in answer["citations"]}
    assert sources & {"000_3352f58531bdc83d.txt", "003_42a55515484a5374.txt"}
    quotes = " ".join(c["quote"] for c in answer["citations"])
    assert "upper hand" in quotes or "near-term advantage" in quotes
    for c in answer["citations"]:
        text = (ROOT / "corpus" / c["source"]).read_text(encoding="utf-8")
        assert text[c["start"] : c["end"]] == c["quote"]


@pytest.mark.slow
def test_ask_endpoint_refuses_off_topic(app_url):
    from gradio_client import Client

    answer = Client(app_url, verbose=False).predict(
        "What is the capital of France?", api_name="/ask"
    )
    assert answer["refused"] is True
    assert answer["citations"] == []
