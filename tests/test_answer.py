"""Asking questions through the public API: answers, citations, refusals, contracts."""

from __future__ import annotations

import json
import re
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

import rag
from rag import Answer, Assistant
from tests.support import DOC_000, DOC_002, DOC_003, LIN_YUN_QUESTION, SEED_SOURCES

pytestmark = pytest.mark.slow

VARIED_QUESTIONS = [
    LIN_YUN_QUESTION,
    "Who put on the AI conference in Beijing?",
    "Which Anthropic models did the government crack down on?",
    "What urgency level does the table give model robustness?",
    "Which Chinese companies are leading on open-source model releases?",
    "Where does Stephen Casper work?",
    "What did Nvidia use to restart the American open-weight push?",
    "Which nuclear disaster did the experts compare a possible AI catastrophe to?",
    "What is the capital of France?",
    "How many people attended the Zhongguancun conference?",
    "Is all the panic among AI experts a sign of weakness?",
    "What is Whitfield Diffie famous for?",
]

MARKER = re.compile(r"\[(\d+)\]")


def assert_markers_match_citations(answer) -> None:
    in_text = sorted(int(n) for n in MARKER.findall(answer.text))
    numbers = [c.n for c in answer.citations]
    assert numbers == list(range(1, len(numbers) + 1)), numbers
    assert set(in_text) == set(numbers), (answer.text, numbers)
    assert len(in_text) == len(numbers), "each citation is marked exactly once"


def assistant_over(make_assistant, folder, documents: dict[str, str]) -> Assistant:
    """An ingested Assistant over a new folder holding these documents."""
    folder.mkdir()
    for name, text in documents.items():
        (folder / name).write_text(text)
    assistant = make_assistant(folder)
    assistant.ingest()
    return assistant


def answered(assistant: Assistant, question: str):
    """The answer to question, which must not be a refusal, its quotes verbatim."""
    answer = assistant.ask(question)
    assert not answer.refused, (question, answer.note)
    assert_verbatim(assistant, answer)
    return answer


def foldoc_entry(term: str, *paragraphs: str) -> str:
    """A dictionary entry as the prose draw holds FOLDOC's: its term, then paragraphs."""
    return f"{term} (FOLDOC entry)\n\n" + "\n\n".join(paragraphs) + "\n"


def answer_quoting(assistant: Assistant, question: str, text: str):
    """The answer to question, not a refusal, its first quote holding the text given."""
    answer = answered(assistant, question)
    assert text in answer.citations[0].quote, answer.text
    return answer


def quoted_then_refused(
    assistant: Assistant, asked: tuple[str, str], refused: tuple[str, str]
) -> None:
    """The first question is answered, its first quote holding the text given; the second
    is refused for the reason given."""
    answer_quoting(assistant, *asked)
    refusal(assistant, *refused)


def refusal(assistant: Assistant, question: str, because: str):
    """The answer to question, which must be a refusal whose note says `because`."""
    answer = assistant.ask(question)
    assert answer.refused, (question, answer.text)
    assert because in answer.note, answer.note
    return answer


def assert_verbatim(assistant: Assistant, answer) -> None:
    for c in answer.citations:
        assert assistant.document_text(c.source)[c.start : c.end] == c.quote, c
        assert c.quote.strip() == c.quote and c.quote


# ---- the design-card questions ----------------------------------------------------


def test_lin_yun_question_is_answered_with_the_prediction(assistant, lin_yun_answer) -> None:
    answer = lin_yun_answer
    assert not answer.refused, answer.note
    assert answer.text != rag.REFUSAL
    assert {c.source for c in answer.citations} & {DOC_000, DOC_003}
    assert {c.source for c in answer.citations} <= set(SEED_SOURCES)
    assert any(
        "upper hand" in c.quote or "near-term advantage" in c.quote for c in answer.citations
    ), [c.quote for c in answer.citations]
    assert "upper hand" in answer.text or "near-term advantage" in answer.text
    assert_markers_match_citations(answer)
    assert_verbatim(assistant, answer)


def test_every_quote_appears_in_the_answer_text(lin_yun_answer) -> None:
    # Each [n] follows the sentence it supports: that sentence is in the text.
    for c in lin_yun_answer.citations:
        assert c.quote in lin_yun_answer.text


def test_citations_carry_the_title_from_sources_yaml(assistant, lin_yun_answer) -> None:
    titles = {s["source"]: s["title"] for s in assistant.sources()}
    for c in lin_yun_answer.citations:
        assert c.title == titles[c.source]
        assert 0 < c.score <= 2


def test_off_topic_question_is_refused(assistant) -> None:
    answer = assistant.ask("What is the capital of France?")
    assert answer.refused is True
    assert answer.citations == []
    assert answer.text == rag.REFUSAL
    assert "Paris" not in answer.text


@pytest.mark.parametrize(
    "question",
    [
        "How do I make a sourdough starter?",
        "Who won the 2018 football World Cup?",
        "When was Lin Yun born?",
    ],
)
def test_questions_the_documents_do_not_answer_are_refused(assistant, question: str) -> None:
    answer = assistant.ask(question)
    assert answer.refused, answer.text
    assert answer.text == rag.REFUSAL and answer.citations == []


@pytest.mark.parametrize(
    ("question", "reason"),
    [
        # Named in the articles, but what they said is not reported.
        ("What did Whitfield Diffie say in his talk?", "said"),
        # The telecom is described, never named.
        ("Which South Korean telecom company was the concern?", "which one"),
        # 'GLM 5.2' holds a number, but not the number asked for.
        ("How many parameters does GLM 5.2 have?", "number"),
    ],
)
def test_answer_type_checks_refuse_what_the_evidence_does_not_state(
    assistant, question: str, reason: str
) -> None:
    answer = assistant.ask(question)
    assert answer.refused, answer.text
    assert reason in answer.note


@pytest.mark.parametrize(
    ("question", "expected"),
    [
        ("What did Stephen Casper say everyone in AI wants to avoid?", "Chernobyl"),
        ("Which WIRED reporter was at the conference?", "Will Knight"),
        ("Which Chinese firms lead in open-source model releases?", "Alibaba"),
        ("Who hosted the conference in Beijing?", "Beijing Academy of Artificial Intelligence"),
    ],
)
def test_answer_type_checks_let_stated_answers_through(
    assistant, question: str, expected: str
) -> None:
    answer = assistant.ask(question)
    assert not answer.refused, answer.note
    assert expected in answer.text


def test_follow_up_resolves_he_from_the_history(assistant, lin_yun_answer) -> None:
    answer = assistant.ask(
        "Which university is he at?",
        history=[
            {"role": "user", "content": LIN_YUN_QUESTION},
            {"role": "assistant", "content": lin_yun_answer.text},
        ],
    )
    assert not answer.refused, answer.note
    assert "Jia Tong" in answer.text or "Jiao Tong" in answer.text
    assert_markers_match_citations(answer)
    assert_verbatim(assistant, answer)


@pytest.mark.parametrize(
    "follow_up", ["And what did the company do next?", "How did the company respond to that?"]
)
def test_follow_up_reads_the_company_as_the_one_named_before(assistant, follow_up) -> None:
    """ "The company" is Anthropic, named in the earlier question: its key term is the name,
    so a sentence about some other firm ("cybersecurity firm 360") does not outrank what
    Anthropic did, and a question naming no one still leans on the conversation."""
    from rag.answer import Question

    earlier = "What did the US government order Anthropic to do?"
    history = [{"role": "user", "content": earlier}]
    question = Question.parse(follow_up, history)
    assert "anthropic" in question.key_terms and "company" not in question.key_terms
    assert earlier in question.query
    answer = assistant.ask(follow_up, history=history)
    assert not answer.refused, answer.note
    assert "revoke" in answer.text, answer.text
    assert_markers_match_citations(answer)


def test_a_new_question_naming_its_subject_is_not_a_follow_up() -> None:
    from rag.answer import Question

    history = [{"role": "user", "content": "What did the US government order Anthropic to do?"}]
    question = Question.parse("What is the capital of France?", history)
    assert question.query == "What is the capital of France?"
    assert "anthropic" not in question.key_terms


def test_history_changes_the_answer_to_a_pronoun_question(assistant, lin_yun_answer) -> None:
    """Without the history, nothing says who "he" is; with it, Lin Yun's university."""
    history = [
        {"role": "user", "content": LIN_YUN_QUESTION},
        {"role": "assistant", "content": lin_yun_answer.text},
    ]
    with_history = assistant.ask("Which university is he at?", history=history)
    without = assistant.ask("Which university is he at?")
    assert with_history.text != without.text


# ---- invariants over many questions -----------------------------------------------


@pytest.fixture(scope="module")
def varied_answers(assistant):
    return {q: assistant.ask(q) for q in VARIED_QUESTIONS}


@pytest.mark.parametrize("question", VARIED_QUESTIONS)
def test_citations_are_verbatim_and_answers_short(assistant, varied_answers, question) -> None:
    answer = varied_answers[question]
    assert len(answer.text) < 800, len(answer.text)
    assert_verbatim(assistant, answer)
    assert_markers_match_citations(answer)
    if answer.refused:
        assert answer.text == rag.REFUSAL and answer.citations == []
    else:
        assert answer.citations, "an answer without a citation"
        assert answer.text != rag.REFUSAL


def test_most_varied_questions_get_an_answer(varied_answers) -> None:
    answered = [q for q, a in varied_answers.items() if not a.refused]
    # 10 of the 12 are answerable from the articles; a refuse-everything bot fails here.
    assert len(answered) >= 7, [q for q in VARIED_QUESTIONS if q not in answered]


@pytest.mark.parametrize(
    ("question", "expected"),
    [
        ("Which Anthropic models did the government crack down on?", ["Mythos", "Fable 5"]),
        ("Where does Stephen Casper work?", ["MIT"]),
        ("What did Nvidia use to restart the American open-weight push?", ["Nemotron"]),
        ("What urgency level does the table give model robustness?", ["Model Robustness"]),
    ],
)
def test_answers_contain_the_fact(varied_answers, question: str, expected: list[str]) -> None:
    answer = varied_answers[question]
    assert not answer.refused, answer.note
    for fact in expected:
        assert fact in answer.text


def test_same_question_same_answer(assistant, lin_yun_answer) -> None:
    again = assistant.ask(LIN_YUN_QUESTION)
    assert again.text == lin_yun_answer.text
    assert [c.to_dict() for c in again.citations] == [c.to_dict() for c in lin_yun_answer.citations]


def test_surrounding_whitespace_does_not_change_the_answer(assistant, lin_yun_answer) -> None:
    assert assistant.ask(f"  {LIN_YUN_QUESTION}\n").text == lin_yun_answer.text


# ---- contracts --------------------------------------------------------------------


def test_to_dict_contract(lin_yun_answer) -> None:
    data = lin_yun_answer.to_dict()
    assert {"question", "text", "refused", "citations"} <= set(data)
    assert data["question"] == LIN_YUN_QUESTION
    assert data["text"] == lin_yun_answer.text
    assert data["refused"] is False
    assert data["citations"]
    for citation in data["citations"]:
        assert set(citation) == {"n", "source", "title", "quote", "start", "end", "score"}
        assert isinstance(citation["n"], int)
        assert isinstance(citation["start"], int) and isinstance(citation["end"], int)
        assert citation["end"] - citation["start"] == len(citation["quote"])
    round_trip = json.loads(json.dumps(data))
    assert round_trip["citations"] == data["citations"]


def test_refusal_to_dict_is_json_ready(assistant) -> None:
    data = assistant.ask("What is the capital of France?").to_dict()
    assert json.loads(json.dumps(data))["refused"] is True
    assert data["citations"] == [] and data["text"] == rag.REFUSAL


@pytest.mark.parametrize("question", ["", "   ", "\n\t "])
def test_empty_question_is_rejected(assistant, question: str) -> None:
    with pytest.raises(ValueError, match="empty"):
        assistant.ask(question)


def test_overlong_question_is_rejected_with_the_limit(assistant) -> None:
    with pytest.raises(ValueError, match="limit") as raised:
        assistant.ask("x" * 2001)
    assert "2,000" in str(raised.value) or "2000" in str(raised.value)


def test_question_at_the_limit_is_accepted(assistant) -> None:
    answer = assistant.ask(("attackers " * 200)[:2000])
    assert isinstance(answer.text, str) and answer.text


def test_non_text_question_is_rejected(assistant) -> None:
    with pytest.raises(ValueError):
        assistant.ask(None)  # type: ignore[arg-type]


def test_sources_lists_the_seed_documents(assistant) -> None:
    listing = assistant.sources()
    assert [s["source"] for s in listing] == sorted(SEED_SOURCES)
    titles = {s["source"]: s["title"] for s in listing}
    assert titles == {
        DOC_000: "I Spoke with Leading AI Experts in China, and They're Concerned as Well",
        DOC_002: "China's Top AI Researchers Are Concerned About an Unchecked Arms Race",
        DOC_003: "US and Chinese AI experts urge cooperation to avert 'Chernobyl moment'",
    }
    for s in listing:
        assert s["chunks"] > 0 and s["sentences"] >= s["chunks"]
    json.dumps(listing)


def test_document_text_is_the_indexed_file_text(assistant, seed_corpus) -> None:
    for source in SEED_SOURCES:
        assert assistant.document_text(source) == (seed_corpus / source).read_text(encoding="utf-8")


@pytest.mark.parametrize("source", ["nope.txt", "../corpus/" + DOC_000, ""])
def test_document_text_of_an_unknown_source_raises(assistant, source: str) -> None:
    with pytest.raises(rag.UnknownSourceError) as raised:
        assistant.document_text(source)
    assert "not an indexed source" in str(raised.value)
    assert isinstance(raised.value, KeyError)


def test_threads_get_the_same_answers_as_sequential_calls(assistant) -> None:
    questions = (VARIED_QUESTIONS + VARIED_QUESTIONS)[:16]
    sequential = [assistant.ask(q).text for q in questions]
    with ThreadPoolExecutor(max_workers=8) as pool:
        parallel = list(pool.map(lambda q: assistant.ask(q).text, questions))
    assert parallel == sequential


def test_threads_on_a_fresh_assistant(seed_corpus, tmp_path) -> None:
    """Lazy opening of the index, retriever and answerer must survive a concurrent start."""
    fresh = Assistant(corpus_dir=seed_corpus, index_dir=tmp_path / "index")
    fresh.ingest()
    cold = Assistant(corpus_dir=seed_corpus, index_dir=tmp_path / "index")
    questions = (VARIED_QUESTIONS + VARIED_QUESTIONS)[:16]
    with ThreadPoolExecutor(max_workers=8) as pool:
        parallel = list(pool.map(lambda q: cold.ask(q).text, questions))
    assert parallel == [fresh.ask(q).text for q in questions]


def test_a_version_number_is_one_key_term(assistant) -> None:
    """ "GLM 5.2" asks about 5.2: a text with a 5 and a 2 elsewhere ("2.5.6") does not
    cover it, so "how many parameters" is not answered by any changelog's version."""
    from rag.answer import Question

    question = Question.parse("How many parameters does GLM 5.2 have?", None)
    assert "5.2" in question.key_terms and "5" not in question.key_terms
    weights = dict.fromkeys(question.key_terms, 1.0)
    answerer = assistant.answerer
    changelog = "Since 2.5.6 this is a new parameter in func called response."
    assert answerer.coverage(weights, changelog) == pytest.approx(1 / len(weights))
    stated = "Z.ai released GLM 5.2, with 700 billion parameters."
    assert answerer.coverage(weights, stated) == pytest.approx(3 / len(weights))  # not many


def test_asking_for_an_email_address_needs_one_in_the_evidence(assistant) -> None:
    """Sentences about Lin Yun cover "Lin Yun" (rare names weigh much: among unrelated
    documents on mail, "email" and "address" weigh little), but none gives an address."""
    from rag.answer import ExtractiveAnswerer, Question

    question = Question.parse("What is Lin Yun's email address?", None)
    assert question.kind == "contact"
    lenient = ExtractiveAnswerer(
        assistant.embedder.encode,
        assistant.settings.min_relevance,
        0.0,  # key-term coverage alone cannot refuse here
        assistant.settings.max_answer_chars,
    )
    retrieval = assistant.retriever.retrieve(question.query, assistant.settings.top_k)
    answer = lenient.answer(
        question,
        retrieval,
        retrieval.query_embedding,
        assistant.retriever.lexical(),
        assistant.document_text,
    )
    assert answer.refused, answer.text
    assert "address" in answer.note


def test_a_question_in_the_text_is_context_not_the_answer(assistant) -> None:
    """Article 002 asks "Is there a path toward de-escalation?" and answers it in the next
    sentence. The heading repeats the question's own words, so it scored best and was
    given as the answer; the answer is the sentence after it."""
    answer = assistant.ask("What path toward de-escalation does the Creati.ai article suggest?")
    assert not answer.refused, answer.note
    assert all(not c.quote.endswith("?") for c in answer.citations), answer.text
    assert any("non-competitive" in c.quote for c in answer.citations), answer.text
    assert_verbatim(assistant, answer)


def test_how_to_questions_need_evidence_of_the_doing(tmp_path, make_assistant) -> None:
    """Among API docs, "How do I reverse a list in Python?" found a sentence with "list"
    and "Python" that says nothing about reversing, and gave it as the answer."""
    from rag.answer import Question

    assert Question.parse("How do I reverse a list in Python?", None).kind == "how-to"
    corpus = tmp_path / "docs"
    assistant = assistant_over(
        make_assistant,
        corpus,
        {
            "sympy.txt": (
                "convert_to_python(): Returns a list with Python code for the SymPy expressions.\n"
                "Each expression becomes one line of Python source in the returned list.\n"
            ),
            "networkx.txt": (
                "reverse(G, copy): Returns the reverse directed graph of G.\n"
                "The edges of the graph point the other way after the call.\n"
            ),
        },
    )
    refusal(assistant, "How do I reverse a list in Python?", because="how to do")

    (corpus / "builtins.txt").write_text(
        "list.reverse(): Reverse the elements of a Python list in place.\n"
    )
    assistant.ingest()
    answer = assistant.ask("How do I reverse a list in Python?")
    assert not answer.refused, answer.note
    assert answer.citations[0].source == "builtins.txt", answer.text
    assert_verbatim(assistant, answer)


def test_sentences_after_the_best_meet_the_same_standard(corpus_copy, make_assistant) -> None:
    """Among graph-library docs, "joining" and "tournament" (soft matching "join" and
    "conference") brought sentences about tournaments into the answer about Casper: near
    the best in score, but not about him. Each sentence after the best must be evidence
    by the best's standard, and about the one the question names."""
    from rag.answer import Question

    (corpus_copy / "tournament.txt").write_text(
        "Players join the tournament by registering before the first round of the "
        "conference games.\n"
        "A tournament is a directed graph, with neither self-loops nor multi-edges, in which "
        "there is exactly one directed edge joining each pair of distinct nodes.\n"
    )
    assistant = make_assistant(corpus_copy)
    assistant.ingest()
    question = Question.parse("How did Casper join the conference?", None)
    retrieval = assistant.retriever.retrieve(question.query, assistant.settings.top_k)
    terms = assistant.retriever.lexical().topic(p.source for p in retrieval.passages)
    ranked = assistant.answerer.rank(question, retrieval, retrieval.query_embedding, terms)
    by_start = {s.sentence.text.split(",")[0]: s for s in ranked}

    def supports(question, item, terms):
        return assistant.answerer.supports(question, item, terms, assistant.document_text)

    players = by_start[
        "Players join the tournament by registering before the first round of the conference games."
    ]
    assert players.coverage >= assistant.settings.min_coverage  # covers "join", "conference"
    assert not supports(question, players, terms)  # but is not about Casper
    assert not supports(question, by_start["A tournament is a directed graph"], terms)


