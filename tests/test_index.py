"""Stage 3: incremental ingestion into a real Chroma store; each test owns its index."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from rag import REFUSAL, UnknownSourceError
from tests.support import DOC_000, DOC_002, DOC_003, LIN_YUN_QUESTION, SEED_SOURCES

pytestmark = pytest.mark.slow

NEW_SENTENCE = "The llama herders of Patagonia voted to adopt solar-powered shears in 2031."
NEW_QUESTION = "What did the llama herders of Patagonia vote to adopt?"
ROBUSTNESS_QUESTION = "What urgency level does the table give model robustness?"


@pytest.fixture
def ingested(corpus_copy: Path, make_assistant):
    """A fresh assistant over a writable corpus copy, ingested once."""
    assistant = make_assistant(corpus_copy)
    report = assistant.ingest()
    assert sorted(report.added) == sorted(SEED_SOURCES)
    assert report.embedded > 0 and report.reused == 0
    return assistant


def cited_sources(answer) -> set[str]:
    return {c.source for c in answer.citations}


def test_report_to_dict_has_the_documented_keys(ingested) -> None:
    report = ingested.ingest().to_dict()
    for key in ("added", "updated", "unchanged", "removed", "failed"):
        assert isinstance(report[key], list), key
    assert isinstance(report["embedded"], int) and isinstance(report["reused"], int)


def test_second_ingest_embeds_nothing(ingested) -> None:
    before = ingested.sources()
    report = ingested.ingest()
    assert report.embedded == 0 and report.words_embedded == 0
    assert sorted(report.unchanged) == sorted(SEED_SOURCES)
    assert report.added == report.updated == report.removed == report.failed == []
    assert ingested.sources() == before  # not even re-written (added_at unchanged)


def test_a_new_assistant_on_the_same_index_sees_it_without_re_embedding(
    corpus_copy: Path, ingested, make_assistant
) -> None:
    reopened = make_assistant(corpus_copy)  # same tmp index folder
    assert [s["source"] for s in reopened.sources()] == sorted(SEED_SOURCES)
    report = reopened.ingest()
    assert sorted(report.unchanged) == sorted(SEED_SOURCES)
    assert report.embedded == 0 and report.reused == 0


def test_appending_a_sentence_embeds_only_that_sentence(corpus_copy: Path, ingested) -> None:
    sentences_before = {s["source"]: s["sentences"] for s in ingested.sources()}
    path = corpus_copy / DOC_003
    path.write_text(path.read_text(encoding="utf-8") + NEW_SENTENCE + "\n", encoding="utf-8")

    report = ingested.ingest()
    assert report.updated == [DOC_003]
    assert sorted(report.unchanged) == sorted([DOC_000, DOC_002])
    assert report.added == report.removed == []
    assert report.embedded == 1
    assert report.reused > 0

    after = {s["source"]: s["sentences"] for s in ingested.sources()}
    assert after[DOC_003] == sentences_before[DOC_003] + 1
    assert ingested.document_text(DOC_003).endswith(NEW_SENTENCE + "\n")

    answer = ingested.ask(NEW_QUESTION)
    assert not answer.refused, answer.note
    assert answer.citations[0].source == DOC_003
    assert answer.citations[0].quote == NEW_SENTENCE


def test_editing_a_sentence_replaces_the_old_text(corpus_copy: Path, ingested) -> None:
    path = corpus_copy / DOC_002
    row = "| Model Robustness | Vulnerability to adversarial attacks and unpredictable failures"
    old, new = f"{row} | High |", f"{row} | Low |"
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new), encoding="utf-8")

    report = ingested.ingest()
    assert report.updated == [DOC_002]
    assert 1 <= report.embedded <= 5  # the changed row (and at most its table), not the file
    stored = ingested.document_text(DOC_002)
    assert "unpredictable failures | Low" in stored
    assert "unpredictable failures | High" not in stored

    answer = ingested.ask(ROBUSTNESS_QUESTION)
    quotes = " ".join(c.quote for c in answer.citations)
    assert "unpredictable failures | High" not in quotes
    for c in answer.citations:
        assert ingested.document_text(c.source)[c.start : c.end] == c.quote


def test_deleting_a_file_removes_it_from_sources_and_retrieval(corpus_copy: Path, ingested) -> None:
    before = ingested.ask(ROBUSTNESS_QUESTION)
    assert DOC_002 in cited_sources(before)  # the table only exists in 002

    (corpus_copy / DOC_002).unlink()
    report = ingested.ingest()
    assert report.removed == [DOC_002]
    assert report.embedded == 0
    assert sorted(report.unchanged) == sorted([DOC_000, DOC_003])

    assert [s["source"] for s in ingested.sources()] == [DOC_000, DOC_003]
    with pytest.raises(UnknownSourceError):
        ingested.document_text(DOC_002)
    after = ingested.ask(ROBUSTNESS_QUESTION)
    assert DOC_002 not in cited_sources(after)
    assert all(p["source"] != DOC_002 for p in after.retrieved)
    assert "Model Robustness |" not in after.text


def test_deleted_file_is_also_gone_for_a_fresh_assistant(
    corpus_copy: Path, ingested, make_assistant
) -> None:
    (corpus_copy / DOC_002).unlink()
    ingested.ingest()
    reopened = make_assistant(corpus_copy)
    assert [s["source"] for s in reopened.sources()] == [DOC_000, DOC_003]
    answer = reopened.ask(ROBUSTNESS_QUESTION)
    assert DOC_002 not in cited_sources(answer)


def test_ingesting_one_path_does_not_remove_the_others(corpus_copy: Path, ingested) -> None:
    new = corpus_copy / "notes.md"
    new.write_text("# Field notes\n\n" + NEW_SENTENCE + "\n", encoding="utf-8")

    report = ingested.ingest(paths=[new])
    assert report.added == ["notes.md"]
    assert report.removed == [] and report.unchanged == []
    assert report.embedded == 2  # the headline and the sentence
    listed = {s["source"]: s for s in ingested.sources()}
    assert sorted(listed) == sorted([*SEED_SOURCES, "notes.md"])
    assert listed["notes.md"]["title"] == "Field notes"

    # The other documents still answer.
    lin_yun = ingested.ask("What did Lin Yun predict about attackers?")
    assert cited_sources(lin_yun) & {DOC_000, DOC_003}
    assert ingested.ask(NEW_QUESTION).citations[0].source == "notes.md"


def test_ingesting_one_unchanged_path_reports_it_unchanged(corpus_copy: Path, ingested) -> None:
    report = ingested.ingest(paths=[corpus_copy / DOC_000])
    assert report.unchanged == [DOC_000]
    assert report.embedded == 0 and report.removed == []
    assert len(ingested.sources()) == 3


def test_a_bad_file_in_the_batch_does_not_stop_the_good_ones(
    corpus_copy: Path, make_assistant
) -> None:
    (corpus_copy / "broken.txt").write_bytes(b"\x7fELF\x02\x01\x01\x00\x00\x00binary" * 50)
    assistant = make_assistant(corpus_copy)
    report = assistant.ingest()

    assert sorted(report.added) == sorted(SEED_SOURCES)
    assert [f["source"] for f in report.failed] == ["broken.txt"]
    assert "binary" in report.failed[0]["reason"]
    assert report.to_dict()["failed"] == [
        {"source": "broken.txt", "reason": report.failed[0]["reason"]}
    ]
    assert [s["source"] for s in assistant.sources()] == sorted(SEED_SOURCES)
    answer = assistant.ask("What did Lin Yun predict about attackers?")
    assert not answer.refused


def test_explicit_paths_with_one_bad_file(corpus_copy: Path, tmp_path: Path, make_assistant):
    good = corpus_copy / "good.md"
    good.write_text(NEW_SENTENCE + "\n", encoding="utf-8")
    empty = corpus_copy / "empty.txt"
    empty.write_text("")
    outside = tmp_path / "outside.txt"
    outside.write_text("Outside text that must not be indexed.")
    assistant = make_assistant(corpus_copy)

    report = assistant.ingest(paths=[good, empty, outside])
    assert report.added == ["good.md"]
    failed = {Path(f["source"]).name: f["reason"] for f in report.failed}
    assert set(failed) == {"empty.txt", "outside.txt"}
    assert "no text" in failed["empty.txt"]
    assert "outside the corpus" in failed["outside.txt"]
    assert [s["source"] for s in assistant.sources()] == ["good.md"]


def test_a_file_that_turns_bad_keeps_its_last_good_version(corpus_copy: Path, ingested) -> None:
    (corpus_copy / DOC_002).write_bytes(b"\x00" * 64)
    report = ingested.ingest()
    assert [f["source"] for f in report.failed] == [DOC_002]
    assert report.removed == []
    assert DOC_002 in [s["source"] for s in ingested.sources()]
    assert "Model Robustness" in ingested.document_text(DOC_002)


def test_the_same_sentence_in_a_new_file_reuses_its_embedding(corpus_copy: Path, ingested) -> None:
    quote = (
        "Lin Yun, a professor at Shanghai Jiao Tong University specialising in AI and "
        "computer security, predicted that hackers may gain a near-term advantage due to AI "
        "capabilities."
    )
    assert quote in ingested.document_text(DOC_003)
    (corpus_copy / "copy.txt").write_text(quote + "\n", encoding="utf-8")
    report = ingested.ingest()
    assert report.added == ["copy.txt"]
    assert report.embedded == 0 and report.reused == 1


def test_renaming_a_title_in_sources_yaml_shows_the_new_title(corpus_copy: Path, ingested) -> None:
    sidecar = corpus_copy / "sources.yaml"
    old = "China's Top AI Researchers Are Concerned About an Unchecked Arms Race"
    sidecar.write_text(
        sidecar.read_text(encoding="utf-8").replace(old, "Renamed by the editor"),
        encoding="utf-8",
    )
    sentences = {s["source"]: s["sentences"] for s in ingested.sources()}
    report = ingested.ingest()
    assert report.updated == [DOC_002]
    assert report.embedded == 0  # only the title changed: nothing re-embedded
    titles = {s["source"]: s["title"] for s in ingested.sources()}
    assert titles[DOC_002] == "Renamed by the editor"
    assert {s["source"]: s["sentences"] for s in ingested.sources()} == sentences
    answer = ingested.ask(ROBUSTNESS_QUESTION)
    cited = [c for c in answer.citations if c.source == DOC_002]
    assert cited and all(c.title == "Renamed by the editor" for c in cited)
    assert ingested.ingest().unchanged == sorted(SEED_SOURCES)


def test_removing_everything_leaves_an_index_that_refuses(corpus_copy: Path, ingested) -> None:
    for name in SEED_SOURCES:
        (corpus_copy / name).unlink()
    report = ingested.ingest()
    assert sorted(report.removed) == sorted(SEED_SOURCES)
    assert ingested.sources() == []
    # Every kind of question, each taking its own path to the refusal.
    for question in [
        "What did Lin Yun predict about attackers?",
        "What is the security dilemma?",
        "What does the acronym AGI stand for?",
        "Which company released Claude?",
        "How many people attended the conference?",
    ]:
        answer = ingested.ask(question)
        assert answer.refused and answer.text == REFUSAL and answer.citations == [], question


def test_a_new_passage_budget_re_splits_without_embedding_again(
    corpus_copy: Path, ingested, make_assistant
) -> None:
    passages_before = {s["source"]: s["chunks"] for s in ingested.sources()}
    resplit = make_assistant(corpus_copy, passage_tokens=48)  # same index folder
    report = resplit.ingest()
    assert sorted(report.updated) == sorted(SEED_SOURCES)
    assert report.embedded == 0 and report.reused > 0
    passages_after = {s["source"]: s["chunks"] for s in resplit.sources()}
    assert all(passages_after[s] > passages_before[s] for s in SEED_SOURCES)
    again = resplit.ingest()
    assert sorted(again.unchanged) == sorted(SEED_SOURCES) and again.embedded == 0
    answer = resplit.ask("What did Lin Yun predict about attackers?")
    assert not answer.refused
    for c in answer.citations:
        assert resplit.document_text(c.source)[c.start : c.end] == c.quote


def test_words_are_embedded_once_at_ingest_and_answers_do_not_encode_them_again(
    corpus_copy: Path, ingested, make_assistant
) -> None:
    stored = ingested.index.word_vectors(["hackers", "attackers", "predicted", "qwertyuiop"])
    assert {"hackers", "predicted"} <= set(stored) and "qwertyuiop" not in stored
    assert stored["hackers"].shape == (384,)
    # The same vector the model gives the word (the answer stage's soft matching).
    assert float(stored["hackers"] @ ingested.embedder.encode_one("hackers")) > 0.999

    reopened = make_assistant(corpus_copy)  # a new process's view: no vectors in memory
    encoded: list[str] = []
    real_encode = reopened.answerer.encode

    def counting_encode(texts):
        encoded.extend(texts)
        return real_encode(texts)

    reopened.answerer.encode = counting_encode
    answer = reopened.ask("What did Lin Yun predict about attackers?")
    assert not answer.refused
    # Only words the corpus never had (the question's own) reach the model at ask time.
    corpus_words = set(reopened.index.word_vectors(encoded))
    assert corpus_words == set(), sorted(corpus_words)

    # A document with new words embeds just those; the words already stored are not redone.
    (corpus_copy / "note.txt").write_text("Zyxqorp hackers predicted.\n")
    report = reopened.ingest()
    assert report.words_embedded == 1  # "zyxqorp"


# ---- the write path: groups, the writer thread, the machine's word table ----------------


def _record_sizes(monkeypatch, collection, method: str) -> list[int]:
    """The number of ids of each call to a Chroma collection's method (the call goes on)."""
    sizes: list[int] = []
    real = getattr(collection, method)

    def counted(ids, **kwargs):
        sizes.append(len(ids))
        return real(ids=ids, **kwargs)

    monkeypatch.setattr(collection, method, counted)
    return sizes


