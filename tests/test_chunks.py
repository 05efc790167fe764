"""Stage 2: sentences with exact offsets, grouped into passages within a block."""

from __future__ import annotations

from pathlib import Path

import pytest

from rag.chunks import Passage, sentence_spans, split_document, token_counter
from rag.documents import Document, discover, load_catalog, load_document
from tests.support import DOC_002, SEED_SOURCES

BUDGET = 160


@pytest.fixture(scope="module")
def seed_documents(seed_corpus: Path) -> dict[str, Document]:
    catalog = load_catalog(seed_corpus)
    return {
        p.name: load_document(p, seed_corpus, catalog, 20_000_000) for p in discover(seed_corpus)
    }


@pytest.fixture(scope="module")
def seed_passages(seed_documents: dict[str, Document]) -> dict[str, list[Passage]]:
    return {name: split_document(doc, BUDGET) for name, doc in seed_documents.items()}


def is_table_line(line: str) -> bool:
    return line.lstrip().startswith("|")


def test_every_sentence_is_an_exact_trimmed_slice_of_the_document(
    seed_documents: dict[str, Document], seed_passages: dict[str, list[Passage]]
) -> None:
    assert set(seed_passages) == set(SEED_SOURCES)
    for name, passages in seed_passages.items():
        text = seed_documents[name].text
        sentences = [s for p in passages for s in p.sentences]
        assert len(sentences) >= 15, name
        for s in sentences:
            assert text[s.start : s.end] == s.text, (name, s.start, s.end)
            assert s.text == s.text.strip(), (name, s.text)
            assert s.text and not s.text.startswith("|") and not s.text.endswith("|")
            assert s.source == name


def test_sentences_are_ordered_disjoint_and_numbered(
    seed_passages: dict[str, list[Passage]],
) -> None:
    for name, passages in seed_passages.items():
        sentences = [s for p in passages for s in p.sentences]
        assert [s.position for s in sentences] == list(range(len(sentences)))
        assert [p.position for p in passages] == list(range(len(passages)))
        for before, after in zip(sentences, sentences[1:]):
            assert before.end <= after.start, name
        for p in passages:
            assert all(s.passage == p.position for s in p.sentences)
            assert (p.start, p.end) == (p.sentences[0].start, p.sentences[-1].end)


def test_no_text_is_lost_between_sentences(
    seed_documents: dict[str, Document], seed_passages: dict[str, list[Passage]]
) -> None:
    """Whatever lies between two sentences is only whitespace or table furniture."""
    for name, passages in seed_passages.items():
        text = seed_documents[name].text
        sentences = [s for p in passages for s in p.sentences]
        cuts = [0] + [x for s in sentences for x in (s.start, s.end)] + [len(text)]
        for gap_start, gap_end in zip(cuts[::2], cuts[1::2]):
            gap = text[gap_start:gap_end]
            assert set(gap) <= set(" \t\n|-:"), (name, gap)


def test_passages_never_cross_a_blank_line_or_a_line_of_prose(
    seed_documents: dict[str, Document], seed_passages: dict[str, list[Passage]]
) -> None:
    for name, passages in seed_passages.items():
        text = seed_documents[name].text
        for p in passages:
            body = p.text(text)
            assert "\n\n" not in body, (name, body)
            if "\n" in body:
                # Only a markdown table may span lines, and then every line is a row.
                line_start = text.rfind("\n", 0, p.start) + 1
                lines = text[line_start : p.end].split("\n")
                assert all(is_table_line(line) for line in lines), (name, body)


def test_paragraphs_of_the_seed_articles_start_new_passages(
    seed_documents: dict[str, Document], seed_passages: dict[str, list[Passage]]
) -> None:
    for name, passages in seed_passages.items():
        text = seed_documents[name].text
        starts = {p.start for p in passages}
        offset = 0
        for line in text.split("\n"):
            stripped = line.strip()
            if stripped and not is_table_line(line):
                assert offset + line.index(stripped[0]) in starts, (name, line[:60])
            offset += len(line) + 1


@pytest.mark.parametrize("budget", [16, 40, BUDGET])
def test_passage_token_budget_is_respected(
    seed_documents: dict[str, Document], budget: int
) -> None:
    count = token_counter()
    multi = 0
    for name, document in seed_documents.items():
        for p in split_document(document, budget):
            tokens = sum(count(s.text) for s in p.sentences)
            if len(p.sentences) > 1:
                multi += 1
                assert tokens <= budget, (name, budget, p.position, tokens)
    if budget >= 40:
        assert multi > 0  # the budget actually groups sentences


def test_a_smaller_budget_gives_more_passages(seed_documents: dict[str, Document]) -> None:
    for document in seed_documents.values():
        small = split_document(document, 16)
        large = split_document(document, 256)
        assert len(small) > len(large)
        # Regrouping never changes the sentences themselves.
        assert [s.text for p in small for s in p.sentences] == [
            s.text for p in large for s in p.sentences
        ]


