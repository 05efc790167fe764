"""Where a warm question's time goes: cProfile of Assistant.ask over the bench's questions,
on a corpus and index an earlier `bench/run.py --work W` run left (three warm-up asks first).

    python bench/profile_ask.py 10000 /tmp/bench10k onnx-int8
"""

from __future__ import annotations

import cProfile
import pstats
import sys
import time
from pathlib import Path

from offline import prepare  # bench/ is the script's folder, so on sys.path

prepare()

from run import TOP_K, existing_corpus, questions_for  # noqa: E402

from rag import Assistant  # noqa: E402


def main() -> int:
    size, work = int(sys.argv[1]), Path(sys.argv[2])
    backend = {"embed_backend": sys.argv[3]} if len(sys.argv) > 3 else {}
    questions = questions_for(existing_corpus(work / f"corpus-{size}", size), 40)
    assistant = Assistant(
        corpus_dir=work / f"corpus-{size}", index_dir=work / f"rag-{size}", top_k=TOP_K, **backend
    )
    for question in questions[:3]:
        assistant.ask(question)
    profile = cProfile.Profile()
    started = time.perf_counter()
    profile.enable()
    for question in questions:
        assistant.ask(question)
    profile.disable()
    print(f"{(time.perf_counter() - started) * 1000 / len(questions):.1f} ms per ask (profiled)")
    pstats.Stats(profile).sort_stats("cumtime").print_stats(30)
    return 0


if __name__ == "__main__":
    sys.exit(main())
