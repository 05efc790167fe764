"""Stage 4 — retrieve: hybrid dense + BM25 search over passages, fused by reciprocal rank.

Dense search runs over sentence embeddings (the best sentence speaks for its
passage); BM25 runs over passage text (an incremental BM25 index, see LexicalIndex). The
fused top-k passages come back with every sentence and its embedding, which is
what the answer stage scores.
"""

from __future__ import annotations

import heapq
import logging
import math
import os
import pickle
import re
import threading
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from rag.chunks import passage_id
from rag.index import Index, StoredSentence

log = logging.getLogger(__name__)

SNAPSHOT_MAGIC = b"rag-lexical-1\n"  # bump when LexicalIndex's fields change
RRF_K = 60  # the constant from Cormack et al.; damps the weight of top ranks
DUPLICATE_COSINE = 0.95  # passages this close retell the same text
LEXICAL_DEPTH = 5000  # BM25 ranks looked up for dense candidates past the list's cut
TELLING_WORDS = 4  # words a sentence needs to represent its passage in dense search


@dataclass
class RetrievedPassage:
    id: str
    source: str
    title: str
    start: int
    end: int
    score: float  # how far above the candidate pool it stands (z-scores, summed)
    dense: float  # best sentence cosine in this passage (0 if not a dense hit)
    bm25: float
    sentences: list[StoredSentence] = field(default_factory=list)
    duplicates: list[str] = field(default_factory=list)  # collapsed passage ids


@dataclass
class Retrieval:
    query: str
    query_embedding: np.ndarray
    passages: list[RetrievedPassage]

    def scores(self) -> list[dict[str, Any]]:
        """The passages with their fused, dense and BM25 scores, JSON-ready (Answer.retrieved)."""
        return [
            {
                "source": p.source,
                "start": p.start,
                "end": p.end,
                "score": round(p.score, 5),
                "dense": round(p.dense, 4),
                "bm25": round(p.bm25, 4),
            }
            for p in self.passages
        ]


@lru_cache(maxsize=1)
def _stemmer():
    import Stemmer

    return Stemmer.Stemmer("english")


@lru_cache(maxsize=1)
def stopwords() -> frozenset[str]:
    """bm25s's short list plus NLTK's fuller one (bundled with llama-index, offline).

    The NLTK list is read straight from the file llama-index ships in its package data
    (the one `llama_index.core.utils.globals_helper.stopwords` loads): going through
    globals_helper imports nltk and runs its data check, two of a cold `rag ask`'s seconds,
    for a list of 198 words. find_spec locates the package without importing it.
    """
    from importlib.util import find_spec

    from bm25s.stopwords import STOPWORDS_EN

    spec = find_spec("llama_index.core")
    folders = list(spec.submodule_search_locations or []) if spec else []
    for folder in folders:
        english = Path(folder, "_static", "nltk_cache", "corpora", "stopwords", "english")
        if english.is_file():
            return frozenset(STOPWORDS_EN) | frozenset(english.read_text().split())
    from llama_index.core.utils import globals_helper  # the file moved: the slow way

    return frozenset(STOPWORDS_EN) | frozenset(globals_helper.stopwords)


_WORD = re.compile(r"(?u)\b\w\w+\b|\b\d\b")


def words(text: str) -> list[str]:
    return _WORD.findall(text.lower())


def content_words(text: str) -> list[str]:
    """Lower-cased words other than English stopwords, in order, repeats kept."""
    drop = stopwords()
    return [w for w in words(text) if w not in drop]


def synonym_candidates(text: str) -> list[str]:
    """Distinct content words made of letters only: those near-synonym matching compares
    (a number or an identifier like "max_len" has no synonym worth a vector)."""
    return [w for w in dict.fromkeys(content_words(text)) if w.isalpha()]


def stems(text: str, drop: frozenset[str] | None = None) -> list[str]:
    """Lower-cased, stemmed content words; `drop` defaults to English stopwords."""
    drop = stopwords() if drop is None else drop
    kept = [w for w in words(text) if w not in drop]
    return _stemmer().stemWords(kept)