@pytest.mark.parametrize(
    ("question", "kind"),
    [
        ("Why did Sun change the name of Yellow Pages to NIS?", "other"),
        ("Which key must the size dictionary contain when resizing?", "entity"),
        ("What are the core arguments of the Gradio Interface class?", "other"),
        ("When was the first beta released?", "time"),
        ("In which year did it happen, and when did it end?", "date"),  # a year: a date
        ("What did Casper argue about cooperation?", "said"),
        ("What is the name of Z.ai's model?", "name"),
        ("If I leave the port number out of an HTTP URL, which port gets used?", "entity"),
        ("What is the URL of the project's home page?", "contact"),
        ("What does the acronym ONNX stand for?", "expansion"),
        ("Who is the Allman indent style named after?", "eponym"),
        ("In a direct mapped cache, which part of the address picks the location?", "other"),
        ("What utility program had to be present to run its executables?", "other"),
        ("What did Casper present at the conference?", "said"),
        ("What is the numeric value of tempfile.TMP_MAX?", "count"),
        ("What is the maximum number of devices on a JTAG chain?", "count"),
        ("In what year did the MIT hacker visit Stanford?", "date"),
        ("How much did an IBM 704 cost?", "price"),
        ("What error does Add raise if a proto with the same name is added?", "exception"),
        ("What is the price of a Netscape Navigator license?", "price"),
        ("How much faster is orjson than json?", "count"),
        # A leading clause sets the scene; the question after it says what is asked.
        ("When I use make_pipeline, how are the steps named?", "other"),
        ("When I send a steer event, which event acknowledges the input?", "entity"),
        ("When is a programming language classified as high level?", "other"),
        ("How do customers upload their website content to the shared server?", "other"),
        ("Where can I find the project website?", "contact"),
        ('Where does the name "burst page" come from?', "other"),
        ("When a bucket is created, what visibility does it get by default?", "other"),
        ("When does MorphOp.load_lut raise an exception?", "other"),
        ("When is it appropriate to pass checked=False?", "other"),
        ("What do the default check_* methods verify about input parameters?", "other"),
        # A function being called is invoked, not named; a yes-or-no question asks no name.
        ("What happens to the GIL while a function of the library is being called?", "other"),
        ("What does foo return when called with no arguments?", "other"),
        ("What is the person who runs a bulletin board system usually called?", "name"),
        ("Should I pass __name__ as the name argument to get_meter?", "other"),
        ("Is there a cut-down variant of the font, and what is it called?", "name"),
    ],
)
def test_what_the_question_asks_for(question: str, kind: str) -> None:
    """A reason is not a name, a clause with "when" asks for no time, and "arguments"
    are not someone arguing."""
    from rag.answer import Question

    assert Question.parse(question, None).kind == kind


def test_the_month_may_is_a_time_and_the_verb_is_not() -> None:
    from rag.answer import _DATE, _TIME

    assert _TIME.search("The first version was released in May 1994.")
    assert _DATE.search("It shipped on 3 May.")
    assert not _TIME.search("Hackers may gain a near-term advantage.")
    assert not _DATE.search("They may cooperate.")


def test_of_two_close_sentences_the_one_giving_the_time_leads(tmp_path, make_assistant) -> None:
    """ "When was the first beta released?": a sentence about Netscape without a date
    scored 0.63, the one with the date 0.62; the question was refused for lack of a time."""
    from rag.answer import MARGIN, Question

    corpus = tmp_path / "docs"
    assistant = assistant_over(
        make_assistant,
        corpus,
        {
            "netscape.txt": (
                "Netscape Navigator evolved from NCSA Mosaic and runs on the X Window System.\n"
                "The first beta-test version was released free to the Internet"
                " on 13 October 1994.\n"
            ),
        },
    )
    question = Question.parse("When was the first beta of Netscape Navigator released?", None)
    retrieval = assistant.retriever.retrieve(question.query, assistant.settings.top_k)
    terms = assistant.retriever.lexical().topic(p.source for p in retrieval.passages)
    ranked = assistant.answerer.rank(question, retrieval, retrieval.query_embedding, terms)
    undated = next(s for s in ranked if "Mosaic" in s.sentence.text)
    dated = next(s for s in ranked if "1994" in s.sentence.text)
    undated.score = dated.score + MARGIN / 2  # as close as in the 500-document mix
    undated.coverage = min(undated.coverage, dated.coverage)
    lead, reason = assistant.answerer.lead(question, [undated, dated], terms)
    assert reason == ""
    assert lead[0] is dated
    # Far below the best, a sentence with a date does not take over (a line of the best's
    # own source covering more of the question may, down to twice the margin).
    undated.score = dated.score + 2.5 * MARGIN
    assert assistant.answerer.lead(question, [undated, dated], terms)[1]


def test_the_source_must_mention_what_the_question_names(tmp_path, make_assistant) -> None:
    """A terminal emulator's licence line is close to "What license is Gradio released
    under?" but its document never mentions Gradio."""
    corpus = tmp_path / "docs"
    assistant = assistant_over(
        make_assistant,
        corpus,
        {
            "zutty.txt": (
                "Zutty is a terminal emulator for the X Window System.\n"
                "Zutty is released as free software; refer to the file LICENSE for the license.\n"
            ),
        },
    )
    refusal(assistant, "What license is Gradio released under?", "does not mention Gradio")
    answered(assistant, "What license is Zutty released under?")


def test_a_name_said_another_way_in_the_source_still_counts(assistant) -> None:
    """'America' in the question, 'the US' in the article."""
    answer = assistant.ask("Are Chinese open-weight models catching on in America?")
    assert not answer.refused, answer.note
    assert "gaining traction in the US" in answer.text


def test_a_sentence_ending_in_a_colon_is_quoted_with_what_it_introduces(
    tmp_path, make_assistant
) -> None:
    """ "Bug reports for bash should be sent to:" answers nothing without the address
    on the next line; the quote runs on over it, still cut verbatim from the source."""
    corpus = tmp_path / "docs"
    assistant = assistant_over(
        make_assistant,
        corpus,
        {
            "bash.txt": (
                "Bash is the GNU shell.\n\nBug reports for bash should be sent to:\n\n"
                "bug-bash@gnu.org\n\nusing the bashbug program that is installed with bash.\n"
            ),
            "workflows.txt": (
                "Whether an event routes to a step is decided in one of two modes:\n\n"
                "* exact (the default): the event matches only when its type is\n"
                "  exactly one of the declared types.\n"
                "* subclass-aware: the event also matches when its type is a subclass.\n\n"
                "Matching happens when the workflow starts.\n"
            ),
        },
    )
    answer = assistant.ask("Where should I send a bug report for bash?")
    assert "bug-bash@gnu.org" in answer.text, (answer.text, answer.note)
    assert_verbatim(assistant, answer)
    modes = assistant.ask("What are the two modes for matching events to steps?")
    assert "subclass-aware" in modes.text and "exact" in modes.text, modes.text
    assert "Matching happens" not in modes.text
    assert_verbatim(assistant, modes)


def test_what_a_colon_introduces_is_bounded() -> None:
    from rag.answer import CONTINUATION_CHARS, _continued

    text = "Intro:\n\n- a\n- b\n\n- c\n\nNot a list.\n" + "x" * 1000
    assert text[: _continued(text, 0, 6)] == "Intro:\n\n- a\n- b\n\n- c"
    assert _continued("No colon. Next", 0, 9) == 9
    trailing = "It has the following dependencies...\n\n* `h11` * `truststore`\n\nAnd more."
    assert trailing[: _continued(trailing, 0, 36)].endswith("* `h11` * `truststore`")
    long = "Options:\n" + "\n".join(f"- option {i} " + "y" * 40 for i in range(40))
    end = _continued(long, 0, 8)
    assert 8 < end <= 8 + CONTINUATION_CHARS and long[end] == "\n"


def test_a_sentence_after_the_best_may_rely_on_its_title_for_the_name(
    tmp_path, make_assistant
) -> None:
    """A docstring names its class once, in the title: "Default: 1e-5" after the eps line
    is about GroupNorm although neither line says so; the short title is its context."""
    corpus = tmp_path / "docs"
    from rag.answer import Question

    assistant = assistant_over(
        make_assistant,
        corpus,
        {
            "groupnorm.txt": (
                "torch.nn.GroupNorm (class)\n\n"
                "Applies Group Normalization over a mini-batch of inputs.\n\n"
                "eps: a value added to the denominator for numerical stability.\n"
                "Default: 1e-5\n"
            ),
            "layernorm.txt": (
                "torch.nn.LayerNorm (class)\n\nApplies Layer Normalization over a mini-batch.\n"
            ),
        },
    )
    question = Question.parse("What is the default eps value of GroupNorm?", None)
    retrieval = assistant.retriever.retrieve(question.query, assistant.settings.top_k)
    terms = assistant.retriever.lexical().topic(p.source for p in retrieval.passages)
    ranked = assistant.answerer.rank(question, retrieval, retrieval.query_embedding, terms)
    default = next(s for s in ranked if s.sentence.text == "Default: 1e-5")
    assert "GroupNorm" not in default.sentence.text
    assert default.context.startswith("torch.nn.GroupNorm")  # the title names the subject
    assert assistant.answerer.supports(question, default, terms, assistant.document_text)
    answer = assistant.ask(question.text)
    assert "1e-5" in answer.text, (answer.text, answer.note)
    assert {c.source for c in answer.citations} == {"groupnorm.txt"}
    assert_verbatim(assistant, answer)


def test_how_to_with_a_light_verb_asks_about_the_rest(assistant) -> None:
    """ "How can I run shape inference...": the evidence need not say "run"."""
    answerer = assistant.answerer
    context = "Use infer_shapes_path for models larger than 2GB."
    assert answerer._does("How can I run shape inference on a large model?", context)
    assert not answerer._does("How do I reverse a list in Python?", context)


SPACE_CADET = {
    "space_cadet.txt": (
        "space-cadet keyboard (FOLDOC entry)\n\n"
        "A now-legendary device used on MIT Lisp machines, which inspired several still-current "
        "jargon terms and influenced the design of later keyboards.\n\n"
        "It had the usual shift and control keys, plus meta, hyper and super keys. Each of "
        "these might be typed with any combination of the other modifier keys. On this "
        "keyboard, you could type over 8000 different characters!\n"
    ),
    "ibm_pc.txt": (
        "IBM PC keyboard (FOLDOC entry)\n\n"
        "The original IBM PC keyboard had 83 keys and a loud click. Many users preferred "
        "its feel to later keyboards.\n"
    ),
}


def test_a_short_title_is_context_for_every_sentence(tmp_path, make_assistant) -> None:
    """An encyclopedia entry names its subject in the title only: "On this keyboard, you
    could type over 8000 different characters!" answers a question about the space-cadet
    keyboard, though the sentence never says "space-cadet"."""
    assistant = assistant_over(make_assistant, tmp_path / "docs", SPACE_CADET)
    answer = answered(assistant, "How many characters could you type on the space-cadet keyboard?")
    assert "8000" in answer.text
    assert {c.source for c in answer.citations} == {"space_cadet.txt"}


def test_a_headline_is_no_subject() -> None:
    """A news headline makes a claim: its words are not context for every sentence (the
    seed article's "Concerned ... Arms Race" would cover any question about worries)."""
    from rag.documents import subject_of as _subject

    assert _subject("space-cadet keyboard (FOLDOC entry)") == "space-cadet keyboard (FOLDOC entry)"
    assert _subject("torch.nn.GroupNorm (class)") == "torch.nn.GroupNorm (class)"
    assert _subject("China's Top AI Researchers Are Concerned About an Unchecked Arms Race") == ""


def test_a_title_line_is_never_the_answer(tmp_path, make_assistant) -> None:
    """ "What is Line2DBaseSeries?" was answered with the heading "...Line2DBaseSeries
    (class)": it names the subject and says nothing about it. The line after it does."""
    assistant = assistant_over(
        make_assistant,
        tmp_path / "docs",
        {
            "line2d.txt": (
                "sympy.plotting.series.Line2DBaseSeries (class)\n\n"
                "A base class for 2D lines.\n\n"
                "get_data(): Return coordinates for plotting the line.\n"
            ),
            "surface.txt": (
                "sympy.plotting.series.SurfaceBaseSeries (class)\n\nA base class for 3D surfaces.\n"
            ),
        },
    )
    answer = answered(assistant, "What is Line2DBaseSeries in sympy plotting?")
    assert "A base class for 2D lines." in answer.text
    assert all("(class)" not in c.quote for c in answer.citations), answer.text


def test_a_default_value_question_needs_a_value(tmp_path, make_assistant) -> None:
    """ "What is the default high water mark?" was answered with "Called when the buffer
    of frames goes above the high water mark": the setting, not its value."""
    documents = {
        "assembler.txt": (
            "websockets.asyncio.messages.Assembler (class)\n\n"
            "Assemble messages from frames.\n\n"
            "pause: Called when the buffer of frames goes above the high water mark.\n\n"
            "resume: Called when the buffer of frames goes below the low water mark.\n"
        ),
    }
    from rag.answer import _kind

    assert _kind("What is the default high water mark of the Assembler?") == "default"
    assert _kind("What does MutableBase.coerce raise by default?") == "exception"
    assistant = assistant_over(make_assistant, tmp_path / "docs", documents)
    refused = assistant.ask("What is the default high water mark of the websockets Assembler?")
    assert refused.refused, refused.text
    (tmp_path / "docs" / "assembler.txt").write_text(
        documents["assembler.txt"] + "\nmax_queue: the high water mark of the buffer, default 16.\n"
    )
    assistant.ingest()
    answer = answered(assistant, "What is the default high water mark of the websockets Assembler?")
    assert "default 16" in answer.text


def test_words_framing_a_question_are_no_key_terms() -> None:
    """ "Roughly how many..." asks for a number: "roughly" and "many" need not be in the
    evidence, nor "stand" in "What does ADAPTOR stand for?"."""
    from rag.answer import Question

    count = Question.parse("Roughly how many keys does the space-cadet keyboard have?", None)
    assert count.key_terms == ("keys", "space", "cadet", "keyboard")
    assert Question.parse("What does ADAPTOR stand for?", None).key_terms == ("adaptor",)
    # "acronym" names the answer's form beside a term; alone, it is what is asked about.
    assert Question.parse("What does the acronym ONNX stand for?", None).key_terms == ("onnx",)
    assert Question.parse("What is an acronym?", None).key_terms == ("acronym",)
    assert Question.parse("Who came up with the word 'meme'?", None).key_terms == ("word", "meme")
    assert "since" not in Question.parse("Since which release is it stable?", None).key_terms
    example = Question.parse("Which database is given as an example of one using striping?", None)
    assert example.key_terms == ("database", "one", "using", "striping")
    # A meaning is asked for, of what the source says; "the mean" is a thing asked about.
    assert Question.parse("In hacker jargon, what does it mean to handwave?", None).key_terms == (
        "hacker",
        "jargon",
        "handwave",
    )
    assert "mean" in Question.parse("What is the mean of the sample?", None).key_terms
    readme = Question.parse("Which libraries does tmux depend on, according to its README?", None)
    assert readme.key_terms == ("libraries", "tmux", "depend")
    assert "docs" not in Question.parse("What do the docs say of the timeout?", None).key_terms


def test_a_name_inside_an_identifier_is_mentioned(tmp_path, make_assistant) -> None:
    """API docs say "Xet" only inside `_xet.XetSessionHolder`, "LlamaIndex" as
    `llama_index`: the source does mention what the question names."""
    from rag.answer import _in_identifiers

    assert _in_identifiers({"xet"}, "huggingface_hub.utils._xet.XetSessionHolder (class)")
    assert _in_identifiers({"llamaindex"}, "llama_index.core.callbacks (module)")
    assert not _in_identifiers({"xet"}, "the xeta and the alphabet")
    assert not _in_identifiers({"ai"}, "maintained by the team")
    assistant = assistant_over(
        make_assistant,
        tmp_path / "docs",
        {
            "xet.txt": (
                "huggingface_hub.utils._xet.XetSessionHolder (class)\n\n"
                "Holds the session used for uploads and downloads.\n\n"
                "When the process forks, the child process creates a fresh session.\n"
            ),
            "pool.txt": "urllib3.PoolManager (class)\n\nKeeps a pool of connections per host.\n",
        },
    )
    answer = answered(assistant, "What happens to huggingface_hub's Xet session when it forks?")
    assert "fresh session" in answer.text


def _scored(text: str, score: float, coverage: float, context: str = ""):
    import numpy as np

    from rag.answer import ScoredSentence
    from rag.index import StoredSentence

    sentence = StoredSentence("s", "doc.txt", 0, len(text), 0, text, np.zeros(384), text)
    return ScoredSentence(sentence, "doc", score, coverage, context=context or text)


def test_of_two_close_sentences_the_one_naming_the_answer_leads(assistant) -> None:
    """ "Which language is used to define and query an Ode database?": the sentence with
    "OQL" scored a hair under one without a name; it leads. A sentence naming something
    else beside "models" does not lead when it never names what the question asks about."""
    from rag.answer import Question

    answerer = assistant.answerer
    terms = assistant.retriever.lexical().topic(SEED_SOURCES)
    question = Question.parse("Which language is used to define and query an Ode database?", None)
    best = _scored("An Ode database is a collection of persistent objects.", 0.60, 1.0)
    named = _scored(
        "It is defined, queried and manipulated using the language OQL.",
        0.58,
        1.0,
        "An Ode database is a collection of persistent objects. It is defined, queried and "
        "manipulated using the language OQL.",
    )
    assert answerer.refusal_reason(question, [best], terms)
    ranked, reason = answerer.lead(question, [best, named], terms)
    assert reason == "" and ranked[0] is named

    moonshot = Question.parse("What is Moonshot's newest model called?", None)
    listed = _scored("Chinese firms such as Alibaba and Moonshot lead in model releases.", 0.6, 1.0)
    other = _scored("The newest models, Mythos and Fable, were blocked last week.", 0.58, 1.0)
    assert not answerer.refusal_reason(moonshot, [other], terms)  # alone, it would answer
    ranked, reason = answerer.lead(moonshot, [listed, other], terms)
    assert reason and ranked[0] is listed


def test_identifiers_and_quoted_terms_are_names(assistant) -> None:
    """ "Which function ... creates the windows?" is answered by `get_window`, "which
    virtual package" by "perl-openssl-abi-x" (a word no dictionary holds, hyphenated) or
    a quoted "legacy": none is capitalised; the plain word "legacy" names nothing."""
    from rag.answer import Question

    answerer = assistant.answerer
    which = Question.parse("Which function is the convenience function for windows?", None)
    assert answerer._names_beside("get_window -- Convenience function for windows.", which, None)
    package = Question.parse("Which virtual package should a Perl module depend on?", None)
    depend = "Depend on the {} virtual package for compatibility."
    assert answerer._names_beside(depend.format('"perl-openssl-abi-x"'), package, None)
    assert answerer._names_beside(depend.format("perl-openssl-abi-x"), package, None)
    assert answerer._names_beside(depend.format('"legacy"'), package, None)
    assert not answerer._names_beside(depend.format("legacy"), package, None)


def test_a_command_line_option_is_a_name(assistant) -> None:
    """ "Which fakeroot option saves the environment?" is answered by "the -s option"; an
    option the question gives ("--save") answers nothing, nor does a dash alone."""
    from rag.answer import Question

    answerer = assistant.answerer
    which = Question.parse("Which fakeroot option saves the environment for later?", None)
    saved = "The environment can be saved for later if you use the {} option to fakeroot."
    assert answerer._names_beside(saved.format("-s"), which, None)
    assert answerer._names_beside(saved.format("--save-file"), which, None)
    assert not answerer._names_beside(saved.format("save"), which, None)
    assert not answerer._names_beside(saved.format("-"), which, None)
    given = Question.parse("Which fakeroot option besides --save keeps the environment?", None)
    assert not answerer._names_beside(saved.format("--save"), given, None)


def test_which_option_is_answered_with_the_option_it_names(tmp_path, make_assistant) -> None:
    """Over a real index, the answer quotes the line naming the option."""
    fakeroot = (
        "fakeroot (Debian package)\n\n"
        "Fakeroot runs a command in an environment where it appears to have root privileges.\n\n"
        "The fakeroot environment can be saved for later use if you use the -s option to "
        "fakeroot.\n"
        "The save option simply saves this list, so later fakeroot invocations can restore "
        "them.\n"
    )
    assistant = assistant_over_readmes(
        make_assistant, tmp_path / "docs", {"fakeroot.txt": fakeroot}
    )
    answer = answered(
        assistant, "Which fakeroot option saves the fakeroot environment so it can be reused later?"
    )
    assert "the -s option" in answer.citations[0].quote, answer.text


def test_a_count_needs_a_number_beside_what_is_counted(assistant) -> None:
    """ "How many levels does the standard define?" is not answered by "DOD standard
    5200.28-STD" nor "How much did a license cost?" by "at least one author"."""
    from rag.answer import Question

    answerer = assistant.answerer
    levels = Question.parse("How many levels does the evaluation standard define?", None)
    assert answerer._number_beside("It divides systems into four levels of trust.", levels)
    assert not answerer._number_beside(
        "The standard 5200.28-STD sets criteria for trusted computer products.", levels
    )
    price = Question.parse("How much did a Netscape Navigator license cost?", None)
    assert not answerer._number_beside(
        "Netscape shares at least one author with Mosaic and needs a license.", price
    )
    assert answerer._number_beside("A license cost 39 dollars.", price)


