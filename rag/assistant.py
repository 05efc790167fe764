"""The public entry point: `Assistant` ties the pipeline stages together."""

from __future__ import annotations

import functools
import re
import threading
import time
import unicodedata
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any, TypeVar

from rag.answer import REFUSAL, Answer, ExtractiveAnswerer, Question, load_vocabulary
from rag.documents import (
    Document,
    DocumentBatch,
    StagedUpload,
    discover,
    load_catalog,
    load_document,
    source_name,
    stage_upload,
)
from rag.embeddings import Embedder
from rag.errors import DocumentError
from rag.generate import CONDENSE_SHARE, Deadline, LLMAnswerer
from rag.index import (
    CompactReport,
    Index,
    IngestReport,
    check_index_folder,
    open_client,
    server_outage_as_error,
)
from rag.retrieve import HybridRetriever, Retrieval
from rag.settings import Settings

T = TypeVar("T")


def _server_outage_is_an_error(method: Callable[..., T]) -> Callable[..., T]:
    @functools.wraps(method)
    def guarded(self: Assistant, *args: Any, **kwargs: Any) -> T:
        with server_outage_as_error(self.settings.chroma_url):
            return method(self, *args, **kwargs)

    return guarded


class Assistant:
    """Answers questions about a folder of documents, citing verbatim quotes.

    Settings come from RAG_* environment variables and .env; keyword arguments
    override them: Assistant(corpus_dir="corpus", index_dir=".rag").
    Safe to share between threads.
    """

    def __init__(self, settings: Settings | None = None, **overrides: Any) -> None:
        self.settings = settings.model_copy(update=overrides) if settings else Settings(**overrides)
        self._lock = threading.RLock()
        self._uploading = threading.Lock()
        self._index: Index | None = None
        self._retriever: HybridRetriever | None = None
        self._answerer: ExtractiveAnswerer | None = None
        self._llm: LLMAnswerer | None = None
        self.embedder = Embedder(
            self.settings.embed_batch_size,
            self.settings.embed_backend,
            self.settings.model_cache_dir,
        )

    # ---- lazily opened parts -------------------------------------------------------

    @property
    def index(self) -> Index:
        with self._lock:
            if self._index is None:
                if not self.settings.chroma_url:
                    check_index_folder(Path(self.settings.index_dir))
                client = open_client(Path(self.settings.index_dir), self.settings.chroma_url)
                self._index = Index(
                    client, self.settings.collection, self.embedder, self.settings.compact_ratio
                )
            return self._index

    @property
    def retriever(self) -> HybridRetriever:
        with self._lock:
            if self._retriever is None:
                # The BM25 store (SQLite) lives beside an embedded store; replicas of a
                # Chroma server build theirs in memory (see README, "Scaling out").
                snapshot = (
                    None
                    if self.settings.chroma_url
                    else Path(self.settings.index_dir)
                    / f"{self.settings.collection}-lexical.sqlite3"
                )
                self._retriever = HybridRetriever(self.index, snapshot)
            return self._retriever

    @property
    def answerer(self) -> ExtractiveAnswerer:
        with self._lock:
            if self._answerer is None:
                self._answerer = ExtractiveAnswerer(
                    self.embedder.encode,
                    self.settings.min_relevance,
                    self.settings.min_coverage,
                    self.settings.max_answer_chars,
                    stored_words=lambda words: self.index.word_vectors(words),
                )
            return self._answerer

    @property
    def llm(self) -> LLMAnswerer | None:
        """The LLM answerer when RAG_ANSWERER (auto: OPENAI_API_KEY or OPENAI_BASE_URL
        set) selects one; None for extractive answers."""
        if not self.settings.use_llm():
            return None
        with self._lock:
            if self._llm is None:
                self._llm = LLMAnswerer(self.settings, self.embedder.encode)
            return self._llm

    # ---- ingestion -----------------------------------------------------------------

    @_server_outage_is_an_error
    def ingest(
        self, paths: Iterable[str | Path] | None = None, show_progress: bool = False
    ) -> IngestReport:
        """Index the corpus folder (all of it, removing vanished files) or just `paths`.

        Unchanged documents cost nothing; bad files land in report.failed and the
        rest of the batch is still indexed.
        """
        corpus = Path(self.settings.corpus_dir)
        whole_corpus = paths is None
        batch = self._load(discover(corpus) if whole_corpus else _expand(paths or []))
        report = self.index.sync(
            batch.documents,
            self.settings.passage_tokens,
            remove_missing=whole_corpus,
            keep=[source for source, _ in batch.failed],
            show_progress=show_progress,
        )
        report.failed = [{"source": s, "reason": r} for s, r in batch.failed]
        if report.added or report.updated or report.removed:
            self.retriever.lexical()  # brought up to date (and its snapshot written) now
        return report

    def _load(self, files: Sequence[Path]) -> DocumentBatch:
        corpus = Path(self.settings.corpus_dir)
        catalog = load_catalog(corpus)
        max_bytes = int(self.settings.max_file_mb * 1_000_000)
        batch = DocumentBatch()
        for path in files:
            try:
                batch.documents.append(load_document(path, corpus, catalog, max_bytes))
            except DocumentError as exc:
                batch.failed.append((_display_name(path, corpus), str(exc)))
            except OSError as exc:
                batch.failed.append((_display_name(path, corpus), f"cannot read: {exc.strerror}"))
        return batch

    @_server_outage_is_an_error
    def compact(self, vacuum: bool = True) -> CompactReport:
        """Rebuild the sentence collection without the deleted vectors Chroma keeps
        (ingest does it on its own past RAG_COMPACT_RATIO); nothing is embedded. With
        vacuum, an embedded store's database file is then rewritten without free pages
        (it is locked meanwhile: a minute or more at 10,000 documents)."""
        return self.index.compact(vacuum=vacuum)

    @_server_outage_is_an_error
    def remove(self, sources: Iterable[str]) -> list[str]:
        return self.index.remove(sources)

    def upload(self, files: Iterable[tuple[str, bytes]]) -> IngestReport:
        """Add (name, content) pairs to the corpus folder and index them.

        Names are user input: folders, `..`, hidden and unsupported names are refused
        (other odd characters become `_`), as is content that is empty, too large or
        does not read as a document; each refusal lands in report.failed and nothing of
        it is written. The rest of the batch is indexed. The corpus folder keeps in line
        with the index: a file that is not indexed does not stay, and the version it
        replaced comes back (also when the index itself fails, which raises RagError).
        """
        corpus = Path(self.settings.corpus_dir)
        corpus.mkdir(parents=True, exist_ok=True)
        with self._uploading:  # one upload at a time: each undo must see its own files
            return self._upload(corpus, files)

    def _upload(self, corpus: Path, files: Iterable[tuple[str, bytes]]) -> IngestReport:
        catalog = load_catalog(corpus)
        max_bytes = int(self.settings.max_file_mb * 1_000_000)
        staged: list[StagedUpload] = []
        failed: list[dict[str, str]] = []
        try:
            for name, data in files:
                try:
                    staged.append(stage_upload(corpus, name, data, catalog, max_bytes))
                except DocumentError as exc:
                    failed.append({"source": str(name), "reason": str(exc)})
                except OSError as exc:
                    failed.append({"source": str(name), "reason": f"cannot store: {exc}"})
            report = self.ingest([s.target for s in staged]) if staged else IngestReport()
        except BaseException:
            # Newest first: a name uploaded twice in one batch gets its original back.
            for upload in reversed(staged):
                upload.undo()
            raise
        not_indexed = {f["source"] for f in report.failed}
        for upload in reversed(staged):
            if upload.target.name in not_indexed:
                upload.undo()
            else:
                upload.commit()
        report.failed = failed + report.failed
        return report

    # ---- questions -----------------------------------------------------------------

    def warm_up(self, question: str) -> None:
        """Pay now, once per process, what the first questions would: the model, the
        lexical index, the tokenizers (asking `question`), every document record (read
        once, not a few dozen per question: Index.preload_records), and the answer
        stage's vocabulary, which only some questions reach (a lower-case word that may
        be a name): 0.3-0.4 s, paid otherwise by the first such question of a server.

        For a process that serves questions from now on (the app, the bench's warm
        asks): what is alive after warm-up (modules, the model, the vocabulary) lives as
        long as the process, yet Python's full garbage collection scanned all of it
        every hundred-odd questions, 80-120 ms added to one answer at 10,000 documents;
        frozen, it is left out of the scan (6-12 ms). Freed objects are still freed."""
        import gc

        if self.index.has_documents():
            self.ask(question)
            self.index.preload_records()
        load_vocabulary()
        gc.collect()
        gc.freeze()

    def ask(self, question: str, history: Sequence[dict[str, Any]] | None = None) -> Answer:
        """Answer from the documents. With an LLM, endpoint faults never raise: the
        extractive answer comes back with a note, within RAG_LLM_TIMEOUT plus a margin."""
        return _final(self._answer_stream(question, history, stream=False))

    def stream(
        self, question: str, history: Sequence[dict[str, Any]] | None = None
    ) -> Iterator[str | Answer]:
        """Yield text deltas as they are generated, then the final `Answer`.

        The deltas are a preview: show `answer.text` once the Answer arrives (its
        citation numbers are verified and renumbered, and on a fallback it is the
        extractive answer). Without an LLM the whole text is one delta.
        Raises ValueError, like ask, for an empty or over-long question.
        """
        text = self.validate_question(question)  # raises now, not at the first next()
        return self._answer_stream(text, history, stream=True)

    def _answer_stream(
        self, question: str, history: Sequence[dict[str, Any]] | None, stream: bool
    ) -> Iterator[str | Answer]:
        text = self.validate_question(question)
        if not any(ch.isalnum() for ch in text):  # emoji or punctuation only: nothing to look up
            yield Answer(text, REFUSAL, True, note="the question has no words to look up")
            return
        # One consistent view: an ingest running meanwhile changes no document between
        # retrieval and the quotes cut from its text. Taken here only, never below:
        # the LLM path computes its fallback on another thread under this same view.
        with server_outage_as_error(self.settings.chroma_url), self.index.reading():
            if self.llm is not None:
                yield from self._llm_answer(text, history, stream)
                return
            answer = self._extractive(Question.parse(text, history))
            if stream and answer.text:
                yield answer.text
            yield answer

    def validate_question(self, question: str) -> str:
        """The question, stripped; ValueError with what to do when it cannot be asked.

        Cheap (no index, no model): callers check before doing any work."""
        return self._validate(question)

    def _extractive(self, parsed: Question, retrieval: Retrieval | None = None) -> Answer:
        retrieval = retrieval or self.retriever.retrieve(parsed.query, self.settings.top_k)
        question_embedding = (
            retrieval.query_embedding
            if parsed.query == parsed.text
            else self.embedder.encode_one(parsed.text)
        )
        return self.answerer.answer(
            parsed,
            retrieval,
            question_embedding,
            self.retriever.lexical(),
            self.document_text,
        )

    def _llm_answer(
        self, text: str, history: Sequence[dict[str, Any]] | None, stream: bool
    ) -> Iterator[str | Answer]:
        llm = self.llm
        assert llm is not None
        timeout = self.settings.llm_timeout
        standalone = None
        condensing = 0.0
        if history:
            started = time.monotonic()
            standalone = llm.condense(text, history, Deadline(timeout * CONDENSE_SHARE))
            condensing = time.monotonic() - started
        # The LLM's standalone question needs no history; without one, the heuristic.
        parsed = Question.parse(standalone, None) if standalone else Question.parse(text, history)
        asked = standalone or _heuristic_standalone(parsed)
        retrieval = self.retriever.retrieve(parsed.query, self.settings.top_k)
        deadline = Deadline(max(timeout - condensing, 0.0))
        for item in llm.answer(
            parsed,
            asked,
            retrieval,
            self.document_text,
            deadline,
            lambda: self._extractive(parsed, retrieval),
            stream,
        ):
            if isinstance(item, Answer):
                item.question = text
            yield item

    def _validate(self, question: str) -> str:
        if not isinstance(question, str):
            raise ValueError("The question must be text.")
        text = question.strip()
        limit = self.settings.max_question_chars
        if len(text) > limit:
            raise ValueError(
                f"The question is {len(text):,} characters long; the limit is {limit:,} "
                "(RAG_MAX_QUESTION_CHARS). Ask a shorter question."
            )
        text = _clean_question(text)
        if not text:
            raise ValueError("The question is empty; type a question about the documents.")
        return text

    # ---- documents -----------------------------------------------------------------

    @_server_outage_is_an_error
    def document_text(self, source: str) -> str:
        """The indexed text of a source; citation offsets index into it."""
        return self.index.document_text(source)

    @_server_outage_is_an_error
    def has_documents(self) -> bool:
        """Whether anything is indexed; cheaper than sources() on a large index."""
        return self.index.has_documents()

    @_server_outage_is_an_error
    def sources(self) -> list[dict[str, Any]]:
        return [
            {
                "source": d.source,
                "title": d.title,
                "description": d.description,
                "chunks": len(d.passages),
                "sentences": d.sentences,
                "added_at": d.added_at,
            }
            for d in sorted(self.index.documents().values(), key=lambda d: d.source)
        ]


