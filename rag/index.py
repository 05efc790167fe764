"""Stage 3 — index: sentences and their embeddings in Chroma, kept in step with the corpus.

Collections:
- `<name>-sentences[-<generation>]`: one record per sentence with its embedding and
  offsets (written to the Chroma collection directly: see Index._add_sentences). Its
  name is kept in the state record: compaction (Index.compact) writes a new generation.
- `<name>-documents`: one record per document: its extracted text, content hash,
  title and passage spans. It is written *after* a document's sentences, so a
  document whose record carries the current hash is known to be complete; an
  interrupted ingest is simply redone for that document on the next run.
- `<name>-state`: the version token (see Index.version), the sentence collection's name,
  how many sentence records were ever written to it (see Index.dead_sentences), and
  which embedding identities the document records may hold (see Index.check_embedding).
- `<name>-words-<embedding identity>`: vectors of single words, for the answer stage's
  near-synonym matching (attackers ~ hackers). A cache: never deleted with a document,
  and a word missing from it is simply encoded when an answer needs it.

Crash safety (a process may be killed at any instruction): before an indexed
document's sentences are replaced its record is marked pending (hash ""), so a
half-replaced document never looks current. Documents are embedded and written in
groups, so a killed ingest keeps the groups it finished. Every sync starts with a
consistency check: when the sentence count disagrees with the registry, orphan
sentences and pending or incomplete records are removed before anything else.
"""

from __future__ import annotations

import json
import logging
import re
import threading
import time
from collections.abc import Callable, Container, Iterable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field, replace
from functools import partial
from pathlib import Path
from typing import Any, TypeVar

import numpy as np

from rag.chunks import (
    Passage,
    chunking_signature,
    passage_location,
    sentence_id,
    sentence_key,
    sentence_location,
    split_document,
    telling,
)
from rag.documents import Document
from rag.embeddings import (
    LEGACY_IDENTITY,
    Embedder,
    WordTable,
    embedding_identity,
    innermost,
)
from rag.errors import IndexUnavailableError, UnknownSourceError

_LOOKUP_BATCH = 256  # ids or keys per Chroma get(); keeps where-clauses small
_WORD_BATCH = 2048  # words embedded and written per call when ingesting vocabulary
_ADD_BATCH = 1000  # sentence records per Chroma add()
_SCAN_PAGE = 5000  # records per page when the consistency check reads every sentence
_RECORD_PAGE = 1000  # document records per page when preload_records reads them all
_SEGMENT_FOLDER = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
# Chroma writes a collection's HNSW graph to disk every sync_threshold records (1,000 by
# default); the records since wait in its log, and each process that opens the index adds
# them to its graph again. Those graphs differ, and so do the graph search's hits: on the
# 722-document docstrings mix, with 574 records in the log, six processes asking one
# question for 100 sentences got four lists, and eval answers differed between two runs.
# With the graph persisted whole, the six got one list. At 100, an ingest's write groups
# (hundreds of sentences each) leave the graph persisted, a small write leaves at most 99
# records to the log, and a delete of a few records rarely pays for a persist, whose cost
# grows with the index (at 62,800 records 100-130 ms, against 7-14 ms for a write that
# does not persist). Persisting after every add, 15,700 records added 1,000 at a time took
# 6.1-7.1 s against 6.5-6.6 s, and 62,800 took 39.6 s against 37.1 s.
_PERSIST_EVERY = 100
# Chroma's legacy metadata keys: its configuration argument would record an embedding
# function ("legacy") where these leave none, and warn on every later modify().
_SENTENCE_SPACE = {"hnsw:space": "cosine", "hnsw:sync_threshold": _PERSIST_EVERY}
_WORD_SPACE = {"hnsw:sync_threshold": _PERSIST_EVERY}  # squared L2, Chroma's default
# A document record's metadata: the two keys queries filter on, and every other field as
# one JSON value. Chroma keeps each metadata key as a row of its own and reads them row by
# row: ten keys made a record read cost twice what three do (50 records: 7-8 ms against
# 3.4-4.5 ms), and a question reads 50-100 records.
_RECORD = "record"
# The keys of records written before packing; the next ingest packs them (Index._repack).
_UNPACKED = (
    "title",
    "description",
    "passages",
    "sentence_spans",
    "fragments",
    "sentences",
    "added_at",
    "chunking",
)
PENDING = ""  # content_hash of a record whose sentences are being replaced
_STATE_ID = "corpus"  # the record in <name>-state that carries the version token
_IDENTITY_SEPARATOR = " "  # between the identities in the state's "embeddings"

log = logging.getLogger(__name__)
_T = TypeVar("_T")


@dataclass
class IngestReport:
    added: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    failed: list[dict[str, str]] = field(default_factory=list)  # {"source", "reason"}
    embedded: int = 0  # sentences sent to the model
    words_embedded: int = 0  # new vocabulary sent to the model (see Index.word_vectors)
    reused: int = 0  # sentences whose embedding was already stored
    seconds: float = 0.0
    compacted: bool = False  # the sentence collection was rebuilt afterwards (compact())

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class CompactReport:
    sentences: int  # live sentence records copied to the new collection
    dropped: int | None  # deleted vectors Chroma still held (None: written before counting)
    collection: str  # the sentence collection's new name
    seconds: float
    database_mb: tuple[float, float] | None = None  # an embedded store's file, before/after

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class StoredDocument:
    source: str
    title: str
    description: str
    content_hash: str
    passages: tuple[tuple[int, int], ...]
    sentences: int
    added_at: float
    chunking: str = ""  # how it was split (CHUNKING and the passage budget)
    # Which model variant made its vectors (rag/embeddings.py IDENTITIES); records from
    # before identities were kept were all made by torch, i.e. the fp32 identity.
    embedding: str = LEGACY_IDENTITY
    # Each passage's sentences as (start, end): their record ids, so a question reads a
    # passage's sentences by id (about 1.5 ms at 10,000 documents) instead of by a
    # metadata filter (about 30 ms). None in records written before it was kept.
    sentence_spans: tuple[tuple[tuple[int, int], ...], ...] | None = None
    # Starts of the sentences too short to speak for their passage (chunks.telling): a
    # nearest-sentence search then needs only the hits' ids and this record, not each
    # hit's row (rows cost ~0.2 ms each, 100 per question). None in older records.
    fragments: frozenset[int] | None = None
    packed: bool = True  # written as one JSON value (_RECORD); False for older records

    @property
    def current(self) -> bool:
        """Whether the record has every field the format has now (else _repack fixes it)."""
        return self.packed and self.sentence_spans is not None and self.fragments is not None

    def passage_of(self, start: int, end: int) -> int | None:
        """The passage holding the sentence at start:end, per sentence_spans."""
        for position, spans in enumerate(self.sentence_spans or ()):
            if spans and spans[0][0] <= start and end <= spans[-1][1] and (start, end) in spans:
                return position
        return None


@dataclass(frozen=True)
class SentenceHit:
    """Where a sentence is."""

    id: str
    source: str
    start: int
    end: int
    passage: int


@dataclass(frozen=True)
class DenseHit(SentenceHit):
    """A sentence found by nearest-neighbour search."""

    telling: bool  # says enough to speak for its passage (chunks.telling)


