"""Command line: a thin layer over Assistant (`rag ingest|ask|sources|serve|eval|export-model`)."""

from __future__ import annotations

import argparse
import json
import os
import re
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

    compact = sub.add_parser(
        "compact",
        help="rebuild the sentence collection without the deleted vectors Chroma keeps "
        "(no re-embedding; ingest does it on its own past RAG_COMPACT_RATIO), then rewrite "
        "an embedded store's database file without its free pages",
    )
    compact.add_argument("--json", action="store_true", help="print the report as JSON")
    compact.set_defaults(run=_compact)

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
    evaluate.add_argument(
        "--compare",
        action="store_true",
        help="also run the baselines (naive LlamaIndex, BM25 alone) and print them side by side",
    )
    evaluate.add_argument(
        "--judge",
        action="store_true",
        help="add an LLM judge's faithfulness and correctness (needs OPENAI_BASE_URL)",
    )
    evaluate.add_argument("--judge-model", help="the judge's model (default: RAG_LLM_MODEL)")
    evaluate.set_defaults(run=_eval)

    export = sub.add_parser(
        "export-model",
        help="export the embedding model to ONNX (fp32 and int8) once, ahead of first use",
    )
    export.set_defaults(run=_export_model)
    return parser


def _export_model(args: argparse.Namespace) -> int:
    """`make install` runs this, so neither `rag ask` nor the app pays the export."""
    from rag.embeddings import Embedder, default_cache_dir, ensure_onnx, ensure_word_table
    from rag.settings import Settings

    settings = Settings()
    files = ensure_onnx(settings.model_cache_dir or default_cache_dir(), int8=True)
    print(f"ONNX embedding model: {files.fp32}\n                 int8: {files.int8}")
    # The vocabulary's word vectors, for the configured backend: ingests then embed
    # only the words outside it.
    embedder = Embedder(settings.embed_batch_size, settings.embed_backend, files.folder.parent)
    print(f"word vectors: {ensure_word_table(embedder)}")
    return 0


def _assistant(**overrides: Any):
    from rag.assistant import Assistant

    return Assistant(**{k: v for k, v in overrides.items() if v is not None})


def _ingest(args: argparse.Namespace) -> int:
    from rag.settings import Settings

    settings = Settings()
    if args.rebuild:
        _discard_index(Path(settings.index_dir))
    assistant = _assistant()
    report = assistant.ingest(args.paths or None, show_progress=not args.json)
    if args.json:
        print(json.dumps(report.to_dict(), indent=2))
    else:
        for key in ("added", "updated", "unchanged", "removed"):
            print(f"{key:>9}: {len(getattr(report, key))}")
        print(
            f" embedded: {report.embedded} sentences ({report.reused} reused), "
            f"{report.words_embedded} new words, in {report.seconds}s"
            + (" (compacted)" if report.compacted else "")
        )
        for failure in report.failed:
            print(f"   failed: {failure['source']}: {failure['reason']}", file=sys.stderr)
    return 1 if report.failed else 0


def _compact(args: argparse.Namespace) -> int:
    report = _assistant().compact()
    if args.json:
        print(json.dumps(report.to_dict(), indent=2))
    else:
        dropped = "an unknown number of" if report.dropped is None else str(report.dropped)
        print(
            f"kept {report.sentences} sentences, dropped {dropped} deleted vectors, "
            f"in {report.seconds}s ({report.collection})"
        )
        if report.database_mb:
            print("database file: {:,.1f} MB -> {:,.1f} MB".format(*report.database_mb))
    return 0


def _discard_index(index_dir: Path) -> None:
    """Move the index aside in one atomic rename, then delete it: a rebuild killed
    midway leaves no half-deleted index behind, only a hidden folder removed next time.

    Only a folder that looks like an index is deleted: a mistyped RAG_INDEX_DIR must
    not cost anyone their files."""
    for leftover in index_dir.parent.glob(f".{index_dir.name}.discarded-*"):
        shutil.rmtree(leftover, ignore_errors=True)
    if not index_dir.exists() and not index_dir.is_symlink():
        return
    if not index_dir.is_dir() or index_dir.is_symlink():
        raise RagError(
            f"{index_dir} is not a folder; --rebuild deletes only an index folder. "
            "Move it away or set RAG_INDEX_DIR."
        )
    strangers = [p.name for p in index_dir.iterdir() if not _index_entry(p)]
    if strangers:
        raise RagError(
            f"{index_dir} holds files that are not part of an index ({', '.join(strangers[:3])}); "
            "not deleted. Set RAG_INDEX_DIR to the index folder, or delete it yourself."
        )
    aside = index_dir.with_name(f".{index_dir.name}.discarded-{os.getpid()}")
    index_dir.rename(aside)
    shutil.rmtree(aside)


def _index_entry(path: Path) -> bool:
    """Chroma's database (and its journal files), one of its segment folders, or the BM25
    store kept beside them (SQLite and its journals; a pickle before; the temporary file
    of an interrupted save)."""
    if path.is_dir() and not path.is_symlink():
        return bool(re.fullmatch(r"[0-9a-f]{8}(-[0-9a-f]{4}){3}-[0-9a-f]{12}", path.name))
    return path.name.startswith("chroma.sqlite3") or bool(
        re.fullmatch(
            r"\.?[\w.-]+-lexical\.(pickle|sqlite3(-wal|-shm|-journal)?)(\.\d+\.\d+)?",
            path.name,
        )
    )


def _ask(args: argparse.Namespace) -> int:
    assistant = _assistant()
    assistant.validate_question(args.question)  # before any work: no ingest for a bad question
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
    if args.judge_model and not args.judge:
        raise ValueError("--judge-model names the judge's model; add --judge to use the judge.")
    judge = None
    if args.judge:  # configuration errors surface before any question is asked
        from rag.judge import Judge, JudgeConfig

        judge = Judge(JudgeConfig.from_env(args.judge_model))
    cases = load_cases(files)
    assistant = _assistant(top_k=args.k)
    if args.compare:
        from rag.baselines import MemoEmbedder

        # Before the index opens: the baselines then reuse the question vectors.
        assistant.embedder = MemoEmbedder(assistant.embedder)
    _ensure_indexed(assistant)
    k = args.k or assistant.settings.top_k
    report = evaluate(assistant, cases, k, load_thresholds(args.thresholds), judge=judge)
    result = report.to_dict()
    summary = markdown(report)
    if judge:
        result["judge"] = {"model": judge.config.model, "endpoint": judge.where}
    if args.compare:
        from rag.baselines import compare

        comparison = compare(assistant, cases, k, report)
        result["compare"] = comparison.to_dict()
        summary += "\n" + comparison.markdown()
    if args.report:
        args.report.parent.mkdir(parents=True, exist_ok=True)
        args.report.write_text(json.dumps(result, indent=2, ensure_ascii=False))
    if args.markdown:
        args.markdown.parent.mkdir(parents=True, exist_ok=True)
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
    if not assistant.has_documents():
        report = assistant.ingest(show_progress=False)
        for failure in report.failed:
            print(f"failed: {failure['source']}: {failure['reason']}", file=sys.stderr)


if __name__ == "__main__":
    sys.exit(main())
