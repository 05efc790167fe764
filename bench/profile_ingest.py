"""Where ingestion time goes: cProfile of one Assistant.ingest() over N generated documents.

One-time process costs (model load, imports, the sentence splitter's data) are paid before
the profile starts, as in bench/run.py.

    python bench/profile_ingest.py 100
"""

from __future__ import annotations

import cProfile
import pstats
import shutil
import sys
import tempfile
import threading
import time
from pathlib import Path

from offline import prepare  # bench/ is the script's folder, so on sys.path

ROOT = prepare()

from corpus import write_corpus  # noqa: E402

# (file suffix, function): what each line of the summary reports
STAGES = [
    ("rag/index.py", "_embeddings_for", "embed sentences (with the stored-vector lookup)"),
    ("rag/index.py", "_new_words", "embed new words (outside the machine's word table)"),
    ("rag/embeddings.py", "encode", "all model encoding"),
    ("rag/index.py", "_write_group", "writer thread: sentence and document records"),
    ("chromadb/api/models/Collection.py", "add", "  of which Chroma add"),
    ("rag/index.py", "_store_group", "writer thread: all its work (records, words)"),
    ("concurrent/futures/_base.py", "result", "waiting for the writer thread"),
    ("rag/chunks.py", "split_document", "split into passages and sentences"),
    ("rag/retrieve.py", "lexical", "BM25 index update"),
]


def _writer_profiler(writer: cProfile.Profile):
    """A threading.setprofile hook that turns `writer` on in the first thread it sees
    start (the ingest's writer thread) and then steps aside."""

    def start(*_: object) -> None:
        sys.setprofile(None)
        writer.enable()

    return start


def main() -> int:
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 100
    work = Path(tempfile.mkdtemp(prefix="rag-profile-"))
    try:
        corpus = work / "corpus"
        write_corpus(count, corpus)
        from llama_index.vector_stores.chroma import ChromaVectorStore  # noqa: F401

        from rag import Assistant
        from rag.chunks import split_document
        from rag.documents import discover, load_catalog, load_document

        assistant = Assistant(corpus_dir=corpus, index_dir=work / "index")
        assistant.embedder.encode_one("warm up")
        first = load_document(discover(corpus)[0], corpus, load_catalog(corpus), 10**8)
        split_document(first, 256)

        # The writer thread is profiled too (threading.setprofile reaches new threads),
        # into its own profile: its time overlaps the main thread's.
        profile = cProfile.Profile()
        writer = cProfile.Profile()
        started = time.perf_counter()
        threading.setprofile(_writer_profiler(writer))
        profile.enable()
        try:
            report = assistant.ingest()
        finally:
            profile.disable()
            threading.setprofile(None)
        total = time.perf_counter() - started
        print(
            f"{count} documents: ingest {total:.1f}s, {report.embedded} sentences and "
            f"{report.words_embedded} words embedded ({assistant.embedder.backend})"
        )
        stats = pstats.Stats(profile).stats  # type: ignore[attr-defined]
        if writer.getstats():
            stats = {**pstats.Stats(writer).stats, **stats}  # type: ignore[attr-defined]
        for suffix, function, label in STAGES:
            # max, not sum: Embedder.encode calls OnnxEncoder.encode (same name, same file)
            seconds = max(
                (
                    cumulative
                    for (path, _, name), (_, _, _, cumulative, _) in stats.items()
                    if name == function and path.endswith(suffix)
                ),
                default=0.0,
            )
            print(f"  {label:<52} {seconds:7.1f}s  {100 * seconds / total:4.0f}%")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
