"""The web chat in a real browser: Debian's headless Chromium driven by Playwright.

`make test` installs chromium when it is missing (as root); `playwright install`
cannot work here, so Playwright is pointed at /usr/bin/chromium. The app is the
real `python app.py`, started on a free loopback port with an empty index folder.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from tests.app_server import AUTH, auth_app, plain_app
from tests.support import DOC_000, DOC_003, LIN_YUN_QUESTION, ROOT

pytestmark = [pytest.mark.browser, pytest.mark.slow]

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
# Bounds for waits (the acceptance check allows 60 s from Enter to answer);
# they stop a hung test, they are not speed targets.
ANSWER_WAIT_MS = 60_000
INDEX_WAIT_MS = 300_000

LIN_YUN_TITLES = {
    DOC_000: "I Spoke with Leading AI Experts in China",
    DOC_003: "US and Chinese AI experts urge cooperation",
}


def _require_chromium() -> None:
    if CHROMIUM.exists():
        return
    message = (
        f"{CHROMIUM} is missing: the browser tests need Debian's chromium "
        "(as root: `make chromium`, or `apt-get install -y chromium`)."
    )
    if os.geteuid() == 0:  # CI runs as root, where `make test` installs it: a real failure
        pytest.fail(message)
    pytest.skip(message)


@pytest.fixture(scope="session")
def browser():
    _require_chromium()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        instance = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        yield instance
        instance.close()


@pytest.fixture(scope="session")
def app_server(tmp_path_factory, request):
    return plain_app(tmp_path_factory, request)


@pytest.fixture(scope="session")
def auth_server(tmp_path_factory, request):
    return auth_app(tmp_path_factory, request)


@pytest.fixture
def page(browser, app_server):
    """A new browser context per test: a new user with a chat of their own."""
    context = browser.new_context(viewport={"width": 1400, "height": 950})
    page = context.new_page()
    page.goto(app_server.url)
    page.locator("#question textarea").wait_for()
    yield page
    context.close()


def ask(page, question: str):
    """Type a question, press Enter, wait for the finished answer; return its chat bubble."""
    answered = page.locator("#sources .answer-sources").count()
    bubbles = page.locator('#chat [data-testid="bot"]')
    index = bubbles.count()
    box = page.locator("#question textarea")
    box.fill(question)
    box.press("Enter")
    page.wait_for_function(
        f"document.querySelectorAll('#sources .answer-sources').length > {answered}",
        timeout=ANSWER_WAIT_MS,
    )
    return bubbles.nth(index)  # a fixed position: later answers do not move it


def current_sources(page):
    return page.locator("#sources .answer-sources.current")


def test_design_card_question_is_answered_with_the_quote_and_its_source(page) -> None:
    bubble = ask(page, LIN_YUN_QUESTION)
    text = bubble.inner_text()
    assert "Lin Yun" in text
    assert "near-term advantage" in text or "upper hand" in text
    assert bubble.locator(".cite-chip").count() >= 1
    sources = current_sources(page)
    marks = " ".join(sources.locator("mark").all_inner_texts())
    assert "Lin Yun" in marks and ("near-term advantage" in marks or "upper hand" in marks)
    panel = sources.inner_text()
    assert any(source in panel and title in panel for source, title in LIN_YUN_TITLES.items())


def test_clicking_a_citation_chip_reveals_the_quote_in_its_paragraph(page) -> None:
    bubble = ask(page, LIN_YUN_QUESTION)
    chips = bubble.locator(".cite-chip")
    last = chips.count()
    assert last >= 1
    chips.nth(last - 1).click()
    card = page.locator("#sources .src-card.active")
    card.wait_for(state="visible")
    assert card.get_attribute("data-n") == str(last)
    meta = card.locator(".src-meta").inner_text()
    source = meta.split(" · ")[0].strip()
    start, end = (
        int(x.replace(",", ""))
        for x in re.search(r"characters ([\d,]+)–([\d,]+)", meta).groups()  # type: ignore[union-attr]
    )
    document = (ROOT / "corpus" / source).read_text(encoding="utf-8")
    quote = card.locator("mark").inner_text()
    assert document[start:end] == quote  # the highlighted text is the source at those offsets
    context = card.locator(".src-context").inner_text()
    assert len(context) > len(quote) and quote in context  # shown inside its paragraph
    assert re.search(r"paragraph \d+ of \d+", meta)
    assert card.evaluate(
        "el => { const r = el.getBoundingClientRect(); return r.top >= 0 && r.top < innerHeight; }"
    )


def test_chips_of_an_earlier_answer_show_that_answers_sources(page) -> None:
    first = ask(page, LIN_YUN_QUESTION)
    ask(page, "How urgent is alignment complexity rated?")
    assert "alignment complexity" in current_sources(page).inner_text().lower()
    first.locator(".cite-chip").first.click()
    page.locator("#sources .src-card.active").wait_for(state="visible")
    assert "Lin Yun" in current_sources(page).locator("mark").first.inner_text()


def test_a_refusal_is_shown_as_not_in_the_documents(page) -> None:
    bubble = ask(page, "What is the capital of France?")
    badge = bubble.locator(".refusal-badge")
    assert badge.is_visible() and badge.inner_text().lower() == "not in the documents"
    assert "couldn't find this in the documents" in bubble.inner_text()
    assert bubble.locator(".cite-chip").count() == 0
    assert current_sources(page).locator(".refused-panel").is_visible()


def test_copy_puts_the_answer_and_its_sources_on_the_clipboard(page, app_server) -> None:
    page.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=app_server.url)
    ask(page, LIN_YUN_QUESTION)
    page.locator("#copy-answer").click()
    page.wait_for_function("document.getElementById('copy-answer').textContent.includes('Copied')")
    copied = page.evaluate("navigator.clipboard.readText()")
    answer, _, sources = copied.partition("\n\nSources:\n")
    assert "Lin Yun" in answer and "[1]" in answer
    assert sources.startswith("[1] ")
    assert any(source in sources for source in LIN_YUN_TITLES)
    assert "near-term advantage" in sources or "upper hand" in sources


def test_status_and_retrieval_view_show_mode_index_size_and_scores(page) -> None:
    status = page.locator("#status")
    status.get_by_text("Answer mode").wait_for()
    assert re.search(r"Index\s*\d+ documents · [\d,]+ passages", status.inner_text())
    assert "extractive" in status.inner_text() and "top-k 6" in status.inner_text()
    ask(page, LIN_YUN_QUESTION)
    page.get_by_role("tab", name="Retrieval").click()
    rows = page.locator("#retrieval tbody tr")
    rows.first.wait_for()
    assert 1 <= rows.count() <= 6
    first = rows.first.locator("td")
    assert float(first.nth(2).inner_text()) > 0  # fused score
    assert -1 <= float(first.nth(3).inner_text()) <= 1  # cosine
    assert page.locator("#retrieval tr.cited").count() >= 1


def test_clear_chat_empties_the_chat_and_the_sources(page) -> None:
    ask(page, LIN_YUN_QUESTION)
    page.locator("#clear-chat").click()
    page.wait_for_function("!document.querySelector('#chat [data-testid=\"bot\"]')")
    assert page.locator("#sources .answer-sources").count() == 0


def test_two_users_each_get_their_own_chat(browser, app_server, page) -> None:
    other_context = browser.new_context()
    other = other_context.new_page()
    other.goto(app_server.url)
    other.locator("#question textarea").wait_for()
    ask(page, LIN_YUN_QUESTION)
    ask(other, "How urgent is alignment complexity rated?")
    assert "Lin Yun" not in other.locator("#chat").inner_text()
    assert "alignment" not in page.locator("#chat").inner_text().lower()
    other_context.close()


HOSTILE_DOC = """# Harbour log of the Zephyrine lighthouse <img src=x onerror="window.__pwned = 3">

