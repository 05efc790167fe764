"""Bad files beside good ones, through the public API: each refusal in report.failed
with a reason, the rest of the batch indexed and answerable, nothing outside read."""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import pytest

from rag import Assistant, UnknownSourceError
from tests.support import CORPUS, DOC_003, LIN_YUN_QUESTION

pytestmark = pytest.mark.slow

LATIN1_TEXT = (
    "Señor Ibáñez opened the Café Müller bakery in Málaga in 1987.\n\n"
    "The bakery sells four hundred loaves of pan de cádiz every morning.\n"
)
LATIN1_QUESTION = "How many loaves does the bakery in Málaga sell every morning?"
LIMIT_MB = 0.05  # 50 kB: the good article and the latin-1 one are far below it


@pytest.fixture(scope="module")
def mixed(tmp_path_factory: pytest.TempPathFactory):
    """A corpus folder with one good article and one of each kind of bad file."""
    root = tmp_path_factory.mktemp("mixed")
    corpus = root / "corpus"
    corpus.mkdir()
    shutil.copyfile(CORPUS / DOC_003, corpus / "good.txt")
    (corpus / "latin1.txt").write_bytes(LATIN1_TEXT.encode("latin-1"))
    # Real binary content: the start of the Python interpreter itself.
    interpreter = Path(sys.executable).resolve().read_bytes()[:4096]
    assert interpreter.startswith(b"\x7fELF")
    (corpus / "program.txt").write_bytes(interpreter)
    (corpus / "fake.pdf").write_bytes(b"%PDF-1.7\n" + bytes(range(256)) * 4)
    (corpus / "empty.md").write_bytes(b"")
    (corpus / "blank.txt").write_bytes(b"  \n\n\t \n")
    (corpus / "slides.pptx").write_bytes(b"PK\x03\x04 not really slides")
    (corpus / "big.txt").write_text("word " * 12_000)  # 60 kB, over the 50 kB limit
    (corpus / "passwd.txt").symlink_to("/etc/passwd")
    os.mkfifo(root / "outside-fifo")  # reading it would block: the test would hang
    (corpus / "fifo-link.txt").symlink_to(root / "outside-fifo")
    os.mkfifo(corpus / "pipe.md")
    (corpus / "etc").symlink_to("/etc", target_is_directory=True)
    (corpus / "dangling.txt").symlink_to(root / "nothing-here.txt")
    assistant = Assistant(corpus_dir=corpus, index_dir=root / "index", max_file_mb=LIMIT_MB)
    report = assistant.ingest()
    return assistant, report, corpus


EXPECTED_REASONS = {
    "program.txt": "binary",
    "fake.pdf": "unreadable PDF",
    "empty.md": "no text",
    "blank.txt": "no text",
    "slides.pptx": "unsupported file type",
    "big.txt": "over the 50,000 bytes limit",
    "passwd.txt": "outside the corpus",
    "fifo-link.txt": "outside the corpus",
    "pipe.md": "not a regular file",
    "etc": "outside the corpus",
    "dangling.txt": "outside the corpus",
}


@pytest.mark.timeout(300)
def test_each_bad_file_is_reported_with_its_reason(mixed) -> None:
    _, report, corpus = mixed
    reasons = {Path(f["source"]).name: f["reason"] for f in report.failed}
    assert set(reasons) == set(EXPECTED_REASONS), report.to_dict()
    for name, expected in EXPECTED_REASONS.items():
        assert expected in reasons[name], (name, reasons[name])
        assert name in reasons[name] or str(corpus / name) in reasons[name]
    assert sorted(report.added) == ["good.txt", "latin1.txt"]


def test_nothing_outside_the_corpus_was_read_or_indexed(mixed) -> None:
    assistant, report, _ = mixed
    passwd = Path("/etc/passwd").read_text()
    first_entry = passwd.split(":", 1)[0]  # "root"
    assert all("root:" not in f["reason"] for f in report.failed)
    assert [s["source"] for s in assistant.sources()] == ["good.txt", "latin1.txt"]
    answer = assistant.ask(f"What is the login shell of the {first_entry} user?")
    assert answer.refused
    assert all(c.source in ("good.txt", "latin1.txt") for c in answer.citations)


