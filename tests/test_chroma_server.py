"""Server mode: a real `chroma run` on a free loopback port, two app replicas sharing it."""

from __future__ import annotations

import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from rag import IndexUnavailableError
from tests.support import DOC_002, LIN_YUN_QUESTION, SEED_SOURCES

pytestmark = pytest.mark.slow

NEW_SENTENCE = "The llama herders of Patagonia voted to adopt solar-powered shears in 2031."
NEW_QUESTION = "What did the llama herders of Patagonia vote to adopt?"
ROBUSTNESS_QUESTION = "What urgency level does the table give model robustness?"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _chroma_executable() -> str:
    beside = Path(sys.executable).parent / "chroma"
    found = str(beside) if beside.exists() else shutil.which("chroma")
    assert found, "the `chroma` command (chromadb's server) is not installed"
    return found


class ChromaServer:
    """`chroma run --path DIR --host 127.0.0.1 --port N` as a child process."""

    def __init__(self, data: Path, log: Path) -> None:
        self.data = data
        self.log = log
        self.port = 0
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 90, same_port: bool = False) -> None:
        if not (same_port and self.port):
            self.port = _free_port()
        with self.log.open("a") as log:
            self.process = subprocess.Popen(
                [_chroma_executable(), "run", "--path", str(self.data)]
                + ["--host", "127.0.0.1", "--port", str(self.port)],
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"chroma exited early: {self.log.read_text()[-2000:]}")
            with socket.socket() as sock:
                if sock.connect_ex(("127.0.0.1", self.port)) == 0:
                    return
            time.sleep(0.3)
        raise AssertionError(f"chroma did not listen within {timeout}s")

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


@pytest.fixture
def chroma_server(tmp_path: Path) -> Iterator[ChromaServer]:
    server = ChromaServer(tmp_path / "chroma-data", tmp_path / "chroma.log")
    server.start()
    yield server
    server.stop()


def _replica(corpus: Path, tmp_path: Path, server: ChromaServer, name: str):
    from rag import Assistant

    # index_dir points at a folder that must stay unused: the data lives in the server.
    unused = tmp_path / f"unused-{name}"
    return Assistant(corpus_dir=corpus, index_dir=unused, chroma_url=server.url)


def _assert_verbatim(assistant, answer) -> None:
    assert answer.citations
    for c in answer.citations:
        assert assistant.document_text(c.source)[c.start : c.end] == c.quote


def test_server_mode_ingests_answers_and_survives_a_restart(
    corpus_copy: Path, tmp_path: Path, chroma_server: ChromaServer
) -> None:
    first = _replica(corpus_copy, tmp_path, chroma_server, "first")
    report = first.ingest()
    assert sorted(report.added) == sorted(SEED_SOURCES) and report.embedded > 0
    answer = first.ask(LIN_YUN_QUESTION)
    assert not answer.refused, answer.note
    _assert_verbatim(first, answer)
    assert not (tmp_path / "unused-first").exists()  # nothing went to an embedded store
    assert (chroma_server.data / "chroma.sqlite3").exists()

    chroma_server.stop()
    chroma_server.start()  # same data folder, a new port

    after = _replica(corpus_copy, tmp_path, chroma_server, "after")
    assert [s["source"] for s in after.sources()] == sorted(SEED_SOURCES)
    again = after.ask(LIN_YUN_QUESTION)
    assert not again.refused, again.note
    assert again.text == answer.text
    assert [(c.source, c.start, c.end) for c in again.citations] == [
        (c.source, c.start, c.end) for c in answer.citations
    ]
    _assert_verbatim(after, again)
    report = after.ingest()
    assert sorted(report.unchanged) == sorted(SEED_SOURCES)
    assert report.embedded == 0 and report.reused == 0


def test_two_replicas_on_one_server_agree_after_ingests_and_deletes(
    corpus_copy: Path, tmp_path: Path, chroma_server: ChromaServer
) -> None:
    writer = _replica(corpus_copy, tmp_path, chroma_server, "writer")
    reader = _replica(corpus_copy, tmp_path, chroma_server, "reader")
    writer.ingest()
    assert not reader.ask(LIN_YUN_QUESTION).refused  # the reader builds its caches now

    (corpus_copy / "notes.md").write_text("# Field notes\n\n" + NEW_SENTENCE + "\n")
    (corpus_copy / DOC_002).unlink()
    report = writer.ingest()
    assert report.added == ["notes.md"] and report.removed == [DOC_002]
    # DOC_002 was more than half of the sentences: the writer compacted after the ingest,
    # and switched to a new sentence collection.
    assert report.compacted and writer.index.dead_sentences() == 0

    # The reader's catalog and BM25 index were built before; it must see the writer's change
    # and read the sentence collection the writer switched to.
    assert sorted(s["source"] for s in reader.sources()) == sorted(
        [s for s in SEED_SOURCES if s != DOC_002] + ["notes.md"]
    )
    new = reader.ask(NEW_QUESTION)
    assert not new.refused, new.note
    assert new.citations[0].source == "notes.md" and new.citations[0].quote == NEW_SENTENCE
    assert any(p["source"] == "notes.md" and p["bm25"] > 0 for p in new.retrieved)
    gone = reader.ask(ROBUSTNESS_QUESTION)
    assert all(p["source"] != DOC_002 for p in gone.retrieved)
    assert DOC_002 not in {c.source for c in gone.citations}

    lexical = reader.retriever.lexical()
    assert lexical.size == sum(len(d.passages) for d in reader.index.documents().values())
    assert all(hit[1] != DOC_002 for hit in lexical.search("model robustness urgency", 50))


def test_an_unreachable_server_is_a_clear_error(corpus_copy: Path, tmp_path: Path) -> None:
    from rag import Assistant

    url = f"http://127.0.0.1:{_free_port()}"  # nothing listens there
    assistant = Assistant(corpus_dir=corpus_copy, index_dir=tmp_path / "unused", chroma_url=url)
    with pytest.raises(IndexUnavailableError, match="Cannot reach the Chroma server") as info:
        assistant.sources()
    assert "RAG_CHROMA_URL" in str(info.value) and url in str(info.value)


def test_a_malformed_server_address_is_a_clear_error(corpus_copy: Path, tmp_path: Path) -> None:
    from rag import Assistant

    assistant = Assistant(corpus_dir=corpus_copy, index_dir=tmp_path / "x", chroma_url="ftp://h")
    with pytest.raises(IndexUnavailableError, match="not a server address"):
        assistant.ask(LIN_YUN_QUESTION)


def test_a_server_that_goes_down_is_a_clear_error_and_answers_again_when_back(
    corpus_copy: Path, tmp_path: Path, chroma_server: ChromaServer
) -> None:
    assistant = _replica(corpus_copy, tmp_path, chroma_server, "live")
    assistant.ingest()
    answer = assistant.ask(LIN_YUN_QUESTION)
    assert not answer.refused

    chroma_server.stop()
    with pytest.raises(IndexUnavailableError, match="Chroma server") as info:
        assistant.ask(LIN_YUN_QUESTION)
    assert chroma_server.url in str(info.value)
    with pytest.raises(IndexUnavailableError, match="Chroma server"):
        assistant.ingest()

    chroma_server.start(same_port=True)  # back where the assistant expects it
    again = assistant.ask(LIN_YUN_QUESTION)
    assert again.text == answer.text
    _assert_verbatim(assistant, again)
