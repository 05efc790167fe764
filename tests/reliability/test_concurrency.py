"""One Assistant shared by threads: the same answers as one at a time, and questions
asked while an ingest rewrites the index still get whole, verbatim, current quotes."""

from __future__ import annotations

import json
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from rag.chunks import split_document
from rag.documents import load_catalog, load_document
from tests.support import DOC_000, DOC_002, DOC_003, LIN_YUN_QUESTION, ROOT

pytestmark = pytest.mark.slow

THREADS = 16
QUESTIONS = 32
CYCLES = 6  # ingest rounds while questions are asked (re-embedding nothing after the first)


def seed_questions(count: int) -> list[tuple[str, list[dict[str, str]]]]:
    """The first `count` cases of evals/seed.jsonl as (question, history)."""
    cases = []
    for line in (ROOT / "evals" / "seed.jsonl").read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        case = json.loads(line)
        history = [{"role": "user", "content": turn} for turn in case.get("turns", [])]
        cases.append((case["question"], history))
    assert len(cases) >= count
    return cases[:count]


def comparable(answer) -> dict:
    data = answer.to_dict()
    # Scores are floats from the same model and data; rounding absorbs the last bit
    # that threaded BLAS could flip, nothing a reader would see.
    for item in [*data["citations"], *data["retrieved"]]:
        for key, value in item.items():
            if isinstance(value, float):
                item[key] = round(value, 4)
    return data


@pytest.mark.timeout(600)
def test_32_questions_on_16_threads_match_sequential_answers(assistant) -> None:
    cases = seed_questions(QUESTIONS)
    sequential = [comparable(assistant.ask(q, history=h)) for q, h in cases]
    start = threading.Barrier(THREADS)

    def ask(case: tuple[str, list]) -> dict:
        if threading.current_thread().name not in started:
            started.add(threading.current_thread().name)
            start.wait(timeout=60)  # every thread busy at once, not one after another
        return comparable(assistant.ask(case[0], history=case[1]))

    started: set[str] = set()
    with ThreadPoolExecutor(THREADS) as pool:
        parallel = list(pool.map(ask, cases))
    assert len(started) == THREADS
    for case, alone, together in zip(cases, sequential, parallel):
        assert together == alone, case[0]
    assert sum(not a["refused"] for a in sequential) >= QUESTIONS // 2  # real answers


# ---- questions during an ingest ---------------------------------------------------

NEW_NAME = "notes.md"
NEW_TEXT = "# Field notes\n\nThe llama herders of Patagonia voted to adopt solar shears in 2031.\n"
NEW_QUESTION = "What did the llama herders of Patagonia vote to adopt?"
ROBUSTNESS_QUESTION = "What urgency level does the table give model robustness?"
ROW = "| Model Robustness | Vulnerability to adversarial attacks and unpredictable failures"


def sentence_spans(corpus: Path, name: str, text: str) -> set[tuple[int, int, str]]:
    path = corpus / name
    path.write_text(text, encoding="utf-8")
    document = load_document(path, corpus, load_catalog(corpus), 10**7)
    return {
        (s.start, s.end, s.text)
        for passage in split_document(document, 160)
        for s in passage.sentences
    }


@pytest.mark.timeout(900)
def test_questions_during_an_ingest_get_whole_verbatim_quotes(
    corpus_copy: Path, make_assistant
) -> None:
    assistant = make_assistant(corpus_copy)
    assistant.ingest()
    original_002 = (corpus_copy / DOC_002).read_text(encoding="utf-8")
    assert f"{ROW} | High |" in original_002
    edited_002 = original_002.replace(f"{ROW} | High |", f"{ROW} | Low |").replace(
        "\n\n", "\n\nAn inserted sentence shifts every offset after it.\n\n", 1
    )
    # Every version a question may see, as (start, end, sentence) of its sentences.
    versions = {
        DOC_000: sentence_spans(corpus_copy, DOC_000, (corpus_copy / DOC_000).read_text()),
        DOC_003: sentence_spans(corpus_copy, DOC_003, (corpus_copy / DOC_003).read_text()),
        DOC_002: sentence_spans(corpus_copy, DOC_002, edited_002)
        | sentence_spans(corpus_copy, DOC_002, original_002),
        NEW_NAME: sentence_spans(corpus_copy, NEW_NAME, NEW_TEXT),
    }
    (corpus_copy / NEW_NAME).unlink()

    done = threading.Event()
    answers: list = []
    errors: list[BaseException] = []

    def keep_asking() -> None:
        questions = [LIN_YUN_QUESTION, ROBUSTNESS_QUESTION, NEW_QUESTION]
        i = 0
        try:
            while not done.is_set() or i < len(questions):
                answers.append(assistant.ask(questions[i % len(questions)]))
                i += 1
        except BaseException as exc:  # reported below, with the answers so far
            errors.append(exc)

    askers = [threading.Thread(target=keep_asking) for _ in range(4)]
    for thread in askers:
        thread.start()
    try:
        for _ in range(CYCLES):  # add, edit, remove: each ingest rewrites part of the index
            (corpus_copy / NEW_NAME).write_text(NEW_TEXT, encoding="utf-8")
            (corpus_copy / DOC_002).write_text(edited_002, encoding="utf-8")
            assert assistant.ingest().added == [NEW_NAME]
            (corpus_copy / NEW_NAME).unlink()
            (corpus_copy / DOC_002).write_text(original_002, encoding="utf-8")
            report = assistant.ingest()
            assert report.removed == [NEW_NAME] and report.updated == [DOC_002]
    finally:
        done.set()
        for thread in askers:
            thread.join(timeout=300)
    assert not errors, errors
    assert len(answers) >= 12
    for answer in answers:
        for c in answer.citations:
            # A whole sentence of one version of its document, at that version's offsets.
            assert (c.start, c.end, c.quote) in versions[c.source], (answer.question, c)
        if answer.question == LIN_YUN_QUESTION:
            assert not answer.refused
            assert {c.source for c in answer.citations} <= {DOC_000, DOC_003}
    # After the last ingest: the original state, answered as before.
    final = assistant.ask(ROBUSTNESS_QUESTION)
    assert all(c.source != NEW_NAME for c in final.citations)
    for c in final.citations:
        assert assistant.document_text(c.source)[c.start : c.end] == c.quote