def test_what_is_x_is_answered_by_what_says_what_x_is(tmp_path, make_assistant) -> None:
    """ "What is iteration in programming?" scored "Iteration in programs is expressed
    using a loop" above the entry's opening, "Repetition of a sequence of instructions";
    a sentence saying what the thing is answers first."""
    from rag.answer import _defined_term

    assert _defined_term("What is D-Bus used for?") == "D-Bus"
    assert _defined_term("What does the Meter class do?") == "Meter class"
    assert _defined_term("What did Lin Yun predict about attackers?") == ""
    assistant = assistant_over(
        make_assistant,
        tmp_path / "docs",
        {
            "iteration.txt": (
                "iteration (FOLDOC entry)\n\n"
                "<programming> Repetition of a sequence of instructions.  A fundamental part "
                "of many algorithms.\n\n"
                "Iteration in programs is expressed using a loop, e.g. in C.\n"
            ),
            "recursion.txt": (
                "recursion (FOLDOC entry)\n\n"
                "<programming> When a function calls itself. Recursion in programs replaces "
                "a loop with a call.\n"
            ),
        },
    )
    answer = assistant.ask("What is iteration in programming?")
    assert answer.text.startswith("<programming> Repetition of a sequence of instructions."), (
        answer.text
    )
    assert_verbatim(assistant, answer)


def test_why_is_answered_with_the_cause_before_the_event(tmp_path, make_assistant) -> None:
    """ "Why did Sun change the name...?" found "Sun changed the name of their system to
    NIS": the event, not its cause, which is the sentence before it."""
    assistant = assistant_over(
        make_assistant,
        tmp_path / "docs",
        {
            "nis.txt": (
                "nis (FOLDOC entry)\n\n"
                "<networking> Network Information Service. Sun's directory service.\n\n"
                'The name "Yellow Pages" is a registered trademark in the United Kingdom of '
                "British Telecommunications plc.  Sun changed the name of their system to NIS, "
                'though the commands still start with "yp".\n'
            ),
            "nfs.txt": "nfs (FOLDOC entry)\n\n<networking> Sun's Network File System.\n",
        },
    )
    answer = answered(assistant, "Why did Sun change the name of Yellow Pages to NIS?")
    assert "registered trademark" in answer.text and "changed the name" in answer.text
    assert answer.citations[0].quote.startswith('The name "Yellow Pages"')
    event = assistant.ask("What did Sun change the name of Yellow Pages to?")
    assert "registered trademark" not in event.text, event.text


def test_a_value_in_the_sentence_after_the_best_is_quoted_with_it(tmp_path, make_assistant) -> None:
    """ "How many levels are defined in the DOD Trusted Computer System Evaluation
    Criteria?": the best sentence names the standard and counts nothing ("standard
    5200.28-STD, December 1985" is no count of levels); the next one, "There are four
    levels, A, B, C, and D.", does, once the best has said what it counts."""
    assistant = assistant_over(
        make_assistant,
        tmp_path / "docs",
        {
            "orange-book.txt": (
                "orange book (FOLDOC entry)\n\n"
                "<security, standard> A standard from the US Government National Computer "
                'Security Council, "Trusted Computer System Evaluation Criteria, DOD standard '
                '5200.28-STD, December 1985" which defines criteria for trusted computer '
                "products.  There are four levels, A, B, C, and D.  Each level adds more "
                "features and requirements.\n"
            ),
            "red-book.txt": (
                "red book (FOLDOC entry)\n\n"
                "<security, standard> The Trusted Network Interpretation of the Orange Book, "
                "for networks.\n"
            ),
        },
    )
    question = "How many levels are defined in the DOD Trusted Computer System Evaluation Criteria?"
    answer = answered(assistant, question)
    assert "four levels" in answer.text
    lead = answer.citations[0]
    assert lead.quote.startswith("<security, standard> A standard") and "four levels" in lead.quote
    assert sum("5200.28-STD" in c.quote for c in answer.citations) == 1  # not quoted twice
    refusal(
        assistant,
        "How many pages does the DOD Trusted Computer System Evaluation Criteria have?",
        "number",
    )


def test_another_name_is_answered_by_an_alias_not_a_proper_name(tmp_path, make_assistant) -> None:
    """ "What is another name for the Lanczos window?" asks for an alias: "also known as
    a sinc window" answers it though it names nothing capitalized; a line that gives the
    window no other name does not."""
    assistant = assistant_over(
        make_assistant,
        tmp_path / "docs",
        {
            "windows.txt": (
                "scipy.signal.windows (module)\n\n"
                "Window functions for filter design and spectral analysis.\n\n"
                "   hann                    -- Hann window\n"
                "   kaiser                  -- Kaiser window\n"
                "   kaiser_bessel_derived   -- Kaiser-Bessel derived window\n"
                "   lanczos                 -- Lanczos window also known as a sinc window\n"
                "   nuttall                 -- Nuttall's minimum 4-term Blackman-Harris window\n"
                "   parzen                  -- Parzen window\n"
                "   taylor                  -- Taylor window\n"
            ),
        },
    )
    answer = answered(assistant, "What is another name for the Lanczos window?")
    assert "sinc window" in answer.citations[0].quote
    refusal(assistant, "What is another name for the Hann window?", "another name")


def test_what_a_sentence_calls_so_is_a_name(tmp_path, make_assistant) -> None:
    """ "What are Han characters called in Korean?": "and Korean (where they are called
    hanja)" names them, in lower case and far from "characters"; a sentence calling
    nothing so names none."""
    assistant = assistant_over_readmes(
        make_assistant,
        tmp_path / "docs",
        {
            "unified han.txt": (
                "unified han (FOLDOC entry)\n\n"
                "<character> (From the Han dynasty.) One of the set of glyphs common to "
                'Chinese (where they are called "hanzi"), Japanese (where they are called '
                "kanji), and Korean (where they are called hanja).\n\n"
                'Han characters are generally described as "ideographic", i.e., '
                "picture-writing.\n\n"
                "Modern Korean, Chinese and Japanese fonts may represent a given Han "
                "character as somewhat different glyphs. In Unicode these differences were "
                "folded, to conserve code positions.\n"
            ),
            "hangul.txt": (
                "hangul (FOLDOC entry)\n\n"
                "<character> The alphabet of Korean, with letters grouped into square "
                "syllable blocks of two to four letters each.\n"
            ),
        },
    )
    quoted_then_refused(
        assistant,
        ("What are Han characters called in Korean?", "hanja"),
        ("What are Hangul syllable blocks called in Korean?", "names none"),
    )


def test_a_dictionary_entry_s_other_names_are_aliases(tmp_path, make_assistant) -> None:
    """'A cable connector shell (Or "gender bender", "gender blender")': a dictionary
    entry gives its other names in parentheses after "Or"; the entry that gives none
    still answers no alias question."""
    assistant = assistant_over_readmes(
        make_assistant,
        tmp_path / "docs",
        {
            "sex changer.txt": (
                "sex changer (FOLDOC entry)\n\n"
                '<hardware> (Or "gender bender", "gender blender", "sex changer") A cable '
                "connector shell with either two male or two female connectors on it, used "
                "to join two cables with the same connector.\n"
            ),
            "null modem.txt": (
                "null modem (FOLDOC entry)\n\n"
                "<hardware> A cable connector which swaps the transmit and receive lines, "
                "used to join two computers without a modem.\n"
            ),
        },
    )
    quoted_then_refused(
        assistant,
        ("What are other names for a 'sex changer' cable connector?", "gender bender"),
        ("What is another name for a null modem cable connector?", "another name"),
    )


def test_how_much_needs_an_amount_of_what_it_measures(tmp_path, make_assistant) -> None:
    """ "How much RAM did the first Power Macintosh ship with?" is not answered by "the
    first Mac to be based on a 64-bit architecture": a number, but none of RAM. The
    measured word counts even capitalised: "7MB of RAM" answers for the 5360."""
    assistant = assistant_over(
        make_assistant,
        tmp_path / "docs",
        {
            "power-mac.txt": (
                "Power Macintosh\n\n"
                "The Power Macintosh line began in 1994. In mid-2003, the Power Mac G5 was "
                "released, the first Mac to be based on a 64-bit architecture.\n"
            ),
            "system-36.txt": (
                "IBM System/36\n\n"
                "The smallest 5362 had 256K of RAM and 30MB of hard disk. The largest 5360 "
                "had 7MB of RAM and 1432MB of hard disk.\n"
            ),
        },
    )
    answer = answered(assistant, "How much RAM did the largest IBM 5360 have?")
    assert "7MB of RAM" in answer.citations[0].quote
    refusal(assistant, "How much RAM did the first Power Macintosh ship with?", "number")


def test_a_model_number_the_source_never_gives_is_not_answered_from_it(
    tmp_path, make_assistant
) -> None:
    """ "What was the clock speed of the IBM System/36 processor?" found "The clock speed
    was initially 1.6 GHz" in a text about the Power Mac G5 and IBM's PowerPC 970: it
    names IBM, never the System/36. A name with a digit in it names one model."""
    assistant = assistant_over(
        make_assistant,
        tmp_path / "docs",
        {
            "power-mac-g5.txt": (
                "Power Mac G5\n\n"
                "The Power Mac G5 used the PowerPC 970 processor made by IBM. The clock speed "
                "was initially 1.6 GHz but a dual 2 GHz system was available in September.\n"
            ),
            "system-36.txt": (
                "IBM System/36\n\n"
                "The IBM System/36 was a minicomputer for small businesses, sold from 1983. "
                "The largest 5360 had 7MB of RAM and 1432MB of hard disk.\n"
            ),
        },
    )
    refusal(assistant, "What was the clock speed of the IBM System/36 processor?", "System/36")
    answer = answered(assistant, "What was the clock speed of the Power Mac G5 processor?")
    assert "1.6 GHz" in answer.text


def test_an_acronym_s_entry_spells_it_out_in_its_opening(tmp_path, make_assistant) -> None:
    """ "What does the name of the SR language stand for?": the entry titled "sr" opens
    with "<language> Synchronizing Resources.", too short a line to rank among the
    sentences about concurrency; it answers. The title's line spells nothing out ("sr
    entry"), and an entry that spells its acronym nowhere still answers nothing."""
    assistant = assistant_over_readmes(
        make_assistant,
        tmp_path / "docs",
        {
            "sr.txt": foldoc_entry(
                "sr",
                "<language> Synchronizing Resources.",
                "A language for concurrent programming.",
                '"Resources" encapsulate processes and the variables they share. '
                '"Operations" provide the primary mechanism for process interaction.',
                '["The SR Programming Language: Concurrency in Practice", G.R. Andrews, '
                "Benjamin/Cummings 1993].",
            ),
            "qp.txt": foldoc_entry(
                "qp",
                "<language> A language for concurrent programming with queues.",
                '["The QP Programming Language: Concurrency in Practice", J. Smith, 1991].',
            ),
        },
    )
    answer = answered(assistant, "What does the name of the SR programming language stand for?")
    assert answer.citations[0].quote == "<language> Synchronizing Resources.", answer.text
    refusal(assistant, "What does the name of the QP programming language stand for?", "letters")


def test_an_entry_s_title_or_last_line_may_give_the_name_asked(tmp_path, make_assistant) -> None:
    """ "What does the abbreviation FPGA stand for?": the entry titled "field-programmable
    gate array" gives the acronym ("(FPGA) A gate array...") and its title spells it out
    ("FPGAs have logic capacity" spells nothing). "What's another word for a display
    hack?": its entry's "Synonym psychedelicware." ranks far below the sentences about
    display hacks, and answers."""
    from rag.answer import _expands

    assert not _expands("FPGA", "As of 1994, FPGAs have logic capacity up to 20K gates")
    assistant = assistant_over_readmes(
        make_assistant,
        tmp_path / "docs",
        {
            "fpga.txt": foldoc_entry(
                "field-programmable gate array",
                "<hardware> (FPGA) A gate array where the logic network can be programmed "
                "into the device after its manufacture. An FPGA consists of an array of "
                "logic elements and programmable interconnect wiring. As of 1994, FPGAs "
                "have logic capacity up to 20K gates.",
            ),
            "display hack.txt": foldoc_entry(
                "display hack",
                "<graphics> A program with the same approximate purpose as a kaleidoscope: "
                "to make pretty pictures. Famous display hacks include munching squares and "
                "smoking clover. Display hacks can also be implemented without programming "
                "by creating text files of escape sequences for a video terminal. The hack "
                "value of a display hack is the aesthetic value of the images times the "
                "cleverness of the algorithm. Synonym psychedelicware.",
            ),
            "hack.txt": foldoc_entry(
                "hack",
                "<jargon> Originally, a quick job that produces what is needed, but not well. "
                "Also, an incredibly good, and perhaps very time-consuming, piece of work.",
            ),
        },
    )
    fpga = answered(assistant, "What does the abbreviation FPGA stand for?")
    assert fpga.citations[0].quote == "field-programmable gate array", fpga.text
    synonym = answered(assistant, "What's another word for a display hack?")
    assert synonym.citations[0].quote == "Synonym psychedelicware.", synonym.text
    refusal(assistant, "What's another word for a hack?", "another name")


def test_an_acronym_is_spelled_out_by_the_initials_of_consecutive_words() -> None:
    from rag.answer import _expands

    assert _expands("ONNX", "Open Neural Network Exchange (ONNX) is an open ecosystem.")
    assert _expands("XML", "It is written in eXtensible Markup Language.")
    assert _expands("SECDED", "Codes for Single Error Correction, Double Error Detection.")
    assert _expands("ECC", 'EDAC, or "error checking and correction", ECC, finds errors.')
    assert not _expands("ONNX", "ONNX is widely supported in many frameworks.")
    assert not _expands("MVS", "It became MVS/SP, then MVS/XA and then MVS/ESA.")
    assert not _expands("NFS", "The network stores files on a server.")
    # Beyond its initial, a word gives the letters that follow it or its capitals; a word
    # not opening with its letter gives one.
    assert _expands("HTML", "Pages are written in HyperText Markup Language.")
    assert _expands("FORTRAN", "The name comes from formula translation.")
    assert _expands("FPGA", "A field-programmable gate array is a chip.")
    assert not _expands("FPGA", "It has lookup table RAMs, flip-flops and programmable wiring.")


def test_kinds_answered_in_words_find_their_sentence(tmp_path, make_assistant) -> None:
    """ "What does ONNX stand for?" is answered by the sentence spelling it out, "Who is
    the Allman style named after?" by "named after Eric Allman", not by the closer
    sentences around them; "Which code is used for SECDED?" by the sentence after the one
    restating the question ("One of the most commonly used is the Hamming code."), and "How
    does aiosqlite avoid blocking?" with "It does this by using a single, shared thread"."""
    assistant = assistant_over(
        make_assistant,
        tmp_path / "docs",
        {
            "onnx.txt": (
                "onnx (Python package)\n\n"
                "# Learn about the ONNX spec\n\n"
                "Open Neural Network Exchange (ONNX) is an open ecosystem that empowers AI "
                "developers to choose the right tools as their project evolves. ONNX is widely "
                "supported and can be found in many frameworks, tools, and hardware. You can "
                "shape the future of ONNX in its working groups.\n"
            ),
            "indent.txt": (
                "indent style (Jargon File entry)\n\n"
                "1TBS Allman style\n\n"
                'The normal style is "Allman style", named after Eric Allman, a Berkeley hacker '
                "who wrote many BSD utilities in it. It resembles normal indent style in Pascal "
                "and ALGOL. Basic indent per level is eight or four spaces.\n"
            ),
            "ecc.txt": (
                "error correction (FOLDOC entry)\n\n"
                "Several codes can perform Single Error Correction, Double Error Detection "
                "(SECDED). One of the most commonly used is the Hamming code. The simplest form "
                "of error detection is a single added parity bit.\n"
            ),
            "aiosqlite.txt": (
                "aiosqlite (Python package)\n\n"
                "aiosqlite allows interaction with SQLite databases on the main AsyncIO event "
                "loop without blocking execution of other coroutines while waiting for queries. "
                "It does this by using a single, shared thread per connection. Cursors are "
                "proxies to the real cursors.\n"
            ),
        },
    )
    onnx = answered(assistant, "What does the acronym ONNX stand for?")
    assert onnx.citations[0].quote.startswith("Open Neural Network Exchange")
    refusal(assistant, "What does the acronym ONNXRT stand for?", "stand for")
    allman = answered(assistant, "Who is the Allman indent style named after?")
    assert "Eric Allman" in allman.citations[0].quote
    hamming = answered(
        assistant,
        "Which error-correcting code is one of the most commonly used for single error "
        "correction, double error detection?",
    )
    assert "Hamming code" in hamming.citations[0].quote
    means = answered(assistant, "How does aiosqlite avoid blocking the event loop?")
    assert "single, shared thread" in means.citations[0].quote


def test_what_which_asks_for_anchors_the_name(assistant) -> None:
    """ "Which RFCs...": the asked noun anchors a name though capitalised; a capitalised
    name in quotes is a name ('Swing Numbers'); a lower-case word no dictionary holds is a
    name beside the asked noun ("the simplejson library"), not elsewhere ("a glitch")."""
    from rag.answer import Question

    answerer = assistant.answerer
    rfcs = Question.parse("Which RFCs describe the data format used by zlib?", None)
    zlib = "The zlib format is described by RFCs (Request for Comments) 1950 to 1952."
    assert answerer._names_beside(zlib, rfcs, None)
    algorithm = Question.parse("Which algorithm computes the factorials of large numbers?", None)
    swing = "It is the fastest algorithm known, using numbers called here the 'Swing Numbers'."
    assert answerer._names_beside(swing, algorithm, None)
    library = Question.parse("Which library is the json module derived from?", None)
    simplejson = "It is derived from a version of the externally maintained simplejson library."
    assert answerer._names_beside(simplejson, library, None)
    technician = Question.parse("What was the name of the technician who fixed the relay?", None)
    assert not answerer._names_beside("A technician solved a glitch in it.", technician, None)


def _answerer_and_terms(assistant):
    """The assistant's answerer and the term statistics of the seed articles."""
    return assistant.answerer, assistant.retriever.lexical().topic(SEED_SOURCES)


def test_a_near_synonym_anchors_a_name_in_the_best_source_for_an_unnamed_subject(
    assistant,
) -> None:
    """ "Who came up with the word 'meme'?": "Richard Dawkins's term" answers it in the
    meme entry, "term" for "word"; a question naming something (Oxford) takes no such
    near synonym."""
    from rag.answer import Question

    answerer, terms = _answerer_and_terms(assistant)
    meme = Question.parse("Who came up with the word 'meme'?", None)
    best = _scored('However, the word "meme" is often misused to mean "meme complex".', 0.56, 0.6)
    said = "Richard Dawkins's term for an idea considered as a replicator."
    dawkins = _scored(said, 0.51, 0.6, f"meme {said}")  # the entry's title: its context
    ranked, reason = answerer.lead(meme, [best, dawkins], terms)
    assert reason == "" and ranked[0] is dawkins
    # Naming a place, the question takes no near synonym: "term" is not "word" there.
    oxford = Question.parse("Who at Oxford came up with the word 'meme'?", None)
    ranked, reason = answerer.lead(oxford, [best, dawkins], terms)
    assert reason and ranked[0] is best


def test_a_name_after_the_best_answers_only_if_it_names_what_is_asked(assistant) -> None:
    """The sentence after the best gives the name the best lacks ("One of the most commonly
    used is the Hamming code."), but "Models like Z.ai's GLM 5.2" after a sentence naming
    Moonshot is not Moonshot's model."""
    from dataclasses import replace

    from rag.answer import Question

    answerer, terms = _answerer_and_terms(assistant)
    moonshot = Question.parse("What is Moonshot's newest model called?", None)
    listed = _scored("Chinese firms such as Alibaba and Moonshot lead in model releases.", 0.6, 1.0)
    after = _scored("Models like Z.ai's GLM 5.2 lead the newest releases.", 0.4, 1.0)
    after = replace(after, sentence=replace(after.sentence, id="t"), before=listed.sentence)
    assert not answerer.refusal_reason(moonshot, [after], terms, strict=True)  # alone
    ranked, reason = answerer.lead(moonshot, [listed, after], terms)
    assert reason and ranked[0] is listed