def test_markdown_table_rows_of_002_are_their_own_sentences(
    seed_passages: dict[str, list[Passage]],
) -> None:
    texts = [s.text for p in seed_passages[DOC_002] for s in p.sentences]
    rows = [
        "Category of Risk | Description of Threat | Level of Urgency",
        "Model Robustness | Vulnerability to adversarial attacks and unpredictable failures | High",
        "Alignment Complexity | Difficulty in ensuring AI goals match human values at scale"
        " | Critical",
        "Societal Disruption | Unintended impacts on labor markets and information integrity"
        " | Moderate to High",
        "Weaponization | The integration of AI into autonomous defense systems | Critical",
    ]
    for row in rows:
        assert row in texts
    # The |---| rule is not a sentence, and no row is merged into prose.
    assert not any(set(t) <= set("|-: ") for t in texts)
    assert not any("|" in t and t not in rows for t in texts)
    before = next(t for t in texts if t.startswith("Our analysis of the current landscape"))
    assert "|" not in before


def test_headlines_and_list_items_without_punctuation_are_separate_sentences() -> None:
    text = "Big News Today\n- first item\n- second item\nA sentence. Another one."
    doc = Document(source="x.md", title="x", text=text)
    assert [text[s:e] for s, e, _ in sentence_spans(text)] == [
        "Big News Today",
        "- first item",
        "- second item",
        "A sentence.",
        "Another one.",
    ]
    passages = split_document(doc, BUDGET)
    assert [p.text(text) for p in passages] == [
        "Big News Today",
        "- first item",
        "- second item",
        "A sentence. Another one.",
    ]


def test_a_list_item_wrapped_over_lines_is_one_sentence() -> None:
    """httpx's Client docstring wraps its parameter items: the line after an item that
    stops mid-sentence carries the sentence on (in lower case, or indented under it);
    an item that ends, the next item and a line of code stay apart."""
    text = (
        "* **default_encoding** - *(optional)* The default encoding to use for decoding\n"
        "response text, if no charset information is included in a response Content-Type\n"
        "header. Set to a callable for automatic character set detection.\n"
        "- Install the extra with\n"
        "  Pip, or build it yourself.\n"
        "- A finished item.\n"
        "Then a new sentence.\n"
        "- Run the tool\n"
        "   x = run(1)\n"
    )
    assert [text[s:e] for s, e, _ in sentence_spans(text)] == [
        "* **default_encoding** - *(optional)* The default encoding to use for decoding\n"
        "response text, if no charset information is included in a response Content-Type\n"
        "header.",
        "Set to a callable for automatic character set detection.",
        "- Install the extra with\n  Pip, or build it yourself.",
        "- A finished item.",
        "Then a new sentence.",
        "- Run the tool",
        "x = run(1)",
    ]


def test_one_overlong_sentence_still_becomes_a_passage() -> None:
    text = " ".join(["word"] * 300) + "."
    passages = split_document(Document(source="long.txt", title="t", text=text), 16)
    assert len(passages) == 1
    assert passages[0].sentences[0].text == text


WRAPPED = (
    "The harbour master of Lundholm recorded that the northern pier was\n"
    "rebuilt in 1911 after a winter storm destroyed the old timber structure.\n"
    "Fishermen say the new stone pier never froze. The town council later\n"
    "named the pier after the engineer, Ada Brask, who designed its curved\n"
    "breakwater.\n"
    "\n"
    "A second paragraph about the lighthouse keeper, who kept a logbook for\n"
    "forty years and noted every passing ship in careful handwriting.\n"
    "\n"
    "- a list item\n"
    "- another item\n"
)


def test_sentences_of_hard_wrapped_text_run_over_line_ends() -> None:
    sentences = [WRAPPED[s:e] for s, e, _ in sentence_spans(WRAPPED)]
    assert sentences[:4] == [
        "The harbour master of Lundholm recorded that the northern pier was\n"
        "rebuilt in 1911 after a winter storm destroyed the old timber structure.",
        "Fishermen say the new stone pier never froze.",
        "The town council later\nnamed the pier after the engineer, Ada Brask, who designed "
        "its curved\nbreakwater.",
        "A second paragraph about the lighthouse keeper, who kept a logbook for\n"
        "forty years and noted every passing ship in careful handwriting.",
    ]
    assert sentences[4:] == ["- a list item", "- another item"]  # lists stay line by line
    passages = split_document(Document("wrapped.txt", "Wrapped", WRAPPED), BUDGET)
    assert len(passages) == 4  # two paragraphs, two list items: never across a blank line


def test_the_seed_articles_are_read_line_by_line(seed_documents: dict[str, Document]) -> None:
    """Their lines are whole paragraphs, titles and table rows: none is wrapped."""
    from rag.chunks import is_hard_wrapped

    for doc in seed_documents.values():
        assert not is_hard_wrapped(doc.text.split("\n"))


