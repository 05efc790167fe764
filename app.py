"""The web chat: a thin Gradio layer over rag.Assistant.

    python app.py            # or: rag serve, make run

Binds RAG_HOST:RAG_PORT (127.0.0.1:7860 by default), indexes the corpus folder at
start, never opens a public share link; RAG_AUTH=user:password turns on a login that
covers the pages and the API. The named endpoint /ask returns answer.to_dict() for
gradio_client and scripts.

Everything that comes from a document or a model is data: it is HTML-escaped before
it reaches the page, so markup inside a document shows as text. The only markup on
the page is the markup built here.
"""

from __future__ import annotations

import html
import re
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

import gradio as gr

from rag import Answer, Assistant, RagError
from rag.documents import SUPPORTED_SUFFIXES

EXAMPLES = [
    "What did Lin Yun predict about attackers?",
    "Who organised the AI conference in Beijing?",
    "What did Stephen Casper compare AI cooperation to?",
    "How urgent is alignment complexity rated?",
    "What is the capital of France?",
]

UPLOAD_SUFFIXES = tuple(sorted(SUPPORTED_SUFFIXES))
MAX_SESSION_ANSWERS = 30  # source panels kept per chat, so old chips keep working
CONTEXT_CHARS = 360  # paragraph text shown on each side of a quote
STREAM_WORDS = 3  # words per step when an extractive answer is revealed progressively
STREAM_PAUSE = 0.03  # seconds between those steps

# System fonts only: the page must not fetch anything from the internet.
THEME_FONTS = ["ui-sans-serif", "system-ui", "Segoe UI", "Roboto", "Arial", "sans-serif"]
THEME_MONO = ["ui-monospace", "SFMono-Regular", "Menlo", "Consolas", "monospace"]

CSS = """
.gradio-container { max-width: 1320px !important; margin: 0 auto !important; }
#app-header h1 { font-size: 1.45rem; margin: 0 0 2px 0; }
#app-header p { margin: 0; opacity: 0.75; }
.status-bar { display: flex; flex-wrap: wrap; gap: 6px; margin: 4px 0 2px 0; }
.status-pill { font-size: 0.8rem; padding: 2px 10px; border-radius: 999px;
  background: var(--block-background-fill); border: 1px solid var(--border-color-primary); }
.status-pill b { font-weight: 600; }
.cite-chip { display: inline-flex; align-items: center; justify-content: center;
  min-width: 1.35em; height: 1.35em; padding: 0 5px; margin: 0 1px; border-radius: 999px;
  font-size: 0.72em; font-weight: 600; line-height: 1; vertical-align: super;
  background: #e0e7ff; color: #3730a3 !important; border: 1px solid #c7d2fe;
  cursor: pointer; text-decoration: none !important; user-select: none; }
.cite-chip:hover, .cite-chip:focus { background: #6366f1; color: #fff !important; }
.refusal-badge { display: inline-block; font-size: 0.75em; font-weight: 600;
  text-transform: uppercase; letter-spacing: 0.04em; padding: 1px 8px; margin-right: 6px;
  border-radius: 4px; background: #fef3c7; color: #92400e; border: 1px solid #fcd34d; }
.refusal-note { opacity: 0.7; font-size: 0.9em; }
#sources { max-height: 640px; overflow-y: auto; }
.answer-sources { display: none; }
.answer-sources.current { display: block; }
.src-question { font-size: 0.85rem; opacity: 0.7; margin: 0 0 8px 0; }
.src-card { border: 1px solid var(--border-color-primary); border-left: 4px solid #6366f1;
  border-radius: 8px; padding: 10px 12px; margin: 0 0 10px 0;
  background: var(--block-background-fill); transition: box-shadow 0.3s, border-color 0.3s; }
.src-card.active { border-color: #6366f1; box-shadow: 0 0 0 3px rgba(99,102,241,0.25); }
.src-card.flash { animation: src-flash 1.2s ease-out; }
@keyframes src-flash { from { background: rgba(99,102,241,0.18); } }
.src-head { display: flex; gap: 8px; align-items: baseline; }
.src-head .cite-chip { vertical-align: baseline; font-size: 0.75rem; cursor: default; }
.src-title { font-weight: 600; }
.src-meta { font-size: 0.78rem; opacity: 0.7; margin: 2px 0 6px 0; }
.src-context { font-size: 0.9rem; line-height: 1.5; margin: 0; white-space: pre-wrap; }
.src-context mark { background: #fde68a; color: inherit; padding: 1px 2px; border-radius: 2px; }
.src-card.active .src-context mark { background: #fcd34d; }
.refused-panel { border: 1px solid #fcd34d; border-left: 4px solid #f59e0b; border-radius: 8px;
  padding: 10px 12px; background: rgba(254,243,199,0.35); }
.empty-panel { opacity: 0.65; font-size: 0.9rem; padding: 8px 2px; }
.retrieval-table { width: 100%; border-collapse: collapse; font-size: 0.82rem; }
.retrieval-table th, .retrieval-table td { text-align: left; vertical-align: top;
  padding: 6px 6px; border-bottom: 1px solid var(--border-color-primary); }
.retrieval-table td.num { font-variant-numeric: tabular-nums; white-space: nowrap; }
.retrieval-table tr.cited td:first-child { border-left: 3px solid #6366f1; }
.notice { border-radius: 8px; padding: 8px 12px; margin: 4px 0; font-size: 0.9rem; }
.notice.ok { background: rgba(16,185,129,0.10); border: 1px solid rgba(16,185,129,0.4); }
.notice.error { background: rgba(239,68,68,0.08); border: 1px solid rgba(239,68,68,0.4); }
.notice ul { margin: 4px 0 0 18px; }
#library * { font-family: var(--font) !important; }
#chat .message-content { font-size: 0.97rem; line-height: 1.55; }
"""