@dataclass(frozen=True)
class StoredSentence(SentenceHit):
    """A sentence as stored: what it says, with its vector."""

    text: str
    embedding: np.ndarray
    meaning: str = ""  # what was embedded, where it differs from text (table rows)


def open_client(index_dir: Path, chroma_url: str | None = None) -> Any:
    """The embedded store in `index_dir`, or a Chroma server when `chroma_url` is set."""
    import chromadb
    from chromadb.config import Settings as ChromaSettings

    if chroma_url:
        return _http_client(chroma_url)
    try:
        index_dir.mkdir(parents=True, exist_ok=True)
        return chromadb.PersistentClient(
            path=str(index_dir), settings=ChromaSettings(anonymized_telemetry=False)
        )
    except Exception as exc:  # chromadb raises many types for a damaged folder
        raise IndexUnavailableError(
            f"Cannot open the index at {index_dir} ({type(exc).__name__}: {exc}). "
            "Run `rag ingest --rebuild` to build it again from the corpus."
        ) from exc


def check_index_folder(index_dir: Path) -> None:
    """Refuse a half-written embedded index before Chroma opens it.

    Chroma treats a folder whose database file is missing or empty as a new, empty
    store, so an index that lost its database would silently answer nothing; its
    vector segments (one folder per collection) left beside it give that away.
    """
    if index_dir.exists() and not index_dir.is_dir():
        raise IndexUnavailableError(
            f"The index folder {index_dir} is a file, not a folder. "
            "Move the file away or set RAG_INDEX_DIR to another folder."
        )
    if not index_dir.is_dir():
        return
    database = index_dir / "chroma.sqlite3"
    segments = [p.name for p in index_dir.iterdir() if p.is_dir()]
    if segments and (not database.is_file() or database.stat().st_size == 0):
        state = "is empty" if database.is_file() else "is missing"
        raise IndexUnavailableError(
            f"The index at {index_dir} is damaged or half-written: its database "
            f"chroma.sqlite3 {state} but {len(segments)} vector segment folder(s) remain. "
            "Run `rag ingest --rebuild` to build it again from the corpus."
        )


def _http_client(chroma_url: str) -> Any:
    """chromadb.HttpClient for http(s)://host[:port]; fails now, not at the first question."""
    from urllib.parse import urlsplit

    import chromadb
    from chromadb.config import Settings as ChromaSettings

    url = urlsplit(chroma_url if "://" in chroma_url else f"http://{chroma_url}")
    if url.scheme not in ("http", "https") or not url.hostname:
        raise IndexUnavailableError(
            f"RAG_CHROMA_URL={chroma_url!r} is not a server address; "
            "expected http://host:port (for example http://127.0.0.1:8000)."
        )
    ssl = url.scheme == "https"
    try:
        client = chromadb.HttpClient(
            host=url.hostname,
            port=url.port or (443 if ssl else 8000),
            ssl=ssl,
            settings=ChromaSettings(anonymized_telemetry=False),
        )
        client.heartbeat()
    except Exception as exc:  # connection refused, DNS, TLS, version mismatch...
        raise _unreachable(chroma_url, exc) from exc
    return client


def _unreachable(chroma_url: str, exc: Exception) -> IndexUnavailableError:
    return IndexUnavailableError(
        f"Cannot reach the Chroma server at {chroma_url} ({type(exc).__name__}: {exc}). "
        "Start it (`make chroma`, or `chroma run --path DIR --host 127.0.0.1 --port N`) "
        "or unset RAG_CHROMA_URL to use the embedded store."
    )


@contextmanager
def server_outage_as_error(chroma_url: str | None) -> Iterator[None]:
    """In server mode, a server lost after start is the same clear error as one never
    reached; the client reconnects by itself once the server is back."""
    try:
        yield
    except Exception as exc:
        import httpx  # chromadb's HTTP client is built on it

        if chroma_url and isinstance(exc, httpx.TransportError):
            raise _unreachable(chroma_url, exc) from exc
        raise


class EmbeddingMismatchError(IndexUnavailableError):
    """The index's vectors were made by another model variant than the query's."""


def _persist_every_hundred_records(collection: Any) -> None:
    """Give a collection created before _PERSIST_EVERY its setting. Chroma reads it when a
    process first loads the collection's graph: a process that had already searched it
    goes on persisting every 1,000 records until it restarts."""
    if collection.configuration_json["hnsw"]["sync_threshold"] != _PERSIST_EVERY:
        collection.modify(configuration={"hnsw": {"sync_threshold": _PERSIST_EVERY}})


