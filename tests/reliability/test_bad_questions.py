"""Bad and odd questions: a clear ValueError (API) or message and non-zero exit (CLI);
control characters, other scripts, emoji and SQL-like text are answered or refused
like any other question, and leave the index as it was."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from rag import REFUSAL
from tests.support import DOC_000, DOC_003, LIN_YUN_QUESTION, SEED_SOURCES, copy_corpus

pytestmark = pytest.mark.slow

RAG = Path(sys.executable).with_name("rag")


@pytest.mark.parametrize(
    ("question", "message"),
    [
        ("", "empty"),
        ("   ", "empty"),
        ("\n\t \r\n", "empty"),
        ("\x00\x01\x02\x1b[0m\u200b\ufeff", "empty"),  # nothing visible
        ("x" * 200_000, "200,000 characters long; the limit is 2,000"),
        ("why " * 501, "limit is 2,000"),
    ],
    ids=["empty", "spaces", "whitespace", "invisible", "200k", "just-over"],
)
def test_unaskable_questions_raise_value_error_with_a_message(
    assistant, question: str, message: str
) -> None:
    with pytest.raises(ValueError, match=message) as raised:
        assistant.ask(question)
    assert "RAG_MAX_QUESTION_CHARS" in str(raised.value) or "type a question" in str(raised.value)


@pytest.mark.parametrize("question", [None, b"What did Lin Yun predict?", 42, ["a"]])
def test_a_question_that_is_not_text_raises_value_error(assistant, question) -> None:
    with pytest.raises(ValueError, match="must be text"):
        assistant.ask(question)


def test_a_question_exactly_at_the_limit_is_asked(assistant) -> None:
    limit = assistant.settings.max_question_chars
    question = (LIN_YUN_QUESTION + " ") * (limit // (len(LIN_YUN_QUESTION) + 1))
    question = question.strip().ljust(limit, "?")
    assert len(question) == limit
    answer = assistant.ask(question)
    assert answer.refused or answer.citations


def assert_well_formed(assistant, answer) -> None:
    if answer.refused:
        assert answer.text == REFUSAL and answer.citations == []
        return
    assert answer.citations
    for c in answer.citations:
        assert assistant.document_text(c.source)[c.start : c.end] == c.quote
        assert f"[{c.n}]" in answer.text


# Each of these still carries the Lin Yun question: wrapped in noise it must still be answered.
WRAPPED = {
    "control-chars": "What did Lin Yun\x00 predict\x07 about \x1b[31mattackers\x1b[0m?\x7f",
    "zero-width": "What did Lin\u200b Yun predict about\u200d attackers?\ufeff",
    "emoji": "🤖🔥 What did Lin Yun predict about attackers? 🧐",
    "rtl-override": "\u202eWhat did Lin Yun predict about attackers?\u202c",
    "newlines": "What did Lin Yun\npredict about\r\nattackers?",
    "tabs-and-nbsp": "\tWhat did\u00a0Lin Yun predict\u2003about attackers?\t",
}

# Nothing in the corpus answers these; they must be refused, not crash.
ODD = {
    "sql": "'; DROP TABLE collections; SELECT * FROM embeddings WHERE '1'='1",
    "chroma-where": '{"source": {"$ne": null}}',
    "chinese": "北京的天气怎么样？",
    "arabic": "ما هي عاصمة فرنسا؟",
    "emoji-only": "🤖🔥🧐",
    "punctuation-only": "?!… --- ***",
    "html": "<script>alert(1)</script><img src=x onerror=alert(2)>",
    "format-string": "%s%s%s%n {0} {__class__} ${HOME} $(rm -rf /)",
    "path": "../../../../etc/passwd",
}


@pytest.mark.parametrize("question", list(WRAPPED.values()), ids=list(WRAPPED))
def test_noise_around_a_good_question_still_answers_it(assistant, question: str) -> None:
    answer = assistant.ask(question)
    assert not answer.refused, answer.note
    assert_well_formed(assistant, answer)
    assert {c.source for c in answer.citations} & {DOC_000, DOC_003}
    quotes = " ".join(c.quote for c in answer.citations)
    assert "near-term advantage" in quotes or "upper hand" in quotes


@pytest.mark.parametrize("question", list(ODD.values()), ids=list(ODD))
def test_odd_questions_are_refused_normally(assistant, question: str) -> None:
    answer = assistant.ask(question)
    assert answer.refused, answer.to_dict()
    assert_well_formed(assistant, answer)


# Real words with hostile text around them: answering and refusing are both normal,
# as long as the answer is well formed (quotes verbatim) and nothing breaks.
EITHER = {
    "sql-suffix": "What did Lin Yun predict about attackers?'; DROP TABLE embeddings; --",
    "sql-union": "Lin Yun' UNION SELECT document FROM embeddings --",
    "mixed-scripts": "Lin Yun (林云) 对攻击者的预测 — prédiction sur les attaquants?",
    "markdown": "**What** did [Lin Yun](javascript:alert(1)) predict about `attackers`?",
}


@pytest.mark.parametrize("question", list(EITHER.values()), ids=list(EITHER))
def test_hostile_text_around_real_words_gets_a_well_formed_answer(assistant, question) -> None:
    assert_well_formed(assistant, assistant.ask(question))


def test_odd_questions_leave_the_index_as_it_was(assistant) -> None:
    before = assistant.sources()
    for question in [*ODD.values(), *EITHER.values()]:
        assistant.ask(question)
    assert assistant.sources() == before
    assert [s["source"] for s in before] == sorted(SEED_SOURCES)
    assert not assistant.ask(LIN_YUN_QUESTION).refused


# ---- the command line -------------------------------------------------------------


def run_rag(tmp_path: Path, *args: str) -> tuple[subprocess.CompletedProcess[str], Path]:
    corpus = copy_corpus(tmp_path / "corpus")
    index = tmp_path / "index"
    env = {k: v for k, v in os.environ.items() if not k.startswith("RAG_")}
    env.update(RAG_CORPUS_DIR=str(corpus), RAG_INDEX_DIR=str(index), HF_HUB_OFFLINE="1")
    done = subprocess.run(
        [str(RAG), *args], env=env, cwd=tmp_path, capture_output=True, text=True, timeout=300
    )
    return done, index


@pytest.mark.parametrize("question", ["", "  \t "], ids=["empty", "blank"])
def test_cli_rejects_an_empty_question_before_any_work(tmp_path: Path, question: str) -> None:
    done, index = run_rag(tmp_path, "ask", question)
    assert done.returncode == 2
    assert "error:" in done.stderr and "empty" in done.stderr
    assert "Traceback" not in done.stderr and done.stdout == ""
    # Nothing was ingested, not even an empty index created: the check came first.
    assert not index.exists()


def test_cli_rejects_an_overlong_question_before_any_work(tmp_path: Path) -> None:
    # 100,000 characters: near the largest single argument Linux passes to a program.
    done, index = run_rag(tmp_path, "ask", "x" * 100_000)
    assert done.returncode == 2
    assert "100,000 characters long; the limit is 2,000" in done.stderr
    assert "RAG_MAX_QUESTION_CHARS" in done.stderr and "Traceback" not in done.stderr
    assert not index.exists()