def test_a_named_after_sentence_leads_with_fewer_asked_words_in_its_source(assistant) -> None:
    """ "named after Eric Allman" leads over "It resembles normal indent style in Pascal"
    in the same entry though it repeats fewer of the question's words: words like "named
    after" are not said by chance. A time is ("a week ago"): for "when", a sentence with
    fewer of the asked words does not lead."""
    from rag.answer import Question

    answerer, terms = _answerer_and_terms(assistant)
    allman = Question.parse("Who is the Allman indent style named after?", None)
    best = _scored("It resembles normal indent style in Pascal and ALGOL.", 0.73, 1.0)
    named = _scored(
        'The normal style is "Allman style", named after Eric Allman, a Berkeley hacker.',
        0.63,
        0.65,
    )
    ranked, reason = answerer.lead(allman, [best, named], terms)
    assert reason == "" and ranked[0] is named
    when = "When was the Beijing Academy of Artificial Intelligence founded?"
    founded = Question.parse(when, None)
    hosted = _scored("The Beijing Academy of Artificial Intelligence hosted the meeting.", 0.7, 1.0)
    ago = "Just over a week ago, I attended a conference in Beijing."
    week = _scored(ago, 0.62, 0.5, f"The Beijing Academy of Artificial Intelligence. {ago}")
    ranked, reason = answerer.lead(founded, [hosted, week], terms)
    assert reason and ranked[0] is hosted


def test_who_asks_for_a_person_not_code_or_a_number(assistant) -> None:
    """ "Who created SQLAlchemy?" is not answered by "# Create a psycopg_pool connection
    pool": an identifier or a version beside the asked word names no one."""
    from rag.answer import Question

    answerer = assistant.answerer
    who = Question.parse("Who created the connection pool?", None)
    assert not answerer._names_beside("# Create a psycopg_pool connection pool", who, None)
    assert not answerer._names_beside("The pool was created in release 1.4.2.", who, None)
    assert answerer._names_beside("The pool was created by Mike Bayer in 2006.", who, None)
    which = Question.parse("Which pool does the connection use?", None)
    assert answerer._names_beside("The connection uses the psycopg_pool pool.", which, None)


# (question, a sentence naming what it asks for, the same without what makes it a name)
_NAME_CASES = [
    # "'mktemp' is subject to race conditions" names the function asked for, though it is
    # not capitalised; "written by `@progrium`" names who wrote it.
    (
        "Which tempfile function is subject to race conditions?",
        "'mktemp' is subject to race conditions and should not be used.",
        "mktemp is subject to race conditions and should not be used.",
    ),
    (
        "Who wrote the original implementation of PyJWT?",
        "Original implementation was written by `@progrium <https://github.com/progrium>`_.",
        "Original implementation was written by `progrium <https://github.com/progrium>`_.",
    ),
    # A quoted phrase, what a signature calls, an identifier made of the question's own
    # words, words with digits, a name with its address after it.
    (
        "Which search strategy avoids solving sub-problems again?",
        'A strategy called "dependency directed backtracking" avoids solving them again.',
        "A strategy called dependency directed backtracking avoids solving them again.",
    ),
    (
        "Which method renders a template piece by piece?",
        "stream(): renders the template piece by piece.",
        "It renders the template piece by piece.",
    ),
    (
        "Which environment variable sets the pytest timeout?",
        "The PYTEST_TIMEOUT environment variable sets the timeout.",
        "The pytest environment variable sets the timeout.",
    ),
    (
        "Which package chooses the default LLVM version?",
        "Thanks to llvm-defaults, each architecture chooses its own version.",
        "Thanks to well-known defaults, each architecture chooses its own version.",
    ),
    (
        "Which package provides the kinit tool?",
        "Install krb5-user to get the kinit tool.",
        "Install the user package to get the kinit tool.",
    ),
    (
        "Which compiler is there for Lambda Prolog?",
        "Zorblax (https://zorblax.example.org/) is a compiler for Lambda Prolog.",
        None,
    ),
    # An identifier the question gives is no answer to it.
    (
        "Which plugin reads the PYTEST_TIMEOUT variable?",
        None,
        "The PYTEST_TIMEOUT variable is read at start.",
    ),
    # A function word is no name, capitalised: '(Or "four colour theorem")'.
    (
        "Who proved the four colour theorem?",
        "The proof of the theorem, due to Appel and Haken, used a computer.",
        '<mathematics> (Or "four colour theorem") The theorem stating that four colours do.',
    ),
]


@pytest.mark.parametrize(("question", "named", "unnamed"), _NAME_CASES)
def test_names_are_told_by_their_marks(
    assistant, question: str, named: str | None, unnamed: str | None
) -> None:
    from rag.answer import Question

    asked = Question.parse(question, None)
    if named is not None:
        assert assistant.answerer._names_beside(named, asked, None)
    if unnamed is not None:
        assert not assistant.answerer._names_beside(unnamed, asked, None)


def test_a_quoted_word_or_an_identifier_does_not_set_what_is_asked() -> None:
    """'What does the word "email" mean in German?' asks for no address, and "For which
    metrics is the predict_with_generate option meant?" for no statement."""
    from rag.answer import _kind

    assert _kind('What does the word "email" mean in German?') != "contact"
    assert _kind("What is the email address of the maintainer?") == "contact"
    assert _kind("For which metrics is the predict_with_generate option meant?") != "said"
    assert _kind("What did Lin Yun predict?") == "said"
    # "state" as a noun asks for no statement; as a verb it does.
    assert _kind("What does the TRANSIENT_FAILURE state of grpc's channel mean?") != "said"
    assert _kind("What did Lin Yun state about attackers?") == "said"


def test_a_year_or_decade_leads_for_when_from_the_same_source(assistant) -> None:
    """ "When did manufacturers integrate MRP with other functions?": "In the late 1970s,
    manufacturers integrated MRP" leads over "This is known as MRP II" in the same source,
    though it repeats fewer of the question's words; a vaguer time ("a week ago") does not
    (test_a_named_after_sentence_leads_with_fewer_asked_words_in_its_source)."""
    from rag.answer import _TIME, Question

    assert _TIME.search("The first such systems were designed in the early 1960s.")
    answerer, terms = _answerer_and_terms(assistant)
    when = Question.parse("When did manufacturers integrate MRP with business functions?", None)
    known = _scored("This integration is known as MRP II among manufacturers.", 0.69, 0.66)
    dated = _scored("In the late 1970s, manufacturers integrated MRP with finance.", 0.68, 0.57)
    ranked, reason = answerer.lead(when, [known, dated], terms)
    assert reason == "" and ranked[0] is dated
    vague = _scored("Some time ago, manufacturers integrated MRP with finance.", 0.68, 0.57)
    ranked, reason = answerer.lead(when, [known, vague], terms)
    assert reason and ranked[0] is known


def test_what_a_named_after_or_a_when_answer_may_look_like() -> None:
    """FOLDOC says "(After Ada Lovelace)" where others say "named after"; "after 1 hour
    of inactivity" tells when, as "a week ago" does."""
    from rag.answer import _EPONYM, _TIME

    assert _EPONYM.search("<language> (After Ada Lovelace) A Pascal-descended language.")
    assert not _EPONYM.search("It failed (after all) to ship.")
    assert _TIME.search("Your Space will go to sleep after 1 hour of inactivity.")


def test_a_number_word_in_the_question_is_found_as_a_digit(assistant) -> None:
    """ "What is the degree of the zero polynomial?" is answered by "the degree of 0"."""
    answerer = assistant.answerer
    weights = {"degree": 1.0, "zero": 1.0}
    assert answerer.coverage(weights, "Note that the degree of 0 is negative infinity.") == 1.0
    assert answerer.coverage(weights, "Note that the degree of 10 is ten.") == 0.5


def test_the_questions_own_words_are_no_value_or_name(assistant) -> None:
    """ "What is zstd's default compression level?" is not answered by "`zstd` is a fast
    compressor" (the question's own word, quoted, is no value), nor "Who is the author of
    tinytag?" by "AUTHORS - the authors of the library" (its own word in capitals)."""
    from rag.answer import _VALUE, Question, _without

    question = "What is zstd's default compression level?"
    assert not _VALUE.search(_without("`zstd` is a fast lossless compressor.", question))
    assert _VALUE.search(_without("`zstd` uses level `3` by default.", question))
    who = Question.parse("Who is the original author of the tinytag library?", None)
    answerer = assistant.answerer
    assert not answerer._names_beside("See AUTHORS - the authors of the library", who, None)
    assert answerer._names_beside("The library's author is Tom Wallroth.", who, None)


def test_a_default_is_a_value_given_as_the_default(assistant) -> None:
    """ "What is the default huber_loss_delta?" is not answered by its type in backticks;
    "defaults to 1.0", "(default=100)" and "timeout=5.0" give a default."""
    from rag.answer import Question

    answerer, terms = _answerer_and_terms(assistant)
    question = Question.parse("What is the default huber_loss_delta in TapasConfig?", None)
    assert question.kind == "default"
    for given, answers in [
        ("huber_loss_delta (`float`, *optional*): Delta used for the regression loss.", False),
        ("huber_loss_delta (`float`, *optional*, defaults to 1.0): Delta of the loss.", True),
        ("huber_loss_delta : float, optional (default=1.0) Delta of the loss.", True),
        ("TapasConfig(huber_loss_delta=1.0): Delta of the regression loss.", True),
    ]:
        item = _scored(given, 0.8, 1.0, f"TapasConfig default {given}")
        reason = answerer.refusal_reason(question, [item], terms)
        assert (reason == "") is answers, (given, reason)


def test_an_import_line_is_no_answer(tmp_path, make_assistant) -> None:
    """ ">>> from scipy.interpolate import BSpline" sits close to any question naming
    BSpline and says nothing about it: it was the whole answer to "Does BSpline extrapolate
    by default?" above the sentence saying it does."""
    assistant = assistant_over(
        make_assistant,
        tmp_path / "docs",
        {
            "bspline.txt": (
                "scipy.interpolate.BSpline (class)\n\n"
                "Univariate spline in the B-spline basis.\n\n"
                "Examples\n--------\n"
                ">>> from scipy.interpolate import BSpline\n"
                ">>> spline = BSpline(t, c, k)\n\n"
                "Outside the base interval, BSpline extrapolates the first and last polynomial "
                "pieces of the B-spline functions active there.\n"
            ),
        },
    )
    answer = answered(assistant, "Does scipy's BSpline extrapolate by default?")
    assert "extrapolates the first and last" in answer.citations[0].quote, answer.text
    assert all("import" not in c.quote for c in answer.citations), answer.text


LAMBDA_PROLOG = (
    "lambda prolog (FOLDOC entry)\n\n"
    "<language> An extension of standard Prolog defined by Dale A. Miller and Gopalan "
    "Nadathur in 1986, in which terms are strongly typed lambda terms.  Clauses are higher "
    "order hereditary Harrop formulas.\n\n"
    "The Prolog/Mali compiler compiles Lambda Prolog for the MALI abstract memory system.\n\n"
    "Teyjus is an implementation of Lambda Prolog.\n"
)
EL_CAMINO = (
    "el camino bignum (FOLDOC entry)\n\n"
    "<humour> The road mundanely called El Camino Real, a road through the San Francisco "
    "peninsula that originally extended all the way down to Mexico City.  El Camino Real "
    "runs right past Stanford University.\n\n"
    "When a hacker from MIT visited Stanford in 1976, he remarked what a long road El Camino "
    'Real was.  Making a pun on "real", he started calling it "El Camino Double Precision" - '
    "but when the hacker was told that the road was hundreds of miles long, he renamed it "
    '"El Camino Bignum", and that name has stuck.\n'
)


def test_a_name_opening_its_sentence_answers_which(tmp_path, make_assistant) -> None:
    """A capital opens every sentence, so an opening word was never taken for a name, and
    "Teyjus is an implementation of Lambda Prolog." did not answer "Can you name an
    implementation of Lambda Prolog?". A capitalised opening word no dictionary holds is a
    name."""
    # Other entries, so that "Teyjus" is not a word of every passage (vocabulary).
    entries = {
        "prolog.txt": "PROgramming in LOGic. A logic programming language invented by Alain "
        "Colmerauer in 1970. Prolog programs are built from clauses and queries.",
        "lisp.txt": "LISt Processing language. A language designed by John McCarthy in 1958 "
        "for symbolic computation with lists.",
        "haskell.txt": "A lazy functional programming language named after the logician "
        "Haskell Curry. Its type system supports type classes.",
        "ml.txt": "Meta Language. A strict functional language with polymorphic type "
        "inference, first used in the LCF theorem prover.",
    }
    documents = {name: f"{name[:-4]} (FOLDOC entry)\n\n{text}\n" for name, text in entries.items()}
    assistant = assistant_over(
        make_assistant, tmp_path / "docs", {"lambda_prolog.txt": LAMBDA_PROLOG, **documents}
    )
    answer = answered(assistant, "Can you name an implementation of Lambda Prolog?")
    assert "Teyjus" in answer.citations[0].quote, answer.text


def test_a_year_may_come_from_a_sentence_saying_less(tmp_path, make_assistant) -> None:
    """ "In what year did the MIT hacker ... give El Camino Real its nickname?" asks for a
    year: the sentence about the nickname covers more of the question and gives none; the
    one before it in the same entry gives 1976 and answers."""
    assistant = assistant_over(make_assistant, tmp_path / "docs", {"bignum.txt": EL_CAMINO})
    answer_quoting(
        assistant,
        'In what year did the MIT hacker visit Stanford and give El Camino Real its "Bignum" '
        "nickname?",
        "1976",
    )


def test_a_maximum_is_a_limit_the_evidence_states(tmp_path, make_assistant) -> None:
    """ "What is the maximum number of devices on a JTAG chain?": "one device's test data
    out pin" is a number beside devices but states no limit; "up to 16 devices" does."""
    chain = (
        "jtag (FOLDOC entry)\n\n"
        "<hardware> A standard interface for testing circuit boards. The data line daisy "
        "chains one device's test data out pin to the test data in pin on the next device "
        "of the JTAG chain.\n"
    )
    answer = answered_once_said(
        make_assistant,
        tmp_path / "docs",
        {"jtag.txt": chain},
        "What is the maximum number of devices that can be daisy-chained on a JTAG chain?",
        "jtag.txt",
        chain.replace("of the JTAG chain.", "of the JTAG chain, up to 16 devices in all."),
    )
    assert "16" in answer.citations[0].quote, answer.text


def test_a_close_sentence_from_a_source_naming_what_is_asked_leads(
    tmp_path, make_assistant
) -> None:
    """ "Which companies were behind the PowerPC Alliance...?": the best sentence, on the
    PowerPC Reference Platform, comes from an entry that never names the Alliance; the
    sentence just under it, from the entry that does, answers (no retrieved title names the
    Alliance, so it is a name the question gives, not a title)."""
    assistant = assistant_over_readmes(
        make_assistant,
        tmp_path / "docs",
        {
            "ppc platform.txt": (
                "powerpc platform (FOLDOC entry)\n\n"
                "<architecture, standard> (PPCP, PReP - PowerPC Reference Platform) An open "
                "system standard, designed by IBM, Apple and Motorola, intended to ensure "
                "compatibility among PowerPC-based systems built by different companies.\n"
            ),
            "powerpc.txt": (
                "powerpc (FOLDOC entry)\n\n"
                "<processor, standard> (PPC) A RISC microprocessor designed to meet a "
                "standard which was jointly designed by Motorola, IBM, and Apple Computer "
                "(the PowerPC Alliance). The PowerPC standard specifies a common instruction "
                "set architecture, allowing anyone to design and fabricate PowerPC "
                "processors.\n"
            ),
        },
    )
    answer = answered(
        assistant,
        "Which companies were behind the PowerPC Alliance that designed the PowerPC standard?",
    )
    assert "PowerPC Alliance" in answer.citations[0].quote, answer.text


_SOBOL_ENGINE = (
    "torch.quasirandom.SobolEngine (class)\n\n"
    "The SobolEngine is an engine for generating (scrambled) Sobol sequences.\n\n"
    "This implementation of the SobolEngine is capable of sampling sequences up to a maximum "
    "dimension of 21201.\n\n"
    "Examples::\n\n"
    "    >>> soboleng = torch.quasirandom.SobolEngine(dimension=5)\n"
    "    >>> soboleng.draw(3)\n"
)


def test_a_stated_maximum_leads_over_an_example_s_value(tmp_path, make_assistant) -> None:
    """ "What is the maximum dimension supported by torch's SobolEngine?": the example
    ">>> soboleng = torch.quasirandom.SobolEngine(dimension=5)" scores best and states no
    limit; "up to a maximum dimension of 21201" just under it answers."""
    folder = tmp_path / "docs"
    assistant = assistant_over_readmes(make_assistant, folder, {"sobol.txt": _SOBOL_ENGINE})
    answer = answered(assistant, "What is the maximum dimension supported by torch's SobolEngine?")
    assert "21201" in answer.citations[0].quote, answer.text


_PIPELINE = (
    "pipeline (FOLDOC entry)\n\n"
    '<architecture> A sequence of functional units ("stages") which performs a task in '
    "several steps, like an assembly line. One stage's output buffer is the next stage's "
    "input buffer, so all the stages work in parallel.\n\n"
    "A synchronous pipeline has a master clock and each stage must complete its work within "
    "one cycle. The minimum clock period is thus determined by the slowest stage.\n\n"
    "Many CPUs are arranged as one or more pipelines, with different stages performing "
    "tasks such as fetch instruction, decode instruction, fetch arguments, arithmetic "
    "operations, store results.\n"
)
_PENTIUM_PRO = (
    "pentium pro (FOLDOC entry)\n\n"
    '<processor> (Known as "P6" during development) Intel\'s successor to the Pentium '
    "processor, generally available 1995-11-01. The P6 has an internal RISC architecture "
    "with a CISC-RISC translator and out-of-order execution. It also features branch "
    "prediction and register renaming, and is superpipelined (14 stages).\n\n"
    "The P6 is made as a two-chip assembly: the first chip is the CPU and the other a "
    "second-level cache. The first version has a clock rate of 133 MHz.\n"
)


def test_a_sentence_from_the_entry_titled_what_is_asked_may_score_lower(
    tmp_path, make_assistant
) -> None:
    """ "How many pipeline stages does the Pentium Pro have?": the pipeline entry's
    sentences on stages score highest but never name the Pentium Pro; "superpipelined (14
    stages)" in the entry titled "pentium pro" answers from further below the best than
    another source's sentence could."""
    assistant = assistant_over_readmes(
        make_assistant,
        tmp_path / "docs",
        {"pipeline.txt": _PIPELINE, "pentium pro.txt": _PENTIUM_PRO},
    )
    answer = answered(assistant, "How many pipeline stages does the Pentium Pro have?")
    assert "14 stages" in answer.citations[0].quote, answer.text


def test_in_what_year_asks_for_a_year(tmp_path, make_assistant) -> None:
    """ "Who created COMAL, and in what year?" asks for a year: "in 1973" answers without
    the word "year", and "7.5 million transistors" is no year (though "7.5" reads as a day
    and a month)."""
    from rag.answer import Question

    assert "year" not in Question.parse("Who created COMAL, and in what year?", None).key_terms
    assistant = assistant_over_readmes(
        make_assistant,
        tmp_path / "docs",
        {
            "comal.txt": foldoc_entry(
                "comal",
                "<language> (COMAL) A programming language for beginners created by Borge "
                "Christensen in 1973 and popular in Europe.",
            ),
            "pentium ii.txt": foldoc_entry(
                "pentium ii",
                "<processor> Intel's successor to the Pentium Pro. Intel released the Pentium "
                "II processor with about 7.5 million transistors, packaged on a daughterboard "
                "that plugs into a card-edge processor slot.",
            ),
        },
    )
    quoted_then_refused(
        assistant,
        ("Who created the COMAL programming language, and in what year?", "1973"),
        ("In what year did Intel release the Pentium II processor?", "year"),
    )


def test_a_price_is_a_sum_of_money_for_the_model_asked(tmp_path, make_assistant) -> None:
    """ "How much did an IBM 704 cost?": "32k words" is no price, and "the Advanced 36 for
    $9,000" is another machine's, from a text that never names the 704."""
    assistant = assistant_over(
        make_assistant,
        tmp_path / "docs",
        {
            "ibm_704.txt": (
                "IBM 704 (FOLDOC entry)\n\n"
                "The first computer from IBM with floating-point arithmetic, introduced in "
                "1954. The 704 and the IBM 709 represented a step forward from the IBM 650's "
                "drum storage, with core memory of up to 32k words.\n"
            ),
            "system_36.txt": (
                "IBM System/36 (FOLDOC entry)\n\n"
                "A mid-range computer introduced in 1983, popular for its low cost. In 1994, "
                "IBM introduced the Advanced 36 for $9,000.\n"
            ),
        },
    )
    answer = assistant.ask("How much did an IBM 704 cost?")
    assert answer.refused, answer.text


