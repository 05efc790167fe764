"""The `rag` command, run as a user would: a subprocess with RAG_* in the environment."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support import DOC_000, DOC_003, LIN_YUN_QUESTION, SEED_SOURCES, copy_corpus

pytestmark = pytest.mark.slow

RAG = Path(sys.executable).with_name("rag")


def run(env: dict[str, str], cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(RAG), *args],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=300,
    )


@pytest.fixture(scope="module")
def cli(tmp_path_factory: pytest.TempPathFactory):
    """A corpus copy and an index folder, ingested once through `rag ingest --json`."""
    folder = tmp_path_factory.mktemp("cli")
    corpus = copy_corpus(folder / "corpus")
    env = {k: v for k, v in os.environ.items() if not k.startswith("RAG_")}
    env.update(RAG_CORPUS_DIR=str(corpus), RAG_INDEX_DIR=str(folder / "index"))
    done = run(env, folder, "ingest", "--json")
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert sorted(report["added"]) == sorted(SEED_SOURCES)
    assert report["failed"] == []
    return {"env": env, "cwd": folder, "corpus": corpus}


def test_rag_is_installed_in_the_virtualenv() -> None:
    assert RAG.is_file(), RAG


def test_ask_json_prints_verbatim_citations(cli) -> None:
    done = run(cli["env"], cli["cwd"], "ask", LIN_YUN_QUESTION, "--json")
    assert done.returncode == 0, done.stderr
    answer = json.loads(done.stdout)
    assert answer["question"] == LIN_YUN_QUESTION
    assert answer["refused"] is False
    assert answer["citations"]
    assert {c["source"] for c in answer["citations"]} & {DOC_000, DOC_003}
    assert any(
        "upper hand" in c["quote"] or "near-term advantage" in c["quote"]
        for c in answer["citations"]
    )
    for c in answer["citations"]:
        text = (cli["corpus"] / c["source"]).read_text(encoding="utf-8")
        assert text[c["start"] : c["end"]] == c["quote"]
        assert f"[{c['n']}]" in answer["text"]


def test_ask_plain_text_lists_each_quote(cli) -> None:
    done = run(cli["env"], cli["cwd"], "ask", LIN_YUN_QUESTION)
    assert done.returncode == 0, done.stderr
    assert "[1]" in done.stdout
    assert "near-term advantage" in done.stdout or "upper hand" in done.stdout
    assert "characters" in done.stdout  # the offsets are shown with each quote


@pytest.mark.parametrize("question", ["", "   "])
def test_ask_empty_question_fails_with_a_message(cli, question: str) -> None:
    done = run(cli["env"], cli["cwd"], "ask", question)
    assert done.returncode != 0
    assert "empty" in done.stderr
    assert "Traceback" not in done.stderr
    assert done.stdout == ""


def test_ask_overlong_question_fails_with_the_limit(cli) -> None:
    done = run(cli["env"], cli["cwd"], "ask", "why " * 600)
    assert done.returncode != 0
    assert "limit" in done.stderr and "Traceback" not in done.stderr


def test_sources_json_lists_the_three_articles(cli) -> None:
    done = run(cli["env"], cli["cwd"], "sources", "--json")
    assert done.returncode == 0, done.stderr
    listing = json.loads(done.stdout)
    assert [s["source"] for s in listing] == sorted(SEED_SOURCES)
    assert all(s["chunks"] > 0 and s["title"] for s in listing)
    assert listing[0]["title"].startswith("I Spoke with Leading AI Experts in China")


def test_second_ingest_reports_everything_unchanged(cli) -> None:
    done = run(cli["env"], cli["cwd"], "ingest", "--json")
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert sorted(report["unchanged"]) == sorted(SEED_SOURCES)
    assert report["embedded"] == 0


def test_ingest_with_a_bad_file_exits_1_and_names_it(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "bad.txt").write_bytes(b"\x00\x01binary")
    env = {k: v for k, v in os.environ.items() if not k.startswith("RAG_")}
    env.update(RAG_CORPUS_DIR=str(corpus), RAG_INDEX_DIR=str(tmp_path / "index"))
    done = run(env, tmp_path, "ingest")
    assert done.returncode == 1
    assert "bad.txt" in done.stderr and "binary" in done.stderr


def test_compact_rebuilds_the_sentences_and_answers_stay(cli) -> None:
    done = run(cli["env"], cli["cwd"], "compact", "--json")
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["sentences"] > 0 and report["dropped"] == 0  # a fresh index deleted none
    assert report["collection"].startswith("rag-sentences-")
    before_mb, after_mb = report["database_mb"]  # the embedded store's file, vacuumed
    assert 0 < after_mb <= before_mb
    asked = run(cli["env"], cli["cwd"], "ask", LIN_YUN_QUESTION, "--json")
    assert asked.returncode == 0, asked.stderr
    assert json.loads(asked.stdout)["citations"]
