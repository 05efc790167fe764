"""The lexical (BM25) index alone at corpus scale, no embedding involved.

Builds rag's LexicalIndex over N generated documents (real passage spans from
rag.chunks), then measures: full build, search latency (p50/p95) against llama-index's
BM25Retriever (bm25s) on the same passages, one-document refresh after a change
(what every replica does after an ingest), and the size of its SQLite file.

    python bench/lexical_scale.py 10000
"""

from __future__ import annotations

import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "bench")]

from run import percentile  # noqa: E402

from corpus import generate  # noqa: E402
from rag.chunks import passage_id, split_document  # noqa: E402
from rag.documents import Document  # noqa: E402
from rag.index import StoredDocument  # noqa: E402
from rag.retrieve import LexicalIndex  # noqa: E402


class CorpusStandIn:
    """What LexicalIndex reads from rag.index.Index, served from memory."""

    def __init__(self, documents: list[Document], passage_tokens: int = 160) -> None:
        self.version = "v0"
        self.texts = {d.source: (d.content_hash, d.text) for d in documents}
        self.catalog = {
            d.source: StoredDocument(
                d.source,
                d.title,
                "",
                d.content_hash,
                tuple((p.start, p.end) for p in split_document(d, passage_tokens)),
                0,
                0.0,
            )
            for d in documents
        }

    def documents(self) -> dict[str, StoredDocument]:
        return self.catalog

    def document_records(self, sources: list[str]) -> dict[str, tuple[str, str]]:
        return {s: self.texts[s] for s in sources}


def main() -> int:
    size = int(sys.argv[1]) if len(sys.argv) > 1 else 10_000
    docs = [
        Document(source=f"gen{i:05d}.txt", title=g.title, text=f"{g.title}\n\n{g.text}\n")
        for i, g in enumerate(generate(size))
    ]
    started = time.perf_counter()
    corpus = CorpusStandIn(docs)
    chunking = time.perf_counter() - started
    passages = sum(len(d.passages) for d in corpus.catalog.values())

    store = Path(tempfile.mkdtemp(prefix="rag-lexical-")) / "rag-lexical.sqlite3"
    started = time.perf_counter()
    lexical = LexicalIndex.build(corpus, store)  # type: ignore[arg-type]
    build = time.perf_counter() - started
    disk_mb = store.stat().st_size / 1e6

    sample = docs[:: max(1, size // 40)]
    queries = [f"What does {d.title.split(' ')[0].rsplit('.', 1)[-1]} do?" for d in sample]
    ours = []
    for q in queries:
        started = time.perf_counter()
        lexical.search(q, 18)
        ours.append((time.perf_counter() - started) * 1000)

    from llama_index.core.schema import QueryBundle, TextNode
    from llama_index.retrievers.bm25 import BM25Retriever

    nodes = [
        TextNode(
            id_=passage_id(d.source, i),
            text=d.text[s:e],
            metadata={"source": d.source, "start": s, "end": e},
        )
        for d in docs
        for i, (s, e) in enumerate(corpus.catalog[d.source].passages)
    ]
    started = time.perf_counter()
    reference = BM25Retriever.from_defaults(nodes=nodes, similarity_top_k=18)
    reference_build = time.perf_counter() - started
    theirs = []
    for q in queries:
        started = time.perf_counter()
        reference.retrieve(QueryBundle(q))
        theirs.append((time.perf_counter() - started) * 1000)

    # One document changes: a replica refreshes (reads one document, drops its old passages).
    changed = docs[len(docs) // 2]
    edited = Document(changed.source, changed.title, changed.text + "\nA new closing line.\n")
    corpus.texts[edited.source] = (edited.content_hash, edited.text)
    corpus.catalog[edited.source] = CorpusStandIn([edited]).catalog[edited.source]
    corpus.version = "v1"
    started = time.perf_counter()
    read, dropped = lexical.refresh(corpus)  # type: ignore[arg-type]
    refresh = time.perf_counter() - started
    assert (read, dropped) == (1, 1)

    print(f"| documents | {size:,} |")
    print("|---|---|")
    print(f"| passages | {passages:,} |")
    print(f"| chunking (not part of the index, s) | {chunking:.1f} |")
    print(f"| rag LexicalIndex full build (s) | {build:.1f} |")
    print(f"| llama-index BM25Retriever build (s) | {reference_build:.1f} |")
    print(f"| rag LexicalIndex SQLite file (MB) | {disk_mb:.0f} |")
    print(f"| refresh after one document changed (ms) | {refresh * 1000:.1f} |")
    print(
        f"| search p50 / p95, rag (ms, {len(queries)} queries) | "
        f"{percentile(ours, 50):.1f} / {percentile(ours, 95):.1f} |"
    )
    print(
        f"| search p50 / p95, BM25Retriever (ms) | "
        f"{percentile(theirs, 50):.1f} / {percentile(theirs, 95):.1f} |"
    )
    lexical.close()
    shutil.rmtree(store.parent)
    return 0


if __name__ == "__main__":
    sys.exit(main())