class Index:
    def __init__(
        self, client: Any, name: str, embedder: Embedder, compact_ratio: float = 0.5
    ) -> None:
        self.embedder = embedder
        self._client = client
        self._name = name
        # After an ingest, rebuild the sentence collection when the deleted vectors Chroma
        # still holds exceed this fraction of the live ones (0: only on compact()).
        self.compact_ratio = compact_ratio
        # One record holding a token that every write replaces: readers in any
        # process (app replicas sharing a Chroma server) compare it to see changes.
        self._state = client.get_or_create_collection(f"{name}-state", embedding_function=None)
        state = self._state_metadata()
        # embedding_function=None: we always pass vectors, and Chroma's default
        # function would download a model.
        self._sentences = client.get_or_create_collection(
            str(state.get("sentences") or f"{name}-sentences"),
            embedding_function=None,
            metadata=_SENTENCE_SPACE,
        )
        # Sentence records ever added to self._sentences (None: an index written before
        # they were counted, until the next write counts from the live ones).
        written = state.get("written")
        self._written: int | None = int(written) if written is not None else None
        self._documents = client.get_or_create_collection(
            f"{name}-documents", embedding_function=None
        )
        # One per embedding identity: a backend with other vectors (int8) has its own words.
        words_of = re.sub(r"[^A-Za-z0-9._-]", "-", embedding_identity(embedder))
        self._words = client.get_or_create_collection(
            f"{name}-words-{words_of}", embedding_function=None, metadata=_WORD_SPACE
        )
        self._write_lock = threading.RLock()  # one sync at a time (repair() nests in it)
        self._access = ReadWriteLock()  # readers see a document before or after a write
        self.write_group_sentences = 4 * embedder.batch_size  # sentences embedded per group
        self._version = ""  # the token the cached catalog was read at
        self._catalog: dict[str, StoredDocument] | None = None
        self._texts: dict[str, tuple[str, str]] = {}  # source -> (hash, text)
        # Records read one by one (documents_of) at self._version, when the whole catalog
        # was not needed: a question reads a few dozen of them, not ten thousand.
        self._records: dict[str, StoredDocument | None] = {}
        self._records_version = ""
        # Every record's stored metadata, undecoded, read at once (preload_records) by a
        # process that serves questions: dropped when the version token changes.
        self._metadata: dict[str, dict[str, Any]] | None = None
        self._preloaded = False  # preload_records was called: this process's writes renew it
        self._embedding_checked: str | None = None  # the version check_embedding passed at
        # (version token, the state's "embeddings" at it): kept from the last state read,
        # so check_embedding reads nothing more for a token already seen.
        self._identities_seen: tuple[str, str | None] = ("", None)
        self._pinned = threading.local()  # .token: the version for this thread's answer

    # ---- reading -------------------------------------------------------------------

    @contextmanager
    def reading(self) -> Iterator[None]:
        """Hold while answering: no document changes under the reader's feet. The version
        token is read once for the whole answer (this thread's reads of it are pinned):
        a question checked it eight times, a Chroma read each."""
        with self._access.reading():
            outer = getattr(self._pinned, "token", None)
            if outer is None:
                self._pinned.token = self.version
            try:
                yield
            finally:
                if outer is None:
                    self._pinned.token = None

    @property
    def version(self) -> str:
        """Changes whenever the indexed content changes, by any process writing to this
        Chroma store (for caches built on it). Costs one small Chroma read (none inside
        reading(), which read it once)."""
        pinned = getattr(self._pinned, "token", None)
        if pinned is not None:
            return pinned
        state = self._state_metadata()
        token = str(state.get("version", ""))
        if token != self._version:
            self._catalog = None  # another process changed the index
            self._metadata = None
            self._version = token
            self._follow(state)
        return token

    def _state_metadata(self) -> dict[str, Any]:
        got = self._state.get(ids=[_STATE_ID], include=["metadatas"])
        state = dict(got["metadatas"][0] or {}) if got["ids"] else {}
        self._identities_seen = (str(state.get("version", "")), state.get("embeddings"))
        return state

    def _follow(self, state: dict[str, Any]) -> None:
        """Another process compacted: read the sentence collection it switched to."""
        name = state.get("sentences")
        if name and name != self._sentences.name:
            self._sentences = self._client.get_collection(str(name), embedding_function=None)
            written = state.get("written")
            self._written = int(written) if written is not None else None

    def _bump_version(self) -> None:
        """Publish a new token after a write (always after the data it covers is stored)."""
        import uuid

        identities = self._identities_after_write()
        token = uuid.uuid4().hex
        state: dict[str, Any] = {"version": token, "sentences": self._sentences.name}
        if self._written is not None:
            state["written"] = self._written
        state["embeddings"] = _IDENTITY_SEPARATOR.join(sorted(identities))
        self._state.upsert(ids=[_STATE_ID], documents=[""], embeddings=[[0.0]], metadatas=[state])
        self._identities_seen = (token, state["embeddings"])
        self._catalog = None
        self._metadata = None
        self._version = token

    def _identities_after_write(self) -> set[str]:
        """The embedding identities the document records may hold after a write: a
        superset, exact whenever it names more than this embedder's own.

        This process writes records of its own identity or keeps a record's, so a state
        that named only ours still does; otherwise (a state from before identities were
        kept, or another variant's records still there) the records are scanned, as
        check_embedding used to on every cold ask (0.3-0.4 s at 10,000 documents).
        """
        identity = embedding_identity(self.embedder)
        named = self._state_metadata().get("embeddings")
        if _names_only(named, identity):
            return {identity}
        return self._other_identities(identity) | {identity}

    def _other_identities(self, identity: str) -> set[str]:
        """The identities of complete records other than this one (a filtered scan)."""
        other = {"$and": [{"embedding": {"$ne": identity}}, {"content_hash": {"$ne": PENDING}}]}
        if not self._documents.get(where=other, limit=1, include=[])["ids"]:
            return set()
        others = self._documents.get(where=other, include=["metadatas"])
        return {str(m.get("embedding", LEGACY_IDENTITY)) for m in others["metadatas"] or []}

    def documents(self) -> dict[str, StoredDocument]:
        self.version  # noqa: B018 - drops the cached catalog if another process wrote
        catalog = self._catalog
        if catalog is None:
            got = self._documents.get(include=["metadatas"])
            catalog = {
                id_: _stored_document(id_, meta)
                for id_, meta in zip(got["ids"], got["metadatas"] or [])
            }
            self._catalog = catalog
        return catalog

    def documents_of(self, sources: Iterable[str]) -> dict[str, StoredDocument]:
        """The records of these sources (those indexed), without reading the whole
        catalog: cached until the version token changes, like documents()."""
        self.version  # noqa: B018 - drops cached records if another process wrote
        if self._catalog is not None:
            return {s: self._catalog[s] for s in sources if s in self._catalog}
        if self._records_version != self._version:
            self._records = {}
            self._records_version = self._version
        wanted = list(dict.fromkeys(sources))
        unread = [s for s in wanted if s not in self._records]
        if self._metadata is not None:
            for source in unread:
                meta = self._metadata.get(source)
                self._records[source] = _stored_document(source, meta) if meta else None
            unread = []
        for batch in _batches(unread, _LOOKUP_BATCH):
            got = self._documents.get(ids=batch, include=["metadatas"])
            found = dict(zip(got["ids"], got["metadatas"] or []))
            for source in batch:
                meta = found.get(source)
                self._records[source] = _stored_document(source, meta) if meta else None
        return {s: record for s in wanted if (record := self._records[s]) is not None}

    def preload_records(self) -> None:
        """Read every document record's metadata now, undecoded, for documents_of to
        decode the few a question needs without a store read: at 10,000 documents 0.7 s
        and ~50 MB of the process, against 5-10 ms of record reads per question (the
        decoded catalog, documents(), would hold ~190 MB). Kept until the index changes;
        renewed after this process's writes (sync, remove), not after another's."""
        self._preloaded = True
        with self._access.reading():
            self.version  # noqa: B018 - the token the records are read at
            metadata: dict[str, dict[str, Any]] = {}
            offset = 0
            while True:  # in pages: all 10,000 records in one read held ~110 MB at once
                got = self._documents.get(include=["metadatas"], limit=_RECORD_PAGE, offset=offset)
                if not got["ids"]:
                    break
                metadata.update((i, m) for i, m in zip(got["ids"], got["metadatas"] or []) if m)
                offset += len(got["ids"])
            self._metadata = metadata

    def has_documents(self) -> bool:
        """Whether anything is indexed (one small read, not the catalog)."""
        return bool(self._documents.get(limit=1, include=[])["ids"])

    def document_text(self, source: str) -> str:
        stored = self.documents_of([source]).get(source)
        if stored is None:
            raise UnknownSourceError(f"'{source}' is not an indexed source.")
        cached = self._texts.get(source)
        if cached and cached[0] == stored.content_hash:
            return cached[1]
        got = self._documents.get(ids=[source], include=["documents"])
        if not got["ids"]:
            raise UnknownSourceError(f"'{source}' is not an indexed source.")
        text = got["documents"][0]
        self._texts[source] = (stored.content_hash, text)
        return text

    def document_records(self, sources: Sequence[str]) -> dict[str, tuple[str, str]]:
        """(content hash, text) of many sources in a few Chroma reads, each pair from one
        record (what the lexical index is built from)."""
        records: dict[str, tuple[str, str]] = {}
        for batch in _batches(list(sources), _LOOKUP_BATCH):
            got = self._documents.get(ids=batch, include=["documents", "metadatas"])
            for id_, text, meta in zip(got["ids"], got["documents"], got["metadatas"]):
                records[id_] = (str(meta["content_hash"]), text)
        return records

    def count_sentences(self) -> int:
        return int(self._sentences.count())

    def nearest_sentences(self, query: np.ndarray, n: int) -> list[tuple[DenseHit, float]]:
        """The n sentences closest to the query, with their cosines.

        Queried on the raw collection (not ChromaVectorStore.query) because we need the
        cosine itself, and for ids and distances only: Chroma reads any other field of
        the hits row by row (at 10,000 documents 10-30 ms for 100 hits, against 3 ms for
        the search), while where each hit is comes from its id and its document's record
        (passage, and whether it is a fragment), which the retriever reads anyway for
        the passages' spans. Hits the records do not place (records from before
        fragments were listed, or a document rewritten since the search) read their rows.
        """
        self.check_embedding()
        # No count() first: Chroma returns what it has when n exceeds it (none when empty).
        got = self._sentences.query(
            query_embeddings=[query.tolist()], n_results=n, include=["distances"]
        )
        # Equal distances (the same sentence in two documents) in id order, not in the
        # order the graph search happened to meet them.
        closest = sorted(zip(got["distances"][0], got["ids"][0]))
        ids = [id_ for _, id_ in closest]
        distances = [dist for dist, _ in closest]
        located = [sentence_location(id_) for id_ in ids]
        records = self.documents_of(source for source, _, _ in located)
        placed: dict[str, DenseHit] = {}
        for id_, (source, start, end) in zip(ids, located):
            record = records.get(source)
            if record is None or record.fragments is None:
                continue
            position = record.passage_of(start, end)
            if position is not None:
                says = start not in record.fragments
                placed[id_] = DenseHit(id_, source, start, end, position, says)
        unplaced = [id_ for id_ in ids if id_ not in placed]
        for batch in _batches(unplaced, _LOOKUP_BATCH):
            for sentence in self._read_sentences(ids=batch, vectors=False):
                placed[sentence.id] = DenseHit(
                    sentence.id,
                    sentence.source,
                    sentence.start,
                    sentence.end,
                    sentence.passage,
                    telling(sentence.text),
                )
        return [
            (placed[id_], 1.0 - float(dist))
            for id_, dist in zip(ids, distances)
            if id_ in placed  # deleted since the search
        ]

    def check_embedding(self) -> None:
        """Refuse to compare query vectors with stored vectors of another model variant.

        int8 vectors are close to fp32 ones but not equal, and a mixed comparison would
        quietly shift every score and threshold; an error that names the fix beats a
        silent fallback (re-embedding the index is what a changed RAG_EMBED_BACKEND needs,
        and the next full `rag ingest` does exactly that, reusing nothing across variants).
        """
        identity = embedding_identity(self.embedder)
        version = self.version
        if self._embedding_checked == version:
            return
        seen_at, named = self._identities_seen
        if seen_at != version:
            named = self._state_metadata().get("embeddings")
        # The state names the identities every write left (see _identities_after_write):
        # when it names ours alone, nothing is scanned. Otherwise, or for a state from
        # before it named them, only records of another variant (or none named, i.e. the
        # legacy one) come back from a filtered scan.
        if _names_only(named, identity):
            stored: set[str] = set()
        else:
            stored = self._other_identities(identity)
        if stored - {identity}:
            same = self._documents.get(
                where={"$and": [{"embedding": identity}, {"content_hash": {"$ne": PENDING}}]},
                limit=1,
                include=[],
            )
            stored |= {identity} if same["ids"] else set()
            backend = getattr(innermost(self.embedder), "backend", "?")
            raise EmbeddingMismatchError(
                f"The index holds {', '.join(sorted(stored))} vectors but "
                f"RAG_EMBED_BACKEND={backend} makes {identity} vectors for questions. "
                "Run `rag ingest` to re-embed the corpus with this backend, or set "
                "RAG_EMBED_BACKEND to the one the index was built with."
            )
        self._embedding_checked = version

    def sentences_of(self, passage_ids: Sequence[str]) -> list[StoredSentence]:
        located = [passage_location(pid) for pid in passage_ids]
        records = self.documents_of(source for source, _ in located)
        ids: list[str] = []
        unlisted: list[str] = []  # passages of records without sentence spans
        for pid, (source, position) in zip(passage_ids, located):
            record = records.get(source)
            if record is None:
                continue
            if record.sentence_spans is None:
                unlisted.append(pid)
            elif position < len(record.sentence_spans):
                ids.extend(sentence_id(source, a, b) for a, b in record.sentence_spans[position])
        found: list[StoredSentence] = []
        for batch in _batches(ids, _LOOKUP_BATCH):
            found.extend(self._read_sentences(ids=batch))
        for batch in _batches(unlisted, _LOOKUP_BATCH):
            found.extend(self._read_sentences(where={"passage_id": {"$in": batch}}))
        return found

    def _read_sentences(self, vectors: bool = True, **selection: Any) -> list[StoredSentence]:
        fields = ["metadatas", "documents", "embeddings"] if vectors else ["metadatas", "documents"]
        got = self._sentences.get(**selection, include=fields)
        embeddings = got["embeddings"] if vectors else [np.zeros(0)] * len(got["ids"])
        return [
            _stored_sentence(id_, meta, doc, emb)
            for id_, meta, doc, emb in zip(
                got["ids"], got["metadatas"], got["documents"], embeddings
            )
        ]

    def word_vectors(self, words: Sequence[str]) -> dict[str, np.ndarray]:
        """Stored vectors of these words (the machine's vocabulary table, then those
        ingested so far), by word."""
        wanted = list(dict.fromkeys(words))
        table = self._word_table()
        found: dict[str, np.ndarray] = table.get(wanted) if table else {}
        for batch in _batches([w for w in wanted if w not in found], _LOOKUP_BATCH):
            got = self._words.get(ids=batch, include=["embeddings"])
            for word, emb in zip(got["ids"], got["embeddings"]):
                found[word] = np.asarray(emb, dtype=np.float32)
        return found

    def similar_words(
        self, vectors: np.ndarray, min_cosine: float, n: int
    ) -> list[list[tuple[str, float]]]:
        """For each row of `vectors` (unit length), up to n words at least min_cosine close
        to it, with their cosines, best first.

        The words are the machine's vocabulary table (one matrix product) when there is
        one, else the documents' words (Chroma's nearest-neighbour search). Not both: a
        word the model splits into pieces ("modelprotowithshapeinfo") has a vector of its
        pieces, close to one of them ("model") without meaning it, and querying the
        collection costs as much as the matrix product."""
        if not len(vectors) or n <= 0:
            return []
        table = self._word_table()
        if table is not None and len(table):
            found = []
            for row in np.asarray(table.vectors @ vectors.T).T:  # (queries, words)
                close = np.flatnonzero(row >= min_cosine)
                close = close[np.argsort(-row[close], kind="stable")][:n]
                found.append([(table.words[c], float(row[c])) for c in close])
            return found
        got = self._words.query(
            query_embeddings=vectors.tolist(), n_results=n, include=["distances"]
        )
        # The collection measures squared L2 distance: 2 - 2 cos for unit vectors.
        return [
            [(w, 1.0 - float(d) / 2) for w, d in zip(ids, distances) if 1.0 - d / 2 >= min_cosine]
            for ids, distances in zip(got["ids"], got["distances"])
        ]

    # ---- writing -------------------------------------------------------------------

    def sync(
        self,
        documents: Sequence[Document],
        passage_tokens: int,
        remove_missing: bool,
        keep: Iterable[str] = (),
        show_progress: bool = False,
    ) -> IngestReport:
        """Bring the index in line with `documents`; unchanged ones cost nothing.

        With remove_missing, indexed sources absent from `documents` are deleted,
        except those in `keep` (files that exist but failed to load this time:
        their last good version stays answerable).
        """
        started = time.perf_counter()
        report = IngestReport()
        with self._write_lock:
            for collection in (self._sentences, self._words):
                _persist_every_hundred_records(collection)
            self.repair()
            stored = self.documents()
            pending: list[tuple[Document, list[Passage]]] = []
            retitled: list[Document] = []
            resplit: set[str] = set()
            chunking = chunking_signature(passage_tokens)
            embedding = embedding_identity(self.embedder)
            for doc in documents:
                previous = stored.get(doc.source)
                # A new splitter or passage budget re-splits the text; its sentence
                # vectors are found again by text key, so nothing is embedded twice.
                if (
                    previous
                    and previous.content_hash == doc.content_hash
                    and previous.chunking == chunking
                    and previous.embedding == embedding  # another backend: re-embed
                ):
                    if (previous.title, previous.description) == (doc.title, doc.description):
                        report.unchanged.append(doc.source)
                    else:  # sources.yaml changed: same passages, new title
                        report.updated.append(doc.source)
                        retitled.append(doc)
                    continue
                (report.updated if previous else report.added).append(doc.source)
                pending.append((doc, split_document(doc, passage_tokens)))
                if previous and (previous.content_hash, previous.embedding) == (
                    doc.content_hash,
                    embedding,
                ):
                    resplit.add(doc.source)  # same text, new split: its words are stored
            kept = report.unchanged + [doc.source for doc in retitled]  # same sentences
            outdated = [s for s in kept if not stored[s].current]
            if outdated:  # records written in an older format
                with self._writing():
                    self._repack(outdated, stored)
            if remove_missing:
                present = {doc.source for doc in documents} | set(keep)
                for source in sorted(set(stored) - present):
                    with self._writing():
                        self._delete_source(source)
                    report.removed.append(source)
            if retitled:
                with self._writing():
                    for doc in retitled:
                        self._retitle(doc)
            # Embed and write group by group: a killed ingest keeps the groups it finished.
            # One writer thread stores a group while this thread embeds the next (ONNX
            # Runtime runs outside the GIL; Chroma's add mostly holds it, so the overlap is
            # partial: BENCHMARKS.md). Groups land in order, and at most one is in flight:
            # when group n+2 is embedded, group n is stored.
            with ThreadPoolExecutor(1, thread_name_prefix="rag-index-writer") as writer:
                in_flight: Future[None] | None = None
                unstored = _Unstored()  # the group in flight: not yet found in Chroma
                for group in _groups(pending, self.write_group_sentences, resplit):
                    vectors = _after_write(
                        in_flight,
                        partial(self._embeddings_for, group, report, show_progress, unstored),
                    )
                    words = _after_write(
                        in_flight, partial(self._new_words, group, report, unstored, resplit)
                    )
                    if in_flight is not None:
                        in_flight.result()  # raises the writer's error, if any
                    in_flight = writer.submit(
                        self._store_group, group, vectors, words, chunking, embedding
                    )
                    unstored = _Unstored(vectors, words)
                if in_flight is not None:
                    in_flight.result()
            if self._needs_compaction():
                self.compact()
                report.compacted = True
            if "embeddings" not in self._state_metadata():
                # An index from before the state named its identities, where this sync
                # wrote nothing: publish them once, so cold asks need no scan.
                self._bump_version()
            self._renew_preloaded()
        report.seconds = round(time.perf_counter() - started, 3)
        return report

    def remove(self, sources: Iterable[str]) -> list[str]:
        removed = []
        with self._write_lock, self._writing():
            known = self.documents()
            for source in sources:
                if source in known:
                    self._delete_source(source)
                    removed.append(source)
        self._renew_preloaded()
        return removed

    def _renew_preloaded(self) -> None:
        if self._preloaded and self._metadata is None:
            self.preload_records()

    @property
    def sentence_collection(self) -> str:
        """The name of the Chroma collection holding the sentences now."""
        return str(self._sentences.name)

    def dead_sentences(self) -> int | None:
        """Deleted sentence vectors still held by Chroma's HNSW index: Chroma never reuses
        or drops a deleted vector's slot, so each re-split or update of a document grows
        the index by its sentences (on the 10,000-document bench, 452,612 vectors for
        290,130 live sentences: about 270 MB of the app's memory and slower queries).
        None for an index written before writes were counted."""
        if self._written is None:
            return None
        return max(0, self._written - self.count_sentences())

    def _needs_compaction(self) -> bool:
        if not self.compact_ratio or self._written is None:
            return False
        live = self.count_sentences()
        return self._written - live > self.compact_ratio * live

    def compact(self, vacuum: bool = False) -> CompactReport:
        """Rebuild the sentence collection from its live records (their stored vectors:
        nothing is embedded), dropping the deleted vectors Chroma keeps in its HNSW index,
        and switch to it. Chroma has no such operation (`chroma vacuum` rewrites its SQLite
        file, not a collection's HNSW index).

        Readers keep answering from the old collection while the new one is written; the
        switch is one state write. Killed before it, the index is unchanged and the
        half-written collection is deleted by the next compact(); killed after it, the
        old collection is.

        With vacuum, an embedded store's database file is rewritten afterwards (SQLite's
        VACUUM): the copy leaves the old records' pages free inside it (2.66 GB instead
        of 1.7 at 10,000 documents, its live pages scattered: warm asks measured slower).
        VACUUM locks the file while it runs (78 s at 10,000 documents): `rag compact`
        does it, an ingest's own compaction does not."""
        import uuid

        started = time.perf_counter()
        with self._write_lock:
            self.version  # noqa: B018 - follows a compaction by another process first
            old = self._sentences
            dropped = self.dead_sentences()
            self._drop_stale_generations(keep=old.name)
            new = self._client.create_collection(
                f"{self._name}-sentences-{uuid.uuid4().hex[:8]}",
                embedding_function=None,
                metadata=_SENTENCE_SPACE,
            )
            copied = 0
            while True:
                page = old.get(
                    include=["documents", "metadatas", "embeddings"],
                    limit=_SCAN_PAGE,
                    offset=copied,
                )
                if not page["ids"]:
                    break
                for at in range(0, len(page["ids"]), _ADD_BATCH):
                    end = at + _ADD_BATCH
                    new.add(
                        ids=page["ids"][at:end],
                        documents=page["documents"][at:end],
                        embeddings=page["embeddings"][at:end],
                        metadatas=page["metadatas"][at:end],
                    )
                copied += len(page["ids"])
            kept, expected = new.count(), old.count()
            if kept != expected:
                self._client.delete_collection(new.name)
                raise IndexUnavailableError(
                    f"Compaction copied {kept} of {expected} sentence records; "
                    "the index is unchanged. Run `rag compact` again."
                )
            with self._writing():
                self._sentences = new
                self._written = copied
            self._client.delete_collection(old.name)
            self._remove_orphan_segments()
            database_mb = self._vacuum() if vacuum else None
        return CompactReport(
            sentences=copied,
            dropped=dropped,
            collection=new.name,
            seconds=round(time.perf_counter() - started, 3),
            database_mb=database_mb,
        )

    def _vacuum(self) -> tuple[float, float] | None:
        """An embedded store's database file rewritten without its free pages (what
        `chroma vacuum` does, from this process, which holds the store open); its size
        before and after, in MB. A server's database is the server's to vacuum."""
        import sqlite3

        folder = self._persist_directory()
        if folder is None:
            return None
        database = folder / "chroma.sqlite3"
        before = database.stat().st_size / 1e6
        db = sqlite3.connect(database, timeout=60)
        try:
            db.execute("VACUUM")
        finally:
            db.close()
        return round(before, 1), round(database.stat().st_size / 1e6, 1)

    def _persist_directory(self) -> Path | None:
        settings = self._client.get_settings()
        if not settings.is_persistent or not settings.persist_directory:
            return None
        return Path(settings.persist_directory)

    def _drop_stale_generations(self, keep: str) -> None:
        """Delete sentence collections a killed compaction left behind."""
        prefix = f"{self._name}-sentences"
        for collection in self._client.list_collections():
            name = collection if isinstance(collection, str) else collection.name
            if name != keep and (name == prefix or name.startswith(prefix + "-")):
                log.warning("deleting %s, left by an interrupted compaction", name)
                self._client.delete_collection(name)

    def _remove_orphan_segments(self) -> None:
        """Delete vector segment folders of deleted collections from an embedded store.

        Chroma 1.x removes a deleted collection's records but leaves its HNSW folder on
        disk (chroma-core/chroma#5259, open: the removal is left to a garbage collector
        the local store does not run), so without this every compaction would leave the
        old vectors behind: 758 MB at 10,000 documents. A folder is removed only when
        its name is a segment id and Chroma's catalog lists no such segment; a server's
        folders are the server's to clean."""
        import shutil
        import sqlite3

        folder = self._persist_directory()
        if folder is None:
            return
        try:
            with sqlite3.connect(f"file:{folder / 'chroma.sqlite3'}?mode=ro", uri=True) as db:
                segments = {row[0] for row in db.execute("SELECT id FROM segments")}
        except sqlite3.Error as exc:  # another Chroma schema: leave the folders
            log.warning("cannot list Chroma's segments (%s); old vector folders stay", exc)
            return
        for path in folder.iterdir():
            if path.is_dir() and _SEGMENT_FOLDER.fullmatch(path.name) and path.name not in segments:
                shutil.rmtree(path)

    @contextmanager
    def _writing(self) -> Iterator[None]:
        """Exclusive access for one step of a write; caches are renewed after it."""
        with self._access.writing():
            try:
                yield
            finally:
                self._bump_version()  # drops the cached catalog, tells other processes

    def repair(self) -> list[str]:
        """Startup consistency check: undo what a killed ingest left half-done.

        Cheap when the index is sound (the registry's sentence total equals the
        collection's count and no record is pending); otherwise every sentence is
        read once and orphans (no complete record of their document, or written for
        another version) are deleted with pending or incomplete records. Returns the
        sources whose records were dropped; the next ingest of the corpus adds them back.
        """
        with self._write_lock, self._access.writing():
            self._catalog = None
            records = self.documents()
            expected = sum(r.sentences for r in records.values() if r.content_hash != PENDING)
            sound = all(r.content_hash != PENDING for r in records.values())
            if sound and expected == self.count_sentences():
                return []
            orphans: list[str] = []
            counts: dict[str, int] = {}
            for id_, meta in self._all_sentence_metadata():
                record = records.get(str(meta.get("source")))
                if record is None or record.content_hash != meta.get("doc_hash"):
                    orphans.append(id_)
                else:
                    counts[record.source] = counts.get(record.source, 0) + 1
            broken = sorted(
                source
                for source, record in records.items()
                if record.content_hash == PENDING or counts.get(source, 0) != record.sentences
            )
            for batch in _batches(orphans, _LOOKUP_BATCH):
                self._sentences.delete(ids=batch)
            for source in broken:
                self._delete_source(source)
            self._bump_version()
            return broken

    def _all_sentence_metadata(self) -> Iterator[tuple[str, dict[str, Any]]]:
        offset = 0
        while True:
            got = self._sentences.get(include=["metadatas"], limit=_SCAN_PAGE, offset=offset)
            if not got["ids"]:
                return
            yield from zip(got["ids"], got["metadatas"])
            offset += len(got["ids"])

    def _store_group(
        self,
        group: Sequence[tuple[Document, list[Passage]]],
        vectors: dict[str, np.ndarray],
        words: dict[str, np.ndarray],
        chunking: str,
        embedding: str,
    ) -> None:
        """The writer thread's part of a group: its documents, then its new words."""
        with self._writing():
            self._write_group(group, vectors, chunking, embedding)
        new = list(words)
        for batch in _batches(new, _WORD_BATCH):
            self._words.upsert(ids=batch, embeddings=[words[w].tolist() for w in batch])

    def _embeddings_for(
        self,
        pending: Sequence[tuple[Document, list[Passage]]],
        report: IngestReport,
        show_progress: bool,
        unstored: _Unstored | None = None,
    ) -> dict[str, np.ndarray]:
        """Vectors by sentence text key: stored ones reused (and those of the group still
        being written), only new text embedded."""
        texts: dict[str, str] = {}
        for _, passages in pending:
            for passage in passages:
                for sentence in passage.sentences:
                    texts.setdefault(sentence_key(sentence.meaning), sentence.meaning)
        vectors = self._previous_vectors([doc.source for doc, _ in pending], set(texts))
        if unstored is not None:
            vectors.update((k, unstored.vectors[k]) for k in texts if k in unstored.vectors)
        elsewhere = [key for key in texts if key not in vectors]
        if elsewhere:
            vectors.update(self._stored_vectors(elsewhere))
        missing = [key for key in texts if key not in vectors]
        if missing:
            encoded = self.embedder.encode([texts[k] for k in missing], show_progress)
            vectors.update(zip(missing, encoded))
        report.embedded += len(missing)
        report.reused += len(texts) - len(missing)
        return vectors

    def _new_words(
        self,
        pending: Sequence[tuple[Document, list[Passage]]],
        report: IngestReport,
        unstored: _Unstored | None = None,
        resplit: Iterable[str] = (),
    ) -> dict[str, np.ndarray]:
        """Vectors of the words of these documents stored nowhere yet (neither in the
        machine's vocabulary table nor in the words collection, nor in the group still
        being written): the answer stage compares question words with each word of the
        evidence, and encoding a few hundred words per question is most of an answer's
        time when done at ask time. A document whose text was indexed before (only
        re-split now) had its words stored then."""
        from rag.retrieve import synonym_candidates  # retrieve imports this module

        skip = set(resplit)
        vocabulary = list(
            dict.fromkeys(
                word
                for doc, passages in pending
                if doc.source not in skip
                for passage in passages
                for sentence in passage.sentences
                for word in synonym_candidates(sentence.meaning)
            )
        )
        table = self._word_table()
        if table:  # the machine's table has them (rag export-model): nothing to store
            vocabulary = [w for w in vocabulary if w not in table]
        if unstored is not None:
            vocabulary = [w for w in vocabulary if w not in unstored.words]
        known: set[str] = set()
        for batch in _batches(vocabulary, _LOOKUP_BATCH):
            known.update(self._words.get(ids=batch, include=[])["ids"])
        new = [w for w in vocabulary if w not in known]
        report.words_embedded += len(new)
        return dict(zip(new, self.embedder.encode(new))) if new else {}

    def _word_table(self) -> WordTable | None:
        word_table = getattr(innermost(self.embedder), "word_table", None)
        return word_table() if word_table else None

    def _previous_vectors(self, sources: list[str], wanted: set[str]) -> dict[str, np.ndarray]:
        """Vectors of these documents' indexed sentences, by text key. A re-split or an
        edited document finds (nearly) all its sentences here, read by source: looking
        them up by text key returns every record of a key (a docstring's "Parameters"
        recurs in thousands) and took 94 of the 124 s of re-splitting 1,000 documents."""
        identity = embedding_identity(self.embedder)
        vectors: dict[str, np.ndarray] = {}
        for batch in _batches(sources, _LOOKUP_BATCH):
            got = self._sentences.get(
                where={"source": {"$in": batch}}, include=["metadatas", "embeddings"]
            )
            for meta, emb in zip(got["metadatas"], got["embeddings"]):
                key = str(meta.get("text_key"))
                if key in wanted and meta.get("embedding", LEGACY_IDENTITY) == identity:
                    vectors.setdefault(key, np.asarray(emb, dtype=np.float32))
        return vectors

    def _stored_vectors(self, keys: list[str]) -> dict[str, np.ndarray]:
        vectors: dict[str, np.ndarray] = {}
        identity = embedding_identity(self.embedder)
        for batch in _batches(keys, _LOOKUP_BATCH):
            got = self._sentences.get(
                where={"text_key": {"$in": batch}}, include=["metadatas", "embeddings"]
            )
            for meta, emb in zip(got["metadatas"], got["embeddings"]):
                if meta.get("embedding", LEGACY_IDENTITY) != identity:
                    continue  # another model variant's vector: embed it anew
                vectors.setdefault(meta["text_key"], np.asarray(emb, dtype=np.float32))
        return vectors

    def _write_group(
        self,
        group: Sequence[tuple[Document, list[Passage]]],
        vectors: dict[str, np.ndarray],
        chunking: str,
        embedding: str = LEGACY_IDENTITY,
    ) -> None:
        """Write a group's documents: old records marked pending, old sentences out, all
        new sentences in, then all records. Chroma's cost is mostly per call (100 adds of
        26 sentences 4.3 s, 3 adds of 880 2.0 s), so a group is written in a few calls, not
        a few per document. Killed anywhere before the records' upsert, no document of the
        group looks complete: a pending record or sentences without a record, both undone
        by the next sync's repair()."""
        sources = [doc.source for doc, _ in group]
        replaced = self._documents.get(ids=sources, include=[])["ids"]
        if replaced:
            # None deletes a key: older records' unpacked fields go with the old version.
            self._documents.update(
                ids=replaced,
                metadatas=[{"content_hash": PENDING, **dict.fromkeys(_UNPACKED)} for _ in replaced],
            )
        for batch in _batches(sources, _LOOKUP_BATCH):
            self._sentences.delete(where={"source": {"$in": batch}})
        for source in sources:
            self._texts.pop(source, None)
        ids: list[str] = []
        texts: list[str] = []
        keys: list[str] = []
        metadatas: list[dict[str, Any]] = []
        counts = []
        for doc, passages in group:
            for passage in passages:
                for sentence in passage.sentences:
                    key = sentence_key(sentence.meaning)
                    meta: dict[str, Any] = {
                        "source": doc.source,
                        "start": sentence.start,
                        "end": sentence.end,
                        "passage": passage.position,
                        "passage_id": passage.id,
                        "text_key": key,
                        "doc_hash": doc.content_hash,
                        "embedding": embedding,
                    }
                    if sentence.embed_text:  # read back as the text when absent
                        meta["meaning"] = sentence.embed_text
                    ids.append(sentence.id)
                    texts.append(sentence.text)
                    keys.append(key)
                    metadatas.append(meta)
            counts.append(sum(len(p.sentences) for p in passages))
        for at in range(0, len(ids), _ADD_BATCH):
            end = at + _ADD_BATCH
            self._add_sentences(
                ids[at:end],
                texts[at:end],
                np.stack([vectors[k] for k in keys[at:end]]),
                metadatas[at:end],
            )
        now = time.time()
        self._documents.upsert(
            ids=sources,
            documents=[doc.text for doc, _ in group],
            embeddings=[[0.0] for _ in group],  # the registry is looked up by id only
            metadatas=[
                _record_metadata(
                    StoredDocument(
                        source=doc.source,
                        title=doc.title,
                        description=doc.description,
                        content_hash=doc.content_hash,
                        passages=tuple((p.start, p.end) for p in passages),
                        sentences=count,
                        added_at=now,
                        chunking=chunking,
                        embedding=embedding,
                        sentence_spans=tuple(
                            tuple((s.start, s.end) for s in p.sentences) for p in passages
                        ),
                        fragments=frozenset(
                            s.start for p in passages for s in p.sentences if not telling(s.text)
                        ),
                    )
                )
                for (doc, passages), count in zip(group, counts)
            ],
        )

    def _add_sentences(
        self,
        ids: list[str],
        texts: list[str],
        embeddings: np.ndarray,
        metadatas: list[dict[str, Any]],
    ) -> None:
        """Sentence records straight into the Chroma collection. llama-index's
        ChromaVectorStore.add (used before) also stores each node serialized to JSON
        (`_node_content`) and four id fields per record, which nothing here reads (every
        read goes to the collection itself): a quarter more Chroma time per record
        (2,642 sentences: 1.96 s against 1.45 s), and Chroma's add holds the GIL, so that
        time is not overlapped by the embedding of the next group."""
        if self._written is None:  # counting starts now: earlier deletions are unknown
            self._written = self.count_sentences()
        self._sentences.add(ids=ids, documents=texts, embeddings=embeddings, metadatas=metadatas)
        self._written += len(ids)

    def _repack(self, sources: list[str], stored: dict[str, StoredDocument]) -> None:
        """Rewrite records of an older format in this one (once; nothing is embedded):
        sentence spans from the sentence records where the record has none, fragments
        from the document's text, all fields packed."""
        for batch in _batches(sources, _LOOKUP_BATCH):
            spans = self._spans_from_sentences(
                [s for s in batch if stored[s].sentence_spans is None], stored
            )
            texts = self.document_records(batch)
            metadatas = []
            for source in batch:
                record = stored[source]
                sentence_spans = spans.get(source, record.sentence_spans) or ()
                text = texts[source][1]
                fragments = frozenset(
                    a for passage in sentence_spans for a, b in passage if not telling(text[a:b])
                )
                repacked = replace(record, sentence_spans=sentence_spans, fragments=fragments)
                metadatas.append({**dict.fromkeys(_UNPACKED), **_record_metadata(repacked)})
            self._documents.update(ids=batch, metadatas=metadatas)

    def _spans_from_sentences(
        self, sources: list[str], stored: dict[str, StoredDocument]
    ) -> dict[str, tuple[tuple[tuple[int, int], ...], ...]]:
        """Each passage's sentence spans of records written without them, from the
        sentence records themselves."""
        spans: dict[str, list[list[tuple[int, int]]]] = {
            s: [[] for _ in stored[s].passages] for s in sources
        }
        if sources:
            got = self._sentences.get(where={"source": {"$in": sources}}, include=["metadatas"])
            for meta in got["metadatas"]:
                passages = spans[str(meta["source"])]
                if int(meta["passage"]) < len(passages):
                    passages[int(meta["passage"])].append((int(meta["start"]), int(meta["end"])))
        return {s: tuple(tuple(sorted(p)) for p in passages) for s, passages in spans.items()}

    def _retitle(self, doc: Document) -> None:
        got = self._documents.get(ids=[doc.source], include=["metadatas"])
        record = _stored_document(doc.source, got["metadatas"][0])
        retitled = replace(record, title=doc.title, description=doc.description)
        self._documents.update(
            ids=[doc.source], metadatas=[{**dict.fromkeys(_UNPACKED), **_record_metadata(retitled)}]
        )

    def _delete_source(self, source: str, keep_record: bool = False) -> None:
        self._sentences.delete(where={"source": source})
        if not keep_record:
            self._documents.delete(ids=[source])
        self._texts.pop(source, None)


