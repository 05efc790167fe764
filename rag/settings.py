"""One place for configuration: environment variables with the RAG_ prefix, or a .env file."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="RAG_", env_file=".env", extra="ignore")

    corpus_dir: Path = Field(Path("corpus"), description="Folder of documents to index.")
    index_dir: Path = Field(Path(".rag"), description="Where the embedded Chroma store lives.")
    collection: str = Field("rag", description="Name prefix of the Chroma collections.")
    chroma_url: str | None = Field(
        None,
        description="http://host:port of a Chroma server (`chroma run`); unset: embedded store.",
    )
    top_k: int = Field(6, ge=1, le=50, description="Passages retrieved per question.")
    max_question_chars: int = Field(2000, ge=1, description="Longest question accepted.")
    max_answer_chars: int = Field(600, ge=100, description="Longest extractive answer.")
    max_file_mb: float = Field(20.0, gt=0, description="Largest document accepted, in MB.")
    passage_tokens: int = Field(
        160, ge=16, le=256, description="Token budget of a retrieval passage (cl100k tokens)."
    )
    compact_ratio: float = Field(
        0.5,
        ge=0,
        description="After an ingest, rebuild the sentence collection from its stored vectors "
        "when the deleted ones Chroma still holds exceed this fraction of the live ones "
        "(0: only `rag compact`).",
    )
    embed_batch_size: int = Field(64, ge=1, description="Sentences per embedding batch.")
    embed_backend: Literal["torch", "onnx", "onnx-int8"] = Field(
        "onnx",
        description="Embedding runtime: onnx (fp32, torch's vectors, fast start), torch, or "
        "onnx-int8 (faster, slightly different vectors: re-embeds the index).",
    )
    model_cache_dir: Path | None = Field(
        None, description="Where the exported ONNX model is kept (default ~/.cache/rag/models)."
    )
    min_relevance: float = Field(
        0.30, description="Refuse when the best sentence scores below this (calibrated on evals/)."
    )
    min_coverage: float = Field(
        0.4, description="Refuse when less of the question's key terms are in the evidence."
    )
    host: str = Field("127.0.0.1", description="Address the web app binds to.")
    port: int = Field(7860, description="Port of the web app.")
    auth: str | None = Field(None, description="user:password to require a login in the app.")
    concurrency: int = Field(4, ge=1, description="Questions the app answers at once.")
    queue_size: int = Field(64, ge=1, description="Questions the app holds waiting.")
    # ---- answers from an OpenAI-compatible LLM (rag/generate.py) ----
    answerer: Literal["auto", "extractive", "llm"] = Field(
        "auto", description="auto: the LLM when OPENAI_API_KEY or OPENAI_BASE_URL is set."
    )
    llm_model: str = Field("gpt-4o-mini", description="Model name sent to the endpoint.")
    llm_timeout: float = Field(
        30.0, gt=0, le=600, description="Seconds the LLM may take per question, retries included."
    )
    llm_temperature: float = Field(0.0, ge=0, le=2, description="Sampling temperature.")
    context_tokens: int = Field(
        3000, ge=200, description="Token budget (cl100k) of the sources sent to the LLM."
    )
    # The standard variables of the openai client, read without the RAG_ prefix. The key
    # is a SecretStr kept out of repr, so it never reaches logs or error messages.
    openai_api_key: SecretStr | None = Field(
        None, validation_alias=AliasChoices("OPENAI_API_KEY", "openai_api_key"), repr=False
    )
    openai_base_url: str | None = Field(
        None, validation_alias=AliasChoices("OPENAI_BASE_URL", "openai_base_url")
    )

    def use_llm(self) -> bool:
        if self.answerer == "auto":
            return bool(self.openai_api_key or self.openai_base_url)
        return self.answerer == "llm"