def test_a_value_line_of_the_best_source_may_score_lower(corpus_copy, make_assistant) -> None:
    """'loss : str, default="hinge"' scores low (a short line of jargon) under the
    class's deprecation notice for "What is the default loss of PassiveAggressiveClassifier?"
    (0.15 below it in the mixed index), and covers more of the question: it answers, before
    "C : float, default=1.0", which names less of the question itself."""
    import numpy as np

    from rag.answer import Question, ScoredSentence
    from rag.index import StoredSentence
    from rag.retrieve import TopicTerms

    answerer = make_assistant(corpus_copy).answerer
    question = Question.parse("What is the default loss of PassiveAggressiveClassifier?", None)
    title = "sklearn.linear_model.PassiveAggressiveClassifier (class)"

    def scored(n: int, text: str, score: float, coverage: float) -> ScoredSentence:
        sentence = StoredSentence(f"s{n}", "pa.txt", 0, len(text), 0, text, np.zeros(384), text)
        return ScoredSentence(sentence, title, score, coverage, context=f"{title} {text}")

    ranked = [
        scored(
            0, "The whole class `PassiveAggressiveClassifier` was deprecated in 1.8.", 0.575, 0.49
        ),
        scored(1, "C : float, default=1.0 Aggressiveness parameter.", 0.433, 0.66),
        scored(2, 'loss : str, default="hinge" The loss function to be used.', 0.426, 0.84),
        scored(3, "tol : float, default=1e-3 The stopping criterion.", 0.30, 0.90),
    ]
    terms = TopicTerms(
        size=500.0, df={"default": 60.0, "loss": 8.0, "passiveaggressiveclassifi": 2.0}
    )
    led, reason = answerer.lead(question, ranked, terms)
    assert not reason
    assert led[0].sentence.id == "s2", [r.sentence.text for r in led]


def test_a_line_of_the_best_source_naming_who_may_score_lower(corpus_copy, make_assistant) -> None:
    """ "Which company released GWHIS, the commercial version of NCSA Mosaic for Windows?":
    the entry's opening names no company and scores 0.13 above "GWHIS was released by
    Quadralay Corporation on 30 September 1994." (just past the margin), which covers more
    of the question and names one: it answers. A line of another source does not."""
    import numpy as np

    from rag.answer import MARGIN, Question, ScoredSentence
    from rag.index import StoredSentence
    from rag.retrieve import TopicTerms

    answerer = make_assistant(corpus_copy).answerer
    question = Question.parse(
        "Which company released GWHIS, the commercial version of NCSA Mosaic for Windows?", None
    )

    def scored(n: int, source: str, text: str, score: float, coverage: float) -> ScoredSentence:
        sentence = StoredSentence(f"s{n}", source, 0, len(text), 0, text, np.zeros(384), text)
        return ScoredSentence(sentence, "GWHIS", score, coverage, context=f"GWHIS {text}")

    opening = "<web> A commercial version of NCSA Mosaic for MS Windows 3.x."
    released = "GWHIS was released by Quadralay Corporation on 30 September 1994."
    terms = TopicTerms(size=500.0, df={"gwhis": 1.0, "ncsa": 3.0, "mosaic": 3.0})
    best = scored(0, "gwhis.txt", opening, 0.778, 0.83)
    lower = 0.778 - 1.1 * MARGIN
    led, reason = answerer.lead(
        question, [best, scored(1, "gwhis.txt", released, lower, 1.0)], terms
    )
    assert not reason
    assert led[0].sentence.id == "s1", [r.sentence.text for r in led]
    elsewhere = scored(1, "other.txt", released, lower, 1.0)
    assert answerer.lead(question, [best, elsewhere], terms)[0][0].sentence.id == "s0"


def test_a_statement_in_the_questions_own_word_reports_what_was_said(
    tmp_path, make_assistant
) -> None:
    """ "Which processor cycle did John von Neumann propose?" asks what someone proposed;
    "He also proposed the fetch-execute cycle." reports it in the question's own word,
    though in no word of speech, and leads over a closer sentence reporting nothing."""
    from rag.answer import _reports_asked

    assert _reports_asked("What did the initial predictions say?", "estimated in predictions")
    assert not _reports_asked("Which cycle did he propose?", "He built the cycle.")
    assistant = assistant_over(
        make_assistant,
        tmp_path / "docs",
        {
            "von_neumann.txt": (
                "john von neumann (FOLDOC entry)\n\n"
                "<person> A Hungarian-born mathematician who did pioneering work in quantum "
                "physics, game theory, and computer science.  His ideas led to what is now "
                "often called the von Neumann architecture.  He also proposed the "
                "fetch-execute cycle.\n"
            ),
            "eniac.txt": "ENIAC (FOLDOC entry)\n\nThe first electronic computer.\n",
        },
    )
    answer = answered(assistant, "Which processor cycle did John von Neumann propose?")
    assert "fetch-execute cycle" in answer.citations[0].quote, answer.text


def test_the_term_itself_said_to_be_something_defines_it(tmp_path, make_assistant) -> None:
    """ "What are greenlets?": 'A "greenlet", on the other hand, is a still more primitive
    notion' says what something named with the term is; "Greenlets are lightweight
    coroutines ..." says what the term itself is, and answers first."""
    from rag.answer import _key_terms

    assert _key_terms("What does the term vaxocentrism refer to?") == ("vaxocentrism",)
    assert "term" in _key_terms("What term is used for the US-China AI standoff?")
    assistant = assistant_over(
        make_assistant,
        tmp_path / "docs",
        {
            "greenlet.txt": (
                "greenlet (Python package)\n\n"
                ".. This file is included into docs/history.rst\n\n"
                "Greenlets are lightweight coroutines for in-process concurrent "
                "programming.\n\n"
                'The "greenlet" package is a spin-off of `Stackless`_, a version of CPython '
                'that supports micro-threads called "tasklets".\n\n'
                'A "greenlet", on the other hand, is a still more primitive notion of '
                "micro-thread with no implicit scheduling; coroutines, in other words. This "
                "is useful when you want to control exactly when your code runs.\n\n"
                "Greenlets are provided as a C extension module for the regular unmodified "
                "interpreter.\n"
            ),
        },
    )
    answer = answered(assistant, "What are greenlets?")
    assert answer.citations[0].quote.startswith("Greenlets are lightweight coroutines"), answer.text


ILLIAC = (
    "illiac iv (FOLDOC entry)\n\n"
    "<computer> One of the most infamous supercomputers ever.  It used early ideas on SIMD "
    "(single instruction stream, multiple data streams).  The project started in 1965, it "
    "used 64 processors and a 13MHz clock.\n\n"
    "Its actual performance was 15 MFLOPS, it was estimated in initial predictions to be "
    "1000 MFLOPS.  It totally failed as a computer, only a quarter of the fully planned "
    "machine was ever built, costs escalated from the $8 million estimated in 1966 to $31 "
    "million by 1972, and the computer took three more years of enginering before it was "
    "operational.\n"
)


def test_which_company_asks_for_a_proper_name_not_a_number_or_a_month(
    tmp_path, make_assistant
) -> None:
    """ "Which company manufactured the ILLIAC IV hardware?" was answered with "costs
    escalated from the $8 million estimated in 1966 ...": a company is a proper name, not
    a sum, a year or "November 1997"; and a date is not what separates a person from
    what they did ("perfected on 29 January 1901 by Allen B DuMont")."""
    assistant = assistant_over(
        make_assistant,
        tmp_path / "docs",
        {
            "illiac.txt": ILLIAC,
            "sendmail.txt": (
                "sendmail (FOLDOC entry)\n\n"
                "Simultaneously with the announcement of the company in November 1997, "
                "Sendmail 8.9 was launched, featuring new tools designed to limit junk "
                "e-mail.\n"
            ),
            "eide.txt": (
                "eide (FOLDOC entry)\n\n"
                "<storage> Enhanced IDE was developed by Western Digital as a faster "
                "successor to IDE.\n"
            ),
            "crt.txt": (
                "cathode ray tube (FOLDOC entry)\n\n"
                "The first commercially practical CRT was perfected on 29 January 1901 by "
                "Allen B DuMont.\n"
            ),
        },
    )
    refusal(
        assistant,
        "Which company manufactured the ILLIAC IV hardware?",
        "the question asks which one and the evidence names none beside it",
    )
    refusal(
        assistant,
        "Which company launched Sendmail 8.9?",
        "the question asks which one and the evidence names none beside it",
    )
    answer = answered(assistant, "Which company developed Enhanced IDE?")
    assert "Western Digital" in answer.citations[0].quote, answer.text
    # Nor does a date stand between a person and what they did.
    answer = answered(assistant, "Who perfected the first commercially practical CRT?")
    assert "DuMont" in answer.citations[0].quote, answer.text


def test_what_someone_does_for_a_living_is_who_they_are_said_to_be(assistant) -> None:
    """ "What does Casper do for a living?" was refused ("living" is in no sentence); it
    asks who Casper is, which "Stephen Casper, a computer scientist at MIT, argued ..."
    says in passing, ahead of closer sentences about what he said."""
    from rag.answer import _key_terms

    assert _key_terms("What does Casper do for a living?") == ("casper",)
    answer = answered(assistant, "What does Casper do for a living?")
    assert answer.citations[0].quote.startswith("Stephen Casper, a computer scientist at MIT"), (
        answer.text
    )


def assistant_over_readmes(make_assistant, folder: Path, documents: dict[str, str]) -> Assistant:
    """An assistant over `documents` and two unrelated READMEs, so that a test document's
    own words are not the collection's vocabulary (a word in most passages is no name)."""
    return assistant_over(make_assistant, folder, {**documents, **_TWO_READMES})


def answered_once_said(
    make_assistant, folder: Path, documents: dict[str, str], question: str, name: str, text: str
) -> Answer:
    """Over `documents` (and two unrelated READMEs), the question is refused while the
    document `name` does not say the answer, and answered once it is rewritten to `text`
    and ingested."""
    assistant = assistant_over_readmes(make_assistant, folder, documents)
    refused = assistant.ask(question)
    assert refused.refused, refused.text
    (folder / name).write_text(text)
    assistant.ingest()
    return answered(assistant, question)


_TWO_READMES = {
    "zsh.txt": "zsh for Debian\n\nThe Z shell reads .zshrc at start.\n\nIt has completion.\n",
    "vim.txt": "vim for Debian\n\nModelines are disabled by default.\n\nSee :help.\n",
}


def test_advice_with_no_one_giving_it_is_not_asked_as_a_statement(tmp_path, make_assistant) -> None:
    """ "Which engine is recommended if ...?" asks which engine, not what someone said: the
    sentence naming it ("I suggest using the gnutls engine") answers."""
    from rag.answer import _kind

    assert _kind("Which crypto engine is recommended for GPL applications?") == "entity"
    assert _kind("Which engine was recommended by the maintainers?") == "said"
    assert _kind("What did Lin Yun recommend?") == "said"
    documents = {
        "cryptlib.txt": (
            "cryptlib for Debian\n\n"
            "When building against cryptlib you can choose the openssl, gnutls or nss engine.\n\n"
            "If your program is licensed under the GNU GPL, I suggest using the gnutls engine. "
            "The nss engine may also be compatible with the GPL.\n"
        ),
        **_TWO_READMES,
        "smartdrv.txt": "SmartDrive\n\nA disk cache for DOS.\n\nIt speeds up reads.\n",
    }
    assistant = assistant_over(make_assistant, tmp_path / "docs", documents)
    answer = answered(
        assistant, "Which cryptlib engine is recommended if my program is licensed under the GPL?"
    )
    assert "gnutls engine" in answer.text


def test_how_to_see_something_is_answered_by_what_shows_it(tmp_path, make_assistant) -> None:
    """ "How can I see the cache statistics?": "Typing CACHER /S at a prompt shows ... a
    hit-and-miss report" speaks of seeing them; a sentence that only says they matter
    does not."""
    question = "How can I see Cacher's hit-and-miss statistics from the DOS prompt?"
    documents = {
        "cacher.txt": (
            "Cacher\n\n"
            "Cacher is a disk cache for DOS.\n\n"
            "The hit-and-miss statistics are crucial for gauging how well Cacher is set up.\n"
        ),
    }
    answer = answered_once_said(
        make_assistant,
        tmp_path / "docs",
        documents,
        question,
        "cacher.txt",
        documents["cacher.txt"]
        + "\nTyping CACHER /S at a DOS prompt shows the cache size and a hit-and-miss report.\n",
    )
    assert "CACHER /S" in answer.text


def test_what_a_closing_colon_introduces_counts_as_said(tmp_path, make_assistant) -> None:
    """ "please cite the Frobnik paper, as follows:" names no paper; the lines it introduces,
    which the answer quotes with it, do."""
    documents = {
        "frobnik.txt": (
            "Frobnik\n\n"
            "Frobnik is a toolkit for frobnicating text.\n\n"
            "If you publish work that uses Frobnik, please cite the Frobnik paper, as follows:\n\n"
            "Smith, Jane and Lee Wong (2011). Fast Frobnication in Practice. Acme Press.\n"
        ),
    }
    assistant = assistant_over_readmes(make_assistant, tmp_path / "docs", documents)
    answer = answered(assistant, "Which paper should I cite if I publish work that uses Frobnik?")
    assert "Fast Frobnication in Practice" in answer.text
    assert "as follows:" in answer.citations[0].quote
    # A list introduced by a sentence saying less of the question answers nothing on its
    # own: any variable listed would do.
    (tmp_path / "docs" / "frobnik.txt").write_text(
        documents["frobnik.txt"]
        + "\nYou can also override the following environment variables:\n\n"
        "- **FROBNIK_LOG** (`str`): whether to log every frobnication.\n"
    )
    assistant.ingest()
    refused = assistant.ask("Which environment variable sets the Frobnik team for the callback?")
    assert refused.refused, refused.text


def test_a_question_about_what_is_raised_needs_an_exception_named(tmp_path, make_assistant) -> None:
    """ "What does make_archive raise if ...?" asks for an exception: a text naming none
    does not answer it, and once it says what is raised, the sentence naming it answers,
    under a closer one about the same tools that names none."""
    from rag.answer import _kind

    assert _kind("What does MutableBase.coerce raise by default?") == "exception"
    assert _kind("What is raised when check is True?") == "exception"
    assert _kind("What does an IndexError raised by a decoder mean?") == "other"
    assert _kind("When does load_lut raise an exception?") != "exception"
    question = (
        "What does packer's make_archive raise if neither the zipfile module nor the zip "
        "utility is available?"
    )
    packer = (
        "packer.archive (module)\n\n"
        "make_archive(name, base_dir): Create an archive of all the files under base_dir.\n\n"
        'Uses either the "zipfile" Python module (if available) or the "zip" utility '
        "(if installed and found on the default search path). "
    )
    documents = {
        "packer.txt": packer + "Returns the name of the archive.\n",
        "loader.txt": (
            "packer.loader (module)\n\n"
            "load(path): Read an archive from path and return its members.\n\n"
            "Members are returned in the order they were stored.\n"
        ),
    }
    answer = answered_once_said(
        make_assistant,
        tmp_path / "docs",
        documents,
        question,
        "packer.txt",
        packer + "If neither tool is available, raises PackerExecError. "
        "Returns the name of the archive.\n",
    )
    assert "PackerExecError" in answer.text


def test_a_lower_case_name_beside_any_word_of_the_asked_phrase_names_it(
    tmp_path, make_assistant
) -> None:
    """ "Which standard library module...?": "the stdlib's argtool module" names it, though
    "module" is the phrase's last word, not the one right after "which"."""
    from rag.answer import _asked_phrase

    assert _asked_phrase("Which standard library module was it copied from?") == [
        "standard",
        "library",
        "module",
    ]
    assert _asked_phrase("Which company manufactured the hardware?") == ["company"]
    documents = {
        "frob.txt": (
            "frob.parser (module)\n\n"
            "This module started out as largely a copy of the stdlib's argtool module, "
            "with the features removed that frob does not need.\n\n"
            "It parses command lines.\n"
        ),
    }
    assistant = assistant_over_readmes(make_assistant, tmp_path / "docs", documents)
    answer = answered(
        assistant, "Which standard library module was frob.parser originally copied from?"
    )
    assert "argtool" in answer.text


def test_a_python_project_is_named_by_its_package_without_py(tmp_path, make_assistant) -> None:
    """PyFrob's documentation says "frob.__version__", never "PyFrob": the source still
    speaks of what the question names."""
    documents = {
        "frob.txt": (
            "frob.version.FrobVersion (class)\n\n"
            "A string with magic powers to compare to both Version and iterables.\n\n"
            "Prior to 1.10.0 frob.__version__ was stored as a str and so many did comparisons "
            "against frob.__version__ as if it were a str.\n"
        ),
    }
    assistant = assistant_over_readmes(make_assistant, tmp_path / "docs", documents)
    answer = answered(assistant, "Before which PyFrob version was frob.__version__ a plain str?")
    assert "1.10.0" in answer.text
    refused = assistant.ask("Before which PyZork version was zork.__version__ a plain str?")
    assert refused.refused, refused.text


def test_a_package_named_in_lower_case_must_be_in_the_source(tmp_path, make_assistant) -> None:
    """ "What is the minimum Python version required by frobkit?": frobkit is a name (no
    dictionary holds it, and a retrieved document is titled with it), so zorbpy's sentence
    about the Python versions zorbpy supports does not answer it."""
    question = "What is the minimum Python version required by frobkit?"
    documents = {
        "frobkit.txt": (
            "frobkit (Python package)\n\n"
            "Style-preserving frobnication for humans.\n\n"
            "frobkit keeps comments, indentation and order.\n"
        ),
        "zorbpy.txt": (
            "zorbpy (Python package)\n\n"
            "The minimum Python version required by zorbpy is the oldest one numpy supports "
            "(Python 3.10).\n"
        ),
    }
    answer = answered_once_said(
        make_assistant,
        tmp_path / "docs",
        documents,
        question,
        "frobkit.txt",
        documents["frobkit.txt"] + "\nfrobkit requires Python 3.8 or later.\n",
    )
    assert "3.8" in answer.text


def test_an_example_call_gives_no_default(tmp_path, make_assistant) -> None:
    """ ">>> m.sample()  # ... with loc=1, scale=2" shows what an example passes, not the
    scale used when none is passed."""
    from rag.answer import _DEFAULT_GIVEN

    # Nor does a command-line option's syntax.
    assert not _DEFAULT_GIVEN.search("The negative levels, specified with `--fast=#`, are fast.")
    assert _DEFAULT_GIVEN.search("timeout=5.0")
    question = "What is the default scale of frob's Gumbel distribution if I don't pass one?"
    gumbel = (
        "frob.distributions.Gumbel (class)\n\n"
        "Samples from a Gumbel distribution.\n\n"
        "Example::\n\n"
        "    >>> m = Gumbel(frob.tensor([1.0]), frob.tensor([2.0]))\n"
        "    >>> m.sample()  # sample from Gumbel distribution with loc=1, scale=2\n"
    )
    documents = {
        "gumbel.txt": gumbel,
    }
    answer = answered_once_said(
        make_assistant,
        tmp_path / "docs",
        documents,
        question,
        "gumbel.txt",
        gumbel + "\nscale (float): Scale parameter of the distribution, default 1.5.\n",
    )
    assert "default 1.5" in answer.text


def test_a_version_question_needs_a_version_number(tmp_path, make_assistant) -> None:
    """ "In which Frobkit version was the key parameter added?" asks for a number: "Added
    the key parameter." gives none, and a line of badges says nothing at all."""
    from rag.answer import _kind

    assert _kind("In which NumPy version was the symbol parameter added?") == "version"
    assert _kind("What is the minimum Python version required by tomlkit?") == "version"
    # A version of a driver may be a name ("ANSI"), not a number.
    assert _kind("Which version of the MySQL ODBC driver should I specify?") == "entity"
    question = "In which Frobkit version was the key parameter added to Frobkit.filter?"
    frobkit = (
        "frobkit.Frobkit (class)\n\n"
        "[Python Versions][python_versions]](https://pypi.org/project/frobkit/) [!\n\n"
        "filter(iterable, key): Filter the items that match.\n\n"
        "Added the key parameter.\n"
    )
    documents = {
        "frobkit.txt": frobkit,
    }
    answer = answered_once_said(
        make_assistant,
        tmp_path / "docs",
        documents,
        question,
        "frobkit.txt",
        frobkit.replace("Added the key parameter.", "Added the key parameter in Frobkit 26.1."),
    )
    assert "26.1" in answer.text