def test_a_write_group_goes_to_chroma_in_one_add_and_one_records_upsert(
    corpus_copy: Path, make_assistant, monkeypatch
) -> None:
    """Chroma's cost is mostly per call: a group's sentences are one add (up to 1,000),
    its documents' records one upsert, not one of each per document."""
    assistant = make_assistant(corpus_copy)
    index = assistant.index
    adds = _record_sizes(monkeypatch, index._sentences, "add")
    record_upserts = _record_sizes(monkeypatch, index._documents, "upsert")
    report = assistant.ingest()
    assert sorted(report.added) == sorted(SEED_SOURCES)
    total = sum(s["sentences"] for s in assistant.sources())
    assert total <= index.write_group_sentences, "the seed corpus is one write group"
    assert adds == [total]
    assert record_upserts == [len(SEED_SOURCES)]


def test_a_sentence_of_the_group_still_being_written_is_not_embedded_again(
    tmp_path: Path, make_assistant
) -> None:
    """The writer thread stores a group while the next one is embedded: what the group in
    flight embedded (sentences and words) is not in Chroma yet, and must not be redone."""
    import threading

    from rag.retrieve import synonym_candidates

    corpus = tmp_path / "corpus"
    corpus.mkdir()
    first = "Quentin's orchard grew seventeen varieties of medlar."
    last = "Nobody in the valley could pronounce the orchard's name."
    (corpus / "a.txt").write_text(f"{first}\n\n{NEW_SENTENCE}\n", encoding="utf-8")
    (corpus / "b.txt").write_text(f"{NEW_SENTENCE}\n\n{last}\n", encoding="utf-8")
    assistant = make_assistant(corpus)
    index = assistant.index
    index.write_group_sentences = 1  # one document per group: a.txt, then b.txt
    second_embedded = threading.Event()
    groups_embedded = 0
    embed, write = index._embeddings_for, index._write_group

    def embedding(*args):
        nonlocal groups_embedded
        vectors = embed(*args)
        groups_embedded += 1
        if groups_embedded == 2:
            second_embedded.set()
        return vectors

    def writing(group, *rest):
        if group[0][0].source == "a.txt":  # held in flight until b.txt is embedded
            assert second_embedded.wait(120)
        write(group, *rest)

    index._embeddings_for, index._write_group = embedding, writing
    report = assistant.ingest()
    assert sorted(report.added) == ["a.txt", "b.txt"] and groups_embedded == 2
    assert report.embedded == 3 and report.reused == 1  # NEW_SENTENCE once
    table = index._word_table()
    words = {
        w
        for sentence in (first, NEW_SENTENCE, last)
        for w in synonym_candidates(sentence)
        if not (table and w in table)
    }
    assert report.words_embedded == len(words) > 0
    assert set(index.word_vectors(sorted(words))) == words
    assert sum(s["sentences"] for s in assistant.sources()) == index.count_sentences() == 4


