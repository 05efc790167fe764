"""Stage 4 — retrieve: hybrid dense + BM25 search over passages, fused by reciprocal rank.

Dense search runs over sentence embeddings (the best sentence speaks for its
passage); BM25 runs over passage text (an incremental BM25 index, see LexicalIndex). The
fused top-k passages come back with every sentence and its embedding, which is
what the answer stage scores.
"""

from __future__ import annotations

import json
import logging
import math
import os
import re
import sqlite3
import threading
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from rag.chunks import passage_id, passage_location, telling, words
from rag.documents import subject_of
from rag.errors import UnknownSourceError
from rag.index import Index, SentenceHit, StoredDocument, StoredSentence

log = logging.getLogger(__name__)

RRF_K = 60  # the constant from Cormack et al.; damps the weight of top ranks
DUPLICATE_COSINE = 0.95  # passages this close retell the same text
CONTEXT_CHARS = 2400  # evidence k passages are topped up to (six news paragraphs: ~2,300)
LEXICAL_DEPTH = 5000  # BM25 ranks looked up for dense candidates past the list's cut
# Near-synonyms a question word also searches in BM25 (see HybridRetriever.related_terms).
# Single-word vectors of this model put related words close as well as synonyms (china ~
# shanghai 0.77, easier ~ harder 0.84): below 0.75 the related ones crowd out the rest.
RELATED_COSINE = 0.75
RELATED_WEIGHT = 0.5  # a stand-in's BM25 score counts this much (times its cosine)
RELATED_LOOKED_AT = 20  # nearest stored words looked at per question word


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
    joined: list[str] = field(default_factory=list)  # passages beside it, taken in with it


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

    short = _bm25s_stopwords()
    spec = find_spec("llama_index.core")
    folders = list(spec.submodule_search_locations or []) if spec else []
    for folder in folders:
        english = Path(folder, "_static", "nltk_cache", "corpora", "stopwords", "english")
        if english.is_file():
            return frozenset(short) | frozenset(english.read_text().split())
    from llama_index.core.utils import globals_helper  # the file moved: the slow way

    return frozenset(short) | frozenset(globals_helper.stopwords)


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
    return frozenset(_bm25s_stopwords())


@lru_cache(maxsize=1)
def _bm25s_stopwords() -> tuple[str, ...]:
    """bm25s's English list, read from its module file: `import bm25s.stopwords` runs the
    package's __init__ first, which imports scipy.sparse (0.3 s of a cold `rag ask`) for a
    tuple of words. The file imports nothing."""
    from importlib.util import find_spec, module_from_spec, spec_from_file_location

    package = find_spec("bm25s")
    for folder in (package.submodule_search_locations or []) if package else []:
        path = Path(folder, "stopwords.py")
        spec = spec_from_file_location("_bm25s_stopwords", path) if path.is_file() else None
        if spec is not None and spec.loader is not None:
            module = module_from_spec(spec)
            spec.loader.exec_module(module)
            return tuple(module.STOPWORDS_EN)
    from bm25s.stopwords import STOPWORDS_EN  # the file moved: the slow way

    return tuple(STOPWORDS_EN)


def bm25_terms(text: str) -> list[str]:
    """bm25s's tokenization: lower-cased words of 2+ characters, its stopwords out, stemmed."""
    drop = bm25_stopwords()
    return _stemmer().stemWords([w for w in words(text) if len(w) > 1 and w not in drop])


@dataclass(frozen=True)
class TopicTerms:
    """Passage counts of content stems over a set of documents (see LexicalIndex.topic);
    weighted, so not whole numbers."""

    size: float
    df: dict[str, float]

    def idf(self, stem: str) -> float:
        return math.log(1 + (self.size + 1) / (self.df.get(stem, 0) + 0.5))


LEXICAL_FORMAT = "rag-lexical-sqlite-4"  # bump when the tables below change
_REFRESH_BATCH = 500  # documents tokenized per merge into the stored postings
_BUSY_SECONDS = 600.0  # another process refreshing the same file: wait for it

