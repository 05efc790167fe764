"""Do distractors hurt? The seed articles mixed with N unrelated documents: Python docstrings
(bench/corpus.py, `--kind docstrings`) or prose, encyclopedia entries and package
descriptions (bench/prose.py, `--kind prose`).

Runs the eval sets (every evals/*.jsonl by default, as `rag eval` does) against an index
of the seed corpus alone and against the mix, prints both metric tables side by side,
checks that a second ingest of the unchanged mix embeds nothing, and asks one question
about each of a sample of the generated documents (is that document cited?).

    python bench/mixed_eval.py --extra 500 --markdown reports/mixed_eval.md
    python bench/mixed_eval.py --kind prose --evals evals/seed.jsonl evals/holdout.jsonl
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import re
import shutil
import sys
import tempfile
import time
from pathlib import Path

from offline import prepare  # bench/ is the script's folder, so on sys.path

ROOT = prepare()

import prose  # noqa: E402

import corpus  # noqa: E402

WRITERS = {"docstrings": corpus.write_corpus, "prose": prose.write_corpus}
# Each kind's generator of every document, and its files' prefix and name length.
EVERY = {
    "docstrings": (corpus.every_document, "gen", 80),
    "prose": (prose.every_document, "prose", 60),
}


def run_eval(assistant, eval_files: list[Path]) -> dict:
    from rag.evaluate import evaluate, load_cases, load_thresholds

    thresholds = load_thresholds(ROOT / "evals" / "thresholds.toml")
    report = evaluate(assistant, load_cases(eval_files), assistant.settings.top_k, thresholds)
    failed = [f"{c.id}: {c.why}" for c in report.cases if not c.passed]
    return {"metrics": report.metrics, "failures": report.failures, "failed_questions": failed}


def _draw_free(source: str) -> str:
    """A generated document's name without its place in the draw ("prose00009_")."""
    return _DRAW_PLACE.sub("", source)


_DRAW_PLACE = re.compile(r"(?<=generated/)(prose|gen)\d+_")


def in_this_draw(cases: list, sources: set[str]) -> list:
    """The cases with their sources renamed to this machine's draw. A file's number is its
    place in the draw, and prose.py's draw of Debian READMEs is a shuffle of the installed
    packages: on a machine with other packages the same document has another number."""
    by_name = {_draw_free(s): s for s in sources}
    renamed = []
    for case in cases:
        here = tuple(s if s in sources else by_name.get(_draw_free(s), s) for s in case.sources)
        renamed.append(dataclasses.replace(case, sources=here))
    return renamed


def add_asked_documents(kind: str, question_files: list[Path], dest: Path) -> int:
    """Write into dest, numbered after the draw, the documents the question sets ask about
    that this machine's draw lacks but its packages still hold. Which documents a draw
    takes depends on every package installed: on a machine with other versions most of
    the docstrings sets' documents fall outside the first 500, though the modules and
    classes they are about are still there (at stop 23, 219 of 229)."""
    from rag.evaluate import load_cases

    have = {_draw_free(f"generated/{p.name}") for p in dest.iterdir()}
    asked = {_draw_free(s) for c in load_cases(question_files) for s in c.sources}
    wanted = {s.removeprefix("generated/") for s in asked - have if s.startswith("generated/")}
    every, prefix, slug_chars = EVERY[kind]
    found = corpus.documents_named(wanted, every, slug_chars) if wanted else []
    corpus.write_documents(found, dest, prefix, slug_chars, first=len(list(dest.iterdir())))
    return len(found)