def _sentences_by_filter(index, passage_ids: list[str]) -> set[str]:
    got = index._sentences.get(where={"passage_id": {"$in": passage_ids}}, include=[])
    return set(got["ids"])


def _same_record(found, expected) -> bool:
    """Equal records, but for `added_at` within a millisecond: an older record kept it as
    a float metadata value, which Chroma may give back rounded in its last digits
    (1795785868.5357087 came back as 1795785868.535709)."""
    close = abs(found.added_at - expected.added_at) < 1e-3
    return close and replace(found, added_at=expected.added_at) == expected


def _write_unpacked(index, source: str, omit: tuple[str, ...]) -> None:
    """Rewrite a document's record as records were written before packing (each field a
    metadata key, lists as JSON strings), without the fields `omit` names."""
    import json

    got = index._documents.get(ids=[source], include=["metadatas", "documents", "embeddings"])
    record = index.documents()[source]
    fields = {
        "title": record.title,
        "description": record.description,
        "content_hash": record.content_hash,
        "passages": json.dumps(record.passages),
        "sentence_spans": json.dumps(record.sentence_spans),
        "fragments": json.dumps(sorted(record.fragments or ())),
        "sentences": record.sentences,
        "added_at": record.added_at,
        "chunking": record.chunking,
        "embedding": record.embedding,
    }
    index._documents.delete(ids=[source])
    index._documents.add(
        ids=[source],
        documents=got["documents"],
        embeddings=got["embeddings"],
        metadatas=[{k: v for k, v in fields.items() if k not in omit}],
    )
    index._bump_version()
    assert not index.documents()[source].packed


