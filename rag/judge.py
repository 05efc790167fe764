"""An optional LLM judge for `rag eval --judge`: faithfulness and answer correctness.

The gate itself stays deterministic and offline (facts as substrings, quotes checked
at their offsets); the judge adds a second opinion where substring checks are blunt:
- faithfulness: is every claim of the answer supported by the quotes it cites?
- answer correctness: does the answer state the expected facts of the eval row?

It talks to any OpenAI-compatible endpoint through the `openai` client
(OPENAI_BASE_URL, OPENAI_API_KEY; model from --judge-model or RAG_LLM_MODEL).
Off by default and never needed in CI.

Why not llama-index's FaithfulnessEvaluator / CorrectnessEvaluator: they need a
llama-index LLM integration package (not in our stack), judge a whole response
YES/NO against retrieved contexts rather than each claim against its cited quotes,
and grade against a reference answer, where our rows hold fact groups.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from rag.errors import RagError

if TYPE_CHECKING:
    from rag.answer import Answer
    from rag.evaluate import EvalCase

FAITHFULNESS_PROMPT = """\
You check whether an answer is faithful to the quotes it cites.
Split the answer into its factual claims (ignore citation markers like [1]).
A claim is supported only when the cited quotes state it; paraphrase is fine,
outside knowledge is not.
Reply with JSON only, no prose:
{"claims": [{"claim": "<one claim>", "supported": true}]}"""

CORRECTNESS_PROMPT = """\
You grade an answer to a question against the expected facts.
The answer is correct when it states every expected fact; any of the listed
alternative wordings counts, extra correct detail is fine, contradicting a fact is wrong.
score is the fraction of expected facts the answer states (0 to 1).
Reply with JSON only, no prose:
{"correct": true, "score": 1.0, "reason": "<one sentence>"}"""


class JudgeError(RagError):
    """The judge endpoint failed (unreachable, refused the request, unknown model)."""


class JudgeConfigError(JudgeError, ValueError):
    """--judge was asked for without an endpoint or a model: a usage error."""


class VerdictError(ValueError):
    """The judge model replied with something that is not the JSON asked for."""


@dataclass(frozen=True)
class JudgeConfig:
    model: str
    base_url: str | None
    api_key: str

    @classmethod
    def from_env(
        cls, model: str | None = None, environ: Mapping[str, str] | None = None
    ) -> JudgeConfig:
        env = os.environ if environ is None else environ
        base_url = env.get("OPENAI_BASE_URL") or None
        api_key = env.get("OPENAI_API_KEY") or None
        if not base_url and not api_key:
            raise JudgeConfigError(
                "--judge needs an OpenAI-compatible endpoint: set OPENAI_BASE_URL "
                "(e.g. http://127.0.0.1:8080/v1) and OPENAI_API_KEY if it asks for one. "
                "The judge is optional: run `rag eval` without --judge for the offline gate."
            )
        model = model or env.get("RAG_LLM_MODEL") or None
        if not model:
            raise JudgeConfigError(
                "--judge needs a model name: pass --judge-model NAME or set RAG_LLM_MODEL."
            )
        # Local servers (llama.cpp, vLLM, Ollama) take any key; the client insists on one.
        return cls(model=model, base_url=base_url, api_key=api_key or "not-needed")


class Judge:
    """Asks the judge model about one answer at a time (temperature 0)."""

    def __init__(self, config: JudgeConfig, timeout: float = 120.0, max_retries: int = 2) -> None:
        from openai import OpenAI

        self.config = config
        self.client = OpenAI(
            base_url=config.base_url,
            api_key=config.api_key,
            timeout=timeout,
            max_retries=max_retries,
        )

    @property
    def where(self) -> str:
        return self.config.base_url or "the OpenAI API"

    def judge(self, case: EvalCase, answer: Answer) -> dict[str, Any]:
        """{"faithfulness", "unsupported", "correctness", "reason", "error"} for one answer.

        A refusal claims nothing (faithfulness None); refusing an answerable question
        is incorrect without asking. Unanswerable rows have no expected facts
        (correctness None): refusal_precision and refusal_recall cover them.
        """
        verdict: dict[str, Any] = {
            "faithfulness": None,
            "unsupported": [],
            "correctness": None,
            "reason": "",
            "error": "",
        }
        if answer.refused:
            if case.answerable:
                verdict.update(correctness=0.0, reason="refused an answerable question")
            return verdict
        try:
            verdict.update(self._faithfulness(answer))
            if case.answerable:
                verdict.update(self._correctness(case, answer))
        except VerdictError as exc:
            verdict["error"] = str(exc)
        return verdict

    def _faithfulness(self, answer: Answer) -> dict[str, Any]:
        quotes = "\n".join(f"[{c.n}] {c.quote}" for c in answer.citations) or "(no quotes)"
        reply = self._ask(FAITHFULNESS_PROMPT, f"Answer:\n{answer.text}\n\nCited quotes:\n{quotes}")
        claims = reply.get("claims")
        if not isinstance(claims, list) or not all(isinstance(c, dict) for c in claims):
            raise VerdictError(f"faithfulness verdict without a list of claims: {reply}")
        unsupported = [str(c.get("claim", "")) for c in claims if c.get("supported") is not True]
        score = 1.0 - len(unsupported) / len(claims) if claims else 1.0
        return {"faithfulness": round(score, 4), "unsupported": unsupported}

    def _correctness(self, case: EvalCase, answer: Answer) -> dict[str, Any]:
        facts = "\n".join("- " + " | ".join(group) for group in case.facts) or "- (none)"
        reply = self._ask(
            CORRECTNESS_PROMPT,
            f"Question: {case.question}\n\nExpected facts (one per line; alternatives "
            f"separated by ' | '):\n{facts}\n\nAnswer:\n{answer.text}",
        )
        correct = reply.get("correct")
        if not isinstance(correct, bool):
            raise VerdictError(f"correctness verdict without a true/false 'correct': {reply}")
        score = reply.get("score", 1.0 if correct else 0.0)
        if not isinstance(score, int | float) or isinstance(score, bool):
            raise VerdictError(f"correctness verdict with a score that is not a number: {reply}")
        return {
            "correctness": round(min(1.0, max(0.0, float(score))), 4),
            "reason": str(reply.get("reason", "")),
        }

    def _ask(self, system: str, user: str) -> dict[str, Any]:
        import openai

        try:
            response = self.client.chat.completions.create(
                model=self.config.model,
                temperature=0,
                messages=[
                    {"role": "system", "content": system},
                    {"role": "user", "content": user},
                ],
            )
        except openai.APIError as exc:
            raise JudgeError(
                f"The judge endpoint at {self.where} failed ({type(exc).__name__}: {exc}). "
                "Check OPENAI_BASE_URL, OPENAI_API_KEY and the model name "
                f"('{self.config.model}')."
            ) from exc
        content = response.choices[0].message.content if response.choices else None
        return parse_verdict(content or "")


_FENCE = re.compile(r"^```(?:json)?\s*|\s*```$")


def parse_verdict(content: str) -> dict[str, Any]:
    """The JSON object in a reply, tolerating code fences and prose around it."""
    text = _FENCE.sub("", content.strip())
    start, end = text.find("{"), text.rfind("}")
    if start < 0 or end < start:
        raise VerdictError(f"the judge replied without a JSON object: {content[:200]!r}")
    try:
        value = json.loads(text[start : end + 1])
    except json.JSONDecodeError as exc:
        raise VerdictError(
            f"the judge replied with invalid JSON ({exc}): {content[:200]!r}"
        ) from exc
    if not isinstance(value, dict):
        raise VerdictError(f"the judge replied with JSON that is not an object: {content[:200]!r}")
    return value