def ask_about_documents(assistant, paths: list[Path]) -> dict:
    """Questions people wrote about the generated documents (bench/questions/): per set,
    answerable ones answered with their facts and a citation of their document, and
    near misses refused. A question whose document is not in this draw is skipped (the
    draw depends on the packages and Debian documentation installed)."""
    from rag.evaluate import load_cases, run_case

    sources = {s["source"] for s in assistant.sources()}
    results = {}
    for path in paths:
        cases = [c for c in in_this_draw(load_cases([path]), sources) if set(c.sources) <= sources]
        done = [run_case(assistant, c, assistant.settings.top_k) for c in cases]
        answerable = [r for r in done if r.answerable]
        unanswerable = [r for r in done if not r.answerable]
        results[path.stem] = {
            "answered_right": f"{sum(r.passed for r in answerable)}/{len(answerable)}",
            "refused": f"{sum(r.passed for r in unanswerable)}/{len(unanswerable)}",
            "skipped": len(load_cases([path])) - len(cases),
        }
    return results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--extra", type=int, default=500, help="generated documents to mix in")
    parser.add_argument("--kind", choices=sorted(WRITERS), default="docstrings")
    # Every evals/*.jsonl, as `rag eval` runs them: the gate's thresholds are set for those
    # 137 questions, and seed.jsonl alone (89, the hard ones) falls under four of them.
    parser.add_argument(
        "--evals", type=Path, nargs="+", default=sorted((ROOT / "evals").glob("*.jsonl"))
    )
    parser.add_argument("--probe", type=int, default=30, help="generated documents to ask about")
    parser.add_argument(
        "--questions",
        type=Path,
        nargs="*",
        default=None,
        help="question sets about the generated documents (default: bench/questions/<kind>-*)",
    )
    parser.add_argument(
        "--draw-only",
        action="store_true",
        help="do not add the documents the question sets ask about that the draw lacks",
    )
    parser.add_argument("--markdown", type=Path)
    parser.add_argument("--json", type=Path)
    parser.add_argument("--work", type=Path)
    args = parser.parse_args()

    from rag import Assistant

    work = args.work or Path(tempfile.mkdtemp(prefix="rag-mixed-"))
    seed_only = work / "seed"
    mixed = work / "mixed"
    shutil.copytree(ROOT / "corpus", seed_only, dirs_exist_ok=True)
    shutil.copytree(ROOT / "corpus", mixed, dirs_exist_ok=True)
    generated = WRITERS[args.kind](args.extra, mixed / "generated")
    questions = args.questions or sorted(
        (ROOT / "bench" / "questions").glob(f"{args.kind}-*.jsonl")
    )
    added = 0 if args.draw_only else add_asked_documents(args.kind, questions, mixed / "generated")
    result: dict = {
        "kind": args.kind,
        "extra_documents": len(generated),
        "asked_documents_added": added,
    }
    print(f"{len(generated)} drawn documents, {added} asked-about documents added", flush=True)

    seed = Assistant(corpus_dir=seed_only, index_dir=work / "index-seed")
    seed.ingest()
    result["seed"] = run_eval(seed, args.evals)
    print("seed-only:", json.dumps(result["seed"]["metrics"]), flush=True)

    mix = Assistant(corpus_dir=mixed, index_dir=work / "index-mixed")
    mix.embedder = seed.embedder  # one model in memory
    started = time.perf_counter()
    first = mix.ingest()
    result["mixed_ingest"] = {
        "seconds": round(time.perf_counter() - started, 1),
        "added": len(first.added),
        "embedded": first.embedded,
        "failed": first.failed,
    }
    print("mixed ingest:", result["mixed_ingest"], flush=True)
    started = time.perf_counter()
    second = mix.ingest()
    result["mixed_reingest"] = {
        "seconds": round(time.perf_counter() - started, 2),
        "embedded": second.embedded,
        "unchanged": len(second.unchanged),
        "added": len(second.added),
        "updated": len(second.updated),
        "removed": len(second.removed),
    }
    print("mixed re-ingest:", result["mixed_reingest"], flush=True)
    result["mixed"] = run_eval(mix, args.evals)
    print("mixed:", json.dumps(result["mixed"]["metrics"]), flush=True)

    # Questions about the generated documents: is the document asked about cited?
    step = max(1, len(generated) // args.probe)
    probes = []
    names = sorted(p.name for p in (mixed / "generated").iterdir())
    for i in range(0, len(generated), step)[: args.probe]:
        doc, source = generated[i], f"generated/{names[i]}"
        short = doc.name.rsplit(".", 1)[-1]
        answer = mix.ask(f"What is {short}?")
        probes.append(
            {
                "question": f"What is {short}?",
                "refused": answer.refused,
                "cited": source in {c.source for c in answer.citations},
                "retrieved": source in {p["source"] for p in answer.retrieved},
            }
        )
    result["document_questions"] = ask_about_documents(mix, questions)
    print("questions about the generated documents:", result["document_questions"], flush=True)
    result["probes"] = {
        "asked": len(probes),
        "answered": sum(not p["refused"] for p in probes),
        "cited_the_document": sum(p["cited"] for p in probes),
        "retrieved_the_document": sum(p["retrieved"] for p in probes),
    }
    print("generated-document questions:", result["probes"], flush=True)

    lines = [
        f"### Seed eval with {len(generated) + added} unrelated documents ({args.kind}) mixed in",
        "",
        f"{len(generated)} drawn, {added} more that the question sets ask about and the draw "
        "lacks.",
        "",
        "| metric | seed only | seed + generated |",
        "|---|---|---|",
    ]
    for name, value in result["seed"]["metrics"].items():
        lines.append(f"| {name} | {value} | {result['mixed']['metrics'].get(name)} |")
    lines += [
        "",
        f"Gate failures — seed only: {result['seed']['failures'] or 'none'}; "
        f"mixed: {result['mixed']['failures'] or 'none'}.",
        "",
        f"Mixed ingest: {result['mixed_ingest']}. Second ingest of the unchanged mix: "
        f"{result['mixed_reingest']}.",
        "",
        f"Questions 'What is <name>?' about {result['probes']['asked']} generated documents: "
        f"{result['probes']}.",
        "",
        f"Written questions about the generated documents: {result['document_questions']}.",
    ]
    text = "\n".join(lines) + "\n"
    print(text)
    if args.markdown:
        args.markdown.parent.mkdir(parents=True, exist_ok=True)
        args.markdown.write_text(text)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(result, indent=2, default=str))
    if not args.work:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