def _record_keys(index, source: str) -> set[str]:
    return set(index._documents.get(ids=[source], include=["metadatas"])["metadatas"][0])


PACKED_KEYS = {"content_hash", "embedding", "record"}


def test_passage_sentences_are_read_by_id_and_old_records_gain_their_spans(ingested) -> None:
    index = ingested.index
    doc = index.documents()[DOC_002]
    assert doc.sentence_spans is not None and len(doc.sentence_spans) == len(doc.passages)
    pids = [f"{DOC_002}#p{i}" for i in range(len(doc.passages))]
    by_id = {s.id for s in index.sentences_of(pids)}
    assert by_id == _sentences_by_filter(index, pids) and len(by_id) == doc.sentences

    # A record written before sentence spans were kept: its passages are still read
    # (by filter), and the next ingest adds the spans without embedding anything, and
    # packs the record.
    _write_unpacked(index, DOC_002, omit=("sentence_spans", "fragments"))
    assert index.documents()[DOC_002].sentence_spans is None
    assert {s.id for s in index.sentences_of(pids)} == by_id
    report = ingested.ingest()
    assert report.embedded == 0 and DOC_002 in report.unchanged
    assert _same_record(index.documents()[DOC_002], doc)
    assert _record_keys(index, DOC_002) == PACKED_KEYS
    assert {s.id for s in index.sentences_of(pids)} == by_id