def test_abbreviations_do_not_end_a_sentence() -> None:
    """Punkt's news-trained model ended sentences at "e.g." and "et al.": a FOLDOC quote
    read "Iteration in programs is expressed using a loop, e.g."."""
    text = (
        "Iteration in programs is expressed using a loop, e.g. in Pascal. "
        "The idea goes back to Smith et al. in 1983. It ends here."
    )
    assert [text[s:e] for s, e, _ in sentence_spans(text)] == [
        "Iteration in programs is expressed using a loop, e.g. in Pascal.",
        "The idea goes back to Smith et al. in 1983.",
        "It ends here.",
    ]


def test_initials_of_a_name_do_not_end_a_sentence() -> None:
    """Punkt ended "developed by F.C. Williams and T. Kilburn" after "F.C.": the quote cut a
    name in two. Initials end a sentence before a word that opens one, and a company's
    form ("L.P.") before anything."""
    text = (
        "The Mark I was developed by F.C. Williams and T. Kilburn in 1948. "
        '["YACC - Yet Another Compiler Compiler", S.C. Johnson, Bell Labs (Jul 1975)]. '
        "It was paid for by the U.K. The rest came later. "
        "Copyright Hewlett-Packard Development Company, L.P. Contributed by Stephane."
    )
    assert [text[s:e] for s, e, _ in sentence_spans(text)] == [
        "The Mark I was developed by F.C. Williams and T. Kilburn in 1948.",
        '["YACC - Yet Another Compiler Compiler", S.C. Johnson, Bell Labs (Jul 1975)].',
        "It was paid for by the U.K.",
        "The rest came later.",
        "Copyright Hewlett-Packard Development Company, L.P.",
        "Contributed by Stephane.",
    ]


MIXED_DOCSTRING = (
    "delayed (function)\n"
    "\n"
    "Decorator used to capture the arguments of a function. This alternative to "
    "`joblib.delayed` is meant to be used in conjunction with `Parallel`, which captures "
    "the configuration of the current thread before dispatching the first task.\n"
    "\n"
    ".. versionchanged:: 1.3\n"
    "   `delayed` was moved from `sklearn.utils.fixes` to `sklearn.utils.parallel`\n"
    "   in scikit-learn 1.3.\n"
    "\n"
    "Parameters\n"
    "----------\n"
    "max_iter : integer, optional (default=100)\n"
    "  Maximum number of power iterations.\n"
    "final_estimator : estimator, default=None\n"
    "    A classifier which will be used to combine the base estimators.\n"
    "    The default classifier is a\n"
    "    :class:`~sklearn.linear_model.LogisticRegression`.\n"
    "cache_size\n"
    "    If the cache size is set to\n"
    "    ``0`` templates are recompiled all the time.\n"
    "    Run it as shown in\n"
    "```python\n"
    "DescriptorDatabaseConflictingDefinitionError: if an attempt is made to\n"
    "    add a proto with a different definition.\n"
    "loc (float or Tensor): Location parameter of the distribution\n"
    "scale (float or Tensor): Scale parameter of the distribution\n"
    "   hann                    -- Hann window\n"
    "   kaiser                  -- Kaiser window\n"
    ">>> f = delayed(g)\n"
    "x = f(1)\n"
)


def test_a_line_left_open_carries_on_in_lower_case_where_lines_are_long() -> None:
    """Docstrings mix paragraphs on one long line with wrapped ones, so the text as a whole
    is not hard-wrapped; a line stopping mid-sentence and the next carrying on in lower case
    are still one sentence ("...to `sklearn.utils.parallel`" / "in scikit-learn 1.3.").
    Items, columns and code lines that start in lower case are not carried on."""
    from rag.chunks import is_hard_wrapped

    assert not is_hard_wrapped(MIXED_DOCSTRING.split("\n"))
    sentences = [MIXED_DOCSTRING[s:e] for s, e, _ in sentence_spans(MIXED_DOCSTRING)]
    assert (
        "`delayed` was moved from `sklearn.utils.fixes` to `sklearn.utils.parallel`\n"
        "   in scikit-learn 1.3."
    ) in sentences
    # A numpydoc parameter and the indented line under it say what the parameter is; an
    # item carries on over lines as a sentence does.
    assert "max_iter : integer, optional (default=100)\n  Maximum number of power iterations." in (
        sentences
    )
    # A line left open carries on with a literal or a cross-reference, not a code fence.
    assert (
        "The default classifier is a\n    :class:`~sklearn.linear_model.LogisticRegression`."
        in (sentences)
    )
    assert "If the cache size is set to\n    ``0`` templates are recompiled all the time." in (
        sentences
    )
    assert "Run it as shown in" in sentences and "```python" in sentences
    assert (
        "DescriptorDatabaseConflictingDefinitionError: if an attempt is made to\n"
        "    add a proto with a different definition."
    ) in sentences
    for line in [
        "loc (float or Tensor): Location parameter of the distribution",
        "scale (float or Tensor): Scale parameter of the distribution",
        "hann                    -- Hann window",
        "kaiser                  -- Kaiser window",
        "x = f(1)",
        ".. versionchanged:: 1.3",
    ]:
        assert line in sentences, line
