"""Offline, deterministic evaluation: run eval sets through an Assistant and score them.

No LLM judge is needed: facts are checked as accepted substrings of the answer,
citations are checked against the stored document text at their offsets. An LLM
judge (rag.judge, `rag eval --judge`) may add its verdicts; baselines for
`rag eval --compare` live in rag.baselines.
"""

from __future__ import annotations

import json
import statistics
import time
import tomllib
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Protocol

from rag.answer import Answer
from rag.errors import RagError

# Metrics where larger is better; the rest (latency, length) are upper bounds.
HIGHER_IS_BETTER = (
    "retrieval_recall_at_k",
    "mrr",
    "fact_recall",
    "fact_recall_in_context",
    "citation_validity",
    "citation_precision",
    "refusal_precision",
    "refusal_recall",
)


class AnswersQuestions(Protocol):
    def ask(self, question: str, history: list[dict[str, Any]] | None = None) -> Answer: ...
    def document_text(self, source: str) -> str: ...


class JudgesAnswers(Protocol):
    """rag.judge.Judge: an LLM's verdict on one answer (`rag eval --judge`)."""

    def judge(self, case: EvalCase, answer: Answer) -> dict[str, Any]: ...


@dataclass(frozen=True)
class EvalCase:
    id: str
    question: str
    answerable: bool
    sources: tuple[str, ...] = ()
    facts: tuple[tuple[str, ...], ...] = ()
    turns: tuple[str, ...] = ()
    notes: str = ""

    @classmethod
    def from_dict(cls, row: dict[str, Any]) -> EvalCase:
        return cls(
            id=str(row["id"]),
            question=str(row["question"]),
            answerable=bool(row["answerable"]),
            sources=tuple(row.get("sources", [])),
            facts=tuple(tuple(group) for group in row.get("facts", [])),
            turns=tuple(row.get("turns", [])),
            notes=str(row.get("notes", "")),
        )


@dataclass
class CaseResult:
    id: str
    question: str
    answerable: bool
    refused: bool
    text: str
    passed: bool
    why: str
    retrieved_rank: int | None  # 1-based rank of the first accepted source, None if absent
    facts_found: bool
    citations: int
    valid_citations: int
    cited_right: int
    latency_ms: float
    facts_in_context: bool = False  # every fact group somewhere in the retrieved passages
    context_chars: int = 0  # characters of the top-k retrieved passages
    judge: dict[str, Any] | None = None  # set by `rag eval --judge` (rag.judge)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class EvalReport:
    metrics: dict[str, float]
    cases: list[CaseResult] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)  # threshold breaches

    def to_dict(self) -> dict[str, Any]:
        return {
            "metrics": self.metrics,
            "failures": self.failures,
            "questions": [c.to_dict() for c in self.cases],
        }


def load_cases(paths: list[Path]) -> list[EvalCase]:
    cases = []
    for path in paths:
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if line.strip():
                try:
                    cases.append(EvalCase.from_dict(json.loads(line)))
                except (json.JSONDecodeError, KeyError) as exc:
                    raise ValueError(f"{path}:{number}: not a valid eval row ({exc})") from exc
    return cases


def facts_in(text: str, facts: tuple[tuple[str, ...], ...]) -> bool:
    lowered = text.lower()
    return all(any(alt.lower() in lowered for alt in group) for group in facts)


