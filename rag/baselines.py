"""Baselines for `rag eval --compare`: plain pipelines asked the same questions.

- `llamaindex-naive`: LlamaIndex at its defaults: `SentenceSplitter` (1024 tokens,
  200 overlap), `VectorStoreIndex` over Chroma (a temporary folder), similarity
  top-2, the same bundled all-MiniLM-L6-v2 model.
- `bm25`: BM25 alone over our passages (llama-index's `BM25Retriever`, the
  lexical half of our hybrid retriever), top-k.

Neither has a generator, so what they would have handed one is scored instead:
`fact_recall_in_context` (every fact group somewhere in the retrieved text), beside
the size of that text. Baselines see each question alone: they have no chat
memory (LlamaIndex's chat engines need an LLM to rewrite a follow-up).
"""

from __future__ import annotations

import shutil
import tempfile
import threading
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np
from pydantic import PrivateAttr

from rag.embeddings import EMBEDDING_DIM, Embedder
from rag.evaluate import EvalCase, EvalReport, _percentile, _ratio, facts_in

if TYPE_CHECKING:
    from llama_index.core.base.embeddings.base import BaseEmbedding

    from rag.assistant import Assistant
    from rag.retrieve import LexicalIndex

NAIVE_CHUNK_SIZE = 1024  # llama-index's SentenceSplitter defaults
NAIVE_CHUNK_OVERLAP = 200
NAIVE_TOP_K = 2  # llama-index's default similarity_top_k

# Rows of the side-by-side table, in order.
COMPARED = (
    "k",
    "chunks",
    "retrieval_recall_at_k",
    "mrr",
    "fact_recall",
    "fact_recall_in_context",
    "context_chars_mean",
    "latency_p50_ms",
    "latency_p95_ms",
)


class MemoEmbedder:
    """An Embedder that remembers what it embedded: the pipelines compared in one run
    ask the same questions, and a text is embedded once (the model is the cost)."""

    def __init__(self, inner: Embedder, limit: int = 100_000) -> None:
        self.inner = inner
        self.batch_size = inner.batch_size
        self.limit = limit  # bounds memory when a whole corpus passes through
        self.embedded = 0  # texts sent to the model
        self._memo: dict[str, np.ndarray] = {}
        self._lock = threading.Lock()

    def encode(self, texts: Sequence[str], show_progress: bool = False) -> np.ndarray:
        if not texts:
            return np.zeros((0, EMBEDDING_DIM), dtype=np.float32)
        with self._lock:
            known = {t: self._memo[t] for t in texts if t in self._memo}
        missing = [t for t in dict.fromkeys(texts) if t not in known]
        if missing:
            fresh = self.inner.encode(missing, show_progress)
            known.update(zip(missing, fresh))
            with self._lock:
                self.embedded += len(missing)
                room = max(0, self.limit - len(self._memo))
                self._memo.update(list(zip(missing, fresh))[:room])
        return np.stack([known[t] for t in texts]).astype(np.float32, copy=False)

    def encode_one(self, text: str) -> np.ndarray:
        return self.encode([text])[0]


def llama_embedding(embedder: Embedder | MemoEmbedder) -> BaseEmbedding:
    """Our Embedder as a llama-index embedding model (the same bundled model, offline).

    Written rather than llama-index's HuggingFaceEmbedding, which is a separate
    package, so that both pipelines share one loaded model and its memo.
    """
    from llama_index.core.base.embeddings.base import BaseEmbedding

    class EmbedderAdapter(BaseEmbedding):
        _embedder: Any = PrivateAttr()

        def __init__(self, inner: Embedder | MemoEmbedder) -> None:
            super().__init__(model_name="all-MiniLM-L6-v2", embed_batch_size=inner.batch_size)
            self._embedder = inner

        @classmethod
        def class_name(cls) -> str:
            return "RagEmbedderAdapter"

        def _get_query_embedding(self, query: str) -> list[float]:
            return self._embedder.encode_one(query).tolist()

        def _get_text_embedding(self, text: str) -> list[float]:
            return self._embedder.encode_one(text).tolist()

        def _get_text_embeddings(self, texts: list[str]) -> list[list[float]]:
            return self._embedder.encode(texts).tolist()

        async def _aget_query_embedding(self, query: str) -> list[float]:
            return self._get_query_embedding(query)

        async def _aget_text_embedding(self, text: str) -> list[float]:
            return self._get_text_embedding(text)

    return EmbedderAdapter(embedder)