# BM25 parameters: bm25s's defaults (Lucene variant), which llama-index's BM25Retriever used.
BM25_K1 = 1.5
BM25_B = 0.75


@lru_cache(maxsize=1)
def bm25_stopwords() -> frozenset[str]:
    """The short list bm25s applies by default; BM25 rankings stay what they were."""
    from bm25s.stopwords import STOPWORDS_EN

    return frozenset(STOPWORDS_EN)


def bm25_terms(text: str) -> list[str]:
    """bm25s's tokenization: lower-cased words of 2+ characters, its stopwords out, stemmed."""
    drop = bm25_stopwords()
    return _stemmer().stemWords([w for w in words(text) if len(w) > 1 and w not in drop])


@dataclass(frozen=True, slots=True)
class _LexicalPassage:
    id: str
    source: str
    start: int
    end: int
    length: int  # BM25 terms in it
    terms: tuple[str, ...]  # distinct BM25 terms (to remove its postings)
    stems: frozenset[str]  # distinct content stems (for df)


@dataclass(frozen=True)
class TopicTerms:
    """Passage counts of content stems over a set of documents (see LexicalIndex.topic);
    weighted, so not whole numbers."""

    size: float
    df: dict[str, float]

    def idf(self, stem: str) -> float:
        return math.log(1 + (self.size + 1) / (self.df.get(stem, 0) + 0.5))


