"""Run one `Assistant.ingest()` of RAG_CORPUS_DIR, announcing each step on stdout.

The crash test starts this in a subprocess and SIGKILLs it when a chosen step is
announced. The announcements are the only addition: the real pipeline runs.
    embedding <n>   a write group of n sentences is about to be embedded (the group
                    before it may still be written meanwhile, the one before that is
                    stored)
    embedded <n>    ... and has been (the group's Chroma writes follow)
    writing <src>   this document's sentences and record are about to be written
                    (one line per document of a write group, before the group's writes)
    stored <n>      the nth batch of sentences is in Chroma (the records are not yet)
    wrote <src>     ... and have been (after the group's writes)
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

from rag import Assistant
from rag.index import Index


def announce(line: str) -> None:
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def main() -> None:
    embed = Index._embeddings_for
    write = Index._write_group

    def announced_embed(self, group, *rest):
        sentences = sum(len(p.sentences) for _, passages in group for p in passages)
        announce(f"embedding {sentences}")
        vectors = embed(self, group, *rest)
        announce(f"embedded {sentences}")
        return vectors

    def announced_write(self, group, *rest):
        for doc, _ in group:
            announce(f"writing {doc.source}")
        write(self, group, *rest)
        for doc, _ in group:
            announce(f"wrote {doc.source}")

    add = Index._add_sentences
    pause_at = int(os.environ.get("RAG_TEST_PAUSE_AT_STORE", "0"))
    stores = 0

    def announced_add(self, *args):
        nonlocal stores
        add(self, *args)
        stores += 1
        announce(f"stored {stores}")
        if stores == pause_at:
            time.sleep(600)  # killed here

    Index._embeddings_for = announced_embed
    Index._write_group = announced_write
    Index._add_sentences = announced_add
    report = Assistant().ingest()
    announce("done " + json.dumps(report.to_dict()))


if __name__ == "__main__":
    main()
