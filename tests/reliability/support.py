"""Helpers for the reliability suite: real offline text, index snapshots, subprocesses."""

from __future__ import annotations

import ast
import json
import os
import re
import sys
import sysconfig
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]


def stdlib_articles(count: int, max_chars: int = 320) -> dict[str, str]:
    """`count` short real documents: the opening paragraph of stdlib module docstrings.

    Read with ast (no module is imported), sorted by module name, so the same
    Python gives the same texts in every process. Kept short: embedding is the cost.
    """
    articles: dict[str, str] = {}
    seen: set[str] = set()
    stdlib = Path(sysconfig.get_paths()["stdlib"])
    for path in sorted(stdlib.rglob("*.py")):
        module = ".".join(path.relative_to(stdlib).with_suffix("").parts)
        if module.startswith(("test", "site-packages", "dist-packages", "idlelib", "lib2to3")):
            continue
        try:
            tree = ast.parse(path.read_text(encoding="utf-8"))
        except (SyntaxError, UnicodeDecodeError, ValueError):
            continue
        doc = ast.get_docstring(tree) or ""
        paragraph = re.sub(r"\s+", " ", doc.split("\n\n")[0]).strip()
        if len(paragraph) < 40 or paragraph in seen:
            continue
        seen.add(paragraph)
        body = paragraph if len(paragraph) <= max_chars else _cut(paragraph, max_chars)
        articles[f"{module.replace('.', '-').strip('_')}.md"] = f"# {module}\n\n{body}\n"
        if len(articles) == count:
            return articles
    raise AssertionError(f"only {len(articles)} stdlib docstrings found, {count} needed")


def _cut(text: str, limit: int) -> str:
    """The longest run of whole sentences within `limit` characters (at least one)."""
    sentences = re.split(r"(?<=[.!?])\s+", text)
    kept = sentences[0]
    for sentence in sentences[1:]:
        if len(kept) + 1 + len(sentence) > limit:
            break
        kept = f"{kept} {sentence}"
    return kept


def write_corpus(folder: Path, articles: dict[str, str]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in articles.items():
        (folder / name).write_text(text, encoding="utf-8")
    return folder


def snapshot(index_dir: Path, collection: str = "rag") -> dict[str, Any]:
    """Everything stored, straight from Chroma (not through our own reading code)."""
    import chromadb
    from chromadb.config import Settings as ChromaSettings

    client = chromadb.PersistentClient(
        path=str(index_dir), settings=ChromaSettings(anonymized_telemetry=False)
    )
    sentences = client.get_collection(f"{collection}-sentences")
    documents = client.get_collection(f"{collection}-documents")
    got = sentences.get(include=["metadatas", "documents"])
    records = documents.get(include=["metadatas", "documents"])
    return {
        "count": sentences.count(),
        "sentence_ids": got["ids"],
        "sentences": {
            id_: (meta["source"], meta["passage_id"], meta["doc_hash"], text)
            for id_, meta, text in zip(got["ids"], got["metadatas"], got["documents"])
        },
        "records": {
            id_: (meta["content_hash"], fields["title"], int(fields["sentences"]), text)
            for id_, meta, text in zip(records["ids"], records["metadatas"], records["documents"])
            for fields in [json.loads(meta["record"])]
        },
    }


def child_env(corpus: Path, index_dir: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("RAG_")}
    env.update(
        RAG_CORPUS_DIR=str(corpus),
        RAG_INDEX_DIR=str(index_dir),
        HF_HUB_OFFLINE="1",
        TRANSFORMERS_OFFLINE="1",
        ANONYMIZED_TELEMETRY="False",
        PYTHONPATH=str(ROOT),
        **extra,
    )
    return env


PYTHON = sys.executable
