"""The web app: its rendering and upload rules, then a real server over real HTTP.

The rendering tests need no server; the HTTP tests start `python app.py` on a free
loopback port with an empty index folder (tests/app_server.py) and talk to it with
gradio_client and plain HTTP, as scripts and other programs do.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from types import SimpleNamespace

import pytest

from app import (
    ChatApp,
    chat_text,
    citation_card,
    copy_text,
    parse_auth,
    retrieval_view,
    sources_section,
)
from rag import Answer, Assistant, Citation, RagError
from rag.documents import upload_target
from tests.app_server import AUTH, auth_app, plain_app
from tests.support import DOC_000, DOC_003, LIN_YUN_QUESTION, ROOT

HOSTILE = 'Keep <script>alert(1)</script> and <img src=x onerror="alert(2)"> as *text* [x](y).'


def _citation(text: str, quote: str, n: int = 1, source: str = "doc.md") -> Citation:
    start = text.index(quote)
    return Citation(n, source, "A <b>title</b>", quote, start, start + len(quote), 0.9)


# ---- rendering: document and model text is data ----------------------------------------


def test_chat_text_turns_markers_into_chips_and_escapes_markup() -> None:
    answer = Answer(
        "q",
        f"{HOSTILE} [1] Second sentence. [2]",
        False,
        [_citation(HOSTILE, "Keep"), _citation(HOSTILE, "text", n=2)],
    )
    rendered = chat_text(answer, answer_index=4)
    assert "<script>" not in rendered and "<img" not in rendered
    assert "&lt;script&gt;" in rendered and "&lt;img src=x" in rendered
    assert r"\*text\*" in rendered and r"\[x\]\(y\)" in rendered  # Markdown syntax is literal
    assert 'class="cite-chip cite-a4-n1"' in rendered
    assert 'class="cite-chip cite-a4-n2"' in rendered
    assert "[1]" not in rendered and "[2]" not in rendered


def test_chat_text_leaves_markers_without_a_citation_as_text() -> None:
    answer = Answer("q", "One [1] and [7].", False, [_citation("One", "One")])
    rendered = chat_text(answer)
    assert "cite-a0-n1" in rendered
    assert "cite-a0-n7" not in rendered and r"\[7\]" in rendered


def test_llm_answers_keep_markdown_but_never_html() -> None:
    answer = Answer(
        "q", "**Bold** claim <img src=x onerror=alert(1)> ![t](http://x/y.png) [1]", False
    )
    answer.mode = "some-model"
    answer.citations = [_citation("Bold claim", "Bold")]
    rendered = chat_text(answer)
    assert rendered.startswith("**Bold**")
    assert "<img" not in rendered and "&lt;img" in rendered
    assert "!\\[t]" in rendered  # no remote image is fetched from model output


def test_refusal_is_marked_as_not_in_the_documents() -> None:
    answer = Answer("q", "I couldn't find this in the documents.", True, note="weak <b>")
    rendered = chat_text(answer)
    assert "refusal-badge" in rendered and "Not in the documents" in rendered
    assert "weak &lt;b&gt;" in rendered
    section = sources_section(answer, lambda source: "", 0)
    assert "refused-panel" in section and "src-card" not in section


def test_citation_card_marks_the_quote_inside_its_paragraph_with_position() -> None:
    text = f"Title line\n\nFirst paragraph.\n\nBefore. {HOSTILE} After.\n\nLast."
    citation = _citation(text, HOSTILE)
    card = citation_card(citation, text, answer_index=2)
    assert 'id="src-2-1"' in card
    assert "<script>" not in card and "<img" not in card and "&lt;b&gt;title" in card
    assert "Before. <mark>Keep &lt;script&gt;" in card and "</mark> After." in card
    assert "paragraph 3 of 4" in card
    assert f"characters {citation.start:,}–{citation.end:,} of {len(text):,}" in card


def test_citation_card_clips_a_long_paragraph_around_the_quote() -> None:
    text = "word " * 400 + "THE QUOTE." + " tail" * 400
    card = citation_card(_citation(text, "THE QUOTE."), text, 0)
    assert "<mark>THE QUOTE.</mark>" in card
    assert card.count("…") == 2 and len(card) < 2000


def test_copy_text_holds_the_answer_and_every_source() -> None:
    text = "Alpha beta. Gamma delta."
    answer = Answer(
        "q",
        "Alpha beta. [1] Gamma delta. [2]",
        False,
        [_citation(text, "Alpha beta."), _citation(text, "Gamma delta.", n=2)],
    )
    copied = copy_text(answer)
    assert copied.startswith("Alpha beta. [1] Gamma delta. [2]\n\nSources:\n")
    assert '[1] A <b>title</b> (doc.md, characters 0–11): "Alpha beta."' in copied
    assert '[2] A <b>title</b> (doc.md, characters 12–24): "Gamma delta."' in copied


def test_retrieval_view_lists_passages_with_scores_and_marks_the_cited_one() -> None:
    text = "Alpha beta. Gamma <delta>."
    answer = Answer("q", "Alpha beta. [1]", False, [_citation(text, "Alpha beta.")])
    answer.retrieved = [
        {"source": "doc.md", "start": 0, "end": 11, "score": 0.0328, "dense": 0.61, "bm25": 2.5},
        {"source": "doc.md", "start": 12, "end": 26, "score": 0.0161, "dense": 0.2, "bm25": 0.0},
    ]
    view = retrieval_view(answer, lambda source: text, {"doc.md": "Doc"})
    assert view.count("<tr") == 3
    assert "0.0328" in view and "0.610" in view and "2.50" in view
    assert 'class="cited"' in view and "Gamma &lt;delta&gt;." in view


# ---- uploads: a name, never a path (the rules live in Assistant.upload) --------------------


def _no_progress(*args, **kwargs) -> None:
    pass


def _library(tmp_path: Path, **overrides) -> tuple[Assistant, Path]:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    return Assistant(corpus_dir=corpus, index_dir=tmp_path / "index", **overrides), corpus


def test_warm_up_computes_the_answer_vocabulary_and_freezes_what_lives_on(
    tmp_path: Path,
) -> None:
    import gc

    from rag.answer import _dictionary

    assistant, _ = _library(tmp_path)
    _dictionary.cache_clear()
    try:
        assistant.warm_up(LIN_YUN_QUESTION)  # nothing indexed: nothing to ask
        assert _dictionary.cache_info().currsize == 1
        assert gc.get_freeze_count() > 0  # what lives on is out of full collections' scan
    finally:
        gc.unfreeze()


@pytest.mark.parametrize(
    "name", ["../evil.txt", "../../etc/passwd.md", "a/b.txt", "..\\x.txt", "/abs.txt", ".."]
)
def test_upload_names_with_a_path_are_refused(tmp_path: Path, name: str) -> None:
    assistant, corpus = _library(tmp_path)
    report = assistant.upload([(name, b"Some text.")])
    assert report.added == [] and [f["source"] for f in report.failed] == [name]
    assert "without folders or '..'" in report.failed[0]["reason"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["corpus"]
    assert list(corpus.iterdir()) == []


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("notes.md", "notes.md"),
        ("My Report (final).PDF", "My_Report__final_.pdf"),
        ("résumé.txt", "résumé.txt"),
        ("page.HTML", "page.html"),
    ],
)
def test_upload_names_are_cleaned(tmp_path: Path, name: str, expected: str) -> None:
    assert upload_target(tmp_path, name) == tmp_path / expected


@pytest.mark.parametrize(
    "name", ["tool.exe", "archive.tar.gz", "noext", "...", "  ", ".hidden.md", "sources.yaml"]
)
def test_upload_names_of_unsupported_or_hidden_files_are_refused(tmp_path: Path, name: str) -> None:
    assistant, corpus = _library(tmp_path)
    report = assistant.upload([(name, b"Some text.")])
    assert report.added == [] and [f["source"] for f in report.failed] == [name]
    assert "refused" in report.failed[0]["reason"]
    assert list(corpus.iterdir()) == []


def test_upload_stores_into_the_corpus_only_and_keeps_the_old_version_on_failure(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assistant, corpus = _library(tmp_path)
    report = assistant.upload([("my notes.md", b"Some text.")])
    assert report.added == ["my_notes.md"] and report.failed == []
    assert (corpus / "my_notes.md").read_text() == "Some text."
    report = assistant.upload([("my notes.md", b"New text.")])
    assert report.updated == ["my_notes.md"] and report.failed == []
    assert (corpus / "my_notes.md").read_text() == "New text."
    assert assistant.document_text("my_notes.md") == "New text."
    # A replacement that is not a document leaves the indexed version in place.
    report = assistant.upload([("my notes.md", b"\x00\x01 binary \x00" * 20)])
    assert [f["source"] for f in report.failed] == ["my notes.md"]
    assert (corpus / "my_notes.md").read_text() == "New text."
    report = assistant.upload([("../outside.md", b"Escaped.")])
    assert [f["source"] for f in report.failed] == ["../outside.md"]
    assert not (tmp_path / "outside.md").exists()

    # The index itself failing (a fault no real component can be made to produce on
    # demand): the replaced file comes back, a new one goes, nothing hidden stays behind.
    def broken_sync(*args, **kwargs):
        raise RagError("the index is unavailable")

    monkeypatch.setattr(assistant.index, "sync", broken_sync)
    with pytest.raises(RagError, match="unavailable"):
        assistant.upload([("my notes.md", b"Third text."), ("fresh.md", b"Fresh text.")])
    assert sorted(p.name for p in corpus.iterdir()) == ["my_notes.md"]
    assert (corpus / "my_notes.md").read_text() == "New text."
    # One name twice in a batch: the version from before the batch comes back.
    with pytest.raises(RagError, match="unavailable"):
        assistant.upload([("my notes.md", b"Fourth text."), ("my notes.md", b"Fifth text.")])
    assert sorted(p.name for p in corpus.iterdir()) == ["my_notes.md"]
    assert (corpus / "my_notes.md").read_text() == "New text."


def test_upload_enforces_the_size_limit_and_refuses_empty_files(tmp_path: Path) -> None:
    assistant, corpus = _library(tmp_path, max_file_mb=0.002)
    report = assistant.upload([("big.txt", b"x" * 2001), ("empty.txt", b"")])
    assert [f["source"] for f in report.failed] == ["big.txt", "empty.txt"]
    assert "RAG_MAX_FILE_MB" in report.failed[0]["reason"]
    assert "empty" in report.failed[1]["reason"]
    assert list(corpus.iterdir()) == []


def test_the_library_upload_handler_reports_each_refusal_and_indexes_the_rest(
    tmp_path: Path,
) -> None:
    assistant, corpus = _library(tmp_path, max_file_mb=0.002)
    uploads = tmp_path / "uploads"
    uploads.mkdir()
    files = []
    for name, data in [
        ("ferry notes.md", b"The Ischia harbour office sells 300 ferry tickets a day.\n"),
        ("tool.exe", b"MZ binary"),
        ("big.txt", b"x" * 2001),
        ("blob.txt", b"\x00\x01\x02 not text \x00" * 20),
    ]:
        (uploads / name).write_bytes(data)
        files.append(str(uploads / name))
    escape = uploads / "escape.txt"
    escape.write_bytes(b"Escaped.")
    files.append(SimpleNamespace(name=str(escape), orig_name="../escape.txt"))
    message, rows, _choices, _status, cleared = ChatApp(assistant).add_files(
        files, progress=_no_progress
    )
    assert cleared is None
    assert "added: ferry_notes.md" in message
    assert "not indexed: tool.exe" in message and "unsupported file type" in message
    assert "not indexed: big.txt" in message and "RAG_MAX_FILE_MB" in message
    assert "not indexed: blob.txt" in message and "binary" in message
    assert "not indexed: ../escape.txt" in message
    assert [row[1] for row in rows] == ["ferry_notes.md"]
    assert sorted(p.name for p in corpus.iterdir()) == ["ferry_notes.md"]
    assert not (tmp_path / "escape.txt").exists()
    answer = assistant.ask("How many ferry tickets does the Ischia harbour office sell?")
    assert not answer.refused and answer.citations[0].source == "ferry_notes.md"


def test_auth_setting_must_be_user_and_password() -> None:
    assert parse_auth(None) is None and parse_auth("") is None
    assert parse_auth("ann:pa:ss") == ("ann", "pa:ss")
    for bad in ("ann", "ann:", ":pass"):
        with pytest.raises(SystemExit, match="RAG_AUTH"):
            parse_auth(bad)


# ---- a real server -----------------------------------------------------------------------


@pytest.fixture(scope="session")
def app_server(tmp_path_factory, request):
    return plain_app(tmp_path_factory, request)


@pytest.fixture(scope="session")
def auth_server(tmp_path_factory, request):
    return auth_app(tmp_path_factory, request)


def _client(url: str, **kwargs):
    from gradio_client import Client

    return Client(url, verbose=False, **kwargs)


@pytest.mark.slow
def test_ask_endpoint_answers_with_verbatim_citations(app_server) -> None:
    answer = _client(app_server.url).predict(LIN_YUN_QUESTION, api_name="/ask")
    assert answer["question"] == LIN_YUN_QUESTION
    assert answer["refused"] is False
    assert "[1]" in answer["text"]
    assert {c["source"] for c in answer["citations"]} & {DOC_000, DOC_003}
    quotes = " ".join(c["quote"] for c in answer["citations"])
    assert "upper hand" in quotes or "near-term advantage" in quotes
    for c in answer["citations"]:
        text = (ROOT / "corpus" / c["source"]).read_text(encoding="utf-8")
        assert text[c["start"] : c["end"]] == c["quote"]
    assert answer["retrieved"] and all("score" in p for p in answer["retrieved"])
    assert answer["mode"] == "extractive"


@pytest.mark.slow
def test_ask_endpoint_refuses_off_topic(app_server) -> None:
    answer = _client(app_server.url).predict("What is the capital of France?", api_name="/ask")
    assert answer["refused"] is True
    assert answer["citations"] == []


@pytest.mark.slow
def test_ask_endpoint_explains_an_empty_question(app_server) -> None:
    with pytest.raises(Exception, match="empty"):
        _client(app_server.url).predict("   ", api_name="/ask")


# (question, facts that must all be in the answer; None: must be refused)
MIXED = [
    (LIN_YUN_QUESTION, [("upper hand", "near-term advantage")]),
    ("Where does Stephen Casper work?", [("MIT",)]),
    (
        "Which nuclear disaster did the experts compare a possible AI catastrophe to?",
        [("Chernobyl",)],
    ),
    ("How urgent is alignment complexity rated?", [("Critical",)]),
    ("Which WIRED reporter was at the conference?", [("Will Knight",)]),
    ("What is the capital of France?", None),
    ("How do I make a sourdough starter?", None),
    ("Who won the 2018 football World Cup?", None),
    ("What's the boiling point of water in Fahrenheit?", None),
    ("When was Lin Yun born?", None),
]


@pytest.mark.slow
def test_twenty_concurrent_questions_all_come_back_right(app_server) -> None:
    questions = MIXED * 2

    def ask(item):
        question, _ = item
        return _client(app_server.url).predict(question, api_name="/ask")

    with ThreadPoolExecutor(max_workers=len(questions)) as pool:
        answers = list(pool.map(ask, questions))
    assert len(answers) == 20
    for (question, facts), answer in zip(questions, answers):
        assert answer["question"] == question
        if facts is None:
            assert answer["refused"] is True, (question, answer["text"])
            continue
        assert answer["refused"] is False, (question, answer["note"])
        for group in facts:
            assert any(f in answer["text"] for f in group), (question, answer["text"])
        for c in answer["citations"]:
            text = (ROOT / "corpus" / c["source"]).read_text(encoding="utf-8")
            assert text[c["start"] : c["end"]] == c["quote"]


@pytest.mark.slow
def test_login_covers_pages_and_the_ask_endpoint(auth_server) -> None:
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(auth_server.url + "config", timeout=30)
    assert refused.value.code in (401, 403)
    call = urllib.request.Request(
        auth_server.url + "gradio_api/call/ask",
        data=json.dumps({"data": [LIN_YUN_QUESTION]}).encode(),
        headers={"Content-Type": "application/json"},
    )
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(call, timeout=30)
    assert refused.value.code in (401, 403)
    with pytest.raises(Exception):  # noqa: B017 - gradio_client's error type varies by version
        _client(auth_server.url).predict(LIN_YUN_QUESTION, api_name="/ask")
    with pytest.raises(Exception):  # noqa: B017
        _client(auth_server.url, auth=(AUTH[0], "wrong")).predict(LIN_YUN_QUESTION, api_name="/ask")
    answer = _client(auth_server.url, auth=AUTH).predict(LIN_YUN_QUESTION, api_name="/ask")
    assert answer["refused"] is False and answer["citations"]


@pytest.mark.slow
def test_ask_route_is_open_without_rag_auth(app_server) -> None:
    call = urllib.request.Request(
        app_server.url + "gradio_api/call/ask",
        data=json.dumps({"data": [LIN_YUN_QUESTION]}).encode(),
        headers={"Content-Type": "application/json"},
    )
    reply = json.loads(urllib.request.urlopen(call, timeout=30).read())
    assert reply.get("event_id")


@pytest.mark.slow
def test_app_binds_loopback_and_opens_no_share_link(app_server) -> None:
    config = json.loads(urllib.request.urlopen(app_server.url + "config", timeout=30).read())
    assert config.get("share_url") in (None, "")
    assert "gradio.live" not in app_server.log()
    assert f"http://127.0.0.1:{app_server.port}" in app_server.log()


# ---- the chat handler over a real Assistant ------------------------------------------------


class StreamingAssistant:
    """The real Assistant plus the `stream` contract of the LLM path (text deltas, then
    the Answer), so the app's streaming branch runs before an LLM is configured."""

    def __init__(self, inner) -> None:
        self.inner = inner
        self.streamed: list[str] = []

    def __getattr__(self, name: str):
        return getattr(self.inner, name)

    def stream(self, question: str, history):
        answer = self.inner.ask(question, history=history)
        for word in answer.text.split(" "):
            self.streamed.append(word)
            yield word + " "
        yield answer