def _names_only(named: Any, identity: str) -> bool:
    """Whether a state's "embeddings" (None before states named them) names this identity
    alone (or none: nothing was stored)."""
    return named is not None and set(str(named).split(_IDENTITY_SEPARATOR)) <= {identity, ""}


def _stored_document(source: str, meta: dict[str, Any]) -> StoredDocument:
    packed = _RECORD in meta
    fields = json.loads(meta[_RECORD]) if packed else _unpacked_fields(meta)
    spans = fields.get("sentence_spans")
    fragments = fields.get("fragments")
    return StoredDocument(
        source=source,
        title=str(fields.get("title", source)),
        description=str(fields.get("description", "")),
        content_hash=str(meta["content_hash"]),
        passages=tuple(map(tuple, fields.get("passages", ()))),
        sentences=int(fields.get("sentences", 0)),
        added_at=float(fields.get("added_at", 0.0)),
        chunking=str(fields.get("chunking", "")),
        embedding=str(meta.get("embedding", LEGACY_IDENTITY)),
        sentence_spans=(
            tuple(tuple(map(tuple, passage)) for passage in spans) if spans is not None else None
        ),
        fragments=frozenset(fragments) if fragments is not None else None,
        packed=packed,
    )


def _unpacked_fields(meta: dict[str, Any]) -> dict[str, Any]:
    """The fields of a record written before packing: lists were JSON strings."""
    fields = dict(meta)
    for key in ("passages", "sentence_spans", "fragments"):
        if key in fields:
            fields[key] = json.loads(fields[key])
    return fields


