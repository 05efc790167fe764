"""Crash safety: an ingestion killed with SIGKILL, then run again, equals a clean build;
a damaged index folder gives a typed error that names the fix."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from rag import IndexUnavailableError
from tests.reliability.support import (
    HERE,
    PYTHON,
    child_env,
    snapshot,
    stdlib_articles,
    write_corpus,
)

pytestmark = pytest.mark.slow

ARTICLES = 120
# Small embedding batches make several write groups (4 batches each) out of ~120 short
# documents, so a kill can land after some groups are stored.
BATCH = "16"


def ingest_until(
    corpus: Path, index: Path, kill_on: str | None, nth: int = 1, **env: str
) -> list[str]:
    """Run ingest_child.py; SIGKILL it when the nth line starting with `kill_on` appears.

    Returns the lines it announced. With kill_on None it must finish normally.
    """
    process = subprocess.Popen(
        [PYTHON, str(HERE / "ingest_child.py")],
        env=child_env(corpus, index, RAG_EMBED_BATCH_SIZE=BATCH, **env),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    lines: list[str] = []
    seen = 0
    assert process.stdout is not None
    for line in process.stdout:
        lines.append(line.rstrip("\n"))
        if kill_on and line.startswith(kill_on):
            seen += 1
            if seen == nth:
                process.send_signal(signal.SIGKILL)
                break
    process.wait(timeout=120)
    stderr = process.stderr.read() if process.stderr else ""
    if kill_on:
        assert seen == nth, f"never reached {kill_on!r} #{nth}: {lines[-5:]} {stderr[-2000:]}"
        assert process.returncode == -signal.SIGKILL
    else:
        assert process.returncode == 0, stderr[-3000:]
        assert lines[-1].startswith("done "), lines[-5:]
    return lines


def assert_consistent(state: dict) -> None:
    """No duplicates and no orphans in either collection."""
    assert state["count"] == len(state["sentence_ids"]) == len(set(state["sentence_ids"]))
    per_source: dict[str, int] = {}
    for source, _, doc_hash, _ in state["sentences"].values():
        assert source in state["records"], f"orphan sentence of {source}"
        assert state["records"][source][0] == doc_hash, f"stale sentence of {source}"
        per_source[source] = per_source.get(source, 0) + 1
    for source, (_, _, sentences, _) in state["records"].items():
        assert per_source.get(source, 0) == sentences, f"record of {source} is incomplete"


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_corpus(tmp_path_factory.mktemp("crash") / "corpus", stdlib_articles(ARTICLES))


@pytest.fixture(scope="module")
def clean_build(corpus: Path, tmp_path_factory: pytest.TempPathFactory) -> dict:
    index = tmp_path_factory.mktemp("clean") / "index"
    lines = ingest_until(corpus, index, None)
    report = json.loads(lines[-1].removeprefix("done "))
    assert len(report["added"]) == ARTICLES and report["failed"] == []
    state = snapshot(index)
    assert len(state["records"]) == ARTICLES
    assert_consistent(state)
    groups = sum(1 for line in lines if line.startswith("embedding "))
    assert groups >= 4, f"only {groups} write groups; the kill points need several"
    return state


@pytest.mark.timeout(900)
def test_ingest_killed_twice_then_finished_equals_a_clean_build(
    corpus: Path, clean_build: dict, tmp_path: Path
) -> None:
    index = tmp_path / "index"

    # 1. Killed while the model embeds the third group: the first group is stored (the
    #    second may be in the writer thread's hands).
    ingest_until(corpus, index, "embedding ", nth=3)
    after_first = snapshot(index)
    assert 0 < len(after_first["records"]) < ARTICLES

    # 2. Killed in the middle of the Chroma writes of a later document.
    written = len(after_first["records"])
    ingest_until(corpus, index, "writing ", nth=(ARTICLES - written) // 2)
    after_second = snapshot(index)
    assert written <= len(after_second["records"]) < ARTICLES

    # 3. Finished: the documents already complete are not embedded again.
    lines = ingest_until(corpus, index, None)
    report = json.loads(lines[-1].removeprefix("done "))
    assert report["failed"] == [] and report["removed"] == []
    assert len(report["added"]) + len(report["unchanged"]) == ARTICLES
    assert len(report["unchanged"]) >= written

    final = snapshot(index)
    assert_consistent(final)
    assert final["count"] == clean_build["count"]
    assert sorted(final["sentence_ids"]) == sorted(clean_build["sentence_ids"])
    assert final["sentences"] == clean_build["sentences"]  # same passages, texts, versions
    assert final["records"] == clean_build["records"]


@pytest.mark.timeout(900)
def test_kills_between_sentences_and_record_are_repaired(tmp_path: Path) -> None:
    """The narrowest windows, hit exactly: the child pauses after a document's sentences
    are stored and before its record is written, and is killed there."""
    articles = stdlib_articles(12)
    first, *_ = sorted(articles)
    corpus = write_corpus(tmp_path / "corpus", articles)
    clean, index = tmp_path / "clean", tmp_path / "index"
    ingest_until(corpus, clean, None)
    ingest_until(corpus, index, None)
    assert snapshot(index)["sentences"] == snapshot(clean)["sentences"]

    # An edited document killed mid-replacement: its record is marked pending first.
    original = (corpus / first).read_text(encoding="utf-8")
    (corpus / first).write_text(original + "\nAn edit that is never finished.\n", "utf-8")
    (corpus / "zz-new.md").write_text("# New\n\nA document added, then removed.\n", "utf-8")
    ingest_until(corpus, index, "stored ", nth=1, RAG_TEST_PAUSE_AT_STORE="1")
    state = snapshot(index)
    assert state["records"][first][0] == "", "the half-replaced record must not look complete"
    assert any("never finished" in text for *_, text in state["sentences"].values())

    # The edit is undone: the file is back to the version the old record described.
    # Then a new document is killed after its sentences, before its record (both
    # documents are one write group: its sentences are one add, then both records).
    (corpus / first).write_text(original, "utf-8")
    ingest_until(corpus, index, "stored ", nth=1, RAG_TEST_PAUSE_AT_STORE="1")
    state = snapshot(index)
    assert "zz-new.md" not in state["records"]
    assert any(source == "zz-new.md" for source, *_ in state["sentences"].values())

    # The new file goes away before the next run: its orphan sentences must not stay.
    (corpus / "zz-new.md").unlink()
    ingest_until(corpus, index, None)
    final = snapshot(index)
    assert_consistent(final)
    assert final["sentences"] == snapshot(clean)["sentences"]
    assert final["records"] == snapshot(clean)["records"]


# ---- damaged index folders ----------------------------------------------------------

RAG = Path(sys.executable).with_name("rag")


def rag(corpus: Path, index: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(RAG), *args],
        env=child_env(corpus, index),
        capture_output=True,
        text=True,
        timeout=300,
    )


def _garbage(index: Path) -> None:
    (index / "chroma.sqlite3").write_bytes(b"this is not a database\n" * 200)


def _truncated(index: Path) -> None:
    database = index / "chroma.sqlite3"
    data = database.read_bytes()
    database.write_bytes(data[: len(data) // 2])


def _database_missing(index: Path) -> None:
    (index / "chroma.sqlite3").unlink()


def _database_empty(index: Path) -> None:
    (index / "chroma.sqlite3").write_bytes(b"")


DAMAGE = {
    "garbage-database": _garbage,
    "half-written-database": _truncated,
    "database-missing": _database_missing,
    "database-empty": _database_empty,
}


@pytest.fixture(scope="module")
def built_index(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    folder = tmp_path_factory.mktemp("damage")
    corpus = write_corpus(folder / "corpus", stdlib_articles(3))
    done = rag(corpus, folder / "index", "ingest", "--json")
    assert done.returncode == 0, done.stderr
    assert any(p.is_dir() for p in (folder / "index").iterdir())  # segment folders exist
    return corpus, folder / "index"


@pytest.mark.timeout(600)
@pytest.mark.parametrize("damage", list(DAMAGE.values()), ids=list(DAMAGE))
def test_a_damaged_index_gives_a_typed_error_naming_the_fix(
    built_index: tuple[Path, Path], tmp_path: Path, damage
) -> None:
    corpus, good = built_index
    index = tmp_path / "index"
    shutil.copytree(good, index)
    damage(index)

    # Python API: a typed error whose message names the fix.
    from rag import Assistant

    with pytest.raises(IndexUnavailableError, match=r"rag ingest --rebuild") as raised:
        Assistant(corpus_dir=corpus, index_dir=index).sources()
    assert str(index) in str(raised.value)

    # CLI: the message, exit 1, no traceback; a plain ingest refuses too (no silent reset).
    for args in (("ask", "What does the module do?"), ("ingest",)):
        done = rag(corpus, index, *args)
        assert done.returncode == 1, (args, done.stdout, done.stderr)
        assert "rag ingest --rebuild" in done.stderr and "Traceback" not in done.stderr


@pytest.mark.timeout(600)
@pytest.mark.parametrize("damage", [_truncated, _database_missing], ids=["half", "missing"])
def test_the_named_fix_rebuilds_a_damaged_index(
    built_index: tuple[Path, Path], tmp_path: Path, damage
) -> None:
    corpus, good = built_index
    index = tmp_path / "index"
    shutil.copytree(good, index)
    damage(index)
    done = rag(corpus, index, "ingest", "--rebuild", "--json")
    assert done.returncode == 0, done.stderr
    assert len(json.loads(done.stdout)["added"]) == 3
    done = rag(corpus, index, "sources", "--json")
    assert done.returncode == 0 and len(json.loads(done.stdout)) == 3
    assert not list(index.parent.glob(".index.discarded-*"))


def test_rebuild_killed_while_deleting_leaves_no_half_deleted_index(
    built_index: tuple[Path, Path], tmp_path: Path
) -> None:
    """--rebuild moves the old index aside in one rename; a leftover is cleaned next time."""
    corpus, good = built_index
    index = tmp_path / "index"
    shutil.copytree(good, index)
    leftover = tmp_path / f".index.discarded-{os.getpid()}"
    shutil.copytree(good, leftover)  # as if a rebuild had been killed while deleting
    done = rag(corpus, index, "ingest", "--rebuild", "--json")
    assert done.returncode == 0, done.stderr
    assert not leftover.exists()
    assert len(json.loads(done.stdout)["added"]) == 3


def test_rebuild_deletes_nothing_that_is_not_an_index(tmp_path: Path) -> None:
    corpus = write_corpus(tmp_path / "corpus", stdlib_articles(1))
    home = tmp_path / "home"  # RAG_INDEX_DIR mistyped as someone's folder
    (home / "thesis").mkdir(parents=True)
    (home / "thesis" / "chapter1.md").write_text("Years of work.")
    done = rag(corpus, home, "ingest", "--rebuild")
    assert done.returncode == 1 and "not deleted" in done.stderr
    assert (home / "thesis" / "chapter1.md").read_text() == "Years of work."

    a_file = tmp_path / "notes.txt"
    a_file.write_text("a file where the index folder should be")
    for args in (("ingest", "--rebuild"), ("ingest",), ("sources",)):
        done = rag(corpus, a_file, *args)
        assert done.returncode == 1 and "not a folder" in done.stderr, done.stderr
        assert "Traceback" not in done.stderr
    assert a_file.read_text() == "a file where the index folder should be"
