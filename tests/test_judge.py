"""`rag eval --judge`: the real `openai` client over real HTTP to a scripted loopback server."""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from rag import Answer
from rag.cli import main
from rag.evaluate import EvalCase, evaluate, markdown
from rag.judge import (
    CORRECTNESS_PROMPT,
    FAITHFULNESS_PROMPT,
    Judge,
    JudgeConfig,
    JudgeConfigError,
    JudgeError,
    VerdictError,
    parse_verdict,
)
from tests.openai_server import Choose, Reply, ScriptedOpenAIServer, Status
from tests.support import DOC_000, DOC_003, LIN_YUN_QUESTION, lin_yun_case, write_cases


class JudgeEndpoint:
    """The shared scripted OpenAI-compatible server, driven by `reply(body) -> (status,
    content)`; `requests` keeps each request body with its `_path` and `_authorization`."""

    def __init__(self, server: ScriptedOpenAIServer, reply) -> None:
        self.base_url = server.url
        self.requests: list[dict[str, Any]] = []
        self._reply = reply
        server.script(Choose(self._pick))

    def _pick(self, request):
        body = dict(
            request.body,
            _path=request.path,
            _authorization=request.headers.get("authorization", ""),
        )
        self.requests.append(body)
        status, content = self._reply(body)
        return Reply(content) if status == 200 else Status(status, message=content)


@contextmanager
def scripted_server(reply) -> Iterator[JudgeEndpoint]:
    with ScriptedOpenAIServer() as server:
        yield JudgeEndpoint(server, reply)


CASES = [
    lin_yun_case(),
    EvalCase(
        "casper-affiliation",
        "Where does Stephen Casper work?",
        True,
        (DOC_000, DOC_003),
        (("MIT",),),
    ),
    EvalCase("u-capital-france", "What is the capital of France?", False),
]


def fair_judge(request: dict[str, Any]) -> tuple[int, str]:
    """A judge that reads the prompt the way a careful model would, deterministically."""
    system, user = (m["content"] for m in request["messages"])
    answer = user.split("Answer:\n", 1)[1].split("\n\nCited quotes:", 1)[0]
    if system == FAITHFULNESS_PROMPT:
        quotes = user.split("Cited quotes:\n", 1)[1]
        claims = [s for s in re.split(r"\s*\[\d+\]\s*", answer) if s.strip()]
        verdicts = [{"claim": c, "supported": c.strip() in quotes} for c in claims]
        return 200, json.dumps({"claims": verdicts})
    if system == CORRECTNESS_PROMPT:
        facts = re.findall(r"^- (.+)$", user.split("Answer:\n", 1)[0], flags=re.M)
        stated = [any(a.lower() in answer.lower() for a in f.split(" | ")) for f in facts]
        score = sum(stated) / len(stated)
        # Wrapped in a code fence, as models often do.
        verdict = {"correct": all(stated), "score": score, "reason": f"{sum(stated)} facts"}
        return 200, "```json\n" + json.dumps(verdict) + "\n```"
    return 400, "unexpected prompt"