def run_case(
    assistant: AnswersQuestions, case: EvalCase, k: int, judge: JudgesAnswers | None = None
) -> CaseResult:
    history: list[dict[str, Any]] = []
    for turn in case.turns:
        earlier = assistant.ask(turn, history=history)
        history += [
            {"role": "user", "content": turn},
            {"role": "assistant", "content": earlier.text},
        ]
    started = time.perf_counter()
    answer = assistant.ask(case.question, history=history or None)
    latency = (time.perf_counter() - started) * 1000
    accepted = set(case.sources)
    top = answer.retrieved[:k]
    rank = next((i + 1 for i, p in enumerate(top) if p["source"] in accepted), None)
    context = retrieved_context(assistant, top)
    valid = sum(1 for c in answer.citations if quote_is_verbatim(assistant, c))
    cited_right = sum(1 for c in answer.citations if c.source in accepted)
    found = (not answer.refused) and facts_in(answer.text, case.facts)
    if case.answerable:
        passed = found and cited_right > 0 and valid == len(answer.citations)
        why = (
            "refused an answerable question"
            if answer.refused
            else ""
            if passed
            else "facts missing from the answer"
            if not found
            else "no citation to an accepted source"
            if cited_right == 0
            else "a quote is not verbatim at its offsets"
        )
    else:
        passed = answer.refused
        why = "" if passed else "answered a question the documents do not answer"
    return CaseResult(
        id=case.id,
        question=case.question,
        answerable=case.answerable,
        refused=answer.refused,
        text=answer.text,
        passed=passed,
        why=why,
        retrieved_rank=rank,
        facts_found=found,
        citations=len(answer.citations),
        valid_citations=valid,
        cited_right=cited_right,
        latency_ms=round(latency, 1),
        facts_in_context=case.answerable and facts_in(context, case.facts),
        context_chars=len(context),
        judge=judge.judge(case, answer) if judge else None,
    )


def quote_is_verbatim(assistant: AnswersQuestions, citation: Any) -> bool:
    """The citation's quote is the source text at its offsets; an unknown source is not."""
    try:
        text = assistant.document_text(citation.source)
    except (RagError, KeyError):  # UnknownSourceError: a citation to a made-up source
        return False
    return 0 <= citation.start <= citation.end and text[citation.start : citation.end] == (
        citation.quote
    )


def retrieved_context(assistant: AnswersQuestions, passages: list[dict[str, Any]]) -> str:
    """The text of the retrieved passages, as a generator would have been given it."""
    parts = []
    for p in passages:
        try:
            parts.append(assistant.document_text(p["source"])[p["start"] : p["end"]])
        except (RagError, KeyError):
            continue  # a passage of a source removed since: no context from it
    return "\n\n".join(parts)


def summarize(cases: list[CaseResult]) -> dict[str, float]:
    answerable = [c for c in cases if c.answerable]
    unanswerable = [c for c in cases if not c.answerable]
    refused = [c for c in cases if c.refused]
    cited_answerable = sum(c.citations for c in answerable)
    citations = sum(c.citations for c in cases)
    latencies = sorted(c.latency_ms for c in cases)
    lengths = [len(c.text) for c in cases]
    return {
        "questions": len(cases),
        "retrieval_recall_at_k": _ratio(
            sum(c.retrieved_rank is not None for c in answerable), len(answerable)
        ),
        "mrr": _ratio(
            sum(1 / c.retrieved_rank for c in answerable if c.retrieved_rank), len(answerable)
        ),
        "fact_recall": _ratio(sum(c.facts_found for c in answerable), len(answerable)),
        "fact_recall_in_context": _ratio(
            sum(c.facts_in_context for c in answerable), len(answerable)
        ),
        "citation_validity": _ratio(sum(c.valid_citations for c in cases), citations),
        "citation_precision": _ratio(sum(c.cited_right for c in answerable), cited_answerable),
        "refusal_precision": _ratio(sum(not c.answerable for c in refused), len(refused)),
        "refusal_recall": _ratio(sum(c.refused for c in unanswerable), len(unanswerable)),
        "pass_rate": _ratio(sum(c.passed for c in cases), len(cases)),
        "latency_p50_ms": round(_percentile(latencies, 50), 1),
        "latency_p95_ms": round(_percentile(latencies, 95), 1),
        "answer_chars_mean": round(statistics.fmean(lengths), 1) if lengths else 0.0,
        "answer_chars_max": max(lengths, default=0),
    } | judge_metrics(cases)