# Chips and the copy button work in the browser alone: the panel for every answer of
# the chat is on the page, and a click on chip n of answer a shows that card.
HEAD = """
<script>
(() => {
  function sourcesTab() {
    return Array.from(document.querySelectorAll('button[role="tab"]'))
      .find(b => b.textContent.trim() === 'Sources');
  }
  function showCitation(answer, n) {
    const tab = sourcesTab();
    if (tab && tab.getAttribute('aria-selected') !== 'true') tab.click();
    setTimeout(() => {
      const panel = document.getElementById('sources');
      if (!panel) return;
      let section = null;
      panel.querySelectorAll('.answer-sources').forEach(s => {
        const on = s.dataset.answer === String(answer);
        s.classList.toggle('current', on);
        if (on) section = s;
      });
      if (!section) return;
      const card = section.querySelector('.src-card[data-n="' + n + '"]');
      panel.querySelectorAll('.src-card').forEach(c => c.classList.toggle('active', c === card));
      if (!card) return;
      card.classList.remove('flash'); void card.offsetWidth; card.classList.add('flash');
      card.scrollIntoView({behavior: 'smooth', block: 'nearest'});
    }, 30);
  }
  // The chat's sanitizer drops data-* attributes, so a chip's class names its target.
  function target(event) {
    const chip = event.target.closest && event.target.closest('#chat .cite-chip');
    if (!chip) return null;
    for (const name of chip.classList) {
      const found = /^cite-a(\\d+)-n(\\d+)$/.exec(name);
      if (found) return found;
    }
    return null;
  }
  document.addEventListener('click', (event) => {
    const found = target(event);
    if (!found) return;
    event.preventDefault();
    event.stopPropagation();
    showCitation(found[1], found[2]);
  }, true);
  document.addEventListener('keydown', (event) => {
    const found = target(event);
    if (found && (event.key === 'Enter' || event.key === ' ')) {
      event.preventDefault();
      showCitation(found[1], found[2]);
    }
  }, true);
  window.ragCopyAnswer = async () => {
    const holder = document.querySelector('#sources .answer-sources.current .copy-text');
    const button = document.getElementById('copy-answer');
    const say = (label) => {
      if (!button) return;
      const old = button.dataset.label || button.textContent;
      button.dataset.label = old;
      button.textContent = label;
      setTimeout(() => { button.textContent = old; }, 1600);
    };
    if (!holder) { say('Nothing to copy yet'); return; }
    const text = holder.textContent;
    try {
      await navigator.clipboard.writeText(text);
    } catch (error) {
      const area = document.createElement('textarea');
      area.value = text; document.body.appendChild(area); area.select();
      document.execCommand('copy'); area.remove();
    }
    say('Copied ✓');
  };
})();
</script>
"""


