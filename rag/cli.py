"""Command line: a thin layer over Assistant (`rag ingest|ask|sources|serve|eval`)."""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from pathlib import Path
from typing import Any

from rag.errors import RagError


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    try:
        return int(args.run(args) or 0)
    except ValueError as exc:  # a bad question or argument: the message says what to do
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except RagError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="rag", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    ingest = sub.add_parser("ingest", help="index the corpus folder, or the given files")
    ingest.add_argument("paths", nargs="*", help="files or folders inside the corpus folder")
    ingest.add_argument("--rebuild", action="store_true", help="delete the index, build anew")
    ingest.add_argument("--json", action="store_true", help="print the report as JSON")
    ingest.set_defaults(run=_ingest)

    ask = sub.add_parser("ask", help="ask one question")
    ask.add_argument("question")
    ask.add_argument("--json", action="store_true", help="print answer.to_dict() as JSON")
    ask.set_defaults(run=_ask)

    sources = sub.add_parser("sources", help="list indexed documents")
    sources.add_argument("--json", action="store_true")
    sources.set_defaults(run=_sources)

    serve = sub.add_parser("serve", help="start the web chat")
    serve.add_argument("--host")
    serve.add_argument("--port", type=int)
    serve.set_defaults(run=_serve)

    evaluate = sub.add_parser("eval", help="run evaluation sets and check thresholds")
    evaluate.add_argument("files", nargs="*", type=Path, help="JSONL eval sets (evals/*.jsonl)")
    evaluate.add_argument("--report", type=Path, help="write the JSON report here")
    evaluate.add_argument("--markdown", type=Path, help="write a markdown summary here")
    evaluate.add_argument("-k", type=int, default=None, help="passages retrieved (top-k)")
    evaluate.add_argument(
        "--thresholds", type=Path, default=Path("evals/thresholds.toml"), help="gate thresholds"
    )
    evaluate.set_defaults(run=_eval)
    return parser


def _assistant(**overrides: Any):
    from rag.assistant import Assistant

    return Assistant(**{k: v for k, v in overrides.items() if v is not None})


def _ingest(args: argparse.Namespace) -> int:
    from rag.settings import Settings

    settings = Settings()
    if args.rebuild and Path(settings.index_dir).exists():
        shutil.rmtree(settings.index_dir)
    assistant = _assistant()
    report = assistant.ingest(args.paths or None, show_progress=not args.json)
    if args.json:
        print(json.dumps(report.to_dict(), indent=2))
    else:
        for key in ("added", "updated", "unchanged", "removed"):
            print(f"{key:>9}: {len(getattr(report, key))}")
        print(
            f" embedded: {report.embedded} sentences ({report.reused} reused) in {report.seconds}s"
        )
        for failure in report.failed:
            print(f"   failed: {failure['source']}: {failure['reason']}", file=sys.stderr)
    return 1 if report.failed else 0


def _ask(args: argparse.Namespace) -> int:
    assistant = _assistant()
    _ensure_indexed(assistant)
    answer = assistant.ask(args.question)
    if args.json:
        print(json.dumps(answer.to_dict(), indent=2, ensure_ascii=False))
        return 0
    print(answer.text)
    model = getattr(answer, "model", "")  # answers through an LLM name it; notes say why
    if model:
        print(f"\n({answer.mode} answer, model {model}{'; ' if answer.note else ''}{answer.note})")
    for c in answer.citations:
        print(f"\n[{c.n}] {c.title} ({c.source}, characters {c.start}-{c.end})\n    “{c.quote}”")
    return 0


def _sources(args: argparse.Namespace) -> int:
    listing = _assistant().sources()
    if args.json:
        print(json.dumps(listing, indent=2, ensure_ascii=False))
    else:
        for s in listing:
            print(f"{s['source']}  {s['chunks']:>4} passages  {s['title']}")
    return 0


def _serve(args: argparse.Namespace) -> int:
    from app import serve

    serve(host=args.host, port=args.port)
    return 0


def _eval(args: argparse.Namespace) -> int:
    from rag.evaluate import evaluate, load_cases, load_thresholds, markdown

    files = args.files or sorted(Path("evals").glob("*.jsonl"))
    if not files:
        raise ValueError("No eval sets given and none found in evals/*.jsonl.")
    assistant = _assistant()
    _ensure_indexed(assistant)
    k = args.k or assistant.settings.top_k
    report = evaluate(assistant, load_cases(files), k, load_thresholds(args.thresholds))
    if args.report:
        args.report.write_text(json.dumps(report.to_dict(), indent=2, ensure_ascii=False))
    summary = markdown(report)
    if args.markdown:
        args.markdown.write_text(summary)
    print(summary)
    if report.failures:
        print("eval gate FAILED:", file=sys.stderr)
        for failure in report.failures:
            print(f"  - {failure}", file=sys.stderr)
        return 1
    return 0


def _ensure_indexed(assistant) -> None:
    """First use on a fresh machine: build the index rather than answer from nothing."""
    if not assistant.sources():
        report = assistant.ingest(show_progress=False)
        for failure in report.failed:
            print(f"failed: {failure['source']}: {failure['reason']}", file=sys.stderr)


if __name__ == "__main__":
    sys.exit(main())