def _dense_hits(index, question: str) -> tuple[list, int]:
    """Every sentence by closeness to the question, and how many rows were read for it."""
    reads = []
    get = index._sentences.get
    index._sentences.get = lambda *a, **k: reads.append(k) or get(*a, **k)
    try:
        hits = index.nearest_sentences(index.embedder.encode_one(question), 1000)
    finally:
        del index._sentences.get
    return hits, len(reads)


def test_dense_hits_are_placed_by_their_records_and_old_records_gain_their_fragments(
    corpus_copy: Path, ingested
) -> None:
    from rag.chunks import telling

    (corpus_copy / "herders.txt").write_text(f"Solar shears.\n\n{NEW_SENTENCE}\n")
    assert ingested.ingest().added == ["herders.txt"]
    index = ingested.index
    hits, reads = _dense_hits(index, LIN_YUN_QUESTION)
    assert reads == 0 and len(hits) == index.count_sentences()
    rows = index._sentences.get(ids=[h.id for h, _ in hits], include=["metadatas", "documents"])
    stored = {
        id_: (m["source"], m["start"], m["end"], m["passage"], telling(text))
        for id_, m, text in zip(rows["ids"], rows["metadatas"], rows["documents"])
    }
    assert {h.id: (h.source, h.start, h.end, h.passage, h.telling) for h, _ in hits} == stored
    herders = sorted((h.start, h.telling) for h, _ in hits if h.source == "herders.txt")
    assert [says for _, says in herders] == [False, True]  # "Solar shears.", the vote

    # A record written before fragments were listed: its hits read their rows, and the
    # next ingest lists them without embedding anything.
    _write_unpacked(index, "herders.txt", omit=("fragments",))
    assert index.documents()["herders.txt"].fragments is None
    assert _dense_hits(index, LIN_YUN_QUESTION) == (hits, 1)
    report = ingested.ingest()
    assert report.embedded == 0 and "herders.txt" in report.unchanged
    assert index.documents()["herders.txt"].fragments == {0}  # "Solar shears."
    assert _dense_hits(index, LIN_YUN_QUESTION) == (hits, 0)


def test_records_are_packed_and_older_ones_are_packed_when_replaced_or_retitled(
    corpus_copy: Path, ingested
) -> None:
    index = ingested.index
    assert all(_record_keys(index, s) == PACKED_KEYS for s in SEED_SOURCES)
    # An unpacked record whose document changes: the new version is packed, no key left.
    _write_unpacked(index, DOC_000, omit=())
    assert index.documents()[DOC_000].current is False
    with (corpus_copy / DOC_000).open("a", encoding="utf-8") as f:
        f.write(f"\n{NEW_SENTENCE}\n")
    assert ingested.ingest().updated == [DOC_000]
    assert _record_keys(index, DOC_000) == PACKED_KEYS
    assert ingested.ask(NEW_QUESTION).citations[0].source == DOC_000
    # An unpacked record whose title changes keeps everything else.
    before = index.documents()[DOC_002]
    _write_unpacked(index, DOC_002, omit=())
    sidecar = corpus_copy / "sources.yaml"
    old = "China's Top AI Researchers Are Concerned About an Unchecked Arms Race"
    sidecar.write_text(sidecar.read_text(encoding="utf-8").replace(old, "Renamed"), "utf-8")
    assert ingested.ingest().updated == [DOC_002]
    assert _record_keys(index, DOC_002) == PACKED_KEYS
    assert _same_record(index.documents()[DOC_002], replace(before, title="Renamed"))