@pytest.fixture
def no_endpoint(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("OPENAI_BASE_URL", "OPENAI_API_KEY", "RAG_LLM_MODEL"):
        monkeypatch.delenv(name, raising=False)


def test_config_needs_an_endpoint_then_a_model() -> None:
    with pytest.raises(JudgeConfigError, match="OPENAI_BASE_URL"):
        JudgeConfig.from_env(environ={})
    with pytest.raises(JudgeConfigError, match="--judge-model"):
        JudgeConfig.from_env(environ={"OPENAI_BASE_URL": "http://127.0.0.1:9/v1"})
    config = JudgeConfig.from_env(environ={"OPENAI_BASE_URL": "http://x/v1", "RAG_LLM_MODEL": "m"})
    assert (config.model, config.base_url, config.api_key) == ("m", "http://x/v1", "not-needed")
    flag = JudgeConfig.from_env("flag-model", {"OPENAI_API_KEY": "k", "RAG_LLM_MODEL": "env"})
    assert (flag.model, flag.base_url, flag.api_key) == ("flag-model", None, "k")


def test_parse_verdict_takes_the_json_object_out_of_a_reply() -> None:
    assert parse_verdict('```json\n{"correct": true}\n```') == {"correct": True}
    assert parse_verdict('Sure! {"claims": []} Hope this helps.') == {"claims": []}
    for bad in ("no json here", "{not: json}", "[1, 2]"):
        with pytest.raises(VerdictError):
            parse_verdict(bad)


def test_rag_eval_judge_without_an_endpoint_is_a_clear_usage_error(
    no_endpoint, capsys, tmp_path: Path
) -> None:
    cases = tmp_path / "one.jsonl"
    cases.write_text(json.dumps({"id": "a", "question": "q?", "answerable": False}) + "\n")
    assert main(["eval", str(cases), "--judge"]) == 2
    err = capsys.readouterr().err
    assert "--judge needs an OpenAI-compatible endpoint" in err and "OPENAI_BASE_URL" in err
    assert main(["eval", str(cases), "--judge-model", "m"]) == 2
    assert "add --judge" in capsys.readouterr().err


@pytest.mark.slow
def test_the_judge_scores_real_answers_over_http(assistant) -> None:
    with scripted_server(fair_judge) as server:
        judge = Judge(JudgeConfig("judge-1", server.base_url, "secret"))
        report = evaluate(assistant, CASES, k=6, judge=judge)
    # Two answerable questions, each judged twice; the refusal costs no call.
    assert len(server.requests) == 4
    assert all(r["_path"] == "/v1/chat/completions" for r in server.requests)
    assert {r["model"] for r in server.requests} == {"judge-1"}
    assert {r["temperature"] for r in server.requests} == {0}
    assert {r["_authorization"] for r in server.requests} == {"Bearer secret"}
    lin_yun = assistant.ask(LIN_YUN_QUESTION)
    faithfulness_prompt = server.requests[0]["messages"][1]["content"]
    assert lin_yun.text in faithfulness_prompt
    assert all(c.quote in faithfulness_prompt for c in lin_yun.citations)
    assert "- upper hand | near-term advantage" in server.requests[1]["messages"][1]["content"]

    assert report.metrics["judge_faithfulness"] == 1.0
    assert report.metrics["judge_answer_correctness"] == 1.0
    assert report.metrics["judge_errors"] == 0
    verdicts = {c.id: c.judge for c in report.cases}
    assert verdicts["linyun-attackers"]["correctness"] == 1.0
    assert verdicts["u-capital-france"] == {
        "faithfulness": None,
        "unsupported": [],
        "correctness": None,
        "reason": "",
        "error": "",
    }
    assert "answers it doubted (0 of 3)" in markdown(report)


class Unfaithful:
    """The real assistant, but its answers say something its quotes do not."""

    def __init__(self, real) -> None:
        self.real = real

    def document_text(self, source: str) -> str:
        return self.real.document_text(source)

    def ask(self, question: str, history=None) -> Answer:
        answer = self.real.ask(question, history=history)
        if answer.refused:
            return answer
        return dataclasses.replace(answer, text="Paris is the capital of France. [1]")


@pytest.mark.slow
def test_the_judge_catches_unsupported_claims_and_wrong_answers(assistant) -> None:
    with scripted_server(fair_judge) as server:
        judge = Judge(JudgeConfig("judge-1", server.base_url, "k"))
        report = evaluate(Unfaithful(assistant), CASES[:2], k=6, judge=judge)
    assert report.metrics["judge_faithfulness"] == 0.0
    assert report.metrics["judge_answer_correctness"] == 0.0
    verdict = report.cases[0].judge
    assert verdict["unsupported"] == ["Paris is the capital of France."]
    summary = markdown(report)
    assert "answers it doubted (2 of 2)" in summary
    assert "unsupported: Paris is the capital of France." in summary


@pytest.mark.slow
def test_a_malformed_verdict_is_reported_not_scored(assistant) -> None:
    with scripted_server(lambda request: (200, "I think it is fine.")) as server:
        judge = Judge(JudgeConfig("judge-1", server.base_url, "k"))
        report = evaluate(assistant, CASES[:1], k=6, judge=judge)
    assert report.metrics["judge_errors"] == 1
    assert "without a JSON object" in report.cases[0].judge["error"]
    assert report.cases[0].judge["faithfulness"] is None
    assert "without a JSON object" in markdown(report)


@pytest.mark.slow
def test_rag_eval_judge_through_the_cli(
    assistant, monkeypatch: pytest.MonkeyPatch, capsys, tmp_path: Path
) -> None:
    # The session's index stands in for the one the CLI would open; the rest is the real CLI.
    monkeypatch.setattr("rag.cli._assistant", lambda **overrides: assistant)
    cases = write_cases(tmp_path / "cases.jsonl", CASES)
    thresholds = tmp_path / "none.toml"
    thresholds.write_text("")
    report_path = tmp_path / "report.json"
    args = ["eval", str(cases), "--judge", "--report", str(report_path), "--thresholds"]
    with scripted_server(fair_judge) as server:
        monkeypatch.setenv("OPENAI_BASE_URL", server.base_url)
        monkeypatch.delenv("OPENAI_API_KEY", raising=False)
        monkeypatch.setenv("RAG_LLM_MODEL", "env-model")
        code = main([*args, str(thresholds)])
        out = capsys.readouterr().out
        assert code == 0
        assert {r["model"] for r in server.requests} == {"env-model"}
        assert "| judge_faithfulness | 1.0 |" in out
        report = json.loads(report_path.read_text())
        assert report["judge"] == {"model": "env-model", "endpoint": server.base_url}
        assert report["metrics"]["judge_answer_correctness"] == 1.0
        assert [q["judge"]["correctness"] for q in report["questions"]] == [1.0, 1.0, None]

    # An endpoint that refuses the request stops the run with a message naming it.
    with scripted_server(lambda request: (400, "model 'nope' not found")) as server:
        monkeypatch.setenv("OPENAI_BASE_URL", server.base_url)
        code = main([*args, str(thresholds), "--judge-model", "nope"])
    err = capsys.readouterr().err
    assert code == 1
    assert server.base_url in err and "nope" in err
    assert "Traceback" not in err  # a message for people


def test_judge_error_is_a_rag_error_the_cli_reports() -> None:
    from rag.errors import RagError

    assert issubclass(JudgeError, RagError)
    assert issubclass(JudgeConfigError, ValueError)  # a usage error: exit code 2
