"""The seed articles among unrelated documents: answers and refusals must not depend on what
else happens to be indexed (issue 6's check mixes in about 500 documents; 40 docstring
documents from bench/corpus.py already turn index-wide word statistics round)."""

from __future__ import annotations

import sys

import pytest

from rag.answer import COMMON_IDF
from rag.retrieve import content_words, stems
from tests.support import DOC_000, DOC_002, DOC_003, LIN_YUN_QUESTION, ROOT, copy_corpus

pytestmark = pytest.mark.slow

DISTRACTORS = 40


@pytest.fixture(scope="module")
def mixed(tmp_path_factory: pytest.TempPathFactory):
    from rag import Assistant

    sys.path.insert(0, str(ROOT / "bench"))
    from corpus import write_corpus

    folder = tmp_path_factory.mktemp("mixed")
    corpus = copy_corpus(folder / "corpus")
    generated = write_corpus(DISTRACTORS, corpus)
    assistant = Assistant(corpus_dir=corpus, index_dir=folder / "index")
    report = assistant.ingest()
    assert report.failed == [] and len(report.added) == DISTRACTORS + 3
    return assistant, generated


def _ai(terms) -> float:
    (stem,) = stems("AI", drop=frozenset())
    return terms.idf(stem)


def test_a_word_common_in_the_articles_stays_common_among_unrelated_documents(mixed) -> None:
    mixed, _ = mixed
    lexical = mixed.retriever.lexical()
    # Index-wide, "AI" is now rare: the reason term weights are taken per topic.
    assert _ai(lexical) > COMMON_IDF
    assert _ai(lexical.topic([DOC_000, DOC_002, DOC_003])) < COMMON_IDF
    # One long unrelated document among the retrieved ones does not outvote the articles.
    longest = max(
        (s for s in mixed.index.documents() if s not in (DOC_000, DOC_002, DOC_003)),
        key=lambda s: len(mixed.index.documents()[s].passages),
    )
    assert _ai(lexical.topic([DOC_000, DOC_003, longest, longest])) < COMMON_IDF


def test_seed_questions_are_answered_and_refused_as_without_distractors(mixed) -> None:
    mixed, _ = mixed
    answer = mixed.ask(LIN_YUN_QUESTION)
    assert not answer.refused
    assert any("hackers may gain a near-term advantage" in c.quote for c in answer.citations)
    for citation in answer.citations:
        assert mixed.document_text(citation.source)[citation.start : citation.end] == (
            citation.quote
        )
    # The article says 360 built a model, never what it is called: "AI" beside "model" is
    # vocabulary, not a name.
    named = mixed.ask("What is 360 Security Technologies' hacking model called?")
    assert named.refused, named.text
    author = mixed.ask("Who wrote the Creati.ai article on Chinese AI researchers?")
    assert author.refused, author.text


def test_asking_for_a_date_needs_a_date_not_a_time(assistant) -> None:
    """'Just over a week ago' says when, not on what date."""
    dated = assistant.ask("What was the exact date of the Beijing AI conference?")
    assert dated.refused, dated.text
    assert "date" in dated.note
    when = assistant.ask("When did the author attend the AI conference in Beijing?")
    assert not when.refused, when.note
    assert any("week ago" in c.quote for c in when.citations)


def test_questions_about_the_unrelated_documents_are_answered_from_them(mixed) -> None:
    mixed, generated = mixed
    sources = sorted(s for s in mixed.index.documents() if s.startswith("gen"))
    for source, document in list(zip(sources, generated))[::8]:
        name = document.name.rsplit(".", 1)[-1]
        answer = mixed.ask(f"What is {name}?")
        assert not answer.refused, (name, answer.note)
        assert source in {c.source for c in answer.citations}, (name, answer.text)


@pytest.fixture(scope="module")
def fragments(tmp_path_factory: pytest.TempPathFactory):
    """The seed articles beside one document of short fragments, like a reference manual's
    "model." or "Top models 7." lines: each sits closer to a question about models than
    any full sentence of the articles does."""
    from rag import Assistant

    folder = tmp_path_factory.mktemp("fragments")
    corpus = copy_corpus(folder / "corpus")
    lines = [f"{word} {i}." for i in range(40) for word in ("Model", "Top models", "Models")]
    (corpus / "manual.txt").write_text("Model reference\n\n" + "\n\n".join(lines) + "\n")
    (corpus / "logic-programming.txt").write_text(
        "Logic programming\n\nA logic program searches for every solution to a goal. "
        "Lazy lists of successes replace backtracking on failure, as described in "
        '"How to Replace Failure by a List of Successes", FPCA, September 1985, Nancy, '
        "France, pp. 113-128.\n"
    )
    # "capital" common around it: the rare "France" then carries most key-term weight.
    case = [
        f"Rule {i}: a capital letter starts a {kind}; the capital form of each letter is "
        "listed in the table of capitals, and sorting may treat capital and small letters "
        "alike or put every capital letter first."
        for i, kind in enumerate(["sentence", "name", "title", "heading", "label", "line"])
    ]
    # Questions without content: they share only "what", "did", "how" with any question.
    faq = ["What did they do? Why was it so? How was it? Which was it? Who did it, and when?"]
    faq *= 12
    (corpus / "faq.txt").write_text("Questions\n\n" + "\n\n".join(faq) + "\n")
    (corpus / "letter-case.txt").write_text("Letter case\n\n" + "\n\n".join(case) + "\n")
    assistant = Assistant(corpus_dir=corpus, index_dir=folder / "index")
    assert assistant.ingest().failed == []
    return assistant


