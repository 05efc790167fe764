"""Grid-search the extractive answerer's weights and refusal thresholds on an eval set.

    .venv/bin/python evals/calibrate.py evals/seed.jsonl

Retrieval is run once per question; each setting is then replayed on the cached
retrievals. Prints the best settings by pass rate, with refusal recall >= 0.8.
"""

from __future__ import annotations

import itertools
import sys
import tempfile
from pathlib import Path

from rag import Assistant
from rag.answer import Question
from rag.evaluate import facts_in, load_cases


def main(paths: list[str]) -> None:
    with tempfile.TemporaryDirectory() as index_dir:
        assistant = Assistant(index_dir=index_dir)
        assistant.ingest()
        cases = load_cases([Path(p) for p in paths])
        cached = []
        lexical = assistant.retriever.lexical()
        for case in cases:
            history = [{"role": "user", "content": t} for t in case.turns] or None
            question = Question.parse(case.question, history)
            retrieval = assistant.retriever.retrieve(question.query, assistant.settings.top_k)
            embedding = (
                retrieval.query_embedding
                if question.query == question.text
                else assistant.embedder.encode_one(question.text)
            )
            terms = lexical.topic(p.source for p in retrieval.passages)
            cached.append((case, question, retrieval, embedding, terms))
        answerer = assistant.answerer
        results = []
        weight_grid = [(c, o, 1 - c - o) for c in (0.4, 0.5, 0.6, 0.7) for o in (0.1, 0.2, 0.3)]
        for weights in weight_grid:
            answerer.weights = weights
            ranked = [
                (case, question, answerer.rank(question, retrieval, emb, terms), terms)
                for case, question, retrieval, emb, terms in cached
            ]
            for relevance, coverage in itertools.product(
                [x / 100 for x in range(20, 62, 2)], [x / 20 for x in range(0, 14)]
            ):
                answerer.min_relevance, answerer.min_coverage = relevance, coverage
                passed = refused_right = 0
                for case, question, ranks, terms in ranked:
                    refused = bool(answerer.refusal_reason(question, ranks, terms))
                    if not case.answerable:
                        refused_right += refused
                        passed += refused
                        continue
                    if refused:
                        continue
                    text, citations = answerer.compose(
                        answerer.choose(ranks), assistant.document_text
                    )
                    passed += facts_in(text, case.facts) and any(
                        c.source in case.sources for c in citations
                    )
                unanswerable = sum(not c.answerable for c, _, _ in ranked) or 1
                results.append(
                    (
                        passed / len(ranked),
                        refused_right / unanswerable,
                        weights,
                        relevance,
                        coverage,
                    )
                )
        results.sort(key=lambda r: (r[1] >= 0.8, r[0]), reverse=True)
        by_rate = sorted(results, key=lambda r: r[0] + r[1], reverse=True)[:5]
        for rate, recall, weights, relevance, coverage in results[:5] + by_rate:
            print(
                f"pass {rate:.3f} refusal_recall {recall:.3f} weights {weights} "
                f"min_relevance {relevance:.2f} min_coverage {coverage:.2f}"
            )


if __name__ == "__main__":
    main(sys.argv[1:] or ["evals/seed.jsonl"])
