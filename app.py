"""The web chat: a thin Gradio layer over rag.Assistant.

    python app.py            # or: rag serve, make run

Binds RAG_HOST:RAG_PORT (127.0.0.1:7860 by default), indexes the corpus folder at
start, never opens a public share link. The named endpoint /ask returns
answer.to_dict() for gradio_client and scripts.
"""

from __future__ import annotations

import html
import re
import sys
from typing import Any

import gradio as gr

from rag import Answer, Assistant

EXAMPLES = [
    "What did Lin Yun predict about attackers?",
    "Who organised the AI conference in Beijing?",
    "What did Stephen Casper compare AI cooperation to?",
    "How urgent is alignment complexity rated?",
    "What is the capital of France?",
]

CSS = """
.citation { border-left: 3px solid #6366f1; padding: 6px 10px; margin: 8px 0;
            background: rgba(99,102,241,0.06); border-radius: 4px; }
.citation .meta { font-size: 0.85em; opacity: 0.75; }
.citation mark { background: #fde68a; color: inherit; padding: 0 2px; }
.refused { border-left: 3px solid #f59e0b; padding: 6px 10px; }
"""


def render_sources(answer: Answer, assistant: Assistant) -> str:
    """Citation cards: the quote highlighted inside its paragraph, all text escaped."""
    if answer.refused:
        return (
            '<div class="refused"><b>Not in the documents.</b> '
            "No passage answers this question, so nothing is cited.</div>"
        )
    cards = []
    for c in answer.citations:
        text = assistant.document_text(c.source)
        para_start = text.rfind("\n", 0, c.start) + 1
        para_end = text.find("\n", c.end)
        para_end = len(text) if para_end == -1 else para_end
        before = html.escape(text[para_start : c.start])
        after = html.escape(text[c.end : para_end])
        cards.append(
            f'<div class="citation" id="cite-{c.n}"><div class="meta"><b>[{c.n}]</b> '
            f"{html.escape(c.title)} · <code>{html.escape(c.source)}</code> · "
            f"characters {c.start}–{c.end}</div>"
            f"<div>{before}<mark>{html.escape(c.quote)}</mark>{after}</div></div>"
        )
    return "\n".join(cards)


def chat_text(answer: Answer) -> str:
    """Document text is data: HTML and Markdown syntax in it show as text; the [n]
    markers become bold chips."""
    text = re.sub(r"([\\`*_])", r"\\\1", html.escape(answer.text, quote=False))
    return re.sub(r"\[(\d+)\]", r"**[\1]**", text)


def build_app(assistant: Assistant) -> gr.Blocks:
    def respond(message: str, history: list[dict[str, Any]]):
        history = list(history or [])
        plain_history = [
            {"role": m["role"], "content": m.get("content", "")}
            for m in history
            if isinstance(m.get("content"), str)
        ]
        try:
            answer = assistant.ask(message, history=plain_history)
        except ValueError as exc:
            history += [
                {"role": "user", "content": message},
                {"role": "assistant", "content": f"⚠️ {exc}"},
            ]
            return history, "", ""
        history += [
            {"role": "user", "content": message},
            {"role": "assistant", "content": chat_text(answer)},
        ]
        return history, render_sources(answer, assistant), ""

    def ask(question: str) -> dict:
        """Answer one question; returns answer.to_dict() (text, refused, citations)."""
        return assistant.ask(question).to_dict()

    with gr.Blocks(title="rag — cited answers") as demo:
        gr.Markdown(
            "## Ask the documents\nEvery answer cites the exact sentences it comes from. "
            "When the documents do not answer, it says so."
        )
        with gr.Row():
            with gr.Column(scale=3):
                chatbot = gr.Chatbot(label="Chat", height=460, sanitize_html=True)
                box = gr.Textbox(
                    placeholder="Ask a question about the documents…", show_label=False
                )
                gr.Examples(EXAMPLES, inputs=box)
                clear = gr.Button("Clear chat", variant="secondary")
            with gr.Column(scale=2):
                gr.Markdown("### Sources")
                sources = gr.HTML(elem_id="sources")
        box.submit(respond, [box, chatbot], [chatbot, sources, box], api_visibility="private")
        clear.click(lambda: ([], "", ""), None, [chatbot, sources, box], api_visibility="private")
        gr.api(ask, api_name="ask")
    return demo


def serve(host: str | None = None, port: int | None = None) -> None:
    assistant = Assistant()
    report = assistant.ingest()
    for failure in report.failed:
        print(f"not indexed: {failure['source']}: {failure['reason']}", file=sys.stderr)
    settings = assistant.settings
    demo = build_app(assistant)
    demo.queue(default_concurrency_limit=settings.concurrency, max_size=settings.queue_size)
    auth = tuple(settings.auth.split(":", 1)) if settings.auth and ":" in settings.auth else None
    demo.launch(
        server_name=host or settings.host,
        server_port=port or settings.port,
        auth=auth,
        share=False,
        css=CSS,
    )


if __name__ == "__main__":
    serve()
