"""Encode throughput and start-up time of each RAG_EMBED_BACKEND on the same sentences.

The sentences are what an ingest embeds: those of corpus/ plus those of `--docs` generated
documents (bench/corpus.py). Backends take turns, round after round, so a busy machine
slows them alike; the median round is reported. Start-up (imports, model load, first
vector) is timed in a fresh process per backend.

    .venv/bin/python bench/embed_backends.py --docs 200 --rounds 3
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

BACKENDS = ("torch", "onnx", "onnx-int8")
_STARTUP = """
import time
started = time.perf_counter()
from rag.embeddings import Embedder
Embedder(backend={backend!r}).encode_one("What did Lin Yun predict about attackers?")
print(time.perf_counter() - started)
"""


def sentences(docs: int) -> list[str]:
    from corpus import write_corpus
    from rag.chunks import split_document
    from rag.documents import discover, load_catalog, load_document

    found: dict[str, None] = {}
    with tempfile.TemporaryDirectory() as tmp:
        folders = [ROOT / "corpus"]
        if docs:
            write_corpus(docs, Path(tmp))
            folders.append(Path(tmp))
        for folder in folders:
            catalog = load_catalog(folder)
            for path in discover(folder):
                doc = load_document(path, folder, catalog, 50_000_000)
                for passage in split_document(doc, 160):
                    for sentence in passage.sentences:
                        found.setdefault(sentence.meaning)
    return list(found)


def startup_seconds(backend: str) -> float:
    done = subprocess.run(
        [sys.executable, "-c", _STARTUP.format(backend=backend)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    return float(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--docs", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()

    import numpy as np

    from rag.embeddings import Embedder

    texts = sentences(args.docs)
    print(f"{len(texts)} sentences ({sum(map(len, texts)):,} characters)", flush=True)
    embedders = {b: Embedder(backend=b) for b in BACKENDS}
    vectors = {b: e.encode(texts[:8]) for b, e in embedders.items()}  # load and warm up
    times: dict[str, list[float]] = {b: [] for b in BACKENDS}
    for round_ in range(args.rounds):
        for backend, embedder in embedders.items():
            started = time.perf_counter()
            vectors[backend] = embedder.encode(texts)
            times[backend].append(time.perf_counter() - started)
        print(f"round {round_ + 1}: " + ", ".join(f"{b} {t[-1]:.1f}s" for b, t in times.items()))
    print("\n| backend | start-up (s) | encode (s, median) | sentences/s | vs torch |", end="")
    print(" cosine to torch (min / mean) |\n|---|---|---|---|---|---|")
    base = statistics.median(times["torch"])
    for backend in BACKENDS:
        seconds = statistics.median(times[backend])
        cos = np.sum(vectors[backend] * vectors["torch"], axis=1)
        print(
            f"| {backend} | {startup_seconds(backend):.1f} | {seconds:.1f} | "
            f"{len(texts) / seconds:.0f} | {base / seconds:.2f}x | "
            f"{cos.min():.4f} / {cos.mean():.4f} |"
        )


if __name__ == "__main__":
    main()
