"""Run one `Assistant.ingest()` of RAG_CORPUS_DIR, announcing each step on stdout.

The crash test starts this in a subprocess and SIGKILLs it when a chosen step is
announced. The announcements are the only addition: the real pipeline runs.
    embedding <n>   a group of n sentences is about to be embedded
    embedded <n>    ... and has been (the group's Chroma writes follow)
    writing <src>   this document's sentences and record are about to be written
    stored <n>      the nth batch of sentences is in Chroma (the record is not yet)
    wrote <src>     ... and have been
    done <json>     the report

With RAG_TEST_PAUSE_AT_STORE=n the child stops after announcing `stored n` and
waits to be killed: the kill then lands exactly between a document's sentences and
its record, the narrowest window of a write.
"""

from __future__ import annotations

import json
import os
import sys
import time

from llama_index.vector_stores.chroma import ChromaVectorStore

from rag import Assistant
from rag.embeddings import Embedder
from rag.index import Index


def announce(line: str) -> None:
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def main() -> None:
    encode = Embedder.encode
    write = Index._write_document

    def announced_encode(self, texts, show_progress=False):
        if len(texts) > 1:  # the ingest's groups, not single questions
            announce(f"embedding {len(texts)}")
        vectors = encode(self, texts, show_progress)
        if len(texts) > 1:
            announce(f"embedded {len(texts)}")
        return vectors

    def announced_write(self, doc, *rest):
        announce(f"writing {doc.source}")
        write(self, doc, *rest)
        announce(f"wrote {doc.source}")

    add = ChromaVectorStore.add
    pause_at = int(os.environ.get("RAG_TEST_PAUSE_AT_STORE", "0"))
    stores = 0

    def announced_add(self, nodes, **kwargs):
        nonlocal stores
        ids = add(self, nodes, **kwargs)
        stores += 1
        announce(f"stored {stores}")
        if stores == pause_at:
            time.sleep(600)  # killed here
        return ids

    Embedder.encode = announced_encode
    Index._write_document = announced_write
    ChromaVectorStore.add = announced_add
    report = Assistant().ingest()
    announce("done " + json.dumps(report.to_dict()))


if __name__ == "__main__":
    main()
