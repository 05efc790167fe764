"""Shared fixtures: real Chroma indexes in tmp folders, the real bundled embedding model.

The session `assistant` is read-only: tests that change files or the index build
their own with `make_assistant` over a writable copy of the corpus (`corpus_copy`).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.support import LIN_YUN_QUESTION, SEED_SOURCES, copy_corpus

_OPENAI_VARIABLES = ("OPENAI_API_KEY", "OPENAI_BASE_URL")

# Settings read RAG_* variables; a developer's shell must not change what the tests see.
# OPENAI_API_KEY / OPENAI_BASE_URL would switch answers to an LLM: tests set them explicitly.
for _name in [n for n in os.environ if n.startswith("RAG_") or n in _OPENAI_VARIABLES]:
    del os.environ[_name]

# The scripted OpenAI-compatible server (fixture `openai_server`), for every test module.
pytest_plugins = ["tests.openai_server"]


@pytest.fixture(scope="session")
def seed_corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Path to a tmp copy of corpus/, shared by the session: do not modify it."""
    return copy_corpus(tmp_path_factory.mktemp("seed") / "corpus")


@pytest.fixture
def corpus_copy(tmp_path: Path) -> Path:
    """A private, writable copy of the corpus for tests that add, edit or delete files."""
    return copy_corpus(tmp_path / "corpus")


@pytest.fixture(scope="session")
def assistant(seed_corpus: Path, tmp_path_factory: pytest.TempPathFactory):
    """One real Assistant over the seed corpus, ingested once; tests must not mutate it."""
    from rag import Assistant

    instance = Assistant(corpus_dir=seed_corpus, index_dir=tmp_path_factory.mktemp("index"))
    report = instance.ingest()
    assert sorted(report.added) == sorted(SEED_SOURCES), report.to_dict()
    assert report.failed == []
    return instance


@pytest.fixture(scope="session")
def lin_yun_answer(assistant):
    return assistant.ask(LIN_YUN_QUESTION)


@pytest.fixture
def make_assistant(tmp_path: Path) -> Callable[..., object]:
    """Build a fresh Assistant with its own tmp index over the given corpus folder."""
    from rag import Assistant

    def make(corpus_dir: Path, index_name: str = "index", **overrides):
        return Assistant(corpus_dir=corpus_dir, index_dir=tmp_path / index_name, **overrides)

    return make
