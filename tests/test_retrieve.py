"""Stage 4: the lexical (BM25) index — same rankings as bm25s, updated per document, shared
state through the version token in Chroma."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from rag.chunks import passage_id
from rag.index import Index, open_client
from rag.retrieve import LexicalIndex, bm25_terms
from tests.support import DOC_000, DOC_002, DOC_003, LIN_YUN_QUESTION, SEED_SOURCES

pytestmark = pytest.mark.slow

NEW_SENTENCE = "The llama herders of Patagonia voted to adopt solar-powered shears in 2031."
QUERIES = [
    LIN_YUN_QUESTION,
    "Where did the big AI conference take place?",
    "What urgency level does the table give model robustness?",
    "Chernobyl moment cooperation",
    "Which university is Lin Yun at?",
    "risk categories table adversarial attacks",
]


def _state(lexical: LexicalIndex) -> dict:
    """Everything a search or a term weight depends on."""
    return lexical.contents()


def test_bm25_ranks_passages_as_llama_index_bm25retriever_does(assistant) -> None:
    """The BM25Retriever the pipeline used before, built the same way (metadata and all)."""
    from llama_index.core.schema import QueryBundle, TextNode
    from llama_index.retrievers.bm25 import BM25Retriever

    lexical = assistant.retriever.lexical()
    nodes = []
    for source, stored in assistant.index.documents().items():
        text = assistant.document_text(source)
        for position, (start, end) in enumerate(stored.passages):
            nodes.append(
                TextNode(
                    id_=passage_id(source, position),
                    text=text[start:end],
                    metadata={"source": source, "start": start, "end": end},
                )
            )
    assert lexical.size == len(nodes)
    reference = BM25Retriever.from_defaults(nodes=nodes, similarity_top_k=8)

    for query in QUERIES:
        expected = [
            (h.node.node_id, float(h.score))
            for h in reference.retrieve(QueryBundle(query))
            if h.score > 0
        ]
        got = [(pid, score) for pid, _, _, _, score in lexical.search(query, 8)]
        assert expected, query
        assert [s for _, s in got] == pytest.approx([s for _, s in expected], rel=1e-4), query
        # Passages with equal scores may come in either order, and the last group may be
        # cut differently at k; every other score group holds the same passages.
        last = round(expected[-1][1], 3)
        for score in {round(s, 3) for _, s in expected} - {last}:
            assert {p for p, s in got if round(s, 3) == score} == {
                p for p, s in expected if round(s, 3) == score
            }, query


def test_search_hits_carry_the_passage_spans(assistant) -> None:
    hits = assistant.retriever.lexical().search("Zhongguancun", 5)
    assert hits
    for pid, source, start, end, score in hits:
        assert score > 0 and pid.startswith(source)
        assert "zhongguancun" in assistant.document_text(source)[start:end].lower()


def test_a_ranking_locates_its_first_hits_and_ranks_the_passages_asked_about(assistant) -> None:
    lexical = assistant.retriever.lexical()
    query = "model safety cooperation China"
    full = lexical.search(query, 40)
    assert len(full) > 6
    asked = [full[9][0], full[3][0], "nowhere.md#p0", full[0][0]]
    ranking = lexical.ranking(query, 40, listed=2, among=asked)
    assert ranking.hits == full[:2]
    # The first hits and the passages asked about, at their places in the full ranking;
    # a passage outside it (or unknown) has no rank.
    expected = {pid: (rank, score) for rank, (pid, *_, score) in enumerate(full)}
    assert ranking.ranks == {
        p: expected[p] for p in [full[0][0], full[1][0], full[3][0], full[9][0]]
    }


def test_terms_follow_bm25s_tokenization() -> None:
    import bm25s
    import Stemmer

    text = "The attackers' AI-driven tools predicted 2 outcomes in 2031, Jiao Tong's view."
    tokenized = bm25s.tokenize(text, stemmer=Stemmer.Stemmer("english"), show_progress=False)
    vocab = {i: t for t, i in tokenized.vocab.items()}
    assert bm25_terms(text) == [vocab[i] for i in tokenized.ids[0]]


def test_ingests_and_deletes_update_it_per_document_like_a_fresh_build(
    corpus_copy: Path, make_assistant
) -> None:
    assistant = make_assistant(corpus_copy)
    assistant.ingest()
    lexical = assistant.retriever.lexical()
    assert lexical.search("Patagonia llama herders", 5) == []

    (corpus_copy / "notes.md").write_text("# Field notes\n\n" + NEW_SENTENCE + "\n")
    path = corpus_copy / DOC_003
    path.write_text(path.read_text(encoding="utf-8") + "\nThe Zhongguancun forum closed.\n")
    (corpus_copy / DOC_002).unlink()
    assistant.ingest()

    assert assistant.retriever.lexical() is lexical  # updated in place, not rebuilt
    fresh = LexicalIndex.build(assistant.index)
    assert _state(lexical) == _state(fresh)
    assert lexical.version == fresh.version == assistant.index.version
    hits = lexical.search("Patagonia llama herders", 5)
    assert hits and hits[0][1] == "notes.md"
    assert {h[1] for h in lexical.search("model robustness adversarial table", 50)} <= {
        DOC_000,
        DOC_003,
        "notes.md",
    }
    assert lexical.known(bm25_terms("herders")[0])


def test_refresh_reads_only_the_documents_that_changed(corpus_copy: Path, make_assistant) -> None:
    assistant = make_assistant(corpus_copy)
    assistant.ingest()
    lexical = LexicalIndex.build(assistant.index)
    assert lexical.refresh(assistant.index) == (0, 0)  # nothing changed: nothing read

    (corpus_copy / "notes.md").write_text(NEW_SENTENCE + "\n")
    assistant.ingest()
    assert lexical.refresh(assistant.index) == (1, 0)  # the new file only
    (corpus_copy / "notes.md").write_text(NEW_SENTENCE + " They also bought goats.\n")
    assistant.ingest()
    assert lexical.refresh(assistant.index) == (1, 1)  # re-read the edited file
    assistant.remove(["notes.md"])
    assert lexical.refresh(assistant.index) == (0, 1)
    assert _state(lexical) == _state(LexicalIndex.build(assistant.index))


def _counting_reads(monkeypatch) -> list[int]:
    """How many documents each Index.document_records call reads, from now on."""
    reads: list[int] = []
    original = Index.document_records

    def counting(self, sources):
        reads.append(len(sources))
        return original(self, sources)

    monkeypatch.setattr(Index, "document_records", counting)
    return reads


def test_questions_do_not_rebuild_or_reread_it(assistant, monkeypatch) -> None:
    lexical = assistant.retriever.lexical()
    reads = _counting_reads(monkeypatch)
    for question in QUERIES[:3]:
        assistant.ask(question)
    assert assistant.retriever.lexical() is lexical
    assert reads == []


def test_a_write_through_another_client_is_seen(corpus_copy: Path, make_assistant, tmp_path):
    """Two Index objects on one store stand for two processes: the version token in
    Chroma, not process memory, tells the reader its caches are stale."""
    writer = make_assistant(corpus_copy)
    writer.ingest()
    reader = Index(open_client(tmp_path / "index"), "rag", writer.embedder)
    lexical = LexicalIndex.build(reader)
    version = reader.version
    assert sorted(reader.documents()) == sorted(SEED_SOURCES)

    (corpus_copy / "notes.md").write_text(NEW_SENTENCE + "\n")
    writer.ingest()
    assert reader.version != version
    assert "notes.md" in reader.documents()
    lexical.refresh(reader)
    assert lexical.search("Patagonia herders", 3)[0][1] == "notes.md"

    writer.ingest()  # unchanged: no new version, caches stay valid
    assert reader.version == lexical.version


@pytest.fixture
def first(corpus_copy: Path, make_assistant):
    """An ingested assistant with its BM25 store (SQLite) beside its embedded store."""
    assistant = make_assistant(corpus_copy)
    assistant.ingest()
    return assistant


def _release(assistant) -> Path:
    """Close the assistant's BM25 store (as its process exiting would), so the file alone
    holds it; returns the file."""
    snapshot = assistant.retriever.snapshot
    assistant.retriever.lexical().close()
    assert not snapshot.with_name(snapshot.name + "-wal").exists()
    return snapshot


def test_a_new_process_starts_from_the_snapshot_without_reading_documents(
    corpus_copy: Path, first, make_assistant, monkeypatch
) -> None:
    snapshot = first.retriever.snapshot
    assert snapshot is not None and snapshot.is_file()  # written by the ingest
    assert not snapshot.with_suffix(".pickle").exists()

    reads = _counting_reads(monkeypatch)
    second = make_assistant(corpus_copy)  # same index folder, nothing in memory
    loaded = second.retriever.lexical()
    assert reads == []
    assert _state(loaded) == _state(LexicalIndex.build(first.index))
    assert second.ask(LIN_YUN_QUESTION).citations[0].source == DOC_003


def test_a_stale_snapshot_is_brought_up_to_date_reading_only_what_changed(
    corpus_copy: Path, first, make_assistant, monkeypatch, tmp_path: Path
) -> None:
    stale = tmp_path / "stale.sqlite3"
    first.retriever.lexical().save(stale)
    stale_version = LexicalIndex.load(stale).version
    (corpus_copy / "notes.md").write_text(NEW_SENTENCE + "\n")
    first.ingest()
    snapshot = _release(first)
    os.replace(stale, snapshot)  # as if another process had written the index since

    reads = _counting_reads(monkeypatch)
    second = make_assistant(corpus_copy)
    lexical = second.retriever.lexical()
    assert reads == [1]  # notes.md only
    assert _state(lexical) == _state(LexicalIndex.build(first.index))
    # ...and the file is current again, for the next process.
    again = LexicalIndex.load(snapshot)
    assert again.version == first.index.version != stale_version
    assert _state(again) == _state(lexical)


def test_a_damaged_snapshot_is_rebuilt_from_the_index(
    corpus_copy: Path, first, make_assistant, caplog
) -> None:
    snapshot = _release(first)
    snapshot.write_bytes(b"SQLite format 3\x00" + b"\x00 not a database" * 100)
    second = make_assistant(corpus_copy)
    with caplog.at_level("WARNING", logger="rag.retrieve"):
        lexical = second.retriever.lexical()
    assert "Ignoring the lexical index" in caplog.text
    assert _state(lexical) == _state(LexicalIndex.build(first.index))
    assert LexicalIndex.load(snapshot) is not None  # rewritten whole


def test_processes_sharing_the_store_see_each_others_refresh(
    corpus_copy: Path, first, make_assistant, monkeypatch
) -> None:
    """Two assistants on one index folder stand for two processes: the one that ingests
    updates the SQLite file in one transaction, the other reads it as it is, re-reading
    nothing from Chroma."""
    second = make_assistant(corpus_copy)
    before = second.retriever.lexical()
    (corpus_copy / "notes.md").write_text(NEW_SENTENCE + "\n")
    first.ingest()

    reads = _counting_reads(monkeypatch)
    assert second.retriever.lexical() is before
    assert reads == []  # first's refresh is already in the file
    assert before.version == second.index.version
    assert before.search("Patagonia herders", 3)[0][1] == "notes.md"
    assert _state(before) == _state(LexicalIndex.build(second.index))


def test_a_new_process_answers_without_reading_the_whole_catalog(
    corpus_copy: Path, first, make_assistant, monkeypatch
) -> None:
    """A question reads the records of the documents it retrieved, not every record."""

    def whole_catalog(self):
        raise AssertionError("the whole catalog was read to answer a question")

    monkeypatch.setattr(Index, "documents", whole_catalog)
    second = make_assistant(corpus_copy)
    answer = second.ask(LIN_YUN_QUESTION)
    assert answer.citations[0].source == DOC_003
    for citation in answer.citations:
        assert second.document_text(citation.source)[citation.start : citation.end] == (
            citation.quote
        )


def test_text_split_anew_is_indexed_anew(corpus_copy: Path, make_assistant) -> None:
    """Another passage budget re-splits unchanged text. The lexical index kept the old
    passages (it looked only at content hashes), so BM25 hits pointed at passages that
    were no longer there: most answers were lost until a full rebuild."""
    small = make_assistant(corpus_copy, passage_tokens=48)
    small.ingest()
    small.ask(LIN_YUN_QUESTION)  # the lexical store is built with the 48-token passages
    resplit = make_assistant(corpus_copy, passage_tokens=256)
    report = resplit.ingest()
    assert report.embedded == 0 and sorted(report.updated) == sorted(SEED_SOURCES)
    catalog = resplit.index.documents()
    spans = {(s, a, b) for s, record in catalog.items() for a, b in record.passages}
    lexical = resplit.retriever.lexical()
    hits = lexical.search("Lin Yun hackers attackers upper hand advantage", 10)
    assert hits and all((source, a, b) in spans for _, source, a, b, _ in hits), hits
    assert _state(lexical) == _state(LexicalIndex.build(resplit.index))
    fresh = make_assistant(corpus_copy, index_name="fresh", passage_tokens=256)
    fresh.ingest()
    for question in (LIN_YUN_QUESTION, "Where does Stephen Casper work?"):
        assert resplit.ask(question).text == fresh.ask(question).text


STAND_IN_DOCUMENTS = {
    "summit.txt": "Attendees of the river summit included the journalist Maria Lopez, who took "
    "notes all day.",
    "files.txt": "Size of the file in bytes, when reported by the server.",
    "sensors.txt": "Each sensor reported its reading once a minute to the central hub.",
    "errors.txt": "Errors are reported in the zorbleflax log together with their time stamps.",
    "desk.txt": "The reporter at the front desk answered every phone call politely.",
}


@pytest.fixture
def stand_ins(tmp_path: Path, make_assistant):
    """Documents where "reporter" is said once as such, once only as "journalist", and
    three times as a stem twin ("reported") in passages of no relevance."""
    corpus = tmp_path / "stand-ins"
    corpus.mkdir()
    for name, text in STAND_IN_DOCUMENTS.items():
        (corpus / name).write_text(text + "\n", encoding="utf-8")
    assistant = make_assistant(corpus)
    assistant.ingest()
    return assistant


def test_bm25_finds_a_word_said_only_in_other_words(stand_ins) -> None:
    retriever = stand_ins.retriever
    lexical = retriever.lexical()
    [report] = bm25_terms("reporter")
    related = retriever.related_terms(["reporter"])
    assert "journalist" in dict(related[report])
    assert all(0 < weight < 1 for _, weight in related[report])

    plain = {hit[1]: hit[4] for hit in lexical.search("reporter", 10)}
    assert set(plain) == {"files.txt", "sensors.txt", "errors.txt", "desk.txt"}
    expanded = {hit[1]: hit[4] for hit in lexical.search("reporter", 10, related)}
    assert set(expanded) == set(plain) | {"summit.txt"}
    # Passages without a stand-in score exactly as before.
    assert {s: expanded[s] for s in plain} == plain


def test_a_stand_in_broader_than_the_word_asked_is_not_searched(stand_ins) -> None:
    """ "report" is in four passages, "journalist" in one: as a stand-in for it, "report"
    would lift passages the question never pointed at."""
    lexical = stand_ins.retriever.lexical()
    [report] = bm25_terms("reporter")
    [journalist] = bm25_terms("journalist")
    hits = lexical.search("journalist", 10, {journalist: [(report, 0.5)]})
    assert [hit[1] for hit in hits] == ["summit.txt"]


def test_similar_words_come_from_the_vocabulary_table(stand_ins) -> None:
    index = stand_ins.index
    if index._word_table() is None:
        pytest.skip("no vocabulary table on this machine (rag export-model makes it)")
    vectors = index.word_vectors(["reporter", "journalist"])
    [near] = index.similar_words(vectors["reporter"][None, :], 0.75, 20)
    assert dict(near)["journalist"] == pytest.approx(
        float(vectors["reporter"] @ vectors["journalist"]), abs=1e-4
    )
    assert near[0][0] == "reporter" and all(cosine >= 0.75 for _, cosine in near)
    assert [c for _, c in near] == sorted((c for _, c in near), reverse=True)


def test_without_a_table_similar_words_come_from_the_documents_words(
    stand_ins, monkeypatch
) -> None:
    """A machine where `rag export-model` never ran: the words ingested are searched."""
    index = stand_ins.index
    [vector] = index.word_vectors(["zorbleflax"]).values()  # not a vocabulary word
    monkeypatch.setattr(index, "_word_table", lambda: None)
    [near] = index.similar_words(vector[None, :], 0.75, 5)
    assert near[0] == ("zorbleflax", pytest.approx(1.0, abs=1e-4))
    assert all(cosine >= 0.75 for _, cosine in near)


def test_short_passages_are_topped_up_to_the_evidence_budget(
    assistant, tmp_path: Path, make_assistant
) -> None:
    """Six one-line docstring paragraphs are a fraction of the evidence six news
    paragraphs are; more passages follow while the evidence stays under the budget."""
    from rag.retrieve import CONTEXT_CHARS

    k = assistant.settings.top_k
    seed = assistant.retriever.retrieve(LIN_YUN_QUESTION, k)
    assert len(seed.passages) == k  # news paragraphs fill the budget on their own

    corpus = tmp_path / "docs"
    corpus.mkdir()
    lines = [f"param_{i}: the number of widgets frobnicated in pass {i}." for i in range(30)]
    (corpus / "widgets.txt").write_text("Widget (class)\n\n" + "\n\n".join(lines) + "\n")
    docs = make_assistant(corpus)
    docs.ingest()
    retrieval = docs.retriever.retrieve("How many widgets are frobnicated in a pass?", k)
    spans = [(p.source, p.start, p.end) for p in retrieval.passages]
    assert len(spans) > k and len(set(spans)) == len(spans)
    assert sum(p.end - p.start for p in retrieval.passages) <= CONTEXT_CHARS
    assert all(p.sentences for p in retrieval.passages)


def test_a_chosen_heading_brings_the_passage_after_it(tmp_path: Path, make_assistant) -> None:
    """A docstring's heading ("...Meter (class)") is its own paragraph; "Handles
    instrument creation." shares no word with "What does the Meter class do?" and was left
    out of the evidence while the heading came first."""
    folder = tmp_path / "docs"
    folder.mkdir()
    methods = "".join(
        f"create_meter_{i}(name): Creates a meter instrument of kind {i}.\n\n" for i in range(12)
    )
    (folder / "meter.txt").write_text(
        "opentelemetry.metrics.Meter (class)\n\nHandles instrument creation.\n\n" + methods
    )
    (folder / "provider.txt").write_text(
        "opentelemetry.metrics.MeterProvider (class)\n\nThe entry point of the API.\n"
    )
    assistant = make_assistant(folder)
    assistant.ingest()
    retrieval = assistant.retriever.retrieve("What does the OpenTelemetry Meter class do?", 2)
    ids = [p.id for p in retrieval.passages]
    heading, opening = passage_id("meter.txt", 0), passage_id("meter.txt", 1)
    assert heading in ids and opening in ids, ids
    assert ids.index(opening) == ids.index(heading) + 1
    assert [s.text for s in retrieval.passages[ids.index(opening)].sentences] == [
        "Handles instrument creation."
    ]


def test_a_title_naming_the_subject_is_searched_with_every_passage(
    tmp_path: Path, make_assistant
) -> None:
    """ "What does NumPy provide?": the passage "It provides: an N-dimensional array"
    never says NumPy; the title does. A headline names no subject and is not searched."""
    folder = tmp_path / "docs"
    folder.mkdir()
    (folder / "pkg1.txt").write_text(
        "numpy (Python package)\n\nThe fundamental package for scientific computing.\n\n"
        "It provides a powerful N-dimensional array object.\n"
    )
    (folder / "news.txt").write_text(
        "Researchers Say Arrays Are Everywhere In Modern Scientific Computing Today\n\n"
        "It provides context for the debate.\n"
    )
    assistant = make_assistant(folder)
    assistant.ingest()
    hits = [pid for pid, *_ in assistant.retriever.lexical().search("numpy provides", 5)]
    assert hits[0] == passage_id("pkg1.txt", 2), hits
    assert not {pid for pid, *_ in assistant.retriever.lexical().search("arrays", 5)} & {
        passage_id("news.txt", 1)
    }
    # A new title in sources.yaml re-indexes the document's passages under it.
    (folder / "sources.yaml").write_text('pkg1.txt:\n  title: "scipy (Python package)"\n')
    assistant.ingest()
    hits = [pid for pid, *_ in assistant.retriever.lexical().search("scipy provides", 5)]
    assert hits[0] == passage_id("pkg1.txt", 2), hits


EIGENVECTOR_DOC = (
    "networkx.algorithms.eigenvector (module)\n\n"
    "eigenvector_centrality(G, max_iter, tol): Compute the eigenvector centrality for the "
    "graph G from the centralities of the neighbours of each of its nodes.\n\n"
    "Args\n----\n"
    "max_iter (int): Maximum number of power iterations.\n"
    "  Defaults to 100.\n"
    "tol (float): Error tolerance used to check convergence.\n"
    "  Defaults to 1.0e-6.\n\n"
    "Returns\n-------\n"
    "nodes : dictionary\n"
    "  Dictionary of nodes with eigenvector centrality as the value.\n"
)


def test_a_line_comes_with_the_lines_of_its_paragraph_beside_it(
    tmp_path: Path, make_assistant
) -> None:
    """A docstring with a long line is not read as wrapped: each line is a passage.
    "max_iter (int): Maximum number of power iterations." matches the question; the answer
    (100) is on the line below it, a sentence of its own, which was missing from the
    evidence."""
    folder = tmp_path / "docs"
    folder.mkdir()
    (folder / "eigenvector.txt").write_text(EIGENVECTOR_DOC)
    assistant = make_assistant(folder)
    assistant.ingest()
    text = assistant.document_text("eigenvector.txt")
    retrieval = assistant.retriever.retrieve("What is the maximum number of power iterations?", 6)
    question_line = "max_iter (int): Maximum number of power iterations."
    [hit] = [p for p in retrieval.passages if question_line in [s.text for s in p.sentences]]
    assert [s.text for s in hit.sentences][:2] == [question_line, "Defaults to 100."]
    assert "iterations.\n  Defaults to 100." in text[hit.start : hit.end]
    assert hit.joined and all(pid.startswith("eigenvector.txt#p") for pid in hit.joined)
    # Lines of other paragraphs (after a blank line or a rule) are never joined, and no
    # line is in the evidence twice.
    for passage in retrieval.passages:
        shown = text[passage.start : passage.end]
        assert "\n\n" not in shown and "---" not in shown, shown
    quoted = [s.id for p in retrieval.passages for s in p.sentences]
    assert len(quoted) == len(set(quoted))


def test_of_two_retellings_the_one_whose_title_the_question_names_stays() -> None:
    """Passages retelling one text (a parameter's description copied from class to class)
    collapse into the first; the one whose title spells more of the question's words takes
    its place, and a passage is listed once among the duplicates however often collapsing
    runs."""
    import numpy as np

    from rag.index import StoredSentence
    from rag.retrieve import RetrievedPassage, collapse_duplicates

    def passage(pid: str, title: str, vector: list[float]) -> RetrievedPassage:
        text = "The token used for padding."
        embedding = np.array(vector) / np.linalg.norm(vector)
        found = RetrievedPassage(pid, f"{pid}.txt", title, 0, len(text), 0.0, 0.5, 1.0)
        found.sentences = [StoredSentence(pid, f"{pid}.txt", 0, len(text), 0, text, embedding)]
        return found

    def retellings() -> list[RetrievedPassage]:
        return [
            passage("siglip", "transformers.models.siglip.SiglipTokenizer (class)", [1, 0, 0]),
            passage("other", "numpy.fft (module)", [0, 1, 0]),
            passage(
                "fs2c",
                "transformers.models.fastspeech2_conformer.FastSpeech2ConformerTokenizer",
                [1, 0.01, 0],
            ),
        ]

    asked = ["default", "padding", "token", "fastspeech2conformer", "tokenizer"]
    kept = collapse_duplicates(retellings(), asked)
    assert [p.id for p in kept] == ["fs2c", "other"] and kept[0].duplicates == ["siglip"]
    plain = collapse_duplicates(retellings(), ["default", "padding", "token"])
    assert [p.id for p in plain] == ["siglip", "other"] and plain[0].duplicates == ["fs2c"]
    again = collapse_duplicates([*plain, *retellings()[2:]], ["padding"])
    assert again[0].duplicates == ["fs2c"]