@dataclass(frozen=True)
class Hit:
    source: str
    text: str


class Retrieves(Protocol):
    name: str
    description: str
    k: int
    chunks: int

    def retrieve(self, question: str) -> list[Hit]: ...


class NaiveLlamaIndex:
    """LlamaIndex's getting-started pipeline, retrieval only, over a temporary Chroma folder."""

    name = "llamaindex-naive"
    description = (
        "LlamaIndex defaults: SentenceSplitter 1024/200, VectorStoreIndex over Chroma, "
        "top-2, all-MiniLM-L6-v2"
    )

    def __init__(
        self,
        documents: dict[str, str],
        embedder: Embedder | MemoEmbedder,
        folder: Path,
        chunk_size: int = NAIVE_CHUNK_SIZE,
        chunk_overlap: int = NAIVE_CHUNK_OVERLAP,
        top_k: int = NAIVE_TOP_K,
    ) -> None:
        import chromadb
        from chromadb.config import Settings as ChromaSettings
        from llama_index.core import Document, StorageContext, VectorStoreIndex
        from llama_index.core.node_parser import SentenceSplitter
        from llama_index.vector_stores.chroma import ChromaVectorStore

        client = chromadb.PersistentClient(
            path=str(folder), settings=ChromaSettings(anonymized_telemetry=False)
        )
        # embedding_function=None: llama-index passes the vectors; Chroma's default
        # function would download a model.
        collection = client.get_or_create_collection("naive", embedding_function=None)
        splitter = SentenceSplitter(chunk_size=chunk_size, chunk_overlap=chunk_overlap)
        self.index = VectorStoreIndex.from_documents(
            [
                Document(text=text, metadata={"source": source})
                for source, text in documents.items()
            ],
            storage_context=StorageContext.from_defaults(
                vector_store=ChromaVectorStore(chroma_collection=collection)
            ),
            embed_model=llama_embedding(embedder),
            transformations=[splitter],
        )
        self.k = top_k
        self.chunks = int(collection.count())
        self._retriever = self.index.as_retriever(similarity_top_k=top_k)

    def retrieve(self, question: str) -> list[Hit]:
        return [
            Hit(str(n.node.metadata["source"]), n.node.get_content())
            for n in self._retriever.retrieve(question)
        ]


class BM25Only:
    """The lexical half of our hybrid retriever on its own: BM25 over our passages."""

    name = "bm25"
    description = "BM25 alone over the project's passages (llama-index BM25Retriever)"

    def __init__(self, lexical: LexicalIndex, document_text: Any, k: int) -> None:
        self.lexical = lexical
        self.document_text = document_text
        self.k = k
        self.chunks = lexical.size

    def retrieve(self, question: str) -> list[Hit]:
        return [
            Hit(source, self.document_text(source)[start:end])
            for _, source, start, end, _ in self.lexical.search(question, self.k)
        ]


@dataclass
class RetrievalResult:
    id: str
    answerable: bool
    retrieved_rank: int | None
    facts_in_context: bool
    context_chars: int
    latency_ms: float


def run_retrieval(pipeline: Retrieves, cases: Sequence[EvalCase]) -> list[RetrievalResult]:
    results = []
    for case in cases:
        started = time.perf_counter()
        hits = pipeline.retrieve(case.question)[: pipeline.k]
        latency = (time.perf_counter() - started) * 1000
        accepted = set(case.sources)
        context = "\n\n".join(h.text for h in hits)
        results.append(
            RetrievalResult(
                id=case.id,
                answerable=case.answerable,
                retrieved_rank=next(
                    (i + 1 for i, h in enumerate(hits) if h.source in accepted), None
                ),
                facts_in_context=case.answerable and facts_in(context, case.facts),
                context_chars=len(context),
                latency_ms=round(latency, 1),
            )
        )
    return results