def _run_chat(handler, question: str, chat, records):
    """Drive respond() as Gradio does; return the chat states it showed and its last output."""
    shown, last = [], None
    for output in handler.respond(question, chat, records):
        if isinstance(output[0], list):
            shown.append(output[0][-1]["content"])
        last = output
    return shown, last


@pytest.mark.slow
@pytest.mark.parametrize("streaming", [False, True], ids=["extractive", "stream"])
def test_chat_shows_the_answer_progressively_then_with_chips(assistant, streaming) -> None:
    from app import ChatApp

    backend = StreamingAssistant(assistant) if streaming else assistant
    handler = ChatApp(backend)
    shown, last = _run_chat(handler, LIN_YUN_QUESTION, [], [])
    chat, box, sources, retrieval, status, records = last
    assert len(shown) >= 4  # placeholder, partial answers, the final answer
    partials = [s for s in shown[1:-1] if s.endswith("▍")]
    assert partials and all(len(a) <= len(b) for a, b in zip(partials, partials[1:]))
    assert "cite-chip cite-a0-n1" in chat[-1]["content"]
    assert "Lin Yun" in chat[-1]["content"]
    assert 'class="answer-sources current" data-answer="0"' in sources
    assert "<mark>" in sources and "retrieval-table" in retrieval
    assert "extractive" in status
    assert records[0]["question"] == LIN_YUN_QUESTION
    if streaming:
        assert backend.streamed  # the app consumed the stream

    # The follow-up gets the earlier turn as history: "he" is Lin Yun.
    _, last = _run_chat(handler, "Which university is he at?", chat, records)
    chat, _, sources, _, _, records = last
    assert "Jiao Tong" in chat[-1]["content"] or "Jia Tong" in chat[-1]["content"]
    assert "cite-a1-n1" in chat[-1]["content"] and len(records) == 2
    assert sources.count("answer-sources") == 2 and sources.count("current") == 1


@pytest.mark.slow
def test_chat_explains_a_question_it_cannot_take(assistant) -> None:
    from app import ChatApp

    _, last = _run_chat(ChatApp(assistant), "x" * 2001, [], [])
    message = last[0][-1]["content"]
    assert message.startswith("⚠️") and "the limit is 2,000" in message
    assert r"RAG\_MAX\_QUESTION\_CHARS" in message  # shown literally, Markdown-escaped