# ---- rendering: every piece of document or model text goes through html.escape ----------


_MARKDOWN_SPECIALS = re.compile(r"([\\`*_{}\[\]()#+\-.!|~>])")
_MARKER = re.compile(r"\[(\d+)\]")


def _literal(text: str) -> str:
    """Text shown exactly as written: no HTML, no Markdown syntax."""
    return _MARKDOWN_SPECIALS.sub(r"\\\1", html.escape(text, quote=False))


def _markdown_without_html(text: str) -> str:
    """A model's Markdown (lists, emphasis) kept; raw HTML and remote images are not."""
    return html.escape(text, quote=False).replace("![", "!\\[")


def chip(answer_index: int, n: int) -> str:
    return (
        f'<span class="cite-chip cite-a{answer_index}-n{n}" role="button" tabindex="0" '
        f'title="Show source {n}">{n}</span>'
    )


def chat_text(answer: Answer, answer_index: int = 0) -> str:
    """The answer as chat Markdown: its text escaped, each [n] a clickable chip.

    Extractive answers are document sentences, shown literally; an LLM's answer keeps
    its Markdown formatting but never its HTML.
    """
    note = f'\n\n<span class="refusal-note">{_literal(answer.note)}</span>' if answer.note else ""
    if answer.refused:
        badge = '<span class="refusal-badge">Not in the documents</span>'
        return f"{badge} {_literal(answer.text)}{note}"
    render = _literal if answer.mode == "extractive" else _markdown_without_html
    cited = {c.n for c in answer.citations}
    parts: list[str] = []
    last = 0
    for match in _MARKER.finditer(answer.text):
        n = int(match.group(1))
        if n not in cited:
            continue
        parts.append(render(answer.text[last : match.start()]).rstrip(" "))
        parts.append(chip(answer_index, n))
        last = match.end()
    parts.append(render(answer.text[last:]))
    return "".join(parts) + note


def partial_text(text: str, mode: str) -> str:
    """A streamed answer so far (markers stay plain until the answer is complete)."""
    return (_literal if mode == "extractive" else _markdown_without_html)(text) + " ▍"


def _paragraph(text: str, start: int, end: int) -> tuple[int, int, int, int]:
    """Bounds of the paragraph around text[start:end], its number and the paragraph count."""
    para_start = text.rfind("\n", 0, start) + 1
    para_end = text.find("\n", end)
    para_end = len(text) if para_end == -1 else para_end
    number = sum(1 for line in text[:para_start].split("\n") if line.strip()) + 1
    total = sum(1 for line in text.split("\n") if line.strip())
    return para_start, para_end, number, max(total, number)