def summarize_retrieval(results: Sequence[Any]) -> dict[str, float]:
    """Retrieval metrics over answerable questions; CaseResult and RetrievalResult both fit."""
    answerable = [r for r in results if r.answerable]
    latencies = sorted(r.latency_ms for r in results)
    return {
        "retrieval_recall_at_k": _ratio(
            sum(r.retrieved_rank is not None for r in answerable), len(answerable)
        ),
        "mrr": _ratio(
            sum(1 / r.retrieved_rank for r in answerable if r.retrieved_rank), len(answerable)
        ),
        "fact_recall_in_context": _ratio(
            sum(r.facts_in_context for r in answerable), len(answerable)
        ),
        "context_chars_mean": round(sum(r.context_chars for r in results) / len(results), 1)
        if results
        else 0.0,
        "latency_p50_ms": round(_percentile(latencies, 50), 1),
        "latency_p95_ms": round(_percentile(latencies, 95), 1),
    }


@dataclass
class PipelineRun:
    name: str
    description: str
    generator: bool  # False: fact recall is only measured in the retrieved context
    metrics: dict[str, Any]
    questions: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Comparison:
    pipelines: list[PipelineRun]

    def to_dict(self) -> dict[str, Any]:
        return {"pipelines": [p.to_dict() for p in self.pipelines]}

    def markdown(self) -> str:
        names = [p.name for p in self.pipelines]
        lines = [
            "### Baselines (`rag eval --compare`)",
            "",
            "| metric | " + " | ".join(names) + " |",
            "|---|" + "---|" * len(names),
        ]
        for metric in COMPARED:
            cells = [_cell(p.metrics.get(metric)) for p in self.pipelines]
            lines.append(f"| {metric} | " + " | ".join(cells) + " |")
        lines += [
            "",
            "- `fact_recall`: facts in the answer (only a pipeline with a generator has one); "
            "`fact_recall_in_context`: facts anywhere in the top-k retrieved text, whose size "
            "is `context_chars_mean`.",
            "- Latency: the whole answer for `rag`; retrieval alone for the baselines, which "
            "reuse the question vectors `rag` computed (each text is embedded once per run).",
            "- Baselines see each question without its earlier turns (no chat memory).",
        ]
        lines += [f"- `{p.name}`: {p.description}" for p in self.pipelines]
        return "\n".join(lines) + "\n"


def compare(
    assistant: Assistant,
    cases: Sequence[EvalCase],
    k: int,
    report: EvalReport,
    workdir: Path | None = None,
) -> Comparison:
    """The project's run (already in `report`) beside the baselines on the same cases.

    Give the assistant a MemoEmbedder before its first question so that the naive
    pipeline reuses the question vectors instead of embedding them again.
    """
    index = assistant.index
    ours = summarize_retrieval(report.cases)
    project = PipelineRun(
        name="rag",
        description="this project: hybrid dense + BM25 retrieval, extractive cited answers",
        generator=True,
        metrics={"k": k, "chunks": sum(len(d.passages) for d in index.documents().values())}
        | ours
        | {name: report.metrics[name] for name in ("retrieval_recall_at_k", "mrr", "fact_recall")},
    )
    documents = {source: assistant.document_text(source) for source in index.documents()}
    folder = Path(tempfile.mkdtemp(prefix="rag-naive-", dir=workdir))
    try:
        naive = NaiveLlamaIndex(documents, assistant.embedder, folder / "chroma")
        bm25 = BM25Only(assistant.retriever.lexical(), assistant.document_text, k)
        runs = [project]
        for pipeline in (naive, bm25):
            results = run_retrieval(pipeline, cases)
            runs.append(
                PipelineRun(
                    name=pipeline.name,
                    description=pipeline.description,
                    generator=False,
                    metrics={"k": pipeline.k, "chunks": pipeline.chunks}
                    | summarize_retrieval(results),
                    questions=[asdict(r) for r in results],
                )
            )
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    return Comparison(runs)


def _cell(value: Any) -> str:
    return "—" if value is None else str(value)