def _record_metadata(record: StoredDocument) -> dict[str, Any]:
    fields = {
        "title": record.title,
        "description": record.description,
        "passages": record.passages,
        "sentence_spans": record.sentence_spans,
        "fragments": sorted(record.fragments) if record.fragments is not None else None,
        "sentences": record.sentences,
        "added_at": record.added_at,
        "chunking": record.chunking,
    }
    return {
        "content_hash": record.content_hash,
        "embedding": record.embedding,
        _RECORD: json.dumps(fields),
    }


def _stored_sentence(id_: str, meta: dict[str, Any], text: str, emb: Any) -> StoredSentence:
    return StoredSentence(
        id=id_,
        source=str(meta["source"]),
        start=int(meta["start"]),
        end=int(meta["end"]),
        passage=int(meta["passage"]),
        text=text,
        embedding=np.asarray(emb, dtype=np.float32),
        meaning=str(meta.get("meaning") or text),
    )


def _batches(items: list, size: int) -> Iterable[list]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


def _after_write(in_flight: Future[None] | None, read: Callable[[], _T]) -> _T:
    """Run a read of the collections the writer thread may be rewriting; if Chroma fails
    it ("InternalError: Error finding id": seen re-splitting a 10,000-document index, a
    `get` by text key while the writer deleted and re-added those sentences), wait for the
    write in flight and read again. The read only looks up stored vectors, so running it
    again loses nothing; a second failure is raised."""
    from chromadb.errors import InternalError

    try:
        return read()
    except InternalError as error:
        if in_flight is None:
            raise
        log.info("Chroma read during a write failed (%s); reading again after it", error)
        in_flight.result()
        return read()