def test_a_chroma_read_failing_during_a_write_is_read_again_after_it(
    tmp_path: Path, make_assistant
) -> None:
    """Re-splitting a 10,000-document index, Chroma failed a `get` by text key while the
    writer thread rewrote the group before ("InternalError: Error finding id") and the
    ingest died. The read is a lookup of stored vectors: it runs again once the write in
    flight is done. (Chroma's race cannot be made to happen on demand, so the failure is
    raised here, once, while a real write is held in flight.)"""
    import threading
    import time

    from chromadb.errors import InternalError

    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "a.txt").write_text("Quentin's orchard grew seventeen varieties of medlar.\n")
    (corpus / "b.txt").write_text(f"{NEW_SENTENCE}\n")
    assistant = make_assistant(corpus)
    index = assistant.index
    index.write_group_sentences = 1  # a.txt is written while b.txt is looked up
    lookups, read, write = [], index._stored_vectors, index._write_group
    a_written = threading.Event()

    def reading(keys):
        lookups.append(a_written.is_set())
        if len(lookups) == 2:  # b.txt's lookup, while a.txt's write is in flight
            raise InternalError("Error executing plan: Internal error: Error finding id")
        return read(keys)

    def writing(group, *rest):
        if group[0][0].source == "a.txt":
            deadline = time.monotonic() + 120
            while len(lookups) < 2 and time.monotonic() < deadline:  # until b.txt's failed
                threading.Event().wait(0.01)
        write(group, *rest)
        a_written.set()

    index._stored_vectors, index._write_group = reading, writing
    report = assistant.ingest()
    assert sorted(report.added) == ["a.txt", "b.txt"] and not report.failed
    assert lookups == [False, False, True]  # b.txt read again after a.txt was written
    assert report.embedded == 2 and index.count_sentences() == 2


def _sentence_records(index) -> dict[str, tuple]:
    got = index._sentences.get(include=["documents", "metadatas", "embeddings"])
    return {
        id_: (doc, meta, np.asarray(emb))
        for id_, doc, meta, emb in zip(
            got["ids"], got["documents"], got["metadatas"], got["embeddings"]
        )
    }


def _citations(answer) -> list[tuple]:
    return [(c.source, c.start, c.end, c.quote) for c in answer.citations]


def test_compact_drops_deleted_vectors_and_keeps_every_sentence(
    corpus_copy: Path, tmp_path: Path, make_assistant
) -> None:
    """Chroma keeps every deleted vector in its HNSW index (a re-split of the 10,000-
    document bench index left 452,612 vectors for 290,130 sentences, 270 MB of the app's
    memory). compact() copies the live records, stored vectors and all, into a new
    collection; nothing is embedded and every answer stays the same."""
    first = make_assistant(corpus_copy, compact_ratio=0)
    first.ingest()
    resplit = make_assistant(corpus_copy, passage_tokens=48, compact_ratio=0)  # same folder
    report = resplit.ingest()
    index = resplit.index
    live = index.count_sentences()
    assert report.embedded == 0 and not report.compacted
    assert index.dead_sentences() == live  # every sentence deleted and written again
    records = _sentence_records(index)
    before = resplit.ask(LIN_YUN_QUESTION)
    replica = make_assistant(corpus_copy, passage_tokens=48)  # another reader, opened before
    assert _citations(replica.ask(LIN_YUN_QUESTION)) == _citations(before)
    old_name = index._sentences.name
    folders = {p.name for p in (tmp_path / "index").iterdir() if p.is_dir()}
    database = tmp_path / "index" / "chroma.sqlite3"
    size = database.stat().st_size

    compacted = resplit.compact()  # and VACUUM: the copy's free pages leave the file

    assert compacted.sentences == live and compacted.dropped == live
    assert index.dead_sentences() == 0 and index._sentences.name == compacted.collection
    assert old_name not in {c.name for c in index._client.list_collections()}
    after = _sentence_records(index)
    assert {k: v[:2] for k, v in after.items()} == {k: v[:2] for k, v in records.items()}
    for key, (_, _, vector) in records.items():  # Chroma re-normalizes: the last bit moves
        assert np.allclose(after[key][2], vector, atol=1e-6), key
    assert _citations(resplit.ask(LIN_YUN_QUESTION)) == _citations(before)
    assert _citations(replica.ask(LIN_YUN_QUESTION)) == _citations(before)  # followed it
    reopened = make_assistant(corpus_copy, passage_tokens=48)
    assert _citations(reopened.ask(LIN_YUN_QUESTION)) == _citations(before)
    again = reopened.ingest()
    assert again.embedded == 0 and sorted(again.unchanged) == sorted(SEED_SOURCES)
    # Chroma leaves a deleted collection's vector folder on disk (chroma-core/chroma#5259)
    left = {p.name for p in (tmp_path / "index").iterdir() if p.is_dir()}
    assert len(left) == len(folders) and left != folders  # the old one's replaced
    assert compacted.database_mb and database.stat().st_size <= size


