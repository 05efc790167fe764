"""One place for configuration: environment variables with the RAG_ prefix, or a .env file."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
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
    embed_batch_size: int = Field(64, ge=1, description="Sentences per embedding batch.")
    min_relevance: float = Field(
        0.48, description="Refuse when the best sentence scores below this (calibrated on evals/)."
    )
    min_coverage: float = Field(
        0.4, description="Refuse when less of the question's key terms are in the evidence."
    )
    host: str = Field("127.0.0.1", description="Address the web app binds to.")
    port: int = Field(7860, description="Port of the web app.")
    auth: str | None = Field(None, description="user:password to require a login in the app.")
    concurrency: int = Field(4, ge=1, description="Questions the app answers at once.")
    queue_size: int = Field(64, ge=1, description="Questions the app holds waiting.")
