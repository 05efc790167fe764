"""Stage 1: finding files and extracting their text; bad files are refused with a reason."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from rag.documents import (
    SIDECAR_NAME,
    decode_text,
    discover,
    html_to_text,
    load_catalog,
    load_document,
)
from rag.errors import DocumentError
from tests.support import DOC_000, DOC_002, DOC_003, SEED_SOURCES

MB = 1_000_000


@pytest.fixture
def corpus(tmp_path: Path) -> Path:
    folder = tmp_path / "corpus"
    folder.mkdir()
    return folder


def write(folder: Path, name: str, content: str | bytes) -> Path:
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content.encode("utf-8") if isinstance(content, str) else content)
    return path


def load(path: Path, corpus: Path, max_bytes: int = 20 * MB):
    return load_document(path, corpus, load_catalog(corpus), max_bytes)


# ---- the seed corpus --------------------------------------------------------------


def test_discover_lists_the_seed_articles_without_the_sidecar(seed_corpus: Path) -> None:
    found = [p.name for p in discover(seed_corpus)]
    assert found == sorted(SEED_SOURCES)
    assert SIDECAR_NAME not in found


def test_seed_documents_take_their_titles_from_sources_yaml(seed_corpus: Path) -> None:
    catalog = load_catalog(seed_corpus)
    titles = {
        p.name: load_document(p, seed_corpus, catalog, 20 * MB) for p in discover(seed_corpus)
    }
    assert titles[DOC_000].title == (
        "I Spoke with Leading AI Experts in China, and They're Concerned as Well"
    )
    assert titles[DOC_002].title == (
        "China's Top AI Researchers Are Concerned About an Unchecked Arms Race"
    )
    assert titles[DOC_003].title == (
        "US and Chinese AI experts urge cooperation to avert 'Chernobyl moment'"
    )
    assert titles[DOC_002].description.startswith("Analysis piece from Creati.ai")
    # The source id is the path relative to the corpus folder, the text is the file's text.
    assert titles[DOC_003].source == DOC_003
    assert titles[DOC_003].text == (seed_corpus / DOC_003).read_text(encoding="utf-8")


def test_title_falls_back_to_the_first_line_without_a_sidecar_entry(corpus: Path) -> None:
    path = write(corpus, "notes.md", "\n\n# Quarterly notes\n\nRevenue grew.\n")
    assert load(path, corpus).title == "Quarterly notes"


def test_sidecar_title_is_found_for_a_file_in_a_subfolder(corpus: Path) -> None:
    write(corpus, SIDECAR_NAME, 'team/plan.txt:\n  title: "The Plan"\n  description: "ours"\n')
    path = write(corpus, "team/plan.txt", "First line is not the title.\n")
    document = load(path, corpus)
    assert document.source == "team/plan.txt"
    assert (document.title, document.description) == ("The Plan", "ours")


def test_invalid_sidecar_yaml_is_reported(corpus: Path) -> None:
    write(corpus, SIDECAR_NAME, "a.txt: [unclosed\n")
    with pytest.raises(DocumentError, match="not valid YAML"):
        load_catalog(corpus)


# ---- loaders ----------------------------------------------------------------------


def test_txt_and_md_text_is_kept_verbatim(corpus: Path) -> None:
    body = "# Heading\n\nA paragraph with *emphasis*.\n\n| a | b |\n|---|---|\n| 1 | 2 |\n"
    assert load(write(corpus, "doc.md", body), corpus).text == body
    assert load(write(corpus, "doc.txt", "Plain text.\n"), corpus).text == "Plain text.\n"


def test_windows_and_old_mac_newlines_become_one_convention(corpus: Path) -> None:
    path = write(corpus, "crlf.txt", b"\xef\xbb\xbfline one\r\nline two\rline three")
    # The UTF-8 BOM is not part of the text, and every line break is "\n".
    assert load(path, corpus).text == "line one\nline two\nline three"


def test_html_text_is_extracted_and_script_and_style_dropped(corpus: Path) -> None:
    markup = """<!doctype html>