class LexicalIndex:
    """BM25 over every passage, plus document frequencies for term weighting.

    Written here rather than through llama-index's BM25Retriever because bm25s freezes
    its index in a sparse matrix: every ingest or delete would re-tokenize and re-index
    the whole corpus. This one keeps postings per passage and is updated per document:
    `refresh` reads only documents whose content hash changed and drops deleted ones.
    Tokenization and scoring follow bm25s's defaults (Lucene BM25, k1=1.5, b=0.75, its
    English stopwords, the Snowball stemmer), so rankings match BM25Retriever's.

    The data lives in Chroma (document texts and passage spans); this is a cache over
    it, keyed on the index's version token, which changes with every write by any
    process: replicas sharing one Chroma server each refresh theirs and agree.
    """

    def __init__(self) -> None:
        self.size = 0  # passages
        self.df: Counter[str] = Counter()  # content stem -> passages containing it
        self.version: str | None = None  # Index.version this reflects
        self._postings: dict[str, dict[str, int]] = {}  # BM25 term -> {passage id: tf}
        self._passages: dict[str, _LexicalPassage] = {}
        self._sources: dict[str, tuple[str, list[_LexicalPassage]]] = {}  # source -> hash, ...
        self._total_length = 0
        self._stem_cache: dict[str, str] = {}  # word -> stem; PyStemmer per call is slow
        # Updated in place, so searches in other threads wait for a refresh to finish.
        self._lock = threading.RLock()

    @classmethod
    def build(cls, index: Index) -> LexicalIndex:
        lexical = cls()
        lexical.refresh(index)
        return lexical

    # ---- a snapshot on disk, so a new process need not read every document ---------

    def __getstate__(self) -> dict[str, Any]:
        with self._lock:
            state = dict(self.__dict__)
        del state["_lock"], state["_stem_cache"]
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._stem_cache = {}
        self._lock = threading.RLock()

    def save(self, path: Path) -> None:
        """Write atomically (temp file, then rename): readers see the old or the new one."""
        temporary = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}")
        with temporary.open("wb") as out:
            out.write(SNAPSHOT_MAGIC)
            pickle.dump(self, out, protocol=pickle.HIGHEST_PROTOCOL)
        os.replace(temporary, path)

    @classmethod
    def load(cls, path: Path) -> LexicalIndex | None:
        """The snapshot at path, or None when there is none or it cannot be read (then
        the caller builds from the index: the snapshot is only a cache of it).

        pickle runs code from the file it reads: the snapshot lives in the index folder,
        which only the user's own rag writes, like the Chroma files beside it.
        """
        try:
            with path.open("rb") as found:
                if found.read(len(SNAPSHOT_MAGIC)) != SNAPSHOT_MAGIC:
                    raise ValueError("not a snapshot of this version")
                lexical = pickle.load(found)
        except FileNotFoundError:
            return None
        except Exception as exc:  # any damage: rebuild from the index, and say so
            log.warning("Ignoring the lexical index snapshot %s (%s); rebuilding it.", path, exc)
            return None
        return lexical if isinstance(lexical, cls) else None

    # ---- keeping in step with the index ----------------------------------------------

    def refresh(self, index: Index) -> tuple[int, int]:
        """Bring this in line with the index; returns (documents read, documents dropped)."""
        with self._lock:
            return self._refresh(index)

    def _refresh(self, index: Index) -> tuple[int, int]:
        version = index.version
        catalog = index.documents()
        stale = [
            source
            for source, (content_hash, _) in self._sources.items()
            if source not in catalog or catalog[source].content_hash != content_hash
        ]
        for source in stale:
            self._remove(source)
        missing = [source for source in catalog if source not in self._sources]
        for source, (content_hash, text) in index.document_records(missing).items():
            # The record's own hash: a text and its passage spans are written together.
            stored = catalog[source]
            if stored.content_hash != content_hash:
                continue  # rewritten meanwhile; the next version change brings it
            self._add(source, content_hash, text, stored.passages)
        self.version = version
        return len(missing), len(stale)

    def _add(
        self, source: str, content_hash: str, text: str, spans: Sequence[tuple[int, int]]
    ) -> None:
        passages = []
        content_drop = stopwords()
        bm25_drop = bm25_stopwords()
        stem = self._stem_cache
        postings = self._postings
        for position, (start, end) in enumerate(spans):
            body_words = words(text[start:end])
            # The passage's source and offsets are part of its BM25 text, as they were in
            # llama-index's BM25Retriever (metadata in MetadataMode.EMBED content): file
            # names are words people search by, and the eval thresholds are set on it.
            bm25_words = words(f"source: {source}\nstart: {start}\nend: {end}") + body_words
            new = [w for w in set(bm25_words) if w not in stem]
            if new:
                stem.update(zip(new, _stemmer().stemWords(new)))
            terms = Counter([stem[w] for w in bm25_words if len(w) > 1 and w not in bm25_drop])
            pid = passage_id(source, position)
            passage = _LexicalPassage(
                pid,
                source,
                start,
                end,
                sum(terms.values()),
                tuple(terms),
                frozenset([stem[w] for w in body_words if w not in content_drop]),
            )
            for term, tf in terms.items():
                found = postings.get(term)
                if found is None:
                    postings[term] = {pid: tf}
                else:
                    found[pid] = tf
            self.df.update(passage.stems)
            self._passages[pid] = passage
            self._total_length += passage.length
            passages.append(passage)
        self.size += len(passages)
        self._sources[source] = (content_hash, passages)
        if len(stem) > 500_000:  # bound the cache on huge vocabularies
            stem.clear()

    def _remove(self, source: str) -> None:
        _, passages = self._sources.pop(source)
        for passage in passages:
            for term in passage.terms:
                postings = self._postings[term]
                del postings[passage.id]
                if not postings:
                    del self._postings[term]
            self.df.subtract(passage.stems)
            for stem in passage.stems:
                if self.df[stem] <= 0:
                    del self.df[stem]
            del self._passages[passage.id]
            self._total_length -= passage.length
        self.size -= len(passages)

    # ---- reading ---------------------------------------------------------------------

    def idf(self, stem: str) -> float:
        return math.log(1 + (self.size + 1) / (self.df.get(stem, 0) + 0.5))

    def topic(self, sources: Iterable[str]) -> TopicTerms:
        """Term statistics of the documents an answer draws on, each document weighing
        the same whatever its length, so one long retrieved manual does not outvote the
        articles the other passages come from.

        How telling a word is depends on the documents at hand, not on the whole index:
        in three articles about AI, "AI" says nothing and "date" a lot; mix in 500
        unrelated documents and index-wide idf turns that round ("AI" rare, "date" common),
        so answers would hinge on what else happens to be indexed. The counts keep the scale
        of all those documents' passages, so weights read like index-wide idf over them.
        """
        weights = Counter(dict.fromkeys(sources, 1))
        total = sum(weights.values())
        share: Counter[str] = Counter()
        size = 0.0
        with self._lock:
            for source, count in weights.items():
                passages = self._sources.get(source, ("", []))[1]
                if not passages:
                    continue
                weight = count / total
                size += len(passages)
                in_document = Counter(stem for p in passages for stem in p.stems)
                for stem, df in in_document.items():
                    share[stem] += weight * df / len(passages)
        return TopicTerms(size, {stem: value * size for stem, value in share.items()})

    def known(self, stem: str) -> bool:
        return stem in self.df

    def search(self, query: str, k: int) -> list[tuple[str, str, int, int, float]]:
        """(passage id, source, start, end, score) for passages sharing a term with the query,
        best first: Lucene BM25 summed over the query's terms (repeats count again)."""
        if not stems(query):
            return []
        with self._lock:
            return self._search(query, k) if self.size else []

    def _search(self, query: str, k: int) -> list[tuple[str, str, int, int, float]]:
        average = (self._total_length / self.size) or 1.0
        scores: dict[str, float] = {}
        for term in bm25_terms(query):
            postings = self._postings.get(term)
            if not postings:
                continue
            df = len(postings)
            idf = math.log(1 + (self.size - df + 0.5) / (df + 0.5))
            for pid, tf in postings.items():
                norm = BM25_K1 * (1 - BM25_B + BM25_B * self._passages[pid].length / average)
                scores[pid] = scores.get(pid, 0.0) + idf * tf / (norm + tf)
        best = heapq.nlargest(k, scores.items(), key=lambda item: item[1])
        return [
            (pid, p.source, p.start, p.end, score)
            for pid, score in best
            if score > 0
            for p in (self._passages[pid],)
        ]