def _clip_left(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    cut = text[-limit:]
    space = cut.find(" ")
    return "…" + (cut[space + 1 :] if 0 <= space < 40 else cut)


def _clip_right(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    cut = text[:limit]
    space = cut.rfind(" ")
    return (cut[:space] if space > limit - 40 else cut) + "…"


def citation_card(citation: Any, document: str, answer_index: int) -> str:
    """One source card: title, position in the document, the quote marked in its paragraph."""
    para_start, para_end, number, total = _paragraph(document, citation.start, citation.end)
    before = _clip_left(document[para_start : citation.start], CONTEXT_CHARS)
    after = _clip_right(document[citation.end : para_end], CONTEXT_CHARS)
    share = round(100 * citation.start / max(len(document), 1))
    e = html.escape
    return (
        f'<article class="src-card" id="src-{answer_index}-{citation.n}" '
        f'data-n="{citation.n}">'
        f'<div class="src-head"><span class="cite-chip">{citation.n}</span>'
        f'<span class="src-title">{e(citation.title)}</span></div>'
        f'<div class="src-meta"><code>{e(citation.source)}</code> · paragraph {number} of '
        f"{total} · characters {citation.start:,}–{citation.end:,} of {len(document):,} "
        f"({share}% in)</div>"
        f'<p class="src-context">{e(before)}<mark>{e(citation.quote)}</mark>{e(after)}</p>'
        "</article>"
    )


def copy_text(answer: Answer) -> str:
    """The answer with its sources, as plain text for the clipboard."""
    lines = [answer.text]
    if answer.citations:
        lines += ["", "Sources:"]
        lines += [
            f'[{c.n}] {c.title} ({c.source}, characters {c.start}–{c.end}): "{c.quote}"'
            for c in answer.citations
        ]
    return "\n".join(lines)


def sources_section(answer: Answer, document_text: Any, answer_index: int) -> str:
    """The sources panel for one answer (hidden unless it is the current one)."""
    e = html.escape
    head = f'<div class="src-question">Sources for “{e(answer.question)}”</div>'
    if answer.refused:
        body = (
            '<div class="refused-panel"><b>Not in the documents.</b> No passage answers this '
            "question, so nothing is cited. The passages that came closest are in the "
            "Retrieval tab.</div>"
        )
    else:
        cards = []
        for citation in answer.citations:
            try:
                cards.append(citation_card(citation, document_text(citation.source), answer_index))
            except RagError as exc:  # the document was deleted since; say so on the card
                cards.append(
                    f'<article class="src-card" data-n="{citation.n}"><b>[{citation.n}]</b> '
                    f"{e(citation.title)}: {e(str(exc))}</article>"
                )
        body = "".join(cards)
    return (
        f'<section class="answer-sources" data-answer="{answer_index}">{head}{body}'
        f'<pre class="copy-text" hidden>{e(copy_text(answer))}</pre></section>'
    )


def sources_panel(sections: Sequence[str], current: int | None = None) -> str:
    if not sections:
        return (
            '<div class="empty-panel">Citations appear here. Click a numbered chip in an '
            "answer to see its quote highlighted in the document.</div>"
        )
    current = len(sections) - 1 if current is None else current
    return "".join(
        s.replace('class="answer-sources"', 'class="answer-sources current"', 1)
        if i == current
        else s
        for i, s in enumerate(sections)
    )


def retrieval_view(answer: Answer, document_text: Any, titles: dict[str, str]) -> str:
    """The passages retrieved for the last answer, with their scores."""
    if not answer.retrieved:
        return '<div class="empty-panel">No passages were retrieved.</div>'
    e = html.escape
    cited = {(c.source, c.start) for c in answer.citations}
    rows = []
    for rank, passage in enumerate(answer.retrieved, 1):
        source, start, end = passage["source"], passage["start"], passage["end"]
        try:
            excerpt = _clip_right(document_text(source)[start:end], 260)
        except RagError:
            excerpt = "(document no longer indexed)"
        is_cited = any(s == source and start <= cs < end for s, cs in cited)
        rows.append(
            f'<tr class="{"cited" if is_cited else ""}"><td class="num">{rank}</td>'
            f"<td><b>{e(titles.get(source, source))}</b><br><code>{e(source)}</code> "
            f"{start:,}–{end:,}{' · <b>cited</b>' if is_cited else ''}<br>{e(excerpt)}</td>"
            f'<td class="num">{_score(passage.get("score"), 4)}</td>'
            f'<td class="num">{_score(passage.get("dense"), 3)}</td>'
            f'<td class="num">{_score(passage.get("bm25"), 2)}</td></tr>'
        )
    return (
        f'<div class="src-question">Retrieved for “{e(answer.question)}” '
        f"({len(rows)} passages, best first)</div>"
        '<table class="retrieval-table"><thead><tr><th>#</th><th>Passage</th>'
        '<th title="reciprocal-rank fusion of dense and BM25">fused</th>'
        '<th title="cosine similarity to the question">dense</th><th>BM25</th></tr></thead>'
        f"<tbody>{''.join(rows)}</tbody></table>"
    )


def _score(value: Any, digits: int) -> str:
    return "–" if value is None else f"{float(value):.{digits}f}"


def answer_mode(assistant: Assistant, last_mode: str | None = None) -> str:
    """'extractive', or the LLM's model name: from the last answer when there is one."""
    if last_mode:
        return last_mode
    describe = getattr(assistant, "answer_mode", None)
    if callable(describe):
        return str(describe())
    if isinstance(describe, str):
        return describe
    return "extractive"


def status_html(assistant: Assistant, mode: str | None = None) -> str:
    sources = assistant.sources()
    passages = sum(s["chunks"] for s in sources)
    sentences = sum(s["sentences"] for s in sources)
    e = html.escape
    pills = [
        f"<b>Answer mode</b> {e(answer_mode(assistant, mode))}",
        f"<b>Index</b> {len(sources)} documents · {passages:,} passages · {sentences:,} sentences",
        f"<b>top-k</b> {assistant.settings.top_k}",
    ]
    return (
        '<div class="status-bar">'
        + "".join(f'<span class="status-pill">{p}</span>' for p in pills)
        + "</div>"
    )


def library_rows(assistant: Assistant) -> list[list[Any]]:
    return [
        [
            s["title"],
            s["source"],
            s["chunks"],
            s["sentences"],
            datetime.fromtimestamp(s["added_at"]).strftime("%Y-%m-%d %H:%M"),
        ]
        for s in assistant.sources()
    ]


def settings_markdown(assistant: Assistant) -> str:
    s = assistant.settings
    rows = [
        ("Corpus folder", "RAG_CORPUS_DIR", s.corpus_dir),
        ("Index folder", "RAG_INDEX_DIR", s.index_dir),
        ("Passages retrieved (top-k)", "RAG_TOP_K", s.top_k),
        ("Refuse below relevance", "RAG_MIN_RELEVANCE", s.min_relevance),
        ("Refuse below key-term coverage", "RAG_MIN_COVERAGE", s.min_coverage),
        ("Longest question", "RAG_MAX_QUESTION_CHARS", f"{s.max_question_chars:,} characters"),
        ("Largest document", "RAG_MAX_FILE_MB", f"{s.max_file_mb:g} MB"),
        ("Questions answered at once", "RAG_CONCURRENCY", s.concurrency),
        ("Questions held waiting", "RAG_QUEUE_SIZE", s.queue_size),
        ("Login required", "RAG_AUTH", "yes" if s.auth else "no"),
    ]
    table = "\n".join(f"| {label} | `{var}` | {_literal(str(v))} |" for label, var, v in rows)
    return (
        "Settings come from `RAG_*` environment variables or a `.env` file; restart the app "
        "to change them.\n\n| setting | variable | value |\n|---|---|---|\n" + table
    )


def notice(kind: str, title: str, items: Sequence[str] = ()) -> str:
    listed = "".join(f"<li>{html.escape(i)}</li>" for i in items)
    return (
        f'<div class="notice {kind}"><b>{html.escape(title)}</b>'
        f"{f'<ul>{listed}</ul>' if listed else ''}</div>"
    )


def report_notice(report: Any, action: str) -> str:
    data = report.to_dict()
    items = [
        f"{label}: {', '.join(data[key])}"
        for key, label in [
            ("added", "added"),
            ("updated", "updated"),
            ("removed", "removed"),
        ]
        if data[key]
    ]
    if data["unchanged"]:
        items.append(f"unchanged: {len(data['unchanged'])} document(s)")
    items += [f"not indexed: {f['source']}: {f['reason']}" for f in data["failed"]]
    kind = "error" if data["failed"] else "ok"
    title = f"{action} done in {data['seconds']:.1f} s" + (
        f", {len(data['failed'])} file(s) failed" if data["failed"] else ""
    )
    return notice(kind, title, items)


# ---- uploads ------------------------------------------------------------------------------


def _upload_name(item: Any) -> tuple[Path, str]:
    """The temporary path Gradio saved an upload to, and the name the user gave it."""
    path = Path(getattr(item, "name", None) or str(item))
    original = getattr(item, "orig_name", None) or path.name
    return path, original


# ---- the app ------------------------------------------------------------------------------


class ChatApp:
    """Event handlers of the page, each a few lines over Assistant."""

    def __init__(self, assistant: Assistant) -> None:
        self.assistant = assistant
        self.library_lock = threading.Lock()  # one library change at a time

    # ---- chat ----

    def plain_history(self, records: list[dict[str, Any]]) -> list[dict[str, str]]:
        history: list[dict[str, str]] = []
        for record in records:
            history.append({"role": "user", "content": record["question"]})
            history.append({"role": "assistant", "content": record["text"]})
        return history

    def stream_answer(
        self, question: str, history: list[dict[str, str]]
    ) -> Iterator[tuple[str, Answer | None]]:
        """Yields (text so far, None) while the answer forms, then (text, Answer)."""
        stream = getattr(self.assistant, "stream", None)
        if not callable(stream):
            answer = self.assistant.ask(question, history=history)
            yield from self._reveal("", answer.text)
            yield answer.text, answer
            return
        text = ""
        for item in stream(question, history):
            if isinstance(item, Answer):
                yield item.text, item
                return
            yield from self._reveal(text, str(item))
            text += str(item)
        raise RagError("The answer stream ended without an answer.")

    @staticmethod
    def _reveal(before: str, delta: str) -> Iterator[tuple[str, None]]:
        """A model streams a few words at a time; a whole answer arriving at once (the
        extractive one) is revealed a few words at a time too, so both read alike."""
        pieces = re.split(r"(\s+)", delta)
        if len(pieces) <= STREAM_WORDS * 2:
            yield before + delta, None
            return
        for end in range(STREAM_WORDS * 2, len(pieces), STREAM_WORDS * 2):
            yield before + "".join(pieces[:end]), None
            time.sleep(STREAM_PAUSE)
        yield before + delta, None

    def respond(self, message: str, chat: list[dict[str, Any]], records: list[dict[str, Any]]):
        question = (message or "").strip()
        if not question:
            yield gr.skip(), gr.skip(), gr.skip(), gr.skip(), gr.skip(), gr.skip()
            return
        records = list(records or [])
        chat = [*(chat or []), {"role": "user", "content": _literal(question)}]
        chat.append({"role": "assistant", "content": "Searching the documents… ▍"})
        yield chat, "", gr.skip(), gr.skip(), gr.skip(), records
        answer = None
        try:
            for text, answer in self.stream_answer(question, self.plain_history(records)):
                if answer is None:
                    uses_llm = getattr(self.assistant, "llm", None) is not None
                    mode = "llm" if uses_llm else "extractive"
                    chat[-1] = {"role": "assistant", "content": partial_text(text, mode)}
                    yield chat, gr.skip(), gr.skip(), gr.skip(), gr.skip(), gr.skip()
        except (ValueError, RagError) as exc:
            print(f"question failed: {exc}", file=sys.stderr)
            chat[-1] = {"role": "assistant", "content": f"⚠️ {_literal(str(exc))}"}
            yield chat, gr.skip(), gr.skip(), gr.skip(), gr.skip(), gr.skip()
            return
        assert answer is not None
        index = len(records)
        chat[-1] = {"role": "assistant", "content": chat_text(answer, index)}
        section = sources_section(answer, self.assistant.document_text, index)
        records.append(
            {"question": question, "text": answer.text, "mode": answer.mode, "section": section}
        )
        kept = records[-MAX_SESSION_ANSWERS:]
        titles = {s["source"]: s["title"] for s in self.assistant.sources()}
        yield (
            chat,
            gr.skip(),
            sources_panel([r["section"] for r in kept]),
            retrieval_view(answer, self.assistant.document_text, titles),
            status_html(self.assistant, answer.mode),
            records,
        )

    def ask(self, question: str) -> dict:
        """Answer one question; returns answer.to_dict() (text, refused, citations)."""
        try:
            return self.assistant.ask(question).to_dict()
        except ValueError as exc:
            raise gr.Error(str(exc)) from exc

    # ---- library ----

    def library_outputs(self, message: str) -> tuple[Any, ...]:
        rows = library_rows(self.assistant)
        choices = [(f"{r[0]} ({r[1]})", r[1]) for r in rows]
        return (
            message,
            rows,
            gr.update(choices=choices, value=None),
            status_html(self.assistant),
        )

    def add_files(self, files: list[Any] | None, progress: gr.Progress | None = None):
        progress = progress or gr.Progress()
        files = [f for f in (files or []) if f]
        if not files:
            return (*self.library_outputs(notice("error", "Choose a file to add.")), None)
        uploads: list[tuple[str, bytes]] = []
        problems: list[str] = []
        with self.library_lock:
            progress(0.05, desc="Reading the uploaded files")
            for item in files:
                path, name = _upload_name(item)
                try:
                    uploads.append((name, path.read_bytes()))
                except OSError as exc:
                    problems.append(f"{name}: cannot read the upload ({exc.strerror}).")
            progress(0.2, desc=f"Indexing {len(uploads)} document(s)")
            try:
                report = self.assistant.upload(uploads)
            except RagError as exc:  # the index itself failed; upload() took every file back
                message = notice("error", "Nothing was added.", [*problems, str(exc)])
                return (*self.library_outputs(message), None)
            progress(1.0, desc="Done")
        message = report_notice(report, "Upload")
        if problems:
            message = notice("error", "Some files could not be read.", problems) + message
        return (*self.library_outputs(message), None)

    def delete(self, source: str | None):
        if not source:
            return self.library_outputs(notice("error", "Choose a document to delete."))
        with self.library_lock:
            known = {s["source"] for s in self.assistant.sources()}
            if source not in known:  # only indexed sources, never a path from the page
                return self.library_outputs(notice("error", f"{source} is not in the library."))
            self.assistant.remove([source])
            corpus = Path(self.assistant.settings.corpus_dir).resolve()
            path = (corpus / source).resolve()
            if path.is_relative_to(corpus) and path.is_file():
                path.unlink()
        return self.library_outputs(notice("ok", f"Deleted {source} from the library."))

    def reindex(self, progress: gr.Progress | None = None):
        progress = progress or gr.Progress()
        with self.library_lock:
            progress(0.1, desc="Indexing the corpus folder")
            report = self.assistant.ingest(show_progress=True)
            progress(1.0, desc="Done")
        return self.library_outputs(report_notice(report, "Re-index"))


def build_app(assistant: Assistant) -> gr.Blocks:
    handlers = ChatApp(assistant)
    settings = assistant.settings
    kinds = ", ".join(UPLOAD_SUFFIXES)

    with gr.Blocks(title="rag — cited answers from your documents") as demo:
        with gr.Row(equal_height=True):
            with gr.Column(scale=3, elem_id="app-header"):
                gr.HTML(
                    "<h1>Ask your documents</h1><p>Every answer cites the exact sentences it "
                    "comes from; when the documents do not say, it tells you so.</p>"
                )
            with gr.Column(scale=2):
                status = gr.HTML(elem_id="status")
        records = gr.State([])
        with gr.Tabs():
            with gr.Tab("Chat", id="chat-tab"), gr.Row():
                with gr.Column(scale=7):
                    chatbot = gr.Chatbot(
                        elem_id="chat",
                        show_label=False,
                        height=520,
                        sanitize_html=True,
                        allow_tags=False,
                        feedback_options=None,
                        buttons=[],
                        layout="bubble",
                        placeholder=(
                            "**Ask a question about the documents.** Answers cite their "
                            "sources as numbered chips; click one to see the quote in "
                            "its paragraph."
                        ),
                    )
                    with gr.Row(equal_height=True):
                        box = gr.Textbox(
                            elem_id="question",
                            placeholder="Ask a question about the documents…",
                            show_label=False,
                            scale=8,
                            max_lines=4,
                            autofocus=True,
                            container=False,
                        )
                        send = gr.Button("Ask", variant="primary", scale=1, min_width=80)
                    with gr.Row(elem_id="chat-actions"):
                        copy = gr.Button(
                            "Copy answer with sources",
                            elem_id="copy-answer",
                            size="sm",
                            scale=0,
                            min_width=190,
                        )
                        clear = gr.Button(
                            "Clear chat", elem_id="clear-chat", size="sm", scale=0, min_width=110
                        )
                    gr.Examples(EXAMPLES, inputs=box, label="Example questions")
                with gr.Column(scale=5), gr.Tabs():
                    with gr.Tab("Sources", id="sources-tab"):
                        sources = gr.HTML(sources_panel([]), elem_id="sources")
                    with gr.Tab("Retrieval", id="retrieval-tab"):
                        retrieval = gr.HTML(
                            '<div class="empty-panel">The passages retrieved for '
                            "the last answer, with their scores.</div>",
                            elem_id="retrieval",
                        )
            with gr.Tab("Library", id="library-tab"):
                library = gr.Dataframe(
                    headers=["Title", "File", "Passages", "Sentences", "Added"],
                    datatype=["str", "str", "number", "number", "str"],
                    interactive=False,
                    wrap=True,
                    elem_id="library",
                    column_widths=["42%", "26%", "9%", "9%", "14%"],
                )
                with gr.Row():
                    with gr.Column(scale=3):
                        upload = gr.File(
                            label=f"Add documents ({kinds}; up to {settings.max_file_mb:g} MB)",
                            file_count="multiple",
                            file_types=list(UPLOAD_SUFFIXES),
                            elem_id="upload",
                            height=140,
                        )
                    with gr.Column(scale=2):
                        chosen = gr.Dropdown(
                            label="Document to delete", choices=[], elem_id="library-choice"
                        )
                        with gr.Row():
                            delete = gr.Button("Delete", variant="stop", elem_id="delete-doc")
                            reindex = gr.Button("Re-index folder", elem_id="reindex")
                library_notice = gr.HTML(elem_id="library-notice")
            with gr.Tab("Settings", id="settings-tab"):
                gr.Markdown(settings_markdown(assistant))

        ask_inputs = [box, chatbot, records]
        ask_outputs = [chatbot, box, sources, retrieval, status, records]
        for trigger in (box.submit, send.click):
            trigger(
                handlers.respond,
                ask_inputs,
                ask_outputs,
                api_visibility="private",
                trigger_mode="once",
                show_progress="hidden",
            )

        def clear_chat():
            return [], [], sources_panel([]), "", status_html(assistant)

        clear_outputs = [chatbot, records, sources, retrieval, status]
        clear.click(clear_chat, None, clear_outputs, api_visibility="private")
        # The chat's own trash icon clears the same way: no sources left of a gone chat.
        chatbot.clear(clear_chat, None, clear_outputs, api_visibility="private")
        copy.click(None, None, None, js="() => window.ragCopyAnswer()")

        library_outputs = [library_notice, library, chosen, status]
        upload.upload(
            handlers.add_files,
            upload,
            [*library_outputs, upload],
            api_visibility="private",
            concurrency_id="library",
            concurrency_limit=1,
            show_progress_on=[library_notice, library],
        )
        delete.click(
            handlers.delete,
            chosen,
            library_outputs,
            js="(source) => (source && confirm('Delete ' + source + ' from the library?')) "
            "? source : null",
            api_visibility="private",
            concurrency_id="library",
            concurrency_limit=1,
        )
        reindex.click(
            handlers.reindex,
            None,
            library_outputs,
            api_visibility="private",
            concurrency_id="library",
            concurrency_limit=1,
        )
        demo.load(
            lambda: handlers.library_outputs("")[1:],
            None,
            [library, chosen, status],
            api_visibility="private",
        )
        gr.api(handlers.ask, api_name="ask")
    return demo


def theme() -> gr.themes.Base:
    return gr.themes.Soft(
        primary_hue="indigo", neutral_hue="slate", font=THEME_FONTS, font_mono=THEME_MONO
    )


def parse_auth(value: str | None) -> tuple[str, str] | None:
    """RAG_AUTH=user:password; anything else is an error, never a silently open app."""
    if not value:
        return None
    user, sep, password = value.partition(":")
    if not sep or not user or not password:
        raise SystemExit("RAG_AUTH must be user:password (both non-empty).")
    return user, password


def serve(host: str | None = None, port: int | None = None) -> None:
    assistant = Assistant()
    settings = assistant.settings
    auth = parse_auth(settings.auth)
    print(f"indexing {settings.corpus_dir} …", file=sys.stderr)
    report = assistant.ingest()
    for failure in report.failed:
        print(f"not indexed: {failure['source']}: {failure['reason']}", file=sys.stderr)
    assistant.warm_up(EXAMPLES[0])  # not the first user's question
    demo = build_app(assistant)
    demo.queue(default_concurrency_limit=settings.concurrency, max_size=settings.queue_size)
    demo.launch(
        server_name=host or settings.host,
        server_port=port or settings.port,
        auth=auth,
        auth_message="Sign in to ask the documents." if auth else None,
        share=False,
        max_file_size=int(settings.max_file_mb * 1_000_000),
        footer_links=["api"],
        ssr_mode=False,
        css=CSS,
        head=HEAD,
        theme=theme(),
    )


if __name__ == "__main__":
    serve()
