"""Stage 4 — retrieve: hybrid dense + BM25 search over passages, fused by reciprocal rank.

Dense search runs over sentence embeddings (the best sentence speaks for its
passage); BM25 runs over passage text through llama-index's BM25Retriever. The
fused top-k passages come back with every sentence and its embedding, which is
what the answer stage scores.
"""

from __future__ import annotations

import math
import re
import threading
from collections import Counter
from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np

from rag.chunks import passage_id
from rag.index import Index, StoredSentence

RRF_K = 60  # the constant from Cormack et al.; damps the weight of top ranks
DUPLICATE_COSINE = 0.95  # passages this close retell the same text


@dataclass
class RetrievedPassage:
    id: str
    source: str
    title: str
    start: int
    end: int
    score: float  # fused RRF score
    dense: float  # best sentence cosine in this passage (0 if not a dense hit)
    bm25: float
    sentences: list[StoredSentence] = field(default_factory=list)
    duplicates: list[str] = field(default_factory=list)  # collapsed passage ids


@dataclass
class Retrieval:
    query: str
    query_embedding: np.ndarray
    passages: list[RetrievedPassage]


@lru_cache(maxsize=1)
def _stemmer():
    import Stemmer

    return Stemmer.Stemmer("english")


@lru_cache(maxsize=1)
def stopwords() -> frozenset[str]:
    """bm25s's short list plus NLTK's fuller one (bundled with llama-index, offline)."""
    from bm25s.stopwords import STOPWORDS_EN
    from llama_index.core.utils import globals_helper

    return frozenset(STOPWORDS_EN) | frozenset(globals_helper.stopwords)


_WORD = re.compile(r"(?u)\b\w\w+\b|\b\d\b")


def words(text: str) -> list[str]:
    return _WORD.findall(text.lower())


def stems(text: str, drop: frozenset[str] | None = None) -> list[str]:
    """Lower-cased, stemmed content words; `drop` defaults to English stopwords."""
    drop = stopwords() if drop is None else drop
    kept = [w for w in words(text) if w not in drop]
    return _stemmer().stemWords(kept)


class LexicalIndex:
    """BM25 over every passage, plus document frequencies for term weighting."""

    def __init__(self, index: Index) -> None:
        from llama_index.core.schema import TextNode
        from llama_index.retrievers.bm25 import BM25Retriever

        nodes = []
        self.df: Counter[str] = Counter()
        for source, stored in index.documents().items():
            text = index.document_text(source)
            for position, (start, end) in enumerate(stored.passages):
                body = text[start:end]
                nodes.append(
                    TextNode(
                        id_=passage_id(source, position),
                        text=body,
                        metadata={"source": source, "start": start, "end": end},
                    )
                )
                self.df.update(set(stems(body)))
        self.size = len(nodes)
        self._retriever = (
            BM25Retriever.from_defaults(nodes=nodes, stemmer=_stemmer(), similarity_top_k=10)
            if nodes
            else None
        )

    def idf(self, stem: str) -> float:
        return math.log(1 + (self.size + 1) / (self.df.get(stem, 0) + 0.5))

    def known(self, stem: str) -> bool:
        return stem in self.df

    def search(self, query: str, k: int) -> list[tuple[str, str, int, int, float]]:
        """(passage id, source, start, end, score) for passages sharing a term with the query."""
        if self._retriever is None or not stems(query):
            return []
        from llama_index.core.schema import QueryBundle

        self._retriever.similarity_top_k = min(k, self.size)
        hits = self._retriever.retrieve(QueryBundle(query))
        return [
            (
                h.node.node_id,
                h.node.metadata["source"],
                int(h.node.metadata["start"]),
                int(h.node.metadata["end"]),
                float(h.score or 0.0),
            )
            for h in hits
            if (h.score or 0.0) > 0
        ]


class HybridRetriever:
    def __init__(self, index: Index) -> None:
        self.index = index
        self._lexical: LexicalIndex | None = None
        self._lexical_version = -1
        self._lock = threading.Lock()

    def lexical(self) -> LexicalIndex:
        with self._lock:
            if self._lexical is None or self._lexical_version != self.index.version:
                self._lexical = LexicalIndex(self.index)
                self._lexical_version = self.index.version
            return self._lexical

    def retrieve(self, query: str, k: int) -> Retrieval:
        query_embedding = self.index.embedder.encode_one(query)
        catalog = self.index.documents()
        candidates: dict[str, RetrievedPassage] = {}

        def candidate(pid: str, source: str, start: int, end: int) -> RetrievedPassage:
            if pid not in candidates:
                title = catalog[source].title if source in catalog else source
                candidates[pid] = RetrievedPassage(pid, source, title, start, end, 0.0, 0.0, 0.0)
            return candidates[pid]

        dense_hits = self.index.nearest_sentences(query_embedding, max(30, 5 * k))
        dense_order: list[str] = []
        for sentence, cosine in dense_hits:
            pid = passage_id(sentence.source, sentence.passage)
            spans = catalog[sentence.source].passages if sentence.source in catalog else ()
            start, end = (
                spans[sentence.passage]
                if sentence.passage < len(spans)
                else (sentence.start, sentence.end)
            )
            passage = candidate(pid, sentence.source, start, end)
            if pid not in dense_order:
                dense_order.append(pid)
                passage.dense = cosine
        for rank, pid in enumerate(dense_order):
            candidates[pid].score += 1.0 / (RRF_K + rank + 1)
        for rank, (pid, source, start, end, score) in enumerate(
            self.lexical().search(query, 3 * k)
        ):
            passage = candidate(pid, source, start, end)
            passage.bm25 = score
            passage.score += 1.0 / (RRF_K + rank + 1)

        ranked = sorted(candidates.values(), key=lambda p: p.score, reverse=True)
        top = ranked[: 2 * k]  # room for collapsing duplicates
        by_passage: dict[str, list[StoredSentence]] = {}
        for sentence in self.index.sentences_of([p.id for p in top]):
            by_passage.setdefault(passage_id(sentence.source, sentence.passage), []).append(
                sentence
            )
        for passage in top:
            passage.sentences = sorted(by_passage.get(passage.id, []), key=lambda s: s.start)
        return Retrieval(query, query_embedding, collapse_duplicates(top)[:k])


def collapse_duplicates(passages: list[RetrievedPassage]) -> list[RetrievedPassage]:
    """Drop passages that retell a higher-ranked one almost word for word."""
    kept: list[tuple[RetrievedPassage, np.ndarray]] = []
    for passage in passages:
        if not passage.sentences:
            continue
        centroid = np.mean([s.embedding for s in passage.sentences], axis=0)
        centroid /= np.linalg.norm(centroid) or 1.0
        twin = next((k for k, c in kept if float(c @ centroid) >= DUPLICATE_COSINE), None)
        if twin is not None:
            twin.duplicates.append(passage.id)
        else:
            kept.append((passage, centroid))
    return [p for p, _ in kept]