def test_a_passage_bm25_ranks_first_is_not_lost_to_fragments_near_the_question(
    fragments,
) -> None:
    """BM25 ranks the Anthropic passages first (rare names); the dense list is full of
    fragments. Fusion scores every candidate on both signals, so the articles come first."""
    question = "Why did Washington step in on Anthropic's top models?"
    lexical = fragments.retriever.lexical().search(" ".join(content_words(question)), 2)
    assert {hit[1] for hit in lexical} <= {DOC_000, DOC_003}  # BM25 alone gets it right
    passages = fragments.retriever.retrieve(question, 6).passages
    assert passages[0].source in (DOC_000, DOC_003), [p.source for p in passages]
    assert passages[1].source in (DOC_000, DOC_003), [p.source for p in passages]


def test_one_word_shared_with_the_question_is_not_evidence(fragments) -> None:
    """ "Capital" in a text about letters, or a passing mention of a rare name ("Nancy,
    France"), shares one word with "the capital of France": a coincidence, not evidence."""
    answer = fragments.ask("What is the capital of France?")
    assert answer.refused, answer.text
    # In a conversation a short question leans on the turns before: not refused for that.
    earlier = "How urgent is the weaponization risk in the Creati.ai table?"
    history = [
        {"role": "user", "content": earlier},
        {"role": "assistant", "content": fragments.ask(earlier).text},
    ]
    follow_up = fragments.ask("And what does that category actually cover?", history=history)
    assert not follow_up.refused, follow_up.note
    assert "autonomous defense systems" in follow_up.text


def test_bm25_ranks_by_what_is_asked_not_by_how_it_is_phrased(fragments) -> None:
    """ "What did ... do?" matches a page of questions word for word; what the question is
    about (Lin Yun, attackers) is what BM25 weighs, so the articles come first."""
    passages = fragments.retriever.retrieve("What did Lin Yun do?", 6)
    sources = [p.source for p in passages.passages]
    assert sources[0] in (DOC_000, DOC_003), sources
    assert all(p.bm25 == 0 for p in passages.passages if p.source == "faq.txt"), sources


def test_the_passage_standing_far_above_the_pool_comes_first(assistant) -> None:
    """Ranks choose the passages; margins order them. The passage saying what Beijing's
    official messaging is focused on stands far above the others on both signals, though
    reciprocal ranks put two passages a hair ahead of it on each first."""
    retrieval = assistant.retriever.retrieve(
        "What is Beijing's official messaging on AI focused on?", 6
    )
    first = retrieval.passages[0]
    assert first.source == DOC_002, [p.source for p in retrieval.passages]
    assert "technological sovereignty" in " ".join(s.text for s in first.sentences)
    scores = [p.score for p in retrieval.passages]
    assert scores == sorted(scores, reverse=True)


def test_margins_put_both_signals_on_one_scale() -> None:
    from rag.retrieve import RetrievedPassage, margins

    pool = [
        RetrievedPassage(f"p{i}", "s", "t", 0, 1, 0.0, dense, bm25)
        for i, (dense, bm25) in enumerate([(0.9, 1.0), (0.5, 30.0), (0.5, 1.0), (0.1, 0.0)])
    ]
    total = margins(pool)
    # BM25 in tens and cosines under one weigh alike once each is measured by its spread.
    assert total["p0"] > total["p2"] > total["p3"]
    assert total["p1"] > total["p2"]
    assert sum(total.values()) == pytest.approx(0.0)


@pytest.fixture(scope="module")
def keywords(tmp_path_factory: pytest.TempPathFactory):
    """The seed articles beside short lines that each repeat words of the question below
    ("key", "event") among kitchen words: BM25 ranks every one of them above the article's
    passage, though none is close to the question in meaning (like API docstrings)."""
    from rag import Assistant

    folder = tmp_path_factory.mktemp("keywords")
    corpus = copy_corpus(folder / "corpus")
    food = ["salt", "broth", "onion", "garlic", "pepper", "carrot"]
    food += ["butter", "flour", "lemon", "basil", "honey", "rice"]
    lines = [f"{food[i % 12]} {i} key, {food[(i + 5) % 12]} key event." for i in range(40)]
    lines += [f"Step {i}: stir the soup, add {i} grams of salt and simmer." for i in range(300)]
    (corpus / "kitchen.txt").write_text("Kitchen notes\n\n" + "\n\n".join(lines) + "\n")
    assistant = Assistant(corpus_dir=corpus, index_dir=folder / "index")
    assert assistant.ingest().failed == []
    return assistant


def test_the_passage_standing_clear_on_meaning_is_kept_against_keyword_lines(keywords) -> None:
    """Fused ranks alone keep six kitchen lines (BM25 first, dense middling) and lose the
    passage naming Whitfield Diffie, far closer to the question than any other."""
    question = "Which public-key crypto pioneer was one of the big names at the event?"
    passages = keywords.retriever.retrieve(question, 6).passages
    # One-line kitchen passages are topped up past six (the evidence budget); the six
    # fusion chose come first.
    assert len(passages) >= 6
    texts = [" ".join(s.text for s in p.sentences) for p in passages]
    assert "Whitfield Diffie" in texts[0], [p.source for p in passages]
    assert sum(p.source == "kitchen.txt" for p in passages[:6]) == 5  # BM25's picks stay


def test_a_dense_lead_of_a_hair_keeps_nothing() -> None:
    from rag.retrieve import RetrievedPassage, standout

    def pool(*cosines: float) -> list[RetrievedPassage]:
        return [
            RetrievedPassage(f"p{i}", "s", "t", 0, 1, 0.0, c, 0.0) for i, c in enumerate(cosines)
        ]

    clear = pool(0.46, 0.33, 0.31, 0.30, 0.2, 0.1)
    assert standout(clear) is clear[0]
    assert standout(pool(0.46, 0.45, 0.31, 0.30, 0.2, 0.1)) is None
    assert standout(pool(0.46)) is None