def test_the_good_article_is_answerable(mixed) -> None:
    assistant, _, _ = mixed
    answer = assistant.ask(LIN_YUN_QUESTION)
    assert not answer.refused, answer.note
    assert answer.citations[0].source == "good.txt"
    assert "near-term advantage" in " ".join(c.quote for c in answer.citations)


def test_the_latin1_file_is_decoded_and_answerable(mixed) -> None:
    assistant, _, _ = mixed
    assert assistant.document_text("latin1.txt") == LATIN1_TEXT
    answer = assistant.ask(LATIN1_QUESTION)
    assert not answer.refused, answer.note
    cited = answer.citations[0]
    assert cited.source == "latin1.txt" and "four hundred loaves" in cited.quote
    assert assistant.document_text(cited.source)[cited.start : cited.end] == cited.quote


@pytest.mark.parametrize(
    "source",
    ["/etc/passwd", "../../etc/passwd", "passwd.txt", "program.txt", "good.txt/..", "", "etc"],
)
def test_document_text_serves_only_indexed_sources(mixed, source: str) -> None:
    assistant, _, _ = mixed
    with pytest.raises(UnknownSourceError, match="not an indexed source"):
        assistant.document_text(source)


def test_a_second_ingest_reports_the_same_failures_and_changes_nothing(mixed) -> None:
    assistant, first, _ = mixed
    again = assistant.ingest()
    assert sorted(f["source"] for f in again.failed) == sorted(f["source"] for f in first.failed)
    assert sorted(again.unchanged) == ["good.txt", "latin1.txt"]
    assert again.embedded == 0 and again.removed == []


# ---- uploads ----------------------------------------------------------------------

BAD_NAMES = [
    "../escape.txt",
    "../../escape.md",
    "sub/../../escape.txt",
    "/tmp/escape.txt",
    "..",
    "notes/../escape.txt",
    "..\\escape.txt",
    ".hidden.txt",
    "sources.yaml",
    "run.sh",
    "",
    "nul\x00.txt",
]


def test_upload_refuses_names_that_could_leave_the_corpus(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    assistant = Assistant(corpus_dir=corpus, index_dir=tmp_path / "index")
    report = assistant.upload([(name, b"Escaped text that must not land.\n") for name in BAD_NAMES])
    assert [f["source"] for f in report.failed] == BAD_NAMES
    assert all("refused" in f["reason"] for f in report.failed), report.failed
    assert report.added == []
    # Nothing written anywhere: not beside the corpus, not in it, not in /tmp.
    assert sorted(p.name for p in tmp_path.iterdir()) == ["corpus"]
    assert list(corpus.iterdir()) == []
    assert not Path("/tmp/escape.txt").exists()


def test_upload_indexes_good_files_and_refuses_bad_content(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    outside = tmp_path / "outside.txt"
    outside.write_text("Outside stays untouched.")
    (corpus / "linked.txt").symlink_to(outside)
    assistant = Assistant(corpus_dir=corpus, index_dir=tmp_path / "index")
    report = assistant.upload(
        [
            ("notes.md", b"# Notes\n\nThe Ischia harbour office sells 300 ferry tickets a day.\n"),
            ("win.txt", "Caf\u00e9 \u201cquotes\u201d are fine.".encode("cp1252")),
            ("blob.txt", b"\x00\x01\x02\x03binary"),
            ("linked.txt", b"Replaces the link itself, never writes through it.\n"),
            ("../notes.md", b"escape"),
        ]
    )
    assert sorted(report.added) == ["linked.txt", "notes.md", "win.txt"]
    assert [f["source"] for f in report.failed] == ["blob.txt", "../notes.md"]
    assert "binary" in report.failed[0]["reason"]
    assert "blob.txt" in report.failed[0]["reason"] and ".upload-" not in report.failed[0]["reason"]
    assert outside.read_text() == "Outside stays untouched."
    assert not (corpus / "linked.txt").is_symlink()
    assert sorted(p.name for p in corpus.iterdir()) == ["linked.txt", "notes.md", "win.txt"]
    assert assistant.document_text("win.txt") == "Café “quotes” are fine."
    answer = assistant.ask("How many ferry tickets does the Ischia harbour office sell?")
    assert not answer.refused and answer.citations[0].source == "notes.md"