class HybridRetriever:
    def __init__(self, index: Index, snapshot: Path | None = None) -> None:
        self.index = index
        self.snapshot = snapshot  # where the BM25 index is kept between processes
        self._lexical: LexicalIndex | None = None
        self._lock = threading.Lock()

    def lexical(self) -> LexicalIndex:
        """The BM25 index, refreshed (only what changed) when the index's version moved.

        A new process starts from the snapshot when there is one: refresh() then reads
        only the documents whose content hash differs, instead of every document."""
        with self._lock:
            if self._lexical is None:
                self._lexical = (self.snapshot and LexicalIndex.load(self.snapshot)) or (
                    LexicalIndex()
                )
            if self._lexical.version != self.index.version:
                read, dropped = self._lexical.refresh(self.index)
                if self.snapshot and (read or dropped):
                    self._lexical.save(self.snapshot)
            return self._lexical

    def retrieve(self, query: str, k: int) -> Retrieval:
        """The k best passages: dense and BM25 candidates, each ranked on both signals.

        Plain reciprocal-rank fusion counts a passage missing from one list as absent from
        it: among many unrelated documents, a passage BM25 ranks first (the question's rare
        name) may be missing from the dense list because short fragments elsewhere ("the
        model.") sit closer to the question, and two middling ranks then outweigh it. So
        the candidates of either list are scored on the other too (cosine of their best
        sentence, BM25 score past the list's cut) and fused over those complete rankings.
        The k passages fusion keeps are then ordered by their margins over the pool.
        """
        query_embedding = self.index.embedder.encode_one(query)
        catalog = self.index.documents()
        candidates: dict[str, RetrievedPassage] = {}

        def candidate(pid: str, source: str, start: int, end: int) -> RetrievedPassage:
            if pid not in candidates:
                title = catalog[source].title if source in catalog else source
                candidates[pid] = RetrievedPassage(pid, source, title, start, end, 0.0, 0.0, 0.0)
            return candidates[pid]

        def span(sentence: StoredSentence) -> tuple[int, int]:
            spans = catalog[sentence.source].passages if sentence.source in catalog else ()
            if sentence.passage < len(spans):
                return spans[sentence.passage]
            return sentence.start, sentence.end

        by_passage: dict[str, list[StoredSentence]] = {}
        dense_hits = self.index.nearest_sentences(query_embedding, max(100, 10 * k))
        for sentence, cosine in dense_hits:
            if not telling(sentence.text):
                continue
            pid = passage_id(sentence.source, sentence.passage)
            passage = candidate(pid, sentence.source, *span(sentence))
            passage.dense = max(passage.dense, cosine)
        # BM25 over the question's content words: "what", "does", "was" match everywhere
        # in a large corpus and rank passages by how a question is phrased.
        lexical_hits = self.lexical().search(" ".join(content_words(query)), LEXICAL_DEPTH)
        lexical_rank = {hit[0]: rank for rank, hit in enumerate(lexical_hits)}
        for rank, (pid, source, start, end, score) in enumerate(lexical_hits):
            if rank < max(50, 5 * k):
                candidate(pid, source, start, end)
            if pid in candidates:
                candidates[pid].bm25 = score
        # Candidates BM25 found that the dense search did not: their own sentences' cosines.
        unseen = [pid for pid, p in candidates.items() if p.dense == 0.0]
        for sentence in self.index.sentences_of(unseen):
            pid = passage_id(sentence.source, sentence.passage)
            by_passage.setdefault(pid, []).append(sentence)
            if telling(sentence.text):
                cosine = float(sentence.embedding @ query_embedding)
                candidates[pid].dense = max(candidates[pid].dense, cosine)

        dense_order = sorted(candidates.values(), key=lambda p: p.dense, reverse=True)
        for rank, passage in enumerate(dense_order):
            passage.score += 1.0 / (RRF_K + rank + 1)
        for passage in candidates.values():
            if passage.id in lexical_rank:
                passage.score += 1.0 / (RRF_K + lexical_rank[passage.id] + 1)

        ranked = sorted(candidates.values(), key=lambda p: p.score, reverse=True)
        top = ranked[: 2 * k]  # room for collapsing duplicates
        missing = [p.id for p in top if p.id not in by_passage]
        for sentence in self.index.sentences_of(missing):
            by_passage.setdefault(passage_id(sentence.source, sentence.passage), []).append(
                sentence
            )
        for passage in top:
            passage.sentences = sorted(by_passage.get(passage.id, []), key=lambda s: s.start)
        chosen = collapse_duplicates(top)[:k]
        # Ranks choose the k passages: a BM25 score far above the pool's (a common word
        # repeated in an unrelated document) must not bring one in on its own. Among the
        # chosen, margins order them: one standing far above the rest on both signals
        # comes first, not one a hair ahead on each.
        margin = margins(list(candidates.values()))
        for passage in chosen:
            passage.score = margin[passage.id]
        chosen.sort(key=lambda p: p.score, reverse=True)
        return Retrieval(query, query_embedding, chosen)


def margins(passages: list[RetrievedPassage]) -> dict[str, float]:
    """Each passage's z-scores on the dense and BM25 signals over the pool, summed: how
    far above the other candidates it stands, on one scale for both signals."""
    total = dict.fromkeys((p.id for p in passages), 0.0)
    for signal in ("dense", "bm25"):
        values = np.array([getattr(p, signal) for p in passages], dtype=float)
        if len(values) == 0:
            break
        normal = (values - values.mean()) / (float(values.std()) or 1.0)
        for passage, value in zip(passages, normal):
            total[passage.id] += float(value)
    return total


def telling(sentence: str) -> bool:
    """Whether a sentence says enough to speak for its passage in dense search: a fragment
    ("the model.", "size of key k.") sits close to any question sharing its one word."""
    return len(words(sentence)) >= TELLING_WORDS


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
