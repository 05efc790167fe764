"""`rag eval --compare`: the baselines, over real Chroma and the real model, on a small set."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from rag.baselines import (
    COMPARED,
    NAIVE_TOP_K,
    BM25Only,
    MemoEmbedder,
    NaiveLlamaIndex,
    compare,
    run_retrieval,
)
from rag.cli import main
from rag.evaluate import EvalCase, evaluate
from tests.support import (
    DOC_000,
    DOC_002,
    DOC_003,
    LIN_YUN_QUESTION,
    SEED_SOURCES,
    lin_yun_case,
    write_cases,
)

pytestmark = pytest.mark.slow

CASES = [
    lin_yun_case(),
    EvalCase(
        "risk-alignment-urgency",
        "How urgent is alignment complexity rated?",
        True,
        (DOC_002,),
        (("Critical",),),
    ),
    EvalCase(
        "linyun-university-followup",
        "Which university is he at?",
        True,
        (DOC_000, DOC_003),
        (("Jia Tong", "Jiao Tong"),),
        turns=(LIN_YUN_QUESTION,),
    ),
    EvalCase("u-capital-france", "What is the capital of France?", False),
]


@pytest.fixture(scope="module")
def documents(assistant) -> dict[str, str]:
    return {source: assistant.document_text(source) for source in SEED_SOURCES}


def test_memo_embedder_embeds_each_text_once(assistant) -> None:
    memo = MemoEmbedder(assistant.embedder)
    first = memo.encode(["alpha", "beta", "alpha"])
    assert memo.embedded == 2
    again = memo.encode(["beta", "gamma"])
    assert memo.embedded == 3
    assert first.shape == (3, 384) and first.dtype == np.float32
    np.testing.assert_array_equal(first[0], first[2])
    np.testing.assert_array_equal(first[1], again[0])
    np.testing.assert_allclose(again[1], assistant.embedder.encode_one("gamma"), atol=1e-6)
    assert memo.encode([]).shape == (0, 384)


def test_naive_llamaindex_chunks_at_its_defaults_and_returns_top_2(
    assistant, documents, tmp_path: Path
) -> None:
    memo = MemoEmbedder(assistant.embedder)
    naive = NaiveLlamaIndex(documents, memo, tmp_path / "chroma")
    # 1024-token chunks: each article (under 1,000 tokens) is one chunk.
    assert naive.chunks == len(documents)
    assert naive.k == NAIVE_TOP_K == 2
    assert memo.embedded == naive.chunks
    hits = naive.retrieve(LIN_YUN_QUESTION)
    assert len(hits) == 2
    assert {h.source for h in hits} <= set(documents)
    assert any("upper hand" in h.text or "near-term advantage" in h.text for h in hits)
    naive.retrieve(LIN_YUN_QUESTION)
    assert memo.embedded == naive.chunks + 1  # the question once, however often it is asked
    assert (tmp_path / "chroma").is_dir()  # a real Chroma folder, not the project's index


def test_bm25_alone_returns_our_passages_verbatim(assistant) -> None:
    bm25 = BM25Only(assistant.retriever.lexical(), assistant.document_text, k=3)
    hits = bm25.retrieve(LIN_YUN_QUESTION)
    assert 0 < len(hits) <= 3
    for hit in hits:
        assert hit.text in assistant.document_text(hit.source)
    assert bm25.retrieve("zzzz qqqq") == []  # no shared term, no passage
    results = run_retrieval(bm25, CASES)
    assert [r.id for r in results] == [c.id for c in CASES]
    assert results[0].retrieved_rank is not None and results[0].facts_in_context
    assert results[-1].retrieved_rank is None and not results[-1].facts_in_context


def test_compare_reuses_question_vectors_and_leaves_no_folder(assistant, tmp_path: Path) -> None:
    from rag import Assistant

    fresh = Assistant(
        corpus_dir=assistant.settings.corpus_dir, index_dir=assistant.settings.index_dir
    )
    fresh.embedder = MemoEmbedder(fresh.embedder)
    report = evaluate(fresh, CASES, k=6)
    before = fresh.embedder.embedded
    comparison = compare(fresh, CASES, 6, report, workdir=tmp_path)
    naive = comparison.pipelines[1]
    # Only the naive pipeline's chunks are new text: the questions were embedded once.
    assert fresh.embedder.embedded - before == naive.metrics["chunks"]
    assert list(tmp_path.iterdir()) == []  # the temporary Chroma folder is gone
    assert [p.name for p in comparison.pipelines] == ["rag", "llamaindex-naive", "bm25"]
    assert [p.generator for p in comparison.pipelines] == [True, False, False]
    for run in comparison.pipelines:
        for name in ("retrieval_recall_at_k", "mrr", "fact_recall_in_context"):
            assert 0.0 <= run.metrics[name] <= 1.0, (run.name, name)
        assert run.metrics["latency_p95_ms"] >= run.metrics["latency_p50_ms"] >= 0.0
    # Top-2 of three one-chunk articles always holds one of the two that quote Lin Yun.
    assert naive.questions[0]["retrieved_rank"] in (1, 2)
    assert comparison.pipelines[0].metrics["fact_recall"] == report.metrics["fact_recall"]
    assert "fact_recall" not in naive.metrics  # no generator, no answer to score
    assert naive.metrics["k"] == 2
    assert [q["id"] for q in naive.questions] == [c.id for c in CASES]
    table = comparison.markdown()
    assert "| metric | rag | llamaindex-naive | bm25 |" in table
    assert f"| fact_recall | {report.metrics['fact_recall']} | — | — |" in table
    assert all(f"| {name} |" in table for name in COMPARED)


def test_rag_eval_compare_through_the_cli(
    assistant, monkeypatch: pytest.MonkeyPatch, capsys, tmp_path: Path
) -> None:
    monkeypatch.setenv("RAG_CORPUS_DIR", str(assistant.settings.corpus_dir))
    monkeypatch.setenv("RAG_INDEX_DIR", str(assistant.settings.index_dir))
    monkeypatch.chdir(tmp_path)
    import rag.cli

    built = []
    build = rag.cli._assistant
    monkeypatch.setattr("rag.cli._assistant", lambda **kw: built.append(build(**kw)) or built[-1])
    cases = write_cases(tmp_path / "cases.jsonl", CASES)
    thresholds = tmp_path / "t.toml"
    thresholds.write_text("[min]\ncitation_validity = 1.0\n")
    report_path, summary_path = tmp_path / "r.json", tmp_path / "r.md"
    code = main(
        [
            "eval",
            str(cases),
            "--compare",
            "--thresholds",
            str(thresholds),
            "--report",
            str(report_path),
            "--markdown",
            str(summary_path),
        ]
    )
    out = capsys.readouterr().out
    assert code == 0
    report = json.loads(report_path.read_text())
    pipelines = {p["name"]: p for p in report["compare"]["pipelines"]}
    assert list(pipelines) == ["rag", "llamaindex-naive", "bm25"]
    assert pipelines["rag"]["metrics"]["mrr"] == report["metrics"]["mrr"]
    assert pipelines["bm25"]["metrics"]["k"] == 6
    assert "| metric | rag | llamaindex-naive | bm25 |" in out
    assert summary_path.read_text().strip() == out.strip()
    # The memo was in place before the index opened: the pipeline's question vectors went
    # through it, and the naive pipeline found them there.
    (instance,) = built
    assert isinstance(instance.embedder, MemoEmbedder)
    assert instance.index.embedder is instance.embedder