def test_a_line_of_badges_is_too_short_to_answer() -> None:
    """Without its addresses and link labels, "[Python Versions][python_versions]](https://
    pypi.org/project/tomlkit/) [!" is two words: under MIN_SENTENCE_WORDS."""
    from rag.answer import MIN_SENTENCE_WORDS, _prose
    from rag.retrieve import words

    badge = "[Python Versions][python_versions]](https://pypi.org/project/tomlkit/) [!"
    assert words(_prose(badge)) == ["python", "versions"]
    assert len(words(_prose(badge))) < MIN_SENTENCE_WORDS <= len(words(badge))
    assert words(_prose("See https://example.com/docs for all options.")) == [
        "see",
        "for",
        "all",
        "options",
    ]


def test_an_answer_asks_once_per_source_whether_it_names_what_the_question_does(
    assistant,
) -> None:
    """The best sentence and every candidate after it must come from a source naming
    what the question names; that depends on the source alone, so one answer asks it
    once per source (it read and stemmed a whole document for each candidate)."""
    from collections import Counter

    answerer = assistant.answerer
    asked: Counter[tuple[str, str]] = Counter()
    unpatched = answerer._unnamed

    def counted(question, lead, *args):
        asked[(lead.sentence.source, lead.title)] += 1
        return unpatched(question, lead, *args)

    answerer._unnamed = counted
    try:
        answer = assistant.ask("What did Stephen Casper say about the Beijing conference?")
    finally:
        del answerer._unnamed
    assert not answer.refused and asked
    assert max(asked.values()) == 1


_GLOW_CONFIG = (
    "glow.GlowConfig (class)\n\n"
    "GlowConfig(descriptor_dim, depth_confidence, width_confidence, regex_engine, "
    "size_threshold, cache_folder, verbose): the configuration of a Glow keypoint matcher, "
    "which matches the keypoints of two images.\n\n"
    "descriptor_dim (`int`, *optional*, defaults to 256):\n"
    "    The dimension of the descriptors.\n"
    "depth_confidence (`float`, *optional*, defaults to 0.95):\n"
    "    The confidence threshold used to perform early stopping\n"
    "width_confidence (`float`, *optional*, defaults to 0.99):\n"
    "    The confidence threshold used to prune points\n"
    "huber_delta (`float`, *optional*):\n"
    "    Delta parameter used to calculate the regression loss.\n"
    "temperature (`float`, *optional*, defaults to 1.0):\n"
    "    Value used to control the skewness of cell logits probabilities.\n\n"
    "Attributes:\n"
    "    regex_engine: The regex engine to use for pattern validation. Default is 'rust-regex'.\n"
    "    size_threshold: An int specifying the threshold of data size for tensors saved as\n"
    "        external data. It is read only when `save_external` is True. Defaults to 1024.\n"
    "    cache_folder: The folder where the matcher keeps its compiled patterns.\n"
    "    verbose: Whether to log every match. Defaults to False.\n"
)


def test_a_setting_is_quoted_on_to_its_default_in_its_own_entry(tmp_path, make_assistant) -> None:
    """ "What does RAY_SCOPE default to?": a parameter's description names the setting and
    its default stands in the entry's line before it ("depth_confidence (`float`,
    *optional*, defaults to 0.95):") or a sentence or two after it ("Default is
    'rust-regex'."); the answer quotes from one to the other. Never past the next entry's
    line: "Defaults to False" is `verbose`'s default, not the cache folder's, nor is another
    entry's line the default of the parameter a question names, or what a parameter's line
    with no default introduces ("huber_delta (`float`, *optional*):" and the next lines)."""
    from rag.answer import _kind

    assert _kind("What does the RAY_SCOPE environment variable default to?") == "default"
    assert _kind("What does the matcher default to when the folder is missing?") != "default"
    assistant = assistant_over_readmes(
        make_assistant, tmp_path / "docs", {"glow.txt": _GLOW_CONFIG}
    )
    cases = [
        ("What is the default threshold used for early stopping in GlowConfig?", "0.95"),
        ("Which regex engine does GlowConfig use by default for pattern validation?", "rust"),
        (
            "In GlowConfig, what is the default size threshold for tensors saved as external data?",
            "1024",
        ),
    ]
    for question, value in cases:
        answer = answered(assistant, question)
        assert value in answer.citations[0].quote, (question, answer.text)
        spans = sorted((c.source, c.start, c.end) for c in answer.citations)
        overlapping = [(a, b) for a, b in zip(spans, spans[1:]) if a[0] == b[0] and b[1] < a[2]]
        assert not overlapping, answer.text  # what a quote spans is not quoted again
    folder = assistant.ask("Which folder does GlowConfig keep compiled patterns in by default?")
    assert "False" not in folder.text, folder.text
    named = assistant.ask("What is the default max_depth used for early stopping in GlowConfig?")
    assert "0.95" not in named.text, named.text
    refusal(assistant, "What is the default huber_delta in GlowConfig?", "default value")


_SPLITTER_DOCS = (
    "splitter.audio (module)\n\n"
    "split_on_pauses(track, min_pause_len, pause_thresh, keep_pause, seek_step): Returns "
    "list of audio tracks from splitting track on pauses\n\n"
    "track - original splitter.Track() object\n\n"
    "min_pause_len - (in ms) minimum length of a pause to be used for\n"
    "    a split. default: 1000ms\n\n"
    "pause_thresh - (in dBFS) anything quieter than this will be\n"
    "    considered a pause. default: -16dBFS\n\n"
    "seek_step - step size for iterating over the track in ms\n\n"
    "find_pauses(track, min_pause_len, pause_thresh): Returns a list of all pauses.\n\n"
    "pause_thresh - the upper bound for how quiet is a pause. default: -50dBFS\n"
)
_SPLITTER_CLIENT = (
    "splitter.Client (class)\n\n"
    "An HTTP client for the splitter service, with connection pooling and redirects.\n\n"
    "* **max_redirects** - *(optional)* The maximum number of redirect responses\n"
    "that should be followed.\n"
    "* **base_url** - *(optional)* A URL to use as the base when building request URLs.\n"
    "* **trust_env** - *(optional)* Enables or disables usage of environment variables for "
    "configuration, default: True.\n"
)
_SPLITTER_BANNER = (
    "splitter.Banner (class)\n\n"
    "A console renderable to draw a banner across the terminal.\n\n"
    "Args:\n"
    '    title (str, optional): Text to render in the banner. Defaults to "".\n'
    '    style (str, optional): Style of Banner. Defaults to "banner.line".\n'
)


def test_the_default_of_a_named_setting_is_quoted_from_its_entry(tmp_path, make_assistant) -> None:
    """ "What is the default pause_thresh of splitter's split_on_pauses?" under the
    function's line: the entry of the setting named, within the section of its source of
    the function the question names, quoted from its line to its default, two lines below
    the first parameter's default and not the next function's. An entry that gives no
    default before the next entry gives none (the next entry's "default: True" is
    trust_env's)."""
    quantizers = "quantizer.weight_only (module)\n\n" + "".join(
        f"{name}(data, num_bits, group_size): Quantize tensor per group{how}.\n\n"
        "Args:\n"
        "    data (array): tensor to quantize\n"
        f"    group_size (int, optional): how many elements share one scale. Defaults to {n}.\n\n"
        for name, how, n in (
            ("quant_tensor", "", 4),
            ("quant_tensor_k_cpu", " based on k quant", 32),
            ("quant_tensor_k_cuda", " based on k quant", 4),
        )
    )
    assistant = assistant_over_readmes(
        make_assistant,
        tmp_path / "docs",
        {"splitter.txt": _SPLITTER_DOCS, "client.txt": _SPLITTER_CLIENT, "q.txt": quantizers},
    )
    for setting, value in (("pause_thresh", "-16dBFS"), ("min_pause_len", "1000ms")):
        answer = answered(
            assistant, f"What is the default {setting} of splitter's split_on_pauses?"
        )
        quote = answer.citations[0].quote
        assert quote.startswith(setting) and quote.endswith(value), answer.text
        assert len(answer.citations) == len({(c.start, c.end) for c in answer.citations})
        spans = sorted((c.start, c.end) for c in answer.citations if c.source == "splitter.txt")
        assert all(b[0] >= a[1] for a, b in zip(spans, spans[1:])), answer.text
    refusal(assistant, "What is the default seek_step of splitter's split_on_pauses?", "default")
    # find_pauses gives its own pause_thresh default: the function named is the section.
    answer = answered(assistant, "What is the default pause_thresh of splitter's find_pauses?")
    assert answer.citations[0].quote.endswith("-50dBFS"), answer.text
    # The same entry line under three functions: the one the question names gives it.
    answer = answered(
        assistant,
        "What is the default group_size for quant_tensor_k_cpu in quantizer's weight-only "
        "quantization?",
    )
    assert answer.citations[0].quote.endswith("Defaults to 32."), answer.text
    refusal(assistant, "What is the default max_redirects of a splitter Client?", "default")


def test_a_default_in_another_setting_s_entry_is_no_answer(tmp_path, make_assistant) -> None:
    """'Defaults to "banner.line".' in the entry 'style (str, optional): Style of
    Banner.' is the style's default: "What is the default width of a splitter banner?" is
    refused, the style's is answered."""
    assistant = assistant_over_readmes(
        make_assistant, tmp_path / "docs", {"banner.txt": _SPLITTER_BANNER}
    )
    refusal(assistant, "What is the default width of the splitter banner?", "another entry's")
    style = answered(assistant, "What is the default style of the splitter banner?")
    assert "banner.line" in style.citations[0].quote, style.text


def test_the_default_of_a_named_setting_is_said_of_it(assistant) -> None:
    """ "What is the default value of backoff_max in urllib3's Retry?": "If ``None``
    (default) will retry 3 times" gives the default of `total`; the evidence, its entry's
    line or the sentence before it must name the setting asked about. A setting named before
    the question asks ("In qnn_preprocess_model, what is the default size threshold?") is
    where, not what."""
    from rag.answer import Question

    answerer, terms = _answerer_and_terms(assistant)
    question = Question.parse("What is the default value of backoff_max in urllib3's Retry?", None)
    assert question.kind == "default"
    other = _scored("If ``None`` (default) will retry 3 times, see ``Retry.DEFAULT``.", 0.7, 0.7)
    assert "another setting" in answerer.refusal_reason(question, [other], terms)
    named = _scored("backoff_max (float): the longest sleep. Defaults to 120.", 0.7, 0.7)
    assert not answerer.refusal_reason(question, [named], terms)
    where = Question.parse(
        "In onnxruntime's qnn_preprocess_model, what is the default size threshold?", None
    )
    size = _scored("size_threshold: An int specifying the size. Defaults to 1024.", 0.7, 0.7)
    assert not answerer.refusal_reason(where, [size], terms)


def test_who_made_it_is_answered_by_a_lower_line_of_its_source_saying_by_whom(assistant) -> None:
    """ "Who came up with the metaphone algorithm?": "Metaphone was developed by Lawrence
    Philips" scores 0.14 under a sentence of the same entry that names no one, and shares
    one asked word with the question ("developed by" answers "came up with"); it leads. Not
    from another source, nor from further below than twice the margin."""
    from dataclasses import replace

    from rag.answer import MARGIN, Question, _kind

    answerer, terms = _answerer_and_terms(assistant)
    question = Question.parse("Who came up with the metaphone algorithm?", None)
    assert _kind(question.text) == "entity"
    best = _scored(
        "The higher accuracy doesn't come free, though, metaphone requires more power.", 0.77, 1.0
    )
    maker = _scored("Metaphone was developed by Lawrence Philips in 1990.", 0.63, 0.55)
    maker = replace(maker, sentence=replace(maker.sentence, id="maker"))
    led, reason = answerer.lead(question, [best, maker], terms)
    assert not reason and led[0].sentence.id == "maker", (reason, led[0].sentence.text)
    elsewhere = replace(maker, sentence=replace(maker.sentence, source="other.txt"))
    assert answerer.lead(question, [best, elsewhere], terms)[0][0] is best
    far = replace(maker, score=0.77 - 2.5 * MARGIN)
    assert answerer.lead(question, [best, far], terms)[0][0] is best
    # Who keeps it up is asked and said the same way.
    keeps = Question.parse("Who currently maintains libxcrypt?", None)
    best = _scored("libxcrypt is a modern library for one-way hashing of passwords.", 0.67, 0.75)
    keeper = _scored(
        "libxcrypt is currently maintained by Björn Esser and Zack Weinberg.", 0.62, 0.6
    )
    keeper = replace(keeper, sentence=replace(keeper.sentence, id="keeper"))
    led, reason = answerer.lead(keeps, [best, keeper], terms)
    assert not reason and led[0].sentence.id == "keeper", (reason, led[0].sentence.text)


def _tokenizer_docstring(module: str, name: str, pad: str) -> str:
    return (
        f"transformers.models.{module}.tokenization_{module}.{name}Tokenizer (class)\n\n"
        f"Construct a {name} tokenizer.\n\n"
        "Args:\n"
        "    vocab_file (`str`):\n"
        "        Path to the vocabulary file.\n"
        f'    pad_token (`str`, *optional*, defaults to `"{pad}"`):\n'
        "        The token used for padding, for example when batching sequences of different"
        " lengths.\n"
        '    unk_token (`str`, *optional*, defaults to `"<unk>"`):\n'
        "        The unknown token.\n"
    )


def test_a_default_repeated_across_classes_is_the_named_class_s(tmp_path, make_assistant) -> None:
    """Docstrings repeat a parameter's text from class to class with other defaults: "What
    is the default padding token of the FastSpeech2Conformer tokenizer?" is answered from
    that class's entry ("<blank>"), quoted from its line, not from the SigLIP or Funnel copy
    ranked above it, though the class's own best sentence ("Construct a ... tokenizer.")
    gives no default."""
    documents = {
        "siglip.txt": _tokenizer_docstring("siglip", "Siglip", "</s>"),
        "funnel.txt": _tokenizer_docstring("funnel", "Funnel", "<pad>"),
        "fs2c.txt": _tokenizer_docstring(
            "fastspeech2_conformer", "FastSpeech2Conformer", "<blank>"
        ),
    }
    assistant = assistant_over_readmes(make_assistant, tmp_path / "docs", documents)
    answer = answered(
        assistant, "What is the default padding token of the FastSpeech2Conformer tokenizer?"
    )
    first = answer.citations[0]
    assert first.source == "fs2c.txt" and "<blank>" in first.quote, answer.text
    assert "</s>" not in answer.text and "<pad>" not in answer.text, answer.text


def test_of_lower_values_the_one_about_what_the_question_names_leads(assistant) -> None:
    """The best sentence ("Construct a FastSpeech2Conformer tokenizer.") gives no default;
    of the lower descriptions within the margin quoted on to their entry's default, the one
    from the class the question names leads, though XGLM's copy scores higher."""
    from dataclasses import replace

    from rag.answer import Question

    answerer, terms = _answerer_and_terms(assistant)
    question = Question.parse(
        "What is the default padding token of the FastSpeech2Conformer tokenizer?", None
    )

    def described(source: str, pad: str, score: float, title: str):
        text = "The token used for padding."
        item = _scored(text, score, 0.63, f"{title} pad_token: {text}")
        line = f'pad_token (`str`, *optional*, defaults to `"{pad}"`):'
        entry = replace(item.sentence, id=f"{source}-entry", text=line, meaning=line)
        return replace(
            item, sentence=replace(item.sentence, id=source, source=source), before=entry
        )

    best = _scored(
        "Construct a FastSpeech2Conformer tokenizer.",
        0.69,
        0.6,
        "FastSpeech2ConformerTokenizer Construct a FastSpeech2Conformer tokenizer.",
    )
    best = replace(best, sentence=replace(best.sentence, source="fs2c.txt"))
    xglm = described("xglm.txt", "<pad>", 0.61, "XGLMTokenizer")
    own = described("fs2c.txt", "<blank>", 0.57, "FastSpeech2ConformerTokenizer")
    led, reason = answerer.lead(question, [best, xglm, own], terms)
    assert not reason and led[0].sentence.source == "fs2c.txt", (reason, led[0].sentence.id)
    assert led[0].lead_from is not None and "<blank>" in led[0].lead_from.text


def test_an_instruction_with_a_literal_says_how_in_its_own_verbs(assistant) -> None:
    """ "How do I turn off input validation...?" is answered by "Pass ``'skip_all'`` to
    avoid the computational overhead of these checks" and "how can I open the connection
    directly?" by "you can call the `.enter()` method directly": an instruction giving
    what to use. Not one without a literal, nor one saying little of the question."""
    from rag.answer import Question

    answerer, terms = _answerer_and_terms(assistant)
    question = Question.parse(
        "How do I turn off input validation in UnivariateDistribution to avoid its overhead?",
        None,
    )
    assert question.kind == "how-to"
    passed = "Pass ``'skip_all'`` to avoid the computational overhead of these checks."
    assert not answerer.refusal_reason(question, [_scored(passed, 0.6, 0.7)], terms)
    called = "If it does not fit, you can call the `.enter()` method directly to validate input."
    assert not answerer.refusal_reason(question, [_scored(called, 0.6, 0.7)], terms)
    for text, coverage in [
        ("Pass it along to avoid the computational overhead of these checks.", 0.7),
        (passed, 0.4),
        ("Validation avoids ``'nan'`` results and the overhead of later checks.", 0.7),
    ]:
        reason = answerer.refusal_reason(question, [_scored(text, 0.6, coverage)], terms)
        assert "how to do something" in reason, (text, reason)


_SPECIFIER_DOC = (
    "packaging.specifiers.Specifier (class)\n\n"
    "filter(iterable, prereleases, key): Filter items in the given iterable.\n\n"
    "key\n"
    "    A callable that takes a single argument and returns a version string.\n\n"
    ".. versionchanged:: 26.1\n\n"
    "    Added the ``key`` parameter.\n\n"
    "`linenos`\n"
    "    If set to ``'table'``, output line numbers as a table.\n\n"
    "    .. versionadded:: 2.18\n\n"
    ":param complete_var: Name of the environment variable.\n\n"
    ".. versionadded:: 8.0\n\n"
    "func_name(): The name of the shell function.\n"
)


def test_a_version_note_is_quoted_with_the_line_it_is_about(assistant) -> None:
    """ "In which release was the key parameter added?": "Added the ``key`` parameter."
    gives no number, the note over it does (".. versionchanged:: 26.1"); an indented
    entry is quoted on to the note closing it. A note at the margin is the whole class's:
    not the version of the `:param` line before it nor of the line after it, but the
    answer to a question naming the class."""
    from dataclasses import replace

    from rag.answer import Question, _names_object, _with_version_note

    answerer, terms = _answerer_and_terms(assistant)
    text = _SPECIFIER_DOC

    def at(sentence: str, score: float = 0.6):
        item = _scored(sentence, score, 0.8)
        start = text.index(sentence)
        return replace(
            item, sentence=replace(item.sentence, start=start, end=start + len(sentence))
        )

    added = _with_version_note(at("Added the ``key`` parameter."), text)
    assert added is not None and added.lead_from.text == ".. versionchanged:: 26.1"
    question = Question.parse("In which packaging release was the key parameter added?", None)
    assert not answerer.refusal_reason(question, [added], terms)
    closed = _with_version_note(at("If set to ``'table'``, output line numbers as a table."), text)
    assert closed is not None and closed.sentence.text == ".. versionadded:: 2.18"
    assert closed.lead_from.text.startswith("If set to")
    complete_var = at(":param complete_var: Name of the environment variable.")
    assert _with_version_note(complete_var, text) is None
    assert _with_version_note(at("func_name(): The name of the shell function."), text) is None
    # For a question about the class itself, its note is the answer.
    of_class = _with_version_note(complete_var, text, of_object=True)
    assert of_class is not None and of_class.sentence.text == ".. versionadded:: 8.0"
    assert _names_object("In which release was Specifier added?", text)
    assert not _names_object("In which release was the key parameter added?", text)


def test_a_version_question_is_answered_from_the_note_over_its_line(
    tmp_path, make_assistant
) -> None:
    """Over a real index: the answer quotes the note and its body as one verbatim span."""
    assistant = assistant_over_readmes(
        make_assistant, tmp_path / "docs", {"specifier.txt": _SPECIFIER_DOC}
    )
    answer = answered(
        assistant, "In which packaging release was the key parameter added to Specifier.filter?"
    )
    first = answer.citations[0]
    assert first.quote.startswith(".. versionchanged:: 26.1"), answer.text
    assert first.quote.endswith("Added the ``key`` parameter."), answer.text