def test_an_ingest_leaving_many_deleted_vectors_compacts_after_it(
    corpus_copy: Path, ingested, make_assistant
) -> None:
    index = ingested.index
    (corpus_copy / "extra.txt").write_text(f"{NEW_SENTENCE}\n", encoding="utf-8")
    small = ingested.ingest()  # one new sentence, nothing deleted
    assert not small.compacted and index.dead_sentences() == 0
    (corpus_copy / "extra.txt").write_text(f"{NEW_SENTENCE} It rained.\n", encoding="utf-8")
    edit = ingested.ingest()  # a handful deleted: far under half the live ones
    assert edit.updated == ["extra.txt"] and not edit.compacted
    assert 0 < index.dead_sentences() < 0.5 * index.count_sentences()
    resplit = make_assistant(corpus_copy, passage_tokens=48)  # default RAG_COMPACT_RATIO .5
    report = resplit.ingest()
    assert report.compacted and report.embedded == 0
    assert resplit.index.dead_sentences() == 0
    assert not resplit.ask(NEW_QUESTION).refused


def test_a_compaction_that_fails_midway_leaves_the_index_as_it_was(ingested) -> None:
    """Killed or failing while copying, the index still reads the old collection (the
    switch is the last step) and the next compaction deletes the half-written one."""
    index = ingested.index
    old_name = index._sentences.name
    before = _citations(ingested.ask(LIN_YUN_QUESTION))
    create = index._client.create_collection
    half_written: list[str] = []

    class FailingAfterOneAdd:
        def __init__(self, collection) -> None:
            self.collection, self.adds = collection, 0
            half_written.append(collection.name)

        def __getattr__(self, name):
            return getattr(self.collection, name)

        def add(self, **records) -> None:
            self.adds += 1
            if self.adds > 1:
                raise OSError("No space left on device")
            self.collection.add(**records)

    index._client.create_collection = lambda *a, **kw: FailingAfterOneAdd(create(*a, **kw))
    import rag.index

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(rag.index, "_ADD_BATCH", 10)  # several adds on the seed corpus
        with pytest.raises(OSError):
            index.compact()
    index._client.create_collection = create
    assert index._sentences.name == old_name
    assert half_written[0] in {c.name for c in index._client.list_collections()}
    assert _citations(ingested.ask(LIN_YUN_QUESTION)) == before
    report = index.compact()
    names = {c.name for c in index._client.list_collections()}
    assert report.collection in names and not {old_name, half_written[0]} & names
    assert _citations(ingested.ask(LIN_YUN_QUESTION)) == before


def test_a_re_split_reads_its_vectors_by_document_not_by_text(
    corpus_copy: Path, ingested, make_assistant, monkeypatch
) -> None:
    """Looking a sentence's vector up by text key returns every record of that text (a
    docstring's "Parameters" recurs in thousands): it was three quarters of the time of
    re-splitting 1,000 documents. A re-split or edited document's vectors are read with
    its own sentences; only text found there neither goes to the text-key lookup, and a
    re-split document's words (stored when its text was first indexed) are not looked up.
    """
    path = corpus_copy / DOC_003
    path.write_text(path.read_text(encoding="utf-8") + NEW_SENTENCE + "\n", encoding="utf-8")
    index = ingested.index
    looked_up: list[str] = []
    by_text = index._stored_vectors
    monkeypatch.setattr(
        index, "_stored_vectors", lambda keys: looked_up.extend(keys) or by_text(keys)
    )
    edit = ingested.ingest()
    assert edit.updated == [DOC_003] and edit.embedded == 1
    assert len(looked_up) == 1  # the new sentence, not the document's others

    resplit = make_assistant(corpus_copy, passage_tokens=48)
    index = resplit.index
    looked_up.clear()
    by_text = index._stored_vectors
    monkeypatch.setattr(
        index, "_stored_vectors", lambda keys: looked_up.extend(keys) or by_text(keys)
    )
    words = _record_sizes(monkeypatch, index._words, "get")
    report = resplit.ingest()
    assert sorted(report.updated) == sorted(SEED_SOURCES) and report.embedded == 0
    assert looked_up == [] and words == []
    assert not resplit.ask(NEW_QUESTION).refused


def test_re_split_documents_go_to_chroma_in_fewer_larger_groups() -> None:
    from rag.chunks import split_document
    from rag.documents import Document
    from rag.index import _ADD_BATCH, _groups

    text = " ".join(f"Sentence number {i} is here." for i in range(300))
    docs = [Document(f"d{i}.txt", f"D{i}", text) for i in range(3)]
    pending = [(doc, split_document(doc, 160)) for doc in docs]
    sentences = sum(len(p.sentences) for p in pending[0][1])
    assert sentences == 300
    assert len(list(_groups(pending, 256))) == 3  # embedded: one document per group
    whole = list(_groups(pending, 256, resplit={"d0.txt", "d1.txt", "d2.txt"}))
    assert len(whole) == 1 and 3 * sentences <= _ADD_BATCH