Marta Quell kept the Zephyrine lighthouse for thirty-one winters on the island of Brevik.

In her log Marta Quell wrote the line <script>window.__pwned = 1</script> after the great storm.

Marta Quell also pasted the tag <img src=x onerror="window.__pwned = 2"> into the storm tally.
"""


def upload(page, path: Path) -> str:
    page.get_by_role("tab", name="Library").click()
    notice = page.locator("#library-notice")
    before = notice.inner_text()
    page.locator("#upload input[type=file]").set_input_files(str(path))
    page.wait_for_function(
        "(before) => { const n = document.querySelector('#library-notice .notice');"
        " return n && n.innerText !== before; }",
        arg=before,
        timeout=INDEX_WAIT_MS,
    )
    return notice.inner_text()


def test_uploaded_document_is_answerable_and_its_markup_shows_as_text(page, tmp_path) -> None:
    path = tmp_path / "harbour log.md"
    path.write_text(HOSTILE_DOC, encoding="utf-8")
    message = upload(page, path)
    assert "added: harbour_log.md" in message
    library = page.locator("#library")
    page.wait_for_function(
        "document.querySelector('#library').innerText.includes('Zephyrine lighthouse')"
    )
    assert "harbour_log.md" in library.inner_text()
    assert '<img src=x onerror="window.__pwned = 3">' in library.inner_text()  # the title, as text
    assert page.locator("#library img, #status img").count() == 0

    page.get_by_role("tab", name="Chat").click()
    bubble = ask(page, "What did Marta Quell write in her log?")
    assert "<script>window.__pwned = 1</script>" in bubble.inner_text()
    bubble = ask(page, "What tag did Marta Quell paste into the storm tally?")
    assert '<img src=x onerror="window.__pwned = 2">' in bubble.inner_text()
    assert "harbour_log.md" in current_sources(page).inner_text()
    assert '<img src=x onerror="window.__pwned = 2">' in current_sources(page).inner_text()
    assert page.evaluate("window.__pwned") is None
    assert page.locator("#chat script, #chat img, #sources script, #sources img").count() == 0


def test_upload_that_cannot_be_indexed_is_reported_and_leaves_nothing(
    page, tmp_path, app_server
) -> None:
    path = tmp_path / "blob.txt"
    path.write_bytes(b"\x00\x01\x02 not text \x00" * 50)
    message = upload(page, path)
    assert "not indexed: blob.txt" in message and "binary" in message
    assert "blob.txt" not in page.locator("#library").inner_text()
    assert not (app_server.corpus / "blob.txt").exists()


def test_upload_of_an_unsupported_type_is_refused_with_a_reason(page, tmp_path) -> None:
    path = tmp_path / "tool.exe"
    path.write_bytes(b"MZ\x00\x01binary")
    page.get_by_role("tab", name="Library").click()
    page.locator("#upload input[type=file]").set_input_files(str(path))
    # Gradio refuses the type before our handler runs, or our handler does: either way
    # the page says so and nothing lands in the library.
    page.get_by_text(re.compile(r"(unsupported file type|Invalid file type)", re.I)).first.wait_for(
        timeout=INDEX_WAIT_MS
    )
    assert "tool" not in page.locator("#library").inner_text()


def test_upload_over_the_size_limit_is_refused(page, tmp_path, app_server) -> None:
    limit_mb = float(app_server.env["RAG_MAX_FILE_MB"])
    path = tmp_path / "large.txt"
    path.write_text("Filler sentence about nothing in particular.\n" * int(limit_mb * 30_000))
    assert path.stat().st_size > limit_mb * 1_000_000
    page.get_by_role("tab", name="Library").click()
    page.locator("#upload input[type=file]").set_input_files(str(path))
    page.get_by_text(re.compile(r"(RAG_MAX_FILE_MB|too large|exceed)", re.I)).first.wait_for(
        timeout=INDEX_WAIT_MS
    )
    assert "large.txt" not in page.locator("#library").inner_text()
    assert not (app_server.corpus / "large.txt").exists()


def test_delete_then_reindex_keep_the_library_in_line(page, tmp_path, app_server) -> None:
    path = tmp_path / "orchard.txt"
    path.write_text(
        "Orchard notes.\n\nThe Velloran orchard grows 340 quince trees beside the old mill.\n",
        encoding="utf-8",
    )
    assert "added: orchard.txt" in upload(page, path)
    page.wait_for_function("document.querySelector('#library').innerText.includes('orchard.txt')")

    page.once("dialog", lambda dialog: dialog.accept())
    page.locator("#library-choice input").click()
    page.get_by_role("option", name=re.compile(r"orchard\.txt")).click()
    page.locator("#delete-doc").click()
    page.locator("#library-notice").get_by_text("Deleted orchard.txt").wait_for()
    assert "orchard.txt" not in page.locator("#library").inner_text()
    assert not (app_server.corpus / "orchard.txt").exists()

    page.locator("#reindex").click()
    page.locator("#library-notice").get_by_text("Re-index done").wait_for(timeout=INDEX_WAIT_MS)
    assert "orchard.txt" not in page.locator("#library").inner_text()
    page.get_by_role("tab", name="Chat").click()
    bubble = ask(page, "How many quince trees grow in the Velloran orchard?")
    assert bubble.locator(".refusal-badge").is_visible()


def test_login_is_required_when_rag_auth_is_set(browser, auth_server) -> None:
    context = browser.new_context()
    page = context.new_page()
    page.goto(auth_server.url)
    page.get_by_label(re.compile("username", re.I)).fill(AUTH[0])
    page.get_by_label(re.compile("password", re.I)).fill("wrong")
    page.get_by_role("button", name=re.compile("login", re.I)).click()
    page.get_by_text(re.compile("incorrect", re.I)).first.wait_for()
    assert page.locator("#question textarea").count() == 0
    page.get_by_label(re.compile("username", re.I)).fill(AUTH[0])  # the form was cleared
    page.get_by_label(re.compile("password", re.I)).fill(AUTH[1])
    page.get_by_role("button", name=re.compile("login", re.I)).click()
    page.locator("#question textarea").wait_for()
    bubble = ask(page, LIN_YUN_QUESTION)
    assert "Lin Yun" in bubble.inner_text()
    context.close()