def test_the_kind_of_document_asked_about_is_no_name_its_text_must_give(assistant) -> None:
    """ "According to the base-files FAQ, how long ...?" names a FAQ its own text never
    calls one; "FAQ" or "README" is not a name the source must mention, "Casper" is."""
    from rag.answer import Question

    answerer, terms = _answerer_and_terms(assistant)
    for kind in ["FAQ", "README"]:
        question = Question.parse(
            f"According to the Stephen Casper {kind}, what did he say about models?", None
        )
        names = answerer.names(question, terms)
        assert "casper" in names and not {"faq", "readm", "readme"} & names, names


_REFERENCE_PAGES = {
    "python3.11.txt": (
        "python3.11 (Debian package)\n\n"
        "This is Python version 3.11.2.\n\n"
        "Building a complete Python installation requires the use of various additional "
        "third-party libraries, depending on your build platform and configure options.\n\n"
        "To get an optimized build of Python, ``configure --enable-optimizations`` before "
        "you run ``make``.\n"
    ),
    "gtl.txt": (
        "GTL (FOLDOC entry)\n\n"
        "<electronics> Gunning Transceiver Logic. Therefore, a GTL signal is said to be a "
        "low voltage swing logic signal. The GTL signal swings between 0.4 volts and 1.2 "
        "volts with a reference voltage of about 0.8 volts. Gunning Transceiver Logic has "
        "several advantages.\n"
    ),
    "default.htm.txt": (
        "default.htm (FOLDOC entry)\n\n"
        "<web> The default HTML page served by most web servers in response to a request "
        "for a directory. Most servers use index.html. Microsoft, of course, has to be "
        "different and uses default.htm instead of index.html.\n"
    ),
    "tcl8.6.txt": (
        "tcl8.6 (Debian package)\n\n"
        "README: Tcl\n\n"
        "This is the **Tcl 8.6.13** source distribution. You can get any source release of "
        "Tcl from [our distribution site](https://sourceforge.net/projects/tcl/files/Tcl/). "
        "Detailed release notes can be found at the [file distributions page]"
        "(https://sourceforge.net/projects/tcl/files/Tcl/) by clicking on the relevant "
        "version.\n"
    ),
    "aligned.txt": (
        "nltk.translate.api.AlignedSent (class)\n\n"
        "Return an aligned sentence object, which encapsulates two sentences along with an "
        "Alignment between them.\n\n"
        "Typically used in machine translation to represent a sentence and its translation."
        "\n\n"
        "    >>> from nltk.corpus import comtrans\n"
        "    >>> print(comtrans.aligned_sents()[54])\n"
        "    <AlignedSent: 'Weshalb also sollten...' -> 'So why should EU arm...'>\n"
        "    >>> print(comtrans.aligned_sents()[54].alignment)\n"
        "    0-0 0-1 1-0 2-2 3-4 3-5 4-7 5-8\n\n"
        ":param words: Words in the target language sentence\n\n"
        "invert(): Return the aligned sentence pair, reversing the directionality\n"
    ),
}


def test_what_a_page_says_is_its_content_and_a_measure_or_file_name_is_a_value(
    tmp_path, make_assistant
) -> None:
    """ "Which option does the README say to use" asks what the text says, not for someone's
    statement; "between which voltages" asks for numbers, which a sentence of the best's
    own source gives with fewer of the question's words; a file's name is what "what file
    name ... the default web page" asks for. An example's index is no count."""
    assistant = assistant_over_readmes(make_assistant, tmp_path / "docs", _REFERENCE_PAGES)
    expected = {
        "Which configure option does the Python 3.11 README say to use to get an "
        "optimized build?": "--enable-optimizations",
        "Between which voltages does a Gunning Transceiver Logic (GTL) signal swing?": "0.4 volts",
        "What file name does Microsoft use for the default web page instead of index.html?": (
            "default.htm instead"
        ),
        "Which exact Tcl release is the source distribution described in the tcl8.6 package "
        "README?": "8.6.13",
    }
    for question, part in expected.items():
        answer = answered(assistant, question)
        assert part in answer.citations[0].quote, (question, answer.text)
    refusal(assistant, "How many aligned sentence pairs does nltk's comtrans corpus contain?", "")


def test_the_kind_asked_for_is_read_from_what_the_question_asks() -> None:
    from rag.answer import Question

    def kind(text: str) -> str:
        return Question.parse(text, None).kind

    assert kind("What does FOLDOC say the term 'function key' comes from?") != "said"
    assert kind("Which option does the README say to use?") != "said"
    assert kind("What did Lin Yun say about attackers?") == "said"
    assert kind("Between which voltages does a GTL signal swing?") == "count"
    assert kind("What analogy is used to explain what voltage is?") != "count"
    assert kind("What is the exclamation mark also called?") == "alias"
    assert kind("What is the ASCII code of the exclamation mark, also called 'shriek'?") != (
        "alias"
    )
    assert kind("What license is Ruff released under?") == "license"
    assert kind("Under which license is NetworkX released?") == "license"
    assert kind("What open-source license is Rich distributed under?") == "license"
    assert kind("Which xmlsec engine is recommended if my code is licensed under the GPL?") != (
        "license"
    )
    assert kind("How much did a Netscape Navigator license cost?") == "price"
    assert kind("Which license key does the installer ask for?") != "license"


def test_a_license_question_is_answered_with_a_license(tmp_path, make_assistant) -> None:
    """ "What license is Ruff released under?" is not answered by how Ruff is installed."""
    pages = {
        "ruff.txt": (
            "ruff (Python package)\n\n"
            "An extremely fast Python linter and code formatter, written in Rust.\n\n"
            "Starting with version 0.5.0, Ruff can be installed with our standalone "
            "installers. Ruff is released every week.\n"
        ),
        "uvloop.txt": (
            "uvloop (Python package)\n\n"
            "uvloop is a fast, drop-in replacement of the built-in asyncio event loop.\n\n"
            "uvloop requires Python 3.8 or greater and is available on PyPI.\n\n"
            "uvloop is dual-licensed under MIT and Apache 2.0 licenses.\n"
        ),
    }
    assistant = assistant_over_readmes(make_assistant, tmp_path / "docs", pages)
    refusal(assistant, "What license is Ruff released under?", "asks for a license")
    answer = answered(assistant, "What license is uvloop released under?")
    assert "MIT and Apache 2.0" in answer.citations[0].quote, answer.text


def test_an_example_s_index_is_no_count(assistant) -> None:
    """ "How many aligned sentence pairs does the comtrans corpus contain?": the 54 in
    ">>> print(comtrans.aligned_sents()[54])" picks one pair, it counts none; the same
    number in a sentence is an answer."""
    from rag.answer import Question

    answerer = assistant.answerer
    terms = assistant.retriever.lexical().topic(SEED_SOURCES)
    question = Question.parse("How many aligned sentence pairs does comtrans contain?", None)
    example = _scored(">>> print(comtrans.aligned_sents()[54].alignment)", 0.6, 1.0)
    stated = _scored("The comtrans corpus contains 54 aligned sentence pairs.", 0.6, 1.0)
    assert "asks for a number" in answerer.refusal_reason(question, [example], terms)
    assert not answerer.refusal_reason(question, [stated], terms)


def test_a_reference_names_the_author_of_the_title_it_gives(assistant) -> None:
    """ "Who wrote the report "YACC - Yet Another Compiler Compiler"?": a reference giving the
    title and then a name answers, though neither "wrote" nor "report" stands beside the
    name; the title beside some other name ("and Bison") does not."""
    from rag.answer import Question

    answerer = assistant.answerer
    terms = assistant.retriever.lexical().topic(SEED_SOURCES)
    question = Question.parse(
        'Who wrote the 1975 Bell Labs report "YACC - Yet Another Compiler Compiler"?', None
    )
    cited = _scored(
        '["YACC - Yet Another Compiler Compiler", S.C. Johnson, CS TR 32, Bell Labs (Jul 1975)].',
        0.8,
        1.0,
    )
    beside = _scored('See "YACC - Yet Another Compiler Compiler" and Bison, Bell Labs.', 0.8, 1.0)
    assert not answerer.refusal_reason(question, [cited], terms)
    assert "names none" in answerer.refusal_reason(question, [beside], terms)


def test_a_value_on_the_page_the_question_names_leads(tmp_path, make_assistant) -> None:
    """ "Which minimum version of Automake do I need to build GNU Libtasn1?": tmux's page
    mentions automake closer to the question's words and gives no version; the line of
    Libtasn1's own page giving one answers, though it covers less of the question."""
    pages = {
        "tmux.txt": (
            "tmux (Debian package)\n\n"
            "tmux is a terminal multiplexer. To get and build the latest from version "
            "control - note that this requires autoconf, automake and pkg-config:\n\n"
            "$ git clone https://github.com/tmux/tmux.git $ sh autogen.sh\n"
        ),
        "libtasn1.txt": (
            "libtasn1-6 (Debian package)\n\n"
            "This is GNU Libtasn1, a small ASN.1 library.\n\n"
            "* [Make](https://www.gnu.org/software/make/) * [Automake](https://www.gnu.org/"
            "software/automake/) (use 1.11.3 or later) * [Autoconf](https://www.gnu.org/"
            "software/autoconf/) * [Libtool](https://www.gnu.org/software/libtool/)\n"
        ),
    }
    assistant = assistant_over_readmes(make_assistant, tmp_path / "docs", pages)
    answer = answered(
        assistant, "Which minimum version of Automake do I need to build GNU Libtasn1?"
    )
    assert answer.citations[0].source == "libtasn1.txt", answer.text
    assert "1.11.3" in answer.citations[0].quote


_DTYPES_MODULE = (
    "torch._numpy._dtypes (module)\n\n"
    "Define the scalar types and supported dtypes and numpy <--> torch dtype mappings.\n\n"
    "get_default_dtype(): Get the (global) default dtypes for fp and int.\n\n"
    "The complex default follows the float one.\n\n"
    "set_default_dtype(fp_dtype, int_dtype): Set the (global) defaults for fp, complex, and "
    "int dtypes.\n\n"
    "The complex dtype is inferred from the float (fp) dtype.\n\n"
    'Parameters\n----------\nfp_dtype\n    Allowed values are "numpy" or "pytorch".\n\n'
    "Returns\n-------\nThe old default dtype state: a namedtuple with attributes "
    "``float_dtype``,\n``complex_dtypes`` and ``int_dtype``.\n\n"
    "Notes\n-----\nThis function has a side effect: it sets the global state.\n"
)


def test_what_a_function_returns_is_quoted_from_its_returns_section(
    tmp_path, make_assistant
) -> None:
    """ "What does set_default_dtype return?": its entry line says what it does; its Returns
    section, quoted from the heading, says what comes back. Another function's section is
    not get_default_dtype's."""
    assistant = assistant_over_readmes(
        make_assistant, tmp_path / "docs", {"dtypes.txt": _DTYPES_MODULE}
    )
    answer = answered(assistant, "What does torch._numpy's set_default_dtype return?")
    quote = answer.citations[0].quote
    assert quote.startswith("Returns\n-------\nThe old default dtype state"), answer.text
    assert quote.endswith("``int_dtype``."), quote
    other = assistant.ask("What does torch._numpy's get_default_dtype return?")
    assert "old default dtype state" not in other.text, other.text


def test_what_a_function_raises_is_quoted_from_its_raises_section(tmp_path, make_assistant) -> None:
    """ "What error can EnvSource.prepare_field_value raise in pydantic-settings?": the
    best sentence is another module's, on raising errors; the entry line of the function
    the question names, in a document titled "pydantic_settings...", is close below it,
    and its Raises section, quoted from the heading, answers. A function with no Raises
    section raises nothing the documents say."""
    documents = {
        "env.txt": (
            "pydantic_settings.sources.EnvSource (class)\n\n"
            "Source class for loading settings values from environment variables.\n\n"
            "prepare_field_value(field_name, field, value, value_is_complex): Prepare value "
            "for the field.\n\n"
            "Args:\n"
            "    field: The field.\n"
            "    field_name: The field name.\n\n"
            "Returns:\n"
            "    A tuple contains prepared value for the field.\n\n"
            "Raises:\n"
            "    ValuesError: When there is an error in deserializing value for complex "
            "field.\n\n"
            "explode_env_vars(field_name, field, env_vars): Process env_vars and extract the "
            "values of keys containing env_nested_delimiter into nested dictionaries.\n"
        ),
        "dataclasses.txt": (
            "pydantic._internal._dataclasses (module)\n\n"
            "Private logic for creating pydantic dataclasses.\n\n"
            "complete_dataclass(cls, config_wrapper, raise_errors): Finish building a "
            "pydantic dataclass.\n\n"
            "raise_errors: Whether to raise errors, defaults to `True`.\n"
        ),
    }
    assistant = assistant_over_readmes(make_assistant, tmp_path / "docs", documents)
    answer = answered(
        assistant, "What error can EnvSource.prepare_field_value raise in pydantic-settings?"
    )
    assert answer.citations[0].quote.startswith("Raises:\n    ValuesError"), answer.text
    refusal(
        assistant,
        "What error can EnvSource.explode_env_vars raise in pydantic-settings?",
        "exception",
    )


def test_a_deprecation_is_quoted_from_its_version_note(tmp_path, make_assistant) -> None:
    """ "Since which version is marshmallow.pprint deprecated, and when will it be
    removed?": "removed in marshmallow 4" says when, in versions; the answer quotes from
    the ".. deprecated:: 3.7.0" note it stands under."""
    assistant = assistant_over_readmes(
        make_assistant,
        tmp_path / "docs",
        {
            "utils.txt": (
                "marshmallow.utils (module)\n\n"
                "Utility methods for marshmallow.\n\n"
                "pprint(obj): Pretty-printing function that can pretty-print OrderedDicts "
                "like regular dictionaries.\n\n"
                ".. deprecated:: 3.7.0\n"
                "    marshmallow.pprint will be removed in marshmallow 4.\n\n"
                "from_rfc(datestring): Parse a RFC822-formatted datetime string.\n"
            ),
        },
    )
    answer = answered(
        assistant,
        "Since which version is marshmallow.pprint deprecated, and when will it be removed?",
    )
    quote = answer.citations[0].quote
    assert quote.startswith(".. deprecated:: 3.7.0"), answer.text
    assert quote.endswith("removed in marshmallow 4."), answer.text


def test_a_parameter_named_in_words_is_the_parameter(tmp_path, make_assistant) -> None:
    """Questions name parameters in words: "the default frame rate" is `frame_rate`'s
    ("default frame_rate: 11025" covers it), "the default HTTP proxy timeout" of
    run_forever is its `http_proxy_timeout`, whose entry gives the default two lines below
    the function's line, which scores best."""
    assistant = assistant_over_readmes(
        make_assistant,
        tmp_path / "docs",
        {
            "track.txt": (
                "splitter.audio.Track (class)\n\n"
                "Tracks are immutable objects representing segments of audio.\n\n"
                "silent(duration, frame_rate): Generate a silent audio track. duration "
                "specified in milliseconds (default duration: 1000ms, default frame_rate: "
                "11025).\n\n"
                "track - original splitter.Track() object\n"
            ),
            "app.txt": (
                "wsclient._app.App (class)\n\n"
                "Higher level of APIs are provided. The interface is like JavaScript "
                "WebSocket object.\n\n"
                "run_forever(sockopt, ping_interval, ping_timeout, http_proxy_host, "
                "http_proxy_timeout, reconnect): Run event loop for WebSocket framework.\n\n"
                "Parameters\n"
                "----------\n"
                "ping_timeout: int or float\n"
                "    Timeout (in seconds) if the pong message is not received.\n"
                "http_proxy_host: str\n"
                "    HTTP proxy host name.\n"
                "http_proxy_timeout: int or float\n"
                "    HTTP proxy timeout, default is 60 sec as per python-socks.\n"
                "reconnect: int\n"
                "    Delay interval when reconnecting, default is 5.\n"
            ),
        },
    )
    covered = assistant.answerer.coverage({"frame": 1.0, "rate": 1.0}, "default frame_rate: 11025")
    assert covered == 1.0
    silent = answered(
        assistant,
        "What is the default frame rate of a silent track created with splitter's Track.silent?",
    )
    assert "11025" in silent.citations[0].quote, silent.text
    timeout = answered(
        assistant, "What is the default HTTP proxy timeout in wsclient's App.run_forever?"
    )
    assert timeout.citations[0].quote.startswith("http_proxy_timeout"), timeout.text
    assert "60 sec" in timeout.citations[0].quote, timeout.text


def test_a_lower_case_word_in_the_question_s_open_place_answers(tmp_path, make_assistant) -> None:
    """ "compatible with which language?" is answered by "compatible with awk", "Which
    nerve is compressed?" by "compresses the median nerve": lower-case words, in the place
    the question leaves open. "Which environment variable...?" is not answered by "the
    following environment variables": there the word after "which" is itself a modifier."""
    assistant = assistant_over_readmes(
        make_assistant,
        tmp_path / "docs",
        {
            "backward compatibility.txt": foldoc_entry(
                "backward compatibility",
                "<programming> A system is backward compatible if it can read data made by "
                "its predecessors. It can be said that Perl is backward compatible with awk, "
                "because Perl was intended to replace awk.",
            ),
            "overuse strain injury.txt": foldoc_entry(
                "overuse strain injury",
                "<ergonomics> Damage caused by repeated movements. Carpal tunnel syndrome, "
                "where swelling in your wrist compresses the median nerve.",
            ),
            "readline.txt": (
                "readline for Debian\n\nReadline edits command lines.\n\nThe following "
                "environment variables are read by readline at start.\n"
            ),
        },
    )
    answer_quoting(
        assistant, "Perl is backward compatible with which language?", "compatible with awk"
    )
    quoted_then_refused(
        assistant,
        ("Which nerve is compressed in carpal tunnel syndrome?", "the median nerve"),
        ("Which environment variable sets the editing mode of readline?", "names none"),
    )


def test_dotted_names_and_bracketed_terms_are_names(tmp_path, make_assistant) -> None:
    """ "Usenet newsgroup: news:comp.ai.neural-nets." names the newsgroup asked for, in
    lower case; "(referential transparency)" after what it names is what it is called."""
    assistant = assistant_over_readmes(
        make_assistant,
        tmp_path / "docs",
        {
            "nn.txt": foldoc_entry(
                "nn",
                "<artificial intelligence> A network of many simple processors, each with a "
                "small amount of local memory.",
                "Usenet newsgroup: news:comp.ai.neural-nets.",
            ),
            "functional programming.txt": foldoc_entry(
                "functional programming",
                "<programming> A program in a functional language is a set of function "
                "definitions. An expression can always be replaced by its value without "
                "changing the overall result (referential transparency).",
            ),
        },
    )
    answer_quoting(
        assistant,
        "Which Usenet newsgroup does FOLDOC list for neural networks?",
        "comp.ai.neural-nets",
    )
    answer_quoting(
        assistant,
        "What is it called when an expression can always be replaced by its value "
        "without changing the result?",
        "(referential transparency)",
    )


def test_how_long_is_answered_by_a_duration(tmp_path, make_assistant) -> None:
    """ "How long does a timeout of -1 wait at most?": "about 23 days" says how long,
    though no word of the question stands beside it; "default wait in seconds" gives no
    number, however close to the question's words."""
    assistant = assistant_over_readmes(
        make_assistant,
        tmp_path / "docs",
        {
            "soft.txt": (
                "filelock._soft.SoftFileLock (class)\n\n"
                "Simply watches the existence of the lock file.\n\n"
                ":param timeout: default wait in seconds; a negative timeout waits without end\n"
            ),
            "lock.txt": (
                "filelock._sqlite._lock.ReadWriteLock (class)\n\n"
                "SQLite reader/writer lock. Readers share a transaction.\n\n"
                ":param lock_file: path to the lock database :param timeout: default wait in "
                "seconds. ``-1`` waits up to SQLite's busy-timeout cap of about 23 days "
                ":param blocking: whether to wait when the lock is unavailable\n"
            ),
        },
    )
    quoted_then_refused(
        assistant,
        ("In filelock's SQLite ReadWriteLock, how long does a timeout of -1 wait at most?", "23"),
        ("In filelock's SoftFileLock, how long does a negative timeout wait?", "number"),
    )


def test_a_class_s_version_note_answers_for_the_class(tmp_path, make_assistant) -> None:
    """ ".. versionadded:: 3.21.0" at the margin after a class's last line is the class's:
    it answers "In which version was ReadWriteLock added?", not the same question of a
    parameter; "``-1``" and "23 days" are no version."""
    assistant = assistant_over_readmes(
        make_assistant,
        tmp_path / "docs",
        {
            "lock.txt": (
                "filelock._sqlite._lock.ReadWriteLock (class)\n\n"
                "SQLite reader/writer lock. Readers share a transaction.\n\n"
                ":param lock_file: path to the lock database :param timeout: default wait in "
                "seconds. ``-1`` waits up to SQLite's busy-timeout cap of about 23 days "
                ":param is_singleton: reuse the instance for this resolved path\n\n"
                ".. versionadded:: 3.21.0\n\n"
                "get_lock(lock_file, timeout): Get the singleton lock for this path.\n"
            ),
        },
    )
    quoted_then_refused(
        assistant,
        ("In which filelock version was the SQLite ReadWriteLock added?", "3.21.0"),
        ("In which filelock version was the is_singleton parameter added?", "version"),
    )