def _groups(
    pending: Sequence[tuple[Document, list[Passage]]],
    max_sentences: int,
    resplit: Container[str] = (),
) -> Iterable[list[tuple[Document, list[Passage]]]]:
    """Consecutive documents with about max_sentences sentences per group (at least one).
    A re-split document's sentences are not embedded again (their vectors are read
    back), so they count for less: a group of them holds up to _ADD_BATCH sentences,
    written in fewer Chroma calls (each costs about 40 ms besides its records)."""
    group: list[tuple[Document, list[Passage]]] = []
    size = 0.0
    light = min(1.0, max_sentences / _ADD_BATCH)
    for item in pending:
        count = sum(len(p.sentences) for p in item[1])
        if item[0].source in resplit:
            count *= light
        if group and size + count > max_sentences:
            yield group
            group, size = [], 0.0
        group.append(item)
        size += count
    if group:
        yield group


@dataclass(frozen=True)
class _Unstored:
    """What a sync embedded for the group its writer thread is storing: the next group
    finds these here, not in Chroma yet, and does not embed them again."""

    vectors: dict[str, np.ndarray] = field(default_factory=dict)
    words: dict[str, np.ndarray] = field(default_factory=dict)


class ReadWriteLock:
    """Many readers or one writer; a waiting writer bars new readers (no starvation)."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._readers = 0
        self._writer = False
        self._writers_waiting = 0

    @contextmanager
    def reading(self) -> Iterator[None]:
        with self._cond:
            while self._writer or self._writers_waiting:
                self._cond.wait()
            self._readers += 1
        try:
            yield
        finally:
            with self._cond:
                self._readers -= 1
                if not self._readers:
                    self._cond.notify_all()

    @contextmanager
    def writing(self) -> Iterator[None]:
        with self._cond:
            self._writers_waiting += 1
            while self._writer or self._readers:
                self._cond.wait()
            self._writers_waiting -= 1
            self._writer = True
        try:
            yield
        finally:
            with self._cond:
                self._writer = False
                self._cond.notify_all()