# One row per document (its content hash, distinct BM25 terms and content-stem counts),
# one per passage (span and BM25 length), one per BM25 term (its postings as one blob of
# int32 arrays: passage ids ascending, term frequencies, passage lengths), one per content
# stem (passages containing it). Postings are read per query term only; a blob keeps even
# a term found in every passage one read, scored with numpy.
_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS sources(
    id INTEGER PRIMARY KEY,
    source TEXT NOT NULL UNIQUE,
    content_hash TEXT NOT NULL,
    indexed_as TEXT NOT NULL,
    passages INTEGER NOT NULL,
    terms TEXT NOT NULL,
    stems TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS passages(
    id INTEGER PRIMARY KEY,
    source_id INTEGER NOT NULL,
    position INTEGER NOT NULL,
    span_start INTEGER NOT NULL,
    span_end INTEGER NOT NULL,
    length INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS passages_of_source ON passages(source_id);
CREATE TABLE IF NOT EXISTS postings(term TEXT PRIMARY KEY, data BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS stems(stem TEXT PRIMARY KEY, df INTEGER NOT NULL) WITHOUT ROWID;
"""


@dataclass
class LexicalRanking:
    """A BM25 ranking: its first hits located (passage id, source, start, end, score),
    and (rank, score) of those and of the other passages asked about, by passage id."""

    hits: list[tuple[str, str, int, int, float]]
    ranks: dict[str, tuple[int, float]]


class LexicalIndexDamaged(Exception):
    """The store on disk cannot be read as a lexical index of this format."""


_SUBJECT = "\nsubject: "


def _indexed_as(record: Any) -> str:
    """How a document's passages were indexed: its split, and the subject its title names
    (BM25 terms of every passage; a new title in sources.yaml re-indexes them)."""
    subject = subject_of(record.title)
    return f"{record.chunking}{_SUBJECT}{subject}" if subject else record.chunking


def _decode_postings(blob: bytes) -> np.ndarray:
    """(3, n) int32: passage ids (ascending), term frequencies, passage lengths."""
    return np.frombuffer(blob, dtype=np.int32).reshape(3, -1)


class LexicalIndex:
    """BM25 over every passage, plus document frequencies for term weighting.

    Written here rather than through llama-index's BM25Retriever because bm25s freezes
    its index in a sparse matrix: every ingest or delete would re-tokenize and re-index
    the whole corpus. This one keeps postings per term and is updated per document:
    `refresh` reads only documents whose content hash changed and drops deleted ones.
    Tokenization and scoring follow bm25s's defaults (Lucene BM25, k1=1.5, b=0.75, its
    English stopwords, the Snowball stemmer), so rankings match BM25Retriever's.

    It lives in SQLite: a file beside the embedded Chroma store (`path`), or in memory
    (path None: a Chroma server's replicas build their own). A process opens the file and
    reads only the postings of a question's terms, instead of holding every passage in
    Python objects. Every refresh is one transaction, version token included, so
    processes sharing the file see the old or the new state, never half of one.

    The data lives in Chroma (document texts and passage spans); this is a cache over
    it, keyed on the index's version token, which changes with every write by any
    process: replicas sharing one Chroma server each refresh theirs and agree.
    """

    def __init__(self, path: Path | None = None) -> None:
        """Open (or create) the store at path; LexicalIndexDamaged when it is unreadable."""
        self.path = path
        self._stem_cache: dict[str, str] = {}  # word -> stem; PyStemmer per call is slow
        # One connection, shared by threads one at a time: a search takes milliseconds.
        self._lock = threading.RLock()
        self._db = self._connect(path)

    @staticmethod
    def _connect(path: Path | None) -> sqlite3.Connection:
        db = sqlite3.connect(
            str(path) if path else ":memory:",
            timeout=_BUSY_SECONDS,
            isolation_level=None,  # transactions are explicit (BEGIN ... COMMIT)
            check_same_thread=False,
        )
        try:
            if path:
                db.execute("PRAGMA journal_mode=WAL")  # readers never wait for a refresh
                db.execute("PRAGMA synchronous=NORMAL")  # a cache: atomic is enough
                db.execute("PRAGMA journal_size_limit=8388608")  # after a big rebuild
            tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master")}
            if not tables:
                db.executescript(_SCHEMA)
                db.execute("INSERT INTO meta VALUES ('format', ?)", (LEXICAL_FORMAT,))
            found = db.execute("SELECT value FROM meta WHERE key = 'format'").fetchone()
            if not found or found[0] != LEXICAL_FORMAT:
                raise LexicalIndexDamaged(f"not a lexical index of format {LEXICAL_FORMAT}")
        except (sqlite3.DatabaseError, LexicalIndexDamaged) as exc:
            db.close()
            raise LexicalIndexDamaged(str(exc)) from exc
        return db

    def close(self) -> None:
        with self._lock:
            self._db.close()

    @classmethod
    def build(cls, index: Index, path: Path | None = None) -> LexicalIndex:
        lexical = cls(path)
        lexical.refresh(index)
        return lexical

    # ---- on disk, so a new process need not read every document -------------------

    @classmethod
    def open(cls, path: Path) -> LexicalIndex:
        """The store at path; a damaged or foreign one is replaced by an empty one (with a
        warning), which the next refresh fills from the index: it is only a cache of it."""
        try:
            return cls(path)
        except LexicalIndexDamaged as exc:
            log.warning("Ignoring the lexical index at %s (%s); rebuilding it.", path, exc)
            for leftover in _store_files(path):
                leftover.unlink(missing_ok=True)
            return cls(path)

    def save(self, path: Path) -> None:
        """Write a copy to path atomically (temp file, then rename): readers see the old
        or the new one. A store already at path is saved by every refresh's commit."""
        if self.path is not None and path.resolve() == self.path.resolve():
            return
        temporary = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}")
        temporary.unlink(missing_ok=True)
        copy = sqlite3.connect(str(temporary))
        try:
            with self._lock:
                self._db.backup(copy)
        finally:
            copy.close()
        for leftover in _store_files(path)[1:]:
            leftover.unlink(missing_ok=True)
        os.replace(temporary, path)

    @classmethod
    def load(cls, path: Path) -> LexicalIndex | None:
        """The store at path, or None when there is none or it cannot be read (then the
        caller builds from the index: the store is only a cache of it)."""
        if not path.is_file():
            return None
        try:
            return cls(path)
        except LexicalIndexDamaged as exc:
            log.warning("Ignoring the lexical index at %s (%s); rebuilding it.", path, exc)
            return None

    # ---- what it reflects --------------------------------------------------------------

    def _meta(self, key: str) -> str | None:
        found = self._db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return found[0] if found else None

    def _counts(self) -> tuple[int, int]:
        """(passages, their total BM25 length)."""
        return int(self._meta("size") or 0), int(self._meta("total_length") or 0)

    @property
    def version(self) -> str | None:
        """The Index.version this reflects (None before the first refresh)."""
        with self._lock:
            return self._meta("version")

    @property
    def size(self) -> int:
        """Passages indexed."""
        with self._lock:
            return self._counts()[0]

    # ---- keeping in step with the index ----------------------------------------------

    def refresh(self, index: Index) -> tuple[int, int]:
        """Bring this in line with the index; returns (documents read, documents dropped)."""
        with self._lock:
            version = index.version
            if self.path is not None and self.version == version:
                return 0, 0  # another process brought the file up to date meanwhile
            catalog = index.documents()
            self._db.execute("BEGIN IMMEDIATE")  # one writer per file; readers go on
            try:
                counts = self._refresh(index, version, catalog)
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            return counts

    def _refresh(self, index: Index, version: str, catalog: dict[str, Any]) -> tuple[int, int]:
        # Same text split anew (another passage budget or splitter) is stale too: its
        # passages are not the ones indexed here.
        stored = {
            source: (content_hash, indexed_as)
            for source, content_hash, indexed_as in self._db.execute(
                "SELECT source, content_hash, indexed_as FROM sources"
            )
        }
        stale = [
            source
            for source, split in stored.items()
            if source not in catalog
            or (catalog[source].content_hash, _indexed_as(catalog[source])) != split
        ]
        self._remove(stale)
        kept = set(stored) - set(stale)
        missing = [source for source in catalog if source not in kept]
        for batch in (
            missing[i : i + _REFRESH_BATCH] for i in range(0, len(missing), _REFRESH_BATCH)
        ):
            added = []
            for source, (content_hash, text) in index.document_records(batch).items():
                # The record's own hash: a text and its passage spans are written together.
                record = catalog[source]
                if record.content_hash != content_hash:
                    continue  # rewritten meanwhile; the next version change brings it
                added.append((source, content_hash, _indexed_as(record), text, record.passages))
            self._add(added)
        self._set_meta("version", version)
        return len(missing), len(stale)

    def _set_meta(self, key: str, value: str | int) -> None:
        self._db.execute(
            "INSERT INTO meta VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
            (key, str(value)),
        )

    def _tokenize(
        self, source: str, text: str, spans: Sequence[tuple[int, int]], subject: str = ""
    ) -> list[tuple[int, int, int, Counter[str], set[str]]]:
        """Per passage: (start, end, BM25 length, BM25 term counts, distinct content stems)."""
        content_drop = stopwords()
        bm25_drop = bm25_stopwords()
        stem = self._stem_cache
        passages = []
        for start, end in spans:
            body_words = words(text[start:end])
            # The passage's source and offsets are part of its BM25 text, as they were in
            # llama-index's BM25Retriever (metadata in MetadataMode.EMBED content): file
            # names are words people search by, and the eval thresholds are set on it.
            bm25_words = words(f"source: {source}\nstart: {start}\nend: {end}") + body_words
            # A title naming the document's subject ("numpy (Python package)") is every
            # passage's too: "It provides: an N-dimensional array" is about NumPy.
            bm25_words += words(subject)
            new = [w for w in set(bm25_words) if w not in stem]
            if new:
                stem.update(zip(new, _stemmer().stemWords(new)))
            terms = Counter([stem[w] for w in bm25_words if len(w) > 1 and w not in bm25_drop])
            stems_in = {stem[w] for w in body_words if w not in content_drop}
            passages.append((start, end, sum(terms.values()), terms, stems_in))
        if len(stem) > 500_000:  # bound the cache on huge vocabularies
            stem.clear()
        return passages

    def _add(
        self, documents: Sequence[tuple[str, str, str, str, Sequence[tuple[int, int]]]]
    ) -> None:
        """Index these (source, content hash, _indexed_as, text, passage spans) in the open
        transaction."""
        db = self._db
        size, total_length = self._counts()
        next_id = int(self._meta("next_passage") or 1)
        new_postings: dict[str, list[tuple[int, int, int]]] = {}
        df: Counter[str] = Counter()
        passage_rows = []
        for source, content_hash, indexed_as, text, spans in documents:
            passages = self._tokenize(source, text, spans, indexed_as.partition(_SUBJECT)[2])
            in_document: Counter[str] = Counter()
            for position, (start, end, length, terms, stems_in) in enumerate(passages):
                pid = next_id
                next_id += 1
                for term, tf in terms.items():
                    new_postings.setdefault(term, []).append((pid, tf, length))
                in_document.update(stems_in)
                total_length += length
                passage_rows.append((pid, source, position, start, end, length))
            size += len(passages)
            df.update(in_document)
            terms_of_document = dict.fromkeys(t for p in passages for t in p[3])
            db.execute(
                "INSERT INTO sources(source, content_hash, indexed_as, passages, terms, stems) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                (
                    source,
                    content_hash,
                    indexed_as,
                    len(passages),
                    "\n".join(terms_of_document),
                    json.dumps(in_document, separators=(",", ":")),
                ),
            )
        source_ids = (
            dict(
                db.execute(
                    f"SELECT source, id FROM sources WHERE source IN ({_marks(len(documents))})",
                    [d[0] for d in documents],
                )
            )
            if documents
            else {}
        )
        db.executemany(
            "INSERT INTO passages VALUES (?, ?, ?, ?, ?, ?)",
            [(pid, source_ids[s], pos, a, b, n) for pid, s, pos, a, b, n in passage_rows],
        )
        for term, entries in new_postings.items():
            added = np.array(entries, dtype=np.int32).T
            found = db.execute("SELECT data FROM postings WHERE term = ?", (term,)).fetchone()
            data = np.concatenate([_decode_postings(found[0]), added], axis=1) if found else added
            self._store_postings(term, data)
        db.executemany(
            "INSERT INTO stems VALUES (?, ?) ON CONFLICT(stem) DO UPDATE SET df = df + excluded.df",
            df.items(),
        )
        self._set_meta("size", size)
        self._set_meta("total_length", total_length)
        self._set_meta("next_passage", next_id)

    def _store_postings(self, term: str, data: np.ndarray) -> None:
        if data.shape[1]:
            self._db.execute(
                "INSERT INTO postings VALUES (?, ?) "
                "ON CONFLICT(term) DO UPDATE SET data = excluded.data",
                (term, np.ascontiguousarray(data, dtype=np.int32).tobytes()),
            )
        else:
            self._db.execute("DELETE FROM postings WHERE term = ?", (term,))

    def _remove(self, sources: Sequence[str]) -> None:
        """Drop these documents' passages, postings and stem counts (open transaction)."""
        if not sources:
            return
        db = self._db
        size, total_length = self._counts()
        removed: list[int] = []
        terms: set[str] = set()
        df: Counter[str] = Counter()
        for source in sources:
            source_id, count, terms_of_document, stems_json = db.execute(
                "SELECT id, passages, terms, stems FROM sources WHERE source = ?", (source,)
            ).fetchone()
            rows = db.execute(
                "SELECT id, length FROM passages WHERE source_id = ?", (source_id,)
            ).fetchall()
            removed.extend(pid for pid, _ in rows)
            total_length -= sum(length for _, length in rows)
            size -= count
            terms.update(filter(None, terms_of_document.split("\n")))
            df.update(json.loads(stems_json))
            db.execute("DELETE FROM passages WHERE source_id = ?", (source_id,))
            db.execute("DELETE FROM sources WHERE id = ?", (source_id,))
        gone = np.array(sorted(removed), dtype=np.int32)
        for term in terms:
            found = db.execute("SELECT data FROM postings WHERE term = ?", (term,)).fetchone()
            if found:
                data = _decode_postings(found[0])
                self._store_postings(term, data[:, ~np.isin(data[0], gone, assume_unique=True)])
        db.executemany(
            "UPDATE stems SET df = df - ? WHERE stem = ?", [(n, s) for s, n in df.items()]
        )
        db.execute("DELETE FROM stems WHERE df <= 0")
        self._set_meta("size", size)
        self._set_meta("total_length", total_length)

    # ---- reading ---------------------------------------------------------------------

    def _stem_df(self, stem: str) -> int:
        found = self._db.execute("SELECT df FROM stems WHERE stem = ?", (stem,)).fetchone()
        return int(found[0]) if found else 0

    def idf(self, stem: str) -> float:
        with self._lock:
            return math.log(1 + (self._counts()[0] + 1) / (self._stem_df(stem) + 0.5))

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
        with self._lock:
            found = {
                source: (count, stems_json)
                for source, count, stems_json in self._db.execute(
                    f"SELECT source, passages, stems FROM sources WHERE source IN "
                    f"({_marks(len(weights))})",
                    list(weights),
                )
            }
        share: Counter[str] = Counter()
        size = 0.0
        for source, count in weights.items():
            passages, stems_json = found.get(source, (0, "{}"))
            if not passages:
                continue
            weight = count / total
            size += passages
            for stem, df in json.loads(stems_json).items():
                share[stem] += weight * df / passages
        return TopicTerms(size, {stem: value * size for stem, value in share.items()})

    def known(self, stem: str) -> bool:
        with self._lock:
            return self._stem_df(stem) > 0

    def search(
        self, query: str, k: int, related: dict[str, list[tuple[str, float]]] | None = None
    ) -> list[tuple[str, str, int, int, float]]:
        """(passage id, source, start, end, score) for passages sharing a term with the query,
        best first: Lucene BM25 summed over the query's terms (repeats count again).

        `related` gives query terms stand-ins, each with a weight below 1 (see
        HybridRetriever.related_terms): a passage scores a term by the best of its own
        BM25 score for it and its stand-ins' weighted ones, so a passage saying
        "journalist" scores on "reporter", and one saying both scores once."""
        return self.ranking(query, k, related, listed=k).hits

    def ranking(
        self,
        query: str,
        k: int,
        related: dict[str, list[tuple[str, float]]] | None = None,
        listed: int = 0,
        among: Iterable[str] = (),
    ) -> LexicalRanking:
        """The k best passages as search ranks them, from one snapshot of the store: the
        first `listed` located (as search returns them), the rest only where `among`
        names them (passage ids), by rank and score.

        Locating a hit is a row read: a question of common words has thousands of hits,
        and reading them all cost up to 100 ms at 10,000 documents, where a hybrid
        search needs the ranks of its ~100 dense candidates and the first few hits."""
        if not stems(query) or k <= 0:
            return LexicalRanking([], {})
        terms = bm25_terms(query)
        with self._lock:
            self._db.execute("BEGIN")  # one snapshot of the file for the whole search
            try:
                best = self._best(terms, k, related or {})
                hits = self._locate(best[:listed])
                ranks = {hit[0]: (rank, hit[4]) for rank, hit in enumerate(hits)}
                order = {row: rank for rank, (row, _) in enumerate(best)}
                for pid, row in self._rows_of([p for p in among if p not in ranks]).items():
                    if row in order:
                        ranks[pid] = (order[row], best[order[row]][1])
                return LexicalRanking(hits, ranks)
            finally:
                self._db.execute("COMMIT")

    def _best(
        self, terms: list[str], k: int, related: dict[str, list[tuple[str, float]]]
    ) -> list[tuple[int, float]]:
        """(passage row id, score) of the k best passages, best first."""
        size, total_length = self._counts()
        if not size:
            return []
        average = (total_length / size) or 1.0
        postings = {}
        stand_ins = [other for term in terms for other, _ in related.get(term, ())]
        for term in dict.fromkeys(terms + stand_ins):
            found = self._db.execute("SELECT data FROM postings WHERE term = ?", (term,))
            row = found.fetchone()
            if row:
                postings[term] = _decode_postings(row[0])
        if not postings:
            return []
        # Scores accumulate per passage id in a dense array: the same float operations,
        # in the same order, as summing term by term in a dict.
        scores = np.zeros(max(int(p[0, -1]) for p in postings.values()) + 1)

        def term_scores(term: str) -> tuple[np.ndarray, np.ndarray]:
            pids, tf, length = postings[term]
            df = pids.size
            idf = math.log(1 + (size - df + 0.5) / (df + 0.5))
            tf = tf.astype(np.float64)
            norm = BM25_K1 * (1 - BM25_B + BM25_B * length / average)
            return pids, idf * tf / (norm + tf)

        for term in terms:
            forms = [(other, w) for other, w in related.get(term, ()) if other in postings]
            own = np.zeros(0)
            if term in postings:
                pids, value = term_scores(term)
                scores[pids] += value
                # A stand-in found in more passages than the word asked searches more
                # broadly than the question did ("china" for "chinese", "public" for
                # "publish"): it would lift many passages a little, and ranks are fused.
                forms = [(f, w) for f, w in forms if postings[f].shape[1] <= pids.size]
                if forms:
                    own = np.zeros_like(scores)
                    own[pids] = value
            if not forms:
                continue
            # What the stand-ins add: how far the best of them beats the term's own score
            # (nothing, and no float operation, where the passage lacks them all).
            best = np.zeros_like(scores)
            for other, weight in forms:
                other_pids, other_value = term_scores(other)
                best[other_pids] = np.maximum(best[other_pids], weight * other_value)
            gain = np.flatnonzero(best > own) if own.size else np.flatnonzero(best)
            scores[gain] += best[gain] - (own[gain] if own.size else 0.0)
        hit = np.flatnonzero(scores > 0)
        value = scores[hit]
        if hit.size > k:  # the k best, ties kept whole at the cut, then ordered
            kth = np.partition(value, hit.size - k)[hit.size - k]
            hit, value = hit[value >= kth], value[value >= kth]
        order = np.lexsort((hit, -value))[:k]  # best first; ties in indexing order
        return [(int(hit[i]), float(value[i])) for i in order]

    def _locate(self, best: list[tuple[int, float]]) -> list[tuple[str, str, int, int, float]]:
        if not best:
            return []
        rows = {
            pid: (source, position, start, end)
            for pid, source, position, start, end in self._db.execute(
                "SELECT p.id, s.source, p.position, p.span_start, p.span_end FROM passages p "
                f"JOIN sources s ON s.id = p.source_id WHERE p.id IN ({_marks(len(best))})",
                [pid for pid, _ in best],
            )
        }
        return [
            (passage_id(source, position), source, start, end, score)
            for pid, score in best
            for source, position, start, end in (rows[pid],)
        ]

    def _rows_of(self, passage_ids: Iterable[str]) -> dict[str, int]:
        """Row ids of these passages (those stored): one indexed lookup each, about 25 us."""
        rows: dict[str, int] = {}
        for pid in dict.fromkeys(passage_ids):
            source, position = passage_location(pid)
            found = self._db.execute(
                "SELECT p.id FROM passages p WHERE p.source_id = "
                "(SELECT id FROM sources WHERE source = ?) AND p.position = ?",
                (source, position),
            ).fetchone()
            if found:
                rows[pid] = int(found[0])
        return rows

    def contents(self) -> dict[str, Any]:
        """Everything a search or a term weight depends on, by passage id (not by the store's
        own row ids): two stores holding the same passages compare equal."""
        with self._lock:
            names = {
                pid: passage_id(source, position)
                for pid, source, position in self._db.execute(
                    "SELECT p.id, s.source, p.position FROM passages p "
                    "JOIN sources s ON s.id = p.source_id"
                )
            }
            lengths = {
                names[pid]: length
                for pid, length in self._db.execute("SELECT id, length FROM passages")
            }
            postings = {
                term: {names[int(pid)]: int(tf) for pid, tf, _ in _decode_postings(blob).T.tolist()}
                for term, blob in self._db.execute("SELECT term, data FROM postings")
            }
            return {
                "size": self._counts()[0],
                "total_length": self._counts()[1],
                "df": dict(self._db.execute("SELECT stem, df FROM stems")),
                "postings": postings,
                "passages": lengths,
            }


def _marks(count: int) -> str:
    return ", ".join("?" * count)


def _store_files(path: Path) -> list[Path]:
    """The SQLite file and its journals."""
    return [path] + [path.with_name(path.name + end) for end in ("-wal", "-shm", "-journal")]


class HybridRetriever:
    def __init__(self, index: Index, snapshot: Path | None = None) -> None:
        self.index = index
        self.snapshot = snapshot  # the BM25 index's SQLite file (None: in memory)
        self._lexical: LexicalIndex | None = None
        self._lock = threading.Lock()

    def lexical(self) -> LexicalIndex:
        """The BM25 index, refreshed (only what changed) when the index's version moved.

        With a snapshot path, a new process opens the SQLite store there: nothing is read
        from Chroma unless the index changed since, and then only the documents whose
        content hash differs."""
        with self._lock:
            if self._lexical is None:
                if self.snapshot is None:
                    self._lexical = LexicalIndex()
                else:
                    # The pickle the store replaces (rag before 2026-11-26): space to give back.
                    self.snapshot.with_suffix(".pickle").unlink(missing_ok=True)
                    self._lexical = LexicalIndex.open(self.snapshot)
            if self._lexical.version != self.index.version:
                self._lexical.refresh(self.index)
            return self._lexical

    def related_terms(self, asked: Sequence[str]) -> dict[str, list[tuple[str, float]]]:
        """Stand-ins for the BM25 terms of the question's words: stored words (the model's
        vocabulary table, the documents' words) whose vectors lie close to a word's
        (reporter ~ journalist 0.79), by the term they stand in for, each with its weight
        (see LexicalIndex.search). Nothing stored changes: vectors already there are read.

        The stemmer joins "reporter" with "reported", never with "journalist". Among many
        unrelated documents ("Size of the file in bytes, when reported.") the passage
        that says the question's word in other words would otherwise score on none of it
        and may not even become a candidate; the stand-ins give it a BM25 score for that
        word too, at a reduced weight."""
        words = [w for w in dict.fromkeys(asked) if w.isalpha()]
        if not words:
            return {}
        # A word neither in the model's vocabulary nor in the documents (a typo, a rare
        # name) has no stored vector: it is searched as it is, without a model call.
        vectors = self.index.word_vectors(words)
        words = [w for w in words if w in vectors]
        if not words:
            return {}
        own = {term for w in asked for term in bm25_terms(w)}
        drop = stopwords()
        nearest = self.index.similar_words(
            np.stack([vectors[w] for w in words]), RELATED_COSINE, RELATED_LOOKED_AT
        )
        related: dict[str, list[tuple[str, float]]] = {}
        for word, near in zip(words, nearest):
            terms = bm25_terms(word)
            if len(terms) != 1:
                continue
            best: dict[str, float] = {}
            for other, cosine in near:  # best first
                other_terms = bm25_terms(other)
                if other in drop or len(other_terms) != 1 or other_terms[0] in own:
                    continue
                best.setdefault(other_terms[0], RELATED_WEIGHT * cosine)
            if best:
                related.setdefault(terms[0], []).extend(best.items())
        return related

    def retrieve(self, query: str, k: int) -> Retrieval:
        """The k best passages: dense and BM25 candidates, each ranked on both signals.

        Plain reciprocal-rank fusion counts a passage missing from one list as absent from
        it: among many unrelated documents, a passage BM25 ranks first (the question's rare
        name) may be missing from the dense list because short fragments elsewhere ("the
        model.") sit closer to the question, and two middling ranks then outweigh it. So
        the candidates of either list are scored on the other too (cosine of their best
        sentence, BM25 score past the list's cut) and fused over those complete rankings.
        The k passages fusion keeps are then ordered by their margins over the pool. One
        exception to ranks choosing: the passage closest in meaning, when it stands clear
        of the rest (see standout), takes the last place if fusion left it out.
        """
        query_embedding = self.index.embedder.encode_one(query)
        dense_hits = self.index.nearest_sentences(query_embedding, max(100, 10 * k))
        # BM25 over the question's content words: "what", "does", "was" match everywhere
        # in a large corpus and rank passages by how a question is phrased.
        asked = content_words(query)
        lexical_cut = max(50, 5 * k)  # BM25 hits that become candidates themselves
        lexical = self.lexical().ranking(
            " ".join(asked),
            LEXICAL_DEPTH,
            self.related_terms(asked),
            listed=lexical_cut,
            among=[passage_id(s.source, s.passage) for s, _ in dense_hits if s.telling],
        )
        # Titles and passage spans of the candidates' documents only, not the whole catalog.
        catalog = self.index.documents_of(
            [s.source for s, _ in dense_hits] + [hit[1] for hit in lexical.hits]
        )
        candidates: dict[str, RetrievedPassage] = {}

        def candidate(pid: str, source: str, start: int, end: int) -> RetrievedPassage:
            if pid not in candidates:
                title = catalog[source].title if source in catalog else source
                candidates[pid] = RetrievedPassage(pid, source, title, start, end, 0.0, 0.0, 0.0)
            return candidates[pid]

        def span(sentence: SentenceHit) -> tuple[int, int]:
            spans = catalog[sentence.source].passages if sentence.source in catalog else ()
            if sentence.passage < len(spans):
                return spans[sentence.passage]
            return sentence.start, sentence.end

        by_passage: dict[str, list[StoredSentence]] = {}
        for sentence, cosine in dense_hits:
            if not sentence.telling:
                continue
            pid = passage_id(sentence.source, sentence.passage)
            passage = candidate(pid, sentence.source, *span(sentence))
            passage.dense = max(passage.dense, cosine)
        for pid, source, start, end, _ in lexical.hits:
            candidate(pid, source, start, end)
        lexical_rank = {pid: rank for pid, (rank, _) in lexical.ranks.items()}
        for pid, (_, score) in lexical.ranks.items():
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
        closest = standout(dense_order)
        if closest is not None and all(p.id != closest.id for p in top):
            top.append(closest)
        self._read_sentences(top, by_passage)
        kept = collapse_duplicates(top, asked)
        chosen = kept[:k]
        if closest is not None and any(p.id == closest.id for p in kept[k:]):
            chosen[-1] = closest
        if _chars(chosen) < CONTEXT_CHARS:
            # Short passages (one-line paragraphs of docstrings, lists, FAQs): k of them
            # are a fraction of the evidence k news paragraphs are, and the sentence that
            # answers is often the next line. Each comes with the passages beside it (see
            # _with_neighbours), and more follow, in rank order, while the evidence stays
            # under CONTEXT_CHARS.
            listed = {p.id for p in top}
            more = [p for p in ranked[2 * k : 4 * k] if p.id not in listed]
            self._read_sentences(more, by_passage)
            pool = collapse_duplicates(top + more, asked)
            chosen = self._with_neighbours(chosen, pool, catalog, by_passage, CONTEXT_CHARS // k)
        # Ranks choose the k passages: a BM25 score far above the pool's (a common word
        # repeated in an unrelated document) must not bring one in on its own. Among the
        # chosen, margins order them: one standing far above the rest on both signals
        # comes first, not one a hair ahead on each. A passage with neighbours joined
        # stands as high as the best candidate among them.
        margin = margins(list(candidates.values()))
        for passage in chosen:
            passage.score = max(margin.get(pid, -math.inf) for pid in [passage.id, *passage.joined])
        chosen += self._openings(chosen, by_passage)
        chosen.sort(key=lambda p: p.score, reverse=True)
        return Retrieval(query, query_embedding, chosen)

    def _with_neighbours(
        self,
        chosen: list[RetrievedPassage],
        pool: list[RetrievedPassage],
        catalog: dict[str, StoredDocument],
        by_passage: dict[str, list[StoredSentence]],
        share: int,
    ) -> list[RetrievedPassage]:
        """The evidence: each chosen passage joined by the lines just after and before it
        in its paragraph (in that order) while it stays within `share` characters, then
        more of the pool in rank order while the whole stays within CONTEXT_CHARS.

        Where a document's paragraphs are not recognised as wrapped (a docstring with
        some long lines), each line is split as a paragraph of its own, one passage per
        line: "value. If the preferences are not passed as arguments, they will be" is
        one passage, "set to the median of the input similarities" the next;
        "Maximum number of power iterations." is one, the line above it,
        "max_iter : integer, optional (default=100)", another. The passage a question
        matches is then a fragment, and what answers is on the line beside it, where
        neither rank nor the topping up with more hits reaches. Those lines are put
        back together here; two chosen passages side by side become one (the
        higher-ranked takes the other in, and the line beside that), so the text that
        answers is not split over two.

        Only lines of one paragraph (no blank line between) are joined: next to a short
        paragraph stands a heading or another topic, and such neighbours made answers
        quote unrelated lines. Passages the topping up brings stay as they are (their
        neighbours are further still from the question), and so does a heading alone,
        which brings the passage after it as its own (see _openings).
        """
        unseen = {p.id for p in chosen}  # chosen, not yet placed or joined to another
        placed: set[str] = set()  # in the evidence, on their own or joined to another
        used = _chars(chosen)
        evidence: list[RetrievedPassage] = []
        for rank, passage in enumerate(chosen + pool):
            if passage.id in placed:
                continue
            size = passage.end - passage.start
            if rank >= len(chosen):  # topping up
                if used + size > CONTEXT_CHARS:
                    break
                used += size
            unseen.discard(passage.id)
            placed.add(passage.id)
            evidence.append(passage)
            source, position = passage_location(passage.id)
            if _heading_alone(passage):
                following = passage_id(source, position + 1)
                if following not in unseen:
                    placed.add(following)  # _openings brings it, as its own
                continue
            if rank >= len(chosen):
                continue
            spans = catalog[source].passages if source in catalog else ()
            start, end = passage.start, passage.end
            for step in (1, -1):
                neighbour = position + step
                while 0 <= neighbour < len(spans):
                    pid = passage_id(source, neighbour)
                    chosen_too = pid in unseen
                    if pid in placed and not chosen_too:
                        break
                    wider = (min(start, spans[neighbour][0]), max(end, spans[neighbour][1]))
                    growth = (wider[1] - wider[0]) - (end - start)
                    if chosen_too:  # already counted in `used`
                        growth -= spans[neighbour][1] - spans[neighbour][0]
                    if wider[1] - wider[0] > share or used + growth > CONTEXT_CHARS:
                        break
                    if not self._one_paragraph(source, spans[neighbour], spans[neighbour - step]):
                        break
                    used += growth
                    start, end = wider
                    unseen.discard(pid)
                    placed.add(pid)
                    passage.joined.append(pid)
                    if not chosen_too:
                        break  # one line beside; a chosen one brings the line beside it
                    neighbour += step
        joined = [pid for p in evidence for pid in p.joined]
        self._read_sentences(
            [RetrievedPassage(pid, "", "", 0, 0, 0.0, 0.0, 0.0) for pid in joined], by_passage
        )
        for passage in evidence:
            sentences = [s for pid in passage.joined for s in by_passage.get(pid, [])]
            if sentences:
                passage.sentences = sorted(passage.sentences + sentences, key=lambda s: s.start)
                passage.start = min(passage.start, passage.sentences[0].start)
                passage.end = max(passage.end, passage.sentences[-1].end)
        return evidence

    def _one_paragraph(self, source: str, *spans: tuple[int, int]) -> bool:
        """Whether two adjacent passages of a document are lines of one paragraph: at most
        one line break between them (a blank line, or a rule, ends a paragraph)."""
        (_, first_end), (second_start, _) = sorted(spans)
        try:
            text = self.index.document_text(source)  # cached after the first read
        except UnknownSourceError:  # removed since the search: nothing to join
            return False
        return text.count("\n", first_end, second_start) <= 1

    def _openings(
        self, chosen: list[RetrievedPassage], by_passage: dict[str, list[StoredSentence]]
    ) -> list[RetrievedPassage]:
        """The passage after each chosen heading ("...Meter (class)" alone in its
        paragraph): what the heading's document says first ("Handles instrument creation.")
        is what a question naming it asks, yet shares none of its words."""
        taken = {pid for p in chosen for pid in [p.id, *p.joined]}
        following = []
        for passage in chosen:
            if not _heading_alone(passage):
                continue
            source, position = passage_location(passage.id)
            pid = passage_id(source, position + 1)
            if pid not in taken:
                taken.add(pid)
                score = passage.score - 1e-6  # it ranks just under its heading
                following.append(RetrievedPassage(pid, source, passage.title, 0, 0, score, 0, 0))
        if not following:
            return []
        self._read_sentences(following, by_passage)
        found = [p for p in following if p.sentences]
        for p in found:
            p.start, p.end = p.sentences[0].start, p.sentences[-1].end
        return found

    def _read_sentences(
        self, passages: list[RetrievedPassage], by_passage: dict[str, list[StoredSentence]]
    ) -> None:
        missing = [p.id for p in passages if p.id not in by_passage]
        for sentence in self.index.sentences_of(missing):
            by_passage.setdefault(passage_id(sentence.source, sentence.passage), []).append(
                sentence
            )
        for passage in passages:
            passage.sentences = sorted(by_passage.get(passage.id, []), key=lambda s: s.start)


def _chars(passages: list[RetrievedPassage]) -> int:
    return sum(p.end - p.start for p in passages)


def _heading_alone(passage: RetrievedPassage) -> bool:
    """The passage is its document's title line and nothing else ("...Meter (class)")."""
    return [s.text.strip() for s in passage.sentences] == [passage.title.strip()]


def standout(dense_order: list[RetrievedPassage]) -> RetrievedPassage | None:
    """The passage closest in meaning when it stands clear of the rest: ahead of the next
    by more than the pool's spread of cosines (a standard deviation).

    Such a passage stays among the k whatever its BM25 rank: among many unrelated short
    passages each repeating one query word ("key", "name", "event"), it can rank below
    all of them on BM25 and lose on fused ranks alone. A dense lead of a hair is no such
    evidence, and then fused ranks decide as usual."""
    if len(dense_order) < 2:
        return None
    spread = float(np.std([p.dense for p in dense_order]))
    first, second = dense_order[0], dense_order[1]
    return first if first.dense - second.dense > spread else None


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


def collapse_duplicates(
    passages: list[RetrievedPassage], asked: Sequence[str] = ()
) -> list[RetrievedPassage]:
    """Drop passages that retell a higher-ranked one almost word for word.

    Of two retellings, the one whose title names more of the question's words stands in
    the higher one's place: docstrings repeat a parameter's text from class to class, and
    "the default padding token of the FastSpeech2Conformer tokenizer" is in that class's
    copy (defaults to "<blank>"), not in the SigLIP copy ranked above it ("</s>")."""
    kept: list[tuple[RetrievedPassage, np.ndarray]] = []
    for passage in passages:
        if not passage.sentences:
            continue
        centroid = np.mean([s.embedding for s in passage.sentences], axis=0)
        centroid /= np.linalg.norm(centroid) or 1.0
        at = next(
            (i for i, (_, c) in enumerate(kept) if float(c @ centroid) >= DUPLICATE_COSINE), None
        )
        if at is None:
            kept.append((passage, centroid))
            continue
        twin = kept[at][0]
        if _title_names(passage.title, asked) > _title_names(twin.title, asked):
            twin, passage = passage, twin
            kept[at] = (twin, kept[at][1])
            for pid in passage.duplicates:
                _add_duplicate(twin, pid)
            passage.duplicates.clear()
        _add_duplicate(twin, passage.id)
    return [p for p, _ in kept]


def _add_duplicate(passage: RetrievedPassage, pid: str) -> None:
    # Collapsing runs again over a wider pool: a duplicate is listed once.
    if pid != passage.id and pid not in passage.duplicates:
        passage.duplicates.append(pid)


def _title_names(title: str, asked: Sequence[str]) -> int:
    """How many of the question's longer words a title spells, in any case and without
    separators ("fastspeech2conformer" in "...fastspeech2_conformer.FastSpeech2Con...")."""
    spelled = re.sub(r"[\W_]+", "", title.lower())
    return sum(1 for word in set(asked) if len(word) >= 4 and word in spelled)