def test_a_running_time_is_quoted_from_its_notation(tmp_path, make_assistant) -> None:
    """ "What is the performance of unorderable_list_difference?" asks for a running time:
    "it has O(n*n) performance" answers, though the function's own line says more of the
    question; a source giving no running time is no answer."""
    assistant = assistant_over_readmes(
        make_assistant,
        tmp_path / "docs",
        {
            "util.txt": (
                "unittest.util (module)\n\nVarious utility functions.\n\n"
                "unorderable_list_difference(expected, actual): Same behavior as "
                "sorted_list_difference but for lists of unorderable items (like dicts). As "
                "it does a linear search per item (remove) it has O(n*n) performance.\n\n"
                "safe_repr(obj, short): Return a repr of the object, shortened if asked.\n"
            ),
        },
    )
    quoted_then_refused(
        assistant,
        ("What is the performance of unittest.util's unorderable_list_difference?", "O(n*n)"),
        ("What is the performance of unittest.util's safe_repr?", "running time"),
    )


def test_a_running_time_under_the_function_s_line_leads_from_further_down(assistant) -> None:
    """ "it has O(n*n) performance" scores 0.13 under the function's line and covers less of
    the question: it leads from within twice the margin, under the same function's line;
    not another function's running time."""
    from dataclasses import replace

    from rag.answer import Question

    answerer, terms = _answerer_and_terms(assistant)
    text = (
        "unittest.util (module)\n\n"
        "unorderable_list_difference(expected, actual): Same behavior as sorted_list_difference"
        " but for lists of unorderable items. It has O(n*n) performance.\n\n"
        "sorted_list_difference(expected, actual): Finds elements in only one list. It runs "
        "in linear time.\n"
    )

    def at(sentence: str, score: float, coverage: float):
        item = _scored(sentence, score, coverage, f"unittest.util {sentence}")
        start = text.index(sentence)
        return replace(
            item, sentence=replace(item.sentence, start=start, end=start + len(sentence))
        )

    line = at("unorderable_list_difference(expected, actual): Same behavior", 0.59, 0.77)
    own = at("It has O(n*n) performance.", 0.46, 0.72)
    other = at("It runs in linear time.", 0.55, 0.72)
    question = Question.parse(
        "What is the performance of unittest.util's unorderable_list_difference?", None
    )
    assert question.kind == "complexity"
    reason = answerer.refusal_reason(question, [line], terms)
    assert "running time" in reason
    ranked = answerer._running_time_first(question, [line, other, own], terms, text)
    assert ranked is not None and ranked[0] is own
    assert answerer._running_time_first(question, [line, other], terms, text) is None


def test_a_sentence_says_what_a_term_is_only_of_all_of_it() -> None:
    """ "What is the Sakurai matrix useful for?" asks what the Sakurai matrix is for; "Since
    all matrix entries are small integers, 'int8' is the default dtype" says what a dtype
    is, not the Sakurai matrix: a sentence saying "<...> is a" defines the term only when
    it names all of it."""
    from rag.answer import _defined_term, _definition_rank

    assert _defined_term("What is the Sakurai matrix useful for?") == "Sakurai matrix"
    assert _defined_term("What is tmux and what does it let me do?") == "tmux"
    dtype = "Since all matrix entries are small integers, ``'int8'`` is the default dtype."
    assert _definition_rank("Sakurai matrix", _scored(dtype, 0.4, 0.66)) == 0
    named = "The Sakurai matrix of order n is a banded symmetric matrix."
    assert _definition_rank("Sakurai matrix", _scored(named, 0.4, 0.66)) == 1


def test_a_name_before_what_it_made_says_who(tmp_path, make_assistant) -> None:
    """ "Who wrote the blog post about h11's approach?": "Cory Benfield made an excellent
    blog post" names the maker before the verb, though no word of the question stands
    beside the name; "This made h11 popular" names no one."""
    assistant = assistant_over_readmes(
        make_assistant,
        tmp_path / "docs",
        {
            "h11.txt": (
                "h11 README\n\nh11 is an HTTP/1.1 library written from scratch in Python.\n\n"
                "It is a bring-your-own-I/O library. Cory Benfield made an excellent blog "
                "post describing the benefits of this approach.\n"
            ),
            "wsproto.txt": (
                "wsproto README\n\nwsproto is a WebSocket protocol stack in pure Python.\n\n"
                "Its sans-I/O design was praised in a talk. This made the wsproto talk "
                "popular among library authors.\n"
            ),
        },
    )
    quoted_then_refused(
        assistant,
        ("Who wrote the blog post about the bring-your-own-I/O approach of h11?", "Cory"),
        ("Who wrote the talk praising the sans-I/O design of wsproto?", "names none"),
    )


def test_the_question_s_verb_then_by_names_the_doer(tmp_path, make_assistant) -> None:
    """ "Which component performs the functionality of a data dictionary?": "this
    functionality is performed by the system catalog", the question's own verb and then
    who or what does it, in lower case; "performed by the DBMS" names what the question
    already gives."""
    assistant = assistant_over_readmes(
        make_assistant,
        tmp_path / "docs",
        {
            "data dictionary.txt": foldoc_entry(
                "data dictionary",
                "<database> A data structure holding metadata about a database. In a DBMS, "
                "this functionality is performed by the system catalog.",
            ),
            "query optimiser.txt": foldoc_entry(
                "query optimiser",
                "<database> The part of a database that picks a plan for a query. In a "
                "DBMS, query rewriting is performed by the DBMS itself.",
            ),
        },
    )
    quoted_then_refused(
        assistant,
        (
            "In a DBMS, which component performs the functionality of a data dictionary?",
            "system catalog",
        ),
        ("In a DBMS, which component performs query rewriting?", "names none"),
    )


@pytest.mark.parametrize(
    ("question", "sentence", "fills"),
    [
        (
            "In Hunt the Wumpus, the cave had the topology of which solid's graph?",
            "The wumpus lived in a cave with the topology of an dodecahedron's graph.",
            True,
        ),
        (
            "In Hunt the Wumpus, the cave had the topology of which solid's graph?",
            "The wumpus lived in a hut with the topology of the cave.",
            False,  # "cave" is the question's own word
        ),
        (
            "A logical left shift is like which arithmetic operation?",
            "A left shift moves the bits to more significant positions (like multiplying by two).",
            True,
        ),
        (
            "A logical left shift is like which arithmetic operation?",
            "A left shift moves the bits to more significant positions.",
            False,
        ),
        (
            "What is a typical application for which isochronous communication is suited?",
            "It suits applications where a steady stream matters, e.g. video conferencing.",
            True,
        ),
        (
            "From which model does the Multi-headed Latent Attention come?",
            "Multi-headed Latent Attention (MLA) from Deepseek V2, with rope interleave.",
            True,
        ),
        (
            "From which model does the Multi-headed Latent Attention come?",
            "Multi-headed Latent Attention (MLA) from the model.",
            False,
        ),
        (
            "What is a typical application for which isochronous communication is suited?",
            "It suits applications where a steady stream matters more than accuracy.",
            False,
        ),
        (
            "Which messaging models does the Java Message Service support?",
            "JMS supports the publish/subscribe and point-to-point models of message queues.",
            True,
        ),
        (
            "Which design patterns is SQLAlchemy's ORM built on?",
            "SQLAlchemy provides a suite of well known persistence patterns, designed for speed.",
            False,  # patterns, but not said to be design patterns
        ),
        (
            "Which UDP port does DNS use?",
            "DNS uses the protocol UDP port.",
            False,  # the question's own word before the noun
        ),
        (
            "Which error-correcting code is the most commonly used?",
            "Several codes can perform single error correction.",
            False,  # how many, not which
        ),
        (
            "Which pygments function does lexing and formatting in a single call?",
            "Pygments combines `lex` and `format` in one function.",
            False,  # how many
        ),
    ],
)
def test_a_lower_case_word_fills_the_place_the_question_leaves_open(
    question: str, sentence: str, fills: bool
) -> None:
    """ "of which solid's", "like which operation", "a typical application": the word
    after the question's own words (its possessive too), or after "e.g.", answers."""
    from rag.answer import _fills_slot

    assert _fills_slot(question, sentence, None) is fills


_SOLVER_DOC = (
    "scipy.integrate.RK8 (class)\n\n"
    "Explicit Runge-Kutta method of order 8.\n\n"
    "Parameters\n----------\n"
    "fun : callable\n"
    "    Right-hand side of the system. The calling signature is ``fun(t, y)``.\n"
    "max_step : float, optional\n"
    "    Maximum allowed step size. Default is np.inf, i.e. the step size is not\n"
    "    bounded and determined solely by the solver.\n"
    "rtol, atol : float and array_like, optional\n"
    "    Relative and absolute tolerances. The solver keeps the local error\n"
    "    estimates less than ``atol + rtol * abs(y)``. Here `rtol` controls a\n"
    "    relative accuracy (number of correct digits), while `atol` controls\n"
    "    absolute accuracy (number of correct decimal places). If components of y\n"
    "    have different scales, it might be beneficial to set different `atol`\n"
    "    values for different components. Default values are\n"
    "    1e-3 for `rtol` and 1e-6 for `atol`.\n"
    "vectorized : bool, optional\n"
    "    Whether `fun` is implemented in a vectorized fashion. Default is False.\n"
)


def test_a_default_said_further_down_its_entry_answers(tmp_path, make_assistant) -> None:
    """ "What are the default relative and absolute tolerances?": the entry the best
    sentence stands in ("rtol, atol : ...") says its defaults sentences later, over a line
    break."""
    assistant = assistant_over_readmes(make_assistant, tmp_path / "docs", {"rk8.txt": _SOLVER_DOC})
    answer = answer_quoting(
        assistant,
        "What are the default relative and absolute tolerances of scipy's RK8 solver?",
        "Default values are\n    1e-3 for `rtol`",
    )
    assert "1e-6" in answer.citations[0].quote


def test_the_entry_a_line_stands_in_ends_at_the_next_entry() -> None:
    """The entry of a body line is the nearest line above indented less, when that opens
    an entry; its default is the first sentence of its own body giving one, not the next
    entry's ("Default is False.")."""
    import numpy as np

    from rag.answer import ScoredSentence, _entry_body_default, _entry_line_above
    from rag.index import StoredSentence

    line = _SOLVER_DOC.index("    bounded and determined")
    assert _SOLVER_DOC[_entry_line_above(_SOLVER_DOC, line) :].startswith("max_step")
    assert _entry_line_above("Intro.\n\n    An indented example.\n", 8) is None

    def default_for(sentence: str) -> str | None:
        start = _SOLVER_DOC.index(sentence)
        stored = StoredSentence(
            "s", "rk8.txt", start, start + len(sentence), 0, sentence, np.zeros(384), sentence
        )
        found = _entry_body_default(
            ScoredSentence(stored, "", 0.5, 0.5), "What is the default?", lambda _: _SOLVER_DOC
        )
        return None if found is None else " ".join(found.sentence.text.split())

    assert default_for("The solver keeps the local error") == (
        "Default values are 1e-3 for `rtol` and 1e-6 for `atol`."
    )
    assert default_for("Right-hand side of the system.") is None  # fun's entry gives none
    # Google style: a line opening an entry under "Args:" is its own entry's line.
    google = (
        'Args:\n    nodes (list):\n        The nodes.\n    lang (str):\n        Defaults to "en".\n'
    )
    assert _entry_line_above(google, google.index("    nodes")) == google.index("    nodes")
    assert default_for("Whether `fun` is implemented") == "Default is False."


def test_a_model_number_glued_to_its_name_is_mentioned(tmp_path, make_assistant) -> None:
    """ "an OAuth 2 authorization server": "oauthlib.oauth2.endpoints" names OAuth 2, the
    number glued to the name; a text naming only "OAuth" does not."""
    body = (
        "Authorization endpoint - used by the client to obtain authorization.\n\n"
        'The authorization server MUST support the use of the HTTP "GET" method for the '
        "authorization endpoint.\n"
    )
    question = "Which HTTP method must an OAuth 2 authorization server support?"
    assistant = assistant_over_readmes(
        make_assistant,
        tmp_path / "docs",
        {"ep.txt": f"oauthlib.oauth2.endpoints (class)\n\n{body}"},
    )
    answer_quoting(assistant, question, '"GET" method')
    other = assistant_over_readmes(
        make_assistant, tmp_path / "other", {"ep.txt": f"oauthlib.endpoints (class)\n\n{body}"}
    )
    refusal(other, question, "does not mention 2")


def test_a_number_answers_beside_a_person_and_a_measure_says_how_much(
    tmp_path, make_assistant
) -> None:
    """ "Who coined OLAP, and with how many rules?": "in 1993 with 12 "rules"" gives the
    number, though a date stands between a person and what they did; "How much data can a
    blu-ray disc hold?": "50,000 megabytes", in a unit of data, says how much."""
    assistant = assistant_over_readmes(
        make_assistant,
        tmp_path / "docs",
        {
            "olap.txt": foldoc_entry(
                "OLAP",
                "<database> On-line analytical processing.",
                'The term was originally coined by Dr. Codd in 1993 with 12 "rules".',
            ),
            "floppy.txt": foldoc_entry(
                "floppy disk",
                "<storage> A removable magnetic disk.",
                "Floppy disks were replaced by optical media for their capacity, e.g. 50,000 "
                "megabytes for a dual-layer blu-ray disc.",
            ),
            "powermac.txt": foldoc_entry(
                "Power Macintosh",
                "<computer> Apple's line of PowerPC Macintoshes.",
                "The Power Mac G4 was the first Power Mac to clock at 1 GHz.",
            ),
        },
    )
    answer_quoting(assistant, "Who originally coined the term OLAP, and with how many rules?", "12")
    answer_quoting(assistant, "How much data can a dual-layer blu-ray disc hold?", "50,000")
    # "1 GHz" is no amount of RAM.
    refusal(assistant, "How much RAM did the first Power Mac G4 ship with?", "gives none")


def test_sentences_saying_more_of_the_question_are_quoted_after_the_lead() -> None:
    """Three sentences are quoted at most: within MARGIN of the lead, the one saying the
    "less than the Min" the lead does not comes before higher ones that repeat it; one
    further below stays below, whatever it says."""
    from dataclasses import replace

    from rag.answer import MARGIN, Question, _new_terms_first

    question = Question.parse("What happens when the requested amount is less than the Min?", None)
    lead = _scored("If the requested amount exceeds Max, the request fails.", 0.65, 0.6)
    repeats = _scored("The requested amount is checked by the policy.", 0.64, 0.5)
    says_more = _scored("If the requested amount is less than Min, it is rounded up.", 0.6, 0.8)
    far = _scored("Less than the Min is never allowed.", 0.65 - MARGIN - 0.01, 0.7)
    ordered = _new_terms_first(question, [lead, repeats, far, says_more])
    assert [s.sentence.text for s in ordered] == [
        lead.sentence.text,
        says_more.sentence.text,
        repeats.sentence.text,
        far.sentence.text,
    ]
    # Of another source, it keeps its place: a citation of another document is less
    # likely to be of the one asked about.
    elsewhere = replace(says_more, sentence=replace(says_more.sentence, source="other.txt"))
    ordered = _new_terms_first(question, [lead, repeats, elsewhere])
    assert [s.sentence.source for s in ordered] == ["doc.txt", "doc.txt", "other.txt"]
    assert ordered[1].sentence.text == repeats.sentence.text


def test_descriptions_aliases_conditions_and_lower_case_kinds_answer(
    tmp_path, make_assistant
) -> None:
    """ "Which applications are the most demanding?" is answered by "those where ...";
    '(NII, or "information superhighway")' gives another name; "When is a language
    classified as high level?" asks on what condition, not at what time; "Which
    messaging models" by "the point-to-point models"; "the downside of" a thing is
    rarely called so; "`RAGTOOL_COMPACT_RATIO` (0.5)" gives a setting's default. Each
    with the entry that lacks it refused."""
    assistant = assistant_over(
        make_assistant,
        tmp_path / "docs",
        {
            "graphics.txt": foldoc_entry(
                "graphics",
                "The most demanding applications for computer graphics are those where the "
                "computer generates moving images in real time, especially in video games.",
            ),
            "nii.txt": foldoc_entry(
                "national information infrastructure",
                '<project> (NII, or "information superhighway") Future integrated '
                "communications in the USA.",
            ),
            "language.txt": foldoc_entry(
                "programming language",
                "Languages are classified as low level if they are close to machine code and "
                "high level if each language statement corresponds to many machine code "
                "instructions.",
            ),
            "jms.txt": foldoc_entry(
                "Java Message Service",
                "JMS supports the publish/subscribe and point-to-point models and allows "
                "the creation of message types consisting of arbitrary Java objects.",
            ),
            "settings.txt": (
                "ragtool\n\nWhen an ingest leaves more deleted vectors than "
                "`RAGTOOL_COMPACT_RATIO` (0.5) of the live ones, it rebuilds the collection.\n"
            ),
            "grain.txt": foldoc_entry(
                "coarse grain",
                "The smaller the granularity, the greater the potential for parallelism "
                "and hence speed-up but the greater the overheads of synchronisation and "
                "communication.",
            ),
        },
    )
    asked = {
        "Which computer graphics applications are described as the most demanding?": (
            "moving images"
        ),
        "What is the national information infrastructure (NII) also known as?": (
            "information superhighway"
        ),
        "When is a programming language classified as high level?": "many machine code",
        "Which messaging models does the Java Message Service support?": "point-to-point",
        "In parallel computing, what is the downside of making the granularity smaller?": (
            "overheads"
        ),
        "What is the default RAGTOOL_COMPACT_RATIO that triggers rebuilding the collection?": (
            "(0.5)"
        ),
    }
    for question, fact in asked.items():
        assert fact in answered(assistant, question).citations[0].quote, question
    (tmp_path / "docs" / "graphics.txt").write_text(
        foldoc_entry("graphics", "The most demanding applications for computer graphics are slow.")
    )
    (tmp_path / "docs" / "nii.txt").write_text(
        foldoc_entry(
            "national information infrastructure",
            "<project> (NII) Future integrated communications in the USA.",
        )
    )
    (tmp_path / "docs" / "settings.txt").write_text(
        "ragtool\n\nWhen an ingest leaves more deleted vectors than "
        "`RAGTOOL_COMPACT_RATIO` of the live ones, it rebuilds the collection.\n"
    )
    assistant.ingest()
    refusal(
        assistant,
        "What is the default RAGTOOL_COMPACT_RATIO that triggers rebuilding the collection?",
        "default",
    )
    refusal(
        assistant,
        "Which computer graphics applications are described as the most demanding?",
        "names none beside it",
    )
    refusal(
        assistant,
        "What is the national information infrastructure (NII) also known as?",
        "another name",
    )


def test_what_the_question_judges_the_answer_as_is_no_key_term() -> None:
    """ "the downside of making the granularity smaller": the evidence says "the greater
    the overheads", and in a large collection "downside" would weigh as a rare word."""
    from rag.answer import Question

    terms = Question.parse(
        "In parallel computing, what is the downside of making the granularity smaller?", None
    ).key_terms
    assert "downside" not in terms and "granularity" in terms
    assert "things" not in Question.parse("What two things define a language?", None).key_terms


def test_symbols_standing_alone_name_the_characters_asked_for(tmp_path, make_assistant) -> None:
    """ "Which characters does escape() escape?" - "Escape &, <, and >": no word names them,
    the symbols do; a line that only says "special characters" names none."""
    module = "xml.sax.saxutils (module)\n\nA library of useful helper functions for SAX.\n\n"
    assistant = assistant_over(
        make_assistant,
        tmp_path / "docs",
        {"saxutils.txt": module + "escape(data, entities): Escape &, <, and > in a string.\n"},
    )
    question = "Which characters does xml.sax.saxutils.escape escape?"
    assert "&, <, and >" in answered(assistant, question).citations[0].quote
    (tmp_path / "docs" / "saxutils.txt").write_text(
        module + "escape(data, entities): Escape the special characters in a string - all.\n"
    )
    assistant.ingest()
    refusal(assistant, question, "names none beside it")
