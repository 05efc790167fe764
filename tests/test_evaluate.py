"""The eval harness must notice a broken assistant, and `rag eval` must gate on it."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import pytest

from rag import REFUSAL, Answer
from rag.cli import main
from rag.evaluate import (
    EvalCase,
    check_thresholds,
    evaluate,
    facts_in,
    load_cases,
    load_thresholds,
)
from tests.support import DOC_000, DOC_002, DOC_003, LIN_YUN_QUESTION, lin_yun_case

pytestmark = pytest.mark.slow

CASES = [
    lin_yun_case(),
    EvalCase(
        "chinese-open-source-firms",
        "Which Chinese companies are leading on open-source model releases?",
        True,
        (DOC_003,),
        (("Z.ai",), ("Alibaba",), ("Moonshot",)),
    ),
    EvalCase("u-capital-france", "What is the capital of France?", False),
    EvalCase("u-sourdough", "How do I make a sourdough starter?", False),
]

EVAL_ROWS = [
    {
        "id": "linyun-attackers",
        "question": LIN_YUN_QUESTION,
        "answerable": True,
        "sources": [DOC_000, DOC_003],
        "facts": [["upper hand", "near-term advantage"]],
    },
    {
        "id": "casper-affiliation",
        "question": "Where does Stephen Casper work?",
        "answerable": True,
        "sources": [DOC_000, DOC_003],
        "facts": [["MIT"]],
    },
    {
        "id": "u-capital-france",
        "question": "What is the capital of France?",
        "answerable": False,
        "sources": [],
        "facts": [],
    },
]


class Broken:
    """The real assistant, with one thing wrong in every answer it gives."""

    def __init__(self, real, fault: str) -> None:
        self.real = real
        self.fault = fault

    def document_text(self, source: str) -> str:
        return self.real.document_text(source)

    def __getattr__(self, name: str) -> Any:  # settings, sources(): what the CLI also uses
        return getattr(self.real, name)

    def ask(self, question: str, history: list[dict[str, Any]] | None = None) -> Answer:
        answer = self.real.ask(question, history=history)
        if self.fault == "wrong-source":
            # Cite an existing article that does not hold the answer.
            return dataclasses.replace(
                answer,
                citations=[
                    dataclasses.replace(c, source=DOC_002 if c.source != DOC_002 else DOC_000)
                    for c in answer.citations
                ],
            )
        if self.fault == "shifted-quote":
            return dataclasses.replace(
                answer,
                citations=[
                    dataclasses.replace(c, start=c.start + 1, end=c.end + 1)
                    for c in answer.citations
                ],
            )
        if self.fault == "quote-typo":
            # The right offsets, but the quote differs from the source by one character.
            def typo(quote: str) -> str:
                return quote[:-1] + ("?" if quote[-1] != "?" else "!")

            return dataclasses.replace(
                answer,
                citations=[dataclasses.replace(c, quote=typo(c.quote)) for c in answer.citations],
            )
        if self.fault == "never-refuse" and answer.refused:
            return Answer(question, "Paris is the capital of France. [1]", False, [])
        return answer


@pytest.fixture(scope="module")
def baseline(assistant):
    report = evaluate(assistant, CASES, k=6)
    assert all(c.passed for c in report.cases), [(c.id, c.why) for c in report.cases]
    return report


def test_the_real_assistant_passes_the_small_set(baseline) -> None:
    metrics = baseline.metrics
    for name in ("fact_recall", "citation_validity", "citation_precision", "refusal_recall"):
        assert metrics[name] == 1.0, (name, metrics)
    assert metrics["questions"] == len(CASES)
    assert baseline.failures == []


@pytest.mark.parametrize(
    ("fault", "metric", "why"),
    [
        ("wrong-source", "citation_precision", "no citation to an accepted source"),
        ("shifted-quote", "citation_validity", "a quote is not verbatim at its offsets"),
        ("quote-typo", "citation_validity", "a quote is not verbatim at its offsets"),
        ("never-refuse", "refusal_recall", "answered a question the documents do not answer"),
    ],
)
def test_a_broken_assistant_makes_its_metric_drop(
    assistant, baseline, fault: str, metric: str, why: str
) -> None:
    report = evaluate(Broken(assistant, fault), CASES, k=6, thresholds={"min": {metric: 1.0}})
    assert report.metrics[metric] < baseline.metrics[metric]
    assert report.metrics[metric] == 0.0
    assert any(metric in failure for failure in report.failures), report.failures
    assert why in [c.why for c in report.cases]
    assert report.metrics["pass_rate"] < 1.0
    # A threshold check on the same numbers says the same.
    assert check_thresholds(report.metrics, {"min": {metric: 0.9}})
    assert not check_thresholds(baseline.metrics, {"min": {metric: 0.9}})


def test_refusing_everything_drops_fact_recall_and_refusal_precision(assistant) -> None:
    class Refuser(Broken):
        def ask(self, question: str, history=None) -> Answer:
            return Answer(question, REFUSAL, True)

    report = evaluate(Refuser(assistant, ""), CASES, k=6)
    assert report.metrics["fact_recall"] == 0.0
    assert report.metrics["refusal_recall"] == 1.0
    assert report.metrics["refusal_precision"] == 0.5
    assert "refused an answerable question" in [c.why for c in report.cases]


def test_a_citation_to_an_unknown_source_counts_as_invalid(assistant) -> None:
    # Once a bug: document_text() raised UnknownSourceError and aborted the whole run.
    class Hallucinating(Broken):
        def ask(self, question: str, history=None) -> Answer:
            answer = self.real.ask(question, history=history)
            return dataclasses.replace(
                answer,
                citations=[dataclasses.replace(c, source="made-up.txt") for c in answer.citations],
            )

    report = evaluate(Hallucinating(assistant, ""), CASES, k=6)
    assert report.metrics["citation_validity"] == 0.0
    assert report.metrics["citation_precision"] == 0.0
    assert "a quote is not verbatim at its offsets" not in [c.why for c in report.cases]
    assert "no citation to an accepted source" in [c.why for c in report.cases]
    assert len(report.cases) == len(CASES)


def test_check_thresholds_min_and_max() -> None:
    metrics = {"fact_recall": 0.8, "latency_p95_ms": 120.0}
    assert check_thresholds(metrics, {"min": {"fact_recall": 0.8}}) == []
    failures = check_thresholds(
        metrics, {"min": {"fact_recall": 0.9}, "max": {"latency_p95_ms": 100}}
    )
    assert len(failures) == 2
    assert "fact_recall" in failures[0] and "0.9" in failures[0]
    assert "latency_p95_ms" in failures[1] and "100" in failures[1]
    # A threshold on a metric that was never computed fails rather than passing silently.
    assert check_thresholds(metrics, {"min": {"no_such_metric": 0.1}})


def test_facts_need_every_group() -> None:
    facts = (("Mythos",), ("Fable 5", "Fable five"))
    assert facts_in("the models mythos and Fable 5", facts)
    assert not facts_in("only Mythos", facts)


def test_load_cases_names_the_bad_line(tmp_path: Path) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text(json.dumps(EVAL_ROWS[0]) + "\n\n{not json}\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"bad\.jsonl:3"):
        load_cases([path])


# ---- rag eval through the CLI ------------------------------------------------------


@pytest.fixture(scope="module")
def eval_env(seed_corpus: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("eval")
    cases = folder / "tiny.jsonl"
    cases.write_text("\n".join(json.dumps(r) for r in EVAL_ROWS) + "\n", encoding="utf-8")
    strict = folder / "strict.toml"
    strict.write_text("[min]\nfact_recall = 1.01\n", encoding="utf-8")
    lenient = folder / "lenient.toml"
    lenient.write_text(
        "[min]\nfact_recall = 0.5\ncitation_validity = 1.0\n\n[max]\nanswer_chars_max = 800\n",
        encoding="utf-8",
    )
    return {
        "folder": folder,
        "cases": cases,
        "strict": strict,
        "lenient": lenient,
        "corpus": seed_corpus,
        "index": folder / "index",
    }


@pytest.fixture
def cli_env(eval_env, monkeypatch: pytest.MonkeyPatch, tmp_path: Path):
    monkeypatch.setenv("RAG_CORPUS_DIR", str(eval_env["corpus"]))
    monkeypatch.setenv("RAG_INDEX_DIR", str(eval_env["index"]))
    monkeypatch.chdir(tmp_path)  # nothing lands in the project folder
    return eval_env


def test_rag_eval_fails_when_a_threshold_is_not_reached(cli_env, capsys, tmp_path) -> None:
    report_path = tmp_path / "report.json"
    code = main(
        [
            "eval",
            str(cli_env["cases"]),
            "--thresholds",
            str(cli_env["strict"]),
            "--report",
            str(report_path),
        ]
    )
    out, err = capsys.readouterr()
    assert code == 1
    assert "eval gate FAILED" in err
    assert "fact_recall" in err and "1.01" in err
    assert "| fact_recall | 1.0 |" in out
    report = json.loads(report_path.read_text(encoding="utf-8"))
    assert report["metrics"]["fact_recall"] == 1.0
    assert report["metrics"]["questions"] == 3
    assert [q["id"] for q in report["questions"]] == [r["id"] for r in EVAL_ROWS]
    assert all(q["passed"] for q in report["questions"])
    assert report["failures"] and "fact_recall" in report["failures"][0]


def test_rag_eval_passes_with_lenient_thresholds(cli_env, capsys, tmp_path) -> None:
    summary = tmp_path / "summary.md"
    code = main(
        [
            "eval",
            str(cli_env["cases"]),
            "--thresholds",
            str(cli_env["lenient"]),
            "--markdown",
            str(summary),
        ]
    )
    out, err = capsys.readouterr()
    assert code == 0, err
    assert "FAILED" not in err
    assert "Questions that failed (0 of 3)" in out
    assert summary.read_text(encoding="utf-8").strip() == out.strip()


def test_rag_eval_threshold_file_round_trip(cli_env) -> None:
    assert load_thresholds(cli_env["strict"]) == {"min": {"fact_recall": 1.01}}
    assert load_thresholds(cli_env["folder"] / "missing.toml") == {}


# ---- the gate notices a broken assistant: `rag eval` exits 1 ---------------------------

PROJECT_THRESHOLDS = Path(__file__).resolve().parents[1] / "evals" / "thresholds.toml"


@pytest.fixture
def cli_with(assistant, eval_env, monkeypatch: pytest.MonkeyPatch, tmp_path: Path):
    """Run the real `rag eval` over the tiny set with the given assistant in place of the one
    the CLI would build (the session's index, possibly broken), and the project's thresholds."""
    monkeypatch.chdir(tmp_path)

    def run(instance, capsys) -> tuple[int, str, dict[str, Any]]:
        monkeypatch.setattr("rag.cli._assistant", lambda **overrides: instance)
        report_path = tmp_path / "report.json"
        code = main(
            [
                "eval",
                str(eval_env["cases"]),
                "--thresholds",
                str(PROJECT_THRESHOLDS),
                "--report",
                str(report_path),
            ]
        )
        out, err = capsys.readouterr()
        return code, out + err, json.loads(report_path.read_text(encoding="utf-8"))

    return run


def test_rag_eval_passes_the_project_gate_with_the_real_assistant(
    assistant, cli_with, capsys
) -> None:
    code, output, report = cli_with(assistant, capsys)
    assert code == 0, output
    assert report["failures"] == []
    assert report["metrics"]["citation_validity"] == 1.0


@pytest.mark.parametrize(
    ("fault", "metric", "why"),
    [
        ("wrong-source", "citation_precision", "no citation to an accepted source"),
        ("shifted-quote", "citation_validity", "a quote is not verbatim at its offsets"),
        ("quote-typo", "citation_validity", "a quote is not verbatim at its offsets"),
        ("never-refuse", "refusal_recall", "answered a question the documents do not answer"),
    ],
)
def test_rag_eval_exits_1_on_a_broken_assistant(
    assistant, cli_with, capsys, fault: str, metric: str, why: str
) -> None:
    bound = load_thresholds(PROJECT_THRESHOLDS)["min"][metric]
    code, output, report = cli_with(Broken(assistant, fault), capsys)
    assert code == 1
    assert "eval gate FAILED" in output
    assert f"{metric} = 0.0 is under the threshold {bound}" in output
    assert why in output  # the failed question, and why, in the markdown table
    assert report["metrics"][metric] == 0.0
    assert why in [q["why"] for q in report["questions"]]


def test_rag_eval_k_is_the_number_of_passages_retrieved(
    assistant, eval_env, monkeypatch: pytest.MonkeyPatch, capsys, tmp_path: Path
) -> None:
    built: dict[str, Any] = {}

    def build(**overrides: Any):
        built.update(overrides)
        return assistant

    monkeypatch.setattr("rag.cli._assistant", build)
    monkeypatch.chdir(tmp_path)
    report_path = tmp_path / "report.json"
    args = ["eval", str(eval_env["cases"]), "-k", "1", "--report", str(report_path)]
    assert main([*args, "--thresholds", str(eval_env["lenient"])]) == 0, capsys.readouterr()
    assert built["top_k"] == 1  # the assistant retrieves k passages, not 6 cut to k
    ranks = [q["retrieved_rank"] for q in json.loads(report_path.read_text())["questions"]]
    assert set(ranks) <= {1, None}