<html><head><title>Page title</title>
<style>body { color: red; }</style>
<script>var secret = "TRACKING-CODE";</script></head>
<body>
  <h1>Arms race</h1>
  <p>Researchers are <b>concerned</b> &amp; outspoken.</p>
  <script type="text/javascript">document.write("INJECTED");</script>
  <noscript>Enable JavaScript</noscript>
  <ul><li>First point</li><li>Second point</li></ul>
</body></html>"""
    document = load(write(corpus, "page.html", markup), corpus)
    assert "Researchers are concerned & outspoken." in document.text
    assert "Arms race" in document.text
    for line in ("First point", "Second point"):
        assert line in document.text.splitlines()
    for hidden in ("TRACKING-CODE", "INJECTED", "color: red", "Enable JavaScript", "<", ">"):
        assert hidden not in document.text
    # Block elements end a line: the heading is not glued to the paragraph.
    assert "Arms raceResearchers" not in document.text
    assert document.title == "Arms race"


def test_htm_suffix_is_read_as_html(corpus: Path) -> None:
    document = load(write(corpus, "old.HTM", "<p>Hello <i>there</i>.</p>"), corpus)
    assert document.text == "Hello there."


def test_html_with_only_a_title_yields_the_title(corpus: Path) -> None:
    markup = "<html><head><title>Just a title</title></head><body></body></html>"
    assert load(write(corpus, "t.html", markup), corpus).text == "Just a title"


@pytest.mark.parametrize(
    "markup",
    [
        "<html><head><title>Heading</title><body><p>The body says hello.</p></body></html>",
        # Neither </head> nor <body>: the first body tag or visible text starts the body.
        "<html><head><title>Heading</title><meta charset=utf-8><p>The body says hello.</p>",
        "<head><title>Heading</title><link rel=x href=y>The body says hello.",
    ],
    ids=["no-head-end", "no-body-tag", "bare-text"],
)
def test_html_body_is_kept_when_the_optional_head_end_tag_is_omitted(markup: str) -> None:
    text = html_to_text(markup)
    assert "The body says hello." in text
    assert text == "The body says hello."  # the <title> is metadata, not body text


def test_html_table_cells_are_not_glued_together() -> None:
    markup = "<table><tr><td>Model Robustness</td><td>High</td></tr></table>"
    text = html_to_text(markup)
    assert "RobustnessHigh" not in text
    assert "Model Robustness" in text and "High" in text


def test_html_table_rows_become_markdown_rows_with_one_line_each() -> None:
    markup = (
        "<p>Risks:</p><table><thead><tr><th>Area</th><th>Urgency</th></tr></thead>"
        "<tbody><tr><td><p>Model\nRobustness</p></td><td>High</td></tr>"
        "<tr><td>Alignment</td><td>Medium<br>rising</td></tr></tbody></table><p>After.</p>"
    )
    assert html_to_text(markup).splitlines() == [
        "Risks:",
        "",
        "| Area | Urgency |",
        "| Model Robustness | High |",
        "| Alignment | Medium rising |",
        "",
        "After.",
    ]


# ---- encodings --------------------------------------------------------------------


def test_cp1252_bytes_are_decoded(corpus: Path) -> None:
    # 0x93/0x94 are curly quotes and 0xe9 is é in Windows-1252; not valid UTF-8.
    path = write(corpus, "win.txt", b"The caf\xe9 said \x93hello\x94 \x96 twice.")
    assert load(path, corpus).text == "The café said “hello” – twice."


def test_latin1_bytes_are_decoded(corpus: Path) -> None:
    # 0x81 is undefined in cp1252, so this can only be latin-1.
    path = write(corpus, "latin.txt", b"Se\xf1or M\xfcller \x81 paid \xa3 5.")
    assert load(path, corpus).text == "Señor Müller \x81 paid £ 5."


def test_utf8_is_preferred_over_legacy_encodings() -> None:
    assert decode_text("Jiao Tong — “quoted” café".encode(), "x.txt") == (
        "Jiao Tong — “quoted” café"
    )


# ---- refusals ---------------------------------------------------------------------


def test_binary_file_with_nul_bytes_is_refused(corpus: Path) -> None:
    path = write(corpus, "blob.txt", b"PK\x03\x04\x00\x00binary\x00stuff" * 20)
    with pytest.raises(DocumentError, match="binary") as raised:
        load(path, corpus)
    assert "blob.txt" in str(raised.value)


def test_control_character_soup_is_refused_as_binary(corpus: Path) -> None:
    path = write(corpus, "noise.md", bytes(range(1, 32)) * 10)
    with pytest.raises(DocumentError, match="binary"):
        load(path, corpus)


@pytest.mark.parametrize("content", [b"", b"   \n\n\t  \n"], ids=["empty", "whitespace"])
def test_file_without_text_is_refused(corpus: Path, content: bytes) -> None:
    path = write(corpus, "empty.txt", content)
    with pytest.raises(DocumentError, match="no text") as raised:
        load(path, corpus)
    assert "empty.txt" in str(raised.value)


def test_html_without_visible_text_is_refused(corpus: Path) -> None:
    path = write(corpus, "blank.html", "<html><body><script>x=1</script></body></html>")
    with pytest.raises(DocumentError, match="no text"):
        load(path, corpus)


def test_oversize_file_is_refused(corpus: Path) -> None:
    path = write(corpus, "big.txt", "word " * 400)  # 2,000 bytes
    with pytest.raises(DocumentError, match="limit") as raised:
        load(path, corpus, max_bytes=1_999)
    assert "big.txt" in str(raised.value)
    assert "RAG_MAX_FILE_MB" in str(raised.value)
    # Exactly at the limit is still accepted.
    assert load(path, corpus, max_bytes=2_000).text.startswith("word word")


@pytest.mark.parametrize(
    ("size", "limit", "expected"),
    [
        (2_000, 1_999, "2,000 bytes is over the 1,999 bytes limit"),
        (150, 100, "150 bytes is over the 100 bytes limit"),
        (3_500_000, 1_000_000, "3.5 MB is over the 1.0 MB limit"),
        (2_040_000, 2_000_000, "2,040,000 bytes is over the 2,000,000 bytes limit"),
    ],
    ids=["tiny", "bytes", "megabytes", "rounding-hides-it"],
)
def test_oversize_message_never_reads_zero_megabytes(
    corpus: Path, size: int, limit: int, expected: str
) -> None:
    path = write(corpus, "big.txt", b"a" * size)
    with pytest.raises(DocumentError) as raised:
        load(path, corpus, max_bytes=limit)
    assert expected in str(raised.value)
    assert "0.0 MB" not in str(raised.value)


def test_a_fifo_in_the_corpus_is_refused_without_blocking(corpus: Path) -> None:
    os.mkfifo(corpus / "pipe.txt")
    with pytest.raises(DocumentError, match="not a regular file"):
        load(corpus / "pipe.txt", corpus)


@pytest.mark.parametrize("name", ["report.docx", "data.csv", "Makefile"])
def test_unsupported_suffix_is_refused(corpus: Path, name: str) -> None:
    path = write(corpus, name, "readable text, but not a supported type")
    with pytest.raises(DocumentError, match="unsupported file type") as raised:
        load(path, corpus)
    assert ".txt" in str(raised.value)  # the message lists what is supported


def test_discover_skips_hidden_files_and_the_sidecar_but_lists_unsupported_ones(
    corpus: Path,
) -> None:
    # Unsupported files are listed so that ingest reports them rather than ignoring them.
    names = ("a.txt", "b.MD", "c.html", "d.docx", ".hidden.txt", SIDECAR_NAME, "s/e.txt")
    for name in (*names, ".git/config", "s/sources.yaml"):
        write(corpus, name, "text")
    assert [p.relative_to(corpus).as_posix() for p in discover(corpus)] == [
        "a.txt",
        "b.MD",
        "c.html",
        "d.docx",
        "s/e.txt",
        "s/sources.yaml",  # only the top-level sidecar is the catalog
    ]


def test_discover_does_not_walk_into_symlinked_folders(tmp_path: Path, corpus: Path) -> None:
    outside = tmp_path / "outside"
    write(outside, "secret.txt", "TOP-SECRET")
    write(corpus, "inner/a.txt", "inside")
    (corpus / "escape").symlink_to(outside, target_is_directory=True)
    (corpus / "alias").symlink_to(corpus / "inner", target_is_directory=True)
    listed = [p.relative_to(corpus).as_posix() for p in discover(corpus)]
    # The escaping link is listed (so ingest reports it), never its content.
    assert listed == ["escape", "inner/a.txt"]
    with pytest.raises(DocumentError, match="outside the corpus"):
        load(corpus / "escape", corpus)


def test_discover_of_a_missing_folder_names_the_setting(tmp_path: Path) -> None:
    with pytest.raises(DocumentError, match="RAG_CORPUS_DIR"):
        discover(tmp_path / "nowhere")


# ---- paths outside the corpus -----------------------------------------------------


@pytest.mark.timeout(30)
def test_symlink_pointing_outside_the_corpus_is_refused_without_being_read(
    tmp_path: Path, corpus: Path
) -> None:
    # The link points at a FIFO: reading (or even opening) it would block forever,
    # so this test can only finish if the loader refuses before touching the target.
    fifo = tmp_path / "outside.txt"
    os.mkfifo(fifo)
    link = corpus / "innocent.txt"
    link.symlink_to(fifo)
    with pytest.raises(DocumentError, match="outside the corpus"):
        load(link, corpus)


def test_symlink_to_an_outside_file_does_not_leak_its_content(tmp_path: Path, corpus: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("root:TOP-SECRET-PASSWORD\n")
    link = corpus / "passwords.txt"
    link.symlink_to(secret)
    with pytest.raises(DocumentError, match="outside the corpus") as raised:
        load(link, corpus)
    assert "TOP-SECRET" not in str(raised.value)


def test_symlink_within_the_corpus_is_allowed(corpus: Path) -> None:
    target = write(corpus, "real.txt", "Inside the corpus.")
    link = corpus / "alias.txt"
    link.symlink_to(target)
    assert load(link, corpus).text == "Inside the corpus."


@pytest.mark.parametrize("relative", ["../outside.txt", "sub/../../outside.txt"])
def test_dotdot_paths_are_refused(tmp_path: Path, corpus: Path, relative: str) -> None:
    (tmp_path / "outside.txt").write_text("TOP-SECRET outside the corpus")
    (corpus / "sub").mkdir()
    with pytest.raises(DocumentError, match="outside the corpus") as raised:
        load(corpus / relative, corpus)
    assert "TOP-SECRET" not in str(raised.value)


def test_dotdot_that_stays_inside_the_corpus_is_normalised(corpus: Path) -> None:
    write(corpus, "a.txt", "Alpha text.")
    (corpus / "sub").mkdir()
    assert load(corpus / "sub" / ".." / "a.txt", corpus).source == "a.txt"


def test_ingest_reports_bad_files_without_loading_the_model(tmp_path: Path, corpus: Path) -> None:
    """Through the public API: refusals land in report.failed with a reason each."""
    from rag import Assistant

    secret = tmp_path / "secret.txt"
    secret.write_text("TOP-SECRET")
    (corpus / "link.txt").symlink_to(secret)
    write(corpus, "blob.txt", b"\x00\x01\x02binary")
    write(corpus, "empty.md", b"")
    assistant = Assistant(corpus_dir=corpus, index_dir=tmp_path / "index")
    report = assistant.ingest()
    reasons = {f["source"].rsplit("/", 1)[-1]: f["reason"] for f in report.failed}
    assert set(reasons) == {"link.txt", "blob.txt", "empty.md"}
    assert "outside the corpus" in reasons["link.txt"]
    assert "binary" in reasons["blob.txt"]
    assert "no text" in reasons["empty.md"]
    assert report.added == []
    assert assistant.sources() == []
    assert all("TOP-SECRET" not in r for r in reasons.values())