def _record_reads(index) -> list[dict]:
    """Patch this Index's document collection to note each read of records' metadata."""
    reads: list[dict] = []
    read = index._documents.get

    def noted(*args, **kwargs):
        if "metadatas" in (kwargs.get("include") or []):
            reads.append(kwargs)
        return read(*args, **kwargs)

    index._documents.get = noted
    return reads


def test_preloaded_records_answer_without_record_reads_and_follow_writes(
    corpus_copy: Path, ingested, make_assistant
) -> None:
    expected = ingested.ask(LIN_YUN_QUESTION)
    serving = make_assistant(corpus_copy)
    serving.index.preload_records()
    reads = _record_reads(serving.index)
    answer = serving.ask(LIN_YUN_QUESTION)
    assert answer.text == expected.text and answer.citations == expected.citations
    assert reads == []

    # This process's ingest renews them: the new document is answered, still no read.
    (corpus_copy / "llamas.txt").write_text(f"Llamas\n\n{NEW_SENTENCE}\n", encoding="utf-8")
    assert serving.ingest().added == ["llamas.txt"]
    assert "llamas.txt" in (serving.index._metadata or {})
    reads.clear()
    assert "llamas.txt" in cited_sources(serving.ask(NEW_QUESTION))
    assert reads == []

    # Another process's write drops them: records are read from the store again.
    other = make_assistant(corpus_copy)
    assert other.remove(["llamas.txt"]) == ["llamas.txt"]
    answer = serving.ask(NEW_QUESTION)
    assert "llamas.txt" not in cited_sources(answer)
    assert serving.index._metadata is None and any("ids" in read for read in reads)


def _records_only_in_chromas_log(index_dir: Path, collection: str) -> int:
    """Records written to a collection that its HNSW graph on disk does not hold yet: each
    process opening the index adds them to its graph again (see rag.index._PERSIST_EVERY).
    Read from Chroma's own SQLite tables: Chroma has no call that tells."""
    import sqlite3

    with sqlite3.connect(index_dir / "chroma.sqlite3") as db:
        (collection_id,) = db.execute(
            "SELECT id FROM collections WHERE name = ?", (collection,)
        ).fetchone()
        persisted = db.execute(
            "SELECT m.seq_id FROM max_seq_id m JOIN segments s ON s.id = m.segment_id "
            "WHERE s.collection = ? AND s.scope = 'VECTOR'",
            (collection_id,),
        ).fetchone()
        (waiting,) = db.execute(
            "SELECT COUNT(*) FROM embeddings_queue WHERE topic LIKE ? AND seq_id > ?",
            (f"%/{collection_id}", persisted[0] if persisted else -1),
        ).fetchone()
    return int(waiting)


def test_an_ingest_leaves_the_sentence_graph_persisted(
    corpus_copy: Path, tmp_path: Path, make_assistant
) -> None:
    """Records Chroma's graph on disk lacks are added again by every process that opens
    the index, differently each time, and its search's hits change (see _PERSIST_EVERY)."""
    lines = [f"Shipment {i} of convoy {i % 7} carried {i * 13} crates of tin." for i in range(150)]
    (corpus_copy / "manifest.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
    assistant = make_assistant(corpus_copy)
    index_dir = tmp_path / "index"
    assistant.ingest()
    sentences = assistant.index._sentences
    assert sentences.count() > 200  # past Chroma's first batch (100): the graph is built
    assert _records_only_in_chromas_log(index_dir, sentences.name) == 0
    (corpus_copy / "extra.txt").write_text(f"{NEW_SENTENCE}\n", encoding="utf-8")
    assert assistant.ingest().added == ["extra.txt"]
    assert _records_only_in_chromas_log(index_dir, sentences.name) == 1  # under 100
    assert not assistant.ask(NEW_QUESTION).refused


def test_a_sentence_collection_from_before_persists_every_100_records_after_an_ingest(
    corpus_copy: Path, tmp_path: Path, make_assistant
) -> None:
    """rag before 2026-11-28 created it with Chroma's default (every 1,000 records)."""
    from rag.index import open_client

    older = open_client(tmp_path / "index").create_collection(
        "rag-sentences", embedding_function=None, metadata={"hnsw:space": "cosine"}
    )
    assert older.configuration_json["hnsw"]["sync_threshold"] == 1000
    assistant = make_assistant(corpus_copy)
    assistant.ingest()
    sentences = assistant.index._sentences
    assert sentences.name == "rag-sentences"
    assert sentences.configuration_json["hnsw"]["sync_threshold"] == 100
    assert assistant.index._words.configuration_json["hnsw"]["sync_threshold"] == 100