_ANSI_ESCAPE = re.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]|\x1b[@-_]")


def _clean_question(text: str) -> str:
    """Text a person meant to type: terminal colour codes and invisible characters
    (controls, zero-width and direction marks) removed, whitespace runs made one space."""
    text = _ANSI_ESCAPE.sub("", text)
    kept = []
    for ch in text:
        category = unicodedata.category(ch)
        if category == "Cf":  # zero-width joiners, bidi overrides, BOM: invisible
            continue
        kept.append(" " if category == "Cc" else ch)  # tab, newline, NUL, bell, DEL
    return " ".join("".join(kept).split())


def _heuristic_standalone(parsed: Question) -> str:
    """What to ask the model when it did not condense a follow-up: the question with the
    heuristic's name for "he", or else the question with the one it follows."""
    if parsed.query == parsed.text or not parsed.query.endswith(parsed.text):
        return parsed.query
    earlier = parsed.query[: -len(parsed.text)].strip()
    return f"{parsed.text} (a follow-up to: {earlier})"


def _final(items: Iterable[str | Answer]) -> Answer:
    answer = None
    for item in items:
        if isinstance(item, Answer):
            answer = item
    assert answer is not None, "an answer stream ends with its Answer"
    return answer


def _expand(paths: Iterable[str | Path]) -> list[Path]:
    files: list[Path] = []
    for raw in paths:
        path = Path(raw)
        files.extend(discover(path) if path.is_dir() else [path])
    return files


def _display_name(path: Path, corpus: Path) -> str:
    try:
        return source_name(path, corpus)
    except DocumentError:
        return str(path)


__all__ = ["Assistant", "Answer", "Document", "IngestReport"]