def judge_metrics(cases: list[CaseResult]) -> dict[str, float]:
    """Means of the judge's scores, over the questions it could score (none without --judge)."""
    verdicts = [c.judge for c in cases if c.judge is not None]
    if not verdicts:
        return {}
    faithful = [v["faithfulness"] for v in verdicts if v.get("faithfulness") is not None]
    correct = [v["correctness"] for v in verdicts if v.get("correctness") is not None]
    return {
        "judge_faithfulness": round(statistics.fmean(faithful), 4) if faithful else 1.0,
        "judge_answer_correctness": round(statistics.fmean(correct), 4) if correct else 1.0,
        "judge_errors": sum(1 for v in verdicts if v.get("error")),
    }


def check_thresholds(metrics: dict[str, float], thresholds: dict[str, Any]) -> list[str]:
    failures = []
    for name, bound in thresholds.get("min", {}).items():
        if metrics.get(name, 0.0) < bound:
            failures.append(f"{name} = {metrics.get(name)} is under the threshold {bound}")
    for name, bound in thresholds.get("max", {}).items():
        if metrics.get(name, float("inf")) > bound:
            failures.append(f"{name} = {metrics.get(name)} is over the limit {bound}")
    return failures


def evaluate(
    assistant: AnswersQuestions,
    cases: list[EvalCase],
    k: int,
    thresholds: dict[str, Any] | None = None,
    judge: JudgesAnswers | None = None,
) -> EvalReport:
    results = [run_case(assistant, case, k, judge) for case in cases]
    metrics = summarize(results)
    return EvalReport(metrics, results, check_thresholds(metrics, thresholds or {}))


def load_thresholds(path: Path) -> dict[str, Any]:
    if not path.is_file():
        return {}
    with path.open("rb") as handle:
        return tomllib.load(handle)


def markdown(report: EvalReport) -> str:
    lines = ["## rag eval", "", "| metric | value |", "|---|---|"]
    lines += [f"| {name} | {value} |" for name, value in report.metrics.items()]
    failed = [c for c in report.cases if not c.passed]
    lines += ["", f"### Questions that failed ({len(failed)} of {len(report.cases)})", ""]
    if failed:
        lines += ["| id | question | why |", "|---|---|---|"]
        lines += [f"| {c.id} | {c.question} | {c.why} |" for c in failed]
    judged = [c for c in report.cases if c.judge is not None]
    doubted = [c for c in judged if _judge_doubts(c.judge)]
    if judged:
        lines += ["", f"### LLM judge: answers it doubted ({len(doubted)} of {len(judged)})", ""]
    if doubted:
        lines += ["| id | faithfulness | correctness | why |", "|---|---|---|---|"]
        lines += [
            f"| {c.id} | {_cell(c.judge.get('faithfulness'))} | "
            f"{_cell(c.judge.get('correctness'))} | {_judge_why(c.judge)} |"
            for c in doubted
            if c.judge is not None
        ]
    if report.failures:
        lines += ["", "### Thresholds not met", ""] + [f"- {f}" for f in report.failures]
    return "\n".join(lines) + "\n"


def _judge_doubts(verdict: dict[str, Any] | None) -> bool:
    if not verdict:
        return False
    scores = [verdict.get("faithfulness"), verdict.get("correctness")]
    return bool(verdict.get("error")) or any(s is not None and s < 1.0 for s in scores)


def _judge_why(verdict: dict[str, Any]) -> str:
    parts = [verdict.get("error") or ""]
    parts += [f"unsupported: {claim}" for claim in verdict.get("unsupported", [])]
    parts.append(verdict.get("reason") or "")
    return "; ".join(p for p in parts if p).replace("|", "\\|").replace("\n", " ")


def _cell(value: Any) -> str:
    return "—" if value is None else str(value)


def _ratio(part: float, whole: float) -> float:
    return round(part / whole, 4) if whole else 1.0


def _percentile(values: list[float], pct: float) -> float:
    if not values:
        return 0.0
    index = min(len(values) - 1, max(0, round(pct / 100 * (len(values) - 1))))
    return values[index]
